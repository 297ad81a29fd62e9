"""A basic-auth flood for tests, run as its own process: ``python auth_flood.py PORT CLIENTS SECONDS``.

``CLIENTS`` concurrent connections (asyncio, one process) each send ``GET /metrics`` with a wrong password
in a loop, one request per connection, until ``SECONDS`` have passed or ``MAX_REQUESTS`` were sent. Even
clients repeat one wrong password of their own (a misconfigured scraper), odd ones send a new one every time
(a password guesser). 127.0.0.1 only. Prints a JSON count of the answers' status codes on stdout at the end.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import sys
import time

MAX_REQUESTS = 500_000
USER = "prometheus"


def _request(password: str) -> bytes:
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    return f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {token}\r\n\r\n".encode()


async def _client(
    port: int, index: int, deadline: float, counts: collections.Counter[str], sent: list[int]
) -> None:
    fixed = f"wrong-{index}"
    while time.monotonic() < deadline and sent[0] < MAX_REQUESTS:
        sent[0] += 1
        password = fixed if index % 2 == 0 else f"guess-{os.urandom(8).hex()}"
        wait = deadline - time.monotonic() + 1.0  # an answer late by more is not waited for
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), wait)
            try:
                writer.write(_request(password))
                await writer.drain()
                status_line = await asyncio.wait_for(reader.readline(), wait)
                await asyncio.wait_for(reader.read(), wait)
            finally:
                writer.close()
            parts = status_line.split()
            counts[parts[1].decode() if len(parts) > 1 else "closed"] += 1
        except (OSError, asyncio.TimeoutError):
            counts["error"] += 1
            await asyncio.sleep(0.05)


async def _flood(port: int, clients: int, seconds: float) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    deadline = time.monotonic() + seconds
    sent = [0]
    await asyncio.gather(*(_client(port, index, deadline, counts, sent) for index in range(clients)))
    return counts


def main() -> None:
    port, clients, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    counts = asyncio.run(_flood(port, clients, seconds))
    print(json.dumps(dict(counts)), flush=True)


if __name__ == "__main__":
    main()
