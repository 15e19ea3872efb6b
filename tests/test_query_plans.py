"""SQLite's query plans for what a serving gateway asks its store: no statement reads a table that grows with the
registry row by row.

SQLite uses a partial index only when the query's WHERE implies the index's own, as written: ``is_current = 1``
does not imply ``is_current``, so every look-up of a license by number scanned the whole table (100 ms at 200,000
licenses) while every test passed. Here a gateway serves the demo's journeys and the look-ups by number (verify,
claim, get, issue again, batches), every statement its connections run is recorded, and each one's plan is read.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Engine, event, insert

from adapters.demo import run_demo
from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.audit import OWN_LISTINGS, AuditAction, AuditEntry, chain
from gateway.domain.identifiers import LICENSE_ID_ROOT
from gateway.store.database import Database
from gateway.store.models import AccessRequestRow
from gateway.store.repositories import StoredReceipt
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    authorization_pb2_grpc,
    issuance_pb2,
    verification_pb2,
)
from tests.api.test_co_subjects import marriage
from tests.api.test_issuance import unique
from tests.api.test_sharing import BDCZY, ID_CARD, REAL_ESTATE, id_card, person
from tests.api.test_verification import MARKET, batch_issue, change, claim, verify
from tests.conftest import PORTAL, TAX, RunningGateway, backend_params, migrated_database, start_gateway

GROWING = (
    "licenses",
    "license_events",
    "license_documents",
    "receipts",
    "access_records",
    "access_record_subjects",
    "access_requests",
    "consents",
    "store_edits",
)
"""Tables that grow with the registry and its use; the others (members, seals, the catalog's facts) stay small."""


class Statements:
    """The SQL text (with its values, as SQLite's trace gives it) of every statement run while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def connected(self, dbapi_connection: object, _record: object) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(self._heard)

    def _heard(self, sql: str) -> None:
        if self.on:
            with self._lock:
                self.seen.add(sql)


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[RunningGateway, Statements]]:
    statements = Statements()
    event.listen(Engine, "connect", statements.connected)  # before the gateway opens any connection
    try:
        running = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path}/zzgw.db")
        try:
            yield running, statements
        finally:
            running.stop()
    finally:
        event.remove(Engine, "connect", statements.connected)


_NEWEST = re.compile(r"ORDER BY seq DESC LIMIT 1\b")
"""The newest row by its integer key: a scan in key order that stops at the first row (the audit chain's head)."""


_ANY_ROW = re.compile(r"EXISTS \(SELECT 1 FROM (\w+)\)|SELECT 1 FROM (\w+) LIMIT \d+\)")
"""Whether a table has a row at all, or a few (the audit trail's witnesses): a scan that stops at the first rows."""


def scans(database: Path, statements: set[str]) -> dict[str, list[str]]:
    """The statements whose plan scans a growing table, with that plan."""
    found: dict[str, list[str]] = {}
    scan = re.compile(r"SCAN ({})\b".format("|".join(GROWING)))
    with sqlite3.connect(database) as connection:
        for sql in statements:
            if sql.split(None, 1)[0].upper() not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
                continue
            plan = [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]
            any_row = {table for found in _ANY_ROW.findall(sql) for table in found if table}
            scanned = [step for step in plan if (hit := scan.match(step)) and hit[1] not in any_row]
            ordered = _NEWEST.search(sql) and not any("TEMP B-TREE" in step for step in plan)
            if scanned and not (ordered and len(scanned) == 1):
                found[sql[:300]] = plan
    return found


def test_serving_reads_no_growing_table_row_by_row(recorded: tuple[RunningGateway, Statements], tmp_path: Path) -> None:
    running, statements = recorded
    statements.on = True
    run_demo(running.channel, out=lambda _line: None)  # the journeys: issue, verify, documents, status, audit
    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(7)))).license
    number = {"type_code": issued.type_code, "license_number": issued.license_number}
    assert verify(running, **number).license.license_id == issued.license_id
    assert verify(running, type_code=issued.type_code, license_number="SC-NO-SUCH-NUMBER").reason
    answer = claim(running, **number, holder_code=issued.holder.code)
    assert answer.result == verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID
    got = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(**number))
    assert got.license.license_id == issued.license_id
    batch_issue(running, 8)  # a batch's check of the numbers it takes
    change(running, issued.license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    again = {**unique(samples.food_permit(7)), "license_number": issued.license_number, "valid_until": "2031-12-31"}
    reissued = running.issuance(MARKET).IssueLicense(issue_request({**again, "request_id": "re-" + uuid.uuid4().hex}))
    assert reissued.license.license_number == issued.license_number  # 补领: the revoked one is retired
    audit = audit_pb2_grpc.AuditServiceStub(running.channel(MARKET))  # an issuer's records about one holder
    audit.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=issued.holder.code))
    portal = audit_pb2_grpc.AuditServiceStub(running.channel(PORTAL))  # a person's: held, or naming them
    portal.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=issued.holder.code, before=10**6))
    portal.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=issued.holder.code, omit_own_listings=True))
    licenses = authorization_pb2_grpc.AuthorizationServiceStub(running.channel(PORTAL))  # a portal's 我的证照
    # a page after a page (the row it ended at, read again): a husband's ID card and 结婚证
    (husband, born), (wife, _) = person("男"), person("女")
    card = id_card(running, husband, born).license
    marriage(running, husband, wife)
    mine = authorization_pb2.ListConsentableLicensesRequest(holder_code=husband, limit=1)
    first = licenses.ListConsentableLicenses(mine)
    assert len(first.licenses) == 1 and first.next_page_token
    mine.page_token = first.next_page_token
    assert licenses.ListConsentableLicenses(mine).licenses
    until = Timestamp()
    until.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    keyed = authorization_pb2.GrantConsentRequest(  # looked up by the portal's key: by the partial index
        holder_code=card.holder.code,
        grantee_code=REAL_ESTATE,
        matter_code="370100-BDCZY-001",
        type_codes=[card.type_code],
        valid_until=until,
        client_request_id="plans-1",
    )
    assert licenses.GrantConsent(keyed).code == licenses.GrantConsent(keyed).code
    keyed.client_request_id = "plans-2"
    licenses.GrantConsent(keyed)
    # the holder's consents, a page after a page: from the cursor on, by the holder's and the guardian's indexes
    listed = authorization_pb2.ListConsentsRequest(holder_code=card.holder.code, limit=1)
    listed.page_token = licenses.ListConsents(listed).next_page_token
    assert listed.page_token and len(licenses.ListConsents(listed).consents) == 1
    # the husband's log: its consent records' granters, read by their ids
    granted = portal.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=card.holder.code)).records
    assert "PERSON" in [r.consent_granted_by for r in granted]
    # a consumer's keyed request, new and then again: looked up by the requester's key, by the partial index, and
    # once for a new key (the lookup before the use is checked; the unique index guards the write)
    lookups: list[str] = []

    def heard(_c: object, _cursor: object, sql: str, _params: object, _x: object, _many: bool) -> None:
        if "FROM access_requests" in sql and "access_requests.client_request_id =" in sql:
            lookups.append(sql)

    requests = authorization_pb2_grpc.AuthorizationServiceStub(running.channel(REAL_ESTATE))
    asked = authorization_pb2.RequestAccessRequest(
        use=BDCZY, type_code=ID_CARD, duration_days=30, client_request_id="plans-3"
    )
    event.listen(running.gateway.db.engine, "before_cursor_execute", heard)
    try:
        made = requests.RequestAccess(asked).request
    finally:
        event.remove(running.gateway.db.engine, "before_cursor_execute", heard)
    assert len(lookups) == 1, lookups
    assert requests.RequestAccess(asked).request.request_id == made.request_id
    statements.on = False

    assert len(statements.seen) > 50  # the recording heard the gateway's connections
    assert any("AS place" in s and "END >" in s for s in statements.seen)  # the page after a page was read
    assert any("consents.guardian_code" in s and "consents.consent_id IN" in s for s in statements.seen)
    keyset = [s for s in statements.seen if "FROM consents" in s and "consents.consent_id <" in s]
    assert len(keyset) == 2  # the next page of the holder's and of the guardian's
    with sqlite3.connect(tmp_path / "zzgw.db") as connection:
        for sql in keyset:
            plan = [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]
            assert re.search(r"USING INDEX ix_consents_(holder|guardian) \(\w+=\? AND created_at<\?\)", plan[0]), plan
    assert scans(tmp_path / "zzgw.db", statements.seen) == {}
    # by the key's partial index: without its "<> ''", SQLite took the requester's index and read every request of
    # the requester, two or three times a keyed RequestAccess, partly under the write lock (a reviewer, R1)
    by_key = [s for s in statements.seen if "FROM access_requests" in s and "access_requests.client_request_id =" in s]
    assert by_key
    with sqlite3.connect(tmp_path / "zzgw.db") as connection:
        for sql in by_key:
            plan = [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]
            assert any("USING INDEX ux_access_requests_client (requester=? AND" in step for step in plan), plan
    # by the holder's index, not the issuer's: that one walks every record of the issuer's licenses
    by_both = [s for s in statements.seen if "access_records.holder_code =" in s and "access_records.issuer_code" in s]
    assert by_both
    with sqlite3.connect(tmp_path / "zzgw.db") as connection:
        for sql in by_both:
            plan = [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]
            assert any("ix_access_records_holder" in step for step in plan), (sql, plan)
    # a person's records as a co-subject: a range of the subjects' key, for the holder portal and the issuer alike
    named = [s for s in statements.seen if "access_record_subjects.subject_code =" in s]
    assert len(named) >= 2
    with sqlite3.connect(tmp_path / "zzgw.db") as connection:
        for sql in named:
            plan = [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]
            assert any("sqlite_autoindex_access_record_subjects_1 (subject_code=?" in step for step in plan), plan


