"""``zzgw demo``: the journeys of docs' SCENARIOS.md against a live gateway, printed as they go.

归集 and 动态更新: two departments issue a 营业执照, a 食品生产许可证 (the market regulator) and the new legal
representative's 居民身份证 (公安局); the market regulator reads and amends the business license (法定代表人变更) and
revokes the food permit; the tax bureau's subscription, open from the first event before step 1, shows this run's
change events of the license types its matters use.

企业开办一件事: 公安局 lists the company's licenses for 企业印章刻制 and verifies the 营业执照 (a receipt, linked to the
bundle's case), and reads the legal representative's 居民身份证 with the consent code the holder portal granted; 税务局,
later in the same case, relies on 公安局's receipt (首办核验、接办免收); 人社局 prefills its 社保登记 form with each
value's provenance; the company's holder view lists the uses.

新生儿出生一件事: 卫健委 issues a 出生医学证明; 公安局's read for 出生登记 is refused (NEEDS_AUTHORIZATION, with its
remedy) until it asks (RequestAccess) and 卫健委 approves in its queue for a year; 医疗保障局 reads it once with a
one-use consent, and a second time is refused (consent used up).

窗口核验: a clerk at the 不动产登记中心 scans a 结婚证's QR code and checks the printed PDF (green), a PDF edited
after sealing (red: 签章已被篡改) and a 结婚证 cancelled since (red: 证照已注销, with its date), each with a receipt
number; the holder's portal then shows who looked at the license, when and why. A 护照 (not shared) is verified
as its holder presents it, and its data refused.

批量归集: 200 食品生产许可证 lines, 3 of them malformed, go through ``zzgw import``'s code path; the malformed ones are
reported with line, field and reason, and running the same file again creates nothing new.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2

from adapters.batch_import import failure_line, import_file
from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.audit import reason_words
from gateway.domain.catalog import SharingClass
from gateway.domain.counts import counted
from gateway.domain.model import LicenseStatus, SystemClock, mask, today
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    authorization_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    common_pb2,
    issuance_pb2,
    issuance_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)

MARKET = "11370100993701011T"  # 济南市市场监督管理局
POLICE = "1137010099370102XJ"  # 济南市公安局
CIVIL = "113701009937010548"  # 济南市民政局 (issues 结婚证)
TAX = "11370100993701097M"  # 国家税务总局济南市税务局 (watches changes)
REAL_ESTATE = "123701009937011183"  # 济南市不动产登记中心 (verifies at its window)
PORTAL = "12370100993701126X"  # 济南市数字政务服务中心 (the holder portal)
HEALTH = "113701009937010623"  # 济南市卫生健康委员会 (issues 出生医学证明)
HRSS = "11370100993701070X"  # 济南市人力资源和社会保障局 (社保登记)
MEDICAL = "1137010099370110X6"  # 济南市医疗保障局 (参保登记)
EXIT = "11370100993701046D"  # 济南市公安局出入境管理支队 (issues 护照)
TRANSFER = "370100-BDCZY-001"  # 不动产转移登记
SEAL_ENGRAVING = "370100-QYKZ-001"  # 企业印章刻制 (公安局)
INVOICE = "370100-FPSL-001"  # 发票申领 (税务局)
SOCIAL_INSURANCE = "370100-SBDJ-001"  # 社保登记 (人社局)
BUSINESS_BUNDLE = "370100-YJS-QYKB"  # 企业开办一件事
BIRTH_REGISTRATION = "370100-CSDJ-001"  # 出生登记 (公安局)
MEDICAL_INSURANCE = "370100-CBDJ-001"  # 参保登记 (医疗保障局)
BIRTH_BUNDLE = "370100-YJS-XSECS"  # 新生儿出生一件事
BIRTH_CERTIFICATE = "1110000099100006XH001"
PASSPORT = "111000009910000279001"
DEMO_MEMBERS = (MARKET, POLICE, CIVIL, TAX, REAL_ESTATE, PORTAL, HEALTH, HRSS, MEDICAL, EXIT)
"""The demo members whose credentials the demo uses: a gateway must have registered them (the demo members)."""

_VERDICT = {1: "核验通过", 2: "核验未通过", 3: "无法确定"}
"""A verdict as the console, ``zzgw verify`` and the holder's 用证记录 say it; a reason in their words too
(``gateway.domain.audit.reason_words``: 证照已注销, 签章已被篡改), not in words of the demo's own."""

_BASIS = {
    sharing_pb2.SHARING_BASIS_ISSUER: "发证部门",
    sharing_pb2.SHARING_BASIS_UNCONDITIONAL: "无条件共享",
    sharing_pb2.SHARING_BASIS_APPROVAL: "发证部门审批",
    sharing_pb2.SHARING_BASIS_CONSENT: "持证人授权",
}
"""Why a field was shared, as a clerk reads it."""
_ACCESS = {
    sharing_pb2.ACCESS_STATE_AVAILABLE: "可用（AVAILABLE）",
    sharing_pb2.ACCESS_STATE_NEEDS_AUTHORIZATION: "需授权（NEEDS_AUTHORIZATION）",
    sharing_pb2.ACCESS_STATE_NOT_SHARED: "不予共享（NOT_SHARED）",
}
_REQUEST_WORDS = {
    "PENDING": "尚待审批",
    "APPROVED": "已获批准",
    "REJECTED": "已被驳回",
    "EXPIRED": "已过期",
    "WITHDRAWN": "已撤回",
}
"""A 共享申请's state, as the gateway's refusals say it."""
_CHINA = dt.timezone(dt.timedelta(hours=8))
_STATUS = {v.number: v.name.removeprefix("LICENSE_STATUS_") for v in common_pb2.LicenseStatus.DESCRIPTOR.values}
_KIND = {v.number: v.name.removeprefix("CHANGE_KIND_") for v in issuance_pb2.ChangeKind.DESCRIPTOR.values}
_REQUEST_STATE = {
    v.number: v.name.removeprefix("ACCESS_REQUEST_STATE_")
    for v in authorization_pb2.AccessRequestState.DESCRIPTOR.values
}
BATCH_LINES = 200
"""The 食品生产许可证 lines of the demo's 批量归集, three of them malformed."""
WATCH_SECONDS = 15.0
"""How long step 5 waits for the tax bureau's subscription after its last event (or step 5's start, if later): it
reads the 营业执照 events from the store's first, every earlier run's and import's included, and keeps this run's."""
WATCH_LIMIT = 120.0
"""How long step 5 waits at most while the subscription is still replaying earlier events."""
RECENT_EVENTS = 10_000
"""How many of the latest events not (yet) known to be this run's the subscription keeps: an event may come before
the reply that names its license."""


