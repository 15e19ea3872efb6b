"""Engine set-up and the unit of work.

>>> db = Database.connect("sqlite:///var/zzgw.db")   # doctest: +SKIP
>>> with db.unit_of_work(write=True) as uow:           # doctest: +SKIP
...     uow.licenses.get(license_id)
...     uow.commit()

One unit of work per request: a Session opened at the start of a service call and closed at its end, never shared
between threads. SQLite runs in WAL mode with a busy timeout and ``synchronous`` as ``ZZGW_SQLITE_SYNCHRONOUS`` says
(``SQLITE_SYNCHRONOUS``). Write units of work on SQLite begin with ``BEGIN IMMEDIATE`` so two processes never deadlock
upgrading a read lock; on PostgreSQL, writers that append change events take one advisory lock so events commit in
``seq`` order and a watcher reading ``seq > cursor`` never skips one that commits late.

A SQLite store is the file this process opened (``StoreFile``): no connection ever creates one (``zzgw init`` makes it,
``Database.connect``), and no transaction commits once the file at the path is another or none (``StoreGone``). A
PostgreSQL store is the database this process opened (``StoreDatabase``): each new connection must reach that one, not
one dropped and made again or restored under the same name (``DatabaseReplaced``).
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import functools
import logging
import os
import re
import socket
import sqlite3
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import Any, NoReturn, Protocol

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from gateway.domain.audit import AccessRecord, Checkpoint, HeadMemo
from gateway.domain.errors import UpstreamUnavailableError
from gateway.domain.model import License
from gateway.store.repositories import (
    AccessRequestRepository,
    AuditRepository,
    ConsentRepository,
    ConsoleClerkRepository,
    DocumentRepository,
    FactRepository,
    HolderLicenseRepository,
    LicenseRepository,
    MemberRepository,
    ReceiptCertificateRepository,
    ReceiptRepository,
    SealRepository,
    StoredReceipt,
    WrongClaimRepository,
    add_access_records,
    add_checkpoint,
    add_receipts,
    audit_blob,
    audit_break_at,
    audit_first_after,
    audit_heads,
    audit_newest_before,
    audit_witnessed,
    note_audit_witness,
    read_license,
    read_license_by_number,
    set_head_memo,
)
from gateway.threads import HTTP_WORK_THREADS
from signing.errors import causes

log = logging.getLogger("zzgw.store")

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_SECONDS = 30.0
"""How long a schema change waits for a lock another session holds before `zzgw init` says who holds it."""


class SchemaMoved(Exception):
    """The store's schema revision in the migrations' transaction is not the one the caller found before it (and
    checked, and decided the upgrade's steps from): another process changed it in between. Nothing was changed."""

    def __init__(self, expected: str | None, found: str | None):
        super().__init__(f"it was at {expected or 'none'}, and at {found or 'none'} as the schema change began")
        self.expected = expected
        self.found = found


class LockHeld(Exception):
    """A schema change waited ``MIGRATION_LOCK_SECONDS`` for a lock other sessions hold (``holders``)."""

    def __init__(self, holders: list[str], waited: float):
        super().__init__(", ".join(holders) or "a session that has ended since")
        self.holders = holders
        self.waited = waited


@functools.cache
def schema_revisions() -> tuple[str, ...]:
    """The schema revisions this code knows, oldest first: the last is the one it needs, the one head of a linear
    history (the migrations never branch). Read from the migration files' ``revision`` and ``down_revision`` lines,
    not through Alembic, which every worker's start then imported only for this (Alembic, Mako and Pygments: ~0.1 s
    of CPU of the ~1.4 s, on the way of each replacement worker); Alembic itself is imported by what migrates
    (``Database.migrate``). ``tests/test_migrations.py`` holds this list to Alembic's."""
    before: dict[str | None, str] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        if path.name.startswith("_"):
            continue
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        revision, down = ast.literal_eval(found["revision"]), ast.literal_eval(found["down_revision"])
        assert isinstance(revision, str) and (down is None or isinstance(down, str)), (path, revision, down)
        assert down not in before, f"{path.name}: a second revision after {down}: a branch"
        before[down] = revision
    known = [before.pop(None)]
    while known[-1] in before:
        known.append(before.pop(known[-1]))
    assert not before, f"revisions not in the history from the first: {sorted(before.values())}"
    return tuple(known)


_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)
"""A migration file's ``revision = "0044"`` or ``down_revision = "0043"`` line (a type annotation allowed)."""


def application_name() -> str:
    """What this process's PostgreSQL connections are called: ``zzgw/SCHEMA/HOST/PID``, the schema it needs, its
    host's name (cut to fit PostgreSQL's 63 bytes) and its pid."""
    host = socket.gethostname().encode("ascii", "replace").decode()[:32]
    return f"zzgw/{schema_revisions()[-1]}/{host}/{os.getpid()}"


CONNECT_TIMEOUT_SECONDS = 5
"""PostgreSQL: seconds a new connection of a process's pool may take to come up (libpq's ``connect_timeout``), as
the change listener's: past them it fails, as a server down does. Without it psycopg waited 130 s for a connection
that a pooler or balancer whose backend was gone had accepted and never answered: the health check stuck in it
kept the process DATABASE_NOT_ANSWERING that long after the database was back, a replacement worker hung in its
start, and ``zzgw serve`` did not exit 75 (a reviewer, R1)."""
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}
"""PostgreSQL: TCP keepalives and a user timeout on every connection, as the change listener's: a connection whose
peer is gone (its host cut off, a network that drops packets) fails within about 15-25 s rather than the kernel's
two hours."""


def connection_timeouts(query: Mapping[str, object]) -> dict[str, object]:
    """The connection options of ``CONNECT_TIMEOUT_SECONDS`` and ``KEEPALIVES``, but those the operator sets: in the
    database URL's query (``?connect_timeout=10``), libpq's ``PGCONNECT_TIMEOUT``, or, for the keepalives, a service
    file (``?service=zzgw``), which an option given here would override (a review: all had been overridden). psycopg
    enforces the connect timeout itself and reads it from the URL and PGCONNECT_TIMEOUT only, never from a service
    file: with none there it waits 130 s, so the gateway's 5 s stand (a review of that change, R1)."""
    wanted: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if os.environ.get("PGCONNECT_TIMEOUT"):
        del wanted["connect_timeout"]
    if not ("service" in query or os.environ.get("PGSERVICE")):
        wanted.update(KEEPALIVES)
    return {name: value for name, value in wanted.items() if name not in query}


_EVENT_LOCK_ID = 0x7A7A6777  # "zzgw"
_AUDIT_LOCK_ID = 0x7A7A6761  # "zzga"
_SPARE_SESSIONS = 4
"""Beyond ``pool_size`` sessions (one per gRPC handler thread) and one per HTTP work thread (``HTTP_WORK_THREADS``),
the pool lends these to the process's own threads (the health check, the change feed, the pruning)."""
_GROUP_WRITERS = 2
"""The group writers' appenders (``Appender``, each a kept connection): the receipts' and the shared records'."""
POOL_TIMEOUT_SECONDS = 30.0
"""How long a unit of work waits for a session of the pool, every one lent, before ``sqlalchemy.exc.TimeoutError``
(UNAVAILABLE / DATABASE_BUSY, ``store_unavailable``)."""


def most_connections(pool_size: int) -> int:
    """The most PostgreSQL connections one process with a pool of ``pool_size`` opens (docs/operations.md's sizing
    rule, 2 × ZZGW_THREADS + 23): the pool's sessions (``pool_size``, one per HTTP work thread, ``_SPARE_SESSIONS``),
    a kept reader per thread that reads licenses (the gRPC handler threads and the HTTP work threads), the group
    writers' appenders, and the change listener's own (``gateway.store.changes``). The kept ones are not the pool's
    (``Database.kept_engine``): the HTTP work threads' readers, counted nowhere, had taken the sessions' place in it,
    and a gateway of ZZGW_THREADS=4 waited for a session for ever (a reviewer, R1)."""
    sessions = pool_size + HTTP_WORK_THREADS + _SPARE_SESSIONS
    kept = pool_size + HTTP_WORK_THREADS + _GROUP_WRITERS
    return sessions + kept + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionSlots:
    """A PostgreSQL server's connections as this process's role sees them (``Database.connection_slots``)."""

    max_connections: int
    reserved: int
    """Of ``max_connections``, those the role may not take: ``superuser_reserved_connections`` (and PostgreSQL 16's
    ``reserved_connections``) unless it is a superuser."""
    open_by_others: int
    """Client connections open now, to any database under any role, but this process's own."""
    open_by_gateways: int
    """Of ``open_by_others``, those of other gateway processes (``zzgw/…``)."""
    gateways: int
    """Those other gateway processes (``application_name``), of this store or another."""

    @property
    def left(self) -> int:
        """The connections the role may still open."""
        return max(0, self.max_connections - self.reserved - self.open_by_others)


def connection_lost(error: BaseException) -> bool:
    """Whether ``error`` is PostgreSQL's connection failing under a statement (a restarted server, a terminated
    backend, the network), or any other operational error of PostgreSQL's that fails the transaction as a whole (a
    deadlock, a serialization failure, a statement timeout): a read or a transaction is worth once more on another
    connection, and a client told UNAVAILABLE may retry. Nothing of the transaction committed, except when the
    connection was lost at the commit itself: its writer must make a second try safe (a request id, the group
    commit's lookup)."""
    import psycopg  # here and below, not at the top: a process on SQLite never loads PostgreSQL's driver (~0.1 s of
    # its start), and only a failure asks whether it is one of the driver's errors

    return any(
        isinstance(cause, psycopg.OperationalError)
        or (isinstance(cause, DBAPIError) and cause.connection_invalidated and not refuses_writes(cause))
        for cause in causes(error, 4)
    )


def connection_refused(error: BaseException) -> bool:
    """Whether ``error`` is a PostgreSQL connection that could not be opened, no connection existing yet, for
    whatever cause: the server refusing it (a connection limit reached, 53300; starting or shutting down, 57P03;
    the role refused login, 28000; CONNECT revoked, 42501; the role or database gone, 3D000/28000; a password
    changed, 28P01), or down, or not answering within the connect timeout, or its host name not resolving. Told by
    psycopg's error of a connection attempt, which carries the attempt's ``pgconn`` (libpq hands the client no
    SQLSTATE at connect, only the server's words, in the server's language: the causes cannot be told apart
    reliably, so none is claimed), or is its ``ConnectionTimeout``, or its failure to resolve the host name (psycopg
    resolves it itself, before any attempt: no ``pgconn``). Every ``psycopg.OperationalError`` had been answered "the
    database connection was lost" (a reviewer, R2); then every one of an attempt "too many connections, or down",
    also for a role refused login or CONNECT revoked, and a host name that stopped resolving still "lost" (a
    reviewer, R1). Still a ``connection_lost`` for the retries."""
    import psycopg

    return any(
        isinstance(cause, psycopg.OperationalError)
        and (
            cause.pgconn is not None
            or isinstance(cause, psycopg.errors.ConnectionTimeout)
            or str(cause).startswith(_UNRESOLVED)
        )
        for cause in causes(error, 4)
    )


_UNRESOLVED = "failed to resolve host "
"""How psycopg's error of a host name it could not resolve at connect begins (``conninfo_attempts``; its own words,
not the server's, in no other language)."""


def insufficient_privilege(error: BaseException | None) -> bool:
    """Whether ``error`` is PostgreSQL's insufficient_privilege (psycopg's ``errors.InsufficientPrivilege``), told by
    its SQLSTATE, without loading psycopg in a process on SQLite, whose new store's first read of its schema fails."""
    return getattr(error, "sqlstate", None) == "42501"


def takes_no_writes(error: BaseException) -> bool:
    """Whether ``error`` is PostgreSQL refusing a write in a read-only transaction (read_only_sql_transaction,
    SQLSTATE 25006): a database set ``default_transaction_read_only``, or a standby the URL reaches after a failover.
    Nothing was written; it had been answered INTERNAL, with a traceback (a reviewer, R2)."""
    return any(getattr(cause, "sqlstate", None) == "25006" for cause in causes(error, 4))


