"""A consent's withdrawal is dated when it takes effect, and a use is judged when it is counted: no use of a consent
is permitted, counted or put on the trail after the time its withdrawal or its end is recorded at (a reviewer, R2).

The interleavings are made on PostgreSQL, whose writers run at once: a lock held by the test, or a pause in the
gateway's code (monkeypatched), makes the withdrawal wait while a department reads, or a read wait while a withdrawal
runs. Those that need no two writers at once run on either backend, with a clock of the gateway's own: a copy stamped
while its consent or approval ends or is withdrawn is refused, a read judged again after its count failed is dated
then (and never before its count, the clock stepped back), and a request whose deadline passes while its decision
waits expires."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine

from gateway.domain.catalog import Catalog
from gateway.domain.model import License
from gateway.services.members import load_bootstrap_catalog
from gateway.store.database import _AUDIT_LOCK_ID
from gateway.store.repositories import AccessRequestRepository, ConsentRepository, StoredAccessRequest, StoredConsent
from protos.zzgw.v1 import authorization_pb2, sharing_pb2, verification_pb2
from tests.api.test_authorization import APPROVE, WITHDRAW, decide_request, queue, request_access
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
from tests.conftest import (
    MARKET,
    PORTAL,
    TAX,
    RunningGateway,
    backend_params,
    error_details,
    fresh_database,
    initialised_copy,
)

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
            "SELECT at, action, decision FROM access_records WHERE reason = :reason OR reason LIKE :withdrawal "
            "OR (license_id = :license AND action = 'GET_LICENSE_DATA') ORDER BY seq"
        ),
        {"reason": f"consent={consent_id}", "withdrawal": f"consent={consent_id} by=%", "license": license_id},
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
    refused_after_the_withdrawal(caught.value, withdrawn, side_engine, consent_id, card.license_id)


class Pause:
    """A point where a call of the gateway stops until the test lets it go on (the first call only: after
    ``release`` each passes)."""

    def __init__(self) -> None:
        self._reached, self._go = threading.Event(), threading.Event()

    def __call__(self) -> None:
        if not self._go.is_set():
            self._reached.set()
            self._go.wait(30)

    def reached(self) -> None:
        assert self._reached.wait(30), "the call did not come to its pause"

    def release(self) -> None:
        self._go.set()


def paused_record_check(running: RunningGateway, license_id: str, monkeypatch: pytest.MonkeyPatch) -> Pause:
    """A pause in a read of ``license_id`` after its call's time was read (at the stored record's check), before
    it is judged and counted."""
    service = running.gateway.sharing
    assert service is not None and service._record_check is not None
    check = service._record_check
    pause = Pause()

    def paused(license: License) -> object:
        if license.license_id == license_id:
            pause()
        return check(license)

    monkeypatch.setattr(service, "_record_check", paused)
    return pause


def test_a_read_that_comes_while_the_withdrawal_holds_the_consent_waits_and_is_refused_after_it(
    running: RunningGateway, side_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The withdrawal holds the consent's row and has read its time, and has not yet withdrawn it (paused there): a
    read that comes now waits for it at its count and is refused CONSENT_WITHDRAWN, dated after the withdrawal and
    on the trail after it. Were the consent read without its lock (``ConsentRepository.get``), the read was counted
    and permitted in this window, dated after a withdrawal recorded after it (a reviewer's probe, R2)."""
    card = id_card(running).license
    consent = grant(running, card.holder.code, uses=5)
    consent_id = consent.consent.consent_id
    service = running.gateway.authorization
    state_in = service._state_in
    pause = Pause()

    def paused(uow: object, stored: StoredConsent, now: dt.datetime) -> object:
        if stored.consent_id == consent_id:
            pause()  # after the lock and the withdrawal's time, before its UPDATE
        return state_in(uow, stored, now)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "_state_in", paused)
    with futures.ThreadPoolExecutor(2) as pool:
        withdrawing = pool.submit(withdraw, running, consent_id, card.holder.code)
        pause.reached()
        reading = pool.submit(data, running, card.license_id, BDCZY, code=consent.code)
        try:
            wait_until_blocked(side_engine, "uses_left")  # the read's count waits for the withdrawal's row lock
        finally:
            pause.release()
        withdrawn = withdrawing.result(timeout=30).consent
        with pytest.raises(grpc.RpcError) as caught:
            reading.result(timeout=30)
    refused_after_the_withdrawal(caught.value, withdrawn, side_engine, consent_id, card.license_id)