class DemoUnexpected(Exception):
    """A step's answer was not the one the demo walks through (a gateway whose catalog or members differ from the
    demo's, a subscription that did not deliver): ``zzgw demo`` says it in one line, exit 1."""

    def __init__(self, step: str, what: str):
        super().__init__(f"第 {step} 步的结果与预期不符（step {step} did not go as the demo expects）：{what}")
        self.step = step


class _Subscription:
    """A WatchLicenseChanges stream read on a thread of its own: this run's events as they come (its licenses named by
    ``expect``), how many came in all and when the last did, and the error it ended with (none when the demo
    cancelled it)."""

    def __init__(self, stream: Any):
        self._stream = stream
        self._ours: set[str] = set()
        self._mine: list[tuple[int, issuance_pb2.LicenseChangeEvent]] = []
        self._recent: deque[tuple[int, issuance_pb2.LicenseChangeEvent]] = deque(maxlen=RECENT_EVENTS)
        self._seen: set[tuple[int, str]] = set()
        self.received = 0
        self._last = time.monotonic()
        self.error: grpc.RpcError | None = None
        self._cancelled = self._ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        try:
            for reply in self._stream:
                with self._changed:
                    self.received += 1
                    self._last = time.monotonic()
                    if reply.event.license_id in self._ours:
                        self._keep((self.received, reply.event))
                        self._changed.notify_all()
                    else:
                        self._recent.append((self.received, reply.event))
        except grpc.RpcError as error:
            with self._changed:
                if not self._cancelled:
                    self.error = error
        finally:
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    def _keep(self, item: tuple[int, issuance_pb2.LicenseChangeEvent]) -> None:
        self._mine.append(item)
        self._seen.add((item[1].kind, item[1].license_id))

    def expect(self, license_id: str) -> None:
        """Keep the events of ``license_id`` (one of this run's), those that came already included."""
        with self._changed:
            self._ours.add(license_id)
            for item in [item for item in self._recent if item[1].license_id == license_id]:
                self._recent.remove(item)
                self._keep(item)

    def wait_for(
        self, wanted: set[tuple[int, str]], quiet: float, limit: float
    ) -> tuple[list[issuance_pb2.LicenseChangeEvent], bool]:
        """This run's events that came, in their order, once every ``(kind, license_id)`` of ``wanted`` came, or the
        stream ended, or no event came for ``quiet`` seconds (from the last, or from now if later), or ``limit``
        seconds passed; and whether events were still coming then (a replay of earlier events not done). The stream
        is cancelled then. Its error, when it ended with one before ``wanted`` came, is raised (the gateway's answer:
        TOO_MANY_WATCHERS_FOR_MEMBER…)."""
        start = time.monotonic()
        with self._changed:
            while not self._ended and not wanted <= self._seen:
                now = time.monotonic()
                until = min(max(self._last, start) + quiet, start + limit)
                if now >= until:
                    break
                self._changed.wait(until - now)
            self._cancelled = True
            done = wanted <= self._seen
            flowing = not done and not self._ended and time.monotonic() - max(self._last, start) < quiet
            error = None if done else self.error
            events = [event for _, event in sorted(self._mine, key=lambda item: item[0])]
        self._stream.cancel()
        if error is not None:
            raise error
        return events, flowing


