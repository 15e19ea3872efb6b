"""The clerk's console in a real browser (``tests.adapters.test_console_browser``'s chromium), for what a window
clerk met in a black-box test: a case left in force with its panel folded, a code scanned into 用证事由 or 办件编号,
a receipt of a failed check shown green, a case's receipts cut at 200, a superseded verdict overflowing its box on a
tablet, a forged code said in a file's words, English on hover, and small slips of wording and focus."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.bootstrap import samples
from protos.zzgw.v1 import issuance_pb2, verification_pb2
from signing.qr import QrClaims, encode_qr
from tests.adapters.test_console import fetch
from tests.adapters.test_console_browser import CHROMIUM, check, sign_in, verdict
from tests.adapters.test_console_browser import browser as browser  # the browser test's fixtures
from tests.adapters.test_console_browser import database_url as database_url
from tests.adapters.test_console_browser import page as page
from tests.api.test_verification import SameKeyIdOtherKey, change, qr_for, verifier
from tests.api.test_verification import issue_for_invoices as issue
from tests.api.test_verification_superseded import amend, business_license
from tests.conftest import MARKET, POLICE, TAX, RunningGateway, today

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
QYKB, QYKZ = "370100-YJS-QYKB", "370100-QYKZ-001"
CASE_TITLE = "一件事 / 办件编号（可选；接办时可查看本件已有的核验回执）"


def sent(page: Any, path: str) -> list[dict[str, Any]]:
    """The JSON bodies the page sends to ``path`` from now on, in order."""
    bodies: list[dict[str, Any]] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if r.url.endswith(path) else None)
    return bodies


def focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id"))


def open_case(page: Any, case: str) -> None:
    page.click("#case-details summary")
    page.select_option("#bundle", QYKB)
    page.fill("#case", case)


def test_a_case_left_in_the_panel_is_shown_folded_named_in_the_result_and_ended_with_one_click(
    page: Any, running: RunningGateway
) -> None:
    """Applicant A's case typed in, A's license checked, the panel folded: the folded title names the case, the result
    says the check was linked to it, and 结束本件 ends it, so the next applicant's check goes to no case (it had gone
    to A's, invisibly)."""
    bodies = sent(page, "/api/verify")
    assert page.inner_text("#case-summary") == CASE_TITLE and page.is_hidden("#case-active")
    case = "QYKB-A-" + uuid.uuid4().hex[:8].upper()
    open_case(page, case)
    assert page.inner_text("#case-summary") == f"当前办件：企业开办一件事 / {case}" and page.is_visible("#case-active")
    page.fill("#query", issue(running, 71).license.license_id)
    check(page, "by-text")
    verdict(page, "PASSED")
    assert page.inner_text("#case-linked") == f"本次核验已关联办件：企业开办一件事 / {case}"
    assert page.text_content("#announce").endswith(f"。本次核验已关联办件：企业开办一件事 / {case}")
    assert bodies[-1]["use"]["case_id"] == case

    page.click("#case-details summary")  # folded, as a clerk folds it to have the forms on screen
    assert page.is_hidden("#case") and page.is_visible("#case-summary")
    assert page.inner_text("#case-summary") == f"当前办件：企业开办一件事 / {case}"
    assert "active" in page.get_attribute("#case-summary", "class")
    end = page.locator("#case-end")
    assert end.is_visible() and end.inner_text() == "结束本件"
    end.click()
    assert page.inner_text("#case-summary") == CASE_TITLE and page.is_hidden("#case-active")
    assert (page.input_value("#case"), page.input_value("#bundle")) == ("", "")
    assert page.text_content("#announce") == "已结束本件：此后的核验不再关联办件"
    assert focused(page) == "query"  # ready for the next applicant's scan

    page.fill("#query", issue(running, 72).license.license_id)  # the next applicant: linked to no case
    check(page, "by-text")
    verdict(page, "PASSED")
    assert (bodies[-1]["use"]["bundle_code"], bodies[-1]["use"]["case_id"]) == ("", "")
    assert page.is_hidden("#case-linked") and "一件事" not in page.inner_text("#receipt-table")


