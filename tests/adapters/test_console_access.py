"""The clerk's console in a real browser (``tests.adapters.test_console_browser``'s chromium), for a keyboard and
screen-reader clerk on the hall's 1366×768 screen, and at 200 % zoom: a refusal seen with its field, a focus ring on a
refused field, each refusal heard once and tied to its field, headings to jump to, names for every button, the idle
sign-out warned of, and a quick way from 输入证照 to the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.adapters.test_console_browser import CHROMIUM
from tests.adapters.test_console_browser import browser as browser  # the browser test's fixtures
from tests.adapters.test_console_browser import page as page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")


def test_a_refused_field_shows_the_focus_ring(page: Any) -> None:
    """A refused field had the same red outline whether it had the focus or not: its red ring is a shadow now, and
    the focus ring an outline of its own colour (a keyboard clerk)."""
    page.fill("#query", "12345678")
    page.press("#query", "Enter")
    page.locator("#message", has_text="请选择证照类型").wait_for()
    style = "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineColor, s.boxShadow]; }"
    focused = page.eval_on_selector("#type-code", style)
    page.keyboard.press("Tab")
    blurred = page.eval_on_selector("#type-code", style)
    assert blurred[0] == "none" and "rgb(183, 28, 28)" in blurred[2]  # red, without the focus
    assert focused[0] == "solid" and focused[1] != "rgb(183, 28, 28)" and "rgb(183, 28, 28)" in focused[2]
