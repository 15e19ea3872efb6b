"""An issuer's refusals over real gRPC, as its clerk reads them: Chinese first, naming the field by its Chinese name,
the English after in full-width brackets; the status and reason codes as they were.

Testers found these English only: registering, revoking and using seals (``SealService``), the issuer's own license
document, and a status change without an action.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import grpc
import pytest

from gateway.services.seals import DOCUMENT_HEADROOM_BYTES
from protos.zzgw.v1 import issuance_pb2, seal_pb2, seal_pb2_grpc
from tests.api.test_documents import new_request
from tests.api.test_refusal_words import chinese_first, descriptions, refused
from tests.api.test_seals import license_pdf, register, seals
from tests.conftest import MARKET, RunningGateway, error_details

S = seal_pb2


def _registration(**fields: object) -> S.RegisterSealRequest:
    request = S.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="合同专用章")
    for key, value in fields.items():
        setattr(request, key, value)
    return request


def _sealing(running: RunningGateway, **fields: object) -> S.SealDocumentRequest:
    """A SealDocument request with one of the 市场监督管理局's own seals, and its 营业执照 unless ``fields`` say."""
    request = S.SealDocumentRequest(seal_id=register(running).seal_id, pdf=license_pdf(running))
    for key, value in fields.items():
        setattr(request, key, value)
    return request


def _sealing_with(running: RunningGateway, seal_id: str) -> S.SealDocumentRequest:
    return S.SealDocumentRequest(seal_id=seal_id, pdf=license_pdf(running))


def _too_large(running: RunningGateway) -> S.SealDocumentRequest:
    return _sealing(running, pdf=b"%PDF-1.7\n" + b"0" * running.gateway.seals.max_document_bytes)  # type: ignore[union-attr]


def _said_too_large(running: RunningGateway) -> str:
    limit = running.gateway.seals.max_document_bytes  # type: ignore[union-attr]
    sent, message = limit + 9, limit + DOCUMENT_HEADROOM_BYTES
    return (
        f"pdf: 待盖章的 PDF 文件过大（the PDF has {sent} bytes; a PDF to seal may have at most {limit}: the gateway's "
        f"message limit ({message} bytes) less {DOCUMENT_HEADROOM_BYTES} kept for the seal and the use stamp of a "
        "sharing copy）"
    )


