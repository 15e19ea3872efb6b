"""Page tokens of the list calls (``ListAccessRequests``, ``ListConsents``, ``ListCaseReceipts``): opaque, and good
only for the listing that gave them.

A token had been the position itself (a request's row number; a consent's time and id; a receipt's time and id with
a hash of its case): a made-up number was a page starting wherever it said, and a token of another view, filter,
department or holder was taken as a place in this one, so that a client mixing tokens up skipped or repeated rows
without a word (an integrator, D2). It also showed row numbers that count every department's requests.

A token is now the position encrypted with AES-SIV (RFC 5297) under a key derived from the key store's memo secret,
with the listing (the call, the calling member, its filters) as associated data: a token opens only for the listing
that gave it, and shows nothing of the position. The memo secret is the same on every replica and across restarts
(``zzgw init`` makes it once, and the store records its fingerprint), so a page token given by one process is taken
by any other of the same store. AES-SIV is deterministic: the same page of the same listing has the same token.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.domain.errors import bad_page_token

MAX_PAGE_TOKEN = 512
"""The longest page token read: those given are under 120 characters; a longer string is refused unread."""
_TOKEN = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
"""Unpadded base64url, as ``PageTokens.token`` writes it."""


@dataclass(frozen=True, slots=True)
class Listing:
    """One list call as one member made it: a page token is good for this listing alone."""

    call: str
    """The RPC, e.g. ``ListConsents``."""
    caller: str
    """The calling member's code."""
    filters: tuple[str, ...]
    """Every request field that chooses the rows, as ``name=value`` (not ``limit``: a page may be of another size)."""

    def associated_data(self) -> list[bytes]:
        """The parts AES-SIV binds a token to, each its own item (so no two listings can join to the same bytes)."""
        return [self.call.encode(), self.caller.encode(), *(f.encode() for f in self.filters)]


class PageTokens:
    """Makes the page tokens of every list call and reads them back (see the module's docstring)."""

    def __init__(self, secret: bytes):
        if len(secret) < 32:
            raise ValueError("a memo secret has at least 32 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"zzgw page tokens").derive(secret)
        self._siv = AESSIV(key)

    def token(self, position: str, listing: Listing) -> str:
        """The token of the page after ``position`` (the call's own way of writing where a page ends) in
        ``listing``."""
        sealed = self._siv.encrypt(position.encode(), listing.associated_data())
        return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def position(self, token: str, listing: Listing) -> str | None:
        """The position ``token`` names in ``listing``, None for no token (the first page). Any other token is
        INVALID_ARGUMENT / BAD_PAGE_TOKEN: made up, changed, of another call, member or filter, another store's, or
        of the forms before tokens were sealed."""
        if not token:
            return None
        if len(token) > MAX_PAGE_TOKEN or not _TOKEN.fullmatch(token):
            raise bad_page_token()
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return self._siv.decrypt(sealed, listing.associated_data()).decode("ascii")
        except (ValueError, InvalidTag):  # not base64 (binascii.Error), too short to be sealed, not ASCII inside
            raise bad_page_token() from None
