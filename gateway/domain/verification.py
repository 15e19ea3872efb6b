"""Verification (核验) rules that need no keys: the status finding, the use context, and claim checks.

The status finding answers "is this license current?": PASSED only for an ACTIVE version within its validity on the
day of the check (China Standard Time). Claim checks follow the provincial ``verifyCertInfo`` result numbers
(0 correct and valid, 1 not yet valid, 2 suspended, 3 no longer valid, 4 incomplete, 5 not found, 6 not filled: the
claim states nothing, 7 partly wrong).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.domain.catalog import Catalog, FieldSpec, LicenseType, Matter, ValueType, unknown_matter_words
from gateway.domain.errors import FieldViolation, InvalidRequestError, NotFoundError, PermissionDeniedError
from gateway.domain.identifiers import (
    LicenseId,
    citizen_id_problem,
    composed,
    half_width,
    normal_number,
    region_code_problem,
    type_code_problem,
    unhyphenated_code,
)
from gateway.domain.model import CHINA_TZ, License, LicenseContent, LicenseStatus, Member, Role, mask
from gateway.domain.sharing import shown_holder_code
from gateway.domain.validation import check_text, claimed_date, claimed_field_problem, plain_spaces
from signing.results import PASSED, CheckResult, Finding


def new_receipt_ids(count: int) -> list[str]:
    """``count`` receipt ids from one read of the system's random source (a group commit makes its group's ids at
    once). Each is 32 hex digits: the milliseconds since 1970 (12 digits), then 80 random bits. Receipts made one
    after another get ids that sort together, so the receipts' primary-key index grows at its end; random ids put
    every verification's key on a page of its own, about a third of what a verification wrote to SQLite's WAL
    (benchmarks.verify). The random part keeps an id unguessable; the time in it is also in the signed statement."""
    millis = f"{time.time_ns() // 1_000_000:012x}"
    random = secrets.token_bytes(10 * count)
    return [millis + random[i : i + 10].hex() for i in range(0, 10 * count, 10)]


MAX_PURPOSE = 200
MAX_OPERATOR = 64
MAX_CASE_ID = 64

# a finding's detail is read by clerks and signed into receipts: Chinese first, its English in full-width brackets
_STATUS_REASONS = {
    LicenseStatus.SUSPENDED: ("SUSPENDED", "证照已暂停使用（the license is suspended）"),
    LicenseStatus.REVOKED: ("REVOKED", "证照已吊销或撤销（the license is revoked）"),
    LicenseStatus.CANCELLED: ("CANCELLED", "证照已注销（the license is cancelled）"),
    LicenseStatus.SUPERSEDED: ("SUPERSEDED", "证照已变更，此版本不再现行（a newer version replaced this one）"),
    LicenseStatus.EXPIRED: ("EXPIRED", "证照已过期（the license is past its validity）"),
}
"""The statuses in the glossary's words (``LicenseStatus.label``), as the access records' ``REASON_WORDS`` say them:
one REVOKED for 吊销 and 撤销, whose issuer's reason a verifier is not shown (16582d0). The Chinese half holds no
full-width bracket: a superseded version's detail is cut at the first (``_halves``)."""
_STATUS_UNKNOWN = Finding(
    result=CheckResult.INDETERMINATE,
    reason="STATUS_ALTERED",
    detail="登记库中的证照状态不是网关所存的任何一种，已在网关之外被改动"
    "（the stored status is none of the gateway's: it was changed behind the gateway's back）",
)
NOT_FOUND = Finding(
    result=CheckResult.FAILED,
    reason="LICENSE_NOT_FOUND",
    detail="登记库中没有此证照（no such license in the registry）",
)


def is_elsewhere(member: Member | None) -> bool:
    """Whether the organisation whose registration here is ``member`` (None: none) is no department of this gateway:
    no member, or a partner gateway that does not issue (another region's gateway, 跨省通办). A license whose
    identifier names such an issuer, or a request naming it as an issuer, is another region's registry's:
    NOT_IN_THIS_REGISTRY, in verification and in the sharing and authorisation calls alike (``elsewhere_words``)."""
    return member is None or (member.has(Role.PARTNER) and not member.has(Role.ISSUER))


class Elsewhere(enum.Enum):
    """Where an issuer that is no department of this gateway (``is_elsewhere``) is, by its code's region
    (``elsewhere_of``): what a clerk is told to do differs (``elsewhere_words``)."""

    OTHER_PROVINCE = "OTHER_PROVINCE"
    """Of a province none of this gateway's departments is in: 跨省通办 (``CROSS_REGION_ADVICE``)."""
    THIS_PROVINCE = "THIS_PROVINCE"
    """Of another city of a departments' province (a county gateway's neighbour): ``REGION_ADVICE``."""


def elsewhere_of(uscc: str, member: Member | None, members: Callable[[], Iterable[Member]]) -> Elsewhere | None:
    """Whether the code ``uscc``, whose registration here is ``member`` (None: none), is another region's issuer,
    and which (``Elsewhere``); None when it is a department of this gateway or a code of a department's own city
    (prefecture: characters 3 to 6 of a 统一社会信用代码) that no member has, as the seal check judges a seal's code
    (``VerificationService._names_no_department``). ``members``: every registered member, asked only when needed.
    A made-up or mistyped code of this gateway's own city had been "another region's", and the clerk sent to the
    跨省通办 channel by their own city's gateway (review fixrev2, R5). A partner gateway that issues nothing is another
    region's whatever its code."""
    if not is_elsewhere(member):
        return None
    departments = [m for m in members() if not is_elsewhere(m)]
    if member is None and uscc[2:6] in {m.code[2:6] for m in departments}:
        return None
    if uscc[2:4] in {m.code[2:4] for m in departments}:
        return Elsewhere.THIS_PROVINCE
    return Elsewhere.OTHER_PROVINCE


