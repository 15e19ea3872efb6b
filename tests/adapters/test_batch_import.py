"""Batch import (批量归集) of JSON Lines and CSV files through a real gateway: counts, failures by line, idempotency."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from adapters.batch_import import (
    MAX_RECORD_CHARS,
    MESSAGE_BYTES,
    Failure,
    ImportRefused,
    ImportStopped,
    count_records,
    import_file,
    read_records,
    summary,
)
from adapters.client import MemberCredentials, connect
from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import issuance_pb2
from tests.conftest import MARKET, RunningGateway, zzgw_command

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


def test_csv_rows_with_too_many_or_too_few_cells(running: RunningGateway, tmp_path: Path) -> None:
    """Each is one plain failure (a short row was every field of its missing cells REQUIRED)."""
    path = tmp_path / "ragged.csv"
    path.write_text("request_id,type_code,license_number\nr1,x,n,extra\nr2,x\n", encoding="utf-8")
    report = import_file(path, factory(running))
    assert [(f.line, f.reason) for f in report.failures] == [(2, "BAD_RECORD"), (3, "BAD_RECORD")]
    assert report.failures[1].message.startswith("the row has 2 cells, fewer than the header's 3 columns")
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
    assert failures[0].message == "not JSON: Invalid control character at column 18"
    cut = "not JSON: the line ends inside the record (cut short?)"  # not "Invalid control character at column 21"
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
    assert "holds \\ud800, half of a UTF-16 surrogate pair" in by_line[2]
    assert "Exceeds the limit (4300 digits)" in by_line[3] and "RecursionError" in by_line[4]
    text = summary(report)
    text.encode("utf-8")  # printable, whatever the failures quote
    assert "line 2: holder.name BAD_CHARACTERS: holder.name holds \\ud800" in text


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
    assert f"line 3 is {line_length} characters, more than a record may have ({MAX_RECORD_CHARS})" in failure.message


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
    assert re.fullmatch(r"its request is (\d+) bytes, more than a message carries \(8000\): not sent", failure.message)
    assert size < int(failure.message.split()[3]) < size + 8  # with its framing in the message
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
        (2, "RECORD_TOO_LARGE", f"line 2 is {len(lines[1]) + 1} characters, more than a record may have (131072): "
         "not read; check what it holds"),
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
    assert messages[3].startswith(f"the record on lines 3-5 is {len(rows[2]) + 1} characters, more than a record")
    assert messages[7].startswith(f"the record on lines 7-8 is {len(rows[4]) + 1} characters")
    assert messages[9].startswith(f"the record on lines 9-2008 is {len(rows[5]) + 1} characters")
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
    running: RunningGateway, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    lines = [json.dumps(r, ensure_ascii=False) for r in permits(400, tag, start=700)]
    path = tmp_path / "turns-gbk.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8") + "\n济南\n".encode("gbk"))  # not checked by count_records

    with pytest.raises(ImportStopped) as stopped:
        import_file(path, factory(running))

    report = stopped.value.report
    assert 100 <= report.lines < 400 and (report.created, report.failures, report.unanswered) == (report.lines, [], 0)
    assert str(stopped.value).startswith(
        f"stopped after {report.lines} lines of {path} by an error of the import itself, not the gateway's: "
        "UnicodeDecodeError: 'utf-8' codec can't decode"
    )
    assert isinstance(stopped.value.__cause__, UnicodeDecodeError)
    assert summary(report).startswith(
        f"stopped by an error of the import itself after reading {report.lines} lines: {report.lines} issued, "
        "0 already present, 0 failed so far ("
    )


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
    assert said.startswith("refused by the gateway after reading ") and "Run the same command again" not in said
    assert "The same command would be refused alike: change what the gateway said" in said


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_ctrl_c_ends_with_what_was_committed_and_130_and_a_second_run_finishes(
    running: RunningGateway, tmp_path: Path, signum: int, status: int
) -> None:
    """Ctrl-C, or SIGTERM (``kill``, ``timeout``, a service manager), which ended the command with nothing said."""
    tag = uuid.uuid4().hex[:8].upper()
    records = permits(500, tag, start=1000)
    content = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    fifo = tmp_path / "permits.jsonl"  # a pipe: the import reads what the test writes, when it writes it
    os.mkfifo(fifo)
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": ""}
    command = zzgw_command("import", "--issuer", MARKET, "--target", running.address)
    process = subprocess.Popen(
        [*command, str(fifo)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with fifo.open("w", encoding="utf-8") as out:  # count_records reads it all
            out.write(content)
        assert process.stderr is not None
        seen = b""
        while b"importing" not in seen:  # the bar is drawn once the count is done and the file closed
            chunk = os.read(process.stderr.fileno(), 4096)
            assert chunk, f"zzgw import ended before importing: {seen!r}"
            seen += chunk
        with fifo.open("w", encoding="utf-8") as out:  # the import reads it again
            out.write("".join(content.splitlines(keepends=True)[:300]))
            out.flush()
            deadline = time.monotonic() + 60
            while not _committed(running, records[299]["request_id"]):
                assert time.monotonic() < deadline, "the first 300 lines were never committed"
                time.sleep(0.05)
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()

    assert process.returncode == status, stderr
    assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr
    text = stdout.decode("utf-8")
    done = re.match(
        r"interrupted after reading 300 lines: (\d+) issued, 0 already present, 0 failed so far(?:, (\d+) sent and not "
        r"answered \(issued or not\))? \(\d+\.\d s\)\. Run the same command again to import the rest: what is in "
        r"already is answered as already present, never issued twice\n",
        text,
    )
    assert done, text
    assert int(done[1]) + int(done[2] or 0) == 300

    whole = tmp_path / "permits-again.jsonl"
    whole.write_text(content, encoding="utf-8")
    again = subprocess.run([*command, str(whole)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("500 lines: 200 issued, 300 already present, 0 failed")


def test_files_without_records_or_with_only_failures_end_with_a_summary(
    running: RunningGateway, tmp_path: Path
) -> None:
    header_only = tmp_path / "header.csv"
    header_only.write_text("type_code,license_number,holder.name\n", encoding="utf-8")
    for path in (header_only, write_jsonl(tmp_path / "nothing.jsonl", [])):
        report = import_file(path, factory(running))
        assert count_records(path) == report.lines == 0
        assert summary(report) == "0 lines: the file holds no records (empty, or a CSV header alone); nothing was sent"

    report = import_file(write_jsonl(tmp_path / "all-bad.jsonl", ["{", "[]", '{"colour": "red"}']), factory(running))
    assert [(f.line, f.reason) for f in report.failures] == [(1, "BAD_JSON"), (2, "BAD_RECORD"), (3, "BAD_RECORD")]
    assert summary(report).startswith("3 lines: 0 issued, 0 already present, 3 failed (")


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
                "request_id": r["request_id"], "type_code": r["type_code"], "license_number": r["license_number"],
                **{f"holder.{k}": v for k, v in r["holder"].items()}, "issue_date": r["issue_date"],
                "valid_until": r["valid_until"], **{f"fields.{k}": v for k, v in r["fields"].items()},
            })  # fmt: skip
    return path
