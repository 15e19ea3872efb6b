"""The audit trail's service: append records inside the caller's transaction, check the chain, list uses.

``append`` runs inside the transaction of the work it records (for verifications: the transaction that stores the
receipt), takes the chain lock (PostgreSQL advisory lock; SQLite has one writer at a time anyway), numbers and
chains the entries after the newest record, and signs a checkpoint whenever a record number is a multiple of
``CHECKPOINT_EVERY``. So a record exists exactly when its work committed, and the answer is sent after both.

Retention (``prune``): records older than the retention period are removed, at a checkpoint on the newest of them
(signed by the prune when that record is not already one); the checkpoint stays, so the remaining chain is still
anchored by a signed hash and checks end to end. They go a step at a time, each up to a checkpoint and committed with
the start memo of that checkpoint, so that the chain checks after every commit, a prune stopped midway included.

The chain's end (ADR 0010): each append also rewrites the head memo, the newest record's number and hash with the
gateway's HMAC (``HeadMemos``), in the same transaction; one small write per group commit. ``check`` reports a
chain that ends before the memo's record (``TRUNCATED``, with the numbers missing), another record at the memo's
number (``HEAD_MISMATCH``), records after it (``UNVOUCHED_RECORDS``), and a memo missing or not the gateway's. An
append never follows a chain's end that the memo (or this process's own last commit) shows was cut back: it numbers
after the vouched record, so deleted numbers are never used again and the deletion stays a ``GAP``.
Records added past any number a chain reaches (``SEQ_BEYOND``, up to 2^63 - 1) are kept clear of, never chained
after: no record could be numbered after them; they are recorded as added, once (ADR 0010, addendum of 2026-12-07).

Co-subjects (``AuditEntry.subjects``: people other than the holder whose 公民身份号码 the license used states) are
written with their records and read with them, a page at a time, by ``check``; ``list`` gives a person the records
of the licenses they hold and of those naming them, ``prune`` removes both together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509

from gateway.domain.audit import (
    CHECKPOINT_EVERY,
    GENESIS,
    OWN_LISTINGS,
    SEQ_BEYOND,
    AccessRecord,
    AuditAction,
    AuditEntry,
    ChainCheck,
    ChainChecker,
    Checkpoint,
    GrantedBy,
    HeadMemo,
    HeadMemos,
    Relation,
    break_entry,
    chain,
    checkpoint_bytes,
    consent_of,
    granted_by,
    relation_of,
)
from gateway.domain.catalog import HOLDER_CODE_TYPES, Catalog
from gateway.domain.errors import FieldViolation, InvalidRequestError, PermissionDeniedError, ZzgwError
from gateway.domain.identifiers import (
    NOT_CITIZEN_ID_CODE_TYPES,
    find_by_number,
    holder_code_type_by_form,
    holder_code_types_of,
    license_id_violation,
    scanned_code,
    type_code_problem,
    typed_license_id,
)
from gateway.domain.model import Clock, License, Member, Role
from gateway.domain.validation import check_holder_code, holder_code_required, valid_holder_code
from gateway.domain.verification import MatterNotHandledError, UseContext, operator_violation
from gateway.services.receipt_certificates import ReceiptCertificates
from gateway.store.database import BUSY_TIMEOUT_MS, AppendWork, Database, StoreTimeout, UnitOfWork, UnitsOfWork
from gateway.store.repositories import PRUNE_BATCH
from signing.errors import InvalidSignature
from signing.keys import KeyBackend, verify_signature
from signing.qr import read_pasted
from signing.sm2_x509 import public_key_der

log = logging.getLogger("zzgw.audit")


@dataclass(frozen=True, slots=True, kw_only=True)
class UseTarget:
    """What a refused request named: a license (by identifier, by type and number, or by its printed code), or a
    holder (by code)."""

    license_id: str = ""
    type_code: str = ""
    license_number: str = ""
    holder_code: str = ""
    holder_code_type: str = ""
    """The code type the request gave ``holder_code`` with (``ListHolderLicenses``, ``PrefillForm``): the code is
    checked by it, as the request is, and not by its form."""
    qr_code: str = ""
    """A ``ZZ1:`` code as scanned: the license its claims name (unverified, as an identifier typed is)."""


def holds_licenses(db: Database, code: str, *, issuer_code: str | None = None) -> bool:
    """Whether licenses are stored in ``db`` under ``code`` (a holder code as kept) with a code type but ``111``,
    which holds valid 公民身份号码 only: a code that names a holder though it fails the check its form tells (a
    newborn's under 其他; ``checked_holder_code``'s ``held``). Only ``issuer_code``'s, when given."""
    with db.unit_of_work() as uow:
        return uow.holder_licenses.holds_any(code, NOT_CITIZEN_ID_CODE_TYPES, issuer_code=issuer_code)


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
PAGE = 5000
STALE_HEAD_SECONDS = 10.0
APPEND_TURN_SECONDS = BUSY_TIMEOUT_MS / 1000
"""How long an append waits for its turn behind this process's others (``AuditTrail.append``): a write's wait."""
CHAIN_LOCK_SECONDS = BUSY_TIMEOUT_MS / 1000
"""How long an append in a transaction of its own waits for the audit chain's lock (PostgreSQL: another process's
append, a prune), its turn held: a write's wait too (a group writer's: ``group_writer.HOLD_WAIT_SHARE``)."""
MAX_LIST = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneProgress:
    """What ``AuditTrail.prune`` tells as it goes, for `zzgw audit prune` to show on a terminal: its check of the
    whole chain takes about a minute a million records, and it had said nothing until it was done (a reviewer, R3)."""

    checking: Callable[[], object] = lambda: None
    """Before each page of the check (``PAGE`` records; ``AuditTrail.check``'s ``progress``)."""
    removing: Callable[[int], object] = lambda records: None
    """Once the chain checks, with how many records it is to remove."""
    removed: Callable[[int], object] = lambda records: None
    """After each step's commit, with how many records it removed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordPage:
    """A page of a person's (or an issuer's) access log (``AuditTrail.listing``)."""

    records: Sequence[AccessRecord]
    relations: tuple[Relation | None, ...]
    """Each record's relation to the person listed (``relation_of``); None where no person was named."""
    more: bool
    """Whether records follow the page."""
    granters: tuple[GrantedBy | None, ...]
    """Whether the person listed granted the consent each record names (``granted_by``); None for a record naming
    no consent, one no longer stored, or where no person was named."""