_TIMED_OUT = ("57014", "55P03")
"""PostgreSQL's query_canceled (a statement_timeout) and lock_not_available (a lock_timeout)."""


def timed_out(error: BaseException) -> bool:
    """Whether ``error`` is a PostgreSQL statement cancelled on its timeout or a lock wait (``_TIMED_OUT``): the
    connection is sound, and told "the connection was lost" an operator had looked in the wrong place (found by an
    operations tester)."""
    return any(getattr(cause, "sqlstate", None) in _TIMED_OUT for cause in causes(error, 4))


def driver_error(error: BaseException) -> str:
    """The database driver's error under ``error`` as a log may name it: its class and SQLSTATE (never its message,
    which may quote values), or ``error``'s own class when there is none."""
    import psycopg

    for cause in causes(error, 4):
        if isinstance(cause, psycopg.Error | sqlite3.Error):
            state = getattr(cause, "sqlstate", None)
            return type(cause).__name__ + (f", SQLSTATE {state}" if state else "")
    return type(error).__name__


BUSY_TIMEOUT_MS = 30_000
"""SQLite: how long a statement waits for another connection's write lock before ``database is locked``."""


SQLITE_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}
"""``ZZGW_SQLITE_SYNCHRONOUS``: SQLite's ``PRAGMA synchronous`` in WAL mode. ``full`` syncs the WAL at every commit, so
a transaction answered OK survives a power loss or an OS crash; ``normal`` (the default) syncs only at checkpoints: a
commit survives the process's crash, but a power loss or OS crash may roll back the last transactions answered OK
(receipts, access records, licenses), as PostgreSQL's ``synchronous_commit=off`` would. ``full`` cost warm
VerifyLicense up to a quarter of its throughput (a sync per group commit, ~0.3 ms on the benchmark machine's disk):
see docs/operations.md."""


class StoreForbidden(Exception):
    """The database role may not read or change the gateway's tables (PostgreSQL's ``InsufficientPrivilege``)."""


class RevisionMissing(Exception):
    """The database has the gateway's tables but no schema revision (``alembic_version`` missing or empty: a restore
    that left it out, a hand edit): no new store to make, and no known schema to upgrade. Taken for "no schema", it
    had sent the operator to `zzgw init`, which failed creating tables that were there, with a traceback (R3)."""

    def __init__(self, tables: Sequence[str]):
        super().__init__(", ".join(tables))
        self.tables = tuple(tables)


class RevisionElsewhere(Exception):
    """On PostgreSQL: the ``alembic_version`` the search_path shows is in another schema (``found``) than the one the
    gateway's tables go to (``schema``, ``current_schema()``), which has no gateway store: another application's.
    Read as the gateway's revision, a numbered one (0003) had sent a new deployment's `zzgw init` into a traceback,
    exit 1, and another had been said as "a newer zzgw upgraded it" (a reviewer, R1)."""

    def __init__(self, *, found: str, schema: str, role: str):
        super().__init__(f"alembic_version in schema {found}, not in {schema}")
        self.found, self.schema, self.role = found, schema, role


def _no_such_table(error: BaseException | None) -> bool:
    """Whether ``error`` says the table read is not there (PostgreSQL's undefined_table, SQLSTATE 42P01; SQLite's
    "no such table"), and nothing else: only that may mean a database without the schema."""
    if isinstance(error, sqlite3.Error):
        return str(error).startswith("no such table")
    return getattr(error, "sqlstate", None) == "42P01"


DISTINCTIVE_TABLES = frozenset(
    {
        "license_events",
        "license_documents",
        "audit_head",
        "gateway_facts",
        "receipt_certificates",
        "console_clerks",
        "access_record_subjects",
        "wrong_claims",
        "store_edits",
    }
)
"""The gateway's tables whose names another application's tables are unlikely to have (``members``, ``licenses``,
``seals``, ``receipts``, ``consents`` are common names)."""


def recognisably_the_gateways(tables: Sequence[str]) -> bool:
    """Whether ``tables`` (of the gateway's names, in the schema its store goes to) are a gateway store's: two of its
    distinctive tables, or ``license_events`` with two more of its tables (a store at schema 0001 has
    license_events, licenses and members). A table or two of common names is another application's: taken for the
    gateway's, a new deployment's first `zzgw init` on a shared database had been refused (a reviewer, R1)."""
    found = set(tables)
    return len(found & DISTINCTIVE_TABLES) >= 2 or ("license_events" in found and len(found) >= 3)


def store_schema(connection: Connection) -> str | None:
    """The schema the gateway's tables are made in and read from: on PostgreSQL ``current_schema()`` (the first
    schema of the ``search_path`` that exists, where the migrations create them), None when there is none; SQLite's
    ``main``."""
    if connection.dialect.name != "postgresql":
        return "main"
    return connection.execute(text("SELECT current_schema()")).scalar()


def _gateway_tables(connection: Connection) -> list[str]:
    """The tables of the gateway's names (``models``) in the schema its store goes to (``store_schema``): not those of
    another schema the ``search_path`` shows, such as another application's in ``public`` beside the gateway's
    role's own schema (a reviewer, R1)."""
    from sqlalchemy import inspect

    from gateway.store.models import Base

    if (schema := store_schema(connection)) is None:
        return []
    return sorted(set(inspect(connection).get_table_names(schema=schema)) & set(Base.metadata.tables))


@dataclass(frozen=True, slots=True, kw_only=True)
class TablesInTheWay:
    """Tables of the gateway's names, not a gateway store's, where its tables go (``Database.tables_in_the_way``)."""

    role: str
    """The role the gateway's sessions run as (``current_user``); empty on SQLite."""
    schema: str
    """The schema its tables go to (``store_schema``)."""
    tables: tuple[str, ...]
    own_schema_would_do: bool = False
    """Whether ``CREATE SCHEMA ROLE AUTHORIZATION ROLE`` would give the gateway a schema of its own: there is no
    schema of the role's name yet, and the search_path names ``"$user"`` first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CreationRefused:
    """Why the database role may not create the gateway's tables (``Database.creation_refused``)."""

    role: str
    """The role the gateway's sessions run as (``current_user``)."""
    database: str
    """The database's name."""
    schema: str
    """The schema it would create them in (the first of its ``search_path`` that exists), or empty: none exists."""


class StoreDamaged(Exception):
    """SQLite's ``PRAGMA quick_check`` finds the store file damaged (``check_intact``): most often a file restored from
    a copy beside a ``zzgw.db-wal`` of another state, which SQLite replays into it. Such a store had been initialised
    and served as ready, answered INTERNAL from its ~100th call, and its audit trail read as TRUNCATED (an upgrade
    tester)."""

    def __init__(self, path: str, found: str):
        super().__init__(
            f"the store file {path} is damaged ({found}): restore it again from the backup, deleting zzgw.db-wal and "
            "zzgw.db-shm beside it first (docs/operations.md, Restoring)"
        )
        self.path = path


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite store's ``url``; None for PostgreSQL and SQLite in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return os.path.abspath(parsed.database)


def wal_left_beside(url: str) -> bool:
    """Whether a SQLite store's file has a write-ahead log with frames beside it (``zzgw.db-wal`` longer than its
    32-byte header): a crash's, or one a restore left beside another copy. A store stopped cleanly has none."""
    file = sqlite_file(url)
    try:  # beside the file a symbolic link leads to, where SQLite makes it
        return file is not None and os.path.getsize(f"{os.path.realpath(file)}-wal") > 32
    except OSError:
        return False


def check_intact(url: str) -> None:
    """``StoreDamaged`` unless SQLite's ``PRAGMA quick_check`` finds a SQLite store's file (and the WAL beside it, which
    it reads as part of it) sound; nothing for PostgreSQL. On a connection of its own, read-only: the WAL is not
    checkpointed into the file when it closes, so a run again finds the same damage, not a file made worse.

    It reads the whole file: 0.05 s for 53 MB cached, 46 s for 2 GB not cached (measured 2026-12-05, a shared VM's
    disk), too slow for every start of `zzgw serve`; `zzgw init` runs it when a WAL is left beside the file
    (``wal_left_beside``), `zzgw audit verify` when the chain does not check."""
    file = sqlite_file(url)
    if file is None or not os.path.exists(file):
        return
    # a file (or its WAL) the user may not read is said as every command says it, `cannot open PATH: Permission
    # denied` (exit 2): SQLite's connection had been a traceback of SQLITE_CANTOPEN, exit 1, when a WAL lay beside
    # the file, which is whenever a gateway serves it (a reviewer, clirev R3)
    for path in (file, f"{file}-wal"):
        with contextlib.suppress(FileNotFoundError), open(path, "rb"):
            pass
    found = ""
    try:
        connection = sqlite3.connect(f"file:{urllib.parse.quote(file)}?mode=ro", uri=True)
    except sqlite3.OperationalError as exc:  # the files read, SQLite's -shm or the directory not: as unreadable
        raise _cannot_open(file, exc) from exc
    with contextlib.closing(connection):
        try:
            rows = connection.execute("PRAGMA quick_check").fetchall()
        except sqlite3.OperationalError as exc:
            if not str(exc).lower().startswith("unable to open"):
                found = str(exc)
            else:
                raise _cannot_open(file, exc) from exc
        except sqlite3.DatabaseError as exc:  # damaged past reading the schema: "database disk image is malformed"
            found = str(exc)
        else:
            lines = [line for row in rows for line in str(row[0]).splitlines()]  # a row may hold several
            said = [line for line in lines if not line.startswith("*** in database")]
            if said != ["ok"]:
                found = "; ".join(said[:2])[:300] + (f"; {len(said) - 2} more" if len(said) > 2 else "")
    if found:
        raise StoreDamaged(file, found)


def _cannot_open(file: str, exc: sqlite3.Error) -> OSError:
    """``check_intact``'s file that SQLite cannot open though it may be read, as an OSError naming it (said as
    `cannot open PATH: …`, exit 2): SQLite reading a store with a WAL beside it needs its -shm file, which this user
    may have to write, or make in the file's directory."""
    return OSError(
        errno.EACCES,
        f"{exc} (SQLite needs to read it and its -wal, and to write its -shm or make it in {os.path.dirname(file)})",
        file,
    )


class NoRoomToMigrate(Exception):
    """A schema change that met a full disk (``disk_full``, under Alembic's own cleanup of a batch migration, whose
    "no such table: _alembic_tmp_…" had been the last line of a traceback of 100, exit 1: an upgrade tester). The
    migrations run in one transaction and DDL is transactional on SQLite and PostgreSQL: it rolled back, which
    ``revision`` (read again after it) shows. `zzgw init` exits 75: run it again once space is freed."""

    def __init__(self, where: str, before: str | None, revision: str | None, needs: str):
        if revision == before:
            state = (
                f"nothing was changed, the store is still at schema {revision}"
                if revision
                else "nothing was made, the database has no schema yet"
            )
        else:
            state = f"the store is at schema {revision or 'none'}, it was at {before or 'none'}"
        super().__init__(
            f"the disk is full ({where or 'under the store'}): the schema change rolled back, {state}; free space"
            f"{needs} and run `zzgw init` again (docs/operations.md: Upgrades)"
        )
        self.revision = revision


class StoreGone(Exception):
    """The SQLite file at the store's path is no longer the one this process opened: deleted, moved away, replaced
    (a backup moved over it), or its volume gone. A transaction committed now would go to a file nobody will open
    again (a deleted one) or mix two stores, so none is: writes are refused until the same file is back, and a store
    restored from a backup needs the gateway restarted. ``DatabaseReplaced`` is PostgreSQL's."""

    def __init__(self, path: str, detail: str, *, said: str = ""):
        super().__init__(said or f"the store file at {path} is no longer the one this process opened ({detail})")
        self.path = path


