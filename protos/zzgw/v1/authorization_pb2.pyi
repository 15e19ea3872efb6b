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

class AccessRequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_REQUEST_STATE_UNSPECIFIED: _ClassVar[AccessRequestState]
    ACCESS_REQUEST_STATE_PENDING: _ClassVar[AccessRequestState]
    ACCESS_REQUEST_STATE_APPROVED: _ClassVar[AccessRequestState]
    ACCESS_REQUEST_STATE_REJECTED: _ClassVar[AccessRequestState]
    ACCESS_REQUEST_STATE_EXPIRED: _ClassVar[AccessRequestState]
    ACCESS_REQUEST_STATE_WITHDRAWN: _ClassVar[AccessRequestState]
    ACCESS_REQUEST_STATE_CANCELLED: _ClassVar[AccessRequestState]

class AccessRequestView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_REQUEST_VIEW_UNSPECIFIED: _ClassVar[AccessRequestView]
    ACCESS_REQUEST_VIEW_ISSUER_QUEUE: _ClassVar[AccessRequestView]
    ACCESS_REQUEST_VIEW_SUBMITTED: _ClassVar[AccessRequestView]

class AccessDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_DECISION_UNSPECIFIED: _ClassVar[AccessDecision]
    ACCESS_DECISION_APPROVE: _ClassVar[AccessDecision]
    ACCESS_DECISION_REJECT: _ClassVar[AccessDecision]
    ACCESS_DECISION_WITHDRAW: _ClassVar[AccessDecision]

class ConsentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_STATE_UNSPECIFIED: _ClassVar[ConsentState]
    CONSENT_STATE_ACTIVE: _ClassVar[ConsentState]
    CONSENT_STATE_USED_UP: _ClassVar[ConsentState]
    CONSENT_STATE_EXPIRED: _ClassVar[ConsentState]
    CONSENT_STATE_WITHDRAWN: _ClassVar[ConsentState]
    CONSENT_STATE_GUARDIAN_ENDED: _ClassVar[ConsentState]
    CONSENT_STATE_NEEDS_GUARDIAN: _ClassVar[ConsentState]
ACCESS_REQUEST_STATE_UNSPECIFIED: AccessRequestState
ACCESS_REQUEST_STATE_PENDING: AccessRequestState
ACCESS_REQUEST_STATE_APPROVED: AccessRequestState
ACCESS_REQUEST_STATE_REJECTED: AccessRequestState
ACCESS_REQUEST_STATE_EXPIRED: AccessRequestState
ACCESS_REQUEST_STATE_WITHDRAWN: AccessRequestState
ACCESS_REQUEST_STATE_CANCELLED: AccessRequestState
ACCESS_REQUEST_VIEW_UNSPECIFIED: AccessRequestView
ACCESS_REQUEST_VIEW_ISSUER_QUEUE: AccessRequestView
ACCESS_REQUEST_VIEW_SUBMITTED: AccessRequestView
ACCESS_DECISION_UNSPECIFIED: AccessDecision
ACCESS_DECISION_APPROVE: AccessDecision
ACCESS_DECISION_REJECT: AccessDecision
ACCESS_DECISION_WITHDRAW: AccessDecision
CONSENT_STATE_UNSPECIFIED: ConsentState
CONSENT_STATE_ACTIVE: ConsentState
CONSENT_STATE_USED_UP: ConsentState
CONSENT_STATE_EXPIRED: ConsentState
CONSENT_STATE_WITHDRAWN: ConsentState
CONSENT_STATE_GUARDIAN_ENDED: ConsentState
CONSENT_STATE_NEEDS_GUARDIAN: ConsentState

