"""Demo mode: the built-in simulator on a free loopback port, and a config that watches all of it."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .anaplan.auth import BasicCredentials
from .anaplan.client import ClientSettings
from .anaplan.models import ObjectType
from .config import Config, ObjectSelection, PollingConfig, TargetConfig, WebConfig
from .simulator.scenario import load_scenario
from .simulator.server import make_server

DEMO_USER = "demo@example.com"
DEMO_PASSWORD = "demo"  # the packaged scenario's demo user: not a secret


@dataclass
class DemoSimulator:
    url: str
    stop_event: threading.Event
    thread: threading.Thread
    server: object

    def stop(self) -> None:
        shutdown = getattr(self.server, "shutdown", None)
        if shutdown is not None:
            shutdown()
        self.thread.join(timeout=5)


def start_demo_simulator() -> DemoSimulator:
    """Serve the packaged default scenario on 127.0.0.1 (a free port) in a background thread."""
    server = make_server(load_scenario(None), host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, name="demo-simulator", daemon=True)
    thread.start()
    return DemoSimulator(url=server.url, stop_event=threading.Event(), thread=thread, server=server)


def demo_config(simulator_url: str) -> Config:
    """Watch every object of every workspace the simulator's demo scenario has."""
    scenario = load_scenario(None)
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
            api_url=f"{simulator_url}/2/0",
            auth_url=simulator_url,
            oauth_url=simulator_url,
            backoff_initial=0.5,
            backoff_max=10.0,
        ),
        credentials=BasicCredentials(DEMO_USER, DEMO_PASSWORD),
        targets=targets,
        polling=PollingConfig(idle_interval=10.0, active_interval=5.0, discovery_interval=300.0),
        web=WebConfig(listen_address="127.0.0.1:10118"),
        source="demo mode (built-in simulator)",
    )
