"""The canonical encoding that record seals sign.

>>> canonical_json({"b": "证照", "a": [1, "x"]})
b'{"a":[1,"x"],"b":"\\xe8\\xaf\\x81\\xe7\\x85\\xa7"}'

The encoding is RFC 8785 (JSON Canonicalization Scheme) restricted to what a license record holds: objects with
ASCII keys, strings, integers, booleans and arrays. Under that restriction JCS is exactly ``json.dumps`` with sorted
keys, no whitespace and no ASCII escaping: keys sort the same by code point as by UTF-16 unit, strings escape only
``"``, ``\\`` and control characters (``\\n`` and friends, else ``\\u00xx``), and integers up to 2**53 - 1 print
in decimal. Floats
are refused because their JCS form needs ECMAScript number printing. The result never depends on dict order or on
protobuf serialisation; strings are signed exactly as stored (no Unicode normalisation).

The bytes are made by ``orjson`` with sorted keys, which writes exactly that form 14 times faster than the standard
library's encoder (0.5 against 6.5 µs for a verification receipt's statement); the tests hold the two to the same
bytes over every ASCII character and the awkward Unicode ones, besides the JCS vectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

_MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: object, *, trusted: bool = False) -> bytes:
    """UTF-8 bytes of the JCS form of ``value``; TypeError for floats, non-ASCII keys and other types.

    ``trusted`` skips that check for values built by zzgw itself from typed records (strings, integers, objects with
    catalog keys, which the catalog loader has checked are ASCII), where it would only cost time.
    """
    if not trusted:
        _check(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def canonical_fragment(value: object, *, trusted: bool = False) -> orjson.Fragment:
    """``value`` encoded once by ``canonical_json``, to be placed inside other values given to it: a document
    holding the fragment encodes to the same bytes as one holding ``value`` itself. For a part that many documents
    share (a verification's findings, reused by every receipt of the day)."""
    # copied: orjson's bytes keep the 4 KB buffer they were written in, and a fragment may be kept for long
    return orjson.Fragment(memoryview(canonical_json(value, trusted=trusted)).tobytes())


def _check(value: object) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INTEGER:
        raise TypeError(f"integer {value} is beyond 2**53 - 1, where JCS prints numbers as floating point")
    if isinstance(value, str | bool | int | orjson.Fragment) or value is None:  # a fragment: checked when made
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise TypeError(f"canonical keys must be ASCII strings, got {key!r}")
            _check(item)
        return
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for item in value:
            _check(item)
        return
    raise TypeError(f"{type(value).__name__} has no canonical form here")
