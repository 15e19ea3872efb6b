"""``validate_issue`` against the bootstrap catalog: defaults, every violation at once, each value type, 一数一源."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

import pytest

from gateway.bootstrap import samples
from gateway.domain.catalog import Catalog, FieldSpec, ValueType
from gateway.domain.errors import FieldViolation, InvalidLicenseError, InvalidRequestError, PermissionDeniedError
from gateway.domain.identifiers import half_width
from gateway.domain.model import Holder, LicenseDraft, Member, Role
from gateway.domain.validation import (
    check_fields,
    check_text,
    checked_claimed_holder_code,
    checked_holder_code,
    serial_personal_data,
    validate_issue,
)
from gateway.services.members import load_bootstrap_catalog, load_demo_members

TODAY = dt.date(2025, 1, 1)
MARKET = "11370100993701011T"  # 济南市市场监督管理局
POLICE = "1137010099370102XJ"  # 济南市公安局
CIVIL = "113701009937010548"  # 济南市民政局
HEALTH = "113701009937010623"  # 济南市卫生健康委员会: issues 出生医学证明
TAX = "11370100993701097M"  # consumer only
BIRTH_CERTIFICATE = "1110000099100006XH001"

CATALOG: Catalog = load_bootstrap_catalog()
MEMBERS: dict[str, Member] = {m.code: m for m in load_demo_members()}


def draft(record: dict[str, Any]) -> LicenseDraft:
    """A sample in its JSON Lines form as the draft the API would make of it."""
    holder = record.get("holder", {})
    return LicenseDraft(
        request_id=record.get("request_id", ""),
        type_code=record.get("type_code", ""),
        license_number=record.get("license_number", ""),
        holder_name=holder.get("name", ""),
        holder_code_type=holder.get("code_type", ""),
        holder_code=holder.get("code", ""),
        issue_date=record.get("issue_date", ""),
        valid_from=record.get("valid_from", ""),
        valid_until=record.get("valid_until", ""),
        region_code=record.get("region_code", ""),
        fields=dict(record.get("fields", {})),
        serial=record.get("serial", ""),
    )


def with_fields(record: dict[str, Any], **changes: str) -> dict[str, Any]:
    return {**record, "fields": {**record["fields"], **changes}}


def violations(record: dict[str, Any], issuer: str) -> set[tuple[str, str]]:
    with pytest.raises(InvalidLicenseError) as caught:
        validate_issue(draft(record), CATALOG, MEMBERS[issuer], TODAY)
    return {(v.field, v.reason) for v in caught.value.violations}


def birth_certificate() -> dict[str, Any]:
    """出生医学证明: the one bootstrap type with INTEGER, DECIMAL and REGION fields (there is no sample for it)."""
    born = dt.date(2024, 1, 5)
    child = samples.citizen_id(11, born)
    return {
        "request_id": "bc-1",
        "type_code": BIRTH_CERTIFICATE,
        "license_number": "Q370012345",
        "holder": {"name": "王小明", "code_type": "111", "code": child},
        "issue_date": "2024-01-08",
        "fields": {
            "child_name": "王小明",
            "gender": "男",
            "birth_date": born.isoformat(),
            "gestational_weeks": "39",
            "birth_weight_g": "3250",
            "birth_length_cm": "50.5",
            "birth_place": "370102",
            "birth_facility": "济南市妇幼保健院",
            "mother_name": "李芳",
            "mother_citizen_id": samples.citizen_id(12, dt.date(1992, 4, 30)),
            "issuing_institution": "济南市妇幼保健院",
        },
    }


# --- a valid request -------------------------------------------------------------------------------------------


def test_valid_sample_passes_with_defaults_applied() -> None:
    record = samples.business_license(1)
    valid = validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY)
    assert valid.license_type.name == "营业执照"
    assert valid.license_number == record["license_number"]
    assert valid.holder == Holder(name=record["holder"]["name"], code_type="001", code=record["holder"]["code"])
    assert valid.issue_date == dt.date(2024, 3, 1)
    assert valid.valid_from == valid.issue_date  # no valid_from: the issue date
    assert valid.valid_until is None  # 营业执照 does not expire
    assert valid.region_code == "370100"  # no region: the issuer's
    assert valid.serial == ""
    assert dict(valid.fields) == record["fields"]


def test_empty_fields_are_dropped_and_values_trimmed() -> None:
    record = with_fields(samples.business_license(2), approved_on="", business_term="  长期  ")
    valid = validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY)
    assert "approved_on" not in valid.fields
    assert valid.fields["business_term"] == "长期"


def test_uscc_is_upper_cased_in_holder_and_fields() -> None:
    record = samples.business_license(987_654_321)
    code = record["holder"]["code"]
    assert code != code.lower(), "the sample USCC should carry letters for this test to mean anything"
    record = with_fields({**record, "holder": {**record["holder"], "code": code.lower()}}, uscc=code.lower())
    valid = validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY)
    assert valid.holder.code == code and valid.fields["uscc"] == code


def test_explicit_dates_and_region_are_kept() -> None:
    record = {**samples.food_permit(4), "valid_from": "2024-05-11", "region_code": "370102", "serial": "ABC123"}
    valid = validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY)
    assert (valid.issue_date, valid.valid_from, valid.valid_until) == (
        dt.date(2024, 5, 10), dt.date(2024, 5, 11), dt.date(2029, 5, 9))  # fmt: skip
    assert valid.region_code == "370102" and valid.serial == "ABC123"


@pytest.mark.parametrize(("record", "issuer"), [
    (samples.business_license(5), MARKET), (samples.food_permit(5), MARKET), (samples.id_card(5), POLICE),
    (samples.marriage_certificate(5), CIVIL), (birth_certificate(), HEALTH),
], ids=["business_license", "food_permit", "id_card", "marriage_certificate", "birth_certificate"])  # fmt: skip
def test_every_sample_is_valid_for_its_issuer(record: dict[str, Any], issuer: str) -> None:
    assert validate_issue(draft(record), CATALOG, MEMBERS[issuer], TODAY).license_type.code == record["type_code"]


# --- every violation at once -------------------------------------------------------------------------------------


def test_every_violation_is_collected_at_once() -> None:
    record = samples.business_license(6)
    record = {
        **record,
        "request_id": "has spaces",
        "license_number": "",
        "holder": {"name": "", "code_type": "001", "code": "91370100MA3C4K7L6N"},
        "issue_date": "2024-02-30",
        "region_code": "990000",
        "serial": "ab-c",
        "fields": {**record["fields"], "established_on": "soon", "shoe_size": "42", "legal_representative": ""},
    }
    assert violations(record, MARKET) == {
        ("request_id", "BAD_REQUEST_ID"),
        ("license_number", "REQUIRED"),
        ("holder.name", "REQUIRED"),
        ("holder.code", "BAD_CHECK_CHARACTER"),
        ("issue_date", "BAD_DATE"),
        ("region_code", "BAD_REGION_CODE"),
        ("serial", "BAD_SERIAL"),
        ("fields.established_on", "BAD_DATE"),
        ("fields.shoe_size", "UNKNOWN_FIELD"),
        ("fields.legal_representative", "REQUIRED"),
    }


def test_the_error_names_the_first_violation() -> None:
    record = {**samples.food_permit(7), "request_id": "", "license_number": ""}
    with pytest.raises(InvalidLicenseError) as caught:
        validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY)
    error = caught.value
    assert error.reason == "REQUIRED" and error.violations[0].field == "request_id"
    assert all(isinstance(v, FieldViolation) and v.description for v in error.violations)


def test_unknown_type_stops_before_the_fields() -> None:
    record = {**samples.business_license(8), "type_code": "111000009910000354999", "request_id": ""}
    assert violations(record, MARKET) == {("request_id", "REQUIRED"), ("type_code", "UNKNOWN_LICENSE_TYPE")}


DATE_CASES = [
    ("issue date in the future", {"issue_date": "2025-01-02"}, ("issue_date", "ISSUE_DATE_IN_FUTURE")),
    ("issue date today is fine", {"issue_date": "2025-01-01"}, None),
    ("a system's empty date", {"issue_date": "0001-01-01"}, ("issue_date", "ISSUE_DATE_TOO_EARLY")),
    ("issue date before 1900", {"issue_date": "1899-12-31"}, ("issue_date", "ISSUE_DATE_TOO_EARLY")),
    ("issue date in 1900 is fine", {"issue_date": "1900-01-01", "valid_until": "1904-12-31"}, None),
    ("validity before issue", {"valid_until": "2024-05-09"}, ("valid_until", "VALIDITY_BEFORE_ISSUE")),
    ("validity before start", {"valid_from": "2024-06-01", "valid_until": "2024-05-31"},
     ("valid_until", "VALIDITY_BEFORE_START")),
    ("expiring type without end", {"valid_until": ""}, ("valid_until", "REQUIRED")),
    ("date with time", {"issue_date": "2024-05-10T00:00"}, ("issue_date", "BAD_DATE")),
    ("compact date", {"valid_from": "20240510"}, ("valid_from", "BAD_DATE")),
    ("a system's empty start", {"valid_from": "0001-01-01"}, ("valid_from", "DATE_TOO_EARLY")),
    ("start before 1900", {"valid_from": "1899-12-31"}, ("valid_from", "DATE_TOO_EARLY")),
    ("start in 1900, long before the issue, is fine", {"valid_from": "1900-01-01"}, None),
]  # fmt: skip


@pytest.mark.parametrize(("what", "change", "expected"), DATE_CASES, ids=[c[0] for c in DATE_CASES])
def test_dates(what: str, change: dict[str, str], expected: tuple[str, str] | None) -> None:
    record = {**samples.food_permit(9), **change}
    if expected is None:
        validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY)
    else:
        assert violations(record, MARKET) == {expected}, what


def newborn(born: str, issued: str = "2025-01-01") -> dict[str, Any]:
    """A 出生医学证明 of a child born on ``born`` without a 公民身份号码 yet (其他): its birth date is the field's
    alone."""
    record = with_fields(birth_certificate(), birth_date=born)
    return {**record, "holder": {**record["holder"], "code_type": "099", "code": "TMP-2025-0001"}, "issue_date": issued}


PAST_EVENT_CASES = [
    # (what, record, issuer, violations)
    ("a child born tomorrow", newborn("2025-01-02"), HEALTH, {("fields.birth_date", "DATE_IN_FUTURE")}),
    ("a child born next year", newborn("2026-01-09"), HEALTH, {("fields.birth_date", "DATE_IN_FUTURE")}),
    ("a child born today", newborn("2025-01-01"), HEALTH, set()),
    ("issued before the birth", newborn("2024-12-20", issued="2024-12-01"), HEALTH,
     {("fields.birth_date", "BORN_AFTER_ISSUE")}),
    ("issued on the day of the birth", newborn("2024-12-01", issued="2024-12-01"), HEALTH, set()),
    ("established in 2099", with_fields(samples.business_license(50), established_on="2099-01-01"), MARKET,
     {("fields.established_on", "DATE_IN_FUTURE")}),
    ("approved tomorrow", with_fields(samples.business_license(51), approved_on="2025-01-02"), MARKET,
     {("fields.approved_on", "DATE_IN_FUTURE")}),
    ("established in 999", with_fields(samples.business_license(52), established_on="0999-01-01"), MARKET,
     {("fields.established_on", "DATE_TOO_EARLY")}),
    ("established before 1900", with_fields(samples.business_license(53), established_on="1899-12-31"), MARKET,
     {("fields.established_on", "DATE_TOO_EARLY")}),
    ("established in 1900", with_fields(samples.business_license(54), established_on="1900-01-01"), MARKET, set()),
    ("married next year", with_fields(samples.marriage_certificate(55), registration_date="2026-01-01"), CIVIL,
     {("fields.registration_date", "DATE_IN_FUTURE")}),
    ("a spouse born tomorrow", with_fields(samples.marriage_certificate(56), wife_birth_date="2025-01-02"), CIVIL,
     {("fields.wife_birth_date", "DATE_IN_FUTURE")}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "record", "issuer", "expected"), PAST_EVENT_CASES, ids=[c[0] for c in PAST_EVENT_CASES]
)
def test_a_date_that_states_a_past_event_is_not_after_today_nor_before_1900(
    what: str, record: dict[str, Any], issuer: str, expected: set[tuple[str, str]]
) -> None:
    """A field's date states what happened (出生, 成立日期, 登记日期): a 出生医学证明 of a child born next year, a
    营业执照 established in 2099 or 999, had been sealed and shared (a time tester), as an issue date is not. A
    holder's birth date after the issue date is refused too: a certificate issued before the birth."""
    if expected:
        assert violations(record, issuer) == expected, what
    else:
        validate_issue(draft(record), CATALOG, MEMBERS[issuer], TODAY)


