"""跨省通办 outside verification: what the sharing and authorisation calls say of another region's license, and whom a
holder portal is told to grant a consent to for a matter a partner gateway acts under (review "partner")."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from gateway.bootstrap import samples
from gateway.domain.errors import MAX_ECHO_DESCRIPTION
from gateway.domain.identifiers import LicenseId
from protos.zzgw.v1 import authorization_pb2, sharing_pb2, verification_pb2, verification_pb2_grpc
from tests.api.test_sharing import (
    BDCZY,
    ID_CARD,
    PARTNER,
    REAL_ESTATE,
    SBZY,
    authorization,
    data,
    grant,
    id_card,
    person,
    sharing,
)
from tests.conftest import (
    CIVIL,
    RunningGateway,
    backend_params,
    descriptions,
    error_details,
    fresh_database,
    start_gateway,
)

DEMO_MEMBERS = Path(__file__).resolve().parent.parent.parent / "gateway" / "bootstrap" / "members.json"

GUANGZHOU_ISSUER = samples.uscc(901, region="440100")
"""A Guangzhou department: no member of this (Jinan) gateway."""
ELSEWHERE_WORDS = "不是本网关的部门，可能是其他地区登记库的证照"
"""What VerifyLicense says of such an identifier's status (``_not_found``)."""


def refused(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str, str, list[tuple[str, str]]]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    info, violations = error_details(caught.value)
    return caught.value.code(), info.reason, caught.value.details() or "", violations


def request_access(running: RunningGateway, member: str, use: verification_pb2.UseContext, **fields: Any) -> Any:
    values: dict[str, Any] = {"duration_days": 30, **fields}
    return authorization(running, member).RequestAccess(authorization_pb2.RequestAccessRequest(use=use, **values))


def test_another_regions_license_is_not_in_this_registry_for_sharing_and_requests(running: RunningGateway) -> None:
    """An identifier naming an issuer that is no department of this gateway (a Guangzhou department, or the partner
    gateway, which issues nothing), given to GetLicenseData, GetLicenseDocument or RequestAccess, is NOT_FOUND /
    NOT_IN_THIS_REGISTRY in VerifyLicense's words, as VerifyLicense of it is INDETERMINATE / NOT_IN_THIS_REGISTRY. It
    had been LICENSE_NOT_FOUND (check what was typed), and RequestAccess naming such an issuer by issuer_code
    NOT_AN_ISSUER_OF_TYPE, false for an issuer of the type in its own region (review partner, R2). A missing license
    of one of this gateway's issuers is LICENSE_NOT_FOUND still, and a department here that does not issue the type
    NOT_AN_ISSUER_OF_TYPE."""
    card = id_card(running).license
    named = LicenseId.parse(card.license_id)
    their_type = samples.uscc(902, region="440000") + "001"  # a type a 广东 department defines: not in this catalog
    for issuer, type_code in ((GUANGZHOU_ISSUER, ID_CARD), (PARTNER, ID_CARD), (GUANGZHOU_ISSUER, their_type)):
        foreign = str(dataclasses.replace(named, issuer_code=issuer, type_code=type_code))
        calls: dict[str, Callable[[], Any]] = {
            "GetLicenseData": lambda: data(running, foreign, BDCZY, REAL_ESTATE),  # noqa: B023
            "GetLicenseDocument": lambda: sharing(running, REAL_ESTATE).GetLicenseDocument(
                sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=BDCZY, license_id=foreign)  # noqa: B023
            ),
            "RequestAccess": lambda: request_access(running, REAL_ESTATE, BDCZY, license_id=foreign),  # noqa: B023
            "RequestAccess (partner)": lambda: request_access(running, PARTNER, SBZY, license_id=foreign),  # noqa: B023
        }
        for name, call in calls.items():
            code, reason, details, _ = refused(call)
            assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NOT_IN_THIS_REGISTRY"), (name, issuer, type_code)
            if name.endswith("(partner)"):  # a license of its own region (440100), said so (review partner, R3)
                assert f"发证机构 {issuer} 不是本网关的部门，该证照属于贵方本地区（440100）" in details, details
                continue
            assert f"发证机构 {issuer} {ELSEWHERE_WORDS}" in details, (name, details)
    # by type, naming another region's issuer: not "it does not issue the type"
    code, reason, details, _ = refused(
        lambda: request_access(running, REAL_ESTATE, BDCZY, type_code=ID_CARD, issuer_code=GUANGZHOU_ISSUER)
    )
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NOT_IN_THIS_REGISTRY")
    assert f"发证机构 {GUANGZHOU_ISSUER} {ELSEWHERE_WORDS}" in details
    # this gateway's own: as before
    missing = str(dataclasses.replace(named, serial=named.serial[:-4] + "ZZZZ"))
    assert refused(lambda: data(running, missing, BDCZY, REAL_ESTATE))[:2] == (
        grpc.StatusCode.NOT_FOUND,
        "LICENSE_NOT_FOUND",
    )
    assert refused(lambda: request_access(running, REAL_ESTATE, BDCZY, license_id=missing))[1] == "LICENSE_NOT_FOUND"
    code, _, _, violations = refused(
        lambda: request_access(running, REAL_ESTATE, BDCZY, type_code=ID_CARD, issuer_code=CIVIL)
    )
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("issuer_code", "NOT_AN_ISSUER_OF_TYPE")])


