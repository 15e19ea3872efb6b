"""Load client of benchmarks.verify, run in a process of its own: it prints one JSON line.

    python -m benchmarks.verify_client issue ADDRESS TOKEN N OUT_IDS_FILE
    python -m benchmarks.verify_client load ADDRESS --kind {license,document} --input FILE [options]

``issue`` makes N 食品生产许可证 with BatchIssueLicenses (100 items per message, requests built while the stream
runs) and writes their identifiers to a file, one a line.

``load`` keeps ``--in-flight`` unary calls outstanding (sync grpc channels, futures whose done-callback sends the
next call) over ``--channels`` connections for a warm-up and a measured window, and counts the calls that complete
in the window with their latency (send to answer). ``--kind license`` sends VerifyLicense by identifier, cycling
over the identifiers in ``--input`` (``--order cycle``) or using each of them at most once (``--order once``: the
window closes early when they run out); ``--prefill`` verifies every identifier once on every server process before
the clock starts (to fill the caches). ``--kind document`` sends VerifyDocument with the PDF in ``--input``. Every
answer must be a PASSED report (else it counts as an error). CPU use of the server processes (``--pids``), the
client and the machine is read from /proc at both ends of the window. With several server processes sharing the
port (SO_REUSEPORT) ``--balance`` opens connections until they are split evenly over ``--pids``, as a load balancer
would, finding which process accepted each connection from /proc/net/tcp and the processes' file descriptors.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from benchmarks.payloads import ITEMS_PER_MESSAGE, MARKET, batch_requests
from protos.zzgw.v1 import issuance_pb2_grpc, verification_pb2

MATTER = "370100-SPJC-001"  # the 市场监督管理局's own matter, which uses the food permits the benchmark issues
USE = verification_pb2.UseContext(matter_code=MATTER, purpose="食品生产经营监督检查：核验食品生产许可证")
VERIFY_LICENSE = "/zzgw.v1.VerificationService/VerifyLicense"
VERIFY_DOCUMENT = "/zzgw.v1.VerificationService/VerifyDocument"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
PASSED = verification_pb2.CHECK_RESULT_PASSED
CLK_TCK = os.sysconf("SC_CLK_TCK")
MAX_MESSAGE = 64 * 1024 * 1024


# ---------------------------------------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """User + system CPU time of a process's threads, summed by kernel thread name (``gateway.threads``)."""
    used: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                head, _, rest = f.read().rpartition(")")
        except OSError:  # the thread has ended
            continue
        name, fields = head.split("(", 1)[1], rest.split()
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return used


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (ticks[0] + ticks[1] + ticks[2]) / CLK_TCK  # user, nice, system


