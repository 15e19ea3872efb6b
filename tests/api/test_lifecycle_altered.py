"""An issuer's writes never re-seal what was changed behind the gateway's back (review lifecycle, R1).

A record whose seal no longer holds over it (RECORD_ALTERED), or a status the gateway did not store (no memo of it,
STATUS_ALTERED), is refused to AmendLicense and to ChangeLicenseStatus's SUSPEND and RESUME: an amendment had copied
the edited fields into a new version sealed with the issuer's key, and a RESUME had written a fresh ACTIVE memo over a
revoked license set SUSPENDED in the store; either verified PASSED. REVOKE and CANCEL stay allowed: ending is what
such a record needs. Real gRPC over sockets; the edits are made on the database's own driver, as a DBA would.
"""

from __future__ import annotations

import uuid

import grpc
import pytest

from gateway.bootstrap import samples
from protos.zzgw.v1 import common_pb2, issuance_pb2, verification_pb2
from tests.api.test_issuance import issue, unique
from tests.api.test_verification import verify
from tests.conftest import MARKET, RunningGateway, error_details
from tests.test_coherence_out_of_band import dba, url_of

PASSED, FAILED = verification_pb2.CHECK_RESULT_PASSED, verification_pb2.CHECK_RESULT_FAILED


def amend(running: RunningGateway, license_id: str, **changes: object) -> issuance_pb2.AmendLicenseResponse:
    changes.setdefault("fields", {"domicile": f"山东省济南市历下区新址{uuid.uuid4().int % 9999 + 1}号"})
    return running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id=f"am-{uuid.uuid4().hex}",
            license_id=license_id,
            reason="住所变更",
            **changes,  # type: ignore[arg-type]
        )
    )


def change(running: RunningGateway, license_id: str, action: int) -> common_pb2.License:
    return (
        running.issuance(MARKET)
        .ChangeLicenseStatus(
            issuance_pb2.ChangeLicenseStatusRequest(
                request_id=f"st-{uuid.uuid4().hex}",
                license_id=license_id,
                action=action,
                reason="依法处理",  # type: ignore[arg-type]
            )
        )
        .license
    )


def refused(call: object, reason: str) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION, caught.value.details()
    assert error_details(caught.value)[0].reason == reason, caught.value.details()
    return caught.value.details() or ""


def edit(running: RunningGateway, license_id: str, assignment: str, **params: object) -> None:
    """``assignment`` made to the license's row behind the gateway's back; verified until every process has heard."""
    with dba(url_of(running)) as run:
        run(f"UPDATE licenses SET {assignment} WHERE license_id = :id", id=license_id, **params)
    running.gateway.feed.committed([f"license:{license_id}"])


def versions(running: RunningGateway, license_id: str) -> int:
    got = running.issuance(MARKET).GetLicense(
        issuance_pb2.GetLicenseRequest(license_id=license_id, include_history=True)
    )
    return len(got.history) + 1


def test_a_record_edited_in_the_store_is_neither_amended_nor_suspended_but_may_be_revoked(
    running: RunningGateway,
) -> None:
    issued = issue(running, unique(samples.food_permit(911))).license
    lid = issued.license_id
    assert verify(running, license_id=lid).verdict == PASSED
    rep = issued.fields["legal_representative"]
    before = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=lid))
    assert (before.stored.result, before.stored.reason, before.stored.detail) == (PASSED, "", "")
    if running.gateway.db.dialect == "sqlite":
        edit(running, lid, "fields = json_set(fields, '$.legal_representative', :name)", name="冒名人")
    else:
        edit(running, lid, "fields = jsonb_set(fields::jsonb, '{legal_representative}', to_jsonb(:name::text))::json",
             name="冒名人")  # fmt: skip
    got = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=lid))
    assert got.license.fields["legal_representative"] == "冒名人" != rep  # shown as stored, and said to be altered
    assert (got.stored.result, got.stored.reason) == (FAILED, "RECORD_ALTERED")
    assert got.stored.detail.startswith("登记库中的证照记录") and lid in got.stored.detail, got.stored.detail
    assert "不可依凭" in got.stored.detail and "吊销" in got.stored.detail, got.stored.detail
    assert (verify(running, license_id=lid).verdict, verify(running, license_id=lid).reason) == (
        FAILED,
        "RECORD_ALTERED",
    )

    said = refused(lambda: amend(running, lid), "RECORD_ALTERED")  # had sealed 冒名人 into version 2
    assert said.startswith("登记库中的证照记录") and lid in said and "吊销" in said, said
    refused(lambda: amend(running, lid, fields={"legal_representative": rep}), "RECORD_ALTERED")  # even undoing it
    refused(lambda: change(running, lid, issuance_pb2.STATUS_ACTION_SUSPEND), "RECORD_ALTERED")
    assert versions(running, lid) == 1
    report = verify(running, license_id=lid)
    assert (report.verdict, report.reason) == (FAILED, "RECORD_ALTERED")

    revoked = change(running, lid, issuance_pb2.STATUS_ACTION_REVOKE)  # what such a record needs
    assert revoked.status == common_pb2.LICENSE_STATUS_REVOKED
    assert verify(running, license_id=lid).verdict == FAILED
    cancelled = change(running, lid, issuance_pb2.STATUS_ACTION_CANCEL)
    assert cancelled.status == common_pb2.LICENSE_STATUS_CANCELLED


