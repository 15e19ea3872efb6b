"""Receipt ids: 32 hex digits, time first (so the primary-key index grows at its end), then 80 random bits."""

from __future__ import annotations

import re
import time

from gateway.domain.verification import new_receipt_ids


def test_receipt_ids_are_32_hex_digits_led_by_the_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    (rid,) = new_receipt_ids(1)
    after = time.time_ns() // 1_000_000
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert before <= int(rid[:12], 16) <= after


def test_receipt_ids_sort_by_time_and_do_not_repeat() -> None:
    ids = []
    for _ in range(5):
        ids += [new_receipt_ids(1)[0] for _ in range(2_000)]
        time.sleep(0.002)
    assert len(set(ids)) == len(ids)
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)  # the time part never goes back
    assert len({i[12:] for i in ids}) == len(ids)  # the random part alone is unique too


def test_a_group_of_ids_from_one_read_is_as_good_as_ids_one_by_one() -> None:
    before = time.time_ns() // 1_000_000
    group = new_receipt_ids(300)
    after = time.time_ns() // 1_000_000
    assert len(group) == 300
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) and before <= int(i[:12], 16) <= after for i in group)
    assert len({i[12:] for i in group}) == 300  # every id its own 80 random bits
    assert new_receipt_ids(0) == []
