"""A catalog adopted against the licenses the store holds (`zzgw init --adopt-catalog`, docs/operations.md: Changing the
catalog), as a catalog author changes it: a field taken out of a type, after which the licenses carrying it could not
be amended at all; a type retired, whose licenses any department had then verified under any matter, learning that
one existed, its status, issuer and holder (a catalog author tester). SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import text

from adapters.http import HttpServer
from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.config import Settings
from gateway.server import http_app, initialise
from protos.zzgw.v1 import (
    authorization_pb2,
    authorization_pb2_grpc,
    issuance_pb2,
    seal_pb2,
    seal_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from signing.keys import SM2_SM3
from signing.qr import QrClaims, encode_qr
from tests.adapters.test_console import fetch
from tests.api.test_issuance import unique
from tests.conftest import (
    CIVIL,
    MARKET,
    PASSPHRASE,
    POLICE,
    TAX,
    RunningGateway,
    backend_params,
    error_details,
    fresh_database,
    start_gateway,
    trail_rows,
)

DEMO_CATALOG = Path(__file__).resolve().parent.parent / "gateway" / "bootstrap" / "catalog.json"
BUSINESS_LICENSE, MARRIAGE = samples.BUSINESS_LICENSE, samples.MARRIAGE
FPSL = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="新办纳税人首次申领发票")
CSDJ = verification_pb2.UseContext(matter_code="370100-CSDJ-001", purpose="新生儿出生登记")
PASSED = verification_pb2.CHECK_RESULT_PASSED


def catalog_file(path: Path, *edits: Callable[[dict[str, Any]], object]) -> Path:
    """The demo catalog with ``edits`` made to its JSON, written to ``path``."""
    raw = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    for edit in edits:
        edit(raw)
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return path


def type_of(raw: dict[str, Any], code: str) -> dict[str, Any]:
    (found,) = (t for t in raw["license_types"] if t["code"] == code)
    return found


def without_field(code: str, key: str) -> Callable[[dict[str, Any]], None]:
    """The field ``key`` taken out of type ``code``, and out of the matters' materials that list it."""

    def edit(raw: dict[str, Any]) -> None:
        license_type = type_of(raw, code)
        license_type["fields"] = [f for f in license_type["fields"] if f["key"] != key]
        for material in (m for matter in raw["matters"] for m in matter["materials"] if m["type_code"] == code):
            for listed in ("fields", "full_fields"):
                material[listed] = [k for k in material.get(listed, []) if k != key]

    return edit


def retired(code: str) -> Callable[[dict[str, Any]], None]:
    """Type ``code`` taken out of the catalog, and out of the matters whose materials listed it."""

    def edit(raw: dict[str, Any]) -> None:
        raw["license_types"] = [t for t in raw["license_types"] if t["code"] != code]
        for matter in raw["matters"]:
            matter["materials"] = [m for m in matter["materials"] if m["type_code"] != code]

    return edit


@pytest.fixture(params=backend_params())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def settings_of(tmp_path: Path, store: str, catalog: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, catalog=str(catalog))


@contextlib.contextmanager
def serving(tmp_path: Path, store: str, catalog: Path) -> Iterator[RunningGateway]:
    """A gateway of the store serving ``catalog``, the store's already (adopted), stopped after."""
    running = start_gateway(tmp_path / "var", store, catalog=str(catalog))
    try:
        yield running
    finally:
        running.server.stop(0)
        running.gateway.close()


def business_license(running: RunningGateway, n: int, issuer: str = MARKET) -> str:
    return running.issuance(issuer).IssueLicense(issue_request(unique(samples.business_license(n)))).license.license_id


def status_change(running: RunningGateway, license_id: str, action: issuance_pb2.StatusAction) -> None:
    running.issuance(MARKET).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id="st-" + uuid.uuid4().hex, license_id=license_id, action=action, reason="测试"
        )
    )


def amend(running: RunningGateway, license_id: str, **request: Any) -> issuance_pb2.AmendLicenseResponse:
    return running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="am-" + uuid.uuid4().hex, license_id=license_id, reason="经营范围变更", **request
        )
    )


