import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.zzgw.v1 import common_pb2 as _common_pb2
from protos.zzgw.v1 import verification_pb2 as _verification_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StatusAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_ACTION_UNSPECIFIED: _ClassVar[StatusAction]
    STATUS_ACTION_SUSPEND: _ClassVar[StatusAction]
    STATUS_ACTION_RESUME: _ClassVar[StatusAction]
    STATUS_ACTION_REVOKE: _ClassVar[StatusAction]
    STATUS_ACTION_CANCEL: _ClassVar[StatusAction]

class ChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_KIND_UNSPECIFIED: _ClassVar[ChangeKind]
    CHANGE_KIND_ISSUED: _ClassVar[ChangeKind]
    CHANGE_KIND_AMENDED: _ClassVar[ChangeKind]
    CHANGE_KIND_STATUS_CHANGED: _ClassVar[ChangeKind]

class DocumentSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOCUMENT_SOURCE_UNSPECIFIED: _ClassVar[DocumentSource]
    DOCUMENT_SOURCE_RENDERED: _ClassVar[DocumentSource]
    DOCUMENT_SOURCE_SUPPLIED: _ClassVar[DocumentSource]
STATUS_ACTION_UNSPECIFIED: StatusAction
STATUS_ACTION_SUSPEND: StatusAction
STATUS_ACTION_RESUME: StatusAction
STATUS_ACTION_REVOKE: StatusAction
STATUS_ACTION_CANCEL: StatusAction
CHANGE_KIND_UNSPECIFIED: ChangeKind
CHANGE_KIND_ISSUED: ChangeKind
CHANGE_KIND_AMENDED: ChangeKind
CHANGE_KIND_STATUS_CHANGED: ChangeKind
DOCUMENT_SOURCE_UNSPECIFIED: DocumentSource
DOCUMENT_SOURCE_RENDERED: DocumentSource
DOCUMENT_SOURCE_SUPPLIED: DocumentSource

class IssueLicenseRequest(_message.Message):
    __slots__ = ("request_id", "type_code", "license_number", "holder", "issue_date", "valid_from", "valid_until", "region_code", "fields", "serial", "document")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    ISSUE_DATE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    type_code: str
    license_number: str
    holder: _common_pb2.Holder
    issue_date: str
    valid_from: str
    valid_until: str
    region_code: str
    fields: _containers.ScalarMap[str, str]
    serial: str
    document: bytes
    def __init__(self, request_id: _Optional[str] = ..., type_code: _Optional[str] = ..., license_number: _Optional[str] = ..., holder: _Optional[_Union[_common_pb2.Holder, _Mapping]] = ..., issue_date: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., region_code: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ..., serial: _Optional[str] = ..., document: _Optional[bytes] = ...) -> None: ...

class IssueLicenseResponse(_message.Message):
    __slots__ = ("license", "created", "document_sha256")
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    license: _common_pb2.License
    created: bool
    document_sha256: str
    def __init__(self, license: _Optional[_Union[_common_pb2.License, _Mapping]] = ..., created: _Optional[bool] = ..., document_sha256: _Optional[str] = ...) -> None: ...

class BatchIssueLicensesRequest(_message.Message):
    __slots__ = ("licenses",)
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    licenses: _containers.RepeatedCompositeFieldContainer[IssueLicenseRequest]
    def __init__(self, licenses: _Optional[_Iterable[_Union[IssueLicenseRequest, _Mapping]]] = ...) -> None: ...

class BatchIssueLicensesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchItemResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchItemResult, _Mapping]]] = ...) -> None: ...

