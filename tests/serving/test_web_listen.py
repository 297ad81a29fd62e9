"""Listen addresses in the Prometheus ``--web.listen-address`` forms."""

from __future__ import annotations

import pytest

from anaplan_exporter.config.web import parse_listen_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":10118", ("0.0.0.0", 10118)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:10118", ("::1", 10118)),
        ("[::]:9000", ("::", 9000)),
        ("localhost:8080", ("localhost", 8080)),
        (" 0.0.0.0:65535 ", ("0.0.0.0", 65535)),
    ],
)
def test_valid(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10118", "expected host:port or :port"),
        ("host:", "expected a port"),
        (":65536", "expected a port"),
        (":-1", "expected a port"),
        (":http", "expected a port"),
        ("::1:10118", "IPv6 addresses need brackets"),
        ("[::1]10118", "expected [ipv6]:port"),
        ("[]:1", "expected [ipv6]:port"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_listen_address(text)