def refused(call: Callable[[], object]) -> tuple[grpc.StatusCode, list[tuple[str, str]], str]:
    """Run ``call``, which must fail: its status code, violations and message."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), error_details(caught.value)[1], caught.value.details() or ""


def verify_for_invoices(running: RunningGateway, license_id: str) -> verification_pb2.VerificationReport:
    stub = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))
    return stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=license_id)).report


def test_an_amendment_drops_a_field_the_catalog_took_out_of_its_type(store: str, tmp_path: Path) -> None:
    """A field the catalog took out of the 营业执照 (its required 住所): the licenses that carry it verify as before,
    and an amendment of one is refused until it drops the field (clear_fields: FIELD_NOT_IN_CATALOG, said with
    whatever else is to put right), then amended without it. Every amendment had been refused UNKNOWN_FIELD, for a
    field the issuer had not sent, and clear_fields of it too."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", without_field(BUSINESS_LICENSE, "domicile"))
    with serving(tmp_path, store, before) as running:
        first, second, cancelled = (business_license(running, n) for n in range(11, 14))
        status_change(running, cancelled, issuance_pb2.STATUS_ACTION_CANCEL)
    initialise(settings_of(tmp_path, store, after), adopt_catalog=True)

    with serving(tmp_path, store, after) as running:
        assert verify_for_invoices(running, first).verdict == PASSED
        scope = {"business_scope": "热食类食品制售；冷食类食品制售"}
        code, violations, message = refused(lambda: amend(running, first, fields=scope))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("fields.domicile", "FIELD_NOT_IN_CATALOG")])
        assert message.startswith(
            "fields.domicile: 此证照载有的信息项 'domicile' 已不在证照目录的营业执照中：请在 clear_fields 中列出它，"
            "随本次变更删除"
        )
        future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
        _, violations, _ = refused(lambda: amend(running, first, fields={**scope, "established_on": future}))
        assert violations == [("fields.domicile", "FIELD_NOT_IN_CATALOG"), ("fields.established_on", "DATE_IN_FUTURE")]
        _, violations, _ = refused(lambda: amend(running, first, fields={**scope, "domicile": "济南市历下区"}))
        assert violations == [("fields.domicile", "UNKNOWN_FIELD")]  # a value for a field the type has not
        _, violations, _ = refused(lambda: amend(running, first, fields=scope, clear_fields=["domicile", "nickname"]))
        assert violations == [("clear_fields.nickname", "UNKNOWN_FIELD")]  # what the license does not carry either

        amended = amend(running, first, fields=scope, clear_fields=["domicile"]).license
        stored = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=amended.license_id))
        assert "domicile" not in stored.license.fields
        assert stored.license.fields["business_scope"] == scope["business_scope"]
        assert verify_for_invoices(running, amended.license_id).verdict == PASSED
        only_dropped = amend(running, second, clear_fields=["domicile"]).license  # the drop alone is a change
        assert only_dropped.version == 2


def by_what_names_it(
    running: RunningGateway,
    member: str,
    use: verification_pb2.UseContext,
    license_id: str,
    code: str,
    pdf: bytes,
    stamp: bytes,
) -> list[tuple[Callable[[], object], str]]:
    """Each call by ``member`` under ``use`` that names one license (by its identifier, printed code, document, or a
    stamp over its document), with the request field that names it."""
    verify = verification_pb2_grpc.VerificationServiceStub(running.channel(member))
    sharing = sharing_pb2_grpc.SharingServiceStub(running.channel(member))
    access = authorization_pb2_grpc.AuthorizationServiceStub(running.channel(member))
    V = verification_pb2
    return [
        (lambda: verify.VerifyLicense(V.VerifyLicenseRequest(use=use, license_id=license_id)), "license_id"),
        (lambda: verify.VerifyLicense(V.VerifyLicenseRequest(use=use, qr_code=code)), "qr_code"),
        (lambda: verify.VerifyDocument(V.VerifyDocumentRequest(use=use, pdf=pdf)), "pdf"),
        (lambda: verify.VerifyStamp(V.VerifyStampRequest(use=use, document=pdf, stamp=stamp)), "document"),
        (
            lambda: sharing.GetLicenseData(sharing_pb2.GetLicenseDataRequest(use=use, license_id=license_id)),
            "license_id",
        ),
        (
            lambda: access.RequestAccess(
                authorization_pb2.RequestAccessRequest(use=use, license_id=license_id, duration_days=30)
            ),
            "license_id",
        ),
    ]


