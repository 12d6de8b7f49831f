"""The public portal: front page with the catalog, contact form, language choice."""

from __future__ import annotations

import secrets

from markupsafe import Markup
from quart import (
    Blueprint,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from managely import i18n
from managely.i18n import gettext as _
from managely.i18n import lazy_gettext as _l
from managely.models.catalog import BillingPeriod
from managely.services import accounts, catalog, platform
from managely.services.errors import ServiceError
from managely.web import csrf
from managely.web.auth import client_ip
from managely.web.forms import form_error, form_fields
from managely.web.htmx import page_or_partial, safe_next

bp = Blueprint("portal", __name__)
LANG_COOKIE = "lang"


PERIOD_NAMES = {
    BillingPeriod.MONTHLY: _l("monthly"),
    BillingPeriod.QUARTERLY: _l("quarterly"),
    BillingPeriod.SEMIANNUAL: _l("every six months"),
    BillingPeriod.YEARLY: _l("yearly"),
}
BACKUP_NAMES = {"daily": _l("Daily backups"), "6h": _l("Backups every 6 hours")}
# Rendered catalogs, by (catalog version, locale, Arabic digits, currency, period): the same
# for every visitor, so rendered once. Small: a few currencies x periods x two languages.
_fragments: dict[tuple, Markup] = {}
# Whole front pages as signed-out visitors see them, by catalog fragment key, maintenance
# banner and path (the language switch sends visitors back to it): the same for all of them
# but for the CSRF token, rendered as a placeholder and replaced per request.
_pages: dict[tuple, str] = {}
_TOKEN_SLOT = f"csrf-slot-{secrets.token_hex(16)}"


async def catalog_fragment(currency: str | None, period: str | None) -> tuple[tuple, Markup]:
    """The rendered catalog, and the key it is cached under."""
    snapshot = await catalog.snapshot()
    currency = snapshot.currency_or_default(currency or (g.user.currency if g.user else None))
    if period not in snapshot.periods:
        period = BillingPeriod.MONTHLY if BillingPeriod.MONTHLY in snapshot.periods else None
        period = period or (snapshot.periods[0] if snapshot.periods else BillingPeriod.MONTHLY)
    key = (snapshot.serial, i18n.current_locale(), i18n.uses_arabic_digits(), currency, period)
    html = _fragments.get(key)
    if html is None:
        if len(_fragments) > 256 or any(k[0] != key[0] for k in _fragments):
            _fragments.clear()  # a new snapshot: the old renderings are stale
        html = Markup(  # noqa: S704 - an autoescaped template's output
            await render_template(
                "portal/_catalog.html",
                catalog=snapshot,
                currency=currency,
                period=BillingPeriod(period),
                period_names=PERIOD_NAMES,
                backup_names=BACKUP_NAMES,
            )
        )
        _fragments[key] = html
    return key, html


async def anonymous_page(fragment_key: tuple, catalog_html: Markup) -> str:
    """The front page for a signed-out visitor without pending messages: rendered once per
    catalog, banner and path, then only this visitor's CSRF token is put in."""
    key = (fragment_key, g.maintenance, request.full_path)
    page = _pages.get(key)
    if page is None:
        if len(_pages) > 256 or any(k[0][0] != fragment_key[0] for k in _pages):
            _pages.clear()  # a new catalog snapshot, or too many query strings
        page = await render_template(
            "portal/home.html", catalog_html=catalog_html, csrf_token=lambda: _TOKEN_SLOT
        )
        _pages[key] = page
    return page.replace(_TOKEN_SLOT, csrf.csrf_token())


@bp.get("/")
async def home():
    key, html = await catalog_fragment(request.args.get("currency"), request.args.get("period"))
    if (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == "catalog"
    ):
        response = await make_response(html)
    elif g.user is None and "_flashes" not in session:
        response = await make_response(await anonymous_page(key, html))
        response.vary.add("HX-Request")
    else:
        response = await page_or_partial("portal/home.html", catalog_html=html)
    response.vary.add("HX-Target")
    return response


@bp.get("/about")
async def about():
    return await page_or_partial("portal/about.html")


@bp.get("/terms")
async def terms():
    return await page_or_partial("portal/terms.html")


@bp.get("/privacy")
async def privacy():
    return await page_or_partial("portal/privacy.html")


@bp.post("/lang")
async def set_language():
    data = await form_fields("locale", "next")
    locale = data["locale"] if data["locale"] in i18n.LOCALES else i18n.DEFAULT_LOCALE
    if g.user is not None:
        await accounts.set_locale(g.user, locale)
    response = await make_response(redirect(safe_next(data["next"])))
    response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


@bp.route("/contact", methods=["GET", "POST"])
async def contact():
    if request.method == "GET":
        data = {"email": g.user.email, "name": g.user.name} if g.user else {}
        return await page_or_partial("portal/contact.html", data=data, errors={})
    data = await form_fields("name", "email", "subject", "message", "website")
    honeypot = data.pop("website")
    try:
        await platform.submit_contact(**data, ip=client_ip(), honeypot=honeypot)
    except ServiceError as error:
        return await form_error("portal/contact.html", error, data=data)
    await flash(_("Thank you. Our team will answer by email soon."), "success")
    return redirect(url_for("portal.contact"))
