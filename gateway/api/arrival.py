"""A call's request message must come within ``ZZGW_GRPC_REQUEST_SECONDS`` of the call, else the call is cancelled.

>>> server = grpc.server(pool, interceptors=[RequestArrival(10), GatewayInterceptor(...)])  # doctest: +SKIP

The synchronous gRPC server hands a call of a method with one request message (unary or server-streaming) to a
handler thread before that message has come, and the thread waits for it inside grpc with no time limit, before any
interceptor's code runs: 16 calls that sent their headers and never a message had held every handler thread of a
process, with nothing logged and the watchdog blind to them (a penetration tester, D1). So each such method is
served as a request-streaming one: its handler thread reads the one message from the stream while a watcher thread
cancels the call (RST_STREAM, CANCELLED) if it has not come in time, then runs the method's own behaviour on it,
unchanged. Being first among the interceptors, it sees the handler the others made and leaves streams alone (their
messages are read, and their time bounded, by the servicers).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from gateway import metrics
from gateway.logs import OncePer, since

log = logging.getLogger("zzgw.grpc")

_LINES = OncePer(5.0)


@dataclass(slots=True)
class _Expected:
    """A call waiting for its request message until ``due`` (monotonic); ``context`` is None once it has come."""

    due: float
    method: str
    context: grpc.ServicerContext | None


class RequestArrival(grpc.ServerInterceptor):
    """Serves every method with one request message so that its message must come within ``seconds`` of a handler
    thread taking the call (a call waiting in the pool's queue behind busy threads has not started its time)."""

    def __init__(self, seconds: float):
        self._seconds = seconds
        self._lock = threading.Lock()
        self._expected: collections.deque[_Expected] = collections.deque()  # in the order due: one time for all
        self._watching = False
        self._served: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        method = handler_call_details.method
        # made once per method, as GatewayInterceptor's: this runs on gRPC's one dispatching thread for every call
        known = self._served.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        served = self._serve(method, handler)
        self._served[method] = (handler, served)
        return served

    def _serve(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(
                self._first_request(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_unary_rpc_method_handler(
            self._first_request(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _first_request(
        self, method: str, behaviour: Callable[[Any, grpc.ServicerContext], Any]
    ) -> Callable[[Iterator[Any], grpc.ServicerContext], Any]:
        def run(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            expected = self._expect(method, context)
            try:
                request = next(requests)  # a cancelled call raises grpc.RpcError, which grpc ends quietly
            except StopIteration:
                # the client closed its side without a message: what grpc answers a unary method so
                context.abort(grpc.StatusCode.UNIMPLEMENTED, f'"{method}" requires exactly one request message.')
            finally:
                expected.context = None
            return behaviour(request, context)

        return run

    def _expect(self, method: str, context: grpc.ServicerContext) -> _Expected:
        expected = _Expected(due=time.monotonic() + self._seconds, method=method, context=context)
        self._expected.append(expected)  # before _watching is read: a watcher that ends has found it or not yet
        if not self._watching:  # the watcher ends when nothing is expected: a stopped server leaves no thread
            with self._lock:
                if not self._watching:
                    self._watching = True
                    threading.Thread(target=self._watch, name="zzgw-request-arrival", daemon=True).start()
        return expected

    def _watch(self) -> None:
        while True:
            if not self._expected:
                with self._lock:
                    self._watching = False
                if not self._expected:  # else one came after the look and may have seen this watcher still on
                    return
                with self._lock:
                    if self._watching:  # its caller started another
                        return
                    self._watching = True
                continue
            first = self._expected[0]
            wait = first.due - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # those expected after it are due later
                continue
            self._expected.popleft()  # this thread alone takes from the left
            context = first.context
            if context is not None:
                peer = context.peer()  # before the cancel, which leaves it empty
                context.cancel()
                metrics.record_late_request()
                self._say_cancelled(first.method, peer)

    def _say_cancelled(self, method: str, peer: str) -> None:
        if (left := _LINES.allow("REQUEST_LATE")) is not None:
            log.warning(
                "gRPC: a call to %s from %s cancelled: no request message within %g s (ZZGW_GRPC_REQUEST_SECONDS)%s",
                method,
                peer,
                self._seconds,
                since(left),
            )
