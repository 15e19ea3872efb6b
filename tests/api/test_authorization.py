"""AuthorizationService over real gRPC: access requests through the issuer's queue (approve, reject, expire), holder
consents (grant, withdraw, list), bad input, roles, and one access record for every answered call."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import event, insert, select

from gateway.bootstrap.samples import uscc
from gateway.domain.identifiers import LicenseId
from gateway.domain.model import CHINA_TZ
from gateway.domain.paging import Listing
from gateway.domain.sharing import request_deadline
from gateway.server import initialise
from gateway.services.sharing import MAX_RECORD_REASON, granted_by
from gateway.store import repositories
from gateway.store.models import AccessRequestRow, ConsentRow
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    common_pb2,
    issuance_pb2,
    sharing_pb2,
    verification_pb2,
)
from tests.api import test_sharing
from tests.api.test_audit import audit_stub, record_count
from tests.api.test_co_subjects import log_of, marriage
from tests.api.test_seal_memos import _migrate
from tests.api.test_sharing import (
    BDCZY,
    BUSINESS_LICENSE,
    COMPANY_FIELDS,
    CSSY,
    FPSL,
    ID_CARD,
    NAME_ONLY,
    PARTNER,
    PASSPORT,
    PHOTO_ONLY,
    QYKZ,
    REAL_ESTATE,
    SBZY,
    Clocked,
    authorization,
    business_license,
    data,
    denied,
    fields_of,
    grant,
    id_card,
    passport,
    person,
    person_with_x,
    records_of,
    sharing,
    wrong_check,
)
from tests.conftest import (
    ADMIN,
    CIVIL,
    MARKET,
    POLICE,
    PORTAL,
    TAX,
    RunningGateway,
    descriptions,
    error_details,
    start_gateway,
    trail_rows,
)
from tests.test_catalog_change import catalog_file, serving, settings_of

clocked = test_sharing.clocked  # the fixture: a gateway with a clock of its own

PENDING = authorization_pb2.ACCESS_REQUEST_STATE_PENDING
APPROVED = authorization_pb2.ACCESS_REQUEST_STATE_APPROVED
REJECTED = authorization_pb2.ACCESS_REQUEST_STATE_REJECTED
EXPIRED = authorization_pb2.ACCESS_REQUEST_STATE_EXPIRED
APPROVE = authorization_pb2.ACCESS_DECISION_APPROVE
REJECT = authorization_pb2.ACCESS_DECISION_REJECT
WITHDRAW = authorization_pb2.ACCESS_DECISION_WITHDRAW
ISSUER_QUEUE = authorization_pb2.ACCESS_REQUEST_VIEW_ISSUER_QUEUE
BAD_PAGE_TOKEN_WORDS = (
    "page_token: 翻页令牌无效，或不是本次查询（同一调用方、同一列表和筛选条件）上一页给出的，"
    "请不带翻页令牌从第一页重新查询"
    "（not a page token this list gave you with these filters: ask for the first page again, without page_token）"
)


def request_access(
    running: RunningGateway, member: str = REAL_ESTATE, use: verification_pb2.UseContext = BDCZY, **fields: Any
) -> authorization_pb2.AccessRequest:
    values: dict[str, Any] = {"type_code": ID_CARD, "duration_days": 30, **fields}
    return (
        authorization(running, member).RequestAccess(authorization_pb2.RequestAccessRequest(use=use, **values)).request
    )


def decide_request(
    running: RunningGateway, request_id: str, decision: int, member: str = POLICE, **fields: Any
) -> authorization_pb2.AccessRequest:
    return (
        authorization(running, member)
        .DecideAccessRequest(
            authorization_pb2.DecideAccessRequestRequest(request_id=request_id, decision=decision, **fields)
        )
        .request
    )


def queue(running: RunningGateway, member: str = POLICE, **filters: Any) -> list[authorization_pb2.AccessRequest]:
    return list(
        authorization(running, member)
        .ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(limit=500, **filters))
        .requests
    )


def refused(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str, list[tuple[str, str]]]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    info, violations = error_details(caught.value)
    return caught.value.code(), info.reason, violations


# --- access requests ------------------------------------------------------------------------------------------------


def test_denied_then_requested_approved_allowed_and_denied_again_when_the_approval_ends(clocked: Clocked) -> None:
    running, clock = clocked.running, clocked.clock
    card = id_card(running).license
    assert denied(lambda: data(running, card.license_id, BDCZY))[0] == "NEEDS_AUTHORIZATION"

    submitted = request_access(running)  # all the conditional fields the matter lists
    assert (submitted.state, submitted.requester, submitted.issuer_code) == (PENDING, REAL_ESTATE, POLICE)
    assert list(submitted.fields) == ["name", "gender", "citizen_id"]
    assert submitted.deadline.ToDatetime(dt.UTC) == request_deadline(submitted.submitted_at.ToDatetime(dt.UTC))
    assert submitted.requester_name == "济南市不动产登记中心" and submitted.type_name == "居民身份证"
    assert [r.request_id for r in queue(running, state=PENDING)] == [submitted.request_id]
    assert denied(lambda: data(running, card.license_id, BDCZY))[0] == "NEEDS_AUTHORIZATION"  # pending is no approval

    approved = decide_request(
        running, submitted.request_id, APPROVE, approved_fields=["name", "citizen_id"], duration_days=10
    )
    assert (approved.state, list(approved.approved_fields)) == (APPROVED, ["name", "citizen_id"])
    assert approved.valid_until.ToDatetime(dt.UTC) - approved.decided_at.ToDatetime(dt.UTC) == dt.timedelta(days=10)

    read = data(running, card.license_id, BDCZY)  # takes effect at the next call
    assert fields_of(read) == {"name": card.fields["name"], "citizen_id": card.holder.code}
    assert {f.basis for f in read.fields} == {sharing_pb2.SHARING_BASIS_APPROVAL}
    assert [(w.key, w.reason) for w in read.withheld] == [("gender", "FIELD_NOT_APPROVED")]
    assert list(read.approval_ids) == [submitted.request_id] and "RequestAccess" in read.remedy
    # for this caller and matter only: another consumer cannot name the matter, and one that reads ID cards for a
    # matter of its own has no approval there
    assert denied(lambda: data(running, card.license_id, BDCZY, member=MARKET))[0] == "NOT_MATTER_DEPARTMENT"
    assert denied(lambda: data(running, card.license_id, SBZY))[0] == "NEEDS_AUTHORIZATION"

    clock.advance(dt.timedelta(days=10, seconds=1))
    assert denied(lambda: data(running, card.license_id, BDCZY))[0] == "APPROVAL_EXPIRED"
    reasons = [(r.action, r.decision, r.reason) for r in records_of(running, card.holder.code)]
    assert reasons[:2] == [
        ("GET_LICENSE_DATA", "DENY", "APPROVAL_EXPIRED"),
        ("GET_LICENSE_DATA", "DENY", "NEEDS_AUTHORIZATION"),
    ]
    assert ("GET_LICENSE_DATA", "PERMIT", f"approval={submitted.request_id}") in reasons


def test_undecided_requests_expire_after_ten_working_days(clocked: Clocked) -> None:
    running, clock = clocked.running, clocked.clock
    submitted = request_access(running, duration_days=365)
    deadline = submitted.deadline.ToDatetime(dt.UTC)
    # the end (China time) of the 10th working day after the day of submission, whatever day this test runs on (a
    # submission after 16:00 UTC is on the next day in China, and one on a weekend there has a shorter wait)
    day, counted = submitted.submitted_at.ToDatetime(dt.UTC).astimezone(CHINA_TZ).date(), 0
    while counted < 10:
        day += dt.timedelta(days=1)
        counted += day.weekday() < 5
    assert deadline == dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), CHINA_TZ)
    assert dt.timedelta(days=12) < deadline - submitted.submitted_at.ToDatetime(dt.UTC) <= dt.timedelta(days=17)

    clock.advance(deadline - clock.now() - dt.timedelta(minutes=1))
    assert {r.request_id: r.state for r in queue(running)}[submitted.request_id] == PENDING
    clock.advance(dt.timedelta(minutes=2))
    listed = {r.request_id: r for r in queue(running)}[submitted.request_id]
    assert listed.state == EXPIRED and listed.decided_at == submitted.deadline
    mine = {r.request_id: r.state for r in queue(running, REAL_ESTATE)}
    assert mine[submitted.request_id] == EXPIRED

    code, reason, _ = refused(lambda: decide_request(running, submitted.request_id, APPROVE))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "REQUEST_EXPIRED")


def test_a_request_decided_at_the_last_moment_expires_on_the_call_that_finds_it_late(clocked: Clocked) -> None:
    running, clock = clocked.running, clocked.clock
    submitted = request_access(running)
    clock.advance(submitted.deadline.ToDatetime(dt.UTC) - clock.now())
    code, reason, _ = refused(lambda: decide_request(running, submitted.request_id, APPROVE))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "REQUEST_EXPIRED")
    assert {r.request_id: r.state for r in queue(running)}[submitted.request_id] == EXPIRED


def test_a_rejection_says_why_and_the_policy_reports_it(running: RunningGateway) -> None:
    card = id_card(running).license
    submitted = request_access(running, license_id=card.license_id, type_code="")
    assert (submitted.license_id, submitted.type_code, submitted.issuer_code) == (card.license_id, ID_CARD, POLICE)
    code, _, violations = refused(lambda: decide_request(running, submitted.request_id, REJECT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations == [("reason", "REQUIRED")]
    # only the owning issuer sees and decides it
    code, reason, _ = refused(lambda: decide_request(running, submitted.request_id, REJECT, member=CIVIL, reason="x"))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "ACCESS_REQUEST_NOT_FOUND")
    assert submitted.request_id not in {r.request_id for r in queue(running, CIVIL)}

    rejected = decide_request(running, submitted.request_id, REJECT, reason="用途与事项不符")
    assert (rejected.state, rejected.decision_reason) == (REJECTED, "用途与事项不符") and not rejected.approved_fields
    assert denied(lambda: data(running, card.license_id, BDCZY))[0] == "APPROVAL_REJECTED"
    code, reason, _ = refused(lambda: decide_request(running, submitted.request_id, APPROVE))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ACCESS_REQUEST_DECIDED")
    # the holder sees the request about the card and its fate
    seen = [(r.caller, r.action, r.decision) for r in records_of(running, card.holder.code)]
    assert seen[1:] == [(POLICE, "DECIDE_ACCESS_REQUEST", "REJECTED"), (REAL_ESTATE, "REQUEST_ACCESS", "SUBMITTED")]


def test_a_decisions_reason_holding_a_citizen_id_or_a_mobile_number_is_refused(running: RunningGateway) -> None:
    """The issuer clerk's reason for a rejection or a withdrawal is read by the requesting department
    (``decision_reason``): ``申请人张三 370102199908289338 材料不全`` and ``联系 13800138000`` were stored and listed to
    it, where a purpose and a clerk's name holding them are refused (a reviewer, audit R3). Refused as a purpose is,
    ``PERSONAL_DATA`` on ``reason``, and nothing is decided."""
    card = id_card(running).license
    submitted = request_access(running, license_id=card.license_id, type_code="")  # this card's alone
    for decision, reason in (
        (REJECT, "申请人张三 370102199908289338 材料不全"),
        (REJECT, "联系 13800138000"),
        (REJECT, "联系１３８ ００１３ ８０００"),  # full width, spaced, as an input method types it
        (APPROVE, "已核对，有疑问联系 +86 138-0013-8000"),
    ):
        code, _, violations = refused(partial(decide_request, running, submitted.request_id, decision, reason=reason))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("reason", "PERSONAL_DATA")]), reason
    assert {r.request_id: r.state for r in queue(running)}[submitted.request_id] == PENDING
    assert decide_request(running, submitted.request_id, APPROVE, reason="已核对").state == APPROVED
    code, _, violations = refused(
        lambda: decide_request(running, submitted.request_id, WITHDRAW, reason="持证人 370102199908289338 已撤回同意")
    )
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("reason", "PERSONAL_DATA")])
    withdrawn = decide_request(running, submitted.request_id, WITHDRAW, reason="持证人已撤回同意")
    assert (withdrawn.state, withdrawn.decision_reason) == (WITHDRAWN, "持证人已撤回同意")
    # a date and a case number are no personal data
    other = request_access(running, license_id=id_card(running).license.license_id, type_code="")
    rejected = decide_request(running, other.request_id, REJECT, reason="2026-12-07 办件 370100-20261203-0001 材料不全")
    assert rejected.state == REJECTED


def test_an_approval_for_one_license_covers_only_that_license(running: RunningGateway) -> None:
    card, other = id_card(running).license, id_card(running).license
    submitted = request_access(running, license_id=card.license_id, type_code="")
    decide_request(running, submitted.request_id, APPROVE)
    assert set(fields_of(data(running, card.license_id, BDCZY))) == {"name", "gender", "citizen_id"}
    assert denied(lambda: data(running, other.license_id, BDCZY))[0] == "NEEDS_AUTHORIZATION"


def revoke_card(running: RunningGateway, license_id: str) -> None:
    running.issuance(POLICE).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id="rv-" + uuid.uuid4().hex,
            license_id=license_id,
            action=issuance_pb2.STATUS_ACTION_REVOKE,
            reason="证件作废",
        )
    )


def test_access_to_a_license_not_in_force_is_neither_requested_nor_approved(running: RunningGateway) -> None:
    """A request naming a revoked 居民身份证 had been queued, approved without a word, and its name, gender and number
    then released, where GrantConsent refuses the card LICENSE_NOT_IN_FORCE (review access, R2)."""
    card = id_card(running).license
    revoke_card(running, card.license_id)
    before = len(queue(running))
    with pytest.raises(grpc.RpcError) as caught:
        request_access(running, license_id=card.license_id, type_code="")
    info, _ = error_details(caught.value)
    assert (caught.value.code(), info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "LICENSE_NOT_IN_FORCE")
    assert dict(info.metadata) == {"field": "license_id", "status": "REVOKED"}
    assert caught.value.details().startswith("license_id：该证照已吊销或撤销，不能申请共享，请指明持证人现行有效的证照")
    assert len(queue(running)) == before  # nothing queued
    # the attempt is on the holder's log, as the other refusals of a request naming a license are
    tried = [(r.action, r.decision, r.reason) for r in records_of(running, card.holder.code)]
    assert tried[0] == ("REQUEST_ACCESS", "DENIED", "LICENSE_NOT_IN_FORCE")
    assert denied(lambda: data(running, card.license_id, BDCZY))[0] == "NEEDS_AUTHORIZATION"

    # queued while in force, revoked before the issuer decides: not approved, left pending to be rejected
    other = id_card(running).license
    submitted = request_access(running, license_id=other.license_id, type_code="")
    revoke_card(running, other.license_id)
    with pytest.raises(grpc.RpcError) as caught:
        decide_request(running, submitted.request_id, APPROVE)
    info, _ = error_details(caught.value)
    assert (caught.value.code(), info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "LICENSE_NOT_IN_FORCE")
    assert dict(info.metadata) == {"field": "request_id", "status": "REVOKED"}
    assert "不能批准，请驳回此申请" in caught.value.details()
    assert [r.state for r in queue(running) if r.request_id == submitted.request_id] == [PENDING]
    assert denied(lambda: data(running, other.license_id, BDCZY))[0] == "NEEDS_AUTHORIZATION"
    assert decide_request(running, submitted.request_id, REJECT, reason="证件已作废").state == REJECTED
    # a type-wide request names no license, and is judged by none
    assert request_access(running).state == PENDING


def test_an_approval_reads_a_license_revoked_after_it_as_a_consent_does(running: RunningGateway) -> None:
    """What an approval given reads is unchanged by a revocation after it, as for a consent granted: the license is
    read as any read reads it, with its status in the reply (docs/api.md, What a consent may name)."""
    by_approval, by_consent = id_card(running).license, id_card(running).license
    submitted = request_access(running, license_id=by_approval.license_id, type_code="")
    decide_request(running, submitted.request_id, APPROVE)
    code = grant(running, by_consent.holder.code, license_ids=(by_consent.license_id,), type_codes=()).code
    revoke_card(running, by_approval.license_id)
    revoke_card(running, by_consent.license_id)
    approved = data(running, by_approval.license_id, BDCZY)
    consented = data(running, by_consent.license_id, BDCZY, code=code)
    for read in (approved, consented):
        assert read.status == common_pb2.LICENSE_STATUS_REVOKED
        assert set(fields_of(read)) == {"name", "gender", "citizen_id"}
    assert [f.basis for f in approved.fields] == [sharing_pb2.SHARING_BASIS_APPROVAL] * 3
    assert [f.basis for f in consented.fields] == [sharing_pb2.SHARING_BASIS_CONSENT] * 3


def test_a_read_records_every_approval_and_the_consent_it_relied_on(running: RunningGateway) -> None:
    """Two approvals let one read through (name, gender) and its record named the first alone: the trail could not
    tell which reads relied on an approval later withdrawn (review access, R3). Every grant is named, the consent
    first, within the record's reason (500 characters: on PostgreSQL too, where two identifiers passed its 64)."""
    card = id_card(running).license
    approvals = []
    for field in ("name", "gender"):
        submitted = request_access(running, license_id=card.license_id, type_code="", fields=[field])
        decide_request(running, submitted.request_id, APPROVE)
        approvals.append(submitted.request_id)
    read = data(running, card.license_id, BDCZY)
    assert list(read.approval_ids) == approvals
    assert [f.basis for f in read.fields if f.key in ("name", "gender")] == [sharing_pb2.SHARING_BASIS_APPROVAL] * 2
    where = "license_id = :l AND action = 'GET_LICENSE_DATA'"
    assert trail_rows(running, "decision, reason", where, l=card.license_id) == [
        ("PERMIT", f"approval={approvals[0]},{approvals[1]}")
    ]
    # an approval for the name, the holder's consent for the rest: both named
    other = id_card(running).license
    submitted = request_access(running, license_id=other.license_id, type_code="", fields=["name"])
    decide_request(running, submitted.request_id, APPROVE)
    granted = grant(running, other.holder.code, license_ids=(other.license_id,), type_codes=())
    read = data(running, other.license_id, BDCZY, code=granted.code)
    assert [f.basis for f in read.fields] == [
        sharing_pb2.SHARING_BASIS_APPROVAL,
        sharing_pb2.SHARING_BASIS_CONSENT,
        sharing_pb2.SHARING_BASIS_CONSENT,
    ]
    named = f"consent={granted.consent.consent_id};approval={submitted.request_id}"
    assert trail_rows(running, "decision, reason", where, l=other.license_id) == [("PERMIT", named)]
    assert named in [r.reason for r in records_of(running, other.holder.code)]  # the holder's log says it too


