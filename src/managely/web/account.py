"""A customer's own account: profile, password, two-factor sign-in, sessions, history, tokens.

Secrets shown once (recovery codes, a new API token) are rendered in the POST's response and
never put in the session or a redirect, so they cannot be shown again.
"""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely import i18n
from managely.i18n import gettext as _
from managely.i18n import lazy_gettext as _l
from managely.services import api_tokens, security
from managely.services.errors import ServiceError
from managely.web.auth import login_required, sign_out
from managely.web.forms import form_error, form_fields
from managely.web.htmx import page_or_partial

bp = Blueprint("account", __name__, url_prefix="/panel/account")


@bp.route("/", methods=["GET", "POST"])
@login_required
async def profile():
    languages = i18n.LANGUAGE_NAMES
    if request.method == "GET":
        data = {"name": g.user.name, "locale": g.user.locale or g.locale}
        return await page_or_partial(
            "account/profile.html", data=data, languages=languages, errors={}
        )
    data = await form_fields("name", "locale")
    try:
        await security.update_profile(g.user, **data)
    except ServiceError as error:
        return await form_error("account/profile.html", error, data=data, languages=languages)
    i18n.set_locale(data["locale"], g.user.arabic_digits)  # the flash below, in the new language
    await flash(_("Your profile is saved."), "success")
    return redirect(url_for("account.profile"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
async def password():
    if request.method == "GET":
        return await page_or_partial("account/password.html", errors={})
    data = await form_fields("current_password", "new_password")
    try:
        await security.change_password(
            g.user,
            current=data["current_password"],
            new=data["new_password"],
            keep_session=g.session_code,
        )
    except ServiceError as error:
        return await form_error("account/password.html", error)
    await flash(_("Your password is changed. Every other browser was signed out."), "success")
    return redirect(url_for("account.security_page"))


@bp.get("/security")
@login_required
async def security_page():
    return await _security(errors={})


async def _security(status_code: int = 200, **context: object):
    return await page_or_partial(
        "account/security.html",
        status_code=status_code,
        enabled=await security.two_factor_enabled(g.user),
        codes_left=await security.recovery_codes_left(g.user),
        **context,
    )


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
async def enrol():
    try:
        secret, uri = await security.start_enrolment(g.user)
    except ServiceError as error:
        await flash(str(error), "info")
        return redirect(url_for("account.security_page"))
    context = {"secret": secret, "uri": uri, "qr": security.qr_svg(uri)}
    if request.method == "GET":
        return await page_or_partial("account/enrol.html", errors={}, **context)
    data = await form_fields("code")
    try:
        codes = await security.confirm_enrolment(g.user, data["code"])
    except ServiceError as error:
        return await form_error("account/enrol.html", error, **context)
    return await page_or_partial("account/recovery_codes.html", codes=codes, enabled_now=True)


@bp.post("/two-factor/disable")
@login_required
async def disable():
    data = await form_fields("password", "code")
    try:
        await security.disable_two_factor(g.user, **data)
    except ServiceError as error:
        return await _security(error.status, errors={error.field or "__all__": str(error)})
    await flash(_("Two-factor sign-in is off."), "success")
    return redirect(url_for("account.security_page"))


@bp.post("/two-factor/recovery-codes")
@login_required
async def new_recovery_codes():
    data = await form_fields("password")
    try:
        codes = await security.regenerate_recovery_codes(g.user, password=data["password"])
    except ServiceError as error:
        field = "codes_password" if error.field == "password" else "__all__"
        return await _security(error.status, errors={field: str(error)})
    return await page_or_partial("account/recovery_codes.html", codes=codes, enabled_now=False)


@bp.get("/sessions")
@login_required
async def sessions():
    return await page_or_partial(
        "account/sessions.html",
        sessions=await security.sessions_of(g.user),
        current=g.session_code,
        device=security.describe_device,
    )


@bp.post("/sessions/<code>/revoke")
@login_required
async def revoke_session(code: str):
    await security.revoke_session(g.user, code)
    if code == g.session_code:
        await sign_out()
        await flash(_("You are signed out."), "info")
        return redirect(url_for("accounts.login"))
    await flash(_("That browser is signed out."), "success")
    return redirect(url_for("account.sessions"))


@bp.post("/sessions/revoke-others")
@login_required
async def revoke_other_sessions():
    count = await security.revoke_other_sessions(g.user, g.session_code)
    await flash(
        i18n.ngettext(
            "%(num)s other browser is signed out.", "%(num)s other browsers are signed out.", count
        ),
        "success",
    )
    return redirect(url_for("account.sessions"))


@bp.get("/history")
@login_required
async def history():
    return await page_or_partial(
        "account/history.html",
        events=await security.login_history(g.user),
        device=security.describe_device,
    )


SCOPE_NAMES = {
    "read": _l("Read"),
    "write": _l("Write"),
    "admin": _l("Staff (admin)"),
}


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
async def tokens():
    context = {
        "expiry_days": api_tokens.EXPIRY_DAYS,
        "is_expired": api_tokens.is_expired,
        "scope_names": SCOPE_NAMES,
        "scopes_of": api_tokens.scopes_of,
    }
    if request.method == "GET":
        return await _tokens_page(data={}, errors={}, created=None, **context)
    data = await form_fields("name", "expires")
    # None ticked reads as the default (read and write), as before scopes were offered.
    data["scopes"] = (await request.form).getlist("scopes")[:3] or list(api_tokens.DEFAULT_SCOPES)
    try:
        token, value = await api_tokens.create(
            g.user,
            name=data["name"],
            expires_at=api_tokens.parse_expiry(data["expires"]),
            scopes=data["scopes"],
        )
    except ServiceError as error:
        return await _tokens_page(
            error.status,
            data=data,
            errors={error.field or "__all__": str(error)},
            created=None,
            **context,
        )
    return await _tokens_page(data={}, errors={}, created=(token, value), **context)


async def _tokens_page(status_code: int = 200, **context: object):
    return await page_or_partial(
        "account/tokens.html",
        status_code=status_code,
        tokens=await api_tokens.list_tokens(g.user),
        **context,
    )


@bp.post("/tokens/<code>/revoke")
@login_required
async def revoke_token(code: str):
    token = await api_tokens.revoke(g.user, code)
    await flash(_("The token “%(name)s” is revoked.", name=token.name), "success")
    return redirect(url_for("account.tokens"))
