"""VerificationService over real gRPC: every license state, tampering, documents, QR codes, claims and receipts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import base45
import cbor2
import grpc
import psycopg
import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.validation.dss import DocumentSecurityStore
from reportlab.pdfgen import canvas
from sqlalchemy import text

from adapters.client import MemberCredentials, connect
from adapters.demo import qr_code_of
from adapters.receipt_file import TrustMaterial, check_receipt_file
from adapters.records import issue_request
from gateway.authorities import SEAL_MEMO_SECRET
from gateway.bootstrap import samples
from gateway.domain.audit import AuditAction
from gateway.domain.catalog import Sensitivity
from gateway.domain.errors import InvalidRequestError
from gateway.domain.identifiers import LicenseId, find_by_number
from gateway.domain.model import LicenseContent, LicenseStatus, Member, Role
from gateway.domain.verification import check_use, claim_digest, claims_key
from gateway.services.verification import _ToReceipt
from gateway.store import repositories
from gateway.store.changes import ChangeFeed
from gateway.store.database import Database
from gateway.store.repositories import StoredReceipt
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    issuance_pb2,
    seal_pb2,
    verification_pb2,
    verification_pb2_grpc,
)
from signing.canonical import canonical_json
from signing.errors import InvalidSignature
from signing.keys import KeyBackend, SoftwareKey
from signing.pdf import PdfSealer
from signing.qr import QrClaims, encode_qr
from signing.receipts import check_receipt, sign_receipts
from signing.record import record_bytes
from signing.results import CheckResult
from signing.seal_ca import SealMakerCA, check_certificate
from signing.seal_image import draw_seal
from signing.tsa import TimeStampResp
from tests.api.test_documents import document_of, new_request, outside_tsa
from tests.api.test_documents import verify as verify_pdf
from tests.api.test_issuance import unique
from tests.api.test_seals import license_pdf, register, seals
from tests.conftest import (
    ADMIN,
    BUSINESS_LICENSE,
    CIVIL,
    ID_CARD,
    MARKET,
    POLICE,
    PORTAL,
    TAX,
    PartnersOperator,
    RunningGateway,
    backend_params,
    case_number,
    descriptions,
    error_details,
    start_gateway,
    today,
    trail_rows,
)
from tests.signing.test_pdf import broken_signatures, make_tsa, prefilled_form_pdf, sign_invisibly, with_info
from tests.signing.test_pdf_annotations import Edit, attach, comment, note
from tests.signing.test_pdf_annotations import updated as edited
from tests.signing.test_seal_ca import self_signed

MATTER = "370100-SPJC-001"  # the 市场监督管理局's own matter: a department verifies under the matters it handles,
USE = verification_pb2.UseContext(matter_code=MATTER, purpose="食品生产经营监督检查：核验食品生产许可证")
"""the license types their materials list (食品生产许可证 and 营业执照 here: the samples the tests verify)."""
PASSED, FAILED = verification_pb2.CHECK_RESULT_PASSED, verification_pb2.CHECK_RESULT_FAILED
INDETERMINATE = verification_pb2.CHECK_RESULT_INDETERMINATE


def verifier(running: RunningGateway, member: str = MARKET) -> verification_pb2_grpc.VerificationServiceStub:
    return verification_pb2_grpc.VerificationServiceStub(running.channel(member))


def issue(
    running: RunningGateway, n: int, sample: Callable[[int], dict[str, Any]] = samples.food_permit, **changes: Any
) -> issuance_pb2.IssueLicenseResponse:
    record = {**unique(sample(n)), **changes}
    return running.issuance(MARKET).IssueLicense(issue_request(record))


FPSL = "370100-FPSL-001"
"""发票申领, the tax bureau's matter (a department acts only under its own), which uses the 营业执照 only."""


def issue_for_invoices(
    running: RunningGateway, n: int, sample: Callable[[int], dict[str, Any]] = samples.business_license, **changes: Any
) -> issuance_pb2.IssueLicenseResponse:
    """A license of a type 发票申领 uses (a department verifies only those): a 营业执照 unless told."""
    return issue(running, n, sample, **changes)


def batch_issue_for_invoices(running: RunningGateway, n: int, **changes: Any) -> str:
    return batch_issue(running, n, samples.business_license, **changes)


def batch_issue(
    running: RunningGateway, n: int, sample: Callable[[int], dict[str, Any]] = samples.food_permit, **changes: Any
) -> str:
    """Issue without a document (as batches do): a quick way to make licenses in many states."""
    record = {**unique(sample(n)), **changes}
    request = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])
    (response,) = running.issuance(MARKET).BatchIssueLicenses(iter([request]))
    (result,) = response.results
    assert not result.HasField("error"), result.error
    return result.license.license_id


def verify(running: RunningGateway, **query: str) -> verification_pb2.VerificationReport:
    return verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, **query)).report


class SameKeyIdOtherKey:
    """A forger who copies a seal's key id into a code signed with a key of their own: SIGNATURE_INVALID."""

    def __init__(self, real_key_id: str) -> None:
        self._own, self.key_id = SoftwareKey.generate(), real_key_id
        self.algorithm, self.public_key_der = self._own.algorithm, self._own.public_key_der

    def sign(self, data: bytes) -> bytes:
        return self._own.sign(data)


def change(running: RunningGateway, license_id: str, action: int) -> None:
    running.issuance(MARKET).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id="st-" + uuid.uuid4().hex, license_id=license_id, action=action, reason="测试"
        )
    )


def amend(running: RunningGateway, license_id: str) -> None:
    running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="am-" + uuid.uuid4().hex, license_id=license_id, fields={"food_category": "糕点"}, reason="变更"
        )
    )


def findings(report: verification_pb2.VerificationReport) -> tuple[tuple[int, str], ...]:
    return tuple((f.result, f.reason) for f in (report.integrity, report.status, report.issuer_identity))


def receipt_statement(running: RunningGateway, receipt: verification_pb2.Receipt) -> dict[str, Any]:
    """Check a receipt as an outsider would: its certificate chains to the seal-maker CA, its signature verifies."""
    certificate = x509.load_der_x509_certificate(receipt.certificate)
    seals = running.gateway.seals
    assert seals is not None
    chain = check_certificate(
        certificate,
        trust_roots=[seals.ca.root],
        intermediates=[seals.ca.intermediate],
        crls=[seals.crl()],
        at=dt.datetime.now(dt.UTC),
    )
    assert chain.result is CheckResult.PASSED and chain.seal_name == "核验回执专用章"
    return dict(
        check_receipt(
            receipt.statement,
            receipt.signature,
            certificate=certificate,
            algorithm=receipt.algorithm,
            proof=receipt.proof,
        )
    )


def test_a_valid_license_passes_by_id_and_by_number(running: RunningGateway) -> None:
    issued = issue(running, 1)
    for report in (
        verify(running, license_id=issued.license.license_id),
        verify(running, type_code=issued.license.type_code, license_number=issued.license.license_number),
    ):
        assert report.verdict == PASSED and report.reason == ""
        assert findings(report) == ((PASSED, ""), (PASSED, ""), (PASSED, ""))
        summary = report.license
        assert (summary.license_id, summary.issuer_code, summary.type_name) == (
            issued.license.license_id,
            MARKET,
            "食品生产许可证",
        )
        assert summary.issuer_name == "济南市市场监督管理局" and summary.valid_until == issued.license.valid_until
        statement = receipt_statement(running, report.receipt)
        assert statement["receipt_id"] == report.receipt.receipt_id and statement["verdict"] == "PASSED"
        assert (statement["caller"], statement["matter_code"], statement["purpose"]) == (MARKET, MATTER, USE.purpose)
        assert statement["license"]["license_id"] == issued.license.license_id
        assert issued.license.holder.code not in report.receipt.statement.decode()  # no personal data in receipts


def test_a_number_typed_in_lower_case_finds_the_license(running: RunningGateway) -> None:
    """A clerk types a USCC or a 公民身份号码's check character in lower case: the license printed in upper case is
    found (it was 未找到该证照, FAILED, with a signed receipt saying so)."""
    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.business_license(41)))).license
    typed = issued.license_number.lower()
    assert typed != issued.license_number
    report = verify(running, type_code=issued.type_code, license_number=typed)
    assert (report.verdict, report.license.license_id) == (PASSED, issued.license_id)
    answer = claim(running, type_code=issued.type_code, license_number=typed, holder_code=issued.holder.code.lower())
    assert answer.code == 0


def test_a_number_in_full_width_or_with_spaces_is_the_same_number(running: RunningGateway) -> None:
    """A Chinese input method's full-width ＳＣ８５… and a number typed with a space had each become a second current
    license under one printed number (found by an independent client); now they are that number, at issue and at
    the window."""
    permit = unique(samples.food_permit(42))
    issued = running.issuance(MARKET).IssueLicense(issue_request(permit)).license
    number = issued.license_number
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in number)
    spaced = number[:6] + " " + number[6:]
    for other in (full_width, spaced, "\u3000" + number.lower()):
        again = {**unique(samples.food_permit(43)), "license_number": other}
        with pytest.raises(grpc.RpcError) as caught:
            running.issuance(MARKET).IssueLicense(issue_request(again))
        assert error_details(caught.value)[0].reason == "LICENSE_NUMBER_TAKEN", other
        report = verify(running, type_code=issued.type_code, license_number=other)
        assert (report.verdict, report.license.license_id) == (PASSED, issued.license_id)


def test_a_number_is_looked_up_as_normal_then_as_given() -> None:
    """A license stored before numbers were kept in upper case is still found by the number as it was issued."""
    stored = {("T", "SC1X"): "new", ("T", "sc1x-old"): "old"}
    asked: list[str] = []

    def read(type_code: str, number: str) -> str | None:
        asked.append(number)
        return stored.get((type_code, number))

    assert find_by_number(read, "T", " sc1x ") == "new" and asked == ["SC1X"]
    assert find_by_number(read, "T", "sc1x-old") == "old" and asked[1:] == ["SC1X-OLD", "sc1x-old"]
    assert find_by_number(read, "T", "NONE") is None and asked[3:] == ["NONE"]
    assert find_by_number(read, "T", "9" * 65) is None and asked[4:] == []  # longer than any license's: not read
    with pytest.raises(InvalidRequestError) as refused:  # nor normalised: one of 3 million characters had been
        find_by_number(read, "T", "9" * 3_000_000)
    assert [(v.field, v.reason) for v in refused.value.violations] == [("license_number", "TOO_LONG")]


def test_a_holders_code_pasted_with_hyphens_is_looked_up_without_them_after_as_typed() -> None:
    """A 统一社会信用代码 or 公民身份号码 pasted with hyphens (913701-00000000078R) is looked up as typed first, then
    without them; a number that is no code once they are gone keeps them."""
    stored = {("T", "91370100000000078R"): "company", ("T", "SC-1X"): "permit"}
    asked: list[str] = []

    def read(type_code: str, number: str) -> str | None:
        asked.append(number)
        return stored.get((type_code, number))

    assert find_by_number(read, "T", "913701-00000000078r") == "company"
    assert asked == ["913701-00000000078R", "91370100000000078R"]
    asked.clear()
    assert find_by_number(read, "T", "913701\uff0d000000\u201000078R") == "company"  # full width, Unicode's hyphen
    assert asked[-1] == "91370100000000078R"
    asked.clear()
    assert find_by_number(read, "T", "sc-1x") == "permit" and asked == ["SC-1X"]  # found with its hyphen
    asked.clear()
    assert find_by_number(read, "T", "SC-2X") is None and asked == ["SC-2X"]  # not a code without it: not tried


def test_verify_and_claims_by_number_find_a_holders_code_pasted_with_hyphens(running: RunningGateway) -> None:
    """Over gRPC as in the console (review clerk, R2): a company's 营业执照 by its 统一社会信用代码 with hyphens."""
    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.business_license(44)))).license
    number = issued.license_number
    for typed in (f"{number[:6]}-{number[6:]}", f"{number[:2]}－{number[2:8]}-{number[8:]}"):
        report = verify(running, type_code=issued.type_code, license_number=typed)
        assert (report.verdict, report.license.license_id) == (PASSED, issued.license_id), typed
        answer = claim(running, type_code=issued.type_code, license_number=typed, holder_code=issued.holder.code)
        assert answer.code == 0, typed
        # and the same paste as the holder's code it is (review s55fix, R5): it had been BAD_USCC
        answer = claim(running, type_code=issued.type_code, license_number=number, holder_code=typed)
        assert answer.code == 0, typed
    wrong = f"{number[:6]}-{number[6:17]}{'1' if number[17] == '0' else '0'}"
    with pytest.raises(grpc.RpcError) as caught:  # its check character still checked once the hyphens are out
        claim(running, type_code=issued.type_code, license_number=number, holder_code=wrong)
    assert ("holder_code", "BAD_CHECK_CHARACTER") in error_details(caught.value)[1]


def test_a_number_longer_than_any_typed_is_refused_not_looked_up(running: RunningGateway) -> None:
    """A number of 3 million characters was looked up (a receipt and an access record for each): TOO_LONG now, for
    a verification and a claim alike."""
    permit = issue(running, 45).license  # a type the matter uses, a holder code that checks
    for call in (
        lambda: verify(running, type_code=permit.type_code, license_number="9" * 3_000_000),
        lambda: claim(running, type_code=permit.type_code, holder_code=permit.holder.code, license_number="秘" * 300),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert ("license_number", "TOO_LONG") in error_details(caught.value)[1]


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (issuance_pb2.STATUS_ACTION_SUSPEND, "SUSPENDED"),
        (issuance_pb2.STATUS_ACTION_REVOKE, "REVOKED"),
        (issuance_pb2.STATUS_ACTION_CANCEL, "CANCELLED"),
    ],
)
def test_a_status_change_shows_at_the_next_verification(running: RunningGateway, action: int, reason: str) -> None:
    license_id = batch_issue(running, 2)
    assert verify(running, license_id=license_id).verdict == PASSED  # now cached in this process
    change(running, license_id, action)
    report = verify(running, license_id=license_id)
    assert (report.verdict, report.reason) == (FAILED, reason)
    assert findings(report) == ((PASSED, ""), (FAILED, reason), (PASSED, ""))
    assert report.license.status_since == today().isoformat()  # "已注销 (date)": since the day of the change
    assert receipt_statement(running, report.receipt)["license"]["status_since"] == today().isoformat()


def test_superseded_expired_not_yet_valid_and_unknown(running: RunningGateway) -> None:
    old = issue(running, 3)
    assert verify(running, license_id=old.license.license_id).license.status_since == ""  # ACTIVE: no date
    amend(running, old.license.license_id)
    superseded = verify(running, license_id=old.license.license_id)
    assert (superseded.reason, superseded.license.status_since) == ("SUPERSEDED", today().isoformat())

    past = today() - dt.timedelta(days=400)
    expired = batch_issue(
        running, 4, issue_date=past.isoformat(), valid_until=(today() - dt.timedelta(days=1)).isoformat()
    )
    lapsed = verify(running, license_id=expired)
    assert (lapsed.reason, lapsed.license.status_since) == ("EXPIRED", today().isoformat())  # the day after its end
    change(running, expired, issuance_pb2.STATUS_ACTION_SUSPEND)  # a suspension cannot bring it back: expired
    suspended = verify(running, license_id=expired)
    assert (suspended.reason, suspended.license.status) == ("EXPIRED", common_pb2.LICENSE_STATUS_EXPIRED)
    assert suspended.license.status_since == today().isoformat()
    later = batch_issue(running, 5, valid_from=(today() + dt.timedelta(days=3)).isoformat())
    assert verify(running, license_id=later).reason == "NOT_YET_VALID"

    unknown = verify(running, type_code=old.license.type_code, license_number="SC-NO-SUCH-NUMBER")
    assert (unknown.verdict, unknown.reason) == (FAILED, "LICENSE_NOT_FOUND")
    assert not unknown.HasField("license") and unknown.receipt.receipt_id


@pytest.mark.parametrize("ended_by", [issuance_pb2.STATUS_ACTION_CANCEL, issuance_pb2.STATUS_ACTION_REVOKE])
def test_the_number_of_an_ended_license_is_issued_again_and_found_by_number(
    running: RunningGateway, ended_by: int
) -> None:
    record = unique(samples.food_permit(31))
    old = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    suspended = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(32)))).license
    change(running, suspended.license_id, issuance_pb2.STATUS_ACTION_SUSPEND)
    with pytest.raises(grpc.RpcError) as caught:  # a license that has not ended keeps its number
        running.issuance(MARKET).IssueLicense(
            issue_request(
                {**record, "request_id": "again-" + uuid.uuid4().hex, "license_number": suspended.license_number}
            )
        )
    assert error_details(caught.value)[0].reason == "LICENSE_NUMBER_TAKEN"
    change(running, old.license_id, ended_by)
    replacement = running.issuance(MARKET).IssueLicense(
        issue_request({**record, "request_id": "again-" + uuid.uuid4().hex, "valid_until": "2031-12-31"})
    )  # 补领: the same number, a license of its own
    new = replacement.license
    assert replacement.created and new.license_id != old.license_id and new.license_number == old.license_number
    by_number = verify(running, type_code=new.type_code, license_number=new.license_number)
    assert (by_number.verdict, by_number.license.license_id) == (PASSED, new.license_id)
    ended = verify(running, license_id=old.license_id)  # the ended one keeps its status, found by identifier
    assert ended.verdict == FAILED and ended.reason in ("CANCELLED", "REVOKED")
    got = running.issuance(MARKET).GetLicense(
        issuance_pb2.GetLicenseRequest(type_code=new.type_code, license_number=new.license_number)
    )
    assert got.license.license_id == new.license_id
    with pytest.raises(grpc.RpcError) as caught:  # and the number is taken again
        running.issuance(MARKET).IssueLicense(issue_request({**record, "request_id": "third-" + uuid.uuid4().hex}))
    assert error_details(caught.value)[0].reason == "LICENSE_NUMBER_TAKEN"
    events = running.issuance(MARKET).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(from_beginning=True, type_codes=[new.type_code]), timeout=30
    )
    issued = next(r.event for r in events if r.event.license_id == new.license_id)
    events.cancel()
    assert (issued.kind, issued.previous_license_id) == (issuance_pb2.CHANGE_KIND_ISSUED, old.license_id)


def test_an_amendment_may_take_the_number_of_an_ended_license(running: RunningGateway) -> None:
    ended = issue(running, 33).license
    change(running, ended.license_id, issuance_pb2.STATUS_ACTION_CANCEL)
    other = issue(running, 34).license
    amended = (
        running.issuance(MARKET)
        .AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="am-" + uuid.uuid4().hex,
                license_id=other.license_id,
                license_number=ended.license_number,
                reason="证号更正",
            )
        )
        .license
    )
    by_number = verify(running, type_code=ended.type_code, license_number=ended.license_number)
    assert (by_number.verdict, by_number.license.license_id) == (PASSED, amended.license_id)


def test_a_record_changed_behind_the_gateways_back_fails_integrity_and_states_nothing_of_the_edit(
    running: RunningGateway,
) -> None:
    """An expired license whose validity was moved to 2099 and whose holder was renamed in the store: RECORD_ALTERED,
    and neither the reply nor the signed receipt states the edit's validity, status or holder as the license's (they
    had said status PASSED, ACTIVE until 2099-12-31, holder 冒***; found by an independent client)."""
    expired = (today() - dt.timedelta(days=10)).isoformat()
    license_id = batch_issue(running, 6, valid_from="2020-01-01", valid_until=expired)
    assert verify(running, license_id=license_id).status.reason == "EXPIRED"
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET holder_name = :name, valid_until = :until WHERE license_id = :id"),
            {"name": "冒名公司", "until": "2099-12-31", "id": license_id},
        )
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]
    report = verify(running, license_id=license_id)
    assert (report.verdict, report.reason) == (FAILED, "RECORD_ALTERED")
    assert report.integrity.result == FAILED
    assert (report.status.result, report.status.reason) == (INDETERMINATE, "RECORD_ALTERED")
    # a seal that does not hold over the record says nothing of who sealed it or when: the issuer identity is not
    # judged, as for an edited status, a code or a document that fails (it had been PASSED: review issuecheck, R3)
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "NOT_CHECKED")
    assert "印章" in report.issuer_identity.detail
    named = LicenseId.parse(license_id)
    summary = report.license
    assert (summary.license_id, summary.type_code, summary.issuer_code, summary.version) == (
        license_id,
        named.type_code,
        named.issuer_code,
        named.version,
    )
    assert summary.type_name == "食品生产许可证" and summary.issuer_name == "济南市市场监督管理局"
    assert (summary.valid_from, summary.valid_until, summary.status, summary.status_since) == ("", "", 0, "")
    assert (summary.holder_name_masked, summary.holder_code_masked) == ("", "")
    # the same when the edit rewrites the seal's digest too: the seal still fails (another reason), and nothing of
    # the record is stated (found in review)
    other = batch_issue(running, 7, valid_from="2020-01-01", valid_until=expired)
    stored = running.gateway.issuance._get_stored(other)
    edited = dataclasses.replace(stored.content, valid_until=dt.date(2099, 12, 31))
    digest = hashlib.sha256(record_bytes(edited.record_mapping())).digest()
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET valid_until = '2099-12-31', seal_digest = :d WHERE license_id = :id"),
            {"d": digest, "id": other},
        )
    running.gateway.feed.committed([f"license:{other}"])  # type: ignore[union-attr]
    rewritten = verify(running, license_id=other)
    assert rewritten.verdict == FAILED and rewritten.integrity.reason != "RECORD_ALTERED"
    assert (rewritten.status.result, rewritten.license.valid_until, rewritten.license.status) == (INDETERMINATE, "", 0)
    assert (rewritten.issuer_identity.result, rewritten.issuer_identity.reason) == (INDETERMINATE, "NOT_CHECKED")
    stated = receipt_statement(running, report.receipt)
    assert stated["findings"]["status"]["reason"] == "RECORD_ALTERED"
    assert (stated["findings"]["issuer_identity"]["result"], stated["findings"]["issuer_identity"]["reason"]) == (
        "INDETERMINATE",
        "NOT_CHECKED",
    )
    assert stated["license"] == {
        "license_id": license_id,
        "type_code": named.type_code,
        "issuer_code": named.issuer_code,
        "valid_from": "",
        "valid_until": "",
        "status": "",
        "status_since": "",
        "version": named.version,
    }


def qr_for(running: RunningGateway, license_id: str) -> tuple[str, LicenseContent]:
    stored = running.gateway.issuance._get_stored(license_id)
    key = running.gateway.seals.record_key(MARKET)  # type: ignore[union-attr]
    return encode_qr(key, QrClaims.of(stored.content, issued_at=dt.datetime.now(dt.UTC))), stored.content


