"""A catalog adopted against the licenses the store holds (`zzgw init --adopt-catalog`, docs/operations.md: Changing the
catalog), as a catalog author changes it: a license type handed to another department (机构改革), a field taken out
of a type, a type retired, issuers that are no issuing members. Each had been adopted without a word; then the old
department's licenses verified FAILED and could be changed by no one, the licenses carrying the field could not be
amended at all, and any department learnt under any matter that a retired type's license existed, its status, issuer
and holder (a catalog author tester). SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.config import ConfigError, Settings
from gateway.server import initialise
from gateway.services.catalog_pin import CATALOG_FACT
from gateway.store.database import Database
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
from tests.api.test_documents import page_text
from tests.api.test_issuance import unique
from tests.api.test_seals import license_pdf
from tests.commands import run_zzgw
from tests.conftest import (
    CIVIL,
    ID_CARD,
    MARKET,
    PASSPHRASE,
    POLICE,
    TAX,
    RunningGateway,
    _gateway_settings,
    _serve,
    case_number,
    catalog_fingerprint,
    error_details,
    http_side,
    initialised_copy,
    start_gateway,
    today,
    trail_rows,
)

DEMO_CATALOG = Path(__file__).resolve().parent.parent / "gateway" / "bootstrap" / "catalog.json"
DEMO_FINGERPRINT = catalog_fingerprint(DEMO_CATALOG)
BUSINESS_LICENSE, FOOD_PERMIT, MARRIAGE = samples.BUSINESS_LICENSE, samples.FOOD_PERMIT, samples.MARRIAGE
HEALTH = "113701009937010623"  # 济南市卫生健康委员会: an issuer (出生医学证明), here the 营业执照's new one
FPSL = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="新办纳税人首次申领发票")
CSDJ = verification_pb2.UseContext(matter_code="370100-CSDJ-001", purpose="新生儿出生登记")
SPJC = verification_pb2.UseContext(matter_code="370100-SPJC-001", purpose="食品生产经营监督检查：核验食品生产许可证")
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


def issuers(code: str, *named: str) -> Callable[[dict[str, Any]], object]:
    """Type ``code`` issued by the members ``named``."""
    return lambda raw: type_of(raw, code).update(issuers=list(named))


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


def settings_of(tmp_path: Path, store: str, catalog: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, catalog=str(catalog))


@contextlib.contextmanager
def serving(tmp_path: Path, store: str, catalog: Path) -> Iterator[RunningGateway]:
    """A gateway of the store serving ``catalog``, the store's already (adopted), stopped after. A store not set up
    yet, to serve the demo catalog, is a copy of one ``initialise`` set up with it, as ``start_gateway`` sets one up
    (``initialised_copy``, as the module gateways of ``running`` are): no test here is of a new store's first init
    with the demo catalog (those of other catalogs call ``initialise`` themselves), and that init, its migrations,
    members and seals, was the largest part of this module's time."""
    data_dir = tmp_path / "var"
    if not data_dir.exists() and catalog_fingerprint(catalog) == DEMO_FINGERPRINT and initialised_copy(store, data_dir):
        running = _serve(_gateway_settings(data_dir, store, {"catalog": str(catalog)}), None)
    else:
        running = start_gateway(data_dir, store, catalog=str(catalog))
    try:
        yield running
    finally:
        running.stop()


def stored_fingerprint(store: str) -> str | None:
    """The fingerprint of the catalog the store's gateways serve (the fact init records)."""
    db = Database.connect(store)
    try:
        with db.unit_of_work() as uow:
            return uow.facts.get(CATALOG_FACT)
    finally:
        db.dispose()


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


def zzgw_env(tmp_path: Path, store: str, catalog: Path) -> dict[str, str]:
    """The environment of a `zzgw` command on the store, with ``catalog``."""
    return {
        **os.environ,
        "ZZGW_DATA_DIR": str(tmp_path / "var"),
        "ZZGW_DATABASE_URL": store,
        "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
        "ZZGW_CATALOG": str(catalog),
    }


def verify_for_invoices(running: RunningGateway, license_id: str) -> verification_pb2.VerificationReport:
    stub = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))
    return stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=license_id)).report


def test_a_type_is_not_taken_from_a_department_whose_licenses_of_it_have_not_ended(store: str, tmp_path: Path) -> None:
    """机构改革: the 营业执照 moved to another department. Init refuses a catalog that takes the department that
    issued licenses of the type out of its issuers while any has not ended (active, suspended, revoked and not
    cancelled: from the restart on each would verify FAILED / NOT_AUTHORITATIVE_ISSUER, and no one could amend,
    revoke or cancel it), naming the type, the department and the count, and adopts nothing. Handed over as the
    refusal says — both departments named, the old one's licenses cancelled — the type is then taken from it."""
    before = catalog_file(tmp_path / "catalog.json")
    moved = catalog_file(tmp_path / "moved.json", issuers(BUSINESS_LICENSE, HEALTH))
    both = catalog_file(tmp_path / "both.json", issuers(BUSINESS_LICENSE, MARKET, HEALTH))
    with serving(tmp_path, store, before) as running:
        active, revoked, cancelled, suspended = (business_license(running, n) for n in range(1, 5))
        status_change(running, revoked, issuance_pb2.STATUS_ACTION_REVOKE)
        status_change(running, cancelled, issuance_pb2.STATUS_ACTION_CANCEL)
        status_change(running, suspended, issuance_pb2.STATUS_ACTION_SUSPEND)

    with pytest.raises(ConfigError) as refusal:
        initialise(settings_of(tmp_path, store, moved), adopt_catalog=True)
    said = str(refusal.value)
    assert said.startswith(f"the catalog (ZZGW_CATALOG {moved}) was not adopted: it takes departments out of license")
    assert f"({BUSINESS_LICENSE} 营业执照: {MARKET} 济南市市场监督管理局, 3 licenses)" in said  # not the cancelled one
    assert "would verify FAILED (NOT_AUTHORITATIVE_ISSUER)" in said and "beside the new one" in said
    assert stored_fingerprint(store) == catalog_fingerprint(before)  # nothing adopted
    command = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, moved), timeout=120)
    assert command.returncode == 2, command.stderr
    assert command.stderr.startswith("zzgw: configuration error: the catalog (ZZGW_CATALOG") and said in command.stderr
    assert stored_fingerprint(store) == catalog_fingerprint(before)

    # handed over: both departments issue it; the old one's licenses verify as before, and it ends them
    assert initialise(settings_of(tmp_path, store, both), adopt_catalog=True).catalog_replaced == catalog_fingerprint(
        before
    )
    with serving(tmp_path, store, both) as running:
        assert verify_for_invoices(running, active).verdict == PASSED
        assert verify_for_invoices(running, business_license(running, 5, issuer=HEALTH)).verdict == PASSED
        for license_id in (active, revoked, suspended):
            status_change(running, license_id, issuance_pb2.STATUS_ACTION_CANCEL)
    report = initialise(settings_of(tmp_path, store, moved), adopt_catalog=True)
    assert report.catalog_replaced == catalog_fingerprint(both) and stored_fingerprint(store) == catalog_fingerprint(
        moved
    )


