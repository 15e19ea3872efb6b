"""The use watermark of a sharing copy (用证水印) writes every character of its lines: a rare character in a purpose a
clerk typed comes from the fallback fonts, as on the license, and one no font has is 〓 (it was the CJK font's empty
missing-glyph box: the watermark silently differed from the use recorded)."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from signing import watermark
from signing.render import _DRAWING_LOCK, MISSING_GLYPH
from signing.seal_image import find_cjk_font
from signing.watermark import draw_watermark
from tests.signing.test_render import HANAZONO_B, needs_hanazono

PAGE = (0, 0, 595, 842)
RARE = "𬺰"
"""U+2CEB0 (CJK Extension F): neither Droid Sans Fallback nor Vera has it; HanaMinB does."""


def ink(lines: list[str], fallbacks: tuple[Path, ...] | None = None) -> bytes:
    """The watermark's alpha channel: where it put ink."""
    png, _ = draw_watermark(lines, PAGE, find_cjk_font(), fallbacks)
    return Image.open(io.BytesIO(png)).getchannel("A").tobytes()


def test_a_character_no_font_has_is_written_as_the_missing_type_mark() -> None:
    assert ink([f"用证事由：{RARE}"], ()) == ink([f"用证事由：{MISSING_GLYPH}"], ())
    assert ink(["用证事由：😂"], ()) == ink([f"用证事由：{MISSING_GLYPH}"], ())


def test_a_character_that_prints_as_nothing_is_not_written() -> None:
    """A joiner or a variation selector in a purpose (kept, as a script needs it) is not drawn: neither as 〓 where
    no font had it, nor as HanaMinA's dashed box "VS1" (a reviewer, R3)."""
    plain = ink(["用证事由：葛庄村"])
    for selector in ("\U000e0100", "\u200c", "\ufe00", "\u200e"):
        assert ink([f"用证事由：葛{selector}庄村"]) == plain, hex(ord(selector))


@needs_hanazono
def test_a_rare_character_is_written_from_the_fallback_font() -> None:
    drawn = ink([f"用证事由：{RARE}"], (HANAZONO_B,))
    assert drawn != ink([f"用证事由：{MISSING_GLYPH}"], (HANAZONO_B,))
    assert drawn == ink([f"用证事由：{RARE}"])  # the installed fallback fonts are the default
    alone = ink([RARE], (HANAZONO_B,))
    assert sum(1 for a in alone if a) > 50  # the glyph has ink (a blank box would have none)


def test_the_watermark_pages_picture_is_binary_flate_compressed_outside_the_drawing_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The picture is the copy's largest part: reportlab's ``drawImage`` had written it ASCII85-encoded (a quarter
    more bytes in every sharing copy) and compressed it while holding the process's drawing lock, which every
    license drawn meanwhile waited for (581 ms instead of 13 for a 200-inch page's watermark)."""
    compressions: list[tuple[int, bool]] = []  # what was compressed (fonts, text, pictures), and under the lock
    compress = zlib.compress

    def watched(data: bytes, level: int = -1) -> bytes:
        compressions.append((len(data), _DRAWING_LOCK.locked()))
        return compress(data, level)

    monkeypatch.setattr(zlib, "compress", watched)
    lines = ["用证事由：不动产转移登记", "用证单位：济南市自然资源和规划局"]
    pdf, box = watermark.watermark_pdf(lines, PAGE, find_cjk_font())
    pixels = (box[2] - box[0]) * (box[3] - box[1]) * 2 * 2
    assert sorted(locked for size, locked in compressions if size >= pixels) == [False, False]  # colours, alpha
    page = PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Kids"][0].get_object()
    images = [x.get_object() for x in page["/Resources"]["/XObject"].values()]
    (picture,) = [image for image in images if image["/Subtype"] == "/Image"]
    mask = picture["/SMask"].get_object()
    assert [[str(name) for name in image["/Filter"]] for image in (picture, mask)] == [["/FlateDecode"]] * 2
    assert picture["/Width"] * picture["/Height"] == pixels
    assert Image.frombytes("L", (mask["/Width"], mask["/Height"]), mask.data).tobytes() == ink(lines, None)


def test_a_line_too_long_for_the_page_is_cut_between_an_identifiers_parts_never_within_a_date() -> None:
    """The copy of a superseded version names the version in force, 现行版本 and its identifier (82 characters with
    an ordinary serial) and its standing: cut at any character where the page ended, the issuer's code was cut in
    two, and the date its year from its day (a review of the fix, fixrevlock R2). A line is cut after the last full
    stop or space outside parentheses that fits; a line with none (Chinese words) at the width, as before."""
    current = "1.2.156.3005.2.111000009910000354001.11370100993701011T.0MXDCQT4L36WMB6KRAPW.002.J"
    line = f"现行版本 {current} 目前已吊销或撤销（2026-12-07 起）"
    assert watermark._draw([line], PAGE, find_cjk_font(), ()).lines == [
        "现行版本 1.2.156.3005.2.111000009910000354001.",
        "11370100993701011T.0MXDCQT4L36WMB6KRAPW.002.J",
        "目前已吊销或撤销（2026-12-07 起）",
    ]
    words = "用证事由：" + "办理不动产转移登记" * 12  # no place to cut: at the width
    pieces = watermark._draw([words], PAGE, find_cjk_font(), ()).lines
    assert len(pieces) > 1 and "".join(pieces) == words
