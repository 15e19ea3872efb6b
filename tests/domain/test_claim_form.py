"""How CheckClaim compares a claimed value with the issued one (``claim_form``)."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.domain.catalog import FieldSpec, ValueType
from gateway.domain.verification import claim_form, claimed_value_form, claimed_value_refusal


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


def field(value_type: ValueType, **more: object) -> FieldSpec:
    return FieldSpec(key="k", label="信息项", value_type=value_type, **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value_type", "claimed", "issued"),
    [
        (ValueType.CITIZEN_ID, "37010319640226040x", "37010319640226040X"),  # as printed; x is X on paper
        (ValueType.CITIZEN_ID, "370103 19640226 040X", "37010319640226040X"),  # in groups
        (ValueType.CITIZEN_ID, "３７０１０３１９６４０２２６０４０ｘ", "37010319640226040X"),
        (ValueType.USCC, "91370100 00000000 0r", "91370100000000000R"),
        (ValueType.REGION, " 370 102 ", "370102"),
        (ValueType.DATE, "2019-5-20", "2019-05-20"),
        (ValueType.DATE, "2019/05/20", "2019-05-20"),
        (ValueType.DATE, "2019.5.20", "2019-05-20"),
        (ValueType.DATE, "20190520", "2019-05-20"),
        (ValueType.DATE, "2019年5月20日", "2019-05-20"),
        (ValueType.DATE, "２０１９年５月２０日", "2019-05-20"),
        (ValueType.DECIMAL, "52.0", "52"),
        (ValueType.DECIMAL, "５２.５０", "52.5"),
        (ValueType.INTEGER, "3200", "3200"),
    ],
)
def test_a_claimed_code_date_or_number_is_compared_as_what_it_names(
    value_type: ValueType, claimed: str, issued: str
) -> None:
    form = claimed_value_form(value_type)
    assert form(claimed) == form(issued)
    assert claimed_value_refusal(field(value_type), claimed, dt.date(2026, 12, 6)) is None


@pytest.mark.parametrize(
    ("value_type", "claimed", "other"),
    [
        (ValueType.DATE, "2019-5-21", "2019-05-20"),
        (ValueType.DATE, "2019-5/20", "2019-05-20"),  # not a form of it: compared, and refused as no date below
        (ValueType.CITIZEN_ID, "370103196402260411", "37010319640226040X"),
        (ValueType.DECIMAL, "52.01", "52"),
    ],
)
def test_another_code_date_or_number_stays_another(value_type: ValueType, claimed: str, other: str) -> None:
    form = claimed_value_form(value_type)
    assert form(claimed) != form(other)


@pytest.mark.parametrize(
    ("spec", "claimed", "reason"),
    [
        (field(ValueType.CITIZEN_ID), "370103196402260401", "BAD_CHECK_CHARACTER"),
        (field(ValueType.CITIZEN_ID), "37010319640226040", "BAD_CITIZEN_ID"),
        (field(ValueType.USCC), "91370100000000000a", "BAD_CHECK_CHARACTER"),
        (field(ValueType.DATE), "2019-02-30", "BAD_DATE"),
        (field(ValueType.DATE), "2019-13-01", "BAD_DATE"),
        (field(ValueType.DATE), "not a date", "BAD_DATE"),
        (field(ValueType.DATE), "2019-5/20", "BAD_DATE"),
        (field(ValueType.INTEGER), "3200克", "BAD_INTEGER"),
        (field(ValueType.DECIMAL), "五十二", "BAD_DECIMAL"),
        (field(ValueType.REGION, max_length=2), "37010", "BAD_REGION_CODE"),  # judged by its type, not its length
    ],
)
def test_a_claimed_value_no_license_could_hold_is_refused_on_its_field(
    spec: FieldSpec, claimed: str, reason: str
) -> None:
    refused = claimed_value_refusal(spec, claimed, dt.date(2026, 12, 6))
    assert refused is not None and (refused.field, refused.reason) == ("fields.k", reason)


@pytest.mark.parametrize(
    ("spec", "claimed"),
    [
        (field(ValueType.ENUM, choices=("家庭户", "集体户")), "农业家庭户"),
        (field(ValueType.ENUM, choices=("男", "女")), "男性"),
        (field(ValueType.ENUM, choices=("A1", "C1"), max_length=2), "C1E"),
        (field(ValueType.REGION, max_length=2), "370102"),
        (field(ValueType.DATE, max_length=8), "2019-05-20"),
        (field(ValueType.DECIMAL, max_length=2), "52.5"),
    ],
)
def test_a_claimed_value_is_not_refused_for_what_the_catalog_chose_today(spec: FieldSpec, claimed: str) -> None:
    """A license issued before the catalog tightened a field (a STRING made an ENUM, a shorter max_length: "licenses
    issued before still verify", catalog.md) holds a value the field's choices or length no longer allow: its claim
    is compared, not refused NOT_A_CHOICE or TOO_LONG, which would tell the clerk to claim what it does not say (a
    reviewer)."""
    assert claimed_value_refusal(spec, claimed, dt.date(2026, 12, 6)) is None


def test_a_choice_typed_in_either_width_is_the_choice() -> None:
    spec = field(ValueType.ENUM, choices=("有限责任公司（自然人独资）", "其他"))
    assert claimed_value_refusal(spec, "有限责任公司(自然人独资)", dt.date(2026, 12, 6)) is None
