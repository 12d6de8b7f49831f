"""The public portal: front page, contact form, language choice."""

from __future__ import annotations

from quart import Blueprint, flash, g, make_response, redirect, request, url_for

from managely import i18n
from managely.i18n import gettext as _
from managely.services import accounts, platform
from managely.services.errors import ServiceError
from managely.web.auth import client_ip
from managely.web.forms import form_error, form_fields
from managely.web.htmx import page_or_partial, safe_next

bp = Blueprint("portal", __name__)
LANG_COOKIE = "lang"


@bp.get("/")
async def home():
    return await page_or_partial("portal/home.html")


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
