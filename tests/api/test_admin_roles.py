"""The administrator's exceptions (any matter, ADR 0008; every receipt of a case, ADR 0012; every change event)
over real gRPC, for a member whose only role is ``ADMIN`` and for one that has ``ADMIN`` beside ``CONSUMER``: the
second acts as a department does, under the matters it handles only (a reviewer, R1: the tax bureau with ``ADMIN``
read 居民身份证 data, was granted consents and filed access requests under any department's matter)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import grpc
import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.errors import PermissionDeniedError
from gateway.domain.model import Member, Role
from gateway.domain.verification import matters_of, uses_matter
from gateway.server import idle_partners, unhandled_matters
from gateway.services.members import load_bootstrap_catalog, load_members
from protos.zzgw.v1 import authorization_pb2, issuance_pb2, verification_pb2
from tests.api.test_sharing import (
    BDCZY,
    FPSL,
    ID_CARD,
    QYKZ,
    REAL_ESTATE,
    authorization,
    data,
    denied,
    fields_of,
    grant,
    id_card,
)
from tests.api.test_verification import batch_issue, verifier
from tests.commands import ROOT, run_zzgw
from tests.conftest import ADMIN, PASSPHRASE, POLICE, TAX, RunningGateway, case_number, error_details, start_gateway

MEMBERS = ROOT / "gateway" / "bootstrap" / "members.json"


@pytest.fixture(scope="module")
def both(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A gateway whose members are the demo's, but for the tax bureau (TAX), which is given ``ADMIN`` beside its
    ``CONSUMER``; 济南市大数据局 (ADMIN) stays an administrator alone."""
    directory = tmp_path_factory.mktemp("admin-roles")
    members = json.loads(MEMBERS.read_text(encoding="utf-8"))
    for member in members["members"]:
        if member["code"] == TAX:
            member["roles"] = ["CONSUMER", "ADMIN"]
    path = directory / "members.json"
    path.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    running = start_gateway(directory / "var", database_url, members=str(path))
    running.members_file = path  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.stop()


def test_a_member_with_admin_and_consumer_reads_under_its_own_matters_only(both: RunningGateway) -> None:
    card = id_card(both).license
    # under another department's matter: refused at the matter, before the policy is asked
    assert denied(lambda: data(both, card.license_id, QYKZ, member=TAX))[0] == "NOT_MATTER_DEPARTMENT"
    assert denied(lambda: data(both, card.license_id, BDCZY, member=TAX))[0] == "NOT_MATTER_DEPARTMENT"
    with pytest.raises(grpc.RpcError) as caught:
        authorization(both, TAX).RequestAccess(
            authorization_pb2.RequestAccessRequest(use=QYKZ, type_code=ID_CARD, duration_days=30)
        )
    assert (caught.value.code(), error_details(caught.value)[0].reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_MATTER_DEPARTMENT",
    )
    # under its own (发票申领) it reads a 营业执照 as the tax bureau always did
    license_id = batch_issue(both, 31, samples.business_license)
    assert fields_of(data(both, license_id, FPSL, member=TAX))


def test_a_consent_for_another_departments_matter_is_not_granted_to_a_member_with_admin_and_consumer(
    both: RunningGateway,
) -> None:
    card = id_card(both).license
    with pytest.raises(grpc.RpcError) as caught:
        grant(both, card.holder.code, grantee=TAX, matter=BDCZY.matter_code)
    _, violations = error_details(caught.value)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("matter_code", "NOT_GRANTEES_MATTER") in violations
    # the department that handles the matter is granted it, and reads by it
    code = grant(both, card.holder.code, grantee=REAL_ESTATE, matter=BDCZY.matter_code).code
    assert fields_of(data(both, card.license_id, BDCZY, code=code))["citizen_id"] == card.holder.code


