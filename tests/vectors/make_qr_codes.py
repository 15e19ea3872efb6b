"""Make ``qr-codes.json``: ``ZZ1:`` verification codes to test an offline checker against (docs/qr-codes.md).

    .venv/bin/python -m tests.vectors.make_qr_codes > tests/vectors/qr-codes.json

A throw-away seal-maker CA (ECDSA P-256) certifies four seals: an issuer's ECDSA seal, the same issuer's RSA seal,
a second issuer's seal, and a seal of the first issuer revoked an hour before the vectors were made; a second CA
that copies the first one's names certifies a fifth. The gateway's
own code (``signing.qr.encode_qr``) makes the codes; the cases then change one thing each. What each case must be
answered is worked out with the gateway's own checks (``signing.checks.check_qr_seal`` on ``chain_identity``, the
revocation the CRL states, and the seal's owner against the code's issuer, as ``VerifyLicense`` by ``qr_code``
judges it), each at the case's ``at``, the time of the check, so the vectors do not expire. ECDSA signatures are
randomised, so running this again gives other bytes and the same expectations; the committed file is the one the
tests read.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
import zlib
from dataclasses import dataclass

import base45
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.domain.model import CHINA_TZ
from signing.checks import chain_identity, check_qr_seal
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SoftwareKey
from signing.qr import QrClaims, encode_qr, read_qr
from signing.results import PASSED, CheckResult, Finding
from signing.seal_ca import SealMakerCA

TYPE_CODE = "11100000991000051R001"  # 社会保障卡 in the demo catalog
ISSUER, ISSUER_NAME = "11370100993701070X", "济南市人力资源和社会保障局（测试）"
OTHER, OTHER_NAME = "11370100993701011T", "济南市市场监督管理局（测试）"
SEAL_NAME = "电子证照专用章"
_NOT_CHECKED = Finding(result=CheckResult.INDETERMINATE, reason="NOT_CHECKED")
_SEALED_BY_ANOTHER = Finding(result=CheckResult.FAILED, reason="SEALED_BY_ANOTHER")


@dataclass(frozen=True)
class _Seal:
    name: str
    key: SoftwareKey
    certificate: x509.Certificate
    uscc: str
    revoked_at: dt.datetime | None = None


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _license_id(serial: str, version: int = 1, issuer: str = ISSUER) -> str:
    from gateway.domain.identifiers import LicenseId

    return str(LicenseId(type_code=TYPE_CODE, issuer_code=issuer, serial=serial, version=version))


def _claims(serial: str, issued_at: dt.datetime, **changes: object) -> QrClaims:
    values: dict[str, object] = {
        "license_id": _license_id(serial),
        "version": 1,
        "type_code": TYPE_CODE,
        "issuer_code": ISSUER,
        "valid_from": dt.date(2021, 5, 1),
        "valid_until": dt.date(2031, 4, 30),
        "holder_name": "李**",
        "holder_code": "3701**********1231",
        "issued_at": issued_at.replace(microsecond=0),
    }
    values.update(changes)
    return QrClaims(**values)  # type: ignore[arg-type]


def _zz1(message: object) -> str:
    """A code of ``message`` (CBOR), as ``encode_qr`` packs it: zlib at level 9, base45, the prefix."""
    return "ZZ1:" + base45.b45encode(zlib.compress(cbor2.dumps(message), 9)).decode("ascii")


def _parts(code: str) -> list[object]:
    """The four parts of a code's COSE_Sign1, as a list to change."""
    tagged = cbor2.loads(zlib.decompress(base45.b45decode(code[4:])))
    return list(tagged.value)


