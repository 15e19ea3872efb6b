"""Co-subjects on the audit trail: a license's uses are on the access log of every person whose 公民身份号码 it states
besides its holder's (a 结婚证's wife, a 出生医学证明's parents), over real gRPC on SQLite and PostgreSQL. The
co-subjects a record names are covered by its hash: a subject row deleted, changed or added is a HASH_MISMATCH at
that record, while a record naming none hashes as every record did before, so an upgraded store still checks.

A data-protection tester's finding: 不动产登记中心 read the wife's 公民身份号码 in full from the husband's 结婚证, and
her portal's access log listed nothing of it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import random
import uuid
from collections.abc import Iterable
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.cli import main
from gateway.domain.audit import GENESIS, AuditAction, AuditEntry, ChainCheck, HeadMemos, record_hash, subjects_of
from gateway.domain.catalog import Catalog
from gateway.domain.identifiers import uscc_problem
from gateway.domain.model import License, LicenseContent, LicenseStatus, RecordSeal, SystemClock
from gateway.services.audit import AuditSigner, AuditTrail
from gateway.services.members import load_bootstrap_catalog
from gateway.store.database import Database
from protos.zzgw.v1 import audit_pb2, audit_pb2_grpc, authorization_pb2, issuance_pb2, sharing_pb2, verification_pb2
from signing.canonical import canonical_json
from tests.api.test_sharing import (
    BDCZY,
    ID_CARD,
    REAL_ESTATE,
    authorization,
    data,
    grant,
    id_card,
    person,
    sharing,
)
from tests.conftest import (
    ADMIN,
    CIVIL,
    MARRIAGE,
    POLICE,
    PORTAL,
    TAX,
    RunningGateway,
    backend_params,
    error_details,
    fresh_database,
    gateway_key,
    migrate_to,
)

MEMOS = HeadMemos(b"the memo secret of these tests, 32+ bytes")


def marriage(running: RunningGateway, husband: str, wife: str) -> str:
    """Issue a 结婚证 held by ``husband`` that states ``wife``'s 公民身份号码; returns its identifier."""
    record = samples.marriage_certificate(random.randrange(1000))
    record = {
        **record,
        "request_id": f"mc-{uuid.uuid4().hex}",
        "license_number": f"J370102-2019-{random.randrange(10**6):06d}",
        "holder": {**record["holder"], "code": husband},
        "fields": {
            **record["fields"],
            "husband_citizen_id": husband,
            "husband_birth_date": f"{husband[6:10]}-{husband[10:12]}-{husband[12:14]}",
            "wife_citizen_id": wife,
            "wife_birth_date": f"{wife[6:10]}-{wife[10:12]}-{wife[12:14]}",
        },
    }
    return str(running.issuance(CIVIL).IssueLicense(issue_request(record)).license.license_id)


def log_of(
    running: RunningGateway, code: str, member: str = PORTAL, **paging: int
) -> audit_pb2.ListAccessRecordsResponse:
    """``ListAccessRecords`` for ``code``: a holder portal's view by default, an issuer's with ``member``; without
    the listings of the log (``LIST_ACCESS_RECORDS``), one of which each call makes (``raw_log_of`` keeps them)."""
    listed = raw_log_of(running, code, member, **paging)
    uses = [r for r in listed.records if r.action != "LIST_ACCESS_RECORDS"]
    return audit_pb2.ListAccessRecordsResponse(records=uses, next_before=listed.next_before)


def raw_log_of(
    running: RunningGateway, code: str, member: str = PORTAL, **paging: int
) -> audit_pb2.ListAccessRecordsResponse:
    stub = audit_pb2_grpc.AuditServiceStub(running.channel(member))
    return stub.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=code, **paging))


