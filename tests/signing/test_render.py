"""The printed license (电子证照版式文件): one page from the type's template, fonts embedded, room left for the seal."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pypdfium2 as pdfium
import pytest
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.pdfbase.ttfonts import TTFontFile

from gateway.bootstrap import samples
from gateway.domain.catalog import Catalog, LicenseType
from gateway.domain.model import LicenseContent
from signing.errors import SigningError
from signing.keys import ECDSA_P256_SHA256, SoftwareKey
from signing.pdf import PdfSealer
from signing.render import (
    FIT_CHECK_CHARACTERS,
    MISSING_GLYPH,
    PAGE_SIZE,
    QR_BOX,
    SEAL_BOX,
    DoesNotFit,
    RenderError,
    _fonts,
    _rows,
    fits,
    render_license_pdf,
    unprintable,
)
from signing.seal_ca import SealMakerCA
from signing.seal_image import (
    FALLBACK_FONTS_ENV,
    KNOWN_FALLBACK_FONTS,
    SealImageError,
    draw_seal,
    find_cjk_font,
    find_fallback_fonts,
)
from tests.signing.test_pdf import issue

ROOT = Path(__file__).resolve().parent.parent.parent
CATALOG = Catalog.from_mapping(json.loads((ROOT / "gateway/bootstrap/catalog.json").read_text()))
MARKET = "11370100993701011T"  # 济南市市场监督管理局
POLICE = "1137010099370102XJ"  # 济南市公安局
QR_TEXT = "ZZ1:" + "NCFOXN*TS0BI$ZD.V9QAK" * 6
PHOTO = "photo-ref-7f3a9c"
SCALE = 2
XMP_NAMESPACES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}
DRAWN_AT = dt.datetime(2026, 12, 5, 10, 7, 11, tzinfo=dt.UTC)


def content_of(sample: dict[str, Any], issuer: str, **fields: str) -> LicenseContent:
    return samples.license_content({**sample, "fields": {**sample["fields"], **fields}}, issuer, region_code="370102")


def render(content: LicenseContent, issuer_name: str = "济南市市场监督管理局") -> bytes:
    return render_license_pdf(
        content, license_type(content), issuer_name=issuer_name, qr_text=QR_TEXT, drawn_at=DRAWN_AT
    )


def license_type(content: LicenseContent) -> LicenseType:
    return CATALOG.license_type(content.type_code)


def page_text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    assert len(document) == 1
    return str(document[0].get_textpage().get_text_range())


def embedded_fonts(pdf: bytes) -> dict[str, Any]:
    """The page's fonts by base name without the subset tag (DroidSansFallback, HanaMinB, ...)."""
    fonts = PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Kids"][0].get_object()["/Resources"]["/Font"]
    return {str(ref.get_object()["/BaseFont"]).split("+", 1)[1]: ref.get_object() for ref in fonts.values()}


def page_image(pdf: bytes) -> Image.Image:
    document = pdfium.PdfDocument(pdf)
    image: Image.Image = document[0].render(scale=SCALE).to_pil().convert("L")
    return image


def crop(image: Image.Image, box: tuple[int, int, int, int], inset: int = 0) -> Image.Image:
    """The part of a rendering inside a box given in PDF points (lower-left origin)."""
    left, bottom, right, top = box
    height = PAGE_SIZE[1]
    return image.crop(
        (
            (left + inset) * SCALE,
            round((height - top + inset) * SCALE),
            (right - inset) * SCALE,
            round((height - bottom - inset) * SCALE),
        )
    )


@pytest.fixture(scope="module")
def business() -> LicenseContent:
    return content_of(samples.business_license(1), MARKET)


@pytest.fixture(scope="module")
def business_pdf(business: LicenseContent) -> bytes:
    return render(business)


@pytest.fixture(scope="module")
def id_card() -> LicenseContent:
    return content_of(samples.id_card(1), POLICE, photo=PHOTO)


@pytest.fixture(scope="module")
def id_card_pdf(id_card: LicenseContent) -> bytes:
    return render(id_card, "济南市公安局历下分局")


