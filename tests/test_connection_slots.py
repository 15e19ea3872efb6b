"""`zzgw serve` on PostgreSQL warns at start when its processes may need more connections than the server has left
(2 × ZZGW_THREADS + 23 each, against max_connections less the reserved and those open): replicas beyond the server's
connections had served without a word, then failed most writes with DATABASE_UNAVAILABLE and, idle, gone in and out
of readiness every second (a fleet tester)."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.common import free_port, wait_serving
from gateway.config import Settings
from gateway.server import Gateway, warn_of_connection_slots
from gateway.store.database import Database, most_connections
from tests.commands import run_zzgw
from tests.conftest import PASSPHRASE, PG_URL, fresh_database

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs ZZGW_TEST_DATABASE_URL or a PostgreSQL at 127.0.0.1:5432"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


def test_the_sizing_rule_is_what_a_process_may_open() -> None:
    assert most_connections(16) == 2 * 16 + 23 == 55  # docs/operations.md: 2 × ZZGW_THREADS + 23


def served_stderr(env: dict[str, str]) -> str:
    """What `zzgw serve` writes to standard error from its start until it serves, and it is stopped (SIGTERM)."""
    server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
    except RuntimeError as exited:  # what it said before it went
        raise AssertionError(server.communicate(timeout=60)[1]) from exited
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    return err


def test_serve_warns_when_its_processes_may_need_more_connections_than_are_left(store: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(tmp_path / "var"),
        "ZZGW_DATABASE_URL": store,
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_THREADS": "600",  # 1,223 connections a process: more than any test server has
    }
    made = run_zzgw("init", env=env)
    assert made.returncode == 0, made.stderr
    db = Database.connect(store, pool_size=1)
    try:
        slots = db.connection_slots()
    finally:
        db.dispose()
    assert slots is not None
    # served by two workers (one process's wording, "1 process opens", is the next test's, in-process: it had been
    # "1 process(es) open", then "1 process open")
    err = served_stderr({**env, "ZZGW_WORKERS": "2"})
    (warning,) = [line for line in err.splitlines() if "may run out of connections" in line]
    assert " WARNING zzgw PostgreSQL may run out of connections for this gateway: " in warning
    assert "its 2 processes open up to 2,446 connections (1223 each: 2 × 600 + 23" in warning
    assert f"(max_connections {slots.max_connections}, {slots.reserved} of them reserved for superusers" in warning
    assert re.search(r", \d+ open now, \d+ of those by \d+ other gateway process(es)?\)", warning)
    assert "raise max_connections, or lower ZZGW_THREADS or ZZGW_WORKERS" in warning
    assert "(docs/operations.md: Several machines)" in warning


def test_a_server_with_room_for_the_gateway_is_not_warned_of(
    store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, threads=2,
                        max_watchers=1, max_watchers_per_member=1)  # fmt: skip
    gateway = Gateway.open(settings, create_passphrase=True)
    try:
        slots = gateway.db.connection_slots()
        assert slots is not None
        if slots.left < most_connections(4) + 20:
            pytest.skip(f"the test server has {slots.left} connections left: too few to tell")
        with caplog.at_level(logging.WARNING, logger="zzgw"):
            warn_of_connection_slots(gateway)
            assert not [r for r in caplog.records if "may run out of connections" in r.getMessage()]
            wide = Gateway.open(Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE,
                                         threads=1024, max_watchers=8))  # fmt: skip
            try:
                warn_of_connection_slots(wide)
            finally:
                wide.close()
        (said,) = [r.getMessage() for r in caplog.records if "may run out of connections" in r.getMessage()]
        assert "its 1 process opens up to 2,071 connections" in said
    finally:
        gateway.close()


def test_a_role_that_is_no_superuser_counts_the_other_roles_connections(store: str) -> None:
    """PostgreSQL shows a role that is neither superuser nor granted pg_read_all_stats the ``backend_type`` of other
    roles' sessions as NULL: under the gateway's own role (docs/operations.md), the warning had counted none of the
    other applications' connections, and kept silent when they held every slot; `zzgw init`'s word of connections
    that name no application had missed them too (a reviewer)."""
    role = f"slots_role_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER'))
    held: list[psycopg.Connection[Any]] = []
    as_role = Database.connect(make_url(store).set(username=role).render_as_string(hide_password=False))
    try:
        conninfo = make_url(store).set(drivername="postgresql").render_as_string(hide_password=False)
        held = [psycopg.connect(conninfo, application_name=name) for name in ("another-app",) * 3 + ("",) * 2]
        slots = as_role.connection_slots()
        assert slots is not None and slots.reserved > 0  # not a superuser: the reserved are not its own
        assert slots.open_by_others >= len(held)
        unnamed = as_role.unnamed_connections()  # other roles' addresses are not shown to it
        assert sum(int(each.split(" from ", 1)[0]) for each in unnamed) >= 2, unnamed
    finally:
        as_role.dispose()
        for connection in held:
            connection.close()
        with admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
