"""Licenses drawn at the same time in several threads, as the gateway's handler threads draw them: each PDF is the one
its license draws alone, byte for byte (the operations tester's finding 1: reportlab's TrueType font objects, and the
read position its subsetting moves, are one per process; drawing in parallel raised KeyError or IndexError inside
``makeSubset``, or embedded a subset built from another thread's reads)."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gateway.bootstrap import samples
from gateway.domain.model import LicenseContent
from tests.signing.test_render import MARKET, POLICE, RARE_NAME, content_of, page_text, render

THREADS = 8
PER_THREAD = 5
ROUNDS = 4
SAMPLES: tuple[tuple[Callable[[int], dict[str, Any]], str], ...] = (
    (samples.business_license, MARKET),
    (samples.food_permit, MARKET),
    (samples.id_card, POLICE),
    (samples.marriage_certificate, POLICE),
)


def licenses() -> list[LicenseContent]:
    """THREADS * PER_THREAD distinct licenses of every sample type, each printing characters the others do not (its
    own numbers, names and addresses), so that the font subsets differ; one with rare characters from the fallback
    fonts when they are installed."""
    out = []
    for n in range(THREADS * PER_THREAD):
        make, issuer = SAMPLES[n % len(SAMPLES)]
        out.append(content_of(make(n + 7), issuer))
    sample = samples.business_license(3)
    rare = {**sample, "holder": {**sample["holder"], "name": RARE_NAME}}
    out[-1] = content_of(rare, MARKET, company_name=RARE_NAME)
    return out


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Threads handed the interpreter every few microseconds rather than every 5 ms, so that their drawing interleaves
    inside reportlab's subsetting on every run, not only now and then."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def text(pdf: bytes) -> str:
    return re.sub(r"\s", "", page_text(pdf))


Drawn = list[tuple[int, bytes | Exception]]


def draw_share(contents: list[LicenseContent], thread: int, start: threading.Barrier) -> Drawn:
    """Thread ``thread``'s share of ``contents``, drawn once every thread is ready: each PDF, or what drawing raised."""
    start.wait()
    drawn: Drawn = []
    for index in range(thread, len(contents), THREADS):
        try:
            drawn.append((index, render(contents[index])))
        except Exception as exc:  # every thread's failures are reported together
            drawn.append((index, exc))
    return drawn


def test_licenses_drawn_in_parallel_are_those_drawn_alone(switch_often: None) -> None:
    """Every license drawn in THREADS threads at once, ROUNDS times: no exception, and each PDF's text (pdfium) and
    bytes are those the license draws to alone. Without the drawing lock this failed 20 runs in 20."""
    contents = licenses()
    alone = [render(content) for content in contents]
    assert len(set(alone)) == len(alone)

    for _ in range(ROUNDS):
        start = threading.Barrier(THREADS, timeout=60)
        with ThreadPoolExecutor(THREADS) as pool:
            shares = pool.map(draw_share, [contents] * THREADS, range(THREADS), [start] * THREADS)
            results = [item for share in shares for item in share]

        failures = [f"license {index}: {result!r}" for index, result in results if isinstance(result, Exception)]
        assert not failures, failures
        assert sorted(index for index, _ in results) == list(range(len(contents)))
        for index, pdf in results:
            assert isinstance(pdf, bytes)
            assert text(pdf) == text(alone[index]), f"license {index}: its text differs from the one drawn alone"
            assert pdf == alone[index], f"license {index}: its bytes (font subsets) differ from the one drawn alone"
