"""What `zzgw init`, `zzgw serve` and the store commands take the database's schema to be: "no schema" (a new store
to make) only when there is none, never for an error met reading it, nor for a database that has the gateway's tables
without a revision, nor for an empty database where this data directory's store was (a review of the migrations,
R1-R4)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import PG_URL, backend_params, fresh_database
from tests.test_cli_store_checks import downgrade, env, tables, zzgw

LOCK_TIMEOUT = "options=-c%20lock_timeout%3D100"
"""A role's setting many production roles have in some form (a statement or lock timeout): here 0.1 s."""


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests need ZZGW_TEST_DATABASE_URL or a PostgreSQL at 127.0.0.1:5432")
def test_an_error_reading_the_schema_revision_is_an_outage_not_a_new_store(tmp_path: Path) -> None:
    """R1: any error reading alembic_version (here a lock timeout behind a session holding the table, as a VACUUM
    FULL or a DBA's tool does) had read as "no schema": `zzgw serve` and the commands said "run zzgw init first",
    exit 2, and an init upgrading the store took it for a new one and vouched for none of its memos, for good. Each
    says the database out of reach now, exit 75, and nothing is changed; the init after it upgrades as an upgrade."""
    from gateway.failures import store_unreachable
    from gateway.store.database import Database

    with fresh_database("postgresql", tmp_path) as url:
        data = tmp_path / "var"
        assert zzgw(env(data, url), "init").returncode == 0
        downgrade(url, "0021")  # as a version before the audit head memo left it
        (data / "schema-reached").unlink()  # a version that recorded none
        timed = f"{url}?{LOCK_TIMEOUT}"
        label = make_url(url).render_as_string(hide_password=True)
        holder = create_engine(url)
        try:
            with holder.connect() as held:
                held.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
                db = Database.connect(timed)
                try:
                    with pytest.raises(Exception) as raised:
                        db.schema_revision()
                finally:
                    db.dispose()
                assert store_unreachable(raised.value), raised.value
                for command in (("members",), ("serve",), ("init",)):
                    result = zzgw(env(data, timed), *command)
                    assert result.returncode == 75, (command, result.stderr)
                    said = result.stderr.splitlines()[-1]
                    assert said.startswith(f"zzgw {command[0]}: cannot use {label}"), (command, result.stderr)
                    assert said.endswith(": canceling statement due to lock timeout"), (command, result.stderr)
                    assert "Traceback" not in result.stderr and "has no schema" not in result.stderr
                held.rollback()
        finally:
            holder.dispose()
        with create_engine(url).connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0021"
        upgraded = zzgw(env(data, url), "init")
        assert upgraded.returncode == 0, upgraded.stderr
        assert "(upgraded from 0021)" in upgraded.stdout, upgraded.stdout
        verified = zzgw(env(data, url), "audit", "verify")
        assert verified.returncode == 0, (verified.stdout, verified.stderr)  # the head 0022 left, vouched for


def _no_longer_there(label: str, reached: str, data: Path, what: str = "") -> str:
    return (
        f"zzgw: configuration error: {what or f'the database {label} has no schema'}, and this data directory's "
        f"`zzgw init` left its store at schema {reached} ({data / 'schema-reached'}): the database is not that "
        "store's, or its restore failed (a failed pg_restore --single-transaction leaves it empty). Restore the "
        "database taken with this data directory, or correct ZZGW_DATABASE_URL (docs/operations.md, Restoring); only "
        "to make a new, empty store with this data directory's keys, move schema-reached aside and run `zzgw init` "
        "again\n"
    )


@pytest.mark.parametrize("kind", backend_params())
def test_a_data_directory_that_served_a_store_refuses_an_empty_database(tmp_path: Path, kind: str) -> None:
    """R2: a data directory whose init left a store at schema 0032 had made a new, empty store of any empty database
    it met (a pg_restore that failed, a URL naming another database), exit 0, and serve had advised just that. Init,
    serve, the store commands and `zzgw catalog check` refuse it, exit 2, saying what happened and the deliberate way
    to a new store, which works."""
    from gateway.store.database import schema_revisions

    head = schema_revisions()[-1]
    data = tmp_path / "var"
    with fresh_database(kind, tmp_path) as first, fresh_database(kind, tmp_path) as empty:
        assert zzgw(env(data, first), "init").returncode == 0
        if kind == "postgresql":  # fresh_database makes it; a SQLite file with a header and no table
            label = make_url(empty).render_as_string(hide_password=True)
        else:
            with contextlib.closing(sqlite3.connect(make_url(empty).database or "")) as made:
                made.execute("PRAGMA user_version = 1")
                made.commit()
            label = empty
        said = _no_longer_there(label, head, data)
        for command in (("init",), ("serve",), ("members",), ("audit", "verify"), ("catalog", "check")):
            refused = zzgw(env(data, empty), *command)
            assert (refused.returncode, refused.stderr) == (2, said), command
        assert tables(empty) == []
        (data / "schema-reached").rename(data / "schema-reached.old")  # the deliberate way, as the refusal says
        made = zzgw(env(data, empty), "init")
        assert made.returncode == 0, made.stderr
        assert f"at schema {head}," in made.stdout


