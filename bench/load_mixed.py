"""A mixed load on the production web process (PostgreSQL + Redis) for a bounded time.

bench/live_stack.py starts ``hypercorn managely.web.asgi:app`` in production mode with C
signed-in customers (funded wallet, a system, a running operation each). Then, for S seconds:

- ``wrk`` (one thread per core, N connections) sends a weighted mix: the catalog (``GET /``,
  anonymous) 25 %, live pricing (``GET /get_pricing``, htmx) 20 %, panel pages as a random
  customer (dashboard, wallet, invoices, subscriptions, a system, an operation's progress
  page) 50 %, and launches (``POST /create_system``, a paid system from the wallet, with the
  form's CSRF token) 5 %;
- W SSE watchers hold ``/operations/<code>/events`` streams, and once a second every
  operation's progress moves (row written, then published on Redis, as the worker does).

Prints requests/s, p50/p99 latency, errors (wrk's, non-2xx/3xx answers by kind, SSE clients',
and the server's logged 5xx/unhandled errors), launches written, and the web process's memory
(idle, peak, end). With --record, appends the line to bench/RESULTS.md.

    apt-get install -y wrk
    .venv/bin/python bench/load_mixed.py [--seconds 60] [--connections 64] [--customers 200]
                                         [--watchers 1000] [--workers 1] [--record]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import threading
import time

import asyncpg

import live_stack  # bench/ is on the path of a script run from it
import sse_watchers

# The mix, as wrk's Lua: one customer's session per request, picked at random.
MIX_LUA = """
local customers = {}
local kinds = {"catalog", "pricing", "panel", "launch"}
local answers = {}
local counter = 0
tid = 0  -- a global: setup() gives each thread its own through thread:set
local next_tid = 0
local threads = {}

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local email, system, operation, cookie, csrf = line:match("(%S+) (%S+) (%S+) (%S+) (%S+)")
    table.insert(customers, {system = system, operation = operation, cookie = cookie, csrf = csrf})
  end
  math.randomseed(os.time() + tid * 7919)
end

local packages = {"starter", "business", "enterprise"}
local periods = {"monthly", "quarterly", "yearly"}

