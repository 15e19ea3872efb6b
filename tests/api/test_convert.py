"""Encoding helpers of the API layer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.api.convert import license_type_message, set_timestamp, timestamp
from gateway.bootstrap import samples
from gateway.domain.catalog import FieldSpec, ValueType
from gateway.domain.model import CHINA_TZ
from gateway.services.members import load_bootstrap_catalog


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


def test_a_license_type_says_which_of_its_dates_may_be_future() -> None:
    """An issuing system that draws its forms from the catalog learns which dates may lie ahead (``may_be_future``):
    any other after today is refused, DATE_IN_FUTURE."""
    permit = load_bootstrap_catalog().license_types[samples.FOOD_PERMIT]
    inspected = FieldSpec(key="next_inspection", label="下次检验日期", value_type=ValueType.DATE, may_be_future=True)
    message = license_type_message(dataclasses.replace(permit, fields=(*permit.fields, inspected)))
    assert [f.key for f in message.fields if f.may_be_future] == ["next_inspection"]
