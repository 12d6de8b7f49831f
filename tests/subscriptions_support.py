"""Factories for subscription and billing tests: a small catalog with round prices,
subscriptions in any state with their system, funded wallets, and stub site scripts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from managely import crypto
from managely.hosts.local import LocalDriver
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.billing import WalletTransaction, WalletTransactionKind
from managely.models.catalog import BillingPeriod, Package, PackagePeriod
from managely.models.launches import Launch, LaunchStatus, LaunchUserCredentials
from managely.models.servers import Server, ServerStatus
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.services import servers, wallet

T0 = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)
# Package slug -> monthly price; the yearly price is ten months.
PRICES = {"basic": 10_000, "pro": 20_000, "lite": 4_000}

STUB = """#!/usr/bin/env bash
# A stand-in for {script}: prints its steps, records its arguments, succeeds.
set -euo pipefail
printf '%s\\n' "$*" >>"$(dirname "$0")/calls.log"
for step in {steps}; do printf '::step %s\\n' "$step"; done
printf '::progress 100\\n'
"""


async def make_catalog() -> dict[str, Package]:
    packages = {}
    for order, (slug, monthly) in enumerate(PRICES.items()):
        package, _ = await Package.get_or_create(
            slug=slug,
            defaults={"name_en": slug.title(), "name_ar": slug, "sort_order": order},
        )
        for period, months, price in (
            (BillingPeriod.MONTHLY, 1, monthly),
            (BillingPeriod.YEARLY, 12, monthly * 10),
        ):
            await PackagePeriod.get_or_create(
                package=package,
                period=period,
                currency="USD",
                defaults={"months": months, "price_minor": price, "trial_days": 14},
            )
        packages[slug] = package
    return packages


async def make_server(root: Path) -> Server:
    server, _ = await Server.get_or_create(
        name="billing-host",
        defaults={"host": "127.0.0.1", "driver": "local", "sites_root": str(root)},
    )
    await Server.filter(id=server.id).update(status=ServerStatus.ACTIVE, capacity=100)
    return await Server.get(id=server.id)


def stub_scripts(server: Server, folder: Path) -> Path:
    """Stand-ins for the scripts billing runs, so operations succeed without a trytond."""
    folder.mkdir(parents=True, exist_ok=True)
    for script, steps in (
        ("suspend_site.sh", "check_site suspend verify"),
        ("delete_multiple_sites.sh", "check_sites delete_sites"),
    ):
        (folder / script).write_text(STUB.format(script=script, steps=steps))
    servers.set_driver(server, LocalDriver(scripts_dir=folder))
    return folder / "calls.log"


async def make_subscription(
    user: User,
    *,
    package: str = "basic",
    period: BillingPeriod = BillingPeriod.MONTHLY,
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    start: datetime = T0,
    end: datetime | None = None,
    price: int | None = None,
    server: Server | None = None,
    launch_status: LaunchStatus = LaunchStatus.ACTIVE,
    **fields: object,
) -> Subscription:
    """A subscription (with its system when ``server`` is given), written directly."""
    row = await PackagePeriod.get(package__slug=package, period=period, currency="USD")
    company = await ServiceBeneficiary.filter(owner=user).first()
    trial = status == SubscriptionStatus.TRIAL
    subscription = await Subscription.create(
        user=user,
        beneficiary=company,
        package_id=row.package_id,
        period=row,
        currency="USD",
        status=status,
        price_minor=row.price_minor if price is None else price,
        current_period_start=start,
        current_period_end=end or (start + 14 * DAY if trial else _month_after(start, row)),
        trial_ends_at=(end or start + 14 * DAY) if trial else None,
        anchor_day=None if trial else start.day,
        **fields,
    )
    if server is not None:
        count = await Launch.all().count()
        launch = await Launch.create(
            user=user,
            beneficiary=company,
            subscription=subscription,
            package_id=row.package_id,
            server=server,
            subdomain=f"bill{user.id}x{count}",
            site_name=f"b{user.id}x{count}",
            status=launch_status,
            is_trial=trial,
        )
        await LaunchUserCredentials.create(
            launch=launch, username="admin", password_encrypted=crypto.encrypt("site-pass-123")
        )
    return subscription


def _month_after(start: datetime, row: PackagePeriod) -> datetime:
    from managely.services.launches import add_months

    return add_months(start, row.months)


async def fund(user: User, amount_minor: int, key: str | None = None) -> None:
    count = await WalletTransaction.all().count()
    await wallet.post(
        user, "USD", amount_minor, WalletTransactionKind.RECHARGE, key or f"test-topup:{count}"
    )


async def ledger_is_consistent() -> None:
    """For every wallet: the cached balance is the ledger's sum, and no entry went below 0."""
    from managely.models.billing import Wallet

    for row in await Wallet.all():
        entries = await WalletTransaction.filter(wallet=row).order_by("id")
        assert row.balance_minor == sum(e.amount_minor for e in entries), row.id
        assert all(e.balance_after_minor >= 0 for e in entries), row.id
        assert row.balance_minor >= 0
