"""What a flood of failing BatchIssueLicenses items leaves behind, over real gRPC: nothing once the batch is answered.

A tester saw a gateway grow from 412 to 899 MB under such a flood and never give it back: every failed item's error
kept, through its traceback, the frames of the batch and so every draft and request message of it, in a reference
cycle that the server's collector (``tune_gc``) reaches only after millions of allocations; and oversized holder
codes stayed as keys of the USCC check's cache.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.model import LicenseDraft
from protos.zzgw.v1 import issuance_pb2
from tests.conftest import ID_CARD, MARKET, RunningGateway


def _failing(tag: str) -> list[dict[str, Any]]:
    """Food permits, one for each way an item fails, and one that is issued."""
    records = [samples.food_permit(900 + i) for i in range(7)]
    for i, record in enumerate(records):
        record["request_id"] = f"{tag}-{i}"
        record["license_number"] = f"{record['license_number']}-{tag}"
    bad_check = records[0]["holder"]["code"]
    records[0]["holder"]["code"] = bad_check[:17] + ("0" if bad_check[17] != "0" else "1")  # BAD_CHECK_CHARACTER
    records[1]["fields"]["no_such_field"] = "x"  # UNKNOWN_FIELD
    records[2]["fields"]["food_category"] = "糕点" * 20_000  # TOO_LONG
    records[3]["issue_date"] = "2024-13-45"  # BAD_DATE
    records[4]["type_code"] = ID_CARD  # NOT_AUTHORITATIVE_ISSUER: the police's type
    del records[5]["fields"]["legal_representative"]  # REQUIRED
    return records


def _drafts(tag: str) -> list[LicenseDraft]:
    return [o for o in gc.get_objects() if type(o) is LicenseDraft and o.request_id.startswith(tag)]


def _answered(stream: Iterator[issuance_pb2.BatchIssueLicensesResponse]) -> list[issuance_pb2.BatchItemResult]:
    return [result for reply in stream for result in reply.results]


def test_failed_items_are_freed_with_their_batch(running: RunningGateway) -> None:
    """Freed by reference counting as soon as the batch is done, not left in a cycle for the collector."""
    tag = "mem" + uuid.uuid4().hex[:10]
    requests = [issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(r) for r in _failing(tag)])]
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # what only the collector would free stays, as on a server that runs it rarely
    try:
        results = _answered(running.issuance(MARKET).BatchIssueLicenses(iter(requests)))
        assert [r.HasField("error") for r in results] == [True] * 6 + [False]
        assert [r.error.reason for r in results[:6]] == [
            "BAD_CHECK_CHARACTER",
            "UNKNOWN_FIELD",
            "TOO_LONG",
            "BAD_DATE",
            "NOT_AUTHORITATIVE_ISSUER",
            "REQUIRED",
        ]
        deadline = time.monotonic() + 5  # the handler may still be leaving when the client has the last reply
        while (kept := _drafts(tag)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert kept == []
    finally:
        if enabled:
            gc.enable()


def test_oversized_holder_codes_are_not_kept(running: RunningGateway) -> None:
    """A holder code of any length is checked, refused and forgotten: none is kept by the USCC check's cache."""
    tag = "big" + uuid.uuid4().hex[:10]
    records = [samples.food_permit(950 + i) for i in range(40)]
    for i, record in enumerate(records):
        record["request_id"] = f"{tag}-{i}"
        record["holder"]["code"] = f"{tag}{i:02d}" + "9" * 100_000  # new to the process: not found in the cache
    items = [issue_request(r) for r in records]
    requests = [issuance_pb2.BatchIssueLicensesRequest(licenses=items[k : k + 10]) for k in range(0, 40, 10)]
    ours = not tracemalloc.is_tracing()
    if ours:
        tracemalloc.start()
    try:
        results = _answered(running.issuance(MARKET).BatchIssueLicenses(iter(requests)))
        assert {(f.field, f.reason) for r in results for f in r.error.field_errors} == {("holder.code", "BAD_USCC")}
        assert len(results) == 40
        gc.collect()
        validated = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/domain/validation.py")])
        kept = [t for t in validated.traces if t.size >= 100_000]
        assert kept == [], f"{len(kept)} holder codes of 100 KB are still in memory"
    finally:
        if ours:
            tracemalloc.stop()
