"""A consent's withdrawal is dated when it takes effect, and a use is judged when it is counted: no use of a consent
is permitted, counted or put on the trail after the time its withdrawal or its end is recorded at (a reviewer, R2).

The interleavings are made on PostgreSQL, whose writers run at once: a lock held by the test makes the withdrawal
wait while a department reads. A copy stamped while the consent ends is refused on either backend (a clock of the
gateway's own, moved on during the stamping)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine

from gateway.domain.catalog import Catalog
from gateway.services.members import load_bootstrap_catalog
from gateway.store.database import _AUDIT_LOCK_ID
from protos.zzgw.v1 import authorization_pb2, sharing_pb2, verification_pb2
from tests.api.test_sharing import (
    BDCZY,
    BUSINESS_LICENSE,
    ID_CARD,
    TEST_DEPARTMENT,
    Clocked,
    authorization,
    business_license,
    clocked_gateway,
    data,
    denied,
    fields_of,
    grant,
    id_card,
    sharing,
)
from tests.conftest import PORTAL, TAX, RunningGateway, backend_params, error_details, fresh_database

POSTGRES = backend_params()[1]


@pytest.fixture(scope="module", params=[POSTGRES])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PostgreSQL only (``running`` is conftest's, on this store)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def side_engine(running: RunningGateway) -> Iterator[Engine]:
    """An engine of the test's own on the gateway's database: the locks it holds are no one's in the gateway."""
    engine = create_engine(running.gateway.db.engine.url)
    try:
        yield engine
    finally:
        engine.dispose()


def wait_until_blocked(engine: Engine, fragment: str) -> None:
    """Return once a statement containing ``fragment`` waits for a lock in this database (else fail after 10 s)."""
    deadline = time.monotonic() + 10
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND query LIKE :like"
    )
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(query, {"like": f"%{fragment}%"}).scalar()
            connection.rollback()  # pg_stat_activity is read once a transaction: the next look is a new one
            if waiting:
                return
            time.sleep(0.02)
    pytest.fail(f"no statement with {fragment!r} waited for a lock")


def consent_trail(connection: Connection, consent_id: str, license_id: str) -> list[tuple[dt.datetime, str, str]]:
    """The records naming ``consent_id``, and the reads of ``license_id`` (a refusal names its reason, not the
    consent), in the trail's order: (at, action, decision)."""
    rows = connection.execute(
        text(
            "SELECT at, action, decision FROM access_records WHERE reason = :reason "
            "OR (license_id = :license AND action = 'GET_LICENSE_DATA') ORDER BY seq"
        ),
        {"reason": f"consent={consent_id}", "license": license_id},
    ).all()
    return [(row.at, row.action, row.decision) for row in rows]


def withdraw(running: RunningGateway, consent_id: str, holder: str) -> authorization_pb2.WithdrawConsentResponse:
    return authorization(running, PORTAL).WithdrawConsent(
        authorization_pb2.WithdrawConsentRequest(consent_id=consent_id, holder_code=holder)
    )


def kept_code_past_its_day(running: RunningGateway, engine: Engine) -> str:
    """A consent of another holder whose code is kept sealed for a retry and was granted two days ago: the next
    withdrawal's ``clear_sealed_codes`` updates its row."""
    other = id_card(running).license
    until = running.gateway.clock.now() + dt.timedelta(days=3)
    request = authorization_pb2.GrantConsentRequest(
        holder_code=other.holder.code,
        grantee_code="123701009937011183",
        matter_code=BDCZY.matter_code,
        type_codes=[other.type_code or ID_CARD],
        uses=1,
        client_request_id=f"kept-{uuid.uuid4().hex}",
    )
    request.valid_until.FromDatetime(until)
    kept = authorization(running, PORTAL).GrantConsent(request).consent.consent_id
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE consents SET created_at = created_at - interval '2 days' WHERE consent_id = :id"), {"id": kept}
        )
    return kept