PUNCTUATION = "（）()〔〕【】·・、-－—"
BAD_SEAL_NAME_SAID = (
    f"name: 印章名称须为1至12个汉字、字母、数字或{PUNCTUATION}，至少含一个汉字；其他文字暂不能刻制"
    f"（a seal name is 1-12 Chinese characters, letters, digits and {PUNCTUATION}, one Chinese at least: "
)
Call = Callable[[RunningGateway], object]
REFUSALS: list[tuple[str, Call, grpc.StatusCode, str, str | Callable[[RunningGateway], str]]] = [
    (
        "seal_name_too_long",
        lambda gw: seals(gw, MARKET).RegisterSeal(_registration(name="一个名字特别长的专用章印章名称")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_SEAL_NAME",
        f"{BAD_SEAL_NAME_SAID}this one has 15 characters）",
    ),
    (
        "seal_name_emoji",
        lambda gw: seals(gw, MARKET).RegisterSeal(_registration(name="合同😀章")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_SEAL_NAME",
        f"{BAD_SEAL_NAME_SAID}'😀' (U+1F600) is none of them）",
    ),
    (
        "validity_days",
        lambda gw: seals(gw, MARKET).RegisterSeal(_registration(validity_days=4000)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_VALIDITY",
        "validity_days: 有效天数须为1至1825天，填0即730天（validity_days must be 1-1825 (0: 730)）",
    ),
    (
        "seal_id_required",
        lambda gw: seals(gw, MARKET).SealDocument(S.SealDocumentRequest(pdf=b"%PDF")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUIRED",
        "seal_id: 请填写印章编号（seal_id is required）",
    ),
    (
        "negative_page",
        lambda gw: seals(gw, MARKET).SealDocument(_sealing(gw, page=-1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_PLACEMENT",
        "page: 页码从0起算，不能为负数（pages count from 0: page -1 is none of them）",
    ),
    (
        "no_such_page",
        lambda gw: seals(gw, MARKET).SealDocument(_sealing(gw, page=5)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_PLACEMENT",
        "page: 盖章页码或位置超出 PDF 文件范围（the PDF has no page 5）",
    ),
    (
        "document_too_large",
        lambda gw: seals(gw, MARKET).SealDocument(_too_large(gw)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "DOCUMENT_TOO_LARGE",
        _said_too_large,
    ),
    (
        "not_a_pdf_to_seal",
        lambda gw: seals(gw, MARKET).SealDocument(_sealing(gw, pdf=b"not a pdf at all")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "NOT_A_PDF",
        "pdf: 不是 PDF 文件（the data does not start with a %PDF- header）",
    ),
    (
        "not_a_pdf_of_the_issuer",
        lambda gw: gw.issuance(MARKET).IssueLicense(new_request(1, b"not a pdf at all")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "NOT_A_PDF",
        "document: 不是 PDF 文件（the data does not start with a %PDF- header）",
    ),
    (
        "crl_reason",
        lambda gw: seals(gw, MARKET).RevokeSeal(S.RevokeSealRequest(seal_id="X", reason="停用", crl_reason="lost")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_CRL_REASON",
        "crl_reason: 吊销原因代码须为以下之一：密钥泄露、单位变更、被取代、停止使用（crl_reason must be one of "
        "key_compromise, affiliation_changed, superseded, cessation_of_operation）",
    ),
    (
        "status_action_required",
        lambda gw: gw.issuance(MARKET).ChangeLicenseStatus(
            issuance_pb2.ChangeLicenseStatusRequest(request_id="status-" + uuid.uuid4().hex, license_id="x")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUIRED",
        "action: 请选择状态变更操作：暂停、恢复、吊销或撤销、注销（action must be SUSPEND, RESUME, REVOKE or CANCEL）",
    ),
    (
        "document_license_id_required",
        lambda gw: gw.issuance(MARKET).GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest()),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUIRED",
        "license_id: 请填写证照标识（license_id is required）",
    ),
    (
        "seal_not_found",
        lambda gw: seals(gw, MARKET).GetSeal(S.GetSealRequest(seal_id="NOSUCHSEAL")),
        grpc.StatusCode.NOT_FOUND,
        "SEAL_NOT_FOUND",
        "没有印章 NOSUCHSEAL（no seal NOSUCHSEAL）",
    ),
]


@pytest.mark.parametrize(("case", "call", "code", "reason", "said"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_an_issuers_refusals_are_said_chinese_first(
    running: RunningGateway,
    case: str,
    call: Call,
    code: grpc.StatusCode,
    reason: str,
    said: str | Callable[[RunningGateway], str],
) -> None:
    """The message is the first violation's, ``field: description``; every violation is Chinese first."""
    error = refused(lambda: call(running))
    assert (error.code(), error_details(error)[0].reason) == (code, reason)
    assert error.details() == (said if isinstance(said, str) else said(running))
    for (field, _), description in descriptions(error).items():
        assert chinese_first(description), (field, description)


def test_a_seal_from_another_gateway_of_the_store_is_refused_chinese_first(running: RunningGateway) -> None:
    """A replica without the seal's key file (SEAL_KEY_NOT_HERE): the clerk reads why it cannot seal here."""
    seal = register(running, name="合同专用章")
    owner = f"seal{seal.seal_id}"  # the key store's name for a seal's key (SealService.register)
    running.gateway.keys.path(owner).unlink()
    running.gateway.keys._loaded.pop(owner, None)
    error = refused(lambda: seals(running, MARKET).SealDocument(_sealing_with(running, seal.seal_id)))
    assert (error.code(), error_details(error)[0].reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SEAL_KEY_NOT_HERE")
    assert (error.details() or "").startswith(
        f"印章 {seal.seal_id}（合同专用章）的密钥不在本网关（经同一数据库的另一台网关登记，或数据目录比数据库旧），"
        f"暂不能用章，请联系网关运维（the key of seal {seal.seal_id} (合同专用章) is not in this gateway's key "
        "store: "
    )


def test_a_revoked_seal_is_refused_chinese_first(running: RunningGateway) -> None:
    seal = register(running)
    stub: seal_pb2_grpc.SealServiceStub = seals(running, MARKET)
    stub.RevokeSeal(S.RevokeSealRequest(seal_id=seal.seal_id, reason="停用"))
    error = refused(lambda: stub.SealDocument(_sealing_with(running, seal.seal_id)))
    assert (error.code(), error_details(error)[0].reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SEAL_REVOKED")
    assert error.details() == "印章已吊销，不能用章（the seal is revoked and cannot seal）"


def test_a_seal_revoked_after_the_stores_copy_is_said_as_such_by_init_and_to_its_issuer(
    running: RunningGateway,
) -> None:
    """A database restored from a copy taken before a RevokeSeal shows the seal in force, and the seal-maker CA holds
    it revoked: its issuer had been told only of tampering, and `zzgw init` said nothing (a disaster-recovery
    tester). Init names the seal; the issuer is told of the restore too."""
    from sqlalchemy import text

    from gateway.server import initialise

    seal = register(running)  # the issuer's newest: the one its records are sealed with
    seals(running, MARKET).RevokeSeal(S.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露"))
    with running.gateway.db.engine.begin() as connection:  # the copy from before the revocation, put back
        connection.execute(
            text("UPDATE seals SET status = 'ACTIVE', revoked_at = NULL WHERE seal_id = :id"), {"id": seal.seal_id}
        )
    report = initialise(running.gateway.settings)
    assert report.seals_revoked_by_ca == (f"{seal.seal_id} of {MARKET}",)
    error = refused(lambda: running.issuance(MARKET).IssueLicense(new_request(91)))
    assert (error.code(), error_details(error)[0].reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SEAL_REVOKED")
    assert (error.details() or "").startswith(
        "本部门最新的印章已吊销，但库中显示为有效（数据库从吊销前的备份恢复，或被绕过网关改动）"
    )