def test_a_read_that_began_before_a_withdrawal_and_is_counted_after_it_is_refused_dated_after_it(
    running: RunningGateway, side_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read has read its time, and the whole withdrawal runs before it is counted: its count fails, and its
    refusal is dated when it was refused, after the withdrawal it follows on the trail. Dated at the call's start,
    the DENY had been on the trail after the withdrawal yet dated before it (a reviewer's probe, R2)."""
    card = id_card(running).license
    consent = grant(running, card.holder.code, uses=5)
    consent_id = consent.consent.consent_id
    pause = paused_record_check(running, card.license_id, monkeypatch)
    with futures.ThreadPoolExecutor(1) as pool:
        reading = pool.submit(data, running, card.license_id, BDCZY, code=consent.code)
        pause.reached()
        try:
            time.sleep(0.01)  # the withdrawal's time well after the read's
            withdrawn = withdraw(running, consent_id, card.holder.code).consent
        finally:
            pause.release()
        with pytest.raises(grpc.RpcError) as caught:
            reading.result(timeout=30)
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
    assert times == sorted(times) and trail[2][0] > withdrawn.withdrawn_at.ToDatetime(dt.UTC)


def test_an_approvals_withdrawal_is_dated_once_it_holds_the_request(
    running: RunningGateway, side_engine: Engine
) -> None:
    """DecideAccessRequest WITHDRAW waits for the request's row (held by the test) and reads its decision time then,
    not at the call's start: the approval's end is the time it takes effect, as a consent's withdrawal's is."""
    card = id_card(running).license
    submitted = request_access(running, license_id=card.license_id, type_code="")
    decide_request(running, submitted.request_id, APPROVE)
    with futures.ThreadPoolExecutor(1) as pool, side_engine.connect() as holder:
        holder.begin()
        holder.execute(
            text("SELECT 1 FROM access_requests WHERE request_id = :id FOR UPDATE"), {"id": submitted.request_id}
        )
        try:
            withdrawing = pool.submit(decide_request, running, submitted.request_id, WITHDRAW, reason="误批，撤回")
            wait_until_blocked(side_engine, "FOR UPDATE")
            time.sleep(0.05)
            released = running.gateway.clock.now()
        finally:
            holder.rollback()
        withdrawn = withdrawing.result(timeout=30)
    assert withdrawn.state == authorization_pb2.ACCESS_REQUEST_STATE_WITHDRAWN
    assert withdrawn.decided_at.ToDatetime(dt.UTC) >= released


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


@contextlib.contextmanager
def whole_license_gateway(kind: str, tmp_path: Path) -> Iterator[Clocked]:
    """A gateway with a clock of its own serving ``whole_license_catalog`` on a fresh store of ``kind``. The store and
    data directory are a copy of a store set up by ``initialise`` (``initialised_copy``: its migrations, members and
    seals made once in the process rather than for each test; the init records the demo catalog's fingerprint either
    way, the catalog being given to the gateway alone), which the gateway's own init then finds set up."""
    (tmp_path / "db").mkdir()
    with fresh_database(kind, tmp_path / "db") as url:
        assert initialised_copy(url, tmp_path / "var")
        with clocked_gateway(tmp_path / "var", url, whole_license_catalog()) as gateway:
            yield gateway


@pytest.fixture(params=backend_params())
def clocked_whole(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Clocked]:
    with whole_license_gateway(request.param, tmp_path) as gateway:
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
    # judged again with the consent as it now stands (ended): a partial permit, so the document is refused
    assert stamped.is_set() and reason == "DOCUMENT_EXCEEDS_PERMIT"
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


def whole_license_read(running: RunningGateway, license_id: str, code: str) -> sharing_pb2.GetLicenseDataResponse:
    return sharing(running).GetLicenseData(
        sharing_pb2.GetLicenseDataRequest(use=WHOLE_LICENSE, license_id=license_id, consent_code=code)
    )


def records_of_license(
    running: RunningGateway, license_id: str, consent_id: str = ""
) -> list[tuple[dt.datetime, str, str, str]]:
    """The records naming ``license_id`` (and those of ``consent_id``: its withdrawal names no license), in the
    trail's order: (at, action, decision, reason)."""
    with running.gateway.db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT at, action, decision, reason FROM access_records WHERE license_id = :id OR reason = :consent "
                "OR reason LIKE :withdrawal ORDER BY seq"
            ),
            {"id": license_id, "consent": f"consent={consent_id}", "withdrawal": f"consent={consent_id} by=%"},
        ).all()
    return [(_utc(row.at), row.action, row.decision, row.reason) for row in rows]


