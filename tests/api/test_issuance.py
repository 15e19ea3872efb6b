"""Issuance over real gRPC, on SQLite and PostgreSQL: issue, idempotency, amend, status, read, watch."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import grpc
import pytest
from sqlalchemy import text as sql

from adapters.records import issue_request
from gateway.api import convert
from gateway.bootstrap import samples
from gateway.domain.catalog import LicenseType
from gateway.domain.identifiers import LicenseId
from gateway.services.documents import DocumentService
from gateway.services.issuance import IssuanceService, IssueResult
from protos.zzgw.v1 import audit_pb2, audit_pb2_grpc, catalog_pb2, common_pb2, issuance_pb2
from tests.conftest import (
    ADMIN,
    BUSINESS_LICENSE,
    CIVIL,
    FOOD_PERMIT,
    MARKET,
    POLICE,
    PORTAL,
    TAX,
    RunningGateway,
    error_details,
    today,
)

S = common_pb2
HEALTH = "113701009937010623"  # 济南市卫生健康委员会: issues 出生医学证明


def unique(record: dict, tag: str | None = None) -> dict:
    """The sample with a fresh request id and license number, so tests never collide."""
    tag = tag or uuid.uuid4().hex[:10].upper()
    record = {**record, "request_id": f"{record['request_id']}-{tag}"}
    if record["type_code"] == BUSINESS_LICENSE:
        record["license_number"] = samples.uscc(int(tag, 16) % 10**12)
        record["holder"] = {**record["holder"], "code": record["license_number"]}
        record["fields"] = {**record["fields"], "uscc": record["license_number"]}
    else:
        record["license_number"] = f"{record['license_number']}-{tag}"
    return record


def issue(running: RunningGateway, record: dict, member: str = MARKET) -> issuance_pb2.IssueLicenseResponse:
    return running.issuance(member).IssueLicense(issue_request(record))


def test_issue_assigns_identifier_and_record_seal(running: RunningGateway) -> None:
    record = unique(samples.business_license(1))
    response = issue(running, record)
    lic = response.license
    assert response.created
    parsed = LicenseId.parse(lic.license_id)
    assert (parsed.type_code, parsed.issuer_code, parsed.version) == (BUSINESS_LICENSE, MARKET, 1)
    assert lic.version == 1 and lic.status == S.LICENSE_STATUS_ACTIVE
    assert lic.type_name == "营业执照" and lic.issuer_name == "济南市市场监督管理局"
    assert lic.holder.code == record["holder"]["code"] and lic.fields["legal_representative"]
    assert lic.region_code == "370100" and lic.issue_date == "2024-03-01" and lic.valid_from == "2024-03-01"
    assert lic.record_seal.algorithm == "ecdsa-p256-sha256" and lic.record_seal.encoding == "zzgw-record/1"
    assert len(lic.record_seal.record_digest) == 32 and lic.record_seal.signature


def test_record_seal_is_made_with_the_issuers_seal_key(running: RunningGateway) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from gateway.domain.model import RecordSeal
    from signing.record import verify_record_seal

    lic = issue(running, unique(samples.business_license(2))).license
    assert running.gateway.seals is not None
    seal = running.gateway.seals.by_key(lic.record_seal.key_id)
    assert seal is not None and seal.issuer_code == MARKET and seal.name == "电子证照专用章"
    public_key = (
        x509.load_der_x509_certificate(seal.certificate_der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with running.gateway.db.unit_of_work() as uow:
        found = uow.licenses.get(lic.license_id)
    assert found is not None
    record_seal = RecordSeal(
        algorithm=lic.record_seal.algorithm,
        key_id=lic.record_seal.key_id,
        signature=lic.record_seal.signature,
        record_digest=lic.record_seal.record_digest,
        encoding=lic.record_seal.encoding,
    )
    verify_record_seal(public_key, found.content.record_mapping(), record_seal)


def test_same_request_id_same_content_returns_the_same_license(running: RunningGateway) -> None:
    record = unique(samples.food_permit(3))
    first = issue(running, record)
    again = issue(running, record)
    assert first.created and not again.created
    assert again.license.license_id == first.license.license_id
    assert again.license.record_seal.signature == first.license.record_seal.signature
    assert len(first.document_sha256) == 64 and again.document_sha256 == first.document_sha256


def test_same_request_id_other_content_is_rejected(running: RunningGateway) -> None:
    record = unique(samples.food_permit(4))
    issue(running, record)
    changed = {**record, "fields": {**record["fields"], "food_category": "饮料"}}
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, changed)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info, _ = error_details(caught.value)
    assert info.reason == "REQUEST_ID_REUSED" and info.domain == "zzgw.v1"
    request_id = record["request_id"]
    assert caught.value.details() == (
        f"请求编号 {request_id} 已用于内容不同的请求（request_id {request_id} was used before with different content）"
    )


def test_a_request_id_used_by_another_kind_of_request_says_which(running: RunningGateway) -> None:
    """An id used first by another kind of write (a ChangeLicenseStatus id reused in IssueLicense) was refused as
    "used before with different content", and the client compared two issues for a difference (found by a black-box
    tester): the refusal names the kind that took it, in ErrorInfo's ``used_for`` too."""
    stub = running.issuance(MARKET)
    record = unique(samples.business_license(67))
    issued = issue(running, record).license
    amend_id, status_id = "amend-" + uuid.uuid4().hex, "st-" + uuid.uuid4().hex
    lic = stub.AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id=amend_id, license_id=issued.license_id, fields={"legal_representative": "李四"}, reason="变更"
        )
    ).license
    stub.ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=status_id, license_id=lic.license_id, action=issuance_pb2.STATUS_ACTION_SUSPEND, reason="整改"
        )
    )
    other = unique(samples.business_license(68))
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, {**other, "request_id": status_id})
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info, _ = error_details(caught.value)
    assert info.reason == "REQUEST_ID_REUSED"
    assert dict(info.metadata) == {"request_id": status_id, "used_for": "STATUS_CHANGED"}
    assert caught.value.details() == (
        f"请求编号 {status_id} 已用于状态变更请求"
        f"（request_id {status_id} was used before for a status change (ChangeLicenseStatus), another kind of request）"
    )
    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request({**other, "request_id": status_id})])
    (item,) = results(stub.BatchIssueLicenses(iter([batch])))
    assert (item.error.reason, item.error.message) == ("REQUEST_ID_REUSED", caught.value.details())
    with pytest.raises(grpc.RpcError) as amended:
        stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id=record["request_id"], license_id=lic.license_id, fields={"domicile": "新址"}, reason="变更"
            )
        )
    assert (amended.value.details() or "").startswith(f"请求编号 {record['request_id']} 已用于签发请求（")
    with pytest.raises(grpc.RpcError) as changed:
        stub.ChangeLicenseStatus(
            issuance_pb2.ChangeLicenseStatusRequest(
                request_id=amend_id, license_id=lic.license_id, action=issuance_pb2.STATUS_ACTION_REVOKE, reason="吊销"
            )
        )
    assert changed.value.details() == (
        f"请求编号 {amend_id} 已用于变更请求"
        f"（request_id {amend_id} was used before for an amendment (AmendLicense), another kind of request）"
    )


def test_license_number_taken_by_another_request(running: RunningGateway) -> None:
    record = unique(samples.food_permit(5))
    issue(running, record)
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, {**record, "request_id": record["request_id"] + "-other"})
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_details(caught.value)[0].reason == "LICENSE_NUMBER_TAKEN"
    number = record["license_number"]  # by the type's name for its number (食品生产许可证: 许可证编号)
    assert caught.value.details() == (
        f"许可证编号为 {number} 的现行证照已存在（a current license with number {number} exists already）"
    )


def test_a_number_is_kept_in_upper_case_and_found_in_either(running: RunningGateway) -> None:
    """Numbers on paper do not tell cases apart: one issued as ``…x`` is the license printed ``…X``, is found by
    either, and a second license with the other spelling is the same number (it was let in as another)."""
    record = unique(samples.business_license(6))
    lower = {**record, "license_number": record["license_number"].lower()}
    issued = issue(running, lower).license
    assert issued.license_number == record["license_number"] == issued.holder.code
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, {**record, "request_id": record["request_id"] + "-upper"})
    assert error_details(caught.value)[0].reason == "LICENSE_NUMBER_TAKEN"
    for spelling in (record["license_number"].lower(), f" {record['license_number']} "):
        got = running.issuance(MARKET).GetLicense(
            issuance_pb2.GetLicenseRequest(type_code=BUSINESS_LICENSE, license_number=spelling)
        )
        assert got.license.license_id == issued.license_id


def _bad(record: dict, path: str, value: object) -> dict:
    record = {**record, "holder": dict(record["holder"]), "fields": dict(record["fields"])}
    target = record
    *parents, leaf = path.split(".")
    for p in parents:
        target = target[p]
    if value is None:
        del target[leaf]
    else:
        target[leaf] = value
    return record


BAD_INPUT = [
    # (what, mutation path, value, expected field, expected reason)
    ("bad USCC check character", "holder.code", "91370100MA3C4K7L6N", "holder.code", "BAD_CHECK_CHARACTER"),
    ("USCC with a forbidden letter", "holder.code", "91370100MA3C4K7LOM", "holder.code", "BAD_USCC"),
    ("missing required field", "fields.legal_representative", None, "fields.legal_representative", "REQUIRED"),
    ("unknown field", "fields.shoe_size", "42", "fields.shoe_size", "UNKNOWN_FIELD"),
    ("bad date", "issue_date", "2024-02-30", "issue_date", "BAD_DATE"),
    ("issue date in the future", "issue_date", "2999-01-01", "issue_date", "ISSUE_DATE_IN_FUTURE"),
    ("end date of a type that never expires", "valid_until", "2030-01-01", "valid_until", "NOT_EXPIRING_TYPE"),
    ("wrong holder code type", "holder.code_type", "111", "holder.code_type", "BAD_HOLDER_CODE_TYPE"),
    ("missing license number", "license_number", "", "license_number", "REQUIRED"),
    ("missing request id", "request_id", "", "request_id", "REQUIRED"),
    ("bad request id", "request_id", "has spaces", "request_id", "BAD_REQUEST_ID"),
    ("unknown type", "type_code", "111000009910000354999", "type_code", "UNKNOWN_LICENSE_TYPE"),
    ("bad field date", "fields.established_on", "yesterday", "fields.established_on", "BAD_DATE"),
    ("ISO week date", "issue_date", "2024-W10-5", "issue_date", "BAD_DATE"),
    ("ISO week field date", "fields.established_on", "2024-W01-1", "fields.established_on", "BAD_DATE"),
    ("field date in the future", "fields.established_on", "2999-01-01", "fields.established_on", "DATE_IN_FUTURE"),
    ("field date before 1900", "fields.approved_on", "0999-01-01", "fields.approved_on", "DATE_TOO_EARLY"),
    ("start of validity before 1900", "valid_from", "0001-01-01", "valid_from", "DATE_TOO_EARLY"),
    ("bad field USCC", "fields.uscc", "91370100MA3C4K7L6N", "fields.uscc", "BAD_CHECK_CHARACTER"),
    ("bad region", "region_code", "990000", "region_code", "BAD_REGION_CODE"),
    ("bad serial", "serial", "ab-c", "serial", "BAD_SERIAL"),
    ("over-long field", "fields.company_name", "名" * 201, "fields.company_name", "TOO_LONG"),
]


