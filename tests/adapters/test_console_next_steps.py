"""The clerk's console in a real browser (``tests.adapters.test_console_browser``'s chromium), for what a window
clerk met in a day's black-box test and was left without a next step: a scan cut short answered like a forgery; a
PDF too large or cut off refused with the fact only; sign-in and a case's receipts showing nothing on a slow network;
a token the administrator ended mid-shift reported as a typo; and an amended license's version in force given as text
only."""

from __future__ import annotations

import io
import uuid
import zlib
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from PIL import Image

from protos.zzgw.v1 import verification_pb2
from signing.qr import qr_png
from tests.adapters.test_console import fetch
from tests.adapters.test_console import verify as console_verify
from tests.adapters.test_console_browser import (
    CHROMIUM,
    case_of_the_seal_engraving,
    check,
    held_calls,
    let_go,
    list_case_receipts,
    open_console,
    verdict,
)
from tests.adapters.test_console_browser import browser as browser  # the browser test's fixtures
from tests.adapters.test_console_browser import database_url as database_url
from tests.adapters.test_console_browser import page as page
from tests.api.test_documents import document_of
from tests.api.test_verification import issue_for_invoices as issue
from tests.api.test_verification import qr_for, verifier
from tests.api.test_verification_superseded import amend, business_license
from tests.conftest import POLICE, TAX, RunningGateway

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
TOKEN_ENDED = "接入令牌已被管理员停用或更换，请向管理员申领新令牌后重新登录"


def signature_changed(code: str) -> str:
    """``code`` with one bit of its signature changed, encoded whole again: a code that reads, whose signature fails
    (a forgery's, not a scan's)."""
    tagged = cbor2.loads(zlib.decompress(base45.b45decode(code[len("ZZ1:") :])))
    protected, _, payload, signature = tagged.value
    forged = signature[:-1] + bytes([signature[-1] ^ 1])
    message = cbor2.dumps(cbor2.CBORTag(tagged.tag, [protected, {}, payload, forged]))
    return "ZZ1:" + base45.b45encode(zlib.compress(message, 9)).decode()


def findings(page: Any) -> list[tuple[str, str]]:
    """Each finding shown: its class (its colour) and its text."""
    shown = page.eval_on_selector_all("#findings li", "ls => ls.map(l => [l.className, l.innerText])")
    return [(kind, text) for kind, text in shown]