def but_whose(records: Iterable[audit_pb2.AccessRecord]) -> list[audit_pb2.AccessRecord]:
    """``records`` without their ``relation`` and ``consent_granted_by``, which are said to each person: what each
    record says, the same on every log that lists it."""
    records = [audit_pb2.AccessRecord().FromString(r.SerializeToString()) for r in records]
    for record in records:
        record.ClearField("relation")
        record.ClearField("consent_granted_by")
    return records


def couple(running: RunningGateway) -> tuple[str, str, str]:
    """A husband, a wife (fresh people of this test) and the husband's 结婚证."""
    (husband, _), (wife, _) = person("男"), person("女")
    return husband, wife, marriage(running, husband, wife)


def test_the_wife_lists_the_uses_of_her_husbands_marriage_certificate(running: RunningGateway) -> None:
    husband, wife, license_id = couple(running)
    consent = grant(running, husband, license_ids=(license_id,), type_codes=())
    read = data(running, license_id, BDCZY, code=consent.code)
    assert {f.key: f.value for f in read.fields}["wife_citizen_id"] == wife  # her data, in full

    held = log_of(running, husband).records
    named = log_of(running, wife).records
    assert [(r.action, r.license_id) for r in named] == [
        ("GET_LICENSE_DATA", license_id),
        ("GRANT_CONSENT", license_id),  # the husband's consent to share it names the license too
    ]
    # what she sees of each record is what the holder sees, with whose it is to each (his, naming her), its type
    assert but_whose(named) == but_whose(held)
    assert [(r.relation, r.type_code, r.type_name) for r in [*held, *named]] == [
        *[("HOLDER", MARRIAGE, "结婚证")] * 2,
        *[("CO_SUBJECT", MARRIAGE, "结婚证")] * 2,
    ]
    # the consent is his, which he granted; not hers to withdraw (CONSENT_NOT_FOUND), and she is told so
    assert [r.consent_granted_by for r in [*held, *named]] == ["", "PERSON", "", "OTHER"]
    (used, _) = named
    assert (used.caller, used.caller_name, used.matter_code, used.decision) == (
        REAL_ESTATE,
        "济南市不动产登记中心",
        BDCZY.matter_code,
        "PERMIT",
    )
    # as a person types her code; a stranger's lists nothing; a mistyped check character is refused, not empty
    assert list(log_of(running, f" {wife.lower()} ").records) == list(named)
    stranger, _ = person()
    assert not log_of(running, stranger).records
    # one whose 18 characters are no valid 统一社会信用代码 either (one in about 31 is: a code given without its type
    # that is a valid USCC is taken as one, and lists nothing; the test had failed so in a fresh-clone run)
    typo = next(t for t in (wife[:17] + c for c in "0123456789X") if t != wife and uscc_problem(t) is not None)
    with pytest.raises(grpc.RpcError) as mistyped:
        log_of(running, typo)
    assert ("holder_code", "BAD_CHECK_CHARACTER") in error_details(mistyped.value)[1]

    # the issuer of the license lists its records for her as for him (a consent's record names no issuer); another
    # issuer none; an admin or a consumer never
    assert [r.seq for r in log_of(running, wife, CIVIL).records] == [used.seq]
    assert but_whose(log_of(running, wife, CIVIL).records) == but_whose(log_of(running, husband, CIVIL).records)
    assert [r.relation for r in log_of(running, wife, CIVIL).records] == ["CO_SUBJECT"]
    assert not log_of(running, wife, POLICE).records
    for member in (ADMIN, TAX):
        with pytest.raises(grpc.RpcError) as denied:
            log_of(running, wife, member)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_husbands_consent_is_on_her_log_but_is_his_to_list_and_withdraw(running: RunningGateway) -> None:
    """A holder-portal tester (D2): the wife's log shows the consent her husband gave for their 结婚证, which she can
    neither find in her ListConsents nor withdraw (CONSENT_NOT_FOUND). As docs/api.md (Guardians) says: ListConsents
    lists the consents a person may withdraw, their own and those granted as a guardian; a co-subject sees the
    records of a consent for that license alone, and the consent stays the holder's."""
    husband, wife, license_id = couple(running)
    granted = grant(running, husband, license_ids=(license_id,), type_codes=())
    assert [(r.action, r.license_id) for r in log_of(running, wife).records] == [("GRANT_CONSENT", license_id)]
    portal = authorization(running, PORTAL)
    assert not portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=wife)).consents
    (his,) = portal.ListConsents(authorization_pb2.ListConsentsRequest(holder_code=husband)).consents
    assert (his.consent_id, his.holder_code, his.guardian_code) == (granted.consent.consent_id, husband, "")
    with pytest.raises(grpc.RpcError) as refused:
        portal.WithdrawConsent(
            authorization_pb2.WithdrawConsentRequest(consent_id=granted.consent.consent_id, holder_code=wife)
        )
    assert (refused.value.code(), error_details(refused.value)[0].reason) == (
        grpc.StatusCode.NOT_FOUND,
        "CONSENT_NOT_FOUND",
    )


