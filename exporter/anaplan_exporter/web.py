"""The HTTP side: routes (``/``, metrics, ``/-/healthy``, ``/-/ready``), basic auth, a threaded TLS server.

Basic auth and TLS follow the Prometheus exporter-toolkit web config (bcrypt hashes, TLS 1.2 or later,
client certificates verified against ``client_ca_file``). Health and readiness never touch Anaplan.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import logging
import os
import socket
import socketserver
import ssl
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import bcrypt

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

DEFAULT_PORT = 10118
HEALTHY_PATH = "/-/healthy"
READY_PATH = "/-/ready"
_REALM = 'Basic realm="anaplan-exporter", charset="UTF-8"'
_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_CACHE_LIMIT = 256
_HANDSHAKE_TIMEOUT = 10.0
_CONNECTION_TIMEOUT = 30.0


def parse_listen_address(value: str) -> tuple[str, int]:
    """``":10118"`` -> ``("0.0.0.0", 10118)``; also ``"127.0.0.1:0"``, ``"[::1]:10118"``, ``"host:port"``."""
    text = value.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":") or not host:
            raise ValueError(f"expected [ipv6]:port, got {value!r}")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise ValueError(f"expected host:port or :port, got {value!r}")
        if ":" in host:
            raise ValueError(f"IPv6 addresses need brackets, as in [::1]:{port_text}, got {value!r}")
        host = host or "0.0.0.0"
    if any(char.isspace() for char in host):
        raise ValueError(f"invalid host in {value!r}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"expected a port between 0 and 65535, got {value!r}")
    return host, int(port_text)


def simple_landing_page(
    title: str, telemetry_path: str = "/metrics", details: Mapping[str, str] | None = None
) -> str:
    """A minimal HTML landing page: the exporter's name, a link to its metrics and a few facts."""
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"
        for key, value in (details or {}).items()
    )
    table = f"<table>{rows}</table>" if rows else ""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f'<p><a href="{html.escape(telemetry_path)}">Metrics</a> · <a href="{HEALTHY_PATH}">Health</a>'
        f' · <a href="{READY_PATH}">Readiness</a></p>{table}</body></html>'
    )


# --- basic auth ---


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes.

    bcrypt is slow on purpose, so successful checks are remembered, keyed by an HMAC (with a per-process
    random key) of the user and password: the cache never holds a password, and a scrape every 15 s does
    not pay bcrypt's cost each time. Unknown users still pay one bcrypt check, so timing does not tell
    which user names exist.
    """

    def __init__(self, users: Mapping[str, str]) -> None:
        if not users:
            raise ValueError("BasicAuth needs at least one user")
        self._users = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._decoy = next(iter(self._users.values()))
        self._key = os.urandom(32)
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BasicAuth(users={sorted(self._users)!r})"

    def check(self, header: str | None) -> bool:
        """True when ``header`` carries the password of a configured user."""
        credentials = _decode_basic(header)
        if credentials is None:
            return False
        user, password = credentials
        fingerprint = hmac.new(self._key, user + b"\0" + password, hashlib.sha256).digest()
        with self._lock:
            if fingerprint in self._verified:
                return True
        hashed = self._users.get(user.decode("utf-8", "replace"))
        try:
            ok = (
                bcrypt.checkpw(password, hashed if hashed is not None else self._decoy) and hashed is not None
            )
        except ValueError:  # malformed hash, or a password longer than bcrypt's 72 bytes
            ok = False
        if ok:
            with self._lock:
                if len(self._verified) >= _CACHE_LIMIT:
                    self._verified.clear()
                self._verified.add(fingerprint)
        return ok


def _decode_basic(header: str | None) -> tuple[bytes, bytes] | None:
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


# --- routes ---


def make_app(
    metrics_app: WSGIApplication,
    *,
    is_ready: Callable[[], bool],
    landing_page: Callable[[str], str],
    telemetry_path: str = "/metrics",
    basic_auth_users: Mapping[str, str] = MappingProxyType({}),
) -> WSGIApplication:
    """The exporter's WSGI application; ``metrics_app`` is ``prometheus_client.make_wsgi_app(registry)``.

    ``landing_page`` gets the request's raw query string (the status page's filters) and returns HTML.
    """
    auth = BasicAuth(basic_auth_users) if basic_auth_users else None

    def route(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == telemetry_path:
            return metrics_app(environ, start_response)
        if path == "/":
            return _respond(start_response, "200 OK", landing_page(environ.get("QUERY_STRING", "")), _HTML)
        if path == HEALTHY_PATH:
            return _respond(start_response, "200 OK", "OK\n")
        if path == READY_PATH:
            try:
                ready = is_ready()
            except Exception:
                log.exception("readiness check failed")
                ready = False
            if ready:
                return _respond(start_response, "200 OK", "OK\n")
            return _respond(start_response, "503 Service Unavailable", "Not ready\n")
        return _respond(start_response, "404 Not Found", "Not found\n")

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if auth is not None and not auth.check(environ.get("HTTP_AUTHORIZATION")):
            return _respond(
                start_response, "401 Unauthorized", "Unauthorized\n", headers=[("WWW-Authenticate", _REALM)]
            )
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _respond(
                start_response,
                "405 Method Not Allowed",
                "Method not allowed\n",
                headers=[("Allow", "GET, HEAD")],
            )
        if method == "HEAD":  # answered as a GET whose body is dropped (the metrics app knows only GET)
            environ = {**environ, "REQUEST_METHOD": "GET"}
        try:
            body = route(environ, start_response)
        except Exception:
            log.exception("error serving %s", environ.get("PATH_INFO"))
            return _respond(
                start_response, "500 Internal Server Error", "Internal server error\n", exc_info=True
            )
        if method == "HEAD":
            close = getattr(body, "close", None)
            if close is not None:
                close()
            return []
        return body

    return app


def _respond(
    start_response: StartResponse,
    status: str,
    text: str,
    content_type: str = _TEXT,
    *,
    headers: list[tuple[str, str]] | None = None,
    exc_info: bool = False,
) -> list[bytes]:
    body = text.encode("utf-8")
    all_headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])]
    if exc_info:
        start_response(status, all_headers, sys.exc_info())
    else:
        start_response(status, all_headers)
    return [body]


# --- server ---


class WebServerError(RuntimeError):
    """The server could not start: address in use, unreadable certificate or key."""


class _LogStream:
    """wsgiref writes tracebacks of broken requests to a stream; send them to the log instead of stderr."""

    def write(self, text: str) -> int:
        if text.strip():
            log.debug("wsgi: %s", text.rstrip())
        return len(text)

    def flush(self) -> None:
        pass


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr, and a timeout so an idle connection cannot hold a thread for ever."""

    timeout = _CONNECTION_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_stderr(self) -> Any:
        return _LogStream()


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    ssl_context: ssl.SSLContext | None = None

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN (a DNS lookup that can hang); it is not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake here, in the connection's own thread: a slow client cannot stall accept().
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(_HANDSHAKE_TIMEOUT)
            try:
                request.do_handshake()
            except OSError as exc:
                log.debug("TLS handshake with %s failed: %s", client_address, exc)
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("error handling a request from %s", client_address, exc_info=True)