def _entry(n: int) -> AuditEntry:
    """Record ``n`` of a trail of 500 holders and 20 issuers' licenses, every third naming a co-subject."""
    return AuditEntry(
        at=dt.datetime.now(dt.UTC),
        caller=TAX,
        operator="",
        action=AuditAction.GET_LICENSE_DATA,
        matter_code="370100-BDCZY-001",
        purpose="不动产转移登记",
        license_id=f"L{n}",
        issuer_code=f"ISSUER{n % 20:02d}",
        holder_code=f"H{n % 500}",
        decision="PERMIT",
        subjects=(f"H{n * 7 % 500}",) if n % 3 == 0 else (),
    )


@pytest.mark.parametrize("kind", backend_params())
def test_a_persons_access_log_is_read_by_indexes(kind: str, tmp_path: Path) -> None:
    """ListAccessRecords for a person (records of licenses held, or naming them as a co-subject), a holder portal's
    and an issuer's, reads index ranges on both databases; on PostgreSQL with the statistics of a trail of 20,000
    records, as its planner weighs them."""
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            with db.unit_of_work(write=True) as uow:
                uow.audit.add(chain(0, bytes(32), [_entry(n) for n in range(20000)]))
                uow.commit()
            if kind == "postgresql":
                with db.engine.begin() as connection:
                    connection.exec_driver_sql("ANALYZE access_records")
                    connection.exec_driver_sql("ANALYZE access_record_subjects")
            seen: list[tuple[str, Any]] = []

            def heard(_c: object, _cursor: object, sql: str, params: Any, _x: object, _many: bool) -> None:
                if "access_record_subjects.subject_code =" in sql:
                    seen.append((sql, params))

            event.listen(db.engine, "before_cursor_execute", heard)
            with db.unit_of_work() as uow:
                assert uow.audit.about("H7", code_types=["099"], before_seq=None, limit=100)
                assert uow.audit.about("H7", code_types=["099"], issuer_code="ISSUER07", before_seq=19000, limit=100)
                # a portal leaving out its own listings: a filter on the rows found, as the issuer is
                assert uow.audit.about(
                    "H7", code_types=["099"], before_seq=None, limit=100, omit=(PORTAL, OWN_LISTINGS)
                )
            event.remove(db.engine, "before_cursor_execute", heard)
            assert len(seen) == 3
            with db.engine.connect() as connection:
                for sql, params in seen:
                    explain = "EXPLAIN QUERY PLAN " if kind == "sqlite" else "EXPLAIN "
                    plan = "\n".join(str(row[-1]) for row in connection.exec_driver_sql(explain + sql, params))
                    assert not re.search(r"\bSCAN (access_records|access_record_subjects)\b", plan), plan
                    assert "Seq Scan" not in plan, plan
                    assert re.search(r"access_record_subjects_(pkey|1)\b", plan), plan
                    assert "ix_access_records_holder" in plan, plan
        finally:
            db.dispose()


