"""Log lines of faults that every call meets alike (the store down, a seal's key unreadable): said at most once an
interval, with how many were left out since.

>>> lines = OncePer(5.0)
>>> if (left := lines.allow("STORE_FULL")) is not None:   # doctest: +SKIP
...     log.warning("…%s", f"; {left} more calls since the last such line" if left else "")

And a database error's values kept out of every log and traceback (``database_details_cut``, ``excepthook``): its
class, SQLSTATE and the names of what it concerns, and its message only where it quotes no value.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import TracebackType

from gateway.domain.counts import counted


class OncePer:
    """A line at most once per ``seconds`` for each key, saying how many were left out since: during a database
    outage every call had logged its own WARNING (some 200 lines in 10 s; found by a crash tester)."""

    def __init__(self, seconds: float, clock: Callable[[], float] | None = None):
        """``clock``: seconds by which the interval is counted (default: ``time.monotonic``, looked up at each line)."""
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._left: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None to leave this one out; else how many were left out since the last (0: none)."""
        now = self._clock() if self._clock is not None else time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._seconds:
                self._left[key] = self._left.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._left.pop(key, 0)


def since(left: int, what: str = "call") -> str:
    """What a line that ``OncePer`` allowed adds of the ones it left out since the last (``what`` each was):
    ``; 1 more call since the last such line``, ``; 3 more calls …``."""
    return f"; {counted(left, 'more ' + what)} since the last such line" if left else ""


def database_error_said(error: BaseException) -> str | None:
    """What a log may say of ``error`` when it is a database driver's error (psycopg's, sqlite3's) or SQLAlchemy's over
    one: the driver's class, its SQLSTATE (SQLite's error name) and the table, column and constraint it names; None
    for any other exception. The database's message only where it quotes no value: SQLite's, but for a constraint's
    or a datum's (those say only the constraint's names); PostgreSQL's primary message outside SQLSTATE classes 22
    (data exception: ``invalid input syntax for type integer: "…"``) and 23 (integrity: its ``DETAIL`` says ``Failing
    row contains (…)`` or ``Key (col)=(value) already exists``, a holder's row, which SQLAlchemy's
    ``hide_parameters`` does not hide: a reviewer, R2), never its ``DETAIL``; psycopg's own words of a connection it
    could not make or lost; and SQLAlchemy's statement, whose values are bound parameters. A failed migration or a
    schema drift had been said ``SQLITE_ERROR`` or a bare SQLSTATE, not naming the table or column (a review of the
    fixes, R4). SQLAlchemy's ``PendingRollbackError`` quotes an earlier error whole: said by its class alone."""
    if _is_pending_rollback(error):
        return "(the message left out: it quotes an earlier database error, which may quote values)"
    statement_error = _is_sqlalchemy_statement_error(error)
    driver = getattr(error, "orig", None) if statement_error else error
    if driver is None or not _is_driver_error(driver):
        return None
    said: list[str] = []
    if (state := getattr(driver, "sqlstate", None)) is not None:
        said.append(f"SQLSTATE {state}")
    if (name := getattr(driver, "sqlite_errorname", None)) is not None:
        said.append(name)
    diag = getattr(driver, "diag", None)
    for what in ("table", "column", "constraint"):
        if (named := getattr(diag, f"{what}_name", None) if diag is not None else None) is not None:
            said.append(f"{what} {named}")
    if isinstance(driver, sqlite3.Error) and (names := _SQLITE_NAMED.match(_text(driver))) is not None:
        said.append(names[1])
    head = ", ".join(said)
    if (message := _message_without_values(driver)) is not None:
        text = f"{head}: {message}" if head else message
    else:
        text = head + (" " if head else "") + "(the database's message left out: it may quote values)"
    if driver is error:
        return text
    statement = getattr(error, "statement", None)
    sql = f" [SQL: {_clipped(statement)}]" if isinstance(statement, str) and statement else ""
    return f"({type(driver).__module__}.{type(driver).__qualname__}) {text}{sql}"


