"""Staff catalog management: packages, prices, add-ons, special pricing, promo codes, referrals."""

from __future__ import annotations

import pytest

from managely.models.addons import AddonApp
from managely.models.billing import InvoiceLine
from managely.models.catalog import (
    Package,
    PackagePeriod,
    PromoCode,
    SpecialPricing,
)
from managely.models.platform import AuditLog
from managely.services import catalog, referrals
from tests.conftest import PASSWORD, make_user
from tests.support import Browser, text
from tests.web.routes import make_invoice

PACKAGE = {
    "slug": "growth",
    "name_en": "Growth",
    "name_ar": "النمو",
    "included_users": "5",
    "storage_gb": "20",
    "backup_schedule": "daily",
    "tryton_modules": "sale, account",
    "is_active": "1",
    "is_public": "1",
}


@pytest.fixture
async def staff(app) -> Browser:
    user = await make_user("catalog@staff.example.com", "admin")
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


async def test_staff_create_a_package_with_a_price_and_the_portal_shows_it(staff):
    response = await staff.post("/admin/catalog/packages/new", PACKAGE)
    assert response.status_code == 302, await text(response)
    package = await Package.get(slug="growth")
    assert (package.included_users, package.storage_gb) == (5, 20)
    assert package.tryton_modules == ["account", "sale"]
    price = {"period": "monthly", "currency": "USD", "price": "49.50", "trial_days": "14"}
    response = await staff.post(
        f"/admin/catalog/packages/{package.code}/prices", {**price, "is_active": "1"}
    )
    assert response.status_code == 302, await text(response)
    row = await PackagePeriod.get(package=package, period="monthly", currency="USD")
    assert (row.price_minor, row.months, row.trial_days, row.setup_fee_minor) == (4950, 1, 14, 0)
    offer = (await catalog.snapshot()).offer("growth")
    assert offer is not None and offer.price("monthly", "USD").price_minor == 4950
    actions = await AuditLog.filter(target_id=package.code).values_list("action", flat=True)
    assert sorted(actions) == ["catalog.package_create", "catalog.price"]
    page = await text(await staff.get(f"/admin/catalog/packages/{package.code}"))
    assert 'value="account, sale"' in page and "$49.50" in page


async def test_editing_a_price_leaves_issued_invoices_unchanged(staff, alice):
    invoice = await make_invoice(alice)  # "Starter (monthly)", 29.00
    package = await Package.create(slug="starter", name_en="Starter", name_ar="المبتدئ")
    await PackagePeriod.create(
        package=package, period="monthly", months=1, currency="USD", price_minor=2900
    )
    response = await staff.post(
        f"/admin/catalog/packages/{package.code}/prices",
        {"period": "monthly", "currency": "USD", "price": "39", "is_active": "1"},
    )
    assert response.status_code == 302
    assert (await PackagePeriod.get(package=package)).price_minor == 3900
    await invoice.refresh_from_db()
    assert (invoice.subtotal_minor, invoice.total_minor) == (2900, 2900)
    lines = await InvoiceLine.filter(invoice=invoice).values_list("amount_minor", flat=True)
    assert lines == [2900]
    entry = await AuditLog.get(action="catalog.price")
    assert entry.before["price_minor"] == 2900 and entry.after["price_minor"] == 3900


async def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(staff):
    response = await staff.post("/admin/catalog/packages/new", {**PACKAGE, "slug": "Bad Slug!"})
    assert response.status_code == 400
    assert "Use lower-case letters, digits and dashes" in await text(response)
    assert await Package.all().count() == 0
    package = await Package.create(slug="basic", name_en="Basic", name_ar="أساسي")
    response = await staff.post(
        f"/admin/catalog/packages/{package.code}/prices",
        {"period": "monthly", "currency": "USD", "price": "twelve"},
    )
    assert response.status_code == 400
    assert "Enter an amount like" in await text(response)
    assert await PackagePeriod.all().count() == 0
    assert not await AuditLog.filter(action__startswith="catalog.").exists()


