"""Demo mode: the built-in simulator on a free loopback port, and a config that watches all of it."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from anaplan_simulator.scenario import Scenario, load_scenario
from anaplan_simulator.server import make_server

from .anaplan.auth import BasicCredentials
from .anaplan.client import ClientSettings
from .anaplan.models import ObjectType
from .config.file import Config, PollingConfig
from .config.targets import ObjectSelection, TargetConfig
from .config.web import DEFAULT_PORT, WebConfig

DEMO_LISTEN_ADDRESS = f"127.0.0.1:{DEFAULT_PORT}"
"""Loopback only: the demo is for this machine unless ``--web.listen-address`` says otherwise."""


@dataclass
class DemoSimulator:
    url: str
    scenario: Scenario
    thread: threading.Thread
    server: object

    def stop(self) -> None:
        shutdown = getattr(self.server, "shutdown", None)
        if shutdown is not None:
            shutdown()
        self.thread.join(timeout=5)

    def credentials(self) -> str:
        """How to log in to the simulator: its scenario's demo users, which are published, not secrets."""
        logins = [
            f"user {user} password {password} (Basic)" for user, password in self.scenario.users.items()
        ]
        logins += [
            f"OAuth client {client} refresh token {token} (once per start: it rotates)"
            for client, token in self.scenario.oauth_clients.items()
        ]
        return "; ".join(logins)


def start_demo_simulator() -> DemoSimulator:
    """Serve the packaged default scenario on 127.0.0.1 (a free port) in a background thread."""
    scenario = load_scenario(None)
    server = make_server(scenario, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, name="demo-simulator", daemon=True)
    thread.start()
    return DemoSimulator(url=server.url, scenario=scenario, thread=thread, server=server)


def demo_config(simulator: DemoSimulator) -> Config:
    """Watch every object of every workspace the simulator's demo scenario has, as its first demo user."""
    scenario = simulator.scenario
    user, password = next(iter(scenario.users.items()))
    targets = tuple(
        TargetConfig(
            workspace=workspace.id,
            model=model.id,
            selections={kind: ObjectSelection(all=True) for kind in ObjectType},
            expected_every=600.0,
            max_duration=300.0,
        )
        for workspace in scenario.workspaces
        for model in workspace.models
    )
    return Config(
        client=ClientSettings(
            api_url=f"{simulator.url}/2/0",
            auth_url=simulator.url,
            oauth_url=simulator.url,
            cloudworks_url=f"{simulator.url}/cloudworks/2/0",
            backoff_initial=0.5,
            backoff_max=10.0,
        ),
        credentials=BasicCredentials(user, password),
        targets=targets,
        polling=PollingConfig(idle_interval=10.0, active_interval=5.0, discovery_interval=300.0),
        web=WebConfig(listen_address=DEMO_LISTEN_ADDRESS),
        source="demo mode (built-in simulator)",
    )