@pytest.mark.parametrize(("what", "path", "value", "field", "reason"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_gets_field_level_errors(
    running: RunningGateway, what: str, path: str, value: object, field: str, reason: str
) -> None:
    record = _bad(unique(samples.business_license(6)), path, value)
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, record)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, what
    _, violations = error_details(caught.value)
    assert (field, reason) in violations, violations


def _card_with_serial(serial_of: Any) -> dict:
    """A 居民身份证 for a fresh person, its serial ``serial_of(citizen ID)``."""
    born = dt.date(1960, 1, 1) + dt.timedelta(days=uuid.uuid4().int % 15000)
    code = samples.citizen_id(uuid.uuid4().int % 1000, born)
    record = samples.id_card(0)
    return {
        **record,
        "request_id": f"id-{uuid.uuid4().hex}",
        "license_number": code,
        "holder": {**record["holder"], "code": code},
        "fields": {
            **record["fields"],
            "gender": "男" if int(code[16]) % 2 else "女",
            "birth_date": born.isoformat(),
            "citizen_id": code,
        },
        "serial": serial_of(code),
    }


def test_a_serial_holding_personal_data_is_refused_by_issue_and_batch(running: RunningGateway) -> None:
    """A license's serial is part of its identifier, which every receipt carries in clear and every member watching
    the type receives: a 居民身份证 issued under the holder's 公民身份号码 as serial had given a partner province's
    gateway, through WatchLicenseChanges, the number of every card (a reviewer of the partner role, R1). A serial
    that holds the holder's 公民身份号码 anywhere (the number and the card's sequence, a year and the number: a
    review of the fixes, R2), a 公民身份号码 or a mobile number a field states, or the license number, or that is the
    holder's code, is INVALID_ARGUMENT / BAD_SERIAL, in IssueLicense and in BatchIssueLicenses alike, and nothing is
    issued; a UUID or a serial of the issuer's own numbering still is, though its digits look like a mobile number or
    a 公民身份号码 (a 2013-2019 date and sequence, a region, date and sequence: R3)."""
    permit = unique(samples.food_permit(91))
    plain = permit["license_number"].replace("-", "")  # a number a serial can be: 0-9A-Z
    business = unique(samples.business_license(91))
    wed = unique(samples.marriage_certificate(91))
    called = {
        **permit,
        "fields": {**permit["fields"], "production_address": "济南市章丘区工业园1号（电话 138-0013-8000）"},
    }
    refused = [
        (POLICE, _card_with_serial(lambda code: code), "公民身份号码", "a citizen ID number"),
        (POLICE, _card_with_serial(lambda code: f"ID{code.lower()}V1"), "公民身份号码", "a citizen ID number"),
        (POLICE, _card_with_serial(lambda code: code + "01"), "公民身份号码", "a citizen ID number"),
        (POLICE, _card_with_serial(lambda code: "2024" + code), "公民身份号码", "a citizen ID number"),
        (
            CIVIL,
            {**wed, "serial": "JH" + wed["fields"]["wife_citizen_id"] + "1"},
            "公民身份号码",
            "a citizen ID number",
        ),
        (MARKET, {**called, "serial": "13800138000"}, "手机号码", "a mobile number"),
        (MARKET, {**called, "serial": "SJ8613800138000"}, "手机号码", "a mobile number"),
        (MARKET, {**permit, "license_number": plain, "serial": "2024" + plain}, "证照编号", "the license number"),
        (MARKET, {**permit, "license_number": plain, "serial": plain.lower()}, "证照编号", "the license number"),
        # a business license's number is its holder's USCC: said as the license number, looked at first
        (MARKET, {**business, "serial": business["holder"]["code"]}, "证照编号", "the license number"),
        (MARKET, {**permit, "serial": permit["holder"]["code"]}, "持证主体代码", "the holder's code"),
    ]
    for member, record, zh, en in refused:
        with pytest.raises(grpc.RpcError) as caught:
            issue(running, record, member)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, record["serial"]
        assert error_details(caught.value)[1] == [("serial", "BAD_SERIAL")], record["serial"]
        assert caught.value.details() == (
            f"serial: 流水号中不能填写{zh}（流水号是电子证照标识的一部分，随标识写入核验回执和证照变更通知，其他部门和"
            "合作网关都能看到），请填写本部门自编的流水号，或留空由网关生成"
            f"（serial must not hold {en}: it is part of the license identifier, which receipts and other members' "
            "change feeds carry; give a serial of your own numbering, or none to have one generated）"
        ), record["serial"]
        batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])
        (item,) = results(running.issuance(member).BatchIssueLicenses(iter([batch])))
        assert (item.error.code, item.error.reason) == ("INVALID_ARGUMENT", "BAD_SERIAL"), record["serial"]
        assert [(e.field, e.reason) for e in item.error.field_errors] == [("serial", "BAD_SERIAL")]
        with pytest.raises(grpc.RpcError) as none:
            running.issuance(member).GetLicense(
                issuance_pb2.GetLicenseRequest(type_code=record["type_code"], license_number=record["license_number"])
            )
        assert none.value.code() == grpc.StatusCode.NOT_FOUND, record["serial"]
    own = uuid.uuid4().hex
    issued = issue(running, {**permit, "serial": own}).license
    assert LicenseId.parse(issued.license_id).serial == own.upper()
    card = _card_with_serial(lambda code: "GA" + code[:6] + uuid.uuid4().hex[:12].upper())
    assert LicenseId.parse(issue(running, card, POLICE).license.license_id).serial == card["serial"]
    # numbering schemes whose digits look like a mobile number or a 公民身份号码, and no number of this license's
    tail = f"{uuid.uuid4().int % 1000:03d}"
    for n, serial in enumerate(
        ("190928" + "00" + tail, "XK150612" + "00" + tail, "130100" + "00" + tail, "370100201109195084")
    ):
        record = unique(samples.food_permit(92 + n))
        issued = issue(running, {**record, "serial": serial}, MARKET).license
        assert LicenseId.parse(issued.license_id).serial == serial


def test_long_bad_input_is_answered_with_its_error_not_a_metadata_overflow(running: RunningGateway) -> None:
    """An error echoes what was sent; a status travels in the trailers, which the client refuses past 16 KiB: long
    values are clipped and at most MAX_VIOLATIONS violations are sent, as many as fit TRAILERS_BUDGET (found by an
    independent client)."""
    from gateway.api.errors import MAX_VIOLATIONS

    with pytest.raises(grpc.RpcError) as long_type:
        issue(running, _bad(unique(samples.business_license(61)), "type_code", "T" * 10_000))
    assert long_type.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("type_code", "UNKNOWN_LICENSE_TYPE") in error_details(long_type.value)[1]
    record = unique(samples.business_license(62))
    record["fields"].update({f"unknown_field_{n:03d}_" + "x" * 50: "v" for n in range(300)})
    with pytest.raises(grpc.RpcError) as many:
        issue(running, record)
    assert many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, violations = error_details(many.value)
    assert 12 <= len(violations) <= MAX_VIOLATIONS and all(reason == "UNKNOWN_FIELD" for _, reason in violations)
    left = 300 - len(violations)
    assert (many.value.details() or "").endswith(f"（另有{left}项有误，and {left} more bad fields）")


@pytest.mark.parametrize("first", ["\u4e00", "\U00020000"], ids=["cjk-3-bytes", "cjk-ext-b-4-bytes"])
def test_a_refusal_with_long_echoed_keys_fits_a_default_clients_trailers(running: RunningGateway, first: str) -> None:
    """Sixteen unknown field keys of 64 Chinese characters (an import whose columns are long headers): the refusal
    stays under the 8 KiB that a client with gRPC's default settings reads every time, with as many violations as fit
    and the message saying how many more. Its trailers had come to 11-17 KiB, and the client had read
    RESOURCE_EXHAUSTED "received metadata size exceeds soft limit" at random, past 16 KiB always (a reviewer)."""
    from gateway.api.errors import MAX_MESSAGE_BYTES

    stub = running.issuance(MARKET)  # gRPC's default channel options
    record = unique(samples.food_permit(63))
    record["fields"].update({chr(ord(first) + n) + first * 63: "v" for n in range(16)})
    codes = []
    for _ in range(40):
        with pytest.raises(grpc.RpcError) as refused:
            stub.IssueLicense(issue_request(record))
        codes.append(refused.value.code())
        if codes[-1] != grpc.StatusCode.INVALID_ARGUMENT:
            continue
        _, violations = error_details(refused.value)
        assert 0 < len(violations) < 16 and {reason for _, reason in violations} == {"UNKNOWN_FIELD"}
        message = refused.value.details() or ""
        assert message.endswith(f"（另有{16 - len(violations)}项有误，and {16 - len(violations)} more bad fields）")
        assert len(message.encode()) <= MAX_MESSAGE_BYTES
        # as sent: grpc-message percent-encoded past printable ASCII, -bin values in base64, 32 bytes a header more
        sent = len("grpc-message") + 32 + sum(1 if 0x20 <= b <= 0x7E and b != 0x25 else 3 for b in message.encode())
        sent += sum(
            len(k) + 32 + (4 * -(-len(v) // 3) if k.endswith("-bin") else len(v))
            for k, v in refused.value.trailing_metadata() or ()
        )
        assert sent < 8192, sent
    assert set(codes) == {grpc.StatusCode.INVALID_ARGUMENT}


def test_a_batch_whose_item_errors_outgrow_a_message_is_answered_in_several(running: RunningGateway) -> None:
    """An integration that sends its whole database row as ``fields`` (40 columns of its own): each such item is
    refused with at most MAX_VIOLATIONS field errors, saying how many more, and a message of a thousand items gets
    every result, in order, over as many response messages as keep each under the limit. It had got none: the one
    reply was past gRPC's 4 MiB, while the good items were committed (found by an independent client)."""
    from gateway.api.errors import MAX_VIOLATIONS

    good = [unique(samples.food_permit(70_000 + n)) for n in range(100)]
    noisy = []
    for n in range(900):
        record = unique(samples.food_permit(71_000 + n))
        record["fields"].update({f"integrator_column_{c:02d}_" + "x" * 40: "v" for c in range(40)})
        noisy.append(record)
    records = [r for pair in zip(noisy[:100], good, strict=True) for r in pair] + noisy[100:]
    request = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(r) for r in records])
    replies = list(running.issuance(MARKET).BatchIssueLicenses(iter([request]), timeout=120))
    assert len(replies) > 1 and all(r.ByteSize() <= 4 * 1024 * 1024 // 2 for r in replies)
    results = [result for reply in replies for result in reply.results]
    assert [r.index for r in results] == list(range(1000))
    committed = [r for r in results if r.HasField("license")]
    assert [r.index for r in committed] == list(range(1, 200, 2))
    errors = [r.error for r in results if r.HasField("error")]
    assert len(errors) == 900 and all(len(e.field_errors) == MAX_VIOLATIONS for e in errors)
    assert all({f.reason for f in e.field_errors} == {"UNKNOWN_FIELD"} for e in errors)
    left = 40 - MAX_VIOLATIONS
    assert all(e.message.endswith(f"（另有{left}项有误，and {left} more bad fields）") for e in errors)


def test_one_issuers_idle_batch_streams_do_not_hold_every_thread(running: RunningGateway) -> None:
    """Each BatchIssueLicenses stream holds a handler thread while its client keeps it open: one issuer's sixteen
    idle streams had stopped every other member's calls (a security tester). A member holds at most
    MAX_BATCH_STREAMS_PER_MEMBER in a process; the next is refused at once (RESOURCE_EXHAUSTED,
    TOO_MANY_BATCH_STREAMS), others' calls go on, and a slot is free again when its client goes."""
    from gateway.api.issuance import MAX_BATCH_STREAMS_PER_MEMBER

    quiet = threading.Event()

    def idle(n: int) -> Any:
        record = unique(samples.food_permit(72_100 + n))
        yield issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])  # answered: in its handler
        quiet.wait(60)

    market = running.issuance(MARKET)
    held = [market.BatchIssueLicenses(idle(n), timeout=60) for n in range(MAX_BATCH_STREAMS_PER_MEMBER)]
    try:
        assert all(next(stream).results[0].HasField("license") for stream in held)
        with pytest.raises(grpc.RpcError) as caught:
            list(market.BatchIssueLicenses(iter(()), timeout=10))
        refused = caught.value
        assert (refused.code(), error_details(refused)[0].reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "TOO_MANY_BATCH_STREAMS",
        )
        assert "批量签发流" in (refused.details() or "")
        assert running.catalog(TAX).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest()).license_types
    finally:
        for stream in held:
            stream.cancel()
        quiet.set()
    record = unique(samples.food_permit(72_000))
    request = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])
    deadline = time.monotonic() + 10
    while True:  # freed by each cancellation's callback, on gRPC's thread
        try:
            (reply,) = list(market.BatchIssueLicenses(iter([request]), timeout=30))
            break
        except grpc.RpcError as busy:
            assert busy.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
            time.sleep(0.05)
    assert reply.results[0].HasField("license")


def test_validity_end_required_for_expiring_types(running: RunningGateway) -> None:
    record = unique(samples.food_permit(7))
    del record["valid_until"]
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, record)
    assert ("valid_until", "REQUIRED") in error_details(caught.value)[1]
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, {**record, "valid_until": "2020-01-01"})
    assert ("valid_until", "VALIDITY_BEFORE_ISSUE") in error_details(caught.value)[1]


def test_a_type_that_does_not_expire_takes_no_validity_end_date(running: RunningGateway) -> None:
    """A 营业执照 does not expire (the catalog's ``expires: false``): one issued with a valid_until verified as EXPIRED
    once the date passed (found by a black-box tester). IssueLicense, each batch item and AmendLicense refuse it,
    naming the type."""
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    record = {**unique(samples.business_license(64)), "valid_until": yesterday}
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, record)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("valid_until", "NOT_EXPIRING_TYPE")]
    assert caught.value.details() == (
        "valid_until: 营业执照没有有效期截止日期，请勿填写有效期截止日期"
        "（营业执照 licenses carry no validity end date: leave valid_until empty）"
    )
    batch = issuance_pb2.BatchIssueLicensesRequest(
        licenses=[issue_request(record), issue_request(unique(samples.business_license(65)))]
    )
    refused, issued = results(running.issuance(MARKET).BatchIssueLicenses(iter([batch])))
    assert refused.error.code == "INVALID_ARGUMENT"
    assert [(e.field, e.reason) for e in refused.error.field_errors] == [("valid_until", "NOT_EXPIRING_TYPE")]
    assert issued.HasField("license") and issued.license.valid_until == ""
    with pytest.raises(grpc.RpcError) as amended:
        running.issuance(MARKET).AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=issued.license.license_id,
                valid_until="2099-12-31",
                reason="变更",
            )
        )
    assert error_details(amended.value)[1] == [("valid_until", "NOT_EXPIRING_TYPE")]


def issued_as_before(
    running: RunningGateway, member: str, as_it_was: LicenseType, record: dict[str, Any]
) -> IssueResult:
    """``record`` issued by ``member`` under a catalog whose type of its code is ``as_it_was``: a license stored
    before a check the gateway makes now (the issuance service's result)."""
    gateway = running.gateway
    types = {**gateway.catalog.license_types, as_it_was.code: as_it_was}
    catalog = dataclasses.replace(gateway.catalog, license_types=types)
    caller = gateway.authenticator.by_token(running.tokens[member])
    # with the gateway's memos, as the gateway stored it: a record without them is not one it vouches for
    issuance = IssuanceService(gateway.db, catalog, gateway.seals, gateway.clock, memos=gateway.issuance._memos)  # type: ignore[arg-type]
    return issuance.issue(caller, convert.draft(issue_request(record)))


