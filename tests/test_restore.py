"""Backup and restore as docs/operations.md says, run as written: the PostgreSQL commands are taken from the page
and run by the shell against a real server under a role that is no superuser (the page's restore had left such a
role an empty database on PostgreSQL 15; a disaster-recovery tester), and a member revoked between the database's
copy and the data directory's stays revoked after the restore (it had been let in again by `zzgw serve`)."""

from __future__ import annotations

import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, make_url, text

from adapters.client import MemberCredentials, connect
from tests.api.test_mtls import reason
from tests.commands import run_zzgw
from tests.conftest import MARKET, PG_URL, TAX
from tests.test_cli_store_checks import env, tables, zzgw

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "docs" / "operations.md"
_SHELL_BLOCK = re.compile(r"^([ \t]*)```sh\n(.*?)^\1```[ \t]*$", flags=re.M | re.S)


def documented(command: str) -> list[str]:
    """The lines of the one ``sh`` block of operations.md that runs ``command``, as an operator copies them."""
    blocks = [
        [line.removeprefix(indent) for line in body.splitlines() if line.strip()]
        for indent, body in _SHELL_BLOCK.findall(OPERATIONS.read_text(encoding="utf-8"))
    ]
    (block,) = [block for block in blocks if any(line.split()[0] == command for line in block)]
    return block


