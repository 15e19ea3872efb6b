"""Fixtures the PDF tests share: a seal-maker CA and a timestamp authority, one of each per module (a module that
needs others defines its own, which takes precedence)."""

from tests.signing.test_pdf import ca, tsa  # noqa: F401  (fixtures: pytest finds them here)
