"""The clerk's console in a real browser (``tests.adapters.test_console_browser``'s chromium), for a keyboard and
screen-reader clerk on the hall's 1366×768 screen, and at 200 % zoom: a refusal seen with its field, a focus ring on a
refused field, each refusal heard once and tied to its field, headings to jump to, names for every button, the idle
sign-out warned of (hiding no focused field), a quick way from 输入证照 to the result, nothing of a clerk's work
kept in the tab for the next clerk, and a tab closed and opened again not signed in."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import verification_pb2
from signing.qr import qr_png
from tests.adapters.test_console_browser import (
    CHROMIUM,
    MATTER,
    at_work,
    case_of_the_seal_engraving,
    check,
    held_calls,
    let_go,
    open_console,
    sign_in,
    verdict,
)
from tests.adapters.test_console_browser import browser as browser  # the browser test's fixtures
from tests.adapters.test_console_browser import database_url as database_url
from tests.adapters.test_console_browser import page as page
from tests.api.test_documents import document_of
from tests.api.test_verification import issue_for_invoices as issue
from tests.api.test_verification import qr_for, unique, verifier
from tests.conftest import CIVIL, POLICE, TAX, RunningGateway

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
SCREENS = {
    "1366x768": {"viewport": {"width": 1366, "height": 768}},
    "200% zoom": {"viewport": {"width": 683, "height": 384}, "device_scale_factor": 2},
}


@pytest.fixture(params=list(SCREENS))
def screen(request: Any, browser: Any, console: str, running: RunningGateway) -> Iterator[Any]:
    """The console signed in as a clerk of the tax bureau on the hall's screen, and at 200 % zoom."""
    with at_work(browser, console, running.tokens[TAX], MATTER, **SCREENS[request.param]) as page:
        yield page


def box(page: Any, selector: str) -> tuple[float, float]:
    """The element's top and bottom on the screen."""
    top, bottom = page.eval_on_selector(
        selector, "e => [e.getBoundingClientRect().top, e.getBoundingClientRect().bottom]"
    )
    return top, bottom


def in_view(page: Any, selector: str) -> bool:
    """Whether the element is wholly on the screen (not scrolled away above or below)."""
    top, bottom = box(page, selector)
    return bool(top >= 0 and bottom <= page.evaluate("window.innerHeight"))


def refused(page: Any, field: str, said: str) -> None:
    """``said`` is shown, on the screen with the field it is about, which has the focus, is marked invalid and is
    described by the words."""
    page.locator("#message", has_text=said).wait_for()
    assert page.inner_text("#message") == said
    assert page.evaluate("document.activeElement.id") == field.lstrip("#")
    assert in_view(page, "#message") and in_view(page, field), said
    assert page.get_attribute(field, "aria-invalid") == "true"
    assert "message" in page.get_attribute(field, "aria-describedby").split()


def test_a_refusal_is_seen_with_its_field(screen: Any, running: RunningGateway) -> None:
    """The words were below all five forms: off the screen, or the focused field scrolled away (at 1366×768 and
    more so at 200 %; a keyboard clerk). They are beside the field now, both in view, after a verdict too."""
    page = screen
    page.press("#query", "Enter")
    refused(page, "#query", "请输入证照标识、证照编号或核验码")
    page.fill("#query", "12345678")  # a number without its type: the gateway's refusal, about the type
    page.press("#query", "Enter")
    refused(page, "#type-code", "按证照编号核验时，请选择证照类型")
    page.fill("#purpose", "")
    page.press("#query", "Enter")
    refused(page, "#purpose", "请填写用证事由")
    page.fill("#purpose", "发票申领：核验营业执照")

    page.select_option("#type-code", "")
    page.fill("#query", issue(running, 91).license.license_id)
    check(page, "by-text")
    verdict(page, "PASSED")  # the page scrolled down to it
    page.fill("#query", "")
    page.press("#query", "Enter")
    refused(page, "#query", "请输入证照标识、证照编号或核验码")


def test_a_refused_field_shows_the_focus_ring(page: Any) -> None:
    """A refused field had the same red outline whether it had the focus or not: its red ring is a shadow now, and
    the focus ring an outline of its own colour (a keyboard clerk)."""
    page.fill("#query", "12345678")
    page.press("#query", "Enter")
    page.locator("#message", has_text="请选择证照类型").wait_for()
    style = "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineColor, s.boxShadow]; }"
    focused = page.eval_on_selector("#type-code", style)
    page.keyboard.press("Tab")
    blurred = page.eval_on_selector("#type-code", style)
    assert blurred[0] == "none" and "rgb(183, 28, 28)" in blurred[2]  # red, without the focus
    assert focused[0] == "solid" and focused[1] != "rgb(183, 28, 28)" and "rgb(183, 28, 28)" in focused[2]


