"""The HTTP side's connections, from the socket to uvicorn's HTTP/1.1 protocol: at most ``max_connections`` at once,
each request received whole within ``request_seconds`` (a TLS handshake too), and the event loop's accept errors said
at most once every 5 s.

>>> connections = Connections(ConnectionLimits(max_connections=256, request_seconds=30), tls=None)
>>> uvicorn.Config(app, http=connections.protocol, backlog=ACCEPT_BACKLOG)   # doctest: +SKIP

Every connection holds a file descriptor of the gateway's process, whose gRPC side and store need theirs. uvicorn
closes neither a connection whose request never comes whole nor any past a number: about 1,100 half-sent requests used
up a process's 1024 descriptors, and gRPC, the store, ``/readyz`` and the console all failed while asyncio logged a
traceback for every accept() it tried, 244 MB in 40 s (a penetration tester).

- A request, its head and its body, must come whole within ``request_seconds`` of the connection (its TLS handshake
  included) or of the answer to the one before being sent (all of it handed to the kernel); else the connection is
  closed. The time is not renewed by bytes that trickle in.
- An answer must be taken: a connection with some of its answer left to send that sends none of it for
  ``request_seconds`` (the client reads nothing) is closed. uvicorn waits on such a write for ever, and a stranger
  with ``max_connections`` connections, each asking for ``/console/console.js`` many times over and reading nothing,
  had held the side shut to everyone (a reviewer). What is left is looked at every ``_PROGRESS_TICK`` s: a client that
  reads slowly but steadily is not cut, however large the answer (the time had been the whole answer's, less the
  buffers', a reviewer). So is an answer that ends its connection (``Connection: close``, HTTP/1.0, an error):
  uvicorn closes the transport once it has handed the answer over, and the close waits for the rest to be sent
  (``_Closing``: one left with less than the transport's high-water mark had been watched by nothing, held for ever
  and never displaced, a reviewer). Over TLS, the close's ``close_notify`` then waits behind the answer, and the
  client's is waited for only once all is sent: asyncio's own time for it had run from the close, cutting a steady
  reader of a large answer (a reviewer). uvicorn's keep-alive time (5 s) starts once the answer is all sent too.
- A request stating both ``Content-Length`` and ``Transfer-Encoding`` is refused at its head (``_Framing``), as one
  h11 cannot parse is: answered ``400`` (``Connection: close``) and closed as a ``408`` is, below, nothing after it
  read as a request (RFC 9112 §6.3; a proxy in front framing it by ``Content-Length`` would take the request hidden
  in its body for its next client's, a penetration tester). The connection's own answers (``400``, ``408``, ``503``)
  carry the headers of every answer, ``Strict-Transport-Security`` over HTTPS.
- When a request's head has come and its body is late, the client is answered ``408 Request Timeout`` (with
  ``Connection: close``, in Chinese and English, which the console shows) before the connection is closed: an upload
  over a slow link learns why it failed, rather than meeting a reset. The close of a connection answered so (or
  ``400``, or the stop's ``503``) waits, as any, for what is before it to be sent: a large answer to a request
  pipelined ahead (it had been cut 2 s after the refusal, the ``400`` never sent, a reviewer).
- At ``max_connections``, a new connection takes the place of another, which is closed at once: first one closing
  with its answer all sent (after its ``408``, or over TLS waiting for the client's ``close_notify``), then the one
  that has waited longest for a request's head (in its TLS handshake, its head not yet whole, or idle after an answer
  all sent), then the one with an answer left to send that has gone longest without sending any of it, then the one
  that has been sending a request's body the longest, then the one whose request's work has waited longest for a
  thread (``Work``), on a connection answered before (pipelined) before a connection's first request, and only then
  one answering on the loop a request on a connection answered before (pipelined, or kept alive), no thread having
  taken up its work, the one answered most first. A connection whose request's work a thread has taken up is not
  closed for a new one until that request is answered, but when, its work done, its client reads none of the answer:
  the work would be done and its answer lost (a reviewer, R2). A stranger who holds connections open cannot keep out a
  clerk, or a balancer's probe of ``/readyz``, whose request comes at once; nor does a connection that sends nothing
  displace a download in progress or a clerk's upload while there is an idle one (a reviewer), nor a clerk's request
  waiting for a thread while there is a trickled body or an unread answer (a reviewer, R1 of the review of R1); nor
  do connections pipelining requests, whose next request is taken up as soon as the one before is answered, and which
  had kept every new one out (a reviewer, R1): they make room between their requests. Only when every connection is
  answering its first request on the loop or has its request's work taken up by a thread (at most ``WORK_THREADS``
  running at once) is the new one closed at once instead.
- TLS is set up here (``loop.start_tls``), not by the event loop before the connection is seen, so that a connection
  that never completes its handshake counts, and is timed, as any other.
- When the server stops (``Connections.stop``), a connection waiting for a request is closed, one whose request's body
  is still coming is answered ``503`` (``Connection: close``) and closed, and one still being answered after the
  stop's grace is cut: a stranger trickling a body had held the stop 10 s (a reviewer).

The cap bounds the descriptors the side holds, with those accepted but not yet counted: asyncio accepts up to
``ACCEPT_BACKLOG`` connections at a turn of its loop, and a connection takes a few turns from its accept to being
counted, and one closed a turn more to give its descriptor back (``descriptors``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import logging
import os
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from gateway import metrics
from gateway.domain.counts import counted
from gateway.logs import OncePer, since
from gateway.store.database import DatabaseNotAnswering
from gateway.threads import HTTP_WORK_THREADS, name_this_thread

T = TypeVar("T")

ACCEPT_BACKLOG = 64
"""The most connections asyncio accepts at one turn of its loop (the backlog it is given, and listens with at its
start): what the side may hold beyond its cap while new connections are made and displaced ones closed."""
LISTEN_BACKLOG = 2048
"""The kernel's queue of connections not yet accepted (uvicorn's default), which hold no descriptor of the process:
long enough that a burst waits there rather than having its SYNs dropped and retried a second later."""
_TURNS_UNCOUNTED = 4
"""Turns of the loop from a connection's accept to its descriptor given back when it is displaced at once: the accept,
the transport made, the protocol told (``connection_made``), the socket closed."""
_ACCEPT_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
"""What asyncio's accept() meets when the process or the system has no descriptor or memory left (it then logs and
tries again a second later, as often as connections wait)."""
log = logging.getLogger("zzgw.http")
_LINES = OncePer(5.0)
_LINGER = 2.0
"""Seconds a connection answered ``408`` (or ``400``, ``503``) goes on reading (and dropping) what its client still
sends, its writing side closed and its answer all sent, before it is closed: closed with bytes unread, its socket would
be reset, and the reset can reach the client before it has read the answer."""
_PROGRESS_TICK = 1.0
"""Seconds between two looks at what a connection has left to send (at most a quarter of ``request_seconds``)."""
_TLS_SHUTDOWN_SECONDS = 24 * 3600.0
"""asyncio's time for a TLS close, from its start to the client's ``close_notify``: the connection's own times close it
first (``_Connection.closing``). asyncio's runs from the close, which uvicorn makes once it has handed the answer over,
and then drops what is left: given ``request_seconds``, it had cut a client reading a large answer steadily."""
_LATE_BODY = (
    "上传超时：网络过慢，请求未能在规定时间内传完。请换用较小的文件或较快的网络后重试，或请管理员调大 "
    "ZZGW_HTTP_REQUEST_SECONDS。\n"
    "Request Timeout: the request did not arrive whole in time (ZZGW_HTTP_REQUEST_SECONDS); the link is too slow for "
    "its size.\n"
).encode()
"""The body of the ``408`` answer to a request whose body came too slowly (a plain text the console shows)."""
_STOPPING_BODY = (
    "证照网关正在停止，本次请求未处理，请稍后重试。\n"
    "Service Unavailable: the gateway is stopping; the request was not handled. Send it again.\n"
).encode()
"""The body of the ``503`` answer to a request whose body was still coming when the server stopped (a plain text the
console shows)."""


WORK_THREADS = HTTP_WORK_THREADS
"""The HTTP side's threads for the work of its requests (``Work``): a timestamp, a CRL, a scrape of the metrics, a
console call. asyncio's default had been as many as the machine's cores and 4 (6 on two cores), whatever else."""
WORK_THREAD_NAME = "zzgw-http-work"
OWN_WORK_THREADS = 4
"""The HTTP side's threads for the work of requests that need no database (``/metrics``, ``/tsa``): a store that does
not answer held every ``WORK_THREADS`` thread with CRL fetches, and a scrape of the metrics and the partner provinces'
timestamps had waited behind them for as long as the database stayed frozen (a reviewer, opshttp R1)."""
OWN_WORK_THREAD_NAME = "zzgw-http-nodb"
STORE_LOOK_SECONDS = 0.25
"""How often a request waiting on the store looks whether readiness says the database does not answer
(``store_work``)."""
NOT_ANSWERING: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "zzgw_http_not_answering", default=None
)
"""Whether readiness says the database does not answer now (``DATABASE_NOT_ANSWERING``), for the request the running
task answers (set by the app: ``adapters.http.HttpApp``); None where nothing says it."""
_ANSWERING: contextvars.ContextVar[_Connection | None] = contextvars.ContextVar("zzgw_http_answering", default=None)
"""The connection whose request the running task answers (set where uvicorn makes the task: ``_Http11``)."""


class ClientGone(Exception):
    """The client went, or was answered ``408`` for a late body, before its request's body came whole, or its
    connection was closed for a new one while its request's work waited for a thread: the request is not handled and
    nothing more is answered."""


class Work(futures.ThreadPoolExecutor):
    """The HTTP side's threads (its event loop's default executor), ``WORK_THREADS`` of them. A request's work waiting
    for one makes its connection one that may make room at the cap (``Connections.queued``): it had counted as being
    answered, and a stranger whose connections' requests queued for the threads (pipelined TSA queries) kept every new
    connection out (a reviewer, R1). Work whose connection has been closed meanwhile is not done (``ClientGone``)."""

    def __init__(self, threads: int | None = None, name: str = WORK_THREAD_NAME) -> None:
        """``threads``: ``WORK_THREADS`` unless given."""
        super().__init__(
            max_workers=threads or WORK_THREADS, thread_name_prefix=name, initializer=name_this_thread, initargs=(name,)
        )

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> futures.Future[T]:
        connection = _ANSWERING.get()
        if connection is None:
            return super().submit(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        connection.queued()

        def run() -> T:
            if not connection.claim():  # closed for a new one while it waited: its client has gone
                raise ClientGone
            with contextlib.suppress(RuntimeError):  # the loop has ended: stopping
                loop.call_soon_threadsafe(connection.working)
            try:
                return fn(*args, **kwargs)
            finally:
                connection.ran()

        future = super().submit(run)
        # given up before a thread took it (``store_work``, on the loop): no longer work that waits
        future.add_done_callback(lambda done: connection.working() if done.cancelled() else None)
        return future


async def store_work(fn: Callable[[], T], executor: futures.Executor | None = None, *, writes: bool = False) -> T:
    """What ``fn`` returns, run on ``executor`` (the loop's default, ``Work``), for work that may wait on the store: it
    is given up, and ``DatabaseNotAnswering`` raised (answered 503 as the store unavailable), as soon as readiness says
    the database does not answer (``NOT_ANSWERING``), at once if it says so already. A pooled session whose server
    is frozen (a stopped or IO-hung server, a pooler whose backend hangs: the kernel acknowledges, nothing answers)
    waits for ever, keepalives and ``tcp_user_timeout`` notwithstanding; such requests had held every work thread and
    gone unanswered for as long as the freeze lasted, those queued behind them too (a reviewer, opshttp R1). Work a
    thread has taken up is left to end on that thread; work still waiting for one is not done. Work that ``writes``
    given up once begun is said ``under_way``: it may yet be done (a reviewer, opsfix R2)."""
    not_answering = NOT_ANSWERING.get()
    if not_answering is not None and not_answering():
        raise DatabaseNotAnswering
    if not_answering is None:
        return await asyncio.get_running_loop().run_in_executor(executor, fn)
    guard = threading.Lock()
    state = ["waiting"]  # "begun" once a thread takes it up, "given up" if given up before

    def run() -> T:
        with guard:
            if state[0] == "given up":
                raise DatabaseNotAnswering
            state[0] = "begun"
        return fn()

    future = asyncio.get_running_loop().run_in_executor(executor, run)
    while True:
        try:
            done, _ = await asyncio.wait({future}, timeout=STORE_LOOK_SECONDS)
        except asyncio.CancelledError:  # cut by a stop: the work's outcome, a failure too, is dropped unread, unsaid
            future.cancel()  # asyncio had logged "Future exception was never retrieved" for each (opsfix R3)
            raise
        if done:
            return future.result()
        if not_answering():
            with guard:
                begun = state[0] == "begun"
                state[0] = "begun" if begun else "given up"
            future.cancel()
            raise DatabaseNotAnswering(under_way=begun and writes)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLimits:
    max_connections: int = 256
    """Connections open at once (``ZZGW_HTTP_MAX_CONNECTIONS``)."""
    request_seconds: float = 30.0
    """How long a request has to come whole (``ZZGW_HTTP_REQUEST_SECONDS``)."""


def descriptors(max_connections: int) -> int:
    """The file descriptors the HTTP side may hold at once with ``max_connections``: the cap, and those accepted or
    closing at the turns of the loop between a connection's accept and its being counted."""
    return max_connections + _TURNS_UNCOUNTED * ACCEPT_BACKLOG


class Connections:
    """The HTTP side's open connections, counted against the cap, and those that may make room for a new one, in the
    order they began to wait. Used from the event loop's thread only."""

    def __init__(self, limits: ConnectionLimits, *, tls: ssl.SSLContext | None):
        self.limits = limits
        self.tls = tls
        self._open: set[_Connection] = set()
        self._lingering: dict[_Connection, float] = {}
        """Connections answered ``408`` and closing, and since when: their answer is written, and closing one early
        risks only the reset the linger is there to avoid (a cap of them had refused everyone, a reviewer)."""
        self._waiting: dict[_Connection, float] = {}
        """Connections waiting for a request's head (nothing or part of it come), and since when (loop time): the one
        that has waited longest first."""
        self._unread: dict[_Connection, float] = {}
        """Connections with some of an answer left to send, and since when none of it has been sent."""
        self._uploading: dict[_Connection, float] = {}
        """Connections whose request's head has come and its body not yet whole, and since when they waited for it."""
        self._queued: dict[_Connection, float] = {}
        """Connections whose request's work waits for a thread (``Work``), and since when."""
        self._stopping = False

    def protocol(
        self,
        *,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> asyncio.Protocol:
        """A new connection's protocol, as uvicorn asks for one (``Config(http=…)``)."""

        def http(connection: _Connection) -> _Http11:
            return _Http11(connection, config=config, server_state=server_state, app_state=app_state, _loop=_loop)

        return _Connection(self, http)

    def admit(self, connection: _Connection) -> bool:
        """Whether ``connection`` may stay open: at the cap, another is closed to make room (``_displaceable``); when
        none may be, ``connection`` is to be closed."""
        if len(self._open) >= self.limits.max_connections:
            if self._lingering:  # its answer sent: closed early, it is neither dropped nor news (counted once, if ever)
                longest = next(iter(self._lingering))
                log.debug("HTTP: a connection from %s, its answer sent, closed for a new one", longest.peer)
                longest.close()
                self._open.add(connection)
                return True
            displaced = self._displaceable()
            if displaced is None:
                metrics.record_http_dropped("refused")
                if (left := _LINES.allow("refused")) is not None:
                    log.warning(
                        "HTTP: %s open (ZZGW_HTTP_MAX_CONNECTIONS), none of them to close for it: a new one "
                        "from %s closed at once%s",
                        counted(len(self._open), "connection"),
                        connection.peer,
                        since(left, "connection"),
                    )
                return False
            longest, since_when, doing = displaced
            if longest.counted:  # answered 408 or 503 behind an answer still unsent: counted as that already
                log.debug("HTTP: a connection from %s, answered and %s, closed for a new one", longest.peer, doing)
            else:
                metrics.record_http_dropped("displaced")
                if (left := _LINES.allow("displaced")) is not None:
                    log.warning(
                        "HTTP: %s open (ZZGW_HTTP_MAX_CONNECTIONS): the one from %s, %s for %.1f s, closed "
                        "for a new one from %s%s",
                        counted(len(self._open), "connection"),
                        longest.peer,
                        doing,
                        asyncio.get_running_loop().time() - since_when,
                        connection.peer,
                        since(left, "connection"),
                    )
            longest.close()
        self._open.add(connection)
        return True

    def _displaceable(self) -> tuple[_Connection, float, str] | None:
        """The connection to close for a new one (after those closing, ``admit``), since when it waits and what for,
        given up (``_Connection.give_up``): the one waiting longest for a request's head, else the one whose answer
        has gone unread longest, else the one sending a request's body longest (a clerk's upload), else the one whose
        request's work has waited longest for a thread on a connection answered before (pipelined), else the one
        whose first request's work has waited longest for one, else the one answered most of those answering, on the
        loop, a request that is not their first. A connection whose request's work a thread has taken up is not given
        up until that request is answered (but, its work done, when its client reads none of the answer): the work
        was done and its answer lost (a clerk's console call on a kept-alive connection cut, its receipt made, a
        reviewer, R2). A clerk's request waiting for a thread had been given up before a stranger's trickled body or
        unread answer (a reviewer, R1)."""
        queued = sorted(self._queued.items(), key=lambda item: item[0].answered == 0)  # stable: longest first
        again = sorted(
            (each for each in self._open if each.answered and each not in self._lingering and each not in self._queued),
            key=lambda each: -each.answered,
        )
        candidates = (
            *((each, since_when, "waiting for a request") for each, since_when in self._waiting.items()),
            *((each, since_when, "not reading its answer") for each, since_when in self._unread.items()),  # work done
            *((each, since_when, "sending a request's body") for each, since_when in self._uploading.items()),
            *((each, since_when, "its request waiting for a thread") for each, since_when in queued),
            *(
                (each, each.received_at, f"being answered again ({counted(each.answered, 'answer')} before)")
                for each in again
            ),
        )
        for each, since_when, doing in candidates:
            if each.give_up(unread=each in self._unread):
                return each, since_when, doing
        return None

    def waiting(self, connection: _Connection, *, since_when: float, body: bool) -> None:
        """``connection`` waits, since ``since_when``, for a request's head or (``body``) for the body of one whose
        head has come."""
        (self._uploading if body else self._waiting)[connection] = since_when
        (self._waiting if body else self._uploading).pop(connection, None)

    def received(self, connection: _Connection) -> None:
        self._waiting.pop(connection, None)
        self._uploading.pop(connection, None)

    def unread(self, connection: _Connection, *, since_when: float) -> None:
        """``connection`` has an answer left to send, none of it sent since ``since_when``: after those that have
        sent some since."""
        self._unread.pop(connection, None)
        self._unread[connection] = since_when

    def lingering(self, connection: _Connection) -> None:
        """``connection`` is closing, its answer all sent: the first to make room at the cap, and counted no more for
        it (a 408'd one had been counted ``request_timeout`` and ``displaced`` both, a reviewer)."""
        self._unread.pop(connection, None)
        self._lingering[connection] = asyncio.get_running_loop().time()

    def read(self, connection: _Connection) -> None:
        self._unread.pop(connection, None)

    def queued(self, connection: _Connection, *, since_when: float) -> None:
        """``connection``'s request has work waiting for a thread (``Work``), since ``since_when``."""
        self._queued.setdefault(connection, since_when)

    def working(self, connection: _Connection) -> None:
        self._queued.pop(connection, None)

    def stalled(self, connection: _Connection) -> None:
        if connection.counted:  # answered 408 or 503 behind an answer its client reads none of: counted then
            log.debug("HTTP: a connection from %s, answered, closed: none of its answer read", connection.peer)
            return
        metrics.record_http_dropped("write_timeout")
        if (left := _LINES.allow("stalled")) is not None:
            log.info(
                "HTTP: a connection from %s closed: none of its answer read for %g s (ZZGW_HTTP_REQUEST_SECONDS)%s",
                connection.peer,
                self.limits.request_seconds,
                since(left, "connection"),
            )

    def late(self, connection: _Connection) -> None:
        connection.counted = True
        metrics.record_http_dropped("request_timeout")
        if (left := _LINES.allow("late")) is not None:
            log.info(
                "HTTP: a connection from %s closed: no whole request within %g s (ZZGW_HTTP_REQUEST_SECONDS)%s",
                connection.peer,
                self.limits.request_seconds,
                since(left, "connection"),
            )

    def stopped(self, connection: _Connection) -> None:
        connection.counted = True
        metrics.record_http_dropped("stopping")
        if (left := _LINES.allow("stopped")) is not None:
            log.info(
                "HTTP: stopping: a request from %s whose body was still coming answered 503 and closed%s",
                connection.peer,
                since(left, "connection"),
            )

    def gone(self, connection: _Connection) -> None:
        self._open.discard(connection)
        self._lingering.pop(connection, None)
        self._waiting.pop(connection, None)
        self._unread.pop(connection, None)
        self._uploading.pop(connection, None)
        self._queued.pop(connection, None)

    def stop(self, grace: float) -> None:
        """The server stops: connections in their TLS handshake are closed now (they are not yet uvicorn's, which
        closes those waiting for a request and has ``_Http11.shutdown`` answer those still sending a body), and those
        still open after ``grace`` are cut (``close_all``), answered or not."""
        if self._stopping:
            return
        self._stopping = True
        for connection in list(self._open):
            if not connection.started:
                connection.close()
        asyncio.get_running_loop().call_later(grace, self.close_all, grace)

    def close_all(self, grace: float | None = None) -> None:
        """Close every connection still open: the stop's ``grace`` is over, or the server has stopped (some were never
        uvicorn's to close, such as one in its TLS handshake). Those cut short (their answer not all sent, or not yet
        made) are counted and said, but for one counted already (its ``503``, or ``408``, behind an answer still
        being sent)."""
        cut = 0
        for connection in list(self._open):
            if connection not in self._lingering and connection not in self._waiting and not connection.counted:
                cut += 1
                metrics.record_http_dropped("stopping")
            connection.close()
        if cut:
            after = f"{grace:g} s after the stop began" if grace is not None else "the server stopped"
            log.warning("HTTP: stopping: %s still being answered %s: cut", counted(cut, "connection"), after)


class _Connection(asyncio.Protocol):
    """One connection, from its accept to its close: counted, secured (with TLS), timed, and spoken HTTP on by
    uvicorn's protocol (``_Http11``), to which it passes what comes, once it has made the connection its own."""

    def __init__(self, connections: Connections, http: Callable[[_Connection], _Http11]):
        self._connections = connections
        self._http = http(self)
        self._socket: asyncio.Transport | None = None
        self._transport: asyncio.Transport | None = None
        """What ``_http`` speaks over: the socket's transport, or TLS's over it."""
        self.started = False
        """``_http`` has the connection (after the TLS handshake, with TLS)."""
        self._early: list[bytes] = []
        """What came before then: TLS hands over the first bytes of the request as its handshake ends."""
        self._closed = False
        self._deadline: asyncio.TimerHandle | None = None
        self._waited_since = 0.0
        """When the connection began to wait for the request it waits for (loop time)."""
        self._unread: asyncio.TimerHandle | None = None
        """The next look at what is left to send, while some of an answer is."""
        self._left = 0
        """What was left to send at the last look (bytes)."""
        self._sent_since = 0.0
        """When some of it was last seen sent (loop time)."""
        self._then_wait = False
        """The answer is complete: the next request is waited for once it is all sent."""
        self._lingering = False
        """Answered ``408`` (or ``503``) and closing: what comes is dropped."""
        self.counted = False
        """Counted dropped already, ``request_timeout`` (its ``408``) or ``stopping`` (its ``503``): closed later, what
        is before its answer still unsent (cut at the stop, displaced at the cap, or its client reading none of it),
        it is counted and said no more. It had been counted twice, ``stopping`` twice or ``request_timeout`` and
        ``displaced``, two lines said (a reviewer)."""
        self._closing = False
        """``_http`` has closed the connection: it closes once its answer is all sent."""
        self.answered = 0
        """Answers made whole on the connection: one being answered again may make room at the cap."""
        self.received_at = 0.0
        """When the request being answered was taken up (loop time)."""
        self.work: str | None = None
        """Work of the request being answered that a thread has taken up (``Work``; set by that thread, ``claim``):
        ``"running"``, then ``"done"`` until its answer is made (``answered_one``). The connection is then not closed
        for a new one, but when its client reads none of its answer and the work is done (``give_up``)."""
        self.lock = threading.Lock()
        """``work`` and ``_closed`` are changed under it, by a thread taking up work and by the loop closing the
        connection for a new one, each checking the other's first."""
        self._handshake: asyncio.Task[None] | None = None
        """The TLS handshake's task, kept: the loop holds its tasks weakly."""
        self.peer = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._socket = transport = cast(asyncio.Transport, transport)  # a socket's, made by the loop's server
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        if not self._connections.admit(self):
            self._closed = True
            transport.abort()
            return
        self.waiting()
        if self._connections.tls is None:
            self._start(transport)
        else:
            self._handshake = asyncio.get_running_loop().create_task(self._secure(transport, self._connections.tls))

    async def _secure(self, transport: asyncio.Transport, context: ssl.SSLContext) -> None:
        """The TLS handshake, in the request's time: one that fails, or that the client never completes, ends the
        connection."""
        seconds = self._connections.limits.request_seconds
        try:
            secured = await asyncio.get_running_loop().start_tls(
                transport,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=seconds,
                ssl_shutdown_timeout=_TLS_SHUTDOWN_SECONDS,
            )
        except OSError:  # ssl.SSLError, the handshake's time out (ConnectionAbortedError), the client gone
            secured = None
        if secured is None or self._closed:  # closed meanwhile, for a new connection or for its time
            self.close()
            return
        self._start(secured)

    def _start(self, transport: asyncio.Transport) -> None:
        self.started = True
        self._transport = transport
        self._http.connection_made(cast(asyncio.Transport, _Closing(transport, self)))
        if self._early:
            early, self._early = b"".join(self._early), []
            self._http.data_received(early)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        if self.started:
            self._http.data_received(data)
        elif not self._closed:
            self._early.append(data)

    def eof_received(self) -> bool | None:
        if self._lingering:
            if not self.unsent():
                self.close()
            # else closed once all is sent, or when the client reads none of it in time (``_look``)
        elif self.started:
            self._http.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()
        if self.started:
            self._http.connection_lost(exc)

    def pause_writing(self) -> None:
        """What is left to send has filled the buffers: watched until it is all sent (``sending``)."""
        self.sending()
        if self.started:
            self._http.pause_writing()

    def resume_writing(self) -> None:
        if self.started:
            self._http.resume_writing()

    def sending(self, *, then_wait: bool = False) -> None:
        """Some of an answer is left to send: the client must read some of it every ``request_seconds``, and the
        connection may meanwhile be closed for a new one at the cap, after those waiting for a request. With
        ``then_wait`` (the answer complete), the next request is waited for once it is all sent."""
        self._then_wait = self._then_wait or then_wait
        if self._unread is not None or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._left, self._sent_since = self.unsent(), loop.time()
        self._unread = loop.call_later(self._tick(), self._look)
        self._connections.unread(self, since_when=self._sent_since)

    def _tick(self) -> float:
        return min(_PROGRESS_TICK, self._connections.limits.request_seconds / 4)

    def unsent(self) -> int:
        """What is left in the transports' buffers to hand to the kernel (bytes): TLS's, not yet encrypted, and the
        socket's."""
        left = self._socket.get_write_buffer_size() if self._socket is not None else 0
        if self._transport is not None and self._transport is not self._socket:
            left += self._transport.get_write_buffer_size()
        return left

    def _look(self) -> None:
        """What is left to send, looked at again: all sent, the watch ends (and the next request is waited for);
        some sent, the client has ``request_seconds`` again; none sent for ``request_seconds``, it is closed."""
        self._unread = None
        left, loop = self.unsent(), asyncio.get_running_loop()
        if left == 0:
            self._connections.read(self)
            if self._closing:
                self._sent_and_closing()
            elif self._then_wait and self.started:
                self._then_wait = False
                self._http.sent()
            return
        if left < self._left:
            self._left, self._sent_since = left, loop.time()
            self._connections.unread(self, since_when=self._sent_since)
        elif loop.time() - self._sent_since >= self._connections.limits.request_seconds:
            self._stalled()
            return
        self._unread = loop.call_later(self._tick(), self._look)

    def _stalled(self) -> None:
        """The client has read none of its answer in time: closed with a reset, dropping what is left to send, which
        the kernel would otherwise keep trying to send for minutes after the close."""
        self._connections.stalled(self)
        if self._socket is not None and (sock := self._socket.get_extra_info("socket")) is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def closing(self) -> None:
        """``_http`` closes the connection: its answer ends it (``Connection: close``, HTTP/1.0, an error), it has
        been idle, or the server stops. The close waits for the rest of the answer to be sent (the socket's transport
        sends it first; TLS's sends its ``close_notify`` after it), and the connection is watched meanwhile as any with
        an answer left to send: one whose client read none of it had been watched by nothing and held for ever, never
        displaced (a reviewer)."""
        self.received()
        if self._closed or self._closing or self._transport is None:
            return
        self._closing = True
        if not self._transport.is_closing():
            self._transport.close()
        if self.unsent():
            self.sending()
        else:
            self._sent_and_closing()

    def _sent_and_closing(self) -> None:
        """The answer is all sent and the connection closing: the socket's transport closes now. TLS's waits for the
        client's ``close_notify``, which comes once the client has read what the kernel still holds: the client has
        ``request_seconds`` more, and the connection makes room at the cap meanwhile. Closed then, the socket's close
        still sends what the kernel holds (it is no reset). One answered with its request unread lingers
        (``_linger``)."""
        if self._closed:
            return
        if self._lingering:
            self._linger()
            return
        if self._transport is self._socket:
            return
        self._connections.lingering(self)
        if self._deadline is None:
            seconds = self._connections.limits.request_seconds
            self._deadline = asyncio.get_running_loop().call_later(seconds, self.close)

    @property
    def closed(self) -> bool:
        return self._closed

    def queued(self) -> None:
        """The request's work waits for a thread (``Work``): the connection may be closed for a new one at the cap,
        unless work of the same request has already been taken up (``work``)."""
        if not self._closed and self.work is None:
            self._connections.queued(self, since_when=asyncio.get_running_loop().time())

    def claim(self) -> bool:
        """A thread takes up the request's work (``Work``; on that thread): whether the connection is still open, and
        if it is, its ``work`` is marked running, in one step with ``give_up``'s (``lock``): the loop had read that
        before the thread set it and closed the connection, and the thread had read ``closed`` before the loop set
        it and done the work, its answer lost (a reviewer, R3)."""
        with self.lock:
            if self._closed:
                return False
            self.work = "running"
            return True

    def ran(self) -> None:
        """The thread is done with the request's work (on that thread): its answer is still to be made."""
        with self.lock:
            self.work = "done"

    def give_up(self, *, unread: bool = False) -> bool:
        """The connection is to be closed for a new one (on the loop): whether it may be, none of its request's work
        taken up by a thread (``claim``), or (``unread``: its client reads none of what is sent) none running now;
        if so it counts as closed from now, for any thread about to take it up."""
        with self.lock:
            if self._closed or self.work == "running" or (self.work == "done" and not unread):
                return False
            self._closed = True
            return True

    def answered_one(self) -> None:
        """An answer is made whole: the next request's work is not yet taken up."""
        self.answered += 1
        with self.lock:
            self.work = None

    def working(self) -> None:
        """The request's work has a thread: it is being answered."""
        self._connections.working(self)

    def waiting(self, *, body: bool = False) -> None:
        """The connection waits for a request, its first or the next, or (``body``) for the rest of the one whose
        head has come: the request has ``request_seconds`` from the first moment it waited to come whole (not renewed
        while it waits), and the connection may meanwhile be closed for a new one at the cap."""
        if self._closed:
            return
        if self._deadline is None:
            seconds = self._connections.limits.request_seconds
            loop = asyncio.get_running_loop()
            self._waited_since = loop.time()
            self._deadline = loop.call_later(seconds, self._late)
        self._connections.waiting(self, since_when=self._waited_since, body=body)

    def received(self) -> None:
        """The request has come whole (or the connection is closing): it is answered, in no time but the app's. A
        connection already closing keeps its time to close (``_sent_and_closing``, ``_answered_unread``): uvicorn's
        ``on_response_complete`` comes after its close, and had cancelled it, so a small answer ending its connection
        over TLS, taken whole by the kernel, waited for a ``close_notify`` for ``ssl_shutdown_timeout``, 24 h (a
        reviewer)."""
        if self._deadline is not None and not self._closing:
            self._deadline.cancel()
            self._deadline = None
            self._connections.received(self)

    def _late(self) -> None:
        """The request has not come whole in time: closed, after a ``408`` answer when its head has come and the
        connection can still be written to (its client then learns why)."""
        self._deadline = None
        self._connections.late(self)
        self._connections.received(self)
        if not (self.started and self._http.answer_unread(408, b"Request Timeout", _LATE_BODY)):
            self.close()
            return
        self._answered_unread()

    def stopping(self) -> bool:
        """The server stops: a request whose body is still coming is answered ``503`` and the connection closed, as
        one late is, rather than waited for; whether it was."""
        if not (self.started and self._http.answer_unread(503, b"Service Unavailable", _STOPPING_BODY)):
            return False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._connections.stopped(self)
        self._connections.received(self)
        self._answered_unread()
        return True

    def refused(self) -> None:
        """``_http`` has answered ``400`` to a request it refuses at its head (one h11 cannot parse, one stating both
        ``Content-Length`` and ``Transfer-Encoding``): closed as one answered ``408`` is, what still comes of it
        dropped, rather than read as a request of its own or reset before the client has read the answer."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._connections.received(self)
        self._answered_unread()

    def _answered_unread(self) -> None:
        """Answered with the rest of the request unread: its writing side closed after the answer, and what still
        comes read and dropped at once, for ``_LINGER`` s from when all is sent (``_linger``), then closed. What is
        before the answer may be large: an answer to a request pipelined ahead, which uvicorn counts complete once
        handed over and then parses this one. The linger had run from here, and its close cut that answer and this one
        for a client reading them (a reviewer); until all is sent the connection is watched as any with an answer left
        to send, one whose client reads none of it for ``request_seconds`` closed (``sending``)."""
        assert self._transport is not None  # answered: started
        self._lingering = self._closing = True
        transport = self._transport
        transport.resume_reading()  # to drop what still comes rather than leave it unread
        if transport.can_write_eof():
            transport.write_eof()  # after what is left to send
        else:
            transport.close()  # TLS: after what is left to send, with its close_notify
        if self.unsent():
            self.sending()  # lingers once all is sent (``_look``, ``_sent_and_closing``)
        else:
            self._linger()

    def _linger(self) -> None:
        """Answered with the rest of the request unread, and all sent: closed in ``_LINGER`` s, its client having read
        what the kernel holds (closed with bytes unread, its socket would be reset, and the reset can reach the client
        before the answer); the connection makes room at the cap meanwhile."""
        self._connections.lingering(self)
        if self._deadline is None:
            self._deadline = asyncio.get_running_loop().call_later(_LINGER, self.close)

    def close(self) -> None:
        """Close the connection at once: its socket, whatever is left to send (an abort: a TLS close would wait for
        the client's close_notify)."""
        self._end()
        if self._socket is not None:
            self._socket.abort()

    def _end(self) -> None:
        self._closed = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._unread is not None:
            self._unread.cancel()
            self._unread = None
        self._connections.gone(self)


class _Http11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, telling its connection when a request has come whole and when it waits for one."""

    def __init__(self, connection: _Connection, **uvicorn: Any):
        super().__init__(**uvicorn)
        self._connection = connection
        limit = self.config.h11_max_incomplete_event_size  # as uvicorn makes its h11 connection
        self.conn = _Framing(h11.SERVER) if limit is None else _Framing(h11.SERVER, limit)
        self.logger = cast(logging.Logger, _Unsaid(self.logger))

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self.follow()

    def _unsupported_upgrade_warning(self) -> None:
        """A request asking to upgrade the connection (``Connection: upgrade``) is served as any, and nothing is said:
        the gateway serves no upgrade. uvicorn said two WARNINGs for each such request, any stranger's, without bound,
        one telling operators to install a WebSocket library the gateway has no use for (a reviewer, R3)."""

    def handle_events(self) -> None:
        _ANSWERING.set(self._connection)  # in the context of the task uvicorn makes for a request, for ``Work``
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request taken up (a pipelined one too, which was never waited for)
            self._connection.received_at = self.loop.time()
        self.follow()

    def on_response_complete(self) -> None:
        self._connection.answered_one()
        super().on_response_complete()
        self.follow()

    def follow(self) -> None:
        """A request not begun, or begun and not whole, is waited for, but not begun while the answer before is still
        being sent (uvicorn counts it complete once handed to the transport): a download is not idle; any other
        state (received whole, the connection closing or failed) is not waited for."""
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            if self.conn.their_state is h11.IDLE and self._connection.unsent():
                # nor idle for uvicorn, whose keep-alive time had closed a download 5 s after it was handed over
                self._unset_keepalive_if_required()
                self._connection.received()
                self._connection.sending(then_wait=True)
            else:
                self._connection.waiting(body=self.conn.their_state is h11.SEND_BODY)
        else:
            self._connection.received()

    def sent(self) -> None:
        """The answer before is all sent: the connection is idle from now, for uvicorn's keep-alive time too."""
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._unset_keepalive_if_required()
            idle = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)
            self.timeout_keep_alive_task = idle
        self.follow()

    def shutdown(self) -> None:
        """The server stops: a request whose body is still coming is answered ``503`` and closed rather than waited
        for (its time, and the ``408``'s linger, had held the stop); any other as uvicorn does: one waiting for a
        request closed (once its answer before is all sent), one being answered closed after its answer."""
        if not self._connection.stopping():
            super().shutdown()

    def answer_unread(self, status: int, reason: bytes, body: bytes) -> bool:
        """Answer ``status`` (``408`` to a request whose body has not come whole in time, ``503`` to one whose body
        is still coming when the server stops) to a request whose head has come and whose body has not, when no
        answer to it has begun and the connection can still be written to; whether it was answered. The app, waiting
        for the rest of the body, is told the client has gone."""
        if (
            self.conn.their_state is not h11.SEND_BODY
            or self.conn.our_state is not h11.SEND_RESPONSE
            or self.transport.is_closing()
        ):
            return False
        self._answer(status, reason, body)
        if self.cycle is not None:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        return True

    def send_400_response(self, msg: str) -> None:
        """Answer ``400`` to a request refused at its head, and close (uvicorn's ``Invalid HTTP request received.``):
        one h11 cannot parse, or one stating both ``Content-Length`` and ``Transfer-Encoding`` (``_Framing``). With
        the headers of every answer: uvicorn's own 400 had none, ``Strict-Transport-Security`` over HTTPS missing (a
        penetration tester). Closed as a ``408`` is (``_Connection.refused``); only closed when an answer has begun
        already (uvicorn's had then raised in h11). One refused in its body (a bad chunk), once the app has the
        request: the app is told the client has gone, as after a ``408``; it had gone on to answer too, h11 raised,
        and uvicorn logged a traceback for each such request, a stranger's too (a reviewer)."""
        if (left := _LINES.allow("invalid")) is not None:  # uvicorn's own WARNING for each is not said (``_Unsaid``)
            log.info(
                "HTTP: a request from %s answered 400 and closed: not HTTP/1.1 as the gateway reads it (malformed, or "
                "stating both Content-Length and Transfer-Encoding)%s",
                self._connection.peer,
                since(left, "request"),
            )
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE) and not self.transport.is_closing():
            self._answer(400, b"Bad Request", msg.encode("ascii"))
            if self.cycle is not None:
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self._connection.refused()
        else:
            self.transport.close()

    def _answer(self, status: int, reason: bytes, body: bytes) -> None:
        """Write a whole plain-text answer of the connection's own, which ends it (``Connection: close``), with the
        headers uvicorn gives every answer (``ServerState.default_headers``: its date, and over HTTPS
        ``Strict-Transport-Security``, which ``adapters.http.HttpServer`` adds there)."""
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers, reason=reason),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))


