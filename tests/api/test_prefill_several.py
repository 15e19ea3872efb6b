"""PrefillForm of a holder with several licenses of a type (several 不动产权证书, one per property): the form names the
one to fill from (``license_ids``), or the consent code presented names it; with neither, the type's keys are left
unfilled, SEVERAL_LICENSES, never filled from a guess.

A reviewer (R1): a form was filled from the newest title, its 坐落 and 不动产单元号 another property's, with nothing in
the reply saying the applicant held others; and a consent naming the title being transferred could fill nothing
(every key CONSENT_OTHER_LICENSE, its remedy asking for the consent code the clerk held), a DENY recorded against the
title the holder had not named."""

from __future__ import annotations

import uuid

import grpc
import pytest
from sqlalchemy import text

from adapters.records import issue_request
from gateway.domain.identifiers import LicenseId
from protos.zzgw.v1 import issuance_pb2, sharing_pb2
from tests.api.test_co_subjects import couple, log_of
from tests.api.test_sharing import (
    BDCZY,
    ID_CARD,
    REAL_ESTATE,
    business_license,
    grant,
    id_card,
    person,
    records_of,
    sharing,
)
from tests.conftest import CIVIL, POLICE, PORTAL, RunningGateway, descriptions, error_details, trail_rows

TITLE = "11100000991000078H001"  # 不动产权证书: conditionally shared, one per property
LAND = "11370100993701089T"  # 济南市自然资源和规划局: issues it
A_PLACE, A_UNIT = "历下区经十路1号1-101", "370102001001GB00001F00010001"
B_PLACE, B_UNIT = "市中区英雄山路2号2-202", "370103002002GB00002F00020002"
C_PLACE, C_UNIT = "槐荫区经七路3号3-303", "370104003003GB00003F00030003"
KEYS = ["姓名", "location", "unit_number"]


def title(running: RunningGateway, code: str, name: str, location: str, unit: str) -> str:
    """Issue a 不动产权证书 of the property at ``location`` to the person ``code``; its identifier."""
    record = {
        "request_id": f"bdc-{uuid.uuid4().hex}",
        "type_code": TITLE,
        "license_number": f"鲁（2024）济南市不动产权第{uuid.uuid4().int % 10**7:07d}号",
        "holder": {"name": name, "code_type": "111", "code": code},
        "issue_date": "2024-03-01",
        "fields": {
            "obligee": name,
            "obligee_id": code,
            "co_ownership": "单独所有",
            "location": location,
            "region": "370102",
            "unit_number": unit,
            "right_type": "国有建设用地使用权/房屋所有权",
            "right_nature": "出让/商品房",
            "usage": "城镇住宅用地/住宅",
            "building_area": "89.5",
        },
    }
    return str(running.issuance(LAND).IssueLicense(issue_request(record)).license.license_id)


def two_titles(running: RunningGateway) -> tuple[str, str, str, str]:
    """A person with a 居民身份证 and two titles, A issued before B: (code, card, A, B)."""
    code, born = person()
    card = id_card(running, code, born).license
    a = title(running, code, card.fields["name"], A_PLACE, A_UNIT)
    b = title(running, code, card.fields["name"], B_PLACE, B_UNIT)
    return code, card.license_id, a, b


def prefill(
    running: RunningGateway, code: str, *, consent: str = "", license_ids: tuple[str, ...] = (), keys: list[str] = KEYS
) -> sharing_pb2.PrefillFormResponse:
    return sharing(running, REAL_ESTATE).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=BDCZY,
            holder_code_type="111",
            holder_code=code,
            field_keys=keys,
            consent_code=consent,
            license_ids=list(license_ids),
        )
    )


def fails_its_check(running: RunningGateway, license_id: str) -> None:
    """Make the stored record of ``license_id`` fail its check (a seal key the check does not know: what a genuine
    SM2-sealed record on a process without SM2 is listed as, RECORD_NOT_INTACT)."""
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("UPDATE licenses SET seal_key_id = 'ffff' WHERE license_id = :id"), {"id": license_id})
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]  # at once, not in 1 s


def prefills(running: RunningGateway, code: str) -> list[tuple[str, str, str]]:
    """The holder's PREFILL_FORM records, newest first: (decision, reason's start, license)."""
    return [
        (r.decision, r.reason.split(" ")[0], r.license_id)
        for r in records_of(running, code)
        if r.action == "PREFILL_FORM"
    ]


