"""Batch import (批量归集): stream a CSV or JSON Lines file through ``BatchIssueLicenses``.

>>> report = import_file(Path("licenses.jsonl"), channel)   # doctest: +SKIP
>>> report.created, report.existing, len(report.failures)   # doctest: +SKIP

Each record becomes one request; a record that cannot even be read (bad JSON, unknown keys, text that is no Unicode,
longer than ``MAX_RECORD_CHARS``) is reported with its line number and never sent, and whatever one line holds, the
others go on. Every failed line may be written to a file as it is found (``FailureFile``): the report keeps only the
first lines' failures. A record without a ``request_id`` gets one derived from its content, so importing the same
file again creates nothing new. If the connection drops, the import reconnects and resends what was not yet
answered — safe, because every request is idempotent.

An import that stops before the end of the file raises, with the report of what was answered before:
``ImportInterrupted`` (a ``KeyboardInterrupt``: Ctrl-C), ``ImportStopped`` (an error of the import itself, such
as a file that can no longer be read: never the gateway's answer, which is a ``grpc.RpcError``) and ``ImportRefused``
(the gateway's answer ended it: the call refused, or a line refused for a reason every line would be, such as an
issuer that is not the type's authoritative issuer). The summary and the import's own failures are said in Chinese
first, the English after.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import decimal
import hashlib
import heapq
import json
import math
import os
import re
import signal
import stat
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from adapters.records import (
    RecordError,
    csv_header_problem,
    from_csv_row,
    issue_request,
    known_column,
    labelled_columns,
    labelled_problem,
)
from gateway.domain.counts import counted
from gateway.domain.errors import left_out_of
from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc, issuance_pb2, issuance_pb2_grpc

RECONNECT_SECONDS = 60.0
"""How long an import keeps reconnecting after the gateway stopped answering (no listener, the line down, or the
gateway's own UNAVAILABLE: its database restarting or failing over, a process stopping), counted from the last
answer: a PostgreSQL restart takes longer than the few seconds an import had waited (found by a tester: an overnight
import stopped at a database restart of 8 s)."""
RECONNECT_PAUSE_MOST = 5.0
ANSWER_SECONDS = RECONNECT_SECONDS
"""How long lines sent wait for an answer, from the last answer, before the import ends (``NoAnswer``): the
reconnections' time, as import.md promises for a gateway never answering. A line's wait begins when the message
carrying it is handed to gRPC, not when it is read: it had begun as the line was read, and a long run of lines failing
in the import after it, its message not yet full, ended the import 证照网关 60 秒未应答 from a healthy gateway (a
reviewer, R1)."""
FLUSH_SECONDS = 1.0
"""How long a request waits in a message partly filled, while the lines after it are read and fail in the import
(or are slow to read), before the message is sent as it is."""
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
)
"""The import's channel options (``zzgw import``): a ping every 10 s, as often as the gateway welcomes
(``gateway.api.issuance.CLIENT_PING_SECONDS``), so that a connection found dead (a network partition) ends the stream
UNAVAILABLE and the import reconnects. A ping queued behind requests the gateway does not read (its host frozen, the
import's own sending held by flow control) is not answered either: such an import ends ``ANSWER_SECONDS`` after the
last answer (``NoAnswer``; a frozen gateway's test, 16,400 lines in flight, ended so after 64 s)."""
ITEMS_PER_MESSAGE = 100
MESSAGE_BYTES = 1024 * 1024
"""The most bytes of requests in one stream message: half the least message limit a gateway may have
(``ZZGW_MAX_MESSAGE_BYTES``: 2 MiB at least, 4 MiB by default), which a client cannot ask it for."""
MAX_RECORD_CHARS = 128 * 1024
"""The most characters a record may take in the file (a CSV record with its commas and line breaks): Python's csv
field limit by default, and far more than a license holds (the bundled catalog's longest field takes 4,000). A longer
one is read through without being kept and fails as ``RECORD_TOO_LARGE``: a line of a gigabyte costs time, not
memory."""
REPEATS_NAMED = 5
"""How many lines repeating an earlier line the summary names (``ImportReport.repeats_named``); the failures file
has every one."""
KEPT_FAILURES = 1000
"""The most failures an import's report keeps, those of the first lines: the console lists 50 of them, and an import
of millions of failed lines keeps no more in memory. ``FailureFile`` has every one."""


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
    """The failures of the first lines, in line order, at most ``KEPT_FAILURES`` of them (``failure_count`` says
    how many there were): every one is in the ``FailureFile``, when the import writes one."""
    failure_count: int = 0
    """Every failure, kept in ``failures`` or not (a line may fail on several fields)."""
    failed_lines: int = 0
    """The lines those failures are of."""
    unlisted_fields: int = 0
    """Bad fields the gateway did not list, past its ``MAX_VIOLATIONS`` a line, of ``unlisted_lines`` lines: each such
    line has a ``MORE_FIELDS`` failure saying how many. They had been dropped with the item's message, the import's
    count calling the 16 listed "every failure" (a reviewer, R2)."""
    unlisted_lines: int = 0
    duplicates: int = 0
    """Lines whose request is the same as an earlier line's of this run (two exports joined, rows repeated by a join):
    not sent again, neither issued nor failed, each written to the failures file as ``DUPLICATE_LINE`` naming the
    first. They had been answered as their first line's repeat and counted 此前已有, named nowhere (a reviewer, R2)."""
    repeats_named: list[tuple[int, int]] = field(default_factory=list)
    """The first ``REPEATS_NAMED`` of them: (the line, the earlier line it repeats)."""
    unsent: int = 0
    """Lines read and never handed to gRPC when the import ended (waiting for their message to fill, or being read):
    none of them issued. Counted in ``unanswered`` too."""
    seconds: float = 0.0
    stopped: str = ""
    """Why the import ended before the end of the file ("interrupted", …); empty when it read all of it."""
    refused: int = 0
    """Lines the gateway refused for a reason that holds for every line (``ITEM_REFUSALS_FOR_GOOD``), which ended
    the import: counted as failed, not listed (the refusal is said once, as the import's end)."""
    first_refused: int = 0
    """The line of the first of those (0: none)."""
    answers_lost: int = 0
    """Lines sent again after a stream that may have lost their answers, answered as already there (their request ids
    seen), whose licenses cannot be placed before or after the line was first sent (``_GatewayClock``): issued by this
    run, their answers lost with the connection, or before it. Those placed are counted as created or existing."""
    unanswered_not_issued: bool = False
    """Whether the lines sent and not answered are known not to be issued: the gateway refused to handle them, having
    answered every line it issued before (``CATALOG_CHANGED``, or a refusal of the call for good), and no line among
    them had been sent on a stream that ended otherwise (whose answers may have been lost with the lines
    committed)."""
    connected: bool = True
    """Whether a connection to a gateway was made, or may have been, during the import. False when every attempt
    failed to connect (``_unconnected``: nothing listening at the address, a TLS gateway asked in plaintext or a
    plaintext one in TLS): no line reached any gateway, so none was issued, and the lines not answered are said not
    sent. They had been said 已发送未答复（可能已签发）, with "run the same command again", which a mode mismatch
    fails alike (a reviewer)."""

    @property
    def rate(self) -> float:
        """Lines answered with a license (``answered``) a second."""
        return self.answered / self.seconds if self.seconds else 0.0

    @property
    def line_rate(self) -> float:
        """Lines read a second, whatever became of them (issued, present before, failed, repeats): the summary's
        first rate, as the progress bar's 行/秒. A file of nearly all failures had been summed up ``0 件/秒`` alone,
        as if the import had not moved (left alone in session 53)."""
        return self.lines / self.seconds if self.seconds else 0.0

    @property
    def answered(self) -> int:
        """Lines answered with a license: issued by this run, present before it, or either (``answers_lost``)."""
        return self.created + self.existing + self.answers_lost

    @property
    def failed(self) -> int:
        """Lines that failed (a line may fail on several fields)."""
        return self.failed_lines + self.refused

    @property
    def unanswered(self) -> int:
        """Lines read and neither answered nor failed, when the import ended early: those sent, issued or not, and
        those never sent (``unsent``)."""
        return self.lines - self.answered - self.failed - self.duplicates

    @property
    def sent_unanswered(self) -> int:
        """Lines sent and not answered: after an interruption, issued or not."""
        return self.unanswered - self.unsent


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: object) -> object:
    """A CSV cell Excel would read as a formula (=HYPERLINK(…) in an imported name) after a ``'``, which Excel shows
    the text behind and does not evaluate (OWASP's CSV injection advice; a reviewer)."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) else cell


class FailureFile:
    """Every failed line of an import, written as the import finds it (``--failures FILE``): line, field, reason,
    message and the record as it is in the file (empty for one too large to read), a row for each failed field. The
    console lists the first 50 only, and a back catalogue of 2 million lines may have thousands (a scenario tester:
    13 of 37 were never named). CSV when the name ends in ``.csv`` (UTF-8 with the byte order mark Excel needs to read
    Chinese), JSON Lines otherwise, as the import reads files.

    It is readable by its owner only (mode 0600, whatever the umask): it holds each failed record whole, names and
    citizen ID numbers included (a privacy auditor). Each row is flushed as it is written, so an import interrupted,
    refused or stopped leaves the rows of every failure it had; the file is written anew by each run, which finds
    again every line that still fails (none was issued).
    Rows come in the order the failures are found: a line that cannot be read is found as it is read, a line the
    gateway refuses when its answer comes, after later lines were read. Text that is no Unicode (a byte of another
    encoding, a lone ``\\ud800`` escape) is written as its ``\\udc..`` escape; in CSV, a cell Excel would read as
    a formula is written after a ``'`` (``_inert``)."""

    COLUMNS = ("line", "field", "reason", "message", "record")

    def __init__(self, path: Path) -> None:
        """Open ``path`` for writing, emptying it (OSError: it cannot be written)."""
        self.path = path
        self.csv = path.suffix.lower() == ".csv"
        encoding = "utf-8-sig" if self.csv else "utf-8"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the records' personal data
        # a file that was there, readable by others, is made private (another's: left as it is); a path that is no
        # regular file (--failures /dev/null, run as root) keeps its mode
        if stat.S_ISREG(os.fstat(fd).st_mode):
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o600)
        self._handle = open(fd, "w", encoding=encoding, errors="backslashreplace", newline="")  # noqa: SIM115
        self._lock = threading.Lock()
        self._writer = csv.writer(self._handle) if self.csv else None
        self.error: OSError | None = None
        """The first error writing it met (a disk full): the import stops at it, and nothing more is written."""
        try:
            if self._writer:
                self._writer.writerow(self.COLUMNS)
            self._handle.flush()
        except BaseException:
            self._handle.close()
            raise

    def write(self, failures: Iterable[Failure], record: str) -> None:
        """The rows of one line's failures; ``record`` is the line's text in the file. Safe from any thread."""
        with self._lock:
            if self.error or self._handle.closed:
                return
            try:
                for failure in failures:
                    row = (failure.line, failure.field, failure.reason, failure.message, record)
                    if self._writer:
                        self._writer.writerow([_inert(cell) for cell in row])
                    else:
                        self._handle.write(json.dumps(dict(zip(self.COLUMNS, row, strict=True)), ensure_ascii=False))
                        self._handle.write("\n")
                self._handle.flush()
            except OSError as exc:
                self.error = self._said(exc)

    def _said(self, error: OSError) -> OSError:
        why = error.strerror or error
        return OSError(
            error.errno,
            f"失败记录文件 {self.path} 无法写入：{why}（the failures file {self.path} could not be written: {why}）",
        )

    def close(self) -> None:
        with self._lock:
            try:
                self._handle.close()
            except OSError as exc:  # the last rows could not be flushed
                self.error = self.error or self._said(exc)

    def __enter__(self) -> FailureFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Failures:
    """An import's failures as they are found, from the thread reading the file and from the one reading answers:
    counted in the report, the first lines' kept (``KEPT_FAILURES``), each written to the ``FailureFile``."""

    def __init__(self, report: ImportReport, file: FailureFile | None) -> None:
        self._report = report
        self.file = file
        self._kept: list[tuple[int, int, Failure]] = []  # a heap of the kept, the last line's first (negated)
        self._found = 0
        self._lock = threading.Lock()

    def add(self, failures: list[Failure], record: str, *, listed: bool = True) -> None:
        """One line's failures; not ``listed`` when the line counts as ``ImportReport.refused`` (written only)."""
        with self._lock:
            if listed:
                self._report.failed_lines += 1
                self._report.failure_count += len(failures)
                for failure in failures:
                    self._found += 1
                    heapq.heappush(self._kept, (-failure.line, -self._found, failure))
                    if len(self._kept) > KEPT_FAILURES:
                        heapq.heappop(self._kept)
        if self.file:
            self.file.write(failures, record)

    def kept(self) -> list[Failure]:
        with self._lock:
            return [failure for *_, failure in sorted(self._kept, reverse=True)]


class ImportStopped(Exception):
    """The import stopped before the end of the file on an error of its own, not the gateway's (the file could not be
    read on; a defect): the lines before were sent and answered, ``report`` says how; the error is the cause."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM: ``signum``) during an import: ``report`` holds what was answered, so committed, before."""

    def __init__(self, report: ImportReport, signum: int = signal.SIGINT) -> None:
        super().__init__("import interrupted")
        self.report = report
        self.signum = signum


class ImportRefused(Exception):
    """The gateway ended the import with an error (``error``, its answer: it went away for longer than the
    reconnections, or refused the call): ``report`` holds what was answered, so committed, before."""

    def __init__(self, error: grpc.RpcError, report: ImportReport) -> None:
        super().__init__(str(error))
        self.error = error
        self.report = report


ITEM_REFUSALS_FOR_GOOD = frozenset({"NOT_AUTHORITATIVE_ISSUER"})
"""Reasons of a line's refusal that hold for the import, not the line, when no line before it was taken: an issuer
that is not the authoritative issuer of the type (a wrong ``--issuer``) is refused every line of it alike. Such a
first answer ends the import as the gateway's refusal for good (``ImportRefused``), said once with its line, instead
of as thousands of identical failed lines. After lines were taken it is one line's failure, listed as any other: a
line of another type in a file of the issuer's (one 居民身份证 among 3,000 食品生产许可证) had ended the import at
line 600, naming no line (a bulk-import tester)."""

REFUSED = "refused by the gateway"
"""How an import the gateway refused for good ends (``ImportReport.stopped``): running it again as it is would not
help, unlike an import the gateway went away from."""
UNAVAILABLE = "stopped: the gateway was unavailable"
"""How an import ends when the gateway answered that it could not go on for now (its database unavailable, the
process stopping: an ErrorInfo reason with UNAVAILABLE) for longer than the reconnections."""
CATALOG_CHANGED = "stopped: the gateway process serves the catalog before the store's"
"""How an import ends when the gateway process still serves the catalog before the one `zzgw init --adopt-catalog`
adopted (UNAVAILABLE / ``CATALOG_CHANGED``) past the reconnections: it issues nothing more until restarted with the
new catalog, having answered every line it issued."""
_ANSWERED_ALL = frozenset({"CATALOG_CHANGED"})
"""Reasons of a gateway's UNAVAILABLE that end a stream only after every line it issued was answered: the lines not
answered were not issued."""
STREAMS_FULL = "stopped: the gateway's batch streams stayed full"
"""How an import ends when the gateway refused its stream as full (``STREAMS_FULL_REASONS``) for
``STREAM_WAIT_SECONDS``: nothing it sent was taken by the streams refused."""
STREAMS_FULL_REASONS = frozenset({"TOO_MANY_BATCH_STREAMS", "TOO_MANY_STREAMS"})
"""Reasons of a RESOURCE_EXHAUSTED refusing a stream as it opens, before it takes any line: the member's streams on
the gateway process are all open (at most 4: other imports of the department at once), or the process's. The import
waits for one (``STREAM_WAIT_SECONDS``), as the gateway advises: a fifth import at once had ended at once, exit 1,
saying its lines "may have been issued" (a reviewer)."""
STREAM_WAIT_SECONDS = 600.0
"""How long an import waits for a stream the gateway refused as full, from its last answer (or its start): another
import of the department ending, or a stream of a client that vanished released (within about 30 s)."""
UNREACHABLE = "stopped: the gateway could not be reached"
"""How an import ends when the gateway did not answer, past the reconnections (nothing listens at the address, or the
connection stayed down): not "stopped by the gateway", which no gateway did."""
_FOR_GOOD = frozenset(
    {
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)

ENCODING = "utf-8-sig"
"""Files are UTF-8, with or without the byte order mark Excel writes for "CSV UTF-8"."""


def _decoding(encoding: str) -> str:
    """The codec a file in ``encoding`` is read with: UTF-8 however named (``--encoding utf-8``, as import.md says
    files are) as ``ENCODING``, so that the byte order mark Windows tools and Excel write is no text of the first
    record: its line had failed ``BAD_JSON … Unexpected UTF-8 BOM``, and a CSV's header been refused for it (a
    reviewer)."""
    return ENCODING if codecs.lookup(encoding).name == "utf-8" else encoding


def count_records(
    path: Path,
    fmt: str | None = None,
    *,
    encoding: str = ENCODING,
    labels: Callable[[], Mapping[str, Mapping[str, Sequence[str]]]] | None = None,
) -> int:
    """How many records ``read_records`` gives (each a line of the import's report and of its progress bar, which so
    ends at 100% with the import). Read before anything is sent, so a file in another encoding is refused whole
    (ValueError naming the first bad line) instead of failing half-way, as is a CSV file without a readable header,
    and one with columns named by a label that ``labels`` gives (``field_labels``) that rows fill (said after the
    count, naming each such column and the first line)."""
    count = 0
    read_as_encoded = False  # a line of other characters than ASCII read in the encoding: the file is in it
    labelled: dict[str, Mapping[str, Sequence[str]]] | None = None  # the CSV header's columns named by a label
    filled: set[str] = set()  # those that rows fill
    first_filled = 0
    for number, entry, _ in _entries(path, fmt, encoding):
        count += 1
        if labels is not None and isinstance(entry, dict):
            if labelled is None:
                labelled = labelled_columns([column for column in entry if column is not None], labels)
            kind = str(entry.get("type_code") or "").strip().upper()  # a row fills a label of its own type only
            now = {
                column
                for column, meant in labelled.items()
                if entry[column].strip() and (not kind or any(kind in types for types in meant.values()))
            }
            if now := now - filled:
                filled |= now
                first_filled = first_filled or number
        if isinstance(entry, Failure) and entry.reason == "BAD_ENCODING" and not read_as_encoded:
            # the first such text does not read: the file is in another encoding
            raise _not_encoded(path, encoding, entry)
        if not read_as_encoded and not isinstance(entry, Failure):
            read_as_encoded = not all(str(cell).isascii() for cell in _texts(entry))
    if filled:  # in the header's order
        named = {column: list(meant) for column, meant in (labelled or {}).items() if column in filled}
        raise ValueError(_header_problem(path, labelled_problem(named, first_filled)))
    return count


_UNDECODABLE = re.compile("[\udc80-\udcff]")
"""What an undecodable byte reads as (``errors="surrogateescape"``)."""


_IDEOGRAPH = re.compile("[\u4e00-\u9fff]")
UTF8_PROOF = 3
"""How many Chinese characters a line read in another encoding must have, once its bytes are read as UTF-8, to be
taken for UTF-8: GBK text whose bytes are also UTF-8 holding as many is vanishingly rare (one or two can be)."""


def _utf8_misread(text: str, encoding: str) -> bool:
    """Whether ``text``, read in ``encoding`` (not a UTF), is UTF-8 Chinese misread: GB18030 reads almost any bytes,
    so a UTF-8 line read in it does not fail to decode, it reads as other characters."""
    if text.isascii() or codecs.lookup(encoding).name.startswith("utf"):
        return False
    try:
        as_utf8 = text.encode(encoding, errors="surrogateescape").decode("utf-8")
    except UnicodeError:
        return False
    return len(_IDEOGRAPH.findall(as_utf8)) >= UTF8_PROOF


def _header_problem(path: Path, problem: str, line: int = 0) -> str:
    """A header that cannot be read, ``problem`` said Chinese first already: the file and line before it."""
    where, english = (f"（第 {line} 行）", f" (line {line})") if line else ("", "")
    return f"{path} 的表头{where}无法读取（the header of {path}{english} cannot be read）：{problem}"


def _not_encoded(path: Path, encoding: str, failure: Failure) -> ValueError:
    """A file in another encoding than the one it is read in, refused whole, naming its first line that is not; said
    Chinese first, as the department's data clerk who saved it from Excel reads it."""
    if failure.message.startswith(_IS_UTF8):
        return ValueError(
            f"{path} 第 {failure.line} 行是 UTF-8 编码，不是 {encoding}：请去掉 --encoding 再导入"
            f"（line {failure.line} of {path} is UTF-8, not {encoding}: import it without --encoding）"
        )
    number = _first_undecodable_line(path, encoding)
    if "utf" not in encoding:
        return ValueError(f"{path} 第 {number} 行不是 {encoding} 编码（line {number} of {path} is not {encoding}）")
    return ValueError(
        f"{path} 第 {number} 行不是 UTF-8 编码：Excel 默认以 GBK 保存中文 CSV，请加 --encoding gb18030，"
        f"或在 Excel 中另存为“CSV UTF-8”（line {number} of {path} is not {encoding}: Excel saves Chinese CSV as GBK; "
        "use --encoding gb18030, or save it as 'CSV UTF-8'）"
    )


_WORKBOOKS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
"""How an Excel workbook begins: .xlsx (a zip archive), .xls (an OLE compound file)."""


def _not_text(path: Path, encoding: str) -> str:
    """Why ``path`` is no text the import reads in ``encoding``, said by how it begins (empty: it may be): an Excel
    workbook, or UTF-16 read in another encoding. Both had been told to add --encoding gb18030, which then failed
    again (a reviewer). UTF-16 is told by its byte order mark, or without one (SQL Server's ``bcp -w``, .NET's
    ``Encoding.Unicode``) by the NULs every other byte of its ASCII header holds, and the exact codec is named: a
    BOM-less file had been given the GBK advice, and ``--encoding utf-16`` then failed on the missing mark. Excel's
    "Unicode 文本" (UTF-16 with TAB-separated columns) is said to be one, whatever the encoding, to be saved as
    "CSV UTF-8": read with ``--encoding utf-16`` as advised, its header was one column and every line failed (a
    reviewer)."""
    with path.open("rb") as handle:
        start = handle.read(1024)
    if start.startswith(_WORKBOOKS):
        return (
            f"{path} 是 Excel 工作簿，不是 CSV 文本：请在 Excel 中另存为“CSV UTF-8”再导入"
            f"（{path} is an Excel workbook, not CSV text: save it as 'CSV UTF-8' in Excel, and import that）"
        )
    codec = _utf16_codec(start)
    if not codec:
        return ""
    first_line = start.decode(codec, errors="replace").lstrip("\ufeff").split("\n", 1)[0]
    if "\t" in first_line and "," not in first_line:
        return (
            f"{path} 是 Excel 的“Unicode 文本”（UTF-16 编码，各列以制表符分隔），不是 CSV："
            f"请在 Excel 中另存为“CSV UTF-8”再导入（{path} is Excel's 'Unicode Text', UTF-16 with TAB-separated "
            "columns, not CSV: save it as 'CSV UTF-8' in Excel, and import that）"
        )
    if codec == "utf-16":
        if codecs.lookup(encoding).name.startswith("utf-16"):
            return ""
        return (
            f"{path} 是 UTF-16 编码：请加 --encoding utf-16，或在 Excel 中另存为“CSV UTF-8”"
            f"（{path} is UTF-16: use --encoding utf-16, or save it as 'CSV UTF-8'）"
        )
    if codecs.lookup(encoding).name == codec:
        return ""
    order = "LE" if codec == "utf-16-le" else "BE"
    return (
        f"{path} 是 UTF-16 {order} 编码，没有字节顺序标记：请加 --encoding {codec}，或另存为“CSV UTF-8”"
        f"（{path} is UTF-16 {order} without a byte order mark: use --encoding {codec}, or save it as 'CSV UTF-8'）"
    )


def _utf16_codec(start: bytes) -> str:
    """The UTF-16 codec ``start`` (a file's first bytes) is in: ``utf-16`` by its byte order mark, ``utf-16-le`` or
    ``utf-16-be`` by the NULs of the ASCII it holds (a header's column names), every other byte, on one side only;
    empty for none. UTF-8 and GB18030 text has no NUL."""
    if start.startswith(codecs.BOM_UTF32_LE):
        return ""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    pairs = len(start) // 2
    if pairs < 4:
        return ""
    even, odd = start[0 : pairs * 2 : 2].count(0), start[1 : pairs * 2 : 2].count(0)
    if odd >= pairs / 2 and even <= pairs / 10:
        return "utf-16-le"
    if even >= pairs / 2 and odd <= pairs / 10:
        return "utf-16-be"
    return ""


def _texts(entry: str | dict[Any, Any]) -> list[Any]:
    return [entry] if isinstance(entry, str) else [*entry.keys(), *entry.values()]


_IS_UTF8 = "该行是 UTF-8 编码"


def _bad_encoding(number: int, encoding: str, *, utf8: bool = False) -> Failure:
    """A line in another encoding than the rest of the file (two exports joined): it fails alone. ``utf8``: it is
    UTF-8 that read as other characters in ``encoding``, not bytes ``encoding`` cannot read."""
    if utf8:
        said = f"{_IS_UTF8}，不是 {encoding}（the line is UTF-8, not {encoding}: read as {encoding}, it is garbled）"
        return Failure(number, "", "BAD_ENCODING", said)
    return Failure(
        number,
        "",
        "BAD_ENCODING",
        f"该行不是 {encoding} 编码，与文件其余部分不同（the line is not {encoding}, unlike the rest of the file: "
        "two files of different encodings joined?）",
    )


def read_records(
    path: Path, fmt: str | None = None, *, encoding: str = ENCODING
) -> Iterator[tuple[int, dict[str, Any] | Failure]]:
    """(line number, record or the failure to read it), for JSON Lines or CSV (chosen by suffix unless given). A
    CSV record's number is the line it begins on (blank lines and values over several lines counted)."""
    for number, entry, _ in _records(path, fmt, encoding):
        yield number, entry


def _records(path: Path, fmt: str | None, encoding: str) -> Iterator[tuple[int, dict[str, Any] | Failure, str]]:
    """``read_records``, with each record's text as it is in the file (``_entries``)."""
    for number, entry, text in _entries(path, fmt, encoding):
        yield number, entry if isinstance(entry, Failure) else _read(number, entry), text


class _GivenTwice(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once: ``json`` keeps a key's last value, and ``{"signer": "王五",
    "signer": ""}`` had been read as an empty signer without a word (a reviewer)."""
    read: dict[str, Any] = {}
    for key, value in pairs:
        if key in read:
            raise _GivenTwice(key)
        read[key] = value
    return read


def _read(number: int, entry: str | dict[Any, Any]) -> dict[str, Any] | Failure:
    """A JSON line or a CSV row as a record; whatever it holds, it fails alone."""
    try:
        # a decimal number as written (12.50, not the float 12.5), as a field's value takes it (records.issue_request)
        record: dict[str, Any] = (
            json.loads(entry, parse_float=decimal.Decimal, object_pairs_hook=_once)
            if isinstance(entry, str)
            else from_csv_row(entry)
        )
    except _GivenTwice as exc:
        said = f"记录中的键 {exc.key} 在同一对象中出现了两次（the key {exc.key} is given twice in one object）"
        return Failure(number, "", "BAD_RECORD", said)
    except json.JSONDecodeError as exc:
        assert isinstance(entry, str)  # a CSV row is never decoded as JSON
        if exc.pos >= len(entry.rstrip("\r\n")):  # Python calls a line cut inside a string "Invalid control character"
            return Failure(
                number,
                "",
                "BAD_JSON",
                "不是 JSON：记录在行尾中断，可能被截断（not JSON: the line ends inside the record (cut short?)）",
            )
        # some of Python's messages end in "at" ("Invalid control character at"), which the column completes
        return Failure(
            number,
            "",
            "BAD_JSON",
            f"不是 JSON：第 {exc.colno} 列有误（not JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}）",
        )
    except RecordError as exc:
        return Failure(number, exc.field, exc.reason, str(exc))
    except Exception as exc:  # e.g. a number of 5,000 digits, arrays nested 50,000 deep
        reason = "BAD_JSON" if isinstance(entry, str) else "BAD_RECORD"
        said = f"{type(exc).__name__}: {exc}"
        return Failure(number, "", reason, f"无法读取（cannot be read: {said}）")
    return record


def _entries(path: Path, fmt: str | None, encoding: str) -> Iterator[tuple[int, str | dict[Any, Any] | Failure, str]]:
    """The file's records before they are read: (line number, a JSON line, a CSV row by column, or a record too
    large to read; the record's text as it is in the file, without its line end: empty for one too large, never
    kept). A CSV row with more cells than the header has columns keeps the rest under None; one with fewer is a
    failure."""
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if problem := _not_text(path, encoding):
        raise ValueError(problem)
    # bytes the encoding cannot read are kept as lone surrogates: the record holding them fails (BAD_ENCODING),
    # or, when no text before read, the file is refused whole (``count_records``)
    with path.open(encoding=_decoding(encoding), errors="surrogateescape", newline="") as handle:
        if fmt != "csv":
            for number, (line, length, _) in enumerate(_lines(handle, MAX_RECORD_CHARS), start=1):
                text = "" if line is None else line.rstrip("\r\n")
                if line is None:
                    yield number, Failure(number, "", "RECORD_TOO_LARGE", _too_large(number, number, length)), text
                elif _utf8_misread(line, encoding):  # whether its bytes read in the encoding or not
                    yield number, _bad_encoding(number, encoding, utf8=True), _as_utf8(text, encoding)
                elif _UNDECODABLE.search(line):
                    yield number, _bad_encoding(number, encoding), text
                elif line.strip():
                    yield number, line, text
            return
        lines = _CsvLines(handle, MAX_RECORD_CHARS)
        # strict: a quoted value that never ends is an error, not the rest of the file read into one cell
        reader = csv.reader(lines, strict=True)
        header: list[str] | None = None
        while True:
            lines.start_record()
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if lines.ended:  # the file ended inside a quoted value: its rows after the quote are in that cell
                    raise ValueError(_unclosed(path, lines.quote_opened())) from exc
                said = f"不是 CSV（not CSV: {exc}）"
                if lines.number > lines.first:  # a stray quote a later row's quoted cell closed: the rows between
                    # were read into its cell, and had been said as this line alone, neither quote nor rows named
                    first, last, opened = lines.first, lines.number, lines.quote_opened()
                    said = (
                        f"第 {first}–{last} 行被读作一条记录：第 {opened} 行的引号在单元格末尾之后才闭合，"
                        f"其间各行被读入该单元格，请补上引号或删去它（lines {first}-{last} were read as one record: "
                        f"the quote opened on line {opened} is closed only later, and the lines between were read "
                        f"into its cell; close the quote or remove it; not CSV: {exc}）"
                    )
                failure = Failure(lines.first, "", "BAD_CSV", said)
            else:
                if lines.too_large:
                    failure = Failure(
                        lines.first, "", "RECORD_TOO_LARGE", _too_large(lines.first, lines.number, lines.length)
                    )
                elif not any(cell.strip() for cell in row):  # a blank line, or a row of empty cells (,,,, from Excel)
                    continue
                elif _utf8_misread("".join(row), encoding):
                    failure = _bad_encoding(lines.first, encoding, utf8=True)
                elif any(_UNDECODABLE.search(cell) for cell in row):
                    failure = _bad_encoding(lines.first, encoding)
                elif header is None:
                    # a title in A1, the row's other cells empty, as Excel writes it (,,,): a row of one cell (a JSON
                    # line read as CSV) is left to the header's check, as it was
                    filled = sum(bool(cell.strip()) for cell in row)
                    if len(row) > 1 and filled == 1 and not any(map(known_column, row)):
                        title, at = next(cell.strip() for cell in row if cell.strip()), lines.first
                        said = _title_row(title, at, _header_after(reader, lines))
                        raise ValueError(_header_problem(path, said, at))
                    if problem := csv_header_problem(row):  # said once, before any row is sent
                        raise ValueError(_header_problem(path, problem, lines.first))
                    header = row
                    continue
                elif len(row) < len(header):  # said as such, not as every field of the missing cells REQUIRED
                    failure = Failure(
                        lines.first,
                        "",
                        "BAD_RECORD",
                        f"该行只有 {len(row)} 个单元格，少于表头的 {len(header)} 列，空单元格也须写出（the row has "
                        f"{counted(len(row), 'cell')}, fewer than the header's {counted(len(header), 'column')}: "
                        "an empty cell is still written, between its commas）",
                    )
                else:
                    cells: dict[Any, Any] = dict(zip(header, row, strict=False))
                    if len(row) > len(header):
                        cells[None] = row[len(header) :]
                    yield lines.first, cells, lines.text
                    continue
            if header is None:
                if failure.reason == "BAD_ENCODING":
                    raise _not_encoded(path, encoding, failure)
                raise ValueError(_header_problem(path, failure.message, lines.first))
            utf8 = failure.reason == "BAD_ENCODING" and failure.message.startswith(_IS_UTF8)
            yield lines.first, failure, _as_utf8(lines.text, encoding) if utf8 else lines.text


HEADER_SOUGHT = 20
"""How many rows after a title row (``_title_row``) are looked at for the header."""


def _header_after(reader: Iterator[list[str]], lines: _CsvLines) -> int:
    """The line of the first of the next ``HEADER_SOUGHT`` rows that names a record's column (0: none)."""
    for _ in range(HEADER_SOUGHT):
        lines.start_record()
        try:
            row = next(reader)
        except (StopIteration, csv.Error):
            return 0
        if any(map(known_column, row)):
            return lines.first
    return 0


def _title_row(title: str, line: int, header: int) -> str:
    """A first row of one filled cell naming no column, a 台账's title in A1 above its header: every line had failed
    with ``unknown keys: , 2024年…`` and the header line itself had counted as a failed record (a reviewer)."""
    title = title if len(title) <= 40 else title[:40] + "…"
    zh, en = "表头须为文件的第一行", "the header must be the file's first line"
    if header:
        zh, en = f"第 {header} 行像是表头", f"line {header} looks like the header"
    zh, en = f"{zh}，请删去其上的行", f"{en}: remove the lines above it"
    return (
        f"第 {line} 行不是表头，像是标题行（{title}）：其中没有任何已知的列；{zh}"
        f"（line {line} is no header but a title, it seems ({title}): it names no known column; {en}）"
    )


def _unclosed(path: Path, line: int) -> str:
    """A CSV file ending inside a quoted value opened on ``line``: refused whole, as every row after it would be
    that cell's text (a 经营范围 typed as ``"食品生产`` had been sealed with the rows after it, other holders' names
    and codes, as its content, and those rows were never issued nor named; a reviewer)."""
    return (
        f"{path} 第 {line} 行的引号未闭合，直到文件末尾：其后各行都会被读作该单元格的内容，请补上引号或删去它"
        f"（line {line} of {path} opens a quote that is never closed: every line after it would be read into that "
        "cell; close the quote or remove it）"
    )


def _as_utf8(text: str, encoding: str) -> str:
    """A record ``_utf8_misread`` found, as the file holds it: its bytes read as UTF-8 (the failures file had kept
    the misreading, 娴庡崡… for 济南…; a reviewer)."""
    return text.encode(encoding, errors="surrogateescape").decode("utf-8", errors="replace")


LABELS_SECONDS = 10.0
"""How long the import waits for the catalog's labels (``field_labels``)."""


def field_labels(channel_factory: Callable[[], grpc.Channel]) -> dict[str, dict[str, list[str]]]:
    """The columns each label of the gateway's catalog names (生产者名称: ``fields.producer_name``; a field's form
    labels too, and a type's label of its number: 许可证编号, ``license_number``), asked once (``ListLicenseTypes``)
    for ``csv_header_problem``: the import knows no catalog of its own. Empty when the gateway does not answer: the
    header's check is then as without it, and the import says what the gateway does. Label: {column: the types whose
    label it is}, so that a row fills a label's column only of its own type (a 备注 filled in a 食品生产许可证's row
    is not the 结婚证's remarks; it had refused the whole file, naming a column that type has not; a reviewer)."""
    try:
        with channel_factory() as channel:
            catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
            listed = catalog.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=LABELS_SECONDS)
    except grpc.RpcError:
        return {}
    labels: dict[str, dict[str, list[str]]] = {}
    for license_type in listed.license_types:
        named = [(license_type.license_number_label, "license_number")]
        named += [(label, f"fields.{f.key}") for f in license_type.fields for label in (f.label, *f.form_labels)]
        for label, column in named:
            if label:
                types = labels.setdefault(label, {}).setdefault(column, [])
                if license_type.type_code not in types:
                    types.append(license_type.type_code)
    return {label: dict(sorted(columns.items())) for label, columns in labels.items()}


