"""Staff billing lists and reports against a million ledger entries, on PostgreSQL.

Makes a scratch database, migrates it, writes the rows with ``generate_series`` (a few
seconds), then times the service calls behind the billing screens: a big wallet's ledger on
its first page and a page deep into it (keyset, so both cost the same), the wallets and
invoice lists, and the aggregate reports. The scratch database is dropped at the end.

    .venv/bin/python bench/billing_lists.py [--ledger 1000000] [--invoices 200000] [-n 5]

Uses MANAGELY_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
import warnings

os.environ.setdefault("MANAGELY_ENV", "test")
warnings.filterwarnings("ignore", category=DeprecationWarning)

import asyncpg  # noqa: E402
from tortoise import Tortoise  # noqa: E402

from managely import db, schema  # noqa: E402
from managely.models.accounts import User  # noqa: E402
from managely.models.billing import Wallet, WalletTransaction  # noqa: E402
from managely.services import admin_billing, reports  # noqa: E402

ADMIN_URL = os.environ.get(
    "MANAGELY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)

SEED = """
INSERT INTO users (code, email, name, status, arabic_digits, failed_logins, created_at, updated_at)
SELECT 'u' || g, 'bench' || g || '@example.com', 'Bench ' || g, 'active', false, 0, now(), now()
FROM generate_series(1, 1000) g;
INSERT INTO wallets (code, user_id, currency, balance_minor, created_at, updated_at)
SELECT 'w' || id, id, 'USD', 0, now(), now() FROM users;
-- Half the entries in one busy wallet, the rest spread over the others.
INSERT INTO wallet_transactions (wallet_id, kind, amount_minor, balance_after_minor, reference,
    idempotency_key, description, created_at, updated_at)
SELECT CASE WHEN g % 2 = 0 THEN (SELECT min(id) FROM wallets) ELSE 1 + (g % 999) END,
    'recharge', 100, g * 100, '', 'bench:' || g, '',
    now() - make_interval(secs => {ledger} - g), now()
FROM generate_series(1, {ledger}) g;
UPDATE wallets SET balance_minor = 100 * (SELECT count(*) FROM wallet_transactions t
    WHERE t.wallet_id = wallets.id);
INSERT INTO invoices (code, number, user_id, status, kind, currency, subtotal_minor, tax_minor,
    total_minor, tax_rate_bp, locale, issued_at, created_at, updated_at)
SELECT 'i' || g, 'B-' || g, 1 + (g % 1000), CASE WHEN g % 10 = 0 THEN 'open' ELSE 'paid' END,
    'invoice', CASE WHEN g % 3 = 0 THEN 'EUR' ELSE 'USD' END, 2900, 0, 2900, 0, 'en',
    now() - make_interval(hours => g % 8760), now(), now()
FROM generate_series(1, {invoices}) g;
ANALYZE;
"""


async def timed(name: str, call, runs: int) -> None:
    await call()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{name:<44} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms")


async def main(ledger: int, invoices: int, runs: int) -> None:
    name = f"managely_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        await schema.upgrade(url)
        seed = await asyncpg.connect(url)
        started = time.perf_counter()
        await seed.execute(SEED.format(ledger=int(ledger), invoices=int(invoices)))
        await seed.close()
        print(
            f"seeded {ledger:,} ledger entries, {invoices:,} invoices in "
            f"{time.perf_counter() - started:.1f} s"
        )
        await Tortoise.init(config=db.tortoise_config(url))
        busy = await admin_billing.wallets(currency="USD")
        wallet = await Wallet.all().order_by("id").first()
        owner = await User.get(id=wallet.user_id)
        # A cursor 100,000 entries in, as 2,000 clicks on "Next page" would reach.
        deep = (
            await WalletTransaction.filter(wallet_id=wallet.id)
            .order_by("-created_at", "-id")
            .offset(100_000)
            .first()
        )
        cursor = str(deep.id)
        filters = admin_billing.InvoiceFilters(status="paid", currency="EUR")
        await timed(
            "busy wallet ledger, page 1",
            lambda: admin_billing.customer_ledger(owner.code, "USD"),
            runs,
        )
        await timed(
            "busy wallet ledger, page 2,001",
            lambda: admin_billing.customer_ledger(owner.code, "USD", cursor),
            runs,
        )
        await timed("wallets, page 2", lambda: admin_billing.wallets(cursor=busy.next_cursor), runs)
        await timed(
            "invoices paid in EUR, page 1", lambda: admin_billing.list_invoices(filters), runs
        )
        await timed("report: revenue by month", lambda: reports.revenue_by_month("USD"), runs)
        await timed("report: wallet liabilities", reports.wallet_liabilities, runs)
    finally:
        await Tortoise.close_connections()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("-n", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(main(options.ledger, options.invoices, options.n))
