from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.http import HttpServer
from gateway.server import http_app
from tests.conftest import RunningGateway


@pytest.fixture(scope="module")
def gateway_http(running: RunningGateway) -> Iterator[str]:
    """A running gateway's HTTP side, over a real socket: its base URL."""
    http = HttpServer(http_app(running.gateway), "127.0.0.1:0")
    http.start()
    try:
        yield f"http://127.0.0.1:{http.port}"
    finally:
        http.stop()


@pytest.fixture(scope="module")
def console(gateway_http: str) -> str:
    """The clerk's console of a running gateway, on its HTTP side: its base URL."""
    return f"{gateway_http}/console"
