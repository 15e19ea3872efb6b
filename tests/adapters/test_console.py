"""The clerk's console over a real socket, against a real gateway: its page, its sign-in, and every way to verify
(identifier, number, pasted code, QR photo, PDF), with the refusals a clerk meets. The browser drives the same
calls in tests/adapters/test_console_browser.py."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import json
import logging
import re
import socket
import sqlite3
import struct
import urllib.error
import urllib.request
import uuid
import zlib
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from PIL import Image
from sqlalchemy import text

from adapters import console as console_module
from adapters import license_codes
from adapters.console import Console
from adapters.http import HttpApp, HttpServer
from adapters.receipt_file import read_receipt
from adapters.records import issue_request
from gateway.api import errors as grpc_errors
from gateway.bootstrap import samples
from gateway.domain.audit import AuditAction
from gateway.domain.errors import FieldViolation, InvalidRequestError, NotFoundError
from gateway.domain.identifiers import normal_number
from gateway.domain.model import mask, mask_name
from gateway.domain.verification import claim_digest
from gateway.server import console_backend
from gateway.store import group_writer
from protos.zzgw.v1 import issuance_pb2, verification_pb2
from signing.errors import InvalidSignature
from signing.qr import qr_png
from tests.adapters.test_http import exchange, post_head
from tests.api.test_audit import record_count
from tests.api.test_documents import document_of
from tests.api.test_guardian_consent import MEDICAL, certificate, parents
from tests.api.test_server import logging_as_configured_at_debug
from tests.api.test_verification import FPSL as MATTER
from tests.api.test_verification import change, qr_for, receipt_statement
from tests.api.test_verification import issue_for_invoices as issue
from tests.api.test_verification import verify as grpc_verify
from tests.api.test_verification_superseded import amend
from tests.conftest import (
    ADMIN,
    BUSINESS_LICENSE,
    CIVIL,
    MARKET,
    POLICE,
    PORTAL,
    TAX,
    RunningGateway,
    backend_params,
    error_details,
    today,
    trail_rows,
)

USE = {"matter_code": MATTER, "purpose": "企业开办窗口核验", "operator": "窗口03 王敏"}
"""The tax bureau's use: ``MATTER`` is 发票申领, a matter it handles (a department acts only under its own)."""
QYKZ, FPSL, SBDJ, CSDJ = "370100-QYKZ-001", "370100-FPSL-001", "370100-SBDJ-001", "370100-CSDJ-001"
QYKB, XSECS = "370100-YJS-QYKB", "370100-YJS-XSECS"
CBDJ = "370100-CBDJ-001"
LAND = "123701009937011183"  # 济南市不动产登记中心


def fetch(url: str, body: object = None, token: str | None = None, raw: bytes | None = None) -> tuple[int, Any]:
    """The status and the JSON answer (or the bytes and headers of a page) of one console call."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, kind, content, head = response.status, response.headers["Content-Type"], response.read(), response
    except urllib.error.HTTPError as error:
        status, kind, content, head = error.code, error.headers["Content-Type"], error.read(), error
    if kind.startswith("application/json"):
        return status, json.loads(content)
    return status, (content, head.headers)  # case-insensitive names


def verify(console: str, running: RunningGateway, member: str = TAX, **request: object) -> tuple[int, Any]:
    return fetch(f"{console}/api/verify", {"use": USE, **request}, running.tokens[member])


def whole(issued: Any) -> tuple[str, str, bool]:
    """The holder of a company's license as the summary shows it: its name and 统一社会信用代码 whole (public
    registration data), and ``holder_in_full`` saying so."""
    assert issued.holder.code_type == "001"
    return issued.holder.name, issued.holder.code, True


def holder_of(summary: dict[str, Any]) -> tuple[str, str, bool]:
    return summary["holder_name_masked"], summary["holder_code_masked"], summary["holder_in_full"]


def refusal(answer: dict[str, Any]) -> tuple[int, str, list[tuple[str, str]]]:
    error = answer["error"]
    return error["status"], error["reason"], [(v["field"], v["reason"]) for v in error["violations"]]


def test_the_page_and_its_files_are_served_with_chinese_labels_and_a_strict_policy(console: str) -> None:
    status, (page, headers) = fetch(f"{console}/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.decode()
    for label in ("窗口核验", "办理事项", "用证事由", "上传电子证照（PDF）", "上传二维码图片", "打印回执"):
        assert label in text
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "an id used twice: the script finds only the first"
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    status, (script, headers) = fetch(f"{console}/console.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and b"textContent" in script
    assert b"innerHTML" not in script  # everything shown is set as text
    assert fetch(f"{console}/console.css")[0] == 200
    assert fetch(f"{console}/nothing-here")[0] == 404


def test_a_seal_certificates_reasons_read_apart_from_the_license_status(console: str) -> None:
    """A clerk reads 签章证书已吊销 for a seal certificate revoked before it sealed, 证照已吊销 only for a license."""
    script = fetch(f"{console}/console.js")[1][0].decode()
    block = script[script.index("const REASONS = {") : script.index("};", script.index("const REASONS = {"))]
    labels = dict(re.findall(r'\b([A-Z_]+): "([^"]*)"', block))
    assert (labels["REVOKED"], labels["NOT_YET_VALID"], labels["EXPIRED"]) == (
        "证照已吊销或撤销",
        "证照尚未生效",
        "证照已过有效期",
    )
    assert (labels["CERT_REVOKED"], labels["CERT_NOT_YET_VALID"], labels["CERT_EXPIRED"]) == (
        "签章证书已吊销",
        "签章时证书尚未生效",
        "签章时证书已过期",
    )
    for code in ("CERT_REVOKED_NO_TRUSTED_TIME", "CERT_EXPIRED_NO_TRUSTED_TIME"):
        assert "证书" in labels[code] and "无法确定签章" in labels[code]
    assert "REVOKED_NO_TRUSTED_TIME" not in labels  # no longer given
    # what an edit behind the gateway's back is reported as (ADR 0009)
    assert "签章时间" in labels["STATUS_ALTERED"] and "证照" in labels["REGISTRY_ALTERED"]
    # every code the seal certificate's chain check and the timestamp check give has Chinese (signing.seal_ca)
    for code in ("LOOKALIKE_CA", "INVALID_CHAIN", "CRL_MISSING", "CRL_STALE", "WEAK_ALGORITHM", "BAD_KEY_USAGE"):
        assert "证书" in labels[code] or "吊销列表" in labels[code], code
    for code in ("NO_TIMESTAMP", "TIMESTAMP_INVALID", "TIMESTAMP_UNTRUSTED"):
        assert "时间戳" in labels[code], code


def test_the_docs_quote_the_page_as_it_shows(console: str) -> None:
    """docs/console.md quoted the page with a space after a full-width comma (还有更多， 请点击…) and with words the
    page does not say (与存档中同一编号的回执不一致); a Chinese text editor. Its quotes are the page's."""
    doc = (Path(__file__).parents[2] / "docs" / "console.md").read_text(encoding="utf-8")
    assert not re.findall(r"[\u4e00-\u9fff）][，：；、] +[\u4e00-\u9fff“（]", doc)
    page = fetch(f"{console}/console.js")[1][0].decode() + fetch(f"{console}/")[1][0].decode()
    for quoted in (
        "，还有更多，请点击“显示更多”",
        "请向签发该回执的证照网关核对（本网关不能判断其他证照网关的回执）",
        "证照网关存档中没有这张回执：它不是本网关出具的，或是伪造的，不能凭它免收材料。",
        "与证照网关存档中同一编号的回执不一致：请以存档为准（按回执编号查验）。",
        "请与申请人身份证件核对，确认是本人的证照（持证人信息已部分隐去）。",
        "请与申请人身份证件核对，确认申请人是证照载明的当事人之一（见上列身份证件号，信息已部分隐去）；",
        "申请人不是持证人时，可用“信息比对”核对其本人的公民身份号码。",
        "请与申请单位的名称和统一社会信用代码核对，确认是该单位的证照。",
        "，请稍候。刚输入的内容不会自动核验：本次核验完成后，请再按回车核验",
        "，请稍候（同一内容不重复核验）",
        "（当时核验未通过），不能凭此回执免收材料",
    ):
        assert quoted in doc and quoted in page, quoted


def script_table(script: str, name: str) -> dict[str, str]:
    """The string entries of one of console.js's tables (``const NAME = { KEY: "words", … }``)."""
    start = script.index(f"const {name} = {{")
    block = script[start : script.index("};", start)]
    return dict(re.findall(r'\b([A-Z_]+|\d+): "([^"]*)"', block))


def test_the_consoles_words_are_the_glossarys(console: str) -> None:
    """A status, a verdict, a receipt's check and the department that issued a license read as everywhere else
    (the lead's glossary): 已暂停使用, not 受限 (the action is 暂停); 已吊销或撤销 and 已注销, without a spaced
    half-width slash or 废止; 发证部门, not 签发机构; 校验码, not 校验位 (found by a Chinese text editor)."""
    script = fetch(f"{console}/console.js")[1][0].decode()
    assert script_table(script, "STATUS") == {
        "ACTIVE": "有效",
        "SUSPENDED": "已暂停使用",
        "REVOKED": "已吊销或撤销",
        "CANCELLED": "已注销",
        "SUPERSEDED": "已变更（不再现行）",
        "EXPIRED": "已过期",
        "NOT_YET_VALID": "尚未生效",
    }
    reasons = script_table(script, "REASONS")
    assert (reasons["SUSPENDED"], reasons["REVOKED"], reasons["CANCELLED"]) == (
        "证照已暂停使用",
        "证照已吊销或撤销",
        "证照已注销",
    )
    assert script_table(script, "VERDICTS") == {
        "PASSED": "核验通过",
        "FAILED": "核验未通过",
        "INDETERMINATE": "无法确定",
    }
    assert script_table(script, "REVIEWS") == {"PASSED": "回执有效", "FAILED": "回执无效", "INDETERMINATE": "无法确认"}
    assert script_table(script, "CLAIMS")["2"] == "信息一致，但证照已暂停使用"
    assert "const RESULTS = VERDICTS;" in script  # a finding reads 核验通过 / 核验未通过 too
    words = "".join(re.findall(r'"([^"]*[\u4e00-\u9fff][^"]*)"', script))  # the script's Chinese strings
    page = fetch(f"{console}/")[1][0].decode()
    for banned in ("受限", "废止", "校验位", "签发机构", "吊销 / 撤销", "注销 / ", " — "):
        assert banned not in words and banned not in page, banned


def test_signing_in_names_the_department_and_lists_its_own_matters(console: str, running: RunningGateway) -> None:
    """The session lists the matters the department handles (a check names one of them) and the bundles they are
    in; every license type, since a matter's department may be shown any."""
    assert MATTER == FPSL
    status, session = fetch(f"{console}/api/session", token=running.tokens[TAX])
    assert status == 200
    assert session["member"] == {"code": TAX, "name": "国家税务总局济南市税务局"}
    (matter,) = session["matters"]  # 发票申领 alone: not 公安局's 企业印章刻制 nor any other department's
    assert (matter["code"], matter["name"], matter["department"]) == (FPSL, "发票申领", "国家税务总局济南市税务局")
    assert matter["purpose"]
    assert any(t["name"] == "营业执照" for t in session["license_types"])
    assert [(b["code"], b["name"], b["matter_codes"]) for b in session["bundles"]] == [
        (QYKB, "企业开办一件事", [QYKZ, FPSL, SBDJ])  # the whole bundle, to name the case; not 新生儿出生一件事
    ]
    status, police = fetch(f"{console}/api/session", token=running.tokens[POLICE])
    assert status == 200  # two matters of its own, in two bundles, in catalog order
    assert [(m["code"], m["department"]) for m in police["matters"]] == [(QYKZ, "济南市公安局"), (CSDJ, "济南市公安局")]
    assert [b["code"] for b in police["bundles"]] == [QYKB, XSECS]
    status, admin = fetch(f"{console}/api/session", token=running.tokens[ADMIN])
    assert status == 200  # an administrator acts under any matter (the sharing policy still refuses it data)
    assert [m["code"] for m in admin["matters"]] == list(running.gateway.catalog.matters)
    assert [b["code"] for b in admin["bundles"]] == list(running.gateway.catalog.bundles)
    max_bytes = running.gateway.settings.max_message_bytes
    assert session["limits"] == {"pdf_bytes": max_bytes, "image_bytes": 8 * 1024 * 1024}
    status, answer = fetch(f"{console}/api/session")
    assert status == 401 and refusal(answer)[1] == "NO_CREDENTIAL"
    status, answer = fetch(f"{console}/api/session", token="not-a-token")
    assert status == 401 and refusal(answer)[1] == "UNKNOWN_CREDENTIAL"
    # credentials come first, as for gRPC: a stranger learns nothing of what is wrong with a request
    for body in (b"{not json", b'{"query": ""}'):
        status, answer = fetch(f"{console}/api/verify", raw=body, token="not-a-token")
        assert status == 401 and refusal(answer)[1] == "UNKNOWN_CREDENTIAL"


