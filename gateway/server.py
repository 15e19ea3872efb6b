"""Composition root: build the gateway from settings, initialise its data, run its gRPC server.

>>> gateway = Gateway.open(Settings.load())          # doctest: +SKIP
>>> server, port = build_server(gateway, "127.0.0.1:0")  # doctest: +SKIP

Server model: the synchronous gRPC server with a thread pool, one or several worker processes sharing the port
through SO_REUSEPORT (see docs/adr/0001-server-model.md for the measurements behind the choice).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import json
import logging
import math
import os
import re
import resource
import shlex
import signal
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from adapters.console import Console, ConsoleBackend
from adapters.http import HttpApp, HttpServer, Receive, Scope, Send
from adapters.http_connections import ConnectionLimits, descriptors
from gateway import metrics
from gateway.api.arrival import RequestArrival
from gateway.api.audit import AuditServicer
from gateway.api.authorization import AuthorizationServicer
from gateway.api.catalog import CatalogServicer, oversize_listing
from gateway.api.catalog_gate import CatalogGate
from gateway.api.interceptors import MAX_METADATA_BYTES, GatewayInterceptor, received_limit
from gateway.api.issuance import (
    CLIENT_PING_SECONDS,
    CONNECTION_AGE_SECONDS,
    KEEPALIVE_SECONDS,
    KEEPALIVE_TIMEOUT_SECONDS,
    IssuanceServicer,
)
from gateway.api.roles import ALLOWED_ROLES
from gateway.api.seals import SealServicer
from gateway.api.sharing import SharingServicer
from gateway.api.slots import long_streams
from gateway.api.verification import VerificationServicer
from gateway.authorities import (
    ENCRYPTED_KEY,
    FACTS_REVISION,
    PRODUCTION_FACT,
    RECEIPT_CERT,
    RECEIPT_KEY,
    RECEIPT_WHAT,
    SEAL_MEMO_SECRET,
    SERVER_WHAT,
    TSA_CERT,
    TSA_KEY,
    TSA_WHAT,
    IssuedPair,
    authorities_not_the_stores,
    authority_facts,
    check_authorities,
    check_facts,
    check_gateway_revocations,
    decrypt_it,
    ensure_pki,
    ensure_receipt_key,
    ensure_seal_ca,
    ensure_sm2_seal_maker,
    load_receipt_key,
    load_seal_ca,
    make_timestamper,
    outside_tsa_roots,
    production_store_said,
    record_tsa_certificate,
    require_seal_ca_keys,
    retired_since_said,
    revoked_since,
    revoked_since_said,
    seals_of_revoked_maker,
    server_key_fault,
    sm2_seal_maker,
    take_revocations,
    taken_here,
    taken_said,
    time_stamping_authority,
)
from gateway.certificate_ends import (
    CA_WARN_BEFORE,
    MEMBER_CA_WHAT,
    RENEW_BEFORE,
    OwnCertificate,
    OwnCertificates,
    UnreadableFile,
    ending,
    read_certificate,
    watch_own_certificates,
)
from gateway.config import ConfigError, Settings
from gateway.domain.audit import HeadMemos
from gateway.domain.catalog import Catalog
from gateway.domain.counts import counted
from gateway.domain.errors import ConflictError
from gateway.domain.model import CHINA_TZ, Clock, Member, Role, SystemClock, partner_roles_said
from gateway.domain.paging import PageTokens
from gateway.domain.seals import SealStatus
from gateway.domain.verification import matters_of, uses_matter
from gateway.early_stop import StopAsked
from gateway.failures import exit_status, not_its_tables, said, store_refused
from gateway.health import (
    DATABASE_AWAY,
    NOT_ANSWERING,
    CheckThreads,
    HealthServicer,
    NotReady,
    Readiness,
    database_check,
    health_watches,
    wait_until_quiet,
)
from gateway.logs import OncePer, database_details_cut, hide_database_details, since
from gateway.member_certificates import watch_certificate_ends
from gateway.services.audit import AuditSigner, AuditTrail, vouch_upgraded_row
from gateway.services.authorization import (
    AuthorizationService,
    CodeSealer,
    granted_fields,
    recorded_full_fields,
    type_named,
)
from gateway.services.catalog_change import (
    BundleLeft,
    bundles_left,
    fields_left,
    holder_code_types_left,
    issuers_left,
    issuers_not_issuing,
    types_without_issuer,
)
from gateway.services.catalog_pin import CATALOG_FACT, CatalogPin
from gateway.services.documents import DocumentService
from gateway.services.issuance import IssuanceService, SerialGenerator, random_serial
from gateway.services.members import (
    Authenticator,
    MemberService,
    RegistrationChanged,
    load_catalog,
    load_members,
    read_catalog,
    refuse_unadoptable,
)
from gateway.services.receipt_certificates import ReceiptCertificates
from gateway.services.seals import SealService
from gateway.services.sharing import SharingService, StampKey, UseStamper
from gateway.services.verification import VerificationService
from gateway.store.changes import ChangeFeed
from gateway.store.database import (
    CreationRefused,
    Database,
    DatabaseIdentity,
    DatabaseReplaced,
    LockHeld,
    RevisionElsewhere,
    RevisionMissing,
    SchemaMoved,
    StoreForbidden,
    StoreGone,
    TablesInTheWay,
    UnitOfWork,
    UnitsOfWork,
    check_intact,
    most_connections,
    schema_revisions,
    wal_left_beside,
)
from gateway.supervisor import EXIT_STORE_UNAVAILABLE, stop_with_parent, supervise
from gateway.threads import name_this_thread
from gateway.watchdog import EXIT_STUCK, InFlight, Watchdog
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    authorization_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    issuance_pb2,
    issuance_pb2_grpc,
    seal_pb2,
    seal_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from signing import seal_image
from signing.errors import KeyStoreError
from signing.keys import KeyBackend, KeyStore
from signing.pki import Issued, make_private_directory, write_private, write_public
from signing.record import SealMemos
from signing.seal_image import FALLBACK_FONTS_ENV, FONT_ENV, SealImageError, find_cjk_font, find_fallback_fonts
from signing.tsa import ZZGW_TSA_POLICY_OID, TimeStampAuthority

log = logging.getLogger("zzgw")

_SERVICES = (
    catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
    issuance_pb2.DESCRIPTOR.services_by_name["IssuanceService"],
    seal_pb2.DESCRIPTOR.services_by_name["SealService"],
    verification_pb2.DESCRIPTOR.services_by_name["VerificationService"],
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"],
    sharing_pb2.DESCRIPTOR.services_by_name["SharingService"],
    authorization_pb2.DESCRIPTOR.services_by_name["AuthorizationService"],
)
SERVICE_NAMES = tuple(service.full_name for service in _SERVICES)
SERVED_METHODS = tuple(f"/{service.full_name}/{method.name}" for service in _SERVICES for method in service.methods)
"""The full name of every method the gateway serves (``/zzgw.v1.CatalogService/ListLicenseTypes``, …)."""


GRACE_SECONDS = 10.0
STOP_DEADLINE_SECONDS = GRACE_SECONDS + 10.0
"""After a stop signal, a process still running this long (a call stuck past its grace, a thread that never ends)
exits anyway, with status 1 and a line in the log, rather than ignore the signal for ever. The HTTP side stops while
gRPC's calls have their grace, not before it: its own (``adapters.http.STOP_GRACE_SECONDS``, 5 s, and 2 s for its
thread) had come first, 10 s of it, leaving a stop with a gRPC call in flight past this deadline, and one by the
watchdog (``GRACE_SECONDS`` + 1) with a second of grace for its calls (a reviewer)."""
DRAIN_QUIET_SECONDS = 0.5
DRAIN_LONGEST_SECONDS = 5.0
"""On a stop signal a process first says it is stopping (gRPC health NOT_SERVING, ``/readyz`` 503) and still takes
new calls until none has started for ``DRAIN_QUIET_SECONDS``, ``DRAIN_LONGEST_SECONDS`` at most: the time for
load balancers to see it and send new calls elsewhere (a client watching health learns at once, one probing every
second within a second or two), instead of having them refused. An idle process waits the half second only; one
still sent calls once its balancers should have moved them (a balancer that ignores health) stops after 5 s. Then
the stop proceeds as before: new calls refused, ``GRACE_SECONDS`` for those in flight (the HTTP side's answers stop in
it); 5 + 10 s ends well within ``STOP_DEADLINE_SECONDS``."""
HANDLER_THREAD_NAME = "zzgw-grpc"
GRPC_CONNECTIONS = 1024
"""The gRPC connections a process holds at once unless set (``ZZGW_GRPC_MAX_CONNECTIONS``) or its files are fewer."""
IDLE_CONNECTION_SECONDS = 60
"""A gRPC connection with no call open is closed (GOAWAY) 1 to 2 times this after its last call, ±10 % (core looks once
this long whether a call came since it last looked): the client's next call opens another."""
STREAMS_PER_CONNECTION = 100
"""Calls open at once on one gRPC connection (HTTP/2 MAX_CONCURRENT_STREAMS): a load client has 64 in flight."""
"""The kernel's name for the gRPC handler threads (``gateway.threads``)."""
GC_THRESHOLDS = (20_000, 50, 100)
"""The collector's generation thresholds while serving (Python's defaults: 700, 10, 10); see ``tune_gc``."""
NAMES_TTL_SECONDS = 60.0
MEMOS_REVISION = "0012"
"""The schema revision that added the memos (``licenses.seal_memo``): licenses stored before it have none."""
STATUS_MEMOS_REVISION = "0014"
"""The schema revision that added the memos of statuses (``licenses.status_memo``), given at the upgrade."""
DOCUMENT_MEMOS_REVISION = "0021"
"""The schema revision that added the memos of license documents (``license_documents.memo``), given at the
upgrade."""


@dataclass
class Gateway:
    """Everything one gateway process needs, built once."""

    settings: Settings
    db: Database
    catalog: Catalog
    keys: KeyStore
    clock: Clock
    issuance: IssuanceService
    members: MemberService
    authenticator: Authenticator
    readiness: Readiness
    """Whether this process should be sent calls (gRPC health, ``/readyz``); checking from ``start`` on."""
    catalog_pin: CatalogPin
    """The fingerprint of the catalog this process serves against the store's (armed by ``check_ready`` serving)."""
    seals: SealService | None = None
    """None until ``zzgw init`` has made the seal-maker CA."""
    tsa: TimeStampAuthority | None = None
    documents: DocumentService | None = None
    """None, like ``seals``, until ``zzgw init`` has made the seal-maker CA."""
    feed: ChangeFeed | None = None
    audit: AuditTrail | None = None
    """The audit trail; None until ``zzgw init`` has made the gateway's key (the receipt key signs checkpoints)."""
    verification: VerificationService | None = None
    """None until ``zzgw init`` has made the seal-maker CA, the receipt key and the memo secret (page tokens)."""
    sharing: SharingService | None = None
    """None, like ``audit``, until ``zzgw init`` has made the gateway's key: no use goes unrecorded."""
    authorization: AuthorizationService | None = None
    """None, like ``audit``."""
    receipt_certificates: ReceiptCertificates | None = None
    """The receipt key's certificates, current and earlier; None, like ``audit``."""
    _names: tuple[dict[str, str], float] = ({}, 0.0)
    """Every member's name and when the list was read (monotonic): replaced whole, so read without a lock."""
    request_arrivals: list[RequestArrival] = field(default_factory=list)
    """The request watchers of the servers built on this gateway (``build_server``), ended when it closes: the
    servers have stopped by then, and a watcher had slept on until its last call's time."""
    health_checks: list[CheckThreads] = field(default_factory=list)
    """The threads answering health ``Check`` on the servers built on this gateway, ended when it closes."""
    own_certificates: OwnCertificates = field(default_factory=OwnCertificates)
    """The gateway's own certificates this process serves (``own_certificates``), set by ``serve_forever``: their
    ends watched, and readiness's ``CERTIFICATE_ENDED``."""

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        serials: SerialGenerator = random_serial,
        catalog: Catalog | None = None,
        create_passphrase: bool = False,
        store_identity: tuple[int, int] | DatabaseIdentity | None = None,
    ) -> Gateway:
        """``store_identity``: the device and inode of the SQLite file to open, or the identity of the PostgreSQL
        database, none other (``Database.connect``'s ``expect``)."""
        clock = clock or SystemClock()
        refuse_memory_store(settings)
        catalog = catalog or configured_catalog(settings)
        if oversize := oversize_listing(catalog, settings.max_message_bytes):  # before anything is opened
            raise ConfigError(f"catalog (ZZGW_CATALOG) cannot be served: {oversize}")
        if not create_passphrase:  # only `zzgw init` makes a store; anything else would leave an empty file behind
            _require_sqlite_file(settings)
        # before the database: a passphrase missing in production had left an empty zzgw.db behind (a keys tester)
        try:
            passphrase = settings.passphrase(create=create_passphrase)
        except ConfigError as exc:
            raise _production_store_in_dev(settings, store_identity) or exc from None
        db = Database.connect(
            settings.effective_database_url,
            pool_size=pool_size(settings),
            synchronous=settings.sqlite_synchronous,
            expect=store_identity,
        )
        keys = KeyStore(settings.keys_dir, passphrase)
        ca = load_seal_ca(settings)
        try:
            tsa = time_stamping_authority(settings, ca, keys, clock) if ca else None
            receipt_key = load_receipt_key(settings, keys)
        except KeyStoreError as exc:  # another gateway's seal-ca/ had been said to be a key of the wrong pair
            raise authorities_not_the_stores(settings, db, keys) or exc from None
        outside_roots = outside_tsa_roots(settings)
        timestamper = make_timestamper(settings, tsa, [*([ca.root] if ca else []), *outside_roots], clock)
        feed = ChangeFeed(db)
        seals = (
            SealService(
                db,
                ca,
                keys,
                clock,
                ids=random_serial,
                timestamper=timestamper,
                feed=feed,
                sm2=sm2_seal_maker(settings, keys),
                outside_tsa_roots=outside_roots,
                max_message_bytes=settings.max_message_bytes,
            )
            if ca
            else None
        )
        # made by `zzgw init` only, after it checked the store (``check_authorities``): a process that made its
        # own would report every stored status altered; `zzgw init`'s own gateway makes no memos
        has_secret = keys.exists(SEAL_MEMO_SECRET)

        def memo_secret() -> bytes:
            try:
                return keys.secret(SEAL_MEMO_SECRET, create=False)
            except KeyStoreError as exc:  # missing on a store that records one: `zzgw init` cannot make it either
                raise authorities_not_the_stores(settings, db, keys) or exc from None

        memos = SealMemos(memo_secret()) if seals and (has_secret or not create_passphrase) else None
        # the same secret on every replica and across restarts: a page token one process gave, another takes; made
        # when the services that list are (they need the receipt key, as the audit trail does)
        pages = PageTokens(memo_secret()) if receipt_key and (has_secret or not create_passphrase) else None
        documents = DocumentService(db, catalog, seals, clock, memos=memos) if seals else None
        pin = CatalogPin(db)
        authenticator = Authenticator(db, clock, dev_tokens=settings.mode == "dev")
        receipt_certificates = ReceiptCertificates(db, receipt_key.certificate) if receipt_key else None
        own = OwnCertificates()
        audit = (
            AuditTrail(
                db,
                AuditSigner(key=receipt_key.key, certificate=receipt_key.certificate),
                clock,
                memos=HeadMemos(memo_secret()),
                certificates=receipt_certificates,
            )
            if receipt_key and (has_secret or not create_passphrase)
            else None
        )
        verification = (
            VerificationService(
                db,
                catalog,
                seals,
                receipt_key,
                clock,
                feed,
                pages=pages,
                audit=audit,
                memos=memos,
                certificates=receipt_certificates,
                license_cache_size=settings.license_cache_size,
            )
            if seals and receipt_key and pages
            else None
        )
        stamper = (
            UseStamper(
                StampKey(key=receipt_key.key, certificate=receipt_key.certificate, chain=(seals.ca.intermediate,)),
                timestamper=timestamper,
            )
            if seals and receipt_key
            else None
        )
        sharing = (
            SharingService(
                db,
                catalog,
                clock,
                audit,
                pages=pages,
                documents=documents,
                stamper=stamper,
                record_check=verification.record_finding if verification else None,
                record_subjects=verification.record_subjects if verification else None,
                record_current=verification.current_version if verification else None,
                max_reply_bytes=settings.max_message_bytes,
            )
            if audit and pages
            else None
        )
        return cls(
            feed=feed,
            audit=audit,
            receipt_certificates=receipt_certificates,
            sharing=sharing,
            authorization=(
                AuthorizationService(
                    db,
                    catalog,
                    clock,
                    audit,
                    pages=pages,
                    record_subjects=verification.record_subjects if verification else None,
                    kept_codes=CodeSealer(memo_secret()),
                )
                if audit and pages
                else None
            ),
            verification=verification,
            documents=documents,
            seals=seals,
            tsa=tsa,
            settings=settings,
            db=db,
            catalog=catalog,
            keys=keys,
            clock=clock,
            issuance=IssuanceService(
                db,
                catalog,
                seals or _NoSealMaker(),
                clock,
                serials=serials,
                documents=documents,
                feed=feed,
                memos=memos,
                audit=audit,
                catalog_current=pin.refuse_within,
                record_check=verification.as_stored if verification else None,
            ),
            members=MemberService(db, clock),
            authenticator=authenticator,
            readiness=Readiness(store_check(db, pin, authenticator, receipt_certificates, own=own, clock=clock)),
            catalog_pin=pin,
            own_certificates=own,
        )

    def member_name(self, code: str) -> str:
        """A member's name for replies, from a list read at most once a minute (once a second for a code not in
        it, so a new member shows up quickly without every unknown code reading the table)."""
        names, read_at = self._names
        age = time.monotonic() - read_at
        if age > NAMES_TTL_SECONDS or (code not in names and age > 1.0):
            names = {m.code: m.name for m in self.members.list()}
            self._names = (names, time.monotonic())
        return names.get(code, "")

    def start(self) -> None:
        """Start what runs beside the RPCs: the change listener (PostgreSQL), the readiness checks
        (``gateway.health``). The receipt certificate it signs with is recorded now (a renewed one, the first time a
        process starts with it: ``ReceiptCertificates.record``)."""
        if self.receipt_certificates is not None:
            self.receipt_certificates.record(self.clock)
        if self.feed is not None:
            self.feed.start()
        self.readiness.start()

    def close(self) -> None:
        for arrival in self.request_arrivals:
            arrival.close()
        for checks in self.health_checks:
            checks.close()
        self.readiness.stop()
        if self.verification is not None:
            self.verification.close()
        if self.sharing is not None:
            self.sharing.close()
        if self.feed is not None:
            self.feed.stop()
        self.db.dispose()


def pool_size(settings: Settings) -> int:
    """The sessions of a process's connection pool: one per handler thread, at least 4."""
    return max(4, settings.threads)


def warn_of_connection_slots(gateway: Gateway) -> None:
    """`zzgw serve` on PostgreSQL, once per start: a WARNING when the gateway's processes may need more connections
    than the server has left for its role (``most_connections`` each, against ``max_connections`` less the reserved
    and those open now). Replicas beyond the server's connections had served without a word, then failed most
    writes (UNAVAILABLE / DATABASE_UNAVAILABLE) and, idle, gone in and out of readiness every second (a fleet
    tester)."""
    slots = gateway.db.connection_slots()
    settings = gateway.settings
    each = most_connections(pool_size(settings))
    if slots is None or settings.workers * each <= slots.left:
        return
    log.warning(
        "PostgreSQL may run out of connections for this gateway: its %s up to %s (%d "
        "each: 2 × %d + 23, ZZGW_THREADS at least 4), and %s has %d left for them (max_connections %d, %d of them "
        "reserved for superusers, %d open now, %d of those by %s); once none is left, calls "
        "that need another connection fail UNAVAILABLE / DATABASE_UNAVAILABLE and readiness flaps: raise "
        "max_connections, or lower ZZGW_THREADS or ZZGW_WORKERS (docs/operations.md: Several machines)",
        counted(settings.workers, "process opens", "processes open"),
        counted(settings.workers * each, "connection"),
        each,
        pool_size(settings),
        settings.database_label,
        slots.left,
        slots.max_connections,
        slots.reserved,
        slots.open_by_others,
        slots.open_by_gateways,
        counted(slots.gateways, "other gateway process", "other gateway processes"),
    )


