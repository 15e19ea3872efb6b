"""``zzgw.v1.AuthorizationService``: decode, call the authorisation service, encode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import grpc

from gateway.api.convert import NameOf, license_status, page_size, sent_time, timestamp
from gateway.api.interceptors import caller, operator
from gateway.api.sharing import use_context
from gateway.domain.audit import AuditAction
from gateway.domain.catalog import Catalog
from gateway.domain.errors import UpstreamUnavailableError, invalid
from gateway.domain.model import License, LicenseStatus
from gateway.services import calls
from gateway.services.audit import UseTarget
from gateway.services.authorization import (
    MAX_CONSENTABLE,
    AccessDecision,
    AccessRequestState,
    AuthorizationService,
    ConsentState,
    RequestView,
)
from gateway.store.repositories import StoredAccessRequest, StoredConsent
from protos.zzgw.v1 import authorization_pb2, authorization_pb2_grpc

_STATES = {s: getattr(authorization_pb2, f"ACCESS_REQUEST_STATE_{s.value}") for s in AccessRequestState}
_STATE_FILTERS = {v: k for k, v in _STATES.items()}
_VIEWS = {getattr(authorization_pb2, f"ACCESS_REQUEST_VIEW_{v.value}"): v for v in RequestView}
_DECISIONS = {getattr(authorization_pb2, f"ACCESS_DECISION_{d.value}"): d for d in AccessDecision}


class AuthorizationServicer(authorization_pb2_grpc.AuthorizationServiceServicer):
    def __init__(self, service: AuthorizationService | None, catalog: Catalog, member_name: NameOf):
        self._service = service
        self._catalog = catalog
        self._member_name = member_name

    def _authorization(self) -> AuthorizationService:
        if self._service is None:
            raise UpstreamUnavailableError(
                "没有网关密钥，用证记录无法写入：请网关运维运行 zzgw init（no gateway key for the audit trail: run "
                "`zzgw init`）",
                reason="NO_SEAL_CA",
            )
        return self._service

    def RequestAccess(
        self, request: authorization_pb2.RequestAccessRequest, context: grpc.ServicerContext
    ) -> authorization_pb2.RequestAccessResponse:
        service = self._authorization()
        member = caller()
        if request.client_request_id:  # a retry is answered before the use is checked, which the catalog may fail now
            again = service.request_again(
                member,
                matter_code=request.use.matter_code,
                purpose=request.use.purpose,
                type_code=request.type_code,
                license_id=request.license_id,
                issuer_code=request.issuer_code,
                fields=list(request.fields),
                duration_days=request.duration_days,
                client_request_id=request.client_request_id,
                operator=operator(context),
            )
            if again is not None:
                return authorization_pb2.RequestAccessResponse(request=self._request(again))
        use = use_context(
            request.use,
            self._catalog,
            context,
            on_refusal=lambda refused: service.refuse_use(
                member, refused, AuditAction.REQUEST_ACCESS, UseTarget(license_id=request.license_id)
            ),
        )
        submitted = service.request_access(
            caller(),
            use,
            type_code=request.type_code,
            license_id=request.license_id,
            issuer_code=request.issuer_code,
            fields=list(request.fields),
            duration_days=request.duration_days,
            client_request_id=request.client_request_id,
            key_unused=bool(request.client_request_id),  # request_again found none
        )
        return authorization_pb2.RequestAccessResponse(request=self._request(submitted))

    def ListAccessRequests(
        self, request: authorization_pb2.ListAccessRequestsRequest, context: grpc.ServicerContext
    ) -> authorization_pb2.ListAccessRequestsResponse:
        service = self._authorization()
        limit = page_size(request.limit)
        found, next_page = service.list_requests(
            caller(),
            view=_known(_VIEWS, request.view, "view", _VIEW_WORDS),
            state=_known(_STATE_FILTERS, request.state, "state", _STATE_WORDS),
            matter_code=request.matter_code,
            requester=request.requester,
            limit=limit,
            page_token=request.page_token,
            operator=operator(context),
        )
        return authorization_pb2.ListAccessRequestsResponse(
            requests=[self._request(r) for r in found], next_page_token=next_page
        )

    def DecideAccessRequest(
        self, request: authorization_pb2.DecideAccessRequestRequest, context: grpc.ServicerContext
    ) -> authorization_pb2.DecideAccessRequestResponse:
        if request.decision and request.decision not in _DECISIONS:
            # a number the API does not define (a newer client's) is told from one left out, as an unknown view, state
            # or status action is: it had been REQUIRED, "a field the call needs is empty" (an integrator)
            raise invalid("decision", "UNKNOWN_DECISION", _DECISION_WORDS.format(request.decision))
        decided = self._authorization().decide(
            caller(),
            request.request_id,
            _DECISIONS.get(request.decision),
            approved_fields=list(request.approved_fields),
            duration_days=request.duration_days,
            reason=request.reason,
            operator=operator(context),
        )
        return authorization_pb2.DecideAccessRequestResponse(request=self._request(decided))

    def CancelAccessRequest(
        self, request: authorization_pb2.CancelAccessRequestRequest, context: grpc.ServicerContext
    ) -> authorization_pb2.CancelAccessRequestResponse:
        cancelled = self._authorization().cancel(
            caller(), request.request_id, reason=request.reason, operator=operator(context)
        )
        return authorization_pb2.CancelAccessRequestResponse(request=self._request(cancelled))

    def GrantConsent(
        self, request: authorization_pb2.GrantConsentRequest, context: grpc.ServicerContext
    ) -> authorization_pb2.GrantConsentResponse:
        with calls.deadline(context.time_remaining()):  # a consent is committed only for a caller still waiting
            consent, code = self._authorization().grant_consent(
                caller(),
                holder_code=request.holder_code,
                grantee_code=request.grantee_code,
                matter_code=request.matter_code,
                license_ids=list(request.license_ids),
                type_codes=list(request.type_codes),
                valid_until=sent_time(request, "valid_until"),
                uses=request.uses,
                operator=operator(context),
                client_request_id=request.client_request_id,
            )
        return authorization_pb2.GrantConsentResponse(consent=self._consent(consent), code=code)

    def WithdrawConsent(
        self, request: authorization_pb2.WithdrawConsentRequest, context: grpc.ServicerContext
    ) -> authorization_pb2.WithdrawConsentResponse:
        consent = self._authorization().withdraw_consent(
            caller(), request.consent_id, request.holder_code, operator=operator(context)
        )
        return authorization_pb2.WithdrawConsentResponse(consent=self._consent(consent))

    def ListConsents(
        self, request: authorization_pb2.ListConsentsRequest, context: grpc.ServicerContext
    ) -> authorization_pb2.ListConsentsResponse:
        page = self._authorization().list_consents(
            caller(),
            request.holder_code,
            limit=page_size(request.limit),
            page_token=request.page_token,
            operator=operator(context),
        )
        return authorization_pb2.ListConsentsResponse(
            consents=[
                self._consent(c, s, by) for c, s, by in zip(page.consents, page.states, page.withdrawers, strict=True)
            ],
            next_page_token=page.next_page_token,
        )

    def ListConsentableLicenses(
        self, request: authorization_pb2.ListConsentableLicensesRequest, context: grpc.ServicerContext
    ) -> authorization_pb2.ListConsentableLicensesResponse:
        service = self._authorization()
        page = service.consentable_licenses(
            caller(),
            request.holder_code,
            request.child_code,
            limit=page_size(request.limit, default=MAX_CONSENTABLE),
            page_token=request.page_token,
            operator=operator(context),
        )
        return authorization_pb2.ListConsentableLicensesResponse(
            licenses=[
                self._consentable(license, service.effective_status(license), matters)
                for license, matters in zip(page.licenses, page.matter_codes, strict=True)
            ],
            next_page_token=page.next_page_token,
        )

    def _consentable(
        self, license: License, status: LicenseStatus, matter_codes: tuple[str, ...]
    ) -> authorization_pb2.ConsentableLicense:
        c = license.content
        license_type = self._catalog.license_types.get(c.type_code)
        return authorization_pb2.ConsentableLicense(
            license_id=c.license_id,
            type_code=c.type_code,
            type_name=license_type.name if license_type else "",
            issuer_code=c.issuer_code,
            issuer_name=self._member_name(c.issuer_code),
            license_number=c.license_number,
            holder_code=c.holder.code,
            valid_from=c.valid_from.isoformat() if c.valid_from else "",
            valid_until=c.valid_until.isoformat() if c.valid_until else "",
            status=license_status(status),
            matter_codes=list(matter_codes),
        )

    def _request(self, r: StoredAccessRequest) -> authorization_pb2.AccessRequest:
        license_type = self._catalog.license_types.get(r.type_code)
        return authorization_pb2.AccessRequest(
            request_id=r.request_id,
            requester=r.requester,
            requester_name=self._member_name(r.requester),
            issuer_code=r.issuer_code,
            type_code=r.type_code,
            type_name=license_type.name if license_type else "",
            license_id=r.license_id,
            matter_code=r.matter_code,
            purpose=r.purpose,
            fields=list(r.fields),
            duration_days=r.duration_days,
            state=_STATES[AccessRequestState(r.state)],
            submitted_at=timestamp(r.submitted_at),
            deadline=timestamp(r.deadline),
            decided_at=timestamp(r.decided_at) if r.decided_at else None,
            approved_fields=list(r.approved_fields),
            valid_until=timestamp(r.valid_until) if r.valid_until else None,
            decision_reason=r.decision_reason,
        )

    def _consent(
        self, c: StoredConsent, state: ConsentState | None = None, withdrawn_as: str | None = None
    ) -> authorization_pb2.Consent:
        state = state or self._authorization().consent_state(c)
        if withdrawn_as is None:
            withdrawn_as = self._authorization().withdrawn_as(c)
        return authorization_pb2.Consent(
            consent_id=c.consent_id,
            holder_code=c.holder_code,
            grantee_code=c.grantee,
            grantee_name=self._member_name(c.grantee),
            matter_code=c.matter_code,
            license_ids=list(c.license_ids),
            type_codes=list(c.type_codes),
            valid_until=timestamp(c.valid_until),
            uses_allowed=c.uses_allowed,
            uses_left=c.uses_left,
            state=getattr(authorization_pb2, f"CONSENT_STATE_{state.value}"),
            created_at=timestamp(c.created_at),
            withdrawn_at=timestamp(c.withdrawn_at) if c.withdrawn_at else None,
            portal_code=c.portal,
            guardian_code=c.guardian_code,
            withdrawn_by=c.withdrawn_by,
            withdrawn_as=withdrawn_as,
        )


_VIEW_WORDS = (
    "未知的申请列表视图 {0}：须为 ISSUER_QUEUE 或 SUBMITTED，或不填"
    "（unknown view {0}: ISSUER_QUEUE, SUBMITTED or unset）"
)
_DECISION_WORDS = "未知的审批决定 {0}：须为批准、驳回或撤回（unknown decision {0}: APPROVE, REJECT or WITHDRAW）"
_STATE_WORDS = (
    "未知的申请状态 {0}：须为 PENDING、APPROVED、REJECTED、EXPIRED 或 WITHDRAWN，或不填"
    "（unknown state {0}: PENDING, APPROVED, REJECTED, EXPIRED, WITHDRAWN or unset）"
)
_T = TypeVar("_T")


def _known(values: Mapping[int, _T], value: int, field: str, words: str) -> _T | None:
    """The filter an enum ``value`` of the request names, None when unset (0); a number the API does not define (a
    newer client's, or garbage) is INVALID_ARGUMENT / UNKNOWN_VIEW or UNKNOWN_STATE: it had been taken as unset, and
    the caller given an unfiltered list as if filtered."""
    if not value:
        return None
    if value not in values:
        raise invalid(field, f"UNKNOWN_{field.upper()}", words.format(value))
    return values[value]
