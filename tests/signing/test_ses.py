"""GB/T 38540 electronic seals and stamps with SM2: making them, and every way a stamp fails verification."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import random
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image

from signing.errors import InvalidSignature, SigningError
from signing.keys import SM2_SM3, SoftwareKey
from signing.results import CheckResult
from signing.seal_ca import SealMakerCA
from signing.ses import (
    MAX_CODE,
    MAX_STAMP_BYTES,
    SEAL_MAKER_NAME,
    Certificates,
    SealInfo,
    SESeal,
    SESSignature,
    SesVerification,
    TbsSign,
    async_check_stamp,
    check_stamp,
    make_seal,
    sign_document,
    verify_stamp,
)
from signing.sm2 import Sm2Key, verify_sm2
from signing.sm2_x509 import SM3_WITH_SM2_OID, public_key_der
from signing.tsa import TimeStampAuthority, TimeStampResp
from tests.signing.authorities import tsa_under_its_own_ca

NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
SIGNED_AT = NOW + dt.timedelta(days=10)
LATER = NOW + dt.timedelta(days=30)
CHECKED_AT = LATER + dt.timedelta(days=1)
USCC = "11370100MB0000000X"
DOCUMENT = b"%PDF-1.7\n\xe8\x90\xa5\xe4\xb8\x9a\xe6\x89\xa7\xe7\x85\xa7 91370100MA3C4K7L6M\n%%EOF\n"
PROPERTY = "zzgw:/licenses/91370100MA3C4K7L6M.pdf"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (208, 2, 27, 255)).save(out, format="PNG")
    return out.getvalue()


PICTURE = png()


def certify(
    ca: SealMakerCA, key: Sm2Key, organisation: str = "济南市市场监督管理局", seal_name: str = "电子证照专用章"
) -> x509.Certificate:
    return ca.issue_seal_certificate(
        issuer_name=organisation,
        issuer_uscc=USCC,
        seal_name=seal_name,
        public_key=key.public_key_der,
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=730),
    )


@dataclass
class World:
    """A seal-maker CA, the maker's and a holder's certificates and keys, and a seal for the holder."""

    ca: SealMakerCA
    maker_key: Sm2Key
    maker_cert: x509.Certificate
    holder_key: Sm2Key
    holder_cert: x509.Certificate
    seal: bytes

    def certify(self, key: Sm2Key, organisation: str = "济南市市场监督管理局") -> x509.Certificate:
        return certify(self.ca, key, organisation)

    def stamp(self, document: bytes = DOCUMENT, *, at: dt.datetime = SIGNED_AT, seal: bytes | None = None) -> bytes:
        return sign_document(
            document, seal=seal or self.seal, key=self.holder_key, cert=self.holder_cert, at=at, property_info=PROPERTY
        )

    def check(
        self,
        stamp: bytes,
        document: bytes = DOCUMENT,
        *,
        at: dt.datetime = CHECKED_AT,
        trust_roots: list[x509.Certificate] | None = None,
        intermediates: list[x509.Certificate] | None = None,
        crls: list[bytes] | None = None,
    ) -> SesVerification:
        return check_stamp(
            stamp,
            document,
            trust_roots=[self.ca.root] if trust_roots is None else trust_roots,
            intermediates=[self.ca.intermediate] if intermediates is None else intermediates,
            crls=[self.ca.crl(LATER, LATER + dt.timedelta(days=7))] if crls is None else crls,
            at=at,
        )


def seal_for(
    maker_key: Sm2Key,
    maker_cert: x509.Certificate,
    holders: list[x509.Certificate],
    *,
    valid_start: dt.datetime = NOW,
    valid_end: dt.datetime = NOW + dt.timedelta(days=365),
) -> bytes:
    return make_seal(
        maker_key=maker_key,
        maker_cert=maker_cert,
        es_id="37010000000001",
        name="济南市市场监督管理局电子证照专用章",
        signer_certs=holders,
        created=NOW,
        valid_start=valid_start,
        valid_end=valid_end,
        picture=PICTURE,
        picture_size_mm=(40, 40),
    )


def make_world(*, valid_start: dt.datetime = NOW, valid_end: dt.datetime = NOW + dt.timedelta(days=365)) -> World:
    ca = SealMakerCA.create("济南市制章中心", NOW, algorithm=SM2_SM3)
    maker_key, holder_key = Sm2Key.generate(), Sm2Key.generate()
    maker_cert = certify(ca, maker_key, "济南市制章中心", SEAL_MAKER_NAME)
    holder_cert = certify(ca, holder_key)
    seal = seal_for(maker_key, maker_cert, [holder_cert], valid_start=valid_start, valid_end=valid_end)
    return World(ca, maker_key, maker_cert, holder_key, holder_cert, seal)


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def restamp(to_sign: TbsSign, key: Sm2Key, cert: x509.Certificate) -> bytes:
    """A stamp over ``to_sign`` as given, signed by ``key``: what a holder who altered it could make."""
    tbs = to_sign.dump(force=True)
    stamp = SESSignature(
        {
            "to_sign": TbsSign.load(tbs),
            "cert": der(cert),
            "signature_alg_id": SM3_WITH_SM2_OID,
            "signature": key.sign(tbs),
        }
    )
    dumped: bytes = stamp.dump()
    return dumped


def edited(stamp: bytes, edit: Callable[[SESSignature], None]) -> bytes:
    parsed = SESSignature.load(stamp)
    edit(parsed)
    dumped: bytes = parsed.dump(force=True)
    return dumped


def outcome(verification: SesVerification) -> tuple[CheckResult, str | None]:
    return verification.result, verification.reason


# --- making and the round trip --------------------------------------------------------------------------------------


def test_round_trip_passes_with_identity(world: World) -> None:
    verification = world.check(world.stamp())
    assert outcome(verification) == (CheckResult.PASSED, None)
    assert verification.integrity.result is verification.issuer_identity.result is CheckResult.PASSED
    assert (verification.timestamp.result, verification.timestamp.reason) == (CheckResult.INDETERMINATE, "NO_TIMESTAMP")
    assert (verification.es_id, verification.seal_name) == ("37010000000001", "济南市市场监督管理局电子证照专用章")
    assert (verification.signer_name, verification.signer_uscc, verification.maker_name) == (
        "济南市市场监督管理局",
        USCC,
        "济南市制章中心",
    )
    assert verification.signing_time == SIGNED_AT and not verification.signing_time_trusted
    verified = verify_stamp(
        world.stamp(),
        DOCUMENT,
        trust_roots=[world.ca.root],
        intermediates=[world.ca.intermediate],
        crls=[world.ca.crl(LATER, LATER + dt.timedelta(days=7))],
        at=CHECKED_AT,
    )
    assert verified.result is CheckResult.PASSED


def test_the_structures_hold_what_the_standard_asks(world: World) -> None:
    stamp = SESSignature.load(world.stamp())
    to_sign = stamp["to_sign"]
    seal = to_sign["eseal"]
    info = seal["e_seal_info"]
    assert info["header"].native == {"id": "ES", "version": 4, "vid": "zzgw"}
    assert to_sign["version"].native == 4
    assert info["property"]["type"].native == 1 and info["property"]["cert_list_type"].native == 1
    assert info["property"]["valid_end"].native == NOW + dt.timedelta(days=365)
    assert info["picture"].native == {"type": "PNG", "data": PICTURE, "width": 40, "height": 40}
    assert seal["cert"].native == der(world.maker_cert) and stamp["cert"].native == der(world.holder_cert)
    assert seal["sign_alg_id"].dotted == stamp["signature_alg_id"].dotted == "1.2.156.10197.1.501"
    assert to_sign["data_hash"].native == hashlib.new("sm3", DOCUMENT).digest()
    assert to_sign["time_info"].native == SIGNED_AT and to_sign["property_info"].native == PROPERTY
    assert seal.dump() == world.seal
    verify_sm2(world.maker_key.public_key_der, info.dump(), seal["signed_value"].native)
    verify_sm2(world.holder_key.public_key_der, to_sign.dump(), stamp["signature"].native)
    assert stamp["time_stamp"].native is None and to_sign["ext_datas"].native is None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_verifies_the_stamp_signature(tmp_path: Path, world: World) -> None:
    stamp = SESSignature.load(world.stamp())
    (tmp_path / "tbs").write_bytes(stamp["to_sign"].dump())
    (tmp_path / "sig").write_bytes(stamp["signature"].native)
    body = base64.encodebytes(world.holder_key.public_key_der).decode()
    (tmp_path / "pub.pem").write_text(f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n")
    done = subprocess.run(
        ["openssl", "dgst", "-sm3", "-verify", str(tmp_path / "pub.pem"), "-sigopt", "distid:1234567812345678",
         "-signature", str(tmp_path / "sig"), str(tmp_path / "tbs")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0 and "Verified OK" in done.stdout, done.stderr


def test_async_check_inside_a_running_loop(world: World) -> None:
    stamp, crl = world.stamp(), world.ca.crl(LATER, LATER + dt.timedelta(days=7))

    async def main() -> SesVerification:
        return await async_check_stamp(
            stamp, DOCUMENT, trust_roots=[world.ca.root], intermediates=[world.ca.intermediate], crls=[crl],
            at=CHECKED_AT,
        )  # fmt: skip

    assert asyncio.run(main()).result is CheckResult.PASSED


def test_making_refuses_what_would_not_verify(world: World) -> None:
    other = Sm2Key.generate()
    with pytest.raises(SigningError, match="must be SM2"):
        seal_for(SoftwareKey.generate(), world.maker_cert, [world.holder_cert])  # type: ignore[arg-type]
    with pytest.raises(SigningError, match="does not certify this key"):
        seal_for(other, world.maker_cert, [world.holder_cert])
    with pytest.raises(SigningError, match="not in the seal's certificate list"):
        sign_document(DOCUMENT, seal=world.seal, key=other, cert=world.certify(other), at=SIGNED_AT, property_info="x")
    with pytest.raises(ValueError, match="ASCII"):
        sign_document(DOCUMENT, seal=world.seal, key=world.holder_key, cert=world.holder_cert, at=SIGNED_AT,
                      property_info="签章保护范围")  # fmt: skip
    with pytest.raises(ValueError, match="time zone"):
        world.stamp(at=SIGNED_AT.replace(tzinfo=None))
    with pytest.raises(ValueError, match="valid_start must precede"):
        seal_for(world.maker_key, world.maker_cert, [world.holder_cert], valid_end=NOW)
    with pytest.raises(ValueError, match="PNG"):
        make_seal(maker_key=world.maker_key, maker_cert=world.maker_cert, es_id="1", name="章",
                  signer_certs=[world.holder_cert], created=NOW, valid_start=NOW, valid_end=LATER,
                  picture=b"GIF89a", picture_size_mm=(40, 40))  # fmt: skip
    with pytest.raises(SigningError, match="cannot be read"):
        sign_document(DOCUMENT, seal=b"\x30\x00", key=world.holder_key, cert=world.holder_cert, at=SIGNED_AT,
                      property_info="x")  # fmt: skip
    with pytest.raises(ValueError, match="at most 64 characters"):  # a seal code no check reads (MALFORMED)
        make_seal(maker_key=world.maker_key, maker_cert=world.maker_cert, es_id="1" * (MAX_CODE + 1), name="章",
                  signer_certs=[world.holder_cert], created=NOW, valid_start=NOW, valid_end=LATER,
                  picture=PICTURE, picture_size_mm=(40, 40))  # fmt: skip


# --- a stamp altered after signing ----------------------------------------------------------------------------------


STAMP_EDITS: dict[str, Callable[[SESSignature], None]] = {
    "dataHash": lambda s: s["to_sign"].__setitem__("data_hash", hashlib.new("sm3", b"another").digest()),
    "timeInfo": lambda s: s["to_sign"].__setitem__("time_info", SIGNED_AT - dt.timedelta(days=1)),
    "propertyInfo": lambda s: s["to_sign"].__setitem__("property_info", "zzgw:/licenses/other.pdf"),
    "signature": lambda s: s.__setitem__(
        "signature", bytes([s["signature"].native[0] ^ 1]) + s["signature"].native[1:]
    ),
    "seal name": lambda s: s["to_sign"]["eseal"]["e_seal_info"]["property"].__setitem__("name", "另一枚章"),
}


@pytest.mark.parametrize("field", list(STAMP_EDITS), ids=list(STAMP_EDITS))
def test_an_altered_stamp_fails_its_signature(world: World, field: str) -> None:
    verification = world.check(edited(world.stamp(), STAMP_EDITS[field]))
    assert outcome(verification) == (CheckResult.FAILED, "STAMP_SIGNATURE_INVALID")
    assert verification.integrity.reason == "STAMP_SIGNATURE_INVALID"


def _validity_extended(info: SealInfo) -> None:
    info["property"]["valid_end"] = NOW + dt.timedelta(days=3650)


def _picture_swapped(info: SealInfo) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 255, 255)).save(out, format="PNG")
    info["picture"]["data"] = out.getvalue()


SEAL_EDITS: dict[str, Callable[[SealInfo], None]] = {
    "name": lambda info: info["property"].__setitem__("name", "济南市人民政府"),
    "validEnd": _validity_extended,
    "picture": _picture_swapped,
    "picture size": lambda info: info["picture"].__setitem__("width", 80),
    "esID": lambda info: info.__setitem__("es_id", "37010000000002"),
}


@pytest.mark.parametrize("field", list(SEAL_EDITS), ids=list(SEAL_EDITS))
def test_a_seal_altered_by_its_holder_fails_the_makers_signature(world: World, field: str) -> None:
    """The holder changes the seal and signs a stamp with it: the stamp verifies, the seal does not."""
    to_sign = TbsSign.load(SESSignature.load(world.stamp())["to_sign"].dump())
    SEAL_EDITS[field](to_sign["eseal"]["e_seal_info"])
    verification = world.check(restamp(to_sign, world.holder_key, world.holder_cert))
    assert outcome(verification) == (CheckResult.FAILED, "SEAL_SIGNATURE_INVALID")


def test_a_seal_with_an_added_holder_fails_the_makers_signature(world: World) -> None:
    intruder = Sm2Key.generate()
    intruder_cert = world.certify(intruder, "冒用单位")
    to_sign = TbsSign.load(SESSignature.load(world.stamp())["to_sign"].dump())
    prop = to_sign["eseal"]["e_seal_info"]["property"]
    prop["cert_list"] = Certificates([der(world.holder_cert), der(intruder_cert)])
    verification = world.check(restamp(to_sign, intruder, intruder_cert))
    assert verification.integrity.reason == "SEAL_SIGNATURE_INVALID"
    assert outcome(verification) == (CheckResult.FAILED, "SEAL_SIGNATURE_INVALID")


def test_a_forged_signed_value_fails(world: World) -> None:
    def forge(stamp: SESSignature) -> None:
        value = stamp["to_sign"]["eseal"]["signed_value"].native
        stamp["to_sign"]["eseal"]["signed_value"] = value[:-1] + bytes([value[-1] ^ 1])

    to_sign = TbsSign.load(SESSignature.load(edited(world.stamp(), forge))["to_sign"].dump())
    verification = world.check(restamp(to_sign, world.holder_key, world.holder_cert))
    assert outcome(verification) == (CheckResult.FAILED, "SEAL_SIGNATURE_INVALID")


def test_a_signer_not_in_the_seal_fails(world: World) -> None:
    stranger = Sm2Key.generate()
    stranger_cert = world.certify(stranger)
    to_sign = TbsSign.load(SESSignature.load(world.stamp())["to_sign"].dump())
    verification = world.check(restamp(to_sign, stranger, stranger_cert))
    assert outcome(verification) == (CheckResult.FAILED, "SIGNER_NOT_IN_SEAL")
    assert verification.issuer_identity.result is CheckResult.PASSED  # a valid certificate, just not this seal's


def test_a_changed_document_fails_its_hash(world: World) -> None:
    verification = world.check(world.stamp(), DOCUMENT.replace(b"91370100MA3C4K7L6M", b"91370100MA3C4K7L6N"))
    assert outcome(verification) == (CheckResult.FAILED, "DATA_HASH_MISMATCH")
    assert verification.issuer_identity.result is CheckResult.PASSED


# --- the seal's validity and the certificates -------------------------------------------------------------------


def test_a_stamp_after_the_seal_expired_fails() -> None:
    world = make_world(valid_end=NOW + dt.timedelta(days=5))
    verification = world.check(world.stamp(at=SIGNED_AT))
    assert outcome(verification) == (CheckResult.FAILED, "SEAL_EXPIRED")
    assert (verification.issuer_identity.result, verification.issuer_identity.reason) == (
        CheckResult.FAILED,
        "SEAL_EXPIRED",
    )
    assert verification.integrity.result is CheckResult.PASSED
    assert verification.timestamp.reason == "NO_TIMESTAMP"


def test_a_stamp_before_the_seal_or_in_the_future_fails(world: World) -> None:
    later_seal = make_world(valid_start=SIGNED_AT + dt.timedelta(days=1))
    verification = later_seal.check(later_seal.stamp(at=SIGNED_AT))
    assert outcome(verification) == (CheckResult.FAILED, "SEAL_NOT_YET_VALID")
    assert verification.issuer_identity.reason == "SEAL_NOT_YET_VALID"
    early = world.check(world.stamp(at=SIGNED_AT), at=SIGNED_AT - dt.timedelta(hours=1), crls=[])
    assert (early.timestamp.result, early.timestamp.reason) == (CheckResult.FAILED, "SIGNING_TIME_IN_FUTURE")


def test_a_seal_from_a_lookalike_maker_fails() -> None:
    world = make_world()
    fake = SealMakerCA.create("济南市制章中心", NOW, algorithm=SM2_SM3)
    fake_maker = Sm2Key.generate()
    fake_maker_cert = certify(fake, fake_maker, "济南市制章中心", SEAL_MAKER_NAME)
    seal = seal_for(fake_maker, fake_maker_cert, [world.holder_cert])
    verification = world.check(
        world.stamp(seal=seal),
        intermediates=[world.ca.intermediate, fake.intermediate],
        crls=[world.ca.crl(LATER, LATER + dt.timedelta(days=7)), fake.crl(LATER, LATER + dt.timedelta(days=7))],
    )
    assert outcome(verification) == (CheckResult.FAILED, "MAKER_LOOKALIKE_CA")
    assert verification.integrity.result is CheckResult.PASSED  # the forger's signatures are consistent
    assert verification.maker_name == "济南市制章中心"  # named, but not vouched for


def test_a_seal_made_with_a_holders_seal_key_fails() -> None:
    """Every issuer holds its own seal's key and certificate under the same CA as the maker's: with them it could
    make a seal in any issuer's name and picture, whose stamps passed as that issuer's (found by an independent
    tester). A seal's maker certificate must be a seal maker's."""
    world = make_world()
    civil_key = Sm2Key.generate()
    civil_cert = world.certify(civil_key, "济南市民政局")  # a holder's seal certificate, valid and trusted
    forged = seal_for(civil_key, civil_cert, [world.holder_cert])
    verification = world.check(world.stamp(seal=forged))
    assert outcome(verification) == (CheckResult.FAILED, "MAKER_NOT_A_SEAL_MAKER")
    assert verification.integrity.result is CheckResult.PASSED  # its signatures are consistent
    assert (
        "济南市民政局" in verification.issuer_identity.detail and SEAL_MAKER_NAME in verification.issuer_identity.detail
    )
    assert outcome(world.check(world.stamp())) == (CheckResult.PASSED, None)  # the maker's own seal still passes


def test_an_untrusted_maker_and_signer() -> None:
    world = make_world()
    verification = world.check(world.stamp(), trust_roots=[SealMakerCA.create("别处", NOW, algorithm=SM2_SM3).root])
    assert outcome(verification) == (CheckResult.FAILED, "MAKER_UNTRUSTED_ROOT")


def test_a_signer_revoked_before_the_stamp_fails() -> None:
    world = make_world()
    world.ca.revoke(
        world.holder_cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT - dt.timedelta(days=1)
    )
    verification = world.check(world.stamp())
    assert outcome(verification) == (CheckResult.FAILED, "SIGNER_REVOKED")
    assert verification.issuer_identity.result is CheckResult.FAILED
    assert "revoked" in verification.issuer_identity.detail


def test_a_signer_revoked_after_the_stamp_is_indeterminate_without_a_trusted_time() -> None:
    world = make_world()
    world.ca.revoke(
        world.holder_cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT + dt.timedelta(days=1)
    )
    verification = world.check(world.stamp())
    assert outcome(verification) == (CheckResult.INDETERMINATE, "SIGNER_REVOKED_NO_TRUSTED_TIME")
    # revoked only after the check's "now": nothing to doubt
    assert world.check(world.stamp(), at=SIGNED_AT + dt.timedelta(hours=1)).result is CheckResult.PASSED


def test_a_missing_crl_is_indeterminate(world: World) -> None:
    verification = world.check(world.stamp(), crls=[])
    assert outcome(verification) == (CheckResult.INDETERMINATE, "MAKER_CRL_MISSING")


def test_the_reason_follows_the_standards_order() -> None:
    """Certificates come before the document's hash in GB/T 38540's order."""
    world = make_world()
    world.ca.revoke(world.holder_cert.serial_number, x509.ReasonFlags.key_compromise, at=NOW)
    verification = world.check(world.stamp(), DOCUMENT + b" ")
    assert outcome(verification) == (CheckResult.FAILED, "SIGNER_REVOKED")
    assert verification.integrity.reason == "DATA_HASH_MISMATCH"


# --- the timestamp over the stamp's signature (timeStamp [0]) -------------------------------------------------------


@dataclass
class _Clock:
    moment: dt.datetime

    def now(self) -> dt.datetime:
        return self.moment


def time_stamping(at: dt.datetime = SIGNED_AT) -> tuple[SealMakerCA, TimeStampAuthority]:
    """A TSA (ECDSA, under a CA of its own, as the gateway's is under its ECDSA seal-maker CA), its clock at ``at``."""
    return tsa_under_its_own_ca(ca_name="时间戳中心", name="时间戳服务", since=NOW, days=3650, clock=_Clock(at))


def token_over(authority: TimeStampAuthority) -> Callable[[bytes], bytes]:
    """``sign_document``'s ``time_stamp``: the authority's token (DER ContentInfo) over the signature's SHA-256."""

    def stamp(signature: bytes) -> bytes:
        imprint = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(signature).digest()}
        request = tsp.TimeStampReq({"version": "v1", "message_imprint": imprint, "cert_req": True})
        reply = TimeStampResp.load(authority.respond(request.dump()))
        assert reply["status"]["status"].native == "granted"
        token: bytes = reply["time_stamp_token"].dump()
        return token

    return stamp