def test_the_first_catalog_a_store_with_licenses_records_is_held_against_them(store: str, tmp_path: Path) -> None:
    """A store from before catalog fingerprints (2026-12-05) records none: its upgrading init had recorded whatever
    catalog it was given, unchecked, a type taken from the department whose licenses of it are active with it, every
    one of which then verified NOT_AUTHORITATIVE_ISSUER (an upgrade tester, D5). The first catalog recorded on a store
    with licenses is held against them as `--adopt-catalog` holds another, and said; until one is recorded no
    gateway serves the store (the first `zzgw serve` had recorded its own, unchecked too)."""
    before = catalog_file(tmp_path / "catalog.json")
    moved = catalog_file(tmp_path / "moved.json", issuers(BUSINESS_LICENSE, HEALTH))
    with serving(tmp_path, store, before) as running:
        active = business_license(running, 1)
    db = Database.connect(store)
    try:
        with db.engine.begin() as connection:  # as a store upgraded from a version before the fact is
            connection.execute(text("DELETE FROM gateway_facts WHERE name = :name"), {"name": CATALOG_FACT})
    finally:
        db.dispose()

    for adopt in (False, True):
        with pytest.raises(ConfigError) as refusal:
            initialise(settings_of(tmp_path, store, moved), adopt_catalog=adopt)
        said = str(refusal.value)
        assert said.startswith(
            f"the catalog (ZZGW_CATALOG {moved}) was not recorded as the store's (it records none yet: a store from "
            "before catalog fingerprints;"
        ), said
        assert f"({BUSINESS_LICENSE} 营业执照: {MARKET} 济南市市场监督管理局, 1 license)" in said
        assert stored_fingerprint(store) is None
    served = run_zzgw("serve", env=zzgw_env(tmp_path, store, moved), timeout=60)
    assert served.returncode == 2, served.stderr
    assert "records no catalog that its gateways serve" in served.stderr and "run `zzgw init`" in served.stderr
    assert stored_fingerprint(store) is None

    recorded = run_zzgw("init", env=zzgw_env(tmp_path, store, before), timeout=120)
    assert recorded.returncode == 0, recorded.stderr
    assert (
        "catalog recorded: the store recorded no catalog (one from before catalog fingerprints, or an init cut short "
        "before recording it), and its gateways "
        f"serve from now on ZZGW_CATALOG {before} (sha256 {catalog_fingerprint(before)}), held against its licenses"
    ) in recorded.stderr
    assert stored_fingerprint(store) == catalog_fingerprint(before)
    with serving(tmp_path, store, before) as running:
        assert verify_for_invoices(running, active).verdict == PASSED
    again = initialise(settings_of(tmp_path, store, before))
    assert (again.catalog_recorded, again.catalog_replaced) == (False, "")


def test_an_expired_license_keeps_its_type_with_its_department_until_cancelled(store: str, tmp_path: Path) -> None:
    """食品生产许可证 moved to another department while the old one has a license past its validity (已过期, verified
    EXPIRED): it counts as not ended, since taken from its issuer it would verify NOT_AUTHORITATIVE_ISSUER instead of
    its expiry, and the refusal says so and what to do, as operations.md does; it had listed only active, suspended
    and revoked licenses, and the operator saw none of those in the console (a reviewer). Cancelled, it is let go."""
    before = catalog_file(tmp_path / "catalog.json")
    moved = catalog_file(tmp_path / "moved.json", issuers(FOOD_PERMIT, HEALTH))
    issued = today() - dt.timedelta(days=6 * 365)
    record = unique(samples.food_permit(31))
    record.update(issue_date=issued.isoformat(), valid_from=issued.isoformat())
    record["valid_until"] = (issued + dt.timedelta(days=5 * 365)).isoformat()
    with serving(tmp_path, store, before) as running:
        expired = running.issuance(MARKET).IssueLicense(issue_request(record)).license.license_id
        stub = verification_pb2_grpc.VerificationServiceStub(running.channel(MARKET))
        report = stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=SPJC, license_id=expired)).report
        assert report.status.reason == "EXPIRED"

    with pytest.raises(ConfigError) as refusal:
        initialise(settings_of(tmp_path, store, moved), adopt_catalog=True)
    said = str(refusal.value)
    assert (
        "licenses of the type that have not ended, active (expired ones too, 已过期: past its validity a license is "
        "still active until cancelled), suspended, or revoked and not cancelled "
        f"({FOOD_PERMIT} 食品生产许可证: {MARKET} 济南市市场监督管理局, 1 license)"
    ) in said
    assert "until it has cancelled (注销) its licenses of the type, the expired ones too" in said
    with serving(tmp_path, store, before) as running:
        status_change(running, expired, issuance_pb2.STATUS_ACTION_CANCEL)
    assert initialise(settings_of(tmp_path, store, moved), adopt_catalog=True).catalog_replaced == catalog_fingerprint(
        before
    )


def test_a_field_taken_out_of_a_type_is_said_at_adoption_and_an_amendment_drops_it(store: str, tmp_path: Path) -> None:
    """A field the catalog took out of the 营业执照 (its required 住所): init says which field of which type, and how
    many licenses not ended carry it; those licenses verify as before, and an amendment of one is refused until it
    drops the field (clear_fields: FIELD_NOT_IN_CATALOG, said with whatever else is to put right), then amended
    without it. Every amendment had been refused UNKNOWN_FIELD, clear_fields of it too."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", without_field(BUSINESS_LICENSE, "domicile"))
    with serving(tmp_path, store, before) as running:
        first, second, cancelled = (business_license(running, n) for n in range(11, 14))
        status_change(running, cancelled, issuance_pb2.STATUS_ACTION_CANCEL)
    adopted = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, after), timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    assert (
        "warning: the catalog's license types no longer have 1 field that licenses not ended carry "
        f"({BUSINESS_LICENSE} domicile (2 licenses)): those licenses keep them and verify as before, and an amendment "
        "of one must drop them (clear_fields; else FIELD_NOT_IN_CATALOG)"
    ) in adopted.stderr
    again = run_zzgw("init", env=zzgw_env(tmp_path, store, after), timeout=120)
    assert again.returncode == 0 and "fields" not in again.stderr, again.stderr  # said when adopted only

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
        f"{MARRIAGE} (1 license)",
    )

    with serving(tmp_path, store, after) as running:
        with http_side(running) as base:
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
                    url = f"{base}/console/api/verify"
                    status_code, answer = fetch(url, {"use": clerk, **asked}, running.tokens[member])
                    assert status_code == 400 and answer["error"]["reason"] == "NOT_USED_BY_MATTER", answer
                    assert "license" not in answer and "verdict" not in answer
        # each attempt on the holder's and the issuer's logs, refused, naming the license; no receipt made
        refusals = trail_rows(running, "decision, reason", "license_id = :id", id=license_id)[before_calls:]
        assert refusals == [("DENIED", "NOT_USED_BY_MATTER")] * 2 * (6 + 3)
        with running.gateway.db.engine.connect() as connection:
            query = text("SELECT count(*) FROM receipts WHERE license_id = :id")
            assert connection.execute(query, {"id": license_id}).scalar_one() == 0


REAL_ESTATE = "123701009937011183"  # 济南市不动产登记中心: a consumer only (不动产转移登记)
BDCZY = verification_pb2.UseContext(matter_code="370100-BDCZY-001", purpose="不动产转移登记：核验当事人身份")


def not_shared(code: str, key: str = "") -> Callable[[dict[str, Any]], None]:
    """Type ``code`` made 不予共享, or its field ``key`` alone."""

    def edit(raw: dict[str, Any]) -> None:
        license_type = type_of(raw, code)
        if key:
            (field,) = (f for f in license_type["fields"] if f["key"] == key)
            field["sharing_class"] = "NOT_SHARED"
        else:
            license_type["sharing_class"] = "NOT_SHARED"

    return edit


def requested(running: RunningGateway, type_code: str, **fields: Any) -> authorization_pb2.AccessRequest:
    """The real-estate centre's request for ``type_code`` under 不动产转移登记."""
    stub = authorization_pb2_grpc.AuthorizationServiceStub(running.channel(REAL_ESTATE))
    ask = authorization_pb2.RequestAccessRequest(use=BDCZY, type_code=type_code, duration_days=30, **fields)
    return stub.RequestAccess(ask).request


def decide(running: RunningGateway, issuer: str, request_id: str, decision: int, **fields: Any) -> Any:
    """``issuer``'s decision on ``request_id``, to be called."""
    stub = authorization_pb2_grpc.AuthorizationServiceStub(running.channel(issuer))
    ask = authorization_pb2.DecideAccessRequestRequest(request_id=request_id, decision=decision, **fields)
    return functools.partial(stub.DecideAccessRequest, ask)


def state(running: RunningGateway, issuer: str, request_id: str) -> int:
    """The state of ``request_id`` in ``issuer``'s queue."""
    stub = authorization_pb2_grpc.AuthorizationServiceStub(running.channel(issuer))
    listed = stub.ListAccessRequests(authorization_pb2.ListAccessRequestsRequest(limit=500)).requests
    (found,) = (r for r in listed if r.request_id == request_id)
    return found.state