def test_a_date_refused_is_said_by_the_fields_label_not_its_value() -> None:
    """Chinese first, naming the field by its catalog label; a birth date is personal data and is not echoed."""
    assert _descriptions(newborn("2025-06-01"), HEALTH) == {
        ("fields.birth_date", "DATE_IN_FUTURE"): "出生日期晚于今天（fields.birth_date is after today）"
    }
    assert _descriptions(newborn("2024-12-20", issued="2024-12-01"), HEALTH) == {
        ("fields.birth_date", "BORN_AFTER_ISSUE"): "出生日期晚于发证日期（fields.birth_date is after the issue date）"
    }
    old = with_fields(samples.business_license(57), established_on="0001-01-01")
    assert _descriptions(old, MARKET) == {
        ("fields.established_on", "DATE_TOO_EARLY"): "成立日期早于 1900-01-01（fields.established_on is before "
        "1900-01-01）"
    }


def test_a_date_labelled_without_its_word_for_date_is_said_as_a_date() -> None:
    """A 居民身份证's face says 出生, not 出生日期: its refusals had read 出生晚于今天, 出生晚于发证日期 (a
    government-service editor). A refusal names the date; a missing field is asked for with its type's name."""
    card = CATALOG.license_types[samples.ID_CARD]
    errors: list[FieldViolation] = []
    check_fields(card, {"birth_date": "2099-01-01"}, errors, partial=True, today=TODAY)
    assert [v.description for v in errors] == ["出生日期晚于今天（fields.birth_date is after today）"]
    errors = []
    check_fields(card, {}, errors, partial=False, today=TODAY)
    assert "请填写居民身份证的“出生”（fields.birth_date is required）" in [v.description for v in errors]


def test_a_field_the_catalog_says_may_be_future_takes_a_later_date() -> None:
    """A deployment's catalog may state a date still to come (a 下次检验日期): ``may_be_future`` lets it be after
    today; it is still not before 1900."""
    permit = CATALOG.license_types[samples.FOOD_PERMIT]
    inspected = FieldSpec(key="next_inspection", label="下次检验日期", value_type=ValueType.DATE, may_be_future=True)
    catalog = Catalog({**CATALOG.license_types, permit.code: replace(permit, fields=(*permit.fields, inspected))})
    record = with_fields(samples.food_permit(58), next_inspection="2027-05-01")
    assert validate_issue(draft(record), catalog, MEMBERS[MARKET], TODAY).fields["next_inspection"] == "2027-05-01"
    with pytest.raises(InvalidLicenseError) as caught:
        validate_issue(draft(with_fields(record, next_inspection="1899-01-01")), catalog, MEMBERS[MARKET], TODAY)
    assert [(v.field, v.reason) for v in caught.value.violations] == [("fields.next_inspection", "DATE_TOO_EARLY")]


def test_a_holder_born_after_the_callers_today_is_refused_whatever_the_wall_clock() -> None:
    """The 公民身份号码's birth date is judged on the date the gateway's clock gives (``today``), with no day's slack:
    a holder born the day after it had been taken (a time tester)."""
    child = samples.citizen_id(13, TODAY + dt.timedelta(days=1))
    record = birth_certificate()
    record = {**record, "holder": {**record["holder"], "code": child}, "issue_date": TODAY.isoformat()}
    record = with_fields(record, birth_date=TODAY.isoformat())
    assert ("holder.code", "BAD_CITIZEN_ID") in violations(record, HEALTH)
    born_today = {**record, "holder": {**record["holder"], "code": samples.citizen_id(13, TODAY)}}
    assert validate_issue(draft(born_today), CATALOG, MEMBERS[HEALTH], TODAY).holder.code[6:14] == "20250101"