def timestamped(world: World, authority: TimeStampAuthority, *, at: dt.datetime = SIGNED_AT) -> bytes:
    return sign_document(
        DOCUMENT,
        seal=world.seal,
        key=world.holder_key,
        cert=world.holder_cert,
        at=at,
        property_info=PROPERTY,
        time_stamp=token_over(authority),
    )


def check_timestamped(
    world: World, stamp: bytes, tsa_ca: SealMakerCA, *, at: dt.datetime = CHECKED_AT, tsa_roots: bool = True
) -> SesVerification:
    return check_stamp(
        stamp,
        DOCUMENT,
        trust_roots=[world.ca.root],
        intermediates=[world.ca.intermediate],
        crls=[world.ca.crl(at, at + dt.timedelta(days=7)), tsa_ca.crl(at, at + dt.timedelta(days=7))],
        at=at,
        tsa_trust_roots=[tsa_ca.root] if tsa_roots else [],
    )


def tlv(data: bytes) -> list[tuple[int, bytes]]:
    """The DER elements one after another in ``data``: (identifier octet, contents), read by hand (single-octet tags,
    definite lengths), so the structure is checked without asn1crypto's classes."""
    elements, at = [], 0
    while at < len(data):
        tag, length, at = data[at], data[at + 1], at + 2
        if length & 0x80:
            octets = length & 0x7F
            length, at = int.from_bytes(data[at : at + octets], "big"), at + octets
        elements.append((tag, data[at : at + length]))
        at += length
    assert at == len(data)
    return elements