def test_a_read_while_the_withdrawal_waits_is_dated_before_it_and_on_the_trail_before_it(
    running: RunningGateway, side_engine: Engine
) -> None:
    """The reviewer's interleaving: the withdrawal waits for a row lock (a code kept past its day, which it clears
    first); a read that starts meanwhile is permitted, as the consent is not withdrawn yet, and counted. The
    withdrawal is dated when it took effect, after the read: the read had been dated after the withdrawal and put on
    the trail before it, a use of a withdrawn consent on the holder's log."""
    card = id_card(running).license
    consent = grant(running, card.holder.code, uses=5)
    consent_id = consent.consent.consent_id
    kept = kept_code_past_its_day(running, side_engine)
    with futures.ThreadPoolExecutor(1) as pool, side_engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT 1 FROM consents WHERE consent_id = :id FOR UPDATE"), {"id": kept})
        withdrawing = pool.submit(withdraw, running, consent_id, card.holder.code)
        try:
            wait_until_blocked(side_engine, "code_sealed")
            time.sleep(0.05)  # the read starts well after the withdrawal's call
            read = data(running, card.license_id, BDCZY, code=consent.code)
        finally:
            holder.rollback()
        withdrawn = withdrawing.result(timeout=30).consent
    assert fields_of(read)["name"] == card.fields["name"]
    assert withdrawn.state == authorization_pb2.CONSENT_STATE_WITHDRAWN
    assert withdrawn.uses_left == 4  # the read's use counted, before the withdrawal
    withdrawn_at = withdrawn.withdrawn_at.ToDatetime(dt.UTC)
    assert read.used_at.ToDatetime(dt.UTC) <= withdrawn_at
    with side_engine.connect() as connection:
        trail = consent_trail(connection, consent_id, card.license_id)
    assert [(action, decision) for _, action, decision in trail] == [
        ("GRANT_CONSENT", "GRANTED"),
        ("GET_LICENSE_DATA", "PERMIT"),
        ("WITHDRAW_CONSENT", "WITHDRAWN"),
    ]
    times = [at for at, _, _ in trail]
    assert times == sorted(times)  # the trail's order is the order of the times
    assert trail[2][0] == withdrawn_at
    # from the withdrawal on, the code is refused
    assert denied(lambda: data(running, card.license_id, BDCZY, code=consent.code))[0] == "CONSENT_WITHDRAWN"


def test_a_read_that_waits_for_a_withdrawal_under_way_is_refused_and_recorded_after_it(
    running: RunningGateway, side_engine: Engine
) -> None:
    """The withdrawal has taken the consent's lock and read its time, and waits to append its record (the test holds
    the audit chain's lock): a read that comes now is not counted while it waits, and once the withdrawal commits it
    is refused CONSENT_WITHDRAWN, its refusal dated after the withdrawal and on the trail after it."""
    card = id_card(running).license
    consent = grant(running, card.holder.code, uses=5)
    consent_id = consent.consent.consent_id
    with futures.ThreadPoolExecutor(2) as pool, side_engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _AUDIT_LOCK_ID})
        try:
            withdrawing = pool.submit(withdraw, running, consent_id, card.holder.code)
            wait_until_blocked(side_engine, "pg_advisory_xact_lock")
            reading = pool.submit(data, running, card.license_id, BDCZY, code=consent.code)
            wait_until_blocked(side_engine, "uses_left")  # the read's count waits for the withdrawal
        finally:
            holder.rollback()
        withdrawn = withdrawing.result(timeout=30).consent
        with pytest.raises(grpc.RpcError) as caught:
            reading.result(timeout=30)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(caught.value)[0].reason == "CONSENT_WITHDRAWN"
    assert (withdrawn.state, withdrawn.uses_left) == (authorization_pb2.CONSENT_STATE_WITHDRAWN, 5)
    with side_engine.connect() as connection:
        trail = consent_trail(connection, consent_id, card.license_id)
    assert [(action, decision) for _, action, decision in trail] == [
        ("GRANT_CONSENT", "GRANTED"),
        ("WITHDRAW_CONSENT", "WITHDRAWN"),
        ("GET_LICENSE_DATA", "DENY"),
    ]
    times = [at for at, _, _ in trail]
    assert times == sorted(times)
    assert trail[1][0] == withdrawn.withdrawn_at.ToDatetime(dt.UTC)