CROSS_REGION_ADVICE = "请通过跨省通办渠道向该地区核验"
CROSS_REGION_ADVICE_EN = "verify it with that region through the cross-region (跨省通办) channel"
"""What a clerk is told to do with another province's license (``elsewhere_words``, a document's): this gateway
forwards nothing (ADR 0017), so the channel is the province's own, the national 跨省通办 platform or, where the other
region runs zzgw, the forwarder this province runs for it. It had said 请通过该地区的证照网关核验, which a department
cannot do: the other region's gateway takes no department of this province (review partner, R1)."""
REGION_ADVICE = "请向该证照的发证地区核验"
REGION_ADVICE_EN = "verify it with the region that issued it"
"""What a clerk is told of a license of another region of a departments' province (``Elsewhere.THIS_PROVINCE``):
no 跨省 channel is concerned (review fixrev2, R5)."""


def advice(where: Elsewhere) -> tuple[str, str]:
    """What a clerk is told to do with a license of an issuer ``where`` (``Elsewhere``): Chinese, English."""
    if where is Elsewhere.THIS_PROVINCE:
        return REGION_ADVICE, REGION_ADVICE_EN
    return CROSS_REGION_ADVICE, CROSS_REGION_ADVICE_EN


def callers_own_region(issuer: str, caller: Member | None) -> str:
    """The region of ``caller`` when it is a partner gateway whose region covers the region of ``issuer``'s code
    (characters 3 to 8 of a 统一社会信用代码; its own code's too), else empty: a license of the partner's own region,
    held in its own province's registry, which it is not to be sent to verify with "that region" through the 跨省通办
    channel, the channel it calls through (review partner, R3)."""
    if caller is None or not caller.has(Role.PARTNER) or not region_covers(caller.region, issuer[2:8]):
        return ""
    return caller.region


OWN_REGION = re.compile(r"该证照属于贵方本地区（([0-9]{6})）")
"""How ``own_region_words`` names the partner's region, for a client that says the advice again (``zzgw verify``)."""


def own_region_words(region: str) -> tuple[str, str]:
    """What a partner gateway's clerk is told of a license of its own ``region`` (``callers_own_region``): Chinese,
    English."""
    return (
        f"该证照属于贵方本地区（{region}），请在贵方本省的登记库核验",
        f"it is a license of your own region ({region}), held in your own province's registry, not in this one: "
        "verify it there",
    )


def elsewhere_words(issuer: str, where: Elsewhere = Elsewhere.OTHER_PROVINCE, caller: Member | None = None) -> str:
    """What a clerk is told of a license whose issuer ``issuer`` is no department of this gateway (``elsewhere_of``):
    VerifyLicense's status detail, and the refusal of the sharing and authorisation calls (``not_in_this_registry``).
    To a partner gateway ``caller`` asking of its own region's license, that it is of its own region
    (``callers_own_region``)."""
    if region := callers_own_region(issuer, caller):
        chinese, english = own_region_words(region)
        return (
            f"发证机构 {issuer} 不是本网关的部门，{chinese}"
            f"（the license's issuer {issuer} is not a department of this gateway: {english}）"
        )
    chinese, english = advice(where)
    return (
        f"发证机构 {issuer} 不是本网关的部门，可能是其他地区登记库的证照，{chinese}"
        f"（the license's issuer {issuer} is not a department of this gateway: it may be a license of "
        f"another region's registry; {english}）"
    )


def not_in_this_registry(
    issuer: str, where: Elsewhere = Elsewhere.OTHER_PROVINCE, caller: Member | None = None
) -> NotFoundError:
    """NOT_FOUND / NOT_IN_THIS_REGISTRY for a sharing or authorisation call naming a license, or an issuer, of
    another region's registry (``elsewhere_of``), in VerifyLicense's words: it had been LICENSE_NOT_FOUND (check what
    was typed) or NOT_AN_ISSUER_OF_TYPE, where VerifyLicense of the same identifier said NOT_IN_THIS_REGISTRY (review
    partner, R2)."""
    return NotFoundError(elsewhere_words(issuer, where, caller), reason="NOT_IN_THIS_REGISTRY")


@dataclass(frozen=True, slots=True, kw_only=True)
class UseContext:
    """Why licenses are used: the matter (事项) and the purpose (用证事由). Every verification and sharing call
    carries one."""

    matter_code: str
    purpose: str
    operator: str = ""
    """The clerk or system user on the caller's side (request metadata ``x-zzgw-operator``), for the audit trail."""
    bundle_code: str = ""
    """一件事: the bundle the matter is handled in, with ``case_id``; empty when the matter stands alone."""
    case_id: str = ""
    """The case number all departments of the bundle share; receipts are linked to it."""


def uses_matter(member: Member, matter: Matter) -> bool:
    """Whether ``member`` may act under ``matter``: the department that handles it; a partner gateway for the
    matters of its own region (it acts for that region's departments, e.g. 广州 for 440100-…); an administrator for
    any (it verifies to check the gateway for a department; the role gives it no data to read), when ``ADMIN`` is
    its only role (``Member.administrator_only``): one that also consumes, issues or is a partner or portal names the
    matters its other roles give it."""
    if member.name == matter.department or member.administrator_only:
        return True
    return member.has(Role.PARTNER) and region_covers(member.region, matter.region)


def region_covers(region: str, within: str) -> bool:
    """Whether the administrative division ``region`` (GB/T 2260, six digits) is or contains ``within``: a province
    (440000) its cities and counties (440100, 440103), a city (440100) its counties; a county only itself. A
    province's partner gateway had been given no matter of its cities, though it forwards for them (found by a
    partner-gateway tester).

    >>> region_covers("440000", "440103"), region_covers("440100", "440103"), region_covers("440100", "440300")
    (True, True, False)
    """
    if len(region) != 6 or not region.isascii() or not region.isdigit() or len(within) != 6:
        return False
    significant = region[:2] if region.endswith("0000") else region[:4] if region.endswith("00") else region
    return within.startswith(significant)


def matters_of(member: Member, catalog: Catalog) -> list[Matter]:
    """The catalog's matters ``member`` may act under, in catalog order."""
    return [matter for matter in catalog.matters.values() if uses_matter(member, matter)]