def _utc(at: dt.datetime | str) -> dt.datetime:
    """A record's ``at`` as read: SQLite gives the stored UTC time as text."""
    read = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
    return read if read.tzinfo else read.replace(tzinfo=dt.UTC)


def test_a_read_judged_again_after_the_withdrawal_it_waited_for_is_dated_when_it_was_judged(
    clocked_whole: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read began, then the consent was withdrawn before its use was counted: judged again, it is a permit of the
    unconditional fields, 注册资本 withheld CONSENT_WITHDRAWN. It is dated (``used_at``, the record's ``at``) when it
    was judged so, after the withdrawal: dated at the call's start, it said that the field was withheld because of
    a withdrawal it was dated before, and was on the trail after the withdrawal yet dated before it (a reviewer,
    R4)."""
    running, clock = clocked_whole.running, clocked_whole.clock
    license_id, uscc = business_license(running)
    consent = grant(running, uscc, grantee=TAX, matter=WHOLE_LICENSE.matter_code, type_codes=(BUSINESS_LICENSE,),
                    uses=2, days=1)  # fmt: skip
    pause = paused_record_check(running, license_id, monkeypatch)
    with futures.ThreadPoolExecutor(1) as pool:
        reading = pool.submit(whole_license_read, running, license_id, consent.code)
        pause.reached()
        try:
            clock.advance(dt.timedelta(seconds=5))
            withdrawn = withdraw(running, consent.consent.consent_id, uscc).consent
        finally:
            pause.release()
        read = reading.result(timeout=30)
    withdrawn_at = withdrawn.withdrawn_at.ToDatetime(dt.UTC)
    withheld = [(w.key, w.reason) for w in read.withheld if w.reason != "EMPTY"]  # 核准日期 not stated
    assert withheld == [("registered_capital", "CONSENT_WITHDRAWN")]
    assert not read.consent_id and "registered_capital" not in fields_of(read)
    assert read.used_at.ToDatetime(dt.UTC) > withdrawn_at
    trail = records_of_license(running, license_id, consent.consent.consent_id)
    *_, (withdrawal_at, withdrawal, _, _), (read_at, action, decision, _) = trail
    assert (withdrawal, action, decision) == ("WITHDRAW_CONSENT", "GET_LICENSE_DATA", "PERMIT")
    assert withdrawal_at == withdrawn_at < read_at == read.used_at.ToDatetime(dt.UTC)


def test_a_clock_stepped_back_after_a_failed_count_does_not_make_the_consent_live_again(
    clocked_whole: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count finds the consent past its end; the clock is then stepped back (NTP) to before that end. The read
    is judged again at the count's time, not earlier: the consent is expired for both, and the read is answered and
    recorded. Judged at the clock's new time, the policy found the consent live where the store had not counted it:
    CONSENT_CHANGED, and no record of the answered call (a reviewer, R5)."""
    running, clock = clocked_whole.running, clocked_whole.clock
    license_id, uscc = business_license(running)
    consent = grant(running, uscc, grantee=TAX, matter=WHOLE_LICENSE.matter_code, type_codes=(BUSINESS_LICENSE,),
                    uses=2, days=1)  # fmt: skip
    ends = consent.consent.valid_until.ToDatetime(dt.UTC)
    service = running.gateway.sharing
    assert service is not None and service._record_check is not None
    check, use = service._record_check, ConsentRepository.use

    def late_check(license: License) -> object:
        if license.license_id == license_id:  # judged first at the call's time, before the end; counted after it
            clock.advance(ends - clock.now() + dt.timedelta(milliseconds=700))
        return check(license)

    def stepped_back(self: ConsentRepository, consent_id: str, now: dt.datetime) -> int | None:
        left = use(self, consent_id, now)
        if consent_id == consent.consent.consent_id:
            clock.advance(dt.timedelta(seconds=-2))
        return left

    monkeypatch.setattr(service, "_record_check", late_check)
    monkeypatch.setattr(ConsentRepository, "use", stepped_back)
    before = len(records_of_license(running, license_id))
    read = whole_license_read(running, license_id, consent.code)
    withheld = [(w.key, w.reason) for w in read.withheld if w.reason != "EMPTY"]  # 核准日期 not stated
    assert withheld == [("registered_capital", "CONSENT_EXPIRED")]
    assert read.used_at.ToDatetime(dt.UTC) >= ends
    records = records_of_license(running, license_id)
    assert len(records) == before + 1 and records[-1][1:3] == ("GET_LICENSE_DATA", "PERMIT")
    assert records[-1][0] == read.used_at.ToDatetime(dt.UTC)


def test_a_request_whose_deadline_passes_while_its_decision_waits_for_it_expires(
    clocked_whole: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DecideAccessRequest reads its time once it holds the request: a deadline that passed while it waited for the
    request's lock expires the request, and the late decision is refused REQUEST_EXPIRED."""
    running, clock = clocked_whole.running, clocked_whole.clock
    license_id, _ = business_license(running)
    submitted = request_access(running, TAX, WHOLE_LICENSE, type_code=BUSINESS_LICENSE, license_id=license_id)
    lock = AccessRequestRepository.lock

    def slow_lock(self: AccessRequestRepository, request_id: str) -> StoredAccessRequest | None:
        held = lock(self, request_id)
        if request_id == submitted.request_id:
            clock.advance(dt.timedelta(days=30))  # its 10 working days pass while the decision waits
        return held

    monkeypatch.setattr(AccessRequestRepository, "lock", slow_lock)
    with pytest.raises(grpc.RpcError) as caught:
        decide_request(running, submitted.request_id, APPROVE, member=MARKET)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value)[0].reason == "REQUEST_EXPIRED"
    (listed,) = (r for r in queue(running, MARKET) if r.request_id == submitted.request_id)
    assert listed.state == authorization_pb2.ACCESS_REQUEST_STATE_EXPIRED


# --- a copy whose approval ends or is withdrawn while it is stamped ---------------------------------------------------


def approved_copy(running: RunningGateway) -> tuple[str, authorization_pb2.AccessRequest, Callable[[], object]]:
    """A 营业执照 whose document TAX may have under WHOLE_LICENSE by MARKET's approval for 1 day (no consent): its
    id, the approval, and the call for its copy (made once here)."""
    license_id, _ = business_license(running)
    submitted = request_access(running, TAX, WHOLE_LICENSE, type_code=BUSINESS_LICENSE, license_id=license_id,
                               duration_days=1)  # fmt: skip
    approved = decide_request(running, submitted.request_id, APPROVE, member=MARKET)
    ask = sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=WHOLE_LICENSE, license_id=license_id)

    def copy() -> object:
        return sharing(running).GetLicenseDocument(ask)

    assert copy().pdf  # the approval lets the document through
    return license_id, approved, copy


def stamping(running: RunningGateway, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], None]) -> None:
    """Run ``meanwhile`` while the next copy is stamped (after the stamp is made, before its use is settled)."""
    stamper = running.gateway.sharing._stamper  # type: ignore[union-attr]
    stamp = stamper.stamp
    done = threading.Event()

    def slow_stamp(*args: object) -> object:
        made = stamp(*args)
        if not done.is_set():
            done.set()
            meanwhile()
        return made

    monkeypatch.setattr(stamper, "stamp", slow_stamp)


