"""SharingService over real gRPC: unconditional lookups, conditional data behind consents, not-shared types, masking,
documents stamped with their use, form prefilling, and an access record for every answered call."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pypdfium2
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select, text

from adapters.http import HttpServer
from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.config import Settings
from gateway.domain.catalog import Catalog
from gateway.domain.identifiers import LicenseId, citizen_id_problem, uscc_problem
from gateway.domain.model import CHINA_TZ
from gateway.server import Gateway, build_server, initialise
from gateway.services import sharing as sharing_service
from gateway.services.members import load_bootstrap_catalog
from gateway.store import group_writer
from gateway.store.database import AppendWork
from gateway.store.models import ConsentRow
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    authorization_pb2_grpc,
    common_pb2,
    issuance_pb2,
    seal_pb2,
    sharing_pb2,
    sharing_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from signing.pdf import validate_sync
from signing.results import CheckResult
from tests.api.test_audit import record_count
from tests.api.test_issuance import unique
from tests.api.test_verification import change, draw_over, verify
from tests.commands import ROOT
from tests.conftest import (
    ADMIN,
    CIVIL,
    MARKET,
    PASSPHRASE,
    POLICE,
    PORTAL,
    TAX,
    RunningGateway,
    backend_params,
    descriptions,
    error_details,
    fresh_database,
    http_side,
    start_gateway,
    today,
)

TRAFFIC = "11370100993701038J"  # 公安局交通警察支队: an issuer only
HR = "11370100993701070X"  # 济南市人力资源和社会保障局: issuer and consumer (社保登记)
EXIT = "11370100993701046D"  # 出入境管理支队: issues 护照
REAL_ESTATE = "123701009937011183"  # 济南市不动产登记中心: a consumer only (不动产转移登记)
PARTNER = "11440100994401010G"  # 广州市政务服务和数据管理局: the partner gateway of region 440100
ID_CARD = samples.ID_CARD
MARRIAGE = samples.MARRIAGE
BUSINESS_LICENSE = samples.BUSINESS_LICENSE
PASSPORT = "111000009910000279001"
SOCIAL_SECURITY_CARD = "11100000991000051R001"

FPSL = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="新办纳税人首次申领发票")
QYKZ = verification_pb2.UseContext(matter_code="370100-QYKZ-001", purpose="企业印章刻制备案，核验法定代表人身份")
"""济南市公安局's matter: the police issue the ID cards it lists, and read them by its rules as anyone (ADR 0011)."""
SBDJ = verification_pb2.UseContext(matter_code="370100-SBDJ-001", purpose="单位社会保险登记")
BDCZY = verification_pb2.UseContext(matter_code="370100-BDCZY-001", purpose="不动产转移登记，核验权利人身份")
"""济南市不动产登记中心's matter: a plain consumer of the ID card, whose fields it lists need an authorisation."""
SPJC = verification_pb2.UseContext(matter_code="370100-SPJC-001", purpose="食品生产经营监督检查")
SBZY = verification_pb2.UseContext(matter_code="440100-SBZY-001", purpose="社会保险关系转移（跨省通办）")
"""A matter of region 440100: the Guangzhou partner gateway may name it (it reads the ID card as a consumer)."""
TEST_MATTER = "370100-CSSY-001"  # only in the test catalog: lists a sensitive field, a secret one, a passport
CSSY = verification_pb2.UseContext(matter_code=TEST_MATTER, purpose="测试：脱敏与不予共享")
NAME_ONLY = verification_pb2.UseContext(matter_code="370100-CSSY-002", purpose="测试：只需姓名")
PHOTO_ONLY = verification_pb2.UseContext(matter_code="370100-CSSY-004", purpose="测试：只需照片")
NEVER_SHARED_FIELD = verification_pb2.UseContext(matter_code="370100-CSSY-005", purpose="测试：列出不予共享的信息项")
"""In the test catalog only: a matter that lists the ID card's photo alone, a field never given out (SECRET)."""
COMPANY_FIELDS = verification_pb2.UseContext(matter_code="370100-CSSY-006", purpose="测试：企业的有条件共享信息项")
"""In the test catalog only: a matter that lists a 营业执照's 注册资本 and a 食品生产许可证's 法定代表人, each made
conditionally shared there (the field's own class), beside fields shared unconditionally: a company's consent lets
those through."""
TEST_DEPARTMENT = "国家税务总局济南市税务局"  # handles the test catalog's matters: TAX uses them
BY_AN_ISSUER = verification_pb2.UseContext(matter_code="370100-CSSY-003", purpose="测试：只发证的部门办理的事项")
"""In the test catalog only: a matter of TRAFFIC, an issuer without the CONSUMER role."""

HANDLERS = {
    FPSL.matter_code: TAX,
    QYKZ.matter_code: POLICE,
    SBDJ.matter_code: HR,
    BDCZY.matter_code: REAL_ESTATE,
    SPJC.matter_code: MARKET,
    SBZY.matter_code: PARTNER,
    TEST_MATTER: TAX,
    NAME_ONLY.matter_code: TAX,
    PHOTO_ONLY.matter_code: TAX,
    NEVER_SHARED_FIELD.matter_code: TAX,
    COMPANY_FIELDS.matter_code: TAX,
    BY_AN_ISSUER.matter_code: TRAFFIC,
}
"""The member that may name each matter the tests use (a department names only the matters it handles)."""

AVAILABLE = sharing_pb2.ACCESS_STATE_AVAILABLE
NEEDS_AUTHORIZATION = sharing_pb2.ACCESS_STATE_NEEDS_AUTHORIZATION
NOT_SHARED = sharing_pb2.ACCESS_STATE_NOT_SHARED


# --- helpers ------------------------------------------------------------------------------------------------------


def sharing(running: RunningGateway, member: str = TAX) -> sharing_pb2_grpc.SharingServiceStub:
    return sharing_pb2_grpc.SharingServiceStub(running.channel(member))


def authorization(running: RunningGateway, member: str) -> authorization_pb2_grpc.AuthorizationServiceStub:
    return authorization_pb2_grpc.AuthorizationServiceStub(running.channel(member))


def business_license(
    running: RunningGateway, n: int = 1, *, batch: bool = False, document: bytes = b""
) -> tuple[str, str]:
    """Issue a 营业执照 (with its document, drawn or the issuer's own ``document``, unless ``batch``) to a new
    company; returns its identifier and the USCC."""
    record = unique(samples.business_license(n))
    request = issue_request(record)
    request.document = document
    if batch:
        (response,) = running.issuance(MARKET).BatchIssueLicenses(
            iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[request])])
        )
        (result,) = response.results
        assert not result.HasField("error"), result.error
        return result.license.license_id, record["holder"]["code"]
    return running.issuance(MARKET).IssueLicense(request).license.license_id, record["holder"]["code"]


def person(sex: str = "") -> tuple[str, dt.date]:
    """A fresh citizen ID (check-valid) and birth date, so that every test has holders of its own; a man's (男) or a
    woman's (女) when ``sex`` says (the 17th character odd or even)."""
    born = dt.date(1960, 1, 1) + dt.timedelta(days=random.randrange(15000))
    sequence = random.randrange(1000)
    if sex:
        sequence = sequence // 2 * 2 + (sex == "男")
    return samples.citizen_id(sequence, born), born


def id_card(
    running: RunningGateway, code: str = "", born: dt.date | None = None, name: str = ""
) -> issuance_pb2.IssueLicenseResponse:
    """Issue a 居民身份证 to a new person (or to ``code``), named ``name`` or one drawn at random."""
    if not code:
        code, born = person()
    assert born is not None
    record = samples.id_card(0)
    name = name or samples.person_name(random.randrange(1000))
    record = {
        **record,
        "request_id": f"id-{uuid.uuid4().hex}",
        "license_number": code,
        "holder": {"name": name, "code_type": "111", "code": code},
        "fields": {
            **record["fields"],
            "name": name,
            "gender": "男" if int(code[16]) % 2 else "女",
            "birth_date": born.isoformat(),
            "citizen_id": code,
            "photo": "photo-ref-0001",
        },
    }
    return running.issuance(POLICE).IssueLicense(issue_request(record))


def passport(running: RunningGateway, code: str, born: dt.date) -> str:
    record = {
        "request_id": f"pp-{uuid.uuid4().hex}",
        "type_code": PASSPORT,
        "license_number": "E" + uuid.uuid4().hex[:8].upper(),
        "holder": {"name": "王芳", "code_type": "111", "code": code},
        "issue_date": "2022-01-10",
        "valid_until": "2032-01-09",
        "fields": {
            "passport_type": "P",
            "country_code": "CHN",
            "name": "王芳",
            "name_pinyin": "WANG FANG",
            "gender": "男" if int(code[16]) % 2 else "女",
            "nationality": "中国",
            "birth_date": born.isoformat(),
            "birth_place": "山东",
            "place_of_issue": "山东",
            "issuing_authority": "中华人民共和国国家移民管理局",
        },
    }
    return running.issuance(EXIT).IssueLicense(issue_request(record)).license.license_id


def grant(
    running: RunningGateway,
    holder_code: str,
    *,
    grantee: str = REAL_ESTATE,
    matter: str = BDCZY.matter_code,
    license_ids: tuple[str, ...] = (),
    type_codes: tuple[str, ...] = (ID_CARD,),
    uses: int = 1,
    days: int = 7,
) -> authorization_pb2.GrantConsentResponse:
    until = Timestamp()
    until.FromDatetime(running.gateway.clock.now() + dt.timedelta(days=days))
    return authorization(running, PORTAL).GrantConsent(
        authorization_pb2.GrantConsentRequest(
            holder_code=holder_code,
            grantee_code=grantee,
            matter_code=matter,
            license_ids=list(license_ids),
            type_codes=list(type_codes),
            valid_until=until,
            uses=uses,
        )
    )


def data(
    running: RunningGateway, license_id: str, use: verification_pb2.UseContext = FPSL, member: str = "", code: str = ""
) -> sharing_pb2.GetLicenseDataResponse:
    """GetLicenseData by ``member``, by default the department that handles the ``use``'s matter (``HANDLERS``; TAX
    for a matter that is missing or unknown)."""
    return sharing(running, member or HANDLERS.get(use.matter_code, TAX)).GetLicenseData(
        sharing_pb2.GetLicenseDataRequest(use=use, license_id=license_id, consent_code=code)
    )


def revoke(running: RunningGateway, license_id: str) -> None:
    running.issuance(MARKET).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id="rv-" + uuid.uuid4().hex,
            license_id=license_id,
            action=issuance_pb2.STATUS_ACTION_REVOKE,
            reason="吊销",
        )
    )