def test_a_form_names_none_of_several_titles_unless_told_which(running: RunningGateway) -> None:
    code, card, a, b = two_titles(running)
    consent = grant(running, code, type_codes=(ID_CARD, TITLE), uses=5)
    form = prefill(running, code, consent=consent.code)
    assert [(v.key, v.license_id) for v in form.values] == [("姓名", card)]  # the one ID card, as before
    assert [(u.key, u.reason) for u in form.unfilled] == [
        ("location", "SEVERAL_LICENSES"),
        ("unit_number", "SEVERAL_LICENSES"),
    ]
    detail = form.unfilled[0].detail
    assert detail == (
        "申请人有2本有效的不动产权证书，请在 license_ids 中指明用哪一本填写（ListHolderLicenses 可列出）"
        f"（the applicant holds 2 licenses of type {TITLE} in force: name the one to fill from in license_ids, "
        "as ListHolderLicenses lists them）"
    )
    assert not form.remedy  # nothing to ask an issuer or the holder for
    assert A_PLACE not in str(form) and B_PLACE not in str(form)
    # on the holder's log, the ID card read; neither title, which no one named and nothing was read from
    assert prefills(running, code) == [("PERMIT", "filled=1/3", card)]

    for named, place, unit in ((a, A_PLACE, A_UNIT), (b, B_PLACE, B_UNIT)):
        form = prefill(running, code, consent=consent.code, license_ids=(named,))
        assert [(v.key, v.value, v.license_id) for v in form.values] == [
            ("姓名", form.values[0].value, card),
            ("location", place, named),
            ("unit_number", unit, named),
        ]
        assert not form.unfilled
        assert sorted(r[2] for r in prefills(running, code)[:2]) == sorted([card, named])


def test_a_consent_naming_one_title_fills_the_form_from_it(running: RunningGateway) -> None:
    code, _, a, b = two_titles(running)
    only_a = grant(running, code, license_ids=(a,), type_codes=(), uses=5)
    form = prefill(running, code, consent=only_a.code, keys=["location", "unit_number"])
    assert [(v.key, v.value, v.license_id) for v in form.values] == [
        ("location", A_PLACE, a),
        ("unit_number", A_UNIT, a),
    ]
    assert not form.unfilled and form.consent_id == only_a.consent.consent_id
    assert prefills(running, code) == [("PERMIT", "filled=2/2", a)]  # nothing against B, which no one named
    # the form may still name another: it is judged as named, the consent not covering it
    other = prefill(running, code, consent=only_a.code, license_ids=(b,), keys=["location"])
    assert not other.values
    assert [(u.key, u.reason) for u in other.unfilled] == [("location", "CONSENT_OTHER_LICENSE")]
    assert prefills(running, code)[0] == ("DENY", "CONSENT_OTHER_LICENSE", b)


def test_a_title_failing_its_check_still_counts_toward_several(running: RunningGateway) -> None:
    """A title in force whose record fails its check is still one of the applicant's titles in force: with two, none
    named, the form is left SEVERAL_LICENSES, not filled from the other (a reviewer, R1: the property being transferred
    failing its check had the form filled from another property's title without a word)."""
    code, _, a, b = two_titles(running)
    consent = grant(running, code, type_codes=(ID_CARD, TITLE), uses=5)
    fails_its_check(running, a)
    listed = sharing(running, REAL_ESTATE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=BDCZY, holder_code_type="111", holder_code=code)
    )
    assert [(e.license_id, e.reason) for e in listed.licenses if e.license_id == a] == [(a, "RECORD_NOT_INTACT")]
    form = prefill(running, code, consent=consent.code, keys=["location", "unit_number"])
    assert not form.values
    assert [(u.key, u.reason) for u in form.unfilled] == [
        ("location", "SEVERAL_LICENSES"),
        ("unit_number", "SEVERAL_LICENSES"),
    ]
    assert form.unfilled[0].detail.startswith("申请人有2本有效的不动产权证书，请在 license_ids 中指明")
    assert A_PLACE not in str(form) and B_PLACE not in str(form)
    assert all(r[2] not in (a, b) for r in prefills(running, code))  # neither read, neither named on the log

    # a consent naming both is no choice between them either
    both = grant(running, code, license_ids=(a, b), type_codes=(), uses=5)
    form = prefill(running, code, consent=both.code, keys=["location"])
    assert [(u.key, u.reason) for u in form.unfilled] == [("location", "SEVERAL_LICENSES")]
    assert form.unfilled[0].detail.startswith("用证码指明了申请人2本有效的不动产权证书")

    # named, each is judged on its own: B fills the form, A is said to fail its check, key by key
    form = prefill(running, code, consent=consent.code, license_ids=(b,), keys=["location"])
    assert [(v.key, v.value, v.license_id) for v in form.values] == [("location", B_PLACE, b)]
    form = prefill(running, code, consent=consent.code, license_ids=(a,), keys=["location", "unit_number"])
    assert not form.values
    assert [(u.key, u.reason) for u in form.unfilled] == [
        ("location", "RECORD_NOT_INTACT"),
        ("unit_number", "RECORD_NOT_INTACT"),
    ]


