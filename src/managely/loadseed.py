"""``managely seed-load``: a large, consistent data set for load tests and the admin benches.

Customers (each with a company, the customer role and a USD wallet), wallet ledger entries
spread over their wallets with every wallet's balance equal to the sum of its entries, and
finished operations. Rows go in by batches: COPY on PostgreSQL, ``executemany`` on SQLite.
Everything seeded is recognisable (emails at ``SEED_DOMAIN``, ledger keys ``load:<n>``), so a
second run counts what is there and adds only what is missing: run twice, it adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from managely.models.accounts import Role, ServiceBeneficiary, User, UserRole
from managely.models.base import new_code
from managely.models.billing import Wallet, WalletTransaction
from managely.models.operations import SaaSOperation
from managely.services import accounts

SEED_DOMAIN = "load.managely.test"
BATCH = 20_000
KEY_PREFIX = "load:"
OPERATION_KINDS = ("provision", "backup", "change_password", "install_addon", "restore")
OPERATION_STATUSES = ("succeeded",) * 8 + ("failed", "cancelled")
RECHARGE, CHARGE = 5_000, -2_900


@dataclass
class SeedCounts:
    users: int = 0
    ledger: int = 0
    operations: int = 0


class _Writer:
    """Bulk inserts on one connection: COPY for PostgreSQL, executemany for SQLite."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.postgres = connection.capabilities.dialect == "postgres"

    async def insert(self, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
        """Insert rows as they are generated, one batch in memory at a time."""
        rows, done = iter(rows), 0
        while batch := list(islice(rows, BATCH)):
            done += len(batch)
            if self.postgres:
                async with self.connection.acquire_connection() as raw:
                    await raw.copy_records_to_table(table, columns=list(columns), records=batch)
            else:
                marks = ", ".join("?" for _ in columns)
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
                await self.connection.execute_many(sql, batch)
        return done

    async def set_balances(self, balances: dict[int, int]) -> None:
        if not balances:
            return
        if self.postgres:
            await self.connection.execute_query(
                "UPDATE wallets SET balance_minor = v.b FROM unnest($1::bigint[], $2::bigint[])"
                " AS v(id, b) WHERE wallets.id = v.id",
                [list(balances), list(balances.values())],
            )
        else:
            await self.connection.execute_many(
                "UPDATE wallets SET balance_minor = ? WHERE id = ?",
                [(b, i) for i, b in balances.items()],
            )

    async def reset_sequences(self, tables: Iterable[str]) -> None:
        if not self.postgres:
            return  # SQLite continues after the largest rowid by itself
        for table in tables:
            await self.connection.execute_query(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )


async def _next_id(model) -> int:
    last = await model.all().order_by("-id").limit(1).values_list("id", flat=True)
    return (last[0] if last else 0) + 1


async def _seed_users(writer: _Writer, target: int) -> int:
    have = await User.filter(email__endswith=f"@{SEED_DOMAIN}").count()
    if have >= target:
        return 0
    role = await Role.get(name="customer")
    first, now = await _next_id(User), datetime.now(UTC)
    numbers = range(have + 1, target + 1)
    ids = {n: first + i for i, n in enumerate(numbers)}
    joined = {n: now - timedelta(minutes=target - n) for n in numbers}
    users = [
        (ids[n], joined[n], joined[n], new_code(), f"user{n:07d}@{SEED_DOMAIN}",
         f"Load User {n}", None if n % 10 == 0 else joined[n], "active",
         "ar" if n % 5 == 0 else "en", False, 0)
        for n in numbers
    ]  # fmt: skip
    await writer.insert(
        "users",
        ("id", "created_at", "updated_at", "code", "email", "name", "email_verified_at")
        + ("status", "locale", "arabic_digits", "failed_logins"),
        users,
    )
    company_id = await _next_id(ServiceBeneficiary)
    role_id, wallet_id = await _next_id(UserRole), await _next_id(Wallet)
    await writer.insert(
        "service_beneficiaries",
        ("id", "created_at", "updated_at", "code", "name", "address", "owner_id"),
        ((company_id + i, now, now, new_code(), f"Company {n}", "", ids[n])
         for i, n in enumerate(numbers)),
    )  # fmt: skip
    await writer.insert(
        "user_roles",
        ("id", "created_at", "updated_at", "role_id", "user_id"),
        ((role_id + i, now, now, role.id, ids[n]) for i, n in enumerate(numbers)),
    )
    await writer.insert(
        "wallets",
        ("id", "created_at", "updated_at", "code", "currency", "balance_minor", "user_id"),
        ((wallet_id + i, now, now, new_code(), "USD", 0, ids[n]) for i, n in enumerate(numbers)),
    )
    await writer.reset_sequences(("users", "service_beneficiaries", "user_roles", "wallets"))
    return len(users)


async def _seed_ledger(writer: _Writer, target: int) -> int:
    """Entries ``have..target-1``, round-robin over the seeded wallets: a recharge, then
    charges while the balance covers them, so no balance is ever negative."""
    have = await WalletTransaction.filter(idempotency_key__startswith=KEY_PREFIX).count()
    if have >= target:
        return 0
    wallets = await (
        Wallet.filter(user__email__endswith=f"@{SEED_DOMAIN}", currency="USD")
        .order_by("id")
        .values_list("id", "balance_minor")
    )
    if not wallets:
        return 0
    original = dict(wallets)
    balances = dict(original)
    ids = list(balances)
    first, now = await _next_id(WalletTransaction), datetime.now(UTC)

    def entries():
        for offset, n in enumerate(range(have, target)):
            wallet = ids[n % len(ids)]
            # Each wallet's first entry is a recharge; then two charges for every recharge
            # while the balance covers them.
            covered = balances[wallet] + CHARGE >= 0
            amount = CHARGE if covered and n // len(ids) % 3 else RECHARGE
            balances[wallet] += amount
            kind = "charge" if amount < 0 else "recharge"
            at = now - timedelta(seconds=target - n)
            yield (first + offset, at, at, kind, amount, balances[wallet], "",
                   f"{KEY_PREFIX}{n}", "Load seed", wallet)  # fmt: skip

    added = await writer.insert(
        "wallet_transactions",
        ("id", "created_at", "updated_at", "kind", "amount_minor", "balance_after_minor")
        + ("reference", "idempotency_key", "description", "wallet_id"),
        entries(),
    )
    await writer.set_balances({w: b for w, b in balances.items() if b != original[w]})
    await writer.reset_sequences(("wallet_transactions",))
    return added


async def _seed_operations(writer: _Writer, target: int) -> int:
    have = await SaaSOperation.filter(user__email__endswith=f"@{SEED_DOMAIN}").count()
    if have >= target:
        return 0
    users = await (
        User.filter(email__endswith=f"@{SEED_DOMAIN}").order_by("id").limit(target)
        .values_list("id", flat=True)
    )  # fmt: skip
    if not users:
        return 0
    first, now = await _next_id(SaaSOperation), datetime.now(UTC)
    rows = []
    for offset, n in enumerate(range(have, target)):
        status = OPERATION_STATUSES[n % len(OPERATION_STATUSES)]
        at = now - timedelta(minutes=target - n)
        error = "Load seed failure" if status == "failed" else ""
        rows.append(
            (first + offset, at, at, new_code(), OPERATION_KINDS[n % len(OPERATION_KINDS)],
             status, 100 if status == "succeeded" else 0, "[]", "", json.dumps({"seed": n}),
             "{}", 1, 3, at, at, error, error, 600, users[n % len(users)])
        )  # fmt: skip
    await writer.insert(
        "saas_operations",
        ("id", "created_at", "updated_at", "code", "kind", "status", "progress", "steps")
        + ("current_step", "params", "result", "attempts", "max_attempts", "started_at")
        + ("finished_at", "error_message", "error_detail", "step_timeout_s", "user_id"),
        rows,
    )
    await writer.reset_sequences(("saas_operations",))
    return len(rows)


async def seed_load(*, users: int, ledger: int, operations: int) -> SeedCounts:
    """Bring the seeded data up to the given sizes; returns what this run added."""
    await accounts.ensure_roles()
    counts = SeedCounts()
    async with in_transaction() as connection:
        writer = _Writer(connection)
        counts.users = await _seed_users(writer, users)
    # The ledger and the balances it sums to commit together, or not at all.
    async with in_transaction() as connection:
        counts.ledger = await _seed_ledger(_Writer(connection), ledger)
    async with in_transaction() as connection:
        counts.operations = await _seed_operations(_Writer(connection), operations)
    if _Writer(Tortoise.get_connection("default")).postgres:
        await Tortoise.get_connection("default").execute_script("ANALYZE")
    return counts
