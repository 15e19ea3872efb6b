"""Batch import (批量归集): stream a CSV or JSON Lines file through ``BatchIssueLicenses``.

>>> report = import_file(Path("licenses.jsonl"), channel)   # doctest: +SKIP
>>> report.created, report.existing, len(report.failures)   # doctest: +SKIP

Each line becomes one request; a line that cannot even be read (bad JSON, unknown keys) is reported with its number
and never sent. A record without a ``request_id`` gets one derived from its content, so importing the same file
again creates nothing new. If the connection drops, the import reconnects and resends what was not yet answered —
safe, because every request is idempotent.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from adapters.records import RecordError, from_csv_row, issue_request
from protos.zzgw.v1 import issuance_pb2, issuance_pb2_grpc

MAX_RECONNECTS = 5
ITEMS_PER_MESSAGE = 100


@dataclass(frozen=True)
class Failure:
    line: int
    field: str
    reason: str
    message: str


@dataclass
class ImportReport:
    lines: int = 0
    created: int = 0
    existing: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return (self.created + self.existing) / self.seconds if self.seconds else 0.0


ENCODING = "utf-8-sig"
"""Files are UTF-8, with or without the byte order mark Excel writes for "CSV UTF-8"."""


def count_records(path: Path, fmt: str | None = None, *, encoding: str = ENCODING) -> int:
    """How many records the file holds (lines, less the header for CSV, blank lines not counted), for an ETA; read
    before anything is sent, so a file in another encoding is refused whole (ValueError naming the first bad
    line) instead of failing half-way."""
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    count = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                hint = " (Excel saves Chinese CSV as GBK: use --encoding gb18030, or save as 'CSV UTF-8')"
                raise ValueError(
                    f"line {number} of {path} is not {encoding}{hint if 'utf' in encoding else ''}"
                ) from None
            count += bool(line.strip())
    return max(count - 1, 0) if fmt == "csv" else count


def read_records(
    path: Path, fmt: str | None = None, *, encoding: str = ENCODING
) -> Iterator[tuple[int, dict[str, Any] | Failure]]:
    """(line number, record or the failure to read it), for JSON Lines or CSV (chosen by suffix unless given). A
    CSV record's number is the line it begins on (blank lines and values over several lines counted)."""
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    with path.open(encoding=encoding, newline="") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            for row in reader:
                number = reader.line_num - sum(str(v).count("\n") for v in row.values() if v)
                try:
                    yield number, from_csv_row(row)
                except RecordError as exc:
                    yield number, Failure(number, "", "BAD_RECORD", str(exc))
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, Failure(number, "", "BAD_JSON", f"not JSON: {exc.msg} at column {exc.colno}")
                continue
            yield number, record


def import_file(
    path: Path,
    channel_factory: Callable[[], grpc.Channel],
    *,
    fmt: str | None = None,
    encoding: str = ENCODING,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``path``; ``progress`` is called with the number of lines answered since the last call.

    The file is read as it is sent, so its size does not matter; only the requests sent and not yet answered are
    kept, to be sent again after a reconnect.
    """
    report = ImportReport()
    started = time.perf_counter()
    inflight: deque[tuple[int, issuance_pb2.IssueLicenseRequest]] = deque()

    def readable() -> Iterator[tuple[int, issuance_pb2.IssueLicenseRequest]]:
        for number, item in read_records(path, fmt, encoding=encoding):
            report.lines += 1
            try:
                if isinstance(item, Failure):
                    raise RecordError(item.message)
                request = issue_request(item)
            except RecordError as exc:
                reason = item.reason if isinstance(item, Failure) else "BAD_RECORD"
                report.failures.append(Failure(number, "", reason, str(exc)))
                if progress:
                    progress(1)
                continue
            if not request.request_id:
                digest = hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
                request.request_id = "import-" + digest[:40]
            yield number, request

    source = readable()

    def requests() -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
        resend = [request for _, request in inflight]  # unanswered before a reconnect: send again (idempotent)
        for start in range(0, len(resend), ITEMS_PER_MESSAGE):
            yield issuance_pb2.BatchIssueLicensesRequest(licenses=resend[start : start + ITEMS_PER_MESSAGE])
        group: list[issuance_pb2.IssueLicenseRequest] = []
        for number, request in source:
            inflight.append((number, request))
            group.append(request)
            if len(group) == ITEMS_PER_MESSAGE:
                yield issuance_pb2.BatchIssueLicensesRequest(licenses=group)
                group = []
        if group:
            yield issuance_pb2.BatchIssueLicensesRequest(licenses=group)

    for attempt in range(MAX_RECONNECTS + 1):
        channel = channel_factory()
        try:
            for reply in issuance_pb2_grpc.IssuanceServiceStub(channel).BatchIssueLicenses(requests()):
                for result in reply.results:
                    number, _ = inflight.popleft()
                    _record(report, number, result)
                if progress:
                    progress(len(reply.results))
            break
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == MAX_RECONNECTS:
                raise
            time.sleep(min(2.0**attempt * 0.2, 5.0))
        finally:
            channel.close()
    report.failures.sort(key=lambda f: f.line)
    report.seconds = time.perf_counter() - started
    return report


def _record(report: ImportReport, number: int, reply: issuance_pb2.BatchItemResult) -> None:
    if reply.HasField("error"):
        error = reply.error
        if error.field_errors:
            report.failures.extend(Failure(number, v.field, v.reason, v.description) for v in error.field_errors)
        else:
            report.failures.append(Failure(number, "", error.reason, error.message))
    elif reply.created:
        report.created += 1
    else:
        report.existing += 1


def summary(report: ImportReport, limit: int = 50) -> str:
    lines = [
        f"{report.lines} lines: {report.created} issued, {report.existing} already present, "
        f"{len({f.line for f in report.failures})} failed ({report.seconds:.1f} s, {report.rate:.0f} licenses/s)"
    ]
    if report.failures:
        lines.append("failures (line, field, reason, message):")
        for failure in report.failures[:limit]:
            lines.append(f"  line {failure.line}: {failure.field or '-'} {failure.reason}: {failure.message}")
        if len(report.failures) > limit:
            lines.append(f"  … and {len(report.failures) - limit} more")
    return "\n".join(lines)
