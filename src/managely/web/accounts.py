"""Sign-up, email verification, sign-in and out, password reset."""

from __future__ import annotations

import contextlib
import time

from quart import Blueprint, flash, g, redirect, request, session, url_for

from managely.i18n import current_locale
from managely.i18n import gettext as _
from managely.services import accounts, security
from managely.services.errors import ServiceError
from managely.web.auth import client_ip, sign_in, sign_out, user_agent
from managely.web.forms import form_error, form_fields
from managely.web.htmx import page_or_partial, safe_next
from managely.web.referrals import link_referrer

bp = Blueprint("accounts", __name__)
PENDING = "verify_user"  # session key: the account waiting for its email code
TWO_FACTOR = "two_factor"  # session key: the password was right, the second factor is due
TWO_FACTOR_TTL_S = 300


@bp.route("/signup", methods=["GET", "POST"])
async def signup():
    if request.method == "GET":
        return await page_or_partial("accounts/signup.html", data={}, errors={})
    data = await form_fields("name", "email", "password", "company")
    try:
        user = await accounts.signup(**data, locale=current_locale(), ip=client_ip())
    except ServiceError as error:
        data.pop("password")
        return await form_error("accounts/signup.html", error, data=data)
    await link_referrer(user)
    session[PENDING] = user.code
    await flash(_("We sent a 6-digit code to %(email)s.", email=user.email), "success")
    return redirect(url_for("accounts.verify"))


async def _pending_user():
    code = session.get(PENDING)
    if not code:
        return None
    return await accounts.get_user_by_code(code)


@bp.route("/verify", methods=["GET", "POST"])
async def verify():
    user = await _pending_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    if request.method == "GET":
        return await page_or_partial("accounts/verify.html", email=user.email, errors={})
    data = await form_fields("code")
    try:
        await accounts.verify_otp(user, data["code"])
    except ServiceError as error:
        return await form_error("accounts/verify.html", error, email=user.email)
    session.pop(PENDING, None)
    await flash(_("Your email is verified. Sign in to continue."), "success")
    return redirect(url_for("accounts.login", email=user.email))


@bp.post("/verify/resend")
async def resend_code():
    user = await _pending_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    try:
        await accounts.request_new_otp(user)
    except ServiceError as error:
        return await form_error("accounts/verify.html", error, email=user.email)
    await flash(_("We sent a new code to %(email)s.", email=user.email), "success")
    return redirect(url_for("accounts.verify"))


@bp.route("/login", methods=["GET", "POST"])
async def login():
    next_url = safe_next(request.args.get("next"), url_for("panel.dashboard"))
    if request.method == "GET":
        if g.user is not None:
            return redirect(next_url)
        data = {"email": request.args.get("email", "")}
        return await page_or_partial("accounts/login.html", data=data, errors={}, next=next_url)
    data = await form_fields("email", "password")
    try:
        user = await accounts.authenticate(
            data["email"], data["password"], ip=client_ip(), user_agent=user_agent()
        )
    except ServiceError as error:
        return await form_error(
            "accounts/login.html", error, data={"email": data["email"]}, next=next_url
        )
    if user.email_verified_at is None:
        session[PENDING] = user.code
        # A code sent moments ago is still good; the verify page offers a resend.
        with contextlib.suppress(ServiceError):
            await accounts.request_new_otp(user)
        await flash(_("Verify your email first: enter the code we sent you."), "info")
        return redirect(url_for("accounts.verify"))
    if await security.two_factor_enabled(user):
        return await ask_second_factor(user, next_url)
    await sign_in(user)
    return redirect(next_url)


async def ask_second_factor(user, next_url: str):
    """The first factor passed (a password, or a provider's sign-in): ask for the code. Not
    signed in yet: only this browser's signed session remembers the first step."""
    session[TWO_FACTOR] = {"user": user.code, "next": next_url, "at": int(time.time())}
    return redirect(url_for("accounts.two_factor"))


async def _two_factor_user():
    pending = session.get(TWO_FACTOR)
    if not pending or time.time() - pending.get("at", 0) > TWO_FACTOR_TTL_S:
        session.pop(TWO_FACTOR, None)
        return None, None
    return await accounts.get_user_by_code(pending["user"]), pending["next"]


@bp.route("/login/two-factor", methods=["GET", "POST"])
async def two_factor():
    user, next_url = await _two_factor_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    if request.method == "GET":
        return await page_or_partial("accounts/two_factor.html", errors={})
    data = await form_fields("code")
    try:
        await security.verify_second_factor(
            user, data["code"], ip=client_ip(), user_agent=user_agent()
        )
    except ServiceError as error:
        return await form_error("accounts/two_factor.html", error)
    session.pop(TWO_FACTOR, None)
    await sign_in(user)
    return redirect(next_url)


@bp.post("/logout")
async def logout():
    await sign_out()
    await flash(_("You are signed out."), "info")
    return redirect(url_for("portal.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
async def forgot_password():
    if request.method == "GET":
        return await page_or_partial("accounts/forgot.html", data={}, errors={})
    data = await form_fields("email")
    try:
        await accounts.start_password_reset(data["email"], ip=client_ip())
    except ServiceError as error:
        return await form_error("accounts/forgot.html", error, data=data)
    await flash(
        _("If an account uses that email, a reset link is on its way. It works for one hour."),
        "info",
    )
    return redirect(url_for("accounts.login"))


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
async def reset_password(token: str):
    if request.method == "GET":
        try:
            await accounts.reset_token_user(token)
        except ServiceError as error:
            return await form_error("accounts/reset.html", error, token=None)
        return await page_or_partial("accounts/reset.html", token=token, errors={})
    data = await form_fields("password")
    try:
        user = await accounts.reset_password(token, data["password"])
    except ServiceError as error:
        return await form_error("accounts/reset.html", error, token=token)
    await flash(_("Your password is changed. Sign in with the new one."), "success")
    return redirect(url_for("accounts.login", email=user.email))
