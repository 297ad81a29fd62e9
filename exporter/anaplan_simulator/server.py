"""The HTTP face of the simulator: auth service, OAuth service and Integration API v2 on one port.

Routes:
  POST /token/authenticate, POST /token/refresh, GET /token/validate, POST /token/logout
  POST /oauth/token
  GET  /2/0/...                               Integration API (any other method: 405, and counted)
  GET  /__sim/ground-truth, /__sim/stats, /__sim/faults; POST /__sim/faults, /__sim/expire-tokens

This module binds and runs the server. A connection's requests are read and written by ``http_handler``,
named by ``routes`` and answered by the ``Simulator`` of ``app`` (the Integration API by ``integration``,
errors by ``response``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer

from .app import Simulator
from .http_handler import RequestHandler
from .integration import MAX_PAGE
from .response import Response
from .scenario_types import Scenario

__all__ = ["MAX_PAGE", "Response", "Simulator", "SimulatorServer", "make_server", "serve_in_thread"]


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator, log_requests: bool = False) -> None:
        super().__init__(address, RequestHandler)
        self.sim = sim
        self.log_requests = log_requests
        host, port = self.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        sim.base_url = self.url
        sim.auth.validation_url = f"{self.url}/token/validate"


def make_server(
    scenario: Scenario,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], float] = time.time,
    log_requests: bool = False,
) -> SimulatorServer:
    """Bind (port 0 picks a free port); call ``serve_forever()`` to answer requests."""
    return SimulatorServer((host, port), Simulator(scenario, clock), log_requests)


@contextmanager
def serve_in_thread(scenario: Scenario, clock: Callable[[], float] = time.time) -> Iterator[SimulatorServer]:
    """An in-process simulator on a free loopback port, for tests that need no separate process."""
    server = make_server(scenario, clock=clock)
    thread = threading.Thread(target=server.serve_forever, name="anaplan-simulator", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
