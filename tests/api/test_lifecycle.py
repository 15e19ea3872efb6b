"""A license's life after issue (review lifecycle): amendments that would leave the holder without a license in force,
amendments of a suspended license, and lookups by a number a cleaned-up license once held. Real gRPC over sockets, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import common_pb2, issuance_pb2, verification_pb2
from tests.api.test_issuance import unique
from tests.api.test_verification import claim, verify
from tests.api.test_watch import newest_cursor, read_until
from tests.conftest import MARKET, RunningGateway, error_details, today

PASSED, FAILED = verification_pb2.CHECK_RESULT_PASSED, verification_pb2.CHECK_RESULT_FAILED


def amend(running: RunningGateway, license_id: str, **changes: object) -> issuance_pb2.AmendLicenseResponse:
    return running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id=f"am-{uuid.uuid4().hex}",
            license_id=license_id,
            **{"reason": "变更", **changes},  # type: ignore[arg-type]
        )
    )


# -- R2: an amendment in advance must not leave the holder without a license in force -----------------------------


def test_a_renewal_starting_after_today_of_a_license_in_force_is_refused_and_says_what_to_do(
    running: RunningGateway,
) -> None:
    """A 食品生产许可证 extended 20 days before its end, the new period starting the day after: the amendment had
    superseded the version in force at once, and the new one was NOT_YET_VALID, so for 20 days every verification
    (by identifier, by number, of the PDF) said FAILED for a license that is valid. Refused, saying what to do."""
    on = today()
    record = unique(samples.food_permit(960, issued=dt.date(2021, 6, 1)))
    record["valid_until"] = (on + dt.timedelta(days=20)).isoformat()
    v1 = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    assert verify(running, license_id=v1.license_id).verdict == PASSED
    starts = (on + dt.timedelta(days=21)).isoformat()
    ends = (on + dt.timedelta(days=21 + 5 * 365)).isoformat()

    with pytest.raises(grpc.RpcError) as refused:
        amend(running, v1.license_id, valid_from=starts, valid_until=ends, reason="准予延续")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(refused.value)[1] == [("valid_from", "VALID_FROM_LEAVES_GAP")]
    said = refused.value.details() or ""
    assert starts in said and "有效期截止日期" in said and "valid_until" in said, said
    history = running.issuance(MARKET).GetLicense(
        issuance_pb2.GetLicenseRequest(license_id=v1.license_id, include_history=True)
    )
    assert history.license.license_id == v1.license_id and not history.history  # nothing superseded
    assert verify(running, license_id=v1.license_id).verdict == PASSED
    by_number = verify(running, type_code=v1.type_code, license_number=v1.license_number)
    assert (by_number.verdict, by_number.license.license_id) == (PASSED, v1.license_id)

    # what the words say to do: extend the end only, keeping the start; in force throughout
    v2 = amend(running, v1.license_id, valid_until=ends, reason="准予延续").license
    assert (v2.valid_from, v2.valid_until) == (v1.valid_from, ends)
    assert verify(running, license_id=v2.license_id).verdict == PASSED


def test_a_later_start_is_taken_where_nothing_is_in_force_or_the_start_stays(running: RunningGateway) -> None:
    """Only a start after today on a version in force today is refused: a license not yet in force may be moved
    later, and one in force may be amended with its start kept or moved earlier."""
    on = today()
    record = unique(samples.food_permit(961))
    record["valid_from"] = (on + dt.timedelta(days=10)).isoformat()  # issued ahead: not yet in force
    ahead = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    later = (on + dt.timedelta(days=30)).isoformat()
    assert amend(running, ahead.license_id, valid_from=later).license.valid_from == later

    in_force = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(962)))).license
    kept = amend(running, in_force.license_id, fields={"domicile": "山东省济南市历下区新址1号"}).license
    assert kept.valid_from == in_force.valid_from
    earlier = (dt.date.fromisoformat(in_force.valid_from) - dt.timedelta(days=1)).isoformat()
    moved = amend(running, kept.license_id, valid_from=earlier).license
    assert moved.valid_from == earlier
    starts_today = amend(running, moved.license_id, valid_from=on.isoformat()).license  # today is not after today
    assert verify(running, license_id=starts_today.license_id).verdict == PASSED


def test_a_start_entered_too_early_is_corrected_within_the_old_period_and_not_past_its_end(
    running: RunningGateway,
) -> None:
    """A permit decided to start next month, its valid_from entered as three days ago: verified PASSED and claimed
    正确且有效 though not in force. Its correction (更正) to the real start, within the old period, had been refused
    VALID_FROM_LEAVES_GAP, whose words offered only a renewal's paths (review of the lifecycle fixes, R2). It is
    taken, and the license reads NOT_YET_VALID until then. A start after the old version's end (the whole period
    entered wrong) is still refused, with words that name CANCEL and issue again, and SUSPEND until the start."""
    on = today()
    record = unique(samples.food_permit(963, issued=on - dt.timedelta(days=3)))
    record["valid_from"] = (on - dt.timedelta(days=3)).isoformat()  # mistyped: the permit starts next month
    v1 = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    assert verify(running, license_id=v1.license_id).verdict == PASSED
    starts = (on + dt.timedelta(days=30)).isoformat()
    v2 = amend(running, v1.license_id, valid_from=starts, reason="更正有效期起始日期").license
    assert (v2.valid_from, v2.valid_until) == (starts, v1.valid_until)
    checked = verify(running, license_id=v2.license_id)
    assert (checked.verdict, checked.reason) == (FAILED, "NOT_YET_VALID")
    said = claim(running, type_code=v2.type_code, license_number=v2.license_number, holder_code=v2.holder.code)
    assert (said.result, said.code) == (verification_pb2.CLAIM_RESULT_NOT_YET_VALID, 1)

    business = unique(samples.business_license(964, issued=on - dt.timedelta(days=3)))  # no end: a start moved later
    no_end = running.issuance(MARKET).IssueLicense(issue_request(business)).license
    assert amend(running, no_end.license_id, valid_from=starts, reason="更正").license.valid_from == starts

    record = unique(samples.food_permit(965, issued=on - dt.timedelta(days=3)))
    record["valid_until"] = (on + dt.timedelta(days=20)).isoformat()  # the whole period entered wrong
    wrong = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    after_end, ends = (on + dt.timedelta(days=40)).isoformat(), (on + dt.timedelta(days=40 + 5 * 365)).isoformat()
    with pytest.raises(grpc.RpcError) as refused:
        amend(running, wrong.license_id, valid_from=after_end, valid_until=ends, reason="更正有效期")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(refused.value)[1] == [("valid_from", "VALID_FROM_LEAVES_GAP")]
    words = refused.value.details() or ""
    for said_so in (after_end, wrong.valid_until, "注销后重新签发", "暂停使用", "CANCEL", "SUSPEND", "valid_until"):
        assert said_so in words, (said_so, words)
    assert not words.endswith("…"), words  # said whole
    assert verify(running, license_id=wrong.license_id).verdict == PASSED  # nothing superseded


# -- R3: a suspended license is amended, and stays suspended ------------------------------------------------------


def change(running: RunningGateway, license_id: str, action: int, reason: str) -> common_pb2.License:
    return (
        running.issuance(MARKET)
        .ChangeLicenseStatus(
            issuance_pb2.ChangeLicenseStatusRequest(
                request_id=f"st-{uuid.uuid4().hex}",
                license_id=license_id,
                action=action,  # type: ignore[arg-type]
                reason=reason,
            )
        )
        .license
    )


def test_a_suspended_license_is_amended_into_a_suspended_version_never_shown_in_force(running: RunningGateway) -> None:
    """api.md says a license that has not ended is amended; a suspended one was refused NOT_AMENDABLE, and the only
    way round (resume, amend, suspend again) told every verifier PASSED meanwhile and put a RESUME on the change feed.
    Its new version is written SUSPENDED, with the suspension's reason and time and a memo of its own; the feed has
    the amendment only."""
    v1 = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(990)))).license
    suspended = change(running, v1.license_id, issuance_pb2.STATUS_ACTION_SUSPEND, "停产整顿")
    start = newest_cursor(running)

    v2 = amend(running, v1.license_id, fields={"legal_representative": "李四"}, reason="法定代表人变更").license
    assert (v2.version, v2.fields["legal_representative"], v2.supersedes) == (2, "李四", v1.license_id)
    assert (v2.status, v2.status_reason) == (common_pb2.LICENSE_STATUS_SUSPENDED, "停产整顿")
    assert v2.status_changed_at == suspended.status_changed_at  # the suspension's time, carried over
    got = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=v2.license_id)).license
    assert (got.status, got.status_reason, got.status_changed_at) == (v2.status, "停产整顿", v2.status_changed_at)
    for query in ({"license_id": v2.license_id}, {"type_code": v1.type_code, "license_number": v1.license_number}):
        report = verify(running, **query)  # the gateway's own status: its memo vouches for it
        assert (report.verdict, report.reason, report.license.license_id) == (FAILED, "SUSPENDED", v2.license_id)
    old = verify(running, license_id=v1.license_id)
    assert (old.reason, old.license.current_license_id) == ("SUPERSEDED", v2.license_id)
    assert old.license.current_status == common_pb2.LICENSE_STATUS_SUSPENDED

    resumed = change(running, v2.license_id, issuance_pb2.STATUS_ACTION_RESUME, "整改完成")
    assert resumed.status == common_pb2.LICENSE_STATUS_ACTIVE
    assert verify(running, license_id=v2.license_id).verdict == PASSED
    events = [
        (e.kind, e.license_id, e.status)
        for e in read_until(running, MARKET, issuance_pb2.WatchLicenseChangesRequest(cursor=start), v2.license_id)
        if e.license_id in (v1.license_id, v2.license_id)
    ]
    assert events == [  # the amendment, never a resumption before it
        (issuance_pb2.CHANGE_KIND_AMENDED, v2.license_id, common_pb2.LICENSE_STATUS_SUSPENDED),
        (issuance_pb2.CHANGE_KIND_STATUS_CHANGED, v2.license_id, common_pb2.LICENSE_STATUS_ACTIVE),
    ]


# -- R4: a lookup by an old number answers the license that held it last ------------------------------------------


def test_a_number_looked_up_after_its_earlier_holder_is_cleaned_up_still_finds_its_last_holder(
    running: RunningGateway,
) -> None:
    """A (number N) revoked; B issued with N, which retires A; B amended to another number. A lookup by N finds B's
    superseded version, naming the version in force. The clean-up CANCEL of A (operations.md) had moved A's
    status_changed_at past B's, and the lookup answered A, 已注销: a verifier holding B's paper was told of another
    record. The non-current holder last created is the one that held the number last."""
    record = unique(samples.food_permit(980))
    a = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    change(running, a.license_id, issuance_pb2.STATUS_ACTION_REVOKE, "依法吊销")
    b = running.issuance(MARKET).IssueLicense(issue_request({**record, "request_id": f"{record['request_id']}-b"}))
    assert b.license.license_number == a.license_number and b.license.license_id != a.license_id
    b2 = amend(running, b.license.license_id, license_number=f"{a.license_number}X", reason="编号变更").license

    def by_old_number() -> verification_pb2.VerificationReport:
        return verify(running, type_code=a.type_code, license_number=a.license_number)

    before = by_old_number()
    assert (before.license.license_id, before.reason, before.license.current_license_id) == (
        b.license.license_id,
        "SUPERSEDED",
        b2.license_id,
    )
    change(running, a.license_id, issuance_pb2.STATUS_ACTION_CANCEL, "吊销后注销")
    after = by_old_number()
    assert (after.license.license_id, after.reason, after.license.current_license_id) == (
        b.license.license_id,
        "SUPERSEDED",
        b2.license_id,
    )
    issuer = running.issuance(MARKET).GetLicense(
        issuance_pb2.GetLicenseRequest(type_code=a.type_code, license_number=a.license_number)
    )
    assert issuer.license.license_id == b.license.license_id


def test_a_number_taken_by_an_issue_dated_before_a_later_dated_holder_finds_the_one_that_held_it_last(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A (number N) revoked. B's IssueLicense is dated when the call begins; while its document is drawn, C is issued
    with N (taking it from A) and revoked as issued in error; then B commits, taking N from C. B held N last, though
    created before C: once B is amended to another number, a lookup by N had answered C, 已吊销, by creation time
    (review lifecycle fix, R1). The license committed last, by its row's id, held the number last."""
    record = unique(samples.food_permit(981))
    a = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    change(running, a.license_id, issuance_pb2.STATUS_ACTION_REVOKE, "依法吊销")
    service = running.gateway.issuance
    original = service._make_documents
    made: list[str] = []

    def meanwhile(*args: object, **kwargs: object) -> object:  # inside B's IssueLicense: after its time, before commit
        drawn = original(*args, **kwargs)
        if not made:
            made.append("busy")
            c = issue_request({**record, "request_id": record["request_id"] + "-c"})
            made[0] = running.issuance(MARKET).IssueLicense(c).license.license_id
            change(running, made[0], issuance_pb2.STATUS_ACTION_REVOKE, "误发吊销")
        return drawn

    monkeypatch.setattr(service, "_make_documents", meanwhile)
    b = running.issuance(MARKET).IssueLicense(issue_request({**record, "request_id": record["request_id"] + "-b"}))
    monkeypatch.undo()
    c_id = made[0]
    assert b.license.license_number == a.license_number and c_id not in (a.license_id, b.license.license_id)
    assert (
        b.license.created_at.ToDatetime()
        < running.issuance(MARKET)
        .GetLicense(issuance_pb2.GetLicenseRequest(license_id=c_id))
        .license.created_at.ToDatetime()
    )  # the order by creation time is not the order the number was taken in
    b2 = amend(running, b.license.license_id, license_number=f"{a.license_number}X", reason="编号变更").license

    found = verify(running, type_code=a.type_code, license_number=a.license_number)
    assert (found.verdict, found.reason, found.license.license_id, found.license.current_license_id) == (
        FAILED,
        "SUPERSEDED",
        b.license.license_id,
        b2.license_id,
    )
    said = claim(running, type_code=a.type_code, license_number=a.license_number, holder_code=a.holder.code)
    assert (said.code, said.status_reason) == (3, "SUPERSEDED")  # 已失效, of B's version, not 吊销 of C
    issuer = running.issuance(MARKET).GetLicense(
        issuance_pb2.GetLicenseRequest(type_code=a.type_code, license_number=a.license_number)
    )
    assert (issuer.license.license_id, issuer.license.status) == (
        b.license.license_id,
        common_pb2.LICENSE_STATUS_SUPERSEDED,
    )
