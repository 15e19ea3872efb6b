"""``zzgw.v1.SealService``: decode, call the seal service, encode; and put each seal call on the audit trail.

A seal's registration, revocation and every use of it (``SealDocument``, ``StampDocument``) append one access record
(``SEAL_CALLS``): the department, its clerk (``x-zzgw-operator``), the seal, the SHA-256 of the document sent and of
what was returned (never the document), and the outcome, on the log of the seal's issuer. A call refused once it named
a seal that exists (another department's seal, a revoked one, a PDF that cannot be sealed, a time-stamping authority
down) is recorded too, ``REFUSED`` with the refusal's reason; one refused before (no such seal, a bad clerk's name) is
an error, not a use, and leaves none, as elsewhere. Nothing had been recorded: an issuer could not tell what its
seal had sealed, when, or for which clerk (用印登记; a reviewer, sealplace R2)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

import grpc

from gateway.api.convert import sent_time, timestamp
from gateway.api.errors import within_limit
from gateway.api.interceptors import caller, operator
from gateway.domain.audit import AuditAction, AuditEntry
from gateway.domain.errors import UpstreamUnavailableError, ZzgwError
from gateway.domain.model import Clock, Member
from gateway.domain.seals import Seal, SealStatus
from gateway.domain.verification import checked_operator
from gateway.services.audit import AuditTrail
from gateway.services.seals import SealRecord, SealRequest, SealService
from protos.zzgw.v1 import seal_pb2, seal_pb2_grpc

T = TypeVar("T")

_STATUS = {s: getattr(seal_pb2, f"SEAL_STATUS_{s.value}") for s in SealStatus}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SealServicer(seal_pb2_grpc.SealServiceServicer):
    def __init__(
        self,
        service: SealService | None,
        clock: Clock,
        issuer_name: Callable[[str], str],
        *,
        max_message_bytes: int,
        audit: AuditTrail | None = None,
    ):
        self._max_message_bytes = max_message_bytes
        self._service = service
        self._clock = clock
        self._issuer_name = issuer_name
        self._audit = audit

    def _trail(self) -> AuditTrail:
        """The audit trail the seal calls are recorded on: without one (no gateway key) they are refused before
        anything is done, as an issuer's reads are: no use of a seal goes unrecorded."""
        if self._audit is None:
            raise UpstreamUnavailableError(
                "没有网关密钥，用印记录无法写入：请网关运维运行 zzgw init"
                "（no gateway key for the audit trail, where every use of a seal is recorded: run `zzgw init`）",
                reason="NO_SEAL_CA",
            )
        return self._audit

    def _entry(
        self,
        member: Member,
        clerk: str,
        action: AuditAction,
        seal_id: str,
        issuer_code: str,
        decision: str,
        *,
        reason: str = "",
        document: bytes | None = None,
        result: bytes | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            at=self._clock.now(),
            caller=member.code,
            operator=clerk,
            action=action,
            matter_code="",
            purpose="",
            issuer_code=issuer_code,
            decision=decision,
            reason=reason[:64],
            seal_id=seal_id,
            document_sha256=_digest(document) if document is not None else "",
            result_sha256=_digest(result) if result is not None else "",
        )

    def _in_work(self, member: Member, clerk: str, action: AuditAction) -> SealRecord:
        """The record of a registration or revocation by ``member``'s ``clerk``, appended in its own transaction
        (``SealRecord``): on the log of the caller, whose seal it is."""
        return SealRecord(
            audit=self._trail(),
            entry=lambda seal_id, decision, reason: self._entry(
                member, clerk, action, seal_id, member.code, decision, reason=reason
            ),
        )

    def _use(
        self,
        context: grpc.ServicerContext,
        action: AuditAction,
        seal_id: str,
        decision: str,
        document: bytes,
        call: Callable[[Member], T],
        result: Callable[[T], bytes],
    ) -> T:
        """``call`` (by the caller) on the seal ``seal_id`` over ``document``, recorded answered (``decision``, the
        digests of ``document`` and of ``result`` of the answer) or refused (``REFUSED``, the document's digest):
        the record is written before the answer is sent, and a record that cannot be written fails the call."""
        member = caller()
        clerk = checked_operator(operator(context))  # before anything is done: it goes into the audit trail
        service = self._seals()
        self._trail()
        try:
            answer = call(member)
        except ZzgwError as exc:
            if (owner := service.owner_of(seal_id)) is not None:
                self._trail().record(
                    self._entry(member, clerk, action, seal_id, owner, "REFUSED", reason=exc.reason, document=document)
                )
            raise
        self._trail().record(
            self._entry(member, clerk, action, seal_id, member.code, decision, document=document, result=result(answer))
        )
        return answer

    def _seals(self) -> SealService:
        if self._service is None:
            raise UpstreamUnavailableError(
                "本网关尚未建立制章者CA，请网关运维运行 zzgw init（no seal-maker CA: run `zzgw init`）",
                reason="NO_SEAL_CA",
            )
        return self._service

    def RegisterSeal(
        self, request: seal_pb2.RegisterSealRequest, context: grpc.ServicerContext
    ) -> seal_pb2.RegisterSealResponse:
        member = caller()
        clerk = checked_operator(operator(context))
        seal = self._seals().register(
            member,
            SealRequest(
                request_id=request.request_id,
                name=request.name.strip(),
                algorithm=request.algorithm,
                validity_days=request.validity_days,
            ),
            record=self._in_work(member, clerk, AuditAction.REGISTER_SEAL),
        )
        return seal_pb2.RegisterSealResponse(seal=self._message(seal, image=True))

    def ListSeals(
        self, request: seal_pb2.ListSealsRequest, context: grpc.ServicerContext
    ) -> seal_pb2.ListSealsResponse:
        """Every seal with its certificate (~800 bytes each), in one reply: one past the message limit (thousands of
        seals across rotations, never deleted, for an admin) is REPLY_TOO_LARGE, not gRPC's bare RESOURCE_EXHAUSTED
        with the call logged OK (a reviewer)."""
        listed = seal_pb2.ListSealsResponse(seals=[self._message(s, image=False) for s in self._seals().list(caller())])
        return within_limit(listed, self._max_message_bytes)

    def GetSeal(self, request: seal_pb2.GetSealRequest, context: grpc.ServicerContext) -> seal_pb2.GetSealResponse:
        return seal_pb2.GetSealResponse(seal=self._message(self._seals().get(request.seal_id), image=True))

    def RevokeSeal(
        self, request: seal_pb2.RevokeSealRequest, context: grpc.ServicerContext
    ) -> seal_pb2.RevokeSealResponse:
        member = caller()
        clerk = checked_operator(operator(context))
        service = self._seals()
        record = self._in_work(member, clerk, AuditAction.REVOKE_SEAL)
        try:
            seal = service.revoke(
                member,
                request.seal_id,
                reason=request.reason,
                crl_reason=request.crl_reason,
                compromised_since=sent_time(request, "compromised_since"),
                record=record,
            )
        except ZzgwError as exc:
            if (owner := service.owner_of(request.seal_id)) is not None:
                self._trail().record(
                    self._entry(
                        member, clerk, AuditAction.REVOKE_SEAL, request.seal_id, owner, "REFUSED", reason=exc.reason
                    )
                )
            raise
        return seal_pb2.RevokeSealResponse(seal=self._message(seal, image=False))

    def SealDocument(
        self, request: seal_pb2.SealDocumentRequest, context: grpc.ServicerContext
    ) -> seal_pb2.SealDocumentResponse:
        def seal(member: Member) -> seal_pb2.SealDocumentResponse:
            sealed = self._seals().seal_document(
                member, request.seal_id, request.pdf, reason=request.reason, page=request.page
            )
            return within_limit(seal_pb2.SealDocumentResponse(sealed_pdf=sealed), self._max_message_bytes)

        return self._use(
            context,
            AuditAction.SEAL_DOCUMENT,
            request.seal_id,
            "SEALED",
            request.pdf,
            seal,
            lambda answer: answer.sealed_pdf,
        )

    def StampDocument(
        self, request: seal_pb2.StampDocumentRequest, context: grpc.ServicerContext
    ) -> seal_pb2.StampDocumentResponse:
        return self._use(
            context,
            AuditAction.STAMP_DOCUMENT,
            request.seal_id,
            "STAMPED",
            request.document,
            lambda member: seal_pb2.StampDocumentResponse(
                stamp=self._seals().stamp(member, request.seal_id, request.document)
            ),
            lambda answer: answer.stamp,
        )

    def _message(self, seal: Seal, *, image: bool) -> seal_pb2.Seal:
        message = seal_pb2.Seal(
            seal_id=seal.seal_id,
            issuer_code=seal.issuer_code,
            issuer_name=self._issuer_name(seal.issuer_code),
            name=seal.name,
            algorithm=seal.algorithm,
            key_id=seal.key_id,
            certificate_der=seal.certificate_der,
            image_png=seal.image_png if image else b"",
            ses_seal=(seal.ses_seal or b"") if image else b"",
            status=_STATUS[seal.effective_status(self._clock.now())],
            valid_from=timestamp(seal.valid_from),
            valid_until=timestamp(seal.valid_until),
            revocation_reason=seal.revocation_reason,
        )
        if seal.revoked_at is not None:
            message.revoked_at.CopyFrom(timestamp(seal.revoked_at))
        return message