def test_a_form_filled_under_an_approval_names_it_in_its_record(running: RunningGateway) -> None:
    """PrefillForm's record said ``filled=N/M`` with `` consent=ID`` when a consent was used, and named nothing when
    the values were released under an issuer's approval: neither the holder's log nor an auditor could tell why the
    data flowed (left alone in session 53). It names the approvals as the consent is named, `` approval=ID1,ID2``,
    the ones GetLicenseData's record of the same read names."""
    card = id_card(running).license
    approvals = []
    for field in ("name", "citizen_id"):  # one approval per field, of this card only
        submitted = request_access(running, license_id=card.license_id, type_code="", fields=[field])
        decide_request(running, submitted.request_id, APPROVE)
        approvals.append(submitted.request_id)
    stub = sharing(running, REAL_ESTATE)
    request = sharing_pb2.PrefillFormRequest(
        use=BDCZY, holder_code_type="111", holder_code=card.holder.code, field_keys=["姓名", "公民身份号码", "性别"]
    )
    form = stub.PrefillForm(request)
    assert {v.key: v.basis for v in form.values} == {
        "姓名": sharing_pb2.SHARING_BASIS_APPROVAL,
        "公民身份号码": sharing_pb2.SHARING_BASIS_APPROVAL,
    }
    # with a consent for the field no approval covers, both are named
    granted = grant(running, card.holder.code, license_ids=(card.license_id,), type_codes=())
    request.consent_code = granted.code
    both = stub.PrefillForm(request)
    assert len(both.values) == 3 and both.consent_id == granted.consent.consent_id
    # a form of the name alone relied on the name's approval only
    stub.PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=BDCZY, holder_code_type="111", holder_code=card.holder.code, field_keys=["姓名"]
        )
    )
    prefills = [(r.decision, r.reason) for r in records_of(running, card.holder.code) if r.action == "PREFILL_FORM"]
    named = ",".join(approvals)
    assert prefills == [
        ("PERMIT", f"filled=1/1 approval={approvals[0]}"),
        ("PERMIT", f"filled=3/3 consent={granted.consent.consent_id} approval={named}"),
        ("PERMIT", f"filled=2/3 approval={named}"),
    ]
    assert list(data(running, card.license_id, BDCZY).approval_ids) == approvals  # GetLicenseData's names the same


def test_a_form_filled_from_two_issuers_licenses_names_in_each_record_its_own_approval(running: RunningGateway) -> None:
    """A form filled from two issuers' licenses leaves a record per license; each had named every approval of the
    form, another issuer's too: the 民政局's record of its 结婚证 named the 公安局's approval of the 居民身份证's name,
    which covers none of its fields, and showed it that approval (a review, fixrev1 R1). Each names its own."""
    husband, born = person("男")
    wife, _ = person("女")
    card = id_card(running, husband, born).license
    certificate = marriage(running, husband, wife)
    police = request_access(running, license_id=card.license_id, type_code="", fields=["name"])
    decide_request(running, police.request_id, APPROVE, member=POLICE)
    civil = request_access(running, license_id=certificate, type_code="", fields=["registration_date"])
    decide_request(running, civil.request_id, APPROVE, member=CIVIL)
    form = sharing(running, REAL_ESTATE).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=BDCZY, holder_code_type="111", holder_code=husband, field_keys=["姓名", "登记日期"]
        )
    )
    assert {(v.key, v.license_id, v.basis) for v in form.values} == {
        ("姓名", card.license_id, sharing_pb2.SHARING_BASIS_APPROVAL),
        ("登记日期", certificate, sharing_pb2.SHARING_BASIS_APPROVAL),
    }
    seen = {
        name: [(r.license_id, r.reason) for r in log_of(running, husband, member).records if r.action == "PREFILL_FORM"]
        for name, member in (("民政局", CIVIL), ("公安局", POLICE))
    }
    assert seen == {
        "民政局": [(certificate, f"filled=2/2 approval={civil.request_id}")],
        "公安局": [(card.license_id, f"filled=2/2 approval={police.request_id}")],
    }


def test_the_upgrade_across_0041_keeps_the_trail_and_takes_longer_reasons(store: str, tmp_path: Path) -> None:
    """A store whose records' reasons held 64 characters: `zzgw init` widens the column (SQLite rebuilds the table),
    the records stored before are kept and still verify, and a read relying on two approvals is recorded in full."""
    catalog = catalog_file(tmp_path / "catalog.json")
    with serving(tmp_path, store, catalog) as running:
        card = id_card(running).license
        approvals = []
        for field in ("name", "gender"):
            submitted = request_access(running, license_id=card.license_id, type_code="", fields=[field])
            decide_request(running, submitted.request_id, APPROVE)
            approvals.append(submitted.request_id)
        before = trail_rows(running, "seq, action, decision, reason", "1 = 1")
    _migrate(store, "0040")  # the store as the version before the wider reason left it
    initialise(settings_of(tmp_path, store, catalog))
    with serving(tmp_path, store, catalog) as running:
        assert trail_rows(running, "seq, action, decision, reason", "seq <= :s", s=before[-1][0]) == before
        data(running, card.license_id, BDCZY)
        where = "license_id = :l AND action = 'GET_LICENSE_DATA'"
        assert trail_rows(running, "reason", where, l=card.license_id) == [(f"approval={approvals[0]},{approvals[1]}",)]
        assert audit_stub(running, ADMIN).VerifyAuditLog(audit_pb2.VerifyAuditLogRequest()).ok


def test_grants_past_the_records_reason_are_counted_not_named() -> None:
    approvals = [f"{i:032x}" for i in range(20)]
    reason = granted_by("c" * 32, approvals)
    assert len(reason) <= MAX_RECORD_REASON == 500
    head, listed = reason.split(";approval=")
    assert head == "consent=" + "c" * 32
    *named, counted = listed.split(",")
    assert named == approvals[: len(named)] and counted == f"+{len(approvals) - len(named)}"
    assert (
        len(head + ";approval=" + ",".join([*approvals[: len(named) + 1], f"+{len(approvals) - len(named) - 1}"])) > 500
    )
    assert granted_by("", approvals[:2]) == f"approval={approvals[0]},{approvals[1]}"
    assert granted_by("c" * 32, ()) == "consent=" + "c" * 32
    assert granted_by("", ()) == ""


def test_an_issuer_withdraws_an_approval_and_the_next_call_shares_nothing(running: RunningGateway) -> None:
    card = id_card(running).license
    submitted = request_access(running, license_id=card.license_id, type_code="")
    code, reason, _ = refused(lambda: decide_request(running, submitted.request_id, WITHDRAW, reason="误批"))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ACCESS_REQUEST_NOT_APPROVED")  # still pending
    approved = decide_request(running, submitted.request_id, APPROVE)
    assert set(fields_of(data(running, card.license_id, BDCZY))) == {"name", "gender", "citizen_id"}
    code, _, violations = refused(lambda: decide_request(running, submitted.request_id, WITHDRAW))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations == [("reason", "REQUIRED")]
    code, reason, _ = refused(lambda: decide_request(running, submitted.request_id, WITHDRAW, member=CIVIL, reason="x"))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "ACCESS_REQUEST_NOT_FOUND")  # only its own issuer

    withdrawn = decide_request(running, submitted.request_id, WITHDRAW, reason="审批有误，撤回")
    assert (withdrawn.state, withdrawn.decision_reason) == (
        authorization_pb2.ACCESS_REQUEST_STATE_WITHDRAWN,
        "审批有误，撤回",
    )
    assert list(withdrawn.approved_fields) == list(approved.approved_fields)  # kept for the record
    assert withdrawn.decided_at.ToDatetime() >= approved.decided_at.ToDatetime()
    reason, metadata = denied(lambda: data(running, card.license_id, BDCZY))
    assert reason == "APPROVAL_WITHDRAWN" and metadata.get("remedy")  # ask again, or ask the holder
    # said again, it is answered as the first withdrawal left it (review sharing, R3)
    assert decide_request(running, submitted.request_id, WITHDRAW, reason="again") == withdrawn
    assert [r.state for r in queue(running, state=authorization_pb2.ACCESS_REQUEST_STATE_WITHDRAWN)
            if r.request_id == submitted.request_id] == [authorization_pb2.ACCESS_REQUEST_STATE_WITHDRAWN]  # fmt: skip
    seen = [(r.caller, r.action, r.decision) for r in records_of(running, card.holder.code)]
    assert (POLICE, "DECIDE_ACCESS_REQUEST", "WITHDRAWN") in seen


SUBMITTED = authorization_pb2.ACCESS_REQUEST_VIEW_SUBMITTED
BIRTH = "1110000099100006XH001"  # 出生医学证明, issued by 卫健委
HEALTH = "113701009937010623"  # 济南市卫生健康委员会
BIRTHS = verification_pb2.UseContext(matter_code="370100-CSDJ-001", purpose="新生儿出生登记")
WITHDRAWN = authorization_pb2.ACCESS_REQUEST_STATE_WITHDRAWN


def test_an_approval_that_ran_out_is_refused_and_listed_as_expired_though_an_older_one_was_withdrawn(
    clocked: Clocked,
) -> None:
    """The journeys report's finding 3: an approval for every license of the type, given and withdrawn, then one for
    this license that ran out. The refusal names the expiry (审批已过期), not the older withdrawal, and the listings
    show the approval EXPIRED from its end on."""
    running, clock = clocked.running, clocked.clock
    card = id_card(running).license
    holder = sharing_pb2.ListHolderLicensesRequest(use=NAME_ONLY, holder_code_type="111", holder_code=card.holder.code)
    wide = request_access(running, TAX, NAME_ONLY)
    decide_request(running, wide.request_id, APPROVE)
    decide_request(running, wide.request_id, WITHDRAW, reason="审批有误，撤回")
    assert denied(lambda: data(running, card.license_id, NAME_ONLY))[0] == "APPROVAL_WITHDRAWN"

    clock.advance(dt.timedelta(days=1))
    mine = request_access(running, TAX, NAME_ONLY, license_id=card.license_id, type_code="", duration_days=365)
    approved = decide_request(running, mine.request_id, APPROVE)
    end = approved.valid_until.ToDatetime(dt.UTC)
    clock.advance(end - clock.now() - dt.timedelta(seconds=1))  # its last second
    assert set(fields_of(data(running, card.license_id, NAME_ONLY))) == {"name", "gender"}
    listed = {r.request_id: r.state for r in queue(running, TAX, view=SUBMITTED)}
    assert (listed[mine.request_id], listed[wide.request_id]) == (APPROVED, WITHDRAWN)

    clock.advance(dt.timedelta(seconds=1))  # its end
    with pytest.raises(grpc.RpcError) as caught:
        data(running, card.license_id, NAME_ONLY)
    info, _ = error_details(caught.value)
    assert (caught.value.code(), info.reason) == (grpc.StatusCode.PERMISSION_DENIED, "APPROVAL_EXPIRED")
    assert (
        caught.value.details() == "居民身份证：审批已过期（the approval has expired）"
        and "RequestAccess" in info.metadata["remedy"]
    )
    (entry,) = sharing(running, TAX).ListHolderLicenses(holder).licenses
    assert (entry.access_state, entry.reason) == (test_sharing.NEEDS_AUTHORIZATION, "APPROVAL_EXPIRED")
    assert ("GET_LICENSE_DATA", "DENY", "APPROVAL_EXPIRED") in [
        (r.action, r.decision, r.reason) for r in records_of(running, card.holder.code)
    ]

    # the requester's and the issuer's listings say EXPIRED, keep what was approved, and filter by the state now
    for member, view in ((TAX, SUBMITTED), (POLICE, authorization_pb2.ACCESS_REQUEST_VIEW_ISSUER_QUEUE)):
        listed_now = {r.request_id: r for r in queue(running, member, view=view)}
        assert (listed_now[mine.request_id].state, listed_now[wide.request_id].state) == (EXPIRED, WITHDRAWN)
        assert listed_now[mine.request_id].valid_until == approved.valid_until
        assert list(listed_now[mine.request_id].approved_fields) == ["name", "gender"]
        assert mine.request_id in {r.request_id for r in queue(running, member, view=view, state=EXPIRED)}
        assert mine.request_id not in {r.request_id for r in queue(running, member, view=view, state=APPROVED)}
    # it shares nothing already: the issuer cannot withdraw it
    code, reason, _ = refused(lambda: decide_request(running, mine.request_id, WITHDRAW, reason="撤回"))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ACCESS_REQUEST_NOT_APPROVED")


def test_deciding_again_on_an_approval_past_its_end_says_it_has_expired(clocked: Clocked) -> None:
    """An approval past its end is listed EXPIRED, and a withdrawal of it says so, but approving or rejecting it again
    had said 该共享申请已获批准 (approved already), against the state on the clerk's screen (a reviewer, R3). The
    reason stays ACCESS_REQUEST_DECIDED: REQUEST_EXPIRED says a request was never decided."""
    running, clock = clocked.running, clocked.clock
    card = id_card(running).license  # an approval for this license alone: the module's other uses are not affected
    approved = request_access(running, TAX, NAME_ONLY, license_id=card.license_id, type_code="", duration_days=2)
    decide_request(running, approved.request_id, APPROVE)
    clock.advance(dt.timedelta(days=3))
    assert [r.state for r in queue(running) if r.request_id == approved.request_id] == [EXPIRED]
    code, reason, _ = refused(lambda: decide_request(running, approved.request_id, WITHDRAW, reason="撤回"))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ACCESS_REQUEST_NOT_APPROVED")
    for decision, fields in ((REJECT, {"reason": "不予共享"}), (APPROVE, {})):
        with pytest.raises(grpc.RpcError) as caught:
            decide_request(running, approved.request_id, decision, **fields)
        info, _ = error_details(caught.value)
        assert (caught.value.code(), info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ACCESS_REQUEST_DECIDED")
        assert caught.value.details() == "该共享申请已过期，不能再次审批（the request is expired already）"
    # one in force is still "approved already" (test_refusals_to_holder_portals_and_issuers_clerks_are_said_…)


def test_approvals_past_their_end_filter_as_expired_across_pages(clocked: Clocked) -> None:
    running, clock = clocked.running, clocked.clock
    made = []
    for days in (30, 1, 1):  # the newest two run out first
        card = id_card(running).license
        made.append(
            request_access(running, TAX, NAME_ONLY, license_id=card.license_id, type_code="", duration_days=days)
        )
        decide_request(running, made[-1].request_id, APPROVE)
    clock.advance(dt.timedelta(days=1, seconds=1))
    stub = authorization(running, TAX)

    def page(state: int, token: str = "", limit: int = 1) -> authorization_pb2.ListAccessRequestsResponse:
        return stub.ListAccessRequests(
            authorization_pb2.ListAccessRequestsRequest(
                view=SUBMITTED, state=state, matter_code=NAME_ONLY.matter_code, limit=limit, page_token=token
            )
        )

    in_force = page(APPROVED)
    assert [(r.request_id, r.state) for r in in_force.requests] == [(made[0].request_id, APPROVED)]
    assert not in_force.next_page_token  # the one in force: no page after it
    first = page(EXPIRED)
    second = page(EXPIRED, first.next_page_token)
    assert [(r.request_id, r.state) for r in [*first.requests, *second.requests]] == [
        (made[2].request_id, EXPIRED),
        (made[1].request_id, EXPIRED),
    ]
    assert made[0].request_id not in {r.request_id for r in page(EXPIRED, limit=500).requests}


def test_a_page_of_approvals_in_force_or_ended_is_one_query_however_long_the_history(running: RunningGateway) -> None:
    """ListAccessRequests by state APPROVED or EXPIRED had read the stored approvals a page at a time until it had a
    page of those in the state asked for: with 2,000 ended approvals newer than the one in force, ``limit`` 1 ran
    about 1,000 statements, in the call's write transaction (on SQLite every writer waited; a reviewer, R1). Whether
    an approval is in force is a comparison of its end with the time: one keyset query a page, whatever the
    history, and paging goes on as before."""
    first = request_access(running)  # copied as approvals of consumers of their own: none of REAL_ESTATE's is made
    table = AccessRequestRow.__table__
    with running.gateway.db.engine.begin() as connection:
        stored = dict(connection.execute(select(table).where(table.c.request_id == first.request_id)).mappings().one())
        connection.execute(table.delete().where(table.c.request_id == first.request_id))
    del stored["seq"]
    stored.update(state="APPROVED", decided_at=stored["submitted_at"], approved_fields=stored["fields"])
    now = dt.datetime.now(dt.UTC)
    ended, in_force = now - dt.timedelta(days=30), now + dt.timedelta(days=30)
    # consumers of no member's, each a code's shape, as ListAccessRequests' requester filter takes (d808a5d)
    mostly_ended, mostly_in_force = (uscc(10**12 + uuid.uuid4().int % 10**12) for _ in range(2))

    def copies(requester: str, valid_until: dt.datetime, count: int) -> list[dict[str, Any]]:
        return [
            {**stored, "request_id": uuid.uuid4().hex, "requester": requester, "valid_until": valid_until,
             "client_request_id": ""}
            for _ in range(count)
        ]  # fmt: skip

    # each requester's oldest approval is the one of the state asked for, under 2,000 newer of the other
    rows = [*copies(mostly_ended, in_force, 1), *copies(mostly_in_force, ended, 1)]
    rows += copies(mostly_ended, ended, 2000) + copies(mostly_in_force, in_force, 2000)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(insert(table), rows)
    oldest = {r["requester"]: r["request_id"] for r in reversed(rows)}
    try:
        statements: list[str] = []

        def heard(_c: object, _cursor: object, sql: str, _params: object, _x: object, _many: bool) -> None:
            if "access_requests" in sql:
                statements.append(sql)

        stub = authorization(running, POLICE)
        for state, requester, other in ((APPROVED, mostly_ended, EXPIRED), (EXPIRED, mostly_in_force, APPROVED)):
            asked = authorization_pb2.ListAccessRequestsRequest(state=state, requester=requester, limit=1)
            statements.clear()
            event.listen(running.gateway.db.engine, "before_cursor_execute", heard)
            try:
                page = stub.ListAccessRequests(asked)
            finally:
                event.remove(running.gateway.db.engine, "before_cursor_execute", heard)
            assert [(r.request_id, r.state) for r in page.requests] == [(oldest[requester], state)]
            assert not page.next_page_token  # nothing older in that state
            # the overdue requests' expiry, and the page
            assert len(statements) == 2, len(statements)
            # the other state pages through its 2,000, in order, and ends
            asked = authorization_pb2.ListAccessRequestsRequest(state=other, requester=requester, limit=500)
            listed: list[authorization_pb2.AccessRequest] = []
            while True:
                page = stub.ListAccessRequests(asked)
                listed += page.requests
                if not page.next_page_token:
                    break
                asked.page_token = page.next_page_token
            assert {r.state for r in listed} == {other} and len({r.request_id for r in listed}) == 2000
            assert [r.request_id for r in listed] == [
                r["request_id"] for r in reversed(rows) if r["requester"] == requester
            ][:2000]
    finally:
        with running.gateway.db.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.requester.in_([mostly_ended, mostly_in_force])))


