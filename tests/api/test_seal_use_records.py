"""Every use of a seal is on the audit trail (用印登记): SealDocument, StampDocument, RegisterSeal and RevokeSeal each
append one access record naming the department, the clerk, the seal, a digest of the document (never the document)
and the outcome, chained as every other record, listed to the seal's issuer (a reviewer, sealplace R2)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from gateway.domain.audit import AuditAction, AuditEntry
from protos.zzgw.v1 import audit_pb2, audit_pb2_grpc, seal_pb2, seal_pb2_grpc
from signing.keys import SM2_SM3
from tests.api.test_seals import license_pdf
from tests.conftest import ADMIN, MARKET, POLICE, RunningGateway, error_details, start_gateway, trail_rows

CLERK = [("x-zzgw-operator-bin", "用印窗口 王芳".encode())]


def seals(running: RunningGateway, member: str = MARKET) -> seal_pb2_grpc.SealServiceStub:
    return seal_pb2_grpc.SealServiceStub(running.channel(member))


def audit(running: RunningGateway, member: str) -> audit_pb2_grpc.AuditServiceStub:
    return audit_pb2_grpc.AuditServiceStub(running.channel(member))


def register(running: RunningGateway, **fields: object) -> seal_pb2.Seal:
    request = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="合同专用章", **fields)  # type: ignore[arg-type]
    return seals(running).RegisterSeal(request, metadata=CLERK).seal


def uses_of(running: RunningGateway, seal_id: str, member: str = MARKET) -> list[audit_pb2.AccessRecord]:
    """The records naming ``seal_id`` on ``member``'s log, oldest first."""
    listed = audit(running, member).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(limit=500))
    return [r for r in reversed(listed.records) if r.seal_id == seal_id]


def checked(running: RunningGateway) -> audit_pb2.VerifyAuditLogResponse:
    return audit(running, ADMIN).VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())


def test_each_use_of_a_seal_is_recorded_with_its_clerk_seal_and_digests(running: RunningGateway) -> None:
    before = checked(running)
    seal = register(running)
    pdf = license_pdf(running)
    sealed = (
        seals(running)
        .SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf, reason="合同签订"), metadata=CLERK)
        .sealed_pdf
    )
    seals(running).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="印章停用", crl_reason="superseded"), metadata=CLERK
    )
    records = uses_of(running, seal.seal_id)
    assert [(r.action, r.decision) for r in records] == [
        ("REGISTER_SEAL", "REGISTERED"),
        ("SEAL_DOCUMENT", "SEALED"),
        ("REVOKE_SEAL", "REVOKED"),
    ]
    assert {(r.caller, r.operator, r.caller_name) for r in records} == {
        (MARKET, "用印窗口 王芳", "济南市市场监督管理局")
    }
    registered, used, revoked = records
    assert not registered.document_sha256 and not registered.result_sha256
    assert used.purpose == ""  # the signature's reason, free text that may name a person, is not kept
    assert used.document_sha256 == hashlib.sha256(pdf).hexdigest()
    assert used.result_sha256 == hashlib.sha256(sealed).hexdigest()
    assert used.action_words == "盖章" and used.decision_words == "已盖章"
    assert revoked.reason == "superseded" and revoked.decision_words == "已吊销" and not revoked.document_sha256
    after = checked(running)
    assert after.ok and after.records >= before.records + 3
    # a digest, never the document: nothing of the PDF is in the store's row
    (row,) = trail_rows(
        running, "purpose, reason, document_sha256", "action = 'SEAL_DOCUMENT' AND seal_id = :s", s=seal.seal_id
    )
    assert row == ("", "", hashlib.sha256(pdf).hexdigest())


def test_a_stamp_is_recorded_with_the_document_digest(running: RunningGateway) -> None:
    seal = register(running, algorithm=SM2_SM3)
    document = "一份合同".encode() * 100
    stamp = (
        seals(running)
        .StampDocument(seal_pb2.StampDocumentRequest(seal_id=seal.seal_id, document=document), metadata=CLERK)
        .stamp
    )
    *_, used = uses_of(running, seal.seal_id)
    assert (used.action, used.decision, used.operator) == ("STAMP_DOCUMENT", "STAMPED", "用印窗口 王芳")
    assert used.document_sha256 == hashlib.sha256(document).hexdigest()
    assert used.result_sha256 == hashlib.sha256(stamp).hexdigest()
    seals(running).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="测试完毕"))


