"""How CheckClaim compares a claimed value with the issued one (``claim_form``)."""

from __future__ import annotations

import pytest

from gateway.domain.verification import claim_form


@pytest.mark.parametrize(
    ("claimed", "issued"),
    [
        ("济南(测试)有限公司", "济南（测试）有限公司"),  # an input method in either width
        ("济南Ｃａｆé\u3000食品", "济南Café 食品"),
        ("济南Cafe\u0301  食品 ", "济南Café 食品"),  # composed; runs of spaces one
    ],
)
def test_the_same_text_typed_in_either_width_compares_equal(claimed: str, issued: str) -> None:
    assert claim_form(claimed) == claim_form(issued)


@pytest.mark.parametrize(
    ("claimed", "issued"),
    [
        ("1号楼", "①号楼"),  # a registered name may be written with them: not folded (NFKC would)
        ("XII栋", "Ⅻ栋"),
        ("济南Cafe 食品", "济南Café 食品"),
        ("济南café 食品", "济南Café 食品"),
        ("\u8c48", "\uf900"),  # a compatibility ideograph stays what it is
    ],
)
def test_other_differences_stay_differences(claimed: str, issued: str) -> None:
    assert claim_form(claimed) != claim_form(issued)