def test_a_qr_code_verifies_and_a_forged_one_fails(running: RunningGateway) -> None:
    license_id = batch_issue(running, 7)
    code, content = qr_for(running, license_id)
    report = verify(running, qr_code=code)
    assert report.verdict == PASSED and report.license.license_id == license_id

    position = len(code) - 2  # inside the zlib checksum
    changed = code[:position] + ("A" if code[position] != "A" else "B") + code[position + 1 :]
    assert (verify(running, qr_code=changed).integrity.result, verify(running, qr_code=changed).verdict) == (
        FAILED,
        FAILED,
    )

    real = running.gateway.seals.record_key(MARKET)  # type: ignore[union-attr]
    forged = encode_qr(SameKeyIdOtherKey(real.key_id), QrClaims.of(content, issued_at=dt.datetime.now(dt.UTC)))
    report = verify(running, qr_code=forged)
    assert (report.verdict, report.integrity.reason) == (FAILED, "SIGNATURE_INVALID")
    stranger = encode_qr(SoftwareKey.generate(), QrClaims.of(content, issued_at=dt.datetime.now(dt.UTC)))
    assert verify(running, qr_code=stranger).integrity.reason == "UNKNOWN_SEAL_KEY"
    # what a code that is not genuine names is not vouched for: no status, no issuer, no license shown
    for not_genuine in (changed, forged, stranger):
        report = verify(running, qr_code=not_genuine)
        assert (report.status.result, report.status.reason) == (INDETERMINATE, "NOT_CHECKED")
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "NOT_CHECKED")
        assert not report.HasField("license")
    # and an unreadable text says why
    assert verify(running, qr_code="https://example.com/licence").integrity.reason == "NOT_ZZ1"
    assert verify(running, qr_code="ZZ1:" + "A" * 5000).integrity.reason == "TOO_LARGE"
    assert verify(running, qr_code="ZZ1:NOT-BASE45-!!").integrity.reason == "MALFORMED"


def relabelled(code: str, alg: int) -> str:
    """A printed code with its protected header re-encoded to name ``alg``: what anyone holding the paper can do."""
    tagged = cbor2.loads(zlib.decompress(base45.b45decode(code.removeprefix("ZZ1:"))))
    protected, unprotected, payload, signature = tagged.value
    header = cbor2.dumps({1: alg, 4: cbor2.loads(protected)[4]})
    message = cbor2.dumps(cbor2.CBORTag(18, [header, unprotected, payload, signature]))
    return "ZZ1:" + base45.b45encode(zlib.compress(message, 9)).decode("ascii")


def test_a_code_relabelled_sm2_is_not_genuine_where_openssl_has_no_sm2(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ECDSA seal's code whose header is re-encoded as SM2 (-65537): FAILED / SIGNATURE_INVALID with SM2 and
    without. Where the system OpenSSL has no SM2 (FIPS, another host of the store) it had been INTERNAL, with no
    report: the P-256 key had been handed to the SM2 verifier (a reviewer's R1)."""
    import signing.sm2

    code, _ = qr_for(running, batch_issue(running, 7))
    sm2_code = relabelled(code, -65537)
    assert (verify(running, qr_code=sm2_code).verdict, verify(running, qr_code=sm2_code).integrity.reason) == (
        FAILED,
        "SIGNATURE_INVALID",
    )

    def no_sm2() -> signing.sm2.Libcrypto:
        raise signing.sm2.Sm2Unavailable("'libcrypto.so.3' offers no SM2 or SM3 (built without them, or FIPS only)")

    monkeypatch.setattr(signing.sm2, "library", no_sm2)
    report = verify(running, qr_code=sm2_code)
    assert (report.verdict, report.integrity.reason) == (FAILED, "SIGNATURE_INVALID")
    assert not report.HasField("license")
    assert verify(running, qr_code=code).verdict == PASSED  # the genuine ECDSA code needs no SM2


def test_a_scanned_code_passes_with_what_a_scanner_or_a_paste_puts_around_it(running: RunningGateway) -> None:
    license_id = batch_issue(running, 7)
    code, _ = qr_for(running, license_id)
    for scanned in (code + "\r\n", code + "\n", " " + code, "\t" + code + "\u3000", "\n" + code + "\r"):
        report = verify(running, qr_code=scanned)
        assert (report.verdict, report.license.license_id) == (PASSED, license_id), repr(scanned[:2] + scanned[-2:])
    # a handheld scanner typing with Caps Lock on, or through a Chinese input method in full-width mode
    full_width = code.translate({0x20: 0x3000, **{0x21 + i: 0xFF01 + i for i in range(94)}})
    for scanned in (code.swapcase() + "\r\n", "zz1:" + code[4:], full_width, full_width.swapcase() + "\n"):
        report = verify(running, qr_code=scanned)
        assert (report.verdict, report.license.license_id) == (PASSED, license_id), repr(scanned[:6])
    # through an input method with Chinese punctuation on (a black-box tester's counter PC): ：。￥、 for :.$/
    punctuated = code.translate({0x3A: 0xFF1A, 0x2E: 0x3002, 0x24: 0xFFE5, 0x2F: 0x3001})
    assert punctuated != code and punctuated[3] == "："
    for scanned in (punctuated + "\r\n", punctuated.swapcase(), punctuated.translate({0x3002: 0xFF61, 0xFFE5: 0xA5})):
        report = verify(running, qr_code=scanned)
        assert (report.verdict, report.license.license_id) == (PASSED, license_id), repr(scanned[:6])
    # spaces pasted after it go when the code reads without them (a space is a base45 character, so not otherwise;
    # a paste's had made a red FAILED / MALFORMED of a genuine code: found by an integrator)
    assert verify(running, qr_code="  " + code + "  ").verdict == PASSED
    # inside the code nothing is forgiven: a space is a base45 character
    assert verify(running, qr_code=code[:10] + " " + code[10:]).verdict == FAILED
    assert verify(running, qr_code=code[:10] + "\u3000" + code[10:]).verdict == FAILED  # in an ASCII code


def test_a_license_of_another_registry_is_undecided_not_failed(running: RunningGateway) -> None:
    """跨省通办: an identifier, or a code signed by a seal this gateway does not know, naming an issuer that is not a
    department of this gateway is INDETERMINATE / NOT_IN_THIS_REGISTRY (verify it with its region's gateway); a
    clerk had been shown a red 未找到 and a signed FAILED for a possibly genuine license of a partner province
    (found by a partner tester). A missing license of one of this gateway's issuers is still FAILED, and so is a
    code in the name of one of them signed by a key it does not know."""
    license_id = batch_issue(running, 17)
    _, content = qr_for(running, license_id)
    foreign_issuer = samples.uscc(901, region="440100")  # a Guangzhou one: not registered here
    named = LicenseId.parse(license_id)
    foreign = str(dataclasses.replace(named, issuer_code=foreign_issuer))
    report = verify(running, license_id=foreign)
    assert (report.verdict, report.status.result, report.status.reason) == (
        INDETERMINATE,
        INDETERMINATE,
        "NOT_IN_THIS_REGISTRY",
    )
    assert foreign_issuer in report.status.detail and not report.HasField("license")
    assert report.reason == "NOT_IN_THIS_REGISTRY"  # the verdict's reason: not NOT_CHECKED (found in review)
    assert receipt_statement(running, report.receipt)["verdict"] == "INDETERMINATE"
    missing = str(dataclasses.replace(named, serial=named.serial[:-4] + "ZZZZ"))
    assert (verify(running, license_id=missing).status.reason, verify(running, license_id=missing).verdict) == (
        "LICENSE_NOT_FOUND",
        FAILED,
    )
    # a black-box tester: a forged identifier naming a department of this gateway that issues nothing (the tax
    # bureau) had been sent to 'that region's gateway', where one naming an issuer of other types was not found
    for department in (TAX, POLICE):
        made_up = str(dataclasses.replace(named, issuer_code=department))
        report = verify(running, license_id=made_up)
        assert (report.verdict, report.status.reason) == (FAILED, "LICENSE_NOT_FOUND"), department
    elsewhere = dataclasses.replace(content, license_id=foreign, issuer_code=foreign_issuer)
    their_code = encode_qr(SoftwareKey.generate(), QrClaims.of(elsewhere, issued_at=dt.datetime.now(dt.UTC)))
    report = verify(running, qr_code=their_code)
    assert (report.verdict, report.reason, report.integrity.reason, report.status.reason) == (
        INDETERMINATE,
        "NOT_IN_THIS_REGISTRY",  # not a forged code's UNKNOWN_SEAL_KEY
        "NOT_IN_THIS_REGISTRY",
        "NOT_IN_THIS_REGISTRY",
    )
    ours = encode_qr(SoftwareKey.generate(), QrClaims.of(content, issued_at=dt.datetime.now(dt.UTC)))
    assert (verify(running, qr_code=ours).verdict, verify(running, qr_code=ours).integrity.reason) == (
        FAILED,
        "UNKNOWN_SEAL_KEY",
    )


def test_another_registrys_license_of_a_type_of_its_own_is_undecided_this_ones_used_by_no_matter(
    running: RunningGateway,
) -> None:
    """跨省通办 licenses often carry a type code another province's department defines, which this catalog lacks.
    Named by an issuer that is not a department of this gateway, such a license is INDETERMINATE /
    NOT_IN_THIS_REGISTRY, by identifier and by printed code, as api.md says: it had been refused INVALID_ARGUMENT /
    NOT_USED_BY_MATTER (证照目录中没有这一类型), which sent the clerk to the catalog, not to that region's gateway (a
    reviewer). Named by one of this gateway's departments, a type the catalog lacks (a retired one) is still used by
    no matter, before anything is looked up."""
    license_id = batch_issue(running, 18)
    _, content = qr_for(running, license_id)
    named = LicenseId.parse(license_id)
    guangdong = samples.uscc(901, region="440100")
    their_type = samples.uscc(902, region="440000") + "001"  # a type a 广东 department defines
    assert their_type not in running.gateway.catalog.license_types
    foreign = str(dataclasses.replace(named, issuer_code=guangdong, type_code=their_type))
    report = verify(running, license_id=foreign)
    assert (report.verdict, report.status.reason, report.reason) == (
        INDETERMINATE,
        "NOT_IN_THIS_REGISTRY",
        "NOT_IN_THIS_REGISTRY",
    )
    assert guangdong in report.status.detail and not report.HasField("license") and report.receipt.receipt_id
    elsewhere = dataclasses.replace(content, license_id=foreign, issuer_code=guangdong, type_code=their_type)
    their_code = encode_qr(SoftwareKey.generate(), QrClaims.of(elsewhere, issued_at=dt.datetime.now(dt.UTC)))
    report = verify(running, qr_code=their_code)
    assert (report.verdict, report.integrity.reason, report.status.reason) == (
        INDETERMINATE,
        "NOT_IN_THIS_REGISTRY",
        "NOT_IN_THIS_REGISTRY",
    )
    for ours in (MARKET, TAX):  # an issuer of this gateway, and a department that issues nothing
        retired = str(dataclasses.replace(named, issuer_code=ours, type_code=their_type))
        with pytest.raises(grpc.RpcError) as refused:
            verify(running, license_id=retired)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(refused.value)[1] == [("license_id", "NOT_USED_BY_MATTER")]
        assert f"不使用证照类型 {their_type}：证照目录中没有这一类型" in (refused.value.details() or "")


def test_a_genuine_code_of_a_record_changed_behind_the_gateways_back_fails_integrity(
    running: RunningGateway,
) -> None:
    """The report's summary and status come from the stored record the code names: that record is checked too."""
    license_id = batch_issue(running, 16)
    code, _ = qr_for(running, license_id)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET holder_name = :name WHERE license_id = :id"),
            {"name": "冒名公司", "id": license_id},
        )
    report = verify(running, qr_code=code)
    assert (report.verdict, report.integrity.reason) == (FAILED, "RECORD_ALTERED")
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "NOT_CHECKED")


def test_a_license_the_matter_does_not_use_is_not_verified_in_any_way(running: RunningGateway) -> None:
    """A department verifies what an applicant presents for its matter: the tax bureau, under 发票申领 (营业执照
    only), learns nothing of a food permit by identifier, number, code or document, not even whether one exists
    (a made-up number is refused alike): it could confirm any citizen's ID card and whether a 结婚证 is still in
    force (found by two independent testers); CheckClaim and GetLicenseData already refused it."""
    issued = issue(running, 42).license
    code, _ = qr_for(running, issued.license_id)
    pdf = document_of(running, issued.license_id).pdf
    invoices = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="企业开办：发票申领")
    tax = verifier(running, TAX)
    before = len(trail_rows(running, "caller", "caller = :tax", tax=TAX))
    for call, field in (
        (lambda: tax.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=invoices, license_id=issued.license_id)),
         "license_id"),
        (lambda: tax.VerifyLicense(verification_pb2.VerifyLicenseRequest(
            use=invoices, type_code=issued.type_code, license_number=issued.license_number)), "type_code"),
        (lambda: tax.VerifyLicense(verification_pb2.VerifyLicenseRequest(
            use=invoices, type_code=issued.type_code, license_number="SC-MADE-UP")), "type_code"),
        (lambda: tax.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=invoices, qr_code=code)), "qr_code"),
        (lambda: tax.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=invoices, pdf=pdf)), "pdf"),
    ):  # fmt: skip
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [(field, "NOT_USED_BY_MATTER")]
        assert "事项 370100-FPSL-001（发票申领）不使用食品生产许可证" in (caught.value.details() or "")
    # no receipt; the attempts are on the holder's and the issuer's logs, refused, naming the license (found on
    # reading DESIGN's audit: a refusal for another department's matter was recorded, this one was not)
    verify_license, verify_document = AuditAction.VERIFY_LICENSE.value, AuditAction.VERIFY_DOCUMENT.value
    refused = (issued.license_id, issued.holder.code, issued.issuer_code)
    assert trail_rows(
        running, "action, decision, reason, license_id, holder_code, issuer_code", "caller = :tax", tax=TAX
    )[before:] == [
        (verify_license, "DENIED", "NOT_USED_BY_MATTER", *refused),
        (verify_license, "DENIED", "NOT_USED_BY_MATTER", *refused),
        (verify_license, "DENIED", "NOT_USED_BY_MATTER", "", "", ""),  # a made-up number names no one
        (verify_license, "DENIED", "NOT_USED_BY_MATTER", *refused),
        (verify_document, "DENIED", "NOT_USED_BY_MATTER", *refused),
    ]
    with running.gateway.db.engine.connect() as connection:
        receipts = connection.execute(
            text("SELECT count(*) FROM receipts WHERE license_id = :id"), {"id": issued.license_id}
        )
        assert receipts.scalar_one() == 0
    # an identifier of no known type is answered as before (malformed or unknown), and the matter's own type is
    business = issue(running, 43, samples.business_license).license
    answer = tax.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=invoices, license_id=business.license_id))
    assert answer.report.verdict == PASSED
    with pytest.raises(grpc.RpcError) as malformed:
        tax.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=invoices, license_id="1.2.156.3005.2.x.y"))
    assert error_details(malformed.value)[1][0][1] != "NOT_USED_BY_MATTER"


def test_a_license_that_passes_shows_its_holder_but_the_receipt_does_not(running: RunningGateway) -> None:
    """A borrowed code or number passes as the license it is: the clerk compares the holder with the applicant (found
    by a console tester: nothing tied a green result to the person at the window). An organisation's name and
    统一社会信用代码 whole, as public registration data (a clerk could not compare 济** with a company's name; found
    by a scenario tester); a person's masked, as the printed code states it."""
    issued = issue(running, 44).license  # a 食品生产许可证, a company's
    code, _ = qr_for(running, issued.license_id)
    name, holder_code = issued.holder.name, issued.holder.code
    for report in (
        verify(running, license_id=issued.license_id),
        verify(running, type_code=issued.type_code, license_number=issued.license_number),
        verify(running, qr_code=code),
    ):
        assert report.verdict == PASSED
        summary = report.license
        assert (summary.holder_name_masked, summary.holder_code_masked, summary.holder_in_full) == (
            name, holder_code, True)  # fmt: skip
        statement = json.dumps(receipt_statement(running, report.receipt), ensure_ascii=False)
        assert name not in statement and holder_code not in statement

    record = {**samples.id_card(800_000 + int(uuid.uuid4().hex[:5], 16)), "request_id": f"id-{uuid.uuid4().hex}"}
    card = running.issuance(POLICE).IssueLicense(issue_request(record)).license
    police = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose="企业印章刻制备案，核验法定代表人身份")
    report = (
        verifier(running, POLICE)
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=police, license_id=card.license_id))
        .report
    )
    name, holder_code = card.holder.name, card.holder.code
    assert report.verdict == PASSED and not report.license.holder_in_full
    assert report.license.holder_name_masked == name[0] + "**"  # the length is not told
    assert report.license.holder_code_masked == holder_code[:4] + "*" * (len(holder_code) - 8) + holder_code[-4:]
    statement = json.dumps(receipt_statement(running, report.receipt), ensure_ascii=False)
    # the identifiers' hex is left out of the search: a random one had held the code's last four digits by chance
    said = re.sub(r"[0-9a-f]{32}", "", statement)
    assert report.license.holder_name_masked not in said and holder_code[-4:] not in said


def test_a_genuine_document_passes_and_shows_revocation(running: RunningGateway) -> None:
    issued = issue(running, 8)
    pdf = document_of(running, issued.license.license_id).pdf
    stub = verifier(running)
    response = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf))
    assert response.registered_document and response.report.verdict == PASSED
    assert response.report.license.license_id == issued.license.license_id
    # padding a transfer appended after the end (block-padded, some mail and scan systems) is no part of it: the
    # same document, not a PDF cut off (an acceptance tester's 1,100 NULs had been TRUNCATED_PDF), and the registered
    # one (3 NULs or a line break after it had been said not to be: an examiner)
    for padding in (b"\0" * 1100, b" " * 4096, b"\r\n" * 600, b"\0" * 3, b"\n", b"\r\n \t"):
        padded = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf + padding))
        assert padded.report.verdict == PASSED and padded.registered_document, padding
        assert padded.report.license.license_id == issued.license.license_id
        assert receipt_statement(running, padded.report.receipt)["query"]["document_sha256"] == (
            hashlib.sha256(pdf + padding).hexdigest()  # the receipt names the bytes handed over
        )
    for cut_or_more in (pdf[:-100], pdf + b"\n%" + b"x" * 2000 + b"\n"):  # cut off, or something else after it
        with pytest.raises(grpc.RpcError) as refused:
            stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=cut_or_more))
        assert error_details(refused.value)[1] == [("pdf", "TRUNCATED_PDF")]
    change(running, issued.license.license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    revoked = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert findings(revoked) == ((PASSED, ""), (FAILED, "REVOKED"), (PASSED, ""))


def test_a_document_moved_to_another_license_in_the_registry_fails_integrity(running: RunningGateway) -> None:
    """The registry's row that says which license a document is carries the gateway's memo: the genuine PDF of a
    revoked license, its row swapped with another's behind the gateway's back, does not pass as the other."""
    revoked_id = issue(running, 21).license.license_id
    other_id = issue(running, 22).license.license_id
    pdf = document_of(running, revoked_id).pdf
    document_of(running, other_id)
    change(running, revoked_id, issuance_pb2.STATUS_ACTION_REVOKE)
    stub = verifier(running)
    assert stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report.reason == "REVOKED"
    with running.gateway.db.engine.begin() as connection:  # swap the two rows' licenses
        for old, new in ((revoked_id, "swap"), (other_id, revoked_id), ("swap", other_id)):
            connection.execute(
                text("UPDATE license_documents SET license_id = :new WHERE license_id = :old"),
                {"old": old, "new": new},
            )
    response = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf))
    report = response.report
    assert (report.verdict, report.integrity.result, report.integrity.reason) == (FAILED, FAILED, "REGISTRY_ALTERED")
    assert (report.status.result, report.status.reason) == (INDETERMINATE, "NOT_CHECKED")
    assert not report.HasField("license") and not response.registered_document
    # nor is the other license's PDF handed out as this one's
    with pytest.raises(grpc.RpcError) as refused:
        document_of(running, other_id)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(refused.value)[0].reason == "REGISTRY_ALTERED"


def test_the_document_of_a_license_removed_from_the_store_fails(running: RunningGateway) -> None:
    """A genuine, registered document whose license was deleted behind the gateway's back is no unknown PDF: its
    registry says whose it is, and that license is gone; nor is a genuine code of it, which the gateway's seal made
    for a license it issued (it read as a plain "no such license", found by an independent client)."""
    license_id = issue(running, 23).license.license_id
    pdf = document_of(running, license_id).pdf
    code, _ = qr_for(running, license_id)
    stub = verifier(running)
    assert stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report.verdict == PASSED
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM licenses WHERE license_id = :id"), {"id": license_id})
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]
    report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert (report.verdict, report.integrity.reason) == (FAILED, "REGISTRY_ALTERED")
    assert (report.status.result, report.status.reason) == (FAILED, "LICENSE_NOT_FOUND")
    assert not report.HasField("license")
    by_code = verify(running, qr_code=code)
    assert (by_code.verdict, by_code.integrity.reason, by_code.status.reason) == (
        FAILED,
        "REGISTRY_ALTERED",
        "LICENSE_NOT_FOUND",
    )
    assert "does not hold the license it names" in by_code.integrity.detail


def test_a_document_checks_the_stored_record_it_names_and_a_changed_one_names_nothing(
    running: RunningGateway,
) -> None:
    license_id = issue(running, 17).license.license_id
    pdf = document_of(running, license_id).pdf
    stub = verifier(running)
    at = pdf.index(b"/Subject")  # a signed byte changed: the seal no longer covers the document
    changed = stub.VerifyDocument(
        verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf[:at] + b"/Subjecu" + pdf[at + 8 :])
    ).report
    assert (changed.verdict, changed.integrity.reason) == (FAILED, "SIGNATURE_INVALID")
    assert (changed.status.result, changed.status.reason) == (INDETERMINATE, "NOT_CHECKED")
    assert not changed.HasField("license")
    with running.gateway.db.engine.begin() as connection:  # the record the genuine document names, changed
        connection.execute(
            text("UPDATE licenses SET holder_name = :name WHERE license_id = :id"),
            {"name": "冒名公司", "id": license_id},
        )
    report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert (report.verdict, report.integrity.reason) == (FAILED, "RECORD_ALTERED")
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "NOT_CHECKED")


