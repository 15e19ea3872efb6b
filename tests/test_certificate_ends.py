"""A certificate's end said one way for the gateway's own certificates and the members' (``gateway.certificate_ends``):
its day in Beijing time, as the departments' people read dates. The gateway's own had been said by their UTC day,
the day before from 16:00 UTC, on `zzgw serve` log lines stamped in Beijing time beside members' ends said in Beijing
days (a reviewer)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.certificate_ends import RENEW_BEFORE, WARN_BEFORE, ending

END = dt.datetime(2027, 3, 9, 17, 30, tzinfo=dt.UTC)
"""17:30 UTC: 01:30 on 2027-03-10 in Beijing."""
RECEIPT = Path("seal-ca/receipt.pem")


@pytest.mark.parametrize(
    ("before", "said"),
    [
        (dt.timedelta(days=12, hours=1), "ends on 2027-03-10 (Beijing time), in 12 days"),
        (dt.timedelta(days=1, hours=3), "ends on 2027-03-10 (Beijing time), in 1 day"),
        (dt.timedelta(hours=3), "ends on 2027-03-10 (Beijing time), within a day"),  # had been "in 0 days"
        (dt.timedelta(0), "ended on 2027-03-10 (Beijing time)"),
        (-dt.timedelta(days=40), "ended on 2027-03-10 (Beijing time)"),
    ],
)
def test_an_end_is_said_by_its_day_in_beijing(before: dt.timedelta, said: str) -> None:
    own = ending("the receipt certificate", RECEIPT, END, END - before, within=RENEW_BEFORE)
    assert own is not None and own.said() == f"the receipt certificate ({RECEIPT}) {said}"
    assert own.ended == (before <= dt.timedelta(0))
    member = ending("the client certificate of member X (某局)", None, END, END - before, within=WARN_BEFORE)
    assert member is not None and member.said() == f"the client certificate of member X (某局) {said}"


def test_an_end_beyond_the_time_asked_is_none() -> None:
    assert ending("the receipt certificate", RECEIPT, END, END - RENEW_BEFORE - dt.timedelta(seconds=1),
                  within=RENEW_BEFORE) is None  # fmt: skip
    assert ending("the receipt certificate", RECEIPT, END, END - RENEW_BEFORE, within=RENEW_BEFORE) is not None
    assert ending("a member's", None, END, END - dt.timedelta(days=31), within=WARN_BEFORE) is None
