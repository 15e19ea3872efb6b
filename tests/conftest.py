"""Shared fixtures: a real gateway on a real port, on SQLite and (when configured) on PostgreSQL.

PostgreSQL tests run when ``ZZGW_TEST_DATABASE_URL`` is set (CI sets it); each test module gets a database of its own,
created and dropped here. With the variable set and the database down, the tests fail rather than skip.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from adapters.client import MemberCredentials, connect
from adapters.http import HttpServer
from gateway.config import Settings
from gateway.domain.catalog import fingerprint_of
from gateway.domain.model import Clock, Role
from gateway.server import Gateway, build_server, http_app, initialise
from gateway.store.database import Database
from protos.zzgw.v1 import catalog_pb2_grpc, issuance_pb2_grpc
from signing.keys import SoftwareKey
from signing.seal_ca import SealMakerCA
from tests.commands import DEMO_FILES

LOCAL_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str:
    """The PostgreSQL the tests use: ``ZZGW_TEST_DATABASE_URL`` when set (an unreachable one fails the tests rather
    than skipping them; empty: none); unset, this machine's local PostgreSQL if it answers within a second (so a
    plain `make test` runs them where PostgreSQL runs), else none: the PostgreSQL tests skip, saying why."""
    if "ZZGW_TEST_DATABASE_URL" in os.environ:
        return os.environ["ZZGW_TEST_DATABASE_URL"]
    import psycopg

    try:
        psycopg.connect(LOCAL_PG_URL.replace("+psycopg", ""), connect_timeout=1).close()
    except psycopg.Error:
        return ""
    return LOCAL_PG_URL


PG_URL = _postgres_url()
PASSPHRASE = "test-only-passphrase"

# Demo members (gateway/bootstrap/members.json)
MARKET = "11370100993701011T"  # 济南市市场监督管理局: issues 营业执照, 食品生产许可证
POLICE = "1137010099370102XJ"  # 济南市公安局: issues 居民身份证, 户口簿
CIVIL = "113701009937010548"  # 济南市民政局: issues 结婚证
TAX = "11370100993701097M"  # 国家税务总局济南市税务局: consumer only
PORTAL = "12370100993701126X"  # holder portal
ADMIN = "11370100993701134U"  # 济南市大数据局

BUSINESS_LICENSE = "111000009910000354001"
FOOD_PERMIT = "111000009910000354002"
ID_CARD = "11100000991000019E001"
MARRIAGE = "11100000991000043Y001"


@dataclass
class PgDatabase:
    url: str
    admin_url: str
    name: str

    @classmethod
    def create(cls, template: str = "") -> PgDatabase:
        """A new database, a copy of the database ``template`` when named (none may be connected to it)."""
        name = f"zzgw_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        except Exception as exc:
            pytest.fail(f"ZZGW_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", pytrace=False)
        finally:
            admin.dispose()
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        return cls(url=url, admin_url=PG_URL, name=name)

    def drop(self) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()

    def drop_later(self) -> None:
        """``drop`` in ``_Dropper``'s thread: the test goes on meanwhile."""
        _dropper.drop(self)


class _Dropper:
    """Drops the PostgreSQL databases of finished tests and modules in a thread of its own, one after the other,
    and the session waits for the last at its end (``_migrated_templates``). DROP DATABASE waits for a checkpoint of
    the whole cluster, ~0.6 s on average under the suite's writes (up to 3 s): a test process that waited for it
    at each module's and each PostgreSQL test's end spent a tenth of its time there. The databases have names of
    their own (``PgDatabase.create``) that nothing uses after its test; WITH (FORCE) ends any connection left."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[PgDatabase | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failures: list[str] = []
        self._lock = threading.Lock()

    def drop(self, database: PgDatabase) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
                self._thread.start()
        self._queue.put(database)

    def _run(self) -> None:
        while (database := self._queue.get()) is not None:
            try:
                database.drop()
            except Exception as exc:  # said at the session's end
                self._failures.append(f"{database.name}: {exc}")

    def wait(self) -> None:
        """Every database handed over dropped; AssertionError naming any that could not be."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()
        assert not self._failures, f"test databases left behind: {self._failures}"


_dropper = _Dropper()


def backend_params() -> list[object]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not PG_URL,
                    reason="PostgreSQL tests need ZZGW_TEST_DATABASE_URL (e.g. postgresql+psycopg://user@host:5432/db) "
                    "or a PostgreSQL answering at 127.0.0.1:5432 (database test, user postgres)",
                ),
            ],
        ),
    ]


