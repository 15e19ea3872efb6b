import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.zzgw.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_RESULT_UNSPECIFIED: _ClassVar[CheckResult]
    CHECK_RESULT_PASSED: _ClassVar[CheckResult]
    CHECK_RESULT_FAILED: _ClassVar[CheckResult]
    CHECK_RESULT_INDETERMINATE: _ClassVar[CheckResult]

class ClaimResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLAIM_RESULT_UNSPECIFIED: _ClassVar[ClaimResult]
    CLAIM_RESULT_CORRECT_AND_VALID: _ClassVar[ClaimResult]
    CLAIM_RESULT_NOT_YET_VALID: _ClassVar[ClaimResult]
    CLAIM_RESULT_SUSPENDED: _ClassVar[ClaimResult]
    CLAIM_RESULT_NO_LONGER_VALID: _ClassVar[ClaimResult]
    CLAIM_RESULT_INCOMPLETE: _ClassVar[ClaimResult]
    CLAIM_RESULT_NOT_FOUND: _ClassVar[ClaimResult]
    CLAIM_RESULT_PARTLY_WRONG: _ClassVar[ClaimResult]
    CLAIM_RESULT_NOT_FILLED: _ClassVar[ClaimResult]
CHECK_RESULT_UNSPECIFIED: CheckResult
CHECK_RESULT_PASSED: CheckResult
CHECK_RESULT_FAILED: CheckResult
CHECK_RESULT_INDETERMINATE: CheckResult
CLAIM_RESULT_UNSPECIFIED: ClaimResult
CLAIM_RESULT_CORRECT_AND_VALID: ClaimResult
CLAIM_RESULT_NOT_YET_VALID: ClaimResult
CLAIM_RESULT_SUSPENDED: ClaimResult
CLAIM_RESULT_NO_LONGER_VALID: ClaimResult
CLAIM_RESULT_INCOMPLETE: ClaimResult
CLAIM_RESULT_NOT_FOUND: ClaimResult
CLAIM_RESULT_PARTLY_WRONG: ClaimResult
CLAIM_RESULT_NOT_FILLED: ClaimResult

class UseContext(_message.Message):
    __slots__ = ("matter_code", "purpose", "bundle_code", "case_id")
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_CODE_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    matter_code: str
    purpose: str
    bundle_code: str
    case_id: str
    def __init__(self, matter_code: _Optional[str] = ..., purpose: _Optional[str] = ..., bundle_code: _Optional[str] = ..., case_id: _Optional[str] = ...) -> None: ...

class VerifyLicenseRequest(_message.Message):
    __slots__ = ("use", "license_id", "type_code", "license_number", "qr_code")
    USE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    QR_CODE_FIELD_NUMBER: _ClassVar[int]
    use: UseContext
    license_id: str
    type_code: str
    license_number: str
    qr_code: str
    def __init__(self, use: _Optional[_Union[UseContext, _Mapping]] = ..., license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., license_number: _Optional[str] = ..., qr_code: _Optional[str] = ...) -> None: ...

class VerifyLicenseResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: VerificationReport
    def __init__(self, report: _Optional[_Union[VerificationReport, _Mapping]] = ...) -> None: ...

class VerifyDocumentRequest(_message.Message):
    __slots__ = ("use", "pdf")
    USE_FIELD_NUMBER: _ClassVar[int]
    PDF_FIELD_NUMBER: _ClassVar[int]
    use: UseContext
    pdf: bytes
    def __init__(self, use: _Optional[_Union[UseContext, _Mapping]] = ..., pdf: _Optional[bytes] = ...) -> None: ...

class VerifyDocumentResponse(_message.Message):
    __slots__ = ("report", "registered_document")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    report: VerificationReport
    registered_document: bool
    def __init__(self, report: _Optional[_Union[VerificationReport, _Mapping]] = ..., registered_document: _Optional[bool] = ...) -> None: ...

class VerifyStampRequest(_message.Message):
    __slots__ = ("use", "document", "stamp")
    USE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    STAMP_FIELD_NUMBER: _ClassVar[int]
    use: UseContext
    document: bytes
    stamp: bytes
    def __init__(self, use: _Optional[_Union[UseContext, _Mapping]] = ..., document: _Optional[bytes] = ..., stamp: _Optional[bytes] = ...) -> None: ...

