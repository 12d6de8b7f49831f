"""The demo catalog and the development administrator (both safe to run again)."""

from __future__ import annotations

from managely.crypto import random_token
from managely.models.accounts import User
from managely.models.addons import AddonApp
from managely.models.catalog import PERIOD_MONTHS, BillingPeriod, Package, PackagePeriod
from managely.models.referrals import ReferralSettings
from managely.services import accounts
from managely.settings import Settings

DEV_ADMIN_EMAIL = "admin@managely.local"

# slug: (en name, ar name, en text, ar text, users, storage, backups, modules, trial days)
PACKAGES = {
    "starter": (
        "Starter",
        "المبتدئ",
        "Sales and invoicing for a small team.",
        "المبيعات والفواتير لفريق صغير.",
        3,
        5,
        "daily",
        ["sale", "account_invoice"],
        14,
    ),
    "business": (
        "Business",
        "الأعمال",
        "Sales, purchases and stock for a growing company.",
        "المبيعات والمشتريات والمخزون لشركة تنمو.",
        10,
        20,
        "daily",
        ["sale", "purchase", "stock", "account_invoice"],
        14,
    ),
    "enterprise": (
        "Enterprise",
        "المؤسسات",
        "Every module, more users and backups every 6 hours.",
        "كل الوحدات ومستخدمون أكثر ونسخ احتياطي كل ٦ ساعات.",
        50,
        100,
        "6h",
        ["sale", "purchase", "stock", "account_invoice", "project"],
        30,
    ),
}
# Monthly prices in minor units per currency; longer periods get a discount.
MONTHLY = {"starter": 2900, "business": 7900, "enterprise": 19900}
CURRENCY_RATE = {"USD": 1.0, "SAR": 3.75, "EUR": 0.92}
PERIOD_DISCOUNT = {
    BillingPeriod.MONTHLY: 1.0,
    BillingPeriod.QUARTERLY: 0.95,
    BillingPeriod.YEARLY: 0.83,
}
ADDONS = {
    "crm": ("CRM", "إدارة علاقات العملاء", "sale_opportunity", 1500),
    "projects": ("Projects", "المشاريع", "project", 2000),
    "analytics": ("Analytics", "التحليلات", "analytic_account", 1000),
}


async def seed_demo() -> dict[str, int]:
    await accounts.ensure_roles()
    await ReferralSettings.get_or_create(name="default")
    packages = periods = 0
    for order, (slug, row) in enumerate(PACKAGES.items()):
        name_en, name_ar, text_en, text_ar, users, storage, backups, modules, trial = row
        package, created = await Package.get_or_create(
            slug=slug,
            defaults={
                "name_en": name_en,
                "name_ar": name_ar,
                "description_en": text_en,
                "description_ar": text_ar,
                "included_users": users,
                "storage_gb": storage,
                "backup_schedule": backups,
                "tryton_modules": modules,
                "sort_order": order,
            },
        )
        packages += created
        for period, discount in PERIOD_DISCOUNT.items():
            months = PERIOD_MONTHS[period]
            for currency, rate in CURRENCY_RATE.items():
                price = int(round(MONTHLY[slug] * rate * months * discount, -2))
                _, made = await PackagePeriod.get_or_create(
                    package=package,
                    period=period,
                    currency=currency,
                    defaults={
                        "months": months,
                        "price_minor": price,
                        "setup_fee_minor": 0 if slug == "starter" else int(round(4900 * rate, -2)),
                        "trial_days": trial,
                    },
                )
                periods += made
    addons = 0
    for order, (slug, (name_en, name_ar, module, price)) in enumerate(ADDONS.items()):
        addon, created = await AddonApp.get_or_create(
            slug=slug,
            defaults={
                "name_en": name_en,
                "name_ar": name_ar,
                "tryton_module": module,
                "price_minor": price,
                "currency": "USD",
                "sort_order": order,
            },
        )
        if created:
            await addon.packages.add(*await Package.filter(slug__in=["business", "enterprise"]))
        addons += created
    return {"packages": packages, "periods": periods, "addons": addons}


async def ensure_dev_admin(settings: Settings) -> tuple[str, str]:
    """The superadmin of ``managely dev``; its password is kept in the data dir."""
    password_file = settings.data_dir / "dev-admin-password"
    if not password_file.exists():
        password_file.write_text(random_token(12) + "-1a")
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    if not await User.exists(email=DEV_ADMIN_EMAIL):
        await accounts.create_user(
            email=DEV_ADMIN_EMAIL, password=password, name="Managely admin", role="superadmin"
        )
    return DEV_ADMIN_EMAIL, password
