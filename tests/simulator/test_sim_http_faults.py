"""Fault injection on the real simulator process, switched on and off at runtime."""

from __future__ import annotations

import base64
import email.utils
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.simulator import SimulatorHandle, running_simulator

SCENARIO: dict[str, Any] = {
    "users": [{"username": "u@example.com", "password": "pw"}],
    "workspaces": [{"id": "abc", "name": "W"}],
}
OFF: dict[str, Any] = {
    "latency": None,
    "error_rate_5xx": None,
    "rate_limit": None,
    "max_requests_per_second": None,
    "malformed_json_rate": None,
    "token_early_expiry": None,
    "drop_connection_rate": None,
    "drip": None,
    "drip_headers": None,
    "endless": None,
    "huge": None,
    "echo_secrets": None,
    "echo_form": None,
    "scope": "integration",
    "path": None,
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with running_simulator(SCENARIO, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture
def token(sim: SimulatorHandle) -> Iterator[str]:
    sim.set_faults(**OFF)
    auth = "Basic " + base64.b64encode(b"u@example.com:pw").decode()
    response = requests.post(sim.url + "/token/authenticate", headers={"Authorization": auth}, timeout=10)
    yield response.json()["tokenInfo"]["tokenValue"]
    sim.set_faults(**OFF)


def workspaces(sim: SimulatorHandle, token: str) -> requests.Response:
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    return requests.get(sim.api_url + "/workspaces", headers=headers, timeout=10)


def test_rate_limit_bursts_answer_429_with_retry_after_seconds(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(rate_limit={"every": 600, "for": 30})
    response = workspaces(sim, token)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert response.json()["status"]["code"] == 429
    sim.set_faults(rate_limit=None)
    assert workspaces(sim, token).status_code == 200


def test_rate_limit_retry_after_as_http_date(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(rate_limit={"every": 600, "for": 30, "retry_after": 7, "retry_after_format": "http-date"})
    response = workspaces(sim, token)
    assert response.status_code == 429
    when = email.utils.parsedate_to_datetime(response.headers["Retry-After"]).timestamp()
    assert time.time() + 4 <= when <= time.time() + 9


def test_auth_is_spared_unless_scope_is_all(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(rate_limit={"every": 600, "for": 30})
    auth = {"Authorization": f"AnaplanAuthToken {token}"}
    assert requests.get(sim.url + "/token/validate", headers=auth, timeout=10).status_code == 200
    sim.set_faults(scope="all")
    assert requests.get(sim.url + "/token/validate", headers=auth, timeout=10).status_code == 429


def test_requests_per_second_cap(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(max_requests_per_second=5)
    codes = [workspaces(sim, token).status_code for _ in range(12)]
    assert codes.count(200) >= 5 and codes.count(429) >= 1
    assert sim.stats()["max_requests_per_second"] >= 12


def test_server_errors(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(error_rate_5xx=1)
    codes = {workspaces(sim, token).status_code for _ in range(20)}
    assert codes <= {500, 502, 503} and codes
    assert sim.stats()["requests"]["workspaces"].keys() >= {str(c) for c in codes}


def test_malformed_json(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(malformed_json_rate=1)
    response = workspaces(sim, token)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_dropped_connections(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(drop_connection_rate=1)
    with pytest.raises(requests.ConnectionError):
        workspaces(sim, token)
    assert sim.stats()["requests"]["workspaces"]["dropped"] >= 1
    sim.set_faults(drop_connection_rate=0)
    assert workspaces(sim, token).status_code == 200


def test_latency(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(latency={"min": 0.3, "max": 0.4})
    started = time.monotonic()
    assert workspaces(sim, token).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_tokens_expire_early(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(token_early_expiry=1)
    assert workspaces(sim, token).status_code == 200
    deadline = time.monotonic() + 10
    status = 200
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        status = workspaces(sim, token).status_code
    assert status == 401


def test_invalid_fault_settings_are_rejected_with_the_key(sim: SimulatorHandle) -> None:
    response = requests.post(sim.url + "/__sim/faults", json={"error_rate_5xx": 3}, timeout=10)
    assert response.status_code == 400
    assert "error_rate_5xx: must be a probability" in response.json()["error"]


def test_drip_sends_the_body_one_byte_at_a_time(sim: SimulatorHandle, token: str) -> None:
    normal = workspaces(sim, token).content
    sim.set_faults(drip=0.01)
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    with requests.get(sim.api_url + "/workspaces", headers=headers, timeout=10, stream=True) as response:
        assert response.status_code == 200
        pieces = []
        while piece := response.raw.read1(65536):
            pieces.append(piece)
    assert b"".join(pieces) == normal
    assert len(pieces) > len(normal) // 2  # the bytes came (nearly) one per read


def test_endless_body_never_ends(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(endless=True)
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    with requests.get(sim.api_url + "/workspaces", headers=headers, timeout=10, stream=True) as response:
        assert response.status_code == 200 and "Content-Length" not in response.headers
        received = 0
        for chunk in response.iter_content(1024 * 1024):
            received += len(chunk)
            if received > 20 * 1024 * 1024:
                break
    assert received > 20 * 1024 * 1024
    sim.set_faults(endless=None)
    assert workspaces(sim, token).json()["workspaces"][0]["id"] == "abc"


def test_huge_body_is_valid_json_of_at_least_the_size(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(huge=3_000_000)
    response = workspaces(sim, token)
    assert int(response.headers["Content-Length"]) == len(response.content) >= 3_000_000
    assert response.json()["workspaces"][0]["id"] == "abc"


def test_echo_secrets_quotes_the_authorization_header_and_body(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(echo_secrets=400, scope="all")
    auth = "Basic " + base64.b64encode(b"u@example.com:pw").decode()
    response = requests.post(
        sim.url + "/token/authenticate", headers={"Authorization": auth}, data=b"secret-body", timeout=10
    )
    assert response.status_code == 400
    assert auth in response.json()["status"]["message"] and "secret-body" in response.text
    integration = workspaces(sim, token)
    assert integration.status_code == 400 and f"AnaplanAuthToken {token}" in integration.text


@pytest.mark.parametrize(
    ("form", "quoted"),
    [
        ("base64_unpadded", base64.b64encode(b"u@example.com:a&b  c").decode().rstrip("=")),
        ("base64_wrapped", "dUBleGFtcGxlLmNv\r\nbTphJmIgIGM="),
        ("html", "a&amp;b  c"),
        ("upper", "A&B  C"),
        ("url", "a%26b%20%20c"),
        ("json", "a&b  c"),
        ("collapsed", "a&b c"),
    ],
)
def test_echo_form_re_encodes_the_credentials_first(sim: SimulatorHandle, form: str, quoted: str) -> None:
    sim.set_faults(echo_secrets=401, echo_form=form, scope="all")
    auth = "Basic " + base64.b64encode(b"u@example.com:a&b  c").decode()
    response = requests.post(sim.url + "/token/authenticate", headers={"Authorization": auth}, timeout=10)
    message = response.json()["status"]["message"]
    assert message == f"Rejected /token/authenticate: credentials {quoted} unknown"
    response = requests.post(
        sim.url + "/oauth/token", json={"refresh_token": "rt\t1", "client_secret": "cs<1>"}, timeout=10
    )
    assert response.status_code == 401 and "credentials " in response.json()["error_description"]


def test_path_limits_faults_to_matching_requests(sim: SimulatorHandle, token: str) -> None:
    sim.set_faults(error_rate_5xx=1.0, path="/models")
    assert workspaces(sim, token).status_code == 200
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    assert requests.get(sim.api_url + "/models", headers=headers, timeout=10).status_code >= 500


def test_drip_headers_sends_the_status_line_and_headers_one_byte_at_a_time(
    sim: SimulatorHandle, token: str
) -> None:
    sim.set_faults(drip_headers=0.002)
    started = time.monotonic()
    response = workspaces(sim, token)
    assert response.status_code == 200 and response.json()["workspaces"][0]["id"] == "abc"
    assert time.monotonic() - started > 0.002 * 100  # well over a hundred header bytes, one at a time
