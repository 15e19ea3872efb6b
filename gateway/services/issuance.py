"""Gathering (归集): issue, amend, change status, read, and the change log.

Every write is idempotent by ``(caller, request_id)``: the request's digest is stored with its change event, so the
same request again returns the stored result and the same id with other content is refused. The work that needs no
database — validation, identifier assignment, the record seal — happens before the transaction, so a write
transaction holds its locks only for lookups and inserts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from gateway.domain.audit import AuditAction, AuditEntry, license_subjects
from gateway.domain.catalog import Catalog, FieldSpec, LicenseType, unknown_type_words
from gateway.domain.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldViolation,
    IdempotencyConflictError,
    InvalidLicenseError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamUnavailableError,
    ZzgwError,
    detached,
    invalid,
)
from gateway.domain.identifiers import (
    MAX_VERSION,
    LicenseId,
    find_by_number,
    half_width,
    license_id_violation,
    normal_number,
)
from gateway.domain.model import (
    ChangeCursor,
    ChangeKind,
    Clock,
    License,
    LicenseChange,
    LicenseContent,
    LicenseDraft,
    LicenseStatus,
    Member,
    RecordSeal,
    Role,
    today,
)
from gateway.domain.printed_form import PrintedForm, form_digest
from gateway.domain.seals import LicenseDocument, SealStatus, revoked_while_sealing
from gateway.domain.status import StatusAction, check_amendable, next_status
from gateway.domain.validation import (
    LIFELONG_SPELLINGS,
    MAX_REASON,
    REQUEST_ID_RE,
    ValidIssue,
    check_issuer,
    check_request_id,
    check_text,
    kept_draft,
    kept_field,
    kept_text,
    lifelong_spelled_out,
    not_expiring,
    too_many,
    unknown_field,
    validate_issue,
)
from gateway.domain.verification import matters_of
from gateway.services.audit import AuditTrail
from gateway.store.changes import ChangeFeed
from gateway.store.database import Database, UnitOfWork, connection_lost
from gateway.store.repositories import HeldSeal, NewEvent
from signing.keys import KeyBackend
from signing.record import SealMemos, seal_record
from signing.results import PASSED, CheckResult, Finding

SerialGenerator = Callable[[], str]
_SERIAL_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_T = TypeVar("_T")
_WRITE_ATTEMPTS = 3
_NO_SEAL_TO_SEAL_WITH = frozenset({"NO_ACTIVE_SEAL", "SEAL_REVOKED"})
"""The refusals of an item issued once more after its seal was revoked meanwhile (``_sealed_again``) that leave the
first refusal standing: the issuer has no seal to seal it with now."""


def random_serial() -> str:
    """A 20-character serial of 0-9A-Z: 9 characters of the time in milliseconds, then 11 random ones.

    The Hubei access guide describes random 20-character serials (随机 20 位数字和大写字母); leading with the time
    keeps a batch's identifiers close together in the store's indexes (a commit then touches a few index pages,
    not one page per license), and the 11 random characters (36**11 ≈ 1.3e17) keep serials unguessable and unique.
    """
    millis = time.time_ns() // 1_000_000
    return _base36(millis, 9) + _base36(secrets.randbits(57) % 36**11, 11)


def _base36(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, digit = divmod(n, 36)
        out.append(_SERIAL_ALPHABET[digit])
    return "".join(reversed(out))


class RecordKeys(Protocol):
    def record_key(self, issuer_code: str) -> KeyBackend:
        """The key that seals the issuer's records (its current seal's); a ZzgwError when it has none."""
        ...


class DocumentMaker(Protocol):
    def make(self, issuer: Member, content: LicenseContent, supplied: bytes | None = None) -> LicenseDocument:
        """Seal ``supplied``, or draw and seal ``content``; raise a ZzgwError (e.g. TSA_UNAVAILABLE) otherwise."""
        ...

    def check_printable(self, content: LicenseContent, *, amendment: bool = False) -> None:
        """Raise InvalidRequestError when ``content``'s printed form could not be drawn as it reads (letters or marks
        no font draws, too long for its page); ``amendment``: an AmendLicense's, which no PDF can come with."""
        ...

    def require_seal(self, issuer_code: str) -> None:
        """Raise a ZzgwError (NO_ACTIVE_SEAL) when the issuer has no seal that can seal its documents."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchScope:
    """Which change events a member watching the change log receives, and whether whole; made by
    ``IssuanceService.watch_scope``."""

    member_code: str
    everything: bool = False
    """An administrator's: every event, whole."""
    own: bool = False
    """An issuer's: every event of its own licenses, whole, whatever the type."""
    type_codes: frozenset[str] = frozenset()
    """Other issuers' events of these license types (those the member's matters use), without ``reason``."""
    requested: tuple[str, ...] = ()
    """Only events of these types, when not empty: the watcher's own choice, within the above."""

    def admits(self, change: LicenseChange) -> bool:
        """Whether the member receives ``change``."""
        if self.requested and change.type_code not in self.requested:
            return False
        return (
            self.everything
            or (self.own and change.issuer_code == self.member_code)
            or change.type_code in self.type_codes
        )

    def shown(self, change: LicenseChange) -> LicenseChange:
        """``change`` as the member receives it: without the issuer's free-text reason, which may name the holder,
        unless the member is the license's issuer or an administrator."""
        if self.everything or change.issuer_code == self.member_code or not change.reason:
            return change
        return dataclasses.replace(change, reason="")


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One read of the change log for a watcher."""

    changes: list[LicenseChange]
    """The events the watcher receives, oldest first."""
    cursor: int
    """Where the next read starts: the last event read, received or left out, when the read was a whole page; else
    the newest event when the read began (the cursor given, if that is before it)."""


class ChangeSignal:
    """Wakes watchers in this process when a change commits; watchers also poll, for other processes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._closed = False

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def closed(self) -> bool:
        """Whether the process is stopping (``close``): watchers end their streams instead of waiting on."""
        return self._closed

    def wait(self, seen: int, timeout: float, *, ended: threading.Event | None = None) -> int:
        """Wait until a change after generation ``seen``, ``ended`` is set, ``close``, or ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._generation != seen or self._closed or (ended is not None and ended.is_set()), timeout
            )
            return self._generation

    def close(self) -> None:
        """The process is stopping: wake every watcher for good, so that its stream ends now rather than hold the
        server's stop for the whole grace."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake every waiting watcher without announcing a change, so that one whose stream has ended sees it now
        (the others find nothing new and wait on)."""
        with self._cond:
            self._cond.notify_all()


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueResult:
    license: License
    created: bool
    document_sha256: str = ""
    """SHA-256 of the license's sealed document, when it has one (a repeated request: the one stored)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Amendment:
    """An amend request (变更): fields to set or clear, and optional new holder name, number and dates."""

    request_id: str
    license_id: str
    fields: Mapping[str, str]
    clear_fields: Sequence[str] = ()
    holder_name: str | None = None
    license_number: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    issue_date: str = ""
    reason: str = ""

    def digest_mapping(self, reason: str, license_type: LicenseType | None) -> dict[str, object]:
        """What its idempotency digest is of: the same content however it is spelt, each field to clear named once,
        ``reason`` as the gateway keeps it (``check_text``), as for a status change, a new license number as stored
        (``normal_number``), and the new holder name and the fields as the gateway keeps them, as an issue's
        (``kept_text``; ``kept_field`` by ``license_type``'s value types, a field empty once kept left out). It had
        been the request as sent, and a retry naming a field twice or the reason with a space was REQUEST_ID_REUSED
        (a reviewer, R3); so was, until 2026-12-07, a number in lower case retried as stored (review issuer, R3),
        and a name or a field retried as GetLicense returns it (review s55fix, R1's rest)."""
        kinds = {spec.key: spec.value_type for spec in license_type.fields} if license_type is not None else {}
        fields = {key: kept for key, value in self.fields.items() if (kept := kept_field(kinds.get(key), value))}
        name = None if self.holder_name is None else kept_text(self.holder_name)
        return {**self.numbered_digest_mapping(reason, name), "fields": fields}

    def earlier_digest_mappings(self, reason: str) -> list[dict[str, object]]:
        """What the idempotency digest of the same amendment was of before ``digest_mapping``: an amendment stored
        under one is still answered to a retry spelt as it was."""
        return [self.numbered_digest_mapping(reason), self.spelt_digest_mapping(reason), self.sent_digest_mapping()]

    def numbered_digest_mapping(self, reason: str, name: str | None = None) -> dict[str, object]:
        """What the idempotency digest was of on 2026-12-07 (review issuer, R3): as ``digest_mapping``, with the
        holder name (unless ``name`` is given for it) and the fields as sent."""
        number = None if self.license_number is None else normal_number(self.license_number)
        optional = [self.holder_name if name is None else name, number, self.valid_from, self.valid_until]
        return {**self.spelt_digest_mapping(reason), "optional": optional}

    def spelt_digest_mapping(self, reason: str) -> dict[str, object]:
        """What the idempotency digest was of from 2026-12-06 to 2026-12-07: as ``digest_mapping``, with the license
        number as sent."""
        return {**self.sent_digest_mapping(), "clear_fields": sorted(set(self.clear_fields)), "reason": reason}

    def sent_digest_mapping(self) -> dict[str, object]:
        """What the idempotency digest was of before ``digest_mapping`` (2026-12-06): the request as sent. An
        amendment stored under it is still answered to a retry sent as it was."""
        return {
            "op": "amend",
            "license_id": self.license_id,
            "fields": dict(self.fields),
            "clear_fields": sorted(self.clear_fields),
            "optional": [self.holder_name, self.license_number, self.valid_from, self.valid_until],
            "issue_date": self.issue_date,
            "reason": self.reason,
        }


