"""The watchdog and a long call that keeps making progress: VerifyAuditLog over a grown audit trail answers, the
process is not taken for stuck, and the check stops when its client goes (real gRPC, real stores)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from gateway.domain.audit import AccessRecord
from gateway.server import Gateway, build_server
from gateway.services import audit as audit_service
from gateway.store.repositories import AuditRepository
from gateway.watchdog import CallGone, InFlight, Watchdog, progress, watched
from protos.zzgw.v1 import audit_pb2, audit_pb2_grpc
from tests.conftest import ADMIN, RunningGateway, backend_params, fresh_database, start_gateway
from tests.test_audit_head import entry

LIMIT = 2.0
"""The watchdog's limit in these tests (``ZZGW_STUCK_CALL_SECONDS``, 120 by default): seconds, well past the
pauses of a loaded machine (0.3 s between pages seen with 4 test workers on 2 cores; a limit of 0.5 s had made the
grown trail's check fail there, a reviewer's R4)."""
RECORDS = 30_000
PAGE = 250
"""The check's pages: ``RECORDS / PAGE`` pages, the progress said before each."""
PAGE_READ_SECONDS = 0.04
"""Added to each page's read: the check then takes at least ``RECORDS / PAGE * PAGE_READ_SECONDS`` (4.8 s, more
than twice ``LIMIT``) however fast the machine, as a trail of millions of records does in use, while a page still
takes a small part of ``LIMIT`` however loaded the machine."""


@dataclass(eq=False)
class call:
    method: str
    started: float
    gone_after: float = float("inf")
    asked: list[float] = field(default_factory=list)

    def gone(self) -> bool:
        return time.perf_counter() > self.gone_after


def test_a_call_that_says_it_progresses_is_not_stuck_and_one_that_stops_saying_it_is() -> None:
    now = [0.0]
    in_flight = InFlight()
    watchdog = Watchdog(in_flight, 120, lambda *_: None, clock=lambda: now[0])
    long = call("/zzgw.v1.AuditService/VerifyAuditLog", time.perf_counter())
    with watched(long, in_flight):
        now[0] = long.started + 100
        progress()  # at perf_counter's now, ~ long.started
        now[0] = long.started + 200
        assert watchdog.stuck() is not None  # 200 s since its last word
        in_flight.progressed(long, long.started + 150)
        assert watchdog.stuck() is None  # 50 s since
        now[0] = long.started + 270.5
        assert watchdog.stuck() == ("/zzgw.v1.AuditService/VerifyAuditLog", pytest.approx(120.5))
    assert in_flight.oldest() is None
    progress()  # outside a watched call: nothing to say it of, no error


def test_progress_raises_once_the_calls_client_is_gone() -> None:
    in_flight = InFlight()
    going = call("/zzgw.v1.AuditService/VerifyAuditLog", time.perf_counter(), gone_after=time.perf_counter() - 1)
    with watched(going, in_flight), pytest.raises(CallGone):
        progress()
    with watched(going, None), pytest.raises(CallGone):  # no watchdog: the client's going still stops the work
        progress()


@contextlib.contextmanager
def _served(gateway: Gateway, first: RunningGateway) -> Iterator[RunningGateway]:
    """``gateway`` (``first``'s store, opened again) served, its in-flight calls kept in ``.in_flight``."""
    in_flight = InFlight()
    server, port = build_server(gateway, "127.0.0.1:0", in_flight=in_flight)
    server.start()
    running = RunningGateway(gateway, server, port, first.tokens, first.data_dir)
    running.in_flight = in_flight  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def _watchdog(running: RunningGateway) -> Iterator[RunningGateway]:
    """A watchdog of ``LIMIT`` seconds over ``running``'s in-flight calls, started here and stopped at the end: what
    it found in ``running.stuck``."""
    stuck: list[tuple[str, float]] = []
    watchdog = Watchdog(running.in_flight, LIMIT, lambda method, age: stuck.append((method, age)))  # type: ignore[attr-defined]
    watchdog.start()
    running.stuck = stuck  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        watchdog.stop()


@contextlib.contextmanager
def _watched(gateway: Gateway, first: RunningGateway) -> Iterator[RunningGateway]:
    """``gateway`` (``first``'s store, opened again) served with a watchdog of ``LIMIT`` seconds: its in-flight calls
    in ``.in_flight``, what the watchdog found in ``.stuck``."""
    with _served(gateway, first) as running, _watchdog(running):
        yield running


@pytest.fixture(scope="module", params=backend_params())
def grown_trail(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A gateway whose audit trail has ``RECORDS`` records, served (its in-flight calls in ``.in_flight``): made once
    for the module's tests of each backend (appending the records took most of each test's time), each of which has
    its own watchdog and the check's pages made small and slow (``grown``). A test's own calls add a few records to
    the trail, which the next test's check reads as well."""
    tmp_path = tmp_path_factory.mktemp("grown")
    with fresh_database(request.param, tmp_path) as url:
        first = start_gateway(tmp_path / "var", url)
        first.stop()  # initialised; served again below with a watchdog over its calls
        gateway = Gateway.open(first.gateway.settings)
        for base in range(0, RECORDS, 5000):
            with gateway.db.appending() as work:
                gateway.audit.append(work, [entry(n) for n in range(base, base + 5000)])
                if hasattr(work, "commit"):
                    work.commit()
        with _served(gateway, first) as running:
            yield running


