"""The audit trail: one access record per answered verification call, holder- and issuer-scoped listing, the hash
chain with signed checkpoints, tampering found by VerifyAuditLog and `zzgw audit verify`, retention."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, insert, select, text

from gateway.bootstrap import samples
from gateway.cli import main
from gateway.domain.audit import AuditAction, AuditEntry
from gateway.services.audit import AuditBroken, AuditTrail
from gateway.store.models import AccessRecordRow
from protos.zzgw.v1 import audit_pb2, audit_pb2_grpc, verification_pb2, verification_pb2_grpc
from tests.api.test_documents import document_of
from tests.api.test_verification import USE, batch_issue, claim, issue, verify
from tests.conftest import ADMIN, MARKET, POLICE, PORTAL, TAX, RunningGateway, error_details, start_gateway


def audit_stub(running: RunningGateway, member: str) -> audit_pb2_grpc.AuditServiceStub:
    return audit_pb2_grpc.AuditServiceStub(running.channel(member))


def record_count(running: RunningGateway) -> int:
    with running.gateway.db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(AccessRecordRow)).scalar_one())


FPSL = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="企业开办：发票申领时核验营业执照")
"""The tax bureau's own matter, which uses the 营业执照: the clerk of these tests is another department's."""


def test_every_answered_verification_call_leaves_exactly_one_record(running: RunningGateway) -> None:
    issued = issue(running, 21, samples.business_license)
    license_id = issued.license.license_id
    pdf = document_of(running, license_id).pdf
    before = record_count(running)
    clerk = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))
    answered = 0
    for _ in range(3):
        verify(running, license_id=license_id)
        answered += 1
    verify(running, type_code=issued.license.type_code, license_number="SC-NOT-THERE")
    clerk.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=pdf))
    claim(
        running,
        type_code=issued.license.type_code,
        license_number=issued.license.license_number,
        holder_code=samples.uscc(999_997),
    )
    answered += 3
    with pytest.raises(grpc.RpcError):  # refused before any license is used: not an answered use
        clerk.VerifyLicense(verification_pb2.VerifyLicenseRequest(license_id=license_id))
    assert record_count(running) - before == answered


def test_records_carry_the_operator_and_are_listed_for_the_holder_and_the_issuer(running: RunningGateway) -> None:
    issued = issue(running, 22, samples.business_license)
    holder = issued.license.holder.code
    clerk = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))
    report = clerk.VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=issued.license.license_id),
        metadata=[("x-zzgw-operator-bin", "窗口-07 王芳".encode())],
    ).report
    other = batch_issue(running, 23)
    verify(running, license_id=other)

    listed = audit_stub(running, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder))
    assert [r.license_id for r in listed.records] == [issued.license.license_id]  # only this holder's licenses
    typed = audit_stub(running, PORTAL).ListAccessRecords(
        audit_pb2.ListAccessRecordsRequest(holder_code=f" {holder.lower()} ")  # as a user may type it
    )
    # the listing itself is on the holder's log (it had left no record: an auditor), as each one after it is
    first_listing, *uses = typed.records
    assert uses == list(listed.records)
    assert (first_listing.caller, first_listing.action, first_listing.decision, first_listing.reason) == (
        PORTAL,
        "LIST_ACCESS_RECORDS",
        "LISTED",
        "records=1",
    )
    assert (first_listing.action_words, first_listing.license_id) == ("查看用证记录", "")
    (record,) = listed.records
    assert (record.caller, record.caller_name, record.operator) == (TAX, "国家税务总局济南市税务局", "窗口-07 王芳")
    assert (record.action, record.matter_code, record.purpose) == ("VERIFY_LICENSE", FPSL.matter_code, FPSL.purpose)
    assert (record.decision, record.receipt_id) == ("PASSED", report.receipt.receipt_id)

    for operator in ("窗口-08 李强", ""):  # the same use from another clerk, then from none: each recorded as sent
        clerk.VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=issued.license.license_id),
            metadata=[("x-zzgw-operator-bin", operator.encode())] if operator else [],
        )
    # a full-width space (a Chinese input method's) or a no-break space (pasted) is a space, not "unprintable"
    clerk.VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=issued.license.license_id),
        metadata=[("x-zzgw-operator-bin", "3号窗口\u3000王敏\u00a0".encode())],
    )
    listed = audit_stub(running, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder))
    verifications = [r for r in listed.records if r.action == "VERIFY_LICENSE"]
    assert sorted(r.operator for r in verifications) == sorted(["窗口-07 王芳", "窗口-08 李强", "", "3号窗口 王敏"])
    with pytest.raises(grpc.RpcError) as garbled:  # no UTF-8: refused, not recorded with replacement characters
        clerk.VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=issued.license.license_id),
            metadata=[("x-zzgw-operator-bin", "窗口".encode("gbk"))],
        )
    assert ("x-zzgw-operator", "BAD_OPERATOR") in error_details(garbled.value)[1]
    for two in (  # the record had kept the first alone (a black-box tester)
        [("x-zzgw-operator", "A01"), ("x-zzgw-operator-bin", "王敏".encode())],
        [("x-zzgw-operator", "A01"), ("x-zzgw-operator", "B02")],
    ):
        with pytest.raises(grpc.RpcError) as ambiguous:
            clerk.VerifyLicense(
                verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=issued.license.license_id), metadata=two
            )
        assert ("x-zzgw-operator", "BAD_OPERATOR") in error_details(ambiguous.value)[1]
    for named_once in (  # the same twice, or with an empty one, in either order (review)
        [("x-zzgw-operator", "A01"), ("x-zzgw-operator-bin", b"A01")],
        [("x-zzgw-operator", "A01"), ("x-zzgw-operator-bin", b"")],
        [("x-zzgw-operator-bin", b""), ("x-zzgw-operator", "A01")],
    ):
        clerk.VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=issued.license.license_id), metadata=named_once
        )
    listed = audit_stub(running, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder))
    assert "A01" in {r.operator for r in listed.records} and "B02" not in {r.operator for r in listed.records}

    own = audit_stub(running, MARKET).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(limit=500)).records
    assert {issued.license.license_id, other} <= {r.license_id for r in own}
    assert not audit_stub(running, POLICE).ListAccessRecords(audit_pb2.ListAccessRecordsRequest()).records

    with pytest.raises(grpc.RpcError) as missing:
        audit_stub(running, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest())
    assert ("holder_code", "REQUIRED") in error_details(missing.value)[1]
    with pytest.raises(grpc.RpcError) as negative:
        audit_stub(running, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder, limit=-1))
    assert ("limit", "BAD_LIMIT") in error_details(negative.value)[1]
    assert (negative.value.details() or "").startswith("limit: 每页条数不能为负数：0为默认的100条，超过500按500条")
    with pytest.raises(grpc.RpcError) as before:  # it had listed nothing, as if nobody had used the licenses
        audit_stub(running, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder, before=-5))
    assert ("before", "BAD_BEFORE") in error_details(before.value)[1]
    for member in (TAX, ADMIN):  # an admin reads no personal data: not who used a holder's licenses either
        with pytest.raises(grpc.RpcError) as denied:
            audit_stub(running, member).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_details(denied.value)[0].reason == "ROLE_NOT_ALLOWED"


def test_an_issuer_lists_the_records_of_one_holders_licenses(running: RunningGateway) -> None:
    """An issuer's clerk asking who used one company's licenses got every holder's records: the holder_code an issuer
    sent was accepted and ignored (found by a black-box tester)."""
    first = issue(running, 24, samples.business_license).license
    second = issue(running, 25, samples.business_license).license
    for license in (first, second, first):
        verify(running, license_id=license.license_id)
    market = audit_stub(running, MARKET)

    def listed(holder_code: str, *, listings: bool = False) -> list[audit_pb2.AccessRecord]:
        """Its records of ``holder_code``'s licenses' uses; with ``listings``, its own listings too."""
        found = market.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder_code, limit=500))
        return [r for r in found.records if listings or r.action != "LIST_ACCESS_RECORDS"]

    mine = listed(first.holder.code)
    assert [r.license_id for r in mine] == [first.license_id, first.license_id]  # newest first, the holder's only
    assert listed(f" {first.holder.code.lower()} ") == mine  # as a clerk may type it
    assert [r.license_id for r in listed(second.holder.code)] == [second.license_id]
    # a citizen the market never licensed, and a department: nothing (not every record of the market's)
    nobody = samples.citizen_id(7, dt.date(1990, 5, 17))
    assert listed(nobody) == [] and listed(TAX) == []
    assert {first.license_id, second.license_id} <= {r.license_id for r in listed("")}  # unfiltered: all its own
    # its listings are on its own log, the one of everything too (it had been on no one's; a reviewer)
    own = [(r.caller, r.reason) for r in listed("", listings=True) if r.action == "LIST_ACCESS_RECORDS"]
    assert own[:2] == [(MARKET, own[0][1]), (MARKET, "records=0")] and own[0][1].startswith("records=")
    # the filter narrows an issuer's own records, never widens them: the police issued none of the company's licenses
    police = audit_stub(running, POLICE)
    assert not police.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=first.holder.code)).records


def test_a_changed_record_is_found_by_the_rpc_and_the_cli(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    verify(running, license_id=batch_issue(running, 24))
    admin = audit_stub(running, ADMIN)
    intact = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
    assert intact.ok and intact.records >= 1 and intact.first_broken == 0
    with running.gateway.db.engine.connect() as connection:
        seq, purpose = connection.execute(
            text("SELECT seq, purpose FROM access_records ORDER BY seq DESC LIMIT 1")
        ).one()
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("UPDATE access_records SET purpose = '篡改' WHERE seq = :seq"), {"seq": seq})
    try:
        broken = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
        assert (broken.ok, broken.first_broken, broken.reason) == (False, seq, "HASH_MISMATCH")

        monkeypatch.setenv("ZZGW_DATA_DIR", str(running.data_dir))
        monkeypatch.setenv("ZZGW_DATABASE_URL", running.gateway.settings.effective_database_url)
        monkeypatch.setenv("ZZGW_KEY_PASSPHRASE", running.gateway.settings.key_passphrase)
        assert main(["audit", "verify"]) == 1
        assert f"BROKEN at {seq} (HASH_MISMATCH)" in capsys.readouterr().err
    finally:
        with running.gateway.db.engine.begin() as connection:
            connection.execute(
                text("UPDATE access_records SET purpose = :p WHERE seq = :seq"), {"p": purpose, "seq": seq}
            )
    assert main(["audit", "verify"]) == 0
    assert "audit trail intact" in capsys.readouterr().out
    with pytest.raises(grpc.RpcError) as denied:
        audit_stub(running, TAX).VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_records_deleted_from_the_end_are_found_by_the_rpc_and_the_cli(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sharing tester's finding: the newest records deleted with one statement went unnoticed."""
    for _ in range(3):
        verify(running, license_id=batch_issue(running, 25))
    admin = audit_stub(running, ADMIN)
    intact = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
    assert intact.ok and (intact.first_broken, intact.last_broken) == (0, 0)
    newest = int(intact.records)  # the store is this module's own: its records are numbered from 1
    with running.gateway.db.engine.connect() as connection:
        deleted = connection.execute(select(AccessRecordRow.__table__).where(AccessRecordRow.seq > newest - 3)).all()
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM access_records WHERE seq > (SELECT max(seq) - 3 FROM access_records)"))
    try:
        cut = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
        assert (cut.ok, cut.reason, cut.first_broken, cut.last_broken) == (False, "TRUNCATED", newest - 2, newest)
        assert cut.records == newest - 3

        monkeypatch.setenv("ZZGW_DATA_DIR", str(running.data_dir))
        monkeypatch.setenv("ZZGW_DATABASE_URL", running.gateway.settings.effective_database_url)
        monkeypatch.setenv("ZZGW_KEY_PASSPHRASE", running.gateway.settings.key_passphrase)
        assert main(["audit", "verify"]) == 1
        assert f"BROKEN at {newest - 2}-{newest} (TRUNCATED)" in capsys.readouterr().err  # the numbers missing
    finally:
        with running.gateway.db.engine.begin() as connection:
            connection.execute(insert(AccessRecordRow), [row._asdict() for row in deleted])
    assert admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest()).ok


