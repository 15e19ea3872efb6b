"""A guardian consents for a minor holder (监护人代为授权), over real gRPC on SQLite and PostgreSQL.

新生儿出生一件事 (SCENARIOS journey 2): 医疗保障局 (参保登记) reads the child's 出生医学证明 with a parent's one-use
consent code. A black-box tester found that the mother could not grant it: ``GrantConsent`` with her
公民身份号码 for the child's certificate was NOT_THE_HOLDERS_LICENSE (in Chinese only), though the certificate
names her and her access log lists its uses. A parent the license names in a ``guardian_of_holder`` field now
consents for the child while the child is a minor; the consent is the child's, names the parent, and is listed and
withdrawn by either.

A reviewer then found that a father an amendment (变更) took off the certificate still consented for the child by
naming the superseded version, which still named him, and that his consent covered the current version (a consent
covers every version of a license). Guardianship is now judged on the version in force at the grant, and again at
each use (CONSENT_GUARDIAN_ENDED).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import event

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.catalog import Catalog
from gateway.domain.identifiers import LicenseId, citizen_id_problem, holder_code_types_of, uscc_problem
from gateway.domain.model import CHINA_TZ
from protos.zzgw.v1 import authorization_pb2, issuance_pb2, sharing_pb2, verification_pb2, verification_pb2_grpc
from tests.api.test_co_subjects import but_whose, couple, log_of
from tests.api.test_sharing import (
    BDCZY,
    REAL_ESTATE,
    authorization,
    clocked_gateway,
    data,
    denied,
    fields_of,
    grant,
    id_card,
    person,
    sharing,
)
from tests.commands import ROOT
from tests.conftest import (
    POLICE,
    PORTAL,
    RunningGateway,
    backend_params,
    error_details,
    fresh_database,
    trail_rows,
)

HEALTH = "113701009937010623"  # 济南市卫生健康委员会: issues 出生医学证明
MEDICAL = "1137010099370110X6"  # 济南市医疗保障局: 参保登记
BIRTH_CERTIFICATE = "1110000099100006XH001"
HOUSEHOLD_REGISTER = "11100000991000019E002"  # 户口簿: no field tells its holder's birth date
BOOTSTRAP_CATALOG = ROOT / "gateway" / "bootstrap" / "catalog.json"
CBDJ = verification_pb2.UseContext(matter_code="370100-CBDJ-001", purpose="新生儿出生一件事：城乡居民医保参保登记")


def china_today() -> dt.date:
    return dt.datetime.now(CHINA_TZ).date()


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (28 February for a 29th that year lacks)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return dt.date(day.year - years, 2, 28)


def certificate(
    running: RunningGateway, mother: str, father: str, *, born: dt.date | None = None, child: str | None = None
) -> tuple[str, str]:
    """Issue a 出生医学证明 of a child born on ``born`` (a week ago) to ``mother`` and ``father``; the holder is the
    child, by a 公民身份号码 of that birth date (a boy's), or by ``child`` (code type 其他: a newborn without one
    yet). Returns its identifier and the child's code."""
    born = born or china_today() - dt.timedelta(days=7)
    code = child or _new_child(born)
    name = "张小明"
    record = {
        "request_id": f"bc-{uuid.uuid4().hex}",
        "type_code": BIRTH_CERTIFICATE,
        "license_number": f"Q{random.randrange(10**9):09d}",
        "holder": {"name": name, "code_type": "099" if child else "111", "code": code},
        "issue_date": born.isoformat(),
        "fields": {
            "child_name": name,
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
    license = running.issuance(HEALTH).IssueLicense(issue_request(record)).license
    return license.license_id, license.holder.code


_CHILDREN: set[str] = set()
"""The children's codes issued in this process: 500 boys a day had made two tests' children one child now and then,
and the one's consents were listed with the other's."""


def _new_child(born: dt.date) -> str:
    """A boy's 公民身份号码 of birth date ``born`` no certificate of this process has had (odd sequence: a boy)."""
    while (code := samples.citizen_id(2 * random.randrange(500) + 1, born)) in _CHILDREN:
        pass
    _CHILDREN.add(code)
    return code


def parents() -> tuple[str, str]:
    (mother, _), (father, _) = person("女"), person("男")
    return mother, father


def household_register(code: str, *, code_type: str = "111") -> dict[str, Any]:
    """A 户口簿 of 张小明 (holder ``code``) issued three days ago, the household's three members named."""
    return {
        "request_id": f"hr-{uuid.uuid4().hex}",
        "type_code": HOUSEHOLD_REGISTER,
        "license_number": f"{random.randrange(10**8, 10**9)}",
        "holder": {"name": "张小明", "code_type": code_type, "code": code},
        "issue_date": (china_today() - dt.timedelta(days=3)).isoformat(),
        "fields": {
            "household_number": "370102001234",
            "household_type": "家庭户",
            "head_name": "张伟",
            "address": "山东省济南市历下区泉城路1号",
            "region": "370102",
            "registration_authority": "济南市公安局历下分局",
            "household_members": "张伟、李芳、张小明",
        },
    }


def consent(running: RunningGateway, holder_code: str, license_ids: tuple[str, ...], **changes: Any) -> Any:
    values: dict[str, Any] = {
        "grantee": MEDICAL,
        "matter": CBDJ.matter_code,
        "license_ids": license_ids,
        "type_codes": (),
        **changes,
    }
    return grant(running, holder_code, **values)


def consent_by_type_as_before(running: RunningGateway, code: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A consent to the 出生医学证明 by type from ``code``, who holds none: refused at the grant since a journeys
    tester's D3 (GUARDIAN_NAMES_LICENSES), so made as it was before then, as a store upgraded since may hold one."""
    _, violations = refusal(lambda: consent(running, code, (), type_codes=(BIRTH_CERTIFICATE,)))
    assert [(f, r) for f, r, _ in violations] == [("type_codes[0]", "GUARDIAN_NAMES_LICENSES")]
    service = running.gateway.authorization
    assert service is not None
    with monkeypatch.context() as patched:
        patched.setattr(service, "_check_guardian_types_held", lambda *_: None)
        return consent(running, code, (), type_codes=(BIRTH_CERTIFICATE,))


def refusal(call: Any) -> tuple[grpc.StatusCode, list[tuple[str, str, str]]]:
    """Run ``call``; it must fail. Its code and BadRequest violations as (field, reason, description)."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    assert status is not None
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(v.field, v.reason, v.description) for v in bad.field_violations]
    return caught.value.code(), violations


def chinese_first(description: str) -> bool:
    """Chinese first, the English after in full-width parentheses."""
    head, _, tail = description.partition("（")
    return bool(head) and not head.isascii() and tail.endswith("）") and tail[:-1].isascii()


def listed(running: RunningGateway, code: str) -> list[authorization_pb2.Consent]:
    request = authorization_pb2.ListConsentsRequest(holder_code=code)
    return list(authorization(running, PORTAL).ListConsents(request).consents)


def test_the_mother_grants_a_one_use_consent_for_her_newborns_certificate(running: RunningGateway) -> None:
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    granted = consent(running, mother, (license_id,), uses=1)
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (child, mother)  # the child's consent

    read = data(running, license_id, CBDJ, member=MEDICAL, code=granted.code)
    assert fields_of(read)["child_name"] == "张小明"
    assert {f.basis for f in read.fields} == {sharing_pb2.SHARING_BASIS_CONSENT}
    assert (read.consent_id, read.consent_uses_left) == (granted.consent.consent_id, 0)
    assert denied(lambda: data(running, license_id, CBDJ, member=MEDICAL, code=granted.code))[0] == "CONSENT_USED_UP"

    # listed to the mother's portal (she granted it) and to the child's (it is the child's), with the guardian named
    (hers,) = listed(running, mother)
    assert (hers.consent_id, hers.holder_code, hers.guardian_code) == (granted.consent.consent_id, child, mother)
    assert hers.state == authorization_pb2.CONSENT_STATE_USED_UP
    assert [c.consent_id for c in listed(running, child)] == [hers.consent_id]
    assert not listed(running, father)  # the father granted nothing

    # the grant is on the child's log (its holder) and on the mother's (she granted it and the certificate names her)
    grants = [(r.action, r.license_id) for r in log_of(running, child).records if r.action == "GRANT_CONSENT"]
    assert grants == [("GRANT_CONSENT", license_id)]
    (on_hers,) = [r for r in log_of(running, mother).records if r.action == "GRANT_CONSENT"]
    (on_childs,) = [r for r in log_of(running, child).records if r.action == "GRANT_CONSENT"]
    assert but_whose([on_hers]) == but_whose([on_childs])
    assert (on_hers.relation, on_childs.relation) == ("GUARDIAN", "HOLDER")  # her child's, and the child's own
    (row,) = trail_rows(
        running, "holder_code", "action = 'GRANT_CONSENT' AND reason = :reason", reason=f"consent={hers.consent_id}"
    )
    assert row == (child,)


def test_a_guardians_consent_naming_two_licenses_names_the_guardian_as_a_co_subject(running: RunningGateway) -> None:
    """A record about two licenses names neither's co-subjects, but the guardian who granted it still."""
    mother, father = parents()
    first, child = certificate(running, mother, father)
    second, second_child = certificate(running, mother, father)
    assert second_child != child  # two children: one consent covers one holder's licenses
    code, violations = refusal(lambda: consent(running, mother, (first, second)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [(f, r) for f, r, _ in violations] == [("license_ids", "ONE_HOLDER_PER_CONSENT")]
    assert chinese_first(violations[0][2])

    newborn = f"N{uuid.uuid4().hex[:12].upper()}"  # no 公民身份号码 yet: a minor by the certificate's birth date
    one, _ = certificate(running, mother, father, child=newborn)
    two, _ = certificate(running, mother, father, child=newborn)
    granted = consent(running, father, (one, two), uses=2)
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (newborn, father)
    record = f"consent={granted.consent.consent_id}"
    (seq,) = [r.seq for r in log_of(running, father).records if r.reason == record]
    assert [r.seq for r in log_of(running, newborn).records if r.reason == record] == [seq]
    assert not [r for r in log_of(running, mother).records if r.reason == record]  # she is named on neither record
    assert [c.consent_id for c in listed(running, newborn)] == [granted.consent.consent_id]


def test_the_guardian_withdraws_the_consent_they_granted(running: RunningGateway) -> None:
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    granted = consent(running, father, (license_id,), uses=3)
    stub = authorization(running, PORTAL)
    for other in (mother, person()[0]):  # the other parent, a stranger: not theirs to withdraw
        code, _ = refusal(
            lambda other=other: stub.WithdrawConsent(
                authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=other)
            )
        )
        assert code == grpc.StatusCode.NOT_FOUND
    withdrawn = stub.WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=father)
    ).consent
    assert withdrawn.state == authorization_pb2.CONSENT_STATE_WITHDRAWN and withdrawn.guardian_code == father
    reason, _ = denied(lambda: data(running, license_id, CBDJ, member=MEDICAL, code=granted.code))
    assert reason == "CONSENT_WITHDRAWN"
    withdrawals = [r.license_id for r in log_of(running, child).records if r.action == "WITHDRAW_CONSENT"]
    assert withdrawals == [license_id]


def license_reads_listing(running: RunningGateway, code: str) -> tuple[list[int], int]:
    """The states of ``code``'s first page of consents, and how many SQL statements listing it read licenses with
    (statements of the gateway's background work are not of the licenses table)."""
    reads: list[str] = []

    def heard(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if re.search(r"\bFROM licenses\b", statement):
            reads.append(statement)

    event.listen(running.gateway.db.engine, "before_cursor_execute", heard)
    try:
        page = authorization(running, PORTAL).ListConsents(authorization_pb2.ListConsentsRequest(holder_code=code))
    finally:
        event.remove(running.gateway.db.engine, "before_cursor_execute", heard)
    return [c.state for c in page.consents], len(reads)


def test_a_page_of_guardians_consents_reads_the_licenses_they_name_at_once(running: RunningGateway) -> None:
    """Whose a guardian's consent is (the child's code lists it only when a license it names is stored under a code
    type the code tells) and whether its guardian stands were each judged by reading the consent's licenses one at a
    time, twice by the child's code: a page of 60 consents took 127 statements, by the mother's 67 (a reviewer, R2).
    The licenses a page names are read in one statement, for both, whether the page holds 3 consents or 15."""
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    active = authorization_pb2.CONSENT_STATE_ACTIVE
    for n in (3, 15):
        while len(listed(running, mother)) < n:
            consent(running, mother, (license_id,))
        seen = {code: license_reads_listing(running, code) for code in (child, mother)}
        assert seen == {child: ([active] * n, 1), mother: ([active] * n, 1)}, (n, seen)


def attempts(running: RunningGateway, code: str) -> list[tuple[str, str, str, str, str]]:
    """The refused consents on ``code``'s log: caller, license, decision, reason, matter."""
    return [
        (r.caller, r.license_id, r.decision, r.reason, r.matter_code)
        for r in log_of(running, code).records
        if r.action == "GRANT_CONSENT" and r.decision == "DENIED"
    ]


def test_a_stranger_a_spouse_and_a_parent_of_an_adult_are_refused(running: RunningGateway) -> None:
    """Each refused, and each attempt on the logs of the license's holder and co-subjects, naming the portal: what a
    leaked portal credential tries had left no trace (a privacy tester)."""
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    stranger, _ = person()
    code, violations = refusal(lambda: consent(running, stranger, (license_id,)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    ((field, reason, words),) = violations
    assert (field, reason) == ("license_ids[0]", "NOT_THE_HOLDERS_LICENSE") and chinese_first(words)
    tried = (PORTAL, license_id, "DENIED", "NOT_THE_HOLDERS_LICENSE", "370100-CBDJ-001")
    assert attempts(running, child) == attempts(running, mother) == [tried]
    assert attempts(running, stranger) == []  # the stranger's own log: no license of theirs was named

    # a 结婚证's wife is a co-subject of her husband's license, but no guardian of him
    husband, wife, marriage = couple(running)
    _, violations = refusal(lambda: consent(running, wife, (marriage,), grantee="123701009937011183",
                                            matter="370100-BDCZY-001"))  # fmt: skip
    assert [(f, r) for f, r, _ in violations] == [("license_ids[0]", "NOT_THE_HOLDERS_LICENSE")]
    assert attempts(running, husband) == [(PORTAL, marriage, "DENIED", "NOT_THE_HOLDERS_LICENSE", "370100-BDCZY-001")]

    # the child of an old certificate is of age since the day of the 18th birthday
    today = china_today()
    grown, grown_child = certificate(running, mother, father, born=years_before(today, 18) - dt.timedelta(days=1))
    _, violations = refusal(lambda: consent(running, mother, (grown,)))
    ((field, reason, words),) = violations
    assert (field, reason) == ("license_ids[0]", "NOT_A_GUARDIAN") and words.startswith("持证人已成年，须本人授权（")
    assert chinese_first(words)
    assert [a[1:4] for a in attempts(running, grown_child)] == [(grown, "DENIED", "NOT_A_GUARDIAN")]

    # a license that does not exist is on no one's log, but recorded all the same: the same write either way, so the
    # answer's time does not tell a portal whether a license exists (review)
    before = attempts(running, stranger)
    unnamed = "action = 'GRANT_CONSENT' AND decision = 'DENIED' AND license_id = '' AND caller = :p"
    trail = len(trail_rows(running, "seq", unnamed, p=PORTAL))
    never_issued = str(LicenseId.parse(license_id).next_version())  # well formed: no amendment made it
    assert refusal(lambda: consent(running, stranger, (never_issued,)))[1][0][1] == "NOT_THE_HOLDERS_LICENSE"
    assert attempts(running, stranger) == before and attempts(running, child) == [tried]
    assert len(trail_rows(running, "seq", unnamed, p=PORTAL)) == trail + 1

    # a guardian names licenses, not types (a type would cover every license of it that the child holds)
    _, violations = refusal(lambda: consent(running, mother, (license_id,), type_codes=("11100000991000019E002",)))
    assert [(f, r) for f, r, _ in violations] == [("type_codes", "GUARDIAN_NAMES_LICENSES")]


def test_a_guardians_consent_ends_by_the_childs_18th_birthday(running: RunningGateway) -> None:
    """The child is of age all of the 18th birthday, China time: a guardian's consent ends by its 00:00 at the latest.
    The words had named the birthday itself as the latest day, and a portal's end on it (23:59, or noon) was refused
    in them (a reviewer, R4): they name the very instant."""
    mother, father = parents()
    today = china_today()
    birthday = today + dt.timedelta(days=3)  # of age in three days
    license_id, child = certificate(running, mother, father, born=years_before(birthday, 18))
    _, violations = refusal(lambda: consent(running, mother, (license_id,), days=7))
    ((field, reason, words),) = violations
    assert (field, reason) == ("valid_until", "BEYOND_MINORITY") and chinese_first(words)
    assert words == (
        f"监护人代为授权的有效期不能晚于持证人年满18周岁之日的零时，即北京时间{birthday} 00:00"
        f"（a guardian's consent ends by {birthday}T00:00:00+08:00, the start of the day the holder turns 18）"
    )
    midnight = dt.datetime.combine(birthday, dt.time(), CHINA_TZ)
    for later in (dt.timedelta(microseconds=1), dt.timedelta(hours=12)):  # on the birthday: refused in those words
        _, violations = refusal(lambda later=later: until(running, mother, license_id, midnight + later))
        assert violations == [("valid_until", "BEYOND_MINORITY", words)]
    assert until(running, mother, license_id, midnight).consent.holder_code == child  # its very start is taken
    assert consent(running, mother, (license_id,), days=1).consent.holder_code == child


def until(running: RunningGateway, guardian: str, license_id: str, end: dt.datetime) -> Any:
    """A guardian's one-use consent for ``license_id`` ending at ``end``."""
    valid_until = Timestamp()
    valid_until.FromDatetime(end.astimezone(dt.UTC))
    request = authorization_pb2.GrantConsentRequest(
        holder_code=guardian,
        grantee_code=MEDICAL,
        matter_code=CBDJ.matter_code,
        license_ids=[license_id],
        valid_until=valid_until,
        uses=1,
    )
    return authorization(running, PORTAL).GrantConsent(request)


def test_a_child_under_14_consents_only_through_a_parent(running: RunningGateway) -> None:
    """个人信息保护法 第三十一条: a child under 14's information is processed with a parent's consent. A newborn's own
    code (a portal acting "for the child") had granted, with no guardian on record (a holder-portal tester): it is
    GUARDIAN_MUST_CONSENT, by the birth date of the code or of the license (a newborn with no 公民身份号码 yet),
    naming a license or a type alone (the licenses of the type it holds tell its age: a 099 code consenting by type
    had gone unchecked; found in review); from the 14th birthday (China time) the holder consents in person too."""
    mother, father = parents()
    today = china_today()
    for born, child in (
        (None, None),
        (None, "Q370000" + str(random.randrange(10**6))),
        (years_before(today, 14) + dt.timedelta(days=1), None),
    ):
        license_id, code = certificate(running, mother, father, born=born, child=child)
        for named in ({"license_ids": (license_id,)}, {"license_ids": (), "type_codes": (BIRTH_CERTIFICATE,)}):
            status, violations = refusal(lambda code=code, named=named: consent(running, code, **named))
            assert status == grpc.StatusCode.INVALID_ARGUMENT
            assert [(f, r) for f, r, _ in violations] == [("holder_code", "GUARDIAN_MUST_CONSENT")]
            assert chinese_first(violations[0][2]) and "未满14周岁" in violations[0][2]
        assert consent(running, mother, (license_id,)).consent.guardian_code == mother  # the parent, as ever
    license_id, child = certificate(running, mother, father, born=years_before(today, 14))  # 14 today
    granted = consent(running, child, (license_id,))
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (child, "")
    assert data(running, license_id, CBDJ, member=MEDICAL, code=granted.code).consent_uses_left == 0


def test_a_child_whose_citizen_id_is_also_a_credit_code_consents_only_through_a_parent(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One 公民身份号码 in 31 passes the 统一社会信用代码's check too. Such a code had been read for its birth date only
    through the holder's licenses (so that a company's credit code that reads as a child's number makes no company a
    child), and a 10-year-old who held none, consenting by type to their 居民身份证 (before it is issued), was granted
    in person and listed ACTIVE, its use then refused (a reviewer, R3). A consent naming a person's license type or
    license names the holder by 公民身份号码 (code type 111), whose birth date counts whatever else its digits pass."""
    today = china_today()
    born = years_before(today, 10)
    codes = (samples.citizen_id(seq, born, region="110105") for seq in random.sample(range(1000), 1000))
    code = next(c for c in codes if citizen_id_problem(c) is None and uscc_problem(c) is None)
    assert holder_code_types_of(code) == {"111", "001"}

    status, violations = refusal(lambda: grant(running, code))  # by type: 居民身份证, for 不动产转移登记
    assert status == grpc.StatusCode.INVALID_ARGUMENT
    assert [(f, r) for f, r, _ in violations] == [("holder_code", "GUARDIAN_MUST_CONSENT")]

    # one granted before this, as a store upgraded since may hold, is listed as a child's and refused at use
    service = running.gateway.authorization
    assert service is not None
    with monkeypatch.context() as patched:
        patched.setattr(service, "_check_consents_in_person", lambda *_, **__: None)
        granted = grant(running, code)
    (own,) = listed(running, code)
    assert (own.consent_id, own.state) == (granted.consent.consent_id, authorization_pb2.CONSENT_STATE_NEEDS_GUARDIAN)
    card = id_card(running, code, born).license.license_id
    assert denied(lambda: data(running, card, BDCZY, code=granted.code))[0] == "CONSENT_NEEDS_GUARDIAN"
    status, violations = refusal(lambda: grant(running, code, license_ids=(card,), type_codes=()))
    assert [(f, r) for f, r, _ in violations] == [("holder_code", "GUARDIAN_MUST_CONSENT")]


def amend(running: RunningGateway, license_id: str, reason: str, **fields: str) -> str:
    """Amend (变更) the certificate: the identifier of the version in force after it."""
    amended = (
        running.issuance(HEALTH)
        .AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id=f"am-{uuid.uuid4().hex}", license_id=license_id, fields=fields, reason=reason
            )
        )
        .license
    )
    assert amended.license_id != license_id
    return str(amended.license_id)


def test_no_certificate_names_a_woman_father_or_a_parent_born_after_the_child(running: RunningGateway) -> None:
    """Such a "parent" had been issued, and could consent for the child (an issuer tester). The issue and the
    amendment are refused, naming the field; nothing is changed, and the person named cannot consent."""
    mother, father = parents()
    woman, _ = person("女")
    code, violations = refusal(lambda: certificate(running, mother, woman))
    assert (code, [(f, r) for f, r, _ in violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("fields.father_citizen_id", "DISAGREES_WITH_PERSON")],
    )
    first, _ = certificate(running, mother, father)
    young = samples.citizen_id(2 * random.randrange(500) + 1, china_today())  # a man born today, after the child
    code, violations = refusal(lambda: amend(running, first, "更正父亲信息", father_citizen_id=young))
    assert (code, [(f, r) for f, r, _ in violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("fields.father_citizen_id", "BORN_AFTER_HOLDER")],
    )
    assert all(chinese_first(description) for _, _, description in violations)
    code, _ = refusal(lambda: consent(running, young, (first,)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT  # no guardian of the child: the amendment did not happen
    assert consent(running, father, (first,), uses=1).consent.guardian_code == father


def test_a_father_an_amendment_took_off_no_longer_consents_through_the_superseded_version(
    running: RunningGateway,
) -> None:
    """卫健委 corrects the father (更正父亲信息): the man v1 named is refused as a stranger is, naming either version;
    the mother (still named) and the new father consent, naming either, and their consent reads the version in
    force only."""
    mother, father = parents()
    first, child = certificate(running, mother, father)
    new_father, _ = person("男")
    current = amend(running, first, "更正父亲信息", father_citizen_id=new_father, father_name="王强")

    stranger, _ = person()
    _, as_a_stranger = refusal(lambda: consent(running, stranger, (first,)))
    for named in (first, current):
        code, violations = refusal(lambda named=named: consent(running, father, (named,), uses=1))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert violations == as_a_stranger  # NOT_THE_HOLDERS_LICENSE, word for word: nothing of the amendment
    assert [(f, r) for f, r, _ in as_a_stranger] == [("license_ids[0]", "NOT_THE_HOLDERS_LICENSE")]
    assert not listed(running, father)

    hers = consent(running, mother, (first,), uses=3)  # the superseded version, naming her as the current one does
    assert (hers.consent.holder_code, hers.consent.guardian_code) == (child, mother)
    read = data(running, current, CBDJ, member=MEDICAL, code=hers.code)
    assert fields_of(read)["father_name"] == "王强" and read.consent_uses_left == 2
    # the superseded version is not read on a guardian's consent: who the guardians are is the current one's to say
    reason, _ = denied(lambda: data(running, first, CBDJ, member=MEDICAL, code=hers.code))
    assert reason == "CONSENT_GUARDIAN_ENDED"

    his = consent(running, new_father, (first,), uses=1)  # judged on the version in force, which names him
    assert (his.consent.holder_code, his.consent.guardian_code) == (child, new_father)
    assert data(running, current, CBDJ, member=MEDICAL, code=his.code).consent_uses_left == 0
    # nor is the man taken off shown the consents granted since: named by the version that still names him, the
    # grant's record had made him its co-subject (a holder-portal tester)
    grants = [r.reason for r in log_of(running, father).records if r.action == "GRANT_CONSENT"]
    assert f"consent={his.consent.consent_id}" not in grants and f"consent={hers.consent.consent_id}" not in grants
    assert f"consent={his.consent.consent_id}" in [r.reason for r in log_of(running, new_father).records]


def test_a_consent_granted_before_the_amendment_ends_when_it_takes_the_father_off(running: RunningGateway) -> None:
    mother, father = parents()
    first, child = certificate(running, mother, father)
    his = consent(running, father, (first,), uses=3)
    hers = consent(running, mother, (first,), uses=3)
    assert data(running, first, CBDJ, member=MEDICAL, code=his.code).consent_uses_left == 2

    new_father, _ = person("男")
    current = amend(running, first, "更正父亲信息", father_citizen_id=new_father, father_name="王强")
    for read in (current, first):
        reason, _ = denied(lambda read=read: data(running, read, CBDJ, member=MEDICAL, code=his.code))
        assert reason == "CONSENT_GUARDIAN_ENDED"
    (stored,) = [c for c in listed(running, father) if c.consent_id == his.consent.consent_id]
    assert stored.uses_left == 2  # a refused read uses nothing
    # listed as it would be judged at use: his has ended, hers (the amendment kept her) is active, on either list
    assert stored.state == authorization_pb2.CONSENT_STATE_GUARDIAN_ENDED
    states = {c.consent_id: c.state for c in listed(running, child)}
    assert states == {
        his.consent.consent_id: authorization_pb2.CONSENT_STATE_GUARDIAN_ENDED,
        hers.consent.consent_id: authorization_pb2.CONSENT_STATE_ACTIVE,
    }
    refusals = [r for r in log_of(running, child).records if r.reason == "CONSENT_GUARDIAN_ENDED"]
    assert sorted(r.license_id for r in refusals) == sorted((current, first))  # on the child's log

    # the mother the amendment kept still consents for the child (a newborn consents through a parent only)
    assert fields_of(data(running, current, CBDJ, member=MEDICAL, code=hers.code))["father_name"] == "王强"


def test_a_guardians_consent_ends_when_a_corrected_birth_date_makes_the_holder_of_age(
    running: RunningGateway,
) -> None:
    """A newborn without a 公民身份号码 is a minor by the certificate's 出生日期; corrected to one 18 years back, the
    consent the mother granted no longer reads (its end had been set by the birthday the grant knew)."""
    mother, father = parents()
    newborn = f"N{uuid.uuid4().hex[:12].upper()}"
    first, _ = certificate(running, mother, father, child=newborn)
    hers = consent(running, mother, (first,), uses=3)
    assert data(running, first, CBDJ, member=MEDICAL, code=hers.code).consent_uses_left == 2

    grown = years_before(china_today(), 18) - dt.timedelta(days=1)
    current = amend(running, first, "更正出生日期", birth_date=grown.isoformat())
    reason, _ = denied(lambda: data(running, current, CBDJ, member=MEDICAL, code=hers.code))
    assert reason == "CONSENT_GUARDIAN_ENDED"
    (listed_hers,) = listed(running, mother)
    assert listed_hers.state == authorization_pb2.CONSENT_STATE_GUARDIAN_ENDED and listed_hers.uses_left == 2
    withdrawn = authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=hers.consent.consent_id, holder_code=mother)
    )
    assert withdrawn.consent.state == authorization_pb2.CONSENT_STATE_WITHDRAWN  # withdrawn comes first
    # and a new grant, naming either version, is judged on the corrected one: the holder consents in person
    for named in (first, current):
        _, violations = refusal(lambda named=named: consent(running, mother, (named,)))
        assert [(f, r) for f, r, _ in violations] == [("license_ids[0]", "NOT_A_GUARDIAN")]


def consentable(running: RunningGateway, holder_code: str, child_code: str = "") -> list[str]:
    request = authorization_pb2.ListConsentableLicensesRequest(holder_code=holder_code, child_code=child_code)
    return [license.license_id for license in authorization(running, PORTAL).ListConsentableLicenses(request).licenses]


def test_a_portal_finds_the_licenses_a_parent_may_name_for_a_child(running: RunningGateway) -> None:
    """A parent's consent names the child's licenses by identifier, and a portal had no call that gave them (a
    holder-portal tester): ListConsentableLicenses with the child's code lists what GrantConsent takes, and nothing
    for anyone the version in force does not name as a parent, or for a child of age."""
    mother, father = parents()
    first, child = certificate(running, mother, father)
    assert consentable(running, mother, child) == consentable(running, father, child) == [first]
    stranger, _ = person("男")
    assert consentable(running, stranger, child) == []
    granted = consent(running, mother, tuple(consentable(running, mother, child)))
    assert granted.consent.guardian_code == mother
    grown_up, grown = certificate(running, mother, father, born=years_before(china_today(), 18))
    assert consentable(running, mother, grown) == []  # of age: consents in person
    assert consentable(running, grown) == [grown_up]  # their own, listed as the holder's
    # a child under 14 names none of its own, as GrantConsent refuses them (its listing had offered them; a tester)
    status, violations = refusal(lambda: consentable(running, child))
    assert (status, [(f, r) for f, r, _ in violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("holder_code", "GUARDIAN_MUST_CONSENT")],
    )
    # nor does a company consent to a person's certificate, whose 其他 code type takes any code (a tester)
    company = "91370100MA3C4K7L6M"
    status, violations = refusal(lambda: consent(running, company, (), type_codes=(BIRTH_CERTIFICATE,)))
    assert (status, [(f, r) for f, r, _ in violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("type_codes[0]", "TYPE_NOT_FOR_HOLDER")],
    )
    new_father, _ = person("男")
    current = amend(running, first, "更正父亲信息", father_citizen_id=new_father, father_name="王强")
    assert consentable(running, father, child) == []  # the version in force no longer names him
    assert consentable(running, new_father, child) == [current]
    # each listing of the child's is on the child's log, and the parent's who listed it
    listed = [r for r in log_of(running, new_father).records if r.action == "LIST_CONSENTABLE_LICENSES"]
    assert [(r.decision, r.reason) for r in listed] == [("LISTED", "licenses=1")]
    on_childs = [r.reason for r in log_of(running, child).records if r.action == "LIST_CONSENTABLE_LICENSES"]
    assert sorted(on_childs) == ["licenses=0"] * 2 + ["licenses=1"] * 4  # a stranger's and the man taken off's


def test_a_childs_own_consent_granted_before_its_age_could_be_told_is_refused_at_use(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consent by type under a newborn's 099 code that held no license yet told no age when granted; once its
    出生医学证明 was issued, the department read it on the newborn's own consent (found by a security tester). The
    age is judged again at use: CONSENT_NEEDS_GUARDIAN, and the parent's consent reads it."""
    mother, father = parents()
    code = "Q" + str(random.randrange(10**9, 10**10))
    granted = consent_by_type_as_before(running, code, monkeypatch)  # the use still judges it; nothing tells its age
    assert granted.consent.guardian_code == ""
    license_id, child = certificate(running, mother, father, child=code)
    assert child == code
    reason, _ = denied(lambda: data(running, license_id, CBDJ, member=MEDICAL, code=granted.code))
    assert reason == "CONSENT_NEEDS_GUARDIAN"
    # and listed so, not ACTIVE with its uses left (found in review)
    (own,) = [c for c in listed(running, code) if c.consent_id == granted.consent.consent_id]
    assert (own.state, own.uses_left) == (authorization_pb2.CONSENT_STATE_NEEDS_GUARDIAN, 1)
    hers = consent(running, mother, (license_id,))
    assert fields_of(data(running, license_id, CBDJ, member=MEDICAL, code=hers.code))["mother_name"] == "李芳"


def test_the_newborns_code_is_hidden_whole_beside_the_birth_date_it_carries(running: RunningGateway) -> None:
    """医疗保障局 (参保登记) is not given the child's 公民身份号码, but reads the birth date: the usual mask
    (3701**********0017) keeps the city and the last four and hides the district and the birth date, so with the
    birth date in the same reply about nine numbers passed the check character, one of them in the city's districts
    (a privacy auditor, D1). Beside it the code keeps no character."""
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    read = data(running, license_id, CBDJ, member=MEDICAL, code=consent(running, mother, (license_id,)).code)
    assert fields_of(read)["birth_date"] == f"{child[6:10]}-{child[10:12]}-{child[12:14]}"
    assert (read.holder_code_type, read.holder_code) == ("111", "*" * 18)


def test_the_newborns_code_is_hidden_whole_in_a_verification_beside_the_certificates_valid_from(
    running: RunningGateway,
) -> None:
    """A 出生医学证明 is issued at birth: its ``valid_from`` is the birth date or a few days after. The verification
    summary gave it beside the code masked 3701**********2735, so 医疗保障局, with no consent and no approval, rebuilt
    the number GetLicenseData hides whole (nine numbers passed the check character, one of them in the city's
    districts: a reviewer, prefill R1). Beside it the code keeps no character, under a hospital's 099 code of a
    公民身份号码's form too."""
    mother, father = parents()
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(MEDICAL))
    own = _new_child(china_today() - dt.timedelta(days=7))
    hospitals = own[:17] + ("1" if own[17] == "0" else "0")  # its form, not its check character: taken under 099
    for child in (None, hospitals):
        license_id, code = certificate(running, mother, father, child=child)
        summary = verifier.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=CBDJ, license_id=license_id))
        summary = summary.report.license
        assert summary.valid_from == f"{code[6:10]}-{code[10:12]}-{code[12:14]}"
        assert (summary.holder_code_type, summary.holder_code_masked) == ("099" if child else "111", "*" * 18)


@pytest.mark.parametrize("kind", backend_params())
def test_a_childs_own_consent_listed_as_needing_a_guardian_is_refused_at_use_of_a_license_that_tells_no_age(
    kind: str, tmp_path: Path
) -> None:
    """The listing judges a holder's own consent by the holder's code or any current license (the newborn's
    出生医学证明), the use had judged it by the license read alone: with a catalog whose 户口簿 (no birth date) may be
    held under a newborn's 099 code, the 医疗保障局 read the newborn's 户口簿 on the newborn's own consent, listed
    NEEDS_GUARDIAN (a reviewer, R3). Both judge by the same birth date now."""
    raw = json.loads(BOOTSTRAP_CATALOG.read_text(encoding="utf-8"))
    (register,) = (t for t in raw["license_types"] if t["code"] == HOUSEHOLD_REGISTER)
    register["holder_code_types"] = ["111", "099"]
    with fresh_database(kind, tmp_path) as url, clocked_gateway(tmp_path / "var", url, Catalog.from_mapping(raw)) as on:
        running = on.running
        mother, father = parents()
        code = "Q" + str(random.randrange(10**9, 10**10))
        record = household_register(code, code_type="099")
        register_id = running.issuance(POLICE).IssueLicense(issue_request(record)).license.license_id
        granted = consent(running, code, (), type_codes=(HOUSEHOLD_REGISTER,))  # nothing tells its age yet
        assert granted.consent.guardian_code == ""
        certificate(running, mother, father, child=code)  # now the birth certificate does: a week old
        (own,) = [c for c in listed(running, code) if c.consent_id == granted.consent.consent_id]
        assert own.state == authorization_pb2.CONSENT_STATE_NEEDS_GUARDIAN
        reason, _ = denied(lambda: data(running, register_id, CBDJ, member=MEDICAL, code=granted.code))
        assert reason == "CONSENT_NEEDS_GUARDIAN"
        (own,) = [c for c in listed(running, code) if c.consent_id == granted.consent.consent_id]
        assert (own.state, own.uses_left) == (authorization_pb2.CONSENT_STATE_NEEDS_GUARDIAN, 1)  # nothing spent


def test_a_certificate_revoked_for_a_wrong_earlier_birth_date_does_not_make_the_child_an_adult(
    running: RunningGateway,
) -> None:
    """A 出生医学证明 issued with a wrong birth date 15 years back, revoked and issued again with the right one (a week
    ago): the holder's age had been taken from the oldest license that told one, the revoked one, so the week-old's
    own consent was listed ACTIVE and read the right certificate (a reviewer, R1). The latest date any current license
    tells decides, and the license read counts too: a child by any record is a child."""
    mother, father = parents()
    code = "Q" + str(random.randrange(10**9, 10**10))
    wrong, _ = certificate(running, mother, father, born=years_before(china_today(), 15), child=code)
    granted = consent(running, code, (), type_codes=(BIRTH_CERTIFICATE,))  # 15 by the only record: in person
    assert granted.consent.guardian_code == ""
    running.issuance(HEALTH).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=f"st-{uuid.uuid4().hex}",
            license_id=wrong,
            action=issuance_pb2.STATUS_ACTION_REVOKE,
            reason="出生日期填写错误，作废重开",
        )
    )
    right, _ = certificate(running, mother, father, child=code)
    (own,) = [c for c in listed(running, code) if c.consent_id == granted.consent.consent_id]
    assert own.state == authorization_pb2.CONSENT_STATE_NEEDS_GUARDIAN
    reason, _ = denied(lambda: data(running, right, CBDJ, member=MEDICAL, code=granted.code))
    assert reason == "CONSENT_NEEDS_GUARDIAN"
    status, violations = refusal(lambda: consent(running, code, (right,)))
    assert (status, [r for _, r, _ in violations]) == (grpc.StatusCode.INVALID_ARGUMENT, ["GUARDIAN_MUST_CONSENT"])
    assert consent(running, mother, (right,)).consent.guardian_code == mother  # the parent consents for the child


