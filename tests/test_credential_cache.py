"""The gateway's credential cache answers from one look at the clock (a soak tester's INTERNAL)."""

from __future__ import annotations

import types

import pytest
from cachetools import TTLCache

from gateway.domain.errors import UnauthenticatedError
from gateway.services.members import Authenticator
from tests.conftest import MARKET, RunningGateway


class _Steps:
    """A clock that answers the times queued in ``then`` one read each, and the last of them ever after."""

    def __init__(self) -> None:
        self.then = [0.0]

    def __call__(self) -> float:
        return self.then.pop(0) if len(self.then) > 1 else self.then[0]


def test_a_credential_expiring_as_it_is_looked_up_is_read_afresh_not_an_error(running: RunningGateway) -> None:
    """``key in cache`` then ``cache[key]`` (cachetools' ``get`` does the same) read the clock twice: an entry of the
    30 s cache expiring between the two raised KeyError, an INTERNAL on whatever call it was (once in ~66,000
    calls of a soak), and a clerk's own console token read as none, which signs the clerk out."""
    clock = _Steps()
    authenticator = Authenticator(running.gateway.db, running.gateway.clock, dev_tokens=True)
    authenticator._cache = TTLCache(maxsize=16, ttl=30, timer=clock)  # type: ignore[misc]
    token = running.tokens[MARKET]
    assert authenticator.by_token(token).code == MARKET  # cached at 0
    clock.then = [29.5, 30.5]  # still fresh at the first read, gone at the next
    assert authenticator.by_token(token).code == MARKET
    assert authenticator.by_token(token).code == MARKET  # expired: read from the store again
    clock.then = [60.0]
    authenticator._clerks = TTLCache(maxsize=16, ttl=30, timer=clock)  # type: ignore[misc]
    assert authenticator.by_console_token(token).member.code == MARKET  # the department's token: no clerk, cached
    clock.then = [89.5, 90.5]
    assert authenticator.by_console_token(token).member.code == MARKET


def test_made_up_credentials_do_not_push_the_members_out_of_the_cache(running: RunningGateway) -> None:
    """Made-up tokens sent to the console's sign-in were cached, each as no one's, in the cache the members'
    credentials live in: some 4,100 of them (here, 40 past a cache of 16) pushed every member's token and client
    certificate out, and each member's next call read the store again (a reviewer). They are kept apart, and a
    made-up token sent again is answered without the store, as before."""
    authenticator = Authenticator(running.gateway.db, running.gateway.clock, dev_tokens=True)
    authenticator._cache = TTLCache(maxsize=16, ttl=30)  # type: ignore[misc]
    authenticator._clerks = TTLCache(maxsize=16, ttl=30)  # type: ignore[misc]
    token = running.tokens[MARKET]
    assert authenticator.by_console_token(token).member.code == MARKET
    made_up = [f"zzgw-dev-made-up-{n:04d}" for n in range(40)]
    for stranger in made_up:
        with pytest.raises(UnauthenticatedError) as refused:
            authenticator.by_console_token(stranger)
        assert refused.value.reason == "UNKNOWN_CREDENTIAL"
    reads: list[object] = []
    real = authenticator._db.unit_of_work

    def counted() -> object:
        reads.append(None)
        return real()

    authenticator._db = types.SimpleNamespace(unit_of_work=counted)  # type: ignore[assignment]
    assert authenticator.by_console_token(token).member.code == MARKET
    assert authenticator.by_token(token).code == MARKET
    with pytest.raises(UnauthenticatedError):
        authenticator.by_console_token(made_up[-1])
    assert reads == []  # the member's token, and the last made-up one, from the cache
