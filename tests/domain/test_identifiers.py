"""Check characters and the 电子证照标识 (GB/T 36904), 公民身份号码 (GB 11643), 统一社会信用代码 (GB 32100).

Vectors live in ``tests/vectors/identifiers.json`` (with their provenance); the edge cases are written here.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.domain.identifiers import (
    FORMAT_CHARACTERS,
    LICENSE_ID_ROOT,
    LicenseId,
    citizen_id_check_char,
    citizen_id_problem,
    find_by_number,
    half_width,
    holder_code_type_by_form,
    holder_code_types_of,
    license_check_char,
    license_id_violation,
    normal_number,
    region_code_problem,
    type_code_problem,
    typed_license_id,
    uscc_check_char,
    uscc_problem,
)
from gateway.domain.model import CHINA_TZ

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "identifiers.json").read_text(encoding="utf-8")
)

REAL_IDS = VECTORS["license_ids"]
VALID_CITIZEN_IDS = [v["value"] for v in VECTORS["citizen_ids"] if v["valid"]]
INVALID_CITIZEN_IDS = [(v["value"], v["problem"]) for v in VECTORS["citizen_ids"] if not v["valid"]]
VALID_USCCS = [v["value"] for v in VECTORS["usccs"] if v["valid"]]
INVALID_USCCS = [(v["value"], v["problem"]) for v in VECTORS["usccs"] if not v["valid"]]

TYPE_CODE = "11100000000013338W032"
ISSUER = "11220000013544541J"
FIRST = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
SECOND = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"

MOD37_36 = "check character does not match (ISO/IEC 7064 MOD 37,36)"
PART = "invalid license identifier part: "
FORMAT = "must be 18 characters from 0-9 and A-Y without I, O, S, V, Z"


def test_vectors_have_provenance() -> None:
    assert "GB 11643" in VECTORS["provenance"]
    assert "GB 32100" in VECTORS["provenance"]
    for group in ("license_ids", "citizen_ids", "usccs"):
        assert VECTORS[group], group
        for entry in VECTORS[group]:
            assert entry["source"] in {"public", "computed"}, entry
    assert {e["source"] for e in REAL_IDS} == {"public"}
    assert [e["value"] for e in REAL_IDS] == [FIRST, SECOND]


# --- 电子证照标识 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", REAL_IDS, ids=lambda v: v["check_char"])
def test_real_identifiers_parse(vector: dict[str, Any]) -> None:
    parsed = LicenseId.parse(vector["value"])
    assert parsed.type_code == vector["type_code"]
    assert parsed.issuer_code == vector["issuer_code"]
    assert parsed.serial == vector["serial"]
    assert parsed.version == vector["version"]
    assert parsed.check_char == vector["check_char"]
    assert str(parsed) == vector["value"]


@pytest.mark.parametrize(
    ("payload", "check"),
    [
        ("11100000000013338W011" + "11430000006122244L" + "20230000403" + "001", "U"),
        ("11100000000013338W032" + "11220000013544541J" + "2430599" + "001", "F"),
    ],
)
def test_license_check_char(payload: str, check: str) -> None:
    assert license_check_char(payload) == check


def test_license_check_char_rejects_other_characters() -> None:
    with pytest.raises(ValueError, match=r"^character 'a' is outside 0-9A-Z$"):
        license_check_char("11100000000013338Wa")


@pytest.mark.parametrize(
    "tampered",
    [
        FIRST[:-1] + "V",  # check character itself
        FIRST.replace(".20230000403.", ".20230000404."),  # serial
        SECOND.replace(".2430599.", ".2430598."),  # serial
        SECOND.replace(".001.F", ".002.F"),  # version
        SECOND.replace("W032", "W033"),  # type sequence
    ],
)
def test_changed_character_fails_check(tampered: str) -> None:
    with pytest.raises(ValueError, match=r"^check character does not match \(ISO/IEC 7064 MOD 37,36\)$"):
        LicenseId.parse(tampered)
    violation = license_id_violation("license_id", tampered)
    assert violation is not None
    assert violation.field == "license_id"
    assert violation.reason == "INVALID_LICENSE_ID"
    assert violation.description == f"证照标识的校验码不符（{MOD37_36}）"  # Chinese first: portals and clerks read it


def test_valid_identifier_has_no_violation() -> None:
    assert license_id_violation("license_id", SECOND) is None


@pytest.mark.parametrize(
    ("serial", "version"),
    [("2430599", 1), ("0", 1), ("A1B2C3", 7), ("F" * 32, 999), ("20230000403", 12)],
)
def test_build_parse_round_trip(serial: str, version: int) -> None:
    built = LicenseId(type_code=TYPE_CODE, issuer_code=ISSUER, serial=serial, version=version)
    text = str(built)
    assert text == f"{LICENSE_ID_ROOT}.{TYPE_CODE}.{ISSUER}.{serial}.{version:03d}.{built.check_char}"
    assert LicenseId.parse(text) == built


def test_version_bump_changes_check_char() -> None:
    first = LicenseId.parse(SECOND)
    second = first.next_version()
    assert second.version == 2
    assert (second.type_code, second.issuer_code, second.serial) == (first.type_code, first.issuer_code, first.serial)
    assert second.check_char == license_check_char(TYPE_CODE + ISSUER + "2430599" + "002")
    assert second.check_char != first.check_char
    assert str(second) == f"1.2.156.3005.2.{TYPE_CODE}.{ISSUER}.2430599.002.{second.check_char}"
    assert LicenseId.parse(str(second)) == second


def test_version_cannot_pass_999() -> None:
    last = LicenseId(type_code=TYPE_CODE, issuer_code=ISSUER, serial="1", version=999)
    with pytest.raises(ValueError, match=r"^invalid license identifier part: version must be 1-999$"):
        last.next_version()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # bad root
        (SECOND.replace("1.2.156.3005.2.", "1.2.156.3005.1.", 1), "must start with 1.2.156.3005.2"),
        (SECOND[len("1.2.156.3005.2.") :], "must start with 1.2.156.3005.2"),
        ("", "must start with 1.2.156.3005.2"),
        # wrong part count
        (
            "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001",
            "must have type code, issuer, serial, version and check character",
        ),
        (SECOND + ".F", "must have type code, issuer, serial, version and check character"),
        ("1.2.156.3005.2.", "must have type code, issuer, serial, version and check character"),
        # bad version
        (SECOND.replace(".001.F", ".01.F"), "version must be three digits"),
        (SECOND.replace(".001.F", ".0001.F"), "version must be three digits"),
        (SECOND.replace(".001.F", ".00A.F"), "version must be three digits"),
        (SECOND.replace(".001.F", ".000.F"), PART + "version must be 1-999"),
        # bad serial
        (SECOND.replace(".2430599.", ".243059a."), PART + "serial must be 1-32 characters of 0-9A-Z"),
        (SECOND.replace(".2430599.", ".."), PART + "serial must be 1-32 characters of 0-9A-Z"),
        (SECOND.replace(".2430599.", "." + "1" * 33 + "."), PART + "serial must be 1-32 characters of 0-9A-Z"),
        (SECOND.replace(".2430599.", ".2430-599."), PART + "serial must be 1-32 characters of 0-9A-Z"),
        # bad type code
        (
            SECOND.replace("W032", "W32"),
            PART + "must be the defining authority's 18-character USCC followed by 3 digits",
        ),
        (SECOND.replace("13338W032", "13338X032"), PART + "check character does not match (GB 32100)"),
        # bad issuer
        (SECOND.replace("13544541J", "13544541K"), PART + "check character does not match (GB 32100)"),
        (SECOND.replace("13544541J", "1354454J"), PART + FORMAT),
    ],
)
def test_bad_identifiers(text: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        LicenseId.parse(text)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("11100000000013338W032", None),
        ("11100000000013338W", "must be the defining authority's 18-character USCC followed by 3 digits"),
        ("11100000000013338W03A", "must be the defining authority's 18-character USCC followed by 3 digits"),
        ("11100000000013338W0321", "must be the defining authority's 18-character USCC followed by 3 digits"),
        ("11100000000013338X032", "check character does not match (GB 32100)"),
    ],
)
def test_type_code_problem(value: str, problem: str | None) -> None:
    assert type_code_problem(value) == problem


# --- 公民身份号码 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALID_CITIZEN_IDS)
def test_valid_citizen_ids(value: str) -> None:
    assert citizen_id_problem(value) is None
    assert citizen_id_check_char(value[:17]) == value[17]


@pytest.mark.parametrize(("value", "problem"), INVALID_CITIZEN_IDS)
def test_invalid_citizen_ids_from_vectors(value: str, problem: str) -> None:
    assert citizen_id_problem(value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("110105194912310021", "check character does not match (GB 11643)"),
        ("440524188001010015", "check character does not match (GB 11643)"),
        ("11010519491231002", "must be 17 digits followed by a digit or X"),
        ("11010519491231002X1", "must be 17 digits followed by a digit or X"),
        ("11010519491231002x", "must be 17 digits followed by a digit or X"),
        ("1101051949123100X2", "must be 17 digits followed by a digit or X"),
        ("", "must be 17 digits followed by a digit or X"),
        ("990105194912310028", "starts with an unknown region code"),
        ("000000194912310020", "starts with an unknown region code"),
        ("900105194912310023", "starts with an unknown region code"),
        ("370102209901010011", "carries a birth date in the future"),  # its check character is right
    ],
)
def test_invalid_citizen_ids(value: str, problem: str) -> None:
    assert citizen_id_problem(value) == problem


def _born_on(day: dt.date) -> str:
    first17 = f"370102{day:%Y%m%d}123"
    return first17 + citizen_id_check_char(first17)


@pytest.fixture(params=["Etc/GMT-14", "Etc/GMT+12", "America/Los_Angeles", "Asia/Shanghai"])
def process_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's local time zone set to ``request.param`` (UTC+14, whose date is China's or the next day's; UTC-12,
    whose date is China's or the day before), and restored after."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_a_birth_date_in_the_future_is_one_after_todays_date_in_china_whatever_the_process_zone(
    process_zone: str,
) -> None:
    """A number born tomorrow in Beijing had been taken by a process whose zone was ahead of China's or was UTC (its
    own date and a day's slack), refused by one behind it (a time tester): the date is China's, with no slack."""
    china_today = dt.datetime.now(CHINA_TZ).date()
    assert citizen_id_problem(_born_on(china_today + dt.timedelta(days=1))) == "carries a birth date in the future"
    assert citizen_id_problem(_born_on(china_today)) is None


def test_a_birth_date_is_judged_on_the_date_the_caller_gives() -> None:
    """Issuance gives its clock's date (``today``), so a gateway with a clock of its own answers by that clock."""
    day = dt.date(2025, 1, 1)
    assert citizen_id_problem(_born_on(dt.date(2025, 1, 2)), today=day) == "carries a birth date in the future"
    assert citizen_id_problem(_born_on(day), today=day) is None


