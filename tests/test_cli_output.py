"""Commands whose standard output cannot take what they write: a full disk (``> file``, here /dev/full) or a reader
gone (``| head``). Every command writes it through one writer (``gateway.cli._out``): one line on standard error and
exit status 74 when it could not be written, never a traceback, never 0 with an empty file, never 1 or 5 (a verdict,
a defect); a reader that stopped early changes nothing; and what a command changed before it printed is not lost
(``console-token`` writes the token before it commits it). Found by a reviewer (clirev, R2)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.adapters.test_verify_command import MATTER
from tests.api.test_verification import batch_issue_for_invoices as batch_issue
from tests.commands import DEMO_FILES, command_env, run_zzgw, zzgw
from tests.conftest import TAX, RunningGateway

ROOT = Path(__file__).resolve().parent.parent


def unwritten(env: dict[str, str], *args: str, stdout: str = "full") -> subprocess.CompletedProcess[str]:
    """``zzgw *args`` as ``python -m gateway.cli``, its standard output /dev/full (``full``: a full disk, ENOSPC) or
    a pipe whose reader is gone (``gone``: ``| head`` once head has ended, EPIPE)."""
    if stdout == "full":
        with open("/dev/full", "wb") as full:
            return subprocess.run(
                [sys.executable, "-m", "gateway.cli", *args], env=env, cwd=ROOT, stdout=full, stderr=subprocess.PIPE,
                text=True, timeout=120,
            )  # fmt: skip
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args], env=env, cwd=ROOT, stdout=write, stderr=subprocess.PIPE,
            text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write)


def said_once(done: subprocess.CompletedProcess[str], command: str) -> str:
    """The one line of a command whose output could not be written, checked: exit 74, no traceback."""
    assert done.returncode == 74, done.stderr  # gateway.cli.UNWRITTEN
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith(f"zzgw {command}: 标准输出无法写入")]
    assert len(lines) == 1, done.stderr
    assert "No space left on device" in lines[0] or "Broken pipe" in lines[0], done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("cli-output") / "var"
    env = command_env(
        data, ZZGW_MODE="production", ZZGW_KEY_PASSPHRASE="cli-output-test-passphrase", ZZGW_CONFIG="", **DEMO_FILES
    )
    made = zzgw(env, "init")
    assert made.returncode == 0, made.stderr
    return env


def token_digest_of(env: dict[str, str], code: str) -> str | None:
    with sqlite3.connect(Path(env["ZZGW_DATA_DIR"]) / "zzgw.db") as db:
        row = db.execute("select token_sha256 from members where code = ?", (code,)).fetchone()
    return None if row is None else row[0]


def test_console_token_writes_the_token_before_it_ends_the_one_before(production: dict[str, str]) -> None:
    """`zzgw console-token CODE` had stored the new token, ending the department's token before, then failed to
    print it: a traceback, exit 1, and the department's clerks without a console. The token is written first; one
    that cannot be written is not issued, the one before stays in force."""
    first = zzgw(production, "console-token", TAX)
    assert first.returncode == 0, first.stderr
    before = token_digest_of(production, TAX)
    assert before is not None
    for stdout in ("full", "gone"):  # a reader gone loses the token as surely as a full disk
        lost = unwritten(production, "console-token", TAX, stdout=stdout)
        line = said_once(lost, "console-token")
        assert "未签发新令牌，此前的令牌仍然有效" in line and "no token was issued" in line
        assert token_digest_of(production, TAX) == before
        clerk = unwritten(production, "console-token", TAX, "--clerk", "窗口09", stdout=stdout)
        said_once(clerk, "console-token")
        listed = zzgw(production, "console-token", TAX, "--list")
        assert "窗口09" not in listed.stdout, listed.stdout
    again = zzgw(production, "console-token", TAX)
    assert again.returncode == 0 and again.stdout.startswith("zzgw-console-"), again.stderr
    assert token_digest_of(production, TAX) not in (None, before)


@pytest.mark.parametrize(
    "command",
    [("members",), ("certificates",), ("audit", "verify"), ("catalog", "check"), ("memos",)],
    ids=lambda command: "-".join(command),
)
def test_a_listing_that_cannot_be_written_is_not_exit_0(production: dict[str, str], command: tuple[str, ...]) -> None:
    """`zzgw members > f` and `zzgw certificates > f` on a full disk had said `cannot write the output` and exited 0
    with an empty file (`zzgw certificates > anchors.txt && send anchors.txt` sent nothing); `catalog check`, `audit
    verify` and `memos` had ended in tracebacks."""
    said_once(unwritten(production, *command), " ".join(command))
    stopped = unwritten(production, *command, stdout="gone")  # `| head`: the reader stopped, nothing is wrong
    assert stopped.returncode == 0 and "Traceback" not in stopped.stderr, stopped.stderr
    assert "标准输出无法写入" not in stopped.stderr


def test_init_whose_report_cannot_be_written_says_it_is_done(tmp_path: Path) -> None:
    env = command_env(tmp_path / "var", ZZGW_CONFIG="")
    line = said_once(unwritten(env, "init"), "init")
    assert "初始化已完成" in line and "zzgw certificates" in line
    again = zzgw(env, "init")
    assert again.returncode == 0, again.stderr


def test_verify_and_receipt_get_on_a_full_disk_say_what_was_recorded(running: RunningGateway, tmp_path: Path) -> None:
    """`zzgw verify … > /dev/full` had made and recorded the check, written its receipt file, then exited 5, "no
    verdict"; `zzgw receipt get` had ended in a traceback with exit 1, `receipt check`'s "invalid"."""
    license_id = batch_issue(running, 61)
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CONFIG": ""}
    kept = tmp_path / "r9.json"
    use = ["--member", TAX, "--matter", MATTER, "--purpose", "企业开办：发票申领", "--target", running.address]
    done = unwritten(env, "verify", license_id, *use, "--receipt", str(kept))
    line = said_once(done, "verify")
    assert "核验已完成并已记录，结论为 通过 PASSED" in line, line
    named = re.findall(r"`(zzgw receipt get [^`]*)`", line)
    assert len(named) == 2 and named[0] == named[1] and named[0].endswith(f"--member {TAX}"), line
    assert kept.exists()
    receipt_id = named[0].split()[3]
    fetched = unwritten(env, "receipt", "get", receipt_id, "--member", TAX, "--target", running.address)
    line = said_once(fetched, "receipt get")
    assert "-o FILE" in line, line
    written = run_zzgw("receipt", "get", receipt_id, "--member", TAX, "--target", running.address, env=env)
    assert written.returncode == 0 and receipt_id in written.stdout, written.stderr


