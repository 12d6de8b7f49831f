"""The staff panel. Each screen is gated by a named permission."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely import crypto
from managely.i18n import format_money
from managely.i18n import gettext as _
from managely.models.accounts import User
from managely.services import adjustments, admin, payments
from managely.services import wallet as wallet_service
from managely.services.errors import ServiceError
from managely.settings import CURRENCIES
from managely.web.auth import client_ip, permission_required
from managely.web.forms import form_error, form_fields
from managely.web.htmx import page_or_partial

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@permission_required("admin.access")
async def dashboard():
    return await page_or_partial("admin/dashboard.html", stats=await admin.dashboard_stats())


@bp.get("/users")
@permission_required("users.view")
async def users():
    query = request.args.get("q", "").strip()[:100]
    page = await admin.list_users(query=query, cursor=request.args.get("after", ""))
    return await page_or_partial("admin/users.html", "admin/_users_table.html", page=page, q=query)


async def _user_wallet_context(customer: User, currency: str, form: dict[str, str]) -> dict:
    return {
        "customer": customer,
        "currency": currency,
        "currencies": CURRENCIES,
        "balances": await wallet_service.balances(customer),
        "entries": await wallet_service.ledger(customer, currency),
        "form": form,
    }


@bp.route("/users/<code>/wallet", methods=["GET", "POST"])
@permission_required("billing.adjust")
async def user_wallet(code: str):
    """A customer's wallet, and a credit or debit by hand with its reason (audited)."""
    customer = await adjustments.customer_by_code(code)
    currency = (request.args.get("currency") or customer.currency or "USD").upper()[:3]
    if request.method == "GET":
        form = {"direction": "credit", "currency": currency, "key": crypto.random_token(16)}
        context = await _user_wallet_context(customer, currency, form)
        return await page_or_partial("admin/user_wallet.html", errors={}, **context)
    form = await form_fields("direction", "amount", "currency", "reason", "key")
    currency = form["currency"].strip().upper()[:3] or currency
    try:
        amount = payments.parse_amount(form["amount"], currency)
        signed = -amount if form["direction"] == "debit" else amount
        entry = await adjustments.adjust_wallet(
            g.user, customer, currency, signed, form["reason"], key=form["key"], ip=client_ip()
        )
    except ServiceError as error:
        context = await _user_wallet_context(customer, currency, form)
        return await form_error("admin/user_wallet.html", error, **context)
    await flash(
        _(
            "Done: the wallet now holds %(balance)s.",
            balance=format_money(entry.balance_after_minor, currency),
        ),
        "success",
    )
    return redirect(url_for("admin.user_wallet", code=code, currency=currency))