def test_a_retired_types_licenses_are_used_by_no_matter_on_any_path(store: str, tmp_path: Path) -> None:
    """结婚证 taken out of the catalog: init says no matter can use its licenses, and none can. Under a matter that
    never used it (发票申领) and under one that did (出生登记), a 结婚证 is refused NOT_USED_BY_MATTER before
    anything is looked up — by identifier, printed code, document, stamp, at the console, for its data and access —
    as a type the matter's materials do not list is; by number its type is unknown. It had been reported under any
    matter: that it exists, its status, its issuer, validity and the holder, masked."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", retired(MARRIAGE))
    with serving(tmp_path, store, before) as running:
        issued = running.issuance(CIVIL).IssueLicense(issue_request(unique(samples.marriage_certificate(7)))).license
        license_id = issued.license_id
        stored = running.gateway.issuance._get_stored(license_id)
        key = running.gateway.seals.record_key(CIVIL)  # type: ignore[union-attr]
        code = encode_qr(key, QrClaims.of(stored.content, issued_at=dt.datetime.now(dt.UTC)))
        document = issuance_pb2.GetLicenseDocumentRequest(license_id=license_id)
        pdf = running.issuance(CIVIL).GetLicenseDocument(document).pdf
        civil_seals = seal_pb2_grpc.SealServiceStub(running.channel(CIVIL))
        seal = civil_seals.RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="电子证照专用章", algorithm=SM2_SM3)
        ).seal
        stamp = civil_seals.StampDocument(seal_pb2.StampDocumentRequest(seal_id=seal.seal_id, document=pdf)).stamp
    assert initialise(settings_of(tmp_path, store, after), adopt_catalog=True).types_left == (
        f"{MARRIAGE} (1 licenses)",
    )

    with serving(tmp_path, store, after) as running:
        http = HttpServer(http_app(running.gateway), "127.0.0.1:0")
        http.start()
        try:
            before_calls = len(trail_rows(running, "seq", "license_id = :id", id=license_id))
            for member, use in ((TAX, FPSL), (POLICE, CSDJ)):
                for call, field in by_what_names_it(running, member, use, license_id, code, pdf, stamp):
                    status, violations, message = refused(call)
                    assert (status, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [(field, "NOT_USED_BY_MATTER")])
                    assert f"不使用证照类型 {MARRIAGE}：证照目录中没有这一类型" in message, message
                by_number = verification_pb2.VerifyLicenseRequest(
                    use=use, type_code=MARRIAGE, license_number=issued.license_number
                )
                verify = verification_pb2_grpc.VerificationServiceStub(running.channel(member)).VerifyLicense
                said = refused(functools.partial(verify, by_number))
                assert said[1] == [("type_code", "UNKNOWN_LICENSE_TYPE")]
                clerk = {"matter_code": use.matter_code, "purpose": use.purpose, "operator": "窗口03 王敏"}
                for asked in ({"query": license_id}, {"query": code}, {"pdf": base64.b64encode(pdf).decode()}):
                    url = f"http://127.0.0.1:{http.port}/console/api/verify"
                    status_code, answer = fetch(url, {"use": clerk, **asked}, running.tokens[member])
                    assert status_code == 400 and answer["error"]["reason"] == "NOT_USED_BY_MATTER", answer
                    assert "license" not in answer and "verdict" not in answer
        finally:
            http.stop()
        # each attempt on the holder's and the issuer's logs, refused, naming the license; no receipt made
        refusals = trail_rows(running, "decision, reason", "license_id = :id", id=license_id)[before_calls:]
        assert refusals == [("DENIED", "NOT_USED_BY_MATTER")] * 2 * (6 + 3)
        with running.gateway.db.engine.connect() as connection:
            query = text("SELECT count(*) FROM receipts WHERE license_id = :id")
            assert connection.execute(query, {"id": license_id}).scalar_one() == 0