def test_queues_filter_and_page(running: RunningGateway) -> None:
    made = [request_access(running, use=verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose=f"第{i}次"))
            for i in range(3)]  # fmt: skip
    stub = authorization(running, POLICE)
    first = stub.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(limit=2, requester=REAL_ESTATE))
    assert [r.request_id for r in first.requests] == [made[2].request_id, made[1].request_id]
    second = stub.ListAccessRequests(
        authorization_pb2.ListAccessRequestsRequest(limit=2, requester=REAL_ESTATE, page_token=first.next_page_token)
    )
    assert second.requests[0].request_id == made[0].request_id
    # one at a time to the end: no empty page after the last (a full last page had named one)
    pages, token = [], ""
    while True:
        listed = stub.ListAccessRequests(
            authorization_pb2.ListAccessRequestsRequest(limit=1, requester=REAL_ESTATE, page_token=token)
        )
        pages.append([r.request_id for r in listed.requests])
        if not (token := listed.next_page_token):
            break
    assert all(pages) and [i for (i,) in pages[:3]] == [m.request_id for m in reversed(made)]
    # POLICE is issuer and consumer: its own submissions are another view
    view = authorization_pb2.ACCESS_REQUEST_VIEW_SUBMITTED
    assert made[0].request_id not in {r.request_id for r in queue(running, POLICE, view=view)}
    code, reason, _ = refused(
        lambda: queue(running, REAL_ESTATE, view=authorization_pb2.ACCESS_REQUEST_VIEW_ISSUER_QUEUE)
    )
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_AN_ISSUER")
    code, _, violations = refused(lambda: queue(running, page_token="abc"))
    assert violations == [("page_token", "BAD_PAGE_TOKEN")]


@pytest.mark.parametrize(
    "token",
    [
        "9223372036854775808",  # 2**63: past what a seq can be, the store failed on it
        "11111111111111111111",
        "9" * 40,
        "\u00b2",  # ², which str.isdigit() calls a digit and int() refuses
        "\u0661\u0662",  # Arabic-Indic ١٢, which int() read as 12
        "\uff11\uff12",  # full-width １２
        "-5",
        "+3",
        " 3",
        "3.0",
        "garbage",
        # a made-up row number, or the bare numbers tokens were before they were sealed (a page had started wherever
        # the number said: an integrator, D2)
        "0",
        "1",
        "5",
        "9223372036854775807",
        "AAAAAAAAAAAAAAAAAAAAAAA",  # of a sealed token's form and length
    ],
)
@pytest.mark.parametrize("member", [REAL_ESTATE, POLICE])  # a consumer's submissions, an issuer's queue
def test_a_page_token_that_no_page_gave_is_refused_not_an_internal_error(
    running: RunningGateway, member: str, token: str
) -> None:
    """Found by a black-box tester: large numbers and non-ASCII digits answered INTERNAL (a traceback logged for
    each) or were read as another number."""
    before = record_count(running)
    stub = authorization(running, member)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(page_token=token))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("page_token", "BAD_PAGE_TOKEN")]
    assert caught.value.details() == BAD_PAGE_TOKEN_WORDS
    assert record_count(running) == before  # refused before anything was listed


@pytest.mark.parametrize(
    ("filters", "violation", "message"),
    [
        (
            {"view": 99},
            ("view", "UNKNOWN_VIEW"),
            "view: 未知的申请列表视图 99：须为 ISSUER_QUEUE 或 SUBMITTED，或不填"
            "（unknown view 99: ISSUER_QUEUE, SUBMITTED or unset）",
        ),
        (
            {"state": 99},
            ("state", "UNKNOWN_STATE"),
            "state: 未知的申请状态 99：须为 PENDING、APPROVED、REJECTED、EXPIRED 或 WITHDRAWN，或不填"
            "（unknown state 99: PENDING, APPROVED, REJECTED, EXPIRED, WITHDRAWN or unset）",
        ),
        ({"state": -1}, ("state", "UNKNOWN_STATE"), None),
        ({"view": 3, "state": authorization_pb2.ACCESS_REQUEST_STATE_PENDING}, ("view", "UNKNOWN_VIEW"), None),
    ],
)
@pytest.mark.parametrize("member", [REAL_ESTATE, POLICE])
def test_a_view_or_state_the_api_does_not_define_is_refused_not_taken_as_unset(
    running: RunningGateway, member: str, filters: dict[str, int], violation: tuple[str, str], message: str | None
) -> None:
    """ListAccessRequests took view 99 and state 99 as unset and listed everything, as DecideAccessRequest does not
    take decision 99 (found by a black-box tester): a newer client's filter is not silently dropped."""
    before = record_count(running)
    with pytest.raises(grpc.RpcError) as caught:
        authorization(running, member).ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(**filters))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [violation]
    if message is not None:
        assert caught.value.details() == message
    assert record_count(running) == before


@pytest.mark.parametrize(
    "matter_code",
    ["370100-BDCZY-001\n" + "伪造事项" * 20, "X" * 41, "370100 BDCZY 001", "370100-不动产-001"],
    ids=["line_break_and_97_characters", "41_characters", "spaces", "chinese"],
)
@pytest.mark.parametrize("member", [REAL_ESTATE, POLICE])
def test_a_matter_filter_no_catalog_could_have_is_refused(
    running: RunningGateway, member: str, matter_code: str
) -> None:
    """ListAccessRequests took any matter_code as its filter and put it on the audit trail as it came: on PostgreSQL
    one of more than 40 characters was INTERNAL (a traceback logged), on SQLite a line break and any length were
    written into the trail, for ``zzgw audit`` to print (a reviewer, R2). One that is no matter code at all (not 1–40
    printable ASCII characters, as a catalog's codes must be) is refused before anything is read or recorded."""
    before = record_count(running)
    with pytest.raises(grpc.RpcError) as caught:
        authorization(running, member).ListAccessRequests(
            authorization_pb2.ListAccessRequestsRequest(matter_code=matter_code)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("matter_code", "UNKNOWN_MATTER")]
    words = f"事项目录中没有事项编码 {matter_code[:64]}，请按事项目录填写（unknown matter {matter_code[:64]!r}）"
    said = f"matter_code: {words}"
    assert caught.value.details() == said.replace("\n", "\\u000a")  # a line break in the words is escaped
    assert record_count(running) == before
    listed = authorization(running, member).ListAccessRequests(
        authorization_pb2.ListAccessRequestsRequest(matter_code=BDCZY.matter_code)
    )
    assert {r.matter_code for r in listed.requests} <= {BDCZY.matter_code}  # a matter of the catalog, as before
    unlisted = authorization(running, member).ListAccessRequests(
        authorization_pb2.ListAccessRequestsRequest(matter_code="X" * 40)
    )
    assert list(unlisted.requests) == []  # a code of a matter's shape the catalog has not: none made under it


@pytest.mark.parametrize(
    ("requester", "reason", "said"),
    [
        ("长" * 300_000, "BAD_USCC", "申请部门代码须为18位数字或字母（不含I、O、S、V、Z）"),
        ("ab\x00cd", "BAD_CHARACTERS", "申请部门代码含有控制字符 U+0000"),
        ("ab\u202ecd", "BAD_CHARACTERS", "申请部门代码含有控制字符或不可见字符 U+202E"),
        ("ab\x1bcd", "BAD_CHARACTERS", "申请部门代码含有控制字符 U+001B"),
        ("12370100993701118X", "BAD_CHECK_CHARACTER", "申请部门代码校验码不符"),
        ("1237010099370111", "BAD_USCC", "申请部门代码须为18位数字或字母（不含I、O、S、V、Z）"),
    ],
    ids=["300k_characters", "nul", "rlo", "escape", "check_character", "16_characters"],
)
@pytest.mark.parametrize("member", [REAL_ESTATE, POLICE])
def test_a_requester_filter_no_member_could_have_is_refused(
    running: RunningGateway, member: str, requester: str, reason: str, said: str
) -> None:
    """ListAccessRequests took any ``requester`` as its filter: NUL, control and direction characters and any length
    were answered OK with an empty page on SQLite (a mistyped code read as "no requests"), and a NUL was PostgreSQL's
    BAD_CHARACTERS naming no field (a reviewer, R3). One that is no member's code (every member's is a 统一社会信用代码)
    is INVALID_ARGUMENT on ``requester``, alike on both stores, before anything is read or recorded."""
    before = record_count(running)
    with pytest.raises(grpc.RpcError) as caught:
        authorization(running, member).ListAccessRequests(
            authorization_pb2.ListAccessRequestsRequest(requester=requester)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("requester", reason)]
    assert (caught.value.details() or "").startswith(f"requester: {said}"), caught.value.details()
    assert record_count(running) == before
    # a member's code filters as before; in the issuer's queue, a code no member has, of a member's shape, lists
    # nothing (a consumer's own list does not filter by it)
    assert {r.requester for r in queue(running, member, requester=REAL_ESTATE)} <= {REAL_ESTATE}
    if member == POLICE:
        assert queue(running, member, requester="91370100MA3C4K7L6M") == []


def without_matter(code: str) -> Callable[[dict[str, Any]], None]:
    """A catalog edit: the matter ``code`` taken out, and out of the bundles that name it."""

    def edit(raw: dict[str, Any]) -> None:
        raw["matters"] = [m for m in raw["matters"] if m["code"] != code]
        for bundle in raw.get("bundles", []):
            bundle["matters"] = [m for m in bundle["matters"] if m != code]

    return edit


def test_a_matter_taken_out_of_the_catalog_still_filters_its_requests(store: str, tmp_path: Path) -> None:
    """A matter's requests stay stored when a catalog takes the matter out (docs/catalog.md), and the consumer's and
    the issuer's filter by it lists them: d48e3d3 had refused a filter the catalog does not have (UNKNOWN_MATTER,
    请按事项目录填写, sending the caller to correct a right code), where it had listed them (a reviewer, R1)."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", without_matter(BDCZY.matter_code))
    with serving(tmp_path, store, before) as running:
        made = (
            authorization(running, REAL_ESTATE)
            .RequestAccess(authorization_pb2.RequestAccessRequest(use=BDCZY, type_code=ID_CARD, duration_days=30))
            .request
        )
    assert initialise(settings_of(tmp_path, store, after), adopt_catalog=True).catalog_replaced
    with serving(tmp_path, store, after) as running:
        for member in (REAL_ESTATE, POLICE):
            listed = authorization(running, member).ListAccessRequests(
                authorization_pb2.ListAccessRequestsRequest(matter_code=BDCZY.matter_code)
            )
            assert [(r.request_id, r.matter_code) for r in listed.requests] == [(made.request_id, BDCZY.matter_code)]


def test_a_page_token_is_taken_only_by_the_listing_that_gave_it(running: RunningGateway) -> None:
    """A page token had been a bare row number, taken with another view, filter or department as a place in that
    listing: a client that mixed tokens up skipped or repeated rows without a word (an integrator, D2). It is sealed
    to the caller, the call and its filters; any other use is BAD_PAGE_TOKEN, refused before anything is listed."""
    made = [request_access(running, use=verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose=f"翻页{i}"))
            for i in range(3)]  # fmt: skip
    estate, police, tax = (authorization(running, member) for member in (REAL_ESTATE, POLICE, TAX))
    first = estate.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(view=SUBMITTED, limit=1))
    token = first.next_page_token
    assert [r.request_id for r in first.requests] == [made[2].request_id] and token
    assert not token.isdigit() and made[2].request_id not in token  # shows nothing of where the page ends
    # the same listing: another page size, and the view left unset (a consumer's default, SUBMITTED)
    for same in (
        authorization_pb2.ListAccessRequestsRequest(view=SUBMITTED, limit=1, page_token=token),
        authorization_pb2.ListAccessRequestsRequest(limit=2, page_token=token),
    ):
        assert estate.ListAccessRequests(same).requests[0].request_id == made[1].request_id
    queued = police.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(view=ISSUER_QUEUE, limit=1))
    assert queued.next_page_token
    before = record_count(running)
    for stub, other in (
        (estate, authorization_pb2.ListAccessRequestsRequest(view=SUBMITTED, state=PENDING, page_token=token)),
        (estate, authorization_pb2.ListAccessRequestsRequest(matter_code=BDCZY.matter_code, page_token=token)),
        (tax, authorization_pb2.ListAccessRequestsRequest(view=SUBMITTED, page_token=token)),  # another department
        (police, authorization_pb2.ListAccessRequestsRequest(view=ISSUER_QUEUE, page_token=token)),
        (police, authorization_pb2.ListAccessRequestsRequest(view=SUBMITTED, page_token=queued.next_page_token)),
        (police, authorization_pb2.ListAccessRequestsRequest(
            view=ISSUER_QUEUE, requester=REAL_ESTATE, page_token=queued.next_page_token)),
        (police, authorization_pb2.ListAccessRequestsRequest(view=ISSUER_QUEUE, page_token=token[:-1] + "A")),
    ):  # fmt: skip
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListAccessRequests(other)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, other
        assert error_details(caught.value)[1] == [("page_token", "BAD_PAGE_TOKEN")], other
        assert caught.value.details() == BAD_PAGE_TOKEN_WORDS
    assert record_count(running) == before


def test_a_page_token_is_taken_by_another_replica_of_the_store(running: RunningGateway) -> None:
    """Tokens are sealed under the key store's memo secret, which every replica and every restart of a store
    shares: a client sent to another process by its balancer goes on with its token, which is still refused there
    for another filter."""
    for i in range(2):
        request_access(running, use=verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose=f"副本{i}"))
    here = authorization(running, REAL_ESTATE)
    token = here.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(limit=1)).next_page_token
    second_page = here.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(limit=1, page_token=token))
    replica = start_gateway(running.data_dir, running.gateway.db.engine.url.render_as_string(hide_password=False))
    try:
        there = authorization(replica, REAL_ESTATE)
        answer = there.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(limit=1, page_token=token))
        assert [r.request_id for r in answer.requests] == [r.request_id for r in second_page.requests]
        assert answer.next_page_token == second_page.next_page_token
        code, _, violations = refused(lambda: there.ListAccessRequests(
            authorization_pb2.ListAccessRequestsRequest(limit=1, state=PENDING, page_token=token)))  # fmt: skip
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("page_token", "BAD_PAGE_TOKEN")])
    finally:
        replica.stop()


def test_a_retried_request_is_answered_with_the_first_and_queued_once(running: RunningGateway) -> None:
    key = f"retry-{uuid.uuid4().hex}"
    use = verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose="重试同一申请")
    before = record_count(running)
    first = request_access(running, use=use, client_request_id=key)
    again = request_access(running, use=use, client_request_id=key)
    assert again == first  # the same request, the same state
    assert record_count(running) == before + 2  # each answered call is on the record
    mine = [r for r in queue(running, requester=REAL_ESTATE) if r.purpose == "重试同一申请"]
    assert [r.request_id for r in mine] == [first.request_id]  # one request in the issuer's queue
    code, reason, _ = refused(lambda: request_access(running, use=use, client_request_id=key, duration_days=7))
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")
    other = request_access(running, use=use, client_request_id=key + "-b")
    assert other.request_id != first.request_id  # another key, another request
    code, _, violations = refused(lambda: request_access(running, use=use, client_request_id="x" * 65))
    assert violations == [("client_request_id", "BAD_FORMAT")]


def test_requests_sent_at_once_with_one_key_are_queued_once(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries that overlap make one request and are all answered with it. The transaction that stores a request
    whose key was just found unused does not look the key up again (a reviewer, R1): the store's unique key decides,
    and the loser looks then and is answered as a retry. The loser's path is taken for sure: its first look finds
    nothing, as when the winner had not committed yet."""
    from gateway.store.repositories import AccessRequestRepository

    use = verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose="同时重试同一申请")
    key = f"burst-{uuid.uuid4().hex}"
    with futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: request_access(running, use=use, client_request_id=key), range(4)))
    assert len({a.request_id for a in answers}) == 1
    mine = [r for r in queue(running, requester=REAL_ESTATE) if r.purpose == use.purpose]
    assert [r.request_id for r in mine] == [answers[0].request_id]

    look, looks = AccessRequestRepository.by_client_request_id, []

    def late(self: AccessRequestRepository, requester: str, client_request_id: str) -> Any:
        looks.append(client_request_id)
        return None if len(looks) == 1 else look(self, requester, client_request_id)  # not committed yet

    monkeypatch.setattr(AccessRequestRepository, "by_client_request_id", late)
    again = request_access(running, use=use, client_request_id=key)
    assert (again.request_id, len(looks)) == (answers[0].request_id, 2)  # the unique key refused, then it looked