def _first_element(data: bytes) -> bytes:
    """The whole first DER element (identifier, length and contents) of ``data``."""
    length = data[1]
    header = 2
    if length & 0x80:
        header += length & 0x7F
        length = int.from_bytes(data[2:header], "big")
    return data[: header + length]


def test_a_timestamp_is_an_rfc_3161_token_over_the_signature_value_in_timestamp_0_as_the_standard_has_it(
    world: World,
) -> None:
    """Read without this module's classes: SES_Signature's fifth element is ``timeStamp [0]`` (explicit, as ofdrw
    writes it) holding a BIT STRING whose bytes are a TimeStampToken (ContentInfo, signed data, TSTInfo) whose
    imprint is the SHA-256 of ``signature``'s bytes (the DER SEQUENCE {r, s}); the rest is as without one."""
    _, authority = time_stamping()
    stamp = timestamped(world, authority)
    ((outer_tag, body),) = tlv(stamp)
    assert outer_tag == 0x30
    elements = tlv(body)
    assert [tag for tag, _ in elements] == [0x30, 0x04, 0x06, 0x03, 0xA0]  # [0] constructed: explicit
    ((inner_tag, bits),) = tlv(elements[4][1])
    assert inner_tag == 0x03 and bits[0] == 0  # a BIT STRING, no unused bits
    signature_value = elements[3][1][1:]
    assert signature_value[0] == 0x30  # SM2: DER SEQUENCE {r, s}
    to_sign = _first_element(body)
    token = cms.ContentInfo.load(bits[1:])
    assert token["content_type"].native == "signed_data"
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert tst_info["message_imprint"]["hashed_message"].native == hashlib.sha256(signature_value).digest()
    assert tst_info["gen_time"].native == SIGNED_AT
    verify_sm2(world.holder_key.public_key_der, to_sign, signature_value)  # the token changes no signed byte
    assert SESSignature.load(stamp)["to_sign"].dump() == SESSignature.load(world.stamp())["to_sign"].dump()


