"""``ListCaseReceipts`` a page at a time: a page within the message limit, never empty but at the end, and in the order
the receipts were committed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.bootstrap import samples
from gateway.domain.identifiers import LicenseId
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
    copies = [
        dataclasses.replace(
            stored, receipt_id=uuid.uuid4().hex[:20], created_at=stored.created_at + dt.timedelta(seconds=i)
        )
        for i in range(1, 1000)
    ]
    with running.gateway.db.unit_of_work(write=True) as uow:
        uow.receipts.add(copies)
        uow.commit()
    pages = list(all_pages(running, POLICE, first, 1000))  # 1000 receipts of ~2.4 KB: past 2 MiB in one page
    assert len(pages) == 2 and all(p.ByteSize() <= SMALLEST_LIMIT for p in pages)
    listed = [r.receipt.receipt_id for p in pages for r in p.receipts]
    assert listed == [stored.receipt_id, *(c.receipt_id for c in copies)]
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