def test_a_parents_consent_naming_only_a_childs_license_type_she_does_not_hold_is_refused(
    running: RunningGateway,
) -> None:
    """A journeys tester: a portal offering 授权：出生医学证明 sent the mother's code with the type alone; the consent
    was granted ACTIVE (已授权), though it is her own and she holds no 出生医学证明, so it let nothing through, and the
    department's read of the child's certificate was refused CONSENT_OTHER_HOLDER, telling it to ask the holder for a
    code. A type whose licenses name a holder's guardians, named alone by a person who holds none of it, is refused at
    the grant, saying to name the child's license; the type named by one who holds it is taken."""
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    code, violations = refusal(lambda: consent(running, mother, (), type_codes=(BIRTH_CERTIFICATE,)))
    ((field, reason, words),) = violations
    assert (code, field, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "type_codes[0]", "GUARDIAN_NAMES_LICENSES")
    assert chinese_first(words) and "ListConsentableLicenses" in words and "child_code" in words
    assert not listed(running, mother)  # nothing granted
    granted = consent(running, mother, (license_id,))  # the child's license named: the guardian's consent
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (child, mother)

    adult = years_before(china_today(), 19)
    while True:  # parents born before the grown holder
        (mom, mom_born), (dad, dad_born) = person("女"), person("男")
        if max(mom_born, dad_born) < adult:
            break
    _, grown = certificate(running, mom, dad, born=adult)  # a grown holder's own certificate
    own = consent(running, grown, (), type_codes=(BIRTH_CERTIFICATE,))
    assert (own.consent.holder_code, own.consent.guardian_code) == (grown, "")


