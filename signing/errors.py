"""Errors of the signing package.

SigningError               root
├── KeyStoreError          a key cannot be loaded or created (wrong passphrase, missing file)
└── InvalidSignature       a signature does not verify
"""

from __future__ import annotations


class SigningError(Exception):
    """Root of the signing package's errors."""


class KeyStoreError(SigningError):
    """A key could not be loaded or created."""


class InvalidSignature(SigningError):
    """A signature did not verify against the data and key."""
