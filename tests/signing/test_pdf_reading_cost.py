"""What reading a PDF costs (``signing.pdf._read``): counted in the parser's own steps, not in seconds, which a loaded
machine stretches. pyHanko 0.38 read an object stream's header from the start for each of its objects: a PDF of
8,000 pages in one object stream (86 KB) took five minutes to read, and a 95 KB one got a gateway process stopped by
its watchdog (a review, R1)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

from signing import pdf as pdf_module
from signing.pdf import MAX_READING_BYTES, DamagedPdf, PdfTooComplex, revisions
from tests.api.test_documents import by_hand


def object_stream_pdf(
    objects: dict[int, bytes],
    direct: dict[int, bytes] | None = None,
    *,
    header: bytes | None = None,
    declared: int | None = None,
) -> bytes:
    """A PDF whose ``objects`` all sit in one Flate-compressed object stream (``direct`` ones written plainly),
    with a cross-reference stream placing object k at its index in ``objects``' order; object 1 is the catalog.
    ``header`` replaces the stream's header of object numbers and offsets, ``declared`` its /N."""
    direct = direct or {}
    numbers = sorted(objects)
    body, offsets = b"", []
    for number in numbers:
        offsets.append(len(body))
        body += objects[number] + b"\n"
    if header is None:
        header = b" ".join(b"%d %d" % pair for pair in zip(numbers, offsets, strict=True))
    header += b"\n"
    data = zlib.compress(header + body)
    top = max([*numbers, *direct]) + 1
    stream, xref = top, top + 1
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    where = {}
    for number in sorted(direct):
        where[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, direct[number])
    where[stream] = len(out)
    out += b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n" % (
        stream,
        len(numbers) if declared is None else declared,
        len(header),
        len(data),
    )
    out += data + b"\nendstream\nendobj\n"
    where[xref] = len(out)
    index = {number: i for i, number in enumerate(numbers)}
    rows = []
    for number in range(xref + 1):
        if number in where:
            rows.append(b"\x01" + struct.pack(">I", where[number]) + b"\x00\x00")
        elif number in index:
            rows.append(b"\x02" + struct.pack(">I", stream) + struct.pack(">H", index[number]))
        else:
            rows.append(b"\x00" + struct.pack(">I", 0) + b"\xff\xff")
    table = zlib.compress(b"".join(rows))
    out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n" % (
        xref,
        xref + 1,
        len(table),
    )
    out += table + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % where[xref]
    return bytes(out)


def object_stream_pages(count: int) -> bytes:
    """A PDF of ``count`` pages (one shared content stream) whose catalog, page tree and pages all sit in one object
    stream: 86 KB for 8,000 pages (the review's ``many_pages``)."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (10 + i) for i in range(count)), count),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for i in range(count):
        objects[10 + i] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 3 0 R >> >> >>"
        )
    content = b"BT /F1 18 Tf 72 760 Td (Page) Tj ET"
    return object_stream_pdf(objects, {4: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)})


def counting_numbers_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The count of numbers pyHanko's parser reads from now on (object stream headers are pairs of numbers, objects
    hold some), as one item in a list."""
    counted = [0]
    real = generic.NumberObject.read_from_stream

    def counting(stream: object) -> object:
        counted[0] += 1
        return real(stream)

    monkeypatch.setattr(generic.NumberObject, "read_from_stream", staticmethod(counting))
    return counted


@pytest.fixture
def numbers_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """``counting_numbers_read`` for a test."""
    yield counting_numbers_read(monkeypatch)


def test_the_objects_of_an_object_stream_are_read_in_time_linear_in_their_number(numbers_read: list[int]) -> None:
    """Each page holds 9 numbers (its box, three references); the header 2 a page. pyHanko had read the header up to
    each object, 2,000 pages: 4 million numbers."""
    for count in (500, 2000):
        numbers_read[0] = 0
        assert revisions(object_stream_pages(count)) == 1
        assert numbers_read[0] < 20 * count, (count, numbers_read[0])


def test_a_large_object_stream_has_its_header_read_once() -> None:
    """The review's file: 8,000 pages in 86 KB (five minutes of pyHanko's reading)."""
    pdf = object_stream_pages(8000)
    assert len(pdf) < 90_000
    reader = pdf_module._read(pdf)
    assert reader.object_stream_headers_read == 1
    assert int(reader.root["/Pages"]["/Count"]) == 8000