def denied(call: Any) -> tuple[str, dict[str, str]]:
    """Run ``call``; it must fail with PERMISSION_DENIED. Returns the reason and the ErrorInfo metadata."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, caught.value.details()
    info, _ = error_details(caught.value)
    return info.reason, dict(info.metadata)


def records_of(running: RunningGateway, holder_code: str) -> list[audit_pb2.AccessRecord]:
    """The holder's log, newest first, without the listings of it (``LIST_ACCESS_RECORDS``), one of which each
    call of this makes."""
    stub = audit_pb2_grpc.AuditServiceStub(running.channel(PORTAL))
    listed = stub.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=holder_code)).records
    return [r for r in listed if r.action != "LIST_ACCESS_RECORDS"]


def uscc_of(running: RunningGateway, license_id: str) -> str:
    return (
        running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=license_id)).license.holder.code
    )


def fields_of(response: sharing_pb2.GetLicenseDataResponse) -> dict[str, str]:
    return {f.key: f.value for f in response.fields}


# --- a gateway with a clock of its own and a test matter ----------------------------------------------------------


class SettableClock:
    """The system clock, moved forward by what ``advance`` adds."""

    def __init__(self) -> None:
        self._offset = dt.timedelta()
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) + self._offset

    def advance(self, delta: dt.timedelta) -> None:
        with self._lock:
            self._offset += delta


def extended_catalog() -> Catalog:
    """The bootstrap catalog plus a matter that needs an ID card's address (sensitive, not in full), its photo
    (secret) and a passport (not shared), one that needs only a name, one only the photo, one a 食品生产许可证's
    日常监督管理人员 (made not shared here, the field's own class), one a 营业执照's 注册资本 and a 食品生产许可证's
    法定代表人 (made conditional here), these TAX's, and one of TRAFFIC's."""
    raw = json.loads((Path(load_bootstrap_catalog.__code__.co_filename).parent.parent / "bootstrap" / "catalog.json")
                     .read_text(encoding="utf-8"))  # fmt: skip
    (food,) = (t for t in raw["license_types"] if t["code"] == samples.FOOD_PERMIT)
    (officer,) = (f for f in food["fields"] if f["key"] == "supervising_officer")
    officer["sharing_class"] = "NOT_SHARED"
    (representative,) = (f for f in food["fields"] if f["key"] == "legal_representative")
    representative["sharing_class"] = "CONDITIONAL"
    (business,) = (t for t in raw["license_types"] if t["code"] == BUSINESS_LICENSE)
    (capital,) = (f for f in business["fields"] if f["key"] == "registered_capital")
    capital["sharing_class"] = "CONDITIONAL"
    raw["matters"].append(
        {
            "code": COMPANY_FIELDS.matter_code,
            "name": "测试事项（企业的有条件共享信息项）",
            "department": TEST_DEPARTMENT,
            "purpose": "测试",
            "materials": [
                {"type_code": BUSINESS_LICENSE, "fields": ["company_name", "uscc", "registered_capital"]},
                {"type_code": samples.FOOD_PERMIT, "fields": ["producer_name", "legal_representative"]},
            ],
        }
    )
    raw["matters"].append(
        {
            "code": NEVER_SHARED_FIELD.matter_code,
            "name": "测试事项（列出不予共享的信息项）",
            "department": TEST_DEPARTMENT,
            "purpose": "测试",
            "materials": [
                {"type_code": samples.FOOD_PERMIT, "fields": ["producer_name", "uscc", "supervising_officer"]}
            ],
        }
    )
    raw["matters"].append(
        {
            "code": TEST_MATTER,
            "name": "测试事项",
            "department": TEST_DEPARTMENT,
            "purpose": "测试",
            "materials": [
                {"type_code": ID_CARD, "fields": ["name", "address", "citizen_id", "photo"]},
                {"type_code": PASSPORT, "fields": ["name", "birth_place"], "required": False},
            ],
        }
    )
    raw["matters"].append(
        {
            "code": NAME_ONLY.matter_code,
            "name": "测试事项（只需姓名）",
            "department": TEST_DEPARTMENT,
            "purpose": "测试",
            "materials": [{"type_code": ID_CARD, "fields": ["name", "gender"]}],
        }
    )
    raw["matters"].append(
        {
            "code": PHOTO_ONLY.matter_code,
            "name": "测试事项（只需照片）",
            "department": TEST_DEPARTMENT,
            "purpose": "测试",
            "materials": [{"type_code": ID_CARD, "fields": ["photo"]}],
        }
    )
    raw["matters"].append(
        {
            "code": BY_AN_ISSUER.matter_code,
            "name": "测试事项（发证部门办理）",
            "department": "济南市公安局交通警察支队",
            "purpose": "测试",
            "materials": [{"type_code": BUSINESS_LICENSE, "fields": ["company_name", "uscc"]}],
        }
    )
    return Catalog.from_mapping(raw)


@dataclass
class Clocked:
    running: RunningGateway
    clock: SettableClock


@contextlib.contextmanager
def clocked_gateway(data_dir: Path, url: str, catalog: Catalog | None = None) -> Iterator[Clocked]:
    """A gateway (set up by ``initialise``) on the store ``url`` and ``data_dir``, with a clock of its own, serving
    on a free port; stopped after. ``catalog``: the bootstrap catalog when None."""
    settings = Settings(data_dir=data_dir, database_url=url, key_passphrase=PASSPHRASE, threads=8, max_watchers=4)  # type: ignore[arg-type]
    initialise(settings)
    clock = SettableClock()
    gateway = Gateway.open(settings, clock=clock, catalog=catalog)
    server, port = build_server(gateway, "127.0.0.1:0")
    server.start()
    raw = json.loads(settings.dev_tokens_path.read_text(encoding="utf-8"))
    tokens = {code: entry["token"] for code, entry in raw["tokens"].items()}
    try:
        running = RunningGateway(gateway=gateway, server=server, port=port, tokens=tokens, data_dir=data_dir)
        yield Clocked(running, clock)
    finally:
        server.stop(0)
        gateway.close()


@pytest.fixture(scope="module", params=backend_params())
def clocked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clocked]:
    with (
        fresh_database(request.param, tmp_path_factory.mktemp("db")) as url,
        clocked_gateway(tmp_path_factory.mktemp("var"), url, extended_catalog()) as gateway,
    ):
        yield gateway


# --- unconditional data ---------------------------------------------------------------------------------------------


def test_an_unconditional_license_is_found_read_and_recorded(running: RunningGateway) -> None:
    license_id, uscc = business_license(running, 1)
    listed = sharing(running).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=FPSL, holder_code_type="001", holder_code=uscc)
    )
    (entry,) = listed.licenses
    assert (entry.license_id, entry.type_name, entry.access_state) == (license_id, "营业执照", AVAILABLE)
    assert entry.issuer_name == "济南市市场监督管理局" and entry.status == 1 and not listed.missing

    read = data(running, license_id)
    assert [f.key for f in read.fields] == ["company_name", "uscc", "company_type", "legal_representative",
                                            "domicile", "business_scope", "established_on"]  # fmt: skip
    assert {f.basis for f in read.fields} == {sharing_pb2.SHARING_BASIS_UNCONDITIONAL}
    assert not read.withheld and not read.consent_id and not any(f.masked for f in read.fields)
    assert fields_of(read)["uscc"] == read.holder_code == uscc  # a USCC is public: shown in full
    assert "registered_capital" not in fields_of(read)  # least privilege: only what the matter lists

    records = records_of(running, uscc)
    assert [(r.action, r.decision, r.caller) for r in records] == [
        ("GET_LICENSE_DATA", "PERMIT", TAX),
        ("LIST_HOLDER_LICENSES", "LISTED", TAX),
    ]
    assert records[0].license_id == license_id and records[0].purpose == FPSL.purpose


def test_materials_the_applicant_has_no_license_for_are_listed_as_missing(running: RunningGateway) -> None:
    """A material of a type the applicant can never hold (企业印章刻制's 居民身份证 for a company) is not missing: it
    is another person's, the legal representative's, listed apart with whose it is (a company had been told it lacked
    a required 居民身份证; found by a scenario tester)."""
    _, uscc = business_license(running, 2)
    listed = sharing(running, POLICE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=QYKZ, holder_code_type="001", holder_code=uscc)
    )
    assert [e.type_code for e in listed.licenses] == [BUSINESS_LICENSE]
    assert not listed.missing
    (others,) = listed.held_by_others
    assert (others.type_code, others.type_name, others.required) == (ID_CARD, "居民身份证", True)
    assert others.detail.startswith(
        "居民身份证的持证主体代码类型为公民身份号码（111），本申请人的统一社会信用代码（001）不能持有"
    )
    assert "法定代表人" in others.detail
    nobody = sharing(running, POLICE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=QYKZ, holder_code_type="001", holder_code=samples.uscc(987654321))
    )
    assert not nobody.licenses and [m.type_code for m in nobody.missing] == [BUSINESS_LICENSE]
    assert [m.type_code for m in nobody.held_by_others] == [ID_CARD]
    # a person lacks the 居民身份证 a matter needs, and can never hold the 营业执照 it needs too
    code, _ = person()
    citizen = sharing(running, POLICE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=QYKZ, holder_code_type="111", holder_code=code)
    )
    assert [m.type_code for m in citizen.missing] == [ID_CARD]
    (company,) = citizen.held_by_others
    assert company.type_code == BUSINESS_LICENSE and "这是单位（如申请人代表的企业）的材料" in company.detail
    assert all(not m.detail for m in citizen.missing)
    # a person known by another code (a passport's) still lacks the person's materials: their own, not another's
    # (it had been told they were others', by the code type alone; a reviewer); 其他 (099) may be either kind
    for code_type, code, others_wanted in (("414", "E12345678", [BUSINESS_LICENSE]), ("099", "TMP-0001", [])):
        listed = sharing(running, POLICE).ListHolderLicenses(
            sharing_pb2.ListHolderLicensesRequest(use=QYKZ, holder_code_type=code_type, holder_code=code)
        )
        assert ID_CARD in [m.type_code for m in listed.missing], code_type
        assert [m.type_code for m in listed.held_by_others] == others_wanted, code_type


def test_a_revoked_license_is_listed_with_its_status_and_counts_as_missing(running: RunningGateway) -> None:
    license_id, uscc = business_license(running, 3, batch=True)
    revoke(running, license_id)
    listed = sharing(running).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=FPSL, holder_code_type="001", holder_code=uscc)
    )
    (entry,) = listed.licenses
    assert entry.status == 3 and [m.type_code for m in listed.missing] == [BUSINESS_LICENSE]
    assert data(running, license_id).status == 3  # the data says so too


def test_a_record_changed_behind_the_gateways_back_is_not_shared(running: RunningGateway) -> None:
    """What is shared is what the issuer sealed and the gateway stored: a changed record is refused (and the refusal
    recorded), fills no form and counts as missing; a status set ACTIVE behind the gateway's back likewise."""
    license_id, uscc = business_license(running, 7, batch=True)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE licenses SET holder_name = :name WHERE license_id = :id"),
            {"name": "冒名公司", "id": license_id},
        )
    with pytest.raises(grpc.RpcError) as refused:
        data(running, license_id)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(refused.value)[0].reason == "RECORD_ALTERED"
    assert "冒名公司" not in str(refused.value.details())
    (record, *_) = records_of(running, uscc)
    assert (record.action, record.decision, record.reason) == ("GET_LICENSE_DATA", "DENY", "RECORD_ALTERED")
    listed = sharing(running).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=FPSL, holder_code_type="001", holder_code=uscc)
    )
    assert [m.type_code for m in listed.missing] == [BUSINESS_LICENSE]
    (entry,) = listed.licenses  # listed, but not offered as something to read
    assert (entry.access_state, entry.reason) == (sharing_pb2.ACCESS_STATE_NOT_SHARED, "RECORD_NOT_INTACT")
    assert "RECORD_ALTERED" in entry.detail
    form = sharing(running, HR).PrefillForm(
        sharing_pb2.PrefillFormRequest(use=SBDJ, holder_code_type="001", holder_code=uscc, field_keys=["company_name"])
    )
    assert not form.values

    revived, _ = business_license(running, 8, batch=True)
    revoke(running, revived)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("UPDATE licenses SET status = 'ACTIVE' WHERE license_id = :id"), {"id": revived})
    running.gateway.feed.committed([f"license:{revived}"])  # type: ignore[union-attr]
    with pytest.raises(grpc.RpcError) as revived_refused:
        data(running, revived)
    assert error_details(revived_refused.value)[0].reason == "STATUS_ALTERED"

    # a record whose check fails otherwise (its seal key one no seal of the gateway has) is RECORD_NOT_INTACT, the
    # finding named in the metadata: the refusal's reason had been the finding itself, a code no list of refusals
    # had (a reviewer)
    unknown_key, _ = business_license(running, 9, batch=True)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("UPDATE licenses SET seal_key_id = 'ffff' WHERE license_id = :id"), {"id": unknown_key})
    running.gateway.feed.committed([f"license:{unknown_key}"])  # type: ignore[union-attr]
    with pytest.raises(grpc.RpcError) as unknown_refused:
        data(running, unknown_key)
    info = error_details(unknown_refused.value)[0]
    assert (unknown_refused.value.code(), info.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RECORD_NOT_INTACT")
    assert dict(info.metadata) == {"finding": "UNKNOWN_SEAL_KEY"}


# --- conditional data and consents --------------------------------------------------------------------------------


def test_conditional_data_without_authorisation_is_denied_with_a_remedy(running: RunningGateway) -> None:
    card = id_card(running).license
    listed = sharing(running, REAL_ESTATE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=BDCZY, holder_code_type="111", holder_code=card.holder.code)
    )
    (entry,) = listed.licenses
    assert (entry.access_state, entry.reason) == (NEEDS_AUTHORIZATION, "NEEDS_AUTHORIZATION")
    # the issuer by name and code: a clerk asks a department, not a code
    remedy = (
        f"向发证部门济南市公安局（{POLICE}）申请审批，或请持证人出具用证码（ask the issuer {POLICE} for an approval, "
        "RequestAccess, or the holder for a consent code, GrantConsent）"
    )
    assert entry.remedy == remedy

    reason, metadata = denied(lambda: data(running, card.license_id, BDCZY))
    assert reason == "NEEDS_AUTHORIZATION" and metadata["remedy"] == remedy
    form = sharing(running, REAL_ESTATE).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=BDCZY, holder_code_type="111", holder_code=card.holder.code, field_keys=["姓名"]
        )
    )
    assert form.remedy == remedy
    # a matter that does not need the type is refused whatever the caller holds, before the card is looked up
    with pytest.raises(grpc.RpcError) as unused:
        data(running, card.license_id, FPSL)
    assert error_details(unused.value)[1] == [("license_id", "NOT_USED_BY_MATTER")]
    actions = [(r.action, r.decision, r.reason) for r in records_of(running, card.holder.code)]
    assert actions == [
        ("GET_LICENSE_DATA", "DENIED", "NOT_USED_BY_MATTER"),  # the holder sees the attempt; the caller learnt nothing
        ("PREFILL_FORM", "DENY", "NEEDS_AUTHORIZATION"),
        ("GET_LICENSE_DATA", "DENY", "NEEDS_AUTHORIZATION"),
        ("LIST_HOLDER_LICENSES", "LISTED", "licenses=1"),
    ]


def missing_twin(license_id: str) -> str:
    """The identifier of a license that does not exist: ``license_id``'s type and issuer, another serial."""
    named = LicenseId.parse(license_id)
    return str(
        LicenseId(
            type_code=named.type_code,
            issuer_code=named.issuer_code,
            serial=f"NONE{uuid.uuid4().hex[:8]}".upper(),
            version=1,
        )
    )


