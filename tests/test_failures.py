"""What stops a command or a worker is said in one line when it is the store, a setting or a file; a defect keeps
its traceback (``gateway.failures``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import socket
import sqlite3
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from benchmarks.common import free_port
from gateway.failures import exit_status, said, store_unreachable, store_unusable
from tests.conftest import PG_URL


def _error(url: str, sql: str) -> DBAPIError:
    engine = create_engine(url)
    try:
        with pytest.raises(DBAPIError) as caught, engine.connect() as connection:
            connection.execute(text(sql))
        return caught.value
    finally:
        engine.dispose()


def test_a_statement_defect_on_sqlite_is_not_the_store_unusable(tmp_path: Path) -> None:
    """SQLite says "no such column" as an OperationalError, as it says a file it cannot open: the first is a
    defect, to be raised with its traceback, not "cannot use the database"."""
    defect = _error(f"sqlite:///{tmp_path}/a.db", "SELECT nothing FROM sqlite_master")
    assert not store_unusable(defect) and said(defect, "serve", None) is None


def test_a_file_that_is_no_database_is_unusable_and_not_waited_for(tmp_path: Path) -> None:
    (tmp_path / "b.db").write_bytes(b"this is not a database at all" * 100)
    garbage = _error(f"sqlite:///{tmp_path}/b.db", "SELECT 1 FROM sqlite_master")
    assert isinstance(garbage.orig, sqlite3.DatabaseError)
    assert store_unusable(garbage) and not store_unreachable(garbage)
    assert said(garbage, "serve", None) == "zzgw serve: cannot use the database: file is not a database"


def test_a_database_server_out_of_reach_is_waited_for() -> None:
    refused = _error(f"postgresql+psycopg://zzgw@127.0.0.1:{free_port()}/zzgw", "SELECT 1")
    assert store_unusable(refused) and store_unreachable(refused)
    assert not store_unreachable(ValueError("a defect")) and said(ValueError("a defect"), "serve", None) is None


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL to answer (ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432)")
def test_a_database_that_refuses_us_is_not_waited_for() -> None:
    """A wrong user or database (a password rotated, a setting mistyped) is refused again at every try: a worker
    that meets it stops the gateway rather than being started again for ever."""
    server = make_url(PG_URL)
    wrong = _error(str(server.set(username="zzgw_no_such_role", password=None, database="zzgw_no_such_db")), "SELECT 1")
    assert store_unusable(wrong) and not store_unreachable(wrong)


def test_a_read_only_store_names_the_directory_too(tmp_path: Path) -> None:
    """SQLite's "attempt to write a readonly database" when the file is writable and its directory is not (its WAL
    files are made beside it) sent an operator to the file (found by a crash tester)."""
    from gateway.config import Settings

    sqlite3.connect(tmp_path / "zzgw.db").execute("CREATE TABLE t (x)").connection.close()
    read_only = _error(f"sqlite:///file:{tmp_path / 'zzgw.db'}?mode=ro&uri=true", "INSERT INTO t VALUES (1)")
    settings = Settings(data_dir=tmp_path)  # type: ignore[arg-type]
    line = said(read_only, "serve", settings)
    assert line is not None and line.startswith("zzgw serve: cannot use sqlite:///")
    assert "attempt to write a readonly database (the gateway's user must be able to write" in line
    assert f"its directory, {tmp_path}, where SQLite keeps zzgw.db-wal" in line


def test_a_malformed_schema_names_a_wal_left_beside_a_restored_file(tmp_path: Path) -> None:
    """Another store's zzgw.db-wal left beside a file restored from a copy is read into it, and SQLite finds its
    schema malformed: that had been a traceback, exit 1, which the documented service unit starts again for ever (a
    disaster-recovery tester). It is the store unusable, said with the WAL to delete, and not waited for."""
    from gateway.config import Settings

    with sqlite3.connect(tmp_path / "zzgw.db") as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("PRAGMA writable_schema = ON")  # a schema listing one table twice, as pages mixed do
        connection.execute("INSERT INTO sqlite_master SELECT * FROM sqlite_master WHERE name = 't'")
    connection.close()
    malformed = _error(f"sqlite:///{tmp_path / 'zzgw.db'}", "SELECT 1 FROM t")
    assert "malformed database schema" in str(malformed.orig)
    assert store_unusable(malformed) and not store_unreachable(malformed)
    line = said(malformed, "serve", Settings(data_dir=tmp_path))  # type: ignore[arg-type]
    assert line is not None and line.startswith("zzgw serve: cannot use sqlite:///")
    assert (
        f"(if a store file was restored from a copy, a zzgw.db-wal left in {tmp_path} beside it is read into it" in line
    )


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL to answer (ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432)")
def test_a_statement_timeout_is_said_as_one_not_as_a_connection_lost() -> None:
    """A statement cancelled on its statement_timeout (a table locked by someone else) had been answered "the
    database connection was lost", and logged only as OperationalError: an operator looked in the wrong place (an
    operations tester). It is DATABASE_BUSY, said as a timeout; the log names the driver's error and its SQLSTATE."""
    from gateway.store.database import driver_error, store_unavailable

    timed_out = _error(PG_URL, "SET statement_timeout = '50ms'; SELECT pg_sleep(1)")
    answer = store_unavailable(timed_out)
    assert answer is not None and answer.reason == "DATABASE_BUSY"
    assert answer.message.startswith("数据库语句超时") and "connection was lost" not in answer.message
    assert driver_error(timed_out) == "QueryCanceled, SQLSTATE 57014"
    lost = _error(f"postgresql+psycopg://zzgw@127.0.0.1:{free_port()}/zzgw", "SELECT 1")
    assert store_unavailable(lost) is not None and store_unavailable(lost).reason == "DATABASE_UNAVAILABLE"  # type: ignore[union-attr]


