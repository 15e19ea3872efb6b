"""A database error's message in the log: PostgreSQL's says ``DETAIL: Failing row contains (…)`` (or ``Key (col)=
(value) already exists``), a holder's row, and SQLAlchemy's ``hide_parameters`` hides only the bound parameters. An
INTERNAL error's traceback, and a command's, had carried it (a reviewer, R2): they keep their frames and say the
error by its class, SQLSTATE and the names of what it concerns."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import time
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
    def broken_get(*args: object, **kwargs: object) -> None:
        _bad_insert(running)

    monkeypatch.setattr(running.gateway.issuance, "get", broken_get)
    stream = io.StringIO()
    handler = log_handler(stream)  # configure_logging's handler, on the root logger
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
    assert ID_NUMBER not in logged and "Failing row" not in logged and "[SQL:" not in logged, line
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
        "zzgw_held_code_key (the database's message left out: it may quote values)"
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