def test_a_license_stored_with_an_end_date_its_type_lacks_is_amended_by_removing_it(running: RunningGateway) -> None:
    """A 营业执照 issued with a valid_until before the gateway refused one reads as EXPIRED once it passed. An
    amendment that leaves the date is refused saying so (it had been LICENSE_EXPIRED, asking for a new end date the
    type cannot have); one with valid_until empty makes a version without it, in force."""
    expiring = dataclasses.replace(running.gateway.catalog.license_types[BUSINESS_LICENSE], expires=True)
    ended = today() - dt.timedelta(days=1)
    record = {**unique(samples.business_license(66)), "valid_until": ended.isoformat()}
    old = issued_as_before(running, MARKET, expiring, record)  # as the gateway was: an end date of the type's let in
    stub = running.issuance(MARKET)
    got = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=old.license.license_id)).license
    assert (got.status, got.valid_until) == (S.LICENSE_STATUS_EXPIRED, ended.isoformat())

    def amend(**extra: str) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=old.license.license_id,
                fields={"legal_representative": "李四"},
                reason="法定代表人变更",
                **extra,
            )
        )

    with pytest.raises(grpc.RpcError) as caught:
        amend()
    assert error_details(caught.value)[1] == [("valid_until", "NOT_EXPIRING_TYPE")]
    assert caught.value.details() == (
        f"valid_until: 营业执照没有有效期截止日期，而此证照载有 {ended}：变更时请将有效期截止日期置空"
        f"（营业执照 licenses carry no validity end date, and this one states {ended}: send valid_until empty to "
        "remove it）"
    )
    new = amend(valid_until="").license
    assert (new.version, new.valid_until, new.status) == (2, "", S.LICENSE_STATUS_ACTIVE)


def fresh_id_card() -> dict:
    """A 居民身份证 of a holder of its own (its number is its holder's code: ``unique`` cannot tag it)."""
    return {**samples.id_card(900_000 + int(uuid.uuid4().hex[:5], 16)), "request_id": f"id-{uuid.uuid4().hex}"}


def test_lifelong_is_an_empty_end_date_at_issue_in_batches_and_at_amendment(running: RunningGateway) -> None:
    """A 居民身份证 may be 长期 (``lifelong``), written as an empty valid_until. 长期 written out had been refused as a
    badly written date, and 9999-12-31 taken (a card printing 至 9999年12月31日 where others print 长期; a time
    tester): both are refused with the hint, by IssueLicense, each batch item and AmendLicense alike."""
    stub = running.issuance(POLICE)
    for until in ("长期", "9999-12-31"):
        with pytest.raises(grpc.RpcError) as caught:
            issue(running, {**fresh_id_card(), "valid_until": until}, member=POLICE)
        assert error_details(caught.value)[1] == [("valid_until", "LIFELONG_SPELLED_OUT")]
        assert caught.value.details().startswith("valid_until: 长期有效请留空：居民身份证的有效期截止日期留空即为长期")
        batch = issuance_pb2.BatchIssueLicensesRequest(
            licenses=[issue_request({**fresh_id_card(), "valid_until": until})]
        )
        (refused,) = results(stub.BatchIssueLicenses(iter([batch])))
        assert [(e.field, e.reason) for e in refused.error.field_errors] == [("valid_until", "LIFELONG_SPELLED_OUT")]
    card = issue(running, {**fresh_id_card(), "valid_until": ""}, member=POLICE).license
    assert card.valid_until == "" and card.status == S.LICENSE_STATUS_ACTIVE
    with pytest.raises(grpc.RpcError) as caught:
        stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=card.license_id,
                valid_until="9999-12-31",
                reason="换领",
            )
        )
    assert error_details(caught.value)[1] == [("valid_until", "LIFELONG_SPELLED_OUT")]


def test_a_card_stored_with_9999_12_31_for_lifelong_is_amended_by_emptying_it(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 居民身份证 issued with 9999-12-31 before the gateway refused it: an amendment that leaves the date is refused
    saying the license states it; one with valid_until empty makes a version that is 长期."""
    from gateway.domain import validation

    id_card = next(t for t in running.gateway.catalog.license_types.values() if t.name == "居民身份证")
    record = {**fresh_id_card(), "valid_until": "9999-12-31"}
    with monkeypatch.context() as patched:  # as the gateway was: 9999-12-31 taken as a date
        patched.setattr(validation, "LIFELONG_SPELLINGS", frozenset({"长期", "长期有效"}))
        patched.setattr(validation, "MAX_VALIDITY_YEARS", 10_000)
        old = issued_as_before(running, POLICE, dataclasses.replace(id_card, lifelong=False), record)
    assert old.license.content.valid_until == dt.date(9999, 12, 31)
    stub = running.issuance(POLICE)

    def amend(**extra: str) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=old.license.license_id,
                fields={"address": "山东省济南市历下区文化东路1号"},
                reason="住址变更",
                **extra,
            )
        )

    with pytest.raises(grpc.RpcError) as caught:
        amend()
    assert error_details(caught.value)[1] == [("valid_until", "LIFELONG_SPELLED_OUT")]
    assert caught.value.details() == (
        "valid_until: 长期有效请留空：此证照的有效期截止日期载为 9999-12-31，变更时请将有效期截止日期置空"
        "（leave valid_until empty for no end date: this license states 9999-12-31, send valid_until empty to "
        "remove it）"
    )
    new = amend(valid_until="").license
    assert (new.version, new.valid_until, new.status) == (2, "", S.LICENSE_STATUS_ACTIVE)


def test_a_type_that_expires_takes_no_end_of_9999_nor_a_date_too_far_at_issue_in_batches_and_at_amendment(
    running: RunningGateway,
) -> None:
    """A 食品生产许可证 (it expires, and is never 长期) sent with valid_until 9999-12-31, a database's "no end", had
    been issued, printed 至 9999年12月31日 and verified ACTIVE for ever; one with valid_from 9999-12-30
    NOT_YET_VALID for 8000 years (a reviewer). The end is NOT_LIFELONG_TYPE, asking for the real one; a start more
    than a year after today (China) and an end more than 100 years after the issue are DATE_TOO_LATE: by
    IssueLicense, each batch item and AmendLicense alike, nothing issued."""
    stub = running.issuance(MARKET)
    day = today()
    latest_start = day.replace(year=day.year + 1) if (day.month, day.day) != (2, 29) else dt.date(day.year + 1, 3, 1)
    issued = dt.date.fromisoformat(samples.food_permit(0)["issue_date"])
    cases = [
        ({"valid_until": "9999-12-31"}, [("valid_until", "NOT_LIFELONG_TYPE")]),
        ({"valid_until": "长期"}, [("valid_until", "NOT_LIFELONG_TYPE")]),
        (
            {"valid_from": "9999-12-30", "valid_until": "9999-12-31"},
            [("valid_from", "DATE_TOO_LATE"), ("valid_until", "NOT_LIFELONG_TYPE")],
        ),
        ({"valid_from": (latest_start + dt.timedelta(days=1)).isoformat()}, [("valid_from", "DATE_TOO_LATE")]),
        (
            {"valid_until": issued.replace(year=issued.year + 100, day=11).isoformat()},
            [("valid_until", "DATE_TOO_LATE")],
        ),
    ]
    for n, (dates, refused) in enumerate(cases):
        record = {**unique(samples.food_permit(70 + n)), **dates}
        with pytest.raises(grpc.RpcError) as caught:
            issue(running, record)
        assert (caught.value.code(), error_details(caught.value)[1]) == (grpc.StatusCode.INVALID_ARGUMENT, refused)
        (item,) = results(
            stub.BatchIssueLicenses(iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])]))
        )
        assert [(e.field, e.reason) for e in item.error.field_errors] == refused
    assert caught.value.details() == (
        "valid_until: 有效期截止日期 2124-05-11 距发证或起始日期超过100年（最晚 2124-05-10）"
        "（valid_until 2124-05-11 is more than 100 years after the issue or start of validity (at the latest "
        "2124-05-10)）"
    )
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, {**unique(samples.food_permit(79)), "valid_until": "9999-12-31"})
    assert caught.value.details() == (
        "valid_until: 食品生产许可证没有长期有效期：请填写证照实际的有效期截止日期，不填“9999-12-31”"
        "（食品生产许可证 licenses have a validity end: give the license's real valid_until, not '9999-12-31'）"
    )
    taken = issue(running, {**unique(samples.food_permit(80)), "valid_from": latest_start.isoformat()}).license
    assert (taken.valid_from, taken.status) == (latest_start.isoformat(), S.LICENSE_STATUS_ACTIVE)
    for dates, refused in cases[:4]:
        with pytest.raises(grpc.RpcError) as caught:
            stub.AmendLicense(
                issuance_pb2.AmendLicenseRequest(
                    request_id="amend-" + uuid.uuid4().hex, license_id=taken.license_id, reason="延续", **dates
                )
            )
        assert error_details(caught.value)[1] == refused


def test_a_license_stored_with_9999_12_31_for_a_type_that_expires_is_amended_with_its_real_end(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 食品生产许可证 issued with valid_until 9999-12-31 before the gateway refused it verifies ACTIVE for ever: an
    amendment that keeps the date is refused saying the license states it, and asking for its real end; one that gives
    it makes a version that ends."""
    from gateway.domain import validation

    with monkeypatch.context() as patched:  # as the gateway was
        patched.setattr(validation, "LIFELONG_SPELLINGS", frozenset({"长期", "长期有效"}))
        patched.setattr(validation, "MAX_VALIDITY_YEARS", 10_000)
        old = issue(running, {**unique(samples.food_permit(81)), "valid_until": "9999-12-31"}).license
    assert (old.valid_until, old.status) == ("9999-12-31", S.LICENSE_STATUS_ACTIVE)
    stub = running.issuance(MARKET)

    def amend(**extra: str) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=old.license_id,
                fields={"legal_representative": "李四"},
                reason="法定代表人变更",
                **extra,
            )
        )

    with pytest.raises(grpc.RpcError) as caught:
        amend()
    assert error_details(caught.value)[1] == [("valid_until", "NOT_LIFELONG_TYPE")]
    assert caught.value.details() == (
        "valid_until: 食品生产许可证没有长期有效期，而此证照的有效期截止日期载为 9999-12-31："
        "变更时请填写证照实际的有效期截止日期（食品生产许可证 licenses have a validity end, "
        "and this one states 9999-12-31: send its real valid_until）"
    )
    new = amend(valid_until="2029-05-09").license
    assert (new.version, new.valid_until, new.status) == (2, "2029-05-09", S.LICENSE_STATUS_ACTIVE)


def test_a_start_of_validity_stored_before_the_check_does_not_stop_an_amendment_that_keeps_it(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid_from before 1900 is refused DATE_TOO_EARLY, as every other date (it had been taken: a license in force
    since year 1; a reviewer). One stored before the check is kept by an amendment that leaves it, as a field's date
    is; an amendment that gives a new one is judged."""
    from gateway.domain import validation

    with monkeypatch.context() as patched:
        patched.setattr(validation, "EARLIEST_DATE", dt.date(1, 1, 1))  # as the gateway was
        old = issue(running, {**unique(samples.food_permit(17)), "valid_from": "0001-01-01"}).license
    assert old.valid_from == "0001-01-01"
    stub = running.issuance(MARKET)

    def amend(**extra: str) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=extra.pop("license_id", old.license_id),
                fields={"legal_representative": extra.pop("name", "李四")},
                reason="法定代表人变更",
                **extra,
            )
        )

    with pytest.raises(grpc.RpcError) as caught:
        amend(valid_from="1899-12-31")
    assert error_details(caught.value)[1] == [("valid_from", "DATE_TOO_EARLY")]
    assert caught.value.details() == "valid_from: 有效期起始日期早于 1900-01-01（valid_from is before 1900-01-01）"
    kept = amend().license
    assert (kept.version, kept.valid_from) == (2, "0001-01-01")
    again = amend(license_id=kept.license_id, name="王五", valid_from="0001-01-01").license
    assert (again.version, again.valid_from) == (3, "0001-01-01")


def test_a_date_stored_before_the_check_does_not_stop_an_amendment_that_keeps_it(running: RunningGateway) -> None:
    """A 营业执照 sealed with a 成立日期 a year ahead before dates were judged against today: an amendment of its
    domicile alone had been refused DATE_IN_FUTURE, naming a field nobody sent (a reviewer). A date kept is not
    judged again; one the amendment sends is."""
    business = running.gateway.catalog.license_types[BUSINESS_LICENSE]
    ahead = (today() + dt.timedelta(days=365)).isoformat()
    record = unique(samples.business_license(71))
    record["fields"] = {**record["fields"], "established_on": ahead}
    any_date = tuple(dataclasses.replace(f, may_be_future=True) for f in business.fields)
    old = issued_as_before(running, MARKET, dataclasses.replace(business, fields=any_date), record)  # as it was
    stub = running.issuance(MARKET)

    def amend(license_id: str, fields: dict[str, str]) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex, license_id=license_id, fields=fields, reason="住所变更",
            )
        )  # fmt: skip

    new = amend(old.license.license_id, {"domicile": "山东省济南市历下区文化东路1号"}).license
    assert (new.version, new.fields["established_on"]) == (2, ahead)
    with pytest.raises(grpc.RpcError) as caught:  # sent again, a date after today is judged
        amend(new.license_id, {"established_on": (today() + dt.timedelta(days=30)).isoformat()})
    assert error_details(caught.value)[1] == [("fields.established_on", "DATE_IN_FUTURE")]


@pytest.fixture
def zone_ahead_of_china(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's time zone UTC+14, whose date is China's or the next day's; restored after."""
    monkeypatch.setenv("TZ", "Etc/GMT-14")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_holder_born_tomorrow_in_china_is_refused_whatever_the_servers_zone(
    running: RunningGateway, zone_ahead_of_china: None
) -> None:
    """A 公民身份号码 whose birth date is tomorrow in Beijing had been taken by a server whose zone was UTC or ahead
    of China's (its own date and a day's slack), refused by one behind (a time tester): the date is China's."""
    tomorrow = today() + dt.timedelta(days=1)
    card = fresh_id_card()
    code = samples.citizen_id(int(uuid.uuid4().hex[:3], 16), tomorrow)
    card = {
        **card,
        "license_number": code,
        "holder": {**card["holder"], "code": code},
        "issue_date": today().isoformat(),
        "fields": {**card["fields"], "citizen_id": code, "birth_date": tomorrow.isoformat(),
                   "gender": "男" if int(code[16]) % 2 else "女"},
    }  # fmt: skip
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, card, member=POLICE)
    assert ("holder.code", "BAD_CITIZEN_ID") in error_details(caught.value)[1]
    assert ("fields.birth_date", "DATE_IN_FUTURE") in error_details(caught.value)[1]


