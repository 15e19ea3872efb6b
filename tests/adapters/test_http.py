"""The HTTP side over a real socket: health, the TSA route's limits and content types, the CRL route."""

from __future__ import annotations

import http.client as http_client
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.http import CRL_PATH, MAX_TSA_REQUEST_BYTES, HttpApp, HttpServer
from signing.pki import CertificateAuthority


@pytest.fixture
def server() -> Iterator[str]:
    app = HttpApp(
        timestamp=lambda query: b"reply-to:" + query,
        crl=lambda: b"\x30\x03crl",
        certificates={"receipts.pem": b"-----BEGIN CERTIFICATE-----\n"},
    )
    http = HttpServer(app, "127.0.0.1:0")
    http.start()
    try:
        yield f"http://127.0.0.1:{http.port}"
    finally:
        http.stop()


def fetch(url: str, data: bytes | None = None, content_type: str = "") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if content_type else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_health(server: str) -> None:
    assert fetch(f"{server}/healthz") == (200, "text/plain; charset=utf-8", b"ok\n")


def test_tsa_answers_a_query_with_a_timestamp_reply(server: str) -> None:
    status, content_type, body = fetch(f"{server}/tsa", b"\x30\x00query", "application/timestamp-query")
    assert (status, content_type, body) == (200, "application/timestamp-reply", b"reply-to:\x30\x00query")


def test_tsa_refuses_oversize_queries_and_gets(server: str) -> None:
    assert fetch(f"{server}/tsa", b"x" * (MAX_TSA_REQUEST_BYTES + 1), "application/timestamp-query")[0] == 413
    assert fetch(f"{server}/tsa")[0] == 405


def test_crl_is_served_as_der(server: str) -> None:
    assert fetch(f"{server}{CRL_PATH}") == (200, "application/pkix-crl", b"\x30\x03crl")


def test_certificates_are_served_by_name_only(server: str) -> None:
    assert fetch(f"{server}/certificates/receipts.pem") == (
        200,
        "application/x-pem-file",
        b"-----BEGIN CERTIFICATE-----\n",
    )
    assert fetch(f"{server}/certificates/../keys/receipts.key.pem")[0] == 404
    assert fetch(f"{server}/certificates/")[0] == 404


def test_unknown_paths_are_404(server: str) -> None:
    assert fetch(f"{server}/console")[0] == 404


def test_with_a_certificate_the_side_speaks_https_only(tmp_path: Path) -> None:
    authority = CertificateAuthority.create("测试网站CA")
    authority.issue_server(["127.0.0.1", "localhost"]).write(tmp_path, "web")
    tls = (str(tmp_path / "web.pem"), str(tmp_path / "web.key"))
    http = HttpServer(HttpApp(timestamp=None, crl=lambda: b"\x30\x03crl"), "127.0.0.1:0", tls=tls)
    http.start()
    try:
        trusting = ssl.create_default_context(cadata=authority.cert_pem.decode())
        with urllib.request.urlopen(f"https://127.0.0.1:{http.port}/healthz", context=trusting, timeout=10) as answer:
            assert answer.read() == b"ok\n"
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # a stranger's certificate
            urllib.request.urlopen(f"https://127.0.0.1:{http.port}/healthz", timeout=10)
        with pytest.raises((urllib.error.URLError, http_client.HTTPException, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{http.port}/healthz", timeout=10)  # plain HTTP: no answer
    finally:
        http.stop()


def test_a_key_that_is_not_the_certificates_fails_at_start(tmp_path: Path) -> None:
    authority = CertificateAuthority.create("测试网站CA")
    authority.issue_server(["127.0.0.1"]).write(tmp_path, "web")
    authority.issue_server(["127.0.0.1"]).write(tmp_path, "other")
    mismatched = (str(tmp_path / "web.pem"), str(tmp_path / "other.key"))
    with pytest.raises(ssl.SSLError):
        HttpServer(HttpApp(timestamp=None, crl=None), "127.0.0.1:0", tls=mismatched)
