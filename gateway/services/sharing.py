"""Sharing (用证 / 免提交): a consuming department reads what a matter needs of an applicant's licenses.

>>> listing = sharing.list_holder_licenses(tax, use, holder_code_type="001", holder_code=uscc)   # doctest: +SKIP
>>> data = sharing.license_data(tax, use, listing.entries[0].license.license_id)                # doctest: +SKIP
>>> data.permit.values["company_name"]                                                          # doctest: +SKIP

Every answer comes from ``gateway.domain.sharing.decide`` (or ``access_state``, derived from it), fed with what the
store holds at the time of the call: the caller's decided access requests for the matter (approvals and rejections)
and the consent whose code the caller presents. Nothing is cached, so decisions, withdrawals and expiry take effect
at the next call.

**The audit trail.** Every call that reaches the policy appends exactly one access record before it is answered,
a policy denial (PERMISSION_DENIED, decision DENY with the policy's reason) included; a form filled from several
licenses appends one per license, together, so that each issuer sees the use of its own, and one DENY per license
the policy refused a key of (every license looked in, when nothing was filled), as GetLicenseData's refusal names its
license (the issuer and the license's co-subjects see the attempt). Calls that use no consent
append their record through a ``GroupWriter`` (many calls, one transaction; each caller waits for its commit).
A call that uses a consent counts the use and appends its record in one transaction: the count is an atomic
``UPDATE … SET uses_left = uses_left - 1 WHERE … uses_left > 0 AND withdrawn_at IS NULL``, so of two concurrent uses
of a one-use code exactly one succeeds; the other is decided again on the consent as it now stands (used up) and
recorded as such. Requests refused before any license is used (no matter, no purpose, a malformed identifier or
code, an identifier of a license type the matter does not use, an unknown license) are errors, not uses, and leave
no record. A type the matter does not use is refused from the identifier before the license is looked up
(NOT_USED_BY_MATTER, as verification refuses it), so that whether such a license exists is not told.

**Documents.** The sealed PDF prints every field of the license but the SECRET ones, in full, with the holder, so it
goes to a caller only when the policy lets that caller see all of it: every printed field is shared unmasked, or is
public anyway (UNCONDITIONAL and NORMAL); otherwise DOCUMENT_EXCEEDS_PERMIT (use GetLicenseData for the fields the
matter needs). The copy carries its use visibly, as provincial platforms watermark copies with the 用证事由: the
gateway adds a second signature whose appearance is a watermark with the purpose, matter, caller and time, signed
with the gateway's key (the 核验回执专用章 certificate from the seal-maker CA), its text also in the signature's
/Reason. A signature added later is an allowed change, so the issuer's seal still validates on the copy.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import io
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import TimeStamper

from gateway.domain.audit import AuditAction, AuditEntry, vouched_subjects
from gateway.domain.catalog import (
    HOLDER_CODE_TYPES,
    KIND_OF_CODE_TYPE,
    Catalog,
    FieldSpec,
    HolderKind,
    LicenseType,
    Material,
    Matter,
    Sensitivity,
    SharingClass,
)
from gateway.domain.errors import (
    ConflictError,
    DeadlineExceededError,
    FieldViolation,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UpstreamUnavailableError,
    ZzgwError,
    bad_page_token,
    invalid,
    page_token_of_another_catalog,
)
from gateway.domain.identifiers import LicenseId, license_id_violation
from gateway.domain.model import CHINA_TZ, Clock, License, LicenseStatus, Member
from gateway.domain.paging import Listing, PageTokens
from gateway.domain.seals import LicenseDocument
from gateway.domain.sharing import (
    Access,
    AccessState,
    Approval,
    ApprovalState,
    Basis,
    Consent,
    ConsentedFields,
    Decision,
    Deny,
    Permit,
    Reason,
    access_state,
    decide,
)
from gateway.domain.validation import checked_holder_code
from gateway.domain.verification import (
    MatterNotHandledError,
    TypeNotUsedError,
    UseContext,
    check_type_used,
    elsewhere_of,
    not_in_this_registry,
    status_since,
)
from gateway.services import calls
from gateway.services.audit import AuditTrail, UseTarget
from gateway.services.authorization import (
    AccessRequestState,
    consent_code_digest,
    consent_names_a_person,
    holder_born,
)
from gateway.services.documents import DocumentService, printed_secrets
from gateway.services.members import of_another_registry
from gateway.store.database import AppendWork, Database, UnitOfWork
from gateway.store.group_writer import GroupWriter
from gateway.store.repositories import StoredAccessRequest, StoredConsent
from signing.keys import KeyBackend
from signing.pdf import PdfError, PdfSealer, TimestampUnavailable
from signing.results import PASSED, CheckResult, Finding
from signing.seal_image import find_cjk_font
from signing.watermark import Box, watermark_pdf

MAX_FORM_KEYS = 100
MAX_HOLDER_PAGE = 500
"""The most licenses a page of ``list_holder_licenses`` lists: a larger ``limit`` is taken as this."""
_PROBE = 50
"""Licenses read at a time to find whether a holder has one of a type in force (``_has_usable``)."""
MAX_FORM_KEY = 100
STAMP_TIMEOUT_SECONDS = 60.0
_USE_STAMP_PREFIX = "zzgw-use-"
_EDITED_IN_STORE = frozenset({"RECORD_ALTERED", "STATUS_ALTERED"})
"""The findings of a record's check that say it was changed in the store: a sharing read's refusal names them."""
T = TypeVar("T")
"""(left, bottom, right, top) in PDF points."""


# --- answers ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HolderEntry:
    """One of the applicant's licenses that the matter needs, with what the caller may do with it."""

    license: License
    status: LicenseStatus
    """Effective today."""
    access: Access


@dataclass(frozen=True, slots=True, kw_only=True)
class HolderListing:
    entries: tuple[HolderEntry, ...]
    """In the order of the matter's materials, within a material in the order the licenses were first issued."""
    missing: tuple[Material, ...]
    """Materials for which the applicant has no ACTIVE license, of the types it could hold."""
    held_by_others: tuple[OthersMaterial, ...] = ()
    """Materials of types no holder of the applicant's code type can hold (a 居民身份证 for a company): another's,
    such as its legal representative's, never in ``missing``, where an integrator would read that the applicant lacks
    them."""
    next_page_token: str = ""
    """For the next page; empty when there is none (and always for a listing of every license, ``limit`` 0)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OthersMaterial:
    """A material of the matter that the applicant cannot hold, by its code type, and whose it is instead."""

    material: Material
    detail: str
    """Why the applicant cannot hold it and how to find it: by the code of the person who holds it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseData:
    license: License
    status: LicenseStatus
    permit: Permit
    consent_uses_left: int | None
    """Uses of the consent left after this one, when one was counted."""
    used_at: dt.datetime
    current: CurrentVersion | None = None
    """For a SUPERSEDED version, the version in force at ``used_at`` (``SharingService._current``); else None."""


class CurrentVersion(Protocol):
    """The version in force of a SUPERSEDED version, as ``VerificationService.current_version`` finds it."""

    @property
    def license_id(self) -> str: ...

    @property
    def status(self) -> LicenseStatus | None:
        """Its status on the day; None when its record or stored status is not the gateway's."""

    @property
    def since(self) -> dt.date | None:
        """The day that status began; None while ACTIVE."""

    @property
    def words(self) -> str:
        """Its standing for a clerk: 目前有效, 目前已吊销或撤销, …"""


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseCopy:
    """The sealed document with the use stamped on it."""

    pdf: bytes
    sha256: str
    original_sha256: str
    stamp_field: str
    use_text: str
    consent_id: str
    used_at: dt.datetime
    status: LicenseStatus
    """The license's status when it was used (on the copy too, when it is not in force)."""
    status_since: dt.date | None
    current: CurrentVersion | None = None
    """For a SUPERSEDED version, the version in force at the use (on the copy too, after its status)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefilledValue:
    key: str
    """The form key as asked."""
    value: str
    masked: bool
    license_id: str
    type_code: str
    field_key: str
    field_label: str
    basis: Basis


@dataclass(frozen=True, slots=True, kw_only=True)
class UnfilledKey:
    key: str
    reason: str
    """UNKNOWN_FIELD, NOT_NEEDED, NO_LICENSE, EMPTY, or the policy's reason."""
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefilledForm:
    values: tuple[PrefilledValue, ...]
    unfilled: tuple[UnfilledKey, ...]
    remedy: str
    consent_id: str
    used_at: dt.datetime


# --- the use stamp ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StampKey:
    """The gateway's own signing key for use stamps, its certificate, and the CA certificates to embed."""

    key: KeyBackend
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


class UseStamper:
    """Puts the use (用证事由, matter, caller, time) on a copy of a sealed PDF as a second, gateway-applied signature
    whose appearance is a watermark across every page (drawn for the first page's size); the document's own seals
    stay valid."""

    def __init__(self, signer: StampKey, *, timestamper: TimeStamper | None = None, font: Path | None = None):
        self._signer = signer
        self._timestamper = timestamper
        self._font = font

    def stamp(self, pdf: bytes, lines: Sequence[str], reason: str) -> tuple[bytes, str]:
        """The stamped copy and the name of the stamp's signature field."""
        page, box = watermark_pdf(lines, _page_box(pdf), self._font or find_cjk_font())
        sealer = PdfSealer(
            self._signer.key, self._signer.certificate, self._signer.chain, seal_pdf=page, timestamper=self._timestamper
        )
        field = _USE_STAMP_PREFIX + uuid.uuid4().hex[:12]
        try:
            stamped = asyncio.run(
                asyncio.wait_for(
                    sealer.seal(
                        pdf,
                        field_name=field,
                        box=box,
                        reason=reason,
                        location="zzgw",
                        alternative_text=reason,
                        every_page=True,  # the copy's use on every page, not the first only (a reviewer, R4)
                    ),
                    STAMP_TIMEOUT_SECONDS,
                )
            )
        except TimestampUnavailable as exc:
            raise UpstreamUnavailableError(
                f"时间戳服务暂时不可用，未出具用证副本，请稍后重试"
                f"（the time-stamping authority is unavailable: {exc}）",
                reason="TSA_UNAVAILABLE",
            ) from exc
        except PdfError as exc:
            raise ConflictError(
                f"所存证照文件已损坏，无法加盖用证标记，请联系发证部门（the stored document cannot be stamped: {exc}）",
                reason="DOCUMENT_DAMAGED",
            ) from exc
        return stamped, field


