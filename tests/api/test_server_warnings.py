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
