"""Request and response messages of realistic size for the benchmarks."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.timestamp_pb2 import Timestamp

from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import common_pb2, issuance_pb2
from signing.record import ENCODING, record_bytes

MARKET = "11370100993701011T"  # the demo 市场监督管理局, authoritative issuer of 食品生产许可证


ITEMS_PER_MESSAGE = 100


def batch_requests(n: int, run: str, start: int = 0) -> list[issuance_pb2.BatchIssueLicensesRequest]:
    """``n`` valid 食品生产许可证 requests, ITEMS_PER_MESSAGE to a message, as ``zzgw import`` sends them."""
    items = []
    for i in range(start, start + n):
        request = issue_request(samples.food_permit(i))
        request.request_id = f"{run}-{i}"
        items.append(request)
    return [
        issuance_pb2.BatchIssueLicensesRequest(licenses=items[k : k + ITEMS_PER_MESSAGE])
        for k in range(0, n, ITEMS_PER_MESSAGE)
    ]


def bare_response(
    template: issuance_pb2.BatchItemResult, request: issuance_pb2.BatchIssueLicensesRequest, first_index: int
) -> issuance_pb2.BatchIssueLicensesResponse:
    """What a bare server answers to one message: a copy of ``template`` per item, numbered from ``first_index``."""
    results = []
    for offset in range(len(request.licenses)):
        result = issuance_pb2.BatchItemResult()
        result.CopyFrom(template)
        result.index = first_index + offset
        results.append(result)
    return issuance_pb2.BatchIssueLicensesResponse(results=results)


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
            record_seal=common_pb2.RecordSeal(
                algorithm="ecdsa-p256-sha256",
                key_id="a" * 64,
                signature=b"s" * 71,
                record_digest=b"d" * 32,
                encoding="zzgw-record/1",
            ),
        ),
    )


@dataclass(frozen=True)
class SealedLicense:
    """A GetLicense reply as the gateway sends it, and what it takes to verify its record seal once."""

    response: issuance_pb2.GetLicenseResponse
    public_key: ec.EllipticCurvePublicKey
    signed: bytes
    signature: bytes

    def verify(self) -> None:
        self.public_key.verify(self.signature, self.signed, ec.ECDSA(hashes.SHA256()))


def sealed_license(n: int = 7) -> SealedLicense:
    """A full 营业执照 (holder, 10 fields of Chinese text, dates, timestamps) with a real ECDSA P-256 record seal
    (a 71-byte DER signature and a 32-byte digest, as most seals are)."""
    sample = samples.business_license(n)
    record = {k: v for k, v in sample.items() if k != "request_id"}
    record["license_id"] = f"1.2.156.3005.2.{sample['type_code']}.{MARKET}.0MJ5K2Q8XW4F7Z2B9D1KQ.001.K"
    signed = record_bytes(record)
    while True:  # DER ECDSA signatures are 70-72 bytes; keep the common 71
        key = ec.generate_private_key(ec.SECP256R1())
        signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
        if len(signature) == 71:
            break
    created = Timestamp()
    created.FromDatetime(dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC))
    holder = sample["holder"]
    license = common_pb2.License(
        license_id=record["license_id"],
        type_code=sample["type_code"],
        type_name="营业执照",
        license_number=sample["license_number"],
        holder=common_pb2.Holder(name=holder["name"], code_type=holder["code_type"], code=holder["code"]),
        issuer_code=MARKET,
        issuer_name="济南市市场监督管理局",
        issue_date=sample["issue_date"],
        valid_from=sample["issue_date"],
        region_code="370100",
        fields=sample["fields"],
        status=common_pb2.LICENSE_STATUS_ACTIVE,
        version=1,
        record_seal=common_pb2.RecordSeal(
            algorithm="ecdsa-p256-sha256",
            key_id=hashlib.sha256(b"benchmark key").hexdigest(),
            signature=signature,
            record_digest=hashlib.sha256(signed).digest(),
            encoding=ENCODING,
        ),
        created_at=created,
        status_changed_at=created,
    )
    return SealedLicense(issuance_pb2.GetLicenseResponse(license=license), key.public_key(), signed, signature)
