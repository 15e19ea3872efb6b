"""The printed form of a license (电子证照版式文件): one PDF page drawn from its license type's template.

>>> pdf = render_license_pdf(                                                                    # doctest: +SKIP
...     content, license_type, issuer_name="济南市市场监督管理局", qr_text=text, drawn_at=now
... )
>>> Path("license.pdf").write_bytes(pdf)                                                           # doctest: +SKIP

Every type is drawn on one A4 portrait page, card-like types (居民身份证, 社会保障卡) too, so that the seal's place
``SEAL_BOX`` is one constant the sealing step can rely on. From the top:

- a double frame; the verification QR code (核验二维码) in the top right corner with the caption 扫码核验;
- the type's name as the title (营业执照), its English name beneath when the catalog has one;
- the license number after the type's ``license_number_label`` (统一社会信用代码, 公民身份号码, ...);
- a table of the type's fields in catalog order, with their Chinese labels. Absent fields are left out, and so are
  SECRET fields (a photo reference is not something to print); SENSITIVE fields and the holder are printed in full,
  as on the paper license, because the document is made for the holder. A holder whom no field names gets rows of
  their own (持证主体 and the code's type). Long values wrap inside their cell, and when the table is too tall the
  whole table is set in a smaller size, down to ``MIN_FONT_SIZE``; beyond that ``RenderError``;
- bottom left, the validity (有效期限 from … 至 until, or 长期) of a type that has one (the catalog's ``expires``: a
  结婚证 has no validity, and a 营业执照's term is its own field, 营业期限, so neither prints a 有效期限 line its paper
  does not have); bottom right, ``SEAL_BOX`` left empty for the electronic seal, with the issuer's name and the issue
  date centred beneath it where a seal "rides the date";
- at the foot, in small type, the GB/T 36904 identifier (电子证照标识).

Chinese is set in the CJK font (``find_cjk_font``); Droid Sans Fallback has no Latin letters or digits, so characters
it lacks come from Bitstream Vera, which reportlab ships. A rare character (生僻字) that neither has, such as 𠮷
(U+20BB7, CJK Extension B) in a holder's name, comes from the first of the fallback fonts (``find_fallback_fonts``:
Hanazono Mincho A and B) that has it, and one that no font has is printed as 〓; one that prints as nothing (a
variation selector, a joiner: ``DEFAULT_IGNORABLE``) is not drawn at all. Letters of another script that no
font has (Uyghur, Mongolian, Tibetan with the fonts installed) would be a row of 〓, and marks no font has (Thai vowel
and tone signs, a combining accent with no precomposed letter) a 〓 inside a word: ``unprintable`` finds them, and
issuing refuses to draw such a value (``DocumentService.check_printable``). Fonts are embedded as subsets of the
characters printed, so a fallback font is in the PDF only when the page needs it. The PDF is drawn with reportlab's
``invariant`` mode: the same inputs give the same bytes. The drawing time is one of them: it is the document's
creation date (``/CreationDate``; the invariant mode alone wrote 2000-01-01 on every document). The document
information names the license (``/Title`` its type and number, a person's number masked: ``document_title``;
``/Author`` the issuer, ``/Subject`` its GB/T 36904 identifier), and the catalog says the page is Chinese
(``/Lang zh-CN``, for a screen reader's voice) and that a viewer shows the title rather than the file's name
(``DisplayDocTitle``). The page is not tagged.

Licenses are drawn one at a time in a process (``_DRAWING_LOCK``): reportlab's fonts, registered once per process,
cannot be drawn with from two threads at once, and the gateway's handler threads draw licenses as they are issued.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import reportlab
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from gateway.domain.catalog import HOLDER_CODE_TYPES, LicenseType, Sensitivity, ValueType
from gateway.domain.identifiers import carries_birth_date
from gateway.domain.model import LicenseContent, mask
from gateway.domain.printed_form import PrintedForm
from signing.errors import SigningError
from signing.qr import qr_png
from signing.seal_image import find_cjk_font, find_fallback_fonts

PAGE_SIZE: tuple[float, float] = A4
"""Width and height of the page in PDF points (1/72 inch): A4 portrait, 595.28 × 841.89."""

SEAL_BOX: tuple[int, int, int, int] = (434, 90, 547, 203)
"""Where the seal goes: (left, bottom, right, top) in PDF points from the page's lower left corner, pyHanko's
``SigFieldSpec.box`` convention. A 113 pt (40 mm) square whose right edge is on the right margin; nothing is drawn
in it."""

QR_BOX: tuple[int, int, int, int] = (471, 718, 547, 794)
"""Where the QR code is drawn, (left, bottom, right, top) in PDF points: 76 pt (27 mm) in the top right corner."""

MAX_FONT_SIZE = 11.0
MISSING_GLYPH = "〓"
"""Printed for a character the fonts cannot draw (GB typesetting's 缺字 mark)."""
MIN_FONT_SIZE = 6.5
"""Range of the table's type size; a table that does not fit at the smallest raises RenderError."""

_MARGIN = 48.0
_TITLE_SIZE = 30.0
_TITLE_SPACING = 6.0
_TABLE_TOP = 684.0
_TABLE_BOTTOM = SEAL_BOX[3] + 14.0
_CELL_PAD_X = 6.0
_FRAME_INSIDE = 27.0  # the inner frame's distance from the page's edges
_LINE_ROOM = PAGE_SIZE[0] - 2 * _MARGIN  # the widest a line outside the table is set, between the margins
_CELL_PAD_Y = 4.0
_MAX_CELL_PAD_Y = 9.0  # a short table is given air, up to this padding, rather than leaving the page empty
_LEADING = 1.4
_SIZE_STEP = 0.5
_ID_SIZE = 7.0
_BOLD_STROKE = 0.03  # of the type size

_INK = HexColor("#1A1A1A")
_MUTED = HexColor("#5A5A5A")
_FRAME = HexColor("#9E1B1B")
_RULE = HexColor("#7A7A7A")
_LABEL_FILL = HexColor("#F7F1E8")

DEFAULT_IGNORABLE: frozenset[int] = frozenset(
    code
    for first, last in (
        # Unicode 14.0 (the gateway Python's), DerivedCoreProperties.txt: Default_Ignorable_Code_Point, reserved too
        (0x00AD, 0x00AD),  # soft hyphen
        (0x034F, 0x034F),  # combining grapheme joiner
        (0x061C, 0x061C),  # Arabic letter mark
        (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
        (0x17B4, 0x17B5),  # Khmer inherent vowels
        (0x180B, 0x180F),  # Mongolian free variation selectors and vowel separator
        (0x200B, 0x200F),  # zero width space, non-joiner, joiner; left-to-right and right-to-left marks
        (0x202A, 0x202E),  # direction embeddings and overrides
        (0x2060, 0x206F),  # word joiner, invisible operators, direction isolates, deprecated format characters
        (0x3164, 0x3164),  # Hangul filler
        (0xFE00, 0xFE0F),  # variation selectors 1-16
        (0xFEFF, 0xFEFF),  # zero width no-break space (byte order mark)
        (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
        (0xFFF0, 0xFFF8),
        (0x1BCA0, 0x1BCA3),  # shorthand format controls
        (0x1D173, 0x1D17A),  # musical symbol format controls
        (0xE0000, 0xE0FFF),  # tags, variation selectors 17-256 (U+E0100-E01EF: ideographic variation sequences)
    )
    for code in range(first, last + 1)
)
"""Characters that print as nothing (Unicode's Default_Ignorable_Code_Point): never drawn, in any font, and not
printed as 〓 either. The record and its QR code keep them: a variation selector after a rare Han character (葛 +
U+E0100), a joiner or direction mark of Uyghur, a Mongolian free variation selector. The page has neither shaping nor
variation sequences for them to act on, and the fonts that have glyphs for some draw a visible mark (HanaMinA a dashed
box "VS1" for U+FE00, Vera a hyphen for the soft hyphen), which the page had shown, or 〓 where no font had them
(葛〓庄村, a reviewer, R3)."""

_LATIN_FONT_FILE = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
_LATIN_FONT = "zzgw-latin-vera"
_WIDE_TO_UNICODE = re.compile(r"^(<[0-9A-F]{2}> )<([0-9A-F]{5,6})>$", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z0-9@._/+\-]+|.", re.DOTALL)
_NO_LINE_START = frozenset("，。、；：？！）》」』】,.;:?!)%")
"""Punctuation that may not begin a line (避头点): where it does not fit, the character before it comes down with it
(``_wrap``)."""


Template = LicenseType | PrintedForm
"""What a license is drawn on: its type as the catalog has it, or as it was when the license was issued
(``PrintedForm``, kept with a license whose document is drawn later)."""


class RenderError(SigningError):
    """A license cannot be drawn: a font cannot be read, or the content does not fit on one page."""


FIT_CHECK_CHARACTERS = 600
"""Printed values shorter than this in all fit every template at its largest size with room to spare (a test
fills each bootstrap type to it), so ``fits`` lays out only longer ones: the check costs no more than a length."""
LINE_BREAK_CHARACTERS = 60
"""What a line break in a value weighs in that count: the characters of a whole line of the widest template at its
largest size, which the break may leave empty (60 breaks in 120 characters of a 住所 did not fit)."""


def printed_weight(value: str) -> int:
    """How much of a page ``value`` may take, in characters: its length, and a whole line for each line break."""
    return len(value) + LINE_BREAK_CHARACTERS * (len(value.splitlines()) - 1 if value else 0)


def fits(content: LicenseContent, license_type: Template, *, font: Path | None = None) -> bool:
    """Whether ``content`` can be drawn on one page (``render_license_pdf`` would not raise RenderError for its
    size): checked when a license is issued, so that one whose document is drawn later (batches) can be drawn."""
    rows = _rows(content, license_type)
    if sum(len(label) + printed_weight(value) for label, value in rows) < FIT_CHECK_CHARACTERS:
        return True
    try:
        _fit_table(rows, _fonts(font if font is not None else find_cjk_font(), find_fallback_fonts()))
    except DoesNotFit:
        return False
    return True


_HAN: tuple[tuple[int, int], ...] = (
    (0x3005, 0x3005),  # 々
    (0x3007, 0x3007),  # 〇
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3038, 0x303B),
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x16FE2, 0x16FE3),
    (0x16FF0, 0x16FF1),
    (0x20000, 0x3FFFF),  # the Supplementary and Tertiary Ideographic Planes: Extensions B-I, compatibility supplement
)
"""The code points of the Han script (Unicode's Scripts.txt, ``Han``), as ranges: a Han character that no font has
is printed as 〓, the mark of a missing type in Chinese print (``unprintable`` lets it through)."""


def unprintable(texts: Sequence[str], *, font: Path | None = None) -> list[str]:
    """For each of ``texts``, its letters and marks (Unicode categories L* and M*) that no font of the document draws,
    each once, in the order they come: drawn, each would be 〓. Marks are among them as letters are: a Thai vowel or
    tone sign, a combining mark with no precomposed letter (q̇, x̌, a Cyrillic stress accent) had printed 〓 inside
    words whose letters the fonts have (a reviewer, R1). Han characters are not among them: a rare one no font has is
    printed as 〓, as Chinese print marks a missing type, the record keeping it. Characters of other categories
    (digits, punctuation, symbols such as emoji) are not either, nor what prints as nothing (``DEFAULT_IGNORABLE``,
    a variation selector: ``face_for`` drops it). Fonts as ``render_license_pdf`` takes them, found once for all
    ``texts`` (the check runs on every license issued)."""
    fonts: _Fonts | None = None
    found: list[str] = []
    for text in texts:
        if text.isascii():  # Vera has every ASCII letter
            found.append("")
            continue
        if fonts is None:
            fonts = _fonts(font if font is not None else find_cjk_font(), find_fallback_fonts())
        others = set(map(ord, text)) - fonts.cjk.chars  # most often none: Chinese text
        missing = [
            char
            for char in dict.fromkeys(char for char in text if ord(char) in others)
            if unicodedata.category(char)[0] in "LM"
            and not any(first <= ord(char) <= last for first, last in _HAN)
            and fonts.face_for(char)[1] == MISSING_GLYPH
        ]
        found.append("".join(missing))
    return found


class DoesNotFit(RenderError):
    """The content does not fit on one page even at ``MIN_FONT_SIZE``."""


def render_license_pdf(
    content: LicenseContent,
    license_type: Template,
    *,
    issuer_name: str,
    qr_text: str,
    drawn_at: dt.datetime,
    font: Path | None = None,
) -> bytes:
    """Draw ``content`` on its type's template as a one-page PDF, with ``qr_text`` as the verification code and
    ``drawn_at`` (aware) as its creation date.

    ``font`` is a TrueType font with Chinese glyphs (default: ``find_cjk_font()``); characters it lacks come from
    Vera and then ``find_fallback_fonts()``. Raises ValueError when the content is of another type, RenderError when
    a font cannot be read or the content does not fit on one page, SealImageError when there is no CJK font or
    ``$ZZGW_CJK_FALLBACK_FONTS`` names a file that is not there.
    """
    if content.type_code != license_type.code:
        raise ValueError(f"content of type {content.type_code} drawn on the template of {license_type.code}")
    if drawn_at.tzinfo is None:
        raise ValueError("a license's drawing time must say its zone")
    created = drawn_at.astimezone(dt.UTC).strftime("D:%Y%m%d%H%M%SZ")
    fonts = _fonts(font if font is not None else find_cjk_font(), find_fallback_fonts())
    rows = _rows(content, license_type)
    table = _fit_table(rows, fonts)  # widths only: reads the fonts' metrics, which no one writes once they are read
    qr = ImageReader(io.BytesIO(qr_png(qr_text)))

    out = io.BytesIO()
    with _DRAWING_LOCK:
        canvas = Canvas(
            out, pagesize=PAGE_SIZE, invariant=1, pageCompression=1, initialFontName=fonts.cjk.name, lang="zh-CN"
        )
        canvas.setDateFormatter(lambda *_: created)  # reportlab's own date, invariant, is 2000-01-01
        canvas.setTitle(document_title(content, license_type))
        canvas.setAuthor(issuer_name)
        canvas.setSubject(content.license_id)
        canvas.setCreator("zzgw")
        canvas.setViewerPreference("DisplayDocTitle", "true")
        page = _Page(canvas, fonts)
        page.frame()
        page.qr(qr)
        page.header(license_type, content.license_number)
        page.table(table)
        page.footer(content, issuer_name, validity=license_type.expires)
        canvas.showPage()
        canvas.save()  # where the fonts are subset: the shared reader's position moves
    return out.getvalue()


def document_title(content: LicenseContent, license_type: Template) -> str:
    """The document's title (``/Title``, and the XMP ``dc:title`` the seal carries it into): the type's name and the
    license number, masked as the ZZ1 code masks a person's code (``居民身份证 3701**********7863``) where the number
    is a person's: a type whose number is its holder's code (``license_number_of_holder``) held by a person, or a
    number of a 公民身份号码's form under any type. The title leaves the page: a viewer's window and recent files, a
    print queue's job log, a desktop search index, a mail preview, where nobody looks at the page and a person's
    number should not be (a privacy auditor, D2). An organisation's 统一社会信用代码 stays whole: public registration
    data, printed for all (``Holder.publicly_registered``). Documents sealed before keep their title: it is under
    the seal."""
    number = content.license_number
    persons = license_type.license_number_of_holder and not content.holder.publicly_registered
    if persons or carries_birth_date(number):
        number = mask(number)
    return f"{license_type.name} {number}"


# --- fonts ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Face:
    """A font registered with reportlab: the name it is set by, and the characters it has glyphs for."""

    name: str
    chars: frozenset[int]


@dataclass(frozen=True, slots=True)
class _Fonts:
    """The fonts a license is set in, each character from the first that has it."""

    cjk: _Face
    latin: _Face
    fallbacks: tuple[Path, ...]
    """Read only when a character needs them (``_face``): HanaMinA and B are 22 and 30 MB, and most names do not."""

    def runs(self, text: str) -> list[tuple[str, str]]:
        """``text`` cut into (font name, text) runs of one font each (``face_for``), the characters that print as
        nothing left out.

        Line breaking measures each line again for every character it adds, so the common case, a character of the
        CJK font, is decided here without the call."""
        runs: list[tuple[str, str]] = []
        cjk_name, cjk_chars = self.cjk.name, self.cjk.chars
        for char in text:
            name, char = (cjk_name, char) if ord(char) in cjk_chars else self.face_for(char)
            if not char:
                continue
            if runs and runs[-1][0] == name:
                runs[-1] = (name, runs[-1][1] + char)
            else:
                runs.append((name, char))
        return runs

    def face_for(self, char: str) -> tuple[str, str]:
        """The font that draws ``char``, and what it draws: the CJK font where it has the glyph, else Vera where it
        has, else the first fallback font that has it. A character none has (an emoji) is printed as 〓, the
        typesetter's mark for a missing type, not dropped: the printed name must not silently differ from the
        record's. Whitespace that neither the CJK font nor Vera has stays with the CJK font: a tab is no reason to
        read a fallback font. A character that prints as nothing (``DEFAULT_IGNORABLE``: a variation selector, a
        joiner) is not drawn at all: it comes back as the empty text, with the CJK font."""
        code = ord(char)
        if code in DEFAULT_IGNORABLE:
            return self.cjk.name, ""
        if code in self.cjk.chars:
            return self.cjk.name, char
        if code in self.latin.chars:
            return self.latin.name, char
        if char.isspace():
            return self.cjk.name, char
        for path in self.fallbacks:
            face = _face(path, fallback=True)
            if code in face.chars:
                return face.name, char
        return self.cjk.name, MISSING_GLYPH

    def width(self, text: str, size: float, char_space: float = 0.0) -> float:
        runs = self.runs(text)
        glyphs = sum(float(pdfmetrics.stringWidth(run, name, size)) for name, run in runs)
        return glyphs + char_space * sum(len(run) for _, run in runs)


_DRAWING_LOCK = threading.Lock()
"""Held from a canvas's making to its saving, so that one license is drawn at a time in a process.

The fonts are registered with reportlab once per process (``_face``), and a registered ``TTFont`` is not safe to
draw with from two threads: saving a document subsets each font it used (``TTFontFile.makeSubset``, called from
``TTFont.addObjects``), reading the composite glyphs' components through the font file's one read position
(``TTFontParser._pos``, moved by ``seek``, ``skip`` and ``read_ushort``), so two documents saved at once read at each
other's positions. That raised KeyError or IndexError (an INTERNAL answer to a valid IssueLicense), or silently
embedded a subset with glyphs the page does not use (a sealed PDF that is not the bytes the same license draws to
alone). The text drawn before saving goes into the font's per-document state (``TTFont.state``, keyed by the
document, in a dictionary the threads share), which the lock covers too rather than relying on its being safe.
A fallback font may be read and registered while it is held (``_face`` takes ``_FONTS_LOCK``); nothing waits for this
lock while holding ``_FONTS_LOCK``.

Laying the table out (``_fit_table``, ``fits``) and making the QR code are left outside: they only read a font's
widths and character map, which nothing changes once the font is read. What the lock serialises, drawing the page and
saving it (subsetting the fonts, compressing the streams), is about half of the 20-25 ms a license takes to draw, and
it is Python code that the GIL serialised already: 8 threads drawing 39 licenses took as long with the lock as without
it (0.7-0.9 s), and one thread's drawing is no slower."""

_FONTS_LOCK = threading.Lock()
_FONTS: dict[tuple[Path | str, tuple[Path | str, ...]], _Fonts] = {}
_FACES: dict[Path, _Face] = {}


def _fonts(cjk_file: Path, fallback_files: tuple[Path, ...] = ()) -> _Fonts:
    """The CJK font and Vera, registered with reportlab, and the fallback fonts to read when a character needs one.
    Found by the paths as given, then as resolved (resolving them takes about 0.3 ms, and ``unprintable`` asks for the
    fonts at every issue)."""
    given = (str(cjk_file), tuple(str(path) for path in fallback_files))
    with _FONTS_LOCK:
        fonts = _FONTS.get(given)
    if fonts is not None:
        return fonts
    key = (cjk_file.resolve(), tuple(path.resolve() for path in fallback_files))
    with _FONTS_LOCK:
        fonts = _FONTS.get(key)
    if fonts is None:
        fonts = _Fonts(cjk=_face(key[0]), latin=_face(_LATIN_FONT_FILE, name=_LATIN_FONT), fallbacks=key[1])
    with _FONTS_LOCK:
        fonts = _FONTS.setdefault(key, fonts)
        _FONTS[given] = fonts
    return fonts


def _face(path: Path, *, name: str | None = None, fallback: bool = False) -> _Face:
    """The font in ``path`` (resolved), read and registered with reportlab once per process: the registry is
    process-wide, and reading a font costs 0.2 s for Droid Sans Fallback, 0.3 s for HanaMinB.

    A ``fallback`` font draws only what the CJK font and Vera lack, never ASCII, so it does not get reportlab's
    readable ASCII codes, which embed a font's 95 ASCII glyphs in every PDF that uses it (10 KB of Hanazono's)."""
    with _FONTS_LOCK:
        face = _FACES.get(path)
        if face is None:
            name = name or "zzgw-cjk-" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
            face = _register(name, path, ascii_readable=not fallback)
            _FACES[path] = face
    return face


def _register(name: str, path: Path, *, ascii_readable: bool) -> _Face:
    try:
        font = _TTFont(name, str(path), asciiReadable=ascii_readable)
    except (TTFError, OSError) as exc:
        raise RenderError(f"cannot read font {path}: {exc}") from exc
    pdfmetrics.registerFont(font)
    # what prints as nothing is never drawn, whatever glyph the font has for it (``DEFAULT_IGNORABLE``)
    return _Face(name=name, chars=frozenset(int(code) for code in font.face.charToGlyph) - DEFAULT_IGNORABLE)


class _TTFont(TTFont):  # type: ignore[misc]  # reportlab ships no type information
    """reportlab's TrueType font, with text that reads back right for characters beyond the BMP.

    reportlab maps them (HanaMinB's format 12 cmap) and embeds their glyphs, but writes their entries in the subset's
    ToUnicode CMap as the bare code point, ``<20BB7>``, where PDF wants UTF-16BE, ``<D842DFB7>``: the page shows
    𠮷, and copying, searching or extracting its text (poppler, pdfium) gives ₻ (U+20BB). Those entries are
    rewritten once reportlab has made the font's objects, before the document is written out."""

    def addObjects(self, doc: Any) -> None:
        super().addObjects(doc)
        suffix = "+" + (self.face.name + self.face.subfontNameX).decode("pdfdoc")  # as reportlab names it
        for key, stream in doc.idToObject.items():
            if key.startswith("toUnicodeCMap:") and key.endswith(suffix):
                stream.content = _WIDE_TO_UNICODE.sub(_utf16_entry, stream.content)


def _utf16_entry(entry: re.Match[str]) -> str:
    return f"{entry[1]}<{chr(int(entry[2], 16)).encode('utf-16-be').hex().upper()}>"


# --- content ----------------------------------------------------------------------------------------------------


def _rows(content: LicenseContent, license_type: Template) -> list[tuple[str, str]]:
    """(label, value) rows in catalog order: absent and SECRET fields left out, the holder added if no field names
    them."""
    rows: list[tuple[str, str]] = []
    for spec in license_type.fields:
        value = content.fields.get(spec.key, "").strip()
        if not value or spec.sensitivity is Sensitivity.SECRET:
            continue
        rows.append((spec.label, _chinese_date(value) if spec.value_type is ValueType.DATE else value))
    values = {value for _, value in rows}
    holder = content.holder
    extra: list[tuple[str, str]] = []
    if holder.name not in values:
        extra.append(("持证主体", holder.name))
    if holder.code not in values and holder.code != content.license_number:
        extra.append((HOLDER_CODE_TYPES.get(holder.code_type, "证件号码"), holder.code))
    return extra + rows


def _chinese_date(value: str) -> str:
    try:
        return _date_text(dt.date.fromisoformat(value))
    except ValueError:
        return value


def _date_text(day: dt.date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


# --- table layout -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    label: tuple[str, ...]
    value: tuple[str, ...]
    height: float


@dataclass(frozen=True, slots=True)
class _Table:
    size: float
    pad_y: float
    label_width: float
    rows: tuple[_Row, ...]


def _fit_table(rows: list[tuple[str, str]], fonts: _Fonts) -> _Table:
    """The rows wrapped at the largest type size at which the table fits between the header and the footer."""
    width = PAGE_SIZE[0] - 2 * _MARGIN
    available = _TABLE_TOP - _TABLE_BOTTOM
    size = MAX_FONT_SIZE
    while size >= MIN_FONT_SIZE:
        label_width = min(
            max([fonts.width(label, size) for label, _ in rows] + [4 * size]) + 2 * _CELL_PAD_X, width / 3
        )
        value_width = width - label_width
        laid: list[_Row] = []
        for label, value in rows:
            label_lines = _wrap(label, fonts, size, label_width - 2 * _CELL_PAD_X)
            value_lines = _wrap(value, fonts, size, value_width - 2 * _CELL_PAD_X)
            lines = max(len(label_lines), len(value_lines))
            laid.append(_Row(label=tuple(label_lines), value=tuple(value_lines), height=lines * size * _LEADING))
        spare = available - sum(row.height + 2 * _CELL_PAD_Y for row in laid)
        if spare >= 0:
            pad_y = min(_MAX_CELL_PAD_Y, _CELL_PAD_Y + spare / (2 * max(len(laid), 1)))
            rows_padded = tuple(_Row(label=row.label, value=row.value, height=row.height + 2 * pad_y) for row in laid)
            return _Table(size=size, pad_y=pad_y, label_width=label_width, rows=rows_padded)
        size -= _SIZE_STEP
    raise DoesNotFit(f"the license's fields do not fit on one page even at {MIN_FONT_SIZE} pt")


def _wrap(text: str, fonts: _Fonts, size: float, width: float) -> list[str]:
    """Greedy line breaking: between any two CJK characters, between Latin words, never before closing punctuation;
    a Latin word longer than a line is cut. No line is wider than ``width``.

    Punctuation that may not begin a line (避头点) and does not fit at the end of a full line takes the character
    before it down to the next line (推出, "push-out"), with any such marks between them, rather than hanging past
    the cell: hung marks crossed the table's rule, and a run of them ran off the page. Where nothing before them may
    start a line (a line of marks alone), the mark starts the next line."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line: list[str] = []  # the line's tokens, so that a push-out takes whole Latin words
        for token in _WORD.findall(paragraph):
            if not line and token.isspace():
                continue
            if fonts.width("".join(line) + token, size) <= width:
                line.append(token)
                continue
            if line and token in _NO_LINE_START:
                carried = _pushed_out(line, token, fonts, size, width)
                if carried:
                    lines.append("".join(line[: len(line) - len(carried)]).rstrip())
                    line = [*carried, token]
                    continue
            if line:
                lines.append("".join(line).rstrip())
                line = []
            if token.isspace():
                continue
            for char in token:
                if line and fonts.width("".join(line) + char, size) > width:
                    lines.append("".join(line))
                    line = []
                line.append(char)
        lines.append("".join(line).rstrip())
    return lines


def _pushed_out(line: list[str], mark: str, fonts: _Fonts, size: float, width: float) -> list[str]:
    """The tokens at the end of ``line`` that go down to the next line with ``mark``: the last token that may start
    a line and the marks after it; none when that would leave ``line`` empty or the new line too wide."""
    start = len(line) - 1
    while start > 0 and (line[start] in _NO_LINE_START or line[start].isspace()):
        start -= 1
    if start == 0:
        return []
    carried = line[start:]
    if fonts.width("".join(carried) + mark, size) > width:
        return []
    return carried


# --- drawing ----------------------------------------------------------------------------------------------------


class _Page:
    """Drawing primitives over one reportlab canvas, with the two-font text runs."""

    def __init__(self, canvas: Canvas, fonts: _Fonts) -> None:
        self._canvas = canvas
        self._fonts = fonts

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        *,
        align: str = "left",
        colour: Color = _INK,
        char_space: float = 0.0,
        bold: bool = False,
        room: float | None = None,
    ) -> None:
        """Draw one line with its baseline at ``y``, starting, centred or ending at ``x`` by ``align``; a line wider
        than ``room`` is set smaller, its letter spacing with it, until it fits.

        The fonts have no bold face: ``bold`` strokes the outlines as well as filling them."""
        width = self._fonts.width(text, size, char_space) - (char_space if text else 0.0)
        if room is not None and width > room:
            # widths grow with the size: rounded down, the smaller size is never wider than the room
            scale = math.floor(size * room / width * 100) / 100 / size
            size, char_space = size * scale, char_space * scale
            width = self._fonts.width(text, size, char_space) - (char_space if text else 0.0)
        if align == "centre":
            x -= width / 2
        elif align == "right":
            x -= width
        if x < _FRAME_INSIDE or x + width > PAGE_SIZE[0] - _FRAME_INSIDE:
            # a last guard: what would be cut off or cross the frame is refused, never printed in part. The table's
            # lines are wrapped to their cells (``fits`` measures them at issue), the lines around it are given a
            # ``room`` inside the margins, so that a license that passed ``fits`` never meets it.
            raise DoesNotFit(f"{text[:20]!r} would be drawn outside the page's frame")
        self._canvas.setFillColor(colour)
        if bold:
            self._canvas.setStrokeColor(colour)
            self._canvas.setLineWidth(size * _BOLD_STROKE)
        for name, run in self._fonts.runs(text):
            self._canvas.setFont(name, size)
            self._canvas.drawString(x, y, run, mode=2 if bold else 0, charSpace=char_space)
            x += self._fonts.width(run, size, char_space)

    def frame(self) -> None:
        width, height = PAGE_SIZE
        canvas = self._canvas
        canvas.setStrokeColor(_FRAME)
        canvas.setLineWidth(2.2)
        canvas.rect(22, 22, width - 44, height - 44)
        canvas.setLineWidth(0.6)
        canvas.rect(_FRAME_INSIDE, _FRAME_INSIDE, width - 2 * _FRAME_INSIDE, height - 2 * _FRAME_INSIDE)

    def qr(self, image: ImageReader) -> None:
        left, bottom, right, top = QR_BOX
        self._canvas.drawImage(image, left, bottom, right - left, top - bottom)
        self.text((left + right) / 2, bottom - 9, "扫码核验", 8, align="centre", colour=_MUTED)

    def header(self, license_type: Template, license_number: str) -> None:
        """The title, its English name and the license number, each set smaller where it is wider than the space
        between the margins (a 16-character type name, a 64-character number): ``fits`` measures only the table."""
        width, height = PAGE_SIZE
        self.text(
            width / 2,
            height - 100,
            license_type.name,
            _TITLE_SIZE,
            align="centre",
            char_space=_TITLE_SPACING,
            bold=True,
            room=_LINE_ROOM,
        )
        if license_type.name_en:
            self.text(
                width / 2,
                height - 119,
                license_type.name_en.upper(),
                8.5,
                align="centre",
                colour=_MUTED,
                room=_LINE_ROOM,
            )
        label = f"{license_type.license_number_label}：{license_number}"
        self.text(_MARGIN, height - 146, label, 11, room=_LINE_ROOM)

    def table(self, table: _Table) -> None:
        canvas = self._canvas
        left, right = _MARGIN, PAGE_SIZE[0] - _MARGIN
        divider = left + table.label_width
        total = sum(row.height for row in table.rows)
        canvas.setFillColor(_LABEL_FILL)
        canvas.rect(left, _TABLE_TOP - total, table.label_width, total, stroke=0, fill=1)
        leading = table.size * _LEADING
        ascent = table.size * 0.88 + (leading - table.size) / 2
        top = _TABLE_TOP
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.4)
        for index, row in enumerate(table.rows):
            if index:
                canvas.line(left, top, right, top)
            for i, line in enumerate(row.label):
                self.text(left + _CELL_PAD_X, top - table.pad_y - ascent - i * leading, line, table.size, colour=_MUTED)
            for i, line in enumerate(row.value):
                self.text(divider + _CELL_PAD_X, top - table.pad_y - ascent - i * leading, line, table.size)
            top -= row.height
        canvas.line(divider, _TABLE_TOP, divider, top)
        canvas.setStrokeColor(_INK)
        canvas.setLineWidth(0.9)
        canvas.rect(left, top, right - left, _TABLE_TOP - top)

    def footer(self, content: LicenseContent, issuer_name: str, *, validity: bool) -> None:
        """The validity when the type has one (``validity``), the issuer and the issue date under the seal, the
        identifier."""
        left, bottom, right, _ = SEAL_BOX
        if validity:
            until = _date_text(content.valid_until) if content.valid_until else "长期"
            self.text(_MARGIN, bottom + 62, f"有效期限：{_date_text(content.valid_from)} 至 {until}", 11)
        self.text(_MARGIN, bottom + 42, "扫描右上角二维码可核验本证照。", 8, colour=_MUTED)
        centre = (left + right) / 2
        for offset, line in ((-16, issuer_name), (-32, _date_text(content.issue_date))):
            half = min(self._fonts.width(line, 11), _LINE_ROOM) / 2
            # A long issuer name is kept inside the right margin rather than centred under the seal, and one longer
            # than the margins leave is set smaller.
            x = min(centre, right - half)
            self.text(x, bottom + offset, line, 11, align="centre", room=_LINE_ROOM)
        identifier = f"电子证照标识：{content.license_id}"
        self.text(PAGE_SIZE[0] / 2, 38, identifier, _ID_SIZE, align="centre", colour=_MUTED, room=_LINE_ROOM)
