"""What a renewal batch reads and writes, for hundreds of subscriptions at a time.

``Prices`` loads what a batch is priced from in a few queries and prices each renewal with
``pricing.compute_quote``. ``Rows`` writes many rows in one ``executemany`` statement on the
transaction's connection: the ORM builds and checks an object per row, which at 100,000
renewals a run costs more than the renewals themselves. The rows are built from values the
batch already holds, in the same shapes ``invoices.issue`` and ``wallet.post`` write; a model
field these column lists do not name is filled with its default, so a new field with a default
does not break the inserts.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum

from tortoise import connections
from tortoise.expressions import F

from managely import i18n
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.addons import AddonApp, AddonBilling, InstalledAddonStatus, UserInstalledAddon
from managely.models.base import new_code
from managely.models.billing import InvoiceKind, InvoiceSequence, InvoiceStatus
from managely.models.catalog import Package, PackagePeriod, PromoCode, TaxRate
from managely.models.subscriptions import Subscription
from managely.services import invoices, pricing, subscriptions
from managely.services.pricing import AddonTerms, ListPrice, Name, TaxTerms

# Columns written, in the order the row tuples give them (created_at and updated_at first).
SUBSCRIPTION = [
    "status",
    "current_period_start",
    "current_period_end",
    "anchor_day",
    "promo_id",
    "promo_cycles_left",
    "past_due_since",
    "suspended_at",
    "cancel_at_period_end",
    "cancelled_at",
]
HISTORY = ["subscription_id", "event", "from_status", "to_status", "detail", "actor_id"]
INVOICE = [
    "code",
    "number",
    "user_id",
    "beneficiary_id",
    "subscription_id",
    "status",
    "kind",
    "currency",
    "subtotal_minor",
    "tax_minor",
    "total_minor",
    "tax_rate_bp",
    "buyer",
    "seller",
    "locale",
    "issued_at",
    "due_at",
    "paid_at",
]
LINE = ["invoice_id", "description", "quantity", "unit_price_minor", "amount_minor", "sort_order"]
LEDGER = [
    "wallet_id",
    "kind",
    "amount_minor",
    "balance_after_minor",
    "reference",
    "idempotency_key",
    "description",
]


def value(item: object) -> object:
    return item.value if isinstance(item, Enum) else item


def as_json(**values: object) -> str:
    return json.dumps(values)


class Rows:
    """``INSERT``/``UPDATE`` of many rows in one statement, in the current transaction."""

    def __init__(self) -> None:
        self.conn = connections.get("default")
        self.pg = self.conn.capabilities.dialect == "postgres"

    def _mark(self, n: int) -> str:
        return f"${n}" if self.pg else "?"

    async def insert(self, model, columns: list[str], rows: list, now: datetime) -> None:
        if not rows:
            return
        extra = _defaults(model, {"id", "created_at", "updated_at", *columns})
        names = ["created_at", "updated_at", *columns, *(name for name, _ in extra)]
        marks = ", ".join(self._mark(i) for i in range(1, len(names) + 1))
        quoted = ", ".join(f'"{name}"' for name in names)
        sql = f'INSERT INTO "{model._meta.db_table}" ({quoted}) VALUES ({marks})'  # noqa: S608
        await self.conn.execute_many(
            sql, [[now, now, *row, *(make() for _, make in extra)] for row in rows]
        )

    async def update(self, model, columns: list[str], rows: list, now: datetime) -> None:
        """``rows``: the values of ``columns``, then the row's id."""
        if not rows:
            return
        sets = ", ".join(f'"{c}" = {self._mark(i)}' for i, c in enumerate(columns, 1))
        last = len(columns) + 1
        sql = (
            f'UPDATE "{model._meta.db_table}" SET {sets}, '  # noqa: S608
            f'"updated_at" = {self._mark(last)} WHERE "id" = {self._mark(last + 1)}'
        )
        await self.conn.execute_many(sql, [[*row[:-1], now, row[-1]] for row in rows])


def _defaults(model, given: set[str]) -> list[tuple[str, object]]:
    """(column, value maker) for the model's other non-null fields that have a default."""
    extra = []
    for name, column in model._meta.fields_db_projection.items():
        field = model._meta.fields_map[name]
        if column in given or field.null or field.default is None:
            continue
        default = field.default

        def make(field=field, default=default):
            return field.to_db_value(default() if callable(default) else default, model)

        extra.append((column, make))
    return extra


# --- invoices and ledger entries --------------------------------------------------------------


async def take_numbers(count: int, year: int, prefix: str = invoices.INVOICE_PREFIX) -> list[str]:
    """``count`` consecutive invoice numbers of the year's sequence, taken at once (the same
    locked increment as ``invoices.next_number``); call inside the transaction using them."""
    taken = 0
    if not await InvoiceSequence.exists(prefix=prefix, year=year):
        await invoices.next_number(prefix, year)  # makes the year's row and takes one for us
        taken = 1
    if count > taken:
        await InvoiceSequence.filter(prefix=prefix, year=year).update(
            last_number=F("last_number") + (count - taken)
        )
    last = (await InvoiceSequence.get(prefix=prefix, year=year)).last_number
    return [f"{prefix}-{year}-{n:06d}" for n in range(last - count + 1, last + 1)]


