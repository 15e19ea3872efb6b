"""Bounds on the streams a process holds open: each holds a handler thread for as long as its client keeps it open."""

from __future__ import annotations

import threading
from collections.abc import Callable

from gateway.domain.errors import ZzgwError


class StreamSlots:
    """The streams of one method (or kind) a process holds open: at most ``total`` in all and ``per_holder`` for any
    one holder (a member's code; "" for a call no member makes), so that no one holder takes every thread.
    ``holder_full`` (the holder's name, how many it holds) and ``all_full`` make the refusals."""

    def __init__(
        self,
        total: int,
        per_holder: int,
        holder_full: Callable[[str, int], ZzgwError],
        all_full: Callable[[], ZzgwError],
    ):
        self._total = total
        self._per_holder = per_holder
        self._holder_full = holder_full
        self._all_full = all_full
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def take(self, holder: str = "", name: str = "") -> Callable[[], None]:
        """Take a slot for ``holder`` and return what frees it (once, however often it is called); the refusal when
        the holder holds its share or the process every slot."""
        with self._lock:
            mine = self._held.get(holder, 0)
            if mine >= self._per_holder:
                raise self._holder_full(name, mine)
            if sum(self._held.values()) >= self._total:
                raise self._all_full()
            self._held[holder] = mine + 1
        freed = threading.Event()

        def release() -> None:
            with self._lock:
                if freed.is_set():
                    return
                freed.set()
                left = self._held[holder] - 1
                if left:
                    self._held[holder] = left
                else:
                    del self._held[holder]

        return release

    def held(self) -> dict[str, int]:
        with self._lock:
            return dict(self._held)
