"""A replica with a pki/ of its own after `zzgw members --renew` and `--retire` on another gateway of the store: what
each command says, run as an operator runs them (two data directories on one SQLite store)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

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
    b = _replica_made(a, base | {"ZZGW_DATA_DIR": str(replica)}, first, replica)

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


def test_a_replica_with_an_older_members_file_is_refused_and_leaves_the_roles_changed_since(
    store: str, tmp_path: Path
) -> None:
    """A third review's R2: each replica's `zzgw init` (at each restart, zzgw-init.service) registered its own copy of
    the members file over the store's, without a word: ADMIN taken from a member on one replica came back when
    another restarted with the older copy. A file that changes a registered member's name, region or roles is now
    refused, naming the member and what differs, unless `--adopt-members` says the change is meant; the older copy is
    then refused too, and the member keeps the roles adopted (PERMISSION_DENIED where ADMIN was needed)."""
    import grpc

    from protos.zzgw.v1 import seal_pb2, seal_pb2_grpc
    from tests.conftest import PASSPHRASE, start_gateway

    data = "11370100993701134U"  # 济南市大数据局, ADMIN
    first, replica = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    replica.mkdir()
    demo = json.loads((ROOT / "gateway" / "bootstrap" / "members.json").read_text(encoding="utf-8"))
    for directory in (first, replica):
        (directory / "members.json").write_text(json.dumps(demo, ensure_ascii=False), encoding="utf-8")
    base = {**os.environ, "ZZGW_KEY_PASSPHRASE": PASSPHRASE, "ZZGW_DATABASE_URL": store}
    a = base | {"ZZGW_DATA_DIR": str(first), "ZZGW_MEMBERS": str(first / "members.json")}
    b = _replica_made(
        a, base | {"ZZGW_DATA_DIR": str(replica), "ZZGW_MEMBERS": str(replica / "members.json")}, first, replica
    )

    for member in demo["members"]:
        if member["code"] == data:
            member["roles"] = ["CONSUMER"]
    (first / "members.json").write_text(json.dumps(demo, ensure_ascii=False), encoding="utf-8")
    said = f"{data} 济南市大数据局: roles ADMIN in the store, CONSUMER in this file"
    edited = zzgw(a, "init")
    assert edited.returncode == 2 and said in edited.stderr, edited.stderr
    assert "`zzgw init --adopt-members`" in edited.stderr
    assert _roles_listed(a, data) == "ADMIN"
    adopted = zzgw(a, "init", "--adopt-members")
    assert adopted.returncode == 0, adopted.stderr
    assert f"members changed as ZZGW_MEMBERS says: {data} 济南市大数据局: roles ADMIN → CONSUMER" in adopted.stderr
    assert _roles_listed(a, data) == "CONSUMER"

    restarted = zzgw(b, "init")  # the replica's restart with its older copy
    assert restarted.returncode == 2, restarted.stderr
    assert f"{data} 济南市大数据局: roles CONSUMER in the store, ADMIN in this file" in restarted.stderr
    assert _roles_listed(a, data) == "CONSUMER"
    shutil.copy(first / "members.json", replica / "members.json")  # as the refusal says
    assert zzgw(b, "init").returncode == 0

    served = start_gateway(replica, store, members=str(replica / "members.json"))
    try:
        with pytest.raises(grpc.RpcError) as refused:
            seal_pb2_grpc.SealServiceStub(served.channel(data)).ListSeals(seal_pb2.ListSealsRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        served.stop()


def _replica_made(a: dict[str, str], b: dict[str, str], first: Path, replica: Path) -> dict[str, str]:
    """`zzgw init` of the first gateway (``a``), then of a replica (``b``, on ports of its own) with the first's keys,
    CAs, pki/ and tokens copied, as the README makes one; ``b`` with its ports."""
    b = b | {"ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}", "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}"}
    assert zzgw(a, "init").returncode == 0
    for name in ("keys", "seal-ca", "seal-ca-sm2", "pki"):
        shutil.copytree(first / name, replica / name)
    shutil.copy(first / "dev-tokens.json", replica / "dev-tokens.json")
    assert zzgw(b, "init").returncode == 0  # the replica as the README makes it
    return b


def _roles_listed(env: dict[str, str], code: str) -> str:
    """``code``'s roles as `zzgw members` lists them."""
    listed = zzgw(env, "members")
    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith(code)]
    return line.split("\t")[1]


def test_a_replica_is_told_to_copy_the_certificate_of_a_member_added_through_another_gateway(tmp_path: Path) -> None:
    """A member added through gateway A (the members file changed, A's init) has its certificate in A's pki/members/
    only: the replica's next init, with the file copied again as the README says, refused and sent the operator to
    the data directory's backup, which never had the file (a reviewer of upgrades, R2). It names the gateway that
    registered the member first; the replica starts once the certificate is copied from there."""
    first, replica = tmp_path / "a", tmp_path / "b"
    members = json.loads((ROOT / "gateway" / "bootstrap" / "members.json").read_text(encoding="utf-8"))
    members_file = tmp_path / "members.json"
    members_file.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    base = {
        **os.environ,
        "ZZGW_KEY_PASSPHRASE": "replica-test-passphrase",
        "ZZGW_DATABASE_URL": f"sqlite:///{first / 'zzgw.db'}",
        "ZZGW_MEMBERS": str(members_file),
    }
    a = base | {"ZZGW_DATA_DIR": str(first)}
    b = _replica_made(a, base | {"ZZGW_DATA_DIR": str(replica)}, first, replica)

    added = "11370100MB1234567Y"
    members["members"].append({"code": added, "name": "济南市新设服务局", "region": "370100", "roles": ["CONSUMER"]})
    members_file.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    assert zzgw(a, "init").returncode == 0
    refused = zzgw(b, "init")
    assert refused.returncode == 2, refused.stderr
    said = (
        f"the client certificate of {added} ({replica / 'pki' / 'members' / f'{added}.pem'}) is not in this data "
        "directory, and the store has one registered: copy it from the gateway that registered it (a member added or "
        "renewed through another gateway), or back from the data directory's backup"
    )
    assert said in refused.stderr
    shutil.copy(first / "pki" / "members" / f"{added}.pem", replica / "pki" / "members" / f"{added}.pem")
    again = zzgw(b, "init")
    assert again.returncode == 0, again.stderr
