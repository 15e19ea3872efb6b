"""The timeouts a PostgreSQL pool's connections are opened with (``connection_timeouts``): the gateway's, but those
the operator sets, wherever libpq takes them from."""

from __future__ import annotations

import pytest

from gateway.store.database import CONNECT_TIMEOUT_SECONDS, KEEPALIVES, connection_timeouts


def test_the_gateways_timeouts_but_those_the_url_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    monkeypatch.delenv("PGSERVICE", raising=False)
    assert connection_timeouts({}) == {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **KEEPALIVES}
    assert "connect_timeout" not in connection_timeouts({"connect_timeout": "30"})
    assert "keepalives_idle" not in connection_timeouts({"keepalives_idle": "60"})


def test_libpqs_own_connect_timeout_and_a_service_files_keepalives_are_not_overridden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PGCONNECT_TIMEOUT and a service file's keepalives had been overridden by the gateway's (a review of 29e7690,
    R4): an option given to psycopg wins over both. A service file's connect_timeout psycopg never reads (it waited
    130 s with the gateway's left out for a service: a review of that fix, R1): the gateway's 5 s stand."""
    monkeypatch.delenv("PGSERVICE", raising=False)
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "30")
    assert connection_timeouts({}) == dict(KEEPALIVES)
    monkeypatch.delenv("PGCONNECT_TIMEOUT")
    assert connection_timeouts({"service": "zzgw"}) == {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    monkeypatch.setenv("PGSERVICE", "zzgw")
    assert connection_timeouts({}) == {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