def database_cpu_seconds(database: str) -> float:
    """CPU time of the PostgreSQL backends serving ``database`` (their process title names it)."""
    total = 0.0
    needle = f" {database} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read()
            if title.startswith(b"postgres:") and needle in title:
                total += cpu_seconds(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return total


def socket_inodes(pid: int | str) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    return inodes


def tcp_sockets(state: str) -> list[tuple[int, int, int]]:
    """(local port, remote port, inode) of every TCP socket in ``state`` ("01" established, "0A" listening), IPv4
    and IPv6 (grpc listens on IPv6 sockets, 127.0.0.1 as a v4-mapped address)."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[3] == state:
                    local, remote = (int(parts[i].rsplit(":", 1)[1], 16) for i in (1, 2))
                    rows.append((local, remote, int(parts[9])))
    return rows


def _my_ports(server_port: int) -> set[int]:
    """Local ports of this process's connections to ``server_port``."""
    mine = socket_inodes("self")
    return {local for local, remote, inode in tcp_sockets("01") if remote == server_port and inode in mine}


def _owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` accepted the connection from ``client_port``."""
    for local, remote, inode in tcp_sockets("01"):
        if local == server_port and remote == client_port:
            for pid in pids:
                if inode in socket_inodes(pid):
                    return pid
    return None


# ---------------------------------------------------------------------------------------------------------- channels


def _channel(address: str, number: int) -> grpc.Channel:
    # a subchannel pool of its own and a distinct argument: a connection of its own per channel
    options = [
        ("grpc.use_local_subchannel_pool", 1),
        ("zzgw.bench.channel", f"{uuid.uuid4().hex}-{number}"),
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
    ]
    return grpc.insecure_channel(address, options=options)


def _health(channel: grpc.Channel) -> None:
    channel.unary_unary(HEALTH_CHECK)(b"", timeout=10)  # raw bytes: an empty HealthCheckRequest


def open_channels(
    address: str, count: int, pids: list[int], balance: bool
) -> tuple[list[grpc.Channel], list[int], list[int], int]:
    """``count`` connected channels; with ``balance``, spread evenly over the processes ``pids``. Returns them, the
    process of each, how the kernel split the first ``count`` connections over ``pids``, and how many were opened."""
    port = int(address.rsplit(":", 1)[1])
    want = -(-count // len(pids)) if balance else count
    kept: dict[int, list[grpc.Channel]] = {pid: [] for pid in pids}
    first = dict.fromkeys(pids, 0)
    opened = 0
    while sum(len(v) for v in kept.values()) < count:
        if opened >= 30 * count:
            raise SystemExit(f"could not spread {count} connections over {len(pids)} processes in {opened} tries")
        before = _my_ports(port)
        channel = _channel(address, opened)
        _health(channel)
        opened += 1
        new = _my_ports(port) - before
        pid = _owner(port, new.pop(), pids) if len(new) == 1 else None
        if pid is None:
            if len(pids) == 1:
                pid = pids[0]
            else:
                raise SystemExit("cannot tell which server process accepted a connection")
        if opened <= count:
            first[pid] += 1
        if len(kept[pid]) < want:
            kept[pid].append(channel)
        else:
            channel.close()
    interleaved = [c for group in itertools.zip_longest(*kept.values()) for c in group if c is not None][:count]
    owner = {id(c): pid for pid, chans in kept.items() for c in chans}
    return interleaved, [owner[id(c)] for c in interleaved], [first[p] for p in pids], opened


# ---------------------------------------------------------------------------------------------------------- load


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def license_requests(ids: list[str]) -> list[bytes]:
    return [verification_pb2.VerifyLicenseRequest(use=USE, license_id=i).SerializeToString() for i in ids]


def check_license(reply: bytes) -> bool:
    return verification_pb2.VerifyLicenseResponse.FromString(reply).report.verdict == PASSED


def check_document(reply: bytes) -> bool:
    return verification_pb2.VerifyDocumentResponse.FromString(reply).report.verdict == PASSED


def prefill(
    channels: list[grpc.Channel], owners: list[int], method: str, requests: list[bytes], metadata: Any, in_flight: int
) -> float:
    """Send every request once to every server process (one channel each), ``in_flight`` at a time; seconds."""
    began = time.perf_counter()
    per_process = {pid: channel for channel, pid in zip(channels, owners, strict=True)}
    for channel in per_process.values():
        call = channel.unary_unary(method)
        for k in range(0, len(requests), in_flight):
            futures = [call.future(r, metadata=metadata, timeout=60) for r in requests[k : k + in_flight]]
            for f in futures:
                f.result()
    return time.perf_counter() - began


def run_load(
    channels: list[grpc.Channel],
    method: str,
    requests: Iterator[bytes],
    check: Callable[[bytes], bool],
    metadata: Any,
    in_flight: int,
    warmup: float,
    seconds: float,
    pids: list[int],
    postgres_db: str = "",
) -> dict[str, Any]:
    """``in_flight`` calls always outstanding, round robin over ``channels``, for ``warmup`` + ``seconds``."""
    calls = [c.unary_unary(method) for c in channels]
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"errors": 0, "not_passed": 0, "running": in_flight}
    finished = threading.Event()
    exhausted: list[float] = []  # when the requests ran out (order "once"), if they did
    now = time.perf_counter()
    start, end = now + warmup, now + warmup + seconds
    first_error: list[str] = []

    def stop_slot() -> None:
        with lock:
            counts["running"] -= 1
            if counts["running"] == 0:
                finished.set()

    def fire(slot: int) -> None:
        sent = time.perf_counter()
        request = next(requests, None) if sent < end else None
        if request is None:
            if sent < end and not exhausted:
                exhausted.append(sent)
            stop_slot()
            return
        future = calls[slot % len(calls)].future(request, metadata=metadata, timeout=60)
        future.add_done_callback(lambda f: done(f, sent, slot))

    def done(future: Any, sent: float, slot: int) -> None:
        finished_at = time.perf_counter()
        ok = True
        try:
            ok = check(future.result())
        except grpc.RpcError as exc:
            with lock:
                counts["errors"] += 1
                if not first_error:
                    first_error.append(f"{exc.code()}: {exc.details()}")
        if start <= finished_at < end:
            latencies.append(finished_at - sent)
            if not ok:
                with lock:
                    counts["not_passed"] += 1
        fire(slot)

    def meter() -> dict[str, Any]:
        watched = database_cpu_seconds(postgres_db) if postgres_db else 0.0
        threads: dict[str, float] = {}
        for pid in pids:
            for name, seconds in thread_cpu_seconds(pid).items():
                threads[name] = threads.get(name, 0.0) + seconds
        return {"cpu": [cpu_seconds(p) for p in pids] + [watched, time.process_time(), machine_busy_seconds()],
                "threads": threads, "at": [time.perf_counter()]}  # fmt: skip

    for slot in range(in_flight):
        fire(slot)
    time.sleep(max(0.0, start - time.perf_counter()))
    before = meter()
    finished.wait(max(0.0, end - time.perf_counter()))
    after = meter()
    finished.wait(120)
    window_end = min(end, exhausted[0]) if exhausted else end
    window = max(1e-9, window_end - start)
    metered = after["at"][0] - before["at"][0]
    used = [(a - b) / metered for a, b in zip(after["cpu"], before["cpu"], strict=True)]
    server, database, client, machine = used[:-3], used[-3], used[-2], used[-1]
    latencies.sort()
    result: dict[str, Any] = {
        "calls": len(latencies),
        "seconds": window,
        "rate": len(latencies) / window,
        "errors": counts["errors"] + counts["not_passed"],
        "p50_ms": _percentile(latencies, 0.50) * 1e3,
        "p99_ms": _percentile(latencies, 0.99) * 1e3,
        "server_cpu": sum(server),
        "server_cpu_each": server,
        "server_threads": {
            name: (seconds - before["threads"].get(name, 0.0)) / metered for name, seconds in after["threads"].items()
        },
        "client_cpu": client,
        "database_cpu": database if postgres_db else None,
        "other_cpu": max(0.0, machine - sum(server) - database - client),
        "ran_out": bool(exhausted),
    }
    if first_error:
        result["first_error"] = first_error[0]
    return result


def load(args: argparse.Namespace) -> dict[str, Any]:
    pids = [int(p) for p in args.pids.split(",")]
    metadata = (("authorization", f"Bearer {args.token}"),) if args.token else None
    if args.kind == "license":
        with open(args.input, encoding="ascii") as f:
            ids = [line.strip() for line in f if line.strip()]
        if args.shuffle:
            random.Random(args.seed).shuffle(ids)
        requests = license_requests(ids)
        method, check = VERIFY_LICENSE, check_license
    else:
        with open(args.input, "rb") as f:
            pdf = f.read()
        requests = [verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf).SerializeToString()]
        method, check = VERIFY_DOCUMENT, check_document
    channels, owners, first_split, opened = open_channels(args.address, args.channels, pids, args.balance)
    filled = prefill(channels, owners, method, requests, metadata, args.in_flight) if args.prefill else 0.0
    stream: Iterator[bytes] = iter(requests) if args.order == "once" else itertools.cycle(requests)
    result = run_load(
        channels, method, stream, check, metadata, args.in_flight, args.warmup, args.seconds, pids, args.postgres_db
    )
    result.update(
        distinct_requests=len(requests),
        first_split=first_split,
        channel_split=[owners.count(p) for p in pids],
        connections_opened=opened,
        prefill_seconds=filled,
    )
    for c in channels:
        c.close()
    return result


# ---------------------------------------------------------------------------------------------------------- issue


def issue(address: str, token: str, n: int, out: str) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]

    def messages() -> Iterator[Any]:
        for k in range(0, n, ITEMS_PER_MESSAGE):
            yield batch_requests(min(ITEMS_PER_MESSAGE, n - k), run, start=k)[0]

    channel = _channel(address, 0)
    stub = issuance_pb2_grpc.IssuanceServiceStub(channel)
    ids: list[str] = []
    errors = 0
    began = time.perf_counter()
    for reply in stub.BatchIssueLicenses(messages(), metadata=(("authorization", f"Bearer {token}"),)):
        for r in reply.results:
            if r.HasField("error"):
                errors += 1
            else:
                ids.append(r.license.license_id)
    seconds = time.perf_counter() - began
    channel.close()
    with open(out, "w", encoding="ascii") as f:
        f.write("\n".join(ids) + "\n")
    return {"n": len(ids), "errors": errors, "seconds": seconds, "rate": len(ids) / seconds, "issuer": MARKET}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_issue = sub.add_parser("issue")
    p_issue.add_argument("address")
    p_issue.add_argument("token")
    p_issue.add_argument("n", type=int)
    p_issue.add_argument("out")
    p_load = sub.add_parser("load")
    p_load.add_argument("address")
    p_load.add_argument("--kind", choices=("license", "document"), required=True)
    p_load.add_argument("--input", required=True, help="identifiers, one a line (license), or the PDF (document)")
    p_load.add_argument("--token", default="")
    p_load.add_argument("--order", choices=("cycle", "once"), default="cycle")
    p_load.add_argument("--shuffle", action="store_true")
    p_load.add_argument("--seed", type=int, default=1)
    p_load.add_argument("--prefill", action="store_true")
    p_load.add_argument("--channels", type=int, default=1)
    p_load.add_argument("--balance", action="store_true")
    p_load.add_argument("--in-flight", type=int, default=64)
    p_load.add_argument("--warmup", type=float, default=1.0)
    p_load.add_argument("--seconds", type=float, default=5.0)
    p_load.add_argument("--pids", required=True, help="server process ids, comma-separated (CPU metering)")
    p_load.add_argument("--postgres-db", default="", help="also meter the PostgreSQL backends of this database")
    args = parser.parse_args()
    result = issue(args.address, args.token, args.n, args.out) if args.command == "issue" else load(args)
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