CSDJ = verification_pb2.UseContext(matter_code="370100-CSDJ-001", purpose="新生儿出生登记")


def status_change(running: RunningGateway, license_id: str, action: int, reason: str) -> None:
    running.issuance(HEALTH).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id="st-" + uuid.uuid4().hex, license_id=license_id, action=action, reason=reason
        )
    )


def test_a_guardians_consent_ends_while_the_certificate_naming_them_is_not_in_force(
    running: RunningGateway,
) -> None:
    """A reviewer (review consent, R4): the certificate found false and revoked (作废), the man it named kept
    consenting for the child, his consent listed ACTIVE and read under 出生登记 (the mother's 公民身份号码 in full),
    while a new grant naming it was refused LICENSE_NOT_IN_FORCE. A guardian's standing rests on the version in force
    being in force on the day, as the grant judges it: suspended, it is GUARDIAN_ENDED until resumed; revoked, for
    good."""
    mother, false_father = parents()
    first, _ = certificate(running, mother, false_father)
    his = consent(running, false_father, (first,), grantee=POLICE, matter=CSDJ.matter_code, uses=5)
    assert data(running, first, CSDJ, member=POLICE, code=his.code).consent_uses_left == 4

    status_change(running, first, issuance_pb2.STATUS_ACTION_SUSPEND, "核查出生医学证明信息")
    reason, _ = denied(lambda: data(running, first, CSDJ, member=POLICE, code=his.code))
    assert reason == "CONSENT_GUARDIAN_ENDED"
    (stored,) = listed(running, false_father)
    assert (stored.state, stored.uses_left) == (authorization_pb2.CONSENT_STATE_GUARDIAN_ENDED, 4)
    status_change(running, first, issuance_pb2.STATUS_ACTION_RESUME, "核查无误")
    assert data(running, first, CSDJ, member=POLICE, code=his.code).consent_uses_left == 3
    (stored,) = listed(running, false_father)
    assert stored.state == authorization_pb2.CONSENT_STATE_ACTIVE

    status_change(running, first, issuance_pb2.STATUS_ACTION_REVOKE, "出生医学证明信息不实，予以作废")
    reason, _ = denied(lambda: data(running, first, CSDJ, member=POLICE, code=his.code))
    assert reason == "CONSENT_GUARDIAN_ENDED"
    # the holder's log says all of it, the aside (暂停使用、吊销或撤销、注销) and what follows (review holder, R4)
    (said,) = {r.reason_words for r in log_of(running, false_father).records if r.reason == "CONSENT_GUARDIAN_ENDED"}
    assert "（暂停使用、吊销或撤销、注销），或持证人已成年" in said and said.endswith("也可本人授权）"), said
    (stored,) = listed(running, false_father)
    assert (stored.state, stored.uses_left) == (authorization_pb2.CONSENT_STATE_GUARDIAN_ENDED, 3)


