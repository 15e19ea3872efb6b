"""Domain errors. None of them knows about gRPC; ``gateway.api.errors`` maps them to status codes.

The tree::

    ZzgwError                      root; ``reason`` is a stable, machine-readable code
    ├── InvalidRequestError        bad input; carries FieldViolations       → INVALID_ARGUMENT
    │   └── InvalidLicenseError    a license's content is invalid
    ├── NotFoundError              no such license, type, matter, member    → NOT_FOUND
    ├── AlreadyExistsError         the thing exists already                 → ALREADY_EXISTS
    ├── ConflictError              the request clashes with stored state    → FAILED_PRECONDITION / ABORTED
    │   └── IdempotencyConflictError  request_id reused with other content  → ALREADY_EXISTS
    ├── PermissionDeniedError      the caller may not do this               → PERMISSION_DENIED
    ├── UnauthenticatedError       the caller is not known                  → UNAUTHENTICATED
    ├── ResourceExhaustedError     a limit of the gateway is reached        → RESOURCE_EXHAUSTED
    └── UpstreamUnavailableError   a dependency is down                     → UNAVAILABLE
"""

from __future__ import annotations

import itertools
import re
import traceback
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from gateway.domain.counts import counted


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldViolation:
    """One bad field of a request."""

    field: str
    """Path of the field in the request, e.g. ``holder.code`` or ``fields.legal_representative``."""
    reason: str
    """Stable code, e.g. ``REQUIRED``, ``BAD_CHECK_CHARACTER``."""
    description: str
    """What is wrong, for people (Chinese or English)."""


MAX_ECHO_MESSAGE, MAX_ECHO_DESCRIPTION, MAX_ECHO_FIELD, MAX_VIOLATIONS = 400, 200, 64, 16
"""Characters of a refusal's message, of a violation's description and of its field sent back, and violations sent,
on gRPC and on the console alike: a refusal may echo what the caller sent, and the reply is not to grow with it. On
gRPC the status is also held to a size in bytes (``gateway.api.errors.TRAILERS_BUDGET``), which may send fewer."""


def clip(text: str, limit: int, max_bytes: int | None = None) -> str:
    """``text`` cut to ``limit`` characters, and to ``max_bytes`` bytes of UTF-8 if given, the last an ellipsis."""
    kept = _kept(text, limit, max_bytes)
    return text if kept == len(text) else text[:kept] + "…"


def _kept(text: str, limit: int, max_bytes: int | None) -> int:
    """How many characters of ``text`` to keep: all when it fits ``limit`` characters and ``max_bytes`` bytes of
    UTF-8, else as many as leave room for the ellipsis (3 bytes)."""
    if len(text) <= limit and (max_bytes is None or len(text.encode()) <= max_bytes):
        return len(text)
    kept = limit - 1
    if max_bytes is not None:
        room = max_bytes - len("…".encode())
        sizes = (len(c.encode()) for c in text[:kept])
        kept = next((n for n, total in enumerate(itertools.accumulate(sizes)) if total > room), kept)
    return kept


def visible(text: str) -> str:
    """``text`` with what cannot be seen written as its code point (``\\u202e``, ``\\u001b``): control characters (ESC
    and the rest of C0 and C1, which a terminal acts on), line breaks, format characters (a right-to-left override
    turns the rest of the line around, a zero-width space makes a wrong code look right), unassigned code points.
    Spaces stay (the ideographic one too). For text others wrote, wherever it is shown: a refusal's echo (``echoed``),
    what the command line prints of a receipt file or a gateway's answer."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or unicodedata.category(c) == "Zs" else _code_point(c) for c in text)


def echoed(text: str, limit: int, max_bytes: int | None = None) -> str:
    """``text`` as a refusal sends it back (``clip``), ``visible``: a refusal may echo what the caller sent (没有事项
    …), and a right-to-left override would turn the rest of the line around where a portal or the console shows it,
    a line break start a line of its own."""
    if text.isprintable():
        return clip(text, limit, max_bytes)
    text = visible(text)
    kept = _kept(text, limit, max_bytes)
    if kept == len(text):
        return text
    cut = text[:kept]
    escape = cut.rfind("\\", max(0, len(cut) - 9))  # an escape the cut would split goes whole
    if escape >= 0 and text[escape : escape + 2] in ("\\u", "\\U") and escape + _ESCAPE[text[escape + 1]] > len(cut):
        cut = cut[:escape]
    return cut + "…"


_ESCAPE = {"u": 6, "U": 10}
"""The length of a ``_code_point`` escape by its letter."""


def _code_point(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def more_violations(message: str, violations: int, sent: int = MAX_VIOLATIONS) -> str:
    """``message`` saying how many of ``violations`` were left out past the ``sent`` ones, if any."""
    return message + left_out(violations, sent)


def left_out(violations: int, sent: int = MAX_VIOLATIONS) -> str:
    """What a refusal's message ends with when only ``sent`` of its ``violations`` are sent: （另有N项有误，…）, or
    nothing when none was left out."""
    left = violations - sent
    return f"（另有{left}项有误，and {counted(left, 'more bad field')}）" if left > 0 else ""


_LEFT_OUT = re.compile(r"（另有(\d+)项有误，and \d+ more bad fields?）\Z")


def left_out_of(message: str) -> int:
    """How many violations a refusal's ``message`` says were left out (``left_out``), 0 when it says none: a client
    that has only the item's message and field errors (``zzgw import``) tells the operator of them."""
    said = _LEFT_OUT.search(message)
    return int(said.group(1)) if said else 0