@contextlib.contextmanager
def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``directory``, or a PostgreSQL database made and dropped here."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'zzgw-{uuid.uuid4().hex[:8]}.db'}"
        return
    database = PgDatabase.create()
    try:
        yield database.url
    finally:
        database.drop_later()


class _MigratedTemplates:
    """One store per backend migrated to the newest schema once in this test process, and copied for each test that
    needs a migrated store of its own (``migrated_database``): SQLite's file copied, PostgreSQL's database with
    ``CREATE DATABASE … TEMPLATE``. ``Database.migrate`` of an empty store takes its thirty-odd migrations every
    time (~1 s a store on PostgreSQL), and what it makes is the same each time: the tables, their indexes and
    triggers, and no row but the schema's revision (nothing drawn at random or from the clock)."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._sqlite: Path | None = None
        self._postgres: PgDatabase | None = None

    def sqlite_copy(self, target: Path) -> None:
        if self._sqlite is None:
            self._directory = Path(tempfile.mkdtemp(prefix="zzgw-template-"))
            path = self._directory / "zzgw.db"
            database = Database.connect(f"sqlite:///{path}")
            try:
                database.migrate()
            finally:
                database.dispose()  # the last connection closed: its WAL checkpointed into the file and removed
            assert not path.with_name("zzgw.db-wal").exists()
            self._sqlite = path
        shutil.copy(self._sqlite, target)

    def postgres_copy(self) -> PgDatabase:
        if self._postgres is None:
            template = PgDatabase.create()
            database = Database.connect(template.url)
            try:
                database.migrate()
            finally:
                database.dispose()  # no connection to a template may be open while it is copied
            self._postgres = template
        return PgDatabase.create(template=self._postgres.name)

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.drop()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


_templates = _MigratedTemplates()


@pytest.fixture(scope="session", autouse=True)
def _migrated_templates() -> Iterator[None]:
    """The templates of ``migrated_database`` and ``running``, dropped at the end of the session once every test's
    own database is (``_Dropper``)."""
    yield
    try:
        _dropper.wait()
    finally:
        _templates.close()
        _initialised.close()


def _children(pid: int) -> set[int]:
    """The processes ``pid`` started that are still its children (Linux: every thread's ``children`` list)."""
    found: set[int] = set()
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.update(int(child) for child in listing.read_text().split())
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is still running: a process that exited and is not yet waited for (a zombie) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:160]
    return "?"


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test() -> Iterator[None]:
    """A process a test started (a ``zzgw serve``, a command) ends with the test, however the test ends: one cut short
    by pytest-timeout, or failing between its ``Popen`` and its ``try``, left gateways serving (and loading the machine
    for every later test) until the run ended. What is still running 2 s after the test's own clean-up is killed with
    all it started, and named in a warning. The command runner of ``tests.commands`` (one per test process, started by
    whichever test runs the first command) and what ran before the test (a module's processes) are left alone."""
    me = os.getpid()
    before = _children(me)
    yield
    from tests import commands

    runner = commands._zygote._process.pid if commands._zygote is not None else None
    left = {pid for pid in _children(me) - before if pid != runner and _running(pid)}
    deadline = time.monotonic() + 2
    while left and time.monotonic() < deadline:  # a process told to stop whose test did not wait for it
        time.sleep(0.05)
        left = {pid for pid in left if _running(pid)}
    for pid in left:
        named = _command_line(pid)
        tree = [pid]
        for parent in tree:  # all it started, deepest last, stopped before they can be reparented
            tree.extend(_children(parent))
        for each in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, signal.SIGKILL)
        warnings.warn(f"a process the test started was still running after it, killed: {named}", stacklevel=1)


