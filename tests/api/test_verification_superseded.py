"""A version superseded by an amendment (变更) names the version in force, over real gRPC: in the verification report
(``LicenseSummary.current_license_id`` and ``current_status``, the status finding's detail) and in a 一件事 case's
receipts (``standing_now``, ``CaseReceipt.current_license_id``), following the newer version's changes (the caches).

Found by a tester of 企业开办一件事: after the 公安局 verified the 营业执照, the 市场监管局 changed its 法定代表人,
and the tax bureau listing the case's receipts saw FAILED / SUPERSEDED with nothing to say whether the company's
license was fine now: a routine 变更 in the middle of a case defeated 接办免收.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.identifiers import LicenseId
from gateway.domain.model import CHINA_TZ
from gateway.services import verification as verification_module
from gateway.services.documents import DocumentService
from gateway.services.verification import VerificationService
from gateway.store.repositories import LicenseRepository
from protos.zzgw.v1 import common_pb2, issuance_pb2, sharing_pb2, sharing_pb2_grpc, verification_pb2
from tests.api.test_issuance import unique
from tests.api.test_sharing import page_text_and_red
from tests.api.test_verification import (
    FAILED,
    FPSL,
    PASSED,
    change,
    findings,
    qr_for,
    receipt_statement,
    verifier,
)
from tests.conftest import MARKET, POLICE, TAX, RunningGateway, case_number, settle

QYKB = "370100-YJS-QYKB"
"""企业开办一件事: the 公安局's 印章刻制 and the tax bureau's 发票申领 are two of its matters."""
FIRST = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose="企业开办：刻制公章", bundle_code=QYKB)
LATER = verification_pb2.UseContext(matter_code=FPSL, purpose="企业开办：发票申领", bundle_code=QYKB)
ACTIVE, REVOKED = common_pb2.LICENSE_STATUS_ACTIVE, common_pb2.LICENSE_STATUS_REVOKED
UNSPECIFIED = common_pb2.LICENSE_STATUS_UNSPECIFIED


def business_license(running: RunningGateway, n: int) -> str:
    return running.issuance(MARKET).IssueLicense(issue_request(unique(samples.business_license(n)))).license.license_id


def amend(running: RunningGateway, license_id: str, representative: str) -> str:
    """An ordinary 变更 of the 营业执照 (a new 法定代表人); returns the new version's identifier."""
    amended = running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="am-" + uuid.uuid4().hex,
            license_id=license_id,
            fields={"legal_representative": representative},
            reason="法定代表人变更",
        )
    )
    assert amended.superseded.status == common_pb2.LICENSE_STATUS_SUPERSEDED
    return str(amended.license.license_id)


def verify(running: RunningGateway, **query: str) -> verification_pb2.VerificationReport:
    use = verification_pb2.UseContext(matter_code=FPSL, purpose="发票申领：核验营业执照")
    return verifier(running, TAX).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, **query)).report


def current(report: verification_pb2.VerificationReport) -> tuple[str, int]:
    return report.license.current_license_id, report.license.current_status


def test_a_superseded_version_names_the_version_in_force_and_follows_its_changes(running: RunningGateway) -> None:
    """A paper printed before the 变更: still FAILED / SUPERSEDED (that version is not current), and the version in
    force with its status now; revoking the newer version shows at the next check of the old one, though the old one's
    outcome was kept (cached) with ACTIVE."""
    old = business_license(running, 51)
    before = verify(running, license_id=old)
    assert before.verdict == PASSED and current(before) == ("", UNSPECIFIED)  # not superseded: nothing named
    new = amend(running, old, "李四")
    assert new != old

    superseded = verify(running, license_id=old)
    assert (superseded.verdict, superseded.reason) == (FAILED, "SUPERSEDED")
    assert findings(superseded) == ((PASSED, ""), (FAILED, "SUPERSEDED"), (PASSED, ""))
    assert superseded.license.license_id == old
    assert superseded.license.status == common_pb2.LICENSE_STATUS_SUPERSEDED
    assert current(superseded) == (new, ACTIVE)
    assert superseded.status.detail == (
        f"证照已变更，此版本不再现行；现行版本 {new} 目前有效（a newer version replaced this one: {new}, now ACTIVE）"
    )
    signed = receipt_statement(running, superseded.receipt)  # the receipt says it in the status finding's detail
    assert signed["findings"]["status"]["detail"] == superseded.status.detail
    again = verify(running, license_id=old)  # the day's kept outcome
    assert current(again) == (new, ACTIVE) and again.receipt.receipt_id != superseded.receipt.receipt_id

    in_force = verify(running, license_id=new)
    assert in_force.verdict == PASSED and current(in_force) == ("", UNSPECIFIED)

    # the printed code of the old version names it alike
    code, _ = qr_for(running, old)
    scanned = verify(running, qr_code=code)
    assert (scanned.verdict, scanned.reason, current(scanned)) == (FAILED, "SUPERSEDED", (new, ACTIVE))

    change(running, new, issuance_pb2.STATUS_ACTION_REVOKE)  # the newer version revoked: the old one says so at once
    revoked = verify(running, license_id=old)
    assert (revoked.verdict, revoked.reason) == (FAILED, "SUPERSEDED")
    assert current(revoked) == (new, REVOKED)
    assert revoked.status.detail == (
        f"证照已变更，此版本不再现行；现行版本 {new} 目前已吊销或撤销"
        f"（a newer version replaced this one: {new}, now REVOKED）"
    )
    assert current(verify(running, qr_code=code)) == (new, REVOKED)


