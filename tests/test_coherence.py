"""Two gateway processes on one store: a license revoked through one is reported revoked by the other within 1 s.

Each process caches the licenses it verified. On PostgreSQL the revocation reaches the other process as a
NOTIFY delivered at commit (gateway.store.changes); on SQLite the processes share a change counter beside the
database file. Both gateways here are real ``zzgw serve`` processes, called over real sockets.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from adapters.client import MemberCredentials, connect
from adapters.records import issue_request
from benchmarks.common import free_port, wait_serving
from gateway.bootstrap import samples
from protos.zzgw.v1 import issuance_pb2, issuance_pb2_grpc, verification_pb2, verification_pb2_grpc
from tests.api.test_issuance import unique
from tests.commands import run_zzgw
from tests.conftest import MARKET, TAX, backend_params, fresh_database

ROOT = Path(__file__).resolve().parent.parent
USE = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="两个网关进程的一致性测试")
"""The tax bureau's own matter (a department verifies under the matters it handles)."""


def serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=process)
    except BaseException:
        process.kill()
        raise
    return process


class TwoGateways(NamedTuple):
    first: str
    second: str
    data_dir: Path
    env: dict[str, str]
    """What ``zzgw`` commands on the same store need."""


@pytest.fixture(scope="module", params=backend_params())
def two_gateways(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoGateways]:
    """Two ``zzgw serve`` processes on one fresh store, shared by a module's tests: each test issues licenses of its
    own and asserts on them alone (the audit trail's test counts the records its calls added), so none depends on
    what another did before it. Starting them costs ~6 s a test (init and two gateways)."""
    tmp_path = tmp_path_factory.mktemp("two-gateways")
    with fresh_database(request.param, tmp_path) as url:
        base = {
            **os.environ,
            "ZZGW_DATA_DIR": str(tmp_path / "var"),
            "ZZGW_KEY_PASSPHRASE": "coherence-test",
            "ZZGW_DATABASE_URL": url,
            "ZZGW_ACCESS_LOG": "false",
        }
        run_zzgw("init", env=base, check=True)
        envs = [
            {**base, "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}", "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}"}
            for _ in range(2)
        ]
        processes = [serve(env) for env in envs]
        try:
            yield TwoGateways(envs[0]["ZZGW_GRPC_ADDR"], envs[1]["ZZGW_GRPC_ADDR"], tmp_path / "var", base)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)


@pytest.mark.slow
def test_a_revocation_through_one_gateway_is_seen_by_the_other_within_a_second(
    two_gateways: TwoGateways,
) -> None:
    first, second, data_dir, _ = two_gateways
    issuer = issuance_pb2_grpc.IssuanceServiceStub(connect(first, MemberCredentials.dev(data_dir, MARKET)))
    clerk = verification_pb2_grpc.VerificationServiceStub(connect(second, MemberCredentials.dev(data_dir, TAX)))
    record = unique(samples.business_license(1))  # what 发票申领, the tax bureau's matter, uses
    request = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])
    (response,) = issuer.BatchIssueLicenses(iter([request]))
    license_id = response.results[0].license.license_id

    def verify() -> verification_pb2.VerificationReport:
        return clerk.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=license_id)).report

    for _ in range(3):  # the second gateway now holds the license in its cache
        assert verify().verdict == verification_pb2.CHECK_RESULT_PASSED

    issuer.ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=uuid.uuid4().hex,
            license_id=license_id,
            action=issuance_pb2.STATUS_ACTION_REVOKE,
            reason="以欺骗手段取得许可",
        )
    )
    revoked_at = time.monotonic()
    while True:
        report = verify()
        elapsed = time.monotonic() - revoked_at
        if report.status.reason == "REVOKED":
            break
        assert report.verdict == verification_pb2.CHECK_RESULT_PASSED  # still the old answer, not something else
        assert elapsed < 1.0, "the other gateway still reports the license valid after 1 s"
        time.sleep(0.01)
    assert report.verdict == verification_pb2.CHECK_RESULT_FAILED and elapsed < 1.0


@pytest.mark.slow
def test_both_gateways_append_to_one_whole_audit_trail(two_gateways: TwoGateways) -> None:
    """Verifications answered by two processes at once: every one is on the audit trail exactly once, and the chain
    checks end to end (each process chains after the head its last commit left; a stale head collides and its
    group is written again)."""
    issuer = issuance_pb2_grpc.IssuanceServiceStub(
        connect(two_gateways.first, MemberCredentials.dev(two_gateways.data_dir, MARKET))
    )
    record = unique(samples.business_license(2))
    (response,) = issuer.BatchIssueLicenses(
        iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])])
    )
    request = verification_pb2.VerifyLicenseRequest(use=USE, license_id=response.results[0].license.license_id)
    clerks = [
        verification_pb2_grpc.VerificationServiceStub(
            connect(address, MemberCredentials.dev(two_gateways.data_dir, TAX))
        )
        for address in (two_gateways.first, two_gateways.second)
    ]
    before = run_zzgw("audit", "verify", env=two_gateways.env)  # the module's other tests' records, if any
    assert before.returncode == 0, before.stdout + before.stderr
    (earlier,) = re.findall(r"intact: (\d+) records?,", before.stdout)
    calls = 300
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda i: clerks[i % 2].VerifyLicense(request), range(calls)))
    assert {reply.report.verdict for reply in replies} == {verification_pb2.CHECK_RESULT_PASSED}
    assert len({reply.report.receipt.receipt_id for reply in replies}) == calls
    checked = run_zzgw("audit", "verify", env=two_gateways.env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"intact: {int(earlier) + calls} records" in checked.stdout, checked.stdout