def _outcome(reader: PdfFileReader, number: int) -> str:
    try:
        obj = reader.get_object(generic.Reference(number, 0, reader))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    written = io.BytesIO()
    obj.write_to_stream(written, None)
    return f"{type(obj).__name__}: {written.getvalue()!r}"


STREAM_OBJECTS = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [] /Count 0 >>"} | {
    number: b"[%d (object %d)]" % (number, number) for number in range(5, 12)
}
_OFFSETS = [sum(len(STREAM_OBJECTS[n]) + 1 for n in sorted(STREAM_OBJECTS) if n < number) for number in STREAM_OBJECTS]
_PAIRS = [b"%d %d" % pair for pair in zip(sorted(STREAM_OBJECTS), sorted(_OFFSETS), strict=True)]


@pytest.mark.parametrize(
    ("header", "declared"),
    [
        (None, None),
        (b" ".join([*_PAIRS[:3], b"5 0", *_PAIRS[4:]]), None),  # object 5 named twice, the second where 6 was
        (b" ".join([*_PAIRS[:4], b"x 9", *_PAIRS[5:]]), None),  # a pair that is no numbers
        (b" ".join(_PAIRS[:6]), None),  # the last pairs missing
        (None, len(STREAM_OBJECTS) + 5),  # more declared than there are
        (b" ".join([*_PAIRS[:4], b"7.0 90", *_PAIRS[5:]]), None),  # a number that is no integer
    ],
    ids=["sound", "an object named twice", "a pair of no numbers", "pairs missing", "more declared", "a real number"],
)
@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_objects_of_an_object_stream_read_as_pyhanko_reads_them(
    header: bytes | None, declared: int | None, strict: bool
) -> None:
    """The reader that keeps each stream's header answers every object, sound or not, as pyHanko's own does: the
    object, the same error, or a null."""
    pdf = object_stream_pdf(STREAM_OBJECTS, header=header, declared=declared)
    ours = pdf_module._Reader(io.BytesIO(pdf), strict=strict)
    theirs = PdfFileReader(io.BytesIO(pdf), strict=strict)
    for number in [*range(1, 14), 5, 9, 1]:  # each object, then some again
        assert _outcome(ours, number) == _outcome(theirs, number), number


def test_a_damaged_object_stream_is_still_refused_as_damage() -> None:
    pdf = object_stream_pdf(STREAM_OBJECTS, header=b" ".join([b"x 0", *_PAIRS[1:]]))
    with pytest.raises(DamagedPdf):
        revisions(pdf)


def with_title_updates(pdf: bytes, count: int) -> bytes:
    """``pdf`` with ``count`` incremental updates, each setting the document's title (and so writing its catalog)."""
    for i in range(count):
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        writer.document_meta.title = f"t{i}"
        writer.update_root()
        out = io.BytesIO()
        writer.write(out)
        pdf = out.getvalue()
    return pdf


def plain_pages(count: int) -> bytes:
    """A PDF of ``count`` empty pages, written object by object (a cross-reference table, no object streams)."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(count))
    return by_hand(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        *[b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * count,
    )


@pytest.fixture
def objects_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The count of objects asked of pyHanko's reader and of its views of past revisions, as one item in a list."""
    counted = [0]
    for cls in (PdfFileReader, HistoricalResolver):
        real = cls.get_object

        def counting(self: object, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            counted[0] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "get_object", counting)
    yield counted


def test_a_revision_s_page_tree_costs_only_the_objects_it_changed(objects_read: list[int]) -> None:
    """Each revision's page tree is checked (the analysis of a seal walks each), but a page not written again since an
    earlier revision is read once for all: through pyHanko's views of the revisions, a 10,000-page file with 31
    updates (each setting a title) took 42 s to read where the file alone took 1.4 s, and a 36,000-page one 230 s,
    past the watchdog (a review, R2)."""
    pages = 2000
    original = plain_pages(pages)
    updated = with_title_updates(original, 31)
    assert revisions(original) == 1
    alone, objects_read[0] = objects_read[0], 0
    assert revisions(updated) == 32
    assert alone >= pages
    assert objects_read[0] < alone + 32 * 8, (alone, objects_read[0])  # a few objects an update, not every page