def test_a_retried_request_is_the_same_request_however_it_is_spelt(running: RunningGateway) -> None:
    """A retry is the first request when it asks for what the first stored: the license's own type or issuer named
    or not, the fields in another order, repeated, or all the matter's named instead of none. Each had been
    ALREADY_EXISTS / REQUEST_ID_REUSED (the key's digest was of the fields as spelt), so a client told so submitted
    the request again and queued it twice (a reviewer, R2). A retry that asks for something else is refused so still:
    fewer fields, another duration or purpose."""
    card = id_card(running).license
    use = verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose="重试-拼写")
    key = "spelt-" + uuid.uuid4().hex
    first = request_access(running, use=use, client_request_id=key, type_code="", license_id=card.license_id)
    assert list(first.fields) == ["name", "gender", "citizen_id"]
    before = record_count(running)
    spellings: list[dict[str, Any]] = [
        {"type_code": ID_CARD},
        {"type_code": "", "issuer_code": POLICE},
        {"type_code": "", "fields": ["citizen_id", "name", "gender"]},
        {"type_code": ID_CARD, "issuer_code": POLICE, "fields": ["name", "gender", "citizen_id", "name"]},
    ]
    for spelt in spellings:
        again = request_access(running, use=use, client_request_id=key, license_id=card.license_id, **spelt)
        assert again == first, spelt
    assert record_count(running) == before + len(spellings)  # each answered, on the record as a retry
    by_type = "type-" + uuid.uuid4().hex
    made = request_access(running, use=use, client_request_id=by_type, fields=["name"])
    for spelt in ({"fields": ["name", "name"]}, {"fields": ["name"], "issuer_code": POLICE}):
        assert request_access(running, use=use, client_request_id=by_type, **spelt) == made, spelt
    mine = [r.request_id for r in queue(running, requester=REAL_ESTATE) if r.purpose == "重试-拼写"]
    assert sorted(mine) == sorted([first.request_id, made.request_id])  # each queued once
    for other in (
        {"type_code": "", "license_id": card.license_id, "fields": ["name", "gender"]},
        {"type_code": "", "license_id": card.license_id, "duration_days": 29},
        {"type_code": "", "license_id": card.license_id, "use": BDCZY},
        {"type_code": ID_CARD},  # the type, not the one license
    ):
        code, reason, _ = refused(lambda: request_access(running, **{"use": use, **other}, client_request_id=key))  # noqa: B023
        assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED"), other
    code, reason, _ = refused(lambda: request_access(running, use=use, client_request_id=by_type))  # all, not one
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")


def test_a_request_retried_after_a_catalog_change_is_answered_as_the_first(store: str, tmp_path: Path) -> None:
    """A retry is looked up before the use and the request are checked: one whose first answer was lost, sent again
    after a catalog took its matter out, had been refused UNKNOWN_MATTER while the first waited in the issuer's
    queue, and a client that took the refusal at its word never learnt of it (a reviewer, R2)."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", without_matter(BDCZY.matter_code))
    ask = authorization_pb2.RequestAccessRequest(use=BDCZY, type_code=ID_CARD, duration_days=30, client_request_id="k1")
    with serving(tmp_path, store, before) as running:
        made = authorization(running, REAL_ESTATE).RequestAccess(ask).request
    assert initialise(settings_of(tmp_path, store, after), adopt_catalog=True).catalog_replaced
    with serving(tmp_path, store, after) as running:
        recorded = record_count(running)
        assert authorization(running, REAL_ESTATE).RequestAccess(ask).request == made
        assert record_count(running) == recorded + 1
        newest = trail_rows(running, "action, matter_code, reason", "caller = :me", me=REAL_ESTATE)[-1]
        assert newest == ("REQUEST_ACCESS", BDCZY.matter_code, f"access_request={made.request_id} retry")
        assert [r.request_id for r in queue(running)] == [made.request_id]
        other = authorization_pb2.RequestAccessRequest()
        other.CopyFrom(ask)
        other.duration_days = 7
        code, reason, _ = refused(lambda: authorization(running, REAL_ESTATE).RequestAccess(other))
        assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")
        fresh = authorization_pb2.RequestAccessRequest()
        fresh.CopyFrom(ask)
        fresh.client_request_id = "k2"
        code, _, violations = refused(lambda: authorization(running, REAL_ESTATE).RequestAccess(fresh))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("use.matter_code", "UNKNOWN_MATTER")])


def test_a_request_stored_before_the_digest_changed_is_answered_as_the_first(store: str, tmp_path: Path) -> None:
    """A request stored before 638a498 has the key's digest of the request as spelt (its fields sorted, repeats
    kept), which the digest of the request as asked (``_Asked``) never matches. Its retry had been answered only
    while the catalog in force still took it: after a catalog took its matter out, ALREADY_EXISTS /
    REQUEST_ID_REUSED, "used before for another request", while the first waited in the issuer's queue, and a client
    that believed it queued the request twice (a reviewer, R2). A retry spelt as the first was is answered with it."""

    def as_spelt(type_code: str, license_id: str, fields: list[str], duration_days: int) -> str:
        """The digest stored before 638a498."""
        spelt = [BDCZY.matter_code, BDCZY.purpose, type_code, license_id, "", *sorted(fields), str(duration_days)]
        return hashlib.sha256("\x1f".join(spelt).encode()).hexdigest()

    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", without_matter(BDCZY.matter_code))
    with serving(tmp_path, store, before) as running:
        card = id_card(running).license
        asked = [
            authorization_pb2.RequestAccessRequest(
                use=BDCZY, license_id=card.license_id, duration_days=30, client_request_id="old-1"
            ),
            authorization_pb2.RequestAccessRequest(
                use=BDCZY, type_code=ID_CARD, fields=["name", "name"], duration_days=30, client_request_id="old-2"
            ),
        ]
        made = [authorization(running, REAL_ESTATE).RequestAccess(ask).request for ask in asked]
        with running.gateway.db.engine.begin() as connection:  # as stored before 638a498
            for ask, request in zip(asked, made, strict=True):
                digest = as_spelt(ask.type_code, ask.license_id, list(ask.fields), ask.duration_days)
                stored = AccessRequestRow.request_id == request.request_id
                connection.execute(AccessRequestRow.__table__.update().where(stored).values(client_digest=digest))
        for ask, request in zip(asked, made, strict=True):  # the catalog unchanged: the first, as before
            assert authorization(running, REAL_ESTATE).RequestAccess(ask).request == request
    assert initialise(settings_of(tmp_path, store, after), adopt_catalog=True).catalog_replaced
    with serving(tmp_path, store, after) as running:
        for ask, request in zip(asked, made, strict=True):
            assert authorization(running, REAL_ESTATE).RequestAccess(ask).request == request
        assert sorted(r.request_id for r in queue(running)) == sorted(r.request_id for r in made)
        other = authorization_pb2.RequestAccessRequest()
        other.CopyFrom(asked[1])
        other.duration_days = 7  # another request under the key is refused so still
        code, reason, _ = refused(lambda: authorization(running, REAL_ESTATE).RequestAccess(other))
        assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")


def test_access_is_requested_only_under_a_matter_the_requester_handles(running: RunningGateway) -> None:
    """The matter bounds what a request may ask for and tells the issuer why; a department names only its own (the
    partner gateway: those of its region). The refusal comes before the request is looked at, and queues nothing."""
    before = record_count(running)
    code, reason, _ = refused(lambda: request_access(running, REAL_ESTATE, QYKZ))  # 企业印章刻制 is the police's
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_MATTER_DEPARTMENT")
    assert record_count(running) == before + 1  # the refusal is on the audit trail
    # the Guangzhou partner asks for ID cards under 440100-SBZY-001 ...
    submitted = request_access(running, PARTNER, SBZY)
    assert (submitted.state, submitted.requester, submitted.issuer_code) == (PENDING, PARTNER, POLICE)
    assert (submitted.matter_code, list(submitted.fields)) == (SBZY.matter_code, ["name", "gender", "citizen_id"])
    # ... but not under 发票申领 (which needs no ID card either: the matter is refused first)
    code, reason, _ = refused(lambda: request_access(running, PARTNER, FPSL))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_MATTER_DEPARTMENT")
    requested = {(r.requester, r.matter_code) for r in queue(running)}
    assert (PARTNER, SBZY.matter_code) in requested
    assert not requested & {(REAL_ESTATE, QYKZ.matter_code), (PARTNER, FPSL.matter_code)}


@pytest.mark.parametrize(
    ("fields", "violation"),
    [
        ({"type_code": ""}, ("type_code", "REQUIRED")),
        ({"type_code": "111000009910000999001"}, ("type_code", "UNKNOWN_LICENSE_TYPE")),
        ({"fields": ["address"]}, ("fields[0]", "FIELD_NOT_NEEDED")),
        ({"duration_days": 0}, ("duration_days", "BAD_DURATION")),
        ({"duration_days": 1096}, ("duration_days", "BAD_DURATION")),
        ({"license_id": "1.2.3"}, ("license_id", "INVALID_LICENSE_ID")),
        ({"issuer_code": CIVIL}, ("issuer_code", "NOT_AN_ISSUER_OF_TYPE")),
    ],
)
def test_bad_access_requests(running: RunningGateway, fields: dict[str, Any], violation: tuple[str, str]) -> None:
    before = record_count(running)
    code, _, violations = refused(lambda: request_access(running, REAL_ESTATE, BDCZY, **fields))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violation in violations
    assert record_count(running) == before


def test_unconditional_data_needs_no_request_and_matters_bound_the_types(running: RunningGateway) -> None:
    _, _, violations = refused(lambda: request_access(running, TAX, FPSL, type_code=BUSINESS_LICENSE))
    assert violations == [("fields", "NOTHING_TO_APPROVE")]
    _, _, violations = refused(lambda: request_access(running, TAX, FPSL))  # 发票申领 needs no ID card
    assert violations == [("type_code", "NOT_USED_BY_MATTER")]
    newest = trail_rows(running, "action, decision, reason, license_id", "caller = :tax", tax=TAX)[-1]
    assert newest == ("REQUEST_ACCESS", "DENIED", "NOT_USED_BY_MATTER", "")  # for `zzgw audit refusals`: no one named
    # nor one card: refused before it is looked up, and the attempt is on its holder's log
    card = id_card(running).license
    _, _, violations = refused(lambda: request_access(running, TAX, FPSL, type_code="", license_id=card.license_id))
    assert violations == [("license_id", "NOT_USED_BY_MATTER")]
    (record, *_) = records_of(running, card.holder.code)
    assert (record.action, record.decision, record.reason, record.caller, record.license_id) == (
        "REQUEST_ACCESS",
        "DENIED",
        "NOT_USED_BY_MATTER",
        TAX,
        card.license_id,
    )
    # fields beyond the matter's, of one card: the attempt is on its holder's log too (it had left none; a tester)
    beyond = {"type_code": "", "license_id": card.license_id, "fields": ["address"]}
    _, _, violations = refused(lambda: request_access(running, REAL_ESTATE, BDCZY, **beyond))
    assert violations == [("fields[0]", "FIELD_NOT_NEEDED")]
    (newest, *_) = records_of(running, card.holder.code)
    assert (newest.action, newest.decision, newest.reason, newest.license_id) == (
        "REQUEST_ACCESS",
        "DENIED",
        "FIELD_NOT_NEEDED",
        card.license_id,
    )


def test_a_type_the_matter_does_not_use_is_refused_on_the_log_whatever_else_the_request_names(
    running: RunningGateway,
) -> None:
    """A license or type the matter does not use is NOT_USED_BY_MATTER, on the holder's log for one license, before
    what else the request names is checked: a type_code or issuer_code besides it that does not match had been
    TYPE_MISMATCH, ISSUER_MISMATCH or NOT_AN_ISSUER_OF_TYPE, with no record, so a department could probe licenses
    outside its matters without leaving a trace on the holder's or the issuer's log (a reviewer, R3)."""
    card = id_card(running).license
    mismatched: list[dict[str, str]] = [
        {"type_code": BUSINESS_LICENSE},
        {"issuer_code": CIVIL},
        {"type_code": ID_CARD, "issuer_code": CIVIL},
    ]
    for extra in mismatched:
        before = record_count(running)
        ask = {"type_code": "", "license_id": card.license_id, **extra}
        code, _, violations = refused(lambda: request_access(running, TAX, FPSL, **ask))  # noqa: B023
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("license_id", "NOT_USED_BY_MATTER")]), extra
        assert record_count(running) == before + 1
        (record, *_) = records_of(running, card.holder.code)
        assert (record.action, record.decision, record.reason, record.caller, record.license_id) == (
            "REQUEST_ACCESS",
            "DENIED",
            "NOT_USED_BY_MATTER",
            TAX,
            card.license_id,
        ), extra
    before = record_count(running)  # by type, with an issuer that does not issue it: the type is refused first
    code, _, violations = refused(lambda: request_access(running, TAX, FPSL, issuer_code=CIVIL))
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("type_code", "NOT_USED_BY_MATTER")])
    assert record_count(running) == before + 1
    newest = trail_rows(running, "action, decision, reason", "caller = :tax", tax=TAX)[-1]
    assert newest == ("REQUEST_ACCESS", "DENIED", "NOT_USED_BY_MATTER")
    # under a matter that uses the type, a mismatch is said as before, and nothing is recorded
    before = record_count(running)
    other_issuer = {"type_code": "", "license_id": card.license_id, "issuer_code": CIVIL}
    assert refused(lambda: request_access(running, **other_issuer))[2] == [("issuer_code", "ISSUER_MISMATCH")]
    assert refused(lambda: request_access(running, issuer_code=CIVIL))[2] == [("issuer_code", "NOT_AN_ISSUER_OF_TYPE")]
    assert record_count(running) == before


def test_a_request_for_fields_the_matter_may_never_read_is_refused_as_reading_them_is(clocked: Clocked) -> None:
    """With no fields named a request asks for every field the matter lists: for a 护照 under CSSY (name and birth
    place, 不予共享) that had been NOTHING_TO_APPROVE, whose remedy, reading them, was then refused NOT_SHARED (found by
    a partner-gateway tester). It is refused as the read is, by type and by license, the license's attempt on its
    holder's log; named, such a field is FIELD_NOT_SHARED as before; a photo alone (secret) is SECRET."""
    running = clocked.running
    code, born = person()
    passport_id = passport(running, code, born)
    not_shared = "护照：不予共享；持证人出示的证照仍可核验（not shared; a license its holder shows can be verified）"
    for by in ({"type_code": PASSPORT}, {"type_code": "", "license_id": passport_id}):
        ask = partial(request_access, running, TAX, CSSY, **by)
        assert refused(ask)[:2] == (grpc.StatusCode.PERMISSION_DENIED, "NOT_SHARED")
        assert said(ask) == ("NOT_SHARED", not_shared)
    (record, *_) = records_of(running, code)
    assert (record.action, record.decision, record.reason, record.license_id) == (
        "REQUEST_ACCESS",
        "DENIED",
        "NOT_SHARED",
        passport_id,
    )
    assert denied(lambda: data(running, passport_id, CSSY))[0] == "NOT_SHARED"  # as a read of it says
    _, _, violations = refused(lambda: request_access(running, TAX, CSSY, type_code=PASSPORT, fields=["name"]))
    assert violations == [("fields[0]", "FIELD_NOT_SHARED")]
    ask = partial(request_access, running, TAX, PHOTO_ONLY)
    assert refused(ask)[:2] == (grpc.StatusCode.PERMISSION_DENIED, "SECRET")
    assert said(ask) == ("SECRET", "居民身份证：该信息项不对外提供（this field is never given out）")