def _too_large(first: int, last: int, length: int) -> str:
    where = f"line {first} is" if first == last else f"the record on lines {first}-{last} is"
    lines = f"第 {first} 行" if first == last else f"第 {first}-{last} 行的记录"
    return (
        f"{lines}有 {length} 个字符，超过一条记录的上限 {MAX_RECORD_CHARS}，未读取，请检查其内容"
        f"（{where} {length} characters, more than a record may have, {MAX_RECORD_CHARS}: not read; check what it "
        "holds）"
    )


def _lines(handle: TextIO, limit: int) -> Iterator[tuple[str | None, int, int]]:
    """Each line of ``handle`` as (the line with its end, or None when it is longer than ``limit`` characters; its
    length; its number of double quotes). A longer line is read through in pieces and never kept whole."""
    piece = handle.readline(limit + 1)
    while piece:
        if len(piece) <= limit:  # readline stopped at the line's end (or the file's)
            yield piece, len(piece), piece.count('"')
            piece = handle.readline(limit + 1)
            continue
        length = quotes = 0
        while True:
            length += len(piece)
            quotes += piece.count('"')
            ended = len(piece) <= limit or piece.endswith("\n")
            cut = not ended and piece.endswith("\r")  # "\r" ends a line, and the "\n" of a "\r\n" may come next
            piece = handle.readline(limit + 1)
            if cut and piece == "\n":
                length += 1
                piece = handle.readline(limit + 1)
            if ended or cut:
                break
        yield None, length, quotes


