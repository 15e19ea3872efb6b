"""The gRPC port's limits, over real sockets: a call's request message must come in time, connections are capped and
must complete their handshake in time, idle ones are closed, and each may open a bounded number of streams."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from gateway import server as gateway_server
from gateway.config import Settings
from gateway.server import STREAMS_PER_CONNECTION, grpc_connections
from tests.adapters.test_http_connections import ROOT, limited_to_1024
from tests.conftest import RunningGateway, start_gateway

VERIFY_LICENSE = "/zzgw.v1.VerificationService/VerifyLicense"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, GOAWAY = 4, 7


def frame(kind: int, flags: int = 0, payload: bytes = b"") -> bytes:
    """An HTTP/2 frame on stream 0."""
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", 0) + payload


def frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (type, payload) of each whole HTTP/2 frame in ``data``."""
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        yield data[3], data[9 : 9 + length]
        data = data[9 + length :]


def read_until_closed(connection: socket.socket, seconds: float) -> tuple[bytes, float]:
    """What the server sent until it closed the connection, and after how many seconds (or ``seconds`` if not)."""
    started, received = time.monotonic(), b""
    connection.settimeout(0.2)
    while (elapsed := time.monotonic() - started) < seconds:
        try:
            data = connection.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received, elapsed
        if not data:
            return received, elapsed
        received += data
    return received, seconds


def health_check(running: RunningGateway, timeout: float) -> str:
    """A public call on a new connection: OK, or its status code's name."""
    with grpc.insecure_channel(running.address) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError as error:
            return error.code().name
    return "OK"


@contextlib.contextmanager
def limited_gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    """A gateway of 4 handler threads, 4 gRPC connections at most and 2 s for a handshake or a request message."""
    database_url = f"sqlite:///{tmp_path / 'zzgw.db'}"
    running = start_gateway(
        tmp_path / "var", database_url, threads=4, max_watchers=2, grpc_max_connections=4, grpc_request_seconds=2
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def quick_limits(tmp_path: Path) -> Iterator[RunningGateway]:
    with limited_gateway(tmp_path) as running:
        yield running


@pytest.fixture
def quick_idle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGateway]:
    """``limited_gateway``, its idle connections closed after 1 s."""
    monkeypatch.setattr(gateway_server, "IDLE_CONNECTION_SECONDS", 1)
    with limited_gateway(tmp_path) as running:
        yield running


