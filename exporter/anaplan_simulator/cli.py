"""``anaplan-simulator``: run the simulated Anaplan services until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .scenario import load_scenario
from .server import make_server
from .truthlog import GroundTruthLog
from .validate import ScenarioError


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"--listen must be HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="anaplan-simulator",
        description="Simulate Anaplan's auth service, OAuth service and Integration API v2 on one port.",
    )
    parser.add_argument("--scenario", type=Path, help="scenario YAML (default: the packaged demo scenario)")
    parser.add_argument(
        "--listen", type=_listen, default=("127.0.0.1", 8081), help="HOST:PORT (port 0 picks a free port)"
    )
    parser.add_argument(
        "--ground-truth", type=Path, help="append one JSON line per finished task to this file"
    )
    parser.add_argument("--log-requests", action="store_true", help="log each request line to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
        server = make_server(
            scenario, host=args.listen[0], port=args.listen[1], log_requests=args.log_requests
        )
    except ScenarioError as exc:
        print(f"anaplan-simulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"anaplan-simulator: cannot listen on {args.listen[0]}:{args.listen[1]}: {exc}", file=sys.stderr
        )
        return 2
    log = (
        GroundTruthLog(server.sim.engine, args.ground_truth, cloudworks=server.sim.cloudworks.runs)
        if args.ground_truth
        else None
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, name="anaplan-simulator", daemon=True)
    thread.start()
    if log is not None:
        log.start()
    print(f"anaplan-simulator listening on {server.url}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if log is not None:
            log.stop()
    return 0