def test_her_own_licenses_and_those_naming_her_are_one_log_newest_first(running: RunningGateway) -> None:
    husband, wife, license_id = couple(running)
    card = id_card(running, wife, dt.date.fromisoformat(f"{wife[6:10]}-{wife[10:12]}-{wife[12:14]}")).license
    for _ in range(2):
        data(running, card.license_id, BDCZY, code=grant(running, wife, type_codes=(ID_CARD,)).code)  # hers
        data(running, license_id, BDCZY, code=grant(running, husband, type_codes=(MARRIAGE,)).code)  # naming her
    # another department naming the 不动产登记中心's matter: refused, and on her log as on the holder's
    with pytest.raises(grpc.RpcError) as refused:
        data(running, license_id, BDCZY, member=TAX)
    assert error_details(refused.value)[0].reason == "NOT_MATTER_DEPARTMENT"
    # an access request for the license names it, and her with it
    authorization(running, REAL_ESTATE).RequestAccess(
        authorization_pb2.RequestAccessRequest(
            use=verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose=BDCZY.purpose),
            license_id=license_id,
            fields=["wife_citizen_id"],
            duration_days=5,
        )
    )

    everything = list(log_of(running, wife, limit=500).records)
    assert [r.seq for r in everything] == sorted((r.seq for r in everything), reverse=True)
    assert [(r.action, r.license_id, r.decision) for r in everything[:2]] == [
        ("REQUEST_ACCESS", license_id, "SUBMITTED"),
        ("GET_LICENSE_DATA", license_id, "DENIED"),
    ]
    reads = [r.license_id for r in everything if r.action == "GET_LICENSE_DATA" and r.decision == "PERMIT"]
    assert reads == [license_id, card.license_id, license_id, card.license_id]
    # the husband's log has the records of his license, not those of her ID card
    assert card.license_id not in {r.license_id for r in log_of(running, husband, limit=500).records}

    for limit in (3, 1, len(everything)):  # a page at a time, as the portal pages
        pages, before = [], 0
        while True:
            page = raw_log_of(running, wife, limit=limit, before=before)
            pages.append(list(page.records))
            if not page.next_before:
                break
            before = page.next_before
        assert [r for p in pages for r in p if r.action != "LIST_ACCESS_RECORDS"] == everything
        assert all(pages), limit  # the last page names no next one (a full last page had named an empty one)


def test_a_form_filled_from_the_certificate_is_on_her_log(running: RunningGateway) -> None:
    husband, wife, license_id = couple(running)
    consent = grant(running, husband, type_codes=(MARRIAGE,))
    form = sharing(running, REAL_ESTATE).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=BDCZY,
            holder_code_type="111",
            holder_code=husband,
            field_keys=["wife_citizen_id"],
            consent_code=consent.code,
        )
    )
    assert [(v.license_id, v.value) for v in form.values] == [(license_id, wife)]
    assert [(r.action, r.license_id) for r in log_of(running, wife).records] == [("PREFILL_FORM", license_id)]


