"""The catalog: what is on sale, read once and kept in memory for a short while.

The front page is the busiest page there is and its content changes only when staff edit the
catalog, so ``snapshot()`` reads packages, prices and add-ons in three queries and keeps the
result for ``TTL_S`` seconds (or until ``invalidate()``, which staff edits call). Prices are
shown as they are stored, in minor units; what a customer actually pays comes from
``services.pricing``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from managely.models.addons import AddonApp
from managely.models.catalog import PERIOD_MONTHS, BillingPeriod, Package, PackagePeriod
from managely.settings import get_settings

TTL_S = 30.0
PERIOD_ORDER = {period: PERIOD_MONTHS[period] for period in BillingPeriod}


@dataclass(frozen=True)
class Price:
    period: BillingPeriod
    months: int
    currency: str
    price_minor: int
    setup_fee_minor: int
    trial_days: int

    @property
    def per_month_minor(self) -> int:
        return self.price_minor // self.months


@dataclass(frozen=True)
class Addon:
    slug: str
    name_en: str
    name_ar: str
    description_en: str
    description_ar: str
    price_minor: int
    currency: str
    billing: str


@dataclass(frozen=True)
class Offer:
    """One package as the catalog shows it."""

    slug: str
    code: str
    name_en: str
    name_ar: str
    description_en: str
    description_ar: str
    included_users: int
    storage_gb: int
    backup_schedule: str
    modules: tuple[str, ...]
    prices: tuple[Price, ...]
    addons: tuple[Addon, ...]

    def prices_in(self, currency: str) -> list[Price]:
        return [p for p in self.prices if p.currency == currency]

    def price(self, period: str, currency: str) -> Price | None:
        return next((p for p in self.prices if p.period == period and p.currency == currency), None)

    @property
    def trial_days(self) -> int:
        return max((p.trial_days for p in self.prices), default=0)


@dataclass(frozen=True)
class Catalog:
    offers: tuple[Offer, ...]
    currencies: tuple[str, ...]
    periods: tuple[BillingPeriod, ...]
    # Different for every load: what a rendering of this snapshot can be cached under.
    serial: int = field(default=0)

    def offer(self, slug: str) -> Offer | None:
        return next((o for o in self.offers if o.slug == slug), None)

    def currency_or_default(self, wanted: str | None) -> str:
        wanted = (wanted or "").upper()
        if wanted in self.currencies:
            return wanted
        default = get_settings().default_currency
        return default if default in self.currencies or not self.currencies else self.currencies[0]


_cache: tuple[float, Catalog] | None = None
_loads = itertools.count(1)
_lock = asyncio.Lock()


def invalidate() -> None:
    """Forget the snapshot (staff changed the catalog); the next request reads it again."""
    global _cache
    _cache = None


async def snapshot() -> Catalog:
    global _cache
    cached = _cache
    if cached is not None and time.monotonic() - cached[0] < TTL_S:
        return cached[1]
    async with _lock:
        if _cache is not None and _cache is not cached:
            return _cache[1]  # another request refreshed it while we waited
        catalog = await _load()
        _cache = (time.monotonic(), catalog)
        return catalog


async def _load() -> Catalog:
    packages = await active_packages()
    periods = await PackagePeriod.filter(package_id__in=[p.id for p in packages], is_active=True)
    addons = (
        await AddonApp.filter(is_active=True).order_by("sort_order").prefetch_related("packages")
    )
    offers = []
    for package in packages:
        prices = sorted(
            (
                Price(
                    period=BillingPeriod(p.period),
                    months=p.months,
                    currency=p.currency,
                    price_minor=p.price_minor,
                    setup_fee_minor=p.setup_fee_minor,
                    trial_days=p.trial_days,
                )
                for p in periods
                if p.package_id == package.id
            ),
            key=lambda p: (p.currency, p.months),
        )
        allowed = tuple(
            Addon(
                slug=a.slug,
                name_en=a.name_en,
                name_ar=a.name_ar,
                description_en=a.description_en,
                description_ar=a.description_ar,
                price_minor=a.price_minor,
                currency=a.currency,
                billing=str(a.billing),
            )
            for a in addons
            if any(p.id == package.id for p in a.packages)
        )
        offers.append(
            Offer(
                slug=package.slug,
                code=package.code,
                name_en=package.name_en,
                name_ar=package.name_ar,
                description_en=package.description_en,
                description_ar=package.description_ar,
                included_users=package.included_users,
                storage_gb=package.storage_gb,
                backup_schedule=package.backup_schedule,
                modules=tuple(package.tryton_modules or ()),
                prices=tuple(prices),
                addons=allowed,
            )
        )
    currencies = sorted({p.currency for o in offers for p in o.prices})
    used_periods = sorted({p.period for o in offers for p in o.prices}, key=PERIOD_ORDER.get)
    return Catalog(tuple(offers), tuple(currencies), tuple(used_periods), next(_loads))


async def active_packages() -> list[Package]:
    return await Package.filter(is_active=True, is_public=True).order_by("sort_order")
