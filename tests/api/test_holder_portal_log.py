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

import grpc

from gateway.domain.guardianship import citizen_birth_date
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    issuance_pb2,
    verification_pb2,
    verification_pb2_grpc,
)
from tests.api.test_guardian_consent import (
    BIRTH_CERTIFICATE,
    CBDJ,
    HEALTH,
    MEDICAL,
    certificate,
    consent,
    consentable,
    parents,
    refusal,
)
from tests.api.test_issuance import change
from tests.api.test_sharing import QYKZ, authorization, business_license, data, id_card, person
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


def test_a_childs_licenses_listed_for_a_stranger_are_not_on_the_strangers_log(running: RunningGateway) -> None:
    """A listing of a child's licenses names the adult it was made for as the child's guardian only when a license of
    the child names them so: a stranger (or a mistyped child's code) had been told GUARDIAN, a call made as the
    child's parent (found in review). The listing stays on the child's log; a parent whose child has nothing to name
    (its certificate revoked) is still told of it, as its guardian."""
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    stranger, _ = person()
    assert consentable(running, stranger, child) == []
    assert "LIST_CONSENTABLE_LICENSES" not in [r.action for r in records(running, stranger).records]
    assert consentable(running, father, child) == [license_id]
    assert whose(records(running, father))[0] == ("LIST_CONSENTABLE_LICENSES", "", "GUARDIAN", "", "")
    listed = [r for r in records(running, child).records if r.action == "LIST_CONSENTABLE_LICENSES"]
    assert [(r.relation, r.reason) for r in listed] == [("HOLDER", "licenses=1"), ("HOLDER", "licenses=0")]
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE, HEALTH)
    assert consentable(running, mother, child) == []
    assert whose(records(running, mother))[0] == ("LIST_CONSENTABLE_LICENSES", "", "GUARDIAN", "", "")


def granters(running: RunningGateway, code: str, action: str = "GRANT_CONSENT") -> dict[str, tuple[str, str]]:
    """By consent id, the relation and ``consent_granted_by`` of ``code``'s records of ``action``."""
    listed = records(running, code).records
    return {
        r.reason.removeprefix("consent=").split(" by=")[0]: (r.relation, r.consent_granted_by)
        for r in listed
        if r.action == action
    }


def test_a_mother_tells_the_fathers_consent_for_their_child_from_her_own(running: RunningGateway) -> None:
    """Both parents' consents for their child's certificate are GUARDIAN on her log (the license names her as its
    holder's parent): the father's had read exactly as hers, and her 撤回 of it was CONSENT_NOT_FOUND (found in
    review). ``consent_granted_by`` says whether she granted it, and nothing of who did: her own is PERSON, the
    father's OTHER, which is not hers to withdraw. Each parent is told so of the other's, and the child of both."""
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    by_father = consent(running, father, (license_id,), uses=1).consent.consent_id
    by_mother = consent(running, mother, (license_id,), uses=1).consent.consent_id
    assert granters(running, mother) == {by_father: ("GUARDIAN", "OTHER"), by_mother: ("GUARDIAN", "PERSON")}
    assert granters(running, father) == {by_father: ("GUARDIAN", "PERSON"), by_mother: ("GUARDIAN", "OTHER")}
    assert granters(running, child) == {by_father: ("HOLDER", "OTHER"), by_mother: ("HOLDER", "OTHER")}
    status, violations = refusal(
        lambda: authorization(running, PORTAL).WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(consent_id=by_father, holder_code=mother)
        )
    )
    assert (status, violations) == (grpc.StatusCode.NOT_FOUND, [])
    authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=by_mother, holder_code=mother)
    )
    assert granters(running, mother, "WITHDRAW_CONSENT") == {by_mother: ("GUARDIAN", "PERSON")}
    # a yes or no about her: nothing of the father, and none on a record naming no consent
    hers = records(running, mother)
    assert {r.consent_granted_by for r in hers.records if r.action not in ("GRANT_CONSENT", "WITHDRAW_CONSENT")} == {""}
    sent = hers.SerializeToString()
    for said in (child, father, "张小明", "张伟"):
        assert said.encode() not in sent


def test_a_consent_withdrawn_by_the_child_is_on_the_fathers_log_as_the_one_he_granted(running: RunningGateway) -> None:
    """A consent for two of a child's licenses names no license: it is on the log of the parent who granted it, also
    when it is withdrawn with the child's code. GUARDIAN there says it is the consent he granted as the child's
    guardian, not that he made the call (as the docs had said, found in review); he granted it: PERSON."""
    mother, father = parents()
    newborn = f"N{uuid.uuid4().hex[:12].upper()}"
    one, _ = certificate(running, mother, father, child=newborn)
    two, _ = certificate(running, mother, father, child=newborn)
    granted = consent(running, father, (one, two), uses=2).consent.consent_id
    authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=granted, holder_code=newborn)
    )
    assert granters(running, father, "WITHDRAW_CONSENT") == {granted: ("GUARDIAN", "PERSON")}
    assert granters(running, newborn, "WITHDRAW_CONSENT") == {granted: ("HOLDER", "OTHER")}
    assert "WITHDRAW_CONSENT" not in [r.action for r in records(running, mother).records]  # she did not grant it


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
