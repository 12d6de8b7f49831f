"""Checkout: the live price summary and the launch of a trial or a paid system.

``GET /get_pricing`` answers the price summary partial (or JSON for ``Accept:
application/json``) for whatever the order form currently says; ``POST /create_system``
places the order. Both price through ``services.pricing``, so the summary a customer watches
is exactly what the invoice will say.
"""

from __future__ import annotations

from quart import Blueprint, g, jsonify, redirect, request, url_for

from managely import crypto
from managely.i18n import format_money, minor_to_decimal
from managely.services import catalog, launches, pricing, trial_guard, wallet
from managely.services.errors import ServiceError
from managely.settings import get_settings
from managely.web.auth import client_ip, login_required
from managely.web.forms import form_error
from managely.web.htmx import page_or_partial
from managely.web.portal import PERIOD_NAMES

bp = Blueprint("checkout", __name__)
FIELDS = ("package", "period", "currency", "promo_code", "subdomain", "mode", "order_key")


async def _choice(source) -> dict:
    """The order form's values, from query args or a posted form."""
    data = {name: (source.get(name) or "").strip()[:64] for name in FIELDS}
    data["addons"] = [slug[:64] for slug in source.getlist("addons")][:20]
    snapshot = await catalog.snapshot()
    if not snapshot.offer(data["package"]) and snapshot.offers:
        data["package"] = snapshot.offers[0].slug
    data["currency"] = snapshot.currency_or_default(
        data["currency"] or (g.user.currency if g.user else None)
    )
    if data["period"] not in snapshot.periods:
        data["period"] = "monthly"
    data["mode"] = "paid" if data["mode"] == "paid" else "trial"
    return data


async def _quote(data: dict) -> pricing.Quote:
    return await launches.quote_order(
        g.user,
        package_slug=data["package"],
        period=data["period"],
        currency=data["currency"],
        addon_slugs=data["addons"],
        promo_code=data["promo_code"] or None,
    )


def _as_json(quote: pricing.Quote) -> dict:
    return {
        "currency": quote.currency,
        "lines": [
            {
                "kind": str(line.kind),
                "label": str(line.label),
                "amount_minor": line.amount_minor,
                "amount": format_money(line.amount_minor, quote.currency),
            }
            for line in quote.lines
        ],
        "subtotal_minor": quote.subtotal_minor,
        "discount_minor": quote.discount_minor,
        "tax_minor": quote.tax_minor,
        "total_minor": quote.total_minor,
        "total": format_money(quote.total_minor, quote.currency),
        "promo_code": quote.promo_code,
    }


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/html"]) == "application/json"


@bp.get("/get_pricing")
async def get_pricing():
    data = await _choice(request.args)
    try:
        quote = await _quote(data)
    except ServiceError as error:
        if _wants_json():
            body = {"error": {"field": error.field, "message": str(error)}}
            return jsonify(body), error.status
        return await page_or_partial(
            "checkout/_price_summary.html", quote=None, error=error, data=data
        )
    if _wants_json():
        return jsonify(_as_json(quote))
    return await page_or_partial("checkout/_price_summary.html", quote=quote, error=None, data=data)


async def order_form(data: dict, status_code: int = 200, error: ServiceError | None = None):
    snapshot = await catalog.snapshot()
    try:
        quote, quote_error = await _quote(data), None
    except ServiceError as problem:
        quote, quote_error = None, problem
    balance = await wallet.balance(g.user, data["currency"])
    context = {
        "period_names": PERIOD_NAMES,
        "balance_minor": balance,
        # What the wallet page's top-up form is prefilled with (major units), if short.
        "shortfall": (
            str(minor_to_decimal(quote.total_minor - balance, quote.currency))
            if quote is not None and quote.total_minor > balance
            else ""
        ),
        "catalog": snapshot,
        "offer": snapshot.offer(data["package"]),
        "data": data,
        "quote": quote,
        "quote_error": quote_error,
    }
    if error is not None:
        return await form_error("checkout/new_system.html", error, **context)
    return await page_or_partial(
        "checkout/new_system.html", status_code=status_code, errors={}, **context
    )


@bp.get("/panel/systems/new")
@login_required
async def new_system():
    data = await _choice(request.args)
    # A fresh key per form: submitting it twice places one order.
    data["order_key"] = crypto.random_token(16)
    response = await order_form(data)
    if not request.cookies.get(trial_guard.DEVICE_COOKIE):
        # What tells this browser apart from others for one-trial-per-device.
        response.set_cookie(
            trial_guard.DEVICE_COOKIE,
            trial_guard.new_device_id(),
            max_age=5 * 365 * 86400,
            httponly=True,
            samesite="Lax",
            secure=get_settings().session_secure,
        )
    return response


@bp.post("/create_system")
@login_required
async def create_system():
    data = await _choice(await request.form)
    order = None
    if data["mode"] == "paid":
        addons = await launches.addons_by_slug(data["addons"])
        order = launches.Order(
            period=data["period"],
            currency=data["currency"],
            addons=tuple(addons),
            promo_code=data["promo_code"] or None,
            key=data["order_key"],
        )
    traits = trial_guard.RequestTraits.from_request(request.headers, client_ip(), user=g.user)

    async def trial_check() -> None:
        await trial_guard.record_trial(g.user, traits)

    try:
        if order is None:
            launches.validate_subdomain(data["subdomain"])
            await trial_guard.check_trial_allowed(g.user, traits)  # refused before any write
        _, operation = await launches.create_system(
            g.user,
            package_slug=data["package"],
            subdomain=data["subdomain"],
            order=order,
            trial_check=trial_check,
        )
    except ServiceError as error:
        return await order_form(data, error=error)
    return redirect(url_for("operations.page", code=operation.code))
