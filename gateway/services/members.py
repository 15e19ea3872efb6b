"""Members (成员): who may call, how they prove it, and the members ``zzgw init`` registers (the demo ones, or a
deployment's file, ``ZZGW_MEMBERS``), with the catalog (the demo one, or ``ZZGW_CATALOG``).

Dev mode identifies a caller by a bearer token (``authorization: Bearer <token>``) whose SHA-256 is stored with the
member; production mode identifies it by the SHA-256 fingerprint of the client certificate presented in the mTLS
handshake, and takes a member's token only at the clerk's console, and only a console token (``zzgw
console-token``): the dev tokens of a store that began in dev mode stay in its members' column until replaced, and
are refused (``Authenticator``, ``dev_tokens``). A clerk may have a console token of their own (``--clerk``, table
``console_clerks``), which names the operator of their checks. Lookups are cached for a short time, so a removed
member or an ended token is locked out within that time.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

from cachetools import TTLCache
from cryptography import x509

from gateway.domain.catalog import Catalog
from gateway.domain.errors import (
    ConflictError,
    FieldViolation,
    InvalidRequestError,
    NotFoundError,
    UnauthenticatedError,
)
from gateway.domain.identifiers import LicenseId, region_code_problem, uscc_problem
from gateway.domain.model import Clock, Member, Role, beijing_time, partner_roles_said
from gateway.domain.verification import (
    MAX_OPERATOR,
    Elsewhere,
    elsewhere_of,
    operator_violation,
    personal_data_in,
    plain_operator,
)
from gateway.store.database import Database, UnitOfWork
from gateway.store.repositories import ConsoleClerk, FactRepository
from signing.pki import member_code
from signing.seal_image import issuer_name_problem

_CACHE_SECONDS = 30.0
_UNCACHED = object()
"""What a credential cache answers for a key it does not hold (None is cached too: a credential known to be none)."""


def _cached(cache: TTLCache[str, Any], key: str) -> object:
    """``cache[key]``, or ``_UNCACHED``, from ONE look at the clock: ``key in cache`` then ``cache[key]`` (and
    cachetools' own ``get``, which does just that) reads it twice, and an entry expiring in between raised KeyError
    (an INTERNAL on any call, found by a soak tester) or signed a clerk out."""
    try:
        return cache[key]
    except KeyError:
        return _UNCACHED


MAX_MEMBER_NAME = 200
DEV_TOKEN_PREFIX = "zzgw-dev-"
"""How a dev bearer token (``zzgw init`` in dev mode, ``<data_dir>/dev-tokens.json``) begins."""
CONSOLE_TOKEN_PREFIX = "zzgw-console-"
"""How a department's console token (``zzgw console-token USCC``) begins."""


def issuer_elsewhere(db: Database, issuer: str) -> Elsewhere | None:
    """Where ``issuer`` (a USCC) is when it is another region's issuer (``elsewhere_of``), else None: what
    verification, sharing and authorization each ask of a license's issuer before they refuse or look it up."""
    with db.unit_of_work() as uow:
        return elsewhere_of(issuer, uow.members.get(issuer), uow.members.all)


def of_another_registry(db: Database, catalog: Catalog, named: LicenseId) -> bool:
    """Whether ``named`` is of a type another region defines, with an issuer of another region: not this catalog's
    to refuse as a type the matter does not use, but the lookup's to answer NOT_IN_THIS_REGISTRY, as VerifyLicense
    answers it (``check_type_used``'s ``of_another_registry``)."""
    return named.type_code not in catalog.license_types and issuer_elsewhere(db, named.issuer_code) is not None


def load_bootstrap_catalog() -> Catalog:
    return Catalog.from_json(resources.files("gateway.bootstrap").joinpath("catalog.json").read_bytes())


def load_demo_members() -> list[Member]:
    return members_from(_bootstrap_json("members.json"), "the demo members")


def load_catalog(path: str = "", raw: bytes | None = None) -> Catalog:
    """The catalog in the JSON file ``path`` (docs/catalog.md), or the bootstrap (demo) catalog without one; ``raw``:
    the file's bytes, read before (``read_catalog``). ValueError says what is wrong with the file, and where."""
    if not path:
        return load_bootstrap_catalog()
    if raw is None:
        raw = read_catalog(path)
    try:
        return Catalog.from_json(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: not a catalog: {_said(exc)}") from None


def refuse_unadoptable(catalog: Catalog, path: str = "") -> None:
    """ValueError when ``catalog`` (the file ``path``; the demo catalog without one) is one a store may go on serving
    but no store may adopt (``Catalog.unseen_text``): said by `zzgw catalog check` and the
    `zzgw init` that adopts it."""
    if said := catalog.unseen_text():
        raise ValueError(f"{path or 'the demo catalog'}: cannot be adopted: {said}")


def read_catalog(path: str) -> bytes:
    """The bytes of the catalog file ``path``; ValueError when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None


def load_members(path: str = "") -> list[Member]:
    """The members in the JSON file ``path`` (the form of ``gateway/bootstrap/members.json``), or the demo members
    without one. ValueError says what is wrong with the file."""
    return members_from(_json_file(path), path) if path else load_demo_members()


def members_from(data: Any, where: str) -> list[Member]:
    """Members from their JSON form, checked: a valid USCC and region for each, known roles, and no code or name
    twice (a matter names the department that handles it by name)."""
    raw_members = data.get("members") if isinstance(data, dict) else None
    if not isinstance(raw_members, list) or not raw_members:
        raise ValueError(f'{where}: expected {{"members": [{{"code", "name", "region", "roles"}}, …]}}')
    members: list[Member] = []
    for number, raw in enumerate(raw_members, 1):
        try:
            if not isinstance(raw, dict) or set(raw) != {"code", "name", "region", "roles"}:
                raise ValueError("needs exactly code, name, region and roles")
            if not isinstance(raw["name"], str) or not raw["name"].strip() or not isinstance(raw["roles"], list):
                raise ValueError("needs a name and a list of roles")
            if not all(isinstance(raw[key], str) for key in ("code", "region")):
                raise ValueError("code and region are strings")
            member = Member(
                code=raw["code"],
                name=raw["name"].strip(),
                region=raw["region"],
                roles=frozenset(Role(r) for r in raw["roles"]),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: member {number}: {_said(exc)}") from None
        if problem := uscc_problem(member.code) or region_code_problem(member.region) or _name_problem(member):
            raise ValueError(f"{where}: member {number} ({member.name}): {problem}")
        if not member.roles:
            raise ValueError(f"{where}: member {number} ({member.name}): no role")
        if refused := partner_roles_said(member):  # a partner as a holder portal grants itself consents (review
            raise ValueError(f"{where}: member {number}: {refused}")  # partner, R1)
        members.append(member)
    for attribute in ("code", "name"):
        values = [getattr(m, attribute) for m in members]
        if twice := sorted({v for v in values if values.count(v) > 1}):
            raise ValueError(f"{where}: the same {attribute} for several members: {', '.join(twice)}")
    administrators = [m for m in members if m.has(Role.ADMIN)]
    if administrators and all(m.has(Role.PARTNER) for m in administrators):
        # the gateway's receipt certificate (核验回执专用章) and SM2 seal maker are named after its operator, never a
        # partner province's: such a file had given a gateway that was ready and verified and shared nothing, every
        # department told NO_SEAL_CA "run zzgw init", which changed nothing (review fixrev2, R2)
        partners = "、".join(f"{m.name}（{m.code}）" for m in administrators)
        raise ValueError(
            f"{where}: 成员文件中没有本网关的运维管理员（ADMIN）：有 ADMIN 角色的只有合作网关 {partners}，合作网关的 "
            "ADMIN 不算；请加上本网关运维单位的成员，角色含 ADMIN、不含 PARTNER，本网关的核验回执专用章以它的名义签发"
            "（no member with ADMIN that is no partner gateway: a partner gateway's ADMIN does not count; list the "
            "gateway's operator with ADMIN and without PARTNER, whose name the receipt certificate bears）"
        )
    return members


def _name_problem(member: Member) -> str:
    """Why a member's name will not do, or empty: at most 200 printable characters (the column), and an issuer's
    fits around its seal (2–30 characters, no spaces: ``signing.seal_image``)."""
    if len(member.name) > MAX_MEMBER_NAME or not member.name.isprintable():
        return f"the name must be 1-{MAX_MEMBER_NAME} printable characters"
    return issuer_name_problem(member.name) if member.has(Role.ISSUER) else ""


def _json_file(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not UTF-8 JSON: {exc}") from None


def _said(exc: BaseException) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


def _bootstrap_json(name: str) -> Any:
    return json.loads(resources.files("gateway.bootstrap").joinpath(name).read_text(encoding="utf-8"))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """Who a console token signs in: the member, and the clerk when the token is the clerk's own (else empty)."""

    member: Member
    clerk: str


_UNKNOWN_TOKEN = "接入令牌无效，请核对令牌，或向运维管理员申请新的令牌（unknown bearer token）"
_UNKNOWN_CERTIFICATE = "客户端证书不属于任何成员（unknown client certificate）"
"""Refusals of a credential no member has, Chinese first as the department's people read them."""
_ENDED_TOKEN = (
    "接入令牌已被停用或更换，请向管理员申领新的令牌（the clerk's console token was ended: ask the administrator for "
    "a new one）"
)
"""The refusal of a clerk's own console token that was ended (``--end``, a new token for the clerk, or ``zzgw members
--revoke``): a clerk told 请核对 had typed or pasted the same token again (a clerk tester)."""
_ENDED = object()
"""Cached for a clerk's token that has ended (``by_console_token``)."""


class Authenticator:
    """Finds the member behind a bearer token or a client certificate fingerprint."""

    def __init__(self, db: Database, clock: Clock, *, dev_tokens: bool = True):
        """``dev_tokens``: whether a member's dev bearer token signs in, as in dev mode. In production mode (false)
        a member's token is taken only if it is a console token (``zzgw console-token``): dev tokens and console
        tokens share the members' token column, and a store that began in dev mode keeps its members' dev tokens
        there until ``zzgw console-token`` replaces them, one member at a time. ``clock`` says when a client
        certificate has ended (``by_certificate``)."""
        self._db = db
        self._clock = clock
        self._dev_tokens = dev_tokens
        self._cache: TTLCache[str, Member | None] = TTLCache(maxsize=4096, ttl=_CACHE_SECONDS)
        self._clerks: TTLCache[str, object] = TTLCache(maxsize=4096, ttl=_CACHE_SECONDS)
        self._why: TTLCache[str, UnauthenticatedError | None] = TTLCache(maxsize=1024, ttl=_CACHE_SECONDS)
        """Why a certificate no member has was refused (``_no_longer``), by the same keys."""
        self._strangers: TTLCache[str, None] = TTLCache(maxsize=1024, ttl=_CACHE_SECONDS)
        """The credentials found to be no one's (a token made up, a certificate no member has), by the same keys:
        apart from the members', which they had pushed out of the cache (4,100 made-up tokens sent to the console's
        sign-in, and every member's next call read the store again; a reviewer)."""
        self._lock = threading.Lock()

    @property
    def dev_tokens(self) -> bool:
        """Whether a member's dev bearer token signs in: dev mode, on a store not switched to production since."""
        return self._dev_tokens

    def end_dev_tokens(self) -> None:
        """Take no dev bearer token from now on, as in production mode: a dev-mode process whose store was switched to
        production while it served (``CatalogPin.went_production``)."""
        self._dev_tokens = False

    def by_token(self, token: str) -> Member:
        """The member whose token (a dev bearer token, or a console token) ``token`` is; in production mode
        (``dev_tokens`` false) a console token only, whatever the store holds."""
        if not self._dev_tokens and not token.startswith(CONSOLE_TOKEN_PREFIX):
            said = (
                "生产模式下不接受开发令牌，请使用 zzgw console-token 签发的控制台令牌（a dev bearer token is not "
                "accepted in production mode: the console takes a token from `zzgw console-token`）"
                if token.startswith(DEV_TOKEN_PREFIX)
                else _UNKNOWN_TOKEN
            )
            raise UnauthenticatedError(said, reason="UNKNOWN_CREDENTIAL")  # the reason the console signs out on
        return self._lookup("t:" + token_digest(token), _UNKNOWN_TOKEN)

    def by_certificate(self, cert_der: bytes) -> Member:
        """The member whose registered client certificate ``cert_der`` is, while the certificate is in its dates by
        the gateway's clock: past its notAfter, UNAUTHENTICATED / CERTIFICATE_EXPIRED, naming the member. The TLS
        handshake checks the dates only when a connection opens, and a connection lasts as long as its client keeps
        it: a partner's certificate had gone on reading data on a connection opened before it ended, and its watch
        stream on receiving events (found by a partner-gateway tester). Every call checks, and an open stream's
        recheck (``still_caller``) does too."""
        key = "c:" + hashlib.sha256(cert_der).hexdigest()
        try:
            member = self._lookup(key, _UNKNOWN_CERTIFICATE)
        except UnauthenticatedError:
            with self._lock:
                why = _cached(self._why, key)
            if why is _UNCACHED:
                why = self._no_longer(cert_der)
                with self._lock:
                    self._why[key] = why
            if why is None:
                raise
            said = cast(UnauthenticatedError, why)
            raise UnauthenticatedError(said.message, reason=said.reason, metadata=said.metadata) from None
        ended = _not_after(cert_der)
        if self._clock.now() > ended:  # notAfter is the certificate's last valid second (RFC 5280 §4.1.2.5)
            raise _expired(member.code, ended)
        return member

    def _no_longer(self, cert_der: bytes) -> UnauthenticatedError | None:
        """Why a certificate of the member CA (the TLS handshake checked it) no longer signs a member in: its member
        revoked (``CREDENTIAL_REVOKED``, naming the member in the ErrorInfo's ``member``, which the access log
        takes); None otherwise. A revoked partner had been told "unknown client certificate", which sent its
        operators after a wrong certificate file (a partner-gateway tester), and the access log had said
        ``UNKNOWN_CREDENTIAL`` of member "-", as of a stranger (an on-call tester). A certificate the member had until
        it was retired (``MemberService.retire``) stays ``UNKNOWN_CREDENTIAL``, said as replaced."""
        try:
            code = member_code(x509.load_der_x509_certificate(cert_der))
        except ValueError:
            return None
        digest = hashlib.sha256(cert_der).hexdigest()
        with self._db.unit_of_work() as uow:
            member = uow.members.get(code) if code else None
            revoked = member is not None and code in uow.members.revoked()
            taken = member is not None and uow.facts.get(REVOKED_CERTIFICATE + digest[:40]) == digest
            by_revoke = taken and uow.facts.get(REVOKED_BY_REVOKE + digest[:34]) == digest
        if member is not None and not revoked and by_revoke:
            # revoked (a key that may have leaked), the member restored since: not "replaced", which had told its
            # holder of a new certificate handed over (a renewal tester, D4)
            return UnauthenticatedError(
                f"成员 {code} 的这张客户端证书已被撤销（zzgw members --revoke），永不再受信任，请联系证照网关的管理员"
                f"（this client certificate of member {code} was revoked (`zzgw members --revoke`) and is never "
                "trusted again: ask the gateway's administrator）",
                reason="CREDENTIAL_REVOKED",
                metadata={"member": code},
            )
        if member is not None and not revoked and taken:
            # one the member had, retired after a renewal (or revoked before a restore, recorded before the
            # revocation was told apart): its department's system
            # still presents the old pair, and is told to move to the new one, under the reason it always had
            return UnauthenticatedError(
                f"成员 {code} 的这张客户端证书已停用（已换发新证书），请改用证照网关管理员交付的新证书（this client "
                f"certificate of member {code} is no longer accepted (it was replaced by a renewed one): connect with "
                "the new certificate the gateway's administrator handed over）",
                reason="UNKNOWN_CREDENTIAL",
            )
        if member is None or not revoked:
            # not "replaced": a certificate that names a member in force need never have been its (a stray one of the
            # member CA had been told a new one was issued; found by a security tester)
            return None
        return UnauthenticatedError(
            f"成员 {code} 的凭证已被撤销，请联系证照网关的管理员（the credentials of member {code} were revoked: "
            "ask the gateway's administrator）",
            reason="CREDENTIAL_REVOKED",
            metadata={"member": code},
        )

    def _lookup(self, key: str, unknown: str) -> Member:
        """The member under ``key``; UNKNOWN_CREDENTIAL said as ``unknown`` when there is none. A member revoked has
        none, whatever its row holds: ``revoke`` takes its credentials, and one left there all the same (a console
        token issued to it by a zzgw before 2026-12-06, a renewal committed on its row as it was revoked) had signed
        it in, while ``zzgw members`` listed it revoked (a reviewer, R1, R5). A certificate is then said revoked
        (``by_certificate``, ``_no_longer``)."""
        with self._lock:
            cached = _cached(self._cache, key)
            stranger = key in self._strangers
        if stranger:
            raise UnauthenticatedError(unknown, reason="UNKNOWN_CREDENTIAL")
        if cached is not _UNCACHED:
            return cast(Member, cached)
        with self._db.unit_of_work() as uow:
            digest = key[2:]
            member = (
                uow.members.by_token_hash(digest, in_force=True)
                if key[0] == "t"
                else uow.members.by_cert_hash(digest, in_force=True)
            )
        with self._lock:
            if member is None:
                self._strangers[key] = None
            else:
                self._cache[key] = member
        if member is None:
            raise UnauthenticatedError(unknown, reason="UNKNOWN_CREDENTIAL")
        return member

    def by_console_token(self, token: str) -> ConsoleUser:
        """Who signs in to the console with ``token``: a clerk's own token names the clerk, the department's
        token (``by_token``) names none. A clerk's token that has ended is UNAUTHENTICATED / TOKEN_ENDED, not
        UNKNOWN_CREDENTIAL: the store keeps the ended ones (a department's token replaced is gone from it, and is
        unknown), and so is one of a member revoked. Cached as the other lookups: an ended token works at most that
        long."""
        key = "k:" + token_digest(token)
        with self._lock:
            cached = None if key in self._strangers else _cached(self._clerks, key)
        if cached is _UNCACHED:
            with self._db.unit_of_work() as uow:
                found = uow.console_clerks.by_token_hash(key[2:])
                member = uow.members.get(found.member_code) if found is not None else None
                # a clerk's token left to a member revoked (R1) is ended, as ``revoke`` ends its clerks' tokens
                revoked = member is not None and uow.members.is_revoked(member.code)
                ended = revoked or (found is None and uow.console_clerks.ended(key[2:]))
            cached = _ENDED if ended else ConsoleUser(member, found.clerk) if found and member is not None else None
            if cached is None:  # no clerk's: the department's token (``by_token``), or no one's
                try:
                    self.by_token(token)
                except UnauthenticatedError:
                    with self._lock:
                        self._strangers[key] = None
                    raise
            with self._lock:
                self._clerks[key] = cached
        if cached is _ENDED:
            raise UnauthenticatedError(_ENDED_TOKEN, reason="TOKEN_ENDED")
        clerk = cast(ConsoleUser | None, cached)
        return clerk if clerk is not None else ConsoleUser(self.by_token(token), "")


@functools.lru_cache(maxsize=4096)
def _not_after(cert_der: bytes) -> dt.datetime:
    """When a registered certificate ends; cached, since a client presents the same one on every call."""
    return x509.load_der_x509_certificate(cert_der).not_valid_after_utc


def _expired(code: str, ended: dt.datetime) -> UnauthenticatedError:
    return UnauthenticatedError(
        f"成员 {code} 的客户端证书已于 {beijing_time(ended)}过期，请向证照网关的管理员申请新证书，用新证书重新连接"
        f"（the client certificate of member {code} ended at {ended:%Y-%m-%dT%H:%M:%SZ}: ask the gateway's "
        "administrator for a renewed one, and connect with it）",
        reason="CERTIFICATE_EXPIRED",
        metadata={"member": code, "not_after": f"{ended:%Y-%m-%dT%H:%M:%SZ}"},
    )


REVOKED_CERTIFICATE = "revoked-certificate:"
"""The prefix of the store's fact naming a client certificate ``revoke`` took (with 40 hex digits of its SHA-256, within
the fact's 64 characters; value: the whole SHA-256): never registered
again, though a replica's init between ``restore`` and the renewal finds it still in its pki/ (a reviewer)."""
REVOKED_BY_REVOKE = REVOKED_CERTIFICATE + "by-revoke:"
"""The prefix of a second fact for a client certificate ``revoke`` took, not ``retire`` (with 34 hex digits of its
SHA-256, within the 64 characters; value: the whole SHA-256): said revoked after a ``restore``, not replaced by a
renewal. Under ``REVOKED_CERTIFICATE``'s prefix, so read as one more taken certificate (the same digest) by what
reads those."""


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
        checked: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Register or update members. Returns new dev tokens by member code.

        Running it again keeps what exists; with ``issue_tokens`` it replaces the dev tokens. A revoked member
        (``revoke``) is updated but given no credential until it is restored.

        ``certificates`` are registered only over what ``checked`` says each member had registered when the caller
        read it (code to SHA-256; none for a member absent), the members' rows held meanwhile: a renewal or
        revocation committed since raises ``RegistrationChanged`` and nothing is registered. ``zzgw init`` had written
        back the certificate it read over a `zzgw members --renew` committed a moment before, and the renewed pair was
        registered nowhere (a reviewer, R1).
        """
        tokens: dict[str, str] = {}
        now = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:
            for code in sorted({m.code for m in members}):  # a renewal or revocation of one commits before, or waits
                uow.members.lock(code)
            revoked = uow.members.revoked()
            if certificates:
                _refuse_registration_changed(uow, certificates, checked or {}, revoked)
            for member in members:
                if member.code in revoked:
                    uow.members.save(member, at=now)
                    continue
                token_hash = None
                if issue_tokens:
                    tokens[member.code] = DEV_TOKEN_PREFIX + secrets.token_urlsafe(24)
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

    def issue_console_token(self, code: str, *, deliver: Callable[[str], None] | None = None) -> str:
        """A new token for ``code``'s clerks to sign in to the console with, ending the one before (within the
        authenticator's cache time). In production mode gRPC callers present client certificates and never a token,
        so this token opens the console only; in dev mode it would replace the member's dev bearer token.
        ConflictError (MEMBER_REVOKED) for a member revoked: the command had handed a locked-out department a
        working token, while `zzgw members` still listed it revoked (a reviewer, R1). ``deliver`` is given the token
        before it is committed: what it raises leaves the token before in force (a token the command could not
        print had ended it; a reviewer, clirev R2)."""
        token = CONSOLE_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db.unit_of_work(write=True) as uow:
            member = _in_force(uow, code)
            uow.members.save(member, at=self._clock.now(), token_sha256=token_digest(token))
            if deliver is not None:
                deliver(token)
            uow.commit()
        return token

    def issue_clerk_token(self, code: str, clerk: str, *, deliver: Callable[[str], None] | None = None) -> str:
        """A console token of ``clerk``'s own (a name or staff number, as the access records will name them) at
        member ``code``, ending the clerk's token before (within the authenticator's cache time). It opens the
        console only, in either mode, and the operator of each check is the clerk it names. ConflictError
        (MEMBER_REVOKED) for a member revoked, and ``deliver``, as ``issue_console_token``."""
        clerk = _clerk_name_every_check_takes(clerk)
        token = "zzgw-clerk-" + secrets.token_urlsafe(32)
        with self._db.unit_of_work(write=True) as uow:
            _in_force(uow, code)
            uow.console_clerks.issue(code, clerk, token_digest(token), self._clock.now())
            if deliver is not None:
                deliver(token)
            uow.commit()
        return token

    def revoke(self, code: str) -> int:
        """Take every credential from member ``code``: its client certificate's registration, its token (dev bearer
        or console) and its clerks' console tokens; locked out within the authenticator's cache time. The member
        stays, named in the records that name it, and stays revoked (``zzgw init`` gives it no credential) until
        ``restore``. How many credentials were taken (0: it had none)."""
        now = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:
            if not uow.members.lock(code):  # a renewal of it on another replica commits before, or waits (R5)
                raise NotFoundError(f"no member {code!r}", reason="MEMBER_NOT_FOUND")
            taken = _take_credentials(uow, code, now)
            uow.commit()
        return taken

    def renewable(self, code: str, *, ended: str | None = None) -> str:
        """The SHA-256 of member ``code``'s registered client certificate when ``renew`` may replace it; else the
        error ``renew`` raises (``ended`` as ``renew`` takes it)."""
        with self._db.unit_of_work() as uow:
            return _renewable(uow, code, ended)

    def renew(self, code: str, cert_der: bytes, *, ended: str | None = None) -> str:
        """Register ``cert_der`` as member ``code``'s client certificate, the one registered until now staying
        accepted beside it (its previous one) until ``retire``, ``revoke`` or its end: a department is given its new
        pair before it loses the old one (``zzgw members --renew``). Renewing had meant revoking first, and a partner
        province was locked out until the new key reached it (a partner-province tester). Returns the SHA-256 of the
        previous certificate. ConflictError for a member revoked, without a certificate registered, or with a
        previous one still accepted (one overlap at a time: ``retire`` it first). ``ended``, the SHA-256 of a
        previous certificate the caller found ended (``member_certificates.renew_certificate``, which reads its end
        from the file: the store has its digest only), is no overlap: it is retired in the same transaction, as
        ``retire`` would (a renewal had stayed refused until a certificate nothing accepted any more was retired; a
        reviewer)."""
        digest = hashlib.sha256(cert_der).hexdigest()
        with self._db.unit_of_work(write=True) as uow:
            uow.members.lock(code)  # a revocation of it on another replica commits before, or waits (R5)
            registered = _renewable(uow, code, ended)
            if digest in self._revoked(uow) or uow.members.by_cert_hash(digest) is not None:
                raise ConflictError(f"that certificate is taken already: {digest}", reason="CERTIFICATE_TAKEN")
            if ended is not None and uow.members.previous_certificate_digests().get(code) == ended:
                _record_revoked(uow.facts, ended)
                uow.members.retire(code)
            if not uow.members.renew(code, digest, registered):  # the row changed after all: nothing registered
                raise ConflictError(
                    f"member {code} was revoked, renewed or retired while this renewal ran: `zzgw members` says how "
                    "it is now",
                    reason="RENEWAL_RACED",
                )
            uow.commit()
        return registered

    def retire(self, code: str) -> str:
        """Stop accepting member ``code``'s previous client certificate (``renew``): refused within the
        authenticator's cache time, and never registered again. Returns its SHA-256; ConflictError when the member
        has none."""
        with self._db.unit_of_work(write=True) as uow:
            if not uow.members.lock(code):
                raise NotFoundError(f"no member {code!r}", reason="MEMBER_NOT_FOUND")
            digest = uow.members.previous_certificate_digests().get(code)
            if digest is None:
                raise ConflictError(
                    f"member {code} has no previous client certificate accepted (`zzgw members --renew {code}` "
                    "keeps one while the department moves to the new pair)",
                    reason="NO_PREVIOUS_CERTIFICATE",
                )
            _record_revoked(uow.facts, digest)
            uow.members.retire(code)
            uow.commit()
        return digest

    def previous_certificates(self) -> dict[str, str]:
        """Each member with a previous client certificate accepted beside its renewal: code to its SHA-256."""
        with self._db.unit_of_work() as uow:
            return uow.members.previous_certificate_digests()

    @staticmethod
    def _revoked(uow: UnitOfWork) -> set[str]:
        return {digest for name, digest in uow.facts.all().items() if name.startswith(REVOKED_CERTIFICATE)}

    def revoked_certificates(self) -> set[str]:
        """The SHA-256 of every client certificate ``revoke`` or ``retire`` took (``REVOKED_CERTIFICATE``), never
        registered again."""
        with self._db.unit_of_work() as uow:
            return self._revoked(uow)

    def taken_by_revoke(self, digest: str) -> bool:
        """Whether the client certificate whose SHA-256 is ``digest`` was taken by ``revoke`` (``REVOKED_BY_REVOKE``),
        not ``retire``."""
        with self._db.unit_of_work() as uow:
            return uow.facts.get(REVOKED_BY_REVOKE + digest[:34]) == digest

    def restore(self, code: str) -> None:
        """End ``code``'s revocation: the next ``zzgw init`` registers its credentials again, and console tokens may
        be issued to it again. A credential found on its row all the same (one issued to it while revoked by a zzgw
        before 2026-12-06, a renewal committed as it was revoked) is taken as ``revoke`` takes one, first: it had
        come back with the restore, unnoticed (a reviewer, R1)."""
        now = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:
            if not uow.members.lock(code):
                raise NotFoundError(f"no member {code!r}", reason="MEMBER_NOT_FOUND")
            if not uow.members.is_revoked(code):
                raise NotFoundError(f"member {code} is not revoked", reason="NOT_REVOKED")
            _take_credentials(uow, code, now)
            uow.members.restore(code)
            uow.commit()

    def revoked(self) -> set[str]:
        """The codes of the revoked members."""
        with self._db.unit_of_work() as uow:
            return uow.members.revoked()

    def in_force(self) -> tuple[Member, ...]:
        """The members not revoked."""
        with self._db.unit_of_work() as uow:
            revoked = uow.members.revoked()
            return tuple(m for m in uow.members.all() if m.code not in revoked)

    def end_clerk_token(self, code: str, clerk: str) -> None:
        """End ``clerk``'s console token at member ``code`` (within the authenticator's cache time)."""
        with self._db.unit_of_work(write=True) as uow:
            if not uow.console_clerks.end(code, _clerk_name(clerk), self._clock.now()):
                raise NotFoundError(f"{clerk!r} of {code} has no console token in force", reason="NO_CLERK_TOKEN")
            uow.commit()

    def clerks(self, code: str) -> tuple[ConsoleClerk, ...]:
        """``code``'s clerks with a console token in force, by name."""
        with self._db.unit_of_work() as uow:
            if uow.members.get(code) is None:
                raise NotFoundError(f"no member {code!r}", reason="MEMBER_NOT_FOUND")
            return tuple(uow.console_clerks.in_force(code))


