"""A call's request message must come within ``ZZGW_GRPC_REQUEST_SECONDS`` of the call, else the call is cancelled.

>>> server = grpc.server(pool, interceptors=[RequestArrival(10), GatewayInterceptor(...)])  # doctest: +SKIP

The synchronous gRPC server hands a call of a method with one request message (unary or server-streaming) to a
handler thread before that message has come, and the thread waits for it inside grpc with no time limit, before any
interceptor's code runs: 16 calls that sent their headers and never a message had held every handler thread of a
process, with nothing logged and the watchdog blind to them (a penetration tester, D1). So each such method is
served as a request-streaming one: its handler thread reads the one message from the stream while a watcher thread
cancels the call (RST_STREAM, CANCELLED) if it has not come in time, then runs the method's own behaviour on it,
unchanged. Being first among the interceptors, it sees the handler the others made and leaves streams alone (their
messages are read, and their time bounded, by the servicers), health ``Check`` too, which
``gateway.health.CheckThreads``, next, serves with a ``RequestArrival`` of its own: a second, on threads of its own.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from gateway import metrics
from gateway.logs import OncePer, since

log = logging.getLogger("zzgw.grpc")

_LINES = OncePer(5.0)


WATCHER_THREAD_NAME = "zzgw-request-arrival"
WAKE_SECONDS = 0.25
"""The watcher sleeps at least this long between turns, however close the next call's time."""
TAKEN_GRACE_SECONDS = 0.5
"""A call taken by a handler thread after its time has this long more, so that a message that came while it queued
is read before the watcher may take the call: else a call served at once had been cancelled for the wait behind
calls that sent nothing."""
CANCEL_WAIT_SECONDS = 5.0
"""How long a handler thread whose call the watcher took waits for the watcher's cancel before ending its part."""


_Run = Callable[..., Any]
"""A method's handler as served: ``run(requests, context, *, arrived)``, ``arrived`` bound for each call."""


@dataclass(slots=True)
class _Expected:
    """A call waiting for its request message until ``due`` (monotonic). Whichever thread takes it first owns it: its
    handler thread once the message has come (or the call ended), else the watcher once its time is up."""

    due: float
    method: str
    context: grpc.ServicerContext | None
    """None once the owner is done with it."""
    taken: threading.Lock = field(default_factory=threading.Lock)
    """Held for good by the call's owner: acquired, never released."""

    def take(self) -> bool:
        """Whether this thread has taken the call: false if the other one had."""
        return self.taken.acquire(blocking=False)