class BatchItemResult(_message.Message):
    __slots__ = ("index", "license", "error", "created")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    index: int
    license: _common_pb2.License
    error: _common_pb2.ItemError
    created: bool
    def __init__(self, index: _Optional[int] = ..., license: _Optional[_Union[_common_pb2.License, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ItemError, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class AmendLicenseRequest(_message.Message):
    __slots__ = ("request_id", "license_id", "fields", "clear_fields", "holder_name", "license_number", "valid_from", "valid_until", "reason", "issue_date")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    CLEAR_FIELDS_FIELD_NUMBER: _ClassVar[int]
    HOLDER_NAME_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ISSUE_DATE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    license_id: str
    fields: _containers.ScalarMap[str, str]
    clear_fields: _containers.RepeatedScalarFieldContainer[str]
    holder_name: str
    license_number: str
    valid_from: str
    valid_until: str
    reason: str
    issue_date: str
    def __init__(self, request_id: _Optional[str] = ..., license_id: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ..., clear_fields: _Optional[_Iterable[str]] = ..., holder_name: _Optional[str] = ..., license_number: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., reason: _Optional[str] = ..., issue_date: _Optional[str] = ...) -> None: ...

class AmendLicenseResponse(_message.Message):
    __slots__ = ("license", "superseded")
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    license: _common_pb2.License
    superseded: _common_pb2.License
    def __init__(self, license: _Optional[_Union[_common_pb2.License, _Mapping]] = ..., superseded: _Optional[_Union[_common_pb2.License, _Mapping]] = ...) -> None: ...

class ChangeLicenseStatusRequest(_message.Message):
    __slots__ = ("request_id", "license_id", "action", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    license_id: str
    action: StatusAction
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., license_id: _Optional[str] = ..., action: _Optional[_Union[StatusAction, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ChangeLicenseStatusResponse(_message.Message):
    __slots__ = ("license",)
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    license: _common_pb2.License
    def __init__(self, license: _Optional[_Union[_common_pb2.License, _Mapping]] = ...) -> None: ...

class GetLicenseRequest(_message.Message):
    __slots__ = ("license_id", "type_code", "license_number", "include_history")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    type_code: str
    license_number: str
    include_history: bool
    def __init__(self, license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., license_number: _Optional[str] = ..., include_history: _Optional[bool] = ...) -> None: ...

class GetLicenseResponse(_message.Message):
    __slots__ = ("license", "history", "stored")
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    license: _common_pb2.License
    history: _containers.RepeatedCompositeFieldContainer[_common_pb2.License]
    stored: _verification_pb2.Finding
    def __init__(self, license: _Optional[_Union[_common_pb2.License, _Mapping]] = ..., history: _Optional[_Iterable[_Union[_common_pb2.License, _Mapping]]] = ..., stored: _Optional[_Union[_verification_pb2.Finding, _Mapping]] = ...) -> None: ...

class WatchLicenseChangesRequest(_message.Message):
    __slots__ = ("cursor", "from_beginning", "type_codes")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FROM_BEGINNING_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODES_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    from_beginning: bool
    type_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cursor: _Optional[str] = ..., from_beginning: _Optional[bool] = ..., type_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class LicenseChangeEvent(_message.Message):
    __slots__ = ("cursor", "kind", "license_id", "type_code", "issuer_code", "version", "status", "reason", "occurred_at", "previous_license_id")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    kind: ChangeKind
    license_id: str
    type_code: str
    issuer_code: str
    version: int
    status: _common_pb2.LicenseStatus
    reason: str
    occurred_at: _timestamp_pb2.Timestamp
    previous_license_id: str
    def __init__(self, cursor: _Optional[str] = ..., kind: _Optional[_Union[ChangeKind, str]] = ..., license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., issuer_code: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., reason: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_license_id: _Optional[str] = ...) -> None: ...

class WatchLicenseChangesResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: LicenseChangeEvent
    def __init__(self, event: _Optional[_Union[LicenseChangeEvent, _Mapping]] = ...) -> None: ...

class GetLicenseDocumentRequest(_message.Message):
    __slots__ = ("license_id",)
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    def __init__(self, license_id: _Optional[str] = ...) -> None: ...

class GetLicenseDocumentResponse(_message.Message):
    __slots__ = ("license_id", "pdf", "sha256", "source", "seal_id", "created_at")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    PDF_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SEAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    pdf: bytes
    sha256: str
    source: DocumentSource
    seal_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, license_id: _Optional[str] = ..., pdf: _Optional[bytes] = ..., sha256: _Optional[str] = ..., source: _Optional[_Union[DocumentSource, str]] = ..., seal_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