def test_a_code_cut_short_is_to_be_scanned_again_and_one_whose_signature_fails_stays_red(
    page: Any, console: str, running: RunningGateway
) -> None:
    """A code read half-way (a handheld scanner, a phone screen), or a bare ZZ1:, is said in amber to be scanned
    again, and not to be held against the applicant: the gateway could not read it. It had been a red 核验未通过 with
    完整性 核验未通过, as a forgery (a clerk tester). The gateway's verdict stays FAILED (MALFORMED), with its receipt,
    which says why; a code that reads but whose signature fails stays red."""
    license_id = issue(running, 81).license.license_id
    code, _ = qr_for(running, license_id)
    status, report = console_verify(console, running, query=code[: len(code) // 2])
    assert status == 200 and (report["verdict"], report["reason"]) == ("FAILED", "MALFORMED")  # as documented

    for cut in (code[: len(code) // 2], "ZZ1:", code[:-3]):
        page.fill("#query", cut)
        check(page, "by-text")
        said = verdict(page, "INDETERMINATE")
        assert page.inner_text("#verdict-text") == "核验码无法识别，请重新扫描"
        assert page.inner_text("#verdict-reason") == (
            "核验码不完整或无法识别（可能扫描时漏读或截断了字符），这不说明证照是伪造的：请重新扫描；仍无法识别时，"
            "请改用“输入证照”（按证照编号核验）或上传电子证照 PDF 文件，不要据此拒绝申请人"
        )
        assert "核验未通过" not in said
        assert findings(page)[0] == (
            "INDETERMINATE",
            "完整性（印章与签名未被篡改）：未能判断\n核验码不完整或无法识别，未能检查印章与签名，请重新扫描",
        )
        assert "核验结论\t核验未通过（核验码无法识别，须重新扫描）" in page.inner_text("#receipt-table")
        assert page.evaluate("document.activeElement.id") == "query"  # ready for the scan again
        assert "请重新扫描" in page.text_content("#announce")

    photo = io.BytesIO()  # a photo of a code printed cut short: to be photographed again
    Image.open(io.BytesIO(qr_png(code[: len(code) // 2], scale=3))).save(photo, "PNG")
    page.set_input_files("#qr-image", {"name": "qr.png", "mimeType": "image/png", "buffer": photo.getvalue()})
    check(page, "by-qr")
    verdict(page, "INDETERMINATE")
    assert page.inner_text("#verdict-reason").startswith("核验码不完整或无法识别（可能拍摄不全或不清晰），")
    assert "请重新拍摄二维码后上传" in page.inner_text("#verdict-reason")

    page.fill("#query", signature_changed(code))
    check(page, "by-text")
    verdict(page, "FAILED")
    assert page.inner_text("#verdict-text") == "核验未通过"
    assert page.inner_text("#verdict-reason") == "核验码签名不符（可能是伪造的或被改动）"
    forged = "完整性（印章与签名未被篡改）：核验未通过\n核验码签名不符（可能是伪造的或被改动）"
    assert findings(page)[0] == ("FAILED", forged)
    assert "重新扫描" not in page.inner_text("#result")


def test_a_pdf_too_large_or_cut_off_is_refused_with_what_to_do(page: Any, running: RunningGateway) -> None:
    """A PDF over the limit, refused before it is sent, and one cut off in transfer (TRUNCATED_PDF) say what to do:
    the original file again, or the QR photo or the number, as the not-a-PDF and no-seal refusals do. They had said
    the fact only (PDF 文件过大（28.6 MB），最大 4.0 MB; PDF 文件不完整; a clerk tester)."""
    pdf = document_of(running, issue(running, 82).license.license_id).pdf
    limit = running.gateway.settings.max_message_bytes
    big = b"%PDF-1.7\n" + b"0" * (limit * 2)
    page.set_input_files("#pdf", {"name": "big.pdf", "mimeType": "application/pdf", "buffer": big})
    check(page, "by-pdf")
    page.wait_for_selector("#message:not([hidden])")
    said = page.inner_text("#message")
    assert said.startswith("PDF 文件过大（") and said.endswith(
        "。请申请人提供发证部门出具的原文件（扫描件、照片不能作为电子证照文件核验），"
        "或改用“上传二维码图片”或“输入证照”（按证照编号核验）"
    ), said

    cut = pdf[: len(pdf) // 2]
    page.set_input_files("#pdf", {"name": "cut.pdf", "mimeType": "application/pdf", "buffer": cut})
    check(page, "by-pdf")
    page.locator("#message", has_text="不完整").wait_for()
    assert page.inner_text("#message") == (
        "PDF 文件不完整（可能在传输或下载中被截断）。请申请人重新下载或发送发证部门出具的原文件，"
        "或改用“上传二维码图片”或“输入证照”（按证照编号核验）"
    )
    assert page.is_hidden("#result")


def test_sign_in_and_a_cases_receipts_show_progress_while_the_gateway_is_slow(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """While the gateway has not answered, 登录 says 正在登录… and waits, 查看本件已有核验回执 says
    正在查询本件核验回执… and waits, and a receipt's look-up says 正在查验回执…, as a check says 正在核验…: both
    had shown nothing, and were clicked again (a clerk tester)."""
    license_id = issue(running, 83).license.license_id
    case, first = case_of_the_seal_engraving()
    verifier(running, POLICE).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id))
    context, page = open_console(browser, console, running.tokens[TAX])
    try:
        held = held_calls(page, "**/console/api/session")
        page.fill("#operator", "窗口03 王敏")
        page.click("#sign-in-form button")
        page.locator("#busy", has_text="正在登录…").wait_for()
        assert page.is_disabled("#sign-in-form button") and len(held) == 1
        page.press("#operator", "Enter")  # asked again meanwhile: not sent again
        page.wait_for_timeout(200)
        assert len(held) == 1
        let_go(held.pop())
        page.wait_for_selector("#work:not([hidden])")
        assert page.is_hidden("#busy") and not held

        held = held_calls(page, "**/console/api/case-receipts")
        list_case_receipts(page, case)
        page.locator("#busy", has_text="正在查询本件核验回执…").wait_for()
        assert page.is_disabled("#case-list") and page.is_visible("#busy")
        let_go(held.pop())
        page.wait_for_selector("#case-receipts:not([hidden])")
        assert page.is_hidden("#busy") and page.is_enabled("#case-list")

        receipt_id = page.get_attribute("#case-table tr[data-receipt]", "data-receipt")
        held = held_calls(page, "**/console/api/receipt")
        page.fill("#receipt-id", receipt_id)
        page.click("#by-receipt button[type=submit]")
        page.locator("#busy", has_text="正在查验回执…").wait_for()
        let_go(held.pop())
        page.wait_for_selector("#receipt-review:not([hidden])")
        assert page.is_hidden("#busy")
    finally:
        context.close()


def test_a_token_ended_mid_shift_is_said_to_be_ended_not_mistyped(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """A clerk's own token ended by the administrator (``--end``) is TOKEN_ENDED, at the next check and when typed
    again: 请向管理员申领新令牌. A department's token replaced is unknown to the gateway, but a token that had signed
    the tab in is not a typo either. Only a token that never signed in reads 请核对 (a clerk tester: the clerk had
    re-typed the same ended token)."""
    members = running.gateway.members
    clerk = "窗口05 赵六 " + uuid.uuid4().hex[:6]
    token = members.issue_clerk_token(TAX, clerk)
    context, page = open_console(browser, console, token)
    try:
        page.click("#sign-in-form button")
        page.wait_for_selector("#work:not([hidden])")
        members.end_clerk_token(TAX, clerk)
        running.gateway.authenticator._clerks.clear()  # its 30 s passed
        status, answer = fetch(f"{console}/api/session", token=token)
        assert status == 401 and answer["error"]["reason"] == "TOKEN_ENDED"
        page.fill("#query", issue(running, 84).license.license_id)
        page.click("#by-text button[type=submit]")
        page.wait_for_selector("#sign-in:not([hidden])")
        assert page.inner_text("#message") == TOKEN_ENDED
        page.fill("#token", token)  # the same token again
        page.click("#sign-in-form button")  # the focus on the button now, back on the token once refused again
        from playwright.sync_api import expect

        expect(page.locator("#token")).to_be_focused()  # polled by Playwright, not eval: the page's CSP has none
        assert page.inner_text("#message") == TOKEN_ENDED

        page.fill("#token", running.tokens[TAX])
        page.fill("#operator", "窗口05 赵六")
        page.click("#sign-in-form button")
        page.wait_for_selector("#work:not([hidden])")
        page.evaluate("sessionStorage.setItem('zzgw.token', 'a-replaced-token')")  # replaced by the administrator
        page.fill("#query", issue(running, 85).license.license_id)
        page.click("#by-text button[type=submit]")
        page.wait_for_selector("#sign-in:not([hidden])")
        lapsed = "接入令牌已失效（可能已被管理员停用或更换），请向管理员申领新令牌后重新登录"
        assert page.inner_text("#message") == lapsed

        page.fill("#token", "a-mistyped-token")
        page.fill("#operator", "窗口05 赵六")
        page.click("#sign-in-form button")
        page.locator("#message", has_text="核对").wait_for()
        assert page.inner_text("#message") == "接入令牌无效，请核对后重新登录"
    finally:
        context.close()


def test_a_superseded_versions_version_in_force_is_verified_with_one_button(page: Any, running: RunningGateway) -> None:
    """An amended license's old version (a paper printed before the 变更) offers 核验现行版本, which verifies the
    version in force, with a receipt of its own: its 90-character identifier had to be copied by hand (a clerk
    tester). A version in force offers none."""
    old = business_license(running, 65)
    new = amend(running, old, "李四")
    page.fill("#query", old)
    check(page, "by-text")
    verdict(page, "FAILED")
    button = page.locator("#verify-current")
    assert button.is_visible() and button.inner_text() == "核验现行版本"
    assert button.get_attribute("aria-label") == f"核验现行版本 {new}"
    first = page.inner_text("#receipt-table")

    button.click()  # the verdict that comes is the new one's: the old one was red
    verdict(page, "PASSED")
    assert f"证照标识\t{new}\n" in page.inner_text("#summary")
    assert page.inner_text("#checked-what") == f"核验内容：证照标识 {new}"
    assert f"所查证照标识\t{new}" in page.inner_text("#receipt-table") and page.inner_text("#receipt-table") != first
    assert page.is_hidden("#verify-current")  # the version in force has none