def test_json_nested_past_the_parsers_depth_is_malformed_not_an_internal_error(
    console: str, running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """1,000 '[' is past the depth json parses (a RecursionError): from a signed-in clerk it is malformed like any
    other broken JSON (400, MALFORMED_REQUEST), from a stranger it is refused on the credentials, unread (401); never
    an internal error, and nothing is logged as a defect. Deeper still, 200,000 '[' or {"a": {"a": …}} 50,000 deep,
    holds more keys and values than any call takes, and is refused so before it is parsed (413, REQUEST_TOO_LARGE;
    ``case-receipts`` refuses it on its size), as the same count of values side by side is (a reviewer, R1)."""
    caplog.set_level(logging.WARNING, logger="zzgw.error")
    token = running.tokens[TAX]
    status, answer = fetch(f"{console}/api/verify", raw=b"{not json", token=token)
    malformed = (status, refusal(answer))
    assert malformed == (400, (400, "MALFORMED_REQUEST", [("", "MALFORMED_REQUEST")]))
    too_large = (413, (413, "REQUEST_TOO_LARGE", []))
    for body in (b"[" * 1_000, b"[" * 200_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        for call in ("verify", "check-claim", "case-receipts"):
            status, answer = fetch(f"{console}/api/{call}", raw=body, token=token)
            assert (status, refusal(answer)) == (malformed if len(body) == 1_000 else too_large), call
        status, answer = fetch(f"{console}/api/verify", raw=body, token="not-a-token")
        assert status == 401 and refusal(answer)[1] == "UNKNOWN_CREDENTIAL"
    assert [record.getMessage() for record in caplog.records if record.name == "zzgw.error"] == []


def test_a_holder_portal_may_not_verify(console: str, running: RunningGateway) -> None:
    license_id = issue(running, 31).license.license_id
    status, answer = verify(console, running, PORTAL, query=license_id)
    assert status == 403 and refusal(answer)[1] == "ROLE_NOT_ALLOWED"
    status, answer = fetch(f"{console}/api/session", token=running.tokens[PORTAL])  # not even signed in
    assert status == 403 and refusal(answer)[1] == "ROLE_NOT_ALLOWED"


def test_a_department_that_handles_no_matter_is_not_signed_in(console: str, running: RunningGateway) -> None:
    """济南市民政局 issues 结婚证 and so may verify, but handles no matter of the catalog: every check names a matter
    of the department's own, so it could make none, and the console says so at sign-in."""
    assert not any(m.department == "济南市民政局" for m in running.gateway.catalog.matters.values())
    status, answer = fetch(f"{console}/api/session", token=running.tokens[CIVIL])
    assert status == 403 and refusal(answer) == (403, "NO_MATTERS", [])
    assert "济南市民政局" in answer["error"]["message"]
    license_id = issue(running, 30).license.license_id
    status, answer = verify(console, running, CIVIL, query=license_id)  # nor does a check made without the page
    assert status == 403 and refusal(answer)[1] == "NOT_MATTER_DEPARTMENT"


def test_a_check_under_another_departments_matter_is_refused_and_on_the_trail(
    console: str, running: RunningGateway
) -> None:
    """The tax bureau naming the 公安局's 企业印章刻制: each kind of check is refused before it is made, and each
    refusal is a DENIED entry of its action on the audit trail, naming the clerk, the matter and the license it
    named (so the issuer and the holder see the attempt; a document names its license only once read)."""
    issued = issue(running, 29).license
    license_id = issued.license_id
    operator = "税务窗口" + uuid.uuid4().hex[:8]  # finds this test's entries
    use = {"matter_code": QYKZ, "purpose": "企业开办：刻制公章", "operator": operator}
    pdf = base64.b64encode(document_of(running, license_id).pdf).decode()
    claim = {"type_code": issued.type_code, "holder_code": issued.holder.code, "license_number": issued.license_number}
    refused = [
        verify(console, running, query=license_id, use=use),
        verify(console, running, pdf=pdf, use=use),
        fetch(f"{console}/api/check-claim", {"use": use, **claim}, running.tokens[TAX]),
    ]
    for status, answer in refused:
        assert status == 403 and refusal(answer) == (403, "NOT_MATTER_DEPARTMENT", [])
        assert "由济南市公安局办理" in answer["error"]["message"]
    columns = "caller, action, matter_code, purpose, license_id, decision, reason"
    assert trail_rows(running, columns, "operator = :operator", operator=operator) == [
        (TAX, action.value, QYKZ, "企业开办：刻制公章", named, "DENIED", "NOT_MATTER_DEPARTMENT")
        for action, named in (
            (AuditAction.VERIFY_LICENSE, license_id),
            (AuditAction.VERIFY_DOCUMENT, ""),
            (AuditAction.CHECK_CLAIM, license_id),
        )
    ]
    # its issuer sees the attempts on its license; the same check under 发票申领 is answered
    trail = running.gateway.audit
    assert trail is not None
    issuer = running.gateway.authenticator.by_token(running.tokens[MARKET])
    seen = [(r.entry.action, r.entry.decision) for r in trail.list(issuer)[0] if r.entry.license_id == license_id]
    assert seen == [  # newest first, after the issuer's own fetch of the document this test used
        (AuditAction.CHECK_CLAIM, "DENIED"),
        (AuditAction.VERIFY_LICENSE, "DENIED"),
        (AuditAction.ISSUER_GET_LICENSE_DOCUMENT, "ANSWERED"),
    ]
    status, report = verify(console, running, query=license_id, use={**use, "matter_code": FPSL})
    assert status == 200 and report["verdict"] == "PASSED"
    # the 公安局 under its own matter is answered too: the refusal is of the pair, not of the matter
    status, report = verify(console, running, POLICE, query=license_id, use=use)
    assert status == 200 and report["verdict"] == "PASSED"


def test_a_valid_license_passes_with_a_receipt_that_checks_offline(console: str, running: RunningGateway) -> None:
    issued = issue(running, 32).license
    license_id = issued.license_id
    status, report = verify(console, running, query=license_id)
    assert status == 200, report
    assert report["verdict"] == "PASSED" and report["reason"] == ""
    assert {k: f["result"] for k, f in report["findings"].items()} == {
        "integrity": "PASSED",
        "status": "PASSED",
        "issuer_identity": "PASSED",
    }
    summary = report["license"]
    assert summary["license_id"] == license_id and summary["status"] == "ACTIVE"
    assert summary["type_name"] == "营业执照" and summary["issuer_name"] == "济南市市场监督管理局"
    # the holder, so the clerk can tell the license is the applicant's: a company's whole (a clerk could not compare
    # 济** with its name; found by a scenario tester); in the reply only, not in the receipt
    assert holder_of(summary) == whole(issued)
    assert "holder" not in json.dumps(report["receipt"]["statement"])
    assert issued.holder.name not in json.dumps(report["receipt"], ensure_ascii=False)
    # a person's masked as the printed code states it: 公安局 checks a 居民身份证 under 企业印章刻制
    record = {**samples.id_card(800_000 + int(uuid.uuid4().hex[:5], 16)), "request_id": f"id-{uuid.uuid4().hex}"}
    card = running.issuance(POLICE).IssueLicense(issue_request(record)).license
    use = {"matter_code": QYKZ, "purpose": "企业印章刻制备案，核验法定代表人身份", "operator": "刻章窗口 欧阳敏"}
    status, person = verify(console, running, POLICE, query=card.license_id, use=use)
    assert status == 200 and person["verdict"] == "PASSED", person
    assert holder_of(person["license"]) == (mask_name(card.holder.name), mask(card.holder.code), False)
    assert card.holder.name not in json.dumps(person, ensure_ascii=False) and card.holder.code not in str(person)
    receipt = read_receipt(report["receipt"]["file"].encode())
    assert receipt.receipt_id == report["receipt"]["receipt_id"]
    statement = receipt_statement(running, receipt)  # its certificate chains, its signature verifies
    assert statement["caller"] == TAX and statement["matter_code"] == MATTER and statement["verdict"] == "PASSED"
    assert report["receipt"]["statement"] == json.loads(receipt.statement)
    tampered = receipt.statement.replace(b'"PASSED"', b'"FAILED"', 1)
    receipt.statement = tampered
    with pytest.raises(InvalidSignature):
        receipt_statement(running, receipt)
    # the access record names the clerk as operator, like a gRPC call's x-zzgw-operator
    trail = running.gateway.audit
    assert trail is not None
    issuer = running.gateway.authenticator.by_token(running.tokens[MARKET])
    entries = [r.entry for r in trail.list(issuer)[0]]
    used = [e for e in entries if e.license_id == license_id and e.action is AuditAction.VERIFY_LICENSE]
    assert [(e.caller, e.operator, e.purpose) for e in used] == [(TAX, "窗口03 王敏", "企业开办窗口核验")]


def married(running: RunningGateway) -> tuple[str, str, dict[str, Any], str]:
    """A 结婚证 issued to a couple, the husband its holder: his code, hers, the record and the license's id."""
    from tests.api.test_holder_among import certificate
    from tests.api.test_sharing import person

    (husband, _), (wife, _) = person("男"), person("女")
    record = certificate(husband, husband, wife)
    return husband, wife, record, running.issuance(CIVIL).IssueLicense(issue_request(record)).license.license_id


def test_a_marriage_certificate_shows_both_spouses_for_the_one_who_does_not_hold_it(
    console: str, running: RunningGateway
) -> None:
    """The wife of a 结婚证 her husband holds shows it at the 不动产登记中心's window: the page showed the husband
    alone, and told the clerk to confirm that it was hers (a reviewer of the journeys, R2). Both spouses are listed,
    masked as the holder, the holder said; and the session tells the page which types name several persons who may
    hold them."""
    husband, wife, record, license_id = married(running)
    use = {"matter_code": "370100-BDCZY-001", "purpose": "不动产转移登记，核验婚姻状况", "operator": "窗口05 李静"}
    status, report = verify(console, running, LAND, query=license_id, use=use)
    assert status == 200 and report["verdict"] == "PASSED", report
    assert report["license"]["parties"] == [
        {"label": "男方身份证件号", "code_masked": mask(husband), "holder": True},
        {"label": "女方身份证件号", "code_masked": mask(wife), "holder": False},
    ]
    assert "女方身份证件号" not in json.dumps(report["receipt"], ensure_ascii=False)
    session = fetch(f"{console}/api/session", token=running.tokens[LAND])[1]
    either = {t["code"]: t["held_by_one_named"] for t in session["license_types"]}
    assert either[record["type_code"]] and not either[BUSINESS_LICENSE]


def test_an_administrators_verification_shows_no_holder(console: str, running: RunningGateway) -> None:
    """The 大数据局 (ADMIN alone) "verifies to check the gateway and reads no data", and its receipt look-up gives no
    holder, but its verification of a 结婚证 gave the holder and both spouses, of a 出生医学证明 the newborn (a
    reviewer of the clerk, R3): none, said (``holder_withheld``); the license, its status and the receipt as for
    any verifier. A department verifying the same license is given them."""
    husband, wife, record, license_id = married(running)
    use = {"matter_code": "370100-BDCZY-001", "purpose": "检查网关", "operator": "运维 张工"}
    status, report = verify(console, running, ADMIN, query=license_id, use=use)
    assert status == 200 and report["verdict"] == "PASSED", report
    shown = report["license"]
    assert holder_of(shown) == ("", "", False) and shown["holder_code_type"] == "" and shown["holder_withheld"]
    assert shown["parties"] == [] and shown["guardians"] == []
    assert shown["license_id"] == license_id and shown["status"] == "ACTIVE" and report["receipt"]["receipt_id"]
    said = json.dumps(report, ensure_ascii=False)
    assert mask_name(record["holder"]["name"]) not in said
    assert mask(husband) not in said and mask(wife) not in said and "男方身份证件号" not in said
    status, report = verify(console, running, LAND, query=license_id, use={**use, "operator": "窗口05 李静"})
    assert report["license"]["holder_code_masked"] == mask(husband) and not report["license"]["holder_withheld"]
    assert len(report["license"]["parties"]) == 2


def test_a_revoked_license_fails_on_status_at_once(console: str, running: RunningGateway) -> None:
    license_id = issue(running, 33).license.license_id
    assert verify(console, running, query=license_id)[1]["verdict"] == "PASSED"
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    status, report = verify(console, running, query=license_id)
    assert status == 200 and report["verdict"] == "FAILED" and report["reason"] == "REVOKED"
    assert report["findings"]["status"]["result"] == "FAILED" and report["license"]["status"] == "REVOKED"
    assert report["license"]["status_since"] == today().isoformat()


def test_by_number_the_type_is_needed_and_an_unknown_license_shows_nothing(
    console: str, running: RunningGateway
) -> None:
    issued = issue(running, 34).license
    number, type_code = issued.license_number, issued.type_code
    status, answer = verify(console, running, query=number)
    assert status == 400 and refusal(answer)[2] == [("type_code", "REQUIRED")]
    status, report = verify(console, running, query=number, type_code=type_code)
    assert status == 200 and report["verdict"] == "PASSED" and report["license"]["license_id"] == issued.license_id
    shown = report["license"]
    assert holder_of(shown) == whole(issued)  # whose number it is
    status, report = verify(console, running, query=number + "9", type_code=type_code)
    assert status == 200 and report["license"] is None
    assert (report["verdict"], report["findings"]["status"]["reason"]) == ("FAILED", "LICENSE_NOT_FOUND")


def test_a_holders_code_as_a_number_is_found_with_the_hyphens_it_was_pasted_with(
    console: str, running: RunningGateway
) -> None:
    """A 统一社会信用代码 pasted as 913701-0000000078R7 was 未找到该证照, where one with spaces is found (a reviewer of
    the clerk, R2): a number that is its holder's code has no hyphen, ASCII, full width or Unicode's. A number of
    another type is looked up as given: a hyphen may be part of it."""
    issued = issue(running, 84).license
    number, type_code = issued.license_number, issued.type_code
    for hyphen in ("-", "\uff0d", "\u2010", "\u2011"):
        typed = number[:6] + hyphen + number[6:]
        status, report = verify(console, running, query=typed, type_code=type_code)
        assert status == 200 and report["verdict"] == "PASSED", report
        assert report["license"]["license_id"] == issued.license_id
    status, report = verify(console, running, query=number[:6] + "-" + number[6:] + "-", type_code=type_code)
    assert report["verdict"] == "PASSED", report
    status, report = verify(console, running, query=number[:6] + "-" + number[7:], type_code=type_code)
    assert (report["verdict"], report["findings"]["status"]["reason"]) == ("FAILED", "LICENSE_NOT_FOUND")


def test_a_pasted_code_and_a_photo_of_it_verify(console: str, running: RunningGateway) -> None:
    issued = issue(running, 35).license
    license_id = issued.license_id
    code, _ = qr_for(running, license_id)
    status, report = verify(console, running, query=code)
    assert status == 200 and report["verdict"] == "PASSED" and report["license"]["license_id"] == license_id
    shown = report["license"]  # the holder the code states: a borrowed code shows someone else's
    assert holder_of(shown) == whole(issued)
    # a phone photo: the code small in a larger grey picture, saved as JPEG
    photo = Image.new("RGB", (1200, 900), (200, 200, 190))
    photo.paste(Image.open(io.BytesIO(qr_png(code, scale=3))).convert("RGB"), (400, 250))
    jpeg = io.BytesIO()
    photo.save(jpeg, "JPEG", quality=85)
    status, report = verify(console, running, qr_image=base64.b64encode(jpeg.getvalue()).decode())
    assert status == 200, report
    assert report["verdict"] == "PASSED" and report["by"] == "qr_image"
    assert report["license"]["license_id"] == license_id
    assert holder_of(report["license"]) == whole(issued)
    forged = code[:-8] + ("A" if code[-8] != "A" else "B") + code[-7:]
    status, report = verify(console, running, qr_image=base64.b64encode(qr_png(forged)).decode())
    assert status == 200 and report["verdict"] == "FAILED" and report["license"] is None


def test_a_photo_without_a_code_and_a_file_that_is_no_image_are_refused(console: str, running: RunningGateway) -> None:
    blank = io.BytesIO()
    Image.new("RGB", (300, 300), (255, 255, 255)).save(blank, "PNG")
    status, answer = verify(console, running, qr_image=base64.b64encode(blank.getvalue()).decode())
    assert status == 400 and refusal(answer)[2] == [("qr_image", "NO_QR_CODE")]
    status, answer = verify(console, running, qr_image=base64.b64encode(b"%PDF-1.7 not a picture").decode())
    assert status == 400 and refusal(answer)[2] == [("qr_image", "NOT_AN_IMAGE")]
    status, answer = verify(console, running, qr_image="not base64!")
    assert status == 400 and refusal(answer)[2] == [("qr_image", "NOT_BASE64")]
    status, answer = verify(console, running, qr_image=base64.b64encode(qr_png("HTTPS://WWW.EXAMPLE.COM/")).decode())
    assert status == 400 and refusal(answer)[2] == [("qr_image", "NOT_A_LICENSE_CODE")]  # not read as a number


def test_a_photos_metadata_never_goes_to_the_log_at_debug(
    console: str,
    running: RunningGateway,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """At ZZGW_LOG_LEVEL=debug Pillow logged each tag of a TIFF and of a JPEG's EXIF with its value: a scan whose
    Artist or ImageDescription held the applicant's 公民身份号码 put it in the log word for word (a reviewer,
    security R1). Pillow is capped at WARNING as the PDF libraries are."""
    number = "370102199203154417"
    tiff = io.BytesIO()
    Image.new("L", (64, 64), 255).save(tiff, "TIFF", tiffinfo={315: number, 270: number, 269: number})
    exif = Image.Exif()
    exif[270] = number  # ImageDescription
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 255, 255)).save(jpeg, "JPEG", exif=exif.tobytes())
    caplog.set_level(logging.DEBUG)
    with logging_as_configured_at_debug(monkeypatch, tmp_path):
        for image in (tiff.getvalue(), jpeg.getvalue()):
            assert number.encode() in image
            status, answer = verify(console, running, qr_image=base64.b64encode(image).decode())
            assert status == 400 and refusal(answer)[2] == [("qr_image", "NO_QR_CODE")]
    assert number not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("PIL") and r.levelno < logging.WARNING]