@contextlib.contextmanager
def migrated_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a store of its own at the newest schema, as ``Database.migrate`` leaves an empty one (a copy of
    ``_MigratedTemplates``'): a SQLite file in ``directory``, or a PostgreSQL database made and dropped here. For a
    test whose subject is not the migrations themselves (``tests/test_migrations.py`` and the upgrade tests run them
    on a ``fresh_database``)."""
    if kind == "sqlite":
        path = directory / f"zzgw-{uuid.uuid4().hex[:8]}.db"
        _templates.sqlite_copy(path)
        yield f"sqlite:///{path}"
        return
    database = _templates.postgres_copy()
    try:
        yield database.url
    finally:
        database.drop_later()


@pytest.fixture(params=backend_params())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store of a test's own, on each backend (a module may define a ``store`` of its own)."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


def catalog_fingerprint(path: Path) -> str:
    """The fingerprint of the catalog file at ``path``, as the store records the one it serves."""
    return fingerprint_of(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(params=backend_params())
def migrated_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A ``Database`` on an empty store of its own, migrated (``migrated_database``), on each backend."""
    with migrated_database(request.param, tmp_path) as url:
        database = Database.connect(url)
        try:
            yield database
        finally:
            database.dispose()


def gateway_key() -> tuple[SoftwareKey, x509.Certificate]:
    """A fresh key with a 核验回执专用章 certificate from a fresh seal-maker CA (receipts, audit checkpoints)."""
    key = SoftwareKey.generate()
    now = dt.datetime.now(dt.UTC)
    certificate = SealMakerCA.create("济南市制章中心", now).issue_seal_certificate(
        issuer_name="证照网关",
        issuer_uscc=TAX,
        seal_name="核验回执专用章",
        public_key=key.public_key_der,
        not_before=now,
        not_after=now + dt.timedelta(days=30),
    )
    return key, certificate


@pytest.fixture(scope="module", params=backend_params())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


def trail_rows(running: RunningGateway, columns: str, where: str, **params: object) -> list[tuple[object, ...]]:
    """The ``columns`` of the audit trail's access records that match ``where`` (bound ``params``), oldest first."""
    query = text(f"SELECT {columns} FROM access_records WHERE {where} ORDER BY seq")
    with running.gateway.db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query, params).all()]


def error_details(error: grpc.RpcError) -> tuple[error_details_pb2.ErrorInfo, list[tuple[str, str]]]:
    """The google.rpc ErrorInfo of a failed call and its BadRequest violations as (field, reason) pairs."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "the error carries no google.rpc.Status"
    info, violations = error_details_pb2.ErrorInfo(), []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(v.field, v.reason) for v in bad.field_violations]
    return info, violations


def descriptions(error: grpc.RpcError) -> dict[tuple[str, str], str]:
    """The BadRequest field violations of a failed call: (field, reason) → description."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: dict[tuple[str, str], str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.update({(v.field, v.reason): v.description for v in bad.field_violations})
    return found


PARTNERS_OPERATOR = "11440100994401040K test-clerk"
"""The acting department and clerk a partner gateway's calls name in tests (``PartnersOperator``)."""


