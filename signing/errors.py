"""Errors of the signing package.

SigningError               root
├── KeyStoreError          a key cannot be loaded or created (wrong passphrase, missing file)
└── InvalidSignature       a signature does not verify
"""

from __future__ import annotations

from collections.abc import Iterator


class SigningError(Exception):
    """Root of the signing package's errors."""


class KeyStoreError(SigningError):
    """A key could not be loaded or created."""


class InvalidSignature(SigningError):
    """A signature did not verify against the data and key."""


def causes(error: BaseException, most: int = 8) -> Iterator[BaseException]:
    """``error`` and what caused it, nearest first: the driver's error under a SQLAlchemy one (``orig``), else the
    explicit cause (``raise … from``); at most ``most``."""
    seen: BaseException | None = error
    for _ in range(most):
        if seen is None:
            return
        yield seen
        seen = getattr(seen, "orig", None) or seen.__cause__