def test_a_form_refused_from_the_certificate_is_on_her_log_and_its_issuers(running: RunningGateway) -> None:
    """A form the policy lets nothing be filled of is recorded as a GetLicenseData refused is: one DENY per license
    its keys were looked for in, naming it, so that the 结婚证's issuer and the wife see the attempt (the record had
    named the holder alone, no license, no issuer, no co-subject; found by an auditor). The husband's ID card, which
    no key was looked for in, is not named."""
    (husband, born), (wife, _) = person("男"), person("女")
    card = id_card(running, husband, born).license
    license_id = marriage(running, husband, wife)
    form = sharing(running, REAL_ESTATE).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=BDCZY,
            holder_code_type="111",
            holder_code=husband,
            field_keys=["husband_name", "wife_name", "wife_citizen_id"],
        )
    )
    assert not form.values and {u.reason for u in form.unfilled} == {"NEEDS_AUTHORIZATION"}

    def refusals(records: Iterable[audit_pb2.AccessRecord]) -> list[tuple[str, str, str, str]]:
        return [(r.license_id, r.caller, r.decision, r.reason) for r in records if r.action == "PREFILL_FORM"]

    expected = [(license_id, REAL_ESTATE, "DENY", "NEEDS_AUTHORIZATION")]
    assert refusals(log_of(running, husband).records) == expected
    assert refusals(log_of(running, wife).records) == expected  # her 公民身份号码 was asked for
    assert refusals(log_of(running, husband, member=CIVIL).records) == expected  # the issuer of the 结婚证
    assert card.license_id not in {r.license_id for r in log_of(running, husband, member=POLICE).records}

    # a form another license fills a key of: the certificate's refusal is recorded all the same, beside the card's
    # use (one key the policy allows had kept the attempt off her log and its issuer's; a reviewer)
    consent = grant(running, husband, license_ids=(card.license_id,), type_codes=())
    partly = sharing(running, REAL_ESTATE).PrefillForm(
        sharing_pb2.PrefillFormRequest(
            use=BDCZY,
            holder_code_type="111",
            holder_code=husband,
            field_keys=["name", "wife_name", "wife_citizen_id"],
            consent_code=consent.code,
        )
    )
    assert [v.key for v in partly.values] == ["name"] and {u.key for u in partly.unfilled} == {
        "wife_name",
        "wife_citizen_id",
    }
    (refused_reason,) = {u.reason for u in partly.unfilled}
    newest = [r for r in log_of(running, husband).records if r.action == "PREFILL_FORM"][:2]
    assert sorted((r.license_id, r.decision) for r in newest) == sorted(
        [(card.license_id, "PERMIT"), (license_id, "DENY")]
    )
    assert next((r.license_id, r.decision, r.reason) for r in log_of(running, wife).records) == (
        license_id,
        "DENY",
        refused_reason,
    )
    assert refusals(log_of(running, husband, member=CIVIL).records)[0] == (
        license_id,
        REAL_ESTATE,
        "DENY",
        refused_reason,
    )


