"""A PDF the gateway cannot use, refused as the people who sent it read it: Chinese first, one sentence per reason.

>>> from signing.pdf import NotAPdf
>>> pdf_refusal("pdf", NotAPdf("the data does not start with a %PDF- header")).violations[0].description
'不是 PDF 文件（the data does not start with a %PDF- header）'

Verifying (``VerifyDocument``), sealing (``SealDocument``) and an issuer's own license document (``IssueLicense``)
all refuse a PDF in these words: the signing package's messages are English, shared with the CLI, and follow in
full-width brackets; the reason is the ``signing.pdf.PdfError``'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.domain.errors import InvalidRequestError, invalid
from signing.pdf import PdfError

PDF_REFUSALS: Mapping[str, str] = {
    "PDF_TOO_LARGE": "PDF 文件过大",
    "PDF_TOO_COMPLEX": "PDF 文件结构过于复杂，无法读取",
    "NOT_A_PDF": "不是 PDF 文件",
    "TRUNCATED_PDF": "PDF 文件不完整，可能被截断了",
    "DAMAGED_PDF": "PDF 文件已损坏，无法读取",
    "TOO_MANY_REVISIONS": "PDF 文件修订次数过多",
    "ENCRYPTED_PDF": "PDF 文件已加密",
    "CERTIFIED_NO_CHANGES": "PDF 文件已由制作者认证锁定，不允许再盖章",
    "NO_SIGNATURE": "PDF 文件没有签章",
    "SIGNATURE_UNREADABLE": "PDF 文件的签章无法读取",
    "BAD_PLACEMENT": "盖章页码或位置超出 PDF 文件范围",
}
"""A short sentence for each reason a PDF is refused with (``signing.pdf.PdfError``)."""


def pdf_refusal(field: str, error: PdfError, *, advice: str = "") -> InvalidRequestError:
    """INVALID_ARGUMENT on ``field`` with ``error``'s reason, said Chinese first (``PDF_REFUSALS``, then ``advice``
    after a comma, e.g. what to do), its English message in brackets."""
    said = PDF_REFUSALS.get(error.reason, "PDF 文件无法处理")
    return invalid(field, error.reason, f"{said}{'，' + advice if advice else ''}（{error}）")
