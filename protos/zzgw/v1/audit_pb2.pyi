import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerifyAuditLogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyAuditLogResponse(_message.Message):
    __slots__ = ("ok", "records", "checkpoints", "first_broken", "reason", "last_broken")
    OK_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_BROKEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LAST_BROKEN_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    records: int
    checkpoints: int
    first_broken: int
    reason: str
    last_broken: int
    def __init__(self, ok: _Optional[bool] = ..., records: _Optional[int] = ..., checkpoints: _Optional[int] = ..., first_broken: _Optional[int] = ..., reason: _Optional[str] = ..., last_broken: _Optional[int] = ...) -> None: ...

class ListAccessRecordsRequest(_message.Message):
    __slots__ = ("holder_code", "limit", "before", "omit_own_listings")
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    OMIT_OWN_LISTINGS_FIELD_NUMBER: _ClassVar[int]
    holder_code: str
    limit: int
    before: int
    omit_own_listings: bool
    def __init__(self, holder_code: _Optional[str] = ..., limit: _Optional[int] = ..., before: _Optional[int] = ..., omit_own_listings: _Optional[bool] = ...) -> None: ...

class AccessRecord(_message.Message):
    __slots__ = ("seq", "at", "caller", "caller_name", "operator", "action", "matter_code", "purpose", "license_id", "decision", "reason", "receipt_id", "action_words", "decision_words", "matter_name", "reason_words", "type_code", "type_name", "relation", "consent_granted_by", "seal_id", "document_sha256", "result_sha256")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_WORDS_FIELD_NUMBER: _ClassVar[int]
    DECISION_WORDS_FIELD_NUMBER: _ClassVar[int]
    MATTER_NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_WORDS_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    CONSENT_GRANTED_BY_FIELD_NUMBER: _ClassVar[int]
    SEAL_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    RESULT_SHA256_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: _timestamp_pb2.Timestamp
    caller: str
    caller_name: str
    operator: str
    action: str
    matter_code: str
    purpose: str
    license_id: str
    decision: str
    reason: str
    receipt_id: str
    action_words: str
    decision_words: str
    matter_name: str
    reason_words: str
    type_code: str
    type_name: str
    relation: str
    consent_granted_by: str
    seal_id: str
    document_sha256: str
    result_sha256: str
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., caller: _Optional[str] = ..., caller_name: _Optional[str] = ..., operator: _Optional[str] = ..., action: _Optional[str] = ..., matter_code: _Optional[str] = ..., purpose: _Optional[str] = ..., license_id: _Optional[str] = ..., decision: _Optional[str] = ..., reason: _Optional[str] = ..., receipt_id: _Optional[str] = ..., action_words: _Optional[str] = ..., decision_words: _Optional[str] = ..., matter_name: _Optional[str] = ..., reason_words: _Optional[str] = ..., type_code: _Optional[str] = ..., type_name: _Optional[str] = ..., relation: _Optional[str] = ..., consent_granted_by: _Optional[str] = ..., seal_id: _Optional[str] = ..., document_sha256: _Optional[str] = ..., result_sha256: _Optional[str] = ...) -> None: ...

class ListAccessRecordsResponse(_message.Message):
    __slots__ = ("records", "next_before")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AccessRecord]
    next_before: int
    def __init__(self, records: _Optional[_Iterable[_Union[AccessRecord, _Mapping]]] = ..., next_before: _Optional[int] = ...) -> None: ...
