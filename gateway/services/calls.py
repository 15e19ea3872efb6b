"""The deadline of the call a thread serves, for work that must not be committed once its client has given up.

>>> with deadline(0.5):
...     passed()
False

A read that spends a holder's consent (a use of a one-use 用证码) is committed only while its caller still waits for
the answer: committed after the client's deadline, the use was spent and the holder's log said the data went out,
while the client had its DEADLINE_EXCEEDED and no data, and its retry was refused CONSENT_USED_UP (found by a
black-box tester). A commit racing the deadline's last instant can still land; the check takes the common case, a
call that queued or waited past its deadline, off the table.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

_ENDS: ContextVar[float | None] = ContextVar("zzgw_call_ends", default=None)


@contextlib.contextmanager
def deadline(seconds_left: float | None) -> Iterator[None]:
    """While inside, ``passed()`` tells whether ``seconds_left`` (from now; None: no deadline) have passed."""
    token = _ENDS.set(None if seconds_left is None else time.monotonic() + seconds_left)
    try:
        yield
    finally:
        _ENDS.reset(token)


def passed() -> bool:
    """Whether the deadline of the call being served has passed (False outside a call, or for one without)."""
    ends = _ENDS.get()
    return ends is not None and time.monotonic() >= ends
