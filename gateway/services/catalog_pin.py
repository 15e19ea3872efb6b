"""The catalog a gateway process serves, held against the one its store's gateways serve (ADR 0013).

>>> pin = CatalogPin(db)  # doctest: +SKIP
>>> pin.arm(catalog.fingerprint)  # zzgw serve, the store's checked to be this one  # doctest: +SKIP
>>> pin.check()  # readiness, every second; the store is read every 5 s  # doctest: +SKIP
>>> pin.refuse_if_changed()  # each call whose answer depends on the catalog  # doctest: +SKIP
>>> pin.refuse_within(uow)  # each write of licenses, in its own transaction  # doctest: +SKIP

The store records the fingerprint of the catalog its gateways serve (the fact ``catalog``): `zzgw init` records it,
and replaces it when run with another catalog, which is how a catalog is changed; `zzgw serve` refuses to start with
a catalog whose fingerprint is not the store's. A process already serving when `zzgw init` adopts another catalog
keeps the one it loaded (the catalog is not reloaded while serving: ADR 0013), so it learns of the change here, on its
readiness checks, and from then on refuses the calls whose answer depends on the catalog (``refuse_if_changed``:
UNAVAILABLE / ``CATALOG_CHANGED``) and is not ready, until it is restarted with the new catalog (or the store's is
this process's again). Replicas of one store had applied different sharing rules side by side without a word: one
refused a department a citizen's ID data that another gave it as unconditionally shared (a fleet tester).

A dev-mode process reads the store's mode with it (the fact ``mode``): once `zzgw init --switch-to-production` has
switched the store, the process is told (``went_production``), takes no bearer token and is not ready until it is
restarted with production settings. A replica started in production had switched a dev fleet's store for good, and the
dev replicas still serving had gone on taking bearer tokens on it without a word (a multi-replica tester).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from gateway.domain.errors import UpstreamUnavailableError
from gateway.store.database import Database, UnitOfWork

CATALOG_FACT = "catalog"
"""The store's fact holding the fingerprint of the catalog its gateways serve (``Catalog.fingerprint``)."""
MODE_FACT = "mode"
"""The store's fact recording that it is served in production mode (value ``production``): it is never served in dev
mode again. A dev store records none."""
READ_EVERY_SECONDS = 5.0
"""How often a serving process reads the store's catalog fingerprint (on its readiness checks, one small read)."""


class CatalogPin:
    """The fingerprint of the catalog this process serves (``arm``) and the store's as last read (``check``).
    Unarmed (a process that does not serve: a command, a test's gateway), it reads nothing and refuses nothing."""

    def __init__(self, db: Database, *, every: float = READ_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._db = db
        self._every = every
        self._clock = clock
        self._served: str | None = None
        self._stored: str | None = None
        """The store's fingerprint as last read (None: none recorded, or not read yet); replaced whole by the
        readiness thread, read by the request threads."""
        self._read_at = -math.inf
        self._dev = False
        self._production = False
        """A dev-mode process's store is served in production now (as last read); once so, for good."""

    def arm(self, fingerprint: str, *, dev: bool = False) -> None:
        """Serve the catalog of ``fingerprint``, which the store was checked to have (``zzgw serve``); ``dev``: in dev
        mode, on a store checked not to be production's, whose mode is then read too."""
        self._served = self._stored = fingerprint
        self._dev = dev
        self._read_at = self._clock()

    @property
    def served(self) -> str | None:
        return self._served

    def check(self) -> str | None:
        """The store's catalog fingerprint when it is not the one this process serves, else None; read from the store
        when ``every`` seconds have passed since the last read (a failed read raises, and is tried at the next
        check)."""
        if self._served is None:
            return None
        now = self._clock()
        if now - self._read_at >= self._every:
            with self._db.unit_of_work() as uow:
                self._stored = uow.facts.get(CATALOG_FACT)
                production = self._dev and uow.facts.get(MODE_FACT) == "production"
            self._production = self._production or production
            self._read_at = now
        return self._changed()

    @property
    def went_production(self) -> bool:
        """Whether this dev-mode process's store has been switched to production since it started (as last read by
        ``check``)."""
        return self._production

    def refuse_if_changed(self) -> None:
        """UNAVAILABLE / ``CATALOG_CHANGED`` once the store's catalog is not this process's (as last read): a call
        answered by the catalog this process loaded would apply rules the store's gateways no longer apply. Retried
        at another gateway process, already restarted with the new catalog, it is answered."""
        if self._changed() is not None:
            raise UpstreamUnavailableError(
                "证照目录已更新，本网关实例须重启后才能按新目录处理，请改由其他网关实例办理或稍后重试（the catalog "
                "changed: this gateway process must be restarted to apply the new one; retry at another gateway "
                "process, or later）",
                reason="CATALOG_CHANGED",
            )

    def refuse_within(self, uow: UnitOfWork) -> None:
        """``refuse_if_changed`` by the store's catalog as read in ``uow``, a write's own transaction (issue, amend,
        status change), before it writes: one read of the fact, on PostgreSQL under the shared side of the facts' lock
        (``FactRepository.get``), the first lock the write takes, so that an adoption's replacing it waits for the
        writes in flight and a write waits for an adoption in flight, the writes that come meanwhile queued behind it
        (SQLite writers are serial already). The read is kept as the store's, as ``check``'s is. Refused by the
        fingerprint last read alone, a process still on the old catalog had gone on issuing for up to 5 s after
        `zzgw init --adopt-catalog`: a 营业执照 of a department the adoption had just taken out of its issuers
        (accepted as it had none), which then verified NOT_AUTHORITATIVE_ISSUER, could be cancelled by no one, and had
        every later adoption leaving the department out refused (a reviewer, R1)."""
        if self._served is None:
            return
        self._stored = uow.facts.get(CATALOG_FACT, share=True)
        self.refuse_if_changed()

    def _changed(self) -> str | None:
        stored, served = self._stored, self._served
        return stored if stored is not None and served is not None and stored != served else None
