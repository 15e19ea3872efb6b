"""A PostgreSQL that refuses the gateway new connections (``max_connections`` reached, or a role's or database's
``CONNECTION LIMIT``: too_many_connections, SQLSTATE 53300): calls that need a new connection had been answered
"the database connection was lost", which pointed the operator at the network, not at the connection limit (a
reviewer, R2). They are UNAVAILABLE / DATABASE_UNAVAILABLE still, said as the database refusing new connections.

The refusal is played by a role of the test's own with ``CONNECTION LIMIT 0``, never by using up the shared server's
``max_connections``: PostgreSQL refuses both alike (``FATAL: too many connections for role`` / ``… clients
already``), with the same SQLSTATE, and libpq hands neither's SQLSTATE to the client at connect."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway.store.database import store_unavailable
from protos.zzgw.v1 import verification_pb2
from tests.api.test_verification import USE, batch_issue, verifier
from tests.conftest import PG_URL, RunningGateway, backend_params, error_details, start_gateway

REFUSES = "数据库拒绝新连接"
LOST = "connection was lost"


@pytest.fixture
def own_role(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A login role of the test's own (not a superuser: PostgreSQL holds superusers to no connection limit) and a
    database it owns: (the role, the store's URL). Both dropped after."""
    role, name = f"zzgw_test_role_{uuid.uuid4().hex[:10]}", f"zzgw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'CREATE DATABASE "{name}" OWNER "{role}"'))
    try:
        yield role, make_url(PG_URL).set(username=role, database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def _refused(call: object) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    return raised.value.code(), error_details(raised.value)[0].reason, raised.value.details() or ""


@pytest.mark.parametrize("kind", backend_params()[1:])  # PostgreSQL's connections: SQLite has none to refuse
def test_a_database_that_refuses_new_connections_is_said_so_not_as_a_connection_lost(
    kind: str, own_role: tuple[str, str], tmp_path: Path
) -> None:
    role, url = own_role
    running: RunningGateway = start_gateway(tmp_path / "var", url)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        kept = batch_issue(running, 1)
        request = verification_pb2.VerifyLicenseRequest(use=USE, license_id=kept)
        verifier(running).VerifyLicense(request, timeout=60)
        with admin.connect() as connection:
            connection.execute(text(f'ALTER ROLE "{role}" CONNECTION LIMIT 0'))
            # its open connections too: each call must open a new one, which the server refuses
            connection.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"))
        said: list[str] = []
        for n in range(3):
            for call in (
                lambda: verifier(running).VerifyLicense(request, timeout=60),
                lambda n=n: batch_issue(running, 10 + n),
            ):
                code, reason, details = _refused(call)
                assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE"), details
                said.append(details)
        # the first call on each broken connection may meet it lost; every one after opens a new one, refused
        assert all(REFUSES in details and LOST not in details for details in said[2:]), said
        assert "refuses new connections" in said[-1] and "too many connections" in said[-1], said[-1]
        with admin.connect() as connection:
            connection.execute(text(f'ALTER ROLE "{role}" CONNECTION LIMIT -1'))
        deadline = time.monotonic() + 30
        while True:  # let in again: served
            try:
                verifier(running).VerifyLicense(request, timeout=60)
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "not served once the role was let in again"
                time.sleep(0.2)
        batch_issue(running, 20)
    finally:
        running.stop()
        admin.dispose()


def test_a_connection_lost_under_a_statement_is_still_said_as_lost() -> None:
    """Only a connection that could not be opened is a refusal: one that breaks under a statement (a backend
    terminated, a server restarted) is the connection lost, as before."""
    import psycopg

    lost = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    answer = store_unavailable(lost)
    assert answer is not None and answer.reason == "DATABASE_UNAVAILABLE"
    assert LOST in answer.message and REFUSES not in answer.message
    timed_out = psycopg.errors.ConnectionTimeout("connection timeout expired")  # psycopg's, at connect only
    answer = store_unavailable(timed_out)
    assert answer is not None and REFUSES in answer.message
