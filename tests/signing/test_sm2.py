"""SM2 through the system libcrypto: keys, signatures, bad input, threads, the standard's vectors, and interop with
the OpenSSL command line and gmssl (a pure-Python implementation)."""

from __future__ import annotations

import base64
import ctypes.util
import datetime as dt
import hashlib
import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core, keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from gmssl import sm2 as gmssl_sm2

from gateway.domain.identifiers import LicenseId
from gateway.domain.model import Holder, LicenseContent
from signing import sm2
from signing.errors import InvalidSignature, KeyStoreError
from signing.keys import SM2_SM3, KeyBackend, SoftwareKey, key_id_of, verify_signature
from signing.qr import QrClaims, check_qr, encode_qr
from signing.record import seal_record, verify_record_seal
from signing.results import CheckResult
from signing.sm2 import DEFAULT_ID, SM2_ORDER, Sm2Key, Sm2Unavailable, verify_sm2

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "sm2.json").read_text(encoding="utf-8")
)["vectors"]
STANDARD = next(v for v in VECTORS if v["name"] == "recommended-curve")
TEST_CURVE = next(v for v in VECTORS if v["name"] == "test-curve-alice")
SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d03420004")
PASSPHRASE = b"correct horse"
MESSAGE = b"\xe7\x94\xb5\xe5\xad\x90\xe8\xaf\x81\xe7\x85\xa7 record 1"
openssl_cli = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(scope="module")
def key() -> Sm2Key:
    return Sm2Key.generate()


@pytest.fixture(scope="module")
def other_key() -> Sm2Key:
    return Sm2Key.generate()


def spki(x: str, y: str) -> bytes:
    """DER SubjectPublicKeyInfo of the SM2 point (x, y), written out by hand."""
    return SM2_SPKI_PREFIX + bytes.fromhex(x + y)


def der_signature(r: int, s: int) -> bytes:
    return encode_dss_signature(r, s)


def z_of(vector: dict[str, Any], user_id: bytes) -> bytes:
    """Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GB/T 32918.2 5.5), from the vector's curve."""
    curve = vector["curve"]
    assert isinstance(curve, dict)
    coordinates = "".join(
        [curve["a"], curve["b"], curve["gx"], curve["gy"], str(vector["public_x"]), str(vector["public_y"])]
    )
    return hashlib.new("sm3", (8 * len(user_id)).to_bytes(2, "big") + user_id + bytes.fromhex(coordinates)).digest()


# --- keys and signatures ------------------------------------------------------------------------------------------


def test_round_trip_and_signature_shape(key: Sm2Key) -> None:
    signature = key.sign(MESSAGE)
    verify_sm2(key.public_key_der, MESSAGE, signature)
    r, s = decode_dss_signature(signature)
    assert 1 <= r < SM2_ORDER and 1 <= s < SM2_ORDER
    assert len(signature) <= 72 and signature[0] == 0x30
    assert key.sign(MESSAGE) != signature  # a fresh nonce every time


def test_key_is_a_key_backend(key: Sm2Key) -> None:
    backend: KeyBackend = key
    assert backend.algorithm == SM2_SM3 == "sm2-sm3"
    assert backend.public_key_der.startswith(SM2_SPKI_PREFIX) and len(backend.public_key_der) == 91
    assert backend.key_id == key_id_of(backend.public_key_der) == hashlib.sha256(key.public_key_der).hexdigest()
    verify_signature(backend.public_key_der, backend.algorithm, b"data", backend.sign(b"data"))


def test_the_system_library_is_openssl_3() -> None:
    lib = sm2.library()
    assert lib is sm2.library()
    assert lib.path == "libcrypto.so.3" and lib.version.startswith("OpenSSL 3.")


def test_encrypted_pem_round_trip(key: Sm2Key) -> None:
    pem = key.to_encrypted_pem(PASSPHRASE)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    body = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    encryption = keys.EncryptedPrivateKeyInfo.load(body)["encryption_algorithm"]
    assert encryption["algorithm"].native == "pbes2"
    assert encryption["parameters"]["encryption_scheme"]["algorithm"].native == "aes256_cbc"
    loaded = Sm2Key.from_encrypted_pem(pem, PASSPHRASE)
    assert loaded.key_id == key.key_id
    verify_sm2(key.public_key_der, MESSAGE, loaded.sign(MESSAGE))


