"""A replica with a pki/ of its own after `zzgw members --renew` and `--retire` on another gateway of the store: what
each command says, run as an operator runs them (two data directories on one SQLite store)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from benchmarks.common import free_port, wait_serving
from tests.commands import zzgw

ROOT = Path(__file__).resolve().parent.parent
TAX = "11370100993701097M"


def test_a_replica_not_copied_again_after_a_retirement_is_told_which_file_to_copy(tmp_path: Path) -> None:
    """`--retire` had said only to delete CODE.previous.* on replicas, a replica whose CODE.pem was still the retired
    certificate served without a word, and its `zzgw init` then refused it as one `--revoke` took, naming the
    directory (a multi-replica tester, D5)."""
    first, replica = tmp_path / "a", tmp_path / "b"
    base = {
        **os.environ,
        "ZZGW_KEY_PASSPHRASE": "replica-test-passphrase",
        "ZZGW_DATABASE_URL": f"sqlite:///{first / 'zzgw.db'}",
    }
    a = base | {"ZZGW_DATA_DIR": str(first)}
    b = base | {
        "ZZGW_DATA_DIR": str(replica),
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
    }
    assert zzgw(a, "init").returncode == 0
    for name in ("keys", "seal-ca", "seal-ca-sm2", "pki"):
        shutil.copytree(first / name, replica / name)
    shutil.copy(first / "dev-tokens.json", replica / "dev-tokens.json")
    assert zzgw(b, "init").returncode == 0  # the replica as the README makes it

    renewed = zzgw(a, "members", "--renew", TAX)
    assert renewed.returncode == 0, renewed.stderr
    assert f"copy pki/members/{TAX}.pem and {TAX}.previous.pem to them" in renewed.stderr
    retired = zzgw(a, "members", "--retire", TAX)
    assert retired.returncode == 0, retired.stderr
    assert f"on replicas with their own copy of pki/, copy pki/members/{TAX}.pem to them" in retired.stderr

    stale = replica / "pki" / "members" / f"{TAX}.pem"
    said = (
        f"the client certificate {stale} ({TAX}) is one `zzgw members --retire` or `--revoke` took (the certificate "
        "before a renewal, retired since, or a revoked member's), never trusted again"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"], env=b, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_serving(b["ZZGW_GRPC_ADDR"], timeout=60, process=server)
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert said in err.decode() and "the next `zzgw init` of this data directory refuses it" in err.decode()
    refused = zzgw(b, "init")
    assert refused.returncode == 2 and said in refused.stderr, refused.stderr
    assert f"copy pki/members/{TAX}.pem, and {TAX}.previous.pem if it is there" in refused.stderr
    shutil.copy(first / "pki" / "members" / f"{TAX}.pem", stale)
    again = zzgw(b, "init")
    assert again.returncode == 0, again.stderr
