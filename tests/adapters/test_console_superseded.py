"""The console names the version in force of a superseded license (变更): in the verification result, and beside a
一件事 case's receipts, as JSON and in a real browser (``tests.adapters.test_console_browser``'s chromium)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.bootstrap import samples
from protos.zzgw.v1 import issuance_pb2, verification_pb2
from tests.adapters.test_console import fetch
from tests.adapters.test_console import verify as console_verify
from tests.adapters.test_console_browser import CHROMIUM, check, sign_in_again, verdict
from tests.adapters.test_console_browser import browser as browser  # the browser test's fixtures
from tests.adapters.test_console_browser import database_url as database_url
from tests.adapters.test_console_browser import page as page
from tests.api.test_verification import FPSL, change, verifier
from tests.api.test_verification import issue_for_invoices as issue
from tests.api.test_verification_superseded import FIRST, LATER, amend, business_license
from tests.conftest import POLICE, TAX, RunningGateway


def case_uses() -> tuple[verification_pb2.UseContext, dict[str, str]]:
    """A new 企业开办 case: the 公安局's use (gRPC) and the tax bureau's (the console's JSON)."""
    case = "QYKB-" + uuid.uuid4().hex[:10]
    first = verification_pb2.UseContext()
    first.CopyFrom(FIRST)
    first.case_id = case
    later = {"matter_code": FPSL, "purpose": LATER.purpose, "operator": "税务窗口02", "bundle_code": LATER.bundle_code}
    return first, {**later, "case_id": case}


def test_the_console_names_the_version_in_force(console: str, running: RunningGateway) -> None:
    old = business_license(running, 61)
    first, later = case_uses()
    verifier(running, POLICE).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=old))
    status, report = console_verify(console, running, query=old)
    assert status == 200 and (report["license"]["current_license_id"], report["license"]["current_status"]) == ("", "")
    new = amend(running, old, "李四")

    status, report = console_verify(console, running, query=old)
    assert status == 200 and (report["verdict"], report["reason"]) == ("FAILED", "SUPERSEDED")
    assert (report["license"]["current_license_id"], report["license"]["current_status"]) == (new, "ACTIVE")
    assert report["findings"]["status"]["detail"].endswith(f"（a newer version replaced this one: {new}, now ACTIVE）")
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[TAX])
    (listed,) = answer["receipts"]
    assert status == 200 and listed["current_license_id"] == new
    assert (listed["standing_now"]["result"], listed["standing_now"]["reason"]) == ("PASSED", "AMENDED_SINCE")

    change(running, new, issuance_pb2.STATUS_ACTION_REVOKE)
    status, report = console_verify(console, running, query=old)
    assert (report["license"]["current_license_id"], report["license"]["current_status"]) == (new, "REVOKED")
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[TAX])
    (listed,) = answer["receipts"]
    assert listed["current_license_id"] == new
    assert (listed["standing_now"]["result"], listed["standing_now"]["reason"]) == ("FAILED", "REVOKED")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
def test_a_clerk_sees_the_version_in_force_of_a_superseded_license(page: Any, running: RunningGateway) -> None:
    old = business_license(running, 62)
    first, later = case_uses()
    verifier(running, POLICE).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=old))
    new = amend(running, old, "李四")

    page.fill("#query", old)
    check(page, "by-text")
    text = verdict(page, "FAILED")
    assert f"证照已变更，此版本不再现行；现行版本 {new}（有效）" in text  # 已变更 once
    # the row names the version in force once (its value had been 已变更，现行版本 <id>: a Chinese text editor)
    summary = page.inner_text("#summary")
    assert f"现行版本\t{new}（有效）\n" in summary and summary.count("现行版本") == 1
    assert "状态\t已变更（不再现行" in summary

    page.click("#case-details summary")
    page.select_option("#bundle", later["bundle_code"])
    page.fill("#case", later["case_id"])
    page.click("#case-list")
    page.wait_for_selector("#case-receipts:not([hidden])")
    standing = page.locator("#case-table tr[data-receipt] td.standing")
    assert standing.inner_text() == f"有效\n已变更，现行版本 {new}（有效）"
    assert "changed" not in (standing.get_attribute("class") or "")

    change(running, new, issuance_pb2.STATUS_ACTION_REVOKE)
    page.click("#case-list")
    page.locator("#case-table td.standing.changed").first.wait_for()
    standing = page.locator("#case-table tr[data-receipt] td.standing")
    assert standing.inner_text() == f"已吊销或撤销\n该证照在核验后已变更，现行版本 {new}（已吊销或撤销），请重新核验"

    check(page, "by-text")
    assert f"此版本不再现行；现行版本 {new}（已吊销或撤销）" in verdict(page, "FAILED")


def test_a_receipt_of_a_check_made_after_the_amendment_is_not_relied_on(console: str, running: RunningGateway) -> None:
    """Found in review: the old version checked after the 变更 (FAILED / SUPERSEDED) was listed 有效 as "amended
    since". It stands as that version does, and names no version in force (the console's "在核验后已变更" is for an
    amendment since the check), so the console says it failed for the same reason at the check."""
    old = business_license(running, 63)
    new = amend(running, old, "李四")
    first, later = case_uses()
    checked = verifier(running, POLICE).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=old))
    assert checked.report.reason == "SUPERSEDED"
    for status_now, said in (("ACTIVE", "有效"), ("REVOKED", "已吊销或撤销")):
        status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[TAX])
        (listed,) = answer["receipts"]
        assert status == 200 and (listed["verdict"], listed["reason"]) == ("FAILED", "SUPERSEDED")
        assert listed["current_license_id"] == ""
        assert listed["standing_now"] == {
            "result": "FAILED",
            "reason": "SUPERSEDED",
            "detail": f"证照已变更，此版本不再现行；现行版本 {new} 目前{said}"
            f"（a newer version replaced this one: {new}, now {status_now}）",
        }
        if status_now == "ACTIVE":
            change(running, new, issuance_pb2.STATUS_ACTION_REVOKE)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
