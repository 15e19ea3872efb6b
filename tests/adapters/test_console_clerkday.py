"""The clerk's console in a real browser (``tests.adapters.test_console_browser``'s chromium), for what a window
clerk met in a day's black-box test: a case's receipts squeezed to a character a line at desktop widths, their
download scrolled out of sight; a receipt of a license revoked since shown green alone; and a receipt found forged
pointing to a button not shown, and offered to print and download."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from google.protobuf import json_format
from sqlalchemy import text

from adapters.receipt_file import read_receipt
from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.model import mask
from protos.zzgw.v1 import issuance_pb2, verification_pb2
from tests.adapters.test_console_browser import (
    CHROMIUM,
    QYKZ,
    at_work,
    case_of_the_seal_engraving,
    list_case_receipts,
    sign_in,
)
from tests.adapters.test_console_browser import browser as browser  # the browser test's fixtures
from tests.adapters.test_console_browser import database_url as database_url
from tests.adapters.test_console_browser import page as page
from tests.api.test_verification import FPSL, change, verifier
from tests.api.test_verification import issue_for_invoices as issue
from tests.conftest import POLICE, TAX, RunningGateway

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser at {CHROMIUM}")
LAND = "123701009937011183"  # 济南市不动产登记中心: its one matter, 不动产转移登记, uses no 营业执照
CSDJ = "370100-CSDJ-001"  # the 公安局's 出生登记: no 营业执照 either (its 企业印章刻制 uses one)
RED = "rgb(183, 28, 28)"

LINES = """e => {
  // the lines a cell's own text takes on the screen (its first text, not a block of words below it)
  const text = [...e.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  const range = document.createRange();
  range.selectNodeContents(text);
  return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
}"""


@pytest.mark.parametrize("width", [1024, 1366, 1920])
def test_a_cases_receipts_are_read_and_downloaded_at_a_desktops_width(
    browser: Any, console: str, running: RunningGateway, width: int
) -> None:
    """At 1024, 1366 and 1920 px each column of a case's receipts reads as words, a few characters a line (the
    department, the matter, the type, the verdict then, 已吊销或撤销 with its warning), the identifier and the receipt
    number whole in their cells, and 下载 in the panel. The identifier, unbroken, had taken 650 px, the others 29-40 px
    (济/南/市/公/安/局), the number cut, and 下载 scrolled out of the panel at every width (a clerk tester)."""
    license_id = issue(running, 78, samples.business_license).license.license_id
    case, first = case_of_the_seal_engraving()
    earlier = verifier(running, POLICE).VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id)
    )
    receipt_id = earlier.report.receipt.receipt_id
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    context, page = sign_in(browser, console, running.tokens[TAX], viewport={"width": width, "height": 800})
    try:
        page.wait_for_selector("#work:not([hidden])")
        list_case_receipts(page, case)
        row = page.locator(f"#case-table tr[data-receipt='{receipt_id}']")
        row.wait_for()
        box = page.eval_on_selector(".table-box", "e => [e.scrollWidth, e.clientWidth]")
        assert box[0] <= box[1]  # nothing scrolled off to the side
        panel = page.eval_on_selector("#case-receipts", "e => e.getBoundingClientRect().toJSON()")
        button = row.locator("button").evaluate("e => e.getBoundingClientRect().toJSON()")
        assert (
            panel["left"] <= button["left"] and button["right"] <= panel["right"] and row.locator("button").is_visible()
        )
        heads = page.locator("#case-table th")
        for i in range(heads.count()):
            assert heads.nth(i).evaluate(LINES) == 1, heads.nth(i).inner_text()  # 核验部门, not 核/验/部/门
        cells = row.locator("td")
        assert cells.nth(1).inner_text() == "济南市公安局" and cells.nth(1).evaluate(LINES) <= 2
        assert cells.nth(2).inner_text() == "企业印章刻制" and cells.nth(2).evaluate(LINES) <= 2
        assert cells.nth(3).inner_text() == "营业执照" and cells.nth(3).evaluate(LINES) == 1
        assert cells.nth(5).inner_text() == "核验通过" and cells.nth(5).evaluate(LINES) == 1
        standing = row.locator("td.standing")
        assert standing.evaluate(LINES) == 1 and standing.evaluate("e => e.firstChild.textContent") == "已吊销或撤销"
        warning = standing.locator(".warning")
        assert warning.inner_text() == "该证照在核验后已吊销或撤销，请重新核验"
        assert warning.evaluate("e => e.getBoundingClientRect().height") <= 4 * 20  # 4 lines at most, not 12
        # the identifiers whole, each in its cell (broken where they must be, never cut or spilled)
        for i, whole in ((4, license_id), (7, receipt_id)):
            cell = cells.nth(i)
            assert cell.evaluate("e => e.firstChild.textContent") == whole
            assert cell.evaluate("e => e.scrollWidth <= e.clientWidth")
        # under the license's identifier, whose it is in the registry (fe462e3), within the cell too
        holder = cells.nth(4).locator(".holder")
        assert holder.inner_text().replace("\n", "").endswith("（登记库信息）") and holder.is_visible()
        assert cells.nth(4).inner_text().replace("\n", "") == license_id + holder.inner_text().replace("\n", "")
        assert cells.nth(7).evaluate(LINES) <= 2
        assert cells.nth(0).inner_text().replace("\n", "").endswith("（北京时间）")
    finally:
        context.close()


def test_a_receipt_of_a_license_revoked_since_says_so_in_red_beside_its_green_banner(
    page: Any, browser: Any, console: str, running: RunningGateway
) -> None:
    """The 公安局 checked a 营业执照 that was revoked afterwards. The tax bureau's clerk typing the receipt's number
    (接办免收) reads, beside the green 回执有效 / 当时核验通过, in red that it has been revoked since and cannot be
    relied on; so does a 公安局 clerk under 出生登记, a matter that does not use it (no 重新核验此证照 there). The
    banner alone had said 当时状态 有效, and where 重新核验 was not offered nothing said it was revoked (a clerk
    tester). A department none of whose matters uses the type is not told its standing (ADR 0012), and is told that
    the receipt does not say it is valid now."""
    license_id = issue(running, 79, samples.business_license).license.license_id
    use = verification_pb2.UseContext(matter_code=QYKZ, purpose="企业开办：刻制公章")
    receipt_id = (
        verifier(running, POLICE)
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id))
        .report.receipt.receipt_id
    )

    def look_up(at: Any) -> Any:
        at.fill("#receipt-id", receipt_id)
        at.evaluate("document.getElementById('receipt-review').hidden = true")  # so that what is read is this one's
        at.click("#by-receipt button[type=submit]")
        at.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.PASSED")
        return at.locator("#review-standing")

    standing = look_up(page)  # still valid: said so, not in red
    assert standing.is_visible() and standing.inner_text() == "证照现在的状态：有效"
    assert standing.evaluate("e => getComputedStyle(e).backgroundColor") != RED

    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    standing = look_up(page)
    assert page.inner_text("#review-text") == "回执有效" and page.inner_text("#review-reason") == "当时核验通过"
    said = "证照现在的状态：已吊销或撤销。该证照在核验后已吊销或撤销，不能凭此回执免收材料"
    assert standing.is_visible() and standing.inner_text() == said
    assert standing.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    assert standing.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 18  # not small grey text
    verdict_box = page.eval_on_selector("#review-verdict", "e => e.getBoundingClientRect().bottom")
    assert 0 <= standing.evaluate("e => e.getBoundingClientRect().top") - verdict_box <= 16  # right below the banner
    assert said in page.text_content("#announce")  # heard with the banner

    with at_work(browser, console, running.tokens[POLICE], CSDJ) as police:  # a matter that does not use it
        standing = look_up(police)
        assert police.is_hidden("#review-again") and standing.inner_text() == said
        assert standing.evaluate("e => getComputedStyle(e).backgroundColor") == RED

    with at_work(browser, console, running.tokens[LAND], "370100-BDCZY-001") as land:
        standing = look_up(land)
        assert standing.is_visible() and "有效" not in standing.inner_text().replace("仍然有效", "")
        assert standing.inner_text() == (
            "本部门的办理事项不使用此类证照，证照网关不提供它现在的状态：此回执只说明当时的核验结果，不说明证照现在仍然有效"
        )
        assert "吊销" not in land.inner_text("#receipt-review")


def test_a_forged_receipt_is_not_offered_to_print_or_keep_and_the_clerk_is_told_what_to_do(
    page: Any, running: RunningGateway
) -> None:
    """An edited receipt file is 回执无效: the clerk is told what to do instead (its number, checked against the
    archive; or the license verified), and is offered neither 打印 nor 下载回执文件 of it, nor told to click a
    重新核验此证照 that is not there. The page had said 请点击“重新核验此证照” with no such button, and offered to print
    and download the forged file (a clerk tester). The hint is said with its button only, for a valid receipt too."""
    license_id = issue(running, 80, samples.business_license).license.license_id
    use = verification_pb2.UseContext(matter_code=QYKZ, purpose="企业开办：刻制公章")
    earlier = verifier(running, POLICE).VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id)
    )
    page.fill("#receipt-id", earlier.report.receipt.receipt_id)
    page.click("#by-receipt button[type=submit]")
    page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.PASSED")
    hint = "text=证照此刻是否仍然有效，请点击“重新核验此证照”"
    assert page.is_visible("#review-again") and page.is_visible(hint)
    assert (
        page.is_visible("#review-print") and page.is_visible("#review-download") and page.is_hidden("#review-invalid")
    )
    page.select_option("#matter", "")  # no matter chosen: no button, so no words pointing to it
    assert page.is_hidden("#review-again") and page.is_hidden(hint)
    page.select_option("#matter", FPSL)

    with page.expect_download() as download:
        page.click("#review-download")
    receipt = read_receipt(Path(download.value.path()).read_bytes())
    receipt.statement = receipt.statement.replace(b'"PASSED"', b'"FAILED"', 1)
    edited = json_format.MessageToJson(receipt).encode()
    page.fill("#receipt-id", "")
    page.set_input_files("#receipt-file", {"name": "r.json", "mimeType": "application/json", "buffer": edited})
    page.click("#by-receipt button[type=submit]")
    page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.FAILED")
    assert page.inner_text("#review-text") == "回执无效"
    assert page.is_hidden("#review-again") and page.is_hidden(hint)
    assert page.is_hidden("#review-print") and page.is_hidden("#review-download")
    assert page.is_hidden("#review-standing")
    instead = page.locator("#review-invalid")
    assert instead.is_visible() and instead.inner_text() == (
        "不能凭此回执免收材料，也不要打印或转交此文件。请按申请人纸质回执上的回执编号查验（以证照网关存档为准），"
        "或请申请人提交证照，在“输入证照”中重新核验。"
    )
    assert "请点击" not in page.inner_text("#receipt-review")

    page.set_input_files("#receipt-file", [])  # the genuine one by its number again: offered as before
    page.fill("#receipt-id", earlier.report.receipt.receipt_id)
    page.click("#by-receipt button[type=submit]")
    page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.PASSED")
    assert (
        page.is_visible("#review-print") and page.is_visible("#review-download") and page.is_hidden("#review-invalid")
    )


def test_an_archived_receipt_whose_certificate_was_revoked_is_not_called_changed(browser: Any, tmp_path: Path) -> None:
    """The receipt key is replaced after a leak of a backup holding it, and its certificate revoked (keyCompromise)
    from before the leak may have begun: the gateway's own receipt dated after that checks CERT_REVOKED. Looked up by
    its number, it is the archive's (SAME), untouched; the page had said that the archive's receipt was changed and to
    tell the administrator, who went looking for an edit that never was (a receipt-keys reviewer, R2). It says the
    certificate was revoked, not to rely on it, and to verify the license; an edit of the archive is still said so."""
    from adapters.http import HttpServer
    from gateway.authorities import openssl_serial
    from gateway.server import http_app
    from tests.api.test_receipt_key_retirement import rotate
    from tests.api.test_verification import batch_issue, verify
    from tests.conftest import fresh_database, start_gateway

    data = tmp_path / "var"
    with fresh_database("sqlite", tmp_path) as url:
        first = start_gateway(data, url)
        try:
            receipt = verify(first, license_id=batch_issue(first, 81)).receipt
        finally:
            first.stop()
        issued = dt.datetime.fromisoformat(json.loads(receipt.statement)["issued_at"])
        rotate(data)  # the new-key procedure, the leaked key's certificate revoked by hand from before the receipt
        path = data / "seal-ca" / "revocations.json"
        state = json.loads(path.read_text(encoding="utf-8"))
        serial = openssl_serial(x509.load_der_x509_certificate(receipt.certificate).serial_number)
        leaked = (issued - dt.timedelta(minutes=1)).isoformat()
        state["revocations"].append({"serial": serial, "reason": "keyCompromise", "revoked_at": leaked})
        path.write_text(json.dumps(state, indent=1), encoding="utf-8")
        second = start_gateway(data, url)
        http = HttpServer(http_app(second.gateway), "127.0.0.1:0")
        http.start()
        try:
            with at_work(browser, f"http://127.0.0.1:{http.port}/console", second.tokens[TAX], FPSL) as page:
                page.fill("#receipt-id", receipt.receipt_id)
                page.click("#by-receipt button[type=submit]")
                page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.FAILED")
                assert page.inner_text("#review-reason") == "回执专用章的证书在回执签发时已吊销，内容不可采信"
                assert page.inner_text("#review-archive") == "与证照网关存档的回执一致。"
                instead = page.inner_text("#review-invalid")
                assert instead == (
                    "不能凭此回执免收材料。这张回执与证照网关存档一致，但回执专用章的证书已吊销或在回执签发时无效"
                    "（例如回执专用章的密钥泄露后），回执的内容不可采信；请申请人提交证照，在“输入证照”中重新核验。"
                )
                assert "改动" not in instead and "管理员" not in instead
                assert page.is_hidden("#review-print") and page.is_hidden("#review-download")

                with second.gateway.db.engine.begin() as connection:  # an edit of the archive behind its back
                    connection.execute(
                        text("UPDATE receipts SET statement = :edited WHERE receipt_id = :id"),
                        {"edited": receipt.statement.replace(b'"PASSED"', b'"FAILED"', 1), "id": receipt.receipt_id},
                    )
                page.evaluate("document.getElementById('receipt-review').hidden = true")
                page.click("#by-receipt button[type=submit]")
                page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.FAILED")
                assert page.inner_text("#review-invalid") == (
                    "不能凭此回执免收材料。证照网关存档中的这张回执已被改动，请告知证照网关管理员；"
                    "请申请人提交证照，在“输入证照”中重新核验。"
                )
        finally:
            http.stop()
            second.stop()


def test_a_newborns_parent_is_shown_masked_and_compared_by_the_applicants_own_number(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """A newborn's 出生医学证明, verified by its number under 出生登记: the page told the clerk to compare the
    applicant with 证照所载的父母信息, showed no parent, and its 信息比对 had no field for one, so a parent's own
    公民身份号码 typed as the holder's was 不符：证件号码 (a reviewer of the clerk, R1). The summary lists the mother
    and father masked, as a 结婚证's parties, the hint names 信息比对, and the applicant's own number compared with
    the mother's is 信息一致 (the father's, 不符 by his label). Under 参保登记, which does not use the parents' codes,
    none is shown or offered, and the clerk is told the gateway cannot say."""
    from adapters.demo import HEALTH, _birth_certificate
    from tests.api.test_guardian_consent import MEDICAL

    record = _birth_certificate(700_101)
    certificate = running.issuance(HEALTH).IssueLicense(issue_request(record)).license
    mother, father = record["fields"]["mother_citizen_id"], record["fields"]["father_citizen_id"]
    with at_work(browser, console, running.tokens[POLICE], CSDJ) as page:
        page.fill("#query", certificate.license_number)
        page.select_option("#type-code", certificate.type_code)
        page.press("#query", "Enter")
        page.wait_for_selector("#result:not([hidden]) #verdict.PASSED")
        receipt_id = page.locator("#receipt-table td").first.inner_text()
        rows = dict(
            page.eval_on_selector_all(
                "#summary tr", "rs => rs.map(r => [r.cells[0].textContent, r.cells[1].textContent])"
            )
        )
        assert rows["母亲有效身份证件号码"] == mask(mother) and rows["父亲有效身份证件号码"] == mask(father)
        assert mother not in page.inner_text("#result") and father not in page.inner_text("#result")
        assert page.inner_text("#holder-check") == (
            "持证人尚无身份证件（以其他代码登记，如新生儿）：申请人应为其父母或监护人，请核对申请人的身份证件与上列父母的"
            "身份证件号；可用“信息比对”核对申请人（父母）本人的公民身份号码（持证人信息已部分隐去）。"
        )

        page.select_option("#claim-type", certificate.type_code)
        assert page.is_visible("#claim-guardian")
        assert page.eval_on_selector_all("#claim-guardian-field option", "os => os.map(o => o.textContent)") == [
            "母亲有效身份证件号码",
            "父亲有效身份证件号码",
        ]
        page.fill("#claim-holder", certificate.holder.code)
        page.fill("#claim-number", certificate.license_number)
        page.select_option("#claim-guardian-field", "mother_citizen_id")
        page.fill("#claim-guardian", mother)
        page.evaluate("document.getElementById('result').hidden = true")
        page.click("#by-claim button[type=submit]")
        page.wait_for_selector("#result:not([hidden]) #verdict.PASSED")
        assert "信息一致" in page.inner_text("#verdict")
        page.select_option("#claim-guardian-field", "father_citizen_id")  # the mother's number is not the father's
        page.evaluate("document.getElementById('result').hidden = true")
        page.click("#by-claim button[type=submit]")
        page.wait_for_selector("#result:not([hidden]) #verdict.FAILED")
        assert "不符：父亲有效身份证件号码" in page.inner_text("#verdict")
        # the verification's receipt looked up: no parent shown there, and the way to compare one said all the same
        page.fill("#receipt-id", receipt_id)
        page.click("#by-receipt button[type=submit]")
        page.wait_for_selector("#receipt-review:not([hidden]) #review-verdict.PASSED")
        assert page.inner_text("#review-holder-check") == (
            "回执不记载持证人，上面是证照网关登记库中该证照的持证信息：持证人尚无身份证件（以其他代码登记，如新生儿）："
            "申请人应为其父母或监护人，可用“信息比对”核对申请人（父母）本人的公民身份号码（持证人信息已部分隐去）。"
        )

    with at_work(browser, console, running.tokens[MEDICAL], "370100-CBDJ-001") as page:
        page.fill("#query", certificate.license_id)
        page.press("#query", "Enter")
        page.wait_for_selector("#result:not([hidden]) #verdict.PASSED")
        assert "母亲" not in page.inner_text("#summary") and "父亲" not in page.inner_text("#summary")
        assert page.inner_text("#holder-check") == (
            "持证人尚无身份证件（以其他代码登记，如新生儿）：申请人应为其父母或监护人，本事项不使用证照所载的父母信息，"
            "证照网关不能核对申请人与持证人的关系：请按本事项的规定核对申请人的监护关系（持证人信息已部分隐去）。"
        )
        page.select_option("#claim-type", certificate.type_code)
        assert page.is_hidden("#claim-guardian-row")


def test_an_administrator_is_told_why_no_holder_is_shown(browser: Any, console: str, running: RunningGateway) -> None:
    """The 大数据局 (ADMIN alone) verifying a 营业执照 is shown no holder (it reads no data: review clerk, R3), and
    the page says why, in place of the words that ask to compare the holder with the applicant."""
    from tests.conftest import ADMIN

    issued = issue(running, 85, samples.business_license).license
    with at_work(browser, console, running.tokens[ADMIN], FPSL) as page:
        page.fill("#query", issued.license_id)
        page.press("#query", "Enter")
        page.wait_for_selector("#result:not([hidden]) #verdict.PASSED")
        summary = page.inner_text("#summary")
        assert issued.holder.name not in summary and issued.holder.code not in summary and "单位名称" not in summary
        assert page.inner_text("#holder-check") == (
            "管理员核验不显示持证人：运维管理员核验只用于检查证照网关，不读取个人信息。"
        )


def test_the_applicants_own_number_pasted_with_hyphens_is_compared_and_a_wrong_one_named_by_its_label(
    browser: Any, console: str, running: RunningGateway
) -> None:
    """信息比对 of a newborn's 出生医学证明 under 出生登记: the applicant's own 公民身份号码 pasted with hyphens
    (370102-19920417-1366) is the number without them, as a holder code or a number so pasted is; it had been
    refused 母亲有效身份证件号码须为17位数字加1位数字或X, naming a label the clerk had not typed into (review console2,
    R3). One that no one has (a wrong check character) is refused by the field's own label, the focus in it."""
    from adapters.demo import HEALTH, _birth_certificate

    record = _birth_certificate(700_102)
    certificate = running.issuance(HEALTH).IssueLicense(issue_request(record)).license
    mother = record["fields"]["mother_citizen_id"]
    hyphened = f"{mother[:6]}-{mother[6:14]}-{mother[14:]}"
    with at_work(browser, console, running.tokens[POLICE], CSDJ) as page:
        page.select_option("#claim-type", certificate.type_code)
        page.fill("#claim-holder", certificate.holder.code)
        page.fill("#claim-number", certificate.license_number)
        page.select_option("#claim-guardian-field", "mother_citizen_id")
        for typed in (hyphened, hyphened.replace("-", "－"), f"{mother[:6]} {mother[6:14]} {mother[14:]}"):
            page.fill("#claim-guardian", typed)
            page.evaluate("document.getElementById('result').hidden = true")
            page.click("#by-claim button[type=submit]")
            page.wait_for_selector("#result:not([hidden]) #verdict.PASSED")
            assert "信息一致" in page.inner_text("#verdict"), typed
        wrong = mother[:-1] + ("0" if mother[-1] != "0" else "1")
        page.fill("#claim-guardian", f"{wrong[:6]}-{wrong[6:14]}-{wrong[14:]}")
        page.evaluate("document.getElementById('result').hidden = true")
        page.click("#by-claim button[type=submit]")
        page.locator("#message", has_text="校验码").wait_for()
        said = page.inner_text("#message")
        assert said.startswith("申请人本人的公民身份号码") and "母亲有效身份证件号码" not in said, said
        assert page.evaluate("document.activeElement.id") == "claim-guardian"
