from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import RunningGateway, http_side


@pytest.fixture(scope="module")
def gateway_http(running: RunningGateway) -> Iterator[str]:
    """A running gateway's HTTP side, over a real socket: its base URL."""
    with http_side(running) as base:
        yield base


@pytest.fixture(scope="module")
def console(gateway_http: str) -> str:
    """The clerk's console of a running gateway, on its HTTP side: its base URL."""
    return f"{gateway_http}/console"
