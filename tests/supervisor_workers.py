"""The workers ``tests/test_supervisor.py`` gives ``supervise`` in place of the gateway's: each start of one is a
process of its own (multiprocessing's spawn), which imports this module, so it imports little. They had been in
test_supervisor.py, whose imports (grpc, SQLAlchemy, the tests' conftest) took each start a second or more, on the
way of every replacement those tests wait for."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from gateway.supervisor import EXIT_STORE_UNAVAILABLE


def flaky_worker(settings: Any, number: int, _announce: bool, ready: Any, _replacement: bool) -> None:
    """A worker for ``supervise``: worker 1 serves throughout; worker 0 serves, dies, then cannot start twice (the
    database down; the second time killed instead with ``ZZGW_TEST_KILLED``), then serves. Each start is counted in
    a file of the data directory."""
    record = Path(settings.data_dir) / f"starts-{number}"
    with record.open("a", encoding="utf-8") as starts:
        starts.write(f"{os.getpid()}\n")
    start = len(record.read_text(encoding="utf-8").split())
    if number == 0 and start == 3 and (killed := os.environ.get("ZZGW_TEST_KILLED")):
        os.kill(os.getpid(), getattr(signal, killed))  # before it serves: the OOM killer's pick, a full /dev/shm
    if number == 0 and start == 2 and os.environ.get("ZZGW_TEST_CRASHED"):
        os.kill(os.getpid(), signal.SIGSEGV)  # before it serves: a defect (a C extension's crash at import)
    if number == 0 and start in (2, 3):
        raise SystemExit(EXIT_STORE_UNAVAILABLE)  # before it serves: a replacement that cannot reach the store
    if number == 0 and start == 2 + int(os.environ.get("ZZGW_TEST_LASTING", "9")):
        raise SystemExit(2)  # a replacement that cannot start for good (a key file gone): not tried again
    ready.set()
    if number == 0 and start == 1:
        time.sleep(0.3)
        os._exit(3)  # dies while serving
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(0.1)


def waiting_worker(settings: Any, number: int, _announce: bool, ready: Any, _replacement: bool) -> None:
    """A worker for ``supervise``: both serve; worker 0 dies, then worker 1 once worker 0's replacement has failed.
    Their replacements wait for what ``ZZGW_TEST_WAITS`` says (worker 0's, worker 1's): ``catalog``, a restart to
    serve the catalog adopted since the gateway started, for ever (as ``server._worker`` for ``CatalogNotTheStores``);
    ``store``, the store out of reach, worker 0's three times and worker 1's once, then they serve."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    record = Path(settings.data_dir) / f"starts-{number}"
    with record.open("a", encoding="utf-8") as starts:
        starts.write(f"{os.getpid()}\n")
    start = len(record.read_text(encoding="utf-8").split())
    waits = os.environ["ZZGW_TEST_WAITS"].split(",")[number]
    if start > 1 and waits == "catalog":
        ready.restart_needed()
        raise SystemExit(EXIT_STORE_UNAVAILABLE)
    if 1 < start <= (4 if number == 0 else 2):
        raise SystemExit(EXIT_STORE_UNAVAILABLE)
    ready.set()
    if start == 1 and number == 0:
        time.sleep(0.3)
        os._exit(3)  # dies while serving
    if start == 1:  # worker 1 dies once worker 0's replacement has failed, and the supervisor has seen it
        other = Path(settings.data_dir) / "starts-0"
        while not other.exists() or len(pids := other.read_text(encoding="utf-8").split()) < 2 or _alive(pids[1]):
            time.sleep(0.05)
        time.sleep(0.2)
        os._exit(3)
    while True:
        time.sleep(0.1)


def _alive(pid: str) -> bool:
    """Whether process ``pid`` is there, a zombie not yet reaped by its parent included."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    return True


def frozen_worker(settings: Any, number: int, _announce: bool, ready: Any, _replacement: bool) -> None:
    """A worker for ``supervise``: both serve; worker 0 then stops itself (SIGSTOP), the stand-in for a process that
    runs nothing at all (frozen, its GIL held in C), which its own stop deadline (a Python timer) cannot end."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    (Path(settings.data_dir) / f"pid-{number}").write_text(str(os.getpid()), encoding="utf-8")
    ready.set()
    if number == 0:
        os.kill(os.getpid(), signal.SIGSTOP)
    while True:
        time.sleep(0.1)


def late_worker(settings: Any, number: int, _announce: bool, ready: Any, _replacement: bool) -> None:
    """A worker for ``supervise``: worker 1 serves throughout; worker 0's first start waits, still starting, until
    worker 1 serves, and is then killed (SIGKILL: the OOM killer's pick, an operator's ``kill -9``) before it is
    ready; its next start serves. Each start is counted in a file of the data directory."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    record = Path(settings.data_dir) / f"starts-{number}"
    with record.open("a", encoding="utf-8") as starts:
        starts.write(f"{os.getpid()}\n")
    start = len(record.read_text(encoding="utf-8").split())
    serving = Path(settings.data_dir) / "serving-1"
    if number == 0 and start == 1:
        while not serving.exists():  # worker 1's ready is set before the file is made
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    ready.set()
    if number == 1:
        serving.touch()
    while True:
        time.sleep(0.1)