def test_the_count_of_several_is_the_titles_in_force_whatever_their_checks(running: RunningGateway) -> None:
    """Three titles, one failing its check: "3本", the same titles the rule counts (the count had included the failing
    one while the rule did not: two titles, one failing, filled the form; a reviewer, R1)."""
    code, _, a, b = two_titles(running)
    title(running, code, "x", C_PLACE, C_UNIT)
    consent = grant(running, code, type_codes=(ID_CARD, TITLE), uses=5)
    fails_its_check(running, a)
    form = prefill(running, code, consent=consent.code, keys=["location"])
    assert [(u.key, u.reason) for u in form.unfilled] == [("location", "SEVERAL_LICENSES")]
    assert form.unfilled[0].detail.startswith("申请人有3本有效的不动产权证书")
    # one of them suspended: two in force, one failing its check, still several
    running.issuance(LAND).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=f"st-{uuid.uuid4().hex}", license_id=b, action=issuance_pb2.STATUS_ACTION_SUSPEND, reason="测试"
        )
    )
    form = prefill(running, code, consent=consent.code, keys=["location"])
    assert [(u.key, u.reason) for u in form.unfilled] == [("location", "SEVERAL_LICENSES")]
    assert form.unfilled[0].detail.startswith("申请人有2本有效的不动产权证书")


def test_a_named_title_not_in_force_is_said_so_not_replaced_by_another(running: RunningGateway) -> None:
    code, _, a, b = two_titles(running)
    consent = grant(running, code, type_codes=(TITLE,), uses=5)
    running.issuance(LAND).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=f"st-{uuid.uuid4().hex}", license_id=a, action=issuance_pb2.STATUS_ACTION_SUSPEND, reason="测试"
        )
    )
    named = prefill(running, code, consent=consent.code, license_ids=(a,), keys=["location"])
    assert not named.values
    assert [(u.key, u.reason) for u in named.unfilled] == [("location", "LICENSE_NOT_IN_FORCE")]
    assert "已暂停使用" in named.unfilled[0].detail
    # named none: the one title in force fills it, as a holder with one always had
    form = prefill(running, code, consent=consent.code, keys=["location"])
    assert [(v.value, v.license_id) for v in form.values] == [(B_PLACE, b)]


def test_license_ids_are_the_holders_one_of_each_type_of_the_matter(running: RunningGateway) -> None:
    code, _, a, b = two_titles(running)
    someone_elses_card = id_card(running).license
    someone_elses, someone_elses_holder = someone_elses_card.license_id, someone_elses_card.holder.code
    company_license, uscc = business_license(running, 64)  # a type the matter does not use
    parsed = LicenseId.parse(a)
    missing = str(LicenseId(type_code=TITLE, issuer_code=parsed.issuer_code, serial="NOSUCH1", version=1))
    before = len(records_of(running, code))
    with pytest.raises(grpc.RpcError) as caught:
        prefill(running, code, license_ids=(a, "1.2.3", company_license, b, someone_elses, a))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [
        ("license_ids[1]", "INVALID_LICENSE_ID"),
        ("license_ids[2]", "NOT_USED_BY_MATTER"),
        ("license_ids[3]", "ONE_LICENSE_PER_TYPE"),  # a is named already; a named twice counts once
        ("license_ids[4]", "NOT_THE_HOLDERS_LICENSE"),
    ]
    words = descriptions(caught.value)
    assert words[("license_ids[3]", "ONE_LICENSE_PER_TYPE")] == (
        f"每类证照最多指明一本：不动产权证书已由 license_ids[0] 指明（at most one license of each type: "
        f"license_ids[0] names one of type {TITLE} already）"
    )
    assert words[("license_ids[4]", "NOT_THE_HOLDERS_LICENSE")] == (
        "这不是申请人的证照（license_ids[4] is not a license of the holder named by holder_code）"
    )
    with pytest.raises(grpc.RpcError) as caught:
        prefill(running, code, license_ids=(missing,))  # no such license: said as another's, not told apart
    assert error_details(caught.value)[1] == [("license_ids[0]", "NOT_THE_HOLDERS_LICENSE")]
    # nothing on the holder's log: none of theirs was refused (a and b were named, the call refused for the others);
    # the licenses refused are, on their holders' logs (below)
    assert len(records_of(running, code)) == before
    assert [r[1:3] for r in refused_prefills(running, uscc)] == [(company_license, "NOT_USED_BY_MATTER")]
    assert [r[1:3] for r in refused_prefills(running, someone_elses_holder)] == [
        (someone_elses, "NOT_THE_HOLDERS_LICENSE")
    ]


