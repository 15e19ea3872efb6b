"""`zzgw receipt get -o FILE`: the file is checked before the receipt is fetched (a fetch is on the holder's log), and
only a new file, a receipt file or an empty one is written, whole."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.bootstrap import samples
from gateway.cli import main
from tests.api.test_verification import batch_issue, verify
from tests.commands import closed_to_other_users
from tests.conftest import TAX, RunningGateway, trail_rows


@pytest.fixture
def receipt_id(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> str:
    """A receipt of the running gateway, fetched by `zzgw receipt get` run in this process against it."""
    for name, value in {"ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CONFIG": ""}.items():
        monkeypatch.setenv(name, value)
    return verify(running, license_id=batch_issue(running, 16, samples.business_license)).receipt.receipt_id


def fetches(running: RunningGateway, receipt_id: str) -> int:
    return len(trail_rows(running, "seq", "action = 'GET_RECEIPT' AND receipt_id = :r", r=receipt_id))


def get(running: RunningGateway, receipt_id: str, out: Path) -> int:
    return main(["receipt", "get", receipt_id, "--member", TAX, "--target", running.address, "-o", str(out)])


def test_an_out_file_that_is_not_a_receipt_is_kept_and_nothing_is_fetched(
    running: RunningGateway, receipt_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    application = tmp_path / "application.pdf"
    application.write_bytes(b"%PDF-1.7 the applicant's scanned application")
    before = fetches(running, receipt_id)
    assert get(running, receipt_id, application) == 2  # had been 0, the PDF replaced by the receipt
    assert application.read_bytes() == b"%PDF-1.7 the applicant's scanned application"
    assert "exists and is not a receipt" in capsys.readouterr().err
    for unwritable in (tmp_path / "no" / "such" / "dir" / "r.json", tmp_path):  # had been found after the fetch
        assert get(running, receipt_id, unwritable) == 2
    assert fetches(running, receipt_id) == before  # none on the holder's log: no receipt was written anywhere
    assert [p.name for p in tmp_path.iterdir()] == ["application.pdf"]


def test_a_new_empty_or_receipt_out_file_is_written(running: RunningGateway, receipt_id: str, tmp_path: Path) -> None:
    kept = tmp_path / "receipt.json"
    assert get(running, receipt_id, kept) == 0
    assert json.loads(kept.read_text(encoding="utf-8"))["receiptId"] == receipt_id
    assert get(running, receipt_id, kept) == 0  # a receipt file: replaced (the command run again)
    empty = tmp_path / "empty.json"
    empty.touch()
    assert get(running, receipt_id, empty) == 0
    assert empty.read_bytes() == kept.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.json", "receipt.json"]  # no temporary file left


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
"""Run as the user nobody: ``os.access`` says yes to root for everything, and the tests run as root."""


_MAIN = "import sys; from gateway.cli import main; sys.exit(main(sys.argv[1:]))"

_PIPED = """import os, sys
from gateway.cli import main
read, write = os.pipe()
kept = os.dup(1)
os.dup2(write, 1)
os.close(write)
try:
    code = main(sys.argv[1:])
finally:
    sys.stdout.flush()
    os.dup2(kept, 1)
written = b""
while chunk := os.read(read, 65536):
    written += chunk
sys.stdout.buffer.write(written)
sys.exit(code)
"""
"""`zzgw receipt get` with its stdout a pipe this process (the user nobody) made, as a shell's ``|`` and ``>(…)``
are (a pipe is opened again through /proc/self/fd by its owner only), passing on what was written to it."""


@pytest.fixture
def nobody_data_dir(running: RunningGateway) -> Iterator[Path]:
    """A data directory the user nobody may read, holding the running gateway's dev tokens (the tests' own is in
    root's 0700 temporary directory)."""
    folder = Path(tempfile.mkdtemp(prefix="zzgw-nobody-"))
    try:
        folder.chmod(0o777)
        shutil.copy(running.data_dir / "dev-tokens.json", folder / "dev-tokens.json")
        (folder / "dev-tokens.json").chmod(0o644)
        yield folder
    finally:
        shutil.rmtree(folder)