def run_demo(
    channel_for: Callable[[str], grpc.Channel],
    out: Callable[[str], object] = print,
    reconnecting: Callable[[grpc.RpcError], None] | None = None,
) -> dict[str, Any]:
    """Run the demo; ``channel_for(member_code)`` gives a channel with that member's credentials; ``reconnecting`` is
    called when the 批量归集 starts reconnecting to a gateway gone (``import_file``'s).

    A gateway's refusal or absence is raised as its ``grpc.RpcError``; a step answered otherwise than the demo
    expects as ``DemoUnexpected``; the batch's end on the gateway's error as ``ImportRefused``."""
    run = random.SystemRandom().randrange(10**5, 10**6)  # in holder codes and numbers only: a run's own licenses
    market = issuance_pb2_grpc.IssuanceServiceStub(channel_for(MARKET))
    police = issuance_pb2_grpc.IssuanceServiceStub(channel_for(POLICE))
    # from the first event: whenever the stream opens (a busy gateway, a slow network), it sends every event of this
    # run's licenses; "from now" opened after them would miss them, and no fixed wait makes sure it opened first
    subscription = _Subscription(
        issuance_pb2_grpc.IssuanceServiceStub(channel_for(TAX)).WatchLicenseChanges(
            issuance_pb2.WatchLicenseChangesRequest(from_beginning=True, type_codes=[samples.BUSINESS_LICENSE])
        )
    )

    business = market.IssueLicense(issue_request(_fresh(samples.business_license(5 * run), run))).license  # 科技
    subscription.expect(business.license_id)
    slot = _free_permit_slot(market)  # the permit numbers of this run: step 1's and the batch's
    food = market.IssueLicense(issue_request(_fresh(samples.food_permit(run), run, slot))).license
    # the legal representative after the amendment below (法定代表人变更), whose card 企业开办 needs
    person = police.IssueLicense(issue_request(_id_card(run))).license
    out("== 1. 归集: two departments issue licenses ==")  # once the gateway answered: a run that started
    for lic in (business, food, person):
        out(f"  {lic.type_name:<8} {lic.license_id}")
        out(
            f"           holder {lic.holder.name} ({mask(lic.holder.code)}), issued by {lic.issuer_name}, "
            f"status {_status_words(lic.status)}, seal {lic.record_seal.algorithm} {lic.record_seal.key_id[:12]}…"
        )

    out("\n== 2. GetLicense: the market regulator reads its business license ==")
    got = market.GetLicense(issuance_pb2.GetLicenseRequest(license_id=business.license_id)).license
    fields = got.fields
    out(f"  {fields['company_name']}：法定代表人 {fields['legal_representative']}，住所 {fields['domicile']}")

    out("\n== 3. AmendLicense (变更): a new legal representative ==")
    amended = market.AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id=f"demo-amend-{run}",
            license_id=business.license_id,
            fields={"legal_representative": person.holder.name},
            reason="法定代表人变更",
        )
    )
    subscription.expect(amended.license.license_id)
    out(f"  version {amended.license.version}: {amended.license.license_id} (法定代表人 {person.holder.name})")
    out(
        f"  version {amended.superseded.version}: now {_status_words(amended.superseded.status)}, "
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
    out(f"  {revoked.license_id}：{_status_words(revoked.status)}（{revoked.status_reason}）")

    # the business license's issue and amendment; the food permit's and the ID card's events are not the tax
    # bureau's to see (the types its matters use)
    expected: set[tuple[int, str]] = {
        (issuance_pb2.CHANGE_KIND_ISSUED, business.license_id),
        (issuance_pb2.CHANGE_KIND_AMENDED, amended.license.license_id),
    }
    events, replaying = subscription.wait_for(expected, WATCH_SECONDS, WATCH_LIMIT)
    out("\n== 5. WatchLicenseChanges: what the tax bureau's subscription received ==")
    out("  (the license types its matters use: 发票申领 needs the 营业执照, not the food permit or the ID card;")
    out("   watched from the first 营业执照 event, this run's shown)")
    for event in events:
        out(f"  cursor {event.cursor:>6}  {_KIND[event.kind]:<15} {_status_words(event.status):<6} {event.license_id}")
    if missing := expected - {(e.kind, e.license_id) for e in events}:
        for kind, license_id in sorted(missing):
            out(f"  missing: {_KIND[kind]} {license_id}")
        if replaying:
            raise DemoUnexpected(
                "5",
                f"税务局的订阅仍在重放此前的事件：{WATCH_LIMIT:.0f} 秒内已收到 {subscription.received} 件，本次的 "
                f"{len(missing)} 件尚未到达（the tax bureau's subscription is still replaying earlier events: "
                f"{subscription.received} received in {WATCH_LIMIT:.0f} s, this run's {len(missing)} not yet）",
            )
        raise DemoUnexpected(
            "5",
            f"税务局的订阅在最后一件事件后 {WATCH_SECONDS:.0f} 秒内未收到 {len(missing)} 件应收的变更事件（the tax "
            f"bureau's subscription did not deliver {counted(len(missing), 'expected change event')} within "
            f"{WATCH_SECONDS:.0f} s of its last event）",
        )
    out(
        f"\nSummary: issued 3 licenses of 3 types, amended 1 (now version {amended.license.version}), revoked 1; "
        f"{counted(len(events), 'change event')} delivered to the tax bureau. Resume a subscription from the last "
        "cursor to miss nothing."
    )
    opening = _opening_a_business(channel_for, run, amended.license, person, out)
    birth = _a_birth(channel_for, run, out)
    checks = _window_check(channel_for, run, out)
    passport = _not_shared(channel_for, run, person, out)
    batch = _batch_import(channel_for, run, slot, out, reconnecting)
    return {
        **checks,
        **opening,
        **birth,
        **passport,
        **batch,
        "business": amended.license.license_id,
        "food": food.license_id,
        "person": person.license_id,
        "events": len(events),
        "permit_slot": slot,
    }


def _opening_a_business(
    channel_for: Callable[[str], grpc.Channel],
    run: int,
    business: common_pb2.License,
    person: common_pb2.License,
    out: Callable[[str], object],
) -> dict[str, Any]:
    """企业开办一件事: 公安局 (刻章备案), 税务局 (发票申领) and 人社局 (社保登记) in one case of the bundle."""
    case = f"QYKB-{run}"
    company = business.holder
    seal_use = verification_pb2.UseContext(
        matter_code=SEAL_ENGRAVING,
        purpose="企业开办：公章刻制备案",
        bundle_code=BUSINESS_BUNDLE,
        case_id=case,
    )
    police_sharing = sharing_pb2_grpc.SharingServiceStub(channel_for(POLICE))
    police_check = verification_pb2_grpc.VerificationServiceStub(channel_for(POLICE))
    out(f"\n== 6. 企业开办一件事（办件 {case}）：{company.name} ==")

    out("  6.1 济南市公安局 企业印章刻制：查询企业证照（ListHolderLicenses）")
    listing = police_sharing.ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(
            use=seal_use, holder_code_type=company.code_type, holder_code=company.code
        )
    )
    for held in listing.licenses:
        out(f"      {held.type_name} {held.license_id}：{_ACCESS[held.access_state]}，{_status_words(held.status)}")
    for missing in listing.missing:
        out(f"      企业名下没有：{missing.type_name}")
    for others in listing.held_by_others:  # the gateway says whose: not the company's to lack
        out(f"      他人的材料：{others.type_name}（持证人是法定代表人本人，凭其授权调取，见 6.3）")

    out("  6.2 济南市公安局 核验营业执照（VerifyLicense）")
    report = police_check.VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=seal_use, license_id=business.license_id)
    ).report
    out(f"      {_verdict_line(report)}（回执编号 {report.receipt.receipt_id}）")

    out("  6.3 法定代表人的居民身份证：持证人在政务服务平台授权（GrantConsent），公安局凭用证码调取（GetLicenseData）")
    portal = authorization_pb2_grpc.AuthorizationServiceStub(channel_for(PORTAL))
    granted = portal.GrantConsent(
        authorization_pb2.GrantConsentRequest(
            holder_code=person.holder.code,
            grantee_code=POLICE,
            matter_code=SEAL_ENGRAVING,
            license_ids=[person.license_id],
            valid_until=_in_days(1),
            uses=1,
        )
    )
    allowed = granted.consent.uses_allowed
    out(f"      用证码 {granted.code[:4]}…（授权编号 {granted.consent.consent_id}，可用 {allowed} 次）")
    card = police_sharing.GetLicenseData(
        sharing_pb2.GetLicenseDataRequest(use=seal_use, license_id=person.license_id, consent_code=granted.code)
    )
    for line in _data_lines(card, _labels(channel_for, person.type_code)):
        out(f"      {line}")

    out("  6.4 国家税务总局济南市税务局 发票申领：查看本办件的核验回执（ListCaseReceipts）")
    tax = verification_pb2_grpc.VerificationServiceStub(channel_for(TAX))
    receipts = tax.ListCaseReceipts(
        verification_pb2.ListCaseReceiptsRequest(
            use=verification_pb2.UseContext(
                matter_code=INVOICE,
                purpose="企业开办：新办纳税人首次申领发票",
                bundle_code=BUSINESS_BUNDLE,
                case_id=case,
            )
        )
    ).receipts
    relied = ""
    for found in receipts:
        passed = found.standing_now.result == verification_pb2.CHECK_RESULT_PASSED
        standing = "有效" if passed else reason_words(found.standing_now.reason) or found.standing_now.reason
        out(
            f"      回执 {found.receipt.receipt_id}：{_name(found.caller)} {found.matter_code} "
            f"核验 {found.license_id}，现在状态：{standing}"
        )
        if found.receipt.receipt_id == report.receipt.receipt_id and passed:
            relied = found.receipt.receipt_id
    if relied:
        out(f"      首办核验、接办免收：沿用公安局的回执 {relied}，不再核验营业执照")

    out("  6.5 济南市人力资源和社会保障局 社保登记：表单预填（PrefillForm）")
    hrss = sharing_pb2_grpc.SharingServiceStub(channel_for(HRSS))
    form = hrss.PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=verification_pb2.UseContext(
                matter_code=SOCIAL_INSURANCE,
                purpose="企业开办：单位社会保险登记",
                bundle_code=BUSINESS_BUNDLE,
                case_id=case,
            ),
            holder_code_type=company.code_type,
            holder_code=company.code,
            field_keys=["企业名称", "统一社会信用代码", "法定代表人", "住所"],
        )
    )
    for value in form.values:
        out(
            f"      {value.key}：{value.value}  ← {_TYPE_NAMES.get(value.type_code, value.type_code)}"
            f"「{value.field_label}」 {value.license_id}（{_BASIS.get(value.basis, '?')}）"
        )
    for unfilled in form.unfilled:
        out(f"      {unfilled.key}：未填（{unfilled.reason} {unfilled.detail}）")

    out(f"  6.6 {company.name}的用证记录（the holder's view）")
    records = _holder_view(channel_for, company.code, out, indent="      ")
    return {
        "case": case,
        "listing": [(held.type_code, held.access_state) for held in listing.licenses],
        "seal_receipt": report.receipt.receipt_id,
        "relied_on": relied,
        "id_card_fields": {f.key: (f.value, f.masked, f.basis) for f in card.fields},
        "id_card_consent": card.consent_id,
        "prefilled": {v.key: (v.value, v.license_id, v.field_key) for v in form.values},
        "company_records": [(r.caller, r.action, r.decision) for r in records],
    }


