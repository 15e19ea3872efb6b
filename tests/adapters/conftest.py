from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.http import HttpServer
from gateway.server import http_app
from tests.conftest import RunningGateway

CHROMIUM = os.environ.get("ZZGW_CHROMIUM", "/usr/bin/chromium")
"""Debian's chromium, headless, driven by Playwright (never a downloaded browser)."""


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One chromium for the test process, started at the first test that needs it: each test opens a context of its
    own in it (its own cookies, storage and tabs, as a fresh browser profile would have) and closes it. Starting
    Playwright's driver and chromium costs ~1 s of CPU, once per console module when this was module-scoped."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


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