def test_a_genuine_pdf_passes_and_a_changed_one_does_not(console: str, running: RunningGateway) -> None:
    license_id = issue(running, 36).license.license_id
    pdf = document_of(running, license_id).pdf
    status, report = verify(console, running, pdf=base64.b64encode(pdf).decode())
    assert status == 200 and report["verdict"] == "PASSED" and report["registered_document"] is True
    assert report["license"]["license_id"] == license_id and report["by"] == "pdf"
    box = pdf.index(b"/MediaBox [")  # the page's size, under the seal: changed by a point
    tampered = pdf[:box] + pdf[box:].replace(b"0 0 595", b"0 0 594", 1)
    assert tampered != pdf
    status, report = verify(console, running, pdf=base64.b64encode(tampered).decode())
    assert status == 200, report
    assert report["verdict"] == "FAILED" and report["findings"]["integrity"]["result"] == "FAILED"
    assert report["license"] is None  # what a changed document names is not looked at


def test_a_purpose_with_a_line_separator_is_refused_and_one_with_a_scripts_marks_taken(
    console: str, running: RunningGateway
) -> None:
    """The console's purpose goes into the same check as gRPC's: U+2028 and U+2029 had been signed into the receipt
    (a penetration tester), and nothing is looked up or recorded for them; Mongolian's vowel separator and the
    grapheme joiner, which scripts need, are taken as written (a reviewer)."""
    issued = issue(running, 31).license
    before = record_count(running)
    for character in ("\u2028", "\u2029"):
        point = f"U+{ord(character):04X}"
        use = {**USE, "purpose": f"企业开办{character}窗口核验"}
        status, answer = verify(console, running, use=use, query=issued.license_id)
        assert (status, refusal(answer)) == (400, (400, "BAD_CHARACTERS", [("use.purpose", "BAD_CHARACTERS")]))
        assert answer["error"]["violations"][0]["description"] == (
            f"用证事由含有控制字符 {point}（use.purpose contains control characters: {point}）"
        )
    assert record_count(running) == before
    for character in ("\u180e", "\u034f"):
        use = {**USE, "purpose": f"企业开办{character}窗口核验"}
        status, answer = verify(console, running, use=use, query=issued.license_id)
        assert status == 200 and answer["receipt"]["statement"]["purpose"] == use["purpose"]


def test_requests_a_clerk_gets_wrong_are_refused_with_the_field(console: str, running: RunningGateway) -> None:
    token = running.tokens[TAX]
    status, answer = fetch(f"{console}/api/verify", {"use": {**USE, "matter_code": ""}, "query": "x"}, token)
    assert status == 400 and ("use.matter_code", "REQUIRED") in refusal(answer)[2]
    status, answer = fetch(f"{console}/api/verify", {"use": {**USE, "purpose": " "}, "query": "x"}, token)
    assert status == 400 and ("use.purpose", "REQUIRED") in refusal(answer)[2]
    status, answer = fetch(f"{console}/api/verify", {"use": USE}, token)
    assert status == 400 and refusal(answer)[2] == [("query", "ONE_OF")]
    # nothing given is asked for one way, not told to give only one (a Chinese text editor)
    assert answer["error"]["violations"][0]["description"] == (
        "请提供一种核验方式：证照标识、证照编号或核验码，PDF 文件，或二维码图片（give one of query, pdf, qr_image）"
    )
    status, answer = fetch(f"{console}/api/verify", {"use": USE, "query": "x", "pdf": "JVBERg=="}, token)
    assert status == 400 and refusal(answer)[2] == [("query", "ONE_OF")]
    assert answer["error"]["violations"][0]["description"].startswith("请只提供一种核验方式：")
    status, answer = fetch(f"{console}/api/verify", raw=b"{not json", token=token)
    assert status == 400 and refusal(answer)[1] == "MALFORMED_REQUEST"
    status, answer = fetch(f"{console}/api/verify", {"query": "x"}, token)
    assert status == 400 and refusal(answer)[2] == [("use", "REQUIRED")]


def test_a_clerk_signed_in_with_a_token_of_their_own_is_the_operator(console: str, running: RunningGateway) -> None:
    """A clerk's own token (`zzgw console-token USCC --clerk NAME`) names the operator; what the page sends as the
    operator is not looked at. With the department's token the typed name is required."""
    members = running.gateway.members
    token = members.issue_clerk_token(TAX, " 窗口07 赵磊 ")
    assert token.startswith("zzgw-clerk-")
    status, session = fetch(f"{console}/api/session", token=token)
    assert status == 200 and session["member"]["code"] == TAX and session["clerk"] == "窗口07 赵磊"
    assert fetch(f"{console}/api/session", token=running.tokens[TAX])[1]["clerk"] == ""

    license_id = issue(running, 38).license.license_id
    use = {**USE, "operator": "冒名者"}
    status, report = fetch(f"{console}/api/verify", {"use": use, "query": license_id}, token)
    assert status == 200 and report["verdict"] == "PASSED"
    trail = running.gateway.audit
    assert trail is not None
    issuer = running.gateway.authenticator.by_token(running.tokens[MARKET])
    operators = [r.entry.operator for r in trail.list(issuer)[0] if r.entry.license_id == license_id]
    assert operators == ["窗口07 赵磊"]

    status, answer = fetch(f"{console}/api/verify", {"use": {**USE, "operator": " "}, "query": license_id},
                           running.tokens[TAX])  # fmt: skip
    assert status == 400 and refusal(answer)[2] == [("use.operator", "REQUIRED")]

    # a new token ends the one before; an ended token signs no one in (neither was looked up before: no cache)
    first = members.issue_clerk_token(TAX, "窗口08 钱芳")
    second = members.issue_clerk_token(TAX, "窗口08 钱芳")
    assert fetch(f"{console}/api/session", token=first)[0] == 401
    third = members.issue_clerk_token(TAX, "窗口09 孙伟")
    assert {c.clerk for c in members.clerks(TAX)} >= {"窗口07 赵磊", "窗口08 钱芳", "窗口09 孙伟"}
    members.end_clerk_token(TAX, "窗口09 孙伟")
    status, answer = fetch(f"{console}/api/session", token=third)
    assert status == 401 and refusal(answer)[1] == "TOKEN_ENDED"  # ended, not unknown: a new one is needed
    assert "窗口09 孙伟" not in {c.clerk for c in members.clerks(TAX)}
    assert fetch(f"{console}/api/session", token=second)[1]["clerk"] == "窗口08 钱芳"
    with pytest.raises(NotFoundError, match="no console token in force"):
        members.end_clerk_token(TAX, "窗口09 孙伟")
    for bad in ("", "   ", "x" * 65, "窗口\n01"):
        with pytest.raises(InvalidRequestError) as refused:
            members.issue_clerk_token(TAX, bad)
        assert refused.value.reason == "BAD_CLERK"
    spaced = members.issue_clerk_token(TAX, "6号窗口\u3000赵敏")  # typed with a Chinese input method's space
    assert fetch(f"{console}/api/session", token=spaced)[1]["clerk"] == "6号窗口 赵敏"
    with pytest.raises(NotFoundError, match="no member"):
        members.issue_clerk_token("91370100MA3C00000X", "窗口01")


def test_a_photo_larger_than_the_largest_document_is_read_not_refused_unread(
    console: str, running: RunningGateway
) -> None:
    """The page takes a photo of a QR code up to 8 MB, past the 4 MB of a document: such a request is read (here,
    5 MB that are no image) and the photo judged, not refused as a request too large; past 8 MB it is refused."""
    status, answer = verify(console, running, qr_image=base64.b64encode(b"\x00" * 5_000_000).decode())
    assert status == 400 and refusal(answer)[2] == [("qr_image", "NOT_AN_IMAGE")]
    status, answer = verify(console, running, qr_image=base64.b64encode(b"\x00" * (8 * 1024 * 1024 + 1)).decode())
    assert status == 413 and refusal(answer)[1] == "IMAGE_TOO_LARGE"
    wide = io.BytesIO()
    Image.new("1", (8000, 6000)).save(wide, "PNG")  # small in bytes, 48 megapixels
    status, answer = verify(console, running, qr_image=base64.b64encode(wide.getvalue()).decode())
    assert status == 413 and refusal(answer)[1] == "IMAGE_TOO_MANY_PIXELS"
    # a PNG of a hundred bytes whose header claims 10,000 megapixels: the same limit, not the image library's words
    tiny = io.BytesIO()
    Image.new("1", (1, 1)).save(tiny, "PNG")
    header = b"IHDR" + struct.pack(">II", 100_000, 100_000) + tiny.getvalue()[24:29]
    claimed = tiny.getvalue()[:12] + header + struct.pack(">I", zlib.crc32(header)) + tiny.getvalue()[33:]
    status, answer = verify(console, running, qr_image=base64.b64encode(claimed).decode())
    assert status == 413 and refusal(answer)[1] == "IMAGE_TOO_MANY_PIXELS"
    assert "decompression bomb" not in answer["error"]["message"]


