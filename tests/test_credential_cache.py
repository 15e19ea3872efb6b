"""The gateway's credential cache answers from one look at the clock (a soak tester's INTERNAL)."""

from __future__ import annotations

from cachetools import TTLCache

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
