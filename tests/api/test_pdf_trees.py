"""PDFs whose form or page tree reaches one object twice, or holds more than is read, over real gRPC: VerifyDocument
and an issuer's own document (IssueLicense) refuse them at once as ``DAMAGED_PDF`` / ``TOO_MANY_REVISIONS``.

pyHanko's walk of a form remembers only the fields on the way down: a 2 KB PDF whose every field listed the same kid
twice took it time doubling with each level (19 levels: 90 s; 23 got the gateway process stopped by its watchdog),
in VerifyDocument and IssueLicense alike (a reviewer's finding)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import grpc
import pytest

from protos.zzgw.v1 import verification_pb2
from signing.pdf import MAX_FORM_FIELDS, MAX_REVISIONS
from tests.api.test_documents import by_hand, new_request, stub
from tests.api.test_verification import USE, verifier
from tests.conftest import MARKET, RunningGateway, descriptions
from tests.signing.test_pdf import sign_invisibly

QUICK = 5.0
"""Seconds within which a refusal must come: the files below took pyHanko hours, or for ever. Not less: a refusal of
some milliseconds, with the gateway in the same process, took over a second on a machine loaded by a fresh-clone run
and six other test runs at once."""


def form_dag(depth: int, *, twins: bool = False) -> bytes:
    """A one-page PDF whose form is ``depth`` levels of fields, each listing the next level's field twice — or,
    with ``twins``, two differently named fields a level, each listing both of the next level's: 2^depth paths
    down to one signature field, in about 2 KB."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    width = 2 if twins else 1
    for level in range(depth):
        first_kid = 4 + (level + 1) * width
        kids = b" ".join(b"%d 0 R" % (first_kid + (k % width)) for k in range(2))
        objects.extend(b"<< /T (f%d%s) /Kids [%s] >>" % (level, b"ab"[i : i + 1], kids) for i in range(width))
    objects.extend(b"<< /T (leaf%d) /FT /Sig >>" % i for i in range(width))
    return by_hand(*objects)