def test_a_consent_refused_for_its_grantee_names_whom_the_matter_may_be_granted_to(running: RunningGateway) -> None:
    """A holder at a Guangzhou window consents under 440100-SBZY-001, whose catalog department
    (广州市人力资源和社会保障局) is no member here: the partner gateway acts under it. Granted to that department's
    code, or to a department here that does not handle it, the refusal (UNKNOWN_GRANTEE, NOT_GRANTEES_MATTER) names
    the partner gateway to grant to, by name and code; it had named no one, and no call told a portal whom (review
    partner, R3). A partner granted a Jinan matter is told the department that handles it."""
    holder, _ = person()
    guangzhou_hrss = "11440100994401040K"  # the matter's department, in Guangzhou: not registered here
    partner = f"由合作网关 广州市政务服务和数据管理局（{PARTNER}）代办，请授权给它"
    said = {"UNKNOWN_GRANTEE": f"；事项 {SBZY.matter_code} {partner}", "NOT_GRANTEES_MATTER": f"的事项；{partner}"}
    for grantee, reason in ((guangzhou_hrss, "UNKNOWN_GRANTEE"), (REAL_ESTATE, "NOT_GRANTEES_MATTER")):
        code, _, details, violations = refused(
            lambda: grant(running, holder, grantee=grantee, matter=SBZY.matter_code)  # noqa: B023
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and [v[1] for v in violations] == [reason], grantee
        assert said[reason] in details, details
        with pytest.raises(grpc.RpcError) as again:  # and in the BadRequest's description, cut to 200 characters
            grant(running, holder, grantee=grantee, matter=SBZY.matter_code)
        assert said[reason] in next(iter(descriptions(again.value).values()))
    code, _, details, violations = refused(lambda: grant(running, holder, grantee=PARTNER, matter=BDCZY.matter_code))
    assert [v[1] for v in violations] == ["NOT_GRANTEES_MATTER"]
    assert f"办理；可授权给济南市不动产登记中心（{REAL_ESTATE}）（a partner gateway" in details, details
    assert grant(running, holder, grantee=PARTNER, matter=SBZY.matter_code).code  # the one it names will do


CROSS_REGION = "请通过跨省通办渠道向该地区核验"
"""The advice for another region's license: true whether that region runs zzgw (its partner gateway forwards nothing,
ADR 0017) or not. It had been 请通过该地区的证照网关核验, which a clerk of a zzgw partner province cannot do: the
gateway there is no member here and forwards nothing (review partner, R1)."""


def test_another_regions_license_sends_the_clerk_to_the_cross_region_channel(running: RunningGateway) -> None:
    """VerifyLicense's status finding and GetLicenseData's refusal of another region's identifier tell the clerk to
    verify it with that region through the 跨省通办 channel, not "through that region's gateway"."""
    named = LicenseId.parse(id_card(running).license.license_id)
    foreign = str(dataclasses.replace(named, issuer_code=GUANGZHOU_ISSUER))
    report = (
        verification_pb2_grpc.VerificationServiceStub(running.channel(REAL_ESTATE))
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=foreign))
        .report
    )
    assert report.status.reason == "NOT_IN_THIS_REGISTRY"
    _, reason, details, _ = refused(lambda: data(running, foreign, BDCZY, REAL_ESTATE))
    assert reason == "NOT_IN_THIS_REGISTRY"
    for said in (report.status.detail, details):
        assert CROSS_REGION in said and "证照网关核验" not in said, said