def test_a_license_of_a_type_the_matter_does_not_use_is_refused_before_it_is_looked_up(running: RunningGateway) -> None:
    """发票申领 uses the 营业执照 alone: naming an ID card under it, the tax bureau's reads and access requests had
    looked the card up first, answering PERMISSION_DENIED / MATTER_NOT_FOR_TYPE (RequestAccess: INVALID_ARGUMENT) for
    an existing card, NOT_FOUND for a missing one, and putting a DENY naming the card on its holder's log: whether
    another department's license exists was told (found by a black-box tester). Now they answer as VerifyLicense
    does, the same for both (docs/api.md: "before anything is looked up"); the attempt is recorded all the same, as a
    refusal for another department's matter is: on the card's holder's log when the card exists, naming no one when
    it does not (the caller reads neither log)."""
    card = id_card(running).license
    tax = sharing(running, TAX)
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))
    message = (
        "license_id: 事项 370100-FPSL-001（发票申领）不使用居民身份证"
        "（matter 370100-FPSL-001 does not use Resident Identity Card (11100000991000019E001)）"
    )
    refusal = (grpc.StatusCode.INVALID_ARGUMENT, [("license_id", "NOT_USED_BY_MATTER")], message)
    seen_by_holder = len(records_of(running, card.holder.code))
    before = record_count(running)
    for license_id in (card.license_id, missing_twin(card.license_id)):
        calls: list[tuple[Any, Any]] = [
            (verifier.VerifyLicense, verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=license_id)),
            (tax.GetLicenseData, sharing_pb2.GetLicenseDataRequest(use=FPSL, license_id=license_id)),
            (
                tax.GetLicenseDocument,
                sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id),
            ),
            (
                authorization(running, TAX).RequestAccess,
                authorization_pb2.RequestAccessRequest(use=FPSL, license_id=license_id, duration_days=30),
            ),
        ]
        for method, request in calls:
            with pytest.raises(grpc.RpcError) as caught:
                method(request)
            answer = (caught.value.code(), error_details(caught.value)[1], caught.value.details())
            assert answer == refusal, type(request).__name__
    assert record_count(running) == before + 8  # each refusal, the missing twin's naming no one
    refusals = records_of(running, card.holder.code)[: len(records_of(running, card.holder.code)) - seen_by_holder]
    assert [(r.action, r.decision, r.reason, r.license_id) for r in refusals] == [
        (action, "DENIED", "NOT_USED_BY_MATTER", card.license_id)
        for action in ("REQUEST_ACCESS", "GET_LICENSE_DOCUMENT", "GET_LICENSE_DATA", "VERIFY_LICENSE")  # newest first
    ]
    # a type the matter uses is still looked up: a missing one is not found
    business, _ = business_license(running, 11)
    for call in (
        lambda: data(running, missing_twin(business), FPSL),
        lambda: tax.GetLicenseDocument(
            sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=missing_twin(business))
        ),
    ):
        with pytest.raises(grpc.RpcError) as missing:
            call()
        assert (missing.value.code(), error_details(missing.value)[0].reason) == (
            grpc.StatusCode.NOT_FOUND,
            "LICENSE_NOT_FOUND",
        )
    # the issuer of the card too (ADR 0011: it had read its own licenses whatever its matter listed): the police's
    # 出生登记 uses no ID card
    births = verification_pb2.UseContext(matter_code="370100-CSDJ-001", purpose="出生登记，核对户主")
    with pytest.raises(grpc.RpcError) as own:
        data(running, card.license_id, births, member=POLICE)
    assert (own.value.code(), error_details(own.value)[1]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("license_id", "NOT_USED_BY_MATTER")],
    )
    assert records_of(running, card.holder.code)[0].reason == "NOT_USED_BY_MATTER"


def test_the_issuer_reads_its_own_license_by_the_matters_rules(running: RunningGateway) -> None:
    """Journey 1 (企业开办), step 2: the police's 刻章备案 desk reads the legal representative's 居民身份证, a card the
    police issued, by the consent the holder hands over: the matter's four fields (not the address, not the photo),
    and the consent used. It had read the whole card under any matter and left the consent unused (ADR 0011)."""
    card = id_card(running).license
    assert denied(lambda: data(running, card.license_id, QYKZ, member=POLICE))[0] == "NEEDS_AUTHORIZATION"
    code = grant(running, card.holder.code, grantee=POLICE, matter=QYKZ.matter_code).code
    read = data(running, card.license_id, QYKZ, member=POLICE, code=code)
    assert [f.key for f in read.fields] == ["name", "gender", "citizen_id", "issuing_authority"]
    assert {f.basis for f in read.fields} == {sharing_pb2.SHARING_BASIS_CONSENT}
    assert (bool(read.consent_id), read.consent_uses_left) == (True, 0)
    assert denied(lambda: data(running, card.license_id, QYKZ, member=POLICE, code=code))[0] == "CONSENT_USED_UP"
    # or by an approval of its own, asked for and decided in its own queue like anyone's
    asked = authorization(running, POLICE).RequestAccess(
        authorization_pb2.RequestAccessRequest(use=QYKZ, license_id=card.license_id, duration_days=30)
    )
    assert asked.request.issuer_code == POLICE
    authorization(running, POLICE).DecideAccessRequest(
        authorization_pb2.DecideAccessRequestRequest(
            request_id=asked.request.request_id, decision=authorization_pb2.ACCESS_DECISION_APPROVE
        )
    )
    approved = data(running, card.license_id, QYKZ, member=POLICE)
    assert [f.key for f in approved.fields] == ["name", "gender", "citizen_id", "issuing_authority"]
    assert {f.basis for f in approved.fields} == {sharing_pb2.SHARING_BASIS_APPROVAL}


def test_a_one_use_consent_is_used_up(running: RunningGateway) -> None:
    card = id_card(running).license
    granted = grant(running, card.holder.code, uses=1)
    assert granted.consent.state == authorization_pb2.CONSENT_STATE_ACTIVE and len(granted.code) == 29

    listed = sharing(running, REAL_ESTATE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(
            use=BDCZY, holder_code_type="111", holder_code=card.holder.code, consent_code=granted.code
        )
    )
    assert [e.access_state for e in listed.licenses] == [AVAILABLE]  # weighed, not used up by listing

    read = data(running, card.license_id, BDCZY, code=granted.code.lower().replace("-", ""))  # case and dashes free
    wanted = {key: card.fields[key] for key in ("name", "gender", "citizen_id")}
    assert fields_of(read) == wanted
    assert {f.basis for f in read.fields} == {sharing_pb2.SHARING_BASIS_CONSENT}
    assert (read.consent_id, read.consent_uses_left) == (granted.consent.consent_id, 0)
    assert read.holder_code == card.holder.code  # shown in full: the citizen_id field shows the same value

    assert denied(lambda: data(running, card.license_id, BDCZY, code=granted.code))[0] == "CONSENT_USED_UP"
    (consent,) = (
        authorization(running, PORTAL)
        .ListConsents(authorization_pb2.ListConsentsRequest(holder_code=card.holder.code))
        .consents
    )
    assert (consent.state, consent.uses_left, consent.uses_allowed) == (authorization_pb2.CONSENT_STATE_USED_UP, 0, 1)
    uses = [
        (r.action, r.decision, r.reason) for r in records_of(running, card.holder.code) if r.action.startswith("GET")
    ]
    assert uses == [
        ("GET_LICENSE_DATA", "DENY", "CONSENT_USED_UP"),
        ("GET_LICENSE_DATA", "PERMIT", f"consent={granted.consent.consent_id}"),
    ]


def test_a_read_whose_caller_stopped_waiting_spends_no_use(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-use read answered after its client's deadline had spent the use and put PERMIT on the holder's log,
    while the client had DEADLINE_EXCEEDED and no data, and its retry was refused CONSENT_USED_UP (a black-box
    tester). Committed only while the caller waits: the late one rolls back, and the retry reads."""
    from gateway.services.sharing import SharingService
    from gateway.store.repositories import ConsentRepository

    card = id_card(running).license
    granted = grant(running, card.holder.code, uses=1)
    spend, settle, settled = ConsentRepository.use, SharingService._settle, threading.Event()

    def slow(self: ConsentRepository, consent_id: str, now: dt.datetime) -> int | None:
        time.sleep(0.6)  # the store is slow today: the client gives up meanwhile
        return spend(self, consent_id, now)

    def watched(self: SharingService, *args: Any) -> Any:
        try:
            return settle(self, *args)
        finally:  # its transaction ended, committed or not
            settled.set()

    monkeypatch.setattr(ConsentRepository, "use", slow)
    monkeypatch.setattr(SharingService, "_settle", watched)
    with pytest.raises(grpc.RpcError) as late:
        sharing(running, REAL_ESTATE).GetLicenseData(
            sharing_pb2.GetLicenseDataRequest(use=BDCZY, license_id=card.license_id, consent_code=granted.code),
            timeout=0.3,
        )
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert settled.wait(10)
    monkeypatch.setattr(ConsentRepository, "use", spend)
    (consent,) = (
        authorization(running, PORTAL)
        .ListConsents(authorization_pb2.ListConsentsRequest(holder_code=card.holder.code))
        .consents
    )
    assert (consent.state, consent.uses_left) == (authorization_pb2.CONSENT_STATE_ACTIVE, 1)
    assert not [r for r in records_of(running, card.holder.code) if r.action == "GET_LICENSE_DATA"]
    read = data(running, card.license_id, BDCZY, code=granted.code)
    assert (fields_of(read)["name"], read.consent_uses_left) == (card.fields["name"], 0)


def test_a_withdrawn_consent_is_refused_from_the_next_call(running: RunningGateway) -> None:
    card = id_card(running).license
    granted = grant(running, card.holder.code, license_ids=(card.license_id,), type_codes=(), uses=5)
    assert data(running, card.license_id, BDCZY, code=granted.code).consent_uses_left == 4
    withdrawn = (
        authorization(running, PORTAL)
        .WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(
                consent_id=granted.consent.consent_id, holder_code=card.holder.code
            )
        )
        .consent
    )
    assert withdrawn.state == authorization_pb2.CONSENT_STATE_WITHDRAWN and withdrawn.HasField("withdrawn_at")
    assert denied(lambda: data(running, card.license_id, BDCZY, code=granted.code))[0] == "CONSENT_WITHDRAWN"
    assert withdrawn.uses_left == 4  # the refused call used nothing


def test_a_code_only_works_for_its_grantee_matter_and_holder(running: RunningGateway) -> None:
    card = id_card(running).license
    other = id_card(running).license
    granted = grant(running, card.holder.code, uses=10)
    # MARKET is a consumer too, but it cannot even name the matter: 不动产转移登记 is not its own
    assert denied(lambda: data(running, card.license_id, BDCZY, member=MARKET, code=granted.code))[0] == (
        "NOT_MATTER_DEPARTMENT"
    )
    # the Guangzhou partner reads ID cards for a matter of its own, but the code was given to REAL_ESTATE
    assert denied(lambda: data(running, card.license_id, SBZY, code=granted.code))[0] == "CONSENT_OTHER_GRANTEE"
    assert denied(lambda: data(running, other.license_id, BDCZY, code=granted.code))[0] == "CONSENT_OTHER_HOLDER"
    unknown = "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF"
    assert denied(lambda: data(running, card.license_id, BDCZY, code=unknown))[0] == "CONSENT_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as malformed:
        data(running, card.license_id, BDCZY, code="123")
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(malformed.value)[1] == [("consent_code", "BAD_CONSENT_CODE")]
    # none of these used the consent
    (consent,) = (
        authorization(running, PORTAL)
        .ListConsents(authorization_pb2.ListConsentsRequest(holder_code=card.holder.code))
        .consents
    )
    assert consent.uses_left == 10


def test_a_consent_code_is_taken_as_people_type_it(running: RunningGateway) -> None:
    """A code has O and I but never 0 or 1: a clerk who reads DYIE as DY1E, a Chinese input method's full-width
    letters and dashes (－, ——), spaces and lower case all name the code (0 and 1 were refused, found by an
    independent client)."""
    card = id_card(running).license
    granted = grant(running, card.holder.code, uses=5)
    while not {"O", "I"} & set(granted.code):  # one code in five has neither
        granted = grant(running, card.holder.code, uses=5)
    code = granted.code
    full_width = "".join("－" if c == "-" else chr(ord(c) + 0xFEE0) for c in code)
    for typed in (
        code.replace("O", "0").replace("I", "1"),
        full_width,
        code.replace("-", "——"),
        code.replace("-", "‐"),
        code.lower().replace("-", " "),
    ):
        read = data(running, card.license_id, BDCZY, code=typed)
        assert read.consent_id == granted.consent.consent_id, typed
    assert read.consent_uses_left == 0


@pytest.mark.parametrize("typed", ["123", "DYIE-KXQ3-6LIM-NOFD-ABCD-EFG", "DYIE-KXQ3-6LIM-NOFD-ABCD-EFG8"])
def test_a_malformed_consent_code_is_refused_saying_what_a_code_looks_like(running: RunningGateway, typed: str) -> None:
    card = id_card(running).license
    with pytest.raises(grpc.RpcError) as malformed:
        data(running, card.license_id, BDCZY, code=typed)
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(malformed.value)[1] == [("consent_code", "BAD_CONSENT_CODE")]
    assert "用证码格式不正确：应为24位字母和数字，每4位一组，用“-”分隔" in str(malformed.value.details())


def test_two_concurrent_uses_of_a_one_use_code_cannot_both_succeed(running: RunningGateway) -> None:
    card = id_card(running).license
    granted = grant(running, card.holder.code, uses=1)
    before = record_count(running)
    callers = 8
    barrier = threading.Barrier(callers)
    outcomes: list[str] = []
    lock = threading.Lock()
    stubs = [sharing(running, REAL_ESTATE) for _ in range(callers)]  # one channel each: truly concurrent calls

    def use(stub: sharing_pb2_grpc.SharingServiceStub) -> None:
        request = sharing_pb2.GetLicenseDataRequest(use=BDCZY, license_id=card.license_id, consent_code=granted.code)
        barrier.wait()
        try:
            stub.GetLicenseData(request)
            outcome = "PERMIT"
        except grpc.RpcError as exc:
            outcome = error_details(exc)[0].reason
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=use, args=(stub,)) for stub in stubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["CONSENT_USED_UP"] * (callers - 1) + ["PERMIT"]
    assert record_count(running) - before == callers
    with running.gateway.db.engine.connect() as connection:
        left = connection.execute(
            select(ConsentRow.uses_left).where(ConsentRow.consent_id == granted.consent.consent_id)
        ).scalar_one()
    assert left == 0


def test_the_consent_code_is_kept_only_as_a_hash(running: RunningGateway) -> None:
    card = id_card(running).license
    granted = grant(running, card.holder.code)
    with running.gateway.db.engine.connect() as connection:
        row = connection.execute(
            text("SELECT * FROM consents WHERE consent_id = :id"), {"id": granted.consent.consent_id}
        ).one()
    stored = " ".join(str(value) for value in row)
    assert granted.code not in stored and granted.code.replace("-", "") not in stored


# --- not shared, secret and masked --------------------------------------------------------------------------------


def test_not_shared_secret_and_masked_fields(clocked: Clocked) -> None:
    running = clocked.running
    code, born = person()
    card = id_card(running, code, born).license
    passport_id = passport(running, code, born)
    granted = grant(running, code, grantee=TAX, matter=TEST_MATTER, uses=5)

    listed = sharing(running).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=CSSY, holder_code_type="111", holder_code=code,
                                              consent_code=granted.code)
    )  # fmt: skip
    states = {e.type_code: (e.access_state, e.reason) for e in listed.licenses}
    assert states == {ID_CARD: (AVAILABLE, ""), PASSPORT: (NOT_SHARED, "NOT_SHARED")}

    read = data(running, card.license_id, CSSY, code=granted.code)
    shown = {f.key: (f.value, f.masked) for f in read.fields}
    address = card.fields["address"]
    # the province and city, never the street and room at its end, nor its length
    assert shown["address"] == (address[:6] + "******", True) and address[-4:] not in shown["address"][0]
    assert shown["citizen_id"] == (code, False) and read.holder_code == code
    assert [(w.key, w.reason) for w in read.withheld] == [("photo", "SECRET")]  # never leaves, consent or not

    assert denied(lambda: data(running, passport_id, CSSY, code=granted.code))[0] == "NOT_SHARED"
    assert "photo-ref-0001" not in str(read)


def test_a_claim_cannot_confirm_what_the_matter_sees_masked(clocked: Clocked) -> None:
    """CSSY sees the ID card's address masked (山东省济南市******): "it matches" on the whole address would confirm a
    guessed house number (found by a privacy tester: 0 for the right one, 7 for another). Refused, and on the
    holder's log, as a claim on a secret field is; the name, which it sees whole, is compared."""
    running = clocked.running
    code, born = person()
    card = id_card(running, code, born).license
    clerk = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))

    def claim(fields: dict[str, str]) -> verification_pb2.CheckClaimResponse:
        return clerk.CheckClaim(
            verification_pb2.CheckClaimRequest(
                use=CSSY, type_code=ID_CARD, holder_code=code, license_number=card.license_number, fields=fields
            )
        )

    for address in (card.fields["address"], card.fields["address"] + "1"):
        with pytest.raises(grpc.RpcError) as caught:
            claim({"address": address})
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [("fields.address", "NOT_CLAIMABLE")]
        assert "遮蔽" in (caught.value.details() or "")
    assert records_of(running, code)[0].reason == "NOT_CLAIMABLE"
    assert claim({"name": card.fields["name"]}).code == 0
    assert claim({"name": card.fields["name"] + "甲"}).code == 7


