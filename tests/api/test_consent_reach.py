"""What a holder's consent may name, over real gRPC (a holder-portal tester, D1, D3, D4, D5): a consent that would let
nothing through (a 营业执照 every matter reads without one, a 护照 no one is given) is refused, as RequestAccess
refuses the same case; a consent names a license in force; and ListConsentableLicenses lists exactly what a grant
takes, with the matters it serves, a page at a time."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import event

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.paging import Listing
from gateway.services.issuance import IssuanceService
from gateway.store.repositories import HolderLicenseRepository
from protos.zzgw.v1 import authorization_pb2, common_pb2, issuance_pb2, sharing_pb2
from tests.api import test_sharing
from tests.api.test_authorization import refused
from tests.api.test_issuance import change, unique
from tests.api.test_sharing import (
    BDCZY,
    BUSINESS_LICENSE,
    COMPANY_FIELDS,
    CSSY,
    FPSL,
    HANDLERS,
    ID_CARD,
    NAME_ONLY,
    NEVER_SHARED_FIELD,
    PASSPORT,
    PHOTO_ONLY,
    QYKZ,
    SBZY,
    Clocked,
    authorization,
    business_license,
    data,
    grant,
    id_card,
    passport,
    person,
    records_of,
)
from tests.conftest import MARKET, POLICE, PORTAL, TAX, RunningGateway, descriptions, error_details

clocked = test_sharing.clocked  # the fixture: a gateway on the test catalog, with a clock of its own

FOOD_PERMIT = samples.FOOD_PERMIT


def grant_request(
    running: RunningGateway, holder_code: str, matter: str, *, license_ids: tuple[str, ...] = (), **changes: Any
) -> authorization_pb2.GrantConsentRequest:
    until = Timestamp()
    until.FromDatetime(running.gateway.clock.now() + dt.timedelta(days=7))
    values: dict[str, Any] = {
        "holder_code": holder_code,
        "grantee_code": HANDLERS[matter],
        "matter_code": matter,
        "license_ids": list(license_ids),
        "valid_until": until,
        **changes,
    }
    return authorization_pb2.GrantConsentRequest(**values)


def refused_grant(running: RunningGateway, request: authorization_pb2.GrantConsentRequest) -> tuple[Any, ...]:
    """The refusal of a grant: its status, reason, violations, descriptions and metadata."""
    with pytest.raises(grpc.RpcError) as caught:
        authorization(running, PORTAL).GrantConsent(request)
    info, violations = error_details(caught.value)
    return caught.value.code(), info.reason, violations, descriptions(caught.value), dict(info.metadata)


def consents_of(running: RunningGateway, holder_code: str) -> list[authorization_pb2.Consent]:
    return list(
        authorization(running, PORTAL)
        .ListConsents(authorization_pb2.ListConsentsRequest(holder_code=holder_code))
        .consents
    )


def consentable(
    running: RunningGateway, holder_code: str, **fields: Any
) -> authorization_pb2.ListConsentableLicensesResponse:
    return authorization(running, PORTAL).ListConsentableLicenses(
        authorization_pb2.ListConsentableLicensesRequest(holder_code=holder_code, **fields)
    )


# --- D1: a consent lets something through, or it is refused ----------------------------------------------------------


def test_a_consent_to_what_the_matter_reads_without_one_is_refused(clocked: Clocked) -> None:
    """A consent for a 营业执照 (无条件共享) had been granted, listed ACTIVE and withdrawn, the holder told 已授权 and
    已撤回, while the department read the license the same either way (D1). It is refused as RequestAccess refuses
    the same case, by type and by license alike, and nothing is granted or recorded."""
    running = clocked.running
    license_id, uscc = business_license(running)
    for named, field in (
        ({"type_codes": [BUSINESS_LICENSE]}, "type_codes[0]"),
        ({"license_ids": [license_id]}, "license_ids[0]"),
    ):
        code, reason, violations, said, _ = refused_grant(
            running, grant_request(running, uscc, FPSL.matter_code, **named)
        )
        assert (code, reason, violations) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "NO_CONSENT_NEEDED",
            [(field, "NO_CONSENT_NEEDED")],
        )
        assert said[(field, "NO_CONSENT_NEEDED")] == (
            "事项 370100-FPSL-001（发票申领）所用的营业执照信息无条件共享，无需授权，办理部门可直接调取"
            "（no consent is needed: the matter reads this license type unconditionally）"
        )
    assert not consents_of(running, uscc)
    assert not [r for r in records_of(running, uscc) if r.action == "GRANT_CONSENT"]

    # a material with a conditional field among unconditional ones takes a consent, which lets that field through
    granted = grant(running, uscc, grantee=TAX, matter=COMPANY_FIELDS.matter_code, license_ids=(license_id,),
                    type_codes=())  # fmt: skip
    read = data(running, license_id, COMPANY_FIELDS, code=granted.code)
    assert {f.key: f.basis for f in read.fields} == {
        "company_name": sharing_pb2.SHARING_BASIS_UNCONDITIONAL,
        "uscc": sharing_pb2.SHARING_BASIS_UNCONDITIONAL,
        "registered_capital": sharing_pb2.SHARING_BASIS_CONSENT,
    }
    assert read.consent_id == granted.consent.consent_id


def test_a_consent_that_could_let_nothing_through_is_refused(clocked: Clocked) -> None:
    """Under a matter that lists only what is never given out (an ID card's photo, a 护照: 不予共享) a consent lets
    nothing through: NEVER_SHARED, so the portal tells the holder to show the license instead. A consent naming one
    such item beside one that needs it is refused whole, naming the item: the holder is not told 已授权 for a
    license no department will read. A material whose shared fields are unconditional beside one never shared is
    NO_CONSENT_NEEDED: the consent would change nothing either way."""
    running = clocked.running
    code, born = person()
    card = id_card(running, code, born).license
    passport(running, code, born)
    cases = (
        (PHOTO_ONLY.matter_code, {"type_codes": [ID_CARD]}, "type_codes[0]", "NEVER_SHARED"),
        (PHOTO_ONLY.matter_code, {"license_ids": [card.license_id]}, "license_ids[0]", "NEVER_SHARED"),
        (CSSY.matter_code, {"type_codes": [ID_CARD, PASSPORT]}, "type_codes[1]", "NEVER_SHARED"),
    )
    for matter, named, field, reason in cases:
        status, first, violations, said, _ = refused_grant(running, grant_request(running, code, matter, **named))
        assert (status, first, violations) == (grpc.StatusCode.INVALID_ARGUMENT, reason, [(field, reason)]), named
    assert said[(field, reason)] == (
        "事项 370100-CSSY-001（测试事项）所用的护照信息不予共享，授权也不能调取，请持证人出示证照供核验"
        "（nothing to consent to: the matter is never given this license type; the holder shows the license to be "
        "verified）"
    )
    assert not consents_of(running, code)
    assert grant(running, code, grantee=TAX, matter=CSSY.matter_code, type_codes=(ID_CARD,)).consent.consent_id

    permit = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(3)))).license
    status, first, violations, _, _ = refused_grant(
        running, grant_request(running, permit.holder.code, NEVER_SHARED_FIELD.matter_code, type_codes=[FOOD_PERMIT])
    )
    assert (status, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("type_codes[0]", "NO_CONSENT_NEEDED")])


# --- D5: a consent names a license in force ----------------------------------------------------------------------


def amend(running: RunningGateway, issuer: str, license_id: str, fields: dict[str, str], reason: str) -> str:
    """The identifier of the version ``issuer``'s amendment of ``license_id`` makes."""
    return (
        running.issuance(issuer)
        .AmendLicense(
            issuance_pb2.AmendLicenseRequest(
                request_id="am-" + uuid.uuid4().hex, license_id=license_id, fields=fields, reason=reason
            )
        )
        .license.license_id
    )


def amend_card(running: RunningGateway, license_id: str) -> str:
    return amend(running, POLICE, license_id, {"address": "山东省济南市历城区工业南路1号"}, "住址变更")


def test_a_consent_names_a_license_in_force(clocked: Clocked) -> None:
    """A consent naming a revoked 居民身份证 had been granted without a word, and its code then released the card's
    data, its number in full (D5). A license named is judged by its version in force: revoked, suspended or past its
    end is FAILED_PRECONDITION / LICENSE_NOT_IN_FORCE, naming the field and the status; a superseded version whose
    version in force is valid is taken (a consent stays with a license through its amendments)."""
    running = clocked.running
    revoked, suspended = (id_card(running).license for _ in range(2))
    change(running, revoked.license_id, issuance_pb2.STATUS_ACTION_REVOKE, member=POLICE)
    change(running, suspended.license_id, issuance_pb2.STATUS_ACTION_SUSPEND, member=POLICE)
    for card, status, words in ((revoked, "REVOKED", "已吊销或撤销"), (suspended, "SUSPENDED", "已暂停使用")):
        code, reason, violations, _, metadata = refused_grant(
            running, grant_request(running, card.holder.code, BDCZY.matter_code, license_ids=(card.license_id,))
        )
        assert (code, reason, violations) == (grpc.StatusCode.FAILED_PRECONDITION, "LICENSE_NOT_IN_FORCE", [])
        assert metadata == {"field": "license_ids[0]", "status": status}
        with pytest.raises(grpc.RpcError) as caught:
            authorization(running, PORTAL).GrantConsent(
                grant_request(running, card.holder.code, BDCZY.matter_code, license_ids=(card.license_id,))
            )
        assert caught.value.details() == (
            f"license_ids[0]：该证照{words}，不能授权，请指明持证人现行有效的证照"
            f"（license_ids[0]: the license is {status.lower()}: a consent names a license in force）"
        )
        assert not consents_of(running, card.holder.code)
    change(running, suspended.license_id, issuance_pb2.STATUS_ACTION_RESUME, member=POLICE)
    assert grant(running, suspended.holder.code, license_ids=(suspended.license_id,), type_codes=()).code

    # past its end: issued with a validity that has ended
    code, born = person()
    record = samples.id_card(0, issued=dt.date(2001, 3, 1))
    record = {
        **record,
        "request_id": f"id-{uuid.uuid4().hex}",
        "license_number": code,
        "holder": {**record["holder"], "code": code},
        "valid_until": "2021-03-01",
        "fields": {**record["fields"], "citizen_id": code, "birth_date": born.isoformat(),
                   "gender": "男" if int(code[16]) % 2 else "女"},
    }  # fmt: skip
    expired = running.issuance(POLICE).IssueLicense(issue_request(record)).license
    _, reason, _, _, metadata = refused_grant(
        running, grant_request(running, code, BDCZY.matter_code, license_ids=(expired.license_id,))
    )
    assert (reason, metadata) == ("LICENSE_NOT_IN_FORCE", {"field": "license_ids[0]", "status": "EXPIRED"})

    # a superseded version is judged by the version in force: taken while it is valid, refused once it is revoked
    card = id_card(running).license
    current = amend_card(running, card.license_id)
    granted = grant(running, card.holder.code, license_ids=(card.license_id,), type_codes=())
    assert list(granted.consent.license_ids) == [card.license_id]
    change(running, current, issuance_pb2.STATUS_ACTION_REVOKE, member=POLICE)
    _, reason, _, _, metadata = refused_grant(
        running, grant_request(running, card.holder.code, BDCZY.matter_code, license_ids=(card.license_id,))
    )
    assert (reason, metadata) == ("LICENSE_NOT_IN_FORCE", {"field": "license_ids[0]", "status": "REVOKED"})


# --- D3: what ListConsentableLicenses lists -------------------------------------------------------------------------


def test_a_portal_is_listed_only_the_licenses_a_consent_can_name_with_the_matters_it_serves(clocked: Clocked) -> None:
    """A 护照 (never shared, under no matter) and a 营业执照 (read without a consent) had been listed beside the ID
    card, with no way to tell them apart, and their grants refused or meaningless (D3); a revoked card was listed too,
    whose grant is now LICENSE_NOT_IN_FORCE (D5). What is listed is what a grant takes: each listed license under each
    of its matter_codes is granted."""
    running = clocked.running
    code, born = person()
    card = id_card(running, code, born).license
    passport(running, code, born)
    (listed,) = consentable(running, code).licenses
    assert (listed.license_id, listed.status) == (card.license_id, common_pb2.LICENSE_STATUS_ACTIVE)
    assert list(listed.matter_codes) == [
        QYKZ.matter_code, BDCZY.matter_code, SBZY.matter_code, CSSY.matter_code, NAME_ONLY.matter_code
    ]  # fmt: skip
    for matter in listed.matter_codes:
        assert grant(running, code, grantee=HANDLERS[matter], matter=matter, license_ids=(card.license_id,),
                     type_codes=()).code  # fmt: skip
    change(running, card.license_id, issuance_pb2.STATUS_ACTION_REVOKE, member=POLICE)
    assert not consentable(running, code).licenses

    # a company's: under the test catalog's matter that reads them with a consent, and no other
    license_id, uscc = business_license(running)
    (company,) = consentable(running, uscc).licenses
    assert (company.license_id, list(company.matter_codes)) == (license_id, [COMPANY_FIELDS.matter_code])
    (said,) = [r for r in records_of(running, uscc) if r.action == "LIST_CONSENTABLE_LICENSES"]
    assert (said.decision, said.reason) == ("LISTED", "licenses=1")


def test_a_companys_licenses_that_every_matter_reads_without_consent_are_not_listed(running: RunningGateway) -> None:
    """Under the demo catalog no matter reads a 营业执照 with a consent: a company has none to name (D3)."""
    _, uscc = business_license(running)
    assert not consentable(running, uscc).licenses
    code, _, violations, _, _ = refused_grant(
        running, grant_request(running, uscc, FPSL.matter_code, type_codes=[BUSINESS_LICENSE])
    )
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("type_codes[0]", "NO_CONSENT_NEEDED")])


