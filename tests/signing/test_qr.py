"""The verification QR code: COSE_Sign1 over CBOR claims, zlib, base45, ``ZZ1:``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib
from collections.abc import Callable

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from gateway.domain.identifiers import LicenseId
from gateway.domain.model import Holder, LicenseContent, mask_name
from signing.errors import InvalidSignature
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SoftwareKey
from signing.qr import (
    MAX_PAYLOAD,
    MAX_TEXT,
    Finding,
    QrClaims,
    QrVerification,
    check_qr,
    encode_qr,
    qr_png,
    states,
    verify_qr,
)
from signing.results import CheckResult as Result

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
CITIZEN_ID = "370102199003077777"
LICENSE_ID = LicenseId(
    type_code="11100000991000019E001", issuer_code="1137010099370102XJ", serial="0MWR2CLPAMQZZLSQ1JX6", version=2
)
NOW = dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC)
REASONS = {"SIGNATURE_INVALID", "NOT_ZZ1", "MALFORMED", "TOO_LARGE", "KEY_MISMATCH", "UNSUPPORTED_ALGORITHM"}


@pytest.fixture(scope="module")
def ec_key() -> SoftwareKey:
    return SoftwareKey.generate(ECDSA_P256_SHA256)


@pytest.fixture(scope="module")
def rsa_key() -> SoftwareKey:
    return SoftwareKey.generate(RSA2048_SHA256)


@pytest.fixture(scope="module", params=[ECDSA_P256_SHA256, RSA2048_SHA256], ids=["ES256", "RS256"])
def key(request: pytest.FixtureRequest, ec_key: SoftwareKey, rsa_key: SoftwareKey) -> SoftwareKey:
    return ec_key if request.param == ECDSA_P256_SHA256 else rsa_key


def content(*, valid_until: dt.date | None = dt.date(2034, 12, 31)) -> LicenseContent:
    return LicenseContent(
        license_id=str(LICENSE_ID),
        type_code=LICENSE_ID.type_code,
        license_number="370102199003077777",
        holder=Holder(name="张三丰", code_type="111", code=CITIZEN_ID),
        issuer_code=LICENSE_ID.issuer_code,
        issue_date=dt.date(2024, 12, 31),
        valid_from=dt.date(2025, 1, 1),
        valid_until=valid_until,
        region_code="370102",
        fields={"address": "山东省济南市历下区"},
        version=LICENSE_ID.version,
    )


def claims(*, valid_until: dt.date | None = dt.date(2034, 12, 31)) -> QrClaims:
    return QrClaims.of(content(valid_until=valid_until), issued_at=NOW.replace(microsecond=123))


def message_of(text: str) -> bytes:
    """The COSE message inside a ``ZZ1:`` text, decoded by hand."""
    assert text.startswith("ZZ1:")
    return zlib.decompress(base45.b45decode(text[4:]))


def wrap(message: bytes) -> str:
    """A ``ZZ1:`` text around any bytes."""
    return "ZZ1:" + base45.b45encode(zlib.compress(message)).decode()


def kid(key: SoftwareKey) -> bytes:
    return bytes.fromhex(key.key_id)[:8]


def sign1(
    key: SoftwareKey,
    claims_map: object,
    *,
    alg: int | None = None,
    header: dict[int, object] | None = None,
    unprotected: dict[int, object] | None = None,
    tweak: Callable[[bytes], bytes] = lambda s: s,
) -> str:
    """A ``ZZ1:`` text signed properly by ``key`` over whatever claims and headers the test needs."""
    default_alg = -7 if key.algorithm == ECDSA_P256_SHA256 else -257
    protected = cbor2.dumps(header if header is not None else {1: alg or default_alg, 4: kid(key)})
    payload = cbor2.dumps(claims_map)
    signature = key.sign(cbor2.dumps(["Signature1", protected, b"", payload]))
    if key.algorithm == ECDSA_P256_SHA256:
        r, s = decode_dss_signature(signature)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected or {}, payload, tweak(signature)])))


def keyed(values: dict[int, object], key: int, instead: object) -> dict[object, object]:
    """``values`` with ``key`` written as ``instead`` (``True`` or ``2.0``: equal in Python, not in CBOR)."""
    return {instead if number == key else number: value for number, value in values.items()}


def bignum(value: int) -> cbor2.CBORTag:
    """``value`` as a CBOR tag-2 bignum, which cbor2 reads back as an int."""
    return cbor2.CBORTag(2, value.to_bytes((value.bit_length() + 7) // 8, "big"))


def good_map(**changes: object) -> dict[int, object]:
    values: dict[int, object] = {
        1: LICENSE_ID.serial,
        2: LICENSE_ID.version,
        3: LICENSE_ID.type_code,
        4: LICENSE_ID.issuer_code,
        5: 20250101,
        6: 20341231,
        7: "张**",
        8: "3701**********7777",
        9: int(NOW.timestamp()),
    }
    for name, value in changes.items():
        number = int(name.removeprefix("k"))
        if value is None:
            del values[number]
        else:
            values[number] = value
    return values


# --- round trip and format ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("valid_until", [dt.date(2034, 12, 31), None], ids=["dated", "open-ended"])
def test_round_trip(key: SoftwareKey, valid_until: dt.date | None) -> None:
    stated = claims(valid_until=valid_until)
    text = encode_qr(key, stated)

    verification = check_qr(text, key.public_key_der, now=NOW)

    assert verification == QrVerification(
        claims=stated,
        integrity=Finding(result=Result.PASSED),
        validity=Finding(result=Result.PASSED),
    )
    assert (verification.result, verification.reason) == (Result.PASSED, None)
    assert verify_qr(text, key.public_key_der, now=NOW) == stated
    assert stated.license_id == str(LICENSE_ID)
    assert stated.issued_at == dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC)


def test_the_text_is_qr_alphanumeric(key: SoftwareKey) -> None:
    text = encode_qr(key, claims())
    assert set(text) <= set(BASE45_ALPHABET)


def test_an_es256_code_for_a_typical_license_is_short(ec_key: SoftwareKey) -> None:
    # a gateway-issued identifier (20-character serial), a three-character name, a citizen ID, both dates
    assert len(encode_qr(ec_key, claims())) < 300


@pytest.mark.parametrize(
    ("algorithm", "protected_prefix"),
    [(ECDSA_P256_SHA256, "a201260448"), (RSA2048_SHA256, "a2013901000448")],
    ids=["ES256", "RS256"],
)
def test_cose_structure_decoded_by_hand(
    algorithm: str, protected_prefix: str, ec_key: SoftwareKey, rsa_key: SoftwareKey
) -> None:
    key = ec_key if algorithm == ECDSA_P256_SHA256 else rsa_key
    text = encode_qr(key, claims())

    item = cbor2.loads(message_of(text))

    assert isinstance(item, cbor2.CBORTag)
    assert item.tag == 18
    protected, unprotected, payload, signature = item.value
    # {1: alg, 4: kid}: a2 = map of 2; 01 26 = 1: -7; 01 39 0100 = 1: -257; 04 48 = 4: bstr of 8
    assert protected == bytes.fromhex(protected_prefix) + kid(key)
    assert unprotected == {}
    assert cbor2.loads(payload) == {
        1: "0MWR2CLPAMQZZLSQ1JX6",
        2: 2,
        3: "11100000991000019E001",
        4: "1137010099370102XJ",
        5: 20250101,
        6: 20341231,
        7: "张**",
        8: "3701**********7777",
        9: 1748764800,
    }
    assert list(cbor2.loads(payload)) == list(range(1, 10))
    # the signature verifies with cryptography alone, over a Sig_structure built here
    sig_structure = cbor2.dumps(["Signature1", protected, b"", payload])
    public_key = serialization.load_der_public_key(key.public_key_der)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        assert len(signature) == 64
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        public_key.verify(der, sig_structure, ec.ECDSA(hashes.SHA256()))
    else:
        assert isinstance(public_key, rsa.RSAPublicKey)
        assert len(signature) == 256
        public_key.verify(signature, sig_structure, padding.PKCS1v15(), hashes.SHA256())


def test_the_holder_is_masked_in_the_payload(ec_key: SoftwareKey) -> None:
    message = message_of(encode_qr(ec_key, claims()))

    assert CITIZEN_ID.encode() not in message
    assert "张三丰".encode() not in message
    assert "三".encode() not in message
    assert b"3701**********7777" in message


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张**"), ("张三丰", "张**"), ("欧阳娜娜", "欧**"), ("张", "**"), ("", "")]
)
def test_mask_name(name: str, masked: str) -> None:
    """The surname stays, the length goes: 张** for 张三 and 张三丰 alike (it had been 张* and 张**)."""
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("changes", "stated"),
    [
        ({}, True),
        ({"issued_at": NOW + dt.timedelta(days=3650)}, True),  # the time is not a claim about the license
        ({"holder_name": "张*"}, True),  # masks of other days: the same holder, more or less of it shown
        ({"holder_name": "张三**"}, True),
        ({"holder_name": "***"}, True),
        ({"holder_code": "370102********7777"}, True),
        ({"holder_code": "3701**********7777"}, True),
        ({"holder_name": "王**"}, False),  # another holder
        ({"holder_name": "张三丰*"}, False),  # hides nothing of it
        ({"holder_name": "张*丰*"}, False),  # no mask this module ever wrote
        ({"holder_code": "3701**********0000"}, False),
        ({"valid_until": dt.date(2099, 12, 31)}, False),
        ({"valid_until": None}, False),
        ({"valid_from": dt.date(2024, 1, 1)}, False),
    ],
)
def test_states_tells_the_claims_a_code_drawn_for_the_content_states(changes: dict[str, object], stated: bool) -> None:
    """Whether a code's claims are those of a license version, whatever time it states and however a mask of the day
    showed its holder: what the gateway compares before taking a code for the one it drew (review issuecheck, R1)."""
    assert states(dataclasses.replace(claims(), **changes), content()) is stated  # type: ignore[arg-type]


def test_qr_png_is_a_png(ec_key: SoftwareKey) -> None:
    png = qr_png(encode_qr(ec_key, claims()))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


# --- tampering: never an exception, always FAILED -------------------------------------------------------------------


def test_one_character_changed_anywhere_fails(key: SoftwareKey) -> None:
    text = encode_qr(key, claims())
    original = message_of(text)
    same_content = 0
    for position in range(4, len(text)):
        for shift in (1, 17):
            replacement = BASE45_ALPHABET[(BASE45_ALPHABET.index(text[position]) + shift) % 45]
            changed = text[:position] + replacement + text[position + 1 :]

            verification = check_qr(changed, key.public_key_der, now=NOW)

            if verification.result is Result.PASSED:
                # deflate can spell the same bytes two ways: then the content is exactly what was signed
                assert message_of(changed) == original, (position, replacement)
                same_content += 1
            else:
                assert verification.result is Result.FAILED, (position, replacement)
                assert verification.integrity.reason in REASONS, (position, replacement)
    assert same_content <= (len(text) - 4) * 2 // 100


@pytest.mark.parametrize(
    "text",
    ["HC1:NCFOXN%TS", "ZZ2:NCFOXN%TS", "zz1:NCFOXN%TS", "ZZ1", "", "ZZ1 :ABC", " ZZ1:ABC"],
    ids=["eu-dcc", "next-version", "lower-case", "no-colon", "empty", "space-before-colon", "leading-space"],
)
def test_a_wrong_prefix_fails_as_not_zz1(text: str, ec_key: SoftwareKey) -> None:
    verification = check_qr(text, ec_key.public_key_der, now=NOW)
    assert (verification.result, verification.reason, verification.claims) == (Result.FAILED, "NOT_ZZ1", None)


MALFORMED: list[tuple[str, str]] = [
    ("nothing after the prefix", "ZZ1:"),
    ("lower-case base45", "ZZ1:ncfoxn"),
    ("not base45 at all", "ZZ1:NCF#OXN"),
    ("base45 of impossible length", "ZZ1:NCFO"),
    ("base45 group above 0xFFFF", "ZZ1:GGW"),
    ("trailing newline", "ZZ1:NCFOXN\n"),
    ("not zlib", "ZZ1:" + base45.b45encode(b"this is not zlib").decode()),
    ("truncated zlib", "ZZ1:" + base45.b45encode(zlib.compress(b"\x01" * 40)[:-3]).decode()),
    ("data after the zlib stream", "ZZ1:" + base45.b45encode(zlib.compress(b"\x01") + b"\x00").decode()),
    ("not CBOR", wrap(b"\xff\xfe\xfd")),
    ("CBOR cut short", wrap(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""]))[:-1])),
    ("not tag 18", wrap(cbor2.dumps(cbor2.CBORTag(98, [b"", {}, b"", b""])))),
    ("untagged", wrap(cbor2.dumps([b"", {}, b"", b""]))),
    ("three elements", wrap(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b""])))),
    ("protected header not a bstr", wrap(cbor2.dumps(cbor2.CBORTag(18, [{1: -7}, {}, b"", b""])))),
    ("two CBOR items", wrap(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])) + b"\x00")),
]


@pytest.mark.parametrize("text", [t for _, t in MALFORMED], ids=[w for w, _ in MALFORMED])
def test_undecodable_text_fails_as_malformed(text: str, ec_key: SoftwareKey) -> None:
    verification = check_qr(text, ec_key.public_key_der, now=NOW)
    assert (verification.result, verification.reason, verification.claims) == (Result.FAILED, "MALFORMED", None)
    assert verification.validity == Finding(result=Result.INDETERMINATE, reason="NOT_CHECKED")


SIGNED_BUT_WRONG: list[tuple[str, Callable[[SoftwareKey, SoftwareKey], str], str]] = [
    # (what, build(key, other_key), reason): each text is signed by ``key`` unless it says otherwise
    ("claim missing", lambda k, o: sign1(k, good_map(k8=None)), "MALFORMED"),
    ("unknown claim", lambda k, o: sign1(k, good_map(k10="x")), "MALFORMED"),
    ("holder not masked", lambda k, o: sign1(k, good_map(k8=CITIZEN_ID)), "MALFORMED"),
    ("version as text", lambda k, o: sign1(k, good_map(k2="2")), "MALFORMED"),
    ("no such date", lambda k, o: sign1(k, good_map(k5=20250230)), "MALFORMED"),
    ("negative time", lambda k, o: sign1(k, good_map(k9=-1)), "MALFORMED"),
    ("bad serial", lambda k, o: sign1(k, good_map(k1="abc")), "MALFORMED"),
    ("claims not a map", lambda k, o: sign1(k, [1, 2, 3]), "MALFORMED"),
    ("duplicate header", lambda k, o: sign1(k, good_map(), header={1: -7, 4: kid(k), 5: b""}), "MALFORMED"),
    ("short kid", lambda k, o: sign1(k, good_map(), header={1: -7, 4: kid(k)[:4]}), "MALFORMED"),
    ("unprotected header", lambda k, o: sign1(k, good_map(), unprotected={4: kid(k)}), "MALFORMED"),
    ("EdDSA", lambda k, o: sign1(k, good_map(), alg=-8), "UNSUPPORTED_ALGORITHM"),
    # keys of another type that Python takes as equal (True == 1 == 1.0), and bignums that cbor2 reads as integers:
    # they had passed, where the page and its reading in test_qr_vectors answer MALFORMED (a reviewer)
    ("claims keyed by true", lambda k, o: sign1(k, keyed(good_map(), 1, True)), "MALFORMED"),
    ("claims keyed by 2.0", lambda k, o: sign1(k, keyed(good_map(), 2, 2.0)), "MALFORMED"),
    ("version as a bignum", lambda k, o: sign1(k, good_map(k2=cbor2.CBORTag(2, b"\x02"))), "MALFORMED"),
    ("issued-at as a bignum", lambda k, o: sign1(k, good_map(k9=bignum(int(NOW.timestamp())))), "MALFORMED"),
    ("header keyed by true and 4.0", lambda k, o: sign1(k, good_map(), header={True: -7, 4.0: kid(k)}), "MALFORMED"),
    ("alg as a negative bignum", lambda k, o: sign1(k, good_map(), header={1: cbor2.CBORTag(3, b"\x06"), 4: kid(k)}),
     "MALFORMED"),
    ("signed by another key", lambda k, o: sign1(o, good_map()), "KEY_MISMATCH"),
    ("kid copied by another key", lambda k, o: sign1(o, good_map(), header={1: -7, 4: kid(k)}), "SIGNATURE_INVALID"),
    ("RS256 header on an EC key", lambda k, o: sign1(k, good_map(), alg=-257), "SIGNATURE_INVALID"),
    ("SM2 header on an EC key", lambda k, o: sign1(k, good_map(), alg=-65537), "SIGNATURE_INVALID"),
    ("signature cut short", lambda k, o: sign1(k, good_map(), tweak=lambda s: s[:-1]), "SIGNATURE_INVALID"),
    ("signature flipped", lambda k, o: sign1(k, good_map(), tweak=lambda s: s[:-1] + bytes([s[-1] ^ 1])),
     "SIGNATURE_INVALID"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "reason"), [c[1:] for c in SIGNED_BUT_WRONG], ids=[c[0] for c in SIGNED_BUT_WRONG])
def test_wrong_content_or_signature_fails(
    build: Callable[[SoftwareKey, SoftwareKey], str], reason: str, ec_key: SoftwareKey
) -> None:
    other = SoftwareKey.generate(ECDSA_P256_SHA256)
    verification = check_qr(build(ec_key, other), ec_key.public_key_der, now=NOW)
    assert (verification.result, verification.reason) == (Result.FAILED, reason)
    assert verification.validity.result is Result.INDETERMINATE


def test_validly_signed_claims_of_an_indefinite_length_are_malformed(ec_key: SoftwareKey) -> None:
    """The page's reading refuses an indefinite length (the gateway writes none); the gateway had read one."""
    payload = b"\xbf" + b"".join(cbor2.dumps(k) + cbor2.dumps(v) for k, v in good_map().items()) + b"\xff"
    protected = cbor2.dumps({1: -7, 4: kid(ec_key)})
    r, s = decode_dss_signature(ec_key.sign(cbor2.dumps(["Signature1", protected, b"", payload])))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    text = wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature])))
    assert cbor2.loads(payload) == good_map()  # a map cbor2 reads
    verification = check_qr(text, ec_key.public_key_der, now=NOW)
    assert (verification.result, verification.reason) == (Result.FAILED, "MALFORMED")