def test_every_bad_field_of_a_request_is_named_at_its_place_in_the_request(clocked: Clocked) -> None:
    """One violation per bad field, at its index in ``fields`` as sent (a repeated one's first): only the first had
    been named, at its index once repeated fields were dropped, so a partner's form marked the wrong key (fields[2] for
    the key at 3) and the next bad key came one round trip later (a partner-province tester, D3)."""
    running = clocked.running  # the test catalog's matter CSSY lists a passport's fields, never shared
    before = record_count(running)
    asked = ["gender", "name", "gender", "address", "bank_name", "address"]
    code, reason, violations = refused(lambda: request_access(running, PARTNER, SBZY, fields=asked))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "FIELD_NOT_NEEDED")
    # bank_name is no field of a 居民身份证 at all (review sharing, R2)
    assert violations == [("fields[3]", "FIELD_NOT_NEEDED"), ("fields[4]", "UNKNOWN_FIELD")]
    # fields never shared and keys the type does not have, each with its own reason, in the order sent
    asked = ["name", "bogus", "name", "birth_place", "gender"]
    code, reason, violations = refused(lambda: request_access(running, TAX, CSSY, type_code=PASSPORT, fields=asked))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "FIELD_NOT_SHARED")
    assert violations == [
        ("fields[0]", "FIELD_NOT_SHARED"),
        ("fields[1]", "UNKNOWN_FIELD"),
        ("fields[3]", "FIELD_NOT_SHARED"),
        ("fields[4]", "FIELD_NOT_NEEDED"),
    ]
    assert record_count(running) == before  # bad input of a type: refused before anything is read, no record


def test_a_decision_cannot_widen_the_request(running: RunningGateway) -> None:
    submitted = request_access(running, fields=["name"], duration_days=5)
    _, _, violations = refused(lambda: decide_request(running, submitted.request_id, APPROVE,
                                                      approved_fields=["gender"]))  # fmt: skip
    assert violations == [("approved_fields[0]", "FIELD_NOT_REQUESTED")]
    _, _, violations = refused(lambda: decide_request(running, submitted.request_id, APPROVE, duration_days=6))
    assert violations == [("duration_days", "BAD_DURATION")]
    _, _, violations = refused(lambda: decide_request(running, submitted.request_id, 0))
    assert violations == [("decision", "REQUIRED")]


def said(call: Callable[[], Any]) -> tuple[str, str]:
    """The reason and the message of a refused call."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return error_details(caught.value)[0].reason, str(caught.value.details())


def test_refusals_to_holder_portals_and_issuers_clerks_are_said_in_chinese_first(running: RunningGateway) -> None:
    """Clerks and holders read these: Chinese first, the English after, the reasons as they were (found by an
    independent client)."""
    card = id_card(running).license
    portal = authorization(running, PORTAL)
    assert said(lambda: portal.GrantConsent(consent_request(card.holder.code, valid_until=past()))) == (
        "BAD_VALIDITY",
        "valid_until: 授权有效期须在今后366天以内（valid_until must be in the next 366 days）",
    )
    assert said(lambda: portal.GrantConsent(consent_request(card.holder.code, uses=101))) == (
        "BAD_USES",
        "uses: 授权使用次数须为1至100次（uses must be 1-100）",
    )
    # a partner gateway may be a grantee too (a partner-gateway tester: the words had named consuming departments only)
    assert said(lambda: portal.GrantConsent(consent_request(card.holder.code, grantee_code=ADMIN))) == (
        "UNKNOWN_GRANTEE",
        "grantee_code: 被授权部门须为已登记的用证部门或跨省伙伴网关；事项 370100-BDCZY-001 可授权给济南市不动产登记中心"
        f"（{REAL_ESTATE}）（the grantee must be a registered consuming department or partner gateway）",
    )
    granted = grant(running, card.holder.code)
    other = id_card(running).license.holder.code
    withdraw = authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=other)
    assert said(lambda: portal.WithdrawConsent(withdraw)) == (
        "CONSENT_NOT_FOUND",
        "此持证人没有这项授权（no such consent of this holder）",
    )

    assert said(lambda: request_access(running, duration_days=1096)) == (
        "BAD_DURATION",
        "duration_days: 申请期限须为1至1095天（duration_days must be 1-1095）",
    )
    assert said(lambda: request_access(running, license_id=card.license_id, type_code=BUSINESS_LICENSE)) == (
        "TYPE_MISMATCH",
        "type_code: 该证照不是所填的证照类型（the license is of another type）",
    )
    # for this card only: an approval of every ID card would let the module's later tests read theirs
    submitted = request_access(running, license_id=card.license_id, type_code="", fields=["name"], duration_days=5)
    assert said(lambda: decide_request(running, submitted.request_id, APPROVE, member=CIVIL)) == (
        "ACCESS_REQUEST_NOT_FOUND",
        "本部门的待审批队列中没有这个共享申请（no such access request in your queue）",
    )
    assert said(lambda: decide_request(running, submitted.request_id, APPROVE, approved_fields=["photo"])) == (
        "FIELD_NOT_REQUESTED",
        "approved_fields[0]: 申请中没有信息项 photo，不能批准（field photo was not requested）",
    )
    assert said(lambda: decide_request(running, submitted.request_id, APPROVE, duration_days=6)) == (
        "BAD_DURATION",
        "duration_days: 批准期限须为1至5天，不超过申请的期限（duration_days must be 1-5 (requested)）",
    )
    assert said(lambda: decide_request(running, submitted.request_id, WITHDRAW, reason="误批")) == (
        "ACCESS_REQUEST_NOT_APPROVED",
        "只能撤回已获批准的共享申请，该共享申请尚待审批（only an approval can be withdrawn; the request is pending）",
    )
    decide_request(running, submitted.request_id, APPROVE)
    assert said(lambda: decide_request(running, submitted.request_id, APPROVE)) == (
        "ACCESS_REQUEST_DECIDED",
        "该共享申请已获批准，不能再次审批（the request is approved already）",
    )


def test_list_holder_and_license_refusals_are_said_in_chinese_first_too(running: RunningGateway) -> None:
    """Page sizes, page tokens, holder codes, missing licenses and the consent and decision calls' missing or unknown
    values had been refused in English only, though holder portals and issuers' clerks read them (found by a
    black-box tester); the reasons stay as they were."""
    card = id_card(running).license
    portal, police = authorization(running, PORTAL), authorization(running, POLICE)
    records = audit_pb2_grpc.AuditServiceStub(running.channel(PORTAL))
    issuer_records = audit_pb2_grpc.AuditServiceStub(running.channel(MARKET))
    limit = (
        "limit: 每页条数不能为负数：0为默认的100条，超过500按500条"
        "（limit must not be negative: 0 for 100, more than 500 taken as 500）"
    )
    for call in (
        lambda: portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=card.holder.code, limit=-1)),
        lambda: police.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(limit=-1)),
        lambda: records.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=card.holder.code, limit=-1)),
        lambda: issuer_records.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(limit=-(2**31))),
    ):
        assert said(call) == ("BAD_LIMIT", limit)
    assert said(lambda: police.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(page_token="x"))) == (
        "BAD_PAGE_TOKEN",
        BAD_PAGE_TOKEN_WORDS,
    )
    bad_holder = (
        "holder_code: 持证主体代码须为1至32位字母、数字或“-”（holder_code must be 1-32 letters, digits or '-'）"
    )
    for stub in (records, issuer_records):
        listing = audit_pb2.ListAccessRecordsRequest(holder_code="张三")
        assert said(partial(stub.ListAccessRecords, listing)) == ("BAD_HOLDER_CODE", bad_holder)
    missing_holder = "holder_code: 请填写持证主体代码：公民身份号码或统一社会信用代码（holder_code is required）"
    for blank in ("", " "):
        listing = audit_pb2.ListAccessRecordsRequest(holder_code=blank)
        assert said(partial(records.ListAccessRecords, listing)) == ("REQUIRED", missing_holder)
    assert said(lambda: portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code="张三"))) == (
        "BAD_HOLDER_CODE",
        bad_holder,
    )

    # a license that does not exist, of a type the matter uses, read by a consumer and by its issuer
    nowhere = LicenseId.parse(card.license_id)
    missing = str(LicenseId(type_code=nowhere.type_code, issuer_code=POLICE, serial="NOSUCHCARD", version=1))
    for member, use in ((REAL_ESTATE, BDCZY), (POLICE, QYKZ)):
        assert said(partial(data, running, missing, use, member=member)) == (
            "LICENSE_NOT_FOUND",
            "未找到该证照（no such license）",
        )
        assert said(partial(data, running, "", use, member=member)) == (
            "REQUIRED",
            "license_id: 请填写证照标识（license_id is required）",
        )

    for changes, answer in (
        ({"matter_code": ""}, ("REQUIRED", "matter_code: 请填写事项编码（matter_code is required）")),
        (
            {"matter_code": "X-1"},
            ("UNKNOWN_MATTER", "matter_code: 事项目录中没有事项编码 X-1，请按事项目录填写（unknown matter 'X-1'）"),
        ),
        (
            {"type_codes": []},
            ("REQUIRED", "license_ids: 请至少指明一个证照或一类证照（name at least one license or license type）"),
        ),
        (
            {"type_codes": [f"T{i}" for i in range(21)]},
            ("TOO_MANY", "license_ids: 一项授权至多指明20个证照、20类证照（at most 20 licenses and types）"),
        ),
        (
            {"type_codes": ["T1"]},
            (
                "UNKNOWN_LICENSE_TYPE",
                "type_codes[0]: 证照目录中没有证照类型代码 T1，请按证照目录填写（unknown license type 'T1'）",
            ),
        ),
        ({"holder_code": " "}, ("REQUIRED", missing_holder)),
    ):
        request = consent_request(card.holder.code, **changes)
        assert said(partial(portal.GrantConsent, request)) == answer, changes
    withdraw = authorization_pb2.WithdrawConsentRequest(consent_id="", holder_code=card.holder.code)
    assert said(lambda: portal.WithdrawConsent(withdraw)) == (
        "REQUIRED",
        "consent_id: 请填写授权编号（consent_id is required）",
    )
    assert said(lambda: decide_request(running, "", APPROVE)) == (
        "REQUIRED",
        "request_id: 请填写共享申请编号（request_id is required）",
    )
    assert said(partial(decide_request, running, "some-request", 0)) == (
        "REQUIRED",
        "decision: 审批决定须为批准、驳回或撤回（decision is APPROVE, REJECT or WITHDRAW）",
    )
    # one the API does not define (a newer client's) is not "empty" (an integrator), as an unknown view is not
    assert said(partial(decide_request, running, "some-request", 99)) == (
        "UNKNOWN_DECISION",
        "decision: 未知的审批决定 99：须为批准、驳回或撤回（unknown decision 99: APPROVE, REJECT or WITHDRAW）",
    )


# --- consents -------------------------------------------------------------------------------------------------------


def test_consents_are_listed_with_their_state_and_never_their_code(running: RunningGateway) -> None:
    card = id_card(running).license
    first = grant(running, card.holder.code, uses=2)
    second = grant(running, card.holder.code, grantee=PARTNER, matter=SBZY.matter_code,
                   license_ids=(card.license_id,), type_codes=())  # fmt: skip
    assert first.code != second.code
    listed = authorization(running, PORTAL).ListConsents(
        authorization_pb2.ListConsentsRequest(holder_code=card.holder.code)
    )
    assert [c.consent_id for c in listed.consents] == [second.consent.consent_id, first.consent.consent_id]
    assert listed.consents[1].grantee_name == "济南市不动产登记中心" and listed.consents[1].portal_code == PORTAL
    assert first.code not in str(listed)
    assert [(r.action, r.decision) for r in records_of(running, card.holder.code)] == [
        ("LIST_CONSENTS", "LISTED"),
        ("GRANT_CONSENT", "GRANTED"),
        ("GRANT_CONSENT", "GRANTED"),
    ]
    # withdrawing is for the holder's own consents only, and saying it twice changes nothing
    other = id_card(running).license
    code, reason, _ = refused(lambda: authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=first.consent.consent_id, holder_code=other.holder.code)
    ))  # fmt: skip
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "CONSENT_NOT_FOUND")
    for _ in range(2):
        again = authorization(running, PORTAL).WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(consent_id=first.consent.consent_id, holder_code=card.holder.code)
        )
        assert again.consent.state == authorization_pb2.CONSENT_STATE_WITHDRAWN
    # withdrawn once on the holder's log; the repeat is there as what it was, no change (a holder-portal tester)
    withdrawals = [r for r in records_of(running, card.holder.code) if r.action == "WITHDRAW_CONSENT"]
    assert [(r.decision, r.decision_words, r.reason) for r in withdrawals] == [
        ("UNCHANGED", "无变化（授权已用完、已过期或已撤回）", f"consent={first.consent.consent_id} by=HOLDER"),
        ("WITHDRAWN", "已撤回", f"consent={first.consent.consent_id} by=HOLDER"),
    ]


def test_a_used_up_consent_withdrawn_stays_used_up(running: RunningGateway) -> None:
    """Withdrawing a consent that grants nothing any more (used up, expired) leaves it as it is and answers it so:
    it had become WITHDRAWN, and the holder's list no longer said that it had been used (a holder-portal tester)."""
    card = id_card(running).license
    granted = grant(running, card.holder.code, license_ids=(card.license_id,), type_codes=())
    data(running, card.license_id, BDCZY, code=granted.code)
    before = len(records_of(running, card.holder.code))
    answered = authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=card.holder.code)
    )
    assert (answered.consent.state, answered.consent.HasField("withdrawn_at")) == (
        authorization_pb2.CONSENT_STATE_USED_UP,
        False,
    )
    (said,) = records_of(running, card.holder.code)[: len(records_of(running, card.holder.code)) - before]
    assert (said.action, said.decision) == ("WITHDRAW_CONSENT", "UNCHANGED")


def list_all_consents(running: RunningGateway, holder_code: str, limit: int) -> list[list[str]]:
    """The ids of a holder's consents, page by page, following next_page_token to the end."""
    pages, token = [], ""
    while True:
        page = authorization(running, PORTAL).ListConsents(
            authorization_pb2.ListConsentsRequest(holder_code=holder_code, limit=limit, page_token=token)
        )
        pages.append([c.consent_id for c in page.consents])
        token = page.next_page_token
        if not token:
            return pages


def test_consents_page_and_every_consent_is_listed_once(running: RunningGateway) -> None:
    """A holder with 505 consents saw the newest 500 and no page token: an older consent still in force could not
    be found to withdraw it (found by an independent client). Paging is exact when consents share a time, as a
    portal's batch may: 505 consents in 101 groups of five granted at one instant."""
    card = id_card(running).license
    granted = [grant(running, card.holder.code).consent.consent_id for _ in range(2)]
    base = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).replace(microsecond=0)
    rows = [
        {
            "consent_id": uuid.uuid4().hex,
            "code_sha256": uuid.uuid4().hex * 2,
            "holder_code": card.holder.code,
            "portal": PORTAL,
            "grantee": REAL_ESTATE,
            "matter_code": BDCZY.matter_code,
            "license_ids": [],
            "type_codes": [ID_CARD],
            "valid_until": base + dt.timedelta(days=300),
            "uses_allowed": 1,
            "uses_left": 1,
            "withdrawn_at": None,
            "created_at": base + dt.timedelta(seconds=i // 5),
        }
        for i in range(503)
    ]
    with running.gateway.db.engine.begin() as connection:
        connection.execute(insert(ConsentRow), rows)
    newest_first = [*reversed(granted), *(r["consent_id"] for r in sorted(
        rows, key=lambda r: (r["created_at"], r["consent_id"]), reverse=True))]  # fmt: skip
    # a page that ends the list names no next one: 505 in pages of 101 had been followed by an empty page (505 is
    # taken as 500)
    for limit, pages in ((0, 6), (500, 2), (7, 73), (505, 2), (101, 5)):
        listed = list_all_consents(running, card.holder.code, limit)
        assert [i for page in listed for i in page] == newest_first, limit
        assert len(listed) == pages and all(listed), limit
    token = (
        authorization(running, PORTAL)
        .ListConsents(authorization_pb2.ListConsentsRequest(holder_code=card.holder.code, limit=3))
        .next_page_token
    )
    # a token cut short or changed in case had been read as another place in the list (a holder-portal tester)
    for edited in ("abc", token[:-2], token.upper()):
        code, _, violations = refused(lambda edited=edited: authorization(running, PORTAL).ListConsents(
            authorization_pb2.ListConsentsRequest(holder_code=card.holder.code, page_token=edited)
        ))  # fmt: skip
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("page_token", "BAD_PAGE_TOKEN")]), edited


