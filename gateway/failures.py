"""What stops a command or a worker before it can serve, said in one line: a setting, a key store, a database or a
file it cannot use. Shared by ``zzgw`` commands and by ``zzgw serve``'s workers, so that a worker that cannot start
(a replacement during a database outage) logs the same line as the command would, not a traceback."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError, ProgrammingError

from gateway.config import ConfigError, Settings
from gateway.store.database import NoRoomToMigrate, StoreDamaged, StoreGone, StoreUnwritable, insufficient_privilege
from gateway.supervisor import EXIT_STORE_UNAVAILABLE
from signing.errors import KeyStoreError


def said(exc: BaseException, command: str, settings: Settings | None) -> str | None:
    """The line that says why ``command`` cannot go on, or None for an exception that is a defect (to be raised)."""
    if isinstance(exc, ConfigError):
        return f"zzgw: configuration error: {exc}"
    if isinstance(exc, KeyStoreError):  # e.g. a wrong passphrase
        hint = ""
        if "wrong passphrase" in str(exc) and settings is not None:
            # dev mode's file is named in dev mode only: a production store has none (a multi-replica tester)
            generated = f", in dev mode {settings.generated_passphrase_path}" if settings.mode != "production" else ""
            hint = (
                f" (the key passphrase: ZZGW_KEY_PASSPHRASE or ZZGW_KEY_PASSPHRASE_FILE{generated}; a replica needs "
                "the first gateway's)"
            )
        return f"zzgw {command}: {exc}{hint}"
    if isinstance(exc, StoreGone):
        return f"zzgw {command}: {exc}: run it again once the store is back"
    if isinstance(exc, StoreUnwritable):
        return (
            f"zzgw {command}: {exc}: worth starting again once it takes writes (mend the volume or remount it "
            "read-write, or clear the file's attribute; a deployment that mounts it read-only repeats this at every "
            "start until corrected: docs/operations.md, A SQLite file that takes no writes)"
        )
    if isinstance(exc, NoRoomToMigrate | StoreDamaged):
        return f"zzgw {command}: {exc}"
    if isinstance(exc, DatabaseError) and insufficient_privilege(exc.orig):
        # a table the role may not read, met after the schema's revision was read (gateway_facts, members): a
        # traceback of 40 lines had said it (a disaster-recovery tester)
        label = settings.database_label if settings is not None else "the database"
        return f"zzgw: configuration error: {not_its_tables(label, str(exc.orig).strip().splitlines()[0])}"
    if store_unusable(exc):
        label = settings.database_label if settings is not None else "the database"
        orig = getattr(exc, "orig", None)
        reason = (str(orig).strip().splitlines() or [""])[0] if orig is not None else str(exc)
        if "readonly database" in reason and settings is not None and settings.database_url == "":
            # the file may well be writable: SQLite's WAL files are made beside it, in the data directory
            reason += (
                f" (the gateway's user must be able to write the store file and its directory, {settings.data_dir}, "
                "where SQLite keeps zzgw.db-wal and zzgw.db-shm)"
            )
        if "malformed" in reason and settings is not None and settings.database_url == "":
            # a WAL left beside a file restored from a copy is replayed into it: a traceback had not named it (a
            # disaster-recovery tester)
            reason += (
                f" (if a store file was restored from a copy, a zzgw.db-wal left in {settings.data_dir} beside it is "
                "read into it: delete zzgw.db-wal and zzgw.db-shm and put the copy back; else the store file is "
                "damaged: docs/operations.md, Restoring)"
            )
        return f"zzgw {command}: cannot use {label}: {reason}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"zzgw {command}: cannot open {exc.filename}: {exc.strerror}"
    return None


def not_its_tables(database_label: str, said: str) -> str:
    """Why the gateway cannot use the tables of ``database_label``: PostgreSQL refused its role one (``said``)."""
    return (
        f"the database {database_label} refuses the gateway's role its tables ({said}): they belong to another role, "
        "as after a pg_restore run as another user; restore them as the gateway's role (pg_restore --no-owner "
        "--role=ROLE), or make it their owner (docs/operations.md, Restoring)"
    )


_SQLITE_FILE_TROUBLE = (
    "unable to open",
    "file is not a database",
    "disk i/o error",
    "database is locked",
    "attempt to write a readonly database",
    "database or disk is full",
    "database disk image is malformed",
    "malformed database schema",
)
"""What SQLite says of its file, not of a statement: "no such column" or a syntax error is a defect, with its
traceback."""


_OPTIONS_REFUSED = ("bad value for", "invalid connection option")
"""How psycopg begins a ProgrammingError for a connection option of the URL it refuses before connecting."""


def store_unusable(exc: BaseException) -> bool:
    """Whether ``exc`` is the store that cannot be reached or opened, not a defect of a statement: PostgreSQL's
    connection failing (OperationalError, InterfaceError), or SQLite's file (``_SQLITE_FILE_TROUBLE``)."""
    if not isinstance(exc, DatabaseError | InterfaceError):
        return False
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.Error):
        return str(orig).lower().startswith(_SQLITE_FILE_TROUBLE)
    if isinstance(exc, ProgrammingError) and str(orig).startswith(_OPTIONS_REFUSED):
        # a connection option of the URL libpq cannot take (?connect_timeout=abc), or does not know (?sslmod=require:
        # a traceback of 120 lines had said it; a reviewer, R3): said, naming the option (never its value), exit 2
        return True
    return isinstance(exc, OperationalError | InterfaceError)