def _page_box(pdf: bytes) -> Box:
    """The first page's media box, 1 pt inside it, in whole points (where the watermark goes)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page, _ = reader.find_page_for_modification(0)
    node: Any = page.get_object()
    while node is not None and "/MediaBox" not in node:
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    if node is None:
        raise ConflictError(
            "所存证照文件已损坏（页面没有尺寸），无法加盖用证标记，请联系发证部门"
            "（the stored document's page has no size）",
            reason="DOCUMENT_DAMAGED",
        )
    x1, y1, x2, y2 = (float(v) for v in node["/MediaBox"])
    left, bottom, right, top = min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
    return math.ceil(left) + 1, math.ceil(bottom) + 1, math.floor(right) - 1, math.floor(top) - 1


# --- the service --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Outcome:
    """What one call decided, for its access record and for the consent count."""

    permitted: bool
    reason: str
    """The denial's reason code; for a permit, what granted it (``consent=…``, ``approval=…``) or empty."""
    reasons: Mapping[str, str] = field(default_factory=dict)
    """For a permit using several licenses (a form), by license id, what granted that license's part (``reason``
    for one not named)."""
    consent_id: str = ""
    """The consent whose use the call counts (empty: none)."""
    error: ZzgwError | None = None
    """What a denied call raises (None when a denial is still an answer, as for a form nothing could fill)."""
    license: License | None = None
    """The license the record names, when the call is about a holder and used exactly one license."""
    licenses: tuple[License, ...] = ()
    """The licenses a call about a holder used, when several (a form filled from two issuers' licenses): the call
    leaves one record per license, each naming its own, so every issuer sees the use of its license."""
    by_guardian: bool = False
    """Whether the denial's reason is about a consent a parent granted for the holder (``Deny.by_guardian``)."""
    refused: tuple[tuple[License, str, bool], ...] = ()
    """A form's licenses the policy refused a key of (or, when nothing was filled, every license a key was looked for
    in), each with the policy's reason for it and whether that is about a guardian's consent (``Deny.by_guardian``).
    The call leaves a DENY record for each, as a GetLicenseData refused leaves one naming it, so that its issuer and
    its co-subjects see the attempt: a record naming the holder alone had left them blind, and so had a form another
    license filled a key of (reviews)."""


def _outcome(decision: Decision) -> _Outcome:
    if isinstance(decision, Deny):
        return _Outcome(
            permitted=False, reason=decision.reason.value, error=decision.error(), by_guardian=decision.by_guardian
        )
    return _Outcome(
        permitted=True, reason=granted_by(decision.consent_id, decision.approval_ids), consent_id=decision.consent_id
    )


MAX_RECORD_REASON = 500
"""The length of an access record's ``reason`` (``AccessRecordRow.reason``, schema 0041)."""


def granted_by(consent_id: str, approval_ids: Sequence[str], *, room: int = MAX_RECORD_REASON) -> str:
    """What a permit's access record names as its grants (``AuditEntry.reason``): ``consent=ID`` for the consent used,
    ``approval=ID1,ID2`` for every approval that let a field through (``Permit.approval_ids``), both as
    ``consent=ID;approval=ID1,ID2``; empty for a permit of unconditional data. Within ``room`` characters (the
    column's): the approvals past it are counted, not named, ``,+N`` after the last one named. Only the first approval
    had been named, so the trail could not tell which reads relied on an approval later withdrawn (a reviewer, access
    R3)."""
    parts = [f"consent={consent_id}"] if consent_id else []
    if not approval_ids:
        return ";".join(parts)
    head = ";".join([*parts, "approval="])
    named: list[str] = []
    for approval_id in approval_ids:
        after = len(approval_ids) - len(named) - 1
        if len(head + ",".join([*named, approval_id]) + (f",+{after}" if after else "")) > room:
            break
        named.append(approval_id)
    unnamed = len(approval_ids) - len(named)
    return head + ",".join(named) + (("," if named else "") + f"+{unnamed}" if unnamed else "")


