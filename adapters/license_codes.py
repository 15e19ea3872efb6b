"""What a clerk or a command line gives to verify a license by: typed text (a ``ZZ1:`` code, an identifier or a
license number) or a photo of the license's QR code. Shared by the console and ``zzgw verify``; it imports nothing of
the gateway's server side, so the command line starts quickly.
"""

from __future__ import annotations

import io
import warnings

from gateway.domain.errors import ResourceExhaustedError, ZzgwError, invalid
from gateway.domain.identifiers import license_id_violation, scanned_code

LICENSE_ID_ROOT = "1.2.156."
"""How every license identifier begins (GB/T 36904: the OID arc of China)."""
MAX_QR_IMAGE_BYTES = 8 * 1024 * 1024
MAX_QR_IMAGE_PIXELS = 40_000_000
"""A phone photo is 12–50 megapixels; more than this is refused before it is decoded (a small file can claim a huge
image)."""
QR_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")
"""What a photo or scan of a QR code is read as (Pillow's names): what phones, scanners and screenshots make. Pillow
opens many more, some through other programs (EPS and PDF-like PostScript through Ghostscript, were it installed):
an uploaded file is read only by these parsers, never handed to another program (a penetration tester)."""

# What Pillow finds odd in an image (a TIFF tag past the file's end, corrupt EXIF, a size past its own warning's) is
# said of the image a caller gave, answered or told NO_QR_CODE: not the operators'. Logged (py.warnings), any console
# token could write a line at will. Ignored once, here, for the whole process: ignored around each decode
# (warnings.catch_warnings, which saves and puts back the process's one list of filters), two console checks at once
# had left "ignore every warning" in place for good, and every later warning of that worker unlogged (a reviewer,
# R1). Pillow says such things from its own modules; appended, so that an operator's -W or PYTHONWARNINGS decides first.
warnings.filterwarnings("ignore", module=r"PIL(\.|$)", append=True)

QR_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
"""The names' endings of those kinds: a path so named that is not there is a file mistyped, not a number to look up."""

MAX_QR_IMAGE_SIDE = 65_535
"""zxing-cpp's limit on either side of an image it decodes: a longer side is refused with the pixels, before the image
is read. A strip of 65,536 × 600 px within the pixels had made the decoder raise, a 500 to the clerk (a penetration
tester)."""
_DECODED_MODES = frozenset({"L", "RGB", "RGBA"})
"""The modes zxing-cpp takes as they are; it converts any other to ``L`` itself, and one Pillow cannot convert (such
as a TIFF's ``LAB``) had made it raise: the image is converted here instead, where what fails is said."""


def query_of(text: str, type_code: str) -> dict[str, str]:
    """What a clerk typed or scanned, as ``verify_license``'s keywords: a ``ZZ1:`` code, an identifier, or a license
    number (with ``type_code``)."""
    if scanned_code(text).startswith("ZZ1:"):  # as a scanner types it: Caps Lock, a full-width input method
        return {"qr_code": text}
    if text.startswith(LICENSE_ID_ROOT) or license_id_violation("query", text) is None:
        return {"license_id": text}  # one that does not parse is refused by the service, saying why
    if not type_code:
        raise invalid(
            "type_code",
            "REQUIRED",
            f"{text!r} 不是证照标识或证照核验码：按证照编号核验时，请选择证照类型"
            f"（{text!r} is not a license identifier or a ZZ1: code: choose the license type to look the number up）",
        )
    return {"type_code": type_code, "license_number": text}


def license_code_in(image: bytes) -> str:
    """The ``ZZ1:`` code a photo or scan of a license's QR code shows; INVALID_ARGUMENT for an image without one,
    or whose code is something else (a web address, another province's code)."""
    code = decode_qr_image(image)
    if not code.upper().startswith("ZZ1:"):
        raise invalid(
            "qr_image",
            "NOT_A_LICENSE_CODE",
            "图片中的二维码不是电子证照核验码（the QR code in the image is not a license's verification code, ZZ1:…）",
        )
    return code


