"""A holder code is one holder with its code type, over real gRPC on SQLite and PostgreSQL.

A holder-rights tester had a hospital (济南市卫生健康委员会) issue a 16-year-old's 出生医学证明 under holder code type
其他 (099) with an adult's 公民身份号码 as its code. The holder portal names a holder by the code alone, so the license
was the adult's own in every call: it was on their access log, in their 我的证照, they granted an ACTIVE consent on it
as its holder (no guardian), and 济南市医疗保障局 read the child's data with that consent. Issuance now refuses a
公民身份号码 under another code type (CODE_TYPE_MISMATCH), and a license stored so before that is nobody's by the code
alone: not on the log, not listed, not consentable, no consent of the code's covers it.

A reviewer found that a credit code must narrow nothing for a person: one 18-character code in 31 of a person's own (a
hospital's own code for a newborn, beginning as a credit code may) passes the GB 32100 check by chance, and had been
refused under 其他 (told to take 001, which no person's type has) and its stored licenses dropped from its holder's
portal.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from functools import partial
from typing import Any

import grpc
import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain import validation
from gateway.domain.catalog import HOLDER_CODE_TYPES
from gateway.domain.identifiers import citizen_id_check_char, uscc_check_char, uscc_problem
from protos.zzgw.v1 import authorization_pb2, issuance_pb2, sharing_pb2, verification_pb2, verification_pb2_grpc
from tests.api.test_co_subjects import log_of, raw_log_of
from tests.api.test_guardian_consent import (
    BIRTH_CERTIFICATE,
    CBDJ,
    HEALTH,
    MEDICAL,
    certificate,
    china_today,
    chinese_first,
    consent,
    consent_by_type_as_before,
    consentable,
    listed,
    parents,
    refusal,
)
from tests.api.test_issuance import results
from tests.api.test_sharing import FPSL, authorization, data, denied, grant, id_card, person, sharing
from tests.conftest import MARKET, PORTAL, RunningGateway, trail_rows

COMPANY = "91370100MA3C4K7L6M"  # a valid 统一社会信用代码


def certificate_record(holder_code: str, code_type: str = "099", mother: str = "") -> dict[str, Any]:
    """A 出生医学证明 of a 16-year-old (乙少年) whose holder is ``holder_code`` under ``code_type``, naming ``mother``
    (a new woman by default)."""
    new_mother, father = parents()
    mother = mother or new_mother
    born = dt.date(2010, 1, 1)
    return {
        "request_id": f"bc-{uuid.uuid4().hex}",
        "type_code": BIRTH_CERTIFICATE,
        "license_number": f"Y{random.randrange(10**9):09d}",
        "holder": {"name": "乙少年", "code_type": code_type, "code": holder_code},
        "issue_date": born.isoformat(),
        "fields": {
            "child_name": "乙少年",
            "gender": "男",
            "birth_date": born.isoformat(),
            "birth_place": "370102",
            "birth_facility": "济南市妇幼保健院",
            "mother_name": "李芳",
            "mother_citizen_id": mother,
            "father_name": "张伟",
            "father_citizen_id": father,
            "issuing_institution": "济南市妇幼保健院",
        },
    }


def legacy_certificate(running: RunningGateway, holder_code: str, mother: str = "") -> str:
    """A 16-year-old's 出生医学证明 stored under 其他 (099) with ``holder_code``, as issuance took it before the fix."""
    patch = pytest.MonkeyPatch()
    patch.setattr(validation, "holder_code_types_of", lambda code: frozenset(HOLDER_CODE_TYPES), raising=False)
    try:
        record = certificate_record(holder_code, mother=mother)
        issued = running.issuance(HEALTH).IssueLicense(issue_request(record)).license
    finally:
        patch.undo()
    assert (issued.holder.code_type, issued.holder.code) == ("099", holder_code)
    return str(issued.license_id)