def _in_force(uow: UnitOfWork, code: str) -> Member:
    """Member ``code``, held (``lock``) for the transaction; NotFoundError without one, ConflictError (MEMBER_REVOKED)
    for one revoked: it is given no credential until ``restore`` (R1)."""
    member = uow.members.get(code) if uow.members.lock(code) else None
    if member is None:
        raise NotFoundError(f"no member {code!r}", reason="MEMBER_NOT_FOUND")
    if uow.members.is_revoked(code):
        raise ConflictError(
            f"member {code} is revoked: it is given no credential, console tokens included, until `zzgw members "
            f"--restore {code}` (docs/departments.md)",
            reason="MEMBER_REVOKED",
        )
    return member


def _take_credentials(uow: UnitOfWork, code: str, now: dt.datetime) -> int:
    """Take every credential of member ``code`` (held: ``lock``), its certificates recorded as revoked
    (``REVOKED_CERTIFICATE``, ``REVOKED_BY_REVOKE``), and mark it revoked; how many were taken."""
    for digest in (
        uow.members.certificate_digests().get(code),
        uow.members.previous_certificate_digests().get(code),  # still accepted beside its renewal
    ):
        if digest is not None:
            _record_revoked(uow.facts, digest)
            if uow.facts.get(REVOKED_BY_REVOKE + digest[:34]) is None:
                uow.facts.add(REVOKED_BY_REVOKE + digest[:34], digest)
    return uow.members.revoke(code, now) + uow.console_clerks.end(code, None, now)


