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

class AccessState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_STATE_UNSPECIFIED: _ClassVar[AccessState]
    ACCESS_STATE_AVAILABLE: _ClassVar[AccessState]
    ACCESS_STATE_NEEDS_AUTHORIZATION: _ClassVar[AccessState]
    ACCESS_STATE_NOT_SHARED: _ClassVar[AccessState]

class SharingBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARING_BASIS_UNSPECIFIED: _ClassVar[SharingBasis]
    SHARING_BASIS_ISSUER: _ClassVar[SharingBasis]
    SHARING_BASIS_UNCONDITIONAL: _ClassVar[SharingBasis]
    SHARING_BASIS_APPROVAL: _ClassVar[SharingBasis]
    SHARING_BASIS_CONSENT: _ClassVar[SharingBasis]
ACCESS_STATE_UNSPECIFIED: AccessState
ACCESS_STATE_AVAILABLE: AccessState
ACCESS_STATE_NEEDS_AUTHORIZATION: AccessState
ACCESS_STATE_NOT_SHARED: AccessState
SHARING_BASIS_UNSPECIFIED: SharingBasis
SHARING_BASIS_ISSUER: SharingBasis
SHARING_BASIS_UNCONDITIONAL: SharingBasis
SHARING_BASIS_APPROVAL: SharingBasis
SHARING_BASIS_CONSENT: SharingBasis