@dataclass(frozen=True, slots=True)
class _Whose:
    """Each record's relation to the person listed, and who granted the consent it names (``RecordPage``)."""

    relations: tuple[Relation | None, ...]
    granters: tuple[GrantedBy | None, ...]


def _lists_as_issuer(caller: Member) -> bool:
    """Whether ``caller`` lists access records as an issuer (``AuditTrail.listing``): the uses of its own licenses,
    its listing on its own log too. A member with ``ISSUER`` does, whatever roles it has beside: a holder portal's view
    (any holder's records, of every issuer, the listing on the holder's log alone) is a member's whose only department
    role is the portal's (``Member.portal_only`` for a receipt read). A member with both had listed as a portal: not
    on its own log, and refused its own licenses' records without a ``holder_code`` (a reviewer, R3)."""
    return caller.has(Role.ISSUER)


def _relations(uow: UnitOfWork, person: str, records: Sequence[AccessRecord], catalog: Catalog | None) -> _Whose:
    """``relation_of`` ``person`` to each of ``records``, and ``granted_by`` for those of a consent: the licenses of
    those naming the person as a co-subject read at once (a page's few: a record of the person's own needs none, one
    under their code naming them too does: ``relation_of``), and the consents named, by their ids."""
    wanted = [
        r.entry.license_id
        for r in records
        if r.entry.license_id and (r.entry.holder_code.strip().upper() != person or person in r.entry.subjects)
    ]
    licenses = uow.licenses.get_many(wanted) if wanted and catalog is not None else {}
    consents = [consent for r in records if (consent := consent_of(r.entry))]
    granters = uow.consents.granters(consents) if consents else {}

    def relation(entry: AuditEntry) -> Relation:
        license = licenses.get(entry.license_id)
        kind = catalog.license_types.get(license.content.type_code) if license and catalog else None
        return relation_of(person, entry, license, kind)

    def granter(entry: AuditEntry) -> GrantedBy | None:
        parties = granters.get(consent_of(entry))
        return granted_by(person, *parties) if parties is not None else None

    return _Whose(tuple(relation(r.entry) for r in records), tuple(granter(r.entry) for r in records))


class AuditBroken(Exception):
    """The chain does not check: nothing is pruned from it (``AuditTrail.prune``)."""

    def __init__(self, check: ChainCheck):
        super().__init__(f"the audit trail does not check ({check.reason} at {check.first_broken})")
        self.check = check


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditSigner:
    key: KeyBackend
    certificate: x509.Certificate


def _end_moved(newest: int, said: int) -> tuple[int, str, int | None]:
    """How a chain ending at ``newest`` differs from the end an upgrade's row says, ``said``."""
    if newest < said:
        return newest + 1, "TRUNCATED", said
    if newest > said:
        return said + 1, "UNVOUCHED_RECORDS", newest
    return said, "HEAD_MISMATCH", None


def vouch_upgraded_row(units: UnitsOfWork, memos: HeadMemos, *, start: bool) -> bool:
    """Write the memo of the empty row an upgrade left for the audit chain's start or end, for the row as it is:
    ``zzgw init`` trusts it once, at the upgrade, with or without an audit trail of its own yet (a store from before
    the memo secret has none until init makes the secret; its row had then been left for a later append to record
    as a break; a reviewer). Whether there was one.

    Init runs it in the transaction of the migration that left the row (``Database.migrate``'s ``then``), so the
    row is never committed empty: an empty one met later is a break, whatever says it is new (an init cut short
    after the migration had left it so for good, and no later init may tell it from one a database-only attacker
    wrote to be trusted)."""
    with units.unit_of_work(write=True) as uow:
        uow.lock_audit_chain()
        row = uow.audit.start_memo() if start else uow.audit.head_memo()
        if row is None or row.memo:
            return False
        if start:
            uow.audit.set_start_memo(memos.start(row.seq, row.hash))
        else:
            uow.audit.set_head_memo(memos.head(row.seq, row.hash))
        uow.commit()
    return True