def test_a_chain_of_amendments_names_the_newest_version(running: RunningGateway) -> None:
    first = business_license(running, 52)
    assert verify(running, license_id=first).verdict == PASSED  # cached before the amendments
    second = amend(running, first, "李四")
    assert current(verify(running, license_id=first)) == (second, ACTIVE)
    third = amend(running, second, "王五")
    assert len({first, second, third}) == 3
    for version in (first, second):
        report = verify(running, license_id=version)
        assert (report.reason, current(report)) == ("SUPERSEDED", (third, ACTIVE))
        assert report.status.detail.endswith(
            f"现行版本 {third} 目前有效（a newer version replaced this one: {third}, now ACTIVE）"
        )
    assert current(verify(running, license_id=third)) == ("", UNSPECIFIED)


def test_a_link_to_a_successor_changed_in_the_store_names_nothing(running: RunningGateway) -> None:
    """``superseded_by`` is not sealed: pointed at another company's license behind the gateway's back, it must not
    lend the old version that license's standing. The link holds only as an amendment makes it."""
    old = business_license(running, 53)
    amend(running, old, "李四")
    other = business_license(running, 54)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET superseded_by = :other WHERE license_id = :id"), {"other": other, "id": old}
        )
    running.gateway.feed.committed([f"license:{old}"])  # type: ignore[union-attr]
    report = verify(running, license_id=old)
    assert (report.verdict, report.reason, current(report)) == (FAILED, "SUPERSEDED", ("", UNSPECIFIED))
    assert report.status.detail == "证照已变更，此版本不再现行（a newer version replaced this one）"


def test_a_case_receipt_of_a_license_amended_since_stands_as_its_version_in_force(running: RunningGateway) -> None:
    """接办免收 across a 变更: the tax bureau relies on the 公安局's check of the 营业执照 while its version in force
    passes (PASSED / AMENDED_SINCE, naming that version); once that version is revoked, its failure is the standing."""
    amended, plain = business_license(running, 55), business_license(running, 56)
    case = case_number()
    first_use, later_use = verification_pb2.UseContext(), verification_pb2.UseContext()
    first_use.CopyFrom(FIRST)
    later_use.CopyFrom(LATER)
    first_use.case_id = later_use.case_id = case
    police = verifier(running, POLICE)
    for license_id in (amended, plain):
        checked = police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=license_id))
        assert checked.report.verdict == PASSED
    new = amend(running, amended, "李四")

    def listed() -> dict[str, verification_pb2.CaseReceipt]:
        request = verification_pb2.ListCaseReceiptsRequest(use=later_use)
        return {r.license_id: r for r in verifier(running, TAX).ListCaseReceipts(request).receipts}

    receipts = listed()
    receipt = receipts[amended]
    assert receipt_statement(running, receipt.receipt)["verdict"] == "PASSED"  # what was found then
    assert (receipt.standing_now.result, receipt.standing_now.reason) == (PASSED, "AMENDED_SINCE")
    assert receipt.standing_now.detail == (
        f"证照已变更，现行版本 {new} 目前有效（the license was amended since: its current version {new} is ACTIVE）"
    )
    assert receipt.current_license_id == new
    untouched = receipts[plain]  # not amended: as before, nothing named
    assert (untouched.standing_now.result, untouched.standing_now.reason, untouched.current_license_id) == (
        PASSED,
        "",
        "",
    )

    change(running, new, issuance_pb2.STATUS_ACTION_REVOKE)
    receipt = listed()[amended]
    assert (receipt.standing_now.result, receipt.standing_now.reason) == (FAILED, "REVOKED")
    assert receipt.current_license_id == new
    assert receipt.standing_now.detail == (
        f"证照已变更，现行版本 {new}：证照已吊销或撤销"
        f"（the license was amended since; its current version {new}: the license is revoked）"
    )