def test_a_request_for_what_the_catalog_no_longer_shares_is_not_approved(store: str, tmp_path: Path) -> None:
    """A catalog adopted while requests wait in the issuers' queues makes the 结婚证 不予共享, and the 居民身份证's
    公民身份号码. Approving either request had been taken without a word, and the approval let the data out the day
    the catalog was loosened again (a catalog author tester). Now it is refused NEVER_SHARED, as GrantConsent refuses
    what a matter never gets (RequestAccess says it FIELD_NOT_SHARED, NOT_SHARED or SECRET, of a request being made;
    here the catalog changed under one made): for the 结婚证 on request_id, nothing of it being shared; for the card
    on each field not shared, at approved_fields[i], its place as named, a repeated one's first (a reviewer: it had
    been its place among the fields left once repeats were dropped), or approved_fields when none is named. The
    request stays pending: the issuer approves the other fields, or rejects it."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", not_shared(MARRIAGE), not_shared(ID_CARD, "citizen_id"))

    approve, reject = authorization_pb2.ACCESS_DECISION_APPROVE, authorization_pb2.ACCESS_DECISION_REJECT
    pending = authorization_pb2.ACCESS_REQUEST_STATE_PENDING
    with serving(tmp_path, store, before) as running:
        marriage, card = requested(running, MARRIAGE).request_id, requested(running, ID_CARD).request_id
    initialise(settings_of(tmp_path, store, after), adopt_catalog=True)

    with serving(tmp_path, store, after) as running:
        code, violations, message = refused(decide(running, CIVIL, marriage, approve))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("request_id", "NEVER_SHARED")])
        assert message == (
            "request_id: 所申请的结婚证信息现已不予共享（证照目录已变更），不能批准，请驳回此申请（what the request "
            "asks of 结婚证 is no longer shared since the catalog changed: it cannot be approved; reject it）"
        )
        assert state(running, CIVIL, marriage) == pending
        rejected = decide(running, CIVIL, marriage, reject, reason="证照目录已将结婚证列为不予共享")().request
        assert rejected.state == authorization_pb2.ACCESS_REQUEST_STATE_REJECTED

        code, violations, message = refused(decide(running, POLICE, card, approve))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("approved_fields", "NEVER_SHARED")])
        assert message.startswith("approved_fields: 居民身份证的信息项 公民身份号码 现已不予共享（证照目录已变更），")
        named = decide(running, POLICE, card, approve, approved_fields=["name", "citizen_id"])
        assert refused(named)[1] == [("approved_fields[1]", "NEVER_SHARED")]
        repeated = decide(running, POLICE, card, approve, approved_fields=["name", "name", "citizen_id"])
        assert refused(repeated)[1] == [("approved_fields[2]", "NEVER_SHARED")]
        assert state(running, POLICE, card) == pending
        approved = decide(running, POLICE, card, approve, approved_fields=["name", "gender"])().request
        assert approved.state == authorization_pb2.ACCESS_REQUEST_STATE_APPROVED
        assert list(approved.approved_fields) == ["name", "gender"]


def without_matter(code: str) -> Callable[[dict[str, Any]], None]:
    """The matter ``code`` taken out of the catalog, and out of the bundles that name it."""

    def edit(raw: dict[str, Any]) -> None:
        raw["matters"] = [m for m in raw["matters"] if m["code"] != code]
        for bundle in raw.get("bundles", []):
            bundle["matters"] = [m for m in bundle["matters"] if m != code]

    return edit


def material_changed(matter_code: str, type_code: str, *, without: str = "") -> Callable[[dict[str, Any]], None]:
    """Matter ``matter_code``'s material of ``type_code`` without its field ``without``, or taken out when none is
    named."""

    def edit(raw: dict[str, Any]) -> None:
        (matter,) = (m for m in raw["matters"] if m["code"] == matter_code)
        if not without:
            matter["materials"] = [m for m in matter["materials"] if m["type_code"] != type_code]
            return
        (material,) = (m for m in matter["materials"] if m["type_code"] == type_code)
        for listed in ("fields", "full_fields"):
            material[listed] = [k for k in material.get(listed, []) if k != without]

    return edit


def test_a_request_the_catalog_no_longer_needs_is_not_approved(store: str, tmp_path: Path) -> None:
    """An approval is judged by the catalog in force when it is given. A request whose matter a catalog adopted since
    took out, whose type the matter no longer lists or the catalog no longer has, or whose fields the matter's
    material no longer lists had been approved all the same, unjudged (a type gone skipped even NEVER_SHARED), and
    the approval let the data out the day a later catalog put the matter back (a rollback; a reviewer, R1). Now it
    is refused UNKNOWN_MATTER or NOT_USED_BY_MATTER on request_id, a field FIELD_NOT_NEEDED at approved_fields[i]
    (approved_fields when none is named; request_id when none of the request's is left), and it stays pending: the
    issuer rejects it, or approves the fields still needed."""
    before = catalog_file(tmp_path / "catalog.json")
    changed = catalog_file(
        tmp_path / "changed.json", retired(MARRIAGE), material_changed(BDCZY.matter_code, ID_CARD, without="citizen_id")
    )
    unlisted = catalog_file(tmp_path / "unlisted.json", material_changed(BDCZY.matter_code, ID_CARD))
    dropped = catalog_file(tmp_path / "dropped.json", without_matter(BDCZY.matter_code))
    approve, reject = authorization_pb2.ACCESS_DECISION_APPROVE, authorization_pb2.ACCESS_DECISION_REJECT
    pending = authorization_pb2.ACCESS_REQUEST_STATE_PENDING
    approved = authorization_pb2.ACCESS_REQUEST_STATE_APPROVED
    rejected = authorization_pb2.ACCESS_REQUEST_STATE_REJECTED
    with serving(tmp_path, store, before) as running:
        marriage = requested(running, MARRIAGE).request_id
        card = requested(running, ID_CARD).request_id
        number = requested(running, ID_CARD, fields=["citizen_id"]).request_id
        unused = requested(running, ID_CARD).request_id
        later = requested(running, ID_CARD).request_id

    assert initialise(settings_of(tmp_path, store, changed), adopt_catalog=True).catalog_replaced
    with serving(tmp_path, store, changed) as running:
        code, violations, message = refused(decide(running, CIVIL, marriage, approve))  # the type is gone
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("request_id", "NOT_USED_BY_MATTER")])
        said = f"request_id: 事项 {BDCZY.matter_code}（不动产转移登记）现已不使用证照类型 {MARRIAGE}"
        assert message.startswith(said), message
        assert "请驳回此申请" in message and "reject it" in message
        assert state(running, CIVIL, marriage) == pending
        assert decide(running, CIVIL, marriage, reject, reason="证照目录已不含结婚证")().request.state == rejected

        code, violations, message = refused(decide(running, POLICE, number, approve))  # nothing it asks is needed
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("request_id", "FIELD_NOT_NEEDED")])
        assert "请驳回此申请" in message
        code, violations, message = refused(decide(running, POLICE, card, approve))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("approved_fields", "FIELD_NOT_NEEDED")])
        said = "approved_fields: 事项 370100-BDCZY-001（不动产转移登记）现已不需要居民身份证的信息项 公民身份号码"
        assert message.startswith(said), message
        named = decide(running, POLICE, card, approve, approved_fields=["name", "name", "citizen_id"])
        assert refused(named)[1] == [("approved_fields[2]", "FIELD_NOT_NEEDED")]
        assert state(running, POLICE, card) == state(running, POLICE, number) == pending
        given = decide(running, POLICE, card, approve, approved_fields=["name", "gender"])().request
        assert (given.state, list(given.approved_fields)) == (approved, ["name", "gender"])

    assert initialise(settings_of(tmp_path, store, unlisted), adopt_catalog=True).catalog_replaced
    with serving(tmp_path, store, unlisted) as running:
        code, violations, message = refused(decide(running, POLICE, unused, approve))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("request_id", "NOT_USED_BY_MATTER")])
        assert message.startswith(f"request_id: 事项 {BDCZY.matter_code}（不动产转移登记）现已不使用居民身份证")

    assert initialise(settings_of(tmp_path, store, dropped), adopt_catalog=True).catalog_replaced
    with serving(tmp_path, store, dropped) as running:
        code, violations, message = refused(decide(running, POLICE, later, approve))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("request_id", "UNKNOWN_MATTER")])
        assert message.startswith(f"request_id: 事项目录中现已没有事项 {BDCZY.matter_code}")
        assert state(running, POLICE, later) == pending

    # the matter back (a bad catalog rolled back): the request, still pending, is judged by the catalog now in force
    assert initialise(settings_of(tmp_path, store, before), adopt_catalog=True).catalog_replaced
    with serving(tmp_path, store, before) as running:
        assert decide(running, POLICE, later, approve)().request.state == approved


UNREGISTERED = "91370100MA3C4K7L6M"
"""A well-formed 统一社会信用代码 that no member has (a misspelt issuer)."""


def test_issuers_that_are_no_issuing_members_are_said(store: str, tmp_path: Path) -> None:
    """A type's issuer that is no registered member (a misspelt code, a department not registered yet) or a member
    without the role ISSUER (the tax bureau, which uses the 营业执照, named instead of the bureau that issues it)
    cannot issue it: init says which, and which types no member can issue at all, as it says of a matter no member
    may name. Each had been adopted without a word, the author learning of it when the department complained."""
    misnamed = catalog_file(tmp_path / "misnamed.json", issuers(BUSINESS_LICENSE, UNREGISTERED, TAX))
    report = initialise(settings_of(tmp_path, store, misnamed))
    assert report.issuers_not_issuing == (
        f"{BUSINESS_LICENSE} {TAX}: 国家税务总局济南市税务局 has no role ISSUER",
        f"{BUSINESS_LICENSE} {UNREGISTERED}: no member in force",
    )
    assert report.types_without_issuer == (f"{BUSINESS_LICENSE} 营业执照",)

    partly = catalog_file(tmp_path / "partly.json", issuers(BUSINESS_LICENSE, MARKET, UNREGISTERED))
    adopted = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, partly), timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    assert (
        f"warning: 1 issuer named by license types of the catalog cannot issue them ({BUSINESS_LICENSE} "
        f"{UNREGISTERED}: no member in force): a type's `issuers` are the codes (统一社会信用代码) of registered "
        "members with the role ISSUER (see `zzgw members`)"
    ) in adopted.stderr
    assert "no registered member may issue" not in adopted.stderr  # the bureau still may
    back = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, misnamed), timeout=120)
    assert back.returncode == 0, back.stderr
    assert f"warning: no registered member may issue 1 license type of the catalog ({BUSINESS_LICENSE} 营业执照)" in (
        back.stderr
    )


def test_a_type_that_names_no_issuer_is_said_to_have_none(store: str, tmp_path: Path) -> None:
    """A type whose ``issuers`` is empty can be issued by no one: init says so (with licenses of it that have not
    ended, it is refused as a type taken from their issuer is)."""
    unissued = catalog_file(tmp_path / "unissued.json", issuers(MARRIAGE))
    assert initialise(settings_of(tmp_path, store, unissued)).types_without_issuer == (f"{MARRIAGE} 结婚证",)


def bundle_recoded(code: str, new_code: str) -> Callable[[dict[str, Any]], None]:
    """Bundle ``code`` given ``new_code``, its name and matters as they were."""

    def edit(raw: dict[str, Any]) -> None:
        (bundle,) = (b for b in raw["bundles"] if b["code"] == code)
        bundle["code"] = new_code

    return edit


QYKB = "370100-YJS-QYKB"


def test_a_bundle_whose_code_changes_is_said_with_the_case_receipts_it_leaves(store: str, tmp_path: Path) -> None:
    """A case is found by its bundle's code and its number: a bundle given a new code leaves its cases' receipts
    under the old one, which no call may name any more (UNKNOWN_BUNDLE), while the new one finds none, and the later
    departments of a running case lose the earlier checks (接办免收). `zzgw catalog check` and the init that adopts
    such a file say so, Chinese first, naming the code and how many receipts and cases; they had said nothing (a
    bundle tester, D4)."""
    before = catalog_file(tmp_path / "catalog.json")
    recoded = catalog_file(tmp_path / "recoded.json", bundle_recoded(QYKB, QYKB + "2"))
    with serving(tmp_path, store, before) as running:
        license_id = business_license(running, 41)
        police = verification_pb2_grpc.VerificationServiceStub(running.channel(POLICE))
        for case in (case_number(), case_number()):
            use = verification_pb2.UseContext(
                matter_code="370100-QYKZ-001", purpose="企业开办：刻制公章", bundle_code=QYKB, case_id=case
            )
            police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id))
    warning = (
        f"warning: 证照目录中已没有一件事 {QYKB}（2 份核验回执，2 个办件），而本库的办件核验回执列在这些编码下："
        "用此目录的网关上，这些办件（正在办理的也在内）用旧编码查询被拒绝（UNKNOWN_BUNDLE），"
        "用新编码查询看不到这些回执，后续部门不能再接办免收。一件事的编码就是它的身份：改名只改 name，不改 code；"
        "若是此次改了编码，请把原编码改回后再采用此目录；"
        "若是有意撤下的一件事（其办件已办结），无需改动，回执保留期间每次采用目录都会列出它"
        f"（docs/catalog.md: Bundles）（the catalog has no bundles that stored case receipts name ({QYKB}: 2 case "
        "receipts in 2 cases): their cases, running ones too, no longer list them, by the old code (UNKNOWN_BUNDLE) "
        "or by a new one; a bundle's code is its identity: rename its name, not its code, and put back a code this "
        "file changed; a bundle retired on purpose is named at every adoption while its receipts are kept, and needs "
        "nothing）"
    )

    checked = run_zzgw("catalog", "check", str(recoded), env=zzgw_env(tmp_path, store, before), timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert warning in checked.stderr.splitlines(), checked.stderr
    assert stored_fingerprint(store) == catalog_fingerprint(before)  # a check changes nothing

    adopted = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, recoded), timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    assert warning in adopted.stderr.splitlines(), adopted.stderr
    again = run_zzgw("init", env=zzgw_env(tmp_path, store, recoded), timeout=120)  # said when adopted, not after
    assert again.returncode == 0 and "一件事" not in again.stderr, again.stderr
    # the same code back: its cases' receipts are listed again, nothing said
    back = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, before), timeout=120)
    assert back.returncode == 0 and "一件事" not in back.stderr, back.stderr


def test_catalog_check_says_against_the_store_what_adoption_would(store: str, tmp_path: Path) -> None:
    """`zzgw catalog check FILE` with the settings of a store holds the file against its members and licenses as
    `zzgw init --adopt-catalog` would, touching nothing: a type none of whose issuers may issue it, a matter no member
    handles. These had been said only once the file was adopted and every gateway restarted (a bundle tester, D3).
    Without a store it says that it checked the file alone."""
    before = catalog_file(tmp_path / "catalog.json")
    with serving(tmp_path, store, before):  # a store made, serving the demo catalog
        pass

    def misdesigned(raw: dict[str, Any]) -> None:
        type_of(raw, MARRIAGE)["issuers"] = []
        (matter,) = (m for m in raw["matters"] if m["code"] == "370100-FPSL-001")
        matter["department"] = "国家税务总局济南市税务"  # misspelt: the member is 国家税务总局济南市税务局

    designed = catalog_file(tmp_path / "designed.json", misdesigned)
    checked = run_zzgw("catalog", "check", str(designed), env=zzgw_env(tmp_path, store, before), timeout=120)
    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[1].startswith("checked against the store ") and lines[1].endswith(
        "members in force: another catalog than the store's (what zzgw init --adopt-catalog would say follows)"
    ), checked.stdout
    assert checked.stderr.splitlines() == [
        f"warning: no registered member may issue 1 license type of the catalog ({MARRIAGE} 结婚证): none of the "
        "type's `issuers` is a member with the role ISSUER, or it names none",
        "warning: no registered member may name 1 matter of the catalog (370100-FPSL-001): a matter names the "
        "department that handles it by the member's name (see `zzgw members`); until it matches, no one can verify or "
        "read data under it",
    ]
    assert stored_fingerprint(store) == catalog_fingerprint(before)

    # the same warnings from the init that adopts it
    adopted = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, designed), timeout=120)
    assert adopted.returncode == 0
    assert all(line in adopted.stderr.splitlines() for line in checked.stderr.splitlines()), adopted.stderr

    alone = run_zzgw(
        "catalog", "check", str(designed), env={**zzgw_env(tmp_path, store, before), "ZZGW_DATABASE_URL": "",
                                                "ZZGW_DATA_DIR": str(tmp_path / "none")}, timeout=120
    )  # fmt: skip
    assert alone.returncode == 0
    assert alone.stderr.startswith(
        f"zzgw catalog check: checked without a store (no database at {tmp_path / 'none'}"
    ), alone.stderr
    assert not (tmp_path / "none").exists()


PORTAL = "12370100993701126X"  # 济南市数字政务服务中心, HOLDER_PORTAL alone
LAND = "11370100993701089T"  # 济南市自然资源和规划局, ISSUER alone


def test_a_matter_whose_department_has_no_role_to_use_it_is_said(store: str, tmp_path: Path) -> None:
    """A matter whose `department` is a registered member's name, but a member whose roles cannot use it: the holder
    portal (HOLDER_PORTAL alone) may not verify at all, and the 自然资源和规划局 (ISSUER alone) may verify but reads
    no field of another's 营业执照 (NOT_A_CONSUMER). `zzgw catalog check` and `zzgw init --adopt-catalog` had said
    nothing, only a matter whose department is no member, and `zzgw members` listed the matter as the portal's
    (a reviewer, catalogrev R1). Both now say each, naming the matter, the member and the role it lacks."""
    before = catalog_file(tmp_path / "catalog.json")
    with serving(tmp_path, store, before):
        pass

    def departments(raw: dict[str, Any]) -> None:
        for matter in raw["matters"]:
            if matter["code"] == "370100-SBDJ-001":
                matter["department"] = "济南市数字政务服务中心"
            if matter["code"] == "370100-FPSL-001":
                matter["department"] = "济南市自然资源和规划局"

    designed = catalog_file(tmp_path / "designed.json", departments)
    warnings = [
        f"warning: 1 matter of the catalog names as its department a member with no role to use it (370100-SBDJ-001 "
        f"社保登记: {PORTAL} 济南市数字政务服务中心 has the roles HOLDER_PORTAL and lacks CONSUMER): a department "
        "verifies and reads data under its matters with the role CONSUMER (ISSUER verifies only), so no one can use "
        "such a matter (无权核验证照); give the member the role CONSUMER in the members file (`zzgw init "
        "--adopt-members`), or name the department that handles the matter (see `zzgw members`)",
        f"warning: 1 matter of the catalog names as its department a member that may verify under it but read none of "
        f"the fields its materials list (370100-FPSL-001 发票申领: {LAND} 济南市自然资源和规划局 has the roles ISSUER "
        "and lacks CONSUMER; fields of 营业执照): an issuer reads only the licenses it issued, another's fields only "
        "with the role CONSUMER (NOT_A_CONSUMER); give the member the role CONSUMER in the members file (`zzgw init "
        "--adopt-members`), or name the department that handles the matter (see `zzgw members`)",
    ]
    checked = run_zzgw("catalog", "check", str(designed), env=zzgw_env(tmp_path, store, before), timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.splitlines() == warnings, checked.stderr

    adopted = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, designed), timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    assert all(line in adopted.stderr.splitlines() for line in warnings), adopted.stderr

    # `zzgw members` lists no matter against a member that may not verify; the issuer, which verifies, keeps its own
    listed = run_zzgw("members", env=zzgw_env(tmp_path, store, designed), timeout=120)
    assert listed.returncode == 0, listed.stderr
    (portal,) = (line for line in listed.stdout.splitlines() if line.startswith(PORTAL))
    assert "370100-SBDJ-001" not in portal and "无办理事项（no matter）" in portal, portal
    (land,) = (line for line in listed.stdout.splitlines() if line.startswith(LAND))
    assert "370100-FPSL-001" in land, land

    # the demo catalog draws neither
    back = run_zzgw("catalog", "check", str(before), env=zzgw_env(tmp_path, store, designed), timeout=120)
    assert back.returncode == 0 and "role" not in back.stderr, back.stderr


def invisible(where: str, key: str, value: str) -> Callable[[dict[str, Any]], None]:
    """``key`` of the entry ``where`` (a type code, ``TYPE.FIELD`` or a matter code) set to ``value``."""

    def edit(raw: dict[str, Any]) -> None:
        code, _, field_key = where.partition(".")
        if field_key:
            (entry,) = (f for f in type_of(raw, code)["fields"] if f["key"] == field_key)
        else:
            (entry,) = (e for e in (*raw["license_types"], *raw["matters"]) if e["code"] == code)
        entry[key] = value

    return edit


def test_an_invisible_character_in_a_name_or_label_is_refused_by_the_check_and_the_adoption(
    store: str, tmp_path: Path
) -> None:
    """A zero-width space (U+200B) or a byte order mark (U+FEFF) pasted into a type's name, a field's label or a
    matter's department had loaded and been adopted: the label printed as 法定代表人 while PrefillForm could not
    find 法定代表人 (UNKNOWN_FIELD), two types printed with one name, a department matched no member without a word
    on why (a reviewer, catalogrev R2). `zzgw catalog check` and `zzgw init --adopt-catalog` refuse such a file,
    naming the entry, the key and the character; a store already serving one (adopted by an earlier version) keeps
    serving it, plain `zzgw init` warning, so an upgrade does not stop its gateways."""
    before = catalog_file(tmp_path / "catalog.json")
    with serving(tmp_path, store, before):
        pass
    cases = {
        "label": (
            invisible(f"{BUSINESS_LICENSE}.legal_representative", "label", "法定代表人\u200b"),
            f"证照类型 {BUSINESS_LICENSE} 的信息项 legal_representative 的 label 含有不可见字符 U+200B",
        ),
        "name": (
            invisible(FOOD_PERMIT, "name", "营业执照\ufeff"),
            f"证照类型 {FOOD_PERMIT} 的 name 含有不可见字符 U+FEFF",
        ),
        "department": (
            invisible("370100-SBDJ-001", "department", "济南市人力资源和社会保障局\u200b"),
            "事项 370100-SBDJ-001 的 department 含有不可见字符 U+200B",
        ),
        "form label": (
            invisible(f"{BUSINESS_LICENSE}.legal_representative", "form_labels", ["法人\u202e代表"]),
            f"证照类型 {BUSINESS_LICENSE} 的信息项 legal_representative 的 form_labels 含有不可见字符 U+202E",
        ),
    }
    for name, (edit, said) in cases.items():
        edited = catalog_file(tmp_path / f"{name}.json", edit)
        checked = run_zzgw("catalog", "check", str(edited), env=zzgw_env(tmp_path, store, before), timeout=120)
        assert (checked.returncode, checked.stdout) == (2, ""), (name, checked)
        assert checked.stderr.startswith(f"zzgw catalog check: refused: {edited}: cannot be adopted: {said}"), (
            checked.stderr
        )
        assert "\n" not in checked.stderr.rstrip("\n")
        adopted = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, edited), timeout=120)
        assert adopted.returncode == 2, adopted
        assert adopted.stderr.startswith(
            f"zzgw: configuration error: catalog (ZZGW_CATALOG): {edited}: cannot be adopted: {said}"
        ), adopted.stderr
        assert stored_fingerprint(store) == catalog_fingerprint(before)

    # a store already serving such a catalog (adopted before this check was made) keeps serving it, with a warning
    label, said = cases["label"]
    served = catalog_file(tmp_path / "served.json", label)
    db = Database.connect(store)
    try:
        with db.unit_of_work(write=True) as uow:
            uow.facts.replace(CATALOG_FACT, catalog_fingerprint(served))
            uow.commit()
    finally:
        db.dispose()
    again = run_zzgw("init", env=zzgw_env(tmp_path, store, served), timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"warning: the catalog (ZZGW_CATALOG {served}) this store serves could not be adopted now: {said}" in (
        again.stderr
    ), again.stderr
    with serving(tmp_path, store, served) as running:
        assert verify_for_invoices(running, business_license(running, 43)).verdict == PASSED


NEW_ISSUER = "11370100993701099U"  # 济南市新设局, a department the members file adds with the catalog that names it


def test_catalog_check_holds_the_file_against_the_members_the_members_file_adds(store: str, tmp_path: Path) -> None:
    """A department added to the members file (ZZGW_MEMBERS) with a catalog that names it: `zzgw init --adopt-catalog`
    registers it first and warns of nothing, so the check, holding the file against the members the adoption would
    have, warns of nothing either. It had judged by the stored members alone, and said that no member may issue the
    type or name the matter (a reviewer)."""
    before = catalog_file(tmp_path / "catalog.json")
    with serving(tmp_path, store, before):
        pass
    members = json.loads((DEMO_CATALOG.parent / "members.json").read_text(encoding="utf-8"))
    members["members"].append(
        {"code": NEW_ISSUER, "name": "济南市新设局", "region": "370100", "roles": ["ISSUER", "CONSUMER"]}
    )
    members_file = tmp_path / "members.json"
    members_file.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")

    def naming_the_new_department(raw: dict[str, Any]) -> None:
        type_of(raw, ID_CARD)["issuers"].append(NEW_ISSUER)
        (matter,) = (m for m in raw["matters"] if m["code"] == "370100-QYKZ-001")
        matter["department"] = "济南市新设局"

    designed = catalog_file(tmp_path / "designed.json", naming_the_new_department)
    env = {**zzgw_env(tmp_path, store, designed), "ZZGW_MEMBERS": str(members_file)}
    checked = run_zzgw("catalog", "check", env=env, timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == "", checked.stderr
    members_in_force = len(members["members"])  # the demo members, all in force, and the new one
    assert f", {members_in_force} members in force: another catalog than the store's" in checked.stdout
    assert stored_fingerprint(store) == catalog_fingerprint(before)

    adopted = run_zzgw("init", "--adopt-catalog", env=env, timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    assert "warning" not in adopted.stderr, adopted.stderr

    # a member of the file named as another member in force: the check refuses it as the init would
    members["members"][-1]["code"] = "11370100993701101F"  # 济南市新设局 under another code
    members_file.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    checked = run_zzgw("catalog", "check", env=env, timeout=120)
    refused = run_zzgw("init", "--adopt-catalog", env=env, timeout=120)
    assert (checked.returncode, checked.stderr) == (refused.returncode, refused.stderr), (checked.stderr, refused)
    assert (checked.returncode, checked.stderr) == (
        2,
        "zzgw: configuration error: members (ZZGW_MEMBERS): 济南市新设局 (11370100993701101F): the name is registered "
        f"to member {NEW_ISSUER}; a matter names its department by name, so revoke that one first (`zzgw members "
        "--revoke CODE`)\n",
    )


def test_catalog_check_on_a_store_that_cannot_be_used_says_it_as_other_commands_do(store: str, tmp_path: Path) -> None:
    """A store the settings name that cannot be used is said in the line any command says it in, with its exit status
    (75 out of reach, 2 otherwise): the check had said "checked without a store", exit 0, and a pipeline gating the
    adoption on it went ahead having checked nothing (a reviewer). An empty database is no store yet: exit 0."""
    before = catalog_file(tmp_path / "catalog.json")
    if store.startswith("postgresql"):
        gone = make_url(store).set(database=f"fix_catcheck_none_{uuid.uuid4().hex[:8]}").render_as_string(False)
        causes = {
            make_url(store).set(host="127.0.0.1", port=1).render_as_string(False): (75, "Connection refused"),
            gone: (2, "does not exist"),
        }
    else:
        not_a_database = tmp_path / "garbage.db"
        not_a_database.write_bytes(b"not a database " * 300)
        causes = {f"sqlite:///{not_a_database}": (2, "file is not a database")}
    for url, (status, reason) in causes.items():
        checked = run_zzgw("catalog", "check", str(before), env={**zzgw_env(tmp_path, store, before),
                                                                  "ZZGW_DATABASE_URL": url}, timeout=120)  # fmt: skip
        assert checked.returncode == status, checked.stderr
        (line,) = checked.stderr.splitlines()
        assert line.startswith("zzgw catalog check: cannot use ") and reason in line, line
        members = run_zzgw("members", env={**zzgw_env(tmp_path, store, before), "ZZGW_DATABASE_URL": url}, timeout=120)
        assert members.returncode == status and line.replace("catalog check", "members") == members.stderr.strip()

    missing_config = run_zzgw(
        "catalog", "check", str(before), "--config", str(tmp_path / "none.toml"),
        env=zzgw_env(tmp_path, store, before), timeout=120,
    )  # fmt: skip
    assert missing_config.returncode == 2
    assert missing_config.stderr.startswith("zzgw: configuration error: "), missing_config.stderr
    assert str(tmp_path / "none.toml") in missing_config.stderr

    if store.startswith("postgresql"):  # a database with no schema yet: no store made, checked without one
        checked = run_zzgw("catalog", "check", str(before), env=zzgw_env(tmp_path, store, before), timeout=120)
        assert checked.returncode == 0, checked.stderr
        assert checked.stderr.startswith("zzgw catalog check: checked without a store (the database "), checked.stderr
        assert "has no schema" in checked.stderr


def relabelled(code: str, key: str, label: str) -> Callable[[dict[str, Any]], None]:
    """The field ``key`` of type ``code`` labelled ``label``."""

    def edit(raw: dict[str, Any]) -> None:
        (field,) = (f for f in type_of(raw, code)["fields"] if f["key"] == key)
        field["label"] = label

    return edit


def batch_issued(running: RunningGateway, *records: dict[str, Any]) -> list[str]:
    """Issue ``records`` in one BatchIssueLicenses message (no document drawn): their license identifiers."""
    message = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(r) for r in records])
    results = [r for reply in running.issuance(MARKET).BatchIssueLicenses(iter([message])) for r in reply.results]
    assert all(r.created for r in results), results
    return [r.license.license_id for r in results]


def document_text(running: RunningGateway, license_id: str) -> str:
    asked = issuance_pb2.GetLicenseDocumentRequest(license_id=license_id)
    return page_text(running.issuance(MARKET).GetLicenseDocument(asked).pdf)


def test_a_batch_licenses_document_first_drawn_after_a_catalog_change_prints_it_as_issued(
    store: str, tmp_path: Path
) -> None:
    """A batch-issued license's document is drawn when first asked for. Drawn from the catalog in force then, it had
    left off for good a field taken out of the type since (the record keeps it and verifies as before), printed
    labels renamed since, and could not be drawn at all once the type was taken out (NOT_FOUND, naming a type code
    to correct): a reviewer. It is drawn as the license was issued."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(
        tmp_path / "after.json",
        without_field(BUSINESS_LICENSE, "domicile"),
        relabelled(BUSINESS_LICENSE, "legal_representative", "负责人"),
        retired(FOOD_PERMIT),
    )
    business, food = unique(samples.business_license(21)), unique(samples.food_permit(22))
    with serving(tmp_path, store, before) as running:
        business_id, food_id = batch_issued(running, business, food)
    initialise(settings_of(tmp_path, store, after), adopt_catalog=True)
    with serving(tmp_path, store, after) as running:
        printed = document_text(running, business_id).replace("\r\n", "")
        assert business["fields"]["domicile"] in printed and "住所" in printed
        assert "法定代表人" in printed and "负责人" not in printed
        printed = document_text(running, food_id).replace("\r\n", "")
        assert "食品生产许可证" in printed and food["fields"]["production_address"] in printed
        # one issued now is drawn as the catalog has the type now
        now = unique(samples.business_license(23))
        now["fields"] = {k: v for k, v in now["fields"].items() if k != "domicile"}
        (later,) = batch_issued(running, now)
        printed = document_text(running, later)
        assert "负责人" in printed and "法定代表人" not in printed and "住所" not in printed
        # a document printing a field the catalog no longer has is no consumer's: no matter may read that field
        tax = sharing_pb2_grpc.SharingServiceStub(running.channel(TAX))
        asked = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=later)
        assert tax.GetLicenseDocument(asked).pdf
        asked = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=business_id)
        with pytest.raises(grpc.RpcError) as caught:
            tax.GetLicenseDocument(asked)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_details(caught.value)[0].reason == "DOCUMENT_EXCEEDS_PERMIT"


