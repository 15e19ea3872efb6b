"""Members (成员): who may call, how they prove it, and the demo members that ``zzgw init`` registers.

Dev mode identifies a caller by a bearer token (``authorization: Bearer <token>``) whose SHA-256 is stored with
the member; production mode identifies it by the SHA-256 fingerprint of the client certificate presented in the
mTLS handshake, and takes a member's token (``zzgw console-token``) only at the clerk's console. Lookups are cached
for a short time, so a removed member is locked out within that time.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from cachetools import TTLCache

from gateway.domain.catalog import Catalog
from gateway.domain.errors import NotFoundError, UnauthenticatedError
from gateway.domain.identifiers import region_code_problem, uscc_problem
from gateway.domain.model import Clock, Member, Role
from gateway.store.database import Database

_CACHE_SECONDS = 30.0


def load_bootstrap_catalog() -> Catalog:
    return Catalog.from_mapping(_bootstrap_json("catalog.json"))


def load_demo_members() -> list[Member]:
    members = []
    for raw in _bootstrap_json("members.json")["members"]:
        member = Member(
            code=raw["code"], name=raw["name"], region=raw["region"], roles=frozenset(Role(r) for r in raw["roles"])
        )
        if problem := uscc_problem(member.code) or region_code_problem(member.region):
            raise ValueError(f"demo member {member.name}: {problem}")
        members.append(member)
    return members


def _bootstrap_json(name: str) -> Any:
    return json.loads(resources.files("gateway.bootstrap").joinpath(name).read_text(encoding="utf-8"))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Finds the member behind a bearer token or a client certificate fingerprint."""

    def __init__(self, db: Database):
        self._db = db
        self._cache: TTLCache[str, Member | None] = TTLCache(maxsize=4096, ttl=_CACHE_SECONDS)
        self._lock = threading.Lock()

    def by_token(self, token: str) -> Member:
        return self._lookup("t:" + token_digest(token), "bearer token")

    def by_certificate(self, cert_der: bytes) -> Member:
        return self._lookup("c:" + hashlib.sha256(cert_der).hexdigest(), "client certificate")

    def _lookup(self, key: str, what: str) -> Member:
        with self._lock:
            if key in self._cache:
                member = self._cache[key]
                if member is None:
                    raise UnauthenticatedError(f"unknown {what}", reason="UNKNOWN_CREDENTIAL")
                return member
        with self._db.unit_of_work() as uow:
            digest = key[2:]
            member = uow.members.by_token_hash(digest) if key[0] == "t" else uow.members.by_cert_hash(digest)
        with self._lock:
            self._cache[key] = member
        if member is None:
            raise UnauthenticatedError(f"unknown {what}", reason="UNKNOWN_CREDENTIAL")
        return member


class MemberService:
    """Registers members with their credentials."""

    def __init__(self, db: Database, clock: Clock):
        self._db = db
        self._clock = clock

    def register(
        self,
        members: Iterable[Member],
        *,
        issue_tokens: bool,
        certificates: Mapping[str, bytes] | None = None,
    ) -> dict[str, str]:
        """Register or update members. Returns new dev tokens by member code.

        Running it again keeps what exists; with ``issue_tokens`` it replaces the dev tokens.
        """
        tokens: dict[str, str] = {}
        now = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:
            for member in members:
                token_hash = None
                if issue_tokens:
                    tokens[member.code] = "zzgw-dev-" + secrets.token_urlsafe(24)
                    token_hash = token_digest(tokens[member.code])
                cert = (certificates or {}).get(member.code)
                uow.members.save(
                    member,
                    at=now,
                    token_sha256=token_hash,
                    cert_sha256=hashlib.sha256(cert).hexdigest() if cert else None,
                )
            uow.commit()
        return tokens

    def list(self) -> list[Member]:
        with self._db.unit_of_work() as uow:
            return uow.members.all()

    def issue_console_token(self, code: str) -> str:
        """A new token for ``code``'s clerks to sign in to the console with, ending the one before (within the
        authenticator's cache time). In production mode gRPC callers present client certificates and never a token,
        so this token opens the console only; in dev mode it would replace the member's dev bearer token."""
        token = "zzgw-console-" + secrets.token_urlsafe(32)
        with self._db.unit_of_work(write=True) as uow:
            member = uow.members.get(code)
            if member is None:
                raise NotFoundError(f"no member {code!r}", reason="MEMBER_NOT_FOUND")
            uow.members.save(member, at=self._clock.now(), token_sha256=token_digest(token))
            uow.commit()
        return token