def test_a_parent_under_18_is_no_guardian_who_consents(running: RunningGateway) -> None:
    """A reviewer (review consent, R3): a 12-year-old mother, refused her own consent (GUARDIAN_MUST_CONSENT), had
    consented for her newborn as its guardian, and the department read the certificate with it. A guardian has full
    civil capacity (民法典 第十七、二十七条): a parent the certificate names consents for the child from 18 on, by the
    birth date the parent's 公民身份号码 carries, as a holder's age is told; the other parent, of age, consents."""
    for years in (13, 17):
        born = years_before(china_today(), years) + dt.timedelta(days=30)  # not yet 13 (17) years old
        mother = samples.citizen_id(2 * random.randrange(500), born)  # even sequence: a woman
        father, _ = person("男")
        license_id, child = certificate(running, mother, father)
        code, violations = refusal(lambda license_id=license_id, mother=mother: consent(running, mother, (license_id,)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert [(f, r) for f, r, _ in violations] == [("license_ids[0]", "GUARDIAN_NOT_OF_AGE")]
        assert chinese_first(violations[0][2]) and "未满18周岁" in violations[0][2]
        assert violations[0][2].endswith("RequestAccess）")  # whole: not cut to the description's 200 characters
        assert consentable(running, mother, child) == []  # nothing listed that the grant would refuse
        assert not listed(running, mother)
        his = consent(running, father, (license_id,))
        assert (his.consent.holder_code, his.consent.guardian_code) == (child, father)
        assert fields_of(data(running, license_id, CBDJ, member=MEDICAL, code=his.code))["child_name"] == "张小明"


def test_a_parent_under_18_refused_is_on_the_logs_as_a_strangers_try_is(running: RunningGateway) -> None:
    """A reviewer (review holder, R1): GUARDIAN_NOT_OF_AGE tells a portal that the code it sent is of a parent under 18
    whom the child's certificate names, which a stranger's code (NOT_THE_HOLDERS_LICENSE) is not told, and the refusal
    was on no one's log: a misused portal credential could probe codes against a certificate and learn that a minor is
    a named mother, unseen. It is recorded as LICENSE_NAMES_NO_PARENT is: DENIED, naming the portal, on the logs of
    the child, the certificate's co-subjects (the other parent), its issuer and the trying parent, in Chinese too."""
    born = years_before(china_today(), 17) + dt.timedelta(days=30)  # not yet 17
    mother = samples.citizen_id(2 * random.randrange(500), born)  # even sequence: a woman
    father, _ = person("男")
    license_id, child = certificate(running, mother, father)
    _, violations = refusal(lambda: consent(running, mother, (license_id,)))
    assert [(f, r) for f, r, _ in violations] == [("license_ids[0]", "GUARDIAN_NOT_OF_AGE")]

    def refused(code: str, member: str = PORTAL) -> list[tuple[str, str, str, str, str, str]]:
        return [
            (r.caller, r.action, r.reason, r.reason_words, r.license_id, r.relation)
            for r in log_of(running, code, member).records
            if r.decision == "DENIED"
        ]

    said = "父亲或母亲未满18周岁，不能代为授权"
    on_log = (PORTAL, "GRANT_CONSENT", "GUARDIAN_NOT_OF_AGE", said, license_id)
    assert refused(child) == [(*on_log, "HOLDER")]
    assert refused(mother) == [(*on_log, "GUARDIAN")]  # the certificate names her as the child's mother
    assert refused(father) == [(*on_log, "GUARDIAN")]
    assert refused(child, HEALTH) == [(*on_log, "HOLDER")]  # the issuer's
    assert trail_rows(running, "reason", "decision = 'DENIED' AND license_id = :l", l=license_id) == [
        ("GUARDIAN_NOT_OF_AGE",)
    ]


def test_a_parent_is_told_the_truth_about_a_childs_license_that_names_no_parent(running: RunningGateway) -> None:
    """A reviewer (review consent, R2): a 10-year-old's own consent was refused GUARDIAN_MUST_CONSENT, its words
    telling a parent to consent naming the child's licenses; the mother who did so for the child's 居民身份证 was
    refused NOT_THE_HOLDERS_LICENSE, as a stranger is, and her try put on the child's log as a misused portal's. A
    parent consents only through a license that names them (the guardianship model: a 居民身份证 names no parent, and
    the policy judges a guardian's consent on the license read); the words now say so and that such a license needs
    the issuer's approval, and the parent a current license of the child names is told LICENSE_NAMES_NO_PARENT,
    not logged as a stranger."""
    mother, father = parents()
    born = years_before(china_today(), 10)
    _, child = certificate(running, mother, father, born=born)
    card = id_card(running, child, born).license.license_id

    _, violations = refusal(lambda: grant(running, child, type_codes=(samples.ID_CARD,)))
    assert [(f, r) for f, r, _ in violations] == [("holder_code", "GUARDIAN_MUST_CONSENT")]
    assert "出生医学证明" in violations[0][2] and violations[0][2].endswith("RequestAccess）")  # whole

    code, violations = refusal(lambda: grant(running, mother, license_ids=(card,), type_codes=()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [(f, r) for f, r, _ in violations] == [("license_ids[0]", "LICENSE_NAMES_NO_PARENT")]
    assert chinese_first(violations[0][2]) and violations[0][2].endswith("RequestAccess）")
    assert "本人" not in violations[0][2]  # a child under 14 does not consent in person
    # a parent's try, recorded as one (review consentfix, R2): the answer tells whom the child's licenses name as
    # parent, and a misused portal credential asking it of any code had left no trace
    refused = [(r.action, r.reason, r.license_id) for r in log_of(running, child).records if r.decision == "DENIED"]
    assert refused == [("GRANT_CONSENT", "LICENSE_NAMES_NO_PARENT", card)]
    hers = [(r.action, r.reason, r.license_id) for r in log_of(running, mother).records if r.decision == "DENIED"]
    assert hers == [("GRANT_CONSENT", "LICENSE_NAMES_NO_PARENT", card)]
    # her child's card (您孩子的居民身份证), tried as the child's parent: it states nothing of her, and had been
    # CO_SUBJECT, which a portal says 载明您信息的居民身份证 (review holder, R3)
    whose = {(r.relation, r.consent_granted_by) for r in log_of(running, mother).records if r.decision == "DENIED"}
    assert whose == {("GUARDIAN", "")}
    assert {r.relation for r in log_of(running, child).records if r.decision == "DENIED"} == {"HOLDER"}
    assert [r.reason_words for r in log_of(running, child).records if r.decision == "DENIED"] == [
        "父母代为授权所指的证照未载明父母"
    ]
    assert trail_rows(running, "reason", "decision = 'DENIED' AND license_id = :l", l=card) == [
        ("LICENSE_NAMES_NO_PARENT",)
    ]
    stranger, _ = person("女")
    _, violations = refusal(lambda: grant(running, stranger, license_ids=(card,), type_codes=()))
    assert [(f, r) for f, r, _ in violations] == [("license_ids[0]", "NOT_THE_HOLDERS_LICENSE")]  # as before
    assert [r.reason for r in log_of(running, child).records if r.decision == "DENIED"] == [
        "NOT_THE_HOLDERS_LICENSE",
        "LICENSE_NAMES_NO_PARENT",
    ]


def test_a_parent_naming_the_card_of_a_child_of_14_is_told_the_child_may_consent(running: RunningGateway) -> None:
    """A child of 14 to 17 consents in person; the refusal of a parent naming the child's 居民身份证 had said only that
    the department must ask the issuer (review consentfix, R2)."""
    mother, father = parents()
    born = years_before(china_today(), 15)
    _, child = certificate(running, mother, father, born=born)
    card = id_card(running, child, born).license.license_id
    _, violations = refusal(lambda: grant(running, mother, license_ids=(card,), type_codes=()))
    assert [(f, r) for f, r, _ in violations] == [("license_ids[0]", "LICENSE_NAMES_NO_PARENT")]
    assert chinese_first(violations[0][2]) and "本人授权" in violations[0][2] and "in person" in violations[0][2]
    assert violations[0][2].endswith("RequestAccess）")
    own = grant(running, child, license_ids=(card,), type_codes=())  # as the words say
    assert (own.consent.holder_code, own.consent.guardian_code) == (child, "")


def test_the_remedy_for_a_minors_license_names_whoever_may_consent(running: RunningGateway) -> None:
    """A reviewer (review scen1, R1): the remedy of a read needing authorisation told every clerk to ask the holder
    for a consent code, a newborn's and a 10-year-old's too, whose own consent is refused GUARDIAN_MUST_CONSENT, and
    for a child's 居民身份证, which no parent may consent for either, the issuer's approval is the only way. It now
    names whoever may consent for the license's holder: a parent the license names for a child under 14, no one for
    a license that names no parent, the holder or a parent from 14 to 17, the holder alone for an adult."""
    police = f"向发证部门济南市公安局（{POLICE}）申请审批"
    health = f"向发证部门济南市卫生健康委员会（{HEALTH}）申请审批"
    by_parent = (
        f"{health}，或请持证人的父亲或母亲（出生医学证明载明的监护人）代为出具用证码（ask the issuer {HEALTH} for an "
        "approval, RequestAccess, or a parent this license names for a consent code, GrantConsent: the holder is "
        "under 14）"
    )
    no_one = (
        f"{police}；持证人未满14周岁，不能本人授权，此类证照也不能由父母代为授权（ask the issuer {POLICE} for an "
        "approval, RequestAccess: the holder is under 14 and cannot consent, nor can a parent for this type of "
        "license）"
    )

    def remedies(certificate_id: str, card_id: str) -> tuple[str, str]:
        _, of_certificate = denied(lambda: data(running, certificate_id, CBDJ, member=MEDICAL))
        _, of_card = denied(lambda: data(running, card_id, BDCZY))
        return of_certificate["remedy"], of_card["remedy"]

    mother, father = parents()
    born = years_before(china_today(), 10)
    certificate_id, child = certificate(running, mother, father, born=born)
    card = id_card(running, child, born).license.license_id
    assert remedies(certificate_id, card) == (by_parent, no_one)
    # the words are those ListHolderLicenses lists, and the portal's try as the words say succeeds
    listed_card = sharing(running, REAL_ESTATE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=BDCZY, holder_code_type="111", holder_code=child)
    )
    assert [entry.remedy for entry in listed_card.licenses] == [no_one]
    assert consent(running, mother, (certificate_id,)).consent.guardian_code == mother

    newborn = f"N{uuid.uuid4().hex[:12].upper()}"  # a newborn under a 099 code: its age told by the certificate
    at_birth, _ = certificate(running, mother, father, child=newborn)
    _, told = denied(lambda: data(running, at_birth, CBDJ, member=MEDICAL))
    assert told["remedy"] == by_parent

    born = years_before(china_today(), 15)
    certificate_id, teenager = certificate(running, mother, father, born=born)
    card = id_card(running, teenager, born).license.license_id
    assert remedies(certificate_id, card) == (
        f"{health}，或请持证人本人或其父亲、母亲（出生医学证明载明的监护人）出具用证码（ask the issuer {HEALTH} for an "
        "approval, RequestAccess, or the holder or a parent this license names for a consent code, GrantConsent）",
        f"{police}，或请持证人出具用证码（ask the issuer {POLICE} for an approval, RequestAccess, or the holder for a "
        "consent code, GrantConsent）",
    )
    assert grant(running, teenager, license_ids=(card,), type_codes=()).consent.guardian_code == ""


def test_the_remedy_for_a_childs_certificate_no_parent_may_consent_for_now_says_why(running: RunningGateway) -> None:
    """A reviewer (review fixrevshare, R1): a 10-year-old's 出生医学证明 amended since (更正出生地点), read by the old
    version's identifier, was refused with 此证照也无父母可代为授权, though it names both parents and the mother's
    consent reads the version in force; with her code the message said to read the version in force and the remedy
    that no parent could consent. A suspended newborn's certificate said the same. The remedy now says why: the
    version is superseded, the license is not in force, or no parent it names is of age."""
    health = f"向发证部门济南市卫生健康委员会（{HEALTH}）申请审批；持证人未满14周岁，不能本人授权，"
    approval = f"（ask the issuer {HEALTH} for an approval, RequestAccess: the holder is under 14; "
    superseded = (
        f"{health}此为旧版本，父母可对现行版本代为出具用证码{approval}this version is superseded: a parent "
        "consents for the version in force）"
    )
    mother, father = parents()
    first, _ = certificate(running, mother, father, born=years_before(china_today(), 10))
    current = amend(running, first, "更正出生地点", birth_place="370103")
    _, told = denied(lambda: data(running, first, CBDJ, member=MEDICAL))
    assert told["remedy"] == superseded
    hers = consent(running, mother, (first,), uses=2)
    reason, told = denied(lambda: data(running, first, CBDJ, member=MEDICAL, code=hers.code))
    assert (reason, told["remedy"]) == ("CONSENT_GUARDIAN_ENDED", superseded)
    assert data(running, current, CBDJ, member=MEDICAL, code=hers.code).consent_uses_left == 1  # as the words say
    _, told = denied(lambda: data(running, current, CBDJ, member=MEDICAL))
    assert "代为出具用证码" in told["remedy"] and "旧版本" not in told["remedy"]

    newborn = f"N{uuid.uuid4().hex[:12].upper()}"
    at_birth, _ = certificate(running, mother, father, child=newborn)
    status_change(running, at_birth, issuance_pb2.STATUS_ACTION_SUSPEND, "核查出生医学证明信息")
    _, told = denied(lambda: data(running, at_birth, CBDJ, member=MEDICAL))
    assert told["remedy"] == (
        f"{health}此证照现不在有效状态，父母不能代为授权{approval}this license is not in force: no parent may consent "
        "for it now）"
    )

    young = years_before(china_today(), 16)
    girl, boy = (
        samples.citizen_id(2 * random.randrange(500), young),
        samples.citizen_id(2 * random.randrange(500) + 1, young),
    )
    of_minors, _ = certificate(running, girl, boy)
    _, told = denied(lambda: data(running, of_minors, CBDJ, member=MEDICAL))
    assert told["remedy"] == (
        f"{health}载明的父母均未满18周岁，不能代为授权{approval}no parent this license names is of age to consent）"
    )


def test_the_refusal_of_a_childs_license_does_not_send_the_clerk_to_the_child(running: RunningGateway) -> None:
    """A reviewer (review fixrevshare, R2): beside a remedy saying a 10-year-old cannot consent, the message said
    需发证部门审批或持证人授权, and CONSENT_GUARDIAN_ENDED said to ask 持证人本人. Both are neutral now."""

    def message(call: Any) -> tuple[str, str]:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        return error_details(caught.value)[0].reason, caught.value.details()

    mother, father = parents()
    first, _ = certificate(running, mother, father, born=years_before(china_today(), 10))
    reason, said = message(lambda: data(running, first, CBDJ, member=MEDICAL))
    assert reason == "NEEDS_AUTHORIZATION" and said.startswith("出生医学证明：有条件共享，需发证部门审批或用证授权（")
    assert "持证人授权" not in said and "holder's consent" not in said
    hers = consent(running, mother, (first,))
    amend(running, first, "更正出生地点", birth_place="370103")
    reason, said = message(lambda: data(running, first, CBDJ, member=MEDICAL, code=hers.code))
    assert reason == "CONSENT_GUARDIAN_ENDED" and "请持证人本人" not in said
    assert "请读取现行版本，或请现行有效版本载明的已成年监护人重新授权（持证人年满14周岁的，也可本人授权）" in said


def test_the_remedy_tells_no_age_to_a_matter_that_reads_neither_the_birth_date_nor_the_code(
    running: RunningGateway,
) -> None:
    """A reviewer (review fixrevshare, R3): a 10-year-old's 户口簿, read by license_id under 参保登记, whose material
    lists neither the birth date nor the holder's code, was refused with 持证人未满14周岁: the caller learnt the
    holder's age band, and a 16-year-old's gave other words. Both now give one neutral sentence; a listing that
    names the holder's code still says who may consent."""

    def issued_register(code: str) -> str:
        return str(running.issuance(POLICE).IssueLicense(issue_request(household_register(code))).license.license_id)

    neutral = (
        f"向发证部门济南市公安局（{POLICE}）申请审批，或请有权授权的人（持证人本人，或未成年持证人的监护人）出具用证码"
        f"（ask the issuer {POLICE} for an approval, RequestAccess, or whoever may consent for the holder for a "
        "consent code, GrantConsent）"
    )
    child = _new_child(years_before(china_today(), 10))
    teenager = _new_child(years_before(china_today(), 16))
    for code in (child, teenager):
        _, told = denied(lambda code=code: data(running, issued_register(code), CBDJ, member=MEDICAL))
        assert told["remedy"] == neutral
    listed = sharing(running, MEDICAL).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=CBDJ, holder_code_type="111", holder_code=child)
    )
    assert [e.remedy for e in listed.licenses if "未满14周岁" in e.remedy]  # the caller named the code


def test_the_remedy_names_only_the_parent_who_may_consent(running: RunningGateway) -> None:
    """A reviewer (review fixrevshare, R5): a newborn's certificate naming a 16-year-old mother and an adult father
    gave 请持证人的父亲或母亲…代为出具用证码, though the mother's grant is refused GUARDIAN_NOT_OF_AGE. The remedy names
    the parent who may consent, by the field, never by the code."""
    health = f"向发证部门济南市卫生健康委员会（{HEALTH}）申请审批"
    young_mother = samples.citizen_id(2 * random.randrange(500), years_before(china_today(), 16))
    father, _ = person("男")
    license_id, _ = certificate(running, young_mother, father)
    _, told = denied(lambda: data(running, license_id, CBDJ, member=MEDICAL))
    assert told["remedy"] == (
        f"{health}，或请持证人的父亲（出生医学证明载明的监护人）代为出具用证码（ask the issuer {HEALTH} for an "
        "approval, RequestAccess, or the father this license names for a consent code, GrantConsent: the holder is "
        "under 14）"
    )
    assert father not in told["remedy"] and young_mother not in told["remedy"]
    assert consent(running, father, (license_id,)).consent.guardian_code == father  # as the words say


def test_a_guardians_consent_refused_is_said_to_be_the_guardians_in_the_trail(running: RunningGateway) -> None:
    """The refusal of a read on the mother's consent for her newborn said 监护人代为授权次数已用完 and
    监护人已撤回代为授权, but its access record kept the reason code alone, and the trail (the holder's log, the
    mother's, the issuer's) said 持证人授权次数已用完 and 持证人已撤回授权 (left alone in session 53). The record keeps
    whether the consent was a guardian's, and the trail says the guardian's words, of GetLicenseData's and
    PrefillForm's refusals alike; a holder's own consent refused is said as before."""

    def refusals(code: str, member: str = PORTAL) -> list[tuple[str, str, str]]:
        return [
            (r.action, r.reason, r.reason_words)
            for r in log_of(running, code, member).records
            if r.decision == "DENY" and r.reason.startswith("CONSENT_")
        ]

    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    once = consent(running, mother, (license_id,), uses=1)
    data(running, license_id, CBDJ, member=MEDICAL, code=once.code)
    denied(lambda: data(running, license_id, CBDJ, member=MEDICAL, code=once.code))
    withdrawn = consent(running, father, (license_id,), uses=3)
    authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=withdrawn.consent.consent_id, holder_code=father)
    )
    denied(lambda: data(running, license_id, CBDJ, member=MEDICAL, code=withdrawn.code))
    sharing(running, MEDICAL).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=CBDJ, holder_code_type="111", holder_code=child, field_keys=["child_name"], consent_code=withdrawn.code
        )
    )
    guardians = [
        ("PREFILL_FORM", "CONSENT_WITHDRAWN", "监护人已撤回代为授权"),
        ("GET_LICENSE_DATA", "CONSENT_WITHDRAWN", "监护人已撤回代为授权"),
        ("GET_LICENSE_DATA", "CONSENT_USED_UP", "监护人代为授权次数已用完"),
    ]
    assert refusals(child) == guardians  # the holder's log
    assert refusals(mother) == guardians  # the mother's, who the certificate names
    assert refusals(child, HEALTH) == guardians  # the issuer's
    rows = trail_rows(running, "reason, by_guardian", "license_id = :id AND decision = 'DENY'", id=license_id)
    assert sorted(rows) == [("CONSENT_USED_UP", True), ("CONSENT_WITHDRAWN", True), ("CONSENT_WITHDRAWN", True)]

    # a holder's own consent refused is the holder's, as before, and so recorded
    adult, born = person()
    card = id_card(running, adult, born).license.license_id
    own = grant(running, adult, license_ids=(card,), type_codes=())
    data(running, card, BDCZY, code=own.code)
    denied(lambda: data(running, card, BDCZY, code=own.code))
    assert refusals(adult) == [("GET_LICENSE_DATA", "CONSENT_USED_UP", "持证人授权次数已用完")]
    rows = trail_rows(running, "by_guardian", "license_id = :id AND decision = 'DENY'", id=card)
    assert rows == [(False,)]