def test_a_type_that_does_not_expire_takes_no_validity_end_date() -> None:
    """营业执照 and 结婚证 do not expire (the catalog's ``expires``): an end date sent anyway was stored, and the
    license verified as EXPIRED once it passed (found by a black-box tester). It is refused, naming the type, even
    when it would be a date otherwise wrong."""
    for record, issuer in ((samples.business_license(41), MARKET), (samples.marriage_certificate(41), CIVIL)):
        for until in ("2099-12-31", "2000-01-01", "someday"):
            assert violations({**record, "valid_until": until}, issuer) == {("valid_until", "NOT_EXPIRING_TYPE")}
    assert _descriptions({**samples.business_license(42), "valid_until": "2030-01-01"}, MARKET) == {
        ("valid_until", "NOT_EXPIRING_TYPE"): "营业执照没有有效期截止日期，请勿填写有效期截止日期"
        "（营业执照 licenses carry no validity end date: leave valid_until empty）"
    }
    lifelong = {**samples.id_card(43), "valid_until": ""}  # 居民身份证 expires, 长期 allowed: still none needed
    assert validate_issue(draft(lifelong), CATALOG, MEMBERS[POLICE], TODAY).valid_until is None


LIFELONG_SPELLINGS = ("长期", "长期有效", "9999-12-31", " 长期 ")


@pytest.mark.parametrize("until", LIFELONG_SPELLINGS)
def test_lifelong_is_an_empty_end_date_and_its_spellings_are_refused_with_that_hint(until: str) -> None:
    """A 居民身份证 may be 长期 (the catalog's ``lifelong``), written as an empty valid_until. Written as the card
    prints it, it had been refused as a badly written date, without a word of what to do; written 9999-12-31 it had
    been taken, and printed 至 9999年12月31日 where other cards say 长期 (a time tester). A type that always ends has
    no 长期: 9999-12-31 had been taken for it (a 食品生产许可证 verified ACTIVE for ever; a reviewer), 长期 refused as a
    badly written date; each is NOT_LIFELONG_TYPE, asking for the license's real end."""
    said = (
        f"长期有效请留空：居民身份证的有效期截止日期留空即为长期，不填“{until.strip()}”"
        f"（leave valid_until empty for no end date: an empty one means no end date, not {until.strip()!r}）"
    )
    assert _descriptions({**samples.id_card(44), "valid_until": until}, POLICE) == {
        ("valid_until", "LIFELONG_SPELLED_OUT"): said
    }
    assert _descriptions({**samples.food_permit(45), "valid_until": until}, MARKET) == {
        ("valid_until", "NOT_LIFELONG_TYPE"): f"食品生产许可证没有长期有效期：请填写证照实际的有效期截止日期，"
        f"不填“{until.strip()}”（食品生产许可证 licenses have a validity end: give the license's real valid_until, "
        f"not {until.strip()!r}）"
    }


def test_a_validity_has_an_upper_bound_as_it_has_a_lower_one() -> None:
    """valid_from had no upper bound: 9999-12-30 (a system's far sentinel) was issued, a license NOT_YET_VALID for 8000
    years, as valid_until had none: a 食品生产许可证 ending in 3024 verified ACTIVE for a millennium (a reviewer). A
    start more than a year after today (China) and an end more than 100 years after the issue (or a later start)
    are DATE_TOO_LATE; a year to the day is taken, as are 100 years (29 February: to 1 March)."""
    permit = samples.food_permit(46)
    latest_start = TODAY.replace(year=TODAY.year + 1)
    taken = {**permit, "valid_from": latest_start.isoformat(), "valid_until": "2125-12-31"}
    assert validate_issue(draft(taken), CATALOG, MEMBERS[MARKET], TODAY).valid_from == latest_start
    for start in ((latest_start + dt.timedelta(days=1)).isoformat(), "9999-12-30"):
        assert _descriptions({**permit, "valid_from": start, "valid_until": start}, MARKET) == {
            ("valid_from", "DATE_TOO_LATE"): f"有效期起始日期 {start} 晚于今天起一年（最晚 {latest_start}）"
            f"（valid_from {start} is more than 1 year after today (at the latest {latest_start})）",
        }
    century = {**permit, "issue_date": "2000-02-29", "valid_until": "2100-03-01"}  # 2100 has no 29 February
    assert validate_issue(draft(century), CATALOG, MEMBERS[MARKET], TODAY).valid_until == dt.date(2100, 3, 1)
    assert _descriptions({**century, "valid_until": "2100-03-02"}, MARKET) == {
        ("valid_until", "DATE_TOO_LATE"): "有效期截止日期 2100-03-02 距发证或起始日期超过100年（最晚 2100-03-01）"
        "（valid_until 2100-03-02 is more than 100 years after the issue or start of validity (at the latest "
        "2100-03-01)）"
    }
    later_start = {**permit, "valid_from": "2025-06-01", "valid_until": "2125-06-01"}  # from the later start
    assert validate_issue(draft(later_start), CATALOG, MEMBERS[MARKET], TODAY).valid_until == dt.date(2125, 6, 1)
    back_dated = {**permit, "valid_from": "1950-01-01", "valid_until": "2124-05-11"}  # a renewal's: from the issue
    assert violations(back_dated, MARKET) == {("valid_until", "DATE_TOO_LATE")}
    assert validate_issue(draft({**back_dated, "valid_until": "2124-05-10"}), CATALOG, MEMBERS[MARKET], TODAY)
    card = {**samples.id_card(47), "valid_until": "9999-12-30"}  # a type that may be 长期 is told how to say it
    assert _descriptions(card, POLICE)[("valid_until", "DATE_TOO_LATE")].endswith(
        "；长期有效请留空（valid_until 9999-12-30 is more than 100 years after the issue or start of validity (at the "
        "latest 2120-06-01); leave it empty for no end date）"
    )


# --- value types -------------------------------------------------------------------------------------------------


def _impossible_birth_date_id() -> str:
    first17 = "37010219900230123"  # 30 February
    from gateway.domain.identifiers import citizen_id_check_char

    return first17 + citizen_id_check_char(first17)


def _wrong_check_id(valid: str) -> str:
    return valid[:17] + ("0" if valid[17] != "0" else "1")


