"""The case panel of the clerk's console under answers that come late, and the fields a scan lands in (a review of
2c6b149 found each of these): a listing's answers are its own, never added to another case's list or to none; a
changed case number takes the last case's list away; a refusal naming a field of the folded panel opens it; a code
scanned into a case number entered with Tab leaves the number as it was. Real Chromium, the answers held back with
Playwright's routes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from protos.zzgw.v1 import verification_pb2
from tests.adapters.test_console_browser import browser as browser
from tests.adapters.test_console_browser import check
from tests.adapters.test_console_browser import page as page
from tests.adapters.test_console_clerk import QYKB, QYKZ, focused, open_case
from tests.api.test_verification import issue_for_invoices as issue
from tests.api.test_verification import verifier
from tests.conftest import POLICE, RunningGateway


def receipts_of(running: RunningGateway, case: str, n: int, number: int) -> list[str]:
    license_id = issue(running, number).license.license_id
    use = verification_pb2.UseContext(matter_code=QYKZ, purpose="企业开办：刻制公章", bundle_code=QYKB, case_id=case)
    return [
        verifier(running, POLICE)
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id))
        .report.receipt.receipt_id
        for _ in range(n)
    ]


def shown(page: Any) -> list[str]:
    return page.eval_on_selector_all("#case-table tr[data-receipt]", "rs => rs.map(r => r.dataset.receipt)")


def two_a_page_holding_more(page: Any) -> list[tuple[Any, dict[str, Any]]]:
    """Case receipts two a page, and each further page's request (显示更多) held back: the list of them, to let go
    with ``route.continue_(post_data=json.dumps(body))``."""
    held: list[tuple[Any, dict[str, Any]]] = []

    def two_a_page(route: Any) -> None:
        body = {**json.loads(route.request.post_data), "limit": 2}
        if body.get("page_token"):
            held.append((route, body))
        else:
            route.continue_(post_data=json.dumps(body))

    page.route("**/api/case-receipts", two_a_page)
    return held


def test_end_case_while_the_list_is_on_its_way_keeps_the_ended_cases_receipts_away(
    page: Any, running: RunningGateway
) -> None:
    case = "QYKB-" + uuid.uuid4().hex[:10].upper()
    made = receipts_of(running, case, 1, 81)
    held: list[Any] = []
    page.route("**/api/case-receipts", lambda route: held.append(route))
    open_case(page, case)
    page.click("#case-list")
    page.wait_for_timeout(300)
    assert len(held) == 1
    page.click("#case-end")  # 结束本件 while the list is on its way
    assert page.input_value("#case") == "" and page.is_hidden("#case-receipts")
    held[0].continue_()
    page.wait_for_timeout(1000)
    # the ended case's receipts do not come back into the page, under a panel that says no case is in force
    assert page.is_hidden("#case-receipts") and not shown(page) and made


def test_show_more_of_the_last_case_is_not_appended_to_the_next_cases_list(page: Any, running: RunningGateway) -> None:
    case_a = "QYKB-A-" + uuid.uuid4().hex[:8].upper()
    case_b = "QYKB-B-" + uuid.uuid4().hex[:8].upper()
    made_a = receipts_of(running, case_a, 3, 82)
    made_b = receipts_of(running, case_b, 1, 83)
    held = two_a_page_holding_more(page)
    open_case(page, case_a)
    page.click("#case-list")
    page.locator("#case-table tr[data-receipt]").nth(1).wait_for()
    page.click("#case-next")  # case A's next page, on its way
    page.wait_for_timeout(300)
    page.fill("#case", case_b)  # the next applicant's case
    page.click("#case-list")
    for _ in range(50):
        if shown(page) == made_b:
            break
        page.wait_for_timeout(100)
    assert shown(page) == made_b
    route, body = held[0]
    route.continue_(post_data=json.dumps(body))
    page.wait_for_timeout(1000)
    assert shown(page) == made_b and not set(made_a) & set(shown(page))  # case B's list, nothing of case A


def test_a_changed_case_number_takes_the_last_cases_list_away(page: Any, running: RunningGateway) -> None:
    case_a = "QYKB-A-" + uuid.uuid4().hex[:8].upper()
    made_a = receipts_of(running, case_a, 3, 84)
    page.route(
        "**/api/case-receipts",
        lambda route: route.continue_(post_data=json.dumps({**json.loads(route.request.post_data), "limit": 2})),
    )
    open_case(page, case_a)
    page.click("#case-list")
    page.locator("#case-table tr[data-receipt]").nth(1).wait_for()
    case_b = "QYKB-B-" + uuid.uuid4().hex[:8].upper()
    page.fill("#case", case_b)
    assert page.inner_text("#case-summary").endswith(case_b)
    # case A's list goes with its number: nothing of it is shown under case B's name, nor paged on
    assert page.is_hidden("#case-receipts") and page.is_hidden("#case-next") and not shown(page)
    assert made_a


def test_a_case_number_missing_in_the_folded_panel_opens_it_and_focuses_the_field(
    page: Any, running: RunningGateway
) -> None:
    page.click("#case-details summary")
    page.select_option("#bundle", QYKB)  # a 一件事 chosen, its number to come
    page.click("#case-details summary")  # folded
    assert page.inner_text("#case-summary").startswith("一件事 / 办件编号（可选")  # says no case
    page.fill("#query", issue(running, 85).license.license_id)
    check(page, "by-text")
    page.wait_for_selector("#message:not([hidden])")
    assert focused(page) == "case" and page.is_visible("#case")


def test_a_code_scanned_into_a_case_number_entered_with_tab_leaves_it_as_it_was(
    page: Any, running: RunningGateway
) -> None:
    case = "QYKB-" + uuid.uuid4().hex[:8].upper()
    open_case(page, case)
    license_id = issue(running, 86).license.license_id
    page.focus("#bundle")
    page.keyboard.press("Tab")  # into 办件编号: Chrome selects what it holds
    assert focused(page) == "case"
    page.keyboard.type(license_id)
    page.keyboard.press("Enter")
    page.wait_for_timeout(1500)
    assert page.input_value("#case") == case  # "the field is as it was"


def test_end_case_while_show_more_is_on_its_way_says_nothing_of_it(page: Any, running: RunningGateway) -> None:
    case = "QYKB-" + uuid.uuid4().hex[:8].upper()
    receipts_of(running, case, 3, 87)
    held = two_a_page_holding_more(page)
    open_case(page, case)
    page.click("#case-list")
    page.locator("#case-table tr[data-receipt]").nth(1).wait_for()
    page.click("#case-next")
    page.wait_for_timeout(300)
    page.click("#case-end")
    route, body = held[0]
    route.continue_(post_data=json.dumps(body))
    page.wait_for_timeout(1000)
    assert page.is_hidden("#message") and page.is_hidden("#case-receipts") and not shown(page)
