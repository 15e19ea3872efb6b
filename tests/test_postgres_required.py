"""With ZZGW_TEST_DATABASE_URL set, an unreachable PostgreSQL fails the PostgreSQL tests instead of skipping them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_unreachable_postgres_fails_rather_than_skips() -> None:
    """A test on each backend (``tests/postgres_required_probe.py``, through the suite's ``store`` fixture) in a pytest
    of its own: its SQLite case passes, its PostgreSQL one errors, saying why, and none is skipped. The probe sets up
    nothing more: an issuance test in its place had initialised and started a gateway for its SQLite case, ~3 s of
    the run's ~6 s of CPU."""
    env = {**os.environ, "ZZGW_TEST_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/postgres_required_probe.py",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout
    assert "1 passed" in result.stdout and "1 error" in result.stdout  # SQLite passes, PostgreSQL errors
    assert "PostgreSQL is unreachable" in result.stdout
    assert "skipped" not in result.stdout
