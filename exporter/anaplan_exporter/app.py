"""Wiring: config -> client -> poller -> collector -> web server. No logic of its own."""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from . import __version__
from .anaplan.client import AnaplanClient
from .config import Config, ConfigError
from .exposition import make_metrics_app
from .metrics import ApiStats, SnapshotCollector
from .polling.poller import Poller
from .polling.state import StateStore
from .reload import ReloadStats, restart_needed
from .snapshot import Snapshot
from .web import WebServer, make_app

log = logging.getLogger(__name__)


class Exporter:
    """The running exporter: one client, one poller, one registry, and (once served) one web server."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.stopping = threading.Event()
        self.registry = CollectorRegistry()
        """Every metric, for the library's encoders (``--once``)."""
        self.own_registry = CollectorRegistry()
        """The exporter's own process and API metrics; ``/metrics`` renders the snapshot's separately."""
        ProcessCollector(registry=self.own_registry)
        PlatformCollector(registry=self.own_registry)
        self.stats = ApiStats(self.own_registry)
        self.reloads = ReloadStats(self.own_registry)
        self.registry.register(self.own_registry)
        self.client = AnaplanClient(
            config.client,
            config.credentials,
            observer=self.stats,
            sleep=self._sleep,
        )
        self.state = StateStore.open(config.state.path, config.state.save_interval)
        self.poller = Poller(
            self.client,
            config.targets,
            config.polling,
            shard=config.shard,
            shard_total=config.shard_total,
            state=self.state,
        )
        self.collector = SnapshotCollector(lambda: self.poller.snapshot, __version__)
        self.registry.register(self.collector)
        self.server: WebServer | None = None

    def reload(self, load: Callable[[], Config]) -> bool:
        """Load the configuration again and watch its targets; refuse (and keep running) on any problem."""
        try:
            fresh = load()
        except (ConfigError, ValueError) as exc:
            log.error("configuration reload failed, still running the previous one: %s", exc)
            self.reloads.failed()
            return False
        sections = restart_needed(self.config, fresh)
        if sections:
            log.error(
                "configuration reload refused, still running the previous one: %s changed, which needs a "
                "restart (a reload applies targets and defaults only)",
                ", ".join(sections),
            )
            self.reloads.failed()
            return False
        self.config = fresh
        self.poller.reconfigure(fresh.targets)
        self.reloads.succeeded(time.time())
        log.info("configuration reloaded from %s: %d targets", fresh.source, len(fresh.targets))
        return True

    def _sleep(self, seconds: float) -> None:
        """Backoff waits end early on shutdown, so SIGTERM is honoured within seconds."""
        self.stopping.wait(seconds)

    def serve(self) -> WebServer:
        web = self.config.web
        app = make_app(
            make_metrics_app(self.collector, self.own_registry),
            is_ready=lambda: self.poller.snapshot.ready,
            landing_page=lambda: landing_page(self.poller.snapshot, web.telemetry_path),
            telemetry_path=web.telemetry_path,
            basic_auth_users=web.basic_auth_users,
        )
        self.server = WebServer(
            app,
            web.listen_address,
            tls_cert_file=web.tls_cert_file,
            tls_key_file=web.tls_key_file,
            tls_client_ca_file=web.tls_client_ca_file,
        )
        self.server.start()
        self.poller.start()
        return self.server

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.stop()
        self.poller.stop(timeout=2.0)
        self.client.close()


def landing_page(snapshot: Snapshot, telemetry_path: str) -> str:
    """The HTML at ``/``: links and the watched objects with their newest state."""
    rows = []
    for obj in sorted(
        snapshot.objects, key=lambda o: (o.ref.model_name, o.ref.object_type.value, o.ref.object_name)
    ):
        task = obj.task
        state = task.state.value if task is not None else "no task yet"
        if task is not None and task.result is not None:
            state += " (success)" if task.result.successful else " (failed)"
        cells = (
            obj.ref.workspace_name,
            obj.ref.model_name,
            obj.ref.object_type.value,
            obj.ref.object_id,
            obj.ref.object_name,
            state,
            "up" if obj.up else "DOWN",
        )
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    status = "ready" if snapshot.ready else "waiting for the first poll cycle"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Anaplan exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}</style></head>
<body><h1>Anaplan exporter</h1>
<p>Version {html.escape(__version__)}; {html.escape(status)}; {len(snapshot.objects)} watched objects.</p>
<ul><li><a href="{html.escape(telemetry_path)}">Metrics</a></li>
<li><a href="/-/healthy">Health</a></li><li><a href="/-/ready">Readiness</a></li></ul>
<table><tr><th>Workspace</th><th>Model</th><th>Type</th><th>ID</th><th>Name</th>
<th>Newest task</th><th>Poll</th></tr>
{"".join(rows)}
</table></body></html>
"""
