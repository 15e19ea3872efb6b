"""The receipt test vectors (tests/vectors/receipts.json, docs/receipts.md): the offline check gives each case its
expected result, and the format's formulas, re-derived here with plain hashlib and cryptography, give the bytes the
gateway signed."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.receipt_file import (
    MAX_RECEIPT_FILE,
    TrustMaterial,
    check_json,
    check_receipt_file,
    check_text,
    read_receipt,
    receipt_json,
)
from protos.zzgw.v1 import verification_pb2
from signing.canonical import canonical_json
from signing.errors import InvalidSignature
from signing.keys import SM2_SM3, SoftwareKey
from signing.receipts import RECEIPT_SEAL_NAME, ReceiptCheck, check_receipt, check_receipt_offline, sign_receipts
from signing.results import CheckResult
from signing.seal_ca import SealMakerCA
from tests.signing.test_seal_ca import self_signed

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "receipts.json").read_text(encoding="utf-8")
)
TRUST = VECTORS["trust"]
ROOT = x509.load_pem_x509_certificate(TRUST["seal_maker_root_pem"].encode())
INTERMEDIATE = x509.load_pem_x509_certificate(TRUST["seal_maker_intermediate_pem"].encode())
CRL = base64.b64decode(TRUST["crl_der_base64"])
RECEIPTS_CERT = x509.load_pem_x509_certificate(TRUST["receipts_pem"].encode())
FULL = TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE], crls=[CRL])
PINNED = TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE], crls=[CRL], pinned=[RECEIPTS_CERT])
CASES = {case["name"]: case for case in VECTORS["cases"]}
REFUSED = {refused["name"]: refused for refused in VECTORS["refused"]}
VALID = "batch receipt 0 of 3"


def _read(case: dict[str, Any]) -> Any:
    return read_receipt(json.dumps(case["receipt"]).encode())


@pytest.mark.parametrize("name", list(CASES))
def test_each_vector_checks_as_expected(name: str) -> None:
    """With the root, the intermediate and the CRL (``expect``), and with the receipt certificate pinned too
    (``expect_pinned``), as the vectors' ``check`` and docs/receipts.md say."""
    case = CASES[name]
    checked = check_receipt_file(_read(case), FULL)
    assert (checked.result.value, checked.reason or "") == (case["expect"]["result"], case["expect"]["reason"])
    pinned = check_receipt_file(_read(case), PINNED)
    expected = case["expect_pinned"]
    assert (pinned.result.value, pinned.reason or "") == (expected["result"], expected["reason"])


def test_the_vectors_cover_the_ways_a_receipt_fails() -> None:
    reasons = {case["expect"]["reason"] for case in CASES.values()}
    assert reasons == {
        "",
        "SIGNATURE_INVALID",
        "RECEIPT_ID_MISMATCH",
        "NOT_A_RECEIPT_SEAL",
        "CERT_REVOKED",
        "ISSUED_AT_MISSING",
        "CERTIFICATE_UNREADABLE",
    }
    assert sum(case["expect"]["result"] == "PASSED" for case in CASES.values()) == 6  # first form: proof none, "", null
    assert {case["expect_pinned"]["reason"] for case in CASES.values()} - reasons == {"NOT_THE_PINNED_CERTIFICATE"}
    assert {name.split()[0] for name in REFUSED} >= {"no", "empty", "null", "signature", "a", "not"}


@pytest.mark.parametrize("name", list(REFUSED))
def test_each_file_that_is_no_receipt_is_refused_not_judged(name: str) -> None:
    with pytest.raises(ValueError):
        read_receipt(REFUSED[name]["file"].encode())


