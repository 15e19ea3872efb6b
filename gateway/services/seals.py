"""Seals (电子印章): register a seal for an issuer, list, get, revoke; the CRL from the store.

Registering makes the seal's key in the key store, has the seal-maker CA (制章者) certify it (subject: the issuer's
name and USCC; key usage digitalSignature + nonRepudiation), and draws the red round seal image. The store is the
source of truth for revocations: the CRL is rebuilt from it, so every gateway process serves the same list.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gateway.domain.errors import (
    ConflictError,
    FieldViolation,
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamUnavailableError,
    ZzgwError,
    invalid,
)
from gateway.domain.model import Clock, Member, Role, beijing_day
from gateway.domain.pdf_refusals import pdf_refusal
from gateway.domain.seals import (
    DEFAULT_VALIDITY_DAYS,
    MAX_VALIDITY_DAYS,
    RESERVED_SEAL_NAMES,
    SEAL_NAME_MAX,
    SEAL_NAME_PUNCTUATION,
    CrlReason,
    Seal,
    SealStatus,
    revoked_while_sealing,
    seal_name_violation,
    validity_violation,
)
from gateway.domain.validation import MAX_REASON, check_request_id, check_text
from gateway.logs import OncePer, since
from gateway.store.changes import ChangeFeed
from gateway.store.database import Database, StoreGone, StoreTimeout, StoreUnwritable, UnitOfWork
from gateway.threads import name_this_thread
from gateway.watchdog import on_behalf
from signing.errors import KeyStoreError
from signing.keys import ALGORITHMS, ECDSA_P256_SHA256, SM2_SM3, KeyBackend, KeyStore
from signing.pdf import DEFAULT_REASON, NoSuchPage, PageTooSmall, PdfError, PdfSealer, TimestampUnavailable
from signing.seal_ca import Revocation, SealMakerCA, whole_second_up
from signing.seal_image import UndrawableCharacter, draw_seal
from signing.ses import SESeal, make_seal, sign_document
from signing.sm2 import Sm2Unavailable

if TYPE_CHECKING:
    from gateway.domain.audit import AccessRecord, AuditEntry
    from gateway.services.audit import AuditTrail

_CRL_REASONS = {
    CrlReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    CrlReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    CrlReason.SUPERSEDED: x509.ReasonFlags.superseded,
    CrlReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
}
_CRL_REASON_OF = {flag: reason for reason, flag in _CRL_REASONS.items()}
_WRITE_BACK_FAILURES = (ZzgwError, SQLAlchemyError, StoreGone, StoreTimeout, StoreUnwritable)
"""What a write-back of a revocation to the store may meet that leaves the answer to be given without it
(``SealService._write_back``): the store away, busy, read-only or replaced, or the write refused."""
WRITTEN_BACK = "制章者已记录的吊销，写回库中（the seal-maker CA's revocation, written back to the store）"
"""The revocation reason a seal gets when the CA's record of its revocation is written to the store (``_write_back``):
the clerk's reason, given to a RevokeSeal whose commit failed, was not kept."""
_CRL_REASON_WORDS = {
    CrlReason.KEY_COMPROMISE: "密钥泄露",
    CrlReason.AFFILIATION_CHANGED: "单位变更",
    CrlReason.SUPERSEDED: "被取代",
    CrlReason.CESSATION_OF_OPERATION: "停止使用",
}
_REGISTRATION_WORDS = {
    "REQUIRED": "请填写印章名称",
    "BAD_SEAL_NAME": f"印章名称须为1至{SEAL_NAME_MAX}个汉字、字母、数字或{SEAL_NAME_PUNCTUATION}，至少含一个汉字"
    "；其他文字暂不能刻制",
    "RESERVED_SEAL_NAME": f"{'、'.join(RESERVED_SEAL_NAMES)}是网关自用印章的名称，不能登记",
    "BAD_VALIDITY": f"有效天数须为1至{MAX_VALIDITY_DAYS}天，填0即{DEFAULT_VALIDITY_DAYS}天",
}
"""A seal's name and validity refused (``gateway.domain.seals``), said Chinese first, by reason: the English follows."""
CRL_VALIDITY = dt.timedelta(days=1)
SEAL_TIMEOUT_SECONDS = 60.0
DEFAULT_SEAL_NAME = "电子证照专用章"
SEAL_SIZE_MM = (40, 40)
MAX_SEAL_REASON = 200
"""The most characters of a ``SealDocument`` reason: PDF viewers show a signature's /Reason on one line."""
_BACKDATE = dt.timedelta(minutes=5)
"""How far a seal's certificate begins before it is registered: for verifiers' clocks a little behind."""
MAX_STAMPED_BYTES = 20 * 1024 * 1024
DOCUMENT_HEADROOM_BYTES = 1024 * 1024
"""Room left in a gRPC message for what the gateway adds to a PDF it is sent to seal (an issuer's own license
document, ``SealDocument``): such a PDF may have ``max_message_bytes`` less this (``max_document_bytes``), so that
the sealed document, a sharing copy of it and a ``VerifyDocument`` of either still fit in one message. Without it,
a document of 4,134,976 bytes was issued whose sealed form (4,197,983) could never be fetched.

Measured with ECDSA and RSA seals and the gateway's TSA: the seal adds 62–64 KB, mostly its signature with the
certificate chain and timestamp token (a fixed 16 KiB reserved, written as 32 KiB of hex, whatever the chain) and
the seal picture. A sharing copy's use stamp adds its own signature and the watermark, an image that grows with the
page and the purpose: with a purpose of 200 characters (the most allowed) 312–357 KB on A4, 341–392 KB on A3,
390–444 KB on A0 and 430–495 KB on a page of 200 × 200 inches (PDF's largest); 111 KB on A4 for a short one. The worst
case, 558 KB in all, is about half of this room; the rest is margin for what those samples lack (a longer caller
name, a form's list of fields, which each update writes anew). No room covers a page dictionary of megabytes,
written again by every update: a reply that outgrows the limit is refused (``RESOURCE_EXHAUSTED`` /
``REPLY_TOO_LARGE``, ``gateway.api.errors.within_limit``) rather than failing inside gRPC."""
UNUSABLE_KEY_SECONDS = 5.0
"""How often the log says again that a seal's key cannot be used, while calls keep meeting it."""
T = TypeVar("T")
log = logging.getLogger("zzgw.seals")


STAMP_ROOM_BYTES = 640 * 1024
"""What a sharing copy's use stamp adds besides the page objects it writes again: its signature and the watermark
(at most 495 KB measured with the watermark as a picture alone). With its words as text too, a 200-character purpose
of distinct characters: the watermark's page is 299 KiB on A4 and 415 KiB on a 200 × 200 inch page (441 KiB the
picture alone had been), its picture binary Flate (reportlab's ASCII85 had made it 453 and 572 KiB);
a drawn 食品生产许可证's copy grew by 397 KB (476 KB with ASCII85). Kept at 640 KiB: the largest page's
copy was not measured end to end since; ``DOCUMENT_HEADROOM_BYTES``)."""


def _last_moment(ca: SealMakerCA) -> dt.datetime:
    """The latest end a certificate of ``ca`` may have: a second before its intermediate's."""
    return ca.intermediate.not_valid_after_utc - dt.timedelta(seconds=1)


def _too_large(field: str, description: str) -> InvalidRequestError:
    return InvalidRequestError([FieldViolation(field=field, reason="DOCUMENT_TOO_LARGE", description=description)])