FIELD_CASES = [
    # (what, field, value, reason)
    ("ENUM not a choice", "gender", "M", "NOT_A_CHOICE"),
    ("ENUM is case and form sensitive", "gender", "男性", "NOT_A_CHOICE"),
    ("INTEGER with a fraction", "gestational_weeks", "39.5", "BAD_INTEGER"),
    ("INTEGER with letters", "birth_weight_g", "3kg", "BAD_INTEGER"),
    ("INTEGER over 18 digits", "birth_weight_g", "1" * 19, "BAD_INTEGER"),
    ("DECIMAL with 7 places", "birth_length_cm", "50.1234567", "BAD_DECIMAL"),
    ("DECIMAL in exponent form", "birth_length_cm", "5e1", "BAD_DECIMAL"),
    ("DECIMAL with a trailing point", "birth_length_cm", "50.", "BAD_DECIMAL"),
    ("REGION unknown province", "birth_place", "990000", "BAD_REGION_CODE"),
    ("REGION too short", "birth_place", "37010", "BAD_REGION_CODE"),
    ("DATE impossible", "birth_date", "2024-13-01", "BAD_DATE"),
    ("CITIZEN_ID impossible birth date", "mother_citizen_id", _impossible_birth_date_id(), "BAD_CITIZEN_ID"),
    ("CITIZEN_ID wrong check character", "mother_citizen_id",
     _wrong_check_id(samples.citizen_id(12, dt.date(1992, 4, 30))), "BAD_CHECK_CHARACTER"),
    ("CITIZEN_ID too short", "mother_citizen_id", "37010219900307", "BAD_CITIZEN_ID"),
    ("control character in an INTEGER", "gestational_weeks", "3\x009", "BAD_CHARACTERS"),
    ("NUL in a text field", "birth_facility", "济南市\x00妇幼保健院", "BAD_CHARACTERS"),
    ("escape in a text field", "birth_facility", "济南市\x1b妇幼保健院", "BAD_CHARACTERS"),
    ("C1 escape in a text field", "birth_facility", "济南市\x9b妇幼保健院", "BAD_CHARACTERS"),
    ("over-long value", "birth_facility", "院" * 101, "TOO_LONG"),
    ("zero-width space in a text field", "birth_facility", "济南市\u200b妇幼保健院", "BAD_CHARACTERS"),
    ("byte order mark in a text field", "birth_facility", "济南市\ufeff妇幼保健院", "BAD_CHARACTERS"),
    ("soft hyphen in a text field", "birth_facility", "济南市\u00ad妇幼保健院", "BAD_CHARACTERS"),
    ("noncharacter in a text field", "birth_facility", "济南市\uffff妇幼保健院", "BAD_CHARACTERS"),
    ("tag character in a text field", "birth_facility", "济南市\U000e0041妇幼保健院", "BAD_CHARACTERS"),
    ("noncharacter of plane 16 in a text field", "birth_facility", "济南市\U0010ffff妇幼保健院", "BAD_CHARACTERS"),
]  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        "济南市\ue000妇幼保健院",  # a rare character (生僻字) some registries write in the private-use area
        "葛\U000e0100氏妇幼保健院",  # an ideographic variation selector: a rare character's glyph
        "ᠲᠡᠷᠭᠡ\u180eᠡ 妇幼保健院",  # Mongolian: its vowel separator
        "ᠭ\u180b 妇幼保健院",  # Mongolian: a free variation selector
        "ئۇيغۇر\u200f 2024 妇幼保健院",  # Uyghur with a direction mark
        "ئا\u200cئا 妇幼保健院",  # a zero-width non-joiner of Arabic script
    ],
)
def test_what_a_script_needs_stays(value: str) -> None:
    """Free text keeps what China's scripts need, which numbers and names refuse as look-alike material."""
    record = with_fields(birth_certificate(), birth_facility=value)
    assert validate_issue(draft(record), CATALOG, MEMBERS[HEALTH], TODAY).fields["birth_facility"] == value


@pytest.mark.parametrize(("what", "key", "value", "reason"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_bad_field_values(what: str, key: str, value: str, reason: str) -> None:
    assert violations(with_fields(birth_certificate(), **{key: value}), HEALTH) == {(f"fields.{key}", reason)}, what


@pytest.mark.parametrize(("key", "value"), [("gestational_weeks", "-3"), ("birth_length_cm", "50"),
                                            ("birth_length_cm", "49.123456"), ("birth_place", "440106")])  # fmt: skip
def test_good_numbers_and_regions(key: str, value: str) -> None:
    valid = validate_issue(draft(with_fields(birth_certificate(), **{key: value})), CATALOG, MEMBERS[HEALTH], TODAY)
    assert valid.fields[key] == value


def test_holder_citizen_id_with_an_impossible_birth_date() -> None:
    record = birth_certificate()
    record["holder"] = {**record["holder"], "code": _impossible_birth_date_id()}
    assert violations(record, HEALTH) == {("holder.code", "BAD_CITIZEN_ID")}


@pytest.mark.parametrize(
    ("type_name", "code", "refused"),
    [
        ("居民身份证", "37010219930413103", "BAD_CITIZEN_ID"),  # a digit dropped: of 其他's form, but no holder's code
        ("居民身份证", "370102930413103", "BAD_CITIZEN_ID"),  # a 15-digit first-generation number
        ("居民身份证", "91370100MA3C4K7L6M", "BAD_HOLDER_CODE_TYPE"),  # a credit code
        ("居民身份证", "370102199304131038", ""),
        ("居民身份证", "３７０１０２１９９３０４１３１０３８", ""),  # typed in full width
        ("居民身份证", "110105199001010299", ""),  # a 公民身份号码 that is a valid credit code too (1 in 31 of 11…)
        ("出生医学证明", "11010519900101496X", ""),
        ("营业执照", "91370100MA3C4K7L6", "BAD_USCC"),
        ("营业执照", "370102199304131038", "BAD_HOLDER_CODE_TYPE"),  # a right 公民身份号码, of a type it is not
        ("护照", "E12345678", ""),  # a passport number: the passport's holders may have one
        ("护照", "37010219930413103", ""),
        ("护照", "370102199304131030", "BAD_CHECK_CHARACTER"),  # a 公民身份号码 mistyped: a slip, not compared
        ("出生医学证明", "TMP-2024-0001", ""),
    ],
)
def test_a_holder_code_named_with_a_type_is_checked_as_its_holders_codes(
    type_name: str, code: str, refused: str
) -> None:
    (license_type,) = [t for t in CATALOG.license_types.values() if t.name == type_name]
    if not refused:
        assert checked_claimed_holder_code(code, license_type) == half_width(code)
        return
    with pytest.raises(InvalidRequestError) as caught:
        checked_claimed_holder_code(code, license_type)
    assert [(v.field, v.reason) for v in caught.value.violations] == [("holder_code", refused)]
    if type_name == "营业执照" and refused == "BAD_HOLDER_CODE_TYPE":
        assert caught.value.violations[0].description.startswith(
            "营业执照的持证主体代码须为统一社会信用代码，所填为公民身份号码"
        )


def test_a_credit_code_is_no_holder_code_of_a_type_of_permanent_residents() -> None:
    """554 (外国人永久居留身份证) takes any code: a company's credit code claimed of a type whose holders have only
    554 codes is BAD_HOLDER_CODE_TYPE, not compared with the holder's and counted against the department (a
    reviewer); a 公民身份号码 that is a valid credit code too is a citizen's only where 111 is the type's."""
    (id_card,) = [t for t in CATALOG.license_types.values() if t.name == "居民身份证"]
    permanent = replace(id_card, holder_code_types=("554",), license_number_of_holder=False)
    for code in ("91370100MA3C4K7L6M", "110105199001010299"):
        with pytest.raises(InvalidRequestError) as caught:
            checked_claimed_holder_code(code, permanent)
        assert [(v.field, v.reason) for v in caught.value.violations] == [("holder_code", "BAD_HOLDER_CODE_TYPE")]


def test_a_serial_in_lower_case_is_the_identifiers_in_upper_case() -> None:
    """A UUID as most systems print it had been refused "序列号须为…大写字母", while every other identifier is
    case-folded (a standards tester); GB/T 36904 calls the part 流水号."""
    record = {**samples.food_permit(10), "serial": "b4a7b76a473e420b9c18b081ce991ccc"}
    assert validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY).serial == "B4A7B76A473E420B9C18B081CE991CCC"
    with pytest.raises(InvalidLicenseError) as refused:
        validate_issue(draft({**record, "serial": "b4a7-b76a"}), CATALOG, MEMBERS[MARKET], TODAY)
    assert [v.description for v in refused.value.violations if v.field == "serial"] == [
        "流水号须为1至32位数字或字母（serial must be 1-32 characters of 0-9A-Z）"
    ]


def test_what_personal_data_a_serial_holds() -> None:
    """A serial is refused for the license's own personal data anywhere in it: the holder's code or the license
    number when it is a 公民身份号码 (``<number>01``, ``2024<number>`` had passed, as only whole 18-digit runs were
    read: a review of the fixes, R2), a 公民身份号码 or a mobile number a field states, the license number; and for
    being the license number or the holder's code. Digits that only look like a 公民身份号码 or a mobile number are
    a numbering scheme's: region, date and sequence, a 2013-2019 date and sequence (R3)."""
    code = "37010219900101001X"
    for serial in (code, f"ID{code}", f"{code}V1", "A" + code + "B", code + "01", "2024" + code):
        assert serial_personal_data(serial, "", code, today=TODAY) == ("公民身份号码", "a citizen ID number"), serial
        assert serial_personal_data(serial, code.lower(), "", today=TODAY)[0] == "公民身份号码", serial
        wife = {"wife_citizen_id": code.lower()}
        assert serial_personal_data(serial, "J1", "370102198001011234", wife, today=TODAY)[0] == "公民身份号码"
    phone = {"contact": "联系电话：+86 138-0013-8000", "other": "房号 1203 13912345678"}
    for serial in ("13800138000", "8613800138000", "SJ13800138000", "1380013800001", "A13912345678"):
        assert serial_personal_data(serial, "", "", phone, today=TODAY) == ("手机号码", "a mobile number"), serial
        assert serial_personal_data(serial, "", "", today=TODAY) is None, serial  # no field states it
    assert serial_personal_data("SC10637010000010", "sc1063701 0000010", "", today=TODAY)[0] == "证照编号"
    assert serial_personal_data("2024000123", "000123", "", today=TODAY)[0] == "证照编号"
    assert serial_personal_data("12", "12", "", today=TODAY)[0] == "证照编号"
    assert serial_personal_data("2024000012", "12", "", today=TODAY) is None  # a short number, held by chance
    wide = "９１３７０１００ＭＡ３Ｃ４Ｋ７Ｌ６Ｍ"
    assert serial_personal_data("91370100MA3C4K7L6M", "", wide, today=TODAY)[0] == "持证主体代码"
    for serial in (
        "B4A7B76A473E420B9C18B081CE991CCC",
        "AB13800138000CD4E5F60718293A4B5C",
        "3701022019120300012345",
        "137010219900101001X",
        "2024000001",
        "0MWR2CLPAMQZZLSQ1JX6",
        "370100201109195084",  # region, date and sequence that passes as a 公民身份号码: one in 11 of them
        "37010219900101001X",  # a 公民身份号码, but not this license's
        "19092865706",  # a 2013-2019 date and sequence: had been read as a mobile number
        "XK13080338813",
        "13010091113",  # a Hebei region and a sequence
        "13800138000",
        "91370100MA3C4K7L6M01",  # the holder's USCC with a sequence: no personal data
    ):
        assert serial_personal_data(serial, "SC10637010000010", "91370100MA3C4K7L6M", today=TODAY) is None, serial


def test_a_holder_code_typed_in_full_width_is_the_same_code_at_every_entry() -> None:
    """CheckClaim took a code typed through a Chinese input method (３７０１…) while issuance, ListHolderLicenses and
    PrefillForm refused it "须为17位数字加1位数字或X" with 18 digits showing (a standards tester): all check it here,
    and a field of a code's type the same way (a reviewer)."""
    record = birth_certificate()
    code = record["holder"]["code"]
    wide = code.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    assert wide != code and checked_holder_code(wide, code_type="111") == code
    assert checked_holder_code("９１３７０１００ＭＡ３Ｃ４Ｋ７Ｌ６Ｍ", code_type="001") == "91370100MA3C4K7L6M"
    record["holder"] = {**record["holder"], "code": wide}
    assert validate_issue(draft(record), CATALOG, MEMBERS[HEALTH], TODAY).holder.code == code
    key = "mother_citizen_id"
    mother = record["fields"][key]
    record["fields"] = {**record["fields"], key: mother.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})}
    assert validate_issue(draft(record), CATALOG, MEMBERS[HEALTH], TODAY).fields[key] == mother