@pytest.mark.parametrize(
    ("first17", "check"),
    [("11010519491231002", "X"), ("44052418800101001", "4"), ("37010219900307123", "8")],
)
def test_citizen_id_check_char(first17: str, check: str) -> None:
    assert citizen_id_check_char(first17) == check


# --- 统一社会信用代码 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALID_USCCS)
def test_valid_usccs(value: str) -> None:
    assert uscc_problem(value) is None
    assert uscc_check_char(value[:17]) == value[17]


@pytest.mark.parametrize(("value", "problem"), INVALID_USCCS)
def test_invalid_usccs_from_vectors(value: str, problem: str) -> None:
    assert uscc_problem(value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("11100000000013338X", "check character does not match (GB 32100)"),
        ("11220000013544541K", "check character does not match (GB 32100)"),
        ("11100000000013338I", FORMAT),
        ("11100000000013338O", FORMAT),
        ("11100000000013338S", FORMAT),
        ("11100000000013338V", FORMAT),
        ("11100000000013338Z", FORMAT),
        ("I1100000000013338W", FORMAT),
        ("1110000000001333SW", FORMAT),
        ("11A00000000013338W", FORMAT),  # the region part must be digits
        ("11100000000013338w", FORMAT),
        ("11100000000013338", FORMAT),
        ("11100000000013338W0", FORMAT),
        ("", FORMAT),
    ],
)
def test_invalid_usccs(value: str, problem: str) -> None:
    assert uscc_problem(value) == problem


