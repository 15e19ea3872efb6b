"""A partner gateway's forwarder names the acting department and clerk on every call it makes for them
(``x-zzgw-operator``; ADR 0017): one without is refused, not recorded under the partner's name alone (review partner,
R4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from adapters.client import MemberCredentials, connect
from protos.zzgw.v1 import (
    authorization_pb2,
    authorization_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from tests.api.test_sharing import BDCZY, PARTNER, REAL_ESTATE, SBZY, id_card
from tests.conftest import RunningGateway, error_details


def _bare(running: RunningGateway, member: str) -> grpc.Channel:
    """A channel as ``member`` naming no operator of its own (no test default)."""
    return connect(running.address, MemberCredentials(code=member, token=running.tokens[member]))


def test_a_partners_call_naming_no_operator_is_refused(running: RunningGateway) -> None:
    card = id_card(running).license
    channel = _bare(running, PARTNER)
    verify = verification_pb2_grpc.VerificationServiceStub(channel)
    calls: dict[str, Callable[..., Any]] = {
        "VerifyLicense": lambda **kw: verify.VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=SBZY, license_id=card.license_id), **kw
        ),
        "GetLicenseData": lambda **kw: sharing_pb2_grpc.SharingServiceStub(channel).GetLicenseData(
            sharing_pb2.GetLicenseDataRequest(use=SBZY, license_id=card.license_id), **kw
        ),
        "ListAccessRequests": lambda **kw: authorization_pb2_grpc.AuthorizationServiceStub(channel).ListAccessRequests(
            authorization_pb2.ListAccessRequestsRequest(), **kw
        ),
    }
    for name, call in calls.items():
        for metadata in ((), (("x-zzgw-operator", "  "),)):  # none, or blank
            with pytest.raises(grpc.RpcError) as caught:
                call(metadata=metadata)
            _, violations = error_details(caught.value)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, caught.value.details())
            assert violations == [("x-zzgw-operator", "OPERATOR_REQUIRED")], (name, violations)
            assert "写明办理部门和窗口人员" in (caught.value.details() or ""), name
    # named: answered as before
    named = (("x-zzgw-operator-bin", "11440100994401040K 窗口张三".encode()),)
    assert calls["VerifyLicense"](metadata=named).report.verdict == verification_pb2.CHECK_RESULT_PASSED
    assert calls["ListAccessRequests"](metadata=named) is not None
    # its forwarder's own look at the catalog, and a department's call without a clerk, as before
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel).ListMatters(catalog_pb2.ListMattersRequest())
    assert any(m.matter_code == SBZY.matter_code for m in catalog.matters)
    local = verification_pb2_grpc.VerificationServiceStub(_bare(running, REAL_ESTATE))
    report = local.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=card.license_id)).report
    assert report.verdict == verification_pb2.CHECK_RESULT_PASSED