def refused_words(call: Any) -> tuple[str, str]:
    """The reason and the words of ``call`` refused PERMISSION_DENIED."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    return error_details(caught.value)[0].reason, caught.value.details()


def assert_withdrawn_said(running: RunningGateway, license_id: str, child: str, code: str, words: str) -> None:
    """A read, a form and a listing of the child's 出生医学证明 with the withdrawn consent ``code``: each refused
    CONSENT_WITHDRAWN in ``words``."""
    said = ("CONSENT_WITHDRAWN", f"出生医学证明：{words}")
    assert refused_words(lambda: data(running, license_id, CBDJ, member=MEDICAL, code=code)) == said
    stub = sharing(running, MEDICAL)
    form = stub.PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=CBDJ, holder_code_type="111", holder_code=child, field_keys=["child_name"], consent_code=code
        )
    )
    assert [(u.reason, u.detail) for u in form.unfilled] == [said]
    listing = stub.ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=CBDJ, holder_code_type="111", holder_code=child, consent_code=code)
    )
    assert [(e.reason, e.detail) for e in listing.licenses] == [said]


def test_a_guardians_consent_the_child_withdrew_is_said_to_be_withdrawn_by_the_holder(running: RunningGateway) -> None:
    """A reviewer (review holder, R2): the mother granted a consent for her 15-year-old, who withdrew it with her own
    code (WithdrawConsent takes either code), and departments were told 监护人已撤回代为授权 (the guardian withdrew
    it): the words were chosen from who granted it, and the store kept no word of who withdrew. The consent now keeps
    who withdrew it (schema 0044, ``Consent.withdrawn_by``), and the refusal, PrefillForm's unfilled keys,
    ListHolderLicenses and the trail say the holder's words when the holder withdrew, the guardian's when the
    guardian did."""

    def refusals(code: str, member: str = PORTAL) -> list[tuple[str, str, str]]:
        return [
            (r.action, r.reason, r.reason_words)
            for r in log_of(running, code, member).records
            if r.decision == "DENY" and r.reason == "CONSENT_WITHDRAWN"
        ]

    def withdraw(consent_id: str, by: str) -> authorization_pb2.Consent:
        return (
            authorization(running, PORTAL)
            .WithdrawConsent(authorization_pb2.WithdrawConsentRequest(consent_id=consent_id, holder_code=by))
            .consent
        )

    mother, father = parents()
    license_id, child = certificate(running, mother, father, born=years_before(china_today(), 15))
    granted = consent(running, mother, (license_id,), uses=3)
    assert granted.consent.guardian_code == mother
    answered = withdraw(granted.consent.consent_id, child)  # the 15-year-old withdraws it, with her own code
    assert answered.state == authorization_pb2.CONSENT_STATE_WITHDRAWN and answered.withdrawn_by == child
    (hers,) = listed(running, mother)  # and ListConsents tells the mother who withdrew it
    assert (hers.consent_id, hers.withdrawn_by) == (granted.consent.consent_id, child)
    assert [c.withdrawn_by for c in listed(running, child)] == [child]

    assert_withdrawn_said(
        running, license_id, child, granted.code, "持证人已撤回授权（the holder withdrew the consent）"
    )
    holders = [
        ("PREFILL_FORM", "CONSENT_WITHDRAWN", "持证人已撤回授权"),
        ("GET_LICENSE_DATA", "CONSENT_WITHDRAWN", "持证人已撤回授权"),
    ]
    assert refusals(child) == holders  # the holder's log
    assert refusals(mother) == holders  # the mother's: she did not withdraw it
    assert refusals(child, HEALTH) == holders  # the issuer's
    rows = trail_rows(running, "reason, by_guardian", "license_id = :id AND decision = 'DENY'", id=license_id)
    assert rows == [("CONSENT_WITHDRAWN", False), ("CONSENT_WITHDRAWN", False)]

    # the father's consent for her, withdrawn by him: the guardian's words, as before
    his = consent(running, father, (license_id,), uses=3)
    assert withdraw(his.consent.consent_id, father).withdrawn_by == father
    assert refused_words(lambda: data(running, license_id, CBDJ, member=MEDICAL, code=his.code)) == (
        "CONSENT_WITHDRAWN",
        "出生医学证明：监护人已撤回代为授权（the guardian withdrew the consent they granted）",
    )
    assert refusals(child)[0] == ("GET_LICENSE_DATA", "CONSENT_WITHDRAWN", "监护人已撤回代为授权")
    assert [c.withdrawn_by for c in listed(running, father)] == [father]
    assert not [c for c in listed(running, child) if c.state != authorization_pb2.CONSENT_STATE_WITHDRAWN]


@pytest.mark.parametrize("kind", backend_params())
def test_the_remedy_tells_no_age_to_a_matter_that_reads_only_a_parents_number(kind: str, tmp_path: Path) -> None:
    """A matter whose material for the 出生医学证明 lists only the mother's name and 公民身份号码 was told the child's
    age band (…请持证人的父亲或母亲…代为出具用证码…the holder is under 14): the remedy counted any 公民身份号码 field
    as one telling the holder's age, a parent's too (left alone in session 53). Only the holder's own identifying
    field counts: such a matter gets the neutral sentence, while one reading the holder's own number, a child's
    居民身份证's or one of a 结婚证's two numbers (one of which is the holder's), is told as before."""
    raw = json.loads(BOOTSTRAP_CATALOG.read_text(encoding="utf-8"))
    (cbdj,) = (m for m in raw["matters"] if m["code"] == CBDJ.matter_code)
    (material,) = (m for m in cbdj["materials"] if m["type_code"] == BIRTH_CERTIFICATE)
    material["fields"] = ["mother_name", "mother_citizen_id"]
    neutral = (
        f"向发证部门济南市卫生健康委员会（{HEALTH}）申请审批，或请有权授权的人（持证人本人，或未成年持证人的监护人）"
        f"出具用证码（ask the issuer {HEALTH} for an approval, RequestAccess, or whoever may consent for the holder "
        "for a consent code, GrantConsent）"
    )
    with fresh_database(kind, tmp_path) as url, clocked_gateway(tmp_path / "var", url, Catalog.from_mapping(raw)) as on:
        running = on.running
        mother, father = parents()
        for born in (years_before(china_today(), 10), years_before(china_today(), 16)):
            license_id, _ = certificate(running, mother, father, born=born)
            _, told = denied(lambda license_id=license_id: data(running, license_id, CBDJ, member=MEDICAL))
            assert told["remedy"] == neutral
        newborn = f"N{uuid.uuid4().hex[:12].upper()}"  # a 099 code: the certificate itself is what tells the age
        at_birth, _ = certificate(running, mother, father, child=newborn)
        _, told = denied(lambda: data(running, at_birth, CBDJ, member=MEDICAL))
        assert told["remedy"] == neutral

        # the holder's own number is read under 不动产转移登记: a child's card, and a 结婚证's two numbers
        child = _new_child(years_before(china_today(), 10))
        card = id_card(running, child, years_before(china_today(), 10)).license.license_id
        _, of_card = denied(lambda: data(running, card, BDCZY))
        assert "持证人未满14周岁，不能本人授权" in of_card["remedy"]
        *_, marriage_id = couple(running)
        _, of_marriage = denied(lambda: data(running, marriage_id, BDCZY))
        assert "，或请持证人出具用证码（" in of_marriage["remedy"]


def test_a_guardians_consent_refused_is_said_to_be_the_guardians(running: RunningGateway) -> None:
    """A reviewer (review scen1, R2): the mother's one-use consent for her newborn, read twice, was refused as
    持证人授权次数已用完, and the father's, withdrawn, as 持证人已撤回授权: the newborn had used it up or withdrawn it.
    A consent a parent granted is now said to be the guardian's, in GetLicenseData's refusal, PrefillForm's unfilled
    keys and ListHolderLicenses; a holder's own is said as before."""

    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    once = consent(running, mother, (license_id,), uses=1)
    data(running, license_id, CBDJ, member=MEDICAL, code=once.code)
    assert refused_words(lambda: data(running, license_id, CBDJ, member=MEDICAL, code=once.code)) == (
        "CONSENT_USED_UP",
        "出生医学证明：监护人代为授权次数已用完（the guardian's consent is used up）",
    )

    thrice = consent(running, father, (license_id,), uses=3)
    authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=thrice.consent.consent_id, holder_code=father)
    )
    withdrawn = "监护人已撤回代为授权（the guardian withdrew the consent they granted）"
    assert_withdrawn_said(running, license_id, child, thrice.code, withdrawn)

    # a holder's own consent is the holder's, as before
    adult, born = person()
    card = id_card(running, adult, born).license.license_id
    own = grant(running, adult, license_ids=(card,), type_codes=())
    data(running, card, BDCZY, code=own.code)
    assert refused_words(lambda: data(running, card, BDCZY, code=own.code)) == (
        "CONSENT_USED_UP",
        "居民身份证：持证人授权次数已用完（the holder's consent is used up）",
    )


