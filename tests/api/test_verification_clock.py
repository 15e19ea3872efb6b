"""Verification against the gateway's clock: one check, one reading of the clock."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pytest

from gateway.domain.model import CHINA_TZ
from protos.zzgw.v1 import common_pb2, issuance_pb2, seal_pb2, sharing_pb2, verification_pb2
from signing.keys import SM2_SM3
from signing.results import CheckResult
from tests.api import test_sharing
from tests.api import test_sm2_seals as sm2_seals
from tests.api.test_documents import document_of
from tests.api.test_verification import (
    FAILED,
    PASSED,
    USE,
    batch_issue,
    change,
    issue,
    receipt_statement,
    verifier,
    verify,
)
from tests.conftest import MARKET, TAX, backend_params, fresh_database

clocked = test_sharing.clocked  # the fixture: a gateway with a clock of its own


def test_a_check_reads_the_clock_once_so_receipt_and_reply_agree_at_midnight(
    clocked: test_sharing.Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status in the receipt and in the reply's summary come from one reading of the clock, even when the call
    straddles midnight (China time) on the last day of a license's validity."""
    running, clock = clocked.running, clocked.clock
    day = clock.now().astimezone(CHINA_TZ).date()
    license_id = batch_issue(
        running, 62, issue_date=(day - dt.timedelta(days=30)).isoformat(), valid_until=day.isoformat()
    )
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ)
    readings = iter([midnight - dt.timedelta(microseconds=1)])  # the first reading: the last instant of the day
    monkeypatch.setattr(clock, "now", lambda: next(readings, midnight + dt.timedelta(seconds=1)))
    report = verify(running, license_id=license_id)
    statement = json.loads(report.receipt.statement)
    assert statement["license"]["status"] == "ACTIVE"
    assert report.license.status == common_pb2.LICENSE_STATUS_ACTIVE
    assert (report.verdict, report.status.result) == (PASSED, PASSED)


def test_a_days_checks_share_one_outcome_and_the_next_day_checks_afresh(clocked: test_sharing.Clocked) -> None:
    """Every check of a license on one day answers the same (the gateway keeps that day's outcome and its encoding),
    each with a receipt of its own; on the next day the status is found again: a license valid until today is
    expired tomorrow, in the reply and in the receipt."""
    running, clock = clocked.running, clocked.clock
    day = clock.now().astimezone(CHINA_TZ).date()
    license_id = batch_issue(
        running, 63, issue_date=(day - dt.timedelta(days=30)).isoformat(), valid_until=day.isoformat()
    )
    first, second = verify(running, license_id=license_id), verify(running, license_id=license_id)
    assert first.receipt.receipt_id != second.receipt.receipt_id
    for report in (first, second):
        assert (report.verdict, report.status.result) == (PASSED, PASSED)
        assert report.license.status == common_pb2.LICENSE_STATUS_ACTIVE and report.license.issuer_name
        assert report.receipt.certificate and report.checked_at.seconds
    for report in (first, second):  # everything but the time and the receipt is the same
        report.ClearField("checked_at")
        report.ClearField("receipt")
    assert first == second
    statement = receipt_statement(running, verify(running, license_id=license_id).receipt)
    assert statement["license"]["status"] == "ACTIVE" and statement["verdict"] == "PASSED"

    clock.advance(dt.timedelta(days=1))
    try:
        report = verify(running, license_id=license_id)
    finally:
        clock.advance(-dt.timedelta(days=1))
    assert (report.verdict, report.reason, report.status.result) == (FAILED, "EXPIRED", FAILED)
    assert report.license.status == common_pb2.LICENSE_STATUS_EXPIRED
    statement = receipt_statement(running, report.receipt)
    assert statement["license"]["status"] == "EXPIRED" and statement["reason"] == "EXPIRED"
    assert statement["findings"]["status"]["reason"] == "EXPIRED"