class Buyers:
    """Users and companies of a batch, for the buyer block of their invoices."""

    @classmethod
    async def load(cls, rows: list[Subscription]) -> Buyers:
        self = cls()
        self.users = {u.id: u for u in await User.filter(id__in={s.user_id for s in rows})}
        self.companies = {
            c.id: c
            for c in await ServiceBeneficiary.filter(id__in={s.beneficiary_id for s in rows})
        }
        self.seller = as_json(**invoices._seller())
        return self

    def invoice_row(self, subscription: Subscription, quote, number: str, now: datetime) -> tuple:
        """A paid invoice as ``invoices.issue`` writes it (``INVOICE`` columns)."""
        user = self.users[subscription.user_id]
        company = self.companies.get(subscription.beneficiary_id)
        totals = pricing.invoice_totals(quote)
        return (
            new_code(),
            number,
            user.id,
            subscription.beneficiary_id,
            subscription.id,
            InvoiceStatus.PAID.value,
            InvoiceKind.INVOICE.value,
            totals["currency"],
            totals["subtotal_minor"],
            totals["tax_minor"],
            totals["total_minor"],
            totals["tax_rate_bp"],
            as_json(**invoices._buyer(user, company)),
            self.seller,
            user.locale if user.locale in i18n.LOCALES else i18n.DEFAULT_LOCALE,
            now,
            now,
            now,
        )


def invoice_lines(quote: pricing.Quote, locale: str, rendered: dict) -> list[tuple]:
    """The lines of ``quote`` in ``locale`` (``LINE`` columns but the invoice). A batch's
    renewals share a few shapes; each is rendered once per locale into ``rendered``."""
    shape = (
        locale,
        quote.package_id,
        quote.period,
        quote.promo_code,
        quote.tax_name,
        quote.tax_rate_bp,
        tuple(
            (n.kind, n.amount_minor, n.quantity, n.unit_price_minor, n.addon_id)
            for n in quote.lines
        ),
    )
    if shape not in rendered:
        with i18n.use_locale(locale):
            rendered[shape] = [
                tuple(line[name] for name in LINE[1:]) for line in pricing.invoice_lines(quote)
            ]
    return rendered[shape]


# --- prices -----------------------------------------------------------------------------------


class Prices:
    """The rows a batch's renewals are priced from, loaded once per batch."""

    @classmethod
    async def load(cls, rows: list[Subscription]) -> Prices:
        self = cls()
        self.periods = {
            p.id: p for p in await PackagePeriod.filter(id__in={s.period_id for s in rows})
        }
        self.packages = {p.id: p for p in await Package.filter(id__in={s.package_id for s in rows})}
        promo_ids = {s.promo_id for s in rows if s.promo_id}
        self.promos = {
            p.id: p for p in await PromoCode.filter(id__in=promo_ids).prefetch_related("packages")
        }
        countries = await ServiceBeneficiary.filter(
            id__in={s.beneficiary_id for s in rows}
        ).values_list("id", "country")
        self.countries = {k: (v or "").strip().upper() for k, v in countries}
        self.taxes = {
            t.country: TaxTerms(t.country, t.rate_bp, t.name)
            for t in await TaxRate.filter(country__in=set(self.countries.values()))
        }
        self.addons = await _recurring_addons([s.id for s in rows])
        return self

    def quote(self, subscription: Subscription, at: datetime) -> pricing.Quote:
        """One renewal: the agreed price of the package for its period (special prices were
        applied when it was agreed), the promo for its remaining cycles, recurring add-ons
        sold in the subscription's currency, and the tax of the company's country."""
        period = self.periods[subscription.period_id]
        package = self.packages[subscription.package_id]
        promo = self.promos.get(subscription.promo_id)
        terms, cycle = subscriptions.promo_terms(
            subscription, promo, [p.id for p in promo.packages] if promo else ()
        )
        price = ListPrice(
            package_id=package.id,
            package_name=Name(package.name_en, package.name_ar),
            period=period.period,
            months=period.months,
            currency=subscription.currency,
            price_minor=subscription.price_minor,
        )
        addons = [
            a for a in self.addons.get(subscription.id, ()) if a.currency == subscription.currency
        ]
        return pricing.compute_quote(
            price,
            at=at,
            promo=terms,
            addons=addons,
            tax=self.taxes.get(self.countries.get(subscription.beneficiary_id, "")),
            new_subscription=False,
            cycle=cycle,
        )


async def _recurring_addons(subscription_ids: list[int]) -> dict[int, list[AddonTerms]]:
    """The recurring add-ons installed on the subscriptions' systems, per subscription."""
    installed = await UserInstalledAddon.filter(
        launch__subscription_id__in=subscription_ids,
        status=InstalledAddonStatus.INSTALLED,
        addon__billing=AddonBilling.RECURRING,
    ).values_list("launch__subscription_id", "addon_id")
    addons = {a.id: a for a in await AddonApp.filter(id__in={a for _, a in installed})}
    found: dict[int, list[AddonTerms]] = {}
    for subscription_id, addon_id in installed:
        addon = addons[addon_id]
        found.setdefault(subscription_id, []).append(
            AddonTerms(
                id=addon.id,
                name=Name(addon.name_en, addon.name_ar),
                price_minor=addon.price_minor,
                currency=addon.currency.upper(),
                billing=AddonBilling.RECURRING,
                sort_order=addon.sort_order,
            )
        )
    return found