def test_the_helper_signs_like_the_module(ec_key: SoftwareKey) -> None:
    """The table above is only meaningful if its unaltered case passes."""
    assert check_qr(sign1(ec_key, good_map()), ec_key.public_key_der, now=NOW).result is Result.PASSED


def test_a_bad_signature_still_shows_the_stated_claims(ec_key: SoftwareKey) -> None:
    forged = sign1(ec_key, good_map(), tweak=lambda s: bytes(64))
    verification = check_qr(forged, ec_key.public_key_der, now=NOW)
    assert verification.reason == "SIGNATURE_INVALID"
    assert verification.claims is not None
    assert verification.claims.license_id == str(LICENSE_ID)


def test_a_code_relabelled_sm2_is_signature_invalid_where_openssl_has_no_sm2(
    key: SoftwareKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone can re-encode a printed code's header as SM2 (-65537) under its real kid: an ECDSA or RSA key is not
    an SM2 key, whatever libcrypto offers. Where it offers no SM2 (FIPS, another host) this had raised Sm2Unavailable
    out of check_qr (VerifyLicense INTERNAL; a reviewer)."""
    import signing.sm2

    def no_sm2() -> signing.sm2.Libcrypto:
        raise signing.sm2.Sm2Unavailable("'libcrypto.so.3' offers no SM2 or SM3 (built without them, or FIPS only)")

    monkeypatch.setattr(signing.sm2, "library", no_sm2)
    relabelled = sign1(key, good_map(), alg=-65537)
    verification = check_qr(relabelled, key.public_key_der, now=NOW)
    assert (verification.result, verification.reason) == (Result.FAILED, "SIGNATURE_INVALID")


def test_verified_with_another_key_fails(key: SoftwareKey, ec_key: SoftwareKey, rsa_key: SoftwareKey) -> None:
    text = encode_qr(key, claims())
    for other in (SoftwareKey.generate(key.algorithm), rsa_key if key is ec_key else ec_key):
        verification = check_qr(text, other.public_key_der, now=NOW)
        assert (verification.result, verification.reason) == (Result.FAILED, "KEY_MISMATCH")
        with pytest.raises(InvalidSignature, match="KEY_MISMATCH"):
            verify_qr(text, other.public_key_der, now=NOW)


# --- validity -----------------------------------------------------------------------------------------------------

CST = dt.timezone(dt.timedelta(hours=8))
VALIDITY = [
    # (what, now, result, reason); valid 2025-01-01 to 2034-12-31 in China Standard Time
    ("first day, midnight CST", dt.datetime(2025, 1, 1, 0, 0, tzinfo=CST), Result.PASSED, None),
    ("the evening before, UTC still 2024", dt.datetime(2024, 12, 31, 15, 59, tzinfo=dt.UTC), Result.FAILED,
     "NOT_YET_VALID"),
    ("a year early", dt.datetime(2024, 1, 1, tzinfo=dt.UTC), Result.FAILED, "NOT_YET_VALID"),
    ("last day, late evening CST", dt.datetime(2034, 12, 31, 23, 59, tzinfo=CST), Result.PASSED, None),
    ("the day after in CST, UTC still the last day", dt.datetime(2034, 12, 31, 16, 0, tzinfo=dt.UTC), Result.FAILED,
     "EXPIRED"),
    ("years later", dt.datetime(2040, 1, 1, tzinfo=dt.UTC), Result.FAILED, "EXPIRED"),
]  # fmt: skip


@pytest.mark.parametrize(("now", "result", "reason"), [v[1:] for v in VALIDITY], ids=[v[0] for v in VALIDITY])
def test_validity_by_date(key: SoftwareKey, now: dt.datetime, result: Result, reason: str) -> None:
    verification = check_qr(encode_qr(key, claims()), key.public_key_der, now=now)

    assert verification.integrity == Finding(result=Result.PASSED)
    assert verification.validity == Finding(result=result, reason=reason)
    assert (verification.result, verification.reason) == (result, reason)


def test_verify_raises_for_an_expired_code(ec_key: SoftwareKey) -> None:
    text = encode_qr(ec_key, claims())
    with pytest.raises(InvalidSignature, match="EXPIRED"):
        verify_qr(text, ec_key.public_key_der, now=dt.datetime(2040, 1, 1, tzinfo=dt.UTC))


def test_an_open_ended_license_never_expires(ec_key: SoftwareKey) -> None:
    text = encode_qr(ec_key, claims(valid_until=None))
    later = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)
    assert check_qr(text, ec_key.public_key_der, now=later).result is Result.PASSED


def test_now_must_be_timezone_aware(ec_key: SoftwareKey) -> None:
    with pytest.raises(ValueError, match="timezone"):
        check_qr(encode_qr(ec_key, claims()), ec_key.public_key_der, now=dt.datetime(2025, 6, 1))


# --- size limits ----------------------------------------------------------------------------------------------------


def test_oversize_text_is_refused_before_decoding(ec_key: SoftwareKey) -> None:
    text = encode_qr(ec_key, claims())
    padded = text + "0" * (MAX_TEXT + 1 - len(text))
    assert check_qr(padded, ec_key.public_key_der, now=NOW).reason == "TOO_LARGE"
    assert check_qr("ZZ1:" + "%" * 100_000, ec_key.public_key_der, now=NOW).reason == "TOO_LARGE"


# 2 MiB of zeros still fits in a QR-sized text: deflate compresses up to about 1000:1
@pytest.mark.parametrize(
    ("size", "reason"), [(MAX_PAYLOAD, "MALFORMED"), (MAX_PAYLOAD + 1, "TOO_LARGE"), (2 * 2**20, "TOO_LARGE")]
)
def test_a_zip_bomb_is_refused(size: int, reason: str, ec_key: SoftwareKey) -> None:
    text = wrap(b"\x00" * size)
    assert len(text) <= MAX_TEXT
    verification = check_qr(text, ec_key.public_key_der, now=NOW)
    assert (verification.result, verification.reason) == (Result.FAILED, reason)


# --- models -------------------------------------------------------------------------------------------------------

CLAIM_PROBLEMS: list[tuple[str, dict[str, object], str]] = [
    ("holder code not masked", {"holder_code": CITIZEN_ID}, "masked"),
    ("holder name not masked", {"holder_name": "张三丰"}, "masked"),
    ("type code differs from the identifier", {"type_code": "11100000991000043Y001"}, "differ"),
    ("version differs from the identifier", {"version": 3}, "differ"),
    ("not a license identifier", {"license_id": "1.2.3"}, "must start with"),
    ("ends before it starts", {"valid_until": dt.date(2024, 1, 1)}, "before"),
    ("naive issue time", {"issued_at": dt.datetime(2025, 6, 1)}, "timezone"),
    ("fractional issue time", {"issued_at": NOW.replace(microsecond=5)}, "whole seconds"),
]


@pytest.mark.parametrize(("changes", "message"), [c[1:] for c in CLAIM_PROBLEMS], ids=[c[0] for c in CLAIM_PROBLEMS])
def test_claims_check_their_invariants(changes: dict[str, object], message: str) -> None:
    good = claims()
    values = {name: getattr(good, name) for name in QrClaims.__dataclass_fields__}
    with pytest.raises(ValueError, match=message):
        QrClaims(**{**values, **changes})


AGGREGATES = [
    # (integrity, validity, result, reason)
    (("PASSED", None), ("PASSED", None), Result.PASSED, None),
    (("PASSED", None), ("INDETERMINATE", "NOT_CHECKED"), Result.INDETERMINATE, "NOT_CHECKED"),
    (("PASSED", None), ("FAILED", "EXPIRED"), Result.FAILED, "EXPIRED"),
    (("FAILED", "SIGNATURE_INVALID"), ("INDETERMINATE", "NOT_CHECKED"), Result.FAILED, "SIGNATURE_INVALID"),
    (("INDETERMINATE", "X"), ("FAILED", "EXPIRED"), Result.FAILED, "EXPIRED"),
    (("FAILED", "KEY_MISMATCH"), ("FAILED", "EXPIRED"), Result.FAILED, "KEY_MISMATCH"),
]


@pytest.mark.parametrize(("integrity", "validity", "result", "reason"), AGGREGATES)
def test_overall_result(
    integrity: tuple[str, str | None], validity: tuple[str, str | None], result: Result, reason: str | None
) -> None:
    verification = QrVerification(
        claims=None,
        integrity=Finding(result=Result[integrity[0]], reason=integrity[1]),
        validity=Finding(result=Result[validity[0]], reason=validity[1]),
    )
    assert (verification.result, verification.reason) == (result, reason)