def test_a_consents_page_reads_about_a_page_of_rows_however_deep_it_is(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page of ListConsents had read every consent before its cursor again (a window of all those listed and a
    page more, from each index), so page 50 cost 20-30 times page 2 and a whole listing grew with the square of the
    consents (a reviewer, R3). It reads from the cursor (its time and id) on: at most a page and one more from each
    index, on the first page and the last alike, and lists every consent once, in order, 60 of them granted at one
    instant among them (a portal's batch), more than a page."""
    card = id_card(running).license
    base = (dt.datetime.now(dt.UTC) - dt.timedelta(days=20)).replace(microsecond=0)
    rows = [
        {
            "consent_id": uuid.uuid4().hex,
            "code_sha256": uuid.uuid4().hex * 2,
            "holder_code": card.holder.code,
            "portal": PORTAL,
            "grantee": REAL_ESTATE,
            "matter_code": BDCZY.matter_code,
            "license_ids": [],
            "type_codes": [ID_CARD],
            "valid_until": base + dt.timedelta(days=300),
            "uses_allowed": 1,
            "uses_left": 1,
            "withdrawn_at": None,
            "created_at": base + dt.timedelta(seconds=min(i, 100) if i < 160 else i),  # 100-159 at one instant
        }
        for i in range(600)
    ]
    with running.gateway.db.engine.begin() as connection:
        connection.execute(insert(ConsentRow), rows)
    newest_first = [r["consent_id"] for r in sorted(rows, key=lambda r: (r["created_at"], r["consent_id"]))][::-1]
    read: list[int] = [0]
    as_stored = repositories._consent

    def counted(row: Any) -> Any:
        read[0] += 1
        return as_stored(row)

    monkeypatch.setattr(repositories, "_consent", counted)
    limit, token, listed, per_page = 25, "", [], []
    while True:
        read[0] = 0
        page = authorization(running, PORTAL).ListConsents(
            authorization_pb2.ListConsentsRequest(holder_code=card.holder.code, limit=limit, page_token=token)
        )
        per_page.append(read[0])
        listed += [c.consent_id for c in page.consents]
        token = page.next_page_token
        if not token:
            break
    assert listed == newest_first
    assert len(per_page) == 24 and max(per_page) <= 2 * (limit + 1), per_page
    # a token sealed before the keyset, with the count listed up to it first, goes on where it was
    service = running.gateway.authorization
    assert service is not None
    ended = next(r for r in rows if r["consent_id"] == listed[limit - 1])["created_at"]
    micros = (ended - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    listing = Listing("ListConsents", PORTAL, (f"holder_code={card.holder.code}",))
    old = service._pages.token(f"{limit}.{micros}.{listed[limit - 1]}", listing)
    page = authorization(running, PORTAL).ListConsents(
        authorization_pb2.ListConsentsRequest(holder_code=card.holder.code, limit=limit, page_token=old)
    )
    assert [c.consent_id for c in page.consents] == listed[limit : 2 * limit]


def test_a_consents_page_token_is_read_by_the_previous_release_too(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replicas of this release and the one before serve one store during a rolling update (or after a rollback on
    one of them): a portal's next page may go to either. The previous release reads a token's position as
    "count.micros.id"; this one had written "micros.id", which that release's reading failed on, INTERNAL for the
    portal (a reviewer, R3). It writes a count of 0 first, which that release takes (the count sized only its first
    read) and this one ignores."""
    from gateway.services import authorization as service_module

    card = id_card(running).license
    base = (dt.datetime.now(dt.UTC) - dt.timedelta(days=5)).replace(microsecond=0)
    rows = [
        {
            "consent_id": uuid.uuid4().hex,
            "code_sha256": uuid.uuid4().hex * 2,
            "holder_code": card.holder.code,
            "portal": PORTAL,
            "grantee": REAL_ESTATE,
            "matter_code": BDCZY.matter_code,
            "license_ids": [],
            "type_codes": [ID_CARD],
            "valid_until": base + dt.timedelta(days=300),
            "uses_allowed": 1,
            "uses_left": 1,
            "withdrawn_at": None,
            "created_at": base + dt.timedelta(seconds=i),
        }
        for i in range(5)
    ]
    with running.gateway.db.engine.begin() as connection:
        connection.execute(insert(ConsentRow), rows)
    asked = authorization_pb2.ListConsentsRequest(holder_code=card.holder.code, limit=2)
    first = authorization(running, PORTAL).ListConsents(asked)
    assert first.next_page_token
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def previous_release(_cls: type, position: str | None) -> Any:
        """The previous release's reading of the position (its cursor held the count too)."""
        if position is None:
            return None
        seen, micros, consent_id = position.split(".")
        assert int(seen) >= 0
        return service_module._ConsentCursor(key=(epoch + int(micros) * dt.timedelta(microseconds=1), consent_id))

    monkeypatch.setattr(service_module._ConsentCursor, "parse", classmethod(previous_release))
    asked.page_token = first.next_page_token
    second = authorization(running, PORTAL).ListConsents(asked)
    newest_first = [r["consent_id"] for r in rows][::-1]
    assert [c.consent_id for c in [*first.consents, *second.consents]] == newest_first[:4]
    monkeypatch.undo()  # this release reads the form ea838a2 wrote, without the count, as well
    service = running.gateway.authorization
    assert service is not None
    ended = rows[-2]["created_at"]
    listing = Listing("ListConsents", PORTAL, (f"holder_code={card.holder.code}",))
    asked.page_token = service._pages.token(
        f"{(ended - epoch) // dt.timedelta(microseconds=1)}.{rows[-2]['consent_id']}", listing
    )
    assert [c.consent_id for c in authorization(running, PORTAL).ListConsents(asked).consents] == newest_first[2:4]


def test_a_consents_page_token_is_taken_for_its_holder_only(running: RunningGateway) -> None:
    """A consents page token had been a consent's time and id: taken for another holder as a place in their list
    (an integrator, D2), and one written by hand as a place anywhere. It is sealed to the portal and the holder."""
    first, second = (id_card(running).license.holder.code for _ in range(2))
    granted = {holder: [grant(running, holder).consent.consent_id for _ in range(2)] for holder in (first, second)}
    portal = authorization(running, PORTAL)
    page = portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=first, limit=1))
    assert [c.consent_id for c in page.consents] == [granted[first][1]] and page.next_page_token
    following = portal.ListConsents(
        authorization_pb2.ListConsentsRequest(holder_code=first, limit=1, page_token=page.next_page_token)
    )
    assert [c.consent_id for c in following.consents] == [granted[first][0]]
    newest = page.consents[0]
    micros = newest.created_at.seconds * 1_000_000 + newest.created_at.nanos // 1000
    before = record_count(running)
    for holder, token in (
        (second, page.next_page_token),  # another holder's
        (first, f"1.{micros}.{newest.consent_id}"),  # the form tokens had before they were sealed
        (first, f"1.{micros + 1}.{'f' * 32}"),  # made up: had listed every consent of the holder
    ):
        code, _, violations = refused(lambda holder=holder, token=token: portal.ListConsents(
            authorization_pb2.ListConsentsRequest(holder_code=holder, page_token=token)))  # fmt: skip
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("page_token", "BAD_PAGE_TOKEN")]), token
    assert record_count(running) == before


def consent_request(holder_code: str, /, **changes: Any) -> authorization_pb2.GrantConsentRequest:
    until = Timestamp()
    until.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    values: dict[str, Any] = {
        "holder_code": holder_code,
        "grantee_code": REAL_ESTATE,
        "matter_code": BDCZY.matter_code,
        "type_codes": [ID_CARD],
        "valid_until": until,
        **changes,
    }
    return authorization_pb2.GrantConsentRequest(**values)


def past() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    return stamp


@pytest.mark.parametrize(
    ("changes", "violation"),
    [
        ({"holder_code": ""}, ("holder_code", "REQUIRED")),
        ({"type_codes": []}, ("license_ids", "REQUIRED")),
        ({"type_codes": ["11100000991000019E003"]}, ("type_codes[0]", "NOT_USED_BY_MATTER")),  # a 驾驶证
        # 不动产转移登记 lists the 护照 for verification only: no consent lets it read one
        ({"type_codes": ["111000009910000279001"]}, ("type_codes[0]", "NEVER_SHARED")),
        ({"grantee_code": PORTAL}, ("grantee_code", "UNKNOWN_GRANTEE")),
        ({"grantee_code": ADMIN}, ("grantee_code", "UNKNOWN_GRANTEE")),
        ({"grantee_code": TAX}, ("matter_code", "NOT_GRANTEES_MATTER")),  # it could never present the code
        ({"matter_code": "NOPE"}, ("matter_code", "UNKNOWN_MATTER")),
        ({"uses": 101}, ("uses", "BAD_USES")),
        ({"valid_until": None}, ("valid_until", "REQUIRED")),
        ({"valid_until": "past"}, ("valid_until", "BAD_VALIDITY")),
        # outside protobuf's Timestamp range (after 9999-12-31, before year 1): it was INTERNAL with a traceback
        ({"valid_until": Timestamp(seconds=253402300800)}, ("valid_until", "BAD_VALIDITY")),
        ({"valid_until": Timestamp(seconds=2**62)}, ("valid_until", "BAD_VALIDITY")),
        ({"valid_until": Timestamp(seconds=-(2**40))}, ("valid_until", "BAD_VALIDITY")),
        ({"license_ids": ["OTHER"]}, ("license_ids[0]", "NOT_THE_HOLDERS_LICENSE")),
        # a company's consent to its 居民身份证 covers nothing (a holder-portal tester)
        ({"holder_code": "COMPANY"}, ("type_codes[0]", "TYPE_NOT_FOR_HOLDER")),
    ],
)
def test_bad_consents(running: RunningGateway, changes: dict[str, Any], violation: tuple[str, str]) -> None:
    card = id_card(running).license
    if changes.get("valid_until") == "past":
        changes = {"valid_until": past()}
    if changes.get("license_ids") == ["OTHER"]:
        changes = {"license_ids": [id_card(running).license.license_id]}  # another holder's
    if changes.get("holder_code") == "COMPANY":
        changes = {"holder_code": business_license(running)[1]}
    request = consent_request(card.holder.code, **changes)
    if "valid_until" in changes and changes["valid_until"] is None:
        request.ClearField("valid_until")
    before = record_count(running)
    code, _, violations = refused(lambda: authorization(running, PORTAL).GrantConsent(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violation in violations
    # nothing granted; only an attempt on another holder's license is recorded, on that holder's log
    assert record_count(running) == before + (violation[1] == "NOT_THE_HOLDERS_LICENSE")


@pytest.mark.parametrize("holder", ["person", "company"])
@pytest.mark.parametrize("call", ["GrantConsent", "WithdrawConsent", "ListConsents", "ListAccessRecords"])
def test_a_holder_code_with_a_wrong_check_character_is_refused_by_the_consent_and_audit_calls(
    running: RunningGateway, holder: str, call: str
) -> None:
    """A 用证码 was granted for a person who cannot exist, and a holder's uses listed as none: the code is checked as
    issuance checks it, by the type its form tells (found by an independent client)."""
    wrong = wrong_check(id_card(running).license.holder.code if holder == "person" else business_license(running)[1])
    requests: dict[str, Callable[[], Any]] = {
        "GrantConsent": lambda: authorization(running, PORTAL).GrantConsent(consent_request(wrong)),
        "WithdrawConsent": lambda: authorization(running, PORTAL).WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(consent_id="x", holder_code=wrong)
        ),
        "ListConsents": lambda: authorization(running, PORTAL).ListConsents(
            authorization_pb2.ListConsentsRequest(holder_code=wrong)
        ),
        "ListAccessRecords": lambda: audit_pb2_grpc.AuditServiceStub(running.channel(PORTAL)).ListAccessRecords(
            audit_pb2.ListAccessRecordsRequest(holder_code=wrong)
        ),
    }
    before = record_count(running)
    code, _, violations = refused(requests[call])
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("holder_code", "BAD_CHECK_CHARACTER")])
    assert record_count(running) == before


def test_a_holder_code_without_a_check_character_is_taken_as_it_is(running: RunningGateway) -> None:
    """A passport number and the like carry no check character."""
    listed = authorization(running, PORTAL).ListConsents(authorization_pb2.ListConsentsRequest(holder_code="E12345678"))
    assert not listed.consents


def test_a_consent_for_a_citizen_id_typed_with_a_lower_case_x_is_the_holders(running: RunningGateway) -> None:
    code, born = person_with_x()
    card = id_card(running, code, born).license
    granted = authorization(running, PORTAL).GrantConsent(consent_request(code.lower()))
    assert granted.consent.holder_code == code
    assert fields_of(data(running, card.license_id, BDCZY, code=granted.code))["citizen_id"] == code
    listed = records_of(running, code.lower())  # the holder's uses, found by the code as typed
    assert [(r.action, r.decision) for r in listed[:2]] == [
        ("GET_LICENSE_DATA", "PERMIT"),
        ("GRANT_CONSENT", "GRANTED"),
    ]


def test_an_operator_id_that_is_not_utf8_is_refused_by_the_authorisation_calls(running: RunningGateway) -> None:
    """As by sharing and verification: not written into the audit trail with replacement characters."""
    card = id_card(running).license
    garbled = [("x-zzgw-operator-bin", "窗口".encode("gbk"))]
    before = record_count(running)
    for call in (
        lambda: authorization(running, PORTAL).GrantConsent(consent_request(card.holder.code), metadata=garbled),
        lambda: authorization(running, PORTAL).ListConsents(
            authorization_pb2.ListConsentsRequest(holder_code=card.holder.code), metadata=garbled
        ),
    ):
        code, _, violations = refused(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and ("x-zzgw-operator", "BAD_OPERATOR") in violations
    assert record_count(running) == before


@pytest.mark.parametrize(
    ("member", "call"),
    [
        (TAX, "GrantConsent"),
        (TAX, "DecideAccessRequest"),
        (PORTAL, "RequestAccess"),
        (PORTAL, "ListAccessRequests"),
        (POLICE, "ListConsents"),
        (ADMIN, "WithdrawConsent"),
        (PORTAL, "CancelAccessRequest"),
        (HEALTH, "CancelAccessRequest"),
    ],
)
def test_roles(running: RunningGateway, member: str, call: str) -> None:
    requests = {
        "GrantConsent": authorization_pb2.GrantConsentRequest(),
        "DecideAccessRequest": authorization_pb2.DecideAccessRequestRequest(),
        "RequestAccess": authorization_pb2.RequestAccessRequest(),
        "ListAccessRequests": authorization_pb2.ListAccessRequestsRequest(),
        "ListConsents": authorization_pb2.ListConsentsRequest(),
        "WithdrawConsent": authorization_pb2.WithdrawConsentRequest(),
        "CancelAccessRequest": authorization_pb2.CancelAccessRequestRequest(),
    }
    code, reason, _ = refused(lambda: getattr(authorization(running, member), call)(requests[call]))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")


# --- the audit trail ------------------------------------------------------------------------------------------------


def test_every_answered_call_leaves_exactly_one_record_and_the_chain_holds(running: RunningGateway) -> None:
    license_id, uscc = business_license(running, 31)
    card = id_card(running).license
    holder = card.holder.code
    before = record_count(running)
    answered = 0

    def answer(call: Callable[[], Any]) -> Any:
        nonlocal answered
        result = call()
        answered += 1
        return result

    def deny(call: Callable[[], Any]) -> None:
        nonlocal answered
        denied(call)
        answered += 1

    def refuse(call: Callable[[], Any]) -> None:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)

    stub, portal = sharing(running), authorization(running, PORTAL)
    listing = sharing_pb2.ListHolderLicensesRequest(use=FPSL, holder_code_type="001", holder_code=uscc)
    document = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
    form = sharing_pb2.PrefillFormRequest(use=FPSL, holder_code_type="001", holder_code=uscc, field_keys=["uscc"])
    answer(lambda: stub.ListHolderLicenses(listing))
    answer(lambda: data(running, license_id))
    answer(lambda: stub.GetLicenseDocument(document))
    answer(lambda: stub.PrefillForm(form))
    deny(lambda: data(running, card.license_id, BDCZY))
    submitted = answer(lambda: request_access(running))
    answer(lambda: queue(running))
    answer(lambda: decide_request(running, submitted.request_id, REJECT, reason="不符"))
    granted = answer(lambda: grant(running, holder, uses=2))
    answer(lambda: data(running, card.license_id, BDCZY, code=granted.code))
    withdraw = authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=holder)
    answer(lambda: portal.WithdrawConsent(withdraw))
    deny(lambda: data(running, card.license_id, BDCZY, code=granted.code))
    answer(lambda: portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=holder)))
    # errors before any license is used are not uses
    unknown = str(LicenseId(type_code=BUSINESS_LICENSE, issuer_code=MARKET, serial="Z9", version=1))
    refuse(lambda: data(running, license_id, verification_pb2.UseContext(purpose="x")))
    refuse(lambda: data(running, license_id, verification_pb2.UseContext(matter_code=FPSL.matter_code)))
    refuse(lambda: data(running, license_id[:-1] + ("0" if license_id[-1] != "0" else "1")))  # bad check character
    refuse(lambda: data(running, unknown))
    refuse(lambda: request_access(running, duration_days=0))
    refuse(lambda: authorization(running, PORTAL).ListConsents(authorization_pb2.ListConsentsRequest()))

    assert record_count(running) - before == answered == 13
    check = audit_pb2_grpc.AuditServiceStub(running.channel(ADMIN)).VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
    assert check.ok, check
    # the holder sees who used the card, for what, and what was decided
    seen = [(r.caller, r.caller_name, r.action, r.decision) for r in reversed(records_of(running, holder))]
    assert [s[2:] for s in seen] == [
        ("GET_LICENSE_DATA", "DENY"),
        ("GRANT_CONSENT", "GRANTED"),
        ("GET_LICENSE_DATA", "PERMIT"),
        ("WITHDRAW_CONSENT", "WITHDRAWN"),
        ("GET_LICENSE_DATA", "DENY"),
        ("LIST_CONSENTS", "LISTED"),
    ]
    assert seen[0][:2] == (REAL_ESTATE, "济南市不动产登记中心")
    # in the words a holder reads, with the matter's name (a holder-portal tester: codes alone, DENY and DENIED)
    said = [(r.action_words, r.decision_words, r.matter_name) for r in reversed(records_of(running, holder))]
    reasons = {(r.reason, r.reason_words) for r in records_of(running, holder) if r.decision in ("DENY", "DENIED")}
    assert reasons == {
        ("NEEDS_AUTHORIZATION", "有条件共享，需发证部门审批或用证授权"),
        ("CONSENT_WITHDRAWN", "持证人已撤回授权"),
    }
    assert said[:3] == [
        ("调取证照数据", "拒绝", "不动产转移登记"),
        ("授权用证（持证人或其监护人）", "已授权", "不动产转移登记"),
        ("调取证照数据", "准予", "不动产转移登记"),
    ]
    assert said[-1] == ("查看授权", "已列出", "")
    # the issuer sees the uses of its licenses, the decision on the request among them
    own = audit_pb2_grpc.AuditServiceStub(running.channel(POLICE)).ListAccessRecords(
        audit_pb2.ListAccessRecordsRequest(limit=500)
    )
    actions = {(r.action, r.decision) for r in own.records}
    assert {("REQUEST_ACCESS", "SUBMITTED"), ("DECIDE_ACCESS_REQUEST", "REJECTED")} <= actions