def blank_png(width: int, height: int) -> bytes:
    """A valid white 1-bit PNG of ``width`` × ``height``, written by hand: a few KB whatever its size."""
    squeeze = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    per_chunk = max(1, 1_000_000 // len(row))  # rows a call: a row a call had taken 10 s for 40 million rows
    whole, rest = divmod(height, per_chunk)
    chunk = row * per_chunk
    rows = b"".join(squeeze.compress(chunk) for _ in range(whole)) + squeeze.compress(row * rest) + squeeze.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_an_image_within_the_limits_that_the_decoder_cannot_take_is_refused_not_a_defect(
    console: str, running: RunningGateway
) -> None:
    """A strip 65,536 px long, 39 or 40 megapixels and a few KB, had made zxing-cpp raise (its sides are at most
    65,535 px), and a TIFF in a colour mode Pillow cannot make grey (LAB) had made it raise too: each a 500 INTERNAL,
    without ``violations`` (a penetration tester). They are refused as the pixels are, or as an image that cannot be
    read, in the form of every refusal; a side of 65,535 px is decoded."""
    for width, height in ((65_536, 600), (40_000_000, 1), (1, 40_000_000)):
        status, answer = verify(console, running, qr_image=base64.b64encode(blank_png(width, height)).decode())
        assert (status, refusal(answer)) == (413, (413, "IMAGE_TOO_MANY_PIXELS", [])), (width, height)
        said = f"图片过宽或过高（{width}×{height}，每边最多 65,535 像素）"
        assert answer["error"]["message"].startswith(said), answer
    status, answer = verify(console, running, qr_image=base64.b64encode(blank_png(65_535, 600)).decode())
    assert status == 400 and refusal(answer)[2] == [("qr_image", "NO_QR_CODE")]
    lab = io.BytesIO()
    Image.new("LAB", (300, 300)).save(lab, "TIFF")
    status, answer = verify(console, running, qr_image=base64.b64encode(lab.getvalue()).decode())
    assert status == 400 and refusal(answer)[2] == [("qr_image", "NOT_AN_IMAGE")]


def test_a_qr_photo_is_read_only_as_png_jpeg_webp_bmp_or_tiff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow opens dozens of formats, EPS among them by running Ghostscript on the upload were it installed (a
    penetration tester): a photo is read only by the parsers of the kinds phones, scanners and screenshots make, and
    any other kind, here a QR code as GIF, TGA or PCX that Pillow would decode, is refused unread; an EPS never
    reaches its parser."""
    from PIL import EpsImagePlugin

    code = "HTTPS://WWW.EXAMPLE.COM/"
    picture = Image.open(io.BytesIO(qr_png(code, scale=3))).convert("RGB")

    def saved(kind: str) -> bytes:
        out = io.BytesIO()
        picture.save(out, kind)
        return out.getvalue()

    for kind in ("PNG", "JPEG", "WEBP", "BMP", "TIFF"):
        assert license_codes.decode_qr_image(saved(kind)) == code, kind
    for kind in ("GIF", "TGA", "PCX"):
        with pytest.raises(InvalidRequestError) as refused:
            license_codes.decode_qr_image(saved(kind))
        assert [(v.field, v.reason) for v in refused.value.violations] == [("qr_image", "NOT_AN_IMAGE")], kind
        assert refused.value.violations[0].description.startswith(
            "无法读取该图片，请用 PNG、JPEG、WebP、BMP 或 TIFF 图片"
        ), kind
    parsed: list[bytes] = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda image: parsed.append(b"eps") or 1 / 0)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(InvalidRequestError):
        license_codes.decode_qr_image(eps)
    assert parsed == []


def test_a_request_larger_than_any_document_is_refused_before_it_is_read(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_module, "MAX_QR_IMAGE_BYTES", 20_000)  # the largest file taken: the document here
    backend = dataclasses.replace(console_backend(running.gateway), max_document_bytes=30_000)
    http = HttpServer(HttpApp(timestamp=None, crl=None, console=Console(backend)), "127.0.0.1:0")
    http.start()
    try:
        url = f"http://127.0.0.1:{http.port}/console"
        pdf = base64.b64encode(b"%PDF" + b"0" * 20_000).decode()
        status, answer = verify(url, running, pdf=pdf)  # under the limit: read, and found no PDF
        assert status == 400 and refusal(answer)[0:2] == (400, "NOT_A_PDF")
        status, answer = verify(url, running, pdf=base64.b64encode(b"%PDF" + b"0" * 29_000).decode() * 4)
        assert status == 413 and refusal(answer)[1] == "REQUEST_TOO_LARGE"
        huge = {"use": USE, "pdf": base64.b64encode(b"%PDF" + b"0" * 29_000).decode() * 4}
        status, answer = fetch(f"{url}/api/verify", huge, "not-a-token")  # credentials first, as for any request
        assert status == 401 and refusal(answer)[1] == "UNKNOWN_CREDENTIAL"
        status, answer = verify(url, running, pdf=base64.b64encode(b"%PDF" + b"0" * 31_000).decode())
        assert status == 413 and refusal(answer)[1] == "PDF_TOO_LARGE"
    finally:
        http.stop()


def test_a_request_of_more_keys_and_values_than_any_call_takes_is_refused_before_it_is_parsed(
    console: str, running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body of a great many values within the byte limit (``{"x": [{}, {}, …]}``, 11 MB) had been parsed whole and
    then walked for lone surrogates, a path string built for each value: about 750 MB and 6.5 s for one request, 2 GB
    for three at once (a reviewer, R1). More keys and values than any call takes (1,000) is 413 /
    ``REQUEST_TOO_LARGE`` naming the limit, before the body is parsed; 1,000 are read and answered by what they say.
    Keys count (a key is a string), what a string holds does not (its commas, colons, brackets and quotes)."""
    parsed: list[int] = []  # the sizes of the texts parsed as JSON, in this process
    loads = json.loads
    monkeypatch.setattr(json, "loads", lambda text, **kw: parsed.append(len(text)) or loads(text, **kw))
    walked: list[object] = []  # the requests walked for lone surrogates
    lone = console_module._lone_surrogate
    monkeypatch.setattr(console_module, "_lone_surrogate", lambda request: walked.append(request) or lone(request))
    token = running.tokens[TAX]
    # 13 keys and values besides the list's items: the request, its 3 keys, ``use`` with 3 keys and 3 values, the
    # query and the list itself
    for items in ([0] * 987, ["a"] * 987, [{}] * 987, [[]] * 987, [True, None, -1.5e3, "b"] * 246 + ["c"] * 3):
        for more, answered in ((0, (400, "REQUIRED")), (1, (413, "REQUEST_TOO_LARGE"))):
            body = {"use": USE, "query": "x", "x": items + [7] * more}
            status, answer = fetch(f"{console}/api/verify", body, token)
            assert (status, answer["error"]["reason"]) == answered, (items[:2], more, answer)
            if more:
                message = answer["error"]["message"]
                assert message == "请求中的键和值超过1,000个（the request holds more than 1,000 keys and values）"
                assert not answer["error"]["violations"]
    keys = {"use": USE, "query": "x", **{f"k{n}": n for n in range(500)}}  # 1,011 keys and values
    status, answer = fetch(f"{console}/api/verify", keys, token)
    assert (status, answer["error"]["reason"]) == (413, "REQUEST_TOO_LARGE"), answer
    # what strings hold is not counted: the query is read, and refused for its length
    words = "," * 2000 + ":[{" * 2000 + '\\",' * 2000
    status, answer = fetch(f"{console}/api/verify", {"use": USE, "query": words}, token)
    assert (status, refusal(answer)[2]) == (400, [("query", "TOO_LONG")]), answer
    # the reviewer's 11 MB of empty objects, to each call: refused unparsed, not walked
    parsed.clear()
    walked.clear()
    for call, size in (("verify", 11_000_000), ("check-claim", 1_000_000), ("receipt", 1_000_000)):
        huge = b'{"use": ' + json.dumps(USE).encode() + b', "query": "x", "x": [' + b"{}," * (size // 3) + b"{}]}"
        status, answer = fetch(f"{console}/api/{call}", raw=huge, token=token)
        assert (status, answer["error"]["reason"]) == (413, "REQUEST_TOO_LARGE"), (call, answer)
        assert "1,000" in answer["error"]["message"]
    assert walked == [] and all(size < 10_000 for size in parsed), parsed  # only the answers, each small


def test_each_console_call_has_its_own_byte_limit(console: str, running: RunningGateway) -> None:
    """Only ``verify`` takes a file as large as a PDF or a QR photo (about 11 MB in base64): the other calls had the
    same limit (a reviewer, R1). ``case-receipts`` takes 64 KiB; ``check-claim`` and ``receipt`` 1 MiB, room for a
    claim's 50 fields of 2,000 characters each written as a ``\\uXXXX`` escape, and for a receipt file (256 KiB) with
    its escapes. A request past its call's limit is 413 / ``REQUEST_TOO_LARGE`` naming that limit."""
    token = running.tokens[TAX]
    host, port = console.removeprefix("http://").split("/")[0].rsplit(":", 1)
    use = {**USE, "bundle_code": QYKB, "case_id": "QYKB-" + uuid.uuid4().hex[:10]}
    listing = json.dumps({"use": use, "page_token": ""})
    at_limit = {"use": use, "page_token": "p" * (65_536 - len(listing))}  # 65,536 bytes as json.dumps writes it
    for call, limit, body in (
        ("case-receipts", "65,536", {**at_limit, "page_token": at_limit["page_token"] + "p"}),
        ("check-claim", "1,048,576", {"use": USE, "type_code": BUSINESS_LICENSE, "fields": {"a": "长" * 180_000}}),
        ("receipt", "1,048,576", {"receipt_id": "", "file": "{" + " " * 1_050_000 + "}", "operator": "窗口"}),
    ):
        # its head states its length: refused at once, the body unread (so it is not sent)
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            status, _, reply = exchange(sock, post_head(f"/console/api/{call}", len(json.dumps(body)), token))
        answer = json.loads(reply)
        assert (status, answer["error"]["reason"]) == (413, "REQUEST_TOO_LARGE"), (call, answer)
        assert answer["error"]["message"] == (
            f"请求超过{limit}字节，文件过大（the request is larger than {limit} bytes）"
        ), answer
    # at their limits, or past another call's, each is read and answered by what it says
    assert len(json.dumps(at_limit)) == 65_536
    status, answer = fetch(f"{console}/api/case-receipts", at_limit, token)
    assert (status, refusal(answer)[1]) == (400, "BAD_PAGE_TOKEN"), answer
    status, answer = fetch(f"{console}/api/verify", {"use": USE, "query": "p" * 1_100_000}, token)
    assert (status, refusal(answer)[2]) == (400, [("query", "TOO_LONG")]), answer
    # the largest claim CheckClaim takes, sent as Python's json writes it (each character a 6-byte escape), is read
    issued = issue(running, 91, samples.business_license).license
    fields = {f"{n:02d}" + "k" * 62: "长" * 2000 for n in range(50)}
    claim = {"type_code": issued.type_code, "holder_code": issued.holder.code, "license_number": issued.license_number}
    status, answer = fetch(f"{console}/api/check-claim", {"use": USE, **claim, "fields": fields}, token)
    assert len(json.dumps({"use": USE, **claim, "fields": fields})) > 600_000
    assert status != 413 and refusal(answer)[1] != "REQUEST_TOO_LARGE", answer
    # and a genuine receipt file, its text escaped as JSON
    report = verify(console, running, query=issued.license_id)[1]
    status, answer = fetch(f"{console}/api/receipt", {"file": report["receipt"]["file"], "operator": "窗口"}, token)
    assert status == 200 and answer["check"]["result"] == "PASSED", answer


def test_each_call_has_an_access_log_line_without_its_content(
    console: str, running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    license_id = issue(running, 37).license.license_id
    caplog.set_level(logging.INFO, logger="zzgw.access")
    assert verify(console, running, query=license_id)[0] == 200
    assert verify(console, running, use=USE)[0] == 400
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "zzgw.access"]
    assert [(x["method"], x["member"], x["status"], x["reason"]) for x in lines[-2:]] == [
        ("POST /console/api/verify", TAX, 200, ""),
        ("POST /console/api/verify", TAX, 400, "ONE_OF"),
    ]
    logged = caplog.text
    assert license_id not in logged and USE["purpose"] not in logged and USE["operator"] not in logged
    # the peer is the connection's: a local client's X-Forwarded-For had been written as the peer, whatever it said
    headers = {"Authorization": f"Bearer {running.tokens[TAX]}", "X-Forwarded-For": "370102196002070010"}
    with urllib.request.urlopen(urllib.request.Request(f"{console}/api/session", headers=headers), timeout=30):
        pass
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "zzgw.access"][-1:]
    assert line["method"] == "GET /console/api/session" and line["peer"].startswith("127.0.0.1:")
    assert "370102196002070010" not in caplog.text


def test_an_answer_the_server_makes_names_the_member_whose_call_it_was(
    console: str, running: RunningGateway, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal after the token was recognised, and a defect's 500, name the member in the access log (they had
    named nobody), so that an operator looking into a clerk's complaint finds the department. A sign-in refused so
    too: it had named nobody still (a reviewer, R4)."""
    caplog.set_level(logging.INFO, logger="zzgw.access")
    status, answer = fetch(f"{console}/api/session", token=running.tokens[PORTAL])
    assert status == 403 and refusal(answer)[1] == "ROLE_NOT_ALLOWED"
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "zzgw.access"][-1:]
    assert (line["method"], line["member"], line["status"], line["reason"]) == (
        "GET /console/api/session",
        PORTAL,
        403,
        "ROLE_NOT_ALLOWED",
    )
    status, answer = verify(console, running, PORTAL, query="x")
    assert status == 403 and refusal(answer)[1] == "ROLE_NOT_ALLOWED"
    assert answer["error"]["message"].startswith("济南市数字政务服务中心无权调用 VerifyLicense（")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a defect")

    monkeypatch.setattr(running.gateway.verification, "verify_license", broken)
    status, answer = verify(console, running, query=issue(running, 36).license.license_id)
    assert (status, refusal(answer)) == (500, (500, "INTERNAL", []))  # in the form of every error: violations too
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "zzgw.access"]
    lines = [line for line in lines if line["method"].startswith("POST /console/")]  # not the gRPC issue's
    assert [(x["member"], x["status"], x["reason"]) for x in lines[-2:]] == [
        (PORTAL, 403, "ROLE_NOT_ALLOWED"),
        (TAX, 500, "INTERNAL"),
    ]


def test_a_case_list_shows_each_license_holder_from_the_registry(console: str, running: RunningGateway) -> None:
    """Two companies' 营业执照 verified in one case (a mistyped case number, or another applicant's license): each
    listed receipt comes with its license's holder from the registry, as 查验回执 shows it, to hold against the
    applicant; an administrator, who reads no personal data, is given none (a reviewer, R4)."""
    licenses = [issue(running, n).license for n in (39, 40)]
    bundle = {"bundle_code": QYKB, "case_id": "QYKB-" + uuid.uuid4().hex[:10]}
    first = {"matter_code": QYKZ, "purpose": "企业开办：刻制公章", "operator": "公安窗口01", **bundle}
    for license in licenses:
        assert verify(console, running, POLICE, query=license.license_id, use=first)[0] == 200
    later = {"matter_code": FPSL, "purpose": "企业开办：发票申领", "operator": "税务窗口02", **bundle}
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[TAX])
    assert status == 200
    assert [(r["license_id"], r["holder"]) for r in answer["receipts"]] == [
        (
            license.license_id,
            {
                "holder_name_masked": license.holder.name,  # a company's: public registration, whole
                "holder_code_masked": license.holder.code,
                "holder_in_full": True,
                "holder_code_type": "001",
            },
        )
        for license in licenses
    ]
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[ADMIN])
    assert status == 200 and [r["holder"] for r in answer["receipts"]] == [None, None]


def test_an_administrator_looking_a_receipt_up_is_shown_no_holder(console: str, running: RunningGateway) -> None:
    """The case list gave the 大数据局 (ADMIN alone) no holder, "an administrator reads no personal data", but its
    look-up of the same receipt by number (查验回执) gave the holder, a person's masked name and code, a company's whole
    (a reviewer, security R4): no holder there either; the standing now, which names no one, is given as before."""
    licenses = [issue(running, 46).license]  # a 营业执照, which 刻制公章 (the police clerk's matter) uses
    for license in licenses:
        use = {"matter_code": QYKZ, "purpose": "企业开办：刻制公章", "operator": "公安窗口01"}
        status, report = verify(console, running, POLICE, query=license.license_id, use=use)
        assert status == 200 and report["verdict"] == "PASSED", report
        receipt_id, file = report["receipt"]["receipt_id"], report["receipt"]["file"]
        for request in ({"receipt_id": receipt_id}, {"file": file}):
            status, answer = fetch(f"{console}/api/receipt", {**request, "operator": "窗口"}, running.tokens[POLICE])
            assert status == 200 and answer["holder"]["holder_code_masked"] == license.holder.code, answer
            status, answer = fetch(f"{console}/api/receipt", {**request, "operator": "管理员"}, running.tokens[ADMIN])
            assert status == 200 and answer["holder"] is None, answer
            assert answer["standing_now"] == {"result": "PASSED", "reason": "", "detail": ""}, answer
            assert license.holder.name not in json.dumps(answer, ensure_ascii=False)


def test_a_newborns_code_is_hidden_whole_beside_the_birth_certificates_valid_from(
    console: str, running: RunningGateway
) -> None:
    """A 出生医学证明 is issued at birth, and its ``valid_from`` (the birth date, or days after) was shown beside the
    child's code masked to its city and last four, which with it gave the number back (a reviewer, prefill R1): in the
    verification's summary, a receipt looked up and a case's listing the code keeps no character."""
    mother, father = parents()
    license_id, child = certificate(running, mother, father)
    case = {"bundle_code": XSECS, "case_id": "XSECS-" + uuid.uuid4().hex[:10]}
    use = {"matter_code": CBDJ, "purpose": "新生儿出生一件事：城乡居民医保参保登记", "operator": "医保窗口01", **case}
    status, report = verify(console, running, MEDICAL, query=license_id, use=use)
    assert status == 200 and report["verdict"] == "PASSED", report
    assert report["license"]["valid_from"] == f"{child[6:10]}-{child[10:12]}-{child[12:14]}"
    assert holder_of(report["license"]) == (mask_name("张小明"), "*" * 18, False)
    hidden = {
        "holder_name_masked": mask_name("张小明"),
        "holder_code_masked": "*" * 18,
        "holder_in_full": False,
        "holder_code_type": "111",
    }
    request = {"receipt_id": report["receipt"]["receipt_id"], "operator": "户籍窗口"}
    status, answer = fetch(f"{console}/api/receipt", request, running.tokens[POLICE])
    assert status == 200 and answer["holder"] == hidden, answer
    later = {"matter_code": CSDJ, "purpose": "新生儿出生一件事：出生登记", "operator": "户籍窗口", **case}
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[POLICE])
    assert status == 200 and [r["holder"] for r in answer["receipts"]] == [hidden], answer


def test_a_later_department_of_a_case_lists_the_receipts_it_can_rely_on(console: str, running: RunningGateway) -> None:
    """企业开办: the 公安局's clerk verifies the 营业执照 for 印章刻制; the tax bureau's clerk (发票申领, same case)
    finds that receipt instead of asking for the paper again (首办核验、接办免收)."""
    license_id = issue(running, 38).license.license_id
    case = "QYKB-" + uuid.uuid4().hex[:10]
    first = {"matter_code": QYKZ, "purpose": "企业开办：刻制公章", "operator": "公安窗口01"}
    bundle = {"bundle_code": QYKB, "case_id": case}
    status, report = verify(console, running, POLICE, query=license_id, use={**first, **bundle})
    assert status == 200 and report["verdict"] == "PASSED"
    later = {"matter_code": FPSL, "purpose": "企业开办：发票申领", "operator": "税务窗口02", **bundle}
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[TAX])
    assert status == 200 and answer["next_page_token"] == ""
    (listed,) = answer["receipts"]
    assert listed["receipt_id"] == report["receipt"]["receipt_id"]
    assert (listed["caller"], listed["caller_name"], listed["matter_name"]) == (POLICE, "济南市公安局", "企业印章刻制")
    assert (listed["license_id"], listed["type_name"], listed["verdict"]) == (license_id, "营业执照", "PASSED")
    assert listed["standing_now"] == {"result": "PASSED", "reason": "", "detail": ""}
    statement = receipt_statement(running, read_receipt(listed["file"].encode()))  # checks offline
    assert (statement["case_id"], statement["caller"]) == (case.upper(), POLICE)  # kept as a license number is
    # only the department handling the named matter reads the case (the refusal is on the audit trail); a case is
    # named by bundle and case id
    status, answer = fetch(f"{console}/api/case-receipts", {"use": {**later, "operator": case}}, running.tokens[POLICE])
    assert status == 403 and refusal(answer)[1] == "NOT_MATTER_DEPARTMENT"
    assert trail_rows(running, "caller, action, matter_code, decision, reason", "operator = :case", case=case) == [
        (POLICE, AuditAction.LIST_CASE_RECEIPTS.value, FPSL, "DENIED", "NOT_MATTER_DEPARTMENT")
    ]
    status, answer = fetch(f"{console}/api/case-receipts", {"use": USE}, running.tokens[TAX])
    assert status == 400 and refusal(answer)[2] == [("use.case_id", "REQUIRED")]
    # a bundle chosen and no case number: BAD_CASE_ID (1-64 characters), which the page says as 请填写办件编号
    status, answer = verify(console, running, query=license_id, use={**USE, "bundle_code": QYKB, "case_id": ""})
    assert status == 400 and refusal(answer)[2] == [("use.case_id", "BAD_CASE_ID")]

    # revoked since the earlier check: the receipt still says PASSED (then), its license's standing now says REVOKED
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[TAX])
    (listed,) = answer["receipts"]
    assert status == 200 and listed["verdict"] == "PASSED"
    assert (listed["standing_now"]["result"], listed["standing_now"]["reason"]) == ("FAILED", "REVOKED")
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later}, running.tokens[PORTAL])
    assert status == 403 and refusal(answer)[1] == "ROLE_NOT_ALLOWED"


def test_a_receipt_file_nested_too_deep_is_judged_invalid_not_a_500(
    console: str, running: RunningGateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A receipt file whose statement nests 30 000 arrays deep, signed by anyone's key, had made the parser raise
    RecursionError: 查验回执 answered HTTP 500 INTERNAL with a traceback in the log (a receipts reviewer, R2). It is
    judged as receipts.md says of a statement that is not canonical JSON: invalid, SIGNATURE_INVALID, nothing of it
    repeated, and not the archive's."""
    from tests.adapters.test_receipt_check_cli import nested, own_receipts

    _, sign = own_receipts(tmp_path)
    file = sign("deep", nested("deep", 30_000)).read_text(encoding="utf-8")
    with caplog.at_level(logging.ERROR):
        status, answer = fetch(f"{console}/api/receipt", {"file": file, "operator": "税务窗口"}, running.tokens[TAX])
    assert status == 200, answer
    assert (answer["check"]["result"], answer["check"]["reason"]) == ("FAILED", "SIGNATURE_INVALID")
    assert "nests deeper than 64" in answer["check"]["detail"]
    assert (answer["statement"], answer["archived"]) == (None, "MISSING")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_receipt_is_looked_up_by_its_number_or_its_file_and_checked_again(
    console: str, running: RunningGateway
) -> None:
    """A printed receipt says it can be looked up by its number (可凭回执编号向网关查询): a later department looks up
    the 公安局's receipt by number, or checks the file it was handed. The signature is checked again (a receipt
    changed in the archive or in the file fails, and what it says is not repeated), and the file is held against the
    archive."""
    license_id = issue(running, 39).license.license_id
    use = {"matter_code": QYKZ, "purpose": "企业开办：刻制公章", "operator": "公安窗口01"}
    status, report = verify(console, running, POLICE, query=license_id, use=use)
    assert status == 200 and report["verdict"] == "PASSED"
    receipt_id, file = report["receipt"]["receipt_id"], report["receipt"]["file"]

    def look_up(**request: str) -> tuple[int, Any]:
        return fetch(f"{console}/api/receipt", {**request, "operator": "税务窗口"}, running.tokens[TAX])

    passed = {"result": "PASSED", "reason": "", "detail": ""}
    grouped = " ".join(receipt_id[i : i + 4] for i in range(0, 32, 4)).upper()  # as a clerk types it from paper
    typed = ({"receipt_id": f"  {receipt_id} "}, {"receipt_id": grouped}, {"receipt_id": grouped.replace(" ", "-")})
    for request in ({"receipt_id": receipt_id}, *typed, {"file": file}):
        status, answer = look_up(**request)
        assert status == 200, answer
        assert (answer["receipt_id"], answer["check"], answer["archived"]) == (receipt_id, passed, "SAME")
        said = answer["statement"]
        assert (said["caller"], said["matter_code"], said["verdict"]) == (POLICE, QYKZ, "PASSED")
        assert said["license"]["license_id"] == license_id
        assert (answer["caller_name"], answer["matter_name"]) == ("济南市公安局", "企业印章刻制")
        assert (answer["type_name"], answer["issuer_name"]) == ("营业执照", "济南市市场监督管理局")
        assert answer["file"] == file  # the same file, with the certificate that signed it

    # a file whose statement was edited: its signature fails, nothing it says is repeated, the archive differs
    given = read_receipt(file.encode())
    edited = verification_pb2.Receipt()
    edited.CopyFrom(given)
    edited.statement = given.statement.replace(b'"PASSED"', b'"FAILED"', 1)
    status, answer = look_up(file=console_module.receipt_json(edited))
    assert status == 200 and answer["check"]["result"] == "FAILED"
    assert (answer["check"]["reason"], answer["archived"], answer["statement"]) == (
        "SIGNATURE_INVALID",
        "DIFFERENT",
        None,
    )
    # one that names a receipt the archive does not hold
    edited.CopyFrom(given)
    edited.receipt_id = "0" * 32
    status, answer = look_up(file=console_module.receipt_json(edited))
    assert status == 200 and (answer["check"]["reason"], answer["archived"]) == ("RECEIPT_ID_MISMATCH", "MISSING")
    assert answer["statement"] is None
    # one whose id was changed in case only: the archive finds the number, but the file is not its receipt (review)
    edited.CopyFrom(given)
    edited.receipt_id = given.receipt_id.upper()
    status, answer = look_up(file=console_module.receipt_json(edited))
    assert status == 200 and (answer["check"]["reason"], answer["archived"]) == ("RECEIPT_ID_MISMATCH", "DIFFERENT")

    # one whose certificate had a byte changed (its version, which cryptography will not load): unreadable, and not
    # the archive's receipt, though statement and signature are
    edited.CopyFrom(given)
    edited.certificate = given.certificate.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020103"), 1)
    assert edited.certificate != given.certificate
    status, answer = look_up(file=console_module.receipt_json(edited))
    assert status == 200 and (answer["check"]["reason"], answer["archived"]) == ("CERTIFICATE_UNREADABLE", "DIFFERENT")

    # the archive's copy changed behind the gateway's back: looked up by number, it fails too
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE receipts SET statement = :s WHERE receipt_id = :id"),
            {"s": given.statement.replace("刻制公章".encode(), "刻制印章".encode()), "id": receipt_id},
        )
    status, answer = look_up(receipt_id=receipt_id)
    assert status == 200 and (answer["check"]["result"], answer["check"]["reason"]) == ("FAILED", "SIGNATURE_INVALID")
    assert answer["statement"] is None and answer["caller_name"] == ""
    status, answer = look_up(file=file)  # the genuine file still checks, and no longer matches the archive
    assert status == 200 and (answer["check"], answer["archived"]) == (passed, "DIFFERENT")

    status, answer = look_up(receipt_id="0" * 32)
    assert status == 404 and refusal(answer)[1] == "RECEIPT_NOT_FOUND"
    assert answer["error"]["message"] == "没有这个编号的回执（no such receipt）"
    # not a receipt's number at all (copied short, a license's identifier): said so, with what one looks like
    status, answer = look_up(receipt_id=receipt_id[:8] + " " + receipt_id[8:30])
    assert status == 404 and refusal(answer)[1] == "RECEIPT_NOT_FOUND"
    assert answer["error"]["message"].startswith("没有这个编号的回执：回执编号是32位数字和字母a-f，所填的有30位（")
    status, answer = look_up(receipt_id=receipt_id, file=file)
    assert status == 400 and refusal(answer)[2] == [("receipt_id", "ONE_OF")]
    assert answer["error"]["message"].startswith("receipt_id: 请只填写回执编号或只选择回执文件（")
    status, answer = look_up()
    assert status == 400 and refusal(answer)[2] == [("receipt_id", "ONE_OF")]
    assert answer["error"]["message"].startswith("receipt_id: 请填写回执编号或选择回执文件（")
    # a proof given as null is no proof, the first form, as receipts.md says: judged, not refused (it had been
    # NOT_A_RECEIPT, a receipts tester); this receipt is of a batch, so without its proof its signature fails
    nulled = {**json.loads(file), "proof": None}
    status, answer = look_up(file=json.dumps(nulled))
    assert status == 200 and (answer["check"]["reason"], answer["archived"]) == ("SIGNATURE_INVALID", "DIFFERENT")
    status, answer = look_up(file='{"receiptId": "x"}')
    assert status == 400 and refusal(answer)[2] == [("file", "NOT_A_RECEIPT")]
    assert "the receipt has no statement, signature" in answer["error"]["violations"][0]["description"]
    # GetReceipt's roles: a holder portal fetches a receipt its holder's access log names (3af89cc), here as on gRPC,
    # with no clerk's name: a portal has no clerk (a reviewer: the look-up had been refused without one)
    status, answer = fetch(f"{console}/api/receipt", {"receipt_id": receipt_id}, running.tokens[PORTAL])
    assert status == 200 and answer["receipt_id"] == receipt_id