@pytest.mark.parametrize(
    ("pem", "passphrase", "message"),
    [
        ("sm2", b"wrong", "wrong passphrase"),
        ("sm2", b"", "non-empty"),
        ("sm2", b"a\0b", "NUL"),
        ("plain", PASSPHRASE, "not an encrypted PKCS#8"),
        ("p256", PASSPHRASE, "not an SM2 key"),
        ("garbage", PASSPHRASE, "not an encrypted PKCS#8"),
        ("damaged", PASSPHRASE, "wrong passphrase or damaged"),
    ],
)
def test_keys_that_do_not_load(key: Sm2Key, pem: str, passphrase: bytes, message: str) -> None:
    p256 = SoftwareKey.generate()
    data = {
        "sm2": key.to_encrypted_pem(PASSPHRASE),
        "plain": b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n",
        "p256": p256.to_encrypted_pem(PASSPHRASE),
        "garbage": secrets.token_bytes(300),
        "damaged": key.to_encrypted_pem(PASSPHRASE)[:120] + b"\n-----END ENCRYPTED PRIVATE KEY-----\n",
    }[pem]
    with pytest.raises(KeyStoreError, match=message):
        Sm2Key.from_encrypted_pem(data, passphrase)


def test_private_scalar_gives_the_standard_public_key() -> None:
    key = Sm2Key.from_private_scalar(bytes.fromhex(STANDARD["private_key"]))
    assert key.public_key_der == spki(STANDARD["public_x"], STANDARD["public_y"])


@pytest.mark.parametrize(
    "scalar",
    [
        b"",
        bytes(30) + b"\x01",
        bytes(32),
        (SM2_ORDER - 1).to_bytes(32, "big"),
        SM2_ORDER.to_bytes(32, "big"),
        b"\xff" * 32,
    ],
    ids=["empty", "31 bytes", "zero", "n-1", "n", "above n"],
)
def test_private_scalar_out_of_range(scalar: bytes) -> None:
    with pytest.raises(KeyStoreError, match="1 to n - 2"):
        Sm2Key.from_private_scalar(scalar)


def test_highest_private_scalar_signs() -> None:
    key = Sm2Key.from_private_scalar((SM2_ORDER - 2).to_bytes(32, "big"))
    verify_sm2(key.public_key_der, MESSAGE, key.sign(MESSAGE))


# --- what verification refuses ------------------------------------------------------------------------------------


def _p256_spki() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


BAD_KEYS = {
    "empty": lambda k: b"",
    "garbage": lambda k: secrets.token_bytes(91),
    "truncated": lambda k: k[:-1],
    "trailing bytes": lambda k: k + b"\x00",
    "point off the curve": lambda k: k[:-1] + bytes([k[-1] ^ 1]),
    "P-256 key": lambda k: _p256_spki(),
    "SM2 point under P-256": lambda k: bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + k[-65:],
}


@pytest.mark.parametrize("bad", list(BAD_KEYS), ids=list(BAD_KEYS))
def test_bad_public_keys_raise_invalid_signature(key: Sm2Key, bad: str) -> None:
    signature = key.sign(MESSAGE)
    with pytest.raises(InvalidSignature, match="public key"):
        verify_sm2(BAD_KEYS[bad](key.public_key_der), MESSAGE, signature)


def _sequence(content: bytes) -> bytes:
    return bytes([0x30, len(content)]) + content  # every content here is under 128 bytes


def _negative_r(signature: bytes) -> bytes:
    r, s = decode_dss_signature(signature)
    return _sequence(core.Integer(-r).dump() + core.Integer(s).dump())