def test_a_receipt_without_a_field_it_needs_is_not_judged_by_the_library_either() -> None:
    """``check_receipt_file`` refuses what ``read_receipt`` does: an empty certificate is no CERTIFICATE_UNREADABLE."""
    for name in ("receipt_id", "statement", "signature", "algorithm", "certificate"):
        receipt = _read(CASES[VALID])
        receipt.ClearField(name)
        with pytest.raises(ValueError, match=f"the receipt has no {name}$"):
            check_receipt_file(receipt, FULL)
    receipt = _read(CASES[VALID])
    receipt.ClearField("proof")  # the first form: judged (the batch signature is not over the statement alone)
    assert check_receipt_file(receipt, FULL).reason == "SIGNATURE_INVALID"


def test_the_formulas_of_the_format_give_the_signed_bytes() -> None:
    """As a third party would implement docs/receipts.md: leaf = SHA-256(0x00 ‖ "zzgw-receipt/2\\n" ‖ statement),
    node = SHA-256(0x01 ‖ left ‖ right), signed = "zzgw-receipt-batch/2\\n" ‖ size (8 bytes) ‖ root."""
    batch = VECTORS["batch"]
    statements = [base64.b64decode(s) for s in batch["statements_base64"]]
    leaves = [hashlib.sha256(b"\x00zzgw-receipt/2\n" + s).digest() for s in statements]
    assert [leaf.hex() for leaf in leaves] == batch["leaf_hashes_hex"]

    def node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()

    root = node(node(leaves[0], leaves[1]), leaves[2])  # RFC 9162: the left subtree is the largest power of two
    signed = b"zzgw-receipt-batch/2\n" + (3).to_bytes(8, "big") + root
    assert signed.hex() == batch["signed_bytes_hex"]
    public_key = RECEIPTS_CERT.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(base64.b64decode(batch["signature_base64"]), signed, ec.ECDSA(hashes.SHA256()))

    # the first receipt's proof: index 0 and size 3 (4 bytes each, big-endian), then the path leaf 1, node(2)
    proof = base64.b64decode(CASES[VALID]["receipt"]["proof"])
    assert proof == (0).to_bytes(4, "big") + (3).to_bytes(4, "big") + leaves[1] + leaves[2]


def test_without_a_crl_revocation_is_unknown_and_said_so() -> None:
    checked = check_receipt_file(_read(CASES[VALID]), TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE]))
    assert (checked.result, checked.reason) == (CheckResult.INDETERMINATE, "CRL_MISSING")
    assert checked.statement is not None and checked.statement["verdict"] == "PASSED"  # the signature did verify


def test_another_seal_is_refused_even_when_revocation_cannot_be_checked() -> None:
    no_crl = TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE])
    checked = check_receipt_file(_read(CASES["signed by another seal of the same CA"]), no_crl)
    assert (checked.result, checked.reason) == (CheckResult.FAILED, "NOT_A_RECEIPT_SEAL")


def test_another_seal_is_refused_even_when_the_intermediate_is_left_out() -> None:
    """Undecided (CHAIN_INCOMPLETE) would be wrong: no intermediate could make another seal's receipt valid."""
    no_intermediate = TrustMaterial(roots=[ROOT], crls=[CRL])
    checked = check_receipt_file(_read(CASES["signed by another seal of the same CA"]), no_intermediate)
    assert (checked.result, checked.reason) == (CheckResult.FAILED, "NOT_A_RECEIPT_SEAL")
    assert (
        checked.detail.startswith("签署回执的印章是“电子证照专用章”，不是核验回执专用章（")
        and checked.signer is not None
    )


def test_a_pinned_receipt_certificate_is_the_only_one_accepted() -> None:
    pinned = TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE], crls=[CRL], pinned=[RECEIPTS_CERT])
    assert check_receipt_file(_read(CASES[VALID]), pinned).result is CheckResult.PASSED
    other = check_receipt_file(_read(CASES["signed by another seal of the same CA"]), pinned)
    assert (other.result, other.reason) == (CheckResult.FAILED, "NOT_THE_PINNED_CERTIFICATE")


