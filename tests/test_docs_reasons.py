"""Every reason code the gateway can send a client in ``google.rpc.ErrorInfo`` is listed in docs/api.md's section
"Reason codes", under the status code it comes with, and that section lists no code the gateway never sends.

The codes are read from the source, not from a list kept by hand: every call in ``gateway/`` that makes a refusal (a
``ZzgwError`` class, ``invalid``, ``FieldViolation``, ``ErrorInfo``, or a function of the package that hands its own
``reason`` parameter to one of them, such as ``gateway.domain.validation._v``) has its reason read from the call: a
string, strings chosen between (``"REQUIRED" if … else "UNKNOWN_ACTION"``), a string constant of the module, or the
codes a helper of the module is given and returns (``_reason(problem, "BAD_USCC")``); a class called without one
sends its own ``reason``. Its status is the one ``gateway.api.errors`` gives the class (an ``InvalidRequestError``
sends its first violation's reason, so every field violation's reason is an ``INVALID_ARGUMENT`` one). A reason made
at run time is one of ``MADE_AT_RUN_TIME``, which says what it can be; one that the scan cannot read and that table
does not know fails the test, naming the call, so a new kind of refusal cannot go unlisted.

To add a code: add its row (``| `CODE` | when | what to do |``) to the table of its status in docs/api.md's
"Reason codes".
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.api.errors import _CODES
from gateway.domain.sharing import Reason
from signing.pdf import PdfError, TimestampUnavailable

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api.md"
SECTION = "## Reason codes"

_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


def _subclasses(cls: type[PdfError]) -> Iterator[type[PdfError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


PDF_REASONS = tuple(sorted({c.reason for c in _subclasses(PdfError) if c is not TimestampUnavailable}))
"""What ``gateway.domain.pdf_refusals.pdf_refusal`` hands on: a ``signing.pdf.PdfError``'s reason (a
``TimestampUnavailable`` is caught before it, and said TSA_UNAVAILABLE)."""

MADE_AT_RUN_TIME: dict[tuple[str, str], tuple[str, ...]] = {
    # a denial of the sharing policy (Deny.error): any of its reasons but RECORD_NOT_INTACT, which only
    # ListHolderLicenses' states give
    ("gateway/domain/sharing.py", "self.reason.value"): tuple(
        r.value for r in Reason if r is not Reason.RECORD_NOT_INTACT
    ),
    ("gateway/domain/pdf_refusals.py", "error.reason"): PDF_REASONS,
    ("gateway/api/authorization.py", "f'UNKNOWN_{field.upper()}'"): ("UNKNOWN_VIEW", "UNKNOWN_STATE"),
    ("gateway/services/seals.py", "f'SEAL_{status.value}'"): ("SEAL_REVOKED", "SEAL_EXPIRED"),
    # a stored record that fails its check (VerificationService.record_finding) is not shared: RECORD_ALTERED or
    # STATUS_ALTERED for a record edited in the store (_EDITED_IN_STORE), RECORD_NOT_INTACT for any other finding
    ("gateway/services/sharing.py", "reason"): ("RECORD_ALTERED", "STATUS_ALTERED", "RECORD_NOT_INTACT"),
    # an issuer's write refused on a record edited in the store (IssuanceService._altered_as)
    ("gateway/services/issuance.py", "reason"): ("RECORD_ALTERED", "STATUS_ALTERED"),
}
"""Reasons the scan cannot read from the call that makes them, by file and the reason's expression: what each can
be."""

HANDED_ON = {
    ("gateway/api/errors.py", "error.reason"),  # a ZzgwError's, into ErrorInfo
    ("gateway/api/errors.py", "v.reason"),  # a violation's, into BadRequest
    ("gateway/domain/errors.py", "first.reason if first else None"),  # InvalidRequestError: its first violation's
    ("gateway/services/members.py", "refused.reason"),  # an UnauthenticatedError said again in other words
    ("gateway/services/members.py", "said.reason"),  # a revoked certificate's refusal (_no_longer), cached
}
"""Reasons handed on unchanged from a refusal made (and scanned) elsewhere."""

_MEMBERS_COMMANDS = (
    "issue_console_token", "issue_clerk_token", "revoke", "restore", "end_clerk_token", "clerks", "renew", "retire",
)  # fmt: skip
_MEMBERS_CHECKS = ("_clerk_name", "_clerk_name_every_check_takes", "_renewable", "_in_force")
OPERATOR_COMMANDS = {("gateway/services/members.py", name) for name in (*_MEMBERS_COMMANDS, *_MEMBERS_CHECKS)}
"""Functions only ``zzgw members`` and ``zzgw console-token`` call: their refusals are said to the operator on the
command line, never sent to a client."""

_STATUS_OF_CLASS = tuple((cls.__name__, code.name) for cls, code in _CODES)
"""``gateway.api.errors``' table, by class name, in its order."""


