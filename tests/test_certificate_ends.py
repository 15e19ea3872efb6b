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


def test_serve_warns_of_the_member_ca_a_year_before_it_ends_and_says_once_it_has(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing said when the member CA ends (nine years after `zzgw init`), though every department's and partner's
    certificate, and the server's, stop with it (a partner-province tester). `zzgw serve` warns from a year before
    (replacing it takes every partner), an ERROR once ended, and serves on: the HTTP side needs no member
    certificate."""
    import dataclasses
    import logging

    from gateway.certificate_ends import CA_WARN_BEFORE
    from gateway.config import Settings
    from gateway.server import warn_of_the_member_ca
    from signing.pki import CertificateAuthority

    made = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)
    ca = CertificateAuthority.create("zzgw 成员 CA (member CA) 3F2A9C", made)
    end = ca.cert.not_valid_after_utc
    assert end - made > dt.timedelta(days=3290)  # about nine years: 2035-12-18
    ca.as_issued().write(tmp_path / "var" / "pki", "ca")
    production = Settings(data_dir=tmp_path / "var", mode="production", key_passphrase="x" * 20)
    path = tmp_path / "var" / "pki" / "ca.pem"
    said = {}
    for before in (CA_WARN_BEFORE + dt.timedelta(seconds=1), dt.timedelta(days=100, hours=1), -dt.timedelta(days=2)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="zzgw"):
            warn_of_the_member_ca(production, end - before)
        said[before.days] = [(r.levelno, r.getMessage()) for r in caplog.records]
    day = "2035-12-18"
    assert said[CA_WARN_BEFORE.days] == []
    ((level, line),) = said[100]
    assert level == logging.WARNING
    assert line.startswith(f"the member CA ({path}) ends on {day} (Beijing time), in 100 days, after which every ")
    assert "no command renews it" in line and "(docs/departments.md: the member CA's end)" in line
    ((level, line),) = said[-2]
    assert level == logging.ERROR and line.startswith(f"the member CA ({path}) ended on {day} (Beijing time)")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="zzgw"):
        warn_of_the_member_ca(dataclasses.replace(production, mode="dev"), end)  # no TLS in dev mode
    assert caplog.records == []