def test_a_receipt_under_another_root_is_not_trusted() -> None:
    stranger = SealMakerCA.create("济南市制章中心（测试）", dt.datetime.now(dt.UTC))  # same name, another key
    trust = TrustMaterial(roots=[stranger.root], intermediates=[INTERMEDIATE], crls=[CRL])
    checked = check_receipt_file(_read(CASES[VALID]), trust)
    assert checked.result is CheckResult.FAILED and checked.reason in ("UNTRUSTED_ROOT", "LOOKALIKE_CA")
    # without the intermediate no path can be tried at all: undecided (never valid), saying what is missing
    checked = check_receipt_file(_read(CASES[VALID]), TrustMaterial(roots=[stranger.root], crls=[CRL]))
    assert (checked.result, checked.reason) == (CheckResult.INDETERMINATE, "CHAIN_INCOMPLETE")
    checked = check_receipt_file(_read(CASES[VALID]), TrustMaterial(roots=[ROOT], crls=[CRL]))
    assert (checked.result, checked.reason) == (CheckResult.INDETERMINATE, "CHAIN_INCOMPLETE")
    assert "--intermediate" in checked.detail


CHINA = dt.timezone(dt.timedelta(hours=8))


def test_a_statement_without_its_time_of_issue_fails() -> None:
    """``issued_at`` is RFC 3339's date-time, as the gateway writes it (docs/receipts.md); what Python's own reading
    would also take (a space for the T, ISO 8601's basic form, no seconds) is no time of issue to a checker."""
    now, key = dt.datetime.now(dt.UTC), SoftwareKey.generate()
    ca, cert = _receipt_certificate(key)

    def check(issued_at: str | None) -> ReceiptCheck:
        statement = canonical_json({"receipt_id": "R1", **({"issued_at": issued_at} if issued_at else {})})
        (signed,) = sign_receipts(key, [statement])
        return check_receipt_offline(
            "R1",
            signed.statement,
            signed.signature,
            certificate=cert,
            algorithm=signed.algorithm,
            proof=signed.proof,
            trust_roots=[ca.root],
            intermediates=[ca.intermediate],
            crls=[ca.crl(now, now + dt.timedelta(days=1))],
        )

    for issued_at in (
        None,  # missing
        "yesterday",
        "2026-12-01T10:00:00",  # no zone
        "2026-12-01 10:00:00+00:00",
        "20261201T100000+0000",
        "2026-12-01T10:00+00:00",
        "2026-12-01t10:00:00z",
        "2026-02-30T10:00:00Z",  # the form, no such day
        "2026-12-01T10:00:00.1234567+00:00",
    ):
        checked = check(issued_at)
        assert (checked.result, checked.reason) == (CheckResult.FAILED, "ISSUED_AT_MISSING"), issued_at
    for issued_at in (now.strftime("%Y-%m-%dT%H:%M:%SZ"), now.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M:%S.1+08:00")):
        checked = check(issued_at)
        assert checked.result is CheckResult.PASSED, (issued_at, checked)


def test_a_receipt_file_round_trips_and_bad_files_are_refused_with_a_reason() -> None:
    receipt = _read(CASES[VALID])
    assert read_receipt(receipt_json(receipt).encode()) == receipt
    assert json.loads(receipt_json(receipt))["receiptId"] == receipt.receipt_id  # the protobuf JSON mapping
    for data, message in [
        (b"not json", "not JSON"),
        (b'{"receiptId": "R1", "colour": "red"}', "not a receipt in protobuf JSON"),
        (b'{"receiptId": "R1"}', "the receipt has no statement, signature, algorithm, certificate"),
        (b" " * (MAX_RECEIPT_FILE + 1), "larger than any receipt"),
        (receipt_json(receipt).replace('"statement": "', '"statement": "!!').encode(), "statement is not base64"),
    ]:
        with pytest.raises(ValueError, match=message):
            read_receipt(data)


def test_what_a_clerk_reads_of_a_receipt() -> None:
    receipt = _read(CASES[VALID])
    checked = check_receipt_file(receipt, FULL)
    text = check_text(receipt, checked)
    assert text.splitlines()[0] == f"回执 receipt {receipt.receipt_id}：回执有效 valid"
    assert "  核验结论 verdict：核验通过 PASSED" in text and "  用证事由 purpose：企业开办：发票申领" in text
    assert f"核验回执专用章（序列号 serial {RECEIPTS_CERT.serial_number:x}）" in text
    assert check_json(receipt, checked)["signer"]["seal"] == RECEIPT_SEAL_NAME

    revoked_case = CASES["receipt certificate revoked before the receipt was issued"]
    failed = check_receipt_file(_read(revoked_case), FULL)
    lines = check_text(_read(revoked_case), failed).splitlines()
    assert lines[0].endswith(f"回执无效 INVALID（CERT_REVOKED）：{failed.detail}")
    assert len(lines) == 2  # nothing of its claims
    assert check_json(_read(revoked_case), failed)["statement"]["verdict"] == "PASSED"  # programs get it, and result

    claim = ReceiptCheck(
        result=CheckResult.INDETERMINATE,
        reason="CRL_MISSING",
        detail="no CRL",
        statement={
            "kind": "claim",
            "result": "PARTLY_WRONG",
            "code": 7,
            "mismatched_fields": ["生产地址", "法定代表人"],
            "caller": "11370100993701097M",
            "matter_code": "M",
            "purpose": "P",
            "issued_at": "T",
            "bundle_code": "370100-YJS-QYKB",
            "case_id": "QYKB-1",
        },
        signer=None,
    )
    text = check_text(receipt, claim)
    assert "无法确认 INDETERMINATE（CRL_MISSING）：no CRL" in text
    assert (
        "  信息比对 claim：部分信息不一致 PARTLY_WRONG（结果代码 code 7），不一致的信息项 differ：生产地址、法定代表人"
    ) in text
    assert "  一件事 case：370100-YJS-QYKB，办件编号 QYKB-1" in text and "核验结论" not in text


@pytest.mark.parametrize("statement", [b'{"receipt_id":"R1","score":1.5}', '{"receipt_id":"R1","名":1}'.encode()])
def test_a_signed_statement_with_no_canonical_form_is_refused_not_a_crash(statement: bytes) -> None:
    """Only the gateway's key could sign one (the signature is checked first), and it never does; still refused."""
    key = SoftwareKey.generate()
    (signed,) = sign_receipts(key, [statement])
    _, certificate = _receipt_certificate(key)
    with pytest.raises(InvalidSignature, match="not in canonical form"):
        check_receipt(
            statement, signed.signature, certificate=certificate, algorithm=signed.algorithm, proof=signed.proof
        )


def _receipt_certificate(key: SoftwareKey) -> tuple[SealMakerCA, x509.Certificate]:
    """A fresh seal-maker CA and a 核验回执专用章 certificate from it for ``key``."""
    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create("制章中心", now - dt.timedelta(hours=1))
    return ca, ca.issue_seal_certificate(
        issuer_name="证照网关",
        issuer_uscc="11370100993701200A",
        seal_name=RECEIPT_SEAL_NAME,
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=now - dt.timedelta(minutes=30),
        not_after=now + dt.timedelta(days=30),
    )


def test_several_pinned_certificates_accept_a_receipt_of_any_of_them() -> None:
    """``receipt-certificates.pem`` holds the current receipt certificate and those it had before."""
    stranger = SealMakerCA.create("另一个制章中心（测试）", dt.datetime.now(dt.UTC)).root
    bundle = TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE], crls=[CRL], pinned=[stranger, RECEIPTS_CERT])
    assert check_receipt_file(_read(CASES[VALID]), bundle).result is CheckResult.PASSED
    others = TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE], crls=[CRL], pinned=[stranger])
    assert check_receipt_file(_read(CASES[VALID]), others).reason == "NOT_THE_PINNED_CERTIFICATE"


