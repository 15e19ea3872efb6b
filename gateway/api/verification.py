"""``zzgw.v1.VerificationService``: decode, call the verification service, encode.

A report's encoding is made in two parts: what the service found (verdict, findings, license summary: the
service's ``Outcome``), and when and under which receipt. ``VerifyLicense`` by identifier answers every check of a
license on one day with the same outcome object, so its encoding is kept with it (``Outcome.encodings``) and merged
into each reply, which then only gets its time and receipt: building the whole reply from Python objects on every
call cost several times as much in the server as it does alone (benchmarks.verify; ADR 0005).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from gateway.api import convert
from gateway.api.convert import set_timestamp, timestamp
from gateway.api.errors import within_limit
from gateway.api.interceptors import caller, operator
from gateway.domain.audit import AuditAction
from gateway.domain.catalog import Catalog
from gateway.domain.errors import UpstreamUnavailableError
from gateway.domain.identifiers import LicenseId
from gateway.domain.model import LicenseStatus, Member
from gateway.domain.sharing import shown_holder_code
from gateway.domain.verification import ClaimResult, UseContext, check_use, parties_of
from gateway.services.audit import UseTarget
from gateway.services.verification import Outcome, Report, VerificationService
from gateway.store.repositories import StoredReceipt
from protos.zzgw.v1 import common_pb2, verification_pb2, verification_pb2_grpc

_CLAIMS = {r: getattr(verification_pb2, f"CLAIM_RESULT_{r.name}") for r in ClaimResult}
_STATUS = {s: getattr(common_pb2, f"LICENSE_STATUS_{s.value}") for s in LicenseStatus}
_REPLY_PART = "reply"
USE_CACHE_SIZE = 10_000
PAGE_MARGIN = 1024
"""Bytes of the message limit a ``ListCaseReceipts`` page leaves for the rest of its reply (the next page's token)."""


def withhold_holder(summary: verification_pb2.LicenseSummary) -> None:
    """``summary`` without its holder (name, code, whether whole, code type) and the persons it names (``parties``),
    for an administrator (``Member.administrator_only``), which "verifies to check the gateway and reads no data"
    (docs/api.md, Matters) and is given no holder on a receipt's look-up or a case's list: its verifications gave a
    person's masked name and code, a 结婚证's spouses and a company's whole (a reviewer of the clerk, R3). Cleared
    on the reply alone: the encoding kept with the day's outcome is every caller's (``_REPLY_PART``)."""
    for name in ("holder_name_masked", "holder_code_masked", "holder_in_full", "holder_code_type", "parties"):
        summary.ClearField(name)


def _varint_length(n: int) -> int:
    """The bytes of ``n`` as a protobuf varint (a length's)."""
    return max(1, (n.bit_length() + 6) // 7)


class VerificationServicer(verification_pb2_grpc.VerificationServiceServicer):
    def __init__(
        self,
        service: VerificationService | None,
        catalog: Catalog,
        issuer_name: Callable[[str], str],
        *,
        max_message_bytes: int,
    ):
        self._max_message_bytes = max_message_bytes
        self._service = service
        self._catalog = catalog
        self._issuer_name = issuer_name
        self._uses: dict[tuple[Member, str, str, str, str, str], UseContext] = {}
        """Use contexts already checked (the catalog they were checked against is this servicer's for its life)."""

    def _verification(self) -> VerificationService:
        if self._service is None:
            raise UpstreamUnavailableError(
                "网关没有制章者CA或回执密钥，请先运行 `zzgw init`（no seal-maker CA or receipt key: run `zzgw init`）",
                reason="NO_SEAL_CA",
            )
        return self._service

    def _use(
        self,
        use: verification_pb2.UseContext,
        context: grpc.ServicerContext,
        action: AuditAction,
        request: Message | None = None,
    ) -> UseContext:
        """The request's use context, checked (a department sends the same few again and again: each is checked
        once, then found; a bad one is checked, and refused, every time). A matter another department handles is
        refused on the audit trail as the call ``action``, with the license or holder ``request`` named (read only
        then: nothing is made of it on the way of a call that is answered)."""
        member = caller()
        # the caller as it is now, all of it: a member `zzgw init` renamed (matters name departments by name), gave
        # another role (an administrator names any matter only while ADMIN is its only role) or moved to another
        # region (a partner names its region's) is checked again. Keyed by its code and name alone, a use checked
        # before stayed allowed (a reviewer, R2).
        key = (member, use.matter_code, use.purpose, operator(context), use.bundle_code, use.case_id)
        checked = self._uses.get(key)
        if checked is None:
            checked = check_use(
                use.matter_code,
                use.purpose,
                self._catalog,
                caller=member,
                operator=key[3],
                bundle_code=use.bundle_code,
                case_id=use.case_id,
                on_refusal=lambda refused: self._verification().refuse_use(
                    member, refused, action, _target_of(request) if request is not None else None
                ),
            )
            if len(self._uses) >= USE_CACHE_SIZE:
                self._uses.clear()
            self._uses[key] = checked
        return checked

    def VerifyLicense(
        self, request: verification_pb2.VerifyLicenseRequest, context: grpc.ServicerContext
    ) -> verification_pb2.VerifyLicenseResponse:
        service = self._verification()
        report = service.verify_license(
            caller(),
            self._use(request.use, context, AuditAction.VERIFY_LICENSE, request),
            license_id=request.license_id,
            type_code=request.type_code,
            license_number=request.license_number,
            qr_code=request.qr_code,
        )
        response = verification_pb2.VerifyLicenseResponse()
        self._fill_report(response.report, report)
        return response

    def VerifyDocument(
        self, request: verification_pb2.VerifyDocumentRequest, context: grpc.ServicerContext
    ) -> verification_pb2.VerifyDocumentResponse:
        service = self._verification()
        report, registered = service.verify_document(
            caller(), self._use(request.use, context, AuditAction.VERIFY_DOCUMENT), request.pdf
        )
        response = verification_pb2.VerifyDocumentResponse(registered_document=registered)
        self._fill_report(response.report, report)
        return response

    def VerifyStamp(
        self, request: verification_pb2.VerifyStampRequest, context: grpc.ServicerContext
    ) -> verification_pb2.VerifyStampResponse:
        service = self._verification()
        report, checked = service.verify_stamp(
            caller(), self._use(request.use, context, AuditAction.VERIFY_STAMP), request.document, request.stamp
        )
        response = verification_pb2.VerifyStampResponse(es_id=checked.es_id or "", seal_name=checked.seal_name or "")
        self._fill_report(response.report, report)
        return response

    def CheckClaim(
        self, request: verification_pb2.CheckClaimRequest, context: grpc.ServicerContext
    ) -> verification_pb2.CheckClaimResponse:
        service = self._verification()
        checked = service.check_claim(
            caller(),
            self._use(request.use, context, AuditAction.CHECK_CLAIM, request),
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
            claim_key=checked.claim_key,
        )

    def GetReceipt(
        self, request: verification_pb2.GetReceiptRequest, context: grpc.ServicerContext
    ) -> verification_pb2.GetReceiptResponse:
        return verification_pb2.GetReceiptResponse(
            receipt=self._receipt(
                self._verification().receipt(caller(), request.receipt_id, operator=operator(context)), stored=True
            )
        )

    def ListCaseReceipts(
        self, request: verification_pb2.ListCaseReceiptsRequest, context: grpc.ServicerContext
    ) -> verification_pb2.ListCaseReceiptsResponse:
        service = self._verification()
        entries: dict[str, verification_pb2.CaseReceipt] = {}

        def encoded(r: StoredReceipt) -> int:
            """The bytes ``r``'s entry takes in the reply (its field's tag and length too): the service ends the page
            before the message limit, so what it puts on the audit trail is what is sent."""
            entries[r.receipt_id] = entry = self._case_receipt(service, r)
            size = entry.ByteSize()
            return 1 + _varint_length(size) + size

        receipts, next_page = service.case_receipts(
            caller(),
            self._use(request.use, context, AuditAction.LIST_CASE_RECEIPTS),
            limit=request.limit,
            page_token=request.page_token,
            size_of=encoded,
            max_bytes=self._max_message_bytes - PAGE_MARGIN,
        )
        response = verification_pb2.ListCaseReceiptsResponse(
            receipts=[entries[r.receipt_id] for r in receipts], next_page_token=next_page
        )
        return within_limit(response, self._max_message_bytes)

    def _case_receipt(self, service: VerificationService, r: StoredReceipt) -> verification_pb2.CaseReceipt:
        """A case's receipt as listed, with its license's standing now."""
        listed = verification_pb2.CaseReceipt(
            receipt=self._receipt(r, stored=True),
            caller=r.caller,
            matter_code=r.matter_code,
            license_id=r.license_id,
            created_at=timestamp(r.created_at),
        )
        if r.license_id:
            now = service.standing_now([(r.license_id, r.created_at, r.statement)])[r.license_id, r.created_at]
            listed.standing_now.result = convert.RESULTS[now.result]
            listed.standing_now.reason = now.reason
            listed.standing_now.detail = now.detail
            listed.current_license_id = now.current_license_id
        return listed

    def _fill_report(self, message: verification_pb2.VerificationReport, report: Report) -> None:
        """Encode ``report`` into the empty ``message``: the outcome's part (kept with a kept outcome), the time, the
        receipt."""
        outcome = report.outcome
        issuer_name = self._issuer_name(_issuer_of(outcome)) if outcome.license is not None else ""
        known = outcome.encodings.get(_REPLY_PART) if outcome.kept else None
        if isinstance(known, tuple) and known[0] == issuer_name:  # kept with the issuer's name: a rename shows
            message.MergeFromString(known[1])
        else:
            self._fill_outcome(message, outcome, issuer_name)
            if outcome.kept:
                outcome.encodings[_REPLY_PART] = (issuer_name, message.SerializeToString())
        set_timestamp(message.checked_at, report.checked_at)
        self._fill_receipt(message.receipt, report.receipt, self._verification().receipt_certificate_der)
        if caller().administrator_only and message.HasField("license"):
            withhold_holder(message.license)

    def _fill_outcome(self, message: verification_pb2.VerificationReport, outcome: Outcome, issuer_name: str) -> None:
        message.verdict = convert.RESULTS[outcome.verdict]
        message.reason = outcome.reason or ""
        convert.fill_finding(message.integrity, outcome.integrity)
        convert.fill_finding(message.status, outcome.status)
        convert.fill_finding(message.issuer_identity, outcome.issuer_identity)
        if outcome.license is not None:
            message.license.CopyFrom(self._summary(outcome, issuer_name))

    def _summary(self, outcome: Outcome, issuer_name: str) -> verification_pb2.LicenseSummary:
        license, status = outcome.license, outcome.license_status
        assert license is not None  # status None: the stored one is not the gateway's (STATUS_ALTERED), unknown
        stated: dict[str, Any] = {}
        if outcome.record_vouched:
            content = license.content
            type_code, issuer_code, version = content.type_code, content.issuer_code, content.version
            held = self._catalog.license_types.get(content.type_code)
            stated = {
                "valid_from": content.valid_from.isoformat(),
                "valid_until": content.valid_until.isoformat() if content.valid_until else "",
                "status": _STATUS[status] if status is not None else common_pb2.LICENSE_STATUS_UNSPECIFIED,
                "status_since": outcome.status_since.isoformat() if outcome.status_since else "",
                "holder_name_masked": content.holder.shown_name,  # an organisation's whole: public registration
                # hidden whole beside a valid_from that is the birth date (a 出生医学证明's), as GetLicenseData
                "holder_code_masked": shown_holder_code(content.holder, held),
                "holder_in_full": content.holder.publicly_registered,
                "holder_code_type": content.holder.code_type,
            }
            if parties := parties_of(content, held):
                stated["parties"] = [
                    verification_pb2.LicenseParty(label=p.label, code_masked=p.code_masked, holder=p.holder)
                    for p in parties
                ]
            if (current := outcome.current) is not None:  # a superseded version: the version in force, and how
                stated["current_license_id"] = current.license_id
                if current.status is not None:
                    stated["current_status"] = _STATUS[current.status]
        else:  # a record whose seal fails: what its identifier says, nothing of the edit's
            named = LicenseId.parse(license.license_id)
            type_code, issuer_code, version = named.type_code, named.issuer_code, named.version
        license_type = self._catalog.license_types.get(type_code)
        return verification_pb2.LicenseSummary(
            license_id=license.license_id,
            type_code=type_code,
            type_name=license_type.name if license_type else "",
            issuer_code=issuer_code,
            issuer_name=issuer_name,
            version=version,
            **stated,
        )

    def _fill_receipt(self, message: verification_pb2.Receipt, receipt: StoredReceipt, certificate: bytes) -> None:
        message.receipt_id = receipt.receipt_id
        message.statement = receipt.statement
        message.signature = receipt.signature
        message.proof = receipt.proof
        message.algorithm = receipt.algorithm
        message.certificate = certificate

    def _receipt(self, receipt: StoredReceipt, *, stored: bool = False) -> verification_pb2.Receipt:
        """A receipt just made (signed with the current certificate), or a ``stored`` one, with the certificate
        that signed it."""
        service = self._verification()
        message = verification_pb2.Receipt()
        certificate = service.signer_certificate_der(receipt) if stored else service.receipt_certificate_der
        self._fill_receipt(message, receipt, certificate)
        return message


def _target_of(request: Message) -> UseTarget:
    """The license or holder a refused ``VerifyLicense`` or ``CheckClaim`` named, for its access record."""
    return UseTarget(
        **{
            field: getattr(request, field, "")
            for field in ("license_id", "type_code", "license_number", "holder_code", "qr_code")
        }
    )


def _issuer_of(outcome: Outcome) -> str:
    """The issuer the report names: the record's, or for a record whose seal fails the one its identifier names."""
    assert outcome.license is not None
    if outcome.record_vouched:
        return outcome.license.content.issuer_code
    return LicenseId.parse(outcome.license.license_id).issuer_code
