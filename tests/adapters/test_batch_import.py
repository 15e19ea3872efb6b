"""Batch import (批量归集) of JSON Lines and CSV files through a real gateway: counts, failures by line, idempotency."""

from __future__ import annotations

import codecs
import contextlib
import csv
import decimal
import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from adapters.batch_import import (
    MAX_RECORD_CHARS,
    MESSAGE_BYTES,
    UNREACHABLE,
    Failure,
    FailureFile,
    ImportRefused,
    ImportReport,
    ImportStopped,
    _reason_of,
    count_records,
    import_file,
    read_records,
    summary,
)
from adapters.client import MemberCredentials, connect
from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import common_pb2, issuance_pb2, issuance_pb2_grpc
from tests.commands import run_python
from tests.conftest import MARKET, POLICE, RunningGateway, zzgw_command

BAD_USCC = "91370100MA3C4K7L6N"  # wrong check character
ROOT = Path(__file__).resolve().parents[2]


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


def abort_unavailable(context: grpc.ServicerContext, reason: str, message: str) -> None:
    """End a fake gateway's call UNAVAILABLE with ``reason`` in its ErrorInfo, as the gateway ends one."""
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="zzgw.v1"))
    context.abort_with_status(
        rpc_status.to_status(
            status_pb2.Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message=message, details=[packed])
        )
    )


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
    assert by_line[35].message == "记录中有未知的键：colour（unknown keys: colour）"
    assert by_line[46].message == "每条记录须为 JSON 对象（each record must be a JSON object）"
    assert by_line[20].message.startswith("不是 JSON：")
    assert sum(answered) == 50
    text = summary(report)
    # Chinese first, the English after
    assert text.startswith("共 50 行：新签发 45 件，此前已有 0 件，失败 5 行，用时 ")
    assert "（50 lines: 45 issued, 0 already present, 5 failed (" in text.splitlines()[0]
    assert re.search(r"，用时 [\d.]+ 秒，\d+ 行/秒，\d+ 件/秒（", text.splitlines()[0]), text  # 行/秒, as the bar's
    assert "\n失败的行：行号、字段、原因代码、说明（failures: line, field, reason, message）\n" in text
    assert (  # 第 42 行, not "line 42" (a government-service editor)
        "\n  第 42 行 holder.code BAD_CHECK_CHARACTER：统一社会信用代码校验码不符"
        "（holder.code check character does not match (GB 32100)）"
    ) in text

    again = import_file(path, factory(running))
    assert (again.created, again.existing) == (0, 45)
    assert [(f.line, f.reason) for f in again.failures] == [(f.line, f.reason) for f in report.failures]


def test_a_number_another_current_license_has_fails_its_line_naming_the_field(
    running: RunningGateway, tmp_path: Path
) -> None:
    """Two lines of one number: the second is refused LICENSE_NUMBER_TAKEN, named by its field, license_number (it
    had been listed with the field ``-``; found by a tester of 批量归集)."""
    first, second = permits(2, uuid.uuid4().hex[:8].upper(), start=200)
    second["license_number"] = first["license_number"]
    report = import_file(
        write_jsonl(tmp_path / "twice.jsonl", [json.dumps(r) for r in (first, second)]), factory(running)
    )
    assert report.created == 1
    assert [(f.line, f.field, f.reason) for f in report.failures] == [(2, "license_number", "LICENSE_NUMBER_TAKEN")]
    assert f"第 2 行 license_number LICENSE_NUMBER_TAKEN：许可证编号为 {first['license_number']}" in summary(report)


def test_a_serial_or_a_request_id_another_line_took_fails_naming_its_field(
    running: RunningGateway, tmp_path: Path
) -> None:
    """A line whose serial another license has (SERIAL_TAKEN), and one whose request_id an earlier line of other
    content took (REQUEST_ID_REUSED), each about one column: they had been listed with the field ``-`` and an empty
    ``field`` in the failures file, while LICENSE_NUMBER_TAKEN names its (a reviewer, R4)."""
    tag = uuid.uuid4().hex[:8].upper()
    first, second, third = permits(3, tag, start=250)
    first["serial"] = second["serial"] = f"SER{tag}"
    third["request_id"] = first["request_id"]
    path = write_jsonl(tmp_path / "taken.jsonl", [json.dumps(r, ensure_ascii=False) for r in (first, second, third)])
    report = import_file(path, factory(running))
    assert report.created == 1
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (2, "serial", "SERIAL_TAKEN"),
        (3, "request_id", "REQUEST_ID_REUSED"),
    ]
    said = summary(report)
    assert f"第 2 行 serial SERIAL_TAKEN：流水号 SER{tag} 已被另一证照使用" in said
    assert "第 3 行 request_id REQUEST_ID_REUSED：" in said


def test_a_value_in_letters_no_font_draws_fails_its_line_and_the_others_go_in(
    running: RunningGateway, tmp_path: Path
) -> None:
    """An import draws no document, but the documents drawn when first asked for would print a row of 〓 for a
    Uyghur 生产地址: its line fails UNPRINTABLE_CHARACTERS, naming the field, as IssueLicense refuses it (a reviewer,
    R2)."""
    first, second, third = permits(3, uuid.uuid4().hex[:8].upper(), start=300)
    second["fields"] = {**second["fields"], "production_address": "ئۈرۈمچى شەھىرى تەڭرىتاغ رايونى 12-نومۇر"}
    report = import_file(
        write_jsonl(tmp_path / "uyghur.jsonl", [json.dumps(r, ensure_ascii=False) for r in (first, second, third)]),
        factory(running),
    )
    assert report.created == 2
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (2, "fields.production_address", "UNPRINTABLE_CHARACTERS")
    ]
    assert "第 2 行 fields.production_address UNPRINTABLE_CHARACTERS：含有证照版式文件的字体无法显示的文字（U+0626" in (
        summary(report)
    )


def test_a_serial_holding_personal_data_fails_its_line_and_the_others_go_in(
    running: RunningGateway, tmp_path: Path
) -> None:
    """A serial becomes part of the license identifier, which receipts and watching members get in clear: a line
    whose serial holds a mobile number or a 公民身份号码 the license states, or is the license number, fails
    BAD_SERIAL, naming the field, as IssueLicense refuses it (a reviewer of the partner role, R1); a serial of the
    issuer's own numbering goes in, though its digits look like a mobile number or a 公民身份号码: a 2013-2019 date
    and sequence, a Hebei region and sequence, a region, date and sequence had failed every line of such a back
    catalogue (a review of the fixes, R3)."""
    first, second, third, fourth, fifth, sixth, seventh = permits(7, uuid.uuid4().hex[:8].upper(), start=400)
    tail = f"{uuid.uuid4().int % 1000:03d}"
    first["serial"] = "SC" + uuid.uuid4().hex[:12].upper()
    second["fields"] = {**second["fields"], "production_address": "济南市章丘区工业园2号（电话 139 1234 5678）"}
    second["serial"] = "13912345678"
    third["fields"] = {**third["fields"], "production_address": "济南市章丘区工业园3号（负责人 37010219900101001X）"}
    third["serial"] = "JS37010219900101001X01"  # a 公民身份号码 the license states, after letters, before digits
    fourth["license_number"] = fourth["license_number"].replace("-", "")
    fourth["serial"] = fourth["license_number"]
    fifth["serial"] = "19092800" + tail  # YYMMDD and a sequence: 11 digits from 19
    sixth["serial"] = "13010000" + tail  # a Hebei region and a sequence
    seventh["serial"] = "37010020110919" + tail + "4"  # a region, a date and a sequence, 18 digits
    report = import_file(
        write_jsonl(
            tmp_path / "serials.jsonl",
            [json.dumps(r) for r in (first, second, third, fourth, fifth, sixth, seventh)],
        ),
        factory(running),
    )
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (2, "serial", "BAD_SERIAL"),
        (3, "serial", "BAD_SERIAL"),
        (4, "serial", "BAD_SERIAL"),
    ]
    assert report.created == 4
    assert "第 2 行 serial BAD_SERIAL：流水号中不能填写手机号码（" in summary(report)
    assert "第 3 行 serial BAD_SERIAL：流水号中不能填写公民身份号码（" in summary(report)
    assert "第 4 行 serial BAD_SERIAL：流水号中不能填写证照编号（" in summary(report)


def test_csv_import(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(5, tag, start=200)
    records[3]["fields"]["food_category"] = ""  # a required field left empty
    path = write_csv(tmp_path / "permits.csv", records)
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


def test_a_validity_end_date_for_a_type_that_does_not_expire_fails_its_line(
    running: RunningGateway, tmp_path: Path
) -> None:
    """Registers exported from older systems carry an end date column for every type: a 营业执照's line with one is
    refused alone (NOT_EXPIRING_TYPE: it had been stored, and the license verified as EXPIRED once the date passed),
    in JSON Lines and CSV alike; the lines with the column empty go in."""
    base = int(uuid.uuid4().hex[:8], 16)
    for form in ("jsonl", "csv"):
        records = [samples.business_license(base + i) for i in range(3)]
        base += 3
        for record in records:
            record["request_id"] += f"-{form}"
        records[1]["valid_until"] = "2030-12-31"
        path = tmp_path / f"companies.{form}"
        if form == "csv":
            write_csv(path, records)
        else:
            write_jsonl(path, [json.dumps(r, ensure_ascii=False) for r in records])
        report = import_file(path, factory(running))
        header = 1 if form == "csv" else 0
        assert report.created == 2, form
        assert [(f.line, f.field, f.reason) for f in report.failures] == [
            (2 + header, "valid_until", "NOT_EXPIRING_TYPE")
        ], form
        assert report.failures[0].message.startswith("营业执照没有有效期截止日期"), form


def test_a_date_after_today_or_before_1900_fails_its_line(running: RunningGateway, tmp_path: Path) -> None:
    """A register's typing slips fail their own lines, said as IssueLicense says them: a 营业执照 established in 2099
    or in 999 (both had been sealed, a time tester)."""
    base = int(uuid.uuid4().hex[:8], 16)
    companies = [samples.business_license(base + i) for i in range(3)]
    companies[0]["fields"]["established_on"] = "2099-01-01"
    companies[2]["fields"]["established_on"] = "0999-01-01"
    report = import_file(write_csv(tmp_path / "companies.csv", companies), factory(running))
    assert report.created == 1
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (2, "fields.established_on", "DATE_IN_FUTURE"),
        (4, "fields.established_on", "DATE_TOO_EARLY"),
    ]
    assert report.failures[0].message == "成立日期晚于今天（fields.established_on is after today）"


def test_a_lifelong_end_date_spelled_out_fails_its_line(running: RunningGateway, tmp_path: Path) -> None:
    """A 居民身份证 whose 有效期至 a register writes 长期 or 9999-12-31, as the card and databases print it, fails its
    line with the hint to leave it empty (the one had failed only as a badly written date, the other had been taken, a
    time tester); the card with it empty is issued 长期."""
    base = int(uuid.uuid4().hex[:8], 16)
    cards = [samples.id_card(base + i) for i in range(3)]
    for card, until in zip(cards, ("长期", "9999-12-31", ""), strict=True):
        card["request_id"] += f"-{base}"
        card["valid_until"] = until
    report = import_file(write_csv(tmp_path / "cards.csv", cards), lambda: running.channel(POLICE))
    assert report.created == 1
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (2, "valid_until", "LIFELONG_SPELLED_OUT"),
        (3, "valid_until", "LIFELONG_SPELLED_OUT"),
    ]
    assert report.failures[1].message.startswith("长期有效请留空：")
    issued = running.issuance(POLICE).GetLicense(_by_number(cards[2])).license
    assert issued.valid_until == ""


def test_a_no_end_or_far_date_of_a_type_that_expires_fails_its_line(running: RunningGateway, tmp_path: Path) -> None:
    """A register exporting its "no end" (9999-12-31) as a 食品生产许可证's 有效期至, or its far sentinel (9999-12-30)
    as the start, had its permit issued, in force for ever or not for 8000 years (a reviewer): each fails its line, said
    as IssueLicense says it; the permit with its real dates is issued."""
    base = int(uuid.uuid4().hex[:8], 16)
    permits = [samples.food_permit(base + i) for i in range(3)]
    for permit in permits:
        permit["request_id"] += f"-{base}"
    permits[0]["valid_until"] = "9999-12-31"
    permits[1].update(valid_from="9999-12-30", valid_until="9999-12-30")
    report = import_file(write_jsonl(tmp_path / "permits.jsonl", [json.dumps(p) for p in permits]), factory(running))
    assert report.created == 1
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (1, "valid_until", "NOT_LIFELONG_TYPE"),
        (2, "valid_from", "DATE_TOO_LATE"),
    ]
    assert report.failures[0].message.startswith("食品生产许可证没有长期有效期：请填写证照实际的有效期截止日期")


def test_csv_rows_with_too_many_or_too_few_cells(running: RunningGateway, tmp_path: Path) -> None:
    """Each is one plain failure (a short row was every field of its missing cells REQUIRED)."""
    path = tmp_path / "ragged.csv"
    path.write_text("request_id,type_code,license_number\nr1,x,n,extra\nr2,x\n", encoding="utf-8")
    report = import_file(path, factory(running))
    assert [(f.line, f.reason) for f in report.failures] == [(2, "BAD_RECORD"), (3, "BAD_RECORD")]
    assert report.failures[1].message.startswith(
        "该行只有 2 个单元格，少于表头的 3 列，空单元格也须写出（the row has 2 cells, fewer than the header's 3 columns"
    )
    assert report.failures[0].message == (
        "该行的单元格多于表头的列（the row has more cells than the header has columns）"
    )
    assert report.created == 0


def test_a_line_fails_in_words_and_alike_every_time(running: RunningGateway, tmp_path: Path) -> None:
    """Python's "Invalid control character at" made "at at column"; a missing type code is REQUIRED, not an unknown
    type ''; one line's violations come in an order of their own, the same in every run (the request's map has
    none: protobuf iterates it by hash, which differs from process to process)."""
    wrong_type = {**permits(1, uuid.uuid4().hex[:8].upper(), start=900)[0], "type_code": samples.BUSINESS_LICENSE}
    untyped = {k: v for k, v in wrong_type.items() if k != "type_code"}
    lines = ['{"request_id": "a' + chr(1) + '"}', json.dumps(untyped), json.dumps(wrong_type)]
    lines += ['{"request_id": "r-cut', '{"request_id": "r", ']  # lines cut short, in a string and after a comma
    failures = import_file(write_jsonl(tmp_path / "bad.jsonl", lines), factory(running)).failures
    assert failures[0].message == "不是 JSON：第 18 列有误（not JSON: Invalid control character at column 18）"
    # not "Invalid control character at column 21"
    cut = "不是 JSON：记录在行尾中断，可能被截断（not JSON: the line ends inside the record (cut short?)）"
    assert [(f.line, f.message) for f in failures if f.line > 3] == [(4, cut), (5, cut)]
    assert (failures[1].field, failures[1].reason) == ("type_code", "REQUIRED")
    unknown = [f.field for f in failures if f.line == 3 and f.reason == "UNKNOWN_FIELD"]
    required = [f.field for f in failures if f.line == 3 and f.reason == "REQUIRED"]
    business = running.gateway.catalog.license_type(samples.BUSINESS_LICENSE)
    assert len(unknown) > 3 and unknown == sorted(unknown)  # a food permit's fields, which a 营业执照 has not
    order = [f"fields.{f.key}" for f in business.fields]
    assert len(required) > 1 and required == sorted(required, key=order.index)  # in the catalog's order