def refused_prefills(running: RunningGateway, code: str, member: str = PORTAL) -> list[tuple[str, str, str, str]]:
    """The refused PrefillForm calls on ``code``'s log (the holder's view, or an issuer's with ``member``): caller,
    license, reason, matter."""
    return [
        (r.caller, r.license_id, r.reason, r.matter_code)
        for r in log_of(running, code, member).records
        if r.action == "PREFILL_FORM" and r.decision == "DENIED"
    ]


def test_a_license_refused_in_license_ids_is_on_its_holders_log(running: RunningGateway) -> None:
    """A license named in ``license_ids`` and refused as another's (NOT_THE_HOLDERS_LICENSE) or of a type the matter
    does not use (NOT_USED_BY_MATTER) is recorded DENIED on the logs of its holder, its co-subjects and its issuer, as
    GetLicenseData's and the consent calls' refusals of the kind are: a department naming other people's licenses
    against a holder's code had left no trace (a reviewer, R2). An identifier no license has is on no one's log, but
    recorded all the same (on the trail alone): the same write either way."""
    code, _, a, _ = two_titles(running)
    card = id_card(running).license
    company_license, uscc = business_license(running, 64)
    parsed = LicenseId.parse(a)
    missing = str(LicenseId(type_code=TITLE, issuer_code=parsed.issuer_code, serial="NOSUCH2", version=1))
    mine = len(records_of(running, code))
    unnamed = "action = 'PREFILL_FORM' AND decision = 'DENIED' AND license_id = '' AND caller = :c"
    trail = len(trail_rows(running, "seq", unnamed, c=REAL_ESTATE))
    with pytest.raises(grpc.RpcError) as caught:
        prefill(running, code, license_ids=(card.license_id, company_license, "1.2.3"))
    assert error_details(caught.value)[1] == [
        ("license_ids[0]", "NOT_THE_HOLDERS_LICENSE"),
        ("license_ids[1]", "NOT_USED_BY_MATTER"),
        ("license_ids[2]", "INVALID_LICENSE_ID"),  # names no license: nothing to record it on
    ]
    matter = BDCZY.matter_code
    assert refused_prefills(running, card.holder.code) == [
        (REAL_ESTATE, card.license_id, "NOT_THE_HOLDERS_LICENSE", matter)
    ]
    assert refused_prefills(running, card.holder.code, POLICE) == [
        (REAL_ESTATE, card.license_id, "NOT_THE_HOLDERS_LICENSE", matter)
    ]
    assert refused_prefills(running, uscc) == [(REAL_ESTATE, company_license, "NOT_USED_BY_MATTER", matter)]
    assert len(records_of(running, code)) == mine  # the form's holder: none of theirs was named
    with pytest.raises(grpc.RpcError) as caught:
        prefill(running, code, license_ids=(missing,))
    assert error_details(caught.value)[1] == [("license_ids[0]", "NOT_THE_HOLDERS_LICENSE")]
    assert len(records_of(running, code)) == mine
    assert len(trail_rows(running, "seq", unnamed, c=REAL_ESTATE)) == trail + 1

    # the husband's 结婚证 named on his wife's form: on his log, on hers as its co-subject, and on its issuer's
    husband, wife, marriage = couple(running)
    with pytest.raises(grpc.RpcError) as caught:
        prefill(running, wife, license_ids=(marriage,), keys=["wife_citizen_id"])
    assert error_details(caught.value)[1] == [("license_ids[0]", "NOT_THE_HOLDERS_LICENSE")]
    tried = [(REAL_ESTATE, marriage, "NOT_THE_HOLDERS_LICENSE", matter)]
    assert refused_prefills(running, husband) == refused_prefills(running, wife) == tried
    assert refused_prefills(running, husband, CIVIL) == tried