def entry(n: int, at: dt.datetime) -> AuditEntry:
    return AuditEntry(
        at=at,
        caller=TAX,
        operator="",
        action=AuditAction.VERIFY_LICENSE,
        matter_code=USE.matter_code,
        purpose=f"核验 {n}",
        license_id=f"L{n}",
        issuer_code=MARKET,
        holder_code="91370100MA3C4K7L6M",
        decision="PASSED",
    )


@dataclasses.dataclass(frozen=True)
class FrozenClock:
    at: dt.datetime

    def now(self) -> dt.datetime:
        return self.at


def test_checkpoints_removals_and_retention(running: RunningGateway, tmp_path: Path) -> None:
    """On a fresh database: checkpoints every 5 records, a forged checkpoint, a removed record, then pruning."""
    from gateway.store.database import Database
    from tests.conftest import migrated_database

    gateway = running.gateway
    assert gateway.audit is not None
    kind = "postgresql" if gateway.db.dialect == "postgresql" else "sqlite"
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        trail = AuditTrail(db, gateway.audit._signer, FrozenClock(old), memos=gateway.audit._memos, checkpoint_every=5)
        try:
            with db.unit_of_work(write=True) as uow:
                # 11 and 12 young: a prune of 30 days stops at checkpoint 10 (it goes on to the last record older)
                young = dt.datetime.now(dt.UTC)
                records = trail.append(uow, [entry(n, old if n < 10 else young) for n in range(12)])
                uow.commit()
            assert [r.seq for r in records] == list(range(1, 13))
            check = trail.check()
            assert (check.ok, check.records, check.checkpoints) == (True, 12, 2)

            # without a checkpoint the chain after it could be rewritten with no key: each one due must be there
            with db.engine.begin() as connection:
                kept = connection.execute(text("SELECT * FROM audit_checkpoints WHERE seq = 10")).mappings().one()
                connection.execute(text("DELETE FROM audit_checkpoints WHERE seq = 10"))
            missing = trail.check()
            assert (missing.ok, missing.first_broken, missing.reason) == (False, 10, "CHECKPOINT_MISSING")
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO audit_checkpoints (seq, hash, signature, algorithm, key_id, at) "
                        "VALUES (:seq, :hash, :signature, :algorithm, :key_id, :at)"
                    ),
                    dict(kept),
                )
            assert trail.check().ok

            with db.engine.begin() as connection:
                connection.execute(text("UPDATE audit_checkpoints SET hash = :h WHERE seq = 5"), {"h": bytes(32)})
            assert trail.check().reason == "CHECKPOINT_SIGNATURE_INVALID"
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE audit_checkpoints SET hash = :h WHERE seq = 5"), {"h": records[4].hash})
                connection.execute(text("DELETE FROM access_records WHERE seq = 7"))
            gap = trail.check()
            assert (gap.ok, gap.first_broken, gap.reason) == (False, 7, "GAP")

            # retention: a chain that does not check is not pruned (that would vouch for what the edit left)
            current = AuditTrail(
                db, gateway.audit._signer, gateway.clock, memos=gateway.audit._memos, checkpoint_every=5
            )
            with pytest.raises(AuditBroken):
                current.prune(dt.timedelta(days=30))
            with db.unit_of_work(write=True) as uow:  # the removed record put back
                uow.audit.add([records[6]])
                uow.commit()
            # a checkpoint's age is its record's chained time, not its own unsigned `at` (moved back, it had made
            # prune delete today's records)
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE audit_checkpoints SET at = :at"), {"at": dt.datetime(2020, 1, 1)})
            assert current.prune(dt.timedelta(days=60)) == 0  # the records are 40 days old
            # records up to the newest checkpoint older than 30 days go; the chain stays anchored, and its new start
            # is vouched for
            assert current.prune(dt.timedelta(days=30)) == 10
            pruned = current.check()
            assert (pruned.ok, pruned.records, pruned.checkpoints) == (True, 2, 2)
            assert current.prune(dt.timedelta(days=60)) == 0
            # records deleted from the start past the pruned point (through checkpoint 10 a prune went; here the
            # rest too) are found, though what is left would check, and named: those after the checkpoint (it had
            # been a GAP at the first record left, naming none missing; an auditor)
            with db.engine.begin() as connection:
                connection.execute(text("DELETE FROM access_records WHERE seq <= 11"))
            cut = current.check()
            assert (cut.ok, cut.reason, cut.first_broken, cut.last_broken) == (False, "DELETED_FROM_START", 11, 11)
        finally:
            db.dispose()


