"""``ListCaseReceipts`` a page at a time: a page within the message limit, never empty but at the end, and in the order
the receipts were committed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.bootstrap import samples
from gateway.domain.identifiers import LicenseId
from gateway.domain.paging import Listing
from gateway.services.verification import CASE_READ_ROWS, VerificationService
from gateway.store.repositories import ReceiptRepository, StoredReceipt
from protos.zzgw.v1 import verification_pb2
from tests.api.test_verification import FPSL, batch_issue, verifier
from tests.conftest import (
    POLICE,
    TAX,
    RunningGateway,
    backend_params,
    case_number,
    fresh_database,
    start_gateway,
    trail_rows,
)
from tests.signing.test_pdf import one_page_pdf

BUNDLE = "370100-YJS-QYKB"
SMALLEST_LIMIT = 2 * 1024 * 1024
"""The smallest ``ZZGW_MAX_MESSAGE_BYTES`` a gateway takes (``config.MIN_MESSAGE_BYTES``)."""


def uses(
    case: str, purpose: str = "企业开办：刻制公章"
) -> tuple[verification_pb2.UseContext, verification_pb2.UseContext]:
    """The first matter of the 企业开办 bundle (刻章, the police) and a later one (发票申领, the tax bureau)."""
    first = verification_pb2.UseContext(
        matter_code="370100-QYKZ-001", purpose=purpose, bundle_code=BUNDLE, case_id=case
    )
    later = verification_pb2.UseContext(
        matter_code=FPSL, purpose="企业开办：发票申领", bundle_code=BUNDLE, case_id=case
    )
    return first, later


def all_pages(
    running: RunningGateway, member: str, use: verification_pb2.UseContext, limit: int
) -> Iterator[verification_pb2.ListCaseReceiptsResponse]:
    token = ""
    while True:
        page = verifier(running, member).ListCaseReceipts(
            verification_pb2.ListCaseReceiptsRequest(use=use, limit=limit, page_token=token)
        )
        yield page
        if not (token := page.next_page_token):
            return


@pytest.fixture(params=backend_params())
def small_limit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningGateway]:
    """A gateway whose message limit is the smallest it takes."""
    with fresh_database(request.param, tmp_path) as url:
        running = start_gateway(tmp_path / "var", url, max_message_bytes=SMALLEST_LIMIT)
        try:
            yield running
        finally:
            running.stop()


def test_a_page_ends_before_the_message_limit_and_the_trail_names_what_was_given(small_limit: RunningGateway) -> None:
    running = small_limit
    license_id = batch_issue(running, 16, samples.business_license)
    first, _ = uses(case_number(), purpose="企业开办刻制公章核验营业执照" * 14 + "核验")  # 200 characters
    verifier(running, POLICE).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id))
    (made,) = verifier(running, POLICE).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=first)).receipts
    with running.gateway.db.unit_of_work() as uow:
        stored = uow.receipts.get(made.receipt.receipt_id)
    assert stored is not None
    at = stored.created_at
    copies = [  # stored as if before schema 0035, listed first, by their time
        dataclasses.replace(stored, receipt_id=uuid.uuid4().hex[:20], seq=None, created_at=at + dt.timedelta(seconds=i))
        for i in range(1, 1000)
    ]
    with running.gateway.db.unit_of_work(write=True) as uow:
        uow.receipts.add(copies)
        uow.commit()
    pages = list(all_pages(running, POLICE, first, 1000))  # 1000 receipts of ~2.4 KB: past 2 MiB in one page
    assert len(pages) == 2 and all(p.ByteSize() <= SMALLEST_LIMIT for p in pages)
    listed = [r.receipt.receipt_id for p in pages for r in p.receipts]
    assert listed == [*(c.receipt_id for c in copies), stored.receipt_id]
    said = [
        reason
        for (reason,) in trail_rows(
            running, "reason", "action = 'LIST_CASE_RECEIPTS' AND purpose = :p", p=first.purpose
        )
    ]
    assert said == ["1 receipts", f"{len(pages[0].receipts)} receipts", f"{len(pages[1].receipts)} receipts"]


def not_found_of_another_type() -> str:
    """An identifier no registry holds, of a type 发票申领 does not use: its receipt names no license."""
    serial = uuid.uuid4().hex[:8].upper()
    return str(LicenseId(type_code="11100000991000019E001", issuer_code=POLICE, serial=serial, version=1))


def test_a_page_is_empty_only_at_the_end(running: RunningGateway) -> None:
    license_id = batch_issue(running, 18, samples.business_license)
    first, later = uses(case_number())
    police = verifier(running, POLICE)

    def checked(license_id: str, times: int = 1) -> None:
        for _ in range(times):
            police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id))

    checked(not_found_of_another_type(), 21)  # 10 reads of a page and one more (limit 1), all of other types
    checked(license_id)
    pages = [[r.license_id for r in p.receipts] for p in all_pages(running, TAX, later, 1)]
    assert pages == [[license_id]]  # had been [[], [license_id]]: an empty page with a token
    checked(license_id)
    checked(not_found_of_another_type(), 22)  # and a run of them at the end
    pages = [[r.license_id for r in p.receipts] for p in all_pages(running, TAX, later, 1)]
    assert pages == [[license_id], [license_id]]  # had been a third page, empty, after a token


def test_a_page_reads_each_receipt_past_once(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page read on past receipts of other types reads each of them once, each read going on from where the last
    stopped, in the order of the case's index (``ix_receipts_case_order``): a call is as long as what it reads past
    and its page, not its square (with no index, each read had read and sorted the whole case: a page of a case of
    100,000 took 6-17 s, a reviewer)."""
    license_id = batch_issue(running, 18, samples.business_license)
    first, later = uses(case_number())
    police = verifier(running, POLICE)
    police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id))
    police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=not_found_of_another_type()))
    with running.gateway.db.unit_of_work() as uow:
        made = uow.receipts.of_case(BUNDLE, first.case_id.upper())
    (named,), (other,) = [r for r in made if r.license_id], [r for r in made if not r.license_id]
    assert named.seq is not None and other.seq is not None
    past = 3 * CASE_READ_ROWS + 7
    copies = [dataclasses.replace(other, receipt_id=f"PAST{n}", seq=other.seq + 1 + n) for n in range(past)]
    last = dataclasses.replace(named, receipt_id="LAST", seq=other.seq + 1 + past)
    with running.gateway.db.unit_of_work(write=True) as uow:
        uow.receipts.add([*copies, last])
        uow.commit()
    reads: list[int] = []
    of_case = ReceiptRepository.of_case

    def counted(self: ReceiptRepository, *args: object, **kwargs: object) -> list[StoredReceipt]:
        found = of_case(self, *args, **kwargs)  # type: ignore[arg-type]
        reads.append(len(found))
        return found

    monkeypatch.setattr(ReceiptRepository, "of_case", counted)
    pages = [[r.receipt.receipt_id for r in p.receipts] for p in all_pages(running, TAX, later, 1)]
    assert pages == [[named.receipt_id], ["LAST"]]
    assert len(reads) <= 2 * (past // CASE_READ_ROWS + 12)  # two calls, each reading past all of them
    # each call: the other type's (past + 1), the page's and one more, and at most one read beyond
    assert sum(reads) <= 2 * (past + 1 + 2 + CASE_READ_ROWS), reads


def test_a_receipt_committed_late_is_on_a_later_page(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check dated before a page's last receipt, committed after the page was read (a VerifyDocument of a large
    PDF, seconds in validation), is on the next page: pages go in the order receipts were committed."""
    license_id = batch_issue(running, 19, samples.business_license)
    first, _ = uses(case_number())
    police = verifier(running, POLICE)

    def checked() -> str:
        request = verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id)
        return police.VerifyLicense(request).report.receipt.receipt_id

    made = [checked()]
    validating, validated = threading.Event(), threading.Event()
    validate = VerificationService._validate_pdf

    def held(self: VerificationService, pdf: bytes, field: str) -> object:
        validating.set()
        validated.wait(30)
        return validate(self, pdf, field)

    monkeypatch.setattr(VerificationService, "_validate_pdf", held)
    document: list[str] = []
    request = verification_pb2.VerifyDocumentRequest(use=first, pdf=one_page_pdf())
    late = threading.Thread(target=lambda: document.append(police.VerifyDocument(request).report.receipt.receipt_id))
    late.start()
    try:
        assert validating.wait(30)
        made += [checked(), checked()]  # dated after the document's check, committed before it
        page = police.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=first, limit=2))
    finally:
        validated.set()
        late.join(30)
    rest = police.ListCaseReceipts(
        verification_pb2.ListCaseReceiptsRequest(use=first, limit=10, page_token=page.next_page_token)
    )
    paged = [r.receipt.receipt_id for r in [*page.receipts, *rest.receipts]]
    assert paged == [*made, *document]  # the document's had been on no page of the run


def test_receipts_stored_before_0035_list_first_in_their_order_and_their_tokens_are_taken(
    running: RunningGateway,
) -> None:
    """Receipts stored before the commit order was recorded (schema 0035) are listed first, by their time as before,
    and a token given before the upgrade (a place among them) still goes on from that place."""
    license_id = batch_issue(running, 20, samples.business_license)
    first, later = uses(case_number())
    police = verifier(running, POLICE)
    police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id))
    (newer,) = verifier(running, TAX).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later)).receipts
    with running.gateway.db.unit_of_work() as uow:
        stored = uow.receipts.get(newer.receipt.receipt_id)
    assert stored is not None and stored.seq is not None
    # the number of the access record stored with it, in the same commit
    assert trail_rows(running, "receipt_id", "seq = :seq", seq=stored.seq) == [(stored.receipt_id,)]

    at = stored.created_at
    older = [
        dataclasses.replace(stored, receipt_id=f"OLD{n}", seq=None, created_at=at + dt.timedelta(hours=n))
        for n in (2, 1, 3)
    ]  # dated after the newer one, and stored out of their order
    with running.gateway.db.unit_of_work(write=True) as uow:
        uow.receipts.add(older)
        uow.commit()
    pages = [[r.receipt.receipt_id for r in p.receipts] for p in all_pages(running, TAX, later, 2)]
    assert pages == [["OLD1", "OLD2"], ["OLD3", newer.receipt.receipt_id]]
    # a token of the form given before 0035: after OLD1's time and id
    kept = (f"bundle_code={BUNDLE}", f"case_id={later.case_id.upper()}", f"matter_code={FPSL}")
    listing = Listing("ListCaseReceipts", TAX, kept)
    micros = (older[1].created_at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    token = running.gateway.verification._pages.token(f"{micros}.OLD1", listing)
    rest = verifier(running, TAX).ListCaseReceipts(
        verification_pb2.ListCaseReceiptsRequest(use=later, limit=10, page_token=token)
    )
    assert [r.receipt.receipt_id for r in rest.receipts] == ["OLD2", "OLD3", newer.receipt.receipt_id]
