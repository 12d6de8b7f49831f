"""Trial provisioning on this machine: request → succeeded → first ERP login, cold and through
the warm pool, and the platform's own overhead (operation written → first script step).

Runs the embedded stack in-process (SQLite, in-memory broker, local driver, real trytond),
creates N cold trial systems one after the other through ``launches.create_system``, then
fills the warm pool and times N trials that claim a standby. Prints the figures and appends
them to bench/RESULTS.md.

    .venv/bin/python bench/provisioning.py [N]
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="managely-bench-"))
os.environ.update(
    MANAGELY_DATA_DIR=str(WORK),
    MANAGELY_ENV="test",
    MANAGELY_LOCAL_TRYTON_PORT="21777",
    MANAGELY_WARM_POOL_SIZE="0",  # the pool is filled explicitly below, not by refills
)

from managely import db, schema, settings  # noqa: E402
from managely.embedded import start_worker, stop_worker  # noqa: E402
from managely.models.catalog import Package  # noqa: E402
from managely.models.operations import OperationStep, SaaSOperation  # noqa: E402
from managely.models.servers import Server, ServerStatus  # noqa: E402
from managely.queue import in_flight  # noqa: E402
from managely.services import accounts, launches, seed, servers  # noqa: E402


def login(url: str, user: str, password: str) -> None:
    body = {"id": 1, "method": "common.db.login", "params": [user, {"password": password}, "en"]}
    request = urllib.request.Request(
        url + "rpc/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
        assert json.loads(response.read())["result"][0] >= 1


async def trial(user, name: str) -> tuple[float, SaaSOperation]:
    """One trial, timed from the request to a successful login with its credentials."""
    begin = time.perf_counter()
    launch, operation = await launches.create_system(user, package_slug="starter", subdomain=name)
    while operation.status not in ("succeeded", "failed"):
        await asyncio.sleep(0.005)
        await operation.refresh_from_db()
    assert operation.status == "succeeded", operation.error_detail
    await launch.refresh_from_db()
    username, password = await launches.credentials_of(launch)
    await asyncio.to_thread(login, launch.url, username, password)
    return time.perf_counter() - begin, operation


async def setup() -> tuple[Server, float]:
    config = settings.get_settings()
    await schema.upgrade(config.database_url)
    await db.init(config)
    await seed.seed_demo()
    await Package.filter(slug="starter").update(tryton_modules=["sale"])
    await Package.exclude(slug="starter").update(is_active=False)
    server = await servers.ensure_local_server(WORK / "hosts" / "local-1", config.local_tryton_port)
    started = time.perf_counter()
    await servers.bootstrap(server)
    await in_flight.wait_idle(timeout=900)
    await Server.filter(id=server.id).update(status=ServerStatus.ACTIVE)
    return server, time.perf_counter() - started


async def main(count: int) -> None:
    worker = start_worker(asyncio.get_running_loop(), 2)
    cold, overheads, warm = [], [], []
    try:
        _, setup_s = await setup()
        user = await accounts.create_user(
            email="bench@example.com", password="quick-horse-123", name="Bench"
        )
        for i in range(count):
            elapsed, operation = await trial(user, f"cold-{i}")
            cold.append(elapsed)
            first = await OperationStep.filter(operation=operation).order_by("started_at").first()
            overheads.append((first.started_at - operation.created_at).total_seconds())
        await launches.refill_pool(size=count)  # standbys are prepared ahead, not timed
        await in_flight.wait_idle(timeout=900)
        for i in range(count):
            elapsed, _ = await trial(user, f"warm-{i}")
            warm.append(elapsed)
    finally:
        await in_flight.wait_idle(timeout=300)
        await stop_worker(worker)
        await servers.stop_local_server()
        await db.close()
    day, machine = f"{datetime.now(UTC):%Y-%m-%d}", f"{platform.node()}, {os.cpu_count()} cores"
    command = f"`.venv/bin/python bench/provisioning.py {count}`"
    lines = [
        f"| {day} | cold trial (clone + password + load + login), {count} sites | {command} | "
        f"request→ERP login median {statistics.median(cold):.2f} s, max {max(cold):.2f} s; "
        f"server bootstrap + one template (sale) {setup_s:.0f} s; {machine} |",
        f"| {day} | trial through the warm pool, {count} claims | {command} | request→ERP login "
        f"median {statistics.median(warm):.2f} s, max {max(warm):.2f} s (target: median < 1 s); "
        f"{machine} |",
        f"| {day} | platform overhead per operation, {count} operations | {command} | operation "
        f"written→first script step median {statistics.median(overheads) * 1000:.0f} ms, max "
        f"{max(overheads) * 1000:.0f} ms (target < 50 ms; includes bash + lib.sh start-up); "
        f"{machine} |",
    ]
    print("\n".join(lines))
    with (ROOT / "bench" / "RESULTS.md").open("a") as results:
        results.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