def _a_birth(channel_for: Callable[[str], grpc.Channel], run: int, out: Callable[[str], object]) -> dict[str, Any]:
    """新生儿出生一件事: the 出生医学证明, 公安局's approval from 卫健委, 医疗保障局's one-use consent."""
    health = issuance_pb2_grpc.IssuanceServiceStub(channel_for(HEALTH))
    certificate = health.IssueLicense(issue_request(_birth_certificate(run))).license
    case = f"XSECS-{run}"
    out(f"\n== 7. 新生儿出生一件事（办件 {case}） ==")
    out(f"  7.1 济南市卫生健康委员会 签发出生医学证明：{certificate.license_id}")
    out(
        f"      新生儿 {certificate.holder.name}（医院编码 {mask(certificate.holder.code)}，尚无公民身份号码），"
        "持证主体为新生儿本人"
    )

    police = sharing_pb2_grpc.SharingServiceStub(channel_for(POLICE))
    registration = verification_pb2.UseContext(
        matter_code=BIRTH_REGISTRATION, purpose="新生儿户口登记", bundle_code=BIRTH_BUNDLE, case_id=case
    )
    ask = sharing_pb2.GetLicenseDataRequest(use=registration, license_id=certificate.license_id)
    out("  7.2 济南市公安局 出生登记：未经授权调取（有条件共享）")
    refused = _refusal("7.2", lambda: police.GetLicenseData(ask))
    out(f"      拒绝：{refused['reason']} {refused['message']}")
    if refused["remedy"]:
        out(f"      办法：{refused['remedy']}")

    out("  7.3 公安局提交共享申请（RequestAccess），卫健委在审批队列中批准一年（DecideAccessRequest）")
    labels = _labels(channel_for, BIRTH_CERTIFICATE)
    requests = authorization_pb2_grpc.AuthorizationServiceStub(channel_for(POLICE))
    submitted = requests.RequestAccess(
        authorization_pb2.RequestAccessRequest(
            use=registration,
            license_id=certificate.license_id,
            duration_days=365,
            client_request_id=f"demo-{run}-csdj",
        )
    ).request
    out(
        f"      共享申请 {submitted.request_id}：{_request_words(submitted.state)}，"
        f"信息项 {'、'.join(labels.get(key, key) for key in submitted.fields)}"
    )
    queue = authorization_pb2_grpc.AuthorizationServiceStub(channel_for(HEALTH))
    pending = queue.ListAccessRequests(
        authorization_pb2.ListAccessRequestsRequest(
            view=authorization_pb2.ACCESS_REQUEST_VIEW_ISSUER_QUEUE,
            state=authorization_pb2.ACCESS_REQUEST_STATE_PENDING,
            matter_code=BIRTH_REGISTRATION,
        )
    ).requests
    queued = next((r for r in pending if r.request_id == submitted.request_id), None)
    if queued is None:
        raise DemoUnexpected(
            "7.3", f"卫健委的审批队列中没有共享申请 {submitted.request_id}（not in the issuer's queue）"
        )
    decided = queue.DecideAccessRequest(
        authorization_pb2.DecideAccessRequestRequest(
            request_id=queued.request_id,
            decision=authorization_pb2.ACCESS_DECISION_APPROVE,
            duration_days=365,
            reason="出生登记法定所需",
        )
    ).request
    until = dt.datetime.fromtimestamp(decided.valid_until.seconds, _CHINA).date()
    out(
        f"      卫健委审批队列：{queued.requester_name} {queued.matter_code} → {_request_words(decided.state)}，"
        f"有效至 {until}"
    )
    out("  7.4 公安局再次调取（GetLicenseData）")
    approved = police.GetLicenseData(ask)
    for line in _data_lines(approved, {}):
        out(f"      {line}")

    out("  7.5 济南市医疗保障局 参保登记：母亲为新生儿代为授权一次（监护人代为授权，GrantConsent），用证码只能用一次")
    portal = authorization_pb2_grpc.AuthorizationServiceStub(channel_for(PORTAL))
    mother = certificate.fields["mother_citizen_id"]
    granted = portal.GrantConsent(
        authorization_pb2.GrantConsentRequest(
            holder_code=mother,  # the parent the certificate names: the consent is the child's, the mother its guardian
            grantee_code=MEDICAL,
            matter_code=MEDICAL_INSURANCE,
            license_ids=[certificate.license_id],
            valid_until=_in_days(30),
            uses=1,
        )
    )
    out(
        f"      用证码 {granted.code}：持证人 {mask(granted.consent.holder_code)}（新生儿），"
        f"监护人 {mask(granted.consent.guardian_code)}（母亲）"
    )
    medical = sharing_pb2_grpc.SharingServiceStub(channel_for(MEDICAL))
    insured = sharing_pb2.GetLicenseDataRequest(
        use=verification_pb2.UseContext(
            matter_code=MEDICAL_INSURANCE, purpose="城乡居民医保参保登记", bundle_code=BIRTH_BUNDLE, case_id=case
        ),
        license_id=certificate.license_id,
        consent_code=granted.code,
    )
    first = medical.GetLicenseData(insured)
    shown = "，".join(f"{f.label} {f.value}" for f in first.fields)
    basis = _BASIS.get(first.fields[0].basis, "?")
    if first.fields[0].basis == sharing_pb2.SHARING_BASIS_CONSENT and granted.consent.guardian_code:
        basis = "监护人代为授权"  # the mother's, not the newborn's (a reviewer, scen1 R2)
    out(f"      第一次：准予（{basis}，剩余 {first.consent_uses_left} 次）：{shown}")
    again = _refusal("7.5", lambda: medical.GetLicenseData(insured))
    out(f"      第二次：拒绝 {again['reason']} {again['message']}")
    return {
        "birth": certificate.license_id,
        "birth_holder": certificate.holder.code,
        "birth_holder_code_type": certificate.holder.code_type,
        "unauthorised": refused,
        "approval": (_REQUEST_STATE[decided.state], until),
        "approved_fields": {f.key: (f.value, f.masked, f.basis) for f in approved.fields},
        "consent_guardian": (granted.consent.holder_code, granted.consent.guardian_code, mother),
        "insurance_first": {f.key: f.basis for f in first.fields},
        "insurance_again": again,
    }