@dataclass(frozen=True)
class _Maker:
    position: int | None
    """Where the reason is among the positional arguments; None: by keyword only."""
    status: str
    own: str | None = None
    """The reason of a class called without one."""


def _py_files() -> list[Path]:
    return sorted(p for p in (ROOT / "gateway").rglob("*.py") if "migrations" not in p.parts)


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _error_classes(trees: dict[str, ast.Module]) -> dict[str, _Maker]:
    """The ``ZzgwError`` classes of ``gateway/``, each with its status and its own ``reason`` (None for an
    ``InvalidRequestError``, which sends its first violation's)."""
    bases: dict[str, list[str]] = {}
    own: dict[str, str] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
                for item in node.body:
                    if (
                        isinstance(item, ast.Assign)
                        and [t.id for t in item.targets if isinstance(t, ast.Name)] == ["reason"]
                        and isinstance(item.value, ast.Constant)
                        and isinstance(item.value.value, str)
                    ):
                        own[node.name] = item.value.value

    def lineage(name: str) -> list[str]:
        return [name, *(a for b in bases.get(name, ()) for a in lineage(b))]

    classes: dict[str, _Maker] = {}
    for name in bases:
        line = lineage(name)
        status = next((code for cls, code in _STATUS_OF_CLASS if cls in line), None)
        if "ZzgwError" in line and status is not None:
            reason = None if "InvalidRequestError" in line else next(own[n] for n in line if n in own)
            classes[name] = _Maker(None, status, reason)
    return classes


def _reason_argument(call: ast.Call, position: int | None) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "reason":
            return keyword.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _makers(trees: dict[str, ast.Module]) -> dict[str, _Maker]:
    """The callables that make a refusal: the error classes, ``invalid``, ``FieldViolation``, ``ErrorInfo``, and
    every function of ``gateway/`` that hands its own ``reason`` parameter to one of them."""
    makers = _error_classes(trees)
    makers |= {
        "invalid": _Maker(1, "INVALID_ARGUMENT"),
        "FieldViolation": _Maker(None, "INVALID_ARGUMENT"),
        "ErrorInfo": _Maker(None, "INTERNAL"),  # gateway.api.errors.internal_status; the others' are handed on
    }
    grown = True
    while grown:
        grown = False
        for tree in trees.values():
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef) or fn.name in makers:
                    continue
                params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
                if "reason" not in params:
                    continue
                for call in (c for c in ast.walk(fn) if isinstance(c, ast.Call) and _callee(c) in makers):
                    made = makers[_callee(call)]
                    argument = _reason_argument(call, made.position)
                    if isinstance(argument, ast.Name) and argument.id == "reason":
                        makers[fn.name] = _Maker(params.index("reason"), made.status)
                        grown = True
                        break
    return makers


