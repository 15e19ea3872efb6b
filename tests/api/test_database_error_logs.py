"""A database error's message in the log: PostgreSQL's says ``DETAIL: Failing row contains (…)`` (or ``Key (col)=
(value) already exists``), a holder's row, and SQLAlchemy's ``hide_parameters`` hides only the bound parameters. An
INTERNAL error's traceback, and a command's, had carried it (a reviewer, R2): they keep their frames and say the
error by its class, SQLSTATE and the names of what it concerns, and by its message only where it quotes no value
(a schema's defect, a connection lost: a review of the fixes, R4)."""

from __future__ import annotations

import io
import logging
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from gateway.server import log_handler
from protos.zzgw.v1 import issuance_pb2
from tests.conftest import MARKET, PG_URL, RunningGateway, error_details

ID_NUMBER = "370102197606116838"
"""A 公民身份号码 in the row the bad INSERT offers: the members table's code (18 characters), its name left NULL."""


def _bad_insert(running: RunningGateway) -> None:
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO members (code, name, region, roles, created_at) "
                "VALUES (:code, NULL, '370100', 'ISSUER', CURRENT_TIMESTAMP)"
            ),
            {"code": ID_NUMBER},
        )


def _logged_until(stream: io.StringIO, needle: str) -> str:
    """What the handler wrote once ``needle`` is in it (the error line is written by a server thread, before the
    answer; a moment allowed)."""
    deadline = time.monotonic() + 10
    while needle not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    return stream.getvalue()


