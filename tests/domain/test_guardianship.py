"""Who is a minor, and whom a license names as the holder's guardian (``gateway.domain.guardianship``); the catalog's
``guardian_of_holder`` flag as loading checks it."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.bootstrap import samples
from gateway.domain.catalog import Catalog
from gateway.domain.guardianship import guardians_of, holder_birth_date, is_minor, minor_on, of_age_on
from gateway.domain.model import CHINA_TZ, Holder, License, LicenseContent, LicenseStatus, RecordSeal

RAW_CATALOG: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "gateway" / "bootstrap" / "catalog.json").read_text(encoding="utf-8")
)
BIRTH_CERTIFICATE = "1110000099100006XH001"
MARRIAGE = samples.MARRIAGE
HEALTH = "113701009937010623"
BORN = dt.date(2008, 6, 15)
MOTHER = samples.citizen_id(2, dt.date(1985, 3, 1))
FATHER = samples.citizen_id(3, dt.date(1983, 7, 9))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_mapping(RAW_CATALOG)


def certificate(holder: Holder, born: dt.date = BORN, **fields: str) -> License:
    content = LicenseContent(
        license_id="1.2.156.3005.2.1110000099100006XH001.113701009937010623.Q370000001.001.X",
        type_code=BIRTH_CERTIFICATE,
        license_number="Q370000001",
        issuer_code=HEALTH,
        holder=holder,
        issue_date=born,
        valid_from=born,
        valid_until=None,
        region_code="370102",
        version=1,
        fields={
            "child_name": holder.name,
            "birth_date": born.isoformat(),
            "mother_citizen_id": MOTHER,
            "father_citizen_id": FATHER,
            **fields,
        },
    )
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    seal = RecordSeal(algorithm="", key_id="", signature=b"", record_digest=b"", encoding="")
    return License(
        content=content, status=LicenseStatus.ACTIVE, status_reason="", status_changed_at=now, created_at=now, seal=seal
    )


def child(born: dt.date = BORN) -> Holder:
    return Holder(name="张小明", code_type="111", code=samples.citizen_id(1, born))


def china(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ)


def test_a_minor_until_the_day_of_the_18th_birthday() -> None:
    assert of_age_on(BORN) == dt.date(2026, 6, 15)
    assert minor_on(BORN, dt.date(2026, 6, 14))
    assert not minor_on(BORN, dt.date(2026, 6, 15))
    assert minor_on(BORN, BORN) and not minor_on(BORN, dt.date(2030, 1, 1))
    # born on 29 February: 18 full years have passed on 1 March of a year without one
    assert of_age_on(dt.date(2008, 2, 29)) == dt.date(2026, 3, 1)
    assert minor_on(dt.date(2008, 2, 29), dt.date(2026, 2, 28))
    assert of_age_on(dt.date(2008, 2, 29), 16) == dt.date(2024, 2, 29)  # a leap year has the day


def test_the_day_is_chinas(catalog: Catalog) -> None:
    """At 23:59 on 14 June in Beijing, 15:59 UTC, the child is 17; at 00:00 on the 15th, 16:00 UTC on the 14th, 18."""
    license, license_type = certificate(child()), catalog.license_type(BIRTH_CERTIFICATE)
    assert is_minor(license, license_type, china(dt.date(2026, 6, 14), 23, 59))
    assert not is_minor(license, license_type, china(dt.date(2026, 6, 15), 0, 0))
    assert not is_minor(license, license_type, dt.datetime(2026, 6, 14, 16, 0, tzinfo=dt.UTC))
    assert is_minor(license, license_type, dt.datetime(2026, 6, 14, 15, 59, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        is_minor(license, license_type, dt.datetime(2026, 6, 14))


def test_the_birth_date_is_the_holders_code_s_else_the_certificate_s(catalog: Catalog) -> None:
    license_type = catalog.license_type(BIRTH_CERTIFICATE)
    assert holder_birth_date(certificate(child()), license_type) == BORN
    # a newborn without a 公民身份号码 yet (其他): the certificate's 出生日期 tells
    newborn = Holder(name="张小明", code_type="099", code="N2026000001")
    assert holder_birth_date(certificate(newborn, dt.date(2026, 11, 30)), license_type) == dt.date(2026, 11, 30)
    assert is_minor(certificate(newborn, dt.date(2026, 11, 30)), license_type, china(dt.date(2026, 12, 4), 9))
    unknown = certificate(newborn, birth_date="")
    assert holder_birth_date(unknown, license_type) is None
    assert not is_minor(unknown, license_type, china(dt.date(2026, 12, 4), 9))  # not taken for a minor


def test_the_guardians_are_the_parents_named_not_other_co_subjects(catalog: Catalog) -> None:
    license_type = catalog.license_type(BIRTH_CERTIFICATE)
    assert guardians_of(certificate(child()), license_type) == tuple(sorted((MOTHER, FATHER)))
    no_father = certificate(child(), father_citizen_id="")
    assert guardians_of(no_father, license_type) == (MOTHER,)
    typed = certificate(child(), mother_citizen_id=f" {MOTHER.lower()} ", father_citizen_id="110101199003070037")
    assert guardians_of(typed, license_type) == (MOTHER,)  # as codes are kept; a bad check character is no one
    assert not any(f.guardian_of_holder for f in catalog.license_type(MARRIAGE).fields)  # a spouse is no guardian
    flagged = [f.key for f in license_type.fields if f.guardian_of_holder]
    assert flagged == ["mother_citizen_id", "father_citizen_id"]


def _with(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW_CATALOG)
    (birth,) = [t for t in raw["license_types"] if t["code"] == BIRTH_CERTIFICATE]
    change(birth)
    return raw


def _field(license_type: dict[str, Any], key: str) -> dict[str, Any]:
    (found,) = [f for f in license_type["fields"] if f["key"] == key]
    return found


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: _field(t, "mother_name").update(guardian_of_holder=True),
            "证照类型 1110000099100006XH001 的信息项 mother_name 的 guardian_of_holder 只能标在 type 为 CITIZEN_ID、"
            "且没有 of_holder 的信息项上（持证人父母的公民身份号码）：请删去 guardian_of_holder 或改正 type"
            "（field mother_name of 1110000099100006XH001: guardian_of_holder needs a field of type CITIZEN_ID not "
            "of_holder）",
        ),
        (
            lambda t: _field(t, "mother_citizen_id").update(guardian_of_holder="yes"),
            "证照类型 1110000099100006XH001 的信息项 mother_citizen_id 的 guardian_of_holder 须为 true 或 false"
            "（不加引号），请改正（field mother_citizen_id of 1110000099100006XH001: guardian_of_holder must be "
            "true or false）",
        ),
        (
            lambda t: t.update(holder_kind="ORGANIZATION", holder_code_types=["099"]),
            "证照类型 1110000099100006XH001（出生医学证明）的信息项 mother_citizen_id（母亲有效身份证件号码）标为 "
            "guardian_of_holder（持证人的父母，可代未成年持证人授权），而其 holder_kind 为 ORGANIZATION：只有个人持有的"
            "证照可有监护人，请把 holder_kind 改为 PERSON 或删去该信息项的 guardian_of_holder（license type "
            "1110000099100006XH001: guardian_of_holder needs a holder_kind PERSON）",
        ),
        (
            lambda t: _field(t, "birth_date").pop("of_holder"),
            "证照类型 1110000099100006XH001（出生医学证明）的信息项 mother_citizen_id（母亲有效身份证件号码）标为 "
            "guardian_of_holder（持证人的父母，可代未成年持证人授权），却说不出持证人的出生日期（监护人只能为未成年的"
            "持证人授权）：请把一个必填的 DATE 信息项标为 of_holder birth_date，或使 holder_code_types 只含 111"
            "（公民身份号码）（license type 1110000099100006XH001: guardian_of_holder needs the holder's birth date",
        ),
        (
            lambda t: _field(t, "mother_citizen_id").update(person_sex="F"),
            "证照类型 1110000099100006XH001 的信息项 mother_citizen_id 的 person_sex 须为“男”或“女”，不能为 'F'，请改正"
            "（field mother_citizen_id of 1110000099100006XH001: person_sex must be 男 or 女, not 'F'）",
        ),
        (
            lambda t: _field(t, "mother_name").update(person_sex="女"),
            "证照类型 1110000099100006XH001 的信息项 mother_name 的 person_sex 只能用于 type 为 CITIZEN_ID、且没有 "
            "of_holder 的信息项（所指之人的公民身份号码）：请删去 person_sex 或改正 type（field mother_name of "
            "1110000099100006XH001: person_sex, person_birth_date and person_name need a field of type CITIZEN_ID "
            "not of_holder）",
        ),
        (
            lambda t: _field(t, "mother_citizen_id").update(person_birth_date="mother_name"),
            "证照类型 1110000099100006XH001（出生医学证明）的信息项 mother_citizen_id（母亲有效身份证件号码）的 "
            "person_birth_date 'mother_name' 不是本类证照的 DATE 信息项的 key：请改为写明此人出生日期的 DATE 信息项的 "
            "key，或删去 person_birth_date（license type 1110000099100006XH001: field mother_citizen_id: "
            "person_birth_date must name a DATE field of the type, not 'mother_name'）",
        ),
    ],
)
def test_a_catalog_misusing_the_flag_does_not_load(change: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        Catalog.from_mapping(_with(change))


def test_a_type_of_holders_with_a_citizen_id_needs_no_birth_date_field() -> None:
    def only_citizen_ids(license_type: dict[str, Any]) -> None:
        license_type["holder_code_types"] = ["111"]
        _field(license_type, "birth_date").pop("of_holder")

    loaded = Catalog.from_mapping(_with(only_citizen_ids)).license_type(BIRTH_CERTIFICATE)
    assert [f.key for f in loaded.fields if f.guardian_of_holder] == ["mother_citizen_id", "father_citizen_id"]
