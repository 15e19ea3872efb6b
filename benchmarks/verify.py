"""Verification benchmark: VerifyLicense (warm and cold caches, 1 and 2 worker processes) against a bare gRPC server
of the same model answering a reply of the same size, and VerifyDocument against raw pyHanko validation.

    python -m benchmarks.verify [--licenses 100000] [--warm-set 2000] [--seconds 5] [--warmup 1] [--in-flight 64]
                                [--rounds 3] [--document-in-flight 4] [--document-rounds 3] [--document-seconds 3]
                                [--channels 8] [--parts warm,cold,document,workers]
                                [--database-url URL | --postgresql] [--seed 1] [--json FILE] [--sched-batch]

A quick run: ``--licenses 5000 --seconds 3`` (~3 minutes); the default run takes about 5 minutes, one of them
issuing the 100,000 licenses.

One run, one throw-away data directory (``zzgw init``), everything in separate processes: the gateway (``zzgw
serve``), the bare server, and the load client (benchmarks.verify_client: sync grpc channels, a future per call
whose callback sends the next one, ``--in-flight`` calls always outstanding). Steps:

1. ``--licenses`` 食品生产许可证 are issued with BatchIssueLicenses (100 a message), and one more with IssueLicense,
   which draws and seals its PDF (fetched with GetLicenseDocument).
2. The gateway is restarted (empty caches), one worker pinned to CPU 0, the client on CPU 1, one connection:
   - **cold**: VerifyLicense on a random sample of distinct licenses, each once (every lookup misses the caches);
   - **warm**, against the **bare server** (sync ``grpc.server``, ThreadPoolExecutor(16), the collector settings of
     ``gateway.server.tune_gc``: as the gateway; it answers every call with the bytes of one real
     VerifyLicenseResponse, in the same layout), started beside the gateway on CPU 0: VerifyLicense cycling over
     ``--warm-set`` licenses (each verified once before the clock starts), then the bare server, alternating in
     ``--rounds`` rounds; medians are reported (with every round's rate), the bare median also the baseline of the
     cold row. Then each with 8 calls in flight (latency at a lighter load);
   - **document**: VerifyDocument of the sealed PDF (``--document-in-flight`` calls in flight), alternating in
     ``--document-rounds`` rounds with raw pyHanko (``validate_pdf_signature``, a ValidationContext trusting the
     seal-maker CA root, with its CRL) and the gateway's own validator (``signing.pdf.validate_sync``) checking the
     same PDF in a loop, one thread on CPU 0; medians are reported.
3. **workers**: the warm test with ZZGW_WORKERS=1 (unpinned, as ``zzgw serve`` runs it; and pinned to CPU 0) and
   ZZGW_WORKERS=2 (``zzgw serve`` pins one worker per core), and the bare server as 1 and 2 processes, the client
   unpinned over ``--channels`` connections spread evenly over the server processes (the kernel's SO_REUSEPORT
   split is reported too). On a 2-core machine the client shares the cores with the servers.

Internal entry points:

    python -m benchmarks.verify bare-serve PORT REPLY_FILE
    python -m benchmarks.verify raw-pdf {pyhanko,gateway} PDF SEAL_CA_DIR CRL_FILE WARMUP SECONDS
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy.engine import make_url

from benchmarks.common import PASSPHRASE, ROOT, free_port, postgres_database, wait_serving
from benchmarks.payloads import MARKET, batch_requests
from benchmarks.verify_client import USE, machine_busy_seconds, socket_inodes, tcp_sockets
from protos.zzgw.v1 import issuance_pb2, issuance_pb2_grpc, verification_pb2, verification_pb2_grpc

VERIFIER = MARKET  # the 市场监督管理局 verifies the food permits under its 食品生产经营监督检查 (a department
# verifies only the license types its matter uses; the tax bureau's 发票申领 uses the 营业执照 alone)
THREADS = 16  # as the gateway's default ZZGW_THREADS
TASKSET = shutil.which("taskset")
CRL_PATH = "/crl/seal-maker.crl"


# ---------------------------------------------------------------------------------------------------------- servers


class _FixedReply(grpc.GenericRpcHandler):
    """Answers every VerificationService call with the same bytes: no deserialising, no work."""

    def __init__(self, reply: bytes):
        self._handler = grpc.unary_unary_rpc_method_handler(lambda request, context: reply)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if handler_call_details.method.startswith("/zzgw.v1.VerificationService/"):
            return self._handler
        return None


def serve_bare(port: int, reply_file: str) -> None:
    from grpc_health.v1 import health, health_pb2_grpc

    from gateway.server import HANDLER_THREAD_NAME, tune_gc
    from gateway.threads import name_this_thread

    reply = Path(reply_file).read_bytes()
    server = grpc.server(  # handler threads named as the gateway's, for the per-thread CPU table
        futures.ThreadPoolExecutor(max_workers=THREADS, initializer=name_this_thread, initargs=(HANDLER_THREAD_NAME,)),
        handlers=[_FixedReply(reply)],
        options=[("grpc.so_reuseport", 1)],
        maximum_concurrent_rpcs=THREADS * 16,  # as the gateway
    )
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    tune_gc()  # the same server model as the gateway's, collector settings included
    server.start()
    print("READY", flush=True)
    server.wait_for_termination()


_POLICY: list[str] = []
"""``chrt --batch 0`` under ``--sched-batch``: every process of the run (servers and clients) under SCHED_BATCH."""


def _taskset(cpu: int | None) -> list[str]:
    return [*_POLICY, *([TASKSET, "-c", str(cpu)] if cpu is not None and TASKSET else [])]


@dataclass(frozen=True)
class Running:
    address: str
    pids: list[int]
    http: str = ""


@contextlib.contextmanager
def bare_servers(reply_file: Path, cpus: list[int | None]) -> Iterator[Running]:
    """A bare server process per item of ``cpus`` (pinned to it, or not for None), all on one port."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.verify", "bare-serve", str(port), str(reply_file)]
    procs = [subprocess.Popen([*_taskset(cpu), *command], cwd=ROOT, stdout=subprocess.PIPE, text=True) for cpu in cpus]
    try:
        for proc in procs:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            if not ready or proc.stdout.readline().strip() != "READY":
                raise RuntimeError(f"bare server did not start (exit code {proc.poll()})")
        yield Running(f"127.0.0.1:{port}", [p.pid for p in procs])
    finally:
        _stop(procs)


