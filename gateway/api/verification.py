"""``zzgw.v1.VerificationService``: decode, call the verification service, encode."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from gateway.api.convert import timestamp
from gateway.api.interceptors import caller, operator
from gateway.domain.catalog import Catalog
from gateway.domain.errors import UpstreamUnavailableError
from gateway.domain.model import LicenseStatus
from gateway.domain.verification import ClaimResult, UseContext, check_use
from gateway.services.verification import Report, VerificationService
from gateway.store.repositories import StoredReceipt
from protos.zzgw.v1 import common_pb2, verification_pb2, verification_pb2_grpc
from signing.results import CheckResult, Finding

_RESULTS = {r: getattr(verification_pb2, f"CHECK_RESULT_{r.value}") for r in CheckResult}
_CLAIMS = {r: getattr(verification_pb2, f"CLAIM_RESULT_{r.name}") for r in ClaimResult}
_STATUS = {s: getattr(common_pb2, f"LICENSE_STATUS_{s.value}") for s in LicenseStatus}


class VerificationServicer(verification_pb2_grpc.VerificationServiceServicer):
    def __init__(
        self,
        service: VerificationService | None,
        catalog: Catalog,
        issuer_name: Callable[[str], str],
    ):
        self._service = service
        self._catalog = catalog
        self._issuer_name = issuer_name

    def _verification(self) -> VerificationService:
        if self._service is None:
            raise UpstreamUnavailableError("no seal-maker CA or receipt key: run `zzgw init`", reason="NO_SEAL_CA")
        return self._service

    def _use(self, use: verification_pb2.UseContext, context: grpc.ServicerContext) -> UseContext:
        return check_use(
            use.matter_code,
            use.purpose,
            self._catalog,
            operator=operator(context),
            bundle_code=use.bundle_code,
            case_id=use.case_id,
        )

    def VerifyLicense(
        self, request: verification_pb2.VerifyLicenseRequest, context: grpc.ServicerContext
    ) -> verification_pb2.VerifyLicenseResponse:
        service = self._verification()
        report = service.verify_license(
            caller(),
            self._use(request.use, context),
            license_id=request.license_id,
            type_code=request.type_code,
            license_number=request.license_number,
            qr_code=request.qr_code,
        )
        return verification_pb2.VerifyLicenseResponse(report=self._report(report))

    def VerifyDocument(
        self, request: verification_pb2.VerifyDocumentRequest, context: grpc.ServicerContext
    ) -> verification_pb2.VerifyDocumentResponse:
        service = self._verification()
        report, registered = service.verify_document(caller(), self._use(request.use, context), request.pdf)
        return verification_pb2.VerifyDocumentResponse(report=self._report(report), registered_document=registered)

    def VerifyStamp(
        self, request: verification_pb2.VerifyStampRequest, context: grpc.ServicerContext
    ) -> verification_pb2.VerifyStampResponse:
        service = self._verification()
        report, checked = service.verify_stamp(
            caller(), self._use(request.use, context), request.document, request.stamp
        )
        return verification_pb2.VerifyStampResponse(
            report=self._report(report), es_id=checked.es_id or "", seal_name=checked.seal_name or ""
        )

    def CheckClaim(
        self, request: verification_pb2.CheckClaimRequest, context: grpc.ServicerContext
    ) -> verification_pb2.CheckClaimResponse:
        service = self._verification()
        checked = service.check_claim(
            caller(),
            self._use(request.use, context),
            type_code=request.type_code,
            holder_code=request.holder_code,
            license_number=request.license_number,
            fields=dict(request.fields),
        )
        answer = checked.answer
        return verification_pb2.CheckClaimResponse(
            result=_CLAIMS[answer.result],
            code=answer.result.value,
            mismatched_fields=list(answer.mismatched_fields),
            status_reason=answer.status_reason,
            checked_at=timestamp(checked.checked_at),
            receipt=self._receipt(checked.receipt),
        )

    def GetReceipt(
        self, request: verification_pb2.GetReceiptRequest, context: grpc.ServicerContext
    ) -> verification_pb2.GetReceiptResponse:
        return verification_pb2.GetReceiptResponse(
            receipt=self._receipt(self._verification().receipt(caller(), request.receipt_id))
        )

    def ListCaseReceipts(
        self, request: verification_pb2.ListCaseReceiptsRequest, context: grpc.ServicerContext
    ) -> verification_pb2.ListCaseReceiptsResponse:
        receipts = self._verification().case_receipts(caller(), self._use(request.use, context))
        return verification_pb2.ListCaseReceiptsResponse(
            receipts=[
                verification_pb2.CaseReceipt(
                    receipt=self._receipt(r),
                    caller=r.caller,
                    matter_code=r.matter_code,
                    license_id=r.license_id,
                    created_at=timestamp(r.created_at),
                )
                for r in receipts
            ]
        )

    def _report(self, report: Report) -> verification_pb2.VerificationReport:
        return verification_pb2.VerificationReport(
            verdict=_RESULTS[report.verdict],
            reason=report.reason or "",
            integrity=_finding(report.integrity),
            status=_finding(report.status),
            issuer_identity=_finding(report.issuer_identity),
            license=self._summary(report) if report.license is not None else None,
            checked_at=timestamp(report.checked_at),
            receipt=self._receipt(report.receipt),
        )

    def _summary(self, report: Report) -> verification_pb2.LicenseSummary:
        license, status = report.license, report.license_status
        assert license is not None and status is not None  # a report with a license has its status
        content = license.content
        license_type = self._catalog.license_types.get(content.type_code)
        return verification_pb2.LicenseSummary(
            license_id=license.license_id,
            type_code=content.type_code,
            type_name=license_type.name if license_type else "",
            issuer_code=content.issuer_code,
            issuer_name=self._issuer_name(content.issuer_code),
            valid_from=content.valid_from.isoformat(),
            valid_until=content.valid_until.isoformat() if content.valid_until else "",
            status=_STATUS[status],
            version=content.version,
        )

    def _receipt(self, receipt: StoredReceipt) -> verification_pb2.Receipt:
        return verification_pb2.Receipt(
            receipt_id=receipt.receipt_id,
            statement=receipt.statement,
            signature=receipt.signature,
            proof=receipt.proof,
            algorithm=receipt.algorithm,
            certificate=self._verification().receipt_certificate_der,
        )


def _finding(finding: Finding) -> verification_pb2.Finding:
    return verification_pb2.Finding(result=_RESULTS[finding.result], reason=finding.reason or "", detail=finding.detail)
