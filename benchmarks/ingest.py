"""Ingest benchmark: BatchIssueLicenses throughput (validated, sealed, committed) vs a bare gRPC streaming server.

    python -m benchmarks.ingest [--n 50000] [--streams 1] [--workers 1] [--backends sqlite,postgresql]

The bare server, each gateway and the client run in separate processes, all in this one run, so the figures are
comparable ratios on whatever machine runs them. The client streams ready-made requests and waits for every
answer; the rate is licenses answered per second of wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys

from benchmarks.common import ROOT, free_port, gateway_process, postgres_database, run_client, wait_serving
from benchmarks.payloads import MARKET


def bare(n: int, streams: int) -> dict[str, float]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.bare_server", str(port)], cwd=ROOT)
    try:
        wait_serving(f"127.0.0.1:{port}")
        return run_client("benchmarks.ingest_client", f"127.0.0.1:{port}", str(n), str(streams))
    finally:
        process.terminate()
        process.wait(10)


def gateway(backend: str, n: int, streams: int, workers: int) -> dict[str, float]:
    database = postgres_database() if backend == "postgresql" else contextlib.nullcontext(None)
    with database as url, gateway_process(url, workers=workers) as gw:
        result = run_client("benchmarks.ingest_client", gw.address, str(n), str(streams), gw.token(MARKET))
    if result["errors"]:
        raise SystemExit(f"{backend}: {result['errors']} items failed; the benchmark input should all be valid")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = {"bare gRPC server": bare(args.n, args.streams)}
    for backend in args.backends.split(","):
        results[f"gateway, {backend}"] = gateway(backend, args.n, args.streams, args.workers)
    base = results["bare gRPC server"]["rate"]
    print(f"\nBatchIssueLicenses, {args.n} licenses, {args.streams} stream(s), {args.workers} gateway worker(s)")
    print(f"{'server':<24}{'licenses/s':>12}{'vs bare':>10}{'seconds':>10}")
    for name, r in results.items():
        print(f"{name:<24}{r['rate']:>12,.0f}{r['rate'] / base:>10.1%}{r['seconds']:>10.1f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"n": args.n, "streams": args.streams, "workers": args.workers, "results": results}, out, indent=2)


if __name__ == "__main__":
    main()