def test_a_birth_certificate_is_not_issued_before_the_birth(running: RunningGateway) -> None:
    """A 出生医学证明 issued 23 days before the birth it records had been sealed (a time tester): the holder's birth
    date (``of_holder: birth_date``) is not after the issue date."""
    born = today() - dt.timedelta(days=3)
    record = {
        "request_id": f"bc-{uuid.uuid4().hex}",
        "type_code": "1110000099100006XH001",
        "license_number": f"Q{uuid.uuid4().int % 10**9:09d}",
        "holder": {"name": "王小明", "code_type": "099", "code": f"TMP-{uuid.uuid4().hex[:8]}"},
        "issue_date": (born - dt.timedelta(days=23)).isoformat(),
        "fields": {"child_name": "王小明", "gender": "男", "birth_date": born.isoformat(), "birth_place": "370102",
                   "birth_facility": "济南市妇幼保健院", "mother_name": "李芳",
                   "mother_citizen_id": samples.citizen_id(12, dt.date(1992, 4, 30)),
                   "issuing_institution": "济南市妇幼保健院"},
    }  # fmt: skip
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, record, member=HEALTH)
    assert error_details(caught.value)[1] == [("fields.birth_date", "BORN_AFTER_ISSUE")]
    assert (
        caught.value.details() == "fields.birth_date: 出生日期晚于发证日期（fields.birth_date is after the issue date）"
    )
    assert issue(running, {**record, "issue_date": born.isoformat()}, member=HEALTH).license.issue_date == str(born)


def test_a_name_with_a_full_width_or_no_break_space_is_issued_with_a_plain_one(running: RunningGateway) -> None:
    """Registers export names as 王　敏: the holder's name was refused (BAD_CHARACTERS, invisible characters) while
    the card's 姓名 field took it. Both are kept with a plain space; a zero-width space is still refused, and the
    refusal names it."""
    record = samples.id_card(700_000 + int(uuid.uuid4().hex[:5], 16))
    record["holder"] = {**record["holder"], "name": "王\u3000敏"}
    record["fields"] = {**record["fields"], "name": "王\u00a0敏", "address": "山东省济南市\u3000文化东路1号"}
    lic = issue(running, record, POLICE).license
    assert lic.holder.name == lic.fields["name"] == "王 敏" and lic.fields["address"] == "山东省济南市 文化东路1号"
    hidden = {
        **record,
        "request_id": record["request_id"] + "-zw",
        "holder": {**record["holder"], "name": "王\u200b敏"},
    }
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, hidden, POLICE)
    assert error_details(caught.value)[1] == [("holder.name", "BAD_CHARACTERS")]
    assert caught.value.details() == (
        "holder.name: 持证主体名称含有不可见字符 U+200B（holder.name contains invisible characters: U+200B）"
    )


def test_citizen_id_check_character(running: RunningGateway) -> None:
    record = samples.id_card(8)
    record = {
        **record,
        "request_id": "id-bad-" + uuid.uuid4().hex[:8],
        "holder": {
            **record["holder"],
            "code": record["holder"]["code"][:17] + ("0" if record["holder"]["code"][17] != "0" else "1"),
        },
    }
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, record, POLICE)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("holder.code", "BAD_CHECK_CHARACTER") in error_details(caught.value)[1]


def test_one_source_only_the_authoritative_issuer_may_issue(running: RunningGateway) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, unique(samples.business_license(9)), CIVIL)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(caught.value)[0].reason == "NOT_AUTHORITATIVE_ISSUER"


def test_a_consumer_cannot_issue_at_all(running: RunningGateway) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, unique(samples.business_license(10)), TAX)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(caught.value)[0].reason == "ROLE_NOT_ALLOWED"
    assert caught.value.details() == (
        "国家税务总局济南市税务局无权签发证照（IssueLicense）（国家税务总局济南市税务局 may not call IssueLicense）"
    )


@pytest.mark.parametrize("token", [None, "zzgw-dev-not-a-real-token"])
def test_unauthenticated_calls_are_refused(running: RunningGateway, token: str | None) -> None:
    from protos.zzgw.v1 import issuance_pb2_grpc

    stub = issuance_pb2_grpc.IssuanceServiceStub(running.channel(None))
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with pytest.raises(grpc.RpcError) as caught:
        stub.IssueLicense(issue_request(unique(samples.business_license(11))), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_amend_makes_a_new_version_and_supersedes_the_old(running: RunningGateway) -> None:
    first = issue(running, unique(samples.business_license(12))).license
    stub = running.issuance(MARKET)
    amended = stub.AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="amend-" + uuid.uuid4().hex,
            license_id=first.license_id,
            fields={"legal_representative": "李四", "domicile": "山东省济南市历城区新址1号"},
            reason="法定代表人变更",
        )
    )
    new, old = amended.license, amended.superseded
    assert new.version == 2 and new.supersedes == first.license_id
    assert LicenseId.parse(new.license_id).serial == LicenseId.parse(first.license_id).serial
    assert new.license_id != first.license_id and new.fields["legal_representative"] == "李四"
    assert new.fields["company_name"] == first.fields["company_name"]
    assert new.issue_date == today().isoformat()
    assert old.status == S.LICENSE_STATUS_SUPERSEDED and old.superseded_by == new.license_id
    got = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=first.license_id))
    assert got.license.status == S.LICENSE_STATUS_SUPERSEDED
    current = stub.GetLicense(
        issuance_pb2.GetLicenseRequest(
            type_code=BUSINESS_LICENSE, license_number=first.license_number, include_history=True
        )
    )
    assert current.license.license_id == new.license_id
    assert [v.license_id for v in current.history] == [first.license_id]
    earlier = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=first.license_id, include_history=True))
    assert not earlier.history  # the versions before it: none, and not the later one
    with pytest.raises(grpc.RpcError) as caught:
        stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=first.license_id,
                fields={"domicile": "x"},
                reason="住所变更",
            )
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_details(caught.value)[0]
    # the version to amend instead is named
    assert (info.reason, info.metadata["superseded_by"]) == ("NOT_AMENDABLE", new.license_id)
    assert caught.value.details() == (
        f"只有有效或已暂停使用的证照可以变更，该证照已变更（不再现行），请变更取代它的 {new.license_id}"
        "（only an active or suspended license can be amended; this one is superseded: amend the version that "
        "replaced it (superseded_by)）"
    )


def test_a_retry_of_an_amendment_whose_first_try_commits_as_it_looks_the_license_up_is_answered(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review (R2): a retry (same request id, same content) sent while the first try is on its way, which
    finds no stored result and then reads the license just after the first try committed, was refused NOT_AMENDABLE,
    "amend the version that replaced it", its own result; a client retrying after its deadline could amend twice.
    It is answered from the stored result, as a retry is. The first try is held at its document until the retry
    has found no stored result; the retry's look-up of the license waits until the first try is answered."""
    first = issue(running, unique(samples.business_license(66))).license
    request = issuance_pb2.AmendLicenseRequest(
        request_id="amend-" + uuid.uuid4().hex,
        license_id=first.license_id,
        fields={"legal_representative": "李四"},
        reason="法定代表人变更",
    )
    owned, make = IssuanceService._owned, DocumentService.make
    looked_up: list[int] = []
    first_looked, retrying, answered_first = threading.Event(), threading.Event(), threading.Event()

    def held_owned(self: IssuanceService, *args: Any) -> Any:
        looked_up.append(1)
        first_looked.set()
        if len(looked_up) == 2:  # the retry's, after its look-up of a stored result found none
            retrying.set()
            answered_first.wait(10)
        return owned(self, *args)

    def held_make(self: DocumentService, *args: Any, **kwargs: Any) -> Any:
        retrying.wait(10)  # the first try's document, drawn once the retry is on its way
        return make(self, *args, **kwargs)

    monkeypatch.setattr(IssuanceService, "_owned", held_owned)
    monkeypatch.setattr(DocumentService, "make", held_make)
    stub = running.issuance(MARKET)
    answers: dict[str, Any] = {}
    first_try = threading.Thread(target=lambda: answers.update(first=stub.AmendLicense(request)))
    first_try.start()
    assert first_looked.wait(10)  # the first try has looked the license up: the next look-up is the retry's
    retry = threading.Thread(target=lambda: answers.update(retry=outcome(lambda: stub.AmendLicense(request))))
    retry.start()
    try:
        first_try.join(20)
    finally:
        answered_first.set()
        retry.join()
    amended, again = answers["first"], answers["retry"]
    assert again[0] == "ok", again
    assert again[1].license.license_id == amended.license.license_id
    assert again[1].superseded.status == S.LICENSE_STATUS_SUPERSEDED
    current = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=first.license_id)).license
    assert current.superseded_by == amended.license.license_id  # one amendment, not two


def outcome(call: Any) -> tuple[str, Any]:
    """("ok", the answer) or (the reason, the message) of a refused call."""
    try:
        return "ok", call()
    except grpc.RpcError as refused:
        return error_details(refused)[0].reason, refused.details()


def answered_as_stored(running: RunningGateway, retries: list[dict[str, Any]], stored: common_pb2.License) -> None:
    """Each of ``retries`` sent again, one by one and in one batch, is answered with the license ``stored``
    (``created`` false)."""
    for retry in retries:
        again = issue(running, retry)
        assert (again.created, again.license.license_id) == (False, stored.license_id), retry
    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(retry) for retry in retries])
    answered = results(running.issuance(MARKET).BatchIssueLicenses(iter([batch])))
    assert [(r.created, r.license.license_id, r.error.reason) for r in answered] == [
        (False, stored.license_id, "")
    ] * len(retries)