@pytest.mark.parametrize("days", [7, 10 * 366], ids=["7 days", "10 years"])
def test_a_childs_code_under_14_withdrawing_the_parents_consent_is_said_to_be_the_guardians_act(
    running: RunningGateway, days: int
) -> None:
    """A reviewer (review fixrev3, R1): the portal withdrew the mother's consent for her 7-day-old (and for a
    10-year-old) with the child's code, which WithdrawConsent takes, and departments were then told
    持证人已撤回授权 (the holder withdrew it), as if a week-old baby had decided: a child under 14 does not act in
    person (GUARDIAN_MUST_CONSENT), so only a parent can have used that code. Under 14 on the day of the withdrawal
    (China time), the withdrawal is said in the guardian's words everywhere; ``withdrawn_by`` still names the code
    used."""
    born = china_today() - dt.timedelta(days=days) if days < 366 else years_before(china_today(), 10)
    mother, father = parents()
    license_id, child = certificate(running, mother, father, born=born)
    granted = consent(running, mother, (license_id,), uses=3)
    answered = (
        authorization(running, PORTAL)
        .WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=child)
        )
        .consent
    )
    assert answered.state == authorization_pb2.CONSENT_STATE_WITHDRAWN and answered.withdrawn_by == child
    (hers,) = listed(running, mother)
    assert hers.withdrawn_by == child

    by_guardian = "出生医学证明：监护人已撤回代为授权（the guardian withdrew the consent they granted）"
    with pytest.raises(grpc.RpcError) as caught:
        data(running, license_id, CBDJ, member=MEDICAL, code=granted.code)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (error_details(caught.value)[0].reason, caught.value.details()) == ("CONSENT_WITHDRAWN", by_guardian)
    stub = sharing(running, MEDICAL)
    form = stub.PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=CBDJ, holder_code_type="111", holder_code=child, field_keys=["child_name"], consent_code=granted.code
        )
    )
    assert [(u.reason, u.detail) for u in form.unfilled] == [("CONSENT_WITHDRAWN", by_guardian)]
    listing = stub.ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(
            use=CBDJ, holder_code_type="111", holder_code=child, consent_code=granted.code
        )
    )
    assert [(e.reason, e.detail) for e in listing.licenses] == [("CONSENT_WITHDRAWN", by_guardian)]
    for code, member in ((child, PORTAL), (mother, PORTAL), (child, HEALTH)):
        words = {r.reason_words for r in log_of(running, code, member).records if r.reason == "CONSENT_WITHDRAWN"}
        assert words == {"监护人已撤回代为授权"}, (code, member)
    rows = trail_rows(running, "reason, by_guardian", "license_id = :id AND decision = 'DENY'", id=license_id)
    assert rows == [("CONSENT_WITHDRAWN", True), ("CONSENT_WITHDRAWN", True)]


