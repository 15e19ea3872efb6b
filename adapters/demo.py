"""``zzgw demo``: a walk through gathering and verification against a live gateway, printed as it goes.

Three departments issue a 营业执照, a 食品生产许可证 and a 居民身份证; the market regulator reads and amends the
business license (法定代表人变更) and revokes the food permit; a consuming department's subscription shows every
change event as it arrives. Then 窗口核验: a clerk at the 不动产登记中心 checks an applicant's 结婚证 by number and
the printed PDF (green), a PDF edited after sealing (red: 签章已被篡改) and a 结婚证 cancelled since (red: 已注销),
each with a receipt number; the holder's portal then shows who looked at the license, when and why.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.model import mask
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    issuance_pb2,
    issuance_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)

MARKET = "11370100993701011T"  # 济南市市场监督管理局
POLICE = "1137010099370102XJ"  # 济南市公安局
CIVIL = "113701009937010548"  # 济南市民政局 (issues 结婚证)
TAX = "11370100993701097M"  # 国家税务总局济南市税务局 (watches changes)
REAL_ESTATE = "123701009937011183"  # 济南市不动产登记中心 (verifies at its window)
PORTAL = "12370100993701126X"  # 济南市数字政务服务中心 (the holder portal)
TRANSFER = "370100-BDCZY-001"  # 不动产转移登记
DEMO_MEMBERS = (MARKET, POLICE, CIVIL, TAX, REAL_ESTATE, PORTAL)
"""The demo members whose credentials the demo uses: a gateway must have registered them (the demo members)."""

_VERDICT = {1: "通过", 2: "不通过", 3: "无法判定"}
# The holder's view (用证记录): what a department did with the license, and what the gateway answered, in Chinese
_ACTIONS = {
    "VERIFY_LICENSE": "核验证照",
    "VERIFY_DOCUMENT": "核验证照文件",
    "VERIFY_STAMP": "核验电子签章",
    "CHECK_CLAIM": "信息比对",
    "LIST_CASE_RECEIPTS": "查看办件核验回执",
    "LIST_HOLDER_LICENSES": "查询持证人证照",
    "GET_LICENSE_DATA": "调取证照数据",
    "GET_LICENSE_DOCUMENT": "调取证照文件",
    "PREFILL_FORM": "表单预填",
    "REQUEST_ACCESS": "申请共享",
    "LIST_ACCESS_REQUESTS": "查看共享申请",
    "DECIDE_ACCESS_REQUEST": "审批共享申请",
    "GRANT_CONSENT": "持证人授权",
    "WITHDRAW_CONSENT": "持证人撤回授权",
    "LIST_CONSENTS": "查看授权",
    "ISSUER_GET_LICENSE": "发证部门调阅证照",
    "ISSUER_GET_LICENSE_DOCUMENT": "发证部门调阅证照文件",
}
_DECISIONS = {
    "PASSED": "通过",
    "FAILED": "不通过",
    "INDETERMINATE": "无法判定",
    "ANSWERED": "已答复",
    "LISTED": "已列出",
    "SUBMITTED": "已提交",
    "PERMIT": "准予",
    "DENY": "拒绝",
    "DENIED": "已拒绝",
    "APPROVED": "已批准",
    "REJECTED": "已驳回",
    "EXPIRED": "已过期",
    "WITHDRAWN": "已撤回",
    "GRANTED": "已授权",
    # a 信息比对's answer (ClaimResult), by its name
    "CORRECT_AND_VALID": "信息一致，证照有效",
    "NOT_YET_VALID": "信息一致，证照尚未生效",
    "SUSPENDED": "信息一致，证照暂停使用",
    "NO_LONGER_VALID": "信息一致，证照已失效",
    "INCOMPLETE": "信息不完整",
    "NOT_FOUND": "未找到该证照",
    "PARTLY_WRONG": "部分信息不一致",
}
_REASONS = {
    "SIGNATURE_INVALID": "签章已被篡改",
    "DOCUMENT_MODIFIED": "签章后文件被修改",
    "CHANGED_AFTER_SEAL": "签章后文件被加签或填写, 以登记信息为准",
    "RECORD_ALTERED": "登记记录被篡改",
    "STATUS_ALTERED": "证照状态被篡改",
    "SUSPENDED": "证照状态: 已暂停",
    "REVOKED": "证照状态: 已吊销",
    "CANCELLED": "证照状态: 已注销",
    "SUPERSEDED": "证照状态: 已变更",
    "EXPIRED": "证照状态: 已过期",
    "NOT_YET_VALID": "证照状态: 尚未生效",
    "LICENSE_NOT_FOUND": "查无此证照",
    "UNTRUSTED_ROOT": "签章证书不受信任",
    "LOOKALIKE_CA": "签章证书来自仿冒的制章机构",
    "CERT_REVOKED": "签章证书已吊销",
    "CERT_NOT_YET_VALID": "签章时证书尚未生效",
    "CERT_EXPIRED": "签章时证书已过期",
    "CERT_REVOKED_NO_TRUSTED_TIME": "签章证书已吊销, 无法确定签章时间",
    "CERT_EXPIRED_NO_TRUSTED_TIME": "签章证书已过期, 无法确定签章时间",
}
"""What a clerk reads for a verification's reason code."""

