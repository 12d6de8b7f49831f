"""Catalog: packages and their prices, per-customer pricing, promo codes and tax rates.

Money is always an integer in minor units next to a currency code.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class BillingPeriod(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    YEARLY = "yearly"


PERIOD_MONTHS: dict[BillingPeriod, int] = {
    BillingPeriod.MONTHLY: 1,
    BillingPeriod.QUARTERLY: 3,
    BillingPeriod.SEMIANNUAL: 6,
    BillingPeriod.YEARLY: 12,
}


class Package(PublicModel):
    slug = fields.CharField(max_length=64, unique=True)
    name_en = fields.CharField(max_length=120)
    name_ar = fields.CharField(max_length=120)
    description_en = fields.TextField(default="")
    description_ar = fields.TextField(default="")
    included_users = fields.IntField(default=1)
    storage_gb = fields.IntField(default=1)
    backup_schedule = fields.CharField(max_length=16, default="daily")  # "daily", "6h", …
    # Retention, applied per site: the newest backup of each of the last N days, weeks, months.
    backup_keep_daily = fields.IntField(default=7)
    backup_keep_weekly = fields.IntField(default=4)
    backup_keep_monthly = fields.IntField(default=3)
    erp = fields.CharField(max_length=16, default="tryton")
    tryton_modules = fields.JSONField(default=list)
    is_active = fields.BooleanField(default=True)
    # Hidden packages are sold only through staff (special deals); active ones stay renewable.
    is_public = fields.BooleanField(default=True)
    sort_order = fields.IntField(default=0)

    class Meta:
        table = "packages"
        indexes = (("is_active", "is_public", "sort_order"),)


class PackagePeriod(TimestampedModel):
    """One price of a package: a billing period in a currency."""

    package = fields.ForeignKeyField(
        "models.Package", related_name="periods", on_delete=fields.CASCADE
    )
    period = fields.CharEnumField(BillingPeriod, max_length=16)
    months = fields.IntField()
    currency = fields.CharField(max_length=3)
    price_minor = fields.IntField()
    setup_fee_minor = fields.IntField(default=0)
    trial_days = fields.IntField(default=0)
    # Withdrawn prices keep their row: running subscriptions still point at it.
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "package_periods"
        unique_together = (("package", "period", "currency"),)


class SpecialPriceKind(StrEnum):
    FIXED = "fixed"  # value is the price itself, in minor units of `currency`
    PERCENT = "percent"  # value is a discount in basis points off the list price


class SpecialPricing(TimestampedModel):
    """A price staff agreed with one customer; wins over the list price while valid."""

    user = fields.ForeignKeyField(
        "models.User", related_name="special_pricings", on_delete=fields.CASCADE
    )
    package = fields.ForeignKeyField(
        "models.Package", related_name="special_pricings", on_delete=fields.CASCADE
    )
    period = fields.CharEnumField(BillingPeriod, max_length=16, null=True)  # null: every period
    currency = fields.CharField(max_length=3, null=True)  # required for a fixed price
    kind = fields.CharEnumField(SpecialPriceKind, max_length=8)
    value = fields.IntField()
    valid_from = fields.DatetimeField(null=True)
    valid_until = fields.DatetimeField(null=True)
    note = fields.TextField(default="")

    class Meta:
        table = "special_pricings"
        indexes = (("user_id", "package_id"),)


class PromoKind(StrEnum):
    PERCENT = "percent"  # value in basis points
    FIXED = "fixed"  # value in minor units of `currency`, taken off the price


class PromoCode(TimestampedModel):
    # Stored upper-case; customers type it in any case.
    code = fields.CharField(max_length=32, unique=True)
    description = fields.CharField(max_length=255, default="")
    kind = fields.CharEnumField(PromoKind, max_length=8)
    value = fields.IntField()
    currency = fields.CharField(max_length=3, null=True)  # required for a fixed amount
    # Empty: valid for every package / every period.
    packages = fields.ManyToManyField(
        "models.Package",
        related_name="promo_codes",
        through="promo_code_packages",
        forward_key="package_id",
        backward_key="promo_id",
    )
    periods = fields.JSONField(default=list)
    max_uses = fields.IntField(null=True)  # null: unlimited
    per_user_max = fields.IntField(default=1)
    # Bumped by a conditional update, so the last use cannot be taken twice.
    uses_count = fields.IntField(default=0)
    starts_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    first_n_cycles = fields.IntField(null=True)  # null: the discount applies on every renewal
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "promo_codes"


class PromoRedemption(TimestampedModel):
    promo = fields.ForeignKeyField(
        "models.PromoCode", related_name="redemptions", on_delete=fields.RESTRICT
    )
    user = fields.ForeignKeyField(
        "models.User", related_name="promo_redemptions", on_delete=fields.CASCADE
    )
    subscription = fields.ForeignKeyField(
        "models.Subscription",
        related_name="promo_redemptions",
        null=True,
        on_delete=fields.SET_NULL,
    )
    discount_minor = fields.IntField(default=0)
    currency = fields.CharField(max_length=3, null=True)
    idempotency_key = fields.CharField(max_length=128, unique=True)

    class Meta:
        table = "promo_redemptions"
        indexes = (("promo_id", "user_id"),)


class TaxRate(TimestampedModel):
    country = fields.CharField(max_length=2, unique=True)
    rate_bp = fields.IntField()  # 1500 = 15 %
    name = fields.CharField(max_length=64)  # printed on invoices, e.g. "VAT"

    class Meta:
        table = "tax_rates"
