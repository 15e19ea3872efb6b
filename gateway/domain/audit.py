"""The audit trail (用证记录): one access record per answered use of a license, in a hash chain.

Every verification, sharing and authorisation call that is answered appends exactly one record (a form filled from
several licenses one per license, written together): who called (member
and the clerk's operator id), for which matter and purpose, about which license or holder, what was decided and why,
and when. Records are numbered from 1 without gaps and chained: record n carries ``prev_hash`` (record n-1's hash,
32 zero bytes for record 1) and

    hash = SHA-256(b"zzgw-audit/1\\n" + prev_hash + canonical_json(fields of record n, with its number))

so changing, removing or reordering any record breaks every hash after it. Periodic checkpoints (every
``CHECKPOINT_EVERY`` records, and the record a prune cuts at) sign (number, hash) with the gateway's key, so the
chain's head cannot be silently rewritten by whoever can write the database without the key; ``ChainChecker`` finds
the first broken link.

Records removed from the end leave no broken link, and the last checkpoint may be 999 records back. So the store
keeps one more row, the head memo (``HeadMemo``): the newest record's number and hash with an HMAC over both under
the gateway's memo secret (``HeadMemos``, ADR 0010), rewritten with every group of records appended. A chain that
ends before the memo's record was cut short (``TRUNCATED``).

A license may state the 公民身份号码 of people who are not its holder (a 结婚证 the wife's, a 出生医学证明 the
parents'): its co-subjects (``subjects_of``). A record about such a license names them (``AuditEntry.subjects``), its
hash covers them, and each one's access log lists the record as the holder's does. A record naming none hashes as it
did before co-subjects were named, so every record of an older store still checks.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from gateway.domain.catalog import Catalog, FieldSpec, LicenseType, ValueType
from gateway.domain.guardianship import guardians_of, holds
from gateway.domain.identifiers import LicenseId, citizen_id_problem
from gateway.domain.model import License
from gateway.domain.sharing import Reason, guardian_words
from signing.canonical import canonical_json

ENCODING = "zzgw-audit/1"
GENESIS = bytes(32)
CHECKPOINT_EVERY = 1000
_PREFIX = ENCODING.encode() + b"\n"
_HEAD_PREFIX = b"zzgw-audit-head/1\n"
_START_PREFIX = b"zzgw-audit-start/1\n"


class AuditAction(enum.StrEnum):
    VERIFY_LICENSE = "VERIFY_LICENSE"
    VERIFY_DOCUMENT = "VERIFY_DOCUMENT"
    VERIFY_STAMP = "VERIFY_STAMP"
    LIST_CASE_RECEIPTS = "LIST_CASE_RECEIPTS"
    CHECK_CLAIM = "CHECK_CLAIM"
    LIST_HOLDER_LICENSES = "LIST_HOLDER_LICENSES"
    GET_LICENSE_DATA = "GET_LICENSE_DATA"
    GET_LICENSE_DOCUMENT = "GET_LICENSE_DOCUMENT"
    PREFILL_FORM = "PREFILL_FORM"
    REQUEST_ACCESS = "REQUEST_ACCESS"
    LIST_ACCESS_REQUESTS = "LIST_ACCESS_REQUESTS"
    DECIDE_ACCESS_REQUEST = "DECIDE_ACCESS_REQUEST"
    CANCEL_ACCESS_REQUEST = "CANCEL_ACCESS_REQUEST"
    GRANT_CONSENT = "GRANT_CONSENT"
    WITHDRAW_CONSENT = "WITHDRAW_CONSENT"
    LIST_CONSENTS = "LIST_CONSENTS"
    LIST_CONSENTABLE_LICENSES = "LIST_CONSENTABLE_LICENSES"
    """A holder portal listed the licenses its holder (or a parent, a child's) may name in a consent."""
    LIST_ACCESS_RECORDS = "LIST_ACCESS_RECORDS"
    """A holder portal (or an issuer) listed a person's access records (``AuditService.ListAccessRecords``): which
    licenses the person holds, which departments used them for what. On that person's log; an issuer's listing of
    all its licenses' uses names no one."""
    ISSUER_GET_LICENSE = "ISSUER_GET_LICENSE"
    """An issuer read one of its own licenses (``IssuanceService.GetLicense``), outside any matter."""
    ISSUER_GET_LICENSE_DOCUMENT = "ISSUER_GET_LICENSE_DOCUMENT"
    """An issuer fetched the document of one of its own licenses (``IssuanceService.GetLicenseDocument``)."""
    GET_RECEIPT = "GET_RECEIPT"
    """A stored receipt was read by its number (``VerificationService.GetReceipt``, the console's 回执查询, or the
    archive's copy of a receipt file a clerk was handed), outside any matter: what it says of the license is read."""
    REGISTER_SEAL = "REGISTER_SEAL"
    """An issuer registered a seal (``SealService.RegisterSeal``; a retry answered with the seal it made too). On the
    issuer's log, as each seal call is (``SEAL_CALLS``), naming the seal (``AuditEntry.seal_id``)."""
    REVOKE_SEAL = "REVOKE_SEAL"
    """An issuer revoked one of its seals (``RevokeSeal``): ``reason`` the CRL's (``key_compromise`` …); the reason
    the issuer wrote is kept with the seal."""
    SEAL_DOCUMENT = "SEAL_DOCUMENT"
    """An issuer sealed a PDF (``SealDocument``): ``document_sha256`` and ``result_sha256`` the digests of the PDF sent
    and of the sealed PDF returned. Not the signature's reason: free text, which may name a person."""
    STAMP_DOCUMENT = "STAMP_DOCUMENT"
    """An issuer stamped a document with an SM2 seal (``StampDocument``): the digests of the document and the stamp."""
    AUDIT_BREAK = "AUDIT_BREAK"
    """Written by the gateway itself, before a call's records, when it found the chain's end not vouched for as it
    appended (records added behind its back, the head memo deleted or changed, the whole trail deleted): it chains
    after that end, and this record keeps the break reported for good (``ChainChecker.noted``), as a deletion's GAP
    is. ``reason`` is what was found (a ``ChainCheck`` reason), ``purpose`` the numbers it concerns, ``first-last``
    (``last`` 0 when not known). It names no one: it is on nobody's log."""
    UNRECOGNISED = "UNRECOGNISED"
    """Read for a stored action that is none of these (edited in the store): never written; its record's hash does
    not match (HASH_MISMATCH) instead of the read failing."""

    @classmethod
    def read(cls, stored: str) -> AuditAction:
        try:
            return cls(stored)
        except ValueError:
            return cls.UNRECOGNISED


OWN_LISTINGS = frozenset(
    {AuditAction.LIST_ACCESS_RECORDS, AuditAction.LIST_CONSENTS, AuditAction.LIST_CONSENTABLE_LICENSES}
)
"""The listings a holder portal makes of what it shows its holder (the log, the consents, the licenses to name):
what ``ListAccessRecordsRequest.omit_own_listings`` leaves out of a listing when the caller made them."""
GUARDIANS_CALLS = frozenset(
    {AuditAction.GRANT_CONSENT, AuditAction.WITHDRAW_CONSENT, AuditAction.LIST_CONSENTABLE_LICENSES}
)
"""The calls whose record, naming no license, names a co-subject only as the holder's guardian: a consent for several
of a child's licenses names the parent who granted it (its grant, and its withdrawal, by that parent or by the
holder), and a listing of a child's licenses (``child_code``) the parent it was made for, when a license of the child
names them as the guardian of a minor (``AuthorizationService.consentable_licenses``)."""
PARENTS_REFUSED_GRANTS = frozenset({"GUARDIAN_NOT_OF_AGE", "LICENSE_NAMES_NO_PARENT"})
"""The refusals of a grant that only a parent a current license of the child names is told (a parent under 18; a
parent naming a license of the child that names no parent): the answer tells that the code is such a parent's, so
the refusal's record is on the trying parent's log too, as their own try (``AuthorizationService._refused_grant``)."""
CONSENT_CALLS = frozenset({AuditAction.GRANT_CONSENT, AuditAction.WITHDRAW_CONSENT})
"""The records of a consent (``reason`` ``consent=ID``), whose granter a listing tells (``granted_by``)."""
SEAL_CALLS = frozenset(
    {AuditAction.REGISTER_SEAL, AuditAction.REVOKE_SEAL, AuditAction.SEAL_DOCUMENT, AuditAction.STAMP_DOCUMENT}
)
"""The records of a seal's registration, revocation and uses (用印登记): they name the seal (``AuditEntry.seal_id``),
no license and no holder, and are on the log of the seal's issuer (``issuer_code``) alone. Answered, or ``REFUSED``
with the refusal's reason once the call named the seal."""


ACTION_WORDS: dict[str, str] = {
    "VERIFY_LICENSE": "核验证照",
    "VERIFY_DOCUMENT": "核验证照文件",
    "VERIFY_STAMP": "核验电子签章",
    "CHECK_CLAIM": "信息比对",
    "LIST_CASE_RECEIPTS": "查看办件核验回执",
    "LIST_HOLDER_LICENSES": "查询持证主体的证照",
    "GET_LICENSE_DATA": "调取证照数据",
    "GET_LICENSE_DOCUMENT": "调取证照文件",
    "PREFILL_FORM": "表单预填",
    "REQUEST_ACCESS": "申请共享",
    "LIST_ACCESS_REQUESTS": "查看共享申请",
    "DECIDE_ACCESS_REQUEST": "审批共享申请",
    "CANCEL_ACCESS_REQUEST": "撤回共享申请（申请部门）",
    "GRANT_CONSENT": "授权用证（持证人或其监护人）",
    "WITHDRAW_CONSENT": "撤回用证授权",
    "LIST_CONSENTS": "查看授权",
    "LIST_CONSENTABLE_LICENSES": "查看可授权的证照",
    "LIST_ACCESS_RECORDS": "查看用证记录",
    "ISSUER_GET_LICENSE": "发证部门调阅证照",
    "ISSUER_GET_LICENSE_DOCUMENT": "发证部门调阅证照文件",
    "GET_RECEIPT": "查验回执",
    "AUDIT_BREAK": "发现用证记录链尾未经网关确认",
    "REGISTER_SEAL": "登记印章",
    "REVOKE_SEAL": "吊销印章",
    "SEAL_DOCUMENT": "盖章",
    "STAMP_DOCUMENT": "电子签章",
}
"""What each action of the access records is, in the words a holder reads (``AccessRecord.action_words``)."""
DECISION_WORDS: dict[str, str] = {
    "PASSED": "核验通过",
    "FAILED": "核验未通过",
    "INDETERMINATE": "无法确定",
    "ANSWERED": "已答复",
    "LISTED": "已列出",
    "SUBMITTED": "已提交",
    "PERMIT": "准予",
    "DENY": "拒绝",
    "DENIED": "拒绝",
    "APPROVED": "已批准",
    "REJECTED": "已驳回",
    "EXPIRED": "已过期",
    "WITHDRAWN": "已撤回",
    "CANCELLED": "申请部门已撤回申请",
    "GRANTED": "已授权",
    "UNCHANGED": "无变化（授权已用完、已过期或已撤回）",
    "REPEATED": "重复请求，答复原办理结果，未另行办理",  # a grant sent again, a seal's registration or revocation
    "BROKEN": "记录链断裂",
    # a seal's registration, revocation or use, and one refused (its reason the refusal's)
    "REGISTERED": "已登记",
    "REVOKED": "已吊销",
    "SEALED": "已盖章",
    "STAMPED": "已签章",
    "REFUSED": "未办理",
    # a 信息比对's answer (ClaimResult), by its name
    "CORRECT_AND_VALID": "信息一致，证照有效",
    "NOT_YET_VALID": "信息一致，但证照尚未生效",
    "SUSPENDED": "信息一致，但证照已暂停使用",
    "NO_LONGER_VALID": "信息一致，但证照已失效",
    "INCOMPLETE": "信息不完整",
    "NOT_FILLED": "未填写比对信息",
    "NOT_FOUND": "未找到该证照",
    "PARTLY_WRONG": "部分信息不一致",
}
"""What each decision is, in the words a holder reads (``AccessRecord.decision_words``): the check's verdict, the
answer to a claim by its name, the sharing policy's PERMIT or DENY, DENIED for a call refused for its use (another
department's matter, a type the matter does not use, too many wrong claims), and what a request, consent or listing
became."""


REASON_WORDS: dict[str, str] = {
    # a check's findings (the console says them alike)
    "SUSPENDED": "证照已暂停使用",
    "REVOKED": "证照已吊销或撤销",
    "CANCELLED": "证照已注销",
    "SUPERSEDED": "证照已变更，此版本不再现行",
    "EXPIRED": "证照已过期",
    "NOT_YET_VALID": "证照尚未生效",
    "LICENSE_NOT_FOUND": "未找到该证照",
    "NOT_IN_THIS_REGISTRY": "发证部门不在本证照网关登记",
    "RECORD_ALTERED": "证照数据与印章不符（被改动）",
    "STATUS_ALTERED": "证照状态被绕过网关改动",
    "REGISTRY_ALTERED": "登记库中该文件所属证照被绕过网关改动",
    "SIGNATURE_INVALID": "签章已被篡改",
    "DOCUMENT_MODIFIED": "盖章后文件被改动",
    "CHANGED_AFTER_SEAL": "盖章后有以发证部门名义、未通过核验的签名",
    "NO_SIGNATURE": "文件上没有电子印章",
    "NOT_A_REGISTERED_LICENSE": "不是网关登记的电子证照文件",
    "UNTRUSTED_ROOT": "印章证书不是可信的制章机构签发",
    "LOOKALIKE_CA": "印章证书系仿冒的制章机构签发",
    "NOT_AUTHORITATIVE_ISSUER": "发证部门无权签发此类证照",
    "SEALED_BY_ANOTHER": "印章不属于证照的发证部门",
    "UNKNOWN_SEAL_KEY": "核验码的印章未知",
    "CERT_REVOKED": "签章证书已吊销",
    "CERT_NOT_YET_VALID": "签章时证书尚未生效",
    "CERT_EXPIRED": "签章时证书已过期",
    "CERT_REVOKED_NO_TRUSTED_TIME": "签章证书已吊销，且无可信时间",
    "CERT_EXPIRED_NO_TRUSTED_TIME": "签章证书已过期，且无可信时间",
    "NOT_A_SEAL_MAKER": "证书不是制章机构的",
    "KEY_MISMATCH": "印章密钥不符",
    "INVALID_CHAIN": "印章证书链无效",
    "BAD_KEY_USAGE": "印章证书的用途不是签章",
    "NOT_END_ENTITY": "签章用的不是印章证书",
    "WEAK_ALGORITHM": "印章证书使用的算法不安全",
    "MALFORMED_CERTIFICATE": "印章证书无法读取",
    "UNSUPPORTED_ALGORITHM": "不支持的签名算法",
    "UNKNOWN_ENCODING": "未知的签章编码",
    "CRL_MISSING": "缺少吊销列表，无法确认印章证书是否已吊销",
    "CRL_STALE": "吊销列表已过期",
    "NO_TIMESTAMP": "签章没有可信时间戳",
    "TIMESTAMP_INVALID": "签章时间戳无效",
    "TIMESTAMP_UNTRUSTED": "签章时间戳不是可信机构签发",
    "TIMESTAMP_NOT_CHECKED": "签章时间戳未核验",
    "NOT_ZZ1": "不是证照核验码",
    "MALFORMED": "核验码无法读取",
    "TOO_LARGE": "核验码过长",
    "NOT_CHECKED": "未核验",
    # a GB/T 38540 stamp's (VerifyStamp): its signature, its seal, the signer's place in it
    "STAMP_SIGNATURE_INVALID": "电子签章的签名与内容不符",
    "SEAL_SIGNATURE_INVALID": "电子印章的制章签名无效",
    "SIGNER_NOT_IN_SEAL": "签章人的证书不在印章所列的证书中",
    "DATA_HASH_MISMATCH": "签章所盖的文件被改动",
    "SEAL_NOT_YET_VALID": "签章时电子印章尚未生效",
    "SEAL_EXPIRED": "签章时电子印章已过期",
    "SIGNING_TIME_IN_FUTURE": "签章时间晚于现在",
    "UNSUPPORTED_VERSION": "不支持的电子签章版本",
    "VERSION_MISMATCH": "电子签章与印章的版本不一致",
    "UNSUPPORTED_CERT_LIST_TYPE": "不支持的印章证书列表类型",
    "INVALID_CERTIFICATE": "证书无效",
    "LICENSE_TYPE_NOT_IN_CATALOG": "证照目录中已没有此类证照",
    "REPLY_TOO_LARGE": "证照文件过大，未能提供",
    # a document's copy the policy permitted, not given: its document could not be made or stamped
    "DOES_NOT_FIT": "证照文件无法生成，未能提供",
    "TYPE_NOT_IN_CATALOG": "证照目录中已没有此类证照，文件无法生成",
    "ISSUER_NOT_FOUND": "发证部门已不是网关成员，文件无法生成",
    "TSA_UNAVAILABLE": "时间戳服务暂时不可用，未能提供",
    "DOCUMENT_DAMAGED": "所存证照文件已损坏，未能提供",
    # ... or sealed: the issuer's seal (DocumentService.make, SealService), which had no words (a reviewer, R2)
    "NO_ACTIVE_SEAL": "发证部门暂无有效印章，证照文件无法生成",
    "SEAL_REVOKED": "发证部门的印章已吊销，证照文件无法生成",
    "SEAL_KEY_UNREADABLE": "发证部门的印章密钥无法使用，证照文件无法生成",
    "SEAL_KEY_NOT_HERE": "发证部门的印章密钥不在本网关，证照文件无法生成",
    "SM2_SEAL_NOT_FOR_PDF": "发证部门的SM2印章不能在PDF文件上盖章，证照文件无法生成",
    "SM2_UNAVAILABLE": "本网关不能使用发证部门的SM2印章，证照文件无法生成",
    "SEALING_TIMED_OUT": "盖章超时，未能提供",
    # a seal's use refused (SealService): the seal is another department's
    "NOT_SEAL_OWNER": "印章不属于调用部门",
    "NOTHING_FILLED": "没有可预填的信息项",
    # a call refused for its use, or for what it asked
    "NOT_MATTER_DEPARTMENT": "该事项不由调用部门办理",
    "NOT_USED_BY_MATTER": "该事项不使用此类证照",
    "TOO_MANY_WRONG_CLAIMS": "信息比对不一致的次数已达上限",
    "NOT_CLAIMABLE": "该信息项不可比对",
    "FIELD_NOT_NEEDED": "所申请的信息项不是该事项所需",
    "FIELD_NOT_SHARED": "所申请的信息项不予共享",
    "CONSENT_NOT_FOUND": "用证码无效",
    "DOCUMENT_EXCEEDS_PERMIT": "证照文件载有该事项无权查看的信息",
    "CALLER_DEADLINE_PASSED": "调用方已停止等待，未完成",
    "NOT_THE_HOLDERS_LICENSE": "授权所指的证照不属于授权人",
    "GUARDIAN_NOT_OF_AGE": "父亲或母亲未满18周岁，不能代为授权",
    "NOT_A_GUARDIAN": "持证人已成年，须本人授权",
    "LICENSE_NAMES_NO_PARENT": "父母代为授权所指的证照未载明父母",
}
"""Reasons an access record may give, in the words a holder reads (``AccessRecord.reason_words``; ``reason_words``
adds the sharing policy's own); a reason without words (a field's key, what the record names) is shown as it is."""


ACTION_REASON_WORDS: Mapping[tuple[str, str], str] = {
    # a revocation refused: the seal's revocation not moved earlier, its leak's start not one to revoke from
    # (RevokeSeal's compromised_since). The issuer's log had said 发证部门的印章已吊销，证照文件无法生成 of the one, a
    # document's words, and nothing of the other (review s55fix, R4)
    ("REVOKE_SEAL", "SEAL_REVOKED"): "印章已吊销，吊销时间不能再提前",
    ("REVOKE_SEAL", "BAD_COMPROMISED_SINCE"): "泄露起始时间有误，印章未吊销",
}
"""Words of a reason that one action's record says otherwise than ``REASON_WORDS`` (by action and reason)."""


def reason_words(reason: str, *, by_guardian: bool = False, action: str = "") -> str:
    """The words of an access record's reason: ``ACTION_REASON_WORDS`` for its ``action``, else ``REASON_WORDS``,
    else the Chinese of the sharing policy's detail of it (``gateway.domain.sharing.Reason``; the guardian's,
    ``guardian_words``, for a record ``by_guardian``), else empty."""
    if (said := ACTION_REASON_WORDS.get((action, reason))) is not None:
        return said
    if reason in REASON_WORDS:
        return REASON_WORDS[reason]
    for prefix, whose in (("MAKER_", "制章机构证书："), ("SIGNER_", "签章人证书：")):  # a GB/T 38540 stamp's two
        if reason.startswith(prefix):
            rest = reason.removeprefix(prefix)
            said = REASON_WORDS.get("CERT_" + rest) or REASON_WORDS.get(rest, "")
            return whose + said.removeprefix("签章证书").removeprefix("印章证书") if said else ""
    try:
        known = Reason(reason)
    except ValueError:
        return ""
    said = guardian_words(known) if by_guardian else known.detail
    return said.rpartition("（")[0] or said  # the last opens the English (the first: review holder, R4)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """What one answered call did, before it is numbered and chained."""

    at: dt.datetime
    caller: str
    """The member (USCC) that called."""
    operator: str
    """The clerk or system user on the caller's side (request metadata ``x-zzgw-operator``); empty if not given."""
    action: AuditAction
    matter_code: str
    purpose: str
    license_id: str = ""
    issuer_code: str = ""
    """The issuer of the license used, so that an issuer can list the uses of its licenses."""
    holder_code: str = ""
    """The holder whose license was used, so that a holder portal can list the uses of its holder's licenses."""
    decision: str
    """What was answered: PASSED / FAILED / INDETERMINATE for a verification, PERMIT / DENY for sharing, …"""
    reason: str = ""
    receipt_id: str = ""
    seal_id: str = ""
    """A seal call's record (``SEAL_CALLS``): the seal registered, revoked or used."""
    document_sha256: str = ""
    """A seal's use: the SHA-256 (hex) of the document sent to be sealed or stamped, never the document itself."""
    result_sha256: str = ""
    """A seal's use answered: the SHA-256 (hex) of what was returned, the sealed PDF or the stamp."""
    by_guardian: bool = False
    """A refused use whose ``reason`` is about a consent a parent granted for the holder (``Deny.by_guardian``): its
    words are the guardian's (``reason_words``), as the refusal said them. The record had kept the reason code alone,
    and the trail said 持证人已撤回授权 of the mother's consent for her newborn (left alone in session 53)."""
    subjects: tuple[str, ...] = ()
    """The co-subjects of the license used (``subjects_of``): people, other than the holder, whose 公民身份号码 it
    states, so that each one's access log lists the use as the holder's does. Kept sorted and without repeats, as
    the store gives them back (a set of rows)."""

    def __post_init__(self) -> None:
        if list(self.subjects) != sorted(set(self.subjects)):
            object.__setattr__(self, "subjects", tuple(sorted(set(self.subjects))))

    def mapping(self, seq: int) -> dict[str, object]:
        # "subjects" only when there are some, the seal and the digests only when given, "by_guardian" only when true:
        # a record naming none hashes as every record before co-subjects (and seal uses, and a guardian's consent
        # refused: schema 0043) were recorded did
        return {
            "seq": seq,
            "at": self.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "caller": self.caller,
            "operator": self.operator,
            "action": self.action.value,
            "matter_code": self.matter_code,
            "purpose": self.purpose,
            "license_id": self.license_id,
            "issuer_code": self.issuer_code,
            "holder_code": self.holder_code,
            "decision": self.decision,
            "reason": self.reason,
            "receipt_id": self.receipt_id,
            **({"subjects": list(self.subjects)} if self.subjects else {}),
            **{key: value for key, value in self._seal_fields() if value},
            **({"by_guardian": True} if self.by_guardian else {}),
        }

    def _seal_fields(self) -> tuple[tuple[str, str], ...]:
        return (
            ("seal_id", self.seal_id),
            ("document_sha256", self.document_sha256),
            ("result_sha256", self.result_sha256),
        )


def _names_another_person(spec: FieldSpec) -> bool:
    """Whether ``spec`` may state a co-subject: a ``CITIZEN_ID`` field not marked ``of_holder``."""
    return spec.value_type is ValueType.CITIZEN_ID and spec.of_holder is None


def may_have_subjects(license_type: LicenseType) -> bool:
    """Whether a license of ``license_type`` may have co-subjects (``subjects_of``): most types (营业执照,
    食品生产许可证) have no field that could name one, and their licenses need not be looked into."""
    return any(_names_another_person(spec) for spec in license_type.fields)


def subjects_of(license: License, license_type: LicenseType | None) -> tuple[str, ...]:
    """The co-subjects of ``license``: the 公民身份号码 its fields of type ``CITIZEN_ID`` state of people other than
    its holder (fields not marked ``of_holder``; a 结婚证's ``wife_citizen_id`` where the husband holds it), as
    holder codes are kept (trimmed, upper case), sorted. Empty values, the holder's own code (``holds``: a number
    a license is stored under with another code type than the number's is not its holder's, and names a co-subject)
    and values that are no 公民身份号码 (no one's access log could be asked for them) are left out; so is everything
    of a license whose type the catalog no longer has (``license_type`` None: its fields cannot be told apart)."""
    if license_type is None:
        return ()
    found = set()
    for spec in license_type.fields:
        if not _names_another_person(spec):
            continue
        code = license.content.fields.get(spec.key, "").strip().upper()
        if code and not holds(code, license) and citizen_id_problem(code) is None:
            found.add(code)
    return tuple(sorted(found))


def license_subjects(license: License, catalog: Catalog) -> tuple[str, ...]:
    """``subjects_of`` ``license`` with its type as ``catalog`` has it now."""
    return subjects_of(license, catalog.license_types.get(license.content.type_code))


def vouched_subjects(
    license: License, catalog: Catalog, vouched: Callable[[License], tuple[str, ...]] | None
) -> tuple[str, ...]:
    """The co-subjects of ``license`` by ``vouched`` (``VerificationService.record_subjects``: only of a record its
    seal vouches for, as a verification names them; a record changed behind the gateway's back, ADR 0009, must not
    put a stranger on the access log of another's license); without it (a gateway without verification) those the
    record states as stored (``license_subjects``)."""
    return vouched(license) if vouched is not None else license_subjects(license, catalog)


class Relation(enum.StrEnum):
    """Whose a record is, to the person whose access log lists it (``AccessRecord.relation`` in the API)."""

    HOLDER = "HOLDER"
    """The record's holder is the person: a use of their own license, or a call naming them."""
    CO_SUBJECT = "CO_SUBJECT"
    """Another's license that states the person's 公民身份号码 (a 结婚证 the husband holds, to the wife)."""
    GUARDIAN = "GUARDIAN"
    """A license that names the person as its holder's parent (``guardian_of_holder``: a 出生医学证明, to the mother),
    for good, as co-subjects are; or, on a record naming no license (``GUARDIANS_CALLS``), a consent the person
    granted as a minor holder's guardian (its withdrawal too, whoever of them made it), or a listing of the child's
    licenses made for them as its guardian; or the person's refused grant as a parent of the holder of a license
    that does not name them (``PARENTS_REFUSED_GRANTS``: a child's 居民身份证). It says how the record concerns the
    person, not that they made the call: a consent's granter is ``GrantedBy``'s."""


def relation_of(person: str, entry: AuditEntry, license: License | None, license_type: LicenseType | None) -> Relation:
    """How ``person`` (a holder code as kept: trimmed, upper case), whose log lists ``entry``, relates to it: its
    holder, else one of the co-subjects it names, a guardian when ``license`` (the version the record names, as
    stored) names them in a ``guardian_of_holder`` field, or, for a record naming no license, when it is of a call
    that names a co-subject only as the holder's guardian (``GUARDIANS_CALLS``), or when it is a parent's refused
    grant (``PARENTS_REFUSED_GRANTS``) the person is on though the license does not state them: the parent who tried,
    a parent of its holder (had been CO_SUBJECT, which a portal says 载明您信息的居民身份证 of a child's card that
    states nothing of them; review holder, R3). A license not stored, or of a type the catalog no longer has, tells
    no guardian. A record whose holder code is the person's but whose license is not theirs by the code (``holds``)
    and names them (a 出生医学证明 stored under 其他 with the mother's number) is theirs as its co-subject or guardian;
    as it names its holder to an issuer asking for the code otherwise."""
    theirs = license is None or holds(person, license) or person not in entry.subjects
    if entry.holder_code.strip().upper() == person and theirs:
        return Relation.HOLDER
    if not entry.license_id:
        return Relation.GUARDIAN if entry.action in GUARDIANS_CALLS else Relation.CO_SUBJECT
    if license is not None and license_type is not None and person in guardians_of(license, license_type):
        return Relation.GUARDIAN
    if (
        entry.action is AuditAction.GRANT_CONSENT
        and entry.reason in PARENTS_REFUSED_GRANTS
        and license is not None
        and license_type is not None
        and person not in subjects_of(license, license_type)
    ):
        return Relation.GUARDIAN  # the parent who tried, whom the license does not state (review holder, R3)
    return Relation.CO_SUBJECT


class GrantedBy(enum.StrEnum):
    """Who granted the consent a ``CONSENT_CALLS`` record names, to the person whose access log lists it
    (``AccessRecord.consent_granted_by`` in the API): a yes or no about the person, nothing about anyone else."""

    PERSON = "PERSON"
    """The person did: their own consent, or one they granted as the holder's guardian (theirs to withdraw)."""
    OTHER = "OTHER"
    """Someone else did: the holder (to a co-subject, a parent of a grown child), or the other parent."""


def consent_of(entry: AuditEntry) -> str:
    """The consent a ``CONSENT_CALLS`` record names (its ``reason``, ``consent=ID``, a withdrawal's with `` by=HOLDER``
    or `` by=GUARDIAN`` after); empty for another record, or a grant refused (whose reason is the refusal's)."""
    if entry.action not in CONSENT_CALLS or not entry.reason.startswith("consent="):
        return ""
    return entry.reason.removeprefix("consent=").split(" ", 1)[0]


def granted_by(person: str, holder_code: str, guardian_code: str) -> GrantedBy:
    """Whether ``person`` granted the consent of ``holder_code`` that ``guardian_code`` granted as a guardian (empty:
    the holder did): a mother is told that the father's consent for their child is not hers, which she cannot
    withdraw (``CONSENT_NOT_FOUND``), where it had read exactly as her own (found in review)."""
    return GrantedBy.PERSON if person == (guardian_code or holder_code) else GrantedBy.OTHER


def type_code_of(license_id: str) -> str:
    """The license type an identifier names (GB/T 36904: its part after the root); empty for none, or one that
    does not check."""
    try:
        return LicenseId.parse(license_id).type_code
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRecord:
    seq: int
    entry: AuditEntry
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A signed statement that record ``seq`` had ``hash``."""

    seq: int
    hash: bytes
    signature: bytes
    algorithm: str
    key_id: str
    at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainCheck:
    ok: bool
    records: int
    """How many records were checked."""
    checkpoints: int
    """How many checkpoints were checked."""
    first_broken: int | None = None
    """The number of the first record (or checkpoint) that does not fit, None when the chain is whole."""
    last_broken: int | None = None
    """With ``first_broken``, the last number of the records missing (GAP, TRUNCATED) or not vouched for
    (UNVOUCHED_RECORDS); None for the other reasons."""
    reason: str = ""
    """HASH_MISMATCH, PREV_MISMATCH, GAP, CHECKPOINT_MISMATCH, CHECKPOINT_MISSING, CHECKPOINT_SIGNATURE_INVALID;
    for the chain's end (the head memo): TRUNCATED, HEAD_MISMATCH, UNVOUCHED_RECORDS, HEAD_MEMO_MISSING,
    HEAD_MEMO_INVALID, HEAD_NOT_YET_VOUCHED; TRAIL_DELETED (no record, no memo, in a store with receipts);
    SUBJECTS_AHEAD (a co-subject row past the newest record); for the
    chain's start: START_MEMO_MISSING, START_NOT_YET_VOUCHED, START_MEMO_INVALID, DELETED_FROM_START, START_MISMATCH;
    or empty. One of the end's reasons is also that of an ``AUDIT_BREAK`` record, reported for good."""
    recorded: bool = False
    """The break reported is one an append recorded (an ``AUDIT_BREAK`` record), and nothing else is wrong: it is
    reported until its record is pruned, and ``prune`` goes on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadMemo:
    """The store's note of the chain's newest record as the gateway last appended it (one row, ``audit_head``)."""

    seq: int
    hash: bytes
    memo: bytes
    """The HMAC of ``seq`` and ``hash`` (``HeadMemos.head``); empty in the row an upgrade leaves until the first
    append."""


class HeadMemos:
    """The gateway's HMAC-SHA-256 of the audit chain's head, under the key store's memo secret (the secret of
    ``signing.record.SealMemos``, with a message prefix of its own), which the database does not hold: whoever
    can write the database cannot move the head memo back to the shortened chain's end."""

    def __init__(self, secret: bytes):
        if len(secret) < 32:
            raise ValueError("a memo secret has at least 32 bytes")
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def head(self, seq: int, digest: bytes) -> HeadMemo:
        """The memo naming record ``seq`` of hash ``digest`` the chain's newest."""
        mac = self._keyed.copy()
        mac.update(_HEAD_PREFIX + str(seq).encode() + b"\n" + digest)
        return HeadMemo(seq=seq, hash=digest, memo=mac.digest())

    def vouches(self, memo: HeadMemo) -> bool:
        """Whether ``memo`` is this gateway's (an empty memo never is)."""
        return bool(memo.memo) and hmac.compare_digest(memo.memo, self.head(memo.seq, memo.hash).memo)

    def start(self, seq: int, digest: bytes) -> HeadMemo:
        """The memo naming the signed checkpoint ``seq`` (of hash ``digest``) the point the chain was last pruned
        through: its records start after it. Written by ``zzgw audit prune`` alone (a message prefix of its own:
        a head memo cannot stand for it), it tells a prune from records deleted from the chain's start."""
        mac = self._keyed.copy()
        mac.update(_START_PREFIX + str(seq).encode() + b"\n" + digest)
        return HeadMemo(seq=seq, hash=digest, memo=mac.digest())

    def vouches_start(self, memo: HeadMemo) -> bool:
        return bool(memo.memo) and hmac.compare_digest(memo.memo, self.start(memo.seq, memo.hash).memo)