def food_permit_with_an_officer(running: RunningGateway) -> issuance_pb2.License:
    """A new 食品生产许可证 naming its 日常监督管理人员 (王监督), a field never shared in the test catalog."""
    record = unique(samples.food_permit(random.randrange(10**6)))
    record["fields"] = {**record["fields"], "supervising_officer": "王监督"}
    return running.issuance(MARKET).IssueLicense(issue_request(record)).license


def test_a_claim_cannot_confirm_a_field_never_shared(clocked: Clocked) -> None:
    """A field never shared (不予共享), by its own class or its type's, that the matter lists: a read withholds it
    (NOT_SHARED), and a claim of it is refused, right or wrong, as one of a secret field is: it had been answered 0
    for the right 日常监督检查记录 and 7 for another, five guesses a day with no approval or consent (found by a catalog
    designer tester). On the holder's log; the fields the matter reads, and the holder's name, are compared."""
    running = clocked.running
    permit = food_permit_with_an_officer(running)
    holder = permit.holder.code
    clerk = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))

    def claim(
        use: verification_pb2.UseContext, license: Any, fields: dict[str, str]
    ) -> verification_pb2.CheckClaimResponse:
        return clerk.CheckClaim(
            verification_pb2.CheckClaimRequest(
                use=use,
                type_code=license.type_code,
                holder_code=license.holder.code,
                license_number=license.license_number,
                fields=fields,
            )
        )

    read = data(running, permit.license_id, NEVER_SHARED_FIELD)
    assert [(w.key, w.reason) for w in read.withheld] == [("supervising_officer", "NOT_SHARED")]
    for officer in ("王监督", "李监督"):  # the right one and a guess: one answer
        with pytest.raises(grpc.RpcError) as caught:
            claim(NEVER_SHARED_FIELD, permit, {"supervising_officer": officer})
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [("fields.supervising_officer", "NOT_CLAIMABLE")]
        assert "日常监督管理人员不予共享" in (caught.value.details() or "")
    assert records_of(running, holder)[0].reason == "NOT_CLAIMABLE"
    assert claim(NEVER_SHARED_FIELD, permit, {"producer_name": permit.fields["producer_name"]}).code == 0
    assert claim(NEVER_SHARED_FIELD, permit, {"producer_name": "别的公司"}).code == 7

    code, born = person()
    passport_id = passport(running, code, born)  # a type not shared: each of its fields, birth_place listed by CSSY
    passport_license = running.issuance(EXIT).GetLicense(issuance_pb2.GetLicenseRequest(license_id=passport_id)).license
    for place in ("山东", "河北"):
        with pytest.raises(grpc.RpcError) as caught:
            claim(CSSY, passport_license, {"birth_place": place})
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [("fields.birth_place", "NOT_CLAIMABLE")]
    assert claim(CSSY, passport_license, {"holder_name": "王芳"}).code == 0


def test_the_consoles_claim_check_refuses_a_field_never_shared_as_grpc_does(clocked: Clocked) -> None:
    """信息比对 in the console is CheckClaim's: a field never shared is refused there too, right or wrong."""
    from tests.adapters.test_console import fetch, refusal

    running = clocked.running
    permit = food_permit_with_an_officer(running)
    with http_side(running) as base:
        url = f"{base}/console/api/check-claim"
        claim = {
            "use": {"matter_code": NEVER_SHARED_FIELD.matter_code, "purpose": "测试", "operator": "窗口03 王敏"},
            "type_code": permit.type_code,
            "holder_code": permit.holder.code,
            "license_number": permit.license_number,
        }
        for officer in ("王监督", "李监督"):
            status, answer = fetch(url, {**claim, "fields": {"supervising_officer": officer}}, running.tokens[TAX])
            assert refusal(answer) == (400, "NOT_CLAIMABLE", [("fields.supervising_officer", "NOT_CLAIMABLE")])
            assert "日常监督管理人员不予共享" in answer["error"]["message"]
        status, answer = fetch(url, {**claim, "fields": {"producer_name": permit.fields["producer_name"]}},
                               running.tokens[TAX])  # fmt: skip
        assert (status, answer["code"]) == (200, 0), answer


def test_a_read_a_listing_and_a_form_judge_the_status_at_the_time_they_are_dated(
    clocked: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GetLicenseData dated the use at the call's first reading of the clock and judged the status on a second: a call
    straddling 00:00 China time, on the last day of a license's validity, answered EXPIRED with a ``used_at`` of
    23:59:59 that day, and ListHolderLicenses listed it EXPIRED and missing for a listing recorded on that day (a
    reviewer, R2). Both judge it on the day of the time they are dated at, as GetLicenseDocument does: here the
    clock reads the day's last instant, and a second reading (``today``) would be the next day."""
    running, clock = clocked.running, clocked.clock
    day = clock.now().astimezone(CHINA_TZ).date()
    record = unique(samples.food_permit(4242))
    record.update(issue_date=(day - dt.timedelta(days=30)).isoformat(), valid_until=day.isoformat())
    license = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ)
    monkeypatch.setattr(clock, "now", lambda: midnight - dt.timedelta(microseconds=1))
    # a second reading of the clock (``today``), were the service to take one again, would be the next day
    monkeypatch.setattr(sharing_service, "today", lambda _: (midnight + dt.timedelta(seconds=1)).date(), raising=False)
    read = data(running, license.license_id, COMPANY_FIELDS)
    used_at = read.used_at.ToDatetime(dt.UTC).astimezone(CHINA_TZ)
    assert (read.status, used_at) == (common_pb2.LICENSE_STATUS_ACTIVE, midnight - dt.timedelta(microseconds=1))
    assert [f.key for f in read.fields] == ["producer_name"]
    listed = sharing(running).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(
            use=COMPANY_FIELDS, holder_code_type="001", holder_code=license.holder.code
        )
    )
    (entry,) = [e for e in listed.licenses if e.license_id == license.license_id]
    assert entry.status == common_pb2.LICENSE_STATUS_ACTIVE
    assert license.type_code not in {m.type_code for m in listed.missing}
    form = sharing(running, HANDLERS[COMPANY_FIELDS.matter_code]).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=COMPANY_FIELDS, holder_code_type="001", holder_code=license.holder.code, field_keys=["producer_name"]
        )
    )  # PrefillForm too (a day later than the others' fix)
    assert ([(v.key, v.license_id) for v in form.values], list(form.unfilled)) == (
        [("producer_name", license.license_id)],
        [],
    )


def test_the_holder_code_is_masked_when_no_field_shows_it(clocked: Clocked) -> None:
    running = clocked.running
    card = id_card(running).license
    code = card.holder.code
    granted = grant(running, code, grantee=TAX, matter=NAME_ONLY.matter_code)
    read = data(running, card.license_id, NAME_ONLY, code=granted.code)
    assert read.holder_code == code[:4] + "*" * 10 + code[-4:]  # 3701**********1234
    assert set(fields_of(read)) == {"name", "gender"}


# --- documents ------------------------------------------------------------------------------------------------------


def verify_pdf(running: RunningGateway, pdf: bytes, field: str | None = None) -> Any:
    seals = running.gateway.seals
    assert seals is not None
    return validate_sync(
        pdf, trust_roots=[seals.ca.root], intermediates=[seals.ca.intermediate], crls=[seals.crl()], field_name=field
    )


def signature_reasons(pdf: bytes) -> dict[str, str]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return {str(s.field_name): str(s.sig_object.get("/Reason", "")) for s in reader.embedded_regular_signatures}


def shown_text(pdf: bytes) -> str:
    """The first page's text as shown, signature appearances included (pdfium reads a page's text without its
    widgets, so they are flattened into it first), with line breaks and spaces left out."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        document.init_forms()
        page = document[0]
        page.flatten()
        page.close()
        text = str(document[0].get_textpage().get_text_range())
        return "".join(text.split())
    finally:
        document.close()


def rendered(pdf: bytes) -> Any:
    document = pypdfium2.PdfDocument(pdf)
    try:
        document.init_forms()  # signature appearances are widgets: drawn only with forms loaded
        return document[0].render(scale=1, may_draw_forms=True).to_pil().convert("RGB")
    finally:
        document.close()


def test_the_document_copy_carries_the_use_and_keeps_the_issuer_seal(running: RunningGateway) -> None:
    license_id, _ = business_license(running, 4)
    original = running.issuance(MARKET).GetLicenseDocument(
        issuance_pb2.GetLicenseDocumentRequest(license_id=license_id)
    )
    copy = sharing(running).GetLicenseDocument(sharing_pb2.SharingServiceGetLicenseDocumentRequest(
        use=FPSL, license_id=license_id))  # fmt: skip
    assert copy.original_sha256 == original.sha256 and copy.pdf.startswith(original.pdf)  # one incremental update
    assert copy.use_stamp_field.startswith("zzgw-use-")

    reasons = signature_reasons(copy.pdf)
    issuer_field = next(name for name in reasons if name != copy.use_stamp_field)
    issuer_seal = verify_pdf(running, copy.pdf, issuer_field)
    assert (issuer_seal.result, issuer_seal.uscc) == (CheckResult.PASSED, MARKET)  # the added stamp is allowed
    stamp = verify_pdf(running, copy.pdf, copy.use_stamp_field)
    assert stamp.result is CheckResult.PASSED and stamp.seal_name == "核验回执专用章" and stamp.uscc == ADMIN

    use_text = reasons[copy.use_stamp_field]
    assert use_text == copy.use_text
    assert f"用证事由：{FPSL.purpose}" in use_text and "用证单位：国家税务总局济南市税务局" in use_text
    assert "办理事项：发票申领（370100-FPSL-001）" in use_text
    assert re.search(r"；用证时间：\d{4}-\d\d-\d\d \d\d:\d\d:\d\d（北京时间）$", use_text)

    # visibly: the watermark's red ink appears across the middle of the page, where the original has none
    before, after = rendered(original.pdf), rendered(copy.pdf)
    middle = (100, 350, 500, 650)
    red = [sum(1 for r, g, b in image.crop(middle).get_flattened_data() if r - g > 40 and r - b > 40)
           for image in (before, after)]  # fmt: skip
    assert red[1] - red[0] > 1000

    # a clerk verifying the copy later still finds the license and a valid seal
    report = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX)).VerifyDocument(
        verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=copy.pdf)
    )
    assert report.report.verdict == verification_pb2.CHECK_RESULT_PASSED and not report.registered_document
    # the gateway's use stamp is vouched for as its own; a signature drawn on the copy afterwards is not
    covered = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX)).VerifyDocument(
        verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=draw_over(copy.pdf, "drawn-later"))
    )
    assert (covered.report.integrity.reason, covered.report.HasField("license")) == ("DOCUMENT_MODIFIED", False)
    assert "'drawn-later'" in covered.report.integrity.detail and "zzgw-use-" not in covered.report.integrity.detail


def test_a_copy_of_a_license_not_in_force_says_its_status_on_the_page_and_in_the_reply(running: RunningGateway) -> None:
    """A use copy carries the gateway's stamp (仅供本次用证使用); a revoked license's copy must not pass for a valid
    one's: its status is the watermark's first line, in the stamp's /Reason and in the reply."""
    license_id, _ = business_license(running, 5)
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
    valid = sharing(running).GetLicenseDocument(request)
    assert (valid.status, valid.status_since) == (common_pb2.LICENSE_STATUS_ACTIVE, "")
    assert "证照状态" not in valid.use_text

    revoke(running, license_id)
    copy = sharing(running).GetLicenseDocument(request)
    on = today().isoformat()
    assert (copy.status, copy.status_since) == (common_pb2.LICENSE_STATUS_REVOKED, on)
    assert copy.use_text.startswith(f"证照状态：已吊销或撤销（{on} 起）；用证事由：{FPSL.purpose}")
    assert signature_reasons(copy.pdf)[copy.use_stamp_field] == copy.use_text
    # and in the copy's text, which a screen reader, a copy-and-paste or an index reads: not only in the picture
    text = shown_text(copy.pdf)
    assert f"证照状态：已吊销或撤销（{on}起）" in text and "仅供本次用证使用，他用无效" in text
    for part in copy.use_text.split("；"):
        assert "".join(part.split()) in text
    assert "证照状态" not in shown_text(valid.pdf) and f"用证事由：{FPSL.purpose}" in shown_text(valid.pdf)

    starts = (today() + dt.timedelta(days=3)).isoformat()
    later = issue_request({**unique(samples.business_license(6)), "valid_from": starts})
    (response,) = running.issuance(MARKET).BatchIssueLicenses(
        iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[later])])
    )
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(
        use=FPSL, license_id=response.results[0].license.license_id
    )
    early = sharing(running).GetLicenseDocument(request)
    assert (early.status, early.status_since) == (common_pb2.LICENSE_STATUS_ACTIVE, "")
    assert early.use_text.startswith(f"证照状态：尚未生效（{starts} 起生效）；用证事由：")

    old, _ = business_license(running, 7)  # a version amended since: 已变更（不再现行）, one bracket, dated inside it
    new = (
        running.issuance(MARKET)
        .AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="am-" + uuid.uuid4().hex,
                license_id=old,
                fields={"legal_representative": "李四"},
                reason="变更",
            )
        )
        .license.license_id
    )
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=old)
    replaced = sharing(running).GetLicenseDocument(request)
    assert replaced.status == common_pb2.LICENSE_STATUS_SUPERSEDED
    # and the version in force with its standing, as VerifyLicense says it (review scen1, R3)
    assert replaced.use_text.startswith(f"证照状态：已变更（{on} 起不再现行）；现行版本 {new} 目前有效；用证事由：")


