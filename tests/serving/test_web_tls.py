"""HTTPS and client-certificate checks of the web server, with certificates generated for the test."""

from __future__ import annotations

import http.client
import socket
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from prometheus_client import CollectorRegistry, Gauge, make_wsgi_app

from anaplan_exporter.serving.web import WebServer, WebServerError, make_app
from support.certs import Issued, issue

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def _app() -> WSGIApplication:
    registry = CollectorRegistry()
    Gauge("demo_value", "A value for tests.", registry=registry).set(1)
    return make_app(make_wsgi_app(registry), is_ready=lambda: True, landing_page=lambda query: "hi")


@pytest.fixture
def servers() -> Iterator[list[WebServer]]:
    started: list[WebServer] = []
    yield started
    for server in started:
        server.stop()


def _serve(servers: list[WebServer], cert: Path, key: Path, client_ca: Path | None = None) -> WebServer:
    server = WebServer(
        _app(),
        "127.0.0.1:0",
        tls_cert_file=str(cert),
        tls_key_file=str(key),
        tls_client_ca_file=str(client_ca) if client_ca else None,
    )
    server.start()
    servers.append(server)
    return server


def _get(server: WebServer, context: ssl.SSLContext, path: str = "/-/healthy") -> tuple[int, bytes]:
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _client_context(trust: Issued, client: Issued | None = None, tmp: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=trust.cert_pem.decode())
    if client is not None:
        assert tmp is not None
        cert, key = client.write(tmp, "client")
        context.load_cert_chain(cert, key)
    return context


def test_https_with_self_signed_certificate(
    servers: list[WebServer], self_signed: Issued, tmp_path: Path
) -> None:
    cert, key = self_signed.write(tmp_path, "server")
    server = _serve(servers, cert, key)
    assert server.tls
    assert _get(server, _client_context(self_signed)) == (200, b"OK\n")
    status, body = _get(server, _client_context(self_signed), "/metrics")
    assert status == 200
    assert b"demo_value 1.0" in body


def test_tls_refuses_old_protocols_and_plain_http(
    servers: list[WebServer], self_signed: Issued, tmp_path: Path
) -> None:
    cert, key = self_signed.write(tmp_path, "server")
    server = _serve(servers, cert, key)
    tls12 = _client_context(self_signed)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert _get(server, tls12)[0] == 200
    old = _client_context(self_signed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _get(server, old)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /-/healthy HTTP/1.0\r\n\r\n")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:  # closed with the request unread: also not an HTTP answer
            answer = b""
        assert not answer.startswith(b"HTTP/")
    assert _get(server, _client_context(self_signed))[0] == 200


def test_tls_handshake_is_not_blocked_by_a_silent_client(
    servers: list[WebServer], self_signed: Issued, tmp_path: Path
) -> None:
    cert, key = self_signed.write(tmp_path, "server")
    server = _serve(servers, cert, key)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        # This connection never starts its handshake; others must still be served meanwhile.
        assert _get(server, _client_context(self_signed))[0] == 200


def test_mutual_tls(
    servers: list[WebServer], ca: Issued, server_cert: Issued, client_cert: Issued, tmp_path: Path
) -> None:
    cert, key = server_cert.write(tmp_path, "server")
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca.cert_pem)
    server = _serve(servers, cert, key, ca_file)
    assert _get(server, _client_context(ca, client_cert, tmp_path)) == (200, b"OK\n")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _get(server, _client_context(ca))
    stranger = issue("someone else")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _get(server, _client_context(ca, stranger, tmp_path))


def test_unloadable_certificate_is_a_clear_error(tmp_path: Path, self_signed: Issued) -> None:
    cert, key = self_signed.write(tmp_path, "server")
    broken = tmp_path / "broken.key"
    broken.write_text("not a key\n")
    server = WebServer(_app(), "127.0.0.1:0", tls_cert_file=str(cert), tls_key_file=str(broken))
    with pytest.raises(WebServerError, match="cannot load TLS certificate"):
        server.start()
    missing = WebServer(
        _app(), "127.0.0.1:0", tls_cert_file=str(tmp_path / "nope.crt"), tls_key_file=str(key)
    )
    with pytest.raises(WebServerError, match=r"nope\.crt"):
        missing.start()


def test_tls_arguments_must_come_together() -> None:
    with pytest.raises(ValueError, match="both"):
        WebServer(_app(), ":0", tls_cert_file="a.crt")
    with pytest.raises(ValueError, match="need TLS"):
        WebServer(_app(), ":0", tls_client_ca_file="ca.crt")