def test_a_subject_row_changed_deleted_or_added_is_a_hash_mismatch(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    husband, wife, license_id = couple(running)
    data(running, license_id, BDCZY, code=grant(running, husband, type_codes=(MARRIAGE,)).code)
    (seq,) = [r.seq for r in log_of(running, wife).records if r.action == "GET_LICENSE_DATA"]
    older = log_of(running, husband).records[-1].seq  # the consent's record: it names no license, nor her
    admin = audit_pb2_grpc.AuditServiceStub(running.channel(ADMIN))
    assert admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest()).ok
    monkeypatch.setenv("ZZGW_DATA_DIR", str(running.data_dir))
    monkeypatch.setenv("ZZGW_DATABASE_URL", running.gateway.settings.effective_database_url)
    monkeypatch.setenv("ZZGW_KEY_PASSPHRASE", running.gateway.settings.key_passphrase)
    stranger, _ = person()
    edits = [
        (f"DELETE FROM access_record_subjects WHERE seq = {seq}", seq),  # her name taken off the record
        (f"UPDATE access_record_subjects SET subject_code = '{stranger}' WHERE seq = {seq}", seq),
        (f"INSERT INTO access_record_subjects (subject_code, seq) VALUES ('{stranger}', {older})", older),
    ]
    for edit, at in edits:
        with running.gateway.db.engine.begin() as connection:
            connection.execute(text(edit))
        try:
            broken = admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest())
            assert (broken.ok, broken.first_broken, broken.reason) == (False, at, "HASH_MISMATCH"), edit
            assert main(["audit", "verify"]) == 1
            assert f"BROKEN at {at} (HASH_MISMATCH)" in capsys.readouterr().err
        finally:
            with running.gateway.db.engine.begin() as connection:
                connection.execute(
                    text("DELETE FROM access_record_subjects WHERE seq IN (:a, :b)"), {"a": seq, "b": older}
                )
                connection.execute(
                    text("INSERT INTO access_record_subjects (subject_code, seq) VALUES (:code, :seq)"),
                    {"code": wife, "seq": seq},
                )
        assert admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest()).ok


# --- the store, without a gateway ----------------------------------------------------------------------------------

WIFE = samples.citizen_id(11, dt.date(1992, 3, 8), "370103")


def entry(n: int, subjects: tuple[str, ...] = (), at: dt.datetime | None = None) -> AuditEntry:
    return AuditEntry(
        at=at or dt.datetime.now(dt.UTC),
        caller=REAL_ESTATE,
        operator="",
        action=AuditAction.GET_LICENSE_DATA,
        matter_code=BDCZY.matter_code,
        purpose=BDCZY.purpose,
        license_id=f"L{n}",
        issuer_code=CIVIL,
        holder_code=samples.citizen_id(10, dt.date(1990, 1, 2)),
        decision="PERMIT",
        subjects=subjects,
    )


def test_a_record_naming_no_co_subject_hashes_as_before() -> None:
    """The hash of every record written before co-subjects (``zzgw-audit/1`` over the same mapping) is unchanged."""
    old = entry(1, at=dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC))
    before = {
        "seq": 7,
        "at": "2026-11-01T08:00:00.000000+00:00",
        "caller": REAL_ESTATE,
        "operator": "",
        "action": "GET_LICENSE_DATA",
        "matter_code": BDCZY.matter_code,
        "purpose": BDCZY.purpose,
        "license_id": "L1",
        "issuer_code": CIVIL,
        "holder_code": old.holder_code,
        "decision": "PERMIT",
        "reason": "",
        "receipt_id": "",
    }
    assert record_hash(GENESIS, 7, old) == hashlib.sha256(b"zzgw-audit/1\n" + GENESIS + canonical_json(before)).digest()
    named = dataclasses.replace(old, subjects=(WIFE,))
    assert record_hash(GENESIS, 7, named) != record_hash(GENESIS, 7, old)
    # kept as the store gives them back: sorted, once each
    assert dataclasses.replace(old, subjects=("B", "A", "B")).subjects == ("A", "B")


def stored(content: LicenseContent) -> License:
    """A stored license of ``content`` (``subjects_of`` reads its content only)."""
    now = dt.datetime.now(dt.UTC)
    seal = RecordSeal(algorithm="", key_id="", signature=b"", record_digest=b"", encoding="")
    return License(
        content=content, status=LicenseStatus.ACTIVE, status_reason="", status_changed_at=now, created_at=now, seal=seal
    )