def two_pages() -> bytes:
    """An issuer's own PDF of two A4 pages (a 副本, a 品种明细 page), each with a black square and no text."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()  # type: ignore[no-untyped-call]
    for _ in range(2):
        content = writer.add_object(generic.StreamObject(stream_data=b"0 0 0 rg 100 100 50 50 re f"))
        page = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Page"),
                generic.NameObject("/MediaBox"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                ),
                generic.NameObject("/Contents"): content,
                generic.NameObject("/Resources"): generic.DictionaryObject(),
            }
        )
        writer.insert_page(page)  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def page_text_and_red(pdf: bytes) -> list[tuple[str, int]]:
    """Each page's text as shown, signature appearances flattened into it (spaces left out), and its red pixels."""
    pages = []
    for index in range(len(pypdfium2.PdfDocument(pdf))):
        document = pypdfium2.PdfDocument(pdf)
        try:
            document.init_forms()
            image = document[index].render(scale=1, may_draw_forms=True).to_pil().convert("RGB")
            red = sum(1 for r, g, b in image.get_flattened_data() if r - g > 40 and r - b > 40)
        finally:
            document.close()
        document = pypdfium2.PdfDocument(pdf)
        try:
            document.init_forms()
            page = document[index]
            page.flatten()
            page.close()
            pages.append(("".join(str(document[index].get_textpage().get_text_range()).split()), red))
        finally:
            document.close()
    return pages


def test_every_page_of_an_issuers_multi_page_document_carries_the_use_and_the_status(running: RunningGateway) -> None:
    """A sharing copy's watermark (the use, and a license not in force's status line) had been drawn on the first
    page only: page 2 of an issuer's own two-page PDF printed like the valid original (a reviewer, R4). Every page
    carries it now, in the same update, and the copy still verifies with its issuer's seal."""
    license_id, _ = business_license(running, 8, document=two_pages())
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
    copy = sharing(running).GetLicenseDocument(request)
    pages = page_text_and_red(copy.pdf)
    assert len(pages) == 2
    for shown, red in pages:
        assert f"用证事由：{FPSL.purpose}" in shown and "仅供本次用证使用，他用无效" in shown, pages
        assert red > 1000
    report = (
        verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))
        .VerifyDocument(verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=copy.pdf))
        .report
    )
    assert (report.integrity.result, report.verdict) == (verification_pb2.CHECK_RESULT_PASSED,) * 2, report
    issuer_field = next(name for name in signature_reasons(copy.pdf) if name != copy.use_stamp_field)
    assert verify_pdf(running, copy.pdf, issuer_field).result is CheckResult.PASSED
    assert verify_pdf(running, copy.pdf, copy.use_stamp_field).result is CheckResult.PASSED

    revoke(running, license_id)
    revoked = sharing(running).GetLicenseDocument(request)
    on = today().isoformat()
    for shown, _ in page_text_and_red(revoked.pdf):
        assert f"证照状态：已吊销或撤销（{on}起）" in shown


def test_a_commit_whose_answer_the_connection_lost_is_written_once_and_answered(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection lost at the commit (PostgreSQL restarted, the backend ended) may have lost only the server's
    answer: the group writer looks for the transaction's rows on a new connection before it writes them again. The
    receipt is not inserted twice (that answered INTERNAL), nor the access records chained twice."""
    license_id, _ = business_license(running, 9)
    real_commit = AppendWork.commit
    lost: list[int] = []

    def commit_then_lose_the_answer(work: AppendWork) -> None:
        real_commit(work)
        if len(lost) < 1:
            lost.append(1)
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    for call in (
        lambda: verify(running, license_id=license_id),  # the receipts' group writer (receipt and access record)
        lambda: sharing(running).GetLicenseDocument(  # the sharing calls' group writer (access records only)
            sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
        ),
    ):
        lost.clear()
        before = record_count(running)
        monkeypatch.setattr(AppendWork, "commit", commit_then_lose_the_answer)
        try:
            call()
        finally:
            monkeypatch.setattr(AppendWork, "commit", real_commit)
        assert lost == [1] and record_count(running) == before + 1
    # the store out of reach for every lookup the first time: the group's second transaction looks again once it
    # holds the chain lock, before it writes anything, and finds it landed: answered, one record
    real_landed, lookups = AppendWork.landed, [0]

    def unreachable_for_every_lookup_after_it(work: AppendWork, later: AppendWork) -> bool:
        lookups[0] += 1
        if lookups[0] <= len(group_writer.LANDED_LOOKUP_WAITS) + 1:  # at once, then after each wait
            raise psycopg.OperationalError("connection refused")
        return real_landed(work, later)

    lost.clear()
    before = record_count(running)
    monkeypatch.setattr(AppendWork, "commit", commit_then_lose_the_answer)
    monkeypatch.setattr(AppendWork, "landed", unreachable_for_every_lookup_after_it)
    monkeypatch.setattr(group_writer, "LANDED_LOOKUP_WAITS", (0.0, 0.0, 0.0))
    try:
        assert verify(running, license_id=license_id).verdict == verification_pb2.CHECK_RESULT_PASSED
    finally:
        monkeypatch.setattr(AppendWork, "commit", real_commit)
        monkeypatch.setattr(AppendWork, "landed", real_landed)
    assert lost == [1] and lookups[0] == 5 and record_count(running) == before + 1
    assert verify(running, license_id=license_id).verdict == verification_pb2.CHECK_RESULT_PASSED
    with running.gateway.db.engine.connect() as connection:  # the chain goes on without a fork or a repeat
        hashes = [bytes(h) for (h,) in connection.execute(text("SELECT hash FROM access_records ORDER BY seq"))]
    assert len(hashes) == len(set(hashes))


def test_a_sharing_record_whose_commit_landed_unseen_is_not_written_again(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sharing calls' group writer writes access records alone, no receipt that a second try would meet: a commit
    that landed, its answer lost and the store out of reach for every lookup, had been written again, chained after
    its own records, and GetLicenseDocument's use was on the holder's log twice (a reviewer). The second try looks
    again in its own transaction once it holds the chain lock, where the answer is definite."""
    license_id, _ = business_license(running, 9)
    real_commit, real_landed = AppendWork.commit, AppendWork.landed
    lost: list[int] = []
    lookups = [0]

    def commit_then_lose_the_answer(work: AppendWork) -> None:
        real_commit(work)
        if not lost:
            lost.append(1)
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    def unreachable_for_every_lookup(work: AppendWork, later: AppendWork) -> bool:
        lookups[0] += 1
        if lookups[0] <= len(group_writer.LANDED_LOOKUP_WAITS) + 1:  # the lost commit's every lookup after it
            raise psycopg.OperationalError("connection refused")
        return real_landed(work, later)

    before = record_count(running)
    monkeypatch.setattr(AppendWork, "commit", commit_then_lose_the_answer)
    monkeypatch.setattr(AppendWork, "landed", unreachable_for_every_lookup)
    monkeypatch.setattr(group_writer, "LANDED_LOOKUP_WAITS", (0.0, 0.0, 0.0))
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
    try:
        answer = sharing(running).GetLicenseDocument(request)
    finally:
        monkeypatch.setattr(AppendWork, "commit", real_commit)
        monkeypatch.setattr(AppendWork, "landed", real_landed)
    assert answer.original_sha256 and lost == [1]
    with running.gateway.db.engine.connect() as connection:
        uses = connection.execute(
            text("SELECT count(*) FROM access_records WHERE license_id = :id AND action = 'GET_LICENSE_DOCUMENT'"),
            {"id": license_id},
        ).scalar()
    assert uses == 1 and record_count(running) == before + 1


def test_a_documents_bytes_changed_in_the_registry_are_handed_out_to_nobody(running: RunningGateway) -> None:
    """The memo of a document's row vouches for its hash; the bytes beside it must still be the ones that hash
    names. Another company's PDF, or a forgery, put in the row behind the gateway's back would otherwise go out as
    this license's document: to its issuer, and to a department with the gateway's use stamp on it."""
    license_id, _ = business_license(running, 7)
    other_id, _ = business_license(running, 8)
    issued = running.issuance(MARKET).GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=license_id))
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
    assert sharing(running).GetLicenseDocument(request).original_sha256 == issued.sha256
    for bytes_in_row in ("(SELECT pdf FROM license_documents WHERE license_id = :other)", ":forged"):
        with running.gateway.db.engine.begin() as connection:
            connection.execute(
                text(f"UPDATE license_documents SET pdf = {bytes_in_row} WHERE license_id = :id"),
                {"id": license_id, "other": other_id, "forged": b"%PDF-1.7\n% FORGED BUSINESS LICENSE\n%%EOF\n"},
            )
        for fetch in (
            lambda: running.issuance(MARKET).GetLicenseDocument(
                issuance_pb2.GetLicenseDocumentRequest(license_id=license_id)
            ),
            lambda: sharing(running).GetLicenseDocument(request),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                fetch()
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert error_details(refused.value)[0].reason == "REGISTRY_ALTERED"
    with running.gateway.db.engine.begin() as connection:  # the registered bytes back: handed out again
        connection.execute(
            text("UPDATE license_documents SET pdf = :pdf WHERE license_id = :id"),
            {"id": license_id, "pdf": issued.pdf},
        )
    assert sharing(running).GetLicenseDocument(request).original_sha256 == issued.sha256


def document_uses(running: RunningGateway, holder_code: str) -> list[tuple[str, str, str]]:
    """The holder's log of GetLicenseDocument, newest first: decision, reason and its words."""
    return [
        (r.decision, r.reason, r.reason_words)
        for r in records_of(running, holder_code)
        if r.action == "GET_LICENSE_DOCUMENT"
    ]


def test_a_copy_the_policy_permits_refused_for_its_document_is_on_the_holders_log(running: RunningGateway) -> None:
    """A copy the policy permitted whose document could then not be loaded (its bytes changed in the store) or drawn
    (a batch-issued license's recorded form changed) was refused and left no record: neither the holder nor the
    issuer saw the attempt (a reviewer, R4). It is on the log as that refusal, as REPLY_TOO_LARGE is."""
    drawn_id, drawn_holder = business_license(running, 9)
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=drawn_id)
    assert sharing(running).GetLicenseDocument(request).pdf
    with running.gateway.db.engine.begin() as connection:
        pdf = connection.execute(
            text("SELECT pdf FROM license_documents WHERE license_id = :id"), {"id": drawn_id}
        ).scalar_one()
        connection.execute(
            text("UPDATE license_documents SET pdf = :pdf WHERE license_id = :id"),
            {"id": drawn_id, "pdf": bytes(pdf[:-1]) + b"X"},
        )
    with pytest.raises(grpc.RpcError) as caught:
        sharing(running).GetLicenseDocument(request)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value)[0].reason == "REGISTRY_ALTERED"
    assert document_uses(running, drawn_holder) == [
        ("DENY", "REGISTRY_ALTERED", "登记库中该文件所属证照被绕过网关改动"),
        ("PERMIT", "", ""),
    ]

    batch_id, batch_holder = business_license(running, 10, batch=True)  # its document drawn when first asked for
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE license_events SET form = :form WHERE license_id = :id"), {"id": batch_id, "form": "0" * 64}
        )
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=batch_id)
    with pytest.raises(grpc.RpcError) as caught:
        sharing(running).GetLicenseDocument(request)
    assert error_details(caught.value)[0].reason == "REGISTRY_ALTERED"
    assert [(decision, reason) for decision, reason, _ in document_uses(running, batch_holder)] == [
        ("DENY", "REGISTRY_ALTERED")
    ]


