"""The customer panel. Every object is fetched through its access helper: foreign is 404."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely.i18n import gettext as _
from managely.models.billing import WalletTransactionKind
from managely.services import accounts, launches, payments
from managely.services import dashboard as dashboard_service
from managely.services import wallet as wallet_service
from managely.services.errors import ServiceError
from managely.web import checkout
from managely.web import systems as system_pages
from managely.web.auth import login_required
from managely.web.forms import form_error, form_fields
from managely.web.htmx import page_or_partial, safe_next

bp = Blueprint("panel", __name__, url_prefix="/panel")


@bp.get("/")
@login_required
async def dashboard():
    companies = await accounts.beneficiaries_of(g.user)
    systems = await launches.launches_of(g.user)
    return await page_or_partial(
        "panel/dashboard.html",
        companies=companies,
        systems=systems,
        overview=await dashboard_service.overview(g.user),
    )


@bp.get("/systems/status")
@login_required
async def systems_status():
    """The dashboard's systems table alone: it polls this every 10 seconds."""
    systems = await launches.launches_of(g.user)
    return await page_or_partial("panel/_systems_status.html", systems=systems)


@bp.route("/companies/<code>", methods=["GET", "POST"])
@login_required
async def company(code: str):
    found = await accounts.get_beneficiary_for_user(g.user, code)
    if request.method == "GET":
        return await page_or_partial(
            "panel/company.html", "panel/_company_form.html", company=found, errors={}
        )
    data = await form_fields("name", "country", "tax_id", "address")
    try:
        await accounts.update_beneficiary(g.user, code, **data)
    except ServiceError as error:
        return await form_error(
            "panel/company.html", error, "panel/_company_form.html", company=found
        )
    await flash(_("Company details saved."), "success")
    return redirect(url_for("panel.company", code=code))


@bp.get("/systems/check")
@login_required
async def check_subdomain():
    name = request.args.get("subdomain", "")
    try:
        available = await launches.subdomain_available(name)
        message = None
    except ServiceError as error:
        available, message = False, str(error)
    return await page_or_partial(
        "panel/_subdomain_check.html", name=name, available=available, message=message
    )


@bp.post("/systems")
@login_required
async def create_system():
    """The order form's older address: the same order as ``POST /create_system``."""
    return await checkout.create_system()


@bp.get("/systems/<code>")
@login_required
async def system(code: str):
    launch = await launches.get_launch_for_user(g.user, code)
    return await system_pages.render_system(launch)


@bp.post("/systems/<code>/credentials")
@login_required
async def reveal_credentials(code: str):
    """Credentials are shown only after the customer types their own password again."""
    launch = await launches.get_launch_for_user(g.user, code)
    data = await form_fields("password")
    if not accounts.check_password(g.user, data["password"]):
        return await page_or_partial(
            "panel/_credentials.html",
            launch=launch,
            revealed=None,
            status_code=400,
            errors={"password": _("That is not your password.")},
        )
    username, password = await launches.credentials_of(launch)
    return await page_or_partial(
        "panel/_credentials.html", launch=launch, revealed=(username, password), errors={}
    )


@bp.get("/wallet")
@login_required
async def wallet():
    currency = (request.args.get("currency") or g.user.currency or "USD").upper()[:3]
    return await wallet_page(
        currency,
        safe_next(request.args.get("next"), ""),
        amount=payments.default_amount(request.args.get("amount"), currency),
    )


async def wallet_page(
    currency: str, next_url: str, *, amount: str = "", error: ServiceError | None = None
):
    """The wallet: balances, the PayPal top-up form (kept on ``next``), the movements
    (filtered by the ``kind``/``from``/``to`` query; a wrong one shows all, with its error)."""
    shown = {name: request.args.get(name, "")[:32] for name in ("kind", "from", "to")}
    try:
        filters = wallet_service.ledger_filter(shown["kind"], shown["from"], shown["to"])
    except ServiceError as problem:
        filters, error = None, error or problem
    context = {
        "currency": currency,
        "balances": await wallet_service.balances(g.user),
        "entries": await wallet_service.ledger(g.user, currency, filters=filters),
        "filters": shown,
        "kinds": list(WalletTransactionKind),
        "next_url": next_url,
        "amount": amount,
        "recharge_enabled": payments.recharge_enabled(),
        "recharge_currencies": payments.recharge_currencies(),
        "recharge_limits": payments.RECHARGE_LIMITS,
    }
    # The top-up form posts here and is redirected on to PayPal: the page's CSP must allow it.
    g.form_to_paypal = context["recharge_enabled"]
    if error is not None:
        return await form_error("panel/wallet.html", error, **context)
    return await page_or_partial("panel/wallet.html", errors={}, **context)