def stored_under_digest_of(running: RunningGateway, request_id: str, request: Mapping[str, object]) -> None:
    """The write stored under ``request_id`` given the idempotency digest of ``request`` (a mapping of it as an earlier
    gateway took its digest), as a store written by that gateway holds it."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    with running.gateway.db.engine.begin() as connection:
        rows = connection.execute(
            sql("UPDATE license_events SET request_digest = :digest WHERE request_id = :id"),
            {"digest": digest, "id": request_id},
        )
        assert rows.rowcount == 1


def test_an_amendment_retried_as_spelt_otherwise_is_the_same_request(running: RunningGateway) -> None:
    """Found in review (R3): the idempotency digest of an amendment was of the request as sent, so a retry naming a
    field to clear once where the first named it twice, or a reason with a space the gateway trims, was
    REQUEST_ID_REUSED though it asks for the same amendment (a status change's reason was judged as normalised
    already). Both are answered; so is a retry sent exactly as before of an amendment stored under the digest of
    the request as sent (before the upgrade), and another content is still refused."""
    stub = running.issuance(MARKET)

    def amend(request_id: str, license_id: str, clear: list[str], reason: str) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id=request_id,
                license_id=license_id,
                fields={"domicile": "山东省济南市历城区新址2号"},
                clear_fields=clear,
                reason=reason,
            )
        )

    first = issue(running, unique(samples.business_license(67))).license
    request_id = "amend-" + uuid.uuid4().hex
    amended = amend(request_id, first.license_id, ["registered_capital", "registered_capital"], "住所变更")
    assert "registered_capital" not in amended.license.fields
    for clear, reason in ((["registered_capital"], "住所变更"), (["registered_capital"] * 3, "\u3000住所变更 ")):
        again = amend(request_id, first.license_id, clear, reason)
        assert again.license.license_id == amended.license.license_id
    with pytest.raises(grpc.RpcError) as caught:
        amend(request_id, first.license_id, [], "住所变更")
    assert (caught.value.code(), error_details(caught.value)[0].reason) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_REUSED",
    )

    # stored before the upgrade: under the digest of the request as sent, which a retry sent as it was still has
    second = issue(running, unique(samples.business_license(68))).license
    request_id = "amend-" + uuid.uuid4().hex
    sent = {
        "op": "amend",
        "license_id": second.license_id,
        "fields": {"domicile": "山东省济南市历城区新址2号"},
        "clear_fields": ["registered_capital", "registered_capital"],
        "optional": [None, None, None, None],
        "issue_date": "",
        "reason": "住所变更 ",
    }
    amended = amend(request_id, second.license_id, ["registered_capital", "registered_capital"], "住所变更 ")
    stored_under_digest_of(running, request_id, sent)
    again = amend(request_id, second.license_id, ["registered_capital", "registered_capital"], "住所变更 ")
    assert again.license.license_id == amended.license.license_id


def test_an_issue_retried_as_stored_is_the_same_request(running: RunningGateway) -> None:
    """Found in review (issuer, R3): the idempotency digest of an issue was of the request as sent, before the number's
    normalisation and the defaults, so a retry of the same request_id spelling the number as stored (upper case,
    ASCII, without spaces), or writing out the valid_from or region_code the first try was given by default, was
    ALREADY_EXISTS / REQUEST_ID_REUSED though it asks for the license stored: a department retrying from what it
    read back had to look it up by hand. Each is answered with the first license, one by one and in a batch; another
    content is still refused; and an issue stored before, under the digest of the request as sent, is still answered
    to a retry sent as it was."""
    record = unique(samples.food_permit(31))
    record["license_number"] = record["license_number"].lower()
    first = issue(running, record).license
    assert first.license_number == record["license_number"].upper()
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in first.license_number)

    def spaced(number: str) -> list[str]:
        return [number[i : i + 4] for i in range(0, len(number), 4)]

    retries = [
        {**record, "license_number": first.license_number},  # as stored, as GetLicense gives it back
        {**record, "license_number": full_width},
        {**record, "license_number": " ".join(spaced(first.license_number))},  # as printed, in groups
        {**record, "valid_from": record["issue_date"]},  # the default it got, written out
        {**record, "region_code": "370100"},  # the issuer's own region, its default
        {**record, "license_number": first.license_number, "valid_from": record["issue_date"], "region_code": "370100"},
    ]
    answered_as_stored(running, retries, first)
    for other in ({**record, "region_code": "370102"}, {**record, "valid_from": "2024-05-11"}):
        with pytest.raises(grpc.RpcError) as caught:
            issue(running, other)
        assert (caught.value.code(), error_details(caught.value)[0].reason) == (
            grpc.StatusCode.ALREADY_EXISTS,
            "REQUEST_ID_REUSED",
        )

    # stored before: under the digest of the request as sent, which a retry sent as it was still has
    old = unique(samples.food_permit(32))
    old["license_number"] = old["license_number"].lower()
    sent = {
        "op": "issue",
        "type_code": old["type_code"],
        "license_number": old["license_number"],
        "holder": [old["holder"]["name"], old["holder"]["code_type"], old["holder"]["code"]],
        "dates": [old["issue_date"], "", old["valid_until"]],
        "region_code": "",
        "fields": old["fields"],
        "serial": "",
    }
    stored = issue(running, old).license
    stored_under_digest_of(running, old["request_id"], sent)
    answered_as_stored(running, [old], stored)


def test_an_issue_retried_with_its_fields_as_stored_is_the_same_request(running: RunningGateway) -> None:
    """Found in review (s55fix, R1): the digest of an issue took the number, the holder's code and the serial as
    stored, but the holder's name and the fields as sent. A 营业执照 carries its USCC as its number, its holder's
    code and ``fields.uscc``: a first try in lower case, retried with all three copied from GetLicense (upper case),
    was ALREADY_EXISTS / REQUEST_ID_REUSED, and so was one with a name's full-width space, a trailing space or a
    decomposed é as stored. Each is answered with the first license, one by one and in a batch; a field that differs
    is still refused; and an issue stored under the digest of before (fields as sent) is answered to a retry spelt as
    its first try was."""
    stub = running.issuance(MARKET)
    n = next(n for n in range(1, 1000) if any(c.isalpha() for c in samples.uscc(n * 7919 + 31)))
    record = unique(samples.business_license(n * 7919 + 31))
    code = record["license_number"].lower()
    assert code != code.upper()
    name = record["holder"]["name"][:2] + "\u3000" + record["holder"]["name"][2:]
    record["license_number"] = code
    record["holder"] = {**record["holder"], "name": name, "code": code}
    record["fields"] = {
        **record["fields"],
        "uscc": code,
        "company_name": name,
        "domicile": record["fields"]["domicile"] + " ",
        "legal_representative": "Jose\u0301",
    }
    first = issue(running, record).license
    got = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=first.license_id)).license
    assert got.fields["uscc"] == code.upper() and got.holder.name == name.replace("\u3000", " ")
    assert (
        got.fields["legal_representative"] == "Jos\u00e9"
        and got.fields["domicile"] == record["fields"]["domicile"][:-1]
    )
    as_stored = {
        **record,
        "license_number": got.license_number,
        "holder": {"name": got.holder.name, "code_type": got.holder.code_type, "code": got.holder.code},
        "fields": dict(got.fields),
    }
    retries = [
        as_stored,  # as GetLicense returns it, as the change entry of review issuer's R3 says
        {**record, "fields": {**record["fields"], "uscc": code.upper()}},
        {**record, "holder": as_stored["holder"]},
        {**record, "fields": {**record["fields"], "legal_representative": "Jos\u00e9"}},
        {**record, "fields": {**record["fields"], "business_scope": "  " + record["fields"]["business_scope"]}},
        record,
    ]
    answered_as_stored(running, retries, first)
    for other in (
        {**as_stored, "fields": {**as_stored["fields"], "legal_representative": "Jose"}},
        {**as_stored, "fields": {**as_stored["fields"], "domicile": as_stored["fields"]["domicile"] + "1"}},
    ):
        with pytest.raises(grpc.RpcError) as caught:
            issue(running, other)
        assert (caught.value.code(), error_details(caught.value)[0].reason) == (
            grpc.StatusCode.ALREADY_EXISTS,
            "REQUEST_ID_REUSED",
        )

    # stored between review issuer's R3 and this: the number, holder code, serial and defaults as stored, the name
    # and the fields as sent, which a retry spelt as its first try was still has
    old = {**record, "request_id": "old-" + uuid.uuid4().hex}
    old_code = samples.uscc(n * 7919 + 32).lower()
    old = {
        **old,
        "license_number": old_code,
        "holder": {**old["holder"], "code": old_code},
        "fields": {**old["fields"], "uscc": old_code},
    }
    then = {
        "op": "issue",
        "type_code": old["type_code"],
        "license_number": old_code.upper(),
        "holder": [name, "001", old_code.upper()],
        "dates": [old["issue_date"], old["issue_date"], old.get("valid_until", "")],
        "region_code": "370100",
        "fields": old["fields"],
        "serial": "",
    }
    stored = issue(running, old).license
    stored_under_digest_of(running, old["request_id"], then)
    answered_as_stored(running, [old], stored)


def test_an_amendment_retried_with_its_number_as_stored_is_the_same_request(running: RunningGateway) -> None:
    """An AmendLicense giving a new license_number in lower case, retried with the number as stored (upper case), was
    REQUEST_ID_REUSED (review issuer, R3); it is answered with the version the first made. An amendment stored
    under the digest before this one (the number as sent) is answered to a retry sent as it was."""
    stub = running.issuance(MARKET)

    def amend(request_id: str, license_id: str, number: str) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id=request_id, license_id=license_id, fields={}, license_number=number, reason="换发编号"
            )
        )

    first = issue(running, unique(samples.food_permit(33))).license
    number = f"sc10637010{uuid.uuid4().hex[:6]}"
    request_id = "amend-" + uuid.uuid4().hex
    amended = amend(request_id, first.license_id, number).license
    assert amended.license_number == number.upper()
    for spelt in (number.upper(), f" {number[:8]} {number[8:]}"):
        assert amend(request_id, first.license_id, spelt).license.license_id == amended.license_id, spelt

    second = issue(running, unique(samples.food_permit(34))).license
    number = f"sc10637010{uuid.uuid4().hex[:6]}"
    request_id = "amend-" + uuid.uuid4().hex
    before = {  # the digest of 2026-12-06 on: the number as sent
        "op": "amend",
        "license_id": second.license_id,
        "fields": {},
        "clear_fields": [],
        "optional": [None, number, None, None],
        "issue_date": "",
        "reason": "换发编号",
    }
    amended = amend(request_id, second.license_id, number).license
    stored_under_digest_of(running, request_id, before)
    assert amend(request_id, second.license_id, number).license.license_id == amended.license_id


def test_an_amendment_retried_with_its_name_and_fields_as_stored_is_the_same_request(running: RunningGateway) -> None:
    """As an issue's (review s55fix, R1, left alone there): an AmendLicense whose new holder name has a full-width
    space and whose fields a trailing space, a decomposed mark or a code in lower case, retried with them as GetLicense
    returns the new version, was REQUEST_ID_REUSED; it is answered with the version the first made, a field that
    differs is still refused, and an amendment stored under the digest before (the name and the fields as sent) is
    answered to a retry sent as it was."""
    stub = running.issuance(MARKET)

    def amend(request_id: str, license_id: str, name: str, fields: dict[str, str]) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id=request_id, license_id=license_id, fields=fields, holder_name=name, reason="更名"
            )
        )

    first = issue(running, unique(samples.food_permit(35))).license
    name = "济南\u3000大明食品有限公司35"
    fields = {
        "legal_representative": "Jose\u0301",
        "domicile": "山东省济南市历下区1号 ",
        "uscc": first.holder.code.lower(),
        "producer_name": name,
    }
    request_id = "amend-" + uuid.uuid4().hex
    amended = amend(request_id, first.license_id, name, fields).license
    got = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=amended.license_id)).license
    kept = {key: got.fields[key] for key in fields}
    assert (got.holder.name, kept) == (
        "济南 大明食品有限公司35",
        {
            "legal_representative": "Jos\u00e9",
            "domicile": "山东省济南市历下区1号",
            "uscc": first.holder.code,
            "producer_name": "济南 大明食品有限公司35",
        },
    )
    for spelt_name, spelt_fields in ((got.holder.name, kept), (name, kept), (got.holder.name, fields)):
        again = amend(request_id, first.license_id, spelt_name, spelt_fields).license
        assert again.license_id == amended.license_id, (spelt_name, spelt_fields)
    with pytest.raises(grpc.RpcError) as caught:
        amend(request_id, first.license_id, got.holder.name, {**kept, "legal_representative": "Jose"})
    assert error_details(caught.value)[0].reason == "REQUEST_ID_REUSED"

    second = issue(running, unique(samples.food_permit(36))).license
    fields = {**fields, "uscc": second.holder.code.lower()}
    request_id = "amend-" + uuid.uuid4().hex
    before = {  # the digest of the day before: the number as stored, the name and the fields as sent
        "op": "amend",
        "license_id": second.license_id,
        "fields": fields,
        "clear_fields": [],
        "optional": [name, None, None, None],
        "issue_date": "",
        "reason": "更名",
    }
    amended = amend(request_id, second.license_id, name, fields).license
    stored_under_digest_of(running, request_id, before)
    assert amend(request_id, second.license_id, name, fields).license.license_id == amended.license_id


def test_a_license_at_version_999_is_not_amended_again(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GB/T 36904 gives the version three digits: the amendment of version 999 is refused FAILED_PRECONDITION /
    VERSION_LIMIT, naming what to do. It had been INTERNAL (a ValueError making the identifier of version 1000; a
    reviewer). The license is issued at version 998 here, as 997 amendments would have left it."""
    from gateway.services import issuance as issuance_module

    made = issuance_module._content

    def at_998(valid: Any, license_id: str, issuer_code: str, *, version: int) -> Any:
        late = dataclasses.replace(LicenseId.parse(license_id), version=998)
        return made(valid, str(late), issuer_code, version=998)

    with monkeypatch.context() as patched:
        patched.setattr(issuance_module, "_content", at_998)
        first = issue(running, unique(samples.business_license(13))).license
    assert first.version == 998 and first.license_id.endswith(f".998.{first.license_id[-1]}")
    stub = running.issuance(MARKET)

    def amend(license_id: str, name: str) -> issuance_pb2.AmendLicenseResponse:
        return stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=license_id,
                fields={"legal_representative": name},
                reason="法定代表人变更",
            )
        )

    last = amend(first.license_id, "李四").license
    assert last.version == 999 and LicenseId.parse(last.license_id).version == 999
    with pytest.raises(grpc.RpcError) as caught:
        amend(last.license_id, "王五")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_details(caught.value)[0]
    assert (info.reason, dict(info.metadata)) == ("VERSION_LIMIT", {"version": "999"})
    assert caught.value.details() == (
        "该证照已是第999版，证照标识的版本号不能再大，不能再变更：请将其吊销或注销后重新签发"
        "（the license is at version 999, the last its identifier can carry: revoke or cancel it and issue it "
        "again）"
    )
    got = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=last.license_id)).license
    assert got.status == S.LICENSE_STATUS_ACTIVE and not got.superseded_by


def test_a_number_that_is_the_holders_code_must_be_the_holders(running: RunningGateway) -> None:
    """A 居民身份证's number is its 公民身份号码 and a 营业执照's its 统一社会信用代码: the police had issued a card
    whose number was another person's (or "ABC"), which then verified PASSED by that person's number (found by an
    independent client); on amendment too."""
    card = {**samples.id_card(801), "request_id": f"id-{uuid.uuid4().hex}"}
    other = samples.id_card(802)["license_number"]
    for number in (other, "ABC"):
        with pytest.raises(grpc.RpcError) as caught:
            issue(running, {**card, "license_number": number}, member=POLICE)
        assert ("license_number", "DISAGREES_WITH_HOLDER") in error_details(caught.value)[1]
        assert caught.value.details() == (
            "license_number: 公民身份号码与持证主体的公民身份号码不一致"
            "（license_number is not the holder's code (holder.code)）"
        )
    business = unique(samples.business_license(803))
    with pytest.raises(grpc.RpcError) as caught:
        issue(running, {**business, "license_number": samples.uscc(804)})
    assert ("license_number", "DISAGREES_WITH_HOLDER") in error_details(caught.value)[1]
    issued = issue(running, business).license
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(MARKET).AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=issued.license_id,
                license_number=samples.uscc(805),
                reason="换号",
            )
        )
    assert ("license_number", "DISAGREES_WITH_HOLDER") in error_details(caught.value)[1]
    # a type whose number is its own (食品生产许可证编号) takes any well-formed number
    permit = unique(samples.food_permit(806))
    assert issue(running, permit).license.license_number == permit["license_number"]