# --- a copy stamped while its consent ends ----------------------------------------------------------------------------

WHOLE_LICENSE = verification_pb2.UseContext(matter_code="370100-CSSY-091", purpose="测试：凭授权取用营业执照用证副本")
"""In this module's catalog only: a matter of TAX's that lists every field of a 营业执照, whose 注册资本 is made
conditionally shared: a company's consent lets its document through."""


def whole_license_catalog() -> Catalog:
    raw = json.loads(
        (Path(load_bootstrap_catalog.__code__.co_filename).parent.parent / "bootstrap" / "catalog.json").read_text(
            encoding="utf-8"
        )
    )
    (business,) = (t for t in raw["license_types"] if t["code"] == BUSINESS_LICENSE)
    (capital,) = (f for f in business["fields"] if f["key"] == "registered_capital")
    capital["sharing_class"] = "CONDITIONAL"
    raw["matters"].append(
        {
            "code": WHOLE_LICENSE.matter_code,
            "name": "测试事项（营业执照用证副本）",
            "department": TEST_DEPARTMENT,
            "purpose": "测试",
            "materials": [{"type_code": BUSINESS_LICENSE, "fields": [f["key"] for f in business["fields"]]}],
        }
    )
    return Catalog.from_mapping(raw)


@pytest.fixture(params=backend_params())
def clocked_whole(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Clocked]:
    with (
        fresh_database(request.param, tmp_path / "db") as url,
        clocked_gateway(tmp_path / "var", url, whole_license_catalog()) as gateway,
    ):
        yield gateway


def test_a_copy_stamped_while_its_consent_ends_is_refused_and_spends_nothing(
    clocked_whole: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The use of a document's copy is judged when it is counted, after the stamping (up to a minute): a consent
    that ended while the copy was stamped had still been spent and the copy handed out after its end."""
    running, clock = clocked_whole.running, clocked_whole.clock
    license_id, uscc = business_license(running)
    consent = grant(running, uscc, grantee=TAX, matter=WHOLE_LICENSE.matter_code, type_codes=(BUSINESS_LICENSE,),
                    uses=2, days=1)  # fmt: skip
    ask = sharing_pb2.SharingServiceGetLicenseDocumentRequest(
        use=WHOLE_LICENSE, license_id=license_id, consent_code=consent.code
    )
    first = sharing(running).GetLicenseDocument(ask)  # the consent lets the document through
    assert first.consent_id == consent.consent.consent_id
    stamper = running.gateway.sharing._stamper  # type: ignore[union-attr]
    stamp = stamper.stamp
    stamped = threading.Event()

    def slow_stamp(*args: object) -> object:
        made = stamp(*args)
        clock.advance(dt.timedelta(days=1, minutes=1))  # the consent ends while the copy is stamped
        stamped.set()
        return made

    monkeypatch.setattr(stamper, "stamp", slow_stamp)
    reason, _ = denied(lambda: sharing(running).GetLicenseDocument(ask))
    assert stamped.is_set() and reason == "DOCUMENT_EXCEEDS_PERMIT"  # without the consent, as after its end
    (listed,) = (
        authorization(running, PORTAL).ListConsents(authorization_pb2.ListConsentsRequest(holder_code=uscc)).consents
    )
    assert (listed.state, listed.uses_left) == (authorization_pb2.CONSENT_STATE_EXPIRED, 1)  # nothing spent
    with running.gateway.db.engine.connect() as connection:
        records = connection.execute(
            text("SELECT action, decision, reason FROM access_records WHERE license_id = :id ORDER BY seq"),
            {"id": license_id},
        ).all()
    assert tuple(records[-1]) == ("GET_LICENSE_DOCUMENT", "DENY", "DOCUMENT_EXCEEDS_PERMIT")
