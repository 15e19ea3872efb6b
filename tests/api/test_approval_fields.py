"""An approval shows unmasked only what it was given unmasked, over real gRPC on SQLite and PostgreSQL, through real
adoptions and a real upgrade.

A reviewer (review access, R1) found that an approval recorded the fields approved but not which of them the matter
saw masked: the issuer approved 女方身份证号 while 不动产转移登记 saw it masked (``3701**********4784``), a catalog
adopted later named it in the material's ``full_fields``, and from the restart the same approval gave the department
the number in full, which nobody approved, where a consent in the same case keeps it masked (schema 0039). An
approval now records, at the decision, which of its fields the material showed unmasked (schema 0040), and
``zzgw init``'s upgrade records them for the approvals given before, as it records the consents' fields.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from gateway import cli
from gateway.domain.catalog import Catalog
from gateway.server import _record_approved_full_fields, initialise
from gateway.services.catalog_pin import CATALOG_FACT
from gateway.store.database import Database
from gateway.store.models import AccessRequestRow, GatewayFactRow
from protos.zzgw.v1 import authorization_pb2
from tests.api.test_co_subjects import marriage
from tests.api.test_seal_memos import _migrate
from tests.api.test_sharing import BDCZY, MARRIAGE, REAL_ESTATE, authorization, data, fields_of, person
from tests.conftest import CIVIL, PASSPHRASE, RunningGateway, backend_params, fresh_database, migrate_to
from tests.test_catalog_change import DEMO_CATALOG, catalog_file, serving, settings_of


def masked_wife(raw: dict[str, Any]) -> None:
    """不动产转移登记 sees the 结婚证's 女方身份证号 masked (the demo catalog shows it in full)."""
    for matter in raw["matters"]:
        if matter["code"] == BDCZY.matter_code:
            for material in matter["materials"]:
                if material["type_code"] == MARRIAGE:
                    material["full_fields"] = [k for k in material.get("full_fields", []) if k != "wife_citizen_id"]


def masked(value: str) -> str:
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def approve_wifes_number(running: RunningGateway, license_id: str) -> str:
    """A request of 不动产登记中心 for the 结婚证's 女方身份证号, approved by 民政局; its id."""
    request = (
        authorization(running, REAL_ESTATE)
        .RequestAccess(
            authorization_pb2.RequestAccessRequest(
                use=BDCZY, license_id=license_id, fields=["wife_citizen_id"], duration_days=30
            )
        )
        .request
    )
    authorization(running, CIVIL).DecideAccessRequest(
        authorization_pb2.DecideAccessRequestRequest(
            request_id=request.request_id, decision=authorization_pb2.ACCESS_DECISION_APPROVE
        )
    )
    return str(request.request_id)


def stored_full_fields(store: str) -> dict[str, Any]:
    db = Database.connect(store)
    try:
        with db.engine.connect() as connection:
            rows = connection.execute(select(AccessRequestRow.request_id, AccessRequestRow.approved_full_fields)).all()
    finally:
        db.dispose()
    return {request_id: full for request_id, full in rows}


def wifes_number(running: RunningGateway, license_id: str) -> str:
    return fields_of(data(running, license_id, BDCZY, member=REAL_ESTATE))["wife_citizen_id"]


@pytest.mark.parametrize("kind", backend_params())
def test_an_approval_given_masked_stays_masked_when_a_later_catalog_unmasks_it(kind: str, tmp_path: Path) -> None:
    before = catalog_file(tmp_path / "before.json", masked_wife)
    after = catalog_file(tmp_path / "after.json")
    with fresh_database(kind, tmp_path) as store:
        with serving(tmp_path, store, before) as running:
            husband, wife = person("男")[0], person("女")[0]
            license_id = marriage(running, husband, wife)
            approval = approve_wifes_number(running, license_id)
            assert wifes_number(running, license_id) == masked(wife)
        assert initialise(settings_of(tmp_path, store, after), adopt_catalog=True).catalog_replaced
        with serving(tmp_path, store, after) as running:
            # approved masked: masked still, though the catalog in force shows it in full (it had come in full)
            read = data(running, license_id, BDCZY, member=REAL_ESTATE)
            (shared,) = (f for f in read.fields if f.key == "wife_citizen_id")
            assert (shared.value, shared.masked) == (masked(wife), True)
            assert list(read.approval_ids) == [approval]
            # an approval given under the catalog in force shows it as that catalog says: in full
            again = approve_wifes_number(running, license_id)
            assert wifes_number(running, license_id) == wife
        assert stored_full_fields(store) == {approval: [], again: ["wife_citizen_id"]}