class _CsvLines:
    """The lines of a CSV file as csv.reader takes them (it asks for a record's lines only as it reads the record),
    a record at most ``limit`` characters. The lines of a longer record are not passed on: each is replaced by a
    stand-in that leaves the parser where the line would have, by its number of quotes: ``"`` for an odd number (into
    a quoted value or out of it), a blank line for an even number at a record's start, nothing within a quoted value.
    So the parser never holds more than ``limit`` characters, and the records after it are read as they are."""

    def __init__(self, handle: TextIO, limit: int) -> None:
        self._lines = _lines(handle, limit)
        self._limit = limit
        self.number = 0
        """Lines read."""
        self.first = 1
        """The line the record being read begins on."""
        self.length = 0
        """Its characters so far."""
        self.too_large = False
        self.ended = False
        """Whether the file's last line was read."""
        self._text: list[str] = []
        self._odd = (False, 0)  # whether the record's quotes so far are odd, and the line that made them so

    @property
    def text(self) -> str:
        """The record's text as it is in the file, without its last line's end (empty for one too large)."""
        return "" if self.too_large else "".join(self._text).rstrip("\r\n")

    def start_record(self) -> None:
        self.first, self.length, self.too_large = self.number + 1, 0, False
        self._text.clear()
        self._odd = (False, 0)

    def quote_opened(self) -> int:
        """The line the record's last quoted value opens on, the file having ended inside it: a value opens with a
        quote at a cell's start (a quote in a cell's middle, an inch mark, is text), ``""`` within it is a quote. For
        a record too large to keep, the line whose quotes left it open, counted by their number."""
        if self.too_large:
            return self._odd[1] or self.first
        opened, inside, closing, at_start = self.first, False, False, True
        for number, line in enumerate(self._text, start=self.first):
            for char in line:
                if inside:
                    if closing:  # the quote before closed the value, or was the first of a ""
                        closing, inside = False, char == '"'
                        if inside:
                            continue
                    elif char == '"':
                        closing = True
                        continue
                    else:
                        continue
                if char == '"' and at_start:
                    inside, opened = True, number
                at_start = char in ",\r\n"
        return opened

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        while True:
            try:
                line, length, quotes = next(self._lines)
            except StopIteration:
                self.ended = True
                raise
            self.number += 1
            if quotes % 2:
                self._odd = (not self._odd[0], self.number)
            self.length += length
            if line is not None and not self.too_large and self.length <= self._limit:
                self._text.append(line)
                return line
            self.too_large = True
            self._text.clear()
            if quotes % 2:
                return '"\n'
            if self.number == self.first:
                return "\n"


