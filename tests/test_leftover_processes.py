"""The suite's own guard (``tests.conftest._no_process_outlives_its_test``): a process a test leaves running, and all
it started, is killed after the test and named in a warning, also when pytest-timeout cuts the test short."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

_LEAVES_A_GATEWAY_BEHIND = """
import os, subprocess, sys, time
import pytest
from tests.conftest import _no_process_outlives_its_test  # noqa: F401 (the guard, autouse)

PIDS = {pids!r}
TOKEN = {token!r}

def start():
    # a parent serving with a worker of its own, as `zzgw serve --workers 2` does
    sleep = f"import time; time.sleep(300)  # {{TOKEN}}"
    script = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {{sleep!r}}]); {{sleep}}"
    parent = subprocess.Popen([sys.executable, "-c", script])
    with open(PIDS, "a") as pids:
        pids.write(f"{{parent.pid}}\\n")

def test_ends_leaving_it():
    start()

@pytest.mark.timeout(1)
def test_cut_short():
    start()
    time.sleep(30)

def test_waits_for_its_own():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    assert process.wait() == 0
"""


def test_a_process_left_running_is_killed_with_what_it_started(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids, token = tmp_path / "pids", uuid.uuid4().hex
    pytester.makepyfile(test_leaving=_LEAVES_A_GATEWAY_BEHIND.format(pids=str(pids), token=token))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::ResourceWarning", timeout=60)
    result.assert_outcomes(passed=2, failed=1)
    killed = "  *a process the test started was still running after it, killed: *time.sleep(300)*"
    leaving, cut_short = "test_leaving.py::test_ends_leaving_it", "test_leaving.py::test_cut_short"
    result.stdout.fnmatch_lines([leaving, cut_short, killed])  # the one warning, said for both
    assert len(pids.read_text().split()) == 2  # both tests started theirs
    assert _running_with(token) == []  # the parents and the workers they started: none reparented and still running


def _running_with(token: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command, stat = Path(f"/proc/{pid}/cmdline").read_bytes(), Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if token.encode() in command and stat[stat.rindex(")") + 2] != "Z":
            found.append(int(pid))
    return found
