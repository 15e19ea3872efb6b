"""Retention of holders' consents and access requests: `zzgw audit prune` removes, with the access records older than
``audit_retention_days``, the consents and access requests that ended longer ago than that — and nothing in force,
nothing still pending — a batch a transaction, on SQLite and PostgreSQL; the audit trail still checks afterwards, and
a trail deleted after its only witnesses were pruned is still found (ADR 0010)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Table, event, insert, text
from sqlalchemy.orm import Session

from gateway.domain.audit import AuditAction, AuditEntry, HeadMemos
from gateway.domain.counts import counted
from gateway.domain.paging import PageTokens
from gateway.services.audit import AuditSigner, AuditTrail
from gateway.services.authorization import AuthorizationService, Pruned
from gateway.services.members import load_bootstrap_catalog
from gateway.store.database import Database
from gateway.store.models import ConsentRow
from gateway.store.repositories import PRUNED_WITNESS, ConsentRepository, StoredAccessRequest, StoredConsent
from protos.zzgw.v1 import authorization_pb2
from tests.api.test_audit import FrozenClock
from tests.api.test_authorization import APPROVE, PENDING, REJECT, WITHDRAW, decide_request, refused, request_access
from tests.api.test_sharing import (
    BDCZY,
    ID_CARD,
    REAL_ESTATE,
    Clocked,
    authorization,
    clocked_gateway,
    data,
    denied,
    grant,
    id_card,
    records_of,
)
from tests.commands import ROOT, run_python, run_zzgw
from tests.conftest import (
    PASSPHRASE,
    POLICE,
    PORTAL,
    backend_params,
    fresh_database,
    gateway_key,
    initialised_copy,
)

DAYS = 30
"""The retention the tests set (``ZZGW_AUDIT_RETENTION_DAYS``)."""


@pytest.fixture(params=backend_params())
def clocked(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Clocked]:
    """A gateway with a clock of its own on a fresh store of its own: the prune must find only this test's rows. The
    store and data directory are a copy of a store set up by ``initialise`` (``initialised_copy``: its migrations,
    members and seals made once in the process, not for each test), which the gateway's own init then finds set up;
    no test here is of a new store's first init."""
    with fresh_database(request.param, tmp_path) as url:
        assert initialised_copy(url, tmp_path / "var")
        with clocked_gateway(tmp_path / "var", url) as gateway:
            yield gateway


def operator_env(clocked: Clocked, days: int = DAYS) -> dict[str, str]:
    """The environment of the operator's commands on the gateway's store, with a retention of ``days``."""
    running = clocked.running
    return {
        **os.environ,
        "ZZGW_DATA_DIR": str(running.data_dir),
        "ZZGW_DATABASE_URL": running.gateway.settings.effective_database_url,
        "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
        "ZZGW_AUDIT_RETENTION_DAYS": str(days),
    }


def zzgw(clocked: Clocked, *args: str, days: int = DAYS) -> subprocess.CompletedProcess[str]:
    """``zzgw *args`` run by the operator on the gateway's store, with a retention of ``days``."""
    return run_zzgw(*args, env=operator_env(clocked, days))


def said(removed: int, consents: int, requests: int, days: int = DAYS) -> str:
    """What `zzgw audit prune` prints of what it removed (one of a kind in the singular: ``1 consent``)."""
    return (
        f"已删除超过 {days} 天的用证记录 {removed} 条（removed {counted(removed, 'access record')} older than "
        f"{counted(days, 'day')}）\n"
        f"已删除结束已超过 {days} 天的持证人授权 {consents} 项（removed {counted(consents, 'consent')} that ended more "
        f"than {counted(days, 'day')} ago）\n"
        f"已删除结束已超过 {days} 天的共享申请 {requests} 项（removed {counted(requests, 'access request')} that ended "
        f"more than {counted(days, 'day')} ago）\n"
    )


def stored(clocked: Clocked) -> tuple[set[str], set[str]]:
    """The ids of the consents and of the access requests in the store."""
    with clocked.running.gateway.db.engine.connect() as connection:
        consents = set(connection.execute(text("SELECT consent_id FROM consents")).scalars())
        requests = set(connection.execute(text("SELECT request_id FROM access_requests")).scalars())
    return consents, requests


def keyed_grant(clocked: Clocked, holder_code: str, key: str, days: int) -> authorization_pb2.GrantConsentRequest:
    """A grant with an idempotency key, to be sent again as its retry."""
    until = Timestamp()
    until.FromDatetime(clocked.clock.now() + dt.timedelta(days=days))
    return authorization_pb2.GrantConsentRequest(
        holder_code=holder_code,
        grantee_code=REAL_ESTATE,
        matter_code=BDCZY.matter_code,
        type_codes=[ID_CARD],
        valid_until=until,
        uses=1,
        client_request_id=key,
    )


def withdraw_consent(clocked: Clocked, consent_id: str, holder_code: str) -> None:
    authorization(clocked.running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=consent_id, holder_code=holder_code)
    )


