"""Verification (核验): is a license genuine, issued by whom it says, and current? With a signed receipt.

A report has three findings, each PASSED / FAILED / INDETERMINATE with a reason code:

- **integrity**: the record seal verifies over the stored record (``VerifyLicense`` by identifier or number), the
  code's signature verifies (by ``qr_code``), or the PDF's seal verifies and nothing was changed after sealing
  (``VerifyDocument``);
- **status**: the license named is ACTIVE and within its validity today (``gateway.domain.verification``);
- **issuer identity**: the seal's certificate chains to the seal-maker CA, was valid and not revoked when it sealed,
  it belongs to the license's issuer, and that issuer is authoritative for the type (一数一源).

The verdict is PASSED when all three passed, FAILED when one failed (the reason is the first failing finding's, in
the order integrity, status, identity), INDETERMINATE otherwise. Every answer carries a receipt: the report as
canonical JSON signed by the gateway's receipt key — one signature over a Merkle tree of the receipts committed
together (ADR 0004) — made, signed and stored with its access record by the group commit before the answer is sent
(``GroupWriter``; on PostgreSQL made and signed by a thread of its own while the writer waits on the database), and
checkable offline with the receipt certificate and the receipt's proof (``signing.receipts.check_receipt``).

An access record names the co-subjects of the license it is about (people other than the holder whose 公民身份号码
the license states, ``gateway.domain.audit.subjects_of``), as the sharing records do, so that their access logs list
every verification of it (by identifier, number or code, its document or a stamp on it, a claim that found it, a
case's listing of its receipt) and every refusal naming it. They are found once, when the license is read and
checked, and kept with the check (``_Checked.subjects``) and the day's outcome; a license of a type with no such field
has none, and its verifications write nothing more; nor does a record whose seal fails (what it states is not the
license's: an edit must not put a stranger's code on it).

**Caches** hold what is expensive and changes rarely, and every one of them is dropped by the change feed
(``gateway.store.changes``) when what it holds changes in any process:

- checked licenses by identifier (the store's row — its status, never past a change — with its integrity,
  status-memo and issuer-identity findings), used by ``VerifyLicense`` by identifier and by QR code and by the
  documents that name a license, and for ``VerifyLicense`` by identifier the day's ``Outcome`` (the status is
  found per day, from the check's one reading of the clock; the day's first check makes the outcome, with its part
  of the receipt statement already encoded, and the day's later checks reuse it); dropped with the license, and all
  of them when any seal changes. A SUPERSEDED version's outcome names the version in force and its status, and is
  kept only while the cached checks of the versions after it are those it was made from (each check knows its
  successor, found once: a cache lookup per later version, for superseded versions only): a revocation or amendment
  of the newer version makes a new check of it, and shows at the next check of the old;
- record signatures that verified, by the digest of the record, key and signature (a record read from the store
  — by number always, by identifier when not cached — is encoded and hashed again, so a record changed in the
  store behind the gateway's back is caught when it is read);
- seals by key id, with their parsed certificate and the chain check (``signing.checks.chain_identity``);
- the seal-maker CA's CRLs, rebuilt when a seal is registered or revoked, and by time: once the gateway's clock
  comes within ``CRL_RENEWAL`` of the earliest nextUpdate among them (a day after they were made,
  ``gateway.services.seals.CRL_VALIDITY``). They had been kept until a seal changed, so a gateway up for more than a
  day with no seal change judged with a CRL past its nextUpdate: every sharing copy INDETERMINATE, every SM2 stamp
  and every receipt made since unconfirmed (CRL_STALE; a reviewer, R1).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from cachetools import LRUCache
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway import metrics
from gateway.config import LICENSE_CACHE_SIZE  # the default of the licenses checked kept per process
from gateway.domain.audit import AuditAction, AuditEntry, license_subjects, may_have_subjects
from gateway.domain.catalog import (
    Catalog,
    LicenseType,
    Matter,
    Sensitivity,
    SharingClass,
    ValueType,
    unknown_type_words,
)
from gateway.domain.errors import (
    ConflictError,
    FieldViolation,
    InvalidRequestError,
    NotFoundError,
    ResourceExhaustedError,
    UpstreamUnavailableError,
    invalid,
)
from gateway.domain.identifiers import (
    FORMAT_CHARACTERS,
    MAX_VERSION,
    LicenseId,
    find_by_number,
    license_id_violation,
    normal_number,
    scanned_code,
    typed_license_id,
    unseen_characters,
    uscc_problem,
)
from gateway.domain.model import CHINA_TZ, Clock, Holder, License, LicenseStatus, Member, Role
from gateway.domain.paging import Listing, PageTokens
from gateway.domain.pdf_refusals import pdf_refusal
from gateway.domain.seals import DocumentSource, Seal
from gateway.domain.validation import FIELD_LABELS, checked_claimed_holder_code, claimed_value_problem
from gateway.domain.verification import (
    HOLDER_NAME,
    NOT_FOUND,
    ClaimAnswer,
    ClaimResult,
    Elsewhere,
    MatterNotHandledError,
    UseContext,
    advice,
    answer_claim,
    authority_finding,
    callers_own_region,
    check_type_used,
    claim_form,
    claim_query,
    claimed_value_form,
    claimed_value_refusal,
    claims_key,
    elsewhere_words,
    is_elsewhere,
    issuer_authority_finding,
    names_the_issuer,
    new_receipt_ids,
    no_such_receipt,
    operator_violation,
    own_region_words,
    status_finding,
    status_since,
    typed_receipt_id,
)
from gateway.services.audit import AuditTrail, UseTarget
from gateway.services.documents import vouched
from gateway.services.members import issuer_elsewhere
from gateway.services.receipt_certificates import ReceiptCertificates
from gateway.services.seals import MAX_STAMPED_BYTES, SealService, sm2_unavailable
from gateway.store.changes import ChangeFeed
from gateway.store.database import AppendWork, Database, StoreTimeout
from gateway.store.group_writer import GroupWriter, may_have_landed
from gateway.store.repositories import CasePlace, StoredReceipt
from signing.canonical import canonical_fragment, canonical_json
from signing.checks import async_chain_identity, check_qr_seal, identity_at, identity_finding_at, record_integrity
from signing.keys import SM2_SM3, KeyBackend, key_id_of
from signing.pdf import (
    NoSignature,
    PdfError,
    PdfVerification,
    UnreadableSignature,
    is_padded_copy,
    validate_sync,
    without_padding,
)
from signing.qr import QrClaims, read_pasted, states
from signing.receipts import (
    RECEIPT_SEAL_NAME,
    UNREADABLE_CERTIFICATE,
    ReceiptCheck,
    SignedReceipt,
    check_receipt_offline,
    receipt_certificate,
    sign_receipts,
    signable,
)
from signing.record import SealMemos
from signing.results import CLOCK_SKEW, MAX_DETAIL, PASSED, CheckResult, Finding, SealCheck
from signing.seal_ca import IdentityFinding
from signing.ses import SesVerification, check_stamp
from signing.sm2 import Sm2Unavailable
from signing.sm2_x509 import public_key_der

log = logging.getLogger("zzgw.verification")
MAX_CLAIM_FIELDS = 50
MAX_WRONG_CLAIMS = 5
"""Wrong claims (7, 信息有误) one department may make about one license in ``WRONG_CLAIMS_HOURS``; the next is refused
(``VerificationService._count_claim``)."""
WRONG_CLAIMS_HOURS = 24
SEAL_CACHE_SIZE = 10_000
CRL_RENEWAL = dt.timedelta(hours=1)
"""How long before the earliest nextUpdate of the cached CRLs they are made anew (``VerificationService._crls_now``)."""
VERIFIED_CACHE_SIZE = 500_000
MAX_LICENSE_ID = 120
"""An identifier's version is three digits: no supersession chain is longer (one that loops, edited in the store,
ends here)."""
_GATEWAY_FIELD_PREFIX = "zzgw-"
"""How the gateway names the fields of the seals it makes (``SealService.seal_document``: ``zzgw-<seal_id>-…``) and
of a sharing copy's use stamp: only a signature so named after a document's seal is validated to see whether it is
one of them (``VerificationService._after_the_seal``)."""
_USE_STAMP_PREFIX = "zzgw-use-"
"""How the gateway names the field of a sharing copy's use stamp (``gateway.services.sharing.UseStamper``)."""
MAX_LATER_SIGNATURES = 4
"""The invisible signatures made after a document's seal whose certificates are judged (``_impostors``), and the
visible ones that may be the gateway's own seals that are validated (``_after_the_seal``): more are not vouched for
unjudged. Each is a full validation of the PDF, seconds of CPU for a large one."""


class VerifiedSignatures(MutableMapping[bytes, bool]):
    """``record_integrity``'s record seals that verified (``VerificationService._verified``), shared by every handler
    thread: a least-recently-used cache of ``maxsize`` entries. cachetools' caches are not thread-safe: once full, two
    threads evicting at once picked the same least recently used key and one raised ``KeyError`` (or
    ``RuntimeError``) out of ``record_integrity``, answered INTERNAL, and the size count drifted from the length
    (found in review). It holds the cache rather than being one, so that every way in (``get``, ``pop``, ``clear``
    too, which a subclass had inherited unlocked: a reviewer) takes the lock, held for a dictionary operation or two,
    never over a signature check."""

    def __init__(self, maxsize: int) -> None:
        self._cache: LRUCache[bytes, bool] = LRUCache(maxsize)
        self._lock = threading.Lock()

    @property
    def maxsize(self) -> int:
        return int(self._cache.maxsize)

    @property
    def currsize(self) -> int:
        with self._lock:
            return int(self._cache.currsize)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._cache

    def __getitem__(self, key: bytes) -> bool:
        with self._lock:
            return self._cache[key]

    def get(self, key: bytes, default: Any = None) -> Any:
        with self._lock:
            return self._cache.get(key, default)

    def __setitem__(self, key: bytes, value: bool) -> None:
        with self._lock:
            self._cache[key] = value

    def __delitem__(self, key: bytes) -> None:
        with self._lock:
            del self._cache[key]

    def pop(self, key: bytes, *default: Any) -> Any:
        with self._lock:
            return self._cache.pop(key, *default)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            return iter(list(self._cache))

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""What no looked-up code or number holds: control characters, C0 and C1 (NUL, which PostgreSQL text cannot hold; a
tab), and lone surrogates (a console request's JSON may carry one; no UTF-8 encodes it)."""
# a finding's detail is read by clerks and signed into receipts: Chinese first, its English in full-width brackets
# (the console tells a changed sealing time by its English: "sealing time may have been changed")
_NOT_REGISTERED = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_A_REGISTERED_LICENSE",
    detail="该文件不是登记库中的电子证照文件，也不是其后追加了内容的证照文件：其印章真伪另行判断，内容无法确认"
    "（the document is not a license document of the registry (nor one with updates after it): its seal is "
    "genuine or not, its content unknown）",
)
_UNKNOWN_SEAL_KEY = Finding(
    result=CheckResult.FAILED, reason="UNKNOWN_SEAL_KEY", detail="没有使用此密钥的印章（no seal has this key）"
)
_SEALED_ELSEWHERE = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_IN_THIS_REGISTRY",
    detail="本网关没有使用此密钥的印章：核验码所指的发证机构可能属于其他地区的登记库，其印章由该地区保存"
    "（no seal of this gateway has this key: the code names an issuer that may be of another registry, whose region "
    "holds its seal）",
)
_HELD_ELSEWHERE = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_IN_THIS_REGISTRY",
    detail="此证照不在本登记库，其发证机构可能属于其他地区的登记库，证照记录的印章在该地区核验"
    "（the license is not held here, and its issuer may be of another registry: its record seal is checked there）",
)
_NOT_CHECKED = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="没有可对照核验的证照（no license to check it against）",
)
_NOT_GENUINE = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="核验码不是真实签发的，未核验它所指的任何内容"
    "（the code is not a genuine one: nothing it names was checked）",
)
_UNREAD_CODE = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="核验码无法读取，未核验它所指的任何内容；这不说明证照是伪造的：请重新扫描，仍无法识别时请按证照编号核验"
    "（the code could not be read, perhaps cut short or misread by the scanner: nothing it names was checked, and "
    "this does not say the license is forged: scan it again, or verify by the license number）",
)
"""The status and issuer of a code that cannot be read (``_UNREADABLE_QR``'s reasons): a scanner's slip, not a
forgery, which only a code that reads and fails its signature is (``_NOT_GENUINE``; a journeys tester)."""
_STATUS_ALTERED = Finding(
    result=CheckResult.FAILED,
    reason="STATUS_ALTERED",
    detail="登记库中的证照状态或记录的签章时间与网关所存不符，已在网关之外被改动"
    "（the stored status or the record's sealing time is not what the gateway stored: changed behind its back）",
)
_REGISTRY_ALTERED = Finding(
    result=CheckResult.FAILED,
    reason="REGISTRY_ALTERED",
    detail="登记库中该文件属于哪张证照的记录已在网关之外被改动"
    "（the registry's record of this document (which license it is) was changed behind the gateway's back）",
)
_LICENSE_GONE = Finding(
    result=CheckResult.FAILED,
    reason="REGISTRY_ALTERED",
    detail="登记库中有此文件，却没有它的证照：证照已在网关之外被删除"
    "（the registry holds this document but not its license: removed behind the gateway's back）",
)
_CODE_LICENSE_GONE = Finding(
    result=CheckResult.FAILED,
    reason="REGISTRY_ALTERED",
    detail="核验码是真实的，但登记库中没有它所指的证照：证照已在网关之外被删除，或登记库恢复到了签发之前的备份"
    "（the code is genuine but the registry does not hold the license it names: removed behind the gateway's "
    "back, or the store restored from before it was issued）",
)
_UNREGISTERED_LINK = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="无法确认该文件是哪张证照，未查看任何证照"
    "（which license the document is cannot be trusted: no license was looked at）",
)
_STATUS_UNKNOWN = Finding(
    result=CheckResult.INDETERMINATE,
    reason="STATUS_ALTERED",
    detail="登记库中的证照状态或签章时间已在网关之外被改动，真实状态不明"
    "（the stored status or sealing time was changed behind the gateway's back: the real status is unknown）",
)
_RECORD_UNVOUCHED = Finding(
    result=CheckResult.INDETERMINATE,
    reason="RECORD_ALTERED",
    detail="登记库中的证照记录已在网关之外被改动，其中的有效期和状态不是证照的"
    "（the stored record was changed behind the gateway's back: its validity and status are not the license's）",
)
_RECORD_UNREADABLE = Finding(
    result=CheckResult.FAILED,
    reason="RECORD_ALTERED",
    detail="登记库中的证照记录已在网关之外被改动，无法读取（the stored record was changed behind the gateway's back "
    "and cannot be read）",
)
_SEAL_FAILED = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="证照记录的印章核验未通过，未判断印章是否可信（the record fails its seal: the seal's trust was not judged）",
)
_TIME_UNVOUCHED = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="登记库中记录的签章时间可能已在网关之外被改动，未判断印章在该时间是否可信"
    "（the record's stored sealing time may have been changed behind the gateway's back: the seal's trust at "
    "that time was not judged）",
)
_UNSEALED = (
    "文件上没有印章或签名，无法证明其所示内容"
    "（the PDF carries no seal or signature: nothing vouches for what it shows）"
)
_NOT_SEALED = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="文件上没有印章，未查看它可能所指的证照"
    "（the document carries no seal: the license it may name was not looked at）",
)
_NOT_INTACT = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="文件的签章未通过完整性核验，未查看它所指的证照"
    "（the document is not intact: the license it names was not looked at）",
)
_UNREADABLE_QR = {
    "TOO_LARGE": "内容过长，不是证照核验码（longer than any verification code）",
    "NOT_ZZ1": "不是证照核验码，核验码以ZZ1:开头（not a ZZ1: verification code）",
    "MALFORMED": "核验码不完整或无法读取，可能扫描时漏读或截断了字符，请重新扫描"
    "（not a readable ZZ1: code, perhaps characters were dropped or cut off when it was scanned: scan it again）",
}
_UNREADABLE_SIGNATURE = "文件的签章无法读取，不能证明任何内容"
"""Said first of a PDF whose seal cannot be read (``signing.pdf.UnreadableSignature``), before its English."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptKey:
    """The gateway's receipt-signing key and its certificate from the seal-maker CA."""

    key: KeyBackend
    certificate: x509.Certificate
    certificate_der: bytes


