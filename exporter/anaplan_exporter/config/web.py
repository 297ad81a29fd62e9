"""The ``web:`` section of the configuration: where and how the exporter serves its pages.

It validates the listen address and the telemetry path, and reads the TLS server settings and the basic
auth users, which may also come from an exporter-toolkit web config file (``--web.config.file``); both
places share the readers here. Every fault raises a ConfigError naming the key path.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

from .source import Section, describe

DEFAULT_PORT = 10118
"""Where the exporter listens unless told otherwise (``:10118``; demo mode on 127.0.0.1 only)."""

WEB_KEYS = ("listen_address", "telemetry_path", "tls_server_config", "basic_auth_users")
_RESERVED_PATHS = ("/", "/runbook", "/-/healthy", "/-/ready")  # serving/web.py's other routes
_BCRYPT_HASH = re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}")


@dataclass(frozen=True)
class WebConfig:
    listen_address: str = f":{DEFAULT_PORT}"
    telemetry_path: str = "/metrics"
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    basic_auth_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    """User name -> bcrypt hash."""


def parse_web(section: Section) -> WebConfig:
    listen = section.string("listen_address", WebConfig.listen_address)
    assert listen is not None
    try:
        parse_listen_address(listen)
    except ValueError as exc:
        raise section.ctx.error(section.at("listen_address"), str(exc)) from None
    telemetry = section.string("telemetry_path", WebConfig.telemetry_path)
    assert telemetry is not None
    if not telemetry.startswith("/") or telemetry in _RESERVED_PATHS or any(c.isspace() for c in telemetry):
        raise section.ctx.error(
            section.at("telemetry_path"),
            "expected a path such as /metrics (not /, /runbook, /-/healthy or /-/ready), "
            f"got {describe(telemetry)}",
        )
    cert, key, client_ca = parse_tls_server_config(section)
    return WebConfig(listen, telemetry, cert, key, client_ca, parse_basic_auth_users(section))


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


def parse_tls_server_config(parent: Section) -> tuple[str | None, str | None, str | None]:
    """The certificate, key and client CA files of ``tls_server_config`` (all None when it is not set)."""
    if "tls_server_config" not in parent:
        return None, None, None
    tls = parent.section("tls_server_config", ("cert_file", "key_file", "client_ca_file", "client_auth_type"))
    cert = tls.readable_file("cert_file", required=True)
    key = tls.readable_file("key_file", required=True)
    client_ca = tls.readable_file("client_ca_file")
    auth_type = tls.string("client_auth_type")
    if auth_type is not None:
        if auth_type != "RequireAndVerifyClientCert":
            raise tls.ctx.error(
                tls.at("client_auth_type"),
                "only RequireAndVerifyClientCert is supported (with client_ca_file), "
                f"got {describe(auth_type)}",
            )
        if client_ca is None:
            raise tls.ctx.error(
                tls.at("client_ca_file"), "required with client_auth_type RequireAndVerifyClientCert"
            )
    return str(cert), str(key), None if client_ca is None else str(client_ca)


def parse_basic_auth_users(parent: Section) -> Mapping[str, str]:
    """``basic_auth_users``: user name -> bcrypt hash, read-only (empty when it is not set)."""
    raw = parent.raw("basic_auth_users")
    if raw is None:
        return types.MappingProxyType({})
    if not isinstance(raw, Mapping):
        raise parent.ctx.error(
            parent.at("basic_auth_users"), f"expected a mapping of user to bcrypt hash, got {describe(raw)}"
        )
    users: dict[str, str] = {}
    for user, hashed in raw.items():
        path = f"{parent.at('basic_auth_users')}.{user}"
        if not isinstance(user, str) or not user or ":" in user:
            raise parent.ctx.error(path, "user names must be non-empty strings without ':'")
        hashed = parent.ctx.expand(hashed, path)
        if not isinstance(hashed, str) or not _BCRYPT_HASH.fullmatch(hashed.strip()):
            raise parent.ctx.error(
                path, "expected a bcrypt hash (e.g. from: htpasswd -nBC 10 \"\" | tr -d ':\\n')"
            )
        users[user] = hashed.strip()
    return types.MappingProxyType(users)