def test_a_subject_rewritten_after_sealing_does_not_lend_a_document_another_license(running: RunningGateway) -> None:
    """The license a PDF names is read from the revision its seal covers: a revoked license's genuine document with
    a valid license's identifier written into its subject afterwards is still the revoked license's."""
    revoked_id = issue(running, 11).license.license_id
    valid_id = issue(running, 12).license.license_id
    pdf = with_info(document_of(running, revoked_id).pdf, Subject=valid_id)
    change(running, revoked_id, issuance_pb2.STATUS_ACTION_REVOKE)
    response = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf))
    assert not response.registered_document
    assert response.report.license.license_id == revoked_id
    assert (response.report.verdict, response.report.status.reason) == (FAILED, "REVOKED")
    assert json.loads(response.report.receipt.statement)["license"]["license_id"] == revoked_id


def foreign_sealer(
    ca_name: str, issuer_name: str, issuer_uscc: str, seal_name: str, drawn: str | None = None
) -> PdfSealer:
    """A sealer with a key certified by a seal-maker CA made here, not the gateway's; its seal image shows
    ``drawn``, else ``issuer_name``."""
    key = SoftwareKey.generate()
    now = dt.datetime.now(dt.UTC)
    other = SealMakerCA.create(ca_name, now)
    cert = other.issue_seal_certificate(
        issuer_name=issuer_name,
        issuer_uscc=issuer_uscc,
        seal_name=seal_name,
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=30),
    )
    png = draw_seal(drawn or issuer_name, seal_name)
    return PdfSealer(key, cert, [other.intermediate], seal_png=png, timestamper=None)


def draw_over(pdf: bytes, field_name: str) -> bytes:
    """``pdf`` with a second seal, by a key of another CA, whose box covers the top half of the first page."""
    sealer = foreign_sealer("某制章中心", "某公司", PORTAL, "公章")
    return asyncio.run(sealer.seal(pdf, field_name=field_name, box=(60, 600, 540, 700)))


def test_an_invisible_signature_in_the_issuers_name_after_the_seal_is_not_vouched_for(
    running: RunningGateway,
) -> None:
    """An invisible signature appended to a genuine document by a look-alike of the seal maker, or by a self-signed
    certificate that copies the issuer's seal, showed nothing on the page and passed; a viewer's signature panel
    lists it as the signature covering the whole document. It is CHANGED_AFTER_SEAL now, naming it; an applicant's
    own invisible signature (claiming no issuer's name) still passes."""
    assert running.gateway.seals is not None
    license_id = issue(running, 19).license.license_id
    pdf = document_of(running, license_id).pdf
    key = ec.generate_private_key(ec.SECP256R1())
    (sealed,) = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures
    seal_subject = x509.load_der_x509_certificate(sealed.signer_cert.dump()).subject  # the issuer's seal's
    signing_usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    copied = self_signed(key, seal_subject, signing_usage, start=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    root = running.gateway.seals.ca.root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    lookalike = SealMakerCA.create(str(root).removesuffix(" Seal Root CA"), dt.datetime.now(dt.UTC))
    lookalike_seal = lookalike.issue_seal_certificate(
        issuer_name="某公司",  # it need not even claim the issuer: a look-alike of the seal maker is a forger's
        issuer_uscc=PORTAL,
        seal_name="公章",
        public_key=key.public_key(),
        not_before=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
    )
    stub = verifier(running)
    for signed_as, chain, why in (
        ((key, copied), (), "UNTRUSTED_ROOT"),
        ((key, lookalike_seal), (lookalike.intermediate,), "LOOKALIKE_CA"),
    ):
        forged = sign_invisibly(pdf, "Seal2", signed_as=signed_as, chain=chain)
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=forged)).report
        assert (report.verdict, report.integrity.result, report.integrity.reason) == (
            INDETERMINATE,
            INDETERMINATE,
            "CHANGED_AFTER_SEAL",
        ), report.integrity
        assert f"'Seal2' ({why})" in report.integrity.detail and "in the issuer's name" in report.integrity.detail
        assert (report.status.result, report.issuer_identity.result) == (PASSED, PASSED)
        assert report.license.license_id == license_id  # the registry's summary, as for what is shown after a seal
    applicant = sign_invisibly(pdf, "Applicant")
    assert stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=applicant)).report.verdict == PASSED
    # with a signature drawn over the page besides: that is a change to the page, the first thing said
    both = sign_invisibly(draw_over(pdf, "over-the-name"), "Seal3", signed_as=(key, copied))
    drawn = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=both)).report.integrity
    assert drawn.reason == "DOCUMENT_MODIFIED" and "'over-the-name'" in drawn.detail, drawn


@pytest.mark.parametrize(
    "subject",
    [
        lambda owner, seal, uscc: [(NameOID.COMMON_NAME, owner + seal)],
        lambda owner, seal, uscc: [(NameOID.ORGANIZATION_NAME, owner + " "), (NameOID.COMMON_NAME, seal)],
        lambda owner, seal, uscc: [(NameOID.ORGANIZATION_NAME, owner + "（电子证照）"), (NameOID.COMMON_NAME, seal)],
        lambda owner, seal, uscc: [
            (NameOID.ORGANIZATIONAL_UNIT_NAME, owner[:3] + "\u200b" + owner[3:]),
            (NameOID.COMMON_NAME, "印"),
        ],
        lambda owner, seal, uscc: [(NameOID.COMMON_NAME, "签章"), (NameOID.SERIAL_NUMBER, "NTRCN-" + uscc)],
        lambda owner, seal, uscc: [(NameOID.COMMON_NAME, owner[:3] + "·" + owner[3:] + "（ＥＣ）")],
    ],
    ids=[
        "CN only",
        "O and a space",
        "O and a suffix",
        "OU with a zero-width space",
        "USCC in serialNumber",
        "CN with a middle dot",
    ],
)
def test_an_invisible_signature_naming_the_issuer_in_other_words_is_not_vouched_for(
    running: RunningGateway, subject: Callable[[str, str, str], list[tuple[x509.ObjectIdentifier, str]]]
) -> None:
    """Only a certificate whose USCC or O was the seal's, byte for byte, had counted as in the issuer's name: a
    self-signed one naming the issuer only in its CN (as Adobe and Foxit label a signer), or in an O with a space or
    a suffix after it, signed a genuine document invisibly and it verified PASSED (a reviewer's R2)."""
    license_id = issue(running, 23).license.license_id
    pdf = document_of(running, license_id).pdf
    (sealed,) = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures
    seal_subject = x509.load_der_x509_certificate(sealed.signer_cert.dump()).subject
    owner = str(seal_subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value)
    seal = str(seal_subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    uscc = str(seal_subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject(owner, seal, uscc)])
    usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
    forged_as = self_signed(key, name, usage, start=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    forged = sign_invisibly(pdf, "Seal2", signed_as=(key, forged_as))
    report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=forged)).report
    assert (report.verdict, report.integrity.reason) == (INDETERMINATE, "CHANGED_AFTER_SEAL"), report.integrity
    assert "'Seal2' (UNTRUSTED_ROOT)" in report.integrity.detail
    assert report.license.license_id == license_id


def printout(subject: str, text: str) -> bytes:
    """A one-page PDF of ``text``, naming ``subject`` (a license id) in its metadata, as anyone could make one."""
    out = io.BytesIO()
    drawn = canvas.Canvas(out)
    drawn.setSubject(subject)
    drawn.drawString(80, 760, text)
    drawn.showPage()
    drawn.save()
    return out.getvalue()


def test_a_pdf_without_any_seal_fails_with_a_receipt(running: RunningGateway) -> None:
    """An unsealed printout handed over as a license: a finding (FAILED / NO_SIGNATURE) with its receipt and access
    record, as a forged code is, not an error that leaves no trace of the check."""
    printed = printout(issue(running, 22).license.license_id, "FOOD PERMIT")
    response = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=printed))
    report = response.report
    assert (report.verdict, report.reason, report.integrity.result) == (FAILED, "NO_SIGNATURE", FAILED)
    assert (report.status.reason, report.issuer_identity.reason) == ("NOT_CHECKED", "NOT_CHECKED")
    assert not report.HasField("license") and not response.registered_document
    statement = receipt_statement(running, report.receipt)
    assert (statement["verdict"], statement["reason"], statement["license"]) == ("FAILED", "NO_SIGNATURE", None)
    with pytest.raises(grpc.RpcError) as not_pdf:  # what is no PDF at all is still bad input
        verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=b"hello"))
    assert ("pdf", "NOT_A_PDF") in error_details(not_pdf.value)[1]


def test_a_pdf_whose_seal_cannot_be_read_fails_with_a_receipt(
    running: RunningGateway, long_tags_kept_from_asn1crypto: list[int]
) -> None:
    """A seal whose signature dictionary is forged past reading (no byte range, null contents, contents that
    asn1crypto would read for minutes): a finding (FAILED / SIGNATURE_INVALID) with its receipt, as for one whose
    byte range is merely wrong, not an error in Python's words that leaves no trace of the check."""
    genuine = document_of(running, issue(running, 23).license.license_id).pdf
    for shape, broken in broken_signatures(genuine).items():
        response = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=broken))
        report = response.report
        assert (report.verdict, report.reason, report.integrity.reason) == (
            FAILED,
            "SIGNATURE_INVALID",
            "SIGNATURE_INVALID",
        ), shape
        assert "cannot be read" in report.integrity.detail and report.status.reason == "NOT_CHECKED"
        assert not report.HasField("license") and receipt_statement(running, report.receipt)["verdict"] == "FAILED"
    assert long_tags_kept_from_asn1crypto == []


def test_a_pdf_the_issuer_sealed_is_no_license_document_unless_it_is_a_registered_one(running: RunningGateway) -> None:
    """A department may seal any PDF (SealDocument): one with arbitrary content that names a license in its subject
    is genuinely sealed by that license's issuer, but it is not the license's document; only a registered document
    (or one with updates after it) names a license."""
    other = printout(issue(running, 21).license.license_id, "FOOD PERMIT  holder: somebody else")
    seal = register(running, name="电子证照专用章")
    sealed = (
        seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=other)).sealed_pdf
    )
    response = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=sealed))
    report = response.report
    assert (report.verdict, report.status.result, report.status.reason) == (
        INDETERMINATE,
        INDETERMINATE,
        "NOT_A_REGISTERED_LICENSE",
    )
    assert (report.integrity.result, report.issuer_identity.result) == (PASSED, PASSED)  # the seal itself is genuine
    assert not report.HasField("license") and not response.registered_document
    assert json.loads(report.receipt.statement)["license"] is None


def test_an_issuers_own_pdf_is_found_by_its_sealed_revision_after_later_updates(running: RunningGateway) -> None:
    """An issuer-supplied document does not carry the license's identifier; with an update after the seal (here a
    new title) it is still found, as the registered document it starts with."""
    issued = running.issuance(MARKET).IssueLicense(new_request(22, document=license_pdf(running)))
    pdf = document_of(running, issued.license.license_id).pdf
    updated = with_info(pdf, Title="复印件")
    response = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=updated))
    assert (response.report.verdict, response.report.license.license_id) == (PASSED, issued.license.license_id)
    assert not response.registered_document


def test_an_issuers_filled_in_form_stays_intact_after_later_updates(running: RunningGateway) -> None:
    """An issuer's PDF with a form field filled in before issue, once issued, was CHANGED_AFTER_SEAL after any
    later update (pyHanko took the field's untouched appearance for one redrawn): a clerk was told a genuine
    document had been filled in after its seal."""
    issued = running.issuance(MARKET).IssueLicense(new_request(27, document=prefilled_form_pdf()))
    pdf = document_of(running, issued.license.license_id).pdf
    stub = verifier(running)
    for updated in (sign_invisibly(pdf, "Applicant"), with_info(pdf, Title="复印件")):
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=updated)).report
        assert (report.verdict, report.integrity.result, report.license.license_id) == (
            PASSED,
            PASSED,
            issued.license.license_id,
        )


def test_a_document_names_the_license_of_its_latest_registered_revision(running: RunningGateway) -> None:
    """An issuer's PDF may carry signatures before the gateway seals it: its own seal (SealDocument). The gateway's
    seal, the last, is judged, and its license named. Another license's whole registered document is refused as a
    license's document: it would show the other's page under this one's identifier."""
    seal = register(running, name="电子证照专用章")
    presealed = (
        seals(running, MARKET)
        .SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running)))
        .sealed_pdf
    )
    first = running.issuance(MARKET).IssueLicense(new_request(25, document=presealed)).license
    first_pdf = document_of(running, first.license_id).pdf
    stub = verifier(running)
    exact = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=first_pdf))
    assert (exact.report.verdict, exact.report.license.license_id, exact.registered_document) == (
        PASSED,
        first.license_id,
        True,
    )
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(MARKET).IssueLicense(new_request(26, document=first_pdf))
    assert ("document", "REGISTERED_DOCUMENT") in error_details(caught.value)[1]
    copy = with_info(first_pdf, Title="复印件")  # a copy with a later update still names the license
    later = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=copy)).report
    assert (later.verdict, later.license.license_id) == (PASSED, first.license_id)


def test_a_document_sealed_under_an_untrusted_ca_fails_identity(running: RunningGateway) -> None:
    """A CA that copies the name of the gateway's seal maker is a forger's (LOOKALIKE_CA); another deployment's,
    whose seal maker is named with a tag of its own (``zzgw init``), is merely not trusted here (UNTRUSTED_ROOT: it
    had read as a forgery, every deployment's seal maker having had one name)."""
    assert running.gateway.seals is not None
    root = running.gateway.seals.ca.root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    ours = str(root).removesuffix(" Seal Root CA")
    assert ours.startswith("zzgw 制章者 (seal maker) ") and len(ours.rsplit(" ", 1)[1]) == 6
    for ca_name, reason in ((ours, "LOOKALIKE_CA"), ("zzgw 制章者 (seal maker) 0A1B2C", "UNTRUSTED_ROOT")):
        sealer = foreign_sealer(ca_name, "济南市市场监督管理局", MARKET, "电子证照专用章")
        pdf = asyncio.run(sealer.seal(license_pdf(running), field_name="fake"))
        report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
        assert report.verdict == FAILED and (report.issuer_identity.result, report.issuer_identity.reason) == (
            FAILED,
            reason,
        )
        assert not report.HasField("license")  # its content is no registered document's


def test_a_document_of_another_registrys_seal_maker_is_undecided_as_its_identifier_is(running: RunningGateway) -> None:
    """跨省通办: a PDF sealed under another honest deployment's seal maker for an issuer that is no department here
    (no member, or a partner gateway that issues nothing) is INDETERMINATE / NOT_IN_THIS_REGISTRY, to be verified
    with that region's gateway, as the same license by identifier or code is. It had been a signed FAILED /
    UNTRUSTED_ROOT, the clerk shown 印章证书不是可信的制章机构签发的, while its identifier gave INDETERMINATE (a
    reviewer of the partner role, R2). A look-alike of this gateway's seal maker stays FAILED / LOOKALIKE_CA
    whoever it names, and an untrusted seal in the name of a department of this gateway stays FAILED /
    UNTRUSTED_ROOT."""
    assert running.gateway.seals is not None
    root = running.gateway.seals.ca.root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    ours = str(root).removesuffix(" Seal Root CA")
    theirs = "zzgw 制章者 (seal maker) 4B5C6D"
    guangzhou = samples.uscc(903, region="440100")  # a Guangzhou department: no member here
    partner = "11440100994401010G"  # 广州市政务服务和数据管理局: a member here, a partner gateway that issues nothing
    with running.gateway.db.unit_of_work() as uow:
        assert uow.members.get(guangzhou) is None
        member = uow.members.get(partner)
    assert member is not None and member.roles == frozenset({Role.PARTNER})
    for issuer in (guangzhou, partner):
        sealer = foreign_sealer(theirs, "广州市市场监督管理局", issuer, "电子证照专用章")
        pdf = asyncio.run(sealer.seal(license_pdf(running), field_name="seal"))
        report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
        assert (report.verdict, report.reason) == (INDETERMINATE, "NOT_IN_THIS_REGISTRY"), issuer
        assert (report.integrity.result, report.status.result, report.status.reason) == (
            PASSED,
            INDETERMINATE,
            "NOT_IN_THIS_REGISTRY",
        )
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "NOT_IN_THIS_REGISTRY")
        assert issuer in report.status.detail and issuer in report.issuer_identity.detail
        assert theirs in report.issuer_identity.detail  # the seal maker it names, as UNTRUSTED_ROOT said
        assert not report.HasField("license")
        statement = receipt_statement(running, report.receipt)
        assert (statement["verdict"], statement["reason"]) == ("INDETERMINATE", "NOT_IN_THIS_REGISTRY")
    for ca_name, issuer, reason in ((ours, guangzhou, "LOOKALIKE_CA"), (theirs, MARKET, "UNTRUSTED_ROOT")):
        sealer = foreign_sealer(ca_name, "广州市市场监督管理局", issuer, "电子证照专用章")
        pdf = asyncio.run(sealer.seal(license_pdf(running), field_name="seal"))
        report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
        assert (report.verdict, report.reason, report.issuer_identity.reason) == (FAILED, reason, reason), issuer
        assert report.status.reason == "NOT_A_REGISTERED_LICENSE"


def test_a_forged_seal_naming_a_department_here_in_another_form_stays_failed(running: RunningGateway) -> None:
    """An untrusted seal is another registry's (INDETERMINATE / NOT_IN_THIS_REGISTRY) only when its certificate's
    organizationIdentifier is exactly a well-formed USCC, of no member nor of a region this gateway's departments
    are in, and its organisation is no member's name. A forger's own CA certifying 济南市市场监督管理局, a
    department here, with its USCC in lower case, with a space or a zero-width character after it, with a made-up
    code, with another region's valid USCC, or with a Jinan USCC of no member got the amber verdict, 可能是其他地区
    的证照 (a reviewer, fixrevpa R1): each is FAILED / UNTRUSTED_ROOT, as the exact code is, its status
    NOT_A_REGISTERED_LICENSE. Another region's department under its own seal maker stays INDETERMINATE, its receipt's
    query naming the USCC its certificate gives (``signer_uscc``, as a stamp's), for the clerk to compare."""
    theirs = "zzgw 制章者 (seal maker) 4B5C6D"
    guangzhou = samples.uscc(904, region="440100")  # no member here, nor of a region of this gateway's departments
    jinan = samples.uscc(904, region="370100")  # a Jinan code of no member
    with running.gateway.db.unit_of_work() as uow:
        assert uow.members.get(guangzhou) is None and uow.members.get(jinan) is None
    market = "济南市市场监督管理局"
    forged = [
        (market, MARKET),
        (market, MARKET.lower()),
        (market, MARKET + " "),
        (market, " " + MARKET),
        (market, MARKET + "\u200b"),
        (market, "FORGED"),
        (market, guangzhou),  # a member's name with a valid code of no member
        (market + " ", guangzhou),  # the name in another form
        ("济南市市场监督管理局\u200b", guangzhou),
        ("济南市农业农村局", jinan),  # no member's name, a code of this gateway's region
    ]
    for name, uscc in forged:
        sealer = foreign_sealer(theirs, name, uscc, "电子证照专用章", drawn=market)
        pdf = asyncio.run(sealer.seal(license_pdf(running), field_name="seal"))
        report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
        assert (report.verdict, report.reason) == (FAILED, "UNTRUSTED_ROOT"), (name, uscc)
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (FAILED, "UNTRUSTED_ROOT")
        assert (report.status.result, report.status.reason) == (INDETERMINATE, "NOT_A_REGISTERED_LICENSE")
        assert "印章证书不是可信的制章机构签发的" in report.issuer_identity.detail
        statement = receipt_statement(running, report.receipt)
        assert (statement["verdict"], statement["reason"]) == ("FAILED", "UNTRUSTED_ROOT")
        assert "signer_uscc" not in statement["query"]
    sealer = foreign_sealer(theirs, "广州市市场监督管理局", guangzhou, "电子证照专用章")
    pdf = asyncio.run(sealer.seal(license_pdf(running), field_name="seal"))
    report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert (report.verdict, report.reason) == (INDETERMINATE, "NOT_IN_THIS_REGISTRY")
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "NOT_IN_THIS_REGISTRY")
    statement = receipt_statement(running, report.receipt)
    assert statement["query"] == {
        "by": "document",
        "document_sha256": hashlib.sha256(pdf).hexdigest(),
        "signer_uscc": guangzhou,
    }


def _signer_info(pdf: bytes) -> cms.SignerInfo:
    (sealed,) = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures
    return sealed.signer_info


def with_timestamp(pdf: bytes, token: cms.ContentInfo) -> bytes:
    """``pdf`` with its seal's timestamp token replaced by ``token``: an unsigned attribute of the CMS in /Contents,
    which the signature's byte range leaves out, so the seal's signature still verifies."""
    (sealed,) = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures
    start, end = sealed.byte_range[1], sealed.byte_range[2]  # the '<' … '>' of /Contents
    signed_data = sealed.signed_data
    signer = sealed.signer_info.copy()
    signer["unsigned_attrs"] = cms.CMSAttributes(
        [cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})]
    )
    changed = signed_data.copy()
    changed["signer_infos"] = cms.SignerInfos([signer])
    der = cms.ContentInfo({"content_type": "signed_data", "content": changed}).dump().hex().encode()
    room = end - start - 2
    assert len(der) <= room
    return pdf[: start + 1] + der + b"0" * (room - len(der)) + pdf[end - 1 :]


def timestamp_of(pdf: bytes) -> cms.ContentInfo:
    (token,) = (
        attribute["values"][0]
        for attribute in _signer_info(pdf)["unsigned_attrs"]
        if attribute["type"].native == "signature_time_stamp_token"
    )
    return token