def test_samples_are_written_to_artifacts(business_pdf: bytes, id_card_pdf: bytes) -> None:
    """Samples for people to look at (artifacts/ is git-ignored)."""
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    for name, pdf in (("license-business", business_pdf), ("license-id-card", id_card_pdf)):
        (out / f"{name}.pdf").write_bytes(pdf)
        pdfium.PdfDocument(pdf)[0].render(scale=SCALE).to_pil().save(out / f"{name}.png")  # in colour
        assert (out / f"{name}.pdf").read_bytes() == pdf


def test_one_a4_page_that_pyhanko_reads(business_pdf: bytes) -> None:
    assert business_pdf.startswith(b"%PDF-")
    reader = PdfFileReader(io.BytesIO(business_pdf))
    pages = reader.root["/Pages"]
    assert pages["/Count"] == 1
    page = pages["/Kids"][0].get_object()
    _, _, width, height = (float(v) for v in page["/MediaBox"])
    assert (width, height) == pytest.approx(PAGE_SIZE, abs=0.01)


def test_fonts_are_embedded_as_subsets(business_pdf: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(business_pdf))
    fonts = reader.root["/Pages"]["/Kids"][0].get_object()["/Resources"]["/Font"]
    names = []
    for ref in fonts.values():
        font = ref.get_object()
        names.append(str(font["/BaseFont"]))
        assert "/FontFile2" in font["/FontDescriptor"], f"{font['/BaseFont']} is not embedded"
    assert names
    assert all(re.fullmatch(r"/[A-Z]{6}\+\S+", name) for name in names), names
    assert any("DroidSansFallback" in name for name in names), names
    assert not any("HanaMin" in name for name in names), "a fallback font is embedded where no character needs it"


def test_text_has_title_fields_number_and_identifier(business: LicenseContent, business_pdf: bytes) -> None:
    text = page_text(business_pdf)
    for expected in (
        "营业执照",
        "统一社会信用代码：" + business.license_number,
        "法定代表人",
        business.fields["legal_representative"],
        business.holder.name,
        business.holder.code,
        "经营范围",
        business.fields["business_scope"],
        "成立日期 2024年03月01日",
        "济南市市场监督管理局",
        "扫码核验",
        "电子证照标识：" + business.license_id,
    ):
        assert expected in text, expected


def test_labels_follow_catalog_order(business: LicenseContent, business_pdf: bytes) -> None:
    text = page_text(business_pdf)
    printed = [spec.label for spec in license_type(business).fields if spec.key in business.fields]
    positions = [text.index(f"\n{label} ") for label in printed]
    assert positions == sorted(positions)
    assert "核准日期" not in text  # optional and absent


def test_secret_field_is_not_printed_but_sensitive_ones_are(id_card: LicenseContent, id_card_pdf: bytes) -> None:
    text = page_text(id_card_pdf)
    assert PHOTO not in text
    assert "照片" not in text
    assert id_card.fields["address"] in text  # SENSITIVE: the holder's own license shows it in full
    assert "公民身份号码：" + id_card.license_number in text
    assert "有效期限：2020年06月01日 至 2040年06月01日" in text
    assert "居民身份证" in text


def test_only_a_type_with_a_validity_prints_one(business_pdf: bytes) -> None:
    """A 结婚证 has no validity, and a 营业执照's term is its own field (营业期限): neither paper has a 有效期限 line,
    and their printed forms had one, 有效期限：2019年05月20日 至 长期 on a marriage certificate (a government-service
    editor). A type that expires prints its own; a lifelong one (a 居民身份证 of a person over 46) says 长期."""
    assert (
        not CATALOG.license_types[samples.MARRIAGE].expires
        and not CATALOG.license_types[samples.BUSINESS_LICENSE].expires
    )
    marriage = page_text(render(content_of(samples.marriage_certificate(3), "113701009937010548"), "济南市民政局"))
    assert "结婚证" in marriage and "有效期限" not in marriage and "长期" not in marriage
    assert "有效期限" not in page_text(business_pdf)
    lifelong = content_of(samples.id_card(4), POLICE)
    lifelong = replace(lifelong, valid_until=None)
    assert "有效期限：2020年06月01日 至 长期" in page_text(render(lifelong, "济南市公安局"))