_CHINA = dt.timezone(dt.timedelta(hours=8))
_STATUS = {v.number: v.name.removeprefix("LICENSE_STATUS_") for v in common_pb2.LicenseStatus.DESCRIPTOR.values}
_KIND = {v.number: v.name.removeprefix("CHANGE_KIND_") for v in issuance_pb2.ChangeKind.DESCRIPTOR.values}


def run_demo(channel_for: Callable[[str], grpc.Channel], out: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the demo; ``channel_for(member_code)`` gives a channel with that member's credentials."""
    run = random.SystemRandom().randrange(10**6, 10**9)
    market = issuance_pb2_grpc.IssuanceServiceStub(channel_for(MARKET))
    police = issuance_pb2_grpc.IssuanceServiceStub(channel_for(POLICE))
    events: list[issuance_pb2.LicenseChangeEvent] = []
    watch = issuance_pb2_grpc.IssuanceServiceStub(channel_for(TAX)).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest()
    )
    watcher = threading.Thread(target=_collect, args=(watch, events), daemon=True)
    watcher.start()
    time.sleep(0.5)

    out("== 1. 归集: three departments issue licenses ==")
    business = market.IssueLicense(issue_request(_fresh(samples.business_license(run % 10**6), run))).license
    food = market.IssueLicense(issue_request(_fresh(samples.food_permit(run % 10**6), run))).license
    person = police.IssueLicense(issue_request(_fresh(samples.id_card(run % 10**6), run))).license
    for lic in (business, food, person):
        out(f"  {lic.type_name:<8} {lic.license_id}")
        out(
            f"           holder {lic.holder.name} ({mask(lic.holder.code)}), issued by {lic.issuer_name}, "
            f"status {_STATUS[lic.status]}, seal {lic.record_seal.algorithm} {lic.record_seal.key_id[:12]}…"
        )

    out("\n== 2. GetLicense: the market regulator reads its business license ==")
    got = market.GetLicense(issuance_pb2.GetLicenseRequest(license_id=business.license_id)).license
    fields = got.fields
    out(f"  {fields['company_name']}: 法定代表人 {fields['legal_representative']}, 住所 {fields['domicile']}")

    out("\n== 3. AmendLicense (变更): a new legal representative ==")
    amended = market.AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id=f"demo-amend-{run}",
            license_id=business.license_id,
            fields={"legal_representative": samples.person_name(run + 7)},
            reason="法定代表人变更",
        )
    )
    out(f"  version {amended.license.version}: {amended.license.license_id}")
    out(
        f"  version {amended.superseded.version}: now {_STATUS[amended.superseded.status]}, "
        f"superseded by version {amended.license.version}"
    )

    out("\n== 4. ChangeLicenseStatus: the food production permit is revoked (吊销) ==")
    revoked = market.ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=f"demo-revoke-{run}",
            license_id=food.license_id,
            action=issuance_pb2.STATUS_ACTION_REVOKE,
            reason="生产条件发生变化，不再符合许可要求",
        )
    ).license
    out(f"  {revoked.license_id}: {_STATUS[revoked.status]} ({revoked.status_reason})")

    deadline = time.monotonic() + 5
    while len(events) < 2 and time.monotonic() < deadline:  # the business license's issue and amendment
        time.sleep(0.05)
    watch.cancel()
    out("\n== 5. WatchLicenseChanges: what the tax bureau's subscription received ==")
    out("  (the license types its matters use: 发票申领 needs the 营业执照, not the food permit or the ID card)")
    for event in events:
        out(f"  cursor {event.cursor:>6}  {_KIND[event.kind]:<15} {_STATUS[event.status]:<10} {event.license_id}")
    out(
        f"\nSummary: issued 3 licenses of 3 types, amended 1 (now version {amended.license.version}), revoked 1; "
        f"{len(events)} change events delivered to the tax bureau. Resume a subscription from the last cursor to "
        "miss nothing."
    )
    checks = _window_check(channel_for, run, out)
    return {
        **checks,
        "business": amended.license.license_id,
        "food": food.license_id,
        "person": person.license_id,
        "events": len(events),
    }