def test_prune_removes_the_consents_and_requests_that_ended_longer_ago_and_nothing_in_force(clocked: Clocked) -> None:
    """Consents and access requests in each state, made 100, 40 and 20 days ago and now: `zzgw audit prune` with a
    retention of 30 days removes those that ended more than 30 days ago — expired, withdrawn (though still valid),
    rejected, approved and ended, approved and withdrawn (though its end is to come), pending past its deadline — and
    keeps the rest: in force, used up but still valid, withdrawn or ended recently, approved until later, pending, a
    request whose deadline passed recently though its rejection did not. The trail still checks, and the store goes
    on: a new grant, a retried one and a retried request (now new ones), checked again. (Each state at its edges,
    used up and expired among them: ``test_what_ended_is_removed_a_batch_a_transaction``.)"""
    running, clock = clocked.running, clocked.clock
    card = id_card(running).license
    holder = card.holder.code

    used_up = grant(running, holder, days=266)  # used up now, before any approval (which a read would use first)
    assert data(running, card.license_id, BDCZY, code=used_up.code).consent_uses_left == 0
    clock.advance(dt.timedelta(days=-100))  # (a read then would find the seal's revocation list not yet issued)
    expired = grant(running, holder, days=7)
    keyed = keyed_grant(clocked, holder, "withdrawn-long-ago", days=366)
    withdrawn_long_ago = authorization(running, PORTAL).GrantConsent(keyed)
    withdraw_consent(clocked, withdrawn_long_ago.consent.consent_id, holder)
    in_force = grant(running, holder, days=366, uses=5)
    rejected = request_access(running, client_request_id="rejected-long-ago")
    decide_request(running, rejected.request_id, REJECT, reason="不符合共享条件")
    ended_approval = request_access(running)
    decide_request(running, ended_approval.request_id, APPROVE, duration_days=10)
    approved = request_access(running, duration_days=365)
    decide_request(running, approved.request_id, APPROVE, duration_days=365)
    withdrawn_approval = request_access(running, duration_days=365)
    decide_request(running, withdrawn_approval.request_id, APPROVE, duration_days=365)
    decide_request(running, withdrawn_approval.request_id, WITHDRAW, reason="已不再需要")
    ended_recently = request_access(running, duration_days=80)  # approved until 20 days ago
    decide_request(running, ended_recently.request_id, APPROVE, duration_days=80)
    undecided = request_access(running)  # its deadline 86 days ago: expired

    clock.advance(dt.timedelta(days=60))  # 40 days ago: rejected then, but its deadline passed 26 days ago
    rejected_late = request_access(running)
    decide_request(running, rejected_late.request_id, REJECT, reason="不符合共享条件")

    clock.advance(dt.timedelta(days=20))  # 20 days ago
    withdrawn_recently = grant(running, holder, days=366)
    withdraw_consent(clocked, withdrawn_recently.consent.consent_id, holder)
    expired_recently = grant(running, holder, days=7)
    lapsed_recently = request_access(running)  # its deadline 6 days ago

    clock.advance(dt.timedelta(days=20))  # now
    pending = request_access(running)
    assert pending.state == PENDING

    # while they are kept, a retry with their keys is answered as the first
    assert request_access(running, client_request_id="rejected-long-ago").request_id == rejected.request_id
    code, reason, _ = refused(lambda: authorization(running, PORTAL).GrantConsent(keyed))
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "CONSENT_CODE_NOT_KEPT")

    before = stored(clocked)
    kept = zzgw(clocked, "audit", "prune", days=0)
    assert (kept.returncode, kept.stdout) == (
        0,
        "zzgw audit prune: audit_retention_days is 0 (keep for ever): nothing to do\n",
    )
    assert stored(clocked) == before

    pruned = zzgw(clocked, "audit", "prune")
    assert (pruned.returncode, pruned.stdout, pruned.stderr) == (0, said(0, 2, 4), "")
    assert stored(clocked) == (
        {c.consent.consent_id for c in (used_up, in_force, withdrawn_recently, expired_recently)},
        {r.request_id for r in (approved, ended_recently, rejected_late, lapsed_recently, pending)},
    )
    assert before[0] - stored(clocked)[0] == {c.consent.consent_id for c in (expired, withdrawn_long_ago)}
    assert before[1] - stored(clocked)[1] == {
        r.request_id for r in (rejected, ended_approval, withdrawn_approval, undecided)
    }
    again = zzgw(clocked, "audit", "prune")
    assert (again.returncode, again.stdout) == (0, said(0, 0, 0))

    verified = zzgw(clocked, "audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("audit trail intact: ")
    # what is gone is unknown: its code, its idempotency key (a retry is a new grant, a new request)
    assert denied(lambda: data(running, card.license_id, BDCZY, code=expired.code))[0] == "CONSENT_NOT_FOUND"
    regranted = authorization(running, PORTAL).GrantConsent(keyed)
    assert regranted.consent.consent_id != withdrawn_long_ago.consent.consent_id
    assert regranted.consent.state == authorization_pb2.CONSENT_STATE_ACTIVE
    requested = request_access(running, client_request_id="rejected-long-ago")
    assert requested.request_id != rejected.request_id and requested.state == PENDING
    grant(running, holder)
    verified = zzgw(clocked, "audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("audit trail intact: ")


@pytest.mark.parametrize("kind", backend_params())
def test_a_trail_deleted_after_its_only_witnesses_were_pruned_is_still_found(kind: str, tmp_path: Path) -> None:
    """A store whose only witnesses of its audit trail were consents (no receipt: ADR 0010), pruned: the prune leaves
    a fact that witnesses it in their place, so the trail deleted afterwards is TRAIL_DELETED, not a new store's,
    and the next grant records the break."""
    with fresh_database(kind, tmp_path) as url:
        with clocked_gateway(tmp_path / "var", url) as clocked:
            running = clocked.running
            holder = id_card(running).license.holder.code
            clocked.clock.advance(dt.timedelta(days=-100))
            grant(running, holder, days=7)
            clocked.clock.advance(dt.timedelta(days=100))
            pruned = zzgw(clocked, "audit", "prune").stdout
            assert pruned == said(1, 1, 0) and "（removed 1 consent that ended more than 30 days ago）" in pruned
            with running.gateway.db.engine.begin() as connection:
                assert connection.execute(text("SELECT count(*) FROM receipts")).scalar() == 0
                assert connection.execute(text("SELECT count(*) FROM consents")).scalar() == 0
                for table in ("access_record_subjects", "access_records", "audit_checkpoints", "audit_head"):
                    connection.execute(text(f"DELETE FROM {table}"))
        with clocked_gateway(tmp_path / "var", url) as clocked:  # a restart: nothing remembered of the chain
            deleted = zzgw(clocked, "audit", "verify")
            assert deleted.returncode == 1 and "(TRAIL_DELETED)" in deleted.stderr
            grant(clocked.running, holder)
            still = zzgw(clocked, "audit", "verify")
            assert still.returncode == 1 and "(TRAIL_DELETED)" in still.stderr


def test_a_chain_whose_end_is_not_yet_vouched_for_keeps_its_records_and_is_said_undecided(clocked: Clocked) -> None:
    """A chain whose end is the row an upgrade across schema 0022 leaves, not yet vouched for: `zzgw audit verify`
    says it is undecided (exit 3), normal right after an upgrade, and `zzgw audit prune` had said "audit trail BROKEN"
    with exit 1, the status of tampering (a reviewer, R2). It prunes no access record, and says so in verify's words,
    exit 3; the consent that ended long ago goes all the same (a review, audittrail R4)."""
    running = clocked.running
    holder = id_card(running).license.holder.code
    clocked.clock.advance(dt.timedelta(days=-100))
    grant(running, holder, days=7)  # ended 93 days ago: a prune's to remove
    clocked.clock.advance(dt.timedelta(days=100))
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("UPDATE audit_head SET memo = :empty WHERE id = 1"), {"empty": b""})
        records = connection.execute(text("SELECT count(*) FROM access_records")).scalar()
    verified = zzgw(clocked, "audit", "verify")
    assert verified.returncode == 3 and "(HEAD_NOT_YET_VOUCHED)" in verified.stdout, verified.stderr
    assert stored(clocked)[0]
    pruned = zzgw(clocked, "audit", "prune")
    assert (pruned.returncode, pruned.stdout) == (3, ended_lines(1, 0))
    assert pruned.stderr == not_pruned(verified.stdout)
    assert "BROKEN" not in pruned.stderr
    assert stored(clocked) == (set(), set())
    with running.gateway.db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM access_records")).scalar() == records
    again = zzgw(clocked, "audit", "verify")
    assert (again.returncode, again.stdout, again.stderr) == (verified.returncode, verified.stdout, verified.stderr)


def not_pruned(verdict: str) -> str:
    """What `zzgw audit prune` says on standard error of a chain that does not check, ``verdict`` verify's words."""
    return f"zzgw audit prune: access records not pruned, as the audit chain does not check: {verdict}"


def ended_lines(consents: int, requests: int) -> str:
    """The two lines `zzgw audit prune` prints of the consents and access requests it removed (``said`` without the
    access records' line)."""
    return said(0, consents, requests).split("\n", 1)[1]


BREAKS = {
    # the sharing tester's deletion of the newest three (ADR 0010), then a call: a GAP, reported for good
    "GAP": "DELETE FROM access_records WHERE seq > (SELECT max(seq) - 3 FROM access_records)",
    "PREV_MISMATCH": "UPDATE access_records SET prev_hash = :x WHERE seq = (SELECT min(seq) + 1 FROM access_records)",
}
"""Breaks made by SQL that no append records (no ``AUDIT_BREAK``): each stops the access records' prune for good."""


def broken(clocked: Clocked, reason: str, holder: str) -> subprocess.CompletedProcess[str]:
    """The chain broken by ``BREAKS[reason]``, then a call appended (the holder's log listed: no consent, request or
    receipt written); `zzgw audit verify`'s answer, which says ``reason``."""
    running = clocked.running
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text(BREAKS[reason]), {"x": b"x"})
    records_of(running, holder)
    verified = zzgw(clocked, "audit", "verify")
    assert (verified.returncode, verified.stdout) == (1, ""), verified.stdout
    assert f"({reason})" in verified.stderr, verified.stderr
    return verified