BAD_SIGNATURES = {
    "empty": lambda s: b"",
    "random bytes": lambda s: secrets.token_bytes(71),
    "truncated DER": lambda s: s[:-1],
    "one bit flipped": lambda s: s[:-1] + bytes([s[-1] ^ 1]),
    "r = 0": lambda s: der_signature(0, decode_dss_signature(s)[1]),
    "s = 0": lambda s: der_signature(decode_dss_signature(s)[0], 0),
    "r = n": lambda s: der_signature(SM2_ORDER, decode_dss_signature(s)[1]),
    "s = n": lambda s: der_signature(decode_dss_signature(s)[0], SM2_ORDER),
    "r + n": lambda s: der_signature(decode_dss_signature(s)[0] + SM2_ORDER, decode_dss_signature(s)[1]),
    "negative r": _negative_r,
    "trailing bytes": lambda s: s + b"\x00",
    "a third element": lambda s: _sequence(s[2:] + b"\x05\x00"),
    "raw r || s": lambda s: b"".join(v.to_bytes(32, "big") for v in decode_dss_signature(s)),
    "huge": lambda s: s * 20000,
}


@pytest.mark.parametrize("bad", list(BAD_SIGNATURES), ids=list(BAD_SIGNATURES))
def test_garbage_signatures_raise_invalid_signature(key: Sm2Key, bad: str) -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_sm2(key.public_key_der, MESSAGE, BAD_SIGNATURES[bad](key.sign(MESSAGE)))


def test_other_key_other_data_and_other_id_fail(key: Sm2Key, other_key: Sm2Key) -> None:
    signature = key.sign(MESSAGE)
    for public, data, user_id in (
        (other_key.public_key_der, MESSAGE, DEFAULT_ID),
        (key.public_key_der, MESSAGE + b".", DEFAULT_ID),
        (key.public_key_der, MESSAGE, b"ALICE123@YAHOO.COM"),
        (key.public_key_der, MESSAGE, b""),
    ):
        with pytest.raises(InvalidSignature):
            verify_sm2(public, data, signature, user_id=user_id)


def test_user_ids_round_trip(key: Sm2Key) -> None:
    for user_id in (b"ALICE123@YAHOO.COM", b"", "济南市市场监督管理局".encode(), bytes(range(256)) * 4):
        signature = key.sign(MESSAGE, user_id=user_id)
        verify_sm2(key.public_key_der, MESSAGE, signature, user_id=user_id)
        with pytest.raises(InvalidSignature):
            verify_sm2(key.public_key_der, MESSAGE, signature)


def test_empty_and_huge_data(key: Sm2Key) -> None:
    huge = secrets.token_bytes(16 * 1024 * 1024)
    for data in (b"", huge):
        verify_sm2(key.public_key_der, data, key.sign(data))
    with pytest.raises(InvalidSignature):
        verify_sm2(key.public_key_der, huge[:-1], key.sign(huge))


def test_verify_signature_dispatches_sm2(key: Sm2Key) -> None:
    signature = key.sign(MESSAGE)
    verify_signature(key.public_key_der, SM2_SM3, MESSAGE, signature)
    with pytest.raises(InvalidSignature):
        verify_signature(key.public_key_der, SM2_SM3, MESSAGE + b".", signature)
    with pytest.raises(InvalidSignature, match="cannot be parsed"):  # an SM2 key claimed as ECDSA: not a crash
        verify_signature(key.public_key_der, "ecdsa-p256-sha256", MESSAGE, signature)
    p256 = SoftwareKey.generate()
    with pytest.raises(InvalidSignature, match="not an SM2 key"):
        verify_signature(p256.public_key_der, SM2_SM3, MESSAGE, p256.sign(MESSAGE))