def _stop(procs: list[subprocess.Popen[Any]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _listening(pid: int, port: int) -> bool:
    inodes = socket_inodes(pid)
    return any(local == port and inode in inodes for local, _, inode in tcp_sockets("0A"))


def worker_pids(parent: int, count: int, port: int, timeout: float = 60.0) -> list[int]:
    """The pids of ``zzgw serve``'s worker processes, once all ``count`` of them listen on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if ppid == parent and b"spawn_main" in cmdline:
                children.append(int(entry))
        if len(children) == count and all(_listening(pid, port) for pid in children):
            return sorted(children)
        time.sleep(0.2)
    raise RuntimeError(f"zzgw serve did not start {count} listening workers in {timeout}s")


@contextlib.contextmanager
def gateway(env: dict[str, str], *, workers: int, cpu: int | None) -> Iterator[Running]:
    """``zzgw serve`` on an initialised data directory; pinned to ``cpu`` with taskset unless None."""
    grpc_port, http_port = free_port(), free_port()
    env = {
        **env,
        "ZZGW_WORKERS": str(workers),
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{grpc_port}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{http_port}",
    }
    command = [*_taskset(cpu), sys.executable, "-m", "gateway.cli", "serve"]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        address = f"127.0.0.1:{grpc_port}"
        wait_serving(address, process=proc)
        pids = [proc.pid] if workers == 1 else worker_pids(proc.pid, workers, grpc_port)
        yield Running(address, pids, f"http://127.0.0.1:{http_port}")
    finally:
        _stop([proc])


def gateway_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(data_dir),
        "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
        "ZZGW_ACCESS_LOG": "false",
        "ZZGW_THREADS": str(THREADS),
        "ZZGW_LOG_LEVEL": "WARNING",
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
    }
    if database_url:
        env["ZZGW_DATABASE_URL"] = database_url
    return env


def token(data_dir: Path, code: str) -> str:
    tokens = json.loads((data_dir / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
    return str(tokens[code]["token"])


# ---------------------------------------------------------------------------------------------------------- clients


def client(cpu: int | None, *args: str, timeout: float) -> dict[str, Any]:
    command = [*_taskset(cpu), sys.executable, "-m", "benchmarks.verify_client", *args]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"client {' '.join(args[:2])} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def load(
    running: Running,
    *,
    kind: str,
    input_file: Path,
    tok: str,
    args: argparse.Namespace,
    client_cpu: int | None,
    in_flight: int,
    channels: int = 1,
    order: str = "cycle",
    prefill: bool = False,
    balance: bool = False,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Run the load client against ``running``; with PostgreSQL, also meter the backends of the database."""
    seconds = args.seconds if seconds is None else seconds
    options = [
        "load", running.address, "--kind", kind, "--input", str(input_file), "--token", tok, "--order", order,
        "--channels", str(channels), "--in-flight", str(in_flight), "--warmup", str(args.warmup),
        "--seconds", str(seconds), "--pids", ",".join(map(str, running.pids)),
    ]  # fmt: skip
    if prefill:
        options.append("--prefill")
    if balance:
        options.append("--balance")
    if args.postgres_db:
        options += ["--postgres-db", args.postgres_db]
    return client(client_cpu, *options, timeout=args.warmup + args.seconds + 600)


def raw_pdf_run(mode: str, pdf_file: Path, data_dir: Path, crl_file: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``raw-pdf`` in a process of its own on CPU 0 (where the idle gateway sits)."""
    command = [*_taskset(0), sys.executable, "-m", "benchmarks.verify", "raw-pdf", mode, str(pdf_file),
               str(data_dir / "seal-ca"), str(crl_file), str(args.warmup), str(args.document_seconds)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (the lower middle one of an even number)."""
    return sorted(runs, key=lambda r: float(r["rate"]))[(len(runs) - 1) // 2]


def make_document(running: Running, data_dir: Path, n: int) -> tuple[bytes, str]:
    """One more license with IssueLicense (drawn and sealed), its PDF, and its identifier."""
    channel = grpc.insecure_channel(running.address, options=[("grpc.max_receive_message_length", 64 << 20)])
    stub = issuance_pb2_grpc.IssuanceServiceStub(channel)
    metadata = (("authorization", f"Bearer {token(data_dir, MARKET)}"),)
    request: issuance_pb2.IssueLicenseRequest = batch_requests(1, uuid.uuid4().hex[:8], start=n)[0].licenses[0]
    issued = stub.IssueLicense(request, metadata=metadata, timeout=120)
    document = stub.GetLicenseDocument(
        issuance_pb2.GetLicenseDocumentRequest(license_id=issued.license.license_id), metadata=metadata, timeout=120
    )
    channel.close()
    return document.pdf, issued.license.license_id


def one_reply(running: Running, data_dir: Path, license_id: str) -> verification_pb2.VerifyLicenseResponse:
    with grpc.insecure_channel(running.address) as channel:
        stub = verification_pb2_grpc.VerificationServiceStub(channel)
        reply: verification_pb2.VerifyLicenseResponse = stub.VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=USE, license_id=license_id),
            metadata=(("authorization", f"Bearer {token(data_dir, VERIFIER)}"),),
            timeout=30,
        )
    if reply.report.verdict != verification_pb2.CHECK_RESULT_PASSED:
        raise RuntimeError(f"the benchmark's license does not verify: {reply.report}")
    return reply


# ---------------------------------------------------------------------------------------------------------- raw PDF


def raw_pdf(mode: str, pdf_file: str, seal_ca_dir: str, crl_file: str, warmup: float, seconds: float) -> None:
    """Validate the same PDF in a loop on one thread: pyHanko as its documentation shows it, or the gateway's
    validator (``signing.pdf.validate_sync``: pyHanko plus the seal-certificate check); prints one JSON line."""
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from signing.pdf import validate_sync

    pdf = Path(pdf_file).read_bytes()
    crl = Path(crl_file).read_bytes()
    root_pem = (Path(seal_ca_dir) / "root.pem").read_bytes()
    intermediate_pem = (Path(seal_ca_dir) / "intermediate.pem").read_bytes()
    root, intermediate = x509.load_pem_x509_certificate(root_pem), x509.load_pem_x509_certificate(intermediate_pem)
    root_asn1 = asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))

    def pyhanko_once() -> bool:
        signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
        status = validate_pdf_signature(
            signature,
            signer_validation_context=ValidationContext(trust_roots=[root_asn1], crls=[crl], allow_fetching=False),
            ts_validation_context=ValidationContext(trust_roots=[root_asn1], allow_fetching=False),
        )
        return bool(status.bottom_line)

    def gateway_once() -> bool:
        checked = validate_sync(pdf, trust_roots=[root], intermediates=[intermediate], crls=[crl])
        return checked.reason is None

    once = pyhanko_once if mode == "pyhanko" else gateway_once
    if not once():
        raise SystemExit(f"{mode}: the PDF does not validate")
    until = time.perf_counter() + warmup
    while time.perf_counter() < until:
        once()
    count = 0
    cpu_before, machine_before, began = time.process_time(), machine_busy_seconds(), time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        once()
        count += 1
    cpu = (time.process_time() - cpu_before) / elapsed
    other = max(0.0, (machine_busy_seconds() - machine_before) / elapsed - cpu)
    print(json.dumps({"calls": count, "seconds": elapsed, "rate": count / elapsed, "ms": elapsed / count * 1e3,
                      "cpu": cpu, "other_cpu": other, "pdf_bytes": len(pdf)}))  # fmt: skip