def test_a_document_never_drawn_of_a_type_taken_out_before_forms_were_kept_is_refused_saying_why(
    store: str, tmp_path: Path
) -> None:
    """A license issued in a batch before the gateway kept the form of its issue (schema 0033) has its document drawn
    from the catalog; once its type is taken out it cannot be, said so (it had been NOT_FOUND, telling the issuer to
    write a license type code the catalog has)."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", retired(FOOD_PERMIT))
    with serving(tmp_path, store, before) as running:
        (food_id,) = batch_issued(running, unique(samples.food_permit(24)))
    db = Database.connect(store)
    try:
        with db.engine.begin() as connection:  # as an issue before schema 0033 recorded it: no form
            connection.execute(text("UPDATE license_events SET form = '' WHERE license_id = :id"), {"id": food_id})
    finally:
        db.dispose()
    initialise(settings_of(tmp_path, store, after), adopt_catalog=True)
    with serving(tmp_path, store, after) as running:
        code, _, message = refused(lambda: document_text(running, food_id))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert message.startswith(f"该证照的版式文件从未生成，而其证照类型 {FOOD_PERMIT} 已从证照目录中删除，无法生成")
        # its issuer can neither amend nor cancel it meanwhile (api.md had advised amending it, a reviewer's R4)
        cancel = issuance_pb2.STATUS_ACTION_CANCEL
        code, _, _ = refused(lambda: status_change(running, food_id, cancel))
        assert code == grpc.StatusCode.NOT_FOUND
    # the remedy api.md gives: the type put back in the catalog, and the document is drawn
    initialise(settings_of(tmp_path, store, before), adopt_catalog=True)
    with serving(tmp_path, store, before) as running:
        assert "食品生产许可证" in document_text(running, food_id)


PASSPORT = "111000009910000279001"  # 护照: holders by 公民身份号码 (111) or passport number (414)
EXIT_ENTRY = "11370100993701046D"  # 济南市公安局出入境管理支队, its issuer


def passport(holder_code_type: str, holder_code: str) -> dict[str, Any]:
    return unique(
        {
            "request_id": "pp-1",
            "type_code": PASSPORT,
            "license_number": "E12345678",
            "holder": {"name": "约翰", "code_type": holder_code_type, "code": holder_code},
            "issue_date": "2024-01-02",
            "valid_until": "2034-01-01",
            "fields": {"passport_type": "P", "country_code": "CHN", "name": "约翰", "name_pinyin": "YUE HAN",
                       "gender": "男", "nationality": "中国", "birth_date": "1990-01-01", "birth_place": "山东",
                       "place_of_issue": "山东", "issuing_authority": "国家移民管理局"},
        }
    )  # fmt: skip


def test_a_holder_code_type_taken_out_of_a_type_is_said_with_the_licenses_it_leaves(store: str, tmp_path: Path) -> None:
    """护照 no longer taking 414 (passport numbers): the licenses of holders known by one can no longer be amended
    (BAD_HOLDER_CODE_TYPE: an amendment cannot change the holder), only cancelled. It had been adopted, and passed by
    `zzgw catalog check`, without a word (a reviewer, R7); it is said as a field taken out is, with how many licenses
    not ended it leaves so (a cancelled one is not counted)."""
    before = catalog_file(tmp_path / "catalog.json")
    after = catalog_file(tmp_path / "after.json", lambda raw: type_of(raw, PASSPORT).update(holder_code_types=["111"]))
    with serving(tmp_path, store, before) as running:
        issuance = running.issuance(EXIT_ENTRY)
        kept = issuance.IssueLicense(issue_request(passport("414", "E12345678"))).license.license_id
        issuance.IssueLicense(issue_request(passport("414", "E87654321")))
        cancelled = issuance.IssueLicense(issue_request(passport("414", "G11111111"))).license.license_id
        issuance.ChangeLicenseStatus(
            issuance_pb2.ChangeLicenseStatusRequest(
                request_id="st-" + uuid.uuid4().hex,
                license_id=cancelled,
                action=issuance_pb2.STATUS_ACTION_CANCEL,
                reason="测试",
            )
        )
        assert kept
    warning = (
        "warning: the catalog's license types no longer take 1 holder code type that holders of licenses not ended "
        f"have ({PASSPORT} 414 (2 licenses)): those licenses keep their holder and verify as before, and an amendment "
        "of one is refused (BAD_HOLDER_CODE_TYPE: an amendment cannot change its holder), so they can only be "
        "cancelled; to keep them amendable, put the code type back in the type's holder_code_types "
        "(docs/operations.md: Changing the catalog)"
    )
    checked = run_zzgw("catalog", "check", str(after), env=zzgw_env(tmp_path, store, before), timeout=120)
    assert checked.returncode == 0 and warning in checked.stderr.splitlines(), checked.stderr
    adopted = run_zzgw("init", "--adopt-catalog", env=zzgw_env(tmp_path, store, after), timeout=120)
    assert adopted.returncode == 0 and warning in adopted.stderr.splitlines(), adopted.stderr
    again = run_zzgw("init", env=zzgw_env(tmp_path, store, after), timeout=120)
    assert again.returncode == 0 and "holder code type" not in again.stderr, again.stderr  # said when adopted only


TRANSFER = verification_pb2.UseContext(matter_code="370100-BDCZY-001", purpose="不动产转移登记：核验权利人身份")
REAL_ESTATE = "123701009937011183"  # 济南市不动产登记中心, which handles 不动产转移登记


def test_a_store_of_the_demo_catalog_before_the_passport_was_listed_adopts_it(store: str, tmp_path: Path) -> None:
    """The demo catalog's 不动产转移登记 takes a 护照 its holder presents (not shared: verified only), which no matter
    had listed, so none could be verified (a reviewer, R3). A store served with the catalog before adopts it as
    operations.md says (`zzgw init --adopt-catalog`, no warning: a material added takes nothing from the store), and
    a passport issued before is then verified there, its data still refused NOT_SHARED."""

    def unlisted(raw: dict[str, Any]) -> None:
        (matter,) = (m for m in raw["matters"] if m["code"] == TRANSFER.matter_code)
        matter["materials"] = [m for m in matter["materials"] if m["type_code"] != PASSPORT]

    before = catalog_file(tmp_path / "catalog.json", unlisted)
    with serving(tmp_path, store, before) as running:
        issued = (
            running.issuance(EXIT_ENTRY)
            .IssueLicense(issue_request(passport("111", samples.citizen_id(17, dt.date(1990, 1, 1)))))
            .license
        )
        pdf = (
            running.issuance(EXIT_ENTRY)
            .GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=issued.license_id))
            .pdf
        )
    demo = {key: value for key, value in zzgw_env(tmp_path, store, before).items() if key != "ZZGW_CATALOG"}
    refused_init = run_zzgw("init", env=demo, timeout=120)
    assert refused_init.returncode == 2, refused_init.stderr  # another catalog: adopted only when told
    adopted = run_zzgw("init", "--adopt-catalog", env=demo, timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    assert "warning" not in adopted.stderr, adopted.stderr
    running = start_gateway(tmp_path / "var", store)
    try:
        check = verification_pb2_grpc.VerificationServiceStub(running.channel(REAL_ESTATE))
        report = check.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=TRANSFER, pdf=pdf)).report
        assert (report.verdict, report.license.license_id) == (PASSED, issued.license_id)
        sharing = sharing_pb2_grpc.SharingServiceStub(running.channel(REAL_ESTATE))
        code, _, said = refused(
            lambda: sharing.GetLicenseData(
                sharing_pb2.GetLicenseDataRequest(use=TRANSFER, license_id=issued.license_id)
            )
        )
        assert code is grpc.StatusCode.PERMISSION_DENIED and "不予共享" in said, said
    finally:
        running.stop()


def rows(store: str, statement: str, **params: Any) -> list[Any]:
    """Run ``statement`` on the store behind the gateway's back: its rows, if it returns any."""
    db = Database.connect(store)
    try:
        with db.engine.begin() as connection:
            result = connection.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        db.dispose()