@dataclass(slots=True)
class _Pending:
    """One item of a batch on its way through ``issue_many``."""

    draft: LicenseDraft
    digest: str
    document_sha256: str = ""
    """The SHA-256 of the PDF sent with it, if any: part of its request's digests (``_issue_digest``)."""
    license: License | None = None
    """The prepared (validated and sealed) license; None when preparing failed."""
    error: ZzgwError | None = None
    """Why preparing failed (``detached``: without its tracebacks, which would hold the batch)."""
    outcome: IssueResult | ZzgwError | None = None
    supplied: bytes | None = None
    """The PDF the issuer sent with the license, to be sealed as its document."""
    document: LicenseDocument | None = None
    replayed: bool = False
    """Answered before with the same content (its request id and digest): not prepared, answered as it was."""
    form: PrintedForm | None = None
    """The printed form of its type as issued, kept with a license whose document is drawn later (``draw`` off)."""
    sealed_by_revoked: bool = False
    """Refused at the commit: a seal that sealed it was revoked after it did (``_sealed_by_revoked``)."""
    repeat_of: _Pending | None = None
    """The earlier item of the batch with the same request, whose outcome is its own (``_as_repeat``)."""
    committing: bool = False
    """Its prepared license was in a transaction whose commit was asked for: one that went through though its
    connection was lost (PostgreSQL committed, the answer lost) is found by the next try as this item's own, its id
    and sealing time this call's (``_created_by``)."""

    region: str = ""
    """The issuer's region, the default of its ``region_code`` (``same_request``)."""

    def same_request(self, stored: str) -> bool:
        """Whether the request stored under ``stored`` (its digest) is this one: by the digest of the request as
        stored (``digest``), or, for one stored before, by the digest it had then: as sent (before review issuer's
        R3), or with its number, holder code, serial and defaults as stored and its name and fields as sent (from
        then to review s55fix's R1, ``_spelt_as_stored``). Those are taken only here, for a request id found stored
        with another digest, not for every item of a batch (13 µs of each item's ingest)."""
        if stored == self.digest:
            return True
        earlier = (self.draft, _spelt_as_stored(self.draft, self.region))
        return any(stored == _issue_digest(draft, self.document_sha256) for draft in earlier)