def test_a_seals_timestamp_swapped_or_from_an_untrusted_tsa_is_reported(running: RunningGateway) -> None:
    """VerifyDocument dropped the seal's timestamp finding: a token swapped in from another document (the byte range
    leaves it out, so the seal's signature still verifies) or one from a TSA the gateway does not trust read exactly
    as the intact one, identity PASSED with no reason (a reviewer, R2). The first is FAILED / TIMESTAMP_INVALID (the
    seal was altered after sealing); the second INDETERMINATE / TIMESTAMP_UNTRUSTED: the seal is genuine, its time
    unproven (a seal revoked since stays CERT_REVOKED_NO_TRUSTED_TIME)."""
    a = document_of(running, issue(running, 41).license.license_id).pdf
    b = document_of(running, issue(running, 42).license.license_id).pdf
    swapped = with_timestamp(a, timestamp_of(b))
    _, outside = outside_tsa(dt.datetime.now(dt.UTC))

    def stamped_outside(pdf: bytes) -> bytes:
        """``pdf`` with a genuine timestamp of its seal's signature by a TSA the gateway does not trust."""
        imprint = hashlib.sha256(_signer_info(pdf)["signature"].native).digest()
        request = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint},
                "cert_req": True,
            }
        )
        return with_timestamp(pdf, TimeStampResp.load(outside.respond(request.dump()))["time_stamp_token"])

    untrusted = stamped_outside(a)
    stub = verifier(running)
    assert stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=a)).report.verdict == PASSED
    for pdf, result, reason in (
        (swapped, FAILED, "TIMESTAMP_INVALID"),
        (untrusted, INDETERMINATE, "TIMESTAMP_UNTRUSTED"),
    ):
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
        assert report.integrity.result == PASSED  # the seal's signature is intact: its timestamp is not
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (result, reason), report
        assert report.verdict == result
        statement = receipt_statement(running, report.receipt)
        assert statement["findings"]["issuer_identity"]["reason"] == reason
    # a seal revoked since keeps its reason, which says more, and the detail why its timestamp proves no time
    seal = register(running, name="电子证照专用章")
    sealed = (
        seals(running, MARKET)
        .SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running)))
        .sealed_pdf
    )
    seals(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="印章更换", crl_reason="superseded")
    )
    request = verification_pb2.VerifyDocumentRequest(use=USE, pdf=stamped_outside(sealed))
    identity = stub.VerifyDocument(request).report.issuer_identity
    assert (identity.result, identity.reason) == (INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME")
    assert "the timestamp authority is not trusted" in identity.detail, identity.detail


def test_a_receipt_is_stored_and_a_tampered_one_is_rejected(running: RunningGateway) -> None:
    report = verify(running, license_id=batch_issue(running, 9))
    stored = verifier(running, MARKET).GetReceipt(
        verification_pb2.GetReceiptRequest(receipt_id=report.receipt.receipt_id)
    )
    assert stored.receipt.statement == report.receipt.statement and stored.receipt.signature == report.receipt.signature
    assert stored.receipt.proof == report.receipt.proof
    tampered = report.receipt.statement.replace(b'"verdict":"PASSED"', b'"verdict":"FAILED"')
    assert tampered != report.receipt.statement
    certificate = x509.load_der_x509_certificate(report.receipt.certificate)
    with pytest.raises(InvalidSignature):
        check_receipt(
            tampered,
            report.receipt.signature,
            certificate=certificate,
            algorithm=report.receipt.algorithm,
            proof=report.receipt.proof,
        )
    with pytest.raises(grpc.RpcError) as missing:
        verifier(running).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id="no-such-receipt"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    # as a later department copies the number from a printout (a black-box tester: upper case was 'no such receipt')
    number = report.receipt.receipt_id
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number.upper())
    grouped = " ".join(number[i : i + 4] for i in range(0, 32, 4))  # as read out, or printed in groups
    dashed = grouped.replace(" ", "—")  # an em dash, as a word processor prints it
    for typed in (number.upper(), f" {number} ", full_width, grouped, grouped.replace(" ", "-").upper(), dashed):
        found = verifier(running, MARKET).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=typed))
        assert found.receipt.receipt_id == number and found.receipt.statement == report.receipt.statement


def test_each_fetch_of_a_receipt_is_on_its_holders_log(running: RunningGateway) -> None:
    """A receipt says what a check found of a holder's license: whoever reads it by its number (a later department,
    接办免收) is on the holder's access log as GET_RECEIPT, with the clerk who looked and the
    receipt's number (not the holder's own portal: its holder looking); a number the archive does not hold reads
    nothing and records nothing."""
    lic = issue(running, 31).license
    report = verify(running, license_id=lic.license_id)
    number = report.receipt.receipt_id
    clerk = [("x-zzgw-operator-bin", "3号窗口 王敏".encode())]
    verifier(running, TAX).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=number.upper()), metadata=clerk)
    verifier(running, PORTAL).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=number))
    with pytest.raises(grpc.RpcError):
        verifier(running, TAX).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id="f" * 32))
    # the operator is written into the trail as it is: checked as every call's is (it had been stored unchecked)
    with pytest.raises(grpc.RpcError) as bad:
        long_name = [("x-zzgw-operator-bin", ("窗" * 100).encode())]
        verifier(running, TAX).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=number), metadata=long_name)
    assert (bad.value.code(), error_details(bad.value)[1]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("x-zzgw-operator", "BAD_OPERATOR")],
    )
    listed = audit_pb2_grpc.AuditServiceStub(running.channel(PORTAL)).ListAccessRecords(
        audit_pb2.ListAccessRecordsRequest(holder_code=lic.holder.code)
    )
    uses = [
        (r.action, r.caller, r.operator, r.receipt_id, r.matter_code, r.decision)
        for r in reversed(listed.records)
        if r.license_id == lic.license_id  # the sample's holder holds other tests' licenses too
    ]
    assert uses == [
        ("VERIFY_LICENSE", MARKET, "", number, MATTER, "PASSED"),
        ("GET_RECEIPT", TAX, "3号窗口 王敏", number, "", "ANSWERED"),
    ]  # not the holder portal's: its holder's own look, and each view of the log would have added one (review)
    missing = "action = 'GET_RECEIPT' AND receipt_id = :r"
    assert trail_rows(running, "caller", missing, r="f" * 32) == []


def test_an_answer_whose_receipt_cannot_be_made_fails_alone_in_its_group(running: RunningGateway) -> None:
    """The group commit makes the receipts of the answers it holds; one that cannot be made (a defect: a value
    without a canonical form) gets its exception, and the others in the same group are signed and stored."""
    service = running.gateway.verification
    assert service is not None
    (market,) = [m for m in running.gateway.members.list() if m.code == MARKET]
    use = check_use(MATTER, USE.purpose, running.gateway.catalog, caller=market)
    good = _ToReceipt(
        AuditAction.VERIFY_LICENSE, market, use, {"query": {"by": "test"}}, None, "FAILED", "", dt.datetime.now(dt.UTC)
    )
    bad = good._replace(statement={"query": {"by": b"bytes have no JSON form"}})
    # larger than any receipt (MAX_STATEMENT): every checker would call it forged, so it is not signed (a receipts
    # tester had one made of a stamp's seal code)
    too_large = good._replace(statement={"query": {"by": "stamp", "seal_code": "A" * 70_000}})
    appender = running.gateway.db.appender()
    try:
        with appender.transaction() as work:
            first, failed, unsigned, last = service._store(work, service._make_receipts([good, bad, too_large, good]))
            work.commit()
    finally:
        appender.close()
    assert isinstance(failed, TypeError)
    assert isinstance(unsigned, ValueError) and "larger than any receipt" in str(unsigned)
    assert isinstance(first, StoredReceipt) and isinstance(last, StoredReceipt)
    assert first.receipt_id != last.receipt_id and first.signature == last.signature  # one signature, two leaves
    for receipt in (first, last):
        stored = verifier(running, MARKET).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=receipt.receipt_id))
        statement = check_receipt(
            stored.receipt.statement,
            stored.receipt.signature,
            certificate=service.receipt_certificate,
            algorithm=stored.receipt.algorithm,
            proof=stored.receipt.proof,
        )
        assert statement["receipt_id"] == receipt.receipt_id and statement["query"] == {"by": "test"}


def test_matter_and_purpose_are_required_and_portals_cannot_verify(running: RunningGateway) -> None:
    license_id = batch_issue(running, 10)
    assert verify(running, license_id=license_id).verdict == PASSED
    for use, field, reason in 2 * (  # refused every time it is sent, never remembered as checked
        (verification_pb2.UseContext(purpose="核验"), "use.matter_code", "REQUIRED"),
        (verification_pb2.UseContext(matter_code="NO-SUCH", purpose="核验"), "use.matter_code", "UNKNOWN_MATTER"),
        (verification_pb2.UseContext(matter_code=MATTER), "use.purpose", "REQUIRED"),
        (
            verification_pb2.UseContext(matter_code=MATTER, purpose=USE.purpose + "\x07"),
            "use.purpose",
            "BAD_CHARACTERS",
        ),
        (  # signed into the receipt and shown in the holder's access log as what it does not say
            verification_pb2.UseContext(matter_code=MATTER, purpose="食品\u200b生产\ufeff核验"),
            "use.purpose",
            "BAD_CHARACTERS",
        ),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (field, reason) in error_details(caught.value)[1]
    with pytest.raises(grpc.RpcError) as denied:
        verifier(running, PORTAL).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=license_id))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"license_number": "91370100MA3C4K7L6M"}, "type_code"),
        ({"type_code": samples.BUSINESS_LICENSE}, "license_number"),
    ],
)
def test_a_number_without_its_type_names_the_half_left_out(
    running: RunningGateway, given: dict[str, str], missing: str
) -> None:
    """Type and number go together: the field named REQUIRED is the one left empty (a number alone had named
    license_number, the field the clerk had filled in), as CheckClaim names it."""
    with pytest.raises(grpc.RpcError) as caught:
        verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, **given))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [(missing, "REQUIRED")]


@pytest.mark.parametrize(
    ("character", "kind"),
    [("\u2028", "控制字符"), ("\u2029", "控制字符"), ("\u202e", "文字方向控制符"), ("\u200b", "不可见字符")],
)
def test_a_purpose_is_refused_what_breaks_its_line_or_hides_in_it(
    running: RunningGateway, character: str, kind: str
) -> None:
    """A purpose is signed into receipts and shown in holders' access logs: a line or paragraph separator had been
    taken there (U+2028, U+2029; a penetration tester); a direction override and a character that prints as nothing
    are refused as in any free text, and as a holder's name refuses them, in the same words."""
    license_id = batch_issue(running, 14)
    point = f"U+{ord(character):04X}"
    use = verification_pb2.UseContext(matter_code=MATTER, purpose=f"核验{character}食品生产许可证")
    with pytest.raises(grpc.RpcError) as caught:
        verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[0].reason == "BAD_CHARACTERS"
    said = descriptions(caught.value)[("use.purpose", "BAD_CHARACTERS")]
    assert said.startswith(f"用证事由含有{kind} {point}（use.purpose contains ")
    record = unique(samples.food_permit(15))
    record["holder"] = {**record["holder"], "name": f"济南{character}食品有限公司"}
    with pytest.raises(grpc.RpcError) as named:
        running.issuance(MARKET).IssueLicense(issue_request(record))
    said = descriptions(named.value)[("holder.name", "BAD_CHARACTERS")]
    assert said.startswith(f"持证主体名称含有{kind} {point}（")


@pytest.mark.parametrize("character", ["\u180e", "\u034f", "\u061c", "\u200d", "\ue000", "\U00020000"])
def test_a_purpose_keeps_what_a_script_needs(running: RunningGateway, character: str) -> None:
    """Mongolian's vowel separator, the grapheme and Uyghur joiners, the Arabic letter mark, a private-use 生僻字 and a
    rare Han character print as part of the text they are in: a purpose holding one is taken and signed as it was
    written (they had been refused as "invisible" when the purpose was checked as a holder's name; a reviewer)."""
    license_id = batch_issue(running, 16)
    purpose = f"核验{character}食品生产许可证"
    use = verification_pb2.UseContext(matter_code=MATTER, purpose=purpose)
    report = (
        verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id)).report
    )
    assert report.verdict == PASSED
    assert receipt_statement(running, report.receipt)["purpose"] == purpose


def test_a_department_verifies_only_under_the_matters_it_handles(running: RunningGateway) -> None:
    """A matter decides which fields a verifier sees and goes into the holder's access log, so naming another
    department's is refused (PERMISSION_DENIED, NOT_MATTER_DEPARTMENT) for every kind of check, every time it is
    sent (the servicer remembers checked use contexts per caller), and the refusal is on the audit trail."""
    license_id = issue(running, 12, samples.business_license).license.license_id
    police = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose="企业印章刻制备案")
    own = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="发票申领")
    calls = {
        "VERIFY_LICENSE": lambda: verifier(running, TAX).VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=police, license_id=license_id)
        ),
        "VERIFY_DOCUMENT": lambda: verifier(running, TAX).VerifyDocument(
            verification_pb2.VerifyDocumentRequest(use=police, pdf=b"%PDF-1.7")
        ),
        "CHECK_CLAIM": lambda: verifier(running, TAX).CheckClaim(
            verification_pb2.CheckClaimRequest(use=police, type_code=samples.BUSINESS_LICENSE, license_number="x")
        ),
    }
    answer = verifier(running, TAX).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=own, license_id=license_id))
    assert answer.report.verdict == PASSED  # the same caller under its own matter
    for _ in range(2):
        for call in calls.values():
            with pytest.raises(grpc.RpcError) as refused:
                call()
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error_details(refused.value)[0].reason == "NOT_MATTER_DEPARTMENT"
            assert "济南市公安局" in (refused.value.details() or "")
    denials = trail_rows(
        running,
        "action, caller, matter_code, purpose, license_id",
        "decision = 'DENIED' AND reason = 'NOT_MATTER_DEPARTMENT' AND caller = :tax",
        tax=TAX,
    )
    # with the license each named, when it names a stored one: its issuer and holder see the attempt
    named = {"VERIFY_LICENSE": license_id, "VERIFY_DOCUMENT": "", "CHECK_CLAIM": ""}  # the claim's number is "x"
    assert denials[-6:] == 2 * [(action, TAX, "370100-QYKZ-001", "企业印章刻制备案", named[action]) for action in calls]
    # the 公安局 itself, and an administrator, may name it
    for member in (POLICE, ADMIN):
        answer = verifier(running, member).VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=police, license_id=license_id)
        )
        assert answer.report.verdict == PASSED


PARTNER = "11440100994401010G"  # 广州市政务服务和数据管理局: the partner gateway of region 440100


def test_a_partner_gateway_verifies_under_its_regions_matters_with_a_receipt(running: RunningGateway) -> None:
    """跨省通办: Guangzhou's department verifies a Shandong 居民身份证 through its own gateway, which forwards to this
    one under its region's matter (社会保险关系转移, 440100-SBZY-001): a report, a receipt naming the partner, and the
    use on the holder's access log; not under a Jinan matter, nor a type its matter does not use."""
    record = {**samples.id_card(13), "request_id": f"id-{uuid.uuid4().hex}"}
    card = running.issuance(POLICE).IssueLicense(issue_request(record)).license
    use = verification_pb2.UseContext(matter_code="440100-SBZY-001", purpose="跨省通办：社保关系转移，核验居民身份证")
    answer = verifier(running, PARTNER).VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=use, license_id=card.license_id)
    )
    assert answer.report.verdict == PASSED and answer.report.license.holder_name_masked
    statement = receipt_statement(running, answer.report.receipt)
    assert (statement["caller"], statement["matter_code"], statement["verdict"]) == (PARTNER, use.matter_code, "PASSED")
    claimed = verifier(running, PARTNER).CheckClaim(
        verification_pb2.CheckClaimRequest(
            use=use, type_code=card.type_code, holder_code=card.holder.code, license_number=card.license_number
        )
    )
    assert claimed.result == verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID
    fetched = verifier(running, PARTNER).GetReceipt(
        verification_pb2.GetReceiptRequest(receipt_id=claimed.receipt.receipt_id)
    )
    assert fetched.receipt.statement == claimed.receipt.statement
    assert trail_rows(
        running, "action, matter_code, decision", "caller = :p AND license_id = :id", p=PARTNER, id=card.license_id
    ) == [
        (AuditAction.VERIFY_LICENSE.value, use.matter_code, "PASSED"),
        (AuditAction.CHECK_CLAIM.value, use.matter_code, "CORRECT_AND_VALID"),
        (AuditAction.GET_RECEIPT.value, "", "ANSWERED"),  # outside any matter
    ]
    business = issue(running, 14, samples.business_license).license.license_id
    for request, reason in (
        (verification_pb2.VerifyLicenseRequest(use=use, license_id=business), "NOT_USED_BY_MATTER"),
        (
            verification_pb2.VerifyLicenseRequest(
                use=verification_pb2.UseContext(matter_code=FPSL, purpose="发票申领"), license_id=card.license_id
            ),
            "NOT_MATTER_DEPARTMENT",
        ),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            verifier(running, PARTNER).VerifyLicense(request)
        assert reason in {error_details(refused.value)[0].reason, *(r for _, r in error_details(refused.value)[1])}
    # the partner is told its own rule (it had read as if a department of the region could name it)
    assert (refused.value.details() or "").startswith("合作网关只能使用本地区（440100）的事项，事项 370100-FPSL-001")


SEAL_FILING = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose="企业印章刻制备案")
"""The 公安局's matter (公章刻制备案), of region 370100, which uses the 营业执照."""


def _new_member(running: RunningGateway, member: Member) -> verification_pb2_grpc.VerificationServiceStub:
    """``member`` registered (as `zzgw init` does) with a token of its own, and a verifier stub that calls with it."""
    (token,) = running.gateway.members.register([member], issue_tokens=True).values()
    channel = connect(running.address, MemberCredentials(code=member.code, token=token))
    if member.has(Role.PARTNER):  # whose forwarder names the acting department and clerk (OPERATOR_REQUIRED)
        channel = grpc.intercept_channel(channel, PartnersOperator())
    return verification_pb2_grpc.VerificationServiceStub(channel)


def _changed(running: RunningGateway, member: Member) -> None:
    """``member`` registered again with what `zzgw init` changed, and seen by the next call."""
    running.gateway.members.register([member], issue_tokens=False)
    running.gateway.authenticator._cache.clear()  # the 30 s of the credential cache, passed


def test_a_use_checked_while_a_member_was_administrator_only_is_refused_once_it_has_another_role(
    running: RunningGateway,
) -> None:
    """An administrator whose only role is ADMIN may name any matter; given CONSUMER by `zzgw init`, it names only
    the matters its department handles (api.md: 'or an admin whose only role it is'). The servicer keeps the use
    contexts it checked, and kept them by the member's code and name: the matter checked while administrator-only
    stayed allowed, and each such call put a verification under another department's matter on the holder's log
    (a reviewer, R2)."""
    license_id = issue(running, 19, samples.business_license).license.license_id
    code = f"9137010{uuid.uuid4().int % 10**10:010d}X"
    member = Member(code=code, name="用证测试管理员", region="370100", roles=frozenset({Role.ADMIN}))
    stub = _new_member(running, member)
    police = verification_pb2.VerifyLicenseRequest(use=SEAL_FILING, license_id=license_id)
    assert stub.VerifyLicense(police).report.verdict == PASSED  # administrator-only: any matter
    _changed(running, dataclasses.replace(member, roles=frozenset({Role.ADMIN, Role.CONSUMER})))
    with pytest.raises(grpc.RpcError) as refused:
        stub.VerifyLicense(police)
    assert (refused.value.code(), error_details(refused.value)[0].reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_MATTER_DEPARTMENT",
    )
    denied = trail_rows(running, "action, decision, license_id", "caller = :c", c=code)
    assert denied[-1] == (AuditAction.VERIFY_LICENSE.value, "DENIED", license_id)


def test_a_use_checked_for_a_partner_is_refused_once_it_serves_another_region(running: RunningGateway) -> None:
    """A partner gateway names the matters of its own region; moved to another region by `zzgw init`, it names that
    region's only. The use contexts it checked before had stayed allowed from the servicer's cache, keyed without the
    region (a reviewer, R2)."""
    license_id = issue(running, 20, samples.business_license).license.license_id
    code = f"9144010{uuid.uuid4().int % 10**10:010d}X"
    member = Member(code=code, name="用证测试合作网关", region="370000", roles=frozenset({Role.PARTNER}))
    stub = _new_member(running, member)
    police = verification_pb2.VerifyLicenseRequest(use=SEAL_FILING, license_id=license_id)
    assert stub.VerifyLicense(police).report.verdict == PASSED  # 370000 covers 370100
    _changed(running, dataclasses.replace(member, region="440000"))
    with pytest.raises(grpc.RpcError) as refused:
        stub.VerifyLicense(police)
    assert error_details(refused.value)[0].reason == "NOT_MATTER_DEPARTMENT"
    assert "440000" in (refused.value.details() or "")


def test_a_refusal_is_recorded_whatever_the_request_names(running: RunningGateway) -> None:
    """The license a refused request names is looked up for its access record only: a type code with a NUL (which
    PostgreSQL's driver refuses) made the refusal INVALID_ARGUMENT and left it off the trail; a made-up holder code
    names nobody (found in review)."""
    police = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose="企业印章刻制备案")
    marker = f"查验-{uuid.uuid4().hex[:8]}"
    use = verification_pb2.UseContext(matter_code=police.matter_code, purpose=marker)
    requests = [
        verification_pb2.CheckClaimRequest(
            use=use, type_code=samples.BUSINESS_LICENSE + "\x00", license_number="91370100MA3C4K7L6M", holder_code="x"
        ),
        verification_pb2.CheckClaimRequest(
            use=use, type_code=samples.BUSINESS_LICENSE, license_number="none", holder_code="91370100MA3C4K7L6X"
        ),
    ]
    for request in requests:
        with pytest.raises(grpc.RpcError) as refused:
            verifier(running, TAX).CheckClaim(request)
        assert (refused.value.code(), error_details(refused.value)[0].reason) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "NOT_MATTER_DEPARTMENT",
        )
    rows = trail_rows(running, "decision, license_id, holder_code", "purpose = :p AND caller = :tax", p=marker, tax=TAX)
    assert rows == 2 * [("DENIED", "", "")]  # both recorded, naming no one


def test_a_refusal_names_the_license_typed_as_the_service_reads_it(running: RunningGateway) -> None:
    """An identifier typed in full width or small letters, a code with spaces pasted after it, are the license the
    service answers them as, and so is the record of a refusal for another department's matter (it had named no one
    over gRPC, while the console named the license: found in review); a number padded with spaces to past 64
    characters is not cut to another license's number."""
    license_id = batch_issue(running, 18)
    code, content = qr_for(running, license_id)
    full_width = license_id.translate({0x2E: 0x3002, **{0x30 + i: 0xFF10 + i for i in range(10)}})
    marker = f"代办-{uuid.uuid4().hex[:8]}"
    use = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose=marker)  # the police's matter
    requests = [
        verification_pb2.VerifyLicenseRequest(use=use, license_id=full_width),
        verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id.lower()),
        verification_pb2.VerifyLicenseRequest(use=use, qr_code=code + "  "),
    ]
    for request in requests:
        with pytest.raises(grpc.RpcError) as refused:
            verifier(running, TAX).VerifyLicense(request)
        assert error_details(refused.value)[0].reason == "NOT_MATTER_DEPARTMENT"
    named = trail_rows(running, "license_id, holder_code", "purpose = :p", p=marker)
    assert named == 3 * [(license_id, content.holder.code)]
    number = content.license_number
    padded = number + " " * (64 - len(number)) + "9"  # another number, whose first 64 characters are this one's
    with pytest.raises(grpc.RpcError):
        verifier(running, TAX).VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=use, type_code=content.type_code, license_number=padded)
        )
    assert trail_rows(running, "license_id", "purpose = :p", p=marker)[-1] == ("",)


