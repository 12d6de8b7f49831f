"""Deals staff make: special pricing for one customer, promo codes, the referral programme.

Same rules as ``admin_catalog``: validated with translated errors, audited before/after, and
nothing already invoiced changes (pricing reads these only when it makes a new quote).
"""

from __future__ import annotations

from typing import Any

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.catalog import (
    BillingPeriod,
    PromoCode,
    PromoKind,
    SpecialPriceKind,
    SpecialPricing,
)
from managely.models.referrals import ReferralSettings
from managely.services import admin_catalog as parse
from managely.services import catalog, platform, referrals
from managely.services.errors import NotFound, ValidationError
from managely.settings import get_settings

SPECIAL_FIELDS = ("period", "currency", "kind", "value", "valid_from", "valid_until", "note")
PROMO_FIELDS = (
    "code",
    "description",
    "kind",
    "value",
    "currency",
    "periods",
    "max_uses",
    "per_user_max",
    "starts_at",
    "expires_at",
    "first_n_cycles",
    "is_active",
)
REFERRAL_FIELDS = (
    "rate_bp",
    "holding_days",
    "cookie_days",
    "min_withdrawal_minor",
    "is_active",
)


def _discount(data: dict[str, str], kind: str) -> tuple[int, str | None]:
    """(value, currency) of a percent (basis points, no currency) or a fixed amount."""
    if kind == "percent":
        return parse.percent_bp(data, "value"), None
    currency = parse.currency_of(data)
    return parse.money(data, "value", currency), currency


def _window(data: dict[str, str], start: str, end: str) -> tuple[Any, Any]:
    starts, ends = parse.day(data, start), parse.day(data, end)
    if starts and ends and ends <= starts:
        raise ValidationError(_l("The end must come after the start."), field=end)
    return starts, ends


# --- special pricing --------------------------------------------------------------------------


async def list_special_pricing(limit: int = 200) -> list[SpecialPricing]:
    return (
        await SpecialPricing.all().order_by("-id").limit(limit).prefetch_related("user", "package")
    )


async def add_special_pricing(actor: User, data: dict[str, str], *, ip: str = "") -> SpecialPricing:
    """A price agreed with one customer (found by email) for one package, audited."""
    email = (data.get("email") or "").strip().lower()
    customer = await User.get_or_none(email=email)
    if customer is None:
        raise ValidationError(_l("No customer has this email address."), field="email")
    package = await parse.package_by_code(data.get("package") or "")
    try:
        kind = SpecialPriceKind(data.get("kind") or "")
    except ValueError:
        raise ValidationError(_l("Choose a fixed price or a discount."), field="kind") from None
    period = data.get("period") or None
    if period is not None and period not in set(BillingPeriod):
        raise ValidationError(_l("Choose a billing period."), field="period")
    value, currency = _discount(data, kind.value)
    starts, ends = _window(data, "valid_from", "valid_until")
    async with db.atomic():
        row = await SpecialPricing.create(
            user=customer,
            package=package,
            period=period,
            currency=currency,
            kind=kind,
            value=value,
            valid_from=starts,
            valid_until=ends,
            note=parse.required_text(data, "note", 2000, required=False),
        )
        after = parse.snapshot(row, SPECIAL_FIELDS) | {"package": package.slug}
        await platform.audit(actor, "catalog.special_pricing_add", customer, after=after, ip=ip)
    return row


async def remove_special_pricing(actor: User, row_id: str, *, ip: str = "") -> None:
    """End a special price; quotes from now on use the list price again."""
    row = await SpecialPricing.get_or_none(id=int(row_id)) if row_id.isdigit() else None
    if row is None:
        raise NotFound(_l("We could not find that special price."))
    customer = await User.get(id=row.user_id)
    async with db.atomic():
        before = parse.snapshot(row, SPECIAL_FIELDS)
        await row.delete()
        await platform.audit(
            actor, "catalog.special_pricing_remove", customer, before=before, ip=ip
        )


# --- promo codes ------------------------------------------------------------------------------


async def list_promos(limit: int = 200) -> list[PromoCode]:
    return await PromoCode.all().order_by("-id").limit(limit).prefetch_related("packages")


async def promo_by_code(code: str) -> PromoCode:
    promo = await PromoCode.get_or_none(code=code.strip().upper()[:32])
    if promo is None:
        raise NotFound(_l("We could not find that promo code."))
    return promo


