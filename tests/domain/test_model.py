"""Licenses as values: the effective status derived at read time, masking, "today" in China time, and change
cursors' form."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from gateway.domain.model import (
    CHINA_TZ,
    ChangeCursor,
    Holder,
    License,
    LicenseContent,
    LicenseStatus,
    RecordSeal,
    SystemClock,
    mask,
    today,
)

S = LicenseStatus
VALID_UNTIL = dt.date(2029, 5, 9)


def license_with(status: LicenseStatus, valid_until: dt.date | None = VALID_UNTIL) -> License:
    now = dt.datetime(2024, 5, 10, 2, 0, tzinfo=dt.UTC)
    content = LicenseContent(
        license_id="1.2.156.3005.2.111000009910000354002.11370100993701011T.ABC.001.X",
        type_code="111000009910000354002",
        license_number="SC10637010000001",
        holder=Holder(name="济南泉城食品有限公司1", code_type="001", code="913701000000000033"),
        issuer_code="11370100993701011T",
        issue_date=dt.date(2024, 5, 10),
        valid_from=dt.date(2024, 5, 10),
        valid_until=valid_until,
        region_code="370100",
        fields={"food_category": "糕点"},
        version=1,
    )
    seal = RecordSeal(algorithm="ecdsa-p256-sha256", key_id="00" * 32, signature=b"sig", record_digest=b"\0" * 32,
                      encoding="zzgw-record/1")  # fmt: skip
    return License(content=content, status=status, status_reason="", status_changed_at=now, created_at=now, seal=seal)


EFFECTIVE = [
    # (what, stored status, valid_until, read on, effective status)
    ("active before the end", S.ACTIVE, VALID_UNTIL, dt.date(2025, 1, 1), S.ACTIVE),
    ("active on the last day", S.ACTIVE, VALID_UNTIL, VALID_UNTIL, S.ACTIVE),
    ("active the day after the end", S.ACTIVE, VALID_UNTIL, VALID_UNTIL + dt.timedelta(days=1), S.EXPIRED),
    ("active long after the end", S.ACTIVE, VALID_UNTIL, dt.date(2100, 1, 1), S.EXPIRED),
    ("no end date never expires", S.ACTIVE, None, dt.date(9999, 12, 31), S.ACTIVE),
    ("suspended past the end has expired", S.SUSPENDED, VALID_UNTIL, dt.date(2100, 1, 1), S.EXPIRED),
    ("suspended within its validity", S.SUSPENDED, VALID_UNTIL, VALID_UNTIL, S.SUSPENDED),
    ("revoked past the end stays revoked", S.REVOKED, VALID_UNTIL, dt.date(2100, 1, 1), S.REVOKED),
    ("cancelled past the end stays cancelled", S.CANCELLED, VALID_UNTIL, dt.date(2100, 1, 1), S.CANCELLED),
    ("superseded past the end stays superseded", S.SUPERSEDED, VALID_UNTIL, dt.date(2100, 1, 1), S.SUPERSEDED),
]  # fmt: skip


@pytest.mark.parametrize(("what", "stored", "valid_until", "on", "expected"), EFFECTIVE, ids=[e[0] for e in EFFECTIVE])
def test_effective_status(what: str, stored: LicenseStatus, valid_until: dt.date | None, on: dt.date,
                          expected: LicenseStatus) -> None:  # fmt: skip
    lic = license_with(stored, valid_until)
    assert lic.effective_status(on) is expected, what
    assert lic.status is stored  # reading never changes the stored status


def test_request_id_does_not_take_part_in_equality() -> None:
    lic = license_with(S.ACTIVE)
    assert dataclasses.replace(lic, request_id="a") == dataclasses.replace(lic, request_id="b")


MASKS = [
    ("370102199003077777", "3701**********7777"),
    ("913701000000000033", "9137**********0033"),
    ("P37860972", "P3*****72"),  # a passport's: at least half hidden, not one character of nine
    ("C12345678", "C1*****78"),  # 港澳通行证
    ("370102900307777", "370*********777"),  # a first-generation 15-digit 身份证号码
    ("12345678", "********"),  # too short to show anything
    ("", ""),
    ("张三李四王五赵六钱", "张三*****六钱"),
]


@pytest.mark.parametrize(("value", "masked"), MASKS, ids=[m[0] or "empty" for m in MASKS])
def test_mask(value: str, masked: str) -> None:
    assert mask(value) == masked
    assert len(mask(value)) == len(value)
    assert masked.count("*") * 2 >= len(value)


def test_mask_keep() -> None:
    assert mask("370102199003077777", keep=2) == "37" + "*" * 14 + "77"
    assert mask("abcd", keep=2) == "****"


def test_holder_masked_code() -> None:
    assert Holder(name="张三", code_type="111", code="370102199003077777").masked_code == "3701**********7777"


def test_a_verifier_is_shown_an_organisation_whole_and_a_person_masked() -> None:
    """An organisation's name and 统一社会信用代码 are public registration data, which a clerk compares whole; a
    person's name and 公民身份号码 stay masked as the printed code states them."""
    company = Holder(name="济南鲁味食品有限公司", code_type="001", code="91370100MA3C4XCJA6")
    person = Holder(name="张三丰", code_type="111", code="370102199003077777")
    assert (company.shown_name, company.shown_code, company.publicly_registered) == (
        "济南鲁味食品有限公司", "91370100MA3C4XCJA6", True)  # fmt: skip
    assert (person.shown_name, person.shown_code, person.publicly_registered) == ("张**", "3701**********7777", False)