def test_a_receipt_looked_up_comes_with_its_licenses_standing_now_for_a_department_that_uses_its_type(
    console: str, running: RunningGateway
) -> None:
    """A receipt of a license revoked since had been answered with what it said then alone, 当时核验通过 (a clerk
    tester): it comes with the license's standing now, as a case's listing gives it, by number and as a file; one
    amended since names the version in force. A department none of whose matters uses the type (the 不动产登记中心
    and a 营业执照) is not told it (ADR 0012), nor of a forged receipt, nor of a claim's, which names no license."""
    company = issue(running, 43, samples.business_license).license
    license_id = company.license_id
    use = {"matter_code": QYKZ, "purpose": "企业开办：刻制公章", "operator": "公安窗口01"}
    status, report = verify(console, running, POLICE, query=license_id, use=use)
    assert status == 200 and report["verdict"] == "PASSED"
    receipt_id, file = report["receipt"]["receipt_id"], report["receipt"]["file"]
    # with it, whose license it is, as a verification shows it (a receipt names no holder: a receipts tester), to the
    # departments whose matters use the type only
    held = {
        "holder_name_masked": company.holder.name,
        "holder_code_masked": company.holder.code,
        "holder_in_full": True,
        "holder_code_type": "001",
    }
    for member, holder in ((TAX, held), (LAND, None)):
        for request in ({"receipt_id": receipt_id}, {"file": file}):
            status, answer = fetch(f"{console}/api/receipt", {**request, "operator": "窗口"}, running.tokens[member])
            assert status == 200 and answer["holder"] == holder, answer

    def standing(member: str = TAX, **request: str) -> tuple[Any, str]:
        status, answer = fetch(f"{console}/api/receipt", {**request, "operator": "窗口"}, running.tokens[member])
        assert status == 200, answer
        return answer["standing_now"], answer["current_license_id"]

    assert standing(receipt_id=receipt_id) == ({"result": "PASSED", "reason": "", "detail": ""}, "")
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    for request in ({"receipt_id": receipt_id}, {"file": file}):
        now, current = standing(**request)
        assert (now["result"], now["reason"], current) == ("FAILED", "REVOKED", "")
        assert now["detail"].startswith("证照已吊销或撤销")
    assert standing(LAND, receipt_id=receipt_id) == (None, "")  # 不动产转移登记 uses no 营业执照
    given = read_receipt(file.encode())
    given.statement = given.statement.replace(b'"PASSED"', b'"FAILED"', 1)
    assert standing(file=console_module.receipt_json(given)) == (None, "")  # forged: nothing of its license

    issued = issue(running, 44, samples.business_license).license
    amended = issued.license_id
    status, report = verify(console, running, POLICE, query=amended, use=use)
    new = amend(running, amended, "李四")
    now, current = standing(receipt_id=report["receipt"]["receipt_id"])
    assert (now["result"], now["reason"], current) == ("PASSED", "AMENDED_SINCE", new)

    status, claimed = fetch(
        f"{console}/api/check-claim",
        {
            "use": use,
            "type_code": BUSINESS_LICENSE,
            "holder_code": issued.holder.code,
            "license_number": issued.license_number,
        },
        running.tokens[POLICE],
    )
    assert status == 200, claimed
    assert standing(receipt_id=claimed["receipt"]["receipt_id"]) == (None, "")