CLAIM_USE = verification_pb2.UseContext(matter_code="370100-SPJC-001", purpose="食品生产经营监督检查：核对许可信息")
"""A matter that uses the 食品生产许可证 the claims are about, and its 食品类别; the 市场监督管理局 handles it."""


def claim(running: RunningGateway, **fields: Any) -> verification_pb2.CheckClaimResponse:
    return verifier(running, MARKET).CheckClaim(verification_pb2.CheckClaimRequest(use=CLAIM_USE, **fields))


def test_a_claim_typed_with_a_combining_accent_is_the_name_issued(running: RunningGateway) -> None:
    """A name issued as e + U+0301 is kept composed (é); the same name claimed as typed matches it, as it did before
    issued text was composed (found in review)."""
    name = "济南Jose\u0301食品有限公司"
    record = unique(samples.food_permit(12))
    record = {
        **record,
        "holder": {**record["holder"], "name": name},
        "fields": {**record["fields"], "producer_name": name},
    }
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    assert issued.holder.name == "济南José食品有限公司"
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    for typed in (name, issued.holder.name):
        assert claim(running, **base, fields={"holder_name": typed}).code == 0


def test_a_claimed_name_in_either_width_or_spacing_is_the_name_issued(running: RunningGateway) -> None:
    """An input method types brackets, letters and spaces in either width: 济南(测试)有限公司 had been 部分信息不一致
    against the issued 济南（测试）有限公司 (found by an integrator). A name that differs otherwise still differs."""
    name = "济南Café 食品（测试）有限公司"
    record = unique(samples.food_permit(13))
    record = {
        **record,
        "holder": {**record["holder"], "name": name},
        "fields": {**record["fields"], "producer_name": name},
    }
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    for typed in (
        "济南Café 食品(测试)有限公司",
        "济南Ｃａｆé\u3000食品（测试）有限公司",
        " 济南Café  食品（测试）有限公司 ",
    ):
        assert claim(running, **base, fields={"holder_name": typed}).code == 0, typed
    for other in (
        "济南Cafe 食品（测试）有限公司",
        "济南café 食品（测试）有限公司",
        "济南Café食品（测试）有限公司",
        "济南Café 食品（测试）公司",
    ):
        answer = claim(running, **base, fields={"holder_name": other})
        assert (answer.code, list(answer.mismatched_fields)) == (7, ["holder_name"]), other


def test_claims_follow_the_provincial_result_numbers(running: RunningGateway) -> None:
    record = unique(samples.food_permit(11))
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    right = claim(running, **base, fields={"holder_name": issued.holder.name, "food_category": "糕点；饮料"})
    assert (right.result, right.code) == (verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID, 0)
    wrong = claim(running, **base, fields={"food_category": "饮料"})
    assert (wrong.code, list(wrong.mismatched_fields)) == (7, ["food_category"])
    assert "糕点" not in str(wrong)  # the stored value is never returned
    assert claim(running, **{**base, "license_number": "SC-NOT-THERE"}).code == 5
    assert claim(running, **{**base, "holder_code": ""}).code == 4
    assert claim(running, type_code=issued.type_code, fields={"holder_name": issued.holder.name}).code == 4
    # nothing claimed at all (spaces only): 6, certData 未填, not 4 (found by a tester of the provincial codes)
    empty = claim(
        running, type_code=issued.type_code, holder_code=" ", license_number="", fields={"food_category": " "}
    )
    assert (empty.result, empty.code) == (verification_pb2.CLAIM_RESULT_NOT_FILLED, 6)
    assert receipt_statement(running, empty.receipt)["code"] == 6
    with pytest.raises(grpc.RpcError) as no_type:
        claim(running, **{**base, "type_code": ""})
    assert ("type_code", "REQUIRED") in error_details(no_type.value)[1]
    change(running, issued.license_id, issuance_pb2.STATUS_ACTION_SUSPEND)
    assert (claim(running, **base).code, claim(running, **base).status_reason) == (2, "SUSPENDED")
    change(running, issued.license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    revoked = claim(running, **base)
    assert (revoked.code, revoked.status_reason) == (3, "REVOKED")
    assert receipt_statement(running, revoked.receipt)["code"] == 3


def test_a_claimed_value_no_license_can_state_is_bad_input_never_a_wrong_claim(running: RunningGateway) -> None:
    """A value with a NUL, a zero-width space, a direction override or another control character pasted in had been
    compared and answered 7 (信息有误), and five such claims held the department back from the license for a day,
    right claims included (TOO_MANY_WRONG_CLAIMS), although the applicant's papers were right (an integrator). Each
    is INVALID_ARGUMENT / BAD_CHARACTERS on its field, naming the character's code point, one violation per field,
    as the issuer's value would have been refused; none is counted."""
    from gateway.services.verification import MAX_WRONG_CLAIMS

    issued = issue(running, 28).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    pasted = {
        "糕点\x00；饮料": "U+0000",
        "糕点\u200b；饮料": "U+200B",
        "\u202e料饮；点糕": "U+202E",
        "糕点；饮料\x07": "U+0007",
        "\u0301糕点；饮料": "U+0301",
    }
    assert len(pasted) == MAX_WRONG_CLAIMS
    for value, code_point in pasted.items():
        with pytest.raises(grpc.RpcError) as caught:
            claim(running, **base, fields={"food_category": value})
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [("fields.food_category", "BAD_CHARACTERS")], value
        assert code_point in descriptions(caught.value)[("fields.food_category", "BAD_CHARACTERS")]
    with pytest.raises(grpc.RpcError) as both:  # the holder's name is judged as issuance judges it: no direction mark
        claim(running, **base, fields={"holder_name": issued.holder.name + "\u200f", "food_category": "糕点\x1b"})
    assert error_details(both.value)[1] == [
        ("fields.food_category", "BAD_CHARACTERS"),
        ("fields.holder_name", "BAD_CHARACTERS"),
    ]
    assert "U+200F" in descriptions(both.value)[("fields.holder_name", "BAD_CHARACTERS")]
    assert claims_key(issued.license_id) not in claims_command(running)[1]  # nothing counted
    right = claim(running, **base, fields={"holder_name": issued.holder.name, "food_category": "糕点；饮料"})
    assert right.result == verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID


def test_a_claimed_value_left_empty_or_blank_claims_nothing(running: RunningGateway) -> None:
    """A window system sends a form's optional field the applicant did not fill in as "" or as spaces: it had been
    compared, answered 7 and counted toward TOO_MANY_WRONG_CLAIMS (an integrator). Such a value is left out of the
    comparison, as a claim stating nothing is certData 未填 (6): the rest of the claim is answered, and the receipt
    lists only the fields compared."""
    issued = issue(running, 29).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    for blank in ("", "   ", "\u3000", " \t "):
        answer = claim(running, **base, fields={"holder_name": issued.holder.name, "food_category": blank})
        assert (answer.result, list(answer.mismatched_fields)) == (verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID, [])
        assert receipt_statement(running, answer.receipt)["query"]["fields"] == ["holder_name"]
    assert claims_key(issued.license_id) not in claims_command(running)[1]
    wrong = claim(running, **base, fields={"holder_name": "", "food_category": "饮料"})
    assert (wrong.code, list(wrong.mismatched_fields)) == (7, ["food_category"])
    nothing = claim(running, type_code=issued.type_code, fields={"holder_name": " ", "food_category": ""})
    assert (nothing.result, nothing.code) == (verification_pb2.CLAIM_RESULT_NOT_FILLED, 6)


def test_a_number_and_code_copied_with_a_zero_width_space_are_the_license(running: RunningGateway) -> None:
    """A number pasted from a chat carried U+200B: the genuine license was 未找到该证照, with a signed receipt saying
    so (a clerk tester). The invisible character is no part of a number or a code, in a verification or a claim."""
    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(21)))).license
    number = issued.license_number[:3] + "\u200b" + issued.license_number[3:] + "\ufeff"
    assert verify(running, type_code=issued.type_code, license_number=number).license.license_id == issued.license_id
    holder = "\u200b" + issued.holder.code[:6] + "\u2060" + issued.holder.code[6:]
    assert claim(running, type_code=issued.type_code, license_number=number, holder_code=holder).code == 0


def test_a_claim_naming_another_holder_compares_nothing_else_and_hands_no_license_on(running: RunningGateway) -> None:
    """With a license's number and a wrong holder code, each claimed field had still been judged: whoever knew a
    结婚证's number confirmed a stranger's spouse's name and number, and the case's listing then handed the license's
    identifier to the next department, standing PASSED (a black-box tester). Such a claim is 7 with holder_code
    alone, right fields or wrong; it is on the holder's log, but its receipt names no license."""
    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(17)))).license
    stranger = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": samples.uscc(5)}
    answers = [
        claim(running, **stranger, fields=claimed)
        for claimed in ({"food_category": "糕点；饮料"}, {"food_category": "饮料"}, {"holder_name": issued.holder.name})
    ]
    assert [(a.code, list(a.mismatched_fields)) for a in answers] == [(7, ["holder_code"])] * 3
    assert [(r.action, r.decision, r.reason) for r in claims_on_log(running, issued)] == [
        ("CHECK_CLAIM", "PARTLY_WRONG", "holder_code")
    ] * 3
    with running.gateway.db.unit_of_work() as uow:
        stored = [uow.receipts.get(a.receipt.receipt_id) for a in answers]
    assert [r.license_id if r else None for r in stored] == ["", "", ""]


BIRTH_USE = verification_pb2.UseContext(matter_code="370100-CSDJ-001", purpose="出生登记：核对父母结婚证")
"""The 公安局's 出生登记, which reads a 结婚证's 女方 number whole: the claims about a 公民身份号码 and a date."""


def _wife_id(n: int) -> str:
    return str(samples.marriage_certificate(n)["fields"]["wife_citizen_id"])


def marriage_with_x(running: RunningGateway, start: int) -> tuple[common_pb2.License, dict[str, Any]]:
    """A 结婚证 issued whose 女方's 公民身份号码 ends in X."""
    n = next(n for n in range(start, start + 3000) if _wife_id(n).endswith("X"))
    record = unique(samples.marriage_certificate(n))
    return running.issuance(CIVIL).IssueLicense(issue_request(record)).license, record


def birth_claim(running: RunningGateway, **fields: Any) -> verification_pb2.CheckClaimResponse:
    return verifier(running, POLICE).CheckClaim(verification_pb2.CheckClaimRequest(use=BIRTH_USE, **fields))


def test_a_claimed_number_or_date_is_compared_as_what_it_names_and_one_none_could_hold_is_bad_input(
    running: RunningGateway,
) -> None:
    """A clerk types the applicant's paper as written: a 公民身份号码 with x or in groups, a credit code in lower case,
    2019年5月20日 or 2019/5/20 for the 2019-05-20 issued. Each had been answered 7 and counted toward
    TOO_MANY_WRONG_CLAIMS, and so had a number whose check character was mistyped and a date no calendar has
    (2019-02-30), which no license could hold: five of them held the department back from the license for a day, right
    claims included (a reviewer). A code is compared as issuance keeps it, a date as the day it names; a value none
    could hold is INVALID_ARGUMENT on its field with issuance's reason, and none is counted."""
    from gateway.services.verification import MAX_WRONG_CLAIMS

    issued, record = marriage_with_x(running, 40)
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    wife = record["fields"]["wife_citizen_id"]
    day = dt.date.fromisoformat(record["fields"]["registration_date"])
    for same in (
        {"wife_citizen_id": wife.lower()},
        {"wife_citizen_id": f"{wife[:6]} {wife[6:14]} {wife[14:]}"},
        # pasted with hyphens, in either width: no 公民身份号码 has one (review console2, R3)
        {"wife_citizen_id": f"{wife[:6]}-{wife[6:14]}-{wife[14:]}"},
        {"wife_citizen_id": f"{wife[:6]}－{wife[6:14]}－{wife[14:]}"},
        {"registration_date": f"{day.year}-{day.month}-{day.day}"},
        {"registration_date": f"{day:%Y/%m/%d}"},
        {"registration_date": f"{day:%Y%m%d}"},
        {"registration_date": f"{day.year}年{day.month}月{day.day}日"},
        {"registration_date": f"{day:%Y.%m.%d}".translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})},
    ):
        assert birth_claim(running, **base, fields=same).code == 0, same
    bad_check = wife[:-1] + "1"
    none_could_hold = [
        ({"wife_citizen_id": bad_check}, "BAD_CHECK_CHARACTER"),
        ({"wife_citizen_id": wife[:-1]}, "BAD_CITIZEN_ID"),
        ({"registration_date": f"{day.year}-02-30"}, "BAD_DATE"),
        ({"registration_date": f"{day.year}-13-01"}, "BAD_DATE"),
        ({"registration_date": "去年五月"}, "BAD_DATE"),
    ]
    assert len(none_could_hold) == MAX_WRONG_CLAIMS
    for claimed, reason in none_could_hold:
        with pytest.raises(grpc.RpcError) as caught:
            birth_claim(running, **base, fields=claimed)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, claimed
        assert error_details(caught.value)[1] == [(f"fields.{next(iter(claimed))}", reason)], claimed
    assert claims_key(issued.license_id) not in claims_command(running)[1]  # nothing counted
    other_day = day + dt.timedelta(days=1)
    wrong = birth_claim(
        running, **base, fields={"registration_date": f"{other_day.year}年{other_day.month}月{other_day.day}日"}
    )
    assert (wrong.code, list(wrong.mismatched_fields)) == (7, ["registration_date"])


def test_a_claimed_credit_code_is_compared_in_upper_case(running: RunningGateway) -> None:
    """A 食品生产许可证's 统一社会信用代码 typed in lower case had been 7 where full width was 0 (a reviewer)."""
    record = unique(samples.food_permit(32))
    code = samples.uscc(0)  # 91370100000000000R: a letter to type in lower case
    record = {**record, "holder": {**record["holder"], "code": code}, "fields": {**record["fields"], "uscc": code}}
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    assert claim(running, **base, fields={"uscc": code.lower()}).code == 0
    with pytest.raises(grpc.RpcError) as caught:
        claim(running, **base, fields={"uscc": code[:-1] + "a"})
    assert error_details(caught.value)[1] == [("fields.uscc", "BAD_CHECK_CHARACTER")]


def test_a_value_a_license_holds_is_compared_after_the_catalog_tightened_its_field(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field tightened (a STRING made an ENUM, a shorter max_length): "licenses issued before still verify"
    (catalog.md). A claim stating such a license's value as it holds it had been refused NOT_A_CHOICE, telling the
    clerk to claim one of the choices, which the license does not say, so it could never be confirmed (a reviewer):
    it is compared, 0 for the value held, 7 for another."""
    import dataclasses

    from gateway.domain.catalog import LicenseType, ValueType

    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(35)))).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    held = {"food_category": "糕点；饮料"}
    assert claim(running, **base, fields=held).code == 0
    spec_of = LicenseType.field_spec

    def tightened(self: LicenseType, key: str) -> Any:  # as a catalog adopted later (`zzgw init --adopt-catalog`)
        spec = spec_of(self, key)
        if spec is None or key != "food_category":
            return spec
        return dataclasses.replace(spec, value_type=ValueType.ENUM, choices=("糕点", "饮料"), max_length=2)

    monkeypatch.setattr(LicenseType, "field_spec", tightened)
    assert claim(running, **base, fields=held).code == 0
    assert claim(running, **base, fields={"food_category": "糕点(饮料)"}).code == 7
    assert f"{claims_key(issued.license_id)}\t1\t" in claims_command(running)[1]


def claims_on_log(running: RunningGateway, issued: common_pb2.License) -> list[audit_pb2.AccessRecord]:
    """The claims and refused claims about ``issued`` on its holder's log, oldest first."""
    listed = audit_pb2_grpc.AuditServiceStub(running.channel(PORTAL)).ListAccessRecords(
        audit_pb2.ListAccessRecordsRequest(holder_code=issued.holder.code)
    )
    return [r for r in reversed(listed.records) if r.license_id == issued.license_id and r.action == "CHECK_CLAIM"]


def test_a_department_makes_few_wrong_claims_about_one_license(running: RunningGateway) -> None:
    """A claim confirms what it names without returning it, and claims without end had read a 结婚证's registration
    date in 1,601 guesses and an address a matter reads masked in 900, with no approval or consent (a black-box
    tester). After MAX_WRONG_CLAIMS wrong claims (7) about one license in a day, a department's next claim about it
    is refused RESOURCE_EXHAUSTED / TOO_MANY_WRONG_CLAIMS, right or wrong, and the refusal is on the holder's log;
    right claims do not count, and another license is not held back (the count is the caller's own)."""
    from gateway.services.verification import MAX_WRONG_CLAIMS

    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(18)))).license
    other = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(19)))).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    assert claim(running, **base, fields={"holder_name": issued.holder.name}).code == 0  # does not count
    guesses = [f"类别{n}" for n in range(MAX_WRONG_CLAIMS)]
    assert [claim(running, **base, fields={"food_category": g}).code for g in guesses] == [7] * MAX_WRONG_CLAIMS
    for right_or_wrong in ({"holder_name": issued.holder.name}, {"food_category": "又一个猜测"}):
        with pytest.raises(grpc.RpcError) as refused:
            claim(running, **base, fields=right_or_wrong)
        assert (refused.value.code(), error_details(refused.value)[0].reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "TOO_MANY_WRONG_CLAIMS",
        )
    said = refused.value.details() or ""
    assert said.startswith(f"24小时内本部门对这本证照的信息比对已有{MAX_WRONG_CLAIMS}次不一致"), said
    log = claims_on_log(running, issued)
    assert [(r.decision, r.reason) for r in log[-2:]] == [("DENIED", "TOO_MANY_WRONG_CLAIMS")] * 2
    other_base = {**base, "license_number": other.license_number, "holder_code": other.holder.code}
    assert claim(running, **other_base, fields={"holder_name": other.holder.name}).code == 0
    # nor do other uses of the license push the count out (it had been read from the holder's newest records),
    # nor does an amendment start it again (it had been the version's): both found in review
    for _ in range(25):
        verify(running, license_id=issued.license_id)
    amended = running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="am-" + uuid.uuid4().hex,
            license_id=issued.license_id,
            fields={"food_category": "饮料"},
            reason="变更许可类别",
        )
    )
    assert amended.license.license_id != issued.license_id
    for right_or_wrong in ({"food_category": "饮料"}, {"food_category": "糕点"}):
        with pytest.raises(grpc.RpcError) as still:
            claim(running, **base, fields=right_or_wrong)
        assert error_details(still.value)[0].reason == "TOO_MANY_WRONG_CLAIMS"

    # an administrator sees who is held back and forgives one department's (one clerk's typos had held every window
    # of the department for a day, with no way out; found rereading the last stop's note)
    assert claims_command(running, "--forgive", TAX, amended.license.license_id) == (
        3,  # nothing forgiven: not 0, which a script reads as unblocked, nor 1, a crash (found in review)
        "",
        f"{TAX}: 0 wrong claims about {claims_key(issued.license_id)} forgotten (none were counted)\n",
    )
    status, listed, _ = claims_command(running)
    assert status == 0
    mine = [line.split("\t") for line in listed.splitlines() if claims_key(issued.license_id) in line]
    assert [row[:4] + row[5:] for row in mine] == [
        [MARKET, "济南市市场监督管理局", claims_key(issued.license_id), str(MAX_WRONG_CLAIMS), "refused"]
    ]
    # Beijing time with its offset, as zzgw audit refusals prints it, which a script reads back: it had been UTC
    # (…T01:16:23+00:00) where refusals says 09:16:23+08:00, then "09:16:23 (UTC+8)", which no parser takes
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+08:00", mine[0][4]), mine[0][4]
    beijing = dt.datetime.fromisoformat(mine[0][4])
    assert abs(beijing - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    forgiven = claims_command(running, "--forgive", MARKET.lower(), amended.license.license_id)  # any version's id
    assert forgiven == (
        0,
        "",
        f"{MARKET}: {MAX_WRONG_CLAIMS} wrong claims about {claims_key(issued.license_id)} "
        "forgotten: its claims about it are answered again\n",
    )
    assert claim(running, **base, fields={"food_category": "饮料"}).code == 0
    assert claims_key(issued.license_id) not in claims_command(running)[1]
    assert claims_command(running, "--forgive", "NOT-A-MEMBER", issued.license_id)[::2] == (
        2,
        "zzgw claims: no member NOT-A-MEMBER\n",
    )
    assert claims_command(running, "--forgive", MARKET, issued.license_id[:-1] + "?")[::2] == (
        2,
        f"zzgw claims: {issued.license_id[:-1]}? is not a license identifier (nor a type.issuer.serial that "
        "`zzgw claims` lists)\n",
    )


def claims_command(running: RunningGateway, *args: str) -> tuple[int, str, str]:
    """``zzgw claims *args`` on ``running``'s store, in this process: exit status, standard output and error."""
    from gateway import cli

    out, err = io.StringIO(), io.StringIO()
    forgive = tuple(args[1:]) if args[:1] == ("--forgive",) else None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli._claims(running.gateway.settings, argparse.Namespace(forgive=forgive))
    return status, out.getvalue(), err.getvalue()


def test_wrong_claims_sent_at_once_are_counted_whole(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted and stored in one transaction under a lock of the department and license (the store's, not a
    process's): of eight wrong claims sent together, five are answered and three refused, as they would be across
    several processes (the count had been a process's own lock over the audit trail's records; found in review).
    Each count is made slow, so that without the lock the claims would all count the same few."""
    from gateway.services.verification import MAX_WRONG_CLAIMS
    from gateway.store.repositories import WrongClaimRepository

    count = WrongClaimRepository.count_since

    def slow(self: WrongClaimRepository, caller: str, license: str, since: dt.datetime) -> int:
        made = count(self, caller, license, since)
        time.sleep(0.05)
        return made

    monkeypatch.setattr(WrongClaimRepository, "count_since", slow)

    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(23)))).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}

    def guess(n: int) -> str:
        try:
            return str(claim(running, **base, fields={"food_category": f"猜测{n}"}).code)
        except grpc.RpcError as refused:
            return error_details(refused)[0].reason

    with futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(guess, range(8)))
    assert sorted(answers) == ["7"] * MAX_WRONG_CLAIMS + ["TOO_MANY_WRONG_CLAIMS"] * (8 - MAX_WRONG_CLAIMS)


def test_a_wrong_claim_left_unanswered_is_not_counted(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong claim had been counted before its receipt was made: five that were each answered UNAVAILABLE (a
    process whose receipt key a later `zzgw init` retired, RECEIPT_KEY_RETIRED, whose words say to retry at another
    process; an audit trail that could not be written) held the department back from the license for a day, and its
    right claim at a healthy process was refused TOO_MANY_WRONG_CLAIMS (a reviewer). A retired key is refused before
    anything is counted; a count whose call then fails, nothing of it stored, is taken back."""
    import sqlite3

    import psycopg
    from sqlalchemy.exc import OperationalError

    from gateway.services.verification import MAX_WRONG_CLAIMS

    service = running.gateway.verification
    assert service is not None and service._certificates is not None and service._audit is not None
    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(31)))).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}

    def unanswered(n: int) -> str:
        with pytest.raises(grpc.RpcError) as caught:
            claim(running, **base, fields={"food_category": f"猜测{n}"})
        return error_details(caught.value)[0].reason or caught.value.code().name

    # as a later `zzgw init` retires the key (test_receipt_key_retirement), kept so while the readiness checks read
    monkeypatch.setattr(service._certificates, "_read", lambda: [])
    monkeypatch.setattr(service._certificates, "_retired_by", service.receipt_certificate)
    assert {unanswered(n) for n in range(MAX_WRONG_CLAIMS + 1)} == {"RECEIPT_KEY_RETIRED"}
    monkeypatch.undo()
    assert claims_key(issued.license_id) not in claims_command(running)[1]

    # SQLite's full disk, and PostgreSQL's, lock and statement timeouts: transactions that never committed (any
    # PostgreSQL error had kept the count, as a connection lost at a commit no lookup could tell of does; a reviewer)
    for failure in (
        sqlite3.OperationalError("disk I/O error"),
        psycopg.errors.DiskFull("could not extend file: No space left on device"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
    ):

        def failing(*args: Any, failure: Exception = failure, **kwargs: Any) -> None:
            raise OperationalError("INSERT INTO access_records", {}, failure)

        monkeypatch.setattr(service._audit, "append", failing)
        for n in range(MAX_WRONG_CLAIMS + 1):
            unanswered(n)
        monkeypatch.undo()
        assert claims_key(issued.license_id) not in claims_command(running)[1], failure
    right = claim(running, **base, fields={"food_category": "糕点；饮料"})
    assert right.result == verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID
    assert claim(running, **base, fields={"food_category": "饮料"}).code == 7  # answered: counted
    assert f"{claims_key(issued.license_id)}\t1\t" in claims_command(running)[1]


def test_a_claim_receipt_names_the_claim_only_to_who_holds_it_and_two_receipts_cannot_be_linked(
    running: RunningGateway,
) -> None:
    """A claim's receipt keeps the claimed holder code and number as HMACs under a key given to the claimant alone:
    with the claim and the key a later department recomputes them (the code and number as compared: trimmed, any
    case); the receipt alone, as anyone with its id fetches it, holds no key to try ID numbers against (its salt was
    in it, and a tester recovered a 公民身份号码 in 1.7 s), and two receipts about one holder share no digest."""
    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(19)))).license
    asked = {"type_code": issued.type_code, "license_number": issued.license_number}
    answers = [
        claim(
            running,
            **{**asked, "license_number": issued.license_number.lower()},
            holder_code=f" {issued.holder.code.lower()} ",
        ),
        claim(running, **asked, holder_code=issued.holder.code),
    ]
    first, second = (receipt_statement(running, answer.receipt) for answer in answers)
    for statement, answer in zip((first, second), answers, strict=True):
        query = statement["query"]
        assert len(answer.claim_key) == 16 and answer.claim_key.hex() not in json.dumps(statement)
        assert set(query) == {"type_code", "license_number_hmac", "holder_code_hmac", "fields"}
        assert query["holder_code_hmac"] == claim_digest(answer.claim_key, issued.holder.code)
        assert query["license_number_hmac"] == claim_digest(answer.claim_key, issued.license_number)
        assert issued.holder.code not in json.dumps(statement) and issued.license_number not in json.dumps(statement)
        fetched = verifier(running).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=answer.receipt.receipt_id))
        assert answer.claim_key not in fetched.SerializeToString()  # nor is it kept where others fetch the receipt
    assert answers[0].claim_key != answers[1].claim_key
    assert first["query"]["holder_code_hmac"] != second["query"]["holder_code_hmac"]
    assert hashlib.sha256(issued.holder.code.encode()).hexdigest() not in json.dumps(first)


