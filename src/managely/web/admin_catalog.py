"""Catalog management for staff: packages, periods and prices, add-ons, special pricing, promo codes, referral settings."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely.i18n import gettext as _
from managely.models.addons import AddonBilling
from managely.models.catalog import BillingPeriod, SpecialPriceKind
from managely.services import admin_catalog, admin_offers
from managely.services.errors import ServiceError
from managely.settings import CURRENCIES
from managely.web.auth import client_ip, permission_required
from managely.web.forms import form_error
from managely.web.htmx import page_or_partial

bp = Blueprint("admin_catalog", __name__, url_prefix="/admin/catalog")
PERMISSION = "catalog.manage"
CHOICES = {
    "currencies": CURRENCIES,
    "periods": list(BillingPeriod),
    "schedules": admin_catalog.BACKUP_SCHEDULES,
    "billings": list(AddonBilling),
    "special_kinds": list(SpecialPriceKind),
}


async def _form() -> tuple[dict[str, str], object]:
    form = await request.form
    return {key: form.get(key, "") for key in form}, form


async def _saved(message: str, endpoint: str, **values: str):
    await flash(message, "success")
    return redirect(url_for(endpoint, **values))


@bp.get("")
@permission_required(PERMISSION)
async def index():
    return await page_or_partial(
        "admin/catalog/index.html",
        packages=await admin_catalog.list_packages(),
        addons=await admin_catalog.list_addons(),
        promos=await admin_offers.list_promos(),
    )


# --- packages ---------------------------------------------------------------------------------


async def _package_page(package, form, errors, price_form=None, status: int = 200):
    return await page_or_partial(
        "admin/catalog/package.html",
        status_code=status,
        package=package,
        prices=await admin_catalog.prices_of(package) if package else [],
        form=form,
        price_form=price_form or {"is_active": "1"},
        errors=errors,
        **CHOICES,
    )


@bp.route("/packages/new", methods=["GET", "POST"])
@permission_required(PERMISSION)
async def new_package():
    if request.method == "GET":
        return await _package_page(None, admin_catalog.package_form(None), {})
    data, _raw = await _form()
    try:
        package = await admin_catalog.save_package(g.user, None, data, ip=client_ip())
    except ServiceError as error:
        errors = {error.field or "__all__": str(error)}
        return await _package_page(None, data, errors, status=error.status)
    return await _saved(_("Package created."), "admin_catalog.package", code=package.code)


@bp.route("/packages/<code>", methods=["GET", "POST"])
@permission_required(PERMISSION)
async def package(code: str):
    found = await admin_catalog.package_by_code(code)
    if request.method == "GET":
        return await _package_page(found, admin_catalog.package_form(found), {})
    data, _raw = await _form()
    try:
        await admin_catalog.save_package(g.user, found, data, ip=client_ip())
    except ServiceError as error:
        errors = {error.field or "__all__": str(error)}
        return await _package_page(found, data, errors, status=error.status)
    return await _saved(_("Package saved."), "admin_catalog.package", code=code)


@bp.post("/packages/<code>/state")
@permission_required(PERMISSION)
async def package_state(code: str):
    found = await admin_catalog.package_by_code(code)
    data, _raw = await _form()
    await admin_catalog.set_package_state(
        g.user,
        found,
        active=data.get("active") == "1",
        public=data.get("public") == "1",
        ip=client_ip(),
    )
    return await _saved(_("Package saved."), "admin_catalog.index")


@bp.post("/packages/<code>/prices")
@permission_required(PERMISSION)
async def package_price(code: str):
    found = await admin_catalog.package_by_code(code)
    data, _raw = await _form()
    try:
        await admin_catalog.save_price(g.user, found, data, ip=client_ip())
    except ServiceError as error:
        errors = {f"price_{error.field or 'all'}": str(error)}
        form = admin_catalog.package_form(found)
        return await _package_page(found, form, errors, price_form=data, status=error.status)
    return await _saved(_("Price saved."), "admin_catalog.package", code=code)


# --- add-ons ----------------------------------------------------------------------------------


async def _addon_page(addon, form, chosen, errors, status: int = 200):
    return await page_or_partial(
        "admin/catalog/addon.html",
        status_code=status,
        addon=addon,
        form=form,
        chosen=set(chosen),
        packages=await admin_catalog.list_packages(),
        errors=errors,
        **CHOICES,
    )


async def _save_addon(addon):
    data, raw = await _form()
    chosen = raw.getlist("packages")
    try:
        saved = await admin_catalog.save_addon(g.user, addon, data, chosen, ip=client_ip())
    except ServiceError as error:
        errors = {error.field or "__all__": str(error)}
        return await _addon_page(addon, data, chosen, errors, status=error.status)
    return await _saved(_("Add-on saved."), "admin_catalog.addon", code=saved.code)


@bp.route("/addons/new", methods=["GET", "POST"])
@permission_required(PERMISSION)
async def new_addon():
    if request.method == "POST":
        return await _save_addon(None)
    form, chosen = await admin_catalog.addon_form(None)
    return await _addon_page(None, form, chosen, {})


@bp.route("/addons/<code>", methods=["GET", "POST"])
@permission_required(PERMISSION)
async def addon(code: str):
    found = await admin_catalog.addon_by_code(code)
    if request.method == "POST":
        return await _save_addon(found)
    form, chosen = await admin_catalog.addon_form(found)
    return await _addon_page(found, form, chosen, {})


# --- special pricing --------------------------------------------------------------------------


async def _special_page(form, errors, status: int = 200):
    return await page_or_partial(
        "admin/catalog/special.html",
        status_code=status,
        rows=await admin_offers.list_special_pricing(),
        packages=await admin_catalog.list_packages(),
        form=form,
        errors=errors,
        **CHOICES,
    )


@bp.route("/special-pricing", methods=["GET", "POST"])
@permission_required(PERMISSION)
async def special_pricing():
    if request.method == "GET":
        return await _special_page({"kind": "percent"}, {})
    data, _raw = await _form()
    try:
        await admin_offers.add_special_pricing(g.user, data, ip=client_ip())
    except ServiceError as error:
        return await form_error(
            "admin/catalog/special.html",
            error,
            rows=await admin_offers.list_special_pricing(),
            packages=await admin_catalog.list_packages(),
            form=data,
            **CHOICES,
        )
    return await _saved(_("Special price saved."), "admin_catalog.special_pricing")


@bp.post("/special-pricing/remove")
@permission_required(PERMISSION)
async def remove_special_pricing():
    data, _raw = await _form()
    await admin_offers.remove_special_pricing(g.user, data.get("row", ""), ip=client_ip())
    return await _saved(_("Special price removed."), "admin_catalog.special_pricing")


# --- promo codes ------------------------------------------------------------------------------


async def _promo_page(promo, form, chosen, periods, errors, status: int = 200):
    return await page_or_partial(
        "admin/catalog/promo.html",
        status_code=status,
        promo=promo,
        form=form,
        chosen=set(chosen),
        chosen_periods=set(periods),
        packages=await admin_catalog.list_packages(),
        errors=errors,
        **CHOICES,
    )


async def _save_promo(promo):
    data, raw = await _form()
    chosen, periods = raw.getlist("packages"), raw.getlist("periods")
    try:
        saved = await admin_offers.save_promo(g.user, promo, data, chosen, periods, ip=client_ip())
    except ServiceError as error:
        errors = {error.field or "__all__": str(error)}
        return await _promo_page(promo, data, chosen, periods, errors, status=error.status)
    return await _saved(_("Promo code saved."), "admin_catalog.promo", code=saved.code)


@bp.route("/promos/new", methods=["GET", "POST"])
@permission_required(PERMISSION)
async def new_promo():
    if request.method == "POST":
        return await _save_promo(None)
    return await _promo_page(None, {"kind": "percent", "is_active": "1"}, [], [], {})


@bp.route("/promos/<code>", methods=["GET", "POST"])
@permission_required(PERMISSION)
async def promo(code: str):
    found = await admin_offers.promo_by_code(code)
    if request.method == "POST":
        return await _save_promo(found)
    form, chosen = await admin_offers.promo_form(found)
    return await _promo_page(found, form, chosen, found.periods or [], {})


# --- referral programme -----------------------------------------------------------------------


@bp.route("/referrals", methods=["GET", "POST"])
@permission_required(PERMISSION)
async def referral_settings():
    settings = await admin_offers.referral_settings()
    if request.method == "GET":
        form = admin_offers.referral_form(settings)
        return await page_or_partial("admin/catalog/referrals.html", form=form, errors={})
    data, _raw = await _form()
    try:
        await admin_offers.save_referral_settings(g.user, data, ip=client_ip())
    except ServiceError as error:
        return await form_error("admin/catalog/referrals.html", error, form=data)
    return await _saved(_("Referral settings saved."), "admin_catalog.referral_settings")
