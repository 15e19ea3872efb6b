"""What the commands' help says of their exit statuses is what they exit with, and a Ctrl-C says what became of the
work (a reviewer, clirev R5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters import verify_command
from gateway.cli import main
from tests.adapters.test_verify_command import MATTER
from tests.commands import command_env, zzgw
from tests.conftest import TAX


def helped(*command: str) -> str:
    done = zzgw(command_env(Path("/nonexistent")), *command, "--help")
    assert done.returncode == 0, done.stderr
    return re.sub(r"\s+", " ", done.stdout)


def test_catalog_checks_help_lists_75_and_74() -> None:
    """`zzgw catalog check` with a store out of reach exits 75, which its help did not list ("0 the file loads, 2 it
    does not"): a pipeline gating on 0 or 2 misread it."""
    said = helped("catalog", "check")
    assert "75 the store the settings name is out of reach for now" in said, said
    assert "74 its output could not be written" in said, said


def test_verifys_help_lists_130_and_what_became_of_the_check() -> None:
    said = helped("verify")
    assert "130 interrupted (Ctrl-C): the gateway may have made and recorded the check all the same" in said, said
    assert "74 the report could not be written" in said, said


@pytest.fixture
def dev_data(tmp_path: Path) -> dict[str, str]:
    env = command_env(tmp_path / "var", ZZGW_CONFIG="")
    made = zzgw(env, "init")
    assert made.returncode == 0, made.stderr
    return env


def test_verify_interrupted_while_the_gateway_is_asked_says_the_check_may_be_recorded(
    dev_data: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Ctrl-C as the call was in flight had said `zzgw verify: interrupted`, English only, exit 130, a status its
    help did not list, and not that the gateway may have made and recorded the check (its receipt not written)."""
    for name, value in dev_data.items():
        monkeypatch.setenv(name, value)

    def interrupted(*_: object, **__: object) -> verify_command.Answer:
        raise KeyboardInterrupt

    monkeypatch.setattr(verify_command, "verify", interrupted)
    receipt = tmp_path / "r10.json"
    use = ["--member", TAX, "--matter", MATTER, "--purpose", "企业开办：发票申领", "--receipt", str(receipt)]
    assert main(["verify", "1.2.156.3005.2.x", *use]) == 130
    err = capsys.readouterr().err
    assert err.strip().startswith("zzgw verify: 已中断：若请求已发出，证照网关可能已完成并记录本次核验"), err
    assert "run `zzgw verify` again" in err and not receipt.exists()