def test_a_renamed_issuer_shows_in_the_next_reply(clocked: test_sharing.Clocked) -> None:
    """The kept encoding of a day's outcome holds the issuer's name; a member renamed is not answered by the old."""
    running = clocked.running
    license_id = batch_issue(running, 64)
    before = verify(running, license_id=license_id).license
    gateway = running.gateway
    names, read_at = gateway._names
    gateway._names = ({**names, before.issuer_code: "改名后的市场监督管理局"}, read_at)
    try:
        assert verify(running, license_id=license_id).license.issuer_name == "改名后的市场监督管理局"
    finally:
        gateway._names = (names, read_at)
    assert verify(running, license_id=license_id).license.issuer_name == before.issuer_name


def test_a_seal_timestamped_ahead_of_now_fails_the_issuer_identity(clocked: test_sharing.Clocked) -> None:
    """A TSA whose clock runs fast (a replica's, a province's) timestamps a seal at a time still to come: such a PDF
    verified PASSED, where a GB/T 38540 stamp so timed fails its issuer identity (a time tester). Here the gateway's
    own TSA runs 45 minutes ahead of the clock VerifyDocument judges by."""
    running, clock = clocked.running, clocked.clock
    clock.advance(dt.timedelta(minutes=45))
    try:
        license = issue(running, 65).license
        pdf = document_of(running, license.license_id).pdf
    finally:
        clock.advance(-dt.timedelta(minutes=45))
    report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert (report.verdict, report.reason) == (FAILED, "SIGNING_TIME_IN_FUTURE")
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (FAILED, "SIGNING_TIME_IN_FUTURE")
    assert report.integrity.result == PASSED


def test_a_receipts_license_dates_are_china_dates_beside_its_utc_time(clocked: test_sharing.Clocked) -> None:
    """As receipts.md says: ``issued_at`` is UTC, and ``valid_from``, ``valid_until`` (its last day) and
    ``status_since`` are calendar dates in China time (UTC+8). Between 16:00 and 24:00 UTC a license revoked then, or
    ended the China day before, is dated the day after ``issued_at``'s UTC date (a partner-province tester, D8)."""
    running, clock = clocked.running, clocked.clock
    now = clock.now()
    evening = now.replace(hour=20, minute=0, second=0, microsecond=0)  # 04:00 of the next day in China
    ahead = (evening if evening > now else evening + dt.timedelta(days=1)) - now
    clock.advance(ahead)
    try:
        utc_day = clock.now().date()
        china_day = clock.now().astimezone(CHINA_TZ).date()
        assert china_day == utc_day + dt.timedelta(days=1)
        past = (china_day - dt.timedelta(days=400)).isoformat()
        revoked = batch_issue(running, 64)
        change(running, revoked, issuance_pb2.STATUS_ACTION_REVOKE)
        ended = batch_issue(running, 65, issue_date=past, valid_from=past, valid_until=utc_day.isoformat())
        last_day = batch_issue(running, 66, issue_date=past, valid_from=past, valid_until=china_day.isoformat())
        stated = {}
        for license_id in (revoked, ended, last_day):
            statement = json.loads(verify(running, license_id=license_id).receipt.statement)
            assert statement["issued_at"].startswith(f"{utc_day.isoformat()}T20:"), statement["issued_at"]
            assert statement["issued_at"].endswith("+00:00"), statement["issued_at"]
            summary = statement["license"]
            stated[license_id] = (summary["status"], summary["status_since"], summary["valid_until"])
        assert stated == {
            revoked: ("REVOKED", china_day.isoformat(), stated[revoked][2]),  # revoked today, in China
            ended: ("EXPIRED", china_day.isoformat(), utc_day.isoformat()),  # its last day was yesterday, in China
            last_day: ("ACTIVE", "", china_day.isoformat()),  # its last day is today, in China: still valid
        }
    finally:
        clock.advance(-ahead)


# --- the CRLs the gateway judges by, renewed as its clock runs -----------------------------------------------------


def _two_days_on(clocked: test_sharing.Clocked) -> contextlib.AbstractContextManager[None]:
    """The gateway's clock moved on two days (no seal registered or revoked meanwhile), and set back after."""

    @contextlib.contextmanager
    def moved() -> Iterator[None]:
        clocked.clock.advance(dt.timedelta(days=2))
        try:
            yield
        finally:
            clocked.clock.advance(-dt.timedelta(days=2))

    return moved()


