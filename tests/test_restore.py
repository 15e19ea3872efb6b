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
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import closing
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine, make_url, text

from adapters.client import MemberCredentials, connect
from gateway.store.database import schema_revisions
from signing.pki import CertificateAuthority, Issued
from tests.api.test_mtls import reason
from tests.commands import run_zzgw
from tests.conftest import MARKET, PG_URL, TAX
from tests.test_cli_store_checks import downgrade, env, tables, zzgw

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


def sqlite_backup_methods() -> list[str]:
    """The commands operations.md's Taking a backup lists for a SQLite copy taken online, in its order: each item's
    last code span, as an operator copies it."""
    page = OPERATIONS.read_text(encoding="utf-8")
    section = page[page.index("### Taking a backup") :]
    section = section[section.index("**SQLite.**") : section.index("**PostgreSQL.**")]
    items = re.findall(r"^- (.*?)(?=^- |^$)", section, flags=re.M | re.S)
    return [re.findall(r"`([^`]+)`", item)[-1] for item in items]


def filled_store(data_dir: Path, megabytes: int) -> Path:
    """A gateway's SQLite store made by ``zzgw init`` in ``data_dir``, grown by ``megabytes`` of rows in a table of
    its own (a store in use is gigabytes), checkpointed: its WAL mode kept, as the gateway leaves it."""
    assert zzgw(env(data_dir, ""), "init").returncode == 0
    store = data_dir / "zzgw.db"
    with closing(sqlite3.connect(store)) as connection, connection:
        connection.execute("CREATE TABLE zz_filler (id INTEGER PRIMARY KEY, b BLOB)")
        connection.executemany("INSERT INTO zz_filler (b) VALUES (?)", [(bytes(4000),)] * (megabytes * 250))
        connection.execute("CREATE TABLE zz_commits (id INTEGER PRIMARY KEY)")
    with closing(sqlite3.connect(store)) as connection:
        assert connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    return store


COMMITS_WHILE_COPYING = 200_000
"""The most commits another connection makes while a documented backup runs: a gateway commits at every verification
(its receipt and access record). Of the 40 MB store here, ``VACUUM INTO`` had finished within about 7 500 of them and
the Python one-liner (its interpreter's start included) within 20 000; the sqlite3 shell's ``.backup``, which the
page listed first, starts again at each commit and had not finished after 100 000 (a reviewer, R1)."""


@pytest.mark.parametrize(
    "command", sqlite_backup_methods(), ids=[f"method{n}" for n in range(1, len(sqlite_backup_methods()) + 1)]
)
def test_each_documented_sqlite_backup_finishes_while_the_store_takes_commits(tmp_path: Path, command: str) -> None:
    """Each copy the page gives for a running gateway finishes however busy it is, and is one snapshot: the sqlite3
    shell's ``.backup``, listed first, copies 100 pages at a time and starts again from the first whenever another
    connection commits in between, so on a busy gateway it ran for ever (a nightly job killed by its timeout leaving
    a partial file and no backup) (a reviewer, R1)."""
    store = filled_store(tmp_path / "var", 40)
    (tmp_path / "backups").mkdir()
    made = [0]
    stop = threading.Event()

    def commit_continuously() -> None:
        with closing(sqlite3.connect(store, timeout=30)) as writer:
            writer.execute("PRAGMA synchronous = OFF")  # many commits, not a test of the disk
            while not stop.is_set() and made[0] < COMMITS_WHILE_COPYING:
                writer.execute("INSERT INTO zz_commits DEFAULT VALUES")
                writer.commit()
                made[0] += 1

    writing = threading.Thread(target=commit_continuously)
    writing.start()
    copying: subprocess.Popen[str] | None = None
    try:
        while made[0] < 10 and writing.is_alive():
            time.sleep(0.001)
        before = made[0]
        copying = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", command.replace("/backups/", f"{tmp_path}/backups/")],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        while copying.poll() is None and writing.is_alive():
            time.sleep(0.005)
        after, finished = made[0], copying.poll() is not None
    finally:
        stop.set()
        writing.join()
        if copying is not None and copying.poll() is None:
            copying.kill()
        if copying is not None:
            _, failed = copying.communicate()
    assert finished, f"{command}: still copying after {COMMITS_WHILE_COPYING} commits"
    assert copying.returncode == 0, (command, failed)
    assert after > before, "no commit was made while copying: the test proved nothing"
    (copy,) = (tmp_path / "backups").iterdir()
    with closing(sqlite3.connect(f"file:{copy}?immutable=1", uri=True)) as copied:
        assert copied.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copied.execute("SELECT count(*) FROM zz_filler").fetchone() == (10_000,)
        # one snapshot, taken while the copy ran
        assert before <= copied.execute("SELECT count(*) FROM zz_commits").fetchone()[0] <= after


