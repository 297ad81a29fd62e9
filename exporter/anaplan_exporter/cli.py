"""The ``anaplan-exporter`` command: argument parsing, demo mode, run until SIGTERM."""

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
from .config import Config, ConfigError, apply_web_config_file, load_config
from .logs import LEVELS, setup_logging
from .polling.sharding import parse_shard
from .web import parse_listen_address

log = logging.getLogger("anaplan_exporter")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anaplan-exporter",
        description="Prometheus exporter for Anaplan Integration API v2 tasks. "
        "With no --config it runs in demo mode against the built-in Anaplan simulator.",
    )
    parser.add_argument(
        "--config", "--config.file", dest="config", type=Path, help="configuration file (YAML)"
    )
    parser.add_argument(
        "--check-config", action="store_true", help="validate the configuration, then exit 0 or 1"
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="poll everything once, print the metrics, exit non-zero if it failed",
    )
    parser.add_argument(
        "--web.listen-address", dest="listen_address", help="address to listen on (default :10118)"
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        type=Path,
        help="exporter-toolkit style web config (tls_server_config, basic_auth_users)",
    )
    parser.add_argument("--shard", help="poll only shard I of N (I/N, 0-based) of the watched objects")
    parser.add_argument("--log.level", dest="log_level", choices=LEVELS, default="info")
    parser.add_argument("--log.format", dest="log_format", choices=("logfmt", "json"), default="logfmt")
    parser.add_argument("--version", action="version", version=f"anaplan-exporter {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        with _demo_simulator() if args.config is None else nullcontext(None) as demo_config:
            config = demo_config if demo_config is not None else load_config(args.config)
            config = _apply_overrides(config, args)
            if args.check_config:
                print(f"{config.source}: OK ({len(config.targets)} targets)")
                return 0
            if args.once:
                return _run_once(config)
            return _serve(config, args)
    except ConfigError as exc:
        print(f"anaplan-exporter: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # bad command-line value, e.g. --shard
        print(f"anaplan-exporter: {exc}", file=sys.stderr)
        return 2


def _apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    if args.web_config_file is not None:
        config = apply_web_config_file(config, args.web_config_file)
    if args.listen_address:
        config = dataclasses.replace(
            config, web=dataclasses.replace(config.web, listen_address=args.listen_address)
        )
    if args.shard:
        shard, total = parse_shard(args.shard)
        config = dataclasses.replace(config, shard=shard, shard_total=total)
    return config


@contextmanager
def _demo_simulator() -> Iterator[Config]:
    """Start the built-in simulator on a free loopback port and yield a config that watches it."""
    from .demo import demo_config, start_demo_simulator

    simulator = start_demo_simulator()
    try:
        log.info("demo mode: Anaplan simulator at %s", simulator.url)
        yield demo_config(simulator.url)
    finally:
        simulator.stop()


def _run_once(config: Config) -> int:
    exporter = Exporter(config)
    try:
        ok = exporter.poller.tick()
        sys.stdout.write(generate_latest(exporter.registry).decode())
        return 0 if ok else 1
    finally:
        exporter.stop()


def _serve(config: Config, args: argparse.Namespace) -> int:
    demo = args.config is None
    stop = threading.Event()
    reload_requested = threading.Event()
    attention = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received signal %d, shutting down", signum)
        stop.set()
        attention.set()

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        reload_requested.set()
        attention.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)
    exporter = Exporter(config)
    server = exporter.serve()
    scheme = "https" if config.web.tls_cert_file else "http"
    host, _ = parse_listen_address(config.web.listen_address)
    host = host if host not in ("", "0.0.0.0", "::") else "localhost"
    host = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{host}:{server.port}/"
    log.info("serving metrics at %s%s", url.rstrip("/"), config.web.telemetry_path)
    if demo:
        print(
            f"anaplan-exporter demo mode: open {url} "
            f"(metrics at {url.rstrip('/')}{config.web.telemetry_path})",
            flush=True,
        )
    while not stop.is_set():
        attention.wait(1.0)
        attention.clear()
        if reload_requested.is_set() and not stop.is_set():
            reload_requested.clear()
            if demo:
                log.info("SIGHUP: nothing to reload in demo mode")
            else:
                log.info("SIGHUP: reloading the configuration from %s", args.config)
                exporter.reload(lambda: _apply_overrides(load_config(args.config), args))
    exporter.stop()
    log.info("stopped")
    if threading.active_count() > 1:
        # A poll thread may still be inside an HTTP read (up to the read timeout). Reads change nothing
        # in Anaplan, so exit now instead of waiting for it: SIGTERM must stop us within seconds.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
