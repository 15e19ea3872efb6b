"""The operator's commands against a store they cannot use as it is: a database without the schema is said as
`zzgw serve` says it (one line, exit status 2), and every command tells a database out of reach (75, worth running
again) from a setting to fix (2), as `zzgw serve` and `zzgw init` do (operations tester's findings 4 and 5; a fleet
tester's D3)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from benchmarks.common import free_port, wait_serving
from tests.commands import DEMO_FILES, run_python, run_zzgw
from tests.conftest import PG_URL, backend_params

ROOT = Path(__file__).resolve().parent.parent
TAX = "11370100993701097M"  # 国家税务总局济南市税务局: verifies, so its clerks may have console tokens

STORE_COMMANDS = [
    ("members",),
    ("members", "--revoke", TAX),
    ("members", "--restore", TAX),
    ("console-token", TAX),
    ("console-token", TAX, "--clerk", "窗口01"),
    ("console-token", TAX, "--clerk", "窗口01", "--end"),
    ("console-token", TAX, "--list"),
    ("audit", "verify"),
    ("audit", "refusals"),
    ("audit", "prune"),
    ("memos",),
    ("claims",),
]
"""Every command that opens the store (the gRPC clients, `demo`, `import`, `verify`, `receipt`, open none)."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory `zzgw init` made (keys, CAs), on a SQLite store of its own: the commands below are pointed
    at another, empty, database, as an operator whose ZZGW_DATABASE_URL names the wrong one would."""
    directory = tmp_path_factory.mktemp("cli-store") / "var"
    made = zzgw(env(directory, ""), "init")
    assert made.returncode == 0, made.stderr
    return directory


def no_store_reached(data_dir: Path, directory: Path) -> Path:
    """A copy of ``data_dir`` whose init recorded no store (no ``schema-reached``): as a directory of keys made for a
    new store, or by a version before the record, it may make one in an empty database, and is told that it has no
    schema. ``data_dir`` itself, whose store is elsewhere, is refused an empty database (test_schema_found)."""
    copy = directory / "var-no-store"
    shutil.copytree(data_dir, copy, symlinks=True)
    (copy / "schema-reached").unlink()
    return copy


def env(data_dir: Path, database_url: str, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "ZZGW_DATA_DIR": str(data_dir),
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_KEY_PASSPHRASE": "cli-store-test-passphrase",
        "ZZGW_DATABASE_URL": database_url,
        "ZZGW_MODE": "production",  # `console-token CODE` alone is production mode's
        **DEMO_FILES,  # which takes neither by default
        **more,
    }


def zzgw(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_zzgw(*args, env=environment)


def _init_doing_when_said(
    environment: dict[str, str], said: str, then: Callable[[], object]
) -> subprocess.CompletedProcess[str]:
    """``zzgw init`` in a process of its own, doing ``then`` once a line of its standard error says ``said``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "init"],
        env=environment,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with futures.ThreadPoolExecutor(1) as pool:
        stdout = pool.submit(lambda: process.stdout.read() if process.stdout else "")
        stderr = []
        for line in process.stderr or ():
            stderr.append(line)
            if said in line:
                then()
        process.wait(timeout=120)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout.result(), "".join(stderr))


