"""The ``anaplan:`` section's client settings: URLs, timeouts, retries, rate limits, TLS and response size.

Only the keys present in the file are passed on to ClientSettings, which holds the defaults; this module
adds the checks that need the file's context (a CA bundle that exists, a total timeout no shorter than its
parts, a byte size with a unit) and reports each fault as a ConfigError naming the key path. The ``auth:``
key of the same section, the credentials, is read on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..anaplan.client import MIN_RESPONSE_SIZE, ClientSettings
from ..anaplan.errors import AnaplanConfigurationError
from .source import Section, describe

ANAPLAN_KEYS = (
    "api_url",
    "auth_url",
    "oauth_url",
    "cloudworks_url",
    "auth",
    "timeouts",
    "retries",
    "max_concurrency",
    "requests_per_second",
    "tls_verify",
    "max_response_size",
)


def _url(section: Section, key: str) -> str | None:
    value = section.string(key)
    if value is None:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # e.g. an unclosed [IPv6 literal
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise section.ctx.error(section.at(key), f"expected an http(s) URL, got {describe(value)}")
    return value.strip().rstrip("/")


def parse_client_settings(anaplan: Section) -> ClientSettings:
    """Only keys present in the file are passed on: ClientSettings holds the defaults."""
    settings: dict[str, object] = {}
    for key in ("api_url", "auth_url", "oauth_url", "cloudworks_url"):
        url = _url(anaplan, key)
        if url is not None:
            settings[key] = url
    timeouts = anaplan.section("timeouts", ("connect", "read", "total"))
    retries = anaplan.section("retries", ("max", "backoff_initial", "backoff_max"))
    optional: dict[str, object] = {
        "connect_timeout": timeouts.duration("connect", None),
        "read_timeout": timeouts.duration("read", None),
        "total_timeout": timeouts.duration("total", None),
        "max_response_size": _byte_size(anaplan, "max_response_size"),
        "backoff_initial": retries.duration("backoff_initial", None, strict=False),
        "backoff_max": retries.duration("backoff_max", None, strict=False),
        "requests_per_second": anaplan.number("requests_per_second", None),
    }
    if "max" in retries:
        optional["max_retries"] = retries.integer("max", 0, minimum=0)
    if "max_concurrency" in anaplan:
        optional["max_concurrency"] = anaplan.integer("max_concurrency", 1, minimum=1)
    settings.update({key: value for key, value in optional.items() if value is not None})
    if "tls_verify" in anaplan:
        verify = anaplan.boolean_or_string("tls_verify", True)
        if isinstance(verify, str):
            bundle = anaplan.ctx.resolve_path(verify)
            if not bundle.exists():
                raise anaplan.ctx.error(anaplan.at("tls_verify"), f"CA bundle {bundle} does not exist")
            verify = str(bundle)
        settings["verify_tls"] = verify
    _check_total_timeout(timeouts, settings)
    backoff_initial, backoff_max = settings.get("backoff_initial"), settings.get("backoff_max")
    if (
        isinstance(backoff_initial, float)
        and isinstance(backoff_max, float)
        and backoff_max < backoff_initial
    ):
        raise anaplan.ctx.error(retries.at("backoff_max"), "must not be less than backoff_initial")
    try:
        return ClientSettings(**settings)  # type: ignore[arg-type]
    except AnaplanConfigurationError as exc:  # a check of the client's own, should ours miss one
        raise anaplan.ctx.error(anaplan.path, str(exc)) from None


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 10**3,
    "KiB": 2**10,
    "MB": 10**6,
    "MiB": 2**20,
    "GB": 10**9,
    "GiB": 2**30,
}


def _byte_size(section: Section, key: str) -> int | None:
    """A size in bytes: an integer, or a number with a unit (``8MiB``, ``512KiB``, ``2MB``)."""
    value = section.raw(key)
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise section.ctx.error(
            section.at(key), f"expected a size in bytes such as 8MiB or 524288, got {describe(value)}"
        )
    size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    if size < MIN_RESPONSE_SIZE:
        raise section.ctx.error(
            section.at(key), f"must be at least {MIN_RESPONSE_SIZE // 1024}KiB, got {describe(value)}"
        )
    return size


def _check_total_timeout(timeouts: Section, settings: Mapping[str, object]) -> None:
    """The whole attempt cannot be shorter than one of its socket operations."""
    defaults = ClientSettings()
    total = settings.get("total_timeout", defaults.total_timeout)
    for key, name in (("connect", "connect_timeout"), ("read", "read_timeout")):
        part = settings.get(name, getattr(defaults, name))
        if isinstance(total, float) and isinstance(part, float) and total < part:
            where = timeouts.at("total" if "total" in timeouts else key)
            raise timeouts.ctx.error(
                where,
                f"timeouts.total ({total:g}s) must not be less than timeouts.{key} ({part:g}s)",
            )