def test_a_refused_use_is_recorded_on_the_seals_issuers_log(running: RunningGateway) -> None:
    seal = register(running)
    pdf = license_pdf(running)
    with pytest.raises(grpc.RpcError) as caught:  # another department's clerk, with the market bureau's seal
        seals(running, POLICE).SealDocument(
            seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf), metadata=[("x-zzgw-operator", "li")]
        )
    assert error_details(caught.value)[0].reason == "NOT_SEAL_OWNER"
    seals(running).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    with pytest.raises(grpc.RpcError) as caught:
        seals(running).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf), metadata=CLERK)
    assert error_details(caught.value)[0].reason == "SEAL_REVOKED"
    records = uses_of(running, seal.seal_id)
    assert [(r.caller, r.operator, r.action, r.decision, r.reason) for r in records] == [
        (MARKET, "用印窗口 王芳", "REGISTER_SEAL", "REGISTERED", ""),
        (POLICE, "li", "SEAL_DOCUMENT", "REFUSED", "NOT_SEAL_OWNER"),
        (MARKET, "", "REVOKE_SEAL", "REVOKED", "key_compromise"),
        (MARKET, "用印窗口 王芳", "SEAL_DOCUMENT", "REFUSED", "SEAL_REVOKED"),
    ]
    assert records[1].document_sha256 == hashlib.sha256(pdf).hexdigest() and not records[1].result_sha256
    assert uses_of(running, seal.seal_id, POLICE) == []  # another's seal: on its issuer's log, not the caller's
    assert checked(running).ok


def test_a_request_refused_before_any_seal_is_named_leaves_no_record(running: RunningGateway) -> None:
    before = checked(running).records
    with pytest.raises(grpc.RpcError) as caught:
        seals(running).SealDocument(seal_pb2.SealDocumentRequest(seal_id="no-such-seal", pdf=b"%PDF"))
    assert error_details(caught.value)[0].reason == "SEAL_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as caught:  # a clerk's name holding a 公民身份号码 is not written anywhere
        seals(running).RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="合同专用章"),
            metadata=[("x-zzgw-operator", "110101199003074258")],
        )
    assert ("x-zzgw-operator", "BAD_OPERATOR") in error_details(caught.value)[1]
    assert checked(running).records == before


def test_the_seal_and_digests_are_in_the_records_hash(running: RunningGateway) -> None:
    seal = register(running)
    seals(running).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running)))
    ((seq, digest),) = trail_rows(
        running, "seq, document_sha256", "action = 'SEAL_DOCUMENT' AND seal_id = :s", s=seal.seal_id
    )
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE access_records SET document_sha256 = :d WHERE seq = :q"), {"d": "0" * 64, "q": seq}
        )
    try:
        broken = checked(running)
        assert (broken.ok, broken.first_broken, broken.reason) == (False, seq, "HASH_MISMATCH")
    finally:
        with running.gateway.db.engine.begin() as connection:
            connection.execute(
                text("UPDATE access_records SET document_sha256 = :d WHERE seq = :q"),
                {"d": digest, "q": seq},
            )


def test_a_record_naming_no_seal_hashes_as_before() -> None:
    """Records written before seal uses were recorded (and every other record) have none of the new keys in their
    hashed fields: every older chain still checks."""
    import datetime as dt

    entry = AuditEntry(
        at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        caller=MARKET,
        operator="",
        action=AuditAction.VERIFY_LICENSE,
        matter_code="m",
        purpose="p",
        decision="PASSED",
    )
    assert set(entry.mapping(1)) == {
        "seq", "at", "caller", "operator", "action", "matter_code", "purpose", "license_id", "issuer_code",
        "holder_code", "decision", "reason", "receipt_id",
    }  # fmt: skip


def test_a_trail_of_seal_calls_deleted_whole_is_found(tmp_path: Path) -> None:
    """An issuer using the gateway for seals only leaves no receipt, consent or access request: its access records,
    checkpoints and head row deleted had read as a new store's (VerifyAuditLog ok, 0 records) and the next record was
    numbered 1 again (a reviewer, audittrail R3). The store's first record wrote a fact that it has a trail."""
    url = f"sqlite:///{tmp_path / 'zzgw.db'}"
    first = start_gateway(tmp_path / "var", url)
    try:
        register(first)
        audit(first, MARKET).ListAccessRecords(audit_pb2.ListAccessRecordsRequest())
        assert checked(first).ok
        with first.gateway.db.engine.begin() as connection:
            for table in ("receipts", "consents", "access_requests"):
                assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
            for table in ("access_record_subjects", "access_records", "audit_checkpoints", "audit_head"):
                connection.execute(text(f"DELETE FROM {table}"))
    finally:
        first.stop()
    again = start_gateway(tmp_path / "var", url)  # a restart: nothing remembered of the chain
    try:
        check = checked(again)
        assert (check.ok, check.first_broken, check.reason) == (False, 1, "TRAIL_DELETED")
        register(again)
        check = checked(again)
        assert (check.ok, check.first_broken, check.reason) == (False, 1, "TRAIL_DELETED")
    finally:
        again.stop()
