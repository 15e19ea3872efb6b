"""A linear check of the tag-length-value structure of untrusted DER, before asn1crypto is given it.

>>> check_der(bytes.fromhex("3003020101"))  # a SEQUENCE holding the INTEGER 1
>>> try:
...     check_der(b"\\xff" * 1_000_000)
... except MalformedDer as exc:
...     print(exc)
a tag number of more than 4 octets at offset 0

asn1crypto reads a tag number written in more than one octet (a first octet whose low five bits are all 1, then
octets whose high bit is set for as long as the number goes on) by growing a Python int an octet at a time, so a run
of k such octets costs time in k²: 1 MB of 0xFF as a stamp, or as a PDF signature's ``/Contents``, kept a handler
thread busy for minutes, until the gateway's watchdog stopped the whole process (an independent fuzz tester). Every
place where bytes from outside reach asn1crypto (a stamp in ``signing.ses``, a PDF signature's CMS in
``signing.pdf``, a timestamp query in ``signing.tsa``, an external TSA's reply in ``gateway.server``) calls
``check_der`` first and refuses what it refuses as the
malformed input it is. None of the formats read (X.509, CMS, RFC 3161, GB/T 38540) has a tag number above 30.

The check reads the element ``data`` starts with (what follows it is not looked at: a PDF signature's ``/Contents``
is padded with zeros, and each reader decides about trailing bytes) in one pass, without recursion, and refuses:

- within the structure proper (the element and the constructed elements in it, which asn1crypto reads as its
  schema says): contents that are not whole elements (a length past its container; an indefinite length, as BER
  has it and some CMS writers write it, is read to its end-of-contents octets), a tag number of more than
  ``MAX_TAG_OCTETS`` octets after the first, a length in more than ``MAX_LENGTH_OCTETS`` octets, and an OCTET or
  BIT STRING in constructed form (chunks, which DER forbids: asn1crypto joins them and may read the joined bytes as
  DER, which were never read here whole);
- anywhere: nesting deeper than ``MAX_DEPTH``, more than ``MAX_ELEMENTS`` elements, and a tag number of more than
  ``MAX_OPAQUE_TAG_OCTETS`` octets. This counts what primitive elements hold: an OCTET or BIT STRING may hold DER
  that asn1crypto reads when its schema says so (a certificate's extension values, a timestamp token's TSTInfo, a
  stamp's certificates), so the first element in the contents of each primitive element (asn1crypto reads one, what
  follows being trailing data) is read too, as far as asn1crypto would read it: the reading of those contents
  stops without a refusal only where asn1crypto raises too before reading further (a header cut short, a length
  past its container, a primitive element of indefinite length), never at a header it reads and goes on from (a
  tag number of 5 to 32 octets, a length in up to 127 octets), behind which it would meet what this did not read.
  Bytes that are no DER (a hash, a key, a picture) are just bytes, and meet a refusal there by chance with odds
  below 2⁻³⁷ an element.

Each byte is read as part of an element's header at most once, so the check takes time linear in the bytes read.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_LENGTH_OCTETS",
    "MAX_OPAQUE_TAG_OCTETS",
    "MAX_TAG_OCTETS",
    "MalformedDer",
    "check_der",
]

MAX_TAG_OCTETS = 4
"""Octets a tag number may take after the identifier's first (tag numbers below 2²⁸)."""
MAX_OPAQUE_TAG_OCTETS = 32
"""The same inside a primitive element's contents, which may be no DER at all: random bytes have a tag number of 5
to 32 octets once in 512 elements, which is read as asn1crypto reads it (it costs asn1crypto nothing) and the reading
goes on past it; a longer one is what is refused."""
MAX_LENGTH_OCTETS = 4
"""Octets a length may take within the structure proper (lengths below 4 GiB). Inside a primitive element's contents
a length is read in as many octets as it says (up to 127), as asn1crypto reads it."""
MAX_DEPTH = 64
"""How deep elements may nest, counting DER held in OCTET and BIT STRINGs: a PDF seal's CMS, with a timestamp token
and certificates in it, nests about 20 deep."""

MAX_ELEMENTS = 100_000
"""Elements read, at most: a stamp, or a seal's CMS with its certificates and timestamp token, has a few thousand.
asn1crypto took 15 s over a 4 MiB stamp of two million empty elements, which a handful of calls at once stretch
past the watchdog's limit."""

_CHUNKED_STRINGS = (0x23, 0x24)  # a BIT STRING and an OCTET STRING in constructed form, which DER forbids

_PENDING = -1  # a level's next offset while its indefinite-length element is read: known at end-of-contents


class MalformedDer(ValueError):
    """The bytes are not the BER/DER they are given as, in a way that asn1crypto must not be left to find out."""


@dataclass(slots=True)
class _Level:
    """Elements side by side: a constructed element's contents, or a primitive element's read as elements."""

    at: int
    """The next element's offset, or _PENDING."""
    end: int
    """The container's end; for an indefinite length, the bound its end-of-contents octets must lie within."""
    depth: int
    """How deep this level's elements are nested (the outermost element is at 1)."""
    strict: bool
    """Within the structure proper: a fault here is malformed input. Within a primitive's contents, it only ends
    the reading of those contents as elements."""
    indefinite: bool
    """Ends at end-of-contents octets (BER's indefinite length) rather than at ``end``."""