def _window_check(channel_for: Callable[[str], grpc.Channel], run: int, out: Callable[[str], object]) -> dict[str, Any]:
    """窗口核验 at the 不动产登记中心, then the holder's view of the audit trail."""
    civil = issuance_pb2_grpc.IssuanceServiceStub(channel_for(CIVIL))
    clerk = verification_pb2_grpc.VerificationServiceStub(channel_for(REAL_ESTATE))
    use = verification_pb2.UseContext(matter_code=TRANSFER, purpose="不动产转移登记：核验婚姻状况")
    clerk_id = [("x-zzgw-operator-bin", "不动产登记中心 3号窗口".encode())]

    marriage = civil.IssueLicense(issue_request(_fresh(samples.marriage_certificate(run), run))).license
    cancelled = civil.IssueLicense(issue_request(_fresh(samples.marriage_certificate(run + 1), run))).license
    pdf = civil.GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=marriage.license_id)).pdf
    civil.ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=f"demo-cancel-{run}",
            license_id=cancelled.license_id,
            action=issuance_pb2.STATUS_ACTION_CANCEL,
            reason="离婚登记",
        )
    )
    try:
        code = qr_code_of(pdf)  # what the applicant's phone shows: the code printed on the license
    except ValueError as exc:
        raise DemoUnexpected("8", f"结婚证的 PDF 上读不到核验码（{exc}）") from exc

    out("\n== 8. 窗口核验: the 不动产登记中心 checks a 结婚证 instead of asking for the paper original ==")
    answers = [
        (
            "scanning its QR code (扫码)",
            clerk.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, qr_code=code), metadata=clerk_id).report,
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
        out(f"  {what}: {_verdict_line(report)}（回执编号 {report.receipt.receipt_id}）")
        if what.startswith("scanning"):
            summary = report.license
            out(
                f"      {summary.type_name} {summary.license_id}，持证人 {summary.holder_name_masked}"
                f"（{summary.holder_code_masked}），{summary.issuer_name}，{_status_words(summary.status)}"
            )

    out("\n== 9. The holder's view (用证记录): who used the 结婚证, when and why ==")
    records = _holder_view(channel_for, marriage.holder.code, out)
    return {
        "verdicts": [report.verdict for _, report in answers],
        "reasons": [report.reason for _, report in answers],
        "qr_code": code,
        "holder_records": len(records),
        "marriage": marriage.license_id,
        "cancelled": cancelled.license_id,
    }


def _not_shared(
    channel_for: Callable[[str], grpc.Channel], run: int, person: common_pb2.License, out: Callable[[str], object]
) -> dict[str, Any]:
    """The 护照: not shared. The 不动产登记中心 verifies the one its holder presents under 不动产转移登记, whose
    materials list it with no field (verification only), and reading its data there is refused (不予共享)."""
    exit_entry = issuance_pb2_grpc.IssuanceServiceStub(channel_for(EXIT))
    passport = exit_entry.IssueLicense(issue_request(_passport(person, run))).license
    pdf = exit_entry.GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=passport.license_id)).pdf
    out("\n== 10. 不予共享: the 护照 ==")
    out(f"  济南市公安局出入境管理支队 签发护照：{passport.license_id}")
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel_for(EXIT))
    kind = catalog.GetLicenseType(catalog_pb2.GetLicenseTypeRequest(type_code=PASSPORT)).license_type
    shared = SharingClass(catalog_pb2.SharingClass.Name(kind.sharing_class).removeprefix("SHARING_CLASS_"))
    out(f"  证照目录：护照{shared.words}，仅供核验持证人出示的证照")
    use = verification_pb2.UseContext(matter_code=TRANSFER, purpose="不动产转移登记：核验权利人身份")
    clerk = verification_pb2_grpc.VerificationServiceStub(channel_for(REAL_ESTATE))
    report = clerk.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=use, pdf=pdf)).report
    out(
        f"  济南市不动产登记中心 不动产转移登记：核验持证人出示的护照：{_verdict_line(report)}"
        f"（回执编号 {report.receipt.receipt_id}）"
    )
    real_estate = sharing_pb2_grpc.SharingServiceStub(channel_for(REAL_ESTATE))
    refused = _refusal(
        "10",
        lambda: real_estate.GetLicenseData(sharing_pb2.GetLicenseDataRequest(use=use, license_id=passport.license_id)),
    )
    out(f"  济南市不动产登记中心 调取护照数据：拒绝 {refused['reason']} {refused['message']}")
    return {"passport": passport.license_id, "passport_verdict": report.verdict, "passport_refused": refused}