def test_a_case_receipt_of_a_check_made_after_the_amendment_is_not_amended_since(running: RunningGateway) -> None:
    """Found in review: the applicant brought the old paper after the 变更, and the 公安局's check failed SUPERSEDED.
    The tax bureau must not read that failed receipt as "amended since, may rely on it": it stands as that version
    does, FAILED / SUPERSEDED, naming the version in force in its detail only (current_license_id names a version
    in force of an amendment made since the receipt). In the same case, a receipt of the same version made before
    the 变更 is amended since: the standing is decided per receipt, by its time."""
    old = business_license(running, 57)
    case = case_number()
    first_use, later_use = verification_pb2.UseContext(), verification_pb2.UseContext()
    first_use.CopyFrom(FIRST)
    later_use.CopyFrom(LATER)
    first_use.case_id = later_use.case_id = case
    police = verifier(running, POLICE)
    request = verification_pb2.VerifyLicenseRequest(use=first_use, license_id=old)
    before = police.VerifyLicense(request).report
    assert before.verdict == PASSED
    new = amend(running, old, "李四")
    after = police.VerifyLicense(request).report
    assert (after.verdict, after.reason) == (FAILED, "SUPERSEDED")

    def listed() -> dict[str, verification_pb2.CaseReceipt]:
        request = verification_pb2.ListCaseReceiptsRequest(use=later_use)
        receipts = verifier(running, TAX).ListCaseReceipts(request).receipts
        assert [r.license_id for r in receipts] == [old, old]
        return {r.receipt.receipt_id: r for r in receipts}

    receipts = listed()
    since, failed = receipts[before.receipt.receipt_id], receipts[after.receipt.receipt_id]
    assert receipt_statement(running, failed.receipt)["verdict"] == "FAILED"
    assert (since.standing_now.result, since.standing_now.reason, since.current_license_id) == (
        PASSED,
        "AMENDED_SINCE",
        new,
    )
    assert (failed.standing_now.result, failed.standing_now.reason, failed.current_license_id) == (
        FAILED,
        "SUPERSEDED",
        "",
    )
    assert failed.standing_now.detail == (
        f"证照已变更，此版本不再现行；现行版本 {new} 目前有效（a newer version replaced this one: {new}, now ACTIVE）"
    )
    assert "since" not in failed.standing_now.detail

    change(running, new, issuance_pb2.STATUS_ACTION_REVOKE)  # still not "amended since the check"
    receipts = listed()
    since, failed = receipts[before.receipt.receipt_id], receipts[after.receipt.receipt_id]
    assert (since.standing_now.result, since.standing_now.reason, since.current_license_id) == (FAILED, "REVOKED", new)
    assert (failed.standing_now.result, failed.standing_now.reason, failed.current_license_id) == (
        FAILED,
        "SUPERSEDED",
        "",
    )
    assert failed.standing_now.detail == (
        f"证照已变更，此版本不再现行；现行版本 {new} 目前已吊销或撤销"
        f"（a newer version replaced this one: {new}, now REVOKED）"
    )


def case_uses() -> tuple[verification_pb2.UseContext, verification_pb2.UseContext]:
    """The 公安局's and the tax bureau's uses in one new QYKB case."""
    case = case_number()
    first_use, later_use = verification_pb2.UseContext(), verification_pb2.UseContext()
    first_use.CopyFrom(FIRST)
    later_use.CopyFrom(LATER)
    first_use.case_id = later_use.case_id = case
    return first_use, later_use


def amend_in_thread(running: RunningGateway, license_id: str) -> tuple[threading.Thread, dict[str, Any]]:
    """An amendment (a new 法定代表人) on its way in a thread of its own; its answer in the dict once joined."""
    answered: dict[str, Any] = {}
    request = issuance_pb2.AmendLicenseRequest(
        request_id="am-" + uuid.uuid4().hex,
        license_id=license_id,
        fields={"legal_representative": "李四"},
        reason="法定代表人变更",
    )
    thread = threading.Thread(target=lambda: answered.update(amended=running.issuance(MARKET).AmendLicense(request)))
    thread.start()
    return thread, answered


