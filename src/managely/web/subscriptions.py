"""The customer's subscriptions: pay a trial, cancel, reactivate, change plan.

Every subscription is fetched through ``subscriptions.get_subscription_for_user`` and every
system through ``launches.get_launch_for_user``: another customer's is a 404.
"""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely import crypto
from managely.i18n import format_date
from managely.i18n import gettext as _
from managely.services import catalog, launches, pricing, subscriptions, wallet
from managely.services.errors import ServiceError
from managely.web.auth import login_required
from managely.web.forms import form_error
from managely.web.htmx import page_or_partial

bp = Blueprint("subscriptions", __name__)


async def _page(subscription, status_code: int = 200, error: ServiceError | None = None):
    context = {
        "subscription": subscription,
        "systems": await subscriptions.systems_of(subscription),
        "balance_minor": await wallet.balance(g.user, subscription.currency),
        "period_names": pricing.PERIOD_LABELS,
    }
    if error is not None:
        return await form_error("subscriptions/page.html", error, **context)
    return await page_or_partial(
        "subscriptions/page.html", status_code=status_code, errors={}, **context
    )


@bp.get("/subscriptions")
@login_required
async def index():
    found = await subscriptions.subscriptions_of(g.user)
    return await page_or_partial(
        "subscriptions/index.html", subscriptions=found, period_names=pricing.PERIOD_LABELS
    )


@bp.get("/subscriptions/<code>")
@login_required
async def page(code: str):
    return await _page(await subscriptions.get_subscription_for_user(g.user, code))


@bp.post("/create_subscription")
@login_required
async def create():
    """Pay for the trial of an existing system now, from the wallet."""
    form = await request.form
    launch = await launches.get_launch_for_user(g.user, form.get("launch", "")[:16])
    try:
        subscription = await subscriptions.pay_trial(
            g.user,
            launch.code,
            period=form.get("period") or None,
            currency=form.get("currency") or None,
            promo_code=form.get("promo_code", "")[:64] or None,
        )
    except ServiceError as error:
        found = await subscriptions.subscription_of(g.user, launch)
        if found is None:
            raise
        return await _page(found, error=error)
    await flash(_("Thank you: your subscription is active."), "success")
    return redirect(url_for("subscriptions.page", code=subscription.code))


@bp.post("/subscriptions/<code>/cancel")
@login_required
async def cancel(code: str):
    await subscriptions.get_subscription_for_user(g.user, code)  # 404 before anything else
    try:
        await subscriptions.cancel(g.user, code)
    except ServiceError as error:
        return await _page(await subscriptions.get_subscription_for_user(g.user, code), error=error)
    await flash(_("Your subscription ends at the end of the current period."), "success")
    return redirect(url_for("subscriptions.page", code=code))


@bp.post("/subscriptions/<code>/auto_renew")
@login_required
async def auto_renew(code: str):
    form = await request.form
    on = form.get("on") == "1"
    await subscriptions.set_auto_renew(g.user, code, on)
    if on:
        await flash(
            _("Your subscription renews from your wallet at the end of each period."), "success"
        )
    else:
        await flash(_("Automatic renewal is off: renew by hand before the period ends."), "success")
    return redirect(url_for("subscriptions.page", code=code))


@bp.post("/subscriptions/<code>/reactivate")
@login_required
async def reactivate(code: str):
    await subscriptions.get_subscription_for_user(g.user, code)
    try:
        await subscriptions.reactivate(g.user, code)
    except ServiceError as error:
        return await _page(await subscriptions.get_subscription_for_user(g.user, code), error=error)
    await flash(_("Your subscription is active again."), "success")
    return redirect(url_for("subscriptions.page", code=code))


@bp.post("/subscriptions/<code>/renew")
@login_required
async def renew(code: str):
    """Pay the next period now; a second click on the same page charges nothing."""
    await subscriptions.get_subscription_for_user(g.user, code)
    seen = (await request.form).get("period_end", "")[:64]
    try:
        subscription, charged = await subscriptions.renew_now(g.user, code, seen)
    except ServiceError as error:
        return await _page(await subscriptions.get_subscription_for_user(g.user, code), error=error)
    if charged:
        await flash(
            _(
                "Thank you: your subscription is renewed until %(date)s.",
                date=format_date(subscription.current_period_end),
            ),
            "success",
        )
    else:
        await flash(_("This period was already paid: nothing more was charged."), "info")
    return redirect(url_for("subscriptions.page", code=code))


@bp.route("/subscriptions/<code>/change", methods=["GET", "POST"])
@login_required
async def change(code: str):
    """GET: the form with the prorated price of the chosen plan (the preview alone for
    htmx); POST: make the change."""
    subscription = await subscriptions.get_subscription_for_user(g.user, code)
    source = request.args if request.method == "GET" else await request.form
    choice = {
        "package": (source.get("package") or subscription.package.slug)[:64],
        "period": (source.get("period") or subscription.period.period)[:16],
        "key": source.get("key") or crypto.random_token(16),
    }
    current = (subscription.package.slug, subscription.period.period)
    preview, error = None, None
    if request.method == "POST" or (choice["package"], choice["period"]) != current:
        try:
            preview = await subscriptions.preview_change(
                g.user, code, choice["package"], choice["period"]
            )
            if request.method == "POST":
                await subscriptions.change_plan(
                    g.user, code, choice["package"], choice["period"], key=choice["key"][:64]
                )
                await flash(_("Your plan has changed."), "success")
                return redirect(url_for("subscriptions.page", code=code))
        except ServiceError as problem:
            error = problem
    context = {
        "subscription": subscription,
        "catalog": await catalog.snapshot(),
        "choice": choice,
        "preview": preview,
        "preview_error": error,
        "period_names": pricing.PERIOD_LABELS,
    }
    if request.method == "POST":
        return await form_error("subscriptions/change.html", error, **context)
    return await page_or_partial(
        "subscriptions/change.html", "subscriptions/_change_preview.html", errors={}, **context
    )
