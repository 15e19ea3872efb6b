"""The HTTP side over a real socket: health, the TSA route's limits and content types, the CRL routes, a
gateway's trust material checked with OpenSSL as an outsider would, and when the console reads a request's body."""

from __future__ import annotations

import http.client as http_client
import json
import logging
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from adapters.http import CRL_PATH, MAX_TSA_REQUEST_BYTES, SM2_CRL_PATH, HttpApp, HttpServer
from gateway.server import http_app
from protos.zzgw.v1 import seal_pb2
from signing import seal_ca
from signing.pki import CertificateAuthority
from signing.seal_ca import Revocation
from tests.api.test_seals import register, seals
from tests.conftest import MARKET, PORTAL, TAX, RunningGateway


@pytest.fixture
def server() -> Iterator[str]:
    app = HttpApp(
        timestamp=lambda query: b"reply-to:" + query,
        crl=lambda: b"\x30\x03crl",
        sm2_crl=lambda: b"\x30\x03sm2",
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


def test_crls_are_served_as_der(server: str) -> None:
    assert fetch(f"{server}{CRL_PATH}") == (200, "application/pkix-crl", b"\x30\x03crl")
    assert fetch(f"{server}{SM2_CRL_PATH}") == (200, "application/pkix-crl", b"\x30\x03sm2")
    assert fetch(f"{server}/crl/other.crl")[0] == 404


def test_a_defect_making_a_crl_or_a_timestamp_is_a_counted_500_said_in_one_line_per_route(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure that is not the store's, making what a request asks for, is answered ``500`` with an id the log's
    line names, counted by its route, and said at most once per route per 5 s: it had raised out of the app, uvicorn
    answering a bare 500 no metric counted and writing a traceback in its own format for each request (R2)."""
    from adapters import http as http_module
    from gateway.logs import OncePer

    def broken() -> bytes:
        raise RuntimeError("a defect")

    monkeypatch.setattr(http_module, "_STORE_LINES", OncePer(60.0))
    caplog.set_level(logging.INFO)
    http = HttpServer(HttpApp(timestamp=lambda query: broken(), crl=broken), "127.0.0.1:0")
    http.start()
    try:
        base = f"http://127.0.0.1:{http.port}"
        before = fetch(f"{base}/metrics")[2].decode()
        answers = [fetch(f"{base}{CRL_PATH}") for _ in range(3)] + [fetch(f"{base}/tsa", b"q", "x")]
        after = fetch(f"{base}/metrics")[2].decode()
    finally:
        http.stop()
    ids = [re.fullmatch(rb".*request ([0-9a-f]{16}).*\n", body, re.S) for _, _, body in answers]
    assert [status for status, _, _ in answers] == [500] * 4 and all(ids), answers

    def count(exposed: str, route: str) -> float:
        line = rf'^zzgw_http_requests_total\{{route="{re.escape(route)}",status="500"\}} (\S+)$'
        found = re.search(line, exposed, re.M)
        return float(found[1]) if found else 0.0

    assert (count(after, CRL_PATH) - count(before, CRL_PATH), count(after, "/tsa") - count(before, "/tsa")) == (3, 1)
    said = [r for r in caplog.records if r.name == "zzgw.error"]
    assert [r.getMessage() for r in said] == [
        f"HTTP GET {CRL_PATH} failed (request {ids[0][1].decode()})",  # type: ignore[index]
        f"HTTP POST /tsa failed (request {ids[3][1].decode()})",  # type: ignore[index]
    ]
    assert all(r.exc_info and r.exc_info[0] is RuntimeError for r in said)
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")]


def test_a_request_made_before_the_server_has_started_is_answered_once_it_has() -> None:
    """The port listens from the moment the server is made: ``zzgw serve`` starts gRPC before uvicorn is up, and a
    probe of ``/readyz`` in between had been refused (a CI run's health test)."""
    http = HttpServer(HttpApp(timestamp=None, crl=lambda: b"\x30\x03crl"), "127.0.0.1:0")
    try:
        early = socket.create_connection(("127.0.0.1", http.port), timeout=10)
        with early:
            early.sendall(b"GET /healthz HTTP/1.1\r\nHost: zzgw\r\nConnection: close\r\n\r\n")
            http.start()
            answer = b""
            while chunk := early.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nok\n")
    finally:
        http.stop()


def test_a_server_that_cannot_start_stops_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn ending in its thread without starting had left the port listening, its connections waiting for ever
    (a reviewer): start() says so, and the port refuses."""
    import uvicorn

    async def fails(_server: object, sockets: object = None) -> None:  # as uvicorn does when its startup fails: it logs
        return None

    monkeypatch.setattr(uvicorn.Server, "serve", fails)
    http = HttpServer(HttpApp(timestamp=None, crl=lambda: b"\x30\x03crl"), "127.0.0.1:0")
    with pytest.raises(OSError, match=f"the HTTP server on port {http.port} did not start"):
        http.start()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", http.port), timeout=5)
    http.stop()


def test_serve_says_in_one_line_that_its_http_side_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """start()'s error had escaped `zzgw serve` as a traceback, exit 1, which the service unit restarts for ever (a
    reviewer): it is a ConfigError (one line, exit 2), and the gRPC side it had started is stopped."""
    from benchmarks.common import free_port
    from gateway.config import ConfigError, Settings
    from gateway.server import initialise, serve_forever
    from tests.conftest import PASSPHRASE

    grpc_addr = f"127.0.0.1:{free_port()}"
    settings = Settings(  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'zzgw.db'}",
        key_passphrase=PASSPHRASE,
        grpc_addr=grpc_addr,
        http_addr=f"127.0.0.1:{free_port()}",
    )
    initialise(settings)

    def cannot(self: HttpServer) -> None:
        raise OSError(f"the HTTP server on port {self.port} did not start (see the log above)")

    monkeypatch.setattr(HttpServer, "start", cannot)
    with pytest.raises(ConfigError, match=r"^cannot serve HTTP on 127\.0\.0\.1:\d+: the HTTP server on port"):
        serve_forever(settings)
    host, _, port = grpc_addr.rpartition(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=5)


def test_without_sm2_seals_there_is_no_sm2_crl() -> None:
    http = HttpServer(HttpApp(timestamp=None, crl=lambda: b"\x30\x03crl"), "127.0.0.1:0")
    http.start()
    try:
        assert fetch(f"http://127.0.0.1:{http.port}{SM2_CRL_PATH}")[0] == 404
    finally:
        http.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_a_timestamp_without_its_certificate_verifies_with_the_published_trust_material(
    gateway_http: str, tmp_path: Path
) -> None:
    """An RFC 3161 client that does not ask for the certificate (certReq false, ``openssl ts -query``'s default)
    gets a token without it: the TSA's certificate is published beside the root and the intermediate."""

    def openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["openssl", "ts", *args], capture_output=True, timeout=30, cwd=tmp_path)

    (tmp_path / "document").write_bytes("一份要加时间戳的文件".encode())
    assert openssl("-query", "-data", "document", "-sha256", "-out", "query.tsq").returncode == 0
    status, content_type, reply = fetch(
        f"{gateway_http}/tsa", (tmp_path / "query.tsq").read_bytes(), "application/timestamp-query"
    )
    assert (status, content_type) == (200, "application/timestamp-reply")
    (tmp_path / "reply.tsr").write_bytes(reply)
    for name in ("seal-maker-root.pem", "seal-maker-intermediate.pem", "tsa.pem"):
        status, content_type, pem = fetch(f"{gateway_http}/certificates/{name}")
        assert (status, content_type) == (200, "application/x-pem-file"), name
        (tmp_path / name).write_bytes(pem)
    tsa = x509.load_pem_x509_certificate((tmp_path / "tsa.pem").read_bytes())
    assert tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.TIME_STAMPING]
    )
    (tmp_path / "chain.pem").write_bytes(
        (tmp_path / "seal-maker-intermediate.pem").read_bytes() + (tmp_path / "tsa.pem").read_bytes()
    )
    verify = ("-verify", "-data", "document", "-in", "reply.tsr", "-CAfile", "seal-maker-root.pem", "-untrusted")
    verified = openssl(*verify, "chain.pem")
    assert verified.returncode == 0 and b"Verification: OK" in verified.stdout, verified.stderr
    without = openssl(*verify, "seal-maker-intermediate.pem")  # the token carries no certificate of its own
    assert without.returncode != 0 and b"signer certificate not found" in without.stderr


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