def test_a_claim_cannot_be_about_a_secret_field_one_the_type_has_not_or_a_type_the_matter_does_not_use(
    running: RunningGateway,
) -> None:
    """ "It matches" would confirm a guess of a secret (a photo reference), or of data the matter has no need of; a
    mistyped key read as a mismatch (7)."""
    secret_type, secret = next(
        (license_type.code, spec.key)
        for license_type in running.gateway.catalog.license_types.values()
        for spec in license_type.fields
        if spec.sensitivity is Sensitivity.SECRET
    )
    assert secret_type == samples.id_card(1)["type_code"]  # which 企业印章刻制 uses (the legal representative's)
    seals = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose="企业印章刻制：核对法定代表人身份")
    asked = {"license_number": "ANY-1", "holder_code": samples.citizen_id(424242, dt.date(1990, 1, 1))}

    def police_claim(type_code: str, fields: dict[str, str]) -> verification_pb2.CheckClaimResponse:
        return verifier(running, POLICE).CheckClaim(
            verification_pb2.CheckClaimRequest(use=seals, type_code=type_code, **asked, fields=fields)
        )

    with pytest.raises(grpc.RpcError) as caught:
        police_claim(secret_type, {secret: "photo/0001.jpg", "no_such_field": "x"})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [
        ("fields.no_such_field", "UNKNOWN_FIELD"),
        (f"fields.{secret}", "NOT_CLAIMABLE"),
    ]
    # an attempt on a photo is on the named holder's log (it had left no record; a black-box tester)
    assert trail_rows(running, "action, decision, reason, holder_code", "caller = :p", p=POLICE)[-1] == (
        AuditAction.CHECK_CLAIM.value,
        "DENIED",
        "NOT_CLAIMABLE",
        asked["holder_code"],
    )
    assert police_claim(secret_type, {"holder_name": "某人"}).code == 5  # the holder's name, of any type it uses

    # a field the matter does not use: 企业印章刻制 checks the ID card's name, number and issuer, not its address,
    # and "it matches" would confirm a guess of what the sharing policy keeps from the matter
    with pytest.raises(grpc.RpcError) as unused:
        police_claim(secret_type, {"address": "济南"})
    assert error_details(unused.value)[1] == [("fields.address", "NOT_USED_BY_MATTER")]
    assert "不使用" in (unused.value.details() or "")
    # on the named holder's log, as a type the matter does not use is (found in review)
    assert trail_rows(running, "action, decision, reason, holder_code", "caller = :p", p=POLICE)[-1] == (
        AuditAction.CHECK_CLAIM.value,
        "DENIED",
        "NOT_USED_BY_MATTER",
        asked["holder_code"],
    )

    # nor a type the matter does not use at all: 发票申领 needs a 营业执照, and "it matches" on a newborn's
    # 出生医学证明's number, holder and name would confirm a guess of personal data it has no need of (a 居民身份证's
    # holder is another matter: the next test)
    invoices = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="企业开办：发票申领")
    with pytest.raises(grpc.RpcError) as unneeded:
        verifier(running, TAX).CheckClaim(
            verification_pb2.CheckClaimRequest(
                use=invoices, type_code=BIRTH_CERTIFICATE, **asked, fields={"holder_name": "某人"}
            )
        )
    assert unneeded.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(unneeded.value)[1] == [("type_code", "NOT_USED_BY_MATTER")]
    assert "事项 370100-FPSL-001（发票申领）不使用出生医学证明" in (unneeded.value.details() or "")
    # the attempt is on the holder's log (the claim named the holder and the number; nothing was compared)
    assert trail_rows(running, "action, decision, reason, holder_code", "caller = :tax", tax=TAX)[-1] == (
        AuditAction.CHECK_CLAIM.value,
        "DENIED",
        "NOT_USED_BY_MATTER",
        asked["holder_code"],
    )


BIRTH_CERTIFICATE = "1110000099100006XH001"  # 出生医学证明: used by none of 税务局's matters


def test_an_id_cards_holder_may_be_claimed_under_any_matter_and_nothing_more(running: RunningGateway) -> None:
    """SCENARIOS: a 居民身份证's data-free claim check is always allowed (the catalog's ``claimable_under_any_matter``):
    税务局's 发票申领, whose materials list no ID card, had been refused NOT_USED_BY_MATTER, at the desks where an
    applicant's identity needs confirming without reading data (a reviewer, R4). The holder's code, the number and
    name are answered under any matter, on the trail; a field the matter does not list is still refused."""
    record = {**samples.id_card(710_000 + int(uuid.uuid4().hex[:5], 16)), "request_id": f"card-{uuid.uuid4().hex}"}
    card = running.issuance(POLICE).IssueLicense(issue_request(record)).license
    invoices = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="企业开办：核对经办人身份")
    asked = {"type_code": card.type_code, "holder_code": card.holder.code, "license_number": card.license_number}

    def tax_claim(fields: dict[str, str]) -> verification_pb2.CheckClaimResponse:
        return verifier(running, TAX).CheckClaim(
            verification_pb2.CheckClaimRequest(use=invoices, **asked, fields=fields)
        )

    right = tax_claim({"holder_name": card.holder.name})
    assert (right.result, right.code) == (verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID, 0)
    assert receipt_statement(running, right.receipt)["result"] == "CORRECT_AND_VALID"
    wrong = tax_claim({"holder_name": card.holder.name + "某"})
    assert (wrong.code, list(wrong.mismatched_fields)) == (7, ["holder_name"])
    assert trail_rows(running, "action, decision, holder_code", "caller = :tax", tax=TAX)[-2:] == [
        (AuditAction.CHECK_CLAIM.value, "CORRECT_AND_VALID", card.holder.code),
        (AuditAction.CHECK_CLAIM.value, "PARTLY_WRONG", card.holder.code),
    ]
    # the card's data stays the matters' that list it: its address, or even its gender, is not confirmed here
    with pytest.raises(grpc.RpcError) as unused:
        tax_claim({"holder_name": card.holder.name, "gender": card.fields["gender"]})
    assert error_details(unused.value)[1] == [("fields.gender", "NOT_USED_BY_MATTER")]


def test_a_claim_is_not_compared_with_a_record_changed_behind_the_gateways_back(running: RunningGateway) -> None:
    """The claim's fields match what was written into the store, not what the issuer sealed: 4, cannot be verified,
    with the integrity reason, and no comparison (found by an independent client: it answered 0)."""
    record = unique(samples.food_permit(15))
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number, "holder_code": issued.holder.code}
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET holder_name = :name WHERE license_id = :id"),
            {"name": "冒名公司", "id": issued.license_id},
        )
    altered = claim(running, **base, fields={"holder_name": "冒名公司"})
    assert (altered.result, altered.code, altered.status_reason) == (
        verification_pb2.CLAIM_RESULT_INCOMPLETE,
        4,
        "RECORD_ALTERED",
    )
    assert list(altered.mismatched_fields) == []
    assert receipt_statement(running, altered.receipt)["status_reason"] == "RECORD_ALTERED"
    # another holder's code is 7 with holder_code alone, its receipt naming no license, as for a record intact: it
    # had been 4 RECORD_ALTERED, telling whoever knew only the number that the record was altered, and its receipt
    # named the license, which the case's listing handed on (a reviewer, R4)
    stranger = claim(running, **{**base, "holder_code": samples.uscc(999)}, fields={"holder_name": "冒名公司"})
    assert (stranger.code, list(stranger.mismatched_fields), stranger.status_reason) == (7, ["holder_code"], "")
    with running.gateway.db.unit_of_work() as uow:
        stored = uow.receipts.get(stranger.receipt.receipt_id)
    assert stored is not None and stored.license_id == ""


def test_the_code_on_a_document_drawn_later_by_a_newer_seal_survives_that_seals_rotation(
    running: RunningGateway,
) -> None:
    """A batch-issued license's document (and its code) is drawn when first asked for, by the issuer's seal of
    that day; after that seal is retired in turn, the code is judged at the drawing the gateway recorded, as the
    PDF it is printed on is judged at its timestamp."""
    from tests.api.test_seals import register, seals

    def rotate(old: seal_pb2.Seal) -> seal_pb2.Seal:
        new = register(running, name="电子证照专用章")
        seals(running, MARKET).RevokeSeal(
            seal_pb2.RevokeSealRequest(seal_id=old.seal_id, reason="印章更换", crl_reason="superseded")
        )
        return new

    first = register(running, name="电子证照专用章")
    license_id = batch_issue(running, 41)  # its record sealed by the first seal
    second = rotate(first)
    pdf = document_of(running, license_id).pdf  # drawn now, by the second
    code, _ = qr_for(running, license_id)  # as the document's code: by the issuer's seal of the day
    assert running.gateway.seals.current(MARKET, for_pdf=True).seal_id == second.seal_id  # type: ignore[union-attr]
    rotate(second)
    for report in (verify(running, qr_code=code), verify(running, license_id=license_id)):
        assert (report.verdict, report.issuer_identity.result) == (PASSED, PASSED), report.issuer_identity
    assert (
        verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report.verdict
        == PASSED
    )


def test_a_revoked_seal_fails_identity_only_for_records_sealed_after(running: RunningGateway) -> None:
    """A record sealed before its seal was revoked keeps passing: the registry's time of sealing is trusted."""
    from tests.api.test_seals import register, seals

    seal = register(running, name="电子证照专用章")  # the newest active seal: it seals what MARKET issues next
    license_id = batch_issue(running, 12)
    # the code printed on its document, drawn by the same seal (a batch-issued license has none until then: a code
    # the gateway never drew is judged at the time it states, tests/api/test_verification_leaked_seal_codes.py)
    code = qr_code_of(document_of(running, license_id).pdf)
    assert verify(running, license_id=license_id).verdict == PASSED
    seals(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    assert verify(running, license_id=license_id).verdict == PASSED  # revoked after it sealed this record
    # the license's code, by the seal of its record and document, is judged at the drawing the gateway recorded (its
    # own time is only claimed): the same answer by code as by identifier, also after a routine seal rotation
    assert (verify(running, qr_code=code).verdict, verify(running, qr_code=code).license.license_id) == (
        PASSED,
        license_id,
    )

    stored = running.gateway.issuance._get_stored(license_id)
    with running.gateway.db.engine.begin() as connection:  # the compromise is now dated before the record was made
        connection.execute(
            text("UPDATE seals SET revoked_at = :at WHERE seal_id = :id"),
            {"at": stored.created_at - dt.timedelta(minutes=1), "id": seal.seal_id},
        )
    running.gateway.feed.committed([f"seal:{seal.key_id}"])  # type: ignore[union-attr]
    report = verify(running, license_id=license_id)
    assert (report.verdict, report.reason, report.issuer_identity.reason) == (FAILED, "CERT_REVOKED", "CERT_REVOKED")
    assert report.integrity.result == PASSED and report.status.result == PASSED
    assert (verify(running, qr_code=code).verdict, verify(running, qr_code=code).issuer_identity.reason) == (
        FAILED,
        "CERT_REVOKED",
    )


def test_the_status_cache_is_real_and_a_write_the_gateway_did_not_announce_is_still_seen(
    running: RunningGateway,
) -> None:
    """The checked license is kept after the first check (the same object answers the next), and a status written
    to the store without the gateway announcing it is still seen within a second: the store announces its own
    edits (migration 0020: a trigger's NOTIFY on PostgreSQL, a row the change feed polls on SQLite)."""
    license_id = batch_issue(running, 13)
    service = running.gateway.verification
    assert service is not None

    def served_from_the_cache() -> bool:
        assert verify(running, license_id=license_id).verdict == PASSED
        kept = service._checked.get(license_id)
        assert verify(running, license_id=license_id).verdict == PASSED
        return kept is not None and service._checked.get(license_id) is kept  # not read again

    # the feed may hear the issue's own announcement after the first check and drop the caches once (on a loaded
    # machine a CI run saw it): then the next pair is served from the cache
    assert any(served_from_the_cache() for _ in range(5))
    memos = running.gateway.verification._memos  # type: ignore[union-attr]
    assert memos is not None
    at = dt.datetime.now(dt.UTC)
    with running.gateway.db.unit_of_work(write=True) as uow:  # as the gateway writes it, with its memo
        made = uow.licenses.get(license_id).created_at  # type: ignore[union-attr]
        memo = memos.status(license_id, "REVOKED", "吊销", at, made)
        uow.licenses.set_status(license_id, LicenseStatus.REVOKED, "吊销", at, memo=memo)
        uow.commit()
    deadline = time.monotonic() + 1.0
    while (reason := verify(running, license_id=license_id).reason) != "REVOKED" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reason == "REVOKED"


def test_a_status_changed_behind_the_gateways_back_fails_integrity(running: RunningGateway) -> None:
    """The record seal covers what the issuer stated, not the status: the gateway's memo of the status does. A
    revoked license set ACTIVE in the store (its memo kept, or cleared), or set to a status that is none of the
    gateway's, fails, by identifier, number and claim."""
    record = unique(samples.food_permit(18))
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    change(running, issued.license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    assert verify(running, license_id=issued.license_id).reason == "REVOKED"
    cleared = "X''" if running.gateway.db.dialect == "sqlite" else "''::bytea"
    for status, memo in (("ACTIVE", "status_memo"), ("ACTIVE", cleared), ("REVOKED_BY_DBA", "status_memo")):
        with running.gateway.db.engine.begin() as connection:
            connection.execute(
                text(f"UPDATE licenses SET status = :status, status_memo = {memo} WHERE license_id = :id"),
                {"id": issued.license_id, "status": status},
            )
        running.gateway.feed.committed([f"license:{issued.license_id}"])  # type: ignore[union-attr]
        report = verify(running, license_id=issued.license_id)
        assert (report.verdict, report.integrity.reason) == (FAILED, "STATUS_ALTERED")
        assert (report.status.result, report.status.reason) == (INDETERMINATE, "STATUS_ALTERED")  # not "ACTIVE"
        # nor is the forged status stated as the license's, in the summary or in the signed receipt
        assert report.license.status == common_pb2.LICENSE_STATUS_UNSPECIFIED and report.license.status_since == ""
        stated = receipt_statement(running, report.receipt)["license"]
        assert (stated["license_id"], stated["status"], stated["status_since"]) == (issued.license_id, "", "")
        by_number = verify(running, type_code=issued.type_code, license_number=issued.license_number)
        assert by_number.integrity.reason == "STATUS_ALTERED"
        claimed = claim(
            running,
            type_code=issued.type_code,
            license_number=issued.license_number,
            holder_code=issued.holder.code,
        )
        assert (claimed.code, claimed.status_reason) == (4, "STATUS_ALTERED")
    # a status none of the gateway's (it had been INTERNAL everywhere): the issuer reads it as unknown, and changes
    # nothing from it
    got = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=issued.license_id))
    assert got.license.status == common_pb2.LICENSE_STATUS_UNSPECIFIED
    with pytest.raises(grpc.RpcError) as caught:
        change(running, issued.license_id, issuance_pb2.STATUS_ACTION_CANCEL)
    assert error_details(caught.value)[0].reason == "TRANSITION_NOT_ALLOWED"
    assert "状态无法识别" in (caught.value.details() or "")


def test_a_sealing_time_changed_behind_the_gateways_back_fails_integrity(running: RunningGateway) -> None:
    """The time the gateway sealed a record is when a seal revoked since is judged at; the record seal does not
    cover it, the gateway's status memo does. Moved back before the seal's certificate began, it fails integrity,
    not the issuer's identity."""
    record = unique(samples.food_permit(19))
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    assert verify(running, license_id=issued.license_id).verdict == PASSED
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET created_at = :at WHERE license_id = :id"),
            {"at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC), "id": issued.license_id},
        )
    running.gateway.feed.committed([f"license:{issued.license_id}"])  # type: ignore[union-attr]
    report = verify(running, license_id=issued.license_id)
    assert (report.verdict, report.reason, report.integrity.reason) == (FAILED, "STATUS_ALTERED", "STATUS_ALTERED")
    assert report.status.result == INDETERMINATE
    # nor is the seal's trust judged at the altered time (it would say CERT_NOT_YET_VALID): not judged at all
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "NOT_CHECKED")
    assert "sealing time" in report.issuer_identity.detail
    by_number = verify(running, type_code=issued.type_code, license_number=issued.license_number)
    assert (by_number.verdict, by_number.integrity.reason) == (FAILED, "STATUS_ALTERED")
    by_code = verify(running, qr_code=qr_for(running, issued.license_id)[0])  # the code's time is the record's too
    assert (by_code.verdict, by_code.integrity.reason) == (FAILED, "STATUS_ALTERED")
    assert (by_code.issuer_identity.result, by_code.issuer_identity.reason) == (INDETERMINATE, "NOT_CHECKED")


def test_a_status_memo_made_before_the_sealing_time_was_covered_still_vouches_for_the_status(
    running: RunningGateway,
) -> None:
    """Stores upgraded from before: a ``zzgw-status-memo/1`` memo (status only) keeps its license passing."""
    import hmac

    record = unique(samples.food_permit(20))
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    secret = running.gateway.keys.secret(SEAL_MEMO_SECRET, create=False)
    with running.gateway.db.unit_of_work() as uow:
        stored = uow.licenses.get(issued.license_id)
    assert stored is not None
    when = stored.status_changed_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    message = b"\n".join((b"zzgw-status-memo/1", issued.license_id.encode(), b"ACTIVE", when.encode(), b""))
    old_memo = hmac.new(secret, message, "sha256").digest()
    assert old_memo != stored.status_memo  # today's memo covers the sealing time too
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET status_memo = :memo WHERE license_id = :id"),
            {"memo": old_memo, "id": issued.license_id},
        )
    running.gateway.feed.committed([f"license:{issued.license_id}"])  # type: ignore[union-attr]
    assert verify(running, license_id=issued.license_id).verdict == PASSED


def published(gateway: Any, name: str) -> bytes:
    """What the HTTP side serves at ``/certificates/<name>``."""
    from gateway.server import http_app

    made = http_app(gateway)._certificates[name]
    return made() if callable(made) else made