class IssuanceService:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        keys: RecordKeys,
        clock: Clock,
        *,
        serials: SerialGenerator = random_serial,
        signal: ChangeSignal | None = None,
        documents: DocumentMaker | None = None,
        feed: ChangeFeed | None = None,
        memos: SealMemos | None = None,
        audit: AuditTrail | None = None,
        catalog_current: Callable[[UnitOfWork], None] = lambda uow: None,
        record_check: Callable[[License], tuple[bool, bool]] | None = None,
    ):
        """``catalog_current``: raises (UNAVAILABLE / ``CATALOG_CHANGED``) in a write's transaction, before it writes,
        once the store's catalog is no longer this process's (``CatalogPin.refuse_within``). ``record_check``
        (``VerificationService.as_stored``): whether a stored record's seal and its status memo hold, checked before
        an amendment seals its fields again and before a suspension or resumption writes a new status memo."""
        self._catalog_current = catalog_current
        self._record_check = record_check
        self._memos = memos
        self._audit = audit
        self._documents = documents
        self._feed = feed
        self._db = db
        self._catalog = catalog
        self._keys = keys
        self._clock = clock
        self._serials = serials
        self.signal = signal or ChangeSignal()

    # -- issue ---------------------------------------------------------------------------------------------------

    def issue(self, caller: Member, draft: LicenseDraft, *, document: bytes | None = None) -> IssueResult:
        """Issue one license (签发) with its sealed document: ``document`` sealed, else one drawn from the template.

        Raises the item's error. Without a document maker (no seal-maker CA yet) the license is issued alone.
        """
        (outcome,) = self.issue_many(caller, [draft], documents=[document], draw=True)
        if isinstance(outcome, ZzgwError):
            raise outcome
        return outcome

    def issue_many(
        self,
        caller: Member,
        drafts: Sequence[LicenseDraft],
        *,
        documents: Sequence[bytes | None] = (),
        draw: bool = False,
        reseal: bool = True,
    ) -> list[IssueResult | ZzgwError]:
        """Issue several licenses in one transaction; each item gets its license or its own error, in order.

        ``documents`` (by position) are PDFs to seal as the licenses' documents; with ``draw`` the others get one
        drawn from the template, else they get theirs when first asked for (``DocumentService.get``). With
        ``reseal``, the items whose seal was revoked between their sealing and the commit are issued once more, sealed
        with the issuer's current seal (``_sealed_again``).
        """
        now = self._clock.now()
        on = today(self._clock)
        supplied = [documents[i] if i < len(documents) else None for i in range(len(drafts))]
        pending = [self._pending(d, supplied[i], caller.region) for i, d in enumerate(drafts)]
        # a request answered before (an import run again after an interruption) is not validated and sealed again
        # only to be answered as it was: the commit finds it by its request id and digest, as it would have
        # (well-formed ids only: one with a NUL, which PostgreSQL's driver refuses, is the item's BAD_REQUEST_ID)
        with self._db.unit_of_work() as uow:
            answered = uow.licenses.prior_requests(
                caller.code, [p.draft.request_id for p in pending if REQUEST_ID_RE.match(p.draft.request_id)]
            )
        forms: dict[str, PrintedForm] = {}  # by type code: one a type in a batch
        key: KeyBackend | ZzgwError | None = None  # looked up once, when the first item is valid; a refusal stands
        # for every item after it (an unreadable seal key had been loaded, failed and logged once per item)
        for item in pending:
            if item.error is not None:  # refused before its digest was taken (``_pending``)
                continue
            earlier = answered.get(item.draft.request_id)
            if earlier is not None and item.same_request(earlier.digest):
                item.replayed = True
                continue
            try:
                valid = validate_issue(item.draft, self._catalog, caller, on)
                if key is None:
                    try:
                        key = self._keys.record_key(caller.code)
                        if self._documents is not None:  # refused as IssueLicense is (``require_seal``)
                            self._documents.require_seal(caller.code)
                    except ZzgwError as refused:
                        key = detached(refused)
                if isinstance(key, ZzgwError):
                    raise key
                license = self._prepare(caller, item.draft, valid, key, now)
                if self._documents is not None and not item.supplied:  # drawn now or when first asked for
                    self._documents.check_printable(license.content)
                if not item.supplied and not draw:  # drawn when first asked for, as issued now
                    code = valid.license_type.code
                    item.form = forms.get(code) or forms.setdefault(code, PrintedForm.of(valid.license_type))
                item.license = license
            except ZzgwError as exc:
                item.error = detached(exc)
        self._make_documents(caller, pending, draw)
        conflicts, lost = 0, False
        while True:  # ends in a commit or an error: never with outcomes of a transaction that did not commit
            try:
                with self._db.unit_of_work(write=True) as uow:
                    self._commit_issues(uow, caller, pending, now)
                break
            except IntegrityError:
                # Another process committed one of our request ids or numbers between our lookups and our insert:
                # start over; the lookups now see its rows.
                conflicts += 1
                if conflicts == _WRITE_ATTEMPTS:
                    raise
            except Exception as exc:
                if lost or not connection_lost(exc):
                    raise
                lost = True  # once, on a new connection: the request ids answer a commit that had gone through
        self.signal.notify()
        outcomes = [item.outcome for item in pending]
        assert all(o is not None for o in outcomes)
        if reseal:
            self._sealed_again(caller, pending, outcomes, draw)  # type: ignore[arg-type]
        return outcomes  # type: ignore[return-value]

    def _sealed_again(
        self, caller: Member, pending: list[_Pending], outcomes: list[IssueResult | ZzgwError], draw: bool
    ) -> None:
        """Issue once more the items of ``pending`` refused because their seal was revoked after it sealed them, now
        sealed with the issuer's current seal, and put what that gives in ``outcomes`` (by position): a seal rotation
        (RegisterSeal, then RevokeSeal of the old seal) through any process had failed every item sealed but not yet
        stored at that moment SEAL_REVOKED, for the department to send again (a reviewer, R4). Nothing of them was
        stored, so their request ids are free and this is their retry. The first refusal stands where the issuer has
        no seal left to seal with (its words say to register one) and where the seal chosen now was revoked too."""
        again = [n for n, item in enumerate(pending) if item.sealed_by_revoked]
        if not again:
            return
        retried = self.issue_many(
            caller,
            [pending[n].draft for n in again],
            documents=[pending[n].supplied for n in again],
            draw=draw,
            reseal=False,
        )
        for n, outcome in zip(again, retried, strict=True):
            if not (isinstance(outcome, ZzgwError) and outcome.reason in _NO_SEAL_TO_SEAL_WITH):
                outcomes[n] = outcome
        # a repeat of a request sealed once more answers as it now does, not with the refusal it shared at the
        # commit, whose words say nothing was written (a reviewer, rfA R4)
        position = {id(item): n for n, item in enumerate(pending)}
        for n, item in enumerate(pending):
            if item.repeat_of is not None and item.repeat_of.sealed_by_revoked:
                outcomes[n] = _as_repeat(outcomes[position[id(item.repeat_of)]])

    def _pending(self, draft: LicenseDraft, supplied: bytes | None, region: str) -> _Pending:
        """An item on its way, with its request's digest; one of more fields than could be valid (TOO_MANY,
        ``too_many``: no request stored could be the same) is refused before its digest is taken, which for 300,000
        keys had taken seconds (a reviewer, R2)."""
        license_type = self._catalog.license_types.get(draft.type_code)
        if violation := too_many("fields", len(draft.fields), len(license_type.fields) if license_type else 0):
            return _Pending(draft=draft, digest="", supplied=supplied, error=InvalidLicenseError([violation]))
        document = hashlib.sha256(supplied).hexdigest() if supplied else ""
        digest = _issue_digest(kept_draft(draft, license_type, region), document)
        return _Pending(draft=draft, digest=digest, document_sha256=document, supplied=supplied, region=region)

    def _make_documents(self, caller: Member, pending: list[_Pending], draw: bool) -> None:
        """Seal or draw the documents of the items that will be inserted (not those that repeat a request)."""
        wanted = [p for p in pending if p.license is not None and (p.supplied or draw)]
        if self._documents is None or not wanted:
            return
        with self._db.unit_of_work() as uow:
            prior = uow.licenses.prior_requests(caller.code, [p.draft.request_id for p in wanted])
        for item in wanted:
            if item.draft.request_id in prior:
                continue
            assert item.license is not None
            try:
                item.document = self._documents.make(caller, item.license.content, item.supplied)
            except ZzgwError as exc:
                item.license, item.error = None, detached(exc)

    def _prepare(
        self, caller: Member, draft: LicenseDraft, valid: ValidIssue, key: KeyBackend, now: dt.datetime
    ) -> License:
        license_id = LicenseId(
            type_code=valid.license_type.code,
            issuer_code=caller.code,
            serial=valid.serial or self._serials(),
            version=1,
        )
        content = _content(valid, str(license_id), caller.code, version=1)
        seal = seal_record(key, content.record_mapping())
        return License(
            content=content,
            status=LicenseStatus.ACTIVE,
            status_reason="",
            status_changed_at=now,
            created_at=now,
            seal=seal,
            request_id=draft.request_id,
            seal_memo=self._memo(seal),
            status_memo=self._status_memo(content.license_id, LicenseStatus.ACTIVE, "", now, created_at=now),
        )

    def _memo(self, seal: RecordSeal) -> bytes:
        """The gateway's memo of a seal it made (``SealMemos``), so a check with empty caches trusts it unverified."""
        return self._memos.memo(seal) if self._memos is not None else b""

    def _form_memo(self, license_id: str, sha256: str) -> bytes:
        """The gateway's memo of the printed form it records for a license (``SealMemos.form``): a form written into
        the store behind its back is not drawn."""
        return self._memos.form(license_id, sha256) if self._memos is not None else b""

    def _status_memo(
        self, license_id: str, status: LicenseStatus, reason: str, at: dt.datetime, *, created_at: dt.datetime
    ) -> bytes:
        """The gateway's memo of a status it stores and of the record's sealing time (``SealMemos.status``): either
        changed behind its back fails verification."""
        if self._memos is None:
            return b""
        return self._memos.status(license_id, status.value, reason, at, created_at)

    def _commit_issues(self, uow: UnitOfWork, caller: Member, pending: list[_Pending], now: dt.datetime) -> None:
        self._catalog_current(uow)
        revoked = _seals_revoked(uow, [(p.license, p.document) for p in pending if p.license is not None])
        uow.lock_change_log()
        for item in pending:
            item.outcome = item.error
        open_items = [p for p in pending if p.license is not None or p.replayed]
        prior = uow.licenses.prior_requests(caller.code, [p.draft.request_id for p in open_items])
        answered = [prior[p.draft.request_id].license_id for p in open_items if p.draft.request_id in prior]
        stored_licenses = uow.licenses.get_many(answered)
        documents = uow.documents.sha256_of_many(answered)
        first_of: dict[str, _Pending] = {}
        repeats: list[_Pending] = []
        fresh: list[_Pending] = []
        for item in open_items:
            request_id = item.draft.request_id
            earlier = prior.get(request_id)
            if earlier is not None:
                if not item.same_request(earlier.digest):
                    item.outcome = _reused(request_id, ChangeKind.ISSUED, earlier.kind)
                elif (stored := stored_licenses.get(earlier.license_id)) is not None:
                    item.outcome = IssueResult(
                        license=stored,
                        created=_created_by(item, stored),
                        document_sha256=documents.get(stored.license_id, ""),
                    )
                else:  # its change log names a license the store no longer has: deleted behind the gateway's back
                    item.outcome = NotFoundError(
                        f"请求 {request_id} 签发的证照 {earlier.license_id} 已不在库中"
                        "（the license this request issued is gone from the store）",
                        reason="LICENSE_NOT_FOUND",
                    )
            elif item.replayed:  # answered before preparing, and not now: its change-log record went meanwhile
                item.outcome = NotFoundError(
                    f"请求 {request_id} 此前已答复，其记录已不在库中"
                    "（the request was answered before, and its record is gone from the store）",
                    reason="REQUEST_RECORD_GONE",
                )
            elif request_id in first_of:
                first = first_of[request_id]
                if first.digest != item.digest:
                    item.outcome = _reused(request_id, ChangeKind.ISSUED, ChangeKind.ISSUED.value)
                else:
                    item.repeat_of = first
                    repeats.append(item)
            else:
                first_of[request_id] = item
                fresh.append(item)
        taken = uow.licenses.taken_numbers(_number_key(p.license) for p in fresh if p.license)
        existing_ids = uow.licenses.existing_ids([p.license.license_id for p in fresh if p.license])
        inserted: list[_Pending] = []
        for item in fresh:
            assert item.license is not None
            key = _number_key(item.license)
            if (refused := _sealed_by_revoked(revoked, item.license, item.document)) is not None:
                item.outcome, item.sealed_by_revoked = refused, True
            elif key in taken:
                item.outcome = self._number_taken(*key)
            elif item.license.license_id in existing_ids:
                item.outcome = AlreadyExistsError(
                    f"流水号 {item.draft.serial} 已被另一证照使用"
                    f"（serial {item.draft.serial} is used by another license）",
                    reason="SERIAL_TAKEN",
                )
            else:
                taken.add(key)
                existing_ids.add(item.license.license_id)
                inserted.append(item)
                item.outcome = IssueResult(
                    license=item.license,
                    created=True,
                    document_sha256=item.document.sha256 if item.document is not None else "",
                )
        retired = uow.licenses.retire_ended(_number_key(item.license) for item in inserted if item.license)
        uow.licenses.add([item.license for item in inserted if item.license])
        for item in inserted:
            if item.document is not None:
                uow.documents.add(item.document)
        written: dict[int, str] = {}  # each form's SHA-256, by the form (one a type in a batch)
        texts: dict[str, str] = {}
        for item in inserted:
            if item.form is not None and id(item.form) not in written:
                text = item.form.to_json()
                written[id(item.form)] = sha256 = form_digest(text)
                texts[sha256] = text
        uow.documents.add_forms(texts)
        uow.licenses.append_events(
            [
                _event(
                    ChangeKind.ISSUED,
                    item.license,
                    caller,
                    item.draft.request_id,
                    item.digest,
                    now,
                    previous=retired.get(_number_key(item.license), ""),
                    form=written[id(item.form)] if item.form else "",
                    form_memo=self._form_memo(item.license.license_id, written[id(item.form)]) if item.form else b"",
                )
                for item in inserted
                if item.license
            ]
        )
        for item in inserted:  # a commit that goes through, its answer lost, is these items' own on the next try
            item.committing = True
        uow.commit()
        for item in repeats:  # a request id repeated inside the batch shares the first one's outcome
            assert item.repeat_of is not None and item.repeat_of.outcome is not None
            item.outcome = _as_repeat(item.repeat_of.outcome)

    # -- amend and status ----------------------------------------------------------------------------------------

    def amend(self, caller: Member, amendment: Amendment) -> tuple[License, License]:
        """Amend a license (变更), tried once more when its PostgreSQL connection is lost (``_once_more_if_lost``)."""
        return _once_more_if_lost(lambda: self._amend(caller, amendment))

    def _amend(self, caller: Member, amendment: Amendment) -> tuple[License, License]:
        """Amend a license (变更): issue version n+1 and supersede version n. Returns (new, superseded)."""
        errors: list[FieldViolation] = []
        check_request_id(amendment.request_id, errors)
        if violation := license_id_violation("license_id", amendment.license_id):
            errors.append(violation)
        reason = check_text("reason", amendment.reason, MAX_REASON, errors, required=True, label="变更原因")
        if errors:
            raise InvalidLicenseError(errors)
        # more fields than any type has, before the digest is taken (seconds for 300,000 keys: a reviewer, R2); the
        # license's own type bounds them, and those to clear, once it is read (``_check_counts``)
        most = max((len(t.fields) for t in self._catalog.license_types.values()), default=0)
        if violation := too_many("fields", len(amendment.fields), most):
            raise InvalidLicenseError([violation])
        license_type = self._catalog.license_types.get(LicenseId.parse(amendment.license_id).type_code)
        digest = _digest(amendment.digest_mapping(reason, license_type))
        sent = [_digest(m) for m in amendment.earlier_digest_mappings(reason)]  # one stored before, under those
        replay = self._replay(caller, ChangeKind.AMENDED, amendment.request_id, digest, earlier=sent)
        if replay is not None:
            old = self._get_stored(replay.supersedes)
            return replay, old
        old = self._owned(caller, amendment.license_id)
        if old.unreadable:  # what it amends cannot be told: its fields would be sealed as none
            raise _unreadable(old)
        self._check_as_stored(old, amending=True)  # before a document is drawn; again under the lock, below
        try:
            check_amendable(old.status, old.superseded_by, expired=_expired(old, today(self._clock)))
        except ConflictError:
            # superseded by this very request's first try, committed since the look-up of its result above (a retry
            # sent while it was on its way): answered as a retry is, never refused "amend the version that replaced
            # it", its own result (a reviewer, R2)
            replay = self._replay(caller, ChangeKind.AMENDED, amendment.request_id, digest, earlier=sent)
            if replay is not None:
                return replay, self._get_stored(replay.supersedes)
            raise
        if old.content.version >= MAX_VERSION:  # its next version's identifier cannot be written (it was INTERNAL)
            raise _version_limit(old.content.version)
        on = today(self._clock)
        ended = old.content.valid_until
        license_type = self._catalog.license_type(old.content.type_code)
        if not license_type.expires and ended is not None and amendment.valid_until is None:
            # issued with an end date before the gateway refused one for its type: said so, rather than blame a
            # valid_until nobody sent (or ask, as an expired license, for a new one the type cannot have)
            raise InvalidLicenseError([not_expiring(license_type, stated=ended)])
        lifelong_as_date = license_type.lifelong and ended is not None and ended.isoformat() in LIFELONG_SPELLINGS
        if lifelong_as_date and amendment.valid_until is None:
            # 长期 stored as 9999-12-31 before the gateway refused it: said so, not blamed on a valid_until nobody sent
            raise InvalidLicenseError([lifelong_spelled_out(license_type, str(ended), stated=True)])
        if amendment.valid_until is None and not amendment.issue_date and ended is not None and ended < on:
            raise InvalidLicenseError(  # said plainly: the validity check would blame a valid_until nobody sent
                [
                    FieldViolation(
                        field="valid_until",
                        reason="LICENSE_EXPIRED",
                        description=f"证照已于 {ended.isoformat()} 到期：今天签发的变更须填写新的有效期截止日期，"
                        f"或原有效期内的发证日期（the license expired on {ended.isoformat()}: give a new "
                        "valid_until, or an issue_date within the old validity）",
                    )
                ]
            )
        _check_counts(license_type, old, amendment)
        _check_cleared(license_type, old, amendment)
        left = _fields_left(license_type, old, amendment)
        draft = _amended_draft(old, amendment, on, without=left)  # refused for themselves, not as UNKNOWN_FIELD
        not_in_catalog = [_field_not_in_catalog(license_type, key) for key in left]
        try:
            valid = validate_issue(
                draft,
                self._catalog,
                caller,
                on,
                stated=old.content.fields,
                stated_from=old.content.valid_from,
                stated_until=old.content.valid_until,
            )
        except InvalidLicenseError as invalid_too:  # every field to bring up to the catalog, said at once
            raise InvalidLicenseError([*not_in_catalog, *invalid_too.violations]) from None
        if not_in_catalog:
            raise InvalidLicenseError(not_in_catalog)
        new_id = str(LicenseId.parse(old.license_id).next_version())
        content = _content(valid, new_id, caller.code, version=old.content.version + 1)
        _check_changes(old.content, content, dated=bool(amendment.issue_date))
        if (gap := _leaves_a_gap(old.content, content, on)) is not None:
            raise InvalidLicenseError([gap])
        if content.issue_date < old.content.issue_date:  # a version issued before the one it supersedes
            raise InvalidLicenseError(
                [
                    FieldViolation(
                        field="issue_date",
                        reason="ISSUE_DATE_BEFORE_PREVIOUS",
                        description=f"第{old.content.version}版于 {old.content.issue_date} 签发，变更的发证日期不能"
                        f"更早（version {old.content.version} was issued on {old.content.issue_date}: its "
                        "amendment cannot be issued earlier）",
                    )
                ]
            )
        if self._documents is not None:
            self._documents.check_printable(content, amendment=True)
        seal = seal_record(self._keys.record_key(caller.code), content.record_mapping())
        asked = self._clock.now()  # a placeholder: the new version is dated in the transaction, below
        new = License(
            content=content,
            status=LicenseStatus.ACTIVE,
            status_reason=reason,
            status_changed_at=asked,
            created_at=asked,
            seal=seal,
            supersedes=old.license_id,
            seal_memo=self._memo(seal),
        )
        document = self._documents.make(caller, content) if self._documents is not None else None
        with self._db.unit_of_work(write=True) as uow:
            self._catalog_current(uow)
            revoked = _seals_revoked(uow, [(new, document)])
            uow.lock_change_log()
            replay = self._replay(caller, ChangeKind.AMENDED, amendment.request_id, digest, uow, earlier=sent)
            if replay is not None:
                return replay, self._get_stored(replay.supersedes)
            if (refused := _sealed_by_revoked(revoked, new, document)) is not None:
                raise refused
            current = uow.licenses.get(old.license_id)
            assert current is not None
            self._check_as_stored(current, amending=True)  # edited since the look-up: refused as before it
            check_amendable(current.status, current.superseded_by, expired=_expired(current, on))
            number = content.license_number
            if number != old.content.license_number and uow.licenses.taken_numbers([(content.type_code, number)]):
                raise self._number_taken(content.type_code, number)
            # Dated here, under the change log's lock, not when the call began: until this commits, checks still
            # find the old version in force, and a time taken before drawing the document and waiting for the
            # transaction had dated the supersession before checks that passed meanwhile, and a change committed
            # later before one committed earlier (a reviewer, R1). Two memos (HMACs) are all it adds under the lock.
            now = self._clock.now()
            # a suspended license's new version stays suspended, its suspension's reason and time carried over: never
            # shown in force, and the change feed says AMENDED only (a reviewer, R3)
            kept = current.status is LicenseStatus.SUSPENDED
            status, said = (current.status, current.status_reason) if kept else (LicenseStatus.ACTIVE, reason)
            since = current.status_changed_at if kept else now
            new = dataclasses.replace(
                new,
                status=status,
                status_reason=said,
                status_changed_at=since,
                created_at=now,
                status_memo=self._status_memo(new_id, status, said, since, created_at=now),
            )
            memo = self._status_memo(
                old.license_id, LicenseStatus.SUPERSEDED, reason, now, created_at=current.created_at
            )
            if number != old.content.license_number:
                uow.licenses.retire_ended([(content.type_code, number)])
            uow.licenses.supersede(old.license_id, new_id, reason, now, memo=memo)
            uow.licenses.add([new])
            if document is not None:
                uow.documents.add(document)
            uow.licenses.append_events(
                [
                    _event(  # the amendment's reason, a suspended version's status reason being its suspension's
                        ChangeKind.AMENDED,
                        dataclasses.replace(new, status_reason=reason),
                        caller,
                        amendment.request_id,
                        digest,
                        now,
                        previous=old.license_id,
                    )
                ]
            )
            changed = [f"license:{old.license_id}", f"license:{new_id}"]
            self._announce(uow, changed)
            uow.commit()
        self._after_commit(changed)
        superseded = dataclasses.replace(
            old,
            status=LicenseStatus.SUPERSEDED,
            status_reason=reason,
            status_changed_at=now,
            superseded_by=new_id,
            status_memo=memo,
        )
        return new, superseded

    def change_status(
        self, caller: Member, *, request_id: str, license_id: str, action: StatusAction, reason: str
    ) -> License:
        """Suspend, resume, revoke or cancel a license, with a reason; tried once more when its PostgreSQL connection
        is lost (``_once_more_if_lost``)."""
        return _once_more_if_lost(
            lambda: self._change_status(
                caller, request_id=request_id, license_id=license_id, action=action, reason=reason
            )
        )

    def _change_status(
        self, caller: Member, *, request_id: str, license_id: str, action: StatusAction, reason: str
    ) -> License:
        errors: list[FieldViolation] = []
        check_request_id(request_id, errors)
        if violation := license_id_violation("license_id", license_id):
            errors.append(violation)
        reason = check_text(
            "reason", reason, MAX_REASON, errors, required=True, label="状态变更原因", hint=_STATUS_REASON_HINT
        )
        if errors:
            raise InvalidLicenseError(errors)
        digest = _digest({"op": "status", "license_id": license_id, "action": action.value, "reason": reason})
        if (replay := self._replay(caller, ChangeKind.STATUS_CHANGED, request_id, digest)) is not None:
            return replay
        owned = self._owned(caller, license_id)
        # ending (REVOKE, CANCEL) is what a record changed behind the gateway's back needs, and may always be done;
        # a suspension or a resumption would write a memo vouching for a status, or keep in force a record, that the
        # gateway did not store (a reviewer, R1)
        keeps = action in (StatusAction.SUSPEND, StatusAction.RESUME)
        if keeps:
            self._check_as_stored(owned, amending=False)
        with self._db.unit_of_work(write=True) as uow:
            self._catalog_current(uow)
            uow.lock_change_log()
            if (replay := self._replay(caller, ChangeKind.STATUS_CHANGED, request_id, digest, uow)) is not None:
                return replay
            # dated under the change log's lock (as an amendment is): one taken before waiting for the transaction
            # had dated a change committed later before one committed earlier (a reviewer, R1)
            now = self._clock.now()
            current = uow.licenses.get(license_id)
            assert current is not None
            if keeps:
                self._check_as_stored(current, amending=False)
            status = next_status(
                current.status, action, current.superseded_by, expired=_expired(current, today(self._clock))
            )
            memo = self._status_memo(license_id, status, reason, now, created_at=current.created_at)
            uow.licenses.set_status(license_id, status, reason, now, memo=memo)
            changed = dataclasses.replace(
                current, status=status, status_reason=reason, status_changed_at=now, status_memo=memo
            )
            uow.licenses.append_events([_event(ChangeKind.STATUS_CHANGED, changed, caller, request_id, digest, now)])
            self._announce(uow, [f"license:{license_id}"])
            uow.commit()
        self._after_commit([f"license:{license_id}"])
        return changed

    def _announce(self, uow: UnitOfWork, keys: list[str]) -> None:
        if self._feed is not None:
            self._feed.announce(uow, keys)

    def _committed(self, keys: list[str]) -> None:
        if self._feed is not None:
            self._feed.committed(keys)

    def _after_commit(self, keys: list[str]) -> None:
        """What follows a change's commit: ``keys`` dropped from this process's caches (and its workers'), and the
        change feed's watchers woken."""
        self._committed(keys)
        self.signal.notify()

    # -- reads ---------------------------------------------------------------------------------------------------

    def get(self, caller: Member, *, license_id: str = "", type_code: str = "", license_number: str = "") -> License:
        """One of ``caller``'s own licenses by identifier, or by type and number: the current version with the
        number, else the version that had it last before an amendment changed it (SUPERSEDED), as a verification by
        number finds it (the issuer had been told no such license where any verifier found it: an issuer's client).
        An issuer's read of its records, outside any matter: ``record_read`` puts it on the holder's log. Both ways
        at once are refused as VerifyLicense refuses them (ONE_OF): the identifier's license had been answered, the
        number ignored, and a client that sent both read another license than the one it named by number."""
        if license_id and (type_code or license_number):
            raise invalid(
                "license_id",
                "ONE_OF",
                "请只填写其中一种：证照标识、证照类型代码加证照编号"
                "（give exactly one of license_id, type_code with license_number）",
            )
        if license_id:
            if violation := license_id_violation("license_id", license_id):
                raise InvalidRequestError([violation])
            _check_named_issuer(caller, license_id)
            with self._db.unit_of_work() as uow:
                found = uow.licenses.get(license_id)
        elif type_code and license_number:
            check_issuer(caller, self._catalog.license_type(type_code))  # who issues none learns nothing of numbers
            with self._db.unit_of_work() as uow:
                found = find_by_number(uow.licenses.get_by_number, type_code, license_number)
            if found is not None and found.content.issuer_code != caller.code:
                found = None  # another issuer of the type's: told as none, as a number nobody holds
        else:
            raise InvalidRequestError(
                [
                    FieldViolation(
                        field="license_id",
                        reason="REQUIRED",
                        description="请填写证照标识，或证照类型代码和证照编号"
                        "（give license_id, or type_code and license_number）",
                    )
                ]
            )
        if found is None:
            raise NotFoundError(_NO_SUCH_LICENSE, reason="LICENSE_NOT_FOUND")
        if found.unreadable:
            raise _unreadable(found)
        return found

    def record_read(self, caller: Member, operator: str, action: AuditAction, license: License) -> None:
        """Put an issuer's read of its own license on the audit trail (``get``): the holder's log shows who looked
        up their record, as for every other use. Without an audit trail (no gateway key: ``zzgw init`` not run, or a
        copy of the data directory without it) the read is refused before anything is answered: no use goes
        unrecorded."""
        if self._audit is None:
            raise UpstreamUnavailableError(
                "没有网关密钥，用证记录无法写入：请运行 zzgw init"
                "（no gateway key for the audit trail: run `zzgw init`）",
                reason="NO_SEAL_CA",
            )
        self._audit.record(
            AuditEntry(
                at=self._clock.now(),
                caller=caller.code,
                operator=operator,
                action=action,
                matter_code="",
                purpose="",
                license_id=license.license_id,
                issuer_code=license.content.issuer_code,
                holder_code=license.content.holder.code,
                subjects=license_subjects(license, self._catalog),
                decision="ANSWERED",
            )
        )

    def history(self, license: License) -> list[License]:
        """The versions before ``license``, oldest first (a superseded version's later ones are not its history)."""
        with self._db.unit_of_work() as uow:
            versions = [v for v in uow.licenses.history(license) if v.content.version < license.content.version]
        if unreadable := next((v for v in versions if v.unreadable), None):
            raise _unreadable(unreadable)
        return versions

    def watch_scope(self, caller: Member, type_codes: Sequence[str] = ()) -> WatchScope:
        """What of the change log ``caller`` may watch, narrowed to ``type_codes`` when given.

        An administrator watches every event whole, when ``ADMIN`` is its only role (``Member.administrator_only``):
        one that also issues, consumes or is a partner watches as those roles give it. An issuer watches its own
        licenses' events whole, of any type. A consumer, and a partner gateway (whose matters are its region's),
        watches the events of the license types its matters use, as their materials name them, without the issuer's
        free-text ``reason``: that text may name the holder, and a department learns of other issuers' licenses only
        what its matters need. A type in ``type_codes`` that the caller neither uses nor issues is refused
        (INVALID_ARGUMENT, NOT_USED_BY_MATTER), and so is a member that handles no matter at all and issues nothing
        (PERMISSION_DENIED, NO_MATTERS): no event would ever be for it. The words say why: a consumer or partner with
        no matter of the catalog, or roles that give nothing to watch (``ADMIN`` beside ``HOLDER_PORTAL`` alone).
        """
        first_place: dict[str, int] = {}  # each code's first place in the request: a repeated one is named once
        for index, code in enumerate(type_codes):
            first_place.setdefault(code, index)
        requested = tuple(first_place)
        if violation := too_many("type_codes", len(requested), len(self._catalog.license_types)):
            raise InvalidRequestError([violation])  # before any is looked at (a reviewer, R2)
        if caller.administrator_only:  # every type, but a code of none is refused as for the others (it had been an
            unknown = [  # empty stream, waiting for events that never come)
                FieldViolation(
                    field=f"type_codes[{index}]",
                    reason="UNKNOWN_LICENSE_TYPE",
                    description=f"{unknown_type_words(code[:64])}（unknown license type {code[:64]!r}）",
                )
                for code, index in first_place.items()
                if code not in self._catalog.license_types
            ]
            if unknown:
                raise InvalidRequestError(unknown)
            return WatchScope(member_code=caller.code, everything=True, requested=requested)
        own = caller.has(Role.ISSUER)
        used: frozenset[str] = frozenset()
        if caller.has(Role.CONSUMER) or caller.has(Role.PARTNER):
            used = frozenset(
                material.type_code for matter in matters_of(caller, self._catalog) for material in matter.materials
            )
        if not own and not (caller.has(Role.CONSUMER) or caller.has(Role.PARTNER)):
            # an ADMIN and HOLDER_PORTAL member: its roles, not the catalog, leave it nothing to watch; it had been
            # told to add its matters to the catalog, which changes nothing (a reviewer, R3)
            roles = sorted(role.value for role in caller.roles)
            raise PermissionDeniedError(
                f"{caller.name}的角色（{'、'.join(roles)}）不订阅任何证照变更：请以仅有管理员角色的成员、发证部门、用证部门"
                f"或跨省伙伴订阅，或请网关运维改其角色（ZZGW_MEMBERS）（{caller.name}'s roles ({', '.join(roles)}) "
                "give it no license type to watch: watch as a member that is ADMIN alone, an issuer, a consumer or a "
                "partner gateway, or ask the operator to change its roles, ZZGW_MEMBERS）",
                reason="NO_MATTERS",
            )
        if not used and not own:  # it would wait for events that never come
            raise PermissionDeniedError(
                f"{caller.name}在事项目录中没有办理事项，没有证照变更可推送给它，请将其事项加入目录"
                f"（{caller.name} handles no matter of the catalog, so no license type's changes are for it: "
                "add its matters to the catalog, ZZGW_CATALOG）",
                reason="NO_MATTERS",
            )
        issued = (
            {code for code, license_type in self._catalog.license_types.items() if caller.code in license_type.issuers}
            if own
            else set()
        )
        errors: list[FieldViolation] = []
        for type_code, index in first_place.items():
            if type_code in used or type_code in issued:
                continue
            license_type = self._catalog.license_types.get(type_code)
            if license_type is None:
                errors.append(
                    FieldViolation(
                        field=f"type_codes[{index}]",
                        reason="UNKNOWN_LICENSE_TYPE",
                        description=f"{unknown_type_words(type_code[:64])}（unknown license type {type_code[:64]!r}）",
                    )
                )
            else:
                errors.append(
                    FieldViolation(
                        field=f"type_codes[{index}]",
                        reason="NOT_USED_BY_MATTER",
                        description=f"{caller.name}的事项不使用{license_type.name}"
                        + ("，也不签发该类证照" if own else "")
                        + f"（{caller.name}'s matters do not use {license_type.name}"
                        + (", nor does it issue them）" if own else "）"),
                    )
                )
        if errors:
            raise InvalidRequestError(errors)
        return WatchScope(member_code=caller.code, own=own, type_codes=used, requested=requested)

    def watch_scope_again(self, scope: WatchScope, caller: Member, type_codes: Sequence[str] = ()) -> WatchScope:
        """``scope``, an open stream's, if ``caller`` as it is now (its roles, name, region and so its matters, as
        `zzgw init` last left them) still watches just that with ``type_codes``; else the stream ends, after the last
        event ``scope`` allowed, never with an event the new scope forbids: PERMISSION_DENIED, NO_MATTERS when a new
        watch would be refused so, WATCH_SCOPE_CHANGED otherwise (a scope wider, narrower or other, or ``type_codes``
        a new watch refuses as INVALID_ARGUMENT). A stream had kept the scope it opened with, and an administrator
        given ``HOLDER_PORTAL`` beside its role received every event whole, another issuer's reason naming a holder
        too, for as long as its client kept it open (a reviewer, R1)."""
        try:
            now = self.watch_scope(caller, type_codes)
        except PermissionDeniedError:
            raise
        except ZzgwError as refused:
            raise _scope_changed(caller, refused) from None
        if now != scope:
            raise _scope_changed(caller, None)
        return now

    def changes_after(self, scope: WatchScope, cursor: int, *, limit: int = 500) -> ChangePage:
        """The change events after ``cursor`` that ``scope`` shows, as it shows them, read up to ``limit`` events
        at a time. The page's cursor is where the next page starts, past every event this one left out, so that
        they are not read again: the last event read when ``limit`` were (shown or not), else the newest event of
        the store when the read began. The store narrows the read to the scope's types or issuer, and an idle
        stream whose events are rare had started each read after the last one it received, reading the whole tail
        of the change log again every poll (a reviewer, R2).

        The newest event is read first, and the events up to it next: no event numbered below it commits after it
        (every writer of events holds the change log's lock until it commits, ``UnitOfWork.lock_change_log``; SQLite
        writers are one at a time), so the second read, a later snapshot on PostgreSQL, sees every event up to it
        that will ever be, and passing over the rest skips none. Read the other way round, an event committed
        between the two reads would be passed over unread."""
        if scope.everything or not scope.own:  # the store narrows to the types: what it reads is shown
            types = scope.requested or tuple(sorted(scope.type_codes))
            issuer_code = None
        elif not scope.type_codes:  # an issuer only: its own licenses
            types, issuer_code = scope.requested, scope.member_code
        else:  # an issuer that also uses others' licenses: its own of any type, others' of the types it uses
            types, issuer_code = scope.requested, None
        with self._db.unit_of_work() as uow:
            newest = uow.licenses.last_seq()
            read = uow.licenses.events_after(
                cursor, limit=limit, type_codes=types, issuer_code=issuer_code, up_to=newest
            )
        return ChangePage(
            changes=[scope.shown(change) for change in read if scope.admits(change)],
            cursor=read[-1].seq if len(read) == limit else max(cursor, newest),
        )

    def newest_seq(self) -> int:
        """The number of the newest event, where a stream that starts from now on resumes (0: none yet)."""
        with self._db.unit_of_work() as uow:
            return uow.licenses.last_seq()

    def resume_after(self, cursor: str) -> int:
        """The number of the event ``cursor`` names, after which a stream resumes; INVALID_ARGUMENT / BAD_CURSOR
        unless an event of this store gave it (ADR 0015). Its number alone does not say so: a restore from a
        backup gives the numbers past the copy to new events again (or skips them), and another store's events
        have the same numbers; followed, such a cursor had left out every new event up to it, without an error.
        The event's tag does: random, written with it, and in its cursor. A cursor of the number only is an event's
        stored before schema 0030, and is taken for such an event only. "0" names no event and is before every
        one: the stream starts from the beginning, as before."""
        parsed = ChangeCursor.parse(cursor)
        if parsed is None:
            raise _bad_cursor("游标须取自之前的变更事件（cursor must come from an earlier event）")
        if parsed.seq == 0 and not parsed.tag:
            return 0
        with self._db.unit_of_work() as uow:
            tag = uow.licenses.event_tag(parsed.seq)
        if tag != parsed.tag:
            # not the newest event's number in the words: that is how many changes every issuer's licenses have had
            raise _bad_cursor(
                f"没有游标为 {cursor} 的变更事件：它来自另一个库，或来自本库恢复备份时丢失的事件；"
                "请从本库给出的较早游标或从头（from_beginning）重新订阅，并重新读取此后处理过的事件所涉证照"
                "（no event of this store gave "
                f"cursor {cursor}: it comes from another store, or from an event lost when this store was restored "
                "from a backup; watch again from an earlier cursor of this store or from_beginning, and read again "
                "the licenses of the events processed after it）"
            )
        return parsed.seq

    def effective_status(self, license: License) -> LicenseStatus:
        return license.effective_status(today(self._clock))

    # -- helpers -------------------------------------------------------------------------------------------------

    def _replay(
        self,
        caller: Member,
        kind: ChangeKind,
        request_id: str,
        digest: str,
        uow: UnitOfWork | None = None,
        *,
        earlier: Collection[str] = (),
    ) -> License | None:
        """The stored result of an earlier identical request (of ``kind``), or None; IdempotencyConflictError if it
        differed. What follows a change's commit is done again (``_after_commit``): the earlier request may be this
        very call's first try, committed with its answer lost with the connection (``_once_more_if_lost``), and this
        process's next check must see the change (found in review); for a client's retry it costs a cache fill.
        ``earlier``: the digests the same request had under an earlier form of its digest, stored before it
        changed."""
        if uow is None:
            with self._db.unit_of_work() as read:
                return self._replay(caller, kind, request_id, digest, read, earlier=earlier)
        prior = uow.licenses.prior_requests(caller.code, [request_id]).get(request_id)
        if prior is None:
            return None
        if prior.digest != digest and prior.digest not in earlier:
            raise _reused(request_id, kind, prior.kind)
        stored = uow.licenses.get(prior.license_id)
        assert stored is not None
        self._after_commit([f"license:{key}" for key in (stored.supersedes, stored.license_id) if key])
        if prior.kind == ChangeKind.STATUS_CHANGED.value and prior.at is not None:
            # the answer the change gave, not the license as later changes left it: a retry must not read as undone
            return dataclasses.replace(
                stored, status=LicenseStatus.read(prior.status), status_reason=prior.reason, status_changed_at=prior.at
            )
        return stored

    def _get_stored(self, license_id: str) -> License:
        with self._db.unit_of_work() as uow:
            found = uow.licenses.get(license_id)
        if found is None:
            raise NotFoundError(_NO_SUCH_LICENSE, reason="LICENSE_NOT_FOUND")
        return found

    def _number_taken(self, type_code: str, number: str) -> AlreadyExistsError:
        """LICENSE_NUMBER_TAKEN: a current license of the type has ``number``, named by the type's label for it."""
        license_type = self._catalog.license_types.get(type_code)
        label = license_type.license_number_label if license_type is not None else "证照编号"
        return AlreadyExistsError(
            f"{label}为 {number} 的现行证照已存在（a current license with number {number} exists already）",
            reason="LICENSE_NUMBER_TAKEN",
        )

    def _check_as_stored(self, license: License, *, amending: bool) -> None:
        """Refuse (FAILED_PRECONDITION) a write that would vouch anew for what was changed behind the gateway's back:
        a record its seal no longer holds over (``RECORD_ALTERED``; an amendment had sealed the edited fields into
        the next version with the issuer's key, and it verified PASSED), or a status the gateway did not store
        (``STATUS_ALTERED``; a revoked license set SUSPENDED in the store had been resumed, ACTIVE with a fresh memo).
        One check of the seal's memo and the status memo (``record_check``); none without a verification service."""
        if (reason := self._altered_as(license)) is not None:
            raise _altered(license, reason, amending=amending)

    def _altered_as(self, license: License) -> str | None:
        """``RECORD_ALTERED`` when the record's seal does not hold over the stored row, ``STATUS_ALTERED`` when its
        status is not one the gateway stored (``record_check``), else None (also without a verification service)."""
        if self._record_check is None:
            return None
        record, status = self._record_check(license)
        return None if record and status else "RECORD_ALTERED" if not record else "STATUS_ALTERED"

    def stored_finding(self, license: License) -> Finding:
        """What GetLicense says of the stored row it shows: PASSED when the gateway vouches for it as stored;
        FAILED / ``RECORD_ALTERED`` or ``STATUS_ALTERED`` when it was changed behind the gateway's back, saying
        that what it shows is not to be relied on and what to do (the issuer had been shown the edited row as its
        own, with no word: a reviewer); INDETERMINATE / ``NOT_CHECKED`` without a verification service."""
        if self._record_check is None:
            return Finding(
                result=CheckResult.INDETERMINATE,
                reason="NOT_CHECKED",
                detail="网关没有核验服务，未核对登记库中的记录（the gateway has no verification service: the stored "
                "record was not checked）",
            )
        reason = self._altered_as(license)
        if reason is None:
            return PASSED
        (what, what_en), (fix, fix_en) = _altered_what(license, reason), _ALTERED_FIX
        return Finding(
            result=CheckResult.FAILED,
            reason=reason,
            detail=f"{what}，所示内容不可依凭，也不能变更、暂停或恢复：{fix}（{what_en}: what it shows is not to be "
            f"relied on, and it cannot be amended, suspended or resumed: {fix_en}）",
        )

    def _owned(self, caller: Member, license_id: str) -> License:
        _check_named_issuer(caller, license_id)
        found = self._get_stored(license_id)
        check_issuer(caller, self._catalog.license_type(found.content.type_code))
        return found