def _renewable(uow: UnitOfWork, code: str, ended: str | None = None) -> str:
    """``MemberService.renewable`` in ``uow``: a previous certificate whose SHA-256 is ``ended`` is no overlap."""
    if uow.members.get(code) is None:
        raise NotFoundError(f"no member {code!r}", reason="MEMBER_NOT_FOUND")
    if code in uow.members.revoked():
        raise ConflictError(
            f"member {code} is revoked: `zzgw members --restore {code}`, then `zzgw init`, issue it a new pair",
            reason="MEMBER_REVOKED",
        )
    registered = uow.members.certificate_digests().get(code)
    if registered is None:
        raise ConflictError(
            f"member {code} has no client certificate registered: `zzgw init` issues its first", reason="NO_CERTIFICATE"
        )
    if (previous := uow.members.previous_certificate_digests().get(code)) is not None and previous != ended:
        raise ConflictError(
            f"member {code} has a previous client certificate still accepted beside its last renewal: once its "
            f"department connects with the new one (or once that certificate has ended), `zzgw members --retire "
            f"{code}`, then renew again",
            reason="RENEWAL_OVERLAPS",
        )
    return registered


def _record_revoked(facts: FactRepository, digest: str) -> None:
    """Record the client certificate ``digest`` as taken (``REVOKED_CERTIFICATE``), once: kept after its
    registration is gone, so that an init with an older pki/ does not register it again."""
    if facts.get(REVOKED_CERTIFICATE + digest[:40]) is None:
        facts.add(REVOKED_CERTIFICATE + digest[:40], digest)