class StoreUnwritable(Exception):
    """The SQLite file at the store's path is there, and the one expected, but cannot be opened for writing: its
    file system read-only (EROFS: remounted read-only after a file system error, or mounted so by the deployment, a
    ``:ro`` volume, systemd's ``ReadOnlyPaths=`` or ``ProtectSystem=strict``) or the file not permitted writes (EPERM:
    immutable, ``chattr +i``, or append-only, ``chattr +a``, which SQLite cannot write either). Said by what
    ``open(2)`` tells, no more: it had called an append-only file "immutable" (a reviewer, R2). Not told from a
    deployment's own read-only mount, which no waiting ends, but taken as a volume to mend, the common case: a command
    or worker that meets it exits ``EXIT_STORE_UNAVAILABLE`` (75), to be started again, as the running workers
    recover by themselves once it takes writes; a deployment's read-only mount is then started again for ever, each
    time with this line (docs/operations.md, A SQLite file that takes no writes). It had been said as any file that
    cannot be opened, "cannot open …: Operation not permitted", exit 2: a replacement worker then stopped the whole
    gateway, which the documented unit (``RestartPreventExitStatus=2``) never started again once the volume was
    mended (a reviewer, R1). A file its permissions refuse (EACCES) stays a setting to fix, exit 2."""

    def __init__(self, path: str, refused: int):
        why = _UNWRITABLE_WHY.get(refused, "")
        super().__init__(f"the store file at {path} takes no writes now ({os.strerror(refused)}{why})")
        self.path = path


_UNWRITABLE_WHY = {
    errno.EROFS: ": its file system is mounted read-only, after an error or by the deployment (a read-only volume)",
    errno.EPERM: ": the file is immutable or append-only, chattr +i or +a (lsattr shows which)",
}
"""What each of ``UNWRITABLE_FOR_NOW`` says of the file (``StoreUnwritable``)."""


UNWRITABLE_FOR_NOW = frozenset({errno.EROFS, errno.EPERM})
"""What ``open(2)`` for writing says of a file that takes no writes for now (``StoreUnwritable``)."""


@dataclass(frozen=True)
class DatabaseIdentity:
    """Which PostgreSQL database a process opened: its ``pg_database.oid`` (a database dropped and made again, as a
    restore with ``createdb`` and ``pg_restore`` does, has a new one) and its cluster's ``system_identifier``
    (``pg_control_system()``; None when the role may not run it), which tells a new cluster whose database took the
    same oid. A cluster's standby promoted in a failover keeps both: it is the same store."""

    oid: int
    system: int | None = None

    def same(self, other: DatabaseIdentity) -> bool:
        return self.oid == other.oid and (self.system is None or other.system is None or self.system == other.system)

    def __str__(self) -> str:
        return f"oid {self.oid}" + (f" in cluster {self.system}" if self.system is not None else "")


class DatabaseReplaced(StoreGone):
    """The PostgreSQL database of the store's name is no longer the one this process opened: dropped and made
    again, or restored, under the running process. What the process keeps in memory (the audit chain's head, caches)
    belongs to the other: nothing is written to this one, and every gateway process must be restarted."""

    def __init__(self, label: str, opened: DatabaseIdentity, now: DatabaseIdentity):
        super().__init__(
            label,
            "",
            said=f"the database {label} is no longer the one this process opened ({opened}, now {now}): it was "
            "replaced under the running process (restored, or dropped and made again)",
        )
        self.opened = opened
        self.now = now


class StoreTimeout(TimeoutError):
    """A write waited past its time for the store: another writer (a DBA's open transaction on a SQLite file, a
    long migration) holds it."""


OPENED_AT = "zzgw_opened_at"
"""A PostgreSQL connection's ``info`` key: ``time.monotonic()`` as it was opened (``StoreDatabase.renewed``)."""

OPENED_READ_ONLY = "zzgw_opened_read_only"
"""A SQLite connection's ``info`` key: set when the store file took no writes as it was opened. SQLite had opened it
read-only then (even with ``mode=rw``), and it stays read-only: it is replaced once the file takes writes again
(``Database.read_only_for_nothing``)."""

_SQLITE_IOERR, _SQLITE_READONLY = 10, 8
"""SQLite's primary result codes (the low byte of an extended one: SQLITE_IOERR_WRITE is 778) of a store file that
takes no writes."""


def store_unwritable(error: BaseException) -> bool:
    """Whether ``error`` is a SQLite store file that cannot be written now: ``disk I/O error`` (SQLITE_IOERR: its
    volume remounted read-only after an error, or failing) or ``attempt to write a readonly database``
    (SQLITE_READONLY: a connection that could only open it read-only). Every write fails alike until an operator
    mends the volume; it had been answered INTERNAL, with a traceback per call (a reviewer, R2)."""
    for cause in causes(error, 4):
        if isinstance(cause, sqlite3.OperationalError):
            code = getattr(cause, "sqlite_errorcode", None)
            if code is not None:
                return code & 0xFF in (_SQLITE_IOERR, _SQLITE_READONLY)
            return str(cause).startswith(("disk I/O error", "attempt to write a readonly database"))
    return False


def refuses_writes(error: BaseException) -> bool:
    """Whether ``error`` is a connection refusing a write that another connection may take once the store takes
    writes again: a SQLite file's (``store_unwritable``) or a PostgreSQL session's, read-only (``takes_no_writes``)."""
    return store_unwritable(error) or takes_no_writes(error)


def _drop_unwritable(context: ExceptionContext) -> None:
    """A connection of the sessions' pool that refused a write (``refuses_writes``) is thrown away, with every other
    the pool opened until then (SQLAlchemy's handling of a disconnect: each is replaced at its next checkout). SQLite
    opens a file it cannot open for writing read-only, and a PostgreSQL session reads ``default_transaction_read_only``
    as it starts: either stays read-only, and those opened while the store took no writes had been kept, refusing
    calls that drew them DATABASE_UNAVAILABLE until a restart once it took them again (a reviewer, R1, R2). The call
    is still answered as the store taking no writes (``connection_lost`` leaves these out)."""
    if refuses_writes(context.original_exception):
        context.is_disconnect = True


def pool_exhausted(error: BaseException) -> bool:
    """Whether ``error`` is a unit of work that waited ``POOL_TIMEOUT_SECONDS`` for a session of the pool, every one
    lent to other calls (SQLAlchemy's ``TimeoutError``): nothing was done, and a client told UNAVAILABLE may retry. It
    had been answered INTERNAL, with a traceback (a reviewer, R1)."""
    return any(isinstance(cause, PoolTimeout) for cause in causes(error, 4))


def store_busy(error: BaseException) -> bool:
    """Whether ``error`` is the store held by another writer past the wait: a SQLite file locked (``database is
    locked``), or a write that timed out waiting for its commit. Nothing was answered from it: a client told
    UNAVAILABLE may retry."""
    for cause in causes(error, 4):
        if isinstance(cause, StoreTimeout):
            return True
        if isinstance(cause, sqlite3.OperationalError):
            return str(cause).startswith(("database is locked", "database is busy", "database table is locked"))
    return False


def disk_full(error: BaseException) -> bool:
    """Whether ``error`` is a full disk under the store or the key store: SQLite's ``database or disk is full``,
    PostgreSQL's ``disk_full`` (SQLSTATE 53100), or ENOSPC writing a file. Nothing was written (the transaction rolled
    back): a client told UNAVAILABLE may retry once space is freed."""
    for cause in causes(error, 4):
        if isinstance(cause, sqlite3.OperationalError):
            return str(cause).startswith("database or disk is full")
        if getattr(cause, "sqlstate", None) == "53100" or (isinstance(cause, OSError) and cause.errno == errno.ENOSPC):
            return True
    return False