# --- D4: a page at a time -------------------------------------------------------------------------------------------


def food_permits(
    running: RunningGateway, uscc: str, count: int, *, issued: dt.date = dt.date(2024, 5, 10)
) -> list[str]:
    """Issue ``count`` 食品生产许可证 to the company ``uscc`` (a chain's, one per site) in one batch, on ``issued``
    (valid five years); their ids, in the order issued."""
    items = []
    for n in range(count):
        record = unique(samples.food_permit(n, issued=issued))
        record["holder"] = {**record["holder"], "code": uscc}
        record["fields"] = {**record["fields"], "uscc": uscc}
        items.append(issue_request(record))
    (response,) = running.issuance(MARKET).BatchIssueLicenses(
        iter([issuance_pb2.BatchIssueLicensesRequest(licenses=items)])
    )
    assert not [r.error for r in response.results if r.HasField("error")]
    return [r.license.license_id for r in response.results]


def pages_of(running: RunningGateway, uscc: str, limit: int) -> list[list[str]]:
    pages, token = [], ""
    while True:
        page = consentable(running, uscc, limit=limit, page_token=token)
        pages.append([license.license_id for license in page.licenses])
        token = page.next_page_token
        if not token:
            return pages


def test_consentable_licenses_page_and_the_newest_are_listed_too(clocked: Clocked) -> None:
    """A company with 205 食品生产许可证 had been listed 200, the five newest left out with no word (D4). It pages,
    oldest first, with a sealed token: 0 gives the 200 a call without limit had, then a token for the rest; a
    license revoked is left out of the pages, one issued between two pages is on the last, each once."""
    running = clocked.running
    uscc = samples.uscc(int(uuid.uuid4().hex[:10], 16) % 10**12)
    issued = food_permits(running, uscc, 205)
    change(running, issued[100], issuance_pb2.STATUS_ACTION_REVOKE)
    expected = issued[:100] + issued[101:]

    first = consentable(running, uscc)
    assert [license.license_id for license in first.licenses] == expected[:200] and first.next_page_token
    (later,) = food_permits(running, uscc, 1)
    rest = consentable(running, uscc, page_token=first.next_page_token)
    assert [license.license_id for license in rest.licenses] == [*expected[200:], later]
    assert not rest.next_page_token
    for limit, count in ((7, 30), (205, 1), (500, 1)):
        pages = pages_of(running, uscc, limit)
        assert [i for page in pages for i in page] == [*expected, later] and len(pages) == count, limit

    page = consentable(running, uscc, limit=3)
    other = samples.uscc(int(uuid.uuid4().hex[:10], 16) % 10**12)
    for holder_code, token, fields in (
        (other, page.next_page_token, {}),  # another holder's
        (uscc, page.next_page_token, {"child_code": other}),  # another listing's
        (uscc, page.next_page_token[:-2], {}),  # cut short
    ):
        code, _, violations = refused(lambda holder_code=holder_code, token=token, fields=fields: consentable(
            running, holder_code, page_token=token, **fields))  # fmt: skip
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("page_token", "BAD_PAGE_TOKEN")])
    code, _, violations = refused(lambda: consentable(running, uscc, limit=-1))
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("limit", "BAD_LIMIT")])


