"""SM2 signatures per second through ``signing.sm2`` against ``openssl speed sm2``, with ECDSA P-256 beside them.

    .venv/bin/python -m benchmarks.sm2 [seconds]

Every figure runs for ``seconds`` (default 2). ``openssl speed`` counts operations per second of user CPU time and
signs 20-byte messages, re-initialising its digest context for each (apps/speed.c, ``SM2_sign_loop``), as the
binding does per call; so the binding is timed the same way (20 bytes, per CPU second of this process) and the
ratio compares like with like. The two alternate for ``ROUNDS`` rounds and the best round of each counts: on a
shared machine other work only ever slows a round down. Wall-clock rates follow in brackets.

Two processes measured seconds apart still differ by ±20% on a busy machine, so a second ratio is steadier: the
binding against speed.c's own loop (one EVP_MD_CTX, re-initialised per operation, two foreign calls) driven through
ctypes in this process, the two alternating every few operations so that the load falls on both alike. Two threads
signing (and verifying) at once show that ctypes releases the GIL: CPU seconds per wall second above 1, where
pure-Python threads stay at or below 1.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing import sm2
from signing.sm2 import Sm2Key, verify_sm2

SPEED_MESSAGE = 20  # bytes, what openssl speed signs
ROUNDS = 5


@dataclass(frozen=True, slots=True)
class Rate:
    """Operations per second of CPU time and of wall time."""

    cpu: float
    wall: float

    def __str__(self) -> str:
        return f"{self.cpu:>8,.0f} ({self.wall:,.0f})"


def best(rates: list[Rate]) -> Rate:
    return max(rates, key=lambda rate: rate.cpu)


def measure(seconds: float, work: Callable[[], object]) -> Rate:
    count = 0
    cpu, wall = time.process_time(), time.perf_counter()
    deadline = wall + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            work()
        count += 20
    return Rate(count / (time.process_time() - cpu), count / (time.perf_counter() - wall))


def threaded(seconds: float, work: Callable[[], object], threads: int = 2) -> tuple[float, float]:
    """Operations per wall second with ``threads`` threads doing ``work``, and CPU seconds per wall second.

    CPU per wall above 1 means the threads ran at the same time, which they can only do outside the GIL.
    """
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def run(index: int) -> None:
        while time.perf_counter() < deadline:
            work()
            counts[index] += 1

    cpu, wall = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - wall
    return sum(counts) / elapsed, (time.process_time() - cpu) / elapsed


class BareLoop:
    """speed.c's SM2 loops (``SM2_sign_loop``, ``SM2_verify_loop``) through ctypes: contexts made once."""

    def __init__(self, lib: sm2.Libcrypto) -> None:
        self._lib = lib
        generator = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        self._pkey = ctypes.c_void_p()
        if lib.EVP_PKEY_keygen_init(generator) != 1 or lib.EVP_PKEY_generate(generator, ctypes.byref(self._pkey)) != 1:
            raise lib.error("SM2 key generation failed")
        lib.EVP_PKEY_CTX_free(generator)
        self._sign_ctx, self._verify_ctx = lib.EVP_MD_CTX_new(), lib.EVP_MD_CTX_new()
        for context in (self._sign_ctx, self._verify_ctx):
            pkey_ctx = lib.EVP_PKEY_CTX_new(self._pkey, None)
            lib.EVP_PKEY_CTX_set1_id(pkey_ctx, sm2.DEFAULT_ID, len(sm2.DEFAULT_ID))
            lib.EVP_MD_CTX_set_pkey_ctx(context, pkey_ctx)  # kept for the life of the process
        self._signature = ctypes.create_string_buffer(72)

    def sign(self, data: bytes) -> bytes:
        size = ctypes.c_size_t(len(self._signature))
        self._lib.EVP_DigestSignInit(self._sign_ctx, None, self._lib.sm3, None, self._pkey)
        if self._lib.EVP_DigestSign(self._sign_ctx, self._signature, ctypes.byref(size), data, len(data)) != 1:
            raise self._lib.error("SM2 signing failed")
        return self._signature.raw[: size.value]

    def verify(self, data: bytes, signature: bytes) -> None:
        self._lib.EVP_DigestVerifyInit(self._verify_ctx, None, self._lib.sm3, None, self._pkey)
        if self._lib.EVP_DigestVerify(self._verify_ctx, signature, len(signature), data, len(data)) != 1:
            raise self._lib.error("SM2 verification failed")


