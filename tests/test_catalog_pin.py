"""One catalog per store (ADR 0013): the store records the fingerprint of the catalog its gateways serve; `zzgw init`
with another catalog adopts it and says so; `zzgw serve` with a catalog that is not the store's refuses to start; a
gateway still serving the catalog before refuses the calls that answer by it (UNAVAILABLE / CATALOG_CHANGED) and is
not ready, until restarted. A replica started with a catalog file of its own had given a department a citizen's ID
data, as unconditionally shared, that the other replicas refused it (a fleet tester). Two gateways on one store,
SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import grpc
import pytest
from alembic import command
from alembic.config import Config
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from adapters.client import MemberCredentials, connect
from adapters.console import Console
from adapters.records import issue_request
from benchmarks.common import free_port, wait_serving
from gateway import server
from gateway.bootstrap import samples
from gateway.config import ConfigError, Settings
from gateway.domain.errors import UpstreamUnavailableError
from gateway.server import Gateway, build_server, check_ready, console_backend, initialise
from gateway.services.catalog_pin import CATALOG_FACT, READ_EVERY_SECONDS
from gateway.store.database import MIGRATIONS, Database, UnitOfWork, schema_revisions
from protos.zzgw.v1 import (
    authorization_pb2,
    authorization_pb2_grpc,
    catalog_pb2,
    common_pb2,
    issuance_pb2,
    issuance_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from signing.keys import KeyStore
from tests.api.test_issuance import unique
from tests.api.test_sharing import BUSINESS_LICENSE, ID_CARD, QYKZ, business_license, data, denied, id_card
from tests.commands import ROOT, run_zzgw
from tests.conftest import (
    MARKET,
    PASSPHRASE,
    POLICE,
    TAX,
    RunningGateway,
    _gateway_settings,
    backend_params,
    catalog_fingerprint,
    error_details,
    initialised_copy,
)

DEMO_CATALOG = Path(__file__).resolve().parent.parent / "gateway" / "bootstrap" / "catalog.json"


def catalog_file(path: Path, *, id_card_unconditional: bool = False, reformatted: bool = False) -> Path:
    """The demo catalog written to ``path``: as it is, its keys reordered and indented otherwise (``reformatted``:
    the same catalog), or with the 居民身份证 shared unconditionally (the tester's drifted copy)."""
    raw = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    if id_card_unconditional:
        (card,) = (t for t in raw["license_types"] if t["code"] == ID_CARD)
        card["sharing_class"] = "UNCONDITIONAL"
    text_ = json.dumps(raw, ensure_ascii=False, indent=4, sort_keys=True) if reformatted else json.dumps(raw)
    path.write_text(text_, encoding="utf-8")
    return path


def serving(settings: Settings) -> RunningGateway:
    """A gateway as `zzgw serve` starts one: checked (``check_ready``, serving), then serving gRPC."""
    gateway = Gateway.open(settings)
    try:
        check_ready(gateway, serving=True)
    except BaseException:
        gateway.close()
        raise
    server, port = build_server(gateway, "127.0.0.1:0")
    server.start()
    raw = json.loads(settings.dev_tokens_path.read_text(encoding="utf-8"))
    tokens = {code: entry["token"] for code, entry in raw["tokens"].items()}
    return RunningGateway(gateway=gateway, server=server, port=port, tokens=tokens, data_dir=settings.data_dir)


def stop(running: RunningGateway) -> None:
    running.stop()


def stored_fingerprint(running: RunningGateway) -> str | None:
    with running.gateway.db.engine.connect() as connection:
        query = text("SELECT value FROM gateway_facts WHERE name = :name")
        return connection.execute(query, {"name": CATALOG_FACT}).scalar()


def refused_for_the_catalog(call: Callable[[], object]) -> str:
    """Run ``call``: it must fail UNAVAILABLE / CATALOG_CHANGED; its message."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
    info, _ = error_details(caught.value)
    assert info.reason == "CATALOG_CHANGED"
    return caught.value.details() or ""


def eventually(condition: Callable[[], bool], seconds: float) -> None:
    ends = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < ends, "not within the time"
        time.sleep(0.1)


def test_a_gateway_serving_the_catalog_before_refuses_once_init_adopts_another(
    store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old_file = catalog_file(tmp_path / "catalog.json")
    new_file = catalog_file(tmp_path / "catalog-new.json", id_card_unconditional=True)
    old = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, threads=8,
                   max_watchers=4, catalog=str(old_file))  # fmt: skip
    new = dataclasses.replace(old, catalog=str(new_file))
    assert initialise(old).catalog_replaced == ""  # a new store: recorded, nothing replaced
    first = serving(old)
    # its readiness checks (every CHECK_EVERY_SECONDS, 1 s) read the store's fingerprint every half second rather
    # than READ_EVERY_SECONDS (5 s): what is tested is that they notice, not the 5 s, a wait of up to 5 s otherwise
    first.gateway.catalog_pin._every = 0.5
    second: RunningGateway | None = None
    try:
        assert stored_fingerprint(first) == catalog_fingerprint(old_file)
        card = id_card(first).license
        assert denied(lambda: data(first, card.license_id, QYKZ, member=POLICE))[0] == "NEEDS_AUTHORIZATION"

        report = initialise(new, adopt_catalog=True)  # the documented way to change the catalog
        assert (report.catalog, report.catalog_replaced) == (
            catalog_fingerprint(new_file),
            catalog_fingerprint(old_file),
        )
        assert stored_fingerprint(first) == catalog_fingerprint(new_file)
        second = serving(new)  # restarted with the new catalog: its rules apply
        assert data(second, card.license_id, QYKZ, member=POLICE).fields

        caplog.set_level(logging.INFO, logger="zzgw.health")
        # the first notices on its readiness checks (the store's fingerprint read every READ_EVERY_SECONDS)
        eventually(lambda: first.gateway.readiness.state.reason == "CATALOG_CHANGED", READ_EVERY_SECONDS + 5)
        status, body = first.gateway.readiness.state.http_answer()
        assert status == 503 and json.loads(body)["reason"] == "CATALOG_CHANGED"
        health = health_pb2_grpc.HealthStub(first.channel(None))
        assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.NOT_SERVING

        # what it would answer by the catalog it loaded, it refuses: sharing, verification, authorization,
        # issuance and the catalog itself
        said = refused_for_the_catalog(lambda: data(first, card.license_id, QYKZ, member=POLICE))
        assert said.startswith("证照目录已更新，本网关实例须重启后才能按新目录处理")
        verify = verification_pb2_grpc.VerificationServiceStub(first.channel(POLICE)).VerifyLicense
        asked = verification_pb2.VerifyLicenseRequest(use=QYKZ, license_id=card.license_id)
        refused_for_the_catalog(lambda: verify(asked))
        request_access = authorization_pb2_grpc.AuthorizationServiceStub(first.channel(POLICE)).RequestAccess
        refused_for_the_catalog(
            lambda: request_access(authorization_pb2.RequestAccessRequest(use=QYKZ, license_id=card.license_id))
        )
        refused_for_the_catalog(lambda: business_license(first))
        refused_for_the_catalog(lambda: first.catalog(TAX).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest()))
        get = first.issuance(POLICE).GetLicense  # issuance as a whole: a license's fields are the catalog's
        refused_for_the_catalog(lambda: get(issuance_pb2.GetLicenseRequest(license_id=card.license_id)))
        console = Console(console_backend(first.gateway))  # the clerk's console answers by the catalog too
        with pytest.raises(UpstreamUnavailableError) as at_console:
            console.session(f"Bearer {first.tokens[TAX]}")
        assert at_console.value.reason == "CATALOG_CHANGED"

        warnings = [r.getMessage() for r in caplog.records if r.name == "zzgw.health" and r.levelno >= logging.WARNING]
        assert len(warnings) == 1, warnings  # said once, naming both catalogs
        assert "not ready (CATALOG_CHANGED)" in warnings[0]
        assert catalog_fingerprint(new_file) in warnings[0] and catalog_fingerprint(old_file) in warnings[0]

        with pytest.raises(ConfigError) as refused:  # started again with the old file: refused at start
            serving(old)
        assert f"sha256 {catalog_fingerprint(old_file)}" in str(refused.value)
        assert f"(sha256 {catalog_fingerprint(new_file)})" in str(refused.value)
        assert "`zzgw init --adopt-catalog`" in str(refused.value)
        assert data(second, card.license_id, QYKZ, member=POLICE).fields  # the restarted one still answers
    finally:
        stop(first)
        if second is not None:
            stop(second)


def read_the_store_now(running: RunningGateway) -> None:
    """Have ``running``'s pin read the store's catalog at once, as its readiness checks do every few seconds."""
    pin = running.gateway.catalog_pin
    pin._every = 0.0
    pin.check()


def test_an_open_batch_stream_issues_nothing_more_once_init_adopts_another_catalog(store: str, tmp_path: Path) -> None:
    """A BatchIssueLicenses stream opened before `zzgw init --adopt-catalog` had gone on issuing by the catalog its
    process loaded, item after item, for as long as its client kept it open (an import of hours): licenses the
    store's catalog forbade, some of a type since handed to another department, which neither could then amend or
    cancel (a reviewer). Its next message is refused UNAVAILABLE / CATALOG_CHANGED as a call is, after every item
    issued before was answered; nothing of it is issued."""
    old = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, threads=8,
                   max_watchers=4, catalog=str(catalog_file(tmp_path / "catalog.json")))  # fmt: skip
    new = dataclasses.replace(old, catalog=str(catalog_file(tmp_path / "new.json", id_card_unconditional=True)))
    initialise(old)
    first = serving(old)
    try:
        outbox: queue.Queue[issuance_pb2.BatchIssueLicensesRequest | None] = queue.Queue()

        def requests() -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
            while (message := outbox.get()) is not None:
                yield message

        def message(*records: dict[str, object]) -> issuance_pb2.BatchIssueLicensesRequest:
            return issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(r) for r in records])

        stream = first.issuance(MARKET).BatchIssueLicenses(requests())
        before = unique(samples.business_license(1))
        outbox.put(message(before))
        (issued,) = next(stream).results
        assert issued.created and issued.license.license_id

        initialise(new, adopt_catalog=True)
        read_the_store_now(first)
        after = [unique(samples.business_license(2)), unique(samples.business_license(3))]
        outbox.put(message(*after))
        said = refused_for_the_catalog(lambda: next(stream))
        assert said.startswith("证照目录已更新，本网关实例须重启后才能按新目录处理")
        outbox.put(None)
        with first.gateway.db.engine.connect() as connection:
            asked = text("SELECT request_id FROM license_events WHERE actor = :actor")
            stored = {row[0] for row in connection.execute(asked, {"actor": MARKET})}
        assert before["request_id"] in stored
        assert not stored & {r["request_id"] for r in after}, "issued by the catalog before"
    finally:
        stop(first)


def test_an_open_watch_stream_ends_once_init_adopts_another_catalog(store: str, tmp_path: Path) -> None:
    """A WatchLicenseChanges stream opened before `zzgw init --adopt-catalog` had gone on sending events by the scope
    of the catalog its process loaded, for as long as that process ran unrestarted: a department that the adoption
    took a type from kept receiving that type's events (a reviewer). Once its process reads the store's catalog, the
    stream ends UNAVAILABLE / CATALOG_CHANGED after its last event, sending none committed after the change, and its
    client resumes with its cursor at a process restarted with the new catalog: nothing is missed or repeated."""
    old = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, threads=8,
                   max_watchers=4, catalog=str(catalog_file(tmp_path / "catalog.json")))  # fmt: skip
    new = dataclasses.replace(old, catalog=str(catalog_file(tmp_path / "new.json", id_card_unconditional=True)))
    initialise(old)
    first = serving(old)
    second: RunningGateway | None = None
    try:
        asked = issuance_pb2.WatchLicenseChangesRequest(from_beginning=True, type_codes=[BUSINESS_LICENSE])
        stream = first.issuance(TAX).WatchLicenseChanges(asked, timeout=30)
        before, _ = business_license(first, 1)
        event = next(stream).event
        assert event.license_id == before

        initialise(new, adopt_catalog=True)
        read_the_store_now(first)
        second = serving(new)
        after, _ = business_license(second, 2)
        said = refused_for_the_catalog(lambda: next(stream))  # not the event of the license issued after
        assert said.startswith("证照目录已更新，本网关实例须重启后才能按新目录处理")
        # a watch opened there now is refused as any call is
        refused_for_the_catalog(lambda: next(first.issuance(TAX).WatchLicenseChanges(asked, timeout=10)))

        resumed = second.issuance(TAX).WatchLicenseChanges(
            issuance_pb2.WatchLicenseChangesRequest(cursor=event.cursor, type_codes=[BUSINESS_LICENSE]), timeout=10
        )
        assert next(resumed).event.license_id == after  # where it left off, by the new catalog
        resumed.cancel()
    finally:
        stop(first)
        if second is not None:
            stop(second)


def handed_over(path: Path) -> Path:
    """The demo catalog with MARKET taken out of 营业执照's `issuers` (the handover's last step)."""
    raw = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    (bl,) = (t for t in raw["license_types"] if t["code"] == BUSINESS_LICENSE)
    bl["issuers"] = [c for c in bl["issuers"] if c != MARKET]
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_write_right_after_the_adoption_is_refused_before_the_process_reads_the_store(
    store: str, tmp_path: Path
) -> None:
    """A process still on the old catalog had gone on issuing for up to 5 s after `zzgw init --adopt-catalog` (its
    pin reads the store's catalog every 5 s): a 营业执照 of MARKET, just taken out of the type's issuers by an
    adoption accepted as MARKET had none, which then verified NOT_AUTHORITATIVE_ISSUER, could be cancelled by no one,
    and had every later adoption leaving MARKET out refused (a reviewer, R1). Each write reads the store's catalog in
    its own transaction: issue, batch, amend and status change are refused CATALOG_CHANGED at once, nothing stored;
    the pin keeps what the write read."""
    old = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, threads=8,
                   max_watchers=4, catalog=str(catalog_file(tmp_path / "catalog.json")))  # fmt: skip
    new = dataclasses.replace(old, catalog=str(handed_over(tmp_path / "new.json")))
    initialise(old)
    first = serving(old)
    second: RunningGateway | None = None
    try:
        earlier, _ = business_license(first)  # MARKET cancels its 营业执照 before the handover
        market = first.issuance(MARKET)
        cancel = issuance_pb2.ChangeLicenseStatusRequest(
            license_id=earlier, action=issuance_pb2.STATUS_ACTION_CANCEL, reason="移交", request_id="cancel-1"
        )
        market.ChangeLicenseStatus(cancel)
        kept = id_card(first).license  # a license of a type the adoption leaves as it is
        pin = first.gateway.catalog_pin
        pin._every = 3600.0  # the readiness checks do not read the store in this test: only the writes do

        assert initialise(new, adopt_catalog=True).catalog_replaced  # accepted: MARKET has no 营业执照 not ended
        refused_for_the_catalog(lambda: business_license(first))
        refused_for_the_catalog(lambda: business_license(first, 2, batch=True))
        assert pin.check() == catalog_fingerprint(tmp_path / "new.json")  # the write's read kept
        pin._stored = pin.served  # as last read by the pin before the adoption: the calls start, the writes refuse
        police = first.issuance(POLICE)
        amend = issuance_pb2.AmendLicenseRequest(
            request_id="amend-1", license_id=kept.license_id, fields={"address": "新址"}, reason="变更"
        )
        refused_for_the_catalog(lambda: police.AmendLicense(amend))
        pin._stored = pin.served
        suspend = issuance_pb2.ChangeLicenseStatusRequest(
            license_id=kept.license_id, action=issuance_pb2.STATUS_ACTION_SUSPEND, reason="x", request_id="s-1"
        )
        refused_for_the_catalog(lambda: police.ChangeLicenseStatus(suspend))
        with first.gateway.db.engine.connect() as connection:
            counted = text("SELECT count(*) FROM license_events")
            events = connection.execute(counted).scalar()
        assert events == 3, "written by the catalog before"  # the two issues and the cancel before the adoption
        stop(first)
        first = None

        second = serving(new)  # restarted on the adopted catalog: writes go on
        suspended = second.issuance(POLICE).ChangeLicenseStatus(suspend).license  # s-1 was not written before
        assert suspended.status == common_pb2.LICENSE_STATUS_SUSPENDED
        assert second.gateway.catalog_pin.check() is None
    finally:
        if first is not None:
            stop(first)
        if second is not None:
            stop(second)


@pytest.mark.parametrize("store", backend_params()[1:], indirect=True)  # SQLite writers are serial already
def test_an_adoption_waits_for_the_writes_in_flight(store: str, tmp_path: Path) -> None:
    """On PostgreSQL a write reads the store's catalog FOR SHARE in its transaction (``CatalogPin.refuse_within``):
    an adoption's replacing it waits until the write commits, so no write commits by the catalog it replaced (SQLite
    writers are serial already)."""
    settings = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, threads=8,
                        max_watchers=4, catalog=str(catalog_file(tmp_path / "catalog.json")))  # fmt: skip
    initialise(settings)
    first = serving(settings)
    try:
        with first.gateway.db.unit_of_work(write=True) as uow, first.gateway.db.engine.connect() as adoption:
            first.gateway.catalog_pin.refuse_within(uow)  # a write in flight
            adoption.execute(text("SET lock_timeout = '300ms'"))
            with pytest.raises(OperationalError) as waited:
                adoption.execute(
                    text("UPDATE gateway_facts SET value = 'x' WHERE name = :name"), {"name": CATALOG_FACT}
                )
            assert "lock timeout" in str(waited.value)
    finally:
        stop(first)


def batch_stream(
    stub: issuance_pb2_grpc.IssuanceServiceStub, until: threading.Event, outcome: dict[str, object]
) -> None:
    """A BatchIssueLicenses stream of MARKET issuing 20 营业执照 a message, the next sent as soon as the last is
    answered, until ``until`` is set; ``outcome``: how many licenses it issued (as they are answered), how it ended."""
    sent = itertools.count()
    outcome["issued"] = 0

    def requests() -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
        while not until.is_set():
            records = [unique(samples.business_license(next(sent) % 1000)) for _ in range(20)]
            yield issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(r) for r in records])

    try:
        for answer in stub.BatchIssueLicenses(requests(), timeout=120):
            outcome["issued"] = int(str(outcome["issued"])) + sum(r.HasField("license") for r in answer.results)
        outcome["ended"] = "ran out"
    except grpc.RpcError as exc:
        outcome["ended"] = error_details(exc)[0].reason or str(exc.code())


@pytest.mark.parametrize("store", backend_params()[1:], indirect=True)  # SQLite writers are serial already
def test_an_adoption_is_not_starved_by_batch_streams_on_two_processes(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL `zzgw init --adopt-catalog` had waited for as long as two BatchIssueLicenses streams (one per
    `zzgw serve` process) kept issuing: each write read the catalog's row FOR SHARE, and a new share locker joins a
    row already share-locked while the adoption's FOR UPDATE waits, so with the streams' transactions overlapping the
    row was never free (14 s to more than 200 s; a reviewer, R1). The adoption waits now for the writes in flight
    only, those that come meanwhile waiting behind it: it commits within seconds, and the streams, which would have
    gone on for a minute, end CATALOG_CHANGED having issued."""
    data_dir = tmp_path / "var"
    assert initialised_copy(store, data_dir)
    catalog = catalog_file(tmp_path / "catalog.json")
    settings = _gateway_settings(data_dir, store, {"catalog": str(catalog)})
    new = dataclasses.replace(settings, catalog=str(catalog_file(tmp_path / "new.json", id_card_unconditional=True)))
    raw = json.loads(settings.dev_tokens_path.read_text(encoding="utf-8"))
    token = raw["tokens"][MARKET]["token"]
    adoptions = timed_adoptions(monkeypatch)
    processes: list[subprocess.Popen[bytes]] = []
    stop_streams = threading.Event()
    outcomes: list[dict[str, object]] = [{}, {}]
    streams: list[threading.Thread] = []
    ends = threading.Timer(60, stop_streams.set)  # before: the adoption got through once the streams ran out
    ends.daemon = True
    try:
        for k in range(2):  # two `zzgw serve` processes of one store
            env = {**zzgw_env(data_dir, store, catalog), "ZZGW_KEY_PASSPHRASE": PASSPHRASE}
            with (tmp_path / f"serve-{k}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env, cwd=ROOT, stderr=log)
                )
            wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=processes[-1])
            stub = issuance_pb2_grpc.IssuanceServiceStub(
                connect(env["ZZGW_GRPC_ADDR"], MemberCredentials(code=MARKET, token=token))
            )
            streams.append(threading.Thread(target=batch_stream, args=(stub, stop_streams, outcomes[k])))
        for stream in streams:
            stream.start()
        # both streams issue (two messages each): their transactions overlap from now on
        eventually(lambda: all(int(str(o.get("issued", 0))) >= 40 for o in outcomes), 60)
        ends.start()
        assert initialise(new, adopt_catalog=True).catalog_replaced
        for stream in streams:
            stream.join(60)
        assert [o["ended"] for o in outcomes] == ["CATALOG_CHANGED", "CATALOG_CHANGED"], (outcomes, adoptions)
        assert len(adoptions) == 1 and adoptions[0] < 5, adoptions
    finally:
        ends.cancel()
        stop_streams.set()
        for stream in streams:
            stream.join(60)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(60)


