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


def to_status(error: ZzgwError) -> grpc.Status:
    code = status_code(error)
    # clipped: a long bad value echoed would otherwise turn the real error into RESOURCE_EXHAUSTED
    metadata = {clip(k, MAX_ECHO_FIELD): clip(v, MAX_ECHO_MESSAGE) for k, v in error.metadata.items()}
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata)
    details = [_pack(info)]
    message = echoed(error.message, MAX_ECHO_MESSAGE)
    if isinstance(error, InvalidRequestError):
        violations = error.violations[:MAX_VIOLATIONS]
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=echoed(v.field, MAX_ECHO_FIELD),
                    description=echoed(v.description, MAX_ECHO_DESCRIPTION),
                    reason=v.reason,
                )
                for v in violations
            ]
        )
        details.append(_pack(bad))
        message = more_violations(message, len(error.violations))
    proto = status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=details)
    return rpc_status.to_status(proto)


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
