"""Electronic seals (电子印章) as the gateway records them.

>>> seal.effective_status(now)   # doctest: +SKIP
<SealStatus.ACTIVE: 'ACTIVE'>
"""

from __future__ import annotations

import datetime as dt
import enum
import string
import unicodedata
from dataclasses import dataclass, field

from gateway.domain.errors import ConflictError, FieldViolation
from signing.receipts import RECEIPT_SEAL_NAME
from signing.ses import SEAL_MAKER_NAME

SEAL_NAME_MAX = 12
DEFAULT_VALIDITY_DAYS = 730
MAX_VALIDITY_DAYS = 1825
SM2_MAKER_NAME = SEAL_MAKER_NAME
"""The seal name of the gateway's SM2 seal maker (GB/T 38540 制章者): a stamp's seal made with another certificate
fails (``signing.ses``)."""
RESERVED_SEAL_NAMES = (RECEIPT_SEAL_NAME, SM2_MAKER_NAME)
"""Names only the gateway's own seals carry, under the same seal-maker CA as the issuers': a receipt checked offline
is accepted as the gateway's by its seal name (``signing.receipts``), so an issuer's seal by that name could sign
receipts that pass."""

_TRADITIONAL = str.maketrans("驗験騐執專専電製覈迴囘廻囬", "验验验执专专电制核回回回回")
"""Traditional, Japanese and variant forms of the reserved names' characters (after NFKC, which takes the
compatibility ideographs such as U+FA5B 者): 核驗回執專用章 reads as the receipts' seal, and so did 核験回执専用章 in
the Japanese forms, which had passed (a reviewer). Each of the names' characters with a variant a reader takes for it
(Unihan's semantic and Z-variants, and the Japanese shinjitai) is here."""


class SealStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"  # derived when read, never stored


class CrlReason(enum.Enum):
    """RFC 5280 reasons a seal revocation may give (all final: no certificateHold)."""

    KEY_COMPROMISE = "key_compromise"
    AFFILIATION_CHANGED = "affiliation_changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation_of_operation"


@dataclass(frozen=True, slots=True, kw_only=True)
class Seal:
    seal_id: str
    issuer_code: str
    name: str
    """The seal's name, e.g. 电子证照专用章."""
    algorithm: str
    key_id: str
    key_ref: str
    """Where the key lives, e.g. ``file:seal0MJ…`` (a key store owner)."""
    certificate_der: bytes
    certificate_serial: int
    image_png: bytes
    valid_from: dt.datetime
    valid_until: dt.datetime
    status: SealStatus
    """The stored status (ACTIVE or REVOKED); see ``effective_status``."""
    revoked_at: dt.datetime | None = None
    revocation_reason: str = ""
    crl_reason: str = ""
    ses_seal: bytes | None = None
    """For an SM2 seal: its GB/T 38540 SES_Seal (DER), made and signed by the SM2 seal maker."""

    def effective_status(self, now: dt.datetime) -> SealStatus:
        if self.status is SealStatus.ACTIVE and now >= self.valid_until:
            return SealStatus.EXPIRED
        return self.status


SEAL_NAME_PUNCTUATION = "（）()〔〕【】·・、-－—"
"""The punctuation a seal's name may hold besides Chinese characters, letters and digits: 合同专用章（二）, 〔2025〕,
【二】, 合同专用章－二 or —二, and the middle dot as Chinese input methods give it, · or ・ (a reviewer)."""

_SPLITTING = str.maketrans("", "", SEAL_NAME_PUNCTUATION + unicodedata.normalize("NFKC", SEAL_NAME_PUNCTUATION))
"""``SEAL_NAME_PUNCTUATION`` (and its NFKC forms, （ as ( and so on), taken out of a name before it is compared with
the reserved names: 电子印章·制章者 and 核验回执（专用章） read as the gateway's own seals too, and had passed (a
reviewer)."""


def seal_name_violation(name: str) -> FieldViolation | None:
    """Why ``name`` is no seal's name (印章名称), or None: 1 to ``SEAL_NAME_MAX`` characters, each a Chinese
    character, a Latin letter or a digit (ASCII or full width) or one of ``SEAL_NAME_PUNCTUATION``, at least one a
    Chinese character (a seal's name is in 规范汉字, a foreign name beside it), and none of the gateway's own seals'
    names. The name is engraved on the round seal: emoji, stray punctuation or a template's placeholder (😀,
    ``"}``, ``NaN``, ``%s%n``, ``-1``) had been, and became the issuer's newest seal (an independent fuzz tester).
    Spaces, controls, combining marks and invisible characters are none of those either. The letters of other
    scripts are refused as being of a script not engraved here: a bilingual seal's Mongolian, Tibetan or Uyghur
    name is drawn by none of the seal image's fonts (``signing.seal_image``), and PIL's basic layout would not
    join or stack its letters if one did."""
    if not name:
        return FieldViolation(field="name", reason="REQUIRED", description="the seal's name is required")
    stray = next((c for c in name if not (_chinese(c) or c in _BESIDE_CHINESE)), None)
    if stray is not None:
        letter = unicodedata.category(stray).startswith("L") and not unicodedata.name(stray, "").startswith("LATIN")
        why = f"{_named(stray)} is {'of a script not engraved here' if letter else 'none of them'}"
    elif len(name) > SEAL_NAME_MAX:
        why = f"this one has {len(name)} characters"
    elif not any(_chinese(c) for c in name):
        why = "this one has none"
    else:
        why = ""
    if why:
        return FieldViolation(
            field="name",
            reason="BAD_SEAL_NAME",
            description=f"a seal name is 1-{SEAL_NAME_MAX} Chinese characters, letters, digits and "
            f"{SEAL_NAME_PUNCTUATION}, one Chinese at least: {why}",
        )
    folded = unicodedata.normalize("NFKC", name).translate(_TRADITIONAL).translate(_SPLITTING)
    if any(reserved in folded for reserved in RESERVED_SEAL_NAMES):
        return FieldViolation(
            field="name",
            reason="RESERVED_SEAL_NAME",
            description=f"{'、'.join(RESERVED_SEAL_NAMES)} are the gateway's own seals' names",
        )
    return None