def _renewed(ca: SealMakerCA, key: SoftwareKey, now: dt.datetime) -> x509.Certificate:
    """A receipt certificate renewed on ``key``: another certificate of the same key, by the same CA."""
    return ca.issue_seal_certificate(
        issuer_name="证照网关",
        issuer_uscc="11370100993701200A",
        seal_name=RECEIPT_SEAL_NAME,
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=now - dt.timedelta(minutes=10),
        not_after=now + dt.timedelta(days=60),
    )


def _checked_offline(
    key: SoftwareKey,
    ca: SealMakerCA,
    crl: bytes,
    certificate: x509.Certificate,
    issued_at: dt.datetime,
    pinned: list[x509.Certificate],
) -> ReceiptCheck:
    """A receipt issued at ``issued_at``, signed by ``key``, checked offline under ``certificate`` of ``ca``."""
    statement = canonical_json({"receipt_id": "R1", "issued_at": issued_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    (signed,) = sign_receipts(key, [statement])
    return check_receipt_offline(
        "R1",
        signed.statement,
        signed.signature,
        certificate=certificate,
        algorithm=signed.algorithm,
        proof=signed.proof,
        trust_roots=[ca.root],
        intermediates=[ca.intermediate],
        crls=[crl],
        pinned=pinned,
    )


def test_a_receipt_under_the_certificate_before_the_revoked_one_of_its_key_is_revoked() -> None:
    """A renewal keeps the receipt key: the key that leaked signs a receipt under the certificate before the revoked
    one too, dated after the revocation (a reviewer). ``receipt-certificates.pem`` says which certificates the key
    has had, and the revocation of one is that of the key."""
    key = SoftwareKey.generate()
    ca, before = _receipt_certificate(key)
    now = dt.datetime.now(dt.UTC)
    renewed = _renewed(ca, key, now)
    leaked = (now - dt.timedelta(minutes=5)).replace(microsecond=250_000)
    ca.revoke(renewed.serial_number, x509.ReasonFlags.key_compromise, leaked)
    crl = ca.crl(now, now + dt.timedelta(days=1))

    def check(certificate: x509.Certificate, issued_at: dt.datetime, pinned: list[x509.Certificate]) -> ReceiptCheck:
        return _checked_offline(key, ca, crl, certificate, issued_at, pinned)

    forged = check(before, now, [before, renewed])
    assert (forged.result, forged.reason) == (CheckResult.FAILED, "CERT_REVOKED")
    assert f"{renewed.serial_number:x}" in forged.detail
    assert check(renewed, now, [before, renewed]).reason == "CERT_REVOKED"  # as before
    # issued before the key leaked, under either: good, as receipts under a revoked certificate are
    assert check(before, leaked - dt.timedelta(minutes=1), [before, renewed]).result is CheckResult.PASSED
    # at the very instant of the revocation (a CRL's time is to the second, the revocation's rounded up to it:
    # ead991a): not yet revoked, under the revoked certificate as under the other of its key, as receipts.md says
    # (the key's had been revoked at that instant)
    instant = leaked.replace(microsecond=0) + dt.timedelta(seconds=1)
    for certificate in (renewed, before):
        assert check(certificate, instant, [before, renewed]).result is CheckResult.PASSED
        assert check(certificate, instant + dt.timedelta(seconds=1), [before, renewed]).reason == "CERT_REVOKED"
    other = SoftwareKey.generate()
    _, stranger = _receipt_certificate(other)  # another key's certificate, under another CA, pinned too: no matter
    assert check(before, now, [before, stranger]).result is CheckResult.PASSED


def test_a_certificate_retired_as_superseded_does_not_revoke_its_key() -> None:
    """The certificate before a renewal retired as ``superseded``, a reason that says nothing of the key: a receipt
    under the renewed certificate of the same key passes (it had been CERT_REVOKED; a reviewer), and one under the
    retired certificate itself, dated after, is still refused."""
    key = SoftwareKey.generate()
    ca, before = _receipt_certificate(key)
    now = dt.datetime.now(dt.UTC)
    renewed = _renewed(ca, key, now)
    ca.revoke(before.serial_number, x509.ReasonFlags.superseded, now - dt.timedelta(minutes=5))
    crl = ca.crl(now, now + dt.timedelta(days=1))

    def check(certificate: x509.Certificate) -> ReceiptCheck:
        return _checked_offline(key, ca, crl, certificate, now, [before, renewed])

    assert check(renewed).result is CheckResult.PASSED
    assert (check(before).result, check(before).reason) == (CheckResult.FAILED, "CERT_REVOKED")


def test_a_receipt_certificate_is_no_root(tmp_path: Path) -> None:
    """Trusted as a root, the receipt certificate would pass without any revocation check."""
    leaf = tmp_path / "receipts.pem"
    leaf.write_bytes(RECEIPTS_CERT.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ValueError, match="is not a CA certificate"):
        TrustMaterial.read([leaf])
    root = tmp_path / "root.pem"
    root.write_bytes(ROOT.public_bytes(serialization.Encoding.PEM))
    assert TrustMaterial.read([root], pinned=[leaf]).pinned == [RECEIPTS_CERT]


def test_the_intermediate_is_no_root(tmp_path: Path) -> None:
    """Trusted as a root, the intermediate left its own CRL without a chain: every receipt was CRL_MISSING."""
    intermediate = tmp_path / "seal-maker-intermediate.pem"
    intermediate.write_bytes(INTERMEDIATE.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ValueError) as refused:
        TrustMaterial.read([intermediate])
    said = str(refused.value)
    assert said.startswith(f"{intermediate}: {INTERMEDIATE.subject.rfc4514_string()} is not a root")
    assert f"issued by {ROOT.subject.rfc4514_string()}" in said  # which certificate it is, and what is expected
    assert "self-signed" in said and "seal-maker-root.pem" in said and "--intermediate" in said
    both = tmp_path / "both.pem"  # a root file that also holds the intermediate
    both.write_bytes(ROOT.public_bytes(serialization.Encoding.PEM) + intermediate.read_bytes())
    with pytest.raises(ValueError, match="is not a root"):
        TrustMaterial.read([both])


def test_a_root_must_verify_with_its_own_key(tmp_path: Path) -> None:
    """A CA certificate that names itself as issuer but was signed by another key is no root."""
    now = dt.datetime.now(dt.UTC)
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    name = ROOT.subject
    forged = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(other, hashes.SHA256())
    )
    path = tmp_path / "root.pem"
    path.write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ValueError, match="names itself as its issuer, but its signature does not verify"):
        TrustMaterial.read([path])