@contextlib.contextmanager
def tls_postgres(
    host_name: str, configure: Callable[[ssl.SSLContext], object] = lambda _: None
) -> Iterator[tuple[int, Path]]:
    """A server on a free port that answers PostgreSQL's SSLRequest with yes and its TLS handshake with a
    certificate for ``host_name`` issued by a CA of its own (its TLS context as ``configure`` sets it: versions,
    ciphers); yields the port and the CA's certificate file (for ``sslrootcert``). It goes no further: what libpq
    says of the certificate is the test."""
    directory = Path(tempfile.mkdtemp(prefix="zzgw-tls-pg-"))
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test CA {directory.name}")])  # one of its own
    ca = (
        x509.CertificateBuilder(subject_name=ca_name, issuer_name=ca_name, public_key=key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder(
            subject_name=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)]),
            issuer_name=ca_name,
            public_key=key.public_key(),
        )
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    configure(context)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopped = threading.Event()

    def serve() -> None:
        while not stopped.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                with contextlib.suppress(OSError):  # ssl.SSLError too: a handshake it refuses
                    connection.recv(8)  # SSLRequest
                    connection.sendall(b"S")
                    with context.wrap_socket(connection, server_side=True) as tls:
                        tls.recv(1)  # until the client hangs up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], directory / "ca.pem"
    finally:
        stopped.set()
        thread.join(5)
        listener.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_a_tls_setting_the_server_refuses_is_a_setting_not_an_outage(tmp_path: Path) -> None:
    """``sslmode=require`` of a server without TLS, a certificate that does not verify, one for another host: every
    later try meets it again. They had been taken for an outage (exit 75), and the documented init unit tried again
    every 5 s for ever (a reviewer, R3)."""
    server = make_url(PG_URL)
    no_tls = _error(str(server.update_query_dict({"sslmode": "require"})), "SELECT 1")
    assert "does not support SSL" in str(no_tls.orig)
    with tls_postgres("db.example") as (port, ca):
        elsewhere = f"postgresql+psycopg://zzgw@127.0.0.1:{port}/zzgw"
        other_ca = tmp_path / "other-ca.pem"
        with tls_postgres("db.example") as (_, their_ca):
            shutil.copy(their_ca, other_ca)
        unverified = _error(f"{elsewhere}?sslmode=verify-ca&sslrootcert={other_ca}", "SELECT 1")
        assert "certificate verify failed" in str(unverified.orig)
        mismatched = _error(f"{elsewhere}?sslmode=verify-full&sslrootcert={ca}", "SELECT 1")
        assert "does not match host name" in str(mismatched.orig)
    for refused in (no_tls, unverified, mismatched):
        assert store_unusable(refused) and not store_unreachable(refused), refused.orig
        assert exit_status(refused) == 2
    # the server out of reach stays an outage, with TLS asked for too
    down = _error(f"postgresql+psycopg://zzgw@127.0.0.1:{free_port()}/zzgw?sslmode=verify-full", "SELECT 1")
    assert store_unreachable(down) and exit_status(down) == 75


