"""`zzgw receipt get -o FILE`: the file is checked before the receipt is fetched (a fetch is on the holder's log), and
only a new file, a receipt file or an empty one is written, whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.bootstrap import samples
from gateway.cli import main
from tests.api.test_verification import batch_issue, verify
from tests.conftest import TAX, RunningGateway, trail_rows


@pytest.fixture
def receipt_id(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> str:
    """A receipt of the running gateway, fetched by `zzgw receipt get` run in this process against it."""
    for name, value in {"ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CONFIG": ""}.items():
        monkeypatch.setenv(name, value)
    return verify(running, license_id=batch_issue(running, 16, samples.business_license)).receipt.receipt_id


def fetches(running: RunningGateway, receipt_id: str) -> int:
    return len(trail_rows(running, "seq", "action = 'GET_RECEIPT' AND receipt_id = :r", r=receipt_id))


def get(running: RunningGateway, receipt_id: str, out: Path) -> int:
    return main(["receipt", "get", receipt_id, "--member", TAX, "--target", running.address, "-o", str(out)])


def test_an_out_file_that_is_not_a_receipt_is_kept_and_nothing_is_fetched(
    running: RunningGateway, receipt_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    application = tmp_path / "application.pdf"
    application.write_bytes(b"%PDF-1.7 the applicant's scanned application")
    before = fetches(running, receipt_id)
    assert get(running, receipt_id, application) == 2  # had been 0, the PDF replaced by the receipt
    assert application.read_bytes() == b"%PDF-1.7 the applicant's scanned application"
    assert "exists and is not a receipt" in capsys.readouterr().err
    for unwritable in (tmp_path / "no" / "such" / "dir" / "r.json", tmp_path):  # had been found after the fetch
        assert get(running, receipt_id, unwritable) == 2
    assert fetches(running, receipt_id) == before  # none on the holder's log: no receipt was written anywhere
    assert [p.name for p in tmp_path.iterdir()] == ["application.pdf"]


def test_a_new_empty_or_receipt_out_file_is_written(running: RunningGateway, receipt_id: str, tmp_path: Path) -> None:
    kept = tmp_path / "receipt.json"
    assert get(running, receipt_id, kept) == 0
    assert json.loads(kept.read_text(encoding="utf-8"))["receiptId"] == receipt_id
    assert get(running, receipt_id, kept) == 0  # a receipt file: replaced (the command run again)
    empty = tmp_path / "empty.json"
    empty.touch()
    assert get(running, receipt_id, empty) == 0
    assert empty.read_bytes() == kept.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.json", "receipt.json"]  # no temporary file left