def test_a_grant_retried_with_its_key_is_the_same_consent_and_code_for_a_day(clocked: Clocked) -> None:
    """A portal whose GrantConsent answer was lost (a timeout, a dropped connection) had no way to the code of the
    consent it had made, shown once and stored only as a hash (found rereading the last stop's note). With a
    client_request_id, a retry gets the same consent and code, and no second consent is made; the code given again is
    on the holder's log; another request under the key is REQUEST_ID_REUSED; after 24 hours the code is no longer kept
    (CONSENT_CODE_NOT_KEPT, naming the consent to withdraw), and its sealed copy is cleared from the store."""
    running, clock = clocked.running, clocked.clock
    card = id_card(running).license
    until = Timestamp()
    until.FromDatetime(clock.now() + dt.timedelta(days=3))
    key = "portal-" + uuid.uuid4().hex
    asked = consent_request(card.holder.code, valid_until=until, client_request_id=key, uses=2)
    portal = authorization(running, PORTAL)
    first = portal.GrantConsent(asked)
    again = portal.GrantConsent(asked)
    assert (again.consent.consent_id, again.code) == (first.consent.consent_id, first.code) and first.code
    listed = portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=card.holder.code))
    assert [c.consent_id for c in listed.consents] == [first.consent.consent_id]
    grants = [r for r in records_of(running, card.holder.code) if r.action == "GRANT_CONSENT"]
    assert [(r.decision, r.reason) for r in grants] == [
        ("REPEATED", f"consent={first.consent.consent_id}"),
        ("GRANTED", f"consent={first.consent.consent_id}"),
    ]
    # the code works, once per use granted, whichever answer carried it
    assert fields_of(data(running, card.license_id, BDCZY, code=first.code))["name"] == card.holder.name

    with pytest.raises(grpc.RpcError) as reused:
        portal.GrantConsent(consent_request(card.holder.code, valid_until=until, client_request_id=key, uses=3))
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info, _ = error_details(reused.value)  # naming no consent: under a key reused for another holder, it is theirs
    assert (info.reason, dict(info.metadata)) == ("REQUEST_ID_REUSED", {})
    code, _, violations = refused(lambda: portal.GrantConsent(consent_request(card.holder.code, client_request_id="é")))
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("client_request_id", "BAD_FORMAT")])

    # the store holds the code sealed, never in the clear, and only for a day
    with running.gateway.db.engine.connect() as connection:
        row = connection.execute(select(ConsentRow).where(ConsentRow.consent_id == first.consent.consent_id)).one()
    assert row.code_sealed and first.code.encode() not in row.code_sealed
    assert first.code not in " ".join(map(str, row)) and first.code.replace("-", "") not in " ".join(map(str, row))
    clock.advance(dt.timedelta(hours=24, seconds=1))
    with pytest.raises(grpc.RpcError) as late:
        portal.GrantConsent(asked)
    assert late.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info, _ = error_details(late.value)
    assert (info.reason, dict(info.metadata)) == ("CONSENT_CODE_NOT_KEPT", {"consent_id": first.consent.consent_id})
    assert "请撤回该授权" in (late.value.details() or "")
    portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=id_card(running).license.holder.code))
    # any portal's next grant, withdrawal or listing clears the codes kept past their day
    with running.gateway.db.engine.connect() as connection:
        kept = connection.execute(
            select(ConsentRow.code_sealed).where(ConsentRow.consent_id == first.consent.consent_id)
        ).scalar_one()
    assert kept is None


def test_grants_sent_at_once_with_one_key_make_one_consent(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries that overlap (a portal's two workers) make one consent and all get its code: the store's unique key
    decides, and the losers are answered as retries. The loser's path is taken for sure: its first look finds
    nothing, as when the winner had not committed yet (a burst alone had not always reached it; found in review)."""
    from gateway.store.repositories import ConsentRepository

    card = id_card(running).license
    asked = consent_request(card.holder.code, client_request_id="burst-" + uuid.uuid4().hex)
    portal = authorization(running, PORTAL)
    with futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: portal.GrantConsent(asked), range(4)))
    assert len({(a.consent.consent_id, a.code) for a in answers}) == 1
    listed = portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=card.holder.code))
    assert [c.consent_id for c in listed.consents] == [answers[0].consent.consent_id]

    look, looks = ConsentRepository.by_client_request_id, []

    def late(self: ConsentRepository, portal_code: str, key: str) -> Any:
        looks.append(key)
        return None if len(looks) == 1 else look(self, portal_code, key)  # the first look: not committed yet

    monkeypatch.setattr(ConsentRepository, "by_client_request_id", late)
    again = portal.GrantConsent(asked)
    assert (again.consent.consent_id, again.code, len(looks)) == (answers[0].consent.consent_id, answers[0].code, 2)


def test_a_retry_is_the_same_request_however_it_is_spelt(running: RunningGateway) -> None:
    """The request's digest is of what it grants: uses left out is 1, a type named twice once (they had been
    REQUEST_ID_REUSED); and fields cannot be shifted into one another (a license moved into the matter's code had
    been answered as the retry; found in review)."""
    card = id_card(running).license
    portal = authorization(running, PORTAL)
    key, until = "spelt-" + uuid.uuid4().hex, consent_request(card.holder.code).valid_until
    first = portal.GrantConsent(consent_request(card.holder.code, client_request_id=key, valid_until=until))
    for spelt in ({"uses": 1}, {"type_codes": [ID_CARD, ID_CARD]}):
        again = portal.GrantConsent(
            consent_request(card.holder.code, client_request_id=key, valid_until=until, **spelt)
        )
        assert (again.consent.consent_id, again.code) == (first.consent.consent_id, first.code), spelt
    other = "one-" + uuid.uuid4().hex
    portal.GrantConsent(
        consent_request(card.holder.code, client_request_id=other, license_ids=[card.license_id], type_codes=[])
    )
    shifted = consent_request(
        card.holder.code,
        client_request_id=other,
        matter_code=BDCZY.matter_code + "\x1f" + card.license_id,
        type_codes=[],
    )
    code, reason, _ = refused(lambda: portal.GrantConsent(shifted))
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_REUSED")


def test_withdrawals_at_once_leave_one_record(running: RunningGateway) -> None:
    """Overlapping withdrawals (a double click, a retry after a timeout) had each read the consent as active and
    each logged a withdrawal on PostgreSQL (found in review): the update decides, under the row's lock."""
    card = id_card(running).license
    granted = grant(running, card.holder.code, uses=2)
    withdraw = authorization_pb2.WithdrawConsentRequest(
        consent_id=granted.consent.consent_id, holder_code=card.holder.code
    )
    portal = authorization(running, PORTAL)
    with futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: portal.WithdrawConsent(withdraw), range(6)))
    assert {a.consent.state for a in answers} == {authorization_pb2.CONSENT_STATE_WITHDRAWN}
    withdrawals = [r.decision for r in records_of(running, card.holder.code) if r.action == "WITHDRAW_CONSENT"]
    assert sorted(withdrawals) == ["UNCHANGED"] * 5 + ["WITHDRAWN"]


def test_a_retry_after_a_withdrawal_puts_no_grant_on_the_log(running: RunningGateway) -> None:
    """A retry handed back a withdrawn consent's code and logged 已授权 after the holder's 已撤回 (found in review): it
    is on the log as a repeat."""
    card = id_card(running).license
    portal = authorization(running, PORTAL)
    asked = consent_request(card.holder.code, client_request_id="after-" + uuid.uuid4().hex)
    first = portal.GrantConsent(asked)
    portal.WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=first.consent.consent_id, holder_code=card.holder.code)
    )
    again = portal.GrantConsent(asked)
    assert (again.consent.state, again.code) == (authorization_pb2.CONSENT_STATE_WITHDRAWN, first.code)
    newest = [(r.action, r.decision) for r in records_of(running, card.holder.code)][:2]
    assert newest == [("GRANT_CONSENT", "REPEATED"), ("WITHDRAW_CONSENT", "WITHDRAWN")]


def test_a_sealed_code_opens_only_for_its_own_consent_portal_key_and_secret() -> None:
    import dataclasses

    from gateway.services.authorization import CodeSealer
    from gateway.store.repositories import StoredConsent

    now = dt.datetime.now(dt.UTC)
    consent = StoredConsent(
        consent_id="consent-a", code_sha256="", holder_code="H", portal="P1", grantee="G", matter_code="M",
        license_ids=(), type_codes=("T",), valid_until=now, uses_allowed=1, uses_left=1, created_at=now,
        client_request_id="k-1", client_digest="d",
    )  # fmt: skip
    sealer = CodeSealer(b"s" * 32)
    sealed = sealer.seal(consent, "ABCD-EFGH-JKLM")
    assert sealer.open(consent, sealed) == "ABCD-EFGH-JKLM"
    for moved in ({"consent_id": "consent-b"}, {"portal": "P2"}, {"client_request_id": "k-2"}, {"client_digest": "e"}):
        assert sealer.open(dataclasses.replace(consent, **moved), sealed) is None, moved  # another row, portal, key
    assert CodeSealer(b"t" * 32).open(consent, sealed) is None  # another key store's
    assert sealer.open(consent, sealed[:-1] + bytes([sealed[-1] ^ 1])) is None
    assert sealer.open(consent, b"") is None


def test_a_grant_whose_caller_stopped_waiting_makes_no_consent(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant committed after its client's deadline had made a live consent whose code no one received, on the
    holder's log; 17 of 20 timed-out grants had (a holder-portal tester). Committed only while the caller waits."""
    from gateway.services.authorization import AuthorizationService
    from gateway.store.repositories import ConsentRepository

    card = id_card(running).license
    add, grant_consent, settled = ConsentRepository.add, AuthorizationService.grant_consent, threading.Event()

    def slow(self: ConsentRepository, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.6)  # the store is slow today: the portal gives up meanwhile
        add(self, *args, **kwargs)

    def watched(self: AuthorizationService, *args: Any, **kwargs: Any) -> Any:
        try:
            return grant_consent(self, *args, **kwargs)
        finally:  # its transaction ended, committed or not
            settled.set()

    monkeypatch.setattr(ConsentRepository, "add", slow)
    monkeypatch.setattr(AuthorizationService, "grant_consent", watched)
    with pytest.raises(grpc.RpcError) as late:
        authorization(running, PORTAL).GrantConsent(consent_request(card.holder.code), timeout=0.3)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert settled.wait(10)
    monkeypatch.setattr(ConsentRepository, "add", add)
    listed = authorization(running, PORTAL).ListConsents(
        authorization_pb2.ListConsentsRequest(holder_code=card.holder.code)
    )
    assert not listed.consents
    assert not [r for r in records_of(running, card.holder.code) if r.action == "GRANT_CONSENT"]


def test_a_portal_lists_its_holders_licenses_to_name_in_a_consent(running: RunningGateway) -> None:
    """A portal saw a license's identifier only once a department had used it (a holder-portal tester): it lists
    the current licenses of its holder, with type, issuer, number, validity and status (an amended one by its
    version in force), and no field's value; on the holder's log; portals only."""
    card = id_card(running).license
    request = authorization_pb2.ListConsentableLicensesRequest(holder_code=card.holder.code)
    before = len(records_of(running, card.holder.code))
    (listed,) = authorization(running, PORTAL).ListConsentableLicenses(request).licenses
    assert (listed.license_id, listed.type_name, listed.issuer_name, listed.holder_code) == (
        card.license_id,
        "居民身份证",
        "济南市公安局",
        card.holder.code,
    )
    assert (listed.license_number, listed.valid_from, listed.status) == (
        card.license_number,
        card.valid_from,
        common_pb2.LICENSE_STATUS_ACTIVE,
    )
    # on the holder's log: a person's register, numbers included, is the most a portal reads (a security tester)
    (said,) = records_of(running, card.holder.code)[: len(records_of(running, card.holder.code)) - before]
    assert (said.action, said.decision, said.reason, said.caller) == (
        "LIST_CONSENTABLE_LICENSES",
        "LISTED",
        "licenses=1",
        PORTAL,
    )
    granted = grant(running, card.holder.code, license_ids=(listed.license_id,), type_codes=())
    assert granted.consent.license_ids == [card.license_id]
    code, reason, _ = refused(lambda: authorization(running, TAX).ListConsentableLicenses(request))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")
    code, _, violations = refused(lambda: authorization(running, PORTAL).ListConsentableLicenses(
        authorization_pb2.ListConsentableLicensesRequest(holder_code=wrong_check(card.holder.code))
    ))  # fmt: skip
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("holder_code", "BAD_CHECK_CHARACTER")])
    assert (
        not authorization(running, PORTAL)
        .ListConsentableLicenses(authorization_pb2.ListConsentableLicensesRequest(holder_code=person_with_x()[0]))
        .licenses
    )


def test_a_company_whose_credit_code_reads_as_a_citizen_id_consents(clocked: Clocked) -> None:
    """A numeric 统一社会信用代码 can also read as a 公民身份号码 (113701201501010076: "born" 2015-01-01); the
    under-14 rule had refused such a company every consent (found in review). A code is a person's by its form only
    when it is no credit code. (Under a matter that reads a company's license with a consent, the test catalog's:
    every matter of the demo catalog reads a 营业执照 unconditionally, NO_CONSENT_NEEDED.)"""
    from gateway.domain.identifiers import holder_code_type_by_form

    running = clocked.running
    code = "113701201501010076"
    assert holder_code_type_by_form(code) == "001"
    until = Timestamp()
    until.FromDatetime(clocked.clock.now() + dt.timedelta(days=3))
    granted = authorization(running, PORTAL).GrantConsent(
        authorization_pb2.GrantConsentRequest(
            holder_code=code,
            grantee_code=TAX,
            matter_code=COMPANY_FIELDS.matter_code,
            type_codes=[BUSINESS_LICENSE],
            valid_until=until,
        )
    )
    assert (granted.consent.holder_code, granted.consent.guardian_code) == (code, "")
    # nor is it listed as a child's (the code's digits had made it one: found rereading the change)
    listed = authorization(running, PORTAL).ListConsents(authorization_pb2.ListConsentsRequest(holder_code=code))
    assert [c.state for c in listed.consents] == [authorization_pb2.CONSENT_STATE_ACTIVE]


