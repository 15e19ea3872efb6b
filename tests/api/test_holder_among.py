"""A 结婚证 is held by one of the spouses it names (the catalog's ``holder_among``), over real gRPC on SQLite and
PostgreSQL.

A reviewer had a 结婚证 issued to a person S whose 男方 and 女方身份证件号 named two others, H and W (and one held by a
husband whose 男方身份证件号 was another man's). S was then its holder in every call: S's consent let 不动产登记中心
read both spouses' 公民身份号码 in full, and H and W, only co-subjects, could neither list nor withdraw it.
IssueLicense, BatchIssueLicenses, AmendLicense and ``zzgw import`` now refuse a holder who is none of the persons named
(``DISAGREES_WITH_HOLDER`` on each of their fields); a license stored so before still verifies, and its next
amendment is refused until it names its holder.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

from adapters.batch_import import import_file
from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain import validation
from protos.zzgw.v1 import issuance_pb2, verification_pb2
from tests.api.test_guardian_consent import refusal
from tests.api.test_issuance import results
from tests.api.test_sharing import BDCZY, person
from tests.api.test_verification_co_subjects import verifier
from tests.conftest import CIVIL, RunningGateway

NONE_OF_THEM = (
    "持证人的公民身份号码不是男方身份证件号、女方身份证件号中的任何一个：持证人须是其中一人，请改正持证主体代码或{label}"
    "（the holder's citizen ID number (holder.code) is none of fields.husband_citizen_id, fields.wife_citizen_id: "
    "the holder must be one of them）"
)
REFUSED = [
    ("fields.husband_citizen_id", "DISAGREES_WITH_HOLDER", NONE_OF_THEM.format(label="男方身份证件号")),
    ("fields.wife_citizen_id", "DISAGREES_WITH_HOLDER", NONE_OF_THEM.format(label="女方身份证件号")),
]


def _born(code: str) -> str:
    return f"{code[6:10]}-{code[10:12]}-{code[12:14]}"


def certificate(holder: str, husband: str, wife: str) -> dict[str, Any]:
    """A 结婚证 held by ``holder`` that names ``husband`` and ``wife``, of a number of its own."""
    record = samples.marriage_certificate(random.randrange(1000))
    return {
        **record,
        "request_id": f"mc-{uuid.uuid4().hex}",
        "license_number": f"J370102-2019-{random.randrange(10**6):06d}",
        "holder": {**record["holder"], "code": holder},
        "fields": {
            **record["fields"],
            "husband_citizen_id": husband,
            "husband_birth_date": _born(husband),
            "wife_citizen_id": wife,
            "wife_birth_date": _born(wife),
        },
    }


def issue(running: RunningGateway, record: dict[str, Any]) -> str:
    return str(running.issuance(CIVIL).IssueLicense(issue_request(record)).license.license_id)


def amend(running: RunningGateway, license_id: str, **fields: str) -> Any:
    return running.issuance(CIVIL).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id=f"am-{uuid.uuid4().hex}", license_id=license_id, fields=fields, reason="更正"
        )
    )


def test_a_marriage_certificate_held_by_neither_spouse_is_refused(running: RunningGateway) -> None:
    (stranger, _), (husband, _), (wife, _) = person("男"), person("男"), person("女")
    record = certificate(stranger, husband, wife)
    assert refusal(lambda: issue(running, record)) == (grpc.StatusCode.INVALID_ARGUMENT, REFUSED)
    # nothing was stored under its number
    by_number = issuance_pb2.GetLicenseRequest(type_code=record["type_code"], license_number=record["license_number"])
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(CIVIL).GetLicense(by_number)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_husband_whose_field_names_another_man_is_refused(running: RunningGateway) -> None:
    (holder, _), (other_man, _), (wife, _) = person("男"), person("男"), person("女")
    assert refusal(lambda: issue(running, certificate(holder, other_man, wife))) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        REFUSED,
    )


def test_either_spouse_may_hold_it_whatever_the_case_of_the_check_character(running: RunningGateway) -> None:
    husband, _ = person("男")
    while not (wife := person("女")[0]).endswith("X"):
        pass
    assert issue(running, certificate(husband, husband, wife))
    assert issue(running, certificate(wife, husband, wife.lower()))  # the same number, its X typed in lower case


def test_a_batch_refuses_the_item_alone(running: RunningGateway) -> None:
    (stranger, _), (husband, _), (wife, _) = person("男"), person("男"), person("女")
    good, bad = certificate(husband, husband, wife), certificate(stranger, husband, wife)
    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(bad), issue_request(good)])
    first, second = results(running.issuance(CIVIL).BatchIssueLicenses(iter([batch])))
    assert (first.error.code, first.error.reason) == ("INVALID_ARGUMENT", "DISAGREES_WITH_HOLDER")
    assert [(e.field, e.reason, e.description) for e in first.error.field_errors] == REFUSED
    assert second.created


def test_an_import_fails_the_line_alone(running: RunningGateway, tmp_path: Path) -> None:
    (stranger, _), (husband, _), (wife, _) = person("男"), person("男"), person("女")
    lines = [certificate(husband, husband, wife), certificate(stranger, husband, wife)]
    path = tmp_path / "marriages.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    report = import_file(path, lambda: running.channel(CIVIL))
    assert report.created == 1
    assert [(f.line, f.field, f.reason, f.message) for f in report.failures] == [
        (2, field, reason, message) for field, reason, message in REFUSED
    ]


def test_an_amendment_naming_another_person_in_the_holders_place_is_refused(running: RunningGateway) -> None:
    (husband, _), (wife, _), (other_man, _) = person("男"), person("女"), person("男")
    license_id = issue(running, certificate(husband, husband, wife))
    refused = refusal(
        lambda: amend(running, license_id, husband_citizen_id=other_man, husband_birth_date=_born(other_man))
    )
    assert refused == (grpc.StatusCode.INVALID_ARGUMENT, REFUSED)
    # replacing the other spouse is an amendment like any other
    other_woman, _ = person("女")
    assert amend(running, license_id, wife_citizen_id=other_woman, wife_birth_date=_born(other_woman)).license


def test_one_stored_before_the_check_verifies_and_its_next_amendment_must_name_the_holder(
    running: RunningGateway,
) -> None:
    (stranger, _), (husband, _), (wife, _) = person("男"), person("男"), person("女")
    patch = pytest.MonkeyPatch()
    patch.setattr(validation, "check_holder_among", lambda *args, **kwargs: None)
    try:  # as issuance took it before the check
        license_id = issue(running, certificate(stranger, husband, wife))
    finally:
        patch.undo()
    report = verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=license_id))
    assert (report.report.verdict, report.report.license.license_id) == (
        verification_pb2.CHECK_RESULT_PASSED,
        license_id,
    )
    # an amendment of another field is told to put the holder right
    assert refusal(lambda: amend(running, license_id, remarks="补记")) == (grpc.StatusCode.INVALID_ARGUMENT, REFUSED)
    # one that names the holder among the spouses is taken
    amended = amend(running, license_id, husband_citizen_id=stranger, husband_birth_date=_born(stranger))
    assert amended.license.license_id != license_id


def test_the_spouse_who_does_not_hold_it_is_confirmed_as_one_of_the_persons_it_names(running: RunningGateway) -> None:
    """The wife of a 结婚证 her husband holds shows it at a window: the summary showed the husband alone, and
    信息比对 with her own 公民身份号码 had answered 7 (PARTLY_WRONG on holder_code), as a stranger's does, so a genuine
    certificate was refused (a reviewer of the journeys, R2). The summary lists both spouses, masked. A holder code
    that one of the type's ``holder_among`` fields states names one of the persons the license is about: the claim
    is compared as with the holder's, and her name is claimed under her own field (女方姓名). A stranger's code is
    still 7 on holder_code, nothing else compared."""
    (husband, _), (wife, _), (stranger, _) = person("男"), person("女"), person("男")
    record = certificate(husband, husband, wife)
    license_id = issue(running, record)
    # the summary shows both spouses, masked as the holder is, so that the clerk sees she is one of them
    report = verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=license_id))
    assert [(p.label, p.code_masked, p.holder) for p in report.report.license.parties] == [
        ("男方身份证件号", f"{husband[:4]}{'*' * 10}{husband[-4:]}", True),
        ("女方身份证件号", f"{wife[:4]}{'*' * 10}{wife[-4:]}", False),
    ]
    statement = report.report.receipt.statement.decode()  # a receipt holds no holder, nor these
    assert wife not in str(report.report) and "女方身份证件号" not in statement and wife[:4] + "*" not in statement

    def claim(code: str, **fields: str) -> verification_pb2.CheckClaimResponse:
        request = verification_pb2.CheckClaimRequest(
            use=BDCZY,
            type_code=record["type_code"],
            holder_code=code,
            license_number=record["license_number"],
            fields=fields,
        )
        return verifier(running).CheckClaim(request)

    correct = verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID
    assert claim(wife).result == correct
    assert claim(wife.lower(), wife_name=record["fields"]["wife_name"], wife_citizen_id=wife).result == correct
    assert claim(husband, holder_name=record["holder"]["name"]).result == correct
    wrong = claim(wife, wife_name="某某某")
    assert (wrong.result, list(wrong.mismatched_fields)) == (verification_pb2.CLAIM_RESULT_PARTLY_WRONG, ["wife_name"])
    stranger_claim = claim(stranger, wife_name=record["fields"]["wife_name"])
    assert (stranger_claim.result, list(stranger_claim.mismatched_fields)) == (
        verification_pb2.CLAIM_RESULT_PARTLY_WRONG,
        ["holder_code"],
    )


def test_a_spouse_claiming_a_certificate_as_theirs_is_compared_by_their_own_name(running: RunningGateway) -> None:
    """The wife of a 结婚证 her husband holds, claimed with her code and the name on her ID card as the applicant's
    (holder_name), had been 7 on holder_name, while her code with her husband's name was 1, 信息一致: a code and a
    name of two people confirmed (review rfB, R3). With a spouse's code, holder_name is that spouse's own name
    (the CITIZEN_ID field's person_name); with the holder's code, the holder's as before."""
    (husband, _), (wife, _) = person("男"), person("女")
    record = certificate(husband, husband, wife)
    issue(running, record)

    def claim(code: str, name: str) -> verification_pb2.CheckClaimResponse:
        request = verification_pb2.CheckClaimRequest(
            use=BDCZY,
            type_code=record["type_code"],
            holder_code=code,
            license_number=record["license_number"],
            fields={"holder_name": name},
        )
        return verifier(running).CheckClaim(request)

    wife_name, husband_name = record["fields"]["wife_name"], record["holder"]["name"]
    assert wife_name != husband_name
    correct, wrong = verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID, verification_pb2.CLAIM_RESULT_PARTLY_WRONG
    assert claim(wife, wife_name).result == correct
    mixed = claim(wife, husband_name)
    assert (mixed.result, list(mixed.mismatched_fields)) == (wrong, ["holder_name"])
    assert claim(husband, husband_name).result == correct
    assert list(claim(husband, wife_name).mismatched_fields) == ["holder_name"]