def test_over_https_every_answer_asks_the_browser_to_keep_to_https(
    tmp_path: Path, running: RunningGateway, gateway_http: str
) -> None:
    """Strict-Transport-Security on the console's page, its calls (a refusal too) and the other routes, over HTTPS
    only: a clerk's http:// bookmark could be served by someone on the network, who would collect the token typed at
    sign-in (a penetration tester). Not over plain HTTP, where a browser ignores it."""
    authority = CertificateAuthority.create("测试网站CA")
    authority.issue_server(["127.0.0.1"]).write(tmp_path, "web")
    tls = (str(tmp_path / "web.pem"), str(tmp_path / "web.key"))
    http = HttpServer(http_app(running.gateway), "127.0.0.1:0", tls=tls)
    http.start()
    trusting = ssl.create_default_context(cadata=authority.cert_pem.decode())
    paths = [("GET", "/console/", None), ("POST", "/console/api/verify", b"{}"), ("GET", "/healthz", None)]
    paths += [("GET", "/readyz", None), ("GET", "/nothing-here", None)]
    try:
        for method, path, body in paths:
            secure = ask(f"https://127.0.0.1:{http.port}", method, path, body, context=trusting)
            plain = ask(gateway_http, method, path, body)
            assert secure[0] == plain[0] and secure[0] in (200, 401, 404), (path, secure[0])
            assert secure[1].get_all("Strict-Transport-Security") == ["max-age=31536000"], path
            assert plain[1]["Strict-Transport-Security"] is None, path
    finally:
        http.stop()