def _batch_import(
    channel_for: Callable[[str], grpc.Channel],
    run: int,
    slot: int,
    out: Callable[[str], object],
    reconnecting: Callable[[grpc.RpcError], None] | None,
) -> dict[str, Any]:
    """批量归集: a JSON Lines export through ``zzgw import``'s code path, twice (its reconnections to a gateway gone
    announced by ``reconnecting``; its end on the gateway's error raised, ``ImportRefused``). Counts other than the
    demo's (197 created and 3 malformed, then nothing new) are ``DemoUnexpected``, once the failures are listed."""
    out(f"\n== 11. 批量归集: 济南市市场监督管理局 imports {BATCH_LINES} 食品生产许可证 lines (zzgw import) ==")
    runs = []
    with tempfile.TemporaryDirectory(prefix="zzgw-demo-") as directory:
        path = Path(directory) / "food-permits.jsonl"
        path.write_text("".join(line + "\n" for line in _food_permit_lines(run, slot)), encoding="utf-8")
        for attempt in ("第一次导入", "同一文件再次导入"):
            report = import_file(path, lambda: channel_for(MARKET), reconnecting=reconnecting)
            runs.append(report)
            out(
                f"  {attempt}：{report.lines} 行（新签发 {report.created} 件，"
                f"此前已有 {report.existing} 件，失败 {report.failed} 行）"
            )
    for failure in runs[0].failures:  # as `zzgw import` lists them
        out(f"    {failure_line(failure)}")
    counts = [(r.created, r.existing, r.failed) for r in runs]
    expected = [(BATCH_LINES - len(MALFORMED), 0, len(MALFORMED)), (0, BATCH_LINES - len(MALFORMED), len(MALFORMED))]
    if counts != expected:
        raise DemoUnexpected(
            "11",
            f"批量归集新签发 {counts[0][0]} 件、失败 {counts[0][2]} 行，再次导入新签发 {counts[1][0]} 件，应为 "
            f"{expected[0][0]} 件、{expected[0][2]} 行与 0 件（the batch created {counts[0][0]} and failed "
            f"{counts[0][2]} lines, then created {counts[1][0]} on the rerun; the demo expects {expected[0][0]}, "
            f"{expected[0][2]} and 0）",
        )
    return {
        "imported": [(r.lines, r.created, r.existing, r.failed) for r in runs],
        "import_failures": [(f.line, f.field, f.reason) for f in runs[0].failures],
    }


def qr_code_of(pdf: bytes) -> str:
    """The ``ZZ1:`` text of the verification QR code printed on a license's PDF (as a phone's scan reads it)."""
    import zxingcpp
    from PIL import Image
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    images = page["/Resources"].get("/XObject") or {}
    for reference in images.values():
        image = reference.get_object()
        modes = {"/DeviceRGB": "RGB", "/DeviceGray": "L"}
        if image.get("/Subtype") != "/Image" or str(image.get("/ColorSpace")) not in modes:
            continue
        size = (int(image["/Width"]), int(image["/Height"]))
        for found in zxingcpp.read_barcodes(Image.frombytes(modes[str(image["/ColorSpace"])], size, image.data)):
            if found.text.startswith("ZZ1:"):
                return str(found.text)
    raise ValueError("the PDF shows no ZZ1: verification code")


def _holder_view(
    channel_for: Callable[[str], grpc.Channel], holder_code: str, out: Callable[[str], object], indent: str = "  "
) -> list[audit_pb2.AccessRecord]:
    portal = audit_pb2_grpc.AuditServiceStub(channel_for(PORTAL))
    records = list(portal.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder_code)).records)
    for record in records:  # Beijing time, said so, as the console says its times
        at = dt.datetime.fromtimestamp(record.at.seconds, _CHINA).strftime("%Y-%m-%d %H:%M:%S")
        out(f"{indent}{at}（北京时间）  {_access_line(record)}")
    return records


def _verdict_line(report: verification_pb2.VerificationReport) -> str:
    """核验通过, or 核验未通过 with the reason as a clerk reads it (a status with the day it began:
    证照已注销（2026-12-05 起）)."""
    why = reason_words(report.reason) or report.reason
    if why and report.license.status_since:
        why += f"（{report.license.status_since} 起）"
    return f"{_VERDICT.get(report.verdict, '?')}{'：' + why if why else ''}"


def _status_words(status: int) -> str:
    """A license's status as every surface says it (``LicenseStatus.label``: 有效, 已吊销或撤销, …)."""
    return LicenseStatus.read(_STATUS.get(status, "")).label


def _request_words(state: int) -> str:
    """A 共享申请's state in words, its code after (尚待审批 PENDING)."""
    code = _REQUEST_STATE.get(state, str(state))
    return f"{_REQUEST_WORDS.get(code, '')} {code}".strip()


def _data_lines(data: sharing_pb2.GetLicenseDataResponse, labels: dict[str, str]) -> list[str]:
    """What GetLicenseData shows: each field with why it is shared, the withheld ones with why not, and (with the
    type's labels) the fields the matter does not list, which are never sent."""
    lines = [
        f"{f.label}：{f.value}{'（已脱敏）' if f.masked else ''}  [{_BASIS.get(f.basis, '?')}]" for f in data.fields
    ]
    lines += [f"{w.label}：不提供（{w.reason} {w.detail}）" for w in data.withheld]
    told = {f.key for f in data.fields} | {w.key for w in data.withheld}
    if unlisted := [label for key, label in labels.items() if key not in told]:
        lines.append(f"事项未列出，不提供：{'、'.join(unlisted)}")
    if data.consent_id:
        lines.append(f"用证码已使用（授权编号 {data.consent_id}，剩余 {data.consent_uses_left} 次）")
    return lines