def test_a_holder_code_given_alone_with_hyphens_is_the_code_without_them() -> None:
    """A 公民身份号码 or credit code pasted with hyphens had been a code of 其他 nobody holds (review holder, R1);
    one of 其他 stored with its hyphens is found by them, one stored without them (a hospital's code) without them."""
    stored = {"N-0123456789ABCDEF", "H20261201047011"}
    held = stored.__contains__
    assert checked_holder_code("370102-19600421-003x", held=held) == "37010219600421003X"
    assert checked_holder_code("913701\uff0d00MA3C4K7L6M", held=held) == "91370100MA3C4K7L6M"
    assert checked_holder_code("913701\u201000MA3C4K7L6M") == "91370100MA3C4K7L6M"  # no store to ask: by form alone
    assert checked_holder_code("N-0123456789ABCDEF", held=held) == "N-0123456789ABCDEF"
    assert checked_holder_code("H2026-1201-047011", held=held) == "H20261201047011"
    assert checked_holder_code("H2026-1201-047012", held=held) == "H2026-1201-047012"  # nothing under either
    assert checked_holder_code("N-0123", code_type="099") == "N-0123"  # a code given with its type as it is
    with pytest.raises(InvalidRequestError) as refused:
        checked_holder_code("370102-19600421-0030", held=held)
    assert [(v.field, v.reason) for v in refused.value.violations] == [("holder_code", "BAD_CHECK_CHARACTER")]


def test_a_15_digit_citizen_id_is_said_to_be_the_old_one() -> None:
    with pytest.raises(InvalidRequestError) as refused:
        checked_holder_code("370102930413103", code_type="111")
    (violation,) = refused.value.violations
    assert (violation.field, violation.reason) == ("holder_code", "BAD_CITIZEN_ID")
    assert violation.description == (
        "公民身份号码为15位的第一代号码，请填写18位号码（holder_code is a 15-digit first-generation number: give the "
        "18-digit one (GB 11643)）"
    )


def test_holder_code_of_another_type_is_checked_loosely() -> None:
    record = birth_certificate()
    record["holder"] = {**record["holder"], "code_type": "099", "code": "TMP-2024-0001"}
    assert validate_issue(draft(record), CATALOG, MEMBERS[HEALTH], TODAY).holder.code == "TMP-2024-0001"
    record["holder"] = {**record["holder"], "code": "临时编号"}
    assert violations(record, HEALTH) == {("holder.code", "BAD_HOLDER_CODE")}


CONTROL_CASES = [
    ("holder.name", lambda r: {**r, "holder": {**r["holder"], "name": "王\x07小明"}}),
    ("license_number", lambda r: {**r, "license_number": "Q37\x1b0012345"}),
    ("license_number", lambda r: {**r, "license_number": "Q37\u200b0012345"}),  # looks like Q370012345
    ("license_number", lambda r: {**r, "license_number": "Q37\u034f0012345"}),  # a combining grapheme joiner
    ("license_number", lambda r: {**r, "license_number": "Q370012345\ufe0f"}),  # a variation selector
    ("holder.name", lambda r: {**r, "holder": {**r["holder"], "name": "王\x85小明"}}),  # C1: next line
    ("holder.name", lambda r: {**r, "holder": {**r["holder"], "name": "\u202e明小王"}}),  # shown reversed
    # prints as 王小明 and matches no claim of 王小明; the field is the plain name, so only the holder's is refused
    ("holder.name", lambda r: {**r, "holder": {**r["holder"], "name": "王\u200b小明"}}),
    ("holder.name", lambda r: {**r, "holder": {**r["holder"], "name": "王小明\u3164"}}),  # a Hangul filler
    ("fields.birth_facility", lambda r: {**r, "fields": {**r["fields"], "birth_facility": "济南\u2067市\u2069医院"}}),
]


@pytest.mark.parametrize(("field", "mutate"), CONTROL_CASES, ids=[c[0] for c in CONTROL_CASES])
def test_control_characters_in_text(field: str, mutate: Any) -> None:
    assert violations(mutate(birth_certificate()), HEALTH) == {(field, "BAD_CHARACTERS")}


SPACES = ["\u3000", "\u00a0", "\u2002", "\u2009", "\u202f", "\u205f"]  # full-width, no-break, en, thin, …


@pytest.mark.parametrize("space", SPACES, ids=[f"U+{ord(c):04X}" for c in SPACES])
def test_a_space_of_any_width_in_a_name_or_text_is_a_plain_space(space: str) -> None:
    """Registers export names as 王　小明 (a Chinese input method's full-width space) or with a no-break space: the
    holder's name was refused as invisible characters while the field stating it was kept as written. Both are kept
    with a plain space, as operator names are, and so agree (DISAGREES_WITH_HOLDER otherwise); a reason too."""
    record = with_fields(birth_certificate(), child_name="王\u3000小明", birth_facility=f"济南市{space}妇幼保健院")
    record["holder"] = {**record["holder"], "name": f"{space}王{space}小明{space}"}
    valid = validate_issue(draft(record), CATALOG, MEMBERS[HEALTH], TODAY)
    assert valid.holder.name == valid.fields["child_name"] == "王 小明"
    assert valid.fields["birth_facility"] == "济南市 妇幼保健院"
    errors: list[FieldViolation] = []
    assert check_text("reason", f"依法{space}吊销", 500, errors) == "依法 吊销" and not errors