def _once_more_if_lost(write: Callable[[], _T]) -> _T:
    """``write`` (an amendment, a status change), run once more when its PostgreSQL connection is lost under it (a
    restarted server, a terminated backend): its request id makes the second run safe, since a first that committed
    after all (its answer lost with the connection) is answered as the request it was, never done twice. A write had
    been UNAVAILABLE at once where reads were tried again (found by an operations tester)."""
    try:
        return write()
    except Exception as exc:
        if not connection_lost(exc):
            raise
    return write()


def _check_named_issuer(caller: Member, license_id: str) -> None:
    """Refuse ``caller`` a license whose identifier names another issuer, before it is looked up: the answer is the
    same whether or not such a license exists (another department would learn, by identifier, that it does)."""
    try:
        issuer_code = LicenseId.parse(license_id).issuer_code
    except ValueError:  # not an identifier at all: none of the caller's
        issuer_code = ""
    if issuer_code != caller.code:
        raise PermissionDeniedError(
            "只有发证部门在此查阅或变更本部门的证照，其他部门请使用核验与共享（only the issuer of a license reads or "
            "changes it here; other departments use verification and sharing）",
            reason="NOT_LICENSE_ISSUER",
        )


def _version_limit(version: int) -> ConflictError:
    return ConflictError(
        f"该证照已是第{version}版，证照标识的版本号不能再大，不能再变更：请将其吊销或注销后重新签发"
        f"（the license is at version {version}, the last its identifier can carry: revoke or cancel it and issue it "
        "again）",
        reason="VERSION_LIMIT",
        metadata={"version": str(version)},
    )