def test_a_code_of_this_gateways_own_city_is_not_another_regions(running: RunningGateway) -> None:
    """A well-formed code of this gateway's own city (370100) that no member has: a clerk's typo or a department not
    yet registered, as the seal check judges a seal's code (``_names_no_department``). It had been "another region's"
    (NOT_IN_THIS_REGISTRY, 请通过跨省通办渠道向该地区核验) in RequestAccess, GetLicenseData and VerifyLicense, sending a
    clerk to the 跨省 channel from their own city's gateway; RequestAccess by type and issuer_code had said
    NOT_AN_ISSUER_OF_TYPE before (review fixrev2, R5). A code of another city of the province (青岛, 370200) is
    another region's, without the 跨省 words; another province's keeps them."""
    named = LicenseId.parse(id_card(running).license.license_id)
    own_city = samples.uscc(904, region="370100")
    code, _, _, violations = refused(
        lambda: request_access(running, REAL_ESTATE, BDCZY, type_code=ID_CARD, issuer_code=own_city)
    )
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("issuer_code", "NOT_AN_ISSUER_OF_TYPE")])
    ours = str(dataclasses.replace(named, issuer_code=own_city))
    assert refused(lambda: data(running, ours, BDCZY, REAL_ESTATE))[:2] == (
        grpc.StatusCode.NOT_FOUND,
        "LICENSE_NOT_FOUND",
    )
    assert refused(lambda: request_access(running, REAL_ESTATE, BDCZY, license_id=ours))[1] == "LICENSE_NOT_FOUND"
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(REAL_ESTATE))
    report = verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=ours)).report
    assert report.status.reason == "LICENSE_NOT_FOUND"
    assert "其他地区" not in report.integrity.detail

    qingdao = samples.uscc(904, region="370200")
    theirs = str(dataclasses.replace(named, issuer_code=qingdao))
    by_type = lambda: request_access(running, REAL_ESTATE, BDCZY, type_code=ID_CARD, issuer_code=qingdao)  # noqa: E731
    for call in (by_type, lambda: data(running, theirs, BDCZY, REAL_ESTATE)):
        code, reason, details, _ = refused(call)
        assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NOT_IN_THIS_REGISTRY")
        assert f"发证机构 {qingdao} {ELSEWHERE_WORDS}，请向该证照的发证地区核验" in details and "跨省" not in details
    report = verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=theirs)).report
    assert report.status.reason == "NOT_IN_THIS_REGISTRY" and "请向该证照的发证地区核验" in report.status.detail
    assert "跨省" not in report.status.detail and "可能属于其他地区的登记库" in report.integrity.detail
    guangzhou = str(dataclasses.replace(named, issuer_code=GUANGZHOU_ISSUER))
    report = verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=guangzhou)).report
    assert CROSS_REGION in report.status.detail


MORE_PARTNERS = (
    (samples.uscc(911, region="440000"), "广东省政务服务和数据管理局跨省通办窗口", "440000"),
    (samples.uscc(912, region="440100"), "广州市越秀区政务服务和数据管理局跨省通办窗口", "440100"),
    (samples.uscc(913, region="440100"), "广州市天河区政务服务和数据管理局跨省通办窗口", "440100"),
    (samples.uscc(914, region="440100"), "广州市政务服务和数据管理局跨省通办第二窗口", "440100"),
)
"""Four more partner gateways covering 440100 (the province's, and the city's with district-style names), as review
fixrev2 had them beside the demo's."""
USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")


@pytest.mark.parametrize("backend", backend_params())
def test_the_grantees_named_fit_the_description_whole(backend: str, tmp_path: Path) -> None:
    """With five partner gateways for 440100-SBZY-001, the refusal's list had been cut at the description's 200
    characters: names lost, the ending (代办，请授权给其中之一) and the English half gone, and NOT_GRANTEES_MATTER
    ending in half a code, which a portal showing it or parsing it got wrong (review fixrev2, R3). It names as many
    as fit whole, counts the rest (等5个成员), and its Chinese reaches the portal complete."""
    raw = json.loads(DEMO_MEMBERS.read_text(encoding="utf-8"))
    raw["members"] += [{"code": c, "name": n, "region": r, "roles": ["PARTNER"]} for c, n, r in MORE_PARTNERS]
    members = tmp_path / "members.json"
    members.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    codes = {PARTNER, *(c for c, _, _ in MORE_PARTNERS)}
    with fresh_database(backend, tmp_path) as url:
        running = start_gateway(tmp_path / "var", url, members=str(members))
        try:
            holder, _ = person()
            for grantee, reason in (("11440100994401040K", "UNKNOWN_GRANTEE"), (REAL_ESTATE, "NOT_GRANTEES_MATTER")):
                with pytest.raises(grpc.RpcError) as caught:
                    grant(running, holder, grantee=grantee, matter=SBZY.matter_code)
                ((_, said_reason), description), *_ = descriptions(caught.value).items()
                assert said_reason == reason
                assert len(description) <= MAX_ECHO_DESCRIPTION
                chinese = description.split("（the ", 1)[0] if "（the " in description else description
                chinese = chinese.split("（matter ", 1)[0].split("（a partner", 1)[0]
                assert chinese.endswith("等5个成员代办，请授权给其中之一"), description
                named = USCC.findall(chinese)
                assert named and set(named) <= codes | {"11440100994401040K", REAL_ESTATE}, description
                shown = [c for c in named if c in codes]
                assert 1 <= len(shown) < 5 and all(f"（{c}）" in chinese for c in shown), description
        finally:
            running.stop()


