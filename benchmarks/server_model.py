"""Server model benchmark: the synchronous gRPC server with a thread pool vs grpc.aio, 1 vs 2 worker processes
sharing the port (SO_REUSEPORT), and 1 vs 100 items per streamed message — the measurements behind
docs/adr/0001-server-model.md.

    python -m benchmarks.server_model [--seconds 5] [--warmup 1] [--in-flight 64] [--channels 8]
                                      [--parts unary,workers,stream] [--no-stream-aio] [--json FILE]

Every server runs in its own process and the load client in another. Parts "unary" and "stream" pin the server to
CPU 0 and the client to CPU 1 (taskset), so each has a core of its own, over one connection. Part "workers" runs
1 or 2 sync server processes on one port, pinned or not, with the client unpinned over several connections, spread
evenly over the processes; on a 2-core machine the client then shares the cores with the servers. Each row is a
fixed duration after a warm-up; besides req/s and latency it shows the CPU the server(s), the client and every
other process used during the measured window (the last one is noise: rerun when it is high), and the server's
throughput per core it used.

The servers answer ``IssuanceService/GetLicense`` with a prebuilt reply of realistic size (a full 营业执照 with a
record seal), either at once ("empty"), after one ECDSA P-256 verification ("verify") or after 30 of them
("verify30", part "workers" only: ~4 ms of CPU per call, so that the client needs little CPU), and
``BatchIssueLicenses`` like benchmarks.bare_server. Internal entry points (one process each):

    python -m benchmarks.server_model serve {sync,aio} {empty,verify,verify30} PORT
    python -m benchmarks.server_model unary-client ADDRESS CHANNELS IN_FLIGHT WARMUP SECONDS PID[,PID…]
    python -m benchmarks.server_model stream-client ADDRESS ITEMS_PER_MESSAGE WARMUP SECONDS PID
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from benchmarks.bare_server import BareIssuance
from benchmarks.common import ROOT, free_port
from benchmarks.payloads import ITEMS_PER_MESSAGE, bare_response, batch_requests, batch_result, sealed_license
from protos.zzgw.v1 import common_pb2, issuance_pb2, issuance_pb2_grpc

THREADS = 16  # as the gateway's default ZZGW_THREADS
OPTIONS = [("grpc.so_reuseport", 1)]
CLIENT_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]  # a connection of its own per channel
TASKSET = shutil.which("taskset")
CLK_TCK = os.sysconf("SC_CLK_TCK")
WHOAMI = "whoami"  # a GetLicense for this license_id answers with the server's pid (to see where a connection went)


# ---------------------------------------------------------------------------------------------------------- servers


def _work(handler: str) -> Callable[[], None]:
    if handler == "empty":
        return lambda: None
    if handler == "verify":
        return sealed_license().verify
    if handler == "verify30":  # ~4 ms of CPU: a stand-in for heavy calls (a PDF signature costs 20 ms)
        verify = sealed_license().verify

        def heavy() -> None:
            for _ in range(30):
                verify()

        return heavy
    raise SystemExit(f"unknown handler {handler!r}")


def _whoami() -> issuance_pb2.GetLicenseResponse:
    return issuance_pb2.GetLicenseResponse(license=common_pb2.License(license_id=str(os.getpid())))


class SyncIssuance(BareIssuance):
    def __init__(self, handler: str):
        self._work = _work(handler)
        self._reply = sealed_license().response

    def GetLicense(self, request, context):
        if request.license_id == WHOAMI:
            return _whoami()
        self._work()
        return self._reply


class AioIssuance(issuance_pb2_grpc.IssuanceServiceServicer):
    def __init__(self, handler: str):
        self._work = _work(handler)
        self._reply = sealed_license().response

    async def GetLicense(self, request, context):
        if request.license_id == WHOAMI:
            return _whoami()
        self._work()
        return self._reply

    async def BatchIssueLicenses(self, request_iterator, context):
        template = batch_result()
        index = 0
        async for request in request_iterator:
            yield bare_response(template, request, index)
            index += len(request.licenses)


def serve_sync(handler: str, port: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=THREADS), options=OPTIONS,
                         maximum_concurrent_rpcs=THREADS * 16)  # fmt: skip
    issuance_pb2_grpc.add_IssuanceServiceServicer_to_server(SyncIssuance(handler), server)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    server.start()
    print("READY", flush=True)
    server.wait_for_termination()


async def serve_aio(handler: str, port: int) -> None:
    server = grpc.aio.server(options=OPTIONS)
    issuance_pb2_grpc.add_IssuanceServiceServicer_to_server(AioIssuance(handler), server)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    await server.start()
    print("READY", flush=True)
    await server.wait_for_termination()


# ---------------------------------------------------------------------------------------------------------- clients


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (ticks[0] + ticks[1] + ticks[2]) / CLK_TCK  # user, nice, system: not irq/softirq (loopback traffic)


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def balanced_channels(address: str, channels: int, pids: list[int]) -> tuple[list[Any], list[int], int]:
    """``channels`` connections split evenly over the server processes ``pids``, as a load balancer would; the
    kernel's SO_REUSEPORT choice is a hash of the client port, so connections are opened (and surplus ones closed)
    until the split is even. Returns them, how the kernel split the first ``channels`` connections, and how many
    connections were opened in all."""
    want = {pid: -(-channels // len(pids)) for pid in pids}
    kept: dict[int, list[Any]] = {pid: [] for pid in pids}
    first = {pid: 0 for pid in pids}
    whoami = issuance_pb2.GetLicenseRequest(license_id=WHOAMI)
    opened = 0
    while sum(len(v) for v in kept.values()) < channels and opened < 20 * channels:
        channel = grpc.aio.insecure_channel(address, options=CLIENT_OPTIONS)
        opened += 1
        reply = await issuance_pb2_grpc.IssuanceServiceStub(channel).GetLicense(whoami, timeout=10)
        pid = int(reply.license.license_id)
        if opened <= channels:
            first[pid] += 1
        if len(kept[pid]) < want[pid]:
            kept[pid].append(channel)
        else:
            await channel.close()
    if sum(len(v) for v in kept.values()) < channels:
        raise RuntimeError(f"could not spread {channels} connections over {len(pids)} processes in {opened} tries")
    interleaved = [c for group in zip(*kept.values(), strict=False) for c in group]
    interleaved += [c for v in kept.values() for c in v if c not in interleaved]
    return interleaved[:channels], [first[p] for p in pids], opened


async def unary_load(address: str, channels: int, in_flight: int, warmup: float, seconds: float,
                     pids: list[int]) -> dict[str, Any]:  # fmt: skip
    """``in_flight`` GetLicense calls always outstanding over ``channels`` connections; counts what completes."""
    chans, first_split, attempts = await asyncio.wait_for(balanced_channels(address, channels, pids), 60)
    stubs = [issuance_pb2_grpc.IssuanceServiceStub(c) for c in chans]
    request = issuance_pb2.GetLicenseRequest(license_id="1.2.156.3005.2.111000009910000354001.x.001.K")
    latencies: list[float] = []
    errors = 0
    now = time.perf_counter()
    start, end = now + warmup, now + warmup + seconds
    expected_bytes = sealed_license().response.ByteSize()

    async def caller(stub: issuance_pb2_grpc.IssuanceServiceStub) -> None:
        nonlocal errors
        while (sent := time.perf_counter()) < end:
            try:
                reply = await stub.GetLicense(request, timeout=10)
            except grpc.aio.AioRpcError:
                errors += 1
                await asyncio.sleep(0.01)
                continue
            done = time.perf_counter()
            if start <= done < end:
                latencies.append(done - sent)
                if reply.ByteSize() != expected_bytes:
                    errors += 1

    cpu: dict[str, list[float]] = {}

    async def meter() -> None:
        await asyncio.sleep(start - time.perf_counter())
        cpu["before"] = [cpu_seconds(p) for p in pids] + [time.process_time(), machine_busy_seconds()]
        await asyncio.sleep(end - time.perf_counter())
        cpu["after"] = [cpu_seconds(p) for p in pids] + [time.process_time(), machine_busy_seconds()]

    await asyncio.gather(meter(), *(caller(stubs[i % channels]) for i in range(in_flight)))
    for c in chans:
        await c.close()
    used = [(a - b) / seconds for a, b in zip(cpu["after"], cpu["before"], strict=True)]
    server, client, machine = used[:-2], used[-2], used[-1]
    latencies.sort()
    return {"calls": len(latencies), "rate": len(latencies) / seconds, "errors": errors,
            "p50_ms": _percentile(latencies, 0.50) * 1e3, "p99_ms": _percentile(latencies, 0.99) * 1e3,
            "server_cpu": sum(server), "server_cpu_each": server, "client_cpu": client,
            "other_cpu": max(0.0, machine - sum(server) - client), "first_split": first_split,
            "connections_opened": attempts}  # fmt: skip


def stream_load(address: str, per_message: int, warmup: float, seconds: float, pid: int) -> dict[str, Any]:
    """One BatchIssueLicenses stream fed as fast as flow control allows for ``seconds``; items answered per second
    from the first message sent to the last answer received."""
    if per_message == ITEMS_PER_MESSAGE:
        message = batch_requests(ITEMS_PER_MESSAGE, "bench")[0]
    else:
        items = batch_requests(per_message, "bench")[0].licenses
        message = issuance_pb2.BatchIssueLicensesRequest(licenses=items[:per_message])
    channel = grpc.insecure_channel(address, options=CLIENT_OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=10)
    stub = issuance_pb2_grpc.IssuanceServiceStub(channel)

    def requests(until: float) -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
        while time.perf_counter() < until:
            yield message

    def one_stream(duration: float) -> tuple[int, float]:
        answered = 0
        began = time.perf_counter()
        for reply in stub.BatchIssueLicenses(requests(began + duration), timeout=duration + 30):
            answered += len(reply.results)
        return answered, time.perf_counter() - began

    one_stream(warmup)
    server_before, client_before, machine_before = cpu_seconds(pid), time.process_time(), machine_busy_seconds()
    answered, elapsed = one_stream(seconds)
    server_cpu = (cpu_seconds(pid) - server_before) / elapsed
    client_cpu = (time.process_time() - client_before) / elapsed
    other_cpu = (machine_busy_seconds() - machine_before) / elapsed - server_cpu - client_cpu
    channel.close()
    return {"items": answered, "seconds": elapsed, "rate": answered / elapsed, "server_cpu": server_cpu,
            "client_cpu": client_cpu, "other_cpu": max(0.0, other_cpu),
            "message_bytes": message.ByteSize()}  # fmt: skip


# ---------------------------------------------------------------------------------------------------------- driver


def _command(cpu: int | None, *args: str) -> list[str]:
    prefix = [TASKSET, "-c", str(cpu)] if cpu is not None and TASKSET else []
    return [*prefix, sys.executable, "-m", "benchmarks.server_model", *args]


@contextlib.contextmanager
def servers(kind: str, handler: str, cpus: list[int | None]) -> Iterator[tuple[str, list[int]]]:
    """A server process per item of ``cpus`` (pinned to that CPU, or not for None), all on one port; yields the
    address and their pids once all listen."""
    port = free_port()
    procs = [subprocess.Popen(_command(cpu, "serve", kind, handler, str(port)), cwd=ROOT, stdout=subprocess.PIPE,
                              text=True) for cpu in cpus]  # fmt: skip
    try:
        for proc in procs:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            if not ready or proc.stdout.readline().strip() != "READY":
                raise RuntimeError(f"{kind} server did not start (exit code {proc.poll()})")
        yield f"127.0.0.1:{port}", [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def client(cpu: int | None, *args: str, timeout: float) -> dict[str, Any]:
    out = subprocess.run(_command(cpu, *args), cwd=ROOT, check=True, capture_output=True, text=True, timeout=timeout)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_unary(kind: str, handler: str, *, server_cpus: list[int | None], client_cpu: int | None, channels: int,
              args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    with servers(kind, handler, server_cpus) as (address, pids):
        return client(client_cpu, "unary-client", address, str(channels), str(args.in_flight),
                      str(args.warmup), str(args.seconds), ",".join(map(str, pids)),
                      timeout=args.warmup + args.seconds + 60)  # fmt: skip


def run_stream(kind: str, per_message: int, args: argparse.Namespace) -> dict[str, Any]:
    with servers(kind, "empty", [0]) as (address, pids):
        return client(1, "stream-client", address, str(per_message), str(args.warmup), str(args.seconds),
                      str(pids[0]), timeout=2 * (args.warmup + args.seconds) + 90)  # fmt: skip


def drive(args: argparse.Namespace) -> None:
    parts = args.parts.split(",")
    results: dict[str, dict[str, Any]] = {}
    began = time.monotonic()
    with open("/proc/loadavg", encoding="ascii") as f:
        load_before = " ".join(f.read().split()[:3])
    if not TASKSET:
        print("taskset not found: processes are not pinned to cores", file=sys.stderr)

    def note(name: str, r: dict[str, Any]) -> None:
        results[name] = r
        print(f"  {name}: {r['rate']:,.0f}/s", file=sys.stderr, flush=True)

    if "unary" in parts:
        for kind in ("sync", "aio"):
            for handler in ("empty", "verify"):
                note(
                    f"unary {kind} {handler}",
                    run_unary(kind, handler, server_cpus=[0], client_cpu=1, channels=1, args=args),
                )
    if "workers" in parts:
        for handler in ("empty", "verify", "verify30"):
            layouts: list[list[int | None]] = [[None], [0], [None, None], [0, 1]]
            for cpus in layouts:
                layout = f"x{len(cpus)}" + (" pinned" if cpus[0] is not None else "")
                note(
                    f"workers sync {handler} {layout}",
                    run_unary("sync", handler, server_cpus=cpus, client_cpu=None, channels=args.channels, args=args),
                )
    if "stream" in parts:
        for kind in ("sync", "aio") if args.stream_aio else ("sync",):
            for per_message in (1, ITEMS_PER_MESSAGE):
                note(f"stream {kind} {per_message}", run_stream(kind, per_message, args))
    total = time.monotonic() - began

    print(
        f"\nserver model, {dt.date.today().isoformat()}, {os.cpu_count()} CPUs, grpcio {grpc.__version__}, "
        f"Python {sys.version.split()[0]}; {args.warmup:g} s warm-up + {args.seconds:g} s per row; "
        f"total {total:.0f} s; load average before {load_before}"
    )
    unary = [(k, v) for k, v in results.items() if not k.startswith("stream")]
    if unary:
        print(
            f"\nGetLicense unary, reply {sealed_license().response.ByteSize()} B, grpc.aio client with "
            f"{args.in_flight} calls in flight\n"
        )
        print(
            "| server | handler | req/s | p50 ms | p99 ms | server CPU | req/s per server core | client CPU "
            "| other CPU |"
        )
        print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
        for name, r in unary:
            _, kind, handler, *rest = name.split()
            if not rest:
                label = f"sync, ThreadPoolExecutor({THREADS})" if kind == "sync" else "grpc.aio"
                label += ", 1 conn, pinned"
            elif rest[0] == "x1":
                label = f"sync, 1 process, {args.channels} conns"
            else:
                split = "/".join(f"{c:.0%}" for c in r["server_cpu_each"])
                label = f"sync, {rest[0][1:]} processes (CPU {split}), {args.channels} conns"
            if rest[1:]:
                label += ", pinned " + ("CPU 0" if rest[0] == "x1" else "one per CPU")
            per_core = r["rate"] / r["server_cpu"] if r["server_cpu"] else float("nan")
            err = f" ({r['errors']} errors!)" if r["errors"] else ""
            print(
                f"| {label} | {handler} | {r['rate']:,.0f}{err} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{r['server_cpu']:.0%} | {per_core:,.0f} | {r['client_cpu']:.0%} | {r['other_cpu']:.0%} |"
            )
        splits = ["/".join(map(str, r["first_split"])) for _, r in unary if len(r["first_split"]) > 1]
        if splits:
            print(
                f"\n'processes' rows: the kernel (SO_REUSEPORT) put the first {args.channels} connections "
                f"{', '.join(splits)}; the client then opened and closed connections until they were split evenly."
            )
    streams = [(k, v) for k, v in results.items() if k.startswith("stream")]
    if streams:
        print("\nBatchIssueLicenses bidi stream, bare replies (as benchmarks.bare_server), one stream, pinned\n")
        print("| server | items/message | items/s | server CPU | items/s per server core | client CPU | other CPU |")
        print("|---|--:|--:|--:|--:|--:|--:|")
        for name, r in streams:
            _, kind, items = name.split()
            label = f"sync, ThreadPoolExecutor({THREADS})" if kind == "sync" else "grpc.aio"
            print(
                f"| {label} | {items} | {r['rate']:,.0f} | {r['server_cpu']:.0%} | "
                f"{r['rate'] / r['server_cpu']:,.0f} | {r['client_cpu']:.0%} | {r['other_cpu']:.0%} |"
            )
    print(
        "\nCPU columns: cores used during the measured window (100% = one core; all threads, summed over server "
        "processes);\n'other' is other processes on the machine (noise). '1 conn, pinned' rows: server on CPU 0, "
        "client on CPU 1;\n'conns' rows: client not pinned.",
        flush=True,
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"date": dt.date.today().isoformat(), "grpcio": grpc.__version__, "cpus": os.cpu_count(),
                       "settings": {k: v for k, v in vars(args).items() if k != "command"},
                       "load_before": load_before, "results": results}, out, indent=2)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve")
    serve.add_argument("kind", choices=("sync", "aio"))
    serve.add_argument("handler", choices=("empty", "verify", "verify30"))
    serve.add_argument("port", type=int)
    unary = sub.add_parser("unary-client")
    unary.add_argument("address")
    for name in ("channels", "in_flight"):
        unary.add_argument(name, type=int)
    for name in ("warmup", "seconds"):
        unary.add_argument(name, type=float)
    unary.add_argument("pids")
    stream = sub.add_parser("stream-client")
    stream.add_argument("address")
    stream.add_argument("per_message", type=int)
    for name in ("warmup", "seconds"):
        stream.add_argument(name, type=float)
    stream.add_argument("pid", type=int)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per row (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up per row (default 1)")
    parser.add_argument("--in-flight", type=int, default=64, help="unary calls in flight (default 64)")
    parser.add_argument(
        "--channels",
        type=int,
        default=8,
        help="connections in part 'workers', spread evenly over the server processes (default 8)",
    )
    parser.add_argument("--parts", default="unary,workers,stream")
    parser.add_argument(
        "--no-stream-aio", dest="stream_aio", action="store_false", help="streaming on the sync server only"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.command == "serve":
        if args.kind == "sync":
            serve_sync(args.handler, args.port)
        else:
            asyncio.run(serve_aio(args.handler, args.port))
    elif args.command == "unary-client":
        pid_list = [int(p) for p in args.pids.split(",")]
        result = asyncio.run(
            unary_load(args.address, args.channels, args.in_flight, args.warmup, args.seconds, pid_list)
        )
        print(json.dumps(result))
    elif args.command == "stream-client":
        print(json.dumps(stream_load(args.address, args.per_message, args.warmup, args.seconds, args.pid)))
    else:
        drive(args)


if __name__ == "__main__":
    main()