def _content(valid: ValidIssue, license_id: str, issuer_code: str, *, version: int) -> LicenseContent:
    return LicenseContent(
        license_id=license_id,
        type_code=valid.license_type.code,
        license_number=valid.license_number,
        holder=valid.holder,
        issuer_code=issuer_code,
        issue_date=valid.issue_date,
        valid_from=valid.valid_from,
        valid_until=valid.valid_until,
        region_code=valid.region_code,
        fields=valid.fields,
        version=version,
    )


def _amended_draft(old: License, amendment: Amendment, on: dt.date, *, without: Sequence[str] = ()) -> LicenseDraft:
    """The license ``amendment`` makes of ``old``, to be validated as an issue is, ``without`` these fields too."""
    c = old.content
    fields = {**c.fields, **amendment.fields}
    for key in [*amendment.clear_fields, *without]:
        fields.pop(key, None)
    return LicenseDraft(
        request_id=amendment.request_id,
        type_code=c.type_code,
        license_number=amendment.license_number if amendment.license_number is not None else c.license_number,
        holder_name=amendment.holder_name if amendment.holder_name is not None else c.holder.name,
        holder_code_type=c.holder.code_type,
        holder_code=c.holder.code,
        issue_date=amendment.issue_date or on.isoformat(),
        valid_from=amendment.valid_from if amendment.valid_from is not None else c.valid_from.isoformat(),
        valid_until=amendment.valid_until if amendment.valid_until is not None else _iso(c.valid_until),
        region_code=c.region_code,
        fields=fields,
    )


