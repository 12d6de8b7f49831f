"""Catalog management for staff: packages, their prices per period and currency, add-ons.

Every change is validated (a translated error names the field and nothing is written), audited
with the row before and after, and drops the catalog snapshot so the portal shows it at once.
Issued invoices copied their lines and totals when they were issued, and subscriptions keep the
price agreed at signup, so nothing here rewrites what a customer was already billed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from managely import db, i18n
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.addons import AddonApp, AddonBilling
from managely.models.catalog import PERIOD_MONTHS, BillingPeriod, Package, PackagePeriod
from managely.services import catalog, payments, platform
from managely.services.errors import NotFound, ValidationError
from managely.settings import CURRENCIES

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MODULE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
BACKUP_SCHEDULES = ("daily", "12h", "6h")
PACKAGE_TEXT = {"name_en": 120, "name_ar": 120, "description_en": 4000, "description_ar": 4000}


# --- parsing shared by the catalog forms ------------------------------------------------------


def required_text(data: dict[str, str], field: str, limit: int, required: bool = True) -> str:
    value = (data.get(field) or "").strip()
    if required and not value:
        raise ValidationError(_l("Please fill in this field."), field=field)
    if len(value) > limit:
        raise ValidationError(
            _l("This is too long (at most %(n)s characters).", n=limit), field=field
        )
    return value


def whole_number(
    data: dict[str, str], field: str, low: int, high: int, default: int | None = None
) -> int:
    """A whole number typed into ``field`` within [low, high]; empty gives ``default``."""
    text = (data.get(field) or "").strip()
    if not text and default is not None:
        return default
    if not re.fullmatch(r"\d{1,9}", text) or not low <= int(text) <= high:
        raise ValidationError(
            _l("Enter a whole number from %(low)s to %(high)s.", low=low, high=high), field=field
        )
    return int(text)


def optional_number(data: dict[str, str], field: str, low: int, high: int) -> int | None:
    if not (data.get(field) or "").strip():
        return None
    return whole_number(data, field, low, high)


def money(data: dict[str, str], field: str, currency: str, *, allow_zero: bool = False) -> int:
    """An amount typed in major units, to minor units, through the one amount parser."""
    text = (data.get(field) or "").strip()
    if allow_zero and text in ("", "0"):
        return 0
    try:
        return payments.parse_amount(text, currency)
    except ValidationError as error:
        raise ValidationError(error.message, field=field) from None


def percent_bp(data: dict[str, str], field: str, high_bp: int = 10_000) -> int:
    """A percentage typed like "12.5" to basis points (1250), more than 0 and at most high."""
    text = (data.get(field) or "").strip().rstrip("%").strip()
    try:
        value = Decimal(text) * 100
        if value != value.to_integral_value() or not 0 < value <= high_bp:
            raise InvalidOperation
    except InvalidOperation:
        raise ValidationError(
            _l("Enter a percentage from 0.01 to %(high)s.", high=high_bp // 100), field=field
        ) from None
    return int(value)


def currency_of(data: dict[str, str], field: str = "currency") -> str:
    value = (data.get(field) or "").strip().upper()
    if value not in CURRENCIES:
        raise ValidationError(_l("Choose a currency."), field=field)
    return value


def day(data: dict[str, str], field: str) -> datetime | None:
    """A date typed as YYYY-MM-DD (the date input's format), as midnight UTC; empty is None."""
    text = (data.get(field) or "").strip()
    if not text:
        return None
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise ValidationError(_l("Enter a date like 2026-01-31."), field=field) from None
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)


def major_units(amount_minor: int | None, currency: str | None) -> str:
    """Minor units as the plain text a form field shows ("29.00"), for editing."""
    if amount_minor is None or not currency:
        return ""
    return str(i18n.minor_to_decimal(amount_minor, currency))


def bp_text(value_bp: int) -> str:
    """Basis points as the percentage a form field shows (1250 -> "12.5")."""
    return str((Decimal(value_bp) / 100).normalize())


def day_text(value: datetime | None) -> str:
    return value.date().isoformat() if value else ""


def checked(data: dict[str, str], field: str) -> bool:
    return data.get(field) in ("1", "on", "true")


