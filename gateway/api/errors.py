"""The one table from domain errors to gRPC status codes, with google.rpc details.

Every error leaves with a stable reason in ``google.rpc.ErrorInfo`` (domain ``zzgw.v1``); invalid input also carries
``google.rpc.BadRequest`` with one field violation per bad field. Anything unexpected becomes INTERNAL with only a
request id: the details go to the server log, never to the caller.
"""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.domain.errors import (
    MAX_ECHO_DESCRIPTION,
    MAX_ECHO_FIELD,
    MAX_ECHO_MESSAGE,
    MAX_VIOLATIONS,
    AlreadyExistsError,
    ConflictError,
    DeadlineExceededError,
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UpstreamUnavailableError,
    ZzgwError,
    clip,
    echoed,
    left_out,
    more_violations,
)
from protos.zzgw.v1 import common_pb2

ERROR_DOMAIN = "zzgw.v1"
Reply = TypeVar("Reply", bound=Message)

_CODES: tuple[tuple[type[ZzgwError], grpc.StatusCode], ...] = (
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (IdempotencyConflictError, grpc.StatusCode.ALREADY_EXISTS),
    (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (ConflictError, grpc.StatusCode.FAILED_PRECONDITION),
    (PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED),
    (ResourceExhaustedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (UpstreamUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
)


def status_code(error: ZzgwError) -> grpc.StatusCode:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.UNKNOWN


TRAILERS_BUDGET, MAX_MESSAGE_BYTES, MAX_METADATA_BYTES = 7 * 1024, 1024, 400
"""Bytes a refusal's status may take in the trailers as sent, and bytes of UTF-8 of its message and of each ErrorInfo
value. A gRPC client with default settings refuses trailers past 16 KiB and, from 8 KiB on, at random (its soft
limit): it reads RESOURCE_EXHAUSTED "received metadata size exceeds …" instead of the refusal. The characters that
``MAX_ECHO_*`` allow are up to 4 bytes each in UTF-8 (𠀀), and then grow again on the wire: ``grpc-message``
percent-encoded, 3 bytes for each byte past ASCII, and ``grpc-status-details-bin`` (the whole status, the message
again) in base64; 16 violations echoing long keys of Chinese headers came to 17 KiB. So the violations that do not
fit are left out from the end, the message saying how many (另有N项有误), leaving 1 KiB of the 8 for gRPC's own."""


def to_status(error: ZzgwError) -> grpc.Status:
    code = getattr(code_pb2, status_code(error).name)
    # clipped: a long bad value echoed would otherwise turn the real error into RESOURCE_EXHAUSTED
    metadata = {
        clip(k, MAX_ECHO_FIELD): clip(v, MAX_ECHO_MESSAGE, MAX_METADATA_BYTES) for k, v in error.metadata.items()
    }
    details = [_pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata))]
    message = error.message
    if not isinstance(error, InvalidRequestError):
        return rpc_status.to_status(status_pb2.Status(code=code, message=_message(message), details=details))
    violations = [
        error_details_pb2.BadRequest.FieldViolation(
            field=echoed(v.field, MAX_ECHO_FIELD),
            description=echoed(v.description, MAX_ECHO_DESCRIPTION),
            reason=v.reason,
        )
        for v in error.violations[:MAX_VIOLATIONS]
    ]
    for sent in range(len(violations), -1, -1):
        bad = _pack(error_details_pb2.BadRequest(field_violations=violations[:sent]))
        proto = status_pb2.Status(
            code=code, message=_message(message, len(error.violations), sent), details=[*details, bad]
        )
        if _sent_size(proto) <= TRAILERS_BUDGET:
            break
    return rpc_status.to_status(proto)


def _message(message: str, violations: int = 0, sent: int = 0) -> str:
    """A refusal's message as sent: echoed, at most ``MAX_MESSAGE_BYTES`` of UTF-8, saying how many violations were
    left out."""
    more = left_out(violations, sent)
    return echoed(message, MAX_ECHO_MESSAGE, MAX_MESSAGE_BYTES - len(more.encode())) + more


def _sent_size(status: status_pb2.Status) -> int:
    """Bytes ``status`` takes in the trailers, as a client counts them (name, value as sent, and 32 more each):
    ``grpc-message`` percent-encoded (what is not printable ASCII, and ``%``, as %XX), ``grpc-status-details-bin``
    in base64, ``grpc-status``."""
    message = sum(1 if 0x20 <= b <= 0x7E and b != 0x25 else 3 for b in status.message.encode())
    details = 4 * -(-status.ByteSize() // 3)
    return len("grpc-message") + message + len("grpc-status-details-bin") + details + len("grpc-status") + 2 + 3 * 32


def internal_status(request_id: str) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN, metadata={"request_id": request_id})
    proto = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"网关内部错误，请将请求编号 {request_id} 告知管理员（internal error, request id {request_id}）",
        details=[_pack(info)],
    )
    return rpc_status.to_status(proto)


def unknown_method_status(method: str) -> grpc.Status:
    """UNIMPLEMENTED / UNKNOWN_METHOD for a call to a method the gateway does not serve, naming it (as sent: echoed)."""
    name = echoed(method, MAX_ECHO_FIELD * 2)
    info = error_details_pb2.ErrorInfo(reason="UNKNOWN_METHOD", domain=ERROR_DOMAIN, metadata={"method": name})
    proto = status_pb2.Status(
        code=code_pb2.UNIMPLEMENTED,
        message=f"证照网关没有这个方法：{name}（no such method: {name}; a client built from older or other protos?）",
        details=[_pack(info)],
    )
    return rpc_status.to_status(proto)


def within_limit(reply: Reply, limit: int) -> Reply:
    """``reply``, unless it is bigger than the gateway's message limit: then ResourceExhaustedError
    REPLY_TOO_LARGE. gRPC would fail to send it only after the handler returned, with a status of its own and the
    call in the access log as OK (a document stored under a larger limit, then lowered)."""
    size = reply.ByteSize()
    if size > limit:
        raise ResourceExhaustedError(
            f"答复过大，超出网关的消息上限，无法返回（the reply would have {size} bytes, more than the gateway's "
            f"message limit of {limit}, ZZGW_MAX_MESSAGE_BYTES）",
            reason="REPLY_TOO_LARGE",
        )
    return reply


def item_error(error: ZzgwError) -> common_pb2.ItemError:
    """The per-item error of a batch response, its texts as a refusal's (``echoed``): what cannot be seen as its code
    point, clipped (a batch's item echoes what it sent as a single call's refusal does), and at most
    ``MAX_VIOLATIONS`` field errors, the message saying how many more (an item sent with its whole database row as
    ``fields`` had 40 UNKNOWN_FIELD errors: a message of 900 such items had a reply past gRPC's limit)."""
    violations = error.violations if isinstance(error, InvalidRequestError) else ()
    return common_pb2.ItemError(
        code=status_code(error).name,
        reason=error.reason,
        message=more_violations(echoed(error.message, MAX_ECHO_MESSAGE), len(violations)),
        field_errors=[
            common_pb2.FieldError(
                field=echoed(v.field, MAX_ECHO_FIELD),
                reason=v.reason,
                description=echoed(v.description, MAX_ECHO_DESCRIPTION),
            )
            for v in violations[:MAX_VIOLATIONS]
        ],
    )


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
