"""Make ``receipts.json``: verification receipts (核验回执) to test an offline checker against (docs/receipts.md).

    .venv/bin/python -m tests.vectors.make_receipts > tests/vectors/receipts.json

A throw-away seal-maker CA (ECDSA P-256) issues a 核验回执专用章 certificate for a gateway key; the gateway's own
signing code (``signing.receipts.sign_receipts``) signs three statements as one batch and a fourth alone in the first
form (``zzgw-receipt/1``); the cases then change one thing each. Each case says what a checker must answer given the
root, the intermediate and the CRL (``expect``), and given the receipt certificate pinned as well
(``expect_pinned``); ``refused`` holds files that are no receipt at all, which a checker must not judge. ECDSA
signatures are randomised, so running this again gives other bytes and the same expectations; the committed file
is the one the tests read.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.canonical import canonical_json
from signing.keys import SoftwareKey
from signing.merkle import all_paths, leaf_hash
from signing.receipts import RECEIPT_SEAL_NAME, batch_bytes, sign_receipts
from signing.seal_ca import SealMakerCA

_GATEWAY_ORG, _GATEWAY_USCC = "证照网关运营中心（测试）", "11370100993701200A"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _statement(receipt_id: str, at: dt.datetime, verdict: str, reason: str = "", *, leave_out: str = "") -> bytes:
    return canonical_json(
        {
            name: value
            for name, value in _fields(receipt_id, at, verdict, reason).items()
            if name != leave_out  # to sign a statement the gateway never makes
        }
    )


def _fields(receipt_id: str, at: dt.datetime, verdict: str, reason: str) -> dict[str, object]:
    return {
        "receipt_id": receipt_id,
        "issued_at": at.isoformat(timespec="microseconds"),
        "caller": "11370100993701097M",
        "matter_code": "370100-FPSL-001",
        "purpose": "企业开办：发票申领",
        "query": {
            "by": "license_id",
            "license_id": "1.2.156.3005.2.11100000000000001.11370100993701011T.0MX0001.001.6",
        },
        "kind": "verification",
        "verdict": verdict,
        "reason": reason,
        "findings": {
            "integrity": {"result": "PASSED", "reason": "", "detail": ""},
            "status": {"result": verdict, "reason": reason, "detail": ""},
            "issuer_identity": {"result": "PASSED", "reason": "", "detail": ""},
        },
        "license": {
            "license_id": "1.2.156.3005.2.11100000000000001.11370100993701011T.0MX0001.001.6",
            "type_code": "11100000000000001",
            "issuer_code": "11370100993701011T",
            "valid_from": "2026-01-01",
            "valid_until": "2031-12-31",
            "status": "ACTIVE" if verdict == "PASSED" else reason,
            "version": 1,
        },
    }


def _receipt(receipt_id: str, statement: bytes, signature: bytes, proof: bytes, algorithm: str, cert: bytes) -> dict:
    """The protobuf JSON mapping of ``zzgw.v1.Receipt`` (bytes in base64), as ``zzgw receipt get`` writes it: the
    fields in the order of the message, and no ``proof`` in the first form."""
    receipt = {
        "receiptId": receipt_id,
        "statement": _b64(statement),
        "signature": _b64(signature),
        "algorithm": algorithm,
        "certificate": _b64(cert),
    }
    return {**receipt, "proof": _b64(proof)} if proof else receipt


def main() -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    at = now - dt.timedelta(minutes=10)
    ca = SealMakerCA.create("济南市制章中心（测试）", now - dt.timedelta(days=1))

    def certificate(key: SoftwareKey, seal_name: str) -> x509.Certificate:
        return ca.issue_seal_certificate(
            issuer_name=_GATEWAY_ORG,
            issuer_uscc=_GATEWAY_USCC,
            seal_name=seal_name,
            public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
            not_before=now - dt.timedelta(hours=1),
            not_after=ca.intermediate.not_valid_after_utc - dt.timedelta(seconds=1),
        )

    key, other_key, revoked_key = SoftwareKey.generate(), SoftwareKey.generate(), SoftwareKey.generate()
    cert = certificate(key, RECEIPT_SEAL_NAME)
    issuer_seal = certificate(other_key, "电子证照专用章")  # same CA, same owner: a seal, not the receipt seal
    revoked = certificate(revoked_key, RECEIPT_SEAL_NAME)
    ca.revoke(revoked.serial_number, x509.ReasonFlags.key_compromise, at - dt.timedelta(minutes=5))
    crl = ca.crl(now, now + dt.timedelta(days=3650))
    der = cert.public_bytes(serialization.Encoding.DER)

    ids = [f"{int(at.timestamp() * 1000):012x}{n:020x}" for n in range(1, 10)]
    statements = [
        _statement(ids[0], at, "PASSED"),
        _statement(ids[1], at, "FAILED", "REVOKED"),
        _statement(ids[2], at, "PASSED"),
    ]
    batch = sign_receipts(key, statements)
    leaves = [leaf_hash(b"zzgw-receipt/2\n" + s) for s in statements]
    v1_statement = _statement(ids[3], at, "PASSED")
    v1_signature = key.sign(b"zzgw-receipt/1\n" + v1_statement)
    other = sign_receipts(other_key, [_statement(ids[4], at, "PASSED")])[0]
    gone = sign_receipts(revoked_key, [_statement(ids[5], at, "PASSED")])[0]
    loose = json.dumps(json.loads(_statement(ids[6], at, "PASSED")), ensure_ascii=False).encode()  # not canonical
    loose_signed = sign_receipts(key, [loose])[0]
    no_id, no_time = (
        _statement(ids[n], at, "PASSED", leave_out=name) for n, name in ((7, "receipt_id"), (8, "issued_at"))
    )
    no_id_signed, no_time_signed = sign_receipts(key, [no_id, no_time])

    def case(name: str, receipt: dict, result: str, reason: str = "", note: str = "", *, pinned: str = "") -> dict:
        """``pinned``: the reason when the receipt certificate is pinned, if it differs (the same result, FAILED)."""
        return {
            "name": name,
            "note": note,
            "receipt": receipt,
            "expect": {"result": result, "reason": reason},
            "expect_pinned": {"result": "FAILED", "reason": pinned} if pinned else {"result": result, "reason": reason},
        }

    first = _receipt(ids[0], statements[0], batch[0].signature, batch[0].proof, batch[0].algorithm, der)
    tampered = statements[0].replace(b'"verdict":"PASSED"', b'"verdict":"FAILED"')
    proof_moved = bytearray(batch[2].proof)
    proof_moved[3] = 1  # the third statement's path, claimed for the second leaf
    cases = [
        *(
            case(f"batch receipt {i} of 3", _receipt(ids[i], s, r.signature, r.proof, r.algorithm, der), "PASSED")
            for i, (s, r) in enumerate(zip(statements, batch, strict=True))
        ),
        case(
            "first form (zzgw-receipt/1), no proof",
            _receipt(ids[3], v1_statement, v1_signature, b"", "ecdsa-p256-sha256", der),
            "PASSED",
        ),
        *(
            case(
                f"first form, proof {said}",
                {**_receipt(ids[3], v1_statement, v1_signature, b"", "ecdsa-p256-sha256", der), "proof": proof},
                "PASSED",
                note="an empty or null proof is the first form, as a missing one is",
            )
            for said, proof in (("empty", ""), ("null", None))
        ),
        case("statement changed after signing", {**first, "statement": _b64(tampered)}, "FAILED", "SIGNATURE_INVALID"),
        case(
            "proof of another leaf",
            _receipt(ids[0], statements[0], batch[1].signature, batch[1].proof, batch[1].algorithm, der),
            "FAILED",
            "SIGNATURE_INVALID",
            "the second leaf's proof folds the first statement to another root",
        ),
        case(
            "proof that no batch of its size has",
            _receipt(ids[2], statements[2], batch[2].signature, bytes(proof_moved), batch[2].algorithm, der),
            "FAILED",
            "SIGNATURE_INVALID",
            "index 1 of 3 has a path of two hashes, this one has one",
        ),
        case(
            "receipt id that the statement does not name",
            {**first, "receiptId": ids[6]},
            "FAILED",
            "RECEIPT_ID_MISMATCH",
        ),
        case(
            "signed by another seal of the same CA",
            _receipt(
                ids[4],
                other.statement,
                other.signature,
                other.proof,
                other.algorithm,
                issuer_seal.public_bytes(serialization.Encoding.DER),
            ),
            "FAILED",
            "NOT_A_RECEIPT_SEAL",
            "a 电子证照专用章 chains to the same root: only a 核验回执专用章 makes receipts",
            pinned="NOT_THE_PINNED_CERTIFICATE",
        ),
        case(
            "receipt certificate revoked before the receipt was issued",
            _receipt(
                ids[5],
                gone.statement,
                gone.signature,
                gone.proof,
                gone.algorithm,
                revoked.public_bytes(serialization.Encoding.DER),
            ),
            "FAILED",
            "CERT_REVOKED",
            pinned="NOT_THE_PINNED_CERTIFICATE",
        ),
        case(
            "statement not in canonical form",
            _receipt(ids[6], loose, loose_signed.signature, loose_signed.proof, loose_signed.algorithm, der),
            "FAILED",
            "SIGNATURE_INVALID",
            "validly signed, but JSON with spaces: a checker must insist on the canonical bytes",
        ),
        case(
            "statement without receipt_id",
            _receipt(ids[7], no_id, no_id_signed.signature, no_id_signed.proof, no_id_signed.algorithm, der),
            "FAILED",
            "RECEIPT_ID_MISMATCH",
            "validly signed: what the statement lacks makes the receipt invalid, it is not refused",
        ),
        case(
            "statement without issued_at",
            _receipt(ids[8], no_time, no_time_signed.signature, no_time_signed.proof, no_time_signed.algorithm, der),
            "FAILED",
            "ISSUED_AT_MISSING",
            "validly signed: without its time of issue the certificate cannot be checked",
        ),
        case(
            "certificate that is no X.509 certificate",
            {**first, "certificate": _b64(b"\x31" + der[1:])},
            "FAILED",
            "CERTIFICATE_UNREADABLE",
            "the outer SEQUENCE's tag changed to SET: a receipt with every field, judged",
        ),
        case(
            "algorithm that is none of the three",
            {**first, "algorithm": "ed25519"},
            "FAILED",
            "SIGNATURE_INVALID",
        ),
    ]

    def refused(name: str, file: str, note: str = "") -> dict:
        return {"name": name, "note": note, "file": file}

    def without(field: str) -> str:
        return json.dumps({k: v for k, v in first.items() if k != field})

    refusals = [
        *(refused(f"no {field}", without(field)) for field in ("receiptId", "statement", "signature", "algorithm")),
        refused("no certificate", without("certificate")),
        refused("empty certificate", json.dumps({**first, "certificate": ""}), "empty is the same as missing"),
        refused("null signature", json.dumps({**first, "signature": None}), "null is the same as missing"),
        refused("signature that is not base64", json.dumps({**first, "signature": "!" + first["signature"]})),
        refused("a field the message has not", json.dumps({**first, "keyId": "k1"})),
        refused("a number for the id", json.dumps({**first, "receiptId": 7})),
        refused("a key twice", json.dumps(first)[:-1] + ', "receiptId": "' + ids[1] + '"}'),
        refused(
            "the id under both its names",
            json.dumps(first)[:-1] + ', "receipt_id": "' + ids[1] + '"}',
            "protobuf reads receipt_id as receiptId: the same member twice, whichever the order",
        ),
        refused("a JSON array", json.dumps([first])),
        refused("not JSON", "receipt " + ids[0]),
    ]
    json.dump(
        {
            "source": "made by tests/vectors/make_receipts.py with the gateway's own signing code and a throw-away "
            "seal-maker CA; the format is docs/receipts.md",
            "made_at": now.isoformat(),
            "check": "each case is checked as at its statement's issued_at with trust's root as the only root to "
            "trust, its intermediate and its CRL: expect with no certificate pinned, expect_pinned with receipts_pem "
            "pinned as the only receipt certificate accepted. A refused file is no receipt: it gets no result.",
            "trust": {
                "seal_maker_root_pem": _pem(ca.root),
                "seal_maker_intermediate_pem": _pem(ca.intermediate),
                "crl_der_base64": _b64(crl),
                "receipts_pem": _pem(cert),
            },
            "batch": {
                "statements_base64": [_b64(s) for s in statements],
                "leaf_hashes_hex": [h.hex() for h in leaves],
                "signed_bytes_hex": batch_bytes(3, all_paths(leaves)[0]).hex(),
                "signature_base64": _b64(batch[0].signature),
            },
            "cases": cases,
            "refused": refusals,
        },
        sys.stdout,
        ensure_ascii=False,
        indent=2,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
