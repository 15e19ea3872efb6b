"""Every benchmark that runs as a command answers ``--help`` with its arguments, and runs nothing (pdf_seal, signatures
and sm2 had read ``--help`` as their count and stopped on a traceback; a newcomer)."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = sorted(
    p.stem for p in (ROOT / "benchmarks").glob("*.py") if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8")
)


@functools.cache
def answer_to_help(module: str, *sub: str) -> subprocess.CompletedProcess[str]:
    """What ``python -m benchmarks.MODULE [SUB] --help`` answers, run once in a test process and read by each test
    below that asks (the three ask the same ~30 times; each run imports its benchmark, up to ~1.5 s of CPU for those
    that import the gateway): the same command, answering the same each time."""
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *sub, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_benchmarks_the_readme_names_are_commands() -> None:
    assert {"ingest", "verify", "audit", "server_model", "pdf_seal", "signatures", "sm2"} <= set(COMMANDS)


@pytest.mark.parametrize("module", COMMANDS)
def test_a_benchmark_answers_help(module: str) -> None:
    done = answer_to_help(module)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and not done.stderr
    text = " ".join(done.stdout.split())
    assert "-h, --help" in text


@pytest.mark.parametrize(
    ("module", "said"),
    [
        ("pdf_seal", "PDFs sealed, and validated, by each signer (default 20)"),
        ("signatures", "record seals made and verified per algorithm (default 2000)"),
        ("sm2", "how long each figure runs, in seconds (default 2)"),
        ("ingest", "--n N licenses issued in each run (default 30000)"),
        ("ingest", "comma-separated: sqlite, postgresql (default both"),
    ],
)
def test_a_benchmarks_arguments_are_explained(module: str, said: str) -> None:
    done = answer_to_help(module)
    assert said in " ".join(done.stdout.split())


@pytest.mark.parametrize("module", COMMANDS)
def test_the_usage_in_a_benchmarks_docstring_names_options_it_has(module: str) -> None:
    """ingest's docstring had advertised --streams and --workers, long gone for --layouts."""
    text = (ROOT / "benchmarks" / f"{module}.py").read_text(encoding="utf-8")
    for line in text.splitlines():
        _, command, usage = line.partition(f"-m benchmarks.{module} ")
        if not command:
            continue
        words = usage.split()
        sub = words[:1] if words and re.fullmatch(r"[a-z][a-z-]*", words[0]) else []  # a subcommand's own options
        done = answer_to_help(module, *sub)
        named = set(re.findall(r"--[a-z][a-z-]*", usage))
        assert named <= set(re.findall(r"--[a-z][a-z-]*", done.stdout)), (line, named)