request = function()
  local r = math.random(100)
  local c = customers[math.random(#customers)]
  if r <= 25 then
    return wrk.format("GET", "/", {})
  elseif r <= 45 then
    local path = "/get_pricing?package=" .. packages[math.random(3)] .. "&period=" ..
      periods[math.random(3)] .. "&currency=USD"
    return wrk.format("GET", path, {["HX-Request"] = "true"})
  elseif r <= 95 then
    local pages = {"/panel/", "/panel/wallet", "/panel/invoices", "/subscriptions",
      "/panel/systems/" .. c.system, "/operations/" .. c.operation}
    return wrk.format("GET", pages[math.random(#pages)], {Cookie = c.cookie})
  else
    counter = counter + 1
    local name = string.format("l%dx%dr%d", tid, counter, math.random(99999))
    local body = "package=starter&period=monthly&currency=USD&mode=paid&subdomain=" .. name ..
      "&order_key=" .. name .. "&csrf_token=" .. c.csrf
    return wrk.format("POST", "/create_system", {
      Cookie = c.cookie, ["Content-Type"] = "application/x-www-form-urlencoded"}, body)
  end
end

response = function(status, headers, body)
  if status >= 400 then
    local key = tostring(status)
    answers[key] = (answers[key] or 0) + 1
    local parts = {}
    for k, n in pairs(answers) do
      table.insert(parts, string.format('"%s": %d', k, n))
    end
    refused = table.concat(parts, ", ")  -- a string: what done() can read from a thread
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  local refused = {}
  for _, thread in ipairs(threads) do
    local found = thread:get("refused")
    if found then table.insert(refused, "{" .. found .. "}") end
  end
  io.write("[" .. table.concat(refused, ", ") .. "]\\n")
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


class MemoryWatch(threading.Thread):
    """Samples the web process group's RSS twice a second; keeps the peak."""

    def __init__(self, stack) -> None:
        super().__init__(daemon=True)
        self.stack, self.peak_kib, self.running = stack, 0, True

    def run(self) -> None:
        while self.running:
            self.peak_kib = max(self.peak_kib, self.stack.rss_kib())
            time.sleep(0.5)


async def watch_and_publish(stack, customers, watchers: int, seconds: float) -> dict:
    """SSE watchers for the whole run, and a progress change on every operation each second."""
    stop = asyncio.Event()
    crowd = [
        sse_watchers.Watcher(stack.url, f"/operations/{c.operation}/events", c.cookie)
        for c in (customers[i % len(customers)] for i in range(watchers))
    ]
    tasks = [asyncio.ensure_future(w.run(stop)) for w in crowd]
    pg = await asyncpg.create_pool(stack.env["MANAGELY_DATABASE_URL"], min_size=1, max_size=2)
    import redis.asyncio as aioredis

    redis = aioredis.Redis.from_url(live_stack.REDIS_URL)
    codes = [c.operation for c in customers]
    rounds = 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            rounds += 1
            await sse_watchers.publish_round(pg, redis, codes, 20 + rounds % 70)
            await asyncio.sleep(1)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pg.close()
        await redis.aclose()
    errors = [w.error for w in crowd if w.error]
    frames = sum(len(w.seen) for w in crowd)
    return {"rounds": rounds, "frames": frames, "errors": len(errors), "first": errors[:1]}


def run_wrk(stack, args, customers_file: str, script: str) -> dict:
    threads = max(1, min(os.cpu_count() or 1, args.connections))
    command = [
        "wrk", f"-t{threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "10s",
        "-s", script, stack.url, "--", customers_file,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if len(lines) < 2 or not lines[-1].startswith("{"):
        raise SystemExit(f"wrk said:\n{done.stdout}\n{done.stderr}")
    *_, refused, figures = lines
    by_status: dict[str, int] = {}
    for part in json.loads(refused):
        for status, count in part.items():
            by_status[status] = by_status.get(status, 0) + count
    return {**json.loads(figures), "refused": by_status}


async def launches_written(stack) -> int:
    conn = await asyncpg.connect(stack.env["MANAGELY_DATABASE_URL"])
    try:
        return await conn.fetchval("SELECT count(*) FROM launches WHERE subdomain LIKE 'l%x%r%'")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="hypercorn worker processes")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/load_mixed.py needs wrk: apt-get install -y wrk")
    live_stack.raise_fd_limit()
    stack = live_stack.LiveStack(workers=args.workers)
    memory = MemoryWatch(stack)
    try:
        customers = stack.prepare(args.customers)
        customers_file = stack.work / "customers.txt"
        customers_file.write_text(
            "".join(f"{c.email} {c.system} {c.operation} {c.cookie} {c.csrf}\n" for c in customers)
        )
        script = stack.work / "mix.lua"
        script.write_text(MIX_LUA)
        stack.start()
        idle_kib = stack.rss_kib()
        memory.start()
        load = os.getloadavg()[0]

        async def both() -> tuple[dict, dict]:
            sse = asyncio.ensure_future(
                watch_and_publish(stack, customers, args.watchers, args.seconds)
            )
            figures = await asyncio.to_thread(
                run_wrk, stack, args, str(customers_file), str(script)
            )
            return figures, await sse

        figures, sse = asyncio.run(both())
        memory.running = False
        end_kib = stack.rss_kib()
        launches = asyncio.run(launches_written(stack))
        server_errors = stack.server_errors()
    finally:
        memory.running = False
        stack.stop()
    wrk_errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    rps = figures["requests"] / (figures["duration_us"] / 1e6)
    kinds = ", ".join(
        f"{k} {figures[k]}" for k in ("connect", "read", "write", "status", "timeout") if figures[k]
    )
    summary = (
        f"{rps:.0f} req/s, p50 {figures['p50_us'] / 1000:.1f} ms, p99 "
        f"{figures['p99_us'] / 1000:.1f} ms, max {figures['max_us'] / 1000:.0f} ms, "
        f"{figures['requests']} requests, errors {wrk_errors}{f' ({kinds})' if kinds else ''}"
        f"{' ' + json.dumps(figures['refused']) if figures['refused'] else ''}; "
        f"{launches} launches written; {args.watchers} SSE watchers got {sse['frames']} frames "
        f"over {sse['rounds']} progress rounds, errors {sse['errors']}"
        f"{' (' + sse['first'][0] + ')' if sse['first'] else ''}; server errors {server_errors}; "
        f"web RSS {idle_kib / 1024:.0f} MiB idle, {memory.peak_kib / 1024:.0f} MiB peak, "
        f"{end_kib / 1024:.0f} MiB at the end"
    )
    print(summary)
    command = (
        f"`.venv/bin/python bench/load_mixed.py --seconds {args.seconds} --connections "
        f"{args.connections} --customers {args.customers} --watchers {args.watchers} --workers "
        f"{args.workers} --record`"
    )
    line = (
        f"| {live_stack.today()} | mixed load (catalog 25 %, pricing 20 %, panel pages 50 %, "
        f"paid launches 5 %; SSE watchers; progress published every second) on hypercorn "
        f"--workers {args.workers}, production settings, PostgreSQL + Redis, {args.customers} "
        f"customers, wrk {args.connections} connections for {args.seconds} s | {command} | "
        f"{summary}; load average {load:.1f} at start; {live_stack.machine()} |"
    )
    print(line)
    if args.record:
        live_stack.record(line)


if __name__ == "__main__":
    main()
