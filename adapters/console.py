"""The clerk's console (窗口核验): one web page for window clerks, and the JSON calls it makes.

A clerk types a license identifier, a license number or a pasted ``ZZ1:`` code, or uploads the PDF or a photo of the
QR code an applicant hands over, and sees a large verdict with the three findings, the license summary a verifier may
see, and a receipt to print or keep as a file (``zzgw receipt check`` checks it offline). A later department of a
一件事 case lists the receipts the earlier ones made (首办核验、接办免收). The page is static (HTML, CSS and a
script, Chinese labels, no framework, nothing fetched from elsewhere); it calls:

=====================================  ============================================================================
``GET  /console/``                     the page (``console.js`` and ``console.css`` beside it)
``GET  /console/api/session``          who the token belongs to, the matters and license types to choose from
``POST /console/api/verify``           JSON: ``use`` (``matter_code``, ``purpose``, ``operator``, optional
                                       ``bundle_code`` and ``case_id``) and one of ``query`` (an identifier, a
                                       ``ZZ1:`` code, or a license number with ``type_code``), ``pdf`` or
                                       ``qr_image`` (base64)
``POST /console/api/check-claim``      JSON: ``use``, ``type_code``, ``holder_code``, ``license_number`` and
                                       optional ``fields``: 信息比对, answered with the provincial result code and the
                                       fields that differ, never the registry's data
``POST /console/api/case-receipts``    JSON: ``use`` naming a 一件事 case, optional ``limit`` (1-1000, 0 or
                                       absent: 200) and ``page_token`` (the last answer's ``next_page_token``): the
                                       receipts the case's departments made, oldest first, a page at a time, each
                                       with its license's standing now (``standing_now``, as ``ListCaseReceipts``
                                       gives it) and holder (``holder``, as a verification shows it; none for an
                                       administrator)
``POST /console/api/receipt``          JSON: ``receipt_id`` (a receipt's number, as printed) or ``file`` (a receipt
                                       file's text): the receipt with its signature checked as ``zzgw receipt
                                       check`` checks it, whether the archive holds the same one, and what it says
                                       (only once its signature verified); ``operator``, the clerk who looks (for
                                       the holder's log, GET_RECEIPT), required with the department's token (not
                                       with a holder portal's, whose look-up is on no log, as at GetReceipt);
                                       answered with the look-up's time too (``looked_up_at``), which its print
                                       names, and its license's standing now (``standing_now``,
                                       ``current_license_id``) and holder (``holder``, as a verification shows
                                       it) when one of the department's matters uses its type
=====================================  ============================================================================

Each call carries the department's token (``Authorization: Bearer …``): the member's dev bearer token (dev mode
only), or a console token from ``zzgw console-token`` (gRPC callers in production mode use client certificates
only), with the name the clerk typed as the operator; or the clerk's own token (``zzgw console-token USCC --clerk
NAME``), which names the operator itself. The token and the role of the gRPC method the call stands for
(``allowed_roles`` of its RPC) are checked before the request is read (``Console.caller``): a stranger's request is
neither read nor parsed. The work is the service's: the same findings, receipts and access records as
``VerifyLicense``, ``VerifyDocument``, ``CheckClaim``, ``ListCaseReceipts`` and ``GetReceipt``, with the clerk as
operator. Errors are JSON ``{"error": {"status", "reason", "message", "violations"}}`` with the HTTP status of the
gRPC code. Nothing of a request is logged.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

from gateway.domain.audit import AuditAction
from gateway.domain.catalog import Catalog, FieldSpec, LicenseType, Matter, Sensitivity, SharingClass
from gateway.domain.errors import (
    MAX_ECHO_DESCRIPTION,
    MAX_ECHO_FIELD,
    MAX_ECHO_MESSAGE,
    MAX_VIOLATIONS,
    AlreadyExistsError,
    ConflictError,
    FieldViolation,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UpstreamUnavailableError,
    ZzgwError,
    clip,
    echoed,
    invalid,
    more_violations,
)
from gateway.domain.identifiers import HYPHENS, MAX_NUMBER_TYPED, normal_number, typed_license_id
from gateway.domain.model import Holder, Role, mask, partner_console_words
from gateway.domain.sharing import shown_holder_code
from gateway.domain.verification import (
    UseContext,
    check_use,
    matters_of,
    operator_violation,
    parties_of,
    plain_operator,
    typed_receipt_id,
)
from gateway.services.audit import UseTarget
from gateway.services.members import ConsoleUser
from gateway.services.verification import Archived, Report, SignedParts, VerificationService
from gateway.store.repositories import StoredReceipt
from protos.zzgw.v1 import verification_pb2
from signing.results import CheckResult, Finding

from .http_connections import store_work
from .license_codes import MAX_QR_IMAGE_BYTES, license_code_in, query_of
from .receipt_file import read_receipt, receipt_json

PREFIX = "/console"
STATIC = {
    "/console/": ("index.html", "text/html; charset=utf-8"),
    "/console/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console/console.css": ("console.css", "text/css; charset=utf-8"),
}
VERIFY_LICENSE = "/zzgw.v1.VerificationService/VerifyLicense"
VERIFY_DOCUMENT = "/zzgw.v1.VerificationService/VerifyDocument"
LIST_CASE_RECEIPTS = "/zzgw.v1.VerificationService/ListCaseReceipts"
CHECK_CLAIM = "/zzgw.v1.VerificationService/CheckClaim"
GET_RECEIPT = "/zzgw.v1.VerificationService/GetReceipt"
MAX_REQUEST_VALUES = 1_000
"""Keys and values a console request may hold (the largest, a claim of 50 fields, holds some 120): one of more is
refused before it is parsed (``_request``)."""
_ROOM = 64 * 1024
"""Bytes of a request for what it says besides a file: its use, identifiers and words, many times over."""
_TEXT_FILE_ROOM = 1024 * 1024
"""Bytes of a request holding a claim's fields (50 of 2,000 characters, each written as a ``\\uXXXX`` escape, as
Python's json writes it) or a receipt file (``MAX_RECEIPT_FILE``, 256 KiB, with its escapes)."""
_HTTP_STATUS: tuple[tuple[type[ZzgwError], int], ...] = (
    (InvalidRequestError, 400),
    (UnauthenticatedError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (AlreadyExistsError, 409),
    (ConflictError, 409),
    (ResourceExhaustedError, 413),
    (UpstreamUnavailableError, 503),
)
_SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class Reply(NamedTuple):
    """A console call's answer, with what its access-log line names (who called, why it was refused)."""

    status: int
    body: bytes
    member: str = ""
    reason: str = ""


class Call(NamedTuple):
    """One of the console's JSON calls: the gRPC method whose roles its caller needs, checked before the request is
    read, and what answers it, given the caller and the request's body."""

    method: str
    answer: Callable[[ConsoleUser, bytes], Reply]
    max_bytes: int
    """The largest request it reads (``Console.too_large`` past it): one figure for all had let a call that takes
    no file read 11 MB (a reviewer, R1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleBackend:
    """What the console needs of the gateway (given by ``gateway.server``, which owns the role table)."""

    authenticate: Callable[[str], ConsoleUser]
    """Who a bearer token signs in (the member, and the clerk for a clerk's own token); ``UnauthenticatedError``
    for an unknown one."""
    allowed_roles: Callable[[str], frozenset[Role]]
    """The roles allowed to call a gRPC method (none for an unknown one: fail closed)."""
    verification: VerificationService | None
    catalog: Catalog
    issuer_name: Callable[[str], str]
    max_document_bytes: int
    catalog_current: Callable[[], None]
    """Raises ``UpstreamUnavailableError`` (``CATALOG_CHANGED``) once the store's catalog is no longer ``catalog``
    (``gateway.services.catalog_pin``): every console call answers by the catalog."""


class Console:
    """What ``adapters.http.HttpApp`` serves under ``PREFIX``: the page's files (``static``) and the JSON calls
    (``session``, and in ``calls`` ``verify``, ``check_claim``, ``case_receipts`` and ``receipt``). A call's caller
    is known first (``session``, ``caller``: a refusal is a ``ZzgwError`` raised, for ``run_blocking``); its answer
    is a ``Reply``, the work's or the JSON error of the ``ZzgwError`` that refused it."""

    def __init__(self, backend: ConsoleBackend):
        self._backend = backend
        self._static = {path: (_static(name), kind) for path, (name, kind) in STATIC.items()}
        # a check's: base64 of the largest file taken (a document, or a photo of a QR code), and room for the rest
        verify_bytes = (max(backend.max_document_bytes, MAX_QR_IMAGE_BYTES) + 2) // 3 * 4 + _ROOM
        self.calls: dict[str, Call] = {
            PREFIX + "/api/verify": Call(VERIFY_LICENSE, self.verify, verify_bytes),
            PREFIX + "/api/check-claim": Call(CHECK_CLAIM, self.check_claim, _TEXT_FILE_ROOM),
            PREFIX + "/api/case-receipts": Call(LIST_CASE_RECEIPTS, self.case_receipts, _ROOM),
            PREFIX + "/api/receipt": Call(GET_RECEIPT, self.receipt, _TEXT_FILE_ROOM),
        }
        """The JSON calls a request POSTs to, by path."""

    def static(self, path: str) -> tuple[bytes, str] | None:
        """The page or one of its files at ``path``, with its content type."""
        return self._static.get(path)

    def caller(self, authorization: str, call: Call) -> ConsoleUser:
        """Who makes ``call`` with the ``Authorization`` header ``authorization``, checked before the request is read
        (ADR 0007): a request without a token in force, or from a member without the role of the call's gRPC
        method, is refused unread (``UnauthenticatedError``, ``PermissionDeniedError``), so a stranger learns
        nothing of a request and cannot make the gateway read or parse one. Blocking (the token may be looked up in
        the store): run it off the event loop."""
        return self._user(authorization, call.method)

    def session(self, authorization: str) -> Reply:
        user = self._user(authorization, VERIFY_LICENSE)  # who may not verify has no use for the console
        member = user.member
        try:
            self._backend.catalog_current()
        except ZzgwError as error:
            raise attributed(error, member.code) from None
        catalog = self._backend.catalog
        matters = matters_of(member, catalog)
        if not matters:  # nor has a department without a matter of its own: every check names one
            refused = PermissionDeniedError(
                f"{member.name}在事项目录中没有办理事项，不能核验（{member.name} handles no matter of the catalog）",
                reason="NO_MATTERS",
            )
            raise attributed(refused, member.code)
        return Reply(
            200,
            _json(
                {
                    "member": {"code": member.code, "name": member.name},
                    "clerk": user.clerk,
                    "matters": [
                        {
                            "code": m.code,
                            "name": m.name,
                            "purpose": m.purpose,
                            "department": m.department,
                            "type_codes": [material.type_code for material in m.materials],
                            # the parents a claim under the matter may compare an applicant with, by type (a
                            # 出生医学证明's 母亲/父亲有效身份证件号码 under 出生登记): a newborn's parent applies, and
                            # the page had no way to confirm who they were (a reviewer of the clerk, R1)
                            "guardian_fields": {
                                t.code: [{"key": f.key, "label": f.label} for f in fields]
                                for t in catalog.license_types.values()
                                if (fields := _guardian_fields(t, m, claimable=True))
                            },
                        }
                        for m in matters
                    ],
                    # with what the page names a holder by (单位名称 and 统一社会信用代码 for an organisation, 持证人
                    # and 公民身份号码 or 证件号码 for a person), and whether a number is its holder's code (a
                    # 居民身份证's 公民身份号码: its check character is checked before a look-up), and whether its
                    # holder may be claimed under any matter (the 居民身份证's data-free check)
                    "license_types": [
                        {
                            "code": t.code,
                            "name": t.name,
                            "holder_kind": t.holder_kind.value,
                            "holder_code_types": list(t.holder_code_types),
                            "number_is_holder_code": t.license_number_of_holder,
                            # a 结婚证: its holder is one of the persons it names, the other may show it too
                            "held_by_one_named": bool(t.holder_among),
                            "claimable_under_any_matter": t.claimable_under_any_matter,
                            # the fields naming the holder's parents (a 出生医学证明's), by which a claim's 不符 is said
                            "guardian_fields": [
                                {"key": f.key, "label": f.label} for f in t.fields if f.guardian_of_holder
                            ],
                        }
                        for t in catalog.license_types.values()
                    ],
                    "bundles": [
                        {"code": b.code, "name": b.name, "matter_codes": list(b.matter_codes)}
                        for b in catalog.bundles.values()
                        if any(m.code in b.matter_codes for m in matters)
                    ],
                    "limits": {"pdf_bytes": self._backend.max_document_bytes, "image_bytes": MAX_QR_IMAGE_BYTES},
                }
            ),
            member.code,
        )

    def verify(self, user: ConsoleUser, body: bytes) -> Reply:
        """Verify what the request names, for ``user`` (``caller``); blocking (the receipt is committed before the
        answer): run it off the event loop."""
        return self._call(user, body, self._verify)

    def case_receipts(self, user: ConsoleUser, body: bytes) -> Reply:
        """The receipts of the request's 一件事 case (首办核验、接办免收), oldest first, a page at a time, for the
        department handling the request's matter (``VerificationService.case_receipts``)."""
        return self._call(user, body, self._case_receipts)

    def check_claim(self, user: ConsoleUser, body: bytes) -> Reply:
        """信息比对: is what the applicant claims (type, holder code, number, some field values) the registry's, and
        the license current? Answered without any of the registry's data (``VerificationService.check_claim``)."""
        return self._call(user, body, self._check_claim)

    def receipt(self, user: ConsoleUser, body: bytes) -> Reply:
        """A receipt by its number or as a file a clerk was handed (another department's, 接办免收; the applicant's),
        checked again (``VerificationService.review_receipt``)."""
        return self._call(user, body, self._receipt)

    @staticmethod
    def too_large(user: ConsoleUser, call: Call) -> Reply:
        """The answer to ``user``'s request larger than ``call`` takes (``Call.max_bytes``, not read past). Only a
        caller already signed in (``caller``) is told the limit: a stranger learns nothing of it."""
        limit = f"{call.max_bytes:,}"
        too_large = f"请求超过{limit}字节，文件过大（the request is larger than {limit} bytes）"
        return error_reply(ResourceExhaustedError(too_large, reason="REQUEST_TOO_LARGE"))._replace(
            member=user.member.code
        )

    def _call(
        self, user: ConsoleUser, body: bytes, work: Callable[[ConsoleUser, Mapping[str, Any]], dict[str, Any]]
    ) -> Reply:
        """``work`` on the request in ``body`` for ``user``, whose token and role were checked before the request
        was read (``caller``); a refusal names who was refused."""
        try:
            self._backend.catalog_current()
            return Reply(200, _json(work(user, _request(body))), user.member.code)
        except ZzgwError as error:
            return error_reply(error)._replace(member=user.member.code)
        except Exception as failed:  # the store unavailable, or a defect: answered by the server, for this member
            attributed(failed, user.member.code)
            raise

    def _use(
        self, request: Mapping[str, Any], user: ConsoleUser, action: AuditAction, target: UseTarget | None = None
    ) -> UseContext:
        """The request's use. Its operator is the clerk a clerk's own token names (what the page sends is not
        looked at); with the department's token, the name or staff number the clerk typed, which is required. A
        matter another department handles is refused on the audit trail as the call ``action``, with the license or
        holder the request named (``target``)."""
        raw_use = request.get("use")
        if not isinstance(raw_use, dict):
            raise invalid(
                "use",
                "REQUIRED",
                "请填写用证信息：办理事项、用证事由和核验人（use (matter_code, purpose, operator) is required）",
            )
        operator = user.clerk or plain_operator(_text(raw_use, "operator", "use."))
        if not operator:
            raise invalid(
                "use.operator",
                "REQUIRED",
                "使用部门令牌时，请填写核验人姓名或工号"
                "（the clerk's name or staff number is required with a department's token）",
            )
        return check_use(
            _text(raw_use, "matter_code", "use."),
            _text(raw_use, "purpose", "use."),
            self._backend.catalog,
            caller=user.member,
            operator=operator,
            bundle_code=_text(raw_use, "bundle_code", "use."),
            case_id=_text(raw_use, "case_id", "use."),
            on_refusal=lambda refused: self._service().refuse_use(user.member, refused, action, target),
        )

    @staticmethod
    def _operator(user: ConsoleUser, request: Mapping[str, Any]) -> str:
        """Who reads a receipt, for the holder's log: the clerk a clerk's own token names, else the name or staff
        number typed at sign-in (``operator``), required with the department's token as at every other call (a
        look-up without one had been answered with the holder and logged naming no one: a reviewer). A holder
        portal has no clerk, and its look-up is its holder's own, on no log (``VerificationService.receipt``): it
        needs no name, as at gRPC's GetReceipt (it had been refused, in words for a department: a reviewer)."""
        operator = user.clerk or plain_operator(_text(request, "operator"))
        if not operator and not user.member.portal_only:
            raise invalid(
                "operator",
                "REQUIRED",
                "使用部门令牌时，请填写核验人姓名或工号"
                "（the clerk's name or staff number is required with a department's token）",
            )
        if violation := operator_violation(operator):
            raise InvalidRequestError([violation])  # the page says 请重新登录 for it
        return operator

    def _service(self) -> VerificationService:
        if self._backend.verification is None:
            raise UpstreamUnavailableError(
                "证照网关尚未初始化（没有制章机构或回执密钥），请管理员运行 zzgw init"
                "（no seal-maker CA or receipt key: run `zzgw init`）",
                reason="NO_SEAL_CA",
            )
        return self._backend.verification

    def _check_claim(self, user: ConsoleUser, request: Mapping[str, Any]) -> dict[str, Any]:
        raw_fields = request.get("fields", {})
        if not isinstance(raw_fields, dict) or not all(isinstance(v, str) for v in raw_fields.values()):
            raise invalid(
                "fields", "NOT_TEXT", "比对信息项须是字段名到文字的映射（fields must map field names to strings）"
            )
        fields = {str(k): v.strip() for k, v in raw_fields.items() if v.strip()}  # a field left empty claims nothing
        service = self._service()
        checked = service.check_claim(
            user.member,
            self._use(
                request,
                user,
                AuditAction.CHECK_CLAIM,
                UseTarget(
                    type_code=_text(request, "type_code"),
                    license_number=_text(request, "license_number"),
                    holder_code=_text(request, "holder_code"),
                ),
            ),
            type_code=_text(request, "type_code"),
            holder_code=_text(request, "holder_code"),
            license_number=_text(request, "license_number"),
            fields=fields,
        )
        answer = checked.answer
        return {
            "result": answer.result.name,
            "code": answer.result.value,
            "mismatched_fields": list(answer.mismatched_fields),
            "status_reason": answer.status_reason,
            "checked_at": checked.checked_at.isoformat(timespec="seconds"),
            "receipt": self._receipt_part(checked.receipt),
            # the key of the receipt's HMACs of the number and holder code claimed, the claimant's alone (receipts.md):
            # without it no one could tie a console claim's receipt to its claim, the next department of a case
            # included (a reviewer, R5)
            "claim_key": checked.claim_key.hex(),
        }

    def _case_receipts(self, user: ConsoleUser, request: Mapping[str, Any]) -> dict[str, Any]:
        service = self._service()
        use = self._use(request, user, AuditAction.LIST_CASE_RECEIPTS)
        # a page at a time, as ListCaseReceipts gives them: the page follows ``next_page_token`` (显示更多)
        receipts, next_page = service.case_receipts(
            user.member, use, limit=_count(request, "limit"), page_token=_text(request, "page_token")
        )
        # each license's standing now, beside the earlier receipt's verdict: a license revoked since is not relied on
        standing = service.standing_now((r.license_id, r.created_at, r.statement) for r in receipts)
        # and its holder from the registry, as 查验回执 shows it: a receipt names no holder, and a case's list had
        # shown two companies' green 营业执照 with nothing to tell which was the applicant's (a reviewer, R4). The
        # receipts are of the matter's types (ADR 0012); an administrator, who reads no personal data, is shown none
        holders = {
            license_id: service.holder_of(license_id)
            for license_id in dict.fromkeys(r.license_id for r in receipts if r.license_id)
            if not user.member.administrator_only
        }
        catalog = self._backend.catalog
        listed = []
        for receipt in receipts:
            now = standing.get((receipt.license_id, receipt.created_at)) if receipt.license_id else None
            statement = json.loads(receipt.statement)
            summary = statement.get("license") or {}
            matter = catalog.matters.get(receipt.matter_code)
            query = statement.get("query") or {}  # a claim's type is in its query: it returns no license
            license_type = catalog.license_types.get(summary.get("type_code") or query.get("type_code", ""))
            listed.append(
                {
                    "receipt_id": receipt.receipt_id,
                    "created_at": receipt.created_at.isoformat(timespec="seconds"),
                    "caller": receipt.caller,
                    "caller_name": self._backend.issuer_name(receipt.caller),
                    "matter_code": receipt.matter_code,
                    "matter_name": matter.name if matter else "",
                    "license_id": receipt.license_id,
                    "type_name": license_type.name if license_type else "",
                    "kind": statement.get("kind", ""),
                    "verdict": statement.get("verdict", ""),
                    "reason": statement.get("reason", ""),
                    "claim_code": statement.get("code") if statement.get("kind") == "claim" else None,
                    "standing_now": {"result": now.result.value, "reason": now.reason, "detail": now.detail}
                    if now is not None
                    else None,
                    # a license superseded since (变更): the version in force, whose standing ``standing_now`` is
                    "current_license_id": now.current_license_id if now is not None else "",
                    "holder": _holder_part(holders.get(receipt.license_id), license_type),
                    "file": receipt_json(_receipt_message(receipt, service.signer_certificate_der(receipt))),
                }
            )
        return {"receipts": listed, "next_page_token": next_page}

    def _receipt(self, user: ConsoleUser, request: Mapping[str, Any]) -> dict[str, Any]:
        receipt_id, file = typed_receipt_id(_text(request, "receipt_id")), _text(request, "file")
        if bool(receipt_id) == bool(file.strip()):
            raise invalid(
                "receipt_id",
                "ONE_OF",
                "请只填写回执编号或只选择回执文件（give only one of receipt_id, file）"
                if receipt_id
                else "请填写回执编号或选择回执文件（give one of receipt_id, file）",
            )
        service = self._service()
        operator = self._operator(user, request)
        if receipt_id:
            review = service.review_receipt(user.member, receipt_id, operator=operator)
        else:
            try:
                given = read_receipt(file.encode())
            except ValueError as exc:
                # what is wrong, in the file's terms (``read_receipt`` says it without quoting the file at length)
                not_a_receipt = f"所给文件不是核验回执文件（not a receipt file: {exc}）"
                raise invalid("file", "NOT_A_RECEIPT", not_a_receipt) from None
            review = service.review_receipt_file(
                user.member,
                SignedParts(
                    receipt_id=given.receipt_id,
                    statement=given.statement,
                    signature=given.signature,
                    proof=given.proof,
                    algorithm=given.algorithm,
                    certificate=given.certificate,
                ),
                operator=operator,
            )
        check, parts = review.check, review.receipt
        # what a receipt says is shown only once its signature verified: a forged one's words are not repeated
        statement = dict(check.statement) if check.statement and check.result is not CheckResult.FAILED else None
        said = statement or {}
        summary = said.get("license") or {}
        matter = self._backend.catalog.matters.get(said.get("matter_code", ""))
        query = said.get("query") or {}
        license_type = self._backend.catalog.license_types.get(summary.get("type_code") or query.get("type_code", ""))
        message = verification_pb2.Receipt(
            receipt_id=parts.receipt_id,
            statement=parts.statement,
            signature=parts.signature,
            proof=parts.proof,
            algorithm=parts.algorithm,
            certificate=parts.certificate,
        )
        return {
            "receipt_id": parts.receipt_id,
            "check": {"result": check.result.value, "reason": check.reason or "", "detail": check.detail},
            "archived": _archive_said(review.archived, check.result),
            "looked_up_at": review.at.isoformat(),
            "statement": statement,
            "caller_name": self._backend.issuer_name(said["caller"]) if said.get("caller") else "",
            "matter_name": matter.name if matter else "",
            "type_name": license_type.name if license_type else "",
            "issuer_name": self._backend.issuer_name(summary["issuer_code"]) if summary.get("issuer_code") else "",
            # only for the archive's own receipt, whose look-up is on the holder's log (GET_RECEIPT): a file the
            # archive lacks or holds otherwise had shown the holder of the license it names, and nothing was logged
            # (a receipts reviewer, R3)
            **self._standing_of(user, statement if review.archived is Archived.SAME else None),
            "file": receipt_json(message),
        }

    def _standing_of(self, user: ConsoleUser, statement: Mapping[str, Any] | None) -> dict[str, Any]:
        """The standing now of the license a receipt whose signature held names (``standing_now``, and the version
        in force of one amended since, ``current_license_id``, as ``ListCaseReceipts`` gives them): a clerk handed
        the receipt of a license revoked since had read only its green 当时核验通过 (a clerk tester). With it, the
        license's holder as a verification shows it (``holder``: a person masked, an organisation whole): a receipt
        names a license and no holder, and another company's valid receipt had shown green with nothing to compare
        with the applicant (a receipts tester). Given for a license of a type one of the department's matters uses
        only (ADR 0012: a department does not learn, by looking a receipt up again and again, the standing of a
        license it has no use for, a 结婚证 cancelled by a divorce, nor whose it is); the holder never to an
        administrator (``Member.administrator_only``), which reads no personal data; null then, for a receipt
        naming no license (a claim's, a license not found), and for a file the archive does not hold as it is
        (``statement`` None: only the archive's receipt's look-up is logged)."""
        license = (statement or {}).get("license") or {}
        license_id, issued_at = license.get("license_id", ""), (statement or {}).get("issued_at")
        used = {m.type_code for matter in matters_of(user.member, self._backend.catalog) for m in matter.materials}
        if not license_id or license.get("type_code") not in used or not isinstance(issued_at, str):
            return {"standing_now": None, "current_license_id": "", "holder": None}
        at = dt.datetime.fromisoformat(issued_at)
        service = self._service()
        now = service.standing_now([(license_id, at, statement)])[license_id, at]
        # an administrator, who reads no personal data, is shown no holder, as in a case's list (``_case_receipts``):
        # its look-up had given a person's masked name and code, a company's whole (a reviewer, security R4)
        holder = None if user.member.administrator_only else service.holder_of(license_id)
        return {
            "standing_now": {"result": now.result.value, "reason": now.reason, "detail": now.detail},
            "current_license_id": now.current_license_id,
            "holder": _holder_part(holder, self._backend.catalog.license_types.get(license["type_code"])),
        }

    def _verify(self, user: ConsoleUser, request: Mapping[str, Any]) -> dict[str, Any]:
        if request.get("pdf"):  # a document's check is VerifyDocument's (``caller`` checked VerifyLicense's role)
            self._allow(user, VERIFY_DOCUMENT)
        document, image = _base64(request, "pdf"), _base64(request, "qr_image")
        # an identifier typed in full width, with 。 for '.' or in small letters is the identifier: the page sends what
        # the clerk typed, and a number's and a code's own folding is the service's (find_by_number, scanned_code)
        query = typed_license_id(_text(request, "query").strip())
        given = sum(bool(x) for x in (query, document, image))
        if given != 1:  # none, or several: said apart (请只提供 had been said of a request with nothing in it)
            raise invalid(
                "query",
                "ONE_OF",
                f"请{'只' if given else ''}提供一种核验方式：证照标识、证照编号或核验码，PDF 文件，或二维码图片"
                f"（give {'only ' if given else ''}one of query, pdf, qr_image）",
            )
        # a query is an identifier, a number with its type, or a printed code: each names a license for the trail
        named = UseTarget(license_id=query, type_code=_text(request, "type_code"), license_number=query, qr_code=query)
        use = self._use(request, user, AuditAction.VERIFY_DOCUMENT if document else AuditAction.VERIFY_LICENSE, named)
        service = self._service()
        registered: bool | None = None
        if document:
            if len(document) > self._backend.max_document_bytes:
                size, limit = f"{len(document):,}", f"{self._backend.max_document_bytes:,}"
                raise ResourceExhaustedError(
                    f"PDF 文件有{size}字节，至多{limit}字节（the PDF is {size} bytes; at most {limit}）",
                    reason="PDF_TOO_LARGE",
                )
            report, registered = service.verify_document(user.member, use, document)
        else:
            code = license_code_in(image) if image else query
            try:
                named_by = query_of(code, _text(request, "type_code"))
            except InvalidRequestError:  # neither an identifier nor a code, and no type to look it up as a number
                raise _not_a_license_code(query) from None
            if (number := named_by.get("license_number")) and (
                held := self._backend.catalog.license_types.get(named_by["type_code"])
            ):
                named_by["license_number"] = holder_code_number(number, held)
            report = service.verify_license(user.member, use, **named_by)
        matter = self._backend.catalog.matters[use.matter_code]  # the use context was checked against the catalog
        return self._report(
            report,
            registered,
            matter,
            by="qr_image" if image else "pdf" if document else "",
            withheld=user.member.administrator_only,
        )

    def _user(self, authorization: str, method: str) -> ConsoleUser:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError(
                "请提供部门接入令牌：Authorization: Bearer …（send the department's token: Authorization: Bearer …）",
                reason="NO_CREDENTIAL",
            )
        user = self._backend.authenticate(token.strip())
        try:
            if user.member.has(Role.PARTNER):  # a token of a partner's, issued before `zzgw console-token` refused
                raise PermissionDeniedError(partner_console_words(user.member), reason="ROLE_NOT_ALLOWED")
            self._allow(user, method)
        except ZzgwError as refused:
            raise attributed(refused, user.member.code) from None
        return user

    def _allow(self, user: ConsoleUser, method: str) -> None:
        """Refuse ``user`` a call standing for the gRPC ``method`` when the member has none of its roles."""
        if not user.member.roles & self._backend.allowed_roles(method):
            name, call = user.member.name, method.rsplit("/", 1)[-1]
            refusal = f"{name}无权调用 {call}（{name} may not call {call}）"
            raise PermissionDeniedError(refusal, reason="ROLE_NOT_ALLOWED")

    def _report(
        self, report: Report, registered: bool | None, matter: Matter, *, by: str, withheld: bool
    ) -> dict[str, Any]:
        """The report for the page. The license summary is the one the receipt states (the service decides what a
        verifier may see; its status is "" when the stored one is not the gateway's, STATUS_ALTERED), with the names
        of its type and issuer, and its holder as gRPC's ``LicenseSummary`` gives it, a person masked as the
        license's printed code states it (张**, 3701**********1234), an organisation whole (public registration data,
        ``holder_in_full``): in the reply only, never in the receipt, so that the clerk can see the license that
        passed is the applicant's; and the parents a license names for its holder that ``matter`` uses, masked
        (``guardians``: a newborn's, for whom a parent applies). None of these when ``withheld`` (an administrator,
        which reads no data, as gRPC's ``withhold_holder``): ``holder_withheld`` says so."""
        outcome = report.outcome
        receipt = self._receipt_part(report.receipt)
        stated = receipt["statement"].get("license")
        summary = None
        if stated is not None:
            license_type = self._backend.catalog.license_types.get(stated["type_code"])
            # nothing of a record whose seal fails beyond its identifier: its holder may be the edit's; nothing of
            # anyone to an administrator, which "verifies to check the gateway and reads no data" (docs/api.md): it
            # had been shown the holder, a 结婚证's spouses, while its receipt look-up gave none (review clerk, R3)
            vouched = (
                outcome.license.content
                if outcome.license is not None and outcome.record_vouched and not withheld
                else None
            )
            holder = vouched.holder if vouched is not None else None
            summary = {
                **stated,
                "type_name": license_type.name if license_type else "",
                "issuer_name": self._backend.issuer_name(stated["issuer_code"]),
                "holder_name_masked": holder.shown_name if holder is not None else "",
                # hidden whole beside a valid_from that is the birth date (a 出生医学证明's), as GetLicenseData
                "holder_code_masked": shown_holder_code(holder, license_type) if holder is not None else "",
                "holder_in_full": holder is not None and holder.publicly_registered,
                # the kind of code shown (GB/T 36903: 111 公民身份号码, 001 统一社会信用代码, …): the page names it so
                "holder_code_type": holder.code_type if holder is not None else "",
                # a 结婚证's spouses, masked as the holder: an applicant it names may be either
                "parties": [dataclasses.asdict(party) for party in parties_of(vouched, license_type)]
                if vouched is not None
                else [],
                # a 出生医学证明's mother and father, where the matter uses their codes (出生登记, not 参保登记),
                # masked as a spouse is: a newborn holds no ID, a parent applies, and the clerk had been told to
                # compare the applicant with 证照所载的父母信息 that the page did not show (a reviewer, R1)
                "guardians": [
                    {"label": spec.label, "code_masked": mask(code)}
                    for spec in _guardian_fields(license_type, matter, claimable=False)
                    if (code := str(vouched.fields.get(spec.key, "")).strip().upper())
                ]
                if vouched is not None and license_type is not None
                else [],
                # a superseded version (a paper printed before a 变更): the version in force and its status now, as
                # gRPC's LicenseSummary gives them; in the reply only (the receipt says them in the status detail)
                "current_license_id": outcome.current.license_id if outcome.current is not None else "",
                "current_status": outcome.current.status.value
                if outcome.current is not None and outcome.current.status is not None
                else "",
                "holder_withheld": withheld,
            }
        return {
            "verdict": outcome.verdict.value,
            "reason": outcome.reason or "",
            "findings": {
                name: _finding(f)
                for name, f in (
                    ("integrity", outcome.integrity),
                    ("status", outcome.status),
                    ("issuer_identity", outcome.issuer_identity),
                )
            },
            "license": summary,
            "checked_at": report.checked_at.isoformat(timespec="seconds"),
            "by": by,
            **({"registered_document": registered} if registered is not None else {}),
            "receipt": receipt,
        }

    def _receipt_part(self, receipt: StoredReceipt) -> dict[str, Any]:
        """A receipt just made: what the page shows of it, and its file."""
        message = _receipt_message(receipt, self._service().receipt_certificate_der)
        return {
            "receipt_id": receipt.receipt_id,
            "algorithm": receipt.algorithm,
            "statement": json.loads(receipt.statement),
            "file": receipt_json(message),
        }


def error_reply(error: ZzgwError) -> Reply:
    """The HTTP status and JSON body of a refusal, clipped as gRPC clips a status (``gateway.api.errors``): its
    message to 400 characters, a violation's description to 200 and its field to 64, 16 violations at most. A refusal
    may echo what the caller sent, and the reply is not to grow with it."""
    status = next((code for kind, code in _HTTP_STATUS if isinstance(error, kind)), 500)
    if status == 413 and error.reason.startswith("TOO_MANY_"):  # too many calls (TOO_MANY_WRONG_CLAIMS), not too
        status = 429  # large a request (found in review)
    violations: tuple[FieldViolation, ...] = getattr(error, "violations", ())
    message = more_violations(echoed(error.message, MAX_ECHO_MESSAGE), len(violations))
    return Reply(
        status,
        _json(
            {
                "error": {
                    "status": status,
                    "reason": error.reason,
                    "message": message,
                    "violations": [
                        {
                            "field": echoed(v.field, MAX_ECHO_FIELD),
                            "reason": v.reason,
                            "description": echoed(v.description, MAX_ECHO_DESCRIPTION),
                        }
                        for v in violations[:MAX_VIOLATIONS]
                    ],
                }
            }
        ),
        reason=error.reason,
    )


_QUERY_SHOWN = 64
"""Characters of a query that is not a license's code shown back in its refusal: enough to tell which input it was."""


def _not_a_license_code(query: str) -> InvalidRequestError:
    """The refusal of a query that is neither a license identifier nor a ``ZZ1:`` code, sent without a license type
    (``type_code``) to look it up as a license number: REQUIRED on ``type_code``, which the page reads as
    按证照编号核验时，请选择证照类型, with the words saying why. One longer than any number a look-up takes
    (``MAX_NUMBER_TYPED``) is TOO_LONG, as it is with a type: its length is looked at before anything of it is shown
    back, and what is shown is clipped (a 5 MB query had come back twice, 10 MB)."""
    if len(query) > MAX_NUMBER_TYPED:
        return invalid(
            "query",
            "TOO_LONG",
            f"输入的内容不是证照标识或核验码，作为证照编号又超过{MAX_NUMBER_TYPED}个字符"
            f"（the query is not a license identifier or a ZZ1: code, and is longer than a license number may be: "
            f"at most {MAX_NUMBER_TYPED} characters）",
        )
    shown = clip(query, _QUERY_SHOWN)
    return invalid(
        "type_code",
        "REQUIRED",
        f"“{shown}”不是证照标识或核验码；按证照编号核验时，请选择证照类型"
        "（not a license identifier or a ZZ1: code: choose the license type to look a license number up）",
    )


def not_allowed_text(path: str, allowed: Sequence[str]) -> str:
    """What a 405 says, Chinese first: the console's JSON error and the gateway's plain-text refusal alike (one
    wording, built here only)."""
    methods = ", ".join(allowed)
    return f"{path} 只接受 {methods} 请求（{path} takes {methods} only）"


def method_not_allowed(path: str, allowed: Sequence[str]) -> Reply:
    """405 / METHOD_NOT_ALLOWED for a call of the console's API made with another method than the ones it is served
    for (``allowed``, which the server also states in ``Allow``): in the JSON error form of every refusal, not a bare
    404, which had told a department's system the call did not exist."""
    error = {
        "status": 405,
        "reason": "METHOD_NOT_ALLOWED",
        "message": not_allowed_text(path, allowed),
        "violations": [],
    }
    return Reply(405, _json({"error": error}), reason="METHOD_NOT_ALLOWED")


def headers(content_type: str) -> list[tuple[bytes, bytes]]:
    """The console's response headers: its content type, and no framing, sniffing, referrer or caching."""
    return [(b"content-type", content_type.encode()), *_SECURITY_HEADERS]


def _finding(finding: Finding) -> dict[str, str]:
    return {"result": finding.result.value, "reason": finding.reason or "", "detail": finding.detail}


def _archive_said(archived: Archived, result: CheckResult) -> str:
    """Whether the archive holds a receipt looked up, as ``archived`` says (``SAME``, ``DIFFERENT``, ``MISSING``), and
    for one it lacks whose signature checked (``PASSED``: under this gateway's own receipt certificates, the only ones
    it accepts), ``MISSING_SIGNED_HERE``. A receipt made after the backup a store was restored from is lost from its
    archive, and its file still checks: the page had said such a receipt was not this gateway's, or forged (a
    reviewer, R2). It is not one to rely on in place of the material either: the archive, not the signature, tells a
    receipt the gateway made (a retired receipt key signs files that check too: receipts.md)."""
    if archived is Archived.MISSING and result is CheckResult.PASSED:
        return "MISSING_SIGNED_HERE"
    return archived.value


def _holder_part(holder: Holder | None, license_type: LicenseType | None) -> dict[str, Any] | None:
    """A license's holder as a verification shows it (a person masked, an organisation whole; a code hidden whole
    beside the birth date a type ``issued_at_birth`` states in the receipt's ``valid_from``), for the page to hold
    against the applicant; None for none given."""
    if holder is None:
        return None
    return {
        "holder_name_masked": holder.shown_name,
        "holder_code_masked": shown_holder_code(holder, license_type),
        "holder_in_full": holder.publicly_registered,
        "holder_code_type": holder.code_type,
    }


def holder_code_number(number: str, license_type: LicenseType) -> str:
    """``number`` of ``license_type`` without hyphens when the type's numbers are its holders' codes (a 营业执照's
    统一社会信用代码, a 居民身份证's 公民身份号码: ``license_number_of_holder``) and it is one without them: no such
    number has a hyphen, and one pasted with them (913701-0000000078R7) had been a red 未找到该证照, where spaces are
    dropped (``normal_number``; review clerk, R2). Any other number as given: a hyphen may be part of it."""
    bare = HYPHENS.sub("", number)
    return (
        bare if license_type.license_number_of_holder and re.fullmatch(r"[0-9A-Z]{18}", normal_number(bare)) else number
    )


def _guardian_fields(license_type: LicenseType, matter: Matter, *, claimable: bool) -> list[FieldSpec]:
    """The fields of ``license_type`` naming its holder's parents (``guardian_of_holder``: a 出生医学证明's mother and
    father) that ``matter``'s materials use, of a type it uses: shown to its clerk masked (a matter sees no more than
    its fields); with ``claimable``, those a claim under it may compare (``CheckClaim`` refuses the others, on the
    holder's log: a field never shared, or sensitive and seen only masked, as ``VerificationService.check_claim``
    says)."""
    materials = [material for material in matter.materials if material.type_code == license_type.code]
    used = {key for material in materials for key in (*material.fields, *material.full_fields)}
    whole = {key for material in materials for key in material.full_fields}
    return [
        spec
        for spec in license_type.fields
        if spec.guardian_of_holder
        and spec.key in used
        and license_type.field_sharing_class(spec.key) is not SharingClass.NOT_SHARED
        and spec.sensitivity is not Sensitivity.SECRET
        and not (claimable and spec.sensitivity is Sensitivity.SENSITIVE and spec.key not in whole)
    ]


def _receipt_message(receipt: StoredReceipt, certificate: bytes) -> verification_pb2.Receipt:
    """The receipt as ``zzgw.v1.Receipt``, whose JSON is the receipt file, with the certificate that signed it."""
    return verification_pb2.Receipt(
        receipt_id=receipt.receipt_id,
        statement=receipt.statement,
        signature=receipt.signature,
        proof=receipt.proof,
        algorithm=receipt.algorithm,
        certificate=certificate,
    )


def _static(name: str) -> bytes:
    return resources.files("adapters").joinpath("console_static", name).read_bytes()


def _json(value: object) -> bytes:
    """``value`` as JSON in UTF-8. A lone surrogate (U+D800-DFFF: no character, so UTF-8 has no bytes for it) would
    be written as '?': a request holding one is refused before it is read further (``_request``), and a reply, a
    refusal above all, must never fail to be written (an error reply echoing one had been a 500 with a traceback)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "replace")


def _request(body: bytes) -> Mapping[str, Any]:
    if _more_values(body, MAX_REQUEST_VALUES):
        limit = f"{MAX_REQUEST_VALUES:,}"
        raise ResourceExhaustedError(
            f"请求中的键和值超过{limit}个（the request holds more than {limit} keys and values）",
            reason="REQUEST_TOO_LARGE",
        )
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        # also bytes that are not UTF-8, and arrays or objects nested deeper than the interpreter's recursion limit
        # ('[' * 200_000): malformed like any other request, not a defect of the gateway's
        raise _malformed("请求不是有效的 JSON（the request is not JSON）") from None
    if not isinstance(request, dict):
        raise _malformed("请求须为 JSON 对象（the request is not a JSON object）")
    if (found := _lone_surrogate(request)) is not None:
        where = clip(found, MAX_ECHO_FIELD)  # a path of the caller's keys, as gRPC clips a field's name
        field = where or "请求"
        refusal = (
            f"{field}含有孤立的代理项转义（如 \\ud800），不是有效的 Unicode 文本，请删除后重试"
            f"（{where or 'the request'} holds a lone surrogate escape such as \\ud800: no Unicode character, so no "
            "text; send text as UTF-8）"
        )
        raise InvalidRequestError([FieldViolation(field=where, reason="BAD_CHARACTERS", description=refusal)], refusal)
    return request


_SURROGATE = re.compile("[\ud800-\udfff]")
_BEFORE_ITEM = (b"{", b"[", b",", b":")
"""What comes before each key and value of JSON text but its first (inside a string too, where it is no such thing)."""
_JSON_ITEM = re.compile(rb'"[^"\\]*+(?:\\[\s\S][^"\\]*+)*+"?|-?[0-9][0-9.eE+-]*+|true|false|null|[\[{]')
"""A key or a value of JSON text, found from its start: a string (whole, so that nothing in it is taken for one; one
left open runs to the end, so that no text is searched twice), a number, a literal, or an array's or object's start."""


def _more_values(body: bytes, limit: int) -> bool:
    """Whether the JSON text ``body`` holds more than ``limit`` keys and values, told without parsing it: a request of
    some millions of them (``{"x": [{}, {}, …]}``, 11 MB) had been parsed and then walked for lone surrogates, a path
    built for each, taking some 750 MB and 6.5 s (a reviewer, R1). Cheap both ways: when there are fewer bytes that
    may come before one than the limit (a check with a PDF of 11 MB in base64 has a handful), that is all; else the
    keys and values are counted outside strings up to one past the limit, each string skipped in one step."""
    if sum(body.count(mark) for mark in _BEFORE_ITEM) < limit:
        return False
    return _JSON_ITEM.subn(b"", body, count=limit + 1)[1] > limit


def _lone_surrogate(request: Mapping[str, Any]) -> str | None:
    """Where in ``request`` a string holds a lone surrogate (``"\\ud800"``: valid JSON text, but no Unicode
    character), as a field's path (``use.purpose``, ``fields.holder_name``; the object whose key holds one, "" for
    the request's own), or None. Refused up front, for every call and every field: a string with one cannot be
    written as UTF-8, so a receipt stating it had failed to be signed (a 500, and a check under another department's
    matter left off the audit trail), and in ``fields`` it had been compared and answered. gRPC cannot carry one at
    all: a request whose strings are not UTF-8 is MALFORMED_REQUEST there."""
    pending: list[tuple[str, object]] = [("", request)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    return path
                pending.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def _malformed(description: str) -> InvalidRequestError:
    """MALFORMED_REQUEST, about the whole request (no field), said without a field's name before it (it had begun
    ": the request is not JSON"), as gRPC says it (``gateway.api.interceptors``)."""
    return InvalidRequestError(
        [FieldViolation(field="", reason="MALFORMED_REQUEST", description=description)], description
    )


def _text(request: Mapping[str, Any], key: str, within: str = "") -> str:
    """The string at ``key`` ("" when absent); NOT_TEXT naming it (``within``: the path of the object it is in,
    ``use.``) when it is something else."""
    value = request.get(key, "")
    if not isinstance(value, str):
        field = within + key
        raise invalid(field, "NOT_TEXT", f"{field}须为字符串（{field} must be a string）")
    return value


def _count(request: Mapping[str, Any], key: str) -> int:
    """The whole number at ``key`` (0 when absent); NOT_A_NUMBER naming it when it is something else."""
    value = request.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(key, "NOT_A_NUMBER", f"{key}须为整数（{key} must be a whole number）")
    return value


def _base64(request: Mapping[str, Any], key: str) -> bytes:
    text = _text(request, key)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(key, "NOT_BASE64", f"{key}须为 base64 编码（{key} must be base64）") from None


async def run_blocking(call: Callable[[], Reply], *, writes: bool = False) -> Reply:
    """``call`` on the loop's executor, its refusal as a JSON error naming the member it was refused (``attributed``:
    a sign-in refused after its token was recognised had been logged as a stranger's, a reviewer) (anything else
    propagates: a defect). ``writes``: it may store something (a receipt, an access record: ``store_work``)."""
    try:
        return await store_work(call, writes=writes)  # given up while the database does not answer
    except ZzgwError as error:
        return error_reply(error)._replace(member=attributed_member(error))


def attributed(error: BaseException, member: str) -> BaseException:
    """``error`` marked as raised for ``member``'s call, for the access log's line of an answer the server makes
    (a refusal after the token was recognised, the store unavailable, a defect): ``attributed_member``."""
    error.zzgw_console_member = member  # type: ignore[attr-defined]
    return error


def attributed_member(error: BaseException) -> str:
    return str(getattr(error, "zzgw_console_member", ""))