class FixedClock:
    def __init__(self, at: dt.datetime):
        self.at = at

    def now(self) -> dt.datetime:
        return self.at


TODAY_CASES = [
    ("17:00Z is the next day in CST", dt.datetime(2024, 1, 1, 17, 0, tzinfo=dt.UTC), dt.date(2024, 1, 2)),
    ("15:59:59Z is still the same day", dt.datetime(2024, 1, 1, 15, 59, 59, tzinfo=dt.UTC), dt.date(2024, 1, 1)),
    ("16:00Z is midnight in CST", dt.datetime(2024, 1, 1, 16, 0, tzinfo=dt.UTC), dt.date(2024, 1, 2)),
    ("New Year's Eve in UTC", dt.datetime(2023, 12, 31, 20, 0, tzinfo=dt.UTC), dt.date(2024, 1, 1)),
    ("a clock in another zone", dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
     dt.date(2024, 1, 2)),
    ("a clock already in CST", dt.datetime(2024, 1, 1, 0, 30, tzinfo=CHINA_TZ), dt.date(2024, 1, 1)),
]  # fmt: skip


@pytest.mark.parametrize(("what", "now", "expected"), TODAY_CASES, ids=[c[0] for c in TODAY_CASES])
def test_today_is_the_date_in_china(what: str, now: dt.datetime, expected: dt.date) -> None:
    assert today(FixedClock(now)) == expected, what


def test_china_time_is_utc_plus_8() -> None:
    assert CHINA_TZ.utcoffset(None) == dt.timedelta(hours=8)


def test_system_clock_is_timezone_aware() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("written", "cursor"),
    [
        ("218.9f3c2a1b7d4e6f05", ChangeCursor(seq=218, tag="9f3c2a1b7d4e6f05")),
        ("217", ChangeCursor(seq=217, tag="")),  # an event stored before schema 0030
        ("0", ChangeCursor(seq=0, tag="")),
        ("9223372036854775807", ChangeCursor(seq=2**63 - 1, tag="")),
    ],
)
def test_a_change_cursor_is_written_as_it_is_read(written: str, cursor: ChangeCursor) -> None:
    assert ChangeCursor.parse(written) == cursor and str(cursor) == written


@pytest.mark.parametrize(
    "written",
    [
        *("", "abc", "-1", "+1", " 1", "²", "٣", "1" * 20, "9223372036854775808"),
        *(
            "1.",
            ".9f3c2a1b7d4e6f05",
            "1.9F3C2A1B7D4E6F05",
            "1.9f3c2a1b7d4e6f0",
            "1.9f3c2a1b7d4e6f05.1",
            "1.9f3c2a1b7d4e6fg5",
        ),
    ],
)
def test_what_is_no_change_cursor_is_not_read_as_one(written: str) -> None:
    assert ChangeCursor.parse(written) is None
