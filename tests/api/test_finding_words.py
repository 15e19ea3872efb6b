"""Finding details as clerks read them, over real gRPC: every detail of a verification report (the integrity, status
and issuer identity findings that department systems show at the window and that receipts sign) is said Chinese
first, its English in full-width brackets, as the gateway's refusals are: ``中文（English）``.

Found by a black-box tester: details had been English, or English with a Chinese word in brackets (``the license is
suspended (暂停)``); ``NOT_YET_VALID`` had no Chinese at all, and a PDF whose signature was changed showed pyHanko's
own words (``Signing certificate attribute does not match … [AdESIndeterminate.NO_SIGNING_CERTIFICATE_FOUND]``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid

from pyhanko.pdf_utils.reader import PdfFileReader

from protos.zzgw.v1 import issuance_pb2, verification_pb2
from signing.keys import SoftwareKey
from signing.qr import QrClaims, encode_qr
from tests.api.test_documents import document_of
from tests.api.test_sharing import records_of
from tests.api.test_verification import (
    FAILED,
    INDETERMINATE,
    PASSED,
    USE,
    SameKeyIdOtherKey,
    amend,
    batch_issue,
    change,
    issue,
    printout,
    qr_for,
    receipt_statement,
    verifier,
    verify,
)
from tests.api.test_verification_superseded import FIRST, LATER, business_license
from tests.conftest import MARKET, POLICE, TAX, RunningGateway, case_number, today
from tests.signing.test_pdf import broken_signatures

_CJK = re.compile(r"[\u3400-\u9fff]")
_GLOSS = re.compile(r"\([\u3400-\u9fff]+\)")
"""A Chinese word glossed in ASCII brackets inside the English, as ``(暂停)`` had been."""


def said(detail: str) -> tuple[str, str]:
    """The Chinese and the English of a detail said ``中文（English）``; fails the test for any other shape."""
    chinese, bracket, english = detail.partition("（")
    assert bracket and detail.endswith("）"), detail
    assert _CJK.match(chinese), detail  # the first character is Chinese
    assert re.search("[A-Za-z]{3}", english), detail  # the English follows, in the brackets
    assert not _GLOSS.search(detail), detail  # the Chinese is said first, not glossed inside the English
    return chinese, english.removesuffix("）")


def words(report: verification_pb2.VerificationReport) -> dict[str, str]:
    """The report's details by finding, each checked to be said Chinese first (``said``) unless it passed (then
    empty); the receipt signs the same words."""
    found = {"integrity": report.integrity, "status": report.status, "issuer_identity": report.issuer_identity}
    for name, finding in found.items():
        if finding.result == PASSED:
            assert finding.detail == "", (name, finding)
        else:
            said(finding.detail)
    return {name: finding.detail for name, finding in found.items()}


def signed_words(running: RunningGateway, report: verification_pb2.VerificationReport) -> dict[str, str]:
    statement = receipt_statement(running, report.receipt)
    return {name: finding["detail"] for name, finding in statement["findings"].items()}


def test_every_state_of_a_license_is_said_chinese_first(running: RunningGateway) -> None:
    valid = batch_issue(running, 81)
    suspended, revoked, cancelled = batch_issue(running, 82), batch_issue(running, 83), batch_issue(running, 84)
    change(running, suspended, issuance_pb2.STATUS_ACTION_SUSPEND)
    change(running, revoked, issuance_pb2.STATUS_ACTION_REVOKE)
    change(running, cancelled, issuance_pb2.STATUS_ACTION_CANCEL)
    past, starts = today() - dt.timedelta(days=400), today() + dt.timedelta(days=3)
    expired = batch_issue(
        running, 85, issue_date=past.isoformat(), valid_until=(past + dt.timedelta(days=30)).isoformat()
    )
    later = batch_issue(running, 86, valid_from=starts.isoformat())
    superseded = issue(running, 87).license.license_id
    amend(running, superseded)

    report = verify(running, license_id=valid)
    assert report.verdict == PASSED and words(report) == {"integrity": "", "status": "", "issuer_identity": ""}
    expected = {
        suspended: ("SUSPENDED", "证照已暂停使用（the license is suspended）"),
        revoked: ("REVOKED", "证照已吊销或撤销（the license is revoked）"),
        cancelled: ("CANCELLED", "证照已注销（the license is cancelled）"),
        expired: ("EXPIRED", "证照已过期（the license is past its validity）"),
        later: (
            "NOT_YET_VALID",
            f"证照尚未生效，{starts.isoformat()} 起生效（the license is valid from {starts.isoformat()}）",
        ),
    }
    for license_id, (reason, detail) in expected.items():
        report = verify(running, license_id=license_id)
        assert (report.verdict, report.status.reason) == (FAILED, reason)
        assert words(report)["status"] == detail
        assert signed_words(running, report) == words(report)  # the receipt signs what the clerk is shown
    report = verify(running, license_id=superseded)
    assert report.status.reason == "SUPERSEDED"
    assert words(report)["status"].startswith("证照已变更，此版本不再现行；现行版本 ")
    assert said(report.status.detail)[1].startswith("a newer version replaced this one: ")

    unknown = verify(running, type_code=report.license.type_code, license_number="SC-NO-SUCH-NUMBER")
    assert (unknown.verdict, unknown.status.reason, unknown.integrity.reason) == (
        FAILED,
        "LICENSE_NOT_FOUND",
        "NOT_CHECKED",
    )
    assert words(unknown) == {
        "integrity": "没有可对照核验的证照（no license to check it against）",
        "status": "登记库中没有此证照（no such license in the registry）",
        "issuer_identity": "没有可对照核验的证照（no license to check it against）",
    }
    assert signed_words(running, unknown) == words(unknown)


def test_a_code_that_is_not_genuine_is_said_chinese_first(running: RunningGateway) -> None:
    code, content = qr_for(running, batch_issue(running, 88))
    seals = running.gateway.seals
    assert seals is not None
    claims = QrClaims.of(content, issued_at=dt.datetime.now(dt.UTC))
    position = len(code) - 2  # inside the zlib checksum
    codes = {
        "SIGNATURE_INVALID": encode_qr(SameKeyIdOtherKey(seals.record_key(content.issuer_code).key_id), claims),
        "UNKNOWN_SEAL_KEY": encode_qr(SoftwareKey.generate(), claims),
        "MALFORMED": code[:position] + ("A" if code[position] != "A" else "B") + code[position + 1 :],
        "NOT_ZZ1": "https://example.com/licence",
        "TOO_LARGE": "ZZ1:" + "A" * 5000,
    }
    unread = {"MALFORMED", "NOT_ZZ1", "TOO_LARGE"}
    for reason, forged in codes.items():
        report = verify(running, qr_code=forged)
        assert (report.verdict, report.integrity.reason, report.status.result) == (FAILED, reason, INDETERMINATE)
        said(report.integrity.detail)  # the code's own fault, in words: the forged signature's had been empty
        if reason in unread:
            continue  # below: a code that cannot be read is not said to be forged
        assert words(report)["status"] == (
            "核验码不是真实签发的，未核验它所指的任何内容"
            "（the code is not a genuine one: nothing it names was checked）"
        ), reason
        assert signed_words(running, report) == words(report)
    forged = verify(running, qr_code=codes["SIGNATURE_INVALID"])
    assert said(forged.integrity.detail)[0] == "核验码的签名无效：核验码不是该印章签发的，或已被改动"


def test_a_code_cut_short_is_said_to_be_scanned_again_not_forged(running: RunningGateway) -> None:
    """A journeys tester: a genuine code missing its last characters (a handheld scanner's slip), or a bare ``ZZ1:``,
    had its status and issuer findings say 核验码不是真实签发的 (not a genuine one), in the API and in ``zzgw verify``,
    while the console says in amber that it does not mean the license is forged. The integrity reason still tells
    it (``MALFORMED``, ``NOT_ZZ1``, ``TOO_LARGE``), and the words say to scan again."""
    code, _ = qr_for(running, batch_issue(running, 87))
    unreadable = {
        "cut short": (code[:-10], "MALFORMED"),
        "cut shorter": (code[:-12], "MALFORMED"),
        "bare prefix": ("ZZ1:", "MALFORMED"),
        "not a code": ("https://example.com/licence", "NOT_ZZ1"),
        "too long": ("ZZ1:" + "A" * 5000, "TOO_LARGE"),
    }
    for case, (text, reason) in unreadable.items():
        report = verify(running, qr_code=text)
        assert (report.verdict, report.reason, report.integrity.reason) == (FAILED, reason, reason), case
        assert not report.HasField("license"), case
        for name in ("status", "issuer_identity"):
            finding = getattr(report, name)
            assert (finding.result, finding.reason) == (INDETERMINATE, "NOT_CHECKED"), case
            chinese, english = said(finding.detail)
            assert "不是真实" not in chinese and "genuine" not in english, (case, finding.detail)
            assert "不说明证照是伪造的" in chinese and "请重新扫描" in chinese, (case, finding.detail)
            assert "scan it again" in english, (case, finding.detail)
        if reason == "MALFORMED":
            assert "请重新扫描" in said(report.integrity.detail)[0], case
        assert signed_words(running, report) == words(report), case


def _contents(pdf: bytes) -> tuple[int, int]:
    """Where the seal's /Contents hex digits are, without its brackets and the zeros that pad it."""
    found = re.search(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]", pdf)
    assert found is not None
    start, end = int(found.group(2)) + 1, int(found.group(3)) - 1
    return start, start + len(pdf[start:end].rstrip(b"0"))


def _one_digit_changed(pdf: bytes, at: int) -> bytes:
    digit = pdf[at : at + 1]
    return pdf[:at] + (b"1" if digit == b"0" else b"0") + pdf[at + 1 :]


def _certificate_changed(pdf: bytes) -> bytes:
    """The seal's certificate, carried in the signature, with the last byte of its own signature changed: still a
    certificate, no longer the one the signed attributes name (pyHanko raises, rather than judges)."""
    (embedded,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    der = embedded.signer_cert.dump()
    changed = der[:-1] + bytes([der[-1] ^ 0x01])
    for case in (str.upper, str.lower):
        if (original := case(der.hex()).encode()) in pdf:
            return pdf.replace(original, case(changed.hex()).encode())
    raise AssertionError("the certificate's hex is not in the signature")


def verify_document(running: RunningGateway, pdf: bytes) -> verification_pb2.VerificationReport:
    return verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report


def test_a_tampered_document_is_said_in_the_gateways_words(running: RunningGateway) -> None:
    pdf = document_of(running, issue(running, 89).license.license_id).pdf
    genuine = verify_document(running, pdf)
    assert genuine.verdict == PASSED and words(genuine) == {"integrity": "", "status": "", "issuer_identity": ""}

    report = verify_document(running, _certificate_changed(pdf))  # the tester's case: pyHanko's words, whole
    assert (report.verdict, report.integrity.reason) == (FAILED, "SIGNATURE_INVALID")
    chinese, english = said(report.integrity.detail)
    assert chinese == "签章签名无效：签名与签章证书不符，或签章在盖章后被改动"
    assert english.startswith("the signature does not verify: ")
    assert "AdESIndeterminate" not in report.integrity.detail and "Signing certificate" not in english
    assert words(report)["status"] == (
        "文件的签章未通过完整性核验，未查看它所指的证照（the document is not intact: the license it names was not "
        "looked at）"
    )
    assert signed_words(running, report) == words(report)

    # one hex digit of the signature changed, wherever: what it falls in fails, cannot be read, or (a certificate of
    # the chain, which the signature does not cover) leaves a document that is no longer the one registered
    start, end = _contents(pdf)
    for at in sorted({start + (end - start) * share // 8 for share in range(8)} | {end - 1}):
        report = verify_document(running, _one_digit_changed(pdf, at))
        assert report.verdict != PASSED, at - start
        assert not any("AdESIndeterminate" in detail for detail in words(report).values()), report

    for shape, broken in broken_signatures(pdf).items():  # no signature can be read from it
        report = verify_document(running, broken)
        assert report.integrity.reason == "SIGNATURE_INVALID", shape
        assert said(report.integrity.detail)[0] == "文件的签章无法读取，不能证明任何内容", shape
        words(report)

    unsealed = verify_document(running, printout(uuid.uuid4().hex, "FOOD PERMIT"))
    assert unsealed.integrity.reason == "NO_SIGNATURE"
    assert words(unsealed)["integrity"] == (
        "文件上没有印章或签名，无法证明其所示内容"
        "（the PDF carries no seal or signature: nothing vouches for what it shows）"
    )


def test_a_case_receipts_standing_now_is_said_chinese_first(running: RunningGateway) -> None:
    """A later department of a 一件事 reads the standing of the licenses the case's receipts name (接办免收)."""
    license_id = business_license(running, 90)
    first, later = verification_pb2.UseContext(), verification_pb2.UseContext()
    first.CopyFrom(FIRST)
    later.CopyFrom(LATER)
    first.case_id = later.case_id = case_number()
    request = verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id)
    assert verifier(running, POLICE).VerifyLicense(request).report.verdict == PASSED
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    (listed,) = verifier(running, TAX).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later)).receipts
    assert (listed.standing_now.result, listed.standing_now.reason) == (FAILED, "REVOKED")
    assert listed.standing_now.detail == "证照已吊销或撤销（the license is revoked）"


def test_the_holders_log_says_a_check_and_its_status_in_the_glossarys_words(running: RunningGateway) -> None:
    """The holder's 用证记录 says a check's verdict and the license's status as every other surface does: 核验通过 /
    核验未通过 / 无法确定, 证照已暂停使用 (it had said 不通过 and 证照受限，暂停使用, the console 已吊销 / 撤销 with a
    half-width slash; a reviewer)."""
    suspended, revoked, cancelled = batch_issue(running, 91), batch_issue(running, 92), batch_issue(running, 93)
    change(running, suspended, issuance_pb2.STATUS_ACTION_SUSPEND)
    change(running, revoked, issuance_pb2.STATUS_ACTION_REVOKE)
    change(running, cancelled, issuance_pb2.STATUS_ACTION_CANCEL)
    expected = {
        suspended: ("核验未通过", "证照已暂停使用"),
        revoked: ("核验未通过", "证照已吊销或撤销"),
        cancelled: ("核验未通过", "证照已注销"),
        batch_issue(running, 94): ("核验通过", ""),
    }
    for license_id, words_seen in expected.items():
        verify(running, license_id=license_id)
        holder = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=license_id))
        (record, *_) = [r for r in records_of(running, holder.license.holder.code) if r.action == "VERIFY_LICENSE"]
        assert (record.decision_words, record.reason_words) == words_seen, license_id
