"""The watermark of a use copy (用证水印): the use's lines written diagonally across the page in semi-transparent red.

>>> png, box = draw_watermark(["用证事由：不动产转移登记"], (1, 1, 594, 841), font)  # doctest: +SKIP

It is drawn as a PNG for a signature appearance (``signing.pdf.PdfSealer``): a copy carries its use as a second
signature over the sealed document, so the document's own seals stay valid and the watermark itself is sealed.
Chinese comes from the CJK font; Droid Sans Fallback has no Latin letters or digits, so those come from Bitstream
Vera, which reportlab ships. A rare character (生僻字) neither has, in a purpose a clerk typed, comes from the fallback
fonts (``find_fallback_fonts``), as on the license itself (``signing.render``); one no font has is written as 〓,
never left out, but for the characters that print as nothing (``signing.render.DEFAULT_IGNORABLE``: a joiner, a
variation selector), which are not drawn.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import reportlab
from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfbase.pdfdoc import PDFImageXObject
from reportlab.pdfbase.ttfonts import TTFontFile
from reportlab.pdfgen.canvas import Canvas

from signing.render import _DRAWING_LOCK, DEFAULT_IGNORABLE, MISSING_GLYPH
from signing.render import _fonts as _text_fonts
from signing.seal_image import find_fallback_fonts

Box = tuple[int, int, int, int]
"""(left, bottom, right, top) in whole PDF points."""

_PX_PER_PT = 2
_TEXT_PT = 13
_INK = (158, 27, 27)
_INK_ALPHA = 0.45
_ANGLE = 30
_WRAP = 0.75
_LATIN_FONT = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"


def draw_watermark(
    lines: Sequence[str], page: Box, cjk_font: Path, fallback_fonts: Sequence[Path] | None = None
) -> tuple[bytes, Box]:
    """``lines`` written diagonally in semi-transparent red, as a PNG, and the box in the middle of ``page`` (points)
    that it fills; characters the CJK font and Vera lack come from ``fallback_fonts`` (default:
    ``find_fallback_fonts()``)."""
    drawing = _draw(lines, page, cjk_font, fallback_fonts)
    out = io.BytesIO()
    drawing.picture.save(out, format="PNG", compress_level=0)  # the sealer decodes and compresses it again
    return out.getvalue(), drawing.box


def watermark_pdf(
    lines: Sequence[str], page: Box, cjk_font: Path, fallback_fonts: Sequence[Path] | None = None
) -> tuple[bytes, Box]:
    """The watermark as a one-page PDF the size of its box, and the box: the picture of ``draw_watermark``, and over
    it the same lines as invisible text (rendering mode 3) along the lines drawn.

    What the stamp says must be in the copy's text too, not only in its picture: a screen reader, a copy-and-paste or
    a full-text index read a revoked license's copy (证照状态：已吊销或撤销) as a valid one's (a tester, D2)."""
    drawing = _draw(lines, page, cjk_font, fallback_fonts)
    left, bottom, right, top = drawing.box
    width, height = right - left, top - bottom
    fonts = _text_fonts(cjk_font, tuple(drawing.fallbacks))
    picture = _image_object(drawing.picture)  # compressed here, outside the lock: it takes most of the time
    out = io.BytesIO()
    with _DRAWING_LOCK:
        canvas = Canvas(out, pagesize=(width, height), invariant=1, pageCompression=1, initialFontName=fonts.cjk.name)
        _place(canvas, picture, width, height)
        # the unrotated tile's pixels, centred on the box and turned as the picture was
        canvas.translate(width / 2, height / 2)
        canvas.rotate(_ANGLE)
        canvas.scale(drawing.scale, drawing.scale)
        for row, line in enumerate(drawing.lines):
            x = drawing.size / 2 - drawing.tile[0] / 2
            y = drawing.tile[1] / 2 - (drawing.size / 2 + row * drawing.leading + drawing.ascent)
            for name, run in fonts.runs(line):
                canvas.setFont(name, drawing.size)
                canvas.drawString(x, y, run, mode=3)
                x += fonts.width(run, drawing.size)
        canvas.showPage()
        canvas.save()
    return out.getvalue(), drawing.box


def _image_object(picture: Image.Image) -> PDFImageXObject:
    """``picture`` (RGBA) as a PDF image, Flate-compressed, with its alpha as its soft mask.

    reportlab's ``drawImage`` compresses a picture while the drawing lock is held, and ASCII85-encodes it (a quarter
    more bytes, in every sharing copy): built here, it is binary and the lock is held only to place it."""
    colour = _flate_image(picture.convert("RGB"), "DeviceRGB")
    colour.smask = _flate_image(picture.getchannel("A"), "DeviceGray")
    colour.smask._decode = [0, 1]
    return colour


def _flate_image(picture: Image.Image, colour_space: str) -> PDFImageXObject:
    data = picture.tobytes()
    image = PDFImageXObject(hashlib.sha256(data).hexdigest())
    image.width, image.height = picture.size
    image.bitsPerComponent = 8
    image.colorSpace = colour_space
    image.streamContent = zlib.compress(data, 6)
    image._filters = ("FlateDecode",)
    image.mask = None
    return image


def _place(canvas: Canvas, picture: PDFImageXObject, width: float, height: float) -> None:
    """Draw ``picture`` over (0, 0, width, height), as ``Canvas.drawImage`` registers its own images."""
    document = canvas._doc
    canvas._currentPageHasImages = 1
    canvas._setXObjects(picture)
    canvas._setXObjects(picture.smask)
    mask = picture.smask
    picture.smask = document.Reference(mask, document.getXObjectName(mask.name))
    name = document.getXObjectName(picture.name)
    document.Reference(picture, name)
    document.addForm(picture.name, picture)
    canvas.saveState()
    canvas.scale(width, height)
    canvas._code.append(f"/{name} Do")
    canvas.restoreState()
    canvas._formsinuse.append(picture.name)  # the page's resources name it


@dataclass(frozen=True, slots=True)
class _Drawing:
    picture: Image.Image
    """The watermark, RGBA, as turned and scaled to its box at ``_PX_PER_PT``."""
    box: Box
    lines: list[str]
    """The lines as wrapped, top to bottom."""
    tile: tuple[int, int]
    """The unrotated picture's width and height in pixels."""
    size: int
    leading: int
    ascent: int
    """Text size, line distance and the font's ascent, in the unrotated picture's pixels."""
    scale: float
    """Points per pixel of the unrotated picture, as the picture is placed in its box."""
    fallbacks: tuple[Path, ...]


