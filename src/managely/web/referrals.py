"""The referral program: a customer's link, balances and withdrawals; first-touch capture.

Everything here acts on the signed-in customer's own link and balance: no URL names another
customer's object. ``capture_referral`` runs after every request (registered with the
blueprint) and only does work when a page was opened with ``?ref=``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel import numbers
from quart import Blueprint, Response, flash, g, redirect, request, url_for

from managely import crypto
from managely.i18n import current_locale, format_money, localize_digits, minor_to_decimal
from managely.i18n import gettext as _
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.services import referrals
from managely.services.errors import ServiceError, ValidationError
from managely.services.pricing import BP
from managely.settings import get_settings
from managely.web.auth import client_ip, login_required
from managely.web.forms import form_error, form_fields
from managely.web.htmx import is_htmx, page_or_partial

bp = Blueprint("referrals", __name__, url_prefix="/panel/referrals")
PAGE, ACCOUNT = "referrals/page.html", "referrals/_account.html"
# Arabic-Indic digits and separators, as an Arabic keyboard types them.
TYPED_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩٫٬", "0123456789.,")
BAD_AMOUNT = _l("Enter an amount such as 25.00.")


@bp.get("")
@login_required
async def page():
    return await page_or_partial(PAGE, errors={}, **await _view(request.args.get("currency")))


@bp.post("/withdraw")
@login_required
async def withdraw():
    data = await form_fields("amount", "currency", "key")
    view = await _view(data["currency"])
    currency = str(view["currency"])
    try:
        amount = amount_minor(data["amount"], currency)
        await referrals.withdraw(g.user, amount, currency, data["key"], ip=client_ip())
    except ServiceError as error:
        return await form_error(PAGE, error, ACCOUNT, **{**view, "amount": data["amount"]})
    notice = _("%(amount)s moved to your wallet.", amount=format_money(amount, currency))
    if is_htmx():
        return await page_or_partial(
            PAGE, ACCOUNT, errors={}, notice=notice, **await _view(currency)
        )
    await flash(notice, "success")
    return redirect(url_for("referrals.page", currency=currency))


async def _view(requested: str | None) -> dict[str, object]:
    """The page's context for one currency: the asked one, else the first with a balance."""
    summary = await referrals.summary(g.user)
    currency = (requested or "").strip().upper()
    if not (len(currency) == 3 and currency.isalpha()):
        fallback = g.user.currency or get_settings().default_currency
        currency = (summary.balances[0].currency if summary.balances else fallback).upper()
    balance = next((b for b in summary.balances if b.currency == currency), None)
    available = balance.available_minor if balance else 0
    return {
        "summary": summary,
        "currency": currency,
        "pending": balance.pending_minor if balance else 0,
        "available": available,
        "entries": await referrals.ledger(g.user, currency),
        "rate": _percent(summary.program.rate_bp),
        "share_url": f"{get_settings().public_url}/?{referrals.REF_ARG}={summary.link.code}",
        # A fresh key per form: sending the same form twice withdraws once.
        "request_key": crypto.random_token(16),
        "amount": str(minor_to_decimal(available, currency)) if available > 0 else "",
    }


def _percent(basis_points: int) -> str:
    value = Decimal(basis_points) / BP
    return localize_digits(
        numbers.format_percent(value, locale=current_locale(), decimal_quantization=False)
    )


def amount_minor(typed: str, currency: str) -> int:
    """An amount typed in major units ("25.50", "٢٥٫٥٠") in the currency's minor units."""
    text = typed.strip().translate(TYPED_DIGITS).replace(",", "")
    try:
        value = Decimal(text) if 0 < len(text) <= 18 else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValidationError(BAD_AMOUNT, field="amount")
    minor = value.scaleb(numbers.get_currency_precision(currency))
    if minor != minor.to_integral_value():
        raise ValidationError(BAD_AMOUNT, field="amount")
    return int(minor)


async def capture_referral(response: Response) -> Response:
    """Leave the first-touch cookie when a page was opened through a referral link."""
    code = request.args.get(referrals.REF_ARG) if request.method == "GET" else None
    if not code or response.status_code >= 400:
        return response
    found = await referrals.first_touch(code, request.cookies.get(referrals.COOKIE), g.get("user"))
    if found is not None:
        value, max_age = found
        response.set_cookie(
            referrals.COOKIE,
            value,
            max_age=max_age,
            httponly=True,
            samesite="Lax",
            secure=get_settings().session_secure,
        )
    return response


bp.after_app_request(capture_referral)


async def link_referrer(user: User) -> None:
    """At signup: credit whoever referred this browser first (the cookie says who)."""
    await referrals.link_signup(user, request.cookies.get(referrals.COOKIE))
