"""An issuer whose only active seal is SM2: its documents cannot be sealed (pyHanko has no SM2), so it issues
nothing, alone or in a batch, until it registers an ECDSA or RSA seal. A module of its own: it revokes an issuer's
seals in its gateway."""

from __future__ import annotations

import uuid

import grpc
import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import issuance_pb2, issuance_pb2_grpc, seal_pb2, seal_pb2_grpc
from signing.keys import SM2_SM3
from tests.api.test_documents import document_of
from tests.conftest import CIVIL, RunningGateway, error_details


def test_a_batch_of_an_issuer_whose_only_active_seal_is_sm2_is_refused_item_by_item_as_issue_license_is(
    running: RunningGateway,
) -> None:
    """BatchIssueLicenses had stored such an issuer's licenses, which IssueLicense refused, each without a document
    (GetLicenseDocument NO_ACTIVE_SEAL) until an ECDSA or RSA seal was registered (a reviewer, R3)."""
    seals = seal_pb2_grpc.SealServiceStub(running.channel(CIVIL))
    seals.RegisterSeal(
        seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="婚姻登记专用章", algorithm=SM2_SM3)
    )
    for seal in seals.ListSeals(seal_pb2.ListSealsRequest()).seals:
        if seal.algorithm != SM2_SM3 and seal.status == seal_pb2.SEAL_STATUS_ACTIVE:
            seals.RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="换章"))
    issuance = issuance_pb2_grpc.IssuanceServiceStub(running.channel(CIVIL))
    with pytest.raises(grpc.RpcError) as caught:
        issuance.IssueLicense(issue_request(samples.marriage_certificate(101)))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value)[0].reason == "NO_ACTIVE_SEAL"

    batch = issuance_pb2.BatchIssueLicensesRequest(
        licenses=[issue_request(samples.marriage_certificate(n)) for n in (102, 103)]
    )
    (response,) = issuance.BatchIssueLicenses(iter([batch]))
    assert [(r.HasField("license"), r.error.code, r.error.reason) for r in response.results] == [
        (False, "FAILED_PRECONDITION", "NO_ACTIVE_SEAL"),
    ] * 2
    assert response.results[0].error.message == caught.value.details()

    seals.RegisterSeal(seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="婚姻登记专用章"))
    (response,) = issuance.BatchIssueLicenses(iter([batch]))
    issued = [r.license.license_id for r in response.results]
    assert all(issued), response
    assert document_of(running, issued[0], CIVIL).pdf.startswith(b"%PDF")