def _window_check(channel_for: Callable[[str], grpc.Channel], run: int, out: Callable[[str], None]) -> dict[str, Any]:
    """窗口核验 at the 不动产登记中心, then the holder's view of the audit trail."""
    civil = issuance_pb2_grpc.IssuanceServiceStub(channel_for(CIVIL))
    clerk = verification_pb2_grpc.VerificationServiceStub(channel_for(REAL_ESTATE))
    use = verification_pb2.UseContext(matter_code=TRANSFER, purpose="不动产转移登记：核验婚姻状况")
    clerk_id = [("x-zzgw-operator-bin", "不动产登记中心 3号窗口".encode())]

    marriage = civil.IssueLicense(issue_request(_fresh(samples.marriage_certificate(run % 10**6), run))).license
    cancelled = civil.IssueLicense(issue_request(_fresh(samples.marriage_certificate(run % 10**6 + 1), run))).license
    pdf = civil.GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=marriage.license_id)).pdf
    civil.ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=f"demo-cancel-{run}",
            license_id=cancelled.license_id,
            action=issuance_pb2.STATUS_ACTION_CANCEL,
            reason="离婚登记",
        )
    )

    out("\n== 6. 窗口核验: the 不动产登记中心 checks a 结婚证 instead of asking for the paper original ==")
    answers = [
        (
            "by number",
            clerk.VerifyLicense(
                verification_pb2.VerifyLicenseRequest(
                    use=use, type_code=marriage.type_code, license_number=marriage.license_number
                ),
                metadata=clerk_id,
            ).report,
        ),
        (
            "the printed PDF",
            clerk.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=use, pdf=pdf), metadata=clerk_id).report,
        ),
        (
            "a PDF edited after sealing",
            clerk.VerifyDocument(
                verification_pb2.VerifyDocumentRequest(use=use, pdf=_edited(pdf)), metadata=clerk_id
            ).report,
        ),
        (
            "a 结婚证 cancelled since",
            clerk.VerifyLicense(
                verification_pb2.VerifyLicenseRequest(use=use, license_id=cancelled.license_id), metadata=clerk_id
            ).report,
        ),
    ]
    for what, report in answers:
        why = _REASONS.get(report.reason, report.reason)
        if why and report.license.status_since:  # "已注销 (date)"
            why += f" ({report.license.status_since})"
        verdict = _VERDICT.get(report.verdict, "?")
        out(f"  {what}: {verdict}{'  ' + why if why else ''}  (回执 {report.receipt.receipt_id})")

    out("\n== 7. The holder's view (用证记录): who used the 结婚证, when and why ==")
    portal = audit_pb2_grpc.AuditServiceStub(channel_for(PORTAL))
    records = portal.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=marriage.holder.code)).records
    for record in records:
        at = dt.datetime.fromtimestamp(record.at.seconds, _CHINA).strftime("%Y-%m-%d %H:%M:%S")
        out(f"  {at}  {_access_line(record)}")
    return {
        "verdicts": [report.verdict for _, report in answers],
        "holder_records": len(records),
        "marriage": marriage.license_id,
    }


def _access_line(record: audit_pb2.AccessRecord) -> str:
    """One use of a license as its holder reads it: who (the clerk in parentheses, when named), why (the purpose,
    when given), what they did and what the gateway answered, in Chinese (a code the demo has no word for as is)."""
    who = record.caller_name or record.caller
    if record.operator:
        who += f" ({record.operator})"
    action = _ACTIONS.get(record.action, record.action)
    decision = _DECISIONS.get(record.decision, record.decision)
    return "  ".join(part for part in (who, record.purpose, f"{action}：{decision}" if decision else action) if part)


def _edited(pdf: bytes) -> bytes:
    """The PDF with one byte of its first content stream changed, as an edit after sealing would."""
    start = pdf.index(b"stream", pdf.index(b"/Length")) + 64
    return pdf[:start] + bytes([pdf[start] ^ 0x20]) + pdf[start + 1 :]


def _fresh(record: dict[str, Any], run: int) -> dict[str, Any]:
    record = {**record, "request_id": f"demo-{run}-{record['request_id']}", "issue_date": dt.date.today().isoformat()}
    if record["type_code"] == samples.FOOD_PERMIT:
        record["license_number"] = f"SC1063701{run:09d}"[:18]
    return record


def _collect(stream: Any, events: list[issuance_pb2.LicenseChangeEvent]) -> None:
    try:
        for reply in stream:
            events.append(reply.event)
    except grpc.RpcError:
        pass
