"""The use watermark of a sharing copy (用证水印) writes every character of its lines: a rare character in a purpose a
clerk typed comes from the fallback fonts, as on the license, and one no font has is 〓 (it was the CJK font's empty
missing-glyph box: the watermark silently differed from the use recorded)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from signing.render import MISSING_GLYPH
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


@needs_hanazono
def test_a_rare_character_is_written_from_the_fallback_font() -> None:
    drawn = ink([f"用证事由：{RARE}"], (HANAZONO_B,))
    assert drawn != ink([f"用证事由：{MISSING_GLYPH}"], (HANAZONO_B,))
    assert drawn == ink([f"用证事由：{RARE}"])  # the installed fallback fonts are the default
    alone = ink([RARE], (HANAZONO_B,))
    assert sum(1 for a in alone if a) > 50  # the glyph has ink (a blank box would have none)