def test_a_timestamped_stamp_passes_after_its_signer_is_revoked_or_has_expired() -> None:
    """Without a timestamp every stamp of a seal revoked or ended since was undecided for good, while a PDF sealed at
    the same moment stayed PASSED (a reviewer, R3): the token's genTime is the signing time now."""
    world = make_world()
    tsa_ca, authority = time_stamping()
    stamp, untimed = timestamped(world, authority), world.stamp()
    world.ca.revoke(world.holder_cert.serial_number, x509.ReasonFlags.superseded, at=SIGNED_AT + dt.timedelta(days=1))
    verification = check_timestamped(world, stamp, tsa_ca)
    assert outcome(verification) == (CheckResult.PASSED, None)
    assert verification.issuer_identity.result is verification.timestamp.result is CheckResult.PASSED
    assert (verification.signing_time, verification.signing_time_trusted) == (SIGNED_AT, True)
    assert outcome(check_timestamped(world, untimed, tsa_ca)) == (
        CheckResult.INDETERMINATE,
        "SIGNER_REVOKED_NO_TRUSTED_TIME",
    )  # an old stamp without one: as before

    ended = NOW + dt.timedelta(days=800)  # every certificate of the seal has ended by then
    fresh = make_world()
    stamp = timestamped(fresh, authority)
    assert outcome(check_timestamped(fresh, stamp, tsa_ca, at=ended)) == (CheckResult.PASSED, None)
    assert outcome(check_timestamped(fresh, fresh.stamp(), tsa_ca, at=ended)) == (
        CheckResult.INDETERMINATE,
        "MAKER_EXPIRED_NO_TRUSTED_TIME",
    )


