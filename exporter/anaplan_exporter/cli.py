"""The ``anaplan-exporter`` command: flags, demo mode, one-line start-up errors, run until SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import FrameType

from prometheus_client import generate_latest

from . import __version__
from .app import Exporter
from .config.file import Config, apply_web_config_file, load_config, with_shard
from .config.source import ConfigError
from .config.web import parse_listen_address
from .demo import DEMO_LISTEN_ADDRESS, DemoSimulator, demo_config, start_demo_simulator
from .logs import LEVELS, setup_logging
from .polling.state import StateFileError
from .serving.web import WebServerError, server_ssl_context
from .tenant_check import check_tenant

log = logging.getLogger("anaplan_exporter")


EXIT_OK = 0
EXIT_CONFIG = 1
"""The configuration is invalid (file, web config file, TLS files), or ``--once`` had a failed poll or an
object Anaplan does not confirm."""
EXIT_USAGE = 2
"""A bad command-line flag or value."""
EXIT_CANNOT_START = 3
"""Valid configuration, but the exporter could not start: the address cannot be listened on, a file cannot
be written, the state file cannot be read. Retrying without a change will not help."""

_EPILOG = f"""\
listen address:
  With --config the exporter listens on the config's web.listen_address, by default :10118 (every
  interface). Demo mode listens on {DEMO_LISTEN_ADDRESS} (this machine only); to open the demo to other
  machines, pass --web.listen-address :10118 (or 0.0.0.0:10118).

exit codes:
  {EXIT_OK}  stopped by SIGTERM or SIGINT; --check-config: valid; --check-tenant: no FAIL row; --once: every
     poll succeeded and Anaplan confirms every object
  {EXIT_CONFIG}  invalid configuration (one line naming the file, key and value); --check-tenant: a FAIL row;
     --once: a poll or discovery failed, or an object is not found or in a model with NO ACCESS
  {EXIT_USAGE}  bad command-line flag or value
  {EXIT_CANNOT_START}  could not start: address in use or not available, a file that cannot be written or read
"""


class UsageError(ValueError):
    """A command-line value the parser could not check by itself (``--shard``, ``--web.listen-address``)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anaplan-exporter",
        description="Prometheus exporter for Anaplan Integration API v2 tasks.\n"
        "With no --config it runs in demo mode against the built-in Anaplan simulator.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        "--config.file",
        dest="config",
        type=Path,
        metavar="FILE",
        help="configuration file (YAML)",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the configuration and the command-line flags (listen address, TLS files), "
        f"then exit {EXIT_OK}, {EXIT_CONFIG} or {EXIT_USAGE}",
    )
    parser.add_argument(
        "--check-tenant",
        action="store_true",
        help="try the configuration against the tenant (login, every target and object, one task list each, "
        "the request budget, CloudWorks, the state file), print one table, then exit "
        f"{EXIT_OK}, or {EXIT_CONFIG} if a row says FAIL; only GETs (and the login)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help=f"poll everything once, print the metrics, exit {EXIT_CONFIG} if a poll failed or an object is "
        "not confirmed (not found, NO ACCESS)",
    )
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        metavar="ADDRESS",
        help="host:port or :port to listen on (default: web.listen_address from --config, else :10118; "
        f"{DEMO_LISTEN_ADDRESS} in demo mode)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        type=Path,
        metavar="FILE",
        help="exporter-toolkit style web config (tls_server_config, basic_auth_users)",
    )
    parser.add_argument(
        "--shard", metavar="I/N", help="poll only shard I of N (I/N, 0-based) of the watched objects"
    )
    parser.add_argument("--log.level", dest="log_level", choices=LEVELS, default="info", help="default info")
    parser.add_argument(
        "--log.format", dest="log_format", choices=("logfmt", "json"), default="logfmt", help="default logfmt"
    )
    parser.add_argument("--version", action="version", version=f"anaplan-exporter {__version__}")
    return parser


class _StartupError(Exception):
    """An operator's problem found while starting (not a bug): reported in one line, exit 3."""


def parse_shard(value: str) -> tuple[int, int]:
    """Parse ``I/N`` (0-based index I of N shards); raise ValueError with a readable message."""
    index_text, sep, total_text = value.partition("/")
    try:
        if not sep:
            raise ValueError
        index, total = int(index_text), int(total_text)
    except ValueError:
        raise ValueError(f"--shard {value!r}: expected I/N, e.g. 0/3") from None
    if total < 1 or not 0 <= index < total:
        raise ValueError(f"--shard {value!r}: index must be between 0 and N-1, and N at least 1")
    return index, total


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        with _demo_simulator() if args.config is None else nullcontext(None) as simulator:
            config = demo_config(simulator) if simulator is not None else load_config(args.config)
            config = _apply_overrides(config, args)
            _check_web(config)
            if args.check_config:
                print(f"{config.source}: OK ({len(config.targets)} targets)")
                return EXIT_OK
            if args.check_tenant:
                report = check_tenant(config)
                sys.stdout.write(report.render())
                return EXIT_CONFIG if report.exit_code else EXIT_OK
            if args.once:
                return _run_once(config)
            return _serve(config, args, simulator)
    except (ConfigError, StateFileError) as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except _StartupError as exc:
        return _fail(str(exc), EXIT_CANNOT_START)