def test_an_administrator_alone_still_verifies_under_any_matter(both: RunningGateway) -> None:
    card = id_card(both).license
    for use in (QYKZ, BDCZY):  # the police's and the real-estate centre's, both listing the ID card
        report = (
            verifier(both, ADMIN)
            .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=card.license_id))
            .report
        )
        assert report.license.license_id == card.license_id and report.receipt.receipt_id, use.matter_code
    # and reads no data, whatever the matter: its role may not call GetLicenseData
    with pytest.raises(grpc.RpcError) as caught:
        data(both, card.license_id, QYKZ, member=ADMIN)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_case_receipts_follow_the_matters_types_for_a_member_with_admin_and_consumer(both: RunningGateway) -> None:
    """企业开办: the 公安局 checks the 营业执照 and an ID card for 印章刻制. The tax bureau with ``ADMIN`` is given
    the 营业执照's receipt only under its 发票申领 (ADR 0012), and no case under another's matter; the administrator
    alone is given both."""
    license_id = batch_issue(both, 32, samples.business_license)
    record = {**samples.id_card(710_000 + int(uuid.uuid4().hex[:5], 16)), "request_id": f"card-{uuid.uuid4().hex}"}
    card = both.issuance(POLICE).IssueLicense(issue_request(record)).license
    case = case_number()
    first_use = verification_pb2.UseContext(
        matter_code=QYKZ.matter_code, purpose="企业开办：刻制公章", bundle_code="370100-YJS-QYKB", case_id=case
    )
    for named in (license_id, card.license_id):
        verifier(both, POLICE).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=named))
    later_use = verification_pb2.UseContext(
        matter_code=FPSL.matter_code, purpose="企业开办：发票申领", bundle_code="370100-YJS-QYKB", case_id=case
    )

    def listed(member: str, use: verification_pb2.UseContext) -> list[str]:
        request = verification_pb2.ListCaseReceiptsRequest(use=use)
        return [r.license_id for r in verifier(both, member).ListCaseReceipts(request).receipts]

    assert listed(TAX, later_use) == [license_id]
    assert listed(ADMIN, later_use) == [license_id, card.license_id]
    with pytest.raises(grpc.RpcError) as caught:
        listed(TAX, first_use)
    assert error_details(caught.value)[0].reason == "NOT_MATTER_DEPARTMENT"


def test_change_events_are_watched_as_the_other_roles_give_beside_admin(both: RunningGateway) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        request = issuance_pb2.WatchLicenseChangesRequest(type_codes=[ID_CARD])
        next(iter(both.issuance(TAX).WatchLicenseChanges(request, timeout=10)))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("type_codes[0]", "NOT_USED_BY_MATTER")]
    card = id_card(both).license
    stream = both.issuance(ADMIN).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(from_beginning=True, type_codes=[ID_CARD]), timeout=30
    )
    event = next(reply.event for reply in stream if reply.event.license_id == card.license_id)
    stream.cancel()
    assert event.kind == issuance_pb2.CHANGE_KIND_ISSUED
    # a member with ADMIN and HOLDER_PORTAL alone has no matter and no license of its own: told so, not left waiting
    portal = Member(code=ADMIN, name="某门户", region="370100", roles=frozenset({Role.ADMIN, Role.HOLDER_PORTAL}))
    with pytest.raises(PermissionDeniedError) as refused:
        both.gateway.issuance.watch_scope(portal)
    assert refused.value.reason == "NO_MATTERS"


def test_zzgw_members_lists_the_matters_of_a_member_with_admin_and_consumer_as_its_own(both: RunningGateway) -> None:
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(both.data_dir),
        "ZZGW_DATABASE_URL": str(both.gateway.settings.database_url),
        "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
        "ZZGW_MEMBERS": str(both.members_file),  # type: ignore[attr-defined]
    }
    listed = run_zzgw("members", env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines() if line.split()}
    assert FPSL.matter_code in lines[TAX] and "全部事项" not in lines[TAX] and QYKZ.matter_code not in lines[TAX]
    assert "全部事项（any matter）" in lines[ADMIN]


def test_the_matter_rule_of_each_combination_of_roles() -> None:
    """``uses_matter`` for every combination of ``ADMIN`` with another role: only ``ADMIN`` alone names any matter;
    ``zzgw init``'s warnings count a department with ``ADMIN`` as the department it is."""
    catalog = load_bootstrap_catalog()
    demo = {m.code: m for m in load_members()}
    police = catalog.matters[QYKZ.matter_code]
    for role in set(Role) - {Role.ADMIN}:
        member = Member(code=TAX, name=demo[TAX].name, region="650100", roles=frozenset({Role.ADMIN, role}))
        assert not uses_matter(member, police), role
        assert [m.code for m in matters_of(member, catalog)] == [FPSL.matter_code], role
    assert len(matters_of(demo[ADMIN], catalog)) == len(catalog.matters)
    tax_and_admin = Member(code=TAX, name=demo[TAX].name, region="370100", roles=frozenset({Role.ADMIN, Role.CONSUMER}))
    members = [tax_and_admin if m.code == TAX else m for m in demo.values()]
    assert FPSL.matter_code not in unhandled_matters(catalog, members)
    partner = next(m for m in demo.values() if m.has(Role.PARTNER))
    astray = Member(code=partner.code, name=partner.name, region="650100", roles=partner.roles | {Role.ADMIN})
    assert idle_partners(catalog, [astray]) == (f"{partner.code} 650100",)