def test_sign_in_refusals_mark_their_field(browser: Any, console: str, running: RunningGateway) -> None:
    """An empty or unknown token, a missing or unprintable clerk's name: the field is marked invalid and described
    by the words, as the page's other refusals are (they had the focus, and no invalid state)."""
    context, page = open_console(browser, console, "")
    try:
        page.press("#token", "Enter")
        refused(page, "#token", "请输入接入令牌")
        page.fill("#token", running.tokens[TAX])
        assert page.is_hidden("#message") and page.get_attribute("#token", "aria-invalid") is None
        page.press("#token", "Enter")
        refused(page, "#operator", "使用部门令牌时，请填写核验人姓名或工号")
        page.fill("#operator", "窗口\u0007")
        page.press("#operator", "Enter")
        refused(page, "#operator", "核验人姓名或工号的第 3 个字符是不可打印的字符 U+0007，请删除后重新输入")
        page.fill("#operator", "窗口03 王敏")
        page.fill("#token", "not-a-token")
        page.press("#operator", "Enter")
        refused(page, "#token", "接入令牌无效，请核对后重新登录")
    finally:
        context.close()


def test_the_gateways_field_refusals_mark_their_field(page: Any) -> None:
    """A malformed identifier and a receipt number that is not one: the field the gateway's refusal is about is
    marked (they had been left unmarked)."""
    page.fill("#query", "1.2.156.3005.2.XXXX")
    page.press("#query", "Enter")
    refused(page, "#query", "证照标识格式不正确或校验码不符，请核对后重新输入")
    page.fill("#receipt-id", "hello")
    page.press("#receipt-id", "Enter")
    refused(page, "#receipt-id", "回执编号应为32位（数字0–9和字母a–f），您填写的是5位，请核对")


def test_each_refusal_is_heard_once_and_goes_when_it_no_longer_applies(page: Any, running: RunningGateway) -> None:
    """A refusal of the gateway's was put in the alert and in the status region too, so heard twice (a screen-reader
    clerk); the words stayed after the field was corrected, or the matter changed."""
    page.evaluate(
        """() => {
            window.said = [];
            const note = (id) => new MutationObserver(() => {
                const e = document.getElementById(id);
                if (!e.hidden && e.textContent) window.said.push([id, e.textContent]);
            }).observe(document.getElementById(id), {childList: true, characterData: true, subtree: true,
                                                      attributes: true, attributeFilter: ['hidden']});
            note('message');
            note('announce');
        }"""
    )
    page.fill("#query", "12345678")
    page.press("#query", "Enter")
    page.locator("#message", has_text="请选择证照类型").wait_for()
    page.wait_for_timeout(300)
    said = page.evaluate("window.said")
    assert said == [["message", "按证照编号核验时，请选择证照类型"]], said
    assert page.get_attribute("#message", "role") == "alert" and page.text_content("#announce") == ""
    page.select_option("#type-code", index=1)  # corrected: the words go with the mark
    assert page.is_hidden("#message") and page.get_attribute("#type-code", "aria-describedby") is None

    page.fill("#purpose", "")
    page.press("#query", "Enter")
    page.locator("#message", has_text="请填写用证事由").wait_for()
    page.keyboard.type("发票申领")
    assert page.is_hidden("#message") and page.get_attribute("#purpose", "aria-invalid") is None


def test_a_refusal_under_one_matter_goes_when_the_matter_changes(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """事项 370100-QYKZ-001（企业印章刻制）不使用结婚证 stayed on the screen after the clerk chose 出生登记, which
    does use it (a screen-reader clerk)."""
    marriage = running.issuance(CIVIL).IssueLicense(issue_request(unique(samples.marriage_certificate(92)))).license
    context, page = sign_in(browser, console, running.tokens[POLICE])
    try:
        page.wait_for_selector("#work:not([hidden])")
        page.select_option("#matter", "370100-QYKZ-001")
        page.fill("#query", marriage.license_id)
        page.press("#query", "Enter")
        page.locator("#message", has_text="不使用结婚证").wait_for()
        assert page.get_attribute("#query", "aria-invalid") == "true"
        page.select_option("#matter", "370100-CSDJ-001")
        assert page.is_hidden("#message") and page.get_attribute("#query", "aria-invalid") is None
    finally:
        context.close()


def headings(page: Any, section: str) -> list[str]:
    """The headings of a section, as a screen reader lists them (without the space it hears between parts)."""
    snapshot = page.locator(section).aria_snapshot().splitlines()
    return [line.split('"')[1].replace(" ", "") for line in snapshot if "- heading " in line]


def test_the_verdict_and_a_receipt_looked_up_are_headings(page: Any, running: RunningGateway) -> None:
    """A screen-reader clerk jumping by headings landed on 核验项, past the verdict; a receipt looked up had no
    heading at all (a screen-reader clerk)."""
    page.fill("#query", issue(running, 93).license.license_id)
    check(page, "by-text")
    verdict(page, "PASSED")
    assert headings(page, "#result")[:2] == ["核验结果：核验通过", "核验项"]
    receipt_id = page.locator("#receipt-table td").first.inner_text()
    page.fill("#receipt-id", receipt_id)
    page.press("#receipt-id", "Enter")
    page.wait_for_selector("#receipt-review:not([hidden])")
    assert headings(page, "#receipt-review") == ["查验回执结果：回执有效"]
    assert page.inner_text("#review-text") == "回执有效"  # on the screen, the verdict alone


def test_each_case_receipts_download_is_named_for_its_receipt(page: Any, running: RunningGateway) -> None:
    """With several earlier receipts a screen-reader clerk heard "下载 按钮" on each row, under an empty column
    header: each is named for its receipt now, under 回执文件."""
    case = "QYKB-" + uuid.uuid4().hex[:10]
    use = verification_pb2.UseContext(
        matter_code="370100-QYKZ-001", purpose="企业开办：刻制公章", bundle_code="370100-YJS-QYKB", case_id=case
    )
    made = [
        verifier(running, POLICE)
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=issue(running, n).license.license_id))
        .report.receipt.receipt_id
        for n in (94, 95)
    ]
    page.click("#case-details summary")
    page.select_option("#bundle", "370100-YJS-QYKB")
    page.fill("#case", case)
    page.press("#case", "Enter")
    page.wait_for_selector("#case-table tr[data-receipt]")
    snapshot = page.locator("#case-table").aria_snapshot()
    assert 'columnheader ""' not in snapshot and 'columnheader "回执文件"' in snapshot
    for receipt_id in made:
        button = page.get_by_role("button", name=f"下载回执 {receipt_id}", exact=True)
        assert button.count() == 1 and button.inner_text() == "下载"
    page.focus("#case")  # one Tab from 办件编号: a way to the list
    page.keyboard.press("Tab")
    assert focused_id(page) == "to-case"
    page.keyboard.press("Enter")
    assert focused_id(page) == "case-head" and in_view(page, "#case-head")