def page_dag(depth: int) -> bytes:
    """A PDF whose page tree is ``depth`` levels of nodes each listing the next twice, down to one page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        kid, count = level + 3, 2 ** (depth - level)
        objects.append(b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count %d >>" % (kid, kid, count))
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] >>" % (depth + 1))
    return by_hand(*objects)


def refused(call: Callable[[], object], field: str) -> tuple[str, str, float]:
    """(reason, what the refusal says, seconds taken) of a call refused as INVALID_ARGUMENT on ``field`` alone."""
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        call()
    took = time.monotonic() - started
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (((named, reason), said),) = descriptions(caught.value).items()
    assert named == field
    return reason, said, took


@pytest.mark.parametrize("twins", [False, True], ids=["one kid listed twice", "two fields listing the same two"])
def test_a_form_that_reaches_a_field_twice_is_refused_at_once(running: RunningGateway, twins: bool) -> None:
    pdf = form_dag(30, twins=twins)  # 2^30 paths: hours for pyHanko
    assert len(pdf) < 8000
    reason, message, took = refused(
        lambda: verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)), "pdf"
    )
    assert (reason, took < QUICK) == ("DAMAGED_PDF", True)
    assert "PDF 文件已损坏" in message and "form reaches object" in message and "twice" in message
    reason, message, took = refused(lambda: stub(running).IssueLicense(new_request(21, document=pdf)), "document")
    assert (reason, took < QUICK) == ("DAMAGED_PDF", True)
    assert "twice" in message


def test_a_form_reaching_a_field_twice_in_an_earlier_revision_only_is_refused(running: RunningGateway) -> None:
    """The analysis of what changed after a signature walks the form of the signed revision and of every later one:
    a DAG there, gone from the last revision, is refused as well."""
    dag = form_dag(30)
    start = dag.rindex(b"startxref")
    catalog = b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] >> >>\nendobj\n"
    update = bytearray(dag)
    at = len(update)
    update += catalog
    xref = len(update)
    previous = int(dag[start + 9 :].split()[0])
    size = int(dag[dag.rindex(b"/Size") + 5 :].split()[0])
    update += b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n" % at
    update += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, previous, xref)
    reason, message, took = refused(
        lambda: verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=bytes(update))),
        "pdf",
    )
    assert (reason, took < QUICK) == ("DAMAGED_PDF", True)
    assert "in revision 1" in message


def _updated(pdf: bytes, objects: dict[int, bytes]) -> bytes:
    """``pdf`` with an incremental update (re)defining ``objects`` by number, its catalog object 1."""
    previous = int(pdf[pdf.rindex(b"startxref") + 9 :].split()[0])
    size = max(int(n) for n in re.findall(rb"/Size (\d+)", pdf))
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    at = {}
    for number, body in objects.items():
        at[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n"
    for number in sorted(at):
        out += b"%d 1\n%010d 00000 n \n" % (number, at[number])
    size = max(size, max(objects) + 1)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, previous, xref)
    return bytes(out)


def test_a_page_tree_reaching_a_page_twice_behind_a_form_that_is_no_dictionary_is_refused(
    running: RunningGateway,
) -> None:
    """The check of each revision's trees read its catalog, form and pages together, and passed a revision over whole
    when any could not be read: one whose /AcroForm was a number hid a page tree listing each level's node twice, 30
    deep, from the check, and pyHanko's analysis of what changed after the seal then walked it for minutes (a
    reviewer of the fixes, R1). A form that cannot be read leaves the pages checked all the same."""
    signed = sign_invisibly(
        by_hand(
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ),
        "A",
    )
    catalog = re.findall(rb"\n1 0 obj\n(.*?)\nendobj", signed, re.S)[-1]
    depth, first = 30, 500
    hiding = {
        1: re.sub(rb"/AcroForm\s*(\d+\s+\d+\s+R|<<.*?>>)", b"/AcroForm 42", catalog, flags=re.S),
        2: b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count %d >>" % (first, first, 2**depth),
    }
    for level in range(depth - 1):
        kid = first + level + 1
        node = b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count %d >>"
        hiding[first + level] = node % (kid, kid, 2 ** (depth - level - 1))
    hiding[first + depth - 1] = b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] >>" % (first + depth - 2)
    pdf = _updated(_updated(signed, hiding), {1: catalog, 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"})
    reason, message, took = refused(
        lambda: verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf), timeout=60),
        "pdf",
    )
    assert (reason, took < QUICK) == ("DAMAGED_PDF", True)
    assert "page tree reaches object" in message and "in revision 3" in message


def test_a_page_tree_that_reaches_a_page_twice_is_damage_not_a_broken_seal(running: RunningGateway) -> None:
    """Signed, then signed again, such a PDF was reported FAILED / SIGNATURE_INVALID "its byte range or its contents
    are malformed": the seal was blamed for the page tree (a reviewer's R3)."""
    pdf = sign_invisibly(sign_invisibly(page_dag(3), "A"), "B")
    reason, message, took = refused(
        lambda: verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)), "pdf"
    )
    assert reason == "DAMAGED_PDF"
    assert "page tree reaches object" in message
    deep = page_dag(30)
    reason, _, took = refused(lambda: stub(running).IssueLicense(new_request(22, document=deep)), "document")
    assert (reason, took < QUICK) == ("DAMAGED_PDF", True)


def many_signatures(count: int) -> bytes:
    """A one-page PDF of ``count`` filled signature fields (their contents no real signature: they are refused before
    any is read)."""
    objects = [
        b"",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    fields = []
    for i in range(count):
        objects.append(
            b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 10]"
            b" /Contents <3000> >>"
        )
        objects.append(b"<< /FT /Sig /T (s%d) /V %d 0 R >>" % (i, len(objects)))
        fields.append(b"%d 0 R" % len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] >> >>" % b" ".join(fields)
    return by_hand(*objects)


def test_more_signatures_than_revisions_are_read_are_refused(running: RunningGateway) -> None:
    """Each signature's CMS was read and the file up to its end hashed: 3,000 of them in 6.5 MB took 15 s. A
    signature is made in a revision of its own, and at most 32 revisions are read."""
    reason, message, took = refused(
        lambda: verifier(running).VerifyDocument(
            verification_pb2.VerifyDocumentRequest(use=USE, pdf=many_signatures(MAX_REVISIONS + 1))
        ),
        "pdf",
    )
    assert (reason, took < QUICK) == ("TOO_MANY_REVISIONS", True)
    assert f"carries {MAX_REVISIONS + 1} signatures" in message
    # as many as are read are read: a finding, not a refusal
    report = (
        verifier(running)
        .VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=many_signatures(MAX_REVISIONS)))
        .report
    )
    assert report.integrity.reason == "SIGNATURE_INVALID"