def test_calls_whose_request_never_comes_are_cancelled_in_time_and_others_served(
    quick_limits: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Calls that send their headers and never their request message had held every handler thread for as long as
    their client liked, and every other call waited (a penetration tester, D1). Now each is cancelled once
    ZZGW_GRPC_REQUEST_SECONDS have passed without it, saying so in the log and the metrics, and the threads serve
    others."""
    caplog.set_level(logging.WARNING, logger="zzgw.grpc")
    late_before = REGISTRY.get_sample_value("zzgw_grpc_late_requests_total") or 0
    never = threading.Event()

    def nothing() -> Iterator[bytes]:
        never.wait()
        yield from ()

    with grpc.insecure_channel(quick_limits.address) as channel:
        hold = channel.stream_unary(VERIFY_LICENSE)
        started = time.monotonic()
        held = [hold.future(nothing(), timeout=30) for _ in range(8)]  # twice the handler threads
        try:
            time.sleep(0.5)
            assert health_check(quick_limits, timeout=8) == "OK"
            codes = [future.exception().code() for future in held]  # type: ignore[union-attr]
            ended = time.monotonic() - started
        finally:
            never.set()
    assert codes == [grpc.StatusCode.CANCELLED] * 8
    assert ended < 6
    assert f"gRPC: a call to {VERIFY_LICENSE} from ipv4:127.0.0.1:" in caplog.text
    assert "cancelled: no request message within 2 s (ZZGW_GRPC_REQUEST_SECONDS)" in caplog.text
    assert REGISTRY.get_sample_value("zzgw_grpc_late_requests_total") == late_before + 8


def test_a_unary_call_whose_client_sends_no_message_is_refused_as_grpc_refuses_it(quick_limits: RunningGateway) -> None:
    """UNIMPLEMENTED, as grpc answers it, but naming the method (grpc 1.85's own words name ``b''``)."""
    with grpc.insecure_channel(quick_limits.address) as channel, pytest.raises(grpc.RpcError) as raised:
        channel.stream_unary(VERIFY_LICENSE)(iter(()), timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert raised.value.details() == f'"{VERIFY_LICENSE}" requires exactly one request message.'


def test_connections_are_capped_and_those_that_never_handshake_are_closed_in_time(
    quick_limits: RunningGateway,
) -> None:
    """Plain TCP connections that sent nothing had used up the process's files (a penetration tester, D2). Now the
    process holds ZZGW_GRPC_MAX_CONNECTIONS of them, closing one more at once, and closes those that have not
    completed their handshake (here their HTTP/2 preface) within ZZGW_GRPC_REQUEST_SECONDS."""
    address = ("127.0.0.1", quick_limits.port)
    started = time.monotonic()
    held = [socket.create_connection(address) for _ in range(4)]
    try:
        time.sleep(0.3)
        assert health_check(quick_limits, timeout=1) == "UNAVAILABLE"  # the cap's worth are open
        for connection in held:
            received, _seconds = read_until_closed(connection, 6)
            goaway = [payload[8:] for kind, payload in frames(received) if kind == GOAWAY]
            assert goaway == [b"Did not receive HTTP/2 settings before handshake timeout"]
        assert 1.5 < time.monotonic() - started < 4
        assert health_check(quick_limits, timeout=5) == "OK"
    finally:
        for connection in held:
            connection.close()


def test_an_idle_connection_is_closed_and_streams_per_connection_are_bounded(quick_idle: RunningGateway) -> None:
    """An HTTP/2 connection that answered the server's settings and pings and opened no call had been kept for an
    hour (a penetration tester, D2): now it is sent GOAWAY and closed after IDLE_CONNECTION_SECONDS. The server's
    settings bound the streams open at once on a connection, above a load client's 64 calls in flight."""
    with socket.create_connection(("127.0.0.1", quick_idle.port)) as connection:
        connection.sendall(PREFACE + frame(SETTINGS) + frame(SETTINGS, flags=1))
        received, seconds = read_until_closed(connection, 10)
    sent = list(frames(received))
    settings = next(payload for kind, payload in sent if kind == SETTINGS and payload)
    values = {int.from_bytes(settings[i : i + 2], "big"): int.from_bytes(settings[i + 2 : i + 6], "big")
              for i in range(0, len(settings), 6)}  # fmt: skip
    assert values[3] == STREAMS_PER_CONNECTION > 64  # SETTINGS_MAX_CONCURRENT_STREAMS
    assert GOAWAY in [kind for kind, _payload in sent]
    assert 0.5 < seconds < 4


def test_the_connection_cap_is_sized_from_the_open_files_limit(tmp_path: Path) -> None:
    """Unset, the cap is three quarters of the files the process may open less the HTTP side's; set, one that
    would take more stops the start (exit 2) saying so."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
    try:
        assert grpc_connections(Settings()) == min(1024, hard) * 3 // 4 - 512
        assert grpc_connections(Settings(grpc_max_connections=100)) == 100
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    env = {**os.environ, "ZZGW_DATA_DIR": str(tmp_path), "ZZGW_GRPC_MAX_CONNECTIONS": "257"}
    done = subprocess.run(limited_to_1024("serve"), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert (
        "grpc_max_connections (ZZGW_GRPC_MAX_CONNECTIONS, 257) and the HTTP side's 512 files would take more than "
        "three quarters of the 1024 this process may open (RLIMIT_NOFILE), which the store needs too: set it to 256 "
        "at most"
    ) in done.stderr