def _case_receipt(n: int, *, legacy: bool = False) -> StoredReceipt:
    """Receipt ``n`` of 50 cases of one 一件事, most naming no license (as a claim that found none): one stored before
    schema 0035 (``legacy``) has no ``seq``."""
    return StoredReceipt(
        receipt_id=f"R{n:019d}",
        statement=b"{}",
        signature=b"s",
        algorithm="x",
        caller=TAX,
        matter_code="370100-BDCZY-001",
        license_id="" if n % 7 else f"{LICENSE_ID_ROOT}.11100000000013338W001.{n}",
        created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=n),
        bundle_code="QYKB",
        case_id=f"CASE-{n % 50}",
        seq=None if legacy else n,
    )


@pytest.mark.parametrize("kind", backend_params())
def test_a_cases_receipts_are_read_in_the_order_of_an_index(kind: str, tmp_path: Path) -> None:
    """ListCaseReceipts reads a case's receipts in the case's index, in its order, from where the last read stopped:
    with no index on ``seq`` every read of a case read and sorted all its receipts, and a page of a case of 100,000
    receipts read past took 6-17 s (a reviewer). On both databases, on PostgreSQL with the statistics of 20,000."""
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            with db.unit_of_work(write=True) as uow:
                uow.receipts.add([_case_receipt(n, legacy=n < 500) for n in range(20000)])
                uow.commit()
            if kind == "postgresql":
                with db.engine.begin() as connection:
                    connection.exec_driver_sql("ANALYZE receipts")
            seen: list[tuple[str, Any]] = []

            def heard(_c: object, _cursor: object, sql: str, params: Any, _x: object, _many: bool) -> None:
                if "FROM receipts" in sql and "receipts.case_id =" in sql:
                    seen.append((sql, params))

            event.listen(db.engine, "before_cursor_execute", heard)
            with db.unit_of_work() as uow:
                first = uow.receipts.of_case("QYKB", "CASE-7", 5)  # the first page: those before 0035 first
                assert [r.seq for r in first] == [None] * 5
                assert uow.receipts.of_case("QYKB", "CASE-7", 5, (first[-1].created_at, first[-1].receipt_id))
                assert uow.receipts.of_case("QYKB", "CASE-7", 5, 10000)  # after a page's seq
                assert uow.receipts.of_case("QYKB", "CASE-7", 5, 10000, type_codes={"11100000000013338W001"})
            event.remove(db.engine, "before_cursor_execute", heard)
            assert len(seen) == 4
            with db.engine.connect() as connection:
                for sql, params in seen:
                    explain = "EXPLAIN QUERY PLAN " if kind == "sqlite" else "EXPLAIN "
                    plan = "\n".join(str(row[-1]) for row in connection.exec_driver_sql(explain + sql, params))
                    assert "ix_receipts_case_order" in plan, plan
                    assert not re.search(r"\bSCAN receipts\b|TEMP B-TREE|Seq Scan|\bSort\b", plan), plan
        finally:
            db.dispose()


