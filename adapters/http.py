"""The gateway's HTTP side (ASGI): the time-stamping authority, the CRL and trust material, and the clerk's console.

>>> app = HttpApp(timestamp=tsa.respond, crl=lambda: ca.crl(now, next_update))   # doctest: +SKIP
>>> HttpServer(app, "127.0.0.1:8080").start()                                    # doctest: +SKIP

Routes:

==========================  ==========================================================================
``GET  /healthz``           ``ok`` (for load balancers)
``GET  /metrics``           Prometheus metrics, text format (``gateway.metrics``): no credentials asked,
                            nothing personal in them
``POST /tsa``               RFC 3161 over HTTP: ``application/timestamp-query`` in,
                            ``application/timestamp-reply`` out (RFC 3161 §3.4)
``GET  /crl/seal-maker.crl``  the seal-maker CA's current CRL, DER (``application/pkix-crl``)
``GET  /crl/seal-maker-sm2.crl``  the SM2 seal maker's, signed SM3withSM2 (with SM2 seals)
``GET  /certificates/NAME``   trust material for offline checks, PEM: ``seal-maker-root.pem`` (the root to
                            trust), ``seal-maker-intermediate.pem``, ``seal-maker-sm2-root.pem`` and
                            ``seal-maker-sm2-intermediate.pem`` (with SM2 seals), ``tsa.pem`` (the TSA's
                            certificate, for replies to queries that did not ask for it), ``receipts.pem``
                            (the receipt key's certificate), ``receipt-certificates.pem`` (it and the
                            earlier ones, read from the store when asked)
``/console/…``              the clerk's console: its page and JSON calls (``adapters.console``)
==========================  ==========================================================================

The CRLs and the certificates are answered with ``Cache-Control: no-cache`` (a cache in front asks before it
reuses them), a CRL with ``Last-Modified``, its thisUpdate (``NO_CACHE``). HEAD is answered wherever GET is (the
headers, no body). Over HTTPS every answer carries
``Strict-Transport-Security`` (``STRICT_TRANSPORT_SECURITY``), the server's own too (a 400, a 408). A method a known
path is not served for is 405 with ``Allow`` (under ``/console/api/`` in the console's JSON error form,
METHOD_NOT_ALLOWED); a path nothing serves is 404.

A console call's credentials are checked before its request is read (ADR 0007). One refused, or one whose request
is larger than the console takes, is answered without reading the request's body, and the connection is closed
after the answer (``Connection: close``): the gateway does not read the rest, and the rest is never taken for a
request of its own.

Every request is counted in the metrics by its route, one of those above (not the raw path: ``/console/`` for the
page's files, ``other`` for what no route serves), and the status of its answer.

A plain ASGI callable with no framework: a few routes do not need one, and the gateway stays one process with
gRPC and HTTP side by side (``HttpServer`` runs uvicorn in a thread of its own). Its connections share the process's
file descriptors with gRPC and the store, so they are capped, and a request must come whole in time
(``adapters.http_connections``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, TypeVar

import uvicorn
from cryptography import x509

from adapters.console import PREFIX as CONSOLE_PREFIX
from adapters.console import (
    Call,
    Console,
    Reply,
    attributed_member,
    error_reply,
    method_not_allowed,
    not_allowed_text,
    run_blocking,
)
from adapters.console import headers as console_headers
from adapters.http_connections import (
    ACCEPT_BACKLOG,
    LISTEN_BACKLOG,
    NOT_ANSWERING,
    OWN_WORK_THREAD_NAME,
    OWN_WORK_THREADS,
    ConnectionLimits,
    Connections,
    Work,
    accept_errors_said_once,
    store_work,
)
from adapters.http_connections import ClientGone as _ClientGone
from gateway import metrics
from gateway.domain.errors import ZzgwError
from gateway.logs import OncePer, since
from gateway.store.database import store_unavailable
from gateway.threads import name_this_thread

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")

MAX_TSA_REQUEST_BYTES = 4096
CRL_PATH = "/crl/seal-maker.crl"
SM2_CRL_PATH = "/crl/seal-maker-sm2.crl"
CERTIFICATES_PATH = "/certificates/"
METRICS_PATH = "/metrics"
STRICT_TRANSPORT_SECURITY = ("strict-transport-security", "max-age=31536000")
"""Sent with every answer over HTTPS (RFC 6797): a browser that has been to the console goes on asking for it over
HTTPS for a year, so that a clerk's ``http://`` bookmark or typed address cannot be served by someone on the network,
who would collect the token typed at sign-in (a penetration tester). Not over plain HTTP, where it means nothing; not
for other hosts under the gateway's name (``includeSubDomains``), which the gateway does not serve. ``HttpServer``
makes it one of uvicorn's headers of every answer, so that the answers the app does not make have it too: uvicorn's
400 to a request it cannot parse and its 500, and the connections' own 408 and 503 (``adapters.http_connections``),
which had gone without it when the app added it (a penetration tester)."""
STOP_GRACE_SECONDS = 5.0
"""When the HTTP side stops, the seconds an answer being made or sent has left before its connection is cut: the
side's answers take far less (a page's file, a timestamp, a console call), and a stranger reading slowly must not hold
the stop. Those waiting for a request are closed at once, and a request whose body is still coming is answered 503."""
_STOP_SLACK_SECONDS = 2.0
"""What the side's thread may take to end beyond ``STOP_GRACE_SECONDS`` (its loop's turns, tasks told of their cut
connections) before the stop goes on without it."""
error_log = logging.getLogger("zzgw.error")
http_log = logging.getLogger("zzgw.http")
access_log = logging.getLogger("zzgw.access")
_STORE_LINES = OncePer(5.0)
"""The store unavailable to a console call or another request (a CRL, ``receipt-certificates.pem``): one line per
reason per 5 s, as for gRPC calls (``gateway.api.interceptors``); a service hall of clerks retrying through an outage
had logged a WARNING each (an on-call tester). A defect met by a request that is no console call: one line per route
per 5 s (anyone may send those)."""
_CANCELLED_LINES = OncePer(5.0)
"""Requests whose work still ran when a stop cut their connections: one line per 5 s (``HttpApp.__call__``)."""
RETRY_AFTER_SECONDS = 5
"""``Retry-After`` of a ``503`` for the store unavailable to a CRL, certificates or metrics request: readiness
follows the database every second, an outage lasts longer."""


class HttpApp:
    ROUTES: frozenset[str] = frozenset({"/healthz", METRICS_PATH})
    """Routes served whatever the parts given (a subclass adds its own), each counted in the metrics by its path."""

    def __init__(
        self,
        *,
        timestamp: Callable[[bytes], bytes] | None,
        crl: Callable[[], bytes] | None,
        sm2_crl: Callable[[], bytes] | None = None,
        certificates: Mapping[str, bytes | Callable[[], bytes]] | None = None,
        console: Console | None = None,
        not_answering: Callable[[], bool] | None = None,
    ):
        """``crl``, ``sm2_crl``: what makes the CRL of the seal-maker CA and of the SM2 seal maker when asked;
        ``certificates``: PEM by name, or what makes it when asked (a list that grows while the gateway runs);
        ``not_answering``: whether readiness says the database does not answer now, so that a request's work on the
        store is given up then (``store_work``). ``/metrics`` and ``/tsa`` need no database: their work runs on
        threads of their own (``OWN_WORK_THREADS``), never behind work that waits on the store."""
        self._timestamp = timestamp
        self._not_answering = not_answering
        self._own_work = Work(OWN_WORK_THREADS, OWN_WORK_THREAD_NAME)
        self._crls = {path: made for path, made in ((CRL_PATH, crl), (SM2_CRL_PATH, sm2_crl)) if made is not None}
        self._certificates = dict(certificates or {})
        self._console = console
        served = [*self._crls, *(CERTIFICATES_PATH + name for name in self._certificates)]
        self._routes = self.ROUTES | {*served, *(["/tsa"] if timestamp is not None else [])}
        if console is not None:
            self._routes |= {CONSOLE_PREFIX, CONSOLE_PREFIX + "/api/session", *console.calls}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        route = self._route(scope["path"])
        head = scope["method"] == "HEAD"
        unread = _states_body(scope)  # until the body it states is read whole

        async def reading() -> Message:
            nonlocal unread
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                unread = False
            return message

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                metrics.record_http(route, message["status"])
                if unread and all(name != b"connection" for name, _ in message["headers"]):
                    # answered before the body it states was read (a 413, a 404, a GET with a body): closed after the
                    # answer, so the rest is neither read for nothing nor taken for a request
                    message = {**message, "headers": [*message["headers"], (b"connection", b"close")]}
            elif head:  # the GET's headers (its Content-Length too), without its body
                message = {**message, "body": b""}
            await send(message)

        allowed = self._methods(scope["path"])
        if allowed is not None and scope["method"] not in allowed:
            await self._not_allowed(scope, allowed, counted)
            return
        NOT_ANSWERING.set(self._not_answering)  # this request's task's own context
        with contextlib.suppress(_ClientGone):  # nothing to answer, nor to count: a 408 was, or no one is left
            try:
                await self.serve({**scope, "method": "GET"} if head else scope, reading, counted)
            except asyncio.CancelledError:
                # uvicorn cancels the tasks still running a second after a stop cut their connections (``HttpServer.
                # stopping``): nothing is left to answer. Let out, each had been an ERROR and a traceback of uvicorn's,
                # one per request waiting on the store, anyone's CRL fetch too (a reviewer, opshttp R4)
                if (left := _CANCELLED_LINES.allow("cancelled")) is not None:
                    http_log.info(
                        "HTTP: stopping: a request's work still running at the stop, its connection cut: left to its "
                        "thread%s",
                        since(left, "request"),
                    )

    def _methods(self, path: str) -> tuple[str, ...] | None:
        """The methods ``path`` is served for, HEAD wherever GET is (RFC 9110 §9.3.2: a load balancer's or a CRL
        fetcher's probe had been told 404), or None for a path nothing serves (and ``/console``, redirected whatever
        the method)."""
        if path == "/tsa" and self._timestamp is not None:
            return ("POST",)
        if self._console is not None:
            if path in self._console.calls:
                return ("POST",)
            if self._console.static(path) is not None:
                return ("GET", "HEAD")
        return ("GET", "HEAD") if path in self._routes and path != CONSOLE_PREFIX else None

    async def _not_allowed(self, scope: Scope, allowed: tuple[str, ...], send: Send) -> None:
        """405 with ``Allow`` for a method ``scope``'s path is not served for: in the console's JSON error form under
        its API (METHOD_NOT_ALLOWED), plain text elsewhere. A body the request states is not read: the connection
        closes after the answer (``__call__``), as for a console call refused unread."""
        path = scope["path"]
        extra = [(b"allow", ", ".join(allowed).encode())]
        if self._console is not None and path.startswith(CONSOLE_PREFIX + "/api/"):
            reply = method_not_allowed(path, allowed)
            await _send(send, reply.status, reply.body, [*console_headers("application/json; charset=utf-8"), *extra])
            return
        said = not_allowed_text(path, allowed) + "\n"
        await _respond(send, 405, said.encode(), "text/plain; charset=utf-8", extra)

    def _route(self, path: str) -> str:
        """The metrics' name for a request's route: one of a fixed set, whatever the path (an id in a path, a
        scanner's guesses), so that no request makes a new label value."""
        if path in self._routes:
            return path
        if self._console is not None and path.startswith(CONSOLE_PREFIX + "/"):
            return CONSOLE_PREFIX + "/"  # the page's files (and paths under it that are none)
        return "other"

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an HTTP request (a subclass serves its own routes first)."""
        method, path = scope["method"], scope["path"]
        if path == "/healthz" and method == "GET":
            await _respond(send, 200, b"ok\n", "text/plain; charset=utf-8")
        elif path == METRICS_PATH and method == "GET":
            # every worker's files are read in multiprocess mode: off the event loop
            exposed = await _made(scope, metrics.exposition, send, self._own_work)
            if exposed is not None:
                scraped, kind = exposed
                await _respond(send, 200, scraped, kind, [(b"cache-control", b"no-store")])
        elif path == "/tsa" and self._timestamp is not None and method == "POST":
            stated = _content_length(scope) or 0  # a query stated too large is refused unread, as a console call
            body = None if stated > MAX_TSA_REQUEST_BYTES else await _read_body(receive, MAX_TSA_REQUEST_BYTES)
            if body is None:
                await _respond(send, 413, b"timestamp query too large\n", "text/plain; charset=utf-8")
                return
            # The authority answers every input (a rejection for bad ones); signing runs off the event loop.
            timestamp = self._timestamp
            reply = await _made(scope, lambda: timestamp(body), send, self._own_work)
            if reply is not None:
                await _respond(send, 200, reply, "application/timestamp-reply")
        elif (
            method == "GET"
            and path.startswith(CERTIFICATES_PATH)
            and path[len(CERTIFICATES_PATH) :] in self._certificates
        ):
            named = self._certificates[path[len(CERTIFICATES_PATH) :]]
            pem = await _made(scope, named, send) if callable(named) else named  # read from the store when asked
            if pem is not None:
                await _respond(send, 200, pem, "application/x-pem-file", [NO_CACHE])
        elif method == "GET" and path in self._crls:
            crl = await _made(scope, self._crls[path], send)  # the store's revocations, read when asked
            if crl is not None:
                await _respond(send, 200, crl, "application/pkix-crl", [NO_CACHE, *_last_modified(crl)])
        elif self._console is not None and (path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")):
            await self._serve_console(self._console, scope, receive, send)
        else:
            await _respond(send, 404, b"not found\n", "text/plain; charset=utf-8")

    async def _serve_console(self, console: Console, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if path == CONSOLE_PREFIX:
            location = [(b"location", (CONSOLE_PREFIX + "/").encode())]
            await _respond(send, 308, b"", "text/plain; charset=utf-8", location)
            return
        static = console.static(path)
        if static is not None:  # GET (HEAD is served as GET), the only method ``_methods`` lets through
            body, kind = static
            await _send(send, 200, body, console_headers(kind))
            return
        authorization = _header(scope, b"authorization")
        started = time.perf_counter()
        unread = False  # a call answered before its body was read whole: the connection closes after the answer
        try:
            if path == CONSOLE_PREFIX + "/api/session" and method == "GET":
                reply = await run_blocking(lambda: console.session(authorization))
            elif path in console.calls and method == "POST":
                unread = True  # until its work answers: a store unavailable or a defect may come before the read
                reply, unread = await _console_call(console, console.calls[path], authorization, scope, receive)
            else:
                await _respond(send, 404, b"not found\n", "text/plain; charset=utf-8")
                return
        except _ClientGone:
            raise
        except Exception as exc:
            member = attributed_member(exc)
            if (unavailable := store_unavailable(exc)) is not None:  # the store's, not the call's: retry later
                if (left := _STORE_LINES.allow(unavailable.reason)) is not None:
                    error_log.warning(
                        "console call %s: %s (%s)%s", path, unavailable.reason, type(exc).__name__, since(left)
                    )
                reply = error_reply(unavailable)._replace(member=member)
            else:  # a defect: logged with an id the clerk can quote, nothing of the request
                request_id = secrets.token_hex(8)
                error_log.exception("console call %s failed (request %s)", path, request_id)
                message = f"网关内部错误，请将请求编号 {request_id} 告知管理员（internal error, request {request_id}）"
                error = {"status": 500, "reason": "INTERNAL", "message": message, "violations": []}
                body = json.dumps({"error": error}).encode()
                reply = Reply(500, body, member, reason="INTERNAL")
        if access_log.isEnabledFor(logging.INFO):  # like a gRPC call's line: who, what, how it ended; no content
            client = scope.get("client") or ("", 0)
            line = {
                "method": f"{method} {path}",
                "peer": f"{client[0]}:{client[1]}",
                "member": reply.member,
                "status": reply.status,
                "reason": reply.reason,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
            access_log.info(json.dumps(line))
        # logged before the answer is sent, so that a caller who has it finds the line written
        answer_headers = console_headers("application/json; charset=utf-8")
        if unread:
            answer_headers.append((b"connection", b"close"))
        await _send(send, reply.status, reply.body, answer_headers)


async def _console_call(
    console: Console, call: Call, authorization: str, scope: Scope, receive: Receive
) -> tuple[Reply, bool]:
    """The answer to a console ``call``, and whether its request's body was left unread. The caller is checked
    first (``Console.caller``), before a byte of the body is read: a stranger's request is refused unread, however
    large, and never parsed. A request larger than the call takes is refused unread too, at once when its
    ``Content-Length`` says so, else once that much has come."""
    try:
        user = await store_work(lambda: console.caller(authorization, call))
    except ZzgwError as error:
        return error_reply(error)._replace(member=attributed_member(error)), True
    limit = call.max_bytes
    declared = _content_length(scope)
    request = None if declared is not None and declared > limit else await _read_body(receive, limit)
    if request is None:
        return console.too_large(user, call), True
    # every console call stores something (a receipt, an access record): one given up under way may yet be done
    return await run_blocking(lambda: call.answer(user, request), writes=True), False


async def _made(scope: Scope, make: Callable[[], T], send: Send, own: Work | None = None) -> T | None:
    """What ``make`` returns, made off the event loop (it may read the store, sign, read files: ``store_work``), or on
    ``own``, threads of its own, for work that needs no database; None when it failed,
    the failure answered: the store unavailable (a database away, a file gone) ``503`` with ``Retry-After`` to try
    again, said at most once per reason per 5 s (``_STORE_LINES``, the console's); anything else (a defect) ``500``
    with an id the log's line names, said at most once per route per 5 s. Either is counted by its route, as any
    answer. Such failures had raised out of the app: uvicorn answered a bare 500 that no metric counted and wrote a
    traceback of some 130 lines in its own format for each request, a stranger's CRL fetch too (a reviewer, R2)."""
    try:
        if own is not None:
            return await asyncio.get_running_loop().run_in_executor(own, make)
        return await store_work(make)
    except _ClientGone:
        raise
    except Exception as exc:
        await _failed(scope, exc, send)
        return None


async def _failed(scope: Scope, exc: Exception, send: Send) -> None:
    """Answer and log the failure ``exc`` of the work of a request that is no console call (``_made``)."""
    said = f"HTTP {scope['method']} {scope['path']}"
    if (unavailable := store_unavailable(exc)) is not None:  # the store's: retry later; the body names no detail
        if (left := _STORE_LINES.allow(unavailable.reason)) is not None:
            error_log.warning("%s: %s (%s)%s", said, unavailable.reason, type(exc).__name__, since(left, "request"))
        body = f"{unavailable.reason}\n{unavailable.message}\n".encode()
        retry = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
        await _respond(send, 503, body, "text/plain; charset=utf-8", retry)
        return
    request_id = secrets.token_hex(8)
    if (left := _STORE_LINES.allow(f"INTERNAL {scope['path']}")) is not None:  # a stranger's requests may cause it
        error_log.error("%s failed (request %s)%s", said, request_id, since(left, "request"), exc_info=exc)
    body = f"网关内部错误，请求编号 {request_id}（internal error, request {request_id}）\n".encode()
    await _respond(send, 500, body, "text/plain; charset=utf-8")


def _content_length(scope: Scope) -> int | None:
    """The length the request's ``Content-Length`` header states (none without one, or with one not a number)."""
    stated = _header(scope, b"content-length").strip()
    return int(stated) if stated.isascii() and stated.isdigit() else None


def _states_body(scope: Scope) -> bool:
    """Whether the request says a body follows (chunked, or a ``Content-Length`` above 0)."""
    return bool(_header(scope, b"transfer-encoding")) or (_content_length(scope) or 0) > 0


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request's body, or None when it is larger than ``limit``; ``_ClientGone`` when it never comes whole (a
    cut-off body had been handled as a whole one: the TSA asked to sign a prefix and a 200 counted, a reviewer)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


NO_CACHE = (b"cache-control", b"no-cache")
"""On the CRLs and the trust material: a cache in front of the HTTP side (a CDN, a proxy) may keep them, but asks
the gateway before it answers with them. They had no caching header at all: a cache could give them a heuristic
freshness (RFC 9111 §4.2.2) and serve a CRL from before a RevokeSeal, or a ``receipt-certificates.pem`` from
before a renewal, for as long as it chose (a reviewer's R3)."""


def _last_modified(crl: bytes) -> list[tuple[bytes, bytes]]:
    """``Last-Modified``: the CRL's thisUpdate (when it was made; each request makes one), if it reads as a CRL."""
    try:
        this_update = x509.load_der_x509_crl(crl).last_update_utc
    except ValueError:
        return []
    return [(b"last-modified", email.utils.format_datetime(this_update, usegmt=True).encode())]


async def _respond(
    send: Send, status: int, body: bytes, content_type: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send(send, status, body, [(b"content-type", content_type.encode()), *(extra or [])])


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class HttpServer:
    """uvicorn in a thread of its own, bound and listening before it starts (so port 0 works and the port is known),
    its connections capped and timed (``adapters.http_connections``)."""

    def __init__(
        self,
        app: HttpApp,
        address: str,
        *,
        reuse_port: bool = False,
        tls: tuple[str, str] | None = None,
        limits: ConnectionLimits | None = None,
    ):
        """``tls``: the paths of a PEM certificate (chain) and its key, to serve HTTPS; checked here, so that a bad
        pair fails at start (``ssl.SSLError``, ``OSError``) rather than in the server's thread. ``limits``: how many
        connections at once, and how long a request has to come whole (``ConnectionLimits``' defaults)."""
        context = None
        if tls is not None:
            for path in tls:  # an OSError naming the file (ssl's own names none)
                with open(path, "rb"):
                    pass
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
        self._connections = Connections(limits or ConnectionLimits(), tls=context)
        host, _, port = address.rpartition(":")
        self._socket = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # several workers share the port; a lone gateway must not share it with another one
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._socket.bind((host.strip("[]"), int(port)))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            # HTTP/1.1 (h11), TLS and the connections' limits are the side's own, not what uvicorn finds installed
            http=self._connections.protocol,  # type: ignore[arg-type]  # called as a protocol class is
            ws="none",
            backlog=ACCEPT_BACKLOG,
            # uvicorn's lines go through the gateway's handler (one line each, its time and pid: ``gateway.server.
            # configure_logging``), at ZZGW_LOG_LEVEL but never below WARNING (its INFO says it started, on what);
            # its own handler had written them in a format of its own, a traceback over many lines (a reviewer, R3)
            log_config=None,
            log_level=max(logging.WARNING, logging.getLogger().getEffectiveLevel()),
            access_log=False,
            lifespan="on",
            # the access log's peer is the connection's: uvicorn's default took X-Forwarded-For from any local
            # client, which could write what it liked there, an ID number too (found by a security tester)
            proxy_headers=False,
            headers=[STRICT_TRANSPORT_SECURITY] if context is not None else None,  # on every answer over HTTPS
        )
        # listening from now: a connection made before uvicorn is up waits in the backlog rather than being refused
        # (``zzgw serve`` has started gRPC, and says it serves, by then)
        self._socket.listen(LISTEN_BACKLOG)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        name_this_thread("zzgw-http")
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(accept_errors_said_once)
        self._loop.set_default_executor(Work())  # the requests' work: a connection whose work waits may make room
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            self._connections.close_all()

    def start(self) -> None:
        """Start serving; OSError when uvicorn ended without starting: the listening socket is closed, so that its
        connections are refused rather than left waiting in a backlog nobody reads (with several workers on one
        port, a share of every client's; a reviewer)."""
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            threading.Event().wait(0.01)
        if not self._server.started:
            self._socket.close()
            raise OSError(f"the HTTP server on port {self.port} did not start (see the log above)")
        # asyncio listens with the number it accepts at a turn of its loop (ACCEPT_BACKLOG, which bounds the
        # descriptors taken at once); the kernel's queue of connections not yet accepted, which take none, is made
        # longer again, so that a burst waits there rather than having its SYNs dropped (retried a second later)
        self._socket.listen(LISTEN_BACKLOG)

    def stopping(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Begin to stop, without waiting: no new connection is taken, those waiting for a request are closed, a
        request whose body is still coming is answered 503, and those still being answered after ``grace`` are cut
        (``Connections.stop``). uvicorn alone had waited for every connection, a stranger's trickled body for its whole
        time and a 408's linger (a reviewer)."""
        # its tasks are cancelled a second after the cut: one awaiting the store in a thread learns nothing of it
        self._server.config.timeout_graceful_shutdown = int(grace) + 1
        self._server.should_exit = True
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self._loop.call_soon_threadsafe(self._connections.stop, grace)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop (``stopping``) and wait for the side to end, ``grace`` and ``_STOP_SLACK_SECONDS`` at most: a thread
        still running then (a console call stuck in the store) is said and left, so that the stop stays within its
        time (``gateway.server.STOP_DEADLINE_SECONDS``)."""
        started = time.monotonic()
        self.stopping(grace)
        if self._thread.is_alive():
            self._thread.join(grace + _STOP_SLACK_SECONDS)
            if self._thread.is_alive():
                http_log.warning(
                    "HTTP: still stopping %.1f s after its stop began (a request's work not done): going on without it",
                    time.monotonic() - started,
                )
        self._socket.close()