_HEX_RECEIPT_ID = re.compile(r"[0-9A-Fa-f]{32}")
_GROUPING = re.compile(r"[\s\-\u2010-\u2015\u00b7\u30fb]+")
"""What a number is read out or printed with between its groups: spaces, hyphens and dashes, middle dots."""


def typed_receipt_id(typed: str) -> str:
    """A receipt's number as people copy it from a printout or read it out: 32 hexadecimal digits
    (``new_receipt_id``) in either case, in full width, in groups split by spaces or dashes, is the number (lower
    case); anything else is looked up as given, without the spaces around it."""
    typed = typed.strip()
    number = _GROUPING.sub("", unicodedata.normalize("NFKC", typed))
    return number.lower() if _HEX_RECEIPT_ID.fullmatch(number) else typed


def claims_key(license_id: str) -> str:
    """The license a department's wrong claims are counted against, whatever its version: its identifier's type,
    issuer and serial (an amendment keeps them); an identifier that does not parse, as it is."""
    try:
        named = LicenseId.parse(license_id)
    except ValueError:
        return license_id
    return f"{named.type_code}.{named.issuer_code}.{named.serial}"


def no_such_receipt(number: str) -> str:
    """The words for a receipt number no receipt has (``number`` as ``typed_receipt_id`` made it), in both languages;
    when it is not even a receipt's number, also what one looks like and how many characters were typed, so that a
    number copied short, or a license's identifier typed in its place, is said so rather than only "not found"."""
    if _HEX_RECEIPT_ID.fullmatch(number):
        return "没有这个编号的回执（no such receipt）"
    typed = len(_GROUPING.sub("", unicodedata.normalize("NFKC", number)))  # as counted on the printout's groups
    return (
        f"没有这个编号的回执：回执编号是32位数字和字母a-f，所填的有{typed}位"
        f"（no such receipt: a receipt number is 32 hexadecimal digits, this one has {typed} characters）"
    )


def plain_operator(operator: str) -> str:
    """An operator id as the access records keep it: every kind of space a plain one, none around it
    (``plain_spaces``): ``3号窗口　王敏`` signed in, then every check had been refused as "not printable"."""
    return plain_spaces(operator)


def operator_violation(operator: str) -> FieldViolation | None:
    """What is wrong with an operator id from request metadata, if anything: too long, not printable, or bytes
    under ``x-zzgw-operator-bin`` that were not UTF-8 (decoded with U+FFFD in their place): the id is written into
    the audit trail as it is. Nor may it hold a 公民身份号码 or a mobile number (``personal_data_in``, as a clerk types
    it: as a purpose is judged): every access record names its clerk, and the holder's portal shows the record to the
    holder, to each co-subject (a 结婚证's other spouse, a 出生医学证明's parents) and to the issuer, so a third
    person's number typed there, as clerks had typed applicants into purposes, went to all of them (a privacy
    auditor, D4). BAD_OPERATOR, as every other fault of it: every call of every service checks the operator. Bytes
    not UTF-8 are said to be so first, what the integrator has to fix: a clerk's two-character name in GBK had been
    told "printable, at most 64 characters", neither of which it broke (a partner-province tester, D7)."""
    if "\ufffd" in operator:  # the interceptor's replacement of bytes that are not UTF-8 (or, sent as such, U+FFFD)
        return FieldViolation(
            field="x-zzgw-operator",
            reason="BAD_OPERATOR",
            description="操作员标识不是有效的 UTF-8 文字：x-zzgw-operator-bin 的值须为 UTF-8 编码，GBK 等其他编码的"
            "姓名请先转换（the operator id under x-zzgw-operator-bin must be UTF-8 bytes: these are not, or hold "
            "U+FFFD; convert a name in GBK or another encoding to UTF-8）",
        )
    if kind := personal_data_in(operator, typed=True):
        zh, en = _PERSONAL_KINDS[kind]
        return FieldViolation(
            field="x-zzgw-operator",
            reason="BAD_OPERATOR",
            description=f"核验人（操作员标识）中不能填写{zh}（它写入用证记录，持证人、相关人和发证部门都能看到），请填写本人"
            f"姓名或工号（the operator id must not hold {en}: it is written into the access records that the holder, "
            "co-subjects and the issuer read）",
        )
    if len(operator) <= MAX_OPERATOR and operator.isprintable():
        return None
    return FieldViolation(
        field="x-zzgw-operator",
        reason="BAD_OPERATOR",
        description=f"操作员标识须为可打印字符，最多{MAX_OPERATOR}个字符（the operator id (x-zzgw-operator, or UTF-8 "
        f"under x-zzgw-operator-bin) must be printable and at most {MAX_OPERATOR} characters）",
    )


def checked_operator(operator: str) -> str:
    """The operator id from request metadata (``gateway.api.interceptors.operator``), checked
    (``operator_violation``): INVALID_ARGUMENT / BAD_OPERATOR for one the audit trail must not keep."""
    if violation := operator_violation(operator):
        raise InvalidRequestError([violation])
    return operator


_CITIZEN_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_MISTYPED_CITIZEN_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9A-Za-z](?![0-9A-Za-z])")
"""Seventeen digits and any check character: a 身份证号 typed with a slip in its last one (``…332Y``)."""
_OLD_CITIZEN_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{15}(?![0-9A-Za-z])")
"""A first-generation 身份证号 (1985–2004): region, YYMMDD of a birth in the 1900s, a sequence; no check character."""
_MOBILE_LIKE = re.compile(r"(?<![0-9])(?:86)?1[3-9][0-9]{9}(?![0-9])")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u00b7\u30fb]")
"""What a number is written with between its digits: spaces of every width, hyphens and dashes, middle dots."""
_PUNCTUATION_BETWEEN = re.compile(r"(?<=[0-9])[.,/\\_()\[\]、。【】〔〕]+(?=[0-9Xx(\[【〔])")
"""Punctuation a number is split by between its digits (after NFKC, whose full-width ，．／＿（） are ASCII):
dots, commas, slashes, underscores, 、 and 。, brackets (``(138)0013 8000``). Taken out between digits only, so that
a date or a case number beside a word is not joined to it."""
_AMOUNT = re.compile(r"(?<![0-9])(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?|[0-9]+\.[0-9]{1,2}(?![0-9.]))")
"""An amount, with thousands separators or cents (``150,000,000.00``, ``138000000.00``): never joined to the digits
beside it, which had made a 注册资本 of 150,000,000.00 元 a mobile number (a review of the join, R1)."""
_PERSONAL_KINDS = {"CITIZEN_ID": ("公民身份号码", "a citizen ID number"), "MOBILE": ("手机号码", "a mobile number")}