@pytest.mark.parametrize("refused", [False, True], ids=["granted", "refused"])
def test_a_trail_deleted_from_a_store_with_consents_only_is_found_by_the_next_grant(
    tmp_path: Path, refused: bool
) -> None:
    """The next append counted only receipts as witnesses of a deleted trail: consents and access requests are
    written before their record, in its transaction. A store with consents and no receipt, its trail deleted, had
    its next grant numbered from 1 and checked ok for good (a reviewer); and, counting every grant's record as one
    consent written, so had a refused grant, which writes none (another reviewer)."""
    from tests.api.test_sharing import grant, id_card, person

    url = f"sqlite:///{tmp_path / 'zzgw.db'}"
    first = start_gateway(tmp_path / "var", url)
    try:
        card = id_card(first).license
        grant(first, card.holder.code)
        assert audit_stub(first, ADMIN).VerifyAuditLog(audit_pb2.VerifyAuditLogRequest()).ok
        with first.gateway.db.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM receipts")).scalar() == 0
            for table in ("access_record_subjects", "access_records", "audit_checkpoints", "audit_head"):
                connection.execute(text(f"DELETE FROM {table}"))
    finally:
        first.stop()
    again = start_gateway(tmp_path / "var", url)  # a restart: nothing remembered of the chain
    try:
        if refused:  # a portal naming another person's card: DENIED, on the trail, no consent written
            with pytest.raises(grpc.RpcError):
                grant(again, person()[0], license_ids=(card.license_id,), type_codes=())
        else:
            grant(again, card.holder.code)
        check = audit_stub(again, ADMIN).VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
        assert (check.ok, check.first_broken, check.reason) == (False, 1, "TRAIL_DELETED")
    finally:
        again.stop()


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        ("UPDATE access_records SET hash = 'x' WHERE seq = (SELECT max(seq) FROM access_records)", "HASH_MISMATCH"),
        ("UPDATE access_records SET prev_hash = 'x' WHERE seq = 2", "PREV_MISMATCH"),
        ("UPDATE access_records SET purpose = X'ff' WHERE seq = 2", "HASH_MISMATCH"),  # fixrevaudit R2
        ("UPDATE access_records SET caller = 5 WHERE seq = 2", "HASH_MISMATCH"),
        ("UPDATE audit_head SET hash = 'x' WHERE id = 1", "HEAD_MEMO_INVALID"),
        ("UPDATE audit_head SET seq = 'x' WHERE id = 1", "HEAD_MEMO_INVALID"),
        (
            "INSERT INTO audit_checkpoints (seq, hash, signature, algorithm, key_id, at) "
            "SELECT 2, hash, 'x', 'ecdsa-p256-sha256', 'k', '2026-12-07 13:00:00' FROM access_records WHERE seq = 2",
            "CHECKPOINT_SIGNATURE_INVALID",
        ),
    ],
    ids=["record hash", "prev hash", "purpose", "caller", "head hash", "head seq", "checkpoint signature"],
)
def test_a_cell_edited_into_another_kind_is_a_broken_record_not_an_internal_error(
    tmp_path: Path,
    edit: str,
    found: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On SQLite any column takes any value: one cell of the audit tables edited into text had made every recorded
    call (a verification, a listing) INTERNAL, VerifyAuditLog too, and `zzgw audit verify` end in a traceback (a
    reviewer, audittrail R2). The cell is a record that does not hash at its number, or a memo not the gateway's,
    found and named; the calls go on, the memo's break recorded."""
    url = f"sqlite:///{tmp_path / 'zzgw.db'}"
    running = start_gateway(tmp_path / "var", url)
    try:
        license_id = batch_issue(running, 26)
        for _ in range(3):
            verify(running, license_id=license_id)
        admin = audit_stub(running, ADMIN)
        assert admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest()).ok
        with running.gateway.db.engine.begin() as connection:
            connection.execute(text(edit))
        checked = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
        assert (checked.ok, checked.reason) == (False, found)
        # answered and recorded: a listing reads the chain's end from the store (a verification's group writer
        # chains after the end it committed last)
        page = audit_stub(running, MARKET).ListAccessRecords(audit_pb2.ListAccessRecordsRequest())
        assert len(page.records) >= 3
        verify(running, license_id=license_id)
        again = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
        assert (again.ok, again.reason) == (False, found)

        monkeypatch.setenv("ZZGW_DATA_DIR", str(running.data_dir))
        monkeypatch.setenv("ZZGW_DATABASE_URL", url)
        monkeypatch.setenv("ZZGW_KEY_PASSPHRASE", running.gateway.settings.key_passphrase)
        capsys.readouterr()
        assert main(["audit", "verify"]) == 1
        said = capsys.readouterr().err
        assert f"({found})" in said and "Traceback" not in said
    finally:
        running.stop()


