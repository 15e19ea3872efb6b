"""The picture of an electronic seal (电子印章): a red round official seal (公章) drawn as a PNG.

>>> png = draw_seal("济南市市场监督管理局", "电子证照专用章")  # doctest: +SKIP
>>> Path("seal.png").write_bytes(png)                          # doctest: +SKIP

The layout follows the national rules for official seals: a red ring, the issuer's name along the upper arc read
clockwise from lower left to lower right with each character upright facing outwards, a solid five-pointed star in
the centre, and the seal's purpose (e.g. 电子证照专用章) in a straight line below the star. The drawing is
deterministic — the same inputs give the same bytes — so a stored seal image can be re-created and compared, and
there is deliberately no ink texture.

Chinese needs a CJK font that the project installs itself (``scripts/install-system-deps``, Debian's
``fonts-droid-fallback``). It is a plain TrueType file rather than a TTC collection, so the same font can later be
embedded and subset in PDFs. The printed license also draws, from ``find_fallback_fonts``, the rare characters (生僻字)
that Droid Sans Fallback lacks; a seal's text is the issuer's name and purpose, which it has.
"""

from __future__ import annotations

import functools
import io
import math
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from signing.errors import SigningError

FONT_ENV = "ZZGW_CJK_FONT"
"""Environment variable naming a TrueType font with Chinese glyphs; when set it is the only font tried."""

KNOWN_FONTS = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),  # fonts-droid-fallback, Apache-2.0
    Path("/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf"),  # fonts-arphic-gbsn00lp (宋体)
    Path("/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf"),  # fonts-arphic-gkai00mp (楷体)
)
"""Plain TrueType CJK fonts from Debian packages, in order of preference."""

FALLBACK_FONTS_ENV = "ZZGW_CJK_FALLBACK_FONTS"
"""Environment variable listing, separated by ``os.pathsep`` and in the order they are tried, the TrueType fonts that
draw characters the CJK font lacks; when set it replaces ``KNOWN_FALLBACK_FONTS``, and set but empty it names none."""

KNOWN_FALLBACK_FONTS = (
    Path("/usr/share/fonts/truetype/hanazono/HanaMinA.ttf"),  # fonts-hanazono: to U+9FEA, some of Ext B-F
    Path("/usr/share/fonts/truetype/hanazono/HanaMinB.ttf"),  # fonts-hanazono: all of Ext B to F (the SIP)
)
"""Fonts for the rare characters (生僻字) beyond Droid Sans Fallback, whose ideographs stop at U+9FA5 and which has
nothing beyond the BMP: 鿏 (U+9FCF) comes from HanaMinA, 𠮷 (U+20BB7, Ext B) too, 𬺰 (U+2CEB0, Ext F) from HanaMinB.
Optional: those absent are skipped, and their characters printed as 〓."""

SEAL_RED = (208, 2, 27)
"""The seal's ink, #D0021B."""

ISSUER_NAME_LENGTH = (2, 30)
SEAL_NAME_MAX_LENGTH = 12
SIZE_PX_RANGE = (200, 2000)

# Proportions of the image side, after a 42 mm 公章: 1.2 mm ring, star 14 mm across, text about 7 mm tall.
_OUTER_RADIUS = 0.485
_RING_WIDTH = 0.034
_TEXT_GAP = 0.022
_ARC_CHAR_HEIGHT = 0.125
_STAR_RADIUS = 0.165
_SEAL_NAME_CENTRE = 0.285  # below the centre
_SEAL_NAME_HEIGHT = 0.085
_SEAL_NAME_MAX_WIDTH = 0.46
_STROKE = 0.012  # of the character height
_MIN_CHAR_ASPECT = 0.45  # names that are long get narrower characters, as seal engravers do, down to this width

# Arc of the issuer's name, in degrees clockwise from the top: the full sweep from five characters up; shorter names
# keep a fixed spacing so that two or three characters do not drift apart.
_MAX_SWEEP = 240.0
_STEP_SHORT = 60.0

_SUPERSAMPLE_PIXELS = 4000  # edges are drawn at up to this many pixels a side, then scaled down for anti-aliasing


class SealImageError(SigningError):
    """A seal image cannot be drawn (no CJK font available)."""


