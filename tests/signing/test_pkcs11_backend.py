"""PKCS#11 keys against a throw-away SoftHSM2 token (Debian's softhsm2; ``scripts/install-system-deps`` installs it).

Without SoftHSM2 these tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from signing.errors import InvalidSignature, KeyStoreError
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, key_id_of, verify_signature
from signing.pkcs11_backend import MODULE_ENV, SOFTHSM_MODULE, Pkcs11Key, Pkcs11Token, find_softhsm_module
from signing.record import seal_record, verify_record_seal
from tests.signing.test_canonical_and_record import VECTOR_CONTENT

MODULE = find_softhsm_module()
TOKEN = "zzgw-test"
PIN = "1234"
SO_PIN = "5678"

# What the token must say of a private key it generated
PROTECTED = {
    Attribute.TOKEN: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.ALWAYS_SENSITIVE: True,
    Attribute.NEVER_EXTRACTABLE: True,
    Attribute.LOCAL: True,  # generated inside the token, not imported
}


@pytest.fixture
def token_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SoftHSM2 token, labelled ``zzgw-test`` with user PIN 1234, in a token directory under tmp_path."""
    util = shutil.which("softhsm2-util")
    if not Path(MODULE).exists() or util is None:
        reason = f"SoftHSM2 is not installed ({MODULE}, softhsm2-util); run scripts/install-system-deps"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} — CI must run the PKCS#11 tests")
        pytest.skip(reason)
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
    )
    # SoftHSM reads SOFTHSM2_CONF and scans the token directory when the module is initialised, and python-pkcs11
    # keeps the module loaded: unload it on both sides so each test sees its own token directory.
    pkcs11.unload(MODULE)
    yield TOKEN
    pkcs11.unload(MODULE)


@pytest.fixture
def token(token_label: str) -> Iterator[Pkcs11Token]:
    opened = Pkcs11Token(MODULE, token_label, PIN)
    yield opened
    opened.close()


@pytest.mark.parametrize("algorithm", [ECDSA_P256_SHA256, RSA2048_SHA256])
def test_a_key_made_in_the_token_signs_and_verifies(token: Pkcs11Token, algorithm: str) -> None:
    key = token.generate_key("issuer", algorithm)
    assert key.algorithm == algorithm
    assert key.key_id == key_id_of(key.public_key_der)
    signature = key.sign(b"data")
    verify_signature(key.public_key_der, algorithm, b"data", signature)
    with pytest.raises(InvalidSignature):
        verify_signature(key.public_key_der, algorithm, b"other data", signature)


@pytest.mark.parametrize("algorithm", [ECDSA_P256_SHA256, RSA2048_SHA256])
def test_record_seal_round_trip(token: Pkcs11Token, algorithm: str) -> None:
    key = token.generate_key("issuer", algorithm)
    record = VECTOR_CONTENT.record_mapping()
    seal = seal_record(key, record)
    assert (seal.algorithm, seal.key_id) == (algorithm, key.key_id)
    verify_record_seal(key.public_key_der, record, seal)
    with pytest.raises(InvalidSignature):
        verify_record_seal(key.public_key_der, {**record, "version": 2}, seal)


@pytest.mark.parametrize(
    ("algorithm", "secret"), [(ECDSA_P256_SHA256, Attribute.VALUE), (RSA2048_SHA256, Attribute.PRIVATE_EXPONENT)]
)
def test_the_private_key_never_leaves_the_token(token: Pkcs11Token, algorithm: str, secret: Attribute) -> None:
    token.generate_key("issuer", algorithm)
    token.close()  # a PKCS#11 login belongs to the process: log out before looking with a session of our own
    with pkcs11.lib(MODULE).get_token(token_label=TOKEN).open(rw=True, user_pin=PIN) as session:
        private = session.get_key(ObjectClass.PRIVATE_KEY, label="issuer")
        flags = private.get_attributes(list(PROTECTED))
        assert flags == PROTECTED
        with pytest.raises(pkcs11.AttributeSensitive):
            private[secret]
        # PKCS#11 lets these flags move only towards more protection
        with pytest.raises(pkcs11.PKCS11Error):
            private[Attribute.EXTRACTABLE] = True
        with pytest.raises(pkcs11.PKCS11Error):
            private[Attribute.SENSITIVE] = False


def test_wrong_pin(token_label: str) -> None:
    with pytest.raises(KeyStoreError, match="wrong user PIN"):
        Pkcs11Token(MODULE, token_label, "0000").open()


def test_unknown_key_label(token: Pkcs11Token) -> None:
    token.generate_key("issuer")
    with pytest.raises(KeyStoreError, match="no key pair found while reading key 'nobody'"):
        token.key("nobody")


def test_unknown_token_label(token_label: str) -> None:
    with pytest.raises(KeyStoreError, match="'no-such-token' not found"):
        Pkcs11Token(MODULE, "no-such-token", PIN).open()


def test_a_label_is_not_reused(token: Pkcs11Token) -> None:
    first = token.generate_key("issuer")
    with pytest.raises(KeyStoreError, match="exists already"):
        token.generate_key("issuer", RSA2048_SHA256)
    assert token.key("issuer").key_id == first.key_id


def test_module_not_found(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="not found: install SoftHSM2"):
        Pkcs11Token(str(tmp_path / "libnothing.so"), TOKEN, PIN).key("issuer")


def test_module_path_from_the_environment() -> None:
    assert find_softhsm_module({}) == SOFTHSM_MODULE == "/usr/lib/softhsm/libsofthsm2.so"
    assert find_softhsm_module({MODULE_ENV: "/opt/hsm/libvendor.so"}) == "/opt/hsm/libvendor.so"


@pytest.mark.parametrize(("algorithm", "per_thread"), [(ECDSA_P256_SHA256, 50), (RSA2048_SHA256, 10)])
def test_signing_from_several_threads(token: Pkcs11Token, algorithm: str, per_thread: int) -> None:
    key = token.generate_key("issuer", algorithm)

    def sign_many(thread: int) -> list[tuple[bytes, bytes]]:
        messages = [f"thread {thread} message {i}".encode() for i in range(per_thread)]
        return [(message, key.sign(message)) for message in messages]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [pair for batch in pool.map(sign_many, range(4)) for pair in batch]
    assert len(results) == 4 * per_thread
    for message, signature in results:
        verify_signature(key.public_key_der, algorithm, message, signature)


def test_a_reopened_token_finds_the_same_key(token: Pkcs11Token, token_label: str) -> None:
    made = {algorithm: token.generate_key(algorithm, algorithm) for algorithm in (ECDSA_P256_SHA256, RSA2048_SHA256)}
    token.close()
    reopened = Pkcs11Token(MODULE, token_label, PIN)
    try:
        for algorithm, key in made.items():
            found = reopened.key(algorithm)
            assert (found.key_id, found.algorithm, found.public_key_der) == (key.key_id, algorithm, key.public_key_der)
            verify_signature(key.public_key_der, algorithm, b"data", found.sign(b"data"))
    finally:
        reopened.close()


def test_a_second_token_object_is_refused_while_the_first_is_logged_in(token: Pkcs11Token, token_label: str) -> None:
    token.generate_key("issuer")
    with pytest.raises(KeyStoreError, match="already logged in from this process"):
        Pkcs11Token(MODULE, token_label, PIN).open()


def test_a_key_signs_again_after_its_token_was_closed(token: Pkcs11Token) -> None:
    key: Pkcs11Key = token.generate_key("issuer")
    token.close()
    verify_signature(key.public_key_der, key.algorithm, b"data", key.sign(b"data"))