# ---------------------------------------------------------------------------------------------------------- driver


def _note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _brief(r: dict[str, Any]) -> str:
    return f"{r['rate']:,.0f}/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, errors {r['errors']}"


PARTS = ("warm", "cold", "document", "workers")


def drive(args: argparse.Namespace) -> None:
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        raise SystemExit(f"unknown part(s) {', '.join(sorted(parts - set(PARTS)))}; choose from {', '.join(PARTS)}")
    began = time.monotonic()
    with open("/proc/loadavg", encoding="ascii") as f:
        load_before = " ".join(f.read().split()[:3])
    if not TASKSET:
        _note("taskset not found: nothing is pinned to a core")
    results: dict[str, dict[str, Any]] = {}

    def note(name: str, r: dict[str, Any]) -> dict[str, Any]:
        results[name] = r
        _note(f"  {name}: {_brief(r) if 'p50_ms' in r else r}")
        return r

    database: contextlib.AbstractContextManager[str | None] = (
        postgres_database() if args.postgresql else contextlib.nullcontext(args.database_url)
    )
    with tempfile.TemporaryDirectory(prefix="zzgw-verify-") as tmp, database as database_url:
        work = Path(tmp)
        data_dir = work / "data"
        env = gateway_env(data_dir, database_url)
        backend = "PostgreSQL" if database_url and database_url.startswith("postgresql") else "SQLite"
        # PostgreSQL backends are other processes: meter those serving this database (their title names it)
        args.postgres_db = (make_url(database_url).database or "") if backend == "PostgreSQL" and database_url else ""
        _note(f"zzgw init in {data_dir} ({backend})")
        subprocess.run([sys.executable, "-m", "gateway.cli", "init"], env=env, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        market, verifier = token(data_dir, MARKET), token(data_dir, VERIFIER)
        ids_file, pdf_file, crl_file = work / "ids.txt", work / "license.pdf", work / "seal-maker.crl"

        _note(f"issuing {args.licenses:,} licenses")
        with gateway(env, workers=1, cpu=0) as gw:
            issued = note("issue", client(1, "issue", gw.address, market, str(args.licenses), str(ids_file),
                                          timeout=3600))  # fmt: skip
            if issued["errors"]:
                raise SystemExit(f"{issued['errors']} licenses were not issued")
            pdf, _ = make_document(gw, data_dir, args.licenses)
            pdf_file.write_bytes(pdf)
            with urllib.request.urlopen(gw.http + CRL_PATH, timeout=30) as response:
                crl_file.write_bytes(response.read())
        ids = ids_file.read_text(encoding="ascii").split()
        random.Random(args.seed).shuffle(ids)
        warm_count = min(args.warm_set, len(ids) // 2)
        warm_file, cold_file, reply_file = work / "warm.txt", work / "cold.txt", work / "reply.bin"
        warm_file.write_text("\n".join(ids[:warm_count]) + "\n", encoding="ascii")
        cold_file.write_text("\n".join(ids[warm_count:]) + "\n", encoding="ascii")

        _note("restarted gateway: 1 worker on CPU 0, client on CPU 1, one connection")
        with gateway(env, workers=1, cpu=0) as gw:
            if "cold" in parts:
                note("gateway cold", load(gw, kind="license", input_file=cold_file, tok=verifier, args=args,
                                          client_cpu=1, in_flight=args.in_flight, order="once"))  # fmt: skip
            reply = one_reply(gw, data_dir, ids[0])
            reply_file.write_bytes(reply.SerializeToString())
            if parts & {"warm", "cold"}:
                # The bare server beside the idle gateway, both on CPU 0, the two measured in alternated rounds and
                # reported by their medians: this machine's speed drifts by tens of percent from minute to minute
                # (the same bare server answered 5,100 and 9,100 calls/s a minute apart), and a comparison of one
                # run each measured the drift as much as the servers.
                _note("bare server beside it on CPU 0")

                def cycle(server: Running, in_flight: int, prefill: bool = False) -> dict[str, Any]:
                    return load(server, kind="license", input_file=warm_file, tok=verifier, args=args, client_cpu=1,
                                in_flight=in_flight, prefill=prefill)  # fmt: skip

                with bare_servers(reply_file, [0]) as bare:
                    warm_runs: list[dict[str, Any]] = []
                    bare_runs: list[dict[str, Any]] = []
                    for i in range(args.rounds):
                        if "warm" in parts:
                            warm_runs.append(cycle(gw, args.in_flight, prefill=i == 0))
                        bare_runs.append(cycle(bare, args.in_flight))
                    if warm_runs:
                        note("gateway warm", {**median_run(warm_runs), "rounds": [r["rate"] for r in warm_runs]})
                    note("bare", {**median_run(bare_runs), "rounds": [r["rate"] for r in bare_runs]})
                    if "warm" in parts:
                        note("gateway warm 8", cycle(gw, 8))
                    note("bare 8", cycle(bare, 8))
            if "document" in parts:
                # the machine's speed drifts from minute to minute: alternate the three in short rounds, take medians
                rounds: dict[str, list[dict[str, Any]]] = {"gateway document": [], "raw pyhanko": [], "raw gateway": []}
                for _ in range(args.document_rounds):
                    rounds["gateway document"].append(load(gw, kind="document", input_file=pdf_file, tok=verifier,
                                                           args=args, client_cpu=1, in_flight=args.document_in_flight,
                                                           seconds=args.document_seconds))  # fmt: skip
                    for mode in ("pyhanko", "gateway"):
                        rounds[f"raw {mode}"].append(raw_pdf_run(mode, pdf_file, data_dir, crl_file, args))
                for name, runs in rounds.items():
                    note(name, {**median_run(runs), "rounds": [r["rate"] for r in runs]})

        if "workers" in parts:
            _note(f"workers: client unpinned, {args.channels} connections spread evenly over the server processes")
            layouts: list[tuple[str, int, int | None]] = [("1", 1, None), ("1 pinned", 1, 0), ("2", 2, None)]
            for name, workers, cpu in layouts:
                with gateway(env, workers=workers, cpu=cpu) as gw:
                    note(f"workers gateway {name}", load(gw, kind="license", input_file=warm_file, tok=verifier,
                                                         args=args, client_cpu=None, in_flight=args.in_flight,
                                                         channels=args.channels, prefill=True,
                                                         balance=True))  # fmt: skip
            for name, cpus in (("1 pinned", [0]), ("2", [0, 1])):
                with bare_servers(reply_file, list(cpus)) as bare:
                    note(f"workers bare {name}", load(bare, kind="license", input_file=warm_file, tok=verifier,
                                                      args=args, client_cpu=None, in_flight=args.in_flight,
                                                      channels=args.channels, balance=True))  # fmt: skip
    total = time.monotonic() - began
    report(args, results, backend, reply.ByteSize(), len(pdf), total, load_before)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"date": dt.date.today().isoformat(), "grpcio": grpc.__version__, "cpus": os.cpu_count(),
                       "backend": backend, "settings": {k: v for k, v in vars(args).items() if k != "command"},
                       "load_before": load_before, "seconds": total, "results": results}, out, indent=2)  # fmt: skip


