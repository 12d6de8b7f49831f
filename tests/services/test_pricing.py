"""Pricing: the table of rules, the invariants every quote keeps, and the rules that need rows
(promo limits, special-price windows, unknown periods and currencies)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from managely.i18n import use_locale
from managely.models.accounts import ServiceBeneficiary
from managely.models.addons import AddonApp, AddonBilling
from managely.models.catalog import (
    PERIOD_MONTHS,
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
from managely.services import pricing
from managely.services.errors import ValidationError
from managely.services.pricing import (
    AddonTerms,
    LineKind,
    ListPrice,
    Name,
    PromoTerms,
    SpecialTerms,
    TaxTerms,
    compute_quote,
)

AT = datetime(2025, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
BUSINESS = Name("Business", "الأعمال")
MONTHLY, YEARLY = BillingPeriod.MONTHLY, BillingPeriod.YEARLY
FIXED, PERCENT = SpecialPriceKind.FIXED, SpecialPriceKind.PERCENT
RECURRING, ONE_TIME = AddonBilling.RECURRING, AddonBilling.ONE_TIME


def list_price(price=10000, *, period=MONTHLY, currency="USD", setup=0, package_id=1):
    return ListPrice(
        package_id=package_id,
        package_name=BUSINESS,
        period=period,
        months=PERIOD_MONTHS[period],
        currency=currency,
        price_minor=price,
        setup_fee_minor=setup,
    )


def special(kind, value, id=1, **terms):
    return SpecialTerms(id=id, kind=kind, value=value, **terms)


def promo(kind, value, **terms):
    return PromoTerms(id=7, code="SPRING", kind=kind, value=value, **terms)


def addon(id, price, billing=RECURRING, currency="USD", sort_order=0):
    return AddonTerms(id, Name(f"Addon {id}", f"إضافة {id}"), price, currency, billing, sort_order)


VAT = TaxTerms(country="SA", rate_bp=1500, name="VAT")

B, S, P, A, F, T = (
    LineKind.BASE,
    LineKind.SPECIAL,
    LineKind.PROMO,
    LineKind.ADDON,
    LineKind.SETUP_FEE,
    LineKind.TAX,
)

# (case, list price, compute_quote arguments, expected lines as (kind, amount), total)
CASES = [
    ("list price", list_price(), {}, [(B, 10000)], 10000),
    ("free package", list_price(0), {}, [(B, 0)], 0),
    (
        "fixed special price",
        list_price(),
        {"specials": [special(FIXED, 8000, currency="USD")]},
        [(B, 10000), (S, -2000)],
        8000,
    ),
    (
        "percent special price",
        list_price(),
        {"specials": [special(PERCENT, 2500)]},
        [(B, 10000), (S, -2500)],
        7500,
    ),
    (
        "fixed special price in another currency does not apply",
        list_price(),
        {"specials": [special(FIXED, 8000, currency="EUR")]},
        [(B, 10000)],
        10000,
    ),
    (
        "fixed special price without a currency does not apply",
        list_price(),
        {"specials": [special(FIXED, 8000)]},
        [(B, 10000)],
        10000,
    ),
    (
        "percent special price narrowed to another currency does not apply",
        list_price(),
        {"specials": [special(PERCENT, 2500, currency="EUR")]},
        [(B, 10000)],
        10000,
    ),
    (
        "special price for another period does not apply",
        list_price(),
        {"specials": [special(PERCENT, 2500, period=YEARLY)]},
        [(B, 10000)],
        10000,
    ),
    (
        "special price for this period applies",
        list_price(120000, period=YEARLY),
        {"specials": [special(PERCENT, 2500, period=YEARLY)]},
        [(B, 120000), (S, -30000)],
        90000,
    ),
    (
        "special price starting now applies",
        list_price(),
        {"specials": [special(PERCENT, 2500, valid_from=AT)]},
        [(B, 10000), (S, -2500)],
        7500,
    ),
    (
        "special price ending now no longer applies",
        list_price(),
        {"specials": [special(PERCENT, 2500, valid_until=AT)]},
        [(B, 10000)],
        10000,
    ),
    (
        "special price not started yet does not apply",
        list_price(),
        {"specials": [special(PERCENT, 2500, valid_from=AT + DAY)]},
        [(B, 10000)],
        10000,
    ),
    (
        "fixed special price above the list price is held to it",
        list_price(),
        {"specials": [special(FIXED, 12000, currency="USD")]},
        [(B, 10000)],
        10000,
    ),
    (
        "percent special price over 100 % is held to free",
        list_price(),
        {"specials": [special(PERCENT, 15000)]},
        [(B, 10000), (S, -10000)],
        0,
    ),
    (
        "the lowest of two special prices wins",
        list_price(),
        {"specials": [special(PERCENT, 1000, id=1), special(FIXED, 7000, id=2, currency="USD")]},
        [(B, 10000), (S, -3000)],
        7000,
    ),
    (
        "percent promo",
        list_price(),
        {"promo": promo(PromoKind.PERCENT, 1000)},
        [(B, 10000), (P, -1000)],
        9000,
    ),
    (
        "fixed promo",
        list_price(),
        {"promo": promo(PromoKind.FIXED, 1500, currency="USD")},
        [(B, 10000), (P, -1500)],
        8500,
    ),
    (
        "fixed promo larger than the price is held to it",
        list_price(),
        {"promo": promo(PromoKind.FIXED, 25000, currency="USD")},
        [(B, 10000), (P, -10000)],
        0,
    ),
    (
        "promo discounts the special price, not the list price",
        list_price(),
        {"specials": [special(PERCENT, 5000)], "promo": promo(PromoKind.PERCENT, 1000)},
        [(B, 10000), (S, -5000), (P, -500)],
        4500,
    ),
    (
        "promo does not discount add-ons or the setup fee",
        list_price(setup=3000),
        {"promo": promo(PromoKind.PERCENT, 10000), "addons": [addon(1, 500)]},
        [(B, 10000), (P, -10000), (A, 500), (F, 3000)],
        3500,
    ),
    (
        "a third off rounds the discount once",
        list_price(100),
        {"promo": promo(PromoKind.PERCENT, 3333)},
        [(B, 100), (P, -33)],
        67,
    ),
    (
        "two thirds off rounds the discount once",
        list_price(100),
        {"promo": promo(PromoKind.PERCENT, 6667)},
        [(B, 100), (P, -67)],
        33,
    ),
    (
        "a half minor unit of discount rounds up",
        list_price(3),
        {"promo": promo(PromoKind.PERCENT, 5000)},
        [(B, 3), (P, -2)],
        1,
    ),
    (
        "promo for the first cycle on a new subscription",
        list_price(),
        {"promo": promo(PromoKind.PERCENT, 1000, first_n_cycles=1)},
        [(B, 10000), (P, -1000)],
        9000,
    ),
    (
        "promo ends after its first cycles",
        list_price(),
        {
            "promo": promo(PromoKind.PERCENT, 1000, first_n_cycles=2),
            "new_subscription": False,
            "cycle": 3,
        },
        [(B, 10000)],
        10000,
    ),
    (
        "renewal keeps a promo since expired and used up, within its cycles",
        list_price(),
        {
            "promo": promo(
                PromoKind.PERCENT,
                1000,
                first_n_cycles=3,
                expires_at=AT - DAY,
                max_uses=1,
                uses_count=1,
                user_redemptions=1,
            ),
            "new_subscription": False,
            "cycle": 2,
        },
        [(B, 10000), (P, -1000)],
        9000,
    ),
    (
        "renewal quietly drops a promo that no longer fits the package",
        list_price(package_id=2),
        {
            "promo": promo(PromoKind.PERCENT, 1000, package_ids=frozenset({1})),
            "new_subscription": False,
            "cycle": 2,
        },
        [(B, 10000)],
        10000,
    ),
    (
        "recurring add-on is charged for every month of the period",
        list_price(100000, period=YEARLY),
        {"addons": [addon(1, 500)]},
        [(B, 100000), (A, 6000)],
        106000,
    ),
    (
        "one-time add-on with a new subscription",
        list_price(),
        {"addons": [addon(2, 2000, ONE_TIME), addon(1, 500)]},
        [(B, 10000), (A, 500), (A, 2000)],
        12500,
    ),
    (
        "one-time add-on is not charged again on renewal",
        list_price(),
        {"addons": [addon(2, 2000, ONE_TIME), addon(1, 500)], "new_subscription": False},
        [(B, 10000), (A, 500)],
        10500,
    ),
    (
        "the same add-on twice is charged once",
        list_price(),
        {"addons": [addon(1, 500), addon(1, 500)]},
        [(B, 10000), (A, 500)],
        10500,
    ),
    ("setup fee on a new subscription", list_price(setup=4900), {}, [(B, 10000), (F, 4900)], 14900),
    (
        "no setup fee on renewal",
        list_price(setup=4900),
        {"new_subscription": False},
        [(B, 10000)],
        10000,
    ),
    ("tax", list_price(), {"tax": VAT}, [(B, 10000), (T, 1500)], 11500),
    (
        "tax on the discounted amount",
        list_price(setup=1000),
        {"tax": VAT, "promo": promo(PromoKind.PERCENT, 5000), "addons": [addon(1, 1000)]},
        [(B, 10000), (P, -5000), (A, 1000), (F, 1000), (T, 1050)],
        8050,
    ),
    ("tax rounds down below a half", list_price(1003), {"tax": VAT}, [(B, 1003), (T, 150)], 1153),
    (
        "tax rounds a half up",
        list_price(100),
        {"tax": replace(VAT, rate_bp=1250)},
        [(B, 100), (T, 13)],
        113,
    ),
    (
        "zero tax rate adds no line",
        list_price(),
        {"tax": replace(VAT, rate_bp=0)},
        [(B, 10000)],
        10000,
    ),
    (
        "everything at once",
        list_price(120000, period=YEARLY, setup=4900),
        {
            "specials": [special(FIXED, 99900, currency="USD", period=YEARLY)],
            "promo": promo(PromoKind.PERCENT, 3333),
            "addons": [addon(1, 1500), addon(2, 2500, ONE_TIME)],
            "tax": VAT,
        },
        [
            (B, 120000),
            (S, -20100),
            (P, -33297),  # 3333 bp of 99900 = 33296.67
            (A, 18000),
            (A, 2500),
            (F, 4900),
            (T, 13800),  # 15 % of 92003 = 13800.45
        ],
        105803,
    ),
]


@pytest.mark.parametrize(
    ("price", "arguments", "lines", "total"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_the_price_follows_the_rules(price, arguments, lines, total):
    quote = compute_quote(price, at=AT, **arguments)
    assert [(line.kind, line.amount_minor) for line in quote.lines] == lines
    assert quote.total_minor == total
    assert_invariants(quote)


def test_it_records_what_checkout_needs():
    quote = compute_quote(
        list_price(),
        at=AT,
        specials=[special(PERCENT, 2000, id=3)],
        promo=promo(PromoKind.FIXED, 500, currency="USD"),
        tax=VAT,
    )
    assert quote.special_pricing_id == 3
    assert (quote.promo_id, quote.promo_code, quote.promo_discount_minor) == (7, "SPRING", 500)
    assert (quote.list_price_minor, quote.package_price_minor) == (10000, 8000)
    assert (quote.subtotal_minor, quote.discount_minor, quote.tax_minor) == (7500, 2500, 1125)
    assert (quote.tax_rate_bp, quote.tax_name, quote.tax_country) == (1500, "VAT", "SA")


def test_a_promo_past_its_cycles_is_not_recorded():
    quote = compute_quote(
        list_price(),
        at=AT,
        promo=promo(PromoKind.PERCENT, 1000, first_n_cycles=1),
        new_subscription=False,
        cycle=2,
    )
    assert (quote.promo_id, quote.promo_discount_minor, quote.discount_minor) == (None, 0, 0)


REFUSED_PROMOS = [
    ("inactive", {"is_active": False}, "no longer available"),
    ("not yet valid", {"starts_at": AT + timedelta(seconds=1)}, "not valid yet"),
    ("expired", {"expires_at": AT}, "has expired"),
    ("used up", {"max_uses": 5, "uses_count": 5}, "has been used up"),
    ("used by this customer", {"per_user_max": 2, "user_redemptions": 2}, "already used"),
    ("for another package", {"package_ids": frozenset({2, 3})}, "does not apply to this package"),
    ("for another period", {"periods": frozenset({"yearly"})}, "this billing period"),
]


@pytest.mark.parametrize(
    ("terms", "message"), [pytest.param(*case[1:], id=case[0]) for case in REFUSED_PROMOS]
)
def test_it_refuses_a_promo_that_cannot_be_redeemed(terms, message):
    with pytest.raises(ValidationError, match=message) as caught:
        compute_quote(list_price(), at=AT, promo=promo(PromoKind.PERCENT, 1000, **terms))
    assert caught.value.field == "promo_code"


def test_it_refuses_a_fixed_promo_in_another_currency():
    with pytest.raises(ValidationError, match="prices in USD") as caught:
        compute_quote(list_price(), at=AT, promo=promo(PromoKind.FIXED, 500, currency="EUR"))
    assert caught.value.field == "promo_code"


@pytest.mark.parametrize(
    "terms",
    [
        {"starts_at": AT, "expires_at": AT + timedelta(seconds=1)},
        {"max_uses": 5, "uses_count": 4, "per_user_max": 2, "user_redemptions": 1},
        {"user_redemptions": None},  # nobody signed in yet: checked again at checkout
        {"package_ids": frozenset({1, 2}), "periods": frozenset({"monthly", "yearly"})},
    ],
)
def test_it_accepts_a_promo_at_the_edge_of_its_limits(terms):
    quote = compute_quote(list_price(), at=AT, promo=promo(PromoKind.PERCENT, 1000, **terms))
    assert quote.promo_discount_minor == 1000


def test_it_refuses_an_addon_in_another_currency():
    with pytest.raises(ValidationError, match="Addon 1 is not sold in SAR") as caught:
        compute_quote(list_price(currency="SAR"), at=AT, addons=[addon(1, 500, currency="USD")])
    assert caught.value.field == "addons"


@pytest.mark.parametrize(
    ("price", "cycle"),
    [(list_price(-1), 1), (list_price(setup=-1), 1), (list_price(), 0)],
)
def test_it_fails_loudly_on_impossible_inputs(price, cycle):
    with pytest.raises(ValueError):
        compute_quote(price, at=AT, cycle=cycle)


def test_labels_are_translated_when_shown():
    quote = compute_quote(list_price(), at=AT, tax=replace(VAT, rate_bp=1250))
    assert [str(line.label) for line in quote.lines] == ["Business (monthly)", "VAT 12.5%"]
    with use_locale("ar"):
        assert "الأعمال" in str(quote.lines[0].label)


def test_invoice_lines_match_the_quote():
    quote = compute_quote(
        list_price(120000, period=YEARLY, setup=4900),
        at=AT,
        promo=promo(PromoKind.PERCENT, 1000),
        addons=[addon(1, 1500)],
        tax=VAT,
    )
    lines = pricing.invoice_lines(quote)
    assert [(row["quantity"], row["unit_price_minor"], row["amount_minor"]) for row in lines] == [
        (1, 120000, 120000),
        (1, -12000, -12000),
        (12, 1500, 18000),
        (1, 4900, 4900),
    ]
    assert [row["description"] for row in lines] == [
        "Business (yearly)",
        "Promo code SPRING",
        "Addon 1 add-on",
        "Setup fee",
    ]
    assert pricing.invoice_totals(quote) == {
        "currency": "USD",
        "subtotal_minor": 130900,
        "tax_minor": 19635,
        "total_minor": 150535,
        "tax_rate_bp": 1500,
    }


# Invariants, over generated inputs (no database: the pure core only).

FAST = settings(max_examples=200, deadline=None, database=None)
CURRENCIES = st.sampled_from(["USD", "EUR"])
MOMENTS = st.none() | st.integers(-3, 3).map(lambda days: AT + days * DAY)
MONEY = st.integers(0, 10**7)


@st.composite
def list_prices(draw):
    period = draw(st.sampled_from(BillingPeriod))
    return ListPrice(
        package_id=draw(st.integers(1, 3)),
        package_name=BUSINESS,
        period=period,
        months=PERIOD_MONTHS[period],
        currency=draw(CURRENCIES),
        price_minor=draw(MONEY),
        setup_fee_minor=draw(st.integers(0, 10**5)),
    )


SPECIALS = st.builds(
    SpecialTerms,
    id=st.integers(1, 1000),
    kind=st.sampled_from(SpecialPriceKind),
    value=st.integers(-100, 2 * 10**7),  # out-of-range values must be held in range too
    period=st.none() | st.sampled_from(BillingPeriod),
    currency=st.none() | CURRENCIES,
    valid_from=MOMENTS,
    valid_until=MOMENTS,
)
PROMOS = st.builds(
    PromoTerms,
    id=st.integers(1, 1000),
    code=st.just("CODE"),
    kind=st.sampled_from(PromoKind),
    value=st.integers(-100, 2 * 10**7),
    currency=st.none() | CURRENCIES,
    package_ids=st.frozensets(st.integers(1, 3), max_size=2),
    periods=st.frozensets(st.sampled_from([p.value for p in BillingPeriod]), max_size=2),
    max_uses=st.none() | st.integers(0, 3),
    uses_count=st.integers(0, 3),
    per_user_max=st.integers(0, 2),
    user_redemptions=st.none() | st.integers(0, 2),
    starts_at=MOMENTS,
    expires_at=MOMENTS,
    first_n_cycles=st.none() | st.integers(0, 3),
    is_active=st.booleans(),
)
TAXES = st.none() | st.builds(
    TaxTerms, country=st.just("SA"), rate_bp=st.integers(0, 3000), name=st.just("VAT")
)


def promos_for(price):
    """No promo, any promo (often refused), or one that fits ``price`` (so discounts happen)."""

    def choose(which):
        if which == "none":
            return st.none()
        if which == "any":
            return PROMOS
        return PROMOS.map(
            lambda promo: replace(
                promo,
                currency=price.currency,
                package_ids=frozenset(),
                periods=frozenset(),
                max_uses=None,
                user_redemptions=None,
                starts_at=None,
                expires_at=None,
                first_n_cycles=None,
                is_active=True,
            )
        )

    return choose


@st.composite
def orders(draw):
    """Everything a quote takes, add-ons in the quote's currency."""
    price = draw(list_prices())
    addons = draw(
        st.lists(
            st.builds(
                AddonTerms,
                id=st.integers(1, 1000),
                name=st.just(Name("Extra", "إضافي")),
                price_minor=st.integers(0, 10**5),
                currency=st.just(price.currency),
                billing=st.sampled_from(AddonBilling),
                sort_order=st.integers(0, 3),
            ),
            max_size=5,
            unique_by=lambda a: a.id,
        )
    )
    return price, {
        "at": AT,
        "specials": draw(st.lists(SPECIALS, max_size=4)),
        "promo": draw(st.sampled_from(["none", "any", "fitting"]).flatmap(promos_for(price))),
        "addons": addons,
        "tax": draw(TAXES),
        "new_subscription": draw(st.booleans()),
        "cycle": draw(st.integers(1, 5)),
    }