@contextlib.contextmanager
def empty_database(kind: str, directory: Path) -> Iterator[str]:
    """An empty database: a SQLite file that is a database with no table, or a PostgreSQL database made (named
    cli_fix_*) and dropped here."""
    if kind == "sqlite":
        path = directory / f"empty-{uuid.uuid4().hex[:8]}.db"
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("PRAGMA user_version = 1")  # a SQLite file, with its header, and no table
            connection.commit()
        yield f"sqlite:///{path}"
        return
    name = f"cli_fix_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def downgrade(url: str, revision: str) -> None:
    """Take the store at ``url`` back to schema ``revision``, as the version before this one left it."""
    from alembic import command
    from alembic.config import Config

    from gateway.store.database import MIGRATIONS

    engine = create_engine(url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def tables(url: str) -> list[str]:
    from sqlalchemy import inspect

    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", backend_params())
def test_every_command_that_opens_the_store_says_it_has_no_schema(data_dir: Path, tmp_path: Path, kind: str) -> None:
    data_dir = no_store_reached(data_dir, tmp_path)
    with empty_database(kind, tmp_path) as url:
        label = make_url(url).render_as_string(hide_password=True)
        said = f"zzgw: configuration error: the database {label} has no schema: run `zzgw init` first\n"
        for command in (*STORE_COMMANDS, ("serve",)):
            result = zzgw(env(data_dir, url), *command)
            assert (result.returncode, result.stdout, result.stderr) == (2, "", said), command
        assert tables(url) == []  # nothing made by a command but `zzgw init`


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests need ZZGW_TEST_DATABASE_URL or a PostgreSQL at 127.0.0.1:5432")
def test_tables_the_gateways_role_may_not_read_are_said_as_such(tmp_path: Path) -> None:
    """Restored by pg_restore as another user, the tables belong to it: the gateway's role had been told the store
    "has no schema: run `zzgw init`", and init then failed with a traceback, exit 1 (a disaster-recovery tester)."""
    role = f"cli_role_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    try:
        with empty_database("postgresql", tmp_path) as url:
            made = zzgw(env(tmp_path / "var", url), "init")  # as the superuser: its tables
            assert made.returncode == 0, made.stderr
            as_role = make_url(url).set(username=role).render_as_string(hide_password=False)
            for command in ("serve", "init"):
                refused = zzgw(env(tmp_path / "var", as_role), command)
                assert refused.returncode == 2, (command, refused.stderr)
                assert "refuses the gateway's role its tables (permission denied for table alembic_version)" in (
                    refused.stderr
                )
                assert "pg_restore --no-owner" in refused.stderr and "Traceback" not in refused.stderr
            # the schema's revision readable, the other tables not (a GRANT on one table): said as such by every
            # command, where init and serve had failed with a traceback on gateway_facts (a disaster-recovery tester)
            owner = create_engine(url, isolation_level="AUTOCOMMIT")
            try:
                with owner.connect() as connection:
                    connection.execute(text(f'GRANT SELECT ON alembic_version TO "{role}"'))
            finally:
                owner.dispose()
            for command in (("serve",), ("init",), ("members",), ("audit", "verify")):
                refused = zzgw(env(tmp_path / "var", as_role), *command)
                assert refused.returncode == 2 and "Traceback" not in refused.stderr, (command, refused.stderr)
                assert refused.stderr.splitlines()[-1].startswith(
                    f"zzgw: configuration error: the database {make_url(as_role).render_as_string(hide_password=True)}"
                    " refuses the gateway's role its tables (permission denied for table "
                ), (command, refused.stderr)
                assert "pg_restore --no-owner" in refused.stderr, (command, refused.stderr)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests need ZZGW_TEST_DATABASE_URL or a PostgreSQL at 127.0.0.1:5432")
def test_a_role_that_may_not_create_tables_is_told_the_privilege_it_lacks(tmp_path: Path) -> None:
    """In a database another role owns, PostgreSQL 15 gives the gateway's role no CREATE on schema public: `zzgw
    init` had failed with a traceback of 100 lines and exit 1, which a service manager tries again, and `zzgw serve`
    had sent the operator to that init (a disaster-recovery tester). Each says, in one line with exit status 2,
    which role lacks which privilege where, and what gives it; an upgrade that adds a table says so too."""
    role = f"cli_role_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    try:
        with empty_database("postgresql", tmp_path) as url:  # made, and owned, by the superuser
            name = make_url(url).database
            as_role = make_url(url).set(username=role).render_as_string(hide_password=False)
            label = make_url(as_role).render_as_string(hide_password=True)
            said = (
                f"zzgw: configuration error: the database {label} has no schema, and the gateway's role {role} may not "
                "create its tables there: it lacks the CREATE privilege on schema public (from PostgreSQL 15 on, only "
                f"the database's owner has it there); make the role the database's owner (a new database: `createdb -O "
                f"{role} {name}`; this one: ALTER DATABASE {name} OWNER TO {role}) or GRANT CREATE ON SCHEMA public TO "
                f"{role}, then run `zzgw init` (docs/operations.md, Restoring)\n"
            )
            for command in ("init", "serve"):
                refused = zzgw(env(tmp_path / "var", as_role), command)
                assert (refused.returncode, refused.stderr) == (2, said), command
            assert tables(url) == []
            with admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}" OWNER TO "{role}"'))  # as the message says
                connection.execute(text(f'ALTER ROLE "{role}" IN DATABASE "{name}" SET search_path = nowhere'))
            nowhere = zzgw(env(tmp_path / "var", as_role), "init")
            assert (nowhere.returncode, nowhere.stderr) == (
                2,
                f"zzgw: configuration error: the database {label} has no schema, and the gateway's role {role} may not "
                "create its tables there: no schema that its search_path names exists; make one (CREATE SCHEMA public "
                f"AUTHORIZATION {role}) or set the role's search_path, then run `zzgw init`\n",
            )
            with admin.connect() as connection:
                connection.execute(text(f'ALTER ROLE "{role}" IN DATABASE "{name}" RESET search_path'))
            made = zzgw(env(tmp_path / "var", as_role), "init")
            assert made.returncode == 0, made.stderr
        with empty_database("postgresql", tmp_path) as url:
            as_role = make_url(url).set(username=role).render_as_string(hide_password=False)
            owner = create_engine(url, isolation_level="AUTOCOMMIT")

            def schema_public(change: str) -> None:
                with owner.connect() as connection:
                    connection.execute(text(change.format(role=role)))

            try:
                schema_public('GRANT CREATE ON SCHEMA public TO "{role}"')
                assert zzgw(env(tmp_path / "granted", as_role), "init").returncode == 0
                downgrade(as_role, "0027")  # the release before migration 0028 added a table
                schema_public('REVOKE CREATE ON SCHEMA public FROM "{role}"')
                upgrade = zzgw(env(tmp_path / "granted", as_role), "init")
                assert upgrade.returncode == 2 and "Traceback" not in upgrade.stderr
                assert upgrade.stderr.splitlines()[-1].startswith(  # after the warning of the test's connection
                    f"zzgw: configuration error: the gateway's role {role} may not create the tables an upgrade adds "
                    f"to the database {make_url(as_role).render_as_string(hide_password=True)} (permission denied "
                    "for schema public): it lacks the CREATE privilege on schema public"
                ), upgrade.stderr
                schema_public('GRANT CREATE ON SCHEMA public TO "{role}"')
                upgraded = zzgw(env(tmp_path / "granted", as_role), "init")
                assert upgraded.returncode == 0, upgraded.stderr
                # an upgrade of tables another role owns, the role free to create: said as the tables' owner
                downgrade(url, "0027")
                with owner.connect() as connection:
                    connection.execute(text(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER'))
                    connection.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
                not_its = zzgw(env(tmp_path / "granted", as_role), "init")
                assert not_its.returncode == 2 and "Traceback" not in not_its.stderr, not_its.stderr
                assert "refuses the gateway's role its tables (" in not_its.stderr.splitlines()[-1], not_its.stderr
            finally:
                owner.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


CLOSED_PORT = 60199
"""A port of this test's range where nothing listens (checked): a PostgreSQL down."""


def test_every_command_exits_75_for_a_database_out_of_reach_and_init_2_for_one_that_refuses(tmp_path: Path) -> None:
    """75 (EX_TEMPFAIL) for a database out of reach, from every command that opens the store: a nightly `zzgw audit
    verify` had exited 2 for a PostgreSQL restarting, as for a setting to fix, where `zzgw init` exited 75 (a fleet
    tester)."""
    with contextlib.suppress(ConnectionRefusedError), socket.create_connection(("127.0.0.1", CLOSED_PORT), 1):
        pytest.fail(f"something listens on 127.0.0.1:{CLOSED_PORT}")
    nobody = f"postgresql+psycopg://zzgw:secret@127.0.0.1:{CLOSED_PORT}/zzgw"
    for command in (("init",), ("serve",), *STORE_COMMANDS):
        down = zzgw(env(tmp_path / "down", nobody), *command)
        assert down.returncode == 75, (command, down.stderr)  # EX_TEMPFAIL: worth running again
        assert down.stderr.startswith(f"zzgw {command[0]}: cannot use postgresql+psycopg://zzgw:***@127.0.0.1:")
        assert "Traceback" not in down.stderr and "secret" not in down.stderr
    if not PG_URL:
        pytest.skip("a PostgreSQL that answers and refuses needs ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
    server = make_url(PG_URL)
    for refusing, why in (
        (server.set(database=f"cli_fix_missing_{uuid.uuid4().hex[:8]}"), "does not exist"),
        (server.set(username=f"cli_fix_nobody_{uuid.uuid4().hex[:8]}"), "does not exist"),
    ):
        url = refusing.render_as_string(hide_password=False)
        refused = zzgw(env(tmp_path / "refused", url), "init")
        assert refused.returncode == 2, refused.stderr  # a setting to fix: RestartPreventExitStatus=2
        assert why in refused.stderr and "Traceback" not in refused.stderr


def test_a_database_url_libpq_cannot_take_is_a_setting_to_fix(tmp_path: Path) -> None:
    """A port that is no number had stopped every command with a traceback and exit 1 (which `zzgw audit verify`
    says for a broken chain); an impossible port or an option libpq refuses had exited 75, started again for ever
    (an operations tester). Each is said, with exit 2, for serve and init alike, and for the audit check."""
    server = "postgresql+psycopg://postgres@127.0.0.1"
    for url, why in (
        (f"{server}:notaport/test", "its port must be a number"),
        (f"{server}:99999/test", "its port must be 1-65535, not 99999"),
        (f"{server}/test?sslmode=bogus", 'invalid sslmode value: "bogus"'),
        (f"{server}/test?connect_timeout=abc", "bad value for connect_timeout: 'abc'"),
        (f"{server}/test?target_session_attrs=primari", 'invalid target_session_attrs value: "primari"'),
    ):
        for command in (("init",), ("serve",), ("audit", "verify")):
            result = zzgw(env(tmp_path / "bad", url), *command)
            assert result.returncode == 2, (url, command, result.stderr)
            assert "Traceback" not in result.stderr and why in result.stderr, (command, result.stderr)


def test_a_database_url_with_an_option_libpq_does_not_know_is_one_line_naming_it(tmp_path: Path) -> None:
    """One misspelt query option (``?sslmod=require``; ``?PASSWORD=``, libpq's keys being lower case) had stopped
    ``zzgw init`` and ``zzgw serve`` with exit 1 and a traceback of some 120 lines (psycopg's ProgrammingError
    ``invalid connection option``, met before any connection is tried; a reviewer, R3). It is a setting to fix, said
    in one line that names the option, the URL's password hidden, with exit 2, as an option's bad value is."""
    server = "postgresql+psycopg://zzgw:S3cretV@127.0.0.1:5432/test"
    for url, option, shown in (
        (f"{server}?sslmod=require", "sslmod", "postgresql+psycopg://zzgw:***@127.0.0.1:5432/test?sslmod=require"),
        (f"{server}?sslmode=disable&PASSWORD=S3cretQ", "PASSWORD",
         "postgresql+psycopg://zzgw:***@127.0.0.1:5432/test?sslmode=disable&PASSWORD=***"),
    ):  # fmt: skip
        for command in (("init",), ("serve",), ("audit", "verify")):
            result = zzgw(env(tmp_path / "bad", url), *command)
            assert result.returncode == 2, (url, command, result.stderr)
            assert result.stderr == (
                f'zzgw {command[0]}: cannot use {shown}: invalid connection option "{option}"\n'
            ), (command, result.stderr)
            assert "S3cret" not in result.stdout + result.stderr


def test_audit_refusals_says_there_are_none(data_dir: Path) -> None:
    none = zzgw(env(data_dir, ""), "audit", "refusals")
    assert (none.returncode, none.stdout) == (0, "")  # a script reading the list reads none
    assert none.stderr.startswith("zzgw audit refusals: 审计记录中没有因用途被拒绝的调用（no call refused for its use")
    assert "NOT_MATTER_DEPARTMENT, NOT_USED_BY_MATTER" in none.stderr


@pytest.mark.parametrize("kind", backend_params())
def test_a_store_of_another_schema_is_said_and_init_upgrades_only_when_alone(
    data_dir: Path, tmp_path: Path, kind: str
) -> None:
    """New code on a store not yet upgraded had served and died at its first query with an SQL traceback, exit 1
    (`zzgw audit verify`'s 1 says BROKEN); a store newer than the code had been served as if it were its own, and
    `zzgw init` had stopped with Alembic's traceback; and init had upgraded a PostgreSQL store while an old replica
    still wrote to it (an upgrade tester). Each is one line with exit status 2 now."""
    import psycopg

    from gateway.store.database import schema_revisions

    head, previous = schema_revisions()[-1], schema_revisions()[-2]
    data_dir = no_store_reached(data_dir, tmp_path)
    with empty_database(kind, tmp_path) as url:
        label = make_url(url).render_as_string(hide_password=True)
        made = zzgw(env(data_dir, url), "init")
        assert made.returncode == 0, made.stderr
        engine = create_engine(url)
        try:
            downgrade(url, previous)  # the store as the previous version left it
            older = (
                f"zzgw: configuration error: the database {label} is at schema {previous}, and this code needs "
                f"{head}: run `zzgw init` to upgrade it, with every gateway process of the old version stopped "
                "(docs/operations.md: Upgrades)\n"
            )
            for command_line in (("audit", "verify"), ("members",), ("serve",)):
                result = zzgw(env(data_dir, url), *command_line)
                assert (result.returncode, result.stderr) == (2, older), command_line
            if kind == "postgresql":
                # an old replica still connected: init waits for it to go, and upgrades only then; another process of
                # this code (another replica's init waiting for this one) is none of them (found in review)
                plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
                same = psycopg.connect(plain, application_name=f"zzgw/{head}/otherhost/4343")
                old = psycopg.connect(plain, application_name=f"zzgw/{previous}/otherhost/4242")
                waiting = "1 other gateway process is connected to the database: waiting up to 60 s"
                try:
                    # the old one goes once init says it waits for it (a timer of 3 s from init's start had run out
                    # before a loaded machine's init looked: it saw no one to wait for, and said nothing)
                    upgraded = _init_doing_when_said(env(data_dir, url), waiting, old.close)
                finally:
                    same.close()
                    old.close()
                assert upgraded.returncode == 0, upgraded.stderr
                assert waiting in upgraded.stderr
                downgrade(url, previous)
            upgraded = zzgw(env(data_dir, url), "init")
            assert upgraded.returncode == 0, upgraded.stderr
            assert f"at schema {head} (upgraded from {previous})," in upgraded.stdout  # said as an upgrade
            again = zzgw(env(data_dir, url), "init")
            assert f"at schema {head}," in again.stdout and "upgraded" not in again.stdout
            assert zzgw(env(data_dir, url), "members").returncode == 0

            with engine.begin() as connection:  # as a newer zzgw would leave it
                connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            newer = (
                f"zzgw: configuration error: the database {label} is at schema 9999, newer than this code's {head}: "
                "a newer zzgw upgraded it; run that version, or restore the backup taken before the upgrade "
                "(docs/operations.md: Upgrades)\n"
            )
            for command_line in (("init",), ("audit", "verify"), ("serve",)):
                result = zzgw(env(data_dir, url), *command_line)
                assert (result.returncode, result.stderr) == (2, newer), command_line
        finally:
            engine.dispose()


def test_init_refuses_to_upgrade_under_processes_that_stay(tmp_path: Path) -> None:
    """Processes of the old schema still connected once init has waited for them: refused, naming them and how to end
    a session a gone host left; a real serving process names its connections (pool and change listener alike), so
    that another version's init sees it (found in review: only a name made by the test had been seen)."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
    import psycopg

    from gateway.config import ConfigError, Settings
    from gateway.server import Gateway, check_alone
    from gateway.store.database import Database, schema_revisions

    head = schema_revisions()[-1]
    with empty_database("postgresql", tmp_path) as url:
        data_dir = tmp_path / "var"
        environment = env(data_dir, url, ZZGW_MODE="dev")
        made = zzgw(environment, "init")
        assert made.returncode == 0, made.stderr
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        gateway = Gateway.open(Settings.load(env=environment))
        try:
            with psycopg.connect(plain, application_name="zzgw/0028/gone-host/77"):
                said: list[str] = []
                with pytest.raises(ConfigError) as refused:
                    check_alone(gateway, "0028", wait=0.5, say=said.append)
            assert said == ["1 other gateway process is connected to the database: waiting up to 0.5 s"]
            assert "zzgw/0028/gone-host/77 from" in str(refused.value) and "pg_terminate_backend" in str(refused.value)
            # a session of another role that names itself so is no gateway of this store: any role may connect and
            # name itself, and had held an upgrade back (a security tester); it is said as an unnamed one
            role = f"cli_fix_role_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            try:
                stranger = make_url(plain).set(username=role).render_as_string(hide_password=False)
                with psycopg.connect(stranger, application_name="zzgw/0028/evil-host/4242"):
                    check_alone(gateway, "0028", wait=0.5, say=said.append)  # not refused
                    assert gateway.db.unnamed_connections() == ["1 from 127.0.0.1"]
                # its backend ends after the client has closed: gone before the next check counts the sessions (a
                # full run had counted it there)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    with admin.connect() as connection:
                        if not connection.execute(
                            text("SELECT 1 FROM pg_stat_activity WHERE application_name = 'zzgw/0028/evil-host/4242'")
                        ).first():
                            break
                    time.sleep(0.05)
                # a login role whose sessions switch to an owner role (ALTER ROLE … SET role): its gateways are still
                # seen, by the login role PostgreSQL names them under (current_user had hidden them; found in review)
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE ROLE "{role}_owner" NOLOGIN'))
                    connection.execute(text(f'GRANT "{role}_owner" TO "{role}"'))
                    connection.execute(text(f'ALTER ROLE "{role}" SET role = "{role}_owner"'))
                login = make_url(url).set(username=role).render_as_string(hide_password=False)
                database = Database.connect(login)
                try:
                    with psycopg.connect(stranger, application_name="zzgw/0028/old-replica/4343"):
                        assert [n.split(" from ")[0] for n in database.other_gateways()] == [
                            "zzgw/0028/old-replica/4343"
                        ]
                finally:
                    database.engine.dispose()
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
                    connection.execute(text(f'DROP ROLE IF EXISTS "{role}_owner"'))
                admin.dispose()
        finally:
            gateway.close()

        serving = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"], env=environment, cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        database = Database.connect(url)
        try:
            assert serving.stdout is not None
            for line in serving.stdout:
                if "listening" in line:
                    break
            deadline = time.monotonic() + 20
            mine = f"zzgw/{head}/%/{serving.pid}"
            count = text(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND application_name LIKE :n"
            )
            named: list[str] = []
            listening = 0
            while time.monotonic() < deadline and not (named and listening):
                named = [n for n in database.other_gateways() if f"/{serving.pid} " in n]
                with database.engine.connect() as connection:
                    listening = connection.execute(count, {"n": mine}).scalar() or 0
                time.sleep(0.2)
            assert named and all(n.startswith(f"zzgw/{head}/") for n in named), database.other_gateways()
            assert listening == 1  # the change listener is named too
            assert database.other_gateways(but_schema=head) == []  # of this code: not in an upgrade's way
        finally:
            serving.terminate()
            serving.wait(30)
            database.engine.dispose()


def test_the_switch_to_production_waits_for_every_gateway_of_the_store_to_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`zzgw init --switch-to-production` with a dev `zzgw serve` still connected to the store: refused once it has
    had its time to go (here 0.5 s), naming it, and nothing switched; with it stopped, switched. A dev fleet's store
    had been switched under its running replicas, which went on taking bearer tokens on it (a multi-replica tester,
    D1)."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
    import gateway.server
    from gateway.config import ConfigError, Settings
    from gateway.server import initialise
    from gateway.store.database import Database

    with empty_database("postgresql", tmp_path) as url:
        environment = env(tmp_path / "var", url, ZZGW_MODE="dev")
        made = zzgw(environment, "init")
        assert made.returncode == 0, made.stderr
        production = Settings.load(env={**environment, "ZZGW_MODE": "production"})
        monkeypatch.setattr(gateway.server, "ALONE_WAIT_SECONDS", 0.5)
        serving = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"], env=environment, cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        database = Database.connect(url)
        try:
            wait_serving(environment["ZZGW_GRPC_ADDR"], process=serving)
            with pytest.raises(ConfigError) as refused:
                initialise(production, switch_to_production=True)
            said = str(refused.value)
            assert f"/{serving.pid} from" in said, said
            assert "stop every gateway of the store before `zzgw init --switch-to-production`" in said
            assert "nothing was changed" in said
            with database.unit_of_work() as uow:
                assert uow.facts.get("mode") is None  # still a dev store
        finally:
            serving.terminate()
            serving.wait(30)
        try:
            assert initialise(production, switch_to_production=True).switched_to_production
            with database.unit_of_work() as uow:
                assert uow.facts.get("mode") == "production"
        finally:
            database.engine.dispose()


def test_init_says_who_holds_the_lock_its_schema_change_waits_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A transaction left open in psql on a table the upgrade alters had held `zzgw init` for ever, every query on the
    table queued behind it (an upgrade tester): the change waits MIGRATION_LOCK_SECONDS (here 1 s), then init says
    which sessions hold locks, and changes nothing; unnamed connections are said before the upgrade."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
    import psycopg

    from gateway.config import ConfigError, Settings
    from gateway.server import initialise
    from gateway.store import database
    from gateway.store.database import schema_revisions

    # before 0031, which alters the members table on PostgreSQL (0032 changes nothing there, and takes no lock)
    previous = schema_revisions()[schema_revisions().index("0031") - 1]
    with empty_database("postgresql", tmp_path) as url:
        environment = env(tmp_path / "var", url, ZZGW_MODE="dev")
        made = zzgw(environment, "init")
        assert made.returncode == 0, made.stderr
        downgrade(url, previous)
        monkeypatch.setattr(database, "MIGRATION_LOCK_SECONDS", 1.0)
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        settings = Settings.load(env=environment)
        with psycopg.connect(
            plain
        ) as psql:  # no name, a transaction open on every table, the one the upgrade alters too
            tables = psql.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            ).fetchall()
            for (table,) in tables:
                psql.execute(f'SELECT 1 FROM "{table}" LIMIT 0')
            with pytest.raises(ConfigError) as refused:
                initialise(settings)
        said = str(refused.value)
        assert "waited 1 s for a lock other sessions hold (pid" in said and "no name, idle in transaction" in said
        assert "zzgw/" not in said  # init's own connections (its setup lock) are none of them (found in review)
        assert "nothing was changed" in said
        warned = " ".join(capsys.readouterr().err.split())
        assert "warning: connections that name no application, or name themselves as a gateway under another" in warned
        assert "database role, are open to the database (1 from" in warned
        with create_engine(url).connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == previous
        upgraded = zzgw(environment, "init")  # the session gone: upgraded
        assert upgraded.returncode == 0, upgraded.stderr


FULL_DISK = """
import sqlite3, sys
from sqlalchemy import Engine, event

@event.listens_for(Engine, "connect")
def _no_page_more(connection, _record):
    if isinstance(connection, sqlite3.Connection):  # the file may not grow: SQLite's own "database or disk is full"
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")

from gateway.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""``zzgw ARGS`` on a disk with no room left for the store: SQLite refuses every page more than the file has now
(``max_page_count``) with the error of a full disk, SQLITE_FULL, and its rollback."""


def test_an_upgrade_that_meets_a_full_disk_says_nothing_was_changed_and_exits_75(tmp_path: Path) -> None:
    """A schema change on a full disk had died with a traceback of 100 lines ending in Alembic's "no such table:
    _alembic_tmp_license_documents" and exit 1, though it had changed nothing (an upgrade tester's D1): one line now,
    that says so and what to do, exit 75 (run it again), and the next init upgrades the store intact."""
    from gateway.store.database import schema_revisions

    directory = tmp_path / "var"
    environment = env(directory, "")
    assert zzgw(environment, "init").returncode == 0
    store = directory / "zzgw.db"
    downgrade(f"sqlite:///{store}", "0020")  # before 0021 rebuilds license_documents whole (a batch migration)
    (directory / "schema-reached").unlink()  # a version then recorded no schema beside its keys
    with contextlib.closing(sqlite3.connect(store)) as connection:
        connection.execute("VACUUM")  # no free page left in the file for the rebuilt table to take
    twice = 2 * store.stat().st_size / 1e6
    full = run_python(FULL_DISK, "init", env=environment)
    assert (full.returncode, full.stderr) == (
        75,
        f"zzgw init: the disk is full (on the volume of {store} or SQLite's temporary directory): the schema change "
        "rolled back, nothing was changed, the store is still at schema 0020; free space (an upgrade rebuilds tables "
        f"whole: allow twice the store file's size, {twice:,.1f} MB) and run `zzgw init` again (docs/operations.md: "
        "Upgrades)\n",
    ), full.stderr
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("0020",)]
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    upgraded = zzgw(environment, "init")  # space freed
    assert upgraded.returncode == 0 and f"at schema {schema_revisions()[-1]}" in upgraded.stdout, upgraded.stderr
    assert zzgw(environment, "audit", "verify").returncode == 0


def test_a_disk_full_met_while_alembic_cleans_up_is_the_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alembic's batch migration, failing, drops its copy of the table, and that drop's "no such table" is what is
    raised, the full disk only the error it was handling (as the upgrade tester's traceback ended)."""
    from alembic import command
    from sqlalchemy.exc import OperationalError

    from gateway.store.database import Database, NoRoomToMigrate

    def upgrade(*_args: object) -> None:
        try:
            raise OperationalError(
                "DROP TABLE license_documents", {}, sqlite3.OperationalError("database or disk is full")
            )
        except OperationalError:
            raise OperationalError(
                "DROP TABLE _alembic_tmp_license_documents",
                {},
                sqlite3.OperationalError("no such table: _alembic_tmp_license_documents"),
            ) from None

    db = Database.connect(f"sqlite:///{tmp_path / 'zzgw.db'}")
    try:
        monkeypatch.setattr(command, "upgrade", upgrade)
        with pytest.raises(NoRoomToMigrate, match=r"nothing was made, the database has no schema yet; free space"):
            db.migrate()
    finally:
        db.dispose()


def restored_beside_a_wal_of_another_state(directory: Path) -> Path:
    """A store of `zzgw init`, restored from an online copy (the backup API) beside the zzgw.db-wal that a gateway
    killed later left: the WAL of records appended after a checkpoint that the copy does not hold, as the restore
    that skips Restoring's "delete zzgw.db-wal and zzgw.db-shm first" leaves it (an upgrade tester's D4)."""
    from sqlalchemy import Engine, event

    from gateway.config import Settings
    from gateway.server import Gateway
    from tests.test_audit_head import entry as audit_entry

    store = directory / "zzgw.db"
    copy = directory.parent / "copy.db"
    with contextlib.closing(sqlite3.connect(store)) as live, contextlib.closing(sqlite3.connect(copy)) as backup:
        live.backup(backup)

    def no_checkpoint(connection: object, _record: object) -> None:
        if isinstance(connection, sqlite3.Connection):  # a WAL that only a crash leaves as long
            connection.execute("PRAGMA wal_autocheckpoint = 0")

    event.listen(Engine, "connect", no_checkpoint)
    settings = Settings.load(None)
    gateway = Gateway.open(settings)
    try:
        assert gateway.audit is not None

        def append(first: int, count: int) -> None:
            entries = [audit_entry(n) for n in range(first, first + count)]
            with gateway.db.appending() as work:
                gateway.audit.append(work, entries)  # type: ignore[union-attr]
                work.commit()

        for group in range(10):
            append(group * 200, 200)
        with contextlib.closing(sqlite3.connect(store)) as checkpointing:
            checkpointing.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file holds these, the copy does not
        for group in range(10, 20):
            append(group * 200, 200)
        wal = (directory / "zzgw.db-wal").read_bytes()  # as a kill -9 leaves it
    finally:
        gateway.close()
        event.remove(Engine, "connect", no_checkpoint)
    for name in ("zzgw.db-wal", "zzgw.db-shm"):
        (directory / name).unlink(missing_ok=True)
    store.write_bytes(copy.read_bytes())
    (directory / "zzgw.db-wal").write_bytes(wal)
    return store


def test_a_store_restored_beside_a_wal_of_another_state_is_refused_as_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a store is damaged; `zzgw init` had said initialised (exit 0), `zzgw serve` ready, then INTERNAL from its
    ~100th call, and `zzgw audit verify` had called it an audit break, TRUNCATED (an upgrade tester's D4). Init
    refuses it now, saying what to do, exit 2, and again when run again; audit verify says the file is damaged."""
    directory = tmp_path / "var"
    environment = env(directory, "")
    assert zzgw(environment, "init").returncode == 0
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    store = restored_beside_a_wal_of_another_state(directory)
    damaged = re.compile(
        rf"zzgw (init|audit): the store file {re.escape(str(store))} is damaged \(.+\): restore it again from the "
        r"backup, deleting zzgw.db-wal and zzgw.db-shm beside it first \(docs/operations.md, Restoring\)\n"
    )
    for _ in range(2):  # the check leaves the WAL where it was: not read into the file for good
        refused = zzgw(environment, "init")
        assert refused.returncode == 2 and damaged.fullmatch(refused.stderr), refused.stderr
    verified = zzgw(environment, "audit", "verify")  # here the chain's read meets the damage: SQLite's "malformed"
    assert verified.returncode == 2 and "damaged" in verified.stderr, (verified.stdout, verified.stderr)
    assert "TRUNCATED" not in verified.stdout + verified.stderr


def test_a_database_restored_without_its_data_directory_is_sent_to_restoring(tmp_path: Path) -> None:
    """`zzgw serve` had said to run `zzgw init`, and init had pointed at adding replicas only: the operator who
    restored the database alone went in a circle (an upgrade tester's D7). Both name Restoring now."""
    first = tmp_path / "first"
    dev = {**env(first, ""), "ZZGW_MODE": "dev"}
    del dev["ZZGW_KEY_PASSPHRASE"]
    assert zzgw(dev, "init").returncode == 0
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "zzgw.db").write_bytes((first / "zzgw.db").read_bytes())
    for command in ("serve", "init"):
        refused = zzgw({**dev, "ZZGW_DATA_DIR": str(restored)}, command)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, (command, refused.stderr)
        assert "docs/operations.md, Restoring" in refused.stderr, (command, refused.stderr)


def test_init_waits_for_and_refuses_unnamed_connections_of_its_role_on_a_store_below_0029(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store below schema 0029 is served only by versions that name no connection: init had only warned of such
    connections while it upgraded, and an old process left serving wrote on the new schema, its audit records making
    the trail UNVOUCHED_RECORDS for good (a reviewer of upgrades, R3). Those of the gateway's role are waited for as
    named ones (here 0.5 s), then refused, nothing changed; `--despite-unnamed-connections` upgrades with them open."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
    import psycopg

    from gateway import server
    from gateway.config import ConfigError, Settings

    with empty_database("postgresql", tmp_path) as url:
        data = tmp_path / "var"
        environment = env(data, url, ZZGW_MODE="dev")
        made = zzgw(environment, "init")
        assert made.returncode == 0, made.stderr
        downgrade(url, "0021")  # as a version that names no connection left it
        (data / "schema-reached").unlink()  # a version that recorded none
        monkeypatch.setattr(server, "ALONE_WAIT_SECONDS", 0.5)
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain):  # the gateway's role, no application named: an old gateway's, as far as init sees
            with pytest.raises(ConfigError) as refused:
                server.initialise(Settings.load(env=environment))
            said = str(refused.value)
            opened = "is at schema 0021 and connections of the gateway's role that name no application are open to it"
            assert opened in said
            assert "(1 connection naming no application from 127.0.0.1)" in said and "UNVOUCHED_RECORDS" in said
            assert "`zzgw init --despite-unnamed-connections`" in said and "nothing was changed" in said
            waited = " ".join(capsys.readouterr().err.split())
            assert "(1 connection naming no application from 127.0.0.1): waiting up to 0.5 s for them to go" in waited
            found = create_engine(url)
            try:
                with found.connect() as connection:
                    assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0021"
            finally:
                found.dispose()
            upgraded = zzgw(environment, "init", "--despite-unnamed-connections")
            assert upgraded.returncode == 0, upgraded.stderr
            assert "(upgraded from 0021)" in upgraded.stdout, upgraded.stdout
            assert "warning: connections that name no application" in " ".join(upgraded.stderr.split())
        verified = zzgw(environment, "audit", "verify")
        assert verified.returncode == 0, (verified.stdout, verified.stderr)