class PartnersOperator(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Names ``PARTNERS_OPERATOR`` in ``x-zzgw-operator`` on a call that names no operator: a partner gateway's
    forwarder names the acting department and clerk on every call (OPERATOR_REQUIRED otherwise)."""

    def _named(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = tuple(details.metadata or ())
        if not any(key in ("x-zzgw-operator", "x-zzgw-operator-bin") for key, _ in metadata):
            details = details._replace(metadata=(*metadata, ("x-zzgw-operator", PARTNERS_OPERATOR)))
        return continuation(details, request)

    intercept_unary_unary = _named
    intercept_unary_stream = _named
    intercept_stream_unary = _named
    intercept_stream_stream = _named


@dataclass
class RunningGateway:
    gateway: Gateway
    server: grpc.Server
    port: int
    tokens: dict[str, str]
    data_dir: Path
    partners: frozenset[str] | None = None
    """The partner gateways among the members, read once (``partner_codes``): a test may make the store unusable
    (its pool held, its role's login revoked) and then open a channel."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def partner_codes(self) -> frozenset[str]:
        """The codes of the partner gateways among the members when first asked (``start_gateway`` asks at once)."""
        if self.partners is None:
            self.partners = frozenset(m.code for m in self.gateway.members.list() if m.has(Role.PARTNER))
        return self.partners

    def channel(self, member: str | None) -> grpc.Channel:
        """A channel whose calls carry ``member``'s dev token (no token for None); a partner gateway's name the
        acting department and clerk (``PartnersOperator``) unless the call names its own."""
        channel = connect(
            self.address, MemberCredentials(code=member or "", token=self.tokens[member] if member else "")
        )
        if member and member in self.partner_codes():
            return grpc.intercept_channel(channel, PartnersOperator())
        return channel

    def issuance(self, member: str | None) -> issuance_pb2_grpc.IssuanceServiceStub:
        return issuance_pb2_grpc.IssuanceServiceStub(self.channel(member))

    def catalog(self, member: str | None) -> catalog_pb2_grpc.CatalogServiceStub:
        return catalog_pb2_grpc.CatalogServiceStub(self.channel(member))

    def stop(self) -> None:
        """Stop serving at once (calls in flight cancelled) and close the gateway (its store, its threads)."""
        self.server.stop(0)
        self.gateway.close()


@contextlib.contextmanager
def http_side(running: RunningGateway) -> Iterator[str]:
    """``running``'s HTTP side (console, partner adapters, certificates, CRLs, metrics) on a free port, over a real
    socket: its base URL, ``http://127.0.0.1:PORT``; stopped after."""
    http = HttpServer(http_app(running.gateway), "127.0.0.1:0")
    http.start()
    try:
        yield f"http://127.0.0.1:{http.port}"
    finally:
        http.stop()


AS_FROM_A_TERMINAL = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
"""The start of a ``python -c`` script for a command a test interrupts with SIGINT, as Ctrl-C in a terminal would:
SIGINT handled by default, also when the test run itself was started in the background by a shell, which makes every
process under it ignore SIGINT (Python then leaves it ignored). Set in the child's own code: a ``preexec_fn`` in the
test process, which runs gateways' threads, can deadlock the child before it starts."""


def zzgw_command(*args: str, before: str = "") -> list[str]:
    """``zzgw *args`` as a test interrupting it runs it (``AS_FROM_A_TERMINAL``); ``before`` runs first."""
    script = AS_FROM_A_TERMINAL + before + "from gateway.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", script, *args]


@contextlib.contextmanager
def two_replicas(kind: str, directory: Path) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    """Two gateways on one fresh database of ``kind`` and one data directory, as two replicas are (two feeds, two
    listeners), in this process; stopped, second first, after."""
    with fresh_database(kind, directory) as url:
        first = start_gateway(directory / "var", url)
        second = start_gateway(directory / "var", url)
        try:
            yield first, second
        finally:
            for running in (second, first):
                running.stop()


def start_gateway(
    data_dir: Path, database_url: str, *, clock: Clock | None = None, **overrides: object
) -> RunningGateway:
    """A gateway serving on a free port, its settings ``overrides``, on the system clock or ``clock``."""
    settings = _gateway_settings(data_dir, database_url, overrides)
    initialise(settings)
    return _serve(settings, clock)


def _gateway_settings(data_dir: Path, database_url: str, overrides: dict[str, object]) -> Settings:
    sized: dict[str, object] = {"threads": 8, "max_watchers": 4, **overrides}  # watchers below the handler threads
    if sized.get("mode") == "production":  # which takes no demo files by default (``refuse_demo_files``)
        sized = {"members": DEMO_FILES["ZZGW_MEMBERS"], "catalog": DEMO_FILES["ZZGW_CATALOG"], **sized}
    return Settings(data_dir=data_dir, database_url=database_url, key_passphrase=PASSPHRASE, **sized)  # type: ignore[arg-type]


def _serve(settings: Settings, clock: Clock | None) -> RunningGateway:
    """The gateway of ``settings``' initialised data directory and store, serving on a free port."""
    gateway = Gateway.open(settings, clock=clock)
    server, port = build_server(gateway, "127.0.0.1:0")
    server.start()
    tokens = {}
    if settings.mode == "dev":
        raw = json.loads(settings.dev_tokens_path.read_text(encoding="utf-8"))
        tokens = {code: entry["token"] for code, entry in raw["tokens"].items()}
    running = RunningGateway(gateway=gateway, server=server, port=port, tokens=tokens, data_dir=settings.data_dir)
    running.partner_codes()  # while the store is whole
    return running


class _InitialisedTemplates:
    """One store and data directory per backend made by ``initialise`` once in this test process, as
    ``start_gateway`` makes them, and copied for each module's ``running`` gateway: the data directory (its keys,
    certificates, CAs and dev tokens, which name no path) into the module's own, the store into the module's fresh
    ``database_url`` (SQLite's file; PostgreSQL's database made again from the template with ``CREATE DATABASE …
    TEMPLATE``). ``initialise`` of an empty store costs ~0.4 s of CPU in this process (thirty-odd migrations, the
    members, eight seals with their keys) and on PostgreSQL as much again in the server, for every module and backend
    (and each xdist worker that runs one of the module's tests); a copy, a few milliseconds. What differs from a
    gateway initialised by the module itself: its keys, tokens and serials are those of the other modules' gateways
    in this process (each on a store of its own), and its certificates and first audit records were made at the
    template's time, earlier in the session."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._made: dict[str, tuple[Path, str]] = {}
        self._postgres: list[PgDatabase] = []

    def copy(self, database_url: str, data_dir: Path) -> bool:
        """Copy the initialised template into ``data_dir`` and the store at ``database_url``, made by
        ``database_url`` and still empty; False, nothing done, when the store is not empty (a module's own fixture
        may have used it first)."""
        sqlite = database_url.startswith("sqlite")
        if not (_sqlite_empty(database_url) if sqlite else _postgres_empty(database_url)):
            return False
        kind = "sqlite" if sqlite else "postgresql"
        if kind not in self._made:
            self._made[kind] = self._make(kind)
        template_dir, template_url = self._made[kind]
        shutil.copytree(template_dir, data_dir, dirs_exist_ok=True)
        if sqlite:
            source, target = (Path(str(make_url(url).database)) for url in (template_url, database_url))
            shutil.copy(source, target)
            if (counter := Path(f"{source}.changes")).exists():  # the SQLite change feed's counter beside it
                shutil.copy(counter, f"{target}.changes")
        else:
            name, template = make_url(database_url).database, make_url(template_url).database
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:  # the empty one renamed and dropped in _Dropper's thread: a DROP
                    # waits for a checkpoint of the whole cluster (~0.7 s each under the suite's writes)
                    conn.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{name}_empty"'))
                    conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            finally:
                admin.dispose()
            PgDatabase(url="", admin_url=PG_URL, name=f"{name}_empty").drop_later()
        return True

    def _make(self, kind: str) -> tuple[Path, str]:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="zzgw-initialised-"))
        data_dir = self._directory / kind / "var"
        if kind == "sqlite":
            url = f"sqlite:///{self._directory / kind / 'zzgw.db'}"
        else:
            database = PgDatabase.create()
            self._postgres.append(database)
            url = database.url
        initialise(_gateway_settings(data_dir, url, {}))  # its gateway closed: no connection left to the template
        if kind == "sqlite":
            assert not Path(str(make_url(url).database) + "-wal").exists()  # checkpointed into the file at close
        return data_dir, url

    def close(self) -> None:
        for database in self._postgres:
            database.drop()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


def _sqlite_empty(url: str) -> bool:
    path = Path(str(make_url(url).database))
    return not any(path.parent.glob(f"{path.name}*"))


def _postgres_empty(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return not conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()
    finally:
        engine.dispose()  # no connection left: the database is dropped and made again from the template


_initialised = _InitialisedTemplates()


def initialised_copy(database_url: str, data_dir: Path) -> bool:
    """Make the empty store at ``database_url`` (as ``fresh_database`` gives it) and ``data_dir`` a copy of a store and
    data directory set up by ``initialise`` as ``start_gateway`` does, with the demo members and catalog
    (``_InitialisedTemplates``): for a test whose subject is not the first init. False, nothing done, when the store is
    not empty."""
    return _initialised.copy(database_url, data_dir)


@pytest.fixture(scope="module")
def running(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A gateway serving on the module's ``database_url``, initialised as ``start_gateway`` does (a copy of
    ``_InitialisedTemplates``')."""
    data_dir = tmp_path_factory.mktemp("var")
    if _initialised.copy(database_url, data_dir):
        gw = _serve(_gateway_settings(data_dir, database_url, {}), None)
    else:
        gw = start_gateway(data_dir, database_url)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def steady_caches(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGateway]:
    """``running``, for a test that looks into what the gateway's caches hold (a cached check, how often a license
    was read): on PostgreSQL the change feed's lease (0.9 s) is made an hour, so that the listener thread, starved of
    CPU by a loaded machine, does not lapse midway and drop every cache (correct, counted, and no part of such a
    test: ``tests/test_change_feed_liveness.py`` tests the lease). After the test the lease is the real one again,
    from the next heartbeat's answer and, until then, as if the last answer had come now."""
    from gateway.store import changes

    feed = running.gateway.feed
    lease = changes.LEASE
    monkeypatch.setattr(changes, "LEASE", 3600.0)
    if feed is not None and feed._leased:
        deadline = time.monotonic() + 10
        while feed._deaf and time.monotonic() < deadline:  # a lapse just before: wait for the next answer
            time.sleep(0.01)
        feed._alive_until += 3600.0  # until the next heartbeat's answer, which the patched LEASE renews as long
    yield running
    if feed is not None and feed._leased:
        feed._alive_until = min(feed._alive_until, time.monotonic() + lease)


class LongTagReached(Exception):
    """asn1crypto was given a tag number of more than 4 octets after the first, which ``signing.der`` refuses first:
    asn1crypto's time over one is in the square of its length."""


@pytest.fixture
def long_tags_kept_from_asn1crypto(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The offsets of the tag numbers of over 4 octets that asn1crypto was asked to read in this test (the test
    asserts the list empty); each such read also raises LongTagReached, so the call fails then rather than minutes
    later, and a handler that catches it still leaves it in the list."""
    from asn1crypto import core

    parse = core._parse
    reached: list[int] = []

    def tripwire(encoded: bytes, length: int, pointer: int = 0, *args: object, **kwargs: object) -> object:
        if encoded[pointer : pointer + 1] and encoded[pointer] & 0x1F == 0x1F:
            last = next((i for i, octet in enumerate(encoded[pointer + 1 : pointer + 6]) if not octet & 0x80), 5)
            if last >= 4:  # the tag number's last octet is its fifth, or further
                reached.append(pointer)
                raise LongTagReached(f"asn1crypto was given a tag number of more than 4 octets at {pointer}")
        return parse(encoded, length, pointer, *args, **kwargs)

    monkeypatch.setattr(core, "_parse", tripwire)
    return reached


def settle(running: RunningGateway) -> None:
    """Let the gateway hear what its own writes announce before a test looks into its caches: a change the gateway
    committed is dropped from its caches at once, and again when the change feed hears of it (SQLite: the
    ``store_edits`` rows its triggers wrote, read every so often; PostgreSQL: the notification), which may come
    after the test's next call filled the cache again. SQLite: the rows are heard now; PostgreSQL: until the feed
    has heard nothing new for longer than a lease (every notification sent before a heartbeat's answer is delivered
    before it)."""
    feed = running.gateway.feed
    if feed is None:
        return
    if not feed._leased:
        feed.hear_edits()
        return
    quiet_for, deadline = 1.5, time.monotonic() + 10  # longer than the real lease (0.9 s)
    heard, since = feed.heard, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet_for:
        time.sleep(0.05)
        if feed.heard != heard:
            heard, since = feed.heard, time.monotonic()


def case_number(bundle: str = "QYKB") -> str:
    """A new 办件编号 of ``bundle``'s cases: random, with a letter in the middle, so that no run of digits in it reads
    as a mobile number, which the gateway refuses in a case number (``uuid4().hex[:12]`` had, one run in a few
    hundred: 13 followed by nine digits)."""
    return f"{bundle}-{uuid.uuid4().hex[:6]}g{uuid.uuid4().hex[:6]}"


def today() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def run_sql(url: str, *statements: str) -> None:
    """Run ``statements`` on the database at ``url``, each committed as it runs (AUTOCOMMIT: CREATE DATABASE, roles)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def migrate_to(db: Database, revision: str) -> None:
    """Bring ``db``'s schema up to ``revision`` only, as a store made by an older gateway is (upgrade tests)."""
    from alembic import command
    from alembic.config import Config

    from gateway.store.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def schema_differences(connection: Any) -> list[Any]:
    """What Alembic finds between the schema at ``connection`` and the models (types compared, ``alembic_version``
    left out). SQLite does not enforce a VARCHAR's length (its affinity is TEXT's): there, two lengths of one type
    are no difference. Schema 0041 widened ``access_records.reason`` to 500 characters on PostgreSQL only, leaving
    SQLite's table as it was rather than rebuilding it for nothing (a reviewer, R2)."""
    import re

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gateway.store.models import Base

    def compare_type(
        context: Any, inspected_column: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
    ) -> bool | None:
        if context.dialect.name == "sqlite":
            compiled = [
                re.sub(r"\(\d+\)$", "", t.compile(dialect=context.dialect)) for t in (inspected_type, metadata_type)
            ]
            if compiled[0] == compiled[1] and compiled[0] == "VARCHAR":
                return False
        return None  # Alembic's own comparison

    context = MigrationContext.configure(connection, opts={"compare_type": compare_type})
    return [d for d in compare_metadata(context, Base.metadata) if "alembic_version" not in str(d)]