def test_co_subjects_are_the_citizen_ids_a_license_states_of_others() -> None:
    catalog: Catalog = load_bootstrap_catalog()
    record = samples.marriage_certificate(3)
    husband, wife = record["fields"]["husband_citizen_id"], record["fields"]["wife_citizen_id"]
    content = samples.license_content(record, CIVIL)
    license_type = catalog.license_type(MARRIAGE)
    assert subjects_of(stored(content), license_type) == (wife,)  # not the holder, whose field it also states
    swapped = dataclasses.replace(content, holder=dataclasses.replace(content.holder, code=wife))
    assert subjects_of(stored(swapped), license_type) == (husband,)  # the wife holding hers: the husband
    for value in ("", "   ", "110101199003070037"):  # none, blank, not a 公民身份号码 (its check character)
        other = dataclasses.replace(content, fields={**content.fields, "wife_citizen_id": value})
        assert subjects_of(stored(other), license_type) == ()
    typed = dataclasses.replace(content, fields={**content.fields, "wife_citizen_id": f" {wife.lower()} "})
    assert subjects_of(stored(typed), license_type) == (wife.upper(),)  # as a holder code is kept
    assert subjects_of(stored(content), None) == ()  # a type the catalog no longer has
    card = samples.license_content(samples.id_card(3), POLICE)
    assert subjects_of(stored(card), catalog.license_type(ID_CARD)) == ()  # its citizen_id is the holder's own


@pytest.mark.parametrize("kind", backend_params())
def test_an_upgraded_store_still_checks_and_lists_co_subjects_from_then_on(kind: str, tmp_path: Path) -> None:
    key, certificate = gateway_key()
    signer = AuditSigner(key=key, certificate=certificate)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0024")  # a store from before co-subjects
            old = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
            for n in range(6):
                old.record(entry(n, at=long_ago))
            db.migrate()
            trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
            assert trail.check() == ChainCheck(ok=True, records=6, checkpoints=1)
            for n in range(6, 12):
                trail.record(entry(n, (WIFE,), at=long_ago if n < 11 else None))
            assert trail.check() == ChainCheck(ok=True, records=12, checkpoints=2)
            with db.unit_of_work() as uow:
                listed = uow.audit.about(WIFE, code_types=["111"], before_seq=None, limit=3)
                assert [r.seq for r in listed] == [12, 11, 10]
                assert all(r.entry.subjects == (WIFE,) for r in listed)
                assert [r.seq for r in uow.audit.about(WIFE, code_types=["111"], before_seq=10, limit=100)] == [9, 8, 7]
                assert [
                    r.seq
                    for r in uow.audit.about(WIFE, code_types=["111"], issuer_code=POLICE, before_seq=None, limit=9)
                ] == []

            # retention takes the subject rows of the records it removes, and what is left still checks: records 1
            # to 11 are old, cut at record 11 with a checkpoint the prune signs on it (a reviewer, R1)
            assert trail.prune(dt.timedelta(days=365)) == 11
            with db.engine.connect() as connection:
                left = connection.execute(text("SELECT seq FROM access_record_subjects ORDER BY seq")).scalars().all()
            assert left == [12]
            assert trail.check() == ChainCheck(ok=True, records=1, checkpoints=3)
        finally:
            db.dispose()


def test_the_issuers_own_read_of_the_certificate_is_on_her_log(running: RunningGateway) -> None:
    """The 民政局 reading its own record of the couple (GetLicense, GetLicenseDocument) reads her 公民身份号码 too."""
    husband, wife, license_id = couple(running)
    civil = running.issuance(CIVIL)
    civil.GetLicense(issuance_pb2.GetLicenseRequest(license_id=license_id))
    civil.GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=license_id))
    named = [(r.action, r.caller, r.license_id) for r in log_of(running, wife).records]
    assert named == [
        ("ISSUER_GET_LICENSE_DOCUMENT", CIVIL, license_id),
        ("ISSUER_GET_LICENSE", CIVIL, license_id),
    ]
    assert [(r.action, r.license_id) for r in log_of(running, husband).records] == [(a, i) for a, _, i in named]
