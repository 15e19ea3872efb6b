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


def test_a_byte_limit_clips_by_utf8_bytes_too() -> None:
    """gRPC sends a refusal's message in bytes, not characters: 𠀀 is 4 of them, 证 3."""
    assert echoed("证" * 10, 400, 30) == "证" * 10
    assert echoed("证" * 11, 400, 30) == "证" * 9 + "…"
    assert echoed("\U00020000" * 100, 400, 30) == "\U00020000" * 6 + "…"
    assert echoed("a" * 300, 200, 1024) == "a" * 199 + "…"  # the character limit still holds
    for before in range(20, 30):
        said = echoed("A" * before + "\u202e" * 3, 400, 30)
        assert len(said.encode()) <= 30 and said.endswith("…")
        body = said[:-1][before:]
        assert body == "\\u202e" * (len(body) // 6), (before, said)
