"""Pricing: the one place a price is made, for the catalog, checkout, invoices and renewals.

``compute_quote`` is pure (plain values in, a ``Quote`` out, no database, no clock), so property
tests run it thousands of times; ``quote`` loads the rows and calls it.

The order is fixed: the list price of (package, period, currency); a valid special price for the
customer replaces it; a promo code discounts what is left; add-ons and the setup fee are added
undiscounted; tax is charged on the sum of all that.

Rounding: each line is computed from integers in exact fractions and rounded once, to the minor
unit, half up (halves away from zero); subtotal, discount and total are integer sums of lines,
and tax is one line rounded once on the integer subtotal. So the lines always add up to the
total, and an invoice built from a quote's lines matches the cart to the minor unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from babel.support import LazyProxy

from managely.i18n import format_number, localized
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.addons import AddonApp, AddonBilling
from managely.models.catalog import (
    BillingPeriod,
    Package,
    PackagePeriod,
    PromoCode,
    PromoKind,
    PromoRedemption,
    SpecialPriceKind,
    SpecialPricing,
    TaxRate,
)
from managely.services.errors import ValidationError

BP = 10_000  # basis points in a whole

PERIOD_LABELS = {
    BillingPeriod.MONTHLY: _l("monthly"),
    BillingPeriod.QUARTERLY: _l("quarterly"),
    BillingPeriod.SEMIANNUAL: _l("every six months"),
    BillingPeriod.YEARLY: _l("yearly"),
}
SPECIAL_LABEL = _l("Special price for your account")
SETUP_FEE_LABEL = _l("Setup fee")

PACKAGE_WITHDRAWN = _l("This package is no longer sold.")
UNKNOWN_PERIOD = _l("Choose a billing period.")
PROMO_UNKNOWN = _l("This promo code does not exist. Check it and try again.")
PROMO_INACTIVE = _l("This promo code is no longer available.")
PROMO_NOT_YET = _l("This promo code is not valid yet.")
PROMO_EXPIRED = _l("This promo code has expired.")
PROMO_USED_UP = _l("This promo code has been used up.")
PROMO_ALREADY_USED = _l("You have already used this promo code.")
PROMO_NOT_FOR_PACKAGE = _l("This promo code does not apply to this package.")
PROMO_NOT_FOR_PERIOD = _l("This promo code does not apply to this billing period.")


def round_half_up(value: Fraction | int) -> int:
    """The one rounding of money: to the nearest minor unit, halves away from zero."""
    magnitude = math.floor(abs(Fraction(value)) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def _share(amount: int, basis_points: int) -> int:
    """``basis_points`` of ``amount``, the rate held to 0–100 % so a discount never overshoots."""
    return round_half_up(Fraction(amount * min(max(basis_points, 0), BP), BP))


def _within(at: datetime, start: datetime | None, end: datetime | None) -> bool:
    """Windows include their start and exclude their end."""
    return (start is None or start <= at) and (end is None or at < end)


# Inputs of the pure core: rows as plain values.


@dataclass(frozen=True)
class Name:
    """A catalog name in each locale; labels show it in the reader's locale."""

    name_en: str
    name_ar: str = ""

    def lazy(self) -> LazyProxy:
        return LazyProxy(localized, self, "name", enable_cache=False)


@dataclass(frozen=True)
class ListPrice:
    """One active PackagePeriod: the list price of a package for a period in a currency."""

    package_id: int
    package_name: Name
    period: BillingPeriod
    months: int
    currency: str
    price_minor: int
    setup_fee_minor: int = 0


@dataclass(frozen=True)
class SpecialTerms:
    """A SpecialPricing row of this customer for this package."""

    id: int
    kind: SpecialPriceKind
    value: int
    period: BillingPeriod | None = None  # None: every period
    currency: str | None = None  # a fixed price needs one; a percentage may narrow to one
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def applies(self, price: ListPrice, at: datetime) -> bool:
        if self.period is not None and self.period != price.period:
            return False
        if self.currency != price.currency and (
            self.currency is not None or self.kind is SpecialPriceKind.FIXED
        ):
            return False
        return _within(at, self.valid_from, self.valid_until)

    def price_for(self, list_price: int) -> int:
        # A deal for the customer: never above the list price, never below zero.
        if self.kind is SpecialPriceKind.FIXED:
            return min(max(self.value, 0), list_price)
        return list_price - _share(list_price, self.value)


