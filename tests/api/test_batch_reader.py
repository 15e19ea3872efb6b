"""A BatchIssueLicenses stream that ends early leaves no reader behind, over real gRPC.

Each stream copies its client's messages into a bounded queue on a thread of its own (``batch-reader``), so items are
issued as they arrive. A stream that ended before its client was done (the client cancelled, its deadline passed, a
message of too many items, a store error, the issuer revoked, the gateway stopping) had left that thread blocked in
the queue's ``put`` for the life of the process, holding up to 65 request messages of up to the message limit each,
after ``Gateway.close()`` too (found by a reviewer: ~75 MiB a stream). The thread now returns once its stream ends.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import grpc
import pytest

from protos.zzgw.v1 import issuance_pb2
from tests.conftest import MARKET, RunningGateway, backend_params, error_details

FILLERS = 80
"""Messages sent after the first: more than the reader's queue holds (64)."""


def _frames() -> dict[int, FrameType]:
    """``sys._current_frames()`` with the collector off: on Python 3.11 a collection that starts while it holds the
    interpreter's thread list can deadlock the process (CPython gh-106883, fixed from 3.12 only; a fresh-clone run hung
    in it for good)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return sys._current_frames()
    finally:
        if enabled:
            gc.enable()


def _readers() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "batch-reader"}


def _left(before: set[threading.Thread], seconds: float = 10) -> set[threading.Thread]:
    """The readers started since ``before`` still alive after at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := _readers() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _waiting_to_queue(before: set[threading.Thread]) -> bool:
    """Whether a reader started since ``before`` waits for room in its full queue."""
    frames = _frames()
    for thread in _readers() - before:
        frame = frames.get(thread.ident or 0)
        while frame is not None:
            if frame.f_code.co_name == "put" and frame.f_code.co_filename.endswith("queue.py"):
                return True
            frame = frame.f_back
    return False


def _until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class _Held:
    """The gateway's ``issue_many`` held at its first call until ``release``: the stream's first message is in the
    handler's hands while the client sends more."""

    def __init__(self, running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self._go = threading.Event()
        service = running.gateway.issuance
        original = service.issue_many

        def held(*args: Any, **kwargs: Any) -> Any:
            self.entered.set()
            self._go.wait(30)
            return original(*args, **kwargs)

        monkeypatch.setattr(service, "issue_many", held)

    def release(self) -> None:
        self._go.set()


def _stream(held: _Held, filler: issuance_pb2.BatchIssueLicensesRequest, quiet: threading.Event) -> Iterator[Any]:
    """One message, then (once the handler has it) ``FILLERS`` more, then the stream kept open until ``quiet``."""
    yield issuance_pb2.BatchIssueLicensesRequest(licenses=[issuance_pb2.IssueLicenseRequest()])
    held.entered.wait(30)
    for _ in range(FILLERS):
        yield filler
    quiet.wait(60)


def test_a_cancelled_stream_leaves_no_reader(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _readers()
    held, quiet = _Held(running, monkeypatch), threading.Event()
    filler = issuance_pb2.BatchIssueLicensesRequest(licenses=[issuance_pb2.IssueLicenseRequest()])
    call = running.issuance(MARKET).BatchIssueLicenses(_stream(held, filler, quiet), timeout=60)
    try:
        assert held.entered.wait(30)
        assert _until(lambda: _waiting_to_queue(before)), "the reader's queue never filled"
        call.cancel()
        held.release()
        assert _left(before) == set()
    finally:
        held.release()
        quiet.set()


def test_a_stream_refused_too_many_items_leaves_no_reader(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _readers()
    held, quiet = _Held(running, monkeypatch), threading.Event()
    filler = issuance_pb2.BatchIssueLicensesRequest(licenses=[issuance_pb2.IssueLicenseRequest()] * 1001)
    call = running.issuance(MARKET).BatchIssueLicenses(_stream(held, filler, quiet), timeout=60)
    try:
        assert held.entered.wait(30)
        assert _until(lambda: _waiting_to_queue(before)), "the reader's queue never filled"
        held.release()
        first = next(call)
        assert len(first.results) == 1 and first.results[0].HasField("error")
        with pytest.raises(grpc.RpcError) as caught:
            next(call)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert ("licenses", "TOO_MANY_ITEMS") in error_details(caught.value)[1]
        assert _left(before) == set()
    finally:
        held.release()
        quiet.set()


def test_a_refused_stream_whose_client_sends_no_more_leaves_no_reader(running: RunningGateway) -> None:
    """The reader waits for the client's next message, and the client neither sends nor ends its stream."""
    before = _readers()
    quiet = threading.Event()

    def stream() -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
        yield issuance_pb2.BatchIssueLicensesRequest(licenses=[issuance_pb2.IssueLicenseRequest()] * 1001)
        quiet.wait(60)

    try:
        with pytest.raises(grpc.RpcError) as caught:
            list(running.issuance(MARKET).BatchIssueLicenses(stream(), timeout=60))
        assert ("licenses", "TOO_MANY_ITEMS") in error_details(caught.value)[1]
        assert _left(before) == set()
    finally:
        quiet.set()


def _answering() -> int:
    """How many threads are in a batch stream's handler (``_answer``)."""
    count = 0
    for frame in _frames().values():
        while frame is not None:
            if frame.f_code.co_name == "_answer" and frame.f_code.co_filename.endswith("issuance.py"):
                count += 1
                break
            frame = frame.f_back
    return count


@pytest.mark.parametrize("database_url", [backend_params()[0]], indirect=True)  # no store write: one backend
@pytest.mark.parametrize("ending", ["cancel", "deadline"])
def test_a_stream_that_ends_while_its_handler_waits_for_input_frees_its_handler(
    running: RunningGateway, ending: str
) -> None:
    """The client's first message answered, then nothing sent and the stream left open; the call cancelled, or past
    its deadline. The stop emptied the queue and the stopped reader passed on no error, so the handler waited for a
    next message for ever on one of the server's worker threads (found by a reviewer: about one stream in two; more
    of them than the server's threads and no call was answered). Three streams: each handler must end."""
    quiet = threading.Event()
    item = issuance_pb2.IssueLicenseRequest()  # refused item by item (REQUIRED): answered without a store write

    def stream() -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
        yield issuance_pb2.BatchIssueLicensesRequest(licenses=[item])
        quiet.wait(60)

    stub = running.issuance(MARKET)
    try:
        for _ in range(3):
            call = stub.BatchIssueLicenses(stream(), timeout=60 if ending == "cancel" else 1.0)
            assert len(next(call).results) == 1  # answered: the handler now waits for the next message
            if ending == "cancel":
                call.cancel()
            with pytest.raises(grpc.RpcError) as caught:
                next(call)
            assert caught.value.code() == (
                grpc.StatusCode.CANCELLED if ending == "cancel" else grpc.StatusCode.DEADLINE_EXCEEDED
            )
        assert _until(lambda: _answering() == 0, seconds=5), f"{_answering()} handlers still wait for input"
        done = list(stub.BatchIssueLicenses(iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[item])])))
        assert [len(answer.results) for answer in done] == [1]
    finally:
        quiet.set()
