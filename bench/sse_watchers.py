"""N concurrent SSE progress watchers on one web process: delivery lag and memory per connection.

Starts the production web process on PostgreSQL + Redis (bench/live_stack.py) with M
customers, each with a running operation, and opens N ``/operations/<code>/events`` streams
spread over them (signed-in, as the progress page does). When every stream has its first
event, the web process's memory growth over its idle size gives the cost per connection. Then
R rounds: each sets every operation's progress to a new value and publishes the change the way
the worker does (row written first, then the Redis channel ``managely:operation:<code>``), and
every watcher timestamps the frame carrying that value. Lag = frame received − publish.
Targets for 10,000 watchers: p99 lag under 1 s, under 40 KiB per connection; no errors.

    .venv/bin/python bench/sse_watchers.py [--watchers 10000] [--operations 100] [--rounds 5]
                                           [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from urllib.parse import urlsplit

import asyncpg
import redis.asyncio as aioredis

import live_stack  # bench/ is on the path of a script run from it

PROGRESS = re.compile(rb'aria-valuenow="(\d+)"')
TARGET_LAG_S, TARGET_KIB = 1.0, 40.0


class Watcher:
    """One raw HTTP/1.1 SSE stream; remembers when each progress value arrived."""

    def __init__(self, url: str, path: str, cookie: str) -> None:
        self.url, self.path, self.cookie = url, path, cookie
        self.seen: dict[int, float] = {}
        self.connected = asyncio.Event()
        self.error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        parts = urlsplit(self.url)
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.write(
                f"GET {self.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream"
                f"\r\nCookie: {self.cookie}\r\n\r\n".encode()
            )
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(status.decode().strip())
            reading = asyncio.ensure_future(self._frames(reader))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in (reading, stopping):
                task.cancel()
            if reading.done() and not reading.cancelled() and reading.exception():
                raise reading.exception()
            writer.close()
        except (OSError, RuntimeError, asyncio.IncompleteReadError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.connected.set()

    async def _frames(self, reader: asyncio.StreamReader) -> None:
        # Whole reads, not lines: the client must cost less than the server it measures.
        tail = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError(f"stream closed by the server after {len(self.seen)} frames")
            arrived = time.monotonic()
            data = tail + chunk
            for found in PROGRESS.finditer(data):
                self.seen.setdefault(int(found[1]), arrived)
                self.connected.set()
            tail = data[-40:]  # a value cut in two by the read boundary is found next time


async def publish_round(pg: asyncpg.Pool, redis, codes: list[str], value: int) -> dict:
    """The worker's way: the row first, then a small 'it changed' event on its channel."""
    published = {}
    for code in codes:
        await pg.execute("UPDATE saas_operations SET progress = $1 WHERE code = $2", value, code)
        await redis.publish(f"managely:operation:{code}", json.dumps({"status": "running"}))
        published[code] = time.monotonic()
    return published


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


async def measure(stack, customers, watchers: int, rounds: int) -> dict:
    stop = asyncio.Event()
    idle_kib = stack.rss_kib()
    crowd = [
        Watcher(stack.url, f"/operations/{c.operation}/events", c.cookie)
        for c in (customers[i % len(customers)] for i in range(watchers))
    ]
    tasks = []
    began = time.monotonic()
    for n, watcher in enumerate(crowd):
        tasks.append(asyncio.ensure_future(watcher.run(stop)))
        if n % 200 == 199:
            await asyncio.sleep(0.05)  # pace the connects: the listen backlog is finite
    await asyncio.wait_for(asyncio.gather(*(w.connected.wait() for w in crowd)), timeout=600)
    connect_s = time.monotonic() - began
    await asyncio.sleep(2)  # let the server settle after the last first event
    connected_kib = stack.rss_kib()
    pg = await asyncpg.create_pool(stack.env["MANAGELY_DATABASE_URL"], min_size=1, max_size=2)
    redis = aioredis.Redis.from_url(live_stack.REDIS_URL)
    codes = [c.operation for c in customers]
    lags: list[float] = []
    missed = 0
    try:
        for round_ in range(rounds):
            value = 20 + round_
            published = await publish_round(pg, redis, codes, value)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(
                value not in w.seen for w in crowd if w.error is None
            ):
                await asyncio.sleep(0.05)
            for watcher, customer in zip(
                crowd, (customers[i % len(customers)] for i in range(watchers)), strict=True
            ):
                if value in watcher.seen:
                    lags.append(watcher.seen[value] - published[customer.operation])
                elif watcher.error is None:
                    missed += 1
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pg.close()
        await redis.aclose()
    errors = [w.error for w in crowd if w.error]
    return {
        "watchers": watchers,
        "connect_s": connect_s,
        "idle_mib": idle_kib / 1024,
        "connected_mib": connected_kib / 1024,
        "kib_per_connection": (connected_kib - idle_kib) / watchers,
        "p50_ms": percentile(lags, 50) * 1000 if lags else float("nan"),
        "p99_ms": percentile(lags, 99) * 1000 if lags else float("nan"),
        "max_ms": max(lags) * 1000 if lags else float("nan"),
        "mean_ms": statistics.fmean(lags) * 1000 if lags else float("nan"),
        "deliveries": len(lags),
        "missed": missed,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


def describe(r: dict) -> str:
    return (
        f"{r['watchers']} watchers connected in {r['connect_s']:.1f} s; delivery lag p50 "
        f"{r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms over "
        f"{r['deliveries']} deliveries, {r['missed']} missed; web RSS {r['idle_mib']:.0f} MiB "
        f"idle → {r['connected_mib']:.0f} MiB connected = {r['kib_per_connection']:.1f} KiB per "
        f"connection; client errors {r['errors']}{' (' + r['first_error'] + ')' if r['errors'] else ''}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=10_000)
    parser.add_argument("--operations", type=int, default=100, help="customers/operations")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    limit = live_stack.raise_fd_limit()
    # This process holds one socket per watcher, the server (its own process) the other end.
    if limit < args.watchers + 1000:
        raise SystemExit(f"open-file limit {limit} is too low for {args.watchers} watchers")
    stack = live_stack.LiveStack(workers=1)
    try:
        customers = stack.prepare(args.operations)
        stack.start()
        result = asyncio.run(measure(stack, customers, args.watchers, args.rounds))
        server_errors = stack.server_errors()
    finally:
        stack.stop()
    met = (
        result["p99_ms"] < TARGET_LAG_S * 1000
        and result["kib_per_connection"] < TARGET_KIB
        and not (result["errors"] or result["missed"] or server_errors)
    )
    print(describe(result))
    print(
        f"server errors {server_errors}; target p99 < {TARGET_LAG_S * 1000:.0f} ms and < "
        f"{TARGET_KIB:.0f} KiB per connection, no errors: {'met' if met else 'NOT met'}"
    )
    command = (
        f"`.venv/bin/python bench/sse_watchers.py --watchers {args.watchers} --operations "
        f"{args.operations} --rounds {args.rounds} --record`"
    )
    line = (
        f"| {live_stack.today()} | SSE progress watchers on one web process (hypercorn "
        f"--workers 1, production settings, PostgreSQL + Redis), {args.operations} operations, "
        f"{args.rounds} progress rounds | {command} | {describe(result)}; server errors "
        f"{server_errors}; target {'met' if met else 'not met'}; {live_stack.machine()} |"
    )
    print(line)
    if args.record:
        live_stack.record(line)


if __name__ == "__main__":
    main()