def test_a_receipt_looked_up_is_on_its_holders_log_with_the_clerk_who_looked(
    console: str, running: RunningGateway
) -> None:
    """回执查询 reads what a check found of the holder's license: the holder's log shows the department and the clerk
    (the name typed at sign-in, or the one a clerk's own token names, whatever the page sends), by number or by a
    file the archive holds; an operator that is not printable is refused, as at sign-in. With the department's
    token a name is required, as at every other call (found in review, R2: a look-up without one was answered with
    the holder and the license's standing, and logged naming no one). A holder portal's look-up is its holder's own,
    on no log, and needs none, as at gRPC's GetReceipt (a reviewer: it had been refused, in words for a department)."""
    lic = issue(running, 41).license
    status, report = verify(console, running, query=lic.license_id, use={**USE, "operator": "窗口02"})
    assert status == 200
    receipt_id, file = report["receipt"]["receipt_id"], report["receipt"]["file"]
    url = f"{console}/api/receipt"
    for unnamed in ({"receipt_id": receipt_id}, {"file": file}, {"receipt_id": receipt_id, "operator": " \u3000"}):
        status, answer = fetch(url, unnamed, running.tokens[TAX])
        assert (status, refusal(answer)) == (400, (400, "REQUIRED", [("operator", "REQUIRED")])), answer
        assert "请填写核验人姓名或工号" in answer["error"]["message"] and "holder" not in answer
    assert fetch(url, {"receipt_id": receipt_id, "operator": "3号窗口　王敏"}, running.tokens[TAX])[0] == 200
    token = running.gateway.members.issue_clerk_token(TAX, "窗口07 赵磊")
    assert fetch(url, {"file": file, "operator": "冒名者"}, token)[0] == 200
    assert fetch(url, {"receipt_id": receipt_id}, token)[0] == 200  # a clerk's own token names the clerk itself
    for unnamed in ({"receipt_id": receipt_id}, {"file": file}):
        status, answer = fetch(url, unnamed, running.tokens[PORTAL])
        assert status == 200 and answer["receipt_id"] == receipt_id, answer
    status, answer = fetch(url, {"receipt_id": receipt_id, "operator": "窗口\n01"}, running.tokens[TAX])
    assert status == 400 and refusal(answer)[2] == [("x-zzgw-operator", "BAD_OPERATOR")]
    trail = running.gateway.audit
    assert trail is not None
    issuer = running.gateway.authenticator.by_token(running.tokens[MARKET])
    reads = [
        (r.entry.caller, r.entry.operator, r.entry.receipt_id, r.entry.holder_code)
        for r in reversed(trail.list(issuer)[0])
        if r.entry.license_id == lic.license_id and r.entry.action is AuditAction.GET_RECEIPT
    ]
    assert reads == [
        (TAX, "3号窗口 王敏", receipt_id, lic.holder.code),
        (TAX, "窗口07 赵磊", receipt_id, lic.holder.code),
        (TAX, "窗口07 赵磊", receipt_id, lic.holder.code),
    ]


def signed_but_not_archived(running: RunningGateway, file: str) -> verification_pb2.Receipt:
    """A receipt as the gateway signs one, that its archive lacks: ``file``'s statement under a new receipt id, signed
    with the gateway's receipt key and certificate, as a receipt made after the backup a store was restored from is
    (the restore loses it from the archive, and the applicant still holds its file)."""
    from signing.canonical import canonical_json
    from signing.receipts import sign_receipts

    given = read_receipt(file.encode())
    statement = {**json.loads(given.statement), "receipt_id": uuid.uuid4().hex}
    assert running.gateway.verification is not None
    key = running.gateway.verification._receipt_key
    (signed,) = sign_receipts(key.key, [canonical_json(statement)])
    return verification_pb2.Receipt(
        receipt_id=statement["receipt_id"],
        statement=signed.statement,
        signature=signed.signature,
        proof=signed.proof,
        algorithm=signed.algorithm,
        certificate=key.certificate_der,
    )


def test_a_receipt_file_the_archive_lacks_shows_no_holder_and_no_standing(
    console: str, running: RunningGateway
) -> None:
    """A genuine receipt the archive does not hold (made after the backup a store was restored from; signed with
    the gateway's key) checks valid and is flagged as missing from the archive: its look-up names no license on any
    log, so neither the license's holder nor its standing now is given (a receipts reviewer, R3); the archive's own
    file gives both."""
    lic = issue(running, 77, samples.business_license).license
    status, report = verify(console, running, query=lic.license_id, use={**USE, "operator": "窗口02"})
    assert status == 200
    lost = signed_but_not_archived(running, report["receipt"]["file"])
    url = f"{console}/api/receipt"
    status, answer = fetch(
        url, {"file": console_module.receipt_json(lost), "operator": "税务窗口"}, running.tokens[TAX]
    )
    assert status == 200
    assert (answer["check"]["result"], answer["archived"]) == ("PASSED", "MISSING_SIGNED_HERE")
    assert (answer["holder"], answer["standing_now"], answer["current_license_id"]) == (None, None, "")
    trail = running.gateway.audit
    assert trail is not None
    issuer = running.gateway.authenticator.by_token(running.tokens[MARKET])
    reads = [
        r.entry.receipt_id
        for r in trail.list(issuer)[0]
        if r.entry.license_id == lic.license_id and r.entry.action is AuditAction.GET_RECEIPT
    ]
    assert reads == []  # no read of the holder's license was recorded, and none was given

    status, answer = fetch(url, {"file": report["receipt"]["file"], "operator": "税务窗口"}, running.tokens[TAX])
    assert status == 200 and answer["archived"] == "SAME"
    assert answer["holder"]["holder_code_masked"] == lic.holder.code and answer["standing_now"]["result"] == "PASSED"


def test_a_receipt_signed_here_that_the_archive_lacks_is_not_called_forged(
    console: str, running: RunningGateway
) -> None:
    """After a restore, a receipt made since the backup's copy is lost from the archive while its file still checks
    under this gateway's own receipt certificate: the console had flagged it ``MISSING``, which the page says as
    它不是本网关出具的，或是伪造的, though this gateway signed it (a reviewer, R2). It is ``MISSING_SIGNED_HERE`` now:
    signed here, not in the archive. A file the archive lacks whose signature does not check, or is another
    certificate's, is ``MISSING`` still."""
    lic = issue(running, 78, samples.business_license).license
    status, report = verify(console, running, query=lic.license_id, use={**USE, "operator": "窗口02"})
    assert status == 200
    lost = signed_but_not_archived(running, report["receipt"]["file"])

    def look_up(receipt: verification_pb2.Receipt) -> tuple[str, str, str]:
        file = console_module.receipt_json(receipt)
        status, answer = fetch(f"{console}/api/receipt", {"file": file, "operator": "税务窗口"}, running.tokens[TAX])
        assert status == 200, answer
        return answer["check"]["result"], answer["check"]["reason"], answer["archived"]

    assert look_up(lost) == ("PASSED", "", "MISSING_SIGNED_HERE")
    status, answer = fetch(f"{console}/api/receipt", {"receipt_id": lost.receipt_id, "operator": "税务窗口"},
                           running.tokens[TAX])  # fmt: skip
    assert status == 404 and refusal(answer)[1] == "RECEIPT_NOT_FOUND"  # not in the archive indeed

    edited = verification_pb2.Receipt()
    edited.CopyFrom(lost)
    edited.statement = lost.statement.replace("企业开办窗口核验".encode(), "企业开办窗口核查".encode(), 1)
    assert edited.statement != lost.statement
    assert look_up(edited) == ("FAILED", "SIGNATURE_INVALID", "MISSING")  # forged: said as before


def test_a_cases_receipts_come_a_page_at_a_time_following_the_next_page_token(
    console: str, running: RunningGateway
) -> None:
    """The console passes ``limit`` and ``page_token`` to ListCaseReceipts (its 显示更多 follows the token): every
    receipt of the case is reached, once, oldest first; a limit that is not a number is refused naming it."""
    license_id = issue(running, 39).license.license_id
    case = "QYKB-" + uuid.uuid4().hex[:10]
    bundle = {"bundle_code": QYKB, "case_id": case}
    first = {"matter_code": QYKZ, "purpose": "企业开办：刻制公章", "operator": "公安窗口01", **bundle}
    made = [verify(console, running, POLICE, query=license_id, use=first)[1]["receipt"]["receipt_id"] for _ in range(3)]
    later = {"matter_code": FPSL, "purpose": "企业开办：发票申领", "operator": "税务窗口02", **bundle}
    status, page = fetch(f"{console}/api/case-receipts", {"use": later, "limit": 2}, running.tokens[TAX])
    assert status == 200 and [r["receipt_id"] for r in page["receipts"]] == made[:2] and page["next_page_token"]
    request = {"use": later, "limit": 2, "page_token": page["next_page_token"]}
    status, page = fetch(f"{console}/api/case-receipts", request, running.tokens[TAX])
    assert status == 200 and [r["receipt_id"] for r in page["receipts"]] == made[2:] and page["next_page_token"] == ""
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later, "limit": "2"}, running.tokens[TAX])
    assert status == 400 and refusal(answer)[2] == [("limit", "NOT_A_NUMBER")]
    status, answer = fetch(f"{console}/api/case-receipts", {"use": later, "page_token": "x"}, running.tokens[TAX])
    assert status == 400 and refusal(answer)[1] in ("BAD_PAGE_TOKEN", "INVALID_ARGUMENT")


