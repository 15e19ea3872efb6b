"""The canonical encoding (RFC 8785 JCS, restricted), record seals, and the encrypted key store."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import stat
import tracemalloc
from pathlib import Path

import pytest

from gateway.domain.model import Holder, LicenseContent, RecordSeal
from signing.canonical import canonical_fragment, canonical_json
from signing.errors import InvalidSignature, KeyStoreError
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, KeyStore, SoftwareKey, key_id_of
from signing.record import ENCODING, record_bytes, seal_record, verify_record_seal

# --- canonical_json -----------------------------------------------------------------------------------------------


def test_key_order_does_not_matter() -> None:
    one = {"b": 1, "a": {"y": "2", "x": ["3", {"d": True, "c": False}]}}
    other = {"a": {"x": ["3", {"c": False, "d": True}], "y": "2"}, "b": 1}
    assert canonical_json(one) == canonical_json(other) == b'{"a":{"x":["3",{"c":false,"d":true}],"y":"2"},"b":1}'


def test_a_fragment_encodes_as_its_value_would_in_place() -> None:
    """A part encoded once and placed in many documents gives the very bytes of the value in place."""
    part = {"status": {"result": "FAILED", "reason": "REVOKED", "detail": "已吊销\n"}, "a": [1, True, None]}
    whole = {"z": "last", "part": part, "id": "0001", "nothing": None}
    expected = canonical_json(whole)
    assert canonical_json({**whole, "part": canonical_fragment(part)}) == expected
    assert canonical_json({**whole, "part": canonical_fragment(part, trusted=True)}, trusted=True) == expected
    assert canonical_json([canonical_fragment("证照"), 2]) == '["证照",2]'.encode()
    with pytest.raises(TypeError):  # a fragment's value is checked when it is made
        canonical_fragment({"x": 1.5})


def test_a_kept_fragment_holds_its_bytes_not_the_encoders_buffer() -> None:
    """Fragments live as long as a license stays cached: each must hold its ~100 bytes, not the 4 KB buffer the
    encoder wrote them in (which made a cached license cost 13 KB instead of 5)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [canonical_fragment({"license_id": f"{i:032d}", "status": "ACTIVE"}) for i in range(1000)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == 1000 and held < 1000 * 400, f"{held / 1000:.0f} bytes a fragment"


def test_no_whitespace_between_tokens() -> None:
    assert canonical_json({"a": [1, 2], "b": {"c": "d e"}}) == b'{"a":[1,2],"b":{"c":"d e"}}'


def test_chinese_is_utf8_unescaped() -> None:
    assert canonical_json({"name": "证照"}) == b'{"name":"\xe8\xaf\x81\xe7\x85\xa7"}'
    assert canonical_json("济南") == '"济南"'.encode()


STRINGS = [
    # (what, value, JCS bytes): RFC 8785 section 3.2.2.2 — short escapes where JSON has them, else \u00xx lower-case
    ("newline", "a\nb", b'"a\\nb"'),
    ("tab", "\t", b'"\\t"'),
    ("carriage return", "\r", b'"\\r"'),
    ("backspace", "\b", b'"\\b"'),
    ("form feed", "\f", b'"\\f"'),
    ("unit separator", "\x1f", b'"\\u001f"'),
    ("NUL", "\x00", b'"\\u0000"'),
    ("escape", "\x1b", b'"\\u001b"'),
    ("quote", '"', b'"\\""'),
    ("backslash", "\\", b'"\\\\"'),
    ("solidus is not escaped", "/", b'"/"'),
    ("DEL is not escaped", "\x7f", b'"\x7f"'),
    ("line separator is not escaped", "\u2028", b'"\xe2\x80\xa8"'),
    ("astral plane as UTF-8", "𠀀", b'"\xf0\xa0\x80\x80"'),
]


@pytest.mark.parametrize(("what", "value", "expected"), STRINGS, ids=[s[0] for s in STRINGS])
def test_string_escapes_as_jcs(what: str, value: str, expected: bytes) -> None:
    assert canonical_json(value) == expected, what


def test_scalars() -> None:
    assert canonical_json([True, False, None, 0, -7, 999]) == b"[true,false,null,0,-7,999]"
    assert canonical_json(("a", "b")) == b'["a","b"]'


def test_the_same_bytes_as_the_standard_library_encoder() -> None:
    """``canonical_json`` (orjson) against ``json.dumps`` with sorted keys, no whitespace, no ASCII escaping — the
    encoder record seals were first made with — over every ASCII character, the Unicode ones JSON encoders treat
    specially, and nesting; trusted or checked, the bytes are the same."""
    import json

    awkward = ["".join(map(chr, range(128))), "\u2028\u2029\u00a0\ufeff\ud7ff\ue000\uffff", "𠀀😀", "证照", ""]
    values: list[object] = [
        *awkward,
        {"z": awkward, "a": {"y": [0, -1, 2**53 - 1, -(2**53 - 1)], "x": [True, False, None]}, "": "empty key"},
        {key: key for key in ("b", "a", "B", "A", "_", "0", "~", "aa", "a0")},
        [[[]], {}, [{}]],
    ]
    for value in values:
        expected = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        assert canonical_json(value) == canonical_json(value, trusted=True) == expected


NOT_CANONICAL = [
    ("float", {"a": 1.5}),
    ("integral float", [1.0]),
    ("nan", float("nan")),
    ("bytes", {"a": b"x"}),
    ("bytearray", bytearray(b"x")),
    ("non-ASCII key", {"名称": "x"}),
    ("nested non-ASCII key", {"a": [{"é": "x"}]}),
    ("integer key", {1: "x"}),
    ("set", {"a": {"x"}}),
    ("date", {"a": dt.date(2024, 1, 1)}),
]


@pytest.mark.parametrize(("what", "value"), NOT_CANONICAL, ids=[n[0] for n in NOT_CANONICAL])
def test_values_without_a_canonical_form_are_refused(what: str, value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


VECTOR_CONTENT = LicenseContent(
    license_id="1.2.156.3005.2.111000009910000354001.11370100993701011T.ABC.001.X",
    type_code="111000009910000354001",
    license_number="91370100MA3C4K7L6M",
    holder=Holder(name="某公司", code_type="001", code="91370100MA3C4K7L6M"),
    issuer_code="11370100993701011T",
    issue_date=dt.date(2024, 3, 1),
    valid_from=dt.date(2024, 3, 1),
    valid_until=None,
    region_code="370100",
    fields={"domicile": "济南市\n历下区", "company_name": "某公司"},
    version=1,
)

# Written out by hand from RFC 8785 (sorted keys, no whitespace, UTF-8, "\n" escaped): if this ever changes,
# every record seal made before the change stops verifying. Do not "fix" it to match the code.
VECTOR_BYTES = (
    b'{"fields":{"company_name":"\xe6\x9f\x90\xe5\x85\xac\xe5\x8f\xb8",'
    b'"domicile":"\xe6\xb5\x8e\xe5\x8d\x97\xe5\xb8\x82\\n\xe5\x8e\x86\xe4\xb8\x8b\xe5\x8c\xba"},'
    b'"holder":{"code":"91370100MA3C4K7L6M","code_type":"001","name":"\xe6\x9f\x90\xe5\x85\xac\xe5\x8f\xb8"},'
    b'"issue_date":"2024-03-01","issuer_code":"11370100993701011T",'
    b'"license_id":"1.2.156.3005.2.111000009910000354001.11370100993701011T.ABC.001.X",'
    b'"license_number":"91370100MA3C4K7L6M","region_code":"370100","type_code":"111000009910000354001",'
    b'"valid_from":"2024-03-01","valid_until":"","version":1}'
)


def test_known_vector_of_a_record() -> None:
    record = VECTOR_CONTENT.record_mapping()
    assert canonical_json(record) == VECTOR_BYTES
    assert record_bytes(record) == b"zzgw-record/1\n" + VECTOR_BYTES
    assert canonical_json(record, trusted=True) == VECTOR_BYTES


# --- record seals -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[ECDSA_P256_SHA256, RSA2048_SHA256])
def key(request: pytest.FixtureRequest) -> SoftwareKey:
    return SoftwareKey.generate(request.param)


@pytest.fixture(scope="module")
def other_key() -> SoftwareKey:
    return SoftwareKey.generate(ECDSA_P256_SHA256)


def test_seal_then_verify(key: SoftwareKey) -> None:
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    assert seal.algorithm == key.algorithm and seal.key_id == key.key_id == key_id_of(key.public_key_der)
    assert seal.encoding == ENCODING == "zzgw-record/1"
    assert seal.record_digest == hashlib.sha256(b"zzgw-record/1\n" + VECTOR_BYTES).digest()
    assert verify_record_seal(key.public_key_der, record, seal) is None
    # the record read back in another key order verifies too
    assert verify_record_seal(key.public_key_der, dict(reversed(list(record.items()))), seal) is None


def _replace(seal: RecordSeal, **changes: object) -> RecordSeal:
    values = {f: getattr(seal, f) for f in ("algorithm", "key_id", "signature", "record_digest", "encoding")}
    return RecordSeal(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("change", [
    {"fields": {"domicile": "济南市\n历下区", "company_name": "另一公司"}},
    {"version": 2},
    {"valid_until": "2030-01-01"},
    {"holder": {"name": "某公司", "code_type": "001", "code": "91370100MA3C4K7L6N"}},
], ids=["field", "version", "validity", "holder"])  # fmt: skip
def test_a_changed_record_does_not_verify(key: SoftwareKey, change: dict[str, object]) -> None:
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    with pytest.raises(InvalidSignature):
        verify_record_seal(key.public_key_der, {**record, **change}, seal)


def test_a_changed_record_with_a_matching_digest_still_fails_on_the_signature(key: SoftwareKey) -> None:
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    changed = {**record, "version": 2}
    forged = _replace(seal, record_digest=hashlib.sha256(record_bytes(changed)).digest())
    with pytest.raises(InvalidSignature, match="signature does not match"):
        verify_record_seal(key.public_key_der, changed, forged)


def test_another_key_does_not_verify(key: SoftwareKey, other_key: SoftwareKey) -> None:
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    with pytest.raises(InvalidSignature):
        verify_record_seal(other_key.public_key_der, record, seal)
    # naming the other key in the seal does not help either
    with pytest.raises(InvalidSignature):
        verify_record_seal(other_key.public_key_der, record, _replace(seal, key_id=other_key.key_id))


def test_wrong_encoding_name_does_not_verify(key: SoftwareKey) -> None:
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    for encoding in ("zzgw-record/2", "", "ZZGW-RECORD/1"):
        with pytest.raises(InvalidSignature, match="encoding"):
            verify_record_seal(key.public_key_der, record, _replace(seal, encoding=encoding))


def test_damaged_signature_or_wrong_algorithm_does_not_verify(key: SoftwareKey) -> None:
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    damaged = bytes([seal.signature[0] ^ 1]) + seal.signature[1:]
    with pytest.raises(InvalidSignature):
        verify_record_seal(key.public_key_der, record, _replace(seal, signature=damaged))
    other_algorithm = RSA2048_SHA256 if key.algorithm == ECDSA_P256_SHA256 else ECDSA_P256_SHA256
    with pytest.raises(InvalidSignature):
        verify_record_seal(key.public_key_der, record, _replace(seal, algorithm=other_algorithm))


def test_unsupported_key_algorithm() -> None:
    with pytest.raises(KeyStoreError):
        SoftwareKey.generate("ed25519")


# --- the key store ------------------------------------------------------------------------------------------------

OWNER = "11370100993701011T"


def test_create_then_load_in_a_new_store(tmp_path: Path) -> None:
    created = KeyStore(tmp_path, b"correct horse").create(OWNER)
    loaded = KeyStore(tmp_path, b"correct horse").load(OWNER)
    assert loaded.key_id == created.key_id and loaded.algorithm == ECDSA_P256_SHA256
    record = VECTOR_CONTENT.record_mapping()
    verify_record_seal(created.public_key_der, record, seal_record(loaded, record))


def test_an_rsa_key_keeps_its_algorithm(tmp_path: Path) -> None:
    created = KeyStore(tmp_path, b"pw").create(OWNER, RSA2048_SHA256)
    assert KeyStore(tmp_path, b"pw").load(OWNER).algorithm == RSA2048_SHA256 == created.algorithm


def test_wrong_passphrase(tmp_path: Path) -> None:
    KeyStore(tmp_path, b"correct horse").create(OWNER)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyStore(tmp_path, b"battery staple").load(OWNER)


def test_create_twice_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, b"pw")
    first = store.create(OWNER)
    with pytest.raises(KeyStoreError, match="exists already"):
        store.create(OWNER)
    with pytest.raises(KeyStoreError, match="exists already"):
        KeyStore(tmp_path, b"pw").create(OWNER)
    assert KeyStore(tmp_path, b"pw").load(OWNER).key_id == first.key_id  # the first key survives


def test_the_key_file_is_private_and_encrypted(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, b"pw")
    store.create(OWNER)
    path = store.path(OWNER)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert b"BEGIN PRIVATE KEY" not in pem and b"BEGIN EC PRIVATE KEY" not in pem


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="passphrase"):
        KeyStore(tmp_path, b"")


def test_missing_key_and_bad_owner(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, b"pw")
    assert not store.exists(OWNER)
    with pytest.raises(KeyStoreError, match="no key"):
        store.load(OWNER)
    for owner in ("../etc/passwd", "a/b", "", "x.y"):
        with pytest.raises(KeyStoreError, match="bad key owner"):
            store.path(owner)


def test_a_damaged_key_file(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, b"pw")
    store.create(OWNER)
    store.path(OWNER).write_bytes(
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nnot a key\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    with pytest.raises(KeyStoreError):
        KeyStore(tmp_path, b"pw").load(OWNER)


def test_a_key_that_cannot_be_written_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while a seal's key is written (RegisterSeal) had left an empty key file under the seal's name."""
    store = KeyStore(tmp_path, b"pw")

    def full(self: SoftwareKey, passphrase: bytes) -> bytes:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SoftwareKey, "to_encrypted_pem", full)
    with pytest.raises(OSError, match="No space left"):
        store.create(OWNER)
    assert not store.exists(OWNER) and list(tmp_path.iterdir()) == []