def overlapping_writes(running: RunningGateway, until: threading.Event, seconds: float) -> bool:
    """Writes of ``running`` in a chain, each next one reading the store's catalog (``refuse_within``, as a license
    write does first in its transaction) before the one before commits, as two batch streams' transactions overlap,
    until ``until`` is set or ``seconds`` have passed; True when a write was refused CATALOG_CHANGED."""
    db, pin = running.gateway.db, running.gateway.catalog_pin
    ends = time.monotonic() + seconds
    with contextlib.ExitStack() as held:
        uow = held.enter_context(db.unit_of_work(write=True))
        pin.refuse_within(uow)
        while not until.is_set() and time.monotonic() < ends:
            following = contextlib.ExitStack()
            then: list[object] = []

            def write(following: contextlib.ExitStack = following, then: list[object] = then) -> None:
                begun = following.enter_context(db.unit_of_work(write=True))
                try:
                    pin.refuse_within(begun)
                    then.append(begun)
                except UpstreamUnavailableError as refused:
                    then.append(refused)

            writing = threading.Thread(target=write)
            writing.start()
            writing.join(0.2)  # the next write has read the catalog, or waits for it (behind an adoption)
            uow.commit()
            held.close()
            writing.join(30)
            held.push(following)
            if isinstance(then[0], UpstreamUnavailableError):
                return True
            uow = cast(UnitOfWork, then[0])
    return False