@pytest.mark.parametrize(("name", "named"), [
    ("王\u200b小明", "U+200B"), ("王小明\ufeff", "U+FEFF"), ("王\u2060小\u200b明\u200b", "U+2060、U+200B"),
    ("王\u3164小明", "U+3164"), ("王\x07小明", "U+0007"), ("\u202e明小王", "U+202E"), ("\u0301王小明", "U+0301"),
])  # fmt: skip
def test_a_character_refused_in_a_name_is_named(name: str, named: str) -> None:
    """Zero-width, filler, control and direction characters stay refused, and the refusal names them by code point
    (it said only "invisible characters", and a clerk could not find what prints as nothing)."""
    record = birth_certificate()
    record["holder"] = {**record["holder"], "name": name}
    described = _descriptions(record, HEALTH)
    assert set(described) == {("holder.name", "BAD_CHARACTERS")}
    chinese, _, english = described["holder.name", "BAD_CHARACTERS"].rpartition("（")
    assert named in chinese and named.replace("、", ", ") in english


def test_a_character_refused_in_a_text_field_is_named() -> None:
    described = _descriptions(with_fields(birth_certificate(), birth_facility="济南\u200b市\u2067医院\u2069"), HEALTH)
    assert described == {
        ("fields.birth_facility", "BAD_CHARACTERS"): "助产机构名称含有文字方向控制符 U+2067、U+2069"
        "（fields.birth_facility contains bidirectional controls: U+2067, U+2069）"
    }


DISAGREEING = [
    ("the name", "child_name", "王晓明"),
    ("the birth date", "birth_date", "2024-01-06"),
    ("the sex", "gender", "女"),
]


@pytest.mark.parametrize(("what", "key", "value"), DISAGREEING, ids=[c[0] for c in DISAGREEING])
def test_a_field_that_disagrees_with_the_holder_is_refused(what: str, key: str, value: str) -> None:
    """The child's 公民身份号码 says born 2024-01-05, male (digit 17 odd); the holder is 王小明."""
    assert violations(with_fields(birth_certificate(), **{key: value}), HEALTH) == {
        (f"fields.{key}", "DISAGREES_WITH_HOLDER")
    }


def test_the_description_names_the_field_not_the_values() -> None:
    record = with_fields(birth_certificate(), birth_date="2024-01-06", child_name="王晓明")
    with pytest.raises(InvalidLicenseError) as caught:
        validate_issue(draft(record), CATALOG, MEMBERS[HEALTH], TODAY)
    described = {v.field: v.description for v in caught.value.violations}
    assert described == {
        "fields.child_name": "新生儿姓名与持证主体名称不一致"
        "（fields.child_name is not the holder's name (holder.name)）",
        "fields.birth_date": "出生日期与公民身份号码中的出生日期不一致"
        "（fields.birth_date is not the birth date the holder's citizen ID number carries）",
    }


def test_birth_date_and_sex_are_checked_only_against_a_citizen_id() -> None:
    """A newborn registered under a hospital's own number (099) has no 公民身份号码 to carry them; the name still
    must agree."""
    record = with_fields(birth_certificate(), birth_date="2024-01-06", gender="女")
    record["holder"] = {**record["holder"], "code_type": "099", "code": "TMP-2024-0001"}
    assert validate_issue(draft(record), CATALOG, MEMBERS[HEALTH], TODAY).fields["gender"] == "女"
    assert violations(with_fields(record, child_name="王晓明"), HEALTH) == {
        ("fields.child_name", "DISAGREES_WITH_HOLDER")
    }


def test_the_people_a_license_names_agree_with_their_numbers() -> None:
    """A 出生医学证明 whose "mother" was a man, or born after the child, had been issued, and that person could then
    consent for the child (an issuer tester): a co-subject's 公民身份号码 carries the sex the catalog gives the person
    (``person_sex``), their birth date field's date (``person_birth_date``), and a parent's birth before the child's,
    told by the child's number or, for a newborn without one, by the certificate's 出生日期."""
    born_1992 = dt.date(1992, 4, 30)
    record = birth_certificate()
    man, woman = samples.citizen_id(13, born_1992), samples.citizen_id(12, born_1992)
    assert validate_issue(draft(with_fields(record, father_citizen_id=man)), CATALOG, MEMBERS[HEALTH], TODAY)
    with pytest.raises(InvalidLicenseError) as caught:
        validate_issue(draft(with_fields(record, mother_citizen_id=man, father_citizen_id=woman)), CATALOG,
                       MEMBERS[HEALTH], TODAY)  # fmt: skip
    assert {v.field: (v.reason, v.description) for v in caught.value.violations} == {
        "fields.mother_citizen_id": (
            "DISAGREES_WITH_PERSON",
            "母亲有效身份证件号码中的性别为男，与其所属的人不符（应为女）"
            "（fields.mother_citizen_id carries the sex of a man, where it names a woman）",
        ),
        "fields.father_citizen_id": (
            "DISAGREES_WITH_PERSON",
            "父亲有效身份证件号码中的性别为女，与其所属的人不符（应为男）"
            "（fields.father_citizen_id carries the sex of a woman, where it names a man）",
        ),
    }
    the_childs_day = samples.citizen_id(15, dt.date(2024, 1, 5))  # born on the child's day: no parent either
    after = samples.citizen_id(16, dt.date(2024, 2, 1))
    assert violations(with_fields(record, mother_citizen_id=after, father_citizen_id=the_childs_day), HEALTH) == {
        ("fields.mother_citizen_id", "BORN_AFTER_HOLDER"),
        ("fields.father_citizen_id", "BORN_AFTER_HOLDER"),
    }
    newborn = with_fields(record, mother_citizen_id=after)
    newborn["holder"] = {**newborn["holder"], "code_type": "099", "code": "TMP-2024-0001"}
    assert violations(newborn, HEALTH) == {("fields.mother_citizen_id", "BORN_AFTER_HOLDER")}
    assert violations(with_fields(record, mother_citizen_id="370102"), HEALTH) == {
        ("fields.mother_citizen_id", "BAD_CITIZEN_ID")  # no valid number: refused as such, once
    }


def test_a_spouses_number_agrees_with_their_sex_and_birth_date() -> None:
    record = samples.marriage_certificate(7)
    assert validate_issue(draft(record), CATALOG, MEMBERS[CIVIL], TODAY).fields == record["fields"]
    fields = record["fields"]
    swapped = with_fields(
        record, husband_birth_date=fields["wife_birth_date"], wife_citizen_id=fields["husband_citizen_id"]
    )
    with pytest.raises(InvalidLicenseError) as caught:
        validate_issue(draft(swapped), CATALOG, MEMBERS[CIVIL], TODAY)
    assert {(v.field, v.reason, v.description) for v in caught.value.violations} == {
        ("fields.husband_birth_date", "DISAGREES_WITH_PERSON",
         "男方出生日期与男方身份证件号中的出生日期不一致"
         "（fields.husband_birth_date is not the birth date fields.husband_citizen_id carries）"),
        ("fields.wife_citizen_id", "DISAGREES_WITH_PERSON",
         "女方身份证件号中的性别为男，与其所属的人不符（应为女）"
         "（fields.wife_citizen_id carries the sex of a man, where it names a woman）"),
        ("fields.wife_birth_date", "DISAGREES_WITH_PERSON",
         "女方出生日期与女方身份证件号中的出生日期不一致"
         "（fields.wife_birth_date is not the birth date fields.wife_citizen_id carries）"),
    }  # fmt: skip