def _fail(message: str, code: int) -> int:
    print(f"anaplan-exporter: {message}", file=sys.stderr, flush=True)
    return code


def _apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    if args.web_config_file is not None:
        config = apply_web_config_file(config, args.web_config_file)
    if args.listen_address:
        try:
            parse_listen_address(args.listen_address)
        except ValueError as exc:
            raise UsageError(f"--web.listen-address: {exc}") from None
        config = dataclasses.replace(
            config, web=dataclasses.replace(config.web, listen_address=args.listen_address)
        )
    if args.shard:
        try:
            shard, total = parse_shard(args.shard)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        config = with_shard(config, shard, total)
    return config


def _check_web(config: Config) -> None:
    """Load the TLS certificate and key now, so ``--check-config`` finds what ``start`` would."""
    web = config.web
    if web.tls_cert_file and web.tls_key_file:
        try:
            server_ssl_context(web.tls_cert_file, web.tls_key_file, web.tls_client_ca_file)
        except WebServerError as exc:
            raise ConfigError(config.source, "web.tls_server_config", str(exc)) from None


@contextmanager
def _demo_simulator() -> Iterator[DemoSimulator]:
    """Start the built-in simulator on a free loopback port."""
    simulator = start_demo_simulator()
    try:
        yield simulator
    finally:
        simulator.stop()


@contextmanager
def _starting() -> Iterator[None]:
    """Turn an operator's problem at start-up into a one-line error (a bug still shows its traceback)."""
    try:
        yield
    except (WebServerError, StateFileError) as exc:
        raise _StartupError(str(exc)) from None
    except OSError as exc:  # a path that cannot be created, read or written
        reason = (exc.strerror or str(exc)).lower()
        where = f" {exc.filename}" if exc.filename else ""
        raise _StartupError(
            f"cannot start:{where}: {reason}" if where else f"cannot start: {reason}"
        ) from None


def _run_once(config: Config) -> int:
    with _starting():
        exporter = Exporter(config)
    try:
        up = exporter.poller.tick()
        sys.stdout.write(generate_latest(exporter.registry).decode())
        # anaplan_up leaves an object Anaplan does not confirm (and the discovery error naming it) to the
        # object's own series; a check fails on it all the same, as on any discovery error.
        snapshot = exporter.poller.snapshot
        unconfirmed = [obj.ref for obj in snapshot.objects if obj.absence is not None]
        if unconfirmed:
            log.error(
                "--once: Anaplan does not confirm %d object(s): %s",
                len(unconfirmed),
                ", ".join(
                    f"{ref.object_type.value} {ref.object_id} of model {ref.model_id}" for ref in unconfirmed
                ),
            )
        return EXIT_OK if up and not unconfirmed and not snapshot.discovery_errors else EXIT_CONFIG
    finally:
        exporter.stop()


class _StopWhileStarting(BaseException):
    """SIGTERM or SIGINT before start-up finished: abandons the step under way, even a blocked one."""


def _serve(config: Config, args: argparse.Namespace, simulator: DemoSimulator | None) -> int:
    stop = threading.Event()
    reload_requested = threading.Event()
    attention = threading.Event()
    starting = threading.Event()
    starting.set()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received signal %d, shutting down", signum)
        stop.set()
        attention.set()
        if starting.is_set():  # raised in the main thread, where the handler runs; only once
            starting.clear()
            raise _StopWhileStarting

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        reload_requested.set()
        attention.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    try:
        with _starting():
            exporter = Exporter(config)
            try:
                server = exporter.serve()
            except BaseException:
                exporter.stop()
                raise
        starting.clear()
    except _StopWhileStarting:
        log.info("stopped while starting")
        return _exit_now()
    scheme = "https" if config.web.tls_cert_file else "http"
    listen_host, _ = parse_listen_address(config.web.listen_address)
    host = listen_host if listen_host not in ("", "0.0.0.0", "::") else "localhost"
    host = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{host}:{server.port}/"
    log.info("serving metrics at %s%s", url.rstrip("/"), config.web.telemetry_path)
    if simulator is not None:
        log.info("demo mode: Anaplan simulator at %s", simulator.url)
        print(
            f"anaplan-exporter demo mode: open {url} "
            f"(metrics at {url.rstrip('/')}{config.web.telemetry_path})",
            flush=True,
        )
        print(f"demo Anaplan simulator at {simulator.url}: {simulator.credentials()}", flush=True)
        if listen_host in ("127.0.0.1", "localhost", "::1"):
            print(
                "only this machine can connect; to open the demo to others, "
                f"add --web.listen-address :{server.port}",
                flush=True,
            )
    while not stop.is_set():
        attention.wait(1.0)
        attention.clear()
        if reload_requested.is_set() and not stop.is_set():
            reload_requested.clear()
            if simulator is not None:
                log.info("SIGHUP: nothing to reload in demo mode")
            else:
                log.info("SIGHUP: reloading the configuration from %s", args.config)
                exporter.reload(lambda: _apply_overrides(load_config(args.config), args))
    exporter.stop()
    log.info("stopped")
    return _exit_now()


def _exit_now() -> int:
    if threading.active_count() > 1:
        # A poll thread may still be inside an HTTP read (up to the read timeout). Reads change nothing
        # in Anaplan, so exit now instead of waiting for it: SIGTERM must stop us within seconds.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(EXIT_OK)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
