"""The gateway's own time-stamping authority (时间戳服务, RFC 3161), without any transport.

>>> tsa = TimeStampAuthority(cert=tsa_cert, key=tsa_key, chain=[ca.intermediate, ca.root],
...     clock=SystemClock(), serials=x509.random_serial_number)                              # doctest: +SKIP
>>> reply_der = tsa.respond(query_der)  # body of application/timestamp-query → timestamp-reply  # doctest: +SKIP
>>> await async_sign_pdf(writer, meta, signer, timestamper=LocalTimeStamper(tsa))          # doctest: +SKIP

``respond`` answers every request with a DER ``TimeStampResp``: bad input (unparsable, too large, a weak hash, a
wrong imprint length, an unknown policy or extension) yields status ``rejection`` with the PKIFailureInfo bit
RFC 3161 names, never an exception, and so does a request after the TSA certificate's end (``timeNotAvailable``).
Faults of the TSA itself (a naive clock, a bad serial, a key backend that fails) do raise, so the transport can answer
500 and the fault is seen.

The token is CMS SignedData over TSTInfo, signed by the ``KeyBackend`` over the DER of the signed attributes
(content-type, message-digest, signing-certificate-v2), so any backend (file, PKCS#11) can be the TSA's key. The
SignerInfo digest is always SHA-256, the hash every backend signs with; the request's imprint may use SHA-256/384/512.

``LocalTimeStamper`` is a pyHanko ``TimeStamper`` that calls a ``TimeStampAuthority`` in-process instead of over
HTTP, so PDF signing inside the gateway (and in tests) needs no network round trip.

``token_problem`` checks a token another TSA gave as a verifier will: its imprint, its signature, and its
certificate's chain to the roots given, with the timeStamping usage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from gateway.domain.model import Clock
from signing.der import check_der
from signing.errors import KeyStoreError, SigningError
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, KeyBackend
from signing.results import CLOCK_SKEW
from signing.seal_ca import MAX_CARRIED_CERTIFICATES, repeated_name

__all__ = [
    "MAX_REQUEST_BYTES",
    "ZZGW_TSA_POLICY_OID",
    "LocalTimeStamper",
    "TimeStampAuthority",
    "TimeStampResp",
    "token_problem",
]

ZZGW_TSA_POLICY_OID = "1.3.6.1.4.1.55555.1.1"
"""The zzgw time-stamping policy. A PLACEHOLDER under a private-enterprise arc that is not registered to zzgw:
replace it with an OID from the operator's own IANA enterprise number before tokens leave a test deployment."""

MAX_REQUEST_BYTES = 4096
"""Largest request accepted; a SHA-512 request with a nonce and a policy is under 150 bytes."""

_IMPRINT_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}
_SIGNATURE_ALGORITHMS = {ECDSA_P256_SHA256: "sha256_ecdsa", RSA2048_SHA256: "sha256_rsa"}


class _Rejection(Exception):
    """A request the TSA refuses; becomes a ``rejection`` response, never leaves the module."""

    def __init__(self, failure: str, text: str):
        super().__init__(text)
        self.failure = failure
        self.text = text


class TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no type information
    """TimeStampResp as RFC 3161 section 2.4.2 has it. asn1crypto's ``tsp.TimeStampResp`` omits ``OPTIONAL`` on the
    token, so it can neither encode nor parse a rejection: use this class to read the TSA's replies."""

    _fields = [  # noqa: RUF012  # asn1crypto's declaration protocol
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


class TimeStampAuthority:
    """Answers RFC 3161 time-stamp requests with tokens signed by ``key`` under ``cert``.

    ``chain`` is what a relying party needs above ``cert`` (the issuing intermediate, optionally the root); it is
    sent with ``cert`` when a request sets certReq. ``serials`` must return a new positive integer on every call,
    from any thread (a database sequence, or ``x509.random_serial_number``). genTime is the clock's time in UTC to
    the microsecond (RFC 3161's fraction of a second, no trailing zeros): truncated to the second, a seal applied in
    the second its seal was revoked looked made before the revocation. ``accuracy_seconds`` is the clock's.
    """

    def __init__(
        self,
        *,
        cert: x509.Certificate,
        key: KeyBackend,
        chain: Sequence[x509.Certificate],
        clock: Clock,
        serials: Callable[[], int],
        policy_oid: str = ZZGW_TSA_POLICY_OID,
        accuracy_seconds: int = 1,
    ):
        public_der = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if public_der != key.public_key_der:
            raise KeyStoreError("the time-stamping key does not belong to the time-stamping certificate")
        if key.algorithm not in _SIGNATURE_ALGORITHMS:
            raise KeyStoreError(f"the time-stamping key's algorithm {key.algorithm!r} is not supported")
        _require_time_stamping_profile(cert)
        if accuracy_seconds < 1:
            raise ValueError("accuracy_seconds must be at least 1")
        self._not_after = cert.not_valid_after_utc
        self._cert = _to_asn1(cert)
        self._certificates = [self._cert, *(_to_asn1(c) for c in chain)]
        self._key = key
        self._signature_algorithm = _SIGNATURE_ALGORITHMS[key.algorithm]
        self._clock = clock
        self._serials = serials
        self._policy = policy_oid
        self._accuracy_seconds = accuracy_seconds
        self._signing_certificate = _signing_certificate_v2(self._cert)

    @property
    def policy_oid(self) -> str:
        """The policy every token names."""
        return self._policy

    def respond(self, request_der: bytes) -> bytes:
        """Answer one DER TimeStampReq with a DER TimeStampResp: ``granted`` with a token, or ``rejection``."""
        try:
            request = _parse(request_der)
            self._check(request)
            now = self._now()
        except _Rejection as rejection:
            return _rejection(rejection)
        token = self._token(request, now)
        response = TimeStampResp({"status": tsp.PKIStatusInfo({"status": "granted"}), "time_stamp_token": token})
        der: bytes = response.dump()
        return der

    # --- internals -----------------------------------------------------------------------------------------------

    def _check(self, request: tsp.TimeStampReq) -> None:
        imprint = request["message_imprint"]
        # parameters other than absent or NULL already failed parsing: asn1crypto types them by the algorithm
        name = imprint["hash_algorithm"]["algorithm"].native
        if name not in _IMPRINT_LENGTHS:
            raise _Rejection("bad_alg", f"hash algorithm {name} is not accepted; use sha256, sha384 or sha512")
        if len(imprint["hashed_message"].native) != _IMPRINT_LENGTHS[name]:
            raise _Rejection("bad_request", f"a {name} imprint is {_IMPRINT_LENGTHS[name]} bytes long")
        requested_policy = request["req_policy"].dotted if request["req_policy"].native is not None else None
        if requested_policy is not None and requested_policy != self._policy:
            raise _Rejection("unaccepted_policy", f"only policy {self._policy} is offered")
        if request["extensions"].native:
            raise _Rejection("unaccepted_extensions", "no request extensions are supported")

    def _now(self) -> dt.datetime:
        """The clock's time, which the certificate must cover (through its notAfter, RFC 5280): a process left running
        past its end had gone on signing tokens under it, which prove no time, and sealed documents with them for good
        (a reviewer, R3)."""
        now = self._clock.now()
        if now.tzinfo is None:
            raise ValueError("the clock must return an aware time")
        if now > self._not_after:
            raise _Rejection(
                "time_not_available",
                f"the time-stamping certificate ended on {self._not_after.isoformat()}: no timestamp is made under it",
            )
        return now

    def _token(self, request: tsp.TimeStampReq, now: dt.datetime) -> cms.ContentInfo:
        serial = self._serials()
        if serial < 1:
            raise SigningError(f"the serial source returned {serial}; time-stamp serials must be positive")
        tst_info = {
            "version": "v1",
            "policy": self._policy,
            "message_imprint": request["message_imprint"],
            "serial_number": serial,
            "gen_time": now.astimezone(dt.UTC),
            "accuracy": {"seconds": self._accuracy_seconds},
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self._cert.subject),
        }
        if request["nonce"].native is not None:
            tst_info["nonce"] = request["nonce"].native
        tst_info_der: bytes = tsp.TSTInfo(tst_info).dump()
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("message_digest", hashlib.sha256(tst_info_der).digest()),
                _attribute("signing_certificate_v2", self._signing_certificate),
            ]
        )
        # RFC 5652 5.4: the signature covers the attributes encoded as a SET OF, not as the [0] IMPLICIT field
        signature = self._key.sign(signed_attrs.dump())
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={"issuer": self._cert.issuer, "serial_number": self._cert.serial_number},
                ),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": signed_attrs,
                "signature_algorithm": {"algorithm": self._signature_algorithm},
                "signature": signature,
            }
        )
        signed_data = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_info_der)},
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = self._certificates
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})


class LocalTimeStamper(TimeStamper):
    """A pyHanko time stamper served by a ``TimeStampAuthority`` in this process, with no HTTP round trip.

    The request still goes through DER both ways, so pyHanko sees exactly what an HTTP client of the TSA would.
    """

    def __init__(self, authority: TimeStampAuthority, *, include_nonce: bool = True):
        super().__init__(include_nonce=include_nonce)  # type: ignore[no-untyped-call]  # pyHanko's is unannotated
        self._authority = authority

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> TimeStampResp:
        """The hook ``TimeStamper.async_timestamp`` calls for the round trip to the TSA.

        pyHanko reads the reply by item access only, so this class serves where it expects asn1crypto's, and a
        rejection reaches it as ``TimestampRequestError`` rather than a parse error.
        """
        response: TimeStampResp = TimeStampResp.load(self._authority.respond(req.dump()))
        return response