def check_der(data: bytes) -> None:
    """Raise MalformedDer unless the element ``data`` starts with is one asn1crypto may be given (see the module's
    docstring); in time linear in ``len(data)``."""
    root = _Level(at=0, end=len(data), depth=1, strict=True, indefinite=False)
    levels: list[_Level] = []
    fault = _element(data, root, levels)
    if fault is not None:
        raise MalformedDer(f"{fault} at offset 0")
    read = 1
    while levels:
        level = levels[-1]
        if level.indefinite and level.at + 2 <= level.end and data[level.at : level.at + 2] == b"\x00\x00":
            levels.pop()  # its end-of-contents: the level around goes on after it
            if levels:
                levels[-1].at = level.at + 2
        elif not level.indefinite and level.at == level.end:
            levels.pop()
        elif read == MAX_ELEMENTS:
            raise MalformedDer(f"more than {MAX_ELEMENTS:,} elements")
        else:
            read += 1
            if (fault := _element(data, level, levels)) is not None:
                _give_up(levels, fault)


def _element(data: bytes, level: _Level, levels: list[_Level]) -> str | None:
    """Read the element at ``level.at``, move ``level`` past it and push the level of its contents; or say what is
    wrong with it."""
    if level.depth > MAX_DEPTH:
        raise MalformedDer(f"elements nested more than {MAX_DEPTH} deep at offset {level.at}")
    if level.at >= level.end:
        return "an indefinite length without end-of-contents octets" if level.indefinite else "no element"
    header = _header(data, level.at, level.end, level.strict)
    if isinstance(header, str):
        return header
    constructed, bit_string, start, end = header
    if level.strict and data[level.at] in _CHUNKED_STRINGS:
        raise MalformedDer(f"an OCTET or BIT STRING in chunks (constructed) at offset {level.at}")
    depth = level.depth + 1
    if end is None:  # constructed, of indefinite length
        level.at = _PENDING
        levels.append(_Level(at=start, end=level.end, depth=depth, strict=level.strict, indefinite=True))
    elif constructed:
        level.at = end
        levels.append(_Level(at=start, end=end, depth=depth, strict=level.strict, indefinite=False))
    else:
        level.at = end
        start += bit_string
        if end - start >= 2 and not isinstance(inner := _header(data, start, end, strict=False), str):
            # asn1crypto reads one element from contents it parses (a second is trailing data): that one's extent
            levels.append(_Level(at=start, end=end if inner[3] is None else inner[3], depth=depth, strict=False,
                                 indefinite=False))  # fmt: skip
    return None


def _header(data: bytes, at: int, bound: int, strict: bool) -> tuple[bool, bool, int, int | None] | str:
    """The element's header at ``at``, which must end by ``bound``: whether the element is constructed, whether it
    is a BIT STRING (whose first content octet counts unused bits, not contents), where its contents start and end
    (None: an indefinite length); or what is wrong with it. Outside the structure proper (not ``strict``) a header
    is read as asn1crypto reads it, and what is wrong is only what asn1crypto refuses too, before it reads further:
    a long tag number or a length in up to 127 octets that it reads and goes on from must not end the reading."""
    element, first = at, data[at]
    at += 1
    if first & 0x1F == 0x1F:  # the tag number follows, base 128, the high bit set on all its octets but the last
        most = MAX_TAG_OCTETS if strict else MAX_OPAQUE_TAG_OCTETS
        taken = 0
        while taken <= most:
            if at >= bound:
                return "a header cut short"
            taken, at = taken + 1, at + 1
            if not data[at - 1] & 0x80:
                break
        if taken > most:
            if strict:
                return f"a tag number of more than {MAX_TAG_OCTETS} octets"
            raise MalformedDer(f"a tag number of more than {MAX_OPAQUE_TAG_OCTETS} octets at offset {element}")
    if at >= bound:
        return "a header cut short"
    length = data[at]
    at += 1
    if length == 0x80:
        if not first & 0x20:
            return "a primitive element with an indefinite length"
        return bool(first & 0x20), first == 0x03, at, None
    if length > 0x80:
        count = length & 0x7F
        if strict and count > MAX_LENGTH_OCTETS:
            return f"a length of more than {MAX_LENGTH_OCTETS} octets"
        if at + count > bound:
            return "a length that runs past its container"
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if length > bound - at:
        return "a length that runs past its container"
    return bool(first & 0x20), first == 0x03, at, at + length


def _give_up(levels: list[_Level], fault: str) -> None:
    """A fault at the innermost level: malformed input within the structure proper; within a primitive's contents
    the end of reading them as elements, and of every level around whose end depended on them."""
    if levels[-1].strict:
        raise MalformedDer(f"{fault} at offset {levels[-1].at}")
    while levels.pop().indefinite:  # its container cannot know where it ends: done with that one too
        pass