def test_a_batch_sent_again_is_answered_from_the_store_without_sealing_again(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import run again after an interruption (the documented way on) had every line validated and sealed again
    only to be answered "already present", one read at a time: 2.5-3.5 times slower than the first run (found by an
    independent client). A replay is now answered from its request's record; one with other content still is
    REQUEST_ID_REUSED."""
    records = [unique(samples.food_permit(810 + i)) for i in range(3)]
    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(r) for r in records])
    (first,) = running.issuance(MARKET).BatchIssueLicenses(iter([batch]))
    assert all(r.created for r in first.results)
    prepared: list[str] = []
    service = running.gateway.issuance
    original = service._prepare
    monkeypatch.setattr(
        service,
        "_prepare",
        lambda caller, draft, *rest: prepared.append(draft.request_id) or original(caller, draft, *rest),
    )
    changed = issue_request({**records[2], "fields": {**records[2]["fields"], "legal_representative": "另一人"}})
    again = issuance_pb2.BatchIssueLicensesRequest(licenses=[*batch.licenses[:2], changed])
    (second,) = running.issuance(MARKET).BatchIssueLicenses(iter([again]))
    assert [(r.created, r.license.license_id) for r in second.results[:2]] == [
        (False, r.license.license_id) for r in first.results[:2]
    ]
    stored = running.issuance(MARKET).GetLicenseDocument(  # a batch's documents are drawn when first asked for
        issuance_pb2.GetLicenseDocumentRequest(license_id=first.results[0].license.license_id)
    )
    single = running.issuance(MARKET).IssueLicense(batch.licenses[0])  # one call alike, with its document's hash
    assert not single.created and single.license.license_id == first.results[0].license.license_id
    assert single.document_sha256 == stored.sha256
    assert second.results[2].error.reason == "REQUEST_ID_REUSED"
    assert prepared == [records[2]["request_id"]]  # only the one whose content differs is checked and sealed
    # a request id that no store holds (a NUL: PostgreSQL's driver refuses it) fails its item alone, as before
    odd = issue_request({**unique(samples.food_permit(813)), "request_id": "r\x00"})
    (third,) = running.issuance(MARKET).BatchIssueLicenses(
        iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[odd, batch.licenses[0]])])
    )
    assert [(e.field, e.reason) for e in third.results[0].error.field_errors] == [("request_id", "BAD_REQUEST_ID")]
    assert not third.results[1].created and third.results[1].license.license_id == first.results[0].license.license_id


def test_amend_with_an_invalid_field_is_rejected(running: RunningGateway) -> None:
    first = issue(running, unique(samples.business_license(13))).license
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(MARKET).AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex,
                license_id=first.license_id,
                fields={"established_on": "soon"},
                reason="变更",
            )
        )
    assert ("fields.established_on", "BAD_DATE") in error_details(caught.value)[1]
    # nor without its reason, which verifiers and watchers are shown, as for a status change
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(MARKET).AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex, license_id=first.license_id, fields={"domicile": "新址"}
            )
        )
    assert ("reason", "REQUIRED") in error_details(caught.value)[1]


def test_a_renamed_company_must_rename_its_name_field_too(running: RunningGateway) -> None:
    """名称变更: the holder's name and the 营业执照's 名称 are one fact (the catalog's ``of_holder``); an amendment
    that changes one without the other would leave a license whose 名称 names another company."""
    first = issue(running, unique(samples.business_license(14))).license
    stub = running.issuance(MARKET)

    def amend(**change: object) -> issuance_pb2.AmendLicenseResponse:
        request = issuance_pb2.AmendLicenseRequest(request_id="amend-" + uuid.uuid4().hex, license_id=first.license_id)
        for key, value in change.items():
            if key == "fields":
                request.fields.update(value)  # type: ignore[arg-type]
            else:
                setattr(request, key, value)
        return stub.AmendLicense(request)

    with pytest.raises(grpc.RpcError) as caught:
        amend(holder_name="济南新名科技有限公司", reason="名称变更")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("fields.company_name", "DISAGREES_WITH_HOLDER")]
    renamed = amend(
        holder_name="济南新名科技有限公司", fields={"company_name": "济南新名科技有限公司"}, reason="名称变更"
    )
    assert renamed.license.holder.name == renamed.license.fields["company_name"] == "济南新名科技有限公司"


@pytest.mark.parametrize(
    ("change_of", "expected"),
    [
        ({"clear_fields": ["no_such_field"]}, ("clear_fields.no_such_field", "UNKNOWN_FIELD")),
        (
            {"fields": {"domicile": "山东省济南市历城区新址2号"}, "clear_fields": ["domicile"]},
            ("clear_fields.domicile", "SET_AND_CLEARED"),
        ),
        ({}, ("fields", "NOTHING_CHANGED")),
        ("same values", ("fields", "NOTHING_CHANGED")),
        (
            {"fields": {"domicile": "山东省济南市历城区新址3号"}, "issue_date": "2024-02-29"},  # version 1: 2024-03-01
            ("issue_date", "ISSUE_DATE_BEFORE_PREVIOUS"),
        ),
    ],
)
def test_an_amendment_that_changes_nothing_or_clears_what_is_not_there_is_refused(
    running: RunningGateway, change_of: dict | str, expected: tuple[str, str]
) -> None:
    first = issue(running, unique(samples.business_license(14))).license
    if change_of == "same values":
        change_of = {"fields": {"domicile": first.fields["domicile"]}, "holder_name": first.holder.name}
    assert isinstance(change_of, dict)
    stub = running.issuance(MARKET)
    with pytest.raises(grpc.RpcError) as caught:
        stub.AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex, license_id=first.license_id, reason="变更", **change_of
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in error_details(caught.value)[1]
    said = caught.value.details() or ""  # the first violation's field, then its words: Chinese first
    assert said.startswith(f"{expected[0]}: ") and not said[len(expected[0]) + 2].isascii() and said.endswith("）")
    got = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=first.license_id)).license
    assert got.status == S.LICENSE_STATUS_ACTIVE and not got.superseded_by  # no version was made


def change(running: RunningGateway, license_id: str, action: int, member: str = MARKET, reason: str = "依法处理"):  # type: ignore[no-untyped-def]
    return (
        running.issuance(member)
        .ChangeLicenseStatus(
            issuance_pb2.ChangeLicenseStatusRequest(
                request_id="st-" + uuid.uuid4().hex, license_id=license_id, action=action, reason=reason
            )
        )
        .license
    )


def test_status_transitions(running: RunningGateway) -> None:
    lic = issue(running, unique(samples.food_permit(14))).license
    assert change(running, lic.license_id, issuance_pb2.STATUS_ACTION_SUSPEND).status == S.LICENSE_STATUS_SUSPENDED
    assert change(running, lic.license_id, issuance_pb2.STATUS_ACTION_RESUME).status == S.LICENSE_STATUS_ACTIVE
    assert change(running, lic.license_id, issuance_pb2.STATUS_ACTION_REVOKE).status == S.LICENSE_STATUS_REVOKED
    cancelled = change(running, lic.license_id, issuance_pb2.STATUS_ACTION_CANCEL, reason="企业申请注销")
    assert cancelled.status == S.LICENSE_STATUS_CANCELLED and cancelled.status_reason == "企业申请注销"
    with pytest.raises(grpc.RpcError) as caught:
        change(running, lic.license_id, issuance_pb2.STATUS_ACTION_RESUME)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info, _ = error_details(caught.value)
    assert info.reason == "TRANSITION_NOT_ALLOWED" and info.metadata["status"] == "CANCELLED"
    assert caught.value.details() == "该证照已注销，不能恢复（cannot resume a license that is cancelled）"


def test_a_status_change_of_a_superseded_version_names_the_version_that_replaced_it(running: RunningGateway) -> None:
    """A clerk revokes by the identifier they looked up while another amends the license: the revocation is
    refused, and names the version to act on (``superseded_by``) as NOT_AMENDABLE does; it had named none, and the
    docs called the refusal final, so a client dropped the revocation and the license stayed in force (a
    reviewer). The status is not applied to the version in force unasked: the client decides."""
    first = issue(running, unique(samples.food_permit(16))).license
    stub = running.issuance(MARKET)
    new = stub.AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="amend-" + uuid.uuid4().hex,
            license_id=first.license_id,
            fields={"legal_representative": "李四"},
            reason="法定代表人变更",
        )
    ).license
    with pytest.raises(grpc.RpcError) as caught:
        change(running, first.license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_details(caught.value)[0]
    assert (info.reason, dict(info.metadata)) == (
        "TRANSITION_NOT_ALLOWED",
        {"status": "SUPERSEDED", "action": "REVOKE", "superseded_by": new.license_id},
    )
    assert caught.value.details() == (
        f"该证照已变更（不再现行），不能吊销或撤销，请对取代它的 {new.license_id} 操作"
        "（cannot revoke a license that is superseded: act on the version that replaced it (superseded_by)）"
    )
    got = stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=new.license_id)).license
    assert got.status == S.LICENSE_STATUS_ACTIVE  # untouched until the client acts on it
    revoked = change(running, info.metadata["superseded_by"], issuance_pb2.STATUS_ACTION_REVOKE)
    assert (revoked.license_id, revoked.status) == (new.license_id, S.LICENSE_STATUS_REVOKED)


def test_status_change_needs_a_reason_and_an_action(running: RunningGateway) -> None:
    lic = issue(running, unique(samples.food_permit(15))).license
    with pytest.raises(grpc.RpcError) as caught:
        change(running, lic.license_id, issuance_pb2.STATUS_ACTION_SUSPEND, reason="")
    assert ("reason", "REQUIRED") in error_details(caught.value)[1]
    # which reason: the change's, with what it is (请填写原因 alone had said little; a government-service editor)
    assert caught.value.details() == "reason: 请填写状态变更原因，如暂停、吊销或撤销、注销的依据（reason is required）"
    with pytest.raises(grpc.RpcError) as caught:
        change(running, lic.license_id, issuance_pb2.STATUS_ACTION_UNSPECIFIED)
    assert ("action", "REQUIRED") in error_details(caught.value)[1]
    with pytest.raises(grpc.RpcError) as caught:  # a value the API does not define: not "left out"
        change(running, lic.license_id, 99)
    assert ("action", "UNKNOWN_ACTION") in error_details(caught.value)[1]


def test_another_issuer_cannot_change_or_read_the_license(running: RunningGateway) -> None:
    lic = issue(running, unique(samples.food_permit(16))).license
    with pytest.raises(grpc.RpcError) as caught:
        change(running, lic.license_id, issuance_pb2.STATUS_ACTION_REVOKE, member=POLICE)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(caught.value)[0].reason == "NOT_LICENSE_ISSUER"
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(POLICE).GetLicense(issuance_pb2.GetLicenseRequest(license_id=lic.license_id))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for read in (
        lambda: running.issuance(ADMIN).GetLicense(issuance_pb2.GetLicenseRequest(license_id=lic.license_id)),
        lambda: running.issuance(ADMIN).GetLicenseDocument(
            issuance_pb2.GetLicenseDocumentRequest(license_id=lic.license_id)
        ),
    ):  # administrators administer: they had read any record whole, by a typed 公民身份号码 too, unrecorded
        with pytest.raises(grpc.RpcError) as caught:
            read()
        assert (caught.value.code(), error_details(caught.value)[0].reason) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "ROLE_NOT_ALLOWED",
        )


def test_an_issuers_read_of_its_record_keeps_secret_fields_in_and_is_on_the_holders_log(
    running: RunningGateway,
) -> None:
    """An issuer reads its own records outside any matter: the holder's log shows each read (it had shown none, so a
    department could look a citizen up by a typed 公民身份号码 unseen), and SECRET values never leave the gateway."""
    record = samples.id_card(500_000 + int(uuid.uuid4().hex[:5], 16))
    record["fields"] = {**record["fields"], "photo": "PHOTO-REF-SECRET-1"}
    lic = issue(running, record, member=POLICE).license
    assert "photo" not in lic.fields and lic.fields["name"] == record["fields"]["name"]
    police = running.issuance(POLICE)
    clerk = [("x-zzgw-operator-bin", "户籍窗口 赵敏".encode())]
    got = police.GetLicense(
        issuance_pb2.GetLicenseRequest(type_code=lic.type_code, license_number=lic.license_number), metadata=clerk
    ).license
    assert got.license_id == lic.license_id and "photo" not in got.fields and got.fields["citizen_id"]
    police.GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=lic.license_id), metadata=clerk)
    listed = audit_pb2_grpc.AuditServiceStub(running.channel(PORTAL)).ListAccessRecords(
        audit_pb2.ListAccessRecordsRequest(holder_code=lic.holder.code)
    )
    reads = [(r.action, r.caller, r.operator, r.license_id, r.decision) for r in reversed(listed.records)]
    assert reads == [
        ("ISSUER_GET_LICENSE", POLICE, "户籍窗口 赵敏", lic.license_id, "ANSWERED"),
        ("ISSUER_GET_LICENSE_DOCUMENT", POLICE, "户籍窗口 赵敏", lic.license_id, "ANSWERED"),
    ]
    # a clerk's name the log must not keep is refused as by every other call, and nothing is read or recorded (a
    # NUL, a direction override, bytes not UTF-8 or 65 characters had gone into the holder's log: an integrator)
    for bad in (
        [("x-zzgw-operator-bin", "户籍\x00赵敏".encode())],
        [("x-zzgw-operator-bin", "户籍\u202e赵敏".encode())],
        [("x-zzgw-operator-bin", b"\xff\xfe")],
        [("x-zzgw-operator", "W" * 65)],
    ):
        for method, request in (
            (police.GetLicense, issuance_pb2.GetLicenseRequest(license_id=lic.license_id)),
            (police.GetLicenseDocument, issuance_pb2.GetLicenseDocumentRequest(license_id=lic.license_id)),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                method(request, metadata=bad)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert ("x-zzgw-operator", "BAD_OPERATOR") in error_details(caught.value)[1]
    after = audit_pb2_grpc.AuditServiceStub(running.channel(PORTAL)).ListAccessRecords(
        audit_pb2.ListAccessRecordsRequest(holder_code=lic.holder.code)
    )
    issuer_reads = [(r.action, r.operator) for r in reversed(after.records) if r.action.startswith("ISSUER_")]
    assert issuer_reads == [(action, operator) for action, _, operator, _, _ in reads]


def test_another_issuer_learns_nothing_of_whether_a_license_exists(running: RunningGateway) -> None:
    """By identifier or by number, a license another department issued and one that does not exist are refused
    alike: the 公安局 could otherwise tell whether a food permit's number, or the 市场监督管理局 whether a 公民身份号码,
    is held (found by an independent client)."""
    lic = issue(running, unique(samples.food_permit(17))).license
    parsed = LicenseId.parse(lic.license_id)
    made_up = str(LicenseId(type_code=parsed.type_code, issuer_code=MARKET, serial="NOSUCHSERIAL", version=1))
    police = running.issuance(POLICE)
    answers = []
    for license_id, number in ((lic.license_id, lic.license_number), (made_up, lic.license_number + "9")):
        status = issuance_pb2.ChangeLicenseStatusRequest(
            request_id=f"st-{uuid.uuid4().hex}", license_id=license_id, action=issuance_pb2.STATUS_ACTION_REVOKE
        )
        status.reason = "吊销"
        calls: list[tuple[Any, Any]] = [
            (police.GetLicense, issuance_pb2.GetLicenseRequest(license_id=license_id)),
            (police.ChangeLicenseStatus, status),
            (police.GetLicenseDocument, issuance_pb2.GetLicenseDocumentRequest(license_id=license_id)),
            (police.GetLicense, issuance_pb2.GetLicenseRequest(type_code=lic.type_code, license_number=number)),
        ]
        for method, request in calls:
            with pytest.raises(grpc.RpcError) as caught:
                method(request)
            answers.append((caught.value.code(), error_details(caught.value)[0].reason))
    denied = (grpc.StatusCode.PERMISSION_DENIED, "NOT_LICENSE_ISSUER")
    not_issuer = (grpc.StatusCode.PERMISSION_DENIED, "NOT_AUTHORITATIVE_ISSUER")  # of food permits at all
    assert answers == 2 * [denied, denied, denied, not_issuer]


def test_get_unknown_and_malformed_identifiers(running: RunningGateway) -> None:
    stub = running.issuance(MARKET)
    lic_id = LicenseId(type_code=BUSINESS_LICENSE, issuer_code=MARKET, serial="NOSUCHSERIAL", version=1)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=str(lic_id)))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(caught.value)[0].reason == "LICENSE_NOT_FOUND"
    assert caught.value.details() == "未找到该证照（no such license）"
    with pytest.raises(grpc.RpcError) as caught:
        wrong = "1" if lic_id.check_char == "0" else "0"
        stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=str(lic_id)[:-1] + wrong))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("license_id", "INVALID_LICENSE_ID") in error_details(caught.value)[1]
    assert caught.value.details() == (
        "license_id: 证照标识的校验码不符（check character does not match (ISO/IEC 7064 MOD 37,36)）"
    )
    # a NUL or a zero-width space after a right identifier is that character, named, not a wrong check character
    # (an integrator), as every text names it
    for unseen, said in (("\x00", "控制字符 U+0000"), ("\u200b", "控制字符或不可见字符 U+200B")):
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=str(lic_id) + unseen))
        assert error_details(caught.value)[1] == [("license_id", "BAD_CHARACTERS")]
        assert (caught.value.details() or "").startswith(f"license_id: 证照标识含有{said}（"), caught.value.details()


def test_get_license_by_identifier_and_by_number_at_once_is_refused(running: RunningGateway) -> None:
    """Both ways at once had answered the identifier's license and ignored the number, so a client that sent both
    read another license than the one it named by number; VerifyLicense refuses such a mix, and so does GetLicense."""
    stub = running.issuance(MARKET)
    first = issue(running, unique(samples.business_license(69))).license
    second = issue(running, unique(samples.business_license(70))).license
    for mixed in (
        {"type_code": BUSINESS_LICENSE, "license_number": second.license_number},
        {"license_number": second.license_number},
        {"type_code": BUSINESS_LICENSE},
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=first.license_id, **mixed))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, mixed
        assert error_details(caught.value)[1] == [("license_id", "ONE_OF")], mixed
        assert caught.value.details() == (
            "license_id: 请只填写其中一种：证照标识、证照类型代码加证照编号"
            "（give exactly one of license_id, type_code with license_number）"
        )
    by_number = stub.GetLicense(
        issuance_pb2.GetLicenseRequest(type_code=BUSINESS_LICENSE, license_number=second.license_number)
    )
    assert by_number.license.license_id == second.license_id


def test_expired_is_derived_at_read_time(running: RunningGateway) -> None:
    record = unique(samples.food_permit(17, issued=dt.date(2015, 1, 1)))
    record["valid_until"] = "2019-12-31"
    lic = issue(running, record).license
    assert lic.status == S.LICENSE_STATUS_EXPIRED
    with running.gateway.db.unit_of_work() as uow:
        stored = uow.licenses.get(lic.license_id)
    assert stored is not None and stored.status.value == "ACTIVE"  # never stored as expired
    # its ISSUED event says the stored status, as issuance.proto says: expiry is never an event, watchers derive it
    stream = running.issuance(ADMIN).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(from_beginning=True, type_codes=[FOOD_PERMIT])
    )
    event = next(reply.event for reply in stream if reply.event.license_id == lic.license_id)
    stream.cancel()
    assert (event.kind, event.status) == (issuance_pb2.CHANGE_KIND_ISSUED, S.LICENSE_STATUS_ACTIVE)


def test_batch_one_result_per_item_in_order_bad_items_fail_alone(running: RunningGateway) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = [unique(samples.food_permit(100 + i), f"{tag}{i:02d}") for i in range(30)]
    records[7]["fields"]["uscc"] = "91370100MA3C4K7L6N"
    records[19]["issue_date"] = "not-a-date"
    # 30 items in messages of 1, 4 and 25 items
    items = [issue_request(r) for r in records]
    requests = [issuance_pb2.BatchIssueLicensesRequest(licenses=part) for part in (items[:1], items[1:5], items[5:])]
    responses = results(running.issuance(MARKET).BatchIssueLicenses(iter(requests)))
    assert [r.index for r in responses] == list(range(30))
    failed = {r.index: r.error for r in responses if r.HasField("error")}
    assert set(failed) == {7, 19}
    assert failed[7].code == "INVALID_ARGUMENT" and failed[7].field_errors[0].field == "fields.uscc"
    assert failed[19].field_errors[0].reason == "BAD_DATE"
    assert all(r.created for r in responses if r.HasField("license"))
    # a retried batch duplicates nothing
    again = results(running.issuance(MARKET).BatchIssueLicenses(iter(requests)))
    assert [r.license.license_id for r in again if r.HasField("license")] == [
        r.license.license_id for r in responses if r.HasField("license")
    ]
    assert not any(r.created for r in again)


def test_batch_summary_carries_no_personal_data(running: RunningGateway) -> None:
    record = unique(samples.food_permit(250))
    (result,) = results(
        running.issuance(MARKET).BatchIssueLicenses(
            iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])])
        )
    )
    lic = result.license
    assert lic.license_number == record["license_number"] and lic.record_seal.signature and lic.version == 1
    assert not lic.holder.code and not lic.fields


def test_batch_message_with_too_many_items_is_refused(running: RunningGateway) -> None:
    item = issue_request(unique(samples.food_permit(260)))
    with pytest.raises(grpc.RpcError) as caught:
        results(
            running.issuance(MARKET).BatchIssueLicenses(
                iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[item] * 1001)])
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("licenses", "TOO_MANY_ITEMS") in error_details(caught.value)[1]


def results(stream) -> list[issuance_pb2.BatchItemResult]:  # type: ignore[no-untyped-def]
    return [result for reply in stream for result in reply.results]


def test_batch_streams_results_while_the_client_is_still_sending(running: RunningGateway) -> None:
    """A client that waits for each result before sending the next one is answered (no deadlock)."""
    import queue

    outbox: queue.Queue = queue.Queue()
    tag = uuid.uuid4().hex[:8].upper()

    def requests():  # type: ignore[no-untyped-def]
        while (item := outbox.get()) is not None:
            yield item

    stream = running.issuance(MARKET).BatchIssueLicenses(requests())
    for i in range(3):
        outbox.put(
            issuance_pb2.BatchIssueLicensesRequest(
                licenses=[issue_request(unique(samples.food_permit(200 + i), f"{tag}{i}"))]
            )
        )
        reply = next(stream)
        assert [r.index for r in reply.results] == [i] and reply.results[0].HasField("license")
    outbox.put(None)
    assert list(stream) == []


def test_a_batch_stream_issues_each_group_as_its_member_is_now(running: RunningGateway) -> None:
    """An item without a region code gets its issuer's region. After `zzgw init` moved the member to another region
    (here: the credential cache cleared, as its 30 s passing would), an open stream had gone on issuing under the
    member it opened with, and such items got the old region while IssueLicense gave the new one (a reviewer, R2)."""
    members = running.gateway.members
    before = next(m for m in members.list() if m.code == MARKET)
    moved = "370200" if before.region != "370200" else "370100"
    stub = running.issuance(MARKET)
    tag = uuid.uuid4().hex[:8].upper()

    def item(i: int) -> issuance_pb2.IssueLicenseRequest:
        request = issue_request(unique(samples.food_permit(320 + i), f"{tag}{i}"))
        request.region_code = ""
        return request

    def region(result: issuance_pb2.BatchItemResult) -> str:
        assert result.HasField("license"), result.error
        return stub.GetLicense(issuance_pb2.GetLicenseRequest(license_id=result.license.license_id)).license.region_code

    outbox: queue.Queue[issuance_pb2.BatchIssueLicensesRequest | None] = queue.Queue()
    stream = stub.BatchIssueLicenses(iter(outbox.get, None), timeout=60)
    try:
        outbox.put(issuance_pb2.BatchIssueLicensesRequest(licenses=[item(0)]))
        assert region(next(stream).results[0]) == before.region
        members.register([dataclasses.replace(before, region=moved)], issue_tokens=False)
        running.gateway.authenticator._cache.clear()  # the 30 s of the credential cache, passed
        assert stub.IssueLicense(item(1)).license.region_code == moved
        outbox.put(issuance_pb2.BatchIssueLicensesRequest(licenses=[item(2)]))
        assert region(next(stream).results[0]) == moved
        outbox.put(None)
        assert list(stream) == []
    finally:
        outbox.put(None)
        members.register([before], issue_tokens=False)
        running.gateway.authenticator._cache.clear()


class _HeldUntilRead:
    """The gateway's ``issue_many`` held at its first call until the stream's reader has read the client's stream to
    its end (the reader returns once it has queued that end): every later message is waiting when the next group is
    taken. ``committed``: the items of each transaction of issues."""

    def __init__(self, running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
        service = running.gateway.issuance
        issue_many, commit = service.issue_many, service._commit_issues
        self.committed: list[int] = []
        self._entered, self._read = threading.Event(), threading.Event()
        self._readers = self._reading()

        def held(*args: Any, **kwargs: Any) -> Any:
            if not self._entered.is_set():
                self._entered.set()
                assert self._read.wait(60)
            return issue_many(*args, **kwargs)

        def counted(uow: Any, caller: Any, pending: list[Any], now: Any) -> None:
            commit(uow, caller, pending, now)
            self.committed.append(len(pending))

        monkeypatch.setattr(service, "issue_many", held)
        monkeypatch.setattr(service, "_commit_issues", counted)

    @staticmethod
    def _reading() -> set[threading.Thread]:
        return {thread for thread in threading.enumerate() if thread.name == "batch-reader"}

    def answers(
        self, stub: Any, messages: list[list[issuance_pb2.IssueLicenseRequest]]
    ) -> tuple[list[issuance_pb2.BatchItemResult], grpc.RpcError | None]:
        """The results of a stream of ``messages``, the later ones sent once the first is held; and how it ended."""

        def requests() -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
            yield issuance_pb2.BatchIssueLicensesRequest(licenses=messages[0])
            assert self._entered.wait(60)
            for licenses in messages[1:]:
                yield issuance_pb2.BatchIssueLicensesRequest(licenses=licenses)

        def release_once_read() -> None:
            assert self._entered.wait(60)
            deadline = time.monotonic() + 60
            while self._reading() - self._readers and time.monotonic() < deadline:
                time.sleep(0.02)
            self._read.set()

        releaser = threading.Thread(target=release_once_read)
        releaser.start()
        answered: list[issuance_pb2.BatchItemResult] = []
        try:
            for reply in stub.BatchIssueLicenses(requests(), timeout=300):
                answered.extend(reply.results)
        except grpc.RpcError as ended:
            return answered, ended
        finally:
            self._read.set()
            releaser.join(60)
        return answered, None


def test_a_batch_group_stops_before_a_message_that_would_take_it_past_the_chunk(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message of 499 items and one of 1,000, both waiting when a group is taken: two transactions, not one of
    1,499 (``BATCH_CHUNK``: 500; a reviewer, R3)."""
    held = _HeldUntilRead(running, monkeypatch)
    tag = uuid.uuid4().hex[:8].upper()
    items = [issue_request(unique(samples.food_permit(1_000 + i), f"{tag}{i}")) for i in range(1_500)]
    answered, ended = held.answers(running.issuance(MARKET), [items[:1], items[1:500], items[500:]])
    assert ended is None
    assert [r.index for r in answered] == list(range(1_500))
    assert all(r.created for r in answered), [r.error for r in answered if not r.created][:3]
    assert held.committed == [1, 499, 1_000]


def test_a_message_of_too_many_items_is_refused_after_the_messages_before_it_are_answered(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message of 10 items, then one of 1,001, both waiting when a group is taken: they had been one group, refused
    whole, so whether the 10 were issued depended on how the messages arrived. The 10 are issued and answered, and
    the stream then ends INVALID_ARGUMENT / TOO_MANY_ITEMS."""
    held = _HeldUntilRead(running, monkeypatch)
    tag = uuid.uuid4().hex[:8].upper()
    items = [issue_request(unique(samples.food_permit(1_600 + i), f"{tag}{i}")) for i in range(12)]
    answered, ended = held.answers(running.issuance(MARKET), [items[:1], items[1:11], [items[11]] * 1_001])
    assert [(r.index, r.created) for r in answered] == [(i, True) for i in range(11)]
    assert ended is not None and ended.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("licenses", "TOO_MANY_ITEMS") in error_details(ended)[1]
    assert held.committed == [1, 10]


def test_batch_duplicate_request_id_inside_one_batch(running: RunningGateway) -> None:
    record = unique(samples.food_permit(300))
    conflicting = {**record, "license_number": record["license_number"] + "X"}
    requests = [
        issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(r) for r in (record, record, conflicting)])
    ]
    responses = results(running.issuance(MARKET).BatchIssueLicenses(iter(requests)))
    assert responses[0].created and not responses[1].created
    assert responses[1].license.license_id == responses[0].license.license_id
    assert responses[2].error.reason == "REQUEST_ID_REUSED"
    assert responses[2].error.message.startswith(f"请求编号 {record['request_id']} 已用于内容不同的请求（")


def test_watch_delivers_changes_and_resumes_from_a_cursor(running: RunningGateway) -> None:
    watcher = running.issuance(ADMIN)  # every type, whole (a consumer gets its matters' types: tests/api/test_watch.py)
    received: list[issuance_pb2.LicenseChangeEvent] = []
    ready = threading.Event()
    stream = watcher.WatchLicenseChanges(issuance_pb2.WatchLicenseChangesRequest(type_codes=[FOOD_PERMIT]))

    def consume() -> None:
        ready.set()
        try:
            for reply in stream:
                received.append(reply.event)
                if len(received) == 2:
                    stream.cancel()
        except grpc.RpcError:
            pass

    thread = threading.Thread(target=consume)
    thread.start()
    ready.wait()
    time.sleep(0.3)  # let the stream open before the change
    lic = issue(running, unique(samples.food_permit(400))).license
    issue(running, unique(samples.business_license(400)))  # another type: filtered out
    change(running, lic.license_id, issuance_pb2.STATUS_ACTION_REVOKE, reason="生产条件不符合要求")
    thread.join(10)
    assert not thread.is_alive()
    assert [(e.kind, e.license_id) for e in received] == [
        (issuance_pb2.CHANGE_KIND_ISSUED, lic.license_id),
        (issuance_pb2.CHANGE_KIND_STATUS_CHANGED, lic.license_id),
    ]
    assert received[1].status == S.LICENSE_STATUS_REVOKED and received[1].reason == "生产条件不符合要求"
    # resume after the first event: the second comes again, nothing is missed
    resumed = watcher.WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(cursor=received[0].cursor, type_codes=[FOOD_PERMIT])
    )
    first = next(resumed)
    resumed.cancel()
    assert first.event.cursor == received[1].cursor and first.event.status == S.LICENSE_STATUS_REVOKED


def test_issuer_watch_sees_only_its_own_licenses(running: RunningGateway) -> None:
    issue(running, unique(samples.food_permit(500)))
    stream = running.issuance(CIVIL).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(from_beginning=True), timeout=1.0
    )
    with pytest.raises(grpc.RpcError) as caught:
        for reply in stream:
            assert reply.event.issuer_code == CIVIL
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize(
    "cursor",
    [
        *("abc", "-1", "²", "٣", "1" * 20, "9223372036854775808", "1.", "1.0123", "1.0123456789ABCDEF", ".1"),
        *("999999999", "1.0123456789abcdef"),  # of a cursor's form: ahead of every event; event 1's tag is another
    ],
)
def test_a_cursor_that_no_event_gave_is_refused(running: RunningGateway, cursor: str) -> None:
    stream = running.issuance(MARKET).WatchLicenseChanges(issuance_pb2.WatchLicenseChangesRequest(cursor=cursor))
    with pytest.raises(grpc.RpcError) as caught:
        next(iter(stream))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # "²" was INTERNAL, "٣" cursor 3
    assert ("cursor", "BAD_CURSOR") in error_details(caught.value)[1]
    assert (caught.value.details() or "").startswith(("cursor: 游标须取自", "cursor: 没有游标为"))  # Chinese first
    # how many changes every issuer's licenses have had is not told (it named the newest cursor)
    newest = str(running.gateway.issuance.newest_seq())
    assert newest not in (caught.value.details() or "").replace(cursor, "")


def test_a_replayed_status_change_answers_as_the_change_did(running: RunningGateway) -> None:
    """A retried SUSPEND after someone RESUMEd the license answers SUSPENDED, as the first answer did: read as the
    license is now (ACTIVE), a retrying client could not tell whether its change happened (found by an independent
    client)."""
    license_id = issue(running, unique(samples.business_license(63))).license.license_id
    suspend = issuance_pb2.ChangeLicenseStatusRequest(
        request_id="st-" + uuid.uuid4().hex,
        license_id=license_id,
        action=issuance_pb2.STATUS_ACTION_SUSPEND,
        reason="整改",
    )
    first = running.issuance(MARKET).ChangeLicenseStatus(suspend).license
    running.issuance(MARKET).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id="st-" + uuid.uuid4().hex, license_id=license_id, action=issuance_pb2.STATUS_ACTION_RESUME,
            reason="整改完成",
        )
    )  # fmt: skip
    again = running.issuance(MARKET).ChangeLicenseStatus(suspend).license
    assert (
        (again.status, again.status_reason) == (first.status, "整改") == (common_pb2.LICENSE_STATUS_SUSPENDED, "整改")
    )
    assert again.status_changed_at == first.status_changed_at
    now = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=license_id)).license
    assert now.status == common_pb2.LICENSE_STATUS_ACTIVE


def test_a_status_change_that_waited_for_its_turn_is_dated_after_the_one_before_it(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review (R1): a status change took its time before waiting for its transaction. A REVOKE that waited
    (for a pool connection, the writer lock) while a SUSPEND of the license committed was stored as revoked at a time
    before the suspension it followed, and the change log's times ran backwards. The time is taken in the
    transaction, under the change log's lock: a change committed later is dated later. The REVOKE is held before
    its transaction until the SUSPEND is answered."""
    lic = issue(running, unique(samples.food_permit(65))).license
    owned, unit_of_work = IssuanceService._owned, running.gateway.db.unit_of_work
    revoking: list[int] = []
    waiting, suspended = threading.Event(), threading.Event()

    def noted_owned(self: IssuanceService, *args: Any) -> Any:
        if not revoking:  # the REVOKE's thread: the first to look the license up
            revoking.append(threading.get_ident())
        return owned(self, *args)

    def held(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("write") and revoking == [threading.get_ident()] and not waiting.is_set():
            waiting.set()
            suspended.wait(10)
        return unit_of_work(*args, **kwargs)

    monkeypatch.setattr(IssuanceService, "_owned", noted_owned)
    monkeypatch.setattr(running.gateway.db, "unit_of_work", held)
    answered: dict[str, Any] = {}
    revoke = threading.Thread(
        target=lambda: answered.update(
            revoked=change(running, lic.license_id, issuance_pb2.STATUS_ACTION_REVOKE, reason="吊销")
        )
    )
    revoke.start()
    try:
        assert waiting.wait(10)
        suspension = change(running, lic.license_id, issuance_pb2.STATUS_ACTION_SUSPEND, reason="整改")
    finally:
        suspended.set()
        revoke.join()
    revoked = answered["revoked"]
    assert (suspension.status, revoked.status) == (S.LICENSE_STATUS_SUSPENDED, S.LICENSE_STATUS_REVOKED)
    assert revoked.status_changed_at.ToDatetime() > suspension.status_changed_at.ToDatetime()
    stream = running.issuance(MARKET).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(from_beginning=True, type_codes=[FOOD_PERMIT])
    )
    events = []
    for reply in stream:
        if reply.event.license_id == lic.license_id:
            events.append((reply.event.status, reply.event.occurred_at.ToDatetime()))
            if len(events) == 3:
                break
    stream.cancel()
    assert [status for status, _ in events] == [
        S.LICENSE_STATUS_ACTIVE,
        S.LICENSE_STATUS_SUSPENDED,
        S.LICENSE_STATUS_REVOKED,
    ]
    assert events[0][1] < events[1][1] < events[2][1]  # in log order, never backwards
    assert events[2][1] == revoked.status_changed_at.ToDatetime()


def test_an_expired_licenses_status_change_is_refused_as_expired_not_as_active(running: RunningGateway) -> None:
    """Found in review (R4): a food permit past its valid_until reads EXPIRED on every read, yet RESUME was refused as
    "该证照现为有效状态，无需恢复": the clerk was told the expired license is valid. Its refusals say 已过期 with the
    end date (metadata ``status`` as stored, ``effective_status`` EXPIRED), suspended too when it is."""
    record = {**unique(samples.food_permit(69)), "issue_date": "2020-01-01", "valid_until": "2021-01-01"}
    lic = issue(running, record).license
    assert lic.status == S.LICENSE_STATUS_EXPIRED

    def refused(action: int) -> tuple[dict[str, str], str]:
        with pytest.raises(grpc.RpcError) as caught:
            change(running, lic.license_id, action)
        info = error_details(caught.value)[0]
        assert (caught.value.code(), info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TRANSITION_NOT_ALLOWED")
        return dict(info.metadata), caught.value.details() or ""

    assert refused(issuance_pb2.STATUS_ACTION_RESUME) == (
        {"status": "ACTIVE", "action": "RESUME", "effective_status": "EXPIRED"},
        "该证照已过期，有效期至 2021-01-01，无需恢复；如需延续，请变更其有效期（the license expired (valid until "
        "2021-01-01): there is nothing to resume; to extend it, amend its valid_until）",
    )
    assert change(running, lic.license_id, issuance_pb2.STATUS_ACTION_SUSPEND).status == S.LICENSE_STATUS_EXPIRED
    metadata, said = refused(issuance_pb2.STATUS_ACTION_SUSPEND)
    assert metadata == {"status": "SUSPENDED", "action": "SUSPEND", "effective_status": "EXPIRED"}
    assert said.startswith("该证照已过期，有效期至 2021-01-01，且已暂停使用，不能再次暂停（")
    # amended with new dates as an active one is (review lifecycle, R3), and still suspended
    renewed = running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="amend-" + uuid.uuid4().hex,
            license_id=lic.license_id,
            valid_until=(today() + dt.timedelta(days=365)).isoformat(),
            reason="延续",
        )
    )
    assert renewed.license.status == S.LICENSE_STATUS_SUSPENDED


def test_amending_an_expired_license_without_dates_says_it_expired(running: RunningGateway) -> None:
    record = {**unique(samples.food_permit(64)), "issue_date": "2020-01-01", "valid_until": "2021-01-01"}
    old = issue(running, record).license

    def amend(**extra: str) -> issuance_pb2.AmendLicenseResponse:
        return running.issuance(MARKET).AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="amend-" + uuid.uuid4().hex, license_id=old.license_id, reason="变更", **extra
            )
        )

    with pytest.raises(grpc.RpcError) as caught:
        amend()
    assert ("valid_until", "LICENSE_EXPIRED") in error_details(caught.value)[1]  # was VALIDITY_BEFORE_ISSUE
    assert (caught.value.details() or "").startswith(
        "valid_until: 证照已于 2021-01-01 到期：今天签发的变更须填写新的有效期截止日期，或原有效期内的发证日期"
        "（the license expired on 2021-01-01: "
    )
    renewed = amend(valid_until=(today() + dt.timedelta(days=365)).isoformat()).license
    assert renewed.version == 2