def test_an_internal_errors_traceback_keeps_its_frames_but_not_the_databases_message(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_get() -> None:
        _bad_insert(running)

    line = _internal_line(running, monkeypatch, broken_get)
    # the statement, its values bound parameters: hidden by hide_parameters
    assert "[SQL: INSERT INTO members (code, name, region, roles, created_at) VALUES (" in line, line
    # the frames are there, down to the statement and the driver
    assert "Traceback (most recent call last):" in line and "in broken_get" in line and "in _bad_insert" in line
    assert "sqlalchemy.exc.IntegrityError: " in line, line
    if running.gateway.db.engine.dialect.name == "postgresql":
        assert "psycopg.errors.NotNullViolation: SQLSTATE 23502, table members, column name (the database's" in line
        assert "(psycopg.errors.NotNullViolation) SQLSTATE 23502, table members, column name" in line
    else:
        assert (
            "(sqlite3.IntegrityError) SQLITE_CONSTRAINT_NOTNULL, NOT NULL constraint failed: members.name (the "
            "database's message left out: it may quote values)" in line
        ), line


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (ZZGW_TEST_DATABASE_URL)")
def test_a_commands_uncaught_database_error_is_written_without_its_message(tmp_path: Path) -> None:
    """A defect of a ``zzgw`` command (a migration meeting a row it cannot take) ends in Python's traceback, which
    had carried PostgreSQL's ``DETAIL`` with the row: ``zzgw``'s ``main`` writes it without the message."""
    script = tmp_path / "command.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys

            from sqlalchemy import create_engine, text
            from gateway import cli

            try:
                cli.main(["--no-such-option"])  # main's first step: a traceback written as zzgw writes it
            except SystemExit:
                pass
            engine = create_engine({PG_URL!r}, hide_parameters=True)
            with engine.begin() as connection:
                connection.execute(text("CREATE TEMPORARY TABLE zzgw_held (code varchar(18) UNIQUE, name text)"))
                connection.execute(text("INSERT INTO zzgw_held VALUES (:code, '某')"), {{"code": sys.argv[1]}})
                connection.execute(text("INSERT INTO zzgw_held VALUES (:code, '某')"), {{"code": sys.argv[1]}})
            """
        ),
        encoding="utf-8",
    )
    command = [sys.executable, str(script), ID_NUMBER]  # the value as an argument: a source line would show it
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert ID_NUMBER not in done.stderr and "already exists" not in done.stderr, done.stderr
    assert f'File "{script}", line ' in done.stderr and "Traceback (most recent call last):" in done.stderr
    assert done.stderr.rstrip().endswith(
        "sqlalchemy.exc.IntegrityError: (psycopg.errors.UniqueViolation) SQLSTATE 23505, table zzgw_held, constraint "
        "zzgw_held_code_key (the database's message left out: it may quote values) [SQL: INSERT INTO zzgw_held "
        "VALUES (%(code)s, '某')]"
    ), done.stderr


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (ZZGW_TEST_DATABASE_URL)")
def test_the_http_sides_error_line_keeps_its_frames_but_not_the_databases_message() -> None:
    """The HTTP side's ``zzgw.error`` line of a request that met a defect, through the gateway's handler: a CRL whose
    making met PostgreSQL's unique violation, which quotes the key's value."""
    from sqlalchemy import create_engine

    from adapters.http import CRL_PATH, HttpApp, HttpServer
    from tests.adapters.test_http import fetch

    engine = create_engine(PG_URL, hide_parameters=True)

    def broken_crl() -> bytes:
        with engine.begin() as connection:
            connection.execute(text("CREATE TEMPORARY TABLE zzgw_held (code varchar(18) UNIQUE)"))
            for _ in range(2):
                connection.execute(text("INSERT INTO zzgw_held VALUES (:code)"), {"code": ID_NUMBER})
        return b""

    stream = io.StringIO()
    handler = log_handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    http = HttpServer(HttpApp(timestamp=lambda query: b"", crl=broken_crl), "127.0.0.1:0")
    http.start()
    try:
        status, _, _ = fetch(f"http://127.0.0.1:{http.port}{CRL_PATH}")
    finally:
        http.stop()
        root.removeHandler(handler)
        engine.dispose()
    assert status == 500
    logged = _logged_until(stream, f"HTTP GET {CRL_PATH} failed")
    (line,) = [each for each in logged.splitlines() if f"HTTP GET {CRL_PATH} failed" in each]
    assert ID_NUMBER not in logged and "already exists" not in logged, line
    assert "in broken_crl" in line and "SQLSTATE 23505, table zzgw_held, constraint zzgw_held_code_key" in line, line


def _internal_line(running: RunningGateway, monkeypatch: pytest.MonkeyPatch, broken: Callable[[], None]) -> str:
    """The gateway's error line of a GetLicense that met ``broken``, as the gateway's handler writes it."""
    monkeypatch.setattr(running.gateway.issuance, "get", lambda *args, **kwargs: broken())
    stream = io.StringIO()
    handler = log_handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id="anything"), timeout=10)
    finally:
        root.removeHandler(handler)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    request_id = error_details(caught.value)[0].metadata["request_id"]
    logged = _logged_until(stream, f"request {request_id} to /zzgw.v1.IssuanceService/GetLicense failed")
    (line,) = [each for each in logged.splitlines() if f"request {request_id} " in each and "failed" in each]
    assert ID_NUMBER not in logged and "Failing row" not in logged, line
    return line


def test_a_schema_defect_is_said_by_the_databases_message_which_quotes_no_value(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration's or a schema drift's error (no such column) names the column in the database's message, which
    quotes no value: it had been cut to ``SQLITE_ERROR`` or a bare SQLSTATE, the column unsaid (a review of the
    fixes, R4). The statement is said, its value a bound parameter."""

    def no_such_column() -> None:
        with running.gateway.db.engine.begin() as connection:
            connection.execute(text("SELECT nope FROM members WHERE code = :code"), {"code": ID_NUMBER})

    line = _internal_line(running, monkeypatch, no_such_column)
    assert "in no_such_column" in line and "[SQL: SELECT nope FROM members WHERE code = " in line, line
    if running.gateway.db.engine.dialect.name == "postgresql":
        assert (
            'sqlalchemy.exc.ProgrammingError: (psycopg.errors.UndefinedColumn) SQLSTATE 42703: column "nope" does not '
            "exist [SQL: " in line
        ), line
    else:
        assert "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) SQLITE_ERROR: no such column: nope" in line


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (ZZGW_TEST_DATABASE_URL)")
def test_postgresqls_data_exception_keeps_its_message_out(tmp_path: Path) -> None:
    """SQLSTATE class 22 quotes the value it could not take (``invalid input syntax for type integer: "…"``): its
    message is left out, as class 23's, while the statement is said."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DataError

    engine = create_engine(PG_URL, hide_parameters=True)
    try:
        with pytest.raises(DataError) as caught, engine.connect() as connection:
            connection.execute(text("SELECT CAST(:code AS integer)"), {"code": ID_NUMBER + "A"})
    finally:
        engine.dispose()
    assert ID_NUMBER in str(caught.value)  # what the message says
    stream = io.StringIO()
    logger = logging.getLogger("zzgw.test.data_exception")
    logger.addHandler(log_handler(stream))
    logger.propagate = False
    logger.error("failed", exc_info=caught.value)
    logged = stream.getvalue()
    assert ID_NUMBER not in logged and "invalid input syntax" not in logged, logged
    driver = caught.value.orig
    assert driver is not None and driver.sqlstate.startswith("22")  # type: ignore[attr-defined]
    assert (
        f"sqlalchemy.exc.DataError: (psycopg.errors.{type(driver).__name__}) SQLSTATE {driver.sqlstate} (the "  # type: ignore[attr-defined]
        "database's message left out: it may quote values) [SQL: SELECT CAST(%(code)s AS integer)]" in logged
    ), logged


def test_a_connection_the_driver_could_not_make_is_said_by_its_words() -> None:
    """psycopg's error of a connection it could not make has no SQLSTATE: its words (the host, the port, refused)
    are said, as an operator needs them; they had been cut to the class alone (a review of the fixes, R4)."""
    import psycopg

    with socket.socket() as unused:  # a port with nothing listening
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=test connect_timeout=5")
    stream = io.StringIO()
    logger = logging.getLogger("zzgw.test.connection")
    logger.addHandler(log_handler(stream))
    logger.propagate = False
    logger.error("the store is out of reach: %s", caught.value)
    logger.error("failed", exc_info=caught.value)
    said = f'connection failed: connection to server at "127.0.0.1", port {port} failed: Connection refused'
    assert f"the store is out of reach: {said}" in stream.getvalue(), stream.getvalue()
    assert f"psycopg.OperationalError: {said}" in stream.getvalue(), stream.getvalue()


class _Grouping(Exception):
    exceptions = None  # as a library's exception may name an attribute, not a group's members


def test_the_filter_never_raises_out_of_the_logging_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter that raises takes the caller's ``log.error`` with it (``Handler.handle`` does not guard filters), and
    the INTERNAL answer after it: an ``exceptions`` attribute that is None, a chain deeper than Python's recursion
    limit, a failure of the cutting itself are logged, a database error's message still left out."""
    import sqlite3

    from gateway import logs

    stream = io.StringIO()
    logger = logging.getLogger("zzgw.test.filter")
    logger.addHandler(log_handler(stream))
    logger.propagate = False
    quoting = sqlite3.IntegrityError(f"UNIQUE constraint failed: members.code ({ID_NUMBER})")  # as if it quoted

    odd = _Grouping("odd")
    odd.__cause__ = quoting
    logger.error("odd", exc_info=odd)
    assert f"{_Grouping.__module__}._Grouping: odd" in stream.getvalue(), stream.getvalue()

    deep: BaseException = quoting
    for n in range(3 * sys.getrecursionlimit()):
        outer = RuntimeError(f"step {n}")
        outer.__cause__ = deep
        deep = outer
    logger.error("deep", exc_info=deep)
    logger.error("deep as an argument: %s", deep)

    def failing(*args: object) -> str:
        raise RuntimeError("cutting failed")

    monkeypatch.setattr(logs, "exception_text", failing)
    logger.error("failing", exc_info=odd)
    logged = stream.getvalue()
    assert ID_NUMBER not in logged
    assert "sqlite3.IntegrityError: (the database's message left out: it may quote values)" in logged
    assert "RuntimeError: step 0" in logged and "deep as an argument: step" in logged
    assert (
        f"failing\\n{_Grouping.__module__}._Grouping (its traceback left out: leaving the database's message out of it "
        "failed, RuntimeError)" in logged
    ), logged[-500:]


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (ZZGW_TEST_DATABASE_URL)")
def test_a_pending_rollback_is_said_without_the_error_it_quotes() -> None:
    """SQLAlchemy's PendingRollbackError quotes the flush's error whole, PostgreSQL's DETAIL with the key's value in
    it: said by its class alone."""
    from sqlalchemy import Column, String, create_engine
    from sqlalchemy.exc import IntegrityError, PendingRollbackError
    from sqlalchemy.orm import Session, declarative_base

    base = declarative_base()

    class Held(base):  # type: ignore[misc, valid-type]
        __tablename__ = "zzgw_held"
        __table_args__ = {"prefixes": ["TEMPORARY"]}  # noqa: RUF012 - SQLAlchemy's declarative attribute
        code = Column(String(18), primary_key=True)

    engine = create_engine(PG_URL, hide_parameters=True)
    try:
        with engine.connect() as connection:
            base.metadata.create_all(connection)
            session = Session(bind=connection)
            session.add(Held(code=ID_NUMBER))
            session.flush()
            session.add(Held(code=ID_NUMBER))
            with pytest.raises(IntegrityError):
                session.flush()
            with pytest.raises(PendingRollbackError) as caught:
                session.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert ID_NUMBER in str(caught.value)
    stream = io.StringIO()
    logger = logging.getLogger("zzgw.test.pending")
    logger.addHandler(log_handler(stream))
    logger.propagate = False
    logger.error("failed", exc_info=caught.value)
    assert ID_NUMBER not in stream.getvalue()
    assert (
        "sqlalchemy.exc.PendingRollbackError: (the message left out: it quotes an earlier database error, which may "
        "quote values)" in stream.getvalue()
    )
