"""One supervised gateway per port: a second ``zzgw serve`` with several workers on a port that one serves already,
its HTTP port as well as its gRPC one, is refused at its start (real processes, real sockets)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import free_port, wait_serving
from tests.conftest import PASSPHRASE, _initialised

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _serve(env: dict[str, str], grpc_port: int | str, http_port: int | str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env={**env, "ZZGW_GRPC_ADDR": f"127.0.0.1:{grpc_port}", "ZZGW_HTTP_ADDR": f"127.0.0.1:{http_port}"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _refused(process: subprocess.Popen[str]) -> tuple[int, str]:
    """The exit status and log of a ``zzgw serve`` expected to stop at its start; one still running after 60 s (it
    started, sharing the port) is stopped and its status is None."""
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        pytest.fail(f"the second gateway started and served: {err}")
    return process.returncode, err


def _initialised_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a gateway of two workers on a SQLite store in ``tmp_path``, initialised: a copy of
    ``tests.conftest``'s initialised template, as ``zzgw init`` makes them (these tests look at the ports' claims)."""
    env = {**os.environ, "ZZGW_DATA_DIR": str(tmp_path), "ZZGW_KEY_PASSPHRASE": PASSPHRASE, "ZZGW_WORKERS": "2"}
    env.pop("ZZGW_DATABASE_URL", None)
    assert _initialised.copy(f"sqlite:///{tmp_path / 'zzgw.db'}", tmp_path)
    return env


def test_a_second_gateway_on_the_same_http_port_is_refused(tmp_path: Path) -> None:
    """It had started without a word, and the kernel spread the port's connections over both gateways: readiness,
    metrics, the CA's certificates and CRLs and the console answered by either store at random (a reviewer, R2)."""
    env = _initialised_env(tmp_path)
    grpc_port, http_port = free_port(), free_port()
    first = _serve(env, grpc_port, http_port)
    try:
        wait_serving(f"127.0.0.1:{grpc_port}", process=first)
        # the second gateways started together, each on ports of its own besides the one it shares with the first:
        # each is refused at its start by the first one's claim, whatever the others do (each opens its store
        # before it claims its ports, a second or more of CPU: one after the other, they had taken most of the time)
        same_http, http_on_grpc, grpc_on_http, zero_http, zeros_grpc = [
            _serve(env, *ports)
            for ports in (
                (free_port(), http_port),
                # its HTTP port on the first one's gRPC port: the same kernel port, shared as well
                (free_port(), grpc_port),
                # its gRPC port on the first one's HTTP port, named as its gRPC setting
                (http_port, free_port()),
                # the port written with a leading zero is the same port: its claim had been another (``…-048521``),
                # and a second gateway on :048521 started and shared it (a reviewer, R3)
                (free_port(), f"0{http_port}"),
                (f"00{grpc_port}", free_port()),
            )
        ]
        status, err = _refused(same_http)
        assert status == 2, err
        assert f"another zzgw gateway with several workers serves port {http_port} already" in err, err
        assert "ZZGW_HTTP_ADDR" in err and "Traceback" not in err, err
        status, err = _refused(http_on_grpc)
        assert status == 2 and f"serves port {grpc_port} already" in err and "ZZGW_HTTP_ADDR" in err, err
        status, err = _refused(grpc_on_http)
        assert status == 2 and f"serves port {http_port} already" in err and "ZZGW_GRPC_ADDR" in err, err
        status, err = _refused(zero_http)
        assert status == 2 and f"serves port {http_port} already" in err and "ZZGW_HTTP_ADDR" in err, err
        status, err = _refused(zeros_grpc)
        assert status == 2 and f"serves port {grpc_port} already" in err and "ZZGW_GRPC_ADDR" in err, err
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err


def test_one_gateway_with_one_port_for_both_is_refused(tmp_path: Path) -> None:
    """gRPC and HTTP on one port: with several workers both bind with SO_REUSEPORT, and would share it."""
    env = _initialised_env(tmp_path)
    port = free_port()
    same, written_otherwise = _serve(env, port, port), _serve(env, port, f"0{port}")  # started together
    status, err = _refused(same)
    assert status == 2, err
    assert f"ZZGW_GRPC_ADDR and ZZGW_HTTP_ADDR name the same port ({port})" in err, err
    status, err = _refused(written_otherwise)  # written otherwise, the same port
    assert status == 2, err
    assert f"ZZGW_GRPC_ADDR and ZZGW_HTTP_ADDR name the same port ({port})" in err, err