def test_a_file_is_chosen_with_a_chinese_button_in_a_browser_of_another_language(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """In a browser whose language is not Chinese (and in Debian's chromium whatever its language) the file fields
    said "No file chosen" to a screen reader, the browser's own input being in the accessibility tree. The page's
    选择文件 button is what a clerk meets: named for the field, the file chosen said with it, opening the browser's
    chooser with the keyboard."""
    context, page = open_console(browser, console, running.tokens[TAX], locale="en-US")
    # the browser's chooser intercepted from the start (Playwright turns that on without waiting for it)
    page.on("filechooser", lambda chooser: None)
    try:
        page.fill("#operator", "窗口03 王敏")
        page.press("#operator", "Enter")
        page.wait_for_selector("#work:not([hidden])")
        nodes = context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
        said = [
            (node.get("role", {}).get("value"), node.get(key, {}).get("value"))
            for node in nodes
            if not node.get("ignored")
            for key in ("name", "description", "value")
        ]
        assert not [s for s in said if isinstance(s[1], str) and "file" in s[1].lower()], said
        button = page.get_by_role("button", name="选择文件 申请人提交的 PDF 文件", exact=True)
        assert button.count() == 1
        assert button.evaluate("b => document.getElementById(b.getAttribute('aria-describedby')).textContent") == (
            "未选择文件"
        )
        page.set_input_files("#pdf", {"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n"})
        assert page.inner_text("#pdf-chosen") == "营业执照.pdf（9 字节）"
        page.set_input_files("#pdf", [])
        page.click("#by-pdf button[type=submit]")  # none chosen: the button is the refused field
        refused(page, "#pdf-pick", "请选择 PDF 文件")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files({"name": "a.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7\n"})
        assert page.inner_text("#pdf-chosen") == "a.pdf（9 字节）" and page.is_hidden("#message")
        assert page.get_attribute("#pdf-pick", "aria-invalid") is None
    finally:
        context.close()


def test_the_idle_sign_out_is_warned_of_two_minutes_before_with_a_way_to_stay(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """The page signed out at 30 minutes without a word before (what was typed lost): a clerk called away, or
    reading a long result with a screen reader, whose browsing sends the page no keys, had no warning nor way to stay
    (WCAG 2.2.1; a screen-reader clerk). Two minutes before, a warning is said and shown on the screen, whatever is
    scrolled, with 继续使用, which keeps the clerk signed in and gives the focus back; the clock is Playwright's."""
    with on_a_clock(browser, console, running.tokens[TAX], **SCREENS["1366x768"]) as page:
        page.fill("#purpose", "发票申领：核验营业执照（申请人自述）")
        page.focus("#query")
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.clock.run_for("27:50")
        assert page.is_hidden("#idle-warning")
        page.clock.run_for("00:20")  # 28:10: two minutes before
        assert page.is_visible("#idle-warning") and in_view(page, "#idle-warning")
        said = "长时间未操作：2 分钟后将自动退出登录。如需继续使用，请点击“继续使用”（或按任意键）。"
        assert page.inner_text("#idle-text") == said and page.get_attribute("#idle-text", "role") == "alert"
        assert page.evaluate("document.activeElement.id") == "query"  # a scanner's next code still goes there
        page.focus("#stay")
        page.keyboard.press("Enter")  # 继续使用: nothing else (the Enter had gone on to 输入证照, and checked it)
        page.clock.run_for(100)
        assert page.is_hidden("#idle-warning") and page.evaluate("document.activeElement.id") == "query"
        assert page.is_hidden("#message") and page.is_hidden("#busy")
        page.clock.run_for("29:00")  # the wait started again at 28:10
        assert page.is_visible("#work") and page.input_value("#purpose") == "发票申领：核验营业执照（申请人自述）"
        assert page.is_visible("#idle-warning")
        page.clock.run_for("01:05")
        page.wait_for_selector("#sign-in:not([hidden])")
        assert page.is_hidden("#idle-warning") and page.evaluate("document.activeElement.id") == "token"


@contextlib.contextmanager
def on_a_clock(browser: Any, console: str, token: str, **context_options: Any) -> Iterator[Any]:
    """A page on Playwright's clock (installed before the page's timers start), signed in with ``token`` as a clerk
    typing their name; its context closed after."""
    context = browser.new_context(locale="zh-CN", **context_options)
    try:
        page = context.new_page()
        page.clock.install()
        page.goto(f"{console}/")
        page.fill("#token", token)
        page.fill("#operator", "窗口03 王敏")
        page.press("#operator", "Enter")
        page.wait_for_selector("#work:not([hidden])")
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SCREENS))
@pytest.mark.parametrize("field", ["#query", "#matter"])  # scrolled to the top of the screen; at the page's top
def test_the_idle_warning_hides_no_focused_field(
    browser: Any, console: str, running: RunningGateway, size: str, field: str
) -> None:
    """The warning is at the top of the screen, and the focus stays in its field for a scanner's next code: a field
    at the top of the screen (scrolled there, or the page's first at the top of the page) was under it, the whole
    field at 1366×768, and the warning 114 of 384 px at 200 % zoom (WCAG 2.4.11; a reviewer). The field is clear of
    it, in view; so is a field that gets the focus while it is shown (a screen reader's browsing moves the focus
    without a key, which would take the warning away)."""
    with on_a_clock(browser, console, running.tokens[TAX], **SCREENS[size]) as page:
        page.focus(field)
        if field == "#query":
            page.evaluate("document.getElementById('query').scrollIntoView({block: 'start'})")
        else:
            page.evaluate("window.scrollTo(0, 0)")
        page.clock.run_for("28:01")
        assert page.is_visible("#idle-warning") and in_view(page, "#idle-warning")
        assert focused_id(page) == field.lstrip("#")
        clear_of_the_warning(page, field)
        page.evaluate("document.getElementById('case-details').open = true")
        page.evaluate("window.scrollTo(0, document.getElementById('bundle').getBoundingClientRect().top + scrollY)")
        page.evaluate("document.getElementById('bundle').focus()")  # under the warning until it has the focus
        clear_of_the_warning(page, "#bundle")
        assert page.is_visible("#idle-warning") and in_view(page, "#idle-warning")