def test_a_check_made_as_an_amendment_commits_stands_as_amended_since(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review (R1): an amendment takes its time, then writes and commits; a check made in between still
    finds the old version in force and passes, under a receipt dated after the supersession time stored. Judged by
    the times alone, the receipt read as a check made after the 变更 (FAILED / SUPERSEDED, naming no version in
    force), and the department taking over the case was sent back to the applicant. A receipt that found the
    version in force stands as amended since, whatever the stored times say. The amendment is held at its write
    (its time taken) until the check has found what it signs."""
    old = business_license(running, 59)
    first_use, later_use = case_uses()
    writing, checked = threading.Event(), threading.Event()
    supersede, write = LicenseRepository.supersede, VerificationService._write

    def held_supersede(self: LicenseRepository, *args: Any, **kwargs: Any) -> None:
        writing.set()
        checked.wait(10)  # on SQLite the check's receipt then waits for this commit
        supersede(self, *args, **kwargs)

    def noted_write(self: VerificationService, answer: Any) -> Any:
        if writing.is_set():
            checked.set()
        return write(self, answer)

    monkeypatch.setattr(LicenseRepository, "supersede", held_supersede)
    monkeypatch.setattr(VerificationService, "_write", noted_write)
    thread, answered = amend_in_thread(running, old)
    try:
        assert writing.wait(10)
        report = (
            verifier(running, POLICE)
            .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=old))
            .report
        )
    finally:
        checked.set()
        thread.join()
    assert report.verdict == PASSED and receipt_statement(running, report.receipt)["license"]["status"] == "ACTIVE"
    amended = answered["amended"]
    new = amended.license.license_id
    assert amended.superseded.status_changed_at.ToDatetime() < report.checked_at.ToDatetime()  # the window
    request = verification_pb2.ListCaseReceiptsRequest(use=later_use)
    (listed,) = verifier(running, TAX).ListCaseReceipts(request).receipts
    assert (listed.standing_now.result, listed.standing_now.reason, listed.current_license_id) == (
        PASSED,
        "AMENDED_SINCE",
        new,
    )
    assert listed.standing_now.detail == (
        f"证照已变更，现行版本 {new} 目前有效（the license was amended since: its current version {new} is ACTIVE）"
    )


def test_an_amendment_is_dated_when_it_writes_not_when_it_was_asked(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review (R1): an amendment took its time before drawing and sealing the new version's document and
    before waiting for its transaction (a pool connection, the writer lock), so a check that passed meanwhile had a
    receipt dated after the supersession time stored. The time is now taken in the transaction, under the change
    log's lock: a check made while the amendment draws its document (held here until the check is answered) is
    before it."""
    old = business_license(running, 60)
    first_use, later_use = case_uses()
    drawing, checked = threading.Event(), threading.Event()
    make = DocumentService.make

    def held_make(self: DocumentService, *args: Any, **kwargs: Any) -> Any:
        drawing.set()
        checked.wait(10)
        return make(self, *args, **kwargs)

    monkeypatch.setattr(DocumentService, "make", held_make)
    thread, answered = amend_in_thread(running, old)
    try:
        assert drawing.wait(10)
        report = (
            verifier(running, POLICE)
            .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=old))
            .report
        )
    finally:
        checked.set()
        thread.join()
    assert report.verdict == PASSED
    amended = answered["amended"]
    at = amended.superseded.status_changed_at.ToDatetime()
    assert at > report.checked_at.ToDatetime()
    assert amended.license.created_at.ToDatetime() == at == amended.license.status_changed_at.ToDatetime()
    request = verification_pb2.ListCaseReceiptsRequest(use=later_use)
    (listed,) = verifier(running, TAX).ListCaseReceipts(request).receipts
    assert (listed.standing_now.result, listed.standing_now.reason) == (PASSED, "AMENDED_SINCE")