def _check_counts(license_type: LicenseType, old: License, amendment: Amendment) -> None:
    """More fields to set than the type has, or more distinct ones to clear than the type and the license have, is
    refused as one (TOO_MANY, ``too_many``) before any is looked at (a reviewer, R2)."""
    clearable = {spec.key for spec in license_type.fields} | old.content.fields.keys()
    for violation in (
        too_many("fields", len(amendment.fields), len(license_type.fields)),
        too_many("clear_fields", len(set(amendment.clear_fields)), len(clearable)),
    ):
        if violation is not None:
            raise InvalidLicenseError([violation])


def _check_cleared(license_type: LicenseType, old: License, amendment: Amendment) -> None:
    """Each key to clear is a field of the license's type, or one the license carries that its type no longer has (a
    field taken out of the catalog, dropped so: ``_fields_left``), and not also given a value."""
    errors = [
        unknown_field(f"clear_fields.{key[:64]}", license_type, key)
        for key in amendment.clear_fields
        if license_type.field_spec(key) is None and key not in old.content.fields
    ] + [
        FieldViolation(
            field=f"clear_fields.{key[:64]}",
            reason="SET_AND_CLEARED",
            description=f"{_field_label(license_type.field_spec(key), key)}既填了新值又要清除"
            f"（field {key[:64]!r} is both given a value and cleared）",
        )
        for key in amendment.clear_fields
        if key in amendment.fields
    ]
    if errors:
        raise InvalidLicenseError(errors)


