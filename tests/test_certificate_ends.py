"""A certificate's end said one way for the gateway's own certificates and the members' (``gateway.certificate_ends``):
its day in Beijing time, as the departments' people read dates. The gateway's own had been said by their UTC day,
the day before from 16:00 UTC, on `zzgw serve` log lines stamped in Beijing time beside members' ends said in Beijing
days (a reviewer)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

import pytest

from gateway.certificate_ends import (
    RENEW_BEFORE,
    WARN_BEFORE,
    OwnCertificate,
    OwnCertificates,
    ending,
    warn_of_own_ends,
    watch_own_certificates,
)

END = dt.datetime(2027, 3, 9, 17, 30, tzinfo=dt.UTC)
"""17:30 UTC: 01:30 on 2027-03-10 in Beijing."""
RECEIPT = Path("seal-ca/receipt.pem")


@pytest.mark.parametrize(
    ("before", "said"),
    [
        (dt.timedelta(days=12, hours=1), "ends on 2027-03-10 (Beijing time), in 12 days"),
        # 22:30 on 03-08 in Beijing: the day after tomorrow, though 27 hours away (it had been "in 1 day": a reviewer)
        (dt.timedelta(days=1, hours=3), "ends on 2027-03-10 (Beijing time), in 2 days"),
        (dt.timedelta(days=1, hours=1), "ends on 2027-03-10 (Beijing time), tomorrow"),  # 00:30 on 03-09
        (dt.timedelta(hours=3), "ends on 2027-03-10 (Beijing time), tomorrow"),  # 22:30 on 03-09; had been "in 0 days"
        (dt.timedelta(hours=1), "ends on 2027-03-10 (Beijing time), today"),  # 00:30 on 03-10
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


def test_the_days_left_are_beijing_days_not_24_hour_periods() -> None:
    """An operator at 23:00 Beijing time on 12-07 had been told of an end at 01:00 on 12-09 "in 1 day": the day said
    and the count disagreed (a reviewer, R3). Days are counted as the day is said, in Beijing's calendar."""
    beijing = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime(2031, 12, 7, 23, 0, tzinfo=beijing)
    for end, days in (((2031, 12, 9, 1, 0), 2), ((2031, 12, 8, 0, 30), 1), ((2031, 12, 7, 23, 59), 0)):
        own = ending("the receipt certificate", None, dt.datetime(*end, tzinfo=beijing), now, within=WARN_BEFORE)
        assert own is not None and own.days_left == days
    own = ending(
        "the receipt certificate", None, dt.datetime(2031, 12, 9, 1, 0, tzinfo=beijing), now, within=WARN_BEFORE
    )
    assert own is not None and own.said() == "the receipt certificate ends on 2031-12-09 (Beijing time), in 2 days"
    utc = ending("a member's", None, dt.datetime(2031, 12, 8, 17, 0, tzinfo=dt.UTC), now.astimezone(dt.UTC),
                 within=WARN_BEFORE)  # fmt: skip
    assert utc is not None and utc.days_left == 2  # 01:00 on 12-09 in Beijing, whatever zone the times come in


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


class _MovableClock:
    """The gateway's clock (``gateway.domain.model.Clock``), moved by the test: days pass without sleeping."""

    def __init__(self, now: dt.datetime) -> None:
        self.moment = now

    def now(self) -> dt.datetime:
        return self.moment