class SharingService:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        clock: Clock,
        audit: AuditTrail,
        *,
        pages: PageTokens,
        documents: DocumentService | None = None,
        stamper: UseStamper | None = None,
        record_check: Callable[[License], Finding] | None = None,
        record_subjects: Callable[[License], tuple[str, ...]] | None = None,
        record_current: Callable[[License, dt.datetime], CurrentVersion | None] | None = None,
        max_reply_bytes: int | None = None,
    ):
        self._pages = pages
        """Seals and opens the page tokens of ``list_holder_licenses``."""
        self._max_reply_bytes = max_reply_bytes
        """The gateway's message limit: a sharing copy that would not fit in a reply is refused before its use is
        counted (the API checks the reply's exact size again)."""
        self._record_check = record_check
        """The check of a stored record's seal and status (``VerificationService.record_finding``): what is shared is
        what the issuer sealed and the gateway stored, never a record changed behind its back."""
        self._record_subjects = record_subjects
        self._record_current = record_current
        """``VerificationService.current_version``: the version in force of a superseded version read or copied."""
        """``VerificationService.record_subjects``: the co-subjects of a record its seal vouches for."""
        self._db = db
        self._catalog = catalog
        self._clock = clock
        self._audit = audit
        self._documents = documents
        self._stamper = stamper
        self._records: GroupWriter[list[AuditEntry], list[AuditEntry], None] = GroupWriter(
            db, self._append, name="sharing-audit", retry=audit.stale_head, hold=audit.hold
        )

    def close(self) -> None:
        self._records.close()

    def refuse_use(
        self, caller: Member, refused: MatterNotHandledError, action: AuditAction, target: UseTarget | None = None
    ) -> None:
        """Put on the audit trail a call refused because the caller named another department's matter, with the
        license or holder the request named (``AuditTrail.refuse_use``), on the logs of its co-subjects too."""
        self._audit.refuse_use(caller, refused, action, target, subjects=self._subjects)

    # -- the RPCs --------------------------------------------------------------------------------------------------

    def list_holder_licenses(
        self,
        caller: Member,
        use: UseContext,
        *,
        holder_code_type: str,
        holder_code: str,
        consent_code: str = "",
        limit: int = 0,
        page_token: str = "",
        reply_size: Callable[[HolderListing], int] | None = None,
        max_bytes: int = 0,
    ) -> HolderListing:
        """The applicant's current licenses of the types the matter needs (自动关联), each with its access state.
        A consent code is weighed, not used up.

        In the order of the matter's materials, and within a material in the order the licenses were first issued
        (``HolderLicenseRepository.current_after``: an amended one keeps its place); ``limit`` 0 lists every one, as
        before paging, else a page of at most ``limit`` (``MAX_HOLDER_PAGE``) with a sealed token for the next
        (``gateway.domain.paging``). With ``reply_size`` (the bytes a listing takes in the reply), a page ends
        before it passes ``max_bytes``, and a listing of every license that would pass it is refused,
        RESOURCE_EXHAUSTED / REPLY_TOO_LARGE, on the trail as such: a chain's 7,000 permits had been listed past the
        message limit, gRPC failed the reply with no reason (which api.md says to retry), and each try had put a
        LISTED record on the holder's log for a reply never given (a reviewer)."""
        matter = self._catalog.matter(use.matter_code)
        code_type, code = _holder(holder_code_type, holder_code)
        if limit < 0:
            raise invalid(
                "limit",
                "BAD_LIMIT",
                f"每页条数不能为负数：0为全部证照（须在网关的消息上限之内），超过{MAX_HOLDER_PAGE}按{MAX_HOLDER_PAGE}条"
                f"（limit must not be negative: 0 for every license, within the message limit; more than "
                f"{MAX_HOLDER_PAGE} taken as {MAX_HOLDER_PAGE}）",
            )
        listing = Listing(
            "ListHolderLicenses",
            caller.code,
            (f"matter_code={matter.code}", f"holder_code_type={code_type}", f"holder_code={code}", "by=first"),
        )
        start = _holder_position(self._pages.position(page_token, listing), matter)
        size = min(limit, MAX_HOLDER_PAGE) if limit else None
        digest = consent_code_digest(consent_code)
        now = self._clock.now()
        found: list[tuple[int, int, License]] = []  # (the material's index, the license's place, the license)
        with self._db.unit_of_work() as uow:
            for index, material in enumerate(matter.materials):
                if start is not None and index < start[0]:
                    continue
                read = uow.holder_licenses.current_after(
                    code,
                    [code_type],
                    [material.type_code],
                    status=None,
                    on=None,
                    after=start[1] if start is not None and index == start[0] else None,
                    limit=None if size is None else size + 1 - len(found),  # one more than the page: whether more
                )
                found += [(index, place, license) for place, license in read]
                if size is not None and len(found) > size:
                    break
            more = size is not None and len(found) > size
            found = found[:size]
            licenses = [license for _, _, license in found]
            approvals, consents = self._grants(uow, caller, matter, digest)
            names = _issuer_names(uow, licenses)
        record = _Record(caller, use, AuditAction.LIST_HOLDER_LICENSES, now, self._subjects, holder_code=code)
        if digest and not consents:
            self._refuse(record, _unknown_code())
        on = now.astimezone(CHINA_TZ).date()  # the day of the listing's one reading of the clock, which dates it
        entries = []
        for index, _, license in found:
            material = matter.materials[index]
            license_type = self._catalog.license_type(material.type_code)
            access = access_state(
                caller=caller,
                license=license,
                license_type=license_type,
                matter=matter,
                purpose=use.purpose,
                approvals=approvals,
                consents=consents,
                now=now,
                issuer_name=names[license.content.issuer_code],
                holder_named=True,  # the caller named the holder's code: the remedy may tell the age
            )
            finding = self._check(license)
            if finding.result is not CheckResult.PASSED:  # listed as it is, but not as something to read
                access = Access(
                    state=AccessState.NOT_SHARED,
                    reason=Reason.RECORD_NOT_INTACT,
                    detail=_with_reason(Reason.RECORD_NOT_INTACT.detail, finding.reason or ""),
                )
            entries.append(HolderEntry(license=license, status=license.effective_status(on), access=access))
        usable = {
            e.license.content.type_code
            for e in entries
            if _usable(e.license, e.status, on) and e.access.reason is not Reason.RECORD_NOT_INTACT
        }
        held = {e.license.content.type_code for e in entries}
        if start is not None or more:  # a page: what the other pages list counts too (what the applicant lacks)
            types = dict.fromkeys(m.type_code for m in matter.materials if m.type_code not in usable)
            usable |= {t for t in types if self._has_usable(code_type, code, t, on)}
        # a type of the other kind of holder (a person's 居民身份证 to a company) is another's material, unless the
        # applicant has one all the same; a person's under another code type (a passport's, 其他) is still missing
        # (a reviewer: a person known by passport number was told their own materials were others')
        holdable = {
            m.type_code
            for m in matter.materials
            if _holdable(self._catalog.license_type(m.type_code), code_type)
            or m.type_code in held
            or ((start is not None or more) and self._holds(code_type, code, m.type_code))
        }
        missing = tuple(m for m in matter.materials if m.type_code not in usable and m.type_code in holdable)
        others = tuple(
            OthersMaterial(material=m, detail=_held_by_others(self._catalog.license_type(m.type_code), code_type))
            for m in matter.materials
            if m.type_code not in holdable
        )

        def page(n: int, token: bool) -> HolderListing:
            """The first ``n`` entries, with a next page's token when ``token``."""
            end = found[n - 1] if n else None
            return HolderListing(
                entries=tuple(entries[:n]),
                missing=missing,
                held_by_others=others,
                next_page_token=(
                    self._pages.token(f"{_materials_mark(matter)}:{end[0]}:{end[1]}", listing) if token and end else ""
                ),
            )

        answer = page(len(entries), more)
        if reply_size is not None and (size_of := reply_size(answer)) > max_bytes:
            if size is None:  # every license was asked for: they do not fit, and paging would have listed them
                self._refuse(record, _too_many(len(entries), size_of))
            fits = _most_fitting(len(entries), lambda n: reply_size(page(n, True)) <= max_bytes)
            if not fits:
                self._refuse(record, _too_many(1, reply_size(page(1, True))))
            answer = page(fits, True)  # the message limit ended the page: the next goes on after it
        self._records.write(
            record.entries(_Outcome(permitted=True, reason=f"licenses={len(answer.entries)}"), "LISTED")
        )
        return answer

    def _check(self, license: License) -> Finding:
        """The check of a stored record's seal and status (``record_check``), PASSED without one."""
        return self._record_check(license) if self._record_check is not None else PASSED

    def _has_usable(self, code_type: str, code: str, type_code: str, on: dt.date) -> bool:
        """Whether the holder has a license of ``type_code`` in force ``on`` whose record passes its check, found a
        few at a time among those stored ACTIVE and not past their end (a page of ``list_holder_licenses`` tells what
        the applicant lacks over all its licenses, not the page's)."""
        after = None
        while True:
            with self._db.unit_of_work() as uow:
                read = uow.holder_licenses.current_after(
                    code, [code_type], [type_code], status=LicenseStatus.ACTIVE.value, on=on, after=after, limit=_PROBE
                )
            if any(
                _usable(license, license.effective_status(on), on) and self._check(license).result is CheckResult.PASSED
                for _, license in read
            ):
                return True
            if len(read) < _PROBE:
                return False
            after = read[-1][0]

    def _holds(self, code_type: str, code: str, type_code: str) -> bool:
        """Whether the holder has a current license of ``type_code`` at all, in any status."""
        with self._db.unit_of_work() as uow:
            return bool(
                uow.holder_licenses.current_after(
                    code, [code_type], [type_code], status=None, on=None, after=None, limit=1
                )
            )

    def license_data(self, caller: Member, use: UseContext, license_id: str, *, consent_code: str = "") -> LicenseData:
        """The fields of a license that the matter needs and the policy permits (PERMISSION_DENIED if none)."""
        license, license_type, matter, approvals, consents, record, issuer_name = self._prepare(
            caller, use, license_id, consent_code, AuditAction.GET_LICENSE_DATA
        )

        def judge(
            granted: Sequence[Approval], presented: Sequence[Consent], now: dt.datetime
        ) -> tuple[Decision, _Outcome]:
            decision = decide(
                caller=caller,
                license=license,
                license_type=license_type,
                matter=matter,
                purpose=use.purpose,
                approvals=granted,
                consents=presented,
                now=now,
                issuer_name=issuer_name,
            )
            return decision, _outcome(decision)

        decision, outcome, uses_left, used_at = self._settle(record, judge, approvals, consents)
        if not isinstance(decision, Permit):
            assert outcome.error is not None
            raise outcome.error
        status = license.effective_status(used_at.astimezone(CHINA_TZ).date())
        return LicenseData(  # its status on the day the use is dated (not on a later reading: a reviewer, R2)
            license=license,
            status=status,
            permit=decision,
            consent_uses_left=uses_left,
            used_at=used_at,
            current=self._current(license, status, used_at),
        )

    def license_document(
        self, caller: Member, use: UseContext, license_id: str, *, consent_code: str = ""
    ) -> LicenseCopy:
        """The sealed document with its use stamped on it, when the policy lets the caller see all it shows."""
        if self._documents is None or self._stamper is None:
            raise UpstreamUnavailableError(
                "网关没有制章者CA或网关密钥，不能出具用证副本：请网关运维运行 zzgw init"
                "（no seal-maker CA or gateway key: run `zzgw init`）",
                reason="NO_SEAL_CA",
            )
        license, license_type, matter, approvals, consents, record, issuer_name = self._prepare(
            caller, use, license_id, consent_code, AuditAction.GET_LICENSE_DOCUMENT
        )
        printed = self._documents.printed(license)

        def judge(
            granted: Sequence[Approval], presented: Sequence[Consent], now: dt.datetime
        ) -> tuple[Decision, _Outcome]:
            decision = decide(
                caller=caller,
                license=license,
                license_type=license_type,
                matter=matter,
                purpose=use.purpose,
                approvals=granted,
                consents=presented,
                now=now,
                issuer_name=issuer_name,
            )
            if isinstance(decision, Permit) and (
                problem := _document_problem(license, license_type, decision, printed)
            ):
                return decision, problem
            return decision, _outcome(decision)

        decision, first = judge(approvals, consents, record.at)
        if first.error is not None:  # denied: record it now, nothing to draw or stamp
            self._settle(record, lambda *_: (None, first), (), ())
            raise first.error
        on = record.at.astimezone(CHINA_TZ).date()
        status, since = license.effective_status(on), status_since(license, on)
        current = self._current(license, status, record.at)
        lines, text = _use_lines(caller, use, matter, record.at, _status_lines(license, status, since, on, current))
        try:
            # permitted, and then refused for the document itself: it cannot be loaded (REGISTRY_ALTERED) or drawn
            # (DOES_NOT_FIT, TYPE_NOT_IN_CATALOG, ISSUER_NOT_FOUND, the issuer's seal), or the copy cannot be stamped
            # (TSA_UNAVAILABLE, DOCUMENT_DAMAGED): on the holder's log as that refusal, as REPLY_TOO_LARGE is (it had
            # left no record, the attempt seen by neither the holder nor the issuer, a reviewer, R4)
            original = self._document(license)
            stamped, field = self._stamper.stamp(original.pdf, lines, text)
        except ZzgwError as refused:
            self._refuse(record, refused)
        size = _copy_reply_size(stamped, field, text)
        if self._max_reply_bytes is not None and size > self._max_reply_bytes:
            self._refuse(record, _copy_too_large(size, self._max_reply_bytes))
        # the use is counted and recorded only now, and judged again at this time on the approvals that let it through
        # as they now stand (none: not read again): a call denied at this point (its consent just used up, withdrawn,
        # or past its end, or its approval withdrawn or past its end, while the copy was stamped, which may take up to
        # STAMP_TIMEOUT_SECONDS) throws the stamped copy away (a reviewer, R1)
        relied = decision.approval_ids if isinstance(decision, Permit) else ()
        _, outcome, _, used_at = self._settle(record, judge, approvals, consents, again=relied)
        if outcome.error is not None:
            raise outcome.error
        return LicenseCopy(
            pdf=stamped,
            sha256=hashlib.sha256(stamped).hexdigest(),
            original_sha256=original.sha256,
            stamp_field=field,
            use_text=text,
            consent_id=outcome.consent_id,
            used_at=used_at,
            status=status,
            status_since=since,
            current=current,
        )

    def _current(self, license: License, status: LicenseStatus, at: dt.datetime) -> CurrentVersion | None:
        """For a version SUPERSEDED on the day of ``at``, the version in force then and its standing, as
        ``VerifyLicense`` states them: a later department of a 一件事 often holds only the first version's
        identifier (the case receipt's), and had read its data and stamped its copy as 已变更 only, the license
        revoked since (a reviewer, scen1 R3). None otherwise."""
        if status is not LicenseStatus.SUPERSEDED or self._record_current is None:
            return None
        return self._record_current(license, at)

    def prefill(
        self,
        caller: Member,
        use: UseContext,
        *,
        holder_code_type: str,
        holder_code: str,
        keys: Sequence[str],
        license_ids: Sequence[str] = (),
        consent_code: str = "",
    ) -> PrefilledForm:
        """Fill a form's keys from the applicant's licenses (表单要素免填写), each value with its provenance.

        Each key is looked for in the matter's materials in order, by field key, by Chinese label, or as
        ``<type code>.<key or label>``; the value comes from one license of that type, as the policy shows it: the
        one ``license_ids`` names (the holder's, at most one a type), else the one the consent code names, else the
        applicant's one license of the type in force. Of an applicant with several in force and none named (whatever
        their records' checks say), the type's keys are left unfilled, ``SEVERAL_LICENSES`` (how many, and to name
        one): filled from the newest, a
        form had been given another property's 坐落 with nothing saying so, and a consent naming the title being
        transferred could fill nothing (a reviewer, R1). A license not in force is said so (``LICENSE_NOT_IN_FORCE``,
        its status said: the one named, else the newest when none is in force), none at all ``NO_LICENSE``, and
        one of a type the applicant can never hold (a company's legal representative's 居民身份证) ``HELD_BY_OTHERS``,
        as ``list_holder_licenses`` lists it apart.

        The holder's licenses of a type are read newest first and only as far as needed (``_of_type``): every one
        had been read and checked on every call, 2 s of a holder with 20,000 permits (a reviewer, R2). One consent
        use is counted for the whole form when a filled value needed it.
        """
        matter = self._catalog.matter(use.matter_code)
        code_type, code = _holder(holder_code_type, holder_code)
        wanted = _form_keys(keys)
        asked, bad = _form_license_ids(self._catalog, matter, license_ids)
        digest = consent_code_digest(consent_code)
        now = self._clock.now()
        on = now.astimezone(CHINA_TZ).date()  # the day of the time the form's records are dated at
        types = tuple(
            dict.fromkeys(c.license_type.code for key in wanted for c in _candidates(self._catalog, matter, key))
        )
        with self._db.unit_of_work() as uow:
            named, refused = _holders_own(uow, code_type, code, asked, bad)
            if not refused:
                approvals, consents = self._grants(uow, caller, matter, digest)
                by_consent = _consent_named(uow, code_type, code, consents, types, named)
        if refused:
            self._refuse_license_ids(caller, use, license_ids, refused)
        record = _Record(caller, use, AuditAction.PREFILL_FORM, now, self._subjects, holder_code=code)
        if digest and not consents:
            self._refuse(record, _unknown_code())
        licenses: dict[str, License] = {}  # per type, the license its keys are filled from
        not_intact: dict[str, str] = {}  # per type, why the license's record failed its check
        not_in_force: dict[str, str] = {}  # per type, the license's status when none is usable, in words
        several: dict[str, str] = {}  # per type, how many are usable, and to name one, in words
        for type_code in types:
            if type_code in named:
                found = self._among(type_code, [named[type_code]], on)
            elif type_code in by_consent:
                found = self._among(type_code, by_consent[type_code], on, by_consent=True)
            else:
                found = self._of_type(code_type, code, type_code, on)
            if found.license is not None:
                licenses[type_code] = found.license
            elif found.several:
                several[type_code] = found.several
            elif found.not_intact is not None:
                not_intact[type_code] = found.not_intact
            elif found.not_in_force:
                not_in_force[type_code] = found.not_in_force
        with self._db.unit_of_work() as uow:
            names = _issuer_names(uow, licenses.values())
        filler = _Filler(self._catalog, matter, wanted, licenses, names, not_intact, not_in_force, several, code_type)

        def judge(granted: Sequence[Approval], presented: Sequence[Consent], at: dt.datetime) -> tuple[_Form, _Outcome]:
            return filler.fill(caller, use.purpose, granted, presented, at)

        form, outcome, _, used_at = self._settle(record, judge, approvals, consents)
        return PrefilledForm(
            values=form.values,
            unfilled=form.unfilled,
            remedy=form.remedy,
            consent_id=outcome.consent_id,
            used_at=used_at,
        )

    def _refuse_license_ids(
        self, caller: Member, use: UseContext, license_ids: Sequence[str], refused: Sequence[FieldViolation]
    ) -> NoReturn:
        """Refuse a form's bad ``license_ids`` (``refused``: every violation, each on ``license_ids[i]``), having
        recorded each that names a license refused as another's (NOT_THE_HOLDERS_LICENSE) or of a type the matter
        does not use (NOT_USED_BY_MATTER): DENIED with that reason on the logs of the license's holder, co-subjects
        and issuer (``AuditTrail.refuse``), as GetLicenseData's and the consent calls' refusals of the kind are. A
        department naming other people's licenses against a holder's code had left no trace (a reviewer, R2); the
        form's holder is named by none of them, and their log has none.

        An identifier that names no license has no log to go on: one that is no identifier (INVALID_LICENSE_ID) is
        not recorded; a well-formed one no license has (NOT_THE_HOLDERS_LICENSE, as another's is) is recorded alike,
        on no one's log but the trail's, so that the answer's time does not tell whether it exists, as the consent
        calls record it. A second license of a type named (ONE_LICENSE_PER_TYPE) is a mistake of the form, not
        looked up: not recorded either."""
        for violation in refused:
            if violation.reason not in ("NOT_THE_HOLDERS_LICENSE", "NOT_USED_BY_MATTER"):
                continue
            target = UseTarget(license_id=license_ids[int(violation.field.removeprefix("license_ids[")[:-1])])
            self._audit.refuse(caller, use, violation.reason, AuditAction.PREFILL_FORM, target, subjects=self._subjects)
        raise InvalidRequestError(list(refused))

    def _among(self, type_code: str, licenses: Sequence[License], on: dt.date, *, by_consent: bool = False) -> _Found:
        """Which of ``licenses`` (of ``type_code``: the one the form names, or those the consent code names) fills the
        type's keys: the one usable on ``on``, when its record passes its check (else RECORD_NOT_INTACT, its
        finding); several usable, whatever their records' checks say, are SEVERAL_LICENSES, none read; none, the
        status of the first."""
        usable: list[License] = []
        out_of_force = ""
        for license in licenses:
            status = license.effective_status(on)
            if _usable(license, status, on):
                usable.append(license)
            else:
                out_of_force = out_of_force or _not_in_force(license, status, on, self._catalog)
        if len(usable) > 1:
            return _Found(several=_several(self._catalog, type_code, len(usable), by_consent=by_consent))
        if usable:
            return self._checked(usable[0])
        return _Found(not_in_force=out_of_force)

    def _checked(self, license: License) -> _Found:
        """The one license in force of its type the form names or is left with: it, when its record passes its check;
        else its finding (RECORD_NOT_INTACT)."""
        finding = self._check(license)
        if finding.result is CheckResult.PASSED:
            return _Found(license=license)
        return _Found(not_intact=finding.reason or "")

    def _of_type(self, code_type: str, code: str, type_code: str, on: dt.date) -> _Found:
        """Which of the holder's licenses of ``type_code`` fills the type's keys, none named: the one usable on
        ``on``, when its record passes its check (else RECORD_NOT_INTACT, its finding). Read newest first, a few at a
        time (``_PROBE``), among those stored ACTIVE and not past their end, until a second usable one is found or
        none is left. Two usable are SEVERAL_LICENSES (how many counted by the store, the same licenses), whatever
        their records' checks say, and none of them is checked: one failing its check is still in force, and the form
        had been filled from the other, another property's, without a word (a reviewer, R1). The newest of the
        others, read alone, only when none is usable, for the status LICENSE_NOT_IN_FORCE says."""
        usable: list[License] = []
        not_yet: tuple[int, License] | None = None  # the newest stored in force but not yet valid
        before = None
        while len(usable) < 2:
            with self._db.unit_of_work() as uow:
                read = uow.holder_licenses.newest(
                    code_type, code, type_code, in_force_on=on, before=before, limit=_PROBE
                )
            for row, license in read:
                if not _usable(license, license.effective_status(on), on):
                    not_yet = not_yet or (row, license)
                    continue
                usable.append(license)
                if len(usable) == 2:
                    break
            if len(read) < _PROBE:
                break
            before = read[-1][0]
        if len(usable) > 1:
            with self._db.unit_of_work() as uow:
                count = uow.holder_licenses.count_in_force(code_type, code, type_code, on)
            return _Found(several=_several(self._catalog, type_code, max(count, 2)))
        if usable:
            return self._checked(usable[0])
        with self._db.unit_of_work() as uow:
            ended = uow.holder_licenses.newest_not_in_force(code_type, code, type_code, on)
        newest = max((x for x in (not_yet, ended) if x is not None), key=lambda x: x[0], default=None)
        if newest is None:
            return _Found()
        license = newest[1]
        if license.unreadable:  # its dates are not the gateway's (a DBA's edit): RECORD_ALTERED, not epoch dates
            return self._checked(license)
        return _Found(not_in_force=_not_in_force(license, license.effective_status(on), on, self._catalog))

    # -- parts -----------------------------------------------------------------------------------------------------

    def _prepare(
        self, caller: Member, use: UseContext, license_id: str, consent_code: str, action: AuditAction
    ) -> tuple[License, LicenseType, Matter, list[Approval], list[Consent], _Record, str]:
        """What a call about one license needs: the license, its type, the matter, the caller's approvals and the
        consent it presents, the call's record, and the issuer's name (for a remedy)."""
        matter = self._catalog.matter(use.matter_code)
        if not license_id:
            raise invalid("license_id", "REQUIRED", "请填写证照标识（license_id is required）")
        if violation := license_id_violation("license_id", license_id):
            raise InvalidRequestError([violation])
        named = LicenseId.parse(license_id)
        # before the lookup, as verification: whether such a license exists is not the matter's to learn (the issuer's
        # own included: a matter decides what is read, whoever reads it, ADR 0011)
        target = UseTarget(license_id=license_id)  # on the holder's log, as a refusal for another's matter is
        refusal = self._audit.recorder(caller, use, action, target, subjects=self._subjects)
        elsewhere = of_another_registry(self._db, self._catalog, named)
        check_type_used(
            self._catalog, matter, named.type_code, "license_id", on_refusal=refusal, of_another_registry=elsewhere
        )
        digest = consent_code_digest(consent_code)
        now = self._clock.now()
        with self._db.unit_of_work() as uow:
            license = uow.licenses.get(license_id)
            if license is None:
                # another region's license (review partner, R2); not one of this gateway's city (review fixrev2, R5)
                if where := elsewhere_of(named.issuer_code, uow.members.get(named.issuer_code), uow.members.all):
                    raise not_in_this_registry(named.issuer_code, where, caller)
                raise NotFoundError("未找到该证照（no such license）", reason="LICENSE_NOT_FOUND")
            approvals, consents = self._grants(uow, caller, matter, digest)
            issuer_name = _issuer_names(uow, [license])[license.content.issuer_code]
        record = _Record(caller, use, action, now, self._subjects, license=license)
        if digest and not consents:
            self._refuse(record, _unknown_code())
        finding = self._record_check(license) if self._record_check is not None else PASSED
        if finding.result is not CheckResult.PASSED:
            said = finding.reason or "RECORD_ALTERED"
            # a record edited in the store is said so; any other failure of its check (a seal key the check does
            # not know, a certificate revoked) as RECORD_NOT_INTACT with the finding named, as ListHolderLicenses
            # lists it: the refusal's reason had been whichever finding came first, codes no list of refusals had (a
            # reviewer)
            reason = said if said in _EDITED_IN_STORE else "RECORD_NOT_INTACT"
            self._refuse(
                record,
                ConflictError(
                    f"登记库中的证照记录未通过核验（{said}），不予共享，请联系发证部门"
                    f"（the stored record fails its check ({said}): not shared; ask its issuer）",
                    reason=reason,
                    metadata={"finding": said},
                ),
            )
        license_type = self._catalog.license_type(license.content.type_code)
        return license, license_type, matter, approvals, consents, record, issuer_name

    def _grants(
        self, uow: UnitOfWork, caller: Member, matter: Matter, digest: str | None
    ) -> tuple[list[Approval], list[Consent]]:
        """The caller's decided access requests for the matter, and the consent whose code it presents."""
        approvals = [_approval(r) for r in uow.access_requests.decided_for(caller.code, matter.code)]
        stored = uow.consents.by_code(digest) if digest else None
        if stored is None:
            return approvals, []
        # the holder's age as the consent's listing judges it: by their code or any current license, not only by the
        # license read (a reviewer, R3), and by the citizen ID itself when the consent names a person's type or license
        return approvals, [replace(_consent(stored), holder_born=self._holder_born(uow, stored))]

    def _holder_born(self, uow: UnitOfWork, stored: StoredConsent) -> dt.date | None:
        """The birth date of ``stored``'s holder (``Consent.holder_born``): for the holder's own consent, and for a
        guardian's the holder's code withdrew, whose words follow the holder's age on the day it was withdrawn
        (``withdrawn_in_person``); None for any other."""
        if stored.guardian_code and not (stored.withdrawn_at is not None and stored.withdrawn_by == stored.holder_code):
            return None
        in_person = consent_names_a_person(self._catalog, stored.license_ids, stored.type_codes)
        return holder_born(uow, self._catalog, stored.holder_code, by_citizen_id=in_person)

    def _settle(
        self,
        record: _Record,
        judge: Callable[[Sequence[Approval], Sequence[Consent], dt.datetime], tuple[T, _Outcome]],
        approvals: Sequence[Approval],
        consents: Sequence[Consent],
        *,
        again: Sequence[str] = (),
    ) -> tuple[T, _Outcome, int | None, dt.datetime]:
        """Decide, count the consent's use if the decision needs it, and record the call; returns once committed:
        the decision, its outcome, the uses left (None: none counted) and the time the call is dated at (its
        ``used_at``, the record's ``at``).

        A call is decided at the record's time (its start) on the approvals and the consent it read then. With
        ``again`` (the ids of the approvals that let a document's copy through when it was first judged, stamped
        since, for up to ``STAMP_TIMEOUT_SECONDS``) it reads those approvals again first, and those alone, under a
        share lock (``share_locked``, so that a decision of one of them under way commits first and is seen), and is
        decided again on them at the time read once they are held: an approval withdrawn or past its end while the
        copy was stamped had still let it through, handed out up to a minute after the withdrawal's answer (a
        reviewer, R1). A copy refused then is dated then; one permitted keeps the time stamped on it, which is
        before the time of any withdrawal that it did not see, and cites an approval in force at that time: judged
        on every approval read again, a copy whose approval was withdrawn while it was stamped went out on one
        decided meanwhile, recorded and stamped as a use of it before it existed (a reviewer's R1 of cd1acb5). A
        copy let through on no approval (on a consent, judged at its count, or on nothing) is not read again. Its
        record is then written as any other call's: by the group writer when no consent is counted (its retry of a
        commit whose answer was lost, its group commit).

        The use is counted by an atomic UPDATE in the record's transaction, which judges the consent (not withdrawn,
        not past its end, a use left) at the time it is counted, not at the call's start: a document's copy is
        stamped in between, and a consent that ended meanwhile had still been spent, its copy handed out after the
        end (a reviewer, R2). The UPDATE takes the consent's row lock, which a withdrawal holds from before it reads
        its time until it commits (``ConsentRepository.lock``): a use counted first is dated (the call's time) before
        the withdrawal and on the trail before it; one that waited for it finds the consent withdrawn. When it finds
        no use left (a concurrent call took the last one, or the consent was withdrawn or expired meanwhile), the
        call is decided again on the consent as it now stands, at the time read after the UPDATE returned (but never
        before the count's own: a clock stepped back between them had found the consent live where the count had
        not, a CONSENT_CHANGED with no record, a reviewer's R5), and that decision is the one recorded and answered,
        dated then, a refusal and a permit of what is shared without the consent alike: it was decided then, and is
        not dated before the withdrawal it follows on the trail (a reviewer, R4).
        """
        if not again:
            result, outcome = judge(approvals, consents, record.at)
        else:
            with self._db.unit_of_work(write=True) as uow:  # SQLite: its writer's turn, after a decision under way
                approvals = [_approval(r) for r in uow.access_requests.share_locked(again)]
                judged_at = self._clock.now()  # once they are held
            result, outcome = judge(approvals, consents, judged_at)
            if not outcome.permitted:
                record = record.dated(judged_at)
        if not outcome.consent_id:
            self._records.write(record.entries(outcome))
            return result, outcome, None, record.at
        with self._db.unit_of_work(write=True) as uow:
            counted_at = self._clock.now()
            left = uow.consents.use(outcome.consent_id, counted_at)
            if left is None:
                now = max(counted_at, self._clock.now())
                fresh = uow.consents.get(outcome.consent_id)
                # the holder's age again: the holder's code may have withdrawn a guardian's consent meanwhile
                born = self._holder_born(uow, fresh) if fresh else None
                result, outcome = judge(approvals, [replace(_consent(fresh), holder_born=born)] if fresh else [], now)
                record = record.dated(now)
                if outcome.consent_id:  # the store says it is spent, the policy says it is not: never guess
                    raise ConflictError(
                        "用证授权在本次调用中发生了变化，请重试（the consent changed during the call; try again）",
                        reason="CONSENT_CHANGED",
                    )
            self._audit.append(uow, record.entries(outcome))
            if outcome.consent_id and calls.passed():  # spent for no one: the client has stopped waiting
                raise DeadlineExceededError(
                    "调用方已停止等待，本次读取未完成，用证码未计次（the caller's deadline passed before the read was "
                    "committed: nothing was read, and no use of the consent was counted）",
                    reason="CALLER_DEADLINE_PASSED",
                )
            uow.commit()
        return result, outcome, left, record.at

    def _subjects(self, license: License) -> tuple[str, ...]:
        """The co-subjects of ``license`` (``subjects_of``) when its seal vouches for the record: each record about it
        is on their access logs too."""
        return vouched_subjects(license, self._catalog, self._record_subjects)

    def _refuse(self, record: _Record, error: ZzgwError) -> NoReturn:
        """Record a denial the service makes itself (not the policy), then raise it."""
        self._records.write(record.entries(_Outcome(permitted=False, reason=error.reason, error=error)))
        raise error

    def _document(self, license: License) -> LicenseDocument:
        assert self._documents is not None
        return self._documents.document(license)  # a batch-issued license's is made on first request (ADR 0003)

    def _append(self, uow: AppendWork, calls: Sequence[list[AuditEntry]]) -> None:
        """The records of a group of calls, each call's together (several when it used several licenses)."""
        self._audit.append(uow, [entry for entries in calls for entry in entries])