_SQLITE_NAMED = re.compile(
    r"^((?:UNIQUE|NOT NULL|CHECK|FOREIGN KEY|PRIMARY KEY) constraint failed(?:: [\w.]+(?:, [\w.]+)*)?)$"
)
"""SQLite's message of a constraint, which names the constraint or the columns, never a value."""

_SQLITE_QUOTING = ("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_TOOBIG", "SQLITE_RANGE")
"""SQLite's errors of a constraint or a datum, whose message is not kept (a constraint's names are said apart)."""

_POSTGRES_QUOTING = ("22", "23")
"""PostgreSQL's SQLSTATE classes whose primary message may quote a value: data exception and integrity violation."""

STATEMENT_SAID = 1000
"""The most characters of a statement a log says (a multi-row INSERT's placeholders run long)."""


def _message_without_values(driver: BaseException) -> str | None:
    """The database's message when it quotes no value (``database_error_said``), on one line; else None."""
    if isinstance(driver, sqlite3.Error):
        name = getattr(driver, "sqlite_errorname", None) or ""
        if isinstance(driver, sqlite3.IntegrityError | sqlite3.DataError) or name.startswith(_SQLITE_QUOTING):
            return None
        return _one_line(_text(driver))
    state = getattr(driver, "sqlstate", None)
    if state is None:  # psycopg's own words: a connection it could not make, or lost, naming its host and port
        psycopg = sys.modules.get("psycopg")
        if psycopg is not None and isinstance(driver, psycopg.OperationalError | psycopg.InterfaceError):
            return _one_line(_text(driver))
        return None
    if not isinstance(state, str) or state[:2] in _POSTGRES_QUOTING:
        return None
    primary = getattr(getattr(driver, "diag", None), "message_primary", None)
    return _one_line(primary) if isinstance(primary, str) and primary else None


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # an exception whose str() raises is said by its class
        return ""


def _one_line(text: str) -> str | None:
    text = " ".join(text.split())
    return _clipped(text) if text else None


def _clipped(text: str) -> str:
    return text if len(text) <= STATEMENT_SAID else text[:STATEMENT_SAID] + "…"


def _is_driver_error(error: object) -> bool:
    if isinstance(error, sqlite3.Error):
        return True
    psycopg = sys.modules.get("psycopg")  # imported by the engine that raised one; none to look for without
    return psycopg is not None and isinstance(error, psycopg.Error)


def _is_sqlalchemy_statement_error(error: object) -> bool:
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.StatementError)


def _is_pending_rollback(error: object) -> bool:
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.PendingRollbackError)


def _inner(error: BaseException) -> list[BaseException]:
    """The exceptions ``error`` leads to: its cause, its context, a group's members (an ``exceptions`` attribute
    that is none, or no sequence, has none)."""
    members = getattr(error, "exceptions", None)
    grouped = [each for each in members if isinstance(each, BaseException)] if isinstance(members, tuple | list) else []
    return [each for each in (error.__cause__, error.__context__, *grouped) if isinstance(each, BaseException)]


def _holds_database_error(error: BaseException) -> bool:
    """Whether ``error`` or any exception it leads to is a database error: walked without recursion, as a chain may
    run deeper than Python's recursion limit."""
    seen: set[int] = set()
    waiting = [error]
    while waiting:
        each = waiting.pop()
        if id(each) in seen:
            continue
        seen.add(id(each))
        if database_error_said(each) is not None:
            return True
        waiting.extend(_inner(each))
    return False