def store_check(
    db: Database,
    pin: CatalogPin,
    authenticator: Authenticator,
    receipt_certificates: ReceiptCertificates | None = None,
    *,
    own: OwnCertificates | None = None,
    clock: Clock | None = None,
) -> Callable[[], object]:
    """Readiness's check (``gateway.health``): the database answers (``database_check``), the store's catalog is
    still the one this process serves (``CatalogPin``; ``CATALOG_CHANGED`` otherwise, the log's WARNING naming both
    fingerprints), and a dev-mode process's store has not been switched to production (``MODE_CHANGED`` otherwise,
    from when ``authenticator`` takes no bearer token); and neither the server nor the receipt certificate ``own``
    serves has ended by ``clock`` (``CERTIFICATE_ENDED``: every client refuses it; ``RECEIPT_CERTIFICATE_ENDED``:
    every receipt signed under it would check INVALID for good, and the process makes none)."""
    reached = database_check(db)

    def check() -> object:
        answer = reached()
        stored = pin.check()
        if pin.went_production:
            authenticator.end_dev_tokens()
            raise NotReady(
                "MODE_CHANGED",
                f"the store is served in production mode now (`zzgw init {SWITCH_TO_PRODUCTION}`), and this process "
                "serves dev mode: it takes no bearer token from now on (UNAUTHENTICATED, UNKNOWN_CREDENTIAL); stop it "
                "and start it with production settings (docs/operations.md: ZZGW_MODE)",
            )
        if receipt_certificates is not None and (newer := receipt_certificates.check()) is not None:
            raise NotReady("RECEIPT_KEY_RETIRED", _retired_said(newer))
        if stored is not None:
            raise NotReady(
                "CATALOG_CHANGED",
                f"the store's catalog is now {stored}, and this process serves {pin.served}: `zzgw init` adopted "
                "another catalog; calls that use the catalog are refused (CATALOG_CHANGED) until this process is "
                "restarted with it (docs/operations.md: Changing the catalog)",
            )
        # last: a certificate's end said first had hidden a catalog change, whose WARNING names both fingerprints
        if own is not None and clock is not None and (ended := own.ended(clock.now())) is not None:
            raise NotReady(*ended)
        return answer

    return check


class _NoSealMaker:
    """Record keys before ``zzgw init`` has made the seal-maker CA: there are none."""

    def record_key(self, issuer_code: str) -> KeyBackend:
        raise ConflictError(
            "网关没有制章者CA，不能盖章：请网关运维运行 zzgw init（no seal-maker CA: run `zzgw init`）",
            reason="NO_SEAL_CA",
        )


@dataclass(frozen=True)
class InitReport:
    members: int
    tokens_written: bool
    schema: str | None
    schema_before: str | None = None
    """The store's schema before this run (None: a new store); an upgrade is said as such (a release manager)."""
    licenses_without_memo: int = 0
    """Licenses of a store this run upgraded from before schema 0012, stored without the memo of their seal: until
    ``zzgw memos`` gives them one, the first check of each after a start verifies its seal."""
    statuses_vouched: int = 0
    """Licenses of a store this run upgraded from before schema 0014 whose status got the gateway's memo."""
    documents_vouched: int = 0
    """License documents of a store this run upgraded from before schema 0021 that got the gateway's memo."""
    consents_recorded: int = 0
    """Consents granted before schema 0039 that this run's upgrade gave the fields they were granted for."""
    consents_left: int = 0
    """Consents granted before schema 0039 this run's upgrade left without them (read what the material lists)."""
    consents_from_served: bool = True
    """Whether ``consents_recorded`` came from the catalog the store served, not from the one this run adopts."""
    approvals_recorded: int = 0
    """Approvals given before schema 0040 that this run's upgrade gave the fields they were approved unmasked for."""
    approvals_left: int = 0
    """Approvals given before schema 0040 this run's upgrade left without them (masked as the material says)."""
    approvals_from_served: bool = True
    """Whether ``approvals_recorded`` came from the catalog the store served, not from the one this run adopts."""
    tokens_elsewhere: bool = False
    """Dev mode: the store has members' bearer tokens and this data directory has no dev-tokens.json (a replica):
    they were kept, not replaced."""
    seals_without_key: tuple[str, ...] = ()
    """Seals in force whose keys are not in this data directory's key store (registered through another gateway of
    the same store): this gateway cannot seal with them (``SEAL_KEY_NOT_HERE``)."""
    seals_revoked_by_ca: tuple[str, ...] = ()
    """Seals in force in the store that the seal-maker CA holds revoked (``revocations.json``): a store restored from
    a copy taken before a RevokeSeal, or set back behind the gateway's back. They stay revoked, and their issuers
    cannot seal until the seal is revoked again or a new one registered (``SEAL_REVOKED``)."""
    seals_of_revoked_maker: tuple[str, ...] = ()
    """SM2 seals in force made by a seal maker's certificate since revoked (``seal-ca-sm2/revocations.json``, the leak
    procedure of the maker's key): StampDocument refuses them (``SEAL_MAKER_REVOKED``) until their issuers register
    new ones."""
    seals_unreadable: tuple[str, ...] = ()
    """Seals in force whose key file is here but cannot be read or decrypted, each with what is wrong
    (``SealService.unreadable``): their issuers' calls that need them fail (``SEAL_KEY_UNREADABLE``)."""
    matters_unhandled: tuple[str, ...] = ()
    """Matters of the catalog that no registered member may name (``uses_matter``): a misspelt department, or a
    department not yet registered; no one can verify or read data under them."""
    matters_unusable: tuple[str, ...] = ()
    """Matters whose department is a member with no role to verify under them (``matters_beyond_roles``)."""
    matters_unread: tuple[str, ...] = ()
    """Matters whose department, an issuer without the role CONSUMER, reads none of the fields their materials list
    (``matters_beyond_roles``)."""
    members_not_listed: tuple[str, ...] = ()
    """Registered members with a credential in force that the members file (or the demo members) does not list:
    init does not remove them (``zzgw members --revoke``)."""
    partner_overlaps: tuple[str, ...] = ()
    """Matters of registered departments that a partner may name too (``partners_over_members``)."""
    partners_idle: tuple[str, ...] = ()
    """Partner gateways in force whose region has no matter of the catalog: every call they make is refused (a
    partner-gateway tester's had been registered without a word)."""
    members_revoked: tuple[str, ...] = ()
    """Members of the file that ``zzgw members --revoke`` revoked: registered without credentials."""
    types_left: tuple[str, ...] = ()
    """License types of current licenses that the catalog no longer has, each with how many (``types_left``)."""
    fields_left: tuple[str, ...] = ()
    """``TYPE_CODE KEY (N licenses)`` for each field that licenses not ended carry and their type no longer has, when
    this run adopted another catalog (``catalog_change.fields_left``): an amendment of one must drop it."""
    holder_code_types_left: tuple[str, ...] = ()
    """``TYPE_CODE CODE_TYPE (N licenses)`` for each holder code type that holders of licenses not ended have and their
    type no longer takes, when this run adopted another catalog (``catalog_change.holder_code_types_left``): those
    licenses can no longer be amended."""
    issuers_not_issuing: tuple[str, ...] = ()
    """Issuers the catalog's types name that cannot issue them (``catalog_change.issuers_not_issuing``)."""
    types_without_issuer: tuple[str, ...] = ()
    """The catalog's types that no registered member may issue (``catalog_change.types_without_issuer``)."""
    fields_never_read: tuple[str, ...] = ()
    """What to do about each field a matter of the catalog lists and never reads, never shared or secret
    (``Catalog.fields_never_read``)."""
    bundles_left: tuple[BundleLeft, ...] = ()
    """Bundle codes that stored case receipts name and the catalog this run adopted has not
    (``catalog_change.bundles_left``): their cases' receipts are no longer listed."""
    tokens_added: int = 0
    """Dev mode: members new since dev-tokens.json was written, given a bearer token and added to the file."""
    tokens_of_others: tuple[str, ...] = ()
    """Dev mode: members whose bearer token in the store is not in this data directory's dev-tokens.json (added
    through another gateway of the store, whose file holds it): kept, not replaced."""
    seals_made: tuple[str, ...] = ()
    """The first seal of each issuer that had none, made by this run: ``SEAL_ID of CODE``."""
    certificates_issued: tuple[IssuedPair, ...] = ()
    """The client certificates this run issued, with their keys, to members that had none in ``pki/members/`` (new,
    or restored after ``--revoke``): pairs to hand over."""
    issuers_without_seal: tuple[str, ...] = ()
    """Issuers of the members file that have had seals and have none active now (revoked, or ended): init makes them
    none (``SealService.ensure_default``); the issuer registers one (RegisterSeal) when it is to issue again."""
    receipt_certificates_retired: tuple[str, ...] = ()
    """The serials (hex) of the receipt certificates of the key(s) before the new receipt key this run made, revoked
    as ``superseded`` from now (``_retire_receipt_keys``)."""
    revocations_taken: tuple[str, ...] = ()
    """The certificates added by hand to a seal-maker CA's ``revocations.json`` (the leak procedure) that this run
    checked and listed, each as ``the time-stamping certificate SERIAL (REASON from TIME)``."""
    revocations_listed: tuple[str, ...] = ()
    """Each ``revocations.json`` written before the gateway kept its ``listed`` entries, given them by this run
    (``_list_legacy_revocations``)."""
    revocations_unknown: tuple[str, ...] = ()
    """The entries of such a file that are no certificate the gateway knows of: kept, and said to be checked."""
    keys_made: tuple[str, ...] = ()
    """The new receipt or TSA key and certificate this run made in place of ones moved aside (not at the first
    ``zzgw init``, nor at a renewal, which says so itself), each as ``WHAT KEY, CERTIFICATE (serial SERIAL)``."""
    catalog: str = ""
    """The fingerprint of the catalog the store's gateways serve from now on (this run's: ``Catalog.fingerprint``)."""
    catalog_unseen: str = ""
    """Why the catalog the store serves could not be adopted now (``Catalog.unseen_text``), or empty: one adopted
    before that check was made, served on (catalogrev R2)."""
    catalog_replaced: str = ""
    """The fingerprint of the catalog the store's gateways served before this run adopted another, else empty: each
    gateway still serving that one refuses the calls that use the catalog (``CATALOG_CHANGED``) until restarted."""
    members_changed: tuple[str, ...] = ()
    """The members whose name, region or roles this run changed as the members file says (``--adopt-members``), each
    ``CODE name: roles ADMIN → CONSUMER``; every gateway of the store takes the change within its cache time."""
    catalog_recorded: bool = False
    """Whether this run recorded the store's first catalog on a store that was there before it (one from before
    catalog fingerprints, 2026-12-05, or whose init was cut short before recording it): held against its licenses as
    ``--adopt-catalog`` holds another catalog, which it is in effect (``_refuse_issuers_left``)."""
    switched_to_production: bool = False
    """Whether this run switched a dev store to production mode (``SWITCH_TO_PRODUCTION``): it is never served in dev
    mode again, and a dev process still serving it takes no bearer token from its next fact check on."""


def initialise(
    settings: Settings,
    *,
    rotate_tokens: bool = False,
    adopt_catalog: bool = False,
    adopt_members: bool = False,
    switch_to_production: bool = False,
    clock: Clock | None = None,
    progress: Callable[[int], object] | None = None,
    waiting: Callable[[], object] = lambda: None,
    despite_unnamed: bool = False,
) -> InitReport:
    """Create or update everything a gateway needs; running it again changes nothing (unless rotating tokens).

    Schema (migrations), the members (``configured_members``), the mTLS authority with a server certificate and a
    client certificate per member, the seal-maker CA and TSA certificate, a 电子证照专用章 for every issuer that never
    had a seal (its key seals the issuer's license records; one whose seals were revoked or ended is left so), and in
    dev mode the bearer tokens in ``<data_dir>/dev-tokens.json`` (a token for each member new since the file was
    written). The server, TSA and receipt certificates are renewed when they end within ``RENEW_BEFORE``
    (``gateway.certificate_ends``).
    ``progress`` hears of the licenses given the memo of their status by an upgrade across schema 0014;
    ``waiting``, that another init of the same store runs (this one waits for it).
    ``switch_to_production``: production settings may switch a dev store to production (``SWITCH_TO_PRODUCTION``).
    ``adopt_members``: the members file may change the name, region or roles of members registered
    (``_members_changed``); without it such a file is refused.
    ``despite_unnamed``: a store below schema 0029 is upgraded though connections naming no application are open
    (``check_alone``, ``DESPITE_UNNAMED``).
    """
    if switch_to_production and settings.mode != "production":
        raise ConfigError(
            f"{SWITCH_TO_PRODUCTION} switches the store to production mode, and these settings say {settings.mode}: "
            'set mode = "production" (ZZGW_MODE) with the passphrase of the dev gateway (ZZGW_KEY_PASSPHRASE_FILE='
            "var/secrets/key-passphrase) (docs/operations.md: ZZGW_MODE)"
        )
    check_fonts()  # seals are drawn with the CJK font: refused before anything is made
    if settings.mode == "production":  # refused before anything is made, the data directory too (a keys tester)
        settings.passphrase()
        refuse_demo_files(settings, "members", "catalog")
    make_private_directory(settings.data_dir)
    passphrase_here = settings.generated_passphrase_path.exists()
    with contextlib.suppress(NoStoreYet):  # a new store's file, made below; refused where this directory's store was
        _require_sqlite_file(settings)
    if wal_left_beside(settings.effective_database_url):  # before any connection replays it into the file for good
        check_intact(settings.effective_database_url)
    require_seal_ca_keys(settings)
    gateway = Gateway.open(settings, clock=clock, create_passphrase=True)
    try:
        with gateway.db.setup_lock(waiting):  # two replicas' inits at once: one after the other
            return _initialise(
                settings,
                gateway,
                passphrase_here,
                rotate_tokens,
                adopt_catalog,
                adopt_members,
                switch_to_production,
                progress,
                despite_unnamed,
            )
    finally:
        gateway.close()


def _initialise(
    settings: Settings,
    gateway: Gateway,
    passphrase_here: bool,
    rotate_tokens: bool,
    adopt_catalog: bool,
    adopt_members: bool,
    switch_to_production: bool,
    progress: Callable[[int], object] | None,
    despite_unnamed: bool = False,
) -> InitReport:
    before = _schema_revision(gateway)
    if before is None and (missing := _without_schema(settings, db=gateway.db)) is not None:
        raise missing  # not a new store: made one, it had been served as this directory's, empty
    seals_made: tuple[str, ...] = ()
    issuers_without_seal: tuple[str, ...] = ()
    receipt_certificates_retired: tuple[str, ...] = ()
    if before is not None:
        check_schema(settings, before, migrating=True)
        if before != schema_revisions()[-1]:
            check_alone(gateway, before, despite_unnamed=despite_unnamed)
            if unnamed := gateway.db.unnamed_connections():
                # versions before 0029 do not name their connections: said, since init cannot tell them from a psql
                # (an operator had read the wait for named processes as init protecting them; an upgrade tester)
                print(
                    f"warning: connections that name no application, or name themselves as a gateway under another "
                    f"database role, are open to the database ({', '.join(unnamed)}): gateway processes of a version "
                    "before schema 0029 name none; if any still runs, stop it now",
                    file=sys.stderr,
                )
        if not adopt_catalog and before >= FACTS_REVISION:
            # before the migrations: a replica holding a stale copy had upgraded the whole fleet's schema, every
            # gateway still on the release before then refusing the store, and only then been refused (a reviewer)
            _refuse_another_catalog(gateway)
    if before is None or (adopt_catalog and before >= FACTS_REVISION and _adopting(gateway)):
        _refuse_unadoptable(gateway)  # before the migrations; a catalog the store serves already is served on
    switching = before is not None and settings.mode == "production" and _served_in_dev(gateway.db, before)
    if switching and not switch_to_production:  # before anything changes, as serve refuses it
        raise _still_in_dev(settings)
    if switching:
        check_alone_to_switch(gateway)
    if before is None and (refused := gateway.db.creation_refused()) is not None:
        raise _may_not_create(settings, refused, empty=True)
    if before is None and (in_the_way := gateway.db.tables_in_the_way()) is not None:
        raise _tables_in_the_way(settings, in_the_way)  # had failed with a traceback (DuplicateTable), exit 1
    upgrade = UpgradeSteps(
        settings=settings, keys=gateway.keys, before=before, progress=progress, catalog=gateway.catalog
    )
    try:
        gateway.db.migrate(then=upgrade.run, starting_at=before)
    except SchemaMoved as moved:
        raise ConfigError(
            f"the schema of the database {settings.database_label} changed while `zzgw init` ran ({moved}): another "
            "process (an alembic command, or a `zzgw init` of another version) changed it; nothing was changed by "
            "this one: make sure no other runs, and run `zzgw init` again"
        ) from None
    except StoreForbidden as forbidden:
        if (refused := gateway.db.creation_refused()) is not None:
            raise _may_not_create(settings, refused, empty=before is None, said=str(forbidden)) from None
        raise _not_its_tables(settings, forbidden) from None
    except LockHeld as held:
        raise ConfigError(
            f"the schema change of the database {settings.database_label} waited {held.waited:.0f} s for a "
            f"lock other sessions hold ({held}): end them (a transaction left open in psql; SELECT "
            "pg_terminate_backend(pid)) and run `zzgw init` again; nothing was changed"
        ) from None
    except ConfigError:  # the data directory refused (``check_authorities``): the migrations were rolled back too
        if not passphrase_here:  # made by this run, which encrypted nothing with it: a replica needs the first's
            settings.generated_passphrase_path.unlink(missing_ok=True)
        raise
    # at once, before a later step can fail: a store taken back below it from now on is refused, not vouched for
    if (reached := gateway.db.schema_revision()) is not None:
        record_schema_reached(settings, reached)
    catalog_before = _recorded_catalog(gateway)
    if adopt_catalog or catalog_before is None:  # after the migrations, which its look-ups need; before anything else
        _refuse_issuers_left(gateway, catalog_before, adopt=adopt_catalog)
    members = configured_members(settings)
    _refuse_a_name_taken(gateway.members.in_force(), members)
    if (members_changed := _members_changed(gateway.members.list(), members)) and not adopt_members:
        raise _members_file_differs(settings, members_changed)
    with gateway.db.unit_of_work() as uow:
        certified = uow.members.certificate_digests()
        previous = uow.members.previous_certificate_digests()
        still_revoked = uow.members.revoked()
    revoked_certificates = gateway.members.revoked_certificates()
    certificates_issued: list[IssuedPair] = []
    certificates = ensure_pki(
        settings,
        members,
        certified,
        revoked_certificates,
        ignore=still_revoked,
        now=gateway.clock.now(),
        previous=previous,
        issued=certificates_issued,
    )
    first_ca = not (settings.seal_ca_dir / "root.pem").exists()
    check_gateway_revocations(settings, gateway.db, gateway.keys)
    keys_made = ensure_seal_ca(settings, gateway.clock, gateway.keys)
    with gateway.db.unit_of_work() as uow:
        tokens_elsewhere = uow.members.any_token() and not settings.dev_tokens_path.exists()
    # a replica copied without dev-tokens.json keeps the first gateway's tokens (new ones would end them)
    write_tokens = settings.mode == "dev" and (
        rotate_tokens or not (settings.dev_tokens_path.exists() or tokens_elsewhere)
    )
    revoked = gateway.members.revoked()
    try:
        tokens = gateway.members.register(
            members, issue_tokens=write_tokens, certificates=certificates, checked=certified
        )
    except RegistrationChanged as changed:
        raise _registration_changed(settings, changed.codes) from None
    kept_tokens = {} if write_tokens or settings.mode != "dev" else _kept_dev_tokens(settings)
    with gateway.db.unit_of_work() as uow:  # a member with no token: its entry in the file, if any, is stale
        tokenless = {code for code, token, _ in uow.members.credentials() if token is None}
    # an entry left for a member whose token a revocation took (the file damaged then, or put back from a copy) had
    # counted as its token, and the restored member was given none that works, silently (a reviewer, R3); a member
    # added through another gateway, its token in that gateway's file only, had counted as new on this one, whose
    # token replaced the one the department was handed, refused from then on everywhere (a reviewer of upgrades, R1)
    newcomers = [m for m in members if kept_tokens and m.code not in revoked and m.code in tokenless]
    tokens_of_others = tuple(
        m.code
        for m in members
        if kept_tokens and m.code not in revoked and m.code not in tokenless and m.code not in kept_tokens
    )
    if newcomers:  # registered since the file was written: a token each, the others' kept
        tokens = {**kept_tokens, **gateway.members.register(newcomers, issue_tokens=True)}
    if write_tokens or newcomers:  # at once: a later step that fails must not lose the tokens just registered
        _write_dev_tokens(settings, tokens, {m.code: m.name for m in members})
    ca = load_seal_ca(settings)
    assert ca is not None
    gateway.keys.secret(SEAL_MEMO_SECRET)  # made before any worker starts: they only read it
    if ca.can_issue:
        seals = SealService(
            gateway.db,
            ca,
            gateway.keys,
            gateway.clock,
            ids=random_serial,
            max_message_bytes=settings.max_message_bytes,
        )
        defaults = seals.ensure_default([m for m in members if m.has(Role.ISSUER)])
        seals_made = tuple(f"{seal.seal_id} of {seal.issuer_code}" for seal in defaults.made)
        issuers_without_seal = defaults.issuers_without_seal
        if gateway.receipt_certificates is not None:  # kept for the receipts it signed, before any renewal
            gateway.receipt_certificates.record(gateway.clock, new_key_only=True)  # one renewed: at its first start
        receipt_certificates_retired, receipt_made = ensure_receipt_key(
            settings, ca, gateway.keys, gateway.clock, members, gateway.db
        )
        keys_made = (*keys_made, *receipt_made)
        ensure_sm2_seal_maker(settings, gateway.keys, gateway.clock, members)
    record_tsa_certificate(settings)
    revocations_taken, revocations_listed, revocations_unknown = take_revocations(settings, gateway.db)
    _record_facts(settings, gateway.db, gateway.keys)
    warn_of_exposed_secrets(settings)
    catalog_replaced = _adopt_catalog(gateway, adopt=adopt_catalog)
    catalog_adopted = bool(catalog_replaced) or (before is not None and catalog_before is None)
    if (receipt_key := load_receipt_key(settings, gateway.keys)) is not None:
        # a new key at once, so that the processes still on the one before see it retired; a renewal's certificate
        # when a process first starts signing with it (``Gateway.start``): the processes still running sign on with
        # the one before (a receipt-keys reviewer, R1)
        ReceiptCertificates(gateway.db, receipt_key.certificate).record(gateway.clock, new_key_only=True)
    without_memo = 0
    if before is not None and before < MEMOS_REVISION:
        with gateway.db.unit_of_work() as uow:
            without_memo = uow.licenses.count_without_memo()
    with gateway.db.unit_of_work() as uow:
        in_force = [seal for seal in uow.seals.of_issuer(None) if seal.status is SealStatus.ACTIVE]
    members_in_force = gateway.members.in_force()
    beyond_roles = matters_beyond_roles(gateway.catalog, members_in_force)
    return InitReport(
        members=len(members),
        members_changed=tuple(
            f"{who}: " + ", ".join(f"{what} {was} → {now}" for what, was, now in each) for who, each in members_changed
        ),
        tokens_written=write_tokens,
        tokens_elsewhere=settings.mode == "dev" and tokens_elsewhere and not write_tokens,
        schema=gateway.db.schema_revision(),
        schema_before=before,
        licenses_without_memo=without_memo,
        statuses_vouched=upgrade.statuses_vouched,
        documents_vouched=upgrade.documents_vouched,
        consents_recorded=upgrade.consents_recorded,
        consents_left=upgrade.consents_left,
        consents_from_served=upgrade.consents_from_served,
        approvals_recorded=upgrade.approvals_recorded,
        approvals_left=upgrade.approvals_left,
        approvals_from_served=upgrade.approvals_from_served,
        seals_without_key=tuple(
            seal.seal_id
            for seal in in_force
            if seal.key_ref.startswith("file:") and not gateway.keys.exists(seal.key_ref.removeprefix("file:"))
        ),
        seals_revoked_by_ca=tuple(
            f"{seal.seal_id} of {seal.issuer_code}"
            for seal in in_force
            if gateway.seals is not None and gateway.seals.as_revoked(seal).status is SealStatus.REVOKED
        ),
        seals_of_revoked_maker=seals_of_revoked_maker(settings, in_force),
        seals_unreadable=gateway.seals.unreadable() if gateway.seals is not None and gateway.seals.ca.can_issue else (),
        matters_unhandled=unhandled_matters(gateway.catalog, members_in_force),
        matters_unusable=beyond_roles[0],
        matters_unread=beyond_roles[1],
        tokens_added=len(newcomers),
        tokens_of_others=tokens_of_others,
        members_not_listed=_not_listed(gateway.db, members),
        members_revoked=tuple(m.code for m in members if m.code in revoked),
        partner_overlaps=partners_over_members(gateway.catalog, members_in_force),
        partners_idle=idle_partners(gateway.catalog, members_in_force),
        types_left=types_left(gateway.db, gateway.catalog),
        fields_left=tuple(
            f"{f.type_code} {f.key} ({counted(f.licenses, 'license')})"
            for f in fields_left(gateway.db, gateway.catalog)
        )
        if catalog_adopted
        else (),
        holder_code_types_left=_holder_code_types_left(gateway.db, gateway.catalog) if catalog_adopted else (),
        issuers_not_issuing=issuers_not_issuing(gateway.catalog, members_in_force),
        types_without_issuer=types_without_issuer(gateway.catalog, members_in_force),
        fields_never_read=tuple(never_read.words for never_read in gateway.catalog.fields_never_read()),
        bundles_left=bundles_left(gateway.db, gateway.catalog) if catalog_adopted else (),
        seals_made=seals_made,
        certificates_issued=tuple(certificates_issued),
        issuers_without_seal=issuers_without_seal,
        receipt_certificates_retired=receipt_certificates_retired,
        revocations_taken=tuple(revocations_taken),
        revocations_listed=tuple(revocations_listed),
        revocations_unknown=tuple(revocations_unknown),
        keys_made=() if first_ca else keys_made,
        catalog=gateway.catalog.fingerprint,
        catalog_unseen=gateway.catalog.unseen_text(),
        catalog_replaced=catalog_replaced,
        catalog_recorded=before is not None and catalog_before is None,
        switched_to_production=switching,
    )