def get_as_nobody(
    running: RunningGateway, receipt_id: str, data_dir: Path, out: str, stdout: int | object = subprocess.PIPE
) -> subprocess.CompletedProcess[bytes]:
    """`zzgw receipt get -o out` run as nobody, its stdout ``stdout``, or a pipe nobody made (as a shell's ``|``,
    ``>(…)``: a pipe is written through /proc/self/fd by its owner only)."""
    command = ["receipt", "get", receipt_id, "--member", TAX, "--target", running.address, "-o", out]
    return subprocess.run(
        [*NOBODY, sys.executable, "-c", _PIPED if stdout == subprocess.PIPE else _MAIN, *command],
        stdout=stdout,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "ZZGW_DATA_DIR": str(data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CONFIG": ""},
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="runs the command as nobody: root only")
@pytest.mark.skipif(bool(closed_to_other_users()), reason=closed_to_other_users() or "-")
def test_out_to_stdout_dev_null_or_a_pipe_is_written_for_a_user_who_is_not_root(
    running: RunningGateway, receipt_id: str, nobody_data_dir: Path
) -> None:
    """`-o /dev/stdout` (and /dev/null, a pipe, `-o >(jq .)`) is written as it is: the check before the fetch had
    asked whether the user may write in its folder (/dev, /proc/self/fd), which only root may, and refused it with exit
    2 for everyone else (a reviewer)."""
    piped = get_as_nobody(running, receipt_id, nobody_data_dir, "/dev/stdout")
    assert piped.returncode == 0, piped.stderr.decode()  # had been 2: 无权在此写入 (not writable here)
    assert json.loads(piped.stdout)["receiptId"] == receipt_id
    assert get_as_nobody(running, receipt_id, nobody_data_dir, "/dev/null").returncode == 0
    # stdout sent to a file: the file is written, through /dev/stdout and /proc/self/fd/1, not /dev's entry
    sent = nobody_data_dir / "sent.json"
    with sent.open("wb") as target:
        os.chown(sent, 65534, 65534)
        assert get_as_nobody(running, receipt_id, nobody_data_dir, "/dev/stdout", stdout=target).returncode == 0
    assert json.loads(sent.read_text(encoding="utf-8"))["receiptId"] == receipt_id
    assert os.path.islink("/dev/stdout")
    # a pipe nobody may not write to is still refused before the fetch
    fifo = nobody_data_dir / "root-only"
    os.mkfifo(fifo, 0o600)
    before = fetches(running, receipt_id)
    refused = get_as_nobody(running, receipt_id, nobody_data_dir, str(fifo))
    assert refused.returncode == 2 and "not writable here" in refused.stderr.decode()
    assert fetches(running, receipt_id) == before
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_out_naming_a_symlink_replaces_the_link_not_the_file_it_names(
    running: RunningGateway, receipt_id: str, tmp_path: Path
) -> None:
    """`-o` naming a symlink replaces the link itself, a temporary file renamed over it, and leaves what it names as it
    was: the receipt had been written through the link, onto the file it names, in that file's folder."""
    kept = tmp_path / "kept" / "receipt.json"
    kept.parent.mkdir()
    kept.touch()
    link = tmp_path / "link.json"
    link.symlink_to(kept)
    assert get(running, receipt_id, link) == 0
    assert not link.is_symlink()  # had been kept, the receipt written into kept/receipt.json
    assert json.loads(link.read_text(encoding="utf-8"))["receiptId"] == receipt_id
    assert kept.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept", "link.json"]  # no temporary file left


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="plants links as nobody: root only")
def test_a_symlink_another_user_planted_in_a_shared_folder_is_replaced_not_followed(
    running: RunningGateway, receipt_id: str, tmp_path: Path
) -> None:
    """A link the user nobody put in a sticky world-writable folder (/tmp) at the name root gives `-o`: dangling, it
    had made root create the file it names in root's 0700 folder; to an empty file of root's, it had replaced that
    file, its 0600 made 0644 (a reviewer). The link is replaced; the files it names are as they were."""
    victim = tmp_path / "root-only"
    victim.mkdir(mode=0o700)
    empty = victim / "empty.conf"
    empty.touch(mode=0o600)
    shared = Path(tempfile.mkdtemp(prefix="zzgw-sticky-"))
    try:
        shared.chmod(0o1777)
        for name, target in (("new.json", victim / "new.conf"), ("empty.json", empty)):
            subprocess.run([*NOBODY, "ln", "-s", str(target), str(shared / name)], check=True)
            assert (shared / name).lstat().st_uid == 65534
            assert get(running, receipt_id, shared / name) == 0
            assert not (shared / name).is_symlink(), name  # had been kept, the receipt written where it pointed
            assert json.loads((shared / name).read_text(encoding="utf-8"))["receiptId"] == receipt_id
        assert sorted(p.name for p in victim.iterdir()) == ["empty.conf"]  # new.conf had been created
        assert empty.read_bytes() == b"" and stat.S_IMODE(empty.stat().st_mode) == 0o600
    finally:
        shutil.rmtree(shared)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="runs the command as nobody: root only")