def seqs(clocked: Clocked) -> list[int]:
    """The numbers of the access records in the store, in order."""
    with clocked.running.gateway.db.engine.connect() as connection:
        return list(connection.execute(text("SELECT seq FROM access_records ORDER BY seq")).scalars())


@pytest.mark.parametrize("reason", list(BREAKS))
def test_a_broken_chain_keeps_its_records_but_not_the_consents_and_requests_that_ended_long_ago(
    clocked: Clocked, reason: str
) -> None:
    """Records deleted from the chain's end leave a GAP that stays (ADR 0010), and an edit in the middle a
    PREV_MISMATCH: `zzgw audit prune` refused such a chain and then removed nothing at all, so one tampering kept
    every consent and access request, 公民身份号码 and all, for ever past the retention (a review, audittrail R4). It
    still prunes no access record, and says why on standard error in verify's words, exit 1; the consent and the
    request that ended 93 and 86 days ago go, as on a chain that checks, and nothing in force or pending. The chain is
    reported as before, and the next prune removes nothing more."""
    running, clock = clocked.running, clocked.clock
    holder = id_card(running).license.holder.code
    clock.advance(dt.timedelta(days=-100))
    grant(running, holder, days=7)  # ended 93 days ago
    rejected = request_access(running)  # its deadline 86 days ago, rejected 100 days ago
    decide_request(running, rejected.request_id, REJECT, reason="不符合共享条件")
    clock.advance(dt.timedelta(days=100))
    in_force = grant(running, holder, days=30)
    pending = request_access(running)
    verified = broken(clocked, reason, holder)
    records = seqs(clocked)
    assert records and records[0] == 1  # the old grant's and request's records among them, older than the retention

    pruned = zzgw(clocked, "audit", "prune")
    assert (pruned.returncode, pruned.stdout) == (1, ended_lines(1, 1)), pruned.stderr
    assert pruned.stderr == not_pruned(verified.stderr)
    assert stored(clocked) == ({in_force.consent.consent_id}, {pending.request_id})
    assert seqs(clocked) == records
    again = zzgw(clocked, "audit", "verify")
    assert (again.returncode, again.stdout, again.stderr) == (1, "", verified.stderr)
    more = zzgw(clocked, "audit", "prune")
    assert (more.returncode, more.stdout, more.stderr) == (1, ended_lines(0, 0), not_pruned(verified.stderr))
    assert seqs(clocked) == records