def _with_reason(detail: str, reason: str) -> str:
    """A detail said "中文（English）" with a finding's reason in both parts, before the English: a console shows its
    clerk the Chinese without the English, and the reason after it had left the English shown (found in review)."""
    chinese, _, english = detail.rpartition("（")
    if not reason or not chinese:
        return detail
    return f"{chinese}（{reason}）（{english[:-1]} ({reason})）"


class _Record:
    """The access record of one call, but for its outcome."""

    def __init__(
        self,
        caller: Member,
        use: UseContext,
        action: AuditAction,
        at: dt.datetime,
        subjects: Callable[[License], tuple[str, ...]],
        *,
        license: License | None = None,
        holder_code: str = "",
    ):
        self.at = at
        self._subjects = subjects
        """The co-subjects of a license the record names, whose access logs list it as the holder's does."""
        self._caller = caller
        self._use = use
        self._action = action
        self._license = license
        self._holder_code = holder_code

    def dated(self, at: dt.datetime) -> _Record:
        """This record, dated ``at``."""
        dated = copy.copy(self)
        dated.at = at
        return dated

    def entries(self, outcome: _Outcome, decision: str = "") -> list[AuditEntry]:
        """The call's access record; one per license when it used several (``_Outcome.licenses``) or a form was
        refused a license a key was looked for in (``_Outcome.refused``: a DENY each, with its own reason, beside
        the PERMIT of the licenses a form was filled from)."""
        # (license, reason, whether a guardian's consent, the call's own decision: not a refusal)
        named: list[tuple[License | None, str, bool, bool]] = [
            (
                license,
                outcome.reasons.get(license.license_id, outcome.reason) if license else outcome.reason,
                outcome.by_guardian,
                True,
            )
            for license in (outcome.licenses or [self._license or outcome.license])
            if outcome.permitted or not outcome.refused
        ]
        named += [(license, reason, by_guardian, False) for license, reason, by_guardian in outcome.refused]
        return [
            AuditEntry(
                at=self.at,
                caller=self._caller.code,
                operator=self._use.operator,
                action=self._action,
                matter_code=self._use.matter_code,
                purpose=self._use.purpose,
                license_id=license.license_id if license else "",
                issuer_code=license.content.issuer_code if license else "",
                holder_code=license.content.holder.code if license else self._holder_code,
                decision=(decision or ("PERMIT" if outcome.permitted else "DENY")) if own else "DENY",
                reason=reason[:MAX_RECORD_REASON],
                subjects=self._subjects(license) if license else (),
                by_guardian=by_guardian,
            )
            for license, reason, by_guardian, own in named
        ]


