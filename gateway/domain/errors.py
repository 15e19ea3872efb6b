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

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


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
on gRPC (``gateway.api.errors``: a status travels in trailing metadata, which a client refuses past 16 KiB) and on
the console alike: a refusal may echo what the caller sent, and the reply is not to grow with it."""


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def visible(text: str) -> str:
    """``text`` with what cannot be seen written as its code point (``\\u202e``, ``\\u001b``): control characters (ESC
    and the rest of C0 and C1, which a terminal acts on), line breaks, format characters (a right-to-left override
    turns the rest of the line around, a zero-width space makes a wrong code look right), unassigned code points.
    Spaces stay (the ideographic one too). For text others wrote, wherever it is shown: a refusal's echo (``echoed``),
    what the command line prints of a receipt file or a gateway's answer."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or unicodedata.category(c) == "Zs" else _code_point(c) for c in text)


def echoed(text: str, limit: int) -> str:
    """``text`` as a refusal sends it back (``clip``), ``visible``: a refusal may echo what the caller sent (没有事项
    …), and a right-to-left override would turn the rest of the line around where a portal or the console shows it,
    a line break start a line of its own."""
    if text.isprintable():
        return clip(text, limit)
    text = visible(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    escape = cut.rfind("\\", max(0, len(cut) - 9))  # an escape the cut would split goes whole
    if escape >= 0 and text[escape : escape + 2] in ("\\u", "\\U") and escape + _ESCAPE[text[escape + 1]] > len(cut):
        cut = cut[:escape]
    return cut + "…"


_ESCAPE = {"u": 6, "U": 10}
"""The length of a ``_code_point`` escape by its letter."""


def _code_point(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def more_violations(message: str, violations: int) -> str:
    """``message`` saying how many violations past ``MAX_VIOLATIONS`` were left out, if any."""
    left = violations - MAX_VIOLATIONS
    return f"{message}（另有{left}项有误，and {left} more bad fields）" if left > 0 else message


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
    """INVALID_ARGUMENT / BAD_PAGE_TOKEN on ``page_token``, saying what to do (不是翻页令牌 alone had not)."""
    return invalid(
        "page_token",
        "BAD_PAGE_TOKEN",
        "翻页令牌无效，请从第一页重新查询（not a page token: ask for the first page again）",
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