def test_the_withdrawal_record_names_whether_the_holder_or_the_guardian_withdrew(running: RunningGateway) -> None:
    """A reviewer (review fixrev3, R2): the WITHDRAW_CONSENT record said only consent=ID, so no log told the mother
    that her child withdrew her consent, and no hashed record backed the words a refusal of it then said (an
    unhashed consents.withdrawn_by decided them). The record now says by=HOLDER or by=GUARDIAN, as the words are
    chosen (review fixrev3, R1): on the chain and on every log that lists it, the parents' too."""

    def withdraw(consent_id: str, by: str) -> None:
        authorization(running, PORTAL).WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(consent_id=consent_id, holder_code=by)
        )

    def withdrawals(code: str) -> list[tuple[str, str, str]]:
        return [
            (r.decision, r.reason, r.consent_granted_by)
            for r in log_of(running, code).records
            if r.action == "WITHDRAW_CONSENT"
        ]

    mother, father = parents()
    license_id, child = certificate(running, mother, father, born=years_before(china_today(), 15))
    hers = consent(running, mother, (license_id,), uses=3).consent.consent_id
    withdraw(hers, child)  # the 15-year-old, in person
    withdraw(hers, mother)  # nothing left to withdraw: the record names who did
    his = consent(running, father, (license_id,), uses=3).consent.consent_id
    withdraw(his, father)
    holder, guardian = f"consent={hers} by=HOLDER", f"consent={his} by=GUARDIAN"
    assert withdrawals(mother) == [
        ("WITHDRAWN", guardian, "OTHER"),
        ("UNCHANGED", holder, "PERSON"),
        ("WITHDRAWN", holder, "PERSON"),
    ]
    assert withdrawals(father) == [
        ("WITHDRAWN", guardian, "PERSON"),
        ("UNCHANGED", holder, "OTHER"),
        ("WITHDRAWN", holder, "OTHER"),
    ]
    assert withdrawals(child) == [
        ("WITHDRAWN", guardian, "OTHER"),
        ("UNCHANGED", holder, "OTHER"),
        ("WITHDRAWN", holder, "OTHER"),
    ]
    rows = trail_rows(running, "reason", "action = 'WITHDRAW_CONSENT' AND holder_code = :c", c=child)
    assert sorted(rows) == sorted([(guardian,), (holder,), (holder,)])

    # a 10-year-old's code is a parent's to use: the guardian withdrew it
    mother, father = parents()
    license_id, child = certificate(running, mother, father, born=years_before(china_today(), 10))
    hers = consent(running, mother, (license_id,), uses=3).consent.consent_id
    withdraw(hers, child)
    assert withdrawals(mother) == [("WITHDRAWN", f"consent={hers} by=GUARDIAN", "PERSON")]