def _in_chinese(violation: FieldViolation) -> FieldViolation:
    """A seal name's or validity's violation said Chinese first (``_REGISTRATION_WORDS``), its English in brackets."""
    chinese = _REGISTRATION_WORDS.get(violation.reason, "印章登记信息不正确")
    return dataclasses.replace(violation, description=f"{chinese}（{violation.description}）")


def max_document_bytes(max_message_bytes: int) -> int:
    """The most bytes a PDF sent to be sealed may have under a gateway message limit of ``max_message_bytes``."""
    return max(0, max_message_bytes - DOCUMENT_HEADROOM_BYTES)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sm2SealMaker:
    """The SM2 seal maker: a CA that certifies SM2 seal keys (SM3withSM2) and the maker's own key and certificate,
    which sign GB/T 38540 seals (SES_Seal)."""

    ca: SealMakerCA
    key: KeyBackend
    certificate: x509.Certificate


@dataclass(frozen=True, slots=True, kw_only=True)
class SealRequest:
    request_id: str
    name: str
    algorithm: str = ""
    validity_days: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SealRecord:
    """How a registration or revocation goes on the audit trail (``RegisterSeal``, ``RevokeSeal``): ``entry(seal_id,
    decision, reason)`` is its record, appended to ``audit`` in the transaction that registers or revokes the seal,
    before it commits: ``REGISTERED`` / ``REVOKED`` (the CRL reason the seal was revoked with). A call that changes
    nothing (the same ``request_id`` again, a seal already revoked) is ``REPEATED``, in a transaction of its own, as a
    grant sent again is. The record had been written after the commit, in a transaction of its own: one that failed
    left a seal registered or revoked with no record, the call answered INTERNAL, and a retry recorded the seal's
    registration after its first use; and a repeat was recorded as a new registration or revocation by its clerk
    (review sealaudit, R1, R2)."""

    audit: AuditTrail
    entry: Callable[[str, str, str], AuditEntry]

    def append(self, uow: UnitOfWork, seal_id: str, decision: str, reason: str = "") -> list[AccessRecord]:
        return self.audit.append(uow, [self.entry(seal_id, decision, reason)])

    def alone(self, seal_id: str, decision: str, reason: str = "") -> None:
        self.audit.record(self.entry(seal_id, decision, reason))


@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultSeals:
    """What ``SealService.ensure_default`` did."""

    made: tuple[Seal, ...]
    """The first seals of issuers that had none."""
    issuers_without_seal: tuple[str, ...]
    """Issuers that have had seals, none of them active and valid now (revoked or ended): left so."""


def sm2_unavailable(seal: Seal, cause: Exception) -> ConflictError:
    """FAILED_PRECONDITION / SM2_UNAVAILABLE: an SM2 seal's key cannot be used on this process, whose system OpenSSL
    has no SM2 (``cause`` says what is missing; the log of `zzgw serve` warned "no SM2 seals" at its start)."""
    return ConflictError(
        f"本网关实例的 OpenSSL 不支持 SM2，不能使用SM2印章 {seal.seal_id}（{seal.name}），请联系网关运维"
        f"（the SM2 seal {seal.seal_id} ({seal.name}) cannot be used on this gateway process: its system OpenSSL "
        f"offers no SM2 ({cause}); the operator serves it where OpenSSL has SM2, or the issuer registers an ECDSA or "
        "RSA seal）",
        reason="SM2_UNAVAILABLE",
    )


def seal_maker_serial(seal: Seal) -> int | None:
    """The serial of the seal maker's certificate that signed an SM2 seal's SES_Seal; None for another seal."""
    if seal.ses_seal is None:
        return None
    return x509.load_der_x509_certificate(SESeal.load(seal.ses_seal)["cert"].native).serial_number


def maker_revoked(seal: Seal, revocation: Revocation) -> ConflictError:
    """FAILED_PRECONDITION / SEAL_MAKER_REVOKED: the SM2 seal's SES_Seal was made by a seal maker's certificate since
    revoked (the leak procedure of the maker's key): every stamp it made would check FAILED (MAKER_REVOKED)."""
    at = revocation.revoked_at.isoformat()
    return ConflictError(
        f"印章 {seal.seal_id}（{seal.name}）由已吊销的制章者证书制作（{at}吊销），用它签章的文件无法通过核验："
        "请登记新的SM2印章（RegisterSeal）并吊销此印章（the SM2 seal was made by a seal maker's certificate revoked "
        f"from {at}: every stamp it made would check as MAKER_REVOKED; register a new SM2 seal and revoke this one）",
        reason="SEAL_MAKER_REVOKED",
    )


def _no_earlier_than(seal: Seal, since: dt.datetime) -> None:
    """Nothing if the revoked ``seal``'s revocation covers a leak from ``since`` (it is from then or earlier: a retry
    of the back-dated call, and any later time, changes nothing); else FAILED_PRECONDITION / SEAL_REVOKED. Revoked
    first for another reason (a 换章, superseded) and found leaked earlier, it had answered as a repeat, the caller
    told nothing of the window its call left valid; a revocation is final here, and the earlier time is the leak
    procedure's hand entry (docs/operations.md)."""
    if seal.revoked_at is None or seal.revoked_at <= since:
        return
    at = seal.revoked_at.isoformat()
    raise ConflictError(
        f"印章 {seal.seal_id}（{seal.name}）已于 {at} 吊销，吊销时间不能通过本接口提前到 {since.isoformat()}："
        "请网关运维按运维手册的密钥泄露处置办法登记（the seal is revoked from "
        f"{at} already; RevokeSeal does not move a revocation earlier: the gateway's operator dates it from "
        f"{since.isoformat()} by the leak procedure, docs/operations.md）",
        reason="SEAL_REVOKED",
    )