def test_a_copy_the_tsa_being_down_leaves_unstamped_is_on_the_holders_log(tmp_path: Path) -> None:
    """The copy's use stamp needs a timestamp: with the TSA down the permitted copy is UNAVAILABLE / TSA_UNAVAILABLE,
    and on the holder's log as such (it had left no record, a reviewer, R4); no use is recorded for it."""
    from adapters.http import HttpApp
    from benchmarks.common import free_port

    port = free_port()
    own = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", tsa_url=f"http://127.0.0.1:{port}/tsa")
    try:
        assert own.gateway.tsa is not None  # the gateway's own TSA, served at that port while it is up
        tsa = HttpServer(HttpApp(timestamp=own.gateway.tsa.respond, crl=None), f"127.0.0.1:{port}")
        tsa.start()
        try:
            license_id, holder = business_license(own, 11)
            request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
            assert sharing(own).GetLicenseDocument(request).pdf
        finally:
            tsa.stop()
        with pytest.raises(grpc.RpcError) as caught:
            sharing(own).GetLicenseDocument(request)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
        assert document_uses(own, holder) == [
            ("DENY", "TSA_UNAVAILABLE", "时间戳服务暂时不可用，未能提供"),
            ("PERMIT", "", ""),
        ]
    finally:
        own.stop()


def test_a_copy_refused_for_the_issuers_seal_is_on_the_holders_log_in_words(tmp_path: Path) -> None:
    """A batch-issued license's document is drawn and sealed when first asked for: with every seal of its issuer
    revoked the copy is FAILED_PRECONDITION / NO_ACTIVE_SEAL, and it was on the holder's log with no words
    (reason_words ''), although docs/api.md says the holder has them (a reviewer, R2): now in the holder's words."""
    from tests.api.test_seals import seals

    own = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}")
    try:
        license_id, holder = business_license(own, 12, batch=True)
        for seal in seals(own, MARKET).ListSeals(seal_pb2.ListSealsRequest()).seals:
            seals(own, MARKET).RevokeSeal(
                seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
            )
        request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
        with pytest.raises(grpc.RpcError) as caught:
            sharing(own).GetLicenseDocument(request)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_details(caught.value)[0].reason == "NO_ACTIVE_SEAL"
        assert document_uses(own, holder) == [("DENY", "NO_ACTIVE_SEAL", "发证部门暂无有效印章，证照文件无法生成")]
    finally:
        own.stop()


@pytest.mark.parametrize(
    "reason",
    [
        # loading, drawing and sealing a license's document (DocumentService.document, SealService), then stamping
        # the copy (the sharing stamper)
        "REGISTRY_ALTERED",
        "DOES_NOT_FIT",
        "TYPE_NOT_IN_CATALOG",
        "ISSUER_NOT_FOUND",
        "NO_ACTIVE_SEAL",
        "SEAL_REVOKED",
        "SEAL_EXPIRED",
        "SEAL_KEY_UNREADABLE",
        "SEAL_KEY_NOT_HERE",
        "SM2_SEAL_NOT_FOR_PDF",
        "SM2_UNAVAILABLE",
        "SEALING_TIMED_OUT",
        "TSA_UNAVAILABLE",
        "DOCUMENT_DAMAGED",
        "REPLY_TOO_LARGE",
    ],
)
def test_every_refusal_of_a_permitted_copy_has_words_for_the_holder(reason: str) -> None:
    """What a permitted copy can be refused for goes on the holder's log: each has words (the seal's had none)."""
    from gateway.domain.audit import reason_words

    assert reason_words(reason), reason


@pytest.mark.parametrize(
    "vector",
    ["libreoffice-7.4-form.pdf", "ghostscript-10.00-pdf20.pdf", "qpdf-11.3-linearized.pdf", "chromium-156.pdf"],
)
def test_a_copy_of_an_issuers_own_pdf_verifies_as_intact(running: RunningGateway, vector: str) -> None:
    """Issuers' own PDFs from other producers, stamped for use: the copy's use stamp kept the seal of a PDF whose
    XMP is not well-formed from passing (DOCUMENT_MODIFIED), and that of a form filled in before issue from passing
    unqualified (CHANGED_AFTER_SEAL)."""
    own = (Path(__file__).resolve().parents[1] / "vectors" / "pdf" / vector).read_bytes()
    license_id, _ = business_license(running, 6, document=own)
    copy = sharing(running).GetLicenseDocument(
        sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
    )
    report = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX)).VerifyDocument(
        verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=copy.pdf)
    )
    assert (report.report.verdict, report.report.integrity.reason, report.report.license.license_id) == (
        verification_pb2.CHECK_RESULT_PASSED,
        "",
        license_id,
    )


def test_a_batch_issued_license_gets_its_document_on_first_request(running: RunningGateway) -> None:
    license_id, _ = business_license(running, 5, batch=True)
    copy = sharing(running).GetLicenseDocument(
        sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
    )
    again = running.issuance(MARKET).GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=license_id))
    assert copy.original_sha256 == again.sha256  # made once, kept


def test_a_document_shows_the_public_fields_the_matter_does_not_list_and_no_others(running: RunningGateway) -> None:
    """api.md's rule, as a journeys tester found it undocumented: the data are the matter's listed fields alone, but
    the sealed PDF, which prints the license whole, is given when every other field it shows is public
    (UNCONDITIONAL and NORMAL): a 营业执照's 注册资本 goes out on the 税务局's copy though 发票申领 does not list it."""
    license_id, _ = business_license(running, 6)
    stored = running.gateway.issuance._get_stored(license_id)
    catalog_type = running.gateway.catalog.license_type(stored.content.type_code)
    listed = {f.key for f in data(running, license_id, FPSL).fields}
    public_unlisted = [
        spec.key
        for spec in catalog_type.fields
        if spec.key not in listed
        and stored.content.fields.get(spec.key)
        and spec.sensitivity.name == "NORMAL"
        and catalog_type.field_sharing_class(spec.key).name == "UNCONDITIONAL"
    ]
    assert "registered_capital" in public_unlisted  # not among the data
    copy = sharing(running).GetLicenseDocument(
        sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=license_id)
    )
    assert "".join(stored.content.fields["registered_capital"].split()) in shown_text(copy.pdf)


def test_a_document_showing_more_than_the_permit_is_refused(running: RunningGateway) -> None:
    card = id_card(running).license
    granted = grant(running, card.holder.code, uses=3)
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(
        use=BDCZY, license_id=card.license_id, consent_code=granted.code
    )
    reason, _ = denied(lambda: sharing(running, REAL_ESTATE).GetLicenseDocument(request))
    assert reason == "DOCUMENT_EXCEEDS_PERMIT"  # the card prints the address and birth date the matter does not need
    assert data(running, card.license_id, BDCZY, code=granted.code).consent_uses_left == 2  # the refusal used none
    (record, *_) = [r for r in records_of(running, card.holder.code) if r.action == "GET_LICENSE_DOCUMENT"]
    assert (record.decision, record.reason) == ("DENY", "DOCUMENT_EXCEEDS_PERMIT")


@pytest.mark.parametrize("edited", ["[]", "not json", "null", "1", "[1]"])
def test_the_fields_a_document_prints_edited_in_the_store_are_not_believed(
    running: RunningGateway, edited: str
) -> None:
    """``license_documents.printed`` is vouched for by the document's memo: set to '[]' behind the gateway's back it
    had a consumer given the card, which prints the address and birth date its matter may not read, recorded ALLOW;
    one that is not a JSON list of keys failed INTERNAL for everyone (a reviewer, rev-r3-forms R1, R3)."""
    card = id_card(running).license
    granted = grant(running, card.holder.code, uses=3)
    request = sharing_pb2.SharingServiceGetLicenseDocumentRequest(
        use=BDCZY, license_id=card.license_id, consent_code=granted.code
    )
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE license_documents SET printed = :p WHERE license_id = :l"), {"p": edited, "l": card.license_id}
        )
    reason, _ = denied(lambda: sharing(running, REAL_ESTATE).GetLicenseDocument(request))
    assert reason == "DOCUMENT_EXCEEDS_PERMIT"  # judged by the fields the card holds
    with pytest.raises(grpc.RpcError) as refused:
        running.issuance(POLICE).GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=card.license_id))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION, refused.value.details()
    assert error_details(refused.value)[0].reason == "REGISTRY_ALTERED"


def test_a_field_the_license_leaves_blank_is_said_not_stated_in_the_data_as_in_a_form(running: RunningGateway) -> None:
    """A journeys tester: a field the license does not state (a 出生医学证明 naming no father) came back from
    GetLicenseData as a SharedField with an empty value and a basis, shared as if stated, while PrefillForm of the
    same license under the same matter said EMPTY 证照未载明. Both now say EMPTY: the data list it in ``withheld``."""
    record = unique(samples.food_permit(61))
    assert not record["fields"].get("supervising_authority")  # optional, listed by 食品生产经营监督检查, unconditional
    permit = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    read = data(running, permit.license_id, SPJC)
    assert "supervising_authority" not in {f.key for f in read.fields}
    assert all(f.value for f in read.fields)  # nothing shared is blank
    (blank,) = [w for w in read.withheld if w.key == "supervising_authority"]
    assert (blank.reason, blank.detail) == ("EMPTY", "证照未载明该信息项（the license does not state this field）")
    assert blank.label and not read.remedy  # nothing to ask anyone for
    form = sharing(running, MARKET).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=SPJC, holder_code_type="001", holder_code=permit.holder.code, field_keys=["supervising_authority"]
        )
    )
    (unfilled,) = form.unfilled
    assert (unfilled.reason, unfilled.detail) == (blank.reason, blank.detail)


@pytest.mark.parametrize("kind", backend_params())
def test_a_sensitive_field_the_license_leaves_blank_is_not_stated_and_spends_no_consent(
    kind: str, tmp_path: Path
) -> None:
    """A reviewer (prefill R2): a SENSITIVE field masked ``whole`` (a STRING's default) or ``prefix`` that the license
    leaves blank came back masked, ``******``: GetLicenseData shared it, PrefillForm filled the form with it, so a
    clerk was told the applicant had a value there, hidden, and a one-use consent was spent on a read that gave
    nothing. It is EMPTY (证照未载明) in both, as an unmasked blank field is, and the consent is left unspent."""
    raw = json.loads((ROOT / "gateway" / "bootstrap" / "catalog.json").read_text(encoding="utf-8"))
    (business,) = (t for t in raw["license_types"] if t["code"] == BUSINESS_LICENSE)
    for spec in business["fields"]:
        if spec["key"] == "registered_capital":  # masked whole, the holder's consent needed
            spec.update(sensitivity="SENSITIVE", sharing_class="CONDITIONAL")
        if spec["key"] == "business_term":
            spec.update(sensitivity="SENSITIVE", masking="prefix")
    matter = "370100-CSSY-101"
    listed = ["company_name", "uscc", "registered_capital", "business_term"]
    raw["matters"].append(
        {
            "code": matter,
            "name": "测试事项（敏感信息项）",
            "department": "国家税务总局济南市税务局",
            "purpose": "测试：敏感信息项留空",
            "materials": [{"type_code": BUSINESS_LICENSE, "fields": listed}],
        }
    )
    use = verification_pb2.UseContext(matter_code=matter, purpose="测试：敏感信息项留空")
    with fresh_database(kind, tmp_path) as url, clocked_gateway(tmp_path / "var", url, Catalog.from_mapping(raw)) as on:
        running = on.running
        record = unique(samples.business_license(63))
        del record["fields"]["registered_capital"], record["fields"]["business_term"]  # optional: left blank
        issued = running.issuance(MARKET).IssueLicense(issue_request(record)).license
        granted = grant(running, issued.holder.code, grantee=TAX, matter=matter, type_codes=(BUSINESS_LICENSE,))
        read = data(running, issued.license_id, use, member=TAX, code=granted.code)
        assert [f.key for f in read.fields] == ["company_name", "uscc"]
        blank = [("registered_capital", "EMPTY"), ("business_term", "EMPTY")]
        assert [(w.key, w.reason) for w in read.withheld] == blank
        assert (read.consent_id, read.consent_uses_left) == ("", 0)  # not spent: nothing it let through was stated
        request = authorization_pb2.ListConsentsRequest(holder_code=issued.holder.code)
        (consent,) = authorization(running, PORTAL).ListConsents(request).consents
        assert consent.uses_left == 1
        form = sharing(running, TAX).PrefillForm(
            sharing_pb2.PrefillFormRequest(
                use=use,
                holder_code_type="001",
                holder_code=issued.holder.code,
                field_keys=["注册资本", "营业期限"],
                consent_code=granted.code,
            )
        )
        assert not form.values
        assert [(u.key, u.reason) for u in form.unfilled] == [("注册资本", "EMPTY"), ("营业期限", "EMPTY")]
        (consent,) = authorization(running, PORTAL).ListConsents(request).consents
        assert consent.uses_left == 1


# --- prefill --------------------------------------------------------------------------------------------------------


