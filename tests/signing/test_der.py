"""The check of untrusted DER before asn1crypto reads it (``signing.der``): the shapes that cost asn1crypto minutes
are refused, and what the gateway's formats hold is not."""

from __future__ import annotations

import datetime as dt
import random
import re
import time

import pytest
from asn1crypto import core
from cryptography.hazmat.primitives import serialization

from signing.der import MAX_DEPTH, MAX_ELEMENTS, MalformedDer, check_der
from signing.seal_ca import SealMakerCA
from signing.seal_image import draw_seal
from tests.signing.test_pdf import ISSUER, LATER, SEAL_NAME, Tsa, one_page_pdf, seal

MIB = 1024 * 1024


def header(identifier: int, size: int) -> bytes:
    """An element's identifier and its length in DER's shortest form."""
    if size < 0x80:
        return bytes([identifier, size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([identifier, 0x80 | len(octets)]) + octets


def tlv(identifier: int, contents: bytes) -> bytes:
    """One element."""
    return header(identifier, len(contents)) + contents


def nested(identifier: int, depth: int, inner: bytes = b"") -> bytes:
    """``inner`` in ``depth`` elements, one in the other: the headers are worked out from the inside and joined once
    (wrapping the bytes level by level copied them at each level, 7 s of CPU at every collection of this module)."""
    headers = []
    size = len(inner)
    for _ in range(depth):
        headers.append(header(identifier, size))
        size += len(headers[-1])
    return b"".join(reversed(headers)) + inner


ENDLESS_TAG = b"\x1f" + b"\xff" * MIB  # a tag number whose octets go on for a mebibyte


def in_a_token(tst_info: bytes) -> bytes:
    """A timestamp token's EncapsulatedContentInfo, the TSTInfo in its OCTET STRING."""
    return tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d0109100104")) + tlv(0xA0, tlv(0x04, tst_info)))


REFUSED: dict[str, bytes] = {
    "4 MiB of 0xFF": b"\xff" * (4 * MIB),
    "a tag number that never ends, in a SEQUENCE": tlv(0x30, ENDLESS_TAG + b"\x01\x00"),
    "one in an OCTET STRING": tlv(0x30, tlv(0x04, ENDLESS_TAG + b"\x01\x00")),
    "one in a BIT STRING": tlv(0x30, tlv(0x03, b"\x00" + ENDLESS_TAG + b"\x01\x00")),
    "one in a certificate's extension value in an OCTET STRING": tlv(
        0x30, tlv(0x04, tlv(0x30, tlv(0x30, tlv(0x06, b"\x55\x1d\x0e") + tlv(0x04, ENDLESS_TAG + b"\x01\x00"))))
    ),
    "one after an element that is no DER, in the same SEQUENCE": tlv(
        0x30, tlv(0x30, tlv(0x04, tlv(0x30, b"\x02\x09\x01"))) + tlv(0x04, ENDLESS_TAG + b"\x01\x00")
    ),
    "one cut in chunks of an OCTET STRING in constructed form": tlv(
        0x30, b"\x24\x80" + tlv(0x04, b"\x1f" + b"\xff" * 31) * 32_768 + b"\x00\x00"
    ),
    "one behind a length in 127 octets, which asn1crypto reads, in a timestamp token's TSTInfo": in_a_token(
        b"\x30\xff" + (3 + len(ENDLESS_TAG) + 2).to_bytes(127, "big") + tlv(0x02, b"\x01") + ENDLESS_TAG + b"\x7f\x00"
    ),
    "one behind a tag number of 5 octets, which asn1crypto reads, in a timestamp token's TSTInfo": in_a_token(
        tlv(0x30, tlv(0x02, b"\x01") + b"\x3f\x81\x80\x80\x80\x00\x00" + ENDLESS_TAG + b"\x7f\x00")
    ),
    "a tag number of 5 octets": tlv(0x30, b"\x1f\x81\x80\x80\x80\x00\x00"),
    "a length in 5 octets": b"\x30\x85\x00\x00\x00\x00\x03\x02\x01\x01",
    f"SEQUENCEs {MAX_DEPTH + 1} deep": nested(0x30, MAX_DEPTH + 1),
    "SEQUENCEs a mebibyte deep": nested(0x30, 200_000),
    f"OCTET STRINGs {MAX_DEPTH + 1} deep": nested(0x04, MAX_DEPTH + 1, b"\x05\x00"),
    "indefinite lengths nested a mebibyte deep": b"\x30\x80" * (MIB // 4) + b"\x00\x00" * (MIB // 4),
    "an indefinite length never closed": b"\x30\x80" + b"\x05\x00" * 100,
    "an indefinite length on a primitive element": b"\x04\x80\x00\x00",
    "126 length octets": b"\x30\xfe" + b"\xff" * 126,
    "a length past the end": b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * 100,
    "an element past its container": tlv(0x30, b"\x04\x05\x00"),
    "two million empty elements": tlv(0x30, b"\x05\x00" * (2 * MIB)),
    "nothing": b"",
}


@pytest.mark.parametrize("data", REFUSED.values(), ids=REFUSED.keys())
def test_what_would_cost_asn1crypto_dear_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedDer):
        check_der(data)


def test_the_refusal_is_quicker_than_asn1crypto_reading_valid_der_of_the_same_size() -> None:
    """Linear, and cheap: every shape above is refused in less time than asn1crypto takes to read one valid 4 MiB
    structure (the 0xFF alone had taken it hours)."""

    class Strings(core.SequenceOf):  # type: ignore[misc]  # asn1crypto ships no type information
        _child_spec = core.OctetString

    valid = tlv(0x30, tlv(0x04, bytes(40)) * (MAX_ELEMENTS - 1))
    started = time.perf_counter()
    Strings.load(valid, strict=True).native  # noqa: B018  # asn1crypto parses lazily: force every element
    reading = time.perf_counter() - started
    started = time.perf_counter()
    for data in REFUSED.values():
        with pytest.raises(MalformedDer):
            check_der(data)
    assert time.perf_counter() - started < reading


def test_the_limits_are_where_they_say() -> None:
    check_der(b"\x1f\x81\x80\x80\x00\x00")  # a tag number of 4 octets
    check_der(nested(0x30, MAX_DEPTH))
    check_der(nested(0x04, MAX_DEPTH - 1, b"\x05\x00"))
    check_der(tlv(0x30, b"\x05\x00" * (MAX_ELEMENTS - 1)))
    with pytest.raises(MalformedDer, match="more than 100,000 elements"):
        check_der(tlv(0x30, b"\x05\x00" * MAX_ELEMENTS))


ACCEPTED: dict[str, bytes] = {
    "a SEQUENCE holding an INTEGER": bytes.fromhex("3003020101"),
    "BER's indefinite lengths, nested": b"\x30\x80\x31\x80\x02\x01\x01\x00\x00\x04\x00\x00\x00",
    "trailing bytes, which are the reader's to judge": bytes.fromhex("3003020101") + b"\xff" * 1000,
    "a PDF signature's zero padding": bytes.fromhex("3003020101") + bytes(16384),
    "an OCTET STRING holding bytes that are no DER": tlv(0x04, b"\x1f\xff\xff\xff\xff\xff\x7f" + b"\x30\x7f"),
    "an OCTET STRING in chunks, inside one that is no DER": tlv(0x04, b"\x24\x80\x04\x01\x00\x00\x00"),
}


@pytest.mark.parametrize("data", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_well_formed_input_passes(data: bytes) -> None:
    check_der(data)


def test_random_bytes_in_strings_pass() -> None:
    """Hashes, keys, signatures and pictures in OCTET and BIT STRINGs are read as elements as far as they go, and
    are not refused for what they happen to look like."""
    rng = random.Random(690)
    for _ in range(20_000):
        contents = rng.randbytes(rng.randrange(2, 300))
        check_der(tlv(0x30, tlv(0x02, b"\x01") + tlv(rng.choice((0x03, 0x04, 0x80)), contents)))


@pytest.fixture(scope="module")
def seal_png() -> bytes:
    return draw_seal(ISSUER, SEAL_NAME, size_px=200)


def test_the_cms_of_a_pdf_seal_with_a_timestamp_and_its_certificates_pass(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa
) -> None:
    sealed = seal(ca, one_page_pdf(), seal_png, timestamper=tsa.stamper)
    contents = re.search(rb"/Contents <([0-9a-fA-F]+)>", sealed)
    assert contents is not None
    check_der(bytes.fromhex(contents[1].decode()))
    for certificate in (ca.root, ca.intermediate, tsa.root):
        check_der(certificate.public_bytes(serialization.Encoding.DER))
    check_der(ca.crl(LATER, LATER + dt.timedelta(days=7)))
