import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SealStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEAL_STATUS_UNSPECIFIED: _ClassVar[SealStatus]
    SEAL_STATUS_ACTIVE: _ClassVar[SealStatus]
    SEAL_STATUS_REVOKED: _ClassVar[SealStatus]
    SEAL_STATUS_EXPIRED: _ClassVar[SealStatus]
SEAL_STATUS_UNSPECIFIED: SealStatus
SEAL_STATUS_ACTIVE: SealStatus
SEAL_STATUS_REVOKED: SealStatus
SEAL_STATUS_EXPIRED: SealStatus

class Seal(_message.Message):
    __slots__ = ("seal_id", "issuer_code", "issuer_name", "name", "algorithm", "key_id", "certificate_der", "image_png", "status", "valid_from", "valid_until", "revoked_at", "revocation_reason", "ses_seal")
    SEAL_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_DER_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PNG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    SES_SEAL_FIELD_NUMBER: _ClassVar[int]
    seal_id: str
    issuer_code: str
    issuer_name: str
    name: str
    algorithm: str
    key_id: str
    certificate_der: bytes
    image_png: bytes
    status: SealStatus
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    revocation_reason: str
    ses_seal: bytes
    def __init__(self, seal_id: _Optional[str] = ..., issuer_code: _Optional[str] = ..., issuer_name: _Optional[str] = ..., name: _Optional[str] = ..., algorithm: _Optional[str] = ..., key_id: _Optional[str] = ..., certificate_der: _Optional[bytes] = ..., image_png: _Optional[bytes] = ..., status: _Optional[_Union[SealStatus, str]] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revocation_reason: _Optional[str] = ..., ses_seal: _Optional[bytes] = ...) -> None: ...

class RegisterSealRequest(_message.Message):
    __slots__ = ("request_id", "name", "algorithm", "validity_days")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    algorithm: str
    validity_days: int
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., algorithm: _Optional[str] = ..., validity_days: _Optional[int] = ...) -> None: ...

class RegisterSealResponse(_message.Message):
    __slots__ = ("seal",)
    SEAL_FIELD_NUMBER: _ClassVar[int]
    seal: Seal
    def __init__(self, seal: _Optional[_Union[Seal, _Mapping]] = ...) -> None: ...

class ListSealsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSealsResponse(_message.Message):
    __slots__ = ("seals",)
    SEALS_FIELD_NUMBER: _ClassVar[int]
    seals: _containers.RepeatedCompositeFieldContainer[Seal]
    def __init__(self, seals: _Optional[_Iterable[_Union[Seal, _Mapping]]] = ...) -> None: ...

class GetSealRequest(_message.Message):
    __slots__ = ("seal_id",)
    SEAL_ID_FIELD_NUMBER: _ClassVar[int]
    seal_id: str
    def __init__(self, seal_id: _Optional[str] = ...) -> None: ...

class GetSealResponse(_message.Message):
    __slots__ = ("seal",)
    SEAL_FIELD_NUMBER: _ClassVar[int]
    seal: Seal
    def __init__(self, seal: _Optional[_Union[Seal, _Mapping]] = ...) -> None: ...

class RevokeSealRequest(_message.Message):
    __slots__ = ("seal_id", "reason", "crl_reason", "compromised_since")
    SEAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CRL_REASON_FIELD_NUMBER: _ClassVar[int]
    COMPROMISED_SINCE_FIELD_NUMBER: _ClassVar[int]
    seal_id: str
    reason: str
    crl_reason: str
    compromised_since: _timestamp_pb2.Timestamp
    def __init__(self, seal_id: _Optional[str] = ..., reason: _Optional[str] = ..., crl_reason: _Optional[str] = ..., compromised_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeSealResponse(_message.Message):
    __slots__ = ("seal",)
    SEAL_FIELD_NUMBER: _ClassVar[int]
    seal: Seal
    def __init__(self, seal: _Optional[_Union[Seal, _Mapping]] = ...) -> None: ...

class SealDocumentRequest(_message.Message):
    __slots__ = ("seal_id", "pdf", "reason", "page")
    SEAL_ID_FIELD_NUMBER: _ClassVar[int]
    PDF_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    seal_id: str
    pdf: bytes
    reason: str
    page: int
    def __init__(self, seal_id: _Optional[str] = ..., pdf: _Optional[bytes] = ..., reason: _Optional[str] = ..., page: _Optional[int] = ...) -> None: ...

class SealDocumentResponse(_message.Message):
    __slots__ = ("sealed_pdf",)
    SEALED_PDF_FIELD_NUMBER: _ClassVar[int]
    sealed_pdf: bytes
    def __init__(self, sealed_pdf: _Optional[bytes] = ...) -> None: ...

class StampDocumentRequest(_message.Message):
    __slots__ = ("seal_id", "document")
    SEAL_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    seal_id: str
    document: bytes
    def __init__(self, seal_id: _Optional[str] = ..., document: _Optional[bytes] = ...) -> None: ...

class StampDocumentResponse(_message.Message):
    __slots__ = ("stamp",)
    STAMP_FIELD_NUMBER: _ClassVar[int]
    stamp: bytes
    def __init__(self, stamp: _Optional[bytes] = ...) -> None: ...