# --- documents ----------------------------------------------------------------------------------------------------


def _document_problem(
    license: License, license_type: LicenseType, permit: Permit, printed: frozenset[str] | None
) -> _Outcome | None:
    """Why a permit for the data does not extend to the document: the document prints the fields of ``printed`` (the
    keys of those it prints, ``DocumentService.printed``; None when not known: every field but the SECRET ones, and
    every field the license holds that the catalog no longer has) in full, and the holder's code; each must be shared
    unmasked, or public anyway (UNCONDITIONAL and NORMAL), and none may be one the catalog no longer has, or makes
    SECRET now (printed when drawn, while it was not: a SECRET field is never shared)."""
    content = license.content
    shown = {f.key for f in permit.fields if not f.masked}
    # SECRET now, and printed when drawn: never shared (docs/catalog.md, at once for every license of the type); the
    # issuer is refused the document too (DocumentService.get)
    exceeds = permit.holder_code != content.holder.code or bool(printed_secrets(content, license_type, printed))
    for spec in license_type.fields:
        value = content.fields.get(spec.key, "").strip()
        if exceeds:
            break
        if not value or (printed is not None and spec.key not in printed):
            continue  # not printed: SECRET when its document was drawn (or its form recorded)
        if spec.sensitivity is Sensitivity.SECRET:
            continue  # printed and SECRET now: printed_secrets; not known to be printed (printed None): taken as not
        if spec.key in shown:
            continue  # the caller may see it in full anyway
        sharing = license_type.field_sharing_class(spec.key)
        exceeds = not (spec.sensitivity is Sensitivity.NORMAL and sharing is SharingClass.UNCONDITIONAL)
    # a field the catalog has taken out of the type since the license was issued may be printed on its document
    # (drawn as issued, ADR 0003): no matter may read it, so no permit covers a document that prints it
    known = {spec.key for spec in license_type.fields}
    exceeds = exceeds or any(
        value.strip() and key not in known and (printed is None or key in printed)
        for key, value in content.fields.items()
    )
    if not exceeds:
        return None
    error = PermissionDeniedError(
        f"{license_type.name}的版式文件载有本事项无权查看或须脱敏的信息，不能提供；请用 GetLicenseData 读取所需信息项"
        "（the license's document shows data this matter may not see, or sees masked: read the fields it needs with "
        "GetLicenseData）",
        reason=DOCUMENT_EXCEEDS_PERMIT,
    )
    return _Outcome(permitted=False, reason=DOCUMENT_EXCEEDS_PERMIT, error=error)