def test_a_record_planted_at_the_largest_number_leaves_every_call_answered_and_the_break_recorded(
    store: str, tmp_path: Path
) -> None:
    """One row inserted at 2^63 - 1, the largest number a store keeps, made every recorded call (a verification,
    a listing, VerifyAuditLog) INTERNAL on SQLite and PostgreSQL, for every member, and nothing recorded the
    tampering (a reviewer, audit R1). The calls are answered; the gateway keeps clear of the record and records it
    as added after the chain's end, once, reported from then on."""
    running = start_gateway(tmp_path / "var", store)
    try:
        license_id = batch_issue(running, 27)
        verify(running, license_id=license_id)
        admin = audit_stub(running, ADMIN)
        assert admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest()).ok
        planted = 2**63 - 1
        with running.gateway.db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO access_records SELECT :planted, at, caller, operator, action, matter_code, purpose,"
                    " license_id, issuer_code, holder_code, decision, reason, receipt_id, prev_hash, hash, seal_id,"
                    " document_sha256, result_sha256, by_guardian FROM access_records"
                    " WHERE seq = (SELECT max(seq) FROM access_records)"
                ),
                {"planted": planted},
            )
        checked = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())  # recorded: it reads the end
        assert (checked.ok, checked.reason, checked.last_broken) == (False, "UNVOUCHED_RECORDS", planted)
        page = audit_stub(running, MARKET).ListAccessRecords(audit_pb2.ListAccessRecordsRequest())
        assert page.records
        verify(running, license_id=license_id)
        again = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
        assert (again.ok, again.reason, again.last_broken) == (False, "UNVOUCHED_RECORDS", planted)
        with running.gateway.db.engine.connect() as connection:
            breaks = (
                connection.execute(text("SELECT purpose FROM access_records WHERE action = 'AUDIT_BREAK'"))
                .scalars()
                .all()
            )
        assert breaks == [f"{planted}-{planted}"]  # once
    finally:
        running.stop()