@dataclass(frozen=True)
class PromoTerms:
    """A PromoCode row, with its packages and how often this customer has redeemed it."""

    id: int
    code: str
    kind: PromoKind
    value: int
    currency: str | None = None  # required for a fixed amount
    package_ids: frozenset[int] = frozenset()  # empty: every package
    periods: frozenset[str] = frozenset()  # empty: every period
    max_uses: int | None = None
    uses_count: int = 0
    per_user_max: int = 1
    user_redemptions: int | None = None  # None: no customer known (an anonymous preview)
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    first_n_cycles: int | None = None  # None: every cycle
    is_active: bool = True


@dataclass(frozen=True)
class AddonTerms:
    """An AddonApp row. A recurring price is per month, charged for every month of the period;
    a one-time price is charged with a new subscription only."""

    id: int
    name: Name
    price_minor: int
    currency: str
    billing: AddonBilling
    sort_order: int = 0


@dataclass(frozen=True)
class TaxTerms:
    country: str
    rate_bp: int
    name: str  # printed as is, e.g. "VAT"


# The result.


class LineKind(StrEnum):
    BASE = "base"
    SPECIAL = "special"
    PROMO = "promo"
    ADDON = "addon"
    SETUP_FEE = "setup_fee"
    TAX = "tax"


@dataclass(frozen=True)
class QuoteLine:
    kind: LineKind
    label: LazyProxy
    amount_minor: int  # signed: special and promo lines are negative
    quantity: int = 1
    unit_price_minor: int | None = None  # None: the amount (quantity 1)
    addon_id: int | None = None

    def __post_init__(self) -> None:
        if self.unit_price_minor is None:
            object.__setattr__(self, "unit_price_minor", self.amount_minor)


@dataclass(frozen=True)
class Quote:
    currency: str
    package_id: int
    period: BillingPeriod
    months: int
    lines: tuple[QuoteLine, ...]
    list_price_minor: int  # the package's list price for the period
    package_price_minor: int  # after special pricing, before the promo
    subtotal_minor: int  # every line but tax: what tax is charged on
    discount_minor: int  # special pricing and promo together, as a positive amount
    tax_minor: int
    total_minor: int
    tax_rate_bp: int = 0
    tax_name: str = ""
    tax_country: str | None = None
    special_pricing_id: int | None = None
    promo_id: int | None = None
    promo_code: str | None = None
    promo_discount_minor: int = 0  # what a PromoRedemption records


# The pure core.


def compute_quote(
    price: ListPrice,
    *,
    at: datetime,
    specials: Iterable[SpecialTerms] = (),
    promo: PromoTerms | None = None,
    addons: Iterable[AddonTerms] = (),
    tax: TaxTerms | None = None,
    new_subscription: bool = True,
    cycle: int = 1,
) -> Quote:
    """Price one period of a package. ``new_subscription`` adds the one-time charges (setup
    fee, one-time add-ons) and checks the promo code as a redemption: it raises
    ``ValidationError(field="promo_code")`` when the code cannot be used. A renewal
    (``new_subscription=False``) keeps an already redeemed promo for its first cycles while it
    still fits the package, period and currency, and never raises over it.
    ``cycle`` counts paid periods from 1."""
    _check_inputs(price, cycle)
    special = _best_special(specials, price, at)
    package_price = price.price_minor if special is None else special.price_for(price.price_minor)
    lines = [QuoteLine(LineKind.BASE, _base_label(price), price.price_minor)]
    if package_price != price.price_minor:
        lines.append(QuoteLine(LineKind.SPECIAL, SPECIAL_LABEL, package_price - price.price_minor))
    promo_discount = _promo_discount(promo, price, package_price, at, new_subscription, cycle)
    if promo_discount:
        label = _l("Promo code %(code)s", code=promo.code)
        lines.append(QuoteLine(LineKind.PROMO, label, -promo_discount))
    lines += _addon_lines(addons, price, new_subscription)
    if new_subscription and price.setup_fee_minor:
        lines.append(QuoteLine(LineKind.SETUP_FEE, SETUP_FEE_LABEL, price.setup_fee_minor))
    return _with_tax(
        lines,
        tax,
        price=price,
        package_price=package_price,
        special_id=special.id if special else None,
        promo=promo if promo_discount is not None else None,
        promo_discount=promo_discount or 0,
    )