def _full_under(error: BaseException) -> BaseException | None:
    """The error of a full disk (``disk_full``) in ``error``'s causes or in what it was raised while handling: Alembic's
    batch migration, failing, drops its copy of the table, and the "no such table" of that drop is what is raised."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return None
        if disk_full(seen):
            return seen
        seen = seen.__context__
    return None


def full_where(error: BaseException, store_file: str = "") -> str:
    """Where the full disk ``error`` met (``disk_full``) is, for the log: the file a write failed on (a seal's key in
    the key store, which may be on another volume than the store), the SQLite store's volume (``store_file``) or
    SQLite's temporary directory (a large sort spills there), or the PostgreSQL server's; "" when it cannot be told.
    The STORE_FULL line had not said which of the two volumes was full (found by an on-call tester)."""
    for cause in causes(error, 4):
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return f"writing {cause.filename}" if cause.filename else ""
        if isinstance(cause, sqlite3.OperationalError) and str(cause).startswith("database or disk is full"):
            volume = f"the volume of {store_file}" if store_file else "the store's volume"
            return f"on {volume} or SQLite's temporary directory"
        if getattr(cause, "sqlstate", None) == "53100":
            return "on the PostgreSQL server's disk"
    return ""


class DatabaseNotAnswering(Exception):
    """The work of a request was given up while readiness says the database does not answer
    (``DATABASE_NOT_ANSWERING``): the HTTP side answers it as the store unavailable (``store_unavailable``) rather
    than wait for a database that may stay frozen for as long as the incident lasts (``adapters.http_connections.
    store_work``). ``under_way``: work that may write had been taken up by a thread, which goes on with it: it may
    have been done, or be done once the database answers (a console verification's receipt and access record were
    committed after its clerk was told "this call was not done; retry", and the retry made a second pair: a reviewer,
    opsfix R2)."""

    def __init__(self, *, under_way: bool = False) -> None:
        super().__init__("under way" if under_way else "not begun")
        self.under_way = under_way


def store_unavailable(error: BaseException) -> UpstreamUnavailableError | None:
    """What to answer for ``error`` when it is the store's and not the call's (a client may retry): a PostgreSQL
    connection that could not be opened (``connection_refused``) or that was lost under it (``connection_lost``),
    every session of the pool lent (``pool_exhausted``), the store held by another writer (``store_busy``), its
    SQLite file taking no writes (``store_unwritable``), its disk full (``disk_full``), its SQLite file gone
    (``StoreGone``), its PostgreSQL database taking no writes (``takes_no_writes``) or replaced
    (``DatabaseReplaced``, with the same reason), or not answering (``DatabaseNotAnswering``); None for any other
    error."""
    if any(isinstance(cause, DatabaseReplaced) for cause in causes(error, 4)):
        return UpstreamUnavailableError(
            "网关的数据库已被替换（恢复或删除后重建），本进程不再写入：本次请求未写入任何内容，请改用其他网关，"
            "或待管理员重启网关后重试（the gateway's database was replaced under this process (restored, or dropped "
            "and made again): nothing of this call was written; retry at another gateway, or once an operator has "
            "restarted the gateway）",
            reason="STORE_GONE",
        )
    if any(isinstance(cause, StoreGone) for cause in causes(error, 4)):
        return UpstreamUnavailableError(
            "网关的数据库文件已不在原处（被删除、移走或替换），本次请求未写入任何内容：请改用其他网关，或待管理员放回后重试"
            "（the gateway's store file is gone (deleted, moved or replaced): nothing of this call was written; retry "
            "at another gateway, or once an operator has put the store back）",
            reason="STORE_GONE",
        )
    if timed_out(error):
        return UpstreamUnavailableError(
            "数据库语句超时（语句超时设置或等待锁），本次请求未完成，请稍后重试"
            "（a statement timed out in the database, on its statement_timeout or a lock wait: nothing was done; "
            "retry）",
            reason="DATABASE_BUSY",
        )
    if any(isinstance(cause, DatabaseNotAnswering) and cause.under_way for cause in causes(error, 4)):
        return UpstreamUnavailableError(
            "数据库在办理本次请求时停止应答，本次请求可能已办理，或将在数据库恢复应答后办理，重试会再办一次："
            "核验请先查看是否已有其回执（一件事办件：查看本件已有核验回执）"
            "（the database stopped answering while this call was being done: it may have been done, or be done once "
            "the database answers, and a retry does it again: for a verification, look for its receipt first (a "
            "case's: 查看本件已有核验回执)）",
            reason="DATABASE_UNAVAILABLE",
        )
    if any(isinstance(cause, DatabaseNotAnswering) for cause in causes(error, 4)):
        return UpstreamUnavailableError(
            "数据库当前无应答（就绪检查未在时限内得到应答），本次请求未完成，请稍后重试或改用其他网关"
            "（the database does not answer now (the readiness check had no answer in time): this call was not "
            "done; retry later or at another gateway）",
            reason="DATABASE_UNAVAILABLE",
        )
    if takes_no_writes(error):
        return UpstreamUnavailableError(
            "数据库当前只读（只读设置，或故障切换后连到了备库），本次请求未写入任何内容，请稍后重试或改用其他网关"
            "（the database takes no writes now (read-only, or a standby after a failover): nothing of this call was "
            "written; retry later or at another gateway）",
            reason="DATABASE_UNAVAILABLE",
        )
    if connection_refused(error):
        return UpstreamUnavailableError(
            "网关当前无法与数据库建立新连接，本次请求未完成，请稍后重试（原因可见数据库或网关的日志）"
            "（the gateway cannot open a new connection to the database now: this call was not done; retry later "
            "(the database's log or the gateway's may say why)）",
            reason="DATABASE_UNAVAILABLE",
        )
    if connection_lost(error):
        return UpstreamUnavailableError(
            "数据库连接中断，本次请求未完成，请重试（the database connection was lost: retry）",
            reason="DATABASE_UNAVAILABLE",
        )
    if store_unwritable(error):
        return UpstreamUnavailableError(
            "网关的数据库文件当前无法写入（所在卷只读或读写出错），本次请求未完成：请改用其他网关，或待管理员修复后重试"
            "（the gateway's store file cannot be written now (its volume read-only, or failing): this call was not "
            "done; retry at another gateway, or once an operator has mended it）",
            reason="DATABASE_UNAVAILABLE",
        )
    if disk_full(error):
        return UpstreamUnavailableError(
            "网关磁盘已满，本次请求未写入任何内容，请待管理员腾出空间后重试"
            "（the gateway's disk is full: nothing of this call was written; retry once space is freed）",
            reason="STORE_FULL",
        )
    if pool_exhausted(error):
        return UpstreamUnavailableError(
            "网关的数据库连接均在使用中，本次请求未能及时取得连接，未完成，请稍后重试"
            "（every database connection of the gateway was in use and none came free in time: nothing of this call "
            "was done; retry）",
            reason="DATABASE_BUSY",
        )
    if store_busy(error):
        said = str(error) if isinstance(error, StoreTimeout) else "the store did not take this call's records in time"
        return UpstreamUnavailableError(
            "数据库正被其他写入方占用，本次请求须写入数据库（含用证记录），未能完成，请稍后重试"
            f"（the store is held by another writer, and this call must write to it (its access record included); "
            f"{said}: retry）",
            reason="DATABASE_BUSY",
        )
    return None


_SETUP_LOCK_KEY = 0x7A7A_6777_696E_6974  # "zzgwinit": the advisory lock key of ``Database.setup_lock``


class _StoreWatch:
    """What ``StoreFile`` and ``StoreDatabase`` share: a loss of the store said once, at ERROR, whichever thread meets
    it first (a write, the health check), without a traceback, and its end said once."""

    def __init__(self) -> None:
        self._gone = False
        self._said = threading.Lock()

    def _lost(self, gone: StoreGone, remedy: str) -> NoReturn:
        with self._said:
            first, self._gone = not self._gone, True
        if first:
            log.error("%s: no write is taken (UNAVAILABLE / STORE_GONE)%s", gone, remedy)
        raise gone

    def _back(self, said: str) -> None:
        if not self._gone:
            return
        with self._said:
            back, self._gone = self._gone, False
        if back:
            log.warning("%s is the one this process opened again: writes are taken", said)


_CLOSED_AWAY = 0
"""``StoreFile._wals``' key (no connection's ``id``) of the WAL a connection held as it closed while another WAL, or
none, was at the path: the process's still, so that its next connections do not serve the file at the path, a copy
put in place (whose WAL they would make), until that WAL is back."""


class StoreFile(_StoreWatch):
    """The SQLite file a process opened, told from whatever is at its path now by device and inode, and the WAL its
    connections opened beside it (``zzgw.db-wal``), told likewise.

    SQLite keeps a connection on the file it opened, even once deleted, moved away or replaced: a commit then goes
    to a file nobody will read again (a deleted inode), or to another store than the one the process holds in its
    other connections. ``check`` (an ``os.stat`` of the path and one of the WAL's, 1-2 µs each) runs before every
    commit and at each new connection, so once the file at the path is not this one, nothing more commits and
    nothing is answered OK.

    A copy put in place over the file (``cp backup.db zzgw.db``, a restore by *Restoring*'s old step 3, the WAL and
    SHM deleted first) keeps the file's inode: told by the WAL. Each connection's WAL is read as it opens
    (``opened``); once the one at the path is another, or none, while this process's connections hold one, the
    store is gone for them: their commits would go into a deleted WAL (answered OK, lost), and their checkpoint
    would write the pages it holds over the copy put in place (the restore undone, or a file of another layout
    corrupted; a reviewer, audittrail R1). So no connection of this process checkpoints as it closes
    (``SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE``, set as it opens) unless the file and the WAL at the path are found to be
    its own right then (``closing``): a connection closed otherwise leaves its WAL, which never harms a store.

    What it cannot close: the file removed in the microseconds between the check and the commit (that commit is
    answered OK and lost with the file), the path swapped twice between a new connection's open and its check, and
    a copy put over the file with the live WAL left beside it (which SQLite would replay into the copy: *Restoring*
    deletes it first).
    """

    _REMEDY = (
        ". Put that same file back at its path (mv it back) and writes resume; a store restored from a backup needs "
        "every gateway process restarted"
    )
    _RESTORED = (
        ". A store put in place under this process (a restore) needs every gateway process restarted; this one "
        "writes nothing into it and does not checkpoint its WAL into it (docs/operations.md, Restoring)"
    )

    def __init__(self, path: str, identity: os.stat_result, *, read_only: bool = False):
        super().__init__()
        self.path = os.path.abspath(path)
        self.uri = f"file:{urllib.parse.quote(self.path)}?mode={'ro' if read_only else 'rw'}"
        """The file as an SQLite URI that opens it only if it exists: a missing file is an error, not a new store."""
        self.read_only = read_only
        self._identity = (identity.st_dev, identity.st_ino)
        self._wal_path = f"{os.path.realpath(self.path)}-wal"
        """Beside the file the path leads to: SQLite makes the WAL of a store reached through a symbolic link beside
        its target (looked for beside the link, it was never found, and no connection checkpointed as it closed:
        a review of the fix, fixrevstore R1)."""
        self._wals: dict[int, tuple[int, int]] = {}
        """The WAL (device, inode) each open connection of this process opened, by ``id`` of the connection."""
        self._held: frozenset[tuple[int, int]] = frozenset()
        """The WALs this process's open connections hold (``_wals``' values): read by ``check`` without a lock."""
        self._pending: set[int] = set()
        """Connections opened before the file had a WAL (a new store, not yet in WAL mode): theirs is the first one
        ``check`` sees at the path."""
        self._wals_lock = threading.Lock()

    def check(self) -> None:
        """Raise ``StoreGone`` unless the file at the path is the one opened, and the WAL at the path the one this
        process's connections hold (if they hold one)."""
        try:
            now = os.stat(self.path)
        except OSError as exc:  # gone, or its directory out of reach (a volume unmounted): either way not ours now
            self._lost(StoreGone(self.path, exc.strerror or type(exc).__name__), self._REMEDY)
        if (now.st_dev, now.st_ino) != self._identity:
            self._lost(StoreGone(self.path, "another file is there now"), self._REMEDY)
        if self._pending:
            self._adopt_wal()
        held = self._held
        if held:
            try:
                wal = os.stat(self._wal_path)
            except OSError as exc:
                detail = (
                    self._wal_not_held(missing=True)
                    if exc.errno == errno.ENOENT
                    else f"its WAL {self._wal_path}: {exc.strerror or type(exc).__name__}"
                )
                self._lost(StoreGone(self.path, detail), self._RESTORED)
            if len(held) > 1 or (wal.st_dev, wal.st_ino) not in held:
                self._lost(StoreGone(self.path, self._wal_not_held(missing=False)), self._RESTORED)
        if self._gone:
            with self._wals_lock:  # its WAL back at the path (moved back): no longer held by a closed connection
                if self._wals.pop(_CLOSED_AWAY, None) is not None:
                    self._held = frozenset(self._wals.values())
            self._back(f"the store file at {self.path}")

    def opened(self, dbapi_connection: Any) -> None:
        """Note the WAL a new connection opened (after its ``journal_mode=WAL``, which opens it), then ``check``:
        one that opened another WAL than the others hold is refused (``StoreGone``)."""
        try:
            wal = os.stat(self._wal_path)
        except FileNotFoundError:  # a new store, not yet in WAL mode: its WAL is made by its first write
            with self._wals_lock:
                self._pending.add(id(dbapi_connection))
            return
        with self._wals_lock:
            self._wals[id(dbapi_connection)] = (wal.st_dev, wal.st_ino)
            self._held = frozenset(self._wals.values())
        self.check()

    def _adopt_wal(self) -> None:
        """The WAL first seen at the path is the one the connections opened before there was one hold."""
        try:
            wal = os.stat(self._wal_path)
        except FileNotFoundError:
            return
        with self._wals_lock:
            for pending in self._pending:
                self._wals[pending] = (wal.st_dev, wal.st_ino)
            self._pending.clear()
            self._held = frozenset(self._wals.values())

    def closing(self, dbapi_connection: Any) -> None:
        """Before a connection closes (the pool's ``close``, ``close_detached``): it no longer holds its WAL, and
        it checkpoints that WAL into the file as it closes (SQLite's default, which also removes the WAL when it is
        the last connection) only if the file and the WAL at the path are its own now: a store put in place under
        it (a restore) is never written over with the pages of its WAL."""
        if id(dbapi_connection) in self._pending:  # opened before the store had a WAL: the one there now is its own
            self._adopt_wal()
        with self._wals_lock:
            self._pending.discard(id(dbapi_connection))
            wal = self._wals.pop(id(dbapi_connection), None)
            self._held = frozenset(self._wals.values())
        if wal is None:  # none since it opened: nothing of it to write over a copy; SQLite's default again
            with contextlib.suppress(OSError):
                now = os.stat(self.path)
                if (now.st_dev, now.st_ino) == self._identity:
                    checkpoint_on_close(dbapi_connection, True, self.path)
            return
        now_wal = None
        with contextlib.suppress(OSError):
            now = os.stat(self.path)
            now_wal = os.stat(self._wal_path)
            if (now.st_dev, now.st_ino) == self._identity and (now_wal.st_dev, now_wal.st_ino) == wal:
                checkpoint_on_close(dbapi_connection, True, self.path)
                return
        with self._wals_lock:  # still this process's WAL: the copy at the path is not served once it closes
            self._wals[_CLOSED_AWAY] = wal
            self._held = frozenset(self._wals.values())
        with contextlib.suppress(StoreGone):  # said once, as a write that met it would
            self.check()
            self._lost(StoreGone(self.path, self._wal_not_held(missing=now_wal is None)), self._RESTORED)

    def _wal_not_held(self, *, missing: bool) -> str:
        if missing:
            return (
                f"its WAL {self._wal_path} was deleted under this process, which still writes into it: a copy put in "
                "place over the file (cp), or the WAL removed"
            )
        return (
            f"another WAL is at {self._wal_path} now than the one this process writes into: a copy put in place over "
            "the file (cp) and opened by another process"
        )

    def takes_writes(self) -> bool:
        """Whether the file and its WAL may be opened for writing now (``access``: an immutable file, a volume
        mounted read-only, a mode that forbids it say no), as SQLite's open asks, which opens the file read-only
        when not (``OPENED_READ_ONLY``). No descriptor is opened: closing one would drop this process's SQLite locks
        on the file."""
        wal = f"{self.path}-wal"
        return os.access(self.path, os.W_OK) and (os.access(wal, os.W_OK) or not os.path.exists(wal))