def personal_data_in(text: str, *, typed: bool = False, today: dt.date | None = None) -> str | None:
    """``CITIZEN_ID`` or ``MOBILE`` when ``text`` holds a 公民身份号码 (18 characters whose check character holds) or
    a mainland mobile number (11 digits from 13 to 19), else None. A purpose and a case number are signed into
    receipts, which any member holding a receipt's id may fetch and a later department of the case lists: clerks had
    typed the applicant's number into them (found by a privacy tester). Looked for as written in full-width digits
    (a Chinese input method's), with spaces or dashes between the digits, or after +86, too (found in review), and in
    what a clerk types, split by dots, commas, slashes, underscores or brackets (``138.0013.8000``,
    ``(138)00138000``: a reviewer), an amount apart (``150,000,000.00``).

    ``typed``: text a clerk writes (a purpose), where a number is caught by its region and birth date alone: one with
    a mistyped check character still holds 17 real digits, and a first-generation 15-digit number names a person as
    surely (found by a security tester). Not for a case number, which the 一件事 system assigns and which is often a
    region, a date and a sequence: one that is a valid 公民身份号码 is still refused.

    ``today``: the last day a birth date may be (by default today in China): a number born later is no 身份证号 yet.
    ``dt.date.max`` takes any day, as the catalog's loader does (``check_purpose``)."""
    folded = unicodedata.normalize("NFKC", text)
    joined_up = _SEPARATORS.sub("", folded)
    if typed:  # not a case number: a region, a date and a sequence split by slashes join into a valid 身份证号 1 in 11
        joined_up = _PUNCTUATION_BETWEEN.sub("", _AMOUNT.sub(" ", joined_up))
    for joined, form in ((False, folded), (True, joined_up)):  # "房号 1203 138…" either way
        if any(citizen_id_problem(c.upper(), today=today) is None for c in _CITIZEN_ID_LIKE.findall(form)):
            return "CITIZEN_ID"
        if (
            typed
            and not joined
            and (  # as written only: 370100-20261203-0001, joined, is a case number
                any(_born(typo[:6], typo[6:14], today) for typo in _MISTYPED_CITIZEN_ID_LIKE.findall(form))
                or any(_born(old[:6], "19" + old[6:12], today) for old in _OLD_CITIZEN_ID_LIKE.findall(form))
            )
        ):
            return "CITIZEN_ID"
        if _MOBILE_LIKE.search(form):
            return "MOBILE"
    return None


def _born(region: str, yyyymmdd: str, today: dt.date | None = None) -> bool:
    """Whether ``region`` is a region code and ``yyyymmdd`` a day from 1900 to ``today`` (by default today in China):
    what a 身份证号 begins with."""
    if region_code_problem(region) is not None:
        return False
    try:
        day = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= day <= (today or dt.datetime.now(CHINA_TZ).date())


def _personal(field: str, label: str, kind: str) -> FieldViolation:
    zh, en = _PERSONAL_KINDS[kind]
    return FieldViolation(
        field=field,
        reason="PERSONAL_DATA",
        description=f"{label}中不能填写{zh}（{label}会写入核验回执，其他部门凭回执编号即可查看），请删除后重新填写"
        f"（{field} must not hold {en}: it is signed into receipts, which other departments read）",
    )


def check_decision_reason(reason: str, errors: list[FieldViolation]) -> None:
    """Add to ``errors`` a ``PERSONAL_DATA`` violation of ``reason`` when the reason an issuer's clerk gives for
    rejecting or withdrawing an access request (``DecideAccessRequest.reason``, free text) holds a 公民身份号码 or a
    mobile number, judged as a purpose is (``personal_data_in``, as a clerk types it): the requesting department reads
    it (``AccessRequest.decision_reason``) until the request's retention, and ``申请人张三 370102199908289338 材料不全``
    had been stored and listed to it, where a purpose, a case number and a clerk's name are refused (a reviewer,
    audit R3)."""
    if kind := personal_data_in(reason, typed=True):
        zh, en = _PERSONAL_KINDS[kind]
        errors.append(
            FieldViolation(
                field="reason",
                reason="PERSONAL_DATA",
                description=f"审批理由中不能填写{zh}（申请部门能看到审批理由），请删除后重新填写（reason must not hold "
                f"{en}: the requesting department reads it）",
            )
        )


def check_purpose(purpose: str, errors: list[FieldViolation], *, today: dt.date | None = None) -> str:
    """A use's purpose (用证事由), trimmed and composed, what is wrong with it added to ``errors``: free text, signed
    into receipts and shown in holders' access logs, that holds no control character, line separator (U+2028; a
    penetration tester), direction override or character that prints as nothing, nor a 公民身份号码 or a mobile
    number. What a script needs (Mongolian's vowel separator and variation selectors, the Uyghur joiners and direction
    marks, private-use 生僻字) stays, as in any free text: checked as a holder's name, they had been refused as
    "invisible" (a reviewer). A catalog's matter is refused a default purpose this refuses (``catalog._purpose``), on
    any day: ``today`` is the last day a 身份证号's birth date may be (``personal_data_in``), and the loader passes
    ``dt.date.max``."""
    purpose = check_text("use.purpose", purpose, MAX_PURPOSE, errors, required=True)
    if kind := personal_data_in(purpose, typed=True, today=today):
        errors.append(_personal("use.purpose", "用证事由", kind))
    return purpose