@pytest.mark.parametrize("kind", backend_params())
def test_a_trail_deleted_after_its_witnesses_were_pruned_from_a_broken_chain_is_still_found(
    kind: str, tmp_path: Path
) -> None:
    """The consent, the store's only witness of its trail but the store fact, pruned from a chain that does not check
    (a GAP): the prune writes the fact in its place (deleted here beforehand, so that only the prune's can stand), and
    the trail deleted whole afterwards is TRAIL_DELETED, not a new store's, before and after the next call."""
    with fresh_database(kind, tmp_path) as url:
        with clocked_gateway(tmp_path / "var", url) as clocked:
            running = clocked.running
            holder = id_card(running).license.holder.code
            clocked.clock.advance(dt.timedelta(days=-100))
            grant(running, holder, days=7)
            clocked.clock.advance(dt.timedelta(days=100))
            for _ in range(3):  # records after the grant's, for the deletion to take from the end
                records_of(running, holder)
            verified = broken(clocked, "GAP", holder)
            with running.gateway.db.engine.begin() as connection:
                connection.execute(text("DELETE FROM gateway_facts WHERE name = :name"), {"name": PRUNED_WITNESS})
            pruned = zzgw(clocked, "audit", "prune")
            assert (pruned.returncode, pruned.stdout) == (1, ended_lines(1, 0)), pruned.stderr
            assert pruned.stderr == not_pruned(verified.stderr)
            with running.gateway.db.engine.begin() as connection:
                assert connection.execute(text("SELECT count(*) FROM receipts")).scalar() == 0
                assert connection.execute(text("SELECT count(*) FROM consents")).scalar() == 0
                assert connection.execute(text("SELECT count(*) FROM access_requests")).scalar() == 0
                fact = text("SELECT value FROM gateway_facts WHERE name = :name")
                assert connection.execute(fact, {"name": PRUNED_WITNESS}).scalar() == (
                    "consents or access requests removed past their retention"
                )
                for table in ("access_record_subjects", "access_records", "audit_checkpoints", "audit_head"):
                    connection.execute(text(f"DELETE FROM {table}"))
        with clocked_gateway(tmp_path / "var", url) as clocked:  # a restart: nothing remembered of the chain
            deleted = zzgw(clocked, "audit", "verify")
            assert deleted.returncode == 1 and "(TRAIL_DELETED)" in deleted.stderr, deleted.stderr
            grant(clocked.running, holder)
            still = zzgw(clocked, "audit", "verify")
            assert still.returncode == 1 and "(TRAIL_DELETED)" in still.stderr, still.stderr


def test_records_older_than_the_retention_go_though_no_checkpoint_is_older(clocked: Clocked) -> None:
    """A prune cut only at a signed checkpoint (every 1,000th record), so records older than the retention stayed
    until a checkpoint after them was older too: for months on a quiet gateway, for ever on one retired, while the
    consents they named were removed and the prune said it had removed none (a reviewer, R1). Records older than the
    retention are removed up to the first that is not, at a checkpoint the prune signs on the last of them; the
    holder's log keeps none of them. The gateway serves meanwhile, its calls appended by its group writer; the chain
    checks afterwards, the new start included, and after more records past the next checkpoint, and a prune again
    removes nothing more."""
    running, clock = clocked.running, clocked.clock
    card = id_card(running).license
    holder = card.holder.code
    clock.advance(dt.timedelta(days=-100))
    for _ in range(3):  # ended 93 days ago, each on the holder's log
        grant(running, holder, days=7)
    clock.advance(dt.timedelta(days=100))
    old_records(clocked, 1_400, days=100)  # records past checkpoint 1,000, none of them one
    cutoff = clock.now() - dt.timedelta(days=DAYS)
    with running.gateway.db.unit_of_work() as uow:
        older = [record.seq for record in uow.audit.page(0, 5_000) if record.entry.at < cutoff]
    assert older == list(range(1, len(older) + 1)) and len(older) > 1_400, older[:5]
    stop = threading.Event()
    served: list[str] = []

    def serving() -> None:  # grants, and reads with them, appended by the group writer
        while not stop.is_set():
            served.append(data(running, card.license_id, BDCZY, code=grant(running, holder, days=30).code).license_id)

    serve = threading.Thread(target=serving)
    serve.start()
    try:
        pruned = zzgw(clocked, "audit", "prune")
    finally:
        stop.set()
        serve.join()
    assert (pruned.returncode, pruned.stdout, pruned.stderr) == (0, said(len(older), 3, 0), "")
    assert served and set(served) == {card.license_id}
    with running.gateway.db.engine.connect() as connection:
        first = connection.execute(text("SELECT min(seq) FROM access_records")).scalar()
        signed = set(connection.execute(text("SELECT seq FROM audit_checkpoints")).scalars())
    assert first == older[-1] + 1 and {1_000, older[-1]} <= signed  # and those the calls reached since
    assert all(seq % 1_000 == 0 for seq in signed - {older[-1]})
    assert not [r for r in records_of(running, holder) if r.at.ToDatetime(dt.UTC) < cutoff]
    verified = zzgw(clocked, "audit", "verify")
    assert (verified.returncode, verified.stderr) == (0, ""), verified.stdout
    assert verified.stdout.endswith(f", {len(signed)} signed checkpoints\n"), verified.stdout
    old_records(clocked, 1_000, days=0)  # past the next checkpoint, due on the cadence as before
    verified = zzgw(clocked, "audit", "verify")
    assert (verified.returncode, verified.stderr) == (0, ""), verified.stdout
    assert verified.stdout.endswith(f", {len(signed) + 1} signed checkpoints\n"), verified.stdout
    again = zzgw(clocked, "audit", "prune")
    assert (again.returncode, again.stdout, again.stderr) == (0, said(0, 0, 0), "")