@pytest.mark.skipif(bool(closed_to_other_users()), reason=closed_to_other_users() or "-")
def test_out_to_stdout_sent_to_a_file_in_a_folder_the_user_may_not_write_writes_that_file(
    running: RunningGateway, receipt_id: str, nobody_data_dir: Path, tmp_path: Path
) -> None:
    """`sudo -u svc zzgw receipt get ID -o /dev/stdout > /srv/out/r.json`: the shell opened the file, which the user
    may write but not its folder. It had been refused, exit 2, "not writable here", nothing fetched (its folder was
    asked, for a temporary file to rename); it is written in place, to the very file stdout is (a reviewer)."""
    folder = Path(tempfile.mkdtemp(prefix="zzgw-out-"))
    try:
        folder.chmod(0o755)  # root's: nobody may not create a file in it
        sent = folder / "r.json"
        sent.write_bytes(b"an older listing, longer than the receipt " * 100)
        sent.chmod(0o666)
        inode = sent.stat().st_ino
        with sent.open("wb") as target:  # as a shell's `>` opens it
            done = get_as_nobody(running, receipt_id, nobody_data_dir, "/dev/stdout", stdout=target)
        assert done.returncode == 0, done.stderr.decode()  # had been 2: 无权在此写入 (not writable here)
        assert json.loads(sent.read_text(encoding="utf-8"))["receiptId"] == receipt_id
        assert sent.stat().st_ino == inode and sorted(p.name for p in folder.iterdir()) == ["r.json"]
    finally:
        shutil.rmtree(folder)


def get_here(
    running: RunningGateway, receipt_id: str, out: str, *, stdout: object, stdin: object = subprocess.DEVNULL
) -> subprocess.CompletedProcess[bytes]:
    """`zzgw receipt get -o out` in a process of its own, its stdin and stdout as a shell's redirections give them."""
    command = ["receipt", "get", receipt_id, "--member", TAX, "--target", running.address, "-o", out]
    return subprocess.run(
        [sys.executable, "-c", _MAIN, *command],
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CONFIG": ""},
        timeout=60,
        check=False,
    )


def test_a_stream_is_written_as_the_shell_opened_it(running: RunningGateway, receipt_id: str, tmp_path: Path) -> None:
    """A stream's name is written to the stream itself, in the mode the shell opened it: opened again by its name and
    truncated, `-o /dev/stdout >> receipts.log` had replaced the log with one receipt, and `-o /dev/fd/0 <
    application.pdf` had written over the applicant's PDF, opened read only; `//dev/stdout` had been taken for a
    user's symlink and replaced (a reviewer)."""
    log = tmp_path / "receipts.log"
    log.write_bytes(b"an earlier line\n")
    with log.open("ab") as appended:  # `>> receipts.log`
        assert get_here(running, receipt_id, "/dev/stdout", stdout=appended).returncode == 0
    earlier, receipt = log.read_bytes().split(b"\n", 1)
    assert earlier == b"an earlier line" and json.loads(receipt)["receiptId"] == receipt_id
    pdf = tmp_path / "application.pdf"
    pdf.write_bytes(b"%PDF-1.7 the applicant's")
    before = fetches(running, receipt_id)
    with pdf.open("rb") as read_only, (tmp_path / "out").open("wb") as out:  # `< application.pdf`
        refused = get_here(running, receipt_id, "/dev/fd/0", stdin=read_only, stdout=out)
    assert refused.returncode == 2 and "not an open stream this command may write" in refused.stderr.decode()
    assert pdf.read_bytes() == b"%PDF-1.7 the applicant's" and fetches(running, receipt_id) == before
    doubled = tmp_path / "doubled.json"
    with doubled.open("wb") as out:
        assert get_here(running, receipt_id, "//dev/stdout", stdout=out).returncode == 0
    assert json.loads(doubled.read_bytes())["receiptId"] == receipt_id and os.path.islink("/dev/stdout")


def test_a_verify_receipt_is_not_written_where_the_verdict_is_printed() -> None:
    """`zzgw verify --receipt /dev/stdout > out.txt`: the receipt, written at the start of the file, had the verdict
    printed over it, exit 0, the file neither a receipt nor a verdict (a reviewer). Refused before the check, exit 2,
    naming `zzgw receipt get -o /dev/stdout` with the verifying member's `--member`, which it requires (a reviewer);
    `-o` of `zzgw receipt get`, which prints nothing else there, takes it."""
    from adapters.verify_command import BadInput, check_receipt_path

    for name in ("/dev/stdout", "/dev/fd/1", f"/proc/{os.getpid()}/fd/1"):
        with pytest.raises(BadInput, match=f"zzgw receipt get ID --member {TAX} -o /dev/stdout"):
            check_receipt_path(Path(name), member=TAX)