def test_a_record_planted_at_2_62_after_one_at_the_largest_number_was_recorded_is_named_by_verify(
    store: str, tmp_path: Path
) -> None:
    """A row planted at 2^62 after the gateway had recorded one at 2^63 - 1 was recorded (a second AUDIT_BREAK), but
    VerifyAuditLog kept answering 2^63 - 1..2^63 - 1: the row at 2^62 was named only in the serve log, and an admin
    deleting the records named left it (a reviewer, rereview R2). It answers from the first there to the last."""
    running = start_gateway(tmp_path / "var", store)
    try:
        license_id = batch_issue(running, 27)
        verify(running, license_id=license_id)
        admin = audit_stub(running, ADMIN)
        top, low = 2**63 - 1, 2**62

        def plant(seq: int) -> None:
            with running.gateway.db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO access_records SELECT :planted, at, caller, operator, action, matter_code,"
                        " purpose, license_id, issuer_code, holder_code, decision, reason, receipt_id, prev_hash,"
                        " hash, seal_id, document_sha256, result_sha256, by_guardian FROM access_records"
                        " WHERE seq = (SELECT max(seq) FROM access_records WHERE seq < :beyond)"
                    ),
                    {"planted": seq, "beyond": 2**62},
                )

        market = audit_stub(running, MARKET)
        plant(top)
        assert market.ListAccessRecords(audit_pb2.ListAccessRecordsRequest()).records  # it reads the end: recorded
        first = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
        assert (first.ok, first.reason, first.first_broken, first.last_broken) == (
            False,
            "UNVOUCHED_RECORDS",
            top,
            top,
        )
        plant(low)  # later, below the first
        assert market.ListAccessRecords(audit_pb2.ListAccessRecordsRequest()).records
        checked = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
        assert (checked.ok, checked.reason, checked.first_broken, checked.last_broken) == (
            False,
            "UNVOUCHED_RECORDS",
            low,
            top,
        )
        with running.gateway.db.engine.connect() as connection:
            breaks = (
                connection.execute(text("SELECT purpose FROM access_records WHERE action = 'AUDIT_BREAK' ORDER BY seq"))
                .scalars()
                .all()
            )
        assert breaks == [f"{top}-{top}", f"{low}-{top}"]  # each recorded once
    finally:
        running.stop()
