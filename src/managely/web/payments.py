"""Wallet top-ups through PayPal: the form's target, the buyer's way back, and the webhook.

``POST /recharge_wallet`` sends the customer to PayPal to approve; PayPal sends them back to
``/paypal/return`` (captured and credited there, then on to ``next``, e.g. their order) or
``/paypal/cancel``. ``POST /paypal/webhook`` is PayPal's own call, authenticated by PayPal's
signature check instead of a session and a CSRF token.
"""

from __future__ import annotations

from quart import Blueprint, flash, g, jsonify, redirect, request, url_for

from managely.i18n import format_money
from managely.i18n import gettext as _
from managely.models.billing import PaymentStatus
from managely.services import payments, paypal
from managely.services.errors import NotFound, ServiceError
from managely.settings import get_settings
from managely.web import panel
from managely.web.auth import login_required
from managely.web.csrf import csrf_exempt
from managely.web.forms import form_fields
from managely.web.htmx import safe_next

bp = Blueprint("payments", __name__)


@bp.after_app_request
async def allow_form_to_paypal(response):
    """Browsers apply the page's ``form-action`` to the redirect that follows a form post, so
    the page holding the top-up form names PayPal's approval site next to 'self'. (App-level
    hooks run in reverse order of registration: this one sees the CSP ``create_app`` sets.)"""
    policy = response.headers.get("Content-Security-Policy", "")
    if g.get("form_to_paypal") and "form-action 'self'" in policy:
        origin = paypal.approval_origin(get_settings().paypal)
        response.headers["Content-Security-Policy"] = policy.replace(
            "form-action 'self'", f"form-action 'self' {origin}", 1
        )
    return response


@bp.post("/recharge_wallet")
@login_required
async def recharge_wallet():
    data = await form_fields("amount", "currency", "next")
    currency = data["currency"].strip().upper()[:3]
    next_url = safe_next(data["next"], "")
    try:
        amount = payments.parse_amount(data["amount"], currency)
        _, approve_url = await payments.start_recharge(g.user, amount, currency, next_url)
    except ServiceError as error:
        return await panel.wallet_page(
            currency or "USD", next_url, amount=data["amount"][:32], error=error
        )
    return redirect(approve_url, 303)


def _wallet_url(currency: str, next_url: str) -> str:
    return url_for("panel.wallet", currency=currency, next=next_url or None)


@bp.get("/paypal/return")
@login_required
async def paypal_return():
    code = request.args.get("payment", "")
    next_url = safe_next(request.args.get("next"), "")
    payment = await payments.get_payment_for_user(g.user, code)  # someone else's: 404
    try:
        payment = await payments.complete_return(g.user, code, request.args.get("token", ""))
    except NotFound:
        raise
    except ServiceError as error:
        await flash(str(error), "error")
        return redirect(_wallet_url(payment.currency, next_url))
    if payment.status == PaymentStatus.APPROVED:
        await flash(
            _("PayPal is still processing your payment. Your wallet is credited once it clears."),
            "info",
        )
        return redirect(_wallet_url(payment.currency, next_url))
    await flash(
        _(
            "Your wallet was topped up with %(amount)s.",
            amount=format_money(payment.amount_minor, payment.currency),
        ),
        "success",
    )
    return redirect(next_url or _wallet_url(payment.currency, ""))


@bp.get("/paypal/cancel")
@login_required
async def paypal_cancel():
    payment = await payments.cancel_recharge(g.user, request.args.get("payment", ""))
    await flash(_("You cancelled the payment at PayPal. Nothing was charged."), "info")
    return redirect(_wallet_url(payment.currency, safe_next(request.args.get("next"), "")))


@bp.post("/paypal/webhook")
@csrf_exempt
async def paypal_webhook():
    try:
        outcome = await payments.handle_webhook(request.headers, await request.get_data())
    except ServiceError as error:
        return jsonify({"error": error.code}), error.status
    return jsonify({"status": outcome})