def test_a_key_that_is_not_the_certificates_fails_at_start(tmp_path: Path) -> None:
    authority = CertificateAuthority.create("测试网站CA")
    authority.issue_server(["127.0.0.1"]).write(tmp_path, "web")
    authority.issue_server(["127.0.0.1"]).write(tmp_path, "other")
    mismatched = (str(tmp_path / "web.pem"), str(tmp_path / "other.key"))
    with pytest.raises(ssl.SSLError):
        HttpServer(HttpApp(timestamp=None, crl=None), "127.0.0.1:0", tls=mismatched)


def post_head(path: str, length: int, token: str | None = None) -> bytes:
    """The start of a console call: its request line and headers, stating a body of ``length`` bytes."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", f"Content-Length: {length}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(sock: socket.socket, sent: bytes) -> tuple[int, Message, bytes]:
    """Send ``sent`` (a request, or only its start) on ``sock`` and read one answer: its status, headers and body."""
    sock.sendall(sent)
    response = http_client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, response.read()


def test_a_console_call_is_refused_on_its_credentials_before_its_body_is_read(
    gateway_http: str, running: RunningGateway
) -> None:
    """ADR 0007: the credentials are checked before the request is read. A call that states 10 MB of body, of which
    only the first 64 KB come, is answered at once without waiting for the rest: a stranger (no token, or an unknown
    one) and a member without the call's role are refused unread. The connection is closed after the answer, so the
    rest is never read, nor taken for a request of its own (one written into the body is not answered)."""
    address = gateway_http.removeprefix("http://").rsplit(":", 1)
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    started = smuggled + b"[" * 65_536
    for token, refused in (
        (None, (401, "NO_CREDENTIAL")),
        ("not-a-token", (401, "UNKNOWN_CREDENTIAL")),
        (running.tokens[PORTAL], (403, "ROLE_NOT_ALLOWED")),  # a holder portal may not verify
    ):
        for path in ("/console/api/verify", "/console/api/check-claim", "/console/api/case-receipts"):
            with socket.create_connection((address[0], int(address[1])), timeout=10) as sock:
                status, headers, body = exchange(sock, post_head(path, 10_000_000, token) + started)
                assert (status, json.loads(body)["error"]["reason"]) == refused, (path, token)
                assert headers["Connection"] == "close"
                assert sock.recv(1024) == b""  # closed: nothing more is read, nor answered


def test_a_console_request_stated_larger_than_any_is_refused_unread(gateway_http: str, running: RunningGateway) -> None:
    """A signed-in clerk's request whose Content-Length is past what the console takes is refused at once (413),
    without reading what it states, and the connection closed; a request read whole keeps the connection."""
    address = gateway_http.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((address[0], int(address[1])), timeout=10) as sock:
        status, headers, body = exchange(sock, post_head("/console/api/verify", 10**9, running.tokens[TAX]))
        assert (status, json.loads(body)["error"]["reason"]) == (413, "REQUEST_TOO_LARGE")
        assert headers["Connection"] == "close" and sock.recv(1024) == b""
    with socket.create_connection((address[0], int(address[1])), timeout=10) as sock:
        request = b'{"query": "x"}'
        status, headers, body = exchange(
            sock, post_head("/console/api/verify", len(request), running.tokens[TAX]) + request
        )
        assert (status, json.loads(body)["error"]["violations"][0]["field"]) == (400, "use")
        assert headers["Connection"] is None  # read whole: the connection serves the next request
        assert exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")[::2] == (200, b"ok\n")


def ask(
    base: str, method: str, path: str, body: bytes | None = None, *, context: ssl.SSLContext | None = None
) -> tuple[int, Message, bytes]:
    """One request of any method over a connection of its own (HTTPS with ``context``): the status, headers and body
    of its answer."""
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    connection = (
        http_client.HTTPSConnection(host, int(port), timeout=10, context=context)
        if context is not None
        else http_client.HTTPConnection(host, int(port), timeout=10)
    )
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_head_is_answered_wherever_get_is(server: str, gateway_http: str) -> None:
    """HEAD gives GET's status and headers, its Content-Length too, and no body: a load balancer's or a CRL fetcher's
    probe had been told 404 (partner tester, finding 5)."""
    for base, path in (
        (server, "/healthz"),
        (server, "/metrics"),
        (server, CRL_PATH),
        (server, SM2_CRL_PATH),
        (server, "/certificates/receipts.pem"),
        (gateway_http, "/readyz"),
        (gateway_http, "/certificates/receipts.pem"),
        (gateway_http, "/console/console.js"),
    ):
        got, got_headers, body = ask(base, "GET", path)
        status, headers, empty = ask(base, "HEAD", path)
        assert (status, empty) == (got, b"") and got == 200, path
        assert headers["Content-Type"] == got_headers["Content-Type"], path
        if path != "/metrics":  # a scrape's counters move between the two
            assert headers["Content-Length"] == str(len(body)), path
    assert ask(server, "HEAD", "/nothing-here")[0] == 404


def pipelined(base: str, sent: bytes) -> bytes:
    """``sent`` (requests one after another) written at once on one connection, and every byte the server writes
    back until it closes the connection, its Date headers taken out (they change each second)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(sent)
        while chunk := sock.recv(65_536):
            answer += chunk
    return re.sub(rb"date: [^\r]*\r\n", b"", answer)