HOSPITAL_SCHEME = "Y1370102JN20100100"  # an 18-character code of a hospital's own scheme
HOSPITAL_DIGITS = "123701022010010000"  # one of digits, no 公民身份号码 (its "birth date" is none)
PASSING_AS_CREDIT_CODES = [HOSPITAL_SCHEME, HOSPITAL_DIGITS]
"""A person's own codes that pass the 统一社会信用代码's check by chance (a reviewer's were a 台湾居民居住证 number and
"JN…": neither begins as a credit code does, GB 32100's first two characters, R4)."""
TAIWAN_RESIDENCE_PERMIT = "830000201001010469"  # 台湾居民居住证 number (mod 11-2 right; region 83 not GB/T 2260)
"""A person's own code of a 公民身份号码's form that is none (83 is no region), nor a credit code (8 工会 has no
type 3)."""


def test_a_citizen_id_under_other_code_types_is_refused(running: RunningGateway) -> None:
    """IssueLicense and BatchIssueLicenses refuse a 公民身份号码 declared as 其他 (099) for a person, said Chinese first
    with the type to use; the child's own code under 其他 is taken as before."""
    code = person()[0]
    status, violations = refusal(lambda: running.issuance(HEALTH).IssueLicense(issue_request(certificate_record(code))))
    assert (status, [(f, r) for f, r, _ in violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("holder.code_type", "CODE_TYPE_MISMATCH")],
    )
    ((_, _, description),) = violations
    assert chinese_first(description)
    assert "持证主体代码类型须为 111 公民身份号码，不能为 099 其他：持证人本人的公民身份号码以 111 登记" in description

    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(certificate_record(code))])
    (item,) = results(running.issuance(HEALTH).BatchIssueLicenses(iter([batch])))
    assert item.WhichOneof("result") == "error"
    assert [(e.field, e.reason) for e in item.error.field_errors] == [("holder.code_type", "CODE_TYPE_MISMATCH")]

    newborn = f"CN{uuid.uuid4().hex[:12].upper()}"  # a newborn's stand-in code, of no other type's form
    issued = running.issuance(HEALTH).IssueLicense(issue_request(certificate_record(newborn))).license
    assert (issued.holder.code_type, issued.holder.code) == ("099", newborn)


@pytest.mark.parametrize(
    "code", [*PASSING_AS_CREDIT_CODES, COMPANY], ids=["hospital_scheme", "hospital_digits", "uscc"]
)
def test_a_code_passing_the_credit_code_check_is_issued_under_other_for_a_person(
    running: RunningGateway, code: str
) -> None:
    """A person's type refuses no code under 其他 (099) for passing the credit code's check: a hospital's own code for
    a newborn may (one in 31 of those beginning as a credit code may), and nothing tells them from a company's."""
    issued = running.issuance(HEALTH).IssueLicense(issue_request(certificate_record(code))).license
    assert (issued.holder.code_type, issued.holder.code) == ("099", code)


@pytest.mark.parametrize(
    "code",
    [*PASSING_AS_CREDIT_CODES, TAIWAN_RESIDENCE_PERMIT],
    ids=["hospital_scheme", "hospital_digits", "taiwan_permit"],
)
def test_the_holder_of_a_code_passing_the_credit_code_check_keeps_their_license(
    running: RunningGateway, code: str
) -> None:
    """A license stored under 其他 (099) with such a code is its holder's: its uses on their log, listed to them,
    consented on by them. So is one under a 台湾居民居住证 number, which fails the 公民身份号码's check its form tells
    (83 is no region), by licenses being stored under it (R2)."""
    own = legacy_certificate(running, code)
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(MEDICAL))
    use = verification_pb2.UseContext(matter_code=CBDJ.matter_code, purpose="核验出生证")
    verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=own))
    assert own in {r.license_id for r in log_of(running, code).records}
    assert own in consentable(running, code)  # with any other license issued under the code (the test above)
    granted = consent(running, code, (own,), uses=1)
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (code, "")
    assert {f.key: f.value for f in data(running, own, CBDJ, member=MEDICAL, code=granted.code).fields}["child_name"]