def sqlite_copy_checks() -> list[str]:
    """The commands operations.md's Taking a backup gives to check a SQLite copy (``copy.db``), in its order."""
    page = OPERATIONS.read_text(encoding="utf-8")
    section = page[page.index("### Taking a backup") :]
    section = section[section.index("**SQLite.**") : section.index("**PostgreSQL.**")]
    return [span for span in re.findall(r"`([^`]+)`", section) if span.startswith("sqlite3 ") and "copy.db" in span]


def test_the_documented_check_of_a_copy_writes_nothing_beside_it_and_reads_a_read_only_archive(tmp_path: Path) -> None:
    """The page's check of a copy, run on each copy it says how to take: the copy ``backup()`` makes is in WAL mode,
    so `sqlite3 -readonly copy.db …`, as the page had it, left ``copy.db-wal`` and ``copy.db-shm`` beside the archive,
    and in a directory the checking user may not write to it failed (`unable to open database file`) instead of
    saying ``ok`` (a reviewer, R3). The archive is played by ``chattr +i`` on the directory and the copy, as the
    store's tests play a read-only volume."""
    store = filled_store(tmp_path / "var", 1)
    revision = schema_revisions()[-1]
    checks = sqlite_copy_checks()
    assert [check.split('"')[-2] for check in checks] == [
        "PRAGMA integrity_check",
        "SELECT version_num FROM alembic_version; SELECT count(*) FROM licenses",
    ]
    said = ["ok\n", f"{revision}\n0\n"]
    archives = []
    for number, method in enumerate(sqlite_backup_methods(), start=1):
        archive = tmp_path / f"archive{number}"
        archive.mkdir()
        taken = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", method.replace("/backups/", f"{archive}/")],
            cwd=store.parent.parent, capture_output=True, text=True,
        )  # fmt: skip
        assert taken.returncode == 0, (method, taken.stderr)
        (copy,) = archive.iterdir()
        copy.rename(archive / "copy.db")
        archives.append(archive)

    def check_all() -> None:
        for archive in archives:
            for check, answer in zip(checks, said, strict=True):
                shell = ["bash", "-euo", "pipefail", "-c", check]
                done = subprocess.run(shell, cwd=archive, capture_output=True, text=True)
                assert (done.returncode, done.stdout, done.stderr) == (0, answer, ""), (archive.name, check)
                assert sorted(path.name for path in archive.iterdir()) == ["copy.db"], (archive.name, check)

    check_all()  # nothing is left beside the archive
    files = [str(path) for archive in archives for path in (archive / "copy.db", archive)]
    if subprocess.run(["chattr", "+i", *files], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not allowed here (not root, or a file system without it)")
    try:
        check_all()  # and an archive no one may write to is checked all the same
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


def copy_database(live: Path, copy: Path) -> None:
    """The database's copy, taken online with SQLite's backup, as the page says (the first of the two copies)."""
    with sqlite3.connect(f"file:{live / 'zzgw.db'}?mode=ro", uri=True) as store:
        store.backup(sqlite3.connect(copy))


def restore(live: Path, copy: Path, restored: Path) -> dict[str, str]:
    """The settings of ``restored``: the data directory ``live`` as it is now (the second copy), with the database's
    ``copy`` put in place of its own."""
    shutil.copytree(live, restored, ignore=shutil.ignore_patterns("zzgw.db*"))
    shutil.copyfile(copy, restored / "zzgw.db")
    (restored / "zzgw.db").chmod(0o600)
    return env(restored, "")


def answers(restored: dict[str, str], departments: dict[str, tuple[MemberCredentials, str | None]]) -> None:
    """``zzgw serve`` on the ``restored`` store answers each department's call with its certificate as said: None for
    an answer, else the reason of the UNAUTHENTICATED it is refused with."""
    from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc

    server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=restored, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        ready(restored["ZZGW_HTTP_ADDR"], server)
        for credentials, answered in departments.values():
            with connect(restored["ZZGW_GRPC_ADDR"], credentials) as channel:
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


def test_a_member_revoked_between_the_two_copies_stays_revoked(tmp_path: Path) -> None:
    """Revoked after the database's copy and before the data directory's, as the page's order allows: `zzgw init`
    had told the operator to copy back a certificate the backup holds only as the pair `--revoke` put aside, and
    `zzgw serve` had started and let the member's own certificate in again (a disaster-recovery tester)."""
    live = env(tmp_path / "var", "")
    assert zzgw(live, "init").returncode == 0
    departments = {code: MemberCredentials.production(tmp_path / "var", code) for code in (TAX, MARKET)}
    copy_database(tmp_path / "var", tmp_path / "copy.db")
    assert zzgw(live, "members", "--revoke", TAX).returncode == 0
    restored = restore(tmp_path / "var", tmp_path / "copy.db", tmp_path / "restored")

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

    again = zzgw(restored, "members", "--revoke", TAX)  # the remedy
    assert again.returncode == 0, again.stderr
    done = zzgw(restored, "init")
    assert done.returncode == 0, done.stderr
    assert f"1 member of the file is revoked and was given no credential ({TAX})" in done.stderr
    assert not (members / f"{TAX}.pem").exists() and not (members / f"{TAX}.key").exists()  # none given, indeed
    answers(restored, {TAX: (departments[TAX], "CREDENTIAL_REVOKED"), MARKET: (departments[MARKET], None)})


def test_a_member_restored_between_the_two_copies_keeps_its_new_pair(tmp_path: Path) -> None:
    """Revoked, restored and given a new pair between the two copies: the remedy the refusal gave, `--revoke`, had
    moved the new pair aside as well, never compromised and never registered in the restored store, said it was
    never trusted again, and left the department with none (a reviewer). `--revoke` moves aside only a certificate
    the store knows, and `--restore` then `zzgw init` register the new one."""
    live = env(tmp_path / "var", "")
    assert zzgw(live, "init").returncode == 0
    revoked = MemberCredentials.production(tmp_path / "var", TAX)
    copy_database(tmp_path / "var", tmp_path / "copy.db")
    for step in (("members", "--revoke", TAX), ("members", "--restore", TAX), ("init",)):
        assert zzgw(live, *step).returncode == 0
    handed = MemberCredentials.production(tmp_path / "var", TAX)
    assert handed.cert_pem != revoked.cert_pem
    restored = restore(tmp_path / "var", tmp_path / "copy.db", tmp_path / "restored")
    members = tmp_path / "restored" / "pki" / "members"
    (aside,) = members.glob(f"{TAX}.revoked-*.pem")

    refused = zzgw(restored, "init")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == (
        f"zzgw: configuration error: the client certificate the store has registered for {TAX} is in this data "
        f"directory only as one `zzgw members --revoke` took ({aside}): revoked after the database's copy was taken, "
        "it is trusted again by the database restored from that copy; revoke it again, `zzgw members --revoke "
        f"{TAX}`, then run `zzgw init`; {members / f'{TAX}.pem'} here is another client certificate, issued after "
        "that revocation: `zzgw members --revoke` leaves it in place, and if the member was restored since the copy, "
        f"`zzgw members --restore {TAX}` before that `zzgw init` registers it (docs/operations.md, Restoring)"
    )

    again = zzgw(restored, "members", "--revoke", TAX)
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines()[-1].endswith(
        f"and `zzgw init` gives it none until `zzgw members --restore`; {members / f'{TAX}.pem'} is another client "
        f"certificate of {TAX} than the one revoked, left in place: if it was issued when the member was restored "
        f"since the database's copy (docs/operations.md, Restoring), `zzgw members --restore {TAX}`, then `zzgw init`, "
        "register it; else move it and its key aside first, and that init issues a new pair"
    )
    assert "never trusted again" not in again.stderr
    assert sorted(members.glob(f"{TAX}.revoked-*")) == [aside.with_suffix(".key"), aside]  # no other pair aside
    assert MemberCredentials.production(tmp_path / "restored", TAX) == handed

    assert zzgw(restored, "members", "--restore", TAX).returncode == 0
    done = zzgw(restored, "init")
    assert done.returncode == 0, done.stderr
    assert "revoked and were given no credential" not in done.stderr
    assert MemberCredentials.production(tmp_path / "restored", TAX) == handed  # registered as it is, none issued
    # the pair revoked is said revoked, not replaced as after a renewal (a023938)
    answers(restored, {"handed": (handed, None), "revoked": (revoked, "CREDENTIAL_REVOKED")})


def test_another_departments_certificate_in_place_of_the_members_is_moved_aside_not_registered(
    tmp_path: Path,
) -> None:
    """Between the two copies, the member's CODE.pem replaced by another department's certificate of the member CA
    (its copy from before a renewal, say): `--revoke` had left it in place as the member's later pair, and the
    `--restore` and `zzgw init` it recommended registered it as the member's, the other department then calling as
    it (a reviewer). The refusal does not name it as the member's, `--revoke` moves it aside, and init issues a new
    pair."""
    live = env(tmp_path / "var", "")
    assert zzgw(live, "init").returncode == 0
    copy_database(tmp_path / "var", tmp_path / "copy.db")
    assert zzgw(live, "members", "--revoke", TAX).returncode == 0
    restored = restore(tmp_path / "var", tmp_path / "copy.db", tmp_path / "restored")
    members = tmp_path / "restored" / "pki" / "members"
    ca = CertificateAuthority.from_issued(Issued.read(tmp_path / "restored" / "pki", "ca"))
    ca.issue_client(code=MARKET, name="济南市市场监督管理局").write(members, TAX)  # MARKET's key, as TAX.pem

    refused = zzgw(restored, "init")
    assert refused.returncode == 2 and "here is another client certificate" not in refused.stderr
    again = zzgw(restored, "members", "--revoke", TAX)
    assert again.returncode == 0, again.stderr
    assert f"was the client certificate of member {MARKET}, not one of {TAX}'s" in again.stderr
    assert "left in place" not in again.stderr and not (members / f"{TAX}.pem").exists()
    assert zzgw(restored, "members", "--restore", TAX).returncode == 0
    done = zzgw(restored, "init")
    assert done.returncode == 0, done.stderr
    issued = x509.load_pem_x509_certificate((members / f"{TAX}.pem").read_bytes())
    assert issued.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == TAX


def restoring_steps() -> dict[str, int]:
    """The numbered steps of operations.md, Restoring, by their bold opening."""
    page = OPERATIONS.read_text(encoding="utf-8")
    section = page[page.index("### Restoring") :]
    section = section[: section.index("\n## ")]
    return {title: int(number) for number, title in re.findall(r"^(\d+)\. \*\*(.+?)\*\*", section, flags=re.M)}


def test_the_documented_order_with_a_copy_from_before_an_upgrade(tmp_path: Path) -> None:
    """The page's steps, in its order, with a database's copy of the schema before this code's: the page had said to
    revoke members and end console tokens again before `zzgw init`, and both commands are refused on a store not yet
    migrated (a reviewer). A member revoked between the two copies is refused by the init that migrates, as step 4
    says; one revoked after both, and a clerk's console token ended since, are taken again after it."""
    steps = restoring_steps()
    assert steps["Run `zzgw init`."] < steps["Revoke again every member revoked since the database's copy"]
    medical = "1137010099370110X6"  # 济南市医疗保障局, revoked after both copies
    live = env(tmp_path / "var", "")
    assert zzgw(live, "init").returncode == 0
    assert zzgw(live, "console-token", MARKET, "--clerk", "窗口01").returncode == 0
    copy_database(tmp_path / "var", tmp_path / "copy.db")
    downgrade(f"sqlite:///{tmp_path / 'copy.db'}", schema_revisions()[-2])  # as the release before had left it
    assert zzgw(live, "members", "--revoke", TAX).returncode == 0
    restored = restore(tmp_path / "var", tmp_path / "copy.db", tmp_path / "restored")

    early = zzgw(restored, "members", "--revoke", medical)  # the page's order before: refused, nothing done
    assert early.returncode == 2 and f"and this code needs {schema_revisions()[-1]}: run `zzgw init`" in early.stderr

    refused = zzgw(restored, "init")  # step 4: it migrates, then refuses the member revoked between the copies
    assert refused.returncode == 2
    assert f"the client certificate the store has registered for {TAX} is in this data directory only" in refused.stderr
    for remedy in (("members", "--revoke", TAX), ("init",)):
        done = zzgw(restored, *remedy)
        assert done.returncode == 0, (remedy, done.stderr)

    members = tmp_path / "restored" / "pki" / "members"
    for step in (("members", "--revoke", medical), ("console-token", MARKET, "--clerk", "窗口01", "--end")):  # step 5
        done = zzgw(restored, *step)
        assert done.returncode == 0, (step, done.stderr)
    assert not (members / f"{medical}.pem").exists() and len(list(members.glob(f"{medical}.revoked-*.pem"))) == 1
    clerks = zzgw(restored, "console-token", MARKET, "--list")
    assert (clerks.returncode, clerks.stdout) == (0, "")
    listed = {line.split("\t")[0]: line.split("\t")[3] for line in zzgw(restored, "members").stdout.splitlines()}
    assert (listed[TAX], listed[medical], listed[MARKET]) == ("revoked", "revoked", "certificate")