def clear_of_the_warning(page: Any, field: str) -> None:
    """``field`` is on the screen below the warning, which hides none of it."""
    warning, (top, bottom) = box(page, "#idle-warning"), box(page, field)
    assert warning[1] <= top and bottom <= page.evaluate("innerHeight"), (warning, (top, bottom))
    hit = page.evaluate(
        f"""() => {{ const r = document.querySelector('{field}').getBoundingClientRect();
        return document.elementFromPoint(r.left + r.width / 2, r.top + 2).closest('{field}') !== null; }}"""
    )
    assert hit, field


def focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id"))


def test_the_result_and_its_print_button_are_two_tabs_from_the_field(screen: Any, running: RunningGateway) -> None:
    """The focus stays in 输入证照 after a verdict, for the next scan; 打印回执 had been 15 Tab stops away, past every
    form (a keyboard clerk). One Tab away is 跳到核验结果, seen when it has the focus; Enter puts the focus on the
    verdict, and the next Tab on 打印回执. The same from 回执编号 to a receipt looked up."""
    page = screen
    assert page.is_hidden("#to-result")  # no result: no dead stop
    page.fill("#query", issue(running, 96).license.license_id)
    page.press("#query", "Enter")
    verdict(page, "PASSED")
    assert focused_id(page) == "query"
    page.keyboard.press("Tab")
    assert focused_id(page) == "to-result" and in_view(page, "#to-result")
    assert page.inner_text("#to-result") == "跳到核验结果（打印回执）"
    page.keyboard.press("Enter")
    assert focused_id(page) == "verdict-head" and in_view(page, "#verdict-head")
    page.keyboard.press("Tab")
    assert focused_id(page) == "print"

    receipt_id = page.locator("#receipt-table td").first.inner_text()
    page.fill("#receipt-id", receipt_id)
    page.press("#receipt-id", "Enter")
    page.wait_for_selector("#receipt-review:not([hidden])")
    assert page.is_hidden("#to-result")
    page.focus("#receipt-id")
    page.keyboard.press("Tab")
    assert focused_id(page) == "to-review" and in_view(page, "#to-review")
    page.keyboard.press("Enter")
    assert focused_id(page) == "review-head" and in_view(page, "#review-head")
    page.keyboard.press("Tab")
    assert focused_id(page) in ("review-again", "review-print")


def pressed(page: Any, button: str, key: str, call: str) -> tuple[str, str]:
    """``button`` given the keyboard's focus and pressed with ``key``, the console's call ``call`` it makes held
    until the focus is read: where the focus is while the gateway answers, and once its answer is shown (the
    focused element's id, else its name; BODY for the page's body)."""
    held = held_calls(page, f"**/console/api/{call}")
    page.focus(button)
    page.keyboard.press(key)
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    focus = "(e => e.id || e.getAttribute('aria-label') || e.tagName)(document.activeElement)"
    during = page.evaluate(focus)
    page.unroute(f"**/console/api/{call}")
    let_go(held.pop())
    page.locator("#busy").wait_for(state="hidden")
    return during, page.evaluate(focus)


