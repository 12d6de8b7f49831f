"""The Quart app factory: extensions, blueprints, per-request user and locale, error pages."""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path

from quart import Quart, abort, g, render_template, request
from tortoise import Tortoise
from werkzeug.exceptions import HTTPException

from managely import db, i18n, templating
from managely.models.base import CODE_LENGTH
from managely.services import accounts as accounts_service
from managely.services import platform as platform_service
from managely.services.errors import ServiceError
from managely.settings import Settings, get_settings
from managely.web import csrf, forms, sse
from managely.web.admission import Admission
from managely.web.auth import audit_impersonated_change, auth, load_user

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parents[3] / "static"
# How long a worker shows the maintenance banner from its last look at the setting: read on
# every request it was one query per page view for a flag staff flip a few times a year.
MAINTENANCE_TTL_S = 5.0
_startup_frozen = False


def _freeze_startup_objects() -> None:
    """Take what start-up built (modules, models, Babel data: ~170k objects) out of the
    collector's sight, once per process. Otherwise every full collection walks them all, and
    under load that is a 60-120 ms stall of the event loop every second or so: the whole tail
    of the busiest pages' latency."""
    global _startup_frozen
    if not _startup_frozen:
        _startup_frozen = True
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None) -> Quart:
    settings = settings or get_settings()
    app = Quart(
        __name__, template_folder=str(templating.TEMPLATES_DIR), static_folder=str(STATIC_DIR)
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="managely_session",
        SESSION_COOKIE_SECURE=settings.session_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        QUART_AUTH_COOKIE_NAME="managely_auth",
        QUART_AUTH_COOKIE_SECURE=settings.session_secure,
        QUART_AUTH_COOKIE_SAMESITE="Lax",
        QUART_AUTH_DURATION=30 * 86400,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.config["MANAGELY"] = settings
    templating.configure(app.jinja_env)
    app.jinja_env.globals["csrf_token"] = csrf.csrf_token
    auth.init_app(app)
    _register_blueprints(app)
    _register_hooks(app, settings)
    _register_error_pages(app)
    # Outermost first: an event stream goes on outside Quart's request (and its slot).
    app.asgi_app = sse.HandOff(Admission(app.asgi_app, settings.web_requests_at_once))
    return app


def _register_blueprints(app: Quart) -> None:
    from managely.web import (
        account,
        accounts,
        admin,
        admin_billing,
        admin_catalog,
        admin_monitoring,
        admin_operations,
        admin_platform,
        admin_reports,
        admin_security,
        admin_servers,
        admin_support,
        api,
        billing_api,
        checkout,
        health,
        invoices,
        metrics,
        oauth,
        operations,
        panel,
        payments,
        portal,
        referrals,
        subscriptions,
        support,
        systems,
        usage,
    )

    for module in (
        portal,
        accounts,
        oauth,
        checkout,
        panel,
        account,
        invoices,
        payments,
        referrals,
        subscriptions,
        systems,
        billing_api,
        operations,
        usage,
        support,
        admin,
        admin_support,
        admin_security,
        admin_catalog,
        admin_billing,
        admin_reports,
        admin_servers,
        admin_operations,
        admin_monitoring,
        admin_platform,
        health,
        metrics,
    ):
        app.register_blueprint(module.bp)
    api.register(app)


# URL arguments that carry an object's public code: one longer than any code names nothing, and
# must not reach a query (the column is VARCHAR(16): the database refuses the comparison).
CODE_ARGS = ("code", "backup", "attachment", "session")


def _names_no_object(view_args: dict | None) -> bool:
    return bool(view_args) and any(
        len(str(view_args.get(name, ""))) > CODE_LENGTH for name in CODE_ARGS
    )


def _register_hooks(app: Quart, settings: Settings) -> None:
    import managely.jobs  # noqa: F401  (declares the actors services enqueue by name)

    maintenance: list = [float("-inf"), False]  # [read at (monotonic), value], for this app

    async def maintenance_mode() -> bool:
        if time.monotonic() - maintenance[0] >= MAINTENANCE_TTL_S:
            maintenance[1] = await platform_service.maintenance_mode()
            maintenance[0] = time.monotonic()
        return maintenance[1]

    @app.before_serving
    async def open_database() -> None:
        if not Tortoise.is_inited():
            await db.init(settings)
            app.config["MANAGELY_OWNS_DB"] = True
        await accounts_service.ensure_roles()
        _freeze_startup_objects()

    @app.after_serving
    async def close_database() -> None:
        if app.config.get("MANAGELY_OWNS_DB"):
            await db.close()

    @app.before_request
    async def per_request() -> None:
        if _names_no_object(request.view_args):
            abort(404)
        await load_user()
        user = g.user
        locale = i18n.select_locale(
            user.locale if user else None,
            request.cookies.get("lang"),
            request.headers.get("Accept-Language", ""),
        )
        digits = user.arabic_digits if user else settings.arabic_digits
        i18n.set_locale(locale, digits or settings.arabic_digits)
        g.locale = locale
        g.maintenance = await maintenance_mode()
        await csrf.check_csrf()
        await forms.refuse_nul_bytes()

    app.after_request(audit_impersonated_change)

    @app.after_request
    async def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'",
        )
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        if response.mimetype != "text/event-stream":  # policies for what a browser shows
            headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
            headers["Cross-Origin-Opener-Policy"] = "same-origin"
            headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if request.scheme == "https" or settings.public_url.startswith("https://"):
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if "text/html" in (response.content_type or ""):
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response


ERROR_TITLES = {
    400: i18n.lazy_gettext("This request could not be understood."),
    403: i18n.lazy_gettext("You do not have access to this page."),
    404: i18n.lazy_gettext("We could not find that page."),
    405: i18n.lazy_gettext("That action is not allowed here."),
    413: i18n.lazy_gettext("That upload is too large."),
    429: i18n.lazy_gettext("Too many requests. Please wait a moment and try again."),
    500: i18n.lazy_gettext("Something went wrong on our side. We have been told about it."),
}
CSRF_MESSAGE = i18n.lazy_gettext("This form has expired. Reload the page and try again.")


async def _error_page(status: int, message: object):
    if "application/json" in request.headers.get(
        "Accept", ""
    ) and "text/html" not in request.headers.get("Accept", ""):
        return {"error": {"status": status, "message": str(message)}}, status
    return await render_template("errors/error.html", status=status, message=message), status


def _register_error_pages(app: Quart) -> None:
    @app.errorhandler(ServiceError)
    async def service_error(error: ServiceError):
        return await _error_page(error.status, error.message)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException):
        status = error.code or 500
        if status == 400 and error.description == "csrf":
            return await _error_page(400, CSRF_MESSAGE)
        return await _error_page(status, ERROR_TITLES.get(status, ERROR_TITLES[400]))

    @app.errorhandler(Exception)
    async def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await _error_page(500, ERROR_TITLES[500])
