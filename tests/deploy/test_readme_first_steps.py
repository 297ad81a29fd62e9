"""README's Quick start, Command line and "From the demo to your tenant" agree with the code and the files."""

from __future__ import annotations

import re
import textwrap

import yaml

from anaplan_exporter.cli import EXIT_CANNOT_START, EXIT_CONFIG, EXIT_USAGE, build_parser
from anaplan_exporter.config.file import parse_config
from anaplan_exporter.config.web import DEFAULT_PORT
from anaplan_exporter.demo import DEMO_LISTEN_ADDRESS
from anaplan_exporter.tenant_check import Report, SentRequests
from anaplan_simulator.scenario import load_scenario

from .files import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
ENV = {"ANAPLAN_PASSWORD": "demo-password"}


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


FIRST_STEPS = _section("Quick start") + _section("Command line") + _section("From the demo to your tenant")
FIRST_STEPS_TEXT = " ".join(FIRST_STEPS.split())  # line breaks as spaces
# Flags of other programs that these sections mention (Prometheus, docker compose, mypy, the simulator).
FOREIGN_FLAGS = {"--web.enable-lifecycle", "--build", "--strict", "--listen"}


def test_every_flag_cited_exists() -> None:
    options = {option for action in build_parser()._actions for option in action.option_strings}
    cited = set(re.findall(r"(?<![\w-])(--[a-z][\w.-]*[a-z])", FIRST_STEPS)) - FOREIGN_FLAGS
    assert cited >= {"--check-config", "--check-tenant", "--once", "--web.listen-address", "--config"}
    assert cited <= options, f"README cites flags the command does not have: {sorted(cited - options)}"


def test_listen_addresses_are_the_real_defaults() -> None:
    assert f"127.0.0.1:{DEFAULT_PORT}" == DEMO_LISTEN_ADDRESS
    assert f"Demo mode listens on `{DEMO_LISTEN_ADDRESS}`" in FIRST_STEPS_TEXT
    assert f"--web.listen-address :{DEFAULT_PORT}" in FIRST_STEPS_TEXT
    assert f"listening on :{DEFAULT_PORT} by default" in FIRST_STEPS_TEXT


def test_demo_credentials_are_the_packaged_scenarios() -> None:
    scenario = load_scenario(None)
    for user, password in scenario.users.items():
        assert f"user `{user}` with password `{password}`" in FIRST_STEPS_TEXT
    for client, token in scenario.oauth_clients.items():
        assert f"OAuth client `{client}` with refresh token `{token}`" in FIRST_STEPS_TEXT


def test_exit_codes_table() -> None:
    table = _section("Command line")
    for code in (0, EXIT_CONFIG, EXIT_USAGE, EXIT_CANNOT_START):
        assert f"\n| {code} | " in table


def test_linked_files_exist_and_provisioning_path_matches() -> None:
    steps = _section("From the demo to your tenant")
    linked = re.findall(r"\]\(((?:config|grafana|docs)/[^)#]+)\)", steps)
    assert len(linked) >= 6
    assert [path for path in linked if not (REPO / path).exists()] == []
    for dashboard in re.findall(r"`(grafana/dashboards/[\w-]+\.json)`", steps):
        assert (REPO / dashboard).exists(), dashboard
    provider = yaml.safe_load((REPO / "grafana/provisioning/dashboards/anaplan.yml").read_text())
    assert f"`{provider['providers'][0]['options']['path']}/`" in steps
    prometheus = yaml.safe_load((REPO / "config/prometheus/prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["job_name"] == "anaplan"
    assert "anaplan-rules.yml" in prometheus["rule_files"]


def test_the_tenant_check_example_is_a_valid_configuration_and_its_output_the_commands() -> None:
    steps = _section("From the demo to your tenant")
    example = re.search(r"```yaml\n(.*?)```\n\n   ```\n(.*?)```", steps, re.DOTALL)
    assert example is not None
    config = parse_config(yaml.safe_load(textwrap.dedent(example.group(1))), "anaplan-exporter.yml", ENV)
    assert config.client.api_url == "http://127.0.0.1:9099/2/0"
    output = textwrap.dedent(example.group(2)).splitlines()
    assert output[0].split(" --config ")[1] == 'anaplan-exporter.yml --check-tenant; echo "exit $?"'
    header = Report("anaplan-exporter.yml", (), SentRequests(1, 7, 5), 5.0).render().splitlines()[0]
    assert output[2].split() == header.split() == ["RESULT", "CHECK", "ITEM", "DETAIL"]
    assert output[-2].startswith("anaplan-exporter.yml: 1 problem, 1 warning. This check sent 1 login (POST)")
    assert output[-1] == "exit 1"