def test_holder_gets_rows_when_no_field_names_them() -> None:
    sample = samples.business_license(2)
    sample["fields"].pop("company_name")
    text = page_text(render(content_of(sample, MARKET)))
    assert "持证主体 " + sample["holder"]["name"] in text


def test_qr_code_in_its_corner_and_seal_box_blank(business_pdf: bytes) -> None:
    image = page_image(business_pdf)
    qr = crop(image, QR_BOX, inset=8)  # inside the quiet zone
    histogram = qr.histogram()
    dark = sum(histogram[:128])
    assert 0.3 < dark / (qr.width * qr.height) < 0.7
    seal = crop(image, SEAL_BOX)
    assert seal.getextrema() == (255, 255), "something is drawn where the seal goes"


def test_seal_box_is_a_40mm_square_inside_the_page() -> None:
    left, bottom, right, top = SEAL_BOX
    assert right - left == top - bottom == pytest.approx(40 * 72 / 25.4, abs=0.5)
    assert left > 0 and bottom > 0 and right < PAGE_SIZE[0] and top < PAGE_SIZE[1] / 2


def test_long_business_scope_wraps_on_one_page(business: LicenseContent) -> None:
    scope = "；".join(f"第{i}项经营活动（依法须经批准的项目，经相关部门批准后方可开展经营活动）" for i in range(45))
    assert len(scope) > 1500
    long = content_of(samples.business_license(1), MARKET, business_scope=scope)
    pdf = render(long)
    text = re.sub(r"\s", "", page_text(pdf))
    assert scope in text
    assert long.license_id in text and "法定代表人" in text
    assert crop(page_image(pdf), SEAL_BOX).getextrema() == (255, 255)


SCOPE_START = (
    "一般项目：软件开发；信息技术咨询服务；数据处理和存储支持服务；人工智能应用软件开发；网络技术服务；"
    "技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；计算机系统服务；信息系统集成服务；"
)
SCOPE_END = (
    "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）。"
    "许可项目：食品销售（依法须经批准的项目，经相关部门批准后方可开展经营活动）。"
)
TABLE_RIGHT = PAGE_SIZE[0] - 48


def glyph_right_edges(pdf: bytes) -> list[tuple[str, float]]:
    """Each printed character of the page and the right edge of its glyph's box, in points."""
    text = pdfium.PdfDocument(pdf)[0].get_textpage()
    edges = [(text.get_text_range(i, 1), text.get_charbox(i)[2]) for i in range(text.count_chars())]
    return [(char, right) for char, right in edges if char.strip()]