class AuditTrail:
    def __init__(
        self,
        db: Database,
        signer: AuditSigner,
        clock: Clock,
        *,
        memos: HeadMemos,
        checkpoint_every: int = CHECKPOINT_EVERY,
        certificates: ReceiptCertificates | None = None,
    ):
        """``memos`` makes and checks the head memo (the key store's memo secret, the same on every replica);
        ``certificates`` has the certificates the signing key had before: checkpoints signed under them still
        verify."""
        self._db = db
        self._signer = signer
        self._memos = memos
        self._certificates = certificates
        self._clock = clock
        self._every = checkpoint_every
        self._public_key = public_key_der(signer.certificate)
        self._head: tuple[int, bytes] | None = None
        """The chain's head as this process's group writers last committed it (see ``append``)."""
        self._committed: tuple[int, bytes] | None = None
        """The newest record this process committed (kept, unlike ``_head``): a chain read back shorter was cut."""
        self._stale_until = 0.0
        """Until then (monotonic), read the head: another process has been appending too."""
        self._added: tuple[str, int, bytes] | None = None
        """The words, number and hash of the ``AUDIT_BREAK`` record of records added past ``SEQ_BEYOND`` this process
        wrote or found last (``_added_recorded``)."""
        self._appending = threading.RLock()
        """Held by the transaction of this process's append from before it takes the chain lock until it ends (see
        ``append``)."""

    def append(self, uow: UnitOfWork | AppendWork, entries: Sequence[AuditEntry]) -> list[AccessRecord]:
        """Chain ``entries`` after the newest record, in ``uow``'s transaction (the caller commits).

        Under the chain lock, the head is read from the store, except in a group writer's transaction
        (``AppendWork``), which may chain after the head its previous commit left. That head is taken (and
        forgotten) here and remembered again only once the transaction commits; if another writer appended in the
        meantime the records collide with its numbers (the primary key), the transaction fails, and the group
        writer runs it again with the head read from the store (``stale_head``). So the chain never forks and
        never has a gap, and a single gateway process skips a query (on PostgreSQL a round trip) per group.

        This process's appends take turns (``_appending``), each from before its chain lock until its transaction
        has ended, its head remembered: only another process's records collide. The chain lock alone had not kept
        them apart: a group writer's transaction is pipelined, so it took the remembered head without waiting for
        the chain lock it had asked for, and an append queued for that lock ahead of it (the other group writer's,
        a call's own) read the same head from the store and took the same numbers; and a head remembered late, once
        the chain lock was free, could be older than the other writer's commit. A single process on PostgreSQL had
        collisions every minute, each an ERROR in the server's log (a soak tester). Taken before the chain lock, the
        turn is never waited for while holding it.

        The head memo is written after the records (an upsert of its one row): one statement per group, which
        commits or fails with them.
        """
        if not entries:
            return []
        self._take_turn(uow)
        uow.lock_audit_chain(within=CHAIN_LOCK_SECONDS)  # held for ever by another (a zombie backend's), it had held
        # the turn, and so every append of this process, as long (a reviewer)
        head, self._head = self._head, None
        noted: list[AuditEntry] = []
        added_at: int | None = None
        if not isinstance(uow, AppendWork) or head is None or time.monotonic() < self._stale_until:
            newest, memo = uow.audit.heads()
            added = None
            if newest is not None and newest[0] >= SEQ_BEYOND and newest[0] > (end := self._vouched_end(memo)):
                # planted past any number a chain reaches (2^63 - 1): no record can be numbered after it, and every
                # recorded call had failed INTERNAL on the number's overflow, with no break recorded (a reviewer,
                # audit R1). Kept clear of: the end is the newest record below them, and they are recorded once
                added = (uow.audit.first_after(max(end, SEQ_BEYOND - 1)) or newest[0], newest[0])
                newest = uow.audit.newest_before(added[0])
            head = self._follow(newest, memo)
            if (found := self._unvouched(uow, newest, memo, entries)) is not None:
                noted.append(break_entry(self._clock.now(), *found))  # from the number after the vouched end, which
                # the check needs to tell the records added from records deleted before them; said from the first
                # there, as the check says it (``ChainChecker._excuses``)
                if found[1] == "UNVOUCHED_RECORDS" and found[2] is not None:
                    found = (uow.audit.first_after(found[0] - 1) or found[0], *found[1:])
                log.warning(
                    "the audit chain's end is not the one the gateway vouched for (%s, records %s-%s): appending "
                    "after it with an AUDIT_BREAK record, which VerifyAuditLog reports from now on",
                    found[1],
                    found[0],
                    found[2] if found[2] is not None else "?",
                )
            if added is not None and not self._added_recorded(uow, added):
                added_at = len(noted)
                noted.append(break_entry(self._clock.now(), added[0], "UNVOUCHED_RECORDS", added[1]))
                log.warning(
                    "records were added past any number the audit chain reaches (UNVOUCHED_RECORDS, records %s-%s): "
                    "numbering after the chain's end below them, with an AUDIT_BREAK record, which VerifyAuditLog "
                    "reports from now on; look at those records and delete them once kept as evidence",
                    *added,
                )
            if newest is None and memo is None:  # the store's first append ever (or a trail deleted, found above):
                uow.audit.note_witness()  # a fact that it has a trail, whatever its calls leave (audittrail R3)
        records = chain(head[0], head[1], [*noted, *entries])
        if added_at is not None:  # checked by its hash when next met
            self._added = (records[added_at].entry.purpose, records[added_at].seq, records[added_at].hash)
        uow.audit.add(records)
        for record in records:
            if record.seq % self._every == 0:
                uow.audit.add_checkpoint(self._checkpoint(record.seq, record.hash))
        last = records[-1]
        uow.audit.set_head_memo(self._memos.head(last.seq, last.hash))
        if isinstance(uow, AppendWork):
            uow.after_commit(lambda: self._remember(last.seq, last.hash))
            uow.landed_if(lambda later: later.audit.hash_at(last.seq) == last.hash)  # the chain's record is ours
        return records[len(noted) :]

    def _vouched_end(self, memo: HeadMemo | None) -> int:
        """The number of the chain's newest record as the gateway vouched for it (the head memo, or this process's
        last commit), 0 for none."""
        vouched = memo.seq if memo is not None and self._memos.vouches(memo) else 0
        return max(vouched, self._committed[0] if self._committed is not None else 0)

    def _added_recorded(self, uow: UnitOfWork | AppendWork, added: tuple[int, int]) -> bool:
        """Whether an ``AUDIT_BREAK`` record in the chain names records ``added`` (first, last) added past
        ``SEQ_BEYOND``: the one this process wrote or found last, if it is still there (by its hash), else one found
        by its words (a scan, once a process or after that record was pruned)."""
        purpose = f"{added[0]}-{added[1]}"
        if (
            self._added is not None
            and self._added[0] == purpose
            and uow.audit.hash_at(self._added[1]) == self._added[2]
        ):
            return True
        found = uow.audit.break_at(purpose, before=added[0])
        if found is not None:
            self._added = (purpose, *found)
        return found is not None

    def hold(self, work: AppendWork) -> None:
        """A group writer's ``hold``: take this process's turn and the chain lock in ``work``'s transaction, as
        ``append`` does, and return once the transaction holds them (on PostgreSQL one round trip). The writer claims
        its callers only then: on PostgreSQL opening a transaction holds nothing, and a group waiting for the chain
        lock (another process's append, a prune) had had its callers claimed, so they were not given up at the
        write's timeout and their records were stored after they had been told so (a reviewer)."""
        self._take_turn(work)
        work.lock_audit_chain(held=True)

    def _take_turn(self, uow: UnitOfWork | AppendWork) -> None:
        """This process's turn to append (``append``), held until ``uow``'s transaction ends."""
        # the same thread may append again in the same transaction; the turn is waited for as long as a write waits
        # for the store, not for ever: appends queued here start their wait for the chain lock one after another, and
        # had each waited for those ahead of it (a replica holding the chain lock: the k-th call failed after k times
        # PostgreSQL's lock_timeout, holding a handler thread all along; a reviewer)
        if not self._appending.acquire(timeout=APPEND_TURN_SECONDS):
            raise StoreTimeout("it waited too long for its turn behind another append to the audit chain")
        uow.when_done(self._appending.release)

    def take_chain(self, uow: UnitOfWork) -> None:
        """Take this process's turn and the chain lock in ``uow``'s transaction now, as ``append`` will, for a
        transaction that locks rows a group writer also locks once it holds the chain (a revocation's seal row,
        which an issue holds FOR SHARE): taken after the row, the two had waited for each other."""
        self._take_turn(uow)
        uow.lock_audit_chain(within=CHAIN_LOCK_SECONDS)

    def appended(self, records: Sequence[AccessRecord]) -> None:
        """After the commit of a transaction that ``append``-ed ``records`` (not a group writer's): remembered as
        ``record`` remembers its own, so that a chain read back shorter is seen as cut."""
        if records:
            self._remember_committed(records[-1].seq, records[-1].hash)

    def record(self, entry: AuditEntry, *more: AuditEntry) -> None:
        """Append the records of one call in a transaction of their own, for a call no group writer carries (a
        refusal, a listing)."""
        with self._db.unit_of_work(write=True) as uow:
            records = self.append(uow, [entry, *more])
            uow.commit()
        self._remember_committed(records[-1].seq, records[-1].hash)

    def _follow(self, newest: tuple[int, bytes] | None, memo: HeadMemo | None) -> tuple[int, bytes]:
        """The record to chain after: the store's newest, unless the gateway vouched for a later one or another at
        its number (the head memo, or this process's last commit): the chain's end was then cut back or rewritten
        behind the gateway's back, and numbering after the vouched record leaves that a GAP (PREV_MISMATCH) for
        ``check`` to report for good, instead of using the deleted numbers again. A head memo missing or not
        the gateway's is passed over (the append must not fail its callers), and the append records the break
        first (``_unvouched``)."""
        # an upgrade's row for a chain pruned to nothing names its newest checkpoint: numbered after (it had been
        # passed over, and numbering began again at 1, to collide with that checkpoint; a reviewer); unvouched, the
        # append records the break first (``_unvouched``)
        upgraded = memo is not None and not memo.memo and newest is None
        vouched = (memo.seq, memo.hash) if memo is not None and (upgraded or self._memos.vouches(memo)) else None
        ahead = max((h for h in (self._committed, vouched) if h is not None), key=lambda h: h[0], default=None)
        if ahead is not None and (newest is None or ahead[0] >= newest[0]):
            return ahead
        return newest or (0, GENESIS)

    def refuse_use(
        self,
        caller: Member,
        refused: MatterNotHandledError,
        action: AuditAction,
        target: UseTarget | None = None,
        *,
        subjects: Callable[[License], tuple[str, ...]] | None = None,
    ) -> None:
        """Record a call refused because ``caller`` named a matter another department handles (``check_use``):
        DENIED / NOT_MATTER_DEPARTMENT (``refuse``)."""
        self.refuse(caller, refused.use, refused.reason, action, target, subjects=subjects)

    def refuse(
        self,
        caller: Member,
        use: UseContext,
        reason: str,
        action: AuditAction,
        target: UseTarget | None = None,
        *,
        subjects: Callable[[License], tuple[str, ...]] | None = None,
    ) -> None:
        """Record a call about a license or holder refused for its use (another department's matter,
        NOT_MATTER_DEPARTMENT; a license type the matter does not use, NOT_USED_BY_MATTER): DENIED with ``reason``,
        the matter and purpose it named, and the license or holder the request named (``target``): the holder's and
        the issuer's logs show an attempt on their licenses that was refused as they show one that was answered,
        and so do the logs of the license's co-subjects, with ``subjects`` (``subjects_of`` under the caller's
        catalog). The license is looked up for the record alone; the caller is told nothing of it."""
        found, holder_code = self._target(target) if target is not None else (None, "")
        self.record(
            AuditEntry(
                at=self._clock.now(),
                caller=caller.code,
                operator=use.operator,
                action=action,
                matter_code=use.matter_code,
                purpose=use.purpose,
                license_id=found.license_id if found else "",
                issuer_code=found.content.issuer_code if found else "",
                holder_code=found.content.holder.code if found else holder_code,
                decision="DENIED",
                reason=reason,
                subjects=subjects(found) if found and subjects else (),
            )
        )

    def recorder(
        self,
        caller: Member,
        use: UseContext,
        action: AuditAction,
        target: UseTarget | None = None,
        *,
        subjects: Callable[[License], tuple[str, ...]] | None = None,
    ) -> Callable[[ZzgwError], None]:
        """What records a refusal of the call ``action`` for its use (``refuse``), for a check's ``on_refusal``:
        one place for every NOT_USED_BY_MATTER a service refuses."""
        return lambda refused: self.refuse(caller, use, refused.reason, action, target, subjects=subjects)

    def _target(self, target: UseTarget) -> tuple[License | None, str]:
        """The license ``target`` names, if stored; else None and the holder it names, if any (a made-up code is
        nobody's): a code valid by the code type the request gave it (``UseTarget.holder_code_type``), as the
        request is checked; else one valid by the type its form tells, a 公民身份号码's, a credit code's or a
        外国人永久居留身份证 number's; else one licenses are stored under (a newborn's under 其他, a passport
        number named in a claim). A newborn's, a passport holder's and a foreigner's codes had all been nobody's,
        only a valid 公民身份号码 or credit code kept, so a listing of their licenses refused for its use was on no
        one's log while one allowed was on the holder's (a reviewer, R1). Whatever the request holds, the refusal
        is recorded: a lookup that fails (a NUL in a type code, refused by PostgreSQL's driver) records it without
        the license."""
        found = None
        try:
            license_id = typed_license_id(target.license_id)  # as the service reads what was typed
            if license_id_violation("license_id", license_id) is not None and target.qr_code:
                _, envelope = read_pasted(scanned_code(target.qr_code))  # a code names its license, as an id does
                license_id = "" if isinstance(envelope, str) else envelope.claims.license_id
            if license_id and license_id_violation("license_id", license_id) is None:
                with self._db.unit_of_work() as uow:
                    found = uow.licenses.get(license_id)
            elif (
                target.license_number
                and type_code_problem(target.type_code) is None
                and not _UNPRINTABLE.search(target.license_number)
            ):
                with self._db.unit_of_work() as uow:
                    # the whole number: cut before it is normalised, one padded with spaces had named another
                    found = find_by_number(uow.licenses.get_current, target.type_code, target.license_number)
        except Exception:  # the refusal is what must be recorded; the license only adds to it (nothing logged:
            found = None  # a driver's message quotes the parameters, a number or a code)
        if found is not None:
            return found, ""
        errors: list[FieldViolation] = []
        if target.holder_code_type in HOLDER_CODE_TYPES:
            holder = check_holder_code("holder_code", target.holder_code_type, target.holder_code, errors)
            return None, "" if errors else holder
        kind = holder_code_type_by_form(target.holder_code)
        holder = check_holder_code("holder_code", kind, target.holder_code, errors)
        if kind != "099" and not errors:  # a 公民身份号码, a credit code or a 外国人永久居留身份证 number, by its form
            return None, holder
        # any other code (a claim's) is someone's when licenses are stored under it: a newborn's under 其他, a
        # passport number; every string of letters and digits is not
        return None, holder if valid_holder_code(holder, "099") and self._holds(holder) else ""

    def holds_licenses(self, code: str) -> bool:
        """``holds_licenses`` in this trail's store."""
        return holds_licenses(self._db, code)

    def lists_licenses_under(self, caller: Member, code: str) -> bool:
        """Whether licenses ``caller``'s listing (``listing``) may name are stored under ``code``: the holder's of
        every department for a holder portal, an issuer's own only. An issuer lists the uses of its own licenses
        alone, and had learnt from a code of a 公民身份号码's form with a wrong check character being taken or
        refused whether another department (a hospital) had stored licenses under it (a reviewer, rfB R1)."""
        return holds_licenses(self._db, code, issuer_code=caller.code if _lists_as_issuer(caller) else None)

    def _holds(self, code: str) -> bool:
        """``holds_licenses``, for a refusal's record: a lookup that fails is none, the refusal is what must be
        recorded."""
        try:
            return self.holds_licenses(code)
        except Exception:  # nothing logged: a driver's message quotes the parameters, the code
            return False

    def _unvouched(
        self,
        uow: UnitOfWork | AppendWork,
        newest: tuple[int, bytes] | None,
        memo: HeadMemo | None,
        entries: Sequence[AuditEntry],
    ) -> tuple[int, str, int | None] | None:
        """(first number, reason, last number) when the end an append reads from the store is not one the gateway
        vouched for, as ``check`` would report it: the append chains after it all the same (failing its callers
        would not mend it) and records the break first (``AUDIT_BREAK``), reported until that record is pruned. It had
        been reported only until that append, which then vouched for it: records forged at the end, a chain edited
        and rehashed to its end with the memo deleted, a whole trail deleted (an auditor). None when the end is
        vouched for, or when ``_follow`` leaves a cut-back or rewritten end a GAP or PREV_MISMATCH anyway."""
        if memo is None:
            if newest is not None:
                return newest[0], "HEAD_MEMO_MISSING", None
            witnessed = uow.audit.witnessed(  # the grant's or request's own row, written before its record, is not
                consents_here=sum(e.action is AuditAction.GRANT_CONSENT and e.decision == "GRANTED" for e in entries),
                requests_here=sum(
                    e.action is AuditAction.REQUEST_ACCESS and e.decision == "SUBMITTED" for e in entries
                ),
            )
            return (1, "TRAIL_DELETED", None) if witnessed else None  # else a new store
        if not memo.memo:  # the row an upgrade leaves, vouched for by `zzgw init` at the upgrade (``vouch_head``)
            if newest is None or newest == (memo.seq, memo.hash):
                return memo.seq, "HEAD_NOT_YET_VOUCHED", None
            return _end_moved(newest[0], memo.seq)
        if not self._memos.vouches(memo):
            return (newest or (memo.seq, b""))[0], "HEAD_MEMO_INVALID", None
        if newest is not None and newest[0] > memo.seq:
            return memo.seq + 1, "UNVOUCHED_RECORDS", newest[0]
        return None

    def stale_head(self, error: BaseException) -> bool:
        """Whether ``error`` failed a transaction because its records collided with another writer's: the group
        writer then runs it again (reading the head from the store, for a while)."""
        text = str(error)
        collided = ("UNIQUE" in text or "unique" in text) and ("access_records" in text or "audit_checkpoints" in text)
        if collided:
            self._head = None
            self._stale_until = time.monotonic() + STALE_HEAD_SECONDS
        return collided

    def _remember(self, seq: int, digest: bytes) -> None:
        self._head = (seq, digest)
        self._remember_committed(seq, digest)

    def _remember_committed(self, seq: int, digest: bytes) -> None:
        # unlocked: two writers' commits racing here may keep the lower one, which only checks less
        if self._committed is None or seq > self._committed[0]:
            self._committed = (seq, digest)

    def check(self, progress: Callable[[], object] = lambda: None) -> ChainCheck:
        """Check the whole chain as it stood when the check began: every record's hash and link, every
        checkpoint's hash and signature, and the chain's end against the head memo. ``progress`` is called before
        each page of records is read: a call says the check is making progress, its time growing with the trail
        (``gateway.watchdog.progress``), which raises to stop it when the call's client is gone.

        The newest record and the memo are read in one statement, at one moment: the gateway commits each record with
        its memo, so a record past the memo then is one it did not append (UNVOUCHED_RECORDS). The records are
        checked up to the memo's; those appended during the check are the next check's. Chasing them, a check of a
        busy gateway had found the checkpoints appended meanwhile missing from the list it read first, and said
        BROKEN (CHECKPOINT_MISSING) of an intact chain (found by an operations tester)."""
        with self._db.unit_of_work(snapshot=True) as uow:
            return self._check(uow, progress)

    def _check(self, uow: UnitOfWork, progress: Callable[[], object]) -> ChainCheck:
        """``check`` in one read snapshot (``uow``): the chain's start, its pages and its end as they stood at one
        moment. Read each in a transaction of its own, a check that a prune (or a new store's first record) committed
        during had been told of records missing (GAP, TRUNCATED, DELETED_FROM_START, START_MEMO_MISSING,
        HEAD_MEMO_MISSING) that were pruned, or appended, meanwhile (a reviewer, R2)."""
        newest, before = uow.audit.heads()
        start_memo = uow.audit.start_memo()
        # read after the head: a checkpoint commits with its record, so every one up to the memo's is here
        checkpoints = {c.seq: c for c in uow.audit.checkpoints()}
        first = uow.audit.first()
        # up to the memo's record when the memo is the gateway's; else to the end, which is then reported unvouched
        vouched = before is not None and bool(before.memo) and self._memos.vouches(before)
        horizon = before.seq if vouched and before is not None else None
        if first is not None and horizon is not None and first.seq > max(horizon, SEQ_BEYOND - 1):
            first = None  # a chain pruned to nothing, records planted past any number it reaches left (judged below)
        if horizon is not None and checkpoints:  # one past the memo's record: a forged one, which the records read
            # as far as it find (its records are the gateway's only if the memo is). Left out instead, a forged one
            # ahead of the end went unseen (review)
            horizon = max(horizon, max(checkpoints))

        def broken(records: int, seq: int, reason: str, through: int | None = None) -> ChainCheck:
            return ChainCheck(
                ok=False,
                records=records,
                checkpoints=len(checkpoints),
                first_broken=seq,
                last_broken=through,
                reason=reason,
            )

        for checkpoint in checkpoints.values():
            if not self._signed(checkpoint):
                return broken(0, checkpoint.seq, "CHECKPOINT_SIGNATURE_INVALID")
        if first is None and before is None and not checkpoints:
            # receipts or consents but no record, in the one snapshot: the trail deleted (a call's record commits
            # with its receipts, so the store's first call committing meanwhile is not seen at all; a reviewer)
            if uow.audit.witnessed(committed=True) and uow.audit.heads() == (None, None):
                return broken(0, 1, "TRAIL_DELETED")
            return ChainCheck(ok=True, records=0, checkpoints=0)  # a new store
        if first is None:  # none yet, or all pruned (the newest checkpoint is then the chain's end), or all deleted
            start_seq = max(checkpoints, default=0)
            start_hash = checkpoints[start_seq].hash if checkpoints else GENESIS
        elif first.seq == 1:
            start_seq, start_hash = 0, GENESIS
        elif first.seq < 1:  # numbered before any chain's start (1): planted by SQL, reported at its own number. It
            # had been read as a pruned chain's start, "DELETED_FROM_START 1--1" of records all there (audittrail R5)
            return broken(0, first.seq, "RECORD_BEFORE_START")
        else:  # pruned: the first remaining record must follow a signed checkpoint
            start_seq = first.seq - 1
            anchor = checkpoints.get(start_seq)
            if anchor is None:  # deleted, not pruned: from the chain's start or the last checkpoint before
                gone_from = max((seq for seq in checkpoints if seq < first.seq), default=0) + 1
                return broken(0, gone_from, "DELETED_FROM_START", first.seq - 1)
            start_hash = anchor.hash
        if start_seq and (unvouched := self._judge_start(start_seq, start_hash, start_memo)) is not None:
            return broken(0, *unvouched)
        wanted: dict[int, object] = {**checkpoints, **({before.seq: before} if before else {})}
        checker = ChainChecker(start_seq, start_hash)
        after = start_seq
        while checker.broken is None and (horizon is None or after < horizon):
            progress()
            page = uow.audit.page(after, PAGE if horizon is None else min(PAGE, horizon - after))
            if not page:
                break
            checker.feed(page, wanted)
            after = page[-1].seq
        checker.finish()
        if checker.broken is not None:
            seq, reason = checker.broken
            return broken(checker.records, seq, reason, checker.missing_through)
        end, past_end = self._judge_end(
            checker, before, newest[0] if newest is not None else None, uow.audit.first_after
        )
        if end is not None:
            return broken(checker.records, *end)
        first_due = (start_seq // self._every + 1) * self._every
        for seq in range(first_due, checker.last_seq + 1, self._every):
            if seq not in checkpoints and not checker.excused_at(seq):  # deleted with the checkpoint, the chain
                # could be rewritten without the key (a number of records added, recorded, was never the gateway's)
                return broken(checker.records, seq, "CHECKPOINT_MISSING")
        for seq, checkpoint in sorted(checkpoints.items()):
            if seq <= start_seq:
                continue
            if seq > checker.last_seq or checker.hash_of(seq) != checkpoint.hash:
                return broken(checker.records, seq, "CHECKPOINT_MISMATCH")
        ahead = uow.audit.subjects_ahead()
        if ahead is not None:  # a stranger named on a record to come: it would list that record as a use of theirs
            return broken(checker.records, ahead, "SUBJECTS_AHEAD")
        if past_end is not None:  # records past any number the chain reaches, still there, recorded: named as they
            # are now, from the first there to the last. Reported as the first break recorded, a row planted at 2^62
            # after one at 2^63 - 1 was recorded was named only in the WARNING (a reviewer, rereview R2)
            return dataclasses.replace(broken(checker.records, *past_end), recorded=True)
        if checker.noted is not None:  # last: a break recorded once must not hide one made since (a reviewer)
            return dataclasses.replace(broken(checker.records, *checker.noted), recorded=True)
        return ChainCheck(ok=True, records=checker.records, checkpoints=len(checkpoints))

    def _judge_start(self, seq: int, digest: bytes, memo: HeadMemo | None) -> tuple[int, str, int | None] | None:
        """(first number, reason, last number) when the chain's start, after checkpoint ``seq`` (of hash ``digest``),
        is not the one the start memo vouches for: records 1 to ``seq`` gone without ``zzgw audit prune`` (which
        writes the memo) are deleted records, however well the rest checks; None when it is vouched for."""
        if memo is None:
            return 1, "START_MEMO_MISSING", seq
        if not memo.memo:  # the row an upgrade left for a chain pruned before start memos: vouched for by init
            return 1, "START_NOT_YET_VOUCHED", seq
        if not self._memos.vouches_start(memo):
            return 1, "START_MEMO_INVALID", seq
        if memo.seq < seq:
            return memo.seq + 1, "DELETED_FROM_START", seq
        if (memo.seq, memo.hash) != (seq, digest):  # begins before the vouched start: records pruned came back
            return seq + 1, "START_MISMATCH", memo.seq
        return None

    def vouch_head(self) -> bool:
        """Vouch for the end of a chain upgraded across schema 0022 (the row migration 0022 left, empty): trusted once,
        at the upgrade (``zzgw init``), as the start is (``vouch_start``). It had been trusted by the next append,
        whenever that came, so a database-only attacker could delete records from the end and write such a row to be
        trusted the same way (a reviewer): an empty row an append meets is now a break. Whether there was one."""
        return self._vouch(start=False)

    def vouch_start(self) -> bool:
        """Vouch for the start of a chain pruned before start memos (the row migration 0024 left, empty): trusted
        once, at the upgrade, as the head's row is (``vouch_head``). Whether there was one to vouch for."""
        return self._vouch(start=True)

    def _vouch(self, *, start: bool) -> bool:
        return vouch_upgraded_row(self._db, self._memos, start=start)

    def _judge_end(
        self,
        checker: ChainChecker,
        memo: HeadMemo | None,
        newest: int | None,
        first_after: Callable[[int], int | None],
    ) -> tuple[tuple[int, str, int | None] | None, tuple[int, str, int] | None]:
        """(first number, reason, last number) when the chain's end is not the one the head ``memo`` vouches for,
        read with the number of the ``newest`` record then (``first_after`` the number of the first record after
        another); None when it is, or when the records after it are ones an ``AUDIT_BREAK`` the chain holds names:
        records past ``SEQ_BEYOND``, which appends keep clear of, given second instead (their first number there,
        ``UNVOUCHED_RECORDS``, their last), to be reported as recorded once nothing else is wrong."""
        last = checker.last_seq
        if memo is None:
            return (last, "HEAD_MEMO_MISSING", None), None
        if not memo.memo:  # the row an upgrade left, until its init vouches for it (``vouch_head``)
            if memo.seq != last or checker.hash_of(memo.seq) != memo.hash:  # it was read to its end, unvouched
                return _end_moved(last, memo.seq), None
            return (last, "HEAD_NOT_YET_VOUCHED", None), None
        if not self._memos.vouches(memo):
            return (last, "HEAD_MEMO_INVALID", None), None
        if memo.seq > last:
            return (last + 1, "TRUNCATED", memo.seq), None
        if checker.hash_of(memo.seq) != memo.hash:
            return (memo.seq, "HEAD_MISMATCH", None), None
        if newest is not None and newest > memo.seq:  # committed with no memo of it: not the gateway's
            first = first_after(memo.seq) or newest  # the first there: a record planted 1,000 past the end had been
            # reported as 1,000 records added (a reviewer, audit R2)
            if first < SEQ_BEYOND or not checker.covers_added(first, newest):
                return (first, "UNVOUCHED_RECORDS", newest), None
            return None, (first, "UNVOUCHED_RECORDS", newest)
        return None, None

    def list(
        self,
        caller: Member,
        *,
        holder_code: str = "",
        before_seq: int | None = None,
        limit: int = 100,
        operator: str = "",
    ) -> tuple[Sequence[AccessRecord], bool]:
        """A page of ``listing`` (its records, and whether more follow)."""
        page = self.listing(caller, holder_code=holder_code, before_seq=before_seq, limit=limit, operator=operator)
        return page.records, page.more

    def listing(
        self,
        caller: Member,
        *,
        holder_code: str = "",
        before_seq: int | None = None,
        limit: int = 100,
        operator: str = "",
        omit_own_listings: bool = False,
        catalog: Catalog | None = None,
    ) -> RecordPage:
        """A holder portal lists the uses of its holder's licenses (``holder_code`` required), and of the licenses
        that name the holder as a co-subject (a 结婚证 the wife's code: ``AuditEntry.subjects``); an issuer the uses
        of its own licenses, with ``holder_code`` those of one person's (held, or naming the person as a co-subject;
        it had been ignored: every holder's were listed as if they were that one's). Not an admin, who reads no
        personal data (``gateway.domain.sharing``, rule 2). Returns a page, newest first, and whether more
        follow it (a last page had named a next one, which came empty).

        Every listing is recorded (``LIST_ACCESS_RECORDS``), on the listed person's log: the one read of personal
        data through the gateway that had left no record, so that after a portal's credential leaked nobody could
        tell whose logs it read (an auditor). Every page, as a page from any ``before_seq`` reads as the first does.

        ``omit_own_listings`` leaves out the caller's own listings (``OWN_LISTINGS``: a portal's refreshes of the log,
        the consents and the licenses it shows had been 42 of a company's 212 records; a holder-portal tester), which
        are recorded all the same and listed without it. Each record comes with whose it is to the person listed
        (``relation_of``: their own, a license naming them, their child's), judged by the licenses of the page's
        co-subject records, read in the same transaction, and by ``catalog``'s types (without it, no guardian)."""
        if violation := operator_violation(operator):
            raise InvalidRequestError([violation])
        limit = max(1, min(limit, MAX_LIST))
        found, whose = self._listed(
            caller, holder_code, before_seq, limit + 1, omit=caller.code if omit_own_listings else None, catalog=catalog
        )
        listed = found[:limit]
        self.record(
            AuditEntry(
                at=self._clock.now(),
                caller=caller.code,
                operator=operator,
                action=AuditAction.LIST_ACCESS_RECORDS,
                matter_code="",
                purpose="",
                # an issuer's listing is on its own log too (of all its licenses' uses, it had been on no one's)
                issuer_code=caller.code if _lists_as_issuer(caller) else "",
                holder_code=holder_code.strip().upper(),
                decision="LISTED",
                reason=f"records={len(listed)}",
            )
        )
        return RecordPage(
            records=listed,
            relations=whose.relations[:limit],
            more=len(found) > limit,
            granters=whose.granters[:limit],
        )

    def _listed(
        self,
        caller: Member,
        holder_code: str,
        before_seq: int | None,
        limit: int,
        *,
        omit: str | None = None,
        catalog: Catalog | None = None,
    ) -> tuple[Sequence[AccessRecord], _Whose]:
        """The records listed, and each one's relation to ``holder_code`` and its consent's granter (None without
        one)."""
        holder_code = holder_code.strip().upper()  # as consents and listings take it (`GrantConsent`)
        left_out = (omit, OWN_LISTINGS) if omit is not None else None
        if caller.has(Role.HOLDER_PORTAL) and not _lists_as_issuer(caller):
            if not holder_code:
                raise InvalidRequestError(
                    [
                        FieldViolation(
                            field="holder_code",
                            reason="REQUIRED",
                            description=f"{holder_code_required()}（holder_code is required）",
                        )
                    ]
                )
            with self._db.unit_of_work() as uow:
                # the code alone names the holder of the types it tells: a 公民身份号码 those under 111 only; any other
                # code every type but 111, which holds no such code, so its records need no look-up of their licenses
                told = holder_code_types_of(holder_code)
                kinds = told if "111" in told else None
                found = uow.audit.about(
                    holder_code, code_types=kinds, before_seq=before_seq, limit=limit, omit=left_out
                )
                return found, _relations(uow, holder_code, found, catalog)
        if caller.has(Role.ISSUER):
            with self._db.unit_of_work() as uow:
                if holder_code:
                    # the code as the issuer stored it, under any type: its own licenses' uses (a reviewer)
                    found = uow.audit.about(
                        holder_code, issuer_code=caller.code, before_seq=before_seq, limit=limit, omit=left_out
                    )
                    return found, _relations(uow, holder_code, found, catalog)
                found = uow.audit.of(issuer_code=caller.code, before_seq=before_seq, limit=limit, omit=left_out)
                return found, _Whose((None,) * len(found), (None,) * len(found))
        raise PermissionDeniedError(
            "只有持证人门户和发证部门可以查询用证记录（only holder portals and issuers list access records）",
            reason="ROLE_NOT_ALLOWED",
        )

    def prune(
        self, older_than: dt.timedelta, *, progress: PruneProgress = PruneProgress(), step: int = PRUNE_BATCH
    ) -> int:
        """Remove the records older than ``older_than`` from the chain's start up to the first one that is not
        (``older_run_end``), and vouch for the chain's new start (``HeadMemos.start``); returns how many. A chain
        that does not check is not pruned (``AuditBroken``): pruning would vouch for what an edit left. A record's age
        is its own chained time, not a checkpoint's ``at``, which no signature covers (moved back, it had made prune
        delete today's records).

        The last of those records is seldom a checkpoint (every ``CHECKPOINT_EVERY``-th record): the step that cuts
        there signs one on it, under the chain lock, in the transaction that deletes up to it and writes its start
        memo, so the chain starts after a signed checkpoint as after any other. Cut at the newest checkpoint alone, a
        prune had kept records older than the retention until 1,000 more had been appended and had aged too, for
        months on a quiet gateway or for ever, while it removed the consents they named and said it had removed
        none older (a reviewer, R1). ``check`` finds a checkpoint off the cadence as any other, by its hash and its
        signature, and misses only those due at the multiples.

        Up to ``step`` records a transaction, to the newest checkpoint that near (the next one when none is), each
        committed with the start memo of its checkpoint: the chain checks after every commit, and a prune stopped
        between two (killed, a failed delete) leaves it checking for the next one to go on from. They had all gone in
        one transaction, a million of them holding the chain lock, and so every append, for seconds (a reviewer,
        R3). Each step reads where the chain starts under the chain lock, so a prune committing meanwhile is gone on
        from, never gone back on."""
        checked = self.check(progress.checking)
        if not checked.ok and not checked.recorded:  # a break an append recorded is known: its records may age out
            raise AuditBroken(checked)
        cutoff = self._clock.now() - older_than
        with self._db.unit_of_work() as uow:
            start = uow.audit.start_memo()
            begun = start.seq if start is not None else 0
            # from the chain's start, never past a record younger than the retention: cut at the newest checkpoint
            # older than it, all before that checkpoint had gone, records of today among them after the clock was
            # set back (a reviewer of the fixes, prunecp R1)
            # never past the end the gateway vouched for: records planted past it (``SEQ_BEYOND``) are not the
            # chain's, and a cut there had taken the chain's end with them
            vouched = uow.audit.head_memo()
            last = uow.audit.older_run_end(cutoff, after=begun, through=vouched.seq if vouched is not None else None)
            ends: dict[int, bytes | None] = {
                c.seq: c.hash for c in uow.audit.checkpoints() if last is not None and begun < c.seq <= last
            }
        if last is not None and last not in ends:
            ends[last] = None  # no checkpoint yet: signed by the step that cuts there
        progress.removing(max(0, max(ends, default=0) - begun))
        removed = 0
        while True:
            with self._db.unit_of_work(write=True) as uow:
                uow.lock_audit_chain()
                start = uow.audit.start_memo()
                after = start.seq if start is not None else 0
                ahead = sorted(seq for seq in ends if seq > after)
                if not ahead:
                    return removed
                end = max((seq for seq in ahead if seq <= after + step), default=ahead[0])
                digest = ends[end]
                if digest is None:  # records past the newest checkpoint older than the retention: cut at a signed one
                    digest = uow.audit.hash_at(end)
                    if digest is None:  # gone since the check, not by a prune (which would have moved the start)
                        return removed
                    uow.audit.add_checkpoint(self._checkpoint(end, digest))
                count = uow.audit.delete_through(end, after=after)
                uow.audit.set_start_memo(self._memos.start(end, digest))
                uow.commit()
            removed += count
            progress.removed(count)

    def _checkpoint(self, seq: int, digest: bytes) -> Checkpoint:
        """The gateway's signed checkpoint of record ``seq`` of hash ``digest``."""
        key = self._signer.key
        return Checkpoint(
            seq=seq,
            hash=digest,
            signature=key.sign(checkpoint_bytes(seq, digest)),
            algorithm=key.algorithm,
            key_id=key.key_id,
            at=self._clock.now(),
        )

    def _signed(self, checkpoint: Checkpoint) -> bool:
        public_key = self._public_key
        if checkpoint.key_id != self._signer.key.key_id and self._certificates is not None:
            earlier = self._certificates.of_key(checkpoint.key_id)  # signed before the key changed
            if earlier is None:
                return False
            public_key = public_key_der(earlier)
        try:
            verify_signature(
                public_key, checkpoint.algorithm, checkpoint_bytes(checkpoint.seq, checkpoint.hash),
                checkpoint.signature,
            )  # fmt: skip
        except InvalidSignature:
            return False
        return True
