"""Seal memos (the gateway's HMAC of a record seal it made, stored with the record) and the key store's secrets."""

from __future__ import annotations

import hmac
import os
import stat
import threading
from pathlib import Path

import pytest

import signing.checks
import signing.record
from signing.checks import record_integrity
from signing.errors import InvalidSignature, KeyStoreError
from signing.keys import ECDSA_P256_SHA256, SM2_SM3, KeyStore, SoftwareKey
from signing.record import SealMemos, seal_record
from signing.results import CheckResult
from tests.signing.test_canonical_and_record import VECTOR_CONTENT, _replace

SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def key() -> SoftwareKey:
    return SoftwareKey.generate(ECDSA_P256_SHA256)


def test_a_memo_vouches_for_its_seal_only(key: SoftwareKey) -> None:
    memos = SealMemos(SECRET)
    seal = seal_record(key, VECTOR_CONTENT.record_mapping())
    memo = memos.memo(seal)
    assert len(memo) == 32 and memos.vouches(seal, memo)
    assert SealMemos(SECRET).memo(seal) == memo  # the same secret gives the same memo (other workers, replicas)
    assert memo == hmac.digest(SECRET, signing.record._memo_message(seal), "sha256")  # plain HMAC-SHA-256
    for change in (
        {"signature": seal.signature[:-1] + bytes([seal.signature[-1] ^ 1])},
        {"record_digest": bytes(32)},
        {"key_id": "0" * len(seal.key_id)},
        {"algorithm": "rsa2048-sha256"},
        {"encoding": "zzgw-record/2"},
    ):
        assert not memos.vouches(_replace(seal, **change), memo), change
    assert not memos.vouches(seal, b"")
    assert not memos.vouches(seal, memo[:-1])
    assert not SealMemos(bytes(32)).vouches(seal, memo)  # another gateway's secret
    with pytest.raises(ValueError):
        SealMemos(b"short")


def _no_signature_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise InvalidSignature("verify_signature was called")

    monkeypatch.setattr(signing.checks, "verify_signature", refuse)


def test_with_a_good_memo_the_signature_is_not_verified_again(
    key: SoftwareKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    memos = SealMemos(SECRET)
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    _no_signature_checks(monkeypatch)
    found = record_integrity(record, seal, key.public_key_der, memo=memos.memo(seal), memos=memos)
    assert found.result is CheckResult.PASSED
    # without the memo, or with another's, the (refusing) signature check runs
    for memo in (b"", os.urandom(32), SealMemos(bytes(32)).memo(seal)):
        found = record_integrity(record, seal, key.public_key_der, memo=memo, memos=memos)
        assert (found.result, found.reason) == (CheckResult.FAILED, "SIGNATURE_INVALID")


def test_a_memo_is_checked_before_the_cache_of_verified_signatures_and_takes_no_place_in_it(
    key: SoftwareKey,
) -> None:
    memos = SealMemos(SECRET)
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    verified: dict[bytes, bool] = {}
    found = record_integrity(record, seal, key.public_key_der, verified=verified, memo=memos.memo(seal), memos=memos)
    assert found.result is CheckResult.PASSED and verified == {}
    found = record_integrity(record, seal, key.public_key_der, verified=verified, memo=b"", memos=memos)
    assert found.result is CheckResult.PASSED and len(verified) == 1  # verified, then remembered


def test_a_memo_never_hides_a_changed_record_or_a_bad_signature(key: SoftwareKey) -> None:
    memos = SealMemos(SECRET)
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    memo = memos.memo(seal)
    changed = {**record, "license_number": "91370100MA3C4K7L6N"}
    found = record_integrity(changed, seal, key.public_key_der, memo=memo, memos=memos)
    assert (found.result, found.reason) == (CheckResult.FAILED, "RECORD_ALTERED")
    forged = _replace(seal, signature=bytes(len(seal.signature)))  # the seal changed, its memo kept
    found = record_integrity(record, forged, key.public_key_der, memo=memo, memos=memos)
    assert (found.result, found.reason) == (CheckResult.FAILED, "SIGNATURE_INVALID")
    # a forged memo on a genuine seal only costs the verification
    found = record_integrity(record, seal, key.public_key_der, memo=os.urandom(32), memos=memos)
    assert found.result is CheckResult.PASSED


# --- the key store's secrets ----------------------------------------------------------------------------------------


def test_a_secret_is_made_once_kept_encrypted_and_read_back(tmp_path: Path) -> None:
    secret = KeyStore(tmp_path, b"correct horse").secret("sealmemo")
    assert len(secret) == 32
    assert KeyStore(tmp_path, b"correct horse").secret("sealmemo") == secret  # another process reads the same
    path = tmp_path / "sealmemo.key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") and secret not in pem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sealmemo.key.pem"]  # nothing left aside
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyStore(tmp_path, b"wrong horse").secret("sealmemo")


def test_processes_making_a_secret_at_once_get_the_same_one(tmp_path: Path) -> None:
    results: list[bytes] = []
    start = threading.Barrier(8)

    def make() -> None:
        store = KeyStore(tmp_path, b"pw")  # each its own store, as each worker process has
        start.wait()
        results.append(store.secret("sealmemo"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sealmemo.key.pem"]


@pytest.mark.parametrize("algorithm", [ECDSA_P256_SHA256, SM2_SM3])
def test_a_signing_key_is_not_taken_for_a_secret(tmp_path: Path, algorithm: str) -> None:
    store = KeyStore(tmp_path, b"pw")
    store.create("receipts", algorithm)
    with pytest.raises(KeyStoreError, match="holds a key, not a secret"):
        store.secret("receipts")