def test_a_revoked_license_set_suspended_in_the_store_is_not_resumed(running: RunningGateway) -> None:
    lid = issue(running, unique(samples.food_permit(912))).license.license_id
    change(running, lid, issuance_pb2.STATUS_ACTION_REVOKE)
    edit(running, lid, "status = 'SUSPENDED'")
    report = verify(running, license_id=lid)
    assert (report.verdict, report.reason) == (FAILED, "STATUS_ALTERED")
    got = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=lid))
    assert got.license.status == common_pb2.LICENSE_STATUS_SUSPENDED  # shown as stored, and said to be altered
    assert (got.stored.result, got.stored.reason) == (FAILED, "STATUS_ALTERED")
    assert "状态（已暂停使用）" in got.stored.detail and lid in got.stored.detail, got.stored.detail

    said = refused(lambda: change(running, lid, issuance_pb2.STATUS_ACTION_RESUME), "STATUS_ALTERED")
    assert lid in said and "吊销" in said, said
    refused(lambda: change(running, lid, issuance_pb2.STATUS_ACTION_SUSPEND), "STATUS_ALTERED")
    refused(lambda: amend(running, lid), "STATUS_ALTERED")
    report = verify(running, license_id=lid)  # had been PASSED after the RESUME: a fresh ACTIVE memo
    assert (report.verdict, report.reason) == (FAILED, "STATUS_ALTERED")

    again = change(running, lid, issuance_pb2.STATUS_ACTION_REVOKE)  # the issuer ends it once more
    assert again.status == common_pb2.LICENSE_STATUS_REVOKED
    report = verify(running, license_id=lid)
    assert (report.verdict, report.reason, report.status.reason) == (FAILED, "REVOKED", "REVOKED")


def test_a_revoked_license_set_active_in_the_store_is_not_amended(running: RunningGateway) -> None:
    lid = issue(running, unique(samples.food_permit(913))).license.license_id
    change(running, lid, issuance_pb2.STATUS_ACTION_REVOKE)
    edit(running, lid, "status = 'ACTIVE'")
    assert verify(running, license_id=lid).reason == "STATUS_ALTERED"

    refused(lambda: amend(running, lid, fields={"legal_representative": "王五"}), "STATUS_ALTERED")
    refused(lambda: change(running, lid, issuance_pb2.STATUS_ACTION_SUSPEND), "STATUS_ALTERED")
    assert versions(running, lid) == 1  # no version 2 to verify PASSED
    cancelled = change(running, lid, issuance_pb2.STATUS_ACTION_CANCEL)
    assert cancelled.status == common_pb2.LICENSE_STATUS_CANCELLED
    assert verify(running, license_id=lid).status.reason == "CANCELLED"


def test_records_the_gateway_wrote_are_amended_suspended_and_resumed_as_before(running: RunningGateway) -> None:
    lid = issue(running, unique(samples.food_permit(914))).license.license_id
    v2 = amend(running, lid).license
    assert (
        change(running, v2.license_id, issuance_pb2.STATUS_ACTION_SUSPEND).status == common_pb2.LICENSE_STATUS_SUSPENDED
    )
    assert change(running, v2.license_id, issuance_pb2.STATUS_ACTION_RESUME).status == common_pb2.LICENSE_STATUS_ACTIVE
    v3 = amend(running, v2.license_id).license
    assert verify(running, license_id=v3.license_id).verdict == PASSED