def _refusal(step: str, call: Callable[[], object]) -> dict[str, str]:
    """The refusal ``call`` is answered with: its gRPC code, its reason (``ErrorInfo``), message and remedy; an
    answer instead is ``DemoUnexpected`` at ``step`` (a gateway whose catalog shares what the demo's does not)."""
    from grpc_status import rpc_status

    try:
        call()
    except grpc.RpcError as error:
        info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        status = rpc_status.from_call(error)
        for detail in status.details if status is not None else ():
            if not detail.Unpack(info):
                detail.Unpack(bad)
        # a bad request's message puts each violation's field path before its words (license_id: 事项 …): the words
        # alone, as the console says them
        words = "；".join(v.description for v in bad.field_violations if v.description)
        return {
            "code": error.code().name,
            "reason": info.reason or next((v.reason for v in bad.field_violations), ""),
            "message": words or error.details() or "",
            "remedy": info.metadata.get("remedy", ""),
        }
    raise DemoUnexpected(step, "网关应答了本应拒绝的请求（the call was answered, not refused）")


def _labels(channel_for: Callable[[str], grpc.Channel], type_code: str) -> dict[str, str]:
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel_for(MARKET))
    found = catalog.GetLicenseType(catalog_pb2.GetLicenseTypeRequest(type_code=type_code)).license_type
    return {f.key: f.label for f in found.fields}


_TYPE_NAMES = {
    samples.BUSINESS_LICENSE: "营业执照",
    samples.FOOD_PERMIT: "食品生产许可证",
    samples.ID_CARD: "居民身份证",
    BIRTH_CERTIFICATE: "出生医学证明",
}
_MEMBER_NAMES = {
    MARKET: "济南市市场监督管理局",
    POLICE: "济南市公安局",
    TAX: "国家税务总局济南市税务局",
    HRSS: "济南市人力资源和社会保障局",
}


def _name(member: str) -> str:
    return _MEMBER_NAMES.get(member, member)


def _today() -> dt.date:
    """Today's date in China, which licenses are dated in: the machine's own date is another in its time zone (a
    demo run where it was ahead of China's had been refused ISSUE_DATE_IN_FUTURE)."""
    return today(SystemClock())


def _in_days(days: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=days))
    return stamp


def _access_line(record: audit_pb2.AccessRecord) -> str:
    """One use of a license as its holder reads it: who (the clerk in parentheses, when named), why (the purpose,
    when given), what they did and what the gateway answered, in Chinese (a code the demo has no word for as is)."""
    who = record.caller_name or record.caller
    if record.operator:
        who += f"（{record.operator}）"
    action = record.action_words or record.action
    decision = record.decision_words or record.decision
    return "  ".join(part for part in (who, record.purpose, f"{action}：{decision}" if decision else action) if part)


def _edited(pdf: bytes) -> bytes:
    """The PDF with one byte of its first content stream changed, as an edit after sealing would."""
    start = pdf.index(b"stream", pdf.index(b"/Length")) + 64
    return pdf[:start] + bytes([pdf[start] ^ 0x20]) + pdf[start + 1 :]


def _fresh(record: dict[str, Any], run: int, slot: int = 0) -> dict[str, Any]:
    """A sample record as this run issues it: its own request id, issued today, the company's name without the
    sample's number (the run's number is in its code)."""
    record = {**record, "request_id": f"demo-{run}-{record['request_id']}", "issue_date": _today().isoformat()}
    if record["holder"]["code_type"] == "001":
        name = record["holder"]["name"].rstrip("0123456789")
        name_key = "company_name" if "company_name" in record["fields"] else "producer_name"
        record["holder"] = {**record["holder"], "name": name}
        record["fields"] = {**record["fields"], name_key: name}
    if record["type_code"] == samples.FOOD_PERMIT:
        record["license_number"] = food_permit_number(slot, 0)
        record["fields"] = {**record["fields"], "food_category": food_category(slot)}
    return record


