"""Request and response messages of realistic size for the benchmarks."""

from __future__ import annotations

from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import common_pb2, issuance_pb2

MARKET = "11370100993701011T"  # the demo 市场监督管理局, authoritative issuer of 食品生产许可证


ITEMS_PER_MESSAGE = 100


def batch_requests(n: int, run: str, start: int = 0) -> list[issuance_pb2.BatchIssueLicensesRequest]:
    """``n`` valid 食品生产许可证 requests, ITEMS_PER_MESSAGE to a message, as ``zzgw import`` sends them."""
    items = []
    for i in range(start, start + n):
        request = issue_request(samples.food_permit(i))
        request.request_id = f"{run}-{i}"
        items.append(request)
    return [issuance_pb2.BatchIssueLicensesRequest(licenses=items[k : k + ITEMS_PER_MESSAGE])
            for k in range(0, n, ITEMS_PER_MESSAGE)]  # fmt: skip


def batch_result() -> issuance_pb2.BatchItemResult:
    """What the gateway answers for one item (see gateway.api.convert.license_summary)."""
    return issuance_pb2.BatchItemResult(
        index=0,
        created=True,
        license=common_pb2.License(
            license_id="1.2.156.3005.2.111000009910000354002.11370100993701011T.0MJ5K2Q8XW4F7Z2B9D1KQ.001.K",
            type_code=samples.FOOD_PERMIT,
            license_number="SC10637010000001",
            issuer_code=MARKET,
            version=1,
            status=common_pb2.LICENSE_STATUS_ACTIVE,
            record_seal=common_pb2.RecordSeal(algorithm="ecdsa-p256-sha256", key_id="a" * 64, signature=b"s" * 71,
                                              record_digest=b"d" * 32, encoding="zzgw-record/1"),  # fmt: skip
        ),
    )
