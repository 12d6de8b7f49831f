"""The staff panel. Each screen is gated by a named permission."""

from __future__ import annotations

from quart import Blueprint, abort, flash, g, redirect, request, url_for
from quart import session as quart_session
from quart_auth import AuthUser, login_user, logout_user

from managely import crypto
from managely.i18n import format_money
from managely.i18n import gettext as _
from managely.models.accounts import User
from managely.services import adjustments, admin, admin_users, payments
from managely.services import wallet as wallet_service
from managely.services.accounts import ROLES
from managely.services.errors import ServiceError
from managely.settings import CURRENCIES
from managely.web.auth import client_ip, login_required, permission_required, user_agent
from managely.web.forms import form_error, form_fields
from managely.web.htmx import page_or_partial

bp = Blueprint("admin", __name__, url_prefix="/admin")
STAFF_SESSION_KEY = "managely_staff_session"


@bp.get("/")
@permission_required("admin.access")
async def dashboard():
    return await page_or_partial("admin/dashboard.html", stats=await admin.dashboard_stats())


@bp.get("/users")
@permission_required("users.view")
async def users():
    filters = admin.UserFilters.parse(request.args)
    page = await admin.list_users(filters=filters, cursor=request.args.get("after", ""))
    return await page_or_partial(
        "admin/users.html",
        "admin/_users_table.html",
        page=page,
        q=filters.query,
        filters=filters,
        roles=list(ROLES),
        statuses=admin.STATUS_FILTERS,
        now=admin.now(),
    )


@bp.get("/users/<code>")
@permission_required("users.view")
async def user_detail(code: str):
    detail = await admin_users.user_detail(code)
    return await page_or_partial(
        "admin/users/detail.html", detail=detail, roles=list(ROLES), errors={}, now=admin.now()
    )


async def _done(message: str, code: str):
    await flash(message, "success")
    return redirect(url_for("admin.user_detail", code=code))


@bp.post("/users/<code>/lock")
@permission_required("users.manage")
async def lock_user(code: str):
    form = await form_fields("action", "reason")
    locked = form["action"] != "unlock"
    await admin_users.set_locked(g.user, code, locked, reason=form["reason"][:500], ip=client_ip())
    return await _done(
        _("The account is locked.") if locked else _("The account is unlocked."), code
    )


@bp.post("/users/<code>/reset-2fa")
@permission_required("users.manage")
async def reset_two_factor(code: str):
    form = await form_fields("reason")
    await admin_users.reset_two_factor(g.user, code, reason=form["reason"][:500], ip=client_ip())
    return await _done(_("Two-factor sign-in is off for this user now."), code)


@bp.post("/users/<code>/roles")
@permission_required("roles.manage")
async def change_roles(code: str):
    chosen = (await request.form).getlist("roles")
    try:
        await admin_users.set_roles(g.user, code, chosen, ip=client_ip())
    except ServiceError as error:
        detail = await admin_users.user_detail(code)
        return await form_error(
            "admin/users/detail.html", error, detail=detail, roles=list(ROLES), now=admin.now()
        )
    return await _done(_("The roles are saved."), code)


@bp.post("/users/<code>/sessions/<session>/revoke")
@permission_required("users.manage")
async def revoke_user_session(code: str, session: str):
    await admin_users.revoke_session(g.user, code, session, ip=client_ip())
    return await _done(_("That session is signed out."), code)


@bp.post("/users/<code>/impersonate")
@permission_required("users.impersonate")
async def impersonate(code: str):
    acting = await admin_users.start_impersonation(
        g.user, code, ip=client_ip(), user_agent=user_agent()
    )
    # The staff member's own session is kept, to go back to when they end it.
    quart_session[STAFF_SESSION_KEY] = g.session_code
    login_user(AuthUser(acting.code), remember=True)
    return redirect(url_for("panel.dashboard"))


@bp.post("/impersonation/end")
@login_required
async def end_impersonation():
    if g.impersonator is None:
        abort(404)
    staff_session = quart_session.pop(STAFF_SESSION_KEY, "") or ""
    own = await admin_users.end_impersonation(
        g.impersonator, g.user, g.session_code, staff_session, ip=client_ip()
    )
    if own is None:
        logout_user()
        return redirect(url_for("accounts.login"))
    login_user(AuthUser(own), remember=True)
    return redirect(url_for("admin.user_detail", code=g.user.code))


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