def snapshot(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of ``row``, JSON-safe, for an audit entry's before/after."""
    out = {}
    for name in names:
        value = getattr(row, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


# --- packages ---------------------------------------------------------------------------------

PACKAGE_FIELDS = (
    "slug",
    "name_en",
    "name_ar",
    "description_en",
    "description_ar",
    "included_users",
    "storage_gb",
    "backup_schedule",
    "tryton_modules",
    "sort_order",
    "is_active",
    "is_public",
)
PRICE_FIELDS = ("period", "currency", "price_minor", "setup_fee_minor", "trial_days", "is_active")


async def list_packages() -> list[Package]:
    """Every package, hidden and inactive ones too, with all their prices."""
    return await Package.all().order_by("sort_order", "id").prefetch_related("periods")


async def prices_of(package: Package) -> list[PackagePeriod]:
    return await PackagePeriod.filter(package=package).order_by("currency", "months")


def package_form(package: Package | None) -> dict[str, str]:
    """A package's fields as its edit form shows them (a new one's defaults for None)."""
    if package is None:
        return {"is_active": "1", "is_public": "1", "included_users": "1", "storage_gb": "1"}
    form = {name: str(getattr(package, name)) for name in PACKAGE_FIELDS}
    form["tryton_modules"] = ", ".join(package.tryton_modules or ())
    form["is_active"] = "1" if package.is_active else ""
    form["is_public"] = "1" if package.is_public else ""
    return form


async def package_by_code(code: str) -> Package:
    package = await Package.get_or_none(code=code[:16])
    if package is None:
        raise NotFound(_l("We could not find that package."))
    return package


def _package_values(data: dict[str, str]) -> dict[str, Any]:
    slug = (data.get("slug") or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationError(
            _l("Use lower-case letters, digits and dashes (at most 64)."), field="slug"
        )
    values: dict[str, Any] = {"slug": slug}
    for field, limit in PACKAGE_TEXT.items():
        values[field] = required_text(data, field, limit, required=field.startswith("name"))
    values["included_users"] = whole_number(data, "included_users", 1, 100_000)
    values["storage_gb"] = whole_number(data, "storage_gb", 1, 100_000)
    values["sort_order"] = whole_number(data, "sort_order", 0, 10_000, default=0)
    schedule = data.get("backup_schedule") or "daily"
    if schedule not in BACKUP_SCHEDULES:
        raise ValidationError(_l("Choose a backup schedule."), field="backup_schedule")
    values["backup_schedule"] = schedule
    modules = [m.strip() for m in (data.get("tryton_modules") or "").replace(",", " ").split()]
    if any(not MODULE_RE.match(m) for m in modules):
        raise ValidationError(
            _l("List ERP module names separated by commas, like sale, account."),
            field="tryton_modules",
        )
    values["tryton_modules"] = sorted(set(modules))
    values["is_active"] = checked(data, "is_active")
    values["is_public"] = checked(data, "is_public")
    return values


async def save_package(
    actor: User, package: Package | None, data: dict[str, str], *, ip: str = ""
) -> Package:
    """Create a package (``package`` None) or edit one; audited, the snapshot dropped."""
    values = _package_values(data)
    async with db.atomic():
        clash = Package.filter(slug=values["slug"])
        if package is not None:
            clash = clash.exclude(id=package.id)
        if await clash.exists():
            raise ValidationError(_l("Another package already uses this name."), field="slug")
        before = snapshot(package, PACKAGE_FIELDS) if package else None
        if package is None:
            package = await Package.create(**values)
        else:
            await package.update_from_dict(values).save()
        action = "catalog.package_update" if before else "catalog.package_create"
        after = snapshot(package, PACKAGE_FIELDS)
        await platform.audit(actor, action, package, before=before, after=after, ip=ip)
    catalog.invalidate()
    return package


async def set_package_state(
    actor: User, package: Package, *, active: bool, public: bool, ip: str = ""
) -> Package:
    """Activate or retire a package, show it on the portal or hide it (staff-only deals)."""
    before = snapshot(package, ("is_active", "is_public"))
    async with db.atomic():
        package.is_active, package.is_public = active, public
        await package.save(update_fields=["is_active", "is_public", "updated_at"])
        after = snapshot(package, ("is_active", "is_public"))
        await platform.audit(
            actor, "catalog.package_state", package, before=before, after=after, ip=ip
        )
    catalog.invalidate()
    return package


async def save_price(
    actor: User, package: Package, data: dict[str, str], *, ip: str = ""
) -> PackagePeriod:
    """Set the price of one period in one currency (made on first use, edited after).

    Running subscriptions keep the price they agreed; issued invoices keep their lines.
    """
    try:
        period = BillingPeriod(data.get("period") or "")
    except ValueError:
        raise ValidationError(_l("Choose a billing period."), field="period") from None
    currency = currency_of(data)
    values = {
        "months": PERIOD_MONTHS[period],
        "price_minor": money(data, "price", currency),
        "setup_fee_minor": money(data, "setup_fee", currency, allow_zero=True),
        "trial_days": whole_number(data, "trial_days", 0, 90, default=0),
        "is_active": checked(data, "is_active"),
    }
    async with db.atomic():
        row = await PackagePeriod.get_or_none(package=package, period=period, currency=currency)
        before = snapshot(row, PRICE_FIELDS) if row else None
        if row is None:
            row = await PackagePeriod.create(
                package=package, period=period, currency=currency, **values
            )
        else:
            await row.update_from_dict(values).save()
        await platform.audit(
            actor,
            "catalog.price",
            package,
            before=before,
            after=snapshot(row, PRICE_FIELDS),
            ip=ip,
        )
    catalog.invalidate()
    return row


# --- add-ons ----------------------------------------------------------------------------------

ADDON_FIELDS = (
    "slug",
    "name_en",
    "name_ar",
    "tryton_module",
    "price_minor",
    "currency",
    "billing",
    "is_active",
    "sort_order",
)


async def list_addons() -> list[AddonApp]:
    return await AddonApp.all().order_by("sort_order", "id").prefetch_related("packages")


async def addon_form(addon: AddonApp | None) -> tuple[dict[str, str], list[str]]:
    """An add-on's fields as its edit form shows them, and the codes of its packages."""
    if addon is None:
        return {"is_active": "1", "currency": CURRENCIES[0], "billing": "one_time"}, []
    form = {name: str(getattr(addon, name)) for name in ADDON_FIELDS}
    form |= {"description_en": addon.description_en, "description_ar": addon.description_ar}
    form["is_active"] = "1" if addon.is_active else ""
    form["price"] = major_units(addon.price_minor, addon.currency)
    return form, [p.code for p in await addon.packages.all()]


async def addon_by_code(code: str) -> AddonApp:
    addon = await AddonApp.get_or_none(code=code[:16])
    if addon is None:
        raise NotFound(_l("We could not find that add-on."))
    return addon


async def packages_named(codes: list[str]) -> list[Package]:
    packages = await Package.filter(code__in=[c[:16] for c in codes])
    if len(packages) != len(set(codes)):
        raise ValidationError(_l("Choose packages from the list."), field="packages")
    return packages


async def save_addon(
    actor: User,
    addon: AddonApp | None,
    data: dict[str, str],
    package_codes: list[str],
    *,
    ip: str = "",
) -> AddonApp:
    """Create or edit an add-on and the packages it is offered on (none: offered nowhere)."""
    slug = (data.get("slug") or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationError(
            _l("Use lower-case letters, digits and dashes (at most 64)."), field="slug"
        )
    module = (data.get("tryton_module") or "").strip()
    if not MODULE_RE.match(module):
        raise ValidationError(_l("Enter an ERP module name, like sale."), field="tryton_module")
    try:
        billing = AddonBilling(data.get("billing") or "")
    except ValueError:
        raise ValidationError(_l("Choose how it is billed."), field="billing") from None
    currency = currency_of(data)
    values = {
        "slug": slug,
        "name_en": required_text(data, "name_en", 120),
        "name_ar": required_text(data, "name_ar", 120),
        "description_en": required_text(data, "description_en", 4000, required=False),
        "description_ar": required_text(data, "description_ar", 4000, required=False),
        "tryton_module": module,
        "price_minor": money(data, "price", currency, allow_zero=True),
        "currency": currency,
        "billing": billing,
        "is_active": checked(data, "is_active"),
        "sort_order": whole_number(data, "sort_order", 0, 10_000, default=0),
    }
    packages = await packages_named(package_codes)
    async with db.atomic():
        clash = AddonApp.filter(slug=slug)
        if addon is not None:
            clash = clash.exclude(id=addon.id)
        if await clash.exists():
            raise ValidationError(_l("Another add-on already uses this name."), field="slug")
        before = None
        if addon is None:
            addon = await AddonApp.create(**values)
        else:
            before = snapshot(addon, ADDON_FIELDS)
            before["packages"] = sorted(await addon.packages.all().values_list("slug", flat=True))
            await addon.update_from_dict(values).save()
            await addon.packages.clear()
        if packages:
            await addon.packages.add(*packages)
        after = snapshot(addon, ADDON_FIELDS) | {"packages": sorted(p.slug for p in packages)}
        action = "catalog.addon_update" if before else "catalog.addon_create"
        await platform.audit(actor, action, addon, before=before, after=after, ip=ip)
    catalog.invalidate()
    return addon