def test_a_stamp_backdated_before_its_signers_revocation_fails_at_its_timestamps_time() -> None:
    """A leaked key's stamp claiming a time before the revocation: its token says when it was made."""
    world = make_world()
    tsa_ca, authority = time_stamping(SIGNED_AT)
    world.ca.revoke(
        world.holder_cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT - dt.timedelta(days=1)
    )
    stamp = timestamped(world, authority, at=SIGNED_AT - dt.timedelta(days=2))
    verification = check_timestamped(world, stamp, tsa_ca)
    assert outcome(verification) == (CheckResult.FAILED, "SIGNER_REVOKED")
    assert verification.signing_time == SIGNED_AT


def test_a_token_not_over_the_stamps_signature_or_unreadable_fails() -> None:
    world = make_world()
    tsa_ca, authority = time_stamping()
    other = SESSignature.load(timestamped(world, authority))["time_stamp"].native  # another stamp's, same document
    for token in (other, b"\x30\x03\x02\x01\x01", b"\x04\x03abc"):
        stamp = edited(timestamped(world, authority), lambda s, t=token: s.__setitem__("time_stamp", t))
        verification = check_timestamped(world, stamp, tsa_ca)
        assert outcome(verification) == (CheckResult.FAILED, "TIMESTAMP_INVALID"), token[:8]
        assert (verification.timestamp.result, verification.timestamp.reason) == (
            CheckResult.FAILED,
            "TIMESTAMP_INVALID",
        )
        assert verification.signing_time_trusted is False