def test_a_button_pressed_leaves_the_focus_in_its_form_for_the_next_entry(page: Any, running: RunningGateway) -> None:
    """A button disabled while its call runs drops the focus to the page's body: a keyboard clerk who pressed 比对,
    查验回执 or 查看本件已有核验回执 (Enter, Space or a click) was left at the top of the page, the form to be found
    again, where Enter in the form's field keeps the focus there (an accessibility tester). The focus goes where Enter
    in the field leaves it, while the gateway answers and after: 输入证照 for 核验, 核验文件, 识别并核验 and
    重新核验此证照, the holder's code for 比对, 回执编号 and 办件编号, each with its way to the result one Tab on."""
    issued = issue(running, 104).license
    page.fill("#query", issued.license_id)
    assert pressed(page, "#by-text button[type=submit]", "Enter", "verify") == ("query", "query")
    verdict(page, "PASSED")
    page.set_input_files(
        "#pdf", {"name": "a.pdf", "mimeType": "application/pdf", "buffer": document_of(running, issued.license_id).pdf}
    )
    assert pressed(page, "#by-pdf button[type=submit]", "Space", "verify") == ("query", "query")
    verdict(page, "PASSED")
    photo = {"name": "qr.png", "mimeType": "image/png", "buffer": qr_png(qr_for(running, issued.license_id)[0])}
    page.set_input_files("#qr-image", photo)
    assert pressed(page, "#by-qr button[type=submit]", "Enter", "verify") == ("query", "query")
    verdict(page, "PASSED")

    page.select_option("#claim-type", issued.type_code)
    page.fill("#claim-holder", issued.holder.code)
    page.fill("#claim-number", issued.license_number)
    page.fill("#claim-name", "王某某")
    assert pressed(page, "#by-claim button[type=submit]", "Enter", "check-claim") == ("claim-holder", "claim-holder")
    assert "不符：单位名称" in verdict(page, "FAILED")

    _, use = case_of_the_seal_engraving()
    earlier = verifier(running, POLICE).VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=use, license_id=issued.license_id)
    )
    page.fill("#receipt-id", earlier.report.receipt.receipt_id)
    assert pressed(page, "#by-receipt button[type=submit]", "Space", "receipt") == ("receipt-id", "receipt-id")
    page.wait_for_selector("#receipt-review:not([hidden])")
    page.keyboard.press("Tab")
    assert focused_id(page) == "to-review"
    assert pressed(page, "#review-again", "Enter", "verify") == ("query", "query")
    verdict(page, "PASSED")

    page.click("#case-details summary")
    page.select_option("#bundle", use.bundle_code)
    page.fill("#case", use.case_id)
    assert pressed(page, "#case-list", "Enter", "case-receipts") == ("case", "case")
    page.wait_for_selector(f"#case-table tr[data-receipt='{earlier.report.receipt.receipt_id}']")
    page.keyboard.press("Tab")
    assert focused_id(page) == "to-case"


def test_the_sign_in_button_and_show_more_leave_the_focus_where_the_clerk_goes_on(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """登录 and 显示更多 wait, disabled, while the gateway answers, as every button that asks it does: the focus goes
    from 登录 to the token field (输入证照 once signed in, the token field again if refused), and from 显示更多 to the
    last receipt's 下载 above it, the next Tab the first of the receipts that came."""
    issued = issue(running, 105).license
    _, use = case_of_the_seal_engraving()
    made = [
        verifier(running, POLICE)
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=issued.license_id))
        .report.receipt.receipt_id
        for _ in range(3)
    ]
    context, page = open_console(browser, console, running.tokens[TAX])
    try:
        page.fill("#operator", "窗口03 王敏")
        assert pressed(page, "#sign-in-form button", "Enter", "session") == ("token", "query")
        page.wait_for_selector("#work:not([hidden])")

        def two_a_page(route: Any) -> None:
            route.continue_(post_data=json.dumps({**json.loads(route.request.post_data), "limit": 2}))

        page.route("**/console/api/case-receipts", two_a_page)
        page.click("#case-details summary")
        page.select_option("#bundle", use.bundle_code)
        page.fill("#case", use.case_id)
        page.press("#case", "Enter")
        page.locator("#case-next:not([hidden])").wait_for()
        last = f"下载回执 {made[1]}"
        assert pressed(page, "#case-next", "Enter", "case-receipts") == (last, last)
        page.locator(f"#case-table tr[data-receipt='{made[2]}']").wait_for()
        assert page.is_hidden("#case-next")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == f"下载回执 {made[2]}"
    finally:
        context.close()


def tables(page: Any, selector: str) -> int:
    """How many tables a screen reader finds in the element."""
    return sum(
        line.strip() == "- table" or line.strip().startswith("- table:")
        for line in page.locator(selector).aria_snapshot().splitlines()
    )


