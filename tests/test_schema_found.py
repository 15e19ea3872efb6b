"""What `zzgw init`, `zzgw serve` and the store commands take the database's schema to be: "no schema" (a new store
to make) only when there is none, never for an error met reading it, nor for a database that has the gateway's tables
without a revision, nor for an empty database where this data directory's store was (a review of the migrations,
R1-R4)."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import PG_URL, backend_params, fresh_database, migrate_to, run_sql
from tests.test_cli_store_checks import downgrade, empty_database, env, tables, zzgw

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
        found = create_engine(url)
        try:
            with found.connect() as connection:
                assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0021"
        finally:  # its pooled session names no application: to the upgrade below, a gateway of before 0029's
            found.dispose()
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


PG_ONLY = pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL tests need ZZGW_TEST_DATABASE_URL or a PostgreSQL at 127.0.0.1:5432"
)


@contextlib.contextmanager
def _a_role(prefix: str = "cli_role_") -> Iterator[str]:
    """A login role of no privilege (no superuser, no CREATEDB), dropped after the databases made within."""
    role = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    try:
        yield role
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.mark.postgres
@PG_ONLY
def test_another_applications_tables_elsewhere_on_the_search_path_do_not_stop_a_new_store(tmp_path: Path) -> None:
    """R1 of a review of those fixes: on a shared database each application has a schema named after its role (the
    default search_path "$user", public picks it), and another's tables are in public. R3's check had taken any table
    of one of the gateway's names visible through the search_path for the gateway's: a new deployment's first `zzgw
    init` said "has the gateway's tables but no schema revision … restore the database", exit 2, and made nothing.
    Only the schema the store's tables go to counts: init makes the store there, and public's tables are left be."""
    from gateway.store.models import Base

    theirs = ("license_events", "licenses", "members", "receipts", "seals")
    with _a_role() as role, empty_database("postgresql", tmp_path) as url:
        run_sql(
            url,
            *(f"CREATE TABLE public.{name} (id int)" for name in theirs),
            "INSERT INTO public.members VALUES (7)",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC",
            f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"',
        )
        as_role = make_url(url).set(username=role).render_as_string(hide_password=False)
        data = tmp_path / "var"
        made = zzgw(env(data, as_role), "init")
        assert made.returncode == 0, made.stderr
        listed = zzgw(env(data, as_role), "members")
        assert listed.returncode == 0, listed.stderr
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                found = connection.execute(
                    text("SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('public', :role)"),
                    {"role": role},
                ).all()
                assert connection.execute(text("SELECT id FROM public.members")).scalars().all() == [7]
        finally:
            engine.dispose()
        assert sorted(name for schema, name in found if schema == role) == sorted(
            [*Base.metadata.tables, "alembic_version"]
        )
        assert sorted(name for schema, name in found if schema == "public") == list(theirs)


@pytest.mark.parametrize("kind", backend_params())
def test_another_applications_tables_where_the_store_goes_are_said_as_such(tmp_path: Path, kind: str) -> None:
    """R1, the shared schema: another application's `members` and `licenses` where the gateway's tables go. R3's check
    had called them the gateway's tables without a revision, to be restored from a copy that a new deployment does
    not have (before it, init failed with a traceback, DuplicateTable). Init, serve and the commands say what is
    there and what to do, exit 2, and change nothing."""
    with fresh_database(kind, tmp_path) as url:
        run_sql(
            url, "CREATE TABLE members (id int)", "CREATE TABLE licenses (id int)", "INSERT INTO members VALUES (7)"
        )
        label = make_url(url).render_as_string(hide_password=True)
        if kind == "postgresql":
            role = make_url(url).username or "postgres"
            said = (
                f"zzgw: configuration error: the schema public of the database {label}, where the gateway's tables "
                "go, has tables named as some of them (licenses, members) but no gateway store (no alembic_version, "
                "and too few of the gateway's tables): another application's. Give the gateway a schema of its own "
                f'(CREATE SCHEMA {role} AUTHORIZATION {role}: the default search_path "$user", public puts its tables '
                "there) or a database of its own, then run `zzgw init`\n"
            )
        else:
            said = (
                f"zzgw: configuration error: the database {label} has tables named as some of the gateway's "
                "(licenses, members) but no gateway store (no alembic_version, and too few of the gateway's tables): "
                "another application's. Give the gateway a database file of its own (ZZGW_DATABASE_URL), then run "
                "`zzgw init`\n"
            )
        data = tmp_path / "var"
        for command in (("init",), ("serve",)):
            refused = zzgw(env(data, url), *command)
            assert (refused.returncode, refused.stderr) == (2, said), command
        assert sorted(tables(url)) == ["licenses", "members"]
        assert not (data / "schema-reached").exists()


def test_a_store_of_any_schema_without_its_revision_is_still_the_gateways(tmp_path: Path) -> None:
    """R1: what is taken for the gateway's tables is what a store of any schema has, down to 0001's three
    (license_events, licenses, members): such a store without alembic_version is still RevisionMissing; a database
    with fewer of them, and none of the gateway's distinctive ones, has no schema."""
    from gateway.store.database import Database, RevisionMissing

    url = f"sqlite:///{tmp_path / 'z.db'}"
    made = Database.connect(url)
    try:
        migrate_to(made, "0001")
    finally:
        made.dispose()
    run_sql(url, "DROP TABLE alembic_version")
    assert sorted(tables(url)) == ["license_events", "licenses", "members"]
    db = Database.connect(url, read_only=True)
    try:
        with pytest.raises(RevisionMissing):
            db.schema_revision()
    finally:
        db.dispose()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    run_sql(other, "CREATE TABLE members (id int)", "CREATE TABLE seals (id int)", "CREATE TABLE receipts (id int)")
    db = Database.connect(other, read_only=True)
    try:
        assert db.schema_revision() is None
    finally:
        db.dispose()


@pytest.mark.postgres
@PG_ONLY
def test_an_empty_database_the_role_may_not_create_in_names_the_privilege(tmp_path: Path) -> None:
    """R2 of a review of those fixes: Restoring step 3 says that after a plain `createdb` (the gateway's role not its
    owner) the restore fails and `zzgw init` exits 2 naming the privilege the role lacks. With the data directory
    restored, init said only that the database was not the store's or its restore had failed, and that moving
    schema-reached aside made a new store: the privilege, which the restore again needs, went unsaid. Init, serve
    (and the store commands, check_ready) and catalog check name it, and how to give it, before restoring again."""
    from gateway.store.database import schema_revisions

    head = schema_revisions()[-1]
    data = tmp_path / "var"
    with (
        _a_role() as role,
        empty_database("postgresql", tmp_path) as first,
        empty_database("postgresql", tmp_path) as empty,
    ):
        first_name, name = make_url(first).database, make_url(empty).database
        run_sql(first, f'ALTER DATABASE "{first_name}" OWNER TO "{role}"')
        as_role = make_url(first).set(username=role).render_as_string(hide_password=False)
        made = zzgw(env(data, as_role), "init")
        assert made.returncode == 0, made.stderr
        restored_into = make_url(empty).set(username=role).render_as_string(hide_password=False)
        label = make_url(restored_into).render_as_string(hide_password=True)
        said = (
            f"zzgw: configuration error: the database {label} has no schema, and this data directory's `zzgw init` "
            f"left its store at schema {head} ({data / 'schema-reached'}): the database is not that store's, or its "
            "restore failed (a failed pg_restore --single-transaction leaves it empty). The gateway's role "
            f"{role} lacks the CREATE privilege on schema public (from PostgreSQL 15 on, only the database's owner "
            "has it there), so a restore as that role fails (permission denied for schema public): make the role "
            f"the database's owner (a new database: `createdb -O {role} {name}`; this one: ALTER DATABASE {name} "
            f"OWNER TO {role}) or GRANT CREATE ON SCHEMA public TO {role}, then restore the database taken with this "
            "data directory again, or correct ZZGW_DATABASE_URL (docs/operations.md, Restoring)\n"
        )
        for command in (("init",), ("serve",), ("catalog", "check")):
            refused = zzgw(env(data, restored_into), *command)
            assert (refused.returncode, refused.stderr) == (2, said), command
        assert tables(empty) == []


@pytest.mark.postgres
@PG_ONLY
def test_another_applications_alembic_version_on_the_search_path_is_refused_in_one_line(tmp_path: Path) -> None:
    """R1 of a review of the "only current_schema()" fix: the role's own schema empty, and another Alembic-managed
    application's alembic_version in public, at a numbered revision (0003) as `alembic revision --rev-id` makes. Its
    revision had been read as the gateway's: `zzgw init` failed with a traceback (relation "members" does not exist),
    exit 1. Init and `zzgw catalog check` refuse it in one line, exit 2, naming where it is; nothing is made."""
    from gateway.store.database import Database, RevisionElsewhere

    with _a_role() as role, empty_database("postgresql", tmp_path) as url:
        run_sql(
            url,
            "CREATE TABLE public.alembic_version (version_num varchar(32) PRIMARY KEY)",
            "INSERT INTO public.alembic_version VALUES ('0003')",
            "CREATE TABLE public.orders (id int)",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC",
            f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"',
        )
        as_role = make_url(url).set(username=role).render_as_string(hide_password=False)
        db = Database.connect(as_role, read_only=True)
        try:
            with pytest.raises(RevisionElsewhere):
                db.schema_revision()
        finally:
            db.dispose()
        label = make_url(as_role).render_as_string(hide_password=True)
        said = (
            f"zzgw: configuration error: the table alembic_version that the search_path of the database {label} "
            f"shows is in schema public, not in the gateway's schema {role} (current_schema(), where its tables go), "
            "which has no gateway store: it is another application's, not the gateway's schema revision. Leave public "
            f"off the gateway's search_path (ALTER ROLE {role} SET search_path = {role}, or "
            f"?options=-csearch_path%3D{role} in ZZGW_DATABASE_URL) or give the gateway a database of its own, then "
            "run `zzgw init`\n"
        )
        data = tmp_path / "var"
        for command in (("init",), ("catalog", "check")):
            refused = zzgw(env(data, as_role), *command)
            assert (refused.returncode, refused.stderr) == (2, said), command
        assert sorted(tables(url)) == ["alembic_version", "orders"]  # public's, as they were
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT version_num FROM public.alembic_version")).scalar() == "0003"
                assert (
                    connection.execute(
                        text("SELECT count(*) FROM pg_tables WHERE schemaname = :role"), {"role": role}
                    ).scalar()
                    == 0
                )
        finally:
            engine.dispose()


def test_catalog_check_refuses_another_applications_tables_as_init_does(tmp_path: Path) -> None:
    """R3 of that review: on a database file holding another application's members and licenses, `zzgw catalog
    check` said "checked without a store (… has no schema: run `zzgw init` first)", exit 0, and that init refused it.
    It refuses it as init does, with the same line, exit 2."""
    url = f"sqlite:///{tmp_path / 'z.db'}"
    run_sql(url, "CREATE TABLE members (id int)", "CREATE TABLE licenses (id int)")
    data = tmp_path / "var"
    init = zzgw(env(data, url), "init")
    assert init.returncode == 2 and "another application's" in init.stderr, init.stderr
    checked = zzgw(env(data, url), "catalog", "check")
    assert (checked.returncode, checked.stderr) == (2, init.stderr)


def test_the_statements_advised_quote_their_names() -> None:
    """R2 of that review: a role or database name that PostgreSQL reads only double-quoted (upper case, a hyphen) had
    been put into the advised statements bare: a syntax error, or a role that does not exist."""
    from gateway.server import _creation_remedy, sql_identifier
    from gateway.store.database import CreationRefused

    assert sql_identifier("zzgw") == "zzgw"
    assert sql_identifier('App-"gw"') == '"App-""gw"""'
    assert sql_identifier("user") == '"user"'  # a reserved word
    _, remedy = _creation_remedy(CreationRefused(role="App-gw", database="Shared db", schema="public"))
    assert remedy == (
        "make the role the database's owner (a new database: `createdb -O App-gw 'Shared db'`; this one: ALTER "
        'DATABASE "Shared db" OWNER TO "App-gw") or GRANT CREATE ON SCHEMA public TO "App-gw"'
    )


@pytest.mark.postgres
@PG_ONLY
def test_another_applications_tables_in_the_roles_own_schema_get_advice_that_works(tmp_path: Path) -> None:
    """R2 of that review: another application's tables in the schema named after the gateway's role (a role two
    applications share), the role's name one PostgreSQL reads only quoted. The refusal had advised `CREATE SCHEMA
    ROLE AUTHORIZATION ROLE`, bare: a syntax error, and that schema is there already, the very one in the way. It
    advises a schema of its own named first in the search_path, quoted, and following it, init makes the store."""
    with _a_role("cli-Role-") as role, empty_database("postgresql", tmp_path) as url:
        run_sql(
            url,
            f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"',
            f'CREATE TABLE "{role}".members (id int)',
            f'CREATE TABLE "{role}".licenses (id int)',
            f'ALTER TABLE "{role}".members OWNER TO "{role}"',
            f'ALTER TABLE "{role}".licenses OWNER TO "{role}"',
        )
        as_role = make_url(url).set(username=role).render_as_string(hide_password=False)
        label = make_url(as_role).render_as_string(hide_password=True)
        said = (
            f"zzgw: configuration error: the schema {role} of the database {label}, where the gateway's tables go, "
            "has tables named as some of them (licenses, members) but no gateway store (no alembic_version, and too "
            "few of the gateway's tables): another application's. Give the gateway a schema of its own (CREATE "
            f'SCHEMA zzgw AUTHORIZATION "{role}", named first in its search_path: ALTER ROLE "{role}" SET search_path '
            "= zzgw, or ?options=-csearch_path%3Dzzgw in ZZGW_DATABASE_URL) or a database of its own, then run "
            "`zzgw init`\n"
        )
        data = tmp_path / "var"
        refused = zzgw(env(data, as_role), "init")
        assert (refused.returncode, refused.stderr) == (2, said)
        run_sql(url, f'CREATE SCHEMA zzgw AUTHORIZATION "{role}"', f'ALTER ROLE "{role}" SET search_path = zzgw')
        made = zzgw(env(data, as_role), "init")
        assert made.returncode == 0, made.stderr
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                theirs = (
                    connection.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = :role ORDER BY 1"), {"role": role}
                    )
                    .scalars()
                    .all()
                )
                ours = connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'zzgw'")).scalar()
        finally:
            engine.dispose()
        assert theirs == ["licenses", "members"] and ours > 10
