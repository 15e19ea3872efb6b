"""What ``zzgw demo`` prints of the holder's view (用证记录): each use in Chinese, the clerk named only when there is
one (an issuer's own read of its license names none), and an issuer's read not called a 核验."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import gateway.services
from adapters.demo import _ACTIONS, _DECISIONS, run_demo
from gateway.domain.audit import AuditAction
from gateway.domain.verification import ClaimResult
from gateway.services.authorization import AccessRequestState
from signing.results import CheckResult
from tests.conftest import RunningGateway

SERVICES = Path(gateway.services.__file__).parent


def test_the_holders_view_says_each_use_in_chinese_without_empty_parentheses(running: RunningGateway) -> None:
    lines: list[str] = []
    run_demo(running.channel, out=lines.append)
    view = lines[next(i for i, line in enumerate(lines) if "用证记录" in line) + 1 :]
    assert view and all(re.match(r"  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", line) for line in view), view
    text = "\n".join(view)
    # the civil affairs bureau's own fetch of the document it printed: its read, answered, with no clerk and no purpose
    assert re.search(r"  济南市民政局  发证部门调阅证照文件：已答复$", text, re.MULTILINE), text
    # the window's checks: its clerk, the purpose, and the verdict in words
    assert text.count("济南市不动产登记中心 (不动产登记中心 3号窗口)  不动产转移登记：核验婚姻状况  ") == 2
    assert "核验证照：通过" in text and "核验证照文件：通过" in text
    for raw in ("()", "ANSWERED", "LISTED", "PASSED", "FAILED", "核验ANSWERED", "GET_LICENSE"):
        assert raw not in text, raw


def written_decisions() -> tuple[set[str], set[str]]:
    """What the services write as an access record's decision: the strings in every ``decision=`` argument, and in
    the ``decision`` argument (a str parameter) given by position to a service function that takes one
    (``_consent_entry(..., "GRANTED", ...)``); and, apart, each expression that passes on a decision made elsewhere
    (``state.value``)."""
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sorted(SERVICES.glob("*.py"))]
    takes: dict[str, int] = {}  # a function with a parameter named decision: its position (self not counted)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = [a for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
                for at, argument in enumerate(arguments):
                    # a record's decision is a str (an AccessDecision or a policy's Decision is not one)
                    if argument.arg == "decision" and ast.unparse(argument.annotation or ast.Constant("")) == "str":
                        takes[node.name] = at
    words: set[str] = set()
    passed: set[str] = set()
    for tree in trees:
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            given = [k.value for k in call.keywords if k.arg == "decision"]
            if name in takes and len(call.args) > takes[name]:
                given.append(call.args[takes[name]])
            for expression in given:
                strings = {
                    n.value for n in ast.walk(expression) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                }
                words |= strings
                if not strings:
                    passed.add(ast.unparse(expression))
    return words, passed


def test_every_decision_the_services_write_has_a_word_in_the_holders_view() -> None:
    """A decision the demo has no word for is printed as its code (持证人授权：GRANTED): each one the services write
    has a word, those written as strings found in the services' source, so that a new one cannot be missed."""
    words, passed = written_decisions()
    assert {"ANSWERED", "GRANTED", "WITHDRAWN", "PERMIT", "DENY", "LISTED"} <= words  # the scan finds them
    # a decision passed on from an enum: its values (a request decided is no longer PENDING); a new kind of
    # expression fails here, to be added with its values
    from_enums = {
        "state.value": {s.value for s in AccessRequestState} - {"PENDING"},
        "outcome.verdict.value": {r.value for r in CheckResult},
        "answer.result.name": {r.name for r in ClaimResult},
    }
    forwarded = {"decision", "answer.decision"}  # a parameter or a field handed on, written by the calls above
    assert passed <= forwarded | set(from_enums), passed - forwarded - set(from_enums)
    written = words.union(*from_enums.values())
    assert not written - set(_DECISIONS), sorted(written - set(_DECISIONS))
    actions = {a.value for a in AuditAction} - {AuditAction.UNRECOGNISED.value}  # that one is read, never written
    assert not actions - set(_ACTIONS), sorted(actions - set(_ACTIONS))
