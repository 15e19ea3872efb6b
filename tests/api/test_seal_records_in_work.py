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