class RegistrationChanged(Exception):
    """A member's registered client certificate is no longer the one the caller checked (``MemberService.register``):
    a renewal or revocation committed since; ``codes``, those members."""

    def __init__(self, codes: list[str]):
        super().__init__(", ".join(codes))
        self.codes = codes


def _refuse_registration_changed(
    uow: UnitOfWork, certificates: Mapping[str, bytes], checked: Mapping[str, str], revoked: set[str]
) -> None:
    """``RegistrationChanged`` for the members of ``certificates`` (not revoked: they are given none) whose registered
    certificate, read with their rows held, is neither the one ``checked`` says nor the one to register."""
    registered = uow.members.certificate_digests()
    changed = [
        code
        for code, cert in certificates.items()
        if code not in revoked and registered.get(code) not in (checked.get(code), hashlib.sha256(cert).hexdigest())
    ]
    if changed:
        raise RegistrationChanged(sorted(changed))


def _clerk_name_every_check_takes(clerk: str) -> str:
    """``_clerk_name``, refused (BAD_CLERK) also where the clerk's name is one every check by the clerk would refuse
    as its operator: by the rule each check applies (``operator_violation``), and as on any later day
    (``dt.date.max``) for a 公民身份号码 or a mobile number, as a catalog's purpose is. A staff number shaped as a
    region and a day to come had been issued a token that every check refused from that day on (a reviewer, R1);
    a name holding U+FFFD signed in, and every check was then refused in words about request metadata (a reviewer)."""
    clerk = _clerk_name(clerk)
    violation = operator_violation(clerk)
    personal = personal_data_in(clerk, typed=True, today=dt.date.max)
    if violation is None and not personal:
        return clerk
    if "\ufffd" in clerk:  # the check's words are for an integrator's request metadata, not for the operator here
        description = (
            "a clerk's name or staff number holding U+FFFD (\ufffd), the mark left where characters were lost (text "
            "pasted from a garbled source): every check by the clerk would be refused; type the name again"
        )
    elif personal or violation is None:
        description = (
            "a clerk's name or staff number, not a 公民身份号码 or a mobile number: it names the clerk in the access "
            "records that holders, co-subjects and issuers read"
        )
    else:
        description = violation.description
    raise InvalidRequestError([FieldViolation(field="clerk", reason="BAD_CLERK", description=description)])


def _clerk_name(clerk: str) -> str:
    """A clerk's name or staff number as the access records hold an operator: 1-64 printable characters."""
    clerk = plain_operator(clerk.strip())
    if not clerk or len(clerk) > MAX_OPERATOR or not clerk.isprintable():
        raise InvalidRequestError(
            [
                FieldViolation(
                    field="clerk",
                    reason="BAD_CLERK",
                    description=f"a clerk's name or staff number: 1-{MAX_OPERATOR} printable characters",
                )
            ]
        )
    return clerk
