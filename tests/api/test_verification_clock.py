"""Verification against the gateway's clock: one check, one reading of the clock."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gateway.domain.model import CHINA_TZ
from protos.zzgw.v1 import common_pb2
from tests.api import test_sharing
from tests.api.test_verification import PASSED, batch_issue, verify

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