def test_records_without_a_request_id_get_one_from_their_content(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = [{k: v for k, v in r.items() if k != "request_id"} for r in permits(3, tag, start=300)]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.append(lines[0])  # the same record twice: the same derived request id
    path = write_jsonl(tmp_path / "no-ids.jsonl", lines)

    report = import_file(path, factory(running))
    assert (report.created, report.existing, report.duplicates, report.failures) == (3, 0, 1, [])

    derived = (
        "import-" + hashlib.sha256(issue_request(records[0]).SerializeToString(deterministic=True)).hexdigest()[:40]
    )
    with running.gateway.db.unit_of_work() as uow:
        prior = uow.licenses.prior_requests(MARKET, [derived])
    assert derived in prior, "the first record should have been issued under its derived request id"

    again = import_file(path, factory(running))
    assert (again.created, again.existing, again.duplicates, again.failures) == (0, 3, 1, [])


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_line_repeating_an_earlier_one_is_said_apart_naming_it(
    running: RunningGateway, tmp_path: Path, kind: str
) -> None:
    """Two identical rows (an export made from a join, two exports pasted together) have the same request: the second
    had been answered as the first's repeat and counted 此前已有 on an empty store, named nowhere (a reviewer, R2). It
    is not sent again: counted apart, naming the line it repeats, and written to the failures file as DUPLICATE_LINE.
    Run again, the lines an earlier run imported are 此前已有, and the repeat still a repeat."""
    records = permits(6, uuid.uuid4().hex[:8].upper())
    records[:5] = [{k: v for k, v in r.items() if k != "request_id"} for r in records[:5]]  # ids from the content
    records.insert(3, records[1])  # line 4 (a CSV's row 4, after its header) repeats line 2
    records.append(records[-1])  # the last, with its own request id, twice: a repeat too
    if kind == "csv":
        path = write_csv(tmp_path / "dup.csv", records)
        first, repeat, given = 3, 5, 8  # the header is line 1
    else:
        path = write_jsonl(tmp_path / "dup.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
        first, repeat, given = 2, 4, 7
    failures = tmp_path / "fail.jsonl"
    with FailureFile(failures) as written:
        report = import_file(path, factory(running), failure_file=written)
    assert (report.lines, report.created, report.existing, report.failed, report.duplicates) == (8, 6, 0, 0, 1 + 1)
    assert report.failures == [] and report.repeats_named == [(repeat, first), (given + 1, given)]
    said = summary(report, failure_file=failures)
    assert said.startswith(
        f"共 8 行：新签发 6 件，此前已有 0 件，失败 0 行，另有 2 行与前面的行重复（第 {repeat} 行同第 {first} 行；"
        f"第 {given + 1} 行同第 {given} 行），未再发送，用时 "
    ), said
    assert f"2 repeating an earlier line (line {repeat} as line {first}; line {given + 1} as line {given})" in said
    assert f"2 行重复（DUPLICATE_LINE）已写入 {failures}" in said
    rows = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    text = path.read_text(encoding="utf-8").splitlines()
    assert [(r["line"], r["field"], r["reason"], r["message"], r["record"]) for r in rows] == [
        (repeat, "", "DUPLICATE_LINE", f"与第 {first} 行相同，未再发送（the same as line {first}: not sent again）",
         text[repeat - 1]),
        (given + 1, "", "DUPLICATE_LINE", f"与第 {given} 行相同，未再发送（the same as line {given}: not sent again）",
         text[given]),
    ]  # fmt: skip

    again = import_file(path, factory(running))
    assert (again.created, again.existing, again.failed, again.duplicates) == (0, 6, 0, 2)
    assert summary(again).startswith("共 8 行：新签发 0 件，此前已有 6 件，失败 0 行，另有 2 行与前面的行重复（")


def test_a_line_with_more_bad_fields_than_the_gateway_lists_says_how_many_more(
    running: RunningGateway, tmp_path: Path
) -> None:
    """The gateway lists at most 16 of an item's bad fields, its message saying how many more (另有N项有误). The import
    kept the 16 and dropped the message: its console, its failures file and its count ("every failure, 16") said
    nothing of the rest, found only by importing the line again once the 16 were fixed (a reviewer, R2). The line now
    has a row of its own, MORE_FIELDS, counting those not listed, and the summary says it."""
    tag = uuid.uuid4().hex[:8].upper()
    first, bad, last = permits(3, tag, start=400)
    bad["fields"] = {**bad["fields"], **{f"extra_{n:02d}": "x" for n in range(25)}}  # 25 UNKNOWN_FIELD
    path = write_jsonl(tmp_path / "many.jsonl", [json.dumps(r, ensure_ascii=False) for r in (first, bad, last)])
    failures = tmp_path / "fail.csv"
    with FailureFile(failures) as written:
        report = import_file(path, factory(running), failure_file=written)
    assert (report.created, report.failed) == (2, 1)
    assert [(f.line, f.reason) for f in report.failures] == [(2, "UNKNOWN_FIELD")] * 16 + [(2, "MORE_FIELDS")]
    more = report.failures[-1]
    assert (more.field, more.message) == (
        "",
        "另有 9 项有误未列出：证照网关每行至多列出 16 项，改正以上各项后再次导入可见"
        "（9 more bad fields not listed: the gateway lists at most 16 a line; fix those above and import again to see "
        "them）",
    )
    said = summary(report, failure_file=failures)
    assert "\n  第 2 行 - MORE_FIELDS：另有 9 项有误未列出：" in said
    assert f"全部 17 条失败已写入 {failures}（every failure, 17, is in {failures}）" in said
    assert "其中 1 行的有误字段未全部列出，共另有 9 项未列出（MORE_FIELDS）" in said
    with failures.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["line"], r["field"], r["reason"]) for r in rows[-1:]] == [("2", "", "MORE_FIELDS")]
    assert len(rows) == 17 and rows[-1]["message"] == more.message


def test_repeats_past_those_named_say_how_to_see_every_one(running: RunningGateway, tmp_path: Path) -> None:
    """More lines repeating earlier ones than the summary names (five, then 等), run without --failures: nothing said
    how to see the rest, as failed lines past the 50th are told (a reviewer, R3). The summary now says --failures FILE
    lists every one; with five or fewer, all named, or with a failures file, it does not."""
    records = permits(7, uuid.uuid4().hex[:8].upper())
    path = write_jsonl(tmp_path / "twice.jsonl", [json.dumps(r, ensure_ascii=False) for r in records * 2])
    hint = (
        "加 --failures FILE 可将每行重复写入文件，各注明与之相同的前面一行（--failures FILE writes every line "
        "repeating an earlier one to a file, each naming the line it repeats）"
    )
    report = import_file(path, factory(running))
    assert (report.lines, report.created, report.existing, report.failed, report.duplicates) == (14, 7, 0, 0, 7)
    said = summary(report).splitlines()
    pairs = "；".join(f"第 {line} 行同第 {line - 7} 行" for line in range(8, 13))
    assert f"另有 7 行与前面的行重复（{pairs}等），未再发送" in said[0], said
    assert said[1:] == [hint], said
    failures = tmp_path / "fail.jsonl"
    with FailureFile(failures) as written:
        again = import_file(path, factory(running), failure_file=written)
    said = summary(again, failure_file=failures).splitlines()
    assert hint not in said and f"7 行重复（DUPLICATE_LINE）已写入 {failures}" in said[1], said
    assert len(failures.read_text(encoding="utf-8").splitlines()) == 7
    five = write_jsonl(tmp_path / "five.jsonl", [json.dumps(r, ensure_ascii=False) for r in records + records[:5]])
    named = import_file(five, factory(running))
    assert (named.duplicates, len(named.repeats_named)) == (5, 5)
    assert summary(named).splitlines()[1:] == []


def test_the_requests_an_import_remembers_take_little_memory() -> None:
    """Every request a run sent is remembered by a digest with its first line (``_SeenRequests``): 2 million lines
    take 64 MB."""
    from adapters.batch_import import _SeenRequests

    count = 200_000
    digests = [hashlib.blake2b(str(i).encode(), digest_size=_SeenRequests.DIGEST).digest() for i in range(count)]
    tracemalloc.start()
    try:
        seen = _SeenRequests()
        assert all(seen.first(digest, i + 1) == 0 for i, digest in enumerate(digests))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 16 bytes a slot, at most 3 slots a request as the table grows, with the table before it: a set of the digests
    # alone would take 90 bytes a request, and a dict of them with their lines more
    assert len(seen) == count and peak < 80 * count, peak
    assert [seen.first(digests[i], 1) for i in (0, 99_999, count - 1)] == [1, 100_000, count]


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


def test_a_misspelt_csv_column_is_said_once_for_the_header(tmp_path: Path) -> None:
    """holder.kode had failed every row as a holder "not an object", the column unnamed (a bulk-import tester)."""
    path = tmp_path / "typo.csv"
    path.write_text("request_id,type_code,holder.kode, serial,fields.name,备注,   ,\nr1,t,c,s,n,,,\n", encoding="utf-8")
    with pytest.raises(ValueError) as refused:
        count_records(path)
    # Chinese first, the English after it, not inside it (it had been holder.kode（did you mean holder.code?）)
    assert str(refused.value) == (
        f"{path} 的表头（第 1 行）无法读取（the header of {path} (line 1) cannot be read）："
        "表头中有未知的列：holder.kode（应为 holder.code？）；' serial'（列名前后有空格或字节顺序标记）"
        "（unknown columns in the header: holder.kode: did you mean holder.code?; ' serial': spaces or a byte order "
        "mark around its name; the columns are request_id, type_code, license_number, issue_date, valid_from, "
        "valid_until, region_code, serial, holder.name, holder.code_type, holder.code and fields.<key>）"
    )
    path.write_text("Request_ID,holder,fields.name ,type_code\nr1,x,n,t\n", encoding="utf-8")
    with pytest.raises(ValueError) as refused:
        count_records(path)
    assert "Request_ID（应为 request_id？）；holder（每个值一列：holder.<键>）；'fields.name '" in str(refused.value)
    # a column like no other (an Excel template's 备注), and blank ones, are left to the rows, as they were: ignored
    # when empty (review)
    path.write_text("request_id,type_code,备注,   ,\nr1,t,,,\n", encoding="utf-8")
    assert [record for _, record in read_records(path)] == [
        {"request_id": "r1", "type_code": "t", "holder": {}, "fields": {}}
    ]


def test_a_column_or_key_given_twice_is_refused_naming_it(tmp_path: Path) -> None:
    """A header with fields.complaint_hotline twice (a template's empty column after the export's filled one) had kept
    the last cell: the filled hotline was dropped, and the license sealed without it, without a word; a JSON key given
    twice kept its last value alike (a reviewer). The header is refused, naming the column and where it is; the JSON
    line fails alone, naming the key. Blank columns, left empty, are still ignored however many."""
    record = permits(1, "DUP", start=8200)[0]
    record["fields"]["complaint_hotline"] = "0531-12345678"
    path = write_csv(tmp_path / "dup.csv", [record])
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    rows[0] += ["", "fields.complaint_hotline", ""]
    rows[1] += ["", "", ""]
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    with pytest.raises(ValueError) as refused:
        count_records(path)
    at = rows[0].index("fields.complaint_hotline") + 1
    assert str(refused.value) == (
        f"{path} 的表头（第 1 行）无法读取（the header of {path} (line 1) cannot be read）："
        f"表头中有重复的列：fields.complaint_hotline（第 {at}、{len(rows[0]) - 1} 列），每列只能有一个"
        f"（columns given twice in the header: fields.complaint_hotline (columns {at} and {len(rows[0]) - 1}): "
        "a column is read once）"
    )

    line = json.dumps(record, ensure_ascii=False).replace('"fields": {', '"fields": {"signer": "王五", "signer": "", ')
    (_, failure), (_, read) = read_records(write_jsonl(tmp_path / "dup.jsonl", [line, json.dumps(record)]))
    assert failure == Failure(
        1, "", "BAD_RECORD", "记录中的键 signer 在同一对象中出现了两次（the key signer is given twice in one object）"
    )
    assert isinstance(read, dict) and read["fields"]["complaint_hotline"] == "0531-12345678"


def test_a_title_row_above_the_header_is_said_so_naming_the_header_line(tmp_path: Path) -> None:
    """A 台账 with its title in A1 (2024年食品生产许可证发放台账) above the header: the title was taken as the header,
    every line failed `unknown keys: , 2024年…`, and the real header counted as a failed record (a reviewer). The file
    is refused before anything is sent, saying the first line seems a title and which line seems the header."""
    path = tmp_path / "title.csv"
    path.write_text(
        "2024年食品生产许可证发放台账,,,\n,,,\ntype_code,license_number,holder.name,备注\nt,A,甲,\n", encoding="utf-8"
    )
    with pytest.raises(ValueError) as refused:
        count_records(path)
    assert str(refused.value) == (
        f"{path} 的表头（第 1 行）无法读取（the header of {path} (line 1) cannot be read）："
        "第 1 行不是表头，像是标题行（2024年食品生产许可证发放台账）：其中没有任何已知的列；"
        "第 3 行像是表头，请删去其上的行"
        "（line 1 is no header but a title, it seems (2024年食品生产许可证发放台账): it names no known column; line 3 "
        "looks like the header: remove the lines above it）"
    )
    path.write_text("type_code,license_number,holder.name,备注\nt,A,甲,\n", encoding="utf-8")
    assert count_records(path) == 1


def test_a_stray_quote_a_later_line_closes_fails_naming_the_lines_it_took_and_where_it_opened(tmp_path: Path) -> None:
    """A 经营范围 typed as `"食品` whose quote a quoted cell of a later row closes: the rows between were read into that
    cell, and said as one line, 第 3 行 BAD_CSV：不是 CSV（',' expected after '"'）, naming neither the quote nor the
    row it took (a reviewer). The failure names the lines read as one record and the line the quote opened on."""
    path = tmp_path / "stray.csv"
    path.write_text(
        'request_id,type_code,holder.name\r\nr1,t,甲\r\nr2,t,"食品\r\nr3,t,"x""y"\r\nr4,t,乙\r\n', encoding="utf-8"
    )
    read = list(read_records(path))
    assert [(number, getattr(record, "reason", "")) for number, record in read] == [(2, ""), (3, "BAD_CSV"), (5, "")]
    failure = read[1][1]
    assert isinstance(failure, Failure) and failure.message == (
        "第 3–4 行被读作一条记录：第 3 行的引号在单元格末尾之后才闭合，其间各行被读入该单元格，请补上引号或删去它"
        "（lines 3-4 were read as one record: the quote opened on line 3 is closed only later, and the lines between "
        "were read into its cell; close the quote or remove it; not CSV: ',' expected after '\"'）"
    )


def test_csv_records_are_numbered_by_the_line_they_begin_on(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(
        'type_code,license_number,holder.name\n\n111000009910000354001,A,甲公司\n"x","B","乙\n公司"\nx,C,丙\n',
        encoding="utf-8",
    )
    assert [number for number, _ in read_records(path)] == [3, 4, 6]  # a blank line 2; a value over lines 4-5


def test_a_csv_cell_opening_a_quote_it_never_closes_refuses_the_file_naming_its_line(
    running: RunningGateway, tmp_path: Path
) -> None:
    """A 经营范围 typed as `"食品生产` (the last column) and never closed: csv's lenient reading took every row after it
    into that cell, the license was sealed with other companies' rows as its business scope, the rows after were
    neither issued nor listed, and the import said 失败 0 行, exit 0 (a reviewer). The file is refused before anything
    is sent, naming the line the quote opens on, as a file in another encoding is (exit 2)."""
    tag = uuid.uuid4().hex[:6].upper()
    companies = [samples.business_license(int(uuid.uuid4().hex[:7], 16) + i) for i in range(4)]
    for i, company in enumerate(companies):
        company["request_id"] = f"quote-{tag}-{i}"
    companies[1]["fields"]["legal_representative"] = "张\n三"  # line 3-4: a value over two lines, well closed
    path = write_csv(tmp_path / "quote.csv", companies)
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    assert lines[3].startswith(companies[2]["request_id"])  # line 5, its last cell opening a quote
    lines[3] = lines[3].rsplit(",", 1)[0] + ',"济南市市场监督管理局'
    path.write_text("\r\n".join(lines), encoding="utf-8")

    with pytest.raises(ValueError) as refused:
        count_records(path)
    assert str(refused.value) == (
        f"{path} 第 5 行的引号未闭合，直到文件末尾：其后各行都会被读作该单元格的内容，请补上引号或删去它"
        f"（line 5 of {path} opens a quote that is never closed: every line after it would be read into that cell; "
        "close the quote or remove it）"
    )
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, str(path))
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"zzgw import: {refused.value}\n" and done.stdout == ""
    assert not any(_committed(running, company["request_id"]) for company in companies)
    # a quote opened in a cell's middle (an inch mark: 5" 管材) is text, not a quoted value, as before
    lines[3] = lines[3].replace(',"济南', ',5" 济南')
    path.write_text("\r\n".join(lines), encoding="utf-8")
    assert [number for number, _ in read_records(path)] == [2, 3, 5, 6]