E = TypeVar("E", bound=BaseException)


def detached(error: E) -> E:
    """``error`` without the tracebacks of its chain (its causes and contexts, both), and the frames they went through
    that have finished cleared of their locals. A traceback holds the frames it went through, each its caller's
    (``f_back``), and a frame that holds an error (a local, a list of them: psycopg's connect keeps each attempt's
    error, and raises another) makes a reference cycle that only the collector frees, which the server runs rarely
    (``tune_gc``). Held so, a failed batch item kept its whole batch (1.9 GB after 65,000 items), and a failed call
    its gRPC context, whose HTTP/2 stream then stayed open: after 100 calls failed for a database out of reach, a
    client's connection took no call more, the database back or not (reviewers)."""
    seen: set[int] = set()
    chain: list[BaseException | None] = [error]
    while chain:
        chained = chain.pop()
        if chained is None or id(chained) in seen:
            continue
        seen.add(id(chained))
        if chained.__traceback__ is not None:
            traceback.clear_frames(chained.__traceback__)  # those still running are left as they are
            chained.__traceback__ = None
        chain += [chained.__cause__, chained.__context__]
    return error


class ZzgwError(Exception):
    """Root of every error zzgw raises on purpose."""

    reason = "ZZGW_ERROR"

    def __init__(self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidRequestError(ZzgwError):
    """The request is malformed; ``violations`` says which fields and why."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: Iterable[FieldViolation], message: str | None = None):
        self.violations = tuple(violations)
        first = self.violations[0] if self.violations else None
        super().__init__(
            message or (f"{first.field}: {first.description}" if first else "invalid request"),
            reason=first.reason if first else None,
        )


def bad_page_token() -> InvalidRequestError:
    """INVALID_ARGUMENT / BAD_PAGE_TOKEN on ``page_token``, saying what to do (不是翻页令牌 alone had not): a token
    is good only for the listing that gave it (``gateway.domain.paging``), so the words say so too."""
    return invalid(
        "page_token",
        "BAD_PAGE_TOKEN",
        "翻页令牌无效，或不是本次查询（同一调用方、同一列表和筛选条件）上一页给出的，请不带翻页令牌从第一页重新查询"
        "（not a page token this list gave you with these filters: ask for the first page again, without "
        "page_token）",
    )


def page_token_of_another_catalog() -> InvalidRequestError:
    """BAD_PAGE_TOKEN for a token of a listing in the order of a matter's materials (``ListHolderLicenses``) given
    under a catalog whose materials of the matter were others, or in another order: where it ended is no place in
    the listing now, so read as one it had skipped licenses or listed some twice without a word (a reviewer, R1)."""
    return invalid(
        "page_token",
        "BAD_PAGE_TOKEN",
        "证照目录已变更，本事项所需材料与上一页查询时不同，请不带翻页令牌从第一页重新查询"
        "（the catalog changed: list again from the start, without page_token）",
    )


def invalid(field: str, reason: str, description: str) -> InvalidRequestError:
    """A refusal of one field of a request (``field``, its stable ``reason``, what is wrong in words)."""
    return InvalidRequestError([FieldViolation(field=field, reason=reason, description=description)])


class InvalidLicenseError(InvalidRequestError):
    """The license in an issue or amend request is invalid."""


class NotFoundError(ZzgwError):
    reason = "NOT_FOUND"


class AlreadyExistsError(ZzgwError):
    reason = "ALREADY_EXISTS"


class ConflictError(ZzgwError):
    """The request does not fit the stored state (a forbidden status transition, a stale version)."""

    reason = "CONFLICT"


class IdempotencyConflictError(ConflictError):
    """A ``request_id`` was used before with different content."""

    reason = "REQUEST_ID_REUSED"


class PermissionDeniedError(ZzgwError):
    reason = "PERMISSION_DENIED"


class UnauthenticatedError(ZzgwError):
    reason = "UNAUTHENTICATED"


class ResourceExhaustedError(ZzgwError):
    reason = "RESOURCE_EXHAUSTED"


class UpstreamUnavailableError(ZzgwError):
    reason = "UPSTREAM_UNAVAILABLE"


class DeadlineExceededError(ZzgwError):
    """The call's client stopped waiting before its work was committed: nothing was."""

    reason = "DEADLINE_EXCEEDED"