def test_a_gateway_left_running_says_its_own_certificates_end_when_they_come_and_keeps_a_gauge(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its own certificates were looked at only when `zzgw serve` started: one left running past the 90 days said
    nothing, not even once the receipt certificate had ended, and had no metric (a renewal tester, D1). The watch
    looks again daily and at each end, says each as the start does, naming the file and `zzgw init` and the restart,
    and keeps ``zzgw_gateway_certificate_expiry_seconds{certificate}``."""
    import logging
    import threading

    from prometheus_client.parser import text_string_to_metric_families

    from gateway import metrics
    from gateway.certificate_ends import OWN_CHECK_SECONDS, OwnCertificates, watch_own_certificates
    from gateway.server import own_certificates
    from tests.conftest import start_gateway

    running = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'zzgw.db'}")
    try:
        settings = running.gateway.settings
        own = OwnCertificates()
        own.serve(own_certificates(settings))  # dev mode: the receipt and the time-stamping certificates
        assert sorted(c.name for c in own.served) == ["receipt", "tsa"]
        (receipt,) = [c for c in own.served if c.name == "receipt"]
        assert receipt.path == settings.seal_ca_dir / "receipt.pem"
        own.serve([receipt])  # the time-stamping certificate ends within seconds of it: its own look would come between
    finally:
        running.stop()
    clock = _MovableClock(receipt.not_after - dt.timedelta(days=120))
    waits: list[float] = []
    looked = threading.Semaphore(0)
    go_on = threading.Semaphore(0)

    def sleep(seconds: float) -> None:  # the watch's sleep: the clock moves on as far, when the test says so
        waits.append(seconds)
        looked.release()
        go_on.acquire()
        clock.moment += dt.timedelta(seconds=seconds)

    def look(at: dt.datetime | None = None) -> list[tuple[int, str]]:
        """Let the watch sleep, the clock at ``at`` when it wakes (as far on as it waited else), and what it said
        of the receipt certificate."""
        caplog.clear()
        if at is not None:
            clock.moment = at - dt.timedelta(seconds=waits[-1])
        go_on.release()
        assert looked.acquire(timeout=10)
        return [(r.levelno, r.getMessage()) for r in caplog.records if "receipt certificate" in r.getMessage()]

    def gauge() -> dict[str, float]:
        for family in text_string_to_metric_families(metrics.exposition()[0].decode()):
            if family.name == "zzgw_gateway_certificate_expiry_seconds":
                return {s.labels["certificate"]: s.value for s in family.samples}
        return {}

    with caplog.at_level(logging.WARNING, logger="zzgw"):
        watch_own_certificates(own, clock, sleep=sleep)
        assert looked.acquire(timeout=10)
        assert gauge()["receipt"] == receipt.not_after.timestamp()  # at once
        assert waits == [OWN_CHECK_SECONDS]
        assert look() == []  # a day later: 119 days left
        said = look(clock.moment + dt.timedelta(days=41))  # 78 days left
        day = receipt.not_after.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
        assert said == [
            (
                logging.WARNING,
                f"the receipt certificate ({receipt.path}) ends on {day} (Beijing time), in 78 days, after which every "
                "receipt signed under it checks INVALID (CERT_EXPIRED) for good: run `zzgw init` on one gateway to "
                "renew it, copy the renewed files to every replica with a data directory of its own, then restart "
                "every gateway process: each serves the certificates it read at start (docs/operations.md: renewing "
                "the gateway's certificates)",
            )
        ]
        said = look(receipt.not_after - dt.timedelta(hours=2))  # the next look is a second after the end
        on_its_day = (receipt.not_after - dt.timedelta(hours=2)).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
        assert (
            said[0][0] == logging.WARNING
            and f"(Beijing time), {'today' if on_its_day.isoformat() == day else 'tomorrow'}, " in said[0][1]
        )
        assert waits[-1] == pytest.approx(2 * 3600 + 1.0)
        ((level, line),) = look()
        assert level == logging.ERROR
        assert line.startswith(f"the receipt certificate ({receipt.path}) ended on {day} (Beijing time), and every ")
        assert "run `zzgw init` on one gateway to renew it, copy the renewed files to every replica" in line
        assert waits[-1] == OWN_CHECK_SECONDS
        assert look()[0][0] == logging.ERROR  # and daily after that
    go_on.release()


def test_an_ended_server_or_receipt_certificate_makes_the_process_not_ready(tmp_path: Path) -> None:
    """A gateway that served an ended server certificate (every client refused the handshake) or signed receipts under
    an ended receipt certificate (each INVALID for good) stayed ready: a balancer kept sending it every department (a
    renewal tester, D1). Readiness says so from the end on, on gRPC health too; an ended time-stamping
    certificate is said in the log only, its calls still sealing."""
    import dataclasses
    import time

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from gateway.server import own_certificates
    from tests.conftest import start_gateway

    running = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'zzgw.db'}", clock=(clock := _MovableClock(
        dt.datetime.now(dt.UTC))))  # fmt: skip
    try:
        gateway = running.gateway
        gateway.own_certificates.serve(own_certificates(gateway.settings))
        (receipt,) = [c for c in gateway.own_certificates.served if c.name == "receipt"]
        (tsa,) = [c for c in gateway.own_certificates.served if c.name == "tsa"]
        gateway.start()
        health = health_pb2_grpc.HealthStub(running.channel(None))

        def state(seconds: float = 10) -> tuple[int, str | None]:
            deadline = time.monotonic() + seconds
            while True:
                status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
                if status != health_pb2.HealthCheckResponse.SERVING or time.monotonic() > deadline:
                    return status, gateway.readiness.state.reason
                time.sleep(0.2)

        production = own_certificates(dataclasses.replace(gateway.settings, mode="production"))
        assert {c.name: c.stops_serving for c in production} == {
            "receipt": True, "server": True, "tsa": False, "member-ca": False
        }  # fmt: skip
        assert state(2) == (health_pb2.HealthCheckResponse.SERVING, "")
        clock.moment = min(receipt.not_after, tsa.not_after) - dt.timedelta(seconds=5)
        assert state(2)[0] == health_pb2.HealthCheckResponse.SERVING
        clock.moment = tsa.not_after + dt.timedelta(seconds=1)
        if tsa.not_after < receipt.not_after:
            assert state(2)[0] == health_pb2.HealthCheckResponse.SERVING
        clock.moment = receipt.not_after + dt.timedelta(seconds=1)
        # the receipt certificate's end is said as the calls the process then refuses say it (the server's:
        # CERTIFICATE_ENDED, not served in dev mode)
        assert state() == (health_pb2.HealthCheckResponse.NOT_SERVING, "RECEIPT_CERTIFICATE_ENDED")
        message = gateway.readiness.state.message
        assert message is not None and message.startswith(f"the receipt certificate ({receipt.path}) ended on ")
    finally:
        running.stop()


_END = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)


def _own(name: str, not_after: dt.datetime = _END) -> OwnCertificate:
    return OwnCertificate(
        name=name, what=f"the {name} certificate", path=Path(f"/x/{name}.pem"), not_after=not_after,
        within=dt.timedelta(days=90), after="it ends", todo="renew it", stops_serving=name == "receipt",
    )  # fmt: skip


def test_a_certificate_is_said_once_a_day_at_one_level_whatever_else_ends(caplog: pytest.LogCaptureFixture) -> None:
    """The look a second after one certificate's end had said every other again: the receipt and time-stamping
    certificates, made together, end seconds apart, and each ERROR came twice (a review of the watch, R2)."""
    certificates = [_own("receipt"), _own("tsa", _END + dt.timedelta(seconds=2))]
    said_on: dict[str, tuple[int, str]] = {}
    with caplog.at_level(logging.WARNING, logger="zzgw"):
        assert [level for level, _ in warn_of_own_ends(certificates, _END - dt.timedelta(hours=1), said_on)] == [
            logging.WARNING, logging.WARNING
        ]  # fmt: skip
        assert warn_of_own_ends(certificates, _END - dt.timedelta(minutes=1), said_on) == []  # the same day
        ((level, line),) = warn_of_own_ends(certificates, _END + dt.timedelta(seconds=1), said_on)
        assert level == logging.ERROR and line.startswith("the receipt certificate")
        ((level, line),) = warn_of_own_ends(certificates, _END + dt.timedelta(seconds=3), said_on)
        assert level == logging.ERROR and line.startswith("the tsa certificate")
        assert len(warn_of_own_ends(certificates, _END + dt.timedelta(days=1), said_on)) == 2  # the next day
    assert len(caplog.records) == 6


def test_the_watch_of_the_gateways_own_certificates_outlives_a_failed_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """A look that raised had ended the watch's thread for good, with no word; the members' watch beside it says the
    failure and goes on (a review of the watch, R3)."""
    from gateway import certificate_ends

    own = OwnCertificates()
    own.serve([_own("receipt")])
    looks: list[dt.datetime] = []

    def look(certificates: object, now: dt.datetime, said_on: object = None) -> list[tuple[int, str]]:
        looks.append(now)
        if len(looks) == 1:
            raise OSError(28, "No space left on device")
        return []

    monkeypatch.setattr(certificate_ends, "warn_of_own_ends", look)
    done = threading.Event()

    def sleep(_seconds: float) -> None:
        if len(looks) >= 2:
            done.set()
            threading.Event().wait()  # the watch's thread, a daemon, waits here for the process's end

    thread = watch_own_certificates(own, _MovableClock(_END - dt.timedelta(days=10)), sleep=sleep)
    assert done.wait(10) and thread.is_alive() and len(looks) == 2


def test_readiness_says_a_catalog_change_before_a_certificates_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process past its receipt certificate's end whose store adopted another catalog said the certificate's end,
    and the catalog change's WARNING naming both fingerprints was never written (a review of the watch, R1)."""
    import gateway.server as server
    from gateway.health import NotReady

    class ChangedCatalog:
        went_production = False
        served = "AAAA"

        def check(self) -> str:
            return "BBBB"

    monkeypatch.setattr(server, "database_check", lambda _db: lambda: "answered")
    own = OwnCertificates()
    own.serve([_own("receipt")])
    check = server.store_check(
        None,
        ChangedCatalog(),
        None,
        None,
        own=own,
        clock=_MovableClock(_END + dt.timedelta(seconds=5)),  # type: ignore[arg-type]
    )
    with pytest.raises(NotReady) as refused:
        check()
    assert refused.value.state.reason == "CATALOG_CHANGED"
