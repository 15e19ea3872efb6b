"""Receipt ids: 32 hex digits, time first (so the primary-key index grows at its end), then 80 random bits."""

from __future__ import annotations

import re
import time

from gateway.domain.verification import new_receipt_id


def test_receipt_ids_are_32_hex_digits_led_by_the_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    rid = new_receipt_id()
    after = time.time_ns() // 1_000_000
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert before <= int(rid[:12], 16) <= after


def test_receipt_ids_sort_by_time_and_do_not_repeat() -> None:
    ids = []
    for _ in range(5):
        ids += [new_receipt_id() for _ in range(2_000)]
        time.sleep(0.002)
    assert len(set(ids)) == len(ids)
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)  # the time part never goes back
    assert len({i[12:] for i in ids}) == len(ids)  # the random part alone is unique too
