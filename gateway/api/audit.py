"""``zzgw.v1.AuditService``: decode, call the audit trail, encode."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import grpc

from gateway.api.convert import page_size, timestamp
from gateway.api.interceptors import caller, operator
from gateway.domain.audit import (
    ACTION_WORDS,
    DECISION_WORDS,
    AccessRecord,
    GrantedBy,
    Relation,
    reason_words,
    type_code_of,
)
from gateway.domain.catalog import Catalog
from gateway.domain.errors import UpstreamUnavailableError, invalid
from gateway.domain.validation import checked_holder_code
from gateway.services.audit import AuditTrail
from gateway.watchdog import progress
from protos.zzgw.v1 import audit_pb2, audit_pb2_grpc


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(
        self, trail: AuditTrail | None, member_name: Callable[[str], str], catalog: Catalog | None = None
    ) -> None:
        self._trail = trail
        self._member_name = member_name
        self._catalog = catalog

    def _matter_name(self, code: str) -> str:
        matter = self._catalog.matters.get(code) if self._catalog is not None and code else None
        return matter.name if matter is not None else ""

    def _type_name(self, code: str) -> str:
        kind = self._catalog.license_types.get(code) if self._catalog is not None and code else None
        return kind.name if kind is not None else ""

    def _audit(self) -> AuditTrail:
        if self._trail is None:
            raise UpstreamUnavailableError(
                "没有网关密钥，用证记录无法写入：请网关运维运行 zzgw init（no gateway key for the audit trail: run "
                "`zzgw init`）",
                reason="NO_SEAL_CA",
            )
        return self._trail

    def VerifyAuditLog(
        self, request: audit_pb2.VerifyAuditLogRequest, context: grpc.ServicerContext
    ) -> audit_pb2.VerifyAuditLogResponse:
        check = self._audit().check(progress)  # its time grows with the trail: not a stuck call
        return audit_pb2.VerifyAuditLogResponse(
            ok=check.ok,
            records=check.records,
            checkpoints=check.checkpoints,
            first_broken=check.first_broken or 0,
            reason=check.reason,
            last_broken=check.last_broken or 0,
        )

    def ListAccessRecords(
        self, request: audit_pb2.ListAccessRecordsRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ListAccessRecordsResponse:
        limit = page_size(request.limit)
        if request.before < 0:  # it had listed nothing, as if nobody had used the licenses
            said = "before 须为记录序号，或0表示从最新起（a record's seq, 0: the newest）"
            raise invalid("before", "BAD_BEFORE", said)
        # checked here as consents check it: a mistyped check character would list nothing, as if nobody had
        # used the holder's licenses; a code licenses the caller may list are stored under lists theirs
        trail = self._audit()
        member = caller()
        held = partial(trail.lists_licenses_under, member)
        holder_code = checked_holder_code(request.holder_code, held=held) if request.holder_code else ""
        page = trail.listing(
            member,
            holder_code=holder_code,
            before_seq=request.before or None,
            limit=limit,
            operator=operator(context),
            omit_own_listings=request.omit_own_listings,
            catalog=self._catalog,
        )
        return audit_pb2.ListAccessRecordsResponse(
            records=[
                self._record(r, relation, granter)
                for r, relation, granter in zip(page.records, page.relations, page.granters, strict=True)
            ],
            next_before=page.records[-1].seq if page.more else 0,
        )

    def _record(self, r: AccessRecord, relation: Relation | None, granter: GrantedBy | None) -> audit_pb2.AccessRecord:
        """One record as a portal (or an issuer) reads it: codes with their words, the matter's and the type's names,
        whose it is to the person asked about (``relation``, None when none was), and whether they granted the
        consent it names (``granter``, None for none)."""
        kind = type_code_of(r.entry.license_id)
        return audit_pb2.AccessRecord(
            seq=r.seq,
            at=timestamp(r.entry.at),
            caller=r.entry.caller,
            caller_name=self._member_name(r.entry.caller),
            operator=r.entry.operator,
            action=r.entry.action.value,
            matter_code=r.entry.matter_code,
            purpose=r.entry.purpose,
            license_id=r.entry.license_id,
            decision=r.entry.decision,
            reason=r.entry.reason,
            receipt_id=r.entry.receipt_id,
            action_words=ACTION_WORDS.get(r.entry.action.value, ""),
            decision_words=DECISION_WORDS.get(r.entry.decision, ""),
            matter_name=self._matter_name(r.entry.matter_code),
            reason_words=reason_words(r.entry.reason, by_guardian=r.entry.by_guardian, action=r.entry.action.value),
            type_code=kind,
            type_name=self._type_name(kind),
            relation=relation.value if relation is not None else "",
            consent_granted_by=granter.value if granter is not None else "",
            seal_id=r.entry.seal_id,
            document_sha256=r.entry.document_sha256,
            result_sha256=r.entry.result_sha256,
        )