_NO_CKPT_ON_CLOSE = 1006
"""``SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`` (sqlite3.h): a connection that closes does not checkpoint its WAL."""


@functools.cache
def _sqlite_c_api() -> tuple[Any, Any] | None:
    """``sqlite3_db_config`` and ``sqlite3_db_filename`` of the SQLite library Python's ``sqlite3`` runs on, for
    CPython 3.11, whose ``sqlite3.Connection`` has no ``setconfig`` (3.12 on): None elsewhere."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11):
        return None
    try:
        import _sqlite3

        library = ctypes.CDLL(_sqlite3.__file__)
        config, filename = library.sqlite3_db_config, library.sqlite3_db_filename
    except (ImportError, OSError, AttributeError):
        return None
    config.restype = ctypes.c_int
    filename.restype = ctypes.c_char_p
    filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return config, filename


def checkpoint_on_close(dbapi_connection: Any, allowed: bool, path: str) -> bool:
    """Whether ``dbapi_connection`` (a ``sqlite3.Connection`` on the file at ``path``) checkpoints its WAL into the
    file as it closes (SQLite's default; ``SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`` turned off or on); False if it could
    not be set. On CPython 3.11 through the connection's ``sqlite3 *`` (the first field after the object's head, as in
    every CPython's ``_sqlite/connection.h``), used only once ``sqlite3_db_filename`` of it names ``path``."""
    if hasattr(dbapi_connection, "setconfig"):  # Python 3.12 on
        dbapi_connection.setconfig(_NO_CKPT_ON_CLOSE, not allowed)
        return True
    api = _sqlite_c_api()
    if api is None or not isinstance(dbapi_connection, sqlite3.Connection):
        return False
    config, filename = api
    handle = ctypes.c_void_p.from_address(id(dbapi_connection) + object.__basicsize__).value
    if not handle:  # closed
        return False
    named = filename(handle, b"main")
    if not named or os.path.realpath(os.fsdecode(named)) != os.path.realpath(path):
        return False
    return config(ctypes.c_void_p(handle), _NO_CKPT_ON_CLOSE, ctypes.c_int(0 if allowed else 1), None) == 0


@functools.cache
def _say_no_checkpoint_guard() -> None:
    log.warning(
        "SQLite connections of this process cannot be kept from checkpointing as they close (no "
        "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE on this Python): one left running under a restore may write its WAL into "
        "the copy as it stops (docs/operations.md, Restoring: stop every process first)"
    )


class StoreDatabase(_StoreWatch):
    """The PostgreSQL database a process opened, told from whatever database has its name now by
    ``DatabaseIdentity``: read at each new connection of the pool (``_configure_postgresql``), the first one's kept
    (or the one given: a replacement worker's, the gateway's start). A restore under a running process (``DROP
    DATABASE … WITH (FORCE)``, ``createdb``, ``pg_restore``) ends every connection it holds, so every one after it
    is new and checked: nothing is checked per call. A new connection to another database raises
    ``DatabaseReplaced`` and is closed: nothing is read from it nor written to it, and the audit chain is not
    continued in it from this process's head (which had left the restored trail BROKEN by a GAP, for good: a
    disaster-recovery drill)."""

    _REMEDY = (
        ", nor is the audit chain continued in it. Every gateway process on it must be restarted "
        "(docs/operations.md, Restoring: step 1 stops them first)"
    )

    def __init__(self, label: str, expect: DatabaseIdentity | None = None):
        super().__init__()
        self.label = label
        self.identity = expect
        self.renewed = 0.0
        """``time.monotonic()`` when the connections opened until then were last to be replaced
        (``Database.renew_connections``): each is, before its next use (``OPENED_AT``)."""
        self._asked = threading.local()
        """``since``: ``time.monotonic()`` when this thread asked the pool for a new connection
        (``Database.new_connection``), while it waits for it."""

    def stale(self, info: Mapping[str, Any]) -> bool:
        """Whether a connection of the pool (its ``info``) is to be replaced before it is lent: opened before
        ``renewed``, or before the thread drawing it asked for a new one (``Database.new_connection``)."""
        opened = info.get(OPENED_AT, 0.0)
        return bool(opened < self.renewed or opened < getattr(self._asked, "since", 0.0))

    @contextlib.contextmanager
    def asking_for_new(self) -> Iterator[None]:
        """Connections this thread draws from the pool meanwhile are opened for it (``stale``)."""
        self._asked.since = time.monotonic()
        try:
            yield
        finally:
            self._asked.since = 0.0

    def check(self, dbapi_connection: Any) -> None:
        """Raise ``DatabaseReplaced`` unless ``dbapi_connection`` (a new psycopg connection) is to the database
        opened; the first one checked, with none given, is the one opened."""
        now = read_database_identity(dbapi_connection)
        with self._said:
            if self.identity is None:
                self.identity = now
            opened = self.identity
        if not opened.same(now):
            self._lost(DatabaseReplaced(self.label, opened, now), self._REMEDY)
        self._back(f"the database {self.label}")


def read_database_identity(dbapi_connection: Any) -> DatabaseIdentity:
    """The ``DatabaseIdentity`` of the database a psycopg connection is to; the connection is left with no
    transaction open. ``pg_control_system()`` is run only when the server has it (``to_regprocedure``: a managed
    service's may not, and ``has_function_privilege`` of a function by a name it does not know had failed every
    connection, a reviewer) and the role may run it, and left out if it fails all the same."""
    import psycopg

    with dbapi_connection.cursor() as cursor:
        cursor.execute(
            "SELECT oid::bigint, coalesce(has_function_privilege("
            "to_regprocedure('pg_catalog.pg_control_system()'), 'EXECUTE'), false) "
            "FROM pg_catalog.pg_database WHERE datname = current_database()"
        )
        oid, may = cursor.fetchone()
        system = None
        if may:
            try:
                cursor.execute("SELECT system_identifier FROM pg_catalog.pg_control_system()")
                system = cursor.fetchone()[0]
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError):
                    raise
                dbapi_connection.rollback()
    dbapi_connection.rollback()
    return DatabaseIdentity(int(oid), int(system) if system is not None else None)


CLIENT_BACKEND = "(backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL))"
"""A row of ``pg_stat_activity`` that is a client's connection. A role neither superuser nor granted
``pg_read_all_stats`` reads the ``backend_type`` of other roles' sessions as NULL, while their user stays visible
(the server's own processes have none): under the gateway's own role (docs/operations.md), every other application's
connection had been left out of the count, and the connection warning kept silent (a reviewer)."""