def _row(label: str, r: dict[str, Any], base: float | None) -> str:
    ratio = f"{r['rate'] / base:.0%}" if base else ""
    err = f" ({r['errors']} errors: {r.get('first_error', 'not PASSED')})" if r["errors"] else ""
    return (
        f"| {label} | {r['rate']:,.0f}{err} | {ratio} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
        f"{_cpu(r)} | {_per_call(r)} | {r['client_cpu']:.0%} | {r['other_cpu']:.0%} |"
    )


def _cpu(r: dict[str, Any], each: str = "") -> str:
    """Server CPU, and the database's (PostgreSQL backends) when metered."""
    db = r.get("database_cpu")
    return f"{r['server_cpu']:.0%}{each}" + (f" + DB {db:.0%}" if db is not None else "")


def _per_call(r: dict[str, Any]) -> str:
    """Server CPU time per call, µs, and the database's when metered."""
    if not r["rate"]:
        return ""
    db = r.get("database_cpu")
    return f"{r['server_cpu'] / r['rate'] * 1e6:,.0f}" + (
        f" + DB {db / r['rate'] * 1e6:,.0f}" if db is not None else ""
    )


THREAD_GROUPS = ("zzgw-grpc", "receipts-prep", "receipts-writer", "event_engine")
"""The server threads the per-thread table names: gRPC handlers, the receipts' group commit (its preparing stage
runs on PostgreSQL only), gRPC's C core."""