def _first_undecodable_line(path: Path, encoding: str) -> int:
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 1
    with path.open("rb") as handle:
        while piece := handle.readline(1 << 16):
            try:
                decoder.decode(piece)
            except UnicodeDecodeError:
                return number
            number += piece.endswith(b"\n")
    return number


class _GatewayClock:
    """How far the gateway's clock is ahead of this one, bounded by the licenses this import was answered it created:
    each was created (``License.created_at``, the gateway's time) after its line was sent and before its answer came.

    A line sent again after a stream that may have lost its answer is answered as already there whether this run
    issued it (its answer lost with the connection) or it was there before: its license created after the line was
    first sent, by the gateway's clock, is this run's; one created before, there before. Such lines had all been
    said present before this run, up to the whole read-ahead (a reviewer: 新签发 7000 件，此前已有 1000 件 of 8,000
    new lines).
    The bounds are as wide as the quickest answer took, so a license created within that of its line's sending
    cannot be placed: it is counted apart (``ImportReport.answers_lost``), as is every one before any license created
    was answered."""

    def __init__(self) -> None:
        self.least = -math.inf
        self.most = math.inf
        self.replays: list[tuple[float, float]] = []
        """When each line sent again was first sent (this clock) and its license created (the gateway's)."""

    def created(self, license: Any, sent: float, answered: float) -> None:
        """A license this import created, its line last sent at ``sent`` and answered at ``answered``."""
        created_at = _created_at(license)
        if not math.isnan(created_at):
            self.least = max(self.least, created_at - answered)
            self.most = min(self.most, created_at - sent)

    def replayed(self, license: Any, sent: float) -> None:
        """A line first sent at ``sent``, sent again, answered as already there: counted by ``settle``."""
        self.replays.append((sent, _created_at(license)))

    def settle(self, report: ImportReport) -> None:
        """Count the lines sent again and answered as already there: created, existing or ``answers_lost``."""
        for sent, created_at in self.replays:  # a license without its time (NaN) is placed nowhere
            if created_at >= sent + self.most:  # created after the line was sent, whatever the clocks' offset
                report.created += 1
            elif created_at < sent + self.least:  # created before it was sent
                report.existing += 1
            else:
                report.answers_lost += 1
        self.replays.clear()


