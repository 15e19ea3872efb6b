"""Ingest benchmark: BatchIssueLicenses throughput (validated, sealed, committed) vs a bare gRPC streaming server.

    python -m benchmarks.ingest [--n 30000] [--layouts 1x1,2x4] [--backends sqlite,postgresql] [--json FILE]

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
        wait_serving(f"127.0.0.1:{port}", process=process)
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30_000, help="licenses issued in each run (default 30000)")
    parser.add_argument(
        "--layouts",
        default="1x1,2x4",
        help="gateway worker processes x client streams, comma-separated (default 1x1,2x4)",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="stores to run the gateway on, comma-separated: sqlite, postgresql (default both; postgresql makes a "
        "throw-away database on the server of ZZGW_BENCH_DATABASE_URL, else ZZGW_TEST_DATABASE_URL, else "
        "postgres@127.0.0.1:5432)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    lines = []
    for layout in args.layouts.split(","):
        workers, streams = (int(x) for x in layout.split("x"))
        base = bare(args.n, streams)
        results[f"bare gRPC server, {streams} stream(s)"] = base
        lines.append((f"bare gRPC server ({streams} stream(s))", base, base["rate"]))
        for backend in args.backends.split(","):
            r = gateway(backend, args.n, streams, workers)
            results[f"gateway {backend}, {workers} worker(s), {streams} stream(s)"] = r
            lines.append((f"gateway, {backend} ({workers} worker(s), {streams} stream(s))", r, base["rate"]))
    print(
        f"\nBatchIssueLicenses: {args.n} licenses, validated, sealed (ECDSA P-256) and committed; 100 items per message"
    )
    print(f"{'server':<48}{'licenses/s':>12}{'vs bare':>10}{'seconds':>10}")
    for name, r, base_rate in lines:
        print(f"{name:<48}{r['rate']:>12,.0f}{r['rate'] / base_rate:>10.1%}{r['seconds']:>10.1f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"n": args.n, "results": results}, out, indent=2)


if __name__ == "__main__":
    main()