def find_cjk_font() -> Path:
    """The font file for seal text: ``$ZZGW_CJK_FONT`` if set, else the first of ``KNOWN_FONTS`` that exists."""
    override = os.environ.get(FONT_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise SealImageError(
                f"{FONT_ENV}={override} is not a font file; point it at a TrueType font with Chinese glyphs, "
                "or unset it and run scripts/install-system-deps"
            )
        return path
    for path in KNOWN_FONTS:
        if path.is_file():
            return path
    raise SealImageError(
        "no CJK font found for drawing seals (tried "
        + ", ".join(str(p) for p in KNOWN_FONTS)
        + f"); run scripts/install-system-deps, or set {FONT_ENV} to a TrueType font with Chinese glyphs"
    )


def find_fallback_fonts() -> tuple[Path, ...]:
    """The fonts tried, in order, for a character the CJK font lacks: ``$ZZGW_CJK_FALLBACK_FONTS`` if set (each must
    be a file: a misspelt path would silently print 〓 in names), else those of ``KNOWN_FALLBACK_FONTS`` that exist."""
    override = os.environ.get(FALLBACK_FONTS_ENV)
    if override is None:
        return tuple(path for path in KNOWN_FALLBACK_FONTS if path.is_file())
    paths = tuple(Path(part) for part in override.split(os.pathsep) if part)
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SealImageError(
            f"{FALLBACK_FONTS_ENV} names {', '.join(missing)}, which is not a font file; list TrueType fonts separated "
            f"by {os.pathsep!r}, set it empty for none, or unset it and run scripts/install-system-deps"
        )
    return paths


def draw_seal(issuer_name: str, seal_name: str = "", *, size_px: int = 600, font: Path | None = None) -> bytes:
    """Draw the round red seal of ``issuer_name`` (e.g. 济南市市场监督管理局) as PNG bytes, RGBA, ``size_px`` square.

    ``seal_name`` (e.g. 电子证照专用章, 合同专用章) goes below the star; leave it empty for the issuer's 公章.
    Raises ValueError for a name or size out of range, SealImageError when there is no usable font.
    """
    issuer = issuer_name.strip()
    purpose = seal_name.strip()
    _check(issuer, purpose, size_px)
    font_path = font if font is not None else find_cjk_font()
    if not font_path.is_file():
        raise SealImageError(f"font {font_path} not found; run scripts/install-system-deps")
    return _drawn(issuer, purpose, size_px, font_path, find_fallback_fonts())


@functools.lru_cache(maxsize=32)
def _drawn(issuer: str, purpose: str, size_px: int, font_path: Path, fallbacks: tuple[Path, ...]) -> bytes:
    """The drawing itself (~70 ms at 600 px), kept for the same text and fonts: it is deterministic, and the same
    seal is drawn again whenever a store is set up (``zzgw init`` registers each issuer's default seals)."""
    del fallbacks  # a key only: ``_Fonts`` finds the same ones
    scale = max(1, min(4, _SUPERSAMPLE_PIXELS // size_px))
    side = size_px * scale
    ink = Image.new("L", (side, side), 0)
    _draw_ring(ink)
    _draw_star(ink)
    _draw_issuer(ink, issuer, font_path)
    if purpose:
        _draw_seal_name(ink, purpose, font_path)
    if scale > 1:
        ink = ink.resize((size_px, size_px), Image.Resampling.LANCZOS)

    seal = Image.new("RGBA", (size_px, size_px), (*SEAL_RED, 0))
    seal.putalpha(ink)
    out = io.BytesIO()
    seal.save(out, format="PNG")  # optimize=True: 10x the time for 3% fewer bytes
    return out.getvalue()


def issuer_name_problem(issuer: str) -> str:
    """Why ``issuer`` cannot be drawn around a seal, or empty."""
    low, high = ISSUER_NAME_LENGTH
    if not low <= len(issuer) <= high:
        return f"issuer name (发证机关名称) must be {low}–{high} characters, got {len(issuer)}"
    return _text_problem(issuer)


def _text_problem(text: str) -> str:
    if any(c.isspace() or not c.isprintable() for c in text):
        return "seal text must not contain spaces or control characters"
    return ""


def _check(issuer: str, purpose: str, size_px: int) -> None:
    if problem := issuer_name_problem(issuer) or _text_problem(purpose):
        raise ValueError(problem)
    if len(purpose) > SEAL_NAME_MAX_LENGTH:
        raise ValueError(f"seal name (印章名称) must be at most {SEAL_NAME_MAX_LENGTH} characters, got {len(purpose)}")
    low, high = SIZE_PX_RANGE
    if isinstance(size_px, bool) or not isinstance(size_px, int) or not low <= size_px <= high:
        raise ValueError(f"size_px must be an integer from {low} to {high}, got {size_px!r}")


def _draw_ring(ink: Image.Image) -> None:
    side = ink.width
    margin = round(side * (0.5 - _OUTER_RADIUS))
    ImageDraw.Draw(ink).ellipse(
        (margin, margin, side - 1 - margin, side - 1 - margin), outline=255, width=round(side * _RING_WIDTH)
    )


def _star_points(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    inner = radius * math.sin(math.radians(18)) / math.sin(math.radians(54))  # the regular pentagram's ratio
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else inner
        angle = math.radians(i * 36)  # from the top, clockwise
        points.append((cx + r * math.sin(angle), cy - r * math.cos(angle)))
    return points


def _draw_star(ink: Image.Image) -> None:
    side = ink.width
    ImageDraw.Draw(ink).polygon(_star_points(side / 2, side / 2, side * _STAR_RADIUS), fill=255)


class _Fonts:
    """The seal's font and the fallback fonts (``find_fallback_fonts``) at one size: each character is drawn in the
    first that has it. Digits and Latin letters are not in the CJK font (合同专用章2号 had been drawn 合同专用章□号,
    and stamped so on every PDF). A character none has: refused in a seal's name (``UndrawableCharacter``), which
    the seal's holder chooses; drawn as the font's box in the issuer's registered name, which the seal must carry."""

    def __init__(self, main: Path, size: int):
        self._fonts = [ImageFont.truetype(str(path), size=size) for path in (main, *find_fallback_fonts())]
        self._missing = [bytes(font.getmask(_NO_SUCH_CHARACTER)) for font in self._fonts]

    def drawing(self, char: str, *, strict: bool = True) -> ImageFont.FreeTypeFont:
        for font, missing in zip(self._fonts, self._missing, strict=True):
            if bytes(font.getmask(char)) != missing:
                return font
        if not strict:
            return self._fonts[0]
        raise UndrawableCharacter(f"no font here draws {char!r} (U+{ord(char):04X})")


class UndrawableCharacter(ValueError):
    """A seal's name holds a character no font here draws."""


_NO_SUCH_CHARACTER = "\U0010fffd"
"""A private-use character of plane 16 no font has: what a font draws for it is its box for a missing character."""


def undrawable(text: str, font: Path | None = None) -> str:
    """The characters of ``text`` no font here draws (empty when every one is drawn)."""
    fonts = _Fonts(font if font is not None else find_cjk_font(), 40)
    missing = []
    for char in dict.fromkeys(text):
        try:
            fonts.drawing(char)
        except UndrawableCharacter:
            missing.append(char)
    return "".join(missing)


def _glyph(char: str, font: ImageFont.FreeTypeFont, width: int) -> Image.Image:
    """One character as a ``width`` x font-size mask, drawn on its full em square so that all line up."""
    height = round(font.size)
    em = Image.new("L", (height, height), 0)
    # "mm" centres on the advance and between ascender and descender; CJK glyphs fill the em square around that.
    # A light stroke around each glyph gives the heavier line of an engraved seal than the screen font has.
    stroke = max(1, round(height * _STROKE))
    ImageDraw.Draw(em).text(
        (height / 2, height / 2), char, font=font, fill=255, anchor="mm", stroke_width=stroke, stroke_fill=255
    )
    return em if width == height else em.resize((width, height), Image.Resampling.LANCZOS)


def _draw_issuer(ink: Image.Image, issuer: str, font_path: Path) -> None:
    side = ink.width
    count = len(issuer)
    sweep = min(_MAX_SWEEP, _STEP_SHORT * (count - 1))
    step = sweep / (count - 1)
    outer = side * (_OUTER_RADIUS - _RING_WIDTH - _TEXT_GAP)
    # The room per character is the arc length at the inner edge of the text, where neighbours come closest.
    # Characters narrow as the name grows; past the aspect limit they shrink as a whole instead.
    spacing = 0.9 * math.radians(step)
    height = min(side * _ARC_CHAR_HEIGHT, outer * spacing / (_MIN_CHAR_ASPECT + spacing))
    width = min(height, (outer - height) * spacing)
    radius = outer - height / 2
    fonts = _Fonts(font_path, round(height))
    for i, char in enumerate(issuer):
        angle = -sweep / 2 + i * step  # degrees clockwise from the top
        glyph = _glyph(char, fonts.drawing(char, strict=False), max(1, round(width)))
        turned = glyph.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True)
        cx = side / 2 + radius * math.sin(math.radians(angle))
        cy = side / 2 - radius * math.cos(math.radians(angle))
        ink.paste(255, (round(cx - turned.width / 2), round(cy - turned.height / 2)), turned)


def _draw_seal_name(ink: Image.Image, purpose: str, font_path: Path) -> None:
    side = ink.width
    height = side * _SEAL_NAME_HEIGHT
    width = min(height, side * _SEAL_NAME_MAX_WIDTH / len(purpose))
    cy = side / 2 + side * _SEAL_NAME_CENTRE
    fonts = _Fonts(font_path, round(height))
    for i, char in enumerate(purpose):
        glyph = _glyph(char, fonts.drawing(char), round(width))
        cx = side / 2 + (i - (len(purpose) - 1) / 2) * width
        ink.paste(255, (round(cx - glyph.width / 2), round(cy - glyph.height / 2)), glyph)