NO_PAIR = "its first two characters are no registration authority and organisation type of GB 32100"


@pytest.mark.parametrize(
    "value",
    [
        "370102197805280288",  # a 公民身份号码 mistyped (…0286 is right), read by its form as a 公民身份号码 now
        "22370100MA3C4K7L6M",  # 2 外交: 1 or 9 only
        "94370100MA3C4K7L6M",  # 9 工商: 1 企业, 2 个体工商户, 3 农民专业合作社
        "Y2370100MA3C4K7L6M",  # Y 其他: 1 alone
        "B1370100MA3C4K7L6M",  # no registration authority B
        "031000000000133380",  # nor 0
    ],
)
def test_a_credit_code_begins_with_a_pair_gb_32100_assigns(value: str) -> None:
    """The 登记管理部门代码 and 机构类别代码 (GB 32100-2015 table 1, as its amendments extend it) are checked, with the
    check character made right for each code: one 公民身份号码 typo in 31 passes the check character alone, and had
    been read as a company's credit code by the holder portal, listing an empty log rather than saying the check
    character is wrong (a reviewer, R4). Most provinces' numbers (37 山东, 22 吉林, 44 广东) so cannot be one."""
    code = value[:17] + uscc_check_char(value[:17])
    assert uscc_problem(code) == NO_PAIR


