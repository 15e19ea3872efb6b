"""A PostgreSQL database restored under a running gateway (docs/operations.md, Restoring, step 1 skipped: ``DROP
DATABASE … WITH (FORCE)``, ``createdb``, ``pg_restore``): the process refuses every call that writes (``STORE_GONE``),
goes not ready, says it once, and never continues the audit chain in the restored database from its own head. It had
reconnected, said "ready again", served on and appended after its in-memory head, leaving the restored trail BROKEN
by a GAP for good (a disaster-recovery drill, D1). A connection loss alone (the same database) is only an outage, as
before. Real ``zzgw serve`` processes, real PostgreSQL, real gRPC and HTTP over sockets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from adapters.client import MemberCredentials, connect
from benchmarks.common import free_port, wait_serving
from benchmarks.verify import worker_pids
from gateway.store.database import Database
from gateway.supervisor import EXIT_STORE_UNAVAILABLE
from protos.zzgw.v1 import verification_pb2, verification_pb2_grpc
from tests.api.test_verification import MARKET, USE, issue
from tests.commands import run_zzgw
from tests.conftest import (
    PASSPHRASE,
    PG_URL,
    PgDatabase,
    _gateway_settings,
    _initialised,
    _serve,
    error_details,
    run_sql,
    start_gateway,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests need ZZGW_TEST_DATABASE_URL or a PostgreSQL at 127.0.0.1"),
]

REPLACED = "is no longer the one this process opened"


@dataclass
class Served:
    database: PgDatabase
    env: dict[str, str]
    license_id: str
    token: str
    log: Path
    grpc_port: int = 0
    http_port: int = 0
    process: subprocess.Popen[str] | None = None

    def start(self, workers: int = 1) -> None:
        self.grpc_port, self.http_port = free_port(), free_port()
        env = {
            **self.env,
            "ZZGW_WORKERS": str(workers),
            "ZZGW_GRPC_ADDR": f"127.0.0.1:{self.grpc_port}",
            "ZZGW_HTTP_ADDR": f"127.0.0.1:{self.http_port}",
        }
        with self.log.open("w", encoding="utf-8") as written:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=written,
                text=True,
            )
        wait_serving(f"127.0.0.1:{self.grpc_port}", process=self.process)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def verify(self) -> verification_pb2.VerifyLicenseResponse:
        channel = connect(f"127.0.0.1:{self.grpc_port}", MemberCredentials(code=MARKET, token=self.token))
        with channel:
            stub = verification_pb2_grpc.VerificationServiceStub(channel)
            return stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=self.license_id))

    def refused(self) -> str:
        """The reason of a VerifyLicense refused UNAVAILABLE ("" if it was answered)."""
        try:
            self.verify()
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
            return error_details(error)[0].reason
        return ""

    def readyz(self) -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def said(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def admin(self, *statements: str) -> None:
        run_sql(PG_URL, *statements)

    def restore_under_it(self, dump: Path) -> None:
        """Steps 3 of *Restoring* without step 1: the database dropped (its connections ended), made again and
        restored from ``dump``, as the drill's operator did."""
        name = self.database.name
        self.admin(f'DROP DATABASE "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        subprocess.run(
            ["pg_restore", *_pg_args(), "--no-owner", "--single-transaction", "-d", name, str(dump)],
            check=True,
            capture_output=True,
        )


def _pg_args() -> list[str]:
    url = make_url(PG_URL)
    return ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    database = PgDatabase.create()
    data_dir = tmp_path / "var"
    # initialised (a copy of the initialised template, as ``running`` has: its migrations and members took a second
    # or more of a loaded machine's CPU for each test), a license issued, then closed
    if _initialised.copy(database.url, data_dir):
        running = _serve(_gateway_settings(data_dir, database.url, {}), None)
    else:
        running = start_gateway(data_dir, database.url)
    try:
        license_id = issue(running, 1).license.license_id
        token = running.tokens[MARKET]
    finally:
        running.stop()
    env = {**os.environ, "ZZGW_DATA_DIR": str(data_dir), "ZZGW_DATABASE_URL": database.url}
    env["ZZGW_KEY_PASSPHRASE"] = PASSPHRASE
    env.pop("ZZGW_KEY_PASSPHRASE_FILE", None)
    it = Served(database, env, license_id, token, tmp_path / "serve.log")
    try:
        yield it
    finally:
        if it.process is not None and it.process.poll() is None:
            it.process.kill()
            it.process.wait(timeout=30)
        database.drop()