def test_a_table_without_rows_is_not_in_the_page(page: Any, running: RunningGateway) -> None:
    """After a 信息比对 or a code that could not be read, an empty table stayed under 证照摘要 (NVDA: 表格 0 行 0 列),
    before the words that say there is no summary; so did the registry's holder of a claim's receipt looked up, and a
    case without receipts (an accessibility tester, WCAG 1.3.1). A table is in the page only with rows."""
    issued = issue(running, 106).license
    page.select_option("#claim-type", issued.type_code)
    page.fill("#claim-holder", issued.holder.code)
    page.fill("#claim-number", issued.license_number)
    check(page, "by-claim")
    verdict(page, "PASSED")
    column = "#result .columns > div:nth-child(2)"
    assert page.is_hidden("#summary") and tables(page, column) == 0
    assert page.locator(column).aria_snapshot().splitlines()[1:] == [
        "- paragraph: 信息比对只回答是否一致，不返回证照数据。"
    ]
    claims_receipt = page.locator("#receipt-table td").first.inner_text()

    page.fill("#query", issued.license_id)
    check(page, "by-text")
    verdict(page, "PASSED")
    assert page.is_visible("#summary") and tables(page, column) == 1
    code, _ = qr_for(running, issued.license_id)
    page.fill("#query", code[: len(code) // 2])  # cut short by a scanner
    check(page, "by-text")
    verdict(page, "INDETERMINATE")
    assert page.is_hidden("#summary") and tables(page, column) == 0

    page.fill("#receipt-id", claims_receipt)
    page.press("#receipt-id", "Enter")
    page.wait_for_selector("#receipt-review:not([hidden])")
    assert page.is_hidden("#review-holder") and page.is_visible("#review-holder-check")
    assert tables(page, "#receipt-review") == 2  # what the receipt says, and who looked it up here

    page.click("#case-details summary")
    page.select_option("#bundle", "370100-YJS-QYKB")
    page.fill("#case", "QYKB-" + uuid.uuid4().hex[:10])
    page.press("#case", "Enter")
    page.wait_for_selector("#case-receipts:not([hidden])")
    assert page.is_visible("#case-empty") and page.is_hidden("#case-table") and tables(page, "#case-receipts") == 0
    # on a phone's width too, where the stylesheet draws tables as blocks: its display had overridden the hidden
    # attribute, the empty tables back in the tree (a reviewer)
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.is_hidden("#case-table") and tables(page, "#case-receipts") == 0
    check(page, "by-claim")
    verdict(page, "PASSED")
    assert page.is_hidden("#summary") and tables(page, column) == 0


def button_borders(page: Any) -> list[tuple[str, str, str, str]]:
    """Each button shown (but 退出, underlined as a link): its name, and its border's style, width and colour."""
    return [
        tuple(b)
        for b in page.eval_on_selector_all(
            "button:not(.link)",
            """bs => bs.filter(b => b.getClientRects().length).map(b => { const s = getComputedStyle(b);
                return [b.textContent.trim(), s.borderTopStyle, s.borderTopWidth, s.borderTopColor]; })""",
        )
    ]


def test_in_forced_colours_every_button_has_a_border(page: Any, running: RunningGateway) -> None:
    """Windows 高对比度 (forced colours) drops every background: 核验, 核验文件, 识别并核验, 比对 and 查验回执, drawn by
    their blue fill alone, read as bare words, 核验 below its field as a label (an accessibility tester, WCAG 1.4.11).
    There each button has a border in the system's colour; elsewhere the page is drawn as before."""
    page.fill("#query", issue(running, 107).license.license_id)
    page.press("#query", "Enter")
    verdict(page, "PASSED")  # 打印回执 and 下载回执文件 shown too
    ordinary = {name: style for name, style, _, _ in button_borders(page)}
    assert ordinary["核验"] == ordinary["比对"] == ordinary["打印回执"] == "none"
    page.emulate_media(forced_colors="active")
    forced = button_borders(page)
    assert {"核验", "核验文件", "识别并核验", "比对", "查验回执", "打印回执", "选择文件"} <= {b[0] for b in forced}
    for name, style, width, colour in forced:
        assert (style, width) == ("solid", "1px") and colour != "rgba(0, 0, 0, 0)", name
    assert page.eval_on_selector("#by-text button[type=submit]", "b => getComputedStyle(b).backgroundColor") != (
        "rgb(31, 95, 168)"
    )  # the forced colours are the page's, as 高对比度 draws it


def test_a_reload_keeps_the_last_receipts_number_and_nothing_else(page: Any, running: RunningGateway) -> None:
    """F5 before printing lost the verdict and its receipt: the only way to hand the applicant one was to check again,
    a second access record in the holder's log (a keyboard clerk). The tab keeps the last receipt's number (a receipt
    holds no personal data), filled in 回执编号 after a reload, ready to be looked up, not looked up by itself; nothing
    of the holder is kept, and signing out forgets it."""
    license_id = issue(running, 97).license.license_id
    page.fill("#query", license_id)
    page.press("#query", "Enter")
    verdict(page, "PASSED")
    receipt_id = page.locator("#receipt-table td").first.inner_text()
    looked_up: list[str] = []
    page.on("request", lambda r: looked_up.append(r.url) if r.url.endswith("/api/receipt") else None)
    page.reload()
    page.wait_for_selector("#work:not([hidden])")
    assert page.is_hidden("#result") and page.input_value("#receipt-id") == receipt_id
    assert page.is_visible("#receipt-kept") and looked_up == []
    kept = page.evaluate("Object.fromEntries(Object.entries(sessionStorage))")
    assert kept["zzgw.receipt"] == receipt_id and not [v for v in kept.values() if license_id in v]
    page.press("#receipt-id", "Enter")
    page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.PASSED")
    assert receipt_id in page.inner_text("#review-table") and page.is_hidden("#receipt-kept")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('zzgw.receipt')") is None


KEPT_FOR_THE_CLERK = ("zzgw.clerk", "zzgw.case", "zzgw.purpose", "zzgw.receipt")


@pytest.mark.parametrize("reload", ["token ended", "gateway out of reach", "no clerk name", "another clerk's token"])
def test_what_the_tab_kept_of_a_clerks_work_is_never_offered_to_another_clerk(
    browser: Any, console: str, running: RunningGateway, reload: str
) -> None:
    """Clerk A's last receipt number, purpose and case are kept in the tab over a reload, for A. A reload that does
    not sign A in (A's token ended by the administrator, the gateway out of reach, no clerk's name in the tab) had
    kept them: the next clerk at the window PC who signed in on the tab was handed A's receipt number, as their own
    (已填入刷新前最后一次核验的回执编号…), one Enter from A's applicant's check, and A's purpose and case (a reviewer).
    They are forgotten when the sign-in form is shown, and whenever the clerk signed in is not the one who left them."""
    members = running.gateway.members
    clerk_a = members.issue_clerk_token(TAX, "窗口03 A 王敏")
    context, page = open_console(browser, console, clerk_a)
    try:
        page.click("#sign-in-form button")
        page.wait_for_selector("#work:not([hidden])")
        page.select_option("#matter", MATTER)
        catalogs = page.input_value("#purpose")
        page.fill("#purpose", "发票申领：核验营业执照（申请人张三自述）")
        page.click("#case-details summary")
        page.select_option("#bundle", "370100-YJS-QYKB")
        page.fill("#case", "QYKB-" + uuid.uuid4().hex[:10])
        page.fill("#query", issue(running, 98).license.license_id)
        page.press("#query", "Enter")
        verdict(page, "PASSED")
        assert page.evaluate("sessionStorage.getItem('zzgw.receipt')")  # kept for A
        clerk_b = members.issue_clerk_token(TAX, "窗口03 B 李强")
        if reload == "token ended":  # `zzgw console-token --clerk "窗口03 A 王敏" --end`, and its 30 s passed
            members.end_clerk_token(TAX, "窗口03 A 王敏")
            running.gateway.authenticator._clerks.clear()
            said = "接入令牌已被管理员停用或更换，请向管理员申领新令牌后重新登录"
        elif reload == "gateway out of reach":
            page.route("**/api/session", lambda route: route.abort("connectionrefused"))
            said = "无法连接证照网关，请检查网络后重试"
        elif reload == "no clerk name":  # the department's token in the tab, and no name typed with it
            page.evaluate(f"sessionStorage.setItem('zzgw.token', {running.tokens[TAX]!r})")
            said = "使用部门令牌时，请填写核验人姓名或工号"
        else:  # the tab signed in as another clerk without the sign-in form: what A kept is not B's either
            page.evaluate(f"sessionStorage.setItem('zzgw.token', {clerk_b!r})")
            said = ""
        page.reload()
        if said:
            page.locator("#message", has_text=said).wait_for()
            assert page.is_visible("#sign-in") and page.is_hidden("#work")
            kept = page.evaluate("Object.keys(sessionStorage)")
            assert not set(kept) & set(KEPT_FOR_THE_CLERK), kept
            page.unroute("**/api/session")
            page.fill("#token", clerk_b)
            page.fill("#operator", "")
            page.click("#sign-in-form button")
        page.wait_for_selector("#work:not([hidden])")
        assert page.inner_text("#operator-name") == "窗口03 B 李强"
        assert page.input_value("#receipt-id") == "" and page.is_hidden("#receipt-kept")
        assert page.input_value("#purpose") == catalogs and page.input_value("#case") == ""
        assert page.evaluate("sessionStorage.getItem('zzgw.receipt')") is None
    finally:
        context.close()


REOPENED = "页面关闭或离开后重新打开，已自动退出，请重新登录"
IDLE = "长时间未操作（30 分钟），已自动退出，请重新登录"


def clerks_work(page: Any, running: RunningGateway, n: int) -> str:
    """On a page signed in, the clerk's work the tab keeps over a reload: a purpose written, a case in force and a
    check's receipt; the receipt's number."""
    page.select_option("#matter", MATTER)
    page.fill("#purpose", "发票申领：核验营业执照（申请人张三自述）")
    page.click("#case-details summary")
    page.select_option("#bundle", "370100-YJS-QYKB")
    page.fill("#case", "QYKB-" + uuid.uuid4().hex[:10])
    page.fill("#query", issue(running, n).license.license_id)
    page.press("#query", "Enter")
    verdict(page, "PASSED")
    return str(page.locator("#receipt-table td").first.inner_text())


def signed_out_on_opening(page: Any, said: str) -> None:
    """The page opened shows the sign-in form, saying why, with the focus in the token field: no clerk named, nothing
    of the last clerk's work offered, and nothing left in the tab."""
    page.locator("#message", has_text=said).wait_for()
    assert page.inner_text("#message") == said
    assert page.is_visible("#sign-in") and page.is_hidden("#work") and page.is_hidden("#who")
    assert page.inner_text("#operator-name") == "" and page.inner_text("#member-name") == ""
    assert page.input_value("#receipt-id") == "" and page.is_hidden("#receipt-kept")
    assert page.input_value("#purpose") == "" and page.input_value("#case") == ""
    assert page.evaluate("sessionStorage.length") == 0
    assert page.evaluate("document.activeElement.id") == "token"


def silent(page: Any, seconds: int, *kept: str) -> None:
    """The page's clock stopped until the next reload, so that none of its timers runs meanwhile, and the tab's times
    ``kept`` (when it last said it was open, ``zzgw.open``; the clerk's last input, ``zzgw.input``) ``seconds`` before
    it: a tab whose timers did not run (held back, put to sleep, a computer that slept)."""
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)  # (a moment on: the clock does not go back)
    for key in kept:
        page.evaluate(f"sessionStorage.setItem({key!r}, String(Date.now() - {seconds * 1000}))")


def test_a_reload_of_the_page_while_it_is_open_stays_signed_in(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """A reload (F5) goes on where the clerk was, also after 20 minutes without input (the tab says it is open
    whether or not the clerk types: it is not the idle sign-out's wait) and with its last word of being open 50 s
    old, short of the 60 s that tell a page reopened."""
    with on_a_clock(browser, console, running.tokens[TAX]) as page:
        receipt_id = clerks_work(page, running, 101)
        page.clock.run_for("20:00")
        page.reload()
        page.wait_for_selector("#work:not([hidden])")
        silent(page, 50, "zzgw.open")
        page.reload()
        page.wait_for_selector("#work:not([hidden])")
        assert page.inner_text("#operator-name") == "窗口03 王敏" and page.is_hidden("#message")
        assert page.input_value("#receipt-id") == receipt_id and page.is_visible("#receipt-kept")
        assert page.input_value("#purpose") == "发票申领：核验营业执照（申请人张三自述）"


def test_a_tab_closed_and_restored_by_the_browser_is_not_signed_in(
    browser: Any, console: str, running: RunningGateway, tmp_path: Path
) -> None:
    """A clerk closes the browser at a shared window PC without 退出, and the browser restores its last session
    (Chromium's 继续浏览上次打开的网页, 恢复页面 after a crash): the tab's sessionStorage comes back, the token in it,
    and the page had come back signed in as that clerk, their receipt number filled in, for the next person
    (a penetration tester). Restored at once, it is signed out, and the tab keeps nothing of the clerk."""

    def launch(*args: str) -> Any:
        return browser.browser_type.launch_persistent_context(
            tmp_path / "profile", executable_path=CHROMIUM, locale="zh-CN", args=["--no-sandbox", *args]
        )

    context = launch()
    try:
        page = context.pages[0]
        page.goto(f"{console}/")
        page.fill("#token", running.tokens[TAX])
        page.fill("#operator", "窗口03 王敏")
        page.click("#sign-in-form button")
        page.wait_for_selector("#work:not([hidden])")
        clerks_work(page, running, 102)
        page.wait_for_timeout(1500)  # the tab's storage written where the browser restores it from
    finally:
        context.close()  # the browser closed, no 退出
    context = launch("--restore-last-session")
    try:
        pages = [p for p in context.pages if p.url.startswith(console)]
        assert len(pages) == 1, [p.url for p in context.pages]
        signed_out_on_opening(pages[0], REOPENED)
    finally:
        context.close()


@pytest.mark.parametrize("how", ["back from another page", "reload, the tab silent 61 s", "reload after 31 minutes"])
def test_a_page_opened_other_than_by_a_reload_of_it_open_is_not_signed_in(
    browser: Any, console: str, running: RunningGateway, how: str
) -> None:
    """Only a reload of the page while it is open goes on signed in. Come back to with Back from another page, or
    reloaded when the tab had not said it was open for a minute (a browser that calls a restore a reload, a tab
    put to sleep) or had no input for 30 minutes (a computer that slept), it signs out before the token is sent,
    and keeps nothing of the clerk's work."""
    with on_a_clock(browser, console, running.tokens[TAX]) as page:
        clerks_work(page, running, 103)
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if "/api/" in r.url else None)
        if how == "back from another page":
            page.goto(f"{console}/console.css")
            page.go_back()
            said = REOPENED
        else:
            if how == "reload, the tab silent 61 s":
                silent(page, 61, "zzgw.open")
            else:
                silent(page, 31 * 60, "zzgw.open", "zzgw.input")
            page.reload()
            said = REOPENED if how == "reload, the tab silent 61 s" else IDLE
        signed_out_on_opening(page, said)
        assert sent == []