DOCUMENT_EXCEEDS_PERMIT = "DOCUMENT_EXCEEDS_PERMIT"
_COPY_REPLY_FIELDS_BYTES = 256
"""More than a sharing copy's reply needs besides its PDF, use text and stamp field: two SHA-256 in hex, a consent
id, a timestamp and the fields' tags and lengths."""


def _copy_reply_size(stamped: bytes, field: str, text: str) -> int:
    """At least the size of the reply that would carry a sharing copy (``SharingServiceGetLicenseDocumentResponse``)."""
    return len(stamped) + len(field.encode()) + len(text.encode()) + _COPY_REPLY_FIELDS_BYTES


def _copy_too_large(size: int, limit: int) -> ResourceExhaustedError:
    """A sharing copy that no reply can carry (its document was stored under a larger message limit): refused as a
    denial, so it is not counted as a use and a one-use consent is not spent on it."""
    return ResourceExhaustedError(
        f"证照文件过大，超出网关的消息上限，无法返回（the reply would have about {size} bytes, more than the "
        f"gateway's message limit of {limit}, ZZGW_MAX_MESSAGE_BYTES）",
        reason="REPLY_TOO_LARGE",
    )


# --- forms --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Form:
    values: tuple[PrefilledValue, ...]
    unfilled: tuple[UnfilledKey, ...]
    remedy: str


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A field of a license type of the matter that a form key may mean."""

    license_type: LicenseType
    spec: FieldSpec
    listed: bool
    """Whether the matter's material lists the field."""


def _candidates(catalog: Catalog, matter: Matter, key: str) -> list[_Candidate]:
    """The fields of the matter's materials that the form key ``key`` may mean, in the materials' order."""
    type_code, dot, name = key.strip().partition(".")
    found = []
    for material in matter.materials:
        if dot and material.type_code != type_code:
            continue
        license_type = catalog.license_type(material.type_code)
        wanted = name if dot else key.strip()
        spec = license_type.field_spec(wanted) or next((f for f in license_type.fields if f.named(wanted)), None)
        if spec is not None:
            found.append(_Candidate(license_type, spec, listed=spec.key in material.fields))
    return found


@dataclass(frozen=True, slots=True)
class _Found:
    """What fills a form's keys of one type: a license, or why none does (one of the others, in words)."""

    license: License | None = None
    several: str = ""
    """SEVERAL_LICENSES' detail: several usable, none named."""
    not_intact: str | None = None
    """RECORD_NOT_INTACT's finding: the usable one's record fails its check."""
    not_in_force: str = ""
    """LICENSE_NOT_IN_FORCE's detail: none in force, the status of the one named or the newest."""


def _several(catalog: Catalog, type_code: str, count: int, *, by_consent: bool = False) -> str:
    """SEVERAL_LICENSES' detail: how many licenses of ``type_code`` in force the applicant holds (or the consent code
    names), and to name the one to fill from."""
    name = catalog.license_type(type_code).name
    if by_consent:
        return (
            f"用证码指明了申请人{count}本有效的{name}，请在 license_ids 中指明用哪一本填写"
            f"（the consent code names {count} of the applicant's licenses of type {type_code} in force: name the one "
            "to fill from in license_ids）"
        )
    return (
        f"申请人有{count}本有效的{name}，请在 license_ids 中指明用哪一本填写（ListHolderLicenses 可列出）"
        f"（the applicant holds {count} licenses of type {type_code} in force: name the one to fill from in "
        "license_ids, as ListHolderLicenses lists them）"
    )


class _Filler:
    """Fills form keys from one license per type of the matter, each license decided by the policy."""

    def __init__(
        self,
        catalog: Catalog,
        matter: Matter,
        keys: Sequence[str],
        licenses: dict[str, License],
        issuer_names: dict[str, str],
        not_intact: dict[str, str],
        not_in_force: dict[str, str],
        several: dict[str, str],
        code_type: str,
    ):
        self._catalog = catalog
        self._code_type = code_type
        self._matter = matter
        self._keys = keys
        self._licenses = licenses
        self._issuer_names = issuer_names
        self._not_intact = not_intact
        self._not_in_force = not_in_force
        self._several = several

    def fill(
        self,
        caller: Member,
        purpose: str,
        approvals: Sequence[Approval],
        consents: Sequence[Consent],
        now: dt.datetime,
    ) -> tuple[_Form, _Outcome]:
        decisions = {
            type_code: decide(
                caller=caller,
                license=license,
                license_type=self._catalog.license_type(type_code),
                matter=self._matter,
                purpose=purpose,
                approvals=approvals,
                consents=consents,
                now=now,
                issuer_name=self._issuer_names[license.content.issuer_code],
                holder_named=True,  # the caller named the holder's code: the remedy may tell the age
            )
            for type_code, license in self._licenses.items()
        }
        values: list[PrefilledValue] = []
        unfilled: list[UnfilledKey] = []
        remedy = ""
        tried: dict[str, License] = {}  # by type, the licenses a key was read for (not NOT_NEEDED: looked over)
        # by type, the policy's first reason for not filling a key from its license, and whether a guardian's consent
        refusals: dict[str, tuple[str, bool]] = {}
        for key in self._keys:
            filled, problem, how = self._one(key, decisions, tried, refusals)
            if filled is not None:
                values.append(filled)
            elif problem is not None:
                unfilled.append(problem)
                remedy = remedy or how
        form = _Form(values=tuple(values), unfilled=tuple(unfilled), remedy=remedy)
        used = {v.license_id for v in values}
        single = self._licenses[values[0].type_code] if len(used) == 1 else None
        several = tuple(lic for lic in self._licenses.values() if lic.license_id in used) if single is None else ()
        if not values:
            policy = next((u.reason for u in unfilled if u.reason not in _FORM_REASONS), "")
            refused = tuple(
                (license, *refusals.get(type_code, ("NOTHING_FILLED", False))) for type_code, license in tried.items()
            )
            return form, _Outcome(permitted=False, reason=policy or "NOTHING_FILLED", refused=refused)
        refused = tuple(
            (tried[type_code], reason, by_guardian)
            for type_code, (reason, by_guardian) in refusals.items()
            if tried[type_code].license_id not in used
        )
        consent_id = ""
        if any(v.basis is Basis.CONDITIONAL_CONSENT for v in values):
            consent_id = next(d.consent_id for d in decisions.values() if isinstance(d, Permit) and d.consent_id)
        share = f"filled={len(values)}/{len(self._keys)}"
        # each license's record names the grants that let its own values through: the consent, and every approval
        # covering one of them, as GetLicenseData's does. The record had named none of the approvals (left alone in
        # session 53), then every license's record had named every approval of the form, another issuer's too (a
        # review, fixrev1 R1)
        covers = {a.approval_id: a.fields for a in approvals}
        reasons: dict[str, str] = {}
        for type_code, license in self._licenses.items():
            mine = [v for v in values if v.type_code == type_code]
            decision = decisions[type_code]
            if not mine or not isinstance(decision, Permit):
                continue
            reason = share
            if decision.consent_id and any(v.basis is Basis.CONDITIONAL_CONSENT for v in mine):
                reason += f" consent={decision.consent_id}"
            approval_ids = [
                approval_id
                for approval_id in decision.approval_ids
                if any(
                    v.basis is Basis.CONDITIONAL_APPROVAL and v.field_key in covers.get(approval_id, ()) for v in mine
                )
            ]
            if approval_ids:
                reason += " " + granted_by("", approval_ids, room=MAX_RECORD_REASON - len(reason) - 1)
            reasons[license.license_id] = reason
        reason = reasons[single.license_id] if single is not None else share
        return form, _Outcome(
            permitted=True,
            reason=reason,
            reasons=reasons,
            consent_id=consent_id,
            license=single,
            licenses=several,
            refused=refused,
        )

    def _one(
        self, key: str, decisions: dict[str, Decision], tried: dict[str, License], refusals: dict[str, tuple[str, bool]]
    ) -> tuple[PrefilledValue | None, UnfilledKey | None, str]:
        """The value for ``key``, or why there is none and how to get it; each license it is read for is put in
        ``tried`` (by type), and the policy's reason for refusing a key of one in ``refusals`` (its first), for the
        records of the licenses a form was refused from. A license whose material lists no field for the key
        (``NOT_NEEDED``) is only looked over, and not put there: a 护照 the key 姓名 matched under 不动产转移登记
        had been recorded as a refused read of it (DENY / NOTHING_FILLED) when the form filled nothing (a reviewer,
        prefill R3)."""
        candidates = self._candidates(key)
        if not candidates:
            return (
                None,
                UnfilledKey(
                    key=key,
                    reason="UNKNOWN_FIELD",
                    detail=_NO_SUCH_FIELD,
                ),
                "",
            )
        failures: list[tuple[UnfilledKey, str]] = []
        for candidate in candidates:
            type_code = candidate.license_type.code
            license = self._licenses.get(type_code)
            decision = decisions.get(type_code)
            if (license is None or decision is None) and type_code in self._several:
                # several in force, none named: filled from the newest, a form had been given another property's
                # address, nothing saying so (a reviewer, R1)
                failures.append((UnfilledKey(key=key, reason="SEVERAL_LICENSES", detail=self._several[type_code]), ""))
                continue
            if (license is None or decision is None) and type_code in self._not_intact:
                # the applicant has one, which the listing says RECORD_NOT_INTACT: "no valid license" had sent the
                # clerk to ask the applicant for one (a reviewer)
                detail = _with_reason(Reason.RECORD_NOT_INTACT.detail, self._not_intact[type_code])
                failures.append((UnfilledKey(key=key, reason=Reason.RECORD_NOT_INTACT.value, detail=detail), ""))
                continue
            if (license is None or decision is None) and type_code in self._not_in_force:
                # the applicant has one, suspended, revoked, expired: "no valid license" had read as one never
                # issued, and the clerk asked for a license that exists (a journeys tester)
                detail = self._not_in_force[type_code]
                failures.append((UnfilledKey(key=key, reason="LICENSE_NOT_IN_FORCE", detail=detail), ""))
                continue
            if (license is None or decision is None) and not _holdable(candidate.license_type, self._code_type):
                # another's material (a company's legal representative's 居民身份证), as ListHolderLicenses lists it:
                # NO_LICENSE had told the clerk the company lacked it (a reviewer, prefill R4)
                detail = _held_by_others(candidate.license_type, self._code_type)
                failures.append((UnfilledKey(key=key, reason="HELD_BY_OTHERS", detail=detail), ""))
                continue
            if license is None or decision is None:
                detail = (
                    f"申请人没有有效的{candidate.license_type.name}（the applicant has no valid license of type "
                    f"{type_code}）"
                )
                failures.append((UnfilledKey(key=key, reason="NO_LICENSE", detail=detail), ""))
                continue
            if isinstance(decision, Deny) and not candidate.listed:
                failures.append((UnfilledKey(key=key, reason="NOT_NEEDED", detail=_NOT_NEEDED), ""))
                continue
            if isinstance(decision, Deny):
                tried[type_code] = license
                refusals.setdefault(type_code, (decision.reason.value, decision.by_guardian))
                failures.append(
                    (UnfilledKey(key=key, reason=decision.reason.value, detail=decision.detail), decision.remedy)
                )
                continue
            shared = next((f for f in decision.fields if f.key == candidate.spec.key), None)
            withheld = next((w for w in decision.withheld if w.key == candidate.spec.key), None)
            if shared is None and withheld is None:  # a field the matter does not list: looked over, not read
                failures.append((UnfilledKey(key=key, reason="NOT_NEEDED", detail=_NOT_NEEDED), ""))
                continue
            tried[type_code] = license
            if shared is not None and shared.value:
                return (
                    PrefilledValue(
                        key=key,
                        value=shared.value,
                        masked=shared.masked,
                        license_id=license.license_id,
                        type_code=type_code,
                        field_key=shared.key,
                        field_label=shared.label,
                        basis=shared.basis,
                    ),
                    None,
                    "",
                )
            if shared is not None:
                failures.append(
                    (
                        UnfilledKey(
                            key=key,
                            reason="EMPTY",
                            detail=NOT_STATED,
                        ),
                        "",
                    )
                )
            elif withheld is not None:
                reason = withheld.reason
                refusals.setdefault(type_code, (reason.value, bool(withheld.said)))  # said: in the guardian's words
                failures.append((UnfilledKey(key=key, reason=reason.value, detail=withheld.detail), decision.remedy))
        problem, how = min(failures, key=_actionable)
        return None, problem, how if problem.reason not in _FORM_REASONS else ""

    def _candidates(self, key: str) -> list[_Candidate]:
        return _candidates(self._catalog, self._matter, key)