def test_a_file_in_another_encoding_is_refused_before_anything_is_sent_or_read_as_told(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("type_code,license_number,holder.name\nx,A,济南甲公司\n".encode("gbk"))
    with pytest.raises(ValueError) as refused:
        count_records(path)
    # Chinese first, as the department's data clerk who saved it from Excel reads it (it had been English alone)
    assert str(refused.value) == (
        f"{path} 第 2 行不是 UTF-8 编码：Excel 默认以 GBK 保存中文 CSV，请加 --encoding gb18030，或在 Excel 中另存为"
        f"“CSV UTF-8”（line 2 of {path} is not utf-8-sig: Excel saves Chinese CSV as GBK; use --encoding gb18030, "
        "or save it as 'CSV UTF-8'）"
    )
    assert count_records(path, encoding="gb18030") == 1
    ((number, record),) = list(read_records(path, encoding="gb18030"))
    assert number == 2 and isinstance(record, dict) and record["holder"]["name"] == "济南甲公司"


def test_a_workbook_or_a_utf16_file_is_said_what_it_is(tmp_path: Path) -> None:
    """An .xlsx workbook, or a UTF-16 text file (Excel's Unicode text), had been told to add --encoding gb18030,
    which then failed again, 第 1 行不是 gb18030 编码 (a reviewer). Each is said what it is, and what to do."""
    import zipfile

    book = tmp_path / "book.xlsx"
    with zipfile.ZipFile(book, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    for encoding in ("utf-8-sig", "gb18030"):
        with pytest.raises(ValueError) as refused:
            count_records(book, "csv", encoding=encoding)
        assert str(refused.value) == (
            f"{book} 是 Excel 工作簿，不是 CSV 文本：请在 Excel 中另存为“CSV UTF-8”再导入"
            f"（{book} is an Excel workbook, not CSV text: save it as 'CSV UTF-8' in Excel, and import that）"
        )
    wide = tmp_path / "wide.csv"
    wide.write_text("type_code,license_number,holder.name\nx,A,济南甲公司\n", encoding="utf-16")
    with pytest.raises(ValueError) as refused:
        count_records(wide)
    assert str(refused.value) == (
        f"{wide} 是 UTF-16 编码：请加 --encoding utf-16，或在 Excel 中另存为“CSV UTF-8”"
        f"（{wide} is UTF-16: use --encoding utf-16, or save it as 'CSV UTF-8'）"
    )
    ((number, record),) = list(read_records(wide, encoding="utf-16"))
    assert number == 2 and isinstance(record, dict) and record["holder"]["name"] == "济南甲公司"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_said_to_be_it_naming_the_codec(tmp_path: Path, codec: str) -> None:
    """UTF-16 as SQL Server's `bcp -w` or .NET's Encoding.Unicode write it, without a byte order mark, was given the
    GBK advice; with it, 第 2 行不是 gb18030 编码, and with --encoding utf-16, Python's "UTF-16 stream does not start
    with BOM" (a reviewer). Its exact codec is said, and reads it."""
    bare = tmp_path / "bare.csv"
    bare.write_bytes("type_code,license_number,holder.name\nx,A,济南甲公司\n".encode(codec))
    order = codec[-2:].upper()
    for encoding in ("utf-8-sig", "gb18030", "utf-16"):
        with pytest.raises(ValueError) as refused:
            count_records(bare, encoding=encoding)
        assert str(refused.value) == (
            f"{bare} 是 UTF-16 {order} 编码，没有字节顺序标记：请加 --encoding {codec}，或另存为“CSV UTF-8”"
            f"（{bare} is UTF-16 {order} without a byte order mark: use --encoding {codec}, or save it as 'CSV UTF-8'）"
        )
    assert count_records(bare, encoding=codec) == 1
    ((number, record),) = list(read_records(bare, encoding=codec))
    assert number == 2 and isinstance(record, dict) and record["holder"]["name"] == "济南甲公司"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-16"])
def test_excels_unicode_text_is_said_to_be_tab_separated_whatever_the_encoding(tmp_path: Path, encoding: str) -> None:
    """Excel's "Unicode 文本" (*.txt) is UTF-16 with TAB-separated columns: told to add --encoding utf-16, which then
    failed every line, BAD_RECORD：记录中有未知的键：request_id\\ttype_code… (a reviewer). It is said what it is, and
    to save it as "CSV UTF-8", before anything is read or sent."""
    text = tmp_path / "unicode.txt"
    text.write_text("request_id\ttype_code\tholder.name\nr1\tx\t济南甲公司\n", encoding="utf-16")
    with pytest.raises(ValueError) as refused:
        count_records(text, "csv", encoding=encoding)
    assert str(refused.value) == (
        f"{text} 是 Excel 的“Unicode 文本”（UTF-16 编码，各列以制表符分隔），不是 CSV："
        f"请在 Excel 中另存为“CSV UTF-8”再导入（{text} is Excel's 'Unicode Text', UTF-16 with TAB-separated "
        "columns, not CSV: save it as 'CSV UTF-8' in Excel, and import that）"
    )


def test_utf8_read_as_gb18030_is_refused_not_garbled(tmp_path: Path) -> None:
    """GB18030 reads almost any bytes: a UTF-8 file imported with --encoding gb18030 had been read as other
    characters, without an error, and 济南甲公司 issued under a garbled name (a reviewer). A UTF-8 file is refused
    whole; a UTF-8 line joined to a GBK export fails alone; GBK names themselves are never taken for UTF-8."""
    header = "type_code,license_number,holder.name\n"
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text(header + "x,A,济南甲公司\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^.*utf8\.csv 第 2 行是 UTF-8 编码，不是 gb18030：请去掉 --encoding 再导入"):
        count_records(utf8, encoding="gb18030")
    assert count_records(utf8) == 1

    joined = tmp_path / "joined.csv"
    gbk_lines, utf8_line = (header + "x,A,济南甲公司\n").encode("gbk"), "x,B,青岛乙公司\n".encode()
    joined.write_bytes(gbk_lines + utf8_line + "x,C,丙\n".encode("gbk"))
    assert count_records(joined, encoding="gb18030") == 3
    (_, first), (_, second), (_, third) = read_records(joined, encoding="gb18030")
    assert isinstance(first, dict) and first["holder"]["name"] == "济南甲公司"
    assert isinstance(second, Failure) and (second.line, second.reason) == (3, "BAD_ENCODING")
    assert second.message.startswith("该行是 UTF-8 编码，不是 gb18030（the line is UTF-8, not gb18030")
    assert isinstance(third, dict) and third["holder"]["name"] == "丙"
    # the failures file keeps the line as the file holds it, not as misread (a reviewer)
    from adapters.batch_import import _records

    assert [text for _, _, text in _records(joined, None, "gb18030")][1] == "x,B,青岛乙公司"
    jsonl_joined = tmp_path / "joined.jsonl"
    jsonl_joined.write_bytes('{"a": "甲"}\n'.encode("gbk") + '{"name": "青岛乙公司"}\n'.encode())
    assert [text for _, _, text in _records(jsonl_joined, None, "gb18030")][1] == '{"name": "青岛乙公司"}'

    jsonl = tmp_path / "utf8.jsonl"
    jsonl.write_text('{"holder": {"name": "济南甲公司"}}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"第 1 行是 UTF-8 编码，不是 gb18030.*（line 1 of .* is UTF-8, not gb18030"):
        count_records(jsonl, encoding="gb18030")

    # every GB2312 first-level character, in names of two to four, reads as itself
    level_one = [bytes([lead, trail]) for lead in range(0xB0, 0xD8) for trail in range(0xA1, 0xFF)]
    common = [code.decode("gb2312") for code in level_one[:-5]]  # D7FA-D7FE are unassigned
    names = [
        "".join(common[(index * step) % len(common)] for step in range(1, size + 1))
        for size in (2, 3, 4)
        for index in range(len(common))
    ]
    gbk = tmp_path / "names.csv"
    gbk.write_bytes((header + "".join(f"x,N{i},{name}\n" for i, name in enumerate(names))).encode("gbk"))
    assert [record["holder"]["name"] for _, record in read_records(gbk, encoding="gb18030")] == names


def test_a_record_with_a_null_or_a_number_where_text_belongs_is_refused() -> None:
    from adapters.records import RecordError

    record = samples.business_license(70)
    for holder, said in (
        (
            {**record["holder"], "name": None},
            "holder.name 须为文字，不能是 null（holder.name must be text, a string, not null）",
        ),
        ({**record["holder"], "code_type": 1}, "holder.code_type 须为文字，不能是 数字"),  # 1 is not 001
    ):
        with pytest.raises(RecordError) as refused:
            issue_request({**record, "holder": holder})
        assert str(refused.value).startswith(said) and refused.value.field == said.split()[0]
    assert issue_request(record).holder.name == record["holder"]["name"]


def test_a_line_that_cannot_be_read_fails_alone_and_the_others_go_in(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(6, tag, start=400)
    records[1]["holder"] = {**records[1]["holder"], "name": "张\ud800三"}  # a lone surrogate, as JSON allows
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines[1] = json.dumps(records[1])  # ensure_ascii: the file holds the escape "\ud800"
    lines[2] = lines[2].replace('"fields": {', '"fields": {"n": ' + "9" * 5000 + ", ", 1)  # int() refuses 5,000 digits
    lines[3] = "[" * 50_000 + "]" * 50_000  # deeper than Python's recursion limit
    path = write_jsonl(tmp_path / "odd.jsonl", lines)

    report = import_file(path, factory(running))

    assert (report.lines, report.created, report.existing) == (6, 3, 0)
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (2, "holder.name", "BAD_CHARACTERS"),
        (3, "", "BAD_JSON"),
        (4, "", "BAD_JSON"),
    ]
    by_line = {f.line: f.message for f in report.failures}
    assert by_line[2].startswith("holder.name 含有 \\ud800，是 UTF-16 代理对的一半，不是字符")
    assert "（holder.name holds \\ud800, half of a UTF-16 surrogate pair" in by_line[2]
    assert "Exceeds the limit (4300 digits)" in by_line[3] and "RecursionError" in by_line[4]
    assert by_line[4].startswith("无法读取（cannot be read: RecursionError")
    text = summary(report)
    text.encode("utf-8")  # printable, whatever the failures quote
    assert "第 2 行 holder.name BAD_CHARACTERS：holder.name 含有 \\ud800" in text


def test_a_csv_cell_over_the_csv_field_limit_fails_alone_with_its_size(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(3, tag, start=420)
    records[1]["fields"]["food_category"] = "饮" * 200_000  # Python's csv stops at 131,072 characters a value
    path = write_csv(tmp_path / "bigcell.csv", records)

    report = import_file(path, factory(running))

    assert (report.lines, report.created) == (3, 2)
    ((failure),) = report.failures
    assert (failure.line, failure.reason) == (3, "RECORD_TOO_LARGE")
    line_length = len(path.read_bytes().decode("utf-8").splitlines(keepends=True)[2])  # with its "\r\n"
    assert failure.message.startswith(f"第 3 行有 {line_length} 个字符，超过一条记录的上限 {MAX_RECORD_CHARS}")
    assert f"（line 3 is {line_length} characters, more than a record may have, {MAX_RECORD_CHARS}" in failure.message


class MessageSizes(grpc.StreamStreamClientInterceptor):
    """Records the size of every stream message the client sends."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        def recorded() -> Iterator[Any]:
            for message in request_iterator:
                self.sizes.append(message.ByteSize())
                yield message

        return continuation(details, recorded())


def test_messages_stay_under_the_gateways_limit_and_long_values_reach_it(
    running: RunningGateway, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(105, tag, start=500)
    for record in records[5:]:  # 100 lines of 15,000 characters in one field: 4.5 MB, over the 4 MiB limit together
        record["fields"]["producer_name"] = "食" * 15_000
    sent = MessageSizes()

    report = import_file(
        write_jsonl(tmp_path / "long.jsonl", [json.dumps(r, ensure_ascii=False) for r in records]),
        lambda: grpc.intercept_channel(running.channel(MARKET), sent),
    )

    assert (report.lines, report.created) == (105, 5)
    assert [(f.line, f.field, f.reason) for f in report.failures] == [
        (n, "fields.producer_name", "TOO_LONG") for n in range(6, 106)
    ]
    assert sum(sent.sizes) > 4 * 1024 * 1024 and max(sent.sizes) <= MESSAGE_BYTES


def test_a_request_larger_than_a_message_is_not_sent_and_the_rest_are(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(30, tag, start=620)
    records[12]["fields"]["producer_name"] = "食" * 4_000  # read (under MAX_RECORD_CHARS), 12 KB as a request
    sent = MessageSizes()

    report = import_file(
        write_jsonl(tmp_path / "one-large.jsonl", [json.dumps(r, ensure_ascii=False) for r in records]),
        lambda: grpc.intercept_channel(running.channel(MARKET), sent),
        message_bytes=8_000,
    )

    assert (report.lines, report.created) == (30, 29)
    ((failure),) = report.failures
    assert (failure.line, failure.reason) == (13, "RECORD_TOO_LARGE")
    size = issue_request(records[12]).ByteSize()
    said = re.fullmatch(
        r"其请求有 (\d+) 字节，超过一条消息的上限 8000，未发送"
        r"（its request is (\d+) bytes, more than a message carries, 8000: not sent）",
        failure.message,
    )
    assert said and said[1] == said[2], failure.message
    assert size < int(said[1]) < size + 8  # with its framing in the message
    assert sum(sent.sizes) > 8_000 >= max(sent.sizes)  # split, each under the bound


def test_a_line_over_the_record_limit_is_read_through_not_kept(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(3, tag, start=640)
    records[1]["fields"]["producer_name"] = "食" * 3_000_000  # a 9 MB line
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path = write_jsonl(tmp_path / "huge.jsonl", lines)

    read, peak = read_with_peak_memory(path)
    assert [number for number, _ in read] == [1, 2, 3] and peak < 2 * 1024 * 1024  # the line alone takes 6 MB

    report = import_file(path, factory(running))
    assert (report.lines, report.created) == (3, 2)
    assert [(f.line, f.reason, f.message) for f in report.failures] == [
        (2, "RECORD_TOO_LARGE", f"第 2 行有 {len(lines[1]) + 1} 个字符，超过一条记录的上限 131072，未读取，请检查其内容"
         f"（line 2 is {len(lines[1]) + 1} characters, more than a record may have, 131072: not read; check what it "
         "holds）"),
    ]  # fmt: skip


def read_with_peak_memory(path: Path) -> tuple[list[tuple[int, Any]], int]:
    """The file's records as ``read_records`` gives them, and the most memory that took (bytes)."""
    tracemalloc.start()
    try:
        return list(read_records(path)), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_csv_records_over_the_limit_are_skipped_in_step_with_the_quotes(tmp_path: Path) -> None:
    big = "x" * 5_000_000
    rows = [
        "type_code,license_number,holder.name",  # 1
        "t,A,甲",  # 2
        f't,B,"乙\n{big}\n"',  # 3-5: a value over lines, its middle line too long
        f't,C,"{big},""quoted"""',  # 6: too long, its quotes even
        f't,D,"{big}\n丁"',  # 7-8: too long, opening a value that ends on line 8
        't,E,"' + "\n".join(["戊" * 1000] * 2000) + '"',  # 9-2008: lines short, the record too long
        "t,F,己",  # 2009
        'x,"G,H",庚',  # 2010
    ]
    path = tmp_path / "long-records.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    read, peak = read_with_peak_memory(path)

    assert [(n, r.reason if isinstance(r, Failure) else r["license_number"]) for n, r in read] == [
        (2, "A"), (3, "RECORD_TOO_LARGE"), (6, "RECORD_TOO_LARGE"), (7, "RECORD_TOO_LARGE"), (9, "RECORD_TOO_LARGE"),
        (2009, "F"), (2010, "G,H"),
    ]  # fmt: skip
    messages = {n: r.message for n, r in read if isinstance(r, Failure)}
    assert messages[3].startswith(f"第 3-5 行的记录有 {len(rows[2]) + 1} 个字符，超过一条记录的上限")
    assert f"（the record on lines 3-5 is {len(rows[2]) + 1} characters, more than a record" in messages[3]
    assert messages[7].startswith(f"第 7-8 行的记录有 {len(rows[4]) + 1} 个字符")
    assert messages[9].startswith(f"第 9-2008 行的记录有 {len(rows[5]) + 1} 个字符")
    assert peak < 2 * 1024 * 1024  # a line of 5 MB and a record of 4 MB as Python text: neither is kept
    assert count_records(path) == len(read)


def test_the_progress_bar_counts_records_as_they_are_read(running: RunningGateway, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(7, tag, start=660)
    records[2]["fields"]["domicile"] = "山东省济南市\n章丘区工业园"  # a value over two lines
    path = write_csv(tmp_path / "multiline.csv", records)
    physical = len(path.read_text(encoding="utf-8").splitlines()) - 1
    answered: list[int] = []

    total = count_records(path)
    report = import_file(path, factory(running), progress=answered.append)

    assert physical == 8 and total == 7 == report.lines == sum(answered) == report.created


def test_an_import_that_stops_on_its_own_error_says_so_after_the_answers(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapters.batch_import

    tag = uuid.uuid4().hex[:8].upper()
    lines = [json.dumps(r, ensure_ascii=False) for r in permits(401, tag, start=700)]
    path = write_jsonl(tmp_path / "unreadable-at-the-end.jsonl", lines)
    read = adapters.batch_import._read

    def failing(number: int, entry: str | dict[Any, Any]) -> Any:
        if number == 401:  # the disk fails under the last line
            raise OSError(5, "Input/output error")
        return read(number, entry)

    monkeypatch.setattr(adapters.batch_import, "_read", failing)
    with pytest.raises(ImportStopped) as stopped:
        import_file(path, factory(running))

    report = stopped.value.report
    assert 100 <= report.lines <= 400 and (report.created, report.failures, report.unanswered) == (report.lines, [], 0)
    assert str(stopped.value) == (
        f"读取 {path} 的 {report.lines} 行后，导入程序自身出错而停止，不是证照网关的问题"
        f"（stopped after {report.lines} lines of {path} by an error of the import itself, not the gateway's）："
        "OSError: [Errno 5] Input/output error"
    )
    assert isinstance(stopped.value.__cause__, OSError)
    assert summary(report).startswith(
        f"导入程序自身出错而停止：读取 {report.lines} 行，至此新签发 {report.lines} 件，此前已有 0 件，失败 0 行，用时 "
    )
    assert (
        f"（stopped by an error of the import itself after reading {report.lines} lines: {report.lines} issued, "
        "0 already present, 0 failed so far ("
    ) in summary(report)


def test_a_line_in_another_encoding_than_the_rest_fails_alone(running: RunningGateway, tmp_path: Path) -> None:
    """Two exports joined, the last line in GBK: that line fails (BAD_ENCODING), the rest are imported. The whole
    file had been refused, with a hint (--encoding gb18030) that fails at line 1 (a bulk-import tester). A file whose
    first text does not read is still refused whole, with the hint."""
    tag = uuid.uuid4().hex[:8].upper()
    lines = [json.dumps(r, ensure_ascii=False) for r in permits(30, tag, start=3100)]
    path = tmp_path / "joined.jsonl"
    gbk = json.dumps(permits(1, tag, start=3200)[0], ensure_ascii=False)
    path.write_bytes("\n".join(lines[:10]).encode() + f"\n{gbk}\n".encode("gbk") + "\n".join(lines[10:]).encode())
    assert count_records(path) == 31
    report = import_file(path, factory(running))
    assert (report.lines, report.created, report.stopped) == (31, 30, "")
    assert [(f.line, f.reason) for f in report.failures] == [(11, "BAD_ENCODING")]
    assert "该行不是 utf-8-sig 编码" in report.failures[0].message

    for name, data in (
        ("all-gbk.jsonl", f"{gbk}\n".encode("gbk") + "\n".join(lines).encode()),
        ("all-gbk.csv", "类型,编号\n甲,乙\n".encode("gbk")),
        ("header-ascii.csv", b"type_code,license_number\n" + "甲,乙\n".encode("gbk")),
    ):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=r"第 \d 行不是 UTF-8 编码：Excel 默认以 GBK 保存中文 CSV"):
            count_records(tmp_path / name)


def test_a_refusal_by_the_gateway_ends_with_what_was_committed(running: RunningGateway, tmp_path: Path) -> None:
    """The gateway's answer ends the import (it went away past the reconnections, or refused the call): the error
    comes with the report of what was committed before, which the command prints (it printed the error alone)."""
    path = write_jsonl(tmp_path / "refused.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(3, "RF")])
    stranger = MemberCredentials(code=MARKET, token="zzgw-dev-not-a-token")
    with pytest.raises(ImportRefused) as refused:
        import_file(path, lambda: connect(running.address, stranger))
    assert refused.value.error.code() == grpc.StatusCode.UNAUTHENTICATED
    # refused for good: running it again as it is would be refused alike, so it is not advised
    said = summary(refused.value.report)
    assert said.startswith("证照网关拒绝了导入：读取 ") and "Run the same command again" not in said
    assert "同一命令会被同样拒绝：请先改正证照网关所说的问题（成员、角色、凭据），再运行" in said
    assert "（refused by the gateway after reading " in said
    assert "The same command would be refused alike: change what the gateway said" in said
    # the lines sent were refused before any was handled: none issued, not "issued or not" (a newcomer tester)
    report = refused.value.report
    left = report.unanswered  # the lines read by the time the refusal came back: all 3, as a rule
    assert left == report.lines and report.created == 0
    sent = left - report.unsent  # a refusal back before the first message's 1 s flush leaves them unsent (loaded)
    if sent:
        assert f"另有 {sent} 行未办理（被拒绝，均未签发）" in said and f", {sent} not handled (refused: none" in said
    if report.unsent:
        assert f"另有 {report.unsent} 行未发送（均未签发）" in said and f", {report.unsent} not sent (none" in said
    assert "可能已签发" not in said and "issued or not" not in said


def held_after(lines: int, gate: Path) -> str:
    """The start of a ``zzgw import`` script (``zzgw_command``'s ``before``) whose file, as the import reads it to send
    it, gives its first ``lines`` records, then nothing until ``gate`` exists, then ends: a pipe whose writer stops,
    then closes. (The tests wrote a FIFO twice, once for the count and once for the import; a pipe is now read once,
    into a temporary file.)"""
    return f"""
import os, time
from adapters import batch_import

records_of = batch_import._records


def held(path, fmt, encoding):
    for number, record in enumerate(records_of(path, fmt, encoding), start=1):
        yield record
        if number == {lines}:
            while not os.path.exists({str(gate)!r}):
                time.sleep(0.02)
            return


batch_import._records = held
"""


@contextlib.contextmanager
def first_lines_committed(
    gate: Path, running: RunningGateway, records: list[dict[str, Any]], lines: int
) -> Iterator[None]:
    """A ``zzgw import`` held after its first ``lines`` lines (``held_after``), from their commit to the block's end,
    when its file ends there."""
    deadline = time.monotonic() + 60
    while not _committed(running, records[lines - 1]["request_id"]):
        assert time.monotonic() < deadline, f"the first {lines} lines were never committed"
        time.sleep(0.05)
    try:
        yield
    finally:
        gate.touch()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_ctrl_c_ends_with_what_was_committed_and_130_and_a_second_run_finishes(
    running: RunningGateway, tmp_path: Path, signum: int, status: int
) -> None:
    """Ctrl-C, or SIGTERM (``kill``, ``timeout``, a service manager), which ended the command with nothing said."""
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(500, tag, start=1000)
    content = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path, gate = write_jsonl(tmp_path / "permits.jsonl", content.splitlines()), tmp_path / "gate"
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    arguments = ("import", "--issuer", MARKET, "--target", running.address)
    process = subprocess.Popen(
        [*zzgw_command(*arguments, before=held_after(300, gate)), str(path)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    command = zzgw_command(*arguments)
    try:
        with first_lines_committed(gate, running, records, 300):
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()

    assert process.returncode == status, stderr
    assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr
    text = stdout.decode("utf-8")
    done = re.match(
        r"已中断：读取 300 行，至此新签发 (\d+) 件，此前已有 0 件，失败 0 行"
        r"(?:，另有 (\d+) 行已发送未答复（可能已签发）)?，"
        r"用时 \d+\.\d 秒。再次运行同一命令即可导入其余部分：已导入的答复为此前已有，不会重复签发"
        r"（interrupted after reading 300 lines: (\d+) issued, 0 already present, 0 failed so far"
        r"(?:, (\d+) sent and not answered \(issued or not\))? \(\d+\.\d s\)\. "
        r"Run the same command again to import the rest: what is in already is answered as already present, "
        r"never issued twice）\n",
        text,
    )
    assert done, text
    assert int(done[1]) + int(done[2] or 0) == 300 and done[1] == done[3]

    whole = tmp_path / "permits-again.jsonl"
    whole.write_text(content, encoding="utf-8")
    again = subprocess.run([*command, str(whole)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("共 500 行：新签发 200 件，此前已有 300 件，失败 0 行")
    assert "（500 lines: 200 issued, 300 already present, 0 failed (" in again.stdout


SLOW_CANCEL = """
import time
from adapters import batch_import


class SlowCancel:
    def __init__(self, call):
        self.call = call

    def cancel(self):
        time.sleep(3)
        return self.call.cancel()


cancels = batch_import._CtrlC.cancels
batch_import._CtrlC.cancels = lambda self, call: cancels(self, SlowCancel(call))
"""
"""The start of a ``zzgw import`` script whose Ctrl-C (or SIGTERM) cancels its call 3 s after it was taken, as a
loaded machine's may: a second signal comes while the first has not yet ended the stream."""


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_a_second_signal_during_the_stream_ends_at_once_with_the_first_ones_status(
    running: RunningGateway, tmp_path: Path, signum: int, status: int
) -> None:
    """A second signal while the first ends the stream raises at once (``_CtrlC``), and the import ends as on the
    first: its summary, 143 for two SIGTERMs (a service manager stopping the import, then stopping it again), 130 for
    two Ctrl-Cs. The first's cancel is held 3 s (``SLOW_CANCEL``), so the second comes 0.5 s after it, while the
    stream still runs (session 53 had it ending 130 for SIGTERM: not so, measured then with gaps of 0.5-200 ms)."""
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(300, tag, start=6000)
    content = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path, gate = write_jsonl(tmp_path / "permits.jsonl", content.splitlines()), tmp_path / "gate"
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    before = SLOW_CANCEL + held_after(200, gate)
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, before=before)
    process = subprocess.Popen([*command, str(path)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with first_lines_committed(gate, running, records, 200):
            process.send_signal(signum)
            time.sleep(0.5)  # taken: its cancel waits 3 s (SLOW_CANCEL), the stream goes on
            assert process.poll() is None
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()

    assert process.returncode == status, stderr
    assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr
    text = stdout.decode("utf-8")  # what was sent and what was answered, as for one signal
    assert re.match(r"已中断：读取 200 行，至此新签发 (\d+) 件，此前已有 0 件，失败 0 行", text), text
    assert "Run the same command again to import the rest" in text


def test_ctrl_c_as_the_import_begins_says_how_to_go_on_in_chinese_first(
    running: RunningGateway, tmp_path: Path
) -> None:
    """A Ctrl-C the import cannot take as an interruption of its stream (here: as it begins; or a second one as the
    first ends it) had ended `zzgw import: interrupted`, in English only, with no word of what was sent or what to do
    (a reviewer, 2 runs in 7)."""
    path = write_jsonl(tmp_path / "early.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(3, "EARLY")])
    interrupt = (  # the signal is taken at once: the sleep ends
        "import os, time, adapters.batch_import as batch_import; "
        "batch_import.import_file = lambda *args, **kwargs: (os.kill(os.getpid(), signal.SIGINT), time.sleep(30)); "
    )
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, str(path), before=interrupt)
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert (
        "zzgw import: 已中断，未能汇总已得到的应答：已发送的行可能已签发；再次运行同一命令即可导入其余部分"
        in done.stderr
    )
    assert "zzgw import: interrupted" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("when", ["loading", "summing up"])
def test_ctrl_c_before_the_import_began_says_nothing_was_sent_in_chinese_first(
    running: RunningGateway, tmp_path: Path, when: str, signame: str
) -> None:
    """A Ctrl-C as `zzgw import` loads, before it reads the file (seconds on a loaded machine), had ended `zzgw
    import: interrupted`, in English only, with no word of what to do (a reviewer): it says that nothing was sent and
    to run the command again. One after the import began that it could not take as such (as it writes its summary)
    says what its own handler says: the lines sent may have been issued. SIGTERM (`kill`, a service manager's stop of
    a nightly import) says the same, exit 143: it had ended the command with nothing said (review scen2, R2)."""
    path = write_jsonl(tmp_path / "early.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(3, "LOAD")])
    patched = "adapters.client.MemberCredentials.for_mode" if when == "loading" else "adapters.batch_import.summary"
    interrupt = (  # the signal is taken at once: the sleep ends
        "import os, time, adapters.client, adapters.batch_import; "
        f"{patched} = lambda *args, **kwargs: (os.kill(os.getpid(), signal.{signame}), time.sleep(30)); "
    )
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, str(path), before=interrupt)
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == {"SIGINT": 130, "SIGTERM": 143}[signame], done.stderr
    if when == "loading":
        assert done.stderr == (
            "\nzzgw import: 在导入开始之前被中断，尚未发送任何记录；再次运行同一命令即可导入该文件"
            "（interrupted before the import began: nothing was sent; run the same command again to import the "
            "file）\n"
        )
    else:
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(
            "zzgw import: 已中断，未能汇总已得到的应答：已发送的行可能已签发；再次运行同一命令即可导入其余部分"
        ), done.stderr
    assert "zzgw import: interrupted" not in done.stderr and "Traceback" not in done.stderr


def _takes_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has a handler for SIGTERM (its ``SigCgt`` mask in /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        caught = next(line for line in status if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & 1 << (signal.SIGTERM - 1))


NOT_BEGUN = (
    "\nzzgw import: 在导入开始之前被中断，尚未发送任何记录；再次运行同一命令即可导入该文件"
    "（interrupted before the import began: nothing was sent; run the same command again to import the file）\n"
)
READING = (
    "\nzzgw import: 在读取输入时被中断，尚未发送任何记录（interrupted while reading the input, before anything was "
    "sent）\n"
)


@pytest.mark.parametrize("moment", ["taken over", 0.2, 0.5, 1.0, "waiting on its input"])
def test_sigterm_as_the_console_script_starts_says_nothing_was_sent_and_exits_143(
    running: RunningGateway, tmp_path: Path, moment: str | float
) -> None:
    """The console script `zzgw import`, as a service manager runs it and stops it at once: a SIGTERM in its first
    ~0.5-0.8 s (importing the command line, before ``main`` took SIGTERM over) ended it by the default disposition,
    status -15 and not a word, and one as it read a pipe, ``Terminated`` taken as Ctrl-C, ended 130 (left alone in
    session 53). Its handler is in place before the command line is imported (``gateway.entry``): no SQLAlchemy yet
    (``_sqlite3`` not loaded) when the test finds it. The signal is sent the moment the handler is found in place,
    at a time from the start (once the handler is in place, if later: the interpreter's own start, tens of ms, stays
    the default's) as the command loads, or once it waits on its input, a pipe nobody writes: 143, and that nothing
    was sent."""
    fifo = tmp_path / "export.jsonl"
    os.mkfifo(fifo)
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    zzgw = Path(sys.executable).with_name("zzgw")
    started = time.monotonic()
    process = subprocess.Popen(
        [str(zzgw), "import", "--issuer", MARKET, "--target", running.address, str(fifo)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        while not _takes_sigterm(process.pid):
            assert process.poll() is None and time.monotonic() - started < 30, "SIGTERM was never taken over"
            time.sleep(0.001)
        if moment == "taken over":  # before the command line's imports
            with open(f"/proc/{process.pid}/maps", encoding="ascii") as maps:
                assert "_sqlite3" not in maps.read(), "SIGTERM taken over only after the command line was imported"
        elif moment == "waiting on its input":  # opening the pipe, which waits for a writer
            while Path(f"/proc/{process.pid}/wchan").read_text(encoding="ascii") != "wait_for_partner":
                assert process.poll() is None and time.monotonic() - started < 60, "it never opened its input"
                time.sleep(0.01)
        else:
            assert isinstance(moment, float)
            time.sleep(max(0.0, started + moment - time.monotonic()))
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait()

    assert process.returncode == 143, stderr
    assert stdout == b""
    said = stderr.decode("utf-8")
    if moment == "taken over":
        assert said == NOT_BEGUN
    elif moment == "waiting on its input":
        assert said == READING
    else:  # loading, or waiting on the pipe already, as the machine's load has it
        assert said in (NOT_BEGUN, READING), said


def test_files_without_records_or_with_only_failures_end_with_a_summary(
    running: RunningGateway, tmp_path: Path
) -> None:
    header_only = tmp_path / "header.csv"
    header_only.write_text("type_code,license_number,holder.name\n", encoding="utf-8")
    for path in (header_only, write_jsonl(tmp_path / "nothing.jsonl", [])):
        report = import_file(path, factory(running))
        assert count_records(path) == report.lines == 0
        assert summary(report) == (
            "共 0 行：文件中没有记录（空文件，或只有 CSV 表头），未发送任何内容"
            "（0 lines: the file holds no records (empty, or a CSV header alone); nothing was sent）"
        )

    report = import_file(write_jsonl(tmp_path / "all-bad.jsonl", ["{", "[]", '{"colour": "red"}']), factory(running))
    assert [(f.line, f.reason) for f in report.failures] == [(1, "BAD_JSON"), (2, "BAD_RECORD"), (3, "BAD_RECORD")]
    assert summary(report).startswith("共 3 行：新签发 0 件，此前已有 0 件，失败 3 行，用时 ")
    assert "（3 lines: 0 issued, 0 already present, 3 failed (" in summary(report)


def test_the_summary_of_a_file_of_failures_says_the_lines_handled_per_second(
    running: RunningGateway, tmp_path: Path
) -> None:
    """A file of nearly all failures (an export in the wrong layout, 600 lines and one good record) was summed up
    `… 0 件/秒`, its rate the lines answered with a license per second, as if the import had not moved (left alone in
    session 53): the summary says the lines handled per second, as the bar does (行/秒), and the licenses' after."""
    tag = uuid.uuid4().hex[:8].upper()
    lines = [json.dumps(permits(1, tag, start=7000)[0], ensure_ascii=False)]
    lines += [json.dumps({**record, "issue_date": "2024-02-30"}) for record in permits(599, tag, start=7001)]
    path = write_jsonl(tmp_path / "wrong.jsonl", lines)
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, str(path))
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    first = done.stdout.splitlines()[0]
    said = re.fullmatch(
        r"共 600 行：新签发 1 件，此前已有 0 件，失败 599 行，用时 (\d+\.\d) 秒，(\d+) 行/秒，(\d+) 件/秒"
        r"（600 lines: 1 issued, 0 already present, 599 failed \((\d+\.\d) s, (\d+) lines/s, (\d+) licenses/s\)）",
        first,
    )
    assert said, first
    seconds, lines_rate, licenses_rate = float(said[1]), int(said[2]), int(said[3])
    assert said.groups()[3:] == said.groups()[:3]  # the English says the same
    # as the seconds said, rounded to a tenth, give them
    assert 600 / (seconds + 0.05) - 1 <= lines_rate <= (600 / (seconds - 0.05) + 1 if seconds > 0.05 else 10**9)
    assert 1 / (seconds + 0.05) - 1 <= licenses_rate <= (1 / (seconds - 0.05) + 1 if seconds > 0.05 else 10**9)
    assert lines_rate > 0  # the import moved, whatever the licenses' rate


def _committed(running: RunningGateway, request_id: str) -> bool:
    with running.gateway.db.unit_of_work() as uow:
        return request_id in uow.licenses.prior_requests(MARKET, [request_id])


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    columns = ["request_id", "type_code", "license_number", "holder.name", "holder.code_type", "holder.code",
               "issue_date", "valid_until", *(f"fields.{k}" for k in records[0]["fields"])]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        for r in records:
            writer.writerow({
                "request_id": r.get("request_id", ""), "type_code": r["type_code"],
                "license_number": r["license_number"],
                **{f"holder.{k}": v for k, v in r["holder"].items()}, "issue_date": r["issue_date"],
                "valid_until": r.get("valid_until", ""), **{f"fields.{k}": v for k, v in r["fields"].items()},
            })  # fmt: skip
    return path


def test_a_number_in_a_json_lines_field_is_taken_as_its_text(running: RunningGateway, tmp_path: Path) -> None:
    """A database export writes an INTEGER or DECIMAL column as a JSON number (``"complaint_hotline": 12315``): it
    failed as "fields must be an object of strings", naming no field. A number is its text, as written; true, false
    and null are refused, naming the field."""
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(5, tag, start=1600)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    numbers = {0: "12315", 1: "12.50", 2: "true", 3: "null", 4: "[12315]"}
    for index, written in numbers.items():
        lines[index] = lines[index].replace('"fields": {', f'"fields": {{"complaint_hotline": {written}, ', 1)
    path = write_jsonl(tmp_path / "numbers.jsonl", lines)

    report = import_file(path, factory(running))

    assert (report.lines, report.created) == (5, 2)
    hotline = "fields.complaint_hotline"
    assert [(f.line, f.field, f.reason, f.message) for f in report.failures] == [
        (
            line,
            hotline,
            "BAD_RECORD",
            f"{hotline} 须为文字或数字，不能是 {zh}（{hotline} must be text or a number, not {en}）",
        )
        for line, zh, en in ((3, "true", "true"), (4, "null", "null"), (5, "列表", "a list"))
    ]
    stub = running.issuance(MARKET)
    assert stub.GetLicense(_by_number(records[0])).license.fields["complaint_hotline"] == "12315"
    assert stub.GetLicense(_by_number(records[1])).license.fields["complaint_hotline"] == "12.50"  # as written


@pytest.mark.parametrize(
    ("value", "text"),
    [(3250, "3250"), (-3, "-3"), (50.5, "50.5"), (1e-7, "0.0000001"), (decimal.Decimal("1E+3"), "1000")],
)
def test_a_fields_number_is_its_digits(value: object, text: str) -> None:
    record = samples.food_permit(71)
    assert issue_request({**record, "fields": {**record["fields"], "n": value}}).fields["n"] == text


def test_a_value_that_is_not_text_is_refused_naming_it() -> None:
    from adapters.records import RecordError

    record = samples.food_permit(72)
    for change, field in (
        ({"license_number": 12}, "license_number"),  # a number only where a field's value may be one
        ({"fields": {**record["fields"], "food_category": False}}, "fields.food_category"),
        ({"fields": {**record["fields"], "food_category": float("nan")}}, "fields.food_category"),
    ):
        with pytest.raises(RecordError) as refused:
            issue_request({**record, **change})
        assert refused.value.field == field and str(refused.value).startswith(f"{field} 须为文字")


@pytest.mark.parametrize("value", [False, 0, "", []])
@pytest.mark.parametrize("key", ["holder", "fields"])
def test_a_holder_or_fields_that_is_not_an_object_is_refused_naming_it(key: str, value: object) -> None:
    """``"fields": false`` (or ``0``, ``""``, ``[]``) had been read as no fields, where ``true`` was refused naming the
    key: the record was then refused for each value the gateway missed, not for what was wrong with it (an HTTP
    reviewer)."""
    from adapters.records import RecordError

    with pytest.raises(RecordError) as refused:
        issue_request({**samples.food_permit(73), key: value})
    assert refused.value.field == key


def test_an_absent_or_null_holder_or_fields_is_empty() -> None:
    record = {k: v for k, v in samples.food_permit(74).items() if k not in ("holder", "fields")}
    for request in (issue_request(record), issue_request({**record, "holder": None, "fields": None})):
        assert (request.holder.name, dict(request.fields)) == ("", {})


def test_an_empty_csv_row_is_skipped_not_a_failed_line(running: RunningGateway, tmp_path: Path) -> None:
    """Excel leaves rows of empty cells (``,,,,,,``) at the end of a sheet: each was a failed line (type_code
    REQUIRED), and the import exited 1."""
    tag = uuid.uuid4().hex[:8].upper()
    path = write_csv(tmp_path / "excel.csv", permits(3, tag, start=1700))
    rows = path.read_bytes().decode("utf-8").split("\r\n")  # as Excel writes them
    empty = "," * (rows[0].count(","))
    rows.insert(2, empty)  # line 3, between two records
    rows[-1:] = [empty, " , ,", empty, ""]  # at the end, one with spaces
    path.write_bytes("\r\n".join(rows).encode("utf-8"))

    assert [number for number, _ in read_records(path)] == [2, 4, 5]
    assert count_records(path) == 3
    report = import_file(path, factory(running))
    assert (report.lines, report.created, report.failures) == (3, 3, [])


def test_a_line_of_a_type_the_issuer_does_not_issue_fails_alone_once_lines_were_taken(
    running: RunningGateway, tmp_path: Path
) -> None:
    """One 居民身份证 among the market regulator's food permits: that line fails, named with its type, and the others
    are imported. It had ended the import at line 600 of 3,001 as the refusal of a wrong --issuer, naming no line
    (a bulk-import tester)."""
    records = permits(300, uuid.uuid4().hex[:8].upper(), start=2600)
    card = {**samples.id_card(800_000 + int(uuid.uuid4().hex[:5], 16)), "request_id": f"card-{uuid.uuid4().hex}"}
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(149, json.dumps(card, ensure_ascii=False))  # line 150
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    report = import_file(path, factory(running))
    assert (report.lines, report.created, report.stopped, report.refused) == (301, 300, "", 0)
    assert [(f.line, f.field, f.reason) for f in report.failures] == [(150, "type_code", "NOT_AUTHORITATIVE_ISSUER")]
    said = summary(report)
    assert "第 150 行 type_code NOT_AUTHORITATIVE_ISSUER：济南市市场监督管理局不是居民身份证的" in said

    # the odd line first: the lines answered with it were taken, so it fails alone too (review)
    first = write_jsonl(tmp_path / "odd-first.jsonl", [lines[149], *lines[150:170]])
    report = import_file(first, factory(running))
    assert (report.lines, report.existing, report.stopped, report.refused) == (21, 20, "", 0)
    assert [(f.line, f.reason) for f in report.failures] == [(1, "NOT_AUTHORITATIVE_ISSUER")]


def test_a_wrong_issuer_ends_the_import_said_once_not_line_by_line(running: RunningGateway, tmp_path: Path) -> None:
    """Every food permit of a file imported with the 公安局's credentials (a wrong --issuer) is refused alike,
    NOT_AUTHORITATIVE_ISSUER: the import printed thousands of identical lines. The first refusal ends it as the
    gateway's refusal for good, said once."""
    from grpc_status import rpc_status

    from adapters.batch_import import ITEMS_PER_MESSAGE, REFUSED

    records = permits(350, uuid.uuid4().hex[:8].upper(), start=1800)
    path = write_jsonl(tmp_path / "not-mine.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])

    with pytest.raises(ImportRefused) as refused:
        import_file(path, lambda: running.channel(POLICE))

    error = refused.value.error
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details().startswith(
        "济南市公安局不是食品生产许可证的发证部门：按“一数一源”，食品生产许可证只能由其权威发证部门签发（"
    )
    status = rpc_status.from_call(error)  # as the command reads the gateway's answer: status, reason and message
    assert status is not None and status.message == error.details()
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info) and info.reason == "NOT_AUTHORITATIVE_ISSUER"
    report = refused.value.report
    assert report.stopped == REFUSED and report.failures == [] and report.created == 0
    # the answers already on their way when the first came back are counted too (one to a few messages' worth,
    # by timing: a CI run saw three), never listed line by line
    assert 1 <= report.refused <= report.lines and report.refused % ITEMS_PER_MESSAGE in (0, 50)
    assert report.failed == report.refused
    said = summary(report)
    assert said.startswith("证照网关拒绝了导入：读取 ") and "NOT_AUTHORITATIVE_ISSUER" not in said
    assert f"其中 {report.refused} 行因上述拒绝而失败（自第 1 行起），不逐行列出" in said and "\n  line " not in said
    assert report.first_refused == 1
    # what to do: not the member, its role or credentials (fine), but the lines' type (review)
    assert "自第 1 行起的证照不是该成员签发的类型，请以其发证部门导入（--issuer），或把这些行移出文件" in said
    assert "the member, its role" not in said
    # a line's refusal, not the call's: the lines after it went on, so those not answered are not said unissued
    # (import.md had promised 未办理（被拒绝，均未签发）; a reviewer)
    assert not report.unanswered_not_issued and "未办理" not in said
    if report.sent_unanswered:
        assert f"另有 {report.sent_unanswered} 行已发送未答复（可能已签发）" in said
    if report.unsent:  # read and never handed to gRPC (R1): those are not issued
        assert f"另有 {report.unsent} 行未发送（均未签发）" in said
    with running.gateway.db.unit_of_work() as uow:
        assert not uow.licenses.prior_requests(POLICE, [r["request_id"] for r in records])


def test_the_command_says_a_wrong_issuers_refusal_once(running: RunningGateway, tmp_path: Path) -> None:
    records = permits(250, uuid.uuid4().hex[:8].upper(), start=2200)
    path = write_jsonl(tmp_path / "not-mine.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", POLICE, "--target", running.address, str(path))

    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 1, done.stderr
    assert done.stderr.count("NOT_AUTHORITATIVE_ISSUER") == 1 and "Traceback" not in done.stderr
    assert f"zzgw import: 证照网关 {running.address} 拒绝了本次请求（the gateway at " in done.stderr
    assert " 行/秒]" in done.stderr and "行/s" not in done.stderr  # the bar's rate as the summary says its first: 行/秒
    assert "answered PERMISSION_DENIED (NOT_AUTHORITATIVE_ISSUER)）：济南市公安局不是食品生产许可证的" in done.stderr
    assert done.stdout.startswith("证照网关拒绝了导入：读取 ") and "NOT_AUTHORITATIVE_ISSUER" not in done.stdout


def test_the_command_hints_at_csv_only_for_a_file_none_of_which_read_as_json_lines(
    running: RunningGateway, tmp_path: Path
) -> None:
    """`如果它是 CSV 文件，请加 --format csv` had followed every file whose failures were all BAD_JSON: a JSON Lines
    file with one broken line among five imported was told it may be CSV (a reviewer). Only a file whose first line
    failed and of which nothing was imported is."""
    tag = uuid.uuid4().hex[:8].upper()
    lines = [json.dumps(r, ensure_ascii=False) for r in permits(6, tag, start=4000)]
    lines[2] = lines[2][:-20]  # cut short
    broken = write_jsonl(tmp_path / "badmid.jsonl", lines)
    spreadsheet = tmp_path / "permits.txt"  # CSV under a name that says nothing
    spreadsheet.write_text("type_code,license_number\nx,1\n", encoding="utf-8")
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}

    def imported(path: Path) -> subprocess.CompletedProcess[str]:
        command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, str(path))
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)

    done = imported(broken)
    assert done.returncode == 1 and done.stdout.startswith("共 6 行：新签发 5 件，此前已有 0 件，失败 1 行"), done
    assert "第 3 行 - BAD_JSON" in done.stdout and "--format csv" not in done.stderr
    done = imported(spreadsheet)
    assert done.returncode == 1 and "如果它是 CSV 文件，请加 --format csv" in done.stderr


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_byte_order_mark_is_no_text_of_the_first_record_read_as_utf8_by_name(
    running: RunningGateway, tmp_path: Path, suffix: str
) -> None:
    """`--encoding utf-8` (import.md says files are UTF-8) of a file Windows tools or Excel wrote with a byte order mark
    lost its first record, `BAD_JSON … Unexpected UTF-8 BOM`, and a CSV's header was refused for the mark (a
    reviewer): UTF-8 is read with or without the mark, however named."""
    records = permits(3, uuid.uuid4().hex[:8].upper(), start=4100)
    path = tmp_path / f"bom{suffix}"
    if suffix == ".csv":
        write_csv(path, records)
    else:
        write_jsonl(path, [json.dumps(r, ensure_ascii=False) for r in records])
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    for encoding in ("utf-8", "UTF8", "utf_8"):
        assert count_records(path, encoding=encoding) == 3
    report = import_file(path, factory(running), encoding="utf-8")
    assert (report.lines, report.created, report.failures) == (3, 3, [])


def test_a_file_read_from_a_pipe_is_imported(running: RunningGateway, tmp_path: Path) -> None:
    """`zcat export.csv.gz | zzgw import /dev/stdin --format csv`, or `<(iconv …)`: the count had read the pipe to its
    end, the import then found nothing, said 文件中没有记录 and ended 0 (a reviewer). What a pipe gives is read once,
    into a private temporary file, counted and imported from there; messages name the path as given."""
    records = permits(3, uuid.uuid4().hex[:8].upper(), start=8100)
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, "--format", "csv", "/dev/stdin")
    text = write_csv(tmp_path / "three.csv", records).read_text(encoding="utf-8")

    done = subprocess.run(command, env=env, cwd=ROOT, input=text, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("共 3 行：新签发 3 件，此前已有 0 件，失败 0 行"), done.stdout
    assert all(_committed(running, r["request_id"]) for r in records)
    # a file a pipe gives that is refused is named as given, not by the temporary file it was read into
    done = subprocess.run(
        command, env=env, cwd=ROOT, input="type_code,holder.kode\nt,c\n", capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stderr.startswith("zzgw import: /dev/stdin 的表头（第 1 行）无法读取"), done


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["HUP", "TERM"])
def test_a_pipes_copy_leaves_nothing_behind_when_the_command_is_hung_up_or_killed_while_copying(
    tmp_path: Path, signum: int
) -> None:
    """The copy of a pipe (every record: names, credit codes, legal representatives) was a named file in $TMPDIR,
    removed only if Python unwound: a closed ssh session (SIGHUP) during an overnight `zcat … | zzgw import /dev/stdin`,
    or `kill` / `timeout` during the copy, left it there for good, readable as 0644 inside its 0700 directory (a
    reviewer). It is nameless now, from its creation, and its owner's alone."""
    spool = tmp_path / "spool"
    spool.mkdir()
    env = {**os.environ, "TMPDIR": str(spool), "ZZGW_DATA_DIR": str(tmp_path / "data"), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", "127.0.0.1:44501", "--format", "csv", "/dev/stdin")
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdin is not None
    try:
        process.stdin.write(b"request_id,type_code,holder.name\n" + b"r,t,\xe6\xb5\x8e\xe5\x8d\x97\n" * 100_000)
        process.stdin.flush()  # the writer stays open: the copy goes on
        copies: list[Path] = []
        for _ in range(200):
            copies = [
                fd
                for fd in Path(f"/proc/{process.pid}/fd").iterdir()
                if os.readlink(fd).startswith(str(spool)) and os.stat(fd).st_size
            ]
            if copies:
                break
            time.sleep(0.05)
        assert copies, "the copy was never begun"
        assert os.stat(copies[0]).st_mode & 0o777 == 0o600
        assert list(spool.rglob("*")) == []  # nothing in $TMPDIR bears a name, even while it is copied
        process.send_signal(signum)
        process.wait(30)
    finally:
        process.kill()
        process.wait()
    assert list(spool.rglob("*")) == [], "the pipe's copy with personal data was left behind"


def _in_pieces(process: subprocess.Popen[bytes], text: bytes, piece: int) -> None:
    """``text`` written to ``process``'s standard input ``piece`` bytes at a time, each left to be read alone, until
    it ends or stops reading."""
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        for start in range(0, len(text), piece):
            process.stdin.write(text[start : start + piece])  # unbuffered (bufsize=0)
            time.sleep(0.001)
        process.stdin.close()


@pytest.mark.parametrize("piece", [None, 3_000], ids=["at once", "in pieces smaller than a write buffer"])
def test_a_pipe_that_fills_the_temporary_directory_is_said_to_fill_it_naming_it(
    tmp_path: Path, piece: int | None
) -> None:
    """The copy's write failing in a full $TMPDIR was said 无法读取 /dev/stdin：No space left on device, sending the
    operator to look at the pipe and its producer (a reviewer): the temporary directory is named, with what to do.
    Pieces read one by one had stayed in the copy's write buffer: its close wrote them again, and the import ended 1
    with a traceback after saying so (1 run in 6; the suite's run of 2026-12-07)."""
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"a 1 MiB tmpfs cannot be mounted here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        env = {**os.environ, "TMPDIR": str(small), "ZZGW_DATA_DIR": str(tmp_path / "data"), "ZZGW_DATABASE_URL": ""}
        command = zzgw_command("import", "--issuer", MARKET, "--target", "127.0.0.1:44502", "--format", "csv",
                               "/dev/stdin")  # fmt: skip
        text = b"request_id,type_code,holder.name\n" + b"r,t,\xe6\xb5\x8e\xe5\x8d\x97\n" * 200_000  # 2.6 MB
        if piece is None:
            done = subprocess.run(command, env=env, cwd=ROOT, input=text, capture_output=True, timeout=120)
        else:
            with (
                (tmp_path / "stderr").open("wb") as stderr,
                subprocess.Popen(
                    command,
                    env=env,
                    cwd=ROOT,
                    bufsize=0,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                ) as process,
            ):
                _in_pieces(process, text, piece)
                process.wait(timeout=120)
            done = subprocess.CompletedProcess(command, process.returncode, b"", (tmp_path / "stderr").read_bytes())
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)
    said = done.stderr.decode()
    assert done.returncode == 2, said
    assert said.startswith(
        f"zzgw import: 临时目录 {small} 空间不足（复制管道输入需要与其同等的空间）；请将 TMPDIR 设为空间更大的目录，"
        f"或先将输入保存为文件（the temporary directory {small} is full: the copy of the input needs as much space as "
        "the input; set TMPDIR to a larger directory, or save the input to a file first）：No space left on device"
    ), said


def test_an_import_no_gateway_answered_is_not_said_stopped_by_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from adapters import batch_import

    monkeypatch.setattr(batch_import, "RECONNECT_SECONDS", 0.0)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    path = write_jsonl(tmp_path / "nowhere.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(2, "NW")])
    with pytest.raises(ImportRefused) as refused:
        import_file(path, lambda: connect(address, MemberCredentials(code=MARKET, token="t")))
    assert refused.value.error.code() == grpc.StatusCode.UNAVAILABLE
    said = summary(refused.value.report)
    assert said.startswith("无法连接证照网关：读取 ") and "stopped by the gateway" not in said
    assert "（stopped: the gateway could not be reached after reading " in said
    assert "改正后再运行同一命令" in said


def _self_signed() -> tuple[bytes, bytes]:
    """A key and a self-signed certificate (PEM) for 127.0.0.1: a TLS gateway, as one in production mode is."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem, certificate.public_bytes(serialization.Encoding.PEM)


@contextlib.contextmanager
def _no_gateway_answering() -> Iterator[tuple[list[str], _UnavailableForAWhile]]:
    """Two addresses where an import connects to no gateway: a port nothing listens on, and a TLS gateway (production
    mode) that a plaintext client fails to connect to; the latter's servicer, which would issue every line it were
    sent."""
    import socket
    from concurrent.futures import ThreadPoolExecutor

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        nobody = f"127.0.0.1:{probe.getsockname()[1]}"
    production = grpc.server(ThreadPoolExecutor(max_workers=2))
    servicer = _UnavailableForAWhile(failures=0)
    issuance_pb2_grpc.add_IssuanceServiceServicer_to_server(servicer, production)
    port = production.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([_self_signed()]))
    production.start()
    try:
        yield [nobody, f"127.0.0.1:{port}"], servicer
    finally:
        production.stop(0)


def test_an_import_that_never_connected_says_nothing_was_sent_and_what_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No gateway at the address (ZZGW_GRPC_ADDR forgotten, the import started before the gateway) or a TLS gateway
    (production mode) asked by a dev client in plaintext: no connection was ever made, yet the summary said the lines
    were 已发送未答复（可能已签发） and to run the same command again, which fails alike (a reviewer). It says they were
    not sent, none issued, and what to check: the address and ZZGW_MODE."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "RECONNECT_SECONDS", 0.3)
    monkeypatch.setattr(batch_import, "RECONNECT_PAUSE_MOST", 0.05)
    with _no_gateway_answering() as (addresses, servicer):
        path = write_jsonl(tmp_path / "again.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(2, "NC")])
        for address in addresses:
            with pytest.raises(ImportRefused) as refused:
                import_file(path, lambda address=address: grpc.insecure_channel(address))
            report = refused.value.report
            said = summary(report)
            assert said.startswith(
                "无法连接证照网关：读取 2 行，至此新签发 0 件，此前已有 0 件，失败 0 行，"
                "另有 2 行未发送（从未连接上证照网关，均未签发），"
            ), said
            assert "可能已签发" not in said and "issued or not" not in said, said
            assert ", 2 not sent (no connection to a gateway was ever made: none issued)" in said, said
            assert "从未连接上证照网关，未发送任何记录，均未签发：请核对证照网关地址（ZZGW_GRPC_ADDR 或 --target）" in (
                said
            )
            assert "ZZGW_MODE" in said and "check the gateway's address (ZZGW_GRPC_ADDR or --target)" in said
            assert "再次运行同一命令即可导入其余部分" not in said, said
            assert (report.stopped, report.lines, report.unanswered, report.connected) == (UNREACHABLE, 2, 2, False)
    assert servicer.calls == 0


INTERRUPTED_RECONNECTING = """
import os, signal, sys
from pathlib import Path

import grpc

from adapters import batch_import

batch_import.RECONNECT_PAUSE_MOST = 0.05
try:  # Ctrl-C as the import finds no gateway, as a clerk gives up waiting
    batch_import.import_file(
        Path(sys.argv[1]),
        lambda: grpc.insecure_channel(sys.argv[2]),
        reconnecting=lambda error: os.kill(os.getpid(), signal.SIGINT),
    )
except batch_import.ImportInterrupted as stopped:
    print(batch_import.summary(stopped.report))
"""


def test_an_import_interrupted_before_it_ever_connected_says_nothing_was_sent_and_what_to_check(
    tmp_path: Path,
) -> None:
    """Ctrl-C (or SIGTERM) while the import reconnected to an address where no gateway listens, or to a TLS gateway
    in plaintext, said 另有 2 行已发送未答复（可能已签发）, nothing of the address, where the same import left to its
    end says the lines were not sent and what to check (a reviewer, batch R1): said alike now."""
    with _no_gateway_answering() as (addresses, servicer):
        path = write_jsonl(tmp_path / "given-up.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(2, "GU")])
        for address in addresses:
            done = run_python(INTERRUPTED_RECONNECTING, str(path), address, env=dict(os.environ))
            assert done.returncode == 0, done.stderr
            said = done.stdout
            assert said.startswith(
                "已中断：读取 2 行，至此新签发 0 件，此前已有 0 件，失败 0 行，"
                "另有 2 行未发送（从未连接上证照网关，均未签发），"
            ), said
            assert "可能已签发" not in said and "issued or not" not in said, said
            assert ", 2 not sent (no connection to a gateway was ever made: none issued)" in said, said
            assert "请核对证照网关地址（ZZGW_GRPC_ADDR 或 --target）" in said and "ZZGW_MODE" in said, said
    assert servicer.calls == 0


class _TakesThenGoes(issuance_pb2_grpc.IssuanceServiceServicer):
    """A gateway that takes a stream's first message (it may have committed its lines) and goes away before answering,
    its port then closed: every later connection is refused."""

    def __init__(self) -> None:
        self.server: grpc.Server | None = None
        self.taken: list[str] = []

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.taken.extend(item.request_id for item in next(iter(requests)).licenses)
        assert self.server is not None
        threading.Thread(target=self.server.stop, args=(0,)).start()
        time.sleep(5)  # ended by the stop
        yield from ()


def test_lines_a_gateway_took_before_it_went_away_are_still_issued_or_not_when_it_cannot_be_reached_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a connection was made, the lines a stream sent may have been issued, whatever later reconnections meet:
    "not sent" only when no connection was ever made."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "RECONNECT_SECONDS", 0.3)
    monkeypatch.setattr(batch_import, "RECONNECT_PAUSE_MOST", 0.05)
    servicer = _TakesThenGoes()
    server, address = _serving(servicer)
    servicer.server = server
    try:
        path = write_jsonl(tmp_path / "gone.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(3, "TG")])
        with pytest.raises(ImportRefused) as refused:
            import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    report = refused.value.report
    assert len(servicer.taken) == 3 and (report.stopped, report.unanswered, report.connected) == (UNREACHABLE, 3, True)
    said = summary(report)
    assert "另有 3 行已发送未答复（可能已签发）" in said and "未发送" not in said, said
    assert "再次运行同一命令即可导入其余部分" in said, said


class _UnavailableForAWhile(issuance_pb2_grpc.IssuanceServiceServicer):
    """A gateway that answers its first ``failures`` batch calls UNAVAILABLE / DATABASE_UNAVAILABLE, as one whose
    database restarts does, then issues every item."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.calls += 1
        if self.calls <= self.failures:
            abort_unavailable(context, "DATABASE_UNAVAILABLE", "the database connection was lost: retry")
        yield from _issuing(requests)


def _issuing(requests: Any, received: list[str] | None = None) -> Iterator[Any]:
    """A fake gateway's answers: every item of every message issued, in order, its request id recorded in
    ``received``."""
    index = 0
    for request in requests:
        results = []
        for item in request.licenses:
            if received is not None:
                received.append(item.request_id)
            license = common_pb2.License(license_id=item.request_id or f"id-{index}")
            results.append(issuance_pb2.BatchItemResult(index=index, license=license, created=True))
            index += 1
        yield issuance_pb2.BatchIssueLicensesResponse(results=results)


def _serving(servicer: Any, options: list[tuple[str, int]] | None = None) -> tuple[grpc.Server, str]:
    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(max_workers=2), options=options)
    issuance_pb2_grpc.add_IssuanceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


def test_an_import_waits_out_a_gateway_unavailable_for_a_while(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database restart makes the gateway answer UNAVAILABLE for seconds: the import had given up after five
    reconnections (~6 s) and said the gateway could not be reached; it now keeps trying for RECONNECT_SECONDS from the
    last answer, and finishes."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "RECONNECT_PAUSE_MOST", 0.01)  # many attempts, quickly
    servicer = _UnavailableForAWhile(failures=12)
    server, address = _serving(servicer)
    said: list[grpc.StatusCode] = []
    try:
        path = write_jsonl(tmp_path / "later.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(5, "UA")])
        report = import_file(path, lambda: grpc.insecure_channel(address), reconnecting=lambda e: said.append(e.code()))
    finally:
        server.stop(0)
    assert servicer.calls == 13 and (report.created, report.failed, report.stopped) == (5, 0, "")
    # said once, as the outage began (the progress bar had stood still without a word; a bulk-import tester)
    assert said == [grpc.StatusCode.UNAVAILABLE]


@contextlib.contextmanager
def streams_held(running: RunningGateway, count: int) -> Iterator[Callable[[], None]]:
    """``count`` of MARKET's BatchIssueLicenses streams held open on ``running`` (each answered one line, so its slot
    is taken), as other imports of the department hold them; the callable ends one of them."""
    ends = [threading.Event() for _ in range(count)]
    calls = []

    def requests(end: threading.Event, record: dict[str, Any]) -> Iterator[Any]:
        yield issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])
        end.wait(60)

    for end, record in zip(ends, permits(count, uuid.uuid4().hex[:8].upper(), start=3700), strict=True):
        call = running.issuance(MARKET).BatchIssueLicenses(requests(end, record))
        next(call)
        calls.append(call)
    try:
        yield lambda: ends.pop().set()
    finally:
        for end in ends:
            end.set()
        for call in calls:
            list(call)


def test_an_import_waits_for_a_stream_while_the_department_holds_every_one_then_finishes(
    running: RunningGateway, tmp_path: Path
) -> None:
    """A fifth import of one department at once (a large export split in five, two clerks at once) was refused
    RESOURCE_EXHAUSTED / TOO_MANY_BATCH_STREAMS as it opened its stream, and ended at once, exit 1, saying its lines
    "may have been issued" (a reviewer): it now waits for a stream, said once, and imports the file."""
    records = permits(30, uuid.uuid4().hex[:8].upper(), start=3800)
    path = write_jsonl(tmp_path / "fifth.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    said: list[str] = []

    def waiting(error: grpc.RpcError) -> None:
        said.append(_reason_of(error))
        end_one()  # another import ends

    with streams_held(running, 4) as end_one:
        report = import_file(path, factory(running), reconnecting=waiting)
    assert (report.lines, report.created, report.failed, report.stopped) == (30, 30, 0, "")
    assert said == ["TOO_MANY_BATCH_STREAMS"]

    # the command says once that it waits, in an operator's words, and ends 0
    again = write_jsonl(tmp_path / "sixth.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(5, "W6")])
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, str(again))
    waits = f"zzgw import: 证照网关 {running.address} 的批量签发流已满（"
    with streams_held(running, 4) as end_one:
        command_run = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stderr = b""
        while waits.encode() not in stderr and (line := command_run.stderr.readline()):  # type: ignore[union-attr]
            stderr += line
        end_one()
        out, rest = command_run.communicate(timeout=120)
    stderr = (stderr + rest).decode()
    assert command_run.returncode == 0, stderr
    assert stderr.count(waits) == 1, stderr
    assert "正在等待其他导入结束，自上次应答起至多 600 秒（the gateway at " in stderr
    assert "请在已开的流中继续发送" not in stderr and "Traceback" not in stderr
    assert out.decode().startswith("共 5 行：新签发 5 件，此前已有 0 件，失败 0 行"), out


def test_an_import_that_waited_for_a_stream_in_vain_says_nothing_of_it_was_issued(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway refuses a stream beyond the department's before it takes any line: an import that waited in vain
    says its lines were not issued (it had said "另有 23 行已发送未答复（可能已签发）", the store holding none; a
    reviewer), and how to go on."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "STREAM_WAIT_SECONDS", 1.0)
    records = permits(30, uuid.uuid4().hex[:8].upper(), start=3900)
    path = write_jsonl(tmp_path / "fifth.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    with streams_held(running, 4), pytest.raises(ImportRefused) as refused:
        import_file(path, factory(running))
    assert refused.value.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    report = refused.value.report
    assert (report.created, report.existing, report.failed) == (0, 0, 0)
    said = summary(report)
    assert said.startswith(f"证照网关上该部门的批量导入已满：读取 {report.lines} 行，至此新签发 0 件"), said
    if report.unanswered:  # those its refused streams were sent
        assert f"另有 {report.unanswered} 行未办理（均未签发）" in said and "可能已签发" not in said
    assert "每个证照网关进程至多同时进行 4 个" in said and "at most 4 at once on a gateway process" in said
    assert not any(_committed(running, r["request_id"]) for r in records)


class _DropsFirstStream(issuance_pb2_grpc.IssuanceServiceServicer):
    """First stream: reads one message, then UNAVAILABLE / DATABASE_UNAVAILABLE. Later streams: busy for a moment
    before reading (a gateway sealing a chunk), then issue every item, recording the request ids received."""

    def __init__(self) -> None:
        self.calls = 0
        self.received: list[str] = []

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.calls += 1
        if self.calls == 1:
            next(iter(requests))
            time.sleep(0.1)  # the client reads on meanwhile
            abort_unavailable(context, "DATABASE_UNAVAILABLE", "the database connection was lost: retry")
        time.sleep(1.5)
        yield from _issuing(requests, self.received)


@pytest.mark.parametrize(
    "options",
    [[], [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024)]],  # the resent lines taken slowly
    ids=["default", "small-window"],
)
def test_a_reconnection_while_the_dropped_stream_still_reads_the_file_sends_every_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[tuple[str, int]]
) -> None:
    """A dropped stream's request thread finishes the read it is in before it notices the end: a line slow to read
    (a slow disk, a huge line read through) kept it reading as the import reconnected. The new stream then read the
    same file at once (ValueError: generator already executing, said as the import's own error), or, its resent lines
    held by flow control (a busy gateway), left the old thread's lines unsent and paired later answers with the wrong
    lines, ending "complete" with 51 of 300 lines never sent, exit 0 (a reviewer). One stream reads at a time."""
    from adapters import batch_import

    records = permits(300, "RACE")
    for record in records:
        record["fields"]["pad"] = "x" * 8000  # the lines resent after the reconnection fill the flow-control window
    path = write_jsonl(tmp_path / "race.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    request, slow_once = batch_import._request, threading.Event()

    def slow(number: int, record: dict[str, Any], message_bytes: int) -> Any:
        if number == 150 and not slow_once.is_set():  # line 150 takes a second to read
            slow_once.set()
            time.sleep(1.0)
        return request(number, record, message_bytes)

    monkeypatch.setattr(batch_import, "_request", slow)
    servicer = _DropsFirstStream()
    server, address = _serving(servicer, options)
    try:
        report = import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    assert sorted(servicer.received) == sorted(r["request_id"] for r in records)  # each once
    assert (report.lines, report.created, report.failed, report.stopped) == (300, 300, 0, "")


class _DropsThenDownOnceThenServes(issuance_pb2_grpc.IssuanceServiceServicer):
    """Stream 1 reads one message, then UNAVAILABLE; stream 2 UNAVAILABLE at once (the database still restarting);
    later streams issue every item, recording the request ids received."""

    def __init__(self) -> None:
        self.calls = 0
        self.received: list[str] = []

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.calls += 1
        if self.calls == 1:
            next(iter(requests))
            time.sleep(0.1)
            abort_unavailable(context, "DATABASE_UNAVAILABLE", "the database connection was lost: retry")
        if self.calls == 2:
            abort_unavailable(context, "DATABASE_UNAVAILABLE", "the database connection was lost: retry")
        yield from _issuing(requests, self.received)


class _LateFirstRead:
    """The request iterator of the client's second call, as gRPC's thread reads it, first read only after the third
    call's thread sent its first message; the third's second read waits for that (the interleaving a reviewer saw
    in 4 runs of 8, when Python's lock let the live stream's thread in before the dead attempt's)."""

    def __init__(self) -> None:
        self.calls = 0
        self.third_made, self.third_sent, self.second_read = threading.Event(), threading.Event(), threading.Event()
        self.stub_class = issuance_pb2_grpc.IssuanceServiceStub

    def stub(self, channel: grpc.Channel) -> Any:
        stub = self.stub_class(channel)
        batch, late = stub.BatchIssueLicenses, self

        def wrapped(requests: Iterator[Any], *args: Any, **kwargs: Any) -> Any:
            late.calls += 1
            if late.calls == 3:
                late.third_made.set()
            return batch(late.reads(late.calls, requests), *args, **kwargs)

        stub.BatchIssueLicenses = wrapped
        return stub

    def reads(self, call: int, requests: Iterator[Any]) -> Iterator[Any]:
        if call == 2:
            self.third_sent.wait(10)
            try:
                yield next(requests)
            except StopIteration:
                return
            finally:
                self.second_read.set()
            yield from requests
        elif call == 3:
            for number, message in enumerate(requests):
                yield message
                if number == 0:
                    self.third_sent.set()
                    self.second_read.wait(10)
        else:
            yield from requests


def test_a_failed_reconnection_attempt_never_takes_the_file_from_the_stream_that_connected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reconnection attempt answered UNAVAILABLE at once (the database still restarting) whose request thread got
    to the file after the next attempt's became "the last begun" stream: the live stream stopped reading, and the
    import ended "complete", exit 0, with 49 to 148 of 300 lines never sent (a reviewer). Streams are numbered as
    they are made; a stream no longer the current one sends nothing."""
    from adapters import batch_import

    late = _LateFirstRead()
    monkeypatch.setattr(batch_import.issuance_pb2_grpc, "IssuanceServiceStub", late.stub)
    request = batch_import._request

    def slow(number: int, record: dict[str, Any], message_bytes: int) -> Any:
        if number == 150:  # the dropped stream's thread reads line 150 until the third call is made
            late.third_made.wait(10)
        return request(number, record, message_bytes)

    monkeypatch.setattr(batch_import, "_request", slow)
    records = permits(300, "LATE")
    path = write_jsonl(tmp_path / "late.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    servicer = _DropsThenDownOnceThenServes()
    server, address = _serving(servicer)
    try:
        report = import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    assert late.third_made.is_set() and late.third_sent.is_set() and late.second_read.is_set()  # as forced
    assert servicer.calls == 3
    assert sorted(servicer.received) == sorted(r["request_id"] for r in records)  # each once
    assert (report.lines, report.created, report.failed, report.stopped) == (300, 300, 0, "")


class _EndsAfterTheFirstMessage(issuance_pb2_grpc.IssuanceServiceServicer):
    """A gateway that answers the first message of a stream, then ends the call OK: the rest neither read nor
    answered."""

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        request = next(iter(requests))
        yield issuance_pb2.BatchIssueLicensesResponse(
            results=[
                issuance_pb2.BatchItemResult(index=index, license=common_pb2.License(license_id="x"), created=True)
                for index in range(len(request.licenses))
            ]
        )


def test_an_import_ending_with_lines_neither_sent_nor_answered_is_an_error_of_the_import(tmp_path: Path) -> None:
    """Whatever ends a stream early (a stale stream's thread, a gateway's fault), an import whose lines were not all
    sent and answered had ended "complete", exit 0: it is the import's own error now, naming the lines answered."""
    path = write_jsonl(tmp_path / "short.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(300, "SHORT")])
    server, address = _serving(_EndsAfterTheFirstMessage())
    try:
        with pytest.raises(ImportStopped) as stopped:
            import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    report = stopped.value.report
    assert report.created == 100 and report.stopped == "stopped by an error of the import itself"
    said = re.search(  # the lines read on while the first message was answered; the file read through, or not yet
        r"RuntimeError: 调用已结束，但文件的行未全部发送并得到回答（(文件未读完；)?(\d+) 行已发送而未得到回答）"
        r"（the call ended, but the file's lines were not all sent and answered: "
        r"(the file not read to its end; )?(\d+) sent and not answered）$",
        str(stopped.value),
    )
    assert said and int(said[2]) == int(said[4]) == report.lines - 100
    assert bool(said[1]) == bool(said[3]) and (said[1] or report.lines == 300)


def test_an_import_a_gateway_stayed_unavailable_for_says_so_not_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway answered (UNAVAILABLE with its reason) past the reconnections: the summary had said 无法连接证照网关,
    sending the operator to look at the network rather than at the gateway's database."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "RECONNECT_SECONDS", 0.3)
    monkeypatch.setattr(batch_import, "RECONNECT_PAUSE_MOST", 0.05)
    server, address = _serving(_UnavailableForAWhile(failures=10_000))
    try:
        path = write_jsonl(tmp_path / "down.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(2, "UB")])
        with pytest.raises(ImportRefused) as refused:
            import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    said = summary(refused.value.report)
    assert said.startswith("证照网关暂时无法处理：读取 ") and "无法连接" not in said, said
    assert "（stopped: the gateway was unavailable after reading " in said and "再次运行同一命令" in said


class _NeverAnswers(issuance_pb2_grpc.IssuanceServiceServicer):
    """A gateway whose host froze (a VM paused, SIGSTOP, a partition): the stream stays open, nothing is answered."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        next(iter(requests))
        self.released.wait(60)
        yield from ()


def test_an_import_a_gateway_stops_answering_ends_after_the_reconnections_time_with_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway that stopped answering without closing the connection had an import wait for ever, its bar standing
    still all night (a reviewer: more than 3 minutes, until the gateway was woken). It ends ANSWER_SECONDS after the
    last answer, as an import the gateway went away from, saying what was sent and not answered."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "ANSWER_SECONDS", 1.0)
    servicer = _NeverAnswers()
    server, address = _serving(servicer)
    started = time.monotonic()
    try:
        path = write_jsonl(tmp_path / "frozen.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(3, "FR")])
        with pytest.raises(ImportRefused) as refused:
            import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        servicer.released.set()
        server.stop(0)
    assert time.monotonic() - started < 10
    assert refused.value.error.code() == grpc.StatusCode.UNAVAILABLE
    said = summary(refused.value.report)
    assert said.startswith("无法连接证照网关：读取 3 行，至此新签发 0 件，此前已有 0 件，失败 0 行，"), said
    assert "另有 3 行已发送未答复（可能已签发）" in said and "再次运行同一命令即可导入其余部分" in said
    assert refused.value.error.details() == "证照网关 1 秒未应答（the gateway did not answer for 1 s）"


def test_a_long_run_of_lines_failing_in_the_import_does_not_end_it_as_a_gateway_not_answering(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid line's wait for its answer had begun as it was read, though its message went only once 99 more valid
    lines were read: a long run of lines failing in the import after it (two exports joined, the second with another
    key) sent nothing for ANSWER_SECONDS, and the import ended 无法连接证照网关 (证照网关 60 秒未应答) from a healthy
    gateway, the held line said 已发送未答复 though never sent, the rest of the file never read (a reviewer, R1: 2.5
    million lines). The wait now begins as the line's message is handed to gRPC, and a message partly filled is sent
    once its first line has waited FLUSH_SECONDS: the first line is issued while the failing lines are still read."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "ANSWER_SECONDS", 4.0)  # the failing lines below take longer to read
    records = permits(2, uuid.uuid4().hex[:8].upper(), start=3600)
    bad = json.dumps({"type_code": samples.FOOD_PERMIT, "remark": "x"})
    lines = [json.dumps(records[0], ensure_ascii=False), *[bad] * 120, json.dumps(records[1], ensure_ascii=False)]
    real = batch_import._request
    issued_while_reading: list[int] = []

    def slow(number: int, record: dict[str, Any], message_bytes: int) -> Any:
        made = real(number, record, message_bytes)
        if isinstance(made, Failure):  # 120 of them, 0.05 s each: longer than ANSWER_SECONDS
            time.sleep(0.05)
            if not issued_while_reading:
                with running.gateway.db.unit_of_work() as uow:
                    if uow.licenses.prior_requests(MARKET, [records[0]["request_id"]]):
                        issued_while_reading.append(number)
        return made

    monkeypatch.setattr(batch_import, "_request", slow)
    report = import_file(write_jsonl(tmp_path / "sparse.jsonl", lines), factory(running))
    assert (report.lines, report.created, report.failed, report.stopped) == (122, 2, 120, "")
    assert issued_while_reading and issued_while_reading[0] < 121, "the first line waited for the file's end"


def test_lines_never_handed_to_grpc_are_said_not_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An import that ends while lines wait for their message to fill had said them 已发送未答复（可能已签发）: they
    never left the import (a reviewer, R1). They are said 未发送（均未签发）; the lines sent stay 已发送未答复."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "ANSWER_SECONDS", 1.0)
    monkeypatch.setattr(batch_import, "ITEMS_PER_MESSAGE", 2)
    monkeypatch.setattr(batch_import, "FLUSH_SECONDS", 600.0)  # line 3 waits for line 4 to fill its message
    released = threading.Event()
    real = batch_import._request

    def held(number: int, record: dict[str, Any], message_bytes: int) -> Any:
        if number == 4:  # read until the test ends: lines 1-2 were sent, line 3 waits in a message partly filled
            released.wait(60)
        return real(number, record, message_bytes)

    monkeypatch.setattr(batch_import, "_request", held)
    servicer = _NeverAnswers()
    server, address = _serving(servicer)
    try:
        path = write_jsonl(tmp_path / "held.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(5, "NS")])
        with pytest.raises(ImportRefused) as refused:
            import_file(path, lambda: grpc.insecure_channel(address))
        report = refused.value.report  # as it ended: line 4, released, is read on (then seeing the import stopped)
        counts, said = (report.lines, report.unanswered, report.unsent), summary(report)
    finally:
        released.set()
        servicer.released.set()
        server.stop(0)
    assert counts == (3, 3, 1)  # line 4 still being read: not counted
    assert said.startswith("无法连接证照网关：读取 3 行，至此新签发 0 件，此前已有 0 件，失败 0 行，"), said
    assert "另有 2 行已发送未答复（可能已签发），另有 1 行未发送（均未签发）" in said, said
    assert "2 sent and not answered (issued or not), 1 not sent (none of them issued)" in said, said


class _CatalogChangedAfter(issuance_pb2_grpc.IssuanceServiceServicer):
    """A gateway process whose store adopted another catalog after it answered ``answered`` messages of a stream: it
    answers them, then ends the stream UNAVAILABLE / CATALOG_CHANGED before handling the next, and refuses every later
    stream so as it starts, as a process still serving the catalog before does."""

    def __init__(self, answered: int, *, lost_first: bool = False) -> None:
        self.answered = answered
        self.issued: list[str] = []
        self.lost = lost_first  # the first stream ends as on a database lost mid-commit: UNAVAILABLE, no answer

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        index = 0
        for number, request in enumerate(requests):
            if self.lost or len(self.issued) >= self.answered * 2:
                reason = "DATABASE_UNAVAILABLE" if self.lost else "CATALOG_CHANGED"
                self.lost = False
                abort_unavailable(
                    context, reason, "证照目录已更新，本网关实例须重启后才能按新目录处理（the catalog changed）"
                )
            results = []
            for item in request.licenses:
                self.issued.append(item.request_id)
                results.append(
                    issuance_pb2.BatchItemResult(
                        index=index, license=common_pb2.License(license_id=f"id-{number}-{index}"), created=True
                    )
                )
                index += 1
            yield issuance_pb2.BatchIssueLicensesResponse(results=results)


def test_an_import_a_process_serving_the_catalog_before_stopped_says_what_was_issued_and_what_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`zzgw init --adopt-catalog` during an import: the process still serving the catalog before ends the stream
    after answering what it issued (CATALOG_CHANGED), and refuses it again until restarted. The summary had said
    "unavailable" and counted the lines not handled as "sent and not answered (issued or not)": it names the catalog
    change, says those lines were not issued, and what to do. The process refuses the stream's last message, which
    the import sends only once it has read every line (refusing an earlier one, the count of lines read had depended
    on how far the import had read ahead by then: 4 of 6 on a loaded machine)."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "RECONNECT_SECONDS", 0.3)
    monkeypatch.setattr(batch_import, "RECONNECT_PAUSE_MOST", 0.05)
    monkeypatch.setattr(batch_import, "ITEMS_PER_MESSAGE", 2)
    servicer = _CatalogChangedAfter(answered=2)
    server, address = _serving(servicer)
    try:
        path = write_jsonl(tmp_path / "changed.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(6, "CC")])
        with pytest.raises(ImportRefused) as refused:
            import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    report = refused.value.report
    assert len(servicer.issued) == 4 and (report.lines, report.created, report.unanswered) == (6, 4, 2)
    said = summary(report)
    assert said.startswith("证照网关进程仍按更新前的证照目录运行：读取 6 行，至此新签发 4 件"), said
    assert "另有 2 行未办理（均未签发）" in said and "可能已签发" not in said
    assert ", 2 not handled (none of them issued)" in said and "issued or not" not in said
    assert "请证照网关运维人员以新证照目录重启该进程" in said and "restart it with the new catalog" in said
    assert "再次运行同一命令" in said and "run the same command again" in said


def test_lines_a_stream_lost_the_answers_of_are_not_said_unissued_when_the_catalog_changed_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream that ended otherwise (the database lost mid-commit) may have issued lines it never answered: sent
    again to a process that then refuses them CATALOG_CHANGED, they are still "issued or not"."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "RECONNECT_SECONDS", 0.3)
    monkeypatch.setattr(batch_import, "RECONNECT_PAUSE_MOST", 0.05)
    server, address = _serving(_CatalogChangedAfter(answered=0, lost_first=True))
    try:
        path = write_jsonl(tmp_path / "lost.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(3, "CL")])
        with pytest.raises(ImportRefused) as refused:
            import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    said = summary(refused.value.report)
    assert said.startswith("证照网关进程仍按更新前的证照目录运行：读取 3 行，至此新签发 0 件"), said
    assert "另有 3 行已发送未答复（可能已签发）" in said and "均未签发" not in said


class _CommitsThenLosesThenRefuses(issuance_pb2_grpc.IssuanceServiceServicer):
    """Stream 1 commits its first message's lines, then ends UNAVAILABLE before answering (the database lost as the
    commit went through); stream 2 is refused as it starts, UNAUTHENTICATED (the member's certificate ended meanwhile,
    as an overnight import may meet)."""

    def __init__(self) -> None:
        self.calls = 0
        self.issued: list[str] = []

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.calls += 1
        if self.calls == 1:
            self.issued += [item.request_id for item in next(iter(requests)).licenses]
            abort_unavailable(context, "DATABASE_UNAVAILABLE", "the database connection was lost: retry")
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "certificate expired")
        yield  # pragma: no cover


def test_lines_a_stream_lost_the_answers_of_are_not_said_unissued_when_the_next_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal of the call leaves what it did not answer unissued, unless a stream before ended in a way that may
    have lost answers of lines it issued: those are "sent and not answered (issued or not)", as for CATALOG_CHANGED,
    not 未办理（被拒绝，均未签发） (which the summary had said of 3 lines the gateway had committed; a reviewer)."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "RECONNECT_PAUSE_MOST", 0.05)
    servicer = _CommitsThenLosesThenRefuses()
    server, address = _serving(servicer)
    try:
        path = write_jsonl(tmp_path / "lost.jsonl", [json.dumps(r, ensure_ascii=False) for r in permits(3, "RL")])
        with pytest.raises(ImportRefused) as refused:
            import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    said = summary(refused.value.report)
    assert len(servicer.issued) == 3  # every line was committed by the first stream
    assert said.startswith("证照网关拒绝了导入：读取 3 行，至此新签发 0 件，此前已有 0 件，失败 0 行，"), said
    assert "另有 3 行已发送未答复（可能已签发）" in said and "均未签发" not in said
    assert ", 3 sent and not answered (issued or not)" in said and "none of them issued" not in said


class _LosesTheFirstAnswersOnTheWay(issuance_pb2_grpc.IssuanceServiceServicer):
    """Between the import and a real gateway: on the first stream it passes on the first message after ``slow``
    seconds (the answers held back meanwhile, as a network blip holds them), lets the gateway commit it, and ends the
    stream UNAVAILABLE without the answers (the connection dropped); later streams it passes on as they are."""

    def __init__(self, gateway: issuance_pb2_grpc.IssuanceServiceStub, slow: float) -> None:
        self.gateway, self.slow = gateway, slow
        self.calls = 0
        self.committed: list[str] = []

    def BatchIssueLicenses(self, requests: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.calls += 1
        if self.calls == 1:
            first = next(iter(requests))
            time.sleep(self.slow)
            for reply in self.gateway.BatchIssueLicenses(iter([first])):
                self.committed += [first.licenses[result.index].request_id for result in reply.results]
            context.abort(grpc.StatusCode.UNAVAILABLE, "Socket closed")
        yield from self.gateway.BatchIssueLicenses(requests)


def test_lines_this_run_issued_whose_answers_a_dropped_connection_lost_are_said_issued(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines sent again after a connection dropped with their answers are answered "already there" (their request ids
    seen): they had been counted 此前已有 (present before this run) although this run issued them, up to the whole
    read-ahead (a reviewer: 新签发 7000, 此前已有 1000 of 8,000 new lines). Their licenses' creation time, set
    against when the line was sent (the gateway's clock placed by the licenses this run was answered it created),
    tells them apart from lines that were there before."""
    from adapters import batch_import

    monkeypatch.setattr(batch_import, "ITEMS_PER_MESSAGE", 4)
    records = permits(12, uuid.uuid4().hex[:8].upper(), start=3400)
    before = write_jsonl(tmp_path / "before.jsonl", [json.dumps(r, ensure_ascii=False) for r in records[:2]])
    assert import_file(before, factory(running)).created == 2
    time.sleep(1.0)  # the lines imported before are a second older than this run
    relay = _LosesTheFirstAnswersOnTheWay(running.issuance(MARKET), slow=2.0)
    server, address = _serving(relay)
    try:
        path = write_jsonl(tmp_path / "lost.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
        report = import_file(path, lambda: grpc.insecure_channel(address))
    finally:
        server.stop(0)
    assert relay.calls == 2 and relay.committed == [r["request_id"] for r in records[:4]]  # 2 before, 2 this run's
    assert (report.lines, report.created, report.existing, report.answers_lost, report.failed) == (12, 10, 2, 0, 0)
    assert summary(report).startswith("共 12 行：新签发 10 件，此前已有 2 件，失败 0 行，用时 ")


def test_lines_a_commit_made_though_its_connection_was_lost_are_said_issued(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's commit that PostgreSQL made though the connection was lost at it (a restart or a failover during an
    overnight import) is found by the gateway's second try by its request ids: the licenses this very call created
    had been answered created false, and the import counted them 此前已有 (a reviewer, R3). Those there before the
    call stay 此前已有."""
    import psycopg

    from gateway.services.issuance import IssuanceService

    records = [{k: v for k, v in r.items() if k != "request_id"} for r in permits(5, uuid.uuid4().hex[:8].upper())]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    assert import_file(write_jsonl(tmp_path / "before.jsonl", lines[:2]), factory(running)).created == 2
    original = IssuanceService._commit_issues
    lost: list[bool] = []

    def commit_then_lose(self: IssuanceService, uow: Any, *args: Any) -> None:
        original(self, uow, *args)  # committed
        if not lost:
            lost.append(True)
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(IssuanceService, "_commit_issues", commit_then_lose)
    report = import_file(write_jsonl(tmp_path / "all.jsonl", lines), factory(running))
    assert lost == [True]
    assert (report.created, report.existing, report.answers_lost, report.failed) == (3, 2, 0, 0)


def test_a_second_try_does_not_claim_licenses_another_import_of_the_same_serials_committed(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import whose commit never reached the database (its connection lost before it) while another import of the
    same file, serials given, committed those lines: the second try finds them by their request ids under the very
    license ids it had prepared (issuer, type and serial). It had answered them created true, so both imports counted
    the same three licenses 新签发 (a reviewer, R1); the licenses are the other import's, 此前已有 to this one."""
    import psycopg

    from gateway.services import issuance
    from gateway.services.issuance import IssuanceService

    tag = uuid.uuid4().hex[:8].upper()
    records = [{**r, "serial": f"SC{tag}{i:04d}"} for i, r in enumerate(permits(3, tag))]
    path = write_jsonl(tmp_path / "same.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    original = IssuanceService._commit_issues
    original_lost = issuance.connection_lost
    lost: list[bool] = []
    other: list[Any] = []

    def lose_before_commit(self: IssuanceService, uow: Any, *args: Any) -> None:
        if lost:
            return original(self, uow, *args)
        lost.append(True)
        original_commit = uow.commit

        def fail_commit() -> None:
            uow.rollback()  # the commit never reached the server
            raise psycopg.OperationalError("server closed the connection unexpectedly")

        uow.commit = fail_commit
        try:
            original(self, uow, *args)
        finally:
            uow.commit = original_commit

    def other_import_meanwhile(exc: BaseException) -> bool:
        if not other:  # between the tries, the write lock released (SQLite's is the process's own)
            other.append(import_file(path, factory(running)))
        return original_lost(exc)

    monkeypatch.setattr(IssuanceService, "_commit_issues", lose_before_commit)
    monkeypatch.setattr(issuance, "connection_lost", other_import_meanwhile)
    report = import_file(path, factory(running))
    assert lost == [True]
    assert (other[0].created, other[0].existing, other[0].failed) == (3, 0, 0)
    assert (report.created, report.existing, report.answers_lost, report.failed) == (0, 3, 0, 0)


def test_lines_whose_answers_were_lost_that_cannot_be_placed_are_said_apart(tmp_path: Path) -> None:
    """A line sent again after its answer was lost, answered "already there" by a license the import cannot place
    before or after its line was sent (no license this run created gives the gateway's clock), is counted apart: issued
    by this run or before it, never as present before it."""
    said = summary(ImportReport(lines=3, existing=1, answers_lost=2))
    zh_counts = "新签发 0 件，此前已有 1 件，另有 2 件本次或此前已签发（应答随断线丢失），失败 0 行"
    assert said.startswith(f"共 3 行：{zh_counts}，用时 ")
    assert (
        "（3 lines: 0 issued, 1 already present, 2 issued by this run or before it (their answers lost with the "
        "connection), 0 failed (" in said
    )


def test_a_csv_column_named_by_a_fields_label_is_refused_naming_its_key(
    running: RunningGateway, tmp_path: Path
) -> None:
    """A department's export names its columns by the catalog's labels (生产者名称 for fields.producer_name): every
    row had failed as ``unknown keys: 生产者名称``; the catalog, asked once, names the column meant before anything
    is sent (a scenario tester). A label's column left empty (备注, fields.remarks' label and an Excel template's
    column) is ignored, as it was."""
    records = permits(3, uuid.uuid4().hex[:8].upper(), start=3000)
    path = write_csv(tmp_path / "export.csv", records)
    header, *rows = path.read_bytes().decode("utf-8").split("\r\n")
    labelled = header.replace("fields.producer_name", "生产者名称").replace("fields.food_category", "fields.食品类别")
    rows = [f"{row},,," for row in rows[:3]]
    # line 4: a code under a label of two columns, of other types than the row's: left to the row (a reviewer)
    rows[2] = rows[2][:-2] + "110101199003070035,,"
    path.write_text("\n".join([labelled + ",公民身份号码,备注,说明", *rows]) + "\n", encoding="utf-8")
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, str(path))

    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"zzgw import: {path} 的表头无法读取（the header of {path} cannot be read）：表头中有以名称而非键命名的列："
        "生产者名称 是 fields.producer_name 的名称；fields.食品类别 是 fields.food_category 的名称，列名须用键，"
        "第 2 行已填写（columns named by a label, not a key: 生产者名称 is the label of fields.producer_name; "
        "fields.食品类别 is the label of fields.food_category; line 2 fills them in）\n"
    )
    assert not _committed(running, records[0]["request_id"])


def test_the_catalog_is_asked_for_labels_only_of_a_header_that_may_hold_one(
    running: RunningGateway, tmp_path: Path
) -> None:
    from adapters.batch_import import field_labels

    labels = field_labels(factory(running))
    assert list(labels["生产者名称"]) == ["fields.producer_name"] and list(labels["许可证编号"]) == ["license_number"]
    assert list(labels["公民身份号码"]) == ["fields.citizen_id", "license_number"]
    assert field_labels(lambda: grpc.insecure_channel("127.0.0.1:1")) == {}  # no answer: the rows say it, as before

    asked: list[int] = []

    def counted() -> dict[str, dict[str, list[str]]]:
        asked.append(1)
        return labels

    path = write_csv(tmp_path / "keys.csv", permits(2, "LB", start=3100))
    assert count_records(path, labels=counted) == 2 and not asked  # every column ASCII, as every key is
    template = tmp_path / "template.csv"
    template.write_text("type_code,备注,说明\nx,,\ny,,\n", encoding="utf-8")
    assert count_records(template, labels=counted) == 2 and asked == [1]  # asked once; 备注 left empty: ignored
    # 备注 is the 结婚证's remarks: filled in rows of a type without it, the rows say so, the file is not refused as
    # named by its label (it had been, naming a column the type has not; a reviewer)
    permit_type = permits(1, "LB")[0]["type_code"]
    noted = tmp_path / "noted.csv"
    noted.write_text(f"type_code,备注\n{permit_type},加急\n", encoding="utf-8")
    assert count_records(noted, labels=counted) == 1
    noted.write_text("type_code,生产者名称\n" + permit_type + ",某食品厂\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"生产者名称 是 fields\.producer_name 的名称"):
        count_records(noted, labels=counted)


def _failure_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a failures file (``--failures``), as written: CSV by its name, JSON Lines otherwise."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [{**row, "line": int(row["line"])} for row in csv.DictReader(handle)]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_failure_is_written_to_the_failures_file_as_it_is_found(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console lists 50 failures: in a file of 5,000 lines with 37 malformed, 13 were never named, and there was
    no way to have them (a scenario tester). Every failed line goes to the failures file, with the record as it is in
    the file, flushed as it is found; the report keeps the first lines' failures only."""
    from adapters import batch_import
    from adapters.batch_import import FailureFile

    monkeypatch.setattr(batch_import, "KEPT_FAILURES", 5)
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(60, tag, start=2600)
    for index in range(0, 60, 6):  # lines 1, 7, …, 55: the gateway refuses them
        records[index]["fields"]["uscc"] = BAD_USCC
    records[58]["holder"] = {**records[58]["holder"], "code": BAD_USCC}  # line 59: two fields at fault
    records[58]["issue_date"] = "2024-02-30"
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    for index in range(3, 60, 10):  # lines 4, 14, …, 54: read by the import, never sent
        lines[index] = lines[index][:-20]
    path = write_jsonl(tmp_path / "permits.jsonl", lines)
    out = tmp_path / "failures.jsonl"
    out.write_text("a previous run's list\n", encoding="utf-8")

    written = FailureFile(out)
    try:
        report = import_file(path, factory(running), failure_file=written)
        rows = _failure_rows(out)  # on disk before the file is closed: an interruption loses none
    finally:
        written.close()

    refused = [*range(1, 60, 6)]
    cut = [*range(4, 61, 10)]
    expected = sorted(
        [(n, "fields.uscc", "BAD_CHECK_CHARACTER") for n in refused]
        + [(n, "", "BAD_JSON") for n in cut]
        + [(59, "holder.code", "BAD_CHECK_CHARACTER"), (59, "issue_date", "BAD_DATE")]
    )
    assert sorted((row["line"], row["field"], row["reason"]) for row in rows) == expected
    assert all(row["record"] == lines[row["line"] - 1] for row in rows)  # the line as it is, to be fixed
    assert {row["line"]: row["message"] for row in rows}[4].startswith("不是 JSON：")
    assert (report.failure_count, report.failed, report.created) == (len(expected), 17, 43)
    # the report keeps the first lines' only, in line order (the file's are in the order found)
    assert [(f.line, f.field, f.reason) for f in report.failures] == expected[:5]

    said = summary(report, limit=3, failure_file=out)
    assert f"  …另有 {len(expected) - 3} 条，见 {out}（… and {len(expected) - 3} more, in {out}）" in said
    assert f"全部 {len(expected)} 条失败已写入 {out}（every failure, {len(expected)}, is in {out}）" in said
    unsaid = summary(report, limit=3)
    assert f"… and {len(expected) - 3} more: --failures FILE writes every failure to a file）" in unsaid


def test_a_csv_failures_file_opens_in_excel_and_holds_the_rows_as_written(
    running: RunningGateway, tmp_path: Path
) -> None:
    """CSV for a name ending in .csv, with the byte order mark Excel needs to read its Chinese; a record over two
    lines of the file is kept whole."""
    from adapters.batch_import import FailureFile

    tag = uuid.uuid4().hex[:8].upper()
    records = permits(3, tag, start=2700)
    records[1]["fields"]["food_category"] = ""  # REQUIRED, said by the gateway
    records[2]["fields"]["producer_name"] = "某食品\n有限公司"  # a value over two lines
    records[2]["holder"] = {**records[2]["holder"], "code": BAD_USCC}
    path = write_csv(tmp_path / "permits.csv", records)
    out = tmp_path / "failures.csv"

    with FailureFile(out) as written:
        report = import_file(path, factory(running), failure_file=written)

    assert out.read_bytes().startswith("\ufeffline,field,reason,message,record\r\n".encode())
    rows = _failure_rows(out)
    assert [(row["line"], row["field"], row["reason"]) for row in rows] == [
        (3, "fields.food_category", "REQUIRED"),
        (4, "holder.code", "BAD_CHECK_CHARACTER"),
    ]
    written_rows = path.read_bytes().decode("utf-8").split("\r\n")  # csv ends a row in \r\n, a value's line in \n
    assert rows[0]["record"] == written_rows[2]
    assert rows[1]["record"] == written_rows[3] and "某食品\n有限公司" in rows[1]["record"]
    assert report.created == 1 and report.failed == 2


def test_a_failures_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds each failed record whole, names and citizen ID numbers with them: under the usual umask it had been
    written 0644, readable by every local user (a privacy auditor); one that was there is made private too."""
    from adapters.batch_import import FailureFile

    fresh, there = tmp_path / "fresh.csv", tmp_path / "there.jsonl"
    there.write_text("old rows\n")
    there.chmod(0o644)
    old = os.umask(0o022)
    try:
        for path in (fresh, there):
            with FailureFile(path):
                pass
    finally:
        os.umask(old)
    assert [stat.S_IMODE(path.stat().st_mode) for path in (fresh, there)] == [0o600, 0o600]
    assert there.read_text() == ""  # written anew


def test_a_failures_path_that_is_no_regular_file_keeps_its_mode(tmp_path: Path) -> None:
    """Only a regular file is made private: a --failures /dev/null run as root had made /dev/null 0600 for the whole
    system (a reviewer). A FIFO stands in for the device node here (making one needs no root)."""
    from adapters.batch_import import FailureFile

    pipe = tmp_path / "failures.jsonl"
    os.mkfifo(pipe)
    pipe.chmod(0o666)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # so that opening it for writing does not wait
    try:
        with FailureFile(pipe):
            pass
    finally:
        os.close(reader)
    assert stat.S_IMODE(pipe.stat().st_mode) == 0o666


def test_a_csv_failures_file_holds_no_formula_excel_would_run(tmp_path: Path) -> None:
    """An imported text beginning =, +, -, @ is written after a ' in the CSV, which Excel shows and does not run
    (=HYPERLINK(…) in a failed line had become a live link; a reviewer); JSON Lines keeps it as it is."""
    from adapters.batch_import import FailureFile

    formula = '=HYPERLINK("http://evil.example","点此")'
    failure = Failure(2, "holder.name", "BAD_NAME", "-名称有误")
    for name, expected in (("f.csv", ("'-名称有误", "'" + formula)), ("f.jsonl", ("-名称有误", formula))):
        with FailureFile(tmp_path / name) as written:
            written.write([failure], formula)
        (row,) = _failure_rows(tmp_path / name)
        assert (row["message"], row["record"]) == expected, name


def test_an_import_whose_failures_file_cannot_be_written_stops(running: RunningGateway, tmp_path: Path) -> None:
    """A disk full under the failures file: going on would lose the failures the operator asked to keep."""
    from adapters.batch_import import FailureFile

    lines = ["{broken", *(json.dumps(r, ensure_ascii=False) for r in permits(300, uuid.uuid4().hex[:8], 2800))]
    path = write_jsonl(tmp_path / "permits.jsonl", lines)
    with FailureFile(Path("/dev/full")) as full, pytest.raises(ImportStopped) as stopped:
        import_file(path, factory(running), failure_file=full)
    assert (
        "OSError: [Errno 28] 失败记录文件 /dev/full 无法写入：No space left on device"
        "（the failures file /dev/full could not be written: No space left on device）"
    ) in str(stopped.value)
    assert stopped.value.report.lines == 1 and stopped.value.report.created == 0  # nothing read past it


def test_the_command_writes_every_failure_to_the_failures_file(running: RunningGateway, tmp_path: Path) -> None:
    """``--failures FILE``: written anew each run; the console's list, cut at 50, says where the rest is, or, without
    the option, that it exists. A file that cannot be written, or the file being imported, is refused before anything
    is sent (2, as an unreadable file is)."""
    good = permits(2, uuid.uuid4().hex[:8].upper(), start=2900)
    lines = [json.dumps(r, ensure_ascii=False) for r in good] + ["{broken"] * 53  # lines 3-55 fail
    path = write_jsonl(tmp_path / "permits.jsonl", lines)
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}

    def zzgw(*args: str) -> subprocess.CompletedProcess[str]:
        command = zzgw_command("import", "--issuer", MARKET, "--target", running.address, *args)
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)

    for refused, said in [
        (tmp_path / "no-such-dir" / "failures.csv", f"zzgw import: 无法写入失败记录文件 {tmp_path / 'no-such-dir'}"),
        (tmp_path, f"zzgw import: 无法写入失败记录文件 {tmp_path}："),
        (path, f"zzgw import: --failures {path} 就是要导入的文件（--failures {path} is the file being imported）"),
    ]:
        done = zzgw(str(path), "--failures", str(refused))
        assert done.returncode == 2 and done.stderr.startswith(said), done.stderr
        assert path.read_text(encoding="utf-8").count("\n") == 55
    assert not _committed(running, good[0]["request_id"])  # nothing was sent

    out = tmp_path / "failures.csv"
    out.write_text("a previous run's list\n", encoding="utf-8")
    done = zzgw(str(path), "--failures", str(out))
    assert done.returncode == 1, done.stderr
    assert f"  …另有 3 条，见 {out}（… and 3 more, in {out}）" in done.stdout
    assert f"全部 53 条失败已写入 {out}" in done.stdout
    assert [row["line"] for row in _failure_rows(out)] == [*range(3, 56)]  # the previous list is gone

    plain = zzgw(str(path))
    assert "  …另有 3 条；加 --failures FILE 可将每条失败写入文件" in plain.stdout and "已写入" not in plain.stdout

    helped = subprocess.run(zzgw_command("import", "--help"), env=env, cwd=ROOT, capture_output=True, text=True)
    assert "--failures FILE" in helped.stdout and "write every failed line to FILE" in helped.stdout


HELD_AT_EXIT = """
import atexit, sys, threading, time
import grpc._channel
from adapters import batch_import

ended, exiting, held = threading.Event(), threading.Event(), threading.Event()


class HeldAtExit(threading.Condition):
    # the call's lock, as gRPC's request thread holds it when the interpreter stops it at exit
    def __init__(self, state):
        super().__init__()
        self.state = state

    def __enter__(self):
        if ended.is_set() and sys._getframe(1).f_code.co_name == "consume_request_iterator":
            deadline = time.monotonic() + 20
            while not self.state.cancelled and time.monotonic() < deadline:
                time.sleep(0.01)
            exiting.wait(20)
            taken = super().__enter__()
            held.set()
            time.sleep(1)  # the interpreter finalizes meanwhile: the thread never runs again, the lock stays held
            return taken
        return super().__enter__()


made = grpc._channel._RPCState.__init__


def rpc_state(self, *args, **kwargs):
    made(self, *args, **kwargs)
    self.condition = HeldAtExit(self)


grpc._channel._RPCState.__init__ = rpc_state
messages = batch_import._messages


def grouped(requests, message_bytes, **handed):
    yield from messages(requests, message_bytes, **handed)
    if not isinstance(requests, list):  # the file's end, not the resending of the unanswered
        ended.set()


batch_import._messages = grouped


def at_exit():
    exiting.set()
    held.wait(20)


atexit.register(at_exit)
"""
"""Holds the interrupted call's lock in gRPC's request thread (``consume_request_iterator``, a daemon thread) from the
file's end across the interpreter's exit, where CPython stops that thread for good with the lock held: the call object,
kept by the reference cycle of the error it raised (its traceback holds its own frame), is collected only then, and
its ``__del__`` waits for that lock for ever. The interleaving a tester saw once in 14 runs (a frozen process after its
summary, a single thread in ``futex_do_wait``), forced."""


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_an_interrupted_import_ends_after_its_summary_whatever_grpc_threads_hold(
    running: RunningGateway, tmp_path: Path, signum: int, status: int
) -> None:
    """The summary printed, the command froze at exit until a second signal: gRPC's request thread held the call's
    lock as the interpreter stopped it, and the call's ``__del__`` waited for it. It ends at once with its status, its
    summary and the failures file whole."""
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(400, tag, start=4000)
    records[7]["issue_date"] = "2024-02-30"  # a failed line, in the failures file
    content = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path, gate = write_jsonl(tmp_path / "permits.jsonl", content.splitlines()), tmp_path / "gate"
    failures = tmp_path / "failures.jsonl"
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command(
        "import", "--issuer", MARKET, "--target", running.address, "--failures", str(failures),
        before=HELD_AT_EXIT + held_after(200, gate),
    )  # fmt: skip
    process = subprocess.Popen([*command, str(path)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with first_lines_committed(gate, running, records, 200):
            # its answer received (committed is not yet answered: a loaded machine's import had not heard of line 8
            # when the signal came, and wrote no failure; a fresh-clone run with helpers at work)
            deadline = time.monotonic() + 30
            while '"line": 8,' not in failures.read_text(encoding="utf-8"):
                assert time.monotonic() < deadline, "line 8's refusal was never written"
                time.sleep(0.05)
            process.send_signal(signum)
            time.sleep(0.5)  # the file ends after the signal was taken: the request thread then takes the lock
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"zzgw import did not end after its summary: {stdout.decode()[:300]!r}")
    finally:
        process.kill()
        process.wait()

    assert process.returncode == status, stderr
    assert stdout.decode("utf-8").startswith("已中断：读取 200 行，至此新签发 ")
    assert b"Traceback" not in stderr
    rows = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    assert [(row["line"], row["reason"]) for row in rows] == [(8, "BAD_DATE")]