def test_a_chains_permits_that_no_consent_names_are_not_read_a_page_at_a_time(running: RunningGateway) -> None:
    """Under the demo catalog no consent names a 食品生产许可证: listing a chain's 205 of them had read them all, a
    page at a time, to list none. The types a consent names, and the status in force, are chosen by the store: one
    read, which finds nothing."""
    uscc = samples.uscc(int(uuid.uuid4().hex[:10], 16) % 10**12)
    food_permits(running, uscc, 205)
    reads: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if re.search(r"AS place\s+FROM licenses\b", statement):  # a page of a holder's (with each license's place)
            reads.append(statement)

    event.listen(running.gateway.db.engine, "before_cursor_execute", record)
    try:
        assert not consentable(running, uscc).licenses
    finally:
        event.remove(running.gateway.db.engine, "before_cursor_execute", record)
    assert len(reads) == 1, reads


def amend_permit(running: RunningGateway, license_id: str) -> str:
    return amend(running, MARKET, license_id, {"domicile": "山东省济南市历下区经十路1号"}, "住所变更")


def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many licenses each of the store's reads of a holder's current licenses found, as the test goes on."""
    reads: list[int] = []
    read = HolderLicenseRepository.current_after

    def counted(self: HolderLicenseRepository, *args: Any, **kwargs: Any) -> Any:
        found = read(self, *args, **kwargs)
        reads.append(len(found))
        return found

    monkeypatch.setattr(HolderLicenseRepository, "current_after", counted)
    return reads


def test_a_license_amended_between_pages_keeps_its_place_and_is_listed_once(clocked: Clocked) -> None:
    """A license's place is where it was first issued, whatever version is current: a permit amended after the page
    that listed it is not listed again as its new version at the end, and one amended before its page is listed there
    as the new version (found in review: the first had come twice, v1 and v2, as two permits to choose from). The
    portal sees each license once in a run, as the version current when its page was read."""
    running = clocked.running
    uscc = samples.uscc(int(uuid.uuid4().hex[:10], 16) % 10**12)
    issued = food_permits(running, uscc, 4)
    first = consentable(running, uscc, limit=2)
    assert [x.license_id for x in first.licenses] == issued[:2]
    listed_v2, unlisted_v2 = amend_permit(running, issued[0]), amend_permit(running, issued[3])
    second = consentable(running, uscc, limit=2, page_token=first.next_page_token)
    assert [x.license_id for x in second.licenses] == [issued[2], unlisted_v2] and not second.next_page_token
    assert [x.license_id for x in consentable(running, uscc).licenses] == [listed_v2, *issued[1:3], unlisted_v2]
    # a token of the order before, which ended at a row rather than at a license's place, is not read as a place
    service = running.gateway.authorization
    assert service is not None
    before = Listing("ListConsentableLicenses", PORTAL, (f"holder_code={uscc}", "child_code="))
    old = service._pages.token("1", before)
    code, _, violations = refused(lambda: consentable(running, uscc, page_token=old))
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("page_token", "BAD_PAGE_TOKEN")])


def test_a_license_committed_after_a_page_but_stamped_before_it_is_on_a_later_page(
    clocked: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch takes its time when it starts and commits after sealing and drawing; licenses issued meanwhile commit
    first with later times. Ordered by time, the batch sorted before a page already read, and no page of that run
    showed it (found in review). A license's place is drawn as it commits: the batch comes after them."""
    running = clocked.running
    uscc = samples.uscc(int(uuid.uuid4().hex[:10], 16) % 10**12)
    make, entered, release = IssuanceService._make_documents, threading.Event(), threading.Event()

    def held(self: IssuanceService, caller: Any, pending: list[Any], draw: bool) -> None:
        if len(pending) > 1:  # the batch, its time taken: held where it seals and draws its documents
            entered.set()
            assert release.wait(30)
        make(self, caller, pending, draw)

    monkeypatch.setattr(IssuanceService, "_make_documents", held)
    batch: list[str] = []
    worker = threading.Thread(target=lambda: batch.extend(food_permits(running, uscc, 3)))
    worker.start()
    try:
        assert entered.wait(30)
        clocked.clock.advance(dt.timedelta(seconds=1))  # the others are stamped after the batch's time
        singles = []
        for n in range(2):  # another site's permit, issued while the batch is being sealed
            record = unique(samples.food_permit(900 + n))
            record["holder"] = {**record["holder"], "code": uscc}
            record["fields"] = {**record["fields"], "uscc": uscc}
            singles.append(running.issuance(MARKET).IssueLicense(issue_request(record)).license.license_id)
        first = consentable(running, uscc, limit=1)  # the portal pages, one at a time
    finally:
        release.set()
        worker.join(30)
    listed, token = [x.license_id for x in first.licenses], first.next_page_token
    while token:
        page = consentable(running, uscc, limit=1, page_token=token)
        listed += [x.license_id for x in page.licenses]
        token = page.next_page_token
    assert len(batch) == 3 and listed == singles + batch
    assert [x.license_id for x in consentable(running, uscc).licenses] == singles + batch