def _check_inputs(price: ListPrice, cycle: int) -> None:
    # Bad rows or a caller's bug, not a customer's mistake: fail loudly.
    if price.price_minor < 0 or price.setup_fee_minor < 0 or price.months < 1:
        raise ValueError(f"invalid list price {price!r}")
    if cycle < 1:
        raise ValueError(f"cycles count from 1, got {cycle}")


def _base_label(price: ListPrice) -> LazyProxy:
    return _l(
        "%(package)s (%(period)s)",
        package=price.package_name.lazy(),
        period=PERIOD_LABELS[price.period],
    )


def _best_special(
    specials: Iterable[SpecialTerms], price: ListPrice, at: datetime
) -> SpecialTerms | None:
    """Of the deals valid now, the lowest price wins; the newest breaks a tie."""
    valid = [s for s in specials if s.applies(price, at)]
    if not valid:
        return None
    return min(valid, key=lambda s: (s.price_for(price.price_minor), -s.id))


def _promo_problem(
    promo: PromoTerms, price: ListPrice, at: datetime, redeeming: bool
) -> LazyProxy | None:
    """Why ``promo`` cannot be used here (a message), or None."""
    if redeeming:
        if not promo.is_active:
            return PROMO_INACTIVE
        if promo.starts_at is not None and at < promo.starts_at:
            return PROMO_NOT_YET
        if promo.expires_at is not None and at >= promo.expires_at:
            return PROMO_EXPIRED
        if promo.max_uses is not None and promo.uses_count >= promo.max_uses:
            return PROMO_USED_UP
        if promo.user_redemptions is not None and promo.user_redemptions >= promo.per_user_max:
            return PROMO_ALREADY_USED
    if promo.package_ids and price.package_id not in promo.package_ids:
        return PROMO_NOT_FOR_PACKAGE
    if promo.periods and price.period not in promo.periods:
        return PROMO_NOT_FOR_PERIOD
    if promo.kind is PromoKind.FIXED and promo.currency != price.currency:
        return _l(
            "This promo code does not apply to prices in %(currency)s.", currency=price.currency
        )
    return None


def _promo_discount(
    promo: PromoTerms | None,
    price: ListPrice,
    base: int,
    at: datetime,
    new_subscription: bool,
    cycle: int,
) -> int | None:
    """The promo's discount on ``base`` (0 is applied, None is not applied)."""
    if promo is None:
        return None
    problem = _promo_problem(promo, price, at, redeeming=new_subscription)
    if problem is not None:
        if new_subscription:
            raise ValidationError(problem, field="promo_code")
        return None  # a renewal quietly stops discounting; the clock has nobody to tell
    if promo.first_n_cycles is not None and cycle > promo.first_n_cycles:
        return None
    if promo.kind is PromoKind.PERCENT:
        return _share(base, promo.value)
    return min(max(promo.value, 0), base)


def _addon_lines(
    addons: Iterable[AddonTerms], price: ListPrice, new_subscription: bool
) -> list[QuoteLine]:
    # A set, in catalog order: the order they were picked in changes nothing.
    chosen = sorted({a.id: a for a in addons}.values(), key=lambda a: (a.sort_order, a.id))
    lines = []
    for addon in chosen:
        if addon.price_minor < 0:
            raise ValueError(f"invalid add-on price {addon!r}")
        if addon.currency != price.currency:
            message = _l(
                "%(addon)s is not sold in %(currency)s.",
                addon=addon.name.lazy(),
                currency=price.currency,
            )
            raise ValidationError(message, field="addons")
        if addon.billing is AddonBilling.RECURRING:
            label = _l("%(addon)s add-on", addon=addon.name.lazy())
            amount, quantity = addon.price_minor * price.months, price.months
        elif new_subscription:
            label = _l("%(addon)s add-on (one-time)", addon=addon.name.lazy())
            amount, quantity = addon.price_minor, 1
        else:
            continue
        lines.append(
            QuoteLine(LineKind.ADDON, label, amount, quantity, addon.price_minor, addon.id)
        )
    return lines


