"""What a holder portal shows of a person's access log (用证记录), over real gRPC on SQLite and PostgreSQL.

A holder-portal tester printed each record as "{caller_name} 于 {at} 为 {matter_name} {action_words}：您的{类型}" and
found two gaps (D2, D6):

- a record did not say the license's type, which the portal parsed out of ``license_id``, nor whose license it was:
  a mother's log said "您的出生医学证明" of her newborn son's, and "您的结婚证（已授权）" of a consent her husband
  granted. A record now has ``type_code`` and ``type_name``, and its ``relation`` to the person listed (``HOLDER``,
  ``CO_SUBJECT``, ``GUARDIAN``): codes only, nothing more of the other person;
- every listing the portal made of the log, the consents and the licenses to name was itself on the log (recorded
  so that a leaked credential's reads are seen): 42 of a company's 212 records. ``omit_own_listings`` leaves out the
  caller's own listings, which are recorded all the same.
"""

from __future__ import annotations

import uuid

from gateway.domain.guardianship import citizen_birth_date
from protos.zzgw.v1 import audit_pb2, audit_pb2_grpc, authorization_pb2, verification_pb2, verification_pb2_grpc
from tests.api.test_guardian_consent import BIRTH_CERTIFICATE, CBDJ, MEDICAL, certificate, consent, consentable, parents
from tests.api.test_sharing import QYKZ, authorization, business_license, data, id_card
from tests.conftest import BUSINESS_LICENSE, ID_CARD, MARKET, POLICE, PORTAL, TAX, RunningGateway


def records(
    running: RunningGateway, code: str, member: str = PORTAL, **asked: object
) -> audit_pb2.ListAccessRecordsResponse:
    stub = audit_pb2_grpc.AuditServiceStub(running.channel(member))
    return stub.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=code, **asked))  # type: ignore[arg-type]


def whose(listed: audit_pb2.ListAccessRecordsResponse) -> list[tuple[str, str, str, str, str]]:
    return [(r.action, r.license_id, r.relation, r.type_code, r.type_name) for r in listed.records]


def test_a_mothers_log_says_which_records_are_her_childs_certificate_and_which_her_own(running: RunningGateway) -> None:
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    own = id_card(running, mother, citizen_birth_date(mother)).license.license_id
    police = verification_pb2_grpc.VerificationServiceStub(running.channel(POLICE))
    police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=QYKZ, license_id=own))  # her own 居民身份证
    granted = consent(running, mother, (license_id,), uses=1)
    data(running, license_id, CBDJ, member=MEDICAL, code=granted.code)  # her son's certificate, read under 参保登记
    assert consentable(running, father, child) == [license_id]  # the father lists what he may name for the child

    child_data = (BIRTH_CERTIFICATE, "出生医学证明")
    hers = records(running, mother)
    assert whose(hers) == [
        ("GET_LICENSE_DATA", license_id, "GUARDIAN", *child_data),  # 您孩子的出生医学证明
        ("GRANT_CONSENT", license_id, "GUARDIAN", *child_data),
        ("VERIFY_LICENSE", own, "HOLDER", ID_CARD, "居民身份证"),  # 您的居民身份证
    ]
    assert whose(records(running, mother))[0] == ("LIST_ACCESS_RECORDS", "", "HOLDER", "", "")  # names no license
    assert [(r.action, r.relation) for r in records(running, child).records] == [
        ("LIST_CONSENTABLE_LICENSES", "HOLDER"),
        ("GET_LICENSE_DATA", "HOLDER"),
        ("GRANT_CONSENT", "HOLDER"),
    ]
    # the father's listing of the child's licenses names none, and is his call as the child's guardian
    assert whose(records(running, father))[0] == ("LIST_CONSENTABLE_LICENSES", "", "GUARDIAN", "", "")
    # nothing more of the child or of the other parent than the license's identifier already said: no code, no name
    sent = hers.SerializeToString()
    for said in (child, father, "张小明", "张伟"):
        assert said.encode() not in sent