class RequestArrival(grpc.ServerInterceptor):
    """Serves every method with one request message so that its message must come within ``seconds`` of the call's
    arrival (when gRPC's dispatching thread hands it on, before it waits in the pool's queue). A time started when a
    handler thread took the call had let one burst of 256 calls that send nothing, queued behind the 16 threads, hold
    them 16 at a time for 10 s each, 160 s in all (a penetration tester): queued that long, such a call is cancelled
    ``TAKEN_GRACE_SECONDS`` after a thread takes it, and one whose message came while it queued is served."""

    def __init__(self, seconds: float, *, bound_by: str = "ZZGW_GRPC_REQUEST_SECONDS"):
        self._seconds = seconds  # one time for every method: the calls are expected in the order they are due
        self._bound_by = bound_by  # where the time comes from, as the log says it
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # the server stopped (close), or the watcher cancelled a call
        self._closed = False
        self._expected: collections.deque[_Expected] = collections.deque()  # in the order due: one time for all
        self._watching = False
        self._served: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler, _Run]] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        method = handler_call_details.method
        arrived = time.monotonic()  # on gRPC's one dispatching thread, as the call comes: before it queues
        # the handler made once per method, as GatewayInterceptor's; each call's only its arrival, bound to it
        known = self._served.get(method)
        if known is None or known[0] is not handler:
            known = self._served[method] = (handler, *self._serve(method, handler))
        _, served, run = known
        bound = functools.partial(run, arrived=arrived)
        if handler.response_streaming:
            return served._replace(stream_stream=bound)
        return served._replace(stream_unary=bound)

    def _serve(self, method: str, handler: grpc.RpcMethodHandler) -> tuple[grpc.RpcMethodHandler, _Run]:
        if handler.response_streaming:
            run = self._first_request(method, handler.unary_stream)
            made = grpc.stream_stream_rpc_method_handler(
                run,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        else:
            run = self._first_request(method, handler.unary_unary)
            made = grpc.stream_unary_rpc_method_handler(
                run,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return made, run

    def _first_request(self, method: str, behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> _Run:
        def run(requests: Iterator[Any], context: grpc.ServicerContext, *, arrived: float) -> Any:
            expected = self._expect(method, context, arrived)
            request = None
            try:
                request = next(requests)  # a cancelled call raises grpc.RpcError, which grpc ends quietly
            except StopIteration:
                pass
            finally:
                # also when next() raised: the call has ended, and the watcher must not cancel it
                taken = expected.take()
            if not taken:
                # the watcher took the call at its time, just before this thread: the call is the watcher's to
                # cancel, log and count, and its behaviour must not run (a write would be done for a client told
                # CANCELLED). Once it is cancelled, an abort ends this thread's part without a word of its own.
                self._wait_until_cancelled(expected)
                context.abort(grpc.StatusCode.CANCELLED, "the request message did not come in time")
            expected.context = None
            if request is None:
                # the client closed its side without a message: what grpc answers a unary method so
                context.abort(grpc.StatusCode.UNIMPLEMENTED, f'"{method}" requires exactly one request message.')
            return behaviour(request, context)

        return run

    def _expect(self, method: str, context: grpc.ServicerContext, arrived: float) -> _Expected:
        # appended in the order threads take calls, near enough the order they came (the pool's queue is one): a call
        # due a little before the one ahead of it waits for that one's turn, milliseconds
        due = max(arrived + self._seconds, time.monotonic() + TAKEN_GRACE_SECONDS)
        expected = _Expected(due=due, method=method, context=context)
        self._expected.append(expected)  # before _watching is read: a watcher that ends has found it or not yet
        if not self._watching:  # the watcher ends when nothing is expected, or the server stops (close)
            with self._lock:
                if not self._watching and not self._closed:
                    self._watching = True
                    threading.Thread(target=self._watch, name=WATCHER_THREAD_NAME, daemon=True).start()
        return expected

    def close(self) -> None:
        """End the watcher now: the server has stopped, and no call will come (``Gateway.close``). It had slept on
        until the last call's time, up to ``ZZGW_GRPC_REQUEST_SECONDS``, in every stopped server."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _watch(self) -> None:
        try:
            self._watch_while_expected()
        except BaseException:
            # a watcher that died must not leave the next calls unwatched for the life of the process
            with self._lock:
                self._watching = False
            raise

    def _watch_while_expected(self) -> None:
        while True:
            for expected in self._due(time.monotonic()):
                self._cancel(expected)
            if not self._expected or self._closed:
                with self._lock:
                    self._watching = False
                if self._closed:
                    return
                if not self._expected:  # else one came after the look and may have seen this watcher still on
                    return
                with self._lock:
                    if self._watching:  # its caller started another
                        return
                    self._watching = True
                continue
            # once a turn at most: calls follow one another by microseconds, and a wake for each had cost about
            # 15 µs of CPU per call under load (review); a call is cancelled at most WAKE_SECONDS after its time
            wait = max(self._expected[0].due - time.monotonic(), WAKE_SECONDS)
            with self._changed:
                if not self._closed:
                    self._changed.wait(wait)

    def _due(self, now: float) -> list[_Expected]:
        """Take out the calls whose message has come or whose time is up, from the left; those the watcher took."""
        due = []
        while self._expected:  # this thread alone takes from the left
            first = self._expected[0]
            if not first.taken.locked() and first.due > now:
                break  # those expected after it are due later
            self._expected.popleft()
            if first.take():
                due.append(first)
        return due

    def _cancel(self, expected: _Expected) -> None:
        try:
            context = expected.context
            assert context is not None  # the handler thread lets go of it only once it has taken the call
            peer = context.peer()  # before the cancel, which leaves it empty
            try:
                metrics.record_late_request()  # before the cancel: a client told CANCELLED finds it counted
                self._say_cancelled(expected.method, peer)
            finally:
                context.cancel()
        except Exception:
            # the next calls must still be watched: one failure (a metrics file on a full disk) had ended the
            # watcher for the life of the process (review)
            log.exception("gRPC: the request watcher failed on a call to %s", expected.method)
        finally:
            with self._changed:
                expected.context = None
                self._changed.notify_all()  # its handler thread, if its message came just too late

    def _wait_until_cancelled(self, expected: _Expected) -> None:
        with self._changed:
            self._changed.wait_for(lambda: expected.context is None, timeout=CANCEL_WAIT_SECONDS)

    def _say_cancelled(self, method: str, peer: str) -> None:
        # a line apart for each bound: stalled health Checks hide no other call's
        if (left := _LINES.allow(f"REQUEST_LATE {self._bound_by}")) is not None:
            log.warning(
                "gRPC: a call to %s from %s cancelled: its request message was not whole within %g s (%s)%s",
                method,
                peer,
                self._seconds,
                self._bound_by,
                since(left),
            )