class _Unsaid:
    """uvicorn's logger for one connection (``uvicorn.error``), without the WARNING it says for each request refused at
    its head (``Invalid HTTP request received.``): a stranger's requests, one line each without bound.
    ``_Http11.send_400_response`` says it instead, at most once every 5 s."""

    UNSAID = frozenset({"Invalid HTTP request received."})

    def __init__(self, logger: logging.Logger):
        self._logger = logger

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg not in self.UNSAID:
            self._logger.warning(msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


class _Framing(h11.Connection):
    """h11's server side, refusing a request that states both ``Content-Length`` and ``Transfer-Encoding``, as h11
    refuses one it cannot parse (``RemoteProtocolError``, which uvicorn answers ``400``, and the connection closes).
    h11 framed its body by ``Transfer-Encoding`` and kept the connection open, and answered a second request hidden
    after it (a penetration tester): a proxy in front that frames by ``Content-Length`` would take that request for
    the next client's. RFC 9112 §6.3: the server MAY reject such a request, and MUST close the connection after it."""

    def next_event(self) -> Any:
        event = super().next_event()
        if isinstance(event, h11.Request):
            names = {name for name, _ in event.headers}  # lower case, as h11 gives them
            if b"content-length" in names and b"transfer-encoding" in names:
                self._process_error(self.their_role)  # as h11 does for its own: nothing more is read of the client
                raise h11.RemoteProtocolError("both Content-Length and Transfer-Encoding", error_status_hint=400)
        return event


class _Closing:
    """The transport ``_Http11`` writes to: the connection's own, whose close is the connection's to make
    (``_Connection.closing``), once: uvicorn closes it from many places, and TLS's close had started asyncio's time
    to cut the answer."""

    def __init__(self, transport: asyncio.Transport, connection: _Connection):
        self._transport = transport
        self._connection = connection
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._connection.closing()

    def is_closing(self) -> bool:
        return self._closed or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def accept_errors_said_once(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's exception handler: accept() failing for want of descriptors or memory is said at most once
    every 5 s, with how many times since, not with a traceback each time (asyncio's own handler wrote one for every
    connection waiting, again every second); anything else as asyncio says it."""
    error = context.get("exception")
    if isinstance(error, OSError) and error.errno in _ACCEPT_ERRORS and "accept" in str(context.get("message", "")):
        if (left := _LINES.allow("accept")) is not None:
            code = errno.errorcode.get(error.errno or 0, "")
            said = since(left, "failed accept")
            log.error("HTTP: cannot accept a connection: %s (%s)%s", os.strerror(error.errno or 0), code, said)
        return
    loop.default_exception_handler(context)
