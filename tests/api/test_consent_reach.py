"""What a holder's consent may name, over real gRPC (a holder-portal tester, D1, D5): a consent that would let
nothing through (a 营业执照 every matter reads without one, a 护照 no one is given) is refused, as RequestAccess
refuses the same case; and a consent names a license in force."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import authorization_pb2, issuance_pb2, sharing_pb2
from tests.api import test_sharing
from tests.api.test_issuance import change, unique
from tests.api.test_sharing import (
    BDCZY,
    BUSINESS_LICENSE,
    COMPANY_FIELDS,
    CSSY,
    FPSL,
    HANDLERS,
    ID_CARD,
    NEVER_SHARED_FIELD,
    PASSPORT,
    PHOTO_ONLY,
    Clocked,
    authorization,
    business_license,
    data,
    grant,
    id_card,
    passport,
    person,
    records_of,
)
from tests.conftest import MARKET, POLICE, PORTAL, TAX, RunningGateway, descriptions, error_details

clocked = test_sharing.clocked  # the fixture: a gateway on the test catalog, with a clock of its own

FOOD_PERMIT = samples.FOOD_PERMIT


def grant_request(
    running: RunningGateway, holder_code: str, matter: str, *, license_ids: tuple[str, ...] = (), **changes: Any
) -> authorization_pb2.GrantConsentRequest:
    until = Timestamp()
    until.FromDatetime(running.gateway.clock.now() + dt.timedelta(days=7))
    values: dict[str, Any] = {
        "holder_code": holder_code,
        "grantee_code": HANDLERS[matter],
        "matter_code": matter,
        "license_ids": list(license_ids),
        "valid_until": until,
        **changes,
    }
    return authorization_pb2.GrantConsentRequest(**values)


def refused_grant(running: RunningGateway, request: authorization_pb2.GrantConsentRequest) -> tuple[Any, ...]:
    """The refusal of a grant: its status, reason, violations, descriptions and metadata."""
    with pytest.raises(grpc.RpcError) as caught:
        authorization(running, PORTAL).GrantConsent(request)
    info, violations = error_details(caught.value)
    return caught.value.code(), info.reason, violations, descriptions(caught.value), dict(info.metadata)


def consents_of(running: RunningGateway, holder_code: str) -> list[authorization_pb2.Consent]:
    return list(
        authorization(running, PORTAL)
        .ListConsents(authorization_pb2.ListConsentsRequest(holder_code=holder_code))
        .consents
    )


# --- D1: a consent lets something through, or it is refused ----------------------------------------------------------


def test_a_consent_to_what_the_matter_reads_without_one_is_refused(clocked: Clocked) -> None:
    """A consent for a 营业执照 (无条件共享) had been granted, listed ACTIVE and withdrawn, the holder told 已授权 and
    已撤回, while the department read the license the same either way (D1). It is refused as RequestAccess refuses
    the same case, by type and by license alike, and nothing is granted or recorded."""
    running = clocked.running
    license_id, uscc = business_license(running)
    for named, field in (
        ({"type_codes": [BUSINESS_LICENSE]}, "type_codes[0]"),
        ({"license_ids": [license_id]}, "license_ids[0]"),
    ):
        code, reason, violations, said, _ = refused_grant(
            running, grant_request(running, uscc, FPSL.matter_code, **named)
        )
        assert (code, reason, violations) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "NO_CONSENT_NEEDED",
            [(field, "NO_CONSENT_NEEDED")],
        )
        assert said[(field, "NO_CONSENT_NEEDED")] == (
            "事项 370100-FPSL-001（发票申领）所用的营业执照信息无条件共享，无需授权，办理部门可直接调取"
            "（no consent is needed: the matter reads this license type unconditionally）"
        )
    assert not consents_of(running, uscc)
    assert not [r for r in records_of(running, uscc) if r.action == "GRANT_CONSENT"]

    # a material with a conditional field among unconditional ones takes a consent, which lets that field through
    granted = grant(running, uscc, grantee=TAX, matter=COMPANY_FIELDS.matter_code, license_ids=(license_id,),
                    type_codes=())  # fmt: skip
    read = data(running, license_id, COMPANY_FIELDS, code=granted.code)
    assert {f.key: f.basis for f in read.fields} == {
        "company_name": sharing_pb2.SHARING_BASIS_UNCONDITIONAL,
        "uscc": sharing_pb2.SHARING_BASIS_UNCONDITIONAL,
        "registered_capital": sharing_pb2.SHARING_BASIS_CONSENT,
    }
    assert read.consent_id == granted.consent.consent_id


def test_a_consent_that_could_let_nothing_through_is_refused(clocked: Clocked) -> None:
    """Under a matter that lists only what is never given out (an ID card's photo, a 护照: 不予共享) a consent lets
    nothing through: NEVER_SHARED, so the portal tells the holder to show the license instead. A consent naming one
    such item beside one that needs it is refused whole, naming the item: the holder is not told 已授权 for a
    license no department will read. A material whose shared fields are unconditional beside one never shared is
    NO_CONSENT_NEEDED: the consent would change nothing either way."""
    running = clocked.running
    code, born = person()
    card = id_card(running, code, born).license
    passport(running, code, born)
    cases = (
        (PHOTO_ONLY.matter_code, {"type_codes": [ID_CARD]}, "type_codes[0]", "NEVER_SHARED"),
        (PHOTO_ONLY.matter_code, {"license_ids": [card.license_id]}, "license_ids[0]", "NEVER_SHARED"),
        (CSSY.matter_code, {"type_codes": [ID_CARD, PASSPORT]}, "type_codes[1]", "NEVER_SHARED"),
    )
    for matter, named, field, reason in cases:
        status, first, violations, said, _ = refused_grant(running, grant_request(running, code, matter, **named))
        assert (status, first, violations) == (grpc.StatusCode.INVALID_ARGUMENT, reason, [(field, reason)]), named
    assert said[(field, reason)] == (
        "事项 370100-CSSY-001（测试事项）所用的护照信息不予共享，授权也不能调取，请持证人出示证照供核验"
        "（nothing to consent to: the matter is never given this license type; the holder shows the license to be "
        "verified）"
    )
    assert not consents_of(running, code)
    assert grant(running, code, grantee=TAX, matter=CSSY.matter_code, type_codes=(ID_CARD,)).consent.consent_id

    permit = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(3)))).license
    status, first, violations, _, _ = refused_grant(
        running, grant_request(running, permit.holder.code, NEVER_SHARED_FIELD.matter_code, type_codes=[FOOD_PERMIT])
    )
    assert (status, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("type_codes[0]", "NO_CONSENT_NEEDED")])


# --- D5: a consent names a license in force ----------------------------------------------------------------------


def amend_card(running: RunningGateway, license_id: str) -> str:
    return (
        running.issuance(POLICE)
        .AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="am-" + uuid.uuid4().hex,
                license_id=license_id,
                fields={"address": "山东省济南市历城区工业南路1号"},
                reason="住址变更",
            )
        )
        .license.license_id
    )


def test_a_consent_names_a_license_in_force(clocked: Clocked) -> None:
    """A consent naming a revoked 居民身份证 had been granted without a word, and its code then released the card's
    data, its number in full (D5). A license named is judged by its version in force: revoked, suspended or past its
    end is FAILED_PRECONDITION / LICENSE_NOT_IN_FORCE, naming the field and the status; a superseded version whose
    version in force is valid is taken (a consent stays with a license through its amendments)."""
    running = clocked.running
    revoked, suspended = (id_card(running).license for _ in range(2))
    change(running, revoked.license_id, issuance_pb2.STATUS_ACTION_REVOKE, member=POLICE)
    change(running, suspended.license_id, issuance_pb2.STATUS_ACTION_SUSPEND, member=POLICE)
    for card, status, words in ((revoked, "REVOKED", "已吊销或撤销"), (suspended, "SUSPENDED", "已暂停使用")):
        code, reason, violations, _, metadata = refused_grant(
            running, grant_request(running, card.holder.code, BDCZY.matter_code, license_ids=(card.license_id,))
        )
        assert (code, reason, violations) == (grpc.StatusCode.FAILED_PRECONDITION, "LICENSE_NOT_IN_FORCE", [])
        assert metadata == {"field": "license_ids[0]", "status": status}
        with pytest.raises(grpc.RpcError) as caught:
            authorization(running, PORTAL).GrantConsent(
                grant_request(running, card.holder.code, BDCZY.matter_code, license_ids=(card.license_id,))
            )
        assert caught.value.details() == (
            f"license_ids[0]：该证照{words}，不能授权，请指明持证人现行有效的证照"
            f"（license_ids[0]: the license is {status.lower()}: a consent names a license in force）"
        )
        assert not consents_of(running, card.holder.code)
    change(running, suspended.license_id, issuance_pb2.STATUS_ACTION_RESUME, member=POLICE)
    assert grant(running, suspended.holder.code, license_ids=(suspended.license_id,), type_codes=()).code

    # past its end: issued with a validity that has ended
    code, born = person()
    record = samples.id_card(0, issued=dt.date(2001, 3, 1))
    record = {
        **record,
        "request_id": f"id-{uuid.uuid4().hex}",
        "license_number": code,
        "holder": {**record["holder"], "code": code},
        "valid_until": "2021-03-01",
        "fields": {**record["fields"], "citizen_id": code, "birth_date": born.isoformat(),
                   "gender": "男" if int(code[16]) % 2 else "女"},
    }  # fmt: skip
    expired = running.issuance(POLICE).IssueLicense(issue_request(record)).license
    _, reason, _, _, metadata = refused_grant(
        running, grant_request(running, code, BDCZY.matter_code, license_ids=(expired.license_id,))
    )
    assert (reason, metadata) == ("LICENSE_NOT_IN_FORCE", {"field": "license_ids[0]", "status": "EXPIRED"})

    # a superseded version is judged by the version in force: taken while it is valid, refused once it is revoked
    card = id_card(running).license
    current = amend_card(running, card.license_id)
    granted = grant(running, card.holder.code, license_ids=(card.license_id,), type_codes=())
    assert list(granted.consent.license_ids) == [card.license_id]
    change(running, current, issuance_pb2.STATUS_ACTION_REVOKE, member=POLICE)
    _, reason, _, _, metadata = refused_grant(
        running, grant_request(running, card.holder.code, BDCZY.matter_code, license_ids=(card.license_id,))
    )
    assert (reason, metadata) == ("LICENSE_NOT_IN_FORCE", {"field": "license_ids[0]", "status": "REVOKED"})