def _constants(tree: ast.Module) -> dict[str, str]:
    """A module's string constants (``DOCUMENT_EXCEEDS_PERMIT = "DOCUMENT_EXCEEDS_PERMIT"``)."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _read(
    expression: ast.expr, constants: dict[str, str], helpers: dict[str, ast.FunctionDef]
) -> tuple[str, ...] | None:
    """The reasons ``expression`` may be, when the call says them; None when it is made at run time."""
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return (expression.value,)
    if isinstance(expression, ast.Name) and expression.id in constants:
        return (constants[expression.id],)
    if isinstance(expression, ast.IfExp):
        body, orelse = _read(expression.body, constants, helpers), _read(expression.orelse, constants, helpers)
        return body + orelse if body is not None and orelse is not None else None
    if isinstance(expression, ast.Call) and _callee(expression) in helpers:
        # a helper of the module choosing a code: the codes it is given and those it returns
        given = [c for a in expression.args for c in _read(a, constants, helpers) or ()]
        returned = [
            c.value
            for node in ast.walk(helpers[_callee(expression)])
            if isinstance(node, ast.Return) and node.value is not None
            for c in ast.walk(node.value)
            if isinstance(c, ast.Constant) and isinstance(c.value, str)
        ]
        codes = tuple(c for c in given + returned if _CODE.fullmatch(c))
        return codes or None
    return None


def _calls(tree: ast.AST, function: str = "") -> Iterator[tuple[ast.Call, str]]:
    """Every call of ``tree``, with the name of the function it is in."""
    for node in ast.iter_child_nodes(tree):
        inner = node.name if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else function
        if isinstance(node, ast.Call):
            yield node, function
        yield from _calls(node, inner)


def _status_beside(function: ast.FunctionDef | None, default: str) -> str:
    """The status a function building an ``ErrorInfo`` sends it with: the ``code_pb2.NAME`` of its
    ``status_pb2.Status(code=…)`` (``unknown_method_status``: UNIMPLEMENTED), else ``default``."""
    for node in ast.walk(function) if function is not None else ():
        if (
            isinstance(node, ast.keyword)
            and node.arg == "code"
            and isinstance(node.value, ast.Attribute)
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "code_pb2"
        ):
            return node.value.attr
    return default


@functools.cache
def sent_reasons() -> dict[str, frozenset[str]]:
    """Every reason the gateway can send in ``ErrorInfo``, each with the statuses it comes with."""
    trees = {p.relative_to(ROOT).as_posix(): ast.parse(p.read_text(encoding="utf-8")) for p in _py_files()}
    makers = _makers(trees)
    found: dict[str, set[str]] = {}
    unread: list[str] = []
    for path, tree in trees.items():
        constants = _constants(tree)
        helpers = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        for call, function in _calls(tree):
            made = makers.get(_callee(call))
            if made is None or (path, function) in OPERATOR_COMMANDS:
                continue
            argument = _reason_argument(call, made.position)
            if argument is None:
                if made.own is not None:  # the class's own reason
                    found.setdefault(made.own, set()).add(made.status)
                continue
            if isinstance(argument, ast.Name) and argument.id == "reason" and function in makers:
                continue  # a maker handing on its own parameter: its callers are read
            codes = _read(argument, constants, helpers)
            said = ast.unparse(argument)
            if codes is None:
                if (path, said) in HANDED_ON:
                    continue
                if (path, said) not in MADE_AT_RUN_TIME:
                    unread.append(f"{path}:{call.lineno} {_callee(call)}(reason={said})")
                    continue
                codes = MADE_AT_RUN_TIME[path, said]
            status = _status_beside(functions.get(function), made.status) if _callee(call) == "ErrorInfo" else None
            for code in codes:
                found.setdefault(code, set()).add(status or made.status)
    assert not unread, (
        "reasons made at run time that tests/test_docs_reasons.py cannot read: say in MADE_AT_RUN_TIME what each "
        "can be (or in HANDED_ON that it hands on another refusal's)\n" + "\n".join(unread)
    )
    return {code: frozenset(statuses) for code, statuses in found.items()}


def documented_reasons(text: str) -> dict[str, set[str]]:
    """The codes docs/api.md's "Reason codes" section lists, each with the statuses of the tables it is in: the
    first cell of each table row, in backticks, under a heading naming the status in backticks."""
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else len(text)]
    listed: dict[str, set[str]] = {}
    status = ""
    for line in section.splitlines():
        heading = re.match(r"#{3,4} `([A-Z_]+)`", line)
        if heading:
            status = heading.group(1)
        row = re.match(r"\| `([A-Z0-9_]+)`", line)
        if row:
            assert status, f"{row.group(1)} is listed before any status heading"
            assert status not in listed.get(row.group(1), set()), f"{row.group(1)} is listed twice under {status}"
            listed.setdefault(row.group(1), set()).add(status)
    return listed


def differences(sent: dict[str, frozenset[str]], listed: dict[str, set[str]]) -> list[str]:
    """What the reference says wrong: a reason sent with a status it is not listed under, one listed under a status
    it is never sent with."""
    said = [f"{code} is sent as {status} but not listed under it" for code in sorted(sent)
            for status in sorted(sent[code] - listed.get(code, set()))]  # fmt: skip
    said += [f"{code} is listed under {status} but never sent so" for code in sorted(listed)
             for status in sorted(listed[code] - sent.get(code, set()))]  # fmt: skip
    return said


def test_the_api_reference_lists_every_reason_the_gateway_sends() -> None:
    wrong = differences(sent_reasons(), documented_reasons(API.read_text(encoding="utf-8")))
    assert not wrong, f"docs/api.md's {SECTION!r}:\n" + "\n".join(wrong)


def test_the_scan_finds_the_refusals_clients_meet_first() -> None:
    """The scan reads the reasons of every kind of refusal: the interceptors', the services', the validation
    helpers', the sharing policy's, a class's own (it had missed a kind of call if one were absent)."""
    sent = sent_reasons()
    expected = {
        "NO_CREDENTIAL": "UNAUTHENTICATED", "ROLE_NOT_ALLOWED": "PERMISSION_DENIED",
        "TOO_MANY_ITEMS": "INVALID_ARGUMENT", "TOO_MANY_WATCHERS": "RESOURCE_EXHAUSTED",
        "BAD_CURSOR": "INVALID_ARGUMENT", "SEAL_NOT_FOUND": "NOT_FOUND", "NO_SEAL_CA": "UNAVAILABLE",
        "SEAL_KEY_NOT_HERE": "FAILED_PRECONDITION", "BAD_CHECK_CHARACTER": "INVALID_ARGUMENT",
        "BAD_USCC": "INVALID_ARGUMENT", "UNKNOWN_ACTION": "INVALID_ARGUMENT",
        "NOT_MATTER_DEPARTMENT": "PERMISSION_DENIED", "REQUEST_ID_REUSED": "ALREADY_EXISTS",
        "CONSENT_USED_UP": "PERMISSION_DENIED", "DOCUMENT_EXCEEDS_PERMIT": "PERMISSION_DENIED",
        "NOT_A_PDF": "INVALID_ARGUMENT", "CALLER_DEADLINE_PASSED": "DEADLINE_EXCEEDED", "INTERNAL": "INTERNAL",
        "VERSION_LIMIT": "FAILED_PRECONDITION", "DATE_TOO_EARLY": "INVALID_ARGUMENT",
    }  # fmt: skip
    for code, status in expected.items():
        assert status in sent.get(code, frozenset()), code
    assert "MEMBER_NOT_FOUND" not in sent  # zzgw members' alone


@pytest.mark.parametrize(
    ("code", "status"),
    [("ROLE_NOT_ALLOWED", "PERMISSION_DENIED"), ("BAD_USCC", "INVALID_ARGUMENT"), ("NO_SEAL_CA", "UNAVAILABLE")],
)
def test_a_reason_taken_out_of_the_reference_is_found_missing(code: str, status: str) -> None:
    text = API.read_text(encoding="utf-8")
    heading = text.index(f"\n### `{status}`", text.index(SECTION))
    row = text.index(f"\n| `{code}`", heading)
    without = text[:row] + text[text.index("\n", row + 1) :]
    assert differences(sent_reasons(), documented_reasons(without)) == [
        f"{code} is sent as {status} but not listed under it"
    ]


def test_a_reason_the_gateway_never_sends_is_found_invented() -> None:
    text = API.read_text(encoding="utf-8")
    row = text.index("\n| `ROLE_NOT_ALLOWED`")
    invented = text[:row] + "\n| `ROLE_NOT_LIKED` | never | nothing |" + text[row:]
    assert differences(sent_reasons(), documented_reasons(invented)) == [
        "ROLE_NOT_LIKED is listed under PERMISSION_DENIED but never sent so"
    ]