def test_a_form_from_a_license_not_in_force_says_its_status_not_that_there_is_none(running: RunningGateway) -> None:
    """A journeys tester: PrefillForm on a suspended, then revoked 营业执照 said NO_LICENSE 申请人没有有效的营业执照,
    as for a company never registered, so a 社保登记 clerk asked for a license that exists rather than send the
    applicant to its issuer. It now says LICENSE_NOT_IN_FORCE with the status and its day, as ListHolderLicenses
    and GetLicenseData already tell that caller, and nothing of the license's fields."""
    license_id, uscc = business_license(running, 62)

    def form(code: str) -> sharing_pb2.PrefillFormResponse:
        return sharing(running, HR).PrefillForm(
            sharing_pb2.PrefillFormRequest(
                use=SBDJ, holder_code_type="001", holder_code=code, field_keys=["company_name", "domicile"]
            )
        )

    assert [v.key for v in form(uscc).values] == ["company_name", "domicile"]
    change(running, license_id, issuance_pb2.STATUS_ACTION_SUSPEND)
    suspended = form(uscc)
    assert not suspended.values and not suspended.remedy
    assert [(u.key, u.reason) for u in suspended.unfilled] == [
        ("company_name", "LICENSE_NOT_IN_FORCE"),
        ("domicile", "LICENSE_NOT_IN_FORCE"),
    ]
    day = today().isoformat()
    assert suspended.unfilled[0].detail == (
        f"申请人的营业执照已暂停使用（{day} 起），不能用于填写，请申请人向发证部门了解"
        f"（the applicant's license of type {BUSINESS_LICENSE} is suspended since {day}: ask its issuer）"
    )
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    revoked = form(uscc).unfilled[0]
    assert revoked.reason == "LICENSE_NOT_IN_FORCE" and f"已吊销或撤销（{day} 起）" in revoked.detail
    assert "revoked" in revoked.detail
    never = form(unique(samples.business_license(63))["holder"]["code"]).unfilled[0]
    assert (never.reason, never.detail) == (
        "NO_LICENSE",
        f"申请人没有有效的营业执照（the applicant has no valid license of type {BUSINESS_LICENSE}）",
    )


def test_prefill_fills_a_form_with_provenance(running: RunningGateway) -> None:
    license_id, uscc = business_license(running, 6)
    keys = [
        "company_name",
        "企业名称",  # what the 社保登记 form calls the 营业执照's 名称 (the catalog's form_labels)
        "统一社会信用代码",
        "法定代表人",
        "住所",
        "注册资本",
        "联系电话",
        f"{BUSINESS_LICENSE}.domicile",
    ]
    form = sharing(running, HR).PrefillForm(
        sharing_pb2.PrefillFormRequest(use=SBDJ, holder_code_type="001", holder_code=uscc, field_keys=keys)
    )
    filled = {v.key: (v.field_key, v.license_id, v.type_code) for v in form.values}
    assert filled == {
        "company_name": ("company_name", license_id, BUSINESS_LICENSE),
        "企业名称": ("company_name", license_id, BUSINESS_LICENSE),
        "统一社会信用代码": ("uscc", license_id, BUSINESS_LICENSE),
        "法定代表人": ("legal_representative", license_id, BUSINESS_LICENSE),
        "住所": ("domicile", license_id, BUSINESS_LICENSE),
        f"{BUSINESS_LICENSE}.domicile": ("domicile", license_id, BUSINESS_LICENSE),
    }
    assert next(v.value for v in form.values if v.key == "统一社会信用代码") == uscc
    assert [(u.key, u.reason) for u in form.unfilled] == [("注册资本", "NOT_NEEDED"), ("联系电话", "UNKNOWN_FIELD")]
    (record, *_) = records_of(running, uscc)
    assert (record.action, record.decision, record.license_id, record.caller) == (
        "PREFILL_FORM", "PERMIT", license_id, HR)  # fmt: skip


def test_prefill_names_every_bad_key_in_its_place(running: RunningGateway) -> None:
    """Keys ["", "a\\x00", "b" * 101] had been refused naming field_keys[0] alone, so a developer fixed a form one
    call at a time (an integrator). Each bad key has its violation, at its place in the request (a repeated one's
    first), and past 16 the message says how many more, as an issue's bad fields."""
    _, uscc = business_license(running, 9)
    keys = ["企业名称", "", "a\x00", "企业名称", "b" * 101, "a\x00", "住所\u200b"]
    request = sharing_pb2.PrefillFormRequest(use=SBDJ, holder_code_type="001", holder_code=uscc, field_keys=keys)
    with pytest.raises(grpc.RpcError) as caught:
        sharing(running, HR).PrefillForm(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [
        ("field_keys[1]", "BAD_KEY"),
        ("field_keys[2]", "BAD_KEY"),
        ("field_keys[4]", "BAD_KEY"),
        ("field_keys[6]", "BAD_KEY"),
    ]
    many = sharing_pb2.PrefillFormRequest(
        use=SBDJ, holder_code_type="001", holder_code=uscc, field_keys=[f"键{n}\t" for n in range(20)]
    )
    with pytest.raises(grpc.RpcError) as caught:
        sharing(running, HR).PrefillForm(many)
    assert [field for field, _ in error_details(caught.value)[1]] == [f"field_keys[{n}]" for n in range(16)]
    assert (caught.value.details() or "").endswith("（另有4项有误，and 4 more bad fields）")


def test_prefill_of_conditional_fields_needs_a_consent_and_counts_one_use(running: RunningGateway) -> None:
    card = id_card(running).license
    keys = ["姓名", "公民身份号码", "民族"]
    request = sharing_pb2.PrefillFormRequest(use=BDCZY, holder_code_type="111", holder_code=card.holder.code,
                                             field_keys=keys)  # fmt: skip
    empty = sharing(running, REAL_ESTATE).PrefillForm(request)
    assert not empty.values and "GrantConsent" in empty.remedy
    assert [(u.key, u.reason) for u in empty.unfilled] == [("姓名", "NEEDS_AUTHORIZATION"),
                                                           ("公民身份号码", "NEEDS_AUTHORIZATION"),
                                                           ("民族", "NOT_NEEDED")]  # fmt: skip
    granted = grant(running, card.holder.code, uses=2)
    request.consent_code = granted.code
    form = sharing(running, REAL_ESTATE).PrefillForm(request)
    assert {v.key: v.value for v in form.values} == {"姓名": card.fields["name"], "公民身份号码": card.holder.code}
    assert {v.basis for v in form.values} == {sharing_pb2.SHARING_BASIS_CONSENT}
    assert form.consent_id == granted.consent.consent_id
    assert data(running, card.license_id, BDCZY, code=granted.code).consent_uses_left == 0  # the form took one
    prefills = [(r.decision, r.reason) for r in records_of(running, card.holder.code) if r.action == "PREFILL_FORM"]
    # the use of the consent is named, as GetLicenseData's record names it
    assert prefills == [("PERMIT", f"filled=2/3 consent={granted.consent.consent_id}"), ("DENY", "NEEDS_AUTHORIZATION")]


def test_a_form_names_no_license_it_only_looked_over_in_its_record(running: RunningGateway) -> None:
    """A reviewer (prefill R3): the key 姓名 under 不动产转移登记 matches a 护照's ``name`` too, which the matter lists
    no field of (NOT_NEEDED). A form that filled nothing had recorded that passport as a refused read (DENY /
    NOTHING_FILLED, on the holder's log and the 出入境管理支队's): for an applicant with no 居民身份证, and beside the
    card's refusal for one whose card needed a consent. A license only looked over is named by no record."""
    code, born = person()
    passport(running, code, born)
    request = sharing_pb2.PrefillFormRequest(use=BDCZY, holder_code_type="111", holder_code=code, field_keys=["姓名"])
    form = sharing(running, REAL_ESTATE).PrefillForm(request)
    assert [(u.key, u.reason) for u in form.unfilled] == [("姓名", "NO_LICENSE")]
    prefills = [(r.decision, r.reason, r.license_id) for r in records_of(running, code) if r.action == "PREFILL_FORM"]
    assert prefills == [("DENY", "NOTHING_FILLED", "")]  # the holder alone
    card = id_card(running, code, born).license
    form = sharing(running, REAL_ESTATE).PrefillForm(request)
    assert [(u.key, u.reason) for u in form.unfilled] == [("姓名", "NEEDS_AUTHORIZATION")]
    prefills = [(r.decision, r.reason, r.license_id) for r in records_of(running, code) if r.action == "PREFILL_FORM"]
    assert prefills[:-1] == [("DENY", "NEEDS_AUTHORIZATION", card.license_id)]  # the card's alone


def test_a_form_key_of_a_material_the_applicant_can_never_hold_says_whose_it_is(running: RunningGateway) -> None:
    """企业开办, step 2 (a reviewer, prefill R4): 公安局 under 企业印章刻制 fills a company's form, whose 姓名 and
    公民身份号码 are its legal representative's 居民身份证's. Each key was NO_LICENSE, 申请人没有有效的居民身份证, where
    ListHolderLicenses lists the card apart as another person's: a clerk was told the company lacks the card. Each is
    HELD_BY_OTHERS, with the listing's words; a person lacking the card, or known by a passport's number, still has
    NO_LICENSE."""
    _, uscc = business_license(running, 64)
    listed = sharing(running, POLICE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=QYKZ, holder_code_type="001", holder_code=uscc)
    )
    (others,) = listed.held_by_others

    def form(code_type: str, code: str) -> sharing_pb2.PrefillFormResponse:
        return sharing(running, POLICE).PrefillForm(
            sharing_pb2.PrefillFormRequest(
                use=QYKZ, holder_code_type=code_type, holder_code=code, field_keys=["企业名称", "姓名", "公民身份号码"]
            )
        )

    company = form("001", uscc)
    assert [v.key for v in company.values] == ["企业名称"]
    assert [(u.key, u.reason, u.detail) for u in company.unfilled] == [
        ("姓名", "HELD_BY_OTHERS", others.detail),
        ("公民身份号码", "HELD_BY_OTHERS", others.detail),
    ]
    assert not company.remedy
    for code_type, code in (("111", person()[0]), ("414", "E12345678")):
        unfilled = [(u.key, u.reason) for u in form(code_type, code).unfilled]
        assert ("姓名", "NO_LICENSE") in unfilled and ("公民身份号码", "NO_LICENSE") in unfilled, code_type


# --- requests that are not uses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("use", "license_id", "code", "violation"),
    [
        (verification_pb2.UseContext(purpose="x"), "LICENSE", "", ("use.matter_code", "REQUIRED")),
        (verification_pb2.UseContext(matter_code="NOPE", purpose="x"), "LICENSE", "", ("use.matter_code",
                                                                                         "UNKNOWN_MATTER")),
        (verification_pb2.UseContext(matter_code=FPSL.matter_code, purpose=" "), "LICENSE", "", ("use.purpose",
                                                                                                 "REQUIRED")),
        (FPSL, "", "", ("license_id", "REQUIRED")),
        (FPSL, "1.2.3", "", ("license_id", "INVALID_LICENSE_ID")),
        (FPSL, "LICENSE", "x", ("consent_code", "BAD_CONSENT_CODE")),
    ],
)  # fmt: skip
def test_malformed_requests_are_refused_and_leave_no_record(
    running: RunningGateway, use: verification_pb2.UseContext, license_id: str, code: str, violation: tuple[str, str]
) -> None:
    real, _ = business_license(running, 7, batch=True)
    before = record_count(running)
    with pytest.raises(grpc.RpcError) as caught:
        data(running, real if license_id == "LICENSE" else license_id, use, code=code)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation in error_details(caught.value)[1]
    assert record_count(running) == before


def wrong_check(code: str) -> str:
    """``code`` (a 公民身份号码 or a USCC) with another check character: the typo its check character is there to
    catch (and not a valid code of the other kind, as one ID number in 31 so mistyped is)."""
    alphabet = "0123456789X" if code[:17].isdigit() else "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return next(
        wrong
        for wrong in (code[:17] + c for c in alphabet if c != code[17])
        if citizen_id_problem(wrong) and uscc_problem(wrong)
    )


def person_with_x() -> tuple[str, dt.date]:
    """A fresh citizen ID whose check character is X, and its birth date."""
    while True:
        code, born = person()
        if code.endswith("X"):
            return code, born


@pytest.mark.parametrize("call", ["ListHolderLicenses", "PrefillForm"])
@pytest.mark.parametrize(
    ("code_type", "code", "violation"),
    [
        ("001", "WRONG_USCC", ("holder_code", "BAD_CHECK_CHARACTER")),
        ("111", "WRONG_ID", ("holder_code", "BAD_CHECK_CHARACTER")),
        ("111", "USCC", ("holder_code", "BAD_CITIZEN_ID")),  # a company's code under a person's type
        ("999", "USCC", ("holder_code_type", "BAD_HOLDER_CODE_TYPE")),
        ("", "USCC", ("holder_code_type", "REQUIRED")),
        ("001", "", ("holder_code", "REQUIRED")),
    ],
)
def test_a_holder_code_that_cannot_exist_is_refused_not_reported_as_having_no_licenses(
    running: RunningGateway, call: str, code_type: str, code: str, violation: tuple[str, str]
) -> None:
    """A USCC mistyped in one character found no 营业执照, and the clerk would have asked for the paper one: the
    code is checked as issuance checks it (found by an independent client)."""
    _, uscc = business_license(running, 12, batch=True)
    card = id_card(running).license
    given = {"WRONG_USCC": wrong_check(uscc), "WRONG_ID": wrong_check(card.holder.code), "USCC": uscc, "": ""}[code]
    before = record_count(running)
    with pytest.raises(grpc.RpcError) as caught:
        if call == "ListHolderLicenses":
            sharing(running).ListHolderLicenses(
                sharing_pb2.ListHolderLicensesRequest(use=FPSL, holder_code_type=code_type, holder_code=given)
            )
        else:
            sharing(running).PrefillForm(
                sharing_pb2.PrefillFormRequest(
                    use=FPSL, holder_code_type=code_type, holder_code=given, field_keys=["企业名称"]
                )
            )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [violation]
    if violation[1] == "BAD_CHECK_CHARACTER":  # said as issuance says it
        assert "check character does not match" in str(caught.value.details())
    assert record_count(running) == before