def test_threads_share_keys(key: Sm2Key, other_key: Sm2Key) -> None:
    failures: list[str] = []

    def work(index: int) -> None:
        signer = key if index % 2 else other_key
        for n in range(300):
            data = f"thread {index} message {n}".encode()
            signature = signer.sign(data)
            try:
                verify_sm2(signer.public_key_der, data, signature)
            except InvalidSignature:
                failures.append(f"{index}/{n} did not verify")
            try:
                verify_sm2(signer.public_key_der, data + b"!", signature)
                failures.append(f"{index}/{n} verified altered data")
            except InvalidSignature:
                pass

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_the_gil_is_released_during_a_call(key: Sm2Key) -> None:
    """With a switch interval of minutes the GIL changes hands only when released: a thread that counts while the
    main thread hashes 32 MiB inside one EVP_DigestSign call proves that call ran without the GIL."""
    data = bytes(32 * 1024 * 1024)
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0)  # hands the GIL back at once, so the main thread never waits for it

    interval = sys.getswitchinterval()
    sys.setswitchinterval(300)
    counter = threading.Thread(target=count)
    try:
        counter.start()
        before = ticks
        signature = key.sign(data)
        during = ticks - before
    finally:
        stop.set()
        counter.join()
        sys.setswitchinterval(interval)
    verify_sm2(key.public_key_der, data, signature)
    assert during > 10


# --- the standard's examples --------------------------------------------------------------------------------------


def test_standard_example_verifies_with_its_public_key_and_id() -> None:
    public = spki(STANDARD["public_x"], STANDARD["public_y"])
    message = STANDARD["message"].encode()
    signature = der_signature(int(STANDARD["r"], 16), int(STANDARD["s"], 16))
    assert z_of(STANDARD, DEFAULT_ID).hex().upper() == STANDARD["z"]
    assert hashlib.new("sm3", z_of(STANDARD, DEFAULT_ID) + message).hexdigest().upper() == STANDARD["e"]
    assert STANDARD["user_id"].encode() == DEFAULT_ID
    verify_sm2(public, message, signature)
    verify_sm2(public, message, signature, user_id=DEFAULT_ID)
    with pytest.raises(InvalidSignature):  # the ID of the test-curve example does not belong to this one
        verify_sm2(public, message, signature, user_id=b"ALICE123@YAHOO.COM")
    with pytest.raises(InvalidSignature):
        verify_sm2(public, b"message digesT", signature)


def gmssl_of(vector: dict[str, Any]) -> gmssl_sm2.CryptSM2:
    curve = vector["curve"]
    assert isinstance(curve, dict)
    table = {"n": curve["n"], "p": curve["p"], "g": curve["gx"] + curve["gy"], "a": curve["a"], "b": curve["b"]}
    crypt = gmssl_sm2.CryptSM2(private_key=vector["private_key"], public_key="", ecc_table=table, asn1=False)
    crypt.public_key = f"{vector['public_x']}{vector['public_y']}"  # set after __init__: it mangles leading '0'/'4'
    return crypt


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_gmssl_reproduces_both_examples(vector: dict[str, Any]) -> None:
    """An independent implementation recomputes each example from its curve, key, Z, e and nonce."""
    crypt = gmssl_of(vector)
    user_id = vector["user_id"].encode()
    e = hashlib.new("sm3", z_of(vector, user_id) + vector["message"].encode()).digest()
    assert z_of(vector, user_id).hex().upper() == vector["z"] and e.hex().upper() == vector["e"]
    assert crypt._kg(int(vector["private_key"], 16), crypt.ecc_table["g"]).upper() == crypt.public_key
    assert crypt.sign(e, vector["k"]).upper() == vector["r"] + vector["s"]
    assert crypt.verify(vector["r"] + vector["s"], e)


def test_test_curve_example_is_not_for_the_recommended_curve() -> None:
    """The ALICE example's key and r, s live on the test curve: read as an SM2 key, they do not verify."""
    message = TEST_CURVE["message"].encode()
    signature = der_signature(int(TEST_CURVE["r"], 16), int(TEST_CURVE["s"], 16))
    with pytest.raises(InvalidSignature):
        verify_sm2(
            spki(TEST_CURVE["public_x"], TEST_CURVE["public_y"]), message, signature, user_id=b"ALICE123@YAHOO.COM"
        )


# --- interop: the OpenSSL command line ----------------------------------------------------------------------------


