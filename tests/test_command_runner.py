"""The tests' command runner (tests/commands.py) answers as ``python -m gateway.cli`` does: the same output, exit
status, environment, working directory and standard input, and a timeout that leaves it usable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.commands import ROOT, run_zzgw


@pytest.mark.parametrize("args", [["--help"], ["members", "--help"], ["nonsense"], ["receipt", "check", "-"]])
def test_a_command_answers_as_a_process_of_its_own_does(args: list[str]) -> None:
    alone = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    forked = run_zzgw(*args, env=dict(os.environ))
    assert (forked.returncode, forked.stdout, forked.stderr) == (alone.returncode, alone.stdout, alone.stderr)
    assert forked.stdout + forked.stderr  # something was said


def test_the_environment_directory_and_input_are_the_commands(tmp_path: Path) -> None:
    """A bad setting is read from the environment given (not the runner's), a relative --config from the directory
    given, and `receipt check -` reads the input given."""
    env = {**os.environ, "ZZGW_MAX_WATCHERS": "0", "ZZGW_DATA_DIR": str(tmp_path)}
    refused = run_zzgw("members", env=env)
    assert refused.returncode == 2 and "ZZGW_MAX_WATCHERS" in refused.stderr
    (tmp_path / "zzgw.toml").write_text("max_watchers = 2000\n", encoding="utf-8")
    from_file = run_zzgw("members", "--config", "zzgw.toml", env={**env, "ZZGW_MAX_WATCHERS": ""}, cwd=tmp_path)
    assert from_file.returncode == 2 and "not 2000" in from_file.stderr, from_file.stderr
    root = tmp_path / "root.pem"
    root.write_bytes(b"")
    read = run_zzgw("receipt", "check", "-", "--root", str(root), env=env, input="not json")
    assert read.returncode == 2 and "JSON" in read.stderr, read.stderr


def test_a_command_past_its_timeout_is_stopped_and_the_next_one_runs() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes the connection, never answers
        url = f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/x?connect_timeout=60"
        with pytest.raises(subprocess.TimeoutExpired):
            run_zzgw("members", env={**os.environ, "ZZGW_DATABASE_URL": url}, timeout=2)
    assert run_zzgw("--help", env=dict(os.environ)).returncode == 0