@pytest.mark.parametrize("kind", backend_params())
def test_the_upgrade_records_what_approvals_given_before_it_showed_unmasked(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An approval given before schema 0040 is given, by `zzgw init`'s upgrade, the fields the catalog the store
    serves shows unmasked, and init says how many; a catalog adopted after does not unmask the rest."""
    before = catalog_file(tmp_path / "before.json", masked_wife)
    after = catalog_file(tmp_path / "after.json")
    with fresh_database(kind, tmp_path) as store:
        with serving(tmp_path, store, before) as running:
            husband, wife = person("男")[0], person("女")[0]
            license_id = marriage(running, husband, wife)
            approval = approve_wifes_number(running, license_id)
        _migrate(store, "0039")  # the store as the version before approvals' unmasked fields left it
        for name, value in {
            "ZZGW_DATA_DIR": str(tmp_path / "var"),
            "ZZGW_DATABASE_URL": store,
            "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
            "ZZGW_CATALOG": str(before),
        }.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        assert cli.main(["init"]) == 0
        said = capsys.readouterr().out
        assert (
            "1 approval given before schema 0040 recorded with the fields they were given unmasked, from the catalog "
            "the store serves; 0 left unrecorded"
        ) in said
        assert stored_full_fields(store) == {approval: []}
        assert initialise(settings_of(tmp_path, store, after), adopt_catalog=True).catalog_replaced
        with serving(tmp_path, store, after) as running:
            assert wifes_number(running, license_id) == masked(wife)


APPROVED_ROW: dict[str, Any] = {
    "request_id": "a" * 32,
    "requester": REAL_ESTATE,
    "issuer_code": CIVIL,
    "type_code": MARRIAGE,
    "license_id": "",
    "matter_code": BDCZY.matter_code,
    "purpose": BDCZY.purpose,
    "fields": ["wife_citizen_id", "husband_citizen_id"],
    "duration_days": 30,
    "state": "APPROVED",
    "submitted_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    "deadline": dt.datetime(2026, 11, 15, tzinfo=dt.UTC),
    "decided_at": dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    "approved_fields": ["wife_citizen_id", "husband_citizen_id"],
    "valid_until": dt.datetime(2026, 12, 30, tzinfo=dt.UTC),
    "decision_reason": "",
}
WITHDRAWN_ROW = {**APPROVED_ROW, "request_id": "b" * 32, "state": "WITHDRAWN"}
OTHER_MATTER_ROW = {**APPROVED_ROW, "request_id": "c" * 32, "matter_code": "370100-GONE-001"}


@pytest.mark.parametrize("kind", backend_params())
def test_an_upgrade_under_another_catalog_records_the_approvals_from_it(kind: str, tmp_path: Path) -> None:
    """Under a catalog the store does not serve (an upgrade that adopts one at once, a store recording none), the
    approvals are recorded from it all the same, at most what it shows unmasked, and said so; one whose matter it
    lacks shows nothing unmasked; a withdrawn one is left (it grants nothing again)."""
    catalog = Catalog.from_json(DEMO_CATALOG.read_bytes())
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0039")
            with db.engine.begin() as connection:
                for row in (APPROVED_ROW, WITHDRAWN_ROW, OTHER_MATTER_ROW):
                    connection.execute(insert(AccessRequestRow.__table__).values(**row))
                connection.execute(insert(GatewayFactRow.__table__).values(name=CATALOG_FACT, value="another"))
            said: list[tuple[int, bool]] = []
            db.migrate(then=lambda units: said.append(_record_approved_full_fields(units, catalog)), starting_at="0039")
            assert said == [(2, False)]
            assert stored_full_fields(url) == {
                "a" * 32: ["wife_citizen_id", "husband_citizen_id"],  # the demo catalog shows both in full there
                "b" * 32: None,
                "c" * 32: [],
            }
            with db.unit_of_work() as uow:
                assert uow.access_requests.approved_without_full_fields(after="", limit=10) == []
                stored = uow.access_requests.get("a" * 32)
                assert stored is not None
                assert stored.approved_full_fields == ("wife_citizen_id", "husband_citizen_id")
        finally:
            db.dispose()
