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
from managely import db, schema, settings  # noqa: E402
from managely.models.base import new_code  # noqa: E402
from managely.models.catalog import (  # noqa: E402
    BillingPeriod,
    Package,
    PackagePeriod,
    PromoCode,
    PromoKind,
    TaxRate,
)
from managely.services import renewals  # noqa: E402

START = datetime(2026, 10, 31, 6, tzinfo=UTC)  # month-end anchors, on purpose
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
PRICE = 2_900


def pg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(pg_url(ADMIN_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def load(count: int) -> float:
    """The catalog through the ORM, the customers and subscriptions through COPY."""
    package = await Package.create(slug="bench", name_en="Bench", name_ar="Bench")
    period = await PackagePeriod.create(
        package=package, period=BillingPeriod.MONTHLY, months=1, currency="USD", price_minor=PRICE
    )
    promo = await PromoCode.create(
        code="BENCH50", kind=PromoKind.PERCENT, value=5_000, first_n_cycles=6
    )
    await TaxRate.create(country="SA", rate_bp=1_500, name="VAT")
    started = time.perf_counter()
    customers = count // 2
    now = datetime.now(UTC)
    conn = await asyncpg.connect(pg_url(os.environ["MANAGELY_DATABASE_URL"]))
    try:
        await conn.copy_records_to_table(
            "users",
            columns=["id", "created_at", "updated_at", "code", "email", "name", "status"]
            + ["arabic_digits", "failed_logins", "locale"],
            records=[
                (i, now, now, new_code(), f"c{i}@bench.test", f"Customer {i}", "active", False, 0,
                 "ar" if i % 5 == 0 else "en")
                for i in range(1, customers + 1)
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "service_beneficiaries",
            columns=["id", "created_at", "updated_at", "code", "name", "country", "address"]
            + ["owner_id"],
            records=[
                (i, now, now, new_code(), f"Company {i}", "SA" if i % 10 < 3 else "US", "", i)
                for i in range(1, customers + 1)
            ],
        )
        # 1 % of the customers have nothing in their wallet; the others enough for a year.
        funded = {i: 0 if i % 100 == 0 else 100_000 for i in range(1, customers + 1)}
        await conn.copy_records_to_table(
            "wallets",
            columns=["id", "created_at", "updated_at", "code", "currency", "balance_minor"]
            + ["user_id"],
            records=[(i, now, now, new_code(), "USD", funded[i], i) for i in funded],
        )
        await conn.copy_records_to_table(
            "wallet_transactions",
            columns=["created_at", "updated_at", "kind", "amount_minor", "balance_after_minor"]
            + ["reference", "idempotency_key", "description", "wallet_id"],
            records=[
                (now, now, "recharge", amount, amount, "", f"bench:topup:{i}", "", i)
                for i, amount in funded.items()
                if amount
            ],
        )
        await conn.copy_records_to_table(
            "subscriptions",
            columns=["created_at", "updated_at", "code", "currency", "status", "price_minor"]
            + ["auto_renew", "current_period_start", "current_period_end", "anchor_day"]
            + ["cancel_at_period_end", "promo_cycles_left", "beneficiary_id", "package_id"]
            + ["period_id", "promo_id", "user_id"],
            records=[
                (now, now, new_code(), "USD", "active", PRICE, True, START,
                 datetime(2026, 11, 30, 6, tzinfo=UTC), 31, False,
                 5 if n % 10 == 0 else None, n % customers + 1, package.id, period.id,
                 promo.id if n % 10 == 0 else None, n % customers + 1)
                for n in range(count)
            ],
        )  # fmt: skip
        for table in ("users", "service_beneficiaries", "wallets", "wallet_transactions"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def check(counts: dict[str, int]) -> dict[str, int]:
    """The ledger and the invoices after the run; raises on any inconsistency."""
    conn = await asyncpg.connect(pg_url(os.environ["MANAGELY_DATABASE_URL"]))
    try:
        found = dict(
            await conn.fetchrow(
                """
                SELECT
                  (SELECT count(*) FROM wallets w WHERE w.balance_minor <> (
                     SELECT coalesce(sum(t.amount_minor), 0) FROM wallet_transactions t
                     WHERE t.wallet_id = w.id)) AS wallets_off,
                  (SELECT count(*) FROM wallets WHERE balance_minor < 0) AS negative_wallets,
                  (SELECT count(*) FROM wallet_transactions WHERE balance_after_minor < 0)
                    AS negative_entries,
                  (SELECT count(*) FROM wallet_transactions WHERE idempotency_key LIKE 'renew:%')
                    AS charges,
                  (SELECT count(*) FROM invoices) AS invoices,
                  (SELECT count(DISTINCT number) FROM invoices) AS numbers,
                  (SELECT max(split_part(number, '-', 3)::int) - min(split_part(number, '-', 3)::int)
                     + 1 FROM invoices) AS number_span,
                  (SELECT count(*) FROM subscriptions WHERE status = 'active'
                     AND current_period_end = '2026-12-31 06:00+00') AS advanced,
                  (SELECT count(*) FROM subscriptions WHERE status = 'past_due') AS past_due,
                  (SELECT count(*) FROM subscription_reminders) AS reminders
                """
            )
        )
    finally:
        await conn.close()
    renewed = counts["renewed"]
    assert found["wallets_off"] == found["negative_wallets"] == found["negative_entries"] == 0
    assert found["charges"] == found["invoices"] == found["numbers"] == found["number_span"]
    assert found["charges"] == found["advanced"] == renewed, (found, counts)
    assert found["past_due"] == found["reminders"] == counts["past_due"], (found, counts)
    return found


async def main(count: int, record: bool) -> None:
    await admin(f'CREATE DATABASE "{DB_NAME}"')
    try:
        config = settings.get_settings()
        await schema.upgrade(config.database_url)
        await db.init(config)
        load_s = await load(count)
        started = time.perf_counter()
        counts = await renewals.run_renewals(now=NOW)
        run_s = time.perf_counter() - started
        found = await check(counts)
        started = time.perf_counter()
        again = await renewals.run_renewals(now=NOW)
        rerun_s = time.perf_counter() - started
        after = await check(counts)
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
    conn = await asyncpg.connect(pg_url(os.environ["MANAGELY_DATABASE_URL"]))
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