def quote_or_refusal(price, arguments):
    """The quote, or None when the promo code is refused (which is only ever the promo)."""
    try:
        return compute_quote(price, **arguments)
    except ValidationError as refused:
        assert refused.field == "promo_code"
        assert arguments["promo"] is not None and arguments["new_subscription"]
        return None


def assert_invariants(quote):
    amounts = [line.amount_minor for line in quote.lines]
    assert sum(amounts) == quote.total_minor
    assert quote.subtotal_minor + quote.tax_minor == quote.total_minor
    assert quote.total_minor >= 0 and quote.subtotal_minor >= 0 and quote.tax_minor >= 0
    # Discounts never exceed what they discount.
    assert 0 <= quote.package_price_minor <= quote.list_price_minor
    assert 0 <= quote.promo_discount_minor <= quote.package_price_minor
    assert 0 <= quote.discount_minor <= quote.list_price_minor
    discounts = [line for line in quote.lines if line.kind in (LineKind.SPECIAL, LineKind.PROMO)]
    assert -sum(line.amount_minor for line in discounts) == quote.discount_minor
    assert all(line.amount_minor < 0 for line in discounts)
    others = [line for line in quote.lines if line not in discounts]
    assert all(line.amount_minor >= 0 for line in others)
    assert all(line.amount_minor == line.quantity * line.unit_price_minor for line in quote.lines)
    # Tax: on the discounted subtotal, rounded once.
    exact_tax = Fraction(quote.subtotal_minor * quote.tax_rate_bp, 10_000)
    assert abs(quote.tax_minor - exact_tax) <= Fraction(1, 2)
    assert [line.kind for line in quote.lines].count(LineKind.BASE) == 1
    assert quote.lines[0].kind is LineKind.BASE


