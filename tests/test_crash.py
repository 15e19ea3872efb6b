"""A gateway killed in the middle of a batch loses no acknowledged license, and the retried batch duplicates none."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from adapters.client import MemberCredentials, connect
from benchmarks.common import free_port, wait_serving
from benchmarks.payloads import MARKET, batch_requests
from protos.zzgw.v1 import issuance_pb2_grpc
from tests.commands import run_zzgw

ROOT = Path(__file__).resolve().parent.parent


def serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=process)
    return process


@pytest.mark.slow
def test_kill_mid_batch_then_retry(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(tmp_path),
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_KEY_PASSPHRASE": "crash-test",
        "ZZGW_DATABASE_URL": "",
        "ZZGW_ACCESS_LOG": "false",
    }
    run_zzgw("init", env=env, check=True)
    credentials = MemberCredentials.dev(tmp_path, MARKET)
    requests = batch_requests(4000, "crash")
    acknowledged: dict[int, str] = {}

    process = serve(env)
    channel = connect(env["ZZGW_GRPC_ADDR"], credentials)
    with pytest.raises(grpc.RpcError) as caught:
        for reply in issuance_pb2_grpc.IssuanceServiceStub(channel).BatchIssueLicenses(iter(requests)):
            for result in reply.results:
                acknowledged[result.index] = result.license.license_id
            if len(acknowledged) >= 600 and process.poll() is None:
                process.send_signal(signal.SIGKILL)
    channel.close()
    process.wait(10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert 600 <= len(acknowledged) < 4000, "the kill should land mid-batch"

    process = serve(env)
    try:
        channel = connect(env["ZZGW_GRPC_ADDR"], credentials)
        retried = [
            r
            for reply in issuance_pb2_grpc.IssuanceServiceStub(channel).BatchIssueLicenses(iter(requests))
            for r in reply.results
        ]
        channel.close()
    finally:
        process.terminate()
        process.wait(30)
    assert len(retried) == 4000 and not any(r.HasField("error") for r in retried)
    for index, license_id in acknowledged.items():  # every acknowledged license survived, as the same license
        assert retried[index].license.license_id == license_id and not retried[index].created
    with sqlite3.connect(tmp_path / "zzgw.db") as db:
        rows, numbers, events = db.execute(
            "SELECT count(*), count(DISTINCT license_number), (SELECT count(*) FROM license_events) FROM licenses"
        ).fetchone()
    assert rows == numbers == events == 4000
