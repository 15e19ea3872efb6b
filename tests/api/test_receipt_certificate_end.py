"""A gateway process left running past its receipt certificate's end signs no receipt under it: each would check
INVALID (CERT_EXPIRED) for every checker, the gateway's own console too, and ``zzgw serve`` checked the end only at
start (a receipts reviewer, R4). It warns while it runs before the end, is not ready once it is past, and refuses each
call that would make a receipt ``UNAVAILABLE`` / ``RECEIPT_CERTIFICATE_ENDED``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import pytest

from adapters.receipt_file import check_receipt_file
from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.server import own_certificates
from gateway.services.verification import MAX_WRONG_CLAIMS
from signing.results import CheckResult
from tests.api.test_issuance import unique
from tests.api.test_receipt_key_retirement import eventually, trust_of
from tests.api.test_verification import batch_issue, claim, verify
from tests.conftest import MARKET, error_details, start_gateway


class Movable:
    """A clock the test moves: the process left running for years."""

    def __init__(self) -> None:
        self.at: dt.datetime | None = None

    def now(self) -> dt.datetime:
        return self.at or dt.datetime.now(dt.UTC)


def test_a_process_running_past_its_receipt_certificates_end_signs_no_receipt_under_it(
    database_url: str, tmp_path: Path
) -> None:
    clock = Movable()
    running = start_gateway(tmp_path / "var", database_url, clock=clock)
    try:
        license_id = batch_issue(running, 1)
        issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(14)))).license
        certificates = running.gateway.receipt_certificates
        assert certificates is not None
        end = certificates.current.not_valid_after_utc

        running.gateway.own_certificates.serve(own_certificates(running.gateway.settings))  # as serve_forever does

        # 10 days before the end: ready, and a receipt that checks valid (the warnings: test_certificate_ends)
        clock.at = end - dt.timedelta(days=10)
        assert running.gateway.readiness.ready
        made = verify(running, license_id=license_id).receipt
        checked = check_receipt_file(made, trust_of(running))
        assert (checked.result, checked.reason) == (CheckResult.PASSED, None), checked

        # at the very end it still signs: a certificate is valid through its notAfter (RFC 5280)
        clock.at = end
        made = verify(running, license_id=license_id).receipt
        checked = check_receipt_file(made, trust_of(running))
        assert (checked.result, checked.reason) == (CheckResult.PASSED, None), checked

        # past it: not ready, and no receipt, which would check CERT_EXPIRED, but UNAVAILABLE saying why
        clock.at = end + dt.timedelta(days=1)
        eventually(lambda: running.gateway.readiness.state.reason == "RECEIPT_CERTIFICATE_ENDED", 5)
        assert "run `zzgw init` on one gateway to renew it" in running.gateway.readiness.state.message
        with pytest.raises(grpc.RpcError) as caught:
            verify(running, license_id=license_id)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
        info, _ = error_details(caught.value)
        assert info.reason == "RECEIPT_CERTIFICATE_ENDED"
        assert "回执专用章证书已于北京时间" in caught.value.details() and "zzgw init" in caught.value.details()

        # a wrong claim left unanswered is not counted: it had been, and the retries the refusal advises ended in
        # RESOURCE_EXHAUSTED / TOO_MANY_WRONG_CLAIMS with no claim ever answered (a review of the fix, R3)
        wrong = {
            "type_code": issued.type_code,
            "license_number": issued.license_number,
            "holder_code": issued.holder.code,
            "fields": {"holder_name": "另一家公司"},
        }
        for _ in range(MAX_WRONG_CLAIMS + 1):
            with pytest.raises(grpc.RpcError) as caught:
                claim(running, **wrong)
            assert error_details(caught.value)[0].reason == "RECEIPT_CERTIFICATE_ENDED", caught.value.details()
    finally:
        running.stop()