async def promo_form(promo: PromoCode) -> tuple[dict[str, str], list[str]]:
    """A promo code's fields as its edit form shows them, and the codes of its packages."""
    fixed = promo.kind == PromoKind.FIXED
    chosen = [p.code for p in await promo.packages.all()]
    return {
        "code": promo.code,
        "description": promo.description,
        "kind": str(promo.kind),
        "value": parse.major_units(promo.value, promo.currency)
        if fixed
        else parse.bp_text(promo.value),
        "currency": promo.currency or "",
        "max_uses": "" if promo.max_uses is None else str(promo.max_uses),
        "per_user_max": str(promo.per_user_max),
        "starts_at": parse.day_text(promo.starts_at),
        "expires_at": parse.day_text(promo.expires_at),
        "first_n_cycles": "" if promo.first_n_cycles is None else str(promo.first_n_cycles),
        "is_active": "1" if promo.is_active else "",
    }, chosen


async def save_promo(
    actor: User,
    promo: PromoCode | None,
    data: dict[str, str],
    package_codes: list[str],
    periods: list[str],
    *,
    ip: str = "",
) -> PromoCode:
    """Create or edit a promo code; its use count is the checkout's, never reset here."""
    code = (data.get("code") or "").strip().upper()
    if not code.replace("-", "").replace("_", "").isalnum() or len(code) > 32 or not code.isascii():
        raise ValidationError(_l("Use letters, digits and dashes (at most 32)."), field="code")
    try:
        kind = PromoKind(data.get("kind") or "")
    except ValueError:
        raise ValidationError(_l("Choose a percentage or an amount."), field="kind") from None
    value, currency = _discount(data, kind.value)
    if any(p not in set(BillingPeriod) for p in periods):
        raise ValidationError(_l("Choose a billing period."), field="periods")
    starts, ends = _window(data, "starts_at", "expires_at")
    values = {
        "code": code,
        "description": parse.required_text(data, "description", 255, required=False),
        "kind": kind,
        "value": value,
        "currency": currency,
        "periods": sorted(set(periods)),
        "max_uses": parse.optional_number(data, "max_uses", 1, 1_000_000),
        "per_user_max": parse.whole_number(data, "per_user_max", 1, 1000, default=1),
        "starts_at": starts,
        "expires_at": ends,
        "first_n_cycles": parse.optional_number(data, "first_n_cycles", 1, 120),
        "is_active": parse.checked(data, "is_active"),
    }
    packages = await parse.packages_named(package_codes)
    async with db.atomic():
        clash = PromoCode.filter(code=code)
        if promo is not None:
            clash = clash.exclude(id=promo.id)
        if await clash.exists():
            raise ValidationError(_l("This promo code exists already."), field="code")
        before = None
        if promo is None:
            promo = await PromoCode.create(**values)
        else:
            before = parse.snapshot(promo, PROMO_FIELDS)
            await promo.update_from_dict(values).save()
            await promo.packages.clear()
        if packages:
            await promo.packages.add(*packages)
        after = parse.snapshot(promo, PROMO_FIELDS) | {"packages": sorted(p.slug for p in packages)}
        action = "catalog.promo_update" if before else "catalog.promo_create"
        await platform.audit(actor, action, promo, before=before, after=after, ip=ip)
    catalog.invalidate()
    return promo


# --- referral programme -----------------------------------------------------------------------


async def referral_settings() -> ReferralSettings:
    return await referrals.program()


def referral_form(settings: ReferralSettings) -> dict[str, str]:
    return {
        "rate": parse.bp_text(settings.rate_bp),
        "holding_days": str(settings.holding_days),
        "cookie_days": str(settings.cookie_days),
        "min_withdrawal": parse.major_units(
            settings.min_withdrawal_minor, get_settings().default_currency
        ),
        "is_active": "1" if settings.is_active else "",
    }


async def save_referral_settings(
    actor: User, data: dict[str, str], *, ip: str = ""
) -> ReferralSettings:
    """The commission rate, holding and cookie periods, the smallest withdrawal; audited.

    Commissions already accrued keep the rate frozen on them."""
    values = {
        "rate_bp": parse.percent_bp(data, "rate", high_bp=5000),
        "holding_days": parse.whole_number(data, "holding_days", 0, 365),
        "cookie_days": parse.whole_number(data, "cookie_days", 1, 365),
        "min_withdrawal_minor": parse.money(
            data, "min_withdrawal", get_settings().default_currency, allow_zero=True
        ),
        "is_active": parse.checked(data, "is_active"),
    }
    settings = await referrals.program()
    async with db.atomic():
        before = parse.snapshot(settings, REFERRAL_FIELDS)
        await settings.update_from_dict(values).save()
        after = parse.snapshot(settings, REFERRAL_FIELDS)
        await platform.audit(
            actor, "catalog.referral_settings", settings, before=before, after=after, ip=ip
        )
    return settings
