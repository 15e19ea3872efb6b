"""Guardianship (监护人代为授权): who may consent for a minor holder to the use of a license.

>>> guardians_of(certificate, catalog.license_type(BIRTH_CERTIFICATE))  # doctest: +SKIP
('370102199204010026', '370102199003010011')
>>> is_minor(certificate, catalog.license_type(BIRTH_CERTIFICATE), now)  # doctest: +SKIP
True

A minor (未成年人) is a natural person under 18 (民法典 第十七条). The holder of a license is one on a day (China time)
before their 18th birthday; from that day on they are of age and consent for themselves. A birthday on 29 February
falls on 1 March in a year without one (18 full years have passed only then). The birth date is the one the holder's
公民身份号码 carries, else that of the license's field marked ``of_holder: birth_date`` (a newborn's 出生医学证明,
whose holder may have no 公民身份号码 yet); a holder whose birth date cannot be told is not taken for a minor.

The license names the holder's parents in the fields the catalog marks ``guardian_of_holder`` (a 出生医学证明's
mother's and father's 公民身份号码): they, and only they, are the holder's guardians here, each while of full age
(18, by the birth date of their 公民身份号码: ``guardian_of_age``). A spouse on a 结婚证 is a
co-subject of it but no guardian. Other guardians (appointed by a court or a residents' committee) are not modelled.
"""

from __future__ import annotations

import datetime as dt

from gateway.domain.catalog import LicenseType, OfHolder, ValueType
from gateway.domain.identifiers import citizen_id_problem, holder_code_types_of
from gateway.domain.model import CHINA_TZ, License

AGE_OF_MAJORITY = 18
"""民法典 第十七条: 十八周岁以上的自然人为成年人."""
AGE_OF_CONSENT = 14
"""个人信息保护法 第二十八条、第三十一条: a minor under 14's personal information is sensitive, and its processing
needs the consent of a parent or other guardian: such a holder consents only through a guardian."""


def of_age_on(born: dt.date, years: int = AGE_OF_MAJORITY) -> dt.date:
    """The day a person born on ``born`` turns ``years`` (29 February: 1 March in a year without one)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # 29 February, and the year is not a leap year
        return dt.date(born.year + years, 3, 1)


def minor_on(born: dt.date, day: dt.date) -> bool:
    """Whether a person born on ``born`` is a minor on ``day``: not yet on their 18th birthday."""
    return day < of_age_on(born)


def holder_birth_date(license: License, license_type: LicenseType) -> dt.date | None:
    """The holder's birth date: the one their 公民身份号码 carries, else the license's ``of_holder: birth_date`` field;
    None when neither tells it."""
    holder = license.content.holder
    if holder.code_type == "111" and (born := citizen_birth_date(holder.code)) is not None:
        return born
    for spec in license_type.fields:
        if spec.of_holder is OfHolder.BIRTH_DATE:
            value = license.content.fields.get(spec.key, "")
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                continue
    return None


def citizen_birth_date(code: str) -> dt.date | None:
    """The birth date a 公民身份号码 carries; None for a code that is not one."""
    if citizen_id_problem(code) is not None:
        return None
    return dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))


def is_minor(license: License, license_type: LicenseType, now: dt.datetime) -> bool:
    """Whether the holder of ``license`` is a minor at ``now`` (the day in China time); False when their birth date
    cannot be told."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    born = holder_birth_date(license, license_type)
    return born is not None and minor_on(born, now.astimezone(CHINA_TZ).date())


def under_consent_age(
    license: License, license_type: LicenseType, now: dt.datetime, *, born: dt.date | None = None
) -> bool:
    """Whether the holder of ``license`` is under ``AGE_OF_CONSENT`` at ``now`` (the day in China time): such a
    holder consents only through a guardian. By the later of ``born``, the birth date the caller has from the
    holder's code or licenses (``AuthorizationService``'s ``holder_born``, as a consent's listing tells it), and the
    one ``license`` tells: a child by either is a child (``born`` alone, from a license revoked for a wrong date, had
    let a week-old's own consent read the corrected one; a reviewer, R1). False when neither tells it."""
    told = [date for date in (born, holder_birth_date(license, license_type)) if date is not None]
    return born_under_consent_age(max(told, default=None), now)


def born_under_consent_age(born: dt.date | None, now: dt.datetime) -> bool:
    """Whether a person born on ``born`` is under ``AGE_OF_CONSENT`` at ``now`` (the day in China time); False for
    a birth date not told (None)."""
    return born is not None and now.astimezone(CHINA_TZ).date() < of_age_on(born, AGE_OF_CONSENT)


def guardian_of_age(code: str, now: dt.datetime) -> bool:
    """Whether the person of 公民身份号码 ``code``, a parent a license names (``guardians_of``), is of full age at
    ``now`` (18 on the day, China time; 民法典 第十七、十八条), by the birth date the number carries
    (``citizen_birth_date``, as a holder's age is told): a guardian has full civil capacity (第二十七条). A
    12-year-old mother, refused her own consent (GUARDIAN_MUST_CONSENT), had consented for her newborn as its
    guardian (a reviewer, R3). False for a code that tells no birth date (no 公民身份号码: never a guardian here)."""
    born = citizen_birth_date(code)
    return born is not None and not minor_on(born, now.astimezone(CHINA_TZ).date())


def guardians_of(license: License, license_type: LicenseType) -> tuple[str, ...]:
    """The 公民身份号码 the license states in its ``guardian_of_holder`` fields (the holder's parents), as holder codes
    are kept (trimmed, upper case), sorted; empty values, the holder's own code (``holds``) and values that are no
    公民身份号码 left out."""
    found = set()
    for spec in license_type.fields:
        if not spec.guardian_of_holder or spec.value_type is not ValueType.CITIZEN_ID:
            continue
        code = license.content.fields.get(spec.key, "").strip().upper()
        if code and not holds(code, license) and citizen_id_problem(code) is None:
            found.add(code)
    return tuple(sorted(found))


def holds(code: str, license: License) -> bool:
    """Whether the person of ``code`` (as holder codes are kept) holds ``license`` as the code alone names a holder
    (``holder_code_types_of``): its holder code under a type the code tells. A 出生医学证明 stored under 其他 (099)
    with the mother's own 公民身份号码 as the newborn's code, before issuance refused that, is not hers but her
    child's, and she is still the parent it names: its guardian and co-subject, she had been neither for her number
    being its code, the one parent left out of its uses (a reviewer, R3)."""
    holder = license.content.holder
    return holder.code.strip().upper() == code and holder.code_type in holder_code_types_of(code)