def test_a_form_of_more_fields_than_are_read_is_refused(running: RunningGateway) -> None:
    objects = [
        b"",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    refs = []
    for i in range(MAX_FORM_FIELDS + 1):
        objects.append(b"<< /FT /Tx /T (t%d) >>" % i)
        refs.append(b"%d 0 R" % len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] >> >>" % b" ".join(refs)
    reason, message, _ = refused(
        lambda: stub(running).IssueLicense(new_request(23, document=by_hand(*objects))), "document"
    )
    assert reason == "DAMAGED_PDF"
    assert f"more than {MAX_FORM_FIELDS:,} fields" in message


def test_a_structure_tree_that_reaches_an_element_twice_is_damage_not_a_broken_seal(running: RunningGateway) -> None:
    """pyHanko's analysis of an update after a seal refuses a structure tree (the tags) listing one element twice:
    that was reported as a seal whose byte range or contents are malformed, as for the page tree."""
    tagged = by_hand(
        b"<< /Type /Catalog /Pages 2 0 R /StructTreeRoot 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Type /StructTreeRoot /K [5 0 R 5 0 R] >>",
        b"<< /Type /StructElem /S /P /P 4 0 R >>",
    )
    pdf = sign_invisibly(sign_invisibly(tagged, "A"), "B")
    reason, message, _ = refused(
        lambda: verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)), "pdf"
    )
    assert reason == "DAMAGED_PDF"
    assert "structure tree" in message


def any_dag(depth: int) -> bytes:
    """A one-page PDF whose catalog names, under a key of no meaning, an array listing the same array twice,
    ``depth`` levels deep: no form, no page tree."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Extra 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    objects.extend(b"[%d 0 R %d 0 R]" % (5 + level, 5 + level) for level in range(depth))
    objects.append(b"<< /Leaf true >>")
    return by_hand(*objects)


def test_an_object_reached_by_ever_more_paths_is_refused_before_an_update_is_analysed(running: RunningGateway) -> None:
    """pyHanko's analysis of an update after a signature first maps every path to every object of the signed
    revision: signed (self-signed will do), updated, such a 9 KB file would have held VerifyDocument for hours
    (16 levels: 20 s). Its mapping is now given a budget of object reads."""
    pdf = sign_invisibly(sign_invisibly(any_dag(30), "A"), "B")
    reason, message, took = refused(
        lambda: verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)), "pdf"
    )
    assert (reason, took < 10) == ("DAMAGED_PDF", True)  # the budget's 20,000 reads, where 2^30 were asked for
    assert "paths" in message
    # a shallow one is read: the budget holds far more than a document's objects are reached by
    report = (
        verifier(running)
        .VerifyDocument(
            verification_pb2.VerifyDocumentRequest(use=USE, pdf=sign_invisibly(sign_invisibly(any_dag(6), "A"), "B"))
        )
        .report
    )
    assert (report.integrity.result, report.reason) == (
        verification_pb2.CHECK_RESULT_PASSED,
        "UNTRUSTED_ROOT",
    )


def test_the_paths_budget_follows_the_objects_reached_not_those_declared() -> None:
    """The budget of pyHanko's map had been 4 paths a declared object: a genuine 700-page document whose 7 fonts every
    page reaches (21,019 paths to about 2,100 objects) was refused once co-signed, and a file declaring a million
    objects in a tiny object stream bought itself minutes of reads of an array listed twice by one listed twice (a
    review, R1, R2). It follows the distinct objects reached, with a ceiling."""
    from signing.pdf import MOST_PATHS_MAPPED, PathBudget, _TooManyPaths

    pages = PathBudget()  # 2,000 pages, each with its own 3 objects, reaching 30 shared resources
    for page in range(2000):
        for own in range(3):
            pages.read(10_000 + page * 3 + own)
        for shared in range(30):
            pages.read(shared)
    assert pages.reads == 66_000

    doubling = PathBudget()  # 40 arrays, each listing the next twice: 2^40 paths to 40 objects
    with pytest.raises(_TooManyPaths):
        for _ in range(2**40):
            for level in range(40):
                doubling.read(level)
    assert doubling.reads <= 20_001

    many = PathBudget()  # a distinct object every other read, and one object between: stopped at the ceiling
    with pytest.raises(_TooManyPaths):
        for number in range(10**7):
            many.read(number if number % 2 else 0)
    assert many.reads == MOST_PATHS_MAPPED + 1


def parent_loop(*, page_is_own_parent: bool = False) -> bytes:
    """A one-page PDF with no /MediaBox anywhere whose /Parent chain loops: the page tree node is its own parent, or
    (``page_is_own_parent``) the page is. Its /Kids are a tree; only the way up loops."""
    parent = b"3 0 R" if page_is_own_parent else b"2 0 R"
    content = b"BT /F1 12 Tf 72 720 Td (hello) Tj ET"
    return by_hand(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 2 0 R >>",
        b"<< /Type /Page /Parent %s /Contents 4 0 R /Resources << >> >>" % parent,
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    )


@pytest.mark.parametrize("page_is_own_parent", [False, True], ids=["node its own parent", "page its own parent"])
def test_a_page_whose_parents_loop_is_refused_and_sealing_goes_on(
    running: RunningGateway, page_is_own_parent: bool
) -> None:
    """The search for the page's inherited /MediaBox followed /Parent for ever on the process's one PDF thread: the
    call ended INTERNAL after a minute, and every later SealDocument and IssueLicense of the process with it (a
    reviewer's R1)."""
    from protos.zzgw.v1 import seal_pb2
    from tests.api.test_seals import license_pdf, register, seals

    pdf = parent_loop(page_is_own_parent=page_is_own_parent)
    seal = register(running)
    reason, message, took = refused(
        lambda: seals(running, MARKET).SealDocument(
            seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf), timeout=30
        ),
        "pdf",
    )
    assert (reason, took < QUICK) == ("DAMAGED_PDF", True)
    assert "/Parent" in message and "twice" in message
    reason, _, took = refused(lambda: stub(running).IssueLicense(new_request(23, document=pdf), timeout=30), "document")
    assert (reason, took < QUICK) == ("DAMAGED_PDF", True)
    sealed = seals(running, MARKET).SealDocument(
        seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running)), timeout=30
    )
    assert sealed.sealed_pdf.startswith(b"%PDF-")
    assert stub(running).IssueLicense(new_request(24), timeout=30).license.license_id


