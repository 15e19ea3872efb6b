"""A SQLite store whose volume stops taking writes (remounted read-only after an error, failing, the file made
read-only): every call that writes, and so every verification (its access record), had been answered INTERNAL with a
traceback while readiness said SERVING (a reviewer, R2). Such a call is UNAVAILABLE / DATABASE_UNAVAILABLE, said at
WARNING without a traceback, and the process is not ready (DATABASE_READ_ONLY) until the store takes writes again.

The volume is played by ``chattr +i`` on the store and its WAL: a write then fails with EPERM as on a read-only
remount with EROFS (SQLite's ``disk I/O error``), and a new connection opens the file read-only (``attempt to write a
readonly database``). Not the ``-shm``: SQLite maps it, and an immutable one kills the process (SIGBUS)."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.common import free_port
from gateway.failures import exit_status, said
from gateway.store.database import Database, StoreGone, StoreUnwritable
from gateway.supervisor import EXIT_STORE_UNAVAILABLE
from protos.zzgw.v1 import verification_pb2
from tests.api.test_verification import USE, batch_issue, verifier
from tests.commands import run_zzgw
from tests.conftest import PASSPHRASE, RunningGateway, error_details, start_gateway

CANNOT_WRITE = "网关的数据库文件当前无法写入"


def eventually(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.1)


def serving(running: RunningGateway) -> int:
    health = health_pb2_grpc.HealthStub(running.channel(None))
    return health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status


def refusal(call: Callable[[], object]) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    return refused.value.code(), error_details(refused.value)[0].reason, refused.value.details() or ""


def test_a_store_that_takes_no_writes_is_unavailable_and_not_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "zzgw.db"
    running = start_gateway(tmp_path / "var", f"sqlite:///{path}")
    try:
        kept = batch_issue(running, 1)
        verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=kept))
        files = [str(path), f"{path}-wal"]
        if subprocess.run(["chattr", "+i", *files], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not allowed here (not root, or a file system without it)")
        try:
            with caplog.at_level(logging.WARNING):
                for n in (2, 3):
                    code, reason, said = refusal(lambda n=n: batch_issue(running, n))  # type: ignore[misc]
                    assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE"), said
                    assert said.startswith(CANNOT_WRITE) and "retry" in said
                code, reason, said = refusal(
                    lambda: verifier(running).VerifyLicense(
                        verification_pb2.VerifyLicenseRequest(use=USE, license_id=kept), timeout=60
                    )
                )
                assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE"), said
                eventually(lambda: running.gateway.readiness.state.reason == "DATABASE_READ_ONLY")
                assert serving(running) == health_pb2.HealthCheckResponse.NOT_SERVING
            refusals = [r for r in caplog.records if r.name == "zzgw.error"]
            assert refusals and all(r.levelno == logging.WARNING and not r.exc_info for r in refusals), [
                r.getMessage() for r in refusals
            ]
            assert "DATABASE_UNAVAILABLE (OperationalError)" in refusals[0].getMessage()
            assert not [r for r in caplog.records if r.exc_info], "no traceback"
            assert "not ready (DATABASE_READ_ONLY)" in caplog.text
        finally:
            subprocess.run(["chattr", "-i", *files], check=True)
        eventually(lambda: running.gateway.readiness.ready)
        assert serving(running) == health_pb2.HealthCheckResponse.SERVING
        batch_issue(running, 4)  # writes are taken again, without a restart
        verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=kept))
    finally:
        running.stop()


def burst(running: RunningGateway, kept: str, first: int, calls: int = 12) -> dict[str, int]:
    """``calls`` at once, a third issuances (as many batch streams as 8 handler threads take at once) and the rest
    verifications of ``kept``: each thread of the handler pool takes a session of its own, so the sessions' pool opens
    new connections. Each outcome is counted as "OK" or its code and reason."""
    outcomes: list[str] = []

    def one(i: int) -> None:
        try:
            if i % 3 == 0:
                batch_issue(running, first + i)
            else:
                request = verification_pb2.VerifyLicenseRequest(use=USE, license_id=kept)
                verifier(running).VerifyLicense(request, timeout=60)
            outcomes.append("OK")
        except grpc.RpcError as exc:
            details = error_details(exc)
            outcomes.append(f"{exc.code().name} {details[0].reason if details else exc.details()}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return dict(Counter(outcomes))


def test_connections_opened_while_the_store_took_no_writes_are_not_kept_once_it_takes_them(tmp_path: Path) -> None:
    """SQLite opens a file it cannot open for writing read-only, and such a connection stays read-only: those the
    sessions' pool and the receipts' group writer opened during the outage (calls at once) had been kept, and after
    the volume was mended the process was ready while most issuances and every verification were refused
    DATABASE_UNAVAILABLE until a restart (a reviewer, R1). A connection that refuses a write is thrown away, with the
    pool's connections opened until then: once ready, calls are taken again."""
    path = tmp_path / "zzgw.db"
    running = start_gateway(tmp_path / "var", f"sqlite:///{path}", threads=8)
    files = [str(path), f"{path}-wal"]
    try:
        kept = batch_issue(running, 1)  # nothing verified yet: the receipts' appender is opened during the outage
        if subprocess.run(["chattr", "+i", *files], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not allowed here (not root, or a file system without it)")
        try:
            for n in range(3):
                assert burst(running, kept, 100 + 20 * n) == {"UNAVAILABLE DATABASE_UNAVAILABLE": 12}
            eventually(lambda: running.gateway.readiness.state.reason == "DATABASE_READ_ONLY")
        finally:
            subprocess.run(["chattr", "-i", *files], check=True)
        eventually(lambda: running.gateway.readiness.ready)
        # calls in flight on a connection of the outage when the first of them refused a write are refused once
        first = burst(running, kept, 1000)
        assert set(first) <= {"OK", "UNAVAILABLE DATABASE_UNAVAILABLE"}, first
        for n in range(1, 4):
            assert burst(running, kept, 1000 + 20 * n) == {"OK": 12}, f"burst {n} after the store took writes again"
        assert running.gateway.readiness.ready
    finally:
        subprocess.run(["chattr", "-i", *files], capture_output=True)
        running.stop()


@pytest.mark.parametrize("attribute", ["+i", "+a"], ids=["immutable", "append-only"])
def test_a_gateway_started_while_the_store_takes_no_writes_exits_75_to_be_started_again(
    tmp_path: Path, attribute: str
) -> None:
    """`zzgw serve` started while the store's file takes no writes (an immutable or append-only file here; a volume
    remounted read-only the same way, EROFS): it had exited 2, "cannot open …: Operation not permitted", which the
    documented unit's RestartPreventExitStatus=2 never starts again, so the gateway stayed down once the volume was
    mended (a reviewer, R1). The same file, taking no writes for now: 75, said in one line, which the unit starts
    again; and `zzgw init` alike, whose unit tries again on 75. The line names what open(2) tells, an append-only file
    not said "immutable", and that a deployment's own read-only mount repeats it at every start (a reviewer, R2)."""
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(tmp_path),
        "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
        "ZZGW_WORKERS": "1",
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
    }
    env.pop("ZZGW_DATABASE_URL", None)
    run_zzgw("init", env=env, check=True)
    store = tmp_path / "zzgw.db"
    files = [str(each) for each in (store, Path(f"{store}-wal")) if each.exists()]
    if subprocess.run(["chattr", attribute, *files], capture_output=True).returncode != 0:
        pytest.skip(f"chattr {attribute} is not allowed here (not root, or a file system without it)")
    try:
        served = run_zzgw("serve", env=env, timeout=120)
        initialised = run_zzgw("init", env=env, timeout=120)
    finally:
        subprocess.run(["chattr", f"-{attribute[1:]}", *files], check=True)
    for done, command in ((served, "serve"), (initialised, "init")):
        assert done.returncode == EXIT_STORE_UNAVAILABLE, done.stderr
        said_lines = [line for line in done.stderr.splitlines() if "takes no writes now" in line]
        assert said_lines == [
            f"zzgw {command}: the store file at {store} takes no writes now (Operation not permitted: the file is "
            "immutable or append-only, chattr +i or +a (lsattr shows which)): worth starting again once it takes "
            "writes (mend the volume or remount it read-write, or clear the file's attribute; a deployment that "
            "mounts it read-only repeats this at every start until corrected: docs/operations.md, A SQLite file that "
            "takes no writes)"
        ], done.stderr
        assert "Traceback" not in done.stderr and "cannot open" not in done.stderr, done.stderr
    again = run_zzgw("init", env=env, timeout=120)  # and once it takes writes, the same store serves
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(
    ("refused", "status"),
    [(errno.EROFS, EXIT_STORE_UNAVAILABLE), (errno.EPERM, EXIT_STORE_UNAVAILABLE), (errno.EACCES, 2)],
    ids=["read-only-volume", "immutable", "permissions"],
)
def test_a_store_file_that_refuses_writes_is_an_outage_unless_its_permissions_refuse_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: int, status: int
) -> None:
    """Opening the store for writing: EROFS (its volume remounted read-only, which a test cannot remount) and EPERM
    (an immutable file) are a file that takes no writes for now, 75; EACCES, its permissions, is a setting to fix, 2,
    as before. The file itself is there and readable in each case."""
    path = tmp_path / "zzgw.db"
    Database.connect(f"sqlite:///{path}").engine.dispose()
    opened = os.open

    def refusing(file: str, flags: int, *args: int) -> int:
        if file == str(path) and flags & os.O_ACCMODE != os.O_RDONLY:
            raise OSError(refused, os.strerror(refused), file)
        return opened(file, flags, *args)

    monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(OSError if refused == errno.EACCES else StoreUnwritable) as raised:
        Database.connect(f"sqlite:///{path}")
    assert exit_status(raised.value) == status
    line = said(raised.value, "serve", None) or ""
    if status == 2:
        assert line == f"zzgw serve: cannot open {path}: Permission denied"
    else:
        why = {
            errno.EROFS: "Read-only file system: its file system is mounted read-only, after an error or by the "
            "deployment (a read-only volume)",
            errno.EPERM: "Operation not permitted: the file is immutable or append-only, chattr +i or +a (lsattr "
            "shows which)",
        }[refused]
        assert line.startswith(f"zzgw serve: the store file at {path} takes no writes now ({why}): worth "), line
        assert "repeats this at every start until corrected" in line, line
        found = path.stat()
        with pytest.raises(StoreUnwritable):  # a replacement's: the file the gateway started on
            Database.connect(f"sqlite:///{path}", expect=(found.st_dev, found.st_ino))
        with pytest.raises(StoreGone, match="another file is there now"):  # not another file there
            Database.connect(f"sqlite:///{path}", expect=(found.st_dev, found.st_ino + 1))
    Database.connect(f"sqlite:///{path}", read_only=True).engine.dispose()  # a read-only open asks for no writes
