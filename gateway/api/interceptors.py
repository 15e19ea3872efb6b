"""The server interceptor: authentication, the role check, error mapping and the access log, for all call shapes.

One ``intercept`` wraps each of the four call shapes the same way: find the member (bearer token in dev mode,
client certificate in production), check its roles against ``roles.ALLOWED_ROLES``, run the handler with the member
in ``current_member``, map a ``ZzgwError`` to its status with details, turn anything else into INTERNAL with a
request id, and write one access-log line: method, peer, member code, status code, duration and request id — no
request content, so no personal data. A request message that does not decode (a string field in GBK from a legacy
client, truncated bytes) reaches the handler as a marker, and is refused there, after the caller's credentials, as
INVALID_ARGUMENT / MALFORMED_REQUEST: left to gRPC it was INTERNAL, an error traceback and no access-log line. So is
a request message larger than the gateway's message limit (``ZZGW_MAX_MESSAGE_BYTES``), as RESOURCE_EXHAUSTED /
REQUEST_TOO_LARGE naming its size and the limit, before it is parsed: gRPC receives up to ``received_limit`` (about
twice the limit) for that, and refuses a larger one itself (RESOURCE_EXHAUSTED, "Received message larger than max",
in English and without a reason).

Where the access-log line is written, the call is counted in the metrics too (``gateway.metrics``), by method and
status code, with its duration; open ``WatchLicenseChanges`` streams are counted while they run. No member, no
request content.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway import metrics
from gateway.api.errors import internal_status, status_code, to_status, unknown_method_status
from gateway.api.roles import ALLOWED_ROLES, METHOD_WORDS, PUBLIC_SERVICES, is_public
from gateway.api.slots import StreamPool, StreamSlots
from gateway.domain.errors import (
    FieldViolation,
    InvalidRequestError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    ZzgwError,
    detached,
    invalid,
)
from gateway.domain.model import Member, Role, partner_roles_said
from gateway.domain.verification import plain_operator
from gateway.logs import OncePer, since
from gateway.services.members import Authenticator
from gateway.store.database import driver_error, full_where, store_unavailable
from gateway.watchdog import CallGone, InFlight, watched

access_log = logging.getLogger("zzgw.access")
error_log = logging.getLogger("zzgw.error")

current_member: contextvars.ContextVar[Member] = contextvars.ContextVar("current_member")


current_credential: contextvars.ContextVar[Callable[[], Member]] = contextvars.ContextVar("current_credential")


def caller() -> Member:
    """The authenticated member of the call in progress (set by the interceptor)."""
    return current_member.get()


def still_caller() -> Member | None:
    """For a long-lived stream, now and then: UNAUTHENTICATED once its caller's credential is no longer a member's
    (revoked, or replaced) within the credential cache's time (30 s), or once its client certificate has ended (at
    the next recheck), PERMISSION_DENIED once the member may no longer call the method (a role taken by `zzgw init`;
    found in review), as a new call would be. A stream opened before ``zzgw members --revoke``, or before its
    certificate ended, had gone on delivering for as long as its client kept it open, and kept the member's stream
    slots from its new credential (found by partner-gateway testers). Otherwise the member as it is now (its roles,
    name and region as `zzgw init` last left them, within the credential cache's time), for the stream to check what
    it serves against: what a member may watch depends on more than the method (``WatchLicenseChanges``; a
    reviewer, R1). None outside a stream."""
    identify = current_credential.get(None)
    return identify() if identify is not None else None


OPERATOR_METADATA = "x-zzgw-operator"
"""Request metadata naming the clerk or system user on the caller's side: ASCII, or UTF-8 (e.g. a Chinese name)
under ``x-zzgw-operator-bin`` (gRPC carries non-ASCII metadata only in ``-bin`` keys)."""


def operator(context: grpc.ServicerContext) -> str:
    """The operator named in the request metadata (``OPERATOR_METADATA``), or empty. Two different ones (the key
    twice, or with and without ``-bin``) are INVALID_ARGUMENT / BAD_OPERATOR: the access record had kept the first
    alone, and the holder's log showed one clerk where the caller named two (found by a black-box tester)."""
    named = ""
    for key, value in context.invocation_metadata() or ():
        if key == OPERATOR_METADATA + "-bin" and isinstance(value, bytes):
            found = plain_operator(value.decode("utf-8", "replace"))
        elif key == OPERATOR_METADATA:
            found = plain_operator(value if isinstance(value, str) else value.decode("ascii", "replace"))
        else:
            continue
        if not found:  # an empty one names no one, before or after another
            continue
        if named and found != named:
            raise invalid(
                OPERATOR_METADATA,
                "BAD_OPERATOR",
                "请求元数据中给了不止一个核验人，请只给一个（name one operator: the request metadata names more than "
                "one, under x-zzgw-operator or x-zzgw-operator-bin）",
            )
        named = found
    return named


NAMED_BY_PARTNERS = (
    "/zzgw.v1.VerificationService/",
    "/zzgw.v1.SharingService/",
    "/zzgw.v1.AuthorizationService/",
)
"""The services whose calls a partner gateway makes only naming the acting department and clerk in
``OPERATOR_METADATA``: its forwarder names them on every call (ADR 0017), and the holder's and issuer's logs name
no one else of the partner province. A call without had been answered, its record naming the partner gateway alone,
and a forwarder that left the header out went unnoticed (review partner, R4). Its catalog, seal and change-feed calls
are its forwarder's own, recorded on no holder's log."""
_UNNAMED_BY_PARTNER = (
    "合作网关每次调用须在 x-zzgw-operator（或 -bin）中写明办理部门和窗口人员，如“11440100994401040K 窗口张三”"
    "（a partner gateway names the acting department and clerk on every call, in x-zzgw-operator）"
)

WATCH_LICENSE_CHANGES = "/zzgw.v1.IssuanceService/WatchLicenseChanges"
"""The stream whose open calls the metrics count (``zzgw_license_watchers``)."""


class _Aborted(Exception):
    """The handler aborted the call itself (context.abort); its status is already set."""


def received_limit(limit: int) -> int:
    """How large a message gRPC receives (``grpc.max_receive_message_length``) for a message limit of ``limit``: up
    to twice the limit, and at most 16 MiB more, so that a request somewhat over the limit reaches ``_tolerant`` and
    is refused in words, with a reason (REQUEST_TOO_LARGE); gRPC refuses a larger one itself, from its length prefix
    and without reading it. Whole messages are held one a handler thread (a stream's next one when the handler asks
    for it): ``ZZGW_THREADS`` times this (128 MiB with the defaults, where gRPC's own refusal at the limit held 64
    MiB). Messages still coming are held by gRPC for every open call, up to 16 × ``ZZGW_THREADS`` of them (about 2
    GB), each until it is whole or ``ZZGW_GRPC_REQUEST_SECONDS`` after the call came (a penetration
    tester, D3; ``gateway.api.arrival``)."""
    return limit + min(limit, 16 * 1024 * 1024)


MAX_METADATA_BYTES = 16 * 1024
"""The most request metadata (headers) a call may carry, counted as HTTP/2 counts a header list (each entry's name
and value, and 32 bytes more; gRPC's own headers count too, about 0.5 KiB): a call with more is refused by gRPC as
RESOURCE_EXHAUSTED, in English and without a reason, every time. gRPC's own default had refused calls between its
soft limit (8 KiB) and its hard one (16 KiB) at random, more often the larger they were, so the same request
failed now and then (a partner gateway forwarding its tracing headers; found by a partner-gateway tester): both
limits are set to this one (``grpc.max_metadata_size``, ``grpc.absolute_max_metadata_size``)."""


class _Undecodable:
    """What a request message that does not decode, or is larger than the limit, becomes: its handler refuses the
    call in its place (``error``). The refusal is said Chinese first (``chinese``), the English after in brackets."""

    __slots__ = ("chinese", "english", "too_large")

    def __init__(self, chinese: str, english: str, *, too_large: bool = False):
        self.chinese = chinese
        self.english = english
        self.too_large = too_large

    def error(self, number: int = 0) -> ZzgwError:
        """The refusal; of message ``number`` of a request stream, saying which one it was."""
        if number:
            said = f"请求流的第{number}条消息：{self.chinese}（message {number} of the stream: {self.english}）"
        else:
            said = f"{self.chinese}（{self.english}）"
        if self.too_large:
            return ResourceExhaustedError(said, reason="REQUEST_TOO_LARGE")
        return _malformed_error(said)


def _tolerant(
    deserializer: Callable[[bytes], Any] | None, method: str, limit: int | None = None
) -> Callable[[bytes], Any] | None:
    """``deserializer``, answering ``_Undecodable`` for bytes that are not its message rather than raising (gRPC
    would answer INTERNAL before any handler runs), and for more bytes than ``limit`` without parsing them (gRPC,
    let receive them by ``received_limit``, would parse them). One more call per message: ``VerifyLicense`` runs
    thousands a second through it."""
    if deserializer is None:
        return None
    message = getattr(getattr(deserializer, "__self__", None), "DESCRIPTOR", None)
    name = message.full_name if message is not None else f"request of {method.rsplit('/', 1)[-1]}"
    most = limit if limit is not None else -1

    def deserialize(data: bytes) -> Any:
        if 0 <= most < len(data):
            return _too_large(len(data), most)
        try:
            return deserializer(data)
        except Exception as exc:  # protobuf's DecodeError: what else parsing bytes raises is no different to us
            return _malformed(name, exc)

    return deserialize


def _too_large(size: int, limit: int) -> _Undecodable:
    return _Undecodable(
        f"请求有 {size} 字节，超过了网关的消息上限 {limit} 字节",
        f"the request has {size} bytes, more than the gateway's message limit of {limit} (ZZGW_MAX_MESSAGE_BYTES)",
        too_large=True,
    )


def _malformed(name: str, exc: Exception) -> _Undecodable:
    why = str(exc).rsplit(": ", 1)[-1]  # upb: "Error parsing message with type '…': String field had bad UTF-8"
    if "UTF-8" in why:
        return _Undecodable(
            f"请求的字节不是有效的 {name}：文本须为 UTF-8 编码，GBK 等其他编码的文本请先转换",
            f"the request's bytes are not a valid {name}: {why} (string fields are UTF-8: convert text in another "
            "encoding, such as GBK)",
        )
    return _Undecodable(f"请求的字节不是有效的 {name}", f"the request's bytes are not a valid {name}: {why}")


def _malformed_error(description: str) -> InvalidRequestError:
    """MALFORMED_REQUEST, about the whole request (no field), said without a field's name before it."""
    violation = FieldViolation(field="", reason="MALFORMED_REQUEST", description=description)
    return InvalidRequestError([violation], message=description)


def _decoded(requests: Iterator[Any]) -> Iterator[Any]:
    """A request stream whose undecodable or oversized message ends the call with its error, saying which message
    it was (the answers to the messages before it stand)."""
    for number, request in enumerate(requests, 1):
        if type(request) is _Undecodable:
            raise request.error(number)
        yield request


REFLECTION_SECONDS = 30
"""How long a server-reflection stream may stay open (a tool's listing takes a moment): one held open and idle had
kept reflection from everyone else for as long as its client liked (found in review)."""
REFLECTION_STREAMS = 1
"""Server-reflection streams a process serves at once. Reflection is public (tools list the services with it), and
each stream holds a handler thread for as long as its client keeps it open, sending nothing: sixteen idle ones, from
anyone, had taken every thread of a process (found by a security tester). Health's ``Watch`` streams have their
own bound (``gateway.health.health_watches``); all draw on the process's long streams (``gateway.api.slots``)."""


def _reflection_busy() -> ZzgwError:
    return ResourceExhaustedError(
        "证照网关的这个进程上的服务反射调用已满，请稍后重试"
        "（every server-reflection stream of this gateway process is in use; retry later）",
        reason="TOO_MANY_STREAMS",
    )


def _public(
    handler: grpc.RpcMethodHandler, method: str, limit: int | None = None, slots: StreamSlots | None = None
) -> grpc.RpcMethodHandler:
    """A public method's handler (health, reflection) whose undecodable or oversized requests are refused as the
    gateway's own methods' are; there is no caller to identify and nothing to log. A stream of a method given
    ``slots`` is refused (RESOURCE_EXHAUSTED, TOO_MANY_STREAMS) while they are all held."""
    deserializer = _tolerant(handler.request_deserializer, method, limit)

    def refuse(request: _Undecodable, context: grpc.ServicerContext) -> None:
        context.abort_with_status(to_status(request.error()))  # raises: the call ends here

    def single(behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            if type(request) is _Undecodable:
                refuse(request, context)
            return behaviour(request, context)

        return run

    def stream(behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def run(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            def each() -> Iterator[Any]:
                for request in requests:
                    if type(request) is _Undecodable:
                        refuse(request, context)
                    yield request

            if slots is None:
                return behaviour(each(), context)
            try:
                release = slots.take()  # no member: one holder, "", for every caller
            except ZzgwError as busy:
                context.abort_with_status(to_status(busy))  # raises: the call ends here
            if not context.add_callback(release):  # a stream its client cancels frees its slot at once
                release()
                return iter(())
            ended = threading.Timer(REFLECTION_SECONDS, context.cancel)  # its requests then end, and it does
            ended.daemon = True
            ended.start()

            def answers() -> Iterator[Any]:
                try:
                    yield from behaviour(each(), context)
                finally:
                    ended.cancel()
                    release()

            return answers()

        return run

    serializer = handler.response_serializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(single(handler.unary_unary), deserializer, serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(single(handler.unary_stream), deserializer, serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(stream(handler.stream_unary), deserializer, serializer)
    return grpc.stream_stream_rpc_method_handler(stream(handler.stream_stream), deserializer, serializer)


def _streamed(behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
    """``behaviour`` of a client-streaming method, reading its requests through ``_decoded``."""
    return lambda requests, context: behaviour(_decoded(requests), context)


class GatewayInterceptor(grpc.ServerInterceptor):
    def __init__(
        self,
        authenticator: Authenticator,
        *,
        mode: str,
        in_flight: InFlight | None = None,
        max_request_bytes: int | None = None,
        streams: StreamPool | None = None,
        store_file: str = "",
    ):
        if mode not in ("dev", "production"):
            raise ValueError(f"unknown mode {mode!r}")
        self._auth = authenticator
        self._mode = mode
        self._in_flight = in_flight
        """Where unary-unary calls are kept while they run, for the watchdog (``gateway.watchdog``)."""
        self._max_request_bytes = max_request_bytes
        """The message limit: a larger request message is refused as REQUEST_TOO_LARGE (None: gRPC's limit only)."""
        self._reflection = StreamSlots(  # both versions' streams together, within the process's long streams
            REFLECTION_STREAMS,
            REFLECTION_STREAMS,
            lambda _name, _held: _reflection_busy(),
            _reflection_busy,
            streams,
            "reflection",
        )
        self._guarded: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        self._store_file = store_file
        """The SQLite store's file, whose volume a STORE_FULL line names ("" on PostgreSQL)."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        method = details.method
        if handler is None:
            return self._unknown(method)
        # The guarded handler of a method is made once: this runs on gRPC's one dispatching thread for every call
        # (a dict read, where wrapping anew cost about a tenth of that thread's time per call).
        known = self._guarded.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        if is_public(method):
            slots = self._reflection if ".ServerReflection/" in method else None
            guarded = _public(handler, method, self._max_request_bytes, slots)
        else:
            guarded = self._guard(method, handler)
        self._guarded[method] = (handler, guarded)
        return guarded

    def _unknown(self, method: str) -> grpc.RpcMethodHandler:
        """The handler of a method the gateway does not serve (a client built from older or other protos, a typo):
        gRPC had answered UNIMPLEMENTED "Method not found!" itself, in English, and the call was in neither the access
        log nor the metrics (found by an on-call tester). Answered UNIMPLEMENTED / UNKNOWN_METHOD, Chinese first, and
        logged and counted as every call is: counted as method ``other``, since its name is the client's. A stream
        handler reads nothing before it answers, whatever the call's shape; none is kept (the names are unbounded).
        The access log names it as ``unknown_method_logged`` does, never as sent."""

        def refuse(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            call = _Call(unknown_method_logged(method), context)
            call.method_length = len(method)
            call.counted_as = metrics.UNKNOWN_METHOD
            call.code, call.reason = grpc.StatusCode.UNIMPLEMENTED, "UNKNOWN_METHOD"
            try:
                context.abort_with_status(unknown_method_status(method))
            finally:
                call.log()
            yield from ()  # a generator: the call ends at its first step, above

        return grpc.stream_stream_rpc_method_handler(refuse)

    def _guard(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        deserializer = _tolerant(handler.request_deserializer, method, self._max_request_bytes)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary, self._in_flight), deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(method, handler.unary_stream), deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(method, _streamed(handler.stream_unary)), deserializer, handler.response_serializer
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(method, _streamed(handler.stream_stream)), deserializer, handler.response_serializer
        )

    def _unary(
        self,
        method: str,
        behaviour: Callable[[Any, grpc.ServicerContext], Any],
        in_flight: InFlight | None = None,
    ) -> Callable[..., Any]:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            call = _Call(method, context, self._store_file)
            token = None
            try:
                with watched(call, in_flight):
                    token = current_member.set(self._authorise(method, context, call))
                    if type(request) is _Undecodable:
                        raise request.error()
                    return behaviour(request, context)
            except BaseException as exc:
                call.fail(exc)
            finally:
                if token is not None:
                    current_member.reset(token)
                call.log()

        return wrapped

    def _streaming(
        self, method: str, behaviour: Callable[[Any, grpc.ServicerContext], Iterator[Any]]
    ) -> Callable[..., Any]:
        watching = method == WATCH_LICENSE_CHANGES

        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            call = _Call(method, context, self._store_file)
            token = None
            credential = None
            opened = False
            try:
                token = current_member.set(self._authorise(method, context, call))
                # the member and its roles again, now and then: revoked, or no longer allowed the method
                credential = current_credential.set(functools.partial(self._authorise, method, context, call))
                if type(request) is _Undecodable:
                    raise request.error()
                if watching:
                    metrics.watcher_opened()
                    opened = True
                yield from behaviour(request, context)
                if not context.is_active():  # the stream ended because its client went: not OK
                    call.code = _gone(context)
            except GeneratorExit:
                call.code = _gone(context)
                raise
            except BaseException as exc:
                call.fail(exc)
            finally:
                if opened:
                    metrics.watcher_closed()
                if token is not None:
                    with contextlib.suppress(ValueError):  # the generator was finalised in another context
                        current_member.reset(token)
                if credential is not None:
                    with contextlib.suppress(ValueError):
                        current_credential.reset(credential)
                call.log()

        return wrapped

    def _authorise(self, method: str, context: grpc.ServicerContext, call: _Call) -> Member:
        try:
            member = self._identify(context)
        except UnauthenticatedError as refused:  # a revoked member's certificate: the log names whose it is
            call.member = refused.metadata.get("member", call.member)
            raise
        call.member = member.code
        allowed = ALLOWED_ROLES.get(method)
        # a partner's HOLDER_PORTAL or ISSUER, registered before `zzgw init` refused them, is not honoured: with it a
        # partner had granted itself consents for any holder here (review partner, R1)
        if allowed is None or not ((member.roles - member.partner_roles_refused) & allowed):
            name = method.rsplit("/", 1)[-1]
            said = f"{METHOD_WORDS[name]}（{name}）" if name in METHOD_WORDS else f"调用 {name}"
            why = f"：{partner_roles_said(member)}" if allowed is not None and member.roles & allowed else ""
            raise PermissionDeniedError(  # Chinese first, as the other refusals a department's people read
                f"{member.name}无权{said}（{member.name} may not call {name}）{why}",
                reason="ROLE_NOT_ALLOWED",
                metadata={"method": method},
            )
        if member.has(Role.PARTNER) and method.startswith(NAMED_BY_PARTNERS) and not operator(context):
            raise invalid(OPERATOR_METADATA, "OPERATOR_REQUIRED", _UNNAMED_BY_PARTNER)
        return member

    def _identify(self, context: grpc.ServicerContext) -> Member:
        if self._mode == "production":
            pem = context.auth_context().get("x509_pem_cert")
            if not pem:
                raise UnauthenticatedError(
                    "请出示成员的客户端证书（a client certificate is required）", reason="NO_CLIENT_CERTIFICATE"
                )
            return self._auth.by_certificate(_certificate_der(pem[0]))
        if not self._auth.dev_tokens:  # the store was switched to production while this dev process served
            raise UnauthenticatedError(_STORE_WENT_PRODUCTION, reason="UNKNOWN_CREDENTIAL")
        for key, value in context.invocation_metadata():
            if key == "authorization" and isinstance(value, str):
                scheme, _, token = value.strip().partition(" ")
                if scheme.lower() == "bearer":  # a scheme is case-insensitive (RFC 9110 §11.1): "bearer" too
                    return self._auth.by_token(token.strip())
        raise UnauthenticatedError(
            "开发模式：请在请求元数据中带上 authorization: Bearer <令牌>，令牌见 var/dev-tokens.json（dev mode: send "
            "'authorization: Bearer <token>' with a token from var/dev-tokens.json）",
            reason="NO_CREDENTIAL",
        )


_STORE_WENT_PRODUCTION = (
    "证照网关的数据库已转为生产模式，本网关实例不再接受令牌：请用成员的客户端证书调用生产模式的网关实例（the gateway's "
    "store is served in production mode now, and this dev-mode gateway process takes no bearer token: call a "
    "production gateway with the member's client certificate）"
)
"""A dev-mode process's refusal of every call once its store was switched to production (``Authenticator.dev_tokens``
false): as a production gateway, it serves no bearer token, a console token neither (a multi-replica tester)."""


@functools.lru_cache(maxsize=4096)
def _certificate_der(pem: bytes) -> bytes:
    """The DER of a client certificate as gRPC hands it over (PEM, already verified against the member CA); cached,
    since a client presents the same certificate on every call and parsing it cost more than the rest of the
    authentication."""
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


_NUL_VIOLATION = FieldViolation(
    field="",
    reason="BAD_CHARACTERS",
    description="请求含有 NUL 字符，网关存储的文本中没有这个字符（the request holds a NUL character, which no stored "
    "text has）",
)


def _nul_in_text(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL's driver refusing a NUL in a text parameter: input no field check caught (a
    NUL is no character any stored value has), not a fault of the gateway's."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if "NUL (0x00)" in str(getattr(seen, "orig", None) or seen):
            return True
        seen = seen.__cause__
    return False


def _gone(context: grpc.ServicerContext) -> grpc.StatusCode:
    """Why a call's client is gone: its deadline passed, or it cancelled."""
    remaining = context.time_remaining()
    return grpc.StatusCode.DEADLINE_EXCEEDED if remaining is not None and remaining <= 0 else grpc.StatusCode.CANCELLED


_STORE_LINES = OncePer(5.0)
"""The store unavailable to a call (DATABASE_UNAVAILABLE, STORE_FULL, STORE_GONE …): one line per reason per 5 s."""
_FULL_METHODS: set[str] = set()
"""The methods whose calls met a full disk (STORE_FULL) since the last was answered OK again: the first that is says
so in the log, as a database back (``gateway.health``) and a store file put back are said (an on-call tester)."""
_FULL_LOCK = threading.Lock()


_SERVICES = frozenset({method.rsplit("/", 1)[0] + "/" for method in ALLOWED_ROLES} | set(PUBLIC_SERVICES))
"""The services the gateway serves, as a method's path begins (``/zzgw.v1.VerificationService/``)."""


def unknown_method_logged(method: str) -> str:
    """A method the gateway does not serve as the access log names it: its service and ``other``
    (``/zzgw.v1.IssuanceService/other``, a client built from older protos of that service) when the service is one the
    gateway serves, else ``other`` alone, as the metrics count it. The path is the client's text, sent before any
    credential is checked: written as it came, an unauthenticated caller had put a 公民身份号码 into the log, whose
    lines are promised to hold nothing personal and are kept and shipped further than the store (a privacy auditor,
    D6). The line says the path's length too (``method_length``); the caller's ErrorInfo still names it as sent."""
    service = method[: method.rfind("/") + 1] if method.startswith("/") else ""
    return f"{service}{metrics.UNKNOWN_METHOD}" if service in _SERVICES else metrics.UNKNOWN_METHOD


class _Call:
    """Bookkeeping of one call for the access log."""

    def __init__(self, method: str, context: grpc.ServicerContext, store_file: str = ""):
        self.method = method
        self.context = context
        self.store_file = store_file
        """The SQLite store's file, which a STORE_FULL line names the volume of ("": PostgreSQL)."""
        self.counted_as = method
        """The method the metrics count the call under (``metrics.UNKNOWN_METHOD`` for one the gateway lacks)."""
        self.method_length: int | None = None
        """The length of the path of a method the gateway lacks, whose name the line does not give
        (``unknown_method_logged``); None for every other call."""
        self.member = "-"
        self.code = grpc.StatusCode.OK
        self.reason = ""
        """The refusal's stable reason (ErrorInfo), for the access log: a failed call's line had only its code."""
        self.started = time.perf_counter()
        self._request_id = ""

    @property
    def request_id(self) -> str:
        """Made when first needed (an error, the access log): most calls never need one."""
        if not self._request_id:
            self._request_id = secrets.token_hex(8)
        return self._request_id

    def gone(self) -> bool:
        """Whether the call's client is gone: it cancelled, or its deadline passed (``gateway.watchdog.progress``)."""
        remaining = self.context.time_remaining()
        return not self.context.is_active() or (remaining is not None and remaining <= 0)

    def fail(self, exc: BaseException) -> None:
        """Answer the call for ``exc`` (raises, as ``abort_with_status`` does), then let go of what ``exc``'s
        tracebacks hold (``detached``): the call's context among them, whose HTTP/2 stream stays open while held."""
        try:
            self._fail(exc)
        finally:
            detached(exc)

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, CallGone):  # the work stopped for a client gone: nobody to answer, no error
            self.code = _gone(self.context)
            self.context.abort(self.code, "the call's client is gone")
        if _nul_in_text(exc):
            exc = InvalidRequestError([_NUL_VIOLATION])
        elif (unavailable := store_unavailable(exc)) is not None:  # nothing was answered from it: worth a retry
            where = ""
            if unavailable.reason == "STORE_FULL":
                where = full_where(exc, self.store_file)
                with _FULL_LOCK:
                    _FULL_METHODS.add(self.method)
            if (left := _STORE_LINES.allow(unavailable.reason)) is not None:
                error_log.warning(
                    "request %s to %s: %s (%s)%s%s",
                    self.request_id,
                    self.method,
                    unavailable.reason,
                    driver_error(exc),
                    f" {where}" if where else "",
                    since(left),
                )
            exc = unavailable
        if isinstance(exc, ZzgwError):
            self.code = status_code(exc)
            self.reason = exc.reason
            self.context.abort_with_status(to_status(exc))
        code = self.context.code()
        if code is not None and code is not grpc.StatusCode.OK:
            # context.abort() inside the handler: keep its status and re-raise its exception
            self.code = code
            raise exc
        self.code = grpc.StatusCode.INTERNAL
        error_log.error("request %s to %s failed", self.request_id, self.method, exc_info=exc)
        self.context.abort_with_status(internal_status(self.request_id))

    def log(self) -> None:
        """The call's access-log line, and its count and duration in the metrics (``gateway.metrics``)."""
        if self.code is grpc.StatusCode.OK and not self.context.is_active():
            # answered after its client had gone, or after the server cancelled it (a stop, the stuck-call
            # watchdog): the answer reached nobody
            self.code = _gone(self.context)
        seconds = time.perf_counter() - self.started
        if _FULL_METHODS and self.code is grpc.StatusCode.OK and self.method in _FULL_METHODS:
            with _FULL_LOCK:
                again = self.method in _FULL_METHODS
                _FULL_METHODS.clear()
            if again:
                error_log.info("request %s to %s answered: writes are taken again after STORE_FULL", self.request_id,
                               self.method)  # fmt: skip
        metrics.record_call(self.counted_as, self.code.name, seconds, self.reason)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                json.dumps(
                    {
                        "method": self.method,
                        **({"method_length": self.method_length} if self.method_length is not None else {}),
                        "peer": self.context.peer(),
                        "member": self.member,
                        "code": self.code.name,
                        **({"reason": self.reason} if self.reason else {}),
                        "ms": round(seconds * 1000, 2),
                        "request_id": self.request_id,
                    }
                )
            )