def _draw(lines: Sequence[str], page: Box, cjk_font: Path, fallback_fonts: Sequence[Path] | None) -> _Drawing:
    size = _TEXT_PT * _PX_PER_PT
    fallbacks = tuple(find_fallback_fonts() if fallback_fonts is None else fallback_fonts)
    fonts = _Fonts.of(cjk_font, size, fallbacks)
    left, bottom, right, top = page
    page_px = ((right - left) * _PX_PER_PT, (top - bottom) * _PX_PER_PT)
    wrapped = [part for line in lines for part in _wrap(line, page_px[0] * _WRAP, fonts)]
    leading = int(size * 1.6)
    tile = Image.new("RGBA", (int(max(map(fonts.length, wrapped))) + size, leading * len(wrapped) + size))
    unrotated = tile.size
    draw = ImageDraw.Draw(tile)
    for row, line in enumerate(wrapped):
        x = size / 2
        for font, run in fonts.runs(line):
            draw.text((x, size / 2 + row * leading), run, font=font, fill=(*_INK, 255))
            x += font.getlength(run)
    tile.putalpha(tile.getchannel("A").point(lambda a: int(a * _INK_ALPHA)))
    tile = tile.rotate(_ANGLE, expand=True, resample=Image.Resampling.BILINEAR)
    turned = tile.width
    tile.thumbnail(page_px)  # only ever shrinks: a very long purpose still fits the page
    width, height = math.ceil(tile.width / _PX_PER_PT), math.ceil(tile.height / _PX_PER_PT)
    x1 = left + (right - left - width) // 2
    y1 = bottom + (top - bottom - height) // 2
    return _Drawing(
        picture=tile,
        box=(x1, y1, x1 + width, y1 + height),
        lines=wrapped,
        tile=unrotated,
        size=size,
        leading=leading,
        ascent=fonts.cjk.getmetrics()[0],
        scale=width / turned,
        fallbacks=fallbacks,
    )