_BESIDE_CHINESE = frozenset(
    string.ascii_letters
    + string.digits
    + "".join(chr(ord(c) + 0xFEE0) for c in string.ascii_letters + string.digits)
    + SEAL_NAME_PUNCTUATION
)
"""What a seal's name may hold besides Chinese characters: ASCII letters and digits, their full-width forms (Ａ, ０)
as Chinese input methods type them, and ``SEAL_NAME_PUNCTUATION``."""


def _chinese(c: str) -> bool:
    """A Chinese character: a CJK ideograph of any extension, 〇 too."""
    return c == "〇" or unicodedata.name(c, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def _named(c: str) -> str:
    """A character as a refusal names it: itself and its code point, or the code point alone if it cannot be seen."""
    return f"'{c}' (U+{ord(c):04X})" if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}"


def validity_violation(days: int) -> FieldViolation | None:
    if not 0 <= days <= MAX_VALIDITY_DAYS:
        return FieldViolation(
            field="validity_days",
            reason="BAD_VALIDITY",
            description=f"validity_days must be 1-{MAX_VALIDITY_DAYS} (0: {DEFAULT_VALIDITY_DAYS})",
        )
    return None


def revoked_while_sealing(seal_id: str, name: str, *, named: bool = False) -> ConflictError:
    """SEAL_REVOKED for a call whose seal was revoked between its choice and the commit of what it sealed: the
    revocation may have been made through another process of the store, and nothing of the call is stored. It is
    what happened, and a retry is sealed with the issuer's current seal (the single-process refusal had blamed a
    store restored from a copy, or an edit behind the gateway's back: a concurrency tester). ``named``: a call that
    names its seal (SealDocument, StampDocument), whose retry names it again and is refused again: another active
    seal is to be chosen, or a new one registered (it had been told a retry would use the issuer's current seal, and
    a clerk's system following the words retried in a loop; a reviewer, R2)."""
    if named:
        return ConflictError(
            f"印章 {seal_id}（{name}）在本次请求办理期间被吊销，本次请求未写入任何内容：该印章已不能再用，"
            "请改用本部门其他有效印章（ListSeals），或登记新印章（RegisterSeal）"
            f"（seal {seal_id} was revoked while this call was being made, and nothing of it was stored: it seals "
            "nothing more, so a retry naming it is refused too; choose another active seal of the issuer (ListSeals), "
            "or register a new seal (RegisterSeal)）",
            reason="SEAL_REVOKED",
        )
    return ConflictError(
        f"印章 {seal_id}（{name}）在本次请求办理期间被吊销，本次请求未写入任何内容："
        "请重试，将以本部门现行有效的印章签章；如已没有有效印章，请先登记新印章"
        f"（seal {seal_id} was revoked while this call was being made, and nothing of it was stored: retry, and "
        "it will be sealed with the issuer's current seal; if it has none left, register a new seal first "
        "(RegisterSeal)）",
        reason="SEAL_REVOKED",
    )


class DocumentSource(enum.Enum):
    RENDERED = "RENDERED"
    """Drawn by the gateway from the license type's template."""
    SUPPLIED = "SUPPLIED"
    """Sent by the issuer with the license and sealed by the gateway."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseDocument:
    """The sealed PDF of one license version (电子证照版式文件)."""

    license_id: str
    """The license version it belongs to."""
    pdf: bytes
    """The sealed PDF."""
    sha256: str
    """Hex SHA-256 of ``pdf``: how a PDF handed over by an applicant is found in the registry."""
    source: DocumentSource
    seal_id: str
    """The seal that sealed it."""
    created_at: dt.datetime
    memo: bytes = field(default=b"", compare=False, repr=False)
    """The gateway's memo of which license this document is (``signing.record.SealMemos.document``); empty when
    the gateway keeps no memos."""
    printed: frozenset[str] | None = field(default=None, compare=False, repr=False)
    """The keys of the fields a document the gateway drew prints; None when not known (a supplied document, one
    stored before schema 0034)."""