def _fields_left(license_type: LicenseType, old: License, amendment: Amendment) -> list[str]:
    """The fields ``old`` carries that its type no longer has (taken out of the catalog since it was issued) and the
    amendment neither drops (``clear_fields``) nor sets (UNKNOWN_FIELD): each is FIELD_NOT_IN_CATALOG, so that the
    issuer drops it knowingly rather than the new version being sealed with a field the catalog does not define. Every
    amendment of such a license had been refused UNKNOWN_FIELD for a field the issuer had not sent, and clearing it
    too, until the catalog was reverted (a catalog author tester)."""
    dropped = {*amendment.clear_fields, *amendment.fields}
    return [key for key in sorted(old.content.fields) if license_type.field_spec(key) is None and key not in dropped]


def _field_not_in_catalog(license_type: LicenseType, key: str) -> FieldViolation:
    """FIELD_NOT_IN_CATALOG: the license carries ``key``, which its type no longer has (``_fields_left``)."""
    return FieldViolation(
        field=f"fields.{key}",
        reason="FIELD_NOT_IN_CATALOG",
        description=f"此证照载有的信息项 {key!r} 已不在证照目录的{license_type.name}中：请在 clear_fields 中列出"
        f"它，随本次变更删除（the license carries the field {key!r}, which {license_type.name_en or license_type.code} "
        "no longer has in the catalog: name it in clear_fields to drop it with this amendment）",
    )


def _check_changes(old: LicenseContent, new: LicenseContent, *, dated: bool) -> None:
    """An amendment changes something the license states: a new version of the same record would only supersede
    the old one (and ask every holder of a copy to fetch it again). The issue date counts when it was given."""
    ignored = ("license_id", "version") if dated else ("license_id", "version", "issue_date")
    before, after = old.record_mapping(), new.record_mapping()
    if all(before[key] == after[key] for key in before if key not in ignored):
        raise InvalidLicenseError(
            [
                FieldViolation(
                    field="fields",
                    reason="NOTHING_CHANGED",
                    description="此次变更没有改变证照的任何内容，未签发新版本"
                    "（the amendment changes nothing the license states; nothing was issued）",
                )
            ]
        )


def _seals_revoked(uow: UnitOfWork, sealed: Sequence[tuple[License, LicenseDocument | None]]) -> dict[str, HeldSeal]:
    """The seals that sealed these records and documents and are no longer active as the writing transaction ``uow``
    sees them, by key id and by seal id: on PostgreSQL they are held (FOR SHARE) until it commits, so that a
    revocation through any process either commits first and is seen here, or waits and takes a later time than
    these records' (``SealService.revoke``); one query for a whole batch. Before the change log's lock: a
    transaction waiting for a revocation holds up no other writer."""
    held = uow.seals.held(
        key_ids={license.seal.key_id for license, _ in sealed},
        seal_ids={document.seal_id for _, document in sealed if document is not None},
    )
    revoked: dict[str, HeldSeal] = {}
    for seal in held:
        if seal.status is not SealStatus.ACTIVE:
            revoked[seal.key_id] = revoked[seal.seal_id] = seal
    return revoked


def _created_by(item: _Pending, stored: License) -> bool:
    """Whether ``stored``, the license ``item``'s request id names, is the one this call prepared and asked to commit:
    a try whose connection was lost at the commit, which PostgreSQL had made, is found by the next try, and a license
    this very call created had been answered ``created`` false (a batch import counted it 此前已有; a reviewer, R3).
    The same id is not enough: with a serial the issuer gives, another call of the same request (a second import of
    the file, a client's retry after a timeout) prepares the very id, and commits it while this call's commit never
    reached the database; both had answered created (a reviewer, R1). Its sealing time is this call's own clock
    reading, to the microsecond, which no other call's license has."""
    return (
        item.committing
        and item.license is not None
        and stored.license_id == item.license.license_id
        and stored.created_at == item.license.created_at
    )


def _as_repeat(outcome: IssueResult | ZzgwError) -> IssueResult | ZzgwError:
    """The outcome of a request repeated inside a batch: its first's, the license not created again."""
    return dataclasses.replace(outcome, created=False) if isinstance(outcome, IssueResult) else outcome


def _sealed_by_revoked(
    revoked: Mapping[str, HeldSeal], license: License, document: LicenseDocument | None
) -> ConflictError | None:
    """SEAL_REVOKED when ``license``'s record or ``document`` was sealed by a seal of ``revoked`` (``_seals_revoked``):
    revoked between its choice and this commit, perhaps through another process. Stored, the license would have
    been answered as issued, and failed every verification as CERT_REVOKED, "revoked before it sealed"."""
    seal = revoked.get(license.seal.key_id) or (revoked.get(document.seal_id) if document is not None else None)
    return None if seal is None else revoked_while_sealing(seal.seal_id, seal.name)


def _scope_changed(caller: Member, refused: ZzgwError | None) -> PermissionDeniedError:
    """An open stream's end when what its member may watch changed (``IssuanceService.watch_scope_again``): with
    the refusal a new watch with the same ``type_codes`` would meet, if any."""
    words = (
        f"{caller.name}的角色、名称、地区或所办事项已变更，此订阅可收到的证照变更随之改变，订阅在原范围内的最后一个事件后"
        "结束：请用最后收到的事件的游标重新订阅（"
        f"{caller.name}'s roles, name, region or matters changed, and so did the changes it may watch: this stream "
        "ended after the last event it was watching before; watch again with the cursor of the last event you "
        "received）"
    )
    if refused is not None:
        words += f"。按原来的证照类型订阅会被拒绝（with the same type_codes a new watch is refused）：{refused.message}"
    return PermissionDeniedError(words, reason="WATCH_SCOPE_CHANGED")


def _bad_cursor(description: str) -> InvalidRequestError:
    return InvalidRequestError([FieldViolation(field="cursor", reason="BAD_CURSOR", description=description)])