def exception_text(kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> str:
    """``error``'s traceback as ``traceback.format_exception`` writes it, its frames and chain whole, but each
    database error in it (``__cause__``, ``__context__``, a group's) said by ``database_error_said``, not by its
    message."""
    if error is None:
        return "".join(traceback.format_exception(kind, error, trace))
    formatted = traceback.TracebackException(type(error), error, trace, compact=True)
    _said_without_values(formatted, error, set())
    return "".join(formatted.format()).rstrip("\n")


def _said_without_values(formatted: traceback.TracebackException, error: BaseException, seen: set[int]) -> None:
    waiting = [(formatted, error)]  # without recursion, as ``_holds_database_error``
    while waiting:
        formatted, error = waiting.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if (said := database_error_said(error)) is not None:
            # the line after the frames, "Class: message": private (3.11-3.13), and
            # tests/api/test_database_error_logs.py fails should a Python to come name it otherwise
            formatted._str = said  # type: ignore[attr-defined]
        if formatted.__cause__ is not None and isinstance(error.__cause__, BaseException):
            waiting.append((formatted.__cause__, error.__cause__))
        if formatted.__context__ is not None and isinstance(error.__context__, BaseException):
            waiting.append((formatted.__context__, error.__context__))
        members = getattr(error, "exceptions", None)
        if formatted.exceptions and isinstance(members, tuple | list):
            waiting.extend(
                (inner_formatted, inner)
                for inner_formatted, inner in zip(formatted.exceptions, members, strict=False)
                if isinstance(inner, BaseException)
            )


def database_details_cut(record: logging.LogRecord) -> bool:
    """A handler's filter: a record whose exception (``exc_info``) is or holds a database error has its traceback
    written by ``exception_text``, the frames kept and the database's message left out; an exception among its
    arguments (``log.error("… %s", exc)``) or as its message is said the same way. Any record passes, and the filter
    never raises out of the logging call (a filter that raised had taken the caller's ``log.error`` with it, and the
    INTERNAL answer after it): should cutting fail, the traceback and any exception among the arguments are said by
    their class alone."""
    try:
        _cut(record)
    except Exception as failure:  # logging must go on, without what may quote values
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = (
                f"{_qualified(record.exc_info[1])} (its traceback left out: leaving the database's message out of it "
                f"failed, {type(failure).__name__})"
            )
        if isinstance(record.msg, BaseException):
            record.msg = _qualified(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_qualified(arg) if isinstance(arg, BaseException) else arg for arg in record.args)
    return True


def _qualified(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


def _cut(record: logging.LogRecord) -> None:
    if record.exc_info and record.exc_info[1] is not None and _holds_database_error(record.exc_info[1]):
        record.exc_text = exception_text(*record.exc_info)  # the formatter writes this text, not its own
    if isinstance(record.msg, BaseException) and (said := database_error_said(record.msg)) is not None:
        record.msg = said
    if isinstance(record.args, tuple) and any(isinstance(arg, BaseException) for arg in record.args):
        record.args = tuple(
            (database_error_said(arg) or arg) if isinstance(arg, BaseException) else arg for arg in record.args
        )


def excepthook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """``sys.excepthook``: an exception no one caught, written as Python writes it, a database error's message left
    out (``exception_text``): a defect of a ``zzgw`` command (a migration meeting a row it cannot take) had printed
    PostgreSQL's ``DETAIL`` with the row."""
    try:
        text = exception_text(kind, error, trace)
    except Exception as failure:  # Python would write the traceback as it is, the database's message with it
        text = f"{kind.__module__}.{kind.__qualname__} (its traceback left out: {type(failure).__name__})"
    print(text, file=sys.stderr, flush=True)


def thread_excepthook(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook``, as ``excepthook`` for a thread's exception (``SystemExit`` ends it quietly)."""
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else threading.get_ident()
    print(f"Exception in thread {name}:", file=sys.stderr)
    excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def hide_database_details() -> None:
    """Write the tracebacks of exceptions no one caught, in this process and its threads, and of records logged with
    no handler set up, without a database error's message (``excepthook``, ``database_details_cut``)."""
    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    # a command that set up no handler writes its WARNING and ERROR records through logging's last resort
    logging.lastResort.addFilter(database_details_cut)  # type: ignore[union-attr]