def test_a_page_tree_damaged_in_an_earlier_revision_only_is_still_refused() -> None:
    """The trees are still checked in every revision: a page listed twice in the first, mended by an update, and a
    page tree of too many nodes in an earlier revision only."""
    twice = by_hand(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    )
    mended = _update(twice, b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n", 2)
    with pytest.raises(DamagedPdf, match=r"reaches object 3 0 twice \(in revision 1\)"):
        revisions(with_title_updates(mended, 3))
    # a page defined anew in an update is read as each revision has it: a tree in each
    page = b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] >>\nendobj\n"
    assert revisions(with_title_updates(_update(plain_pages(2), page, 3), 2)) == 4
    listed_twice = b"2 0 obj\n<< /Type /Pages /Kids [3 0 R 3 0 R] /Count 2 >>\nendobj\n"
    with pytest.raises(DamagedPdf, match=r"reaches object 3 0 twice \(in revision 2\)"):
        revisions(with_title_updates(_update(plain_pages(2), listed_twice, 2), 1))


def _update(pdf: bytes, body: bytes, number: int) -> bytes:
    """``pdf`` with an incremental update (a cross-reference table) writing ``body``, object ``number`` (none: 0)."""
    previous = int(pdf[pdf.rindex(b"startxref") + 9 :].split()[0])
    size = int(pdf[pdf.rindex(b"/Size") + 5 :].split()[0])
    out = bytearray(pdf)
    at = len(out)
    out += body
    xref = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n"
    if number:
        out += b"%d 1\n%010d 00000 n \n" % (number, at)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, previous, xref)
    return bytes(out)


def numbered_pages(count: int, numbers: int) -> bytes:
    """A PDF of ``count`` pages in one object stream, each page's dictionary holding an array of ``numbers`` zeros
    (``/X``: harmless, no viewer reads it). The review's file, 65,000 such pages of 200 numbers, is 1.3 MB: well
    under the size limit, and minutes of pyHanko's parsing."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (10 + i) for i in range(count)), count),
    }
    for i in range(count):
        objects[10 + i] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /X [%s] >>" % (b"0 " * numbers)
    return object_stream_pdf(objects)


def test_a_pdf_whose_objects_take_more_parsing_than_one_reading_does_is_refused(
    numbers_read: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,500 pages of 200 numbers (20 KB): 300,000 numbers, more than a reading parses (here 256 KiB, each number
    2 bytes; the real limit, 1.5 MiB, takes a loaded machine past a test's time). Refused as too complex once the
    limit is reached, not parsed to the end: every reading of a PDF, an issuer's SealDocument as a consumer's
    VerifyDocument, ran on until the gateway's watchdog stopped the process (a review, R1). Counted in the numbers
    the parser reads, not in seconds."""
    assert MAX_READING_BYTES == 1536 * 1024
    monkeypatch.setattr(pdf_module, "MAX_READING_BYTES", 256 * 1024)
    pdf = numbered_pages(1500, 200)
    assert len(pdf) < 30_000
    with pytest.raises(PdfTooComplex, match=f"more than {256 * 1024:,} bytes of its objects"):
        revisions(pdf)
    assert numbers_read[0] < 128 * 1024 + 1000, numbers_read[0]


def test_the_reading_limit_counts_each_reading_of_an_object_and_not_a_stream_s_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What is counted is what is parsed: a page's dictionary in an object stream or written plainly alike, a
    stream's data not at all (a license's pictures and fonts are sliced out whole, never parsed)."""
    reader = pdf_module._read(numbered_pages(1000, 200))
    assert 1000 * 400 < reader.parsed < 1000 * 520, reader.parsed  # "0 " 200 times, its words, its place in /Kids
    plain = by_hand(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /X [%s] >>" % (b"0 " * 5000),
        b"<< /Length 1000000 >>\nstream\n%s\nendstream" % (b"0 " * 500_000),
    )
    reader = pdf_module._read(plain)
    assert 10_000 < reader.parsed < 11_000, reader.parsed  # the page's numbers; the content stream's data not
    reader.get_object(generic.Reference(4, 0, reader))  # type: ignore[no-untyped-call]
    assert 10_000 < reader.parsed < 11_500, reader.parsed
    monkeypatch.setattr(pdf_module, "MAX_READING_BYTES", 8000)
    with pytest.raises(PdfTooComplex):
        pdf_module._read(plain)