def test_a_guardians_consent_naming_two_licenses_is_theirs_as_the_guardian(running: RunningGateway) -> None:
    """A record naming no license (a consent for two) names the guardian who granted it: their call for the child."""
    mother, father = parents()
    newborn = f"N{uuid.uuid4().hex[:12].upper()}"  # no 公民身份号码 yet: a minor by the certificate's birth date
    one, _ = certificate(running, mother, father, child=newborn)
    two, _ = certificate(running, mother, father, child=newborn)
    granted = consent(running, father, (one, two), uses=2)
    mine = [r for r in records(running, father).records if r.reason == f"consent={granted.consent.consent_id}"]
    assert [(r.license_id, r.relation, r.type_code, r.type_name) for r in mine] == [("", "GUARDIAN", "", "")]
    childs = [r for r in records(running, newborn).records if r.reason == f"consent={granted.consent.consent_id}"]
    assert [r.relation for r in childs] == ["HOLDER"]


def test_a_companys_log_names_the_type_and_an_issuers_log_names_no_relation_without_a_holder(
    running: RunningGateway,
) -> None:
    license_id, company = business_license(running, 31)
    data(running, license_id)  # 国家税务总局济南市税务局 under 发票申领
    assert whose(records(running, company)) == [
        ("GET_LICENSE_DATA", license_id, "HOLDER", BUSINESS_LICENSE, "营业执照"),
    ]
    assert [(r.relation, r.type_code) for r in records(running, company, MARKET).records] == [
        ("HOLDER", BUSINESS_LICENSE)
    ]
    every = records(running, "", MARKET, limit=500).records  # the issuer's whole log: no one was asked about
    used = next(r for r in every if r.license_id == license_id and r.action == "GET_LICENSE_DATA")
    assert (used.relation, used.type_code, used.type_name) == ("", BUSINESS_LICENSE, "营业执照")


def test_a_portal_lists_the_uses_without_its_own_listings(running: RunningGateway) -> None:
    license_id, company = business_license(running, 32)
    data(running, license_id)
    stub = authorization(running, PORTAL)
    for _ in range(2):  # the portal's home screen, refreshed: the log, the consents, the licenses to name
        records(running, company)
        stub.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=company))
        stub.ListConsentableLicenses(authorization_pb2.ListConsentableLicensesRequest(holder_code=company))
    records(running, company, MARKET)  # the issuer looks at the company's uses of its licenses
    data(running, license_id)

    def seen(listed: audit_pb2.ListAccessRecordsResponse) -> list[tuple[str, str]]:
        return [(r.caller, r.action) for r in listed.records]

    uses = records(running, company, omit_own_listings=True)
    assert seen(uses) == [
        (TAX, "GET_LICENSE_DATA"),
        (MARKET, "LIST_ACCESS_RECORDS"),  # another member's listing is a look at the log: shown
        (TAX, "GET_LICENSE_DATA"),
    ]
    assert uses.next_before == 0
    # every listing is still recorded and listed without the flag, the one with it too
    everything = seen(records(running, company))
    assert everything[0] == (PORTAL, "LIST_ACCESS_RECORDS")
    assert everything.count((PORTAL, "LIST_ACCESS_RECORDS")) == 3
    assert everything.count((PORTAL, "LIST_CONSENTS")) == everything.count((PORTAL, "LIST_CONSENTABLE_LICENSES")) == 2
    assert [e for e in everything if e[0] != PORTAL] == seen(uses)

    # a page at a time, as the portal's own pages are left out, nothing is repeated or skipped
    paged: list[tuple[str, str]] = []
    before = 0
    while True:
        page = records(running, company, omit_own_listings=True, limit=1, before=before)
        paged += seen(page)
        if not (before := page.next_before):
            break
    assert paged == seen(uses)

    # an issuer leaves out its own listings too, and still sees no portal's (they are of no license of its)
    assert [a for _, a in seen(records(running, company, MARKET, omit_own_listings=True))] == ["GET_LICENSE_DATA"] * 2