def test_a_copy_whose_approval_ends_while_it_is_stamped_is_refused(
    clocked_whole: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The approvals are judged again when the copy is settled, after the stamping (up to a minute): an approval
    that ended meanwhile had still let the copy through after its end (a reviewer, R1)."""
    running, clock = clocked_whole.running, clocked_whole.clock
    license_id, approved, copy = approved_copy(running)
    stamping(running, monkeypatch, lambda: clock.advance(dt.timedelta(days=1, minutes=1)))
    reason, _ = denied(copy)
    assert reason == "DOCUMENT_EXCEEDS_PERMIT"  # 注册资本 withheld APPROVAL_EXPIRED
    at, action, decision, recorded = records_of_license(running, license_id)[-1]
    assert (action, decision, recorded) == ("GET_LICENSE_DOCUMENT", "DENY", "DOCUMENT_EXCEEDS_PERMIT")
    assert at >= approved.valid_until.ToDatetime(dt.UTC)  # dated when it was refused, after the end


def test_a_copy_whose_approval_is_withdrawn_while_it_is_stamped_is_refused_after_the_withdrawal(
    clocked_whole: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DecideAccessRequest WITHDRAW answered while a copy is stamped: the copy is refused, its refusal dated after
    the withdrawal and on the trail after it. It had been handed out after the withdrawal's answer (a reviewer,
    R1)."""
    running, clock = clocked_whole.running, clocked_whole.clock
    license_id, approved, copy = approved_copy(running)
    withdrawn: list[authorization_pb2.AccessRequest] = []

    def withdrawal() -> None:
        clock.advance(dt.timedelta(seconds=5))
        withdrawn.append(decide_request(running, approved.request_id, WITHDRAW, member=MARKET, reason="误批，撤回"))

    stamping(running, monkeypatch, withdrawal)
    reason, _ = denied(copy)
    assert reason == "DOCUMENT_EXCEEDS_PERMIT"  # 注册资本 withheld APPROVAL_WITHDRAWN
    (done,) = withdrawn
    assert done.state == authorization_pb2.ACCESS_REQUEST_STATE_WITHDRAWN
    *_, (decided_at, decided, _, _), (at, action, decision, _) = records_of_license(running, license_id)
    assert (decided, action, decision) == ("DECIDE_ACCESS_REQUEST", "GET_LICENSE_DOCUMENT", "DENY")
    assert decided_at == done.decided_at.ToDatetime(dt.UTC) < at


@pytest.fixture(params=[POSTGRES])
def clocked_whole_pg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Clocked]:
    with whole_license_gateway(request.param, tmp_path) as gateway:
        yield gateway