def check_use(
    matter_code: str,
    purpose: str,
    catalog: Catalog,
    *,
    caller: Member,
    operator: str = "",
    bundle_code: str = "",
    case_id: str = "",
    on_refusal: Callable[[MatterNotHandledError], None] | None = None,
) -> UseContext:
    """The use context of a request; INVALID_ARGUMENT when the matter is missing or unknown, the purpose empty, or
    the operator id too long or not printable; PERMISSION_DENIED (NOT_MATTER_DEPARTMENT) when ``caller`` does not
    handle the matter (``uses_matter``): a matter decides which fields a department reads and is written into the
    holder's access log, so a department names only its own. ``on_refusal`` is told of that refusal first (to put
    it on the audit trail)."""
    errors: list[FieldViolation] = []
    if violation := operator_violation(operator):
        errors.append(violation)
    if not matter_code:
        errors.append(
            FieldViolation(
                field="use.matter_code", reason="REQUIRED", description="请填写事项编码（matter_code is required）"
            )
        )
    elif matter_code not in catalog.matters:
        errors.append(
            FieldViolation(
                field="use.matter_code",
                reason="UNKNOWN_MATTER",
                description=f"{unknown_matter_words(matter_code[:64])}（unknown matter {matter_code[:64]!r}）",
            )
        )
    purpose = check_purpose(purpose, errors)
    # a case number (办件编号) as a license number is kept: typed from the applicant's slip in either case, in full
    # width or with spaces, it is the same case (CASE-9 and case-9 had been two, and a later department found none
    # of the first's receipts)
    case_id = normal_number(unicodedata.normalize("NFKC", case_id))
    if bundle_code or case_id:
        bundle = catalog.bundles.get(bundle_code)
        if not bundle_code:
            errors.append(
                FieldViolation(
                    field="use.bundle_code",
                    reason="REQUIRED",
                    description="办件编号须与一件事编码一起填写"
                    "（a case_id is a case of a bundle (一件事): bundle_code is required with it）",
                )
            )
        elif bundle is None:
            errors.append(
                FieldViolation(
                    field="use.bundle_code",
                    reason="UNKNOWN_BUNDLE",
                    description=f"没有一件事 {bundle_code[:64]}（unknown bundle {bundle_code[:64]!r}）",
                )
            )
        elif matter_code and matter_code not in bundle.matter_codes:
            errors.append(
                FieldViolation(
                    field="use.bundle_code",
                    reason="MATTER_NOT_IN_BUNDLE",
                    description=f"事项 {matter_code[:64]} 不属于{bundle.name}（matter {matter_code[:64]} is not part "
                    f"of {bundle.name}）",
                )
            )
        if kind := personal_data_in(case_id):
            errors.append(_personal("use.case_id", "办件编号", kind))
        elif not case_id or len(case_id) > MAX_CASE_ID or not case_id.isprintable():
            errors.append(
                FieldViolation(
                    field="use.case_id",
                    reason="BAD_CASE_ID",
                    description=f"一件事的办件编号须为1至{MAX_CASE_ID}个可打印字符"
                    f"（a bundle's case_id is 1-{MAX_CASE_ID} printable characters）",
                )
            )
    if errors:
        raise InvalidRequestError(errors)
    use = UseContext(
        matter_code=matter_code, purpose=purpose, operator=operator, bundle_code=bundle_code, case_id=case_id
    )
    matter = catalog.matters[matter_code]
    if not uses_matter(caller, matter):
        refused = MatterNotHandledError(matter, use, caller)
        if on_refusal is not None:
            on_refusal(refused)
        raise refused
    return use


class MatterNotHandledError(PermissionDeniedError):
    """The caller named a matter that another department handles. ``use`` is the request's use context, valid but
    for that, so that the refusal can go on the audit trail."""

    reason = "NOT_MATTER_DEPARTMENT"

    def __init__(self, matter: Matter, use: UseContext, caller: Member | None = None):
        handled = f"事项 {matter.code}（{matter.name}）由{matter.department}办理"
        if caller is not None and caller.has(Role.PARTNER):  # its rule is its region's, not a department's
            super().__init__(
                f"合作网关只能使用本地区（{caller.region}）的事项，{handled}"
                f"（a partner gateway names the matters of its own region {caller.region} only）"
            )
        else:
            super().__init__(
                f"{handled}，本部门不能以该事项核验或调取证照，请选择本部门办理的事项"
                f"（only the department that handles matter {matter.code} may name it: name a matter of your own）"
            )
        self.use = use


def status_finding(license: License, on: dt.date) -> Finding:
    """PASSED when ``license`` is ACTIVE and within its validity on ``on``; else FAILED with the state as reason."""
    status = license.effective_status(on)
    if status is LicenseStatus.ACTIVE and on < license.content.valid_from:
        return Finding(
            result=CheckResult.FAILED,
            reason="NOT_YET_VALID",
            detail=f"证照尚未生效，{license.content.valid_from.isoformat()} 起生效"
            f"（the license is valid from {license.content.valid_from.isoformat()}）",
        )
    if status is LicenseStatus.ACTIVE:
        return PASSED
    if status not in _STATUS_REASONS:  # UNSPECIFIED: a caller that checked the status memo never gets here
        return _STATUS_UNKNOWN
    reason, detail = _STATUS_REASONS[status]
    return Finding(result=CheckResult.FAILED, reason=reason, detail=detail)


def status_since(license: License, on: dt.date) -> dt.date | None:
    """The day (China time) the status ``license`` has on ``on`` began: the day it was suspended, revoked,
    cancelled or superseded, or the day after its validity ended; None while it is ACTIVE. A clerk reads "已注销
    （2026-11-02 起）", not just "已注销"."""
    status = license.effective_status(on)
    if status is LicenseStatus.ACTIVE:
        return None
    if status is LicenseStatus.EXPIRED:
        assert license.content.valid_until is not None  # only a license with an end expires
        return license.content.valid_until + dt.timedelta(days=1)
    return license.status_changed_at.astimezone(CHINA_TZ).date()