def _created_at(license: Any) -> float:
    """When ``license`` was created, in seconds by the gateway's clock; NaN when the answer does not say."""
    created = license.created_at
    return created.seconds + created.nanos / 1e9 if license.HasField("created_at") else math.nan


class _SeenRequests:
    """The requests sent by an import, each by a 12-byte digest of its bytes, with the line it was first read on, in an
    open-addressed table of two flat arrays: 16 bytes a slot, at most three slots a request (64 MB for a file of 2
    million lines, 96 MB as it grows; a set of Python ``bytes`` would take more, without the lines)."""

    DIGEST = 12

    def __init__(self) -> None:
        self._allocate(1 << 12)

    def _allocate(self, slots: int) -> None:
        self._slots = slots
        self._digests = bytearray(self.DIGEST * slots)
        wide = getattr(self, "_lines", array("I")).typecode
        self._lines = array(wide, [0]) * slots  # 0: an empty slot (lines count from 1)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @classmethod
    def digest(cls, request: issuance_pb2.IssueLicenseRequest) -> bytes:
        return hashlib.blake2b(request.SerializeToString(deterministic=True), digest_size=cls.DIGEST).digest()

    def first(self, digest: bytes, line: int) -> int:
        """The line a request of ``digest`` was first read on; 0 when none was, ``line`` then remembered as its."""
        size, mask, lines, digests = self.DIGEST, self._slots - 1, self._lines, self._digests
        slot = int.from_bytes(digest, "little") & mask
        while seen := lines[slot]:
            at = slot * size
            if digests[at : at + size] == digest:
                return seen
            slot = (slot + 1) & mask
        self._digests[slot * size : (slot + 1) * size] = digest
        if line > 0xFFFF_FFFF and self._lines.typecode == "I":  # past 4 billion lines (blank ones count)
            self._lines = array("Q", self._lines)
        self._lines[slot] = line
        self._count += 1
        if self._count * 3 > self._slots * 2:  # at most two thirds full
            self._grow()
        return 0

    def _grow(self) -> None:
        digests, lines, size = self._digests, self._lines, self.DIGEST
        self._allocate(self._slots * 2)
        for slot, line in enumerate(lines):
            if line:
                self.first(bytes(digests[slot * size : (slot + 1) * size]), line)


def _repeat(number: int, first: int) -> Failure:
    """A line whose request is the same as line ``first``'s: not sent again."""
    return Failure(
        number,
        "",
        "DUPLICATE_LINE",
        f"与第 {first} 行相同，未再发送（the same as line {first}: not sent again）",
    )


class _Line:
    """A line read and not yet answered: its number, request and text (for the failure file), and when the message
    carrying it was first handed to gRPC (0: never) and on which stream last."""

    __slots__ = ("handed", "number", "request", "sent", "stream", "text")

    def __init__(self, number: int, request: issuance_pb2.IssueLicenseRequest, text: str) -> None:
        self.number, self.request, self.text = number, request, text
        self.sent = 0.0
        """When first handed to gRPC, by this clock (``time.time``, as ``_GatewayClock`` takes it); 0: never."""
        self.handed = 0.0
        """The same, by ``time.monotonic`` (the wait for its answer)."""
        self.stream = 0


_IDLE = None
"""What the lines to send give for a line read that gave no request (it failed): ``_messages`` may then send a
message partly filled (``FLUSH_SECONDS``)."""