KILLED_PRUNE = r"""
import datetime as dt, os, signal, sys

from sqlalchemy import event

from gateway.cli import _open_store
from gateway.config import Settings

gateway = _open_store(Settings.load(None))
deletes = []


def executed(_conn, _cursor, statement, *_):
    if statement.startswith("DELETE FROM access_records"):
        deletes.append(statement)
        if len(deletes) == int(sys.argv[1]):  # killed as it ran: its transaction not committed
            os.kill(os.getpid(), signal.SIGKILL)


event.listen(gateway.db.engine, "after_cursor_execute", executed)
gateway.audit.prune(dt.timedelta(days=int(os.environ["ZZGW_AUDIT_RETENTION_DAYS"])))
"""
"""`zzgw audit prune`'s removal of access records killed (SIGKILL) as its ``argv[1]``-th delete of them runs."""


def test_records_younger_than_the_retention_before_a_checkpoint_older_than_it_are_kept(clocked: Clocked) -> None:
    """A prune cut at the newest checkpoint whose record was older than the retention, and all before it went: after
    the gateway's clock was set back, 900 records of today before checkpoint 1,000, dated 100 days ago, were removed
    with it and counted as older than the retention (a reviewer of the fixes, prunecp R1). Records go from the chain's
    start up to the first one that is not older than the retention, never past it."""
    old_records(clocked, 900, days=0)
    old_records(clocked, 300, days=100)  # the clock set back: records 901-1,200, checkpoint 1,000 among them
    pruned = zzgw(clocked, "audit", "prune")
    assert (pruned.returncode, pruned.stdout, pruned.stderr) == (0, said(0, 0, 0), "")
    with clocked.running.gateway.db.engine.connect() as connection:
        assert connection.execute(text("SELECT min(seq), count(*) FROM access_records")).one() == (1, 1_200)
    assert zzgw(clocked, "audit", "verify").returncode == 0


def old_records(clocked: Clocked, count: int, days: int) -> None:
    """``count`` access records of ``days`` ago, appended through the gateway's own audit trail (its checkpoints,
    signed, every 1,000), a thousand a transaction."""
    gateway, clock = clocked.running.gateway, clocked.clock
    assert gateway.audit is not None
    clock.advance(dt.timedelta(days=-days))
    try:
        use = AuditEntry(
            at=clock.now(),
            caller=REAL_ESTATE,
            operator="窗口001",
            action=AuditAction.VERIFY_LICENSE,
            matter_code=BDCZY.matter_code,
            purpose=BDCZY.purpose,
            decision="PASSED",
        )
        for done in range(0, count, 1000):
            with gateway.db.unit_of_work(write=True) as uow:
                gateway.audit.append(uow, [use] * min(1000, count - done))
                uow.commit()
    finally:
        clock.advance(dt.timedelta(days=days))


def on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``zzgw *args`` with its standard error on a terminal (a pseudo-terminal 120 columns wide) and its standard
    output on a pipe: its status, its output and what the terminal showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    with subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=slave
    ) as command:
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command, the terminal's only writer, has ended
                break
            if not chunk:
                break
            shown += chunk
        out = command.communicate(timeout=120)[0]
    os.close(master)
    return command.returncode, out.decode(), shown.decode(errors="replace")


@pytest.mark.parametrize("killed", ["between two steps", "within a step"])
def test_a_prune_killed_midway_leaves_a_chain_that_checks_and_the_next_one_finishes(
    clocked: Clocked, killed: str
) -> None:
    """12,000 access records 100 days old, pruned by `zzgw audit prune` a step at a time: 5,000, 5,000 and 2,000
    records, each up to a checkpoint, committed with the start memo. They had gone in one transaction, however many,
    where operations.md says at most 5,000 rows go a transaction, and the minute-long check of a million showed
    nothing (a reviewer, R3). A prune killed as its second step's delete runs, its first step committed ("between two
    steps"), or as its first step's does ("within a step"), leaves a chain that checks, what it committed gone and
    nothing else; the next prune removes the rest, its check and its removal shown on a terminal."""
    old_records(clocked, 12_000, days=100)
    env = operator_env(clocked)
    killing = "2" if killed == "between two steps" else "1"
    died = run_python(KILLED_PRUNE, killing, env=env)
    assert died.returncode == -signal.SIGKILL, died.stderr
    left = 7_000 if killed == "between two steps" else 12_000
    verified = zzgw(clocked, "audit", "verify")
    assert (verified.returncode, verified.stdout) == (
        0,
        f"audit trail intact: {counted(left, 'record')}, 12 signed checkpoints\n",
    ), verified.stderr
    status, out, shown = on_a_terminal(env, "audit", "prune")
    assert (status, out) == (0, said(left, 0, 0)), shown
    assert "checking the audit chain: 100%" in shown and f"{left}/{left}" in shown
    assert "removing access records: 100%" in shown
    verified = zzgw(clocked, "audit", "verify")
    assert (verified.returncode, verified.stdout) == (0, "audit trail intact: 0 records, 12 signed checkpoints\n")
    again = zzgw(clocked, "audit", "prune")
    assert (again.returncode, again.stdout, again.stderr) == (0, said(0, 0, 0), "")  # nothing shown off a terminal