def test_permits_ended_years_ago_but_stored_active_are_not_read_to_list_none(
    clocked: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permits past their last day keep the stored status ACTIVE (nothing changes it): a chain's 300 of 2015, ended
    in 2020, had been read a page at a time, 151 reads for a page of one, to list none (found in review). The store
    chooses those not past their last day (China date): one read, which lists the one in force."""
    running = clocked.running
    uscc = samples.uscc(int(uuid.uuid4().hex[:10], 16) % 10**12)
    food_permits(running, uscc, 300, issued=dt.date(2015, 5, 10))
    (current,) = food_permits(running, uscc, 1)
    reads = counted_reads(monkeypatch)
    page = consentable(running, uscc, limit=1)
    assert [x.license_id for x in page.licenses] == [current] and not page.next_page_token
    assert reads == [1]


def test_a_childs_listing_reads_only_the_types_that_name_a_guardian(
    clocked: Clocked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``child_code``, only a license naming the caller as a parent is listed: a company's code there, its
    permits naming no one's parents, had them read a page at a time to list none. The store is asked only for the
    types that can name a guardian."""
    running = clocked.running
    uscc = samples.uscc(int(uuid.uuid4().hex[:10], 16) % 10**12)
    food_permits(running, uscc, 30)
    adult, _ = person()
    reads = counted_reads(monkeypatch)
    assert not consentable(running, adult, child_code=uscc, limit=1).licenses
    assert reads == [0]
