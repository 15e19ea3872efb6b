"""An issuer's write whose PostgreSQL connection is lost under it (a restarted server, a terminated backend) is tried
once more on a new connection, as reads are: IssueLicense, AmendLicense and ChangeLicenseStatus had been UNAVAILABLE
/ DATABASE_UNAVAILABLE at once, though the docs said a call was tried once more (found by an operations tester,
who terminated the backends of a loaded gateway once a second: 7 of 140 issues failed, no verification did).

The loss is made by the store's own unit of work raising psycopg's OperationalError, as a terminated backend does:
before its commit (nothing written), or after it (written, the answer lost with the connection). In the second case
the request id answers the retry as the request it was: nothing is done twice."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import psycopg
import pytest
from sqlalchemy.exc import IntegrityError

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.identifiers import LicenseId
from gateway.services.issuance import IssuanceService
from protos.zzgw.v1 import common_pb2, issuance_pb2, verification_pb2
from tests.api.test_issuance import unique
from tests.conftest import MARKET, RunningGateway, error_details

LOST = "terminating connection due to administrator command"


class _Losing:
    """The gateway's store, whose next ``times`` write transactions lose their connection ``when`` (before or after
    the commit)."""

    def __init__(self, running: RunningGateway, monkeypatch: pytest.MonkeyPatch, when: str, times: int = 1):
        self.left, self.when = times, when
        db = running.gateway.db
        real = db.unit_of_work

        @contextlib.contextmanager
        def unit_of_work(*, write: bool = False) -> Iterator[Any]:
            losing = write and self.left > 0
            if losing:
                self.left -= 1
            with real(write=write) as uow:
                if losing and when == "before":
                    raise psycopg.OperationalError(LOST)
                yield uow
            if losing and when == "after":
                raise psycopg.OperationalError(LOST)

        monkeypatch.setattr(db, "unit_of_work", unit_of_work)


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_issue_whose_connection_is_lost_is_tried_once_more(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    record = unique(samples.food_permit(31))
    losing = _Losing(running, monkeypatch, when)
    issued = running.issuance(MARKET).IssueLicense(issue_request(record))
    assert losing.left == 0
    assert issued.license.license_number == record["license_number"]
    # "after": the first commit went through; the second try found its request and the license this call prepared:
    # created by this call, so created (it had been answered created false, and an import counted it 此前已有)
    assert issued.created
    again = running.issuance(MARKET).IssueLicense(issue_request(record))
    assert (again.created, again.license.license_id) == (False, issued.license.license_id)  # one license, not two


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_amendment_and_a_status_change_whose_connection_is_lost_are_tried_once_more(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    stub = running.issuance(MARKET)
    first = stub.IssueLicense(issue_request(unique(samples.business_license(31)))).license
    _Losing(running, monkeypatch, when)
    amended = stub.AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="amend-" + uuid.uuid4().hex,
            license_id=first.license_id,
            fields={"legal_representative": "李四"},
            reason="法定代表人变更",
        )
    )
    assert (amended.license.version, amended.superseded.license_id) == (2, first.license_id)
    losing = _Losing(running, monkeypatch, when)
    suspended = stub.ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id="status-" + uuid.uuid4().hex,
            license_id=amended.license.license_id,
            action=issuance_pb2.STATUS_ACTION_SUSPEND,
            reason="停业整顿",
        )
    )
    assert losing.left == 0 and suspended.license.status == common_pb2.LICENSE_STATUS_SUSPENDED
    got = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=amended.license.license_id)).license
    assert got.status == common_pb2.LICENSE_STATUS_SUSPENDED
    with pytest.raises(grpc.RpcError) as third:  # done once: there is no version 3
        stub.GetLicense(
            issuance_pb2.GetLicenseRequest(license_id=str(LicenseId.parse(amended.license.license_id).next_version()))
        )
    assert third.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_write_whose_connection_is_lost_twice_is_unavailable(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Losing(running, monkeypatch, "before", times=2)
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(32))))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_details(caught.value)[0].reason == "DATABASE_UNAVAILABLE"


def test_an_issue_that_keeps_conflicting_across_a_lost_connection_is_refused_not_answered_created(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conflict, conflict, lost connection, conflict: the loop had run out of tries without a commit or an error and
    answered OK, created, for a license never stored (found in review). Now the third conflict is the answer."""
    original = IssuanceService._commit_issues
    tries: list[int] = []

    def failing(self: IssuanceService, uow: Any, *args: Any) -> None:
        attempt = len(tries)
        tries.append(attempt)

        def commit() -> None:
            if attempt == 2:
                raise psycopg.OperationalError(LOST)
            raise IntegrityError("INSERT", {}, Exception("duplicate key value violates unique constraint"))

        uow.commit = commit
        original(self, uow, *args)

    monkeypatch.setattr(IssuanceService, "_commit_issues", failing)
    record = unique(samples.business_license(33))
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(MARKET).IssueLicense(issue_request(record))
    assert caught.value.code() == grpc.StatusCode.INTERNAL and tries == [0, 1, 2, 3]
    monkeypatch.undo()
    issued = running.issuance(MARKET).IssueLicense(issue_request(record))  # nothing of it had been stored
    assert issued.created is True


def test_a_status_change_committed_before_its_connection_was_lost_is_seen_by_the_next_check(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second try of a change whose first committed (its answer lost with the connection) finds it done, and does
    what follows a commit all the same: this gateway's cached check of the license is dropped, so the very next
    verification here says SUSPENDED (found in review: the replay had skipped it)."""
    from tests.api.test_verification import USE, verifier

    permit = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(34)))).license
    check = verification_pb2.VerifyLicenseRequest(use=USE, license_id=permit.license_id)
    assert verifier(running).VerifyLicense(check).report.verdict == verification_pb2.CHECK_RESULT_PASSED  # cached
    _Losing(running, monkeypatch, "after")
    running.issuance(MARKET).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id="status-" + uuid.uuid4().hex,
            license_id=permit.license_id,
            action=issuance_pb2.STATUS_ACTION_SUSPEND,
            reason="停产整改",
        )
    )
    report = verifier(running).VerifyLicense(check).report
    assert (report.verdict, report.status.reason) == (verification_pb2.CHECK_RESULT_FAILED, "SUSPENDED")