def test_a_token_from_an_untrusted_or_revoked_authority_proves_no_time() -> None:
    """As ``VerifyDocument`` reads a PDF seal's: INDETERMINATE TIMESTAMP_UNTRUSTED for a stamp that passes as of now;
    one undecided for want of a time keeps its reason, saying why the timestamp gives none."""
    world = make_world()
    tsa_ca, authority = time_stamping()
    stamp = timestamped(world, authority)
    verification = check_timestamped(world, stamp, tsa_ca, tsa_roots=False)
    assert outcome(verification) == (CheckResult.INDETERMINATE, "TIMESTAMP_UNTRUSTED")
    assert verification.issuer_identity.reason == verification.timestamp.reason == "TIMESTAMP_UNTRUSTED"
    assert verification.timestamp.result is CheckResult.INDETERMINATE

    world.ca.revoke(world.holder_cert.serial_number, x509.ReasonFlags.superseded, at=SIGNED_AT + dt.timedelta(days=1))
    verification = check_timestamped(world, stamp, tsa_ca, tsa_roots=False)
    assert outcome(verification) == (CheckResult.INDETERMINATE, "SIGNER_REVOKED_NO_TRUSTED_TIME")
    assert "the timestamp is not trusted" in verification.issuer_identity.detail

    tsa_cert = x509.load_der_x509_certificate(
        cms.ContentInfo.load(SESSignature.load(stamp)["time_stamp"].native)["content"]["certificates"][0].chosen.dump()
    )
    tsa_ca.revoke(tsa_cert.serial_number, x509.ReasonFlags.key_compromise, at=LATER)
    verification = check_timestamped(world, stamp, tsa_ca)
    assert outcome(verification) == (CheckResult.INDETERMINATE, "SIGNER_REVOKED_NO_TRUSTED_TIME")
    assert "revoked" in verification.timestamp.detail


