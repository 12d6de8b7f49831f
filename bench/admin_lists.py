"""Every staff list page, timed and its SQL counted, on a PostgreSQL database seeded by
``managely seed-load``.

The pages are found in the app's URL map: every GET route under ``/admin`` without URL
arguments (live streams excepted), so screens added later are measured too. Each is requested
N times in-process by a signed-in superadmin (after one warm-up request); the server time is
the time the app takes to answer, and the queries are counted by wrapping Tortoise's asyncpg
client. Prints a table and appends the figures to bench/RESULTS.md. Targets: every page under
100 ms at p95, and a query count that does not grow with the data.

    MANAGELY_DATABASE_URL=postgres://… .venv/bin/python bench/admin_lists.py [-n 20] \
        [--seed] [--users 100000 --ledger 1000000 --operations 20000] [--no-record]

``--seed`` runs seed-load with the given sizes first (it adds nothing when already seeded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="managely-bench-"))
os.environ.setdefault("MANAGELY_ENV", "test")
os.environ["MANAGELY_DATA_DIR"] = str(WORK)
os.environ.pop("MANAGELY_REDIS_URL", None)  # in-memory broker and rate limits
warnings.filterwarnings("ignore", category=DeprecationWarning)

from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper  # noqa: E402

from managely import db, loadseed, settings  # noqa: E402
from managely.models.accounts import User  # noqa: E402
from managely.services import accounts  # noqa: E402
from managely.web import create_app  # noqa: E402

ADMIN_EMAIL = "admin@bench.managely.test"  # not at SEED_DOMAIN: seed-load counts those
ADMIN_PASSWORD = "quick-brown-fox-99"
SKIP = ("events", "stream", "sse")
QUERIES = [0]


def count_queries() -> None:
    """Wrap the asyncpg client's execute methods: every call is one statement sent."""
    names = ("execute_query", "execute_query_dict", "execute_insert", "execute_many")
    for cls in (AsyncpgDBClient, TransactionWrapper):
        for name in (*names, "execute_script"):
            original = cls.__dict__.get(name)
            if original is None:
                continue

            async def counted(self, *args, _original=original, **kwargs):
                QUERIES[0] += 1
                return await _original(self, *args, **kwargs)

            setattr(cls, name, counted)


def list_pages(app) -> list[str]:
    pages = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.arguments or "GET" not in rule.methods:
            continue
        if any(word in rule.endpoint for word in SKIP):
            continue
        pages.append(rule.rule)
    return sorted(set(pages))


async def superadmin() -> None:
    user = await User.get_or_none(email=ADMIN_EMAIL)
    if user is None:
        await accounts.create_user(
            email=ADMIN_EMAIL, password=ADMIN_PASSWORD, name="Bench Admin", role="superadmin"
        )


async def sign_in(client) -> None:
    await client.get("/login")
    async with client.session_transaction() as session:
        token = session.setdefault("csrf_token", "bench-csrf-token")
    response = await client.post(
        "/login", form={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, await response.get_data(as_text=True)


async def measure(client, page: str, n: int) -> dict:
    await client.get(page)  # warm-up: templates compiled, caches filled
    times, queries, status = [], [], 0
    for _ in range(n):
        QUERIES[0] = 0
        started = time.perf_counter()
        response = await client.get(page)
        await response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        queries.append(QUERIES[0])
        status = response.status_code
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        "page": page,
        "status": status,
        "median": statistics.median(times),
        "p95": p95,
        "queries": (min(queries), max(queries)),
    }


async def sizes() -> dict[str, int]:
    from managely.models.billing import WalletTransaction
    from managely.models.operations import SaaSOperation

    return {
        "users": await User.all().count(),
        "ledger": await WalletTransaction.all().count(),
        "operations": await SaaSOperation.all().count(),
    }


async def main(args) -> None:
    config = settings.get_settings()
    if db.dialect(config.database_url) != "postgres":
        sys.exit("set MANAGELY_DATABASE_URL to a PostgreSQL database seeded by seed-load")
    await db.init(config)
    try:
        await accounts.ensure_roles()
        if args.seed:
            await loadseed.seed_load(
                users=args.users, ledger=args.ledger, operations=args.operations
            )
        await superadmin()
        data = await sizes()
        count_queries()
        app = create_app(config)
        async with app.test_app() as test_app:
            client = test_app.test_client()
            await sign_in(client)
            results = [await measure(client, page, args.n) for page in list_pages(app)]
    finally:
        await db.close()
    report(results, data, args)


def report(results: list[dict], data: dict[str, int], args) -> None:
    print(f"{'page':48} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for r in results:
        low, high = r["queries"]
        spread = f"{low}" if low == high else f"{low}-{high}"
        print(f"{r['page']:48} {r['status']:>6} {r['median']:>10.1f} {r['p95']:>8.1f} {spread:>8}")
    slowest = max(results, key=lambda r: r["p95"])
    most = max(results, key=lambda r: r["queries"][1])
    over = [r["page"] for r in results if r["p95"] >= 100 or r["status"] != 200]
    verdict = "met" if not over else f"not met on {', '.join(over)}"
    print(f"slowest p95 {slowest['p95']:.1f} ms ({slowest['page']}); target < 100 ms: {verdict}")
    if args.no_record:
        return
    day, machine = f"{datetime.now(UTC):%Y-%m-%d}", f"{platform.node()}, {os.cpu_count()} cores"
    command = "`.venv/bin/python bench/admin_lists.py " + " ".join(sys.argv[1:]) + "`"
    pages = "; ".join(
        f"{r['page']} {r['median']:.1f}/{r['p95']:.1f} ms {r['queries'][1]} q"
        + ("" if r["status"] == 200 else f" (HTTP {r['status']})")
        for r in results
    )
    line = (
        f"| {day} | staff list pages, superadmin, {args.n} requests each after a warm-up, "
        f"in-process, on PostgreSQL with {data['users']:,} users, {data['ledger']:,} ledger "
        f"rows, {data['operations']:,} operations | {command.rstrip()} | "
        f"{len(results)} pages; slowest p95 {slowest['p95']:.1f} ms ({slowest['page']}), most "
        f"queries {most['queries'][1]} ({most['page']}); target < 100 ms: {verdict}; per page "
        f"median/p95 and queries: {pages}; {machine} |"
    )
    with (ROOT / "bench" / "RESULTS.md").open("a") as results_file:
        results_file.write(line + "\n")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="requests per page")
    parser.add_argument("--seed", action="store_true", help="run seed-load first")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    return parser.parse_args()


if __name__ == "__main__":
    try:
        asyncio.run(main(parse()))
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
