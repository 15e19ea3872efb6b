"""Helpers shared by the benchmarks: processes, ports, health waits, throw-away PostgreSQL databases."""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("ZZGW_BENCH_DATABASE_URL") or os.environ.get(
    "ZZGW_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSPHRASE = "benchmark-only-passphrase"


PORTS = range(20_000, 32_000)
"""Where ``free_port`` looks: below the ports Linux (32768–60999), macOS and Windows (49152 and up) give a client
connection of its own. A port taken with ``bind(("127.0.0.1", 0))`` came from that very range, and a gRPC channel,
a PostgreSQL connection or an HTTP client of the run's others could be given it between its hand-out and the
server's bind: "Address already in use", now and then, the more so the more tests run at once."""

PORTS_A_WORKER = 1_500
"""Each pytest-xdist worker (``PYTEST_XDIST_WORKER``, gw0 to gw7) hands out ports of a block of its own."""

_turn_lock = threading.Lock()
_turn = [random.randrange(PORTS_A_WORKER)]
"""Where this process looks next in its block, going round it: a port comes again only after the block's others,
and the start is random, so that two runs at once seldom look at one port."""


def free_port() -> int:
    """A port free on 127.0.0.1 now, from this process's block of ``PORTS``: not one of the last 1,499 it handed out,
    so a gRPC and an HTTP port taken one after the other are never the same (they once were: the kernel may offer a
    port it has just given)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    blocks = len(PORTS) // PORTS_A_WORKER
    first = PORTS.start + (int(worker) if worker.isdigit() else 0) % blocks * PORTS_A_WORKER
    with _turn_lock:
        for _ in range(PORTS_A_WORKER):
            port = first + _turn[0] % PORTS_A_WORKER
            _turn[0] += 1
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:  # a server of another run or program listens there, or a connection of it lingers
                    continue
            return port
    raise RuntimeError(f"no free port left in {first}–{first + PORTS_A_WORKER - 1}")


def wait_serving(address: str, timeout: float = 60.0, process: subprocess.Popen[Any] | None = None) -> None:
    """Until the health service at ``address`` says SERVING; fails at once if ``process`` (the server) has exited."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server for {address} exited with code {process.returncode} before serving")
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise RuntimeError(f"nothing SERVING at {address} after {timeout}s")


@dataclass
class Gateway:
    address: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def token(self, code: str) -> str:
        tokens = json.loads((self.data_dir / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
        return str(tokens[code]["token"])


@contextlib.contextmanager
def gateway_process(database_url: str | None, *, workers: int = 1, threads: int = 16) -> Iterator[Gateway]:
    """A real ``zzgw serve`` process on a fresh data directory (and the given database), initialised first."""
    with tempfile.TemporaryDirectory(prefix="zzgw-bench-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "ZZGW_DATA_DIR": tmp,
            "ZZGW_GRPC_ADDR": f"127.0.0.1:{port}",
            "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
            "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
            "ZZGW_ACCESS_LOG": "false",
            "ZZGW_WORKERS": str(workers),
            "ZZGW_THREADS": str(threads),
            "ZZGW_LOG_LEVEL": "WARNING",
        }
        if database_url:
            env["ZZGW_DATABASE_URL"] = database_url
        zzgw = [sys.executable, "-m", "gateway.cli"]
        subprocess.run([*zzgw, "init"], env=env, cwd=ROOT, check=True, capture_output=True)
        process = subprocess.Popen([*zzgw, "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            wait_serving(f"127.0.0.1:{port}", process=process)
            yield Gateway(address=f"127.0.0.1:{port}", data_dir=Path(tmp), process=process)
        finally:
            process.terminate()
            process.wait(30)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"zzgw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_client(module: str, *args: str) -> dict[str, float]:
    """Run a benchmark client in its own process (so it has its own core and GIL); it prints one JSON line."""
    out = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