_FORM_REASONS = frozenset(
    {"UNKNOWN_FIELD", "NOT_NEEDED", "NO_LICENSE", "HELD_BY_OTHERS", "LICENSE_NOT_IN_FORCE", "SEVERAL_LICENSES", "EMPTY"}
)
_FORM_RANK = {
    "SEVERAL_LICENSES": 2,
    "EMPTY": 3,
    "LICENSE_NOT_IN_FORCE": 4,
    "NO_LICENSE": 4,
    "HELD_BY_OTHERS": 5,
    "NOT_NEEDED": 6,
}


def _not_in_force(license: License, status: LicenseStatus, on: dt.date, catalog: Catalog) -> str:
    """Why the applicant's license of a type fills no form key on ``on``, in words: its status and the day it began
    (``LICENSE_NOT_IN_FORCE``), which the caller's listing (ListHolderLicenses: the status) and VerifyLicense
    (the day) state anyway; none of its fields."""
    type_code = license.content.type_code
    name = catalog.license_type(type_code).name
    if status is LicenseStatus.ACTIVE:  # not yet valid
        since = license.content.valid_from.isoformat()
        return (
            f"申请人的{name}尚未生效（{since} 起生效），不能用于填写"
            f"（the applicant's license of type {type_code} is not valid before {since}）"
        )
    began = status_since(license, on)
    day = f"（{began.isoformat()} 起）" if began is not None else ""
    since_en = f" since {began.isoformat()}" if began is not None else ""
    return (
        f"申请人的{name}{status.label}{day}，不能用于填写，请申请人向发证部门了解"
        f"（the applicant's license of type {type_code} is {status.english}{since_en}: ask its issuer）"
    )


def _actionable(failure: tuple[UnfilledKey, str]) -> int:
    """Which of a key's failures to report, the first that ranks lowest: one that an approval or consent would lift
    (with its remedy), then any other of the policy's reasons, then several licenses of the type to name one of,
    the license's empty field, a license the applicant lacks (or holds not in force), another's material the
    applicant can never hold, and last a material that does not list the key (another material may)."""
    problem, remedy = failure
    if problem.reason not in _FORM_REASONS:
        return 0 if remedy else 1
    return _FORM_RANK.get(problem.reason, 7)


_NOT_NEEDED = "本事项材料清单不包含该信息项（the matter's materials do not list this field）"
_NO_SUCH_FIELD = "本事项所需证照没有这个信息项（no license the matter needs has this field）"
NOT_STATED = "证照未载明该信息项（the license does not state this field）"
"""A field the license leaves blank: ``EMPTY`` in PrefillForm's unfilled keys and GetLicenseData's withheld fields."""


# --- helpers ------------------------------------------------------------------------------------------------------


def _status_lines(
    license: License,
    status: LicenseStatus,
    since: dt.date | None,
    on: dt.date,
    current: CurrentVersion | None = None,
) -> list[str]:
    """The copy's lines for a license not in force on ``on`` (证照状态：已吊销或撤销（2026-11-02 起）), or none: a copy
    stamped for a use must not pass for a valid license's. A superseded version's names the version in force and its
    standing (``current``) on a line of its own, as VerifyLicense words them: 证照状态：已变更（2026-12-07 起不再现行）,
    then 现行版本 <id> 目前已吊销或撤销（2026-12-07 起）."""
    if status is LicenseStatus.SUPERSEDED:  # its label's own bracket, 已变更（不再现行）, not twice
        assert since is not None
        line = f"证照状态：已变更（{since.isoformat()} 起不再现行）"
        if current is None:
            return [line]
        began = f"（{current.since.isoformat()} 起）" if current.since is not None else ""
        return [line, f"现行版本 {current.license_id} {current.words}{began}"]
    if status is not LicenseStatus.ACTIVE:
        assert since is not None  # every status but ACTIVE began on a day
        return [f"证照状态：{status.label}（{since.isoformat()} 起）"]
    if license.content.valid_from > on:
        return [f"证照状态：尚未生效（{license.content.valid_from.isoformat()} 起生效）"]
    return []


def _use_lines(
    caller: Member, use: UseContext, matter: Matter, at: dt.datetime, status_lines: Sequence[str] = ()
) -> tuple[list[str], str]:
    """The watermark's lines and the same as one line (the stamp signature's /Reason); a license not in force has
    its status first (``_status_lines``)."""
    when = at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S（北京时间）")
    parts = [
        *status_lines,
        f"用证事由：{use.purpose}",
        f"办理事项：{matter.name}（{matter.code}）",
        f"用证单位：{caller.name}（{caller.code}）",
        f"用证时间：{when}",
    ]
    return [*parts, "仅供本次用证使用，他用无效"], "；".join(parts)


def _usable(license: License, status: LicenseStatus, on: dt.date) -> bool:
    return status is LicenseStatus.ACTIVE and license.content.valid_from <= on


def _holder_position(position: str | None, matter: Matter) -> tuple[int, int] | None:
    """Where a page of ``list_holder_licenses`` goes on (a page token's position, ``PageTokens``): after the license
    whose place is the third number, under the matter's material the second numbers; None for the first page.

    The first part is the ``_materials_mark`` of the matter when the token was given: a material's index names the
    same type only in the same materials in the same order, and a catalog adopted since (a restart, another replica)
    may have reordered them or put one before, so that the index named another and the page skipped licenses or
    listed some twice, then ended as if the listing were whole (a reviewer, R1). A token of other materials is
    refused; one of dadb7df (no mark) is refused as no token."""
    if position is None:
        return None
    parts = position.split(":")
    if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
        raise bad_page_token()
    mark, index, place = parts
    if mark != _materials_mark(matter) or int(index) >= len(matter.materials):
        raise page_token_of_another_catalog()
    return int(index), int(place)


def _materials_mark(matter: Matter) -> str:
    """A short digest of the matter's material types in their order: the same under the same catalog in every
    process and after a restart, another when a catalog changed them (``_holder_position``)."""
    types = "\n".join(m.type_code for m in matter.materials)
    return hashlib.sha256(types.encode("utf-8")).hexdigest()[:16]


def _most_fitting(n: int, fits: Callable[[int], bool]) -> int:
    """The most of ``n`` entries (0 to ``n``) whose page ``fits``, the first ``k`` fitting whenever ``k + 1`` do."""
    low, high = 0, n
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _too_many(licenses: int, size: int) -> ResourceExhaustedError:
    """REPLY_TOO_LARGE for a listing of a holder's licenses past the message limit, saying to page it."""
    return ResourceExhaustedError(
        f"持证主体的证照过多，{licenses}本证照的答复（{size}字节）超出网关的消息上限：请以 limit 和 page_token "
        f"分页查询（{licenses} licenses take {size} bytes, more than the gateway's message limit, "
        "ZZGW_MAX_MESSAGE_BYTES: list them a page at a time with limit and page_token）",
        reason="REPLY_TOO_LARGE",
    )


_APPROVAL_STATES = {
    AccessRequestState.APPROVED.value: ApprovalState.APPROVED,
    AccessRequestState.WITHDRAWN.value: ApprovalState.WITHDRAWN,
}