@pytest.fixture
def grown(grown_trail: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGateway]:
    """``grown_trail``'s gateway, with a watchdog of ``LIMIT`` seconds of this test's own (what it found in
    ``grown.stuck``), the check's pages made small and each page's read slowed (``PAGE_READ_SECONDS``): the whole
    check takes several times ``LIMIT`` and each page far less (in use: 5000 records, ~0.2 s, against 120 s)."""
    monkeypatch.setattr(audit_service, "PAGE", PAGE)
    read = AuditRepository.page

    def slow_page(self: AuditRepository, after_seq: int, limit: int) -> list[AccessRecord]:
        time.sleep(PAGE_READ_SECONDS)
        return read(self, after_seq, limit)

    monkeypatch.setattr(AuditRepository, "page", slow_page)
    assert grown_trail.in_flight.oldest() is None  # type: ignore[attr-defined]
    with _watchdog(grown_trail) as running:
        yield running


@pytest.mark.slow
def test_a_check_of_a_grown_trail_answers_and_is_not_taken_for_stuck(grown: RunningGateway) -> None:
    """Before, a call past the limit was stuck however busy: the check of a trail past ~2 M records (120 s) stopped
    the process, exit 70, every time an admin asked (a reviewer, R1)."""
    admin = audit_pb2_grpc.AuditServiceStub(grown.channel(ADMIN))
    started = time.perf_counter()
    check = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest(), timeout=120)
    took = time.perf_counter() - started
    assert check.ok and check.records >= RECORDS
    assert took > 2 * LIMIT, f"the check took {took:.2f} s: too short to show anything"
    assert grown.stuck == [], f"the check took {took:.2f} s in {RECORDS // PAGE} pages"  # type: ignore[attr-defined]

    # a call with nothing to say is still caught: a page read waiting on a lock says nothing meanwhile
    in_flight: InFlight = grown.in_flight  # type: ignore[attr-defined]
    waiting = call("/zzgw.v1.VerificationService/VerifyLicense", time.perf_counter())
    in_flight.add(waiting)
    deadline = time.monotonic() + 10
    while not grown.stuck and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    in_flight.discard(waiting)
    assert [method for method, _ in grown.stuck] == ["/zzgw.v1.VerificationService/VerifyLicense"]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_check_stops_when_its_client_gives_up(grown: RunningGateway, caplog: pytest.LogCaptureFixture) -> None:
    """Before, the check ran on to its end after the client's deadline, holding a handler thread and the store's
    snapshot for nobody (and, past the limit, stopping the process all the same; a reviewer, R1)."""
    caplog.set_level(logging.INFO, logger="zzgw.access")
    admin = audit_pb2_grpc.AuditServiceStub(grown.channel(ADMIN))
    started = time.perf_counter()
    with pytest.raises(grpc.RpcError) as gave_up:
        admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest(), timeout=0.2)
    assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    in_flight: InFlight = grown.in_flight  # type: ignore[attr-defined]
    while in_flight.oldest() is not None and time.perf_counter() - started < 30:
        time.sleep(0.01)
    ended = time.perf_counter() - started
    whole = time.perf_counter()
    assert admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest(), timeout=120).ok
    whole = time.perf_counter() - whole
    assert ended < 0.2 + whole / 2, f"the call ended {ended:.2f} s after it began; a whole check takes {whole:.2f} s"
    # its line says the client went, not an error of the gateway's
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    lines = [r.getMessage() for r in caplog.records if r.name == "zzgw.access" and "VerifyAuditLog" in r.getMessage()]
    assert '"code": "DEADLINE_EXCEEDED"' in lines[0], lines


@pytest.fixture(params=backend_params())
def watched_gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningGateway]:
    """A gateway served with a watchdog of ``LIMIT`` seconds (what it found in ``watched_gateway.stuck``)."""
    with fresh_database(request.param, tmp_path) as url:
        first = start_gateway(tmp_path / "var", url)
        first.stop()
        with _watched(Gateway.open(first.gateway.settings), first) as running:
            yield running


def test_a_sealing_that_timed_out_and_keeps_the_pdf_thread_is_taken_for_stuck(
    watched_gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sealing given up (SEALING_TIMED_OUT) whose key's signature stalls (a PKCS#11 token that does not answer,
    synchronous on the one PDF thread) had kept that thread for good: every later sealing of the process timed out
    behind it, its calls ended within the limit, and the watchdog saw nothing (a reviewer's R1). The work is watched
    past its call's end, and the process taken for stuck."""
    import threading

    from gateway.services import seals as seal_service
    from protos.zzgw.v1 import seal_pb2
    from signing import pdf as pdf_module
    from tests.api.test_seals import license_pdf, register, seals
    from tests.conftest import MARKET, error_details

    seal = register(watched_gateway, MARKET)
    pdf = license_pdf(watched_gateway)
    real = pdf_module._KeyBackendSigner.async_sign_raw
    released = threading.Event()

    async def stalls(self, data, digest_algorithm, dry_run=False):  # type: ignore[no-untyped-def]
        if not dry_run:
            released.wait(30)  # the token does not answer (synchronous, as the real call)
        return await real(self, data, digest_algorithm, dry_run)

    monkeypatch.setattr(seal_service, "SEAL_TIMEOUT_SECONDS", LIMIT / 2)  # within the limit, as 60 s is within 120 s
    monkeypatch.setattr(pdf_module._KeyBackendSigner, "async_sign_raw", stalls)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            seals(watched_gateway, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf))
        assert (caught.value.code(), error_details(caught.value)[0].reason) == (
            grpc.StatusCode.UNAVAILABLE,
            "SEALING_TIMED_OUT",
        )
        stuck: list[tuple[str, float]] = watched_gateway.stuck  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while not stuck and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [method for method, _ in stuck] == ["/zzgw.v1.SealService/SealDocument (PDF thread)"]
    finally:
        released.set()