@contextlib.contextmanager
def tls_1_1_postgres() -> Iterator[int]:
    """A server on a free port that answers PostgreSQL's SSLRequest with yes and any TLS ClientHello with a
    ServerHello of TLS 1.1, whatever the client offered (as one too old to read the offer does); yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, contextlib.suppress(OSError):
            connection.settimeout(5)
            connection.recv(8)  # SSLRequest
            connection.sendall(b"S")
            connection.recv(4096)  # ClientHello
            hello = b"\x03\x02" + bytes(32) + b"\x00" + b"\xc0\x13" + b"\x00"  # TLS 1.1, a random, a cipher
            handshake = b"\x02" + len(hello).to_bytes(3, "big") + hello
            connection.sendall(b"\x16\x03\x02" + len(handshake).to_bytes(2, "big") + handshake)
            connection.recv(1)  # until the client hangs up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(5)


def test_a_tls_version_or_cipher_the_server_and_the_url_do_not_share_is_a_setting_not_an_outage() -> None:
    """``ssl_min_protocol_version`` / ``ssl_max_protocol_version`` that the server's TLS versions miss, a range of
    the URL that libpq's OpenSSL will not speak (TLS 1.0-1.1), a server answering in a version outside the URL's
    range, and a server with no cipher the client has: every later try meets it again. They had been taken for an
    outage (exit 75), and the documented init unit tried again every 5 s for ever (a reviewer, R2)."""

    def tls_1_3_only(context: ssl.SSLContext) -> None:
        context.minimum_version = ssl.TLSVersion.TLSv1_3

    def tls_1_2_at_most(context: ssl.SSLContext) -> None:
        context.maximum_version = ssl.TLSVersion.TLSv1_2

    def no_shared_cipher(context: ssl.SSLContext) -> None:
        tls_1_2_at_most(context)
        context.set_ciphers("AES128-SHA")  # RSA key exchange, with an EC key: none the server can use

    refused: dict[str, DBAPIError] = {}
    with tls_postgres("db.example", tls_1_3_only) as (port, _):
        url = f"postgresql+psycopg://zzgw@127.0.0.1:{port}/zzgw?sslmode=require"
        refused["alert protocol version"] = _error(f"{url}&ssl_max_protocol_version=TLSv1.2", "SELECT 1")
        refused["no protocols available"] = _error(
            f"{url}&ssl_min_protocol_version=TLSv1&ssl_max_protocol_version=TLSv1.1", "SELECT 1"
        )
    with tls_postgres("db.example", tls_1_2_at_most) as (port, _):
        url = f"postgresql+psycopg://zzgw@127.0.0.1:{port}/zzgw?sslmode=require&ssl_min_protocol_version=TLSv1.3"
        refused["alert protocol version (min)"] = _error(url, "SELECT 1")
    with tls_postgres("db.example", no_shared_cipher) as (port, _):
        refused["alert handshake failure"] = _error(
            f"postgresql+psycopg://zzgw@127.0.0.1:{port}/zzgw?sslmode=require", "SELECT 1"
        )
    with tls_1_1_postgres() as port:
        refused["unsupported protocol"] = _error(
            f"postgresql+psycopg://zzgw@127.0.0.1:{port}/zzgw?sslmode=require", "SELECT 1"
        )
    for words, refusal in refused.items():
        assert words.removesuffix(" (min)") in str(refusal.orig), refusal.orig
        assert store_unusable(refusal) and not store_unreachable(refusal), refusal.orig
        assert exit_status(refusal) == 2, refusal.orig
    # a server that goes away in the handshake (stopping, restarting) stays an outage
    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up() -> None:
        connection, _ = listener.accept()
        with connection, contextlib.suppress(OSError):
            connection.recv(8)
            connection.sendall(b"S")
            connection.recv(4096)  # the ClientHello, left unanswered

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        gone = _error(f"postgresql+psycopg://zzgw@127.0.0.1:{port}/zzgw?sslmode=require", "SELECT 1")
    finally:
        listener.close()
        thread.join(5)
    assert store_unreachable(gone) and exit_status(gone) == 75, gone.orig