def run_as_written(lines: list[str], cwd: Path, **placeholders: str) -> subprocess.CompletedProcess[str]:
    """The shell runs ``lines`` with the page's placeholders filled in, stopping at the first that fails, as the
    superuser of the tests' PostgreSQL unless a line names another role (the libpq variables name the server)."""
    server = make_url(PG_URL)
    script = "\n".join(lines)
    for placeholder, value in placeholders.items():
        script = re.sub(rf"\b{placeholder}\b", value, script)
    environment = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "PGHOST": server.host or "127.0.0.1",
        "PGPORT": str(server.port or 5432),
        "PGUSER": server.username or "postgres",
        **({"PGPASSWORD": server.password} if server.password else {}),
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=environment, capture_output=True, text=True
    )


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests need ZZGW_TEST_DATABASE_URL or a PostgreSQL at 127.0.0.1:5432")
def test_the_documented_postgresql_backup_and_restore_work_under_the_gateways_own_role(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    role, source, restored, not_its = (f"zzgw_test_{what}_{tag}" for what in ("role", "src", "restored", "notits"))
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))  # no superuser, no CREATEDB
        connection.execute(text(f'CREATE DATABASE "{source}" OWNER "{role}"'))

    def as_role(database: str) -> str:
        return make_url(PG_URL).set(username=role, database=database).render_as_string(hide_password=False)

    try:
        before = env(tmp_path / "var", as_role(source))
        made = zzgw(before, "init")
        assert made.returncode == 0, made.stderr
        members = zzgw(before, "members")
        assert members.returncode == 0, members.stderr

        dumped = run_as_written(documented("pg_dump"), tmp_path, GATEWAY_ROLE=role, DBNAME=source)
        assert dumped.returncode == 0, dumped.stderr
        shutil.copytree(tmp_path / "var", tmp_path / "restored")  # after the database, as the page says
        restore = documented("pg_restore")
        done = run_as_written(restore, tmp_path, GATEWAY_ROLE=role, DBNAME=restored)
        assert done.returncode == 0, done.stderr
        with create_engine(as_role(restored)).connect() as connection:
            owners = connection.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"))
            assert owners.scalars().all() == [role]

        after = env(tmp_path / "restored", as_role(restored))
        for command in (("init",), ("audit", "verify")):
            checked = zzgw(after, *command)
            assert checked.returncode == 0, (command, checked.stderr)
        assert zzgw(after, "members").stdout == members.stdout

        # restored into a database the role does not own: refused whole, nothing left half-made to be taken for a
        # store (without --single-transaction, 109 errors "ignored" and an empty database, exit 1)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{not_its}"'))
        (pg_restore,) = [line for line in restore if line.startswith("pg_restore ")]
        failed = run_as_written([pg_restore], tmp_path, GATEWAY_ROLE=role, DBNAME=not_its)
        assert failed.returncode != 0 and "permission denied for schema public" in failed.stderr
        assert tables(as_role(not_its)) == []
    finally:
        with admin.connect() as connection:
            for database in (source, restored, not_its):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def ready(http_address: str, server: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until ``/readyz`` says ready (a production gateway's gRPC port takes member certificates only)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            with urllib.request.urlopen(f"http://{http_address}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready at {http_address} after {timeout} s")


def test_a_member_revoked_between_the_two_copies_stays_revoked(tmp_path: Path) -> None:
    """Revoked after the database's copy and before the data directory's, as the page's order allows: `zzgw init`
    had told the operator to copy back a certificate the backup holds only as the pair `--revoke` put aside, and
    `zzgw serve` had started and let the member's own certificate in again (a disaster-recovery tester)."""
    from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc

    live = env(tmp_path / "var", "")
    assert zzgw(live, "init").returncode == 0
    departments = {code: MemberCredentials.production(tmp_path / "var", code) for code in (TAX, MARKET)}
    with sqlite3.connect(f"file:{tmp_path / 'var' / 'zzgw.db'}?mode=ro", uri=True) as store:
        store.backup(sqlite3.connect(tmp_path / "copy.db"))  # the database first, online, as the page says
    assert zzgw(live, "members", "--revoke", TAX).returncode == 0
    shutil.copytree(tmp_path / "var", tmp_path / "restored", ignore=shutil.ignore_patterns("zzgw.db*"))
    shutil.copyfile(tmp_path / "copy.db", tmp_path / "restored" / "zzgw.db")
    (tmp_path / "restored" / "zzgw.db").chmod(0o600)

    restored = env(tmp_path / "restored", "")
    members = tmp_path / "restored" / "pki" / "members"
    (aside,) = members.glob(f"{TAX}.revoked-*.pem")
    said = (
        f"zzgw: configuration error: the client certificate the store has registered for {TAX} is in this data "
        f"directory only as one `zzgw members --revoke` took ({aside}): revoked after the database's copy was taken, "
        "it is trusted again by the database restored from that copy; revoke it again, `zzgw members --revoke "
        f"{TAX}`, then run `zzgw init` (docs/operations.md, Restoring)\n"
    )
    for command in ("init", "serve"):
        refused = run_zzgw(command, env=restored, timeout=60)  # a serve that starts is cut short
        assert (refused.returncode, refused.stderr.splitlines(keepends=True)[-1:]) == (2, [said]), refused.stderr
    assert not (members / f"{TAX}.pem").exists()

    again = zzgw(restored, "members", "--revoke", TAX)  # the remedy, before init
    assert again.returncode == 0, again.stderr
    done = zzgw(restored, "init")
    assert done.returncode == 0, done.stderr
    assert f"1 members of the file are revoked and were given no credential ({TAX})" in done.stderr
    assert not (members / f"{TAX}.pem").exists() and not (members / f"{TAX}.key").exists()  # none given, indeed

    server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=restored, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        ready(restored["ZZGW_HTTP_ADDR"], server)
        for code, answered in ((MARKET, None), (TAX, "CREDENTIAL_REVOKED")):  # the departments' own copies
            with connect(restored["ZZGW_GRPC_ADDR"], departments[code]) as channel:
                stub = catalog_pb2_grpc.CatalogServiceStub(channel)
                if answered is None:
                    assert stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=10).license_types
                    continue
                with pytest.raises(grpc.RpcError) as caught:
                    stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=10)
                assert (caught.value.code(), reason(caught.value)) == (grpc.StatusCode.UNAUTHENTICATED, answered)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