STOPPED_PRUNE = r"""
import os, signal, sqlite3, sys

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from gateway.cli import main

deletes = []


def executed(conn, _cursor, statement, *_):
    if statement.startswith("DELETE FROM access_records"):
        deletes.append(statement)
        if len(deletes) == 2:  # the second step's delete, the first step's committed
            if sys.argv[1] == "interrupted":
                os.kill(os.getpid(), signal.SIGINT)
            elif conn.dialect.name == "postgresql":  # the server ends the prune's connection
                pid = conn.connection.dbapi_connection.info.backend_pid
                url = make_url(os.environ["ZZGW_DATABASE_URL"]).set(drivername="postgresql")
                with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            else:  # SQLite's file held by another writer past the busy timeout, as the driver says it
                raise sqlite3.OperationalError("database is locked")


signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, as on a terminal (not ignored as by a runner)
event.listen(Engine, "after_cursor_execute", executed)
sys.exit(main(["audit", "prune"]))
"""
"""`zzgw audit prune` stopped as its second step's delete of access records runs, its first step committed: by a
Ctrl-C (``argv[1]`` "interrupted"), or by the store failing (PostgreSQL ending the connection; SQLite locked)."""


def stopped_after(removed: int, days: int = DAYS) -> str:
    """What `zzgw audit prune` stopped midway says after why it stopped, once it had removed any records."""
    return (
        f"zzgw audit prune: 停止前已删除超过 {days} 天的用证记录 {removed} 条，审计链完整，下次清理从此处继续；"
        f"本次未清理持证人授权和共享申请（removed {counted(removed, 'access record')} older than "
        f"{counted(days, 'day')} before it stopped: the audit chain checks, and the next prune goes on from there; "
        "consents and access requests were not pruned）\n"
    )


@pytest.mark.parametrize("stopped", ["interrupted", "the store failing"])
def test_a_prune_stopped_after_a_step_says_how_many_records_it_removed_and_that_consents_were_not_pruned(
    clocked: Clocked, stopped: str
) -> None:
    """A prune stopped after its first step of 5,000 records had said only "interrupted" (130) or "cannot use …"
    (75), which before the steps meant that nothing was removed: 5,000 access records were gone for good, and the
    consents and access requests, pruned after them, were not reached (a reviewer, R1). It says why it stopped, then
    how many it removed, that the chain checks and the next prune goes on, and that consents and access requests were
    not pruned, with the same exit status; and so they are, the next prune removing them and the records left."""
    running = clocked.running
    holder = id_card(running).license.holder.code
    clocked.clock.advance(dt.timedelta(days=-100))
    grant(running, holder, days=7)  # ended 93 days ago: a prune's to remove
    clocked.clock.advance(dt.timedelta(days=100))
    old_records(clocked, 12_000, days=100)
    with running.gateway.db.engine.connect() as connection:
        records = connection.execute(text("SELECT count(*) FROM access_records")).scalar()
    before = stored(clocked)
    done = run_python(STOPPED_PRUNE, stopped, env=operator_env(clocked))
    assert (done.returncode, done.stdout) == ((130, "") if stopped == "interrupted" else (75, "")), done.stderr
    if stopped == "interrupted":
        assert done.stderr == "\nzzgw audit: interrupted\n" + stopped_after(5_000)
    else:
        why, said_after = done.stderr.split("\n", 1)
        assert why.startswith("zzgw audit: cannot use ") and said_after == stopped_after(5_000), done.stderr
    assert stored(clocked) == before and before[0]  # the consent that ended 93 days ago: not reached
    verified = zzgw(clocked, "audit", "verify")
    assert (verified.returncode, verified.stdout) == (
        0,
        f"audit trail intact: {counted(records - 5_000, 'record')}, 12 signed checkpoints\n",
    ), verified.stderr
    pruned = zzgw(clocked, "audit", "prune")
    # the grant's record and 12,000 after it, up to the newest: at checkpoint 12,000 it had stopped (a reviewer, R1)
    assert (pruned.returncode, pruned.stdout, pruned.stderr) == (0, said(records - 5_000, 1, 0), "")
    assert records - 5_000 == 7_001
    assert not stored(clocked)[0]


STOPPED_IN_CONSENTS = STOPPED_PRUNE.replace('"DELETE FROM access_records"', '"DELETE FROM consents"')
"""`zzgw audit prune` stopped as its second batch's delete of consents runs, its first batch committed."""


@pytest.mark.parametrize("stopped", ["interrupted", "the store failing"])
def test_a_prune_stopped_while_it_removes_consents_says_how_many_it_removed(clocked: Clocked, stopped: str) -> None:
    """A prune stopped after its first batch of 5,000 consents had said only "interrupted" (130) or "cannot use …"
    (75), which the docs read as nothing removed: the 5,000 were gone for good, unaccounted for (a reviewer, R2). It
    says why it stopped, then how many consents and access requests it removed, with the same exit status; the
    records' line is on standard output as before, and the next prune removes the rest."""
    old_records(clocked, 1, days=0)  # a trail: a store with consents and none is TRAIL_DELETED
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    with clocked.running.gateway.db.unit_of_work(write=True) as uow:
        added_together(uow.session, [consent(n, ended, 1, None) for n in range(6_000)])
        uow.commit()
    assert "DELETE FROM consents" in STOPPED_IN_CONSENTS  # the stop where the reviewer put it
    done = run_python(STOPPED_IN_CONSENTS, stopped, env=operator_env(clocked))
    assert done.stdout == said(0, 0, 0).splitlines(keepends=True)[0], done.stderr
    removed = stopped_in_consents(5_000)
    if stopped == "interrupted":
        assert (done.returncode, done.stderr) == (130, "\nzzgw audit: interrupted\n" + removed)
    else:
        why, said_after = done.stderr.split("\n", 1)
        assert done.returncode == 75 and why.startswith("zzgw audit: cannot use ") and said_after == removed
    assert len(stored(clocked)[0]) == 1_000
    pruned = zzgw(clocked, "audit", "prune")
    assert (pruned.returncode, pruned.stdout, pruned.stderr) == (0, said(0, 1_000, 0), "")


