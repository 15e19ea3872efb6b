"""``zzgw demo``: a walk through gathering against a live gateway, printed as it goes.

Three departments issue a 营业执照, a 食品生产许可证 and a 居民身份证; the market regulator reads and amends the
business license (法定代表人变更) and revokes the food permit; a consuming department's subscription shows every
change event as it arrives.
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
from protos.zzgw.v1 import common_pb2, issuance_pb2, issuance_pb2_grpc

MARKET = "11370100993701011T"  # 济南市市场监督管理局
POLICE = "1137010099370102XJ"  # 济南市公安局
TAX = "11370100993701097M"  # 国家税务总局济南市税务局 (watches changes)

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
    while len(events) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    watch.cancel()
    out("\n== 5. WatchLicenseChanges: what the tax bureau's subscription received ==")
    for event in events:
        out(f"  cursor {event.cursor:>6}  {_KIND[event.kind]:<15} {_STATUS[event.status]:<10} {event.license_id}")
    out(
        f"\nSummary: issued 3 licenses of 3 types, amended 1 (now version {amended.license.version}), revoked 1; "
        f"{len(events)} change events delivered. Resume a subscription from the last cursor to miss nothing."
    )
    return {
        "business": amended.license.license_id,
        "food": food.license_id,
        "person": person.license_id,
        "events": len(events),
    }


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