def _with_tax(
    lines: list[QuoteLine],
    tax: TaxTerms | None,
    *,
    price: ListPrice,
    package_price: int,
    special_id: int | None,
    promo: PromoTerms | None,
    promo_discount: int,
) -> Quote:
    subtotal = sum(line.amount_minor for line in lines)
    rate = tax.rate_bp if tax else 0
    if rate < 0:
        raise ValueError(f"invalid tax rate {tax!r}")
    tax_minor = round_half_up(Fraction(subtotal * rate, BP))
    if tax_minor:
        percent = LazyProxy(format_number, Decimal(rate) / 100, enable_cache=False)
        label = _l("%(tax)s %(rate)s%%", tax=tax.name, rate=percent)
        lines.append(QuoteLine(LineKind.TAX, label, tax_minor))
    return Quote(
        currency=price.currency,
        package_id=price.package_id,
        period=price.period,
        months=price.months,
        lines=tuple(lines),
        list_price_minor=price.price_minor,
        package_price_minor=package_price,
        subtotal_minor=subtotal,
        discount_minor=price.price_minor - package_price + promo_discount,
        tax_minor=tax_minor,
        total_minor=subtotal + tax_minor,
        tax_rate_bp=rate,
        tax_name=tax.name if tax else "",
        tax_country=tax.country if tax else None,
        special_pricing_id=special_id,
        promo_id=promo.id if promo else None,
        promo_code=promo.code if promo else None,
        promo_discount_minor=promo_discount,
    )


# Invoices are built from a quote's lines, so they match the cart to the minor unit.


def invoice_totals(quote: Quote) -> dict[str, object]:
    """The money fields of an ``Invoice`` for ``quote``."""
    return {
        "currency": quote.currency,
        "subtotal_minor": quote.subtotal_minor,
        "tax_minor": quote.tax_minor,
        "total_minor": quote.total_minor,
        "tax_rate_bp": quote.tax_rate_bp,
    }


def invoice_lines(quote: Quote) -> list[dict[str, object]]:
    """``InvoiceLine`` values for every line but tax (the invoice holds tax in ``tax_minor``):
    they add up to ``subtotal_minor``. Descriptions render in the current locale, so call this
    inside ``use_locale(invoice.locale)``."""
    return [
        {
            "description": str(line.label)[:255],
            "quantity": line.quantity,
            "unit_price_minor": line.unit_price_minor,
            "amount_minor": line.amount_minor,
            "sort_order": order,
        }
        for order, line in enumerate(quote.lines)
        if line.kind is not LineKind.TAX
    ]


# Loading from the database.


async def quote(
    package: Package,
    period: BillingPeriod | str,
    currency: str,
    *,
    user: User | None = None,
    beneficiary: ServiceBeneficiary | None = None,
    addons: Sequence[AddonApp] = (),
    promo_code: str | None = None,
    new_subscription: bool = True,
    cycle: int = 1,
    at: datetime | None = None,
) -> Quote:
    """Price ``package`` for one ``period`` in ``currency``, from the database.

    ``user`` brings their special prices and their promo redemptions; ``beneficiary`` the
    country taxed (no country or no rate for it: no tax). A new subscription may only pick
    active add-ons offered with the package. Raises ``ValidationError`` with ``field`` set to
    "package", "period", "currency", "promo_code" or "addons". See ``compute_quote``."""
    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    price = await _list_price(package, period, currency)
    return compute_quote(
        price,
        at=at,
        specials=await _special_terms(user, package),
        promo=await _promo_terms(promo_code, user),
        addons=await _addon_terms(addons, package, new_subscription),
        tax=await _tax_terms(beneficiary),
        new_subscription=new_subscription,
        cycle=cycle,
    )


