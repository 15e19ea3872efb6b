"""What a refusal sends back of what the caller sent (``gateway.domain.errors.echoed``)."""

from __future__ import annotations

import pytest

from gateway.domain.errors import echoed


def test_printable_text_is_only_clipped() -> None:
    assert echoed("没有事项 370100-QYKZ-001（unknown matter）", 400) == "没有事项 370100-QYKZ-001（unknown matter）"
    assert echoed("证照　编号 x", 400) == "证照　编号 x"  # the ideographic space and the ASCII one stay
    assert echoed("a" * 300, 200) == "a" * 199 + "…"


def test_what_cannot_be_seen_is_its_code_point() -> None:
    assert echoed("A\u202eB\r\nC\u200bD\x00E\U000e0001", 400) == "A\\u202eB\\u000d\\u000aC\\u200bD\\u0000E\\U000e0001"


@pytest.mark.parametrize("before", range(190, 200))
def test_the_clip_never_splits_an_escape(before: int) -> None:
    """Found in review: a cut inside ``\\u202e`` left ``\\u…``. An escape the limit would split goes whole."""
    for invisible, escape in (("\u202e", "\\u202e"), ("\U000e0001", "\\U000e0001")):
        said = echoed("A" * before + invisible * 3, 200)
        assert len(said) <= 200 and said.endswith("…")
        body = said[:-1][before:]
        assert body == escape * (len(body) // len(escape)), (before, said[before:])