@FAST
@given(orders())
def test_every_quote_keeps_the_invariants(order):
    price, arguments = order
    quote = quote_or_refusal(price, arguments)
    if quote is not None:
        assert_invariants(quote)


@FAST
@given(orders(), st.randoms(use_true_random=False))
def test_the_same_order_gives_the_same_quote_in_any_order(order, rng: random.Random):
    price, arguments = order
    first = quote_or_refusal(price, arguments)
    shuffled = dict(arguments)
    for key in ("specials", "addons"):
        shuffled[key] = rng.sample(arguments[key], len(arguments[key]))
    again = quote_or_refusal(price, shuffled)
    assert first == again
    if first is not None:
        assert first.total_minor == again.total_minor


@FAST
@given(orders())
def test_invoice_lines_add_up_to_the_quote(order):
    price, arguments = order
    quote = quote_or_refusal(price, arguments)
    if quote is None:
        return
    lines = pricing.invoice_lines(quote)
    totals = pricing.invoice_totals(quote)
    assert sum(row["amount_minor"] for row in lines) == totals["subtotal_minor"]
    assert totals["subtotal_minor"] + totals["tax_minor"] == totals["total_minor"]
    assert totals["total_minor"] == quote.total_minor
    assert all(row["amount_minor"] == row["quantity"] * row["unit_price_minor"] for row in lines)