def import_file(
    path: Path,
    channel_factory: Callable[[], grpc.Channel],
    *,
    fmt: str | None = None,
    encoding: str = ENCODING,
    progress: Callable[[int], None] | None = None,
    message_bytes: int = MESSAGE_BYTES,
    reconnecting: Callable[[grpc.RpcError], None] | None = None,
    failure_file: FailureFile | None = None,
) -> ImportReport:
    """Import ``path``; ``progress`` is called with the number of lines answered since the last call; every failed
    line is written to ``failure_file`` as it is found.

    The file is read as it is sent, so its size does not matter; only the requests sent and not yet answered are
    kept, to be sent again after a reconnect (with their records' text, for the failure file), and the failures of
    the first lines (``KEPT_FAILURES``). Requests go ``ITEMS_PER_MESSAGE`` to a message, fewer when they would take
    more than ``message_bytes``; a request larger than that alone fails as ``RECORD_TOO_LARGE``. An import whose
    failure file cannot be written on stops (``ImportStopped``): it would lose the failures it had promised to keep.
    """
    report = ImportReport()
    started = time.perf_counter()
    failures = _Failures(report, failure_file)
    inflight: deque[_Line] = deque()
    """The lines read and not answered, in order: those sent first, then those waiting for their message."""
    gateway_clock = _GatewayClock()
    stream_began = [0.0]  # when the current stream was made: its lines sent again were sent after it
    unsure_through = 0  # the last line read when a stream ended in a way that may have lost answers of lines issued
    own_errors: list[Exception] = []  # the import's own, from the request stream (another thread): raised after it
    waiting = [time.monotonic()]  # the last answer (or the start): lines sent wait from it, or from their sending
    connected = [False]  # a call made a connection, or may have: the lines it sent may have reached a gateway
    unanswering = threading.Event()  # the gateway answered nothing for ANSWER_SECONDS: the call was cancelled

    def fail(failure: Failure, record: str) -> None:
        failures.add([failure], record)
        if progress:
            progress(1)

    read_through = [False]  # the file was read to its end: the import is complete only then, all lines answered
    seen = _SeenRequests()

    def readable() -> Iterator[_Line | None]:
        """The lines to send, and ``_IDLE`` for each that failed; an error that ends the reading ends them, so the ones
        before still go."""
        try:
            for number, item, text in _records(path, fmt, encoding):
                if report.stopped:  # interrupted: what the call's thread reads on was never sent
                    return
                if failure_file and failure_file.error:
                    raise failure_file.error
                # a line is counted read as it is accounted for (failed, a repeat, or waiting for its answer), next
                # to that: the main thread, summing up, had counted a line being made a request as read and not
                # among those sent
                request = item if isinstance(item, Failure) else _request(number, item, message_bytes)
                if isinstance(request, Failure):
                    report.lines += 1
                    fail(request, text)
                    yield _IDLE  # a message partly filled may have waited long enough
                    continue
                if first := seen.first(_SeenRequests.digest(request), number):  # the same as an earlier line
                    report.lines += 1
                    report.duplicates += 1
                    if len(report.repeats_named) < REPEATS_NAMED:
                        report.repeats_named.append((number, first))
                    failures.add([_repeat(number, first)], text, listed=False)
                    if progress:
                        progress(1)
                    yield _IDLE
                    continue
                line = _Line(number, request, text if failure_file else "")
                report.lines += 1
                inflight.append(line)
                yield line
            read_through[0] = True
        except Exception as exc:
            own_errors.append(exc)

    source = readable()
    reading = threading.Lock()
    """Held while a stream's request thread reads the file: a dropped stream's thread finishes the read it is in
    before it notices the end (a line slow to read), and the next stream's had read the file at the same time
    ("generator already executing"), or had taken its lines to send again before the old thread added its last, which
    were then never sent and later answers paired with the wrong lines (a reviewer)."""
    streams = [0]
    """The stream whose request thread may read the file: the last made, numbered by the main thread as it makes the
    call. It had been numbered by the request thread as it began: an attempt answered UNAVAILABLE at once (the
    database still restarting), whose thread began after the next attempt's, took the file from the stream that had
    connected, which stopped reading, and the import ended "complete", exit 0, up to half the file never sent (a
    reviewer)."""

    def read_on(stream: int) -> Iterator[_Line | None]:
        """The lines read for ``stream``, until it is no longer the current one: a stream's lines sent and not
        answered are sent again by the next one, which takes them once the stream before stopped reading."""
        while True:
            with reading:
                if streams[0] != stream:
                    return
                try:
                    line = next(source)
                except StopIteration:  # the file's end
                    return
            yield line

    def handed(stream: int) -> Callable[[list[_Line]], None]:
        def mark(lines: list[_Line]) -> None:
            """``lines``' message is handed to gRPC on ``stream``: their wait for an answer begins."""
            sent, now = time.time(), time.monotonic()
            for line in lines:
                if not line.sent:
                    line.sent, line.handed = sent, now
                line.stream = max(line.stream, stream)  # a stream dropped may hand its last message after

        return mark

    def requests(stream: int) -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
        # An error here would make gRPC cancel the call, as if the gateway had answered UNKNOWN: it ends the stream
        # instead, the answers to what was sent are read, and it is raised as the import's own.
        try:
            with reading:  # the lines the streams before read, all of them
                if streams[0] != stream:  # a stream made after it is the current one: it sends nothing
                    return
                again = list(inflight)
            yield from _messages(again, message_bytes, handed=handed(stream))  # unanswered: again
            yield from _messages(read_on(stream), message_bytes, handed=handed(stream))
        except Exception as exc:
            own_errors.append(exc)

    ctrl_c = _CtrlC()
    done = threading.Event()
    calls: list[grpc.Future] = []

    def watch() -> None:
        """Cancel the call once lines sent wait ``ANSWER_SECONDS`` for an answer, from the last answer or the first
        sending of the oldest line sent and not answered, whichever is later: a gateway that answers nothing (its host
        frozen, the connection there) had the import wait for ever. Lines read and not yet sent (their message not
        full, the lines after them failing in the import) do not wait for the gateway."""
        while not done.wait(min(1.0, ANSWER_SECONDS / 4)):
            try:
                oldest = inflight[0]
            except IndexError:  # nothing waits
                continue
            if oldest.stream != streams[0] or not calls:  # not sent on the current stream: nothing of it waits
                continue
            if time.monotonic() - max(waiting[0], oldest.handed) > ANSWER_SECONDS:
                unanswering.set()
                calls[-1].cancel()
                return

    threading.Thread(target=watch, name="import-watch", daemon=True).start()
    try:
        with ctrl_c:
            attempt, answered_at = 0, time.monotonic()
            waited_for_stream = False  # the last attempt was refused a stream as full
            while True:
                channel = channel_factory()
                stream_began[0] = time.time()
                streams[0] += 1  # from now on, the streams before read and send no more (not under ``reading``:
                # the main thread never waits for a read in progress)
                try:
                    call = issuance_pb2_grpc.IssuanceServiceStub(channel).BatchIssueLicenses(requests(streams[0]))
                    ctrl_c.cancels(call)
                    calls[:] = [call]
                    for reply in call:
                        connected[0] = True
                        held: list[tuple[int, Any, str]] = []  # refusals that may hold for the import
                        answered = time.time()
                        for result in reply.results:
                            line = inflight.popleft()
                            number, text, sent = line.number, line.text, line.sent
                            if result.HasField("error") and result.error.reason in ITEM_REFUSALS_FOR_GOOD:
                                held.append((number, result, text))
                            elif number <= unsure_through and result.HasField("license") and not result.created:
                                gateway_clock.replayed(result.license, sent)  # this run's, or there before
                            else:
                                if result.created:
                                    gateway_clock.created(result.license, max(sent, stream_began[0]), answered)
                                if failed := _record(report, number, result):
                                    failures.add(failed, text)
                        refusals: list[Any] = []
                        for number, result, text in held:  # for good only while no line at all was taken, this
                            failed = _record(report, number, result)  # reply's included (its first line may be
                            if report.answered or gateway_clock.replays:  # the odd one)
                                failures.add(failed, text)
                            else:
                                report.refused += 1
                                report.first_refused = report.first_refused or number
                                refusals.append(result.error)
                                failures.add(failed, text, listed=False)  # said once on the console, each in the file
                        attempt, answered_at = 0, time.monotonic()
                        waiting[0] = answered_at
                        if progress:
                            progress(len(reply.results))
                        if refusals:  # every line would be refused alike: the first ends the import, said once
                            report.stopped = REFUSED  # the lines read on are not sent
                            call.cancel()
                            raise ItemRefusal(refusals[0])
                    break
                except grpc.RpcError as exc:
                    connected[0] = connected[0] or not _unconnected(exc)
                    if ctrl_c.pressed:
                        raise KeyboardInterrupt from exc
                    if unanswering.is_set() and exc.code() == grpc.StatusCode.CANCELLED:  # the watch's, not an answer
                        raise NoAnswer(ANSWER_SECONDS) from exc
                    pause = min(2.0**attempt * 0.2, RECONNECT_PAUSE_MOST)
                    full = streams_full(exc)  # refused as it opened: no line taken
                    if full:
                        waiting[0] = time.monotonic()  # answered: the lines sent do not wait for the gateway
                    if time.monotonic() + pause - answered_at > (STREAM_WAIT_SECONDS if full else RECONNECT_SECONDS):
                        raise
                    if not full and exc.code() != grpc.StatusCode.UNAVAILABLE:
                        raise
                    if not full and _reason_of(exc) not in _ANSWERED_ALL and inflight:
                        unsure_through = max(unsure_through, inflight[-1].number)
                    if reconnecting is not None and (attempt == 0 or full != waited_for_stream):
                        reconnecting(exc)  # once an outage, and as it turns to waiting for a stream or back
                    waited_for_stream = full
                    attempt += 1
                    time.sleep(pause)
                    if ctrl_c.pressed:  # taken during the pause: no call begun to be cancelled, so an import that
                        # never connected is said so (a cancelled call may have connected: a reviewer, batch R1)
                        raise KeyboardInterrupt from exc
                finally:
                    channel.close()
    except KeyboardInterrupt as exc:
        if not connected[0]:  # interrupted while reconnecting to no gateway: none of the lines reached one; they had
            # been said 已发送未答复（可能已签发）, the address never questioned (a reviewer, batch R1)
            report.connected, report.unanswered_not_issued = False, True
        _finish(report, failures, gateway_clock, inflight, started, "interrupted")
        raise ImportInterrupted(report, ctrl_c.signum) from exc
    except grpc.RpcError as exc:  # the gateway's answer ended it: what was committed before is said too
        if isinstance(exc, ItemRefusal) or exc.code() in _FOR_GOOD:
            stopped = REFUSED  # the call refused: none of the lines it left unanswered issued, if none was unsure
            unsure = bool(inflight) and inflight[0].number <= unsure_through
            report.unanswered_not_issued = not isinstance(exc, ItemRefusal) and not unsure
        elif streams_full(exc):
            stopped = STREAMS_FULL  # its streams took nothing: none of the lines unanswered issued, if none was unsure
            report.unanswered_not_issued = not inflight or inflight[0].number > unsure_through
        elif exc.code() == grpc.StatusCode.UNAVAILABLE and not _reason_of(exc):  # no gateway answered at all
            stopped = UNREACHABLE  # and if no call ever connected, none of the lines reached a gateway
            report.connected, report.unanswered_not_issued = connected[0], not connected[0]
        elif exc.code() == grpc.StatusCode.UNAVAILABLE and _reason_of(exc) == "CATALOG_CHANGED":
            stopped = CATALOG_CHANGED  # it refused the lines not answered: none of them issued, if none was unsure
            report.unanswered_not_issued = not inflight or inflight[0].number > unsure_through
        elif exc.code() == grpc.StatusCode.UNAVAILABLE:  # a gateway answered, unable to go on for now
            stopped = UNAVAILABLE
        else:
            stopped = "stopped by the gateway"
        _finish(report, failures, gateway_clock, inflight, started, stopped)
        raise ImportRefused(exc, report) from exc
    finally:
        done.set()
    if failure_file and failure_file.error and not own_errors:  # an answer's failure, after the file was all read
        own_errors.append(failure_file.error)
    if not own_errors and (inflight or not read_through[0]):  # never "complete" with lines not sent or not answered
        unread, unanswered = not read_through[0], len(inflight)
        own_errors.append(
            RuntimeError(
                "调用已结束，但文件的行未全部发送并得到回答"
                f"（{'文件未读完；' if unread else ''}{unanswered} 行已发送而未得到回答）"
                f"（the call ended, but the file's lines were not all sent and answered: "
                f"{'the file not read to its end; ' if unread else ''}{unanswered} sent and not answered）"
            )
        )
    if own_errors:
        error = own_errors[0]
        _finish(report, failures, gateway_clock, inflight, started, "stopped by an error of the import itself")
        raise ImportStopped(
            f"读取 {path} 的 {report.lines} 行后，导入程序自身出错而停止，不是证照网关的问题"
            f"（stopped after {counted(report.lines, 'line')} of {path} by an error of the import itself, not the "
            "gateway's）："
            f"{type(error).__name__}: {error}",
            report,
        ) from error
    _finish(report, failures, gateway_clock, inflight, started, "")
    return report


