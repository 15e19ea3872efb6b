"""Verification against the gateway's clock: one check, one reading of the clock."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gateway.domain.model import CHINA_TZ
from protos.zzgw.v1 import common_pb2, issuance_pb2, verification_pb2
from tests.api import test_sharing
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