def _signed(key: SoftwareKey, alg: int, kid: bytes, payload: bytes) -> str:
    """A COSE_Sign1 the gateway never makes, signed with ``key``: ``payload`` as it is, ES256 or RS256."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    protected = cbor2.dumps({1: alg, 4: kid})
    signature = key.sign(cbor2.dumps(["Signature1", protected, b"", payload]))
    if key.algorithm == ECDSA_P256_SHA256:
        r, s = decode_dss_signature(signature)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return _zz1(cbor2.CBORTag(18, [protected, {}, payload, signature]))


def _finding(finding: Finding) -> dict[str, str]:
    return {"result": finding.result.value, "reason": finding.reason or ""}


def _expected(code: str, seal: _Seal, at: dt.datetime, root: x509.Certificate, inter: x509.Certificate, crl: bytes):
    """What a checker answers for ``code`` with ``seal``'s certificate at ``at``: the gateway's own checks."""
    base = chain_identity(seal.certificate, trust_roots=[root], intermediates=[inter], crls=[crl])
    check, verification = check_qr_seal(
        code, certificate=seal.certificate, base=base, revoked_at=seal.revoked_at, now=at
    )
    integrity, identity, validity = check.integrity, check.issuer_identity, _NOT_CHECKED
    if integrity.result is CheckResult.PASSED and verification.claims is not None:
        validity = verification.validity
        if verification.claims.issuer_code != base.uscc and identity.result is not CheckResult.FAILED:
            identity = _SEALED_BY_ANOTHER  # the seal is not the issuer's: VerifyLicense's SEALED_BY_ANOTHER
    decided = next((f for f in (integrity, identity, validity) if f.result is CheckResult.FAILED), None)
    decided = decided or next((f for f in (integrity, identity) if f.result is CheckResult.INDETERMINATE), PASSED)
    return {
        "result": decided.result.value,
        "reason": decided.reason or "",
        "integrity": _finding(integrity),
        "issuer_identity": _finding(identity),
        "validity": _finding(validity),
    }


def _decoded(code: str) -> dict[str, object] | None:
    """What the code states (unverified), as docs/qr-codes.md reads it; None when it cannot be read."""
    envelope = read_qr(code)
    if isinstance(envelope, str):
        return None
    parts = _parts(code)
    protected = cbor2.loads(parts[0])
    payload = cbor2.loads(parts[2])
    claims = envelope.claims
    return {
        "alg": protected[1],
        "kid_hex": protected[4].hex(),
        "signed_hex": cbor2.dumps(["Signature1", parts[0], b"", parts[2]]).hex(),  # the Sig_structure
        "claims": {str(key): value for key, value in sorted(payload.items())},
        "license_id": claims.license_id,
        "valid_from": claims.valid_from.isoformat(),
        "valid_until": claims.valid_until.isoformat() if claims.valid_until else "",
        "issued_at": claims.issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main() -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ca = SealMakerCA.create("济南市制章中心（测试）", now - dt.timedelta(days=3))
    not_before, not_after = now - dt.timedelta(days=2), now + dt.timedelta(days=730)

    def seal(name: str, key: SoftwareKey, uscc: str, owner: str) -> _Seal:
        certificate = ca.issue_seal_certificate(
            issuer_name=owner,
            issuer_uscc=uscc,
            seal_name=SEAL_NAME,
            public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
            not_before=not_before,
            not_after=not_after,
        )
        return _Seal(name, key, certificate, uscc)

    issuer = seal("issuer", SoftwareKey.generate(), ISSUER, ISSUER_NAME)
    issuer_rsa = seal("issuer_rsa", SoftwareKey.generate(RSA2048_SHA256), ISSUER, ISSUER_NAME)
    other = seal("other_issuer", SoftwareKey.generate(), OTHER, OTHER_NAME)
    revoked_at = now - dt.timedelta(hours=1)
    gone = seal("revoked", SoftwareKey.generate(), ISSUER, ISSUER_NAME)
    ca.revoke(gone.certificate.serial_number, x509.ReasonFlags.key_compromise, revoked_at)
    gone = _Seal(gone.name, gone.key, gone.certificate, gone.uscc, revoked_at)
    lookalike_ca = SealMakerCA.create(
        "济南市制章中心（测试）", now - dt.timedelta(days=3)
    )  # the same names, other keys
    lookalike_key = SoftwareKey.generate()
    lookalike = _Seal(
        "lookalike",
        lookalike_key,
        lookalike_ca.issue_seal_certificate(
            issuer_name=ISSUER_NAME,
            issuer_uscc=ISSUER,
            seal_name=SEAL_NAME,
            public_key=serialization.load_der_public_key(lookalike_key.public_key_der),  # type: ignore[arg-type]
            not_before=not_before,
            not_after=not_after,
        ),
        ISSUER,
    )
    seals = {s.name: s for s in (issuer, issuer_rsa, other, gone, lookalike)}
    crl = ca.crl(now, now + dt.timedelta(days=3650))

    made = now - dt.timedelta(minutes=10)  # when the codes say they were made
    day = made.astimezone(CHINA_TZ).date()  # the China day of the checks that pass
    at = dt.datetime.combine(day, dt.time(12), tzinfo=CHINA_TZ).astimezone(dt.UTC) + dt.timedelta(days=1)
    ends = day + dt.timedelta(days=3)  # a license whose last day is three China days on
    last_day = dt.datetime.combine(ends, dt.time(23, 30), tzinfo=CHINA_TZ).astimezone(dt.UTC)  # 15:30 UTC
    day_after = last_day + dt.timedelta(hours=1)  # 16:30 UTC, 00:30 of the next China day

    valid = encode_qr(issuer.key, _claims("0MXAJCIO8KY1DJJP4F5U", made))
    ending = encode_qr(issuer.key, _claims("0MXAJCIO8KY1DJJP4F5V", made, valid_until=ends))
    parts = _parts(valid)
    changed_payload = dict(cbor2.loads(parts[2]))
    changed_payload[7] = "王**"
    tampered = _zz1(cbor2.CBORTag(18, [parts[0], {}, cbor2.dumps(changed_payload), parts[3]]))
    kid = bytes.fromhex(issuer.key.key_id)[:8]
    forger = SoftwareKey.generate()
    forged = _signed(forger, -7, kid, parts[2])
    without_holder = dict(cbor2.loads(parts[2]))
    del without_holder[7]
    null_until = {**cbor2.loads(parts[2]), 6: None}
    bad_type_code = {**cbor2.loads(parts[2]), 3: TYPE_CODE[:17] + "A" + TYPE_CODE[18:]}
    keyed_true = {True if key == 1 else key: value for key, value in cbor2.loads(parts[2]).items()}
    bignum_version = {**cbor2.loads(parts[2]), 2: cbor2.CBORTag(2, b"\x01")}
    unprotected = _zz1(cbor2.CBORTag(18, [parts[0], {4: kid}, parts[2], parts[3]]))
    trailing = "ZZ1:" + base45.b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, parts)), 9) + b"\0").decode()

    def case(name: str, code: str, seal_name: str, when: dt.datetime = at, note: str = "") -> dict[str, object]:
        return {
            "name": name,
            "note": note,
            "code": code,
            "seal": seal_name,
            "at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "decoded": _decoded(code),
            "expect": _expected(code, seals[seal_name], when, ca.root, ca.intermediate, crl),
        }

    cases = [
        case("valid, ES256", valid, "issuer"),
        case(
            "valid, RS256",
            encode_qr(issuer_rsa.key, _claims("0MXAJCIO8KY1DJJP4F5W", made)),
            "issuer_rsa",
            note="an RSA seal: alg -257, RSASSA-PKCS1-v1_5 with SHA-256",
        ),
        case(
            "valid, no end date",
            encode_qr(issuer.key, _claims("0MXAJCIO8KY1DJJP4F5X", made, valid_until=None)),
            "issuer",
            note="claim 6 is absent: the license does not expire",
        ),
        case(
            "on its last day, China time",
            ending,
            "issuer",
            last_day,
            "checked at 23:30 China time (15:30 UTC) of the day claim 6 names",
        ),
        case(
            "the day after its last, China time",
            ending,
            "issuer",
            day_after,
            "checked at 00:30 China time of the next day (16:30 UTC of the day claim 6 names)",
        ),
        case(
            "not yet valid",
            encode_qr(issuer.key, _claims("0MXAJCIO8KY1DJJP4F5Y", made, valid_from=day + dt.timedelta(days=30))),
            "issuer",
        ),
        case("a claim changed after signing", tampered, "issuer", note="claim 7 changed, the signature kept"),
        case(
            "checked with another seal's certificate",
            valid,
            "other_issuer",
            note="the kid is not the first 8 bytes of that certificate's key id",
        ),
        case("a forger's key under the seal's kid", forged, "issuer"),
        case(
            "signed by another issuer's seal",
            encode_qr(other.key, _claims("0MXAJCIO8KY1DJJP4F5Z", made)),
            "other_issuer",
            note="validly signed, by a seal whose organizationIdentifier is not claim 4",
        ),
        case(
            "a revoked seal, claiming a time before the revocation",
            encode_qr(gone.key, _claims("0MXAJCIO8KY1DJJP4F60", revoked_at - dt.timedelta(hours=2))),
            "revoked",
            note="the time is only the code's claim: whether it was made before the revocation is unknown",
        ),
        case(
            "a revoked seal, claiming a time after the revocation",
            encode_qr(gone.key, _claims("0MXAJCIO8KY1DJJP4F61", revoked_at + dt.timedelta(minutes=10))),
            "revoked",
            note="more than 5 minutes after the CRL's revocationDate: the seal's own word that it was revoked",
        ),
        case(
            "claiming a time before its seal certificate began",
            encode_qr(issuer.key, _claims("0MXAJCIO8KY1DJJP4F62", not_before - dt.timedelta(days=1))),
            "issuer",
        ),
        case(
            "a seal of a look-alike CA",
            encode_qr(lookalike_key, _claims("0MXAJCIO8KY1DJJP4F63", made)),
            "lookalike",
            note="its CA copies the names of the trusted root and intermediate, not their keys",
        ),
        case(
            "validly signed claims without a holder name",
            _signed(issuer.key, -7, kid, cbor2.dumps(without_holder)),
            "issuer",
            note="the signature verifies, the claims lack key 7",
        ),
        case(
            "validly signed claims with a null end date",
            _signed(issuer.key, -7, kid, cbor2.dumps(null_until)),
            "issuer",
            note="key 6 is CBOR null: a value of another type, not a license without an end date (key 6 absent)",
        ),
        case(
            "validly signed claims whose type code fails its check character",
            _signed(issuer.key, -7, kid, cbor2.dumps(bad_type_code)),
            "issuer",
            note="claim 3's 统一社会信用代码 part ends in A where its check character is R",
        ),
        case(
            "validly signed claims keyed by true",
            _signed(issuer.key, -7, kid, cbor2.dumps(keyed_true)),
            "issuer",
            note="claim 1's key is CBOR true (0xf5), not the integer 1: a map with another key",
        ),
        case(
            "validly signed claims with a bignum version",
            _signed(issuer.key, -7, kid, cbor2.dumps(bignum_version)),
            "issuer",
            note="claim 2 is tag 2 (a bignum) around h'01': a tag, not an unsigned integer",
        ),
        case("another prefix", "HC1:" + valid[4:], "issuer"),
        case("not base45", valid[:20] + valid[20:40].lower() + valid[40:], "issuer", note="lower-case letters"),
        case("longer than any code", "ZZ1:" + "0" * 4093, "issuer", note="4097 characters"),
        case(
            "an algorithm none of the three",
            _signed(issuer.key, -8, kid, parts[2]),
            "issuer",
            note="alg -8 (EdDSA) in the protected header, over an ES256 signature",
        ),
        case("an unprotected header that is not empty", unprotected, "issuer"),
        case("bytes after the zlib stream", trailing, "issuer"),
    ]

    json.dump(
        {
            "source": "made by tests/vectors/make_qr_codes.py with the gateway's own code and a throw-away seal-maker "
            "CA; the format and the checks are docs/qr-codes.md",
            "made_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "check": "each case's code is checked with the certificate of the seal it names (seals), at its at (the "
            "time of the check, UTC), with trust's root as the only root to trust, its intermediate and its CRL. "
            "decoded is what the code states before any check, null when it cannot be read.",
            "trust": {
                "seal_maker_root_pem": _pem(ca.root),
                "seal_maker_intermediate_pem": _pem(ca.intermediate),
                "crl_der_base64": base64.b64encode(crl).decode("ascii"),
            },
            "seals": {
                s.name: {
                    "certificate_pem": _pem(s.certificate),
                    "key_id": s.key.key_id,
                    "kid_hex": s.key.key_id[:16],
                    "uscc": s.uscc,
                    "revoked_at": s.revoked_at.strftime("%Y-%m-%dT%H:%M:%SZ") if s.revoked_at else "",
                }
                for s in seals.values()
            },
            "cases": cases,
        },
        sys.stdout,
        ensure_ascii=False,
        indent=2,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
