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
from sqlalchemy import insert, null, select, update

from gateway import cli
from gateway.domain.catalog import Catalog
from gateway.domain.identifiers import LicenseId
from gateway.server import _record_granted_fields, initialise
from gateway.services.catalog_pin import CATALOG_FACT
from gateway.store.database import Database
from gateway.store.models import ConsentRow, GatewayFactRow
from tests.api.test_guardian_consent import CBDJ, MEDICAL, certificate, consent, parents
from tests.api.test_seal_memos import _migrate
from tests.api.test_sharing import data, fields_of
from tests.conftest import PASSPHRASE, backend_params, fresh_database, migrate_to
from tests.test_catalog_change import DEMO_CATALOG, catalog_file, serving, settings_of

BIRTH = "1110000099100006XH001"


def cbdj_birth(raw: dict[str, Any]) -> dict[str, Any]:
    (cbdj,) = (m for m in raw["matters"] if m["code"] == CBDJ.matter_code)
    (material,) = (m for m in cbdj["materials"] if m["type_code"] == BIRTH)
    return material


def with_mothers_number(raw: dict[str, Any]) -> None:
    """参保登记 reads the mother's 公民身份号码 too, masked."""
    cbdj_birth(raw)["fields"].append("mother_citizen_id")


def notes(raw: dict[str, Any]) -> None:
    """Another catalog reading the same: a matter's name changed (its fingerprint changes)."""
    (cbdj,) = (m for m in raw["matters"] if m["code"] == CBDJ.matter_code)
    cbdj["name"] = cbdj["name"] + "（新）"


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
SECOND_ROW = {**CONSENT_ROW, "consent_id": "c2", "code_sha256": "1" * 64}
DEMO_GRANTED = {
    BIRTH: {"fields": ["child_name", "gender", "birth_date", "mother_name", "father_name"], "full_fields": []}
}


@pytest.mark.parametrize("kind", backend_params())
def test_the_upgrade_records_what_consents_granted_before_it_are_for(kind: str, tmp_path: Path) -> None:
    """A consent granted before schema 0039 is given the fields of the catalog the upgrade holds: the store's when it
    runs with it (the catalog it was granted under, unless an adoption came between); with another (an upgrade that
    adopts one at once, as a store served with a demo catalog since changed must be upgraded), from that one all the
    same, at most what it reads: left unrecorded, it had read what any later catalog lists (review consentfix, R1)."""
    catalog = Catalog.from_json(DEMO_CATALOG.read_bytes())
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0037")
            with db.engine.begin() as connection:
                connection.execute(insert(ConsentRow.__table__).values(**CONSENT_ROW))
                connection.execute(insert(ConsentRow.__table__).values(**SECOND_ROW))
                connection.execute(insert(GatewayFactRow.__table__).values(name=CATALOG_FACT, value="another"))
            # under a catalog the store does not serve: recorded from it, said as such
            said: list[tuple[int, bool]] = []
            db.migrate(then=lambda units: said.append(_record_granted_fields(units, catalog)), starting_at="0037")
            assert said == [(2, False)]
            assert stored_fields(url) == {"c1": DEMO_GRANTED, "c2": DEMO_GRANTED}
            with db.unit_of_work() as uow:
                assert uow.consents.without_granted_fields(after="", limit=10) == []
                stored = uow.consents.get("c1")
                assert stored is not None
                assert stored.granted_fields == ((BIRTH, tuple(DEMO_GRANTED[BIRTH]["fields"]), ()),)
            # under the store's catalog: recorded from it (none left to record here)
            with db.engine.begin() as connection:
                connection.execute(update(ConsentRow.__table__).values(granted_fields=null()))
                connection.execute(update(GatewayFactRow.__table__).values(value=catalog.fingerprint))
            assert _record_granted_fields(db, catalog) == (2, True)
            assert stored_fields(url) == {"c1": DEMO_GRANTED, "c2": DEMO_GRANTED}
        finally:
            db.dispose()


@pytest.mark.parametrize("kind", backend_params())
def test_an_upgrade_that_adopts_another_catalog_records_the_consents_from_it_and_says_so(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented upgrade of a store whose catalog the new version cannot serve as it is (a demo catalog since
    changed, a file the stricter loader refuses) is `zzgw init --adopt-catalog` in the same run: it had recorded no
    consent's fields, said nothing, and every consent granted before read whatever a later catalog listed, both
    parents' 公民身份号码 in full. They are recorded from the adopted catalog, so no later one widens them, and init
    says how many (review consentfix, R1)."""
    first = catalog_file(tmp_path / "first.json", with_mothers_number)
    adopted = catalog_file(tmp_path / "adopted.json", with_mothers_number, notes)
    later = catalog_file(tmp_path / "later.json", with_mothers_number, notes, widened)
    with fresh_database(kind, tmp_path) as store:
        with serving(tmp_path, store, first) as running:
            mother, father = parents()
            license_id, _ = certificate(running, mother, father)
            granted = consent(running, mother, (license_id,), uses=5)
        _migrate(store, "0038")  # the store as the version before consents' fields left it
        for name, value in {
            "ZZGW_DATA_DIR": str(tmp_path / "var"),
            "ZZGW_DATABASE_URL": store,
            "ZZGW_KEY_PASSPHRASE": PASSPHRASE,
            "ZZGW_CATALOG": str(adopted),
        }.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        assert cli.main(["init", "--adopt-catalog"]) == 0
        said = capsys.readouterr().out
        assert (
            "1 consent granted before schema 0039 recorded with the fields they were granted for, from this init's "
            "catalog, not the one they were granted under"
        ) in said
        assert "0 left unrecorded" in said
        assert stored_fields(store)[granted.consent.consent_id] is not None
        initialise(settings_of(tmp_path, store, later), adopt_catalog=True)
        with serving(tmp_path, store, later) as running:
            after = data(running, license_id, CBDJ, member=MEDICAL, code=granted.code)
            read = fields_of(after)
            assert read["mother_citizen_id"] == "*" * 18
            assert "father_citizen_id" not in read
            assert [(w.key, w.reason) for w in after.withheld] == [("father_citizen_id", "CONSENT_OTHER_FIELDS")]
