"""A consent reads only what it was granted for, over real gRPC on SQLite and PostgreSQL, through real adoptions.

A reviewer (review consent, R1) found that a consent named no fields: a catalog adopted after the grant that widened
the matter's material (参保登记 then reading both parents' 公民身份号码, in full) let the mother's consent for her
newborn's 出生医学证明 release them, while an approval for the same matter kept its fields (``FIELD_NOT_APPROVED``).
A consent now records, by type, the material's conditional fields at the grant and those of them read in full; a
field a later catalog adds is withheld ``CONSENT_OTHER_FIELDS``, and one it unmasks stays masked.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from gateway.domain.catalog import Catalog
from gateway.domain.identifiers import LicenseId
from gateway.server import _record_granted_fields, initialise
from gateway.services.catalog_pin import CATALOG_FACT
from gateway.store.database import Database
from gateway.store.models import ConsentRow, GatewayFactRow
from tests.api.test_guardian_consent import CBDJ, MEDICAL, certificate, consent, parents
from tests.api.test_sharing import data, fields_of
from tests.conftest import backend_params, fresh_database, migrate_to
from tests.test_catalog_change import DEMO_CATALOG, catalog_file, serving, settings_of

BIRTH = "1110000099100006XH001"


def cbdj_birth(raw: dict[str, Any]) -> dict[str, Any]:
    (cbdj,) = (m for m in raw["matters"] if m["code"] == CBDJ.matter_code)
    (material,) = (m for m in cbdj["materials"] if m["type_code"] == BIRTH)
    return material


def with_mothers_number(raw: dict[str, Any]) -> None:
    """参保登记 reads the mother's 公民身份号码 too, masked."""
    cbdj_birth(raw)["fields"].append("mother_citizen_id")


def widened(raw: dict[str, Any]) -> None:
    """参保登记 reads the father's 公民身份号码 as well, and both numbers in full."""
    material = cbdj_birth(raw)
    material["fields"].append("father_citizen_id")
    material["full_fields"] = ["mother_citizen_id", "father_citizen_id"]


@pytest.mark.parametrize("kind", backend_params())
def test_a_consent_reads_no_more_than_it_was_granted_for_after_the_catalog_widens(kind: str, tmp_path: Path) -> None:
    first = catalog_file(tmp_path / "first.json", with_mothers_number)
    later = catalog_file(tmp_path / "later.json", with_mothers_number, widened)
    with fresh_database(kind, tmp_path) as store:
        with serving(tmp_path, store, first) as running:
            mother, father = parents()
            license_id, _ = certificate(running, mother, father)
            granted = consent(running, mother, (license_id,), uses=5)
            before = data(running, license_id, CBDJ, member=MEDICAL, code=granted.code)
            assert fields_of(before)["mother_citizen_id"] == "*" * 18
        initialise(settings_of(tmp_path, store, later), adopt_catalog=True)
        with serving(tmp_path, store, later) as running:
            after = data(running, license_id, CBDJ, member=MEDICAL, code=granted.code)
            read = fields_of(after)
            # masked when granted (hidden whole beside the birth date): masked still
            assert read["mother_citizen_id"] == "*" * 18
            assert "father_citizen_id" not in read
            assert [(w.key, w.reason) for w in after.withheld] == [("father_citizen_id", "CONSENT_OTHER_FIELDS")]
            assert "GrantConsent" in after.remedy
            # the holder's new consent, granted under the catalog in force, reads what it reads now
            again = consent(running, mother, (license_id,))
            anew = fields_of(data(running, license_id, CBDJ, member=MEDICAL, code=again.code))
            assert (anew["mother_citizen_id"], anew["father_citizen_id"]) == (mother, father)


def stored_fields(store: str) -> dict[str, Any]:
    db = Database.connect(store)
    try:
        with db.engine.connect() as connection:
            rows = connection.execute(select(ConsentRow.consent_id, ConsentRow.granted_fields)).all()
    finally:
        db.dispose()
    return {consent_id: fields for consent_id, fields in rows}


@pytest.mark.parametrize("kind", backend_params())
def test_a_grant_records_what_the_consent_is_for(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as store:
        with serving(tmp_path, store, catalog_file(tmp_path / "first.json", with_mothers_number)) as running:
            mother, father = parents()
            license_id, _ = certificate(running, mother, father)
            granted = consent(running, mother, (license_id,))
        assert stored_fields(store)[granted.consent.consent_id] == {
            BIRTH: {
                "fields": ["child_name", "gender", "birth_date", "mother_name", "father_name", "mother_citizen_id"],
                "full_fields": [],
            }
        }


CONSENT_ROW: dict[str, Any] = {
    "consent_id": "c1",
    "code_sha256": "0" * 64,
    "holder_code": "H2026120100123",
    "portal": "PORTAL",
    "grantee": MEDICAL,
    "matter_code": CBDJ.matter_code,
    "license_ids": [str(LicenseId(type_code=BIRTH, issuer_code="113701009937010623", serial="H0001", version=1))],
    "type_codes": [],
    "uses_allowed": 1,
    "uses_left": 1,
    "valid_until": dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    "created_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
}
DEMO_GRANTED = {
    BIRTH: {"fields": ["child_name", "gender", "birth_date", "mother_name", "father_name"], "full_fields": []}
}


@pytest.mark.parametrize("kind", backend_params())
def test_the_upgrade_records_what_consents_granted_before_it_are_for(kind: str, tmp_path: Path) -> None:
    """A consent granted before schema 0039 is given the fields of the catalog the store serves, when the upgrade runs
    with it (the catalog it was granted under, unless an adoption came between); with another (an upgrade that adopts
    one at once), it is left unrecorded, and reads what the material in force lists (docs/api.md)."""
    catalog = Catalog.from_json(DEMO_CATALOG.read_bytes())
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0037")
            with db.engine.begin() as connection:
                connection.execute(insert(ConsentRow.__table__).values(**CONSENT_ROW))
                connection.execute(insert(GatewayFactRow.__table__).values(name=CATALOG_FACT, value="another"))
            # under a catalog the store does not serve: nothing recorded
            db.migrate(then=lambda units: _record_granted_fields(units, catalog), starting_at="0037")
            assert stored_fields(url) == {"c1": None}
            with db.unit_of_work() as uow:
                (left,) = uow.consents.without_granted_fields(after="", limit=10)
                assert left.granted_fields is None
            # under the store's catalog: recorded from it
            with db.engine.begin() as connection:
                connection.execute(update(GatewayFactRow.__table__).values(value=catalog.fingerprint))
            assert _record_granted_fields(db, catalog) == 1
            assert stored_fields(url) == {"c1": DEMO_GRANTED}
            with db.unit_of_work() as uow:
                assert uow.consents.without_granted_fields(after="", limit=10) == []
                stored = uow.consents.get("c1")
                assert stored is not None
                assert stored.granted_fields == ((BIRTH, tuple(DEMO_GRANTED[BIRTH]["fields"]), ()),)
        finally:
            db.dispose()