def test_a_marriage_certificates_holder_is_one_of_the_spouses_it_names() -> None:
    """The catalog's ``holder_among``: a 结婚证 held by a third person is refused on both spouses' fields; the wife
    may hold it as the husband may; a spouse's number that is no 公民身份号码 is refused as such alone (the holder may
    be the one it meant), and so is an empty one (REQUIRED)."""
    record = samples.marriage_certificate(8)
    fields = record["fields"]
    stranger = samples.citizen_id(41, dt.date(1980, 3, 3))
    third = {**record, "holder": {**record["holder"], "code": stranger}}
    assert violations(third, CIVIL) == {
        ("fields.husband_citizen_id", "DISAGREES_WITH_HOLDER"),
        ("fields.wife_citizen_id", "DISAGREES_WITH_HOLDER"),
    }
    wifes = {**record, "holder": {**record["holder"], "code": fields["wife_citizen_id"]}}
    assert validate_issue(draft(wifes), CATALOG, MEMBERS[CIVIL], TODAY).holder.code == fields["wife_citizen_id"]
    assert violations(with_fields(third, wife_citizen_id=fields["wife_citizen_id"][:17] + "0"), CIVIL) <= {
        ("fields.wife_citizen_id", "BAD_CHECK_CHARACTER"),
    }
    assert violations(with_fields(third, wife_citizen_id=""), CIVIL) == {("fields.wife_citizen_id", "REQUIRED")}


def test_a_code_field_agrees_with_the_holder_code_whatever_its_case() -> None:
    record = samples.business_license(3)
    lower = with_fields(record, uscc=record["holder"]["code"].lower())
    assert validate_issue(draft(lower), CATALOG, MEMBERS[MARKET], TODAY).fields["uscc"] == record["holder"]["code"]
    other = samples.uscc(4)
    assert violations(with_fields(record, uscc=other), MARKET) == {("fields.uscc", "DISAGREES_WITH_HOLDER")}


def test_an_id_card_whose_fields_disagree_with_its_number() -> None:
    card = samples.id_card(5)
    code = card["holder"]["code"]
    wrong_sex = "女" if card["fields"]["gender"] == "男" else "男"
    assert violations(
        with_fields(card, gender=wrong_sex, citizen_id=samples.citizen_id(6, dt.date(1990, 1, 1))), POLICE
    ) == {
        ("fields.gender", "DISAGREES_WITH_HOLDER"),
        ("fields.citizen_id", "DISAGREES_WITH_HOLDER"),
    }
    assert validate_issue(draft(card), CATALOG, MEMBERS[POLICE], TODAY).holder.code == code


def test_a_trailing_newline_is_not_accepted_by_a_pattern() -> None:
    """``$`` also matches before a final newline, so patterns must be anchored with ``fullmatch`` or ``\\Z``.

    Through the gateway, serial ``"ABC123\\n"`` passes validation and then fails in ``license_check_char``: a
    ValueError, so INTERNAL for IssueLicense and the whole BatchIssueLicenses stream; region ``"370102\\n"`` is stored.
    """
    record = {**samples.food_permit(10), "request_id": "fp-10\n", "serial": "ABC123\n", "region_code": "370102\n"}
    try:
        validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY)
        found = set()
    except InvalidLicenseError as exc:
        found = {(v.field, v.reason) for v in exc.violations}
    assert found == {("request_id", "BAD_REQUEST_ID"), ("serial", "BAD_SERIAL"), ("region_code", "BAD_REGION_CODE")}, (
        "BUG: patterns ending in '$' accept a trailing newline: gateway/domain/validation.py REQUEST_ID_RE (line 21), "
        "_SERIAL_RE (line 22); gateway/domain/identifiers.py _SERIAL_RE (line 41), _REGION_RE (line 42). "
        "Use pattern.fullmatch() (or end with \\Z)."
    )


def test_digits_are_ascii_digits() -> None:
    """``\\d`` matches any Unicode digit (全角 ３, Arabic-Indic ٣); JavaScript Number and SQL casts reject them."""
    record = with_fields(
        birth_certificate(), gestational_weeks="３９", birth_length_cm="５０.5", birth_place="37０１０２"
    )
    try:
        validate_issue(draft({**record, "region_code": "37０１００"}), CATALOG, MEMBERS[HEALTH], TODAY)
        found = set()
    except InvalidLicenseError as exc:
        found = {(v.field, v.reason) for v in exc.violations}
    assert found == {("fields.gestational_weeks", "BAD_INTEGER"), ("fields.birth_length_cm", "BAD_DECIMAL"),
                     ("fields.birth_place", "BAD_REGION_CODE"), ("region_code", "BAD_REGION_CODE")}, (
        "BUG: '\\d' without re.ASCII accepts full-width digits: gateway/domain/validation.py _INTEGER_RE, _DECIMAL_RE "
        "(lines 25-26); gateway/domain/identifiers.py _REGION_RE (line 42), also _CITIZEN_RE, _USCC_RE, _TYPE_CODE_RE. "
        "Use [0-9] or compile with re.ASCII."
    )  # fmt: skip


# --- who may issue -----------------------------------------------------------------------------------------------


def test_a_non_authoritative_issuer_is_refused_before_the_content_is_checked() -> None:
    record = {**samples.business_license(11), "license_number": ""}  # invalid too, but permission comes first
    with pytest.raises(PermissionDeniedError) as caught:
        validate_issue(draft(record), CATALOG, MEMBERS[CIVIL], TODAY)
    assert caught.value.reason == "NOT_AUTHORITATIVE_ISSUER"
    assert caught.value.metadata == {"type_code": samples.BUSINESS_LICENSE}


@pytest.mark.parametrize("roles", [frozenset({Role.CONSUMER}), frozenset({Role.ADMIN}), frozenset()],
                         ids=["consumer", "admin", "no roles"])  # fmt: skip
def test_the_listed_issuer_without_the_issuer_role_is_refused(roles: frozenset[Role]) -> None:
    market = MEMBERS[MARKET]
    demoted = Member(code=market.code, name=market.name, region=market.region, roles=roles)
    with pytest.raises(PermissionDeniedError) as caught:
        validate_issue(draft(samples.business_license(12)), CATALOG, demoted, TODAY)
    assert caught.value.reason == "NOT_AUTHORITATIVE_ISSUER"


def test_a_consumer_only_member_is_refused() -> None:
    with pytest.raises(PermissionDeniedError) as caught:
        validate_issue(draft(samples.food_permit(13)), CATALOG, MEMBERS[TAX], TODAY)
    assert caught.value.reason == "NOT_AUTHORITATIVE_ISSUER"


def test_a_name_with_a_combining_accent_is_the_composed_name() -> None:
    """济南Jose\u0301 as the holder and 济南José as the 名称 are one name (they were DISAGREES_WITH_HOLDER), kept
    composed, so the printed license shows the font's é (it printed e〓); a value that begins with a combining mark,
    which marks nothing, is refused."""
    record = samples.business_license(3)
    decomposed, precomposed = "济南Jose\u0301科技有限公司", "济南José科技有限公司"
    record = {**with_fields(record, company_name=precomposed), "holder": {**record["holder"], "name": decomposed}}
    valid = validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY)
    assert valid.holder.name == precomposed and valid.fields["company_name"] == precomposed
    leading = {**record, "holder": {**record["holder"], "name": "\u0301济南科技有限公司"}}
    assert ("holder.name", "BAD_CHARACTERS") in violations(leading, MARKET)
    assert ("fields.domicile", "BAD_CHARACTERS") in violations(with_fields(record, domicile="\u0301济南"), MARKET)


def test_a_compatibility_ideograph_in_a_name_is_kept_as_written() -> None:
    """NFC would replace U+F9xx compatibility ideographs with their unified twins; a name without combining marks is
    kept as the issuer wrote it."""
    record = samples.business_license(4)
    name = "济南\uf900科技有限公司"  # 豈, a compatibility ideograph
    record = {**with_fields(record, company_name=name), "holder": {**record["holder"], "name": name}}
    assert validate_issue(draft(record), CATALOG, MEMBERS[MARKET], TODAY).holder.name == name


# --- said in Chinese first ---------------------------------------------------------------------------------------


def _descriptions(record: dict[str, Any], issuer: str) -> dict[tuple[str, str], str]:
    with pytest.raises(InvalidLicenseError) as caught:
        validate_issue(draft(record), CATALOG, MEMBERS[issuer], TODAY)
    return {(v.field, v.reason): v.description for v in caught.value.violations}