def test_every_reason_of_the_sharing_policy_and_of_a_refused_use_has_words() -> None:
    """A refusal's reason had reached the holder as a code alone (CONSENT_USED_UP; a holder-portal tester)."""
    from gateway.domain.audit import reason_words
    from gateway.domain.sharing import Reason

    assert all(reason_words(r.value) for r in Reason), [r for r in Reason if not reason_words(r.value)]
    refusals = (
        "NOT_MATTER_DEPARTMENT",
        "NOT_USED_BY_MATTER",
        "TOO_MANY_WRONG_CLAIMS",
        "REPLY_TOO_LARGE",
        "NOTHING_FILLED",
        "NOT_THE_HOLDERS_LICENSE",
        "NOT_A_GUARDIAN",
    )
    stamps = ("MAKER_UNTRUSTED_ROOT", "MAKER_NOT_A_SEAL_MAKER", "SIGNER_REVOKED", "SIGNER_EXPIRED_NO_TRUSTED_TIME")
    for refused in (*refusals, *stamps, *findings_written()):
        assert reason_words(refused), refused
    assert reason_words("holder_name") == reason_words("consent=abc") == ""


def test_a_reasons_words_are_the_whole_of_its_chinese() -> None:
    """A reviewer (review holder, R4): the holder's log cut the sharing policy's words at their first full-width
    bracket, taken for the English's, and three have brackets in the Chinese: CONSENT_GUARDIAN_ENDED lost 或持证人已成年
    (the usual cause once a child turns 18) and its remedy, CONSENT_OTHER_FIELDS and RECORD_NOT_INTACT what followed
    their aside. The words are all of the Chinese: everything before the bracket that opens the English."""
    from gateway.domain.audit import REASON_WORDS, reason_words
    from gateway.domain.sharing import Reason

    for reason in Reason:
        if reason.value in REASON_WORDS:
            continue
        said = reason_words(reason.value)
        english = reason.detail.removeprefix(said)
        assert english.startswith("（") and english.endswith("）"), reason
        assert not re.search(r"[\u4e00-\u9fff]", english), reason  # no Chinese left out
    assert reason_words("CONSENT_GUARDIAN_ENDED").endswith(
        "或持证人已成年；请读取现行版本，或请现行有效版本载明的已成年监护人重新授权（持证人年满14周岁的，也可本人授权）"
    )
    assert reason_words("CONSENT_OTHER_FIELDS") == (
        "持证人授权时该事项不读取此信息项（证照目录已变更），授权不涵盖它，请持证人重新授权"
    )
    assert reason_words("RECORD_NOT_INTACT") == "登记记录未通过校验（可能在库中被改动），不予共享"


def findings_written() -> set[str]:
    """The reasons the gateway's and the signing library's code gives a ``Finding`` as a literal (found in review:
    a hand-picked list had left NOT_CHECKED and the timestamp's reasons without words)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found: set[str] = set()
    for path in [*(root / "gateway").rglob("*.py"), *(root / "signing").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Finding":
                given = [k.value for k in node.keywords if k.arg == "reason"] + node.args[1:2]
                found |= {
                    v.value for v in given if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value
                }
    assert len(found) > 20  # the scan finds them
    return found


def test_a_person_whose_citizen_id_is_also_a_credit_code_consents_to_a_persons_license(
    running: RunningGateway,
) -> None:
    """110105198001010518 is a 公民身份号码 and, by chance, a valid 统一社会信用代码 too (read as the latter by its
    form): such a person had been refused TYPE_NOT_FOR_HOLDER for their own 居民身份证 (a random test person hit it)."""
    code = "110105198001010518"
    card = id_card(running, code, dt.date(1980, 1, 1)).license
    granted = grant(running, card.holder.code)  # by type: 居民身份证, a person's
    assert granted.consent.holder_code == code


def test_a_requester_deciding_its_own_request_is_told_only_the_issuer_decides_and_when_it_lapses(
    running: RunningGateway,
) -> None:
    """A department that is an issuer too (公安局), having filed a request by mistake with another issuer (卫健委) and
    trying to take it back (WITHDRAW, REJECT), had been told 本部门的待审批队列中没有这个共享申请, as if the request did
    not exist, while it stayed in the issuer's queue (review sharing, R1). The answer stays NOT_FOUND /
    ACCESS_REQUEST_NOT_FOUND (ADR 0014, rule 5); its words now say that only the issuer decides, that the request is
    still pending and until when; a department that neither made nor owns it is told what it was."""
    submitted = request_access(running, POLICE, BIRTHS, type_code=BIRTH, duration_days=5)
    assert (submitted.requester, submitted.issuer_code, submitted.state) == (POLICE, HEALTH, PENDING)
    last_day = (submitted.deadline.ToDatetime(dt.UTC) - dt.timedelta(seconds=1)).astimezone(CHINA_TZ).date()
    for decision, fields in ((WITHDRAW, {"reason": "申请有误"}), (REJECT, {"reason": "申请有误"}), (APPROVE, {})):
        with pytest.raises(grpc.RpcError) as caught:
            decide_request(running, submitted.request_id, decision, member=POLICE, **fields)
        info, _ = error_details(caught.value)
        assert (caught.value.code(), info.reason) == (grpc.StatusCode.NOT_FOUND, "ACCESS_REQUEST_NOT_FOUND")
        assert caught.value.details() == (
            "共享申请只能由发证部门审批、驳回或撤回批准；申请部门撤回尚待审批的申请，请用“撤回共享申请”"
            "（CancelAccessRequest）；本部门提交的这项申请尚待审批，"
            f"发证部门未在 {last_day.isoformat()} 当日结束前审批的，申请即失效"
            "（only the issuer decides an access request; its requester takes back a pending one with "
            "CancelAccessRequest: yours is still pending, and lapses "
            f"undecided at the end of {last_day.isoformat()}, China time）"
        )
    assert {r.request_id: r.state for r in queue(running, HEALTH)}[submitted.request_id] == PENDING
    # another department that did not make it is told what it was
    with pytest.raises(grpc.RpcError) as caught:
        decide_request(running, submitted.request_id, WITHDRAW, member=CIVIL, reason="x")
    assert caught.value.details() == "本部门的待审批队列中没有这个共享申请（no such access request in your queue）"
    # decided, it says the state it is in
    decide_request(running, submitted.request_id, REJECT, member=HEALTH, reason="用途与事项不符")
    with pytest.raises(grpc.RpcError) as caught:
        decide_request(running, submitted.request_id, WITHDRAW, member=POLICE, reason="申请有误")
    assert caught.value.details() == (
        "共享申请只能由发证部门审批、驳回或撤回批准；申请部门撤回尚待审批的申请，请用“撤回共享申请”"
        "（CancelAccessRequest）；本部门提交的这项申请已被驳回"
        "（only the issuer decides an access request; its requester takes back a pending one with "
        "CancelAccessRequest: yours is rejected）"
    )


def test_fields_of_an_access_request_that_the_type_does_not_have_are_unknown_and_an_empty_one_required(
    running: RunningGateway,
) -> None:
    """A key the license type does not have (a typo) and an empty one had both been FIELD_NOT_NEEDED, 事项材料清单不包含
    信息项 with a blank where the empty one's name goes, so a clerk could not tell a misspelt key from a field the
    matter does not list (review sharing, R2). Now, as PrefillForm and the issue calls say it: UNKNOWN_FIELD and
    REQUIRED, each at its place; a field the type has that the matter does not list stays FIELD_NOT_NEEDED, and is
    on the holder's log whatever else is wrong beside it."""
    card = id_card(running).license
    asked = ["", "nope", "address", "name", "nope", ""]
    code, _, violations = refused(lambda: request_access(running, REAL_ESTATE, BDCZY, fields=asked))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert violations == [("fields[0]", "REQUIRED"), ("fields[1]", "UNKNOWN_FIELD"), ("fields[2]", "FIELD_NOT_NEEDED")]
    with pytest.raises(grpc.RpcError) as caught:
        request_access(running, REAL_ESTATE, BDCZY, fields=["name", "nope"])
    assert descriptions(caught.value) == {
        ("fields[1]", "UNKNOWN_FIELD"): "居民身份证没有信息项 'nope'（居民身份证 has no field 'nope'）"
    }
    with pytest.raises(grpc.RpcError) as caught:
        request_access(running, REAL_ESTATE, BDCZY, fields=["name", ""])
    assert descriptions(caught.value) == {
        ("fields[1]", "REQUIRED"): "请填写信息项，不能为空（a field key must not be empty）"
    }
    # one card: a typo alone names no data and is not on the holder's log; a field beyond the matter is, first or not
    one = {"type_code": "", "license_id": card.license_id}
    before = records_of(running, card.holder.code)
    refused(lambda: request_access(running, REAL_ESTATE, BDCZY, fields=["nope"], **one))
    assert records_of(running, card.holder.code) == before
    refused(lambda: request_access(running, REAL_ESTATE, BDCZY, fields=["nope", "address"], **one))
    (newest, *_) = records_of(running, card.holder.code)
    assert (newest.action, newest.decision, newest.reason) == ("REQUEST_ACCESS", "DENIED", "FIELD_NOT_NEEDED")
    assert len(records_of(running, card.holder.code)) == len(before) + 1


def test_an_approval_withdrawn_again_is_answered_as_withdrawn_the_first_time(running: RunningGateway) -> None:
    """An issuer that retries a withdrawal (its answer lost) had been refused ACCESS_REQUEST_NOT_APPROVED,
    该共享申请已撤回, where WithdrawConsent and RevokeSeal answer a repeat with what they stand at (review sharing, R3).
    A withdrawal of a withdrawn approval now returns the request as the first withdrawal left it, its time and reason
    kept, and is recorded REPEATED; another state is still refused, and only its issuer may say it."""
    card = id_card(running).license
    submitted = request_access(running, license_id=card.license_id, type_code="", fields=["name"], duration_days=5)
    decide_request(running, submitted.request_id, APPROVE)
    first = decide_request(running, submitted.request_id, WITHDRAW, reason="审批有误，撤回")
    for reason in ("审批有误，撤回", "另一个原因"):
        again = decide_request(running, submitted.request_id, WITHDRAW, reason=reason)
        assert again == first
    code, reason_code, _ = refused(
        lambda: decide_request(running, submitted.request_id, WITHDRAW, member=CIVIL, reason="x")
    )
    assert (code, reason_code) == (grpc.StatusCode.NOT_FOUND, "ACCESS_REQUEST_NOT_FOUND")
    code, _, violations = refused(lambda: decide_request(running, submitted.request_id, WITHDRAW))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations == [("reason", "REQUIRED")]
    decisions = [
        (r.decision, r.decision_words, r.reason)
        for r in records_of(running, card.holder.code)
        if r.action == "DECIDE_ACCESS_REQUEST"
    ]
    made = f"access_request={submitted.request_id}"
    assert decisions == [
        ("REPEATED", "重复请求，答复原办理结果，未另行办理", made),
        ("REPEATED", "重复请求，答复原办理结果，未另行办理", made),
        ("WITHDRAWN", "已撤回", made),
        ("APPROVED", "已批准", made),
    ]
    assert denied(lambda: data(running, card.license_id, BDCZY))[0] == "APPROVAL_WITHDRAWN"


CANCELLED = authorization_pb2.ACCESS_REQUEST_STATE_CANCELLED


def cancel_request(
    running: RunningGateway, request_id: str, member: str = REAL_ESTATE, reason: str = ""
) -> authorization_pb2.AccessRequest:
    return (
        authorization(running, member)
        .CancelAccessRequest(authorization_pb2.CancelAccessRequestRequest(request_id=request_id, reason=reason))
        .request
    )


def test_a_requester_takes_back_a_pending_request_and_the_issuer_can_no_longer_decide_it(
    running: RunningGateway,
) -> None:
    """A department that filed a request by mistake, or no longer needs the data, had no call to take it back: it
    waited in the issuer's queue for a rejection or for 10 working days (review sharing, s56). CancelAccessRequest
    takes back a pending request of the caller's: CANCELLED, dated, with its reason, in the issuer's queue and the
    requester's list (and their filters), on the holder's log and the issuer's; said again it is answered as the first
    call left it (REPEATED on the log); the issuer can no longer decide it, and nothing is shared by it."""
    card = id_card(running).license
    refusal = denied(lambda: data(running, card.license_id, BDCZY))  # as other tests' decisions left the policy
    submitted = request_access(running, license_id=card.license_id, type_code="", fields=["name"], duration_days=5)
    cancelled = cancel_request(running, submitted.request_id, reason="申请有误，重新提交")
    assert (cancelled.request_id, cancelled.state, cancelled.decision_reason) == (
        submitted.request_id,
        CANCELLED,
        "申请有误，重新提交",
    )
    assert cancelled.HasField("decided_at") and not cancelled.approved_fields
    assert cancel_request(running, submitted.request_id, reason="另一个原因") == cancelled
    listed = {r.request_id: r for r in queue(running, POLICE, state=CANCELLED)}
    assert listed[submitted.request_id] == cancelled
    assert submitted.request_id not in {r.request_id for r in queue(running, POLICE, state=PENDING)}
    mine = {r.request_id: r.state for r in queue(running, REAL_ESTATE)}
    assert mine[submitted.request_id] == CANCELLED
    # the issuer decides it no more, in words that say why
    for decision, fields in ((APPROVE, {}), (REJECT, {"reason": "不符"}), (WITHDRAW, {"reason": "x"})):
        with pytest.raises(grpc.RpcError) as caught:
            decide_request(running, submitted.request_id, decision, **fields)
        info, _ = error_details(caught.value)
        assert (caught.value.code(), info.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "ACCESS_REQUEST_DECIDED" if decision != WITHDRAW else "ACCESS_REQUEST_NOT_APPROVED",
        )
        assert "已由申请部门撤回" in caught.value.details()
    assert denied(lambda: data(running, card.license_id, BDCZY)) == refusal  # weighed as if never made
    made = f"access_request={submitted.request_id}"
    logged = [
        (r.caller, r.action, r.action_words, r.decision, r.decision_words, r.reason)
        for r in records_of(running, card.holder.code)
        if r.action == "CANCEL_ACCESS_REQUEST"
    ]
    assert logged == [
        (REAL_ESTATE, "CANCEL_ACCESS_REQUEST", "撤回共享申请（申请部门）", "REPEATED",
         "重复请求，答复原办理结果，未另行办理", made),
        (REAL_ESTATE, "CANCEL_ACCESS_REQUEST", "撤回共享申请（申请部门）", "CANCELLED", "申请部门已撤回申请", made),
    ]  # fmt: skip
    own = audit_pb2_grpc.AuditServiceStub(running.channel(POLICE)).ListAccessRecords(
        audit_pb2.ListAccessRecordsRequest(limit=500)
    )
    assert ("CANCEL_ACCESS_REQUEST", "CANCELLED") in {(r.action, r.decision) for r in own.records}


def test_only_the_requester_cancels_and_only_a_pending_request(running: RunningGateway) -> None:
    """Another department's request is not found, in words for the issuer that say to reject it; a request decided
    is refused in words that say what it is, an approval to be withdrawn by its issuer; a reason holding a
    公民身份号码 is refused as a decision's is, an empty request_id is REQUIRED; nothing refused is recorded."""
    submitted = request_access(running, duration_days=5)
    for member, words in (
        (POLICE, "共享申请只能由提交它的部门撤回；发证部门不同意的，请驳回（DecideAccessRequest REJECT）"
                 "（only the department that made an access request cancels it: as its issuer, reject it）"),
        (TAX, "本部门提交的共享申请中没有这一项（no such access request among those you submitted）"),
    ):  # fmt: skip
        with pytest.raises(grpc.RpcError) as caught:
            cancel_request(running, submitted.request_id, member=member)
        info, _ = error_details(caught.value)
        assert (caught.value.code(), info.reason, caught.value.details()) == (
            grpc.StatusCode.NOT_FOUND,
            "ACCESS_REQUEST_NOT_FOUND",
            words,
        )
    before = record_count(running)
    code, _, violations = refused(lambda: cancel_request(running, ""))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations == [("request_id", "REQUIRED")]
    code, _, violations = refused(
        lambda: cancel_request(running, submitted.request_id, reason="为370102199204171366办理")
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations == [("reason", "PERSONAL_DATA")]
    assert record_count(running) == before
    decide_request(running, submitted.request_id, APPROVE)
    with pytest.raises(grpc.RpcError) as caught:
        cancel_request(running, submitted.request_id)
    info, _ = error_details(caught.value)
    assert (caught.value.code(), info.reason, caught.value.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "ACCESS_REQUEST_DECIDED",
        "该共享申请已获批准，不能撤回申请；不再需要的，请联系发证部门撤回批准（the request is approved already: only "
        "a pending one is cancelled; ask the issuer to withdraw an approval no longer needed）",
    )
    rejected = request_access(running, duration_days=5)
    decide_request(running, rejected.request_id, REJECT, reason="不符")
    code, reason, _ = refused(lambda: cancel_request(running, rejected.request_id))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ACCESS_REQUEST_DECIDED")
    assert record_count(running) == before + 3  # the approval, the second request and its rejection alone


def test_a_request_past_its_deadline_is_not_cancelled_but_said_expired(clocked: Clocked) -> None:
    submitted = request_access(clocked.running, duration_days=5)
    clocked.clock.advance(submitted.deadline.ToDatetime(dt.UTC) - clocked.clock.now() + dt.timedelta(minutes=1))
    with pytest.raises(grpc.RpcError) as caught:
        cancel_request(clocked.running, submitted.request_id)
    info, _ = error_details(caught.value)
    assert (caught.value.code(), info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "REQUEST_EXPIRED")
    assert "已过期，无需撤回" in caught.value.details()
    assert {r.request_id: r.state for r in queue(clocked.running)}[submitted.request_id] == EXPIRED