class AccessRequest(_message.Message):
    __slots__ = ("request_id", "requester", "requester_name", "issuer_code", "type_code", "type_name", "license_id", "matter_code", "purpose", "fields", "duration_days", "state", "submitted_at", "deadline", "decided_at", "approved_fields", "valid_until", "decision_reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    requester: str
    requester_name: str
    issuer_code: str
    type_code: str
    type_name: str
    license_id: str
    matter_code: str
    purpose: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    duration_days: int
    state: AccessRequestState
    submitted_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    approved_fields: _containers.RepeatedScalarFieldContainer[str]
    valid_until: _timestamp_pb2.Timestamp
    decision_reason: str
    def __init__(self, request_id: _Optional[str] = ..., requester: _Optional[str] = ..., requester_name: _Optional[str] = ..., issuer_code: _Optional[str] = ..., type_code: _Optional[str] = ..., type_name: _Optional[str] = ..., license_id: _Optional[str] = ..., matter_code: _Optional[str] = ..., purpose: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., duration_days: _Optional[int] = ..., state: _Optional[_Union[AccessRequestState, str]] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approved_fields: _Optional[_Iterable[str]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_reason: _Optional[str] = ...) -> None: ...

class RequestAccessRequest(_message.Message):
    __slots__ = ("use", "type_code", "license_id", "issuer_code", "fields", "duration_days", "client_request_id")
    USE_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    use: _verification_pb2.UseContext
    type_code: str
    license_id: str
    issuer_code: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    duration_days: int
    client_request_id: str
    def __init__(self, use: _Optional[_Union[_verification_pb2.UseContext, _Mapping]] = ..., type_code: _Optional[str] = ..., license_id: _Optional[str] = ..., issuer_code: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., duration_days: _Optional[int] = ..., client_request_id: _Optional[str] = ...) -> None: ...

class RequestAccessResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: AccessRequest
    def __init__(self, request: _Optional[_Union[AccessRequest, _Mapping]] = ...) -> None: ...

class ListAccessRequestsRequest(_message.Message):
    __slots__ = ("view", "state", "matter_code", "requester", "limit", "page_token")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    view: AccessRequestView
    state: AccessRequestState
    matter_code: str
    requester: str
    limit: int
    page_token: str
    def __init__(self, view: _Optional[_Union[AccessRequestView, str]] = ..., state: _Optional[_Union[AccessRequestState, str]] = ..., matter_code: _Optional[str] = ..., requester: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAccessRequestsResponse(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[AccessRequest]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[AccessRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DecideAccessRequestRequest(_message.Message):
    __slots__ = ("request_id", "decision", "approved_fields", "duration_days", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    decision: AccessDecision
    approved_fields: _containers.RepeatedScalarFieldContainer[str]
    duration_days: int
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., decision: _Optional[_Union[AccessDecision, str]] = ..., approved_fields: _Optional[_Iterable[str]] = ..., duration_days: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DecideAccessRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: AccessRequest
    def __init__(self, request: _Optional[_Union[AccessRequest, _Mapping]] = ...) -> None: ...

class CancelAccessRequestRequest(_message.Message):
    __slots__ = ("request_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelAccessRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: AccessRequest
    def __init__(self, request: _Optional[_Union[AccessRequest, _Mapping]] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("consent_id", "holder_code", "grantee_code", "grantee_name", "matter_code", "license_ids", "type_codes", "valid_until", "uses_allowed", "uses_left", "state", "created_at", "withdrawn_at", "portal_code", "guardian_code", "withdrawn_by", "withdrawn_as")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_CODE_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_NAME_FIELD_NUMBER: _ClassVar[int]
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_IDS_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODES_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    USES_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    USES_LEFT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    PORTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_CODE_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_BY_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AS_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    holder_code: str
    grantee_code: str
    grantee_name: str
    matter_code: str
    license_ids: _containers.RepeatedScalarFieldContainer[str]
    type_codes: _containers.RepeatedScalarFieldContainer[str]
    valid_until: _timestamp_pb2.Timestamp
    uses_allowed: int
    uses_left: int
    state: ConsentState
    created_at: _timestamp_pb2.Timestamp
    withdrawn_at: _timestamp_pb2.Timestamp
    portal_code: str
    guardian_code: str
    withdrawn_by: str
    withdrawn_as: str
    def __init__(self, consent_id: _Optional[str] = ..., holder_code: _Optional[str] = ..., grantee_code: _Optional[str] = ..., grantee_name: _Optional[str] = ..., matter_code: _Optional[str] = ..., license_ids: _Optional[_Iterable[str]] = ..., type_codes: _Optional[_Iterable[str]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uses_allowed: _Optional[int] = ..., uses_left: _Optional[int] = ..., state: _Optional[_Union[ConsentState, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., portal_code: _Optional[str] = ..., guardian_code: _Optional[str] = ..., withdrawn_by: _Optional[str] = ..., withdrawn_as: _Optional[str] = ...) -> None: ...

class GrantConsentRequest(_message.Message):
    __slots__ = ("holder_code", "grantee_code", "matter_code", "license_ids", "type_codes", "valid_until", "uses", "client_request_id")
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    GRANTEE_CODE_FIELD_NUMBER: _ClassVar[int]
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_IDS_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODES_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    CLIENT_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    holder_code: str
    grantee_code: str
    matter_code: str
    license_ids: _containers.RepeatedScalarFieldContainer[str]
    type_codes: _containers.RepeatedScalarFieldContainer[str]
    valid_until: _timestamp_pb2.Timestamp
    uses: int
    client_request_id: str
    def __init__(self, holder_code: _Optional[str] = ..., grantee_code: _Optional[str] = ..., matter_code: _Optional[str] = ..., license_ids: _Optional[_Iterable[str]] = ..., type_codes: _Optional[_Iterable[str]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uses: _Optional[int] = ..., client_request_id: _Optional[str] = ...) -> None: ...

class GrantConsentResponse(_message.Message):
    __slots__ = ("consent", "code")
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    code: str
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ..., code: _Optional[str] = ...) -> None: ...

class WithdrawConsentRequest(_message.Message):
    __slots__ = ("consent_id", "holder_code")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    holder_code: str
    def __init__(self, consent_id: _Optional[str] = ..., holder_code: _Optional[str] = ...) -> None: ...

class WithdrawConsentResponse(_message.Message):
    __slots__ = ("consent",)
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    consent: Consent
    def __init__(self, consent: _Optional[_Union[Consent, _Mapping]] = ...) -> None: ...

class ListConsentsRequest(_message.Message):
    __slots__ = ("holder_code", "limit", "page_token")
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    holder_code: str
    limit: int
    page_token: str
    def __init__(self, holder_code: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConsentsResponse(_message.Message):
    __slots__ = ("consents", "next_page_token")
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    next_page_token: str
    def __init__(self, consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListConsentableLicensesRequest(_message.Message):
    __slots__ = ("holder_code", "child_code", "limit", "page_token")
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    CHILD_CODE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    holder_code: str
    child_code: str
    limit: int
    page_token: str
    def __init__(self, holder_code: _Optional[str] = ..., child_code: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ConsentableLicense(_message.Message):
    __slots__ = ("license_id", "type_code", "type_name", "issuer_code", "issuer_name", "license_number", "holder_code", "valid_from", "valid_until", "status", "matter_codes")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NAME_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MATTER_CODES_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    type_code: str
    type_name: str
    issuer_code: str
    issuer_name: str
    license_number: str
    holder_code: str
    valid_from: str
    valid_until: str
    status: _common_pb2.LicenseStatus
    matter_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., type_name: _Optional[str] = ..., issuer_code: _Optional[str] = ..., issuer_name: _Optional[str] = ..., license_number: _Optional[str] = ..., holder_code: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., matter_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListConsentableLicensesResponse(_message.Message):
    __slots__ = ("licenses", "next_page_token")
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    licenses: _containers.RepeatedCompositeFieldContainer[ConsentableLicense]
    next_page_token: str
    def __init__(self, licenses: _Optional[_Iterable[_Union[ConsentableLicense, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
