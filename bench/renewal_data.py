"""Due subscriptions in bulk and the ledger check after renewing them, on PostgreSQL.

Shared by ``bench/renewals.py`` (100,000 of them, timed) and the fault tests (a worker killed,
or its database connections cut, in the middle of a renewal run).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import asyncpg

from managely.models.base import new_code
from managely.models.catalog import (
    BillingPeriod,
    Package,
    PackagePeriod,
    PromoCode,
    PromoKind,
    TaxRate,
)
from managely.services.launches import add_months

PRICE = 2_900


def pg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def expected(count: int) -> dict[str, int]:
    """What renewing all of ``load(count)`` must give: the unfunded customers' go past due."""
    customers = count // 2
    past_due = sum(1 for n in range(count) if (n % customers + 1) % 100 == 0)
    return {"renewed": count - past_due, "past_due": past_due}


async def load(database_url: str, count: int, start: datetime, due: datetime) -> float:
    """N subscriptions for N/2 customers, each period ``start`` → ``due``: the catalog through
    the ORM (which must be set up on ``database_url``), the rest through COPY. Returns seconds.

    1 % of the customers have an empty wallet (their renewals go past due), 30 % are taxed
    (15 %), 10 % of the subscriptions carry a 50 % promo for their next 5 cycles.
    """
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
    conn = await asyncpg.connect(pg_url(database_url))
    try:
        # Ids follow whatever the database already holds (the fault tests' customer, say).
        off = await conn.fetchval(
            "SELECT greatest((SELECT coalesce(max(id), 0) FROM users),"
            " (SELECT coalesce(max(id), 0) FROM service_beneficiaries),"
            " (SELECT coalesce(max(id), 0) FROM wallets))"
        )
        await conn.copy_records_to_table(
            "users",
            columns=["id", "created_at", "updated_at", "code", "email", "name", "status"]
            + ["arabic_digits", "failed_logins", "locale"],
            records=[
                (off + i, now, now, new_code(), f"c{i}@bench.test", f"Customer {i}", "active",
                 False, 0, "ar" if i % 5 == 0 else "en")
                for i in range(1, customers + 1)
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "service_beneficiaries",
            columns=["id", "created_at", "updated_at", "code", "name", "country", "address"]
            + ["owner_id"],
            records=[
                (
                    off + i,
                    now,
                    now,
                    new_code(),
                    f"Company {i}",
                    "SA" if i % 10 < 3 else "US",
                    "",
                    off + i,
                )
                for i in range(1, customers + 1)
            ],
        )
        # 1 % of the customers have nothing in their wallet; the others enough for a year.
        funded = {i: 0 if i % 100 == 0 else 100_000 for i in range(1, customers + 1)}
        await conn.copy_records_to_table(
            "wallets",
            columns=["id", "created_at", "updated_at", "code", "currency", "balance_minor"]
            + ["user_id"],
            records=[(off + i, now, now, new_code(), "USD", funded[i], off + i) for i in funded],
        )
        await conn.copy_records_to_table(
            "wallet_transactions",
            columns=["created_at", "updated_at", "kind", "amount_minor", "balance_after_minor"]
            + ["reference", "idempotency_key", "description", "wallet_id"],
            records=[
                (now, now, "recharge", amount, amount, "", f"bench:topup:{i}", "", off + i)
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
                (now, now, new_code(), "USD", "active", PRICE, True, start, due, start.day, False,
                 5 if n % 10 == 0 else None, off + n % customers + 1, package.id, period.id,
                 promo.id if n % 10 == 0 else None, off + n % customers + 1)
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


async def check(database_url: str, counts: dict[str, int], start: datetime) -> dict[str, int]:
    """The ledger and the invoices after renewing what ``load`` made; raises on any
    inconsistency. ``counts``: how many were renewed and went past due, in all."""
    conn = await asyncpg.connect(pg_url(database_url))
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
                     AND current_period_end = $1) AS advanced,
                  (SELECT count(*) FROM subscriptions WHERE status = 'past_due') AS past_due,
                  (SELECT count(*) FROM subscription_reminders) AS reminders
                """,
                add_months(start, 2),  # the period after the one ``load`` made, on its anchor day
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