def _wrap(line: str, width: float, fonts: _Fonts) -> list[str]:
    """``line`` cut into pieces no wider than ``width`` pixels: after the last full stop or space of a piece outside
    parentheses when it has one (an identifier's parts, words), else at the width. Cut at any character, the
    identifier of a license's version in force (现行版本 …, 82 characters and more) had its issuer's code cut in two,
    and a date its year from its day (a review of the fix, fixrevlock R2)."""
    pieces, current, used = [], "", 0.0
    for char in line:
        advance = fonts.length(char)
        if current and used + advance > width:
            cut = _last_break(current)
            pieces.append(current[:cut].rstrip(" ") if cut else current)
            current = current[cut:] if cut else ""
            used = sum(fonts.length(kept) for kept in current)
        current += char
        used += advance
    return [*pieces, current]


def _last_break(text: str) -> int:
    """Where ``text`` may be cut: after its last full stop or space outside parentheses (（…） or (…)), 0 if none."""
    depth, cut = 0, 0
    for at, char in enumerate(text):
        if char in "（(":
            depth += 1
        elif char in "）)":
            depth = max(0, depth - 1)
        elif depth == 0 and char in ". " and at:
            cut = at + 1
    return cut


@dataclass(frozen=True, slots=True)
class _Fonts:
    """The CJK font for what it has glyphs for, else Vera (Droid Sans Fallback has no Latin letters or digits), else
    the first fallback font that has it, else 〓."""

    cjk: ImageFont.FreeTypeFont
    cjk_chars: frozenset[int]
    latin: ImageFont.FreeTypeFont
    latin_chars: frozenset[int]
    fallbacks: tuple[Path, ...]
    size: int
    loaded: dict[Path, ImageFont.FreeTypeFont] = field(default_factory=dict)
    """The fallback fonts opened for this drawing (a font object is not shared between threads)."""

    @classmethod
    def of(cls, cjk_file: Path, size: int, fallbacks: tuple[Path, ...] = ()) -> _Fonts:
        return cls(
            cjk=ImageFont.truetype(str(cjk_file), size),
            cjk_chars=_charset(cjk_file),
            latin=ImageFont.truetype(str(_LATIN_FONT), size),
            latin_chars=_charset(_LATIN_FONT),
            fallbacks=fallbacks,
            size=size,
        )

    def runs(self, text: str) -> list[tuple[ImageFont.FreeTypeFont, str]]:
        runs: list[tuple[ImageFont.FreeTypeFont, str]] = []
        for char in text:
            font, char = self._font_for(char)
            if not char:
                continue
            if runs and runs[-1][0] is font:
                runs[-1] = (font, runs[-1][1] + char)
            else:
                runs.append((font, char))
        return runs

    def _font_for(self, char: str) -> tuple[ImageFont.FreeTypeFont, str]:
        code = ord(char)
        if code in DEFAULT_IGNORABLE:  # prints as nothing: not drawn, as on the license itself
            return self.cjk, ""
        if code in self.cjk_chars:
            return self.cjk, char
        if code in self.latin_chars:
            return self.latin, char
        if not char.isspace():
            for path in self.fallbacks:
                if code in _charset(path):  # read only when a character needs it (HanaMinB: 30 MB, 0.3 s)
                    if path not in self.loaded:
                        self.loaded[path] = ImageFont.truetype(str(path), self.size)
                    return self.loaded[path], char
            return self.cjk, MISSING_GLYPH
        return self.cjk, char

    def length(self, text: str) -> float:
        return sum(font.getlength(run) for font, run in self.runs(text))


@functools.lru_cache(maxsize=8)
def _charset(path: Path) -> frozenset[int]:
    return frozenset(int(code) for code in TTFontFile(str(path)).charToGlyph)