def test_an_issuers_read_is_refused_rather_than_left_unrecorded_and_a_typeless_record_shows_no_field(
    running: RunningGateway,
) -> None:
    """Without an audit trail (no gateway key) the read had been answered, unrecorded; a license of a type the
    catalog no longer has had kept its SECRET values, as which were secret could not be told (found in review)."""
    from gateway.api.issuance import IssuanceServicer
    from gateway.domain.audit import AuditAction
    from gateway.domain.catalog import Catalog
    from gateway.domain.errors import UpstreamUnavailableError
    from gateway.services.issuance import IssuanceService

    gateway = running.gateway
    record = samples.id_card(600_000 + int(uuid.uuid4().hex[:5], 16))
    record["fields"] = {**record["fields"], "photo": "PHOTO-REF-SECRET-2"}
    lic = issue(running, record, member=POLICE).license
    stored = gateway.issuance.get(gateway.authenticator.by_token(running.tokens[POLICE]), license_id=lic.license_id)
    unaudited = IssuanceService(gateway.db, gateway.catalog, gateway.seals, gateway.clock)  # type: ignore[arg-type]
    police = gateway.authenticator.by_token(running.tokens[POLICE])
    with pytest.raises(UpstreamUnavailableError) as refused:
        unaudited.record_read(police, "", AuditAction.ISSUER_GET_LICENSE, stored)
    assert refused.value.reason == "NO_SEAL_CA"
    without_type = Catalog(license_types={c: t for c, t in gateway.catalog.license_types.items() if c != lic.type_code})
    servicer = IssuanceServicer(gateway.issuance, without_type, gateway.member_name, max_message_bytes=1 << 20)
    shown = servicer._message(stored)
    assert shown.license_id == lic.license_id and not shown.fields


def test_a_batch_items_refusal_writes_what_cannot_be_seen_as_its_code_point(running: RunningGateway) -> None:
    """Found in review: a single call's refusal escaped a field key's right-to-left override, CR LF and zero-width
    space; the same item in a batch came back with them raw (and ``zzgw import`` printed them to a terminal)."""
    record = unique(samples.business_license(66))
    record["fields"] = {**record["fields"], "shoe\u202e\r\n\u200bsize": "42"}
    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])
    (refused,) = results(running.issuance(MARKET).BatchIssueLicenses(iter([batch])))
    ((field, reason, description),) = [(e.field, e.reason, e.description) for e in refused.error.field_errors]
    shown = "shoe\\u202e\\u000d\\u000a\\u200bsize"
    assert (field, reason) == (f"fields.{shown}", "UNKNOWN_FIELD")
    assert refused.error.message.startswith(f"fields.{shown}: ")
    assert all(c.isprintable() for c in field + description + refused.error.message)