def test_the_http_side_serves_the_trust_material_for_offline_checks(running: RunningGateway) -> None:
    from adapters.http import CERTIFICATES_PATH
    from gateway.server import http_app

    report = verify(running, license_id=batch_issue(running, 14))
    served = {name: published(running.gateway, name) for name in http_app(running.gateway)._certificates}
    seals = running.gateway.seals
    assert seals is not None and seals.sm2_ca is not None  # `zzgw init` made the SM2 seal maker
    assert set(served) == {
        "seal-maker-root.pem",
        "seal-maker-intermediate.pem",
        "seal-maker-sm2-root.pem",
        "seal-maker-sm2-intermediate.pem",
        "tsa.pem",
        "receipts.pem",
        "receipt-certificates.pem",
    }
    assert x509.load_pem_x509_certificate(served["seal-maker-sm2-root.pem"]) == seals.sm2_ca.root
    assert x509.load_pem_x509_certificate(served["seal-maker-sm2-intermediate.pem"]) == seals.sm2_ca.intermediate
    assert x509.load_pem_x509_certificate(served["tsa.pem"]).issuer == seals.ca.intermediate.subject
    assert x509.load_pem_x509_certificates(served["receipt-certificates.pem"]) == [
        x509.load_pem_x509_certificate(served["receipts.pem"])
    ]  # no certificate before this one
    receipt_cert = x509.load_pem_x509_certificate(served["receipts.pem"])
    assert receipt_cert.public_bytes(serialization.Encoding.DER) == report.receipt.certificate
    root = x509.load_pem_x509_certificate(served["seal-maker-root.pem"])
    assert root == seals.ca.root and CERTIFICATES_PATH == "/certificates/"


def receipt_holder(running: RunningGateway, license_id: str) -> str:
    with running.gateway.db.unit_of_work() as uow:
        license = uow.licenses.get(license_id)
    assert license is not None
    return license.content.holder.code


def test_a_later_matter_is_given_the_case_receipts_of_the_types_it_uses_only(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """企业开办: 公安 checks the 营业执照 and the legal representative's 居民身份证 for 印章刻制. The tax bureau
    (发票申领, the 营业执照 only) is given the 营业执照's receipt, and nothing of the ID card goes on its holder's log
    as used by the tax bureau; the 公安局 under its own matter, and an administrator, are given both (a privacy
    tester: a matter with no need of a license had been told its standing as often as it asked)."""
    license_id = batch_issue(running, 16, samples.business_license)
    record = {**samples.id_card(700_000 + int(uuid.uuid4().hex[:5], 16)), "request_id": f"card-{uuid.uuid4().hex}"}
    card = running.issuance(POLICE).IssueLicense(issue_request(record)).license
    case = case_number()
    first_use = verification_pb2.UseContext(
        matter_code="370100-QYKZ-001", purpose="企业开办：刻制公章", bundle_code="370100-YJS-QYKB", case_id=case
    )
    police = verifier(running, POLICE)
    made = [
        police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=named)).report
        for named in (license_id, card.license_id)
    ]
    later_use = verification_pb2.UseContext(
        matter_code="370100-FPSL-001", purpose="企业开办：发票申领", bundle_code="370100-YJS-QYKB", case_id=case
    )

    def listed(member: str, use: verification_pb2.UseContext) -> list[str]:
        request = verification_pb2.ListCaseReceiptsRequest(use=use)
        return [r.license_id for r in verifier(running, member).ListCaseReceipts(request).receipts]

    # claims that named no license: a 营业执照 number that none has, an ID card's with a wrong holder code
    missing, wrong_holder = (
        police.CheckClaim(
            verification_pb2.CheckClaimRequest(
                use=first_use, type_code=type_code, holder_code=holder, license_number=number
            )
        )
        for type_code, holder, number in (
            (BUSINESS_LICENSE, samples.uscc(999_999), samples.uscc(999_999)),
            (ID_CARD, samples.citizen_id(999_998, dt.date(1990, 1, 1)), card.license_number),
        )
    )
    assert (missing.code, wrong_holder.code) == (5, 7)
    # an ID card looked up by an identifier no license has: of the type the identifier says (review)
    never_issued = str(LicenseId.parse(card.license_id).next_version())
    police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=never_issued))
    assert listed(TAX, later_use) == [license_id, ""]  # the 营业执照's claim, which found no license
    assert listed(POLICE, first_use) == listed(ADMIN, later_use) == [license_id, card.license_id, "", "", ""]

    def tax_pages() -> list[list[str]]:
        pages, token = [], ""
        while True:
            request = verification_pb2.ListCaseReceiptsRequest(use=later_use, limit=1, page_token=token)
            answer = verifier(running, TAX).ListCaseReceipts(request)
            pages.append([r.license_id for r in answer.receipts])
            if not (token := answer.next_page_token):
                return pages

    # a page at a time, one receipt a page: never an empty page with a token, past the receipts of other types
    assert tax_pages() == [[license_id], [""]]
    # a document that names no license stored: its type is told by nothing, so it is the maker's alone (review)
    from tests.signing.test_pdf import one_page_pdf

    police.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=first_use, pdf=one_page_pdf()))
    assert listed(POLICE, first_use) == [license_id, card.license_id, "", "", "", ""]
    assert listed(TAX, later_use) == [license_id, ""]

    # with the reads of a page cut to the fewest: the same pages, read on past the receipts of other types, never an
    # empty page nor a token leading to none (a reviewer)
    monkeypatch.setattr("gateway.services.verification.CASE_READ_ROWS", 1)
    assert tax_pages() == [[license_id], [""]]
    assert [r for r in made if r.verdict != PASSED] == []
    relied = trail_rows(
        running, "license_id", "action = 'LIST_CASE_RECEIPTS' AND caller = :tax AND holder_code = :holder",
        tax=TAX, holder=card.holder.code,
    )  # fmt: skip
    assert relied == []


def test_a_later_matter_of_the_bundle_finds_the_first_verification(running: RunningGateway) -> None:
    """企业开办: 公安 verifies the 营业执照 for 印章刻制; the tax bureau (发票申领, same case) relies on it."""
    license_id = batch_issue(running, 15, samples.business_license)
    case = case_number()
    first_use = verification_pb2.UseContext(
        matter_code="370100-QYKZ-001", purpose="企业开办：刻制公章", bundle_code="370100-YJS-QYKB", case_id=case
    )
    first = (
        verifier(running, POLICE)
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=license_id))
        .report
    )
    verify(running, license_id=license_id)  # outside the case: not linked to it
    later_use = verification_pb2.UseContext(
        matter_code="370100-FPSL-001", purpose="企业开办：发票申领", bundle_code="370100-YJS-QYKB", case_id=case
    )
    found = verifier(running, TAX).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use)).receipts
    assert [r.receipt.receipt_id for r in found] == [first.receipt.receipt_id]
    typed = verification_pb2.UseContext()  # the applicant's slip typed in small letters, in full width, spaced
    typed.CopyFrom(later_use)
    typed.case_id = " " + case.lower().translate({0x2D: 0xFF0D}).replace("-", " -", 1)
    again = verifier(running, TAX).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=typed)).receipts
    assert [r.receipt.receipt_id for r in again] == [first.receipt.receipt_id]
    (receipt,) = found
    assert (receipt.caller, receipt.matter_code, receipt.license_id) == (POLICE, "370100-QYKZ-001", license_id)
    statement = receipt_statement(running, receipt.receipt)
    assert (statement["verdict"], statement["bundle_code"], statement["case_id"]) == (
        "PASSED",
        "370100-YJS-QYKB",
        case.upper(),
    )
    assert (receipt.standing_now.result, receipt.standing_now.reason) == (PASSED, "")
    # relying on the earlier check is the tax bureau's use of the license: in the holder's and the issuer's logs
    relied = trail_rows(
        running,
        "caller, license_id, issuer_code, holder_code",
        "action = 'LIST_CASE_RECEIPTS' AND caller = :tax AND license_id = :id",
        tax=TAX,
        id=license_id,
    )
    assert relied == [(TAX, license_id, MARKET, receipt_holder(running, license_id))] * 2  # one per listing

    # the case's receipts are for the department handling the named matter: the 公安局 naming the tax bureau's
    # matter is refused (and the refusal is on the audit trail); an administrator reads any case
    with pytest.raises(grpc.RpcError) as refused:
        verifier(running, POLICE).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(refused.value)[0].reason == "NOT_MATTER_DEPARTMENT"
    assert "国家税务总局济南市税务局" in (refused.value.details() or "")
    decisions = trail_rows(running, "caller, decision, reason", "action = 'LIST_CASE_RECEIPTS'")
    assert decisions[-2:] == [
        (TAX, "ANSWERED", "1 receipts"),
        (POLICE, "DENIED", "NOT_MATTER_DEPARTMENT"),
    ]
    by_admin = verifier(running, ADMIN).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use))
    assert [r.receipt.receipt_id for r in by_admin.receipts] == [first.receipt.receipt_id]
    assert by_admin.next_page_token == ""

    # a case with more receipts than a page: all of them, oldest first, a page at a time (they were cut at 200)
    police = verifier(running, POLICE)
    made = [first.receipt.receipt_id] + [
        police.VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=first_use, license_id=license_id)
        ).report.receipt.receipt_id
        for _ in range(6)
    ]
    tax, pages, token, tokens = verifier(running, TAX), [], "", []
    while True:
        page = tax.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use, limit=3, page_token=token))
        pages.append([r.receipt.receipt_id for r in page.receipts])
        token = page.next_page_token
        tokens.append(token)
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1] and [r for p in pages for r in p] == made
    # a token of this case, given for another: it had been taken as a position there, leaving receipts out (a tester)
    another = verification_pb2.UseContext()
    another.CopyFrom(later_use)
    another.case_id = case + "-2"
    with pytest.raises(grpc.RpcError) as mixed_up:
        tax.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=another, page_token=tokens[0]))
    assert ("page_token", "BAD_PAGE_TOKEN") in error_details(mixed_up.value)[1]
    whole = tax.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use)).receipts
    assert [r.receipt.receipt_id for r in whole] == made
    for bad, field, reason in (
        (verification_pb2.ListCaseReceiptsRequest(use=later_use, page_token="x"), "page_token", "BAD_PAGE_TOKEN"),
        (verification_pb2.ListCaseReceiptsRequest(use=later_use, page_token="9" * 19 + ".ab"), "page_token",
         "BAD_PAGE_TOKEN"),
        (verification_pb2.ListCaseReceiptsRequest(use=later_use, limit=1001), "limit", "BAD_LIMIT"),
    ):  # fmt: skip
        with pytest.raises(grpc.RpcError) as caught:
            tax.ListCaseReceipts(bad)
        assert (field, reason) in error_details(caught.value)[1]

    invoices = "370100-FPSL-001"
    for use, field, reason in (
        (verification_pb2.UseContext(matter_code=invoices, purpose="x", bundle_code="NO-SUCH", case_id=case),
         "use.bundle_code", "UNKNOWN_BUNDLE"),
        (verification_pb2.UseContext(matter_code=MATTER, purpose="x", bundle_code="370100-YJS-QYKB",
                                     case_id=case), "use.bundle_code", "MATTER_NOT_IN_BUNDLE"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="x", bundle_code="370100-YJS-QYKB"),
         "use.case_id", "BAD_CASE_ID"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="x", case_id=case), "use.bundle_code", "REQUIRED"),
    ):  # fmt: skip
        with pytest.raises(grpc.RpcError) as caught:
            tax.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=use))
        assert (field, reason) in error_details(caught.value)[1]


def test_a_case_receipts_page_token_is_taken_only_by_the_department_that_was_given_it(
    running: RunningGateway,
) -> None:
    """A case's page token had been bound to the case alone, by a hash anyone can work out: another department (an
    administrator) listing the case went on from it, and one written by hand was a place anywhere in the case (an
    integrator, D2). It is sealed to the caller, the case and the matter, like every list call's."""
    license_id = batch_issue(running, 17, samples.business_license)
    case = case_number()
    first_use = verification_pb2.UseContext(
        matter_code="370100-QYKZ-001", purpose="企业开办：刻制公章", bundle_code="370100-YJS-QYKB", case_id=case
    )
    police = verifier(running, POLICE)
    for _ in range(3):
        police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=license_id))
    later_use = verification_pb2.UseContext(
        matter_code=FPSL, purpose="企业开办：发票申领", bundle_code="370100-YJS-QYKB", case_id=case
    )
    tax, admin = verifier(running, TAX), verifier(running, ADMIN)
    first = tax.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use, limit=1))
    token = first.next_page_token
    assert token and first.receipts[0].receipt.receipt_id not in token
    rest = tax.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use, limit=5, page_token=token))
    assert len(rest.receipts) == 2 and not rest.next_page_token  # another page size: the same listing
    listed = first.receipts[0]
    micros = listed.created_at.seconds * 1_000_000 + listed.created_at.nanos // 1000
    tag = hashlib.sha256(f"370100-YJS-QYKB\n{case.upper()}".encode()).hexdigest()[:8]
    for stub, bad in (
        (admin, token),  # another department's token for the same case
        (tax, f"{micros}.{listed.receipt.receipt_id}.{tag}"),  # the form tokens had before they were sealed
        (tax, f"0.{'0' * 32}.{tag}"),  # made up: had listed the case from its start
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use, page_token=bad))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert error_details(caught.value)[1] == [("page_token", "BAD_PAGE_TOKEN")], bad
        assert "请不带翻页令牌从第一页重新查询" in (caught.value.details() or "")


def test_a_case_receipt_says_how_its_license_stands_now(running: RunningGateway) -> None:
    """接办免收 relies on an earlier check, not on the license as it stands: one revoked since its receipt was listed
    as the earlier department's PASSED with nothing to say otherwise (found by a console tester). The receipt stays
    what it was; ``standing_now`` says REVOKED, and LICENSE_NOT_FOUND for a license no longer stored."""
    license_id = batch_issue(running, 16, samples.business_license)
    case = case_number()
    first_use = verification_pb2.UseContext(
        matter_code="370100-QYKZ-001", purpose="企业开办：刻制公章", bundle_code="370100-YJS-QYKB", case_id=case
    )
    verifier(running, POLICE).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first_use, license_id=license_id))
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    later_use = verification_pb2.UseContext(
        matter_code=FPSL, purpose="企业开办：发票申领", bundle_code="370100-YJS-QYKB", case_id=case
    )
    (listed,) = (
        verifier(running, TAX).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later_use)).receipts
    )
    assert receipt_statement(running, listed.receipt)["verdict"] == "PASSED"  # what was found then
    assert (listed.standing_now.result, listed.standing_now.reason) == (FAILED, "REVOKED")  # and now


def test_a_document_sealed_before_its_seal_was_revoked_passes_and_after_fails(running: RunningGateway) -> None:
    """VerifyDocument judges the seal at the document's timestamp, from the seal store (cached chain check)."""
    from tests.api.test_seals import register, seals

    seal = register(running, name="电子证照专用章")  # the newest seal: it seals the next document
    before_sealing = dt.datetime.now(dt.UTC)
    issued = issue(running, 16)
    pdf = document_of(running, issued.license.license_id).pdf
    stub = verifier(running)
    seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="停用"))
    before = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert before.verdict == PASSED  # revoked after the timestamp: the seal was good when it sealed
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE seals SET revoked_at = :at WHERE seal_id = :id"),
            {"at": dt.datetime.now(dt.UTC) - dt.timedelta(days=1), "id": seal.seal_id},
        )
    running.gateway.feed.committed([f"seal:{seal.key_id}"])  # type: ignore[union-attr]
    after = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert (after.verdict, after.issuer_identity.reason) == (FAILED, "CERT_REVOKED")
    # revoked a microsecond before the document's timestamp, which is to the microsecond (truncated to the second,
    # a seal applied in the second of its revocation read as applied before it, and passed)
    stamped = verify_pdf(running, pdf).signing_time
    assert stamped is not None and before_sealing < stamped and stamped.microsecond != 0
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE seals SET revoked_at = :at WHERE seal_id = :id"),
            {"at": stamped - dt.timedelta(microseconds=1), "id": seal.seal_id},
        )
    running.gateway.feed.committed([f"seal:{seal.key_id}"])  # type: ignore[union-attr]
    just = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert (just.verdict, just.issuer_identity.reason) == (FAILED, "CERT_REVOKED")


def test_a_number_an_amendment_changed_is_answered_by_the_version_that_had_it(running: RunningGateway) -> None:
    """No current version holds it any more: by number the report is the superseded version's (status FAILED /
    SUPERSEDED), and a claim answers 3, no longer valid (变更), where both said "not found" before."""
    record = unique(samples.food_permit(19))
    issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    new_number = issued.license_number + "A"
    running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="am-" + uuid.uuid4().hex, license_id=issued.license_id, license_number=new_number, reason="换号"
        )
    )
    old = verify(running, type_code=issued.type_code, license_number=issued.license_number)
    assert (old.verdict, old.status.reason, old.license.license_id) == (FAILED, "SUPERSEDED", issued.license_id)
    assert old.integrity.result == PASSED
    new = verify(running, type_code=issued.type_code, license_number=new_number)
    assert new.verdict == PASSED and new.license.license_id != issued.license_id
    claimed = claim(
        running, type_code=issued.type_code, license_number=issued.license_number, holder_code=issued.holder.code
    )
    assert (claimed.code, claimed.status_reason) == (3, "SUPERSEDED")
    # the issuer's own registry screen finds what any verifier finds (it had said LICENSE_NOT_FOUND: an issuer's
    # client): the superseded version, naming the version in force
    read = (
        running.issuance(MARKET)
        .GetLicense(issuance_pb2.GetLicenseRequest(type_code=issued.type_code, license_number=issued.license_number))
        .license
    )
    assert (read.license_id, read.status) == (issued.license_id, common_pb2.LICENSE_STATUS_SUPERSEDED)
    assert read.superseded_by == new.license.license_id
    db = running.gateway.db
    with db.unit_of_work() as uow:
        assert uow.licenses.get_by_number(issued.type_code, issued.license_number) == db.read_license_by_number(
            issued.type_code, issued.license_number
        )
    if db.dialect == "sqlite":  # found through the partial index, not by scanning the table
        with db.engine.connect() as connection:
            plan = connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + repositories._RETIRED.format("?", "?"), ("x", "y")
            ).all()
        assert "ix_licenses_retired_number" in str(plan)


def test_the_driver_reads_give_the_same_licenses_as_the_orm(running: RunningGateway) -> None:
    """VerifyLicense reads licenses on a driver connection (``Database.read_license``): the same values as the
    ORM's, for licenses in several states and with and without an end of validity, on both databases."""
    amended = issue(running, 41)
    amend(running, amended.license.license_id)
    revoked = batch_issue(running, 42, valid_until=(today() + dt.timedelta(days=30)).isoformat())
    change(running, revoked, issuance_pb2.STATUS_ACTION_REVOKE)
    ids = [amended.license.license_id, revoked, batch_issue(running, 43)]
    db = running.gateway.db
    with db.unit_of_work() as uow:
        stored = [uow.licenses.get(i) for i in ids]
        current = [uow.licenses.get_by_number(s.content.type_code, s.content.license_number) for s in stored if s]
    assert all(stored) and len(current) == 3
    assert [db.read_license(i) for i in ids] == stored
    assert [db.read_license_by_number(s.content.type_code, s.content.license_number) for s in stored if s] == current
    assert current[0] is not None and current[0].license_id != ids[0]  # the amendment is the current version
    assert db.read_license("1.2.156.3005.2.no.such.license") is None
    assert db.read_license_by_number(stored[0].content.type_code, "SC-NO-SUCH-NUMBER") is None  # type: ignore[union-attr]
    if db.dialect == "postgresql":  # the reads ran as server-side prepared statements, planned once
        reader = db._thread_reader()._connection
        with reader.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements", prepare=False)
            prepared = [row[0] for row in cursor.fetchall()]
        assert any("WHERE license_id = $1" in q for q in prepared), prepared
        assert any("license_number = $2" in q for q in prepared), prepared


