"""Certificates for the web tests: generated once per session (RSA key generation is slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.certs import Issued, issue


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="session")
def ca() -> Issued:
    return issue("test CA", ca=True)


@pytest.fixture(scope="session")
def server_cert(ca: Issued) -> Issued:
    return issue("127.0.0.1", ca)


@pytest.fixture(scope="session")
def client_cert(ca: Issued) -> Issued:
    return issue("scraper", ca)


@pytest.fixture(scope="session")
def self_signed() -> Issued:
    return issue("127.0.0.1")