def test_a_clerk_is_not_told_a_failed_receipt_is_valid(page: Any, running: RunningGateway) -> None:
    old = business_license(running, 64)
    new = amend(running, old, "李四")
    first, later = case_uses()
    verifier(running, POLICE).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=old))
    page.click("#case-details summary")
    page.select_option("#bundle", later["bundle_code"])
    page.fill("#case", later["case_id"])
    page.click("#case-list")
    page.wait_for_selector("#case-receipts:not([hidden])")
    standing = page.locator("#case-table tr[data-receipt] td.standing")
    expected = "已变更（不再现行）\n该证照在核验时即已变更，此版本不再现行（当时核验未通过），不能凭此回执免收材料"
    assert standing.inner_text() == expected
    change(running, new, issuance_pb2.STATUS_ACTION_REVOKE)
    page.click("#case-list")
    page.locator("#case-table td.standing.changed").first.wait_for()
    assert standing.inner_text() == expected and "在核验后" not in standing.inner_text()


def current_version_offered(page: Any) -> tuple[bool, str, str]:
    """Whether 核验现行版本 is shown, and the license and words it carries (``""`` for none)."""
    button = page.locator("#verify-current")
    return (
        page.is_visible("#current-version"),
        button.get_attribute("data-license") or "",
        (button.get_attribute("aria-label") or ""),
    )


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
def test_a_claim_after_a_superseded_version_offers_no_version_in_force_nor_does_the_next_clerks_page(
    page: Any, running: RunningGateway
) -> None:
    """Found in review (R4): after a superseded version's check, the next applicant's 信息比对 was shown with its
    核验现行版本 still under the banner, pointing at the earlier applicant's license, and a click gave a green 核验通过
    for it (a receipt and a record in that holder's log); so was the next clerk's first 信息比对 after 退出."""
    old = business_license(running, 65)
    new = amend(running, old, "李四")
    other = issue(running, 66, samples.business_license).license  # the next applicant's company
    page.select_option("#claim-type", other.type_code)

    def superseded_checked() -> None:
        page.fill("#query", old)
        check(page, "by-text")
        verdict(page, "FAILED")
        assert current_version_offered(page) == (True, new, f"核验现行版本 {new}")

    def claimed() -> None:
        page.fill("#claim-holder", other.holder.code)
        page.fill("#claim-number", other.license_number)
        page.fill("#claim-name", "济南另一家公司")
        check(page, "by-claim")
        assert "不符：单位名称" in verdict(page, "FAILED")
        assert current_version_offered(page) == (False, "", "")

    superseded_checked()
    claimed()
    superseded_checked()
    page.click("#sign-out")
    sign_in_again(page, running.tokens[TAX], "窗口05 赵六")
    assert current_version_offered(page) == (False, "", "")
    page.select_option("#matter", FPSL)
    page.select_option("#claim-type", other.type_code)
    claimed()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
def test_signing_out_leaves_nothing_of_the_applicant_or_the_clerk_in_the_page(
    page: Any, running: RunningGateway
) -> None:
    """Found in review (R3): 退出 emptied the fields and the answer, but the page kept what a field's focus had
    noted (``data-kept``: after a 信息比对 the focus is in the holder's code, so the applicant's 公民身份号码 or
    统一社会信用代码), the last superseded license's version in force on 核验现行版本 (``data-license``,
    ``aria-label``), the case the last check was linked to, and the clerk's and the department's names in the hidden
    header, for the next clerk at the window to find (the DOM inspector, a screen reader's list of elements)."""
    old = business_license(running, 67)
    new = amend(running, old, "李四")
    other = issue(running, 68, samples.business_license).license
    page.select_option("#claim-type", other.type_code)
    page.fill("#claim-holder", other.holder.code)
    page.fill("#claim-number", other.license_number)
    page.fill("#claim-name", other.holder.name)
    check(page, "by-claim")
    verdict(page, "PASSED")
    for field in ("#claim-number", "#claim-name", "#claim-holder"):  # the clerk goes back into them
        page.focus(field)
    _, later = case_uses()  # the next check linked to a 一件事 case: said beside the verdict
    case = later["case_id"].upper()  # as the gateway keeps it
    page.click("#case-details summary")
    page.select_option("#bundle", later["bundle_code"])
    page.fill("#case", later["case_id"])
    page.fill("#query", old)
    check(page, "by-text")
    verdict(page, "FAILED")
    assert case in page.inner_text("#case-linked")
    receipt_id = page.evaluate("sessionStorage.getItem('zzgw.receipt')")
    page.fill("#receipt-id", receipt_id)
    page.focus("#receipt-id")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in:not([hidden])")
    html = page.evaluate("document.documentElement.outerHTML")
    for left in (
        other.holder.code,
        other.license_number,
        other.holder.name,
        old,
        new,
        receipt_id,
        case,
        later["case_id"],
        "窗口03 王敏",
    ):
        assert left not in html, left
    assert page.eval_on_selector_all("[data-kept]", "es => es.map(e => e.id)") == []
    assert page.inner_text("#member-name") == "" and page.inner_text("#operator-name") == ""
    assert page.get_attribute("#verdict", "class") == "verdict"  # nor whether the last check passed