@dataclass(kw_only=True)
class UpgradeSteps:
    """What an upgrade adds to the rows its migrations leave, which only the data directory's secret can make: the
    memos of the audit chain's end (0022) and start (0024), of statuses (0014) and of documents (0021). ``run`` is
    given to ``Database.migrate``, and so runs in the migrations' transaction: the schema is committed at its new
    revision with them, or not at all (then the store is still at ``before``, and the next init does it all again).

    Each step is decided from the revision the store was at before, not from what rows lack a memo now: init cannot
    tell a memo never made from one removed. Memos exist against an attacker who writes to the database and lacks the
    data directory (docs/operations.md: Upgrades), and such an attacker can empty a memo, and write
    whatever mark could say "not made yet", as well as an upgrade can: a step decided from the empty memos it finds
    would vouch for a document moved to another license with its memo emptied (REGISTRY_ALTERED no more). Only the
    transaction that made the memos' column can say that none was made yet. It had been run after the migrations'
    commit: an init cut short between the two (kill -9, a power cut, a refused data directory) left every document
    stored before the upgrade without a memo for good, verifying REGISTRY_ALTERED, and the next init, finding the
    store upgraded, added nothing (an upgrade tester, D3)."""

    settings: Settings
    keys: KeyStore
    before: str | None
    """The store's schema revision before the migrations; None for a new store."""
    progress: Callable[[int], object] | None = None
    """Hears of the licenses given the memo of their status, a batch at a time."""
    statuses_vouched: int = 0
    documents_vouched: int = 0
    catalog: Catalog | None = None
    """The catalog this init holds: what the consents granted before schema 0039 were granted for is recorded from it
    (``_record_granted_fields``)."""
    consents_recorded: int = 0
    """Consents granted before schema 0039 given the fields they were granted for (an upgrade across it)."""
    consents_left: int = 0
    """Consents left without them by an upgrade across schema 0039 (no catalog at hand): they read what the matter's
    material in force lists."""
    consents_from_served: bool = True
    """Whether ``consents_recorded`` were recorded from the catalog the store served (else from the one this init
    adopts or records: at most what it reads)."""
    approvals_recorded: int = 0
    """Approvals given before schema 0040 given the fields they were approved unmasked for (an upgrade across it)."""
    approvals_left: int = 0
    """Approvals left without them by an upgrade across schema 0040 (no catalog at hand): masked as the matter's
    material in force says."""
    approvals_from_served: bool = True
    """Whether ``approvals_recorded`` were recorded from the catalog the store served (else from the one this init
    adopts or records: at most what it shows unmasked)."""

    def run(self, units: UnitsOfWork) -> None:
        """Check the data directory's authorities against the store's (a refusal rolls the migrations back: nothing
        was changed), then make the memos the revisions crossed need, in the transaction ``units`` work in."""
        check_authorities(self.settings, units, self.keys)
        if self.before is None or self.before == schema_revisions()[-1]:
            return
        secret = self.keys.secret(SEAL_MEMO_SECRET)  # a store from before it: made now, recorded by `_record_facts`
        if self.before < AUDIT_HEAD_REVISION:  # the row migration 0022 left, trusted at the upgrade
            vouch_upgraded_row(units, HeadMemos(secret), start=False)
        if self.before < AUDIT_START_REVISION:  # the start of a chain pruned before start memos (0024)
            vouch_upgraded_row(units, HeadMemos(secret), start=True)
        if self.before < STATUS_MEMOS_REVISION:
            self.statuses_vouched = _vouch_statuses(units, SealMemos(secret), progress=self.progress)
        if self.before < DOCUMENT_MEMOS_REVISION:
            self.documents_vouched = _vouch_documents(units, SealMemos(secret))
        if self.before < CONSENT_FIELDS_REVISION:
            if self.catalog is not None:
                self.consents_recorded, self.consents_from_served = _record_granted_fields(units, self.catalog)
            self.consents_left = _unrecorded(
                units,
                lambda uow, after, limit: uow.consents.without_granted_fields(after=after, limit=limit),
                key=lambda c: c.consent_id,
            )
        if self.before < APPROVAL_FIELDS_REVISION:
            if self.catalog is not None:
                self.approvals_recorded, self.approvals_from_served = _record_approved_full_fields(units, self.catalog)
            self.approvals_left = _unrecorded(
                units,
                lambda uow, after, limit: uow.access_requests.approved_without_full_fields(after=after, limit=limit),
                key=lambda r: r.request_id,
            )


AUDIT_HEAD_REVISION = "0022"
CONSENT_FIELDS_REVISION = "0039"
"""From this schema on, consents record what they were granted for (``StoredConsent.granted_fields``)."""
APPROVAL_FIELDS_REVISION = "0040"
"""From this schema on, approvals record which fields they were given unmasked
(``StoredAccessRequest.approved_full_fields``)."""
AUDIT_START_REVISION = "0024"
"""The migration that gives a chain pruned before it the row of its start memo, for init to vouch for."""
VOUCHED_AT_UPGRADE = (STATUS_MEMOS_REVISION, DOCUMENT_MEMOS_REVISION, AUDIT_HEAD_REVISION, AUDIT_START_REVISION)
"""The migrations whose rows `zzgw init` vouches for when it upgrades a store across them (``UpgradeSteps``): a store
taken back across one of them, below the schema its data directory recorded (``schema_reached``), is refused."""


def types_left(db: Database, catalog: Catalog) -> tuple[str, ...]:
    """``type_code (N licenses)`` for each license type that current licenses have and the catalog does not (a
    catalog file that dropped or misspelt one): no matter can use them (NOT_USED_BY_MATTER), and their issuers cannot
    change them. Found by a seek per type (``current_type_codes``), so a store of millions answers at once."""
    with db.unit_of_work() as uow:
        left = [code for code in uow.licenses.current_type_codes() if code not in catalog.license_types]
        return tuple(f"{code} ({counted(uow.licenses.count_current(code), 'license')})" for code in left)