def record_hash(prev_hash: bytes, seq: int, entry: AuditEntry) -> bytes:
    # trusted: the mapping is built above from typed fields (ASCII keys, strings, an integer, a list of strings)
    return hashlib.sha256(_PREFIX + prev_hash + canonical_json(entry.mapping(seq), trusted=True)).digest()


SEQ_BEYOND = 2**62
"""Records numbered from here up are past any number a chain reaches (a million records a second for 146,000 years):
one found after the chain's end was planted where no record could be numbered after it (2^63 - 1, the largest a
store keeps). An append keeps clear of such records instead of chaining after them, and records them as added
(``UNVOUCHED_RECORDS``, ``AuditTrail.append``)."""


def break_entry(at: dt.datetime, first: int, reason: str, last: int | None) -> AuditEntry:
    """The ``AUDIT_BREAK`` record of a chain's end found not vouched for: ``reason`` for records ``first`` to
    ``last`` (None: not known)."""
    return AuditEntry(
        at=at,
        caller="",
        operator="",
        action=AuditAction.AUDIT_BREAK,
        matter_code="",
        purpose=f"{first}-{last or 0}",
        decision="BROKEN",
        reason=reason,
    )


def noted_break(record: AccessRecord) -> tuple[int, str, int | None]:
    """(first number, reason, last number) of an ``AUDIT_BREAK`` record (its own number when its range is not one:
    such a record was not the gateway's, and it is reported all the same)."""
    first, _, last = record.entry.purpose.partition("-")
    try:
        return int(first), record.entry.reason or "AUDIT_BREAK", int(last) or None
    except ValueError:
        return record.seq, record.entry.reason or "AUDIT_BREAK", None


