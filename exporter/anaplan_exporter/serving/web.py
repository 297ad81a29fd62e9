"""The HTTP side: routes (``/``, metrics, ``/runbook``, ``/-/healthy``, ``/-/ready``), basic auth, a threaded
TLS server.

Basic auth and TLS follow the Prometheus exporter-toolkit web config (bcrypt hashes, TLS 1.2 or later,
client certificates verified against ``client_ca_file``). Health and readiness never touch Anaplan. The
password checks themselves, and their defence against floods, are in ``web_auth``.
"""

from __future__ import annotations

import errno
import io
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast
from wsgiref.simple_server import WSGIRequestHandler

from ..config.web import parse_listen_address
from .connections import Acceptor, Limits, close_connection
from .runbook import RUNBOOK_PATH, runbook_page
from .web_auth import BasicAuth, Verdict, authorization_header
from .web_refusals import Refusals

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

HEALTHY_PATH = "/-/healthy"
READY_PATH = "/-/ready"
_REALM = 'Basic realm="anaplan-exporter", charset="UTF-8"'
_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_CONNECTION_TIMEOUT = 30.0


# --- routes ---


def make_app(
    metrics_app: WSGIApplication,
    *,
    is_ready: Callable[[], bool],
    landing_page: Callable[[str], str],
    telemetry_path: str = "/metrics",
    auth: BasicAuth | None = None,
) -> WSGIApplication:
    """The exporter's WSGI application; ``metrics_app`` is ``prometheus_client.make_wsgi_app(registry)``.

    ``landing_page`` gets the request's raw query string (the status page's filters) and returns HTML.
    With ``auth``, every path needs basic auth; give the same ``auth`` to the ``WebServer``.
    """

    def route(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == telemetry_path:
            return metrics_app(environ, start_response)
        if path == "/":
            return _respond(start_response, "200 OK", landing_page(environ.get("QUERY_STRING", "")), _HTML)
        if path == RUNBOOK_PATH:
            return _respond(start_response, "200 OK", runbook_page(), _HTML)
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
        if auth is not None:
            client = environ.get("REMOTE_ADDR", "")
            verdict = auth.check(environ.get("HTTP_AUTHORIZATION"), client)
            if verdict is Verdict.DENIED:
                return _respond(
                    start_response,
                    "401 Unauthorized",
                    "Unauthorized\n",
                    headers=[("WWW-Authenticate", _REALM)],
                )
            if verdict is Verdict.LIMITED:
                return _respond(
                    start_response,
                    "429 Too Many Requests",
                    "Too many wrong credentials\n",
                    headers=[("Retry-After", str(auth.retry_after(client)))],
                )
            if verdict is Verdict.BUSY:
                return _respond(
                    start_response, "503 Service Unavailable", "Busy\n", headers=[("Retry-After", "1")]
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


_LISTEN_HINTS = {
    errno.EADDRINUSE: "address already in use; is another anaplan-exporter running? "
    "choose another port with --web.listen-address",
    errno.EACCES: "permission denied; ports below 1024 need privileges, "
    "choose another port with --web.listen-address",
    errno.EADDRNOTAVAIL: "this machine has no such address; "
    "use :PORT for all interfaces, or one of this machine's addresses, with --web.listen-address",
}


def _listen_error(address: str, exc: OSError) -> str:
    reason = _LISTEN_HINTS.get(exc.errno or 0) or str(exc.strerror or exc).lower()
    return f"cannot listen on {address}: {reason}"


class _LogStream:
    """wsgiref writes tracebacks of broken requests to a stream; send them to the log instead of stderr."""

    def write(self, text: str) -> int:
        if text.strip():
            log.debug("wsgi: %s", text.rstrip())
        return len(text)

    def flush(self) -> None:
        pass


class _Prefixed(io.RawIOBase):
    """A socket's input, starting with the bytes the acceptor already read from it (the request header)."""

    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        self._prefix = memoryview(prefix)
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        return self._sock.recv_into(buffer)


class _Site:
    """What ``WSGIRequestHandler`` asks of its server: the WSGI app and the base environment."""

    def __init__(self, app: WSGIApplication, host: str, port: int) -> None:
        self._app = app
        self.base_environ = {
            "SERVER_NAME": host,
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PORT": str(port),
            "REMOTE_HOST": "",
            "CONTENT_LENGTH": "",
            "SCRIPT_NAME": "",
        }

    def get_app(self) -> WSGIApplication:
        return self._app


class _QuietHandler(WSGIRequestHandler):
    """One request per connection, no access log on stderr, a timeout for the rest of the exchange."""

    timeout = _CONNECTION_TIMEOUT

    def __init__(self, request: socket.socket, client_address: Any, server: _Site, prefix: bytes) -> None:
        self._prefix = prefix
        super().__init__(request, client_address, cast(Any, server))

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.rfile = io.BufferedReader(_Prefixed(self._prefix, self.connection))

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_stderr(self) -> Any:
        return _LogStream()


class WebServer:
    """Serves a WSGI app from a daemon thread; HTTPS when a certificate and key are given (mTLS with a CA).

    Connections are accepted by one thread and handed to at most ``limits.max_handlers`` handler threads
    once their request header has arrived (see ``connections``): idle or slow clients never hold a thread.
    With ``auth`` (the app's), requests whose credentials it has verified before have handlers of their
    own. Requests turned away are counted in ``refusals``.
    """

    def __init__(
        self,
        app: WSGIApplication,
        listen_address: str,
        *,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        tls_client_ca_file: str | None = None,
        limits: Limits | None = None,
        auth: BasicAuth | None = None,
        refusals: Refusals | None = None,
    ) -> None:
        if bool(tls_cert_file) != bool(tls_key_file):
            raise ValueError("TLS needs both a certificate file and a key file")
        if tls_client_ca_file and not tls_cert_file:
            raise ValueError("client certificate checks need TLS (a certificate file and a key file)")
        self._app = app
        self._host, self._requested_port = parse_listen_address(listen_address)
        self._listen_address = listen_address
        self._cert, self._key, self._client_ca = tls_cert_file, tls_key_file, tls_client_ca_file
        self._limits = limits or Limits()
        self._auth = auth
        self._refusals = refusals
        self._acceptor: Acceptor | None = None
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"WebServer({self._listen_address!r}, tls={bool(self._cert)}, mtls={bool(self._client_ca)})"

    @property
    def tls(self) -> bool:
        return bool(self._cert)

    @property
    def port(self) -> int:
        """The port actually listened on (the one chosen by the system for ``:0``)."""
        if self._listener is None:
            raise RuntimeError("the web server is not started")
        return int(self._listener.getsockname()[1])

    def start(self) -> None:
        if self._listener is not None:
            raise RuntimeError("the web server is already started")
        context = self._ssl_context() if self._cert else None
        listener = socket.socket(self._family(), socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self._host, self._requested_port))
            listener.listen(self._limits.backlog)
        except OSError as exc:
            listener.close()
            raise WebServerError(_listen_error(self._listen_address, exc)) from None
        self._listener = listener
        site = _Site(self._app, self._host, self.port)

        def handle(sock: socket.socket, address: Any, prefix: bytes) -> None:
            try:
                _QuietHandler(sock, address, site, prefix)
            finally:
                close_connection(sock)

        auth = self._auth
        self._acceptor = Acceptor(
            listener,
            handle,
            ssl_context=context,
            limits=self._limits,
            priority=None if auth is None else lambda head: auth.known_good(authorization_header(head)),
            refusals=self._refusals,
        )
        self._thread = threading.Thread(
            target=self._acceptor.serve, kwargs={"poll_interval": 0.1}, name="web-server", daemon=True
        )
        self._thread.start()
        log.info("listening on %s (port %d%s)", self._listen_address, self.port, ", TLS" if context else "")

    def stop(self) -> None:
        """Stop accepting connections and close the socket (requests in flight finish in their threads)."""
        acceptor, listener, thread = self._acceptor, self._listener, self._thread
        if acceptor is None or listener is None:
            return
        acceptor.stop()
        if thread is not None:
            thread.join(timeout=1.0)
        listener.close()
        self._acceptor = self._listener = self._thread = None

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
        return server_ssl_context(self._cert, self._key, self._client_ca)


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str | None = None) -> ssl.SSLContext:
    """TLS 1.2 or later with this certificate and key (and client certificates checked against the CA).

    Raises WebServerError naming the file when one cannot be read or parsed, or the key does not match.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise WebServerError(
            f"cannot load TLS certificate {cert_file} and key {key_file}: {reason}"
        ) from None
    if client_ca_file:
        try:
            context.load_verify_locations(cafile=client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
            raise WebServerError(f"cannot load client CA file {client_ca_file}: {reason}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context