def _expired(license: License, on: dt.date) -> dt.date | None:
    """The end of the validity ``license`` is past on ``on`` (it reads 已过期, EXPIRED), else None: a refusal worded
    from its status says so (``next_status``, ``check_amendable``)."""
    return license.content.valid_until if license.effective_status(on) is LicenseStatus.EXPIRED else None


def _leaves_a_gap(old: LicenseContent, new: LicenseContent, on: dt.date) -> FieldViolation | None:
    """``VALID_FROM_LEAVES_GAP`` for a renewal amended in advance: an amendment of a version in force on ``on``
    (today) whose new period starts after today and after that version's end. An amendment supersedes at once, so
    the holder would lose the days left of the version in force and have no license in force until the new start
    (verified FAILED throughout: a reviewer, R2). A later start within the old period is taken: a start entered too
    early corrected (更正), the license NOT_YET_VALID until then as it should have been; refused, it had been left
    verifying PASSED (review of the lifecycle fixes, R2). Said with what to do: to renew, extend ``valid_until``
    alone, keeping ``valid_from``, or amend on the new start date; for dates entered wrong, CANCEL and issue again
    with the right ones (the number is free once cancelled), or SUSPEND until the start. A version not yet in force,
    or past its end, has no day to lose."""
    in_force = old.valid_from <= on and (old.valid_until is None or on <= old.valid_until)
    if not in_force or new.valid_from <= on or old.valid_until is None or new.valid_from <= old.valid_until:
        return None
    starts, ends = new.valid_from.isoformat(), old.valid_until.isoformat()
    return FieldViolation(
        field="valid_from",
        reason="VALID_FROM_LEAVES_GAP",
        description=f"新的起始日期 {starts} 晚于现行版本截止日期 {ends}：变更即取代现行版本，其余下天数作废，"
        f"此前将无有效证照。延续请只延长有效期截止日期，或于 {starts} 再变更；日期录入有误请注销后重新签发，"
        f"或暂停使用至 {starts}"
        f"（valid_from {starts} is after {ends}, the end of the version in force; amending supersedes it at once, its "
        f"days left lost. Renew: change valid_until only, or amend on {starts}. Wrong dates: CANCEL and issue again, "
        f"or SUSPEND until {starts}）",  # within MAX_ECHO_MESSAGE (400) with "valid_from: ", else cut
    )


def _number_key(license: License) -> tuple[str, str]:
    return (license.content.type_code, license.content.license_number)


def _iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _event(
    kind: ChangeKind,
    license: License,
    caller: Member,
    request_id: str,
    digest: str,
    now: dt.datetime,
    *,
    previous: str = "",
    form: str = "",
    form_memo: bytes = b"",
) -> NewEvent:
    c = license.content
    return NewEvent(
        kind=kind,
        license_id=c.license_id,
        type_code=c.type_code,
        issuer_code=c.issuer_code,
        version=c.version,
        status=license.status,
        reason=license.status_reason,
        occurred_at=now,
        actor=caller.code,
        request_id=request_id or None,
        request_digest=digest,
        previous_license_id=previous,
        form=form,
        form_memo=form_memo,
    )


def _issue_digest(draft: LicenseDraft, document_sha256: str) -> str:
    """The request digest of an issue, of ``draft`` and the PDF sent with it if any (its SHA-256, "" for none): of
    the request as the gateway keeps it (``kept_draft``), which an issue's row has from review s55fix's R1
    (2026-12-07); as sent, which rows stored before review issuer's R3 have; or as ``_spelt_as_stored``, which rows
    stored between the two have. A retry
    spelling the number as stored, or writing out a default the first try was given, had been REQUEST_ID_REUSED
    (review issuer, R3), and one spelling the fields and the holder's name as stored too (review s55fix, R1)."""
    document = {"document_sha256": document_sha256} if document_sha256 else {}
    return _digest({"op": "issue", **draft.digest_mapping(), **document})


def _spelt_as_stored(draft: LicenseDraft, region: str) -> LicenseDraft:
    """``draft`` as an issue's digest took it from review issuer's R3 to review s55fix's R1 (``kept_draft``): the
    number, the holder's code, the serial and the defaults as stored, the holder's name and the fields as sent. An
    issue stored under it is still answered to a retry spelt as its first try was (``_Pending.same_request``)."""
    return dataclasses.replace(
        draft,
        license_number=normal_number(draft.license_number),
        holder_code=half_width(draft.holder_code).strip().upper(),
        valid_from=draft.valid_from or draft.issue_date,
        region_code=draft.region_code or region,
        serial=draft.serial.upper(),
    )


def _digest(mapping: Mapping[str, object]) -> str:
    """What identifies a request's content for idempotency (sorted-key JSON; any string keys, as sent)."""
    return hashlib.sha256(json.dumps(mapping, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


_REQUEST_KINDS: Mapping[str, tuple[str, str]] = {
    ChangeKind.ISSUED.value: ("签发", "an issue (IssueLicense or BatchIssueLicenses)"),
    ChangeKind.AMENDED.value: ("变更", "an amendment (AmendLicense)"),
    ChangeKind.STATUS_CHANGED.value: ("状态变更", "a status change (ChangeLicenseStatus)"),
}
"""A write's kind, as its change event records it, in Chinese and in English naming its RPCs."""


def _reused(request_id: str, kind: ChangeKind, used_for: str) -> IdempotencyConflictError:
    """REQUEST_ID_REUSED for a request of ``kind`` whose id a write of kind ``used_for`` (its event's) took first
    with other content. A write of another kind is named: "different content" had sent a client that reused a
    ChangeLicenseStatus id in IssueLicense looking for a difference between two issues (found by a black-box
    tester)."""
    if used_for == kind.value or used_for not in _REQUEST_KINDS:
        return IdempotencyConflictError(
            f"请求编号 {request_id} 已用于内容不同的请求"
            f"（request_id {request_id} was used before with different content）",
            metadata={"request_id": request_id},
        )
    chinese, english = _REQUEST_KINDS[used_for]
    return IdempotencyConflictError(
        f"请求编号 {request_id} 已用于{chinese}请求"
        f"（request_id {request_id} was used before for {english}, another kind of request）",
        metadata={"request_id": request_id, "used_for": used_for},
    )


_NO_SUCH_LICENSE = "未找到该证照（no such license）"
_STATUS_REASON_HINT = "，如暂停、吊销或撤销、注销的依据"
"""What a status change's reason is, said when it is missing (请填写原因 alone had not said which reason)."""


def _unreadable(license: License) -> ConflictError:
    """RECORD_ALTERED for an issuer's read or amendment of a license whose stored row cannot be read (``License.
    unreadable``): answered INTERNAL before, with a traceback per call (found by an on-call tester)."""
    return ConflictError(
        f"登记库中的证照记录 {license.license_id} 已在网关之外被改动，无法读取："
        "请网关运维从备份恢复该记录，或将其吊销或撤销后重新签发"
        f"（the stored record of {license.license_id} was changed behind the gateway's back and cannot be read: "
        "its operator restores the row from a backup, or the issuer revokes it and issues it again）",
        reason="RECORD_ALTERED",
    )


def _altered_what(license: License, reason: str) -> tuple[str, str]:
    """What was found of a license changed behind the gateway's back (``RECORD_ALTERED``, ``STATUS_ALTERED``), in
    Chinese and English, for a refusal (``_altered``) and for GetLicense's finding (``stored_finding``)."""
    lid = license.license_id
    if reason == "RECORD_ALTERED":
        return (
            f"登记库中的证照记录 {lid} 与发证时盖章的记录不一致，已在网关之外被改动",
            f"the stored record of {lid} is not the one that was sealed: it was changed behind the gateway's back",
        )
    return (
        f"登记库中证照 {lid} 的状态（{license.status.label}）不是网关所存的，已在网关之外被改动",
        f"the stored status of {lid} ({license.status.english}) is not the one the gateway stored: it was changed "
        "behind the gateway's back",
    )


_ALTERED_FIX = (
    "请网关运维从备份恢复该记录后再办理，或将其吊销或注销后重新签发",
    "its operator restores the row from a backup first, or the issuer revokes or cancels it and issues it again",
)
"""What to do about a license changed behind the gateway's back: revoking and cancelling it stay allowed."""


def _altered(license: License, reason: str, *, amending: bool) -> ConflictError:
    """The refusal of an amendment, suspension or resumption of a license whose record (``RECORD_ALTERED``) or status
    (``STATUS_ALTERED``) was changed behind the gateway's back (``IssuanceService._check_as_stored``), saying what to
    do: the operator puts the row back from a backup, or the issuer revokes or cancels the license, which stays
    allowed, and issues it again. GetLicense shows the row as stored with a FAILED finding (``stored_finding``);
    VerifyLicense says what is wrong with it."""
    done, done_en = ("变更", "amended") if amending else ("暂停或恢复", "suspended or resumed")
    what, what_en = _altered_what(license, reason)
    if reason == "RECORD_ALTERED":
        why, why_en = (
            "变更会把被改动的内容盖章签发为新版本",
            "an amendment would seal the changed fields as a new version",
        )
    else:
        why, why_en = "新的状态记录会确认被改动的状态", "a new status record would vouch for the changed one"
    if not amending and reason == "RECORD_ALTERED":
        why, why_en = "被改动的记录不能继续保持有效", "a changed record is not to be kept in force"
    fix, fix_en = _ALTERED_FIX
    return ConflictError(
        f"{what}，不能{done}（{why}）：{fix}；核验该证照可见所发现的问题（{what_en}, so it cannot be {done_en} "
        f"({why_en}): {fix_en}; VerifyLicense shows the finding）",
        reason=reason,
    )


def _field_label(spec: FieldSpec | None, key: str) -> str:
    return spec.label if spec is not None else repr(key[:64])