def test_a_copy_settled_while_its_approval_is_being_withdrawn_waits_for_the_withdrawal(
    clocked_whole_pg: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The withdrawal holds the approval's row and has read its time, not yet committed (paused there), when a
    copy comes to be settled: the copy's transaction waits for it (the approvals are read again under a share
    lock) and is refused, dated after the withdrawal and on the trail after it. Read without the lock, the
    approval still stood, and the copy went out after the withdrawal (a reviewer, R1)."""
    running = clocked_whole_pg.running
    license_id, approved, copy = approved_copy(running)
    side_engine = create_engine(running.gateway.db.engine.url)
    stamped, locked = Pause(), Pause()
    stamping(running, monkeypatch, stamped)
    lock = AccessRequestRepository.lock

    def paused_lock(self: AccessRequestRepository, request_id: str) -> StoredAccessRequest | None:
        held = lock(self, request_id)
        if request_id == approved.request_id:
            locked()
        return held

    monkeypatch.setattr(AccessRequestRepository, "lock", paused_lock)
    try:
        with futures.ThreadPoolExecutor(2) as pool:
            copying = pool.submit(copy)
            stamped.reached()
            withdrawing = pool.submit(
                decide_request, running, approved.request_id, WITHDRAW, member=MARKET, reason="误批，撤回"
            )
            locked.reached()
            stamped.release()
            try:
                wait_until_blocked(side_engine, "FOR SHARE")  # the copy waits for the withdrawal
            finally:
                locked.release()
            done = withdrawing.result(timeout=30)
            with pytest.raises(grpc.RpcError) as caught:
                copying.result(timeout=30)
    finally:
        side_engine.dispose()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(caught.value)[0].reason == "DOCUMENT_EXCEEDS_PERMIT"
    *_, (decided_at, decided, _, _), (at, action, decision, _) = records_of_license(running, license_id)
    assert (decided, action, decision) == ("DECIDE_ACCESS_REQUEST", "GET_LICENSE_DOCUMENT", "DENY")
    assert decided_at == done.decided_at.ToDatetime(dt.UTC) < at


# --- a copy is judged again on the approvals it was let through on, and on those alone ------------------------------


def test_a_copy_whose_approval_is_withdrawn_is_not_let_through_by_one_decided_while_it_was_stamped(
    clocked_whole: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the copy is stamped, its approval A is withdrawn and a new request B of the same department for the
    same license is approved: the copy is judged again on A alone, and refused, dated after both. Judged again on
    every approval read again, it went out on B, recorded (and stamped) as a use of B at the call's start, before B
    existed (a reviewer's R1 of cd1acb5). The retry is let through on B, dated after it."""
    running, clock = clocked_whole.running, clocked_whole.clock
    license_id, approved, copy = approved_copy(running)
    decided: list[authorization_pb2.AccessRequest] = []

    def meanwhile() -> None:
        clock.advance(dt.timedelta(seconds=5))
        decided.append(decide_request(running, approved.request_id, WITHDRAW, member=MARKET, reason="误批，撤回"))
        clock.advance(dt.timedelta(seconds=5))
        submitted = request_access(running, TAX, WHOLE_LICENSE, type_code=BUSINESS_LICENSE, license_id=license_id,
                                   duration_days=1)  # fmt: skip
        decided.append(decide_request(running, submitted.request_id, APPROVE, member=MARKET))

    stamping(running, monkeypatch, meanwhile)
    reason, _ = denied(copy)
    assert reason == "DOCUMENT_EXCEEDS_PERMIT"  # 注册资本 withheld APPROVAL_WITHDRAWN
    withdrawn, renewed = decided
    renewed_at = renewed.decided_at.ToDatetime(dt.UTC)
    at, action, decision, recorded = records_of_license(running, license_id)[-1]
    assert (action, decision, recorded) == ("GET_LICENSE_DOCUMENT", "DENY", "DOCUMENT_EXCEEDS_PERMIT")
    assert withdrawn.decided_at.ToDatetime(dt.UTC) < renewed_at <= at
    again = copy()
    assert isinstance(again, sharing_pb2.SharingServiceGetLicenseDocumentResponse)
    at, action, decision, recorded = records_of_license(running, license_id)[-1]
    assert (action, decision, recorded) == ("GET_LICENSE_DOCUMENT", "PERMIT", f"approval={renewed.request_id}")
    assert renewed_at <= at == again.used_at.ToDatetime(dt.UTC)


