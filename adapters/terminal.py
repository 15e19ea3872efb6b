"""What the command line prints of text others wrote (a receipt file's fields, a gateway's answers, other departments'
access records), with what a terminal would act on or hide written as escapes instead of passed to it.

>>> shown("回执有效\\x1b[2J")
'回执有效\\\\u001b[2J'
>>> shown_json('{"receipt_id": "\\x9b31m"}')
'{"receipt_id": "\\\\u009b31m"}'

A receipt file is anyone's to write: ANSI sequences in its id cleared the screen, recoloured the line and retitled
the terminal, and could hide the 无效 INVALID that followed (an independent fuzz tester). ``shown`` writes such
characters as the gateway's refusals echo them (``gateway.domain.errors.visible``); ``shown_json`` as JSON escapes,
so that what ``--json`` prints is the same JSON.
"""

from __future__ import annotations

import json
import unicodedata

from gateway.domain.errors import visible

__all__ = ["shown", "shown_json"]


def shown(text: str) -> str:
    """``text`` with control characters (ESC and the rest of C0 and C1), line breaks, format characters (a
    right-to-left override) and unassigned code points written as their code points (``\\u001b``)."""
    return visible(text)


def shown_json(text: str) -> str:
    """JSON text as ``json.dumps(…, ensure_ascii=False)`` writes it, with what ``shown`` escapes written as JSON
    escapes (``\\u009b``; beyond the BMP, a surrogate pair): the same JSON. JSON escapes C0 in strings already, and
    writes no line break in one, so its line breaks (indentation) stay."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() or c == "\n" or unicodedata.category(c) == "Zs" else json.dumps(c)[1:-1] for c in text
    )