def test_an_sm2_root_is_a_root(tmp_path: Path) -> None:
    ca = SealMakerCA.create("国密制章中心（测试）", dt.datetime.now(dt.UTC), algorithm=SM2_SM3)
    root, intermediate = tmp_path / "root.pem", tmp_path / "intermediate.pem"
    root.write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))
    intermediate.write_bytes(ca.intermediate.public_bytes(serialization.Encoding.PEM))
    assert TrustMaterial.read([root]).roots == [ca.root]
    with pytest.raises(ValueError, match="is not a root"):
        TrustMaterial.read([intermediate])


def test_a_ca_certificate_is_not_pinned(tmp_path: Path) -> None:
    """Pinned, a CA certificate would fail every receipt, genuine ones too, as NOT_THE_PINNED_CERTIFICATE."""
    root = tmp_path / "root.pem"
    root.write_bytes(ROOT.public_bytes(serialization.Encoding.PEM))
    for ca in (ROOT, INTERMEDIATE):
        pin = tmp_path / "pin.pem"
        pin.write_bytes(
            RECEIPTS_CERT.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
        )
        with pytest.raises(ValueError, match="is a CA certificate, not a receipt certificate"):
            TrustMaterial.read([root], pinned=[pin])


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"[1, 2]", "a JSON object is expected, not list"),
        (b"\xff\xfe{", "not JSON"),
        (b'{"file": ' + b"[" * 100_000, "nests too deep"),
        (receipt_json(_read(CASES[VALID])).encode("utf-16"), "not JSON in UTF-8"),
        (json.dumps({"receiptId": "x", "nonsense": "y" * 5000}).encode(), "not a receipt in protobuf JSON"),
    ],
)
def test_what_is_no_receipt_file_is_said_briefly(data: bytes, said: str) -> None:
    with pytest.raises(ValueError, match=said) as refused:
        read_receipt(data)
    assert len(str(refused.value)) < 400  # the file is not echoed back