def test_a_receipt_made_two_days_into_a_processs_life_is_reviewed_valid(clocked: test_sharing.Clocked) -> None:
    """The console's 查验回执 (``review_receipt``) checks a receipt with the gateway's CRLs, valid a day. They had been
    kept until a seal changed: two days on with no seal change, every receipt made then was judged with the first
    day's CRL and read 无法确认 (INDETERMINATE / CRL_STALE; a reviewer, R1)."""
    running = clocked.running
    license_id = issue(running, 67).license.license_id
    with running.gateway.db.unit_of_work() as uow:
        market = uow.members.get(MARKET)
    service = running.gateway.verification
    first = service.review_receipt(market, verify(running, license_id=license_id).receipt.receipt_id)
    assert first.check.result is CheckResult.PASSED  # and the day's CRLs are kept
    with _two_days_on(clocked):
        review = service.review_receipt(market, verify(running, license_id=license_id).receipt.receipt_id)
    assert (review.check.result, review.check.reason) == (CheckResult.PASSED, None), review.check.detail


def test_a_stamp_made_two_days_into_a_processs_life_verifies(clocked: test_sharing.Clocked) -> None:
    """VerifyStamp judges a GB/T 38540 stamp's maker now, with the gateway's CRLs: two days on with no seal change,
    every genuine stamp had read INDETERMINATE / MAKER_CRL_STALE (a reviewer, R1)."""
    running = clocked.running
    seal = (
        sm2_seals.seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="电子证照专用章", algorithm=SM2_SM3)
        )
        .seal
    )
    document = "<ofd>两天后盖章的文件</ofd>".encode()
    fresh = sm2_seals.verify_stamp(running, document, sm2_seals.stamp(running, seal, document)).report
    assert fresh.issuer_identity.result == PASSED, fresh.issuer_identity  # and the day's CRLs are kept
    with _two_days_on(clocked):
        report = sm2_seals.verify_stamp(running, document, sm2_seals.stamp(running, seal, document)).report
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (PASSED, ""), report.issuer_identity


@pytest.fixture(scope="module", params=backend_params())
def bootstrap_clocked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[test_sharing.Clocked]:
    """A gateway with a clock of its own and the bootstrap catalog, whose 营业执照 has no conditional field, so a
    tax office is handed its document (``clocked``'s test catalog makes 注册资本 conditional)."""
    with (
        fresh_database(request.param, tmp_path_factory.mktemp("db")) as url,
        test_sharing.clocked_gateway(tmp_path_factory.mktemp("var"), url) as gateway,
    ):
        yield gateway


def test_a_sharing_copy_made_two_days_into_a_processs_life_verifies(bootstrap_clocked: test_sharing.Clocked) -> None:
    """A sharing copy's 用证 stamp is the gateway's 核验回执专用章, no seal of the registry, so it is judged in full
    with the gateway's CRLs (api.md: 'the gateway's own 用证 watermark on a sharing copy is its seal and passes'). Two
    days on with no seal change, every copy made then had read INDETERMINATE / CHANGED_AFTER_SEAL: the stamp's
    identity was CRL_STALE, so it counted as something shown after sealing (a reviewer, R1). The PDF is judged by the
    gateway's clock, as the CRLs are renewed by it."""
    clocked = bootstrap_clocked
    running = clocked.running
    license_id, _ = test_sharing.business_license(running, 68)
    stub = verifier(running, TAX)

    def copy_verified() -> verification_pb2.Report:
        copy = test_sharing.sharing(running).GetLicenseDocument(
            sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=test_sharing.FPSL, license_id=license_id)
        )
        return stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=test_sharing.FPSL, pdf=copy.pdf)).report

    fresh = copy_verified()
    assert fresh.verdict == PASSED, (fresh.integrity, fresh.issuer_identity)  # and the day's CRLs are kept
    with _two_days_on(clocked):
        report = copy_verified()
    assert (report.verdict, report.integrity.reason) == (PASSED, ""), report.integrity.detail
    assert report.issuer_identity.result == PASSED