def authority_finding(license: License, catalog: Catalog) -> Finding:
    """The issuer is authoritative for the license's type (一数一源). A type no longer in the catalog (taken out of
    ``ZZGW_CATALOG``) leaves that unknown, not false: INDETERMINATE, so that a genuine license does not read as an
    unauthorised one at the window."""
    return issuer_authority_finding(license.content.type_code, license.content.issuer_code, catalog)


def issuer_authority_finding(type_code: str, issuer_code: str, catalog: Catalog) -> Finding:
    """``authority_finding`` for a license known only by its type and issuer (what a code's identifier names)."""
    license_type = catalog.license_types.get(type_code)
    if license_type is None:
        return Finding(
            result=CheckResult.INDETERMINATE,
            reason="LICENSE_TYPE_NOT_IN_CATALOG",
            detail="证照类型不在本网关的目录中，无法判断谁有权签发"
            "（the license's type is not in this gateway's catalog: who may issue it cannot be told）",
        )
    if issuer_code not in license_type.issuers:
        return Finding(
            result=CheckResult.FAILED,
            reason="NOT_AUTHORITATIVE_ISSUER",
            detail="发证部门无权签发此类证照（the issuer is not an authoritative issuer of this license type）",
        )
    return PASSED


class ClaimResult(enum.Enum):
    """The provincial verifyCertInfo result numbers."""

    CORRECT_AND_VALID = 0
    NOT_YET_VALID = 1
    SUSPENDED = 2
    NO_LONGER_VALID = 3
    INCOMPLETE = 4
    NOT_FOUND = 5
    NOT_FILLED = 6
    """certData 未填: the claim states nothing (no holder code, no number, no field); 4 when it states some."""
    PARTLY_WRONG = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimAnswer:
    result: ClaimResult
    mismatched_fields: tuple[str, ...] = ()
    """Keys of claimed values that differ from the registry (never the registry's values)."""
    status_reason: str = ""


HOLDER_NAME = "holder_name"
"""The key under which a claim states the holder's name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """A person a license names among those who may hold it (the type's ``holder_among``: a 结婚证's spouses), as a
    verifier is shown them: the field that names them and its code masked as the holder's."""

    label: str
    code_masked: str
    holder: bool


def parties_of(content: LicenseContent, license_type: LicenseType | None) -> tuple[Party, ...]:
    """The persons the fields of ``license_type``'s ``holder_among`` name, in the catalog's order: a clerk had been
    shown the 结婚证's holder alone (the husband) and told to confirm that the certificate the wife showed was hers
    (a reviewer of the journeys). None for a type without ``holder_among``."""
    if license_type is None:
        return ()
    holder = content.holder.code.strip().upper()
    parties = []
    for key in license_type.holder_among:
        spec, code = license_type.field_spec(key), str(content.fields.get(key, "")).strip().upper()
        if spec is not None and code:
            shown = shown_holder_code(content.holder, license_type) if code == holder else mask(code)
            parties.append(Party(label=spec.label, code_masked=shown, holder=code == holder))
    return tuple(parties)


def claim_query(
    type_code: str, holder_code: str, license_number: str, fields: Mapping[str, str]
) -> tuple[dict[str, object], bytes]:
    """What a claim's receipt says was claimed, without the claim, and the key that ties it to the claim: the holder
    code (trimmed, in upper case) and the number (as numbers are kept, ``normal_number``), as compared, each as
    HMAC-SHA-256 keyed with 16 random bytes of the
    receipt's own, which only the claimant is given (``CheckClaimResponse.claim_key``), never the receipt.

    Whoever holds the claim and its key recomputes the digests (``claim_digest(key, value)``) and sees that the
    receipt is about it. Without the key a digest tells nothing: an ID number has few unknown digits, and with the
    key in the receipt (its salt, until 2026-12-03) anyone who fetched the receipt recovered the number by trying
    them (37,002 tries, 1.7 s); two receipts of one person stay unlinkable.
    """
    key = secrets.token_bytes(16)
    query: dict[str, object] = {
        "type_code": type_code,
        "license_number_hmac": claim_digest(key, normal_number(license_number)),
        "holder_code_hmac": claim_digest(key, holder_code.strip().upper()),
        "fields": sorted(fields),
    }
    return query, key