def chain(prev_seq: int, prev_hash: bytes, entries: Iterable[AuditEntry]) -> list[AccessRecord]:
    """Number and chain ``entries`` after record ``prev_seq`` whose hash is ``prev_hash``."""
    records = []
    for entry in entries:
        prev_seq += 1
        digest = record_hash(prev_hash, prev_seq, entry)
        records.append(AccessRecord(seq=prev_seq, entry=entry, prev_hash=prev_hash, hash=digest))
        prev_hash = digest
    return records


def checkpoint_bytes(seq: int, digest: bytes) -> bytes:
    """What a checkpoint signs."""
    return _PREFIX + b"checkpoint\n" + str(seq).encode() + b"\n" + digest.hex().encode()


class ChainChecker:
    """Checks records in order, page by page: ``feed`` them, then ``result``."""

    def __init__(self, start_seq: int = 0, start_hash: bytes = GENESIS):
        self._seq = start_seq
        self._hash = start_hash
        self._records = 0
        self._hashes: dict[int, bytes] = {start_seq: start_hash}
        self.broken: tuple[int, str] | None = None
        self.missing_through: int | None = None
        """For a GAP, the last number missing (the record after it is numbered one more)."""
        self.noted: tuple[int, str, int | None] | None = None
        """The first ``AUDIT_BREAK`` record's break (``noted_break``): the gateway found the end it chained after
        not vouched for."""
        self.excused: list[tuple[int, int]] = []
        """The numbers (first, last) of records added after the chain's end that an ``AUDIT_BREAK`` right after them
        names (``UNVOUCHED_RECORDS``): not the gateway's, their links and any numbers missing among them are that
        recorded break, not a ``GAP`` or ``PREV_MISMATCH`` of their own (``_excuses``)."""
        self._pending: tuple[int, str, int | None, int] | None = None
        """A break found (number, reason, last number missing) and the number of the record it was found at, held
        until an ``AUDIT_BREAK`` of records added names that record (``_excuses``) or the records end (``finish``)."""
        self._read: tuple[int, bytes] = (start_seq, start_hash)
        """The number and stored hash of the record read last."""
        self.added: list[tuple[int, int]] = []
        """The numbers (first, last) of the records added after the chain's end that its ``AUDIT_BREAK`` records name
        (``UNVOUCHED_RECORDS``): records past ``SEQ_BEYOND`` stay past the end, recorded (``covers_added``)."""

    def feed(self, records: Iterable[AccessRecord], wanted: Mapping[int, object] = {}) -> None:
        """Check the next records; keep the hashes of the numbers in ``wanted`` (the checkpoints)."""
        for record in records:
            if self.broken is not None:
                return
            self._records += 1
            if self._pending is not None and not self._excuses(record):
                if record.seq in wanted:
                    self._hashes[record.seq] = record.hash
                self._read = (record.seq, record.hash)
                continue
            if self._pending is not None:  # the records since the break found are the ones this one names
                found_at = self._pending[3]
                first, _, last = noted_break(record)
                self.excused.append((self._seq + 1, record.seq - 1))
                self.noted = self.noted or (first if first <= self._seq else found_at, "UNVOUCHED_RECORDS", last)
                self._pending = None
                self._seq, self._hash = record.seq - 1, record.prev_hash  # and on from this record, checked below
            if record.seq != self._seq + 1:
                self._pending = (
                    self._seq + 1,
                    "GAP",
                    record.seq - 1 if record.seq > self._seq + 1 else None,
                    record.seq,
                )
            elif record.prev_hash != self._hash:
                self._pending = (record.seq, "PREV_MISMATCH", None, record.seq)
            elif record_hash(record.prev_hash, record.seq, record.entry) != record.hash:
                self._pending = (record.seq, "HASH_MISMATCH", None, record.seq)
            else:
                self._seq, self._hash = record.seq, record.hash
                if record.entry.action is AuditAction.AUDIT_BREAK:
                    noted = noted_break(record)
                    self.noted = self.noted or noted
                    if noted[1] == "UNVOUCHED_RECORDS" and noted[2] is not None:
                        self.added.append((noted[0], noted[2]))
                if record.seq in wanted:
                    self._hashes[record.seq] = record.hash
            if self._pending is not None and record.seq in wanted:
                self._hashes[record.seq] = record.hash
            self._read = (record.seq, record.hash)

    def _excuses(self, record: AccessRecord) -> bool:
        """Whether ``record``, read after a break was found (``_pending``), is the gateway's ``AUDIT_BREAK`` of the
        records since: of records added after the end (``UNVOUCHED_RECORDS``) from a number no later than the first
        of them, through the record before it, to whose stored hash it is chained, and it hashes. The gateway wrote it
        chained after records added past its end, whatever their links and numbers: one record planted 1,000 past the
        end had been reported as 999 records deleted (``GAP``) once the gateway had recorded it (a reviewer, audit R2).
        Records deleted or changed before the first it names are no such records, and stay reported."""
        if record.entry.action is not AuditAction.AUDIT_BREAK:
            return False
        first, reason, last = noted_break(record)
        return (
            reason == "UNVOUCHED_RECORDS"
            and last is not None
            and record.seq == last + 1
            and first <= self._seq + 1
            and record.prev_hash == self._read[1]
            and record_hash(record.prev_hash, record.seq, record.entry) == record.hash
        )

    def finish(self) -> None:
        """After the last record: a break found and named by no ``AUDIT_BREAK`` after it is the chain's break."""
        if self._pending is not None and self.broken is None:
            seq, reason, through, _ = self._pending
            self.broken = (seq, reason)
            self.missing_through = through
            self._pending = None

    def excused_at(self, seq: int) -> bool:
        """Whether number ``seq`` is among records added after the end that a recorded break names (``excused``)."""
        return any(first <= seq <= last for first, last in self.excused)

    def covers_added(self, first: int, last: int) -> bool:
        """Whether one ``AUDIT_BREAK`` record read names records ``first`` to ``last`` added after the end."""
        return any(said_first <= first and last <= said_last for said_first, said_last in self.added)

    def hash_of(self, seq: int) -> bytes | None:
        """The hash of record ``seq`` if it was in ``wanted`` (or is the record the check started after)."""
        return self._hashes.get(seq)

    @property
    def records(self) -> int:
        return self._records

    @property
    def last_seq(self) -> int:
        return self._seq
