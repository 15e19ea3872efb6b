"""Key backends: the one primitive every signing key offers, and the encrypted-file key store.

>>> store = KeyStore(Path(tmp), passphrase=b"correct horse")  # doctest: +SKIP
>>> key = store.create("11370100MB0000000X")                  # doctest: +SKIP
>>> verify_signature(key.public_key_der, key.algorithm, b"data", key.sign(b"data"))  # doctest: +SKIP

A ``KeyBackend`` signs bytes and says which algorithm and key it used, so every signature can record both and the
algorithm can change later (RSA, SM2, a PKCS#11 token). Keys are loaded once and kept: parsing an encrypted PKCS#8
file costs far more than a signature.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from signing.errors import InvalidSignature, KeyStoreError
from signing.pki import make_private_directory

ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
RSA2048_SHA256 = "rsa2048-pkcs1v15-sha256"
ALGORITHMS = (ECDSA_P256_SHA256, RSA2048_SHA256)
SM2_SM3 = "sm2-sm3"
"""SM3withSM2 (GB/T 32918.2, default id ``1234567812345678``): keys are ``signing.sm2.Sm2Key``, not in ALGORITHMS
because the key store and PKCS#11 tokens do not make them."""


if TYPE_CHECKING:
    from signing.sm2 import Sm2Key


class KeyBackend(Protocol):
    """A private key that signs; it may live in a file, in memory or in an HSM."""

    @property
    def algorithm(self) -> str:
        """Signature algorithm name recorded beside every signature, e.g. ``ecdsa-p256-sha256``."""
        ...

    @property
    def key_id(self) -> str:
        """SHA-256 of the public key's SubjectPublicKeyInfo, hex."""
        ...

    @property
    def public_key_der(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (the hash is part of the algorithm)."""
        ...


def key_id_of(public_key_der: bytes) -> str:
    return hashlib.sha256(public_key_der).hexdigest()


class SoftwareKey:
    """A private key held in memory by ``cryptography`` (loaded from an encrypted file, or made for a test)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(private_key.curve, ec.SECP256R1):
            self._algorithm = ECDSA_P256_SHA256
        elif isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size >= 2048:
            self._algorithm = RSA2048_SHA256
        else:
            raise KeyStoreError("only ECDSA P-256 and RSA-2048 keys are supported")
        self._key = private_key
        self._public_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._key_id = key_id_of(self._public_der)

    @classmethod
    def generate(cls, algorithm: str = ECDSA_P256_SHA256) -> SoftwareKey:
        if algorithm == ECDSA_P256_SHA256:
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if algorithm == RSA2048_SHA256:
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        raise KeyStoreError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key_der(self) -> bytes:
        return self._public_der

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def to_encrypted_pem(self, passphrase: bytes) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )

    @classmethod
    def from_encrypted_pem(cls, pem: bytes, passphrase: bytes, *, source: str = "the key") -> SoftwareKey:
        """The key of an encrypted PKCS#8 PEM; KeyStoreError naming ``source`` (the file it was read from) if the
        PEM cannot be decrypted or holds another kind of key. UnsupportedAlgorithm for an SM2 key."""
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(f"cannot decrypt {source}: wrong passphrase or damaged file") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise KeyStoreError(f"cannot use {source}: only ECDSA P-256 and RSA-2048 keys are supported")
        try:
            return cls(key)
        except KeyStoreError as exc:  # another curve, a shorter RSA key
            raise KeyStoreError(f"cannot use {source}: {exc}") from None


def verify_signature(public_key_der: bytes, algorithm: str, data: bytes, signature: bytes) -> None:
    """Return None when ``signature`` is valid, raise InvalidSignature otherwise.

    A key of another kind than ``algorithm`` names is InvalidSignature, SM2 included: an ECDSA or RSA key named as
    SM2 is told so without libcrypto (a code relabelled SM2 had raised Sm2Unavailable where OpenSSL has no SM2; a
    reviewer). Sm2Unavailable only for an SM2 key where this process has no SM2."""
    if algorithm == SM2_SM3:
        if _not_sm2(public_key_der):
            raise InvalidSignature("the public key is not an SM2 key")  # as signing.sm2 says with libcrypto
        from signing.sm2 import verify_sm2  # here: the system libcrypto is loaded only once SM2 is used

        verify_sm2(public_key_der, data, signature)
        return
    try:
        public_key = _public_key(public_key_der)
    except (ValueError, UnsupportedAlgorithm) as exc:  # UnsupportedAlgorithm: an SM2 key named as another algorithm
        raise InvalidSignature("the public key cannot be parsed") from exc
    try:
        if algorithm == ECDSA_P256_SHA256 and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == RSA2048_SHA256 and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise InvalidSignature(f"algorithm {algorithm!r} does not match the key")
    except _CryptoInvalidSignature as exc:
        raise InvalidSignature("the signature does not match the data") from exc


@functools.lru_cache(maxsize=4096)
def _not_sm2(der: bytes) -> bool:
    """The key is one ``cryptography`` reads (ECDSA on a curve it knows, RSA, EdDSA…): it has no SM2 curve, so it
    is no SM2 key. An SM2 key, or bytes that are no key, is left to libcrypto."""
    try:
        _public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _public_key(der: bytes) -> PublicKeyTypes:
    """Parsed public keys, kept: they are immutable, and parsing costs a fifth of an ECDSA verification."""
    return serialization.load_der_public_key(der)