def claim_digest(key: bytes, value: str) -> str:
    """HMAC-SHA-256 of ``value`` (UTF-8) keyed with ``key``, in hexadecimal."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


_RUNS_OF_SPACE = re.compile(r"\s+")


def claim_form(text: str) -> str:
    """``text`` as a claim compares it with what was issued: composed (e + U+0301 as é), its full-width letters,
    digits and signs as ASCII (``half_width``: ``（测试）`` as ``(测试)``, U+3000 as a space), each run of spaces one,
    none around it. What an applicant's paper says, typed through an input method in either width, is the same name:
    a clerk had been told 部分信息不一致 for ``济南(测试)有限公司`` against ``济南（测试）有限公司`` (found by an
    integrator). Nothing else is folded: letters keep their case and accents (``Cafe`` is not ``Café``), and ①, Ⅻ or
    a compatibility ideograph stay what they are, as a registered name may be written with them."""
    return _RUNS_OF_SPACE.sub(" ", half_width(composed(text))).strip()


def _code_form(text: str) -> str:
    """A 公民身份号码, 统一社会信用代码 or region code as issuance keeps it: ASCII, upper case, no spaces (a number on
    paper does not tell x from X, widths or groups apart: docs/api.md), and no hyphens where what is left is such a
    code's 18 characters (``unhyphenated_code``): a 新生儿's parent's own number pasted 370102-19920417-1366 had been
    refused as no 公民身份号码, while spaces were taken (review console2, R3)."""
    code = _RUNS_OF_SPACE.sub("", half_width(composed(text))).upper()
    return unhyphenated_code(code) or code


def _date_form(text: str) -> str:
    """A date as issuance keeps it (YYYY-MM-DD), read as people write it (``claimed_date``); else as text."""
    day = claimed_date(text)
    return day.isoformat() if day is not None else claim_form(text)


def _number_form(text: str) -> str:
    """A number by its value: 100, 100.0 and １００ are one; else as text."""
    plain = _RUNS_OF_SPACE.sub("", half_width(text))
    if not _NUMBER.fullmatch(plain):
        return claim_form(text)
    value = decimal.Decimal(plain)
    return "0" if value == 0 else format(value.normalize(), "f")


_NUMBER = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?", re.ASCII)


def claimed_value_form(value_type: ValueType) -> Callable[[str], str]:
    """How a claimed value of a field of ``value_type`` and the stored one are put before they are compared: a code
    (CITIZEN_ID, USCC, REGION) in upper case without spaces, a date as the day it names, a number by its value,
    anything else as typed in either width (``claim_form``). A clerk typing the applicant's paper as written (a
    公民身份号码 with x, in groups; 2019年5月20日 for 2019-05-20) had been answered 7 and counted (a reviewer)."""
    match value_type:
        case ValueType.CITIZEN_ID | ValueType.USCC | ValueType.REGION:
            return _code_form
        case ValueType.DATE:
            return _date_form
        case ValueType.INTEGER | ValueType.DECIMAL:
            return _number_form
    return claim_form


def claimed_value_refusal(spec: FieldSpec, value: str, today: dt.date) -> FieldViolation | None:
    """INVALID_ARGUMENT's violation for a value claimed of ``spec`` that no license could hold, read as the claim
    compares it (``claimed_value_form``) and judged as issuance judges the issuer's (``claimed_field_problem``: a
    check character wrong, BAD_CHECK_CHARACTER; a 公民身份号码 of 17 digits, BAD_CITIZEN_ID; no such day, BAD_DATE;
    not a number), or None. Not judged by what the catalog chose for the field today (an ENUM's choices, its
    ``max_length``), which a license issued before it tightened the field does not meet: compared instead."""
    return claimed_field_problem(spec, claimed_value_form(spec.value_type)(value), today)


def answer_claim(
    license: License | None,
    holder_code: str,
    fields: Mapping[str, str],
    on: dt.date,
    *,
    record: Finding = PASSED,
    forms: Mapping[str, Callable[[str], str]] | None = None,
    holder_among: Sequence[str] = (),
    person_names: Mapping[str, str] | None = None,
) -> ClaimAnswer:
    """Compare a claim with the registry's current version (None when the number is unknown): a claimed holder
    that is not the license's (as stored) is wrong, and nothing else is compared then, unless it is one of the persons
    the fields of the type's ``holder_among`` state (a 结婚证's 女方 where the 男方 holds it: either spouse may hold
    it, and she shows it at a window as hers; her 7 had a genuine certificate refused, a reviewer). ``record`` is the
    check of that version's record seal and its trust: a record that fails it (changed in the store behind the
    gateway's back, sealed by another) is compared with nothing more: 4, cannot be verified, with its reason.
    A field's claimed and stored values are compared in its form of ``forms`` (``claimed_value_form`` of the
    field's type), else as typed in either width (``claim_form``). A claimed ``holder_name`` is the applicant's: with
    the code a ``holder_among`` field states, the name of ``person_names``' field for it (a ``CITIZEN_ID`` field's
    ``person_name``: 女方姓名 for 女方身份证件号), else the holder's. It had been the holder's always, so the wife's
    code with her husband's name was 1 and with her own 7 (review rfB, R3)."""
    if license is None:
        return ClaimAnswer(result=ClaimResult.NOT_FOUND)
    claimed = holder_code.strip().upper()
    among = {str(license.content.fields.get(key, "")).strip().upper() for key in holder_among} - {""}
    if claimed != license.content.holder.code.upper() and claimed not in among:
        # another holder's license: nothing else of it is compared. Each field judged had confirmed a guess of what
        # a stranger's license states (a spouse's name and number) to whoever knew its number (a black-box tester).
        # Before the record's check: a stranger's claim about an altered record had been 4 RECORD_ALTERED, telling
        # whoever knew only its number that it was altered, its receipt naming the license (a reviewer)
        return ClaimAnswer(result=ClaimResult.PARTLY_WRONG, mismatched_fields=("holder_code",))
    if record.result is not CheckResult.PASSED:
        return ClaimAnswer(result=ClaimResult.INCOMPLETE, status_reason=record.reason or "")
    mismatched = []
    stored = dict(license.content.fields)
    stored[HOLDER_NAME] = license.content.holder.name
    if claimed != license.content.holder.code.upper():  # a person the license names, not its holder
        for key, name_key in (person_names or {}).items():
            if str(stored.get(key, "")).strip().upper() == claimed:
                stored[HOLDER_NAME] = stored.get(name_key, "")
                break
    for key in sorted(fields):
        form = (forms or {}).get(key, claim_form)
        if form(fields[key]) != form(stored.get(key, "")):
            mismatched.append(key)
    if mismatched:
        return ClaimAnswer(result=ClaimResult.PARTLY_WRONG, mismatched_fields=tuple(mismatched))
    finding = status_finding(license, on)
    if finding.result is CheckResult.PASSED:
        return ClaimAnswer(result=ClaimResult.CORRECT_AND_VALID)
    reason = finding.reason or ""
    if reason == "NOT_YET_VALID":
        return ClaimAnswer(result=ClaimResult.NOT_YET_VALID, status_reason=reason)
    if reason == "SUSPENDED":
        return ClaimAnswer(result=ClaimResult.SUSPENDED, status_reason=reason)
    return ClaimAnswer(result=ClaimResult.NO_LONGER_VALID, status_reason=reason)


