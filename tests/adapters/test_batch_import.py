"""Batch import (批量归集) of JSON Lines and CSV files through a real gateway: counts, failures by line, idempotency."""

from __future__ import annotations

import csv
import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from adapters.batch_import import count_records, import_file, read_records, summary
from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import issuance_pb2
from tests.conftest import MARKET, RunningGateway

BAD_USCC = "91370100MA3C4K7L6N"  # wrong check character


def permits(count: int, tag: str, start: int = 0) -> list[dict[str, Any]]:
    """Food permits with request ids and license numbers unique to this run."""
    records = []
    for i in range(start, start + count):
        record = samples.food_permit(5000 + i)
        records.append(
            {**record, "request_id": f"imp-{tag}-{i}", "license_number": f"{record['license_number']}-{tag}"}
        )
    return records


def factory(running: RunningGateway) -> Callable[[], grpc.Channel]:
    return lambda: running.channel(MARKET)


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_jsonl_import_reports_failures_by_line_and_imports_the_rest(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(47, tag)
    records[9]["fields"]["uscc"] = BAD_USCC
    records[38]["holder"] = {**records[38]["holder"], "code": BAD_USCC}
    records[38]["issue_date"] = "2024-02-30"
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(19, '{"request_id": "broken", "type_code": ')  # line 20
    lines.insert(20, "")  # line 21: blank, skipped but counted in the numbering
    unknown = {**permits(1, tag, start=100)[0], "colour": "red"}
    lines.insert(34, json.dumps(unknown, ensure_ascii=False))  # line 35
    lines.insert(45, '["not", "an", "object"]')  # line 46
    # records[9] is on line 10, records[38] on line 38 + 1 (the bad JSON) + 1 (blank) + 1 (unknown key) + 1 = 42
    path = write_jsonl(tmp_path / "permits.jsonl", lines)
    answered: list[int] = []

    report = import_file(path, factory(running), progress=answered.append)

    assert report.lines == 50  # non-blank lines
    assert report.created == 45 and report.existing == 0
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (10, "fields.uscc", "BAD_CHECK_CHARACTER"),
        (20, "", "BAD_JSON"),
        (35, "", "BAD_RECORD"),
        (42, "holder.code", "BAD_CHECK_CHARACTER"),
        (42, "issue_date", "BAD_DATE"),
        (46, "", "BAD_RECORD"),
    ]
    by_line = {f.line: f for f in report.failures}
    assert "colour" in by_line[35].message and "JSON object" in by_line[46].message
    assert by_line[20].message.startswith("not JSON")
    assert sum(answered) == 50
    text = summary(report)
    assert text.startswith("50 lines: 45 issued, 0 already present, 5 failed")
    assert "line 42: holder.code BAD_CHECK_CHARACTER" in text

    again = import_file(path, factory(running))
    assert (again.created, again.existing) == (0, 45)
    assert [(f.line, f.reason) for f in again.failures] == [(f.line, f.reason) for f in report.failures]


