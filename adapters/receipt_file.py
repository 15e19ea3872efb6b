"""A verification receipt (核验回执) as a file a department keeps or hands on: the protobuf JSON mapping of
``zzgw.v1.Receipt`` — ``receiptId``, ``statement``, ``signature``, ``proof`` (base64), ``algorithm``, and the
receipt key's ``certificate`` (DER, base64) — and its offline check against the gateway's published trust material
(docs/receipts.md; ``zzgw receipt get`` and ``zzgw receipt check``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from google.protobuf import json_format

from adapters.terminal import shown
from gateway.domain.audit import DECISION_WORDS, reason_words
from gateway.domain.model import LicenseStatus, beijing_time
from protos.zzgw.v1 import verification_pb2
from signing.receipts import (
    MAX_STATEMENT,
    RECEIPT_SEAL_NAME,
    UNREADABLE_CERTIFICATE,
    ReceiptCheck,
    check_receipt_offline,
    receipt_certificate,
)
from signing.results import CheckResult
from signing.seal_ca import is_ca, signed_by

MAX_RECEIPT_FILE = 4 * MAX_STATEMENT
"""Bytes: a statement, its proof and a certificate in base64 with room to spare; anything larger is not a receipt."""
REQUIRED = ("receipt_id", "statement", "signature", "algorithm", "certificate")
"""The fields without which a file is no receipt (refused, never judged); ``proof`` is empty in the first form."""


def receipt_json(receipt: verification_pb2.Receipt) -> str:
    """The receipt as its file: protobuf's JSON mapping, keys in the order of the message."""
    return json_format.MessageToJson(receipt, indent=2) + "\n"


def receipt_bytes(source: BinaryIO) -> bytes:
    """What ``read_receipt`` reads of a file or of standard input: at most one byte more than any receipt has, enough
    to refuse a larger one. Reading it whole first had taken 3 GB of memory for a 3 GB file, a MemoryError traceback
    under a memory limit, and never ended on /dev/zero or an endless standard input (a receipt-check reviewer)."""
    return source.read(MAX_RECEIPT_FILE + 1)


