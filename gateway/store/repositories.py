"""Repositories: the store's face towards the services. They take and return domain values, never ORM rows.

Hot paths (batch issue, lookups) use Core-style statements on the mapped tables: the ORM's identity map costs
three to four times as much per row and buys nothing for rows that are written once and read as values.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import operator
import secrets
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import orjson
from cachetools import LRUCache
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    CursorResult,
    Row,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    text,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gateway.domain.audit import AccessRecord, AuditAction, AuditEntry, Checkpoint, HeadMemo
from gateway.domain.identifiers import LICENSE_ID_ROOT
from gateway.domain.model import (
    EVENT_TAG_DIGITS,
    ChangeKind,
    Holder,
    License,
    LicenseChange,
    LicenseContent,
    LicenseStatus,
    Member,
    RecordSeal,
    Role,
)
from gateway.domain.seals import DocumentSource, LicenseDocument, Seal, SealStatus
from gateway.store.models import (
    AccessRecordRow,
    AccessRecordSubjectRow,
    AccessRequestRow,
    AuditCheckpointRow,
    AuditHeadRow,
    ConsentRow,
    ConsoleClerkRow,
    DocumentRow,
    GatewayFactRow,
    LicenseEventRow,
    LicenseRow,
    MemberRow,
    PrintedFormRow,
    ReceiptCertificateRow,
    ReceiptRow,
    SealRow,
    WrongClaimRow,
)

_L = cast(Table, LicenseRow.__table__)
_IS_CURRENT = text(f"{_L.name}.is_current")
_NOT_CURRENT = text(f"NOT {_L.name}.is_current")
"""``is_current`` as the partial indexes of license numbers say it: SQLAlchemy writes ``_L.c.is_current`` as
``is_current = 1`` on SQLite, from which SQLite does not infer the index's ``WHERE is_current``, and scanned the whole
table for every look-up by number (100 ms at 200,000 licenses; a test reads the query plans)."""
_E = cast(Table, LicenseEventRow.__table__)
_PF = cast(Table, PrintedFormRow.__table__)
_M = cast(Table, MemberRow.__table__)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorRequest:
    """A write seen before under the same (actor, request_id)."""

    digest: str
    license_id: str
    kind: str = ""
    status: str = ""
    reason: str = ""
    at: dt.datetime | None = None
    """What the write's event recorded: its kind, and the status, reason and time it left the license with."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldSeal:
    """What a transaction storing sealed records needs of a seal (``SealRepository.held``)."""

    seal_id: str
    key_id: str
    name: str
    status: SealStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEvent:
    kind: ChangeKind
    license_id: str
    type_code: str
    issuer_code: str
    version: int
    status: LicenseStatus
    reason: str
    occurred_at: dt.datetime
    actor: str
    request_id: str | None
    request_digest: str | None
    previous_license_id: str = ""
    form: str = ""
    """The SHA-256 of the printed form the license's document is to be drawn from (an issue whose document is drawn
    later), else empty."""
    form_memo: bytes = b""
    """The gateway's memo of ``form`` for the license (``SealMemos.form``); empty with ``form``, or with no memos."""


log = logging.getLogger("zzgw.store")

_ENDED = (LicenseStatus.CANCELLED.value, LicenseStatus.REVOKED.value)
"""Statuses after which a license's number may be issued again."""