def test_a_license_stored_under_other_with_a_persons_citizen_id_is_not_that_persons(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tester's scenario, on a license stored before issuance refused it: the adult whose 公民身份号码 it carries
    neither sees its uses, nor finds it among their licenses, nor consents on it, by license or by type."""
    adult, born = person()
    own = id_card(running, adult, born).license.license_id
    other = legacy_certificate(running, adult)
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(MEDICAL))
    use = verification_pb2.UseContext(matter_code=CBDJ.matter_code, purpose="核验乙的出生证")
    verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=other))

    assert other not in {r.license_id for r in log_of(running, adult).records}
    assert consentable(running, adult) == [own]
    status, violations = refusal(lambda: consent(running, adult, (other,)))
    assert (status, [(f, r) for f, r, _ in violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("license_ids[0]", "NOT_THE_HOLDERS_LICENSE")],
    )
    # by type: refused at the grant, the adult holding no 出生医学证明 of their own (GUARDIAN_NAMES_LICENSES, a
    # journeys tester's D3); one granted before then, as an upgraded store may hold, does not cover this one
    by_type = consent_by_type_as_before(running, adult, monkeypatch)  # would cover their own certificate
    assert denied(lambda: data(running, other, CBDJ, member=MEDICAL, code=by_type.code))[0] == "CONSENT_OTHER_HOLDER"

    # its uses are on the record still: its issuer's log lists the verification, asked for the code as it stored it
    assert other in {r.license_id for r in log_of(running, "", HEALTH).records}
    assert other in {r.license_id for r in log_of(running, adult, HEALTH).records}


def test_the_parents_a_certificate_stored_under_other_names_still_consent_as_guardians(running: RunningGateway) -> None:
    """The child of such a certificate is its holder still: the mother it names finds it with the child's code (the
    number it carries) and consents for the child as a guardian, under the guardian's rules (they end at 18)."""
    adult, mother = person()[0], person("女")[0]
    other = legacy_certificate(running, adult, mother=mother)
    assert consentable(running, mother, adult) == [other]
    granted = consent(running, mother, (other,), uses=1)
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (adult, mother)
    read = data(running, other, CBDJ, member=MEDICAL, code=granted.code)
    assert {f.key: f.value for f in read.fields}["child_name"] == "乙少年"


def test_the_mothers_consent_for_a_certificate_stored_under_other_is_not_the_adults_whose_number_it_carries(
    running: RunningGateway,
) -> None:
    """The mother's consent for such a certificate is stored under the number it carries (its holder code), and had
    been listed to that adult, her 公民身份号码 with it, and withdrawn by them (a reviewer, R1): it is nobody's by the
    code alone, the mother's to list and withdraw, as the certificate is hers to consent on."""
    adult, mother = person()[0], person("女")[0]
    other = legacy_certificate(running, adult, mother=mother)
    granted = consent(running, mother, (other,), uses=3)
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (adult, mother)
    own = grant(running, adult)  # their own, by type

    assert [c.consent_id for c in listed(running, adult)] == [own.consent.consent_id]  # their own alone
    stub = authorization(running, PORTAL)
    status, _ = refusal(
        lambda: stub.WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=adult)
        )
    )
    assert status == grpc.StatusCode.NOT_FOUND  # CONSENT_NOT_FOUND, as to a stranger

    (hers,) = listed(running, mother)
    assert (hers.consent_id, hers.state) == (granted.consent.consent_id, authorization_pb2.CONSENT_STATE_ACTIVE)
    withdrawn = stub.WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=mother)
    )
    assert withdrawn.consent.state == authorization_pb2.CONSENT_STATE_WITHDRAWN