class KeyStore:
    """Encrypted PKCS#8 files, one per owner, under one directory; each key is decrypted once and kept.

    The passphrase comes from configuration or the environment, never from the repository.
    """

    def __init__(self, directory: Path, passphrase: bytes):
        if not passphrase:
            raise KeyStoreError("the key store needs a passphrase (ZZGW_KEY_PASSPHRASE)")
        self._dir = directory
        self._passphrase = passphrase
        self._loaded: dict[str, KeyBackend] = {}
        self._secrets: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def path(self, owner: str) -> Path:
        if not owner.isalnum():
            raise KeyStoreError(f"bad key owner {owner!r}")
        return self._dir / f"{owner}.key.pem"

    def exists(self, owner: str) -> bool:
        """Whether ``owner`` has a key file here. One in a directory this process may not search counts: it may well
        be there, and ``load`` then says it cannot be read (rather than a key being made anew, or called missing)."""
        try:
            return self.path(owner).exists()
        except PermissionError:
            return True

    def create(self, owner: str, algorithm: str = ECDSA_P256_SHA256) -> KeyBackend:
        """Generate a key for ``owner`` and write it encrypted (mode 0600); refuses to overwrite one."""
        key: SoftwareKey | Sm2Key
        if algorithm == SM2_SM3:
            from signing.sm2 import Sm2Key  # the system libcrypto is loaded only once SM2 is used

            key = Sm2Key.generate()
        else:
            key = SoftwareKey.generate(algorithm)
        path = self.path(owner)
        make_private_directory(self._dir)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyStoreError(f"a key for {owner} exists already at {path}") from None
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(key.to_encrypted_pem(self._passphrase))
                out.flush()
                os.fsync(out.fileno())
        except BaseException as exc:  # a full disk: no empty or partial key file is left under the owner's name
            path.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.filename is None:
                exc.filename = str(path)  # which volume is full: the key store's, not the store's
            raise
        with self._lock:
            self._loaded[owner] = key
        return key

    def forget(self, owner: str) -> None:
        """Drop ``owner``'s kept key, so that the next ``load`` reads the file again (one found to be another key than
        its certificate's, which the operator will put right)."""
        with self._lock:
            self._loaded.pop(owner, None)

    def secret(self, owner: str, *, create: bool = True) -> bytes:
        """``owner``'s 32-byte secret (an HMAC key), made on first use and kept encrypted like the keys: as the
        private bytes of an X25519 key in an encrypted PKCS#8 file, so one format and one passphrase cover the
        whole store. Processes asking at once get the same secret: the file appears whole or not at all (written
        aside, then linked into place, which fails if another process linked first; that one's secret is read).
        Without ``create``, a missing secret is a KeyStoreError (one made anew would not be the one in use)."""
        with self._lock:
            kept = self._secrets.get(owner)
        if kept is not None:
            return kept
        path = self.path(owner)
        if not path.exists() and not create:
            raise KeyStoreError(
                f"{path} is missing: copy the key store of the gateway that made it, or run `zzgw init`"
            )
        if not path.exists():
            make_private_directory(self._dir)
            fresh = x25519.X25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(self._passphrase),
            )
            aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(fresh)
            try:
                os.link(aside, path)
            except FileExistsError:
                pass  # another process made it first: use that one
            finally:
                aside.unlink()
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), self._passphrase)
        except UnsupportedAlgorithm:  # an SM2 key: cryptography cannot read it, and it is no secret
            raise KeyStoreError(f"{path} holds a key, not a secret") from None
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(f"cannot read the secret at {path}: wrong passphrase or not a secret") from exc
        if not isinstance(key, x25519.X25519PrivateKey):
            raise KeyStoreError(f"{path} holds a key, not a secret")
        secret = key.private_bytes_raw()
        with self._lock:
            return self._secrets.setdefault(owner, secret)

    def load(self, owner: str) -> KeyBackend:
        """``owner``'s key, decrypted once and kept. KeyStoreError naming the file when it is missing, cannot be
        read (permission denied), cannot be decrypted (another passphrase, a damaged file) or holds no signing key;
        a failure is not kept: the file put right, the next call loads it."""
        with self._lock:
            loaded = self._loaded.get(owner)
        if loaded is not None:
            return loaded
        path = self.path(owner)
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(
                f"no key for {owner} at {path}: `zzgw init` makes a key with its certificate, and cannot make it "
                "again for a certificate that exists; copy it from the data directory of the gateway that made it"
            ) from None
        except OSError as exc:  # permission denied (mode, owner), a directory in its place
            raise KeyStoreError(f"cannot read {path}: {exc.strerror or exc}") from None
        key: KeyBackend
        try:
            key = SoftwareKey.from_encrypted_pem(pem, self._passphrase, source=str(path))
        except UnsupportedAlgorithm:  # an SM2 key: cryptography has no SM2
            from signing.sm2 import Sm2Key

            try:
                key = Sm2Key.from_encrypted_pem(pem, self._passphrase)
            except KeyStoreError as exc:  # "cannot decrypt the key: …" (a damaged file), named as the others are
                said = str(exc)
                raise KeyStoreError(
                    said.replace("the key", str(path), 1) if "the key" in said else f"cannot use {path}: {said}"
                ) from None
        with self._lock:
            return self._loaded.setdefault(owner, key)
