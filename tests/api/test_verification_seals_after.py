"""VerifyDocument of a PDF with signatures made after the seal it judges: what it validates to tell the gateway's own
(a sharing copy's use stamp) from anything else drawn on the page, and how many validations that costs a call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.services import verification
from protos.zzgw.v1 import verification_pb2
from signing.pdf import PdfVerification
from tests.api.test_documents import document_of
from tests.api.test_verification import FAILED, INDETERMINATE, USE, findings, foreign_sealer, issue, verifier
from tests.conftest import PORTAL, RunningGateway


def drawn_after(pdf: bytes, names: Sequence[str]) -> bytes:
    """``pdf`` with a visible signature in each field of ``names``, by a key of a seal-maker CA made here, side by
    side at the foot of the first page."""
    sealer = foreign_sealer("某制章中心", "某公司", PORTAL, "公章")
    for i, name in enumerate(names):
        box = (40 + (i % 8) * 60, 40 + (i // 8) * 60, 90 + (i % 8) * 60, 90 + (i // 8) * 60)
        pdf = asyncio.run(sealer.seal(pdf, field_name=name, box=box))
    return pdf


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The fields VerifyDocument validates in full in this test (None: the first signature), in order."""
    fields: list[str | None] = []
    validate = verification.validate_sync

    def counted(pdf: bytes, **kwargs: Any) -> PdfVerification:
        fields.append(kwargs.get("field_name"))
        return validate(pdf, **kwargs)

    monkeypatch.setattr(verification, "validate_sync", counted)
    return fields


def test_what_is_drawn_after_a_seal_is_told_with_one_validation_of_a_use_stamp_at_most(
    running: RunningGateway, validated: list[str | None]
) -> None:
    """Every visible signature after the seal was validated in full to see whether it was the gateway's use stamp:
    a PDF of 30 took a minute of CPU a call, and three such calls at once had the watchdog stop the gateway (a
    reviewer, stamps R1). Only a field named as the gateway names its use stamp is validated, one at most, and only
    when nothing else is drawn: the answer is the same DOCUMENT_MODIFIED, naming what was drawn."""
    license_id = issue(running, 41).license.license_id
    pdf = document_of(running, license_id).pdf
    stub = verifier(running)
    for names, judged in (
        ([f"Signature{i}" for i in range(6)], []),  # none can be the use stamp
        (["zzgw-use-1", "zzgw-use-2", "zzgw-use-3"], []),  # a copy carries one use stamp
        (["zzgw-use-1", "Signature1"], []),  # whatever the use stamp is, the other is drawn
        (["zzgw-use-1"], ["zzgw-use-1"]),  # a forged use stamp, the only thing drawn: validated, and refused
    ):
        validated.clear()
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=drawn_after(pdf, names)))
        assert findings(report.report) == (
            (FAILED, "DOCUMENT_MODIFIED"),
            (INDETERMINATE, "NOT_CHECKED"),
            (INDETERMINATE, "NOT_CHECKED"),
        ), names
        assert validated == [None, *judged], names
        assert report.report.integrity.detail.startswith("签章完好，但文件在盖章后"), names
