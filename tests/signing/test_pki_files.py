"""How ``signing.pki`` writes the certificates a data directory holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signing.pki import PUBLIC_FILE_MODE, write_public


def test_a_certificate_is_written_0644_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    old = os.umask(0)
    try:
        write_public(path, b"first\n")
        path.chmod(0o666)
        write_public(path, b"second\n")
    finally:
        os.umask(old)
    assert (path.read_bytes(), path.stat().st_mode & 0o777) == (b"second\n", PUBLIC_FILE_MODE)


def test_a_certificate_whose_mode_may_not_be_set_is_rewritten_not_left_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the gateway's user may write but does not own (a data directory shared with a group): its mode may not
    be set (EPERM, as for a user who is not its owner). It was truncated before the mode was set, and the refusal left
    the certificate empty (a review of the fix, fixrevstore R2); it is written, its mode as it was."""
    path = tmp_path / "receipt.pem"
    path.write_bytes(b"old certificate\n")
    path.chmod(0o664)

    def refused(fd: int, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refused)
    write_public(path, b"renewed certificate\n")
    assert path.read_bytes() == b"renewed certificate\n"
    assert path.stat().st_mode & 0o777 == 0o664