class VerifyStampResponse(_message.Message):
    __slots__ = ("report", "es_id", "seal_name")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    ES_ID_FIELD_NUMBER: _ClassVar[int]
    SEAL_NAME_FIELD_NUMBER: _ClassVar[int]
    report: VerificationReport
    es_id: str
    seal_name: str
    def __init__(self, report: _Optional[_Union[VerificationReport, _Mapping]] = ..., es_id: _Optional[str] = ..., seal_name: _Optional[str] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("result", "reason", "detail")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    result: CheckResult
    reason: str
    detail: str
    def __init__(self, result: _Optional[_Union[CheckResult, str]] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class LicenseSummary(_message.Message):
    __slots__ = ("license_id", "type_code", "type_name", "issuer_code", "issuer_name", "valid_from", "valid_until", "status", "version", "status_since", "holder_name_masked", "holder_code_masked", "current_license_id", "current_status", "holder_in_full", "holder_code_type", "parties")
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODE_FIELD_NUMBER: _ClassVar[int]
    ISSUER_NAME_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_SINCE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_NAME_MASKED_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_MASKED_FIELD_NUMBER: _ClassVar[int]
    CURRENT_LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    HOLDER_IN_FULL_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    license_id: str
    type_code: str
    type_name: str
    issuer_code: str
    issuer_name: str
    valid_from: str
    valid_until: str
    status: _common_pb2.LicenseStatus
    version: int
    status_since: str
    holder_name_masked: str
    holder_code_masked: str
    current_license_id: str
    current_status: _common_pb2.LicenseStatus
    holder_in_full: bool
    holder_code_type: str
    parties: _containers.RepeatedCompositeFieldContainer[LicenseParty]
    def __init__(self, license_id: _Optional[str] = ..., type_code: _Optional[str] = ..., type_name: _Optional[str] = ..., issuer_code: _Optional[str] = ..., issuer_name: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_until: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., version: _Optional[int] = ..., status_since: _Optional[str] = ..., holder_name_masked: _Optional[str] = ..., holder_code_masked: _Optional[str] = ..., current_license_id: _Optional[str] = ..., current_status: _Optional[_Union[_common_pb2.LicenseStatus, str]] = ..., holder_in_full: _Optional[bool] = ..., holder_code_type: _Optional[str] = ..., parties: _Optional[_Iterable[_Union[LicenseParty, _Mapping]]] = ...) -> None: ...

class LicenseParty(_message.Message):
    __slots__ = ("label", "code_masked", "holder")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CODE_MASKED_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    label: str
    code_masked: str
    holder: bool
    def __init__(self, label: _Optional[str] = ..., code_masked: _Optional[str] = ..., holder: _Optional[bool] = ...) -> None: ...

class VerificationReport(_message.Message):
    __slots__ = ("verdict", "reason", "integrity", "status", "issuer_identity", "license", "checked_at", "receipt")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INTEGRITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    verdict: CheckResult
    reason: str
    integrity: Finding
    status: Finding
    issuer_identity: Finding
    license: LicenseSummary
    checked_at: _timestamp_pb2.Timestamp
    receipt: Receipt
    def __init__(self, verdict: _Optional[_Union[CheckResult, str]] = ..., reason: _Optional[str] = ..., integrity: _Optional[_Union[Finding, _Mapping]] = ..., status: _Optional[_Union[Finding, _Mapping]] = ..., issuer_identity: _Optional[_Union[Finding, _Mapping]] = ..., license: _Optional[_Union[LicenseSummary, _Mapping]] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receipt: _Optional[_Union[Receipt, _Mapping]] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("receipt_id", "statement", "signature", "algorithm", "certificate", "proof")
    RECEIPT_ID_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    receipt_id: str
    statement: bytes
    signature: bytes
    algorithm: str
    certificate: bytes
    proof: bytes
    def __init__(self, receipt_id: _Optional[str] = ..., statement: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., algorithm: _Optional[str] = ..., certificate: _Optional[bytes] = ..., proof: _Optional[bytes] = ...) -> None: ...

class CheckClaimRequest(_message.Message):
    __slots__ = ("use", "type_code", "holder_code", "license_number", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USE_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    use: UseContext
    type_code: str
    holder_code: str
    license_number: str
    fields: _containers.ScalarMap[str, str]
    def __init__(self, use: _Optional[_Union[UseContext, _Mapping]] = ..., type_code: _Optional[str] = ..., holder_code: _Optional[str] = ..., license_number: _Optional[str] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CheckClaimResponse(_message.Message):
    __slots__ = ("result", "code", "mismatched_fields", "status_reason", "checked_at", "receipt", "claim_key")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MISMATCHED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    CLAIM_KEY_FIELD_NUMBER: _ClassVar[int]
    result: ClaimResult
    code: int
    mismatched_fields: _containers.RepeatedScalarFieldContainer[str]
    status_reason: str
    checked_at: _timestamp_pb2.Timestamp
    receipt: Receipt
    claim_key: bytes
    def __init__(self, result: _Optional[_Union[ClaimResult, str]] = ..., code: _Optional[int] = ..., mismatched_fields: _Optional[_Iterable[str]] = ..., status_reason: _Optional[str] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receipt: _Optional[_Union[Receipt, _Mapping]] = ..., claim_key: _Optional[bytes] = ...) -> None: ...

class GetReceiptRequest(_message.Message):
    __slots__ = ("receipt_id",)
    RECEIPT_ID_FIELD_NUMBER: _ClassVar[int]
    receipt_id: str
    def __init__(self, receipt_id: _Optional[str] = ...) -> None: ...

class GetReceiptResponse(_message.Message):
    __slots__ = ("receipt",)
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt: Receipt
    def __init__(self, receipt: _Optional[_Union[Receipt, _Mapping]] = ...) -> None: ...

class ListCaseReceiptsRequest(_message.Message):
    __slots__ = ("use", "limit", "page_token")
    USE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    use: UseContext
    limit: int
    page_token: str
    def __init__(self, use: _Optional[_Union[UseContext, _Mapping]] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class CaseReceipt(_message.Message):
    __slots__ = ("receipt", "caller", "matter_code", "license_id", "created_at", "standing_now", "current_license_id")
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STANDING_NOW_FIELD_NUMBER: _ClassVar[int]
    CURRENT_LICENSE_ID_FIELD_NUMBER: _ClassVar[int]
    receipt: Receipt
    caller: str
    matter_code: str
    license_id: str
    created_at: _timestamp_pb2.Timestamp
    standing_now: Finding
    current_license_id: str
    def __init__(self, receipt: _Optional[_Union[Receipt, _Mapping]] = ..., caller: _Optional[str] = ..., matter_code: _Optional[str] = ..., license_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., standing_now: _Optional[_Union[Finding, _Mapping]] = ..., current_license_id: _Optional[str] = ...) -> None: ...

class ListCaseReceiptsResponse(_message.Message):
    __slots__ = ("receipts", "next_page_token")
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[CaseReceipt]
    next_page_token: str
    def __init__(self, receipts: _Optional[_Iterable[_Union[CaseReceipt, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