def test_a_pdf_of_many_objects_in_one_object_stream_is_read_in_time_linear_in_them(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyHanko read an object stream's header from the start for each object of it: VerifyDocument of 4,000 pages in
    one object stream (43 KB) took 51 s, SealDocument of 7,000 timed out after a minute with every other sealing of
    the process behind it, and a 95 KB one got the process stopped by its watchdog (a review, R1). Counted in the
    numbers the parser reads: each page holds 9, the header 2 a page; pyHanko had read 2.25 million for these 1,500
    pages in every read of the file."""
    from protos.zzgw.v1 import seal_pb2
    from tests.api.test_seals import license_pdf, register, seals
    from tests.signing.test_pdf_reading_cost import counting_numbers_read, object_stream_pages

    pages = 1500
    pdf = object_stream_pages(pages)
    counted = counting_numbers_read(monkeypatch)
    report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    assert (report.integrity.result, report.integrity.reason) == (verification_pb2.CHECK_RESULT_FAILED, "NO_SIGNATURE")
    assert counted[0] < 20 * pages, counted[0]

    seal = register(running)
    counted[0] = 0
    sealed = seals(running, MARKET).SealDocument(
        seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf), timeout=60
    )
    assert sealed.sealed_pdf.startswith(pdf)  # an incremental update
    assert counted[0] < 60 * pages, counted[0]
    # and sealing goes on for everybody else
    other = seals(running, MARKET).SealDocument(
        seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running)), timeout=30
    )
    assert other.sealed_pdf.startswith(b"%PDF-")


def test_an_unsigned_pdf_of_many_pages_is_answered_no_signature_before_its_pages_are_read(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VerifyDocument of an unsigned 36,000-page PDF (3.6 MB) read every page before it answered NO_SIGNATURE: 10 s
    of a handler thread for nothing to verify (a review, R4). Only the analysis of a seal walks the pages, so they are
    checked once a signature is found. Counted in the objects read, not in seconds."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from tests.signing.test_pdf_reading_cost import plain_pages

    counted = [0]
    real = PdfFileReader.get_object

    def counting(self: PdfFileReader, *args: object, **kwargs: object) -> object:
        counted[0] += 1
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PdfFileReader, "get_object", counting)
    pages = 3000
    for pdf in (plain_pages(pages), page_dag(30)):  # a page tree unsigned is not read, sound or not
        counted[0] = 0
        report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
        assert (report.integrity.result, report.integrity.reason) == (
            verification_pb2.CHECK_RESULT_FAILED,
            "NO_SIGNATURE",
        )
        assert counted[0] < 50, counted[0]
    # signed, its page tree is read and checked as before
    reason, message, _ = refused(
        lambda: verifier(running).VerifyDocument(
            verification_pb2.VerifyDocumentRequest(use=USE, pdf=sign_invisibly(page_dag(3), "A"))
        ),
        "pdf",
    )
    assert reason == "DAMAGED_PDF" and "page tree reaches object" in message
    # and an issuer's own document has them checked, signed or not
    reason, _, _ = refused(lambda: stub(running).IssueLicense(new_request(25, document=page_dag(30))), "document")
    assert reason == "DAMAGED_PDF"


def test_a_pdf_whose_objects_take_too_much_parsing_is_refused_and_sealing_goes_on(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1.3 MB PDF of 65,000 pages, each holding 200 numbers in object streams, sent to SealDocument held the
    process's one PDF thread for minutes: another issuer's one-page sealing timed out behind it, and the watchdog
    stopped the process; the same file signed, sent to VerifyDocument by a consumer, got it stopped too (a review,
    R1). A reading parses at most ``MAX_READING_BYTES`` of a PDF's objects: past it, SealDocument, VerifyDocument and
    IssueLicense's document refuse the PDF as PDF_TOO_COMPLEX on the field it came in. Here with a limit of 100 KB
    for a PDF of 1,000 such pages (400 KB to parse), counted in the numbers parsed, not in seconds; the real limit
    is in tests/signing/test_pdf_reading_cost.py."""
    from protos.zzgw.v1 import seal_pb2
    from signing import pdf as pdf_module
    from tests.api.test_seals import license_pdf, register, seals
    from tests.conftest import POLICE
    from tests.signing.test_pdf_reading_cost import counting_numbers_read, numbered_pages

    pdf = numbered_pages(1000, 200)
    signed = sign_invisibly(pdf, "A")
    market_seal, police_seal = register(running), register(running, POLICE)
    monkeypatch.setattr(pdf_module, "MAX_READING_BYTES", 100 * 1024)
    counted = counting_numbers_read(monkeypatch)
    calls = {
        "pdf": lambda: seals(running, MARKET).SealDocument(
            seal_pb2.SealDocumentRequest(seal_id=market_seal.seal_id, pdf=pdf), timeout=60
        ),
        "document": lambda: stub(running).IssueLicense(new_request(26, document=pdf), timeout=60),
        "verify pdf": lambda: verifier(running).VerifyDocument(
            verification_pb2.VerifyDocumentRequest(use=USE, pdf=signed), timeout=60
        ),
    }
    for name, call in calls.items():
        counted[0] = 0
        reason, message, _ = refused(call, name.split()[-1])
        assert reason == "PDF_TOO_COMPLEX", (name, message)
        assert message.startswith("PDF 文件结构过于复杂"), (name, message)
        assert f"more than {100 * 1024:,} bytes of its objects" in message and not message.endswith("…"), name
        assert counted[0] < 60_000 * 3, (name, counted[0])  # each reading stops at 100 KB: 50,000 numbers
    # an issuer's document that reads within the limit and, sealed, would verify past it (its seal's contents): as
    # VerifyDocument would refuse it, not as a PDF damaged by sealing
    monkeypatch.setattr(pdf_module, "MAX_READING_BYTES", 60 * 1024)  # 100 pages: 50 KB; sealed, verified: 68 KB
    reason, message, _ = refused(
        lambda: stub(running).IssueLicense(new_request(27, document=numbered_pages(100, 200)), timeout=60), "document"
    )
    assert (reason, message.startswith("PDF 文件结构过于复杂")) == ("PDF_TOO_COMPLEX", True), message
    # and the next issuer's sealing is served at once
    sealed = seals(running, POLICE).SealDocument(
        seal_pb2.SealDocumentRequest(seal_id=police_seal.seal_id, pdf=license_pdf(running)), timeout=30
    )
    assert sealed.sealed_pdf.startswith(b"%PDF-")