@pytest.mark.parametrize("pair", ["11", "12", "13", "19", "21", "29", "31", "35", "36", "39", "41", "51", "52", "53",
                                  "54", "55", "59", "61", "62", "71", "72", "81", "82", "91", "92", "93", "A1", "A9",
                                  "G1", "G9", "J1", "J9", "N1", "N2", "N3", "N9", "Q1", "Q2", "Q3", "Q9",
                                  "Y1"])  # fmt: skip
def test_every_pair_gb_32100_assigns_is_a_credit_codes_beginning(pair: str) -> None:
    first17 = pair + "370100MA3C4K7L6"
    assert uscc_problem(first17 + uscc_check_char(first17)) is None


@pytest.mark.parametrize(
    ("first17", "check"),
    [("11100000000013338", "W"), ("11430000006122244", "L"), ("11220000013544541", "J")],
)
def test_uscc_check_char(first17: str, check: str) -> None:
    assert uscc_check_char(first17) == check


# --- 行政区划代码 -------------------------------------------------------------------------------------------------

REGION = "must be a 6-digit GB/T 2260 administrative division code"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("370100", None),  # 济南市
        ("370102", None),  # 济南市历下区
        ("440100", None),  # 广州市
        ("110105", None),  # 北京市朝阳区
        ("820000", None),  # 澳门
        ("370000", None),  # 山东省
        ("100000", REGION),  # the central-government part of a USCC is not a division
        ("990000", REGION),
        ("090000", REGION),
        ("37010", REGION),
        ("3701000", REGION),
        ("37010A", REGION),
        ("", REGION),
    ],
)
def test_region_codes(value: str, problem: str | None) -> None:
    assert region_code_problem(value) == problem


# --- a holder code given without its type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "code_type"),
    [
        (VALID_USCCS[0], "001"),
        (VALID_USCCS[0][:17] + ("0" if VALID_USCCS[0][17] != "0" else "1"), "001"),  # mistyped: checked as a USCC
        ("123701009937011183", "001"),  # a USCC of digits only, valid: not taken for an ID number
        (VALID_CITIZEN_IDS[0], "111"),
        ("370102202611202010", "111"),  # the check character is wrong: checked as a 公民身份号码, and refused
        ("37010219600421003x", "111"),  # the check character typed in lower case
        (" 370102196004210033 ", "111"),
        ("937156199001011237", "554"),  # the 2023 外国人永久居留身份证's form: no region code begins with 9
        ("E12345678", "099"),  # a passport number
        ("H1234567801", "099"),  # 港澳居民来往内地通行证
        ("", "099"),
    ],
)
def test_holder_code_type_by_form(code: str, code_type: str) -> None:
    assert holder_code_type_by_form(code) == code_type


def test_an_identifier_typed_by_hand_is_the_identifier() -> None:
    """Full width, the input method's 。 (or ｡) for '.', small letters, spaces around: the identifier they spell;
    anything that is not then an identifier's beginning is given back untouched (a number, a code)."""
    genuine = str(
        LicenseId(type_code="11100000000013338W032", issuer_code="11220000013544541J", serial="A7", version=1)
    )
    wide = "".join(chr(ord(c) + 0xFEE0) for c in genuine)
    for typed in (wide, genuine.replace(".", "。"), genuine.replace(".", "｡"), genuine.lower(), f"\u3000{wide} "):
        assert typed_license_id(typed) == genuine, typed
        assert license_id_violation("license_id", typed_license_id(typed)) is None
    for other in ("j370102-2019-938159", "ＳＣ１０６", "zz1:abc", " 1.2.157.x", ""):
        assert typed_license_id(other) == other