async def _list_price(package: Package, period: BillingPeriod | str, currency: str) -> ListPrice:
    if not package.is_active:
        raise ValidationError(PACKAGE_WITHDRAWN, field="package")
    try:
        period = BillingPeriod(period)
    except ValueError:
        raise ValidationError(UNKNOWN_PERIOD, field="period") from None
    currency = currency.strip().upper()
    active = PackagePeriod.filter(package_id=package.id, currency=currency, is_active=True)
    row = await active.filter(period=period).first()
    if row is None and await active.exists():
        message = _l(
            "This package is not sold %(period)s in %(currency)s.",
            period=PERIOD_LABELS[period],
            currency=currency,
        )
        raise ValidationError(message, field="period")
    if row is None:
        message = _l("This package is not sold in %(currency)s.", currency=currency)
        raise ValidationError(message, field="currency")
    return ListPrice(
        package_id=package.id,
        package_name=Name(package.name_en, package.name_ar),
        period=period,
        months=row.months,
        currency=currency,
        price_minor=row.price_minor,
        setup_fee_minor=row.setup_fee_minor,
    )


async def _special_terms(user: User | None, package: Package) -> list[SpecialTerms]:
    if user is None:
        return []
    rows = await SpecialPricing.filter(user_id=user.id, package_id=package.id)
    return [
        SpecialTerms(
            id=row.id,
            kind=SpecialPriceKind(row.kind),
            value=row.value,
            period=BillingPeriod(row.period) if row.period else None,
            currency=row.currency.upper() if row.currency else None,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
        )
        for row in rows
    ]


async def _promo_terms(code: str | None, user: User | None) -> PromoTerms | None:
    # Codes are stored upper-case; customers type them in any case, with stray spaces.
    code = (code or "").strip().upper()
    if not code:
        return None
    row = await PromoCode.get_or_none(code=code)
    if row is None:
        raise ValidationError(PROMO_UNKNOWN, field="promo_code")
    package_ids = await row.packages.all().values_list("id", flat=True)
    used = None
    if user is not None:
        used = await PromoRedemption.filter(promo_id=row.id, user_id=user.id).count()
    return PromoTerms(
        id=row.id,
        code=row.code,
        kind=PromoKind(row.kind),
        value=row.value,
        currency=row.currency.upper() if row.currency else None,
        package_ids=frozenset(package_ids),
        periods=frozenset(row.periods or ()),
        max_uses=row.max_uses,
        uses_count=row.uses_count,
        per_user_max=row.per_user_max,
        user_redemptions=used,
        starts_at=row.starts_at,
        expires_at=row.expires_at,
        first_n_cycles=row.first_n_cycles,
        is_active=row.is_active,
    )


async def _addon_terms(
    addons: Sequence[AddonApp], package: Package, new_subscription: bool
) -> list[AddonTerms]:
    if addons and new_subscription:
        ids = [addon.id for addon in addons]
        offered = set(
            await AddonApp.filter(id__in=ids, is_active=True, packages__id=package.id).values_list(
                "id", flat=True
            )
        )
        for addon in addons:
            if addon.id not in offered:
                message = _l(
                    "%(addon)s is not offered with this package.",
                    addon=Name(addon.name_en, addon.name_ar).lazy(),
                )
                raise ValidationError(message, field="addons")
    return [
        AddonTerms(
            id=addon.id,
            name=Name(addon.name_en, addon.name_ar),
            price_minor=addon.price_minor,
            currency=addon.currency.upper(),
            billing=AddonBilling(addon.billing),
            sort_order=addon.sort_order,
        )
        for addon in addons
    ]


async def _tax_terms(beneficiary: ServiceBeneficiary | None) -> TaxTerms | None:
    country = ((beneficiary.country if beneficiary else None) or "").strip().upper()
    if not country:
        return None
    row = await TaxRate.get_or_none(country=country)
    return TaxTerms(country=country, rate_bp=row.rate_bp, name=row.name) if row else None