def test_a_code_scanned_into_the_purpose_or_the_case_number_is_checked_not_kept_there(
    page: Any, running: RunningGateway
) -> None:
    """A scanner types where the cursor is: a ZZ1: code (or an identifier) typed into 用证事由 or 办件编号 goes to
    输入证照 and is checked with the scanner's Enter; the field keeps what it had (the code had become part of the
    signed purpose of every later check). A pasted one is checked at once. Enter in 用证事由 is not a silent no-op."""
    bodies = sent(page, "/api/verify")
    purpose = page.input_value("#purpose")
    license_id = issue(running, 73).license.license_id
    code, _ = qr_for(running, license_id)
    page.click("#purpose")
    page.keyboard.press("End")
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    verdict(page, "PASSED")
    assert page.input_value("#purpose") == purpose and bodies[-1]["use"]["purpose"] == purpose
    assert bodies[-1]["query"] == code and license_id in page.inner_text("#summary")
    assert f"用证事由\t{purpose}\n" in page.inner_text("#receipt-table")
    assert focused(page) == "query"

    # an identifier typed into 办件编号 after the case's own number: the case number stays, the license is checked
    case = "QYKB-" + uuid.uuid4().hex[:8].upper()
    open_case(page, case)
    page.click("#case")
    page.keyboard.press("End")
    page.keyboard.type(license_id)
    page.keyboard.press("Enter")
    verdict(page, "PASSED")
    assert page.input_value("#case") == case and bodies[-1]["use"]["case_id"] == case
    assert bodies[-1]["query"] == license_id and page.is_hidden("#case-receipts")

    # pasted into 用证事由 (Ctrl+V): not pasted there, checked at once
    page.click("#case-end")
    page.fill("#query", "")
    page.focus("#purpose")
    page.evaluate(
        """code => {
            const data = new DataTransfer();
            data.setData('text/plain', code);
            document.getElementById('purpose').dispatchEvent(
                new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        code,
    )
    verdict(page, "PASSED")
    assert page.input_value("#purpose") == purpose and bodies[-1]["query"] == code
    assert page.inner_text("#message") == "用证事由中不能填写核验码或证照标识：已移到“输入证照”"

    # scanned into 信息比对's 统一社会信用代码 (the cursor left there by the last comparison): checked, not compared
    page.fill("#claim-holder", "")
    page.click("#claim-holder")
    page.keyboard.type(code)
    assert page.inner_text("#message") == "统一社会信用代码中不能填写核验码或证照标识：已移到“输入证照”，请按回车核验"
    page.keyboard.press("Enter")
    verdict(page, "PASSED")
    assert page.input_value("#claim-holder") == "" and bodies[-1]["query"] == code

    # Enter in 用证事由: said, and the focus goes to 输入证照 (it had done nothing at all)
    page.click("#purpose")
    page.keyboard.press("Enter")
    assert focused(page) == "query"
    assert page.inner_text("#message") == "用证事由已填写。请在“输入证照”中扫描或输入证照，按回车核验"


def test_a_valid_receipt_of_a_failed_check_says_so_and_is_not_green(page: Any, running: RunningGateway) -> None:
    """A receipt whose check failed is a valid record of a failure: its banner says both, in red, and so does the live
    region (it had been a green 回执有效 and nothing more). One of a check that passed says that it passed."""
    license_id = issue(running, 74).license.license_id
    use = verification_pb2.UseContext(matter_code=QYKZ, purpose="企业开办：刻制公章")
    passed = verifier(running, POLICE).VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id)
    )
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    failed = verifier(running, POLICE).VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id)
    )
    assert failed.report.verdict == verification_pb2.CHECK_RESULT_FAILED

    page.fill("#receipt-id", failed.report.receipt.receipt_id)
    page.click("#by-receipt button[type=submit]")
    page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.FAILED")
    assert page.inner_text("#review-text") == "回执有效，但当时核验未通过"
    assert page.inner_text("#review-reason") == "证照已吊销或撤销；不能凭此回执免收材料"
    assert "PASSED" not in page.get_attribute("#review-verdict", "class")
    assert page.eval_on_selector("#review-verdict", "e => getComputedStyle(e).backgroundColor") == "rgb(183, 28, 28)"
    said = "回执有效，但当时核验未通过：证照已吊销或撤销；不能凭此回执免收材料"
    assert page.text_content("#announce") == said + "。证照现在的状态：已吊销或撤销"  # what it still is, said once
    assert page.inner_text("#review-archive") == "与证照网关存档的回执一致。"

    page.fill("#receipt-id", passed.report.receipt.receipt_id)
    page.click("#by-receipt button[type=submit]")
    page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.PASSED")
    assert page.inner_text("#review-text") == "回执有效" and page.inner_text("#review-reason") == "当时核验通过"
    now = "证照现在的状态：已吊销或撤销。该证照在核验后已吊销或撤销，不能凭此回执免收材料"  # revoked since
    assert page.text_content("#announce") == "回执有效：当时核验通过。" + now


def test_a_cases_receipts_are_shown_a_page_at_a_time_and_their_count_said_honestly(
    page: Any, running: RunningGateway
) -> None:
    """显示更多 follows the answer's next_page_token until every receipt is shown; while some are not, the page says
    how many are shown and that there are more (it had said "本件已有 200 张" of a page). The gateway's page is 200;
    here the page's calls ask for 2, so five receipts take three pages. A case without receipts shows no empty
    table header."""
    license_id = issue(running, 75).license.license_id
    case = "QYKB-" + uuid.uuid4().hex[:10].upper()
    first = verification_pb2.UseContext(matter_code=QYKZ, purpose="企业开办：刻制公章", bundle_code=QYKB, case_id=case)
    made = [
        verifier(running, POLICE)
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id))
        .report.receipt.receipt_id
        for _ in range(5)
    ]
    bodies: list[dict[str, Any]] = []

    def two_a_page(route: Any) -> None:
        body = {**json.loads(route.request.post_data), "limit": 2}
        bodies.append(body)
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/case-receipts", two_a_page)
    open_case(page, case)
    page.click("#case-list")
    rows = page.locator("#case-table tr[data-receipt]")
    rows.nth(1).wait_for()
    more = "已显示 2 张核验回执（最早的），还有更多，请点击“显示更多”"
    assert page.inner_text("#case-more") == more and page.text_content("#announce") == more
    assert page.is_visible("#case-next") and page.inner_text("#case-next") == "显示更多"
    page.click("#case-next")
    rows.nth(3).wait_for()
    assert bodies[-1]["page_token"] and bodies[-1]["use"]["case_id"] == case
    assert page.text_content("#announce") == more.replace("2 张", "4 张")
    page.click("#case-next")
    rows.nth(4).wait_for()
    assert [rows.nth(i).get_attribute("data-receipt") for i in range(rows.count())] == made
    assert page.locator("#case-table tr").count() == 6  # one header, five receipts
    assert page.text_content("#announce") == "本件共有 5 张核验回执"
    assert page.is_hidden("#case-next") and page.is_hidden("#case-more")

    page.fill("#case", "NO-SUCH-CASE-" + uuid.uuid4().hex[:6])  # a case without receipts: no header above 没有
    page.click("#case-list")
    page.wait_for_selector("#case-empty:not([hidden])")
    assert page.inner_text("#case-empty") == "本件还没有核验回执。"
    assert page.locator("#case-table tr").count() == 0 and page.is_hidden("#case-next")


@pytest.mark.parametrize("width", [768, 375])
def test_a_superseded_verdict_wraps_in_its_box_and_says_amended_once(
    browser: Any, console: str, running: RunningGateway, width: int
) -> None:
    """The version in force's identifier breaks inside the red box on a tablet or a phone (it had run off it, white on
    the white page, and given the page a horizontal scroll bar); the reason says 已变更 once."""
    old = business_license(running, 76)
    new = amend(running, old, "李四")
    context, page = sign_in(browser, console, running.tokens[TAX], viewport={"width": width, "height": 900})
    try:
        page.wait_for_selector("#work:not([hidden])")
        page.fill("#query", old)
        check(page, "by-text")
        verdict(page, "FAILED")
        reason = page.inner_text("#verdict-reason")
        assert reason == f"证照已变更，此版本不再现行；现行版本 {new}（有效）" and reason.count("已变更") == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        inside = page.eval_on_selector("#verdict", "e => e.scrollWidth <= e.clientWidth")
        reason_box = page.eval_on_selector("#verdict-reason", "e => e.getBoundingClientRect().right")
        box = page.eval_on_selector("#verdict", "e => e.getBoundingClientRect().right")
        assert inside and reason_box <= box
    finally:
        context.close()


def test_a_forged_code_is_said_in_a_codes_words_and_nothing_on_hover_is_english(
    page: Any, running: RunningGateway
) -> None:
    """A ZZ1: code whose signature does not verify is 核验码签名不符 (it had been 签章已被篡改（签名与文件内容不符）,
    a file's words, with no file); the findings' tooltips are the page's Chinese words (they had been
    ``REVOKED：the license is revoked``), the reason's code kept out of sight in data-reason."""
    license_id = issue(running, 77).license.license_id
    _, content = qr_for(running, license_id)
    real = running.gateway.seals.record_key(MARKET)  # type: ignore[union-attr]
    forged = encode_qr(SameKeyIdOtherKey(real.key_id), QrClaims.of(content, issued_at=dt.datetime.now(dt.UTC)))
    page.fill("#query", forged)
    check(page, "by-text")
    verdict(page, "FAILED")
    words = "核验码签名不符（可能是伪造的或被改动）"
    assert page.inner_text("#verdict-reason") == words
    integrity = page.locator("#findings li[data-finding=integrity] .detail")
    assert integrity.inner_text() == words and integrity.get_attribute("data-reason") == "SIGNATURE_INVALID"
    assert "文件" not in page.inner_text("#verdict")

    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    page.fill("#query", license_id)
    check(page, "by-text")
    verdict(page, "FAILED")
    status = page.locator("#findings li[data-finding=status] .detail")
    assert status.get_attribute("title") == "证照已吊销或撤销" and status.get_attribute("data-reason") == "REVOKED"
    receipt_id = page.locator("#receipt-table td").first.inner_text()
    page.fill("#receipt-id", receipt_id)
    page.click("#by-receipt button[type=submit]")
    page.wait_for_selector("#receipt-review:not([hidden])")
    titles = page.eval_on_selector_all("[title]", "es => es.map(e => e.title)")
    assert titles and not [t for t in titles if re.search(r"[A-Za-z]{2,}", t)], titles