def read_receipt(data: bytes) -> verification_pb2.Receipt:
    """A receipt file read back; ValueError saying what is wrong with one that is not."""
    if len(data) > MAX_RECEIPT_FILE:  # only MAX_RECEIPT_FILE + 1 bytes are read of a file (``receipt_bytes``)
        raise ValueError(f"more than {MAX_RECEIPT_FILE} bytes: larger than any receipt")
    try:
        text = data.decode("utf-8")  # json.loads would take UTF-16 and UTF-32 too, protobuf's reading would not
    except UnicodeDecodeError as exc:
        raise ValueError(f"not JSON in UTF-8: {_clipped(str(exc))}") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {_clipped(str(exc))}") from None
    except RecursionError:  # arrays nested thousands deep: the decoder's recursion, not a defect of the checker
        raise ValueError("not a receipt: its JSON nests too deep") from None
    if not isinstance(raw, dict):
        raise ValueError(f"not a receipt: a JSON object is expected, not {type(raw).__name__}")
    try:  # a string with a lone surrogate escape ("\\ud800", valid JSON text) has no UTF-8, so is no receipt's
        json.dumps(raw, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ValueError(
            "not a receipt: it holds a lone surrogate escape such as \\ud800, which is no character"
        ) from None
    for field in verification_pb2.Receipt.DESCRIPTOR.fields:  # protobuf keeps whichever of the two comes last
        if field.name != field.json_name and field.name in raw and field.json_name in raw:
            raise ValueError(f"not a receipt: {field.json_name} is given twice, also as {field.name}")
    # said here in the receipt's own words: protobuf's name the message type, list its fields and quote Python's
    # own errors ("unsupported operand type(s) for +: 'dict' and 'bytes'")
    names = {f.name for f in verification_pb2.Receipt.DESCRIPTOR.fields}
    names |= {f.json_name for f in verification_pb2.Receipt.DESCRIPTOR.fields}
    for key, value in raw.items():
        if key not in names:
            raise ValueError(
                f"not a receipt in protobuf JSON: it has a field no receipt has ({shown(_clipped(key, 64))})"
            )
        if value is None and key == "proof":  # the first form, as an empty or missing proof (protobuf reads null so)
            continue
        if not isinstance(value, str):  # every field of a receipt is text or base64
            raise ValueError(f"not a receipt in protobuf JSON: its {key} is not a string")
    try:
        receipt = json_format.Parse(text, verification_pb2.Receipt())
    except json_format.ParseError:
        raise ValueError("not a receipt in protobuf JSON: its fields cannot be read as a receipt's") from None
    # protobuf's own reading lets a value that is no base64 through as empty or garbage
    for name in ("statement", "signature", "proof", "certificate"):
        value = raw.get(name)
        if isinstance(value, str) and not _BASE64.fullmatch(value):
            raise ValueError(f"the receipt's {name} is not base64")
    _require_fields(receipt)
    return receipt


def _require_fields(receipt: verification_pb2.Receipt) -> None:
    missing = [name for name in REQUIRED if not getattr(receipt, name)]
    if missing:
        raise ValueError(f"the receipt has no {', '.join(missing)}")


def _clipped(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")
"""The characters of base64 in either alphabet, padding optional, as the protobuf JSON mapping reads bytes."""


@dataclass(frozen=True, slots=True)
class TrustMaterial:
    """What the gateway publishes for offline checks (``/certificates/…``, ``/crl/seal-maker.crl``)."""

    roots: Sequence[x509.Certificate]
    intermediates: Sequence[x509.Certificate] = ()
    crls: Sequence[bytes] = ()
    pinned: Sequence[x509.Certificate] = ()
    """The gateway's receipt certificates themselves (``receipt-certificates.pem``: the current one and those it had
    before), to accept no other."""

    @classmethod
    def read(
        cls,
        roots: Sequence[Path],
        intermediates: Sequence[Path] = (),
        crls: Sequence[Path] = (),
        pinned: Sequence[Path] = (),
    ) -> TrustMaterial:
        """From the files the gateway serves, each option's every file (``--certificate`` given twice had pinned its
        last file alone, and a genuine receipt of the first read NOT_THE_PINNED_CERTIFICATE: a receipt-check
        reviewer): certificates PEM, CRLs DER or PEM (several to a PEM file allowed);
        OSError for a file that cannot be read, ValueError for one that is not what it should be."""
        return cls(
            roots=[_authority(path, c) for path in roots for c in _certificates(path)],
            intermediates=[c for path in intermediates for c in _certificates(path)],
            crls=[crl for path in crls for crl in _crls_der(path)],
            pinned=[_receipt_certificate(path, c) for path in pinned for c in _certificates(path)],
        )


def _certificates(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{path}: not PEM certificates ({exc})") from None


def _authority(path: Path, certificate: x509.Certificate) -> x509.Certificate:
    """A root to trust must be a CA's own, self-signed: trusting the receipt certificate itself as a root would skip
    its revocation check (nothing above it publishes a CRL), and the answer would pass where it should be undecided;
    trusting the intermediate as a root leaves its CRL with no chain of trust, so every receipt would be undecided
    (CRL_MISSING) for want of a CRL that was given."""
    subject = certificate.subject.rfc4514_string()
    if not is_ca(certificate):
        raise ValueError(
            f"{path}: {subject} is not a CA certificate; the root to trust is the "
            "seal-maker CA's (/certificates/seal-maker-root.pem), a receipt certificate is pinned with --certificate"
        )
    if certificate.issuer != certificate.subject:
        raise ValueError(
            f"{path}: {subject} is not a root: it is a CA certificate issued by {certificate.issuer.rfc4514_string()}. "
            "The root to trust is self-signed, the seal-maker CA's root (/certificates/seal-maker-root.pem); an "
            "intermediate is given with --intermediate"
        )
    if not signed_by(certificate, certificate):
        raise ValueError(
            f"{path}: {subject} names itself as its issuer, but its signature does not verify with its own key: it "
            "is not a root. The root to trust is the seal-maker CA's (/certificates/seal-maker-root.pem)"
        )
    return certificate


def _receipt_certificate(path: Path, certificate: x509.Certificate) -> x509.Certificate:
    """A pinned certificate must be a receipt certificate: pinning a CA's would fail every receipt, genuine or not
    (NOT_THE_PINNED_CERTIFICATE)."""
    if is_ca(certificate):
        raise ValueError(
            f"{path}: {certificate.subject.rfc4514_string()} is a CA certificate, not a receipt certificate; "
            "--certificate takes the gateway's receipt certificates (/certificates/receipt-certificates.pem), the CA's "
            "root is given with --root and its intermediate with --intermediate"
        )
    return certificate


def _crls_der(path: Path) -> list[bytes]:
    """The CRLs of a file: DER, one; PEM, every ``X509 CRL`` block of it. A PEM file of several (CRLs ``cat``-ed
    into one) had been read for its first only, so a revocation the others listed read undecided, CRL_MISSING (a
    receipt-check reviewer). A file with a block that does not read is no CRL file, not one read in part."""
    data = path.read_bytes()
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            blocks = _PEM_CRL.findall(data)
            if not blocks:
                raise ValueError("no -----BEGIN X509 CRL----- block")
            return [x509.load_pem_x509_crl(block).public_bytes(Encoding.DER) for block in blocks]
        x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ValueError(f"{path}: not a CRL ({exc})") from None
    return [data]


_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.*?-----END X509 CRL-----", re.DOTALL)


def check_receipt_file(receipt: verification_pb2.Receipt, trust: TrustMaterial) -> ReceiptCheck:
    """The receipt judged (docs/receipts.md, "Checking a receipt"); ValueError for one without a field it needs
    (``REQUIRED``), which is no receipt to judge, as ``read_receipt`` says."""
    _require_fields(receipt)
    if (certificate := receipt_certificate(receipt.certificate)) is None:
        return UNREADABLE_CERTIFICATE
    checked = check_receipt_offline(
        receipt.receipt_id,
        receipt.statement,
        receipt.signature,
        certificate=certificate,
        algorithm=receipt.algorithm,
        proof=receipt.proof,
        trust_roots=trust.roots,
        intermediates=trust.intermediates,
        crls=trust.crls,
        pinned=trust.pinned,
    )
    given = [*trust.roots, *trust.intermediates]
    self_issued = certificate.issuer == certificate.subject  # no certificate given could complete its chain
    if checked.reason == "UNTRUSTED_ROOT" and not self_issued and all(c.subject != certificate.issuer for c in given):
        seal = checked.signer.seal_name if checked.signer is not None else None
        if seal != RECEIPT_SEAL_NAME:  # no complete chain could make another seal's receipt valid
            return dataclasses.replace(
                checked,
                reason="NOT_A_RECEIPT_SEAL",
                detail=f"签署回执的印章是“{seal}”，不是{RECEIPT_SEAL_NAME}（signed by the seal {seal!r}, not a "
                f"{RECEIPT_SEAL_NAME}）",
            )
        # no path for want of the certificate between the receipt's and the root: undecided, not forged
        issuer = certificate.issuer.rfc4514_string()
        if trust.intermediates:  # most likely another gateway's receipt: its certificates decide
            missing = (
                "所给中间证书都不是它的签发者，可能是另一网关的回执：请用该网关的 /certificates/seal-maker-root.pem 和 "
                "seal-maker-intermediate.pem 核对（the receipt certificate was issued by {issuer}, which is none of "
                "the intermediates given: it may be another gateway's receipt; check it with that gateway's "
                "/certificates/seal-maker-root.pem and seal-maker-intermediate.pem）"
            )
        else:
            missing = (
                "缺少中间证书：请用 --intermediate 加上网关的 /certificates/seal-maker-intermediate.pem（the receipt "
                "certificate was issued by {issuer}, which is none of the certificates given: add the gateway's "
                "/certificates/seal-maker-intermediate.pem with --intermediate）"
            )
        return dataclasses.replace(
            checked,
            result=CheckResult.INDETERMINATE,
            reason="CHAIN_INCOMPLETE",
            detail=missing.format(issuer=issuer),
        )
    if checked.reason == "CRL_MISSING" and not trust.crls:
        return dataclasses.replace(
            checked,
            detail=f"{checked.detail}；未给吊销列表：请用 --crl 加上网关的 /crl/seal-maker.crl"
            "（no CRL given: add the gateway's /crl/seal-maker.crl with --crl）",
        )
    return checked


def trusted_root(receipt: verification_pb2.Receipt, trust: TrustMaterial) -> x509.Certificate | None:
    """The root of ``trust`` the receipt's certificate chains to (directly, or through one of its intermediates),
    by name and signature; None when none does. Whoever trusts a root decides what checks valid: a root of a CA of
    one's own, named as the seal maker's, makes a forged receipt read exactly as a genuine one (a receipts tester),
    so the check names the root it relied on by its fingerprint, to compare with the one the gateway's operator gave
    out of band."""
    certificate = receipt_certificate(receipt.certificate)
    if certificate is None:
        return None
    issuers = [certificate] + [
        i for i in trust.intermediates if i.subject == certificate.issuer and signed_by(certificate, i)
    ]
    for issued in issuers:
        for root in trust.roots:
            if root.subject == issued.issuer and signed_by(issued, root):
                return root
    return None


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER in the form ``openssl x509 -noout -fingerprint -sha256`` prints: AB:CD:…"""
    return ":".join(f"{b:02X}" for b in certificate.fingerprint(hashes.SHA256()))


def _root_said(root: x509.Certificate) -> str:
    names = root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(names[0].value) if names else root.subject.rfc4514_string()
    return (
        f"{name}，SHA-256 {fingerprint(root)}（须与证照网关运维方另行告知的指纹一致；must be the fingerprint the "
        "gateway's operator gave you by another channel）"
    )


NOW_UNKNOWN = (
    "回执只证明当时的核验结果，不说明证照现在仍然有效；证照现在的状态请在证照网关核验台“查验回执”查看，或由 "
    "ListCaseReceipts（standing_now）、重新核验（VerifyLicense）得知（the receipt states what the check found then, "
    "not that the license is valid now: learn its standing now from the gateway's console, ListCaseReceipts' "
    "standing_now, or a new VerifyLicense）"
)
"""Said after what a receipt that holds says: a license revoked since had read 回执有效 … 当时状态：有效 with no hint
that it may no longer be (a receipts tester)."""


_LABELS = {
    CheckResult.PASSED: "回执有效 valid",
    CheckResult.FAILED: "回执无效 INVALID",
    CheckResult.INDETERMINATE: "无法确认 INDETERMINATE",
}
"""A receipt check's result in the words the console's review says it, its code after."""
_VERDICTS = {"PASSED": "核验通过", "FAILED": "核验未通过", "INDETERMINATE": "无法确定"}
"""A verification's verdict as ``zzgw verify`` and the console say it."""


def check_text(receipt: verification_pb2.Receipt, checked: ReceiptCheck, root: x509.Certificate | None = None) -> str:
    """The check as a clerk reads it: the result, then what the receipt says — unless it failed, when what it
    says is not to be relied on — with the root it was trusted under (``trusted_root``), and that it says what was
    found then (``NOW_UNKNOWN``). Each line Chinese first, as ``zzgw verify`` and the console say it: the verdict and
    the status in words, not only their codes. What the file says is ``shown``: its control characters as escapes.
    The check reads no catalog and no member list (it runs without a gateway): the license type, the department and
    the matter are said by their codes, as the statement states them."""
    head = f"回执 receipt {shown(receipt.receipt_id)}：{_LABELS[checked.result]}"
    if checked.reason:
        head += f"（{checked.reason}）：{shown(checked.detail)}"
    if checked.result is CheckResult.FAILED:
        return head + "\n  回执内容不可采信（what it says is not to be relied on）"
    said = dict(checked.statement or {})
    if said.get("kind") == "claim":
        result = _plain(said.get("result", ""))
        fields = said.get("mismatched_fields") or ()
        differ = "、".join(_plain(key) for key in fields) if isinstance(fields, list | tuple) else _plain(fields)
        rows = [
            (
                "信息比对 claim",
                _with_words(DECISION_WORDS.get(result, ""), result)
                + f"（结果代码 code {_plain(said.get('code', ''))}）"
                + (f"，不一致的信息项 differ：{differ}" if differ else ""),
            )
        ]
    else:
        license = said.get("license") or {}
        verdict, reason = _plain(said.get("verdict", "")), _plain(said.get("reason") or "")
        rows = [
            (
                "核验结论 verdict",
                _with_words(_VERDICTS.get(verdict, ""), verdict)
                + (f"（{_with_words(reason_words(reason), reason)}）" if reason else ""),
            ),
            (
                "证照 license",
                (_license_said(license) if isinstance(license, dict) else _plain(license))
                if license
                else "未找到该证照 not found",
            ),
        ]
    rows += [
        ("核验部门 caller", _plain(said.get("caller", ""))),
        ("事项编码 matter", _plain(said.get("matter_code", ""))),
        ("用证事由 purpose", _plain(said.get("purpose", ""))),
        ("核验时间 checked at", _said_time(said.get("issued_at", ""))),
    ]
    if said.get("case_id"):
        rows.append(("一件事 case", f"{_plain(said.get('bundle_code', ''))}，办件编号 {_plain(said['case_id'])}"))
    if checked.signer is not None:
        signer = checked.signer
        sealed = f"{signer.subject_name} {signer.seal_name}（序列号 serial {signer.serial:x}）"
        rows.append(("回执章 sealed by", sealed))
    if root is not None:
        rows.append(("信任的根证书 trusted root", _root_said(root)))
    rows.append(("提示 note", NOW_UNKNOWN))
    return "\n".join([head, *(f"  {label}：{shown(str(value))}" for label, value in rows)])


def _with_words(words: str, code: str) -> str:
    """A code after its words (``核验未通过 FAILED``), or the code alone when it has none."""
    return f"{words} {code}" if words else code


ALTERED = "无法确认：记录被绕过网关改动（unknown: the record was changed behind the gateway's back）"
"""What a check says of a license's status or dates that it does not state: the stored record was changed behind
the gateway's back (``STATUS_ALTERED``, ``RECORD_ALTERED``), so what it holds is not said as the license's."""


def _license_said(license: dict[str, Any]) -> str:
    """The license a verification's statement names: its identifier, its type's code, and its status then in words
    (``当时状态：已吊销或撤销 REVOKED，2026-12-05 起``), or ``ALTERED`` when the statement states none."""
    status = _plain(license.get("status", ""))
    if status:
        since = f"，{_plain(license['status_since'])} 起" if license.get("status_since") else ""
        then = _with_words(LicenseStatus.read(status).label, status) + since
    else:
        then = ALTERED  # an altered record's status is not stated (receipts.md): it had printed 当时状态：）
    number, type_code = _plain(license.get("license_id", "")), _plain(license.get("type_code", ""))
    return f"{number}（证照类型代码 {type_code}；当时状态：{then}）"


def _plain(value: object) -> str:
    """A statement's value as text: a string as it is, anything else (a number, a list, an object: not what the
    gateway writes there, as anyone's own CA makes an undecided receipt of any statement) as its JSON. A license that
    was a list, or ``mismatched_fields`` a number, had made a traceback (a receipts reviewer, R3)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _said_time(value: object) -> str:
    """A statement's time (ISO 8601 in UTC) as ``zzgw verify`` prints its check's: Beijing time, said so; anything else
    as it is written."""
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return beijing_time(at) if at.tzinfo is not None else str(value)


def check_json(
    receipt: verification_pb2.Receipt, checked: ReceiptCheck, root: x509.Certificate | None = None
) -> dict[str, Any]:
    """The check as one JSON object for programs (the statement even when the check failed: ``result`` says), with
    the root the receipt's certificate chains to (``trusted_root``) by its SHA-256 fingerprint."""
    signer = checked.signer
    return {
        "receipt_id": receipt.receipt_id,
        "result": checked.result.value,
        "reason": checked.reason or "",
        "detail": checked.detail,
        "statement": dict(checked.statement) if checked.statement is not None else None,
        "signer": {
            "organisation": signer.subject_name,
            "seal": signer.seal_name,
            "uscc": signer.uscc,
            "serial": f"{signer.serial:x}",
        }
        if signer
        else None,
        "root": {"subject": root.subject.rfc4514_string(), "sha256": fingerprint(root)} if root is not None else None,
    }
