"""The catalog page (``GET /``) on one worker: Managely under hypercorn against the same page
from a plain Flask app under gunicorn, measured side by side in one run.

Prepares a throw-away data dir with a SQLite database (``managely migrate``, ``managely
seed-demo``), then starts, on loopback ports:

- Managely as the Procfile's ``web`` process with one worker:
  ``hypercorn managely.web.asgi:app --workers 1``, in production mode;
- bench/flask_catalog.py under ``gunicorn -w 1`` (sync worker): the same templates, URLs and
  headers, reading the same SQLite file with ``sqlite3`` on every request, caching nothing.

Both pages are fetched once and compared (identical apart from the per-visitor CSRF token),
then each server gets a warm-up and a measured run from the same load generator, ``wrk``
(one thread, 50 connections, anonymous visitors without cookies, so every request is a first
visit). Prints requests/s, p50, p99 and errors for each and their ratio, and appends them to
bench/RESULTS.md. Target: at least 4x Flask's requests/s, p99 under 50 ms.

    .venv/bin/pip install -e '.[bench]'     # flask + gunicorn; wrk: apt-get install -y wrk
    .venv/bin/python bench/catalog.py [SECONDS]    # measured seconds per server, default 10
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONNECTIONS = 50
WARMUP_S = 3
TARGET_RATIO, TARGET_P99_MS = 4.0, 50.0
TOKEN = re.compile(r'(X-CSRF-Token": "|value=")[A-Za-z0-9_-]{43}"')
# wrk's own summary, as one JSON line, with exact percentiles and every kind of error.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def start(name: str, command: list[str], env: dict, work: Path) -> subprocess.Popen:
    log = (work / f"{name}.log").open("w")
    # Its own process group: hypercorn's worker is a child process, stopped with it.
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_ready(name: str, url: str, process: subprocess.Popen, work: Path) -> bytes:
    deadline = time.monotonic() + 60
    while True:
        try:
            status, body = get(url)
            if status == 200:
                return body
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{name} did not start:\n{(work / f'{name}.log').read_text()}")
        time.sleep(0.2)


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a process group."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; utime and stime follow at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, script: Path, pgid: int) -> dict:
    cpu_before = group_cpu_s(pgid)
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s"]
    done = subprocess.run(
        [*command, "-s", str(script), url], capture_output=True, text=True, check=True
    )
    cpu_s = group_cpu_s(pgid) - cpu_before
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "rps": figures["requests"] / (figures["duration_us"] / 1e6),
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "max_ms": figures["max_us"] / 1000,
        "requests": figures["requests"],
        "cpu_ms": cpu_s * 1000 / max(figures["requests"], 1),
        "errors": errors,
        "error_kinds": {
            k: figures[k] for k in ("connect", "read", "write", "status", "timeout") if figures[k]
        },
    }


def describe(result: dict) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in result["error_kinds"].items())
    return (
        f"{result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"errors {result['errors']}{f' ({kinds})' if kinds else ''}, "
        f"server CPU {result['cpu_ms']:.2f} ms/request"
    )


def main(seconds: int) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(
            "bench/catalog.py needs the wrk load generator: apt-get install -y wrk "
            "(Debian/Ubuntu), brew install wrk (macOS), or build github.com/wg/wrk"
        )
    work = Path(tempfile.mkdtemp(prefix="managely-bench-catalog-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANAGELY_")}
    env.update(
        MANAGELY_ENV="production",
        MANAGELY_SECRET_KEY="bench-catalog-secret-0123456789abcdefghijkl",
        MANAGELY_DATA_DIR=str(work / "data"),
        MANAGELY_DATABASE_URL=f"sqlite://{work / 'data' / 'managely.sqlite3'}",
        MANAGELY_PUBLIC_URL="http://127.0.0.1",
        MANAGELY_LOCAL_SERVER="false",
        MANAGELY_LOG_LEVEL="WARNING",
    )
    (work / "data").mkdir()
    script = work / "report.lua"
    script.write_text(WRK_REPORT)
    processes: list[subprocess.Popen] = []
    try:
        for step in (["migrate"], ["seed-demo"]):
            subprocess.run(
                [str(BIN / "managely"), *step], cwd=ROOT, env=env, check=True, capture_output=True
            )
        ours_port, flask_port = free_port(), free_port()
        servers = {
            "managely": (
                [
                    str(BIN / "hypercorn"),
                    "managely.web.asgi:app",
                    "--workers",
                    "1",
                    "--bind",
                    f"127.0.0.1:{ours_port}",
                ],
                f"http://127.0.0.1:{ours_port}/",
            ),
            "flask": (
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    "1",
                    "--no-control-socket",
                    "--bind",
                    f"127.0.0.1:{flask_port}",
                    "--pythonpath",
                    str(ROOT / "bench"),
                    "flask_catalog:app",
                ],
                f"http://127.0.0.1:{flask_port}/",
            ),
        }
        pages = {}
        for name, (command, url) in servers.items():
            processes.append(start(name, command, env, work))
            pages[name] = wait_ready(name, url, processes[-1], work)
        sizes = {name: len(body) for name, body in pages.items()}
        same = TOKEN.sub("TOKEN", pages["managely"].decode()) == TOKEN.sub(
            "TOKEN", pages["flask"].decode()
        )
        print(
            f"page sizes: managely {sizes['managely']} B, flask {sizes['flask']} B; "
            f"{'identical apart from the CSRF token' if same else 'THE PAGES DIFFER'}"
        )
        results = {}
        load = os.getloadavg()[0]
        for (name, (_command, url)), process in zip(servers.items(), processes, strict=True):
            wrk(url, WARMUP_S, script, process.pid)
            results[name] = wrk(url, seconds, script, process.pid)
            print(f"{name:9} {describe(results[name])}", flush=True)
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)

    ours, flask = results["managely"], results["flask"]
    ratio = ours["rps"] / flask["rps"]
    cpu_ratio = flask["cpu_ms"] / ours["cpu_ms"]
    met = ratio >= TARGET_RATIO and ours["p99_ms"] < TARGET_P99_MS
    print(
        f"ratio {ratio:.1f}x in requests/s ({cpu_ratio:.1f}x in server CPU per request); target "
        f"{TARGET_RATIO:.0f}x and p99 < {TARGET_P99_MS:.0f} ms: {'met' if met else 'NOT met'}; "
        f"load average {load:.1f} when the run started"
    )
    day, machine = f"{datetime.now(UTC):%Y-%m-%d}", f"{platform.node()}, {os.cpu_count()} cores"
    line = (
        f"| {day} | catalog page `GET /`, one worker each, wrk {CONNECTIONS} connections, "
        f"{seconds} s after {WARMUP_S} s warm-up, new visitor per request | "
        f"`.venv/bin/python bench/catalog.py {seconds}` | Managely (hypercorn --workers 1) "
        f"{describe(ours)}; Flask + gunicorn -w 1 (sync, SQLite read per request) "
        f"{describe(flask)}; ratio {ratio:.1f}x (target ≥ {TARGET_RATIO:.0f}x and p99 < "
        f"{TARGET_P99_MS:.0f} ms: {'met' if met else 'not met'}); {cpu_ratio:.1f}x in server CPU "
        f"per request; page {sizes['managely']} B vs {sizes['flask']} B"
        f"{'' if same else ' (pages differ)'}; load average {load:.1f} at start; {machine} |"
    )
    print(line)
    with (ROOT / "bench" / "RESULTS.md").open("a") as results_file:
        results_file.write(line + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
