"""The seal picture (电子印章图样): a red round 公章 with the issuer on the arc, a star, and the seal's name."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from PIL import Image

from signing.errors import SigningError
from signing.seal_image import FALLBACK_FONTS_ENV, FONT_ENV, SealImageError, _drawn, draw_seal, find_cjk_font

ROOT = Path(__file__).resolve().parent.parent.parent
ISSUER = "济南市市场监督管理局"
SEAL_NAME = "电子证照专用章"
SIZE = 600


@pytest.fixture(scope="module")
def png() -> bytes:
    return draw_seal(ISSUER, SEAL_NAME, size_px=SIZE)


@pytest.fixture(scope="module")
def image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGBA")


def pixels(image: Image.Image) -> list[tuple[int, ...]]:
    data = image.tobytes()
    return [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]


def pixel(image: Image.Image, x: float, y: float) -> tuple[int, ...]:
    value = image.getpixel((round(x), round(y)))
    assert isinstance(value, tuple)
    return value


def is_red(pixel: tuple[int, ...]) -> bool:
    r, g, b, a = pixel
    return a > 200 and r > 180 and g < 80 and b < 80


def test_sample_is_written_to_artifacts(png: bytes) -> None:
    """A sample for people to look at (artifacts/ is git-ignored)."""
    out = ROOT / "artifacts" / "seal-sample.png"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(png)
    assert out.read_bytes() == png


def test_png_of_the_asked_size(png: bytes, image: Image.Image) -> None:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(png)).mode == "RGBA"
    assert image.size == (SIZE, SIZE)
    assert Image.open(io.BytesIO(draw_seal(ISSUER, size_px=250))).size == (250, 250)


def test_only_red_ink(image: Image.Image) -> None:
    every = pixels(image)
    inked = [p for p in every if p[3] > 0]
    strongly_red = sum(is_red(p) for p in every)
    assert strongly_red > 0.15 * len(every)
    # No black or blue anywhere, not even at anti-aliased edges: every inked pixel has the seal's colour.
    assert all(p[0] > 180 and p[1] < 80 and p[2] < 80 for p in inked)


def test_star_fills_the_centre(image: Image.Image) -> None:
    centre = SIZE // 2
    area = [pixel(image, centre + dx, centre + dy) for dx in range(-10, 11) for dy in range(-10, 11)]
    assert all(is_red(p) for p in area)


def test_corners_are_transparent(image: Image.Image) -> None:
    for x, y in [(0, 0), (SIZE - 1, 0), (0, SIZE - 1), (SIZE - 1, SIZE - 1), (10, 10), (SIZE - 20, SIZE - 20)]:
        assert pixel(image, x, y)[3] == 0, (x, y)


def test_ring_goes_all_the_way_round(image: Image.Image) -> None:
    radius = 0.95 * SIZE / 2
    for degrees in range(0, 360, 5):
        x = SIZE / 2 + radius * math.cos(math.radians(degrees))
        y = SIZE / 2 + radius * math.sin(math.radians(degrees))
        assert is_red(pixel(image, x, y)), degrees


def test_same_inputs_same_bytes(png: bytes) -> None:
    _drawn.cache_clear()  # drawn again, not the drawing kept
    assert draw_seal(ISSUER, SEAL_NAME, size_px=SIZE) == png


def test_a_kept_drawing_is_for_the_same_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawings are kept by their text and fonts: without the fallback fonts the digit of an issuer's name is drawn
    again, as the CJK font's box, not taken from the drawing kept."""
    issuer = "济南市第2市场监督管理所"
    drawn = draw_seal(issuer, size_px=SIZE)
    assert draw_seal(issuer, size_px=SIZE) is drawn  # kept
    monkeypatch.setenv(FALLBACK_FONTS_ENV, "")
    assert draw_seal(issuer, size_px=SIZE) != drawn


def test_different_texts_differ(png: bytes) -> None:
    assert draw_seal("济南市行政审批服务局", SEAL_NAME, size_px=SIZE) != png
    assert draw_seal(ISSUER, "合同专用章", size_px=SIZE) != png
    assert draw_seal(ISSUER, size_px=SIZE) != png


@pytest.mark.parametrize("issuer", ["济南", ISSUER * 3], ids=["2 chars", "30 chars"])
def test_names_at_the_length_limits_are_drawn(issuer: str) -> None:
    image = Image.open(io.BytesIO(draw_seal(issuer, "合同专用章", size_px=300)))
    assert image.size == (300, 300)


@pytest.mark.parametrize(
    ("issuer", "seal_name", "size_px", "message"),
    [
        ("局", "", 600, "2–30 characters, got 1"),
        ("  ", "", 600, "2–30 characters, got 0"),
        ("济" * 31, "", 600, "2–30 characters, got 31"),
        (ISSUER, "电子证照专用章电子证照专用", 600, "at most 12 characters, got 13"),
        ("济南 市场局", "", 600, "spaces or control characters"),
        (ISSUER, "合同\n专用章", 600, "spaces or control characters"),
        (ISSUER, "", 199, "from 200 to 2000, got 199"),
        (ISSUER, "", 2001, "from 200 to 2000, got 2001"),
        (ISSUER, "", 600.0, "from 200 to 2000, got 600.0"),
        (ISSUER, "", True, "from 200 to 2000, got True"),
    ],
    ids=["issuer too short", "issuer blank", "issuer too long", "seal name too long", "space in issuer",
         "newline in seal name", "too small", "too large", "float size", "bool size"],
)  # fmt: skip
def test_bad_input_is_refused(issuer: str, seal_name: str, size_px: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        draw_seal(issuer, seal_name, size_px=size_px)


def test_font_override_that_does_not_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "missing.ttf"))
    with pytest.raises(SealImageError, match="scripts/install-system-deps") as raised:
        draw_seal(ISSUER, SEAL_NAME)
    assert isinstance(raised.value, SigningError)


def test_font_override_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    font = find_cjk_font()
    monkeypatch.setenv(FONT_ENV, str(font))
    assert find_cjk_font() == font


def test_no_known_font(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(FONT_ENV, raising=False)
    monkeypatch.setattr("signing.seal_image.KNOWN_FONTS", (tmp_path / "a.ttf", tmp_path / "b.ttf"))
    with pytest.raises(SealImageError, match=r"no CJK font found.*scripts/install-system-deps"):
        find_cjk_font()


def test_explicit_font_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(SealImageError, match="scripts/install-system-deps"):
        draw_seal(ISSUER, font=tmp_path / "missing.ttf")


def test_a_name_with_digits_and_letters_is_drawn_not_boxed() -> None:
    """The CJK font has no digits or Latin letters: 合同专用章2号 had been drawn 合同专用章□号 (a tofu box) and stamped
    so on every PDF. Each character comes from the first font that has it; one no font has is refused."""
    from signing.seal_image import undrawable

    assert undrawable("合同专用章2号AB") == ""
    two = draw_seal("济南市市场监督管理局", "合同专用章2号")
    three = draw_seal("济南市市场监督管理局", "合同专用章3号")
    assert two != three  # drawn as what they say, not both as the same box
    assert undrawable("专用章\U0001f9ff") == "\U0001f9ff"  # an emoji no font here has
    with pytest.raises(ValueError, match="U\\+1F9FF"):
        draw_seal("济南市市场监督管理局", "专用章\U0001f9ff")
    # the issuer's registered name is drawn whatever it holds (init makes every issuer's seal): a box at worst
    assert draw_seal("济南市第\U0001f9ff市场监督管理局", "合同专用章")
