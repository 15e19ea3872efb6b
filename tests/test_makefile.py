"""``make lint`` without buf: with no npm, or an npm that cannot install buf, it says the two buf steps are skipped
and runs ruff, mypy and the import-layer contracts (README, "Requirements"); with buf, a failing buf step still
fails it. The real Makefile is run by make, with the venv and buf paths pointed at stand-ins in ``tmp_path`` that
write down how they were called, and a PATH holding only what the recipes need."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
SKIPPED = "buf lint and buf breaking skipped"

pytestmark = pytest.mark.skipif(MAKE is None, reason="make not installed")


def stand_in(path: Path, log: Path, status: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{path.name} $*" >> {log}\nexit {status}\n', encoding="utf-8")
    path.chmod(0o755)


def run_lint(
    tmp_path: Path, *, npm_status: int | None = None, buf_status: int | None = None, require_buf: bool = False
) -> tuple[str, str, int]:
    """``make lint`` with a venv whose tools only log (installed: its stamps are fresh), an npm that fails with
    ``npm_status`` (None: no npm on PATH), a buf that exits ``buf_status`` (None: none installed), and
    ``REQUIRE_BUF=1`` if ``require_buf`` (never from the suite's environment: CI sets it, .ci/run)."""
    log = tmp_path / "calls.log"
    log.touch()
    venv = tmp_path / "venv"
    for tool in ("ruff", "mypy", "lint-imports"):
        stand_in(venv / "bin" / tool, log)
    (venv / ".installed-stamp").touch()
    (venv / ".system-deps-stamp").touch()
    buf = tmp_path / "node_modules" / ".bin" / "buf"
    if buf_status is not None:
        stand_in(buf, log, buf_status)
    path = tmp_path / "path"
    path.mkdir()
    for command in ("make", "sh", "touch"):
        found = shutil.which(command)
        assert found is not None, command
        (path / command).symlink_to(found)
    if npm_status is not None:
        stand_in(path / "npm", log, npm_status)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "REQUIRE_BUF")}
    env["PATH"] = str(path)
    result = subprocess.run(
        [str(path / "make"), "--no-print-directory", "-C", str(ROOT), "lint", f"VENV={venv}", f"BUF={buf}",
         *(["REQUIRE_BUF=1"] if require_buf else [])],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result.stdout + result.stderr, log.read_text(encoding="utf-8"), result.returncode


def tools(calls: str) -> list[str]:
    return [line.split()[0] for line in calls.splitlines()]


def test_without_npm_lint_skips_buf_and_runs_the_rest(tmp_path: Path) -> None:
    output, calls, status = run_lint(tmp_path)
    assert status == 0, output
    assert "npm not found" in output
    assert SKIPPED in output
    assert tools(calls) == ["ruff", "ruff", "mypy", "lint-imports"], output


def test_when_npm_cannot_install_buf_lint_skips_buf_and_runs_the_rest(tmp_path: Path) -> None:
    output, calls, status = run_lint(tmp_path, npm_status=1)
    assert status == 0, output
    assert "npm could not install buf" in output
    assert SKIPPED in output
    assert tools(calls) == ["npm", "ruff", "ruff", "mypy", "lint-imports"], output


def test_with_buf_lint_runs_both_buf_steps_first(tmp_path: Path) -> None:
    output, calls, status = run_lint(tmp_path, buf_status=0)
    assert status == 0, output
    assert SKIPPED not in output
    assert calls.splitlines()[:2] == ["buf lint", "buf breaking --against protos/zzgw-v1.binpb"]
    assert tools(calls) == ["buf", "buf", "ruff", "ruff", "mypy", "lint-imports"], output


def test_a_failing_buf_step_fails_lint(tmp_path: Path) -> None:
    output, calls, status = run_lint(tmp_path, buf_status=1)
    assert status != 0, output
    assert calls.splitlines() == ["buf lint"], output


@pytest.mark.parametrize("npm_status", [None, 1], ids=["no-npm", "npm-fails"])
def test_where_buf_is_required_lint_stops_without_it(tmp_path: Path, npm_status: int | None) -> None:
    """CI requires buf (``REQUIRE_BUF=1``, .ci/run): a registry's outage must not pass for a check of the protos
    against the released ones (ADR 0014) that was skipped."""
    output, calls, status = run_lint(tmp_path, npm_status=npm_status, require_buf=True)
    assert status != 0, output
    assert "mypy" not in tools(calls) and SKIPPED not in output, output
