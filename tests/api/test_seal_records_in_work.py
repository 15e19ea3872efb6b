"""A seal's registration and revocation are recorded in the transaction that registers or revokes it (review
sealaudit, R1): a record that cannot be written fails the call and registers or revokes nothing."""

from __future__ import annotations

import uuid

import grpc
import pytest
from sqlalchemy import text

from protos.zzgw.v1 import seal_pb2
from tests.api.test_seal_use_records import CLERK, checked, register, seals, uses_of
from tests.conftest import RunningGateway


def _fail_records_of(running: RunningGateway, action: str) -> None:
    """The store refuses to append a record of ``action`` (as a full disk, a lost connection or a store timeout
    would, for that one statement): the seal's own statements are untouched."""
    engine = running.gateway.db.engine
    with engine.begin() as c:
        if engine.dialect.name == "sqlite":
            c.execute(
                text(
                    f"CREATE TRIGGER zz_fail_{action} BEFORE INSERT ON access_records "
                    f"WHEN NEW.action = '{action}' BEGIN SELECT RAISE(ABORT, 'injected'); END"
                )
            )
        else:
            c.execute(
                text(
                    f"CREATE FUNCTION zz_fail_{action}() RETURNS trigger AS $$ BEGIN IF NEW.action = '{action}' "
                    "THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            c.execute(
                text(
                    f"CREATE TRIGGER zz_fail_{action} BEFORE INSERT ON access_records FOR EACH ROW "
                    f"EXECUTE FUNCTION zz_fail_{action}()"
                )
            )


def _heal(running: RunningGateway, action: str) -> None:
    engine = running.gateway.db.engine
    with engine.begin() as c:
        if engine.dialect.name == "sqlite":
            c.execute(text(f"DROP TRIGGER zz_fail_{action}"))
        else:
            c.execute(text(f"DROP TRIGGER zz_fail_{action} ON access_records"))
            c.execute(text(f"DROP FUNCTION zz_fail_{action}()"))


def test_a_registration_whose_record_fails_registers_nothing(running: RunningGateway) -> None:
    request = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="财务专用章")
    _fail_records_of(running, "REGISTER_SEAL")
    try:
        with pytest.raises(grpc.RpcError) as caught:
            seals(running).RegisterSeal(request, metadata=CLERK)
    finally:
        _heal(running, "REGISTER_SEAL")
    assert caught.value.code() is not grpc.StatusCode.OK
    assert "财务专用章" not in [s.name for s in seals(running).ListSeals(seal_pb2.ListSealsRequest()).seals]
    # the retry registers it, its record in the same transaction, before any use of it
    seal = seals(running).RegisterSeal(request, metadata=CLERK).seal
    assert seal.name == "财务专用章" and seal.status == seal_pb2.SEAL_STATUS_ACTIVE
    assert [(r.action, r.decision) for r in uses_of(running, seal.seal_id)] == [("REGISTER_SEAL", "REGISTERED")]
    assert checked(running).ok


def test_a_revocation_whose_record_fails_revokes_nothing(running: RunningGateway) -> None:
    seal = register(running)
    revoke = seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    _fail_records_of(running, "REVOKE_SEAL")
    try:
        with pytest.raises(grpc.RpcError) as caught:
            seals(running).RevokeSeal(revoke, metadata=CLERK)
    finally:
        _heal(running, "REVOKE_SEAL")
    assert caught.value.code() is not grpc.StatusCode.OK
    got = seals(running).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal
    assert got.status == seal_pb2.SEAL_STATUS_ACTIVE and not got.revocation_reason
    assert [(r.action, r.decision) for r in uses_of(running, seal.seal_id)] == [("REGISTER_SEAL", "REGISTERED")]
    # the retry revokes it, recorded with it
    revoked = seals(running).RevokeSeal(revoke, metadata=CLERK).seal
    assert revoked.status == seal_pb2.SEAL_STATUS_REVOKED
    assert [(r.action, r.decision, r.reason) for r in uses_of(running, seal.seal_id)] == [
        ("REGISTER_SEAL", "REGISTERED", ""),
        ("REVOKE_SEAL", "REVOKED", "key_compromise"),
    ]
    assert checked(running).ok


CLERK_B = [("x-zzgw-operator-bin", "用印窗口 李四".encode())]


def test_a_repeated_registration_or_revocation_is_recorded_repeated(running: RunningGateway) -> None:
    """A call that changes nothing (the same request_id again, a seal already revoked) is on the log as a repeat,
    by the clerk who sent it, not as a registration or revocation of theirs (review sealaudit, R2)."""
    request = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="财务专用章")
    first = seals(running).RegisterSeal(request, metadata=CLERK).seal
    again = seals(running).RegisterSeal(request, metadata=CLERK_B).seal
    assert again.seal_id == first.seal_id
    seals(running).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=first.seal_id, reason="停用", crl_reason="superseded"), metadata=CLERK
    )
    revoked = (
        seals(running)
        .RevokeSeal(
            seal_pb2.RevokeSealRequest(seal_id=first.seal_id, reason="密钥泄露", crl_reason="key_compromise"),
            metadata=CLERK_B,
        )
        .seal
    )
    assert revoked.status == seal_pb2.SEAL_STATUS_REVOKED
    records = uses_of(running, first.seal_id)
    assert [(r.operator, r.action, r.decision, r.reason) for r in records] == [
        ("用印窗口 王芳", "REGISTER_SEAL", "REGISTERED", ""),
        ("用印窗口 李四", "REGISTER_SEAL", "REPEATED", ""),
        ("用印窗口 王芳", "REVOKE_SEAL", "REVOKED", "superseded"),
        ("用印窗口 李四", "REVOKE_SEAL", "REPEATED", ""),
    ]
    assert records[1].decision_words == records[3].decision_words == "重复请求，答复原办理结果，未另行办理"
    assert checked(running).ok
