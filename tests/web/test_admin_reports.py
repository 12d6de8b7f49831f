"""Staff reports checked against a small dataset whose figures are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from managely.models.accounts import ServiceBeneficiary
from managely.models.billing import Invoice, InvoiceKind, InvoiceStatus, Wallet
from managely.models.catalog import BillingPeriod, Package, PackagePeriod
from managely.models.referrals import ReferralBalance
from managely.models.subscriptions import Subscription, SubscriptionHistory
from managely.services import reports
from managely.services.reports import Money, Rate
from tests.conftest import PASSWORD, make_user
from tests.support import Browser, text

NOW = datetime.now(UTC).replace(day=15, hour=12, minute=0, second=0, microsecond=0)
M0 = NOW
M1 = (NOW.replace(day=1) - timedelta(days=1)).replace(day=15)
M2 = (M1.replace(day=1) - timedelta(days=1)).replace(day=15)


def key(at: datetime) -> str:
    return at.strftime("%Y-%m")


@pytest.fixture
async def staff(app) -> Browser:
    user = await make_user("reports@staff.example.com", "billing")
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


async def _packages() -> dict[str, dict[str, PackagePeriod]]:
    prices = {}
    for slug, name in (("starter", "Starter"), ("growth", "Growth")):
        package = await Package.create(slug=slug, name_en=name, name_ar=name)
        prices[slug] = {
            period: await PackagePeriod.create(
                package=package, period=period, months=months, currency="USD", price_minor=100
            )
            for period, months in ((BillingPeriod.MONTHLY, 1), (BillingPeriod.YEARLY, 12))
        }
    return prices


async def _subscription(user, period: PackagePeriod, status, price: int, currency="USD", **kw):
    subscription = await Subscription.create(
        user=user,
        beneficiary=await ServiceBeneficiary.filter(owner=user).first(),
        package_id=period.package_id,
        period=period,
        currency=currency,
        status=status,
        price_minor=price,
        **kw,
    )
    if "created_at" in kw:  # auto_now_add ignores a given value
        await Subscription.filter(id=subscription.id).update(created_at=kw["created_at"])
    return subscription


async def _invoice(user, at, subtotal, *, subscription=None, currency="USD", **kw) -> Invoice:
    count = await Invoice.all().count()
    return await Invoice.create(
        number=f"T-{count}",
        user=user,
        subscription=subscription,
        status=kw.pop("status", InvoiceStatus.PAID),
        currency=currency,
        subtotal_minor=subtotal,
        total_minor=subtotal,
        issued_at=at,
        **kw,
    )


async def _history(subscription, before, after, at) -> None:
    row = await SubscriptionHistory.create(
        subscription=subscription, event="x", from_status=before, to_status=after
    )
    await SubscriptionHistory.filter(id=row.id).update(created_at=at)


async def test_revenue_by_month_and_by_package_net_of_credit_notes(staff, alice):
    prices = await _packages()
    starter = await _subscription(alice, prices["starter"]["monthly"], "active", 10000)
    growth = await _subscription(alice, prices["growth"]["monthly"], "active", 2900)
    first = await _invoice(alice, M1, 10000, subscription=starter)
    await _invoice(alice, M1, 5000)  # an add-on bought on its own
    await _invoice(alice, M0, 2900, subscription=growth)
    await _invoice(
        alice, M0, 1000, subscription=starter, kind=InvoiceKind.CREDIT_NOTE, credit_for=first
    )
    await _invoice(alice, M0, 7777, currency="EUR")  # another currency
    await _invoice(alice, M0, 9999, status=InvoiceStatus.OPEN)  # not paid

    monthly = await reports.revenue_by_month("USD", now=NOW)
    by_month = {row[0].strftime("%Y-%m"): row[1:] for row in monthly.rows}
    assert len(monthly.rows) == 12
    assert by_month[key(M1)] == (Money(15000, "USD"), Money(0, "USD"), Money(15000, "USD"))
    assert by_month[key(M0)] == (Money(2900, "USD"), Money(1000, "USD"), Money(1900, "USD"))
    assert by_month[key(M2)] == (Money(0, "USD"),) * 3
    assert monthly.totals["net"] == Money(16900, "USD")
    assert "<svg" in monthly.chart and "<rect" in monthly.chart

    packages = await reports.revenue_by_package("USD", now=NOW)
    assert packages.rows == [
        ("Starter", Money(9000, "USD")),
        ("Other (not a subscription)", Money(5000, "USD")),
        ("Growth", Money(2900, "USD")),
    ]

    response = await staff.get("/admin/reports/revenue?currency=USD&format=csv")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="revenue-USD.csv"'
    lines = (await text(response)).splitlines()
    assert lines[0] == "Month,Invoiced,Credited,Net revenue,currency"
    assert f"{key(M1)},150.00,0.00,150.00,USD" in lines
    assert f"{key(M0)},29.00,10.00,19.00,USD" in lines
    page = await text(await staff.get("/admin/reports/revenue-by-package?currency=USD"))
    assert "Starter" in page and "$90.00" in page and "<svg" in page


async def test_mrr_and_arr_count_active_and_past_due_subscriptions_per_month(staff, alice):
    prices = await _packages()
    await _subscription(alice, prices["starter"]["monthly"], "active", 2900)
    await _subscription(alice, prices["starter"]["yearly"], "active", 29000)  # 2416.67 a month
    await _subscription(alice, prices["growth"]["monthly"], "past_due", 4900)
    await _subscription(alice, prices["growth"]["monthly"], "cancelled", 4900)
    await _subscription(alice, prices["growth"]["monthly"], "active", 4900, currency="EUR")
    report = await reports.recurring_revenue("USD")
    assert report.rows == [
        ("Starter", 2, Money(5317, "USD"), Money(63800, "USD")),
        ("Growth", 1, Money(4900, "USD"), Money(58800, "USD")),
    ]
    assert report.totals == {"mrr": Money(10217, "USD"), "arr": Money(122600, "USD")}
    page = await text(await staff.get("/admin/reports/mrr?currency=USD"))
    assert "$102.17" in page and "$1,226.00" in page


async def test_churn_and_trial_conversion_by_month(staff, alice):
    monthly = (await _packages())["starter"]["monthly"]
    paying = [await _subscription(alice, monthly, "active", 100, created_at=M2) for _ in range(3)]
    trials = [
        await _subscription(alice, monthly, "trial", 100, created_at=M1, trial_ends_at=M1)
        for _ in range(2)
    ]
    await _history(trials[0], "trial", "active", M1)  # converted
    await _history(paying[0], "active", "cancelled", M0)  # churned
    await _history(trials[1], "trial", "expired", M0)  # a lapsed trial is not churn

    churn = {row[0].strftime("%Y-%m"): row[1:] for row in (await reports.churn(now=NOW)).rows}
    assert churn[key(M2)] == (0, 3, 0, Rate(None))
    assert churn[key(M1)] == (3, 1, 0, Rate(0.0))
    assert churn[key(M0)] == (4, 0, 1, Rate(25.0))

    conversion = await reports.trial_conversion(now=NOW)
    by_month = {row[0].strftime("%Y-%m"): row[1:] for row in conversion.rows}
    assert by_month[key(M1)] == (2, 1, Rate(50.0))
    assert by_month[key(M0)] == (0, 0, Rate(None))
    csv_text = await text(await staff.get("/admin/reports/trial-conversion?format=csv"))
    assert f"{key(M1)},2,1,50.00" in csv_text.splitlines()


async def test_wallet_liabilities_and_commissions_owed_per_currency(staff, alice, bob, charlie):
    for user, currency, balance in (
        (alice, "USD", 1500),
        (bob, "USD", 500),
        (alice, "EUR", 300),
        (charlie, "USD", 0),
    ):
        await Wallet.create(user=user, currency=currency, balance_minor=balance)
    await ReferralBalance.create(user=alice, currency="USD", pending_minor=100, available_minor=250)
    await ReferralBalance.create(user=bob, currency="USD", pending_minor=50, available_minor=0)
    liabilities = await reports.wallet_liabilities()
    assert liabilities.rows == [("EUR", 1, Money(300, "EUR")), ("USD", 2, Money(2000, "USD"))]
    owed = await reports.commissions_owed()
    assert owed.rows == [
        ("USD", 2, Money(150, "USD"), Money(250, "USD"), Money(400, "USD")),
    ]
    response = await staff.get("/admin/reports/wallet-liabilities?format=csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="liabilities.csv"'
    assert (await text(response)).splitlines()[1:] == ["EUR,1,3.00", "USD,2,20.00"]
    page = await text(await staff.get("/admin/reports/referral-commissions"))
    assert "$4.00" in page and "<svg" in page