@pytest.mark.usefixtures("steady_caches")
def test_a_warm_check_of_a_superseded_version_follows_the_chain_by_cache_lookups(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review (ADR 0005): the warm VerifyLicense of an old version re-parsed identifiers and rebuilt the
    version in force on every call. Each check knows its successor, found once; the day's outcome is kept while the
    checks of the later versions are the cached ones: no identifier is parsed on a warm call, the kept outcome is
    the same object, and an amendment or revocation of the newer version still shows at the next check."""
    first = business_license(running, 58)
    second = amend(running, first, "李四")
    third = amend(running, second, "王五")
    settle(running)  # the feed hears the amendments before the checks are cached, not after
    assert current(verify(running, license_id=first)) == (third, ACTIVE)
    service = running.gateway.verification
    assert service is not None
    checked = service._checked[first]
    assert checked.successor_id == second and service._checked[second].successor_id == third
    assert service._checked[third].successor_id == ""
    kept = checked.today
    assert kept is not None

    parsed: list[str] = []
    real = verification_module.LicenseId

    class Counted:
        @staticmethod
        def parse(text: str) -> LicenseId:
            parsed.append(text)
            return real.parse(text)

    monkeypatch.setattr(verification_module, "LicenseId", Counted)
    for _ in range(3):
        assert current(verify(running, license_id=first)) == (third, ACTIVE)
    assert parsed == [] and checked.today is kept  # the day's outcome, found by identity of the later checks
    now = service._clock.now()
    assert service._outcome_today(checked, now) is kept[2]

    change(running, third, issuance_pb2.STATUS_ACTION_REVOKE)  # a new check of the version in force
    settle(running)
    assert current(verify(running, license_id=first)) == (third, REVOKED)
    assert checked.today is not kept and checked.today is not None and checked.today[2] is not kept[2]


def test_a_read_and_a_copy_of_a_superseded_version_name_the_version_in_force(running: RunningGateway) -> None:
    """A reviewer (review scen1, R3): a later department of the case, holding the first version's identifier from a
    receipt, read its data (the old 法定代表人) and got its certified copy as 已变更 only, while VerifyLicense of the
    same identifier said the version in force was revoked. GetLicenseData and GetLicenseDocument now name the version
    in force and its status, and the copy's watermark says them after its status line."""
    sharer = sharing_pb2_grpc.SharingServiceStub(running.channel(TAX))
    invoice = verification_pb2.UseContext(matter_code=FPSL, purpose="发票申领：读取营业执照")
    old = business_license(running, 61)
    first = amend(running, old, "王五")
    new = amend(running, first, "赵六")  # a chain: the newest is named

    def read(license_id: str) -> sharing_pb2.GetLicenseDataResponse:
        return sharer.GetLicenseData(sharing_pb2.GetLicenseDataRequest(use=invoice, license_id=license_id))

    def copy(license_id: str) -> sharing_pb2.SharingServiceGetLicenseDocumentResponse:
        request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=invoice, license_id=license_id)
        return sharer.GetLicenseDocument(request)

    def named(reply: Any) -> tuple[str, int, str]:
        return reply.current_license_id, reply.current_status, reply.current_status_since

    data = read(old)
    assert data.status == common_pb2.LICENSE_STATUS_SUPERSEDED and named(data) == (new, ACTIVE, "")
    assert named(read(new)) == ("", UNSPECIFIED, "")  # the version in force names nothing
    on = dt.datetime.now(CHINA_TZ).date().isoformat()
    active = copy(old)
    assert named(active) == (new, ACTIVE, "")
    assert active.use_text.startswith(f"证照状态：已变更（{on} 起不再现行）；现行版本 {new} 目前有效；用证事由：")

    change(running, new, issuance_pb2.STATUS_ACTION_REVOKE)
    assert named(read(old)) == named(read(first)) == (new, REVOKED, on)
    revoked = copy(old)
    assert named(revoked) == (new, REVOKED, on)
    assert revoked.use_text.startswith(
        f"证照状态：已变更（{on} 起不再现行）；现行版本 {new} 目前已吊销或撤销（{on} 起）；用证事由："
    )
    ((shown, _),) = page_text_and_red(revoked.pdf)  # on the page too, as a line of its own
    assert f"证照状态：已变更（{on}起不再现行）现行版本{new}目前已吊销或撤销（{on}起）用证事由" in shown
    assert named(copy(new)) == ("", UNSPECIFIED, "")

    # a link to a successor changed in the store names nothing, as VerifyLicense names nothing
    other = business_license(running, 62)
    stray = amend(running, other, "钱七")
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET superseded_by = :to WHERE license_id = :id"), {"to": new, "id": other}
        )
    running.gateway.feed.committed([f"license:{other}"])  # type: ignore[union-attr]
    assert stray != new and named(read(other)) == ("", UNSPECIFIED, "")