def test_a_status_changed_behind_the_gateways_back_is_not_stated(console: str, running: RunningGateway) -> None:
    """A revoked license set ACTIVE in the store: red, and its summary states no status (the page shows 无法确认),
    neither the forged ACTIVE nor anything in the receipt."""
    license_id = issue(running, 31).license.license_id
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("UPDATE licenses SET status = 'ACTIVE' WHERE license_id = :id"), {"id": license_id})
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]
    status, report = verify(console, running, query=license_id)
    assert status == 200 and report["verdict"] == "FAILED"
    assert report["findings"]["integrity"]["reason"] == "STATUS_ALTERED"
    assert (report["license"]["status"], report["license"]["status_since"]) == ("", "")
    assert report["receipt"]["statement"]["license"]["status"] == ""


def test_a_record_changed_behind_the_gateways_back_shows_nothing_of_the_edit(
    console: str, running: RunningGateway
) -> None:
    """Its validity moved and its holder renamed in the store: red, and the summary states only what the identifier
    says, no dates, status or holder (the page shows 无法确认)."""
    license_id = issue(running, 30).license.license_id
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET valid_until = '2099-12-31', holder_name = '冒名公司' WHERE license_id = :id"),
            {"id": license_id},
        )
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]
    status, report = verify(console, running, query=license_id)
    assert status == 200 and (report["verdict"], report["reason"]) == ("FAILED", "RECORD_ALTERED")
    assert report["findings"]["status"] == {
        "result": "INDETERMINATE",
        "reason": "RECORD_ALTERED",
        "detail": "登记库中的证照记录已在网关之外被改动，其中的有效期和状态不是证照的（the stored record was changed "
        "behind the gateway's back: its validity and status are not the license's）",
    }
    summary = report["license"]
    assert (summary["valid_from"], summary["valid_until"], summary["status"]) == ("", "", "")
    assert (summary["holder_name_masked"], summary["holder_code_masked"]) == ("", "")
    assert summary["type_name"] == "营业执照" and summary["issuer_name"] == "济南市市场监督管理局"


def test_a_claim_is_compared_without_any_data_coming_back(console: str, running: RunningGateway) -> None:
    """信息比对: the applicant's paper says who holds which license; the clerk learns only whether it matches."""
    issued = issue(running, 39, samples.business_license).license  # what 发票申领 needs
    claim = {
        "use": USE,
        "type_code": issued.type_code,
        "holder_code": issued.holder.code,
        "license_number": issued.license_number,
    }
    status, answer = fetch(
        f"{console}/api/check-claim", {**claim, "fields": {"holder_name": issued.holder.name}}, running.tokens[TAX]
    )
    assert status == 200, answer
    assert (answer["result"], answer["code"], answer["mismatched_fields"]) == ("CORRECT_AND_VALID", 0, [])
    wrong = {**claim, "fields": {"holder_name": issued.holder.name + "某"}}
    status, answer = fetch(f"{console}/api/check-claim", wrong, running.tokens[TAX])
    assert (status, answer["code"], answer["mismatched_fields"]) == (200, 7, ["holder_name"])
    assert issued.holder.name not in json.dumps(answer, ensure_ascii=False)  # nothing of the registry comes back
    statement = receipt_statement(running, read_receipt(answer["receipt"]["file"].encode()))
    assert statement["kind"] == "claim" and statement["code"] == 7
    assert issued.holder.code not in json.dumps(statement) and issued.license_number not in json.dumps(statement)
    # the key of the receipt's digests, given to the claimant alone, as CheckClaim gives it: without it no one could
    # tie a console claim's receipt to its claim (a reviewer, R5)
    key = bytes.fromhex(answer["claim_key"])
    assert len(key) == 16
    assert statement["query"]["holder_code_hmac"] == claim_digest(key, issued.holder.code)
    assert statement["query"]["license_number_hmac"] == claim_digest(key, normal_number(issued.license_number))
    status, answer = fetch(f"{console}/api/check-claim", {**claim, "license_number": "SC-NONE"}, running.tokens[TAX])
    assert (status, answer["code"]) == (200, 5)
    status, answer = fetch(f"{console}/api/check-claim", claim, running.tokens[PORTAL])
    assert status == 403 and refusal(answer)[1] == "ROLE_NOT_ALLOWED"
    status, answer = fetch(f"{console}/api/check-claim", {**claim, "fields": ["x"]}, running.tokens[TAX])
    assert status == 400 and refusal(answer)[2] == [("fields", "NOT_TEXT")]
    for n in range(5):  # one wrong above: five in all, then the department waits (429, not "too large": review)
        fetch(f"{console}/api/check-claim", {**claim, "fields": {"holder_name": f"某{n}"}}, running.tokens[TAX])
    status, answer = fetch(f"{console}/api/check-claim", wrong, running.tokens[TAX])
    assert status == 429 and refusal(answer)[1] == "TOO_MANY_WRONG_CLAIMS"


def test_a_claimed_value_no_license_can_state_is_refused_at_the_console_and_not_counted(
    console: str, running: RunningGateway
) -> None:
    """The console's 信息比对 takes CheckClaim's rule: a name pasted with a NUL, a zero-width space or a direction
    override is 400 / BAD_CHARACTERS naming the code point, never a wrong claim (7) counted toward the department's
    TOO_MANY_WRONG_CLAIMS (an integrator)."""
    issued = issue(running, 40, samples.business_license).license
    claim = {
        "use": USE,
        "type_code": issued.type_code,
        "holder_code": issued.holder.code,
        "license_number": issued.license_number,
    }
    name = issued.holder.name
    for pasted, code_point in (
        (name[:2] + "\x00" + name[2:], "U+0000"),
        (name[:2] + "\u200b" + name[2:], "U+200B"),
        ("\u202e" + name, "U+202E"),
        (name + "\x07", "U+0007"),
        (name[:2] + "\u2028" + name[2:], "U+2028"),
        (name + "\u200e", "U+200E"),
    ):
        status, answer = fetch(
            f"{console}/api/check-claim", {**claim, "fields": {"holder_name": pasted}}, running.tokens[TAX]
        )
        assert status == 400 and refusal(answer)[2] == [("fields.holder_name", "BAD_CHARACTERS")], answer
        assert code_point in answer["error"]["violations"][0]["description"]
    status, answer = fetch(
        f"{console}/api/check-claim", {**claim, "fields": {"holder_name": name}}, running.tokens[TAX]
    )
    assert (status, answer["code"]) == (200, 0), answer


