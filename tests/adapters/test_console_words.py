"""The clerk's console in a real browser (``tests.adapters.test_console_browser``'s chromium), for its words as a
Chinese text editor read them: a holder named by its kind (持证人 and 公民身份号码, 单位名称 and 统一社会信用代码), a
claim's answer in words, a version in force named once, a mistyped 公民身份号码 said to be mistyped, and the console's
own messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.bootstrap import samples
from tests.adapters.test_console_browser import CHROMIUM, at_work, check, verdict
from tests.adapters.test_console_browser import browser as browser  # the browser test's fixtures
from tests.adapters.test_console_browser import database_url as database_url
from tests.adapters.test_console_browser import page as page
from tests.api.test_sharing import id_card
from tests.api.test_verification import issue_for_invoices as issue
from tests.conftest import POLICE, RunningGateway

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
QYKZ = "370100-QYKZ-001"  # 企业印章刻制, the 公安局's: a 居民身份证 and a 营业执照


@pytest.fixture
def police(browser: Any, console: str, running: RunningGateway) -> Iterator[Any]:
    """The console signed in as a clerk of the 公安局, under 企业印章刻制."""
    with at_work(browser, console, running.tokens[POLICE], QYKZ) as page:
        yield page


def claim_labels(page: Any) -> list[str]:
    """The labels 信息比对 shows (a 出生医学证明's parent's number, where the matter compares one, is hidden else)."""
    return list(
        page.eval_on_selector_all(
            "#by-claim label", "ls => ls.filter(l => l.offsetParent).map(l => l.firstChild.textContent.trim())"
        )
    )


def test_a_person_is_named_as_a_person_and_a_company_as_a_company(police: Any, running: RunningGateway) -> None:
    """A 居民身份证's holder is 持证人 with a 公民身份号码 (masked); 信息比对 asks for a 公民身份号码 and
    持证人姓名 for a 居民身份证, for a 统一社会信用代码 and 单位名称 for a 营业执照. Every holder had been 持证人
    with a 持证人证件号码, a company too (a Chinese text editor)."""
    card = id_card(running).license
    police.fill("#query", card.license_id)
    check(police, "by-text")
    verdict(police, "PASSED")
    summary = police.inner_text("#summary")
    shown_name, shown_code = card.holder.name[0] + "**", card.holder.code[:4]
    assert f"持证人\t{shown_name}\n" in summary and f"公民身份号码\t{shown_code}" in summary
    assert "证件号码" not in summary.replace("公民身份号码", "") and "单位名称" not in summary

    assert police.eval_on_selector("#claim-type", "s => s.selectedOptions[0].text") == "居民身份证"
    assert claim_labels(police) == ["证照类型", "公民身份号码", "证照编号", "持证人姓名（可选）"]
    police.select_option("#claim-type", label="营业执照")
    assert claim_labels(police) == ["证照类型", "统一社会信用代码", "证照编号", "单位名称（可选）"]
    police.select_option("#claim-type", label="居民身份证")
    police.fill("#claim-holder", card.holder.code)
    police.fill("#claim-number", card.license_number)
    police.fill("#claim-name", "王某某")
    check(police, "by-claim")
    assert "不符：持证人姓名" in verdict(police, "FAILED")
    police.fill("#claim-holder", "")
    check(police, "by-claim")
    police.locator("#message", has_text="请填写").wait_for()
    assert police.inner_text("#message") == "请填写公民身份号码和证照编号"


def test_a_claims_answer_is_said_in_words_not_as_a_code(page: Any, running: RunningGateway) -> None:
    """信息比对's finding says what the comparison found (比对结果：信息一致，证照有效), not 信息比对结果代码：0, a bare
    number under a Chinese label (a Chinese text editor)."""
    issued = issue(running, 81, samples.business_license).license
    page.fill("#claim-holder", issued.holder.code)
    page.fill("#claim-number", issued.license_number)
    check(page, "by-claim")
    verdict(page, "PASSED")
    assert page.locator("#findings li").all_inner_texts() == ["比对结果：信息一致，证照有效"]
    page.fill("#claim-name", "王某某")
    check(page, "by-claim")
    verdict(page, "FAILED")
    assert page.locator("#findings li").all_inner_texts() == ["比对结果：部分信息不一致（不符：单位名称）"]
    assert "代码" not in page.inner_text("#findings")


def wrong_check(code: str) -> str:
    """``code`` with its last (check) character changed."""
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def test_a_number_whose_check_character_fails_is_said_to_be_mistyped(police: Any, running: RunningGateway) -> None:
    """A 居民身份证's number is its holder's 公民身份号码, a 营业执照's the company's 统一社会信用代码: one whose check
    character does not match was mistyped (no license has it: issuance refuses it), and is said so, the field marked,
    before any look-up; it had been 核验未通过 / 未找到该证照, with a receipt, while 信息比对 of the same number said
    校验码不符 (a Chinese text editor). Typed in full width or with a small x, the right number is found."""
    looked_up: list[str] = []
    police.on("request", lambda r: looked_up.append(r.url) if r.url.endswith("/api/verify") else None)
    card = id_card(running).license
    company = issue(running, 82, samples.business_license).license
    for number, type_name, said in (
        (card.license_number, "居民身份证", "证照编号（公民身份号码）的校验码不符，可能输入有误，请核对后重新输入"),
        (
            company.license_number,
            "营业执照",
            "证照编号（统一社会信用代码）的校验码不符，可能输入有误，请核对后重新输入",
        ),
    ):
        police.select_option("#type-code", label=type_name)
        police.fill("#query", wrong_check(number))
        police.press("#query", "Enter")
        police.locator("#message", has_text="校验码不符").wait_for()
        assert police.inner_text("#message") == said and police.is_hidden("#result")
        assert police.get_attribute("#query", "aria-invalid") == "true"
        assert police.evaluate("document.activeElement.id") == "query"
    assert looked_up == []
    police.select_option("#type-code", label="居民身份证")
    police.fill("#query", card.license_number.lower().translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}))
    police.press("#query", "Enter")
    assert "核验通过" in verdict(police, "PASSED") and len(looked_up) == 1


def test_a_number_not_found_says_what_to_check_and_a_pasted_hyphen_is_no_part_of_a_code(
    police: Any, running: RunningGateway
) -> None:
    """A number not found was a red 核验未通过 / 未找到该证照 and nothing else, so a clerk turned the applicant away for
    a slip, a license not yet 归集 or another region's; and a 统一社会信用代码 pasted with a hyphen (913701-…) was not
    found, where one with spaces is (a reviewer of the clerk, R2). The reason says what to check and not to take it
    for a forgery; a holder's code typed with hyphens (ASCII, full width, U+2010) is the code."""
    company = issue(running, 83, samples.business_license).license
    police.select_option("#type-code", label="营业执照")
    police.fill("#query", samples.uscc(99_983))  # a well-formed code no license here has
    police.press("#query", "Enter")
    assert "核验未通过" in verdict(police, "FAILED") and police.inner_text("#verdict-reason") == (
        "未找到该证照：请核对证照编号和所选证照类型；证照可能尚未归集到本证照网关，其他地区的证照请向发证地区核验"
        "（外省的通过跨省通办渠道）；不要仅据此认定证照是伪造的"
    )
    number = company.license_number
    for hyphen in ("-", "－", "\u2010"):
        police.fill("#query", number[:6] + hyphen + number[6:14] + hyphen + number[14:])
        police.evaluate("document.getElementById('result').hidden = true")
        police.press("#query", "Enter")
        assert "核验通过" in verdict(police, "PASSED")
        assert police.inner_text("#checked-what") == f"核验内容：证照编号 {number}（营业执照）"
    police.fill("#query", number[:6] + "-" + wrong_check(number)[6:])  # and its check character is checked so
    police.press("#query", "Enter")
    police.locator("#message", has_text="校验码不符").wait_for()


def test_a_partner_gateways_token_is_told_why_in_the_gateways_words(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """A partner province's token signing in to the console is refused 403 / ROLE_NOT_ALLOWED with why (its
    province's departments call through their forwarder); the page had said 本部门无核验权限 alone, which a clerk
    reads as a permission to ask the administrator for (review console2, R4). It says the gateway's Chinese; a member
    that may not verify (the holder portal) is still told 本部门无核验权限."""
    from tests.adapters.test_console_browser import sign_in
    from tests.api.test_sharing import PARTNER
    from tests.conftest import PORTAL

    context, page = sign_in(browser, console, running.tokens[PARTNER])
    try:
        page.locator("#message", has_text="合作网关").wait_for()
        said = page.inner_text("#message")
        assert said.startswith(f"广州市政务服务和数据管理局（{PARTNER}）是合作网关，不使用本网关的控制台"), said
        assert "本部门无核验权限" not in said and "partner gateway" not in said, said
        assert page.is_hidden("#work")
    finally:
        context.close()
    context, page = sign_in(browser, console, running.tokens[PORTAL])
    try:
        page.locator("#message", has_text="权限").wait_for()
        assert page.inner_text("#message") == "本部门无核验权限"
    finally:
        context.close()