def stopped_in_consents(consents: int) -> str:
    """What `zzgw audit prune` stopped as it removes the consents says after why it stopped, ``consents`` removed."""
    return (
        f"zzgw audit prune: 停止前已删除结束已超过 {DAYS} 天的持证人授权 {consents} 项、共享申请 0 项，下次清理从此处"
        f"继续（removed {counted(consents, 'consent')} and 0 access requests that ended more than {DAYS} days ago "
        "before it stopped: the next prune goes on from there）\n"
    )


@pytest.mark.parametrize("stopped", ["interrupted", "the store failing"])
def test_a_prune_of_a_broken_chain_stopped_while_it_removes_consents_says_how_many_it_removed(
    clocked: Clocked, stopped: str
) -> None:
    """On a chain that does not check (a PREV_MISMATCH), the prune keeps the access records, says so, and removes the
    consents that ended long ago (a review, audittrail R4); stopped after its first batch of 5,000, it says after
    that line why it stopped and how many it removed, with the status of the stop (130, 75), as on a chain that
    checks. The store fact that witnesses the trail (deleted here beforehand) came with the first batch, in its
    transaction; the next prune removes the rest, the records still kept."""
    old_records(clocked, 3, days=0)
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    with clocked.running.gateway.db.unit_of_work(write=True) as uow:
        added_together(uow.session, [consent(n, ended, 1, None) for n in range(6_000)])
        uow.commit()
    with clocked.running.gateway.db.engine.begin() as connection:
        connection.execute(text(BREAKS["PREV_MISMATCH"]), {"x": b"x"})
        connection.execute(text("DELETE FROM gateway_facts WHERE name = :name"), {"name": PRUNED_WITNESS})
    verified = zzgw(clocked, "audit", "verify")
    assert verified.returncode == 1 and "(PREV_MISMATCH)" in verified.stderr, verified.stderr
    done = run_python(STOPPED_IN_CONSENTS, stopped, env=operator_env(clocked))
    assert done.stdout == "", done.stderr
    kept, after = done.stderr[: len(not_pruned(verified.stderr))], done.stderr[len(not_pruned(verified.stderr)) :]
    assert kept == not_pruned(verified.stderr), done.stderr
    if stopped == "interrupted":
        assert (done.returncode, after) == (130, "\nzzgw audit: interrupted\n" + stopped_in_consents(5_000))
    else:
        why, said_after = after.split("\n", 1)
        assert done.returncode == 75 and why.startswith("zzgw audit: cannot use "), done.stderr
        assert said_after == stopped_in_consents(5_000)
    assert len(stored(clocked)[0]) == 1_000
    with clocked.running.gateway.db.engine.connect() as connection:
        fact = text("SELECT count(*) FROM gateway_facts WHERE name = :name")
        assert connection.execute(fact, {"name": PRUNED_WITNESS}).scalar() == 1
    pruned = zzgw(clocked, "audit", "prune")
    assert (pruned.returncode, pruned.stdout, pruned.stderr) == (1, ended_lines(1_000, 0), not_pruned(verified.stderr))
    assert seqs(clocked) == [1, 2, 3]


NOW = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


CONSENTS = [
    # (what, valid until, uses left, withdrawn at, removed)
    ("expired long ago", ago(40), 1, None, True),
    ("in force, granted long ago", ago(-1), 1, None, False),
    ("withdrawn long ago, its validity not over", ago(-100), 1, ago(40), True),
    ("used up, its validity not over", ago(-10), 0, None, False),
    ("used up, its validity over long ago", ago(31), 0, None, True),
    ("expired within the retention", ago(29), 1, None, False),
    ("expired the retention ago to the second", ago(DAYS), 1, None, False),
    ("withdrawn within the retention", ago(-100), 1, ago(20), False),
    ("withdrawn long ago, used up", ago(-5), 0, ago(35), True),
    ("in force", ago(-300), 3, None, False),
    ("expired a year ago", ago(365), 2, None, True),
]
"""Consents granted 400 days ago, in key order; 5 ended more than the retention ago."""

REQUESTS = [
    # (what, state, deadline, decided at, valid until, removed)
    ("pending past its deadline long ago, not marked expired", "PENDING", ago(40), None, None, True),
    ("pending", "PENDING", ago(-5), None, None, False),
    ("pending past its deadline recently", "PENDING", ago(20), None, None, False),
    ("expired long ago", "EXPIRED", ago(40), ago(40), None, True),
    ("rejected long ago", "REJECTED", ago(36), ago(50), None, True),
    ("rejected long ago, its deadline recent", "REJECTED", ago(25), ago(50), None, False),
    ("approved long ago, in force", "APPROVED", ago(290), ago(300), ago(-10), False),
    ("approved, ended long ago", "APPROVED", ago(290), ago(300), ago(31), True),
    ("approved, ended within the retention", "APPROVED", ago(290), ago(300), ago(29), False),
    ("approved without an end", "APPROVED", ago(290), ago(300), None, False),
    ("withdrawn long ago, its end to come", "WITHDRAWN", ago(290), ago(40), ago(-60), True),
    ("withdrawn within the retention", "WITHDRAWN", ago(290), ago(10), ago(-60), False),
]
"""Access requests, in the order of their numbers; 5 ended more than the retention ago."""


