"""A PostgreSQL connection that cannot be opened: calls that need a new connection had been answered "the database
connection was lost", which pointed the operator at the network (a reviewer, R2); then "the database refuses new
connections (too many connections, or it is down or not answering)", also when the server turned the gateway's
role away for its privileges, and a host name that stopped resolving was still "lost" (a reviewer, R1). They are
UNAVAILABLE / DATABASE_UNAVAILABLE still, said as the gateway unable to open a connection, no cause claimed: libpq
hands the client no SQLSTATE at connect, only the server's words, in its language.

The refusals are played by a role and a database of the test's own, never by using up the shared server's
``max_connections``: a ``CONNECTION LIMIT 0`` (53300, as ``max_connections`` reached), the role refused login
(``NOLOGIN``, 28000), CONNECT revoked (42501), the database renamed away (3D000). A password changed (28P01) needs a
server that asks for one; the test server trusts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from gateway.store.database import store_unavailable
from protos.zzgw.v1 import verification_pb2
from tests.api.test_verification import USE, batch_issue, verifier
from tests.conftest import PG_URL, RunningGateway, backend_params, error_details, start_gateway

REFUSES = "网关当前无法与数据库建立新连接"
LOST = "connection was lost"
REFUSED_HOW = {  # (refuse…, let in again): the role, the database
    "connection_limit": (
        'ALTER ROLE "{role}" CONNECTION LIMIT 0',
        'ALTER ROLE "{role}" CONNECTION LIMIT -1',
    ),
    "nologin": ('ALTER ROLE "{role}" NOLOGIN', 'ALTER ROLE "{role}" LOGIN'),
    "connect_revoked": (
        'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC',
        'ALTER DATABASE "{name}" OWNER TO CURRENT_USER',  # its owner may connect whatever is revoked
        'GRANT CONNECT ON DATABASE "{name}" TO "{role}"',
    ),
    "database_renamed": (
        'ALTER DATABASE "{name}" RENAME TO "{name}_away"',
        'ALTER DATABASE "{name}_away" RENAME TO "{name}"',
    ),
}


@pytest.fixture
def own_role(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A login role of the test's own (not a superuser: PostgreSQL holds superusers to no connection limit) and a
    database it owns: (the role, the database, the store's URL). Both dropped after, the database by either name."""
    role, name = f"zzgw_test_role_{uuid.uuid4().hex[:10]}", f"zzgw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'CREATE DATABASE "{name}" OWNER "{role}"'))
    try:
        yield role, name, make_url(PG_URL).set(username=role, database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            for each in (name, f"{name}_away"):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{each}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def _refused(call: object) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    return raised.value.code(), error_details(raised.value)[0].reason, raised.value.details() or ""


@pytest.mark.parametrize("how", sorted(REFUSED_HOW))
@pytest.mark.parametrize("kind", backend_params()[1:])  # PostgreSQL's connections: SQLite has none to refuse
def test_a_connection_that_cannot_be_opened_is_said_so_with_no_cause_claimed_not_as_a_connection_lost(
    kind: str, how: str, own_role: tuple[str, str, str], tmp_path: Path
) -> None:
    role, name, url = own_role
    *refuse, let_in = (text(sql.format(role=role, name=name)) for sql in REFUSED_HOW[how])
    terminate = text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")
    running: RunningGateway = start_gateway(tmp_path / "var", url)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        kept = batch_issue(running, 1)
        request = verification_pb2.VerifyLicenseRequest(use=USE, license_id=kept)
        verifier(running).VerifyLicense(request, timeout=60)
        with admin.connect() as connection:
            for tries in range(20):  # its open connections first: a database is renamed with none open
                connection.execute(terminate)
                try:
                    for sql in refuse:
                        connection.execute(sql)
                    break
                except OperationalError:  # one opened meanwhile (the readiness check's)
                    assert tries < 19
                    time.sleep(0.1)
            # any opened meanwhile too: each call must open a new one, which the server refuses
            connection.execute(terminate)
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
        assert "cannot open a new connection to the database" in said[-1], said[-1]
        assert not any(cause in said[-1] for cause in ("too many", "down", "refuses", "privilege")), said[-1]
        with admin.connect() as connection:
            connection.execute(let_in)
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


def test_a_host_name_that_does_not_resolve_at_connect_is_a_connection_not_opened_not_one_lost() -> None:
    """psycopg resolves the host name itself, before any attempt, and its error then carries no attempt: it had been
    said "the database connection was lost" (a reviewer, R1)."""
    import psycopg

    with pytest.raises(psycopg.OperationalError) as raised:
        psycopg.connect("host=zzgw-test-host.invalid user=postgres dbname=test connect_timeout=3")
    answer = store_unavailable(raised.value)
    assert answer is not None and answer.reason == "DATABASE_UNAVAILABLE"
    assert REFUSES in answer.message and LOST not in answer.message, answer.message