def test_an_amendment_of_a_license_stored_under_other_with_a_citizen_id_is_refused(running: RunningGateway) -> None:
    """An amendment keeps the holder: one of such a license is refused as its issue now is, so the issuer revokes it
    and issues it again under the holder's own code."""
    other = legacy_certificate(running, person()[0])
    status, violations = refusal(
        lambda: running.issuance(HEALTH).AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id=f"am-{uuid.uuid4().hex}",
                license_id=other,
                fields={"birth_facility": "山东省立医院"},
                reason="更正",
            )
        )
    )
    assert (status, [(f, r) for f, r, _ in violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("holder.code_type", "CODE_TYPE_MISMATCH")],
    )


def foreign_resident() -> str:
    """A fresh 外国人永久居留身份证 number of 2023 (code type 554): 9, a province, a nationality, a birth date, a
    sequence and a 公民身份号码's check character."""
    born = dt.date(1960, 1, 1) + dt.timedelta(days=random.randrange(15000))
    first17 = f"937840{born:%Y%m%d}{random.randrange(1000):03d}"
    return first17 + citizen_id_check_char(first17)


@pytest.mark.parametrize("code_type", ["099", "414", "554"], ids=["newborn", "passport", "foreigner"])
def test_a_listing_refused_for_its_use_is_on_the_log_of_the_holder_it_named(
    running: RunningGateway, code_type: str
) -> None:
    """A department's listing and prefill of a holder's licenses under another department's matter are refused and
    on the holder's log, as one allowed is, whatever code type the holder has: a newborn's code under 其他, a
    passport number and a 外国人永久居留身份证 number had been recorded naming nobody, only a 公民身份号码 or a credit
    code kept (a reviewer, R1). The code is kept as the request's type reads it (small letters are capitals)."""
    code = {
        "099": f"CN{uuid.uuid4().hex[:12].upper()}",
        "414": f"E{uuid.uuid4().hex[:8].upper()}",
        "554": foreign_resident(),
    }[code_type]
    listing = sharing_pb2.ListHolderLicensesRequest(use=FPSL, holder_code_type=code_type, holder_code=code.lower())
    assert denied(lambda: sharing(running, MEDICAL).ListHolderLicenses(listing))[0] == "NOT_MATTER_DEPARTMENT"
    form = sharing_pb2.PrefillFormRequest(use=FPSL, holder_code_type=code_type, holder_code=code, field_keys=["name"])
    assert denied(lambda: sharing(running, MEDICAL).PrefillForm(form))[0] == "NOT_MATTER_DEPARTMENT"

    assert [(r.caller, r.action, r.decision, r.reason, r.relation) for r in log_of(running, code).records] == [
        (MEDICAL, "PREFILL_FORM", "DENIED", "NOT_MATTER_DEPARTMENT", "HOLDER"),
        (MEDICAL, "LIST_HOLDER_LICENSES", "DENIED", "NOT_MATTER_DEPARTMENT", "HOLDER"),
    ]


def test_a_claim_refused_for_its_use_names_a_newborn_whose_code_holds_licenses(running: RunningGateway) -> None:
    """A claim names its holder by the code alone: a code of no structure to check (其他) is someone's when licenses
    are stored under it, so a claim naming a newborn's, refused for another department's matter, is on the
    newborn's log; one naming a code nothing is stored under is nobody's, as before."""
    newborn = f"CN{uuid.uuid4().hex[:12].upper()}"
    certificate(running, *parents(), child=newborn)
    marker = f"核验-{uuid.uuid4().hex[:8]}"
    use = verification_pb2.UseContext(matter_code=FPSL.matter_code, purpose=marker)
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(MEDICAL))
    for code in (newborn, f"CN{uuid.uuid4().hex[:12].upper()}"):
        claim = verification_pb2.CheckClaimRequest(
            use=use, type_code=BIRTH_CERTIFICATE, license_number="Q000000000", holder_code=code
        )
        assert denied(partial(verifier.CheckClaim, claim))[0] == "NOT_MATTER_DEPARTMENT"
    assert trail_rows(running, "decision, reason, holder_code", "purpose = :p", p=marker) == [
        ("DENIED", "NOT_MATTER_DEPARTMENT", newborn),
        ("DENIED", "NOT_MATTER_DEPARTMENT", ""),
    ]
    assert [(r.action, r.purpose) for r in log_of(running, newborn).records] == [("CHECK_CLAIM", marker)]


