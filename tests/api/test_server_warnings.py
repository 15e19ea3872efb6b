"""Python's warnings are log records like any other: one line with time, pid, level and logger; and a caller's image
that Pillow warns about writes nothing to the log."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

PREFIX = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+08:00 \[\d+\] "


def test_a_warning_is_one_log_line_and_a_callers_odd_image_none(tmp_path: Path) -> None:
    """``warnings.warn`` went to stderr raw, the message and its source line on two lines with no time, pid, level or
    logger; and Pillow warned so at every console check of a TIFF with a tag past its end (any caller with a console
    token could write such pairs at will; a reviewer, R4)."""
    script = tmp_path / "warns.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import io, struct, sys, warnings
            from pathlib import Path
            from PIL import Image, TiffImagePlugin
            from adapters.license_codes import decode_qr_image
            from gateway.config import Settings
            from gateway.server import configure_logging

            configure_logging(Settings(data_dir=Path({str(tmp_path)!r})))
            warnings.warn("a library's warning", UserWarning)

            info = TiffImagePlugin.ImageFileDirectory_v2()
            info[65000] = b"x" * 16
            info.tagtype[65000] = 7
            image = io.BytesIO()
            Image.new("L", (8, 8), 255).save(image, "TIFF", tiffinfo=info)
            data = bytearray(image.getvalue())
            at = data.find(struct.pack("<HH", 65000, 7))  # the tag's entry: its count far past the file's end
            struct.pack_into("<I", data, at + 4, 10_000_000)
            for _ in range(3):
                try:
                    decode_qr_image(bytes(data))
                except Exception as exc:
                    print(getattr(exc, "reason", type(exc).__name__))
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["NO_QR_CODE"] * 3, done.stderr  # the caller is told, as before
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    warned = r"WARNING py\.warnings .*warns\.py:\d+: UserWarning: a library's warning\\n.*"  # its source line after
    assert re.fullmatch(PREFIX + warned, lines[0]), lines[0]


def test_overlapping_image_checks_leave_the_processs_warnings_as_they_were(tmp_path: Path) -> None:
    """Pillow's warnings had been ignored around each decode with ``warnings.catch_warnings``, which saves and puts
    back the one list of filters of the process: two console checks at once (a thread each) put back the other's
    "ignore everything", and every later warning of that worker went unlogged (a reviewer, R1). Four threads decode
    QR photos and an odd TIFF at once; the filters are then as they were, a library's warning is still logged, and an
    image past Pillow's own warning size (100 megapixels) is still refused by its pixels, with nothing logged."""
    script = tmp_path / "overlapping.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import io, struct, sys, threading, warnings, zlib
            from pathlib import Path
            import segno
            from PIL import Image, TiffImagePlugin
            from adapters.license_codes import decode_qr_image
            from gateway.config import Settings
            from gateway.server import configure_logging

            configure_logging(Settings(data_dir=Path({str(tmp_path)!r})))

            def png(side):
                drawn = io.BytesIO()
                segno.make("ZZ1:overlapping").save(drawn, kind="png", scale=4, border=4)
                out = io.BytesIO()
                Image.open(drawn).convert("L").resize((side, side)).save(out, format="PNG")
                return out.getvalue()

            info = TiffImagePlugin.ImageFileDirectory_v2()
            info[65000] = b"x" * 16
            info.tagtype[65000] = 7
            tiff = io.BytesIO()
            Image.new("L", (8, 8), 255).save(tiff, "TIFF", tiffinfo=info)
            odd = bytearray(tiff.getvalue())
            struct.pack_into("<I", odd, odd.find(struct.pack("<HH", 65000, 7)) + 4, 10_000_000)

            before = list(warnings.filters)
            answers, failures = set(), []

            def run(data):
                for _ in range(15):
                    try:
                        answers.add(decode_qr_image(data))
                    except Exception as exc:
                        answers.add(getattr(exc, "reason", None) or repr(exc))

            threads = [threading.Thread(target=run, args=(data,)) for data in (png(200), png(1800), bytes(odd)) * 2]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            print(sorted(answers))
            print("filters kept" if warnings.filters == before else f"filters changed: {{warnings.filters[:3]}}")

            one = io.BytesIO()
            Image.new("1", (1, 1)).save(one, "PNG")
            header = b"IHDR" + struct.pack(">II", 10_000, 10_000) + one.getvalue()[24:29]
            claimed = one.getvalue()[:12] + header + struct.pack(">I", zlib.crc32(header)) + one.getvalue()[33:]
            try:
                decode_qr_image(claimed)
            except Exception as exc:
                print(getattr(exc, "reason", repr(exc)), str(exc).split("（")[1])
            warnings.warn("a library's warning after the checks", UserWarning)
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines() == [
        "['NO_QR_CODE', 'ZZ1:overlapping']",
        "filters kept",
        "IMAGE_TOO_MANY_PIXELS 10000×10000，最多 40,000,000 像素）",
    ], done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # the library's warning; none of Pillow's
    warned = r"WARNING py\.warnings .*UserWarning: a library's warning after the checks\\n.*"
    assert re.fullmatch(PREFIX + warned, lines[0]), lines[0]