def test_a_trusted_timestamp_to_come_fails_the_identity() -> None:
    world = make_world()
    tsa_ca, authority = time_stamping(CHECKED_AT + dt.timedelta(days=3))
    verification = check_timestamped(world, timestamped(world, authority), tsa_ca)
    assert outcome(verification) == (CheckResult.FAILED, "SIGNING_TIME_IN_FUTURE")


# --- input that is not a stamp this module reads --------------------------------------------------------------------


def _header(field: str, value: object) -> Callable[[SESSignature], None]:
    return lambda s: s["to_sign"]["eseal"]["e_seal_info"]["header"].__setitem__(field, value)


MALFORMED: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "empty": (lambda s: b"", "MALFORMED"),
    "garbage": (lambda s: b"\x30\x82\x01\x00" + bytes(256), "MALFORMED"),
    "truncated": (lambda s: s[: len(s) // 2], "MALFORMED"),
    "trailing bytes": (lambda s: s + b"\x00", "MALFORMED"),
    "too large": (lambda s: s + bytes(MAX_STAMP_BYTES), "TOO_LARGE"),
    "header ID": (lambda s: edited(s, _header("id", "XX")), "MALFORMED"),
    "seal code": (  # longer than any code: it would be signed into receipts as the stamp's claim
        lambda s: edited(s, lambda p: p["to_sign"]["eseal"]["e_seal_info"].__setitem__("es_id", "A" * 65)),
        "MALFORMED",
    ),
    "version 5": (lambda s: edited(s, _header("version", 5)), "UNSUPPORTED_VERSION"),
    "stamp version": (lambda s: edited(s, lambda p: p["to_sign"].__setitem__("version", 1)), "VERSION_MISMATCH"),
    "ECDSA algorithm": (
        lambda s: edited(s, lambda p: p.__setitem__("signature_alg_id", "1.2.840.10045.4.3.2")),
        "UNSUPPORTED_ALGORITHM",
    ),
    "certificate digests": (
        lambda s: edited(
            s, lambda p: p["to_sign"]["eseal"]["e_seal_info"]["property"].__setitem__("cert_list_type", 2)
        ),
        "UNSUPPORTED_CERT_LIST_TYPE",
    ),
    "signer certificate": (lambda s: edited(s, lambda p: p.__setitem__("cert", b"\x30\x03\x02\x01\x01")), "MALFORMED"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_unreadable_stamps_fail_without_raising(world: World, case: str) -> None:
    alter, reason = MALFORMED[case]
    verification = world.check(alter(world.stamp()))
    assert outcome(verification) == (CheckResult.FAILED, reason)
    assert verification.integrity.reason == reason


def test_the_codes_a_stamp_claims_are_read_up_to_the_length_of_a_code(world: World) -> None:
    """The seal code and the signer's USCC go into receipts as the stamp claims them: a seal code longer than any
    (``MAX_CODE``) makes the stamp MALFORMED, saying so; such an organizationIdentifier is not read as a USCC."""
    at_most = edited(world.stamp(), lambda p: p["to_sign"]["eseal"]["e_seal_info"].__setitem__("es_id", "A" * 64))
    assert world.check(at_most).es_id == "A" * 64  # read, though the maker's signature no longer holds
    longer = world.check(
        edited(world.stamp(), lambda p: p["to_sign"]["eseal"]["e_seal_info"].__setitem__("es_id", "A" * 65))
    )
    assert longer.es_id is None and longer.integrity.detail == (
        "电子签章无法读取（the seal's code (esID) has 65 characters; a seal code has at most 64）"
    )
    holder_key = Sm2Key.generate()
    long_uscc = world.ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc="9" * (MAX_CODE + 1),
        seal_name="电子证照专用章",
        public_key=holder_key.public_key_der,
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=730),
    )
    seal = seal_for(world.maker_key, world.maker_cert, [long_uscc])
    stamp = sign_document(DOCUMENT, seal=seal, key=holder_key, cert=long_uscc, at=SIGNED_AT, property_info=PROPERTY)
    verification = world.check(stamp)
    assert verification.signer_uscc is None and verification.signer_name == "济南市市场监督管理局"
    assert verification.es_id == "37010000000001"


def test_an_unreadable_stamp_is_said_in_words_for_its_sender(world: World) -> None:
    """Not the parsers' codec errors, ASN.1 internals or "trailing data" for a stamp sent as text."""
    import base64

    stamp = world.stamp()
    pem = b"-----BEGIN SES SIGNATURE-----\n" + base64.encodebytes(stamp) + b"-----END SES SIGNATURE-----\n"
    said = {
        "pem": (pem, "it is PEM text; send the DER bytes it armours"),
        "base64": (base64.b64encode(stamp), "it is base64 text; send the decoded DER bytes"),
        "pdf": (DOCUMENT, "it is a PDF; a stamp is the DER SES_Signature that StampDocument returned"),
        "trailing": (stamp + b"\x00", "bytes follow the end of its DER structure"),
    }
    for case, (given, words) in said.items():
        detail = world.check(given).integrity.detail
        assert detail == f"电子签章无法读取（the stamp is not a GB/T 38540 SES_Signature: {words}）", case
    garbage_cert = edited(stamp, lambda p: p.__setitem__("cert", b"\x30\x03\x02\x01\x01"))
    assert world.check(garbage_cert).integrity.detail == (
        "电子签章无法读取（the signer certificate cannot be read as a DER X.509 certificate）"
    )


def test_der_that_would_keep_asn1crypto_reading_for_hours_is_malformed_before_it_reads_it(
    world: World, long_tags_kept_from_asn1crypto: list[int]
) -> None:
    """A stamp of 0xFF bytes is one tag number that never ends, which asn1crypto reads in time in the square of its
    length (1 MB: eight minutes, and the watchdog stopped the gateway); ``signing.der`` refuses it first."""
    endless = b"\x1f" + b"\xff" * (MAX_STAMP_BYTES - 16)
    shapes = {
        "0xFF": (b"\xff" * MAX_STAMP_BYTES, "a tag number of more than 4 octets at offset 0"),
        "a SEQUENCE of one": (b"\x30\x84" + len(endless).to_bytes(4, "big") + endless, "a tag number of more than 4 "
                              "octets at offset 6"),
    }  # fmt: skip
    for shape, (stamp, why) in shapes.items():
        verification = world.check(stamp)
        assert outcome(verification) == (CheckResult.FAILED, "MALFORMED"), shape
        assert verification.integrity.detail == (
            f"电子签章无法读取（the stamp is not a GB/T 38540 SES_Signature: its DER structure is malformed ({why})）"
        ), shape
    assert long_tags_kept_from_asn1crypto == []


def test_verify_stamp_raises_with_the_reason(world: World) -> None:
    with pytest.raises(InvalidSignature, match="DATA_HASH_MISMATCH"):
        verify_stamp(world.stamp(), b"other", trust_roots=[world.ca.root], intermediates=[world.ca.intermediate],
                     crls=[world.ca.crl(LATER, LATER + dt.timedelta(days=7))], at=CHECKED_AT)  # fmt: skip


def test_public_key_of_the_maker_is_in_the_seal(world: World) -> None:
    maker = x509.load_der_x509_certificate(SESeal.load(world.seal)["cert"].native)
    assert public_key_der(maker) == world.maker_key.public_key_der


def test_local_times_are_malformed(world: World) -> None:
    stamp = world.stamp()
    utc = SIGNED_AT.strftime("%Y%m%d%H%M%SZ").encode()
    assert stamp.count(utc) == 1
    verification = world.check(stamp.replace(utc, utc[:-1] + b"0"))  # same length, no Z: a local time
    assert outcome(verification) == (CheckResult.FAILED, "MALFORMED")


def test_flipped_bits_never_pass_and_never_raise(world: World) -> None:
    stamp = world.stamp()
    crls = [world.ca.crl(LATER, LATER + dt.timedelta(days=7))]
    rng = random.Random(38540)
    reasons = set()
    for _ in range(100):
        data = bytearray(stamp)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        verification = world.check(bytes(data), crls=crls)
        assert verification.result is not CheckResult.PASSED
        reasons.add(verification.reason)
    assert {"MALFORMED", "STAMP_SIGNATURE_INVALID"} <= reasons
