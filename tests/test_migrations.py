"""The Alembic migrations make exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from gateway.store.database import MIGRATIONS, Database, schema_revisions
from gateway.store.models import AccessRecordRow, ConsentRow, ReceiptRow
from tests.conftest import backend_params, fresh_database, migrate_to, schema_differences

ROOT = Path(__file__).resolve().parent.parent


def test_the_schema_revisions_read_from_the_migration_files_are_alembics() -> None:
    """``schema_revisions`` reads the migration files' revision lines, not Alembic's script directory (which a worker's
    start had imported only for it): the same revisions, in the same order, the last Alembic's one head."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert schema_revisions() == tuple(reversed([revision.revision for revision in script.walk_revisions()]))
    assert schema_revisions()[-1] == script.get_current_head()


def test_a_worker_starts_without_importing_alembic() -> None:
    """The gateway's server module, all a worker imports, leaves Alembic (with Mako and Pygments) to the commands that
    migrate: ~0.1 s of CPU of each worker's start, and of each replacement's."""
    script = (
        "import sys; import gateway.server; from gateway.store.database import schema_revisions; schema_revisions(); "
        "print(sorted(m for m in ('alembic', 'mako', 'pygments') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout == "[]\n", done.stderr


@pytest.mark.parametrize("kind", backend_params())
def test_migrations_match_the_models(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            db.migrate()
            with db.engine.connect() as connection:
                differences = schema_differences(connection)
        finally:
            db.dispose()
    assert differences == []


@pytest.mark.parametrize("kind", backend_params())
def test_case_numbers_stored_before_0023_are_kept_as_now_typed(kind: str, tmp_path: Path) -> None:
    """Receipts linked to a case before case numbers were kept as license numbers are (capitals, no spaces) are
    found by the number as it is now kept."""
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0022")
            at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
            with db.engine.begin() as connection:
                for receipt_id, case_id in (("r1", "case-9 a"), ("r2", ""), ("r3", "QYKB-2026-01")):
                    connection.execute(
                        insert(ReceiptRow.__table__).values(
                            receipt_id=receipt_id, statement=b"{}", signature=b"s", proof=b"", algorithm="x",
                            caller="c", matter_code="m", license_id="", created_at=at, bundle_code="b",
                            case_id=case_id,
                        )
                    )  # fmt: skip
            db.migrate()
            with db.engine.connect() as connection:
                kept = dict(connection.execute(text("SELECT receipt_id, case_id FROM receipts")).all())
            assert kept == {"r1": "CASE-9A", "r2": "", "r3": "QYKB-2026-01"}
            with db.unit_of_work() as uow:
                assert [r.receipt_id for r in uow.receipts.of_case("b", "CASE-9A")] == ["r1"]
        finally:
            db.dispose()


@pytest.mark.parametrize("kind", backend_params())
def test_access_records_stored_before_0038_still_check_beside_a_seals_use(kind: str, tmp_path: Path) -> None:
    """The columns a seal's use names (schema 0038) are empty in the records stored before, which hash as they did:
    the chain checks across the upgrade, a seal's record appended after it included, and reads its seal back."""
    from gateway.domain.audit import AuditAction, AuditEntry, ChainCheck, HeadMemos
    from gateway.domain.model import SystemClock
    from gateway.services.audit import AuditSigner, AuditTrail
    from tests.conftest import gateway_key

    key, certificate = gateway_key()
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def entry(action: AuditAction, **fields: str) -> AuditEntry:
        return AuditEntry(
            at=at, caller="c", operator="", action=action, matter_code="", purpose="", decision="D", **fields
        )

    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0037")
            trail = AuditTrail(
                db, AuditSigner(key=key, certificate=certificate), SystemClock(), memos=HeadMemos(b"m" * 32)
            )
            trail.record(entry(AuditAction.VERIFY_LICENSE, license_id="L1"), entry(AuditAction.GET_RECEIPT))
            db.migrate()
            trail.record(
                entry(AuditAction.SEAL_DOCUMENT, seal_id="S1", document_sha256="a" * 64, result_sha256="b" * 64)
            )
            assert trail.check() == ChainCheck(ok=True, records=3, checkpoints=0)
            with db.engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT seq, seal_id, document_sha256, result_sha256 FROM access_records ORDER BY seq")
                ).all()
            assert [tuple(r) for r in rows] == [(1, "", "", ""), (2, "", "", ""), (3, "S1", "a" * 64, "b" * 64)]
            with db.unit_of_work() as uow:
                (third,) = uow.audit.page(2, 10)
            assert (third.entry.seal_id, third.entry.document_sha256) == ("S1", "a" * 64)
        finally:
            db.dispose()


@pytest.mark.parametrize("kind", backend_params())
def test_an_access_records_reason_of_500_characters_is_kept_across_0041_without_a_rebuild_on_sqlite(
    kind: str, tmp_path: Path
) -> None:
    """Schema 0041 widened an access record's reason to 500 characters. On SQLite, which does not enforce a VARCHAR's
    length, it rebuilt the audit trail's table whole for nothing: minutes over tens of millions of records, the file
    left half again as large, and not a line said (a reviewer, R2). The table is now left as it was there (its pages
    untouched, none freed), and PostgreSQL widens the column; both keep the records and take a reason of 500."""
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def record(seq: int, reason: str) -> dict[str, object]:
        return dict(
            seq=seq, at=at, caller="c", operator="", action="GET_LICENSE_DATA", matter_code="", purpose="",
            license_id="L", issuer_code="I", holder_code="H", decision="PERMITTED", reason=reason, receipt_id="",
            prev_hash=b"p", hash=b"h",
        )  # fmt: skip

    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0040")
            with db.engine.begin() as connection:
                connection.execute(
                    insert(AccessRecordRow.__table__), [record(seq, f"approval=A{seq}") for seq in range(1, 3001)]
                )

            def table() -> tuple[object, ...]:
                with db.engine.connect() as connection:
                    if kind != "sqlite":
                        return ()
                    return (
                        connection.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'access_records'")),
                        connection.scalar(text("PRAGMA page_count")),
                        connection.scalar(text("PRAGMA freelist_count")),
                    )

            before = table()
            migrate_to(db, "0041")  # that one alone: a later one may write rows (0042 a fact), and so pages
            assert db.schema_revision() == "0041"
            assert table() == before  # SQLite: the same table, the same pages, none freed
            if kind == "sqlite":
                assert "VARCHAR(64)" in str(before[0])
            with db.engine.begin() as connection:
                connection.execute(insert(AccessRecordRow.__table__), [record(3001, "approval=" + "A" * 491)])
                kept = connection.execute(
                    text("SELECT seq, reason FROM access_records WHERE seq IN (1, 3000, 3001) ORDER BY seq")
                ).all()
                assert connection.scalar(text("SELECT count(*) FROM access_records")) == 3001
            assert [(seq, len(reason)) for seq, reason in kept] == [(1, 11), (3000, 14), (3001, 500)]
            migrate_to(db, "head")  # the later schemas' columns (0043's by_guardian), then the models' schema
            with db.engine.connect() as connection:
                assert schema_differences(connection) == []
        finally:
            db.dispose()


@pytest.mark.parametrize("kind", backend_params())
def test_access_records_stored_before_0043_still_check_beside_a_guardians_consent_refused(
    kind: str, tmp_path: Path
) -> None:
    """Whether a refusal is of a guardian's consent (schema 0043, ``AuditEntry.by_guardian``) is false in the records
    stored before, which hash as they did: the chain checks across the upgrade, a guardian's refusal appended after
    it included, which reads back as such; and it is in the hash, so it cannot be turned off behind the trail."""
    from gateway.domain.audit import AuditAction, AuditEntry, ChainCheck, HeadMemos
    from gateway.domain.model import SystemClock
    from gateway.services.audit import AuditSigner, AuditTrail
    from tests.conftest import gateway_key

    key, certificate = gateway_key()
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def entry(**fields: object) -> AuditEntry:
        return AuditEntry(
            at=at, caller="c", operator="", action=AuditAction.GET_LICENSE_DATA, matter_code="", purpose="",
            license_id="L1", decision="DENY", reason="CONSENT_WITHDRAWN", **fields,  # type: ignore[arg-type]
        )  # fmt: skip

    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0042")
            trail = AuditTrail(
                db, AuditSigner(key=key, certificate=certificate), SystemClock(), memos=HeadMemos(b"m" * 32)
            )
            trail.record(entry(), entry())
            db.migrate()
            trail.record(entry(by_guardian=True), entry())
            assert trail.check() == ChainCheck(ok=True, records=4, checkpoints=0)
            with db.unit_of_work() as uow:
                kept = uow.audit.page(0, 10)
            assert [r.entry.by_guardian for r in kept] == [False, False, True, False]
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE access_records SET by_guardian = false WHERE seq = 3"))
            assert not trail.check().ok
        finally:
            db.dispose()


@pytest.mark.parametrize("kind", backend_params())
def test_a_consent_withdrawn_before_0044_keeps_no_withdrawer_and_one_withdrawn_after_keeps_who(
    kind: str, tmp_path: Path
) -> None:
    """Who withdrew a consent (schema 0044, ``StoredConsent.withdrawn_by``) is empty for one withdrawn before (said
    in the guardian's words, as then: ``said_by_guardian``), and kept for one withdrawn after (review holder, R2)."""
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    child, mother = "370102201101010017", "370102198001010029"

    def consent(consent_id: str, withdrawn: bool) -> dict[str, object]:
        return dict(
            consent_id=consent_id, code_sha256=consent_id * 8, holder_code=child, portal="p", grantee="g",
            matter_code="m", license_ids=["L1"], type_codes=[], valid_until=at + dt.timedelta(days=30),
            uses_allowed=3, uses_left=3, withdrawn_at=at if withdrawn else None, created_at=at, guardian_code=mother,
        )  # fmt: skip

    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0043")
            with db.engine.begin() as connection:
                connection.execute(insert(ConsentRow.__table__).values(consent("c1", True)))
                connection.execute(insert(ConsentRow.__table__).values(consent("c2", False)))
            db.migrate()
            with db.unit_of_work(write=True) as uow:
                assert uow.consents.withdraw("c2", at + dt.timedelta(days=1), by=child)
                uow.commit()
            with db.unit_of_work() as uow:
                kept = {c: uow.consents.get(c) for c in ("c1", "c2")}
            assert {c: (s.withdrawn_at is not None, s.withdrawn_by) for c, s in kept.items() if s} == {
                "c1": (True, ""),
                "c2": (True, child),
            }
        finally:
            db.dispose()
