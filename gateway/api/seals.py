"""``zzgw.v1.SealService``: decode, call the seal service, encode."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from gateway.api.convert import timestamp
from gateway.api.errors import within_limit
from gateway.api.interceptors import caller
from gateway.domain.errors import UpstreamUnavailableError
from gateway.domain.model import Clock
from gateway.domain.seals import Seal, SealStatus
from gateway.services.seals import SealRequest, SealService
from protos.zzgw.v1 import seal_pb2, seal_pb2_grpc

_STATUS = {s: getattr(seal_pb2, f"SEAL_STATUS_{s.value}") for s in SealStatus}


class SealServicer(seal_pb2_grpc.SealServiceServicer):
    def __init__(
        self, service: SealService | None, clock: Clock, issuer_name: Callable[[str], str], *, max_message_bytes: int
    ):
        self._max_message_bytes = max_message_bytes
        self._service = service
        self._clock = clock
        self._issuer_name = issuer_name

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
        seal = self._seals().register(
            caller(),
            SealRequest(
                request_id=request.request_id,
                name=request.name.strip(),
                algorithm=request.algorithm,
                validity_days=request.validity_days,
            ),
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
        seal = self._seals().revoke(caller(), request.seal_id, reason=request.reason, crl_reason=request.crl_reason)
        return seal_pb2.RevokeSealResponse(seal=self._message(seal, image=False))

    def SealDocument(
        self, request: seal_pb2.SealDocumentRequest, context: grpc.ServicerContext
    ) -> seal_pb2.SealDocumentResponse:
        sealed = self._seals().seal_document(
            caller(), request.seal_id, request.pdf, reason=request.reason, page=request.page
        )
        return within_limit(seal_pb2.SealDocumentResponse(sealed_pdf=sealed), self._max_message_bytes)

    def StampDocument(
        self, request: seal_pb2.StampDocumentRequest, context: grpc.ServicerContext
    ) -> seal_pb2.StampDocumentResponse:
        return seal_pb2.StampDocumentResponse(stamp=self._seals().stamp(caller(), request.seal_id, request.document))

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
