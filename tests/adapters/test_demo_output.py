"""What ``zzgw demo`` prints of the holder's view (用证记录): each use in Chinese, the clerk named only when there is
one (an issuer's own read of its license names none), and an issuer's read not called a 核验."""

from __future__ import annotations

import re

from adapters.demo import run_demo
from tests.conftest import RunningGateway


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
