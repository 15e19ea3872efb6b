"""Validation of issue and amend requests, with every bad field reported at once.

An issuing department's clerk reads these refusals (in the issuing system, and in ``zzgw import``'s list of failed
lines), so each is said in Chinese first, the field by its Chinese name (the catalog's label for a license's
fields), and in English after, in parentheses, naming the field as the request does; the reasons are stable.

>>> errors: list[FieldViolation] = []
>>> check_date("issue_date", "2024-02-30", errors)
>>> errors[0].reason
'BAD_DATE'
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from gateway.domain.catalog import (
    HOLDER_CODE_TYPES,
    Catalog,
    FieldSpec,
    HolderKind,
    LicenseType,
    OfHolder,
    ValueType,
    unknown_type_words,
)
from gateway.domain.errors import FieldViolation, InvalidLicenseError, InvalidRequestError, PermissionDeniedError
from gateway.domain.identifiers import (
    HYPHENS,
    MAX_LICENSE_NUMBER,
    citizen_id_problem,
    composed,
    half_width,
    holder_code_type_by_form,
    holder_code_types_of,
    normal_number,
    region_code_problem,
    unhyphenated_code,
    unseen_in,
    uscc_problem,
)
from gateway.domain.model import Holder, LicenseDraft, Member, Role

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}\Z", re.ASCII)
_SERIAL_RE = re.compile(r"^[0-9A-Z]{1,32}\Z", re.ASCII)
_OTHER_HOLDER_CODE_RE = re.compile(r"^[0-9A-Za-z\-]{1,32}\Z", re.ASCII)
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""What a one-line text may not hold: control characters (C0 and C1), and the line and paragraph separators (U+2028,
U+2029), which break the line of a receipt or an access log it is shown in (a use's purpose; a penetration tester)."""
_TEXT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters (C0 and C1) a text field may not hold: all but tab and line breaks (a 经营范围 may run over
lines)."""
_BIDI_CONTROL_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
"""Embeddings, overrides and isolates, which make a text display in another order than it reads (a purpose or a
name shown reversed on a stamp or in the audit trail); the marks (U+200E, U+200F, U+061C) stay allowed."""
INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
"""Characters that print as nothing (Unicode's default-ignorable code points, fillers, the blank braille pattern):
in a number or a name they make a look-alike of another (``J370102\u034f-2019`` prints as ``J370102-2019``)."""
_HIDDEN_RE = re.compile(
    "[\u00ad\u115f\u1160\u17b4\u17b5\u200b\u2060-\u2064\u2800\u3164\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f"
    "\ufdd0-\ufdef\ufffe\uffff\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U000efffe\U000effff"
    "\U000ffffe\U000fffff\U0010fffe\U0010ffff]"
)
"""What no free text holds (a value, a reason, a purpose): characters that print as nothing and serve no script
(zero-width space, word joiners, byte order mark, soft hyphen, Hangul and braille fillers, tag characters),
interlinear annotation marks and noncharacters. A 法定代表人 of 张\u200b三 prints as 张三 and answers a claim of 张三
PARTLY_WRONG. What a script needs stays, unlike in numbers and names (``INVISIBLE_RE``, ``check_visible``): Mongolian's
variation selectors and vowel separator (U+180B-180F), the joiners of Mongolian and Arabic-script Uyghur and Kazakh
(U+200C, U+200D), the direction marks (U+200E, U+200F, U+061C), the variation selectors of rare Han characters
(U+FE00-FE0F, U+E0100-E01EF), and private-use characters, with which some registries write rare characters (生僻字)."""
_INTEGER_RE = re.compile(r"^-?\d{1,18}\Z", re.ASCII)
_DECIMAL_RE = re.compile(r"^-?\d{1,18}(\.\d{1,6})?\Z", re.ASCII)

MAX_HOLDER_NAME = 200
MAX_REASON = 500
MAX_NAMED = 1_000
"""Entries of a request's map of fields or list of names (IssueLicense's and AmendLicense's ``fields``,
``clear_fields``, RequestAccess's ``fields``, WatchLicenseChanges's ``type_codes``) looked at one by one, each bad one
a violation of its own. More, and more than the catalog could make valid (a type's fields, its types), is refused as
one (``too_many``) before any is looked at: 300,000 unknown keys had taken 7 s and 180 MB to be refused, their
violations built, sorted and formatted though 16 are sent, and six such calls had held up the others (a reviewer, R2).
An integration's whole row of some tens of columns is still named column by column."""
FIELD_LABELS: Mapping[str, str] = {
    "request_id": "请求编号",
    "type_code": "证照类型代码",
    "license_number": "证照编号",
    "holder.name": "持证主体名称",
    "holder.code_type": "持证主体代码类型",
    "holder.code": "持证主体代码",
    "issue_date": "发证日期",
    "valid_from": "有效期起始日期",
    "valid_until": "有效期截止日期",
    "region_code": "行政区划代码",
    "serial": "流水号",
    "reason": "原因",
    "use.purpose": "用证事由",
}
"""The Chinese names of a request's own fields, by which refusals name them (a license's fields go by their catalog
labels); a field not here is named as the request names it."""
_PROBLEM_WORDS: Mapping[str, str] = {
    "must be 17 digits followed by a digit or X": "须为17位数字加1位数字或X",
    "is a 15-digit first-generation number: give the 18-digit one (GB 11643)": "为15位的第一代号码，请填写18位号码",
    "starts with an unknown region code": "开头的行政区划代码不存在",
    "carries a birth date that does not exist": "中的出生日期不存在",
    "carries a birth date in the future": "中的出生日期晚于今天",
    "check character does not match (GB 11643)": "校验码不符",
    "must be 18 characters from 0-9 and A-Y without I, O, S, V, Z": "须为18位数字或字母（不含I、O、S、V、Z）",
    "check character does not match (GB 32100)": "校验码不符",
    "its first two characters are no registration authority and organisation type of GB 32100": (
        "的前两位不是GB 32100规定的登记管理部门和机构类别代码"
    ),
    "must be a 6-digit GB/T 2260 administrative division code": "须为6位GB/T 2260行政区划代码",
}
"""The Chinese of what ``gateway.domain.identifiers`` finds wrong with a code (its words are English, shared with the
catalog's checks)."""
EARLIEST_DATE = dt.date(1900, 1, 1)
"""No license in the registry was issued before this, nor states a date before it (出生, 成立日期): an earlier date is a
typing slip or a system's empty date (0001-01-01), which would print on the document (an issue date would make the
license look valid since antiquity)."""
LATEST_START_YEARS = 1
"""A ``valid_from`` is at most this many years after today (China's date): a license is issued to be used, and a
renewal issued ahead of the old one's end starts within months (食品生产许可证 延续 is applied for 30 working days
before the end, a 驾驶证 renewed within 90 days). A later start is a slip (a year mistyped, 2052 for 2025) or a
system's far sentinel (9999-12-30), which would be sealed and verified NOT_YET_VALID for years (a reviewer)."""
MAX_VALIDITY_YEARS = 100
"""A ``valid_until`` is at most this many years after the license's issue date, or its ``valid_from`` if later (a
back-dated start, a renewal's, does not shorten it): no license of a type that expires runs longer than a lifetime
(terms run 5 to 20 years, a 居民身份证's the longest, and a card of no end is 长期, an empty ``valid_until``). A
later end is a slip or a database's "no end", which would make a license that by law lapses verify ACTIVE for ever
(a reviewer)."""


def years_after(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (29 February: 1 March in a year without one); the last date there is past it."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        if day.year + years > dt.MAXYEAR:
            return dt.date.max
        return dt.date(day.year + years, 3, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidIssue:
    """An issue request that passed validation: typed values, defaults applied, empty fields dropped."""

    license_type: LicenseType
    license_number: str
    holder: Holder
    issue_date: dt.date
    valid_from: dt.date
    valid_until: dt.date | None
    region_code: str
    fields: Mapping[str, str]
    serial: str


def holder_code_required(code_type: str = "") -> str:
    """A missing holder code asked for as what it is: 请填写持证主体代码：统一社会信用代码 for type 001; for a call that
    names no type (a holder portal's), the two kinds of code a holder has."""
    if code_type in HOLDER_CODE_TYPES and code_type != "099":
        return f"请填写持证主体代码：{HOLDER_CODE_TYPES[code_type]}"
    return "请填写持证主体代码：公民身份号码或统一社会信用代码"


def date_label(label: str) -> str:
    """A date field's label as a sentence names the date: 出生 (a 居民身份证's face label) as 出生日期, 成立日期 as
    it is (出生晚于今天 had read as a birth, not a date, after today)."""
    return label if label.endswith(("日期", "日")) else f"{label}日期"


def _code_types_said(code_types: Sequence[str]) -> str:
    """Holder code types with their names: ``001（统一社会信用代码）``."""
    return "、".join(f"{t}（{HOLDER_CODE_TYPES[t]}）" if t in HOLDER_CODE_TYPES else t for t in code_types)


def check_issuer(member: Member, license_type: LicenseType) -> None:
    """一数一源: only an authoritative issuer of the type may issue or change it."""
    if not member.has(Role.ISSUER) or member.code not in license_type.issuers:
        raise PermissionDeniedError(
            f"{member.name}不是{license_type.name}的发证部门：按“一数一源”，{license_type.name}只能由其权威发证部门签发"
            f"（{member.name} is not an authoritative issuer of {license_type.name_en or license_type.code}）",
            reason="NOT_AUTHORITATIVE_ISSUER",
            metadata={"type_code": license_type.code},
        )


def validate_issue(
    draft: LicenseDraft,
    catalog: Catalog,
    issuer: Member,
    today: dt.date,
    *,
    stated: Mapping[str, str] | None = None,
    stated_from: dt.date | None = None,
    stated_until: dt.date | None = None,
) -> ValidIssue:
    """Check an issue request; raises InvalidLicenseError with every violation, or PermissionDeniedError.
    ``stated``: the fields of the version an amendment supersedes, whose dates kept as they are are not judged again
    against today (``check_fields``); ``stated_from``, its ``valid_from``, likewise not judged again when kept;
    ``stated_until``, its ``valid_until``, judged, but said as the license's when kept (``check_validity``)."""
    errors: list[FieldViolation] = []
    check_request_id(draft.request_id, errors)
    license_type = catalog.license_types.get(draft.type_code)
    if not draft.type_code:
        errors.append(_v("type_code", "REQUIRED", _said("请填写证照类型代码", "type_code is required")))
        raise InvalidLicenseError(errors)
    if license_type is None:
        code = draft.type_code[:64]
        errors.append(
            _v("type_code", "UNKNOWN_LICENSE_TYPE", _said(unknown_type_words(code), f"unknown license type {code!r}"))
        )
        raise InvalidLicenseError(errors)
    check_issuer(issuer, license_type)
    # an amendment's fields are those of the version it supersedes with its own: as many as could be valid
    if violation := too_many("fields", len(draft.fields), len(license_type.fields) + len(stated or {})):
        raise InvalidLicenseError([violation])

    number_label = license_type.license_number_label
    license_number = normal_number(
        check_visible("license_number", draft.license_number, MAX_LICENSE_NUMBER, errors, label=number_label)
    )
    holder = check_holder(
        draft.holder_name, draft.holder_code_type, draft.holder_code, license_type, errors, today=today
    )
    issue_date = check_date("issue_date", draft.issue_date, errors, required=True)
    if issue_date and issue_date > today:
        errors.append(
            _v(
                "issue_date",
                "ISSUE_DATE_IN_FUTURE",
                _said(f"发证日期 {issue_date} 晚于今天", f"issue date {issue_date} is after today"),
            )
        )
    elif issue_date and issue_date < EARLIEST_DATE:
        errors.append(
            _v(
                "issue_date",
                "ISSUE_DATE_TOO_EARLY",
                _said(
                    f"发证日期 {issue_date} 早于 {EARLIEST_DATE}",
                    f"issue date {issue_date} is before {EARLIEST_DATE}",
                ),
            )
        )
    valid_from = check_date("valid_from", draft.valid_from, errors)
    if valid_from is not None and valid_from < EARLIEST_DATE and valid_from != stated_from:
        # as every other date (a system's empty 0001-01-01 had been issued as in force since year 1: a reviewer). A
        # start long before the issue date is not refused: a renewal may be back-dated
        errors.append(
            _v(
                "valid_from",
                "DATE_TOO_EARLY",
                _said(
                    f"{FIELD_LABELS['valid_from']}早于 {EARLIEST_DATE}",
                    f"valid_from is before {EARLIEST_DATE}",
                ),
            )
        )
    elif (
        valid_from is not None
        and valid_from != stated_from
        and valid_from > (latest := years_after(today, LATEST_START_YEARS))
    ):
        errors.append(
            _v(
                "valid_from",
                "DATE_TOO_LATE",
                _said(
                    f"{FIELD_LABELS['valid_from']} {valid_from} 晚于今天起一年（最晚 {latest}）",
                    f"valid_from {valid_from} is more than {LATEST_START_YEARS} year after today (at the latest "
                    f"{latest})",
                ),
            )
        )
    valid_from = valid_from or issue_date
    valid_until = check_validity(
        license_type, issue_date, valid_from, draft.valid_until, errors, stated_until=stated_until
    )
    region_code = draft.region_code or issuer.region
    if problem := region_code_problem(region_code):
        errors.append(_v("region_code", "BAD_REGION_CODE", _problem("region_code", "行政区划代码", problem)))
    serial = draft.serial.upper()  # a UUID as most systems print it, in lower case: the identifier's is upper
    if serial and not _SERIAL_RE.match(serial):
        errors.append(
            _v(
                "serial",
                "BAD_SERIAL",
                _said("流水号须为1至32位数字或字母", "serial must be 1-32 characters of 0-9A-Z"),
            )
        )
    elif serial and (
        personal := serial_personal_data(
            serial, draft.license_number, draft.holder_code, _written_fields(license_type, draft.fields), today=today
        )
    ):
        zh, en = personal
        errors.append(
            _v(
                "serial",
                "BAD_SERIAL",
                _said(
                    f"流水号中不能填写{zh}（流水号是电子证照标识的一部分，随标识写入核验回执和证照变更通知，其他部门和"
                    "合作网关都能看到），请填写本部门自编的流水号，或留空由网关生成",
                    f"serial must not hold {en}: it is part of the license identifier, which receipts and other "
                    "members' change feeds carry; give a serial of your own numbering, or none to have one generated",
                ),
            )
        )
    fields = check_fields(license_type, draft.fields, errors, partial=False, today=today, stated=stated)
    if issue_date is not None:
        check_born_before_issue(license_type, issue_date, fields, errors)
    if holder is not None:
        check_holder_fields(license_type, holder, fields, errors)
        check_person_fields(license_type, holder, fields, errors, today=today)
        check_holder_among(license_type, holder, fields, errors, today=today)
        if license_type.license_number_of_holder and license_number and license_number != holder.code:
            code_name = HOLDER_CODE_TYPES.get(holder.code_type, "持证主体代码")
            errors.append(
                _v(
                    "license_number",
                    "DISAGREES_WITH_HOLDER",
                    _said(
                        f"{number_label}与持证主体的{code_name}不一致",
                        "license_number is not the holder's code (holder.code)",
                    ),
                )
            )
    if errors:
        raise InvalidLicenseError(errors)
    assert issue_date is not None and valid_from is not None and holder is not None
    return ValidIssue(
        license_type=license_type,
        license_number=license_number,
        holder=holder,
        issue_date=issue_date,
        valid_from=valid_from,
        valid_until=valid_until,
        region_code=region_code,
        fields=fields,
        serial=serial,
    )


_SERIAL_CITIZEN_ID_IN = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")
_SERIAL_MOBILE_IN = re.compile(r"(?<![0-9])(?:86)?(1[3-9][0-9]{9})(?![0-9])")
_SERIAL_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u00b7\u30fb()（）+]")
SERIAL_LICENSE_NUMBER_HELD = 6
"""The shortest license number a serial is refused for holding (``2024`` + ``000123``): a shorter one is found in a
serial of the issuer's own numbering by chance; a serial that is the license number is refused whatever its length."""


def _written_fields(license_type: LicenseType, fields: Mapping[str, str]) -> dict[str, str]:
    """The fields a person's number may be written in (text, a 公民身份号码), not an amount, a count or a date: a
    注册资本 of 13800000000 is no mobile number."""
    kinds = {spec.key: spec.value_type for spec in license_type.fields}
    return {
        key: value
        for key, value in fields.items()
        if isinstance(value, str) and kinds.get(key) in (ValueType.STRING, ValueType.CITIZEN_ID)
    }


def serial_personal_data(
    serial: str,
    license_number: str,
    holder_code: str,
    fields: Mapping[str, str] | None = None,
    *,
    today: dt.date | None = None,
) -> tuple[str, str] | None:
    """What personal data of the license's own a serial (流水号, upper case, of ``0-9A-Z``) holds, in Chinese and
    English, or None. The serial is part of the license identifier, which every receipt of the license carries in
    clear and every member watching the type receives (``WatchLicenseChanges``): a 居民身份证 issued with the
    holder's 公民身份号码 as its serial had given a partner province the number of every card (a reviewer of the
    partner role, R1).

    Refused: a serial that holds, anywhere in it, the holder's code or the license number when it is a 公民身份号码
    (``37010219630606863001``, ``2024370102196306068630``), or a 公民身份号码 or a mobile number that one of the
    license's fields states (a 出生医学证明's mother's, a 联系电话), spaces, dashes and +86 apart; one that holds the
    license number (of at least ``SERIAL_LICENSE_NUMBER_HELD`` characters); one that is the license number or the
    holder's code, whatever they are (receipts name neither in clear). A serial is not refused for digits that only
    look like a 公民身份号码 or a mobile number: region, date and sequence serials (``370100201109195084``, one in 11
    of them) and 2013-2019 date serials (``19092865706``) had been refused so, their issuers' whole back catalogues
    with them (a review of the fixes, R2 and R3)."""
    number, code = normal_number(license_number), normal_number(holder_code)
    citizen_ids = {c for c in (number, code) if citizen_id_problem(c, today=today) is None}
    mobiles: set[str] = set()
    for value in (fields or {}).values():
        folded = unicodedata.normalize("NFKC", value).upper()
        for form in (folded, _SERIAL_SEPARATORS.sub("", folded)):  # "房号 1203 138…" either way
            citizen_ids.update(
                c for c in _SERIAL_CITIZEN_ID_IN.findall(form) if citizen_id_problem(c, today=today) is None
            )
            mobiles.update(_SERIAL_MOBILE_IN.findall(form))
    if any(c in serial for c in citizen_ids):
        return "公民身份号码", "a citizen ID number"
    if any(m in serial for m in mobiles):
        return "手机号码", "a mobile number"
    if number and (serial == number or (len(number) >= SERIAL_LICENSE_NUMBER_HELD and number in serial)):
        return "证照编号", "the license number"
    if code and serial == code:
        return "持证主体代码", "the holder's code"
    return None


def check_request_id(request_id: str, errors: list[FieldViolation]) -> None:
    if not request_id:
        errors.append(
            _v("request_id", "REQUIRED", _said("请填写请求编号", "request_id is required, the idempotency key"))
        )
    elif not REQUEST_ID_RE.match(request_id):
        errors.append(
            _v(
                "request_id",
                "BAD_REQUEST_ID",
                _said(
                    "请求编号须为1至64位字母、数字或 . _ : -",
                    "request_id must be 1-64 characters of A-Z a-z 0-9 . _ : -",
                ),
            )
        )


def check_text(
    field: str,
    value: str,
    limit: int,
    errors: list[FieldViolation],
    *,
    required: bool = False,
    label: str = "",
    hint: str = "",
) -> str:
    """``value`` trimmed and composed; what is wrong with it added to ``errors``, naming the field by ``label`` in
    Chinese (by default its name in ``FIELD_LABELS``); ``hint`` follows the request to fill it in (，如…)."""
    value = kept_text(value)
    label = label or FIELD_LABELS.get(field, field)
    if not value:
        if required:
            errors.append(_v(field, "REQUIRED", _said(f"请填写{label}{hint}", f"{field} is required")))
    elif problem := _text_problem(field, label, value, limit, _CONTROL_RE):
        errors.append(problem)
    return value


_SPACE_KINDS = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_SPACES = str.maketrans(dict.fromkeys(_SPACE_KINDS, " "))
_SPACE_KIND_RE = re.compile(f"[{_SPACE_KINDS}]")
"""Whether a text has a space to make plain: looked for first, as most have none (a regular expression's search
takes a tenth of ``str.translate``'s time, which looks each character up: 2 µs of each field of every item of a
batch, review s55fix, R1)."""


def kept_text(value: str) -> str:
    """A text (a name, a number, a field's value) as the gateway keeps it: its spaces plain and trimmed
    (``plain_spaces``), its marks composed (``composed``). Validation keeps it so, and an issue's idempotency digest
    is taken of it (``kept_draft``)."""
    return composed(plain_spaces(value))


def kept_field(value_type: ValueType | None, value: str) -> str:
    """A license's field of ``value_type`` (None: a field the type does not have) as the gateway keeps it: a text
    (``kept_text``), and a 公民身份号码 or 统一社会信用代码 half width and in upper case as well (``check_fields``)."""
    value = kept_text(value)
    if value_type is ValueType.CITIZEN_ID or value_type is ValueType.USCC:
        return half_width(value).upper()
    return value


def kept_holder_code(code: str) -> str:
    """A holder's code as the gateway keeps it: half width, trimmed, in upper case (``check_holder_code``)."""
    return half_width(code).strip().upper()


def kept_draft(draft: LicenseDraft, license_type: LicenseType | None, region: str) -> LicenseDraft:
    """``draft`` spelt as ``validate_issue`` keeps what it asks for, with the same functions, for an issue's
    idempotency digest: the number as stored (``normal_number``), the holder's name and every field's value as kept
    (``kept_text``; a code field half width and in upper case, ``kept_field``; one empty once kept left out, as it is
    not stored), the holder's code (``kept_holder_code``) and the serial as kept (upper case), and ``valid_from`` and
    ``region_code`` sent empty as their defaults, the issue date and the issuer's ``region``. Nothing is validated:
    a retry is answered as its first try was even where the catalog would refuse it now (``license_type`` None: the
    fields as texts). A retry spelt as ``GetLicense`` returns the license (a 营业执照's ``fields.uscc`` in upper
    case, a name with its full-width space a plain one) had been REQUEST_ID_REUSED (review s55fix, R1)."""
    kinds = {spec.key: spec.value_type for spec in license_type.fields} if license_type is not None else {}
    fields = {}
    for key, value in draft.fields.items():
        if kept := kept_field(kinds.get(key), value):
            fields[key] = kept
    return replace(
        draft,
        license_number=normal_number(kept_text(draft.license_number)),
        holder_name=kept_text(draft.holder_name),
        holder_code=kept_holder_code(draft.holder_code),
        valid_from=draft.valid_from or draft.issue_date,
        region_code=draft.region_code or region,
        fields=fields,
        serial=draft.serial.upper(),
    )


def plain_spaces(text: str) -> str:
    """``text`` with every kind of space a plain one and none around it, as names, texts and operator ids are kept:
    a name exported from a register as 王\u3000敏 (a Chinese input method's full-width space) or with a no-break
    space pasted from a document is the name 王 敏, not one refused as invisible, and a field stating it agrees with
    it.

    >>> plain_spaces("3号窗口\u3000王敏\u00a0")
    '3号窗口 王敏'
    """
    return (text.translate(_SPACES) if _SPACE_KIND_RE.search(text) else text).strip()


def _text_problem(field: str, label: str, value: str, limit: int, controls: re.Pattern[str]) -> FieldViolation | None:
    """What is wrong with a text that is not empty: its characters or its length (BAD_CHARACTERS, TOO_LONG). A
    character refused is named by its code point (U+200B), which a clerk can look for: most print as nothing."""
    if problem := _leading_mark(field, label, value):
        return problem
    if len(value) > limit:
        return _v(
            field, "TOO_LONG", _said(f"{label}不得超过{limit}个字符", f"{field} must be at most {limit} characters")
        )
    return _characters_problem(field, label, value, controls)


def _leading_mark(field: str, label: str, value: str) -> FieldViolation | None:
    """BAD_CHARACTERS for a text that is not empty and begins with a combining mark, which has nothing to sit on."""
    if not unicodedata.combining(value[0]):
        return None
    mark = f"U+{ord(value[0]):04X}"
    return _v(
        field,
        "BAD_CHARACTERS",
        _said(f"{label}不能以组合附加符 {mark} 开头", f"{field} begins with a combining mark, {mark}"),
    )


def claimed_value_problem(
    where: str, label: str, value: str, *, multiline: bool, as_name: bool
) -> FieldViolation | None:
    """BAD_CHARACTERS for a value a claim states (``CheckClaim``'s ``fields``) that holds a character no license's
    value can hold: the characters the issuer's value is refused for (``_field_problem``: controls, but tab and line
    breaks in a ``multiline`` text field; direction overrides; invisible characters), and for the holder's name
    (``as_name``) what ``check_visible`` refuses too. Such a claim is bad input, not a wrong claim: 张\u200b三 or a NUL
    pasted in had been answered 7 (信息有误) and counted, five of them holding the department back from the license for
    a day, although the applicant's papers were right (found by an integrator). Its length is not judged: a value
    longer than the field's is a claim that differs. An empty or blank value is None: it claims nothing."""
    value = composed(plain_spaces(value))
    if not value:
        return None
    controls = _TEXT_CONTROL_RE if multiline else _CONTROL_RE
    if problem := _leading_mark(where, label, value) or _characters_problem(where, label, value, controls):
        return problem
    if as_name and (found := unseen_characters(value)):
        return _bad_characters(where, label, found, "不可见字符", "invisible characters")
    return None


def _characters_problem(field: str, label: str, value: str, controls: re.Pattern[str]) -> FieldViolation | None:
    """BAD_CHARACTERS for a text holding a control character (of ``controls``), a direction override or an invisible
    character, naming them by code point."""
    if found := controls.findall(value):
        return _bad_characters(field, label, found, "控制字符", "control characters")
    if found := _BIDI_CONTROL_RE.findall(value):
        return _bad_characters(field, label, found, "文字方向控制符", "bidirectional controls")
    if found := _HIDDEN_RE.findall(value):
        return _bad_characters(field, label, found, "不可见字符", "invisible characters")
    return None


def _bad_characters(field: str, label: str, found: list[str], kind: str, kind_en: str) -> FieldViolation:
    """BAD_CHARACTERS naming the characters ``found`` by code point, each once, the first three: a clerk looks for
    U+200B in the register's record, where it prints as nothing."""
    zh, en = code_points(found)
    return _v(field, "BAD_CHARACTERS", _said(f"{label}含有{kind} {zh}", f"{field} contains {kind_en}: {en}"))


def unseen_characters(text: str) -> list[str]:
    """The characters of ``text`` that a name may not hold, as they come: what does not print (controls, format
    characters such as the zero-width space U+200B, the byte order mark U+FEFF and direction controls, spaces other
    than the plain one, private-use characters) and what prints as nothing (``INVISIBLE_RE``). A name holding one looks
    like another (王\u200b伟 prints as 王伟): a holder's name and a license number (``check_visible``), a claim of a
    name, a member's name (``str.isprintable``) and the catalog's names and labels (``Catalog.unseen_text``)."""
    if text.isprintable() and not INVISIBLE_RE.search(text):
        return []
    return [c for c in text if not c.isprintable() or INVISIBLE_RE.match(c)]


def code_points(found: list[str]) -> tuple[str, str]:
    """``found`` named by code point, each once, the first three, in Chinese and in English (``U+200B、U+FEFF 等4种``,
    ``U+200B, U+FEFF and 2 more``): a reader looks for U+200B where it prints as nothing."""
    distinct = list(dict.fromkeys(found))
    named = [f"U+{ord(c):04X}" for c in distinct[:3]]
    more = len(distinct) - len(named)
    return "、".join(named) + (f" 等{len(distinct)}种" if more else ""), ", ".join(named) + (
        f" and {more} more" if more else ""
    )


def check_visible(field: str, value: str, limit: int, errors: list[FieldViolation], *, label: str = "") -> str:
    """A required text that must print as it is compared: a zero-width space or another invisible character makes a
    license number or a holder's name that looks like another's (王\u200b伟 prints as 王伟 and matches no claim).
    Spaces of every width are plain spaces by then (``check_text``)."""
    before = len(errors)
    value = check_text(field, value, limit, errors, required=True, label=label)
    if len(errors) == before and value and (found := unseen_characters(value)):
        label = label or FIELD_LABELS.get(field, field)
        errors.append(_bad_characters(field, label, found, "不可见字符", "invisible characters"))
    return value


def check_holder(
    name: str,
    code_type: str,
    code: str,
    license_type: LicenseType,
    errors: list[FieldViolation],
    *,
    today: dt.date | None = None,
) -> Holder | None:
    before = len(errors)
    name = check_visible("holder.name", name, MAX_HOLDER_NAME, errors)
    if not code_type:
        errors.append(
            _v("holder.code_type", "REQUIRED", _said("请填写持证主体代码类型", "holder.code_type is required"))
        )
    elif code_type not in license_type.holder_code_types:
        allowed = ", ".join(license_type.holder_code_types)
        errors.append(
            _v(
                "holder.code_type",
                "BAD_HOLDER_CODE_TYPE",
                _said(
                    f"{license_type.name}的持证主体代码类型须为 {_code_types_said(license_type.holder_code_types)}",
                    f"{license_type.name_en or license_type.code} holders use code type {allowed}",
                ),
            )
        )
    code = check_holder_code("holder.code", code_type, code, errors, today=today)
    if len(errors) == before and (mismatch := _code_type_mismatch(code_type, code, license_type)):
        errors.append(mismatch)
    if len(errors) > before:
        return None
    return Holder(name=name, code_type=code_type, code=code)


def _code_type_mismatch(code_type: str, code: str, license_type: LicenseType) -> FieldViolation | None:
    """CODE_TYPE_MISMATCH: a 公民身份号码 under another code type than ``111`` (``001`` too for one that is also
    a credit code), or a 统一社会信用代码 under another than ``001`` for an organisation's license type; else None.

    A holder portal names a holder by the code alone (``holder_code_types_of``), and a 公民身份号码 names its person's
    licenses under ``111`` only: a 出生医学证明 a hospital registered under 其他 (099) with a parent's number had been
    the parent's, to consent on as its holder (a holder-rights tester). A credit code is refused under 其他 for an
    organisation only: one 18-character code in 31 of a person's own (beginning as a credit code may: a hospital's code
    for a newborn) passes the GB 32100 check by chance, and had been refused under 其他 and told to take ``001``,
    which no person's license type has (a reviewer)."""
    told = holder_code_types_of(code)
    if "111" in told and code_type not in told:
        if license_type.holder_kind is HolderKind.PERSON:
            return _mismatch(
                code_type,
                "111",
                "：持证人本人的公民身份号码以 111 登记，他人的公民身份号码不能作为持证主体代码",
                "citizen ID",
            )
        if "001" not in told:  # an organisation's license under a person's number: nobody's by the code alone
            return _v(
                "holder.code_type",
                "CODE_TYPE_MISMATCH",
                _said(
                    f"持证主体代码是公民身份号码，{license_type.name}的持证主体是组织，不能以公民身份号码作为持证主体代码",
                    f"holder.code is a citizen ID, and {license_type.name_en or license_type.code} holders are "
                    "organisations",
                ),
            )
    if (
        license_type.holder_kind is HolderKind.ORGANIZATION
        and code_type != "001"
        and uscc_problem(normal_number(code)) is None
    ):
        return _mismatch(code_type, "001", "", "credit code")
    return None


def _mismatch(code_type: str, meant: str, why: str, meant_en: str) -> FieldViolation:
    name = HOLDER_CODE_TYPES[meant]
    return _v(
        "holder.code_type",
        "CODE_TYPE_MISMATCH",
        _said(
            f"持证主体代码是{name}，持证主体代码类型须为 {meant} {name}，不能为 {code_type} "
            f"{HOLDER_CODE_TYPES.get(code_type, '')}{why}",
            f"holder.code is a {meant_en}: code type {meant}, not {code_type}",
        ),
    )


def checked_holder_code(
    code: str, *, code_type: str = "", field: str = "holder_code", held: Callable[[str], bool] | None = None
) -> str:
    """A holder's code as a request names it (sharing, consents, access records, claims), checked as issuance checks
    a license's holder (``check_holder_code``), so that a mistyped check character is refused
    (``BAD_CHECK_CHARACTER``) instead of matching nobody; a code given without its type by the type its form tells
    (``holder_code_type_by_form``). InvalidRequestError when it is bad.

    A code given alone that fails its form's check is taken all the same when ``held`` says licenses are stored under
    it: issuance takes any 1-32 letters, digits or '-' under 其他 (099), a hospital's own code for a newborn with a
    公民身份号码's form and no check character of one among them, and every holder-portal call had refused the code
    its licenses are read by (a reviewer, R2). A code nothing is stored under is refused as before: a 公民身份号码
    mistyped.

    A code given alone that was typed with hyphens, which no 公民身份号码 or 统一社会信用代码 has, is the code without
    them (``_without_hyphens``), as ``find_by_number`` finds a license by it: 370102-19920427-092X, taken as a code
    of 其他 (099), which may have them, had listed no access records, consents or licenses of one's child, with no
    error, on the log of a code nobody holds (review holder, R1)."""
    if not code_type:
        code = _without_hyphens(code, held)
    errors: list[FieldViolation] = []
    checked = check_holder_code(field, code_type or holder_code_type_by_form(code), code, errors)
    if errors and not (not code_type and held is not None and valid_holder_code(checked, "099") and held(checked)):
        raise InvalidRequestError(errors)
    return checked


def _without_hyphens(code: str, held: Callable[[str], bool] | None) -> str:
    """``code``, a holder's given alone, without the hyphens it was typed with (``HYPHENS``: ASCII, Unicode's two,
    full width) when what is left is 18 letters and digits (``unhyphenated_code``: a 公民身份号码 or 统一社会信用代码,
    then checked as one, a wrong check character refused), or when ``held`` says licenses are stored under what is
    left (a hospital's own code for a newborn, H2026-1201-047011); ``code`` as given when licenses are stored under
    it as typed (其他 takes '-'), as ``find_by_number`` tries a number as typed first, and for any other."""
    kept = kept_holder_code(code)
    bare = HYPHENS.sub("", kept)
    if bare == kept or (held is not None and _OTHER_HOLDER_CODE_RE.match(kept) and held(kept)):
        return code
    if unhyphenated_code(kept) is not None:
        return bare
    return bare if held is not None and _OTHER_HOLDER_CODE_RE.match(bare) and held(bare) else code


_CHECKED_CODE_TYPES = frozenset({"111", "001", "554"})
"""Holder code types whose codes have a structure checked (a check character, a birth date); any other takes any
1-32 letters, digits or '-' (a passport number, 其他)."""


def _claimed_without_separators(code: str, allowed: Collection[str]) -> str:
    """A claimed holder ``code`` without its spaces and hyphens (``HYPHENS``) when what is left has the form of a
    公民身份号码 or 统一社会信用代码 (``holder_code_type_by_form``): no holder's code has a space, and hyphens are taken
    off only where no code of 其他, which may have them, could be meant: when the type's holders (``allowed``) have
    none, or what is left checks as such a code. Taken off whenever 18 letters and digits were left, a newborn's own
    code ZZZZ-2026-1201-047012 claimed as issued had been answered 7 and counted toward TOO_MANY_WRONG_CLAIMS (a
    reviewer of the fixes, R1)."""
    kept = kept_holder_code(code)
    unspaced = re.sub(r"\s", "", kept)
    bare = HYPHENS.sub("", unspaced)
    if bare == kept or (form := holder_code_type_by_form(bare)) == "099":
        return code
    if bare != unspaced and any(kind not in _CHECKED_CODE_TYPES for kind in allowed):
        return bare if valid_holder_code(bare, form) else code
    return bare


def checked_claimed_holder_code(code: str, license_type: LicenseType, *, field: str = "holder_code") -> str:
    """A holder code named with ``license_type`` (a claim about one of its licenses), checked as a code its holders
    may have: by its form's type (``holder_code_type_by_form``) when theirs; else by a type of theirs that takes any
    code (a passport number, 其他); else by their first. A code of a 公民身份号码's form whose check character is
    wrong is a typing slip (``BAD_CHECK_CHARACTER``) for a type whose holders may have one, as docs/api.md says.
    A 公民身份号码 with a digit dropped, a 15-digit one or a credit code, claimed of a 居民身份证, is so refused as a
    公民身份号码 (``BAD_CITIZEN_ID``): read as 其他 by its form, it had been compared with the holder's and answered 7
    (partly wrong), counted against the department. A valid code of a type the holders never have (a 公民身份号码 for a
    食品生产许可证) is ``BAD_HOLDER_CODE_TYPE``, not a check character said wrong of a number that is right (a
    reviewer). InvalidRequestError when it is bad.

    A 公民身份号码 or 统一社会信用代码 pasted with hyphens or spaces (913701-0000003202PQ, 370102 19920427 092X), which
    no such code has, is claimed without them (``_claimed_without_separators``), as the claim's number is found
    (``find_by_number``): the same paste had been found as the number and refused BAD_USCC as the holder's code
    (review s55fix, R5; with spaces, review console2, R2)."""
    allowed = license_type.holder_code_types
    code = _claimed_without_separators(code, allowed)
    form = holder_code_type_by_form(code)
    if form == "001" and "001" not in allowed and "111" in allowed and valid_holder_code(code, "111"):
        # about 3% of 公民身份号码 are valid credit codes too, and read as such by their form: a citizen's own number
        # claimed of their 居民身份证 had been refused BAD_HOLDER_CODE_TYPE (a time fixer). Only as a 公民身份号码,
        # whose form is checked: 554 takes any code, and a company's had been compared as one (a reviewer)
        form = "111"
    loose = next((kind for kind in allowed if kind not in _CHECKED_CODE_TYPES), None)
    errors: list[FieldViolation] = []
    checked = check_holder_code(field, form, code, errors)
    if form in allowed:  # a code of a 公民身份号码's form with a wrong check character is a typing slip (docs/api.md)
        if errors:
            raise InvalidRequestError(errors)
        return checked
    if loose is not None:
        return checked_holder_code(code, code_type=loose, field=field)
    if form in _CHECKED_CODE_TYPES and not errors:
        names = "或".join(HOLDER_CODE_TYPES[kind] for kind in allowed)
        raise InvalidRequestError(
            [
                _v(
                    field,
                    "BAD_HOLDER_CODE_TYPE",
                    _said(
                        f"{license_type.name}的持证主体代码须为{names}，所填为{HOLDER_CODE_TYPES[form]}",
                        f"{license_type.name} holders have codes of type {', '.join(allowed)}, not {form}",
                    ),
                )
            ]
        )
    return checked_holder_code(code, code_type=allowed[0], field=field)


def valid_holder_code(code: str, code_type: str) -> bool:
    """Whether ``code`` is a valid holder code of ``code_type``."""
    errors: list[FieldViolation] = []
    check_holder_code("holder_code", code_type, code, errors)
    return not errors


def check_holder_code(
    field: str, code_type: str, code: str, errors: list[FieldViolation], *, today: dt.date | None = None
) -> str:
    """A holder's code (持证主体代码) as the gateway keeps it, trimmed and in upper case (a 公民身份号码 typed with
    ``x`` is the one printed with ``X``), checked by the rules of ``code_type``: a 公民身份号码 and a 统一社会信用代码
    with their check characters (``BAD_CHECK_CHARACTER``), a code of any other type as 1-32 letters, digits or '-'.
    Issuance checks a license's holder here, and every call that names a holder its code, so each takes a code typed
    in full width (a Chinese input method's ３７０１…) as CheckClaim did, and none refuses it "须为17位数字" while
    showing 18 digits (a standards tester). A 公民身份号码 born after ``today`` is refused (by default today in China:
    ``citizen_id_problem``)."""
    code = kept_holder_code(code)
    if not code:
        errors.append(_v(field, "REQUIRED", _said(holder_code_required(code_type), f"{field} is required")))
    elif code_type == "111":
        if problem := citizen_id_problem(code, today=today):
            errors.append(_v(field, _reason(problem, "BAD_CITIZEN_ID"), _problem(field, "公民身份号码", problem)))
    elif code_type == "001":
        if problem := uscc_problem(code):
            errors.append(_v(field, _reason(problem, "BAD_USCC"), _problem(field, "统一社会信用代码", problem)))
    elif not _OTHER_HOLDER_CODE_RE.match(code):
        errors.append(
            _v(
                field,
                "BAD_HOLDER_CODE",
                _said("持证主体代码须为1至32位字母、数字或“-”", f"{field} must be 1-32 letters, digits or '-'"),
            )
        )
    return code


def member_code_violation(field: str, code: str, label: str) -> FieldViolation | None:
    """Why ``code`` could be no member's (each is a 统一社会信用代码: ``members_from``), said of ``label``, or None:
    BAD_CHARACTERS naming a control or invisible character by its code point, as in any text; else BAD_USCC, or
    BAD_CHECK_CHARACTER for a typing slip. A filter naming a member had been taken as it came: any length, NUL and
    direction characters were an empty page, a mistyped code read as "none" (a reviewer, R3)."""
    if violation := unseen_in(field, code, label):
        return violation
    if problem := uscc_problem(code):
        return _v(field, _reason(problem, "BAD_USCC"), _problem(field, label, problem))
    return None


def check_holder_fields(
    license_type: LicenseType, holder: Holder, fields: Mapping[str, str], errors: list[FieldViolation]
) -> None:
    """Each field that states something about the holder (the catalog's ``of_holder``) agrees with the holder: a
    居民身份证 whose 姓名 is not its holder's name, or whose 出生 is not the birth date its 公民身份号码 carries, would
    verify as genuine and be shared as the holder's. The descriptions name the fields, not their values."""
    code_label = HOLDER_CODE_TYPES.get(holder.code_type, "持证主体代码")
    code_name = HOLDER_CODE_TYPES.get(holder.code_type, "code")
    for spec in license_type.fields:
        value = fields.get(spec.key)
        if spec.of_holder is None or value is None:
            continue
        match spec.of_holder:
            case OfHolder.NAME if value != holder.name:
                words = ("与持证主体名称不一致", "is not the holder's name (holder.name)")
            case OfHolder.CODE if value.upper() != holder.code:
                words = (f"与持证主体的{code_label}不一致", f"is not the holder's {code_name} (holder.code)")
            case OfHolder.BIRTH_DATE if holder.code_type == "111" and value != _born(holder.code):
                words = (
                    "与公民身份号码中的出生日期不一致",
                    "is not the birth date the holder's citizen ID number carries",
                )
            case OfHolder.SEX if holder.code_type == "111" and value != _sex(holder.code):
                words = ("与公民身份号码中的性别不一致", "is not the sex the holder's citizen ID number carries")
            case _:
                continue
        where = f"fields.{spec.key}"
        errors.append(_v(where, "DISAGREES_WITH_HOLDER", _said(spec.label + words[0], f"{where} {words[1]}")))


def check_person_fields(
    license_type: LicenseType,
    holder: Holder,
    fields: Mapping[str, str],
    errors: list[FieldViolation],
    *,
    today: dt.date | None = None,
) -> None:
    """Each 公民身份号码 a co-subject field states agrees with what the license says of that person: the sex the catalog
    gives them (``person_sex``: a mother is a woman), the birth date of their ``person_birth_date`` field, and, for a
    parent (``guardian_of_holder``), a birth before the holder's. Such a 出生医学证明 whose "mother" was a man, or born
    after the child, had been issued, and that person could consent for the child (found by an issuer tester). A
    number that is no valid 公民身份号码 is already refused as such. The descriptions name the fields, not values."""
    holder_born = _holder_born(license_type, holder, fields, today)
    for spec in license_type.fields:
        code = fields.get(spec.key, "").strip().upper()
        if not code or spec.value_type is not ValueType.CITIZEN_ID or citizen_id_problem(code, today=today):
            continue
        where = f"fields.{spec.key}"
        if spec.person_sex and _sex(code) != spec.person_sex:
            errors.append(
                _v(
                    where,
                    "DISAGREES_WITH_PERSON",
                    _said(
                        f"{spec.label}中的性别为{_sex(code)}，与其所属的人不符（应为{spec.person_sex}）",
                        f"{where} carries the sex of a {_SEX_EN[_sex(code)]}, where it names a "
                        f"{_SEX_EN[spec.person_sex]}",
                    ),
                )
            )
        dated = license_type.field_spec(spec.person_birth_date) if spec.person_birth_date else None
        stated = fields.get(spec.person_birth_date, "")
        if dated is not None and _CALENDAR_DATE.fullmatch(stated) and stated != _born(code):
            at = f"fields.{dated.key}"
            errors.append(
                _v(
                    at,
                    "DISAGREES_WITH_PERSON",
                    _said(
                        f"{dated.label}与{spec.label}中的出生日期不一致",
                        f"{at} is not the birth date {where} carries",
                    ),
                )
            )
        if spec.guardian_of_holder and holder_born and _born(code) >= holder_born:
            errors.append(
                _v(
                    where,
                    "BORN_AFTER_HOLDER",
                    _said(
                        f"{spec.label}中的出生日期不早于持证人的出生日期：此人不能是持证人的父母",
                        f"{where} carries a birth date not before the holder's: no parent of the holder",
                    ),
                )
            )


_SEX_EN = {"男": "man", "女": "woman"}


def check_holder_among(
    license_type: LicenseType,
    holder: Holder,
    fields: Mapping[str, str],
    errors: list[FieldViolation],
    *,
    today: dt.date | None = None,
) -> None:
    """A holder named by a 公民身份号码 is one of the persons the fields of the type's ``holder_among`` name (a 结婚证's
    男方 or 女方): a 结婚证 held by a third person, or by a husband whose 男方身份证件号 was another man's, had been
    issued, and its holder alone then decided whether both spouses' numbers were released (a reviewer). Each of those
    fields that states a number is refused ``DISAGREES_WITH_HOLDER``. Not judged when one of them is refused for
    itself (missing, or no valid 公民身份号码: the holder may be the one it meant), when none states a number (nothing
    to compare with). A holder of another code type is refused before (the catalog lets a type with ``holder_among``
    take 111 alone, ``LicenseType``: such a holder could not be found among the fields). The descriptions name the
    fields, not their values."""
    if not license_type.holder_among or holder.code_type != "111":
        return
    among = {f"fields.{key}" for key in license_type.holder_among}
    if any(error.field in among for error in errors):  # one refused for itself (missing, no valid number)
        return
    stated = {key: fields.get(key, "").strip().upper() for key in license_type.holder_among}
    stated = {key: code for key, code in stated.items() if code}
    if not stated or any(citizen_id_problem(code, today=today) for code in stated.values()):
        return
    if holder.code in stated.values():
        return
    specs = [spec for spec in license_type.fields if spec.key in stated]
    labels = "、".join(spec.label for spec in specs)
    keys = ", ".join(f"fields.{spec.key}" for spec in specs)
    for spec in specs:
        where = f"fields.{spec.key}"
        errors.append(
            _v(
                where,
                "DISAGREES_WITH_HOLDER",
                _said(
                    f"持证人的公民身份号码不是{labels}中的任何一个：持证人须是其中一人，请改正持证主体代码或{spec.label}",
                    f"the holder's citizen ID number (holder.code) is none of {keys}: the holder must be one of them",
                ),
            )
        )


def check_born_before_issue(
    license_type: LicenseType, issue_date: dt.date, fields: Mapping[str, str], errors: list[FieldViolation]
) -> None:
    """The holder's birth date a field states (``of_holder: birth_date``) is not after the license's issue date: a
    出生医学证明 issued 23 days before the birth it records had been sealed (a time tester). The description names
    the fields, not the dates (a birth date is personal data)."""
    for spec in license_type.fields:
        stated = fields.get(spec.key, "")
        if spec.of_holder is OfHolder.BIRTH_DATE and _CALENDAR_DATE.fullmatch(stated) and stated > str(issue_date):
            where = f"fields.{spec.key}"
            errors.append(
                _v(
                    where,
                    "BORN_AFTER_ISSUE",
                    _said(f"{date_label(spec.label)}晚于发证日期", f"{where} is after the issue date"),
                )
            )


def _holder_born(license_type: LicenseType, holder: Holder, fields: Mapping[str, str], today: dt.date | None) -> str:
    """The holder's birth date (YYYY-MM-DD) as their 公民身份号码 carries it, else as the license's ``of_holder:
    birth_date`` field states it; "" when neither tells it."""
    if holder.code_type == "111" and citizen_id_problem(holder.code, today=today) is None:
        return _born(holder.code)
    for spec in license_type.fields:
        if spec.of_holder is OfHolder.BIRTH_DATE and _CALENDAR_DATE.fullmatch(fields.get(spec.key, "")):
            return fields[spec.key]
    return ""


def _born(citizen_id: str) -> str:
    return f"{citizen_id[6:10]}-{citizen_id[10:12]}-{citizen_id[12:14]}"


def _sex(citizen_id: str) -> str:
    return "男" if int(citizen_id[16]) % 2 else "女"


_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def check_date(
    field: str, value: str, errors: list[FieldViolation], *, required: bool = False, label: str = ""
) -> dt.date | None:
    label = label or FIELD_LABELS.get(field, field)
    if not value:
        if required:
            errors.append(_v(field, "REQUIRED", _said(f"请填写{label}", f"{field} is required")))
        return None
    try:
        if not _CALENDAR_DATE.fullmatch(value):  # fromisoformat takes ISO week dates too (2024-W10-5)
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.append(
            _v(
                field,
                "BAD_DATE",
                _said(
                    f"{label}须为YYYY-MM-DD格式的有效日期，不是 {value[:20]!r}",
                    f"{field} must be a calendar date YYYY-MM-DD",
                ),
            )
        )
        return None


def check_validity(
    license_type: LicenseType,
    issue_date: dt.date | None,
    valid_from: dt.date | None,
    raw_until: str,
    errors: list[FieldViolation],
    *,
    stated_until: dt.date | None = None,
) -> dt.date | None:
    """The validity end date, if the type has one. A type that does not expire (the catalog's ``expires``: a
    营业执照, a 结婚证) has none: an end date given anyway would print on the document and make the license verify
    as EXPIRED once it passed, a license that by law does not lapse. A type that may be ``lifelong`` writes 长期 as an
    empty end date only: 长期 spelt out, or 9999-12-31 (a database's "no end"), is refused with that hint, else one
    card printed 至 9999年12月31日 and verified with that date where another said 长期 (a time tester). A type that
    expires and is not ``lifelong`` (食品生产许可证, 护照) has no 长期: written out, or as 9999-12-31, it is refused
    NOT_LIFELONG_TYPE, asking for the license's real end (9999-12-31 had been taken, and the license verified ACTIVE
    for ever: a reviewer). An end more than ``MAX_VALIDITY_YEARS`` after the issue date, or a later start, is
    DATE_TOO_LATE. ``stated_until``:
    the end of the license an amendment supersedes, which kept as it is is said as the license's."""
    if raw_until and not license_type.expires:
        errors.append(not_expiring(license_type))
        return None
    spelt = raw_until.strip()
    kept = stated_until is not None and raw_until == stated_until.isoformat()
    if license_type.lifelong and spelt in LIFELONG_SPELLINGS:
        errors.append(lifelong_spelled_out(license_type, spelt, stated=kept))
        return None
    if spelt in LIFELONG_SPELLINGS:
        errors.append(not_lifelong(license_type, spelt, stated=kept))
        return None
    valid_until = check_date("valid_until", raw_until, errors)
    if license_type.expires and not raw_until and not license_type.lifelong:
        errors.append(
            _v(
                "valid_until",
                "REQUIRED",
                _said(
                    f"{license_type.name}须填写有效期截止日期",
                    f"{license_type.name} must have a validity end date",
                ),
            )
        )
    if valid_until and issue_date and valid_until < issue_date:
        errors.append(
            _v(
                "valid_until",
                "VALIDITY_BEFORE_ISSUE",
                _said("有效期截止日期早于发证日期", "validity ends before the issue date"),
            )
        )
    elif valid_until and valid_from and valid_until < valid_from:
        errors.append(
            _v(
                "valid_until",
                "VALIDITY_BEFORE_START",
                _said("有效期截止日期早于起始日期", "validity ends before it starts"),
            )
        )
    # counted from the issue, or from a later start: a back-dated start (a renewal) does not shorten it; a date
    # refused as before 1900 is not counted from (its refusal is the one to fix)
    start = max((d for d in (issue_date, valid_from) if d and d >= EARLIEST_DATE), default=None)
    if valid_until and start and valid_until > (latest := years_after(start, MAX_VALIDITY_YEARS)):
        errors.append(too_late_until(license_type, valid_until, latest, stated=kept))
    return valid_until


LIFELONG_SPELLINGS = frozenset({"长期", "长期有效", "9999-12-31"})
"""How registers and cards write a validity without end (长期), which a request writes as an empty ``valid_until``."""


def lifelong_spelled_out(license_type: LicenseType, value: str, *, stated: bool = False) -> FieldViolation:
    """LIFELONG_SPELLED_OUT: 长期 written in ``valid_until`` (``value``: 长期 or 9999-12-31) for a ``lifelong`` type,
    whose 长期 is an empty ``valid_until``; ``stated`` when the license being amended carries it already (issued before
    the gateway refused it), to be removed with an empty ``valid_until``."""
    if stated:
        words = _said(
            f"长期有效请留空：此证照的有效期截止日期载为 {value}，变更时请将有效期截止日期置空",
            f"leave valid_until empty for no end date: this license states {value}, send valid_until empty to remove "
            "it",
        )
    else:
        words = _said(
            f"长期有效请留空：{license_type.name}的有效期截止日期留空即为长期，不填“{value}”",
            f"leave valid_until empty for no end date: an empty one means no end date, not {value!r}",
        )
    return _v("valid_until", "LIFELONG_SPELLED_OUT", words)


def not_lifelong(license_type: LicenseType, value: str, *, stated: bool = False) -> FieldViolation:
    """NOT_LIFELONG_TYPE: 长期 written in ``valid_until`` (``value``: 长期, 长期有效 or 9999-12-31, a database's
    "no end") for a type that expires and cannot be 长期: the license's real end is asked for; ``stated`` when the
    license being amended carries it already (issued before the gateway refused it)."""
    name = license_type.name
    if stated:
        words = _said(
            f"{name}没有长期有效期，而此证照的有效期截止日期载为 {value}：变更时请填写证照实际的有效期截止日期",
            f"{name} licenses have a validity end, and this one states {value}: send its real valid_until",
        )
    else:
        words = _said(
            f"{name}没有长期有效期：请填写证照实际的有效期截止日期，不填“{value}”",
            f"{name} licenses have a validity end: give the license's real valid_until, not {value!r}",
        )
    return _v("valid_until", "NOT_LIFELONG_TYPE", words)


def too_late_until(
    license_type: LicenseType, valid_until: dt.date, latest: dt.date, *, stated: bool = False
) -> FieldViolation:
    """DATE_TOO_LATE: a ``valid_until`` more than ``MAX_VALIDITY_YEARS`` after the issue date or a later start of
    validity (``latest`` the last end taken); ``stated`` when the license being amended carries it already. A type
    that may be 长期 is told that an empty end date says so."""
    years = MAX_VALIDITY_YEARS
    if stated:
        chinese = (
            f"此证照的有效期截止日期载为 {valid_until}，距发证或起始日期超过{years}年："
            "变更时请填写证照实际的有效期截止日期"
        )
        english = (
            f"this license states valid_until {valid_until}, more than {years} years after its issue or start: send "
            "its real one"
        )
    else:
        chinese = f"{FIELD_LABELS['valid_until']} {valid_until} 距发证或起始日期超过{years}年（最晚 {latest}）"
        english = (
            f"valid_until {valid_until} is more than {years} years after the issue or start of validity (at the "
            f"latest {latest})"
        )
    if license_type.lifelong:
        chinese += "；长期有效请留空"
        english += "; leave it empty for no end date"
    return _v("valid_until", "DATE_TOO_LATE", _said(chinese, english))


def not_expiring(license_type: LicenseType, *, stated: dt.date | None = None) -> FieldViolation:
    """NOT_EXPIRING_TYPE: a validity end date for a license of a type that has none; ``stated`` when the license
    being amended carries one already (issued before the gateway refused them), to be removed with an empty
    ``valid_until``."""
    name = license_type.name
    if stated is None:
        words = _said(
            f"{name}没有有效期截止日期，请勿填写有效期截止日期",
            f"{name} licenses carry no validity end date: leave valid_until empty",
        )
    else:
        words = _said(
            f"{name}没有有效期截止日期，而此证照载有 {stated}：变更时请将有效期截止日期置空",
            f"{name} licenses carry no validity end date, and this one states {stated}: send valid_until empty to "
            "remove it",
        )
    return _v("valid_until", "NOT_EXPIRING_TYPE", words)


def check_fields(
    license_type: LicenseType,
    raw: Mapping[str, str],
    errors: list[FieldViolation],
    *,
    partial: bool,
    today: dt.date,
    stated: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Check the type's fields. ``partial`` (for amendments) skips the required check for absent keys. A date is
    from 1900 on and, unless the catalog says it ``may_be_future``, not after ``today`` (China's date): a field's
    date states something that happened (出生, 成立日期, 登记日期), and a year mistyped had been sealed and shared.
    A date an amendment keeps as ``stated`` (the version it supersedes) is not judged so: stored before the check,
    it had refused every amendment of its license, a holder's name changed included, naming a field nobody sent (a
    reviewer); the issuer corrects it by sending it."""
    fields: dict[str, str] = {}
    order = {spec.key: i for i, spec in enumerate(license_type.fields)}
    # in the type's order, then unknown keys by name: a request's map has no order of its own (protobuf's iterates by
    # hash, which differs from process to process), and the same file imported twice must report alike
    for key, value in sorted(raw.items(), key=lambda item: (order.get(item[0], len(order)), item[0])):
        spec = license_type.field_spec(key)
        if spec is None:
            errors.append(unknown_field(f"fields.{key[:64]}", license_type, key))
            continue
        # a code typed in full width is the same code, as a holder's is (a reviewer: this field's had still been
        # refused "须为17位数字"), and is kept in upper case
        value = kept_field(spec.value_type, value)
        if value:
            kept = stated is not None and stated.get(key) == value
            if problem := _field_problem(spec, value, today, kept=kept):
                errors.append(problem)
            else:
                fields[key] = value
    if not partial:
        for spec in license_type.fields:
            if spec.required and spec.key not in fields and not raw.get(spec.key, "").strip():
                where = f"fields.{spec.key}"
                said = f"请填写{license_type.name}的“{spec.label}”"  # 请填写名称 alone had said little
                errors.append(_v(where, "REQUIRED", _said(said, f"{where} is required")))
    return fields


def too_many(where: str, count: int, valid: int) -> FieldViolation | None:
    """TOO_MANY on ``where`` when its ``count`` distinct entries are more than ``MAX_NAMED`` and than the ``valid`` most
    any request could hold (a type's fields, the catalog's types): refused as one, naming the limit, before any entry
    is looked at; None when they are to be looked at one by one."""
    limit = max(valid, MAX_NAMED)
    if count <= limit:
        return None
    return _v(
        where,
        "TOO_MANY",
        _said(f"{where}至多{limit:,}项，所给{count:,}项", f"{where} holds {count:,} entries: at most {limit:,}"),
    )


def unknown_field(where: str, license_type: LicenseType, key: str) -> FieldViolation:
    """UNKNOWN_FIELD: ``key`` names no field of ``license_type`` (given at ``where`` in the request)."""
    return _v(
        where,
        "UNKNOWN_FIELD",
        _said(f"{license_type.name}没有信息项 {key[:64]!r}", f"{license_type.name} has no field {key[:64]!r}"),
    )


def choice_problem(spec: FieldSpec, choice: str) -> str:
    """Why no license could hold ``choice`` of ENUM field ``spec`` (said to the catalog's author), or "": a value is
    checked as the issuer's is (``check_fields``): its spaces made plain and its marks composed first, then its
    characters and length. A choice with a line separator (U+2028), a control or an invisible character, over the
    field's length, blank or spaced as no value is kept had been loaded, and every license stating it refused."""
    if not choice.strip():
        return "可选值不能为空（a choice must not be blank）"
    kept = kept_text(choice)
    if kept != choice:
        return f"可选值须写作“{kept}”：证照信息按此保存（a value is kept as {kept!r}: write the choice so）"
    problem = _field_problem(spec, choice, dt.date(2000, 1, 1))  # an ENUM's check has no date
    return problem.description if problem is not None else ""


def _field_problem(spec: FieldSpec, value: str, today: dt.date, *, kept: bool = False) -> FieldViolation | None:
    where, label = f"fields.{spec.key}", spec.label
    controls = _TEXT_CONTROL_RE if spec.value_type is ValueType.STRING else _CONTROL_RE
    if said := _text_problem(where, label, value, spec.max_length, controls):
        return said
    match spec.value_type:
        case ValueType.DATE:
            errors: list[FieldViolation] = []
            day = check_date(where, value, errors, label=label)
            if day is not None and day < EARLIEST_DATE and not kept:
                return _v(
                    where,
                    "DATE_TOO_EARLY",
                    _said(f"{date_label(label)}早于 {EARLIEST_DATE}", f"{where} is before {EARLIEST_DATE}"),
                )
            if day is not None and day > today and not spec.may_be_future and not kept:
                return _v(where, "DATE_IN_FUTURE", _said(f"{date_label(label)}晚于今天", f"{where} is after today"))
            return errors[0] if errors else None
        case ValueType.INTEGER if not _INTEGER_RE.match(value):
            return _v(where, "BAD_INTEGER", _said(f"{label}须为整数", f"{where} must be a whole number"))
        case ValueType.DECIMAL if not _DECIMAL_RE.match(value):
            return _v(
                where,
                "BAD_DECIMAL",
                _said(f"{label}须为数字，小数至多6位", f"{where} must be a decimal number, at most 6 decimals"),
            )
        case ValueType.CITIZEN_ID:
            if problem := citizen_id_problem(value.upper(), today=today):
                return _v(where, _reason(problem, "BAD_CITIZEN_ID"), _problem(where, label, problem))
        case ValueType.USCC:
            if problem := uscc_problem(value.upper()):
                return _v(where, _reason(problem, "BAD_USCC"), _problem(where, label, problem))
        case ValueType.REGION:
            if problem := region_code_problem(value):
                return _v(where, "BAD_REGION_CODE", _problem(where, label, problem))
        case ValueType.ENUM if value not in spec.choices:
            return _v(
                where,
                "NOT_A_CHOICE",
                _said(f"{label}须为以下之一：{'、'.join(spec.choices)}", f"{where} must be one of these"),
            )
    return None


def claimed_field_problem(spec: FieldSpec, claimed: str, today: dt.date) -> FieldViolation | None:
    """Why no license could hold a value claimed of field ``spec`` (``CheckClaim``), given in the form the claim
    compares (``gateway.domain.verification.claimed_value_form``: a date read as YYYY-MM-DD, a code in upper case
    without spaces), or None: judged as the issuer's value is (``_field_problem``: a 公民身份号码 whose check character
    is wrong is BAD_CHECK_CHARACTER, a date that cannot be BAD_DATE, ...) for what its type holds of any value, but
    for the dates' range, which a value stored before the rules were kept passes too. What the catalog chose for the
    field today is not judged, the choices of an ENUM and the ``max_length``: a license issued before the catalog
    tightened the field holds such a value, and its holder's claim stating it had been refused NOT_A_CHOICE or
    TOO_LONG, telling the clerk to claim what the license does not say (a reviewer); it is compared instead. Text
    (STRING) is not judged here either: a name longer than any is a claim that differs. Such a value is bad input,
    never a wrong claim counted toward TOO_MANY_WRONG_CLAIMS: a mistyped check character or date had been answered 7
    and counted, five of them holding the department back from the license for a day (a reviewer)."""
    if spec.value_type in (ValueType.STRING, ValueType.ENUM):
        return None
    return _field_problem(replace(spec, max_length=max(spec.max_length, len(claimed))), claimed, today, kept=True)


_CLAIMED_DATES = (
    re.compile(r"(?P<y>[0-9]{4})(?P<s>[-/.])(?P<m>[0-9]{1,2})(?P=s)(?P<d>[0-9]{1,2})", re.ASCII),
    re.compile(r"(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})日?"),
    re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})", re.ASCII),
)
_ANY_SPACE = re.compile(r"\s+")


def claimed_date(text: str) -> dt.date | None:
    """The day a claimed date names, as people write it: 2019-05-20, 2019-5-20, 2019/5/20, 2019.5.20, 20190520,
    2019年5月20日, in either width, spaced or not; None for one that is none of these or no day (2019-02-30)."""
    text = _ANY_SPACE.sub("", half_width(text))
    for form in _CLAIMED_DATES:
        if found := form.fullmatch(text):
            try:
                return dt.date(int(found["y"]), int(found["m"]), int(found["d"]))
            except ValueError:
                return None
    return None


def _reason(problem: str, default: str) -> str:
    return "BAD_CHECK_CHARACTER" if "check character" in problem else default


def _problem(field: str, label: str, problem: str) -> str:
    """A code's problem as ``gateway.domain.identifiers`` finds it, said in Chinese first."""
    return _said(label + _PROBLEM_WORDS.get(problem, "不正确"), f"{field} {problem}")


def _said(chinese: str, english: str) -> str:
    """A refusal as clerks read it: Chinese first, the English after in parentheses."""
    return f"{chinese}（{english}）"


def _v(field: str, reason: str, description: str) -> FieldViolation:
    return FieldViolation(field=field, reason=reason, description=description)
