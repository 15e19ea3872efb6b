"""Encoding helpers of the API layer."""

from __future__ import annotations

import datetime as dt
import random

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.api.convert import set_timestamp, timestamp
from gateway.domain.model import CHINA_TZ


def test_set_timestamp_is_exactly_what_protobuf_makes_of_the_time() -> None:
    """Every microsecond boundary case, times before 1970 (nanos stay positive), other zones, and random times."""
    rng = random.Random(7)
    base = dt.datetime(2026, 12, 1, 23, 59, 59, 999_999, tzinfo=dt.UTC)
    times = [
        base,
        base + dt.timedelta(microseconds=1),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 2, 7, 59, 59, 999_999, tzinfo=CHINA_TZ),
        *(base + dt.timedelta(microseconds=rng.randrange(-(10**16), 10**16)) for _ in range(2000)),
    ]
    for value in times:
        expected, made = Timestamp(), Timestamp()
        expected.FromDatetime(value)
        set_timestamp(made, value)
        assert made == expected == timestamp(value), value