def consent(n: int, valid_until: dt.datetime, uses_left: int, withdrawn_at: dt.datetime | None) -> StoredConsent:
    return StoredConsent(
        consent_id=f"{n:032x}",
        code_sha256=f"{n:064x}",
        holder_code="370102199003071234",
        portal=PORTAL,
        grantee=REAL_ESTATE,
        matter_code=BDCZY.matter_code,
        license_ids=(),
        type_codes=(ID_CARD,),
        valid_until=valid_until,
        uses_allowed=3,
        uses_left=uses_left,
        created_at=ago(400),
        withdrawn_at=withdrawn_at,
    )


def added_together(session: Session, consents: list[StoredConsent]) -> None:
    """What ``ConsentRepository.add`` stores of each of ``consents``, which differ in their identifiers alone,
    inserted by one statement run for them all (executemany): the repository's statement for the first, its values
    given each one's identifiers. Added one at a time, a statement built and run for each, 6,000 consents had taken
    10-15 s of CPU under load (building them alone, ~2.5 ms each)."""

    class Statements:
        def __init__(self) -> None:
            self.made: list[Any] = []

        def execute(self, statement: Any) -> None:
            self.made.append(statement)

    first = consents[0]
    assert all(
        dataclasses.replace(each, consent_id=first.consent_id, code_sha256=first.code_sha256) == first
        for each in consents
    )
    statements = Statements()
    ConsentRepository(statements).add(first)  # type: ignore[arg-type]
    (statement,) = statements.made
    row = statement.compile().params
    rows = [{**row, "consent_id": each.consent_id, "code_sha256": each.code_sha256} for each in consents]
    session.execute(insert(cast(Table, ConsentRow.__table__)), rows)


def access_request(
    n: int, state: str, deadline: dt.datetime, decided_at: dt.datetime | None, valid_until: dt.datetime | None
) -> StoredAccessRequest:
    return StoredAccessRequest(
        request_id=f"{n:032x}",
        requester=REAL_ESTATE,
        issuer_code=POLICE,
        type_code=ID_CARD,
        license_id="",
        matter_code=BDCZY.matter_code,
        purpose=BDCZY.purpose,
        fields=("name",),
        duration_days=30,
        state=state,
        submitted_at=deadline - dt.timedelta(days=14),
        deadline=deadline,
        decided_at=decided_at,
        approved_fields=("name",) if valid_until else (),
        valid_until=valid_until,
    )


def service(db: Database) -> AuthorizationService:
    """The gateway's authorisation service on ``db``, its clock stopped at ``NOW``."""
    key, certificate = gateway_key()
    clock = FrozenClock(NOW)
    trail = AuditTrail(db, AuditSigner(key=key, certificate=certificate), clock, memos=HeadMemos(b"x" * 32))
    return AuthorizationService(db, load_bootstrap_catalog(), clock, trail, pages=PageTokens(b"x" * 32))


def test_what_ended_is_removed_a_batch_a_transaction(migrated_db: Database) -> None:
    """Each state at its edges, and the deletes of a prune of 2 a batch: at most 2 rows each, in a transaction of
    its own, the keys walked once; then nothing is left to remove, and nothing is deleted."""
    db = migrated_db
    with db.unit_of_work(write=True) as uow:
        for n, (_, valid_until, uses_left, withdrawn_at, _) in enumerate(CONSENTS):
            uow.consents.add(consent(n, valid_until, uses_left, withdrawn_at))
        for n, (_, state, deadline, decided_at, valid_until, _) in enumerate(REQUESTS):
            uow.access_requests.add(access_request(n, state, deadline, decided_at, valid_until))
        uow.commit()
    deleted: list[tuple[str, int]] = []
    commits: list[int] = []  # how many deletes had run at each commit

    def executed(_conn: Any, cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        if statement.startswith("DELETE FROM"):
            deleted.append((statement.split()[2], cursor.rowcount))

    def committed(_conn: Any) -> None:
        commits.append(len(deleted))

    event.listen(db.engine, "after_cursor_execute", executed)
    event.listen(db.engine, "commit", committed)
    try:
        assert service(db).prune(dt.timedelta(days=DAYS), batch=2) == Pruned(consents=5, access_requests=5)
        assert deleted == [("consents", 2), ("consents", 2), ("consents", 1)] + [("access_requests", 2)] * 2 + [
            ("access_requests", 1)
        ]
        assert set(range(1, 7)) <= set(commits)  # each delete committed before the next ran
        deleted.clear()
        assert service(db).prune(dt.timedelta(days=DAYS), batch=2) == Pruned(consents=0, access_requests=0)
        assert deleted == []
    finally:
        event.remove(db.engine, "after_cursor_execute", executed)
        event.remove(db.engine, "commit", committed)
    with db.engine.connect() as connection:
        consents = set(connection.execute(text("SELECT consent_id FROM consents")).scalars())
        requests = set(connection.execute(text("SELECT request_id FROM access_requests")).scalars())
        witness = connection.execute(text("SELECT count(*) FROM gateway_facts WHERE name = :n"), {"n": PRUNED_WITNESS})
        assert witness.scalar() == 1
    assert {what for n, (what, *_, removed) in enumerate(CONSENTS) if f"{n:032x}" not in consents} == {
        what for what, *_, removed in CONSENTS if removed
    }
    assert {what for n, (what, *_, removed) in enumerate(REQUESTS) if f"{n:032x}" not in requests} == {
        what for what, *_, removed in REQUESTS if removed
    }