def _approval(request: StoredAccessRequest) -> Approval:
    """A decided request as the policy weighs it: an approval (live, past its end or withdrawn: its fields and end
    as approved, kept when withdrawn) or a rejection (the fields it refused; its ``valid_until`` is when)."""
    state = _APPROVAL_STATES.get(request.state, ApprovalState.REJECTED)
    rejected = state is ApprovalState.REJECTED
    return Approval(
        approval_id=request.request_id,
        issuer_code=request.issuer_code,
        grantee_code=request.requester,
        type_code=request.type_code,
        license_id=request.license_id,
        matter_code=request.matter_code,
        fields=request.fields if rejected else request.approved_fields,
        full_fields=None if rejected else request.approved_full_fields,
        valid_until=(None if rejected else request.valid_until) or request.decided_at or request.submitted_at,
        state=state,
        decided_at=request.decided_at,
    )


def _consent(stored: StoredConsent) -> Consent:
    return Consent(
        consent_id=stored.consent_id,
        holder_code=stored.holder_code,
        grantee_code=stored.grantee,
        matter_code=stored.matter_code,
        license_ids=stored.license_ids,
        type_codes=stored.type_codes,
        valid_until=stored.valid_until,
        uses_remaining=max(0, stored.uses_left),
        withdrawn=stored.withdrawn_at is not None,
        guardian_code=stored.guardian_code,
        withdrawn_by=stored.withdrawn_by,
        withdrawn_at=stored.withdrawn_at,
        granted=None
        if stored.granted_fields is None
        else tuple(
            (code, ConsentedFields(fields=fields, full_fields=full)) for code, fields, full in stored.granted_fields
        ),
    )


def _holder(code_type: str, code: str) -> tuple[str, str]:
    """The applicant's code type and code, the code checked by its type's rules as at issue: a mistyped check
    character would otherwise find no license, and the clerk would ask for the paper one."""
    if not code_type:
        raise invalid(
            "holder_code_type",
            "REQUIRED",
            f"请填写持证主体代码类型（{_CODE_TYPES}）（holder_code_type is required）",
        )
    if code_type not in HOLDER_CODE_TYPES:
        raise invalid(
            "holder_code_type",
            "BAD_HOLDER_CODE_TYPE",
            f"持证主体代码类型 {code_type[:8]} 不存在，应为{_CODE_TYPES}等"
            f"（unknown holder code type: 111 citizen ID, 001 USCC, …）",
        )
    return code_type, checked_holder_code(code, code_type=code_type)


_CODE_TYPES = "111 公民身份号码、001 统一社会信用代码"


def _holdable(license_type: LicenseType, code_type: str) -> bool:
    """Whether an applicant of ``code_type`` may hold a license of ``license_type``: under a code type the type
    takes, or of the kind of holder it is issued to (a person known by a passport's number lacks a 居民身份证 as any
    person does), or of a code type of either kind (其他, 099). Else the material is another's (``_held_by_others``),
    unless the applicant holds one all the same."""
    kind = KIND_OF_CODE_TYPE.get(code_type)
    return code_type in license_type.holder_code_types or kind is None or license_type.holder_kind is kind


def _held_by_others(license_type: LicenseType, code_type: str) -> str:
    """Why an applicant of ``code_type`` is not said to lack a license of ``license_type``: none is ever issued to
    such a holder (a 居民身份证 to a company), so the matter means another's: a company's legal representative's or
    agent's, a person's company's."""
    held_by = "、".join(f"{HOLDER_CODE_TYPES[t]}（{t}）" for t in license_type.holder_code_types)
    codes = ", ".join(license_type.holder_code_types)
    if license_type.holder_kind is HolderKind.PERSON:
        whose, whose_en = "他人（如法定代表人、经办人）", "another person's, such as the legal representative's"
    else:
        whose, whose_en = "单位（如申请人代表的企业）", "an organisation's, such as the company the applicant acts for"
    return (
        f"{license_type.name}的持证主体代码类型为{held_by}，本申请人的{HOLDER_CODE_TYPES[code_type]}（{code_type}）"
        f"不能持有：这是{whose}的材料，请以其代码查询（a {license_type.code} is held under code types {codes} only, "
        f"never by a {code_type} applicant: it is {whose_en} material; list it by that holder's code）"
    )


def _issuer_names(uow: UnitOfWork, licenses: Iterable[License]) -> dict[str, str]:
    """The names of the licenses' issuers by code (empty for one no longer a member), for the remedy that tells the
    clerk whom to ask (向发证部门济南市卫生健康委员会（113701009937010623）申请审批)."""
    names = {}
    for code in {license.content.issuer_code for license in licenses}:
        member = uow.members.get(code)
        names[code] = member.name if member else ""
    return names


def _form_keys(keys: Sequence[str]) -> tuple[str, ...]:
    """The form's keys as asked (each answered under the key the caller sent, spaces and all), once each; they are
    looked up without their surrounding spaces. Every bad key is refused, BAD_KEY on ``field_keys[i]`` (its place in
    the request, a repeated one's first), one violation per key as an issue lists every bad field: only the first had
    been named, and a developer fixed a form's keys one call at a time (an integrator)."""
    first_place: dict[str, int] = {}  # each key's first place in the request, in the order asked
    for i, key in enumerate(keys):
        first_place.setdefault(key, i)
    if not first_place:
        raise invalid("field_keys", "REQUIRED", "请填写表单的信息项（name the form's field keys）")
    if len(first_place) > MAX_FORM_KEYS:
        raise invalid("field_keys", "TOO_MANY", f"表单信息项最多{MAX_FORM_KEYS}个（at most {MAX_FORM_KEYS} keys）")
    bad = [
        FieldViolation(
            field=f"field_keys[{i}]",
            reason="BAD_KEY",
            description=f"信息项名称须为1至{MAX_FORM_KEY}个可打印字符"
            f"（a key is 1-{MAX_FORM_KEY} printable characters）",
        )
        for key, i in first_place.items()
        if not key.strip() or len(key) > MAX_FORM_KEY or not key.isprintable()
    ]
    if bad:
        raise InvalidRequestError(bad)
    return tuple(first_place)


def _form_license_ids(
    catalog: Catalog, matter: Matter, license_ids: Sequence[str]
) -> tuple[dict[str, tuple[int, str]], list[FieldViolation]]:
    """The licenses a form names to fill from (``PrefillFormRequest.license_ids``), by type: each one's place in the
    request and its identifier. A repeated identifier counts once; every bad one is refused on ``license_ids[i]``
    (its first place), one violation each: not an identifier (INVALID_LICENSE_ID), of a type the matter's materials
    do not use (NOT_USED_BY_MATTER), of a type named before (ONE_LICENSE_PER_TYPE): returned, refused with those
    the store finds not the holder's (``_holders_own``), all in one answer."""
    first_place: dict[str, int] = {}
    for i, license_id in enumerate(license_ids):
        first_place.setdefault(license_id, i)
    if len(first_place) > MAX_FORM_KEYS:
        raise invalid(
            "license_ids", "TOO_MANY", f"最多指明{MAX_FORM_KEYS}本证照（at most {MAX_FORM_KEYS} licenses, one a type）"
        )
    bad: list[FieldViolation] = []
    by_type: dict[str, tuple[int, str]] = {}
    for license_id, i in first_place.items():
        field = f"license_ids[{i}]"
        if violation := license_id_violation(field, license_id):
            bad.append(violation)
            continue
        type_code = LicenseId.parse(license_id).type_code
        try:
            check_type_used(catalog, matter, type_code, field)
        except TypeNotUsedError as refused:
            bad.extend(refused.violations)
            continue
        if type_code in by_type:
            name = catalog.license_type(type_code).name
            earlier = f"license_ids[{by_type[type_code][0]}]"
            bad.append(
                FieldViolation(
                    field=field,
                    reason="ONE_LICENSE_PER_TYPE",
                    description=f"每类证照最多指明一本：{name}已由 {earlier} 指明（at most one license of each type: "
                    f"{earlier} names one of type {type_code} already）",
                )
            )
            continue
        by_type[type_code] = (i, license_id)
    return by_type, bad


def _holders_own(
    uow: UnitOfWork, code_type: str, code: str, asked: dict[str, tuple[int, str]], bad: Sequence[FieldViolation]
) -> tuple[dict[str, License], list[FieldViolation]]:
    """The licenses a form names (``_form_license_ids``) as the holder's, by type (``version_of``: an amended one as
    its current version), and what to refuse the form with, in the order of the request: ``bad`` (the request's
    other bad ones) and NOT_THE_HOLDERS_LICENSE on ``license_ids[i]`` for each that is not the holder's, whether
    another's or none at all (not told apart: whether a license exists is not the form's to learn), each at its
    place; to be recorded and refused (``SharingService._refuse_license_ids``) when there is any."""
    found: dict[str, License] = {}
    refused = list(bad)
    for type_code, (i, license_id) in sorted(asked.items(), key=lambda item: item[1][0]):
        license = uow.holder_licenses.version_of(code_type, code, license_id)
        if license is None:
            refused.append(
                FieldViolation(
                    field=f"license_ids[{i}]",
                    reason="NOT_THE_HOLDERS_LICENSE",
                    description=f"这不是申请人的证照（license_ids[{i}] is not a license of the holder named by "
                    "holder_code）",
                )
            )
            continue
        found[type_code] = license
    return found, sorted(refused, key=lambda v: int(v.field.removeprefix("license_ids[")[:-1]))


def _consent_named(
    uow: UnitOfWork,
    code_type: str,
    code: str,
    consents: Sequence[Consent],
    types: Sequence[str],
    named: dict[str, License],
) -> dict[str, list[License]]:
    """The licenses the consent presented names (``Consent.license_ids``) of ``types`` the form names none of, by type,
    as the holder's (their current versions); one named that is not the holder's is left out."""
    found: dict[str, list[License]] = {}
    for consent in consents:
        for license_id in consent.license_ids:
            type_code = license_id.split(".")[-5] if license_id.count(".") >= 5 else ""
            if type_code not in types or type_code in named:
                continue
            license = uow.holder_licenses.version_of(code_type, code, license_id)
            if license is not None and all(
                license.license_id != other.license_id for other in found.get(type_code, [])
            ):
                found.setdefault(type_code, []).append(license)
    return found


def _unknown_code() -> PermissionDeniedError:
    return PermissionDeniedError("用证码无效：没有这个用证码（no consent has this code）", reason="CONSENT_NOT_FOUND")