def hospital_code(born: dt.date) -> str:
    """A newborn's code of a hospital's own scheme with a 公民身份号码's form (the region, the birth date, a sequence)
    whose last character is no 公民身份号码's check character: issuance takes it under 其他 (099), as any code it
    takes there of 1-32 letters and digits."""
    while True:
        first17 = f"370102{born:%Y%m%d}{random.randrange(1000):03d}"
        code = first17 + random.choice([c for c in "0123456789" if c != citizen_id_check_char(first17)])
        if uscc_problem(code) is not None:  # nor a credit code's (one in 31)
            return code


def test_a_newborns_code_issued_under_other_is_the_newborns_in_every_holder_portal_call(
    running: RunningGateway,
) -> None:
    """A newborn's code under 其他 of a 公民身份号码's form whose check character is not one (a hospital's own
    scheme) had been refused BAD_CHECK_CHARACTER by every call naming the holder by the code alone, while departments
    read the licenses stored under it: the child's log could not be listed, nor the mother find the child's licenses,
    nor list or withdraw the consent she gave for them by the child's code (a reviewer, R2). A code licenses are
    stored under names their holder; a mistyped 公民身份号码 nothing is stored under is still BAD_CHECK_CHARACTER."""
    mother, father = parents()
    born = china_today() - dt.timedelta(days=7)
    newborn = hospital_code(born)
    cert, code = certificate(running, mother, father, born=born, child=newborn)
    assert code == newborn
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(MEDICAL))
    verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=CBDJ, license_id=cert))

    assert [(r.action, r.license_id, r.relation) for r in log_of(running, newborn).records] == [
        ("VERIFY_LICENSE", cert, "HOLDER")
    ]
    assert consentable(running, mother, newborn) == [cert]
    granted = consent(running, mother, (cert,), uses=1)
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (newborn, mother)
    assert [c.consent_id for c in listed(running, newborn)] == [granted.consent.consent_id]
    status, violations = refusal(lambda: consent(running, newborn, (cert,)))  # in person: a child under 14
    assert (status, [r for _, r, _ in violations]) == (grpc.StatusCode.INVALID_ARGUMENT, ["GUARDIAN_MUST_CONSENT"])
    withdrawn = authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=newborn)
    )
    assert withdrawn.consent.state == authorization_pb2.CONSENT_STATE_WITHDRAWN

    typo = hospital_code(born)  # nothing stored under it: a 公民身份号码 mistyped
    for call in (
        lambda: log_of(running, typo),
        lambda: listed(running, typo),
        lambda: consentable(running, mother, typo),
    ):
        status, violations = refusal(call)
        assert (status, [r for _, r, _ in violations]) == (grpc.StatusCode.INVALID_ARGUMENT, ["BAD_CHECK_CHARACTER"])


def test_an_issuer_learns_nothing_of_other_departments_licenses_from_a_newborns_code(running: RunningGateway) -> None:
    """A code of a 公民身份号码's form that fails its check had been taken from any issuer when any department's
    licenses were stored under it, and refused when none were: 市场监管局 told which hospital codes a 出生医学证明
    was registered under, with nothing to do with the child (a reviewer, rfB R1). An issuer's listing counts its own
    licenses only, as it lists their uses only; the issuer of the certificate and the portal still name the child."""
    mother, father = parents()
    born = china_today() - dt.timedelta(days=7)
    newborn = hospital_code(born)
    cert, _ = certificate(running, mother, father, born=born, child=newborn)  # 卫健委 (HEALTH) issues it
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(MEDICAL))
    verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=CBDJ, license_id=cert))
    nothing = hospital_code(born)

    for code in (newborn, nothing):
        status, violations = refusal(lambda code=code: log_of(running, code, MARKET))
        assert (status, [(f, r) for f, r, _ in violations]) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            [("holder_code", "BAD_CHECK_CHARACTER")],
        )
    assert [(r.action, r.license_id) for r in log_of(running, newborn, HEALTH).records] == [("VERIFY_LICENSE", cert)]
    assert [(r.action, r.license_id) for r in log_of(running, newborn).records] == [("VERIFY_LICENSE", cert)]
    listings = [r.caller for r in raw_log_of(running, newborn).records if r.action == "LIST_ACCESS_RECORDS"]
    assert MARKET not in listings