class Database:
    def __init__(
        self,
        engine: Engine,
        store_file: StoreFile | None = None,
        store_database: StoreDatabase | None = None,
        kept_engine: Engine | None = None,
    ):
        self.engine = engine
        self.kept_engine = kept_engine if kept_engine is not None else engine
        """Where the connections a thread keeps come from (each reading thread's ``_thread_reader``, each group
        writer's ``Appender``): no pool (``connect``), so none of them is one a session waits for."""
        self.dialect = engine.dialect.name
        self.store_file = store_file
        """A SQLite file store's file (None for PostgreSQL and for SQLite in memory)."""
        self.store_database = store_database
        """A PostgreSQL store's database (None for SQLite)."""
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._readers = threading.local()
        self._readers_lock = threading.Lock()
        self._all_readers: list[_DriverStatements] = []
        database = engine.url.database if self.dialect == "sqlite" else None
        self._lock_path = f"{database}.writer-lock" if database and database != ":memory:" else None
        self._writers_here = threading.Lock()
        """This process's writers, one at a time before the flock: a wait that can end (``_writer_lock``)."""

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        pool_size: int = 16,
        echo: bool = False,
        synchronous: str = "normal",
        read_only: bool = False,
        expect: tuple[int, int] | DatabaseIdentity | None = None,
    ) -> Database:
        """An engine on ``url``; a SQLite file is made (empty) if missing, and is then the file this process
        stores in (``StoreFile``); ``synchronous`` is a key of ``SQLITE_SYNCHRONOUS``. ``read_only`` (SQLite): the
        file is opened as it is, never made nor written (``mode=ro``, no ``journal_mode``): `zzgw catalog check` had
        made a zero-byte zzgw.db a database of 4096 bytes (a reviewer). ``expect`` (SQLite): the device and inode
        of the file this process must store in (a replacement worker's, the file the gateway started on): any other
        file opened at the path, or none there, raises ``StoreGone``, and none is made. Checked before the open
        only, a backup moved over the live file in the few ms between had been served (a reviewer). The file there
        (the one expected) that cannot be opened for writing for now (EROFS, EPERM) raises ``StoreUnwritable``,
        unless ``read_only``. On PostgreSQL,
        ``expect`` is the ``DatabaseIdentity`` of the database to store in: every connection to another raises
        ``DatabaseReplaced`` (``StoreDatabase``); without it, the first connection's database is the one."""
        parsed = make_url(url)
        if isinstance(expect, DatabaseIdentity) != (parsed.get_backend_name() == "postgresql") and expect is not None:
            raise ValueError(f"expect={expect!r} is not an identity of a {parsed.get_backend_name()} store")
        if (parsed.get_backend_name(), parsed.get_driver_name()) not in (
            ("sqlite", "pysqlite"),
            ("postgresql", "psycopg"),
        ):
            raise ValueError(f"zzgw stores on SQLite or PostgreSQL through psycopg, not {parsed.drivername}")
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}  # errors are logged: no personal data
        store_file = None
        store_database = None
        if parsed.get_backend_name() == "sqlite":
            if synchronous not in SQLITE_SYNCHRONOUS:
                raise ValueError(f"synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}, not {synchronous!r}")
            if parsed.database and parsed.database != ":memory:":
                if not read_only:
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                # made here, readable by its owner only (SQLite would follow the umask, often 0644): it holds
                # holders' names and ID numbers; SQLite gives its -wal and -shm files the same mode
                unwritable: StoreUnwritable | None = None
                try:
                    fd = (
                        os.open(parsed.database, os.O_RDONLY)
                        if read_only
                        else os.open(parsed.database, os.O_RDWR | (os.O_CREAT if expect is None else 0), 0o600)
                    )
                except FileNotFoundError:
                    if expect is None:
                        raise
                    raise StoreGone(os.path.abspath(parsed.database), "no file is there now") from None
                except OSError as exc:
                    if read_only or exc.errno not in UNWRITABLE_FOR_NOW:
                        raise
                    # the file may be there and take no writes for now: said so only if it is, and is the one
                    # expected (a replacement's), else as before
                    try:
                        fd = os.open(parsed.database, os.O_RDONLY)
                    except OSError:
                        raise exc from None
                    unwritable = StoreUnwritable(os.path.abspath(parsed.database), exc.errno)
                try:
                    opened = os.fstat(fd)
                finally:
                    os.close(fd)
                if isinstance(expect, tuple) and (opened.st_dev, opened.st_ino) != expect:
                    raise StoreGone(os.path.abspath(parsed.database), "another file is there now")
                if unwritable is not None:
                    raise unwritable
                store_file = StoreFile(parsed.database, opened, read_only=read_only)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
            if parsed.get_driver_name() == "psycopg":
                # No server-side prepared statements: their generic plans turn `= ANY(array)` lookups into
                # sequential scans, which made batch commits grow with the table. The application name says which
                # process of which schema each connection is (``other_gateways``).
                # A connection that does not come up within CONNECT_TIMEOUT_SECONDS fails (keepalives besides),
                # unless the URL says otherwise (``connection_timeouts``).
                kwargs["connect_args"] = {
                    "prepare_threshold": None,
                    "application_name": application_name(),
                    **connection_timeouts(parsed.query),
                }
            store_database = StoreDatabase(
                parsed.render_as_string(hide_password=True), expect if isinstance(expect, DatabaseIdentity) else None
            )
        # the sessions' pool: one per handler thread, one per HTTP work thread, a few for the process's own threads
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=HTTP_WORK_THREADS + _SPARE_SESSIONS,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            **kwargs,
        )
        # the connections threads keep, each its own, opened when first needed and closed at ``dispose``: drawn from
        # the sessions' pool, they had used it up (``most_connections``). SQLite in memory has but the one database.
        in_memory = parsed.get_backend_name() == "sqlite" and store_file is None
        kept = (
            engine
            if in_memory
            else create_engine(url, poolclass=NullPool, **{k: v for k, v in kwargs.items() if k != "pool_pre_ping"})
        )
        event.listen(engine, "handle_error", _drop_unwritable)
        for each in (engine,) if kept is engine else (engine, kept):
            if each.dialect.name == "sqlite":
                _configure_sqlite(each, store_file, SQLITE_SYNCHRONOUS[synchronous])
            elif store_database is not None:
                _configure_postgresql(each, store_database)
        return cls(engine, store_file, store_database, kept)

    def database_identity(self) -> DatabaseIdentity | None:
        """PostgreSQL: the identity of the database this process opened (``StoreDatabase``), a connection made
        first if none was yet; None on SQLite."""
        if self.store_database is None:
            return None
        if self.store_database.identity is None:
            with self.engine.connect():
                pass
        return self.store_database.identity

    def migrate(
        self, then: Callable[[UnitsOfWork], object] | None = None, *, starting_at: str | EllipsisType | None = ...
    ) -> None:
        """Bring the schema to the newest migration (idempotent). On PostgreSQL a table another session holds locked
        (a transaction left open in psql) is waited for ``MIGRATION_LOCK_SECONDS``, then ``LockHeld`` naming the
        sessions that hold locks on the database: it had waited for ever, queueing every query on the table behind
        it (found by an upgrade tester).

        ``then`` runs after the migrations, in their transaction (``InTheMigration``): what an upgrade must add to the
        rows they leave (the memos only the data directory's secret makes) is committed with the new schema or not at
        all. Added after the schema's commit, an upgrade cut short between the two had left the store at the new
        revision without them, for good: the next init, finding the store upgraded, added nothing (an upgrade tester's
        kill -9: every document stored before it then verified REGISTRY_ALTERED).

        ``starting_at``: the revision the caller found and decided ``then`` from (None: no schema). Read again in the
        migrations' transaction, before them, as Alembic reads it: ``SchemaMoved`` if it is another, nothing changed.
        What an upgrade vouches for rests on the revision the migrations start from (a reviewer, R1)."""
        from alembic import command  # here, not at the module's import: a worker's start never migrates
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        waited = MIGRATION_LOCK_SECONDS
        before = self.schema_revision()
        try:
            with self.engine.begin() as connection:
                if self.engine.dialect.name == "postgresql":
                    connection.execute(text(f"SET LOCAL lock_timeout = '{int(waited * 1000)}ms'"))
                config.attributes["connection"] = connection
                if (
                    starting_at is not ...
                    and (found := MigrationContext.configure(connection).get_current_revision()) != starting_at
                ):
                    raise SchemaMoved(starting_at, found)
                command.upgrade(config, "head")
                if then is not None:
                    then(InTheMigration(connection, self.dialect))
        except Exception as exc:
            if (full := _full_under(exc)) is not None:
                path = self.store_file.path if self.store_file is not None else ""
                needs = ""
                if path:  # SQLite rebuilds an altered table whole: its copy goes to the WAL, then to the file
                    twice = 2 * os.path.getsize(path) / 1e6
                    needs = f" (an upgrade rebuilds tables whole: allow twice the store file's size, {twice:,.1f} MB)"
                raise NoRoomToMigrate(full_where(full, path), before, self.schema_revision(), needs) from None
            if not isinstance(exc, DBAPIError):
                raise
            if insufficient_privilege(exc.orig):
                # a traceback of 100 lines and exit 1 had said a schema public the role may not create in (a
                # disaster-recovery tester)
                raise StoreForbidden(str(exc.orig).strip().splitlines()[0]) from None
            if getattr(getattr(exc, "orig", None), "sqlstate", None) != "55P03":
                raise
            raise LockHeld(self._lock_holders(), waited) from exc

    def creation_refused(self) -> CreationRefused | None:
        """PostgreSQL: why the role may not create tables in the schema they go to (no ``CREATE`` on it, as on
        ``public`` of a database another role owns from PostgreSQL 15 on, or no schema of its ``search_path``);
        None when it may, and always on SQLite."""
        if self.engine.dialect.name != "postgresql":
            return None
        with self.engine.connect() as connection:
            role, database, schema, may = connection.execute(
                text(
                    "SELECT current_user, current_database(), current_schema(), "
                    "coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)"
                )
            ).one()
        return None if may else CreationRefused(role=role, database=database, schema=schema or "")

    def _lock_holders(self) -> list[str]:
        """The other sessions holding a lock on a table of this database, as ``pid N (APPLICATION, STATE, since
        TIME)``: not this process's own (its setup lock is advisory, on another connection), nor an advisory lock
        another replica's `zzgw init` holds or waits on (found in review: they had been named too)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT DISTINCT a.pid, coalesce(nullif(a.application_name, ''), 'no name') AS app, a.state, "
                    "coalesce(to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SS'), 'no transaction') AS since "
                    "FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.datname = current_database() "
                    "AND l.granted AND l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE "
                    "datname = current_database()) AND a.pid <> pg_backend_pid() AND a.application_name <> :mine "
                    "ORDER BY 1"
                ),
                {"mine": application_name()},
            ).all()
        return [f"pid {pid} ({app}, {state}, since {since})" for pid, app, state, since in rows]

    def unnamed_connections(self, *, this_role: bool = False) -> list[str]:
        """The other connections to this PostgreSQL database that name no application, or name themselves as a
        gateway under another role, as ``COUNT from ADDRESS``: gateway processes of versions before schema 0029, or
        other clients (psql names itself ``psql``); none on SQLite. ``this_role``: only those that name no
        application under this process's login role (``session_user``), as a gateway of the store connects."""
        if self.engine.dialect.name != "postgresql":
            return []
        which = (
            "usename = session_user AND coalesce(application_name, '') = ''"
            if this_role
            else "(coalesce(application_name, '') = '' OR (application_name LIKE 'zzgw/%' AND usename <> session_user))"
        )
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT coalesce(host(client_addr), 'an unknown address') AS addr, count(*) FROM pg_stat_activity "
                    f"WHERE datname = current_database() AND {CLIENT_BACKEND} "
                    f"AND pid <> pg_backend_pid() AND {which} GROUP BY 1 ORDER BY 1"
                )
            ).all()
        return [f"{count} from {addr}" for addr, count in rows]

    def other_gateways(self, *, but_schema: str = "") -> list[str]:
        """The other gateway processes connected to this PostgreSQL database (``application_name``) under this
        process's login role (``session_user``: a role the session switches to later is not the one PostgreSQL
        names), each as ``zzgw/SCHEMA/HOST/PID from ADDRESS``, but those needing ``but_schema``: versions from
        schema 0029 on name themselves; none on SQLite. A session of another role that names itself so is none
        of them: any role may connect and name itself, and had held an upgrade back (found by a security
        tester)."""
        if self.engine.dialect.name != "postgresql":
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT DISTINCT application_name, coalesce(host(client_addr), 'an unknown address') AS addr "
                    "FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'zzgw/%' "
                    "AND usename = session_user AND application_name <> :mine AND application_name NOT LIKE :same "
                    "ORDER BY 1"
                ),
                {"mine": application_name(), "same": f"zzgw/{but_schema}/%" if but_schema else ""},
            ).all()
        return [f"{name} from {addr}" for name, addr in rows]

    def connection_slots(self) -> ConnectionSlots | None:
        """PostgreSQL: the server's connections, those this role may take and those open now by others (client
        backends of the whole server, which ``max_connections`` counts, ``CLIENT_BACKEND``); None on SQLite."""
        if self.engine.dialect.name != "postgresql":
            return None
        with self.engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT current_setting('max_connections')::int, "
                    "CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN 0 ELSE "
                    "current_setting('superuser_reserved_connections')::int "
                    "+ coalesce(current_setting('reserved_connections', true), '0')::int END, "
                    "count(*) FILTER (WHERE application_name IS DISTINCT FROM :mine), "
                    "count(*) FILTER (WHERE application_name LIKE 'zzgw/%' AND application_name <> :mine), "
                    "count(DISTINCT application_name) FILTER (WHERE application_name LIKE 'zzgw/%' "
                    "AND application_name <> :mine) "
                    f"FROM pg_stat_activity WHERE {CLIENT_BACKEND}"
                ),
                {"mine": application_name()},
            ).one()
        return ConnectionSlots(
            max_connections=row[0], reserved=row[1], open_by_others=row[2], open_by_gateways=row[3], gateways=row[4]
        )

    def schema_revision(self) -> str | None:
        """The store's schema revision, None when it has none: no ``alembic_version`` table, and not the gateway's
        tables where its store goes (``recognisably_the_gateways``; a new store to make, or another application's
        tables in the way: ``tables_in_the_way``). ``StoreForbidden`` when the database role may not read it: tables
        restored under another owner had read as "no schema", and `zzgw init`, so advised, then failed with a
        traceback (a disaster-recovery tester). ``RevisionMissing`` for the gateway's tables without a revision.
        ``RevisionElsewhere`` for an ``alembic_version`` the search_path shows in another schema than the one the
        gateway's tables go to, which holds no gateway store (another application's; R1 of a later review).
        Any other error reading it is raised as it is (an outage: a statement or lock timeout, a backend ended): it
        had read as "no schema" on PostgreSQL, and an upgrading `zzgw init` then took the store for a new one and
        vouched for none of its memos, for good (a reviewer, R1)."""
        with self.engine.connect() as connection:
            try:
                revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except DBAPIError as exc:
                if insufficient_privilege(exc.orig):
                    raise StoreForbidden(str(exc.orig).strip()) from None
                if not _no_such_table(exc.orig):
                    raise  # an outage, a file that is no database: said as such, not as "no schema"
                connection.rollback()  # PostgreSQL's transaction is aborted by the error
                revision = None
            if revision is None and recognisably_the_gateways(found := _gateway_tables(connection)):
                raise RevisionMissing(found)
            if revision is not None and self.engine.dialect.name == "postgresql":
                where = connection.execute(
                    text(
                        "SELECT n.nspname, current_schema(), current_user FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('alembic_version')"
                    )
                ).first()
                if where is None:
                    return revision
                found_in, schema, role = where
                if found_in != schema and not recognisably_the_gateways(_gateway_tables(connection)):
                    raise RevisionElsewhere(found=found_in, schema=schema or "", role=role)
            return revision

    def tables_in_the_way(self) -> TablesInTheWay | None:
        """For a database without the schema (``schema_revision`` None): the tables of the gateway's names, another
        application's, where the gateway's tables go, which `zzgw init` would fail to make (DuplicateTable, a
        traceback); None when there are none."""
        with self.engine.connect() as connection:
            if not (found := _gateway_tables(connection)):
                return None
            postgresql = self.engine.dialect.name == "postgresql"
            if not postgresql:
                return TablesInTheWay(role="", schema="main", tables=tuple(found))
            role, would_do = connection.execute(
                text(
                    "SELECT current_user, NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = current_user) "
                    "AND trim(split_part(current_setting('search_path'), ',', 1)) = '\"$user\"'"
                )
            ).one()
            return TablesInTheWay(
                role=role or "",
                schema=store_schema(connection) or "",
                tables=tuple(found),
                own_schema_would_do=would_do,
            )

    def check_store_file(self) -> None:
        """Raise ``StoreGone`` if this is a SQLite file store whose file at its path is not the one opened."""
        if self.store_file is not None:
            self.store_file.check()

    @contextlib.contextmanager
    def unit_of_work(self, *, write: bool = False, snapshot: bool = False) -> Iterator[UnitOfWork]:
        """One transaction. ``snapshot`` (a read): every statement of it sees the store as it stood at its first, on
        PostgreSQL too (REPEATABLE READ; read committed, its default, shows each statement the commits made since the
        last). A SQLite read transaction (WAL) sees one snapshot from its first read already."""
        if write:  # refused before any work (the commit checks again: ``_configure_sqlite``)
            self.check_store_file()
        with self._writer_lock() if write else contextlib.nullcontext(), self._sessions() as session:
            if write:
                session.connection(execution_options={"zzgw_write": True})
            elif snapshot and self.dialect == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            with _unit(session, self.dialect) as uow:
                yield uow

    def appender(self) -> Appender:
        """Transactions on one driver connection of its own, for a group writer's hot appends."""
        return Appender(self)

    @contextlib.contextmanager
    def appending(self) -> Iterator[AppendWork]:
        """One ``Appender`` transaction on a connection the sessions' pool lends for it (given back after): not
        kept, so not ``kept_engine``'s."""
        appender = Appender(self, self.engine)
        try:
            with appender.transaction() as work:
                yield work
        finally:
            appender.close()

    def read_license(self, license_id: str) -> License | None:
        """``uow.licenses.get`` on this thread's driver connection (``_thread_reader``): no session, not the pool's."""
        return self._read(read_license, license_id)

    def read_license_by_number(self, type_code: str, license_number: str) -> License | None:
        """``uow.licenses.get_by_number`` on this thread's driver connection."""
        return self._read(read_license_by_number, type_code, license_number)

    def _read(self, read: Callable[..., License | None], *args: str) -> License | None:
        for attempt in (1, 2):
            statements = self._thread_reader()
            try:
                return read(statements, *args)
            except Exception as exc:  # a broken connection: drop it, the next read on this thread opens another
                self._readers.statements = None
                with contextlib.suppress(Exception):
                    statements.discard()
                if attempt == 2 or not connection_lost(exc):
                    raise
        raise AssertionError("unreachable")

    def read_only_for_nothing(self, pooled: Any) -> bool:
        """Whether ``pooled`` (a connection of either engine) may refuse writes the store takes now, and is to be
        replaced: one SQLite opened read-only while the store file took no writes (``OPENED_READ_ONLY``), the file
        taking writes now; a PostgreSQL one opened before ``renew_connections``. Those the pool and a group writer's
        appender opened during an outage had been kept, refusing every write on them until a restart (a reviewer,
        R1, R2)."""
        if self.store_database is not None:
            return bool(pooled.info.get(OPENED_AT, 0.0) < self.store_database.renewed)
        return (
            bool(pooled.info.get(OPENED_READ_ONLY)) and self.store_file is not None and self.store_file.takes_writes()
        )

    def renew_connections(self) -> None:
        """PostgreSQL: every connection opened until now is replaced before its next use (the pools' at their next
        checkout, a group writer's appender's at its next transaction); the kept readers only read. The health check
        asks it when it finds the database taking no writes, and once more when it takes them again: a session
        reads ``default_transaction_read_only`` (or a standby's state) as it starts, and one begun meanwhile stays
        read-only (a reviewer, R2)."""
        if self.store_database is not None:
            self.store_database.renewed = time.monotonic()

    def new_connection(self) -> Connection:
        """A connection of the sessions' pool, on PostgreSQL opened for the caller: the one it draws, if opened
        earlier, is replaced first, in its place, and the others are left as they are. The health check's while the
        database takes no writes: it must see writes come back, which a session begun read-only never shows, and
        renewing the whole pool at every check for it had opened the pool's sessions again each second for as long
        as the database took none (a reviewer, R2 of 3995dec)."""
        if self.store_database is None:
            return self.engine.connect()
        with self.store_database.asking_for_new():
            return self.engine.connect()

    def _thread_reader(self) -> _DriverStatements:
        """The calling thread's own driver connection for single-row reads, in autocommit mode (each read is its
        own statement, so a PostgreSQL read is one round trip and holds no transaction open), kept until
        ``dispose``. Opened on ``kept_engine``, never the sessions' pool: whatever threads read (the gRPC handler
        threads, the HTTP work threads of the console's checks), no thread waits for a connection another keeps.
        The threads that read are fixed pools, so a process holds at most one such connection per thread."""
        statements: _DriverStatements | None = getattr(self._readers, "statements", None)
        if statements is None:
            pooled = self.kept_engine.raw_connection()
            connection: Any = pooled.driver_connection
            if self.dialect == "postgresql":
                connection.autocommit = True
                # Server-side prepared statements, off for the engine (``connect``), suit this connection: it only
                # runs single-row lookups by unique keys, whose generic plan is the index lookup. Prepared on first
                # use, a license read costs PostgreSQL no planning (~70-90 µs of a 200 µs read on loopback).
                connection.prepare_threshold = 0
            statements = _DriverStatements(connection, self.dialect, pooled=pooled)
            self._readers.statements = statements
            with self._readers_lock:
                self._all_readers.append(statements)
        return statements

    def dispose(self) -> None:
        with self._readers_lock:
            readers, self._all_readers = self._all_readers, []
        for statements in readers:
            with contextlib.suppress(Exception):
                statements.release()
        self.engine.dispose()
        if self.kept_engine is not self.engine:
            self.kept_engine.dispose()

    @contextlib.contextmanager
    def setup_lock(self, waiting: Callable[[], object] = lambda: None) -> Iterator[None]:
        """One ``zzgw init`` at a time on this store, across processes and machines: two replicas' first inits at
        once on an empty PostgreSQL database had raced in CREATE TABLE (one failed with a unique violation). A
        PostgreSQL session advisory lock on a connection of its own (released when it closes, however the process
        ends); an flock on a file beside a SQLite database. ``waiting`` is told when another holds it."""
        if self.dialect == "postgresql":
            with self.engine.connect() as connection:
                key = {"key": _SETUP_LOCK_KEY}
                if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
                    waiting()
                    connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
                connection.commit()
                try:
                    yield
                finally:  # a session already gone released it: its error is not the one to tell
                    with contextlib.suppress(DBAPIError):
                        connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                        connection.commit()
            return
        if self._lock_path is None:
            yield
            return
        fd = os.open(self._lock_path.removesuffix(".writer-lock") + ".setup-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                waiting()
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """SQLite file databases: one writer at a time across threads and processes, woken the moment the lock is free.

        SQLite's own busy handler sleeps in steps of up to 100 ms while another connection writes, which left worker
        processes idle; an flock on a file beside the database queues writers without that backoff.
        """
        if self._lock_path is None:
            yield
            return
        # the flock's wait cannot end early; this process's own queue can: a writer held up behind one that waits
        # for another connection's lock (a DBA's open transaction) gives up as the store's busy wait does, instead
        # of waiting as long as the lock is held (each writer ahead then waits its own 30 s in turn)
        if not self._writers_here.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise StoreTimeout("it waited too long for its turn behind another writer")
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the lock
        finally:
            self._writers_here.release()


class UnitsOfWork(Protocol):
    """Where units of work come from: a ``Database`` (each its own transaction), or ``InTheMigration`` (all in the
    migrations' one)."""

    def unit_of_work(self, *, write: bool = False) -> contextlib.AbstractContextManager[UnitOfWork]: ...


class InTheMigration:
    """Units of work inside ``Database.migrate``'s transaction, for its ``then``: each one's ``commit`` commits
    nothing yet (the session joins the transaction it is given and leaves it open), and an exception in any rolls
    the whole of it back, migrations included. The migrations hold the store's write lock already (SQLite) or run
    alone (PostgreSQL: ``zzgw init`` under its setup lock), so ``write`` takes nothing more."""

    def __init__(self, connection: Connection, dialect: str):
        self._connection = connection
        self._dialect = dialect

    @contextlib.contextmanager
    def unit_of_work(self, *, write: bool = False) -> Iterator[UnitOfWork]:
        with Session(bind=self._connection, expire_on_commit=False) as session, _unit(session, self._dialect) as uow:
            yield uow


@contextlib.contextmanager
def _unit(session: Session, dialect: str) -> Iterator[UnitOfWork]:
    """A unit of work on ``session``: rolled back on any error, done when it ends."""
    uow = UnitOfWork(session, dialect)
    try:
        yield uow
    except BaseException:
        session.rollback()
        raise
    finally:
        uow.done()


class UnitOfWork:
    """One transaction and the repositories that work inside it."""

    def __init__(self, session: Session, dialect: str):
        self.session = session
        self.dialect = dialect
        self.births: dict[str, dt.date | None] = {}
        """Holders' birth dates read in this unit of work (``AuthorizationService._born``), read once a page."""
        self.named: dict[str, License | None] = {}
        """The licenses consents name, by identifier, read in this unit of work (``authorization._named``): once a
        page, for the holder's ownership and the guardian's standing alike."""
        self.licenses = LicenseRepository(session)
        self.members = MemberRepository(session)
        self.seals = SealRepository(session)
        self.documents = DocumentRepository(session)
        self.receipts = ReceiptRepository(session)
        self.audit = AuditRepository(session)
        self.access_requests = AccessRequestRepository(session)
        self.consents = ConsentRepository(session)
        self.holder_licenses = HolderLicenseRepository(session)
        self.facts = FactRepository(session)
        self.receipt_certificates = ReceiptCertificateRepository(session)
        self.console_clerks = ConsoleClerkRepository(session)
        self.wrong_claims = WrongClaimRepository(session)
        self._when_done: list[Callable[[], None]] = []

    def when_done(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once this unit of work has ended, whether or not it committed."""
        self._when_done.append(hook)

    def done(self) -> None:
        hooks, self._when_done = self._when_done, []
        for hook in hooks:
            hook()

    def lock_change_log(self) -> None:
        """Serialise writers of change events until commit (PostgreSQL; SQLite writers are serial already)."""
        if self.dialect == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _EVENT_LOCK_ID})

    def lock_key(self, key: str) -> None:
        """Serialise, until commit, the transactions that take the same ``key`` (PostgreSQL: an advisory lock on its
        hash; SQLite writers are serial already)."""
        if self.dialect == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})

    def lock_audit_chain(self, *, within: float | None = None) -> None:
        """Serialise appends to the audit chain until commit (PostgreSQL; SQLite writers are serial already);
        ``within``: its wait, and every lock wait after it in this transaction, fails after so many seconds
        (``bounded_lock_waits``), in the same round trip."""
        if self.dialect == "postgresql":
            lock = f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})"
            if within is not None:  # the subquery, volatile, is run first
                lock += f" FROM ({bounded_lock_waits(within)}) AS bounded"
            self.session.connection().exec_driver_sql(lock)

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


def bounded_lock_waits(seconds: float) -> str:
    """PostgreSQL: a statement that makes the transaction's lock waits after it fail after ``seconds``
    (``lock_timeout``, or the session's own if shorter): lock_not_available, the transaction failed, nothing of it
    committed (``timed_out``: DATABASE_BUSY). For the audit chain's lock, which a process's appends wait for holding
    their turn (``AuditTrail``): a lock held for ever (the backend of a connection the network cut, alive until the
    server's keepalive reaps it, some 2 hours) had held every append of the process as long."""
    return (
        "SELECT set_config('lock_timeout', LEAST(EXTRACT(EPOCH FROM NULLIF(current_setting('lock_timeout'), '0')"
        f"::interval) * 1000, {max(1, int(seconds * 1000))})::bigint || 'ms', true)"
    )


_APPEND_PREPARE_THRESHOLD = 5
"""psycopg's own default: a statement text is prepared on the server once it has run this many times."""


class Appender:
    """Write transactions straight on a driver connection (sqlite3 or psycopg) for the hot appends: group commits
    of receipts and access records (ADR 0004).

    The connection is opened once (``Database.kept_engine``, not the sessions' pool, unless ``engine`` says) and
    kept, so a group pays no checkout, reset or liveness ping;
    after a failure it is rolled back and kept, or dropped (and replaced by the next transaction) if even that
    fails or it refused the write (``_recover``); one SQLite opened read-only is replaced once the file takes writes
    (``Database.read_only_for_nothing``). Same locking as ``Database.unit_of_work(write=True)``: the SQLite writer
    flock and ``BEGIN IMMEDIATE``.
    On PostgreSQL a transaction is pipelined, so its statements go out together and only reading the audit chain's
    head and the commit wait for the server.
    """

    def __init__(self, db: Database, engine: Engine | None = None):
        self._db = db
        self._engine = engine if engine is not None else db.kept_engine
        self._pooled: Any = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[AppendWork]:
        """A transaction the caller commits; rolled back on any error, and if it is left uncommitted."""
        self._db.check_store_file()
        with self._db._writer_lock():
            if self._pooled is not None and self._db.read_only_for_nothing(self._pooled):
                pooled, self._pooled = self._pooled, None
                pooled.invalidate()
            if self._pooled is None:
                self._pooled = self._engine.raw_connection()
                if self._db.dialect == "postgresql":
                    # Server-side prepared statements, off for the engine (``connect``), suit a group commit: the
                    # same few INSERTs (one text per group size) again and again. psycopg's default threshold
                    # prepares a text once it ran 5 times, so rare group sizes are not kept; PostgreSQL's CPU per
                    # warm VerifyLicense fell from 96-121 to 64-77 µs (benchmarks.verify --postgresql, A/B).
                    self._pooled.driver_connection.prepare_threshold = _APPEND_PREPARE_THRESHOLD
            connection: Any = self._pooled.driver_connection
            dialect = self._db.dialect
            try:
                if dialect == "sqlite":
                    connection.execute("BEGIN IMMEDIATE")
                with connection.pipeline() if dialect == "postgresql" else contextlib.nullcontext():
                    work = AppendWork(_DriverStatements(connection, dialect), before_commit=self._db.check_store_file)
                    try:
                        yield work
                    finally:
                        work.close()
                if not work.committed:
                    connection.rollback()
            except BaseException as exc:
                self._recover(connection, exc)
                raise

    def close(self) -> None:
        if self._pooled is not None:
            if self._db.dialect == "postgresql":
                self._pooled.driver_connection.prepare_threshold = None  # back to a pool as the pool lent it
            self._pooled.close()
            self._pooled = None

    def _recover(self, connection: Any, error: BaseException) -> None:
        """Roll back after ``error``. A connection that cannot, or that refused the write (``refuses_writes``), is
        never used again: the next transaction opens another. One SQLite opened while its volume took no writes, or
        a PostgreSQL session begun while the database was read-only, is read-only for good, and a group writer's,
        kept, had failed every group (every verification, the receipts') once the store took writes again, until a
        restart (a reviewer, R1, R2)."""
        try:
            connection.rollback()
            if not refuses_writes(error):
                return
        except Exception:  # the connection itself is broken
            pass
        pooled, self._pooled = self._pooled, None
        pooled.invalidate()


class _DriverStatements:
    """Statements straight on a DBAPI connection (sqlite3 or psycopg): no per-statement ORM or Core machinery,
    which cost about ten times the statements of a group commit themselves."""

    def __init__(self, connection: Any, dialect: str, *, pooled: Any = None):
        self._connection = connection
        self._pooled = pooled
        if dialect == "postgresql":  # $1-style parameters as the server takes them: psycopg parses no query text
            import psycopg

            self._cursor = psycopg.RawCursor(connection)
            self.placeholder = "$"
        else:
            self._cursor = connection.cursor()
            self.placeholder = "?"
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self._cursor.execute(sql, params)

    def executemany(self, sql: str, params: list[tuple[object, ...]]) -> None:
        self._cursor.executemany(sql, params)

    def first(self, sql: str, params: Sequence[object] = ()) -> Any:
        self._cursor.execute(sql, params)
        return self._cursor.fetchone()

    def commit(self) -> None:
        self._connection.commit()

    def close(self) -> None:
        self._cursor.close()

    def release(self) -> None:
        """Close a reader's connection (``Database.kept_engine``'s: no pool takes it back)."""
        self._cursor.close()
        self._pooled.close()

    def discard(self) -> None:
        """Close a reader's broken connection for good."""
        self._pooled.invalidate()


def _first_parameter(statements: _DriverStatements) -> str:
    """The placeholder of a statement's one parameter: ``$1`` (psycopg's raw cursor) or ``?`` (sqlite3)."""
    return "$1" if statements.placeholder == "$" else statements.placeholder


class _AppendReceipts:
    def __init__(self, statements: _DriverStatements):
        self._x = statements

    def add(self, receipts: Sequence[StoredReceipt]) -> None:
        if receipts:
            add_receipts(self._x, receipts)

    def exists(self, receipt_id: str) -> bool:
        return (
            self._x.first(f"SELECT 1 FROM receipts WHERE receipt_id = {_first_parameter(self._x)}", (receipt_id,))
            is not None
        )


class _AppendAudit:
    def __init__(self, statements: _DriverStatements):
        self._x = statements

    def heads(self) -> tuple[tuple[int, bytes] | None, HeadMemo | None]:
        return audit_heads(self._x)

    def newest_before(self, seq: int) -> tuple[int, bytes] | None:
        return audit_newest_before(self._x, seq)

    def first_after(self, seq: int) -> int | None:
        return audit_first_after(self._x, seq)

    def break_at(self, purpose: str, *, before: int) -> tuple[int, bytes] | None:
        return audit_break_at(self._x, purpose, before=before)

    def witnessed(self, *, consents_here: int = 0, requests_here: int = 0) -> bool:
        return audit_witnessed(self._x, consents_here=consents_here, requests_here=requests_here)

    def note_witness(self) -> None:
        note_audit_witness(self._x)

    def set_head_memo(self, memo: HeadMemo) -> None:
        set_head_memo(self._x, memo)

    def hash_at(self, seq: int) -> bytes | None:
        """The hash of access record ``seq``, None when there is none."""
        row = self._x.first(f"SELECT hash FROM access_records WHERE seq = {_first_parameter(self._x)}", (seq,))
        return audit_blob(row[0]) if row else None

    def add(self, records: Sequence[AccessRecord]) -> None:
        if records:
            add_access_records(self._x, records)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        add_checkpoint(self._x, checkpoint)


class AppendWork:
    """The part of a unit of work that group commits use (receipts, the audit chain), on a driver connection."""

    def __init__(self, statements: _DriverStatements, *, before_commit: Callable[[], None] = lambda: None):
        self._x = statements
        self._before_commit = before_commit
        self.dialect = statements.dialect
        self.receipts = _AppendReceipts(statements)
        self.audit = _AppendAudit(statements)
        self.committed = False
        self._after_commit: list[Callable[[], None]] = []
        self._landed_if: list[Callable[[AppendWork], bool]] = []
        self._when_done: list[Callable[[], None]] = []
        self._chain_held = False

    def landed_if(self, check: Callable[[AppendWork], bool]) -> None:
        """How to tell, in another transaction, whether this one committed when its connection was lost at the
        commit (PostgreSQL may have committed what the client never heard back about): ``check`` looks for a row
        that this transaction wrote and no other could have."""
        self._landed_if.append(check)

    def landed(self, other: AppendWork) -> bool:
        """Whether this transaction's rows are in the store, as ``other`` (a later transaction) sees them; False
        when nothing tells (no ``landed_if``)."""
        return any(check(other) for check in self._landed_if)

    def lock_audit_chain(self, *, held: bool = False, within: float | None = None) -> None:
        """As ``UnitOfWork.lock_audit_chain``; ``held``: returns only once the transaction holds the lock (on
        PostgreSQL a round trip: the pipeline otherwise sends the statement on and waits for nothing). Once held, it
        is not asked for again in this transaction."""
        if self.dialect != "postgresql" or self._chain_held:
            return
        if within is not None:
            self.bound_lock_waits(within)
        if held:
            self._x.first(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})")
            self._chain_held = True
        else:
            self._x.execute(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})")

    def bound_lock_waits(self, seconds: float) -> None:
        """PostgreSQL: a lock this transaction waits for after this fails it after ``seconds`` (``lock_timeout``, or
        the role's own if shorter): lock_not_available, nothing committed (``timed_out``: DATABASE_BUSY). Sent with
        what follows (no round trip). SQLite's waits are bounded already (``BUSY_TIMEOUT_MS``)."""
        if self.dialect != "postgresql":
            return
        self._x.execute(bounded_lock_waits(seconds))

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once this transaction has committed (never if it does not)."""
        self._after_commit.append(hook)

    def commit(self) -> None:
        self._before_commit()  # raises StoreGone before the commit: the caller rolls back, no one is answered OK
        self._x.commit()
        self.committed = True
        for hook in self._after_commit:
            hook()

    def when_done(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once this transaction has ended (``close``), whether or not it committed."""
        self._when_done.append(hook)

    def close(self) -> None:
        try:
            self._x.close()
        finally:
            hooks, self._when_done = self._when_done, []
            for hook in hooks:
                hook()


def _configure_postgresql(engine: Engine, store_database: StoreDatabase) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        record.info[OPENED_AT] = time.monotonic()
        try:  # each new connection: one that is to another database than the one opened is never used
            store_database.check(dbapi_connection)
        except BaseException:
            with contextlib.suppress(Exception):
                dbapi_connection.close()
            raise

    @event.listens_for(engine, "checkout")
    def _renew(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # opened before ``Database.renew_connections`` (it may be read-only), or before the thread asked for a new
        # one (``Database.new_connection``): the pool closes it and lends a new one in its place
        if store_database.stale(record.info):
            raise DisconnectionError("opened before the connections were renewed")


def _configure_sqlite(engine: Engine, store_file: StoreFile | None, synchronous: str) -> None:
    if store_file is not None:

        @event.listens_for(engine, "do_connect")
        def _open_existing(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
            store_file.check()  # a file that is not the store opened is not opened (nor made, below)
            cargs[:1] = [store_file.uri]
            cparams["uri"] = True

        @event.listens_for(engine, "commit")
        def _before_commit(_connection: Any) -> None:
            # runs right before the COMMIT: raising here leaves the transaction uncommitted, to be rolled back
            store_file.check()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        if store_file is not None:
            try:  # the path swapped while this connection opened it: it may hold another file
                store_file.check()
            except StoreGone:
                dbapi_connection.close()
                raise
            if not store_file.read_only and not store_file.takes_writes():  # SQLite opened it read-only
                record.info[OPENED_READ_ONLY] = True
            # no checkpoint as it closes, unless its files are checked then (closing)
            if not store_file.read_only and not checkpoint_on_close(dbapi_connection, False, store_file.path):
                _say_no_checkpoint_guard()
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        if store_file is None or not store_file.read_only:  # sets it in the file's header: a write
            cursor.execute("PRAGMA journal_mode=WAL")  # opens the WAL, made if none is there
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        if store_file is not None and not store_file.read_only:
            try:  # the WAL it opened: another than the one this process's other connections hold is not served
                store_file.opened(dbapi_connection)
            except StoreGone:
                store_file.closing(dbapi_connection)
                dbapi_connection.close()
                raise

    if store_file is not None and not store_file.read_only:

        @event.listens_for(engine, "close")
        def _on_close(dbapi_connection: Any, _record: Any) -> None:
            store_file.closing(dbapi_connection)

        @event.listens_for(engine, "close_detached")
        def _on_close_detached(dbapi_connection: Any) -> None:
            store_file.closing(dbapi_connection)

    if store_file is not None and not store_file.read_only:

        @event.listens_for(engine, "checkout")
        def _renew_read_only(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            # a connection opened read-only during an outage, lent once the file takes writes again: the pool
            # closes it and lends a new one (``Database.read_only_for_nothing``); 1-2 µs, for those connections only
            if record.info.get(OPENED_READ_ONLY) and store_file.takes_writes():
                raise DisconnectionError("opened read-only while the store file took no writes")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("zzgw_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