def test_head_sends_no_body_and_the_next_request_on_the_connection_is_answered(server: str, gateway_http: str) -> None:
    """On the wire: HEAD then GET sent at once on one connection get GET's headers twice and one body, the GET's
    (http.client never reads a body after HEAD, so a test through it could not see one sent). A body on HEAD would be
    read as the start of the next answer."""
    for base, path, body in (
        (server, "/healthz", b"ok\n"),
        (server, CRL_PATH, b"\x30\x03crl"),
        (server, "/certificates/receipts.pem", b"-----BEGIN CERTIFICATE-----\n"),
    ):
        kind = {"/healthz": "text/plain; charset=utf-8", CRL_PATH: "application/pkix-crl"}.get(
            path, "application/x-pem-file"
        )
        cache = "" if path == "/healthz" else "cache-control: no-cache\r\n"  # a CRL's or a certificate's
        head = f"server: uvicorn\r\ncontent-type: {kind}\r\n{cache}content-length: {len(body)}\r\n".encode()
        asked = f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert pipelined(base, asked.encode()) == (
            b"HTTP/1.1 200 OK\r\n"
            + head
            + b"\r\n"
            + b"HTTP/1.1 200 OK\r\n"
            + head
            + b"Connection: close\r\n\r\n"
            + body
        ), path
    # the console's page, its headers many: HEAD's are GET's, and only the GET's body follows
    asked = b"HEAD /console/console.js HTTP/1.1\r\nHost: x\r\n\r\nGET /console/console.js HTTP/1.1\r\nHost: x\r\n"
    answer = pipelined(gateway_http, asked + b"Connection: close\r\n\r\n")
    first, rest = answer.split(b"\r\n\r\n", 1)
    second, script = rest.split(b"\r\n\r\n", 1)
    assert second == first + b"\r\nConnection: close" and first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"content-length: {len(script)}\r\n".encode() in first + b"\r\n" and script.startswith(b"// The clerk")