def test_small_slips_sizes_focus_and_parentheses(page: Any, console: str, running: RunningGateway) -> None:
    """A file one byte over the limit is said in bytes (not 4.0 MB, at most 4.0 MB); a refusal about one field puts
    the focus there and marks it aria-invalid until it is changed; a suspended license's status reads 已暂停使用（<date>
    起）, one pair of parentheses."""
    _, session = fetch(f"{console}/api/session", token=running.tokens[TAX])
    limit = session["limits"]["pdf_bytes"]
    page.set_input_files("#pdf", {"name": "big.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-" + b"0" * limit})
    check(page, "by-pdf")
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message").startswith(f"PDF 文件过大（{limit + 5:,} 字节），最大 {limit:,} 字节。")
    assert focused(page) == "pdf-pick" and page.get_attribute("#pdf-pick", "aria-invalid") == "true"

    page.fill("#purpose", "")
    page.fill("#query", issue(running, 78).license.license_id)
    page.press("#query", "Enter")
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message") == "请填写用证事由"
    assert focused(page) == "purpose" and page.get_attribute("#purpose", "aria-invalid") == "true"
    page.keyboard.type("发票申领：核验营业执照")
    assert page.get_attribute("#purpose", "aria-invalid") is None

    page.select_option("#claim-type", index=0)
    wrong = samples.uscc(424244)
    wrong = wrong[:-1] + ("0" if wrong[-1] != "0" else "1")  # a check character that does not match
    page.fill("#claim-holder", wrong)
    page.fill("#claim-number", "NO-SUCH-NUMBER")
    page.press("#claim-number", "Enter")
    page.locator("#message", has_text="校验码不符").wait_for()
    assert focused(page) == "claim-holder" and page.get_attribute("#claim-holder", "aria-invalid") == "true"

    suspended = issue(running, 79).license.license_id
    change(running, suspended, issuance_pb2.STATUS_ACTION_SUSPEND)
    page.fill("#query", suspended)
    check(page, "by-text")
    verdict(page, "FAILED")
    assert f"状态\t已暂停使用（{today().isoformat()} 起）\n" in page.inner_text("#summary")
    assert page.get_attribute("#claim-holder", "aria-invalid") is None  # a new check: nothing is marked
