"""SM2 signatures (SM3withSM2, GB/T 32918.2) through the system's OpenSSL 3 libcrypto.

>>> key = Sm2Key.generate()
>>> signature = key.sign(b"data")
>>> verify_sm2(key.public_key_der, b"data", signature)
>>> Sm2Key.from_encrypted_pem(key.to_encrypted_pem(b"pass"), b"pass").key_id == key.key_id
True

``cryptography`` bundles an OpenSSL that it does not expose SM2 from, so this module calls Debian's
``libcrypto.so.3`` with ctypes; ctypes releases the GIL for every call, so threads sign in parallel. A signature is
the DER ``SEQUENCE {r, s}`` over SM3(Z || data), Z hashing the distinguishing id (default ``1234567812345678``,
GM/T 0009) with the curve and the public key. Public keys are DER SubjectPublicKeyInfo (id-ecPublicKey with the
SM2 curve 1.2.156.10197.1.301); private keys are stored as encrypted PKCS#8 PEM (PBES2, AES-256-CBC).

What OpenSSL 3.0 (measured on 3.0.19) needs, and this module does:

- the id is set with ``EVP_PKEY_CTX_set1_id`` on an ``EVP_PKEY_CTX`` made with ``EVP_PKEY_CTX_new``, which is
  handed to the ``EVP_MD_CTX`` with ``EVP_MD_CTX_set_pkey_ctx`` before ``EVP_DigestSignInit``/``VerifyInit``;
  passing ``distid`` as a parameter of ``EVP_DigestSignInit_ex`` fails (returns 0, nothing on the error queue),
  while ``set1_id`` right after the init also works (Z is hashed at the first update);
- with no id set, 3.0 hashes an EMPTY id, not ``1234567812345678``, as does the 3.0 ``openssl`` command without
  ``-sigopt distid:…``; every call here sets the id;
- ``EVP_MD_CTX_set_pkey_ctx`` leaves the ``EVP_PKEY_CTX`` owned by the caller: it is freed after the ``EVP_MD_CTX``;
- OpenSSL 3.0 keeps no reason strings for SM2 errors (``SM2 routines::reason(104)`` is invalid encoding).

Errors::

    Sm2Error (SigningError)   OpenSSL failed; the message carries its error queue
    └── Sm2Unavailable        no usable libcrypto: missing, not OpenSSL 3, or built without SM2/SM3
    InvalidSignature          the signature, or the public key, does not verify (as in ``signing.keys``)
    KeyStoreError             a private key cannot be loaded or made (wrong passphrase, not an SM2 key)

Each key keeps its ``EVP_PKEY`` (freed with the key); every signature and verification makes its own contexts,
so one key may be used from any number of threads.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import weakref
from typing import Any

from signing.errors import InvalidSignature, KeyStoreError, SigningError
from signing.keys import SM2_SM3, key_id_of

__all__ = [
    "DEFAULT_ID",
    "DEFAULT_LIBRARY",
    "SM2_CURVE_OID",
    "SM2_SM3",
    "Libcrypto",
    "Sm2Error",
    "Sm2Key",
    "Sm2Unavailable",
    "library",
    "load_library",
    "verify_sm2",
]

DEFAULT_ID = b"1234567812345678"
"""The distinguishing id that GM/T 0009 prescribes when none is agreed (in Z)."""
DEFAULT_LIBRARY = "libcrypto.so.3"
"""The soname ``library()`` loads: OpenSSL 3 from the system (Debian's libssl3)."""
SM2_CURVE_OID = "1.2.156.10197.1.301"
"""The SM2 recommended curve (sm2p256v1)."""

SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
"""n, the order of the SM2 curve's base point."""

_MIN_VERSION = 0x30000000
_SIGNATURE_MAX = 72  # SEQUENCE of two INTEGERs of up to 33 bytes
_BIO_CTRL_INFO = 3  # BIO_get_mem_data
_ID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
_SM2_CURVE = bytes.fromhex("06082a811ccf5501822d")

_p = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_int = ctypes.c_int
_size = ctypes.c_size_t
_str = ctypes.c_char_p

# name: (restype, argtypes). Every function is declared: a wrong argument type crashes the process, not Python.
_FUNCTIONS: dict[str, tuple[Any, list[Any]]] = {
    "OpenSSL_version_num": (ctypes.c_ulong, []),
    "OpenSSL_version": (_str, [_int]),
    "ERR_get_error": (ctypes.c_ulong, []),
    "ERR_error_string_n": (None, [ctypes.c_ulong, _str, _size]),
    "ERR_clear_error": (None, []),
    "EVP_PKEY_CTX_new_from_name": (_p, [_p, _str, _str]),
    "EVP_PKEY_CTX_new": (_p, [_p, _p]),
    "EVP_PKEY_CTX_free": (None, [_p]),
    "EVP_PKEY_CTX_set1_id": (_int, [_p, _str, _int]),
    "EVP_PKEY_keygen_init": (_int, [_p]),
    "EVP_PKEY_generate": (_int, [_p, _pp]),
    "EVP_PKEY_is_a": (_int, [_p, _str]),
    "EVP_PKEY_free": (None, [_p]),
    "EVP_MD_fetch": (_p, [_p, _str, _str]),
    "EVP_MD_CTX_new": (_p, []),
    "EVP_MD_CTX_free": (None, [_p]),
    "EVP_MD_CTX_set_pkey_ctx": (None, [_p, _p]),
    "EVP_DigestSignInit": (_int, [_p, _pp, _p, _p, _p]),
    "EVP_DigestSign": (_int, [_p, _str, ctypes.POINTER(_size), _str, _size]),
    "EVP_DigestVerifyInit": (_int, [_p, _pp, _p, _p, _p]),
    "EVP_DigestVerify": (_int, [_p, _str, _size, _str, _size]),
    "EVP_aes_256_cbc": (_p, []),
    "i2d_PUBKEY": (_int, [_p, _pp]),
    "d2i_PUBKEY": (_p, [_pp, _pp, ctypes.c_long]),
    "BIO_s_mem": (_p, []),
    "BIO_new": (_p, [_p]),
    "BIO_new_mem_buf": (_p, [_str, _int]),
    "BIO_ctrl": (ctypes.c_long, [_p, _int, ctypes.c_long, _p]),
    "BIO_free": (_int, [_p]),
    "d2i_PrivateKey_bio": (_p, [_p, _pp]),
    "PEM_read_bio_PrivateKey": (_p, [_p, _pp, _p, _str]),
    "PEM_write_bio_PKCS8PrivateKey": (_int, [_p, _p, _p, _str, _int, _p, _p]),
}


class Sm2Error(SigningError):
    """OpenSSL failed to carry out an SM2 operation; the message carries its error queue."""


class Sm2Unavailable(Sm2Error):
    """No usable libcrypto: it is missing, is not OpenSSL 3, or was built without SM2 or SM3."""


class Libcrypto:
    """One loaded libcrypto with every function this module calls declared; made by ``load_library``."""

    def __init__(self, cdll: ctypes.CDLL, path: str, version: str, sm3: int) -> None:
        self.path = path
        """Where it was loaded from (a soname or a file)."""
        self.version = version
        """OpenSSL's own version text, e.g. ``OpenSSL 3.0.19 27 Jan 2026``."""
        self.sm3 = sm3
        """SM3, fetched once (an implicit fetch in every init costs time and takes a lock)."""
        self._functions = {name: getattr(cdll, name) for name in _FUNCTIONS}

    def __getattr__(self, name: str) -> Any:
        try:
            return self._functions[name]
        except KeyError:
            raise AttributeError(name) from None

    def error(self, what: str) -> Sm2Error:
        """An Sm2Error for ``what`` with OpenSSL's error queue, which it empties."""
        detail = self.drain()
        return Sm2Error(f"{what} ({self.version}): {detail or 'no detail from OpenSSL'}")

    def drain(self) -> str:
        """OpenSSL's error queue for this thread as text, emptied."""
        lines = []
        buffer = ctypes.create_string_buffer(256)
        while code := self.ERR_get_error():
            self.ERR_error_string_n(code, buffer, len(buffer))
            lines.append(buffer.value.decode("ascii", "replace"))
        return "; ".join(lines)


def load_library(path: str = DEFAULT_LIBRARY) -> Libcrypto:
    """Load libcrypto from ``path`` and check that it is OpenSSL 3 with SM2 and SM3; Sm2Unavailable otherwise."""
    try:
        cdll = ctypes.CDLL(path)
    except OSError as exc:
        raise Sm2Unavailable(f"cannot load libcrypto from {path!r}: {exc}; SM2 needs OpenSSL 3 (libssl3)") from exc
    try:
        version_num = cdll.OpenSSL_version_num
        version_text = cdll.OpenSSL_version
    except AttributeError:
        raise Sm2Unavailable(f"{path!r} is not OpenSSL's libcrypto (no OpenSSL_version_num)") from None
    version_num.restype, version_num.argtypes = ctypes.c_ulong, []
    version_text.restype, version_text.argtypes = _str, [_int]
    version = (version_text(0) or b"unknown version").decode("ascii", "replace")
    if version_num() < _MIN_VERSION:
        raise Sm2Unavailable(f"{path!r} is {version}; SM2 needs OpenSSL 3.0 or later")
    missing = [name for name in _FUNCTIONS if not hasattr(cdll, name)]
    if missing:
        raise Sm2Unavailable(f"{path!r} ({version}) lacks {', '.join(missing)}")
    for name, (restype, argtypes) in _FUNCTIONS.items():
        function = getattr(cdll, name)
        function.restype, function.argtypes = restype, argtypes
    sm3 = cdll.EVP_MD_fetch(None, b"SM3", None)
    probe = cdll.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    cdll.EVP_PKEY_CTX_free(probe)
    cdll.ERR_clear_error()
    if not sm3 or not probe:
        raise Sm2Unavailable(f"{path!r} ({version}) offers no SM2 or SM3 (built without them, or a FIPS-only setup)")
    return Libcrypto(cdll, path, version, sm3)


_default_lock = threading.Lock()
_default: Libcrypto | None = None


def library() -> Libcrypto:
    """The system libcrypto (``DEFAULT_LIBRARY``), loaded and checked on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = load_library()
        return _default


class _Pkey:
    """An owned ``EVP_PKEY *``, freed when the last reference goes."""

    __slots__ = ("__weakref__", "handle", "lib")

    def __init__(self, lib: Libcrypto, handle: int) -> None:
        self.lib = lib
        self.handle = handle
        # never at interpreter exit: OpenSSL may be cleaning up itself by then
        weakref.finalize(self, lib.EVP_PKEY_free, handle).atexit = False

    def public_der(self) -> bytes:
        lib = self.lib
        size = lib.i2d_PUBKEY(self.handle, None)
        if size <= 0:
            raise lib.error("cannot encode the SM2 public key")
        buffer = ctypes.create_string_buffer(size)
        cursor = ctypes.c_void_p(ctypes.addressof(buffer))
        if lib.i2d_PUBKEY(self.handle, ctypes.byref(cursor)) != size:
            raise lib.error("cannot encode the SM2 public key")
        return buffer.raw


def _take(lib: Libcrypto, handle: int | None, what: str) -> _Pkey:
    """Own ``handle`` if it is an SM2 key; free it and raise KeyStoreError if it is another kind."""
    if not handle:
        raise KeyStoreError(f"{what}: {lib.drain() or 'OpenSSL gave no detail'}")
    key = _Pkey(lib, handle)
    if lib.EVP_PKEY_is_a(handle, b"SM2") != 1:
        raise KeyStoreError(f"{what}: not an SM2 key (an SM2 key is an EC key on curve {SM2_CURVE_OID})")
    lib.ERR_clear_error()  # the decoders leave notes from the formats they tried
    return key


class Sm2Key:
    """An SM2 private key in memory, a ``KeyBackend``: signs SM3withSM2 with the default id unless told another.

    Make one with ``generate``, ``from_encrypted_pem`` or ``from_private_scalar``.
    """

    def __init__(self, pkey: _Pkey) -> None:
        self._pkey = pkey
        self._public_der = pkey.public_der()
        self._key_id = key_id_of(self._public_der)

    @classmethod
    def generate(cls, lib: Libcrypto | None = None) -> Sm2Key:
        """A new random key on the SM2 curve."""
        lib = lib or library()
        ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        if not ctx:
            raise lib.error("cannot make an SM2 key generator")
        handle = ctypes.c_void_p()
        try:
            if lib.EVP_PKEY_keygen_init(ctx) != 1 or lib.EVP_PKEY_generate(ctx, ctypes.byref(handle)) != 1:
                raise lib.error("SM2 key generation failed")
        finally:
            lib.EVP_PKEY_CTX_free(ctx)
        return cls(_take(lib, handle.value, "SM2 key generation failed"))

    @classmethod
    def from_encrypted_pem(cls, pem: bytes, passphrase: bytes, lib: Libcrypto | None = None) -> Sm2Key:
        """Read an encrypted PKCS#8 PEM (``ENCRYPTED PRIVATE KEY``); KeyStoreError if it cannot be."""
        lib = lib or library()
        if not passphrase or b"\0" in passphrase:
            raise KeyStoreError("the passphrase must be non-empty and hold no NUL byte")
        if b"ENCRYPTED PRIVATE KEY" not in pem:
            raise KeyStoreError("not an encrypted PKCS#8 PEM key")
        bio = lib.BIO_new_mem_buf(pem, len(pem))
        if not bio:
            raise lib.error("cannot read the key")
        try:
            handle = lib.PEM_read_bio_PrivateKey(bio, None, None, passphrase)
        finally:
            lib.BIO_free(bio)
        if not handle:
            lib.drain()
            raise KeyStoreError("cannot decrypt the key: wrong passphrase or damaged file")
        return cls(_take(lib, handle, "cannot load the key"))

    @classmethod
    def from_private_scalar(cls, scalar: bytes, lib: Libcrypto | None = None) -> Sm2Key:
        """The key with private scalar ``scalar`` (32 bytes, big-endian), as test vectors give it.

        OpenSSL derives the public key while parsing a PKCS#8 ``ECPrivateKey`` that leaves it out.
        """
        lib = lib or library()
        d = int.from_bytes(scalar, "big")
        if len(scalar) != 32 or not 1 <= d <= SM2_ORDER - 2:
            raise KeyStoreError("an SM2 private scalar is 32 bytes, from 1 to n - 2")
        der = _pkcs8_of(scalar)
        bio = lib.BIO_new_mem_buf(der, len(der))
        if not bio:
            raise lib.error("cannot read the key")
        try:
            handle = lib.d2i_PrivateKey_bio(bio, None)
        finally:
            lib.BIO_free(bio)
        return cls(_take(lib, handle, "cannot load the private scalar"))

    def to_encrypted_pem(self, passphrase: bytes) -> bytes:
        """The key as encrypted PKCS#8 PEM (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC)."""
        lib = self._pkey.lib
        if not passphrase or b"\0" in passphrase:
            raise KeyStoreError("the passphrase must be non-empty and hold no NUL byte")
        bio = lib.BIO_new(lib.BIO_s_mem())
        if not bio:
            raise lib.error("cannot write the key")
        try:
            handle, cipher = self._pkey.handle, lib.EVP_aes_256_cbc()
            if lib.PEM_write_bio_PKCS8PrivateKey(bio, handle, cipher, passphrase, len(passphrase), None, None) != 1:
                raise lib.error("cannot write the key")
            data = ctypes.c_void_p()
            size = lib.BIO_ctrl(bio, _BIO_CTRL_INFO, 0, ctypes.byref(data))
            return ctypes.string_at(data.value, size) if data.value else b""
        finally:
            lib.BIO_free(bio)

    @property
    def algorithm(self) -> str:
        return SM2_SM3

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def public_key_der(self) -> bytes:
        return self._public_der

    def sign(self, data: bytes, *, user_id: bytes = DEFAULT_ID) -> bytes:
        """The DER ``SEQUENCE {r, s}`` over SM3(Z || ``data``), Z made with ``user_id``."""
        lib = self._pkey.lib
        handle = self._pkey.handle
        md_ctx = lib.EVP_MD_CTX_new()
        pkey_ctx = lib.EVP_PKEY_CTX_new(handle, None)
        try:
            if not md_ctx or not pkey_ctx:
                raise lib.error("cannot make an SM2 signing context")
            if lib.EVP_PKEY_CTX_set1_id(pkey_ctx, user_id, len(user_id)) != 1:
                raise lib.error("cannot set the SM2 distinguishing id")
            lib.EVP_MD_CTX_set_pkey_ctx(md_ctx, pkey_ctx)
            if lib.EVP_DigestSignInit(md_ctx, None, lib.sm3, None, handle) != 1:
                raise lib.error("cannot start an SM2 signature")
            signature = ctypes.create_string_buffer(_SIGNATURE_MAX)
            size = ctypes.c_size_t(_SIGNATURE_MAX)
            if lib.EVP_DigestSign(md_ctx, signature, ctypes.byref(size), data, len(data)) != 1:
                raise lib.error("SM2 signing failed")
            return signature.raw[: size.value]
        finally:
            lib.EVP_MD_CTX_free(md_ctx)  # before the EVP_PKEY_CTX it borrows
            lib.EVP_PKEY_CTX_free(pkey_ctx)


def verify_sm2(public_key_der: bytes, data: bytes, signature: bytes, *, user_id: bytes = DEFAULT_ID) -> None:
    """Return None when ``signature`` is a valid SM3withSM2 signature of ``data``; raise InvalidSignature otherwise.

    ``public_key_der`` is a DER SubjectPublicKeyInfo of an SM2 key; any other key raises InvalidSignature, as
    ``signing.keys.verify_signature`` does. Sm2Unavailable when there is no usable libcrypto.
    """
    pkey = _public_key(public_key_der)
    lib = pkey.lib
    md_ctx = lib.EVP_MD_CTX_new()
    pkey_ctx = lib.EVP_PKEY_CTX_new(pkey.handle, None)
    try:
        if not md_ctx or not pkey_ctx:
            raise lib.error("cannot make an SM2 verification context")
        if lib.EVP_PKEY_CTX_set1_id(pkey_ctx, user_id, len(user_id)) != 1:
            raise lib.error("cannot set the SM2 distinguishing id")
        lib.EVP_MD_CTX_set_pkey_ctx(md_ctx, pkey_ctx)
        if lib.EVP_DigestVerifyInit(md_ctx, None, lib.sm3, None, pkey.handle) != 1:
            raise lib.error("cannot start an SM2 verification")
        result = lib.EVP_DigestVerify(md_ctx, signature, len(signature), data, len(data))
    finally:
        lib.EVP_MD_CTX_free(md_ctx)
        lib.EVP_PKEY_CTX_free(pkey_ctx)
    if result != 1:
        detail = lib.drain()  # 0: no match; negative: not a DER signature, or r or s out of range
        raise InvalidSignature("the signature does not match the data" + (f" ({detail})" if detail else ""))


@functools.lru_cache(maxsize=4096)
def _public_key(der: bytes) -> _Pkey:
    """Parsed public keys, kept: they are immutable, and parsing costs a tenth of a verification."""
    lib = library()
    buffer = ctypes.create_string_buffer(der, len(der))
    cursor = ctypes.c_void_p(ctypes.addressof(buffer))
    handle = lib.d2i_PUBKEY(None, ctypes.byref(cursor), len(der))
    if not handle:
        lib.drain()
        raise InvalidSignature("the public key cannot be parsed")
    key = _Pkey(lib, handle)
    if cursor.value != ctypes.addressof(buffer) + len(der):
        raise InvalidSignature("the public key has trailing bytes")
    if lib.EVP_PKEY_is_a(handle, b"SM2") != 1:
        raise InvalidSignature("the public key is not an SM2 key")
    return key


def _pkcs8_of(scalar: bytes) -> bytes:
    """PKCS#8 PrivateKeyInfo DER for an SM2 ``ECPrivateKey`` without its public key (RFC 5208, RFC 5915)."""
    ec_private_key = _der(0x30, bytes.fromhex("020101") + _der(0x04, scalar) + _der(0xA0, _SM2_CURVE))
    algorithm = _der(0x30, _ID_EC_PUBLIC_KEY + _SM2_CURVE)
    return _der(0x30, bytes.fromhex("020100") + algorithm + _der(0x04, ec_private_key))


def _der(tag: int, content: bytes) -> bytes:
    """One DER element with a short-form length (every element here is under 128 bytes)."""
    assert len(content) < 0x80
    return bytes((tag, len(content))) + content