class ListHolderLicensesRequest(_message.Message):
    __slots__ = ("use", "holder_code_type", "holder_code", "consent_code", "limit", "page_token")
    USE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    CONSENT_CODE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    use: _verification_pb2.UseContext
    holder_code_type: str
    holder_code: str
    consent_code: str
    limit: int
    page_token: str
    def __init__(self, use: _Optional[_Union[_verification_pb2.UseContext, _Mapping]] = ..., holder_code_type: _Optional[str] = ..., holder_code: _Optional[str] = ..., consent_code: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class HolderLicense(_message.Message):
    __slots__ = ("license_id", "type_code", "type_name", "issuer_code", "issuer_name", "status", "valid_until", "access_state", "reason", "detail", "remedy")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ACCESS_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REMEDY_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    type_code: str
    type_name: str
    issuer_code: str
    issuer_name: str
    status: _common_pb2.LicenseStatus
    valid_until: str
    access_state: AccessState
    reason: str
    detail: str
    remedy: str
    def __init__(self, license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., type_name: _Optional[str] = ..., issuer_code: _Optional[str] = ..., issuer_name: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., valid_until: _Optional[str] = ..., access_state: _Optional[_Union[AccessState, str]] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., remedy: _Optional[str] = ...) -> None: ...

class MissingMaterial(_message.Message):
    __slots__ = ("type_code", "type_name", "required", "detail")
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    type_code: str
    type_name: str
    required: bool
    detail: str
    def __init__(self, type_code: _Optional[str] = ..., type_name: _Optional[str] = ..., required: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class ListHolderLicensesResponse(_message.Message):
    __slots__ = ("licenses", "missing", "held_by_others", "next_page_token")
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    HELD_BY_OTHERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    licenses: _containers.RepeatedCompositeFieldContainer[HolderLicense]
    missing: _containers.RepeatedCompositeFieldContainer[MissingMaterial]
    held_by_others: _containers.RepeatedCompositeFieldContainer[MissingMaterial]
    next_page_token: str
    def __init__(self, licenses: _Optional[_Iterable[_Union[HolderLicense, _Mapping]]] = ..., missing: _Optional[_Iterable[_Union[MissingMaterial, _Mapping]]] = ..., held_by_others: _Optional[_Iterable[_Union[MissingMaterial, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetLicenseDataRequest(_message.Message):
    __slots__ = ("use", "license_id", "consent_code")
    USE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_CODE_FIELD_NUMBER: _ClassVar[int]
    use: _verification_pb2.UseContext
    license_id: str
    consent_code: str
    def __init__(self, use: _Optional[_Union[_verification_pb2.UseContext, _Mapping]] = ..., license_id: _Optional[str] = ..., consent_code: _Optional[str] = ...) -> None: ...

class SharedField(_message.Message):
    __slots__ = ("key", "label", "value", "masked", "basis")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    value: str
    masked: bool
    basis: SharingBasis
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., value: _Optional[str] = ..., masked: _Optional[bool] = ..., basis: _Optional[_Union[SharingBasis, str]] = ...) -> None: ...

class WithheldField(_message.Message):
    __slots__ = ("key", "label", "reason", "detail")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    reason: str
    detail: str
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class GetLicenseDataResponse(_message.Message):
    __slots__ = ("license_id", "type_code", "type_name", "issuer_code", "issuer_name", "status", "valid_from", "valid_until", "holder_code_type", "holder_code", "fields", "withheld", "remedy", "approval_ids", "consent_id", "consent_uses_left", "used_at", "current_license_id", "current_status", "current_status_since")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    REMEDY_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_IDS_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_USES_LEFT_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STATUS_SINCE_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    type_code: str
    type_name: str
    issuer_code: str
    issuer_name: str
    status: _common_pb2.LicenseStatus
    valid_from: str
    valid_until: str
    holder_code_type: str
    holder_code: str
    fields: _containers.RepeatedCompositeFieldContainer[SharedField]
    withheld: _containers.RepeatedCompositeFieldContainer[WithheldField]
    remedy: str
    approval_ids: _containers.RepeatedScalarFieldContainer[str]
    consent_id: str
    consent_uses_left: int
    used_at: _timestamp_pb2.Timestamp
    current_license_id: str
    current_status: _common_pb2.LicenseStatus
    current_status_since: str
    def __init__(self, license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., type_name: _Optional[str] = ..., issuer_code: _Optional[str] = ..., issuer_name: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., holder_code_type: _Optional[str] = ..., holder_code: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[SharedField, _Mapping]]] = ..., withheld: _Optional[_Iterable[_Union[WithheldField, _Mapping]]] = ..., remedy: _Optional[str] = ..., approval_ids: _Optional[_Iterable[str]] = ..., consent_id: _Optional[str] = ..., consent_uses_left: _Optional[int] = ..., used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_license_id: _Optional[str] = ..., current_status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., current_status_since: _Optional[str] = ...) -> None: ...

class SharingServiceGetLicenseDocumentRequest(_message.Message):
    __slots__ = ("use", "license_id", "consent_code")
    USE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_CODE_FIELD_NUMBER: _ClassVar[int]
    use: _verification_pb2.UseContext
    license_id: str
    consent_code: str
    def __init__(self, use: _Optional[_Union[_verification_pb2.UseContext, _Mapping]] = ..., license_id: _Optional[str] = ..., consent_code: _Optional[str] = ...) -> None: ...

class SharingServiceGetLicenseDocumentResponse(_message.Message):
    __slots__ = ("pdf", "sha256", "original_sha256", "use_stamp_field", "use_text", "consent_id", "used_at", "status", "status_since", "current_license_id", "current_status", "current_status_since")
    PDF_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_SHA256_FIELD_NUMBER: _ClassVar[int]
    USE_STAMP_FIELD_FIELD_NUMBER: _ClassVar[int]
    USE_TEXT_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_SINCE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STATUS_SINCE_FIELD_NUMBER: _ClassVar[int]
    pdf: bytes
    sha256: str
    original_sha256: str
    use_stamp_field: str
    use_text: str
    consent_id: str
    used_at: _timestamp_pb2.Timestamp
    status: _common_pb2.LicenseStatus
    status_since: str
    current_license_id: str
    current_status: _common_pb2.LicenseStatus
    current_status_since: str
    def __init__(self, pdf: _Optional[bytes] = ..., sha256: _Optional[str] = ..., original_sha256: _Optional[str] = ..., use_stamp_field: _Optional[str] = ..., use_text: _Optional[str] = ..., consent_id: _Optional[str] = ..., used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., status_since: _Optional[str] = ..., current_license_id: _Optional[str] = ..., current_status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., current_status_since: _Optional[str] = ...) -> None: ...

class PrefillFormRequest(_message.Message):
    __slots__ = ("use", "holder_code_type", "holder_code", "field_keys", "consent_code", "license_ids")
    USE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    FIELD_KEYS_FIELD_NUMBER: _ClassVar[int]
    CONSENT_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_IDS_FIELD_NUMBER: _ClassVar[int]
    use: _verification_pb2.UseContext
    holder_code_type: str
    holder_code: str
    field_keys: _containers.RepeatedScalarFieldContainer[str]
    consent_code: str
    license_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, use: _Optional[_Union[_verification_pb2.UseContext, _Mapping]] = ..., holder_code_type: _Optional[str] = ..., holder_code: _Optional[str] = ..., field_keys: _Optional[_Iterable[str]] = ..., consent_code: _Optional[str] = ..., license_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PrefilledValue(_message.Message):
    __slots__ = ("key", "value", "masked", "license_id", "type_code", "field_key", "field_label", "basis")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    FIELD_KEY_FIELD_NUMBER: _ClassVar[int]
    FIELD_LABEL_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    masked: bool
    license_id: str
    type_code: str
    field_key: str
    field_label: str
    basis: SharingBasis
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., masked: _Optional[bool] = ..., license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., field_key: _Optional[str] = ..., field_label: _Optional[str] = ..., basis: _Optional[_Union[SharingBasis, str]] = ...) -> None: ...

class UnfilledKey(_message.Message):
    __slots__ = ("key", "reason", "detail")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    key: str
    reason: str
    detail: str
    def __init__(self, key: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class PrefillFormResponse(_message.Message):
    __slots__ = ("values", "unfilled", "remedy", "consent_id", "used_at")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    UNFILLED_FIELD_NUMBER: _ClassVar[int]
    REMEDY_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[PrefilledValue]
    unfilled: _containers.RepeatedCompositeFieldContainer[UnfilledKey]
    remedy: str
    consent_id: str
    used_at: _timestamp_pb2.Timestamp
    def __init__(self, values: _Optional[_Iterable[_Union[PrefilledValue, _Mapping]]] = ..., unfilled: _Optional[_Iterable[_Union[UnfilledKey, _Mapping]]] = ..., remedy: _Optional[str] = ..., consent_id: _Optional[str] = ..., used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
