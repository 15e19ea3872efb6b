"""``zzgw.v1.IssuanceService``: decode, call the issuance service, encode."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import grpc

from gateway.api import convert
from gateway.api.errors import item_error, within_limit
from gateway.api.interceptors import caller, operator, still_caller
from gateway.api.slots import StreamPool, StreamSlots
from gateway.domain.audit import AuditAction
from gateway.domain.catalog import Catalog, Sensitivity
from gateway.domain.errors import (
    ConflictError,
    FieldViolation,
    InvalidRequestError,
    ResourceExhaustedError,
    UpstreamUnavailableError,
    ZzgwError,
)
from gateway.domain.model import License, LicenseDraft, Member
from gateway.domain.seals import DocumentSource
from gateway.domain.status import StatusAction
from gateway.domain.verification import checked_operator
from gateway.services.documents import DocumentService
from gateway.services.issuance import IssuanceService, IssueResult
from protos.zzgw.v1 import common_pb2, issuance_pb2, issuance_pb2_grpc

KEEPALIVE_SECONDS = 20
"""The server pings each connection this often (HTTP/2 PING)…"""
KEEPALIVE_TIMEOUT_SECONDS = 10
"""…and closes it when the ping is not answered within this: a client that vanished without closing (its host cut
off, frozen, its NAT state dropped) had kept its WatchLicenseChanges slots and handler threads for two minutes, and
its department was refused TOO_MANY_WATCHERS_FOR_MEMBER when it reconnected (found by a soak tester)."""
DEAD_PEER_SECONDS = KEEPALIVE_SECONDS + KEEPALIVE_TIMEOUT_SECONDS
CONNECTION_AGE_SECONDS = 3600
"""After about this long (gRPC adds ±10 %) the server asks a client to open a new connection for its next calls
(HTTP/2 GOAWAY), whose TLS handshake checks the client certificate's dates again; with no grace period set, the
calls and streams open on the old connection run on until they end, so a WatchLicenseChanges stream is not cut by
it. Every call checks the certificate's end itself (``Authenticator.by_certificate``, CERTIFICATE_EXPIRED), and an
open stream's recheck too: this bounds how long any connection outlives the handshake that let it in (found by a
partner-gateway tester: a connection had lasted for as long as its client kept it)."""
CLIENT_PING_SECONDS = 10
"""Clients may ping this often, with calls open or none (keepalive behind a NAT or a load balancer): gRPC's default
of five minutes between a client's pings on a connection sending no data had a Node client's 10 s keepalive end an
idle WatchLicenseChanges stream after a minute with GOAWAY too_many_pings, a RESOURCE_EXHAUSTED with no reason
(found by a Node integrator)."""

BATCH_CHUNK = 500
"""Most batch items committed in one transaction: a group stops taking the client's messages before one that would
take it past this (a message is never split, so a group of one message of up to ``MAX_ITEMS_PER_MESSAGE`` items is
the exception); fewer when fewer are waiting. A group had taken a whole next message past it: a message of 499 items
and one of 1,000 were one transaction of 1,499, holding the store's change-log lock three times as long (found by a
reviewer)."""
BATCH_HELD_MESSAGES = 24
"""A batch stream holds at most this many times the message limit (``ZZGW_MAX_MESSAGE_BYTES``) of its client's
request messages at once, counted together: the one its reader is reading (room for a whole one is kept before it
reads), those queued, and those of the group being issued, until the group is answered. It had held the group's and
a full queue's (up to 129 messages at the limit, about 1 GB at 4 MiB, where operations.md gave 256 MiB; found by a
reviewer). Then 48, with groups of 16: but the process holds more than the messages it counts, gRPC's buffers of
what arrives and the message being read, and a group's PDFs sealed and committed; one stream of messages near the
limit grew the process by 52-58 limits' worth with nothing sealed and up to 76 with every PDF sealed, past the 64
operations.md gives (a reviewer). At 24, with groups of 12: 29-35 and 52-55 (``tests/api/test_batch_memory.py``,
glibc's count of the bytes allocated)."""
BATCH_GROUP_MESSAGES = 12
"""A group of a batch stream takes at most this many times the message limit of its client's messages (at least one
message): sealing and committing its supplied PDFs adds about 1.8 times as much again to what the stream holds, its
peak at most 64 times the limit in all (256 MiB at 4 MiB; ``BATCH_HELD_MESSAGES``), and the reader goes on reading
while a group is sealed."""
MAX_BATCH_STREAMS_PER_MEMBER = 4
"""BatchIssueLicenses streams one member may hold open in a process (a stream carries any number of items)."""
_RESULT_FRAMING = 8
"""Bytes a result adds to its response message besides its own: its tag and length."""
MAX_ITEMS_PER_MESSAGE = 1000
_END = object()


class IssuanceServicer(issuance_pb2_grpc.IssuanceServiceServicer):
    def __init__(
        self,
        service: IssuanceService,
        catalog: Catalog,
        issuer_name: Callable[[str], str],
        *,
        max_message_bytes: int,
        documents: DocumentService | None = None,
        max_watchers: int = 8,
        max_watchers_per_member: int = 2,
        max_batch_streams: int = 8,
        streams: StreamPool | None = None,
        poll_seconds: float = 0.5,
        catalog_current: Callable[[], None] = lambda: None,
    ):
        """``catalog_current``: raises (UNAVAILABLE / ``CATALOG_CHANGED``) once the store's catalog is no longer this
        process's (``CatalogPin.refuse_if_changed``): ``CatalogGate`` runs it as a call starts, a batch stream
        before each of its messages' items is issued too, and a watch stream before it sends each page it read."""
        self._catalog_current = catalog_current
        self._max_message_bytes = max_message_bytes
        self._reply_budget = max_message_bytes // 2  # the reply's share: room to spare for gRPC's own framing
        self._documents = documents
        self._service = service
        self._catalog = catalog
        self._issuer_name = issuer_name
        # both kinds hold a handler thread each, and draw on the process's long ``streams`` (``long_streams``)
        self._watchers = StreamSlots(
            max_watchers, max_watchers_per_member, _watchers_of_member_full, _watchers_full, streams, "watch"
        )
        # a batch stream holds a handler thread while its client keeps it open, sending or not: sixteen idle ones
        # of one issuer had stopped every other member's calls (found by a security tester)
        self._batches = StreamSlots(
            max_batch_streams, MAX_BATCH_STREAMS_PER_MEMBER, _batches_of_member_full, _batches_full, streams, "batch"
        )
        self._poll = poll_seconds

    def IssueLicense(
        self, request: issuance_pb2.IssueLicenseRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.IssueLicenseResponse:
        result = self._service.issue(caller(), convert.draft(request), document=request.document or None)
        return issuance_pb2.IssueLicenseResponse(
            license=self._message(result.license), created=result.created, document_sha256=result.document_sha256
        )

    def BatchIssueLicenses(
        self, request_iterator: Iterator[issuance_pb2.BatchIssueLicensesRequest], context: grpc.ServicerContext
    ) -> Iterator[issuance_pb2.BatchIssueLicensesResponse]:
        member = caller()
        release = self._batches.take(member.code, member.name)
        if not context.add_callback(release):  # freed however the stream ends, even if never resumed
            release()
            return
        try:
            yield from self._batch(member, request_iterator, context)
        finally:
            release()

    def _batch(
        self,
        member: Member,
        request_iterator: Iterator[issuance_pb2.BatchIssueLicensesRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[issuance_pb2.BatchIssueLicensesResponse]:
        inbox: queue.Queue[_Read] = queue.Queue(maxsize=64)
        stopped = threading.Event()
        room = _Room(BATCH_HELD_MESSAGES * self._max_message_bytes)

        def stop() -> None:
            """The stream is over: the reader returns without queueing more, and what it queued is let go."""
            stopped.set()
            _empty(inbox)

        # however the stream ends (answered, refused, cancelled by the client, past its deadline): the callback even
        # when the handler is never resumed. A reader left blocked in ``put`` had kept up to 65 request messages of
        # up to the message limit each for the life of the process (found by a reviewer)
        if not context.add_callback(stop):
            return
        reader = threading.Thread(
            target=_drain,
            args=(request_iterator, inbox, stopped, room, self._max_message_bytes),
            daemon=True,
            name="batch-reader",
        )
        reader.start()
        try:
            yield from self._answer(member, inbox, room, context, stopped)
        finally:
            stop()

    def _answer(
        self,
        member: Member,
        inbox: queue.Queue[_Read],
        room: _Room,
        context: grpc.ServicerContext,
        stopped: threading.Event,
    ) -> Iterator[issuance_pb2.BatchIssueLicensesResponse]:
        index = 0
        done = False
        stopping = self._service.signal
        most = BATCH_GROUP_MESSAGES * self._max_message_bytes
        carried: _Read | None = None  # taken from the queue by a group it did not fit: the next group's first
        while not done:
            if stopping.closed:  # every item answered is committed; the client sends the others again elsewhere
                raise _stopping("请把未答复的各项重新发送，已答复的均已处理", "send the items not answered again")
            still_caller()  # a revoked issuer's batch ends within the credential cache's time
            if carried is None:
                try:
                    carried = inbox.get(timeout=_STOP_LOOK_SECONDS)
                except queue.Empty:
                    # the call is over (cancelled, past its deadline) while the handler waited for the client's next
                    # message: the stop emptied the queue, and the reader, stopped, passes on no error to end this;
                    # the handler had waited here for ever on a worker thread, its stream's slot held (a reviewer)
                    if stopped.is_set() or not context.is_active():
                        return
                    continue
            group, carried = _group(inbox, carried, most)
            held = sum(size for _, size in group)
            if _ends(group[-1][0]):
                done = True
                tail = group.pop()[0]
                if isinstance(tail, BaseException) and context.is_active():
                    raise tail
            drafts, documents = _contents(group)
            if not drafts:
                room.give(held)
                continue
            # each group is issued by the member as it is now (its region is that of the items that name none), as
            # a call would be: the stream had issued under the member it opened with, and an item without a region
            # code sent after `zzgw init` moved the member to another region got the old one (found by a reviewer)
            member = still_caller() or member
            # an open stream issues by the catalog this process loaded: once the store's is another (zzgw init
            # --adopt-catalog), its next items are refused as a call would be, after every item issued before was
            # answered, and the client sends them again to a process restarted with the new catalog. It had gone on
            # issuing, for hours of an import, licenses the store's catalog forbade, some of a type handed to another
            # department, which no one could then amend or cancel (found by a reviewer)
            self._catalog_current()
            results: list[issuance_pb2.BatchItemResult] = []
            size = 0
            for outcome in self._service.issue_many(member, drafts, documents=documents):
                if isinstance(outcome, IssueResult):
                    result = issuance_pb2.BatchItemResult(
                        index=index, license=self._summary(outcome.license), created=outcome.created
                    )
                else:
                    result = issuance_pb2.BatchItemResult(index=index, error=item_error(outcome))
                index += 1
                # results come in as many response messages as keep each under the message limit (a thousand
                # items' results, their errors echoing what was sent, can outgrow it: gRPC then sent nothing)
                grown = size + result.ByteSize() + _RESULT_FRAMING
                if results and grown > self._reply_budget:
                    yield issuance_pb2.BatchIssueLicensesResponse(results=results)
                    results, grown = [], result.ByteSize() + _RESULT_FRAMING
                results.append(result)
                size = grown
            del drafts, documents
            yield issuance_pb2.BatchIssueLicensesResponse(results=results)
            room.give(held)  # the group is answered: the reader may read as much again

    def AmendLicense(
        self, request: issuance_pb2.AmendLicenseRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.AmendLicenseResponse:
        new, old = self._service.amend(caller(), convert.amendment(request))
        return issuance_pb2.AmendLicenseResponse(license=self._message(new), superseded=self._message(old))

    def ChangeLicenseStatus(
        self, request: issuance_pb2.ChangeLicenseStatusRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.ChangeLicenseStatusResponse:
        action = convert.status_action(request.action)
        if action is None:
            raise InvalidRequestError(
                [
                    FieldViolation(
                        field="action",
                        # one the API does not define (a newer client's) is told from one left out (a Node integrator)
                        reason="REQUIRED" if request.action == 0 else "UNKNOWN_ACTION",
                        description=f"请选择状态变更操作：{'、'.join(a.label for a in StatusAction)}"
                        "（action must be SUSPEND, RESUME, REVOKE or CANCEL）",
                    )
                ]
            )
        changed = self._service.change_status(
            caller(),
            request_id=request.request_id,
            license_id=request.license_id,
            action=action,
            reason=request.reason,
        )
        return issuance_pb2.ChangeLicenseStatusResponse(license=self._message(changed))

    def GetLicense(
        self, request: issuance_pb2.GetLicenseRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.GetLicenseResponse:
        member = caller()
        clerk = checked_operator(operator(context))  # before anything is read: it goes into the holder's log
        found = self._service.get(
            member,
            license_id=request.license_id,
            type_code=request.type_code,
            license_number=request.license_number,
        )
        history = self._service.history(found) if request.include_history else []
        reply = issuance_pb2.GetLicenseResponse(
            license=self._message(found), history=[self._message(v) for v in history]
        )
        convert.fill_finding(reply.stored, self._service.stored_finding(found))
        self._service.record_read(member, clerk, AuditAction.ISSUER_GET_LICENSE, found)
        return reply

    def GetLicenseDocument(
        self, request: issuance_pb2.GetLicenseDocumentRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.GetLicenseDocumentResponse:
        member = caller()
        clerk = checked_operator(operator(context))
        license = self._service.get(member, license_id=request.license_id or _required("license_id", "证照标识"))
        if self._documents is None:
            raise ConflictError(
                "网关没有制章者CA，不能出具证照文件：请网关运维运行 zzgw init（no seal-maker CA: run `zzgw init`）",
                reason="NO_SEAL_CA",
            )
        document = self._documents.get(member, license)
        reply = issuance_pb2.GetLicenseDocumentResponse(
            license_id=document.license_id,
            pdf=document.pdf,
            sha256=document.sha256,
            source=_SOURCES[document.source],
            seal_id=document.seal_id,
            created_at=convert.timestamp(document.created_at),
        )
        reply = within_limit(reply, self._max_message_bytes)
        self._service.record_read(member, clerk, AuditAction.ISSUER_GET_LICENSE_DOCUMENT, license)
        return reply

    def WatchLicenseChanges(
        self, request: issuance_pb2.WatchLicenseChangesRequest, context: grpc.ServicerContext
    ) -> Iterator[issuance_pb2.WatchLicenseChangesResponse]:
        member = caller()
        cursor: int | None = None  # from now on: after the newest event once the stream opens
        if request.cursor:
            cursor = self._service.resume_after(request.cursor)
        elif request.from_beginning:
            cursor = 0
        scope = self._service.watch_scope(member, request.type_codes)
        release = self._watchers.take(member.code, member.name)
        signal = self._service.signal
        ended = threading.Event()

        def on_end() -> None:
            # however the stream ends (its client cancels or goes, its deadline passes, the server stops) its slot
            # is free at once, even if this generator is never resumed, and the handler thread leaves its wait
            ended.set()
            release()
            signal.wake()

        if not context.add_callback(on_end):  # it has ended already
            release()
            return
        try:
            if cursor is None:
                cursor = self._service.newest_seq()
            while context.is_active() and not ended.is_set():
                seen = signal.generation
                page = self._service.changes_after(scope, cursor)
                # a revoked member's stream ends within the credential cache's time, and so does one whose member
                # may now watch other events than the stream carries (its roles, name or region changed). Asked
                # after the read, so that an event committed after the change is never sent by the old scope: asked
                # before it, a change and an event made between the two had let that event out (a flaky test)
                now = still_caller()
                if now is not None and now != member:
                    scope = self._service.watch_scope_again(scope, now, request.type_codes)
                    member = now
                # the scope is the catalog's (the types a member's matters use): once the store's catalog is another
                # (zzgw init --adopt-catalog), the stream ends as a call is refused, before the page read is sent,
                # and its client resumes with its cursor at a process restarted with the new catalog, which judges
                # the scope by it. It had gone on, for as long as its process ran unrestarted, sending a department
                # the events of a type the adoption had taken from its matters (found by a reviewer)
                self._catalog_current()
                for change in page.changes:
                    yield issuance_pb2.WatchLicenseChangesResponse(event=convert.change_event(change))
                if page.cursor == cursor:
                    signal.wait(seen, self._poll, ended=ended)
                cursor = page.cursor  # past the events left out too: they are not read again
                if signal.closed:  # every event up to the cursor was sent; the watcher resumes elsewhere
                    raise _stopping(
                        "请用最后收到的事件的游标重新订阅，不会漏掉事件",
                        "watch again with the cursor of the last event you received; nothing is missed",
                    )
        finally:
            release()

    def open_watchers(self) -> dict[str, int]:
        """The WatchLicenseChanges streams open in this process now, by member code."""
        return self._watchers.held()

    def _summary(self, license: License) -> common_pb2.License:
        return convert.license_summary(license, status=self._service.effective_status(license))

    def _message(self, license: License) -> common_pb2.License:
        """The license for its issuer: every field but the SECRET ones, whose values never leave the gateway (the
        issuer sent them; its document does not print them either). A license of a type the catalog no longer has
        comes without its fields: which of them were secret cannot be told (found in review)."""
        license_type = self._catalog.license_types.get(license.content.type_code)
        message = convert.license_message(
            license,
            status=self._service.effective_status(license),
            type_name=license_type.name if license_type else "",
            issuer_name=self._issuer_name(license.content.issuer_code),
        )
        if license_type is None:
            message.ClearField("fields")
        for spec in license_type.fields if license_type else ():
            if spec.sensitivity is Sensitivity.SECRET and spec.key in message.fields:
                del message.fields[spec.key]
        return message


_SOURCES = {
    DocumentSource.RENDERED: issuance_pb2.DOCUMENT_SOURCE_RENDERED,
    DocumentSource.SUPPLIED: issuance_pb2.DOCUMENT_SOURCE_SUPPLIED,
}


_STOP_LOOK_SECONDS = 0.25
"""How often a batch stream waiting for its client's next message looks whether the process is stopping."""


def _stopping(what_now: str, what_now_en: str) -> UpstreamUnavailableError:
    """A stream ended because its process is stopping (``ChangeSignal.close``), after its last answer: the client
    goes on at another process (UNAVAILABLE / GATEWAY_STOPPING), instead of being cut off at the end of the grace."""
    return UpstreamUnavailableError(
        f"证照网关的这个进程正在停止：{what_now}（this gateway process is stopping: {what_now_en}）",
        reason="GATEWAY_STOPPING",
    )


def _required(field: str, label: str) -> str:
    """Refuse a request without ``field``, naming it by its Chinese ``label``."""
    raise InvalidRequestError(
        [FieldViolation(field=field, reason="REQUIRED", description=f"请填写{label}（{field} is required）")]
    )


def _watchers_of_member_full(name: str, mine: int) -> ZzgwError:
    return ResourceExhaustedError(
        f"{name}在证照网关的这个进程上已有{mine}个变更订阅，已达每个成员的上限：请先关闭一个再订阅"
        f"（一个订阅可含任意多种证照类型）；已断开的客户端的订阅在约{DEAD_PEER_SECONDS}秒内释放"
        f"（{name} already has {mine} WatchLicenseChanges streams open on this gateway process, the "
        "most one member may hold: close one before opening another (one stream carries any number of "
        "license types: name them all in type_codes, or none for every type the member may watch); a "
        f"stream of a client that vanished is released within about {DEAD_PEER_SECONDS} s）",
        reason="TOO_MANY_WATCHERS_FOR_MEMBER",
    )


def _watchers_full() -> ZzgwError:
    return ResourceExhaustedError(
        "证照网关的这个进程上的变更订阅已满，请稍后重试（too many watchers on this gateway process; retry later）",
        reason="TOO_MANY_WATCHERS",
    )


def _batches_of_member_full(name: str, mine: int) -> ZzgwError:
    return ResourceExhaustedError(
        f"{name}在证照网关的这个进程上已有{mine}个批量签发流，已达每个成员的上限：请在已开的流中继续发送，"
        f"或先结束一个（{name} already has {mine} BatchIssueLicenses streams open on this gateway process, "
        "the most one member may hold: send on the streams open, or end one first; one stream carries any number "
        f"of items; a stream of a client that vanished is released within about {DEAD_PEER_SECONDS} s）",
        reason="TOO_MANY_BATCH_STREAMS",
    )


def _batches_full() -> ZzgwError:
    return ResourceExhaustedError(
        "证照网关的这个进程上的批量签发流已满，请稍后重试（too many BatchIssueLicenses streams on this gateway "
        "process; retry later）",
        reason="TOO_MANY_BATCH_STREAMS",
    )


_Read = tuple[object, int]
"""What a batch stream's reader queues: a request message and its size in bytes; or, with size 0, ``_END`` (the
client ended its stream) or the error that ended reading it."""


class _Room:
    """How many bytes of request messages a batch stream may take in yet (``BATCH_HELD_MESSAGES``): its reader
    takes room for a whole message before it reads one, and gives back what the message did not need; the handler
    gives back a group's once the group is answered."""

    def __init__(self, most: int) -> None:
        self._free = most
        self._changed = threading.Condition()

    def take(self, size: int, stopped: threading.Event) -> bool:
        """Wait until ``size`` bytes are free and take them; False (nothing taken) once ``stopped``."""
        with self._changed:
            while not stopped.is_set():
                if self._free >= size:
                    self._free -= size
                    return True
                self._changed.wait(_STOP_LOOK_SECONDS)
            return False

    def give(self, size: int) -> None:
        with self._changed:
            self._free += size
            self._changed.notify_all()


def _ends(message: object) -> bool:
    """Whether the reader queued this after the client's last message: ``_END``, or the error that ended reading."""
    return message is _END or isinstance(message, BaseException)


def _group(inbox: queue.Queue[_Read], first: _Read, most: int) -> tuple[list[_Read], _Read | None]:
    """The messages issued together, in one transaction: ``first``, and those queued after it (without waiting for
    more) while they keep the group within ``BATCH_CHUNK`` items and ``most`` bytes. Also the one taken from the
    queue that did not fit, if any: it starts the next group."""
    group = [first]
    items, size = len(getattr(first[0], "licenses", ())), first[1]
    while not _ends(group[-1][0]):
        try:
            read = inbox.get_nowait()
        except queue.Empty:
            break
        more = len(getattr(read[0], "licenses", ()))
        if not _ends(read[0]) and (items + more > BATCH_CHUNK or size + read[1] > most):
            return group, read
        group.append(read)
        items, size = items + more, size + read[1]
    return group, None


def _contents(group: list[_Read]) -> tuple[list[LicenseDraft], list[bytes | None]]:
    """The drafts of a group's messages and their supplied PDFs, each message let go once read (``group`` is
    emptied): a group holds their contents, not the messages as well."""
    drafts: list[LicenseDraft] = []
    documents: list[bytes | None] = []
    group.reverse()
    while group:
        items = group.pop()[0].licenses  # type: ignore[attr-defined]
        if len(items) > MAX_ITEMS_PER_MESSAGE:
            raise InvalidRequestError(
                [
                    FieldViolation(
                        field="licenses",
                        reason="TOO_MANY_ITEMS",
                        description=f"每条消息最多{MAX_ITEMS_PER_MESSAGE}项"
                        f"（at most {MAX_ITEMS_PER_MESSAGE} items per message）",
                    )
                ]
            )
        drafts.extend(convert.draft(item) for item in items)
        documents.extend(item.document or None for item in items)
    return drafts, documents


def _drain(
    requests: Iterator[issuance_pb2.BatchIssueLicensesRequest],
    inbox: queue.Queue[_Read],
    stopped: threading.Event,
    room: _Room,
    limit: int,
) -> None:
    """Read the client's stream into ``inbox`` so items are processed as they arrive, not after the stream ends,
    each message only once ``room`` has room for one of the message limit ``limit``; return once ``stopped`` (the
    stream is over, nobody takes from ``inbox`` any more). Waiting in ``next`` returns by itself then: gRPC ends the
    request stream of a call that is over."""

    def put(read: _Read) -> bool:
        while not stopped.is_set():
            try:
                inbox.put(read, timeout=_STOP_LOOK_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    messages = iter(requests)
    try:
        while room.take(limit, stopped):
            message = next(messages, None)
            if message is None:
                room.give(limit)
                put((_END, 0))
                break
            size = message.ByteSize()
            room.give(limit - size)
            if not put((message, size)):
                break
            # not kept while the reader waits for room and the next message: its group lets it go once answered
            message = None
    except BaseException as exc:
        put((exc, 0))
    if stopped.is_set():
        _empty(inbox)  # what was put as the stream ended


def _empty(inbox: queue.Queue[_Read]) -> None:
    while True:
        try:
            inbox.get_nowait()
        except queue.Empty:
            return
