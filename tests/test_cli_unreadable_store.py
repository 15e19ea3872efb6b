"""`zzgw init` run as a user who may not read the SQLite store, while a write-ahead log lies beside it (a gateway
serves the store, or one crashed): said as without one, `cannot open PATH: Permission denied`, exit 2, not a
traceback of ``sqlite3.OperationalError`` with exit 1 (a reviewer, clirev R3)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.commands import closed_to_other_users, command_env, zzgw

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534

pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("setpriv") is None, reason="runs a command as another user (root, setpriv)"
    ),
    pytest.mark.skipif(bool(closed_to_other_users()), reason=closed_to_other_users() or "-"),
]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory `zzgw init` made, as root, under a directory every user may enter (pytest's is root's own)."""
    top = Path(tempfile.mkdtemp(prefix="zzgw-clifix-"))
    try:
        top.chmod(0o755)
        data = top / "var"
        made = zzgw(command_env(data, ZZGW_CONFIG=""), "init")
        assert made.returncode == 0, made.stderr
        for path in (data, *data.rglob("*")):
            path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
        (data / "zzgw.db").chmod(0o600)  # the store root's alone, as the reviewer's
        yield data
    finally:
        shutil.rmtree(top)


@contextlib.contextmanager
def wal_beside(store: Path) -> Iterator[None]:
    """A write-ahead log with frames beside ``store``, as a gateway serving it keeps: a connection that wrote, open,
    with no checkpoint."""
    with contextlib.closing(sqlite3.connect(store)) as connection:
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        connection.execute(f"PRAGMA user_version = {version}")  # rewrites page 1: a frame in the log
        connection.execute("CREATE TEMP TABLE held (x)")
        with connection:
            connection.execute("UPDATE members SET name = name")
        assert os.path.getsize(f"{store}-wal") > 32
        yield


def as_nobody(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         sys.executable, "-m", "gateway.cli", *args],
        env={**env, "HOME": "/nonexistent"}, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_init_as_a_user_who_cannot_read_the_store_beside_its_wal_is_one_line_exit_2(data_dir: Path) -> None:
    env = command_env(data_dir, ZZGW_CONFIG="")
    store = data_dir / "zzgw.db"
    without = as_nobody(env, "init")
    assert without.returncode == 2, without.stderr
    assert f"zzgw init: cannot open {store}: Permission denied" in without.stderr
    with wal_beside(store):
        refused = as_nobody(env, "init")
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr and "OperationalError" not in refused.stderr, refused.stderr
    assert refused.stderr.strip().splitlines() == [f"zzgw init: cannot open {store}: Permission denied"]