@FAST
@given(st.integers(-(10**9), 10**9), st.integers(1, 10**4))
def test_rounding_is_half_up_to_the_minor_unit(numerator, denominator):
    expected = Decimal(numerator) / Decimal(denominator)
    rounded = int(expected.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert pricing.round_half_up(Fraction(numerator, denominator)) == rounded


# Through the database.


@pytest.fixture
async def shop(database):
    pro = await Package.create(slug="pro", name_en="Pro", name_ar="احترافي")
    lite = await Package.create(slug="lite", name_en="Lite", name_ar="خفيف")
    for package, period, price, setup, active in [
        (pro, MONTHLY, 1000, 500, True),
        (pro, YEARLY, 10000, 500, True),
        (pro, BillingPeriod.QUARTERLY, 2900, 0, False),
        (lite, MONTHLY, 400, 0, True),
    ]:
        await PackagePeriod.create(
            package=package,
            period=period,
            months=PERIOD_MONTHS[period],
            currency="USD",
            price_minor=price,
            setup_fee_minor=setup,
            is_active=active,
        )
    crm = await AddonApp.create(
        slug="crm",
        name_en="CRM",
        name_ar="العملاء",
        tryton_module="sale_opportunity",
        price_minor=200,
        currency="USD",
        billing=RECURRING,
    )
    await crm.packages.add(pro)
    await TaxRate.create(country="SA", rate_bp=1500, name="VAT")
    return {"pro": pro, "lite": lite, "crm": crm}


async def make_promo(code="SPRING10", kind=PromoKind.PERCENT, value=1000, **fields):
    return await PromoCode.create(code=code, kind=kind, value=value, **fields)


def field_of(caught):
    return caught.value.field


async def test_it_prices_a_new_subscription_from_the_database(shop, alice):
    company = await ServiceBeneficiary.create(owner=alice, name="Acme", country="sa")
    quote = await pricing.quote(
        shop["pro"], "monthly", "usd", user=alice, beneficiary=company, addons=[shop["crm"]]
    )
    assert [(line.kind, line.amount_minor) for line in quote.lines] == [
        (LineKind.BASE, 1000),
        (LineKind.ADDON, 200),
        (LineKind.SETUP_FEE, 500),
        (LineKind.TAX, 255),
    ]
    assert (quote.currency, quote.total_minor, quote.tax_country) == ("USD", 1955, "SA")


async def test_it_charges_no_tax_without_a_known_country(shop, alice):
    company = await ServiceBeneficiary.create(owner=alice, name="Acme", country="FR")
    quote = await pricing.quote(shop["pro"], YEARLY, "USD", user=alice, beneficiary=company)
    assert (quote.tax_minor, quote.total_minor) == (0, 10500)


@pytest.mark.parametrize(
    ("period", "currency", "field", "message"),
    [
        ("weekly", "USD", "period", "Choose a billing period"),
        ("quarterly", "USD", "period", "not sold quarterly in USD"),
        ("semiannual", "USD", "period", "not sold every six months in USD"),
        ("monthly", "GBP", "currency", "not sold in GBP"),
    ],
)
async def test_it_refuses_a_period_or_currency_it_does_not_sell(
    shop, period, currency, field, message
):
    with pytest.raises(ValidationError, match=message) as caught:
        await pricing.quote(shop["pro"], period, currency)
    assert field_of(caught) == field


async def test_it_refuses_a_withdrawn_package(shop):
    await Package.filter(id=shop["pro"].id).update(is_active=False)
    package = await Package.get(id=shop["pro"].id)
    with pytest.raises(ValidationError, match="no longer sold") as caught:
        await pricing.quote(package, MONTHLY, "USD")
    assert field_of(caught) == "package"


async def test_it_refuses_an_unknown_promo_code(shop, alice):
    with pytest.raises(ValidationError, match="does not exist") as caught:
        await pricing.quote(shop["pro"], MONTHLY, "USD", user=alice, promo_code="NOPE")
    assert field_of(caught) == "promo_code"


async def test_it_matches_promo_codes_in_any_case(shop, alice):
    code = await make_promo()
    quote = await pricing.quote(shop["pro"], MONTHLY, "USD", user=alice, promo_code=" spring10 ")
    assert (quote.promo_id, quote.promo_code, quote.promo_discount_minor) == (
        code.id,
        "SPRING10",
        100,
    )


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"expires_at": -DAY}, "has expired"),
        ({"starts_at": DAY}, "not valid yet"),
    ],
)
async def test_it_refuses_a_promo_outside_its_window(shop, alice, window, message):
    now = datetime.now(UTC)
    await make_promo(**{name: now + offset for name, offset in window.items()})
    with pytest.raises(ValidationError, match=message) as caught:
        await pricing.quote(shop["pro"], MONTHLY, "USD", user=alice, promo_code="SPRING10")
    assert field_of(caught) == "promo_code"