@pytest.mark.parametrize("database_url", [backend_params()[0]], indirect=True)  # a SQLite file's write lock
def test_a_store_held_by_another_writer_is_unavailable_to_retry_not_an_internal_error(
    console: str, running: RunningGateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A DBA's open write transaction on the SQLite file holds every writer: a verification cannot store its
    receipt in time. That is the store's state, not a defect of the call: UNAVAILABLE / DATABASE_BUSY over gRPC and
    503 on the console, which a client may retry, and answers again once the transaction ends. The console's
    refusals are logged as gRPC's are, one line per reason per 5 s (each had logged its own; an on-call tester)."""
    from adapters import http
    from gateway.logs import OncePer

    license_id = issue(running, 60).license.license_id
    assert verify(console, running, query=license_id)[1]["verdict"] == "PASSED"
    monkeypatch.setattr(group_writer, "WRITE_TIMEOUT_SECONDS", 1.0)  # not the 30 s a call waits by default
    monkeypatch.setattr(http, "_STORE_LINES", OncePer(60.0), raising=False)  # none said by an earlier test
    caplog.set_level(logging.WARNING, logger="zzgw.error")
    holder = sqlite3.connect(str(running.gateway.db.engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    given_up = {**USE, "operator": f"窗口-未完成-{uuid.uuid4().hex[:6]}"}
    before = record_count(running)
    try:
        with pytest.raises(grpc.RpcError) as refused:
            grpc_verify(running, license_id=license_id)  # its records in the writer's waiting transaction
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_details(refused.value)[0].reason == "DATABASE_BUSY"
        for _ in range(3):  # queued behind it: given up, and never written
            status, answer = fetch(f"{console}/api/verify", {"use": given_up, "query": license_id}, running.tokens[TAX])
            assert (status, answer["error"]["reason"]) == (503, "DATABASE_BUSY")
        # a sign-in records nothing: it answers meanwhile (operations.md had listed it among the calls that wait)
        status, answer = fetch(f"{console}/api/session", token=running.tokens[POLICE])
        assert status == 200 and answer["member"]["code"] == POLICE
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("console call")]
    assert said == ["console call /console/api/verify: DATABASE_BUSY (StoreTimeout)"], said
    assert verify(console, running, query=license_id)[1]["verdict"] == "PASSED"
    # a client told to retry that does so leaves one record of its use, not two: none of those refused was stored,
    # not even the first, which the writer had taken while it waited for the lock (claimed only once it has it)
    assert trail_rows(running, "seq", "operator = :operator", operator=given_up["operator"]) == []
    assert grpc_verify(running, license_id=license_id).verdict == verification_pb2.CHECK_RESULT_PASSED
    assert record_count(running) == before + 2


def full_width(text: str) -> str:
    """``text`` as a Chinese input method in full-width mode types it: each printable ASCII character's full-width
    form (Ｊ３７０１０２－２０１９…)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_what_a_clerk_types_in_full_width_or_small_letters_is_what_was_meant(
    console: str, running: RunningGateway
) -> None:
    """A number, an identifier or a 公民身份号码 typed in full width, an identifier typed with the input method's 。
    for '.' or with Caps Lock on, names the license the half-width text names: PASSED, with a receipt that says so,
    on the console and over gRPC alike; a typing difference had been signed FAILED / LICENSE_NOT_FOUND (console
    tester, findings 1 and 6)."""
    permit = issue(running, 62, samples.food_permit).license  # SC1063701…-TAG: a sign in its number
    assert "-" in permit.license_number
    use = {"matter_code": "370100-SPJC-001", "purpose": "食品生产经营监督检查", "operator": "窗口05 李娜"}
    license_id = permit.license_id
    typed_ids = (full_width(license_id), license_id.replace(".", "。"), license_id.lower(), f" {license_id.lower()} ")
    for query, type_code in (
        (full_width(permit.license_number), permit.type_code),
        *((typed, "") for typed in typed_ids),
        (full_width(license_id), permit.type_code),  # with a type chosen too: still an identifier
    ):
        status, report = verify(console, running, MARKET, query=query, type_code=type_code, use=use)
        assert status == 200, (query, report)
        assert (report["verdict"], report["license"]["license_id"]) == ("PASSED", license_id), query
        assert report["receipt"]["statement"]["verdict"] == "PASSED"
    # gRPC's VerifyLicense folds alike: the service's, not the page's
    assert grpc_verify(
        running, type_code=permit.type_code, license_number=full_width(permit.license_number)
    ).verdict == (verification_pb2.CHECK_RESULT_PASSED)
    for typed in typed_ids:
        assert grpc_verify(running, license_id=typed).verdict == verification_pb2.CHECK_RESULT_PASSED, typed
    # a number that is not a license's stays not found, full width or not
    status, report = verify(
        console, running, MARKET, query=full_width(permit.license_number + "9"), type_code=permit.type_code, use=use
    )
    assert (status, report["verdict"], report["reason"]) == (200, "FAILED", "LICENSE_NOT_FOUND")
    # 信息比对 with the holder's 公民身份号码 and the number typed in full width: the same answer as half width
    from adapters.records import issue_request
    from tests.api.test_issuance import unique

    marriage = running.issuance(CIVIL).IssueLicense(issue_request(unique(samples.marriage_certificate(63)))).license
    claim = {
        "use": {"matter_code": CSDJ, "purpose": "出生登记", "operator": "户籍窗口 张伟"},
        "type_code": marriage.type_code,
        "holder_code": full_width(marriage.holder.code),
        "license_number": full_width(marriage.license_number),
    }
    status, answer = fetch(f"{console}/api/check-claim", claim, running.tokens[POLICE])
    assert status == 200, answer
    assert (answer["result"], answer["code"], answer["mismatched_fields"]) == ("CORRECT_AND_VALID", 0, [])


def test_a_lone_surrogate_anywhere_is_refused_up_front_as_bad_characters(
    console: str, running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """``"\\ud800"`` is valid JSON text but no Unicode character: in any field of any call it is 400 / BAD_CHARACTERS
    naming the field, Chinese first, before anything is checked or signed. It had been a 500 with a traceback (the
    receipt's canonical JSON, then the error reply itself, could not be written as UTF-8), left a check under another
    department's matter off the audit trail, and in a claim's ``fields`` been compared and answered (partner tester,
    findings 1 and 2). A receipt file holding one, raw or escaped in its text, is not a receipt."""
    caplog.set_level(logging.WARNING, logger="zzgw.error")
    token = running.tokens[TAX]
    issued = issue(running, 64).license
    claim = {"type_code": issued.type_code, "holder_code": issued.holder.code, "license_number": issued.license_number}
    other = {**USE, "matter_code": QYKZ}  # another department's matter: refused on the trail, were it read
    bad = "\ud800"
    calls: list[tuple[str, dict[str, Any], str]] = [
        ("verify", {"use": {**USE, "purpose": bad + "abc"}, "query": issued.license_id}, "use.purpose"),
        ("verify", {"use": {**other, "purpose": bad + "x"}, "query": issued.license_id}, "use.purpose"),
        ("verify", {"use": {**USE, "matter_code": bad}, "query": issued.license_id}, "use.matter_code"),
        ("verify", {"use": USE, "query": issued.license_number, "type_code": bad}, "type_code"),
        ("verify", {"use": USE, "query": "x" + bad}, "query"),
        ("check-claim", {"use": {**USE, "purpose": bad + "x"}, **claim}, "use.purpose"),
        ("check-claim", {"use": USE, **claim, "fields": {"holder_name": bad}}, "fields.holder_name"),
        ("check-claim", {"use": USE, **claim, "fields": {bad: "x"}}, "fields"),
        ("case-receipts", {"use": {**USE, "bundle_code": bad, "case_id": "1"}}, "use.bundle_code"),
        ("receipt", {"receipt_id": bad}, "receipt_id"),
        ("receipt", {"file": '{"receiptId": "' + bad + '"}', "operator": "窗口"}, "file"),
        ("receipt", {bad: 1}, ""),
    ]
    before = record_count(running)
    for call, body, field in calls:
        status, answer = fetch(f"{console}/api/{call}", body, token)
        assert (status, refusal(answer)) == (400, (400, "BAD_CHARACTERS", [(field, "BAD_CHARACTERS")])), body
        message = answer["error"]["message"]
        assert message.startswith(field or "请求") and "代理项" in message and "surrogate" in message, message
        assert re.search("[\u4e00-\u9fff]", message).start() < message.index("surrogate")  # type: ignore[union-attr]
    assert record_count(running) == before  # nothing checked, nothing signed
    # a receipt file whose text escapes one (a genuine receipt's number replaced) is no receipt
    report = verify(console, running, query=issued.license_id)[1]
    escaped = json.loads(report["receipt"]["file"])
    escaped["receiptId"] = bad
    looked_up = {"file": json.dumps(escaped), "operator": "窗口"}
    status, answer = fetch(f"{console}/api/receipt", looked_up, token)  # "\ud800" in its text
    assert (status, refusal(answer)) == (400, (400, "NOT_A_RECEIPT", [("file", "NOT_A_RECEIPT")])), answer
    assert [record.getMessage() for record in caplog.records if record.name == "zzgw.error"] == []


def test_a_query_that_is_no_license_code_is_refused_by_its_length_and_shown_back_clipped(
    console: str, running: RunningGateway
) -> None:
    """A query that is neither an identifier nor a ZZ1: code, without a type: one longer than any number a look-up
    takes is TOO_LONG on ``query`` and not shown back; a shorter one is REQUIRED on ``type_code`` (the page's
    按证照编号核验时，请选择证照类型), Chinese first, showing at most 64 of its characters. A 5 MB query had come back
    whole in the message and again in the violation, 10 MB (partner tester, finding 4)."""
    for size in (1_000, 100_000, 5 * 1024 * 1024):
        query = "A" * size
        body = json.dumps({"use": USE, "query": query}).encode()
        status, answer = fetch(f"{console}/api/verify", raw=body, token=running.tokens[TAX])
        assert (status, refusal(answer)) == (400, (400, "TOO_LONG", [("query", "TOO_LONG")])), size
        assert "AAAA" not in json.dumps(answer) and len(json.dumps(answer, ensure_ascii=False)) < 1_000
        assert answer["error"]["violations"][0]["description"].startswith("输入的内容不是证照标识或核验码")
    status, answer = verify(console, running, query="B" * 200)
    assert (status, refusal(answer)) == (400, (400, "REQUIRED", [("type_code", "REQUIRED")]))
    description = answer["error"]["violations"][0]["description"]
    assert description == f"“{'B' * 63}…”不是证照标识或核验码；按证照编号核验时，请选择证照类型" + (
        "（not a license identifier or a ZZ1: code: choose the license type to look a license number up）"
    )
    assert answer["error"]["message"] == f"type_code: {description}"


def test_a_refusal_echoing_what_was_sent_is_clipped_as_grpc_clips_it() -> None:
    """Whatever a refusal says of the request, the reply is clipped as a gRPC status is: message 400 characters,
    a violation's description 200 and field 64, 16 violations at most (the message says how many more); gRPC
    sends fewer where they would not fit its trailers (``TRAILERS_BUDGET``)."""
    many = [FieldViolation(field="f" * 100, reason="BAD", description="d" * 1_000) for _ in range(20)]
    reply = console_module.error_reply(InvalidRequestError(many, message="m" * 1_000))
    error = json.loads(reply.body)["error"]
    assert len(error["violations"]) == 16 and error["message"] == "m" * 399 + "…（另有4项有误，and 4 more bad fields）"
    assert {(len(v["field"]), len(v["description"])) for v in error["violations"]} == {(64, 200)}
    status = grpc_errors.to_status(InvalidRequestError(many, message="m" * 1_000))  # the same on gRPC, with as
    said = status_pb2.Status.FromString(dict(status.trailing_metadata)["grpc-status-details-bin"])  # many as fit
    bad = error_details_pb2.BadRequest()
    said.details[1].Unpack(bad)
    sent = len(bad.field_violations)
    assert 12 <= sent <= 16
    assert said.message == f"{'m' * 399}…（另有{20 - sent}项有误，and {20 - sent} more bad fields）"
    assert {(len(v.field), len(v.description)) for v in bad.field_violations} == {(64, 200)}


def test_a_refusal_writes_what_cannot_be_seen_as_its_code_point() -> None:
    """A black-box tester: 没有事项 370100-<U+202E>QYKZ-001 turned the rest of the line around where a portal showed
    it, a CR LF started a line of its own, a zero-width space made a wrong code look right. Every text a refusal
    echoes is sent with such characters as code points, on the console and on gRPC; spaces and Chinese stay."""
    bad = "370100-\u202eQYKZ-001\r\nX\u200b　𠮷"
    violation = FieldViolation(field=f"fields.{bad}", reason="BAD", description=f"没有事项 {bad}（unknown matter）")
    error = InvalidRequestError([violation], message=f"没有事项 {bad}")
    said = json.loads(console_module.error_reply(error).body)["error"]
    shown = "370100-\\u202eQYKZ-001\\u000d\\u000aX\\u200b　𠮷"
    assert said["message"] == f"没有事项 {shown}"
    assert said["violations"] == [
        {"field": f"fields.{shown}", "reason": "BAD", "description": f"没有事项 {shown}（unknown matter）"}
    ]
    status = status_pb2.Status.FromString(
        dict(grpc_errors.to_status(error).trailing_metadata)["grpc-status-details-bin"]
    )
    assert status.message == said["message"]


def test_the_consoles_own_refusals_are_chinese_first_without_internals(console: str, running: RunningGateway) -> None:
    """Each refusal the console makes itself says it in Chinese, then in English in full-width brackets, and says
    nothing of the gateway's insides (protobuf's field list, a Python codec's error); the reasons, which the page
    turns into words of its own, are unchanged (partner tester, finding 9)."""
    token = running.tokens[TAX]
    anonymous = {**USE, "operator": ""}
    cases: list[tuple[str, Any, str | None, tuple[int, str, str]]] = [
        ("verify", {"use": USE, "query": "x"}, None, (401, "NO_CREDENTIAL", "")),
        ("verify", b"{not json", token, (400, "MALFORMED_REQUEST", "")),
        ("verify", b"[1]", token, (400, "MALFORMED_REQUEST", "")),
        ("verify", {"query": "x"}, token, (400, "REQUIRED", "use")),
        ("verify", {"use": USE}, token, (400, "ONE_OF", "query")),
        ("verify", {"use": {**USE, "matter_code": 7}, "query": "x"}, token, (400, "NOT_TEXT", "use.matter_code")),
        ("verify", {"use": USE, "pdf": "not base64!"}, token, (400, "NOT_BASE64", "pdf")),
        ("verify", {"use": anonymous, "query": "x"}, token, (400, "REQUIRED", "use.operator")),
        ("check-claim", {"use": USE, "fields": ["x"]}, token, (400, "NOT_TEXT", "fields")),
        ("receipt", {}, token, (400, "ONE_OF", "receipt_id")),
        ("receipt", {"receipt_id": "x"}, token, (400, "REQUIRED", "operator")),
        ("receipt", {"file": '{"a": 1}', "operator": "窗口"}, token, (400, "NOT_A_RECEIPT", "file")),
        (
            "receipt",
            {"file": '{"receiptId": "x", "statement": {}}', "operator": "窗口"},
            token,
            (400, "NOT_A_RECEIPT", "file"),
        ),
    ]
    for call, body, caller, (status, reason, field) in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        got, answer = fetch(f"{console}/api/{call}", raw=raw, token=caller)
        error = answer["error"]
        assert (got, error["reason"]) == (status, reason), (body, answer)
        said = error["violations"][0]["description"] if error["violations"] else error["message"]
        assert [v["field"] for v in error["violations"]] == ([field] if status == 400 else []), body
        chinese, _, english = said.partition("（")
        assert re.search("[\u4e00-\u9fff]", chinese) and english.endswith("）"), said
        assert re.search("[A-Za-z]", english), said
        message = error["message"]
        assert not message.startswith(":") and message == (f"{field}: {said}" if field else said), message
        for internal in ("Available Fields", "Message type", "zzgw.v1", "codec", "operand"):
            assert internal not in message, message
    # the page has words of its own for the reasons a clerk can meet
    script = fetch(f"{console}/console.js")[1][0].decode()
    for reason in ("NO_CREDENTIAL", "MALFORMED_REQUEST", "ONE_OF", "NOT_A_RECEIPT", "BAD_CHARACTERS", "TOO_LONG"):
        assert re.search(rf"\b{reason}: \"[^\"]*[\u4e00-\u9fff]", script), reason
    for field_reason in ("type_code:REQUIRED", "use.operator:REQUIRED"):
        assert f'"{field_reason}": "' in script, field_reason


def test_a_clerk_token_is_not_issued_under_a_name_every_check_would_refuse_as_not_utf8(
    console: str, running: RunningGateway
) -> None:
    """A third review's R3: a name holding U+FFFD (pasted from mangled text) passed `zzgw console-token --clerk`, the
    clerk signed in under it, and then every check was refused BAD_OPERATOR in words about x-zzgw-operator-bin and
    GBK, which a clerk cannot act on. The token is refused at issue (BAD_CLERK), by the rule every check applies to
    its operator, saying the name holds U+FFFD; nothing is issued. A name that rule takes signs in and checks."""
    import os

    from tests.commands import zzgw
    from tests.conftest import PASSPHRASE

    members = running.gateway.members
    for name in ("王\ufffd敏", "\ufffd", "窗口02 王\ufffd"):
        with pytest.raises(InvalidRequestError) as refused:
            members.issue_clerk_token(TAX, name)
        assert refused.value.reason == "BAD_CLERK" and "U+FFFD" in refused.value.message, refused.value.message
    assert not any("\ufffd" in c.clerk for c in members.clerks(TAX))
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(running.data_dir),
        "ZZGW_DATABASE_URL": str(running.gateway.settings.database_url),
        "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
    }
    issued = zzgw(env, "console-token", TAX, "--clerk", "王\ufffd敏")
    assert (issued.returncode, issued.stdout) == (2, ""), issued
    assert "BAD_CLERK" in issued.stderr or "U+FFFD" in issued.stderr, issued.stderr
    token = members.issue_clerk_token(TAX, "窗口02 王敏")
    assert fetch(f"{console}/api/session", token=token)[1]["clerk"] == "窗口02 王敏"
    lic = issue(running, 48).license
    status, report = fetch(f"{console}/api/verify", {"use": USE, "query": lic.license_id}, token)
    assert status == 200 and report["verdict"] == "PASSED"


def test_a_clerk_named_by_a_citizen_id_or_a_mobile_number_is_refused(console: str, running: RunningGateway) -> None:
    """核验人 is in every access record of the check, which the holder, each co-subject and the issuer read: a third
    person's 公民身份号码 or mobile number typed there is refused (BAD_OPERATOR) as the purpose refuses them, and
    nothing recorded; a clerk's own token is not issued under such a name (BAD_CLERK: every check of it would be
    refused). A privacy auditor, D4."""
    lic = issue(running, 47).license
    for name in ("370102199204275720", "窗口 ３７０１０２１９９２０４２７５７２０", "林秀英 138 1234 5678"):
        status, answer = verify(console, running, query=lic.license_id, use={**USE, "operator": name})
        assert (status, *refusal(answer)[1:]) == (400, "BAD_OPERATOR", [("x-zzgw-operator", "BAD_OPERATOR")])
        with pytest.raises(InvalidRequestError) as refused:
            running.gateway.members.issue_clerk_token(TAX, name)
        assert refused.value.reason == "BAD_CLERK"
    # a staff number shaped as a region and a day to come: every check of the clerk's would be refused from that day
    # on (BAD_OPERATOR), so the token is refused now, as a catalog's purpose is (a reviewer, R1)
    later = (dt.date.today() + dt.timedelta(days=400)).strftime("%Y%m%d")
    with pytest.raises(InvalidRequestError) as refused:
        running.gateway.members.issue_clerk_token(TAX, f"工号370102{later}0016")
    assert refused.value.reason == "BAD_CLERK"
    assert trail_rows(running, "operator", "license_id = :l", l=lic.license_id) == []
    assert verify(console, running, query=lic.license_id)[0] == 200