def public_pem(key: Sm2Key) -> bytes:
    body = base64.encodebytes(key.public_key_der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN PUBLIC KEY-----\n" + b"\n".join(lines) + b"\n-----END PUBLIC KEY-----\n"


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


@openssl_cli
def test_openssl_cli_verifies_ours_only_with_distid(tmp_path: Path, key: Sm2Key) -> None:
    (tmp_path / "pub.pem").write_bytes(public_pem(key))
    (tmp_path / "data").write_bytes(MESSAGE)
    (tmp_path / "sig").write_bytes(key.sign(MESSAGE))
    verify = ["dgst", "-sm3", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig")]
    done = openssl(*verify, "-sigopt", "distid:1234567812345678", str(tmp_path / "data"))
    assert done.returncode == 0 and "Verified OK" in done.stdout, done.stderr
    # OpenSSL 3.0's own default id is empty, not 1234567812345678
    done = openssl(*verify, str(tmp_path / "data"))
    assert done.returncode != 0 and "Verification failure" in done.stdout + done.stderr


@openssl_cli
def test_openssl_cli_signature_verifies_here(tmp_path: Path, key: Sm2Key) -> None:
    (tmp_path / "key.pem").write_bytes(key.to_encrypted_pem(PASSPHRASE))
    (tmp_path / "data").write_bytes(MESSAGE)
    done = openssl(
        "dgst", "-sm3", "-sign", str(tmp_path / "key.pem"), "-passin", f"pass:{PASSPHRASE.decode()}",
        "-sigopt", "distid:1234567812345678", "-out", str(tmp_path / "sig"), str(tmp_path / "data"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    signature = (tmp_path / "sig").read_bytes()
    verify_sm2(key.public_key_der, MESSAGE, signature)
    with pytest.raises(InvalidSignature):
        verify_sm2(key.public_key_der, MESSAGE, signature, user_id=b"")


@openssl_cli
def test_openssl_cli_reads_our_encrypted_key(tmp_path: Path, key: Sm2Key) -> None:
    (tmp_path / "key.pem").write_bytes(key.to_encrypted_pem(PASSPHRASE))
    done = openssl("pkey", "-in", str(tmp_path / "key.pem"), "-passin", f"pass:{PASSPHRASE.decode()}", "-pubout")
    assert done.returncode == 0, done.stderr
    assert done.stdout.encode() == public_pem(key)


# --- interop: gmssl -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scalar_key() -> tuple[str, Sm2Key]:
    scalar = (secrets.randbelow(SM2_ORDER - 2) + 1).to_bytes(32, "big")
    return scalar.hex(), Sm2Key.from_private_scalar(scalar)


def gmssl_for(private_hex: str, key: Sm2Key) -> gmssl_sm2.CryptSM2:
    crypt = gmssl_sm2.CryptSM2(private_key=private_hex, public_key="", asn1=True)
    crypt.public_key = key.public_key_der[-64:].hex()  # x || y without the 04 prefix, set past gmssl's lstrip("04")
    return crypt


def test_gmssl_verifies_ours(scalar_key: tuple[str, Sm2Key]) -> None:
    private_hex, key = scalar_key
    crypt = gmssl_for(private_hex, key)
    signature = key.sign(MESSAGE)
    assert crypt.verify_with_sm3(signature.hex(), MESSAGE)
    assert not crypt.verify_with_sm3(signature.hex(), MESSAGE + b".")


def test_gmssl_signature_verifies_here(scalar_key: tuple[str, Sm2Key]) -> None:
    private_hex, key = scalar_key
    crypt = gmssl_for(private_hex, key)
    signature = bytes.fromhex(crypt.sign_with_sm3(MESSAGE, secrets.token_hex(32)))
    verify_sm2(key.public_key_der, MESSAGE, signature)
    with pytest.raises(InvalidSignature):
        verify_sm2(key.public_key_der, MESSAGE + b".", signature)


# --- record seals and verification codes with an SM2 key ------------------------------------------------------------


LICENSE_ID = LicenseId(type_code="111000009910000354001", issuer_code="11370100993701011T", serial="ABC", version=1)
CONTENT = LicenseContent(
    license_id=str(LICENSE_ID),
    type_code=LICENSE_ID.type_code,
    license_number="91370100MA3C4K7L6M",
    holder=Holder(name="某公司", code_type="001", code="91370100MA3C4K7L6M"),
    issuer_code="11370100993701011T",
    issue_date=dt.date(2024, 3, 1),
    valid_from=dt.date(2024, 3, 1),
    valid_until=None,
    region_code="370100",
    fields={"company_name": "某公司"},
    version=1,
)


def test_record_seal_with_an_sm2_key(key: Sm2Key) -> None:
    record = CONTENT.record_mapping()
    seal = seal_record(key, record)
    assert seal.algorithm == "sm2-sm3" and seal.key_id == key.key_id
    verify_record_seal(key.public_key_der, record, seal)
    with pytest.raises(InvalidSignature):
        verify_record_seal(key.public_key_der, {**record, "license_number": "91370100MA3C4K7L6N"}, seal)


@pytest.fixture(scope="module")
def claims() -> QrClaims:
    """Made in a fixture: a ValueError here is an error, not the expected failure below."""
    return QrClaims.of(CONTENT, issued_at=dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC))


def test_verification_code_with_an_sm2_key(key: Sm2Key, claims: QrClaims) -> None:
    text = encode_qr(key, claims)
    verification = check_qr(text, key.public_key_der, now=claims.issued_at)
    assert verification.result is CheckResult.PASSED and verification.claims == claims
    position = len(text) - 2  # inside the zlib checksum
    changed = text[:position] + ("A" if text[position] != "A" else "B") + text[position + 1 :]
    assert check_qr(changed, key.public_key_der, now=claims.issued_at).result is CheckResult.FAILED
    other = Sm2Key.generate()
    assert check_qr(text, other.public_key_der, now=claims.issued_at).reason == "KEY_MISMATCH"


# --- a missing or unsuitable libcrypto ----------------------------------------------------------------------------


def test_absent_library(tmp_path: Path) -> None:
    path = str(tmp_path / "libcrypto.so.3")
    with pytest.raises(Sm2Unavailable, match=r"cannot load libcrypto from .*libcrypto\.so\.3.*OpenSSL 3"):
        sm2.load_library(path)


def test_a_library_that_is_not_openssl() -> None:
    libz = ctypes.util.find_library("z")
    assert libz is not None
    with pytest.raises(Sm2Unavailable, match="is not OpenSSL's libcrypto"):
        sm2.load_library(libz)


def fake_libcrypto(tmp_path: Path, *, version: int, leave_out: str = "") -> str:
    """A shared library exporting every function the binding declares, as stubs that return 0."""
    lines = ['const char *OpenSSL_version(int t) { return "FakeSSL 9.9.9"; }']
    lines.append(f"unsigned long OpenSSL_version_num(void) {{ return {version:#x}UL; }}")
    lines += [f"long {name}(void) {{ return 0; }}" for name in sm2._FUNCTIONS if not name.startswith("OpenSSL_")]
    lines = [line for line in lines if not leave_out or f" {leave_out}(" not in line]
    source = tmp_path / "fake.c"
    source.write_text("\n".join(lines) + "\n", encoding="ascii")
    library = tmp_path / "libfake.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True, timeout=60)
    return str(library)


needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to build a fake libcrypto")


@needs_cc
@pytest.mark.parametrize(
    ("version", "leave_out", "message"),
    [
        (0x1010117F, "", "is FakeSSL 9.9.9; SM2 needs OpenSSL 3.0 or later"),
        (0x30000000, "EVP_DigestVerify", r"\(FakeSSL 9.9.9\) lacks EVP_DigestVerify"),
        (0x30000000, "", r"\(FakeSSL 9.9.9\) offers no SM2 or SM3"),
    ],
    ids=["OpenSSL 1.1", "a function missing", "no SM2"],
)
def test_an_unsuitable_libcrypto(tmp_path: Path, version: int, leave_out: str, message: str) -> None:
    path = fake_libcrypto(tmp_path, version=version, leave_out=leave_out)
    with pytest.raises(Sm2Unavailable, match=message) as raised:
        sm2.load_library(path)
    assert path in str(raised.value)
