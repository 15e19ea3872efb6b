"""The tests' command runner (tests/commands.py) answers as ``python -m gateway.cli`` does: the same output, exit
status, environment, working directory and standard input, and a timeout that leaves it usable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import commands
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


def stuck(tmp_path: Path, silent: socket.socket) -> dict[str, str]:
    """A command's environment whose database takes the connection and never answers: it waits (60 s)."""
    url = f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/x?connect_timeout=60"
    return {**os.environ, "ZZGW_DATABASE_URL": url, "ZZGW_DATA_DIR": str(tmp_path), "ZZGW_KEY_PASSPHRASE": "x" * 16}


def test_a_command_past_its_timeout_is_stopped_and_the_next_one_runs(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent, pytest.raises(subprocess.TimeoutExpired):
        run_zzgw("members", env=stuck(tmp_path, silent), timeout=2)
    assert run_zzgw("--help", env=dict(os.environ)).returncode == 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_command_cut_short_by_its_test_dies_with_the_runner(tmp_path: Path) -> None:
    """A test's timeout kills the runner while a command runs: the command is killed with it, not left running
    with the test's store and ports, its deadline gone with the runner (found in review)."""
    run_zzgw("--help", env=dict(os.environ))  # the runner is up
    zygote = commands._zygote
    assert zygote is not None and zygote.alive
    with socket.create_server(("127.0.0.1", 0)) as silent:
        stopped: list[RuntimeError] = []

        def wait() -> None:
            try:
                run_zzgw("members", env=stuck(tmp_path, silent))
            except RuntimeError as exc:  # the runner stopped
                stopped.append(exc)

        waiting = threading.Thread(target=wait)
        waiting.start()
        deadline = time.monotonic() + 20
        while not (forked := children(zygote._process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert forked, "the command never started"
        zygote._process.kill()  # as the runner does when the test waiting for the command is cut short
        waiting.join(10)
        assert len(stopped) == 1
        deadline = time.monotonic() + 10
        while any(running(pid) for pid in forked) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(running(pid) for pid in forked)
    assert run_zzgw("--help", env=dict(os.environ)).returncode == 0  # a new runner


def test_a_setting_read_as_python_starts_is_given_to_a_process_of_its_own(tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR is read as prometheus_client is imported, which the runner did before the command
    was given: such a command runs as python -m gateway.cli, where the setting reaches the imports."""
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:nothing_here"}
    assert run_zzgw("--help", env=env).args[0] == sys.executable  # a process of its own
    assert run_zzgw("--help", env=dict(os.environ)).args == ["zzgw", "--help"]


def test_the_runner_outlives_the_thread_that_started_it() -> None:
    """Started by a thread that then ends, the runner goes on serving the test process (a parent-death signal had
    killed it with that thread; found in review)."""
    commands._zygote = None  # the next command starts a runner
    started = threading.Thread(target=lambda: run_zzgw("--help", env=dict(os.environ)))
    started.start()
    started.join(60)
    runner = commands._zygote
    assert runner is not None
    time.sleep(0.5)
    assert runner.alive and run_zzgw("--help", env=dict(os.environ)).returncode == 0
    assert commands._zygote is runner  # the same one