def test_a_citizen_id_typed_with_a_lower_case_x_names_the_same_holder(running: RunningGateway) -> None:
    code, born = person_with_x()
    card = id_card(running, code, born).license
    listed = sharing(running, REAL_ESTATE).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=BDCZY, holder_code_type="111", holder_code=code.lower())
    )
    assert [e.license_id for e in listed.licenses] == [card.license_id]


def bundled(bundle_code: str, case_id: str, use: verification_pb2.UseContext = FPSL) -> verification_pb2.UseContext:
    return verification_pb2.UseContext(
        matter_code=use.matter_code, purpose=use.purpose, bundle_code=bundle_code, case_id=case_id
    )


@pytest.mark.parametrize("call", ["VerifyLicense", "GetLicenseData", "GetLicenseDocument", "ListHolderLicenses",
                                  "PrefillForm", "RequestAccess"])  # fmt: skip
@pytest.mark.parametrize(
    ("bundle_code", "case_id", "violation"),
    [
        ("370100-YJS-XSECS", "2026-0001", ("use.bundle_code", "MATTER_NOT_IN_BUNDLE")),  # 发票申领 is not in it
        ("NOPE", "2026-0001", ("use.bundle_code", "UNKNOWN_BUNDLE")),
        ("370100-YJS-QYKB", "", ("use.case_id", "BAD_CASE_ID")),
        ("370100-YJS-QYKB", "x" * 65, ("use.case_id", "BAD_CASE_ID")),
        ("", "2026-0001", ("use.bundle_code", "REQUIRED")),
    ],
)
def test_a_bad_bundle_or_case_is_refused_by_every_call_as_by_verification(
    running: RunningGateway, call: str, bundle_code: str, case_id: str, violation: tuple[str, str]
) -> None:
    """One use context, one set of rules: sharing and access requests took a bad 一件事 bundle or case and dropped
    it where VerifyLicense refused it (found by an independent client)."""
    license_id, uscc = business_license(running, 14, batch=True)
    use = bundled(bundle_code, case_id, BDCZY if call == "RequestAccess" else FPSL)
    requests: dict[str, Any] = {
        "VerifyLicense": lambda: verification_pb2_grpc.VerificationServiceStub(running.channel(TAX)).VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id)
        ),
        "GetLicenseData": lambda: data(running, license_id, use),
        "GetLicenseDocument": lambda: sharing(running).GetLicenseDocument(
            sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=use, license_id=license_id)
        ),
        "ListHolderLicenses": lambda: sharing(running).ListHolderLicenses(
            sharing_pb2.ListHolderLicensesRequest(use=use, holder_code_type="001", holder_code=uscc)
        ),
        "PrefillForm": lambda: sharing(running).PrefillForm(
            sharing_pb2.PrefillFormRequest(use=use, holder_code_type="001", holder_code=uscc, field_keys=["企业名称"])
        ),
        "RequestAccess": lambda: authorization(running, REAL_ESTATE).RequestAccess(
            authorization_pb2.RequestAccessRequest(use=use, type_code=ID_CARD, duration_days=30)
        ),
    }
    before = record_count(running)
    with pytest.raises(grpc.RpcError) as caught:
        requests[call]()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation in error_details(caught.value)[1]
    assert record_count(running) == before


def test_a_use_in_a_bundle_case_is_shared(running: RunningGateway) -> None:
    license_id, uscc = business_license(running, 15, batch=True)
    use = bundled("370100-YJS-QYKB", f"QYKB-{uuid.uuid4().hex[:8]}")
    assert data(running, license_id, use).license_id == license_id
    listed = sharing(running).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=use, holder_code_type="001", holder_code=uscc)
    )
    assert [e.license_id for e in listed.licenses] == [license_id]


def test_roles(running: RunningGateway) -> None:
    license_id, _ = business_license(running, 8, batch=True)
    assert denied(lambda: data(running, license_id, member=PORTAL))[0] == "ROLE_NOT_ALLOWED"
    # the issuer reads its own license by its matter's rules, as anyone (ADR 0011): SPJC's three fields of it
    own = data(running, license_id, SPJC)
    assert {f.basis for f in own.fields} == {sharing_pb2.SHARING_BASIS_UNCONDITIONAL}
    assert list(fields_of(own)) == ["company_name", "uscc", "legal_representative"]
    # ... but names only a matter it handles, as every department does
    assert denied(lambda: data(running, license_id, FPSL, member=MARKET))[0] == "NOT_MATTER_DEPARTMENT"
    # an issuer that is not a consumer handles none of the bootstrap catalog's matters (see the next test)
    assert denied(lambda: data(running, license_id, member=TRAFFIC))[0] == "NOT_MATTER_DEPARTMENT"


def test_an_issuer_that_is_not_a_consumer_is_refused_others_licenses_under_its_own_matter(clocked: Clocked) -> None:
    """Naming its own matter, an issuer without the CONSUMER role reaches the policy, which refuses it others'
    licenses (NOT_A_CONSUMER), and that is recorded."""
    running = clocked.running
    license_id, uscc = business_license(running, 10, batch=True)
    assert denied(lambda: data(running, license_id, BY_AN_ISSUER))[0] == "NOT_A_CONSUMER"
    (record, *_) = records_of(running, uscc)
    assert (record.caller, record.decision, record.reason) == (TRAFFIC, "DENY", "NOT_A_CONSUMER")


def test_a_department_names_only_the_matters_it_handles(running: RunningGateway) -> None:
    """A matter decides which fields a department reads and is written into the holder's access log, so a consumer
    naming another department's matter is refused (NOT_MATTER_DEPARTMENT), however it would fare under it; the
    partner gateway names the matters of its own region."""
    license_id, uscc = business_license(running, 9, batch=True)
    listing = sharing_pb2.ListHolderLicensesRequest(use=FPSL, holder_code_type="001", holder_code=uscc)
    # HR reads a 营业执照 unconditionally for its own 社保登记, but 发票申领 is the tax bureau's
    assert {f.basis for f in data(running, license_id, SBDJ).fields} == {sharing_pb2.SHARING_BASIS_UNCONDITIONAL}
    before = record_count(running)
    with pytest.raises(grpc.RpcError) as caught:
        data(running, license_id, FPSL, member=HR)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(caught.value)[0].reason == "NOT_MATTER_DEPARTMENT"
    message = str(caught.value.details())
    assert "370100-FPSL-001" in message and "国家税务总局济南市税务局" in message  # the matter and who handles it
    assert denied(lambda: sharing(running, HR).ListHolderLicenses(listing))[0] == "NOT_MATTER_DEPARTMENT"
    # each refusal is on the audit trail, and on the holder's, who sees the attempts on its license
    assert record_count(running) == before + 2
    assert [(r.action, r.decision, r.matter_code) for r in records_of(running, uscc) if r.caller == HR] == [
        ("LIST_HOLDER_LICENSES", "DENIED", FPSL.matter_code),  # newest first
        ("GET_LICENSE_DATA", "DENIED", FPSL.matter_code),
        ("GET_LICENSE_DATA", "PERMIT", SBDJ.matter_code),
    ]

    # the Guangzhou partner (region 440100) uses 440100-SBZY-001, reading an ID card as a consumer ...
    card = id_card(running).license
    code = card.holder.code
    listed = sharing(running, PARTNER).ListHolderLicenses(
        sharing_pb2.ListHolderLicensesRequest(use=SBZY, holder_code_type="111", holder_code=code)
    )
    assert [(e.type_code, e.access_state) for e in listed.licenses] == [(ID_CARD, NEEDS_AUTHORIZATION)]
    assert [(m.type_code, m.type_name) for m in listed.missing] == [(SOCIAL_SECURITY_CARD, "社会保障卡")]
    assert denied(lambda: data(running, card.license_id, SBZY))[0] == "NEEDS_AUTHORIZATION"
    granted = grant(running, code, grantee=PARTNER, matter=SBZY.matter_code)
    read = data(running, card.license_id, SBZY, code=granted.code)
    assert fields_of(read) == {key: card.fields[key] for key in ("name", "gender", "citizen_id")}
    assert {f.basis for f in read.fields} == {sharing_pb2.SHARING_BASIS_CONSENT}
    # ... but not a matter of Jinan's
    assert denied(lambda: data(running, license_id, FPSL, member=PARTNER))[0] == "NOT_MATTER_DEPARTMENT"
    assert denied(lambda: sharing(running, PARTNER).ListHolderLicenses(listing))[0] == "NOT_MATTER_DEPARTMENT"


def test_a_consent_to_a_partner_gateway_outside_its_region_is_refused_by_the_region_rule(
    running: RunningGateway,
) -> None:
    """A holder portal naming the Guangzhou partner gateway (region 440100) as grantee for a Jinan matter is refused
    NOT_GRANTEES_MATTER in the partner's rule, the matters of its own region, as NOT_MATTER_DEPARTMENT tells the
    partner itself: the words had said the department rule (由…办理，不是被授权部门…的事项), which is not why, as a
    partner is granted matters other departments of its region handle (a reviewer of the partner role, R3). A
    department grantee is still told the department rule."""
    code = id_card(running).license.holder.code
    with pytest.raises(grpc.RpcError) as refused:
        grant(running, code, grantee=PARTNER, matter=BDCZY.matter_code)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert descriptions(refused.value) == {
        ("matter_code", "NOT_GRANTEES_MATTER"): "合作网关只能被授权本地区（440100）的事项，事项 370100-BDCZY-001"
        f"（不动产转移登记）由济南市不动产登记中心办理；可授权给济南市不动产登记中心（{REAL_ESTATE}）"
        "（a partner gateway is granted the matters of its own region 440100 only）"
    }
    assert grant(running, code, grantee=PARTNER, matter=SBZY.matter_code).code  # its region's: granted
    with pytest.raises(grpc.RpcError) as department:
        grant(running, code, grantee=TAX, matter=BDCZY.matter_code)
    assert descriptions(department.value) == {
        ("matter_code", "NOT_GRANTEES_MATTER"): "事项 370100-BDCZY-001（不动产转移登记）由济南市不动产登记中心办理，"
        f"不是被授权部门国家税务总局济南市税务局的事项；可授权给济南市不动产登记中心（{REAL_ESTATE}）"
        f"（matter 370100-BDCZY-001 is handled by another department, not by the grantee {TAX}）"
    }


def test_prefill_names_the_authorisation_that_would_fill_a_key_before_a_license_the_applicant_lacks(
    running: RunningGateway,
) -> None:
    """Both materials of 440100-SBZY-001 list gender, the 社会保障卡 first; the applicant has only an ID card, whose
    gender waits for a consent: the clerk is told that, with the remedy, not that the applicant has no license
    (found by an independent client)."""
    card = id_card(running).license
    form = sharing(running, PARTNER).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=SBZY, holder_code_type="111", holder_code=card.holder.code, field_keys=["gender"]
        )
    )
    assert not form.values
    assert [(u.key, u.reason) for u in form.unfilled] == [("gender", "NEEDS_AUTHORIZATION")]
    assert form.remedy


def test_a_form_filled_from_two_issuers_licenses_is_on_both_issuers_trails(running: RunningGateway) -> None:
    """One record per license the form used, each naming its own, so that each issuer lists the use of its license
    (one record naming none left both issuers blind; found by an independent client)."""
    code, born = person("男")
    card = id_card(running, code, born).license
    record = samples.marriage_certificate(random.randrange(1000))
    record = {
        **record,
        "request_id": f"mc-{uuid.uuid4().hex}",
        "license_number": f"J370102-2019-{random.randrange(10**6):06d}",
        "holder": {**record["holder"], "code": code},
        "fields": {**record["fields"], "husband_citizen_id": code, "husband_birth_date": born.isoformat()},
    }
    marriage = running.issuance(CIVIL).IssueLicense(issue_request(record)).license
    use = verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose="不动产转移登记：两证填表")
    consent = grant(running, code, type_codes=(ID_CARD, MARRIAGE))
    form = sharing(running, REAL_ESTATE).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=use,
            holder_code_type="111",
            holder_code=code,
            field_keys=["citizen_id", "registration_date"],
            consent_code=consent.code,
        )
    )
    assert {v.license_id for v in form.values} == {card.license_id, marriage.license_id}
    mine = [r for r in records_of(running, code) if r.action == "PREFILL_FORM"]
    assert sorted(r.license_id for r in mine) == sorted([card.license_id, marriage.license_id])
    assert len({r.reason for r in mine}) == 1  # the same call
    for issuer, license_id in ((POLICE, card.license_id), (CIVIL, marriage.license_id)):
        listed = audit_pb2_grpc.AuditServiceStub(running.channel(issuer)).ListAccessRecords(
            audit_pb2.ListAccessRecordsRequest(limit=50)
        )
        assert any(r.action == "PREFILL_FORM" and r.license_id == license_id for r in listed.records), issuer


def test_an_empty_value_of_a_field_the_matter_may_not_claim_is_a_key_left_out(clocked: Clocked) -> None:
    """A value left empty claims nothing, as the key left out: of a field the matter may not claim (a masked
    address, a secret photo) too. It had been refused NOT_CLAIMABLE and put on the holder's log as an attempt,
    which the same claim without the key is not (a reviewer)."""
    running = clocked.running
    code, born = person()
    card = id_card(running, code, born).license
    clerk = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))

    def claim(fields: dict[str, str]) -> int:
        request = verification_pb2.CheckClaimRequest(
            use=CSSY, type_code=ID_CARD, holder_code=code, license_number=card.license_number, fields=fields
        )
        return clerk.CheckClaim(request).code

    assert claim({"name": card.fields["name"]}) == 0
    before = len(records_of(running, code))
    blanks = [claim({"name": card.fields["name"], key: blank}) for key, blank in (("address", ""), ("photo", " "))]
    assert blanks == [0, 0]
    added = records_of(running, code)[: len(records_of(running, code)) - before]
    assert [(r.action, r.decision) for r in added] == [("CHECK_CLAIM", "CORRECT_AND_VALID")] * 2  # no refusal