class WebServer:
    """Serves a WSGI app from a daemon thread; HTTPS when a certificate and key are given (mTLS with a CA)."""

    def __init__(
        self,
        app: WSGIApplication,
        listen_address: str,
        *,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        tls_client_ca_file: str | None = None,
    ) -> None:
        if bool(tls_cert_file) != bool(tls_key_file):
            raise ValueError("TLS needs both a certificate file and a key file")
        if tls_client_ca_file and not tls_cert_file:
            raise ValueError("client certificate checks need TLS (a certificate file and a key file)")
        self._app = app
        self._host, self._requested_port = parse_listen_address(listen_address)
        self._listen_address = listen_address
        self._cert, self._key, self._client_ca = tls_cert_file, tls_key_file, tls_client_ca_file
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"WebServer({self._listen_address!r}, tls={bool(self._cert)}, mtls={bool(self._client_ca)})"

    @property
    def tls(self) -> bool:
        return bool(self._cert)

    @property
    def port(self) -> int:
        """The port actually listened on (the one chosen by the system for ``:0``)."""
        if self._server is None:
            raise RuntimeError("the web server is not started")
        return int(self._server.server_address[1])

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the web server is already started")
        context = self._ssl_context() if self._cert else None
        server_class = type("_Server", (_ThreadingServer,), {"address_family": self._family()})
        try:
            server = server_class((self._host, self._requested_port), _QuietHandler)
        except OSError as exc:
            raise WebServerError(f"cannot listen on {self._listen_address}: {exc.strerror or exc}") from None
        server.set_app(self._app)
        if context is not None:
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
            server.ssl_context = context
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="web-server", daemon=True
        )
        self._thread.start()
        log.info("listening on %s (port %d%s)", self._listen_address, self.port, ", TLS" if context else "")

    def stop(self) -> None:
        """Stop accepting connections and close the socket (requests in flight finish in their threads)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=1.0)
        self._server = self._thread = None

    def _family(self) -> socket.AddressFamily:
        try:
            infos = socket.getaddrinfo(
                self._host, self._requested_port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        except socket.gaierror as exc:
            raise WebServerError(f"cannot listen on {self._listen_address}: {exc.strerror}") from None
        return infos[0][0]

    def _ssl_context(self) -> ssl.SSLContext:
        assert self._cert is not None and self._key is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self._cert, self._key)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
            raise WebServerError(
                f"cannot load TLS certificate {self._cert} and key {self._key}: {reason}"
            ) from None
        if self._client_ca:
            try:
                context.load_verify_locations(cafile=self._client_ca)
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
                raise WebServerError(f"cannot load client CA file {self._client_ca}: {reason}") from None
            context.verify_mode = ssl.CERT_REQUIRED
        return context