def _thread_row(label: str, r: dict[str, Any]) -> str:
    threads: dict[str, float] = r["server_threads"]
    per_call = {name: cores / r["rate"] * 1e6 for name, cores in threads.items()}
    known = [per_call.get(name, 0.0) for name in THREAD_GROUPS]
    other = sum(per_call.values()) - sum(known)
    cells = " | ".join(f"{v:,.0f}" for v in (*known, other, sum(per_call.values())))
    return f"| {label} | {cells} |"


def _goal(met: bool) -> str:
    return "met" if met else "MISSED"


def code_version() -> str:
    """The commit the code is at, with "+changes" when the working tree differs from it; "" outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True)  # fmt: skip
    except OSError:
        return ""
    if commit.returncode != 0:
        return ""
    return commit.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]], backend: str, reply_bytes: int,
           pdf_bytes: int, total: float, load_before: str) -> None:  # fmt: skip
    version = code_version()
    print(
        f"\nverification benchmark, {dt.date.today().isoformat()}, {os.cpu_count()} CPUs, grpcio {grpc.__version__}, "
        f"Python {sys.version.split()[0]}, {backend}{', code ' + version if version else ''}; {args.warmup:g} s "
        f"warm-up + {args.seconds:g} s per row; total {total:.0f} s; load average before {load_before}"
        + ("; every process under SCHED_BATCH" if args.sched_batch else "")
    )
    if "issue" in results:
        r = results["issue"]
        print(f"store: {r['n']:,} licenses issued by BatchIssueLicenses at {r['rate']:,.0f}/s ({r['seconds']:.0f} s)")
    header = (
        "| server | req/s | vs bare | p50 ms | p99 ms | server CPU | server CPU µs/call | client CPU | other CPU |\n"
        + "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    )
    if "bare" in results:
        bare, bare8 = results["bare"], results["bare 8"]
        print(
            f"\nVerifyLicense by license_id, reply {reply_bytes:,} B; server pinned to CPU 0, client (separate "
            f"process, sync grpc futures) pinned to CPU 1, one connection\n"
        )
        print(header)
        rounds = f", median of {len(bare['rounds'])} alternated rounds" if len(bare.get("rounds", [])) > 1 else ""
        print(_row(f"bare gRPC server (sync, ThreadPoolExecutor({THREADS})), {args.in_flight} in flight{rounds}",
                   bare, None))  # fmt: skip
        if "gateway warm" in results:
            print(_row(f"gateway, warm caches ({args.warm_set:,} licenses), {args.in_flight} in flight{rounds}",
                       results["gateway warm"], bare["rate"]))  # fmt: skip
        if "gateway cold" in results:
            cold = results["gateway cold"]
            label = (
                f"gateway, cold (a random sample of {cold['distinct_requests']:,} licenses, each verified at most "
                f"once; {cold['calls']:,} in the window), {args.in_flight} in flight"
            )
            if not cold["calls"]:
                label += " — the sample ran out before the clock started: give more --licenses"
            print(_row(label, cold, bare["rate"]))
        print(_row("bare gRPC server, 8 in flight", bare8, None))
        if "gateway warm 8" in results:
            print(_row("gateway, warm caches, 8 in flight", results["gateway warm 8"], bare8["rate"]))
        goals = []
        if "gateway warm" in results:
            warm = results["gateway warm"]
            goals.append(
                f"warm ≥ 70% of bare: {warm['rate'] / bare['rate']:.0%}, {_goal(warm['rate'] >= 0.7 * bare['rate'])}"
            )
            goals.append(f"warm p99 < 20 ms at {args.in_flight} in flight: {warm['p99_ms']:.1f} ms, "
                         f"{_goal(warm['p99_ms'] < 20)} (bare: {bare['p99_ms']:.1f} ms)")  # fmt: skip
        if "gateway cold" in results:
            cold = results["gateway cold"]
            goals.append(
                f"cold ≥ 40% of bare: {cold['rate'] / bare['rate']:.0%}, {_goal(cold['rate'] >= 0.4 * bare['rate'])}"
            )
        if "gateway warm" in results and len(bare.get("rounds", [])) > 1:
            pairs = zip(results["gateway warm"]["rounds"], bare["rounds"], strict=True)
            print("\nRounds, gateway warm / bare, req/s: "
                  + "; ".join(f"{g:,.0f} / {b:,.0f} = {g / b:.0%}" for g, b in pairs))  # fmt: skip
        print("\nGoals: " + "; ".join(goals) + ".")
        by_thread = [("bare gRPC server", bare), ("gateway, warm caches", results.get("gateway warm")),
                     ("gateway, cold", results.get("gateway cold"))]  # fmt: skip
        print(
            "\nServer CPU per call by thread, µs (kernel thread names, gateway.threads; gRPC's dispatcher thread is "
            f"unnamed, among 'other'), {args.in_flight} in flight\n"
        )
        print(f"| server | {' | '.join(THREAD_GROUPS)} | other | total |\n|---|{'--:|' * (len(THREAD_GROUPS) + 2)}")
        for label, measured in by_thread:
            if measured is not None and "server_threads" in measured and measured["rate"]:
                print(_thread_row(label, measured))
    if "gateway document" in results:
        doc, raw, own = results["gateway document"], results["raw pyhanko"], results["raw gateway"]
        print(
            f"\nVerifyDocument of one sealed PDF ({pdf_bytes:,} B, PAdES B-T with the gateway's timestamp), "
            f"server on CPU 0, client on CPU 1; median of {args.document_rounds} alternating rounds of "
            f"{args.document_seconds:g} s (documents/s of every round in brackets)\n"
        )
        print("| what | documents/s | ms each | vs raw pyHanko | CPU | other CPU |\n|---|--:|--:|--:|--:|--:|")
        rows = [
            ("raw pyHanko validate_pdf_signature, one thread", raw, f"{raw['ms']:.1f}", f"{raw['cpu']:.0%}"),
            ("signing.pdf.validate_sync (the gateway's validator), one thread", own, f"{own['ms']:.1f}",
             f"{own['cpu']:.0%}"),
            (f"gateway VerifyDocument, {args.document_in_flight} in flight" + (
                f" ({doc['errors']} errors)" if doc["errors"] else ""), doc,
             f"{1e3 / doc['rate'] if doc['rate'] else float('nan'):.1f} (p50 {doc['p50_ms']:.0f}, "
             f"p99 {doc['p99_ms']:.0f})", _cpu(doc)),
        ]  # fmt: skip
        for label, r, each, cpu in rows:
            ratio = r["rate"] / raw["rate"]
            every = "/".join(f"{x:.1f}" for x in r.get("rounds", []))
            print(f"| {label} | {r['rate']:,.1f} ({every}) | {each} | {ratio:.0%} | {cpu} | {r['other_cpu']:.0%} |")
    workers = [(k, v) for k, v in results.items() if k.startswith("workers")]
    if workers:
        print(f"\nWorkers: VerifyLicense, warm caches, {args.in_flight} in flight over {args.channels} connections "
              f"spread evenly over the server processes; client unpinned (it shares the 2 cores)\n")  # fmt: skip
        print("| server | req/s | vs 1 process | p50 ms | p99 ms | server CPU (each) | server CPU µs/call | client CPU "
              "| other CPU | kernel's split of the first connections |")  # fmt: skip
        print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for key, r in workers:
            _, kind, *layout = key.split()
            name = " ".join(layout)
            base_key = "workers gateway 1" if kind == "gateway" else "workers bare 1 pinned"
            if kind == "gateway":
                label = {"1": "gateway, ZZGW_WORKERS=1 (unpinned, as zzgw serve runs it)",
                         "1 pinned": "gateway, ZZGW_WORKERS=1, pinned to CPU 0 (taskset)",
                         "2": "gateway, ZZGW_WORKERS=2 (one pinned per core by zzgw serve)"}[name]  # fmt: skip
            else:
                label = {"1 pinned": "bare server, 1 process pinned to CPU 0",
                         "2": "bare server, 2 processes, one per core"}[name]  # fmt: skip
            base = results.get(base_key, {}).get("rate")
            each = "/".join(f"{c:.0%}" for c in r["server_cpu_each"])
            split = "/".join(map(str, r["first_split"])) if len(r["first_split"]) > 1 else ""
            err = f" ({r['errors']} errors)" if r["errors"] else ""
            print(f"| {label} | {r['rate']:,.0f}{err} | {r['rate'] / base:.2f}× | {r['p50_ms']:.1f} | "
                  f"{r['p99_ms']:.1f} | {_cpu(r, f' ({each})')} | {_per_call(r)} | {r['client_cpu']:.0%} | "
                  f"{r['other_cpu']:.0%} | {split} |")  # fmt: skip
        if "workers gateway 2" in results and "workers gateway 1" in results:
            two = results["workers gateway 2"]["rate"]
            ratio = two / results["workers gateway 1"]["rate"]
            pinned = f", {two / results['workers gateway 1 pinned']['rate']:.2f}× one pinned worker" if (
                "workers gateway 1 pinned" in results) else ""  # fmt: skip
            print(f"\nGoal: 2 workers ≥ 1.6× one worker: {ratio:.2f}×, {_goal(ratio >= 1.6)}{pinned}.")
    print(
        "\nCPU columns: cores used during the measured window (100% = one core, all threads, summed over server "
        "processes); 'DB' the PostgreSQL backends serving the benchmark's database; 'other' every other process on "
        "the machine (noise: rerun when it is high)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    bare = sub.add_parser("bare-serve")
    bare.add_argument("port", type=int)
    bare.add_argument("reply_file")
    raw = sub.add_parser("raw-pdf")
    raw.add_argument("mode", choices=("pyhanko", "gateway"))
    for name in ("pdf", "seal_ca_dir", "crl"):
        raw.add_argument(name)
    for name in ("warmup", "seconds"):
        raw.add_argument(name, type=float)
    parser.add_argument("--licenses", type=int, default=100_000, help="licenses in the store (default 100,000)")
    parser.add_argument("--warm-set", type=int, default=2_000, help="licenses the warm tests cycle over (2,000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per row (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up per row (default 1)")
    parser.add_argument("--in-flight", type=int, default=64, help="VerifyLicense calls in flight (default 64)")
    parser.add_argument("--document-in-flight", type=int, default=4, help="VerifyDocument calls in flight (4)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of gateway warm and bare (3)")
    parser.add_argument("--document-rounds", type=int, default=3, help="rounds of the document rows (default 3)")
    parser.add_argument("--document-seconds", type=float, default=3.0, help="measured time per round (default 3)")
    parser.add_argument("--channels", type=int, default=8, help="connections in part 'workers' (default 8)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random sample of licenses")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--database-url", help="a SQLAlchemy URL (default: SQLite in the throw-away data directory)")
    group.add_argument(
        "--postgresql", action="store_true", help="a throw-away PostgreSQL database (ZZGW_BENCH_DATABASE_URL)"
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--sched-batch",
        action="store_true",
        help="run every process under SCHED_BATCH (chrt --batch 0): no wake-up preemption, as ADR 0005 describes",
    )
    parser.set_defaults(postgres_db="")
    args = parser.parse_args()
    if args.command == "bare-serve":
        serve_bare(args.port, args.reply_file)
    elif args.command == "raw-pdf":
        raw_pdf(args.mode, args.pdf, args.seal_ca_dir, args.crl, args.warmup, args.seconds)
    else:
        if args.sched_batch:
            if not shutil.which("chrt"):
                raise SystemExit("--sched-batch needs chrt (util-linux)")
            _POLICY[:] = ["chrt", "--batch", "0"]
        drive(args)


if __name__ == "__main__":
    main()