def hyphenated(code: str, hyphen: str = "-") -> str:
    """``code`` as people paste a 公民身份号码: region, birth date and the rest apart (370102-19920427-092X)."""
    return hyphen.join((code[:6], code[6:14], code[14:]))


def test_a_holders_code_typed_with_hyphens_is_the_code_without_them(running: RunningGateway) -> None:
    """A reviewer (review holder, R1): a 公民身份号码 or credit code pasted with hyphens, which no such code has, was
    taken as a code of 其他 (099), which may: the mother's 370102-19920427-092X listed no access records, no consents
    and no licenses of her child, with no error, and the listing was on the log of a code nobody holds. The console
    and ``VerifyLicense`` by number had already read such a code without its hyphens (``find_by_number``)."""
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    granted = consent(running, hyphenated(mother), (license_id,), uses=2)  # GrantConsent
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (child, mother)
    for typed in (hyphenated(mother), hyphenated(mother, "\uff0d"), hyphenated(mother, "\u2010")):
        assert [c.consent_id for c in listed(running, typed)] == [granted.consent.consent_id]  # ListConsents
        assert consentable(running, typed, hyphenated(child)) == [license_id]  # both codes, child_code too
        assert [r.seq for r in log_of(running, typed).records] == [r.seq for r in log_of(running, mother).records]
    assert [c.consent_id for c in listed(running, hyphenated(child))] == [granted.consent.consent_id]
    # the listings are on the mother's log and the child's, none on a code nobody holds
    assert not trail_rows(running, "seq", "holder_code LIKE :c", c=f"{mother[:6]}%-%")
    assert not trail_rows(running, "seq", "holder_code LIKE :c", c=f"{child[:6]}%-%")
    withdrawn = (
        authorization(running, PORTAL)
        .WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(
                consent_id=granted.consent.consent_id, holder_code=hyphenated(mother)
            )
        )
        .consent
    )
    assert withdrawn.state == authorization_pb2.CONSENT_STATE_WITHDRAWN

    # a code that is still none once bare is refused as the code it was typed for, not listed as nobody's
    wrong = mother[:17] + ("0" if mother[17] != "0" else "1")
    status, violations = refusal(lambda: listed(running, hyphenated(wrong)))
    assert (status, [(f, r) for f, r, _ in violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("holder_code", "BAD_CHECK_CHARACTER")],
    )
    status, violations = refusal(lambda: consentable(running, mother, hyphenated(wrong)))
    assert [(f, r) for f, r, _ in violations] == [("child_code", "BAD_CHECK_CHARACTER")]

    # a hospital's own code for a newborn (其他) typed with hyphens is found by the code its licenses are under;
    # one stored with its hyphens is found by them
    hospital = f"H{random.randrange(10**14, 10**15)}"
    by_hospital, _ = certificate(running, mother, father, child=hospital)
    assert consentable(running, mother, "-".join((hospital[:5], hospital[5:9], hospital[9:]))) == [by_hospital]
    stored = f"N-{uuid.uuid4().hex[:16].upper()}"  # 18 letters and digits without its hyphen
    with_hyphen, _ = certificate(running, mother, father, child=stored)
    assert consentable(running, mother, stored) == [with_hyphen]
    assert consentable(running, father, stored.replace("-", "\uff0d")) == [with_hyphen]


def test_a_withdrawal_is_on_the_logs_its_consents_grant_is_on(running: RunningGateway) -> None:
    """A reviewer (review holder, R2): after an amendment named another father, the old father's withdrawal of his
    consent (GUARDIAN_ENDED) was on the new father's log as CO_SUBJECT, a license that states him, on a version that
    does not: its record named the version the consent names and took its co-subjects from the version in force.
    It now takes them from the version in force when the consent was granted, as its grant did, and a consent's
    records name that version, whose co-subjects they are on the logs of: a grant naming the superseded version had
    been the same CO_SUBJECT on the new father's log."""
    mother, father = parents()
    first, child = certificate(running, mother, father)
    his = consent(running, father, (first,), uses=3).consent.consent_id
    new_father, _ = person("男")
    current = amend(running, first, "更正父亲信息", father_citizen_id=new_father, father_name="王强")
    authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=his, holder_code=father)
    )

    def on_log(code: str) -> list[tuple[str, str, str, str]]:
        return [
            (r.action, r.license_id, r.relation, r.consent_granted_by)
            for r in log_of(running, code).records
            if r.reason.startswith(f"consent={his}")
        ]

    assert on_log(new_father) == []  # as the grant: the version it was granted on does not state him
    assert on_log(father) == [
        ("WITHDRAW_CONSENT", first, "GUARDIAN", "PERSON"),
        ("GRANT_CONSENT", first, "GUARDIAN", "PERSON"),
    ]
    assert on_log(mother) == [
        ("WITHDRAW_CONSENT", first, "GUARDIAN", "OTHER"),
        ("GRANT_CONSENT", first, "GUARDIAN", "OTHER"),
    ]
    assert on_log(child) == [
        ("WITHDRAW_CONSENT", first, "HOLDER", "OTHER"),
        ("GRANT_CONSENT", first, "HOLDER", "OTHER"),
    ]

    # a consent granted on the version in force since is withdrawn on the logs of those it states
    hers = consent(running, mother, (first,), uses=3).consent.consent_id
    authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=hers, holder_code=mother)
    )
    withdrawals = [
        (r.license_id, r.relation)
        for r in log_of(running, new_father).records
        if r.reason.startswith(f"consent={hers}") and r.action == "WITHDRAW_CONSENT"
    ]
    assert withdrawals == [(current, "GUARDIAN")]
    # named by the version whose co-subjects it is on the logs of, the one in force when granted, as the grant is
    grants = [(r.license_id, r.relation) for r in log_of(running, new_father).records if r.reason == f"consent={hers}"]
    assert grants == [(current, "GUARDIAN")]


def test_a_consent_says_whether_the_holder_or_a_guardian_withdrew_it(running: RunningGateway) -> None:
    """A reviewer (review holder, R3): the mother's consent for her newborn withdrawn with the newborn's code had
    ``withdrawn_by`` equal to ``holder_code``, so a portal showing who withdrew it from ``withdrawn_by`` said the
    newborn did, where the gateway, its record (by=GUARDIAN) and its refusal (监护人已撤回代为授权) say a parent
    did; to tell, the portal would have redone the gateway's age judgement. ``Consent.withdrawn_as`` says it."""

    def withdraw(consent_id: str, by: str) -> authorization_pb2.Consent:
        request = authorization_pb2.WithdrawConsentRequest(consent_id=consent_id, holder_code=by)
        return authorization(running, PORTAL).WithdrawConsent(request).consent

    def as_listed(code: str) -> dict[str, str]:
        return {c.consent_id: c.withdrawn_as for c in listed(running, code)}

    mother, father = parents()
    license_id, newborn = certificate(running, mother, father)
    hers = consent(running, mother, (license_id,), uses=3).consent.consent_id
    his = consent(running, father, (license_id,), uses=3).consent.consent_id
    assert as_listed(mother) == {hers: ""}  # not withdrawn
    answered = withdraw(hers, newborn)  # the newborn's code: only a parent uses it
    assert (answered.withdrawn_by, answered.withdrawn_as) == (newborn, "GUARDIAN")
    assert withdraw(his, father).withdrawn_as == "GUARDIAN"
    assert as_listed(newborn) == {hers: "GUARDIAN", his: "GUARDIAN"}
    assert as_listed(mother) == {hers: "GUARDIAN"}

    teen_license, teen = certificate(running, mother, father, born=years_before(china_today(), 15))
    theirs = consent(running, mother, (teen_license,), uses=3).consent.consent_id
    assert withdraw(theirs, teen).withdrawn_as == "HOLDER"  # 15: in person
    assert withdraw(theirs, mother).withdrawn_as == "HOLDER"  # a repeat: who withdrew it first
    assert as_listed(mother)[theirs] == "HOLDER"

    own, born = person()
    card = id_card(running, own, born).license.license_id
    granted = grant(running, own, license_ids=(card,), type_codes=())
    assert withdraw(granted.consent.consent_id, own).withdrawn_as == "HOLDER"


def test_a_claim_names_a_newborns_own_code_with_its_hyphens_and_a_parents_code_pasted_with_spaces(
    running: RunningGateway,
) -> None:
    """CheckClaim took a code pasted with hyphens without them whenever 18 letters and digits were left: a newborn's
    own code of 其他 that has them (ZZZZ-2026-1201-047012), claimed exactly as issued, was answered 7 and counted toward
    TOO_MANY_WRONG_CLAIMS, and so was it typed without them (a reviewer of the fixes, R1). It is claimed as typed; a
    公民身份号码 or 统一社会信用代码 pasted with hyphens or with spaces, which no such code has, without them (a clerk's
    paste in 信息比对 had been refused for its spaces: review console2, R2), its check character still checked."""
    mother, father = parents()
    child = f"ZZZZ-{random.randrange(10**4):04d}-{random.randrange(10**4):04d}-{random.randrange(10**6):06d}"
    license_id, code = certificate(running, mother, father, child=child)
    assert code == child
    stub = verification_pb2_grpc.VerificationServiceStub(running.channel(MEDICAL))
    number = running.issuance(HEALTH).GetLicense(issuance_pb2.GetLicenseRequest(license_id=license_id)).license
    claimed = {"type_code": BIRTH_CERTIFICATE, "license_number": number.license_number}

    def claim(holder: str) -> verification_pb2.CheckClaimResponse:
        return stub.CheckClaim(verification_pb2.CheckClaimRequest(use=CBDJ, holder_code=holder, **claimed))

    assert [claim(c).code for c in (child, child.lower(), f" {child} ")] == [0, 0, 0]
    assert claim(child.replace("-", "")).code == 7  # another code than the one issued

    own_id, own = certificate(running, mother, father)
    own_number = running.issuance(HEALTH).GetLicense(issuance_pb2.GetLicenseRequest(license_id=own_id))
    own_number = own_number.license.license_number
    claimed = {"type_code": BIRTH_CERTIFICATE, "license_number": own_number}
    for typed in (
        f"{own[:6]} {own[6:14]} {own[14:]}",
        f"{own[:6]}-{own[6:14]}-{own[14:]}",
        f"{own[:6]}\u3000{own[6:]}",
    ):
        assert claim(typed).code == 0, typed
    wrong = f"{own[:6]} {own[6:17]}{'1' if own[17] == '0' else '0'}"
    with pytest.raises(grpc.RpcError) as caught:
        claim(wrong)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert ("holder_code", "BAD_CHECK_CHARACTER") in error_details(caught.value)[1]