def test_memos_writes_no_progress_bar_off_a_terminal(production: dict[str, str]) -> None:
    """`zzgw memos 2>log` had written `\\rchecking seals:   0%|…` into logs and cron mail, with no license to check
    too; `zzgw audit prune` shows its bars on a terminal only, and so do these now (a reviewer, clirev R4)."""
    done = unwritten(production, "memos", stdout="gone")
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "checking seals" not in done.stderr, repr(done.stderr)


def test_inits_status_memo_bar_is_not_written_off_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """init's bar of the status memos an upgrade records, which runs as its output goes to a unit's journal: on a
    terminal only, as `zzgw audit prune`'s (a reviewer, clirev R4)."""
    import gateway.server
    from gateway.cli import main
    from gateway.config import ConfigError

    def upgrading(*_: object, progress: Callable[[int], None], **__: object) -> None:
        progress(3)
        raise ConfigError("stopped here by the test")

    monkeypatch.setattr(gateway.server, "initialise", upgrading)
    for name, value in command_env(tmp_path / "var", ZZGW_CONFIG="").items():
        monkeypatch.setenv(name, value)
    assert main(["init"]) == 2
    err = capsys.readouterr().err
    assert "stopped here by the test" in err
    assert "\r" not in err and "recording each license's status memo" not in err, repr(err)