def test_a_mother_whose_number_a_certificate_was_stored_under_sees_its_uses_and_consents_as_its_guardian(
    running: RunningGateway,
) -> None:
    """A 出生医学证明 stored under 其他 with the mother's own 公民身份号码 as the newborn's code is not hers as its
    holder, but she is a parent it names: of its parents, she alone had been left out of its uses and its
    guardianship, for her number being the holder code (a reviewer, R3). She sees its uses as its guardian, finds it
    with the child's code (her number), and consents, lists and withdraws for the child; it stays none of her own."""
    mother = person("女")[0]
    other = legacy_certificate(running, mother, mother=mother)
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(MEDICAL))
    use = verification_pb2.UseContext(matter_code=CBDJ.matter_code, purpose="核验新生儿出生证")
    verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=other))
    assert [(r.action, r.license_id, r.relation) for r in log_of(running, mother).records] == [
        ("VERIFY_LICENSE", other, "GUARDIAN")
    ]

    assert consentable(running, mother) == []  # none of her own
    assert consentable(running, mother, mother) == [other]
    granted = consent(running, mother, (other,), uses=2)
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (mother, mother)
    read = data(running, other, CBDJ, member=MEDICAL, code=granted.code)
    assert {f.key: f.value for f in read.fields}["child_name"] == "乙少年"
    assert [c.consent_id for c in listed(running, mother)] == [granted.consent.consent_id]
    withdrawn = authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=mother)
    )
    assert withdrawn.consent.state == authorization_pb2.CONSENT_STATE_WITHDRAWN


def test_a_representative_office_of_a_foreign_ngo_is_issued_and_named_by_its_credit_code(
    running: RunningGateway,
) -> None:
    """A 境外非政府组织代表机构's credit code begins G1 (公安, which registers them); the pairs GB 32100's
    amendments added after its table 1 had been left out, so such an office could not be issued a license under
    ``001`` (BAD_USCC), nor its log listed (review rfB, Unverified). It is an organisation's code as any other."""
    first17 = "G1110000MA01B2C3D"
    office = first17 + uscc_check_char(first17)
    record = samples.food_permit(random.randrange(10**6))
    record["request_id"] = f"ngo-{uuid.uuid4().hex}"
    record["license_number"] = f"SC1063701{random.randrange(10**7):07d}"
    record["holder"]["code"] = record["fields"]["uscc"] = office
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    assert (issued.holder.code_type, issued.holder.code) == ("001", office)
    assert list(log_of(running, office).records) == []
    assert listed(running, office) == []


def test_a_mistyped_citizen_id_passing_the_credit_code_check_is_a_typo_to_the_holder_portal(
    running: RunningGateway,
) -> None:
    """A 公民身份号码 with its last digit mistyped that passed the 统一社会信用代码's check character had been read as a
    company's credit code, its empty log listed and the listing recorded under it (a reviewer, R4): no credit code
    begins 37 (3 司法行政 has no organisation type 7), so it is the 公民身份号码 mistyped that it is. A real credit
    code (住建部's, of the vectors) names its holder as before."""
    typo = "370102197805280288"  # 370102197805280286 mistyped: 8 is the credit code's check character
    for call in (lambda: log_of(running, typo), lambda: listed(running, typo)):
        status, violations = refusal(call)
        assert (status, [(f, r) for f, r, _ in violations]) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            [("holder_code", "BAD_CHECK_CHARACTER")],
        )
    assert list(log_of(running, "11100000000013338W").records) == []
    assert listed(running, "11100000000013338W") == []