def test_a_copy_is_read_again_on_the_approvals_it_was_let_through_on_alone(
    clocked_whole: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once stamped, a copy reads again (under a share lock) the approvals that let it through, not every decided
    request of the department for the matter (withdrawn, rejected, long ended: a cost growing with that history,
    and a lock a prune's DELETE could deadlock with); a copy let through on no approval reads none again (a
    reviewer's R2 of cd1acb5)."""
    running = clocked_whole.running
    license_id, uscc = business_license(running)
    old = request_access(running, TAX, WHOLE_LICENSE, type_code=BUSINESS_LICENSE, license_id=license_id,
                         duration_days=1)  # fmt: skip
    decide_request(running, old.request_id, APPROVE, member=MARKET)
    decide_request(running, old.request_id, WITHDRAW, member=MARKET, reason="误批，撤回")
    consent = grant(running, uscc, grantee=TAX, matter=WHOLE_LICENSE.matter_code, type_codes=(BUSINESS_LICENSE,),
                    uses=2, days=1)  # fmt: skip
    read_again: list[tuple[str, ...]] = []
    share_locked = AccessRequestRepository.share_locked

    def spied(self: AccessRequestRepository, request_ids: Sequence[str]) -> list[StoredAccessRequest]:
        read_again.append(tuple(request_ids))
        return share_locked(self, request_ids)

    monkeypatch.setattr(AccessRequestRepository, "share_locked", spied)
    by_consent = sharing(running).GetLicenseDocument(
        sharing_pb2.SharingServiceGetLicenseDocumentRequest(
            use=WHOLE_LICENSE, license_id=license_id, consent_code=consent.code
        )
    )
    assert by_consent.consent_id == consent.consent.consent_id and read_again == []
    _, approved, copy = approved_copy(running)  # its own copy is the first read again
    copy()
    assert read_again == [(approved.request_id,), (approved.request_id,)]


def test_a_copy_waits_for_no_prune_of_the_departments_ended_requests(
    clocked_whole_pg: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prune (``zzgw audit prune``) is removing ended requests of the department for the matter, not yet
    committed, when a copy let through by a live approval is settled: the copy locks its approval's row alone, which
    no prune removes, and goes out at once. It had waited for the prune's DELETE (its FOR SHARE took every decided
    request of the department for the matter), and could deadlock with it: the two took those rows in different
    orders (a reviewer's R3 of cd1acb5)."""
    running, clock = clocked_whole_pg.running, clocked_whole_pg.clock
    license_id, _ = business_license(running)
    for _ in range(2):
        old = request_access(running, TAX, WHOLE_LICENSE, type_code=BUSINESS_LICENSE, license_id=license_id,
                             duration_days=1)  # fmt: skip
        decide_request(running, old.request_id, APPROVE, member=MARKET)
        decide_request(running, old.request_id, WITHDRAW, member=MARKET, reason="误批，撤回")
    clock.advance(dt.timedelta(days=40))  # past their deadlines, and past a retention of a day
    _, _, copy = approved_copy(running)
    cutoff = clock.now() - dt.timedelta(days=1)
    with futures.ThreadPoolExecutor(1) as pool, running.gateway.db.unit_of_work(write=True) as uow:
        assert uow.access_requests.delete_ended(cutoff, after=None, through=2**62) == 2  # a prune's batch, held
        copying = pool.submit(copy)
        made = copying.result(timeout=15)  # the uow is rolled back first on a failure, and the copy then ends
        uow.commit()
    assert isinstance(made, sharing_pb2.SharingServiceGetLicenseDocumentResponse) and made.pdf


@pytest.fixture(params=backend_params()[:1])
def clocked_whole_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Clocked]:
    with whole_license_gateway(request.param, tmp_path) as gateway:
        yield gateway


def test_on_sqlite_a_copy_settled_while_its_approvals_withdrawal_is_under_way_waits_for_it(
    clocked_whole_sqlite: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's counterpart of the FOR SHARE test: the withdrawal has its writer's turn and has read its time (paused
    there), when a copy stamped since comes to be settled. The copy reads its approval again in a writer's turn of
    its own, so after the withdrawal commits, and is refused, dated after it. Read outside a writer's turn, the
    approval still stood (the withdrawal not committed), and the copy went out after the withdrawal, recorded as a
    permit dated after it (a reviewer's R4 of cd1acb5)."""
    running = clocked_whole_sqlite.running
    license_id, approved, copy = approved_copy(running)
    held = Pause()
    expire = AccessRequestRepository.expire_overdue

    def paused_expiry(self: AccessRequestRepository, now: dt.datetime, *, request_id: str | None = None) -> int:
        if request_id == approved.request_id:
            held()  # in the withdrawal's writer's turn, after its time, before its UPDATE
        return expire(self, now, request_id=request_id)

    monkeypatch.setattr(AccessRequestRepository, "expire_overdue", paused_expiry)
    copier: list[int] = []
    stamping(running, monkeypatch, lambda: copier.append(threading.get_ident()))
    db = running.gateway.db
    unit_of_work = db.unit_of_work
    settling = threading.Event()

    def watched(*, write: bool = False) -> object:
        if copier and threading.get_ident() == copier[0]:
            settling.set()  # the stamped copy's first unit of work: where it reads its approval again
        return unit_of_work(write=write)

    monkeypatch.setattr(db, "unit_of_work", watched)
    with futures.ThreadPoolExecutor(2) as pool:
        withdrawing = pool.submit(decide_request, running, approved.request_id, WITHDRAW, member=MARKET, reason="误批")
        held.reached()
        copying = pool.submit(copy)
        try:
            assert settling.wait(30), "the copy was not stamped"
            time.sleep(0.3)  # a read outside the writer's turn is done by now, before the withdrawal commits
        finally:
            held.release()
        done = withdrawing.result(timeout=30)
        with pytest.raises(grpc.RpcError) as caught:
            copying.result(timeout=30)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(caught.value)[0].reason == "DOCUMENT_EXCEEDS_PERMIT"
    *_, (decided_at, decided, _, _), (at, action, decision, _) = records_of_license(running, license_id)
    assert (decided, action, decision) == ("DECIDE_ACCESS_REQUEST", "GET_LICENSE_DOCUMENT", "DENY")
    assert decided_at == done.decided_at.ToDatetime(dt.UTC) <= at


def refused_after_the_withdrawal(
    error: grpc.RpcError, withdrawn: authorization_pb2.Consent, side_engine: Engine, consent_id: str, license_id: str
) -> None:
    """The read was refused CONSENT_WITHDRAWN, the consent spent nothing, and the trail has the withdrawal before the
    refusal, in time order, dated as the withdrawal's answer says."""
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(error)[0].reason == "CONSENT_WITHDRAWN"
    assert (withdrawn.state, withdrawn.uses_left) == (authorization_pb2.CONSENT_STATE_WITHDRAWN, 5)
    with side_engine.connect() as connection:
        trail = consent_trail(connection, consent_id, license_id)
    assert [(action, decision) for _, action, decision in trail] == [
        ("GRANT_CONSENT", "GRANTED"),
        ("WITHDRAW_CONSENT", "WITHDRAWN"),
        ("GET_LICENSE_DATA", "DENY"),
    ]
    times = [at for at, _, _ in trail]
    assert times == sorted(times) and trail[1][0] == withdrawn.withdrawn_at.ToDatetime(dt.UTC)