def test_csv_import(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(5, tag, start=200)
    records[3]["fields"]["food_category"] = ""  # a required field left empty
    columns = ["request_id", "type_code", "license_number", "holder.name", "holder.code_type", "holder.code",
               "issue_date", "valid_until", *(f"fields.{k}" for k in records[0]["fields"])]  # fmt: skip
    path = tmp_path / "permits.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        for r in records:
            writer.writerow({
                "request_id": r["request_id"], "type_code": r["type_code"], "license_number": r["license_number"],
                **{f"holder.{k}": v for k, v in r["holder"].items()}, "issue_date": r["issue_date"],
                "valid_until": r["valid_until"], **{f"fields.{k}": v for k, v in r["fields"].items()},
            })  # fmt: skip

    assert [number for number, _ in read_records(path)] == [2, 3, 4, 5, 6]  # the header is line 1
    report = import_file(path, factory(running))
    assert report.lines == 5 and report.created == 4 and report.existing == 0
    assert [(f.line, f.field, f.reason) for f in report.failures] == [(5, "fields.food_category", "REQUIRED")]

    lic = running.issuance(MARKET).GetLicense(_by_number(records[0])).license
    assert (
        lic.holder.name == records[0]["holder"]["name"]
        and lic.fields["producer_name"] == records[0]["fields"]["producer_name"]
    )
    assert import_file(path, factory(running)).created == 0


def test_csv_row_with_too_many_cells(running: RunningGateway, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("request_id,type_code\nr1,x,extra\n", encoding="utf-8")
    report = import_file(path, factory(running))
    assert [(f.line, f.reason) for f in report.failures] == [(2, "BAD_RECORD")] and report.created == 0


def test_records_without_a_request_id_get_one_from_their_content(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = [{k: v for k, v in r.items() if k != "request_id"} for r in permits(3, tag, start=300)]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.append(lines[0])  # the same record twice: the same derived request id
    path = write_jsonl(tmp_path / "no-ids.jsonl", lines)

    report = import_file(path, factory(running))
    assert (report.created, report.existing, report.failures) == (3, 1, [])

    derived = (
        "import-" + hashlib.sha256(issue_request(records[0]).SerializeToString(deterministic=True)).hexdigest()[:40]
    )
    with running.gateway.db.unit_of_work() as uow:
        prior = uow.licenses.prior_requests(MARKET, [derived])
    assert derived in prior, "the first record should have been issued under its derived request id"

    again = import_file(path, factory(running))
    assert (again.created, again.existing, again.failures) == (0, 4, [])


def test_an_empty_file(running: RunningGateway, tmp_path: Path) -> None:
    report = import_file(write_jsonl(tmp_path / "empty.jsonl", ["", "   "]), factory(running))
    assert (report.lines, report.created, report.existing, report.failures) == (0, 0, 0, [])


def _by_number(record: dict[str, Any]) -> issuance_pb2.GetLicenseRequest:
    return issuance_pb2.GetLicenseRequest(type_code=record["type_code"], license_number=record["license_number"])


def test_count_records_for_the_progress_bar(tmp_path: Path) -> None:
    from adapters.batch_import import count_records

    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"a": 1}\n\n{"b": 2}\n{broken\n', encoding="utf-8")
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("request_id,type_code\nr1,t\nr2,t\n", encoding="utf-8")
    assert count_records(jsonl) == 3
    assert count_records(csv_file) == 2
    assert count_records(jsonl, "csv") == 2


def test_csv_records_are_numbered_by_the_line_they_begin_on(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(
        'type_code,license_number,holder.name\n\n111000009910000354001,A,甲公司\n"x","B","乙\n公司"\nx,C,丙\n',
        encoding="utf-8",
    )
    assert [number for number, _ in read_records(path)] == [3, 4, 6]  # a blank line 2; a value over lines 4-5


def test_a_file_in_another_encoding_is_refused_before_anything_is_sent_or_read_as_told(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("type_code,license_number,holder.name\nx,A,济南甲公司\n".encode("gbk"))
    with pytest.raises(ValueError, match=r"line 2 of .* is not utf-8-sig \(Excel saves Chinese CSV as GBK"):
        count_records(path)
    assert count_records(path, encoding="gb18030") == 1
    ((number, record),) = list(read_records(path, encoding="gb18030"))
    assert number == 2 and isinstance(record, dict) and record["holder"]["name"] == "济南甲公司"


def test_a_record_with_a_null_or_a_number_where_text_belongs_is_refused() -> None:
    from adapters.records import RecordError

    record = samples.business_license(70)
    for holder in ({**record["holder"], "name": None}, {**record["holder"], "code_type": 1}):
        with pytest.raises(RecordError, match="must be strings"):
            issue_request({**record, "holder": holder})
    assert issue_request(record).holder.name == record["holder"]["name"]
