"""Backup and restore as docs/operations.md says: a member revoked between the database's copy and the data
directory's stays revoked after the restore (it had been let in again by `zzgw serve`)."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest

from adapters.client import MemberCredentials, connect
from tests.api.test_mtls import reason
from tests.commands import run_zzgw
from tests.conftest import MARKET, TAX
from tests.test_cli_store_checks import env, zzgw

ROOT = Path(__file__).resolve().parent.parent


def ready(http_address: str, server: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until ``/readyz`` says ready (a production gateway's gRPC port takes member certificates only)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            with urllib.request.urlopen(f"http://{http_address}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready at {http_address} after {timeout} s")


def test_a_member_revoked_between_the_two_copies_stays_revoked(tmp_path: Path) -> None:
    """Revoked after the database's copy and before the data directory's, as the page's order allows: `zzgw init`
    had told the operator to copy back a certificate the backup holds only as the pair `--revoke` put aside, and
    `zzgw serve` had started and let the member's own certificate in again (a disaster-recovery tester)."""
    from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc

    live = env(tmp_path / "var", "")
    assert zzgw(live, "init").returncode == 0
    departments = {code: MemberCredentials.production(tmp_path / "var", code) for code in (TAX, MARKET)}
    with sqlite3.connect(f"file:{tmp_path / 'var' / 'zzgw.db'}?mode=ro", uri=True) as store:
        store.backup(sqlite3.connect(tmp_path / "copy.db"))  # the database first, online, as the page says
    assert zzgw(live, "members", "--revoke", TAX).returncode == 0
    shutil.copytree(tmp_path / "var", tmp_path / "restored", ignore=shutil.ignore_patterns("zzgw.db*"))
    shutil.copyfile(tmp_path / "copy.db", tmp_path / "restored" / "zzgw.db")
    (tmp_path / "restored" / "zzgw.db").chmod(0o600)

    restored = env(tmp_path / "restored", "")
    members = tmp_path / "restored" / "pki" / "members"
    (aside,) = members.glob(f"{TAX}.revoked-*.pem")
    said = (
        f"zzgw: configuration error: the client certificate the store has registered for {TAX} is in this data "
        f"directory only as one `zzgw members --revoke` took ({aside}): revoked after the database's copy was taken, "
        "it is trusted again by the database restored from that copy; revoke it again, `zzgw members --revoke "
        f"{TAX}`, then run `zzgw init` (docs/operations.md, Restoring)\n"
    )
    for command in ("init", "serve"):
        refused = run_zzgw(command, env=restored, timeout=60)  # a serve that starts is cut short
        assert (refused.returncode, refused.stderr.splitlines(keepends=True)[-1:]) == (2, [said]), refused.stderr
    assert not (members / f"{TAX}.pem").exists()

    again = zzgw(restored, "members", "--revoke", TAX)  # the remedy, before init
    assert again.returncode == 0, again.stderr
    done = zzgw(restored, "init")
    assert done.returncode == 0, done.stderr
    assert f"1 members of the file are revoked and were given no credential ({TAX})" in done.stderr
    assert not (members / f"{TAX}.pem").exists() and not (members / f"{TAX}.key").exists()  # none given, indeed

    server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=restored, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        ready(restored["ZZGW_HTTP_ADDR"], server)
        for code, answered in ((MARKET, None), (TAX, "CREDENTIAL_REVOKED")):  # the departments' own copies
            with connect(restored["ZZGW_GRPC_ADDR"], departments[code]) as channel:
                stub = catalog_pb2_grpc.CatalogServiceStub(channel)
                if answered is None:
                    assert stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=10).license_types
                    continue
                with pytest.raises(grpc.RpcError) as caught:
                    stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=10)
                assert (caught.value.code(), reason(caught.value)) == (grpc.StatusCode.UNAUTHENTICATED, answered)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