def _id_card(run: int) -> dict[str, Any]:
    """The new legal representative's 居民身份证: a 公民身份号码 of the run's own (its birth day and sequence number
    from the run's number: no two runs share one)."""
    born = dt.date(1970, 1, 1) + dt.timedelta(days=(run // 1000) * 13)
    code = samples.citizen_id(run % 1000, born)
    record = samples.id_card(run + 7)
    name = record["holder"]["name"]
    return {
        **record,
        "request_id": f"demo-{run}-id",
        "license_number": code,
        "holder": {"name": name, "code_type": "111", "code": code},
        "issue_date": _today().isoformat(),
        "fields": {
            **record["fields"],
            "gender": "男" if int(code[16]) % 2 else "女",
            "birth_date": born.isoformat(),
            "citizen_id": code,
        },
    }


def _birth_certificate(run: int) -> dict[str, Any]:
    """A 出生医学证明 of a child born a week ago, the holder the child, under the code the hospital gives (``099``: the
    公安局 gives the 公民身份号码 at 出生登记, later); the mother and father named by their 公民身份号码 (the catalog's
    guardians of the holder: either may consent for the child)."""
    born = _today() - dt.timedelta(days=7)
    child = f"H{born:%Y%m%d}{run:06d}"  # the hospital's scheme, as api.md's H2026120100123
    father_born, mother_born = dt.date(1990, 3, 1 + run % 28), dt.date(1992, 4, 1 + run % 28)
    father, mother = samples.person_name(run + 11), samples.person_name(run + 12)
    name = father[0] + "小明"
    return {
        "request_id": f"demo-{run}-bc",
        "type_code": BIRTH_CERTIFICATE,
        "license_number": f"Q37{run:07d}",
        "holder": {"name": name, "code_type": "099", "code": child},
        "issue_date": _today().isoformat(),
        "fields": {
            "child_name": name,
            "gender": "男",
            "birth_date": born.isoformat(),
            "birth_time": "08:30",
            "gestational_weeks": "39",
            "birth_weight_g": "3250",
            "birth_length_cm": "50.5",
            "birth_place": "370102",
            "birth_facility": "济南市妇幼保健院",
            "mother_name": mother,
            "mother_citizen_id": samples.citizen_id(2 * (run % 500), mother_born),  # even: a woman's
            "father_name": father,
            "father_citizen_id": samples.citizen_id(2 * (run % 500) + 1, father_born),  # odd: a man's
            "issuing_institution": "济南市妇幼保健院",
        },
    }


def _passport(person: common_pb2.License, run: int) -> dict[str, Any]:
    """A 护照 of the ID card's holder."""
    code = person.holder.code
    return {
        "request_id": f"demo-{run}-pp",
        "type_code": PASSPORT,
        "license_number": f"E{run:08d}",
        "holder": {"name": person.holder.name, "code_type": "111", "code": code},
        "issue_date": _today().isoformat(),
        "valid_until": (_today() + dt.timedelta(days=3650)).isoformat(),
        "fields": {
            "passport_type": "P",
            "country_code": "CHN",
            "name": person.holder.name,
            "name_pinyin": "DEMO",
            "gender": "男" if int(code[16]) % 2 else "女",
            "nationality": "中国",
            "birth_date": f"{code[6:10]}-{code[10:12]}-{code[12:14]}",
            "birth_place": "山东",
            "place_of_issue": "山东",
            "issuing_authority": "中华人民共和国国家移民管理局",
        },
    }


_JINAN_COUNTIES = ("02", "03", "04", "05", "12", "13", "14", "15", "16", "17", "24", "26")
"""济南市's county-level codes (GB/T 2260 3701xx: 历下 … 商河), the county digits of the demo's permit numbers."""
_FOOD_CATEGORIES = (
    "粮食加工品", "食用油、油脂及其制品", "调味品", "肉制品", "乳制品", "饮料", "方便食品", "饼干", "罐头", "冷冻饮品",
    "速冻食品", "薯类和膨化食品", "糖果制品", "茶叶及相关制品", "酒类", "蔬菜制品", "水果制品", "炒货食品及坚果制品",
    "蛋制品", "可可及焙烤咖啡产品", "食糖", "水产制品", "淀粉及淀粉制品", "糕点", "豆制品", "蜂产品", "保健食品",
    "特殊医学用途配方食品", "婴幼儿配方食品", "特殊膳食食品", "其他食品",
)  # fmt: skip
"""The food categories of 《食品生产许可分类目录》 in their order: the number's category code is 1 (食品) and the
category's two digits (101 粮食加工品 … 131 其他食品)."""
_BLOCKS = 10_000 // (BATCH_LINES + 1)
"""How many runs' numbers (``BATCH_LINES`` + 1 each) one category and county's 4 sequence digits hold."""
PERMIT_SLOTS = len(_FOOD_CATEGORIES) * len(_JINAN_COUNTIES) * _BLOCKS
"""How many runs' 食品生产许可证编号 the national form holds here (18,228): a run takes a slot no license of the store
holds (``_free_permit_slot``)."""
SLOT_TRIES = 20
"""How many slots a run draws before it says the store holds them all."""


def food_permit_number(slot: int, number: int) -> str:
    """The ``number``-th 食品生产许可证编号 of a run's ``slot`` (0: step 1's, 1 to ``BATCH_LINES``: the batch's), of
    the national form (《食品生产许可管理办法》): SC, the food category (101 … 131), 山东 37, 济南 01, a county of 济南,
    4 sequence digits and a check digit (Luhn's here: the demo's numbers are made up)."""
    category, county, block = (
        slot // (len(_JINAN_COUNTIES) * _BLOCKS),
        slot // _BLOCKS % len(_JINAN_COUNTIES),
        slot % _BLOCKS,
    )
    digits = f"1{category + 1:02d}3701{_JINAN_COUNTIES[county]}{block * (BATCH_LINES + 1) + number:04d}"
    total = sum(sum(divmod(int(d) * (2 - i % 2), 10)) for i, d in enumerate(reversed(digits)))
    return f"SC{digits}{(10 - total % 10) % 10}"


def food_category(slot: int) -> str:
    """The food category of a slot's permits, as their ``food_category`` field says it."""
    return _FOOD_CATEGORIES[slot // (len(_JINAN_COUNTIES) * _BLOCKS)]


def _random_slot() -> int:
    return random.SystemRandom().randrange(PERMIT_SLOTS)


def _free_permit_slot(market: issuance_pb2_grpc.IssuanceServiceStub) -> int:
    """A slot of permit numbers no license of the store holds yet: its first and last number found by none (as the
    market regulator reads its own licenses by number). Random slots alone would be shared by two of a few hundred
    runs of a store (a birthday problem); a slot taken is drawn again, ``SLOT_TRIES`` times."""
    for _ in range(SLOT_TRIES):
        slot = _random_slot()
        if not any(_permit_exists(market, food_permit_number(slot, n)) for n in (0, BATCH_LINES)):
            return slot
    raise DemoUnexpected(
        "1",
        f"随机抽取的 {SLOT_TRIES} 组食品生产许可证编号均已被本库的证照占用（each of {SLOT_TRIES} slots of permit "
        "numbers drawn is held by a license of this store: the store holds most of the demo's numbers）",
    )


def _permit_exists(market: issuance_pb2_grpc.IssuanceServiceStub, number: str) -> bool:
    try:
        market.GetLicense(issuance_pb2.GetLicenseRequest(type_code=samples.FOOD_PERMIT, license_number=number))
    except grpc.RpcError as exc:
        if exc.code() is grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return True


MALFORMED = {
    17: "the line ends inside the record",
    88: "a holder code whose check character is wrong",
    151: "valid until before it was issued",
}
"""The demo's malformed 批量归集 lines (1-based) and what is wrong with each."""


def _food_permit_lines(run: int, slot: int) -> list[str]:
    """``BATCH_LINES`` 食品生产许可证 records as JSON Lines, the numbers of the run's ``slot``, three malformed."""
    lines = []
    for number in range(1, BATCH_LINES + 1):
        record = samples.food_permit(run * 1000 + number)
        record["request_id"] = f"demo-{run}-batch-{number}"
        record["license_number"] = food_permit_number(slot, number)
        record["fields"]["food_category"] = food_category(slot)
        name = record["holder"]["name"].rstrip("0123456789")
        record["holder"]["name"] = record["fields"]["producer_name"] = name
        if number == 88:
            code = record["holder"]["code"]
            record["holder"]["code"] = code[:-1] + ("0" if code[-1] != "0" else "1")
            record["fields"]["uscc"] = record["holder"]["code"]
        if number == 151:
            record["valid_until"] = "2020-01-01"
        line = json.dumps(record, ensure_ascii=False)
        lines.append(line[: len(line) // 2] if number == 17 else line)
    return lines
