import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LicenseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENSE_STATUS_UNSPECIFIED: _ClassVar[LicenseStatus]
    LICENSE_STATUS_ACTIVE: _ClassVar[LicenseStatus]
    LICENSE_STATUS_SUSPENDED: _ClassVar[LicenseStatus]
    LICENSE_STATUS_REVOKED: _ClassVar[LicenseStatus]
    LICENSE_STATUS_CANCELLED: _ClassVar[LicenseStatus]
    LICENSE_STATUS_SUPERSEDED: _ClassVar[LicenseStatus]
    LICENSE_STATUS_EXPIRED: _ClassVar[LicenseStatus]
LICENSE_STATUS_UNSPECIFIED: LicenseStatus
LICENSE_STATUS_ACTIVE: LicenseStatus
LICENSE_STATUS_SUSPENDED: LicenseStatus
LICENSE_STATUS_REVOKED: LicenseStatus
LICENSE_STATUS_CANCELLED: LicenseStatus
LICENSE_STATUS_SUPERSEDED: LicenseStatus
LICENSE_STATUS_EXPIRED: LicenseStatus

class Holder(_message.Message):
    __slots__ = ("name", "code_type", "code")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    code_type: str
    code: str
    def __init__(self, name: _Optional[str] = ..., code_type: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class RecordSeal(_message.Message):
    __slots__ = ("algorithm", "key_id", "signature", "record_digest", "encoding")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    RECORD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    key_id: str
    signature: bytes
    record_digest: bytes
    encoding: str
    def __init__(self, algorithm: _Optional[str] = ..., key_id: _Optional[str] = ..., signature: _Optional[bytes] = ..., record_digest: _Optional[bytes] = ..., encoding: _Optional[str] = ...) -> None: ...

class License(_message.Message):
    __slots__ = ("license_id", "type_code", "type_name", "license_number", "holder", "issuer_code", "issuer_name", "issue_date", "valid_from", "valid_until", "region_code", "fields", "status", "status_reason", "version", "record_seal", "created_at", "status_changed_at", "superseded_by", "supersedes")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUE_DATE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORD_SEAL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_BY_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDES_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    type_code: str
    type_name: str
    license_number: str
    holder: Holder
    issuer_code: str
    issuer_name: str
    issue_date: str
    valid_from: str
    valid_until: str
    region_code: str
    fields: _containers.ScalarMap[str, str]
    status: LicenseStatus
    status_reason: str
    version: int
    record_seal: RecordSeal
    created_at: _timestamp_pb2.Timestamp
    status_changed_at: _timestamp_pb2.Timestamp
    superseded_by: str
    supersedes: str
    def __init__(self, license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., type_name: _Optional[str] = ..., license_number: _Optional[str] = ..., holder: _Optional[_Union[Holder, _Mapping]] = ..., issuer_code: _Optional[str] = ..., issuer_name: _Optional[str] = ..., issue_date: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., region_code: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ..., status: _Optional[_Union[LicenseStatus, str]] = ..., status_reason: _Optional[str] = ..., version: _Optional[int] = ..., record_seal: _Optional[_Union[RecordSeal, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., superseded_by: _Optional[str] = ..., supersedes: _Optional[str] = ...) -> None: ...

class FieldError(_message.Message):
    __slots__ = ("field", "reason", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    reason: str
    description: str
    def __init__(self, field: _Optional[str] = ..., reason: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "reason", "message", "field_errors")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_ERRORS_FIELD_NUMBER: _ClassVar[int]
    code: str
    reason: str
    message: str
    field_errors: _containers.RepeatedCompositeFieldContainer[FieldError]
    def __init__(self, code: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., field_errors: _Optional[_Iterable[_Union[FieldError, _Mapping]]] = ...) -> None: ...