def _holder_code_types_left(db: Database, catalog: Catalog) -> tuple[str, ...]:
    """``TYPE_CODE CODE_TYPE (N licenses)`` of ``catalog_change.holder_code_types_left``."""
    return tuple(
        f"{h.type_code} {h.code_type} ({counted(h.licenses, 'license')})" for h in holder_code_types_left(db, catalog)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogFindings:
    """What a catalog file would meet in a store: what `zzgw init --adopt-catalog` would refuse and warn of, found
    without changing anything (``zzgw catalog check``). A designer had learnt that no member could issue a new type,
    or handle a new matter, only once the file was adopted and every gateway restarted (a bundle tester, D3)."""

    store: str
    """The database, as the settings name it."""
    members: int
    """How many members are in force."""
    changing: bool
    """Whether the file is another catalog than the store's (``--adopt-catalog`` would change it)."""
    issuers_left: tuple[str, ...] = ()
    """What ``--adopt-catalog`` would refuse: ``TYPE NAME: ISSUER, N licenses`` (``catalog_change.issuers_left``)."""
    matters_unhandled: tuple[str, ...] = ()
    matters_unusable: tuple[str, ...] = ()
    matters_unread: tuple[str, ...] = ()
    partner_overlaps: tuple[str, ...] = ()
    partners_idle: tuple[str, ...] = ()
    types_left: tuple[str, ...] = ()
    fields_left: tuple[str, ...] = ()
    holder_code_types_left: tuple[str, ...] = ()
    issuers_not_issuing: tuple[str, ...] = ()
    types_without_issuer: tuple[str, ...] = ()
    bundles_left: tuple[BundleLeft, ...] = ()


class NoStoreYet(ConfigError):
    """No store that a catalog can be held against is there yet: no SQLite file, no schema, a schema that `zzgw init`
    upgrades before it adopts, or an in-memory database. `zzgw catalog check` then says it checked without a store
    (exit 0); a store that is there and cannot be used (out of reach, no database, settings that do not load) is said
    as every command says it, with its exit status: it had been exit 0 too (a reviewer)."""


def catalog_findings(settings: Settings, catalog: Catalog) -> CatalogFindings:
    """``catalog`` held against the store the settings name, as `zzgw init --adopt-catalog` holds it, reading only
    (a SQLite file is opened read-only), and against the members it would hold it against: the store's, with those
    of the members file (``ZZGW_MEMBERS``) laid over them as init registers them first (``members_after_init``).
    ``NoStoreYet`` when there is no store to hold it against; ConfigError for settings or a store init refuses."""
    if _in_memory(settings):
        raise NoStoreYet("an in-memory database holds no store")
    _require_sqlite_file(settings)
    db = Database.connect(settings.effective_database_url, pool_size=1, read_only=True)
    try:
        revision = _revision_of(settings, db)
        if revision is None:
            if (missing := _without_schema(settings, db=db)) is None and (in_the_way := db.tables_in_the_way()):
                raise _tables_in_the_way(settings, in_the_way)  # had been "run zzgw init first", exit 0 (R3)
            raise missing or NoStoreYet(f"the database {settings.database_label} has no schema: run `zzgw init` first")
        check_schema(settings, revision, migrating=True)  # newer, or taken back below schema-reached: refused (R4)
        try:
            check_schema(settings, revision, migrating=False)
        except ConfigError as exc:  # older: `zzgw init` upgrades it, then holds the catalog against it
            raise NoStoreYet(str(exc)) from None
        configured = configured_members(settings)
        with db.unit_of_work() as uow:
            recorded = uow.facts.get(CATALOG_FACT)
            revoked = uow.members.revoked()
            stored = uow.members.all()
        _refuse_a_name_taken([m for m in stored if m.code not in revoked], configured)  # as init refuses the file
        members = members_after_init(stored, configured, revoked)
        changing = recorded != catalog.fingerprint
        names = {m.code: m.name for m in members}
        return CatalogFindings(
            store=settings.database_label,
            members=len(members),
            changing=changing,
            issuers_left=tuple(
                f"{i.type_code} {i.type_name}: {' '.join(filter(None, (i.issuer_code, names.get(i.issuer_code))))}, "
                f"{counted(i.licenses, 'license')}"
                for i in (issuers_left(db, catalog) if changing else ())
            ),
            matters_unhandled=unhandled_matters(catalog, members),
            matters_unusable=matters_beyond_roles(catalog, members)[0],
            matters_unread=matters_beyond_roles(catalog, members)[1],
            partner_overlaps=partners_over_members(catalog, members),
            partners_idle=idle_partners(catalog, members),
            types_left=types_left(db, catalog),
            fields_left=tuple(
                f"{f.type_code} {f.key} ({counted(f.licenses, 'license')})" for f in fields_left(db, catalog)
            )
            if changing
            else (),
            holder_code_types_left=_holder_code_types_left(db, catalog) if changing else (),
            issuers_not_issuing=issuers_not_issuing(catalog, members),
            types_without_issuer=types_without_issuer(catalog, members),
            bundles_left=bundles_left(db, catalog) if changing else (),
        )
    finally:
        db.dispose()


def members_after_init(
    stored: Sequence[Member], configured: Sequence[Member], revoked: Collection[str]
) -> tuple[Member, ...]:
    """The members in force once `zzgw init` has registered ``configured`` (the members file) over ``stored``: a
    member of the file replaces the stored one of its code (a name or roles changed) or is added, and a revoked one
    stays revoked (``Members.register``). `zzgw catalog check` had judged a catalog by the stored members only, and
    warned of a new department's types and matters that the adoption, registering it first, did not (a reviewer)."""
    by_code = {m.code: m for m in stored}
    by_code.update({m.code: m for m in configured})
    return tuple(m for m in by_code.values() if m.code not in revoked)


def _in_memory(settings: Settings) -> bool:
    url = make_url(settings.effective_database_url)
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def refuse_memory_store(settings: Settings) -> None:
    """ConfigError for an in-memory SQLite database (``sqlite://``, ``sqlite:///:memory:``): it holds no store that
    outlives the process, and the engine could not be made for it (a traceback, exit 1; a reviewer)."""
    if _in_memory(settings):
        raise ConfigError(
            "database_url (ZZGW_DATABASE_URL) names an in-memory SQLite database, which holds no store: name a file "
            "(sqlite:///path/zzgw.db) or a PostgreSQL database"
        )


def configured_catalog(settings: Settings, raw: bytes | None = None) -> Catalog:
    """The catalog the settings name (``ZZGW_CATALOG``), or the demo catalog; ConfigError for a bad file. ``raw``:
    the file's bytes as read before (``configured_catalog_bytes``), not read again."""
    try:
        return load_catalog(settings.catalog, raw)
    except ValueError as exc:
        raise ConfigError(f"catalog (ZZGW_CATALOG): {exc}") from None


def configured_catalog_bytes(settings: Settings) -> bytes | None:
    """The bytes of the catalog file the settings name, None for the demo catalog; ConfigError when unreadable."""
    if not settings.catalog:
        return None
    try:
        return read_catalog(settings.catalog)
    except ValueError as exc:
        raise ConfigError(f"catalog (ZZGW_CATALOG): {exc}") from None


def refuse_demo_files(settings: Settings, *names: str) -> None:
    """ConfigError, Chinese first, naming each of the settings ``names`` (``members``, ``catalog``) not set in
    production mode: without them `zzgw init` had registered the 14 made-up demo departments, a client certificate
    and first seals each under the real CAs and the receipt certificate in a made-up name, and adopted the demo
    catalog, exit 0 and nothing said; the members stayed, each to revoke by hand (a reviewer of operations, R1).
    The demo files may still be named, as any file (gateway/bootstrap/)."""
    if settings.mode != "production":
        return
    if missing := [name for name in names if not getattr(settings, name)]:
        chinese = {"members": "ZZGW_MEMBERS（本部署的成员文件）", "catalog": "ZZGW_CATALOG（本部署的目录文件）"}
        english = {"members": "members (ZZGW_MEMBERS)", "catalog": "catalog (ZZGW_CATALOG)"}
        raise ConfigError(
            f"生产模式须设置 {'、'.join(chinese[name] for name in missing)}：演示成员与演示目录只用于开发模式"
            f"（production mode needs {' and '.join(english[name] for name in missing)}, the deployment's own: without "
            f"{'them' if len(missing) > 1 else 'it'} the demo {' and '.join(missing)} would be used, made-up "
            "departments with certificates and seals under this gateway's CAs; docs/operations.md, ZZGW_MODE）"
        )


def configured_members(settings: Settings) -> list[Member]:
    """The members the settings name (``ZZGW_MEMBERS``), or the demo members; ConfigError for a bad file."""
    try:
        return load_members(settings.members)
    except ValueError as exc:
        raise ConfigError(f"members (ZZGW_MEMBERS): {exc}") from None


def _not_listed(db: Database, members: list[Member]) -> tuple[str, ...]:
    listed = {m.code for m in members}
    with db.unit_of_work() as uow:
        held = uow.members.credentials()
    return tuple(code for code, token, cert in held if code not in listed and (token is not None or cert))


def unhandled_matters(catalog: Catalog, members: Sequence[Member]) -> tuple[str, ...]:
    """The codes of the catalog's matters that none of ``members`` but an administrator (``ADMIN`` its only role)
    may name (``uses_matter``): a department's name spelt otherwise in the catalog, or a department not registered."""
    return tuple(
        matter.code
        for matter in catalog.matters.values()
        if not any(uses_matter(m, matter) and not m.administrator_only for m in members)
    )


_USE_MATTERS = frozenset({Role.CONSUMER, Role.PARTNER})
"""The roles that verify and read data under a matter (``api.roles``: VerifyLicense, GetLicenseData, PrefillForm)."""


def matters_beyond_roles(catalog: Catalog, members: Sequence[Member]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The catalog's matters whose ``department`` is a member of ``members`` whose roles cannot use them: first those
    whose department may not verify at all (no role CONSUMER, PARTNER or ISSUER: a holder portal), then those whose
    department may verify but, an issuer without the role CONSUMER, reads none of the fields their materials list of
    types it does not issue (NOT_A_CONSUMER): ``CODE NAME: MEMBER NAME has the roles … and lacks CONSUMER`` each.
    Only a department that is no member had been said (``unhandled_matters``), and such a matter was adopted without
    a word, dead or half-dead from the restart on (a reviewer, catalogrev R1)."""
    by_name = {m.name: m for m in members}
    unusable: list[str] = []
    unread: list[str] = []
    for matter in catalog.matters.values():
        member = by_name.get(matter.department)
        if member is None or member.roles & _USE_MATTERS:
            continue
        said = (
            f"{matter.code} {matter.name}: {member.code} {member.name} has the roles {_roles_said(member)} and lacks "
            "CONSUMER"
        )
        if not member.has(Role.ISSUER):
            unusable.append(said)
            continue
        unread_types = [
            catalog.license_types[material.type_code].name
            for material in matter.materials
            if material.fields and member.code not in catalog.license_types[material.type_code].issuers
        ]
        if unread_types:
            unread.append(f"{said}; fields of {'、'.join(unread_types)}")
    return tuple(unusable), tuple(unread)


def partners_over_members(catalog: Catalog, members: Sequence[Member]) -> tuple[str, ...]:
    """The codes of matters that a partner gateway may name (its region's) although the department that handles
    them is a registered member: a partner acts for its region's departments that are not members here, so such a
    partner's region is likely wrong."""
    names = {m.name for m in members if not m.has(Role.PARTNER)}
    return tuple(
        matter.code
        for matter in catalog.matters.values()
        if matter.department in names and any(m.has(Role.PARTNER) and uses_matter(m, matter) for m in members)
    )


def idle_partners(catalog: Catalog, members: Sequence[Member]) -> tuple[str, ...]:
    """The partner gateways among ``members`` whose region has no matter of the catalog (``code region`` each):
    every call they make is refused."""
    return tuple(f"{m.code} {m.region}" for m in members if m.has(Role.PARTNER) and not matters_of(m, catalog))


def _registration_changed(settings: Settings, codes: list[str]) -> ConfigError:
    """What init says when a renewal or revocation committed while it ran (``MemberService.register``)."""
    return ConfigError(
        f"the client certificate of {', '.join(codes)} changed in the store while `zzgw init` ran (a `zzgw members "
        "--renew` or --revoke on this gateway or on another replica): init registered nothing of the members file, "
        "to leave that change as it is; run `zzgw init` again (on a replica other than the one that renewed, once "
        f"its pki/members/ is copied to {settings.pki_dir / 'members'})"
    )


def _members_changed(
    stored: Sequence[Member], members: Sequence[Member]
) -> tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...]:
    """Each member of the file registered in the store (``stored``) with another name, region or roles: who it is
    (``CODE name``, the file's name) and each difference (``roles``, the store's, the file's). A replica's init had
    registered its own older copy of the file over the store's at each restart, and a role taken on one replica came
    back, without a word (a reviewer, R2)."""
    registered = {m.code: m for m in stored}
    changed = []
    for member in members:
        before = registered.get(member.code)
        if before is None or before == member:
            continue
        differences = tuple(
            (what, was, now)
            for what, was, now in (
                ("name", before.name, member.name),
                ("region", before.region, member.region),
                ("roles", _roles_said(before), _roles_said(member)),
            )
            if was != now
        )
        changed.append((f"{member.code} {member.name}", differences))
    return tuple(changed)


def _roles_said(member: Member) -> str:
    return ",".join(sorted(role.value for role in member.roles))


def _members_file_differs(
    settings: Settings, changed: Sequence[tuple[str, Sequence[tuple[str, str, str]]]]
) -> ConfigError:
    differences = "; ".join(
        f"{who}: " + ", ".join(f"{what} {was} in the store, {now} in this file" for what, was, now in each)
        for who, each in changed
    )
    return ConfigError(
        f"members ({_members_named(settings)}): the file changes members registered in the store ({differences}): "
        "another gateway of the store may have registered a newer members file since this one was copied, and "
        "registering this one would undo its change for every gateway. Copy the members file the other gateways use; "
        "or, to make this file's change for every gateway of the store, run `zzgw init --adopt-members` "
        "(docs/operations.md: Changing a member's roles or name)"
    )


def _members_named(settings: Settings) -> str:
    return f"ZZGW_MEMBERS {settings.members}" if settings.members else "the demo members: ZZGW_MEMBERS is not set"


def _refuse_a_name_taken(in_force: Sequence[Member], members: Sequence[Member]) -> None:
    """A matter names its department by the member's name, so two members in force may not share one: refuse a
    member of the file whose name another registered member (not revoked) has under another code."""
    holders = {m.name: m.code for m in in_force}
    for member in members:
        if holders.get(member.name, member.code) != member.code:
            raise ConfigError(
                f"members (ZZGW_MEMBERS): {member.name} ({member.code}): the name is registered to member "
                f"{holders[member.name]}; "
                "a matter names its department by name, so revoke that one first (`zzgw members --revoke CODE`)"
            )


def _write_dev_tokens(settings: Settings, tokens: Mapping[str, str], names: Mapping[str, str]) -> None:
    write_private(
        settings.dev_tokens_path,
        json.dumps(
            {
                "warning": "DEV MODE bearer tokens: never use them in production",
                "tokens": {code: {"name": names.get(code, ""), "token": token} for code, token in tokens.items()},
            },
            ensure_ascii=False,
            indent=2,
        ).encode(),
    )


def forget_dev_token(settings: Settings, code: str) -> bool:
    """Take ``code`` out of dev-tokens.json (its token no longer works: ``zzgw members --revoke``); whether it was
    there."""
    path = settings.dev_tokens_path
    if not path.exists():
        return False
    listed = json.loads(path.read_text(encoding="utf-8"))["tokens"]
    if code not in listed:
        return False
    _write_dev_tokens(
        settings,
        {c: entry["token"] for c, entry in listed.items() if c != code},
        {c: entry["name"] for c, entry in listed.items()},
    )
    return True


def _kept_dev_tokens(settings: Settings) -> dict[str, str]:
    """`zzgw init`: the dev bearer tokens it keeps (``dev_tokens_of``); ConfigError naming a dev-tokens.json that
    cannot be read as one, which had ended init in a traceback (a reviewer, R1)."""
    try:
        return dev_tokens_of(settings)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # not JSON, or not the file's shape
        raise ConfigError(
            f"{settings.dev_tokens_path} is not a dev-tokens file (empty, cut short or damaged: {type(exc).__name__}): "
            "restore it from the data directory's backup, or run `zzgw init --rotate-tokens` to give every member a "
            "new dev bearer token (the old ones stop working)"
        ) from None


def dev_tokens_of(settings: Settings) -> dict[str, str]:
    """The dev bearer tokens in dev-tokens.json, by member code (none when there is no such file)."""
    try:
        listed = json.loads(settings.dev_tokens_path.read_text(encoding="utf-8"))["tokens"]
    except FileNotFoundError:
        return {}
    return {code: entry["token"] for code, entry in listed.items()}


_Row = TypeVar("_Row")


def _vouch_documents(units: UnitsOfWork, memos: SealMemos) -> int:
    """Give every license document without one the memo of its row as the upgrade across schema 0021 finds it
    (trusted as it was until then); how many."""
    return _backfill(
        units,
        lambda uow, after, limit: uow.documents.without_memo(after=after, limit=limit),
        lambda uow, found: uow.documents.set_memos(
            [(d.license_id, memos.document(d.license_id, d.sha256, d.seal_id, d.created_at)) for d in found]
        ),
        key=lambda d: d.license_id,
    )


def _record_granted_fields(units: UnitsOfWork, catalog: Catalog) -> tuple[int, bool]:
    """Record what each consent granted before schema 0039 was granted for (``StoredConsent.granted_fields``), by
    ``catalog``, the one this init holds; how many, and whether it is the catalog the store's gateways serve (its
    recorded fingerprint): the one those consents were granted under, unless an adoption came between. When it is
    another (an upgrade that adopts a new catalog at once, the way a store served with a demo catalog since changed
    must be upgraded) or the store records none (a store from before catalog fingerprints), the consents were not
    granted under it, yet they are recorded from it all the same: at most what this catalog reads, which no catalog
    adopted later widens. Left unrecorded, they had read whatever the matter's material in force lists for the rest
    of their life (review consentfix, R1)."""
    with units.unit_of_work() as uow:
        served = uow.facts.get(CATALOG_FACT) == catalog.fingerprint
    recorded = _backfill(
        units,
        lambda uow, after, limit: uow.consents.without_granted_fields(after=after, limit=limit),
        lambda uow, found: uow.consents.set_granted_fields(
            [
                (c.consent_id, granted_fields(catalog, c.matter_code, [*c.type_codes, *map(type_named, c.license_ids)]))
                for c in found
            ]
        ),
        key=lambda c: c.consent_id,
    )
    return recorded, served


def _unrecorded(
    units: UnitsOfWork, page: Callable[[UnitOfWork, str, int], Sequence[_Row]], *, key: Callable[[_Row], str]
) -> int:
    """How many rows ``page`` finds after a key, as ``_backfill`` goes through them, reading only: the consents left
    with no ``granted_fields``, the approvals with no ``approved_full_fields`` (``UpgradeSteps``)."""
    left, after = 0, ""
    with units.unit_of_work() as uow:
        while found := page(uow, after, 5_000):
            left, after = left + len(found), key(found[-1])
    return left


def _record_approved_full_fields(units: UnitsOfWork, catalog: Catalog) -> tuple[int, bool]:
    """Record which fields each approval given before schema 0040 was given unmasked
    (``StoredAccessRequest.approved_full_fields``), by ``catalog``, the one this init holds, as
    ``_record_granted_fields`` records the consents': how many, and whether it is the catalog the store's gateways
    serve (the one those approvals were given under, unless an adoption came between). From another (an upgrade that
    adopts a catalog at once, or a store recording none) they are recorded all the same: at most what this catalog
    shows unmasked, which no catalog adopted later widens. Left unrecorded, a later catalog that names a field in
    ``full_fields`` had unmasked it for them, which the issuer never approved (a reviewer, access R1)."""
    with units.unit_of_work() as uow:
        served = uow.facts.get(CATALOG_FACT) == catalog.fingerprint
    recorded = _backfill(
        units,
        lambda uow, after, limit: uow.access_requests.approved_without_full_fields(after=after, limit=limit),
        lambda uow, found: uow.access_requests.set_approved_full_fields(
            [(r.request_id, recorded_full_fields(catalog, r)) for r in found]
        ),
        key=lambda r: r.request_id,
    )
    return recorded, served


def _vouch_statuses(units: UnitsOfWork, memos: SealMemos, *, progress: Callable[[int], object] | None = None) -> int:
    """Give every license without one the memo of the status it has now (an upgrade across schema 0014: the store
    is trusted as it is at the upgrade, as it was trusted until then); how many."""
    return _backfill(
        units,
        lambda uow, after, limit: uow.licenses.statuses_without_memo(after=after, limit=limit),
        lambda uow, found: uow.licenses.set_status_memos(
            [(i, status, memos.status(i, status, reason, at, made)) for i, status, reason, at, made in found]
        ),
        key=lambda row: row[0],
        progress=progress,
    )


def _backfill(
    units: UnitsOfWork,
    page: Callable[[UnitOfWork, str, int], Sequence[_Row]],
    store: Callable[[UnitOfWork, Sequence[_Row]], object],
    *,
    key: Callable[[_Row], str],
    batch: int = 5_000,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Go through the rows ``page`` finds after a key, ``batch`` at a time, a unit of work each; how many. Run in the
    migrations' transaction (``UpgradeSteps``): an upgrade stopped half-way leaves none of it, nor the new schema,
    and the next init does it all again."""
    done, after = 0, ""
    while True:
        with units.unit_of_work(write=True) as uow:
            found = page(uow, after, batch)
            store(uow, found)
            uow.commit()
        done += len(found)
        if progress is not None and found:
            progress(len(found))
        if len(found) < batch:
            return done
        after = key(found[-1])


def _production_store_in_dev(
    settings: Settings, store_identity: tuple[int, int] | DatabaseIdentity | None
) -> ConfigError | None:
    """Dev settings without a passphrase on a store served in production (``PRODUCTION_FACT``): its refusal, as
    ``check_facts`` says it, rather than the passphrase's, which had sent the operator after a dev passphrase file
    a production store never had (a multi-replica tester, D7). None when that is not it or the store cannot tell (no
    store yet, none readable): the passphrase's error stands."""
    if settings.mode == "production":
        return None
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return None  # no store to ask, and none to make here
    try:
        db = Database.connect(settings.effective_database_url, pool_size=1, expect=store_identity)
    except Exception:
        return None
    try:
        if (revision := db.schema_revision()) is None or revision < FACTS_REVISION:
            return None
        with db.unit_of_work() as uow:
            mode = uow.facts.get(PRODUCTION_FACT)
    except Exception:
        return None
    finally:
        db.dispose()
    return production_store_said(settings) if mode == "production" else None


def _require_sqlite_file(settings: Settings) -> None:
    url = make_url(settings.effective_database_url)
    file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
    if file and not Path(file).exists():
        raise _without_schema(settings, f"there is no database at {file}") or NoStoreYet(
            f"no database at {file}: run `zzgw init` (with the same settings) first"
        )


READY_PATH = "/readyz"


class GatewayHttpApp(HttpApp):
    """The HTTP side with ``GET /readyz``: 200 ``{"ready": true}`` while this process is ready, else 503 with the
    reason (``gateway.health``), read from the last check: a probe never waits for the database. ``/healthz`` stays
    liveness: ``ok`` while the process runs, whatever its database."""

    ROUTES = HttpApp.ROUTES | {READY_PATH}

    def __init__(self, *, readiness: Readiness, **parts: Any):
        # a request's work on the store is given up while the database does not answer (``store_work``)
        super().__init__(not_answering=lambda: readiness.state.reason == NOT_ANSWERING, **parts)
        self._readiness = readiness

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == READY_PATH and scope["method"] == "GET":
            status, body = self._readiness.state.http_answer()
            headers = [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await super().serve(scope, receive, send)


def http_app(gateway: Gateway) -> HttpApp:
    certificates: dict[str, bytes | Callable[[], bytes]] = {}
    pem = serialization.Encoding.PEM
    if gateway.seals is not None:
        certificates["seal-maker-root.pem"] = gateway.seals.ca.root.public_bytes(pem)
        certificates["seal-maker-intermediate.pem"] = gateway.seals.ca.intermediate.public_bytes(pem)
    if gateway.seals is not None and (sm2 := gateway.seals.sm2_ca) is not None:
        certificates["seal-maker-sm2-root.pem"] = sm2.root.public_bytes(pem)
        certificates["seal-maker-sm2-intermediate.pem"] = sm2.intermediate.public_bytes(pem)
    if gateway.tsa is not None:  # for replies to queries that did not ask for the certificate (certReq false)
        certificates["tsa.pem"] = (gateway.settings.seal_ca_dir / TSA_CERT).read_bytes()
    if gateway.seals is not None and gateway.seals.outside_tsa_roots:  # what the documents' timestamps chain to
        certificates["tsa-roots.pem"] = b"".join(c.public_bytes(pem) for c in gateway.seals.outside_tsa_roots)
    if gateway.verification is not None:
        certificates["receipts.pem"] = gateway.verification.receipt_certificate.public_bytes(serialization.Encoding.PEM)
    if (receipt_certificates := gateway.receipt_certificates) is not None:

        def every_receipt_certificate() -> bytes:
            """Read when asked: a worker started after a new certificate records it while the others still run."""
            every = [receipt_certificates.current, *receipt_certificates.earlier()]
            return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in every)

        certificates["receipt-certificates.pem"] = every_receipt_certificate
    return GatewayHttpApp(
        readiness=gateway.readiness,
        timestamp=gateway.tsa.respond if gateway.tsa else None,
        crl=gateway.seals.crl if gateway.seals and gateway.seals.ca.can_issue else None,  # else the CA's own
        sm2_crl=gateway.seals.sm2_crl if gateway.seals and gateway.seals.sm2_ca else None,
        certificates=certificates,
        console=Console(console_backend(gateway)),
    )


def console_backend(gateway: Gateway) -> ConsoleBackend:
    """What the clerk's console uses of ``gateway``: its members' tokens, the gRPC role table, verification."""
    return ConsoleBackend(
        authenticate=gateway.authenticator.by_console_token,
        allowed_roles=lambda method: ALLOWED_ROLES.get(method, frozenset()),
        verification=gateway.verification,
        catalog=gateway.catalog,
        issuer_name=gateway.member_name,
        max_document_bytes=gateway.settings.max_message_bytes,
        catalog_current=gateway.catalog_pin.refuse_if_changed,
    )


HANDSHAKE_SECONDS = 10
"""A gRPC connection's handshake, unless ``ZZGW_GRPC_REQUEST_SECONDS`` is set; and the least a request message has."""
REQUEST_BYTES_PER_SECOND = 512 * 1024
"""The slowest upload a client may have, unless ``ZZGW_GRPC_REQUEST_SECONDS`` is set, for the largest message to
come within its time."""


def request_message_seconds(settings: Settings) -> int:
    """How long a call's whole request message has to come: ``ZZGW_GRPC_REQUEST_SECONDS`` if set, else the time a
    message of ``ZZGW_MAX_MESSAGE_BYTES`` takes at ``REQUEST_BYTES_PER_SECOND``, ``HANDSHAKE_SECONDS`` at least. A
    fixed 10 s had cut a legitimate 12 MB upload on a 1 MB/s link (review)."""
    if settings.grpc_request_seconds:
        return settings.grpc_request_seconds
    return max(HANDSHAKE_SECONDS, math.ceil(settings.max_message_bytes / REQUEST_BYTES_PER_SECOND))


def build_server(
    gateway: Gateway, address: str | None = None, *, in_flight: InFlight | None = None
) -> tuple[grpc.Server, int]:
    """A started-ready (not yet started) server with every service, health and reflection; returns it and its port.
    Its unary calls are kept in ``in_flight`` while they run, for a watchdog."""
    settings = gateway.settings
    limit = settings.max_message_bytes
    gateway.start()
    metrics.follow_readiness(gateway.readiness)  # zzgw_ready, until the readiness's watches close (a stop)
    metrics.start_at_zero(SERVED_METHODS)
    batch_streams = max(1, settings.threads // 2)  # half the handler threads, at most 4 one member's
    health_streams = health_watches(settings.threads, settings.max_watchers)
    # every kind of long-lived stream together, below the handler threads, a few kept for each
    streams = long_streams(
        settings.threads, {"watch": settings.max_watchers, "batch": batch_streams, "health": health_streams}
    )
    arrival = RequestArrival(request_message_seconds(settings))
    gateway.request_arrivals.append(arrival)
    checks = CheckThreads()
    gateway.health_checks.append(checks)
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=settings.threads,
            thread_name_prefix="grpc",
            initializer=name_this_thread,
            initargs=(HANDLER_THREAD_NAME,),
        ),
        interceptors=[
            # first: it sees what the others made of each method, and bounds the wait for a unary request
            arrival,
            # then: health Check on threads of its own, whatever holds the handler threads (a frozen database), its
            # request bounded by a second of its own (the server's arrival leaves a request-streaming handler be)
            checks,
            GatewayInterceptor(
                gateway.authenticator,
                mode=settings.mode,
                in_flight=in_flight,
                max_request_bytes=limit,
                streams=streams,
                store_file=str(gateway.db.engine.url.database or "") if gateway.db.dialect == "sqlite" else "",
            ),
            CatalogGate(gateway.catalog_pin.refuse_if_changed),  # within the first: authenticated, mapped, logged
        ],
        options=[
            # more than the limit: the interceptor refuses a request over it in words (REQUEST_TOO_LARGE)
            ("grpc.max_receive_message_length", received_limit(limit)),
            ("grpc.max_send_message_length", limit),
            # one limit for request metadata: below it a call is taken, above it refused, never at random
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
            # several workers share the port; a single gateway must not silently share it with another one
            ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
            # a vanished client's streams (and the handler threads they hold) are released within DEAD_PEER_SECONDS
            ("grpc.keepalive_time_ms", KEEPALIVE_SECONDS * 1000),
            ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_SECONDS * 1000),
            ("grpc.http2.ping_timeout_ms", KEEPALIVE_TIMEOUT_SECONDS * 1000),  # without it none timed out (1.85)
            ("grpc.http2.max_pings_without_data", 0),
            # a client's own keepalive pings, every CLIENT_PING_SECONDS or less often, are welcome
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", CLIENT_PING_SECONDS * 1000),
            # a client's next calls go on a new connection, through the handshake's dates check again; no
            # grpc.max_connection_age_grace_ms: what is open on the old one (a watch stream) runs on until it ends
            ("grpc.max_connection_age_ms", CONNECTION_AGE_SECONDS * 1000),
            # a stranger's connections cannot take every file the process may open; one over the cap is closed at once
            ("grpc.max_allowed_incoming_connections", grpc_connections(settings)),
            # one that never completes its TLS handshake (or, without TLS, its HTTP/2 preface) is closed in time
            ("grpc.server_handshake_timeout_ms", (settings.grpc_request_seconds or HANDSHAKE_SECONDS) * 1000),
            # one with no call open is closed (GOAWAY) 1-2 idle times after its last call; an open stream is a call
            ("grpc.max_connection_idle_ms", IDLE_CONNECTION_SECONDS * 1000),
            # more than a client's 64 calls in flight on one connection; with it core refuses streams opened and
            # reset faster than they are torn down (rapid reset), counting those not yet torn down
            ("grpc.max_concurrent_streams", STREAMS_PER_CONNECTION),
        ],
        maximum_concurrent_rpcs=settings.threads * 16,
    )
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(
        CatalogServicer(gateway.catalog, max_message_bytes=limit), server
    )
    issuance_pb2_grpc.add_IssuanceServiceServicer_to_server(
        IssuanceServicer(
            gateway.issuance,
            gateway.catalog,
            gateway.member_name,
            max_message_bytes=limit,
            documents=gateway.documents,
            max_watchers=settings.max_watchers,
            max_watchers_per_member=settings.max_watchers_per_member,
            max_batch_streams=batch_streams,
            streams=streams,
            catalog_current=gateway.catalog_pin.refuse_if_changed,
        ),
        server,
    )
    seal_pb2_grpc.add_SealServiceServicer_to_server(
        SealServicer(gateway.seals, gateway.clock, gateway.member_name, max_message_bytes=limit, audit=gateway.audit),
        server,
    )
    audit_pb2_grpc.add_AuditServiceServicer_to_server(
        AuditServicer(gateway.audit, gateway.member_name, gateway.catalog), server
    )
    verification_pb2_grpc.add_VerificationServiceServicer_to_server(
        VerificationServicer(gateway.verification, gateway.catalog, gateway.member_name, max_message_bytes=limit),
        server,
    )
    sharing_pb2_grpc.add_SharingServiceServicer_to_server(
        SharingServicer(gateway.sharing, gateway.catalog, gateway.member_name, max_message_bytes=limit), server
    )
    authorization_pb2_grpc.add_AuthorizationServiceServicer_to_server(
        AuthorizationServicer(gateway.authorization, gateway.catalog, gateway.member_name), server
    )
    # SERVING while the database answers and the process is not stopping (gateway.health)
    health_pb2_grpc.add_HealthServicer_to_server(
        HealthServicer(
            gateway.readiness,
            SERVICE_NAMES,
            max_watches=health_streams,
            streams=streams,
        ),
        server,
    )
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = address or settings.grpc_addr
    credentials = _server_credentials(settings) if settings.mode == "production" else None
    try:
        port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except RuntimeError:  # grpc raises when it cannot bind
        port = 0
    if port == 0:
        raise ConfigError(f"cannot listen on {address}: the address is in use or not available here")
    return server, port


SERVER_PAIR_SETTLES = 2.0
"""Seconds `zzgw serve` reads ``pki/server.pem`` and ``server.key`` again while they are not one pair, before it
says so: `zzgw init` puts a new pair in place one file after the other (``write_server_pair``)."""


def served_pair(pki: Path, settles: float = SERVER_PAIR_SETTLES) -> tuple[Issued, str]:
    """``pki/server.pem`` and ``server.key`` as read, with what is wrong with the key (``server_key_fault`` of these
    bytes, "" for none). Read again while it is not the certificate's key, for up to ``settles`` seconds: a worker or
    replica starting while `zzgw init` put a new pair in place had read the new key beside the old certificate (or
    an empty file) and stopped, saying the key was to be restored from the backup (a reviewer, R1). FileNotFoundError
    for a file that is not there, ``UnreadableFile`` for a server.pem still damaged at the end."""
    until = time.monotonic() + settles
    while True:
        own = Issued.read(pki, "server")
        try:
            fault = server_key_fault(pki, own)
        except UnreadableFile:
            if time.monotonic() >= until:
                raise
            fault = "damaged"
        if not fault or time.monotonic() >= until:
            return own, fault
        time.sleep(0.05)


def _server_credentials(settings: Settings) -> grpc.ServerCredentials:
    """mTLS: the server certificate, and client certificates required to chain to the member CA. gRPC is given the
    bytes checked, not the files read again."""
    pki = settings.pki_dir
    try:
        ca_pem = (pki / "ca.pem").read_bytes()
        read_certificate(pki / "ca.pem")
        # checked here: gRPC given a key it cannot use (damaged, empty, another pair's) does not listen, and that had
        # been said as the address in use, the port free (a reviewer, R2)
        own, fault = served_pair(pki)
    except FileNotFoundError as exc:
        raise ConfigError(f"production mode needs TLS material in {pki}: {exc.filename} is missing") from exc
    if fault == ENCRYPTED_KEY:  # the operator's to decrypt: init does not replace it (a reviewer, R2)
        raise ConfigError(
            f"{pki / 'server.key'} {fault}: TLS cannot be served with it; {decrypt_it(pki / 'server.key')}"
        )
    if fault:
        raise ConfigError(
            f"{pki / 'server.key'} {fault}: TLS cannot be served with it; copy pki/server.pem and pki/server.key "
            "together from the data directory's backup (or from the gateway whose pki/ this one was copied from), "
            "or run `zzgw init` where pki/ca.key is, which issues a new pair"
        )
    return grpc.ssl_server_credentials(
        [(own.key_pem, own.cert_pem)], root_certificates=ca_pem, require_client_auth=True
    )


def check_fonts() -> None:
    """The fonts seals and licenses are drawn with (``ZZGW_CJK_FONT``, ``ZZGW_CJK_FALLBACK_FONTS``), read once at start:
    a ConfigError naming the setting and the file, rather than a failure at the first seal or license."""
    try:
        font = find_cjk_font()
    except SealImageError:
        if os.environ.get(FONT_ENV):
            raise ConfigError(
                f"{FONT_ENV}={os.environ[FONT_ENV]} is not a font file: seals and printed licenses are drawn with it; "
                "point it at a TrueType font with Chinese glyphs, or unset it and install Debian's "
                "fonts-droid-fallback (scripts/install-system-deps does, as root)"
            ) from None
        raise ConfigError(
            "no CJK font to draw seals and print licenses with (tried "
            + ", ".join(str(path) for path in seal_image.KNOWN_FONTS)
            + f"): install Debian's fonts-droid-fallback (scripts/install-system-deps does, as root), or set {FONT_ENV}"
            " to a TrueType font with Chinese glyphs"
        ) from None
    what = f"{FONT_ENV}={font}" if os.environ.get(FONT_ENV) else f"the CJK font {font}"
    glyphs = _font_glyphs(font, what)
    if not all(ord(char) in glyphs for char in "电子证照专用章"):
        raise ConfigError(f"{what} has no Chinese glyphs: seals need a TrueType font with Chinese glyphs ({FONT_ENV})")
    try:
        fallbacks = find_fallback_fonts()
    except SealImageError:
        given = [part for part in os.environ.get(FALLBACK_FONTS_ENV, "").split(os.pathsep) if part]
        missing = ", ".join(part for part in given if not Path(part).is_file())
        raise ConfigError(
            f"{FALLBACK_FONTS_ENV} names {missing}, which is not a font file: list TrueType fonts separated by "
            f"{os.pathsep!r}, set it empty for none, or unset it for Debian's fonts-hanazono"
        ) from None
    for fallback in fallbacks:
        _font_usable(
            fallback,
            f"{FALLBACK_FONTS_ENV} names {fallback}, which"
            if os.environ.get(FALLBACK_FONTS_ENV)
            else f"the fallback font {fallback}",
        )


def _font_glyphs(path: Path, what: str) -> frozenset[int]:
    """The characters the TrueType font at ``path`` draws, as the PDF renderer reads them; ConfigError saying ``what``
    when it cannot be read (not a font, PostScript outlines, unreadable)."""
    from reportlab.pdfbase.ttfonts import TTFError

    try:
        found = path.stat()
        return _read_font_glyphs(str(path), found.st_mtime_ns, found.st_size)
    except (TTFError, OSError) as exc:
        raise ConfigError(f"{what} is not a TrueType font the gateway can use ({exc})") from None


def _font_usable(path: Path, what: str) -> None:
    """That the file at ``path`` is a TrueType font the PDF renderer reads (its tables and metrics, not its glyph map:
    a fallback font's characters are looked up when a name needs them, and reading the map of the two HanaMin fonts
    took 0.45 s of every start); ConfigError saying ``what`` when it is not."""
    from reportlab.pdfbase.ttfonts import TTFError, TTFontFile

    try:
        TTFontFile(str(path), charInfo=0)
    except (TTFError, OSError) as exc:
        raise ConfigError(f"{what} is not a TrueType font the gateway can use ({exc})") from None


@functools.lru_cache(maxsize=8)
def _read_font_glyphs(path: str, _mtime_ns: int, _size: int) -> frozenset[int]:
    """Read once per process and version of the file: reading Droid Sans Fallback takes 0.1 s, HanaMinB 0.2 s."""
    from reportlab.pdfbase.ttfonts import TTFontFile

    return frozenset(TTFontFile(path).charToGlyph)


def check_descriptors(settings: Settings) -> None:
    """Raise the process's soft limit of open files (RLIMIT_NOFILE) to its hard limit, as systemd advises a program
    that does not use select() (its default soft limit is 1024, its hard one 524288), then refuse to start when the
    HTTP side's connections (``ZZGW_HTTP_MAX_CONNECTIONS``) could hold more than half of the files the process may
    open: gRPC's connections and the store need the rest, and all had failed once the HTTP side had taken every one
    (a penetration tester). Workers inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # a hard limit above the kernel's (fs.nr_open): the soft one stays
            pass
    needed = descriptors(settings.http_max_connections)
    if soft != resource.RLIM_INFINITY and needed > soft // 2:
        raise ConfigError(
            f"http_max_connections (ZZGW_HTTP_MAX_CONNECTIONS, {settings.http_max_connections}) lets the HTTP side "
            f"hold up to {needed} files open, more than half of the {soft} this process may open (RLIMIT_NOFILE), "
            "which gRPC and the store need too: set it lower, or raise the limit (systemd: LimitNOFILE=)"
        )
    grpc_cap = settings.grpc_max_connections
    if soft != resource.RLIM_INFINITY and grpc_cap and needed + grpc_cap > soft * 3 // 4:
        raise ConfigError(
            f"grpc_max_connections (ZZGW_GRPC_MAX_CONNECTIONS, {grpc_cap}) and the HTTP side's {needed} files would "
            f"take more than three quarters of the {soft} this process may open (RLIMIT_NOFILE), which the store "
            f"needs too: set it to {max(soft * 3 // 4 - needed, 0)} at most, or 0 (sized from the limit), or raise "
            "the limit (systemd: LimitNOFILE=)"
        )


def grpc_connections(settings: Settings) -> int:
    """The gRPC connections a process holds open at once (``ZZGW_GRPC_MAX_CONNECTIONS``); when unset (0), three
    quarters of the files it may open less the HTTP side's (``check_descriptors``), at most ``GRPC_CONNECTIONS``. A
    stranger's plain TCP connections had used up every file of the process, and gRPC, the HTTP side and the store
    all failed while they were held (a penetration tester, D2)."""
    if settings.grpc_max_connections:
        return settings.grpc_max_connections
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return GRPC_CONNECTIONS
    return max(1, min(GRPC_CONNECTIONS, soft * 3 // 4 - descriptors(settings.http_max_connections)))


def check_http_tls(settings: Settings) -> None:
    """The HTTP side's certificate and key (``ZZGW_HTTP_TLS_CERT``, ``ZZGW_HTTP_TLS_KEY``), read before serving: a
    ConfigError in plain words naming the setting and the file (ssl's own says ``[SSL] PEM lib``)."""
    if not settings.http_tls_cert:
        return
    cert_path, key_path = settings.http_tls_cert, settings.http_tls_key
    cert_setting, key_setting = f"ZZGW_HTTP_TLS_CERT ({cert_path})", f"ZZGW_HTTP_TLS_KEY ({key_path})"
    contents = {}
    for path in (cert_path, key_path):
        try:
            contents[path] = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {path} (HTTP TLS): {exc.strerror}") from None
    cert_pem, key_pem = contents[cert_path], contents[key_path]
    swapped = (
        "; are ZZGW_HTTP_TLS_CERT and ZZGW_HTTP_TLS_KEY swapped?"
        if b"PRIVATE KEY-----" in cert_pem and b"-----BEGIN CERTIFICATE-----" in key_pem
        else ""
    )
    try:
        certificate = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError:
        raise ConfigError(f"{cert_setting} is not a PEM certificate (-----BEGIN CERTIFICATE-----){swapped}") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:  # a key under a passphrase
        raise ConfigError(f"{key_setting} is encrypted: the HTTP side needs its key without a passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{key_setting} is not a PEM private key (-----BEGIN PRIVATE KEY-----){swapped}") from None
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise ConfigError(f"{key_setting} is not the private key of the certificate in {cert_setting}")


def warn_of_exposed_secrets(settings: Settings) -> None:
    """A warning naming the files of ``_exposed_secrets``, if any: from `zzgw serve` and `zzgw init` (the one
    command that uses the member CA's unencrypted key had said nothing of it; a keys tester)."""
    if exposed := _exposed_secrets(settings):
        log.warning(
            "files that hold the gateway's secrets and that others than its owner may read (chmod 600 them; a "
            "restore that lost file modes?): %s",
            _first_ten(exposed),
        )
    if writable := _writable_by_others(settings):
        log.warning(
            "directories and files of the data directory that others than its owner may write, who could replace "
            "or rename its keys and certificates (chmod go-w them: 700 a directory, 644 a certificate; made under "
            "a umask that lets the group or others write, or a restore that lost file modes?): %s",
            _first_ten(writable),
        )


def _first_ten(paths: list[str]) -> str:
    return ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")


def _exposed_secrets(settings: Settings) -> list[str]:
    """The data directory's files that hold secrets or holders' data and that others than its owner may read: a
    restore that lost file modes (a tar without -p, a copy by another user) left the unencrypted CA and member keys
    world-readable, without a word (a disaster-recovery tester); and the passphrase file (ZZGW_KEY_PASSPHRASE_FILE),
    or the settings file whose key_passphrase is in use, wherever it is, which opens every key (a keys tester)."""
    data = settings.data_dir
    candidates = [
        *([Path(settings.key_passphrase_file)] if settings.key_passphrase_file else []),
        *([Path(settings.key_passphrase_from)] if settings.key_passphrase_from else []),  # zzgw.toml's key_passphrase
        settings.pki_dir / "ca.key",
        settings.pki_dir / "server.key",
        settings.generated_passphrase_path,
        settings.dev_tokens_path,
        *settings.pki_dir.glob("members/*.key"),
        *settings.keys_dir.glob("*.pem"),
        *settings.seal_ca_dir.glob("*.key.pem"),  # the seal makers' CA keys, which can certify a seal in any
        *settings.sm2_seal_ca_dir.glob("*.key.pem"),  # issuer's name, had been left out (a keys tester)
        *(data / name for name in ("zzgw.db", "zzgw.db-wal", "zzgw.db-shm")),
    ]
    exposed, seen = [], set()
    for path in candidates:
        with contextlib.suppress(OSError):
            mode = path.stat().st_mode
            if mode & 0o077 and (real := os.path.realpath(path)) not in seen:  # ZZGW_KEY_PASSPHRASE_FILE naming
                seen.add(real)  # the generated file had been listed twice (a reviewer, security R3)
                exposed.append(f"{path} ({oct(mode & 0o777)})")
    return exposed


def _writable_by_others(settings: Settings) -> list[str]:
    """The data directory, and the directories and files under it, that its group or others may write (symbolic
    links are not followed): they could rename or replace ``server.key``, the seal keys, the member certificates or
    ``seal-ca/root.pem``. Made under a umask of 000 (before the gateway made its directories 0700 and its
    certificates 0644 whatever the umask) or restored so, they had been said by no command (a reviewer, security
    R3)."""
    found = []

    def check(path: Path) -> None:
        with contextlib.suppress(OSError):  # gone meanwhile
            mode = path.lstat().st_mode
            if mode & 0o022 and not stat.S_ISLNK(mode):
                found.append(f"{path} ({oct(mode & 0o777)})")

    check(settings.data_dir)
    for top, directories, files in os.walk(settings.data_dir, onerror=lambda _: None):
        directories.sort()
        for name in [*directories, *sorted(files)]:
            check(Path(top) / name)
    return found


def _schema_revision(gateway: Gateway) -> str | None:
    return _revision_of(gateway.settings, gateway.db)


def _revision_of(settings: Settings, db: Database) -> str | None:
    """``db``'s schema revision, None when it has no schema; ConfigError for tables the role may not read, or the
    gateway's tables without a revision (``RevisionMissing``). An error reading it is raised as it is: an outage (exit
    75), never "no schema" (R1)."""
    try:
        return db.schema_revision()
    except StoreForbidden as exc:
        raise _not_its_tables(settings, exc) from None
    except RevisionElsewhere as elsewhere:
        raise _revision_elsewhere(settings, elsewhere) from None
    except RevisionMissing:
        raise ConfigError(
            f"the database {settings.database_label} has the gateway's tables but no schema revision (its table "
            "alembic_version is missing or empty: a restore that left it out, or a hand edit), so which schema they "
            "are at is not known: restore the database from the copy taken with this data directory "
            "(docs/operations.md, Restoring)"
        ) from None


def _revision_elsewhere(settings: Settings, found: RevisionElsewhere) -> ConfigError:
    """Another application's ``alembic_version`` that the search_path shows beside the gateway's schema, which has no
    gateway store (``RevisionElsewhere``): read as the gateway's revision, a numbered one had sent `zzgw init` into a
    traceback, exit 1 (a reviewer, R1)."""
    role, schema, other = sql_identifier(found.role), sql_identifier(found.schema), found.found
    return ConfigError(
        f"the table alembic_version that the search_path of the database {settings.database_label} shows is in "
        f"schema {other}, not in the gateway's schema {found.schema} (current_schema(), where its tables go), which "
        "has no gateway store: it is another application's, not the gateway's schema revision. Leave "
        f"{other} off the gateway's search_path (ALTER ROLE {role} SET search_path = {schema}, or "
        f"?options=-csearch_path%3D{found.schema} in ZZGW_DATABASE_URL) or give the gateway a database of its own, "
        "then run `zzgw init`"
    )


def sql_identifier(name: str) -> str:
    """``name`` as PostgreSQL reads it in a statement: double-quoted when it needs to be (upper case, a character
    other than a letter, digit or _, a reserved word), any ``"`` in it doubled. The statements the refusals advise
    had named roles and schemas bare, a syntax error for a role ``app-gw`` (a reviewer, R2)."""
    from sqlalchemy.dialects import postgresql

    return postgresql.dialect().identifier_preparer.quote(name)


class StoreMissing(ConfigError):
    """The database has no schema (or the SQLite store file is not there), and this data directory's `zzgw init` left
    a store at a schema (``schema_reached``): not a new store to make, but the database of another store, or a restore
    that failed. `zzgw init` had made a new, empty store of it, exit 0, and serve had advised that (a reviewer, R2)."""


def _without_schema(settings: Settings, what: str = "", *, db: Database | None = None) -> ConfigError | None:
    """``StoreMissing`` when this data directory's store reached a schema, None when it never did (a new store):
    ``what`` names what was found (the database without a schema by default). When ``db``'s role may not create
    tables there (``Database.creation_refused``), it says which privilege it lacks, which a restore as that role needs
    too: a failed restore into a database the role does not own had been said without it, and the only way out it
    named, moving schema-reached aside, is no way after a failed restore (a reviewer, R2)."""
    if (reached := schema_reached(settings)) is None:
        return None
    lead = (
        f"{what or f'the database {settings.database_label} has no schema'}, and this data directory's `zzgw init` "
        f"left its store at schema {reached} ({settings.schema_reached_path}): the database is not that store's, or "
        "its restore failed (a failed pg_restore --single-transaction leaves it empty)"
    )
    if db is not None and (refused := db.creation_refused()) is not None:
        lacks, remedy = _creation_remedy(refused)
        why = (
            f"The gateway's role {refused.role} {lacks}, so a restore as that role fails (permission denied for "
            f"schema {refused.schema})"
            if refused.schema
            else f"For the gateway's role {refused.role}, {lacks}, so a restore as that role fails (no schema has "
            "been selected to create in)"
        )
        return StoreMissing(
            f"{lead}. {why}: {remedy}, then restore the database taken with this data directory again, or correct "
            "ZZGW_DATABASE_URL (docs/operations.md, Restoring)"
        )
    return StoreMissing(
        f"{lead}. Restore the database taken with this data directory, or correct ZZGW_DATABASE_URL "
        "(docs/operations.md, Restoring); only to make a new, empty store with this data directory's keys, move "
        f"{settings.schema_reached_path.name} aside and run `zzgw init` again"
    )


def _tables_in_the_way(settings: Settings, found: TablesInTheWay) -> ConfigError:
    """Another application's tables of the gateway's names where its tables go (``Database.tables_in_the_way``):
    R3's check had called them the gateway's tables without a revision, to be restored, and before it `zzgw init`
    failed with a traceback (DuplicateTable), exit 1 (a reviewer, R1)."""
    names = ", ".join(found.tables)
    not_a_store = (
        "but no gateway store (no alembic_version, and too few of the gateway's tables): another application's"
    )
    if not found.role:  # SQLite
        return ConfigError(
            f"the database {settings.database_label} has tables named as some of the gateway's ({names}) "
            f"{not_a_store}. Give the gateway a database file of its own (ZZGW_DATABASE_URL), then run `zzgw init`"
        )
    role = sql_identifier(found.role)
    if found.own_schema_would_do:
        own = f'CREATE SCHEMA {role} AUTHORIZATION {role}: the default search_path "$user", public puts its tables '
        own += "there"
    else:  # the role's schema is there already (the very one in the way, or not first), or "$user" is not first
        own = (
            f"CREATE SCHEMA zzgw AUTHORIZATION {role}, named first in its search_path: ALTER ROLE {role} SET "
            "search_path = zzgw, or ?options=-csearch_path%3Dzzgw in ZZGW_DATABASE_URL"
        )
    return ConfigError(
        f"the schema {found.schema} of the database {settings.database_label}, where the gateway's tables go, has "
        f"tables named as some of them ({names}) {not_a_store}. Give the gateway a schema of its own ({own}) or "
        "a database of its own, then run `zzgw init`"
    )


def _not_its_tables(settings: Settings, refused: StoreForbidden) -> ConfigError:
    return ConfigError(not_its_tables(settings.database_label, str(refused)))


def _may_not_create(settings: Settings, refused: CreationRefused, *, empty: bool, said: str = "") -> ConfigError:
    """The refusal of a store whose role may not create the gateway's tables (``Database.creation_refused``), one
    without a schema (``empty``) or one to upgrade: `zzgw init` had failed with a traceback of 100 lines and exit 1,
    and the restore that led there said nothing of it (a disaster-recovery tester)."""
    role, label = refused.role, settings.database_label
    lead = (
        f"the database {label} has no schema, and the gateway's role {role} may not create its tables there"
        if empty
        else f"the gateway's role {role} may not create the tables an upgrade adds to the database {label}"
    ) + (f" ({said})" if said else "")
    lacks, remedy = _creation_remedy(refused)
    if not refused.schema:
        return ConfigError(f"{lead}: {lacks}; {remedy}, then run `zzgw init`")
    return ConfigError(f"{lead}: it {lacks}; {remedy}, then run `zzgw init` (docs/operations.md, Restoring)")


def _creation_remedy(refused: CreationRefused) -> tuple[str, str]:
    """What the role lacks to create the gateway's tables, and what gives it (``Database.creation_refused``)."""
    role, database, schema = sql_identifier(refused.role), sql_identifier(refused.database), refused.schema
    if not schema:
        return (
            "no schema that its search_path names exists",
            f"make one (CREATE SCHEMA public AUTHORIZATION {role}) or set the role's search_path",
        )
    owners_only = " (from PostgreSQL 15 on, only the database's owner has it there)" if schema == "public" else ""
    return (
        f"lacks the CREATE privilege on schema {schema}{owners_only}",
        f"make the role the database's owner (a new database: `createdb -O {shlex.quote(refused.role)} "
        f"{shlex.quote(refused.database)}`; this one: ALTER DATABASE {database} OWNER TO {role}) or GRANT CREATE ON "
        f"SCHEMA {sql_identifier(schema)} TO {role}",
    )


def check_ready(gateway: Gateway, *, serving: bool = False) -> None:
    """What ``zzgw serve`` (``serving``) and the commands that open the store check first. Only serving records a
    store served in production (``PRODUCTION_FACT``): `zzgw members` run with production settings on a dev store had
    marked it, and it could no longer be served in dev mode (a reviewer). And serving in production does not switch a
    dev store (``_still_in_dev``): that is `zzgw init --switch-to-production`'s, with every gateway of it stopped."""
    settings = gateway.settings
    if serving:
        require_seal_ca_keys(settings)
        warn_of_exposed_secrets(settings)
    if gateway.tsa is None and not settings.tsa_url and (settings.seal_ca_dir / "root.pem").exists():
        # sealed PDFs had silently gone without their timestamp (a disaster-recovery tester)
        log.warning(
            "no time-stamping authority: %s and its key (%s/%s.key.pem) are not in this data directory, and "
            "ZZGW_TSA_URL is not set, so documents sealed now carry no timestamp; restore them from the data "
            "directory's backup, or run `zzgw init` to make a new one",
            settings.seal_ca_dir / TSA_CERT,
            settings.keys_dir,
            TSA_KEY,
        )
    revision = _schema_revision(gateway)
    if revision is None:
        if (missing := _without_schema(settings, db=gateway.db)) is not None:
            raise missing
        if (refused := gateway.db.creation_refused()) is not None:
            raise _may_not_create(settings, refused, empty=True)
        if (in_the_way := gateway.db.tables_in_the_way()) is not None:
            raise _tables_in_the_way(settings, in_the_way)
        raise ConfigError(f"the database {gateway.settings.database_label} has no schema: run `zzgw init` first")
    check_schema(gateway.settings, revision, migrating=False)
    if revision >= FACTS_REVISION:
        with gateway.db.unit_of_work() as uow:
            recorded = uow.facts.all()
        check_facts(gateway.settings, gateway.keys, recorded)
        if serving and gateway.settings.mode == "production" and PRODUCTION_FACT not in recorded:
            if _served_in_dev(gateway.db, revision):  # the switch is `zzgw init --switch-to-production`'s
                raise _still_in_dev(settings)
            with contextlib.suppress(IntegrityError), gateway.db.unit_of_work(write=True) as uow:
                uow.facts.add(PRODUCTION_FACT, "production")
                uow.commit()
        if serving:
            _pin_catalog(gateway, recorded.get(CATALOG_FACT))
    if serving:
        _check_own_certificates(settings, gateway.clock.now())
        if revision >= RECEIPT_CERTIFICATES_REVISION:
            check_gateway_revocations(settings, gateway.db, gateway.keys)
        with gateway.db.unit_of_work() as uow:
            certified = uow.members.certificate_digests()
            previous = uow.members.previous_certificate_digests()
        if aside := revoked_since(settings, certified):  # as `zzgw init` refuses it
            raise revoked_since_said(aside)
        if aside := revoked_since(settings, previous):
            raise retired_since_said(aside)
        # serve authenticates by the certificates the store registered, and pki/members/ is read by `zzgw init`
        # alone, which registers from it: a stale copy is said here, before that init refuses it at the next start
        # (a multi-replica tester, D5)
        in_force = [m.code for m in gateway.members.in_force()]
        if taken := taken_here(settings, in_force, gateway.members.revoked_certificates()):
            log.warning(
                "%s. This gateway serves (members are known by the certificates the store registered), but the next "
                "`zzgw init` of this data directory refuses it until then",
                taken_said(taken),
            )
    if revision >= RECEIPT_CERTIFICATES_REVISION and gateway.receipt_certificates is not None:
        # its certificate is recorded when it starts signing (``Gateway.start``), not by a command that only reads:
        # one renewed while the processes run on the one before is not theirs yet (a receipt-keys reviewer, R1)
        if serving and (newer := gateway.receipt_certificates.retired_by()) is not None:
            raise ConfigError(_retired_said(newer))
    elif revision >= RECEIPT_CERTIFICATES_REVISION:
        with gateway.db.unit_of_work() as uow:
            had_one = bool(uow.receipt_certificates.all())
        if had_one:  # it had served "ready", every verification then UNAVAILABLE (a disaster-recovery tester)
            raise ConfigError(
                f"the receipt key and its certificate ({settings.keys_dir}/{RECEIPT_KEY}.key.pem, "
                f"{settings.seal_ca_dir / RECEIPT_CERT}) are not in this data directory, and the store's receipts were "
                "signed with one: restore them from the data directory's backup, or run `zzgw init` to make a new one "
                "(docs/receipts.md: receipts signed before still check)"
            )


def _retired_said(newer: x509.Certificate) -> str:
    """Why a process whose receipt key a later `zzgw init` replaced (``ReceiptCertificates.retired_by``) must not
    sign: a replica restarted before the rotating gateway's files were copied to it (a receipts reviewer, R2)."""
    return (
        f"this data directory's receipt key was replaced by a later `zzgw init` (the store's gateways sign under the "
        f"receipt certificate {newer.serial_number:x}, of another key), and its certificates are revoked as "
        "superseded: every receipt signed with it would check CERT_REVOKED for good; copy seal-ca/ and "
        f"keys/{RECEIPT_KEY}.key.pem from the gateway that ran that `zzgw init`, then start this one "
        "(docs/receipts.md: a new receipt key)"
    )


_AFTER_THE_END = {
    RECEIPT_WHAT: "every receipt signed under it checks INVALID (CERT_EXPIRED) for good",
    TSA_WHAT: (
        "the gateway's own TSA makes no timestamp under it, which would prove no sealing time: calls that seal with it "
        "are refused (TSA_UNAVAILABLE) and /tsa answers rejection (timeNotAvailable)"
    ),
    SERVER_WHAT: "every client refuses the connection",
}


def warn_of_the_member_ca(settings: Settings, now: dt.datetime) -> None:
    """`zzgw serve` in production mode: a WARNING from ``CA_WARN_BEFORE`` before the member CA ends, an ERROR once
    it has, never a refusal: the HTTP side (the console, the trust material) needs no member certificate, and no
    `zzgw init` renews the CA (``gateway.certificate_ends``). Nothing had said when it ends (a partner-province
    tester)."""
    ca = settings.pki_dir / "ca.pem"
    if settings.mode != "production" or not ca.exists():
        return
    not_after = read_certificate(ca).not_valid_after_utc
    if (ends := ending(MEMBER_CA_WHAT, ca, not_after, now, within=CA_WARN_BEFORE)) is not None:
        log.log(logging.ERROR if ends.ended else logging.WARNING, "%s, after which %s: %s", ends.said(), _AFTER_THE_CA,
                _NO_CA_RENEWAL)  # fmt: skip


_AFTER_THE_CA = (
    "every department's and partner's TLS connection with the gateway fails (their certificates and the server's "
    "are the CA's)"
)
_NO_CA_RENEWAL = "no command renews it; plan its replacement with them (docs/departments.md: the member CA's end)"


def own_certificates(settings: Settings) -> list[OwnCertificate]:
    """The gateway's own certificates a `zzgw serve` process serves, as read at its start: the receipt and the
    time-stamping certificates, and in production mode the server certificate and the member CA; those that exist
    (``gateway.certificate_ends.watch_own_certificates`` says their ends as ``_check_own_certificates`` does at
    start, the process still serving the ones it read: a renewal takes `zzgw init` and a restart). One that is there
    and cannot be read is ``UnreadableFile``, named: `zzgw certificates` had left it out of its list without a word,
    exit 0 (a reviewer, R3)."""
    renew = (
        "run `zzgw init` on one gateway to renew it, copy the renewed files to every replica with a data directory of "
        "its own, then restart every gateway process: each serves the certificates it read at start "
        "(docs/operations.md: renewing the gateway's certificates)"
    )
    own = [
        ("receipt", RECEIPT_WHAT, settings.seal_ca_dir / RECEIPT_CERT, True),
        ("tsa", TSA_WHAT, settings.seal_ca_dir / TSA_CERT, False),
    ]
    if settings.mode == "production":
        own.append(("server", SERVER_WHAT, settings.pki_dir / "server.pem", True))
    certificates = []
    for name, what, path, stops in own:
        with contextlib.suppress(FileNotFoundError):  # none here: nothing served
            certificates.append(
                OwnCertificate(
                    name=name,
                    what=what,
                    path=path,
                    not_after=read_certificate(path).not_valid_after_utc,
                    within=RENEW_BEFORE,
                    after=_AFTER_THE_END[what],
                    todo=renew,
                    stops_serving=stops,
                )
            )
    ca = settings.pki_dir / "ca.pem"
    if settings.mode == "production":
        with contextlib.suppress(FileNotFoundError):
            certificates.append(
                OwnCertificate(
                    name="member-ca",
                    what=MEMBER_CA_WHAT,
                    path=ca,
                    not_after=read_certificate(ca).not_valid_after_utc,
                    within=CA_WARN_BEFORE,
                    after=_AFTER_THE_CA,
                    todo=_NO_CA_RENEWAL,
                )
            )
    return certificates


def _check_own_certificates(settings: Settings, now: dt.datetime) -> None:
    """`zzgw serve`: a warning for each of the gateway's own certificates that ends within ``RENEW_BEFORE``,
    ConfigError for one that has ended (``gateway.certificate_ends``). The server certificate counts in production
    mode only, where it is served; the member CA is said first (``warn_of_the_member_ca``)."""
    warn_of_the_member_ca(settings, now)
    own = [(RECEIPT_WHAT, settings.seal_ca_dir / RECEIPT_CERT), (TSA_WHAT, settings.seal_ca_dir / TSA_CERT)]
    if settings.mode == "production":
        own.append((SERVER_WHAT, settings.pki_dir / "server.pem"))
    for what, path in own:
        if not path.exists():
            continue
        not_after = read_certificate(path).not_valid_after_utc
        ends = ending(what, path, not_after, now, within=RENEW_BEFORE)
        if ends is None:
            continue
        if ends.ended:
            raise ConfigError(
                f"{ends.said()}, and {_AFTER_THE_END[what]}: run `zzgw init` to renew it, then start the gateway "
                "(docs/operations.md: renewing the gateway's certificates)"
            )
        log.warning(
            "%s, after which %s: run `zzgw init` to renew it before then (docs/operations.md: renewing the "
            "gateway's certificates)",
            ends.said(),
            _AFTER_THE_END[what],
        )


def check_schema(settings: Settings, revision: str, *, migrating: bool) -> None:
    """ConfigError (exit 2, one line) when the store's schema is not this code's: newer (a newer zzgw upgraded it:
    this code cannot read what it wrote), or, but for ``zzgw init`` (``migrating``), older (not upgraded yet). Such
    a process had served and died at its first query with an SQL traceback, exit 1, and a newer store had been
    served as if it were this code's (found by an upgrade tester)."""
    known = schema_revisions()
    if revision not in known:
        raise ConfigError(
            f"the database {settings.database_label} is at schema {revision}, newer than this code's {known[-1]}: "
            "a newer zzgw upgraded it; run that version, or restore the backup taken before the upgrade "
            "(docs/operations.md: Upgrades)"
        )
    if (reached := schema_reached(settings)) is not None and (
        crossed := [vouched for vouched in VOUCHED_AT_UPGRADE if revision < vouched <= reached]
    ):
        raise ConfigError(
            f"the database {settings.database_label} is at schema {revision}, and this data directory's `zzgw init` "
            f"left it at schema {reached} ({settings.schema_reached_path}): its schema was taken back (alembic "
            f"downgrade) across schema {', '.join(crossed)}, which drops the rows that vouch for the audit trail's "
            "end and start and for the memos of statuses and documents, and `zzgw init` does not vouch for what "
            "such a store holds now: records deleted from the audit trail's end would read intact. Restore the "
            "database from the copy taken with this data directory (docs/operations.md: Restoring), and find who "
            "could write to it. Only if this database is a copy restored on purpose from before an upgrade across "
            f"schema {crossed[-1]}, which no one could write to since, move {settings.schema_reached_path.name} "
            "aside and run `zzgw init` again: it then vouches for the store as it finds it"
        )
    if revision != known[-1] and not migrating:
        raise ConfigError(
            f"the database {settings.database_label} is at schema {revision}, and this code needs {known[-1]}: run "
            "`zzgw init` to upgrade it, with every gateway process of the old version stopped (docs/operations.md: "
            "Upgrades)"
        )


def schema_reached(settings: Settings) -> str | None:
    """The highest schema revision `zzgw init` left the store at with this data directory (``record_schema_reached``),
    None when it recorded none (a new data directory, or one last initialised by a version before it recorded it).
    Kept beside the keys, where a database-only attacker cannot write: the store's own ``alembic_version`` row is no
    proof of an upgrade, since anyone who writes to the database can run the public migrations' downgrades."""
    path = settings.schema_reached_path
    try:
        recorded = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path} (the schema this data directory's store reached): {exc}") from None
    if not re.fullmatch(r"[0-9]{4}", recorded):
        raise ConfigError(
            f"{path} (the schema this data directory's store reached) holds {recorded[:20]!r}, not a schema revision: "
            "restore it from the backup of the data directory"
        )
    return recorded


def record_schema_reached(settings: Settings, revision: str) -> None:
    """Record ``revision`` as the schema the store reached with this data directory, unless it recorded a higher one
    (written whole, then renamed: a crash leaves the old record or the new)."""
    reached = schema_reached(settings)
    if reached is not None and reached >= revision:
        return
    path = settings.schema_reached_path
    staged = path.with_name(path.name + ".new")
    write_public(staged, (revision + "\n").encode("ascii"))
    os.replace(staged, path)


ALONE_WAIT_SECONDS = 60.0
"""How long `zzgw init` waits for the processes of another schema to leave the database before it refuses to
upgrade it: a replica stopping drains its calls first (at most ``DRAIN_LONGEST_SECONDS`` and ``GRACE_SECONDS``)."""


NAMED_REVISION = "0029"
"""The schema from which gateway processes name their PostgreSQL connections (``application_name``)."""

DESPITE_UNNAMED = "--despite-unnamed-connections"
"""`zzgw init`'s flag that upgrades a store below ``NAMED_REVISION`` while connections naming no application are
open under the gateway's role (``check_alone``): clients the operator knows of, not gateways."""


def check_alone(
    gateway: Gateway,
    revision: str,
    *,
    wait: float | None = None,
    say: Callable[[str], object] | None = None,
    despite_unnamed: bool = False,
) -> None:
    """ConfigError before a migration while gateway processes of another schema are connected to the PostgreSQL
    database, once they have had ``wait`` seconds to go: one of the old version left serving had gone on writing as
    it knew how, and what it issued then verified as altered for good under the new code (found by an upgrade
    tester). Processes of this code's schema are none of them (another replica's `zzgw init` waiting for this one;
    a new `zzgw serve` refuses an older store at start). Processes of versions before schema 0029 do not name their
    connections: on a store below it (which only they serve) the connections of the gateway's role that name no
    application are taken for theirs, waited for and refused alike, unless ``despite_unnamed``. Init had only warned of
    them as it upgraded, and an old process left serving made the audit trail UNVOUCHED_RECORDS for good (a reviewer of
    upgrades, R3)."""
    unnamed = revision < NAMED_REVISION and not despite_unnamed
    waited = ALONE_WAIT_SECONDS if wait is None else wait
    others = _others_staying(gateway, but_schema=schema_revisions()[-1], wait=waited, say=say, unnamed=unnamed)
    named = [other for other in others if other.startswith("zzgw/")]
    if named:
        shown = _first_few(named)
        raise ConfigError(
            f"the database {gateway.settings.database_label} is at schema {revision} and "
            f"{counted(len(named), 'other gateway process is', 'other gateway processes are')} connected to it "
            f"({shown}): stop every one before `zzgw init` upgrades the schema; a session left by a host that is gone "
            "ends with SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '…' "
            "(docs/operations.md: Upgrades)"
        )
    if others:
        raise ConfigError(
            f"the database {gateway.settings.database_label} is at schema {revision} and connections of the gateway's "
            f"role that name no application are open to it ({_first_few(others)}): gateway processes of a version "
            f"before schema {NAMED_REVISION} name none, and one left serving on the upgraded store would make the "
            "audit trail UNVOUCHED_RECORDS for good; stop every gateway before `zzgw init` upgrades the schema; if "
            f"those connections are no gateway's (a client you know of), `zzgw init {DESPITE_UNNAMED}`; nothing was "
            "changed (docs/operations.md: Upgrades)"
        )


def _first_few(others: Sequence[str]) -> str:
    """The first five of ``others``, and an ellipsis for any more, as a refusal names them."""
    return ", ".join(others[:5]) + (" …" if len(others) > 5 else "")


def _others_staying(
    gateway: Gateway, *, but_schema: str, wait: float, say: Callable[[str], object] | None, unnamed: bool = False
) -> list[str]:
    """The other gateway processes (``Database.other_gateways``) still connected to the database once they have had
    ``wait`` seconds to go, said when there are any at first; ``unnamed``: with the connections of this role that name
    no application (``Database.unnamed_connections``), each as ``N connections naming no application from ADDRESS``."""

    def look() -> list[str]:
        found = gateway.db.other_gateways(but_schema=but_schema)
        for each in gateway.db.unnamed_connections(this_role=True) if unnamed else []:
            count, address = each.split(" from ", 1)
            found.append(f"{counted(int(count), 'connection')} naming no application from {address}")
        return found

    ends = time.monotonic() + wait
    others = look()
    if others:
        named = sum(other.startswith("zzgw/") for other in others)
        said = (
            f"{counted(len(others), 'other gateway process is', 'other gateway processes are')} connected to the "
            f"database: waiting up to {wait:g} s"
            if named == len(others)
            else f"other gateway processes, or connections that name no application (those of a version before schema "
            f"{NAMED_REVISION} name none), are open to the database ({_first_few(others)}): waiting up to {wait:g} s "
            "for them to go"
        )
        (say or functools.partial(print, file=sys.stderr))(said)
    while others and time.monotonic() < ends:
        time.sleep(min(2.0, max(0.0, ends - time.monotonic())))
        others = look()
    return others


def check_alone_to_switch(
    gateway: Gateway, *, wait: float | None = None, say: Callable[[str], object] | None = None
) -> None:
    """ConfigError before `zzgw init --switch-to-production` switches a dev store while other gateway processes are
    connected to the PostgreSQL database, once they have had ``wait`` seconds to go: each of them serves dev mode
    (`zzgw serve` refuses production settings on a dev store), and would take no bearer token once it notices the
    switch (``CatalogPin.went_production``). None are seen on SQLite, nor processes of versions before schema 0029."""
    others = _others_staying(gateway, but_schema="", wait=ALONE_WAIT_SECONDS if wait is None else wait, say=say)
    if others:
        shown = _first_few(others)
        raise ConfigError(
            f"{counted(len(others), 'other gateway process is', 'other gateway processes are')} connected to the "
            f"database {gateway.settings.database_label} ({shown}): stop every gateway of the store before `zzgw init "
            f"{SWITCH_TO_PRODUCTION}` switches it to production mode, then start each with production settings; "
            "nothing was changed (docs/operations.md: ZZGW_MODE)"
        )


RECEIPT_CERTIFICATES_REVISION = "0017"
"""The schema revision that keeps every certificate the receipt key has had (``receipt_certificates``)."""


SWITCH_TO_PRODUCTION = "--switch-to-production"
"""`zzgw init`'s flag that switches a dev store to production mode (``_initialise``): the only way to."""


def _served_in_dev(db: Database, revision: str) -> bool:
    """Whether the store at schema ``revision`` is served in dev mode: it records no production mode
    (``PRODUCTION_FACT``) and its members have bearer tokens (the first `zzgw init` in dev mode gives every member
    one). A store begun in production has no dev token, and one whose production init was cut short before recording
    the fact has none either: neither is taken for a dev store."""
    with db.unit_of_work() as uow:
        if revision >= FACTS_REVISION and uow.facts.get(PRODUCTION_FACT) == "production":
            return False
        return uow.members.any_token()


def _still_in_dev(settings: Settings) -> ConfigError:
    """The refusal of production settings on a store served in dev mode (``_served_in_dev``), by `zzgw serve` and by
    `zzgw init` without ``SWITCH_TO_PRODUCTION``. A fourth replica started with ZZGW_MODE=production had switched a dev
    fleet's store for good without a word: the dev replicas went on taking bearer tokens on it, and each was refused at
    its next restart (a multi-replica tester)."""
    return ConfigError(
        f"the database {settings.database_label} is served in dev mode (its members have bearer tokens), and these "
        'settings say production: to serve it as its other gateways do, set mode = "dev" (ZZGW_MODE); to switch the '
        "store to production, which is for every gateway of it and for good, stop every gateway of the store, run "
        f"`zzgw init {SWITCH_TO_PRODUCTION}` with these settings, then start each gateway with production settings "
        "(docs/operations.md: ZZGW_MODE)"
    )


class CatalogNotTheStores(ConfigError):
    """The catalog a process would serve is not the one its store's gateways serve (``_pin_catalog``); ``stored``:
    the store's fingerprint."""

    def __init__(self, stored: str, message: str) -> None:
        super().__init__(message)
        self.stored = stored


def _pin_catalog(gateway: Gateway, stored: str | None) -> None:
    """Refuse to serve a catalog that is not the one the store's gateways serve (ADR 0013): a replica with another
    file had applied other sharing rules beside the others, giving a department a citizen's data that the others
    refused it (a fleet tester). A store that records none is refused too: `zzgw init` records the first, held against
    the store's licenses (``_refuse_issuers_left``); the first `zzgw serve` had recorded its own unchecked, on a store
    whose init had been cut short or had refused the catalog (an upgrade tester, D5). Then the process holds its
    catalog against the store's while it serves."""
    ours = gateway.catalog.fingerprint
    if stored is None:
        raise ConfigError(
            f"the database {gateway.settings.database_label} records no catalog that its gateways serve (a store from "
            "before catalog fingerprints, or one whose `zzgw init` was cut short or refused the catalog): run `zzgw "
            "init` with this gateway's catalog first; it holds the catalog against the store's licenses as `zzgw init "
            "--adopt-catalog` does, and records it (docs/operations.md: Changing the catalog)"
        )
    if stored != ours:
        raise CatalogNotTheStores(
            stored,
            f"this gateway's catalog ({_catalog_named(gateway.settings)}, sha256 {ours}) is not the one the database "
            f"{gateway.settings.database_label} is served with (sha256 {stored}): copy the catalog file the other "
            "gateways of this store use; or, to change the catalog, run `zzgw init --adopt-catalog` with the new one, "
            "then restart every gateway of the store (docs/operations.md: Changing the catalog)",
        )
    gateway.catalog_pin.arm(ours, dev=gateway.settings.mode == "dev")


def _catalog_named(settings: Settings) -> str:
    return f"ZZGW_CATALOG {settings.catalog}" if settings.catalog else "the demo catalog: ZZGW_CATALOG is not set"


def _refuse_another_catalog(gateway: Gateway) -> None:
    """ConfigError, before init changes anything (its migrations too), when the store's gateways serve another catalog
    than this directory's and ``--adopt-catalog`` was not given: a routine init (a member added) on a replica holding
    a stale copy had adopted it for the whole fleet, every other process then refusing CATALOG_CHANGED (a reviewer)."""
    with gateway.db.unit_of_work() as uow:
        recorded = uow.facts.get(CATALOG_FACT)
    if recorded and recorded != gateway.catalog.fingerprint:
        raise _another_catalog(gateway, recorded)


def _adopting(gateway: Gateway) -> bool:
    """Whether the gateway's catalog is another than the one its store records (``--adopt-catalog`` would adopt it)."""
    return _recorded_catalog(gateway) != gateway.catalog.fingerprint


def _refuse_unadoptable(gateway: Gateway) -> None:
    """ConfigError for a catalog no store may adopt (``refuse_unadoptable``): a name or label holding an invisible
    character. Only where init adopts it (a new store's first, or ``--adopt-catalog``): a store serving one adopted
    before this was checked goes on serving it after an upgrade, init and serve warning (a reviewer, catalogrev R2)."""
    try:
        refuse_unadoptable(gateway.catalog, gateway.settings.catalog)
    except ValueError as exc:
        raise ConfigError(f"catalog (ZZGW_CATALOG): {exc}") from None


def _recorded_catalog(gateway: Gateway) -> str | None:
    """The fingerprint of the catalog the store's gateways serve, None when the store records none."""
    with gateway.db.unit_of_work() as uow:
        return uow.facts.get(CATALOG_FACT)


def _refuse_issuers_left(gateway: Gateway, recorded: str | None, *, adopt: bool) -> None:
    """ConfigError, before init adopts another catalog, when that catalog takes a department out of a license type's
    ``issuers`` while the department has licenses of the type that have not ended (``issuers_left``): they would
    verify FAILED / NOT_AUTHORITATIVE_ISSUER from the restart on, and no one could amend, revoke or cancel them (a
    catalog author tester's 机构改革, the type moved to a new department, had turned every license the old one issued
    red without a word). The type is handed over with both departments named until the old one's have ended.

    The first catalog recorded on a store is held so too (``recorded`` None), with or without ``adopt``: a store from
    before catalog fingerprints had taken whatever catalog its upgrading init was given, a type taken from the issuer
    of its licenses with it (an upgrade tester, D5). A new store has no licenses: nothing to refuse."""
    if recorded == gateway.catalog.fingerprint or (recorded is not None and not adopt):
        return  # the same one; or another, which `_adopt_catalog` refuses without --adopt-catalog
    left = issuers_left(gateway.db, gateway.catalog)
    if not left:
        return
    names = {m.code: m.name for m in gateway.members.in_force()}
    listed = "; ".join(
        f"{i.type_code} {i.type_name}: {' '.join(filter(None, (i.issuer_code, names.get(i.issuer_code))))}, "
        f"{counted(i.licenses, 'license')}"
        for i in left
    )
    refused = (
        "was not adopted"
        if recorded
        else "was not recorded as the store's (it records none yet: a store from before catalog fingerprints; its "
        "licenses were issued under another catalog, which gave their departments these types)"
    )
    raise ConfigError(
        f"the catalog ({_catalog_named(gateway.settings)}) {refused}: it takes departments out of license "
        f"types' `issuers` while they have licenses of the type that have not ended, active (expired ones too, "
        f"已过期: past its validity a license is still active until cancelled), suspended, or revoked and not "
        f"cancelled ({listed}). From the restart on those licenses would verify FAILED (NOT_AUTHORITATIVE_ISSUER), "
        "an expired one no longer EXPIRED, and no one could amend, revoke or cancel them. Keep each department in the "
        "type's `issuers`, beside the new one, until it has cancelled (注销) its licenses of the type, the expired "
        "ones too (the new department issuing anew those still needed), then take it out (docs/operations.md: "
        "Handing a license type to another department)"
    )


def _another_catalog(gateway: Gateway, recorded: str) -> ConfigError:
    return ConfigError(
        f"this gateway's catalog ({_catalog_named(gateway.settings)}, sha256 {gateway.catalog.fingerprint}) is "
        f"not the one the database {gateway.settings.database_label} is served with (sha256 {recorded}): copy "
        "the catalog the other gateways use, or, to change the catalog every gateway of this store serves, run "
        "`zzgw init --adopt-catalog` (then restart every zzgw serve: docs/operations.md, Changing the catalog); "
        "`zzgw catalog check` with these settings says first what the adoption would refuse and warn of"
    )


def _adopt_catalog(gateway: Gateway, *, adopt: bool) -> str:
    """Record this gateway's catalog fingerprint as the store's (``zzgw init``, under its setup lock); the fingerprint
    it replaces when it was another catalog's, else empty. Without ``adopt`` it is only recorded where the store has
    none, and another is refused as ``_refuse_another_catalog`` does: a `zzgw serve` of a version that recorded its own
    on a store that had none (which takes no setup lock) may have done so since that check, and a routine init had
    replaced it, the serving replica then refusing CATALOG_CHANGED (a reviewer)."""
    ours = gateway.catalog.fingerprint
    try:
        with gateway.db.unit_of_work(write=True) as uow:
            if adopt:
                _wait_for_writes(uow)
            before = uow.facts.get(CATALOG_FACT, lock=adopt)
            if before == ours:
                return ""
            if before is None:
                uow.facts.add(CATALOG_FACT, ours)
            elif adopt:
                # Judged again on what is stored now: a process on the old catalog had issued, between the check init
                # made before its other steps and this transaction, a license of a department the catalog takes out
                # of the type's issuers, and the adoption stood (a reviewer). The license writes read this row under
                # the shared side of the lock ``_wait_for_writes`` holds, in their own transactions (SQLite: its
                # writer lock, held here), so none commits until this one does.
                _refuse_issuers_left(gateway, before, adopt=True)
                uow.facts.replace(CATALOG_FACT, ours)
            else:
                raise _another_catalog(gateway, before)
            uow.commit()
    except IntegrityError:  # a `zzgw serve` recorded its catalog between the read and the add: judged as it is now
        return _adopt_catalog(gateway, adopt=adopt)
    return before or ""


ADOPTION_WAIT_SAID_AFTER = 3.0
"""Seconds an adoption waits for the license writes in flight before init says so on stderr."""
ADOPTION_TRY = 2.0
"""Seconds an adoption waits in the facts' lock queue at a time (``FactRepository.hold_within``): the longest a license
write that comes meanwhile waits behind it before it goes on."""
ADOPTION_WAIT_LIMIT = 60.0
"""Seconds an adoption tries before it gives up, nothing changed, naming the writes that held it off."""


def _wait_for_writes(uow: UnitOfWork) -> None:
    """Hold the store's facts in ``uow`` against the license writes (``FactRepository.hold``: PostgreSQL), waiting
    for those in flight, while the writes that come meanwhile wait behind the adoption; said on stderr when it waits
    more than ``ADOPTION_WAIT_SAID_AFTER`` s, and when it is done: the adoption had waited behind two batch streams
    for minutes without a word, the operator unable to tell a hang from a slow check (a reviewer, R1). It waits
    ``ADOPTION_TRY`` s at a time, the writes queued behind it going on between its tries, and gives up after
    ``ADOPTION_WAIT_LIMIT`` s (``ConfigError``, naming the sessions that held it off): a write that did not end had
    held it, and every write of every replica behind it, for ever (a review of the fix, fixrevlock R1)."""
    started = time.monotonic()

    def say() -> None:
        print(
            f"adopting the catalog: waiting for the license writes in flight to commit (for {waited():.0f} s now; the "
            f"writes that come meanwhile wait for the adoption, {ADOPTION_TRY:g} s at most at a time; it gives up "
            f"after {ADOPTION_WAIT_LIMIT:g} s)",
            file=sys.stderr,
            flush=True,
        )

    def waited() -> float:
        return time.monotonic() - started

    timer = threading.Timer(ADOPTION_WAIT_SAID_AFTER, say)
    timer.daemon = True
    timer.start()
    try:
        while not uow.facts.hold_within(ADOPTION_TRY):
            if waited() >= ADOPTION_WAIT_LIMIT:
                held_by = ", ".join(uow.facts.holders()) or "sessions that have ended since"
                raise ConfigError(
                    f"the catalog was not adopted, nothing changed: a license write in flight had not committed "
                    f"after {waited():.0f} s ({held_by}); find it (pg_stat_activity: a client's transaction left "
                    "open, a gateway process frozen) and run `zzgw init --adopt-catalog` again once it has ended "
                    "(docs/operations.md, Changing the catalog)"
                )
    finally:
        timer.cancel()
    if waited() >= ADOPTION_WAIT_SAID_AFTER:
        print(f"adopting the catalog: the writes in flight committed after {waited():.1f} s", file=sys.stderr)


def _record_facts(settings: Settings, db: Database, keys: KeyStore) -> None:
    """Record the fingerprints of this directory's authorities the store does not have yet (``zzgw init``); two
    replicas initialised at once with authorities of their own: the second is refused."""
    ours = authority_facts(settings, keys)
    if settings.mode == "production":
        ours[PRODUCTION_FACT] = "production"
    with contextlib.suppress(IntegrityError), db.unit_of_work(write=True) as uow:  # another init recorded first
        recorded = uow.facts.all()
        for name, value in ours.items():
            if name not in recorded:
                uow.facts.add(name, value)
        uow.commit()
    with db.unit_of_work() as uow:
        check_facts(settings, keys, uow.facts.all())


def tune_gc() -> None:
    """Part of the server model: the objects made at start-up (modules, catalog, trust material) move to the
    collector's permanent generation, and the young generation is collected every 20,000 allocations instead of 700.
    A call allocates a few hundred objects that reference counting frees; with the defaults the collector ran every
    few calls and its full passes over the caches were the slowest calls' tail (VerifyLicense at 64 in flight: p99
    88 → 44 ms, and the bare server's 25 → 9 ms; benchmarks.verify runs its bare server with the same settings).
    Cyclic garbage that is garbage when a young collection runs goes then; a cycle still alive at a young collection
    (a failed batch item's error whose traceback held its batch, until ``_detached``) moves to older generations,
    which are collected only after millions more allocations: keep no exception with its traceback past its call."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve_forever(
    settings: Settings,
    *,
    announce: bool = True,
    watch_certificates: bool = True,
    ready: Callable[[], object] | None = None,
    store_identity: tuple[int, int] | DatabaseIdentity | None = None,
    stop_asked: StopAsked | None = None,
    catalog: bytes | None = None,
) -> None:
    """Run one gateway process until SIGTERM or SIGINT, then stop gracefully; ``ready`` is called once it serves.

    ``announce``: log the banner and the start's warnings (the first worker to start, once per gateway).
    ``watch_certificates``: keep the daily watch of the members' certificates and its gauge (worker 0, and the
    worker that replaces it: it had been the announcing one only, and both were gone once worker 0 died).
    ``store_identity``: the SQLite file or PostgreSQL database to store in, none other (a replacement worker's:
    ``Gateway.open``). ``stop_asked``: a stop signal that came before this process's own handlers (``run``): it
    stops as soon as it serves. ``catalog``: the bytes of the catalog file as the gateway read them at its start (a
    worker's), not read again from ``ZZGW_CATALOG``."""
    gateway = Gateway.open(
        settings,
        store_identity=store_identity,
        catalog=configured_catalog(settings, catalog) if catalog is not None else None,
    )
    check_ready(gateway, serving=True)
    gateway.own_certificates.serve(own_certificates(settings))
    if settings.workers == 1:  # several: said once, by ``run``
        warn_of_connection_slots(gateway)
    in_flight = InFlight()
    server, port = build_server(gateway, in_flight=in_flight)
    tls = (settings.http_tls_cert, settings.http_tls_key) if settings.http_tls_cert else None
    try:
        limits = ConnectionLimits(
            max_connections=settings.http_max_connections, request_seconds=settings.http_request_seconds
        )
        http = HttpServer(
            http_app(gateway), settings.http_addr, reuse_port=settings.workers > 1, tls=tls, limits=limits
        )
    except ssl.SSLError as exc:
        raise ConfigError(
            f"cannot use ZZGW_HTTP_TLS_CERT ({settings.http_tls_cert}) and ZZGW_HTTP_TLS_KEY "
            f"({settings.http_tls_key}): {exc.reason or exc}"
        ) from None
    except OSError as exc:
        if tls is not None and exc.filename is not None:
            raise ConfigError(f"cannot read {exc.filename} (HTTP TLS): {exc.strerror}") from None
        raise ConfigError(f"cannot listen on {settings.http_addr} (HTTP): {exc.strerror}") from None
    tune_gc()
    server.start()
    try:
        http.start()
    except OSError as exc:  # said in one line, exit 2, not a traceback the service unit restarts for ever (review)
        server.stop(0).wait(10)  # its port closed before the word is said (a busy machine's run had reached it after)
        gateway.close()
        raise ConfigError(f"cannot serve HTTP on {settings.http_addr}: {exc}") from None
    stopping = threading.Event()
    status = 0

    def shut_down(
        exit_status: int, past_deadline: int, deadline_seconds: float = STOP_DEADLINE_SECONDS, *, drain: bool = True
    ) -> None:
        """Say the process is stopping (health NOT_SERVING, ``/readyz`` 503), then, with ``drain``, take calls until
        they stop coming (``DRAIN_QUIET_SECONDS``, ``DRAIN_LONGEST_SECONDS``); then stop serving, calls in flight
        given ``GRACE_SECONDS``, the HTTP side's answers theirs meanwhile. The process exits ``past_deadline`` if it
        still runs ``deadline_seconds`` after the start, else ``exit_status`` once closed."""
        nonlocal status
        if stopping.is_set():
            return
        stopping.set()
        status = exit_status
        deadline = threading.Timer(deadline_seconds, _exit_stuck, args=(past_deadline, deadline_seconds))
        deadline.daemon = True
        deadline.start()
        gateway.readiness.drain()
        if drain:
            waited = wait_until_quiet(
                lambda: in_flight.latest, quiet=DRAIN_QUIET_SECONDS, longest=DRAIN_LONGEST_SECONDS
            )
            log.info("drained for %.1f s: refusing new calls, %ss grace for calls in flight", waited, GRACE_SECONDS)
        # an open health Watch or WatchLicenseChanges stream would hold the stop for the whole grace; a license
        # watcher is told GATEWAY_STOPPING after its last event and resumes from its cursor elsewhere
        gateway.readiness.close_watches()
        gateway.issuance.signal.close()
        http.stopping()
        server.stop(GRACE_SECONDS)  # returns at once: the calls in flight have their grace while HTTP stops
        http.stop()

    def on_signal(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            log.info(
                "signal %s: stopping: health NOT_SERVING, new calls taken until they stop coming (%ss at most)",
                signum,
                DRAIN_LONGEST_SECONDS,
            )
        shut_down(0, 1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if stop_asked is not None and stop_asked.signum:  # a signal as it opened the store: the stop it asked for
        on_signal(stop_asked.signum, None)
    watchdog = None
    if settings.stuck_call_seconds:
        # a call is known to be stuck: the others get their grace, the stuck one is not waited for beyond it; no
        # drain: new calls to a stuck process may well get stuck too (health says NOT_SERVING at once all the same)
        # calls waiting on a database readiness says does not answer are not this process being stuck: a restart
        # does not mend a database (a reviewer, opshttp R3)
        watchdog = Watchdog(
            in_flight,
            settings.stuck_call_seconds,
            lambda *_: shut_down(EXIT_STUCK, EXIT_STUCK, GRACE_SECONDS + 1, drain=False),
            excused=lambda: gateway.readiness.state.reason in DATABASE_AWAY,
        )
        watchdog.start()
    if announce and not stopping.is_set():
        _announce(settings, port, http.port)
        if left := types_left(gateway.db, gateway.catalog):
            log.warning(
                "the catalog has no type for %s of current licenses (%s): no matter can use them "
                "(NOT_USED_BY_MATTER) until the catalog has them again (ZZGW_CATALOG)",
                counted(len(left), "license type"),
                ", ".join(left),
            )
        if unseen := gateway.catalog.unseen_text():
            log.warning(
                "the catalog (%s) could not be adopted now: %s; it is served as the store's, as before: take the "
                "character out and adopt the file (zzgw init --adopt-catalog; docs/catalog.md)",
                _catalog_named(settings),
                unseen,
            )
        if unhandled := unhandled_matters(gateway.catalog, gateway.members.in_force()):
            log.warning(
                "no member may name %s of the catalog (%s): a matter names its department by the member's "
                "name (`zzgw members`)",
                counted(len(unhandled), "matter"),
                ", ".join(unhandled),
            )
        for member in gateway.members.in_force():  # registered before `zzgw init` refused them (review partner, R1)
            if said := partner_roles_said(member):
                log.warning("%s; until then this gateway does not honour the role (ROLE_NOT_ALLOWED)", said)
        if gateway.seals is not None and (unreadable := gateway.seals.unreadable()):
            log.warning(
                "%s cannot seal here (%s): their issuers' calls that need them fail "
                "(SEAL_KEY_UNREADABLE) until the key files are readable by the gateway and decrypt with its passphrase",
                counted(len(unreadable), "seal in force", "seals in force"),
                "; ".join(unreadable),
            )
    if watch_certificates:
        # members' client certificates ending soon or ended, now and daily: the handshake's failure names no one
        watch_certificate_ends(settings, gateway.db, gateway.clock)
        # and the gateway's own, which a process left running past the start's 90 days had served ended, ready
        watch_own_certificates(gateway.own_certificates, gateway.clock)
    if ready is not None:
        ready()
    server.wait_for_termination()
    if watchdog is not None:
        watchdog.stop()
    gateway.close()
    if status:
        sys.exit(status)


def _exit_stuck(status: int, after: float) -> None:
    log.error("still running %ss after stopping began: exiting without waiting for the rest", after)
    logging.shutdown()
    os._exit(status)


def run(settings: Settings, asked: StopAsked | None = None) -> int:
    """Serve with ``settings.workers`` processes sharing the port (SO_REUSEPORT); the exit status. ``asked``: the
    stop signals' handlers of the start (``gateway.early_stop``), installed as early as the command could; else
    here, first."""
    if asked is None:
        asked = StopAsked().install()
    asked.say()  # a signal before the log was set up
    check_fonts()
    check_http_tls(settings)
    check_descriptors(settings)
    refuse_demo_files(settings, "catalog")  # serve reads no members file: init registers them
    if settings.workers == 1:
        serve_forever(settings, stop_asked=asked)
        return 0
    # read once: every worker serves these bytes, a replacement too. The file at the path is the next catalog from
    # the first step of changing it on, before its adoption: a replacement that read it had been refused as not the
    # store's catalog (exit 2), stopping the gateway for good (a reviewer, R3)
    catalog = configured_catalog_bytes(settings)
    gateway = Gateway.open(settings, catalog=configured_catalog(settings, catalog))
    try:
        check_ready(gateway, serving=True)
        warn_of_connection_slots(gateway)
        store = gateway.db.store_file
        started_on = _file_identity(store.path) if store is not None else None
        database = gateway.db.database_identity()
    finally:
        gateway.close()
    if asked.signum:
        log.info("stopped before any worker started")
        return 0
    # a worker's own deadline first (it says why and exits 1), the supervisor's a second later for one that runs
    # nothing at all (frozen, stopped)
    worker = functools.partial(_worker, started_on=started_on, database=database, catalog=catalog)
    return supervise(settings, worker, stop_deadline=STOP_DEADLINE_SECONDS + 1.0, stop_asked=lambda: asked.signum)


class StoreAway(Exception):
    """A replacement worker's store, there at the gateway's start, is not at its path now: the SQLite file moved away
    or deleted, or another file moved over it. The other workers refuse writes (``STORE_GONE``) until the same file
    is back; the replacement waits for it too (``EXIT_STORE_UNAVAILABLE``), rather than open another store, or stop
    the gateway with a configuration error (a moved file had been a permanent outage, its line advising `zzgw init`,
    the one command that makes a new empty store at the path: an SRE tester)."""


def _file_identity(path: str) -> tuple[str, int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), found.st_dev, found.st_ino)


def _store_away(started_on: tuple[str, int, int] | None, *, missed: bool = False) -> StoreAway | None:
    """Why the SQLite file at the store's path is not the one the gateway started on; None if it is (or on
    PostgreSQL, where a server that refuses the role now is said by the connection). ``missed``: the open found
    none or another there (``StoreGone``, ``NoStoreYet``), even if the same file is back by now."""
    if started_on is None:
        return None
    path = started_on[0]
    if missed or _file_identity(path) != started_on:
        if _file_identity(path) == started_on:
            what = "it was not there as this worker opened it"
        else:
            what = "another file is there now" if os.path.exists(path) else "no file is there now"
        return StoreAway(
            f"the store file at {path}, there when the gateway started, is away ({what}: moved away, deleted or "
            "replaced): this worker waits for it while the others serve on. Put that same file back at its path "
            "(mv it back, with its -wal and -shm if they were moved too); if it was deleted or replaced, follow "
            "docs/operations.md, The SQLite file under a running gateway"
        )
    return None


def _expected(
    started_on: tuple[str, int, int] | None, database: DatabaseIdentity | None
) -> tuple[int, int] | DatabaseIdentity | None:
    """What a replacement worker must open: the SQLite file or the PostgreSQL database the gateway started on."""
    if started_on is not None:
        return (started_on[1], started_on[2])
    return database


def _database_replaced(exc: DatabaseReplaced) -> StoreAway:
    """A replacement worker's PostgreSQL database is not the one the gateway started on: waited for, as a SQLite file
    replaced is (``StoreAway``), while the other workers refuse writes (``STORE_GONE``) until the gateway is
    restarted; never served, never a stop of the others with a configuration error."""
    return StoreAway(
        f"the database {exc.path}, there when the gateway started ({exc.opened}), was replaced (now {exc.now}: "
        "restored, or dropped and made again): this worker waits while the others refuse writes (STORE_GONE). "
        "Restart every gateway process on it (docs/operations.md, Restoring)"
    )


def _worker(
    settings: Settings,
    number: int,
    announce: bool,
    ready: Any,
    replacement: bool = False,
    *,
    started_on: tuple[str, int, int] | None = None,
    database: DatabaseIdentity | None = None,
    catalog: bytes | None = None,
) -> None:
    stop_with_parent()
    # One worker per core, pinned: an unpinned Python process migrating between cores served 20-40% fewer calls
    # per core in the measurements of docs/adr/0001-server-model.md.
    cores = sorted(os.sched_getaffinity(0))
    if settings.workers <= len(cores):
        os.sched_setaffinity(0, {cores[number % len(cores)]})
    configure_logging(settings)
    try:
        if replacement and (away := _store_away(started_on)) is not None:
            raise away
        # worker 0's number is its replacement's: the certificate watch, by one process at a time, never stops;
        # a replacement opens the file the gateway started on or none (checked above, then again once opened: a
        # file moved there in between had been served)
        serve_forever(
            settings,
            announce=announce,
            watch_certificates=number == 0,
            ready=ready.set,
            store_identity=_expected(started_on, database) if replacement else None,
            catalog=catalog,
        )
    except Exception as exc:  # said in one line, as the command says it (a setting, a key, the database, a file)
        if replacement and isinstance(exc, CatalogNotTheStores):
            # adopted since the gateway started (`zzgw init --adopt-catalog`): the others answer CATALOG_CHANGED
            # until the restart, which this worker waits for rather than stop them all (exit 2)
            log.error(
                "the store's gateways serve another catalog since this gateway started (sha256 %s, adopted by `zzgw "
                "init --adopt-catalog`): this worker waits while the others answer CATALOG_CHANGED; restart the "
                "gateway to serve it (docs/operations.md: Changing the catalog)",
                exc.stored,
            )
            ready.restart_needed()  # no later try serves: when none serves, the supervisor stops for the restart
            sys.exit(EXIT_STORE_UNAVAILABLE)
        if replacement and isinstance(exc, DatabaseReplaced):
            exc = _database_replaced(exc)
        elif replacement and isinstance(exc, NoStoreYet | StoreMissing | StoreGone):
            # moved away between the check and the open
            exc = _store_away(started_on, missed=True) or exc
        if isinstance(exc, StoreAway):
            log.error("%s", exc)
            sys.exit(EXIT_STORE_UNAVAILABLE)
        line = said(exc, "serve", settings)
        if line is None:  # a defect: its traceback through the log, as an uncaught exception exits (1);
            # multiprocessing's own print had written a database error's message, the row it quotes (a reviewer, R2)
            log.critical("the worker stopped on a defect", exc_info=exc)
            sys.exit(1)
        # through the log's format (time, pid, level, logger), as every worker line: it had been a bare line
        log.error("%s", line.removeprefix("zzgw serve: ").removeprefix("zzgw: "))
        if replacement and store_refused(exc):
            # the PostgreSQL server that served at the gateway's start refuses the connection or the role now (a
            # role refused CONNECT): waited for as an outage while the others serve, not a setting that stops them
            # all. A SQLite file at the path that is the same but unusable (not a database, malformed, its directory
            # unwritable) is no outage that ends by itself: exit 2, as at the start (a reviewer: it had been tried for
            # ever). One that takes no writes (its file system read-only, the file immutable or append-only:
            # ``StoreUnwritable``) is: 75, a volume to mend being the common case
            sys.exit(EXIT_STORE_UNAVAILABLE)
        sys.exit(exit_status(exc))  # 75: the supervisor tries the first again


def _announce(settings: Settings, port: int, http_port: int) -> None:
    host = settings.grpc_addr.rsplit(":", 1)[0]
    http_host = settings.http_addr.rsplit(":", 1)[0]
    scheme = "https" if settings.http_tls_cert else "http"
    banner = [
        f"zzgw gateway listening on {host}:{port} (gRPC, {counted(settings.workers, 'worker')} × "
        f"{counted(settings.threads, 'thread')})",
        f"HTTP (TSA, CRL) on {scheme}://{http_host}:{http_port}, the clerk's console at "
        f"{scheme}://{http_host}:{http_port}/console/",
        f"database: {settings.database_label}",
    ]
    if settings.mode == "dev" and settings.dev_tokens_path.exists():
        banner.append(f"DEV MODE: bearer tokens from {settings.dev_tokens_path}, no TLS. Never expose this port.")
    elif settings.mode == "dev":  # a replica's copied data directory has none: it had been named all the same
        banner.append(
            "DEV MODE: bearer tokens registered in the store (the dev-tokens.json of the gateway that made them; "
            f"none at {settings.dev_tokens_path}), no TLS. Never expose this port."
        )
    else:
        banner.append(f"production mode: mTLS, member CA in {settings.pki_dir}")
        if scheme == "http" and http_host not in ("127.0.0.1", "localhost", "[::1]"):
            banner.append(
                "warning: the HTTP side is plain HTTP on a network address: console tokens travel in clear; set "
                "ZZGW_HTTP_TLS_CERT and ZZGW_HTTP_TLS_KEY, or keep it behind a TLS proxy"
            )
        if not settings.tsa_url and not settings.tsa_policy:
            banner.append(
                f"warning: the gateway's TSA names the placeholder policy {ZZGW_TSA_POLICY_OID} in every timestamp, "
                "which stays in each sealed PDF: set ZZGW_TSA_POLICY to the deployment's policy OID (or ZZGW_TSA_URL "
                "to the province's TSA)"
            )
    print("\n".join(banner), flush=True)


class ChinaTimeFormatter(logging.Formatter):
    """Log lines timed in Beijing time with the offset said (``2026-12-05 09:10:03.645+08:00``): the process's time
    zone had timed them, without a zone, so one moment read 01:10 from a replica under TZ=UTC and 09:10 from one under
    Asia/Shanghai (a time tester). Beijing time, as the receipts, consoles and commands show times.

    And one record, one line: a line break in a record (a library's message, psycopg's WARNING during a PostgreSQL
    restart spanning four lines, or a traceback) is written as ``\\n`` (a carriage return ``\\r``), so that a
    line-based shipper (journald, Loki) keeps each record whole with its time, pid, level and logger; the continuation
    lines had come as lines of their own, with none of them (a multi-replica tester). A backslash is left as it is:
    the access log's JSON escapes its own, and must stay JSON."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return dt.datetime.fromtimestamp(record.created, CHINA_TZ).isoformat(sep=" ", timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).translate(_ONE_LINE)


_ONE_LINE = str.maketrans({"\n": "\\n", "\r": "\\r"})
"""A log record's line breaks, escaped (``ChinaTimeFormatter.format``)."""


def log_handler(stream: TextIO) -> logging.Handler:
    """The gateway's log handler on ``stream``: one line a record, Beijing time, pid, level, logger; a database
    error's message left out of its traceback (``gateway.logs.database_details_cut``: PostgreSQL's quotes the row)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ChinaTimeFormatter("%(asctime)s [%(process)d] %(levelname)s %(name)s %(message)s"))
    handler.addFilter(library_tracebacks_cut)
    handler.addFilter(database_details_cut)
    return handler


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), handlers=[log_handler(sys.stderr)])
    # a library's warnings.warn had gone to stderr raw, its message and source line on two lines without time, pid,
    # level or logger (a reviewer): logged instead, as py.warnings at WARNING, one line like every record
    logging.captureWarnings(True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(library_tracebacks_cut)
        handler.addFilter(database_details_cut)
    hide_database_details()  # an exception no one caught (a thread's) is written without a database's message too
    logging.getLogger("zzgw.access").setLevel(logging.INFO if settings.access_log else logging.WARNING)
    for library in _DOCUMENT_LIBRARIES:  # their debug lines trace each object or tag of each document, with values
        logging.getLogger(library).setLevel(max(logging.WARNING, logging.getLogger().level))


_DOCUMENT_LIBRARIES = ("pyhanko", "pyhanko_certvalidator", "PIL")
"""The libraries that read the documents callers send: what they log is driven by those documents. Pillow reads the
QR photos and scans clerks upload: at DEBUG it logged each TIFF tag and each JPEG EXIF tag with its value, a scan's
Artist or ImageDescription the applicant's 公民身份号码 (a reviewer, security R1)."""


LIBRARY_LINE_SECONDS = 5.0
"""A line of a document library's (each of its lines in its source) at most once this often (``library_lines_cut``)."""
_LIBRARY_LINES = OncePer(LIBRARY_LINE_SECONDS)


def library_tracebacks_cut(record: logging.LogRecord) -> bool:
    """What the libraries that read callers' documents log is driven by those documents, so it is cut to what the
    library's source says, and bounded:

    - Its values are left out: the line keeps its template (``Key %s in info dict has value %s, which is not a valid
      date string``), or, a line of no template (one pyHanko formats itself), only where in the library it comes from.
      pyHanko logs a ``/CreationDate`` that is not a date at WARNING with the value, a text of the caller's choice,
      and, one that refers back to the document information, that whole dictionary: the title and author where a
      license PDF names its holder (a reviewer, R2: one line per SealDocument, IssueLicense and sharing copy).
    - Its traceback: pyHanko logs what it finds wrong in a document it validates with the exception's traceback, at
      WARNING (a PDF edited after sealing: "Error in diff operation …" and the whole SuspiciousModification), and at
      ERROR for a crafted one ("Processing error in validation process", a certificate name that does not decode), so
      that any caller could write tracebacks into the operators' log at will. The verification report says what is
      wrong already; the log keeps the exception's class only (its text may quote the document), at any level.
    - Each line of the library at most once every ``LIBRARY_LINE_SECONDS``, saying how many were left out since, as
      the gateway's own lines a caller can cause (``gateway.logs.OncePer``).

    The gateway's own records are untouched. A record is cut once, whichever handler sees it first; the others keep
    that handler's word."""
    if record.name.split(".", 1)[0] not in _DOCUMENT_LIBRARIES:
        return True
    kept = getattr(record, "zzgw_kept", None)
    if kept is not None:
        return bool(kept)
    left = _LIBRARY_LINES.allow(f"{record.name}:{record.lineno}")
    if isinstance(record.msg, str) and record.args:
        text = f"{record.msg} (its values left out)"
    else:
        text = f"a line of {record.filename}:{record.lineno} (its text left out)"
    if record.exc_info and record.exc_info[1] is not None:
        text += f" ({type(record.exc_info[1]).__name__})"
    record.msg = text + since(left or 0, "line")
    record.args = None
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None
    record.zzgw_kept = left is not None
    return left is not None