def streams_full(error: grpc.RpcError) -> bool:
    """Whether ``error`` refused a stream as it opened because the member's or the process's are all open."""
    return error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and _reason_of(error) in STREAMS_FULL_REASONS


_NO_CONNECTION = ("failed to connect to all addresses", "errors resolving ", "DNS resolution failed")
"""How gRPC's UNAVAILABLE begins for a call that never had a connection to send on (its channel found no address it
could connect to, or none at all): nothing listening, a connection closed in its handshake (a TLS gateway asked in
plaintext, a plaintext one in TLS, a client certificate refused), a host name not found. A stream that was connected
and broke says otherwise (``Socket closed``, ``Stream removed``)."""


def _unconnected(error: grpc.RpcError) -> bool:
    """Whether ``error`` ended a call that never had a connection, so nothing it sent reached a gateway. Any other
    end (a stream broken, the import's own cancel, a gateway's answer) may have come after lines were taken."""
    if error.code() != grpc.StatusCode.UNAVAILABLE or _reason_of(error):
        return False
    return (error.details() or "").startswith(_NO_CONNECTION)


def _reason_of(error: grpc.RpcError) -> str:
    """The stable reason (``google.rpc.ErrorInfo``) a gateway's answer carries; empty for none (no gateway answered:
    gRPC's own UNAVAILABLE for a connection that failed)."""
    from grpc_status import rpc_status

    try:
        status = rpc_status.from_call(error)
    except ValueError:  # a status that contradicts its details: not a gateway's
        return ""
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


class _CtrlC:
    """Ctrl-C during the stream, taken as a request to stop rather than raised wherever the main thread happens to be:
    a KeyboardInterrupt raised inside gRPC's or the progress bar's locking could leave the command frozen until a
    second Ctrl-C (seen once in ~45 runs). The first Ctrl-C cancels the call from a thread of its own, and the reading
    of answers ends in the caller's thread as an interruption; a second one raises at once. SIGTERM (``kill``,
    ``timeout``, a service manager's stop) is taken alike: it ended the command with nothing said of what was
    committed. Off the main thread (no signals there), or where a signal is ignored, it does nothing. A freeze after
    the summary, as the interpreter exits, is another: gRPC's threads and the call's ``__del__`` (``zzgw import`` ends
    without finalizing: ``gateway.cli._end_at_once``)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.pressed = False
        self.signum: int = signal.SIGINT
        self._calls: list[grpc.Future] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _CtrlC:
        # a command started in the background by a script ignores SIGINT (the shell set it so): it keeps doing so
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                if signal.getsignal(signum) != signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._pressed)
        return self

    def __exit__(self, *_: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)

    def cancels(self, call: grpc.Future) -> None:
        self._calls = [call]
        if self.pressed:
            call.cancel()

    def _pressed(self, signum: int, frame: object) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed, self.signum = True, signum
        for call in self._calls:
            threading.Thread(target=call.cancel, name="import-cancel", daemon=True).start()


def _request(number: int, record: dict[str, Any], message_bytes: int) -> issuance_pb2.IssueLicenseRequest | Failure:
    """The request for a record read from line ``number``, or why there is none: whatever a record holds, it fails
    alone."""
    try:
        request = issue_request(record)
        if not request.request_id:
            digest = hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
            request.request_id = "import-" + digest[:40]
        size = _item_bytes(request)
    except RecordError as exc:
        return Failure(number, exc.field, exc.reason, str(exc))
    except Exception as exc:  # a record this code did not foresee fails alone, said as it is
        said = f"{type(exc).__name__}: {exc}"
        return Failure(number, "", "BAD_RECORD", f"无法生成请求（cannot be made a request: {said}）")
    if size > message_bytes:
        return Failure(
            number,
            "",
            "RECORD_TOO_LARGE",
            f"其请求有 {size} 字节，超过一条消息的上限 {message_bytes}，未发送"
            f"（its request is {size} bytes, more than a message carries, {message_bytes}: not sent）",
        )
    return request


def _item_bytes(request: issuance_pb2.IssueLicenseRequest) -> int:
    """What ``request`` adds to a message: itself, its field's tag and its length (a varint)."""
    size = request.ByteSize()
    return size + 1 + (size.bit_length() + 6) // 7


def _messages(
    lines: Iterable[_Line | None],
    message_bytes: int,
    *,
    handed: Callable[[list[_Line]], None] | None = None,
) -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
    """The stream messages of ``lines``' requests, ``ITEMS_PER_MESSAGE`` to a message and at most ``message_bytes``;
    each message's lines are given to ``handed`` as it is handed on. A message partly filled is sent once its first
    line has waited ``FLUSH_SECONDS`` (``_IDLE``: a line read that gave no request)."""
    group: list[_Line] = []
    size = 0
    began = 0.0

    def message() -> issuance_pb2.BatchIssueLicensesRequest:
        if handed is not None:
            handed(group)
        return issuance_pb2.BatchIssueLicensesRequest(licenses=[line.request for line in group])

    for line in lines:
        if line is not None:
            item = _item_bytes(line.request)
            if group and size + item > message_bytes:
                yield message()
                group, size = [], 0
            if not group:
                began = time.monotonic()
            group.append(line)
            size += item
        if len(group) == ITEMS_PER_MESSAGE or (group and time.monotonic() - began >= FLUSH_SECONDS):
            # sent at once: the next line may be long in coming (a pipe, a run of lines failing in the import)
            yield message()
            group, size = [], 0
    if group:
        yield message()


def _finish(
    report: ImportReport,
    failures: _Failures,
    gateway_clock: _GatewayClock,
    inflight: Iterable[_Line],
    started: float,
    stopped: str,
) -> None:
    report.stopped = stopped  # the file is read on no further
    gateway_clock.settle(report)
    sent = sum(1 for line in list(inflight) if line.sent)  # the others were read and never handed to gRPC
    report.unsent = max(0, report.unanswered - sent) if stopped else 0
    report.failures = failures.kept()
    report.seconds = time.perf_counter() - started


_REFUSED_FIELDS = {
    "LICENSE_NUMBER_TAKEN": "license_number",
    "NOT_AUTHORITATIVE_ISSUER": "type_code",
    "SERIAL_TAKEN": "serial",
    "REQUEST_ID_REUSED": "request_id",
}
"""Refusals without field violations that are about one field of the line: a number another current license has
(it had been listed with the field ``-``; found by a tester), a serial another license has, a request_id an earlier
line of other content took (listed with ``-`` too; a reviewer)."""


def _record(report: ImportReport, number: int, reply: issuance_pb2.BatchItemResult) -> list[Failure]:
    """Count a line's answer: issued, already present, or its failures, returned (empty for none)."""
    if reply.HasField("error"):
        error = reply.error
        if error.field_errors:
            failures = [Failure(number, v.field, v.reason, v.description) for v in error.field_errors]
            if more := left_out_of(error.message):  # past the gateway's MAX_VIOLATIONS: said in its message only
                report.unlisted_fields += more
                report.unlisted_lines += 1
                failures.append(
                    Failure(
                        number,
                        "",
                        "MORE_FIELDS",
                        f"另有 {more} 项有误未列出：证照网关每行至多列出 {len(failures)} 项，改正以上各项后再次导入可见"
                        f"（{counted(more, 'more bad field')} not listed: the gateway lists at most {len(failures)} "
                        "a line; fix those above and import again to see them）",
                    )
                )
            return failures
        # a refusal of the whole record; the one that is about a field of it is named by that field
        return [Failure(number, _REFUSED_FIELDS.get(error.reason, ""), error.reason, error.message)]
    if reply.created:
        report.created += 1
    else:
        report.existing += 1
    return []


class NoAnswer(grpc.RpcError):
    """The gateway answered nothing for ``ANSWER_SECONDS`` while lines were sent to it: the import ends as one the
    gateway went away from (UNAVAILABLE without a gateway's reason: 无法连接证照网关), as import.md promises; it had
    waited for ever on a gateway whose host froze, without a word (a reviewer)."""

    def __init__(self, seconds: float) -> None:
        self._message = f"证照网关 {seconds:.0f} 秒未应答（the gateway did not answer for {seconds:.0f} s）"
        super().__init__(self._message)

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ()

    def initial_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ()


class ItemRefusal(grpc.RpcError):
    """A line's refusal that holds for the whole import (``ITEM_REFUSALS_FOR_GOOD``) as the gateway's answer to the
    call: its status, reason and message, readable as a call's (``code``, ``details``, and the ``google.rpc.Status``
    in ``trailing_metadata`` that ``grpc_status.rpc_status.from_call`` reads)."""

    def __init__(self, error: Any) -> None:
        super().__init__(error.message)
        self._code = getattr(grpc.StatusCode, error.code, grpc.StatusCode.UNKNOWN)
        self._message = error.message
        info = error_details_pb2.ErrorInfo(reason=error.reason, domain="zzgw.v1")
        packed = any_pb2.Any()
        packed.Pack(info)
        status = status_pb2.Status(code=self._code.value[0], message=self._message, details=[packed])
        self._trailers = (("grpc-status-details-bin", status.SerializeToString()),)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return self._trailers

    def initial_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ()


_STOPS = {
    "interrupted": "已中断",
    REFUSED: "证照网关拒绝了导入",
    "stopped by the gateway": "证照网关中止了导入",
    UNREACHABLE: "无法连接证照网关",
    UNAVAILABLE: "证照网关暂时无法处理",
    CATALOG_CHANGED: "证照网关进程仍按更新前的证照目录运行",
    STREAMS_FULL: "证照网关上该部门的批量导入已满",
    "stopped by an error of the import itself": "导入程序自身出错而停止",
}
"""How an import that ended early is said in Chinese (``ImportReport.stopped``)."""


def failure_line(failure: Failure) -> str:
    """One failure as the summary lists it: ``第 3 行 issue_date BAD_DATE：发证日期须为…（…）``."""
    return f"第 {failure.line} 行 {failure.field or '-'} {failure.reason}：{failure.message}"