@pytest.mark.parametrize(
    "scope",
    [SCOPE_START + "办公设备销售；"[: k % 7] + "会议服务；" * (k // 7) + SCOPE_END for k in range(34)]
    + ["软件开发（" + "注" * 30 + "）" + "！" * 12 + "。", "注" * 40 + "）" * 60 + "。"],
    ids=[f"break shifted {k}" for k in range(34)] + ["twelve marks after a full line", "a line of marks"],
)
def test_closing_punctuation_at_a_lines_end_stays_inside_the_table(scope: str) -> None:
    """A mark that may not start a line (避头点) where a line is full takes the character before it down with it:
    hung at the line's end, "）。" had crossed the table's right rule, and twelve "！" ran off the page unprinted (a
    tester's 经营范围 values, the break shifted by one character at a time)."""
    pdf = render(content_of(samples.business_license(1), MARKET, business_scope=scope))
    beyond = [(char, round(right, 1)) for char, right in glyph_right_edges(pdf) if right > TABLE_RIGHT]
    assert beyond == []
    assert scope in re.sub(r"\s", "", page_text(pdf))


def test_scope_too_long_for_one_page_is_refused() -> None:
    long = content_of(samples.business_license(1), MARKET, business_scope="经营" * 3000)
    with pytest.raises(DoesNotFit, match="one page") as caught:
        render(long)
    assert isinstance(caught.value, RenderError) and isinstance(caught.value, SigningError)
    assert not fits(long, license_type(long))


@pytest.mark.parametrize("spread", [True, False], ids=["spread over every field", "in one field"])
@pytest.mark.parametrize("code", [t.code for t in CATALOG.license_types.values()])
def test_what_fits_skips_always_fits(code: str, spread: bool) -> None:
    """``fits`` lays out only content of FIT_CHECK_CHARACTERS or more: every type, filled to just under that, in
    one field or spread over all its text fields, is drawn on one page."""
    import dataclasses

    license_type = CATALOG.license_type(code)
    text_fields = [
        f.key for f in license_type.fields if f.value_type.value == "STRING" and f.sensitivity.value != "SECRET"
    ]
    base = content_of(samples.business_license(1), MARKET)
    empty = dataclasses.replace(base, type_code=code, fields={key: "字" for key in text_fields})
    budget = FIT_CHECK_CHARACTERS - 1 - sum(len(label) + len(value) for label, value in _rows(empty, license_type))
    fields = dict(empty.fields)
    targets = text_fields if spread else text_fields[:1]
    for n, key in enumerate(targets):
        fields[key] += "字" * (budget // len(targets) + (1 if n < budget % len(targets) else 0))
    full = dataclasses.replace(empty, fields=fields)
    assert sum(len(label) + len(value) for label, value in _rows(full, license_type)) == FIT_CHECK_CHARACTERS - 1
    render(full)  # no DoesNotFit


def test_same_input_same_bytes(business: LicenseContent, business_pdf: bytes) -> None:
    assert render(business) == business_pdf


def test_the_drawing_time_is_the_creation_date_and_the_catalog_says_chinese(
    business: LicenseContent, business_pdf: bytes
) -> None:
    """A tester's D4/D5: every document had been created 2000-01-01 (reportlab's invariant date), with no /Lang."""
    reader = PdfFileReader(io.BytesIO(business_pdf))
    info = reader.trailer["/Info"]
    assert info["/CreationDate"] == "D:20261205100711Z"
    assert info["/Title"] == f"营业执照 {business.license_number}"
    assert info["/Author"] == "济南市市场监督管理局"
    assert info["/Subject"] == business.license_id
    assert reader.root["/Lang"] == "zh-CN"
    assert reader.root["/ViewerPreferences"]["/DisplayDocTitle"] == generic.BooleanObject(True)
    later = render_license_pdf(
        business,
        license_type(business),
        issuer_name="济南市市场监督管理局",
        qr_text=QR_TEXT,
        drawn_at=DRAWN_AT.astimezone(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(seconds=1),
    )
    assert PdfFileReader(io.BytesIO(later)).trailer["/Info"]["/CreationDate"] == "D:20261205100712Z"
    with pytest.raises(ValueError, match="zone"):
        render_license_pdf(
            business, license_type(business), issuer_name="x", qr_text=QR_TEXT, drawn_at=dt.datetime(2026, 12, 5)
        )


def test_the_sealed_documents_xmp_names_the_license_its_issuer_and_creation(
    ca: SealMakerCA, business: LicenseContent, business_pdf: bytes
) -> None:
    """A tester's D4/D5: the seal's update makes the file PDF 2.0, where XMP is the metadata of record, and its XMP had
    held only pyHanko's producer and time; the seal widget had no alternative text (/TU)."""
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    sealer = PdfSealer(
        key,
        issue(ca, key),
        [ca.intermediate],
        seal_png=draw_seal("济南市市场监督管理局", "电子证照专用章"),
        timestamper=None,
    )
    sealed = asyncio.run(sealer.seal(business_pdf, field_name="Seal1", box=SEAL_BOX))
    reader = PdfFileReader(io.BytesIO(sealed))
    xmp = ElementTree.fromstring(reader.root["/Metadata"].get_object().data)
    description = xmp.find(".//rdf:Description", XMP_NAMESPACES)
    assert description is not None
    assert description.get(f"{{{XMP_NAMESPACES['xmp']}}}CreateDate") == "2026-12-05T10:07:11+00:00"
    assert [item.text for item in xmp.findall(".//dc:title//rdf:li", XMP_NAMESPACES)] == [
        f"营业执照 {business.license_number}"
    ]
    assert [item.text for item in xmp.findall(".//dc:creator//rdf:li", XMP_NAMESPACES)] == ["济南市市场监督管理局"]
    assert [item.text for item in xmp.findall(".//dc:description//rdf:li", XMP_NAMESPACES)] == [business.license_id]
    widget = reader.root["/Pages"]["/Kids"][0]["/Annots"][0].get_object()
    assert widget["/TU"] == "济南市市场监督管理局电子证照专用章"
    assert reader.root["/Lang"] == "zh-CN"


def test_content_of_another_type_is_refused(business: LicenseContent, id_card: LicenseContent) -> None:
    with pytest.raises(ValueError, match="template"):
        render_license_pdf(business, license_type(id_card), issuer_name="x", qr_text=QR_TEXT, drawn_at=DRAWN_AT)


RARE_NAME = "𠮷祥䶮鿏𬺰😂公司"
"""A holder's name with rare characters: 𠮷 (U+20BB7, Ext B, which HanaMinA has too), 䶮 (U+4DAE, Ext A, which Droid
Sans Fallback has), 鿏 (U+9FCF, BMP but after Droid's U+9FA5: HanaMinA), 𬺰 (U+2CEB0, Ext F: HanaMinB only), and an
emoji that no font has (HanaMinA has a few, 😀 among them, but not 😂)."""
RARE_PRINTED = "𠮷祥䶮鿏𬺰" + MISSING_GLYPH + "公司"
HANAZONO_A, HANAZONO_B = KNOWN_FALLBACK_FONTS
needs_hanazono = pytest.mark.skipif(
    not all(path.is_file() for path in KNOWN_FALLBACK_FONTS),
    reason="fonts-hanazono is not installed (scripts/install-system-deps installs it): rare characters print as 〓",
)


def rare_content() -> LicenseContent:
    sample = samples.business_license(1)
    return content_of({**sample, "holder": {**sample["holder"], "name": RARE_NAME}}, MARKET, company_name=RARE_NAME)


@pytest.fixture(scope="module")
def rare_pdf() -> bytes:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(FALLBACK_FONTS_ENV, raising=False)
        return render(rare_content())


def to_unicode(font: Any) -> dict[int, str]:
    """A simple font's ToUnicode CMap: character code to text."""
    cmap = font["/ToUnicode"].data.decode("ascii")
    entries = re.findall(r"^<([0-9A-F]{2})> <([0-9A-F]+)>$", cmap.split("beginbfchar")[1], re.MULTILINE)
    return {int(code, 16): bytes.fromhex(text).decode("utf-16-be") for code, text in entries}


def glyph_outline(font: TTFontFile, glyph: int) -> bytes:
    """A glyph's entry in the glyf table, as the loca table delimits it."""
    long_offsets = font.get_ushort(font.get_table_pos("head")[0] + 50)
    loca, glyf = font.get_table_pos("loca")[0], font.get_table_pos("glyf")[0]
    if long_offsets:
        start, end = font.get_ulong(loca + 4 * glyph), font.get_ulong(loca + 4 * glyph + 4)
    else:
        start, end = 2 * font.get_ushort(loca + 2 * glyph), 2 * font.get_ushort(loca + 2 * glyph + 2)
    return bytes(font._ttf_data[glyf + start : glyf + end])


@needs_hanazono
def test_rare_characters_are_printed_from_the_fallback_fonts(rare_pdf: bytes) -> None:
    """A name with characters beyond Droid Sans Fallback reads back as the record's, in the PDF's text (pdfium, an
    independent extractor): 鿏 and 𠮷 come from HanaMinA, 𬺰 from HanaMinB, and only the emoji is 〓."""
    text = re.sub(r"\s", "", page_text(rare_pdf))
    assert "名称" + RARE_PRINTED in text, text
    fonts = embedded_fonts(rare_pdf)
    assert {"DroidSansFallback", "HanaMinA", "HanaMinB"} <= fonts.keys(), fonts.keys()
    assert all("/FontFile2" in font["/FontDescriptor"] for font in fonts.values())
    assert set(to_unicode(fonts["HanaMinA"]).values()) >= {"𠮷", "鿏"}
    assert "䶮" not in to_unicode(fonts["HanaMinA"]).values()  # Droid's, the font tried first


@needs_hanazono
def test_the_embedded_subset_has_the_fallback_fonts_glyph(rare_pdf: bytes) -> None:
    """The code the ToUnicode CMap names 𬺰 draws HanaMinB's own outline of 𬺰: reportlab maps characters beyond
    the BMP (a format 12 cmap) and subsets their glyphs."""
    font = embedded_fonts(rare_pdf)["HanaMinB"]
    (code,) = (code for code, text in to_unicode(font).items() if text == "𬺰")
    subset = TTFontFile(io.BytesIO(font["/FontDescriptor"]["/FontFile2"].data))
    original = TTFontFile(str(HANAZONO_B))
    drawn = glyph_outline(subset, subset.charToGlyph[code])
    outline = glyph_outline(original, original.charToGlyph[0x2CEB0])
    assert len(outline) > 100  # a real outline, not an empty glyph
    assert drawn[: len(outline)] == outline and not drawn[len(outline) :].strip(b"\0")  # padded to 4 bytes


@needs_hanazono
def test_the_fallback_fonts_are_those_the_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """$ZZGW_CJK_FALLBACK_FONTS replaces the list: with HanaMinB alone, 鿏 (in the BMP, HanaMinA's) is 〓."""
    monkeypatch.setenv(FALLBACK_FONTS_ENV, str(HANAZONO_B))
    pdf = render(rare_content())
    assert f"𠮷祥䶮{MISSING_GLYPH}𬺰{MISSING_GLYPH}公司" in re.sub(r"\s", "", page_text(pdf))
    assert "HanaMinA" not in embedded_fonts(pdf)


def test_without_fallback_fonts_a_character_the_fonts_cannot_draw_is_printed_as_the_missing_type_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no fallback fonts (fonts-hanazono not installed, or the variable set empty) what Droid Sans Fallback and
    Vera lack is printed as 〓, visibly, where it vanished and left the printed name silently shorter than the
    record's (found by an independent client)."""
    monkeypatch.setenv(FALLBACK_FONTS_ENV, "")
    pdf = render(rare_content())
    text = re.sub(r"\s", "", page_text(pdf))
    assert f"{MISSING_GLYPH}祥䶮{MISSING_GLYPH * 3}公司" in text and "𠮷" not in text
    assert not any(name.startswith("HanaMin") for name in embedded_fonts(pdf))


def test_letters_no_font_draws_are_found_but_han_characters_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """What issuing refuses to draw (UNPRINTABLE_CHARACTERS): the letters and marks of a value that no font has, each
    once in order (Uyghur, Mongolian, Tibetan with its vowel sign and subjoined letter, Hangul), not its digits,
    punctuation or spaces; never a Han character,
    which no font having prints as 〓, the mark of a missing type (CJK Extension G here; with no fallback fonts 𠮷
    too); nor the letters Droid Sans Fallback and Vera draw (others, such as Cyrillic and Vietnamese, come from the
    fallback fonts)."""
    monkeypatch.setenv(FALLBACK_FONTS_ENV, "")
    found = unprintable(
        [
            "ئۈرۈمچى 12-نومۇر",
            "ᠬᠥᠬᠡᠬᠣᠲᠠ",
            "བོད་ལྗོངས།",
            "서울 3",
            "𠮷野家\U00030000村，12号",
            "Müller Straße ñ カタカナ",
            "",
            "ABC-12",
        ]
    )
    assert found == ["ئۈرمچىنوۇ", "ᠬᠥᠡᠣᠲᠠ", "བོདལྗངས", "서울", "", "", "", ""]


def test_marks_no_font_draws_are_found_but_marks_the_fonts_draw_and_ignorables_are_not() -> None:
    """With the fonts installed, Thai letters come from HanaMinA but its vowel sign U+0E31 and tone sign U+0E4C from
    no font, and a combining mark with no precomposed letter (q̇, x̌, a Cyrillic stress accent) neither: each was
    drawn as 〓 inside its word, the check looking only at letters (a reviewer, R1). Found now; not a mark a font has
    (the Thai U+0E34, kana's voicing mark), nor a variation selector, which prints as nothing."""
    found = unprintable(["ทักษิณ สมศักดิ์", "q\u0307 x\u030c", "Ива\u0301нов", "กิ か\u3099", "葛\U000e0100庄\ufe00"])
    assert found == ["\u0e31\u0e4c", "\u0307\u030c", "\u0301", "", ""]
    assert MISSING_GLYPH not in "".join(
        char for _, char in _fonts(find_cjk_font(), find_fallback_fonts()).runs("กิ か\u3099")
    )


def test_characters_that_print_as_nothing_are_not_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variation selector after a rare Han character, a zero-width non-joiner, a direction mark: kept in the record,
    they had been drawn as 〓 where no font had them (葛〓庄村), and U+FE00 as HanaMinA's dashed box "VS1" (a
    reviewer, R3). Not drawn now, with or without the fallback fonts: the page reads as the text a reader sees."""
    for fallbacks in (None, ""):
        if fallbacks is None:
            monkeypatch.delenv(FALLBACK_FONTS_ENV, raising=False)
        else:
            monkeypatch.setenv(FALLBACK_FONTS_ENV, fallbacks)
        address = "葛\U000e0100庄村\ufe00济南\u200c市\u200d编号\u200e12\u061c\u034f\u00ad号\ufeff"
        pdf = render(content_of(samples.business_license(1), MARKET, domicile=address))
        assert "住所 葛庄村济南市编号12号\r\n" in page_text(pdf), fallbacks
        assert "HanaMinA" not in embedded_fonts(pdf)


def test_a_fallback_font_that_is_not_there_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A misspelt path would print 〓 in names without a word: it is refused, naming the variable."""
    monkeypatch.setenv(FALLBACK_FONTS_ENV, str(tmp_path / "HanaMinB.ttf"))
    with pytest.raises(SealImageError, match=FALLBACK_FONTS_ENV):
        render(rare_content())


FRAME_INSIDE = 27.0


def glyph_boxes(pdf: bytes) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Each printed character of the page and its glyph's box (left, bottom, right, top) in points."""
    text = pdfium.PdfDocument(pdf)[0].get_textpage()
    boxes = [(text.get_text_range(i, 1), text.get_charbox(i)) for i in range(text.count_chars())]
    return [(char, box) for char, box in boxes if char.strip()]


def outside_the_frame(pdf: bytes) -> list[tuple[str, tuple[float, ...]]]:
    width, height = PAGE_SIZE
    return [
        (char, tuple(round(edge, 1) for edge in box))
        for char, box in glyph_boxes(pdf)
        if box[0] < FRAME_INSIDE
        or box[2] > width - FRAME_INSIDE
        or box[1] < FRAME_INSIDE
        or box[3] > height - FRAME_INSIDE
    ]


@pytest.mark.parametrize(
    ("sample", "number", "type_name", "issuer_name"),
    [
        (samples.business_license(1), "9" * 64, None, "济南市市场监督管理局"),
        (samples.business_license(1), "W" * 64, None, "济南市市场监督管理局"),
        (samples.food_permit(1), "SC" + "W" * 60, None, "济南市市场监督管理局"),
        (samples.food_permit(1), None, "中华人民共和国道路运输经营许可证", "济南市市场监督管理局"),
        (samples.food_permit(1), None, "中华人民共和国海关报关单位注册登记证书", "济南市市场监督管理局"),
        (samples.business_license(1), None, None, "济南市" + "市场监督管理局" * 7),
    ],
    ids=[
        "64-digit 统一社会信用代码",
        "64 W as the number",
        "62-character 许可证编号",
        "16-character type name",
        "19-character type name",
        "50-character issuer name",
    ],
)
def test_what_fits_is_drawn_inside_the_frame_whatever_its_header_and_footer(
    sample: dict[str, Any], number: str | None, type_name: str | None, issuer_name: str
) -> None:
    """``fits`` measures the table only: the title, the number line and the issuer's name under the seal are set
    smaller where they are wider than the margins leave, never refused (the frame's guard had refused a valid
    license number, a catalog's 16-character type name and a long member name, after issuance had said yes)."""
    content = content_of(sample, MARKET)
    if number is not None:
        content = replace(content, license_number=number)
    template = license_type(content)
    if type_name is not None:
        template = replace(template, name=type_name)
    assert fits(content, template)
    pdf = render_license_pdf(content, template, issuer_name=issuer_name, qr_text=QR_TEXT, drawn_at=DRAWN_AT)
    assert outside_the_frame(pdf) == []
    text = re.sub(r"\s", "", page_text(pdf))
    assert content.license_number in text and template.name in text and issuer_name in text
