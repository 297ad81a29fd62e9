"""Wiring: config -> client -> poller -> collector -> web server. No logic of its own."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from . import __version__
from .anaplan.client import AnaplanClient
from .anaplan.cloudworks import CloudWorksClient
from .anaplan.errors import AnaplanError
from .anaplan.timestamps import BAD_TIMESTAMP
from .config.file import Config, load_config
from .config.source import ConfigError
from .logs import redact_logs
from .polling.poller import Poller
from .polling.state import StateStore
from .reload import ReloadStats, credentials_changed, restart_needed
from .secret_files import SecretFiles
from .serving.exposition import make_metrics_app
from .serving.metrics import ApiStats, AuthCollector, SnapshotCollector
from .serving.render_errors import RenderErrors
from .serving.status_page.page import PageInfo, render_status_page
from .serving.web import WebServer, make_app
from .serving.web_auth import BasicAuth
from .serving.web_refusals import Refusals

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
        started = self.own_registry.get_sample_value("process_start_time_seconds")
        self.started = started if started is not None else time.time()
        """The process's start, as ``process_start_time_seconds`` says (AnaplanTaskOverdue counts from it)."""
        self.stats = ApiStats(self.own_registry)
        self.reloads = ReloadStats(self.own_registry)
        self.render_errors = RenderErrors(self.own_registry)
        self.refusals = Refusals(self.own_registry)
        self.registry.register(self.own_registry)
        # The client's waits (rate limit, Retry-After, backoff) end at once when it is stopped.
        settings = replace(config.replica_client, user_agent=f"anaplan-exporter/{__version__}")
        self.client = AnaplanClient(
            settings,
            config.credentials,
            observer=self.stats,
            credential_source=self._secret_files(config),
        )
        redact_logs(self.client.redactor.scrub)
        self.own_registry.register(AuthCollector(lambda: self.client.auth_refusal))
        self.state = StateStore.open(
            config.state.path, config.state.save_interval, default=config.state.default
        )
        self.stats.state_values_ignored(BAD_TIMESTAMP, self.state.ignored_times)
        self.poller = Poller(
            self.client,
            config.targets,
            config.polling,
            shard=config.shard,
            shard_total=config.shard_total,
            budget=self.client.budget,
            state=self.state,
            cloudworks=CloudWorksClient(self.client),
            cloudworks_config=config.cloudworks,
            scrub=self.client.redactor.scrub,
        )
        self.collector = SnapshotCollector(
            lambda: self.poller.snapshot, __version__, self.render_errors.for_page("metrics")
        )
        self.registry.register(self.collector)
        self.server: WebServer | None = None

    @staticmethod
    def _secret_files(config: Config) -> SecretFiles | None:
        """The secret files to watch while logins are held back; their change re-reads ``config.source``."""
        if not config.credential_files:
            return None
        source = Path(config.source)
        return SecretFiles(config.credential_files, lambda: load_config(source).credentials)

    def reload(self, load: Callable[[], Config]) -> bool:
        """Load the configuration again and watch its targets; refuse (and keep running) on any problem."""
        try:
            fresh = load()
        except (ConfigError, ValueError) as exc:
            log.error("configuration reload failed, still running the previous one: %s", exc)
            self.reloads.failed(time.time())
            return False
        sections = restart_needed(self.config, fresh)
        if sections:
            log.error(
                "configuration reload refused, still running the previous one: %s changed, which needs a "
                "restart (a reload applies targets and defaults only)",
                ", ".join(sections),
            )
            self.reloads.failed(time.time())
            return False
        if credentials_changed(self.config, fresh):
            try:
                self.client.use_credentials(fresh.credentials)
            except AnaplanError as exc:
                log.error("configuration reload refused, still running the previous one: %s", exc)
                self.reloads.failed(time.time())
                return False
            log.info("configuration reload: new credentials; the next login uses them")
        elif self.client.retry_auth_now():
            log.info("configuration reload: logging in again now instead of waiting after the refusal")
        self.config = fresh
        self.poller.reconfigure(fresh.targets, fresh.cloudworks)
        self.reloads.succeeded(time.time())
        log.info("configuration reloaded from %s: %d targets", fresh.source, len(fresh.targets))
        return True

    def serve(self) -> WebServer:
        web = self.config.web
        auth = BasicAuth(web.basic_auth_users, refusals=self.refusals) if web.basic_auth_users else None
        app = make_app(
            make_metrics_app(self.collector, self.own_registry, self.render_errors.for_page("metrics")),
            is_ready=lambda: self.poller.snapshot.ready,
            landing_page=self.status_page,
            telemetry_path=web.telemetry_path,
            auth=auth,
        )
        self.server = WebServer(
            app,
            web.listen_address,
            tls_cert_file=web.tls_cert_file,
            tls_key_file=web.tls_key_file,
            tls_client_ca_file=web.tls_client_ca_file,
            auth=auth,
            refusals=self.refusals,
        )
        self.server.start()
        self.poller.start()
        return self.server

    def status_page(self, query: str = "") -> str:
        """The HTML at ``/`` for the current snapshot, filtered by the request's ``query`` string."""
        reloads = self.reloads
        info = PageInfo(
            version=__version__,
            now=time.time(),
            telemetry_path=self.config.web.telemetry_path,
            reload_successful=reloads.last_successful,
            reload_time=reloads.last_time,
            reload_success_time=reloads.last_success_time,
            auth_refusal=self.client.auth_refusal,
            started=self.started,
        )
        return render_status_page(self.poller.snapshot, info, query, self.render_errors.for_page("status"))

    def stop(self) -> None:
        # First: requests waiting in the client (for the rate limit, a Retry-After or a retry) are abandoned
        # instead of being sent at once when the poller's threads wake up.
        self.client.stop()
        self.stopping.set()
        if self.server is not None:
            self.server.stop()
        self.poller.stop(timeout=2.0)  # writes the state file's last word
        self.state.close()  # then lets another exporter take the file
        self.client.close()