async def token_problem(
    token: cms.ContentInfo,
    message_digest: bytes,
    md_algorithm: str,
    trust_roots: Sequence[x509.Certificate],
    between: tuple[dt.datetime, dt.datetime],
) -> str | None:
    """Why ``token`` would not be a trusted timestamp of ``message_digest`` (hashed with ``md_algorithm``), asked
    for and received ``between`` those times of the gateway's clock, as ``signing.pdf.validate`` judges a seal's:
    None when its imprint is that digest, its signature holds, its certificate chains to one of ``trust_roots`` with
    the timeStamping usage, now, and its time is within ``CLOCK_SKEW`` of ``between``: a seal is judged at its
    timestamp's time, so one ahead fails SIGNING_TIME_IN_FUTURE and one behind a seal's start CERT_NOT_YET_VALID.
    A token carrying more certificates than a seal may, or two different ones of the same name, is refused before
    any path is built, as ``signing.pdf.validate`` refuses such a seal: one answer of 8 look-alikes held all sealing
    60 s (a reviewer)."""
    try:
        carried = token["content"]["certificates"] or ()
        count = len(carried)
        alike = None if count > MAX_CARRIED_CERTIFICATES else repeated_name(carried)
    except (ValueError, KeyError, TypeError) as exc:
        return f"the token cannot be checked ({exc})"
    if count > MAX_CARRIED_CERTIFICATES:
        return f"it carries {count:,} certificates; a timestamp carries at most {MAX_CARRIED_CERTIFICATES}"
    if alike is not None:
        return alike
    context = ValidationContext(trust_roots=[_to_asn1(c) for c in trust_roots], allow_fetching=False)
    try:
        status = TimestampSignatureStatus(
            **await validate_tst_signed_data(
                token["content"],
                context,
                lambda algorithm: message_digest if algorithm == md_algorithm else b"",
            )
        )
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:  # not a TSTInfo, or not readable
        return f"the token cannot be checked ({exc})"
    if not status.intact:
        return "the token's imprint is not the digest sent"
    if not status.valid:
        return "the token's signature does not verify"
    if not status.trusted:
        problem = status.trust_problem_indic
        return (
            "its certificate does not chain to a root trusted for timestamps"
            f" ({problem.standard_name if problem is not None else 'unknown'})"
        )
    stamped: dt.datetime = status.timestamp
    sent, received = between
    if not sent - CLOCK_SKEW <= stamped <= received + CLOCK_SKEW:
        off = stamped - sent if stamped < sent else stamped - received
        return (
            f"its time {stamped:%Y-%m-%d %H:%M:%S} UTC is {abs(off).total_seconds():,.0f} s "
            f"{'behind' if stamped < sent else 'ahead of'} the gateway's clock; at most "
            f"{CLOCK_SKEW.total_seconds():.0f} s is taken (check both clocks: NTP)"
        )
    return None


def _parse(request_der: bytes) -> tsp.TimeStampReq:
    if len(request_der) > MAX_REQUEST_BYTES:
        raise _Rejection("bad_data_format", f"the request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        check_der(request_der)  # asn1crypto's time is in the square of some malformed DER's size
        request = tsp.TimeStampReq.load(request_der, strict=True)
        request.native  # noqa: B018  # asn1crypto parses lazily: force every field now, inside the try
        version = request["version"].native
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, OverflowError and more on hostile DER
        raise _Rejection("bad_data_format", "the request is not a DER TimeStampReq") from exc
    if version != "v1":
        raise _Rejection("bad_data_format", f"request version {version} is not supported")
    return request


def _rejection(rejection: _Rejection) -> bytes:
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [rejection.text],
            "fail_info": tsp.PKIFailureInfo({rejection.failure}),
        }
    )
    der: bytes = TimeStampResp({"status": status}).dump()
    return der


def _attribute(kind: str, value: object) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": kind, "values": (value,)})


def _signing_certificate_v2(cert: asn1_x509.Certificate) -> tsp.SigningCertificateV2:
    """ESSCertIDv2 (RFC 5035) naming ``cert`` by SHA-256, the default algorithm, which DER therefore omits."""
    issuer_serial = tsp.IssuerSerial(
        {
            "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
            "serial_number": cert.serial_number,
        }
    )
    cert_id = tsp.ESSCertIDv2({"cert_hash": hashlib.sha256(cert.dump()).digest(), "issuer_serial": issuer_serial})
    return tsp.SigningCertificateV2({"certs": [cert_id]})


def _require_time_stamping_profile(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise SigningError("the certificate has no extended key usage; a TSA needs id-kp-timeStamping") from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise SigningError("a TSA certificate must carry exactly id-kp-timeStamping, marked critical (RFC 3161)")


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