async def test_it_refuses_a_used_up_promo(shop, alice):
    await make_promo(max_uses=2, uses_count=2)
    with pytest.raises(ValidationError, match="used up") as caught:
        await pricing.quote(shop["pro"], MONTHLY, "USD", user=alice, promo_code="SPRING10")
    assert field_of(caught) == "promo_code"


async def test_it_refuses_a_promo_the_customer_already_used(shop, alice, charlie):
    code = await make_promo(per_user_max=1, uses_count=1)
    await PromoRedemption.create(promo=code, user=alice, idempotency_key="promo:1:alice")
    with pytest.raises(ValidationError, match="already used") as caught:
        await pricing.quote(shop["pro"], MONTHLY, "USD", user=alice, promo_code="SPRING10")
    assert field_of(caught) == "promo_code"
    quote = await pricing.quote(shop["pro"], MONTHLY, "USD", user=charlie, promo_code="SPRING10")
    assert quote.promo_id == code.id


async def test_it_refuses_a_promo_for_another_package(shop, alice):
    code = await make_promo()
    await code.packages.add(shop["lite"])
    with pytest.raises(ValidationError, match="this package") as caught:
        await pricing.quote(shop["pro"], MONTHLY, "USD", user=alice, promo_code="SPRING10")
    assert field_of(caught) == "promo_code"
    quote = await pricing.quote(shop["lite"], MONTHLY, "USD", user=alice, promo_code="SPRING10")
    assert quote.total_minor == 360