def check_type_used(
    catalog: Catalog,
    matter: Matter,
    type_code: str,
    field: str,
    *,
    on_refusal: Callable[[TypeNotUsedError], None] | None = None,
    of_another_registry: bool = False,
) -> None:
    """INVALID_ARGUMENT / NOT_USED_BY_MATTER on ``field`` when ``type_code`` is a license type that ``matter``'s
    materials do not list, with the words and reason verification refuses it with (``VerifyLicense``): a call that
    names a license by identifier is checked so before the license is looked up, so that whether a license the
    matter has no need of exists is not told (LICENSE_NOT_FOUND for a missing one, another answer for one that
    exists). ``on_refusal`` is told of the refusal first, to put it on the audit trail (``TypeNotUsedError``), as
    ``check_use``'s is. A type code the catalog does not have is used by no matter (a type taken out of the catalog:
    its licenses had been looked up and reported under any matter, although init says no matter can use them; a
    catalog author tester), so it is refused alike; what is no type code at all (a malformed identifier) passes, for
    the lookup to answer, and so does one of a license ``of_another_registry`` (its identifier's issuer is no
    department of this gateway: a type another region defines, 跨省通办), which the lookup answers NOT_IN_THIS_REGISTRY
    from the identifier alone, reading no license."""
    if any(material.type_code == type_code for material in matter.materials):
        return
    license_type = catalog.license_types.get(type_code)
    if license_type is not None:
        said = (
            f"事项 {matter.code}（{matter.name}）不使用{license_type.name}"
            f"（matter {matter.code} does not use {_type_in_english(license_type)}）"
        )
    elif type_code_problem(type_code) is None and not of_another_registry:
        said = (
            f"事项 {matter.code}（{matter.name}）不使用证照类型 {type_code}：证照目录中没有这一类型"
            f"（matter {matter.code} does not use license type {type_code}: the catalog has no such type）"
        )
    else:
        return
    refused = TypeNotUsedError([FieldViolation(field=field, reason="NOT_USED_BY_MATTER", description=said)])
    if on_refusal is not None:
        on_refusal(refused)
    raise refused


def _type_in_english(license_type: LicenseType) -> str:
    """A license type as an English half names it: its English name with its code (``passport,
    111000009910000279001``), the code alone for a type without one; the Chinese half gives its name."""
    return f"{license_type.name_en} ({license_type.code})" if license_type.name_en else license_type.code


class TypeNotUsedError(InvalidRequestError):
    """INVALID_ARGUMENT / NOT_USED_BY_MATTER: the request names a license of a type its matter's materials do not
    list (``check_type_used``). The service that refuses it puts the refusal on the audit trail with the license
    the request named (``AuditTrail.refuse``): the holder sees the attempt, the caller learns nothing of the
    license."""


def names_the_issuer(subject: Sequence[str], names: Sequence[str]) -> bool:
    """Whether any value of a signer's certificate subject (its O, OU, CN, organizationIdentifier, serialNumber, …)
    holds one of ``names`` (the license issuer's registered name, the name its seal gives it, its USCC), each read as
    a viewer shows it to a person: compatibility forms folded (NFKC: full-width letters and digits), case ignored,
    and spaces, punctuation, marks and invisible characters left out. A viewer's signature panel shows a signer by
    its CN or O: an invisible signature whose certificate said only ``CN=济南市市场监督管理局电子证照专用章``, or
    ``O=济南市市场监督管理局 `` with a space after it, or ``…（电子证照）``, had not counted as in the issuer's name
    (a reviewer).

    >>> names_the_issuer(["济南市市场监督管理局电子证照专用章"], ["济南市市场监督管理局"])
    True
    >>> names_the_issuer(["济南市 市场监督管理局\\u200b（电子证照）"], ["济南市市场监督管理局"])
    True
    >>> names_the_issuer(["某申请人", "91370100MA3C0000XY"], ["济南市市场监督管理局", "11370100993701011T"])
    False

    A name is the whole value, or its start followed only by what names a seal (专用章, 电子证照, …) or a bracketed
    note: a co-signer whose name merely begins with the issuer's, its branch (济南市市场监督管理局历下分局,
    济南市公安局交通警察支队) or its service centre, is another organisation, and had been taken for the issuer (a
    review, R3). A USCC is found anywhere in a value (serialNumber, organizationIdentifier ``NTRCN-…``).

    >>> names_the_issuer(["济南市市场监督管理局历下分局"], ["济南市市场监督管理局"])
    False
    >>> names_the_issuer(["NTRCN-11370100993701011T"], ["11370100993701011T"])
    True
    """
    wanted = [folded for name in names if (folded := _as_shown(name))]
    return any(_names(_as_shown(value), name) or _names(_as_shown(_unbracketed(value)), name)
               for value in subject for name in wanted)  # fmt: skip


_BRACKETED_END = re.compile(r"\s*[(\[【〔][^()\[\]【】〔〕]*[)\]】〕]\s*$")


def _unbracketed(value: str) -> str:
    """``value`` without the bracketed notes at its end (``（ＥＣ）``, ``(电子证照)``), compatibility forms folded."""
    value = unicodedata.normalize("NFKC", value)
    while (shorter := _BRACKETED_END.sub("", value)) != value:
        value = shorter
    return value


_SEAL_WORDS = re.compile(r"(?:电子证照|电子印章|电子|专用章|公章|印章|章)*")
"""What may follow an issuer's name in a signer's name that is still the issuer's (its seal's name)."""
_USCC_FOLDED = re.compile(r"[0-9a-z]{18}")


def _names(value: str, name: str) -> bool:
    """Whether ``value`` (as shown) names the issuer by ``name`` (as shown)."""
    if _USCC_FOLDED.fullmatch(name):
        return name in value
    return value.startswith(name) and _SEAL_WORDS.fullmatch(value[len(name) :]) is not None


def _as_shown(text: str) -> str:
    """``text`` as read for ``names_the_issuer``."""
    return "".join(
        c for c in unicodedata.normalize("NFKC", text).casefold() if unicodedata.category(c)[0] not in "ZCPM"
    )
