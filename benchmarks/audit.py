"""What the audit trail costs verification: VerifyLicense with the audit trail on against the same gateway with it off.

    python -m benchmarks.audit [--licenses 2000] [--seconds 5] [--rounds 3] [--database-url URL | --postgresql]

The gateway has no switch to turn the audit trail off (an answered use must always be recorded), so the benchmark
runs its own server process (``python -m benchmarks.audit serve on|off``): the gateway as ``zzgw serve`` builds it,
with ``VerificationService``'s audit trail removed for ``off``. Everything else — receipts signed and stored by group
commit, caches, the server model — is the same. Server pinned to CPU 0, the load client (benchmarks.verify_client,
64 calls in flight, warm caches) to CPU 1; rounds alternate on/off and the median of each is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import free_port, postgres_database, wait_serving
from benchmarks.verify import (
    MARKET,
    ROOT,
    VERIFIER,
    Running,
    _stop,
    _taskset,
    client,
    gateway,
    gateway_env,
    load,
    median_run,
    token,
)


def serve(mode: str) -> None:
    """Run one gateway process from the environment's settings, with the audit trail removed for ``off``."""
    from gateway.config import Settings
    from gateway.server import Gateway, build_server

    gateway_ = Gateway.open(Settings.load())
    if mode == "off":
        assert gateway_.verification is not None
        gateway_.verification._audit = None
    server, _ = build_server(gateway_)
    server.start()
    print("READY", flush=True)
    server.wait_for_termination()


@contextlib.contextmanager
def server(env: dict[str, str], mode: str, cpu: int | None) -> Iterator[Running]:
    address = f"127.0.0.1:{free_port()}"
    env = {**env, "ZZGW_GRPC_ADDR": address, "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}"}
    command = [*_taskset(cpu), sys.executable, "-m", "benchmarks.audit", "serve", mode]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        if not ready or proc.stdout.readline().strip() != "READY":
            raise RuntimeError(f"the {mode} server did not start (exit code {proc.poll()})")
        wait_serving(address, process=proc)
        yield Running(address, [proc.pid])
    finally:
        _stop([proc])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--licenses", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--postgresql", action="store_true", help="a PostgreSQL database made and dropped here")
    args = parser.parse_args()
    if args.mode[:1] == ["serve"]:
        serve(args.mode[1])
        return
    if args.postgresql:
        with postgres_database() as url:
            args.database_url = url
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    args.postgres_db = ""
    work = Path(tempfile.mkdtemp(prefix="zzgw-audit-bench-"))
    try:
        data_dir = work / "var"
        env = gateway_env(data_dir, args.database_url or None)
        init = [sys.executable, "-m", "gateway.cli", "init"]
        subprocess.run(init, env=env, cwd=ROOT, check=True, capture_output=True)
        ids = work / "ids.txt"
        with gateway(env, workers=1, cpu=None) as running:
            issued = client(None, "issue", running.address, token(data_dir, MARKET), str(args.licenses), str(ids),
                            timeout=600)  # fmt: skip
        print(f"store: {issued['n']:,} licenses issued at {issued['rate']:,.0f}/s")
        runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
        for round_ in range(args.rounds):
            for mode in ("on", "off"):
                with server(env, mode, cpu=0) as running:
                    result = load(
                        running, kind="license", input_file=ids, tok=token(data_dir, VERIFIER), args=args, client_cpu=1,
                        in_flight=64, prefill=True,
                    )  # fmt: skip
                runs[mode].append(result)
                print(f"  round {round_ + 1}, audit {mode:<3}: {result['rate']:,.0f} VerifyLicense/s", flush=True)
        on, off = median_run(runs["on"]), median_run(runs["off"])
        ratio = on["rate"] / off["rate"]
        print(
            f"\nVerifyLicense, warm caches, 64 in flight, {'PostgreSQL' if args.database_url else 'SQLite'}: "
            f"audit trail on {on['rate']:,.0f}/s, off {off['rate']:,.0f}/s: {ratio:.0%} "
            f"(goal ≥ 85%: {'met' if ratio >= 0.85 else 'MISSED'})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