def test_an_identifier_as_it_is_or_far_too_long_is_given_back_unfolded() -> None:
    """A canonical identifier is not translated (the warm path), nor is text far longer than any identifier (folding
    4 MiB of full-width digits had taken 66 ms of CPU: found in review)."""
    genuine = str(
        LicenseId(type_code="11100000000013338W032", issuer_code="11220000013544541J", serial="A7", version=1)
    )
    assert typed_license_id(genuine) is genuine
    huge = "１" * 4_000_000
    assert typed_license_id(huge) is huge


def test_a_number_printed_with_full_width_brackets_is_found_typed_with_ascii_ones() -> None:
    """不动产权证号 are printed with full-width brackets; an input method in half-width mode types ASCII ones (found in
    review: the lookup folded the other way only)."""
    stored = {"鲁（2024）济南市不动产权第0012345号": "property"}
    assert find_by_number(lambda _t, n: stored.get(n), "T", "鲁(2024)济南市不动产权第0012345号") == "property"
    assert find_by_number(lambda _t, n: stored.get(n), "T", "鲁（2024）济南市不动产权第0012345号") == "property"


def test_a_number_typed_with_full_width_signs_is_found() -> None:
    """Ｊ３７０１０２－２０１９－９３８１５９ finds J370102-2019-938159 (its full-width '－' had made it not found),
    and a number printed with full-width brackets is still found by its normal form, first."""
    stored = {"J370102-2019-938159": "marriage", "鲁（2024）济南市不动产权第0012345号": "property"}
    looked_up: list[str] = []

    def read(type_code: str, number: str) -> str | None:
        looked_up.append(number)
        return stored.get(number)

    assert half_width("Ｊ３７０１０２－２０１９－９３８１５９") == "J370102-2019-938159"
    assert find_by_number(read, "T", "Ｊ３７０１０２－２０１９－９３８１５９") == "marriage"
    assert find_by_number(read, "T", "j370102－2019－938159") == "marriage"
    looked_up.clear()
    assert find_by_number(read, "T", "鲁（2024）济南市不动产权第 0012345号") == "property"
    assert looked_up == ["鲁（2024）济南市不动产权第0012345号"]
    assert find_by_number(read, "T", "Ｊ３７０１０２－２０１９－９３８１５８") is None


def test_a_number_copied_with_invisible_characters_is_found() -> None:
    """Numbers copied from a web page, a document or a chat carry zero-width spaces, joiners, a BOM or direction marks:
    the clerk cannot see them, and the license was "not found" (a clerk tester). They are no part of a number."""
    stored = {"J370102-2019-4935010": "marriage"}
    for copied in (
        "J370\u200b102-2019-4935010",
        "\ufeffJ370102-2019-4935010\u200d",
        "\u202aJ370102\u00ad-2019-4935010\u202c",
    ):
        assert find_by_number(lambda _t, n: stored.get(n), "T", copied) == "marriage", ascii(copied)
    assert normal_number("3701\u2060021960\u200c0421003x") == "37010219600421003X"
    assert holder_code_type_by_form("370102\u200b19600421003X") == "111"


def test_the_format_characters_are_unicodes_own() -> None:
    """``FORMAT_CHARACTERS`` is every character of category Cf this Python knows, and nothing it assigns otherwise
    (it names a few code points Unicode 15 assigned that an older table calls unassigned)."""
    every = [chr(c) for c in range(sys.maxunicode + 1)]
    assert all(FORMAT_CHARACTERS.fullmatch(c) for c in every if unicodedata.category(c) == "Cf")
    assert {unicodedata.category(c) for c in every if FORMAT_CHARACTERS.fullmatch(c)} <= {"Cf", "Cn"}


@pytest.mark.parametrize(
    ("code", "types"),
    [
        ("37010219600421003x", {"111"}),  # a 公民身份号码: its person's under 111 only
        ("830000201001010469", {"001", "414", "516", "511", "554", "099"}),  # 台湾居民居住证 number: neither
        ("Y1370102JN20100100", {"001", "414", "516", "511", "554", "099"}),  # a hospital's code, a right USCC check
        ("91370100MA3C4K7L6M", {"001", "414", "516", "511", "554", "099"}),  # a company's: issuance keeps it to 001
        ("E12345678", {"001", "414", "516", "511", "554", "099"}),
    ],
)
def test_holder_code_types_of_narrows_a_citizen_id_only(code: str, types: set[str]) -> None:
    """A code alone names its holder's licenses under 111 when it is a 公民身份号码 and under every other type when it
    is not: a person's own code that passes the credit code's check by chance (one in 31) is no company's."""
    assert holder_code_types_of(code) == types