@pytest.mark.parametrize("backend", backend_params())
def test_a_revoked_member_is_neither_named_nor_granted_to(backend: str, tmp_path: Path) -> None:
    """`zzgw members --revoke` of a partner gateway (replaced by a new one): the refusal's list had still named it,
    and a consent granted to it was OK, though each of its calls is UNAUTHENTICATED / CREDENTIAL_REVOKED, so the
    holder's consent was spent on no one (review fixrev2, R4). It is named no more, and a consent to it is refused,
    saying it was revoked, with the members that may be granted to instead."""
    old_code, old_name, region = MORE_PARTNERS[2]
    raw = json.loads(DEMO_MEMBERS.read_text(encoding="utf-8"))
    raw["members"].append({"code": old_code, "name": old_name, "region": region, "roles": ["PARTNER"]})
    members = tmp_path / "members.json"
    members.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with fresh_database(backend, tmp_path) as url:
        running = start_gateway(tmp_path / "var", url, members=str(members))
        try:
            holder, _ = person()
            _, _, details, _ = refused(
                lambda: grant(running, holder, grantee="11440100994401040K", matter=SBZY.matter_code)
            )
            assert old_code in details  # registered: named beside the demo's partner
            assert running.gateway.members.revoke(old_code)
            code, _, details, violations = refused(
                lambda: grant(running, holder, grantee="11440100994401040K", matter=SBZY.matter_code)
            )
            assert [v[1] for v in violations] == ["UNKNOWN_GRANTEE"] and old_code not in details, details
            assert f"由合作网关 广州市政务服务和数据管理局（{PARTNER}）代办，请授权给它" in details
            code, _, details, violations = refused(
                lambda: grant(running, holder, grantee=old_code, matter=SBZY.matter_code)
            )
            assert code == grpc.StatusCode.INVALID_ARGUMENT and [v[1] for v in violations] == ["UNKNOWN_GRANTEE"]
            assert f"被授权部门{old_name}（{old_code}）已被撤销登记，不能再被授权" in details, details
            assert "请授权给它" in details and f"（{PARTNER}）" in details
            assert grant(running, holder, grantee=PARTNER, matter=SBZY.matter_code).code
        finally:
            running.stop()


def test_a_partner_asking_of_its_own_regions_license_is_told_it_is_its_own(running: RunningGateway) -> None:
    """The 广州 partner (region 440100) sending a license of a 440100 issuer, or of its own code, had been told to
    verify it "with that region through the 跨省通办 channel": with itself, through the channel it calls through
    (review partner, R3). VerifyLicense, GetLicenseData and RequestAccess tell it the license is of its own region,
    held in its own province's registry; another region's license, and a department here, are told as before."""
    named = LicenseId.parse(id_card(running).license.license_id)
    partner = verification_pb2_grpc.VerificationServiceStub(running.channel(PARTNER))
    own = "该证照属于贵方本地区（440100），请在贵方本省的登记库核验"
    for issuer in (GUANGZHOU_ISSUER, PARTNER):
        theirs = str(dataclasses.replace(named, issuer_code=issuer))
        report = partner.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=SBZY, license_id=theirs)).report
        assert report.status.reason == "NOT_IN_THIS_REGISTRY", report.status
        said = [report.status.detail]
        for call in (
            lambda: data(running, theirs, SBZY, PARTNER),  # noqa: B023
            lambda: request_access(running, PARTNER, SBZY, license_id=theirs),  # noqa: B023
        ):
            code, reason, details, _ = refused(call)
            assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NOT_IN_THIS_REGISTRY")
            said.append(details)
        for words in said:
            assert f"发证机构 {issuer} 不是本网关的部门，{own}" in words and "跨省" not in words, words
            assert "it is a license of your own region (440100)" in words, words
    # by type and issuer_code too
    _, _, details, _ = refused(
        lambda: request_access(running, PARTNER, SBZY, type_code=ID_CARD, issuer_code=GUANGZHOU_ISSUER)
    )
    assert own in details, details
    # another province's region, to the partner: the 跨省 channel, as before; its own region's, to a department here
    shenzhen = str(dataclasses.replace(named, issuer_code=samples.uscc(905, region="440300")))
    report = partner.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=SBZY, license_id=shenzhen)).report
    assert CROSS_REGION in report.status.detail and "贵方" not in report.status.detail
    guangzhou = str(dataclasses.replace(named, issuer_code=GUANGZHOU_ISSUER))
    local = verification_pb2_grpc.VerificationServiceStub(running.channel(REAL_ESTATE))
    report = local.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=guangzhou)).report
    assert CROSS_REGION in report.status.detail and "贵方" not in report.status.detail
