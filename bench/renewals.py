"""The renewal run over N due subscriptions on PostgreSQL, then the ledger check.

Makes a throw-away database on the local cluster (postgres@127.0.0.1:5432, or
MANAGELY_BENCH_POSTGRES_URL), migrates it, bulk-loads N due monthly subscriptions for N/2
customers (COPY): 1 % of the customers have an empty wallet (their renewals go past due, with
a reminder email each), 30 % are taxed (15 %), 10 % of the subscriptions carry a 50 % promo.
Then it times ``renewals.run_renewals`` (target: under 60 s for 100,000), checks every wallet
(balance = sum of its ledger, never negative), one charge and one invoice per renewal and
gap-free invoice numbers, times a second run for the same moment (it must charge nothing), and
drops the database. Prints the figures and appends them to bench/RESULTS.md.

    .venv/bin/python bench/renewals.py [N] [--no-record]
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="managely-bench-"))
ADMIN_URL = os.environ.get(
    "MANAGELY_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = f"managely_bench_renewals_{os.getpid()}"
os.environ.update(
    MANAGELY_DATA_DIR=str(WORK),
    MANAGELY_ENV="test",
    MANAGELY_DATABASE_URL=ADMIN_URL.rsplit("/", 1)[0] + f"/{DB_NAME}",
)
os.environ.pop("MANAGELY_REDIS_URL", None)  # the in-memory broker: nothing is delivered
warnings.filterwarnings("ignore", category=DeprecationWarning)

import asyncpg  # noqa: E402

import managely.jobs  # noqa: E402, F401  (declares the actors renewals send messages to)
import renewal_data  # noqa: E402  (bench/ is on the path of a script run from it)
from managely import db, schema, settings  # noqa: E402
from managely.services import renewals  # noqa: E402

START = datetime(2026, 10, 31, 6, tzinfo=UTC)  # month-end anchors, on purpose
DUE = datetime(2026, 11, 30, 6, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(renewal_data.pg_url(ADMIN_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def main(count: int, record: bool) -> None:
    await admin(f'CREATE DATABASE "{DB_NAME}"')
    try:
        config = settings.get_settings()
        await schema.upgrade(config.database_url)
        await db.init(config)
        load_s = await renewal_data.load(os.environ["MANAGELY_DATABASE_URL"], count, START, DUE)
        started = time.perf_counter()
        counts = await renewals.run_renewals(now=NOW)
        run_s = time.perf_counter() - started
        found = await renewal_data.check(os.environ["MANAGELY_DATABASE_URL"], counts, START)
        started = time.perf_counter()
        again = await renewals.run_renewals(now=NOW)
        rerun_s = time.perf_counter() - started
        after = await renewal_data.check(os.environ["MANAGELY_DATABASE_URL"], counts, START)
        assert again["renewed"] == again["completed"] == 0 and after == found, (again, after)
    finally:
        await db.close()
        await admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    day, machine = f"{datetime.now(UTC):%Y-%m-%d}", f"{platform.node()}, {os.cpu_count()} cores"
    command = f"`.venv/bin/python bench/renewals.py {count}`"
    line = (
        f"| {day} | renewal run, {count:,} due subscriptions on PostgreSQL (1 % short wallets, "
        f"30 % taxed, 10 % promo) | {command} | run {run_s:.1f} s ({count / run_s:,.0f} "
        f"subscriptions/s; target < 60 s): {counts['renewed']:,} renewed with one invoice and "
        f"one ledger entry each, {counts['past_due']:,} past due with one reminder each, "
        f"{counts['failed']} failed; ledger check: balance = ledger sum on all "
        f"{count // 2:,} wallets, none negative, invoice numbers gap-free; second run for the "
        f"same moment {rerun_s:.1f} s (retried the {again['due']:,} past due, charged nothing); "
        f"fixtures loaded (COPY) in {load_s:.1f} s; "
        f"{machine} |"
    )
    print(line)
    if record:
        with (ROOT / "bench" / "RESULTS.md").open("a") as results:
            results.write(line + "\n")


async def admin_on_bench(sql: str) -> None:
    conn = await asyncpg.connect(renewal_data.pg_url(os.environ["MANAGELY_DATABASE_URL"]))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    try:
        numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
        asyncio.run(main(int(numbers[0]) if numbers else 100_000, "--no-record" not in sys.argv))
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