def test_the_refusals_a_clerk_reads_are_said_in_chinese_first() -> None:
    """What the black-box test found in English only (the issuing department's clerk reads it in the issuing system
    and in ``zzgw import``'s failures): the field by its Chinese name first, the English after in parentheses."""
    record = samples.business_license(30)
    record = {
        **record,
        "holder": {**record["holder"], "code": "91370100MA3C4K7L6N"},
        "issue_date": "2026-13-01",
        "fields": {
            **{k: v for k, v in record["fields"].items() if k != "company_type"},
            "legal_representative": "张" * 60,
            "colour": "红",
        },
    }
    assert _descriptions(record, MARKET) == {
        ("holder.code", "BAD_CHECK_CHARACTER"): "统一社会信用代码校验码不符"
        "（holder.code check character does not match (GB 32100)）",
        ("issue_date", "BAD_DATE"): "发证日期须为YYYY-MM-DD格式的有效日期，不是 '2026-13-01'"
        "（issue_date must be a calendar date YYYY-MM-DD）",
        ("fields.legal_representative", "TOO_LONG"): "法定代表人不得超过50个字符"
        "（fields.legal_representative must be at most 50 characters）",
        ("fields.colour", "UNKNOWN_FIELD"): "营业执照没有信息项 'colour'（营业执照 has no field 'colour'）",
        # the type's field named with the type: 请填写类型 alone had said little (a government-service editor)
        ("fields.company_type", "REQUIRED"): "请填写营业执照的“类型”（fields.company_type is required）",
    }
    permit = {**samples.food_permit(31), "valid_until": "2024-05-09", "request_id": ""}
    assert _descriptions(permit, MARKET) == {
        ("request_id", "REQUIRED"): "请填写请求编号（request_id is required, the idempotency key）",
        ("valid_until", "VALIDITY_BEFORE_ISSUE"): "有效期截止日期早于发证日期（validity ends before the issue date）",
    }


def _every_refusal() -> list[tuple[str, FieldViolation]]:
    """The violations of every refused case of this module's tables, and of a request wrong everywhere."""
    cases: list[tuple[dict[str, Any], str]] = []
    everything = samples.business_license(32)
    everything = {
        **everything,
        "request_id": "has spaces",
        "license_number": "",
        "holder": {"name": "", "code_type": "", "code": ""},
        "issue_date": "",
        "region_code": "990000",
        "serial": "ab-c",
        "fields": {**everything["fields"], "established_on": "soon", "shoe_size": "42", "legal_representative": ""},
    }
    cases.append((everything, MARKET))
    cases.append(({**samples.business_license(33), "issue_date": "2025-06-01"}, MARKET))
    cases.append(({**samples.business_license(34), "issue_date": "0001-01-01"}, MARKET))
    cases.append(({**samples.business_license(35), "type_code": "111000009910000354999"}, MARKET))
    cases.append(({**samples.business_license(36), "type_code": ""}, MARKET))
    cases.append(({**samples.business_license(37), "holder": {**samples.business_license(37)["holder"],
                                                             "code_type": "111"}}, MARKET))  # fmt: skip
    cases.append(({**samples.business_license(38), "license_number": samples.uscc(39)}, MARKET))
    shapeless = samples.business_license(40)
    cases.append(({**shapeless, "holder": {**shapeless["holder"], "code": "9137010"}}, MARKET))
    cases.append(({**samples.business_license(41), "valid_until": "2030-01-01"}, MARKET))
    cases += [({**samples.food_permit(9), **change}, MARKET) for _, change, expected in DATE_CASES if expected]
    cases += [(record, issuer) for _, record, issuer, expected in PAST_EVENT_CASES if expected]
    cases += [({**samples.id_card(44), "valid_until": until}, POLICE) for until in LIFELONG_SPELLINGS]
    cases += [(with_fields(birth_certificate(), **{key: value}), HEALTH) for _, key, value, _ in FIELD_CASES]
    cases += [(mutate(birth_certificate()), HEALTH) for _, mutate in CONTROL_CASES]
    cases += [(with_fields(birth_certificate(), **{key: value}), HEALTH) for _, key, value in DISAGREEING]
    for code in ("3701021990030", _impossible_birth_date_id(), "990102199003071234", "370102209901011234"):
        record = birth_certificate()
        cases.append(({**record, "holder": {**record["holder"], "code": code}}, HEALTH))
    record = birth_certificate()
    cases.append(({**record, "holder": {**record["holder"], "code_type": "099", "code": "临时编号"}}, HEALTH))
    cases.append((with_fields(birth_certificate(), birth_facility="\u0301济南市妇幼保健院"), HEALTH))
    found = []
    for record, issuer in cases:
        with pytest.raises(InvalidLicenseError) as caught:
            validate_issue(draft(record), CATALOG, MEMBERS[issuer], TODAY)
        found += [(record.get("type_code", ""), v) for v in caught.value.violations]
    return found


def test_every_refusal_of_a_license_is_chinese_first_short_and_names_the_field() -> None:
    found = _every_refusal()
    reasons = {v.reason for _, v in found}
    assert reasons >= {
        "REQUIRED", "BAD_REQUEST_ID", "BAD_DATE", "TOO_LONG", "UNKNOWN_FIELD", "BAD_CHARACTERS",
        "VALIDITY_BEFORE_ISSUE", "VALIDITY_BEFORE_START", "ISSUE_DATE_IN_FUTURE", "ISSUE_DATE_TOO_EARLY",
        "BAD_CHECK_CHARACTER", "BAD_CITIZEN_ID", "BAD_USCC", "DISAGREES_WITH_HOLDER", "BAD_SERIAL",
        "BAD_REGION_CODE", "NOT_A_CHOICE", "BAD_INTEGER", "BAD_DECIMAL", "UNKNOWN_LICENSE_TYPE",
        "BAD_HOLDER_CODE_TYPE", "BAD_HOLDER_CODE", "NOT_EXPIRING_TYPE", "DATE_IN_FUTURE", "DATE_TOO_EARLY",
        "BORN_AFTER_ISSUE", "LIFELONG_SPELLED_OUT",
    }  # fmt: skip
    for type_code, violation in found:
        text = violation.description
        chinese, _, english = text.rpartition("（")
        assert not chinese.isascii() and text.endswith("）"), text  # Chinese first, the English in parentheses
        assert "不正确" not in chinese, text  # every problem of a code has its own words
        assert re.search("[a-z]{3}", english), text
        assert len(text) <= 200, text  # a description travels in the trailers, clipped at 200 characters
        if violation.field.startswith("fields.") and (license_type := CATALOG.license_types.get(type_code)):
            spec = license_type.field_spec(violation.field.removeprefix("fields."))
            named = (spec.label, f"请填写{license_type.name}的“{spec.label}”") if spec else ()
            assert spec is None or chinese.startswith(named), text  # its label, a missing one's with its type's


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        (
            "91370100MA3C4K7L6M",
            "持证主体代码是统一社会信用代码，持证主体代码类型须为 001 统一社会信用代码，不能为 099 其他",
        ),
        (
            "37010219600421003X",
            "持证主体代码是公民身份号码，营业执照的持证主体是组织，不能以公民身份号码作为持证主体代码",
        ),
        ("JN-0001", None),  # an organisation's code of no checked form: taken under 其他
    ],
    ids=["credit_code", "citizen_id", "other"],
)
def test_an_organisations_license_under_other_refuses_a_credit_code_or_citizen_id(
    code: str, refusal: str | None
) -> None:
    """A license type of organisations that takes 其他 (099) refuses a 统一社会信用代码 there (the company's is under
    001) and a 公民身份号码 (it would be nobody's by the code alone), never calling either someone else's."""
    business = CATALOG.license_types[samples.BUSINESS_LICENSE]
    catalog = Catalog({**CATALOG.license_types, business.code: replace(business, holder_code_types=("001", "099"))})
    record = samples.business_license(6)
    record = {**record, "license_number": code, "holder": {**record["holder"], "code_type": "099", "code": code}}
    try:
        validate_issue(draft(record), catalog, MEMBERS[MARKET], TODAY)
        violations: list[FieldViolation] = []
    except InvalidLicenseError as raised:  # its field 统一社会信用代码 disagrees with a code that is none
        violations = [v for v in raised.violations if v.field == "holder.code_type"]
    if refusal is None:
        assert violations == []
        return
    ((violation,),) = [violations]
    assert (violation.reason, violation.description.startswith(refusal)) == ("CODE_TYPE_MISMATCH", True)
    assert "他人" not in violation.description
