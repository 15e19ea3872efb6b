"""Log lines of faults that every call meets alike (the store down, a seal's key unreadable): said at most once an
interval, with how many were left out since.

>>> lines = OncePer(5.0)
>>> if (left := lines.allow("STORE_FULL")) is not None:   # doctest: +SKIP
...     log.warning("…%s", f"; {left} more calls since the last such line" if left else "")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gateway.domain.counts import counted


class OncePer:
    """A line at most once per ``seconds`` for each key, saying how many were left out since: during a database
    outage every call had logged its own WARNING (some 200 lines in 10 s; found by a crash tester)."""

    def __init__(self, seconds: float, clock: Callable[[], float] | None = None):
        """``clock``: seconds by which the interval is counted (default: ``time.monotonic``, looked up at each line)."""
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._left: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None to leave this one out; else how many were left out since the last (0: none)."""
        now = self._clock() if self._clock is not None else time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._seconds:
                self._left[key] = self._left.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._left.pop(key, 0)


def since(left: int, what: str = "call") -> str:
    """What a line that ``OncePer`` allowed adds of the ones it left out since the last (``what`` each was):
    ``; 1 more call since the last such line``, ``; 3 more calls …``."""
    return f"; {counted(left, 'more ' + what)} since the last such line" if left else ""