def store_refused(exc: BaseException) -> bool:
    """Whether ``exc`` is the PostgreSQL server refusing a connection (down, or refusing the role: CONNECT revoked, a
    password changed, the database renamed away), not a SQLite file's trouble nor a setting libpq cannot take: what
    a replacement worker waits out, the same settings having connected at the gateway's start."""
    return isinstance(exc, OperationalError | InterfaceError) and not isinstance(
        getattr(exc, "orig", None), sqlite3.Error
    )


def exit_status(exc: BaseException) -> int:
    """The exit status of a command, or of a worker starting, that ``exc`` stopped (``said`` says why): 75
    (EX_TEMPFAIL, ``EXIT_STORE_UNAVAILABLE``) when the store is only out of reach for a while (``store_unreachable``),
    worth running again; else 2, a setting or file to fix. The same for every command: a nightly `zzgw audit verify`
    had exited 2 for a PostgreSQL restarting, as for a wrong setting, where `zzgw init` exited 75 (a fleet tester);
    `zzgw init` as systemd's start step, and `zzgw serve`, exit 75 so that a service manager starts them again
    (``RestartPreventExitStatus=2`` leaves a setting to the operator: a host that boots faster than its PostgreSQL
    stayed down). A schema change that met a full disk changed nothing and is worth running again once space is
    freed (``NoRoomToMigrate``): 75 as well; so does a SQLite file that takes no writes (``StoreUnwritable``: its
    file system read-only, the file immutable or append-only), which a replacement worker waits out while the others
    serve."""
    if isinstance(exc, NoRoomToMigrate | StoreUnwritable) or store_unreachable(exc):
        return EXIT_STORE_UNAVAILABLE
    return 2


def store_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` is the store out of reach for a while (a database server down or restarting; a SQLite file
    held by another writer), which a worker started again later may find back: not a file that is no database, nor
    a setting, a key or a defect."""
    if not store_unusable(exc):
        return False
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.Error):
        return str(orig).lower().startswith(("database is locked", "unable to open", "disk i/o error"))
    said = str(orig or exc).lower()  # a server that answers, and refuses us, will refuse the next try too
    return not any(lasting in said for lasting in _PG_LASTING)


_PG_LASTING = (
    "password authentication failed",
    "no password supplied",
    "does not exist",  # the role or the database
    "no pg_hba.conf entry",
    "permission denied",
    # a connection option libpq cannot take, said before any connection is tried: a setting, not an outage (a
    # broad "invalid " would have stopped a worker for good at libpq's "received invalid response to SSL
    # negotiation" from a proxy in a failover; found in review)
    "connection is bad: invalid ",  # psycopg's words for an option refused before connecting (port, sslmode,
    # target_session_attrs, gssencmode …; review), not libpq's "received invalid response to SSL negotiation"
    "invalid connection option",
    "invalid value for parameter",
    "bad value for",
    # TLS as the URL asks for it (sslmode, sslrootcert, sslcert …), which the server answering cannot give: the next
    # try meets it again. Taken for an outage (75), the documented init unit tried every 5 s for ever (a reviewer)
    "does not support ssl, but ssl was required",
    "certificate verify failed",
    "does not match host name",
    "root certificate file",  # "… does not exist" (sslrootcert), "could not read …"
    "certificate file",  # the client's (sslcert): "could not open certificate file", "could not load …"
    "private key file",  # the client's (sslkey)
    "alert unknown ca",  # the server refusing the client's certificate (clientcert=verify-ca / verify-full)
    "alert bad certificate",
    "alert certificate required",
    # TLS versions or ciphers that the URL (ssl_min_protocol_version, ssl_max_protocol_version) and the server do not
    # share, as libpq 18 says them: the server refusing the URL's versions, a server answering in a version outside
    # them, versions OpenSSL will not speak at all (TLS 1.0-1.1), no cipher in common. Taken for an outage (75), the
    # init unit tried again for ever, as above (a reviewer, R2). Not OpenSSL's "wrong version number": libpq's words
    # for something other than TLS answering sslnegotiation=direct, which a proxy's error page in a failover is too
    "alert protocol version",
    "unsupported protocol",
    "no protocols available",
    "alert handshake failure",
)
"""What PostgreSQL says when it answers and refuses the connection for good: a setting to fix, not an outage."""