def decode_qr_image(data: bytes) -> str:
    """The text of the one QR code in a photo or scan (PNG, JPEG, …); INVALID_ARGUMENT naming what is wrong."""
    import zxingcpp
    from PIL import (
        Image,
        UnidentifiedImageError,
    )  # imported when a clerk first uploads a photo: not every gateway serves the console

    if len(data) > MAX_QR_IMAGE_BYTES:
        raise ResourceExhaustedError(
            f"图片过大（{len(data):,} 字节，最大 {MAX_QR_IMAGE_BYTES:,}）"
            f"（the image is {len(data):,} bytes; at most {MAX_QR_IMAGE_BYTES:,}）",
            reason="IMAGE_TOO_LARGE",
        )
    try:  # everything Pillow or zxing-cpp may raise for an image within the limits is said here, as bad input
        # the header only: past 89 megapixels Pillow's own check warns (ignored, above) and past twice that raises; the
        # pixels are counted here first, and refused past MAX_QR_IMAGE_PIXELS before one is read
        image = Image.open(io.BytesIO(data), formats=QR_IMAGE_FORMATS)
        if image.width * image.height > MAX_QR_IMAGE_PIXELS:
            raise ResourceExhaustedError(
                f"图片像素过多（{image.width}×{image.height}，最多 {MAX_QR_IMAGE_PIXELS:,} 像素）"
                f"（the image is {image.width}×{image.height} pixels; at most {MAX_QR_IMAGE_PIXELS:,}）",
                reason="IMAGE_TOO_MANY_PIXELS",
            )
        if max(image.size) > MAX_QR_IMAGE_SIDE:
            raise ResourceExhaustedError(
                f"图片过宽或过高（{image.width}×{image.height}，每边最多 {MAX_QR_IMAGE_SIDE:,} 像素）"
                f"（the image is {image.width}×{image.height} pixels; at most {MAX_QR_IMAGE_SIDE:,} a side）",
                reason="IMAGE_TOO_MANY_PIXELS",
            )
        image.load()
        decoded = image if image.mode in _DECODED_MODES else image.convert("L")
        found = zxingcpp.read_barcodes(decoded, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    except ZzgwError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # its header claims a far larger image
        # (the warning raises where warnings are made errors: PYTHONWARNINGS=error)
        raise ResourceExhaustedError(
            f"图片像素过多（超过 {MAX_QR_IMAGE_PIXELS:,} 像素）"
            f"（the image has more than {MAX_QR_IMAGE_PIXELS:,} pixels）",
            reason="IMAGE_TOO_MANY_PIXELS",
        ) from None
    except UnidentifiedImageError:
        raise invalid(
            "qr_image",
            "NOT_AN_IMAGE",
            "无法读取该图片，请用 PNG、JPEG、WebP、BMP 或 TIFF 图片"
            "（not an image of a kind that is read: PNG, JPEG, WebP, BMP or TIFF）",
        ) from None
    except Exception as exc:  # Pillow raises many kinds for an image it cannot read through (a truncated one) or
        # convert (LAB), and zxing-cpp for one it cannot take (a ValueError, a TypeError)
        raise invalid(
            "qr_image", "NOT_AN_IMAGE", f"图片无法读取（the image cannot be read: {str(exc)[:200]}）"
        ) from None
    codes = [c.text for c in found if c.valid]
    if not codes:
        raise invalid(
            "qr_image",
            "NO_QR_CODE",
            "图片中没有找到二维码，请拍得更近、更平整（no QR code found in the image: photograph it closer and flat）",
        )
    if len(set(codes)) > 1:
        raise invalid(
            "qr_image",
            "SEVERAL_QR_CODES",
            f"图片中有{len(codes)}个不同的二维码，请只拍一个（{len(codes)} different QR codes in the image: show one）",
        )
    return codes[0]