@pytest.mark.parametrize("license_id", ["1.2.3", "1.2.156.3005.2." + "9" * 200], ids=["malformed", "too-long"])
def test_a_malformed_license_id_is_refused_and_a_well_formed_unknown_one_is_not_found(
    running: RunningGateway, license_id: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        verify(running, license_id=license_id)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("license_id", "INVALID_LICENSE_ID") in error_details(refused.value)[1]
    stored = LicenseId.parse(batch_issue(running, 41))
    unknown = str(LicenseId(type_code=stored.type_code, issuer_code=stored.issuer_code, serial="NOSUCH", version=1))
    report = verify(running, license_id=unknown)
    assert (report.verdict, report.reason) == (FAILED, "LICENSE_NOT_FOUND") and report.receipt.receipt_id


@pytest.mark.parametrize(
    "query",
    [
        {"license_id": "11370100MB0000000X-0001\x00"},
        {"type_code": "11100000000000127W", "license_number": "JY1\x0037010"},
    ],
    ids=["id", "number"],
)
def test_a_nul_or_control_character_in_a_lookup_is_bad_input_on_every_store(
    running: RunningGateway, query: dict[str, str]
) -> None:
    """PostgreSQL cannot hold NUL in text: looked up as sent, it was an INTERNAL error there."""
    with pytest.raises(grpc.RpcError) as caught:
        verify(running, **query)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()


def test_a_number_is_looked_up_trimmed_as_a_claim_compares_it(running: RunningGateway) -> None:
    issued = issue(running, 23).license
    report = verify(running, type_code=issued.type_code, license_number=f"  {issued.license_number}\t")
    assert (report.verdict, report.license.license_id) == (PASSED, issued.license_id)
    answer = claim(running, type_code=issued.type_code, license_number=issued.license_number,
                   holder_code=f" {issued.holder.code}\t")  # fmt: skip
    assert answer.result == verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID
    with pytest.raises(grpc.RpcError) as caught:  # inside the code a tab is bad input, as in a number
        claim(running, type_code=issued.type_code, license_number=issued.license_number,
              holder_code=issued.holder.code[:6] + "\t" + issued.holder.code[6:])  # fmt: skip
    assert ("holder_code", "BAD_CHARACTERS") in error_details(caught.value)[1]
    wrong = issued.holder.code[:-1] + ("0" if issued.holder.code[-1] != "0" else "1")  # a mistyped check character
    with pytest.raises(grpc.RpcError) as caught:  # bad input, not "5 not found" on a signed receipt
        claim(running, type_code=issued.type_code, license_number=issued.license_number, holder_code=wrong)
    assert ("holder_code", "BAD_CHECK_CHARACTER") in error_details(caught.value)[1]


def test_a_holder_code_no_holder_of_the_type_has_is_bad_input_not_a_wrong_claim(running: RunningGateway) -> None:
    """A credit code with a character dropped, or a 公民身份号码, claimed of a 食品生产许可证 (held by organisations,
    by credit code): read as 其他 by its form, such a code had been compared with the holder's and answered 7 (partly
    wrong), counted toward the department's TOO_MANY_WRONG_CLAIMS (a standards tester). It is refused as the code
    the type's holders have, and nothing is counted."""
    issued = issue(running, 26).license
    base = {"type_code": issued.type_code, "license_number": issued.license_number}
    for code, reason in (
        (issued.holder.code[:-1], "BAD_USCC"),
        (issued.holder.code + "1", "BAD_USCC"),
        ("370102199304131038", "BAD_HOLDER_CODE_TYPE"),  # a right 公民身份号码: no check character said wrong
    ):
        with pytest.raises(grpc.RpcError) as caught:
            claim(running, **base, holder_code=code)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [("holder_code", reason)], code
    assert claims_key(issued.license_id) not in claims_command(running)[1]
    assert claim(running, **base, holder_code=issued.holder.code).code == 0
    other = issue(running, 27).license  # a well-formed code of another holder is still a wrong claim, counted
    assert claim(running, **base, holder_code=other.holder.code).code == 7
    assert claims_key(issued.license_id) in claims_command(running)[1]


@pytest.mark.parametrize("database_url", [backend_params()[0]], indirect=True)  # PostgreSQL hears on a thread
def test_a_change_by_another_process_while_a_license_is_read_is_heard_without_deadlock(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite another worker's change is heard by polling the shared counter, which calls the verification
    caches' listener; polled under the cache's own lock, the thread waited on itself for ever (the worker hung,
    still reporting healthy). The license read while the change happened is answered, and not kept."""
    license_id = batch_issue(running, 24)
    other_db = Database.connect(str(running.gateway.db.engine.url))
    other_worker = ChangeFeed(other_db)
    service = running.gateway.verification
    check = service._check_record
    checks: list[str] = []

    def check_while_another_worker_changes(license: Any) -> Any:
        checks.append(license.license_id)
        checked = check(license)
        other_worker.committed([f"license:{license.license_id}"])  # heard only when the result is to be kept
        return checked

    monkeypatch.setattr(service, "_check_record", check_while_another_worker_changes)
    service._forget(frozenset({f"license:{license_id}"}))
    answered: list[object] = []
    worker = threading.Thread(target=lambda: answered.append(service._checked_by_id(license_id)), daemon=True)
    worker.start()
    worker.join(10)
    other_worker.stop()
    other_db.dispose()
    assert checks == [license_id] and not worker.is_alive(), "the lookup deadlocked"
    assert answered and answered[0] is not None
    assert license_id not in service._checked  # read while a change happened: not kept


@pytest.mark.parametrize("database_url", [backend_params()[1]], indirect=True)  # SQLite has no connections to lose
def test_verifications_survive_postgresql_dropping_every_connection(running: RunningGateway) -> None:
    """A restarted server or a terminated backend breaks every kept connection: the thread's reading connection
    and the group writer's. What failed on them had not committed, so each is tried once more on a new connection:
    the clients see answers, not INTERNAL errors. Meanwhile another replica moved the audit trail on: the new
    connection meets a stale head, which is worth its own retry (it answered INTERNAL)."""
    licenses = [batch_issue(running, 30 + n) for n in range(12)]
    assert all(verify(running, license_id=license_id).verdict == PASSED for license_id in licenses[:6])
    url = running.gateway.db.engine.url
    replica = start_gateway(running.data_dir, url.render_as_string(hide_password=False))
    try:
        assert verify(replica, license_id=licenses[0]).verdict == PASSED  # the head this process knows is stale
    finally:
        replica.stop()
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert ended is not None and ended[0] > 0
    for license_id in licenses:  # half of them not cached yet: read again, on the threads' broken connections
        report = verify(running, license_id=license_id)
        assert (report.verdict, report.license.license_id) == (PASSED, license_id)
        assert (
            verifier(running)
            .GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=report.receipt.receipt_id))
            .receipt.statement
            == report.receipt.statement
        )


@pytest.mark.parametrize("rotation", ["renewed", "new key"])
@pytest.mark.parametrize("backend", backend_params())
def test_receipts_made_before_the_receipt_certificate_changed_still_check_out(
    backend: str, tmp_path: Path, rotation: str
) -> None:
    """The receipt certificate is renewed (same key) or made anew (new key): a receipt fetched again comes with the
    certificate that signed it, checks out offline, and is accepted when pinned to the published certificates; the
    audit checkpoints signed before still verify."""
    from tests.conftest import fresh_database

    with fresh_database(backend, tmp_path) as database_url:
        _rotate_and_fetch(tmp_path / "var", database_url, rotation)


def _rotate_and_fetch(data_dir: Path, database_url: str, rotation: str) -> None:
    from gateway.authorities import RECEIPT_CERT, RECEIPT_KEY

    first = start_gateway(data_dir, database_url)
    try:
        license_id = batch_issue(first, 41)
        old = verify(first, license_id=license_id).receipt
        assert first.gateway.verification is not None
        old_key = first.gateway.verification._receipt_key.key
        assert first.gateway.audit is not None
        first.gateway.audit._every = 1  # a checkpoint on every record from here on: signed with the first key
        verify(first, license_id=license_id)
        (data_dir / "seal-ca" / RECEIPT_CERT).unlink()
        if rotation == "new key":
            (data_dir / "keys" / f"{RECEIPT_KEY}.key.pem").unlink()
        second = start_gateway(data_dir, database_url)  # `zzgw init` makes the new certificate; the first runs on
        # with the old one, as a worker not yet restarted would after a renewal (a new key's procedure stops them
        # all first, and the first makes no receipt from here): the list it publishes has the new one too
        in_first = x509.load_pem_x509_certificates(published(first.gateway, "receipt-certificates.pem"))
        assert len(in_first) == 2 and in_first[0].public_bytes(serialization.Encoding.DER) == old.certificate
    finally:
        first.stop()
    try:
        new = verify(second, license_id=license_id).receipt
        assert in_first[1].public_bytes(serialization.Encoding.DER) == new.certificate
        assert new.certificate != old.certificate
        fetched = verifier(second).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=old.receipt_id)).receipt
        assert fetched.certificate == old.certificate  # the one that signed it, not the current one
        again = verifier(second).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=new.receipt_id)).receipt
        assert again.certificate == new.certificate

        every = x509.load_pem_x509_certificates(published(second.gateway, "receipt-certificates.pem"))
        by_der = [c.public_bytes(serialization.Encoding.DER) for c in every]
        assert by_der == [new.certificate, old.certificate]  # current first
        assert x509.load_pem_x509_certificate(published(second.gateway, "receipts.pem")) == every[0]
        seals = second.gateway.seals
        assert seals is not None
        trust = TrustMaterial(
            roots=[seals.ca.root], intermediates=[seals.ca.intermediate], crls=[seals.crl()], pinned=every
        )
        for receipt in (fetched, again):
            assert check_receipt_file(receipt, trust).result is CheckResult.PASSED
        only_current = TrustMaterial(roots=[seals.ca.root], intermediates=[seals.ca.intermediate], pinned=every[:1])
        assert check_receipt_file(fetched, only_current).reason == "NOT_THE_PINNED_CERTIFICATE"

        # the key before, kept in a backup, signs a receipt dated after the change: with a new key the old one's
        # certificate was retired (superseded) by the init that made it, so no checker takes such a receipt (a
        # receipts tester: it had checked valid for the rest of the certificate's five years); a renewal keeps the
        # key, and retires nothing
        retired = x509.load_der_x509_crl(seals.crl()).get_revoked_certificate_by_serial_number(every[1].serial_number)
        forged = _signed_later(old_key, old.certificate)
        unpinned = TrustMaterial(roots=[seals.ca.root], intermediates=[seals.ca.intermediate], crls=[seals.crl()])
        if rotation == "new key":
            assert retired is not None
            assert (
                retired.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.superseded
            )
            for material in (trust, unpinned):
                checked = check_receipt_file(forged, material)
                assert (checked.result, checked.reason) == (CheckResult.FAILED, "CERT_REVOKED")
                assert check_receipt_file(fetched, material).result is CheckResult.PASSED  # made before: good
        else:
            assert retired is None and check_receipt_file(forged, trust).result is CheckResult.PASSED

        assert second.gateway.audit is not None
        checked = second.gateway.audit.check()
        assert checked.ok and checked.checkpoints >= 1, checked
    finally:
        second.stop()


def _signed_later(key: KeyBackend, certificate: bytes) -> verification_pb2.Receipt:
    """A receipt of a license PASSED, dated two seconds from now (past the whole second a revocation made now is
    listed at), signed with ``key`` under ``certificate``: what whoever holds a receipt key can make, which no gateway
    made."""
    receipt_id = uuid.uuid4().hex
    issued_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    statement = canonical_json({"receipt_id": receipt_id, "issued_at": issued_at.isoformat(), "verdict": "PASSED"})
    (signed,) = sign_receipts(key, [statement])
    return verification_pb2.Receipt(
        receipt_id=receipt_id,
        statement=signed.statement,
        signature=signed.signature,
        proof=signed.proof,
        algorithm=signed.algorithm,
        certificate=certificate,
    )


def text_over_a_value(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    """What a PDF editor's "add text" writes: a free-text annotation whose appearance paints a white box over a
    printed value and other words in it."""
    box = (72, 590, 300, 640)
    appearance = writer.add_object(
        generic.StreamObject(
            generic.DictionaryObject(
                {
                    generic.NameObject("/Type"): generic.NameObject("/XObject"),
                    generic.NameObject("/Subtype"): generic.NameObject("/Form"),
                    generic.NameObject("/BBox"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (0, 0, box[2] - box[0], box[3] - box[1])]
                    ),
                }
            ),
            stream_data=b"q 1 1 1 rg 0 0 228 50 re f Q BT /Helv 11 Tf 0 0 0 rg 2 3 Td (370102199001011234) Tj ET",
        )
    )
    written = note(
        writer,
        page_ref,
        Subtype=generic.NameObject("/FreeText"),
        Rect=generic.ArrayObject([generic.NumberObject(v) for v in box]),
        AP=generic.DictionaryObject({generic.NameObject("/N"): appearance}),
    )
    attach(writer, page, written)


def with_validation_data(pdf: bytes, ca: SealMakerCA) -> bytes:
    """``pdf`` with a DSS of the seal maker's intermediate certificate and then a document timestamp, as a
    long-term-validation tool adds them."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    DocumentSecurityStore.supply_dss_in_writer(
        writer, None, certs=[asn1_x509.Certificate.load(ca.intermediate.public_bytes(serialization.Encoding.DER))]
    )
    with_dss = io.BytesIO()
    writer.write(with_dss)
    stamper = signers.PdfTimeStamper(make_tsa("LTV TSA Root").stamper)
    return stamper.timestamp_pdf(IncrementalPdfFileWriter(with_dss), "sha256").getvalue()


def test_anything_drawn_on_a_genuine_document_after_its_seal_is_tampering(running: RunningGateway) -> None:
    """A 结婚证 whose 身份证件号 was painted over after sealing with a PDF editor's "add text" (a free-text
    annotation with a white box and other digits) read INDETERMINATE / CHANGED_AFTER_SEAL with the clerk told to
    rely on a summary that shows no such field; so did a comment, and a second signature's box drawn over the page
    (a reviewer of the journeys, R1). Whatever is drawn on the page after the seal is FAILED / DOCUMENT_MODIFIED
    (签章已被篡改), naming it, and nothing the document names is looked at; validation data added after the seal
    (long-term validation) still passes."""
    assert running.gateway.seals is not None
    license_id = issue(running, 16).license.license_id
    pdf = document_of(running, license_id).pdf
    stub = verifier(running)
    for changed, named in (
        (edited(pdf, text_over_a_value), "page 1: FreeText"),
        (edited(pdf, comment), "page 1: Text"),
        (draw_over(pdf, "over-the-name"), "'over-the-name'"),
    ):
        response = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=changed))
        report = response.report
        assert (report.verdict, report.reason) == (FAILED, "DOCUMENT_MODIFIED"), named
        assert findings(report) == (
            (FAILED, "DOCUMENT_MODIFIED"),
            (INDETERMINATE, "NOT_CHECKED"),
            (INDETERMINATE, "NOT_CHECKED"),
        )
        assert named in report.integrity.detail and report.integrity.detail.startswith("签章完好，但文件在盖章后")
        assert not report.HasField("license") and not response.registered_document
        assert json.loads(report.receipt.statement)["findings"]["integrity"]["reason"] == "DOCUMENT_MODIFIED"
    kept = stub.VerifyDocument(
        verification_pb2.VerifyDocumentRequest(use=USE, pdf=with_validation_data(pdf, running.gateway.seals.ca))
    ).report
    assert (kept.verdict, kept.license.license_id) == (PASSED, license_id)
    invisible = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=sign_invisibly(pdf, "x")))
    assert (invisible.report.verdict, invisible.report.license.license_id) == (PASSED, license_id)


def drawing_nothing(flags: int, box: tuple[int, int, int, int] = (50, 550, 200, 650), subtype: str = "/Link") -> Edit:
    """An edit adding a ``subtype`` annotation over ``box`` with the annotation flags ``flags`` and no appearance."""

    def edit(
        writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
    ) -> None:
        extra = {"Subtype": generic.NameObject(subtype), "F": generic.NumberObject(flags)}
        rect = generic.ArrayObject([generic.NumberObject(v) for v in box])
        attach(writer, page, note(writer, page_ref, Rect=rect, **extra))

    return edit


def test_an_annotation_that_draws_nothing_passes_as_an_invisible_signature_does(running: RunningGateway) -> None:
    """A link of no area with the Hidden flag, added after the seal, made a genuine document FAILED / 签章已被篡改,
    while an invisible signature passed: every annotation counted as drawn (a reviewer, rfB R2). One a viewer does
    not show nor print (Hidden; NoView without Print), or of no area with no appearance, is passed over as a field's
    widget of no area is; a note's icon, drawn whatever its box, and one printed though not viewed still fail."""
    license_id = issue(running, 16).license.license_id
    pdf = document_of(running, license_id).pdf
    stub = verifier(running)
    hidden, no_view, printed = 1 << 1, 1 << 5, 1 << 2
    for edit in (
        drawing_nothing(hidden, (0, 0, 0, 0)),
        drawing_nothing(hidden, subtype="/Square"),
        drawing_nothing(no_view, subtype="/Square"),
        drawing_nothing(0, (300, 600, 300, 600), subtype="/Popup"),
    ):
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=edited(pdf, edit))).report
        assert (report.verdict, report.license.license_id) == (PASSED, license_id)
    for edit, named in (
        (drawing_nothing(no_view | printed, subtype="/Square"), "page 1: Square"),
        (drawing_nothing(0, (300, 600, 300, 600), subtype="/Text"), "page 1: Text"),
        (text_over_a_value, "page 1: FreeText"),
    ):
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=edited(pdf, edit))).report
        assert (report.verdict, report.reason) == (FAILED, "DOCUMENT_MODIFIED"), named
        assert named in report.integrity.detail and not report.HasField("license")


def test_a_refusal_by_printed_code_names_the_license_it_claims(running: RunningGateway) -> None:
    """A check by a license's ZZ1 code under another department's matter was recorded naming no license, so neither
    its holder nor its issuer saw a department probing licenses by their printed codes (found by a privacy tester);
    it names the license the code claims now, as one by identifier does. A code that does not read names none."""
    issued = issue(running, 46).license
    code, _ = qr_for(running, issued.license_id)
    marker = f"扫码-{uuid.uuid4().hex[:8]}"
    use = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose=marker)  # the 公安局's matter
    for qr_code in (code, "  " + code.lower() + "\r\n", "ZZ1:NOT-A-CODE"):  # as scanned with Caps Lock, and junk
        with pytest.raises(grpc.RpcError) as refused:
            verifier(running, TAX).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, qr_code=qr_code))
        assert error_details(refused.value)[0].reason == "NOT_MATTER_DEPARTMENT"
    rows = trail_rows(running, "decision, license_id, holder_code", "purpose = :p AND caller = :tax", p=marker, tax=TAX)
    named = ("DENIED", issued.license_id, issued.holder.code)
    assert sorted(rows) == sorted([named, named, ("DENIED", "", "")])


def test_a_purpose_or_case_number_holding_a_citizen_id_or_mobile_number_is_refused(running: RunningGateway) -> None:
    """A purpose and a case number are signed into receipts, which any member with a receipt's id may fetch: clerks
    typed the applicant into them (为张三（3701…）刻章, a case numbered by the applicant's 公民身份号码). In a purpose,
    a number typed with a slip in its check character or a 15-digit first-generation one is refused too; digits that
    do not begin with a region and a birth date, a shorter run, and a case number whose check character fails stay."""
    citizen = samples.citizen_id(77, dt.date(1985, 7, 14))
    full_width = citizen.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    spaced = f"{citizen[:6]} {citizen[6:14]} {citizen[14:]}"
    dotted = f"{citizen[:6]}.{citizen[6:14]}.{citizen[14:]}"
    no_ones = citizen[:17] + ("0" if citizen[17] != "0" else "1")  # its check character fails
    old = citizen[:6] + citizen[8:14] + citizen[14:17]  # as the first-generation card had it: 15 digits, YYMMDD
    invoices = "370100-FPSL-001"
    license_id = issue_for_invoices(running, 47).license.license_id
    stub = verifier(running, TAX)
    for use, field in (
        (verification_pb2.UseContext(matter_code=invoices, purpose=f"为申请人（{citizen}）领票"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="发票申领，联系电话13988776655"), "use.purpose"),
        # as a Chinese input method types it (full-width digits), with spaces, after +86 (found in review)
        (verification_pb2.UseContext(matter_code=invoices, purpose=f"为{full_width}领票"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose=f"为 {spaced} 领票"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="电话 +86 139-8877-6655"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="房号 1203 13812345678"), "use.purpose"),
        # split by dots, slashes, underscores, commas, brackets (a reviewer)
        (verification_pb2.UseContext(matter_code=invoices, purpose=f"为{dotted}领票"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="回访手机 138/0013/8000"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="回访手机 138_0013_8000"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="回访手机 138，0013，8000"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose="回访手机 (138)00138000"), "use.purpose"),
        # typed with a slip in the check character, or a first-generation 15-digit number (found by a security tester)
        (verification_pb2.UseContext(matter_code=invoices, purpose=f"为{no_ones}领票"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose=f"为{citizen[:17]}Y领票"), "use.purpose"),
        (verification_pb2.UseContext(matter_code=invoices, purpose=f"为{old}领票"), "use.purpose"),
        (
            verification_pb2.UseContext(
                matter_code=invoices, purpose="企业开办：发票申领", bundle_code="370100-YJS-QYKB", case_id=citizen
            ),
            "use.case_id",
        ),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (field, "PERSONAL_DATA") in error_details(caught.value)[1]
        said = caught.value.details() or ""
        # what not to write, why, and what to do (it had been 用证事由不得含公民身份号码：它签入核验回执，…，请改写)
        label = "办件编号" if field == "use.case_id" else "用证事由"
        assert (
            f"{label}中不能填写" in said
            and f"（{label}会写入核验回执，其他部门凭回执编号即可查看），请删除后重新填写（" in said
        )
    # digits that do not begin with a region and a birth date, a case number written into the purpose, and (in a case
    # number, which the 一件事 system assigns as region, date and sequence) 18 digits whose check character fails
    for purpose, case_id in (
        ("发票申领 票号123456789012345678", ""),
        ("发票申领 No.20261203001 电话0531-12345", ""),
        ("办件 370100-20261203-0001 的发票申领", ""),
        ("2026.12.06 发票申领，办件 370100/20261203/0001", ""),
        ("企业开办：发票申领", no_ones),
    ):
        kept = verification_pb2.UseContext(
            matter_code=invoices, purpose=purpose, bundle_code="370100-YJS-QYKB" if case_id else "", case_id=case_id
        )
        report = stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=kept, license_id=license_id)).report
        assert report.verdict == PASSED


def test_a_clerk_named_in_gbk_is_told_the_name_is_not_utf8(running: RunningGateway) -> None:
    """A legacy system sends its clerk's name in GBK under x-zzgw-operator-bin: still BAD_OPERATOR, but the words say
    the bytes are not UTF-8, not "printable, at most 64 characters", which a two-character name does not break (a
    partner-province tester, D7); first, before a number in it, as the encoding is what hides the rest."""
    lic = issue(running, 34).license
    request = verification_pb2.VerifyLicenseRequest(use=USE, license_id=lic.license_id)
    for name in ("陈静".encode("gbk"), "陈静 13812345678".encode("gbk"), b"\xff\xfe"):
        with pytest.raises(grpc.RpcError) as refused:
            verifier(running).VerifyLicense(request, metadata=[("x-zzgw-operator-bin", name)])
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert error_details(refused.value)[0].reason == "BAD_OPERATOR", name
        assert error_details(refused.value)[1] == [("x-zzgw-operator", "BAD_OPERATOR")], name
        said = refused.value.details() or ""
        assert "操作员标识不是有效的 UTF-8 文字" in said and "GBK" in said, said
        assert "可打印" not in said and "64" not in said, said
    assert trail_rows(running, "operator", "license_id = :l", l=lic.license_id) == []
    # the same name in UTF-8 is the clerk's
    verifier(running).VerifyLicense(request, metadata=[("x-zzgw-operator-bin", "陈静".encode())])
    assert trail_rows(running, "operator", "license_id = :l", l=lic.license_id) == [("陈静",)]


def test_a_clerk_named_by_a_citizen_id_or_a_mobile_number_is_refused_as_a_purpose_holding_one_is(
    running: RunningGateway,
) -> None:
    """The operator (x-zzgw-operator) is named in every access record, which the holder's portal shows the holder,
    each co-subject and the issuer: a clerk had typed a third person's 公民身份号码 and mobile number there and the
    call was answered, when the same text as the purpose was PERSONAL_DATA (a privacy auditor, D4). Refused
    BAD_OPERATOR, in any way the purpose's screening finds them, by every service, and nothing is recorded."""
    lic = issue(running, 33).license
    request = verification_pb2.VerifyLicenseRequest(use=USE, license_id=lic.license_id)
    for name in (
        "窗口 370102199204275720 林秀英",
        "３７０１０２１９９２０４２７５７２０",  # in full width
        "窗口 370102 19920427 5720",
        "林秀英 13812345678",
        "窗口 +86 138-1234-5678",
    ):
        for call in (
            lambda clerk: verifier(running).VerifyLicense(request, metadata=clerk),
            lambda clerk: running.issuance(MARKET).GetLicense(
                issuance_pb2.GetLicenseRequest(license_id=lic.license_id), metadata=clerk
            ),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                call([("x-zzgw-operator-bin", name.encode())])
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
            assert error_details(refused.value)[1] == [("x-zzgw-operator", "BAD_OPERATOR")], name
            assert "核验人（操作员标识）中不能填写" in (refused.value.details() or "")
    assert trail_rows(running, "operator", "license_id = :l", l=lic.license_id) == []
    verifier(running).VerifyLicense(request, metadata=[("x-zzgw-operator-bin", "窗口03 王敏 工号1024".encode())])
    assert trail_rows(running, "operator", "license_id = :l", l=lic.license_id) == [("窗口03 王敏 工号1024",)]
