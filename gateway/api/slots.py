"""Bounds on the streams a process holds open: each holds a handler thread for as long as its client keeps it open."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

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
        pool: StreamPool | None = None,
        kind: str = "",
    ):
        self._total = total
        self._per_holder = per_holder
        self._holder_full = holder_full
        self._all_full = all_full
        self._pool = pool
        self._floor = pool.floor(kind) if pool is not None else 0
        """Slots of the pool's budget kept for this kind alone: taken before the shared ones, so that no other kind
        leaves it none (public health watches had left WatchLicenseChanges none; found in review)."""
        self._floor_held = 0
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
            pooled = None
            if self._floor_held < self._floor:  # one of the kind's own
                self._floor_held += 1
            elif self._pool is not None:
                pooled = self._pool.take(holder, name)  # raises when the shared slots are all held
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
                if pooled is None and self._pool is not None:
                    self._floor_held -= 1
            if pooled is not None:
                pooled()

        return release

    def held(self) -> dict[str, int]:
        with self._lock:
            return dict(self._held)


class StreamPool(StreamSlots):
    """The long-lived streams of a process, every kind together (``long_streams``): the slots shared by the kinds,
    and those kept for each (``floor``)."""

    def __init__(self, budget: int, floors: Mapping[str, int], all_full: Callable[[], ZzgwError]):
        shared = budget - sum(floors.values())
        super().__init__(shared, shared, lambda _name, _held: all_full(), all_full)
        self.budget = budget
        self._floors = dict(floors)

    def floor(self, kind: str) -> int:
        return self._floors.get(kind, 0)


FLOORS = {"watch": 3, "batch": 2, "health": 1}
"""Slots of the long-stream budget kept for each kind (``WatchLicenseChanges``: one more than a member's share, so
that one department cannot hold them all; ``BatchIssueLicenses``; health ``Watch``; reflection has none: it is
public and ends after 30 s), when the budget leaves two shared slots besides; never more than the kind's own bound."""


def long_streams(threads: int, bounds: Mapping[str, int] | None = None) -> StreamPool:
    """The pool every kind of long-lived stream of a process draws on (``WatchLicenseChanges``,
    ``BatchIssueLicenses``, health ``Watch``, server reflection): each kind has its own bound, but those add up to
    more than the handler threads (with 16: 8 + 8 + 4 + 1), and watchers and batch streams together had held every
    thread (found rereading the bounds). A quarter of the threads, rounded up and at least one, are kept for the
    other calls; of the rest, ``FLOORS`` are kept for each kind (at most its ``bounds``), so that none leaves another
    none."""
    budget = max(1, threads - max(1, -(-threads // 4)))
    wanted = {kind: min(floor, (bounds or {}).get(kind, floor)) for kind, floor in FLOORS.items()}
    floors = wanted if budget >= sum(wanted.values()) + 2 else {}

    def full() -> ZzgwError:
        return ResourceExhaustedError(
            f"证照网关的这个进程上长时间打开的流（变更订阅、批量签发、健康状态订阅、服务反射）可占用的{budget}个处理"
            "线程中，共用的部分已满，请稍后重试（the long-lived streams of this gateway process (WatchLicenseChanges, "
            f"BatchIssueLicenses, health Watch, server reflection) hold the {budget} handler threads they may, but "
            "for those kept for each kind: retry later）",
            reason="TOO_MANY_STREAMS",
        )

    return StreamPool(budget, floors, full)