def test_a_405_with_a_body_closes_the_connection_so_its_body_is_never_taken_for_a_request(
    server: str, gateway_http: str
) -> None:
    """A refused request's body is not read: the 405 says Connection: close and the server closes it, so a request
    written inside the body (and one after it) is never answered."""
    smuggled = b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"
    after = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    for base, method, path, allow, kind in (
        (server, "POST", "/healthz", "GET, HEAD", "text/plain; charset=utf-8"),
        (gateway_http, "PUT", "/console/api/verify", "POST", "application/json; charset=utf-8"),
    ):
        for framing, body in (
            (f"Content-Length: {len(smuggled)}", smuggled),
            ("Transfer-Encoding: chunked", f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"),
        ):
            answer = pipelined(
                base, f"{method} {path} HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n".encode() + body + after
            )
            assert answer.count(b"HTTP/1.1 ") == 1, answer
            headers, said = answer.split(b"\r\n\r\n", 1)
            assert headers.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"), answer
            lines = headers.split(b"\r\n")[1:]
            for line in (
                f"content-type: {kind}",
                f"allow: {allow}",
                "connection: close",
                f"content-length: {len(said)}",
            ):
                assert line.encode() in lines, (line, answer)
            assert "只接受" in said.decode(), answer


def test_an_answer_given_before_a_stated_body_is_read_closes_the_connection(server: str) -> None:
    """A timestamp query stated larger than the TSA takes had been answered 413 and its connection kept reading the
    stated body (a gigabyte, for up to the request's time); a GET or an unknown path stating a body too (an HTTP
    reviewer). The answer says Connection: close and the server closes: nothing after it is read or answered."""
    after = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    for asked, status in (
        (b"POST /tsa HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n" + b"\x00" * 8192 + after, 413),
        (b"POST /tsa HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n" + b"\x00" * 9000, 413),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n" + after * 2, 200),
        (b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n" + after * 2, 404),
    ):
        answer = pipelined(server, asked)
        assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
        assert b"\r\nconnection: close\r\n" in answer.split(b"\r\n\r\n", 1)[0].lower() + b"\r\n", answer
    # a body read whole leaves the connection open for the next request
    query = b"POST /tsa HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nquery"
    answer = pipelined(server, query + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK") == 2 and b"reply-to:query" in answer, answer


def test_a_method_a_path_is_not_served_for_is_405_with_allow(server: str, gateway_http: str) -> None:
    """A known path asked with another method is 405 naming the ones it takes (``Allow``), not 404: plain text on
    the gateway's own routes, the console's JSON error form under its API (METHOD_NOT_ALLOWED, Chinese first); a
    path nothing serves stays 404 (partner tester, finding 5)."""
    for base, method, path, allow in (
        (server, "PUT", "/healthz", "GET, HEAD"),
        (server, "POST", CRL_PATH, "GET, HEAD"),
        (server, "DELETE", "/certificates/receipts.pem", "GET, HEAD"),
        (server, "GET", "/tsa", "POST"),
        (gateway_http, "POST", "/readyz", "GET, HEAD"),
        (gateway_http, "POST", "/console/console.js", "GET, HEAD"),
    ):
        status, headers, body = ask(base, method, path, b"x" if method in ("PUT", "POST") else None)
        assert (status, headers["Allow"], headers["Content-Type"]) == (405, allow, "text/plain; charset=utf-8"), path
        # the same words as the console's JSON form below (the text is built once)
        assert body.decode() == f"{path} 只接受 {allow} 请求（{path} takes {allow} only）\n", body
    for method, path, allow in (
        *((m, "/console/api/verify", "POST") for m in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS")),
        ("GET", "/console/api/check-claim", "POST"),
        ("POST", "/console/api/session", "GET, HEAD"),
        ("PUT", "/console/api/session", "GET, HEAD"),
    ):
        status, headers, body = ask(gateway_http, method, path, b"{}" if method != "GET" else None)
        assert (status, headers["Allow"]) == (405, allow), (method, path)
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        error = json.loads(body)["error"]
        assert (error["status"], error["reason"], error["violations"]) == (405, "METHOD_NOT_ALLOWED", [])
        assert error["message"] == f"{path} 只接受 {allow} 请求（{path} takes {allow} only）"
    status, headers, body = ask(gateway_http, "HEAD", "/console/api/verify")
    assert (status, headers["Allow"], body) == (405, "POST", b"")
    for base, method, path in ((server, "DELETE", "/nothing"), (gateway_http, "PUT", "/console/api/nothing")):
        assert ask(base, method, path)[0] == 404


def test_a_crl_request_reads_revocations_json_at_most_once_and_leaves_sealing_free(
    gateway_http: str, running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each GET and HEAD of the CRL had called the CA's ``revoke`` for every seal the store holds revoked, each reading
    the whole revocations.json under the seal-maker directory's flock and the seal service's lock: quadratic in the
    revocations, and sealing (``_sealer``) waited behind a stranger's fetch (a reviewer's R1). The file is read once,
    for revocations the CA does not hold yet (here: made in the store by another replica), and not at all after."""
    service = running.gateway.seals
    assert service is not None
    through_here = [register(running, MARKET) for _ in range(3)]
    for seal in through_here:
        seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="测试"))
    elsewhere = [register(running, MARKET) for _ in range(3)]
    with running.gateway.db.unit_of_work(write=True) as uow:
        for seal in elsewhere:
            uow.seals.revoke(seal.seal_id, at=running.gateway.clock.now(), reason="另一副本", crl_reason="superseded")
        uow.commit()
    reads: list[Path] = []
    real = seal_ca._read_state
    monkeypatch.setattr(seal_ca, "_read_state", lambda path: (reads.append(path), real(path))[1])
    locked_while_taking: list[bool] = []
    take = service.ca.take

    def watched(revocations: Iterable[Revocation]) -> None:
        locked_while_taking.append(service._lock.locked())
        take(revocations)

    monkeypatch.setattr(service.ca, "take", watched)
    status, _, der = ask(gateway_http, "GET", CRL_PATH)
    listed = {entry.serial_number for entry in x509.load_der_x509_crl(der)}
    assert (
        status == 200
        and {x509.load_der_x509_certificate(s.certificate_der).serial_number for s in through_here + elsewhere}
        <= listed
    )
    assert len(reads) == 1
    reads.clear()
    assert ask(gateway_http, "HEAD", CRL_PATH)[0] == 200
    assert ask(gateway_http, "GET", CRL_PATH)[0] == 200
    assert reads == []
    assert locked_while_taking == [False, False, False]


def test_crls_and_trust_material_ask_a_cache_to_check_before_reusing_them(server: str, gateway_http: str) -> None:
    """A CRL or a certificate had no caching header: a cache in front of the HTTP side could give it a heuristic
    freshness and serve a CRL from before a RevokeSeal, or receipt-certificates.pem from before a renewal (a
    reviewer's R3). Each is ``no-cache``; a CRL says when it was made (its thisUpdate), to GET and HEAD alike."""
    for method in ("GET", "HEAD"):
        status, headers, body = ask(gateway_http, method, CRL_PATH)
        assert (status, headers["Cache-Control"]) == (200, "no-cache"), method
        if method == "GET":
            made = x509.load_der_x509_crl(body).last_update_utc
            assert parsedate_to_datetime(headers["Last-Modified"]) == made
        else:  # the CRL a GET would have had: made anew, so no earlier
            assert parsedate_to_datetime(headers["Last-Modified"]) >= made
        for name in ("receipt-certificates.pem", "seal-maker-root.pem"):
            status, headers, _ = ask(gateway_http, method, f"/certificates/{name}")
            assert (status, headers["Cache-Control"]) == (200, "no-cache"), (method, name)
    status, headers, _ = ask(server, "GET", CRL_PATH)  # not a CRL: it says no time
    assert (status, headers["Cache-Control"], headers["Last-Modified"]) == (200, "no-cache", None)


def test_a_stop_that_cuts_requests_whose_work_still_runs_writes_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Each request still waiting on its work (a CRL on a store that does not answer: anyone's) when a stop's grace
    ended had uvicorn write ``Exception in ASGI application`` and a traceback of the task's cancel, one per request (a
    reviewer, opshttp R4). The connections are cut by then: the cancel is said once, at INFO, without a traceback."""
    release = threading.Event()

    def crl() -> bytes:
        release.wait(20)
        return b""

    http = HttpServer(HttpApp(timestamp=None, crl=crl), "127.0.0.1:0")
    http.start()
    held = []
    try:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", http.port), timeout=10)
            sock.sendall(b"GET /crl/seal-maker.crl HTTP/1.1\r\nHost: x\r\n\r\n")
            held.append(sock)
        time.sleep(0.5)  # their work has its threads
        with caplog.at_level(logging.INFO):
            http.stop(grace=1.0)
    finally:
        release.set()
        for sock in held:
            sock.close()
    said = [record.getMessage() for record in caplog.records]
    assert not any("Exception in ASGI application" in line for line in said), said
    assert not any(record.exc_info for record in caplog.records), said
    assert sum("work still running at the stop" in line for line in said) == 1, said