def _access_request(n: int, at: dt.datetime) -> dict[str, Any]:
    """Request ``n`` of 20,000 to 3 issuers, decided and not: every hundredth by CONSUMER07, the others by 19 other
    consumers."""
    return {
        "request_id": f"R{n:031d}",
        "requester": "CONSUMER07" if n % 100 == 7 else f"CONSUMER{n % 19:02d}X",
        "issuer_code": f"ISSUER{n % 3}",
        "type_code": ID_CARD,
        "license_id": "",
        "matter_code": f"370100-BDCZY-{n % 7:03d}",
        "purpose": "不动产转移登记",
        "fields": ["name"],
        "duration_days": 30,
        "state": ("PENDING", "APPROVED", "REJECTED", "EXPIRED", "WITHDRAWN")[n % 5],
        "submitted_at": at,
        "deadline": at + dt.timedelta(days=14),
        "decided_at": None,
        "approved_fields": [],
        "valid_until": None,
        "decision_reason": "",
    }


@pytest.mark.parametrize("kind", backend_params())
def test_a_consumers_own_access_requests_are_read_in_the_order_of_an_index(kind: str, tmp_path: Path) -> None:
    """ListAccessRequests' SUBMITTED view (a consumer's own requests, newest first) reads a page in the index
    (requester, seq) from where the last ended: with only (requester, matter_code), every page read and sorted all
    the requests the consumer ever made, 1 s a page at 200,000 on SQLite (a reviewer, R2). On both databases, on
    PostgreSQL with the statistics of 20,000 requests, 1 in 100 the consumer's. PostgreSQL's planner weighs the rows
    it expects: it reads the primary key backwards instead for a consumer with a larger share (no sort either), and
    sorts the rows before a cursor, found in the index, when it expects no more than a page of them."""
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
            with db.engine.begin() as connection:
                connection.execute(insert(AccessRequestRow), [_access_request(n, at) for n in range(20000)])
                if kind == "postgresql":
                    connection.exec_driver_sql("ANALYZE access_requests")
            seen: list[tuple[str, Any]] = []

            def heard(_c: object, _cursor: object, sql: str, params: Any, _x: object, _many: bool) -> None:
                if "FROM access_requests" in sql and "access_requests.requester =" in sql:
                    seen.append((sql, params))

            event.listen(db.engine, "before_cursor_execute", heard)
            with db.unit_of_work() as uow:
                first = uow.access_requests.page(requester="CONSUMER07", limit=101)  # the first page
                assert [r.request_id for r in first] == [f"R{n:031d}" for n in range(19907, 9807, -100)]
                after = uow.access_requests.page(requester="CONSUMER07", before_seq=first[-1].seq, limit=101)
                assert [r.request_id for r in after] == [f"R{n:031d}" for n in range(9807, 0, -100)]
            event.remove(db.engine, "before_cursor_execute", heard)
            assert len(seen) == 2
            with db.engine.connect() as connection:
                for page, (sql, params) in enumerate(seen):
                    explain = "EXPLAIN QUERY PLAN " if kind == "sqlite" else "EXPLAIN "
                    plan = "\n".join(str(row[-1]) for row in connection.exec_driver_sql(explain + sql, params))
                    assert not re.search(r"\bSCAN access_requests\b|TEMP B-TREE|Seq Scan", plan), plan
                    if kind == "sqlite" or page == 0:  # in the index's order, from its end
                        assert re.search(r"\bix_access_requests_requester_seq\b", plan), plan
                        assert not re.search(r"\bSort\b", plan), plan
                    else:  # the 99 before the cursor, fewer than a page: found in the index (seq < the cursor), sorted
                        assert re.search(
                            r"ix_access_requests_requester_seq[^\n]*\n\s*Index Cond: .*requester.* AND \(?seq <", plan
                        ), plan
        finally:
            db.dispose()