async def test_it_refuses_a_promo_for_another_period(shop, alice):
    await make_promo(periods=["yearly"])
    with pytest.raises(ValidationError, match="billing period"):
        await pricing.quote(shop["pro"], MONTHLY, "USD", user=alice, promo_code="SPRING10")
    quote = await pricing.quote(shop["pro"], YEARLY, "USD", user=alice, promo_code="SPRING10")
    assert quote.promo_discount_minor == 1000


async def test_a_renewal_keeps_its_promo_after_the_code_expired(shop, alice):
    code = await make_promo(expires_at=datetime.now(UTC) - DAY, first_n_cycles=3)
    await PromoRedemption.create(promo=code, user=alice, idempotency_key="promo:1:alice")
    renewal = await pricing.quote(
        shop["pro"],
        MONTHLY,
        "USD",
        user=alice,
        promo_code="SPRING10",
        new_subscription=False,
        cycle=3,
    )
    assert (renewal.total_minor, renewal.promo_id) == (900, code.id)
    later = await pricing.quote(
        shop["pro"],
        MONTHLY,
        "USD",
        user=alice,
        promo_code="SPRING10",
        new_subscription=False,
        cycle=4,
    )
    assert (later.total_minor, later.promo_id) == (1000, None)


async def test_special_pricing_applies_only_inside_its_window(shop, alice, charlie):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2025, 7, 1, tzinfo=UTC)
    deal = await SpecialPricing.create(
        user=alice,
        package=shop["pro"],
        kind=SpecialPriceKind.FIXED,
        currency="USD",
        value=700,
        valid_from=start,
        valid_until=end,
    )

    async def price(user, at):
        found = await pricing.quote(
            shop["pro"], MONTHLY, "USD", user=user, at=at, new_subscription=False
        )
        return found.total_minor, found.special_pricing_id

    assert await price(alice, start - timedelta(seconds=1)) == (1000, None)
    assert await price(alice, start) == (700, deal.id)
    assert await price(alice, end - timedelta(seconds=1)) == (700, deal.id)
    assert await price(alice, end) == (1000, None)
    assert await price(charlie, start) == (1000, None)


async def test_it_refuses_an_addon_not_offered_with_the_package(shop, alice):
    with pytest.raises(ValidationError, match="CRM is not offered") as caught:
        await pricing.quote(shop["lite"], MONTHLY, "USD", user=alice, addons=[shop["crm"]])
    assert field_of(caught) == "addons"


async def test_it_refuses_a_retired_addon_on_a_new_subscription(shop, alice):
    await AddonApp.filter(id=shop["crm"].id).update(is_active=False)
    with pytest.raises(ValidationError, match="CRM is not offered"):
        await pricing.quote(shop["pro"], MONTHLY, "USD", user=alice, addons=[shop["crm"]])