@pytest.mark.parametrize("store", backend_params()[1:], indirect=True)  # SQLite writers are serial already
def test_an_adoption_gets_through_writes_that_overlap_one_another(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mechanism of the starvation above, without its timing: each license write, the one before still in flight,
    had joined the share lock the adoption waited for, and the adoption waited until the writes paused (here, 20 s).
    It waits now for the writes in flight when it asks, the next one waits behind it and is refused CATALOG_CHANGED."""
    data_dir = tmp_path / "var"
    assert initialised_copy(store, data_dir)
    settings = _gateway_settings(data_dir, store, {"catalog": str(catalog_file(tmp_path / "catalog.json"))})
    new = dataclasses.replace(settings, catalog=str(catalog_file(tmp_path / "new.json", id_card_unconditional=True)))
    adoptions = timed_adoptions(monkeypatch)
    first = serving(settings)
    done = threading.Event()
    refused: list[bool] = []
    writes = threading.Thread(target=lambda: refused.append(overlapping_writes(first, done, 20)))
    try:
        writes.start()
        assert initialise(new, adopt_catalog=True).catalog_replaced
        done.set()
        writes.join(60)
        assert refused == [True]
        assert len(adoptions) == 1 and adoptions[0] < 5, adoptions
    finally:
        done.set()
        writes.join(60)
        stop(first)


def timed_adoptions(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """How long each of init's adoption transactions (``_adopt_catalog``) takes, from now on."""
    adoptions: list[float] = []
    adopt_catalog = server._adopt_catalog

    def timed(gateway: Gateway, *, adopt: bool) -> str:
        started = time.monotonic()
        try:
            return adopt_catalog(gateway, adopt=adopt)
        finally:
            adoptions.append(time.monotonic() - started)

    monkeypatch.setattr(server, "_adopt_catalog", timed)
    return adoptions


@pytest.mark.parametrize("store", backend_params()[1:], indirect=True)  # SQLite writers are serial already
def test_an_adoption_waiting_for_the_writes_in_flight_says_so(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`zzgw init --adopt-catalog` waiting for a write in flight says so on stderr after a few seconds, and again
    once the writes committed: it had waited without a word, a hang not to be told from a slow check (a reviewer,
    R1); a write that comes while it waits waits behind it, and is refused CATALOG_CHANGED once it commits."""
    monkeypatch.setattr(server, "ADOPTION_WAIT_SAID_AFTER", 0.2)
    monkeypatch.setattr(server, "ADOPTION_TRY", 60.0)  # one wait in the queue, as long as the test takes
    data_dir = tmp_path / "var"
    assert initialised_copy(store, data_dir)
    settings = _gateway_settings(data_dir, store, {"catalog": str(catalog_file(tmp_path / "catalog.json"))})
    new = dataclasses.replace(settings, catalog=str(catalog_file(tmp_path / "new.json", id_card_unconditional=True)))
    first = serving(settings)
    adopted: list[object] = []
    adoption = threading.Thread(target=lambda: adopted.append(initialise(new, adopt_catalog=True).catalog_replaced))
    try:

        def waiting() -> int:
            """How many transactions wait for an advisory lock (read anew: a transaction keeps what it read of it)."""
            with first.gateway.db.engine.connect() as watch:
                asked = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = %s"
                return int(watch.exec_driver_sql(asked, ("advisory",)).scalar() or 0)

        with first.gateway.db.unit_of_work(write=True) as uow:
            first.gateway.catalog_pin.refuse_within(uow)  # a write in flight
            adoption.start()
            eventually(lambda: waiting() == 1, 30)  # the adoption, behind the write
            outcomes: list[str] = []
            came = threading.Thread(
                target=lambda: outcomes.append(refused_for_the_catalog(lambda: business_license(first)))
            )
            came.start()
            eventually(lambda: waiting() == 2, 30)  # the write that came, behind the adoption
            eventually(lambda: "waiting for the license writes in flight" in capsys.readouterr().err, 30)
            uow.commit()
        adoption.join(60)
        came.join(60)
        assert len(adopted) == 1 and adopted[0]
        assert outcomes and outcomes[0].startswith("证照目录已更新")
        assert "adopting the catalog: the writes in flight committed after" in capsys.readouterr().err
    finally:
        adoption.join(60)
        stop(first)


@pytest.mark.parametrize("store", backend_params()[1:], indirect=True)  # SQLite writers are serial already
def test_an_adoption_held_off_by_a_write_that_does_not_end_gives_up_and_never_holds_the_writes_long(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A license write whose transaction does not end (a client's left open, a process frozen mid-write) held
    `zzgw init --adopt-catalog` in the lock queue for ever, and behind it every license write of every replica, their
    handler threads all waiting, reads refused too (a review of the fix, fixrevlock R1). The adoption waits a little
    at a time (``ADOPTION_TRY``), the writes behind it going on between its tries, and gives up after
    ``ADOPTION_WAIT_LIMIT``, nothing changed, naming the session that held it off."""
    monkeypatch.setattr(server, "ADOPTION_TRY", 0.5)
    monkeypatch.setattr(server, "ADOPTION_WAIT_LIMIT", 4.0)
    data_dir = tmp_path / "var"
    assert initialised_copy(store, data_dir)
    settings = _gateway_settings(data_dir, store, {"catalog": str(catalog_file(tmp_path / "catalog.json"))})
    new = dataclasses.replace(settings, catalog=str(catalog_file(tmp_path / "new.json", id_card_unconditional=True)))
    first = serving(settings)
    refused: list[BaseException] = []

    def adopting() -> None:
        try:
            initialise(new, adopt_catalog=True)
        except ConfigError as exc:
            refused.append(exc)

    adoption = threading.Thread(target=adopting)
    try:
        before = stored_fingerprint(first)
        with first.gateway.db.unit_of_work(write=True) as uow:
            first.gateway.catalog_pin.refuse_within(uow)  # a write in flight that does not end
            stuck = int(uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            adoption.start()
            took: list[float] = []
            while adoption.is_alive():  # the writes that come meanwhile: each answered, none held long
                started = time.monotonic()
                business_license(first)
                took.append(time.monotonic() - started)
            uow.rollback()
        adoption.join(60)
        assert len(refused) == 1, "the adoption did not give up"
        said = str(refused[0])
        assert said.startswith("the catalog was not adopted, nothing changed: a license write in flight had not")
        assert f"pid {stuck} (" in said and "run `zzgw init --adopt-catalog` again" in said
        assert len(took) >= 3 and max(took) < 3.0, took  # behind one try (0.5 s) at most, load allowing
        assert stored_fingerprint(first) == before  # not adopted
        business_license(first)  # and the writes go on under the catalog served
    finally:
        adoption.join(60)
        stop(first)


def zzgw_env(data_dir: Path, url: str, catalog: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ZZGW_DATA_DIR": str(data_dir),
        "ZZGW_DATABASE_URL": url,
        "ZZGW_CATALOG": str(catalog),
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
    }


def test_serve_refuses_a_catalog_that_is_not_the_stores_and_init_adopts_one(store: str, tmp_path: Path) -> None:
    old_file = catalog_file(tmp_path / "catalog.json")
    same_file = catalog_file(tmp_path / "catalog-reformatted.json", reformatted=True)
    new_file = catalog_file(tmp_path / "catalog-new.json", id_card_unconditional=True)
    old, new = catalog_fingerprint(old_file), catalog_fingerprint(new_file)
    assert catalog_fingerprint(same_file) == old and new != old
    data_dir = tmp_path / "var"
    made = run_zzgw("init", env=zzgw_env(data_dir, store, old_file), timeout=120)
    assert made.returncode == 0, made.stderr
    assert "catalog" not in made.stderr

    # the same catalog, the file reformatted: nothing changes, nothing said
    again = run_zzgw("init", env=zzgw_env(data_dir, store, same_file), timeout=120)
    assert again.returncode == 0 and "catalog changed" not in again.stderr, again.stderr

    refused = run_zzgw("serve", env=zzgw_env(data_dir, store, new_file), timeout=60)
    assert refused.returncode == 2, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"zzgw: configuration error: this gateway's catalog (ZZGW_CATALOG {new_file}, sha256 {new})")
    assert f"is served with (sha256 {old})" in line and "run `zzgw init --adopt-catalog` with the new one" in line

    # a routine init (a member added) on a replica holding another copy: refused before it changes anything, since
    # it had adopted that copy for the whole fleet, every other process then refusing CATALOG_CHANGED (a reviewer)
    routine = run_zzgw("init", env=zzgw_env(data_dir, store, new_file), timeout=120)
    assert routine.returncode == 2, routine.stderr
    assert f"is served with (sha256 {old})" in routine.stderr and "`zzgw init --adopt-catalog`" in routine.stderr
    still = run_zzgw("serve", env=zzgw_env(data_dir, store, new_file), timeout=60)
    assert still.returncode == 2 and f"is served with (sha256 {old})" in still.stderr, still.stderr

    adopted = run_zzgw("init", "--adopt-catalog", env=zzgw_env(data_dir, store, new_file), timeout=120)
    assert adopted.returncode == 0, adopted.stderr
    assert f"catalog changed: the store's gateways serve from now on ZZGW_CATALOG {new_file} (sha256 {new})" in (
        adopted.stderr
    )
    assert f"not the catalog before (sha256 {old})" in adopted.stderr and "restart every `zzgw serve`" in adopted.stderr

    back = run_zzgw("serve", env=zzgw_env(data_dir, store, old_file), timeout=60)
    assert back.returncode == 2 and f"(ZZGW_CATALOG {old_file}, sha256 {old})" in back.stderr, back.stderr
    assert f"is served with (sha256 {new})" in back.stderr


def test_a_store_that_records_no_catalog_is_served_once_init_records_one(store: str, tmp_path: Path) -> None:
    """A store that records no catalog (one upgraded from before catalog fingerprints, or whose init was cut short
    before recording it) is not served: the first `zzgw serve` had recorded its own, unchecked against the store's
    licenses (an upgrade tester, D5). `zzgw init` records its own, saying so, and another catalog is refused from
    then on."""
    old_file = catalog_file(tmp_path / "catalog.json")
    new_file = catalog_file(tmp_path / "catalog-new.json", id_card_unconditional=True)
    settings = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, threads=8,
                        max_watchers=4, catalog=str(old_file))  # fmt: skip
    initialise(settings)
    gateway = Gateway.open(settings)
    try:
        with gateway.db.engine.begin() as connection:  # as a store upgraded from a version without the fact is
            connection.execute(text("DELETE FROM gateway_facts WHERE name = :name"), {"name": CATALOG_FACT})
    finally:
        gateway.close()

    with pytest.raises(ConfigError, match="records no catalog that its gateways serve"):
        serving(dataclasses.replace(settings, catalog=str(new_file)))
    report = initialise(settings)
    assert (report.catalog, report.catalog_replaced, report.catalog_recorded) == (
        catalog_fingerprint(old_file),
        "",
        True,
    )
    first = serving(settings)
    try:
        assert stored_fingerprint(first) == catalog_fingerprint(old_file)
        with pytest.raises(ConfigError, match="is not the one the database"):
            serving(dataclasses.replace(settings, catalog=str(new_file)))
    finally:
        stop(first)


def test_init_with_another_catalog_refuses_before_it_upgrades_the_schema(store: str, tmp_path: Path) -> None:
    """A routine `zzgw init` of the next release on a replica holding a stale copy is refused before its migrations:
    it had upgraded the schema for the whole fleet, every gateway still on the release before then refusing the
    store, and only then refused the catalog (a reviewer)."""
    old_file = catalog_file(tmp_path / "catalog.json")
    settings = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE,
                        catalog=str(old_file))  # fmt: skip
    initialise(settings)
    gateway = Gateway.open(settings)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with gateway.db.engine.begin() as connection:  # the store as the release before left it
            config.attributes["connection"] = connection
            command.downgrade(config, "-1")
        before = gateway.db.schema_revision()
        assert before == schema_revisions()[-2]
        new_file = catalog_file(tmp_path / "new.json", id_card_unconditional=True)
        stale = dataclasses.replace(settings, catalog=str(new_file))
        with pytest.raises(ConfigError, match=rf"is served with \(sha256 {catalog_fingerprint(old_file)}\)"):
            initialise(stale)
        assert gateway.db.schema_revision() == before
        assert initialise(settings).schema == schema_revisions()[-1]  # its own catalog: upgraded
    finally:
        gateway.close()