def _until(what: object, seconds: float = 30) -> object:
    """The first truthy answer of ``what()`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = what()  # type: ignore[operator]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_database_restored_under_a_running_gateway_is_refused_store_gone_and_its_trail_kept_intact(
    served: Served, tmp_path: Path
) -> None:
    served.start()
    served.verify()
    dump = tmp_path / "zzgw.dump"
    subprocess.run(["pg_dump", *_pg_args(), "-Fc", "-f", str(dump), served.database.name], check=True)
    served.verify()  # after the copy: the process's audit head is one record past the restored trail's
    served.verify()

    served.restore_under_it(dump)

    reasons = [served.refused() for _ in range(3)]
    assert _until(lambda: served.refused() == "STORE_GONE"), reasons
    assert [served.refused() for _ in range(3)] == ["STORE_GONE"] * 3  # not served from the other store, ever
    with pytest.raises(grpc.RpcError) as refused:  # the client is told the database was replaced, Chinese first
        served.verify()
    assert "网关的数据库已被替换" in (refused.value.details() or "")
    assert "(restored, or dropped and made again)" in (refused.value.details() or "")
    assert _until(lambda: served.readyz()[0] == 503)
    status, body = served.readyz()
    assert status == 503 and body["ready"] is False, body
    assert served.process is not None and served.process.poll() is None  # it refuses; it does not die
    time.sleep(1.5)  # more health checks, each on a new connection: still one line
    assert served.stop() == 0

    log = served.said()
    replaced = [line for line in log.splitlines() if REPLACED in line and " ERROR zzgw.store " in line]
    assert len(replaced) == 1, log
    assert (
        f"the database {make_url(served.database.url).render_as_string(hide_password=True)} {REPLACED}" in (replaced[0])
    )
    assert "(restored, or dropped and made again)" in replaced[0]
    assert "Every gateway process on it must be restarted (docs/operations.md, Restoring" in replaced[0]
    assert "Traceback" not in log and "ready again" not in log, log

    # nothing was appended to the restored trail from the process's head: it still checks
    checked = run_zzgw("audit", "verify", env=served.env)
    assert checked.returncode == 0, (checked.stdout, checked.stderr)
    assert "intact" in checked.stdout, checked.stdout


def test_connections_ended_on_the_same_database_are_an_outage_only_and_it_serves_again(served: Served) -> None:
    """pg_terminate_backend on every connection of the gateway (a PostgreSQL restart does the same), the database
    not made again: the new connections reach the same database, so calls are served again, never STORE_GONE."""
    served.start()
    served.verify()
    served.admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{served.database.name}' AND pid <> pg_backend_pid()"
    )
    reasons = [served.refused() for _ in range(3)]
    assert set(reasons) <= {"", "DATABASE_UNAVAILABLE"}, reasons
    assert _until(lambda: served.refused() == ""), reasons
    assert _until(lambda: served.readyz()[0] == 200)
    served.verify()
    assert served.stop() == 0
    log = served.said()
    assert REPLACED not in log and "STORE_GONE" not in log, log
    checked = run_zzgw("audit", "verify", env=served.env)
    assert checked.returncode == 0, (checked.stdout, checked.stderr)


def test_a_replacement_worker_waits_rather_than_serve_a_database_replaced_since_the_gateway_started(
    served: Served, tmp_path: Path
) -> None:
    """Two workers; the database restored under them; one killed: its replacement, given the database the gateway
    started on, refuses the restored one and waits (exit 75, tried again), as for a SQLite file replaced; the other
    worker refuses calls STORE_GONE. Never the restored database served, never the gateway stopped by a setting."""
    served.start(workers=2)
    dump = tmp_path / "zzgw.dump"
    subprocess.run(["pg_dump", *_pg_args(), "-Fc", "-f", str(dump), served.database.name], check=True)
    first = worker_pids(served.process.pid, 2, served.grpc_port)  # type: ignore[union-attr]
    served.restore_under_it(dump)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while "did not start (exit code 75): trying again in 2 s" not in served.said():
        assert served.process is not None and served.process.poll() is None, served.said()
        assert time.monotonic() < deadline, served.said()
        time.sleep(0.2)
    assert _until(lambda: served.refused() == "STORE_GONE")  # the other worker
    assert served.stop() == 0
    log = served.said()
    assert re.search(
        r"ERROR zzgw the database \S+, there when the gateway started \(oid \d+[^)]*\), was replaced \(now oid \d+",
        log,
    ), log
    assert "Restart every gateway process on it (docs/operations.md, Restoring)" in log
    assert "stopping the gateway" not in log and "Traceback" not in log, log
    assert EXIT_STORE_UNAVAILABLE == 75
    checked = run_zzgw("audit", "verify", env=served.env)
    assert checked.returncode == 0, (checked.stdout, checked.stderr)


def test_a_server_without_pg_control_system_is_told_by_the_database_oid_alone() -> None:
    """A server that lacks ``pg_control_system()`` (a managed service's may) had failed every connection:
    ``has_function_privilege`` of a name it does not know raises, before the fallback to the oid (a reviewer, R2)."""
    database = PgDatabase.create()
    try:
        hider = create_engine(database.url, isolation_level="AUTOCOMMIT")
        with hider.connect() as connection:  # in this database only: its own pg_catalog
            connection.execute(text("SET allow_system_table_mods = on"))
            connection.execute(text("ALTER FUNCTION pg_catalog.pg_control_system() RENAME TO pg_control_system_hidden"))
        hider.dispose()
        store = Database.connect(database.url)
        try:
            with store.engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1
            identity = store.database_identity()
            assert identity is not None and identity.system is None
            with store.engine.connect() as connection:
                oid = connection.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()"))
                assert identity.oid == oid.scalar()
        finally:
            store.dispose()
    finally:
        database.drop()