def summary(report: ImportReport, limit: int = 50, failure_file: Path | None = None) -> str:
    """The import's outcome for the operator, in Chinese first: the lines read, issued, already present and failed
    (and, when it ended early, why and how to go on), then the first ``limit`` failures, each with its line, field,
    reason and what the gateway or the import said, and where every one is (``failure_file``) or how to have it."""
    lost, zh_lost = "", ""
    if report.answers_lost:  # sent again after their answers were lost, and not placed before or after this run
        lost = f", {report.answers_lost} issued by this run or before it (their answers lost with the connection)"
        zh_lost = f"，另有 {report.answers_lost} 件本次或此前已签发（应答随断线丢失）"
    counts = f"{report.created} issued, {report.existing} already present{lost}, {report.failed} failed"
    zh_counts = f"新签发 {report.created} 件，此前已有 {report.existing} 件{zh_lost}，失败 {report.failed} 行"
    if report.duplicates:  # said apart: not there before this run, nor failed
        pairs = report.repeats_named
        unnamed = report.duplicates > len(pairs)
        zh_pairs = "；".join(f"第 {line} 行同第 {first} 行" for line, first in pairs) + ("等" if unnamed else "")
        en_pairs = "; ".join(f"line {line} as line {first}" for line, first in pairs) + (", …" if unnamed else "")
        counts += f", {report.duplicates} repeating an earlier line ({en_pairs}), not sent again"
        zh_counts += f"，另有 {report.duplicates} 行与前面的行重复（{zh_pairs}），未再发送"
    if report.stopped:
        sent = report.sent_unanswered
        unanswered = f", {sent} sent and not answered (issued or not)" if sent else ""
        zh_unanswered = f"，另有 {sent} 行已发送未答复（可能已签发）" if sent else ""
        if report.stopped == REFUSED and sent and report.unanswered_not_issued:
            # the gateway checks the caller before it takes each chunk and answers what it handled first: what its
            # refusal of the call left unanswered was not issued ("issued or not" had an operator wonder whether a
            # department without the issuer's role had issued licenses; a newcomer tester). Not so when the import
            # ended on its own at a line's refusal (``ITEM_REFUSALS_FOR_GOOD``): lines sent after it may be in; nor
            # for lines a stream before had sent and lost the answers of (a reviewer).
            unanswered = f", {sent} not handled (refused: none of them issued)"
            zh_unanswered = f"，另有 {sent} 行未办理（被拒绝，均未签发）"
        elif report.unanswered and not report.connected:  # no connection was ever made: nothing reached a gateway
            unanswered = f", {report.unanswered} not sent (no connection to a gateway was ever made: none issued)"
            zh_unanswered = f"，另有 {report.unanswered} 行未发送（从未连接上证照网关，均未签发）"
        elif sent and report.unanswered_not_issued:  # the gateway answered each line it issued first
            unanswered = f", {sent} not handled (none of them issued)"
            zh_unanswered = f"，另有 {sent} 行未办理（均未签发）"
        if report.unsent and report.connected:  # read, and never handed to gRPC: their message was not yet full
            unanswered += f", {report.unsent} not sent (none of them issued)"
            zh_unanswered += f"，另有 {report.unsent} 行未发送（均未签发）"
        if report.stopped == REFUSED and report.refused:  # the first lines' type is not the member's to issue
            advice = (
                f"The same command would be refused alike: the lines from line {report.first_refused} are of a type "
                "the member does not issue: import them as their issuer (--issuer), or move them out of the file"
            )
            zh_advice = (
                f"同一命令会被同样拒绝：自第 {report.first_refused} 行起的证照不是该成员签发的类型，"
                "请以其发证部门导入（--issuer），或把这些行移出文件"
            )
        elif report.stopped == CATALOG_CHANGED:
            advice = (
                "The gateway process serves the catalog before the one `zzgw init --adopt-catalog` adopted, and "
                "issues nothing more by it: have the gateway's operator restart it with the new catalog (or import "
                "through a process already restarted), then run the same command again: what is in already is answered "
                "as already present, never issued twice, and the rest is checked by the new catalog"
            )
            zh_advice = (
                "证照目录已更新，该证照网关进程不再按更新前的目录签发：请证照网关运维人员以新证照目录重启该进程"
                "（或改经已重启的进程导入），再次运行同一命令即可导入其余部分：已导入的答复为此前已有，不会重复签发，"
                "其余按新目录核对"
            )
        elif report.stopped == STREAMS_FULL:
            advice = (
                f"The department's imports (BatchIssueLicenses streams) are at most 4 at once on a gateway process, "
                f"and none ended within {STREAM_WAIT_SECONDS:.0f} s: run the same command again once another import of "
                "the department has ended; what is in already is answered as already present, never issued twice"
            )
            zh_advice = (
                f"同一部门的批量导入每个证照网关进程至多同时进行 4 个，{STREAM_WAIT_SECONDS:.0f} 秒内无一结束："
                "请在该部门的其他导入结束后再次运行同一命令；已导入的答复为此前已有，不会重复签发"
            )
        elif not report.connected:  # the address, or the client's mode, is wrong: the same command fails alike
            advice = (
                "No connection to a gateway was ever made, so nothing was sent and nothing issued: check the "
                "gateway's address (ZZGW_GRPC_ADDR or --target) and that the gateway runs, and that ZZGW_MODE is the "
                "gateway's (dev: plaintext with a dev token; production: TLS with the member's certificate; said "
                "above when it could be told); then run the same command again"
            )
            zh_advice = (
                "从未连接上证照网关，未发送任何记录，均未签发：请核对证照网关地址（ZZGW_GRPC_ADDR 或 --target）、"
                "网关是否在运行，以及本端 ZZGW_MODE 是否与网关一致（dev 用明文与开发令牌，production 用 TLS 与成员"
                "证书；能判断时前面已说明），改正后再运行同一命令"
            )
        elif report.stopped == REFUSED:
            advice = (
                "The same command would be refused alike: change what the gateway said (the member, its role, its "
                "credentials) first; then what is in already is answered as already present, never issued twice"
            )
            zh_advice = (
                "同一命令会被同样拒绝：请先改正证照网关所说的问题（成员、角色、凭据），再运行；已导入的不会重复签发"
            )
        else:
            advice = (
                "Run the same command again to import the rest: what is in already is answered as already present, "
                "never issued twice"
            )
            zh_advice = "再次运行同一命令即可导入其余部分：已导入的答复为此前已有，不会重复签发"
        stopped = _STOPS.get(report.stopped, report.stopped)
        lines = [
            f"{stopped}：读取 {report.lines} 行，至此{zh_counts}{zh_unanswered}，用时 {report.seconds:.1f} 秒。"
            f"{zh_advice}（{report.stopped} after reading {counted(report.lines, 'line')}: {counts} so far{unanswered} "
            f"({report.seconds:.1f} s). {advice}）"
        ]
    elif not report.lines:
        lines = [
            "共 0 行：文件中没有记录（空文件，或只有 CSV 表头），未发送任何内容"
            "（0 lines: the file holds no records (empty, or a CSV header alone); nothing was sent）"
        ]
    else:
        lines = [
            f"共 {report.lines} 行：{zh_counts}，用时 {report.seconds:.1f} 秒，{report.line_rate:.0f} 行/秒，"
            f"{report.rate:.0f} 件/秒（{counted(report.lines, 'line')}: {counts} ({report.seconds:.1f} s, "
            f"{report.line_rate:.0f} lines/s, {report.rate:.0f} licenses/s)）"
        ]
    if report.refused:
        lines.append(
            f"其中 {report.refused} 行因上述拒绝而失败（自第 {report.first_refused} 行起），不逐行列出"
            f"（{counted(report.refused, 'of the failed lines was', 'of the failed lines were')} refused so, from line "
            f"{report.first_refused} on, not listed line by line）"
        )
    if report.failures:
        lines.append("失败的行：行号、字段、原因代码、说明（failures: line, field, reason, message）")
        for failure in report.failures[:limit]:
            lines.append(f"  {failure_line(failure)}")
        if report.failure_count > limit:
            more = report.failure_count - limit
            if failure_file:
                lines.append(f"  …另有 {more} 条，见 {failure_file}（… and {more} more, in {failure_file}）")
            else:  # an operator with thousands of failed lines had no way to see past the 50th (a scenario tester)
                lines.append(
                    f"  …另有 {more} 条；加 --failures FILE 可将每条失败写入文件（… and {more} more: --failures FILE "
                    "writes every failure to a file）"
                )
    if report.unlisted_lines:
        lines.append(
            f"其中 {report.unlisted_lines} 行的有误字段未全部列出，共另有 {report.unlisted_fields} 项未列出"
            "（MORE_FIELDS）：改正所列各项后再次导入可见"
            f"（{counted(report.unlisted_lines, 'line has', 'lines have')} more bad fields than the gateway lists, "
            f"{report.unlisted_fields} not listed (MORE_FIELDS): fix those listed and import again to see them）"
        )
    if failure_file and (report.failure_count or report.refused):
        repeats, zh_repeats = ",", ""
        if report.duplicates:
            repeats = f", and each line repeating an earlier one ({report.duplicates}, DUPLICATE_LINE),"
            zh_repeats = f"及 {report.duplicates} 行重复（DUPLICATE_LINE）"
        lines.append(
            f"全部 {report.failure_count + report.refused} 条失败{zh_repeats}已写入 {failure_file}"
            f"（every failure, {report.failure_count + report.refused}{repeats} is in {failure_file}）"
        )
    elif failure_file and report.duplicates:
        lines.append(
            f"{report.duplicates} 行重复（DUPLICATE_LINE）已写入 {failure_file}，各注明与之相同的前面一行"
            f"（the {counted(report.duplicates, 'line')} repeating an earlier one, DUPLICATE_LINE, are in "
            f"{failure_file}, each naming the line it repeats）"
        )
    elif report.duplicates > len(report.repeats_named):  # the summary named the first few, 等 (a reviewer, R3)
        lines.append(
            "加 --failures FILE 可将每行重复写入文件，各注明与之相同的前面一行（--failures FILE writes every line "
            "repeating an earlier one to a file, each naming the line it repeats）"
        )
    # a key or message may hold what no terminal can print (a lone surrogate from a JSON escape)
    return "\n".join(lines).encode("utf-8", "backslashreplace").decode("utf-8")