def receipt_certificate_ended(end: dt.datetime) -> UpstreamUnavailableError:
    """UNAVAILABLE / ``RECEIPT_CERTIFICATE_ENDED``: this process's receipt certificate ended at ``end``, and a receipt
    issued after it checks CERT_EXPIRED for every checker, the gateway's own console too. ``zzgw serve`` refuses to
    start with an ended one, but a process started before the end had gone on signing such receipts (a receipts
    reviewer, R4). Retried at a process with the renewed certificate, it is answered."""
    return UpstreamUnavailableError(
        f"本网关实例的回执专用章证书已于北京时间{end.astimezone(CHINA_TZ):%Y-%m-%d %H:%M:%S}到期，不再签发核验回执，"
        "请改由其他网关实例办理或稍后重试"
        f"（this gateway process's receipt certificate ended on {end.isoformat()}: a receipt signed under it would "
        "check CERT_EXPIRED; retry at another gateway process, or once the operator has renewed it with `zzgw init` "
        "and restarted this one）",
        reason="RECEIPT_CERTIFICATE_ENDED",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Current:
    """The version in force of a SUPERSEDED license version: the end of its supersession chain (变更 after 变更). A
    paper printed before an amendment, or a 一件事 receipt of the earlier version, names the old version; the clerk
    and the later department need to know whether the license itself is fine now, not only that this version was
    replaced (found by a tester of 企业开办: a routine 变更 of the 法定代表人 defeated 接办免收)."""

    license_id: str
    status: LicenseStatus | None
    """Its status on the day of the check; None when its record or its stored status is not the gateway's."""
    standing: Finding
    """Its first finding (record, status, issuer identity) that did not pass, else PASSED."""
    since: dt.date | None = None
    """The day its status began (``status_since``): None while ACTIVE, or when ``status`` is None."""

    @property
    def words(self) -> str:
        """Its standing for a clerk, as the status finding of the superseded version says it: 目前有效,
        目前已吊销或撤销, 目前尚未生效, …"""
        return _standing_now(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Standing:
    """A license's standing now, beside a case's receipt of it (``standing_now``). A version SUPERSEDED since the
    receipt stands as its current version does, said as amended since: PASSED with reason ``AMENDED_SINCE`` while
    that version passes (a ``Finding`` that passed has no reason, so this is a type of its own), else that version's
    failure. One SUPERSEDED before the receipt stands as itself: FAILED / SUPERSEDED."""

    result: CheckResult
    reason: str
    detail: str
    current_license_id: str = ""
    """The version in force when this one was superseded since the receipt; empty otherwise (one superseded before
    it names that version in its detail, as the verification's status finding does)."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Outcome:
    """What a verification found, apart from when, for whom and under which receipt. ``VerifyLicense`` by identifier
    finds the same on every check of a license on one day, so that outcome is made on the day's first check and
    kept with the license until it or its seal changes (``kept``), and with it what the API layer encoded of it."""

    verdict: CheckResult
    reason: str | None
    integrity: Finding
    status: Finding
    issuer_identity: Finding
    license: License | None
    license_status: LicenseStatus | None
    """The license's status on the day of the check, as the receipt states it."""
    status_since: dt.date | None
    """The day that status began (``gateway.domain.verification.status_since``); None while ACTIVE."""
    record_vouched: bool = True
    """Whether the license's record passed its seal check: when not (``RECORD_ALTERED``), nothing of it beyond its
    identifier (type, issuer, version) is stated — not its validity, status or holder, which may be the edit's."""
    current: Current | None = None
    """For a SUPERSEDED version, the version in force now (``VerificationService._current``); else None."""
    subjects: tuple[str, ...] = ()
    """The license's co-subjects (``_Checked.subjects``), named by the access record of every answer about it."""
    statement: Mapping[str, object]
    """The outcome's part of the receipt statement (kind, verdict, reason, findings, license summary), its nested
    values already canonical JSON (``canonical_fragment``)."""
    kept: bool = False
    encodings: dict[str, object] = dataclasses.field(default_factory=dict)
    """What the layers above keep with a kept outcome, by name: the API layer's encoding of the reply's part."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    outcome: Outcome
    checked_at: dt.datetime
    receipt: StoredReceipt


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoReport:
    stored: int
    """Licenses given their memo."""
    failed: tuple[str, ...]
    """Licenses whose seal did not verify: no memo."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimReport:
    answer: ClaimAnswer
    checked_at: dt.datetime
    receipt: StoredReceipt
    claim_key: bytes
    """The key of the receipt's digests of the claim, for the claimant alone (``claim_query``)."""


_Made = tuple[StoredReceipt, AuditEntry]
"""A signed receipt and its access record, ready to store."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _AfterTheSeal:
    """What is drawn on a document's pages after the seal judged (``VerificationService._after_the_seal``)."""

    drawn: Sequence[str] = ()
    """What the gateway does not vouch for: fields, signatures and annotations ("page 1: Text"); the document is
    changed (DOCUMENT_MODIFIED)."""
    unjudged: Sequence[str] = ()
    """Signatures that may be the gateway's, not validated: more than ``MAX_LATER_SIGNATURES`` of them."""
    failed: str = ""
    """The code of the check that a signature of ``drawn`` named as the gateway names its seals failed, when it was
    validated (CERT_REVOKED: a revoked seal's key after its revocation), or ""."""
    seals: Sequence[PdfVerification] = ()
    """The seals of the gateway's departments made after it, in file order (not its use stamp)."""


class _ToReceipt(NamedTuple):
    """An answer whose receipt and access record the group commit makes, signs and stores."""

    action: AuditAction
    caller: Member
    use: UseContext
    statement: Mapping[str, object]
    """The statement's part that is the answer (query, verdict, findings, …); the receipt adds who, when, why."""
    license: License | None
    decision: str
    reason: str
    at: dt.datetime
    subjects: tuple[str, ...] = ()
    """The co-subjects of ``license`` its access record names (``_Checked.subjects``): found when the license was
    checked, not by the group commit."""
    names_license: bool = True
    """Whether the receipt names ``license`` (its access record always does): not a claim of another holder's
    license, which a case's listing would have handed on to the next department."""


class Archived(enum.Enum):
    """Whether the gateway's archive holds a receipt a clerk was handed: with the same statement and signature,
    with other ones (the file is not what the gateway made, or the archive was changed), or not at all."""

    SAME = "SAME"
    DIFFERENT = "DIFFERENT"
    MISSING = "MISSING"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedParts:
    """What a receipt's signature covers and is checked with: its id, canonical statement, signature, batch proof
    (empty in the first form), algorithm, and the certificate (DER) whose key signed it."""

    receipt_id: str
    statement: bytes
    signature: bytes
    proof: bytes
    algorithm: str
    certificate: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptReview:
    """A receipt looked up by number or handed over as a file, judged as ``zzgw receipt check`` judges one with
    this gateway's published trust material (``signing.receipts.check_receipt_offline``), and held against the
    archive."""

    receipt: SignedParts
    """What was judged: the archive's receipt (by number), or the file's."""
    check: ReceiptCheck
    archived: Archived
    at: dt.datetime
    """When it was looked up (查验时间), by the gateway's clock: a printed look-up names it."""


@dataclass(frozen=True, slots=True)
class _KnownSeal:
    seal: Seal
    certificate: x509.Certificate
    public_key_der: bytes
    base: IdentityFinding


@dataclass(frozen=True, slots=True)
class _Drawing:
    """What ``VerificationService._code_made_at`` needs of a version's document row, once its memo vouched for it:
    how it was made, by which seal, when (the drawing of the code printed on it)."""

    source: DocumentSource
    seal_id: str
    created_at: dt.datetime


@dataclass(slots=True, eq=False)
class _Checked:
    """A stored license with the findings that hold until it or its seal changes (status is found per day)."""

    license: License
    integrity: Finding
    identity: Finding
    status_vouched: bool = True
    """Whether the stored status is one the gateway stored (its memo); the status finding is judged only then."""
    record_vouched: bool = True
    """Whether the record's seal holds over it (for whatever reason it does not: altered fields, a digest or key
    rewritten with them, an unknown key); nothing of a record it does not vouch for is stated as the license's."""
    subjects: tuple[str, ...] = ()
    """The license's co-subjects (``gateway.domain.audit.subjects_of``: a 结婚证's wife where the husband holds it),
    found once with the check, as its holder is read from the record as stored: the access record of every
    verification of it names them, so their access logs list it. Most licenses have none (a type without such a
    field is not looked into: ``VerificationService._subjects``). None from a record whose seal fails: what such a
    record states is not the license's, and a stranger's code put there must not put this license on their log."""
    successor_id: str = ""
    """For a SUPERSEDED version whose record and status the gateway vouches for, the identifier of the version that
    superseded it when an amendment made that link (``superseded_by`` is the next identifier, ``next_version``);
    empty otherwise. Found once, with the check: following the chain is then a cache lookup per version."""
    today: tuple[dt.date, tuple[_Checked, ...] | None, Outcome] | None = None
    """The outcome on the latest day it was checked, with the checks of the versions after it it was made from (a
    superseded version's outcome states the version in force's status, which changes without this one changing: it
    is kept for as long as those checks are the cached ones, which a change of any of them replaces); replaced
    whole, so read without a lock."""
    drawing: _Drawing | None = None
    """The version's document row as the gateway stored it (``_code_made_at``), once read and vouched for by its memo;
    None until then (a batch-issued license's, until its document is drawn, is read again each time). The gateway
    writes a version's row once and never changes a vouched one, so it is kept with the check, and dropped with it
    (a change of the license or of any seal, in any process: the change feed); set whole, read without a lock."""


def verdict(integrity: Finding, status: Finding, identity: Finding) -> tuple[CheckResult, str | None]:
    """FAILED if any finding failed (the first, in this order), else INDETERMINATE if any is, else PASSED."""
    for result in (CheckResult.FAILED, CheckResult.INDETERMINATE):
        for finding in (integrity, status, identity):
            if finding.result is result:
                return result, finding.reason
    return CheckResult.PASSED, None


class VerificationService:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        seals: SealService,
        receipt_key: ReceiptKey,
        clock: Clock,
        feed: ChangeFeed,
        *,
        pages: PageTokens,
        audit: AuditTrail | None = None,
        ids: Callable[[int], list[str]] = new_receipt_ids,
        memos: SealMemos | None = None,
        certificates: ReceiptCertificates | None = None,
        license_cache_size: int = LICENSE_CACHE_SIZE,
    ):
        """``memos`` checks the memos stored with licenses (``signing.record.SealMemos``): a seal with a good
        memo is not verified again after a restart. ``certificates`` are the receipt key's certificates, current and
        earlier: a stored receipt is handed out with the one that signed it. ``pages`` seals the page tokens of
        ``case_receipts`` to their listing. ``license_cache_size`` bounds the licenses checked that are kept (the
        setting of that name: each holds its whole license, about 3.6 KB)."""
        self._pages = pages
        self._memos = memos
        self._certificates = certificates
        self._db = db
        self._catalog = catalog
        self._subject_types = frozenset(
            code for code, license_type in catalog.license_types.items() if may_have_subjects(license_type)
        )
        """The license types with a field that may state a co-subject (``subjects_of``'s fields): no other type's
        license is looked into for them."""
        self._seals = seals
        self._receipt_key = receipt_key
        self._clock = clock
        self._feed = feed
        self._ids = ids
        self._lock = threading.Lock()
        self._checked: LRUCache[str, _Checked] = LRUCache(license_cache_size)
        self._known_seals: LRUCache[str, _KnownSeal] = LRUCache(SEAL_CACHE_SIZE)
        self._verified = VerifiedSignatures(VERIFIED_CACHE_SIZE)
        self._crls: _Crls | None = None
        self._audit = audit
        self._receipts: GroupWriter[_ToReceipt, _Made | Exception, StoredReceipt | Exception] = GroupWriter(
            db,
            self._store,
            name="receipts",
            retry=audit.stale_head if audit is not None else lambda _: False,
            hold=audit.hold if audit is not None else None,  # claimed once the chain lock is held (GroupWriter)
            prepare=self._make_receipts,
            pipelined=db.dialect == "postgresql",  # made while the writer waits on the network (GroupWriter)
        )
        feed.subscribe(self._forget)

    def close(self) -> None:
        self._receipts.close()

    def store_missing_memos(self, *, batch: int = 500, progress: Callable[[int], None] = lambda _: None) -> MemoReport:
        """Verify the record seal of every license stored without a memo (before migration 0012) and store its memo
        (``SealMemos``), so that a check with empty caches need not verify it again. A license whose seal does not
        verify gets none, and is reported: it fails every check as before. ``progress`` hears of each batch."""
        if self._memos is None:
            raise RuntimeError("this verification service was made without seal memos")
        stored, after = 0, ""
        failed: list[str] = []
        while True:
            with self._db.unit_of_work() as uow:
                licenses = uow.licenses.without_memo(after=after, limit=batch)
            if not licenses:
                return MemoReport(stored=stored, failed=tuple(failed))
            good = []
            for license in licenses:
                known = self._seal_by_key(license.seal.key_id)
                integrity = self._integrity(license, known, trust_memo=False) if known else _UNKNOWN_SEAL_KEY
                if integrity.result is CheckResult.PASSED:
                    good.append((license, self._memos.memo(license.seal)))
                else:
                    failed.append(license.license_id)
            with self._db.unit_of_work(write=True) as uow:
                stored += uow.licenses.set_memos(good)
                uow.commit()
            after = licenses[-1].license_id
            progress(len(licenses))

    # -- the RPCs ------------------------------------------------------------------------------------------------

    def verify_license(
        self,
        caller: Member,
        use: UseContext,
        *,
        license_id: str = "",
        type_code: str = "",
        license_number: str = "",
        qr_code: str = "",
    ) -> Report:
        """Verify by identifier, by type and number (the current version; for a number an amendment changed, the
        version that had it), or by a scanned ``ZZ1:`` code."""
        ways = [bool(license_id), bool(type_code or license_number), bool(qr_code)]
        if not any(ways):  # nothing named is a field left empty, as GetLicense says it: ONE_OF is "more than one"
            raise invalid(
                "license_id",
                "REQUIRED",
                "请填写证照标识、证照类型代码加证照编号或核验码之一"
                "（give one of license_id, type_code with license_number, qr_code）",
            )
        if sum(ways) != 1:
            raise invalid(
                "license_id",
                "ONE_OF",
                "请只填写其中一种：证照标识、证照类型代码加证照编号、核验码"
                "（give exactly one of license_id, type_code with license_number, qr_code）",
            )
        now = self._clock.now()
        if qr_code:
            return self._verify_qr(caller, use, scanned_code(qr_code), now)
        if license_id:
            license_id = typed_license_id(license_id)  # as a clerk types it: full width, 。 for '.', small letters
            # before it is looked up: whether a license exists, and its status, is what the matter may not learn
            self._used_by_matter(
                caller,
                use,
                AuditAction.VERIFY_LICENSE,
                _type_of(license_id),
                "license_id",
                UseTarget(license_id=license_id),
            )
            query: dict[str, object] = {"by": "license_id", "license_id": license_id}
            checked = self._checked_by_id(license_id)
        else:
            license_number = _claimed_number(license_number)
            if not (type_code and license_number):
                raise invalid(
                    "license_number" if type_code else "type_code",  # the half left out
                    "REQUIRED",
                    "证照类型代码与证照编号须一起填写（type_code and license_number go together）",
                )
            if type_code not in self._catalog.license_types:
                raise _unknown_type(type_code)
            target = UseTarget(type_code=type_code, license_number=license_number)
            self._used_by_matter(caller, use, AuditAction.VERIFY_LICENSE, type_code, "type_code", target)
            found = find_by_number(self._db.read_license_by_number, type_code, license_number)
            query = {"by": "license_number", "type_code": type_code}
            checked = self._check_record(found) if found is not None else None  # read afresh: never cached
        if checked is None:
            missing = self._not_found(license_id, caller) if license_id else NOT_FOUND
            unchecked = _NOT_CHECKED if missing is NOT_FOUND else _HELD_ELSEWHERE  # which decides the verdict
            return self._report(
                AuditAction.VERIFY_LICENSE, caller, use, query, unchecked, missing, _NOT_CHECKED, None, now
            )
        return self._answer(AuditAction.VERIFY_LICENSE, caller, use, query, self._outcome_today(checked, now), now)

    def verify_document(self, caller: Member, use: UseContext, pdf: bytes) -> tuple[Report, bool]:
        """Verify a PDF an applicant hands over; also says whether it is the very document the gateway stored.

        The license is the one whose registered document the PDF is, or starts with (a registered document plus
        later updates: a use stamp, validation data, a signature): the revision a signature covers must be the
        registered document byte for byte, and the latest such revision names the license (an issuer's PDF may have
        been sealed before, even be another license's document); its seal, the gateway's, is the one judged. What a
        PDF says of itself (its subject, a license number on the page) names nothing: a department can seal any PDF
        (``SealDocument``), so a seal alone does not make a license document of it (INDETERMINATE /
        NOT_A_REGISTERED_LICENSE, as for stamps)."""
        if not pdf:
            raise invalid("pdf", "REQUIRED", "请提供 PDF 文件（pdf is required）")
        now = self._clock.now()
        sha256 = hashlib.sha256(pdf).hexdigest()  # of the bytes handed over, as the receipt names them
        query = {"by": "document", "document_sha256": sha256}
        pdf = without_padding(pdf)  # what a transfer appended after the end is no part of the document
        action = AuditAction.VERIFY_DOCUMENT
        try:
            checked = self._validate_pdf(pdf, None)
        except InvalidRequestError as exc:  # a PDF without any seal, or with one that cannot be read, is a finding,
            # with its receipt, not bad input: what it carries vouches for nothing
            if isinstance(exc.__cause__, NoSignature):
                unsealed, unchecked = (
                    Finding(result=CheckResult.FAILED, reason="NO_SIGNATURE", detail=_UNSEALED),
                    _NOT_SEALED,
                )
            elif isinstance(exc.__cause__, UnreadableSignature):
                unsealed = Finding(
                    result=CheckResult.FAILED,
                    reason="SIGNATURE_INVALID",
                    detail=f"{_UNREADABLE_SIGNATURE}（{exc.__cause__}）",
                )
                unchecked = _NOT_INTACT
            else:
                raise
            return self._report(action, caller, use, query, unsealed, unchecked, unchecked, None, now), False
        stored, field = None, checked.field_name
        with self._db.unit_of_work() as uow:  # the latest registered revision: a registered document may hold
            for candidate, revision_sha256 in reversed(checked.signed_revisions):  # another's, signed before it
                if (stored := uow.documents.by_sha256(revision_sha256)) is not None:
                    field = candidate
                    break
        if stored is not None:  # the status of a license the matter does not use is not told, even of its document
            self._used_by_matter(
                caller, use, action, _type_of(stored.license_id), "pdf", UseTarget(license_id=stored.license_id)
            )
        if field != checked.field_name:  # judge the seal the gateway put on that registered document
            checked = self._validate_pdf(pdf, field)
        if checked.integrity.result is not CheckResult.PASSED:  # what a changed document names is not looked at
            report = self._report(action, caller, use, query, checked.integrity, _NOT_INTACT, _NOT_INTACT, None, now)
            return report, False
        after = self._after_the_seal(pdf, checked)
        if after.drawn or after.unjudged:  # the page is no longer the one sealed, or not known to be
            drawn = (
                _drawn_after_sealing(after.drawn, after.failed)
                if after.drawn
                else _not_judged_after_sealing(after.unjudged)
            )
            report = self._report(action, caller, use, query, drawn, _NOT_INTACT, _NOT_INTACT, None, now)
            return report, False
        # the first signature stays the one judged when a seal of the gateway's follows it: had the first further seal
        # been judged in its stead where its identity did not pass, any department's seal made a seal revoked for key
        # compromise, or a look-alike CA's, read PASSED (a reviewer, sealsafter R1)
        further = after.seals
        identity = _with_its_timestamp(checked)
        if stored is not None and not vouched(stored, self._memos):
            report = self._report(
                action, caller, use, query, _REGISTRY_ALTERED, _UNREGISTERED_LINK, identity, None, now
            )
            return report, False
        record = self._checked_by_id(stored.license_id) if stored is not None else None
        if stored is None:
            intact = _sealed_further(checked.integrity, further)
            unregistered, identity = self._sealed_elsewhere(
                identity, "UNTRUSTED_ROOT", checked.uscc, checked.subject_name, caller
            )
            if unregistered.reason == "NOT_IN_THIS_REGISTRY" and checked.uscc:  # the code the certificate gives, as
                query = {**query, "signer_uscc": checked.uscc}  # a stamp's: for the clerk to compare with the page
            report = self._report(action, caller, use, query, intact, unregistered, identity, None, now)
            return report, False
        if record is None:  # a registered document whose license is gone from the store
            report = self._report(action, caller, use, query, _LICENSE_GONE, NOT_FOUND, identity, None, now)
            return report, False
        license = record.license
        impostors = self._impostors(pdf, checked, license)  # the page is the one sealed, its signature panel not
        document = _signed_in_the_issuers_name(impostors) if impostors else _sealed_further(checked.integrity, further)
        identity = _first_failure(self._signer_identity(identity, checked.uscc, license), record.identity)
        integrity = _first_failure(document, record.integrity)  # the summary is the stored record's
        integrity = document if integrity.result is CheckResult.PASSED else integrity  # naming further seals
        report = self._report_of(action, caller, use, query, integrity, identity, record, now)
        return report, sha256 == stored.sha256 or is_padded_copy(pdf, stored.sha256)

    def _validate_pdf(self, pdf: bytes, field: str | None) -> PdfVerification:
        try:
            return validate_sync(
                pdf,
                trust_roots=self._seals.trust_roots(),
                intermediates=self._seals.intermediates(),
                crls=self._crls_now(),
                at=self._clock.now(),  # the gateway's, as every other finding and the CRLs' renewal
                tsa_trust_roots=self._seals.tsa_trust_roots(),
                field_name=field,
                identity_check=self._known_identity,
            )
        except PdfError as exc:
            raise pdf_refusal("pdf", exc) from exc

    def verify_stamp(
        self, caller: Member, use: UseContext, document: bytes, stamp: bytes
    ) -> tuple[Report, SesVerification]:
        """Verify a GB/T 38540 stamp over ``document``; the status is the license's when the document is a license
        document of the registry, else INDETERMINATE / NOT_A_REGISTERED_LICENSE. The issuer identity is judged at the
        stamp's signing time, so a signing time after now (``SIGNING_TIME_IN_FUTURE``) fails it."""
        if not document:
            raise invalid("document", "REQUIRED", "请提供签章所盖的文件（document is required）")
        if not stamp:
            raise invalid("stamp", "REQUIRED", "请提供电子签章（stamp is required）")
        if len(document) > MAX_STAMPED_BYTES:  # no stamp of this gateway covers it: it had been hashed all the same,
            # 60 MiB for 6 s on a handler thread, and a receipt signed (a reviewer, stamps R5)
            raise invalid(
                "document",
                "TOO_LARGE",
                f"文件最多{MAX_STAMPED_BYTES}字节，本网关不为更大的文件签章"
                f"（at most {MAX_STAMPED_BYTES} bytes: no stamp of this gateway covers a larger document）",
            )
        now = self._clock.now()
        if self._seals.sm2_ca is None:  # no SM2 here: neither the stamp's signature nor its seal's can be checked
            raise _stamps_unavailable("no SM2 seal maker on this process")
        try:
            checked = check_stamp(
                stamp,
                document,
                trust_roots=self._seals.trust_roots(),
                intermediates=self._seals.intermediates(),
                crls=self._crls_now(),
                at=now,
                tsa_trust_roots=self._seals.tsa_trust_roots(),  # a stamp's timestamp, as a PDF seal's
            )
        except Sm2Unavailable as exc:  # had been INTERNAL with a traceback (a reviewer)
            raise _stamps_unavailable(str(exc)) from None
        sha256 = hashlib.sha256(document).hexdigest()
        with self._db.unit_of_work() as uow:
            stored = uow.documents.by_sha256(sha256)
        if stored is not None:  # as for the document alone
            self._used_by_matter(
                caller,
                use,
                AuditAction.VERIFY_STAMP,
                _type_of(stored.license_id),
                "document",
                UseTarget(license_id=stored.license_id),
            )
        query = {"by": "stamp", "document_sha256": sha256, "stamp_sha256": hashlib.sha256(stamp).hexdigest()}
        # which seal and signer the stamp claims: two departments' stamps on one document must not read alike
        query.update({k: v for k, v in (("seal_code", checked.es_id), ("signer_uscc", checked.signer_uscc)) if v})
        # the signer states the signing time and the seal's window is judged at it: a time that has not come is a
        # false claim, which fails the identity first (a missing timestamp, INDETERMINATE, leaves a stamp PASSED)
        timestamp = checked.timestamp
        identity = timestamp if timestamp.result is CheckResult.FAILED else checked.issuer_identity
        action = AuditAction.VERIFY_STAMP
        if stored is not None and not vouched(stored, self._memos):
            report = self._report(
                action, caller, use, query, _REGISTRY_ALTERED, _UNREGISTERED_LINK, identity, None, now
            )
            return report, checked
        record = self._checked_by_id(stored.license_id) if stored is not None else None
        if stored is not None and record is None:  # a registered document whose license is gone from the store
            report = self._report(action, caller, use, query, _LICENSE_GONE, NOT_FOUND, identity, None, now)
            return report, checked
        if record is None:
            unregistered, identity = self._sealed_elsewhere(
                identity, "MAKER_UNTRUSTED_ROOT", checked.signer_uscc, checked.signer_name, caller
            )
            report = self._report(action, caller, use, query, checked.integrity, unregistered, identity, None, now)
            return report, checked
        license = record.license
        identity = _first_failure(self._signer_identity(identity, checked.signer_uscc, license), record.identity)
        integrity = _first_failure(checked.integrity, record.integrity)
        report = self._report_of(action, caller, use, query, integrity, identity, record, now)
        return report, checked

    def _after_the_seal(self, pdf: bytes, checked: PdfVerification) -> _AfterTheSeal:
        """What is drawn on the pages after the judged seal (``shown_after_sealing``, and the annotations added
        since), told apart into what the gateway does not vouch for and its own: the use stamp of a sharing copy
        (``_use_stamp``), and seals of this gateway's departments (``_further_seal``: co-sealing, 联合盖章, a
        department sealing a document or copy it received, re-stamping, all by ``SealDocument``). These had counted as
        a modification, so that each such document verified FAILED / DOCUMENT_MODIFIED, the department's own new seal
        named as the change (a reviewer, stamps R2).

        Decided cheaply first, a full validation (2–4 s of CPU for a PDF of a few MB) only where it can change the
        answer: only a signature named as the gateway names its seals (``_GATEWAY_FIELD_PREFIX``) can be one, and a
        copy carries one use stamp, so any other field, a second use stamp or any annotation is drawn without a
        validation, and the gateway's are validated only when nothing else is drawn, in file order up to the first
        that is not the gateway's, ``MAX_LATER_SIGNATURES`` at the most: more are not judged (``unjudged``). Every
        visible signature had been validated in full, up to 31 of them: a PDF of 30 took a minute of CPU a call, and
        three such calls at once had the watchdog stop the gateway, cancelling every other department's calls (a
        reviewer, stamps R1)."""
        order = {name: i for i, (name, _) in enumerate(checked.signed_revisions)}
        shown = sorted(checked.shown_after_sealing, key=lambda name: order.get(name, len(order)))
        signed = [name for name in shown if name in order and name.startswith(_GATEWAY_FIELD_PREFIX)]
        stamps = [name for name in signed if name.startswith(_USE_STAMP_PREFIX)][:1]
        ours = [name for name in signed if name in stamps or not name.startswith(_USE_STAMP_PREFIX)]
        drawn = [name for name in shown if name not in ours]
        if drawn or checked.annotated_after_sealing:
            return _AfterTheSeal(drawn=[*drawn, *checked.annotated_after_sealing])
        if len(ours) > MAX_LATER_SIGNATURES:
            return _AfterTheSeal(unjudged=ours)
        seals = []
        for name in ours:
            signature = self._later_signature(pdf, name)
            if signature is None or not (_use_stamp(signature) if name in stamps else _further_seal(signature)):
                return _AfterTheSeal(drawn=[name], failed=_failed_check(signature))
            if name not in stamps:
                seals.append(signature)
        return _AfterTheSeal(seals=seals)

    def _impostors(self, pdf: bytes, checked: PdfVerification, license: License) -> list[tuple[str, str]]:
        """(field, why) for each invisible signature made after the judged seal in the name of the license's
        issuer (its USCC, its registered name or the name the seal gives it, anywhere in the certificate's subject,
        read as a viewer shows it: ``names_the_issuer``) by a certificate that does not pass, or by a look-alike of
        the seal maker whatever name it gives. A viewer's signature panel lists such a signature, the last as the
        one covering the whole document: the document is then not as clean as the one registered. An applicant's
        own invisible signature (a desktop signer's, under a commercial CA) passes: it claims no issuer's name.
        Visible ones are ``shown_after_sealing`` already; beyond ``MAX_LATER_SIGNATURES`` they are not judged."""
        names = [name for name, _ in checked.signed_revisions]
        if checked.field_name not in names:
            return []
        later = [n for n in names[names.index(checked.field_name) + 1 :] if n not in checked.shown_after_sealing]
        found = [(name, "NOT_CHECKED") for name in later[MAX_LATER_SIGNATURES:]]
        issuer_names = [license.content.issuer_code, *([checked.subject_name] if checked.subject_name else [])]
        if later:
            with self._db.unit_of_work() as uow:
                member = uow.members.get(license.content.issuer_code)
            issuer_names += [member.name] if member is not None else []
        for name in later[:MAX_LATER_SIGNATURES]:
            signature = self._later_signature(pdf, name)
            if signature is None:
                found.append((name, "SIGNATURE_INVALID"))
                continue
            identity = signature.issuer_identity
            claims_issuer = signature.uscc == license.content.issuer_code or names_the_issuer(
                signature.signer_subject, issuer_names
            )
            if identity.reason == "LOOKALIKE_CA" or (identity.result is not CheckResult.PASSED and claims_issuer):
                found.append((name, identity.reason or "NOT_CHECKED"))
        return found

    def _later_signature(self, pdf: bytes, field: str) -> PdfVerification | None:
        """The verification of another signature of ``pdf``; None for one that cannot be read."""
        try:
            return self._validate_pdf(pdf, field)
        except InvalidRequestError:
            return None

    def _signer_identity(self, identity: Finding, signer_uscc: str | None, license: License) -> Finding:
        """A document's seal identity for ``license``: the seal's own finding, then that the seal is the license
        issuer's, then that the issuer is authoritative for the type; the first FAILED of them, else the first
        INDETERMINATE (as qr-codes.md's check of a code). The owner is compared whenever the seal's own finding is
        not FAILED: it had been only when that PASSED, so another department's seal on this license's document read
        INDETERMINATE ("unknown") once that seal was revoked or its CRL was stale, where it is certainly not the
        issuer's (a reviewer). An INDETERMINATE finding leaves a revocation or a time open, not whose seal it is."""
        if (
            identity.result is not CheckResult.FAILED
            and (identity.result is CheckResult.PASSED or signer_uscc is not None)
            and signer_uscc != license.content.issuer_code
        ):
            identity = Finding(
                result=CheckResult.FAILED,
                reason="SEALED_BY_ANOTHER",
                detail="文件的印章不属于证照的发证部门"
                "（the document is sealed by someone other than the license's issuer）",
            )
        return _first_failure(identity, authority_finding(license, self._catalog))

    def _not_found(self, license_id: str, caller: Member) -> Finding:
        """The status finding of a license this registry does not hold: FAILED / LICENSE_NOT_FOUND, unless its
        identifier names an issuer that is not a department of this gateway (a well-formed identifier of another
        region's registry, 跨省通办; a partner gateway that is a member here is of another region too):
        INDETERMINATE / NOT_IN_THIS_REGISTRY, to be verified with that region (ADR 0017). A clerk had been shown a red
        未找到 and a signed FAILED for a possibly genuine license of a partner province (found by a partner tester);
        it is not PASSED either, as nothing of it was checked. A partner gateway ``caller`` is told of its own
        region's license that it is its own (``elsewhere_words``; review partner, R3)."""
        found = self._issuer_elsewhere(license_id)
        if found is None:
            return NOT_FOUND
        issuer, where = found
        return Finding(
            result=CheckResult.INDETERMINATE,
            reason="NOT_IN_THIS_REGISTRY",
            detail=elsewhere_words(issuer, where, caller),
        )

    def _issuer_elsewhere(self, license_id: str) -> tuple[str, Elsewhere] | None:
        """The issuer ``license_id`` names, and where it is, when that is another region's issuer (``_elsewhere``),
        else None: a department of this gateway, issuing or not (a tester's forged 税务局 identifier), a code of this
        gateway's own city that no member has (review fixrev2, R5), or no well-formed identifier."""
        try:
            issuer = LicenseId.parse(license_id).issuer_code
        except ValueError:
            return None
        where = issuer_elsewhere(self._db, issuer)
        return None if where is None else (issuer, where)

    def _is_elsewhere(self, issuer: str) -> bool:
        """Whether ``issuer`` (a USCC) is no department of this gateway (``is_elsewhere``), whatever its region."""
        with self._db.unit_of_work() as uow:
            return is_elsewhere(uow.members.get(issuer))

    def _sealed_elsewhere(
        self, identity: Finding, untrusted: str, uscc: str | None, name: str | None, caller: Member
    ) -> tuple[Finding, Finding]:
        """The status and issuer identity findings of a sealed document (or stamp) that is no registered document:
        ``_NOT_REGISTERED`` and ``identity`` as they are, unless the seal is merely of a CA this gateway does not
        trust (``identity``'s reason is ``untrusted``: UNTRUSTED_ROOT, a stamp's MAKER_UNTRUSTED_ROOT) and names an
        issuer ``uscc`` that is no department of this gateway (``_is_elsewhere``). That is what another honest
        deployment's seal maker makes for its region's departments, 跨省通办: both are then INDETERMINATE /
        NOT_IN_THIS_REGISTRY, to be verified with that region (ADR 0017), as the same license by identifier or code
        is (``_not_found``, ``_verify_qr``). It had been a signed FAILED / UNTRUSTED_ROOT, 印章证书不是可信的制章机构
        签发的, while its identifier gave INDETERMINATE (a reviewer of the partner role, R2). A look-alike of this
        gateway's seal maker, a revoked or broken certificate, and an untrusted seal in the name of a department of
        this gateway stay as they are: FAILED. That name is the certificate's organisation ``name`` as well as its
        code (``_names_no_department``): a forger's own CA certifying a department here with its code in lower case,
        with a space or a zero-width character, with a code made up, or with its name and another's code, had made
        its seal amber, 可能是其他地区的证照 (a reviewer, fixrevpa R1)."""
        if identity.reason != untrusted or not uscc or not self._names_no_department(uscc, name):
            return _NOT_REGISTERED, identity
        if region := callers_own_region(uscc, caller):  # a partner's own region's (review partner, R3)
            chinese, english = own_region_words(region)
        else:  # 跨省 for another province only
            chinese, english = advice(issuer_elsewhere(self._db, uscc) or Elsewhere.OTHER_PROVINCE)
        status = Finding(
            result=CheckResult.INDETERMINATE,
            reason="NOT_IN_THIS_REGISTRY",
            detail=f"该文件不是本登记库的电子证照文件，印章所属的发证机构 {uscc} 不是本网关的部门，"
            f"可能是其他地区登记库的证照文件，{chinese}"
            f"（the document is no license document of this registry, and its seal's issuer {uscc} is not a "
            "department of this gateway: it may be a license document of another region's registry; "
            f"{english}）",
        )
        elsewhere = Finding(
            result=CheckResult.INDETERMINATE,
            reason="NOT_IN_THIS_REGISTRY",
            detail=f"印章所属的发证机构 {uscc} 不是本网关的部门，其印章证书的制章机构不是本网关信任的，"
            f"须由该地区核验（the seal's issuer {uscc} is not a department of this gateway, and its "
            f"certificate's seal maker is not one this gateway trusts: that region judges it）；"
            f"{identity.detail}",
        )
        return status, elsewhere

    def _names_no_department(self, uscc: str, name: str | None) -> bool:
        """Whether a seal certificate giving the code ``uscc`` and the organisation ``name`` is plainly of an issuer
        of another region: ``uscc`` is exactly a valid 统一社会信用代码 (upper case, nothing around it), no department
        of this gateway's (``_is_elsewhere``: no member, or a partner gateway that issues nothing), and of none of the
        regions (administrative division code, its 3rd to 8th characters, to the prefecture: the first four) of this
        gateway's departments' codes; and ``name``, compared as license numbers are (``normal_number``: no spaces or
        invisible characters, full-width as ASCII), is no department's name. Anything else is what a forger makes of
        a department here, and its seal stays FAILED."""
        if uscc_problem(uscc) is not None or not self._is_elsewhere(uscc):
            return False
        with self._db.unit_of_work() as uow:
            departments = [m for m in uow.members.all() if not is_elsewhere(m)]
        if uscc[2:6] in {m.code[2:6] for m in departments}:  # a made-up code of a department's city
            return False
        said = normal_number(name or "")
        return not any(normal_number(m.name) == said for m in departments) and bool(said)

    def _used_by_matter(
        self, caller: Member, use: UseContext, action: AuditAction, type_code: str, field: str, target: UseTarget
    ) -> Matter:
        """The use's matter, when its materials list ``type_code`` or it is no type code at all (a malformed
        identifier is answered as unknown); else INVALID_ARGUMENT / NOT_USED_BY_MATTER on ``field``, a type the
        catalog no longer has included (``check_type_used``), unless the license ``target`` names is of another
        registry (a type another region defines: NOT_IN_THIS_REGISTRY, as api.md says). A department
        verifies what an applicant presents for the matter it handles: the existence, validity and status of the
        licenses it has no need of (a citizen's 居民身份证 under 发票申领; whether a 结婚证 is still in force) are not
        its to learn, as their fields are not (``GetLicenseData``). The refusal is recorded as the call ``action``,
        with the license or holder ``target`` names, for the holder's and the issuer's logs."""
        matter = self._catalog.matters[use.matter_code]  # the use context was checked against the catalog
        record = (
            self._audit.recorder(caller, use, action, target, subjects=self.record_subjects)
            if self._audit is not None
            else None
        )
        elsewhere = (
            type_code not in self._catalog.license_types
            and bool(target.license_id)
            and self._issuer_elsewhere(target.license_id) is not None
        )
        check_type_used(self._catalog, matter, type_code, field, on_refusal=record, of_another_registry=elsewhere)
        return matter

    def check_claim(
        self,
        caller: Member,
        use: UseContext,
        *,
        type_code: str,
        holder_code: str,
        license_number: str,
        fields: Mapping[str, str],
    ) -> ClaimReport:
        """Compare what an applicant claims with the registry; answers without returning any of its data."""
        if not type_code:
            raise invalid("type_code", "REQUIRED", "请填写证照类型代码（type_code is required）")
        if type_code not in self._catalog.license_types:
            raise _unknown_type(type_code)
        if len(fields) > MAX_CLAIM_FIELDS or any(len(k) > 64 or len(v) > 2000 for k, v in fields.items()):
            raise invalid(
                "fields",
                "TOO_LARGE",
                f"最多{MAX_CLAIM_FIELDS}个信息项，每项不超过2000个字符"
                f"（at most {MAX_CLAIM_FIELDS} fields of at most 2,000 characters）",
            )
        # a value left empty or blank claims nothing (below), of a field the matter may not see too: not refused
        # NOT_CLAIMABLE and put on the holder's log as an attempt, which the same claim without it is not (a reviewer)
        fields = {key: value for key, value in fields.items() if value.strip()}
        # "it matches" would confirm a guess of a name, number or holder code the matter has no need of; but who holds
        # an identity document is what any matter may confirm (the 居民身份证's data-free check): its fields stay
        # the listing matters' (``_unclaimable``)
        target = UseTarget(type_code=type_code, license_number=license_number, holder_code=holder_code)
        license_type = self._catalog.license_types[type_code]
        if license_type.claimable_under_any_matter:
            matter = self._catalog.matters[use.matter_code]  # the use context was checked against the catalog
        else:
            matter = self._used_by_matter(caller, use, AuditAction.CHECK_CLAIM, type_code, "type_code", target)
        unclaimable = _unclaimable(license_type, fields, matter)
        refused_keys = {violation.field for violation in unclaimable}
        today = _day(self._clock.now())
        unusable = [v for v in _unusable_values(license_type, fields, today) if v.field not in refused_keys]
        if unclaimable or unusable:
            refused = InvalidRequestError([*unclaimable, *unusable])
            # a field the matter has no need of, or a secret one (a photo), asked of a named holder: an attempt the
            # holder sees on their log (a secret one had left no record; found by a black-box tester), not a typo
            logged = [v.reason for v in unclaimable if v.reason in ("NOT_USED_BY_MATTER", "NOT_CLAIMABLE")]
            if logged and self._audit is not None:
                self._audit.refuse(
                    caller, use, logged[0], AuditAction.CHECK_CLAIM, target, subjects=self.record_subjects
                )
            raise refused
        now = self._clock.now()
        _refuse_controls("holder_code", holder_code := FORMAT_CHARACTERS.sub("", holder_code).strip(), "持证主体代码")
        if holder_code:  # a mistyped check character is bad input, not a license "not found" (5) on a receipt
            holder_code = checked_claimed_holder_code(holder_code, self._catalog.license_types[type_code])
        number = _claimed_number(license_number)
        # a value left empty or blank (a form's optional field not filled in) claims nothing: it is left out of the
        # comparison, as certData 未填 (6) reads it, not compared and answered 7 (信息有误; found by an integrator)
        fields = {key: value for key, value in fields.items() if claim_form(value)}
        subjects: tuple[str, ...] = ()  # a claim that found no license names no one
        if not (holder_code or number or fields):  # nothing claimed at all
            answer = ClaimAnswer(result=ClaimResult.NOT_FILLED)
            license = None
        elif not holder_code or not number:
            answer = ClaimAnswer(result=ClaimResult.INCOMPLETE)
            license = None
        else:
            with self._db.unit_of_work() as uow:
                license = find_by_number(uow.licenses.get_by_number, type_code, number)
            record = PASSED
            if license is not None:  # what is compared must be what the issuer sealed
                checked = self._check_record(license)
                record, subjects = _first_failure(checked.integrity, checked.identity), checked.subjects
            forms = {
                key: claimed_value_form(spec.value_type)
                for key in fields
                if (spec := license_type.field_spec(key)) is not None
            }
            answer = answer_claim(
                license,
                holder_code,
                fields,
                _day(now),
                record=record,
                forms=forms,
                holder_among=license_type.holder_among,
                person_names=license_type.person_names,
            )
        query, claim_key = claim_query(type_code, holder_code, license_number, fields)
        statement = {
            "kind": "claim",
            "query": query,
            "result": answer.result.name,
            "code": answer.result.value,
            "mismatched_fields": list(answer.mismatched_fields),
            "status_reason": answer.status_reason,
        }
        counted: int | None = None
        if license is not None:
            # as _make_receipts would refuse them, before a wrong claim is counted for a call left unanswered
            if now > (end := self._receipt_key.certificate.not_valid_after_utc):
                raise receipt_certificate_ended(end)
            if self._certificates is not None:
                self._certificates.refuse_if_retired()
            counted = self._count_claim(caller, use, license, now, wrong=answer.result is ClaimResult.PARTLY_WRONG)
        try:
            receipt = self._write(
                _ToReceipt(
                    AuditAction.CHECK_CLAIM,
                    caller,
                    use,
                    statement,
                    license,
                    answer.result.name,
                    answer.status_reason or ",".join(answer.mismatched_fields),
                    now,
                    subjects,
                    names_license=answer.mismatched_fields != ("holder_code",),
                )
            )
        except BaseException as failed:
            if counted is not None and not _may_be_stored(failed):
                self._uncount_claim(counted)
            raise
        metrics.record_claim_check(answer.result.name)
        return ClaimReport(answer=answer, checked_at=now, receipt=receipt, claim_key=claim_key)

    def _count_claim(
        self, caller: Member, use: UseContext, license: License, now: dt.datetime, *, wrong: bool
    ) -> int | None:
        """RESOURCE_EXHAUSTED / TOO_MANY_WRONG_CLAIMS, right claim or wrong, once ``caller`` made ``MAX_WRONG_CLAIMS``
        wrong claims (7, 信息有误) about ``license`` in the last ``WRONG_CLAIMS_HOURS``; else a wrong one is counted,
        and the count's row returned, for ``_uncount_claim`` to take back if the call then fails unanswered. A
        claim confirms what it names without returning it, so claims without end would read a license's fields (a
        registration date in 1,601 guesses, an address the matter reads masked in 900) without the approval or
        consent ``GetLicenseData`` asks for (a black-box tester).

        Counted in the store (``wrong_claims``), by the license whatever its version (an amendment does not start
        again), in a transaction that takes a lock of the department and license (PostgreSQL's advisory lock; SQLite
        writes one at a time): every process and replica counts the same claims, and a burst sent to several is
        counted whole. The refusal is on the holder's log."""
        key = claims_key(license.license_id)
        since = now - dt.timedelta(hours=WRONG_CLAIMS_HOURS)
        # read alike for a right claim and a wrong one: past the limit both are refused the same way (a wrong one
        # that took the writer's path had answered measurably later, telling right from wrong; found in review)
        with self._db.unit_of_work() as uow:
            made = uow.wrong_claims.count_since(caller.code, key, since)
        if made < MAX_WRONG_CLAIMS and not wrong:
            return None
        if made < MAX_WRONG_CLAIMS:
            with self._db.unit_of_work(write=True) as uow:
                uow.lock_key(f"wrong-claims\n{caller.code}\n{key}")
                made = uow.wrong_claims.count_since(caller.code, key, since)
                if made < MAX_WRONG_CLAIMS:
                    row = uow.wrong_claims.add(caller.code, key, now, forget_before=since)
                    uow.commit()
                    return row
        if self._audit is not None:
            self._audit.refuse(
                caller,
                use,
                "TOO_MANY_WRONG_CLAIMS",
                AuditAction.CHECK_CLAIM,
                UseTarget(license_id=license.license_id),
                subjects=self.record_subjects,
            )
        # a partner gateway's count is all its region's departments' (a partner-gateway tester read "本部门")
        partner = caller.has(Role.PARTNER)
        who, whose = ("本合作网关", "this partner gateway") if partner else ("本部门", "this department")
        raise ResourceExhaustedError(
            f"{WRONG_CLAIMS_HOURS}小时内{who}对这本证照的信息比对已有{made}次不一致，已达上限：请核对申请人的材料"
            "（共同持证人的证件号码不是持证人的），改用证照核验，或稍后再试（"
            f"{made} claims of {whose} about this license in the last {WRONG_CLAIMS_HOURS} hours were wrong, "
            "the most it may make: check the applicant's papers (a co-subject's number is not the holder's), verify "
            "the license instead, or try later）",
            reason="TOO_MANY_WRONG_CLAIMS",
        )

    def _uncount_claim(self, row: int) -> None:
        """Take back the wrong claim ``_count_claim`` counted as ``row``: its call failed and nothing of it was
        stored (no receipt, no access record), so its caller never had the answer. Five such calls (a process whose
        receipt key was retired, an audit trail that could not be written) had held the department back from the
        license for a day, its right claims at a healthy process included (a reviewer). A store that cannot take it
        back leaves it counted (logged): the call's own failure is what its caller is told."""
        try:
            with self._db.unit_of_work(write=True) as uow:
                uow.wrong_claims.remove(row)
                uow.commit()
        except Exception:
            log.warning("a wrong claim whose call failed stays counted: the store did not take it back", exc_info=True)

    def receipt(self, caller: Member, receipt_id: str, *, operator: str = "") -> StoredReceipt:
        """The stored receipt ``receipt_id``, its number taken as people copy it from a printout or read it out
        (``typed_receipt_id``: in groups, in full width, in upper case, it is the same number). The read is on
        the audit trail (GET_RECEIPT, the receipt's license and holder; not a holder portal's): a receipt says what a
        check found of the holder's license, and the holder's log shows who read it, as it shows every other use. So
        it is a write: refused (UNAVAILABLE) when the trail cannot be written, as every recorded read is."""
        if violation := operator_violation(operator):  # written into the audit trail as it is
            raise InvalidRequestError([violation])
        receipt_id = typed_receipt_id(receipt_id)
        if not receipt_id:
            raise invalid("receipt_id", "REQUIRED", "请填写回执编号（receipt_id is required）")
        _refuse_controls("receipt_id", receipt_id, "回执编号")  # alike on both databases (PostgreSQL text holds no NUL)
        with self._db.unit_of_work() as uow:
            found = uow.receipts.get(receipt_id) if len(receipt_id) <= MAX_RECEIPT_ID else None
        if found is None:
            raise NotFoundError(no_such_receipt(receipt_id), reason="RECEIPT_NOT_FOUND")
        self._audit_receipt_read(caller, operator, found)
        return found

    def _audit_receipt_read(self, caller: Member, operator: str, receipt: StoredReceipt) -> None:
        """A holder portal's read is the holder's own look at a receipt its log names, not another's use: recorded,
        each view of the log would have added a record naming a receipt to fetch (found in review)."""
        if self._audit is None:  # no gateway key: no receipt was ever signed here to be read
            return
        if caller.portal_only:
            return
        checked = self._checked_by_id(receipt.license_id) if receipt.license_id else None
        license = checked.license if checked is not None else None
        self._audit.record(
            AuditEntry(
                at=self._clock.now(),
                caller=caller.code,
                operator=operator,
                action=AuditAction.GET_RECEIPT,
                matter_code="",
                purpose="",
                license_id=receipt.license_id,
                issuer_code=license.content.issuer_code if license else "",
                holder_code=license.content.holder.code if license else "",
                decision="ANSWERED",
                receipt_id=receipt.receipt_id,
                subjects=checked.subjects if checked is not None else (),
            )
        )

    def review_receipt(self, caller: Member, receipt_id: str, *, operator: str = "") -> ReceiptReview:
        """The archived receipt ``receipt_id`` with its signature and certificate checked again: a printed receipt
        says it can be looked up by its number (可凭回执编号向网关查询), and what the archive holds now is judged, not
        trusted."""
        stored = self.receipt(caller, receipt_id, operator=operator)
        parts = SignedParts(
            receipt_id=stored.receipt_id,
            statement=stored.statement,
            signature=stored.signature,
            proof=stored.proof,
            algorithm=stored.algorithm,
            certificate=self.signer_certificate_der(stored),
        )
        return ReceiptReview(
            receipt=parts, check=self._check_receipt(parts), archived=Archived.SAME, at=self._clock.now()
        )

    def review_receipt_file(self, caller: Member, given: SignedParts, *, operator: str = "") -> ReceiptReview:
        """A receipt a clerk was handed as a file, judged with the certificate it carries, and whether the archive
        holds the same receipt (statement, signature, proof, algorithm and the certificate it was signed under)."""
        try:
            stored: StoredReceipt | None = self.receipt(caller, given.receipt_id, operator=operator)
        except (NotFoundError, InvalidRequestError):  # an id the archive cannot hold is a receipt it does not hold
            stored = None
        # the file's own id too: the archive finds a number however it is typed, and a file whose id was changed in
        # case is not the archive's receipt (its check fails RECEIPT_ID_MISMATCH; found in review)
        signed = (given.receipt_id, given.statement, given.signature, given.proof, given.algorithm)
        if stored is None:
            archived = Archived.MISSING
        elif (
            stored.receipt_id,
            stored.statement,
            stored.signature,
            stored.proof,
            stored.algorithm,
        ) == signed and self._archive_certificate(stored, given.certificate):
            archived = Archived.SAME
        else:
            archived = Archived.DIFFERENT
        return ReceiptReview(receipt=given, check=self._check_receipt(given), archived=archived, at=self._clock.now())

    def _archive_certificate(self, stored: StoredReceipt, certificate: bytes) -> bool:
        """Whether ``certificate`` (DER) is one the archive hands ``stored`` out with: the one ``GetReceipt`` gives,
        or, after a renewal (the same key), the certificate before it or after it that was valid when it was issued
        (``ReceiptCertificates.handed_out_with``): a genuine file kept from a process not yet restarted had been
        judged not the archive's, and 接办免收 refused (a receipt-keys reviewer, R1)."""
        if certificate == self.signer_certificate_der(stored):
            return True
        return self._certificates is not None and self._certificates.handed_out_with(
            certificate, stored.statement, stored.signature, stored.algorithm, stored.proof
        )

    def _check_receipt(self, receipt: SignedParts) -> ReceiptCheck:
        """``receipt`` checked with this gateway's trust material: its seal-maker roots, intermediates and CRLs, and
        its receipt certificates (current and earlier) as the only ones accepted."""
        if (certificate := receipt_certificate(receipt.certificate)) is None:
            return UNREADABLE_CERTIFICATE
        if self._certificates is None:
            pinned = [x509.load_der_x509_certificate(self._receipt_key.certificate_der)]
        else:
            pinned = [self._certificates.current, *self._certificates.earlier()]
        return check_receipt_offline(
            receipt.receipt_id,
            receipt.statement,
            receipt.signature,
            certificate=certificate,
            algorithm=receipt.algorithm,
            proof=receipt.proof,
            trust_roots=self._seals.trust_roots(),
            intermediates=self._seals.intermediates(),
            crls=self._crls_now(),
            pinned=pinned,
        )

    def case_receipts(
        self,
        caller: Member,
        use: UseContext,
        *,
        limit: int = 0,
        page_token: str = "",
        size_of: Callable[[StoredReceipt], int] | None = None,
        max_bytes: int = 0,
    ) -> tuple[list[StoredReceipt], str]:
        """The receipts of one 一件事 case in the order they were committed, a page at a time (首办核验、接办免收), for
        the department that handles the request's matter of the bundle (``check_use`` refuses the others; an
        administrator may read any case), and the next page's token (empty after the last); the call is on the audit
        trail, and so is a refusal (``refuse_use``). A department is given the receipts of the license types its
        matter uses only (its materials): relying on a check is using the license, and a matter with no need of a 结婚证
        had been told the parents' one was cancelled since, as often as it asked (a privacy tester; PIPL art. 6, the
        minimum the purpose needs). An administrator, who reads no personal data, is given all of them; a member with
        another role beside ``ADMIN`` is given those of the matter's types, as a department is
        (``Member.administrator_only``).

        With ``size_of`` (the bytes a receipt takes in the reply), a page ends before its receipts pass ``max_bytes``
        and the next one goes on from there: 1000 receipts with a long purpose were past a 2 MiB message limit, gRPC
        failed the reply with no reason, and the trail said they had been given (a reviewer)."""
        if not use.case_id:
            raise invalid(
                "use.case_id", "REQUIRED", "请填写一件事编码和办件编号（bundle_code and case_id name the case）"
            )
        if not 0 <= limit <= MAX_CASE_PAGE:
            raise invalid(
                "limit",
                "BAD_LIMIT",
                f"每页条数须为1至{MAX_CASE_PAGE}，0为默认的{DEFAULT_CASE_PAGE}"
                f"（limit is 1-{MAX_CASE_PAGE} (0: {DEFAULT_CASE_PAGE})）",
            )
        listing = Listing(
            "ListCaseReceipts",
            caller.code,
            (f"bundle_code={use.bundle_code}", f"case_id={use.case_id}", f"matter_code={use.matter_code}"),
        )
        after = _case_position(self._pages.position(page_token, listing))
        size = limit or DEFAULT_CASE_PAGE
        matter = self._catalog.matters.get(use.matter_code)
        types = None if caller.administrator_only or matter is None else {m.type_code for m in matter.materials}
        # a receipt naming no license (a claim that found none, a license not found) is of the type its statement
        # says, judged here: read on until a page and one more are found or the case's receipts run out, so that a
        # page is empty only at the end and a token always leads to a receipt (a page after ten pages' worth of other
        # types had been empty, with a token: a reviewer). The reads grow to CASE_READ_ROWS: what is read past is
        # the case's receipts naming no license, of other types (the others are left out by the query). Each read
        # goes on from the last one read, in the case's index (``ix_receipts_case_order``): a call reads each receipt
        # once, and a page past 100,000 had taken 6-17 s while every read read and sorted the whole case (a reviewer)
        kept: list[StoredReceipt] = []
        read = size + 1
        with self._db.unit_of_work() as uow:
            while True:
                fetched = uow.receipts.of_case(use.bundle_code, use.case_id, read, after, type_codes=types)
                kept += [
                    r for r in fetched if types is None or r.license_id or _of(r, types) or r.caller == caller.code
                ]
                if len(kept) > size or len(fetched) < read:
                    break
                after = _case_place(fetched[-1])
                read = max(read, min(2 * read, CASE_READ_ROWS))
        page, more = kept[:size], len(kept) > size
        if size_of is not None and len(fitting := _fitting(page, size_of, max_bytes)) < len(page):
            page, more = fitting, True  # the message limit ended the page: the next goes on after it
        token = self._pages.token(_case_page_end(page[-1]), listing) if more else ""
        self._audit_case_listing(caller, use, page)
        return page, token

    def holder_of(self, license_id: str) -> Holder | None:
        """The holder of the stored license ``license_id`` (that version), for a receipt handed over: a receipt names
        a license and no holder (it holds no personal data), and another company's valid receipt had shown green
        with nothing to tie it to the applicant (a receipts tester). None for a license not stored, and for one whose
        record fails its seal: what such a record states may be the edit's. Nothing is recorded here: the look-up
        that asks is (``receipt``, GET_RECEIPT, naming the license and its holder)."""
        checked = self._checked_by_id(license_id)
        return checked.license.content.holder if checked is not None and checked.record_vouched else None

    def standing_now(
        self, receipts: Iterable[tuple[str, dt.datetime, bytes | Mapping[str, Any] | None]]
    ) -> dict[tuple[str, dt.datetime], Standing]:
        """The standing at this moment of each receipt's license, by (license id, receipt time), for a case's
        receipts given as (license id, receipt time, signed statement) (a later department relies on an earlier
        check, 接办免收, and must see a license revoked since): the first finding of its record, its status today and
        its issuer's identity that did not pass, else PASSED; ``LICENSE_NOT_FOUND`` for one no longer stored. A
        version superseded by an amendment (变更) since the receipt stands as its version in force does
        (``_current_of``): the company still holds its license, amended, and a routine 变更 in the middle of a 一件事
        must not send the later department back to the applicant. One superseded before the receipt was so at the
        check, which failed for it: it stands as that version does, FAILED / SUPERSEDED, its detail naming the
        version in force as the verification's does, never as "amended since". Which of the two is said by the
        receipt's statement, what the check found (``_superseded_at_check``), and only for a receipt that states no
        status by the times (its stored supersession time, vouched for by its status memo, after the receipt's): an
        amendment takes its time before it commits, and a check made in between found the old version in force and
        passed under a later time, which had listed it FAILED / SUPERSEDED (a reviewer, R1). No receipt is made:
        the listing is on the audit trail."""
        now = self._clock.now()
        standing: dict[tuple[str, dt.datetime], Standing] = {}
        for license_id, at, statement in receipts:
            if not license_id or (license_id, at) in standing:
                continue
            checked = self._checked_by_id(license_id)
            if checked is None:
                standing[license_id, at] = _standing(NOT_FOUND)
                continue
            status, current = self._status(checked, now)
            found = _superseded_at_check(statement)
            since = current is not None and (not found if found is not None else checked.license.status_changed_at > at)
            if since:
                assert current is not None
                status = _amended_since(current)
            failure = _first_failure(checked.integrity, status, checked.identity)
            if since and failure is status:  # the version in force decides
                standing[license_id, at] = _standing(status, current, passed="AMENDED_SINCE")
            else:
                standing[license_id, at] = _standing(failure)
        return standing

    def refuse_use(
        self, caller: Member, refused: MatterNotHandledError, action: AuditAction, target: UseTarget | None = None
    ) -> None:
        """Put on the audit trail a call refused because the caller named another department's matter, with the
        license or holder the request named (``AuditTrail.refuse_use``), on the logs of its co-subjects too."""
        if self._audit is not None:
            self._audit.refuse_use(caller, refused, action, target, subjects=self.record_subjects)

    def _audit_case_listing(self, caller: Member, use: UseContext, receipts: Sequence[StoredReceipt]) -> None:
        """One record per license the listed receipts name (or one naming none): relying on an earlier department's
        check of a license is the later department's use of it (接办免收), shown in the holder's and the issuer's
        logs as the earlier check is."""
        if self._audit is None:
            return
        now = self._clock.now()
        named = list(dict.fromkeys(r.license_id for r in receipts if r.license_id))
        # checked (and so cached for ``standing_now``): its co-subjects only of a record its seal vouches for
        licenses = {license_id: self._checked_by_id(license_id) for license_id in named}

        def entry(license_id: str = "") -> AuditEntry:
            checked = licenses.get(license_id)
            license = checked.license if checked is not None else None
            return AuditEntry(
                at=now,
                caller=caller.code,
                operator=use.operator,
                action=AuditAction.LIST_CASE_RECEIPTS,
                matter_code=use.matter_code,
                purpose=use.purpose,
                license_id=license_id,
                issuer_code=license.content.issuer_code if license else "",
                holder_code=license.content.holder.code if license else "",
                decision="ANSWERED",
                reason=f"{len(receipts)} receipts",
                subjects=checked.subjects if checked is not None else (),
            )

        entries = [entry(license_id) for license_id in named] or [entry()]
        self._audit.record(*entries)

    @property
    def receipt_certificate_der(self) -> bytes:
        return self._receipt_key.certificate_der

    def signer_certificate_der(self, receipt: StoredReceipt) -> bytes:
        """The certificate whose key signed a stored receipt, DER: the current one, or an earlier one of the receipt
        key (``ReceiptCertificates``) for a receipt made before the certificate changed."""
        if self._certificates is None:
            return self._receipt_key.certificate_der
        certificates = self._certificates
        signer = certificates.signer_of(receipt.statement, receipt.signature, receipt.algorithm, receipt.proof)
        return certificates.current_der if signer is certificates.current else signer.public_bytes(Encoding.DER)

    @property
    def receipt_certificate(self) -> x509.Certificate:
        return self._receipt_key.certificate

    # -- parts ---------------------------------------------------------------------------------------------------

    def _verify_qr(self, caller: Member, use: UseContext, text: str, now: dt.datetime) -> Report:
        """A scanned code: its signature by the seal it names, then the stored license it names, whose own record
        is checked too (the summary and status come from it). What a code that is not genuine names is not looked
        at: its status and issuer are not checked and no license is shown."""
        text, envelope = read_pasted(text)  # without spaces pasted after it, when it reads so
        action = AuditAction.VERIFY_LICENSE
        if isinstance(envelope, str):
            detail = _UNREADABLE_QR.get(envelope, _UNREADABLE_QR["MALFORMED"])
            unread = Finding(result=CheckResult.FAILED, reason=envelope, detail=detail)
            return self._report(action, caller, use, {"by": "qr_code"}, unread, _UNREAD_CODE, _UNREAD_CODE, None, now)
        license_id = envelope.claims.license_id
        self._used_by_matter(
            caller, use, action, _type_of(license_id), "qr_code", UseTarget(license_id=license_id)
        )  # as by id
        query = {"by": "qr_code", "license_id": license_id}
        known = self._seal_by_key_prefix(envelope.key_id_prefix)
        if known is None:
            if (elsewhere := self._not_found(license_id, caller)) is not NOT_FOUND:  # its own registry's seal, not ours
                sealed = _SEALED_ELSEWHERE  # its reason decides the verdict: not a forgery's UNKNOWN_SEAL_KEY
                return self._report(action, caller, use, query, sealed, elsewhere, _NOT_CHECKED, None, now)
            return self._report(action, caller, use, query, _UNKNOWN_SEAL_KEY, _NOT_GENUINE, _NOT_GENUINE, None, now)
        try:
            check, _ = check_qr_seal(
                text, certificate=known.certificate, base=known.base, revoked_at=known.seal.revoked_at, now=now
            )
        except Sm2Unavailable as exc:  # a code naming an SM2 seal (none is drawn), without SM2: had been INTERNAL
            raise sm2_unavailable(known.seal, exc) from None
        if check.integrity.result is not CheckResult.PASSED:
            unchecked = _UNREAD_CODE if check.integrity.reason in _UNREADABLE_QR else _NOT_GENUINE
            return self._report(action, caller, use, query, check.integrity, unchecked, unchecked, None, now)
        stored = self._checked_by_id(license_id)
        if stored is None:
            claims = envelope.claims
            # judged as a stored license's code is: the seal's trust, then whose seal it is and whether that issuer
            # may issue the type (the gateway draws a code only with the issuer's own seal: ``DocumentService.make``)
            identity = _first_failure(
                check.issuer_identity,
                _owner_finding(known.seal, claims.issuer_code),
                issuer_authority_finding(claims.type_code, claims.issuer_code, self._catalog),
            )
            if identity is PASSED and known.seal.revoked_at is None and now <= known.certificate.not_valid_after_utc:
                # a code this gateway could have drawn, by a seal that could draw it still, names a license it issued:
                # not found, the store lost it. A seal ended since signs with a key nobody guards any more, at any
                # time it claims: what only that key vouches for is not known genuine (review fixrevver, R3)
                return self._report(action, caller, use, query, _CODE_LICENSE_GONE, NOT_FOUND, identity, None, now)
            # a seal revoked or ended since, with only the code's word for when it signed (its identity as that time
            # has it: an ended seal's code stating a time within its validity passes, as offline), or another
            # department's seal, or an issuer that issues no such license: the code is not known to be genuine (a
            # leaked key signs any serial), so nothing says the registry lost a license (a reviewer, R2; review
            # fixrevver, R1 and R3)
            return self._report(action, caller, use, query, check.integrity, NOT_FOUND, identity, None, now)
        license = stored.license
        claims = envelope.claims
        made_at = self._code_made_at(known, stored, claims) if claims.version == license.content.version else None
        if made_at is not None:
            # the code the gateway drew (``_code_made_at``): judged at the drawing it recorded (the code's own time is
            # only its maker's claim), so a seal revoked since leaves it as good as the document it is printed on; the
            # code's own word against itself stands (a time before its certificate, or after its revocation)
            identity = _first_failure(
                identity_at(
                    known.base, known.certificate, at=made_at, revoked_at=known.seal.revoked_at, time_trusted=True
                ),
                check.issuer_identity if check.issuer_identity.result is CheckResult.FAILED else PASSED,
                _owner_finding(known.seal, license.content.issuer_code),
                stored.identity,
            )
        else:
            identity = _first_failure(
                self._code_identity(check, known, stored, claims.version),
                _owner_finding(known.seal, license.content.issuer_code),
                authority_finding(license, self._catalog),
                stored.identity,
            )
        integrity = _first_failure(check.integrity, stored.integrity)
        return self._report_of(action, caller, use, query, integrity, identity, stored, now)

    @staticmethod
    def _code_identity(check: SealCheck, known: _KnownSeal, stored: _Checked, version: int) -> Finding:
        """The issuer identity of a code whose making the gateway did not record, judged at the time its maker
        claims; but no code of a version is made before the version was registered, a time of the gateway's own
        that its status memo vouches for. A seal revoked or ended by then had made the code after its revocation or
        end, whatever the code claims: so a code a leaked seal key made and back-dated to before the revocation,
        naming a license registered after it, is CERT_REVOKED, not undecided (an examiner)."""
        license = stored.license
        registered = license.created_at
        revoked_at = known.seal.revoked_at
        if (
            check.signing_time is None
            or version != license.content.version
            or not stored.status_vouched
            or check.signing_time >= registered
        ):
            return check.issuer_identity
        if (revoked_at is not None and revoked_at <= registered) or registered > known.certificate.not_valid_after_utc:
            return identity_at(known.base, known.certificate, at=registered, revoked_at=revoked_at, time_trusted=True)
        return check.issuer_identity  # made at some time after the registration: as undecided as its claim

    def _code_made_at(self, known: _KnownSeal, stored: _Checked, claims: QrClaims) -> dt.datetime | None:
        """When the gateway drew the code whose claims are ``claims``, signed by ``known``'s seal, as it recorded (the
        drawing of the version's document, whose seal signs the code printed on it); None for a code that is not the
        one it drew, as far as its records tell: one stating other claims than the version's record, by another seal
        than the document's, or made (by its own word) more than a clock's error after that drawing; and any code of
        a version it drew no document for (a batch-issued license's, until one is asked for), of an issuer's own PDF
        (which has no code), or whose document row it did not store (its memo). Such a code is judged by the time it
        states (``_code_identity``): a leaked seal key signs whatever claims and time it likes, and only the code the
        gateway drew has a time the gateway knows (a reviewer, R1). The document row is read once per check of the
        license (``_drawing``), not at every scan (review fixrevver, R2)."""
        if not states(claims, stored.license.content):
            return None
        drawing = stored.drawing or self._drawing(stored)
        if (
            drawing is None
            or drawing.source is not DocumentSource.RENDERED
            or drawing.seal_id != known.seal.seal_id
            or claims.issued_at > drawing.created_at + CLOCK_SKEW
        ):
            return None
        return drawing.created_at

    def _drawing(self, stored: _Checked) -> _Drawing | None:
        """The version's document row, if the store holds one its memo vouches for (None otherwise: read again next
        time), kept with ``stored`` as the check itself is kept: only if no change was heard since before the read."""
        generation = self._feed.generation  # first, as ``_checked_by_id``
        with self._db.unit_of_work() as uow:
            document = uow.documents.row_of(stored.license.license_id)  # not its PDF
        if document is None or not vouched(document, self._memos):
            return None
        drawing = _Drawing(source=document.source, seal_id=document.seal_id, created_at=document.created_at)
        with self._unchanged_since(generation) as unchanged:
            if unchanged:
                stored.drawing = drawing
        return drawing

    def _outcome_today(self, checked: _Checked, now: dt.datetime) -> Outcome:
        """The outcome of checking ``checked`` on the day of ``now``: made on the day's first check, then kept."""
        day = _day(now)
        # for a superseded version only, a cache lookup per version after it (a change of one makes a new check)
        chain = self._chain(checked) if checked.successor_id else None
        today = checked.today
        if today is not None and today[0] == day and today[1] == chain:  # _Checked compares by identity
            return today[2]
        current = self._current_of(chain, day)
        license = checked.license
        status = _superseded_by(self._status_on(checked, day), current)
        outcome = self._outcome(
            checked.integrity,
            status,
            checked.identity,
            license,
            day,
            kept=True,
            current=current,
            subjects=checked.subjects,
        )
        checked.today = (day, chain, outcome)
        return outcome

    def _status(self, checked: _Checked, now: dt.datetime) -> tuple[Finding, Current | None]:
        """The status finding on the day (China time) of ``now``, the time of the check, and for a superseded
        version the version in force (named in the finding's detail)."""
        day = _day(now)
        current = self._current_of(self._chain(checked), day) if checked.successor_id else None
        return _superseded_by(self._status_on(checked, day), current), current

    def _chain(self, checked: _Checked) -> tuple[_Checked, ...] | None:
        """The checks of the versions after a SUPERSEDED version, to the version in force, following the successor
        each check found when it was made (``_Checked.successor_id``: the next identifier, which ``superseded_by``
        names, of a version whose record and status are the gateway's); None for a version with none, and for a link
        an amendment did not make (the successor does not ``supersede`` it): ``superseded_by`` is not sealed, and a
        link changed in the store must not lend this version another license's standing. Each version comes from the
        cache of checked licenses, which a change of that version drops in every process (and its next check is a new
        ``_Checked``), so what is said of the version in force is never older than that version's last change."""
        chain: list[_Checked] = []
        for _ in range(MAX_VERSION):  # each identifier is the next: no loop, however the store is edited
            successor = self._checked_by_id(checked.successor_id) if checked.successor_id else None
            if successor is None or successor.license.supersedes != checked.license.license_id:
                return None
            chain.append(successor)
            if not (successor.record_vouched and successor.status_vouched):
                return tuple(chain)
            if successor.license.status is not LicenseStatus.SUPERSEDED:
                return tuple(chain)
            checked = successor  # superseded in turn: its successor, or None for a link no amendment made
        return None

    def _current_of(self, chain: tuple[_Checked, ...] | None, day: dt.date) -> Current | None:
        """The version in force at the end of ``chain`` (``_chain``), with its standing on ``day``."""
        if not chain:
            return None
        last = chain[-1]
        vouched = last.record_vouched and last.status_vouched
        return Current(
            license_id=last.license.license_id,
            status=last.license.effective_status(day) if vouched else None,
            standing=_first_failure(last.integrity, self._status_on(last, day), last.identity),
            since=status_since(last.license, day) if vouched else None,
        )

    def _status_on(self, checked: _Checked, day: dt.date) -> Finding:
        """The status finding on ``day``; a stored status the gateway did not store (no memo of it), or validity
        dates in a record whose seal fails, say nothing of the license's real status, so it is INDETERMINATE, not
        judged (its integrity finding says why)."""
        if not checked.record_vouched:
            return _RECORD_UNVOUCHED
        if not checked.status_vouched:
            return _STATUS_UNKNOWN
        return status_finding(checked.license, day)

    def _checked_by_id(self, license_id: str) -> _Checked | None:
        """The license with its record checked, from the cache when nothing changed since; None if unknown."""
        generation = self._feed.generation  # first: on SQLite this hears other processes' changes (drops caches)
        with self._lock:
            hit = self._checked.get(license_id)
        if hit is not None:  # kept only for a well-formed identifier of a stored license
            return hit
        # a stored license's identifier was checked when it was issued: an identifier is checked only when no
        # license has it (malformed, or unknown), and one too long for any is not looked up
        readable = len(license_id) <= MAX_LICENSE_ID and "\x00" not in license_id  # PostgreSQL text holds no NUL
        license = self._db.read_license(license_id) if readable else None
        if license is None:
            if violation := license_id_violation("license_id", license_id):
                raise InvalidRequestError([violation])
            return None
        checked = self._check_record(license)
        with self._unchanged_since(generation) as unchanged:
            if unchanged:  # neither license nor seal changed meanwhile: safe to keep
                self._checked[license_id] = checked
        return checked

    def record_finding(self, license: License) -> Finding:
        """The check of a stored record for other services (sharing): its seal over the record, its status memo,
        the seal's trust; the first failure, or PASSED."""
        checked = self._check_record(license)
        return _first_failure(checked.integrity, checked.identity)

    def current_version(self, license: License, now: dt.datetime) -> Current | None:
        """For a stored SUPERSEDED version, for other services (sharing: a read or a copy of a version superseded
        since), the version in force at ``now`` and its standing on the day (China time), as ``VerifyLicense``
        states them (``_chain``: only along links an amendment made, of records the gateway vouches for); None for a
        version not superseded, or without such a link. A department holding the identifier of the first version
        in a case receipt read its data and got its copy as 已变更 only, the license revoked since (a reviewer, scen1
        R3)."""
        if license.status is not LicenseStatus.SUPERSEDED:
            return None
        checked = self._checked_by_id(license.license_id)
        if checked is None or not checked.successor_id:
            return None
        return self._current_of(self._chain(checked), _day(now))

    def as_stored(self, license: License) -> tuple[bool, bool]:
        """Whether the gateway vouches for a stored record, for the issuer's writes (``IssuanceService``): its seal
        holds over it (the seal's memo, else its signature), and its status is one the gateway stored (its memo), as
        (record, status). Only the seal over the record and the two memos: an amendment or a status change must not
        seal or memo what was changed behind the gateway's back (a reviewer, R1), while the seal's trust (a seal
        revoked or expired since) is no reason to refuse one."""
        known = self._seal_by_key(license.seal.key_id)
        record = known is not None and self._integrity(license, known, trust_memo=True).result is CheckResult.PASSED
        return record, self._status_integrity(license) is PASSED

    def _subjects(self, license: License) -> tuple[str, ...]:
        """The co-subjects of ``license`` (``license_subjects``); of a type with no field that may state one, none,
        without looking (most licenses: 营业执照, 食品生产许可证)."""
        if license.content.type_code not in self._subject_types:
            return ()
        return license_subjects(license, self._catalog)

    def record_subjects(self, license: License) -> tuple[str, ...]:
        """The co-subjects of a stored record for a record about it (a refused call's, sharing's, an access
        request's): only of a record whose seal vouches for it, as a check names them (``_Checked.subjects``); a
        type with no field that may state one is not looked into."""
        if license.content.type_code not in self._subject_types:
            return ()
        return self._check_record(license).subjects

    def _check_record(self, license: License) -> _Checked:
        """Integrity and issuer identity of a stored record: its seal over the record, the seal's trust."""
        known = self._seal_by_key(license.seal.key_id)
        status = self._status_integrity(license)
        vouched = status is PASSED
        if known is None:
            return _Checked(
                license=license,
                integrity=_UNKNOWN_SEAL_KEY,
                identity=_NOT_CHECKED,
                status_vouched=vouched,
                record_vouched=False,
            )
        sealed = self._integrity(license, known, trust_memo=True)
        if sealed.result is not CheckResult.PASSED:  # a seal that does not hold says nothing of who sealed, or when
            identity = _SEAL_FAILED
        elif not vouched:  # the sealing time the seal's trust is judged at is not the one the gateway stored
            identity = _TIME_UNVOUCHED
        else:
            identity = _first_failure(
                identity_at(
                    known.base,
                    known.certificate,
                    at=license.created_at,
                    revoked_at=known.seal.revoked_at,
                    time_trusted=True,
                ),
                _owner_finding(known.seal, license.content.issuer_code),
                authority_finding(license, self._catalog),
            )
        record_vouched = sealed.result is CheckResult.PASSED
        return _Checked(
            license=license,
            integrity=_first_failure(sealed, status),
            identity=identity,
            status_vouched=vouched,
            record_vouched=record_vouched,
            # co-subjects only of a record its seal vouches for: an edit must not name a stranger
            subjects=self._subjects(license) if record_vouched else (),
            successor_id=_successor_id(license) if record_vouched and vouched else "",
        )

    def _integrity(self, license: License, known: _KnownSeal, *, trust_memo: bool) -> Finding:
        """The record seal's integrity finding; without ``trust_memo`` the signature is verified whatever memo the
        license holds (and whatever verified before). A record whose row cannot be read fails, whatever it hashes to
        (its fields read as none might be those sealed)."""
        if license.unreadable:
            return _RECORD_UNREADABLE
        return record_integrity(
            license.content.record_mapping(),
            license.seal,
            known.public_key_der,
            verified=self._verified if trust_memo else None,
            memo=license.seal_memo,
            memos=self._memos if trust_memo else None,
        )

    def _status_integrity(self, license: License) -> Finding:
        """The stored status is one the gateway stored (its memo, ``SealMemos.status``): the record seal does not
        cover it, and a revoked license set ACTIVE in the store must not pass."""
        if self._memos is None or self._memos.vouches_status(
            license.license_id,
            license.status.value,
            license.status_reason,
            license.status_changed_at,
            license.created_at,
            license.status_memo,
        ):
            return PASSED
        return _STATUS_ALTERED

    def _seal_by_key(self, key_id: str) -> _KnownSeal | None:
        generation = self._feed.generation
        known = self._cached_seal(key_id)
        if known is not None:
            return known
        seal = self._seals.by_key(key_id)
        return asyncio.run(self._learn(seal, generation)) if seal is not None else None

    async def _known_identity(self, cert: x509.Certificate, at: dt.datetime) -> IdentityFinding | None:
        """The trust check of a seal certificate the gateway issued, from the cached chain check and the seal's
        revocation time in the store; None for any other certificate (then checked in full). Runs inside
        ``validate``'s event loop, so a chain check still to be made is awaited."""
        key_id = public_key_id(cert)
        generation = self._feed.generation
        known = self._cached_seal(key_id)
        if known is None:
            seal = self._seals.by_key(key_id)
            if seal is None:
                return None
            known = await self._learn(seal, generation)
        if known.certificate != cert:
            return None
        return identity_finding_at(known.base, cert, at=at, revoked_at=known.seal.revoked_at)

    def _seal_by_key_prefix(self, prefix: str) -> _KnownSeal | None:
        generation = self._feed.generation
        with self._lock:
            known = next((k for key_id, k in self._known_seals.items() if key_id.startswith(prefix)), None)
        if known is not None:
            return known
        with self._db.unit_of_work() as uow:
            seal = uow.seals.by_key_prefix(prefix)
        return asyncio.run(self._learn(seal, generation)) if seal is not None else None

    def _cached_seal(self, key_id: str) -> _KnownSeal | None:
        with self._lock:
            return self._known_seals.get(key_id)

    async def _learn(self, seal: Seal, generation: int) -> _KnownSeal:
        """Parse the seal's certificate, check its chain once, and keep both unless the seal changed meanwhile."""
        certificate = x509.load_der_x509_certificate(seal.certificate_der)
        if seal.algorithm == SM2_SM3 and self._seals.sm2_ca is None:
            # its chain is SM3withSM2 up to the SM2 seal maker, which a process without SM2 lacks: judged against the
            # other roots, a genuine seal had been FAILED / UNTRUSTED_ROOT (a reviewer)
            unrooted = await async_chain_identity(certificate, trust_roots=(), intermediates=(), crls=())
            return self._keep(seal, certificate, _sm2_chain_unchecked(unrooted), generation)
        base = await async_chain_identity(
            certificate,
            trust_roots=self._seals.trust_roots(),
            intermediates=self._seals.intermediates(),
            crls=self._crls_now(),
        )
        return self._keep(seal, certificate, base, generation)

    def _keep(self, seal: Seal, certificate: x509.Certificate, base: IdentityFinding, generation: int) -> _KnownSeal:
        seal = self._seals.as_revoked(seal)  # a revocation undone in the store is not undone (revocations are final)
        known = _KnownSeal(seal=seal, certificate=certificate, public_key_der=public_key_der(certificate), base=base)
        with self._unchanged_since(generation) as unchanged:
            if unchanged:  # nothing changed while we looked: safe to keep
                self._known_seals[seal.key_id] = known
        return known

    def _crls_now(self) -> tuple[bytes, ...]:
        """The CRLs to judge by now: those kept, until a seal changes or the gateway's clock comes within
        ``CRL_RENEWAL`` of the earliest nextUpdate among them (or is set back before they were made), then made anew
        (``SealService.crls``: valid a day)."""
        # first, as in _seal_by_key: hears other processes' changes (a seal revoked through another worker drops the
        # CRLs here), so a stamp is never judged by CRLs older than the last revocation returned
        generation = self._feed.generation
        with self._lock:
            kept = self._crls
        now = self._clock.now()
        if kept is not None and kept.made_at <= now < kept.renew_at:
            return kept.crls
        crls = self._seals.crls()
        made = _Crls(crls=crls, made_at=now, renew_at=_earliest_next_update(crls) - CRL_RENEWAL)
        with self._unchanged_since(generation) as unchanged:
            if unchanged:
                self._crls = made
        return crls

    @contextlib.contextmanager
    def _unchanged_since(self, generation: int) -> Iterator[bool]:
        """Hold the cache lock and say whether no change was heard since ``generation``. Changes are heard first,
        outside the lock (on SQLite hearing one calls ``_forget``, which takes the lock: heard under it, the thread
        waited on itself for ever); under the lock only what was heard is compared. A change heard after that
        comparison is forgotten after the caller's keeping, since its listener waits for the lock."""
        self._feed.poll()
        with self._lock:
            yield self._feed.heard == generation

    def _forget(self, keys: frozenset[str]) -> None:
        """Change feed listener: drop what changed (everything when told "*")."""
        with self._lock:
            if "*" in keys:
                self._checked.clear()
                self._known_seals.clear()
                self._crls = None
                return
            for key in keys:
                kind, _, name = key.partition(":")
                if kind == "license":
                    self._checked.pop(name, None)
                elif kind == "seal":  # rare: a checked license holds its seal's identity, so drop them all
                    self._known_seals.pop(name, None)
                    self._checked.clear()
                    self._crls = None

    def _report_of(
        self,
        action: AuditAction,
        caller: Member,
        use: UseContext,
        query: Mapping[str, object],
        integrity: Finding,
        identity: Finding,
        checked: _Checked,
        now: dt.datetime,
    ) -> Report:
        """The report of a check of the stored license ``checked`` made now: its status on the day, with the version
        in force of a superseded one, and its co-subjects."""
        status, current = self._status(checked, now)
        license = checked.license
        return self._report(
            action,
            caller,
            use,
            query,
            integrity,
            status,
            identity,
            license,
            now,
            current=current,
            subjects=checked.subjects,
        )

    def _report(
        self,
        action: AuditAction,
        caller: Member,
        use: UseContext,
        query: Mapping[str, object],
        integrity: Finding,
        status: Finding,
        identity: Finding,
        license: License | None,
        now: dt.datetime,
        *,
        current: Current | None = None,
        subjects: tuple[str, ...] = (),
    ) -> Report:
        """The report of a check made now, with its receipt; ``subjects`` are the co-subjects of ``license``
        (``_Checked.subjects``)."""
        outcome = self._outcome(integrity, status, identity, license, _day(now), current=current, subjects=subjects)
        return self._answer(action, caller, use, query, outcome, now)

    def _outcome(
        self,
        integrity: Finding,
        status: Finding,
        identity: Finding,
        license: License | None,
        day: dt.date,
        *,
        kept: bool = False,
        current: Current | None = None,
        subjects: tuple[str, ...] = (),
    ) -> Outcome:
        result, reason = verdict(integrity, status, identity)
        # a stored status the gateway did not store is not stated as the license's, in the summary or the receipt;
        # nor is anything of a record whose seal fails beyond what its identifier says
        vouched = status is not _RECORD_UNVOUCHED
        known = license is not None and vouched and status is not _STATUS_UNKNOWN
        findings = {
            "integrity": _finding_map(integrity),
            "status": _finding_map(status),
            "issuer_identity": _finding_map(identity),
        }
        return Outcome(
            verdict=result,
            reason=reason,
            integrity=integrity,
            status=status,
            issuer_identity=identity,
            license=license,
            license_status=license.effective_status(day) if known and license is not None else None,
            status_since=status_since(license, day) if known and license is not None else None,
            record_vouched=vouched,
            current=current,
            subjects=subjects,
            statement={
                "kind": "verification",
                "verdict": result.value,
                "reason": reason or "",
                "findings": canonical_fragment(findings, trusted=True),
                "license": canonical_fragment(self._summary(license, day, known, vouched), trusted=True)
                if license
                else None,
            },
            kept=kept,
        )

    def _answer(
        self,
        action: AuditAction,
        caller: Member,
        use: UseContext,
        query: Mapping[str, object],
        outcome: Outcome,
        now: dt.datetime,
    ) -> Report:
        """The report of ``outcome`` with its receipt, signed and stored."""
        statement = {"query": query, **outcome.statement}
        receipt = self._sign_and_store(
            action,
            caller,
            use,
            statement,
            outcome.license,
            outcome.verdict.value,
            outcome.reason or "",
            now,
            outcome.subjects,
        )
        results = (outcome.integrity.result.value, outcome.status.result.value, outcome.issuer_identity.result.value)
        metrics.record_verification(action.value, outcome.verdict.value, results)
        return Report(outcome=outcome, checked_at=now, receipt=receipt)

    def _summary(self, license: License, on: dt.date, status_known: bool, vouched: bool) -> dict[str, object]:
        """The receipt's summary of ``license``; its status and date are empty when unknown (``STATUS_ALTERED``), and
        of a record whose seal fails (not ``vouched``) only what its identifier says: type, issuer and version."""
        if not vouched:
            named = LicenseId.parse(license.license_id)
            return {
                "license_id": license.license_id,
                "type_code": named.type_code,
                "issuer_code": named.issuer_code,
                "valid_from": "",
                "valid_until": "",
                "status": "",
                "status_since": "",
                "version": named.version,
            }
        content = license.content
        since = status_since(license, on) if status_known else None
        return {
            "license_id": license.license_id,
            "type_code": content.type_code,
            "issuer_code": content.issuer_code,
            "valid_from": content.valid_from.isoformat(),
            "valid_until": content.valid_until.isoformat() if content.valid_until else "",
            "status": license.effective_status(on).value if status_known else "",
            "status_since": since.isoformat() if since else "",
            "version": content.version,
        }

    def _sign_and_store(
        self,
        action: AuditAction,
        caller: Member,
        use: UseContext,
        statement: Mapping[str, object],
        license: License | None,
        decision: str,
        reason: str,
        now: dt.datetime,
        subjects: tuple[str, ...] = (),
    ) -> StoredReceipt:
        """Have the group commit make the receipt and its access record, sign the group's receipts with one
        signature (``signing.receipts``) and store them; returns the signed receipt once committed. The records are
        made by the group commit (its writer thread, or its preparing thread on PostgreSQL), not here: Python on the
        gRPC handler threads costs several times what it costs on a thread of its own (ADR 0005, second round). The
        record names ``subjects``, the co-subjects of ``license`` found when it was checked (``_Checked``): nothing
        is looked up for them here or in the group commit, and a license without any adds nothing to either."""
        return self._write(_ToReceipt(action, caller, use, statement, license, decision, reason, now, subjects))

    def _write(self, answer: _ToReceipt) -> StoredReceipt:
        result = self._receipts.write(answer)
        if isinstance(result, Exception):
            try:
                raise result
            finally:
                del result  # not kept in this frame, which its traceback holds (``GroupWriter.write``)
        assert result is not None  # _store gives every item its signed receipt or its failure
        return result

    def _records(self, answer: _ToReceipt, receipt_id: str) -> tuple[bytes, AuditEntry]:
        """The receipt statement of ``answer`` and its access record."""
        caller, use, license, now = answer.caller, answer.use, answer.license, answer.at
        full = {
            "receipt_id": receipt_id,
            "issued_at": now.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "caller": caller.code,
            "matter_code": use.matter_code,
            "purpose": use.purpose,
            **({"bundle_code": use.bundle_code, "case_id": use.case_id} if use.case_id else {}),
            **answer.statement,
        }
        entry = AuditEntry(
            at=now,
            caller=caller.code,
            operator=use.operator,
            action=answer.action,
            matter_code=use.matter_code,
            purpose=use.purpose,
            license_id=license.license_id if license is not None else "",
            issuer_code=license.content.issuer_code if license is not None else "",
            holder_code=license.content.holder.code if license is not None else "",
            decision=answer.decision,
            reason=answer.reason[:64],
            receipt_id=receipt_id,
            subjects=answer.subjects,
        )
        # built here: ASCII keys, no floats; one no checker would take fails this answer alone, signed never
        return signable(canonical_json(full, trusted=True)), entry

    def _make_receipts(self, answers: Sequence[_ToReceipt]) -> list[_Made | Exception]:
        """The group commit's first stage: make each answer's receipt and access record and sign the receipts with
        one signature. An answer whose records cannot be made gets its exception; the rest of the group goes on."""
        if self._certificates is not None:
            try:  # the store's receipt key is another now: what this key signs checks CERT_REVOKED (no read here)
                self._certificates.refuse_if_retired()
            except UpstreamUnavailableError as exc:
                return [exc for _ in answers]
        made: list[tuple[bytes, AuditEntry] | Exception] = []
        end = self._receipt_key.certificate.not_valid_after_utc
        for answer, receipt_id in zip(answers, self._ids(len(answers)), strict=True):
            if answer.at > end:  # checked as at its issued_at: CERT_EXPIRED for every checker, for good
                made.append(receipt_certificate_ended(end))
                continue
            try:
                made.append(self._records(answer, receipt_id))
            except Exception as exc:  # a defect in one answer fails that call only
                made.append(exc)
        good = [m for m in made if not isinstance(m, Exception)]
        signed = iter(sign_receipts(self._receipt_key.key, [statement for statement, _ in good]) if good else ())
        return [
            m if isinstance(m, Exception) else self._signed(answer, m[1], next(signed))
            for answer, m in zip(answers, made, strict=True)
        ]

    @staticmethod
    def _signed(answer: _ToReceipt, entry: AuditEntry, signed: SignedReceipt) -> _Made:
        use = answer.use
        receipt = StoredReceipt(
            receipt_id=entry.receipt_id,
            statement=signed.statement,
            signature=signed.signature,
            algorithm=signed.algorithm,
            caller=entry.caller,
            matter_code=use.matter_code,
            license_id=entry.license_id if answer.names_license else "",
            created_at=answer.at,
            bundle_code=use.bundle_code,
            case_id=use.case_id,
            proof=signed.proof,
        )
        return receipt, entry

    def _store(self, uow: AppendWork, made: Sequence[_Made | Exception]) -> list[StoredReceipt | Exception]:
        """The group commit's second stage: store the signed receipts and their access records."""
        good = [m for m in made if not isinstance(m, Exception)]
        seqs: dict[str, int] = {}
        if self._audit is not None:  # first: a receipt already in the store tells a trail deleted from a new one
            records = self._audit.append(uow, [entry for _, entry in good])
            # each receipt in the commit order: its access record's number, drawn under the chain lock held to the
            # commit (a case's pages go by it: ``case_receipts``)
            seqs = {record.entry.receipt_id: record.seq for record in records if record.entry.receipt_id}
        stored = {
            receipt.receipt_id: dataclasses.replace(receipt, seq=seqs.get(receipt.receipt_id)) for receipt, _ in good
        }
        uow.receipts.add(list(stored.values()))
        if good:  # a connection lost at the commit: the group committed if its first receipt is there
            first = good[0][0].receipt_id
            uow.landed_if(lambda later: later.receipts.exists(first))
        return [m if isinstance(m, Exception) else stored[m[0].receipt_id] for m in made]


def public_key_id(cert: x509.Certificate) -> str:
    return key_id_of(public_key_der(cert))


def _failed_check(signature: PdfVerification | None) -> str:
    """The code of the first check ``signature`` (one named as the gateway names its seals, validated) did not pass:
    SIGNATURE_INVALID for one that cannot be read; "" when both pass (a seal of the receipts' name, say)."""
    if signature is None:
        return "SIGNATURE_INVALID"
    for finding in (signature.integrity, signature.issuer_identity):
        if finding.result is not CheckResult.PASSED:
            return finding.reason or finding.result.name
    return ""


def _drawn_after_sealing(drawn: Sequence[str], failed: str = "") -> Finding:
    """A sealed document with something drawn on its pages after the seal: a signature's or a form field's box
    (other than the gateway's own use stamp) or an annotation ("page 1: FreeText"). PDF lets an update add them with
    the seal intact, but what they draw can cover the sealed text with other words (an editor's "add text" paints a
    white box and new digits over a printed 身份证件号), and the registry's summary shows too little of the license
    to tell: FAILED / DOCUMENT_MODIFIED (签章已被篡改), naming them, as any other change to the sealed page. It had
    been INDETERMINATE / CHANGED_AFTER_SEAL with the license shown from the registry (a reviewer of the journeys)."""
    said = "签章完好，但文件在盖章后被加上了签名、填写内容或批注，它们可能遮盖或改写盖章时的内容：文件已被改动"
    if failed:  # a seal named as the gateway's that did not check: said why, as an invisible one is (a reviewer,
        said += f"；其中按本网关印章命名的签章未通过核验（{failed}）"  # seals R3), not as an applicant's scribble
    named = _named([repr(name[:64]) + (f" ({failed})" if failed else "") for name in drawn])
    english = (
        f"the seal is intact, but the document was signed, filled in or commented after it ({named}): what those "
        "draw may cover or change the sealed page; the document was changed"
    )
    return Finding(result=CheckResult.FAILED, reason="DOCUMENT_MODIFIED", detail=_bilingual(said, english))


def _not_judged_after_sealing(names: Sequence[str]) -> Finding:
    """A sealed document with more signatures drawn after its seal that may be the gateway's own than are validated
    (``MAX_LATER_SIGNATURES``): none is vouched for, so what they draw is as anything else drawn after the seal,
    FAILED / DOCUMENT_MODIFIED, but the detail says they were not checked rather than naming them as changes."""
    said = (
        f"签章完好，但盖章后又加盖了{len(names)}个签章，多于核验的{MAX_LATER_SIGNATURES}个，均未核验："
        "它们可能遮盖盖章时的内容，文件视为已被改动"
    )
    named = _named([repr(name[:64]) for name in names])
    english = (
        f"the seal is intact, but {len(names)} seals were added after it, more than the {MAX_LATER_SIGNATURES} "
        f"checked, so none was: the document counts as changed ({named})"
    )
    return Finding(result=CheckResult.FAILED, reason="DOCUMENT_MODIFIED", detail=_bilingual(said, english))


def _use_stamp(stamp: PdfVerification) -> bool:
    """Whether a signature shown after a document's seal is the gateway's own use stamp (the 用证 watermark a
    sharing copy carries, ``gateway.services.sharing.UseStamper``): intact, by a 核验回执专用章 that chains to the
    seal-maker root (a name only the gateway's seals have: ``RESERVED_SEAL_NAMES``). What is shown after it is
    judged by itself."""
    return (
        stamp.integrity.result is CheckResult.PASSED
        and stamp.issuer_identity.result is CheckResult.PASSED
        and stamp.seal_name == RECEIPT_SEAL_NAME
    )


def _further_seal(seal: PdfVerification) -> bool:
    """Whether a signature shown after a document's seal is a seal of one of the gateway's departments
    (``SealDocument``): intact, covering its whole revision and so everything before it, and by a seal certificate
    that chains to the seal-maker root and passes (``issuer_identity``), not the receipts' seal. One that does not
    (revoked before it sealed, a look-alike CA, another CA) is drawn on the page as any other signature."""
    return (
        seal.integrity.result is CheckResult.PASSED
        and seal.issuer_identity.result is CheckResult.PASSED
        and seal.seal_name != RECEIPT_SEAL_NAME
    )


def _sealed_further(integrity: Finding, seals: Sequence[PdfVerification]) -> Finding:
    """A document's integrity finding, naming the gateway's seals added after the one judged (``_further_seal``)
    when it passed: each one's owner and seal name, and its field."""
    if integrity.result is not CheckResult.PASSED or not seals:
        return integrity
    owners = [f"{seal.subject_name or ''}{seal.seal_name or ''}" or seal.field_name[:64] for seal in seals]
    said = f"签章完好；其后又加盖了本网关的印章：{'、'.join(owners[:4])}{'等' if len(owners) > 4 else ''}"
    named = _named([f"{owner} ({seal.field_name[:64]!r})" for owner, seal in zip(owners, seals, strict=True)])
    english = f"the seal is intact; seals of this gateway were added after it: {named}"
    return Finding(result=CheckResult.PASSED, reason=integrity.reason, detail=_bilingual(said, english))


def _signed_in_the_issuers_name(impostors: Sequence[tuple[str, str]]) -> Finding:
    """A registered document signed after its seal, invisibly, in its issuer's name by a certificate the registry
    does not vouch for, or with signatures that were not judged (``VerificationService._impostors``):
    INDETERMINATE / CHANGED_AFTER_SEAL. The page is the one sealed, so the license is still found, and its summary
    is the registry's; but a viewer's signature panel shows such a signature as the one covering the document."""
    said = (
        "签章完好，但文件在盖章后被以发证部门的名义签名，所用证书未通过核验或签名未经核验；"
        "PDF阅读器可能把这样的签名显示为文件的签名，请以登记库的证照信息为准"
    )
    named = _named([f"{name[:64]!r} ({why})" for name, why in impostors])
    english = (
        "the seal is intact, but the document was signed after it in the issuer's name by a certificate that "
        f"does not check, or by signatures not judged ({named}): a PDF viewer may show such a signature as the "
        "document's; rely on the registry's summary"
    )
    return Finding(result=CheckResult.INDETERMINATE, reason="CHANGED_AFTER_SEAL", detail=_bilingual(said, english))


def _named(names: Sequence[str]) -> str:
    """The first four of what a document had added after its seal, as said in a finding's English."""
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _bilingual(said: str, english: str) -> str:
    """``said（english）`` within a finding's length: the names are a forger's to choose, so the English is
    clipped, never the Chinese or the closing ）."""
    room = MAX_DETAIL - len(said) - 2
    if len(english) > room:
        english = english[: room - 1] + "…"
    return f"{said}（{english}）"


def _superseded_by(status: Finding, current: Current | None) -> Finding:
    """A SUPERSEDED version's status finding naming the version in force and its status now: still FAILED (this
    version is not current), but a clerk holding a paper printed before the 变更 sees that the license itself is
    fine, or not, without starting over. Said in the receipt too (its findings' details)."""
    if current is None or status.reason != "SUPERSEDED":
        return status
    now = current.status.value if current.status is not None else "UNSPECIFIED"
    if current.standing.result is not CheckResult.PASSED and current.standing.reason != now:
        now += f" ({current.standing.reason})"  # ACTIVE but NOT_YET_VALID, or its record or seal failing
    said = f"证照已变更，此版本不再现行；现行版本 {current.license_id} {_standing_now(current)}"
    return dataclasses.replace(
        status, detail=f"{said}（a newer version replaced this one: {current.license_id}, now {now}）"
    )


def _standing_now(current: Current) -> str:
    """The standing of a version in force, for a clerk: 目前有效, 目前已吊销或撤销, 目前尚未生效, …"""
    if current.status is None:  # its record or its stored status is not the gateway's
        return "目前状态无法确认"
    standing = current.standing
    if standing.result is CheckResult.PASSED or standing.reason == current.status.value:
        return f"目前{current.status.label}"
    if standing.reason == "NOT_YET_VALID":
        return "目前尚未生效"
    return f"目前{current.status.label}，但未通过核验"  # its record or its seal


def _superseded_at_check(statement: bytes | Mapping[str, Any] | None) -> bool | None:
    """Whether a receipt's check found its license version SUPERSEDED already (``standing_now``): a verification
    states the status it found; a claim answered valid, suspended or not yet valid found the version's own status, one
    no longer valid says SUPERSEDED as its reason. None when the statement says neither (a status not known then, a
    claim answered otherwise, no statement), and the times decide."""
    if isinstance(statement, bytes):
        try:
            statement = json.loads(statement)
        except ValueError:
            return None
    if not isinstance(statement, Mapping):
        return None
    if statement.get("kind") == "claim":
        if statement.get("result") == ClaimResult.NO_LONGER_VALID.name:
            return True if statement.get("status_reason") == "SUPERSEDED" else None
        return False if statement.get("result") in _CLAIMS_OF_ITS_OWN_STATUS else None
    license = statement.get("license")
    stated = license.get("status") if isinstance(license, Mapping) else None
    if not isinstance(stated, str) or not stated:
        return None
    return stated == LicenseStatus.SUPERSEDED.value


_CLAIMS_OF_ITS_OWN_STATUS = frozenset(
    result.name for result in (ClaimResult.CORRECT_AND_VALID, ClaimResult.SUSPENDED, ClaimResult.NOT_YET_VALID)
)
"""Claim answers given for the version's own status: a superseded version is answered NO_LONGER_VALID."""


def _amended_since(current: Current) -> Finding:
    """A case receipt's license superseded since: its standing is its version in force's, said as amended since."""
    standing = current.standing
    if standing.result is CheckResult.PASSED:
        return PASSED
    said, english = _halves(standing.detail)
    return dataclasses.replace(
        standing,
        detail=f"证照已变更，现行版本 {current.license_id}：{said}"
        f"（the license was amended since; its current version {current.license_id}: {english}）",
    )


def _halves(detail: str) -> tuple[str, str]:
    """The Chinese and the English of a finding's detail, ``中文（English）``; the gateway's Chinese holds no
    full-width bracket (the English may: it quotes what the checked input says)."""
    said, _, english = detail.partition("（")
    return said, english.removesuffix("）")


def _standing(finding: Finding, current: Current | None = None, *, passed: str = "") -> Standing:
    if current is None:
        return Standing(result=finding.result, reason=finding.reason or "", detail=finding.detail)
    if finding.result is CheckResult.PASSED:
        status = current.status.value if current.status is not None else "UNSPECIFIED"
        detail = (
            f"证照已变更，现行版本 {current.license_id} {_standing_now(current)}"
            f"（the license was amended since: its current version {current.license_id} is {status}）"
        )
        return Standing(result=finding.result, reason=passed, detail=detail, current_license_id=current.license_id)
    return Standing(
        result=finding.result,
        reason=finding.reason or "",
        detail=finding.detail,
        current_license_id=current.license_id,
    )


def _successor_id(license: License) -> str:
    """The identifier of the version that superseded ``license`` when an amendment made the link: the next
    identifier (``LicenseId.next_version``), which its ``superseded_by`` names; else empty (not superseded, the last
    version, or a link changed in the store)."""
    if license.status is not LicenseStatus.SUPERSEDED:
        return ""
    try:
        named = LicenseId.parse(license.license_id)
    except ValueError:
        return ""
    if named.version >= MAX_VERSION:  # no next identifier
        return ""
    successor_id = str(named.next_version())
    return successor_id if license.superseded_by == successor_id else ""


def _stamps_unavailable(cause: str) -> ConflictError:
    """FAILED_PRECONDITION / SM2_UNAVAILABLE: a GB/T 38540 stamp (SM2, by an SM2 seal the SM2 seal maker certified)
    cannot be checked on a process whose system OpenSSL has no SM2."""
    return ConflictError(
        "本网关实例的 OpenSSL 不支持 SM2，不能核验电子签章，请到支持SM2的网关实例核验，或联系网关运维"
        f"（this gateway process cannot check GB/T 38540 stamps: its system OpenSSL offers no SM2 ({cause}); check "
        "the stamp where OpenSSL has SM2）",
        reason="SM2_UNAVAILABLE",
    )


def _sm2_chain_unchecked(unrooted: IdentityFinding) -> IdentityFinding:
    """The chain finding of an SM2 seal on a process without SM2 (no SM2 seal maker), given its check against no root:
    INDETERMINATE (``SM2_UNAVAILABLE``), neither trusted nor refused, unless the certificate fails by itself (a CA's,
    one that cannot be read)."""
    if unrooted.reason != "UNTRUSTED_ROOT":
        return unrooted
    return dataclasses.replace(
        unrooted,
        result=CheckResult.INDETERMINATE,
        reason="SM2_UNAVAILABLE",
        detail="本网关实例的 OpenSSL 不支持 SM2，无法核验SM2印章证书的信任链，请到支持SM2的网关实例核验"
        "（the SM2 seal's certificate chain cannot be checked on this gateway process: its system OpenSSL offers no "
        "SM2; check it where OpenSSL has SM2）",
    )


def _with_its_timestamp(checked: PdfVerification) -> Finding:
    """A PDF seal's issuer identity with what its timestamp says. A token that does not match the seal's signature
    (swapped in from another document, or altered: the byte range leaves it out) fails it, TIMESTAMP_INVALID, as a
    GB/T 38540 stamp's false time does, before any other finding of the seal. One from a TSA the gateway does not
    trust leaves the sealing time unproven: a seal that passes as of now is INDETERMINATE / TIMESTAMP_UNTRUSTED, one
    undecided for want of that time (CERT_REVOKED_NO_TRUSTED_TIME …) keeps its reason, its detail saying why the
    timestamp is not trusted, and one that fails on its own keeps its finding.
    VerifyDocument had dropped both, and read such a seal exactly as an intact one (a reviewer, R2)."""
    timestamp, identity = checked.timestamp, checked.issuer_identity
    if timestamp.result is not CheckResult.FAILED:
        return identity
    if timestamp.reason == "TIMESTAMP_INVALID":
        return timestamp
    if identity.result is CheckResult.FAILED:
        return identity
    if identity.result is CheckResult.PASSED:
        return Finding(result=CheckResult.INDETERMINATE, reason=timestamp.reason, detail=timestamp.detail)
    return Finding(result=identity.result, reason=identity.reason, detail=f"{identity.detail}；{timestamp.detail}")


def _first_failure(*findings: Finding) -> Finding:
    for result in (CheckResult.FAILED, CheckResult.INDETERMINATE):
        for finding in findings:
            if finding.result is result:
                return finding
    return PASSED


def _owner_finding(seal: Seal, issuer_code: str) -> Finding:
    """The seal is the issuer's: ``issuer_code``, a license's issuer (or the one a code's identifier names)."""
    if seal.issuer_code != issuer_code:
        return Finding(
            result=CheckResult.FAILED,
            reason="SEALED_BY_ANOTHER",
            detail="印章不属于证照的发证部门（the seal belongs to someone other than the license's issuer）",
        )
    return PASSED


def _finding_map(finding: Finding) -> dict[str, Any]:
    return {"result": finding.result.value, "reason": finding.reason or "", "detail": finding.detail}


MAX_RECEIPT_ID = 64
"""Receipt ids are 32 hex digits (``new_receipt_ids``); a longer one names no receipt and is not looked up."""
DEFAULT_CASE_PAGE = 200
MAX_CASE_PAGE = 1000


CASE_READ_ROWS = 2000
"""The most receipts of a case one read of a ``ListCaseReceipts`` page asks for, reading on past receipts of types
the matter does not use (each read twice the one before, from a page and one more)."""


def _fitting(
    receipts: Sequence[StoredReceipt], size_of: Callable[[StoredReceipt], int], max_bytes: int
) -> list[StoredReceipt]:
    """The first of ``receipts`` that together take at most ``max_bytes`` (``size_of`` each): at least one, else
    REPLY_TOO_LARGE, before anything is on the audit trail."""
    used = 0
    for n, receipt in enumerate(receipts):
        used += size_of(receipt)
        if used > max_bytes:
            if n == 0:
                raise ResourceExhaustedError(
                    f"回执过大，超出网关的消息上限，无法返回（a receipt of {used} bytes, more than the gateway's "
                    "message limit allows, ZZGW_MAX_MESSAGE_BYTES）",
                    reason="REPLY_TOO_LARGE",
                )
            return list(receipts[:n])
    return list(receipts)


def _case_place(receipt: StoredReceipt) -> CasePlace:
    """Where a case's listing goes on after ``receipt``: its place in the commit order, or, for one stored before
    schema 0035 (listed first), its time and id (``ReceiptRepository.of_case``)."""
    return receipt.seq if receipt.seq is not None else (receipt.created_at, receipt.receipt_id)


def _case_page_end(last: StoredReceipt) -> str:
    """Where the next page of a case's receipts starts (a page token's position, ``PageTokens``): after the last
    one's place in the commit order (``@`` and its ``seq``), or, for one stored before schema 0035, after its time (µs
    since the epoch) and id, the form every token had before, so that a token given then is still taken. Pages had
    gone by time alone, the check's, taken before the receipt committed: one committed late, dated before a page
    already read, was on no later page (a reviewer)."""
    if last.seq is not None:
        return f"@{last.seq}"
    micros = (last.created_at - _EPOCH) // dt.timedelta(microseconds=1)
    return f"{micros}.{last.receipt_id}"


def _case_position(position: str | None) -> CasePlace | None:
    """The place ``_case_page_end`` wrote, None for the first page. The token was sealed to this caller's listing of
    this case under this matter (``PageTokens.position``): one of another case had been taken as a place in this one,
    leaving out this case's earlier receipts without a word (found by a black-box tester)."""
    if position is None:
        return None
    if position.startswith("@"):
        return int(position[1:])
    micros, receipt_id = position.split(".")
    return _EPOCH + dt.timedelta(microseconds=int(micros)), receipt_id


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _unclaimable(license_type: LicenseType, fields: Mapping[str, str], matter: Matter) -> list[FieldViolation]:
    """The claimed keys a claim cannot be about: no field of the type (a mistyped key read as a mismatch); a
    secret field, which never leaves the gateway (answering "it matches" would confirm a guess of a photo reference
    or the like); or a field the request's matter does not use of that type (its materials, 材料): a claim confirms
    what an applicant filled in for the matter, and "it matches" on any other field would confirm guesses of data
    the sharing policy keeps from the matter; nor a field never shared (不予共享: its own class, else its type's), which
    the matter may list and never read: "it matches" would confirm, five wrong guesses a day, what no approval or
    consent lets out (found by a catalog designer tester: 0 for the right 日常监督检查记录, 7 for another); nor a
    sensitive field the matter sees only masked (its materials do not name it in ``full_fields``): a department shown
    山东省济南市****** would confirm a guessed house number, one try a day at a time. The holder's name may be claimed
    of any type, with the number."""
    materials = [material for material in matter.materials if material.type_code == license_type.code]
    used = {key for material in materials for key in (*material.fields, *material.full_fields)}
    seen_whole = {key for material in materials for key in material.full_fields}
    found = []
    for key in sorted(fields):
        spec = license_type.field_spec(key)
        if key == HOLDER_NAME:
            continue
        if spec is None:
            found.append(
                FieldViolation(
                    field=f"fields.{key}",
                    reason="UNKNOWN_FIELD",
                    description=f"{license_type.name}没有这个信息项（no such field）",
                )
            )
        elif spec.sensitivity is Sensitivity.SECRET:
            found.append(
                FieldViolation(
                    field=f"fields.{key}",
                    reason="NOT_CLAIMABLE",
                    description=f"{spec.label}是保密信息，不能通过核对确认（{spec.label} is secret: a claim "
                    "cannot confirm it）",
                )
            )
        elif key not in used:
            found.append(
                FieldViolation(
                    field=f"fields.{key}",
                    reason="NOT_USED_BY_MATTER",
                    description=f"事项 {matter.code}（{matter.name}）不使用{license_type.name}的{spec.label}"
                    f"（matter {matter.code} does not use the field {spec.key} of {license_type.code}）",
                )
            )
        elif license_type.field_sharing_class(key) is SharingClass.NOT_SHARED:
            found.append(
                FieldViolation(
                    field=f"fields.{key}",
                    reason="NOT_CLAIMABLE",
                    description=f"{license_type.name}的{spec.label}不予共享，不能通过核对确认；持证人出示的证照仍可核验"
                    f"（{spec.key} of {license_type.code} is not shared: a claim cannot confirm it; verify the license "
                    "its holder shows）",
                )
            )
        elif spec.sensitivity is Sensitivity.SENSITIVE and key not in seen_whole:
            found.append(
                FieldViolation(
                    field=f"fields.{key}",
                    reason="NOT_CLAIMABLE",
                    description=f"事项 {matter.code}（{matter.name}）只能看到{spec.label}的遮蔽值，不能通过核对确认"
                    f"（matter {matter.code} sees {spec.key} masked: a claim cannot confirm it）",
                )
            )
    return found


def _unusable_values(license_type: LicenseType, fields: Mapping[str, str], today: dt.date) -> list[FieldViolation]:
    """BAD_CHARACTERS for each claimed value no license of ``license_type`` could state (``claimed_value_problem``: a
    NUL, a control, a direction override, an invisible character), judged as the issuer's value of the field is: bad
    input, never a wrong claim counted toward TOO_MANY_WRONG_CLAIMS; and so a value of a field that is no text that
    none could hold, read as the claim compares it (``claimed_value_refusal``: BAD_CHECK_CHARACTER, BAD_CITIZEN_ID,
    BAD_DATE, ...). A key the type has not is ``_unclaimable``'s."""
    found = []
    for key in sorted(fields):
        spec = license_type.field_spec(key)
        if key == HOLDER_NAME:
            label, multiline = FIELD_LABELS["holder.name"], False
        elif spec is not None:
            label, multiline = spec.label, spec.value_type is ValueType.STRING
        else:
            continue
        where = f"fields.{key}"
        if (
            problem := claimed_value_problem(where, label, fields[key], multiline=multiline, as_name=key == HOLDER_NAME)
        ) or (spec is not None and key != HOLDER_NAME and (problem := claimed_value_refusal(spec, fields[key], today))):
            found.append(problem)
    return found


def _unknown_type(type_code: str) -> InvalidRequestError:
    return invalid(
        "type_code",
        "UNKNOWN_LICENSE_TYPE",
        f"{unknown_type_words(type_code[:64])}（unknown license type {type_code[:64]!r}）",
    )


def _of(receipt: StoredReceipt, type_codes: Collection[str]) -> bool:
    """Whether a receipt naming no license is about one of ``type_codes``: the type its statement's license, a
    claim's query, or the identifier a query named (a license not found by id or QR code) says. One whose type cannot
    be told (a document or stamp whose license was not found) is not: only the department that made it is given it
    (``case_receipts``), as nothing says another's matter may know of it."""
    statement = json.loads(receipt.statement)
    query = statement.get("query") or {}
    said = (
        (statement.get("license") or {}).get("type_code")
        or query.get("type_code")
        or _type_of(str(query.get("license_id", "")))
    )
    return bool(said) and said in type_codes


def _type_of(license_id: str) -> str:
    """The license type code an identifier names (its sixth dot-separated part: 1.2.156.3005.2.<type>.…), or ""."""
    parts = license_id.split(".", 7)
    return parts[5] if len(parts) > 6 else ""


def _may_be_stored(error: BaseException) -> bool:
    """Whether a call's records may be in the store although writing them failed with ``error``: a write that timed
    out waiting (``StoreTimeout``: "they may yet be committed"), or a PostgreSQL connection lost where the group
    commit could not tell whether its commit landed (``may_have_landed``). A wrong claim so failed stays counted; one
    whose receipt was surely never made (a retired key, an ended certificate, a transaction refused or rolled back:
    a full disk, a lock or statement timeout, a lost connection whose commit was found not to have landed) is taken
    back. Any other PostgreSQL error had kept it too: five calls failed so, each told to retry, held the department
    back from the license for a day (a reviewer)."""
    return isinstance(error, StoreTimeout) or may_have_landed(error)


def _claimed_number(number: str) -> str:
    """A license number as asked for: trimmed and without invisible format characters, as ``CheckClaim`` and
    ``VerifyLicense`` both compare it; one with
    control characters inside (NUL, which PostgreSQL text cannot hold) is bad input."""
    number = FORMAT_CHARACTERS.sub("", number).strip()  # copied with a zero-width space: the same number
    _refuse_controls("license_number", number, "证照编号")
    return number


def _refuse_controls(field: str, text: str, label: str) -> None:
    """INVALID_ARGUMENT / BAD_CHARACTERS when ``text``, a code or number looked up, holds control characters, named
    by code point (U+0000) as in an identifier: the refusal had named none, so a clerk could not tell what to delete
    from what prints as nothing (a console tester)."""
    if found := _CONTROL_CHARACTERS.findall(text):
        raise InvalidRequestError([unseen_characters(field, found, label)])


class _Crls(NamedTuple):
    """The CRLs kept by ``VerificationService._crls_now``, and when to make them anew."""

    crls: tuple[bytes, ...]
    made_at: dt.datetime
    renew_at: dt.datetime


def _earliest_next_update(crls: Sequence[bytes]) -> dt.datetime:
    """The earliest nextUpdate among ``crls`` (the gateway's own, DER); the far future when none states one (no CRL:
    a gateway whose CA holds no issuing key and no SM2 seal maker signs none, and has none to renew)."""
    ends = [end for der in crls if (end := x509.load_der_x509_crl(der).next_update_utc) is not None]
    return min(ends, default=dt.datetime.max.replace(tzinfo=dt.UTC))


def _day(now: dt.datetime) -> dt.date:
    return now.astimezone(CHINA_TZ).date()
