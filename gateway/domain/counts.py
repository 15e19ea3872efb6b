"""Counts in English words: ``1 license``, ``2 licenses``.

The commands' English had put every count in the plural, one included ("1 bundles", "1 licenses", "1 fields":
a catalog author tester). Every count the commands say goes through ``counted``; the Chinese beside it needs none.
"""

from __future__ import annotations


def counted(n: int, singular: str, plural: str = "") -> str:
    """``n`` and the words it counts, singular for 1 and plural otherwise (0 included): ``counted(1, "license type")``
    is ``1 license type``, ``counted(2, "license type")`` ``2 license types``. The plural is ``singular`` with an
    ``s`` unless given, as where a verb or more words follow (``counted(n, "issuer has", "issuers have")``). The
    number is grouped by thousands (``1,204 licenses``)."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"