class EventLoopThread:
    """One asyncio event loop in a thread of its own: pyHanko's async APIs run there (its sync ones call
    ``asyncio.run`` and cannot share a thread with another loop); callers in gRPC threads wait for the result."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_forever, name="pdf-loop", daemon=True)
        self._thread.start()

    def _run_forever(self) -> None:
        name_this_thread("zzgw-pdf-loop")
        self._loop.run_forever()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """The coroutine's result; concurrent.futures.TimeoutError after ``timeout`` seconds, the coroutine then
        cancelled at its next wait. A step that never waits is not stopped (its PDFs' walks are bounded for that; a
        key's signature that stalls is not): while it runs it is watched as work of the call that sent it
        (``gateway.watchdog.Work``), past the call's end too, so that a process whose one PDF thread stays blocked
        is taken for stuck after ``ZZGW_STUCK_CALL_SECONDS`` and replaced."""
        future = asyncio.run_coroutine_threadsafe(_watched_while_running(coroutine, on_behalf()), self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise


async def _watched_while_running(
    coroutine: Coroutine[Any, Any, T], working: Callable[[], contextlib.AbstractContextManager[None]]
) -> T:
    """``coroutine``'s result, watched as work (``working``) from when it starts on the PDF thread until it ends: a
    job that times out before it starts is never watched."""
    with working():
        return await coroutine


class SealService:
    def __init__(
        self,
        db: Database,
        ca: SealMakerCA,
        keys: KeyStore,
        clock: Clock,
        ids: Callable[[], str],
        *,
        timestamper: TimeStamper | None = None,
        feed: ChangeFeed | None = None,
        sm2: Sm2SealMaker | None = None,
        outside_tsa_roots: Sequence[x509.Certificate] = (),
        max_message_bytes: int,
    ):
        self._max_message_bytes = max_message_bytes
        self._outside_tsa_roots = tuple(outside_tsa_roots)
        self.max_document_bytes = max_document_bytes(max_message_bytes)
        """The most bytes a PDF sent to be sealed may have (``DOCUMENT_HEADROOM_BYTES``)."""
        self._sm2 = sm2
        self._feed = feed
        self._db = db
        self._ca = ca
        self._keys = keys
        self._clock = clock
        self._ids = ids
        self._lock = threading.Lock()
        self._timestamper = timestamper
        self._sealers: dict[str, PdfSealer] = {}
        self._unusable_lines = OncePer(UNUSABLE_KEY_SECONDS)
        """One line per seal whose key cannot be used per ``UNUSABLE_KEY_SECONDS`` (``key``)."""
        self._loop: EventLoopThread | None = None

    @property
    def ca(self) -> SealMakerCA:
        return self._ca

    def ensure_default(self, issuers: list[Member]) -> DefaultSeals:
        """Give every issuer that has never had a seal its first 电子证照专用章 (``zzgw init``; idempotent). An issuer
        whose seals were all revoked or have ended gets none: `zzgw init`, run for a routine reason, had armed again
        an issuer whose only seal the security officer had revoked for a leaked key, and said nothing (a keys
        tester); a new seal is the issuer's own act (RegisterSeal)."""
        made: list[Seal] = []
        without: list[str] = []
        for issuer in issuers:
            with self._db.unit_of_work() as uow:
                had_one = bool(uow.seals.of_issuer(issuer.code))
                current = uow.seals.current(issuer.code, self._clock.now())
            if not had_one:
                request = SealRequest(request_id=f"default-seal-{self._ids()}", name=DEFAULT_SEAL_NAME)
                made.append(self.register(issuer, request))
            elif current is None:
                without.append(issuer.code)
        return DefaultSeals(made=tuple(made), issuers_without_seal=tuple(without))

    def register(self, caller: Member, request: SealRequest, *, record: SealRecord | None = None) -> Seal:
        """Make, certify and draw a seal for the calling issuer; the same request_id again returns the same seal.
        ``record``: the call's record, appended in the transaction that stores the seal (``SealRecord``)."""
        if not caller.has(Role.ISSUER):
            raise PermissionDeniedError(
                "只有发证部门可以登记印章（only issuers have seals）", reason="ROLE_NOT_ALLOWED"
            )
        errors: list[FieldViolation] = []
        check_request_id(request.request_id, errors)
        algorithm = request.algorithm or ECDSA_P256_SHA256
        offered = (*ALGORITHMS, SM2_SM3) if self._sm2 is not None else ALGORITHMS
        if algorithm not in offered:
            errors.append(
                FieldViolation(
                    field="algorithm",
                    reason="UNSUPPORTED_ALGORITHM",
                    description=f"不支持该签名算法（algorithm must be one of {', '.join(offered)}）",
                )
            )
        if not errors and (existing := self._registered(caller, request, algorithm)) is not None:
            # before the name's check: a retry of a seal registered under an earlier version's rules
            return self._registered_again(existing, record)
        for violation in (seal_name_violation(request.name), validity_violation(request.validity_days)):
            if violation:
                errors.append(_in_chinese(violation))
        if errors:
            raise InvalidRequestError(errors)
        try:  # drawn before anything is made: a name a seal cannot show is refused, not drawn with boxes
            image = draw_seal(caller.name, request.name)
        except UndrawableCharacter as exc:  # the issuer's name is drawn whatever it holds: it is registered
            raise invalid("name", "BAD_SEAL_NAME", f"印章名称含有无法刻制的字符（{exc}）") from None
        ca = self._ca_for(algorithm)
        if not ca.can_issue:
            raise ConflictError(
                "本网关的制章者CA没有签发密钥，只能核验印章、不能制作新印章，请联系网关运维"
                "（this gateway's seal-maker CA holds no issuing key (its intermediate.key.pem was left out of "
                "this data directory): it validates seals but certifies none）",
                reason="SEAL_MAKER_CANNOT_ISSUE",
            )
        now = self._clock.now()
        seal_id = self._ids()
        owner = f"seal{seal_id}"
        key = self._keys.create(owner, algorithm)
        certificate = ca.issue_seal_certificate(
            issuer_name=caller.name,
            issuer_uscc=caller.code,
            seal_name=request.name,
            public_key=key.public_key_der
            if algorithm == SM2_SM3
            else serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
            not_before=now - _BACKDATE,
            not_after=min(now + dt.timedelta(days=request.validity_days or DEFAULT_VALIDITY_DAYS), _last_moment(ca)),
        )
        seal = Seal(
            seal_id=seal_id,
            issuer_code=caller.code,
            name=request.name,
            algorithm=algorithm,
            key_id=key.key_id,
            key_ref=f"file:{owner}",
            certificate_der=certificate.public_bytes(serialization.Encoding.DER),
            certificate_serial=certificate.serial_number,
            image_png=image,
            valid_from=certificate.not_valid_before_utc,
            valid_until=certificate.not_valid_after_utc,
            status=SealStatus.ACTIVE,
            ses_seal=self._ses_seal(seal_id, caller, request.name, certificate, image, now)
            if algorithm == SM2_SM3
            else None,
        )
        try:
            with self._db.unit_of_work(write=True) as uow:
                uow.seals.add(seal, request.request_id, now)
                appended = record.append(uow, seal_id, "REGISTERED") if record is not None else []
                uow.commit()
        except IntegrityError:  # the same request_id from a concurrent call committed first: its seal is the answer
            self._keys.path(owner).unlink(missing_ok=True)  # this call's key certifies nothing
            existing = self._registered(caller, request, algorithm)
            if existing is None:
                raise
            return self._registered_again(existing, record)
        if record is not None:
            record.audit.appended(appended)
        return seal

    def _registered_again(self, seal: Seal, record: SealRecord | None) -> Seal:
        """``seal``, the answer to a registration sent again (its ``request_id``), recorded ``REPEATED``: it registers
        nothing, and its clerk is not the one who registered the seal."""
        if record is not None:
            record.alone(seal.seal_id, "REPEATED")
        return seal

    def _registered(self, caller: Member, request: SealRequest, algorithm: str) -> Seal | None:
        """The seal an earlier call with this request_id made (IdempotencyConflictError if it asked for another:
        another name, algorithm or validity)."""
        with self._db.unit_of_work() as uow:
            existing = uow.seals.by_request(caller.code, request.request_id)
        if existing is None:
            return None
        days = request.validity_days or DEFAULT_VALIDITY_DAYS
        if (existing.name, existing.algorithm) != (request.name, algorithm) or not self._lasts(existing, days):
            until = beijing_day(existing.valid_until)
            raise IdempotencyConflictError(
                f"请求编号 {request.request_id} 已用于登记另一枚印章（{existing.name}，有效期至 {until}），"
                f"请为本次登记换用新的请求编号（request_id {request.request_id} was used for another seal "
                f"({existing.name}, {existing.algorithm}, valid until {until}): use a new request_id for this one）"
            )
        return existing

    def _lasts(self, seal: Seal, days: int) -> bool:
        """Whether ``seal`` is what a request for ``days`` of validity made. Its certificate begins ``_BACKDATE``
        before it was registered (or with the CA's intermediate, if later) and ends ``days`` after, to the second:
        the days asked for are its length rounded to whole days. A seal cut short at the intermediate's end is what
        any request that reached that end made (the store keeps no more of the request than the seal)."""
        length = seal.valid_until - seal.valid_from
        if seal.valid_until >= _last_moment(self._ca_for(seal.algorithm)):
            return dt.timedelta(days=days) + _BACKDATE + dt.timedelta(seconds=1) >= length
        return round(length / dt.timedelta(days=1)) == days

    def _compromised_since(self, seal: Seal, crl: CrlReason, at: dt.datetime) -> dt.datetime:
        """``at``, the time from which ``seal``'s key may have leaked, rounded down to the whole second (a CRL carries
        whole seconds; down, so that nothing signed in that second is left valid): the revocation's time for a leak
        found late. For an issuer's seal key, in ``keys/`` beside the receipt and TSA keys, only a hand entry in
        ``revocations.json`` had revoked from then, undocumented, and what the thief sealed and timestamped at the
        gateway's open ``/tsa`` before the RevokeSeal kept a PASSED issuer identity for good (a reviewer, seals R2).
        Refused (``BAD_COMPROMISED_SINCE``) with another CRL reason, after now (a revocation is never in force
        ahead), or before the seal's certificate began (``valid_from``: nothing before it ever validated, so such a
        time is a mistyped one)."""
        at = at.astimezone(dt.UTC).replace(microsecond=0)
        problem = ""
        if crl is not CrlReason.KEY_COMPROMISE:
            problem = (
                f"只有因密钥泄露（key_compromise）吊销时才能填写泄露起始时间（compromised_since is for key_compromise "
                f"only, not {crl.value}）"
            )
        elif at > self._clock.now():
            problem = f"泄露起始时间不能晚于现在（compromised_since {at.isoformat()} is in the future）"
        elif at < seal.valid_from:
            problem = (
                f"泄露起始时间早于该印章证书的生效时间 {seal.valid_from.isoformat()}（compromised_since "
                f"{at.isoformat()} is before the seal's certificate began）"
            )
        if problem:
            raise invalid("compromised_since", "BAD_COMPROMISED_SINCE", problem)
        return at

    def _revocation_from_now(self, seal: Seal, reason: x509.ReasonFlags, since: dt.datetime | None) -> Revocation:
        """The revocation RevokeSeal stores for ``seal``: from now (rounded up to the second, as the CRL lists it) or
        from ``since`` (a leak's start, ``_compromised_since``), or,
        when the seal-maker CA already holds one (a seal set back to ACTIVE in the store behind the gateway's back,
        its revocation maybe served on a CRL), that one, as it was made: its time and CRL reason. Nothing is
        recorded: the CA records it once the store has committed it (``_recorded_by_the_ca``). An SM2 seal on a
        process without the SM2 seal maker (the system OpenSSL has no SM2) is revoked in the store alone: RevokeSeal
        had been INTERNAL there (an AssertionError), and a leaked seal must be revocable through any process (a
        reviewer). A process with SM2 puts it on the SM2 CRL, and in its CA's record, from the store (``_crl``)."""
        fresh = Revocation(
            serial=seal.certificate_serial,
            reason=reason,
            revoked_at=since if since is not None else whole_second_up(self._clock.now()),
        )
        if seal.algorithm == SM2_SM3 and self._sm2 is None:
            log.warning(
                "SM2 seal %s of issuer %s revoked in the store only: this process has no SM2 seal maker (no SM2 in "
                "the system OpenSSL); a process with SM2 records it in seal-ca-sm2/ when it next makes the SM2 CRL",
                seal.seal_id,
                seal.issuer_code,
            )
            return fresh
        return self._ca_for(seal.algorithm).recorded(seal.certificate_serial) or fresh

    def _recorded_by_the_ca(self, seal: Seal, revocation: Revocation) -> None:
        """Have the seal-maker CA record ``revocation`` of ``seal``, which the store has committed. A file that cannot
        be written now leaves it to the next CRL of any process, which takes the store's revocations in (``_crl``):
        the revocation is in force from the commit on, whatever this record meets."""
        if seal.algorithm == SM2_SM3 and self._sm2 is None:
            return
        try:
            self._ca_for(seal.algorithm).take([revocation])
        except OSError as error:
            log.warning(
                "seal %s of issuer %s: revoked in the store, but not yet in the seal-maker CA's revocations.json (%s); "
                "the next CRL records it from the store",
                seal.seal_id,
                seal.issuer_code,
                error,
            )

    def _ca_for(self, algorithm: str) -> SealMakerCA:
        if algorithm == SM2_SM3:
            assert self._sm2 is not None
            return self._sm2.ca
        return self._ca

    def _ses_seal(
        self, seal_id: str, caller: Member, name: str, certificate: x509.Certificate, image: bytes, now: dt.datetime
    ) -> bytes:
        """The GB/T 38540 seal of an SM2 seal: its name, picture, validity and holder certificate, signed by the
        SM2 seal maker."""
        assert self._sm2 is not None
        return make_seal(
            maker_key=self._sm2.key,
            maker_cert=self._sm2.certificate,
            es_id=seal_id,
            name=f"{caller.name}{name}",
            signer_certs=[certificate],
            created=now,
            valid_start=certificate.not_valid_before_utc,
            valid_end=certificate.not_valid_after_utc,
            picture=image,
            picture_size_mm=SEAL_SIZE_MM,
        )

    def trust_roots(self) -> list[x509.Certificate]:
        """The roots a seal made here chains to: the seal-maker CA's, and the SM2 seal maker's when there is one."""
        return [self._ca.root] + ([self._sm2.ca.root] if self._sm2 is not None else [])

    @property
    def outside_tsa_roots(self) -> tuple[x509.Certificate, ...]:
        """The roots of an outside TSA's timestamps (``ZZGW_TSA_ROOTS``), served at ``/certificates/tsa-roots.pem``."""
        return self._outside_tsa_roots

    def tsa_trust_roots(self) -> list[x509.Certificate]:
        """The roots a seal's timestamp may chain to: the seal-maker CA's (the gateway's own TSA), and an outside TSA's
        (``ZZGW_TSA_ROOTS``), which anchor timestamps only, never a seal."""
        return [self._ca.root, *self._outside_tsa_roots]

    def intermediates(self) -> list[x509.Certificate]:
        return [self._ca.intermediate] + ([self._sm2.ca.intermediate] if self._sm2 is not None else [])

    def list(self, caller: Member) -> list[Seal]:
        """The caller's seals (every seal for an administrator), each revoked as the seal-maker CA knows it."""
        with self._db.unit_of_work() as uow:
            found = uow.seals.of_issuer(None if caller.has(Role.ADMIN) else caller.code)
        shown = [self.as_revoked(seal) for seal in found]
        self._write_back([seal for seal, now in zip(found, shown, strict=True) if now.status is not seal.status])
        return shown

    def get(self, seal_id: str) -> Seal:
        """Any member may read a seal: its certificate and image are what verifiers need, and its revocation as the
        seal-maker CA knows it (a seal set back to ACTIVE in the store is shown revoked, from the CA's time)."""
        stored = self._stored(seal_id)
        shown = self.as_revoked(stored)
        if shown.status is not stored.status:
            self._write_back([stored])
        return shown

    def _stored(self, seal_id: str) -> Seal:
        """The seal as the store has it."""
        if not seal_id:
            raise invalid("seal_id", "REQUIRED", "请填写印章编号（seal_id is required）")
        with self._db.unit_of_work() as uow:
            seal = uow.seals.get(seal_id)
        if seal is None:
            raise NotFoundError(f"没有印章 {seal_id}（no seal {seal_id}）", reason="SEAL_NOT_FOUND")
        return seal

    def owner_of(self, seal_id: str) -> str | None:
        """The issuer whose seal ``seal_id`` is, None when there is no such seal (or the store cannot say now): whose
        log a refused use of the seal is on."""
        if not seal_id or len(seal_id) > 32:
            return None
        try:
            with self._db.unit_of_work() as uow:
                seal = uow.seals.get(seal_id)
        except Exception:  # the refusal is what the caller is told; the store failing here adds nothing to it
            return None
        return seal.issuer_code if seal is not None else None

    def owned(self, caller: Member, seal_id: str) -> Seal:
        """The caller's seal as the store has it (``_require_active`` judges it with the CA's revocations)."""
        seal = self._stored(seal_id)
        if seal.issuer_code != caller.code:
            raise PermissionDeniedError(
                "只有印章所属部门可以使用或吊销该印章（only the seal's issuer may use or revoke it）",
                reason="NOT_SEAL_OWNER",
            )
        return seal

    def current(self, issuer_code: str, *, for_pdf: bool = False) -> Seal:
        """The issuer's newest active seal: the one that seals its records; ``for_pdf``: the newest that can seal a
        PDF (an SM2 seal stamps in the GB/T 38540 form instead), which seals its license documents."""
        with self._db.unit_of_work() as uow:
            seal = uow.seals.current(issuer_code, self._clock.now(), except_algorithm=SM2_SM3 if for_pdf else "")
        if seal is None:
            raise ConflictError(
                f"本部门没有有效的{'版式文件' if for_pdf else ''}电子印章，请先登记（RegisterSeal）"
                f"（the issuer has no active seal{' for PDFs' if for_pdf else ''}: register one）",
                reason="NO_ACTIVE_SEAL",
            )
        if self.as_revoked(seal).status is SealStatus.REVOKED:
            # revoked while this call was being made, through any process: one under way is waited for, and not
            # taken for a restore (a worker that had read revocations.json meanwhile had told the issuer its database
            # was restored from a backup; a reviewer, R3)
            if self._revoked_just_now(seal):
                raise revoked_while_sealing(seal.seal_id, seal.name)
            # set ACTIVE again in the store: its key seals nothing
            raise ConflictError(
                "本部门最新的印章已吊销，但库中显示为有效（数据库从吊销前的备份恢复，或被绕过网关改动）："
                "请再次吊销（RevokeSeal）或登记新印章（the issuer's newest seal was revoked, but the store shows it "
                "active: restored from a copy taken before the revocation, or changed behind the gateway's back; "
                "revoke it again or register a new seal）",
                reason="SEAL_REVOKED",
            )
        return seal

    def _revoked_just_now(self, seal: Seal) -> bool:
        """Whether ``seal``, read ACTIVE from the store, is REVOKED there now: revoked since it was read, through any
        process of the store. Read as a transaction storing what it sealed reads it (``SealRepository.held``), so a
        revocation under way (its row locked and its time taken, its commit not yet made) is waited for and seen: a
        plain read had found it ACTIVE, and a PDF sealed through one process after another's revocation time was
        handed out, every verification of it then failing CERT_REVOKED (a reviewer, R2)."""
        with self._db.unit_of_work(write=True) as uow:
            held = uow.seals.held(seal_ids=[seal.seal_id])
        return any(each.status is SealStatus.REVOKED for each in held)

    def record_key(self, issuer_code: str) -> KeyBackend:
        """The key that seals the issuer's license records: that of its newest active seal (记录签章用印章)."""
        return self.key(self.current(issuer_code))

    def by_key(self, key_id: str) -> Seal | None:
        """The seal whose key made a signature (record seals name the key, not the seal)."""
        with self._db.unit_of_work() as uow:
            return uow.seals.by_key(key_id)

    def key(self, seal: Seal) -> KeyBackend:
        """The seal's private key, from this gateway's key store: every path that seals with it comes here.

        ConflictError ``SEAL_KEY_NOT_HERE`` if the key file is missing (the seal registered through another gateway
        of the store), ``SEAL_KEY_UNREADABLE`` if it is there but cannot be used: the caller learns which seal, not
        the server's paths; the log has one line naming the seal, the file and what is wrong (permission denied,
        cannot decrypt: another passphrase or a damaged file, another key than the seal's), at most one per seal per
        ``UNUSABLE_KEY_SECONDS`` with how many calls it stands for: a county's import of 100,000 lines had written as
        many identical lines in seconds (found by an on-call tester)."""
        owner = seal.key_ref.removeprefix("file:")
        try:
            return self._own_key(seal)
        except Sm2Unavailable as exc:  # had been INTERNAL with a traceback, for stamping and issuing alike (a reviewer)
            raise sm2_unavailable(seal, exc) from None
        except KeyStoreError as exc:
            if self._keys.exists(owner):
                if (left := self._unusable_lines.allow(seal.seal_id)) is not None:
                    log.error(
                        "seal %s (%s) of issuer %s cannot seal: %s%s",
                        seal.seal_id,
                        seal.name,
                        seal.issuer_code,
                        exc,
                        since(left),
                    )
                raise ConflictError(
                    f"印章 {seal.seal_id}（{seal.name}）的密钥文件在本网关无法读取或解密，暂不能用章，请联系网关运维"
                    f"（the key of seal {seal.seal_id} ({seal.name}) cannot be read or decrypted on this gateway: its "
                    "operator must restore the key file; the gateway's log says what is wrong）",
                    reason="SEAL_KEY_UNREADABLE",
                ) from None
            raise ConflictError(
                f"印章 {seal.seal_id}（{seal.name}）的密钥不在本网关（经同一数据库的另一台网关登记，"
                f"或数据目录比数据库旧），暂不能用章，请联系网关运维（the key of seal {seal.seal_id} ({seal.name}) is "
                "not in this gateway's key store: the seal was registered through another gateway of the same store, "
                "or the data directory is "
                "older than the database (restored from an earlier copy); replicas share their keys directory "
                "(README: deployment beyond one machine)）",
                reason="SEAL_KEY_NOT_HERE",
            ) from None

    def _own_key(self, seal: Seal) -> KeyBackend:
        """The key in the seal's key file; KeyStoreError naming the file if it cannot be used, or if it is another key
        than the one the seal's certificate certifies (a file damaged so that it decrypts, or put in its place)."""
        owner = seal.key_ref.removeprefix("file:")
        key = self._keys.load(owner)
        if key.key_id != seal.key_id:
            self._keys.forget(owner)
            raise KeyStoreError(
                f"{self._keys.path(owner)} holds another key than the one the seal's certificate certifies (key id "
                f"{key.key_id[:16]}…, the seal's {seal.key_id[:16]}…)"
            )
        return key

    def unreadable(self) -> tuple[str, ...]:
        """The seals in force whose key file is here but cannot be read or decrypted, each as ``seal ID of ISSUER:
        what is wrong`` (naming the file), for a warning at start-up: their issuers' calls that need them fail
        (``SEAL_KEY_UNREADABLE``). Each key is loaded, as the first call would; missing ones are not listed (a replica
        without them: ``SEAL_KEY_NOT_HERE``, which ``zzgw init`` warns of)."""
        now = self._clock.now()
        with self._db.unit_of_work() as uow:
            in_force = [
                seal
                for seal in uow.seals.of_issuer(None)
                if seal.key_ref.startswith("file:") and seal.effective_status(now) is SealStatus.ACTIVE
            ]
        found = []
        for seal in in_force:
            owner = seal.key_ref.removeprefix("file:")
            if not self._keys.exists(owner) or self.as_revoked(seal).status is SealStatus.REVOKED:
                continue
            try:
                self._own_key(seal)
            except KeyStoreError as exc:
                found.append(f"seal {seal.seal_id} of {seal.issuer_code}: {exc}")
        return tuple(found)

    def revoke(
        self,
        caller: Member,
        seal_id: str,
        *,
        reason: str,
        crl_reason: str = "",
        compromised_since: dt.datetime | None = None,
        record: SealRecord | None = None,
    ) -> Seal:
        """Revoke a seal (吊销印章): final; its certificate goes on the CRL. Revoking it again changes nothing.
        ``compromised_since`` (key_compromise only): the revocation's time instead of now (``_compromised_since``).
        ``record``: the call's record, appended in the transaction that revokes the seal (``SealRecord``)."""
        errors: list[FieldViolation] = []
        reason = check_text("reason", reason, MAX_REASON, errors, required=True)
        try:
            crl = CrlReason(crl_reason or CrlReason.CESSATION_OF_OPERATION.value)
        except ValueError:
            choices = ", ".join(r.value for r in CrlReason)
            said = "、".join(_CRL_REASON_WORDS[r] for r in CrlReason)  # in the order the English names them
            errors.append(
                FieldViolation(
                    field="crl_reason",
                    reason="BAD_CRL_REASON",
                    description=f"吊销原因代码须为以下之一：{said}（crl_reason must be one of {choices}）",
                )
            )
        if errors:
            raise InvalidRequestError(errors)
        seal = self.owned(caller, seal_id)
        since = None if compromised_since is None else self._compromised_since(seal, crl, compromised_since)
        if seal.status is SealStatus.REVOKED:  # a retry, or another clerk's call, while the first waits: it too
            if since is not None:
                _no_earlier_than(self.as_revoked(seal), since)
            if record is not None:  # answers once the revocation is in force (a reviewer); recorded as a repeat,
                record.alone(seal_id, "REPEATED")  # not a revocation by its clerk, with a CRL reason it did not give
            return self._in_force(self.as_revoked(seal))
        changed = [f"seal:{seal.key_id}"]
        committed: Revocation | None = None
        appended: list[AccessRecord] = []
        with self._db.unit_of_work(write=True) as uow:
            if record is not None:  # before the seal's row: an issue holds the chain, then the seal's row (FOR SHARE)
                record.audit.take_chain(uow)
            # The seal's row first, then the revocation's time: a transaction storing a record this seal sealed
            # (``SealRepository.held``) has committed before it, sealed before this time, or waits and sees the
            # revocation; with the time taken earlier, a record sealed after it had been stored as good, and every
            # verification of it failed CERT_REVOKED (a concurrency tester).
            locked = uow.seals.lock(seal_id)
            if locked is not None and locked.status is SealStatus.ACTIVE:  # else another call's stays
                revocation = self._revocation_from_now(seal, _CRL_REASONS[crl], since)
                stored = _CRL_REASON_OF.get(revocation.reason, crl).value
                uow.seals.revoke(seal_id, at=revocation.revoked_at, reason=reason, crl_reason=stored)
                if record is not None:  # a back-dated revocation names its time, which the call's own does not say
                    said = stored if since is None else f"{stored} since={revocation.revoked_at:%Y-%m-%dT%H:%M:%SZ}"
                    appended = record.append(uow, seal_id, "REVOKED", said)
                if self._feed is not None:
                    self._feed.announce(uow, changed)
                uow.commit()
                committed = revocation
            elif locked is not None and record is not None:  # another call's revocation committed meanwhile
                appended = record.append(uow, seal_id, "REPEATED")
                uow.commit()
        if record is not None:
            record.audit.appended(appended)
        # The CA records it only now: its record (revocations.json, which every worker sharing it reads, and its CRLs)
        # had come first, and a commit that failed (the database gone mid-call, the worker killed) left it there
        # alone; the other processes sealed on with the seal, answered OK, until a retry or a write-back stored the
        # CA's time, and all they had issued meanwhile failed as CERT_REVOKED (a reviewer, R1). A failed commit now
        # revokes nothing anywhere: the call fails, and its retry revokes from its own time.
        if committed is not None:
            self._recorded_by_the_ca(seal, committed)
        if self._feed is not None:
            self._feed.committed(changed)
        return self._in_force(self.get(seal_id))

    def _in_force(self, seal: Seal) -> Seal:
        """``seal``, once its revocation is in force: its time is rounded up to the second (``whole_second_up``), so
        a call that revoked it (or found it revoked by another call still waiting) waits for that second, after the
        commit. From the commit on, no record sealed by the seal is stored (``SealRepository.held`` reads it
        revoked), and those stored before were sealed before it; the wait had been inside the transaction, and on
        SQLite every write of the gateway, any department's, waited up to a second with it (a reviewer)."""
        if seal.revoked_at is not None:
            wait = (seal.revoked_at - self._clock.now()).total_seconds()
            if 0 < wait <= 1:
                time.sleep(wait)
        return seal

    def seal_document(self, caller: Member, seal_id: str, pdf: bytes, *, reason: str = "", page: int = 0) -> bytes:
        """Seal a PDF (PAdES B-T, visible stamp) with one of the caller's active seals, on ``page`` (from 0), with
        ``reason`` as the signature's /Reason (at most ``MAX_SEAL_REASON`` characters, no control characters)."""
        errors: list[FieldViolation] = []
        reason = check_text("reason", reason, MAX_SEAL_REASON, errors)
        if page < 0:
            errors.append(
                FieldViolation(
                    field="page",
                    reason="BAD_PLACEMENT",
                    description=f"页码从0起算，不能为负数（pages count from 0: page {page} is none of them）",
                )
            )
        if errors:
            raise InvalidRequestError(errors)
        seal = self.owned(caller, seal_id)
        self.check_size(pdf, field="pdf")
        sealed = self.apply(seal, pdf, reason=reason, page=page, page_field="page", named=True)
        return self._kept_active(seal, sealed)

    def _kept_active(self, seal: Seal, made: bytes) -> bytes:
        """``made`` (a sealed PDF, a stamp), unless ``seal`` was revoked while it was made, through any process (a
        revocation under way is waited for: ``_revoked_just_now``): then SEAL_REVOKED, as a license is refused
        (``revoked_while_sealing``). A sealing queued on the PDF thread, or waiting on a slow time-stamping
        authority, had been answered OK with a PDF signed after the revocation, which every check then read
        CERT_REVOKED (a reviewer). The calls that come here name their seal: the words say to choose another."""
        if self._revoked_just_now(seal):
            raise revoked_while_sealing(seal.seal_id, seal.name, named=True)
        return made

    def check_sealed_size(self, original: bytes, sealed: bytes, *, field: str) -> None:
        """InvalidRequestError DOCUMENT_TOO_LARGE when a license document, as sealed, would leave no room for a
        sharing copy: the use stamp's update writes the page objects again, as the seal's did (a page dictionary of
        megabytes grows every update by as much), and adds its own signature and watermark (``STAMP_ROOM_BYTES``).
        ``check_size`` bounds ordinary PDFs before sealing; this catches what only sealing shows."""
        grown = len(sealed) - len(original)
        needed = len(sealed) + grown + STAMP_ROOM_BYTES
        if needed > self._max_message_bytes:
            raise _too_large(
                field,
                f"PDF 文件盖章后过大，无法制作共享副本（the PDF has {len(original)} bytes, sealing added {grown} (its "
                f"pages are written again with each seal): a sharing copy would need about {needed} bytes, over the "
                f"message limit ({self._max_message_bytes})）",
            )

    def check_size(self, pdf: bytes, *, field: str) -> None:
        """InvalidRequestError DOCUMENT_TOO_LARGE, naming the request ``field``, when ``pdf`` sealed would leave no
        room under the message limit for the seal and a sharing copy's use stamp (``DOCUMENT_HEADROOM_BYTES``)."""
        if len(pdf) > self.max_document_bytes:
            raise _too_large(
                field,
                f"待盖章的 PDF 文件过大（the PDF has {len(pdf)} bytes; a PDF to seal may have at most "
                f"{self.max_document_bytes}: the gateway's message limit ({self._max_message_bytes} bytes) less "
                f"{DOCUMENT_HEADROOM_BYTES} kept for the seal and the use stamp of a sharing copy）",
            )

    def apply(
        self,
        seal: Seal,
        pdf: bytes,
        *,
        reason: str = "",
        page: int = 0,
        box: tuple[float, float, float, float] | None = None,
        field: str = "pdf",
        page_field: str = "",
        named: bool = False,
    ) -> bytes:
        """Seal ``pdf`` with ``seal`` (which must be active); errors name the request ``field`` the PDF came in, and a
        page the PDF does not have the request's ``page_field`` when it names the page (``SealDocument``'s ``page``:
        it had named ``pdf``, although the page asked for is what to fix; an integrator); ``named``: the caller named
        the seal (``_require_active``)."""
        self._require_active(seal, named=named)
        if seal.algorithm == SM2_SM3:
            raise ConflictError(
                "SM2印章用StampDocument按GB/T 38540格式签章，不能在 PDF 文件上盖章（an SM2 seal stamps documents in "
                "the GB/T 38540 form (StampDocument), not as a PDF signature）",
                reason="SM2_SEAL_NOT_FOR_PDF",
            )
        if not pdf:
            raise invalid(field, "REQUIRED", f"请提供 PDF 文件（{field} is required）")
        sealer = self._sealer(seal)
        field_name = f"zzgw-{seal.seal_id}-{uuid.uuid4().hex[:8]}"
        try:
            return self._event_loop().run(
                sealer.seal(pdf, field_name=field_name, page=page, box=box, reason=reason or DEFAULT_REASON),
                SEAL_TIMEOUT_SECONDS,
            )
        except TimestampUnavailable as exc:
            raise UpstreamUnavailableError(
                f"时间戳服务暂时不可用，未盖章，请稍后重试（the time-stamping authority is unavailable: {exc}）",
                reason="TSA_UNAVAILABLE",
            ) from exc
        except concurrent.futures.TimeoutError as exc:  # had been INTERNAL with a traceback (a reviewer)
            raise UpstreamUnavailableError(
                f"盖章超时，未盖章，请稍后重试（sealing took more than {SEAL_TIMEOUT_SECONDS:g} s and was given up: "
                "the gateway is busy sealing, the time-stamping authority is slow, or the seal's key (a token, an HSM) "
                "does not answer; nothing was sealed）",
                reason="SEALING_TIMED_OUT",
            ) from exc
        except NoSuchPage as exc:
            raise pdf_refusal(page_field or field, exc) from exc
        except PageTooSmall as exc:  # not "fix the box", which its sender never sent (a reviewer, sealplace R4)
            raise pdf_refusal(field, exc, advice="页面太小，放不下印章") from exc
        except PdfError as exc:
            raise pdf_refusal(field, exc) from exc

    def _sealer(self, seal: Seal) -> PdfSealer:
        """One sealer per seal, made once: it keeps the parsed key and the encoded stamp image."""
        with self._lock:
            sealer = self._sealers.get(seal.seal_id)
            if sealer is None:
                sealer = PdfSealer(
                    self.key(seal),
                    x509.load_der_x509_certificate(seal.certificate_der),
                    [self._ca.intermediate],
                    seal_png=seal.image_png,
                    timestamper=self._timestamper,
                )
                self._sealers[seal.seal_id] = sealer
            return sealer

    def _event_loop(self) -> EventLoopThread:
        with self._lock:
            if self._loop is None:
                self._loop = EventLoopThread()
            return self._loop

    def as_revoked(self, seal: Seal) -> Seal:
        """``seal`` with the revocation the seal-maker CA holds for its certificate when the store shows none, or a
        later one: revocations are final, and the CA keeps each one it made or saw in the store (``revocations.json``
        beside its certificates, and every CRL it signed), so a seal set back to ACTIVE in the database behind the
        gateway's back stays revoked from the time it was."""
        if seal.algorithm == SM2_SM3 and self._sm2 is None:  # no SM2 seal maker here: the store's word alone (it
            return seal  # had been an AssertionError, init's traceback among others; a reviewer)
        recorded = self._ca_for(seal.algorithm).revocation_time(seal.certificate_serial)
        if recorded is None or (seal.revoked_at is not None and seal.revoked_at <= recorded):
            return seal
        return dataclasses.replace(seal, status=SealStatus.REVOKED, revoked_at=recorded)

    def crl(self) -> bytes:
        """The seal-maker CA's CRL with every seal revoked in the store (by any gateway process)."""
        return self._crl(self._ca, lambda seal: seal.algorithm != SM2_SM3)

    @property
    def sm2_ca(self) -> SealMakerCA | None:
        """The SM2 seal maker's CA, which certifies SM2 seals and the maker; None without SM2 seals."""
        return None if self._sm2 is None else self._sm2.ca

    def sm2_crl(self) -> bytes:
        """The SM2 seal maker's CRL, signed SM3withSM2 by its intermediate, with every SM2 seal revoked in the
        store; KeyStoreError without an SM2 seal maker."""
        if self._sm2 is None:
            raise KeyStoreError("this gateway has no SM2 seal maker: run `zzgw init` with SM2 in the system OpenSSL")
        return self._crl(self._sm2.ca, lambda seal: seal.algorithm == SM2_SM3)

    def crls(self) -> tuple[bytes, ...]:
        """The CRLs this gateway signs: its seal-maker CA's, unless that CA holds no issuing key (its seals are then
        checked against the store's revocations, and others' against nothing here: undecided), and the SM2 seal
        maker's."""
        own = (self.crl(),) if self._ca.can_issue else ()
        return own if self._sm2 is None else (*own, self.sm2_crl())

    def _crl(self, ca: SealMakerCA, covers: Callable[[Seal], bool]) -> bytes:
        """``ca``'s CRL with the seals ``covers`` that the store holds revoked, which the CA takes in (``take``: its
        file read once, and not at all when it holds each). Not under ``_lock``: one ``revoke`` per revoked seal, each
        reading the whole revocations.json, had run under it at every anonymous CRL request, and sealing (``_sealer``)
        waited behind them; the CA keeps its own lock (a reviewer)."""
        with self._db.unit_of_work() as uow:
            revoked = [seal for seal in uow.seals.revoked() if covers(seal)]
            in_store = {seal.certificate_serial for seal in revoked}
            unstored = [r.serial for r in ca.revocations if r.serial not in in_store]
            lacking = [seal for seal in uow.seals.with_serials(unstored) if covers(seal)]
        self._write_back([seal for seal in lacking if seal.status is SealStatus.ACTIVE])
        ca.take(
            Revocation(
                serial=seal.certificate_serial,
                reason=_CRL_REASONS[CrlReason(seal.crl_reason)],
                revoked_at=seal.revoked_at,
            )
            for seal in revoked
            if seal.revoked_at is not None
        )
        now = self._clock.now()
        return ca.crl(now, now + CRL_VALIDITY)

    def _write_back(self, seals: Sequence[Seal]) -> None:
        """Write to the store the revocations the seal-maker CA holds of these seals, which the store shows ACTIVE:
        each as the CA made it (its time and CRL reason). The CA records a revocation only once the store has
        committed it (``revoke``, or the CRL's ``take``), so one the store lacks is of a seal set back to ACTIVE
        behind the gateway's back (the store restored from a copy taken before the revocation, or edited), or a
        record an earlier version made before a commit that then failed. It keeps the CA's time, which a CRL may have
        served (a revocation served is never undone): left ACTIVE in the store, a replica with its own data directory
        listed it on no CRL and sealed on with it (a reviewer's R2)."""
        for seal in seals:
            if seal.algorithm == SM2_SM3 and self._sm2 is None:
                continue
            revocation = self._ca_for(seal.algorithm).revocation(seal.certificate_serial)
            if revocation is None:
                continue
            changed = [f"seal:{seal.key_id}"]
            try:
                with self._db.unit_of_work(write=True) as uow:
                    locked = uow.seals.lock(seal.seal_id)
                    if locked is None or locked.status is not SealStatus.ACTIVE:
                        continue
                    crl_reason = _CRL_REASON_OF.get(revocation.reason, CrlReason.CESSATION_OF_OPERATION)
                    uow.seals.revoke(
                        seal.seal_id, at=revocation.revoked_at, reason=WRITTEN_BACK, crl_reason=crl_reason.value
                    )
                    if self._feed is not None:
                        self._feed.announce(uow, changed)
                    uow.commit()
            except _WRITE_BACK_FAILURES as error:
                # what the CA holds is answered all the same (the CRL lists it, GetSeal shows it revoked): a store
                # that takes no writes now (read-only, busy, away) must not cost an anonymous CRL fetch its answer;
                # the next CRL, GetSeal or ListSeals tries again
                log.warning(
                    "seal %s of issuer %s: the seal-maker CA's revocation of it is not written to the store now (%s); "
                    "the next look-up tries again",
                    seal.seal_id,
                    seal.issuer_code,
                    type(error).__name__,
                )
                continue
            if self._feed is not None:
                self._feed.committed(changed)
            log.warning(
                "seal %s of issuer %s: the seal-maker CA's revocation of it (from %s) written to the store, which "
                "showed it ACTIVE (a RevokeSeal whose commit failed, or the seal set back behind the gateway's back)",
                seal.seal_id,
                seal.issuer_code,
                revocation.revoked_at.isoformat(),
            )

    def stamp(self, caller: Member, seal_id: str, document: bytes) -> bytes:
        """A GB/T 38540 stamp (SES_Signature, DER) of one of the caller's SM2 seals over ``document``."""
        seal = self.owned(caller, seal_id)
        self._require_active(seal, named=True)
        if seal.ses_seal is None:
            raise ConflictError(
                "只有SM2印章按GB/T 38540格式签章，PDF 文件请用SealDocument盖章（only SM2 seals stamp in the GB/T 38540 "
                "form; seal PDFs with SealDocument）",
                reason="NOT_AN_SM2_SEAL",
            )
        # made before the maker's key leaked, its SES_Seal carries the revoked certificate: the stamps it made had
        # been given, each FAILED for every checker, without a word (a reviewer, R1)
        if (revocation := self.maker_revocation(seal)) is not None:
            raise maker_revoked(seal, revocation)
        if not document:
            raise invalid("document", "REQUIRED", "请提供要签章的文件（document is required）")
        if len(document) > MAX_STAMPED_BYTES:
            raise invalid(
                "document", "TOO_LARGE", f"文件最多{MAX_STAMPED_BYTES}字节（at most {MAX_STAMPED_BYTES} bytes）"
            )
        stamped = sign_document(
            document,
            seal=seal.ses_seal,
            key=self.key(seal),
            cert=x509.load_der_x509_certificate(seal.certificate_der),
            at=self._clock.now(),
            property_info=f"zzgw:{hashlib.sha256(document).hexdigest()}",
            time_stamp=None if self._timestamper is None else self._time_stamp,
        )
        return self._kept_active(seal, stamped)

    def _time_stamp(self, signature: bytes) -> bytes:
        """An RFC 3161 token over a stamp's signature value, from the TSA that timestamps PDF seals (the gateway's
        own, or ZZGW_TSA_URL's, checked against its roots), for the stamp's timeStamp [0]. Stamps had carried none:
        the time in them was only the signer's claim, so every stamp of a seal revoked or ended since was undecided
        (SIGNER_REVOKED_NO_TRUSTED_TIME) for good, while PDFs sealed at the same moment stayed PASSED (a reviewer,
        R3). No token, no stamp: TSA_UNAVAILABLE, as for SealDocument."""
        assert self._timestamper is not None
        try:
            token = self._event_loop().run(
                self._timestamper.async_timestamp(hashlib.sha256(signature).digest(), "sha256"), SEAL_TIMEOUT_SECONDS
            )
        except concurrent.futures.TimeoutError as exc:
            raise UpstreamUnavailableError(
                f"时间戳服务超时，未签章，请稍后重试（the time-stamping authority gave no timestamp within "
                f"{SEAL_TIMEOUT_SECONDS:g} s; nothing was stamped）",
                reason="TSA_UNAVAILABLE",
            ) from exc
        except Exception as exc:  # unreachable, a refusal, a token its roots do not anchor: no timestamp
            raise UpstreamUnavailableError(
                f"时间戳服务暂时不可用，未签章，请稍后重试（the time-stamping authority is unavailable: {exc}）",
                reason="TSA_UNAVAILABLE",
            ) from exc
        der: bytes = token.dump()
        return der

    def maker_revocation(self, seal: Seal) -> Revocation | None:
        """The revocation of the seal maker's certificate in an SM2 seal's SES_Seal, by the SM2 seal maker's CA; None
        when it is not revoked, or not an SM2 seal, or there is no SM2 seal maker here (nor SM2 stamps)."""
        serial = seal_maker_serial(seal)
        if serial is None or self._sm2 is None:
            return None
        return self._sm2.ca.revocation(serial)

    def _require_active(self, seal: Seal, *, named: bool = False) -> None:
        """Nothing if ``seal`` (as read from the store) can seal now; else SEAL_REVOKED or SEAL_EXPIRED. One read
        ACTIVE and revoked since is refused as revoked while the call was being made (``revoked_while_sealing``): the
        issuer's seal a call chose, revoked before it sealed its document, had been refused in words meant for a seal
        the caller named revoked. ``named``: the caller named the seal, and is told to choose another rather than to
        retry (``revoked_while_sealing``)."""
        status = self.as_revoked(seal).effective_status(self._clock.now())
        if status is SealStatus.REVOKED and seal.status is SealStatus.ACTIVE and self._revoked_just_now(seal):
            raise revoked_while_sealing(seal.seal_id, seal.name, named=named)
        if status is not SealStatus.ACTIVE:
            said = "已吊销" if status is SealStatus.REVOKED else "已过期"
            raise ConflictError(
                f"印章{said}，不能用章（the seal is {status.value.lower()} and cannot seal）",
                reason=f"SEAL_{status.value}",
            )
