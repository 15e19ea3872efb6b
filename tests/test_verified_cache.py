"""The cache of record seals that verified (``VerificationService._verified``, given to ``record_integrity``) is
shared by every handler thread. It was a bare cachetools ``LRUCache``, which is not thread-safe: once full, two
threads evicting at once picked the same least-recently-used key, and one raised ``KeyError`` (or ``RuntimeError``,
an ``OrderedDict`` changed while iterated) out of ``record_integrity``, answered INTERNAL; its size count drifted
from its length (found in review)."""

from __future__ import annotations

import collections
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.services import verification
from signing.checks import record_integrity
from signing.keys import ECDSA_P256_SHA256, SoftwareKey
from signing.record import seal_record
from signing.results import CheckResult
from tests.conftest import RunningGateway, backend_params, migrated_database, start_gateway


def in_eight_threads(handler: Callable[[int], None]) -> None:
    """``handler(0)`` to ``handler(7)``, each on a thread of its own, switching often as handler threads under load."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=handler, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)


def test_handler_threads_share_a_full_cache_without_errors() -> None:
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    records = [{"license_id": f"L{i}", "holder": "某某有限公司"} for i in range(1_500)]
    seals = [seal_record(key, record) for record in records]
    verified = verification.VerifiedSignatures(200)  # full after 200 records: evicting at every new one
    errors: collections.Counter[str] = collections.Counter()
    results: collections.Counter[CheckResult] = collections.Counter()
    counted = threading.Lock()

    def handler(offset: int) -> None:
        said: collections.Counter[str] = collections.Counter()
        found: collections.Counter[CheckResult] = collections.Counter()
        for n in range(3_000):
            i = (n * 7 + offset * 13) % len(records)
            try:
                found[record_integrity(records[i], seals[i], key.public_key_der, verified=verified).result] += 1
            except Exception as exc:  # what had reached the client as INTERNAL
                said[type(exc).__name__] += 1
        with counted:
            errors.update(said)
            results.update(found)

    in_eight_threads(handler)
    assert dict(errors) == {}
    assert results == {CheckResult.PASSED: 8 * 3_000}
    assert verified.currsize == len(verified) == 200


def test_every_way_into_the_cache_takes_its_lock() -> None:
    """``get``, ``pop`` and ``clear`` too: a subclass of the cache had inherited them unlocked, and ``get`` raised
    ``KeyError`` under threads (a reviewer)."""
    verified = verification.VerifiedSignatures(50)
    errors: collections.Counter[str] = collections.Counter()
    counted = threading.Lock()

    def handler(offset: int) -> None:
        said: collections.Counter[str] = collections.Counter()
        for n in range(20_000):
            key = str((n * 7 + offset) % 120).encode()
            try:
                if n % 3 == 0:
                    verified[key] = True
                elif n % 3 == 1:
                    verified.get(key)
                else:
                    verified.pop(key, None)
                if n % 5_000 == 4_999:
                    verified.clear()
            except Exception as exc:
                said[type(exc).__name__] += 1
        with counted:
            errors.update(said)

    in_eight_threads(handler)
    assert dict(errors) == {}
    assert verified.currsize == len(verified) <= 50


@pytest.mark.parametrize("database_url", [backend_params()[0]], indirect=True)
def test_the_verification_service_keeps_its_verified_signatures_in_the_locked_cache(running: RunningGateway) -> None:
    cache = running.gateway.verification._verified
    assert isinstance(cache, verification.VerifiedSignatures)
    assert cache.maxsize == verification.VERIFIED_CACHE_SIZE


def test_the_license_cache_takes_its_bound_from_the_settings(tmp_path: Path) -> None:
    with migrated_database("sqlite", tmp_path) as url:
        gateway = start_gateway(tmp_path / "var", url, license_cache_size=1_000)
        try:
            assert gateway.gateway.verification._checked.maxsize == 1_000
        finally:
            gateway.stop()