def point_at_form(store: str, license_id: str, form: str) -> None:
    """Store ``form`` in ``printed_forms`` under its own SHA-256 and point ``license_id``'s issue at it, as someone
    editing the store could."""
    digest = hashlib.sha256(form.encode()).hexdigest()
    if not rows(store, "SELECT sha256 FROM printed_forms WHERE sha256 = :s", s=digest):
        rows(store, "INSERT INTO printed_forms(sha256, form) VALUES (:s, :f)", s=digest, f=form)
    rows(store, "UPDATE license_events SET form = :s WHERE license_id = :l", s=digest, l=license_id)


def test_a_printed_form_written_into_the_store_behind_the_gateways_back_is_not_drawn(
    store: str, tmp_path: Path
) -> None:
    """A printed form is the gateway's only if its memo says so: a form inserted under its own SHA-256 had the gateway
    draw and seal a document with any title and labels, which then verified PASSED as the registered document; a
    form of another type was drawn too, and one that did not parse failed INTERNAL (a reviewer, R1)."""
    with serving(tmp_path, store, catalog_file(tmp_path / "catalog.json")) as running:
        forged_id, other_id, broken_id = batch_issued(
            running, *(unique(samples.business_license(n)) for n in (31, 32, 33))
        )
        (food_id,) = batch_issued(running, unique(samples.food_permit(34)))
        ((own,),) = rows(store, "SELECT form FROM license_events WHERE license_id = :l", l=forged_id)
        ((text_of_own,),) = rows(store, "SELECT form FROM printed_forms WHERE sha256 = :s", s=own)
        forged = json.loads(text_of_own)
        forged["name"] = "伪造证照名称"
        point_at_form(store, forged_id, json.dumps(forged, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
        ((food_form,),) = rows(
            store,
            "SELECT p.form FROM printed_forms p JOIN license_events e ON e.form = p.sha256 WHERE e.license_id = :l",
            l=food_id,
        )
        point_at_form(store, other_id, food_form)  # a form the gateway wrote, of another type
        point_at_form(store, broken_id, '{"code":"x"}')
        for license_id in (forged_id, other_id, broken_id):
            code, _, message = refused(lambda license_id=license_id: document_text(running, license_id))
            assert code == grpc.StatusCode.FAILED_PRECONDITION, (license_id, code, message)
            assert "绕过网关改动过" in message
        # the issue's own form, pointed at again, is the gateway's: drawn
        rows(store, "UPDATE license_events SET form = :s WHERE license_id = :l", s=own, l=forged_id)
        assert "伪造证照名称" not in document_text(running, forged_id)


def test_a_document_not_printing_a_field_taken_out_of_its_type_is_shared(store: str, tmp_path: Path) -> None:
    """A field taken out of a type refuses a consumer the documents that print it, and only those: one SECRET when
    the license was issued (never printed), and one of a license issued before forms were kept whose document is
    drawn after the change, were refused DOCUMENT_EXCEEDS_PERMIT to every matter (a reviewer, R2)."""

    def secret_domicile(raw: dict[str, Any]) -> None:
        fields = type_of(raw, BUSINESS_LICENSE)["fields"]
        without_field(BUSINESS_LICENSE, "domicile")(raw)  # out of the matters' materials too
        type_of(raw, BUSINESS_LICENSE)["fields"] = [
            {**f, "sensitivity": "SECRET"} if f["key"] == "domicile" else f for f in fields
        ]

    before = catalog_file(tmp_path / "before.json", secret_domicile)
    after = catalog_file(tmp_path / "after.json", without_field(BUSINESS_LICENSE, "domicile"))
    secret, legacy = unique(samples.business_license(41)), unique(samples.business_license(42))
    with serving(tmp_path, store, before) as running:
        secret_id, legacy_id = batch_issued(running, secret, legacy)
    rows(store, "UPDATE license_events SET form = '' WHERE license_id = :l", l=legacy_id)  # as before schema 0033
    initialise(settings_of(tmp_path, store, after), adopt_catalog=True)
    with serving(tmp_path, store, after) as running:
        tax = sharing_pb2_grpc.SharingServiceStub(running.channel(TAX))
        for license_id, record in ((secret_id, secret), (legacy_id, legacy)):
            asked = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
            assert tax.GetLicenseDocument(asked).pdf  # before it is drawn
            printed = document_text(running, license_id).replace("\r\n", "")
            assert record["fields"]["domicile"] not in printed and "住所" not in printed
            assert tax.GetLicenseDocument(asked).pdf  # and once it is stored


def test_a_document_printing_a_field_made_secret_since_it_was_drawn_is_not_shared(store: str, tmp_path: Path) -> None:
    """A field the catalog makes SECRET is never shared, on every license of the type at once (docs/catalog.md): a
    document drawn while it was NORMAL, which prints it, was given to a consumer (a reviewer, rev-r3-forms R2)."""

    def secret_domicile(raw: dict[str, Any]) -> None:
        fields = type_of(raw, BUSINESS_LICENSE)["fields"]
        without_field(BUSINESS_LICENSE, "domicile")(raw)  # out of the matters' materials too
        type_of(raw, BUSINESS_LICENSE)["fields"] = [
            {**f, "sensitivity": "SECRET"} if f["key"] == "domicile" else f for f in fields
        ]

    record = unique(samples.business_license(43))
    with serving(tmp_path, store, catalog_file(tmp_path / "before.json")) as running:
        license_id = running.issuance(MARKET).IssueLicense(issue_request(record)).license.license_id
        assert record["fields"]["domicile"] in document_text(running, license_id).replace("\r\n", "")
    after = catalog_file(tmp_path / "after.json", secret_domicile)
    initialise(settings_of(tmp_path, store, after), adopt_catalog=True)
    with serving(tmp_path, store, after) as running:
        tax = sharing_pb2_grpc.SharingServiceStub(running.channel(TAX))
        asked = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
        with pytest.raises(grpc.RpcError) as caught:
            tax.GetLicenseDocument(asked)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, caught.value.details()
        assert error_details(caught.value)[0].reason == "DOCUMENT_EXCEEDS_PERMIT"


def test_an_issuer_is_not_given_a_document_printing_a_field_made_secret_since_it_was_drawn(
    store: str, tmp_path: Path
) -> None:
    """The issuer's GetLicenseDocument of a document drawn while a field was NORMAL, which the catalog made SECRET
    afterwards, is refused (DOCUMENT_PRINTS_SECRET), as sharing refuses it: it had been handed over with the value
    printed in full, while GetLicense left the field out ("no issuance reply carries a SECRET field's value", a
    reviewer, R1). A document drawn later leaves the field off and is given; so is one its issuer supplied (what it
    prints is not known); an amendment has a document drawn without it."""

    def secret_domicile(raw: dict[str, Any]) -> None:
        fields = type_of(raw, BUSINESS_LICENSE)["fields"]
        type_of(raw, BUSINESS_LICENSE)["fields"] = [
            {**f, "sensitivity": "SECRET"} if f["key"] == "domicile" else f for f in fields
        ]

    drawn, later, supplied = (unique(samples.business_license(n)) for n in (45, 46, 47))
    with serving(tmp_path, store, catalog_file(tmp_path / "before.json")) as running:
        drawn_id = running.issuance(MARKET).IssueLicense(issue_request(drawn)).license.license_id
        (later_id,) = batch_issued(running, later)
        own = issue_request(supplied)
        own.document = license_pdf(running)
        supplied_id = running.issuance(MARKET).IssueLicense(own).license.license_id
    after = catalog_file(tmp_path / "after.json", secret_domicile)
    initialise(settings_of(tmp_path, store, after), adopt_catalog=True)
    with serving(tmp_path, store, after) as running:
        code, _, message = refused(lambda: document_text(running, drawn_id))
        assert code == grpc.StatusCode.FAILED_PRECONDITION, message
        assert message.startswith("该证照的版式文件印有证照目录现已列为保密（SECRET）、不对外提供的信息项：住所")
        assert "domicile" in message and "AmendLicense" in message
        with pytest.raises(grpc.RpcError) as caught:
            document_text(running, drawn_id)
        assert error_details(caught.value)[0].reason == "DOCUMENT_PRINTS_SECRET"

        printed = document_text(running, later_id).replace("\r\n", "")  # drawn now: without it
        assert later["fields"]["domicile"] not in printed and "住所" not in printed
        assert document_text(running, supplied_id)  # what the issuer's own PDF prints is not known: given as before

        amended = amend(running, drawn_id, issue_date=today().isoformat()).license  # issued 2024-03-01
        printed = document_text(running, amended.license_id).replace("\r\n", "")
        assert drawn["fields"]["domicile"] not in printed and drawn["fields"]["business_scope"][:10] in printed