def test_the_store_file_missing_is_refused_not_made_again(tmp_path: Path) -> None:
    """R2 on SQLite's default store: the file deleted (Restoring step 3) and the copy never put in place. Init had
    made a new, empty zzgw.db; it and every command refuse, and leave no file behind."""
    from gateway.store.database import schema_revisions

    data = tmp_path / "var"
    assert zzgw(env(data, ""), "init").returncode == 0
    for name in ("zzgw.db", "zzgw.db-wal", "zzgw.db-shm"):
        (data / name).unlink(missing_ok=True)
    said = _no_longer_there("", schema_revisions()[-1], data, f"there is no database at {data / 'zzgw.db'}")
    for command in (("init",), ("serve",), ("members",), ("catalog", "check")):
        refused = zzgw(env(data, ""), *command)
        assert (refused.returncode, refused.stderr) == (2, said), command
    assert not (data / "zzgw.db").exists()


@pytest.mark.parametrize("kind", backend_params())
def test_tables_without_a_schema_revision_are_said_as_such(tmp_path: Path, kind: str) -> None:
    """R3: the gateway's tables with alembic_version emptied or missing (a partial restore, a hand edit) had been "no
    schema: run zzgw init first", and that init had failed with a traceback of 100 lines, exit 1. Said in one line,
    exit 2, by init and the commands alike; nothing is changed."""
    data = tmp_path / "var"
    with fresh_database(kind, tmp_path) as url:
        assert zzgw(env(data, url), "init").returncode == 0
        label = make_url(url).render_as_string(hide_password=True)
        said = (
            f"zzgw: configuration error: the database {label} has the gateway's tables but no schema revision (its "
            "table alembic_version is missing or empty: a restore that left it out, or a hand edit), so which schema "
            "they are at is not known: restore the database from the copy taken with this data directory "
            "(docs/operations.md, Restoring)\n"
        )
        engine = create_engine(url)
        try:
            for change in ("DELETE FROM alembic_version", "DROP TABLE alembic_version"):
                with engine.begin() as connection:
                    connection.execute(text(change))
                before = sorted(tables(url))
                for command in (("init",), ("serve",), ("members",), ("catalog", "check")):
                    refused = zzgw(env(data, url), *command)
                    assert (refused.returncode, refused.stderr) == (2, said), (change, command)
                assert sorted(tables(url)) == before
        finally:
            engine.dispose()


def test_catalog_check_refuses_a_store_taken_back_as_every_command_does(tmp_path: Path) -> None:
    """R4: a store taken back below schema-reached across a vouched revision had been "checked without a store",
    exit 0, for `zzgw catalog check`, which a script runs before an upgrade; every other command refuses it. It is
    refused the same way now, exit 2; a store only older than the code is still checked without it, exit 0."""
    data = tmp_path / "var"
    url = f"sqlite:///{tmp_path / 'z.db'}"
    assert zzgw(env(data, url), "init").returncode == 0
    downgrade(url, "0021")
    members = zzgw(env(data, url), "members")
    assert members.returncode == 2 and "its schema was taken back" in members.stderr, members.stderr
    checked = zzgw(env(data, url), "catalog", "check")
    assert (checked.returncode, checked.stderr) == (2, members.stderr), checked.stderr
    (data / "schema-reached").unlink()  # an older store, no more than that: init upgrades it, then checks
    older = zzgw(env(data, url), "catalog", "check")
    assert older.returncode == 0 and "checked without a store (the database " in older.stderr, older.stderr
    assert "is at schema 0021, and this code needs" in older.stderr


def test_schema_revision_is_none_only_without_tables(tmp_path: Path) -> None:
    """The store layer itself: None for an empty database, the revision for a store, and for the gateway's tables
    without a revision an error naming them (R3), on a read-only connection too."""
    from gateway.store.database import Database, RevisionMissing, schema_revisions

    path = tmp_path / "z.db"
    db = Database.connect(f"sqlite:///{path}")
    try:
        assert db.schema_revision() is None
        db.migrate()
        assert db.schema_revision() == schema_revisions()[-1]
    finally:
        db.dispose()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("DELETE FROM alembic_version")
        connection.commit()
    db = Database.connect(f"sqlite:///{path}", read_only=True)
    try:
        with pytest.raises(RevisionMissing):
            db.schema_revision()
    finally:
        db.dispose()


def test_the_migrations_start_from_the_revision_init_decided_from(tmp_path: Path) -> None:
    """R1, the other half: what an upgrade vouches for is decided from the revision init read first; the migrations'
    transaction reads it again and changes nothing if another process moved it in between."""
    from gateway.store.database import Database, SchemaMoved, schema_revisions

    path = tmp_path / "z.db"
    db = Database.connect(f"sqlite:///{path}")
    try:
        with pytest.raises(SchemaMoved, match="it was at 0021, and at none as the schema change began"):
            db.migrate(starting_at="0021")
        assert db.schema_revision() is None and tables(f"sqlite:///{path}") == []
        db.migrate(starting_at=None)
        head = schema_revisions()[-1]
        ran: list[str] = []
        with pytest.raises(SchemaMoved, match=f"it was at none, and at {head} as the schema change began"):
            db.migrate(then=lambda _units: ran.append("then"), starting_at=None)
        assert ran == []
        db.migrate(then=lambda _units: ran.append("then"), starting_at=head)
        assert ran == ["then"]
    finally:
        db.dispose()
