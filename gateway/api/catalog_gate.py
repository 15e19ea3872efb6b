"""The gRPC methods that answer by the catalog, refused once the store's catalog is no longer this process's
(``gateway.services.catalog_pin``, ADR 0013).

A server interceptor placed after ``GatewayInterceptor`` (``build_server``): its refusal is raised inside the
handler that interceptor wraps, so the call is authenticated first and the refusal mapped, logged and counted as any
other (UNAVAILABLE / ``CATALOG_CHANGED``, with its ``ErrorInfo``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc

CATALOG_SERVICES = frozenset(
    f"/zzgw.v1.{name}/"
    for name in ("CatalogService", "IssuanceService", "VerificationService", "SharingService", "AuthorizationService")
)
"""The services whose answers depend on the catalog: its types and matters, the fields a license has, what a matter
may read and on which basis (sharing class, consent, approval). Seals, the audit trail's records and health do not."""

_PREFIXES = tuple(sorted(CATALOG_SERVICES))
"""``CATALOG_SERVICES`` as ``str.startswith`` takes them, made once: this runs on gRPC's one dispatching thread for
every call."""


class CatalogGate(grpc.ServerInterceptor):
    """Has ``refuse()`` (raising a ``ZzgwError``, or not) run first in every call of ``CATALOG_SERVICES``."""

    def __init__(self, refuse: Callable[[], None]):
        self._refuse = refuse
        self._gated: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        method = details.method
        if handler is None or not method.startswith(_PREFIXES):
            return handler
        # made once per method and handed out the same, so that GatewayInterceptor's own cache keeps its wrapping
        known = self._gated.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        gated = _gated(handler, self._refuse)
        self._gated[method] = (handler, gated)
        return gated


def _gated(handler: grpc.RpcMethodHandler, refuse: Callable[[], None]) -> grpc.RpcMethodHandler:
    def single(behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            refuse()
            return behaviour(request, context)

        return run

    def stream(
        behaviour: Callable[[Any, grpc.ServicerContext], Iterator[Any]],
    ) -> Callable[[Any, grpc.ServicerContext], Iterator[Any]]:
        def run(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            refuse()
            yield from behaviour(request, context)

        return run

    deserializer, serializer = handler.request_deserializer, handler.response_serializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(single(handler.unary_unary), deserializer, serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream), deserializer, serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(single(handler.stream_unary), deserializer, serializer)
    return grpc.stream_stream_rpc_method_handler(stream(handler.stream_stream), deserializer, serializer)
