"""Bounds on the streams a process holds open: each holds a handler thread for as long as its client keeps it open."""

from __future__ import annotations

import threading
from collections.abc import Callable

from gateway.domain.errors import ResourceExhaustedError, ZzgwError


class StreamSlots:
    """The streams of one method (or kind) a process holds open: at most ``total`` in all and ``per_holder`` for any
    one holder (a member's code; "" for a call no member makes), so that no one holder takes every thread.
    ``holder_full`` (the holder's name, how many it holds) and ``all_full`` make the refusals. A kind's slots may
    also draw on a ``pool`` shared by every kind (``long_streams``): a stream is let in only while both have room."""

    def __init__(
        self,
        total: int,
        per_holder: int,
        holder_full: Callable[[str, int], ZzgwError],
        all_full: Callable[[], ZzgwError],
        pool: StreamSlots | None = None,
    ):
        self._total = total
        self._per_holder = per_holder
        self._holder_full = holder_full
        self._all_full = all_full
        self._pool = pool
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def take(self, holder: str = "", name: str = "") -> Callable[[], None]:
        """Take a slot for ``holder`` and return what frees it (once, however often it is called); the refusal when
        the holder holds its share, the kind every slot or the pool every slot (the kind's own refusals first)."""
        with self._lock:
            mine = self._held.get(holder, 0)
            if mine >= self._per_holder:
                raise self._holder_full(name, mine)
            if sum(self._held.values()) >= self._total:
                raise self._all_full()
            pooled = self._pool.take(holder, name) if self._pool is not None else None  # raises when it is full
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
            if pooled is not None:
                pooled()

        return release

    def held(self) -> dict[str, int]:
        with self._lock:
            return dict(self._held)


def long_streams(threads: int) -> StreamSlots:
    """The pool every kind of long-lived stream of a process draws on (``WatchLicenseChanges``,
    ``BatchIssueLicenses``, health ``Watch``, server reflection): each kind has its own bound, but those add up to
    more than the handler threads (with 16: 8 + 8 + 4 + 1), and watchers and batch streams together had held every
    thread (found rereading the bounds). A quarter of the threads, at least one, are kept for the other calls."""
    total = max(1, threads - max(1, threads // 4))

    def full() -> ZzgwError:
        return ResourceExhaustedError(
            f"证照网关的这个进程上长时间打开的流（变更订阅、批量签发、健康状态订阅、服务反射）已占用{total}个处理线程，"
            f"已达上限，请稍后重试（the long-lived streams of this gateway process (WatchLicenseChanges, "
            f"BatchIssueLicenses, health Watch, server reflection) hold {total} handler threads, the most they may: "
            "retry later）",
            reason="TOO_MANY_STREAMS",
        )

    return StreamSlots(total, total, lambda _name, _held: full(), full)