@pytest.mark.parametrize(
    "damage",
    [
        lambda der: b"\x31" + der[1:],  # the outer SEQUENCE's tag: no certificate at all
        lambda der: der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020103"), 1),  # X.509 "v4"
    ],
    ids=["not DER", "no X.509 version"],
)
def test_a_receipt_whose_certificate_is_damaged_fails(damage: Callable[[bytes], bytes]) -> None:
    receipt = _read(CASES[VALID])
    receipt.certificate = damage(receipt.certificate)
    checked = check_receipt_file(receipt, FULL)
    assert (checked.result, checked.reason) == (CheckResult.FAILED, "CERTIFICATE_UNREADABLE")
    assert check_json(receipt, checked)["result"] == "FAILED"


def _receipt_of(key: SoftwareKey, certificate: x509.Certificate) -> Any:
    """A receipt file's message, signed by ``key`` and carrying ``certificate``."""
    issued_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (signed,) = sign_receipts(key, [canonical_json({"receipt_id": "R1", "issued_at": issued_at})])
    return verification_pb2.Receipt(
        receipt_id="R1",
        statement=signed.statement,
        signature=signed.signature,
        proof=signed.proof,
        algorithm=signed.algorithm,
        certificate=certificate.public_bytes(serialization.Encoding.DER),
    )