async def test_hiding_and_retiring_a_package_takes_it_off_the_portal(staff):
    await staff.post("/admin/catalog/packages/new", PACKAGE)
    package = await Package.get(slug="growth")
    await PackagePeriod.create(
        package=package, period="monthly", months=1, currency="USD", price_minor=100
    )
    assert (await catalog.snapshot()).offer("growth") is not None
    response = await staff.post(
        f"/admin/catalog/packages/{package.code}/state", {"active": "1", "public": ""}
    )
    assert response.status_code == 302
    await package.refresh_from_db()
    assert package.is_active and not package.is_public
    assert (await catalog.snapshot()).offer("growth") is None
    entry = await AuditLog.get(action="catalog.package_state")
    assert entry.before == {"is_active": True, "is_public": True}
    assert entry.after == {"is_active": True, "is_public": False}


async def test_an_addon_is_offered_only_on_the_packages_chosen(staff):
    starter = await Package.create(slug="starter", name_en="Starter", name_ar="المبتدئ")
    growth = await Package.create(slug="growth", name_en="Growth", name_ar="النمو")
    for package in (starter, growth):
        await PackagePeriod.create(
            package=package, period="monthly", months=1, currency="USD", price_minor=100
        )
    form = {
        "slug": "crm",
        "name_en": "CRM",
        "name_ar": "إدارة العملاء",
        "tryton_module": "sale_opportunity",
        "price": "12",
        "currency": "USD",
        "billing": "recurring",
        "is_active": "1",
    }
    response = await staff.client.post(
        "/admin/catalog/addons/new",
        form={**form, "packages": growth.code, "csrf_token": await staff.csrf()},
    )
    assert response.status_code == 302, await text(response)
    addon = await AddonApp.get(slug="crm")
    assert addon.price_minor == 1200
    assert [p.slug for p in await addon.packages.all()] == ["growth"]
    snap = await catalog.snapshot()
    assert [a.slug for a in snap.offer("growth").addons] == ["crm"]
    assert snap.offer("starter").addons == ()
    entry = await AuditLog.get(action="catalog.addon_create")
    assert entry.after["packages"] == ["growth"]


async def test_promo_codes_special_prices_and_referral_settings_are_saved_and_audited(staff, alice):
    package = await Package.create(slug="starter", name_en="Starter", name_ar="المبتدئ")
    response = await staff.post(
        "/admin/catalog/promos/new",
        {"code": "spring25", "kind": "percent", "value": "25", "max_uses": "100", "is_active": "1"},
    )
    assert response.status_code == 302, await text(response)
    promo = await PromoCode.get(code="SPRING25")
    assert (promo.value, promo.max_uses, promo.per_user_max, promo.currency) == (2500, 100, 1, None)
    page = await text(await staff.get("/admin/catalog/promos/SPRING25"))
    assert 'name="value" type="text" value="25"' in page
    response = await staff.post(
        "/admin/catalog/special-pricing",
        {
            "email": alice.email,
            "package": package.code,
            "kind": "fixed",
            "value": "19.99",
            "currency": "USD",
            "period": "monthly",
        },
    )
    assert response.status_code == 302, await text(response)
    special = await SpecialPricing.get(user=alice)
    assert (special.value, special.currency, special.period) == (1999, "USD", "monthly")
    response = await staff.post(
        "/admin/catalog/referrals",
        {"rate": "12.5", "holding_days": "45", "cookie_days": "60", "min_withdrawal": "10"},
    )
    assert response.status_code == 302, await text(response)
    settings = await referrals.program()
    assert (settings.rate_bp, settings.holding_days, settings.cookie_days) == (1250, 45, 60)
    assert settings.min_withdrawal_minor == 1000 and not settings.is_active
    actions = set(await AuditLog.all().values_list("action", flat=True))
    assert {
        "catalog.promo_create",
        "catalog.special_pricing_add",
        "catalog.referral_settings",
    } <= actions
    response = await staff.post(
        "/admin/catalog/special-pricing",
        {"email": "nobody@example.com", "package": package.code, "kind": "percent", "value": "5"},
    )
    assert response.status_code == 400
    assert "No customer has this email address." in await text(response)
    assert await SpecialPricing.all().count() == 1
