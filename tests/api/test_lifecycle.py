"""A license's life after issue (review lifecycle): amendments that would leave the holder without a license in force,
amendments of a suspended license, and lookups by a number a cleaned-up license once held. Real gRPC over sockets, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import issuance_pb2, verification_pb2
from tests.api.test_issuance import unique
from tests.api.test_verification import verify
from tests.conftest import MARKET, RunningGateway, error_details, today

PASSED = verification_pb2.CHECK_RESULT_PASSED


def amend(running: RunningGateway, license_id: str, **changes: object) -> issuance_pb2.AmendLicenseResponse:
    return running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id=f"am-{uuid.uuid4().hex}",
            license_id=license_id,
            **{"reason": "变更", **changes},  # type: ignore[arg-type]
        )
    )


# -- R2: an amendment in advance must not leave the holder without a license in force -----------------------------


def test_a_renewal_starting_after_today_of_a_license_in_force_is_refused_and_says_what_to_do(
    running: RunningGateway,
) -> None:
    """A 食品生产许可证 extended 20 days before its end, the new period starting the day after: the amendment had
    superseded the version in force at once, and the new one was NOT_YET_VALID, so for 20 days every verification
    (by identifier, by number, of the PDF) said FAILED for a license that is valid. Refused, saying what to do."""
    on = today()
    record = unique(samples.food_permit(960, issued=dt.date(2021, 6, 1)))
    record["valid_until"] = (on + dt.timedelta(days=20)).isoformat()
    v1 = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    assert verify(running, license_id=v1.license_id).verdict == PASSED
    starts = (on + dt.timedelta(days=21)).isoformat()
    ends = (on + dt.timedelta(days=21 + 5 * 365)).isoformat()

    with pytest.raises(grpc.RpcError) as refused:
        amend(running, v1.license_id, valid_from=starts, valid_until=ends, reason="准予延续")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(refused.value)[1] == [("valid_from", "VALID_FROM_LEAVES_GAP")]
    said = refused.value.details() or ""
    assert starts in said and "有效期截止日期" in said and "valid_until" in said, said
    history = running.issuance(MARKET).GetLicense(
        issuance_pb2.GetLicenseRequest(license_id=v1.license_id, include_history=True)
    )
    assert history.license.license_id == v1.license_id and not history.history  # nothing superseded
    assert verify(running, license_id=v1.license_id).verdict == PASSED
    by_number = verify(running, type_code=v1.type_code, license_number=v1.license_number)
    assert (by_number.verdict, by_number.license.license_id) == (PASSED, v1.license_id)

    # what the words say to do: extend the end only, keeping the start; in force throughout
    v2 = amend(running, v1.license_id, valid_until=ends, reason="准予延续").license
    assert (v2.valid_from, v2.valid_until) == (v1.valid_from, ends)
    assert verify(running, license_id=v2.license_id).verdict == PASSED


def test_a_later_start_is_taken_where_nothing_is_in_force_or_the_start_stays(running: RunningGateway) -> None:
    """Only a start after today on a version in force today is refused: a license not yet in force may be moved
    later, and one in force may be amended with its start kept or moved earlier."""
    on = today()
    record = unique(samples.food_permit(961))
    record["valid_from"] = (on + dt.timedelta(days=10)).isoformat()  # issued ahead: not yet in force
    ahead = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    later = (on + dt.timedelta(days=30)).isoformat()
    assert amend(running, ahead.license_id, valid_from=later).license.valid_from == later

    in_force = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(962)))).license
    kept = amend(running, in_force.license_id, fields={"domicile": "山东省济南市历下区新址1号"}).license
    assert kept.valid_from == in_force.valid_from
    earlier = (dt.date.fromisoformat(in_force.valid_from) - dt.timedelta(days=1)).isoformat()
    moved = amend(running, kept.license_id, valid_from=earlier).license
    assert moved.valid_from == earlier
    starts_today = amend(running, moved.license_id, valid_from=on.isoformat()).license  # today is not after today
    assert verify(running, license_id=starts_today.license_id).verdict == PASSED