def test_a_self_signed_receipt_certificate_is_untrusted_not_a_missing_intermediate() -> None:
    """No intermediate could complete the chain of a certificate that issued itself: a forgery's receipt was
    undecided (CHAIN_INCOMPLETE, "add --intermediate"), and the library had called it BAD_KEY_USAGE."""
    private = ec.generate_private_key(ec.SECP256R1())
    key = SoftwareKey(private)
    _, genuine = _receipt_certificate(key)
    usage = genuine.extensions.get_extension_for_class(x509.KeyUsage).value
    forged = self_signed(private, genuine.subject, usage, start=genuine.not_valid_before_utc)
    for trust in (TrustMaterial(roots=[ROOT], crls=[CRL]), TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE])):
        checked = check_receipt_file(_receipt_of(key, forged), trust)
        assert (checked.result, checked.reason) == (CheckResult.FAILED, "UNTRUSTED_ROOT"), checked
        assert checked.detail.startswith("印章证书是自签名的，不是可信的制章机构签发的（self-signed")


def test_another_gateways_receipt_is_undecided_without_asking_for_the_intermediate_given() -> None:
    """The intermediate was given: what is missing is the other gateway's certificates, not a flag."""
    key = SoftwareKey.generate()
    _, certificate = _receipt_certificate(key)
    checked = check_receipt_file(
        _receipt_of(key, certificate), TrustMaterial(roots=[ROOT], intermediates=[INTERMEDIATE], crls=[CRL])
    )
    assert (checked.result, checked.reason) == (CheckResult.INDETERMINATE, "CHAIN_INCOMPLETE")
    assert "--intermediate" not in checked.detail and "another gateway's receipt" in checked.detail