def test_init_without_adopt_catalog_keeps_one_a_server_recorded_while_it_ran(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a store from before the fingerprint, a `zzgw serve` (which takes no setup lock) may record its catalog while
    an init with another copy runs, after its check at the start: without --adopt-catalog the init is refused at its
    end, where it had replaced the served catalog, the serving replica then refusing CATALOG_CHANGED (a reviewer)."""
    old_file = catalog_file(tmp_path / "catalog.json")
    settings = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE,
                        catalog=str(old_file))  # fmt: skip
    initialise(settings)
    gateway = Gateway.open(settings)
    try:
        with gateway.db.engine.begin() as connection:  # as a store upgraded from a version without the fact is
            connection.execute(text("DELETE FROM gateway_facts WHERE name = :name"), {"name": CATALOG_FACT})
        record_facts = server._record_facts

        def a_server_starts_meanwhile(settings: Settings, db: Database, keys: KeyStore) -> None:
            with db.unit_of_work(write=True) as uow:  # what `zzgw serve` records (_pin_catalog), the first to serve
                uow.facts.add(CATALOG_FACT, catalog_fingerprint(old_file))
                uow.commit()
            record_facts(settings, db, keys)

        monkeypatch.setattr(server, "_record_facts", a_server_starts_meanwhile)
        new_file = catalog_file(tmp_path / "new.json", id_card_unconditional=True)
        stale = dataclasses.replace(settings, catalog=str(new_file))
        with pytest.raises(ConfigError, match=rf"is served with \(sha256 {catalog_fingerprint(old_file)}\)"):
            initialise(stale)
        with gateway.db.unit_of_work() as uow:
            assert uow.facts.get(CATALOG_FACT) == catalog_fingerprint(old_file)
    finally:
        gateway.close()


def test_a_license_issued_while_init_prepares_the_adoption_is_judged_by_it(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The departments taken out of a type's issuers were checked before init's other steps, in a transaction of its
    own: a 营业执照 the market regulator issued on the old catalog meanwhile (0.04-0.11 s on a small store, longer with
    more to set up) left the adoption standing over a license no one could cancel (a reviewer). The check is made
    again in the transaction that replaces the catalog, which the license writes wait for."""
    from gateway import server
    from tests.api.test_sharing import business_license

    old = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, threads=8,
                   max_watchers=4, catalog=str(catalog_file(tmp_path / "catalog.json")))  # fmt: skip
    new = dataclasses.replace(old, catalog=str(handed_over(tmp_path / "new.json")))
    initialise(old)
    first = serving(old)
    issued: list[str] = []
    warn = server.warn_of_exposed_secrets

    def meanwhile(settings: Settings) -> None:  # after the first check, before the catalog is replaced
        issued.append(business_license(first)[0])
        warn(settings)

    try:
        monkeypatch.setattr(server, "warn_of_exposed_secrets", meanwhile)
        with pytest.raises(ConfigError, match="takes departments out of license types' `issuers`"):
            initialise(new, adopt_catalog=True)
        assert len(issued) == 1  # issued, and the adoption refused for it: the store keeps the old catalog
        assert stored_fingerprint(first) == catalog_fingerprint(tmp_path / "catalog.json")
    finally:
        stop(first)