def interleaved(seconds: float, first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Operations per CPU second of two kinds of work run in alternating batches of ten."""
    spent, done = [0.0, 0.0], [0, 0]
    deadline = time.perf_counter() + 2 * seconds
    while time.perf_counter() < deadline:
        for index, work in enumerate((first, second)):
            started = time.process_time()
            for _ in range(10):
                work()
            spent[index] += time.process_time() - started
            done[index] += 10
    return done[0] / spent[0], done[1] / spent[1]


def python_work() -> int:
    """Pure-Python work, which holds the GIL: the control for ``threaded``."""
    return sum(range(2000))


def openssl_speed(seconds: int) -> tuple[float, float] | None:
    """(sign/s, verify/s) from ``openssl speed -mr sm2``, or None without the command."""
    try:
        out = subprocess.run(
            ["openssl", "speed", "-mr", "-seconds", str(seconds), "sm2"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10 * seconds + 60,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        # +F7:<index>:<bits>:<curve>:<sign/s>:<verify/s>
        if line.startswith("+F7:"):
            fields = line.split(":")
            return float(fields[4]), float(fields[5])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "seconds", type=float, nargs="?", default=2.0, help="how long each figure runs, in seconds (default 2)"
    )
    seconds = parser.parse_args().seconds
    lib = sm2.library()
    key = Sm2Key.generate()
    short, long = secrets.token_bytes(SPEED_MESSAGE), secrets.token_bytes(1024)
    short_signature, long_signature = key.sign(short), key.sign(long)
    public = key.public_key_der

    print(f"SM2 through {lib.path} ({lib.version}), {seconds:g} s per figure, best of {ROUNDS} rounds")
    print(f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    print("ops/s per CPU second (per wall second)")
    print(f"{'':<34}{'sign':>20}{'verify':>22}")
    speeds: list[tuple[float, float]] = []
    signs: list[Rate] = []
    verifies: list[Rate] = []
    for _ in range(ROUNDS):
        speed = openssl_speed(max(1, round(seconds)))
        if speed is not None:
            speeds.append(speed)
        signs.append(measure(seconds, lambda: key.sign(short)))
        verifies.append(measure(seconds, lambda: verify_sm2(public, short, short_signature)))
    sign_short, verify_short = best(signs), best(verifies)
    print(f"{'binding, 20 B':<34}{sign_short!s:>20}{verify_short!s:>22}")
    if not speeds:
        print("openssl speed sm2: the openssl command is not available")
    else:
        speed_sign, speed_verify = max(s[0] for s in speeds), max(s[1] for s in speeds)
        print(f"{'openssl speed sm2':<34}{speed_sign:>20,.0f}{speed_verify:>22,.0f}")
        sign_ratio, verify_ratio = sign_short.cpu / speed_sign, verify_short.cpu / speed_verify
        print(f"{'binding / openssl (goal >= 90%)':<34}{sign_ratio:>20.0%}{verify_ratio:>22.0%}")
    bare = BareLoop(lib)
    bare_signature = bare.sign(short)
    binding_sign, bare_sign = interleaved(seconds, lambda: key.sign(short), lambda: bare.sign(short))
    binding_verify, bare_verify = interleaved(
        seconds, lambda: verify_sm2(public, short, short_signature), lambda: bare.verify(short, bare_signature)
    )
    print(f"{'speed.c loop via ctypes, 20 B':<34}{bare_sign:>20,.0f}{bare_verify:>22,.0f}")
    print(f"{'binding, interleaved with it':<34}{binding_sign:>20,.0f}{binding_verify:>22,.0f}")
    print(f"{'binding / speed.c loop':<34}{binding_sign / bare_sign:>20.0%}{binding_verify / bare_verify:>22.0%}")
    sign_long = measure(seconds, lambda: key.sign(long))
    verify_long = measure(seconds, lambda: verify_sm2(public, long, long_signature))
    print(f"{'binding, 1 KiB':<34}{sign_long!s:>20}{verify_long!s:>22}")

    sign_two, sign_busy = threaded(seconds, lambda: key.sign(short))
    verify_two, verify_busy = threaded(seconds, lambda: verify_sm2(public, short, short_signature))
    _, python_busy = threaded(seconds, python_work)
    print(f"{'binding, 20 B, 2 threads (wall)':<34}{sign_two:>20,.0f}{verify_two:>22,.0f}")
    print(f"{'  CPU seconds per wall second':<34}{sign_busy:>20.2f}{verify_busy:>22.2f}")
    print(f"{'  pure Python, 2 threads (GIL)':<34}{python_busy:>20.2f}")

    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_public = p256.public_key()
    algorithm = ec.ECDSA(hashes.SHA256())
    p256_signature = p256.sign(short, algorithm)
    ecdsa_sign = measure(seconds, lambda: p256.sign(short, algorithm))
    ecdsa_verify = measure(seconds, lambda: p256_public.verify(p256_signature, short, algorithm))
    print(f"{'ECDSA P-256 (cryptography), 20 B':<34}{ecdsa_sign!s:>20}{ecdsa_verify!s:>22}")


if __name__ == "__main__":
    main()