class LicenseRepository:
    def __init__(self, session: Session):
        self._s = session

    def get(self, license_id: str) -> License | None:
        row = self._s.execute(select(*_READ).where(_L.c.license_id == license_id)).first()
        return license_from(row) if row else None

    def get_many(self, license_ids: Sequence[str]) -> dict[str, License]:
        """The stored licenses of ``license_ids`` (those there are), by identifier: a batch's replays in one read."""
        found: dict[str, License] = {}
        for chunk in _chunks(list(set(license_ids)), 500):
            for row in self._s.execute(select(*_READ).where(_in(self._s, _L.c.license_id, chunk))).all():
                license = license_from(row)
                found[license.license_id] = license
        return found

    def get_current(self, type_code: str, license_number: str) -> License | None:
        row = self._s.execute(
            select(*_READ).where(_L.c.type_code == type_code, _L.c.license_number == license_number, _IS_CURRENT)
        ).first()
        return license_from(row) if row else None

    def get_by_number(self, type_code: str, license_number: str) -> License | None:
        """The current version with this number; else the version that had it last before an amendment changed it
        (SUPERSEDED), through the partial index of numbers that are no longer current. A number is held by one
        current license at a time, so of those that held it the one committed last held it last: ordered by row id,
        drawn in commit order (every insert of a license holds the change log's lock, ``UnitOfWork.lock_change_log``;
        on SQLite the id is the rowid, which the index holds, so nothing is sorted). Not by the last status change,
        which a retired license's clean-up (a revoked one cancelled later) moves past its successor's, and the lookup
        had answered that one, 已注销 (a reviewer, R4); nor by creation time, taken when an issue begins, before its
        documents are drawn and the lock is waited for: an issue committed after one dated later had been passed
        over, and the lookup answered the other, 已吊销 (review of the lifecycle fixes, R1)."""
        found = self.get_current(type_code, license_number)
        if found is not None:
            return found
        row = self._s.execute(
            select(*_READ)
            .where(_L.c.type_code == type_code, _L.c.license_number == license_number, _NOT_CURRENT)
            .order_by(_L.c.id.desc())
            .limit(1)
        ).first()
        return license_from(row) if row else None

    def without_memo(self, *, after: str, limit: int) -> list[License]:
        """Licenses stored without the gateway's memo of their seal (before migration 0012), by identifier."""
        rows = self._s.execute(
            select(*_READ).where(_L.c.seal_memo == b"", _L.c.license_id > after).order_by(_L.c.license_id).limit(limit)
        ).all()
        return [license_from(r) for r in rows]

    def any_memo(self) -> bool:
        """Whether any license carries a memo (of its seal or its status), made under the key store's secret."""
        query = select(_L.c.license_id).where(or_(func.length(_L.c.seal_memo) > 0, func.length(_L.c.status_memo) > 0))
        return self._s.execute(query.limit(1)).first() is not None

    def current_type_codes(self) -> list[str]:
        """The type codes that current licenses have, one index seek each (a loose scan of the index of current
        numbers), so a store of millions answers at once."""
        codes: list[str] = []
        while True:
            query = select(func.min(_L.c.type_code)).where(_IS_CURRENT, _L.c.type_code > (codes[-1] if codes else ""))
            code = self._s.execute(query).scalar()
            if code is None:
                return codes
            codes.append(code)

    def count_current(self, type_code: str) -> int:
        query = select(func.count()).select_from(_L).where(_L.c.type_code == type_code, _IS_CURRENT)
        return int(self._s.execute(query).scalar_one())

    def issuers_and_types(self) -> list[tuple[str, str]]:
        """Each (issuer_code, type_code) that stored licenses have, any version, one index seek each (a loose scan of
        the index of serials), so a store of millions answers at once."""
        pairs: list[tuple[str, str]] = []
        issuer: str | None = ""
        while issuer := self._s.execute(select(func.min(_L.c.issuer_code)).where(_L.c.issuer_code > issuer)).scalar():
            type_code: str | None = ""
            while type_code := self._s.execute(
                select(func.min(_L.c.type_code)).where(_L.c.issuer_code == issuer, _L.c.type_code > type_code)
            ).scalar():
                pairs.append((issuer, type_code))
        return pairs

    def count_of_issuer(self, issuer_code: str, type_code: str, statuses: Collection[LicenseStatus]) -> int:
        """How many current licenses of ``type_code`` that ``issuer_code`` issued have one of ``statuses``."""
        query = (
            select(func.count())
            .select_from(_L)
            .where(
                _L.c.issuer_code == issuer_code,
                _L.c.type_code == type_code,
                _IS_CURRENT,
                _L.c.status.in_(sorted(s.value for s in statuses)),
            )
        )
        return int(self._s.execute(query).scalar_one())

    def field_keys(self, type_code: str, statuses: Collection[LicenseStatus]) -> dict[str, int]:
        """How many current licenses of ``type_code`` with one of ``statuses`` carry each field key, in one pass over
        them (the keys of each license's stored fields, read by the database's JSON functions)."""
        if self._s.get_bind().dialect.name == "postgresql":
            each = func.json_object_keys(_L.c.fields).table_valued("key").render_derived()
        else:
            each = func.json_each(_L.c.fields).table_valued("key")
        query = (
            select(each.c.key, func.count())
            .select_from(_L.join(each, true()))
            .where(_L.c.type_code == type_code, _IS_CURRENT, _L.c.status.in_(sorted(s.value for s in statuses)))
            .group_by(each.c.key)
        )
        return {str(k): int(n) for k, n in self._s.execute(query).all()}

    def holder_code_types(self, type_code: str, statuses: Collection[LicenseStatus]) -> dict[str, int]:
        """How many current licenses of ``type_code`` with one of ``statuses`` there are of each holder code type, in
        one pass over them."""
        query = (
            select(_L.c.holder_code_type, func.count())
            .where(_L.c.type_code == type_code, _IS_CURRENT, _L.c.status.in_(sorted(s.value for s in statuses)))
            .group_by(_L.c.holder_code_type)
        )
        return {str(k): int(n) for k, n in self._s.execute(query).all()}

    def count_without_memo(self) -> int:
        return int(self._s.execute(select(func.count()).select_from(_L).where(_L.c.seal_memo == b"")).scalar_one())

    def set_memos(self, memos: Sequence[tuple[License, bytes]]) -> int:
        """Store each license's memo, unless its seal changed since it was read; how many were stored."""
        stored = 0
        for license, memo in memos:
            result = self._s.execute(
                update(_L)
                .where(
                    _L.c.license_id == license.license_id,
                    _L.c.seal_signature == license.seal.signature,
                    _L.c.seal_digest == license.seal.record_digest,
                    _L.c.seal_memo == b"",
                )
                .values(seal_memo=memo)
            )
            stored += cast(CursorResult[Any], result).rowcount
        return stored

    def history(self, license: License) -> list[License]:
        """Every version of the license (same issuer, type and serial), oldest first."""
        content = license.content
        rows = self._s.execute(
            select(*_READ)
            .where(
                _L.c.issuer_code == content.issuer_code,
                _L.c.type_code == content.type_code,
                _L.c.serial == serial_of(content.license_id),
            )
            .order_by(_L.c.version)
        ).all()
        return [license_from(r) for r in rows]

    def taken_numbers(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (type_code, license_number) pairs a current license that has not ended holds already: a number held
        only by a CANCELLED or REVOKED license may be issued again (补领, 换领), which retires that license
        (``retire_ended``).

        One query per type with ``license_number IN (...)``: a row-value ``IN`` of pairs makes SQLite scan the table.
        """
        return {(t, number) for t, number, _ in self._current_holders(pairs, ended=False)}

    def retire_ended(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Make the CANCELLED or REVOKED licenses holding these numbers no longer current, so that a new license may
        take the number; returns their identifiers by (type_code, license_number). They keep their status, and are
        still found by identifier, and by number while no current license has it."""
        retired = {(t, number): license_id for t, number, license_id in self._current_holders(pairs, ended=True)}
        for chunk in _chunks(sorted(retired.values()), 500):
            self._s.execute(update(_L).where(_in(self._s, _L.c.license_id, chunk)).values(is_current=False))
        return retired

    def _current_holders(self, pairs: Iterable[tuple[str, str]], *, ended: bool) -> list[tuple[str, str, str]]:
        """(type_code, license_number, license_id) of the current licenses with these numbers, ended or not."""
        by_type: dict[str, set[str]] = {}
        for type_code, number in pairs:
            by_type.setdefault(type_code, set()).add(number)
        ended_only = _L.c.status.in_(_ENDED) if ended else _L.c.status.not_in(_ENDED)
        found: list[tuple[str, str, str]] = []
        for type_code, numbers in by_type.items():
            for chunk in _chunks(sorted(numbers), 500):
                rows = self._s.execute(
                    select(_L.c.license_number, _L.c.license_id).where(
                        _L.c.type_code == type_code,
                        _in(self._s, _L.c.license_number, chunk),
                        _IS_CURRENT,
                        ended_only,
                    )
                ).all()
                found.extend((type_code, number, license_id) for number, license_id in rows)
        return found

    def existing_ids(self, license_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(license_ids), 500):
            found.update(self._s.execute(select(_L.c.license_id).where(_in(self._s, _L.c.license_id, chunk))).scalars())
        return found

    def add(self, licenses: Sequence[License]) -> None:
        if licenses:
            _insert_many(self._s, _L, [_row(lic) for lic in licenses])

    def set_status(
        self, license_id: str, status: LicenseStatus, reason: str, at: dt.datetime, *, memo: bytes = b""
    ) -> None:
        """Store a status with the gateway's memo of it (``SealMemos.status``)."""
        self._s.execute(
            update(_L)
            .where(_L.c.license_id == license_id)
            .values(status=status.value, status_reason=reason, status_changed_at=at, status_memo=memo)
        )

    def supersede(self, license_id: str, by: str, reason: str, at: dt.datetime, *, memo: bytes = b"") -> None:
        self._s.execute(
            update(_L)
            .where(_L.c.license_id == license_id)
            .values(
                status=LicenseStatus.SUPERSEDED.value,
                status_reason=reason,
                status_changed_at=at,
                superseded_by=by,
                is_current=False,
                status_memo=memo,
            )
        )

    def statuses_without_memo(self, *, after: str, limit: int) -> list[tuple[str, str, str, dt.datetime, dt.datetime]]:
        """(identifier, status, reason, set at, sealed at) of licenses whose status has no memo (stored before
        migration 0014), by identifier."""
        rows = self._s.execute(
            select(_L.c.license_id, _L.c.status, _L.c.status_reason, _L.c.status_changed_at, _L.c.created_at)
            .where(func.length(_L.c.status_memo) == 0, _L.c.license_id > after)
            .order_by(_L.c.license_id)
            .limit(limit)
        ).all()
        return [(r[0], r[1], r[2], _utc(r[3]), _utc(r[4])) for r in rows]

    def set_status_memos(self, memos: Sequence[tuple[str, str, bytes]]) -> None:
        """(identifier, the status the memo is of, memo): stored unless the status changed meanwhile."""
        for license_id, status, memo in memos:
            self._s.execute(
                update(_L)
                .where(_L.c.license_id == license_id, _L.c.status == status, func.length(_L.c.status_memo) == 0)
                .values(status_memo=memo)
            )

    def prior_requests(self, actor: str, request_ids: Iterable[str]) -> dict[str, PriorRequest]:
        found: dict[str, PriorRequest] = {}
        for chunk in _chunks(list(set(request_ids)), 500):
            rows = self._s.execute(
                select(
                    _E.c.request_id,
                    _E.c.request_digest,
                    _E.c.license_id,
                    _E.c.kind,
                    _E.c.status,
                    _E.c.reason,
                    _E.c.occurred_at,
                ).where(_E.c.actor == actor, _in(self._s, _E.c.request_id, chunk))
            ).all()
            for r in rows:
                found[r.request_id] = PriorRequest(
                    digest=r.request_digest or "",
                    license_id=r.license_id,
                    kind=r.kind,
                    status=r.status,
                    reason=r.reason or "",
                    at=_utc(r.occurred_at),
                )
        return found

    def append_events(self, events: Sequence[NewEvent]) -> None:
        if events:
            _insert_many(
                self._s,
                _E,
                [
                    {
                        "kind": e.kind.value,
                        "license_id": e.license_id,
                        "type_code": e.type_code,
                        "issuer_code": e.issuer_code,
                        "version": e.version,
                        "status": e.status.value,
                        "reason": e.reason,
                        "previous_license_id": e.previous_license_id,
                        "occurred_at": e.occurred_at,
                        "actor": e.actor,
                        "request_id": e.request_id,
                        "request_digest": e.request_digest,
                        "tag": secrets.token_hex(EVENT_TAG_DIGITS // 2),
                        "form": e.form,
                        "form_memo": e.form_memo,
                    }
                    for e in events
                ],
            )

    def events_after(
        self,
        seq: int,
        *,
        limit: int,
        type_codes: Sequence[str] = (),
        issuer_code: str | None = None,
        up_to: int | None = None,
    ) -> list[LicenseChange]:
        """The events after ``seq`` (and up to ``up_to``, when given) of ``type_codes`` and by ``issuer_code`` when
        given, oldest first, at most ``limit``."""
        query = select(_E).where(_E.c.seq > seq).order_by(_E.c.seq).limit(limit)
        if up_to is not None:
            query = query.where(_E.c.seq <= up_to)
        if type_codes:
            query = query.where(_E.c.type_code.in_(type_codes))
        if issuer_code:
            query = query.where(_E.c.issuer_code == issuer_code)
        return [
            LicenseChange(
                seq=r.seq,
                kind=ChangeKind(r.kind),
                license_id=r.license_id,
                type_code=r.type_code,
                issuer_code=r.issuer_code,
                version=r.version,
                status=LicenseStatus.read(r.status),
                reason=r.reason,
                occurred_at=_utc(r.occurred_at),
                previous_license_id=r.previous_license_id,
                tag=r.tag,
            )
            for r in self._s.execute(query).all()
        ]

    def event_tag(self, seq: int) -> str | None:
        """The tag of the event numbered ``seq`` (empty: stored before schema 0030), or None: no such event."""
        return self._s.execute(select(_E.c.tag).where(_E.c.seq == seq)).scalar()

    def last_seq(self) -> int:
        return int(self._s.execute(select(func.coalesce(func.max(_E.c.seq), 0))).scalar_one())


class MemberRepository:
    def __init__(self, session: Session):
        self._s = session

    def get(self, code: str) -> Member | None:
        row = self._s.execute(select(_M).where(_M.c.code == code)).first()
        return _member(row) if row else None

    def lock(self, code: str) -> bool:
        """Hold ``code``'s row until the transaction ends (PostgreSQL's ``SELECT … FOR UPDATE``; SQLite's writer is
        one at a time already), so that what this transaction reads of it next stays so until it commits: a
        renewal and a revocation of one member on two replicas had each read the row, and the renewal registered a
        certificate on the row the revocation had just marked revoked (a reviewer, R5). Whether there is one."""
        return self._s.execute(select(_M.c.code).where(_M.c.code == code).with_for_update()).first() is not None

    def by_token_hash(self, token_sha256: str, *, in_force: bool = False) -> Member | None:
        """The member whose token has the digest ``token_sha256``; with ``in_force``, only one not revoked."""
        query = select(_M).where(_M.c.token_sha256 == token_sha256)
        if in_force:
            query = query.where(_M.c.revoked_at.is_(None))
        row = self._s.execute(query).first()
        return _member(row) if row else None

    def by_cert_hash(self, cert_sha256: str, *, in_force: bool = False) -> Member | None:
        """The member whose registered client certificate, or previous one still accepted beside its renewal, has
        the digest ``cert_sha256``; with ``in_force``, only one not revoked."""
        query = select(_M).where(or_(_M.c.cert_sha256 == cert_sha256, _M.c.previous_cert_sha256 == cert_sha256))
        if in_force:
            query = query.where(_M.c.revoked_at.is_(None))
        row = self._s.execute(query).first()
        return _member(row) if row else None

    def is_revoked(self, code: str) -> bool:
        """Whether member ``code`` is revoked."""
        return (
            self._s.execute(select(_M.c.code).where(_M.c.code == code, _M.c.revoked_at.is_not(None))).first()
            is not None
        )

    def all(self) -> list[Member]:
        return [_member(r) for r in self._s.execute(select(_M).order_by(_M.c.code)).all()]

    def revoke(self, code: str, at: dt.datetime) -> int:
        """Forget ``code``'s token and client certificates (the registered one and a previous one still accepted)
        and mark it revoked; how many of the three it had."""
        row = self._s.execute(
            select(_M.c.token_sha256, _M.c.cert_sha256, _M.c.previous_cert_sha256).where(_M.c.code == code)
        ).first()
        if row is None:
            return 0
        self._s.execute(
            update(_M)
            .where(_M.c.code == code)
            .values(token_sha256=None, cert_sha256=None, previous_cert_sha256=None, revoked_at=_as_utc(at))
        )
        return sum(value is not None for value in (row.token_sha256, row.cert_sha256, row.previous_cert_sha256))

    def restore(self, code: str) -> bool:
        """Clear ``code``'s revocation (its credentials are registered again by ``zzgw init``); whether it was."""
        restored = self._s.execute(
            update(_M).where(_M.c.code == code, _M.c.revoked_at.is_not(None)).values(revoked_at=None)
        )
        return bool(restored.rowcount)  # type: ignore[attr-defined]

    def revoked(self) -> set[str]:
        """The codes of the revoked members."""
        return set(self._s.execute(select(_M.c.code).where(_M.c.revoked_at.is_not(None))).scalars())

    def credentials(self) -> list[tuple[str, str | None, bool]]:
        """Each member's code, the digest of its token (a dev bearer token, or a console token; None without one)
        and whether it has a client certificate."""
        rows = self._s.execute(select(_M.c.code, _M.c.token_sha256, _M.c.cert_sha256).order_by(_M.c.code)).all()
        return [(code, token, cert is not None) for code, token, cert in rows]

    def certificate_digests(self) -> dict[str, str]:
        """Each member with a client certificate registered: code to the SHA-256 of its DER, as registered."""
        rows = self._s.execute(select(_M.c.code, _M.c.cert_sha256).where(_M.c.cert_sha256.is_not(None))).all()
        return {code: digest for code, digest in rows}

    def previous_certificate_digests(self) -> dict[str, str]:
        """Each member with a previous client certificate still accepted beside its renewal (``renew``): code to the
        SHA-256 of its DER."""
        rows = self._s.execute(
            select(_M.c.code, _M.c.previous_cert_sha256).where(_M.c.previous_cert_sha256.is_not(None))
        ).all()
        return {code: digest for code, digest in rows}

    def renew(self, code: str, cert_sha256: str, registered: str) -> bool:
        """Register ``cert_sha256`` as ``code``'s client certificate, keeping ``registered``, the one the caller found
        registered, accepted as its previous one; whether it was done: only while ``code`` is not revoked, has
        ``registered`` registered and no previous one (the caller checked, and holds the row: ``lock``; checked again
        here, in the UPDATE itself, so that no renewal lands on a row revoked or renewed since)."""
        done = self._s.execute(
            update(_M)
            .where(
                _M.c.code == code,
                _M.c.revoked_at.is_(None),
                _M.c.cert_sha256 == registered,
                _M.c.previous_cert_sha256.is_(None),
            )
            .values(cert_sha256=cert_sha256, previous_cert_sha256=registered)
        )
        return bool(cast(CursorResult[Any], done).rowcount)

    def retire(self, code: str) -> None:
        """Forget ``code``'s previous client certificate (``renew``)."""
        self._s.execute(update(_M).where(_M.c.code == code).values(previous_cert_sha256=None))

    def any_token(self) -> bool:
        """Whether any member has a dev bearer token registered."""
        return self._s.execute(select(_M.c.code).where(_M.c.token_sha256.is_not(None)).limit(1)).first() is not None

    def any_certificate(self) -> bool:
        """Whether any member has a client certificate registered (of some member CA)."""
        return self._s.execute(select(_M.c.code).where(_M.c.cert_sha256.is_not(None)).limit(1)).first() is not None

    def save(
        self,
        member: Member,
        *,
        at: dt.datetime,
        token_sha256: str | None = None,
        cert_sha256: str | None = None,
    ) -> None:
        """Insert or update a member; None leaves a stored key, token or certificate as it is."""
        values: dict[str, object] = {"name": member.name, "region": member.region, "roles": _roles(member)}
        for column, value in (
            ("token_sha256", token_sha256),
            ("cert_sha256", cert_sha256),
        ):
            if value is not None:
                values[column] = value
        exists = self._s.execute(select(_M.c.code).where(_M.c.code == member.code)).first()
        if exists:
            self._s.execute(update(_M).where(_M.c.code == member.code).values(**values))
        else:
            self._s.execute(insert(_M).values(code=member.code, created_at=at, **values))


def _in(session: Session, column: ColumnElement[str], values: list[str]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``: one parameter, so the query is not re-rendered
    with hundreds of placeholders on every call."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("values", values, type_=ARRAY(String), expanding=False))
    return column.in_(values)


_COPY_FROM = 64
"""From this many rows, PostgreSQL inserts go through COPY."""


class Statements(Protocol):
    """Where rows go: the ORM session's connection (``SessionStatements``) or a driver connection of a hot append
    path (``gateway.store.database.AppendWork``)."""

    @property
    def dialect(self) -> str: ...

    @property
    def placeholder(self) -> str:
        """``?`` (sqlite3), ``%s`` (psycopg's default cursors) or ``$`` (psycopg's raw cursor: ``$1``, ``$2``…)."""
        ...

    def execute(self, sql: str, params: Sequence[object] = ()) -> None: ...

    def executemany(self, sql: str, params: list[tuple[object, ...]]) -> None: ...

    def first(self, sql: str, params: Sequence[object] = ()) -> Sequence[Any] | None: ...


class SessionStatements:
    def __init__(self, session: Session):
        self._connection = session.connection()
        self.dialect = self._connection.dialect.name
        self.placeholder = "?" if self.dialect == "sqlite" else "%s"

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self._connection.exec_driver_sql(sql, tuple(params))

    def executemany(self, sql: str, params: list[tuple[object, ...]]) -> None:
        self._connection.exec_driver_sql(sql, params)

    def first(self, sql: str, params: Sequence[object] = ()) -> Sequence[Any] | None:
        return self._connection.exec_driver_sql(sql, tuple(params)).first()


def _insert_many(session: Session, table: Table, rows: list[dict[str, object]]) -> None:
    """Insert many rows with one ``executemany`` of the driver, values converted here once per column kind.

    SQLAlchemy's per-parameter bind processing costs about 70 µs a license row, more than validating and sealing
    the license; this path writes the very values SQLAlchemy's types would (dates and times in its SQLite storage
    formats, JSON as text), so the ORM and Core read them back unchanged. ``tests/test_store_rows.py`` checks the
    round trip.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and len(rows) >= _COPY_FROM:
        # many rows (a batch of licenses): COPY; a few (a group commit, a short batch) cost less as one multi-row
        # INSERT than setting up a COPY
        columns = [c for c in table.columns if c.name in rows[0]]
        _copy_into(
            session.connection(),
            table.name,
            [c.name for c in columns],
            [[row[c.name] for c in columns] for row in rows],
            json_columns={i for i, c in enumerate(columns) if isinstance(c.type, JSON)},
        )
    else:
        insert_rows(SessionStatements(session), table, rows)


def insert_rows(statements: Statements, table: Table, rows: list[dict[str, object]]) -> None:
    """Insert ``rows`` (SQLite or PostgreSQL) with values in the forms SQLAlchemy stores: one ``executemany`` on
    SQLite, whose driver loops in C; on PostgreSQL one multi-row ``INSERT … VALUES (…), (…)`` per
    ``_MULTI_ROW`` rows, which psycopg sends as one statement instead of adapting and queueing one per row."""
    if not rows:
        return
    head, width, values, convert = _insert_plan(statements.dialect, table, tuple(rows[0]))
    params = _params(rows, values, convert)
    if statements.dialect != "postgresql":
        statements.executemany(head + _values_sql(statements.placeholder, width, 1), params)
        return
    for start in range(0, len(params), _MULTI_ROW):
        chunk = params[start : start + _MULTI_ROW]
        sql = head + _values_sql(statements.placeholder, width, len(chunk))
        statements.execute(sql, [v for row in chunk for v in row])


_MULTI_ROW = 1000
"""Rows per multi-row INSERT on PostgreSQL: 1,000 rows of ≤ 16 columns stay far below its 65,535 parameters."""


@functools.lru_cache(maxsize=256)
def _values_sql(placeholder: str, width: int, rows: int) -> str:
    """`` VALUES (…), (…)`` for ``rows`` rows of ``width`` placeholders."""
    if placeholder == "$":
        numbers = iter(range(1, width * rows + 1))
        tuples = ["(" + ", ".join(f"${next(numbers)}" for _ in range(width)) + ")" for _ in range(rows)]
    else:
        tuples = ["(" + ", ".join([placeholder] * width) + ")"] * rows
    return " VALUES " + ", ".join(tuples)


_Plan = tuple[str, int, Callable[[dict[str, object]], tuple[object, ...]], dict[int, Callable[[Any], object]]]


@functools.lru_cache(maxsize=64)
def _insert_plan(dialect: str, table: Table, keys: tuple[str, ...]) -> _Plan:
    """The INSERT's head and width for ``keys`` of ``table``, a getter of their values in column order, and the
    converters."""
    columns = [c for c in table.columns if c.name in keys]
    names = ", ".join(c.name for c in columns)
    getter = operator.itemgetter(*(c.name for c in columns))
    values: Callable[[dict[str, object]], tuple[object, ...]] = (
        getter if len(columns) > 1 else lambda row: (getter(row),)
    )
    if dialect == "sqlite":
        convert = {i: f for i, c in enumerate(columns) if (f := _SQLITE.get(type(c.type).__name__)) is not None}
    else:
        convert = {i: json.dumps for i, c in enumerate(columns) if isinstance(c.type, JSON)}
    return f"INSERT INTO {table.name} ({names})", len(columns), values, convert


def _params(
    rows: list[dict[str, object]],
    values: Callable[[dict[str, object]], tuple[object, ...]],
    convert: dict[int, Callable[[Any], object]],
) -> list[tuple[object, ...]]:
    if not convert:
        return [values(row) for row in rows]
    done: dict[tuple[int, object], object] = {}  # a batch shares its timestamps and dates: convert each once
    params = []
    for row in rows:
        converted = list(values(row))
        for i, f in convert.items():
            v = converted[i]
            if v is not None:
                key = (i, v) if isinstance(v, dt.datetime | dt.date) else None
                if key is None:
                    converted[i] = f(v)
                elif (known := done.get(key)) is not None:
                    converted[i] = known
                else:
                    converted[i] = done[key] = f(v)
        params.append(tuple(converted))
    return params


def _sqlite_datetime(value: object) -> str:
    """SQLAlchemy's SQLite DATETIME text (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), by ``isoformat``: a third of the
    time ``strftime`` took, in every group commit."""
    assert isinstance(value, dt.datetime)
    if value.tzinfo is not None:
        value = (value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _copy_into(
    connection: Connection, table: str, names: list[str], rows: list[list[object]], json_columns: set[int]
) -> None:
    """PostgreSQL: COPY FROM STDIN inside the unit of work's transaction (an INSERT per row costs ~4× as much)."""
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in rows:
            for i in json_columns:
                row[i] = json.dumps(row[i], ensure_ascii=False)
            copy.write_row(row)


_SQLITE: dict[str, Callable[[Any], object]] = {
    "Date": lambda v: v.isoformat(),
    "DateTime": _sqlite_datetime,
    "JSON": lambda v: json.dumps(v, ensure_ascii=False),
    "Boolean": int,
}


def serial_of(license_id: str) -> str:
    return license_id.split(".")[-3]


def _roles(member: Member) -> str:
    return ",".join(sorted(r.value for r in member.roles))


def _member(row: Row[tuple[object, ...]]) -> Member:
    m = row._mapping
    return Member(
        code=m["code"],
        name=m["name"],
        region=m["region"],
        roles=frozenset(Role(r) for r in str(m["roles"]).split(",") if r),
    )


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _row(lic: License) -> dict[str, object]:
    c = lic.content
    return {
        "license_id": c.license_id,
        "serial": serial_of(c.license_id),
        "version": c.version,
        "type_code": c.type_code,
        "issuer_code": c.issuer_code,
        "license_number": c.license_number,
        "holder_name": c.holder.name,
        "holder_code_type": c.holder.code_type,
        "holder_code": c.holder.code,
        "issue_date": c.issue_date,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "region_code": c.region_code,
        "fields": dict(c.fields),
        "status": lic.status.value,
        "status_reason": lic.status_reason,
        "status_changed_at": lic.status_changed_at,
        "created_at": lic.created_at,
        "is_current": lic.status is not LicenseStatus.SUPERSEDED,
        "supersedes": lic.supersedes,
        "superseded_by": lic.superseded_by,
        "seal_algorithm": lic.seal.algorithm,
        "seal_key_id": lic.seal.key_id,
        "seal_encoding": lic.seal.encoding,
        "seal_signature": lic.seal.signature,
        "seal_digest": lic.seal.record_digest,
        "seal_memo": lic.seal_memo,
        "status_memo": lic.status_memo,
    }


_READ = (
    _L.c.license_id,
    _L.c.type_code,
    _L.c.license_number,
    _L.c.holder_name,
    _L.c.holder_code_type,
    _L.c.holder_code,
    _L.c.issuer_code,
    # dates, times and fields read as SQLite stores them, decoded by ``license_from``: a date or a text a DBA left
    # unreadable had failed the read (INTERNAL, a traceback logged at every call) where it is to be RECORD_ALTERED
    type_coerce(_L.c.issue_date, String).label("issue_date"),
    type_coerce(_L.c.valid_from, String).label("valid_from"),
    type_coerce(_L.c.valid_until, String).label("valid_until"),
    _L.c.region_code,
    type_coerce(_L.c.fields, String).label("fields"),
    _L.c.version,
    _L.c.status,
    _L.c.status_reason,
    type_coerce(_L.c.status_changed_at, String).label("status_changed_at"),
    type_coerce(_L.c.created_at, String).label("created_at"),
    _L.c.seal_algorithm,
    _L.c.seal_key_id,
    _L.c.seal_signature,
    _L.c.seal_digest,
    _L.c.seal_encoding,
    _L.c.supersedes,
    _L.c.superseded_by,
    _L.c.seal_memo,
    _L.c.status_memo,
)
"""The columns a ``License`` is read from, in ``license_from``'s order."""


def license_from(values: Sequence[Any]) -> License:
    """A license from the values of the ``_READ`` columns, as SQLAlchemy or a driver reads them (dates, times and
    JSON as text from SQLite, see ``read_license``). Positional: the verification hot path reads a license straight
    from a driver row (a dict of the row cost ~3 µs of a cold check's ~60). A row whose texts, fields or dates are
    not what the gateway writes (a DBA's edit) is read ``unreadable``, with empty texts and the epoch's dates."""
    (
        license_id,
        type_code,
        license_number,
        holder_name,
        holder_code_type,
        holder_code,
        issuer_code,
        issue_date,
        valid_from,
        valid_until,
        region_code,
        fields,
        version,
        status,
        status_reason,
        status_changed_at,
        created_at,
        seal_algorithm,
        seal_key_id,
        seal_signature,
        seal_digest,
        seal_encoding,
        supersedes,
        superseded_by,
        seal_memo,
        status_memo,
    ) = values
    try:
        issue_date, valid_from = _date_of(issue_date), _date_of(valid_from)
        valid_until = _date_of(valid_until) if valid_until is not None else None
        status_changed_at, created_at = _time_of(status_changed_at), _time_of(created_at)
        dates_read = True
    except (TypeError, ValueError):
        issue_date = valid_from = _EPOCH.date()
        valid_until, status_changed_at, created_at, dates_read = None, _EPOCH, _EPOCH, False
    fields = _fields_of(fields)
    texts = (type_code, license_number, holder_name, holder_code_type, holder_code, issuer_code, region_code)
    unreadable = not dates_read or fields is None or not all(type(t) is str for t in (*texts, status_reason))
    if unreadable:
        _say_unreadable(license_id)
        type_code, license_number, holder_name, holder_code_type, holder_code, issuer_code, region_code = (
            "" if t is None else str(t) for t in texts
        )
        status_reason, fields = "" if status_reason is None else str(status_reason), {}
    return License(
        content=LicenseContent(
            license_id=license_id,
            type_code=type_code,
            license_number=license_number,
            holder=Holder(name=holder_name, code_type=holder_code_type, code=holder_code),
            issuer_code=issuer_code,
            issue_date=issue_date,
            valid_from=valid_from,
            valid_until=valid_until,
            region_code=region_code,
            fields=fields,
            version=version,
        ),
        status=_STATUSES.get(status, LicenseStatus.UNSPECIFIED),  # LicenseStatus.read, without a call's cost
        status_reason=status_reason,
        status_changed_at=_utc(status_changed_at),
        created_at=_utc(created_at),
        seal=RecordSeal(
            algorithm=seal_algorithm,
            key_id=seal_key_id,
            signature=bytes(seal_signature),
            record_digest=bytes(seal_digest),
            encoding=seal_encoding,
        ),
        supersedes=supersedes,
        superseded_by=superseded_by,
        seal_memo=bytes(seal_memo),
        status_memo=bytes(status_memo),
        unreadable=unreadable,
    )


_STATUSES = {s.value: s for s in LicenseStatus}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _date_of(stored: object) -> dt.date:
    """A stored date: as PostgreSQL's driver gives it, or SQLite's ISO text; TypeError or ValueError otherwise."""
    if type(stored) is str:
        return dt.date.fromisoformat(stored)
    if type(stored) is not dt.date:
        raise TypeError(f"not a date: {type(stored).__name__}")
    return stored


def _time_of(stored: object) -> dt.datetime:
    """A stored time: as PostgreSQL's driver gives it, or SQLite's ISO text; TypeError or ValueError otherwise."""
    if type(stored) is str:
        return dt.datetime.fromisoformat(stored)
    if type(stored) is not dt.datetime:
        raise TypeError(f"not a time: {type(stored).__name__}")
    return stored


def _fields_of(stored: object) -> dict[str, str] | None:
    """A license's stored fields as the gateway writes them, a JSON map of strings (as text from SQLite, decoded by
    psycopg from PostgreSQL); None for anything else a DBA's edit left: no JSON, no map, a value that is no string."""
    if isinstance(stored, str | bytes):
        try:
            stored = orjson.loads(stored)  # what json.loads gives for what json.dumps stored, faster
        except orjson.JSONDecodeError:
            return None
    if type(stored) is not dict or not all(type(value) is str for value in stored.values()):
        return None
    return stored


_UNREADABLE_SAID: LRUCache[str, bool] = LRUCache(maxsize=4096)
_UNREADABLE_LOCK = threading.Lock()


def _say_unreadable(license_id: object) -> None:
    """One WARNING per license (while this process remembers it) whose row could not be read: every look-up of it
    (a clerk retrying, a watcher) had logged an ERROR with a traceback. Its identifier names it, not its content."""
    with _UNREADABLE_LOCK:
        if _UNREADABLE_SAID.get(str(license_id)):
            return
        _UNREADABLE_SAID[str(license_id)] = True
    log.warning(
        "the stored row of license %s cannot be read (its fields are no JSON map of strings, or a text or date "
        "column holds something else: changed behind the gateway's back): every check of it answers RECORD_ALTERED; "
        "restore the row from a backup, or have its issuer revoke it and issue it again",
        license_id,
    )


_READ_LIST = ", ".join(c.name for c in _READ)
_BY_ID = f"SELECT {_READ_LIST} FROM {_L.name} WHERE license_id = {{0}}"
_RETIRED = (  # "NOT is_current" as the partial index says it, so that SQLite uses the index
    f"SELECT {_READ_LIST} FROM {_L.name} WHERE type_code = {{0}} AND license_number = {{1}} AND NOT is_current "
    "ORDER BY id DESC LIMIT 1"  # the one committed last, which held the number last (``get_by_number``)
)
_CURRENT = (  # "is_current" as the partial index says it: "is_current = ?" made SQLite scan the table
    f"SELECT {_READ_LIST} FROM {_L.name} WHERE type_code = {{0}} AND license_number = {{1}} AND is_current LIMIT 1"
)


def read_license(statements: Statements, license_id: str) -> License | None:
    """``LicenseRepository.get`` on a driver connection: the verification hot path's read (ADR 0004)."""
    return _read_license(statements, _BY_ID, (license_id,))


def read_license_by_number(statements: Statements, type_code: str, license_number: str) -> License | None:
    """``LicenseRepository.get_by_number`` on a driver connection."""
    found = _read_license(statements, _CURRENT, (type_code, license_number))
    return found if found is not None else _read_license(statements, _RETIRED, (type_code, license_number))


def _read_license(statements: Statements, template: str, params: tuple[object, ...]) -> License | None:
    marks = [f"${i}" if statements.placeholder == "$" else statements.placeholder for i in range(1, len(params) + 1)]
    row = statements.first(template.format(*marks), params)
    if row is None:
        return None
    return license_from(row)


def _chunks(items: list[str] | list[tuple[str, str]], size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_S = cast(Table, SealRow.__table__)


class SealRepository:
    def __init__(self, session: Session):
        self._s = session

    def add(self, seal: Seal, request_id: str, at: dt.datetime) -> None:
        self._s.execute(insert(_S).values(**_seal_row(seal), request_id=request_id, created_at=at))

    def get(self, seal_id: str) -> Seal | None:
        row = self._s.execute(select(_S).where(_S.c.seal_id == seal_id)).first()
        return _seal(row) if row else None

    def by_request(self, issuer_code: str, request_id: str) -> Seal | None:
        row = self._s.execute(select(_S).where(_S.c.issuer_code == issuer_code, _S.c.request_id == request_id)).first()
        return _seal(row) if row else None

    def of_issuer(self, issuer_code: str | None) -> list[Seal]:
        query = select(_S).order_by(_S.c.created_at)
        if issuer_code is not None:
            query = query.where(_S.c.issuer_code == issuer_code)
        return [_seal(r) for r in self._s.execute(query).all()]

    def current(self, issuer_code: str, now: dt.datetime, *, except_algorithm: str = "") -> Seal | None:
        """The issuer's newest active seal still within its validity (of another algorithm than the one named)."""
        query = select(_S).where(
            _S.c.issuer_code == issuer_code, _S.c.status == SealStatus.ACTIVE.value, _S.c.valid_until > now
        )
        if except_algorithm:
            query = query.where(_S.c.algorithm != except_algorithm)
        row = self._s.execute(query.order_by(_S.c.created_at.desc()).limit(1)).first()
        return _seal(row) if row else None

    def by_key(self, key_id: str) -> Seal | None:
        row = self._s.execute(select(_S).where(_S.c.key_id == key_id)).first()
        return _seal(row) if row else None

    def lock(self, seal_id: str) -> Seal | None:
        """The seal, read in a writing transaction that is about to revoke it: on PostgreSQL locked (FOR UPDATE), so
        that a transaction storing what it sealed (``held``) commits first or sees the revocation; SQLite's writers
        are serial already."""
        row = self._s.execute(select(_S).where(_S.c.seal_id == seal_id).with_for_update()).first()
        return _seal(row) if row else None

    def held(self, *, key_ids: Collection[str] = (), seal_ids: Collection[str] = ()) -> list[HeldSeal]:
        """The seals of these keys and ids as a writing transaction that stores what they sealed must see them: on
        PostgreSQL locked FOR SHARE until it commits, so that a revocation (``lock``, FOR UPDATE) waits for it and
        takes its time after, or commits first and is seen here; SQLite's writers are serial already. One query,
        however many records a transaction stores (they were sealed by one or two seals)."""
        if not key_ids and not seal_ids:
            return []
        query = (
            select(_S.c.seal_id, _S.c.key_id, _S.c.name, _S.c.status)
            .where(or_(_S.c.key_id.in_(sorted(set(key_ids))), _S.c.seal_id.in_(sorted(set(seal_ids)))))
            .with_for_update(read=True)
        )
        return [
            HeldSeal(seal_id=row.seal_id, key_id=row.key_id, name=row.name, status=SealStatus(row.status))
            for row in self._s.execute(query).all()
        ]

    def by_key_prefix(self, prefix: str) -> Seal | None:
        """The seal whose key id starts with ``prefix`` (hex; a verification code names only the first 8 bytes)."""
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            return None
        row = self._s.execute(select(_S).where(_S.c.key_id.startswith(prefix, autoescape=True)).limit(1)).first()
        return _seal(row) if row else None

    def any(self, *, sm2: bool = False) -> bool:
        """Whether any seal was ever registered (under some seal-maker CA); with ``sm2``, any GB/T 38540 seal
        (made by the SM2 seal maker)."""
        query = select(_S.c.seal_id)
        if sm2:
            query = query.where(_S.c.ses_seal.is_not(None))
        return self._s.execute(query.limit(1)).first() is not None

    def revoked(self) -> list[Seal]:
        return [_seal(r) for r in self._s.execute(select(_S).where(_S.c.status == SealStatus.REVOKED.value)).all()]

    def with_serials(self, serials: Collection[int]) -> list[Seal]:
        """The seals whose certificates have these serial numbers (a serial of no seal's, such as a receipt
        certificate's the seal-maker CA lists, finds none)."""
        if not serials:
            return []
        wanted = sorted({format(serial, "x") for serial in serials})
        return [_seal(r) for r in self._s.execute(select(_S).where(_S.c.certificate_serial.in_(wanted))).all()]

    def revoke(self, seal_id: str, *, at: dt.datetime, reason: str, crl_reason: str) -> None:
        self._s.execute(
            update(_S)
            .where(_S.c.seal_id == seal_id, _S.c.status == SealStatus.ACTIVE.value)
            .values(status=SealStatus.REVOKED.value, revoked_at=at, revocation_reason=reason, crl_reason=crl_reason)
        )


def _seal_row(seal: Seal) -> dict[str, object]:
    return {
        "seal_id": seal.seal_id,
        "issuer_code": seal.issuer_code,
        "name": seal.name,
        "algorithm": seal.algorithm,
        "key_id": seal.key_id,
        "key_ref": seal.key_ref,
        "certificate_der": seal.certificate_der,
        "certificate_serial": format(seal.certificate_serial, "x"),
        "image_png": seal.image_png,
        "valid_from": seal.valid_from,
        "valid_until": seal.valid_until,
        "status": seal.status.value,
        "revoked_at": seal.revoked_at,
        "revocation_reason": seal.revocation_reason,
        "crl_reason": seal.crl_reason,
        "ses_seal": seal.ses_seal,
    }


def _seal(row: Row[tuple[object, ...]]) -> Seal:
    m = row._mapping
    return Seal(
        seal_id=m["seal_id"],
        issuer_code=m["issuer_code"],
        name=m["name"],
        algorithm=m["algorithm"],
        key_id=m["key_id"],
        key_ref=m["key_ref"],
        certificate_der=bytes(m["certificate_der"]),
        certificate_serial=int(m["certificate_serial"], 16),
        image_png=bytes(m["image_png"]),
        valid_from=_utc(m["valid_from"]),
        valid_until=_utc(m["valid_until"]),
        status=SealStatus(m["status"]),
        revoked_at=_utc(m["revoked_at"]) if m["revoked_at"] else None,
        revocation_reason=m["revocation_reason"],
        crl_reason=m["crl_reason"],
        ses_seal=bytes(m["ses_seal"]) if m["ses_seal"] is not None else None,
    )


_D = cast(Table, DocumentRow.__table__)


class DocumentRepository:
    def __init__(self, session: Session):
        self._s = session

    def add_forms(self, forms: dict[str, str]) -> None:
        """Store the printed forms (by their SHA-256) the store does not hold yet."""
        if not forms:
            return
        held = set(self._s.execute(select(_PF.c.sha256).where(_PF.c.sha256.in_(sorted(forms)))).scalars())
        for sha256 in sorted(set(forms) - held):
            self._s.execute(insert(_PF).values(sha256=sha256, form=forms[sha256]))

    def form_of(self, license_id: str) -> tuple[str, str | None, bytes] | None:
        """The SHA-256 of the printed form ``license_id`` was issued to be drawn from, with the form's text (None when
        the store does not hold it) and the gateway's memo of it; None for a license recorded with none (issued with
        its document, or before schema 0033)."""
        found = self._s.execute(
            select(_E.c.form, _E.c.form_memo).where(_E.c.license_id == license_id, _E.c.form != "").limit(1)
        ).first()
        if found is None:
            return None
        sha256, memo = found
        return sha256, self._s.execute(select(_PF.c.form).where(_PF.c.sha256 == sha256)).scalar(), bytes(memo or b"")

    def add(self, document: LicenseDocument) -> None:
        self._s.execute(
            insert(_D).values(
                license_id=document.license_id,
                sha256=document.sha256,
                pdf=document.pdf,
                source=document.source.value,
                seal_id=document.seal_id,
                created_at=document.created_at,
                memo=document.memo,
                printed=json.dumps(sorted(document.printed)) if document.printed is not None else "",
            )
        )

    def without_memo(self, *, after: str, limit: int) -> list[LicenseDocument]:
        """Documents stored before migration 0021 (no memo), by license identifier, without their PDFs."""
        rows = self._s.execute(
            select(_D.c.license_id, _D.c.sha256, _D.c.source, _D.c.seal_id, _D.c.created_at)
            .where(func.length(_D.c.memo) == 0, _D.c.license_id > after)
            .order_by(_D.c.license_id)
            .limit(limit)
        ).all()
        return [
            LicenseDocument(
                license_id=r[0], pdf=b"", sha256=r[1], source=DocumentSource(r[2]), seal_id=r[3], created_at=_utc(r[4])
            )
            for r in rows
        ]

    def set_memos(self, memos: Sequence[tuple[str, bytes]]) -> None:
        """(license identifier, memo) of documents that have none."""
        for license_id, memo in memos:
            self._s.execute(
                update(_D).where(_D.c.license_id == license_id, func.length(_D.c.memo) == 0).values(memo=memo)
            )

    def get(self, license_id: str) -> LicenseDocument | None:
        row = self._s.execute(select(_D).where(_D.c.license_id == license_id)).first()
        return _document(row) if row else None

    def row_of(self, license_id: str) -> LicenseDocument | None:
        """The license's document without its PDF (``pdf`` empty): which seal sealed it when, and its memo."""
        row = self._s.execute(
            select(*(column for column in _D.c if column.name != "pdf")).where(_D.c.license_id == license_id)
        ).first()
        return _document(row, pdf=b"") if row else None

    def by_sha256(self, sha256: str) -> LicenseDocument | None:
        row = self._s.execute(select(_D).where(_D.c.sha256 == sha256).limit(1)).first()
        return _document(row) if row else None

    def sha256_of(self, license_id: str) -> str:
        """The hex SHA-256 of the license's document, without reading its PDF; empty when it has none."""
        found = self._s.execute(select(_D.c.sha256).where(_D.c.license_id == license_id)).scalar()
        return found or ""

    def sha256_of_many(self, license_ids: Sequence[str]) -> dict[str, str]:
        """``sha256_of`` for several licenses in one read: those with a document, by identifier."""
        found: dict[str, str] = {}
        for chunk in _chunks(list(set(license_ids)), 500):
            rows = self._s.execute(select(_D.c.license_id, _D.c.sha256).where(_in(self._s, _D.c.license_id, chunk)))
            found.update((license_id, sha256) for license_id, sha256 in rows.all())
        return found


def _document(row: Row[tuple[object, ...]], *, pdf: bytes | None = None) -> LicenseDocument:
    m = row._mapping
    return LicenseDocument(
        license_id=m["license_id"],
        pdf=bytes(m["pdf"]) if pdf is None else pdf,
        sha256=m["sha256"],
        source=DocumentSource(m["source"]),
        seal_id=m["seal_id"],
        created_at=_utc(m["created_at"]),
        memo=bytes(m["memo"]),
        printed=_printed(m.get("printed")),
    )


def _printed(stored: object) -> frozenset[str] | None:
    """The keys a stored document prints (``license_documents.printed``, a JSON list): None when not known (a
    supplied document, one stored before schema 0034), or when the value is not a list of keys, which the document's
    memo then does not vouch for (REGISTRY_ALTERED; one that did not parse had failed INTERNAL)."""
    if not stored or not isinstance(stored, str):
        return None
    try:
        keys = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        return None
    return frozenset(keys)


_R = cast(Table, ReceiptRow.__table__)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredReceipt:
    receipt_id: str
    statement: bytes
    signature: bytes
    algorithm: str
    caller: str
    matter_code: str
    license_id: str
    created_at: dt.datetime
    bundle_code: str = ""
    case_id: str = ""
    proof: bytes = b""
    seq: int | None = None
    """Its place in the order receipts were committed (``ReceiptRow.seq``); None for those stored before 0035."""


CasePlace = int | tuple[dt.datetime, str]
"""Where a page of a case's receipts ended: the last one's ``seq``, or the time and id of one stored before 0035."""


def add_receipts(statements: Statements, receipts: Sequence[StoredReceipt]) -> None:
    insert_rows(
        statements,
        _R,
        [
            {
                "receipt_id": r.receipt_id,
                "statement": r.statement,
                "signature": r.signature,
                "proof": r.proof,
                "algorithm": r.algorithm,
                "caller": r.caller,
                "matter_code": r.matter_code,
                "license_id": r.license_id,
                "created_at": r.created_at,
                "bundle_code": r.bundle_code,
                "case_id": r.case_id,
                "seq": r.seq,
            }
            for r in receipts
        ],
    )


class ReceiptRepository:
    def __init__(self, session: Session):
        self._s = session

    def add(self, receipts: Sequence[StoredReceipt]) -> None:
        if receipts:
            add_receipts(SessionStatements(self._s), receipts)

    def get(self, receipt_id: str) -> StoredReceipt | None:
        row = self._s.execute(select(_R).where(_R.c.receipt_id == receipt_id)).first()
        return _receipt(row) if row else None

    def newest_at(self) -> dt.datetime | None:
        """When the newest stored receipt was issued (by the clock of the process that made it), None for none: a
        rotation of the receipt key (`zzgw init`) dates the old key's revocation after it."""
        at = self._s.execute(select(func.max(_R.c.created_at))).scalar()
        return _utc(at) if at is not None else None

    def of_case(
        self,
        bundle_code: str,
        case_id: str,
        limit: int = 200,
        after: CasePlace | None = None,
        *,
        type_codes: Collection[str] | None = None,
    ) -> list[StoredReceipt]:
        """A case's receipts in the order they were committed, from just after ``after`` (the previous page's last:
        its ``seq``, or the time and id of one stored before schema 0035, which are listed first, by time, as they
        were before); with ``type_codes``, only those of licenses of these types (the type is the identifier's sixth
        part) and those naming no license (a claim's that found none: its type is in its statement)."""
        query = select(_R).where(_R.c.bundle_code == bundle_code, _R.c.case_id == case_id)
        if type_codes is not None:
            prefixes = [f"{LICENSE_ID_ROOT}.{code}." for code in sorted(type_codes)]
            named = (_R.c.license_id.startswith(p, autoescape=True) for p in prefixes)
            query = query.where(or_(_R.c.license_id == "", *named))
        if isinstance(after, int):
            query = query.where(_R.c.seq > after)
        elif after is not None:
            at, receipt_id = _as_utc(after[0]), after[1]
            older = or_(_R.c.created_at > at, and_(_R.c.created_at == at, _R.c.receipt_id > receipt_id))
            query = query.where(or_(_R.c.seq.is_not(None), older))
        order = (_R.c.seq.nulls_first(), _R.c.created_at, _R.c.receipt_id)
        rows = self._s.execute(query.order_by(*order).limit(limit)).all()
        return [_receipt(r) for r in rows]

    def bundle_codes(self) -> list[str]:
        """Each bundle code that stored case receipts name, one seek of the case index each (a loose scan), so a store
        of millions answers at once."""
        codes: list[str] = []
        code: str | None = ""
        while code := self._s.execute(select(func.min(_R.c.bundle_code)).where(_R.c.bundle_code > code)).scalar():
            codes.append(code)
        return codes

    def count_of_bundle(self, bundle_code: str) -> tuple[int, int]:
        """How many case receipts name ``bundle_code``, and in how many cases."""
        receipts, cases = self._s.execute(
            select(func.count(), func.count(func.distinct(_R.c.case_id))).where(_R.c.bundle_code == bundle_code)
        ).one()
        return int(receipts), int(cases)


def _receipt(row: Row[tuple[object, ...]]) -> StoredReceipt:
    m = row._mapping
    return StoredReceipt(
        receipt_id=m["receipt_id"],
        statement=bytes(m["statement"]),
        signature=bytes(m["signature"]),
        proof=bytes(m["proof"]),
        algorithm=m["algorithm"],
        caller=m["caller"],
        matter_code=m["matter_code"],
        license_id=m["license_id"],
        created_at=_utc(m["created_at"]),
        bundle_code=m["bundle_code"],
        case_id=m["case_id"],
        seq=m["seq"],
    )


_A = cast(Table, AccessRecordRow.__table__)
_C = cast(Table, AuditCheckpointRow.__table__)
_AS = cast(Table, AccessRecordSubjectRow.__table__)


_H = cast(Table, AuditHeadRow.__table__)
_HEADS_SQL = (
    "SELECT a.seq, a.hash, h.seq, h.hash, h.memo FROM (SELECT 1 AS one) AS o "
    f"LEFT JOIN (SELECT seq, hash FROM {_A.name} ORDER BY seq DESC LIMIT 1) AS a ON 1 = 1 "
    f"LEFT JOIN {_H.name} AS h ON h.id = 1"
)
_HEAD_MEMO_SQL = f"SELECT seq, hash, memo FROM {_H.name} WHERE id = 1"
_START_MEMO_SQL = f"SELECT seq, hash, memo FROM {_H.name} WHERE id = 2"
"""The start memo (``HeadMemos.start``) shares the head memo's table: row 2."""


UNREADABLE_MEMO = b"\x00unreadable"
"""The memo of a head or start row one of whose cells is not of its kind (``audit_memo``): not empty (an empty memo
is an upgrade's row, trusted once), and no HMAC the gateway makes, so the row reads as a memo not the gateway's."""


def audit_blob(value: object) -> bytes:
    """A hash, signature or memo cell of the audit tables as bytes; one of another kind (on SQLite any column takes
    any value: ``UPDATE access_records SET hash = 'x'``) as the empty value, which no hash or signature is, so that
    its record does not hash (``HASH_MISMATCH``, ``PREV_MISMATCH`` at its number), its checkpoint's signature does
    not verify, and its memo does not vouch. ``bytes()`` of it had raised, and every append and check with it:
    every recorded call ``INTERNAL``, `zzgw audit verify` a traceback (a reviewer, audittrail R2)."""
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else b""


def audit_text(value: object) -> str:
    """A text cell of the audit tables (a caller, a purpose, a co-subject's code ...); one of another kind (SQLite:
    ``UPDATE access_records SET purpose = X'ff'``) as a text no record holds (``�`` and the kind), so that its record
    does not hash (``HASH_MISMATCH`` at its number) and sorts among the others. Passed through as it was, it had made
    the check, the listing of the holder's records and `zzgw audit verify` fail (INTERNAL, a traceback: a review of
    the fix, fixrevaudit R2)."""
    return value if isinstance(value, str) else f"\ufffd{type(value).__name__}"


def audit_number(value: object) -> int | None:
    """A record number cell of the audit tables, None for one that is no integer (SQLite: ``seq = 'x'``)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def audit_memo(seq: object, digest: object, memo: object) -> HeadMemo:
    """A head or start memo's row as read; a cell not of its kind makes it a memo not the gateway's
    (``UNREADABLE_MEMO``), found as an edited one is (``HEAD_MEMO_INVALID``, ``START_MEMO_INVALID``), never a
    failed read."""
    number, hashed, memoed = audit_number(seq), audit_blob(digest), audit_blob(memo)
    if (
        number is None
        or not isinstance(digest, bytes | bytearray | memoryview)
        or (not isinstance(memo, bytes | bytearray | memoryview))
    ):
        return HeadMemo(seq=number if number is not None else 0, hash=hashed, memo=UNREADABLE_MEMO)
    return HeadMemo(seq=number, hash=hashed, memo=memoed)


def audit_heads(statements: Statements) -> tuple[tuple[int, bytes] | None, HeadMemo | None]:
    """(number, hash) of the newest access record (None when there is none) and the head memo (None when there is
    no row), in one statement: one round trip. Cells not of their kind are read as ``audit_blob`` and ``audit_memo``
    read them (the record's number is its table's key, an integer on SQLite too)."""
    row = statements.first(_HEADS_SQL)
    assert row is not None
    newest = (int(row[0]), audit_blob(row[1])) if row[0] is not None else None
    memo = audit_memo(row[2], row[3], row[4]) if row[2] is not None or row[4] is not None else None
    return newest, memo


def _marks(placeholder: str, count: int) -> list[str]:
    """``count`` parameter marks of a driver statement: ``$1``, ``$2`` (psycopg's raw cursor) or ``?``/``%s``."""
    return [f"${n}" for n in range(1, count + 1)] if placeholder == "$" else [placeholder] * count


def audit_newest_before(statements: Statements, seq: int) -> tuple[int, bytes] | None:
    """(number, hash) of the newest access record numbered below ``seq``, None when there is none."""
    (mark,) = _marks(statements.placeholder, 1)
    row = statements.first(f"SELECT seq, hash FROM {_A.name} WHERE seq < {mark} ORDER BY seq DESC LIMIT 1", (seq,))
    return (int(row[0]), audit_blob(row[1])) if row else None


def audit_first_after(statements: Statements, seq: int) -> int | None:
    """The number of the first access record after ``seq``, None when there is none."""
    (mark,) = _marks(statements.placeholder, 1)
    row = statements.first(f"SELECT seq FROM {_A.name} WHERE seq > {mark} ORDER BY seq LIMIT 1", (seq,))
    return int(row[0]) if row else None


def audit_break_at(statements: Statements, purpose: str, *, before: int) -> tuple[int, bytes] | None:
    """(number, hash) of the newest ``AUDIT_BREAK`` record of records added after the chain's end
    (``UNVOUCHED_RECORDS``) whose numbers are ``purpose`` (``first-last``), numbered below ``before``; None when
    there is none. No index serves it: asked only while records past any number the chain reaches are there
    (``AuditTrail.append``), once a process."""
    action, reason, said, below = _marks(statements.placeholder, 4)
    row = statements.first(
        f"SELECT seq, hash FROM {_A.name} WHERE action = {action} AND reason = {reason} AND purpose = {said} "
        f"AND seq < {below} ORDER BY seq DESC LIMIT 1",
        ("AUDIT_BREAK", "UNVOUCHED_RECORDS", purpose, before),
    )
    return (int(row[0]), audit_blob(row[1])) if row else None


def _exists_any(*tables: str) -> str:
    return "SELECT 1 WHERE " + " OR ".join(f"EXISTS (SELECT 1 FROM {table})" for table in tables)


PRUNED_WITNESS = "audit-witness"
"""The store fact (``gateway_facts``) that the store has had an audit trail (``audit_witnessed``): written by the
store's first append ever (``note_audit_witness``; migration 0042 for a store that had records before), and with the
first removal of consents or access requests past their retention (``delete_ended``), each written with an access
record. Without it, the trail of a store whose only witnesses were consents, deleted after a prune, read as a new
store's (ADR 0010); and so did that of a store whose calls leave no receipt, consent or request (seal calls,
listings, reads of unconditional data), its records, checkpoints and head row deleted (a reviewer, audittrail R3)."""
AUDIT_WITNESS = PRUNED_WITNESS


def note_audit_witness(statements: Statements) -> None:
    """Record that the store has an audit trail (``AUDIT_WITNESS``), in the transaction of its first append: once,
    as a fact already there is kept."""
    statements.execute(_note_witness_sql(statements.placeholder), (AUDIT_WITNESS, "the store's first access record"))


@functools.lru_cache(maxsize=4)
def _note_witness_sql(placeholder: str) -> str:
    return (
        f"INSERT INTO {GatewayFactRow.__tablename__} (name, value)"
        + _values_sql(placeholder, 2, 1)
        + " ON CONFLICT (name) DO NOTHING"
    )


_PRUNED = f"{GatewayFactRow.__tablename__} WHERE name = '{PRUNED_WITNESS}'"
_WITNESSES_SQL = _exists_any("receipts", _C.name, f"{_H.name} WHERE id = 2", _PRUNED)
"""Whether the store holds a receipt (each is written with an access record, after it in its transaction), what
only a chain leaves (a checkpoint, the start memo of a pruned one), or the fact a prune of consents leaves."""
_ALL_WITNESSES_SQL = _exists_any("receipts", "consents", "access_requests", _C.name, f"{_H.name} WHERE id = 2", _PRUNED)
"""As ``_WITNESSES_SQL``, with consents and access requests: written with an access record too, but before it in
their transaction, so witnesses only of what was committed (a check's, not an append's)."""


def audit_witnessed(
    statements: Statements, *, committed: bool = False, consents_here: int = 0, requests_here: int = 0
) -> bool:
    """Whether the store has had an audit trail: one with no record and no head memo then had its trail deleted,
    not a new store's empty one. ``committed``: asked outside a writing transaction (``_ALL_WITNESSES_SQL``); else
    in an append's, where ``consents_here`` and ``requests_here`` of the consents and access requests are its own
    (a grant's or a request's, written before its record): more than those witness a trail (a reviewer)."""
    if statements.first(_ALL_WITNESSES_SQL if committed else _WITNESSES_SQL) is not None:
        return True
    if committed:
        return False
    counted = statements.first(
        f"SELECT (SELECT count(*) FROM (SELECT 1 FROM consents LIMIT {int(consents_here) + 1}) AS c), "
        f"(SELECT count(*) FROM (SELECT 1 FROM access_requests LIMIT {int(requests_here) + 1}) AS r)"
    )
    assert counted is not None
    return int(counted[0]) > consents_here or int(counted[1]) > requests_here


def audit_start_memo(statements: Statements) -> HeadMemo | None:
    """The start memo (row 2 of the head memo's table), None when there is none."""
    row = statements.first(_START_MEMO_SQL)
    return audit_memo(row[0], row[1], row[2]) if row else None


def set_head_memo(statements: Statements, memo: HeadMemo) -> None:
    """Write the head memo's one row (made when there is none)."""
    statements.execute(_set_head_memo_sql(statements.placeholder), (1, memo.seq, memo.hash, memo.memo))


@functools.lru_cache(maxsize=4)
def _set_head_memo_sql(placeholder: str) -> str:
    return (
        f"INSERT INTO {_H.name} (id, seq, hash, memo)"
        + _values_sql(placeholder, 4, 1)
        + " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, memo = excluded.memo"
    )


def add_access_records(statements: Statements, records: Sequence[AccessRecord]) -> None:
    """The records, then the co-subjects they name (``AuditEntry.subjects``), in the caller's transaction: no
    statement more for a group whose records name none."""
    rows = [_access_row(r) for r in records]
    # a seal call's records with the columns of schema 0038, a refusal of a guardian's consent with that of schema
    # 0043, the others without them (their defaults): one statement for a group of each shape of row (``_OPTIONAL``)
    shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for row in rows:
        shapes.setdefault(tuple(key for key in _OPTIONAL if key in row), []).append(row)
    for shaped in shapes.values():
        insert_rows(statements, _A, shaped)
    subjects = [(code, r.seq) for r in records for code in r.entry.subjects]
    if not subjects:
        return
    # a row left by a record deleted behind the gateway's back, whose number an append uses again (its head memo
    # deleted too, ADR 0010), must not fail the append: the record reads with it, a HASH_MISMATCH that check reports
    sql = f"INSERT INTO {_AS.name} (subject_code, seq)"
    if statements.dialect != "postgresql":
        statements.executemany(sql + _values_sql(statements.placeholder, 2, 1) + _KEEP_FIRST, list(subjects))
        return
    for start in range(0, len(subjects), _MULTI_ROW):
        chunk = subjects[start : start + _MULTI_ROW]
        values = _values_sql(statements.placeholder, 2, len(chunk))
        statements.execute(sql + values + _KEEP_FIRST, [v for row in chunk for v in row])


_KEEP_FIRST = " ON CONFLICT DO NOTHING"


def add_checkpoint(statements: Statements, checkpoint: Checkpoint) -> None:
    insert_rows(
        statements,
        _C,
        [
            {
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "signature": checkpoint.signature,
                "algorithm": checkpoint.algorithm,
                "key_id": checkpoint.key_id,
                "at": checkpoint.at,
            }
        ],
    )


class AuditRepository:
    def __init__(self, session: Session):
        self._s = session

    def heads(self) -> tuple[tuple[int, bytes] | None, HeadMemo | None]:
        """The newest record's (number, hash) and the head memo (``audit_heads``)."""
        return audit_heads(SessionStatements(self._s))

    def newest_before(self, seq: int) -> tuple[int, bytes] | None:
        return audit_newest_before(SessionStatements(self._s), seq)

    def first_after(self, seq: int) -> int | None:
        return audit_first_after(SessionStatements(self._s), seq)

    def break_at(self, purpose: str, *, before: int) -> tuple[int, bytes] | None:
        return audit_break_at(SessionStatements(self._s), purpose, before=before)

    def witnessed(self, *, committed: bool = False, consents_here: int = 0, requests_here: int = 0) -> bool:
        return audit_witnessed(
            SessionStatements(self._s), committed=committed, consents_here=consents_here, requests_here=requests_here
        )

    def note_witness(self) -> None:
        note_audit_witness(SessionStatements(self._s))

    def newest_checkpoint_at(self) -> dt.datetime | None:
        """When the newest audit checkpoint was signed (by the clock of the process that signed it), None for none."""
        at = self._s.execute(select(type_coerce(_C.c.at, String)).order_by(_C.c.seq.desc()).limit(1)).scalar()
        return _record_time(at) if at is not None else None

    def head_memo(self) -> HeadMemo | None:
        row = SessionStatements(self._s).first(_HEAD_MEMO_SQL)
        return audit_memo(row[0], row[1], row[2]) if row else None

    def set_head_memo(self, memo: HeadMemo) -> None:
        set_head_memo(SessionStatements(self._s), memo)

    def start_memo(self) -> HeadMemo | None:
        return audit_start_memo(SessionStatements(self._s))

    def set_start_memo(self, memo: HeadMemo) -> None:
        statements = SessionStatements(self._s)
        statements.execute(_set_head_memo_sql(statements.placeholder), (2, memo.seq, memo.hash, memo.memo))

    def older_run_end(self, cutoff: dt.datetime, *, after: int, through: int | None = None) -> int | None:
        """The last of the records after record ``after`` that are all older than ``cutoff`` by their own (chained)
        time: the record before the first one after ``after`` that is not, else the newest; None when there is none
        (the record after ``after`` is not older, or there is no record after it). Where a prune cuts
        (``AuditTrail.prune``): it reads the records from ``after`` up to the first one not older, in number order.
        Records after ``through`` (the head memo's) are left out."""
        young = self._s.execute(
            select(_A.c.seq).where(_A.c.seq > after, _A.c.at >= _as_utc(cutoff)).order_by(_A.c.seq).limit(1)
        ).scalar()
        query = select(func.max(_A.c.seq)).where(_A.c.seq > after)
        if through is not None:
            query = query.where(_A.c.seq <= through)
        if young is not None:
            query = query.where(_A.c.seq < young)
        found = self._s.execute(query).scalar()
        return int(found) if found is not None else None

    def hash_at(self, seq: int) -> bytes | None:
        """The hash of access record ``seq``, None when there is none."""
        found = self._s.execute(select(_A.c.hash).where(_A.c.seq == seq)).scalar()
        return audit_blob(found) if found is not None else None

    def subjects_ahead(self) -> int | None:
        """The lowest record number of a co-subject row past the newest record, None when there is none: read in one
        statement, as a record commits with its rows, so a row past it names no record: planted, for a stranger's log
        to list the next record written (an auditor)."""
        found = self._s.execute(
            select(func.min(_AS.c.seq)).where(
                _AS.c.seq > select(func.coalesce(func.max(_A.c.seq), 0)).scalar_subquery()
            )
        ).scalar()
        if found is None:
            return None
        if (number := audit_number(found)) is not None:
            return number
        # numbered by no integer (SQLite: ``seq = 'x'``, which sorts after every number): it names no record, and is
        # reported one past the newest, where it sorts
        newest = self._s.execute(select(func.coalesce(func.max(_A.c.seq), 0))).scalar()
        return int(newest or 0) + 1

    def first(self) -> AccessRecord | None:
        row = self._s.execute(select(*_A_READ).order_by(_A.c.seq).limit(1)).first()
        return self._named(_AS.c.seq == int(row._mapping["seq"]), [row])[0] if row else None

    def add(self, records: Sequence[AccessRecord]) -> None:
        if records:
            add_access_records(SessionStatements(self._s), records)

    def page(self, after_seq: int, limit: int) -> list[AccessRecord]:
        """Records after ``after_seq`` in order, with the co-subjects they name: read for the page at once, by the
        range of its numbers (the chain's check reads them so, not a query per record)."""
        rows = self._s.execute(select(*_A_READ).where(_A.c.seq > after_seq).order_by(_A.c.seq).limit(limit)).all()
        if not rows:
            return []
        return self._named(_AS.c.seq.between(after_seq + 1, int(rows[-1]._mapping["seq"])), rows)

    def _named(self, which: ColumnElement[bool], rows: Sequence[Row[tuple[object, ...]]]) -> list[AccessRecord]:
        """The records of ``rows`` with the co-subjects that the subject rows ``which`` selects name."""
        named: dict[int, list[str]] = {}
        for code, seq in self._s.execute(select(_AS.c.subject_code, _AS.c.seq).where(which)).all():
            if (number := audit_number(seq)) is not None:  # a row numbered by no integer names no record
                named.setdefault(number, []).append(audit_text(code))
        return [_access_record(r, named.get(int(r._mapping["seq"]), ())) for r in rows]

    def _listed(self, rows: Sequence[Row[tuple[object, ...]]]) -> list[AccessRecord]:
        """The records of a listing (at most ``MAX_LIST``, anywhere in the chain), with their co-subjects, which are
        read by the records' numbers."""
        if not rows:
            return []
        seqs = [int(r._mapping["seq"]) for r in rows]
        return self._named(_AS.c.seq.in_(seqs), rows)

    def of(
        self,
        *,
        holder_code: str | None = None,
        issuer_code: str | None = None,
        reasons: Sequence[str] | None = None,
        before_seq: int | None,
        limit: int,
        omit: tuple[str, Collection[str]] | None = None,
    ) -> list[AccessRecord]:
        """Newest first: the records about one holder's or one issuer's licenses, or those of some reasons; with
        ``omit`` (a caller and actions), without the records of those actions by that caller (``about``)."""
        query = select(*_A_READ).order_by(_A.c.seq.desc()).limit(limit)
        if omit is not None:
            query = query.where(_not_by(*omit))
        if holder_code is not None:
            query = query.where(_A.c.holder_code == holder_code)
        if issuer_code is not None and holder_code is not None:  # by the holder's index, the issuer's a filter:
            query = query.where(_A.c.issuer_code.concat("") == issuer_code)  # not a walk of the issuer's whole log
        elif issuer_code is not None:
            query = query.where(_A.c.issuer_code == issuer_code)
        if reasons is not None:
            query = query.where(_A.c.reason.in_(reasons))
        if before_seq is not None:
            query = query.where(_A.c.seq < before_seq)
        return self._listed(self._s.execute(query).all())

    def about(
        self,
        person: str,
        *,
        code_types: Collection[str] | None = None,
        issuer_code: str | None = None,
        before_seq: int | None,
        limit: int,
        omit: tuple[str, Collection[str]] | None = None,
    ) -> list[AccessRecord]:
        """Newest first: the records about the licenses ``person`` holds (under one of ``code_types`` when given) or
        is a co-subject of (``AuditEntry.subjects``); with ``issuer_code``, only those of that issuer's licenses; with
        ``omit`` (a caller and some actions), without the records of those actions by that caller (a holder portal's
        own listings of the log it shows: ``ListAccessRecordsRequest.omit_own_listings``), a filter on each row
        found, as the issuer is.

        A record keeps its holder's code, not its code type: with ``code_types``, a record of a license stored
        under another type (a 出生医学证明 registered under 其他 with a parent's 公民身份号码, before issuance refused
        that) is left out, by its license's row, looked up by identifier for each record found (the unique key; as ``NOT
        EXISTS`` PostgreSQL hashes a scan of the licenses). A record naming no license stored here (a listing, a grant
        by license type, a claim that found none) is the code's.

        Each part is an index range read newest first and cut at ``limit`` (the holder's by
        ``ix_access_records_holder``, the co-subject's by the key of ``access_record_subjects``), and the page is the
        newest ``limit`` of both: no walk of an issuer's whole log, nor of the trail (``tests/test_query_plans.py``
        reads the plans)."""
        held = select(_A.c.seq.label("seq")).where(_A.c.holder_code == person)
        if code_types is not None:
            kinds = sorted(code_types)
            held = held.where(  # a scalar look-up by the unique key per record, never a scan of the licenses
                func.coalesce(
                    select(_L.c.holder_code_type).where(_L.c.license_id == _A.c.license_id).scalar_subquery(), kinds[0]
                ).in_(kinds)
            )
            if self._s.get_bind().dialect.name == "postgresql":
                # the planner gives the look-up's IN 0.5% of the rows, which costs a page over jit_above_cost: 10 ms
                # of compiling for 0.5 ms of work (a reviewer); this transaction only
                self._s.execute(text("SET LOCAL jit = off"))
        named = select(_AS.c.seq.label("seq")).where(_AS.c.subject_code == person)
        if issuer_code is not None or omit is not None:
            named = named.join_from(_AS, _A, _A.c.seq == _AS.c.seq)
        if issuer_code is not None:
            # the issuer a filter on each row found, not an index to walk (``|| ''`` is no indexed expression)
            held = held.where(_A.c.issuer_code.concat("") == issuer_code)
            named = named.where(_A.c.issuer_code.concat("") == issuer_code)
        if omit is not None:  # neither caller nor action has an index: a filter on each row found
            held = held.where(_not_by(*omit))
            named = named.where(_not_by(*omit))
        if before_seq is not None:
            held = held.where(_A.c.seq < before_seq)
            named = named.where(_AS.c.seq < before_seq)
        newest = [part.order_by(part.selected_columns.seq.desc()).limit(limit).subquery() for part in (held, named)]
        both = select(newest[0].c.seq).union(select(newest[1].c.seq)).subquery()
        query = (
            select(*_A_READ).select_from(both.join(_A, _A.c.seq == both.c.seq)).order_by(both.c.seq.desc()).limit(limit)
        )
        return self._listed(self._s.execute(query).all())

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        add_checkpoint(SessionStatements(self._s), checkpoint)

    def checkpoints(self) -> list[Checkpoint]:
        """The signed checkpoints; cells not of their kind (SQLite) read as ``audit_blob`` reads them, and a time that
        is none as ``_record_time`` reads it: such a checkpoint does not verify (``CHECKPOINT_SIGNATURE_INVALID``), its
        read had failed the check (a reviewer, audittrail R2)."""
        columns = [*(c for c in _C.c if c.name != "at"), type_coerce(_C.c.at, String).label("at")]
        rows = self._s.execute(select(*columns).order_by(_C.c.seq)).all()
        return [
            Checkpoint(
                seq=int(m["seq"]),
                hash=audit_blob(m["hash"]),
                signature=audit_blob(m["signature"]),
                algorithm=m["algorithm"] if isinstance(m["algorithm"], str) else "",
                key_id=m["key_id"] if isinstance(m["key_id"], str) else "",
                at=_record_time(m["at"]),
            )
            for m in (r._mapping for r in rows)
        ]

    def delete_through(self, seq: int, *, after: int = 0) -> int:
        """Remove records numbered ``after`` + 1 to ``seq`` (retention, a step of a prune: the chain begins after
        ``after``), with the co-subjects they name; returns how many. The range bounded below, each step reads only
        its own rows' keys (on PostgreSQL, the index entries of the steps before are dead until a vacuum)."""
        records = and_(_A.c.seq > after, _A.c.seq <= seq)
        count = self._s.execute(select(func.count()).select_from(_A).where(records)).scalar_one()
        self._s.execute(_A.delete().where(records))
        self._s.execute(_AS.delete().where(_AS.c.seq > after, _AS.c.seq <= seq))
        return int(count)


def _not_by(caller: str, actions: Collection[str]) -> ColumnElement[bool]:
    """Not a record of one of ``actions`` by ``caller``."""
    return or_(_A.c.caller != caller, _A.c.action.not_in(sorted(actions)))


_SEAL_COLUMNS = ("seal_id", "document_sha256", "result_sha256")
"""What a record of a seal's use names besides (``AuditEntry.seal_id`` …; schema 0038): written only when it names a
seal, so a record naming none is the row it was before."""
_OPTIONAL = (*_SEAL_COLUMNS, "by_guardian")
"""The columns a row is written with only when set (``_access_row``)."""


def _access_row(record: AccessRecord) -> dict[str, object]:
    entry = record.entry
    seal = (entry.seal_id, entry.document_sha256, entry.result_sha256)
    return {
        "seq": record.seq,
        "at": entry.at,
        "caller": entry.caller,
        "operator": entry.operator,
        "action": entry.action.value,
        "matter_code": entry.matter_code,
        "purpose": entry.purpose,
        "license_id": entry.license_id,
        "issuer_code": entry.issuer_code,
        "holder_code": entry.holder_code,
        "decision": entry.decision,
        "reason": entry.reason,
        "receipt_id": entry.receipt_id,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        **(dict(zip(_SEAL_COLUMNS, seal, strict=True)) if any(seal) else {}),
        **({"by_guardian": True} if entry.by_guardian else {}),
    }


def _access_record(row: Row[tuple[object, ...]], subjects: Iterable[str] = ()) -> AccessRecord:
    m = row._mapping
    return AccessRecord(
        seq=int(m["seq"]),
        entry=AuditEntry(  # each text as ``audit_text`` reads it: SQLite takes any value in any column
            at=_record_time(m["at"]),
            caller=audit_text(m["caller"]),
            operator=audit_text(m["operator"]),
            action=AuditAction.read(audit_text(m["action"])),
            matter_code=audit_text(m["matter_code"]),
            purpose=audit_text(m["purpose"]),
            license_id=audit_text(m["license_id"]),
            issuer_code=audit_text(m["issuer_code"]),
            holder_code=audit_text(m["holder_code"]),
            decision=audit_text(m["decision"]),
            reason=audit_text(m["reason"]),
            receipt_id=audit_text(m["receipt_id"]),
            seal_id=audit_text(m["seal_id"]),
            document_sha256=audit_text(m["document_sha256"]),
            result_sha256=audit_text(m["result_sha256"]),
            by_guardian=m["by_guardian"] is True or m["by_guardian"] == 1,
            subjects=tuple(subjects),
        ),
        prev_hash=audit_blob(m["prev_hash"]),
        hash=audit_blob(m["hash"]),
    )


_A_READ = [*(c for c in _A.c if c.name != "at"), type_coerce(_A.c.at, String).label("at")]
"""An access record's columns, its time as the text SQLite holds (parsed by ``_record_time``): a time edited into
something that is none made the whole read fail, and every listing and check of the trail with it."""
_UNREADABLE_TIME = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def _record_time(value: object) -> dt.datetime:
    """A record's time as stored; for one edited into something that is no time, a time no record has, so that its
    hash does not match (HASH_MISMATCH at that record) instead of the read failing."""
    if isinstance(value, dt.datetime):
        return _utc(value)
    try:
        return _utc(dt.datetime.fromisoformat(str(value)))
    except ValueError:
        return _UNREADABLE_TIME


_Q = cast(Table, AccessRequestRow.__table__)
_CS = cast(Table, ConsentRow.__table__)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredAccessRequest:
    """A consumer's request for conditional data, as stored; ``state`` is PENDING, APPROVED, REJECTED, EXPIRED,
    WITHDRAWN (an approval its issuer withdrew) or CANCELLED (taken back pending by its requester)."""

    request_id: str
    requester: str
    issuer_code: str
    type_code: str
    license_id: str
    """Empty when the request is for every license of the type from the issuer."""
    matter_code: str
    purpose: str
    fields: tuple[str, ...]
    duration_days: int
    state: str
    submitted_at: dt.datetime
    deadline: dt.datetime
    decided_at: dt.datetime | None = None
    approved_fields: tuple[str, ...] = ()
    approved_full_fields: tuple[str, ...] | None = None
    """Those of ``approved_fields`` the matter's material showed unmasked when they were approved
    (``gateway.domain.sharing.Approval.full_fields``); None for a request not approved, and for an approval given
    before schema 0040 that the upgrade could not record them for."""
    valid_until: dt.datetime | None = None
    decision_reason: str = ""
    seq: int = 0
    """The row's number, the paging cursor; 0 before it is stored."""
    client_request_id: str = ""
    client_digest: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredConsent:
    """A holder's consent as stored: the SHA-256 of its code, never the code."""

    consent_id: str
    code_sha256: str
    holder_code: str
    portal: str
    grantee: str
    matter_code: str
    license_ids: tuple[str, ...]
    type_codes: tuple[str, ...]
    valid_until: dt.datetime
    uses_allowed: int
    uses_left: int
    created_at: dt.datetime
    withdrawn_at: dt.datetime | None = None
    guardian_code: str = ""
    """The parent who granted it for the (minor) holder, by 公民身份号码; empty when the holder granted it."""
    withdrawn_by: str = ""
    """Who withdrew it, by code: ``holder_code`` or ``guardian_code`` (a child of 14 to 17 withdraws a parent's
    consent too); empty while it is not withdrawn, and for one withdrawn before schema 0044, which did not record it."""
    client_request_id: str = ""
    """The portal's idempotency key of the grant; empty when it gave none."""
    client_digest: str = ""
    """The SHA-256 of the grant's request, to tell a retry from another request under the same key."""
    granted_fields: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] | None = None
    """What it was granted for, by license type: (type code, the material's conditional fields then, those of them
    read in full) (``gateway.domain.sharing.ConsentedFields``); None for one granted before schema 0039 that the
    upgrade could not record them for."""


def _request_ended(cutoff: dt.datetime) -> ColumnElement[bool]:
    """An access request that ended before ``cutoff``: at the latest of its deadline, its decision (an approval's,
    a rejection's, a withdrawal's, an expiry's) and, while it is APPROVED, the end of the approval, which grants
    until then (an approval with no end never ends). A pending request past its deadline has expired, marked so or
    not: a decision comes too late for it (``expire_overdue``)."""
    at = _as_utc(cutoff)
    return and_(
        _Q.c.deadline < at,
        or_(_Q.c.decided_at.is_(None), _Q.c.decided_at < at),
        or_(_Q.c.state != "APPROVED", _Q.c.valid_until < at),
    )


def _consent_ended(cutoff: dt.datetime) -> ColumnElement[bool]:
    """A consent that ended before ``cutoff``: withdrawn before it, or, never withdrawn, valid until before it. A
    consent used up ended at its last use, which is not stored: it is kept until its validity would have ended."""
    at = _as_utc(cutoff)
    return or_(_CS.c.withdrawn_at < at, and_(_CS.c.withdrawn_at.is_(None), _CS.c.valid_until < at))


PRUNE_BATCH = 5000
"""The most consents or access requests one transaction of a prune removes (``delete_ended``)."""


def _ended_keys(
    session: Session, key: ColumnElement[Any], ended: ColumnElement[bool], after: object | None, limit: int
) -> list[Any]:
    """The keys of the rows ``ended`` selects after the key ``after`` (None: from the first), in key order, at most
    ``limit``: a read only, the table walked once in all by its key, and no writer kept waiting meanwhile."""
    query = select(key).where(ended).order_by(key).limit(limit)
    if after is not None:
        query = query.where(key > after)
    return list(session.execute(query).scalars())


def _delete_ended(
    session: Session,
    table: Table,
    key: ColumnElement[Any],
    ended: ColumnElement[bool],
    after: object | None,
    through: object,
) -> int:
    """Remove the rows ``ended`` selects with keys after ``after`` (None: from the first) up to ``through``, those
    ``_ended_keys`` gave, judged again as they stand now; how many. A removal also records, in its transaction, the
    fact that witnesses the audit trail they were written with (``PRUNED_WITNESS``), once: it stays."""
    which = and_(ended, key <= through) if after is None else and_(ended, key > after, key <= through)
    removed = int(cast(CursorResult[Any], session.execute(delete(table).where(which))).rowcount or 0)
    if removed:
        session.execute(
            text(
                f"INSERT INTO {GatewayFactRow.__tablename__} (name, value) VALUES (:name, :value) "
                "ON CONFLICT (name) DO NOTHING"
            ),
            {"name": PRUNED_WITNESS, "value": "consents or access requests removed past their retention"},
        )
    return removed


class AccessRequestRepository:
    def __init__(self, session: Session):
        self._s = session

    def add(self, request: StoredAccessRequest) -> None:
        self._s.execute(
            insert(_Q).values(
                request_id=request.request_id,
                requester=request.requester,
                issuer_code=request.issuer_code,
                type_code=request.type_code,
                license_id=request.license_id,
                matter_code=request.matter_code,
                purpose=request.purpose,
                fields=list(request.fields),
                duration_days=request.duration_days,
                state=request.state,
                submitted_at=_as_utc(request.submitted_at),
                deadline=_as_utc(request.deadline),
                decided_at=_as_utc(request.decided_at) if request.decided_at else None,
                approved_fields=list(request.approved_fields),
                approved_full_fields=(
                    list(request.approved_full_fields) if request.approved_full_fields is not None else null()
                ),
                valid_until=_as_utc(request.valid_until) if request.valid_until else None,
                decision_reason=request.decision_reason,
                client_request_id=request.client_request_id,
                client_digest=request.client_digest,
            )
        )

    def get(self, request_id: str) -> StoredAccessRequest | None:
        row = self._s.execute(select(_Q).where(_Q.c.request_id == request_id)).first()
        return _access_request(row) if row else None

    def lock(self, request_id: str) -> StoredAccessRequest | None:
        """The request, read in a writing transaction that is about to decide it: on PostgreSQL locked (FOR UPDATE),
        so that the decision's time is read once no other decision of it is under way (SQLite's writers are serial
        already)."""
        row = self._s.execute(select(_Q).where(_Q.c.request_id == request_id).with_for_update()).first()
        return _access_request(row) if row else None

    def by_client_request_id(self, requester: str, client_request_id: str) -> StoredAccessRequest | None:
        """The request ``requester`` made with this idempotency key."""
        row = self._s.execute(  # "<> ''" as the partial index says it: SQLite had walked all the requester's requests
            select(_Q).where(
                _Q.c.requester == requester, _Q.c.client_request_id == client_request_id, _Q.c.client_request_id != ""
            )
        ).first()
        return _access_request(row) if row else None

    def decided_for(self, requester: str, matter_code: str) -> list[StoredAccessRequest]:
        """The approved, rejected and withdrawn requests of ``requester`` for ``matter_code``: what the sharing policy
        weighs."""
        decided = _Q.c.state.in_(["APPROVED", "REJECTED", "WITHDRAWN"])
        rows = self._s.execute(
            select(_Q).where(_Q.c.requester == requester, _Q.c.matter_code == matter_code, decided).order_by(_Q.c.seq)
        ).all()
        return [_access_request(r) for r in rows]

    def share_locked(self, request_ids: Sequence[str]) -> list[StoredAccessRequest]:
        """The requests of ``request_ids`` still stored, in the order of ``decided_for``, read in a writing transaction
        (a copy judged again once stamped, on the approvals it was let through on): on PostgreSQL under a share lock
        (FOR SHARE) on their rows alone, so that a decision of one of them under way (``lock``, FOR UPDATE) commits
        first and is read, and one that comes after waits for this transaction (SQLite's writers are serial already).

        The ids are of approvals in force when the copy was first judged, moments before, and a prune
        (``delete_ended``) removes only requests that ended a day or more before it (``audit_retention_days``): it
        neither removes one of these rows nor waits for their lock, and this read waits for no row a prune removes.
        Locking every decided request of the requester for the matter (withdrawn, rejected, long ended) had made
        each copy's cost grow with that history, and could deadlock with a prune's DELETE, which takes the ended
        ones in another order (a reviewer, R2, R3)."""
        if not request_ids:
            return []
        query = select(_Q).where(_Q.c.request_id.in_(list(request_ids))).with_for_update(read=True)
        return [_access_request(r) for r in self._s.execute(query.order_by(_Q.c.seq)).all()]

    def expire_overdue(self, now: dt.datetime, *, request_id: str | None = None) -> int:
        """Mark the pending requests whose deadline has passed EXPIRED (decided at their deadline), or only the one of
        ``request_id``; returns how many."""
        only = [_Q.c.request_id == request_id] if request_id is not None else []
        rows = self._s.execute(
            update(_Q)
            .where(_Q.c.state == "PENDING", _Q.c.deadline <= _as_utc(now), *only)
            .values(state="EXPIRED", decided_at=_Q.c.deadline)
            .returning(_Q.c.seq)
        ).all()
        return len(rows)

    def withdraw(self, request_id: str, *, at: dt.datetime, reason: str) -> bool:
        """Withdraw an approval: the request's state becomes WITHDRAWN, its decision time and reason the
        withdrawal's (the approved fields and validity stay, for the record); False when it is not APPROVED."""
        row = self._s.execute(
            update(_Q)
            .where(_Q.c.request_id == request_id, _Q.c.state == "APPROVED")
            .values(state="WITHDRAWN", decided_at=_as_utc(at), decision_reason=reason)
            .returning(_Q.c.seq)
        ).first()
        return row is not None

    def cancel(self, request_id: str, *, at: dt.datetime, reason: str) -> bool:
        """The requester takes back a pending request: CANCELLED, dated ``at``, with ``reason``; False when it is no
        longer pending."""
        row = self._s.execute(
            update(_Q)
            .where(_Q.c.request_id == request_id, _Q.c.state == "PENDING")
            .values(state="CANCELLED", decided_at=_as_utc(at), decision_reason=reason)
            .returning(_Q.c.seq)
        ).first()
        return row is not None

    def decide(
        self,
        request_id: str,
        *,
        state: str,
        at: dt.datetime,
        approved_fields: Sequence[str],
        approved_full_fields: Sequence[str] | None = None,
        valid_until: dt.datetime | None,
        reason: str,
    ) -> bool:
        """Record the decision on a pending request; False when it is no longer pending (decided meanwhile).
        ``approved_full_fields``: those of ``approved_fields`` approved unmasked (None for a rejection)."""
        row = self._s.execute(
            update(_Q)
            .where(_Q.c.request_id == request_id, _Q.c.state == "PENDING")
            .values(
                state=state,
                decided_at=_as_utc(at),
                approved_fields=list(approved_fields),
                approved_full_fields=list(approved_full_fields) if approved_full_fields is not None else null(),
                valid_until=_as_utc(valid_until) if valid_until else None,
                decision_reason=reason,
            )
            .returning(_Q.c.seq)
        ).first()
        return row is not None

    def approved_without_full_fields(self, *, after: str, limit: int) -> list[StoredAccessRequest]:
        """Approvals whose ``approved_full_fields`` are not recorded (given before schema 0040), by id after
        ``after``, at most ``limit``: what the upgrade across 0040 records them for (``gateway.server.UpgradeSteps``).
        Those withdrawn are left: they grant nothing again."""
        rows = self._s.execute(
            select(_Q)
            .where(_Q.c.state == "APPROVED", _Q.c.approved_full_fields.is_(None), _Q.c.request_id > after)
            .order_by(_Q.c.request_id)
            .limit(limit)
        )
        return [_access_request(row) for row in rows]

    def set_approved_full_fields(self, recorded: Sequence[tuple[str, tuple[str, ...]]]) -> None:
        """Record, for each approval by id, which of its fields were approved unmasked
        (``StoredAccessRequest.approved_full_fields``)."""
        for request_id, full in recorded:
            self._s.execute(update(_Q).where(_Q.c.request_id == request_id).values(approved_full_fields=list(full)))

    def ended(self, cutoff: dt.datetime, *, after: int | None, limit: int) -> list[int]:
        """The numbers of the requests that ended before ``cutoff`` (``_request_ended``), after ``after``, in order,
        at most ``limit`` (retention: ``zzgw audit prune``)."""
        return _ended_keys(self._s, _Q.c.seq, _request_ended(cutoff), after, limit)

    def delete_ended(self, cutoff: dt.datetime, *, after: int | None, through: int) -> int:
        """Remove the requests numbered after ``after`` up to ``through`` that ended before ``cutoff``; how many."""
        return _delete_ended(self._s, _Q, _Q.c.seq, _request_ended(cutoff), after, through)

    def page(
        self,
        *,
        issuer_code: str | None = None,
        requester: str | None = None,
        state: str | None = None,
        at: dt.datetime | None = None,
        matter_code: str | None = None,
        before_seq: int | None = None,
        limit: int,
    ) -> list[StoredAccessRequest]:
        """Newest first, filtered. With ``at``, ``state`` is the state at that time (``authorization.request_state``):
        an approval past its end (``valid_until <= at``) is EXPIRED, not APPROVED. In the query, so that a page is
        one keyset read whatever the history: filtered after reading, a page of the approvals in force had read every
        ended one newer than them, a page at a time (a reviewer, R1)."""
        query = select(_Q).order_by(_Q.c.seq.desc()).limit(limit)
        for column, value in (
            (_Q.c.issuer_code, issuer_code),
            (_Q.c.requester, requester),
            (_Q.c.matter_code, matter_code),
        ):
            if value:
                query = query.where(column == value)
        if state:
            query = query.where(_state_at(state, at))
        if before_seq is not None:
            query = query.where(_Q.c.seq < before_seq)
        return [_access_request(r) for r in self._s.execute(query).all()]


def _state_at(state: str, at: dt.datetime | None) -> ColumnElement[bool]:
    """The requests in ``state``: as stored, or with ``at``, at that time (``AccessRequestRepository.page``)."""
    if at is None or state not in ("APPROVED", "EXPIRED"):
        return _Q.c.state == state
    if state == "EXPIRED":
        return or_(_Q.c.state == "EXPIRED", and_(_Q.c.state == "APPROVED", _Q.c.valid_until <= _as_utc(at)))
    return and_(_Q.c.state == "APPROVED", or_(_Q.c.valid_until.is_(None), _Q.c.valid_until > _as_utc(at)))


def _access_request(row: Row[tuple[object, ...]]) -> StoredAccessRequest:
    m = row._mapping
    return StoredAccessRequest(
        seq=int(m["seq"]),
        request_id=m["request_id"],
        requester=m["requester"],
        issuer_code=m["issuer_code"],
        type_code=m["type_code"],
        license_id=m["license_id"],
        matter_code=m["matter_code"],
        purpose=m["purpose"],
        fields=tuple(m["fields"]),
        duration_days=int(m["duration_days"]),
        state=m["state"],
        submitted_at=_utc(m["submitted_at"]),
        deadline=_utc(m["deadline"]),
        decided_at=_utc(m["decided_at"]) if m["decided_at"] else None,
        approved_fields=tuple(m["approved_fields"]),
        approved_full_fields=(
            tuple(str(k) for k in m["approved_full_fields"]) if isinstance(m["approved_full_fields"], list) else None
        ),
        valid_until=_utc(m["valid_until"]) if m["valid_until"] else None,
        decision_reason=m["decision_reason"],
        client_request_id=m["client_request_id"],
        client_digest=m["client_digest"],
    )


class ConsentRepository:
    def __init__(self, session: Session):
        self._s = session

    def add(self, consent: StoredConsent, *, code_sealed: bytes | None = None) -> None:
        """Store ``consent``; with ``code_sealed``, its code encrypted for a retry of the grant."""
        self._s.execute(
            insert(_CS).values(
                client_request_id=consent.client_request_id,
                client_digest=consent.client_digest,
                code_sealed=code_sealed,
                consent_id=consent.consent_id,
                code_sha256=consent.code_sha256,
                holder_code=consent.holder_code,
                portal=consent.portal,
                grantee=consent.grantee,
                matter_code=consent.matter_code,
                license_ids=list(consent.license_ids),
                type_codes=list(consent.type_codes),
                valid_until=_as_utc(consent.valid_until),
                uses_allowed=consent.uses_allowed,
                uses_left=consent.uses_left,
                withdrawn_at=_as_utc(consent.withdrawn_at) if consent.withdrawn_at else None,
                withdrawn_by=consent.withdrawn_by,
                created_at=_as_utc(consent.created_at),
                guardian_code=consent.guardian_code,
                granted_fields=_granted_row(consent.granted_fields) if consent.granted_fields is not None else null(),
            )
        )

    def get(self, consent_id: str) -> StoredConsent | None:
        row = self._s.execute(select(_CS).where(_CS.c.consent_id == consent_id)).first()
        return _consent(row) if row else None

    def without_granted_fields(self, *, after: str, limit: int) -> list[StoredConsent]:
        """Consents whose ``granted_fields`` are not recorded (granted before schema 0039), by id after ``after``, at
        most ``limit``: what the upgrade across 0039 records them for (``gateway.server.UpgradeSteps``)."""
        rows = self._s.execute(
            select(_CS)
            .where(_CS.c.granted_fields.is_(None), _CS.c.consent_id > after)
            .order_by(_CS.c.consent_id)
            .limit(limit)
        )
        return [_consent(row) for row in rows]

    def set_granted_fields(
        self, granted: Sequence[tuple[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]]]
    ) -> None:
        """Record what each consent, by id, was granted for (``StoredConsent.granted_fields``)."""
        for consent_id, fields in granted:
            self._s.execute(
                update(_CS).where(_CS.c.consent_id == consent_id).values(granted_fields=_granted_row(fields))
            )

    def lock(self, consent_id: str) -> StoredConsent | None:
        """The consent, read in a writing transaction that is about to withdraw it: on PostgreSQL locked (FOR
        UPDATE), so that a use being counted (``use``, whose UPDATE takes the same lock) commits first, and one that
        comes after waits for the withdrawal and finds it; SQLite's writers are serial already. The withdrawal's
        time is read once this returns: the time it takes effect (``AuthorizationService.withdraw_consent``)."""
        row = self._s.execute(select(_CS).where(_CS.c.consent_id == consent_id).with_for_update()).first()
        return _consent(row) if row else None

    def granters(self, consent_ids: Collection[str]) -> dict[str, tuple[str, str]]:
        """By id, the holder and the granting guardian (empty: the holder granted it) of those of ``consent_ids``
        still stored: a page of access records' consents, read by their ids at once."""
        found: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(sorted(set(consent_ids)), 500):
            rows = self._s.execute(
                select(_CS.c.consent_id, _CS.c.holder_code, _CS.c.guardian_code).where(
                    _in(self._s, _CS.c.consent_id, chunk)
                )
            )
            found.update((row.consent_id, (row.holder_code, row.guardian_code)) for row in rows)
        return found

    def by_client_request_id(self, portal: str, client_request_id: str) -> tuple[StoredConsent, bytes | None] | None:
        """The consent ``portal`` granted with this idempotency key, and its code as kept sealed (None once cleared)."""
        row = self._s.execute(  # "<> ''" as the partial index says it: SQLite had scanned the table without it
            select(_CS).where(
                _CS.c.portal == portal, _CS.c.client_request_id == client_request_id, _CS.c.client_request_id != ""
            )
        ).first()
        return (_consent(row), row._mapping["code_sealed"]) if row else None

    def clear_sealed_codes(self, before: dt.datetime) -> int:
        """Clear the sealed codes of consents granted before ``before`` (through the index of those kept); how many."""
        cleared = self._s.execute(
            update(_CS)
            .where(_CS.c.code_sealed.is_not(None), _CS.c.created_at < _as_utc(before))
            .values(code_sealed=None)
        )
        return int(cleared.rowcount or 0)  # type: ignore[attr-defined]

    def by_code(self, code_sha256: str) -> StoredConsent | None:
        row = self._s.execute(select(_CS).where(_CS.c.code_sha256 == code_sha256)).first()
        return _consent(row) if row else None

    def of_holder(
        self, holder_code: str, *, limit: int, before: tuple[dt.datetime, str] | None = None
    ) -> list[StoredConsent]:
        """The newest ``limit`` consents of the holder and those the person of ``holder_code`` granted as a guardian
        (``guardian_code``), newest first by time and then id, from just before ``before`` (the previous page's last:
        its time and id): each read through its own index from there (a keyset: ``limit`` rows of each however deep
        the page, on SQLite and PostgreSQL alike, the ties of one time sorted as read), then merged. Consent ids are
        hex (``uuid4``), ordered alike by any collation and by Python."""
        found: dict[str, StoredConsent] = {}
        for column in (_CS.c.holder_code, _CS.c.guardian_code):
            query = select(_CS).where(column == holder_code)
            if before is not None:
                at, consent_id = _as_utc(before[0]), before[1]
                # "<=" bounds the index's range; the rest leaves out those of that time listed already
                query = query.where(_CS.c.created_at <= at, or_(_CS.c.created_at < at, _CS.c.consent_id < consent_id))
            newest = query.order_by(_CS.c.created_at.desc(), _CS.c.consent_id.desc()).limit(limit)
            found.update((c.consent_id, c) for c in map(_consent, self._s.execute(newest).all()))
        return sorted(found.values(), key=lambda c: (c.created_at, c.consent_id), reverse=True)[:limit]

    def use(self, consent_id: str, now: dt.datetime) -> int | None:
        """Count one use, atomically: the uses left afterwards, or None when the consent is used up, withdrawn or
        expired (by a concurrent use, too: the row lock makes the second of two uses of a one-use code find none)."""
        row = self._s.execute(
            update(_CS)
            .where(
                _CS.c.consent_id == consent_id,
                _CS.c.uses_left > 0,
                _CS.c.withdrawn_at.is_(None),
                _CS.c.valid_until > _as_utc(now),
            )
            .values(uses_left=_CS.c.uses_left - 1)
            .returning(_CS.c.uses_left)
        ).first()
        return int(row[0]) if row else None

    def ended(self, cutoff: dt.datetime, *, after: str | None, limit: int) -> list[str]:
        """The ids of the consents that ended before ``cutoff`` (``_consent_ended``), after ``after``, in order, at
        most ``limit`` (retention: ``zzgw audit prune``)."""
        return _ended_keys(self._s, _CS.c.consent_id, _consent_ended(cutoff), after, limit)

    def delete_ended(self, cutoff: dt.datetime, *, after: str | None, through: str) -> int:
        """Remove the consents of ids after ``after`` up to ``through`` that ended before ``cutoff``; how many."""
        return _delete_ended(self._s, _CS, _CS.c.consent_id, _consent_ended(cutoff), after, through)

    def withdraw(self, consent_id: str, at: dt.datetime, *, by: str) -> bool:
        """Withdraw the consent, ``by`` the code of who withdrew it (``StoredConsent.withdrawn_by``); False when there
        is nothing left to withdraw: withdrawn already, used up or past its end. Decided by the update itself, under
        the row's lock: withdrawals overlapping one another or the last use had each read the consent as active and
        each logged a withdrawal (found in review)."""
        row = self._s.execute(
            update(_CS)
            .where(
                _CS.c.consent_id == consent_id,
                _CS.c.withdrawn_at.is_(None),
                _CS.c.uses_left > 0,
                _CS.c.valid_until > _as_utc(at),
            )
            .values(withdrawn_at=_as_utc(at), withdrawn_by=by)
            .returning(_CS.c.consent_id)
        ).first()
        return row is not None


def _consent(row: Row[tuple[object, ...]]) -> StoredConsent:
    m = row._mapping
    return StoredConsent(
        consent_id=m["consent_id"],
        code_sha256=m["code_sha256"],
        holder_code=m["holder_code"],
        portal=m["portal"],
        grantee=m["grantee"],
        matter_code=m["matter_code"],
        license_ids=tuple(m["license_ids"]),
        type_codes=tuple(m["type_codes"]),
        valid_until=_utc(m["valid_until"]),
        uses_allowed=int(m["uses_allowed"]),
        uses_left=int(m["uses_left"]),
        withdrawn_at=_utc(m["withdrawn_at"]) if m["withdrawn_at"] else None,
        withdrawn_by=m["withdrawn_by"],
        created_at=_utc(m["created_at"]),
        guardian_code=m["guardian_code"],
        client_request_id=m["client_request_id"],
        client_digest=m["client_digest"],
        granted_fields=_granted_of(m["granted_fields"]),
    )


def _granted_row(
    granted: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] | None,
) -> dict[str, dict[str, list[str]]] | None:
    """``StoredConsent.granted_fields`` as the column keeps it."""
    if granted is None:
        return None
    return {code: {"fields": list(fields), "full_fields": list(full)} for code, fields, full in granted}


def _granted_of(row: object) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] | None:
    """The column ``granted_fields`` as ``StoredConsent`` has it."""
    if not isinstance(row, dict):
        return None
    return tuple(
        (str(code), tuple(each.get("fields", ())), tuple(each.get("full_fields", ())))
        for code, each in row.items()
        if isinstance(each, dict)
    )


class HolderLicenseRepository:
    """A holder's licenses (自动关联), through the ``ix_licenses_holder`` index."""

    def __init__(self, session: Session):
        self._s = session

    def newest(
        self, code_type: str, code: str, type_code: str, *, in_force_on: dt.date, before: int | None, limit: int
    ) -> list[tuple[int, License]]:
        """The current versions of the holder's licenses of ``type_code`` stored ACTIVE and not past their last day
        ``in_force_on`` (a China date), the last stored first (by row id: an amended license as its new version),
        after the row ``before`` (a row id this gave; None: from the newest), at most ``limit``, each with its row id:
        what ``PrefillForm`` reads a few at a time, as far as it needs to."""
        query = select(*_READ, _L.c.id).where(
            _L.c.holder_code_type == code_type,
            _L.c.holder_code == code,
            _L.c.type_code == type_code,
            _IS_CURRENT,
            _L.c.status == LicenseStatus.ACTIVE.value,
            or_(_L.c.valid_until.is_(None), _L.c.valid_until >= in_force_on),
        )
        if before is not None:
            query = query.where(_L.c.id < before)
        rows = self._s.execute(query.order_by(_L.c.id.desc()).limit(limit)).all()
        return [(int(r[-1]), license_from(r[:-1])) for r in rows]

    def newest_not_in_force(self, code_type: str, code: str, type_code: str, on: dt.date) -> tuple[int, License] | None:
        """The last stored of the holder's current licenses of ``type_code`` that ``newest`` leaves out (stored in
        another status than ACTIVE, or past its last day ``on``), with its row id; None when there is none."""
        row = self._s.execute(
            select(*_READ, _L.c.id)
            .where(
                _L.c.holder_code_type == code_type,
                _L.c.holder_code == code,
                _L.c.type_code == type_code,
                _IS_CURRENT,
                or_(_L.c.status != LicenseStatus.ACTIVE.value, _L.c.valid_until < on),
            )
            .order_by(_L.c.id.desc())
            .limit(1)
        ).first()
        return (int(row[-1]), license_from(row[:-1])) if row else None

    def count_in_force(self, code_type: str, code: str, type_code: str, on: dt.date) -> int:
        """How many current licenses of ``type_code`` the holder has stored ACTIVE and valid on ``on`` (a China date):
        counted by the database, none of them read."""
        query = (
            select(func.count())
            .select_from(_L)
            .where(
                _L.c.holder_code_type == code_type,
                _L.c.holder_code == code,
                _L.c.type_code == type_code,
                _IS_CURRENT,
                _L.c.status == LicenseStatus.ACTIVE.value,
                _L.c.valid_from <= on,
                or_(_L.c.valid_until.is_(None), _L.c.valid_until >= on),
            )
        )
        return int(self._s.execute(query).scalar_one())

    def version_of(self, code_type: str, code: str, license_id: str) -> License | None:
        """The license ``license_id`` names (any of its versions, a well-formed identifier) as the holder's: its
        current version when that is the holder's, else the version named when it is the holder's and no longer
        current (a revoked license whose number was issued again); None when neither is (another's, or none)."""
        type_code, issuer_code, serial = license_id.split(".")[-5:-2]
        holders = (_L.c.holder_code_type == code_type, _L.c.holder_code == code)
        row = self._s.execute(
            select(*_READ).where(
                _L.c.issuer_code == issuer_code,
                _L.c.type_code == type_code,
                _L.c.serial == serial,
                _IS_CURRENT,
                *holders,
            )
        ).first()
        if row is None:
            row = self._s.execute(select(*_READ).where(_L.c.license_id == license_id, *holders)).first()
        return license_from(row) if row else None

    def holds_any(self, code: str, code_types: Collection[str], *, issuer_code: str | None = None) -> bool:
        """Whether a license, any version in any status, is stored under ``code`` with one of ``code_types`` (and
        issued by ``issuer_code``, when given): one row of the index looked for, none read."""
        query = select(_L.c.id).where(_L.c.holder_code_type.in_(sorted(code_types)), _L.c.holder_code == code)
        if issuer_code is not None:
            query = query.where(_L.c.issuer_code == issuer_code)
        return self._s.execute(query.limit(1)).first() is not None

    def all_current(
        self, code: str, code_types: Collection[str], *, limit: int, type_codes: Collection[str] | None = None
    ) -> list[License]:
        """The current versions of every license the holder of ``code`` holds under any of ``code_types`` (of
        ``type_codes`` only, when given), oldest first, at most ``limit``."""
        query = select(*_READ).where(_L.c.holder_code_type.in_(list(code_types)), _L.c.holder_code == code, _IS_CURRENT)
        if type_codes is not None:
            if not type_codes:
                return []
            query = query.where(_L.c.type_code.in_(list(type_codes)))
        rows = self._s.execute(query.order_by(_L.c.created_at, _L.c.id).limit(limit)).all()
        return [license_from(r) for r in rows]

    def current_after(
        self,
        code: str,
        code_types: Collection[str],
        type_codes: Collection[str],
        *,
        status: str | None,
        on: dt.date | None,
        after: int | None,
        limit: int | None,
    ) -> list[tuple[int, License]]:
        """The current versions of the holder's licenses (as ``all_current``) of ``type_codes`` stored in
        ``status`` and not past their last day ``on`` (a China date), in the order their licenses were first issued,
        after the license whose place is ``after`` (a place this gave; None: from the first), at most ``limit``,
        each with its place: a page of them (``ListConsentableLicenses``; ``ListHolderLicenses``, which lists them in
        any status and past their end, ``status`` and ``on`` None, and all of them with ``limit`` None).

        A license's place is its first version's row id (``_first_row``): ids are drawn in the order licenses are
        committed (every insert of a license holds the change log's lock, ``UnitOfWork.lock_change_log``), and an
        amendment keeps its license's place. By each row's own creation time and id, a license amended between pages
        had come again at the end as its new version, and one committed late with a time taken before sealing (a
        batch) had sorted before a page already read and been on no page (found in review). The types, the status
        and the end date are chosen here, not after the read: a chain's thousands of permits that no consent names,
        or that ended years ago still stored ACTIVE, had been read a page at a time to list none."""
        if not type_codes:
            return []
        place = _first_row()
        query = select(*_READ, place).where(
            _L.c.holder_code_type.in_(list(code_types)),
            _L.c.holder_code == code,
            _IS_CURRENT,
            _L.c.type_code.in_(list(type_codes)),
        )
        if status is not None:
            query = query.where(_L.c.status == status)
        if on is not None:
            query = query.where(or_(_L.c.valid_until.is_(None), _L.c.valid_until >= on))
        if after is not None:
            query = query.where(place > after)
        rows = self._s.execute(query.order_by(place).limit(limit)).all()
        return [(int(r[-1]), license_from(r[:-1])) for r in rows]


def _first_row() -> ColumnElement[int]:
    """The row id of the first version of the license of each ``licenses`` row read: the row's own for a first
    version (most licenses, never amended: no look-up), else the lowest of its serial's, found by
    ``ix_licenses_serial`` (its versions share the issuer, type and serial, and the first was inserted first)."""
    first = _L.alias("first_version")
    lowest = (
        select(func.min(first.c.id))
        .where(
            first.c.issuer_code == _L.c.issuer_code,
            first.c.type_code == _L.c.type_code,
            first.c.serial == _L.c.serial,
        )
        .scalar_subquery()
    )
    return case((_L.c.version == 1, _L.c.id), else_=lowest).label("place")


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Times are bound in UTC: SQLite stores the wall-clock digits only, so a +08:00 time would read back wrong."""
    return value.astimezone(dt.UTC)


_F = cast(Table, GatewayFactRow.__table__)
FACTS_LOCK_ID = 0x7A7A6766  # "zzgf": the advisory lock of ``FactRepository.hold`` and of its ``get(share=True)``


class FactRepository:
    """The store's facts (``GatewayFactRow``): written once, never changed, but for the catalog's fingerprint, which
    `zzgw init` replaces when it adopts another catalog (``replace``)."""

    def __init__(self, session: Session):
        self._s = session

    def all(self) -> dict[str, str]:
        return {row.name: row.value for row in self._s.execute(select(_F.c.name, _F.c.value))}

    def get(self, name: str, *, share: bool = False, lock: bool = False) -> str | None:
        """``share``: on PostgreSQL, read under the shared side of the facts' lock (``hold``), taken in the same
        statement before the row is read and kept until commit, and the row locked FOR SHARE (which reads the version
        an adoption that committed meanwhile wrote), so that a transaction replacing the fact waits for this one, and
        this one for it (``CatalogPin.refuse_within``; SQLite writers are serial already); ``lock``: FOR UPDATE, by
        the transaction that replaces it, after ``hold``."""
        query = select(_F.c.value).where(_F.c.name == name)
        if lock:
            query = query.with_for_update()
        elif share:
            query = query.with_for_update(read=True)
            if self._s.get_bind().dialect.name == "postgresql":
                # an InitPlan, run before the row is read; one statement, no round trip more per write
                shared = select(func.pg_advisory_xact_lock_shared(FACTS_LOCK_ID)).scalar_subquery()
                query = query.where(shared.is_not(None))
        return self._s.execute(query).scalar()

    def hold(self) -> None:
        """Take the exclusive side of the facts' lock until commit (PostgreSQL; SQLite writers are serial already), as
        a transaction about to replace a fact the writes read with ``share``: it waits for the writes in flight, and
        the writes that come meanwhile wait behind it. A row lock had not done so: PostgreSQL lets a new FOR SHARE
        locker join a row already share-locked while a FOR UPDATE waits for it, and two batch streams, whose
        transactions overlap, had kept `zzgw init --adopt-catalog` waiting for as long as they ran (minutes; a
        reviewer, R1); a transaction waiting for an advisory lock is queued, and later requests queue behind it."""
        self.hold_within(None)

    def hold_within(self, seconds: float | None) -> bool:
        """``hold``, waiting ``seconds`` at most (None: for as long as it takes); False when it was not taken then,
        the wait given up and the transaction going on, nothing held (PostgreSQL's ``lock_timeout``, within a savepoint
        rolled back to). A write that does not end (a stuck client's transaction) had held the adoption, and behind it
        every license write of every replica, for ever, their handler threads all waiting, reads refused too (a review
        of the fix, fixrevlock R1): the adoption waits in the queue a little at a time (``server._wait_for_writes``),
        the writes queued behind it going on between its tries."""
        if self._s.get_bind().dialect.name != "postgresql":
            return True
        if seconds is None:
            self._s.execute(select(func.pg_advisory_xact_lock(FACTS_LOCK_ID)))
            return True
        try:
            with self._s.begin_nested():  # a wait given up rolls back to here, the setting with it
                self._s.execute(text(f"SET LOCAL lock_timeout = '{max(1, int(seconds * 1000))}ms'"))
                self._s.execute(select(func.pg_advisory_xact_lock(FACTS_LOCK_ID)))
                self._s.execute(text("SET LOCAL lock_timeout = DEFAULT"))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available: the lock_timeout
                raise
            return False
        return True

    def holders(self) -> list[str]:
        """PostgreSQL: the other sessions holding the facts' lock (``hold``, ``get(share=True)``: license writes in
        flight), as ``pid N (APPLICATION, STATE, since TIME)``; none on SQLite."""
        if self._s.get_bind().dialect.name != "postgresql":
            return []
        rows = self._s.execute(
            text(
                "SELECT DISTINCT a.pid, coalesce(nullif(a.application_name, ''), 'no name'), a.state, "
                "coalesce(to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SS'), 'no transaction') "
                "FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid = :high AND l.objid = :low AND l.objsubid = 1 AND a.pid <> pg_backend_pid() ORDER BY 1"
            ),
            {"high": FACTS_LOCK_ID >> 32, "low": FACTS_LOCK_ID & 0xFFFFFFFF},
        ).all()
        return [f"pid {pid} ({app}, {state}, since {since})" for pid, app, state, since in rows]

    def add(self, name: str, value: str) -> None:
        self._s.execute(insert(_F).values(name=name, value=value))

    def replace(self, name: str, value: str) -> None:
        """Set the fact ``name`` to ``value``, recorded or not (one writer at a time: `zzgw init`'s setup lock)."""
        result = self._s.execute(update(_F).where(_F.c.name == name).values(value=value))
        if not cast(CursorResult[Any], result).rowcount:
            self.add(name, value)


_RC = cast(Table, ReceiptCertificateRow.__table__)


class ReceiptCertificateRepository:
    """The certificates the receipt key has had (``ReceiptCertificateRow``), DER."""

    def __init__(self, session: Session):
        self._s = session

    def all(self) -> dict[str, tuple[bytes, dt.datetime]]:
        """By fingerprint: the certificate and when it was recorded, the latest recorded first."""
        rows = self._s.execute(
            select(_RC.c.fingerprint, _RC.c.certificate, _RC.c.recorded_at).order_by(_RC.c.recorded_at.desc())
        )
        return {row.fingerprint: (bytes(row.certificate), _utc(row.recorded_at)) for row in rows}

    def add(self, fingerprint: str, key_id: str, certificate: bytes, at: dt.datetime) -> None:
        self._s.execute(
            insert(_RC).values(fingerprint=fingerprint, key_id=key_id, certificate=certificate, recorded_at=_as_utc(at))
        )


_CC = cast(Table, ConsoleClerkRow.__table__)


@dataclass(frozen=True, slots=True)
class ConsoleClerk:
    """A clerk with a console token of their own (``ConsoleClerkRow``; the token itself is never stored)."""

    member_code: str
    clerk: str
    issued_at: dt.datetime


class WrongClaimRepository:
    """Departments' wrong claims about licenses (``WrongClaimRow``), to count them."""

    def __init__(self, session: Session):
        self._s = session

    def count_since(self, caller: str, license: str, since: dt.datetime) -> int:
        """How many wrong claims ``caller`` made about ``license`` since ``since``: a range of the caller and license's
        index, at most the few a department may make."""
        query = select(func.count()).where(_WC.c.caller == caller, _WC.c.license == license, _WC.c.at >= _as_utc(since))
        return int(self._s.execute(query).scalar() or 0)

    def add(self, caller: str, license: str, at: dt.datetime, *, forget_before: dt.datetime) -> int:
        """Count one more, and forget ``caller``'s about ``license`` made before ``forget_before`` (counted no more);
        now and then (one add in ``_FORGET_ALL_EVERY``) everyone's, so that the table holds about a day's. Returns
        the new row's id (for ``remove``)."""
        if secrets.randbelow(_FORGET_ALL_EVERY) == 0:
            self._s.execute(delete(_WC).where(_WC.c.at < _as_utc(forget_before)))
        else:
            self._s.execute(
                delete(_WC).where(_WC.c.caller == caller, _WC.c.license == license, _WC.c.at < _as_utc(forget_before))
            )
        added = self._s.execute(insert(_WC).values(caller=caller, license=license, at=_as_utc(at)).returning(_WC.c.id))
        return int(added.scalar_one())

    def remove(self, row: int) -> None:
        """Take back the count ``add`` returned as ``row`` (a claim whose call then failed unanswered)."""
        self._s.execute(delete(_WC).where(_WC.c.id == row))

    def tally(self, since: dt.datetime) -> list[tuple[str, str, int, dt.datetime]]:
        """Each department and license with wrong claims since ``since``: how many, and when the last was made;
        most first."""
        made = func.count().label("made")
        rows = self._s.execute(
            select(_WC.c.caller, _WC.c.license, made, func.max(_WC.c.at).label("last"))
            .where(_WC.c.at >= _as_utc(since))
            .group_by(_WC.c.caller, _WC.c.license)
            .order_by(made.desc(), _WC.c.caller, _WC.c.license)
        )
        return [(row.caller, row.license, int(row.made), _utc(row.last)) for row in rows]

    def forget(self, caller: str, license: str) -> int:
        """Forget every wrong claim ``caller`` made about ``license``; how many there were."""
        gone = self._s.execute(delete(_WC).where(_WC.c.caller == caller, _WC.c.license == license))
        return int(gone.rowcount or 0)  # type: ignore[attr-defined]


_WC = cast(Table, WrongClaimRow.__table__)
_FORGET_ALL_EVERY = 100
"""One wrong claim in so many also forgets every department's older than the window: rows of a department and
license that claim nothing more had been kept for ever (found in review). Wrong claims are few: the table is small."""


class ConsoleClerkRepository:
    """Clerks' console tokens, by SHA-256; at most one in force per clerk of a member."""

    def __init__(self, session: Session):
        self._s = session

    def issue(self, member_code: str, clerk: str, token_sha256: str, at: dt.datetime) -> None:
        """Record a new token for ``clerk`` of ``member_code``, ending the one in force."""
        self.end(member_code, clerk, at)
        self._s.execute(
            insert(_CC).values(
                token_sha256=token_sha256, member_code=member_code, clerk=clerk, issued_at=_as_utc(at), ended_at=None
            )
        )

    def end(self, member_code: str, clerk: str | None, at: dt.datetime) -> int:
        """End ``clerk``'s token in force (None: every clerk's of the member); how many were."""
        which = [_CC.c.member_code == member_code, _CC.c.ended_at.is_(None)]
        if clerk is not None:
            which.append(_CC.c.clerk == clerk)
        ended = self._s.execute(update(_CC).where(*which).values(ended_at=_as_utc(at)))
        return int(ended.rowcount or 0)  # type: ignore[attr-defined]

    def by_token_hash(self, token_sha256: str) -> ConsoleClerk | None:
        """The clerk whose token in force has this SHA-256."""
        row = self._s.execute(
            select(_CC.c.member_code, _CC.c.clerk, _CC.c.issued_at).where(
                _CC.c.token_sha256 == token_sha256, _CC.c.ended_at.is_(None)
            )
        ).first()
        return ConsoleClerk(row.member_code, row.clerk, _utc(row.issued_at)) if row else None

    def ended(self, token_sha256: str) -> bool:
        """Whether a clerk's token with this SHA-256 was issued and has ended (``end``, or a new token for the clerk):
        the console tells its clerk to ask for a new one, not to check a typing mistake."""
        row = self._s.execute(
            select(_CC.c.token_sha256).where(_CC.c.token_sha256 == token_sha256, _CC.c.ended_at.is_not(None))
        ).first()
        return row is not None

    def in_force(self, member_code: str) -> list[ConsoleClerk]:
        """``member_code``'s clerks with a token in force, by name."""
        rows = self._s.execute(
            select(_CC.c.member_code, _CC.c.clerk, _CC.c.issued_at)
            .where(_CC.c.member_code == member_code, _CC.c.ended_at.is_(None))
            .order_by(_CC.c.clerk)
        )
        return [ConsoleClerk(row.member_code, row.clerk, _utc(row.issued_at)) for row in rows]
