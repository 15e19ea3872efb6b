"""``zzgw.v1.SharingService``: decode, call the sharing service, encode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from gateway.api.convert import NameOf, timestamp
from gateway.api.errors import within_limit
from gateway.api.interceptors import caller, operator
from gateway.domain.audit import AuditAction
from gateway.domain.catalog import Catalog
from gateway.domain.errors import UpstreamUnavailableError
from gateway.domain.model import LicenseStatus
from gateway.domain.sharing import AccessState, Basis
from gateway.domain.verification import MatterNotHandledError, UseContext, check_use
from gateway.services import calls
from gateway.services.audit import UseTarget
from gateway.services.sharing import NOT_STATED, CurrentVersion, HolderEntry, HolderListing, SharingService
from protos.zzgw.v1 import common_pb2, sharing_pb2, sharing_pb2_grpc, verification_pb2

_STATUS = {s: getattr(common_pb2, f"LICENSE_STATUS_{s.value}") for s in LicenseStatus}
_ACCESS = {s: getattr(sharing_pb2, f"ACCESS_STATE_{s.value}") for s in AccessState}
_BASIS = {
    Basis.UNCONDITIONAL: sharing_pb2.SHARING_BASIS_UNCONDITIONAL,
    Basis.CONDITIONAL_APPROVAL: sharing_pb2.SHARING_BASIS_APPROVAL,
    Basis.CONDITIONAL_CONSENT: sharing_pb2.SHARING_BASIS_CONSENT,
}


def use_context(
    use: verification_pb2.UseContext,
    catalog: Catalog,
    context: grpc.ServicerContext,
    *,
    on_refusal: Callable[[MatterNotHandledError], None],
) -> UseContext:
    """A sharing or authorisation request's use context, checked whole by the rules verification checks it by
    (``check_use``): matter, purpose, operator, and a 一件事 bundle with its case. Checked without the bundle and the
    case, a matter outside its bundle, an unknown bundle or a malformed case was taken and dropped here while
    VerifyLicense refused it."""
    return check_use(
        use.matter_code,
        use.purpose,
        catalog,
        caller=caller(),
        operator=operator(context),
        bundle_code=use.bundle_code,
        case_id=use.case_id,
        on_refusal=on_refusal,
    )


class SharingServicer(sharing_pb2_grpc.SharingServiceServicer):
    def __init__(
        self, service: SharingService | None, catalog: Catalog, member_name: NameOf, *, max_message_bytes: int
    ):
        self._max_message_bytes = max_message_bytes
        self._service = service
        self._catalog = catalog
        self._member_name = member_name

    def _sharing(self) -> SharingService:
        if self._service is None:
            raise UpstreamUnavailableError(
                "没有网关密钥，用证记录无法写入：请网关运维运行 zzgw init（no gateway key for the audit trail: run "
                "`zzgw init`）",
                reason="NO_SEAL_CA",
            )
        return self._service

    def _use(
        self,
        use: verification_pb2.UseContext,
        context: grpc.ServicerContext,
        action: AuditAction,
        target: UseTarget,
    ) -> UseContext:
        """The request's use context; a matter another department handles is refused on the audit trail, with the
        license or holder the request named (``target``)."""
        member = caller()
        return use_context(
            use,
            self._catalog,
            context,
            on_refusal=lambda refused: self._sharing().refuse_use(member, refused, action, target),
        )

    def ListHolderLicenses(
        self, request: sharing_pb2.ListHolderLicensesRequest, context: grpc.ServicerContext
    ) -> sharing_pb2.ListHolderLicensesResponse:
        service = self._sharing()
        entries: dict[str, sharing_pb2.HolderLicense] = {}

        def reply(listing: HolderListing) -> sharing_pb2.ListHolderLicensesResponse:
            """``listing`` as the reply gives it, each license's entry encoded once: the service measures its
            pages with it, ending one before the message limit and refusing a listing of every license past it
            before anything is on the audit trail as listed (a reviewer)."""
            for e in listing.entries:
                if e.license.license_id not in entries:
                    entries[e.license.license_id] = self._entry(e)
            return sharing_pb2.ListHolderLicensesResponse(
                licenses=[entries[e.license.license_id] for e in listing.entries],
                missing=[
                    sharing_pb2.MissingMaterial(
                        type_code=m.type_code, type_name=self._type_name(m.type_code), required=m.required
                    )
                    for m in listing.missing
                ],
                held_by_others=[
                    sharing_pb2.MissingMaterial(
                        type_code=o.material.type_code,
                        type_name=self._type_name(o.material.type_code),
                        required=o.material.required,
                        detail=o.detail,
                    )
                    for o in listing.held_by_others
                ],
                next_page_token=listing.next_page_token,
            )

        listing = service.list_holder_licenses(
            caller(),
            self._use(
                request.use,
                context,
                AuditAction.LIST_HOLDER_LICENSES,
                UseTarget(holder_code=request.holder_code, holder_code_type=request.holder_code_type),
            ),
            holder_code_type=request.holder_code_type,
            holder_code=request.holder_code,
            consent_code=request.consent_code,
            limit=request.limit,
            page_token=request.page_token,
            reply_size=lambda listing: reply(listing).ByteSize(),
            max_bytes=self._max_message_bytes,
        )
        return within_limit(reply(listing), self._max_message_bytes)

    def GetLicenseData(
        self, request: sharing_pb2.GetLicenseDataRequest, context: grpc.ServicerContext
    ) -> sharing_pb2.GetLicenseDataResponse:
        service = self._sharing()
        with calls.deadline(context.time_remaining()):  # a consent is spent only for a caller still waiting
            data = service.license_data(
                caller(),
                self._use(request.use, context, AuditAction.GET_LICENSE_DATA, UseTarget(license_id=request.license_id)),
                request.license_id,
                consent_code=request.consent_code,
            )
        content, permit = data.license.content, data.permit
        return sharing_pb2.GetLicenseDataResponse(
            license_id=content.license_id,
            type_code=content.type_code,
            type_name=self._type_name(content.type_code),
            issuer_code=content.issuer_code,
            issuer_name=self._member_name(content.issuer_code),
            status=_STATUS[data.status],
            valid_from=content.valid_from.isoformat(),
            valid_until=content.valid_until.isoformat() if content.valid_until else "",
            holder_code_type=content.holder.code_type,
            holder_code=permit.holder_code,
            # a field the license leaves blank is not stated, as PrefillForm says it (EMPTY), not shared empty
            fields=[
                sharing_pb2.SharedField(key=f.key, label=f.label, value=f.value, masked=f.masked, basis=_BASIS[f.basis])
                for f in permit.fields
                if f.value
            ],
            withheld=[
                *(
                    sharing_pb2.WithheldField(key=w.key, label=w.label, reason=w.reason.value, detail=w.detail)
                    for w in permit.withheld
                ),
                *(
                    sharing_pb2.WithheldField(key=f.key, label=f.label, reason="EMPTY", detail=NOT_STATED)
                    for f in permit.fields
                    if not f.value
                ),
            ],
            remedy=permit.remedy,
            approval_ids=list(permit.approval_ids),
            consent_id=permit.consent_id,
            consent_uses_left=data.consent_uses_left or 0,
            used_at=timestamp(data.used_at),
            **_current(data.current),
        )

    def GetLicenseDocument(
        self, request: sharing_pb2.SharingServiceGetLicenseDocumentRequest, context: grpc.ServicerContext
    ) -> sharing_pb2.SharingServiceGetLicenseDocumentResponse:
        service = self._sharing()
        with calls.deadline(context.time_remaining()):  # a consent is spent only for a caller still waiting
            copy = service.license_document(
                caller(),
                self._use(
                    request.use, context, AuditAction.GET_LICENSE_DOCUMENT, UseTarget(license_id=request.license_id)
                ),
                request.license_id,
                consent_code=request.consent_code,
            )
        reply = sharing_pb2.SharingServiceGetLicenseDocumentResponse(
            pdf=copy.pdf,
            sha256=copy.sha256,
            original_sha256=copy.original_sha256,
            use_stamp_field=copy.stamp_field,
            use_text=copy.use_text,
            consent_id=copy.consent_id,
            used_at=timestamp(copy.used_at),
            status=_STATUS[copy.status],
            status_since=copy.status_since.isoformat() if copy.status_since else "",
            **_current(copy.current),
        )
        return within_limit(reply, self._max_message_bytes)

    def PrefillForm(
        self, request: sharing_pb2.PrefillFormRequest, context: grpc.ServicerContext
    ) -> sharing_pb2.PrefillFormResponse:
        service = self._sharing()
        with calls.deadline(context.time_remaining()):  # a consent is spent only for a caller still waiting
            form = service.prefill(
                caller(),
                self._use(
                    request.use,
                    context,
                    AuditAction.PREFILL_FORM,
                    UseTarget(holder_code=request.holder_code, holder_code_type=request.holder_code_type),
                ),
                holder_code_type=request.holder_code_type,
                holder_code=request.holder_code,
                keys=list(request.field_keys),
                license_ids=list(request.license_ids),
                consent_code=request.consent_code,
            )
        return sharing_pb2.PrefillFormResponse(
            values=[
                sharing_pb2.PrefilledValue(
                    key=v.key,
                    value=v.value,
                    masked=v.masked,
                    license_id=v.license_id,
                    type_code=v.type_code,
                    field_key=v.field_key,
                    field_label=v.field_label,
                    basis=_BASIS[v.basis],
                )
                for v in form.values
            ],
            unfilled=[sharing_pb2.UnfilledKey(key=u.key, reason=u.reason, detail=u.detail) for u in form.unfilled],
            remedy=form.remedy,
            consent_id=form.consent_id,
            used_at=timestamp(form.used_at),
        )

    def _entry(self, entry: HolderEntry) -> sharing_pb2.HolderLicense:
        content = entry.license.content
        access = entry.access
        return sharing_pb2.HolderLicense(
            license_id=content.license_id,
            type_code=content.type_code,
            type_name=self._type_name(content.type_code),
            issuer_code=content.issuer_code,
            issuer_name=self._member_name(content.issuer_code),
            status=_STATUS[entry.status],
            valid_until=content.valid_until.isoformat() if content.valid_until else "",
            access_state=_ACCESS[access.state],
            reason=access.reason.value if access.reason else "",
            detail=access.detail,
            remedy=access.remedy,
        )

    def _type_name(self, type_code: str) -> str:
        license_type = self._catalog.license_types.get(type_code)
        return license_type.name if license_type else ""


def _current(current: CurrentVersion | None) -> dict[str, Any]:
    """The reply's fields for the version in force of a superseded version read or copied; none otherwise."""
    if current is None:
        return {}
    return {
        "current_license_id": current.license_id,
        "current_status": _STATUS[current.status]
        if current.status is not None
        else common_pb2.LICENSE_STATUS_UNSPECIFIED,
        "current_status_since": current.since.isoformat() if current.since else "",
    }
