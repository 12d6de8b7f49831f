"""The comparison app for bench/catalog.py: the catalog page as a plain Flask app would serve it.

Same page as ``GET /`` in the product: the repo's ``portal/home.html`` (with ``base.html``)
around ``portal/_catalog.html``, through a Jinja environment set up by
``managely.templating.configure`` like the Quart app's, with the same URLs, locale choice,
session-held CSRF token, maintenance banner and security headers. What a plain app does not
do, it does not do here: every request opens the SQLite database with ``sqlite3``, reads the
packages, prices, add-ons and the maintenance flag, and renders both templates; nothing is
cached between requests.

    MANAGELY_DATABASE_URL=sqlite:///path/db.sqlite3 MANAGELY_SECRET_KEY=… \\
        gunicorn -w 1 --pythonpath bench flask_catalog:app
"""

from __future__ import annotations

import json
import secrets
import sqlite3

from flask import Blueprint, Flask, g, render_template, request, session
from markupsafe import Markup

from managely import i18n, templating
from managely.models.catalog import BillingPeriod
from managely.services.catalog import PERIOD_ORDER, Addon, Catalog, Offer, Price
from managely.settings import get_settings
from managely.web import STATIC_DIR
from managely.web.portal import BACKUP_NAMES, PERIOD_NAMES

settings = get_settings()
DB_PATH = settings.database_url.split("://", 1)[1]

app = Flask(__name__, template_folder=str(templating.TEMPLATES_DIR), static_folder=str(STATIC_DIR))
app.config.update(
    SECRET_KEY=settings.secret_key,
    SESSION_COOKIE_NAME="managely_session",
    SESSION_COOKIE_SECURE=settings.session_secure,
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
)
templating.configure(app.jinja_env)


def csrf_token() -> str:
    token = session.get("csrf_token")
    if not token:
        token = session["csrf_token"] = secrets.token_urlsafe(32)
    return token


app.jinja_env.globals["csrf_token"] = csrf_token


def _stub() -> str:
    return ""


# The endpoints the page links to, at the product's paths, so url_for builds the same links.
STUBS = {
    "portal": [
        ("/about", "about"),
        ("/terms", "terms"),
        ("/privacy", "privacy"),
        ("/contact", "contact"),
        ("/lang", "set_language"),
    ],
    "accounts": [("/signup", "signup"), ("/login", "login"), ("/logout", "logout")],
    "checkout": [("/panel/systems/new", "new_system")],
    "panel": [("/panel/", "dashboard")],
    "admin": [("/admin/", "dashboard")],
}
portal = Blueprint("portal", __name__)
blueprints = {"portal": portal}
for name, rules in STUBS.items():
    blueprint = blueprints.setdefault(name, Blueprint(name, __name__))
    for rule, endpoint in rules:
        blueprint.add_url_rule(rule, endpoint, _stub, methods=["GET", "POST"])


def db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(DB_PATH)
        g.db.row_factory = sqlite3.Row
    return g.db


@app.teardown_appcontext
def close_db(_exc: BaseException | None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


@app.before_request
def per_request() -> None:
    g.user, g.permissions = None, frozenset()
    locale = i18n.select_locale(
        None, request.cookies.get("lang"), request.headers.get("Accept-Language", "")
    )
    i18n.set_locale(locale, settings.arabic_digits)
    g.locale = locale
    row = db().execute("SELECT value FROM platform_settings WHERE key = 'maintenance_mode'")
    found = row.fetchone()
    g.maintenance = bool(json.loads(found["value"])) if found and found["value"] else False


@app.after_request
def security_headers(response):
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'",
    )
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    response.vary.update(("HX-Request", "HX-Target", "Accept-Language", "Cookie"))
    return response


def load_catalog() -> Catalog:
    """Packages, prices and add-ons, read now (the product's ``catalog._load`` in SQL)."""
    connection = db()
    packages = connection.execute(
        "SELECT * FROM packages WHERE is_active AND is_public ORDER BY sort_order"
    ).fetchall()
    ids = [p["id"] for p in packages]
    marks = ",".join("?" * len(ids))
    periods = connection.execute(
        f"SELECT * FROM package_periods WHERE is_active AND package_id IN ({marks})",  # noqa: S608
        ids,
    ).fetchall()
    addons = connection.execute(
        "SELECT * FROM addon_apps WHERE is_active ORDER BY sort_order"
    ).fetchall()
    links = {
        (row[0], row[1])
        for row in connection.execute("SELECT addon_id, package_id FROM addon_app_packages")
    }
    offers = []
    for package in packages:
        prices = sorted(
            (
                Price(
                    period=BillingPeriod(p["period"]),
                    months=p["months"],
                    currency=p["currency"],
                    price_minor=p["price_minor"],
                    setup_fee_minor=p["setup_fee_minor"],
                    trial_days=p["trial_days"],
                )
                for p in periods
                if p["package_id"] == package["id"]
            ),
            key=lambda p: (p.currency, p.months),
        )
        allowed = tuple(
            Addon(
                slug=a["slug"],
                name_en=a["name_en"],
                name_ar=a["name_ar"],
                description_en=a["description_en"],
                description_ar=a["description_ar"],
                price_minor=a["price_minor"],
                currency=a["currency"],
                billing=a["billing"],
            )
            for a in addons
            if (a["id"], package["id"]) in links
        )
        offers.append(
            Offer(
                slug=package["slug"],
                code=package["code"],
                name_en=package["name_en"],
                name_ar=package["name_ar"],
                description_en=package["description_en"],
                description_ar=package["description_ar"],
                included_users=package["included_users"],
                storage_gb=package["storage_gb"],
                backup_schedule=package["backup_schedule"],
                modules=tuple(json.loads(package["tryton_modules"] or "[]")),
                prices=tuple(prices),
                addons=allowed,
            )
        )
    currencies = sorted({p.currency for o in offers for p in o.prices})
    used_periods = sorted({p.period for o in offers for p in o.prices}, key=PERIOD_ORDER.get)
    return Catalog(tuple(offers), tuple(currencies), tuple(used_periods))


@portal.get("/", endpoint="home")
def home() -> str:
    catalog = load_catalog()
    currency = catalog.currency_or_default(request.args.get("currency"))
    period = request.args.get("period")
    if period not in catalog.periods:
        period = BillingPeriod.MONTHLY if BillingPeriod.MONTHLY in catalog.periods else None
        period = period or (catalog.periods[0] if catalog.periods else BillingPeriod.MONTHLY)
    catalog_html = Markup(  # noqa: S704 - an autoescaped template's output
        render_template(
            "portal/_catalog.html",
            catalog=catalog,
            currency=currency,
            period=BillingPeriod(period),
            period_names=PERIOD_NAMES,
            backup_names=BACKUP_NAMES,
        )
    )
    return render_template("portal/home.html", catalog_html=catalog_html)


for blueprint in blueprints.values():
    app.register_blueprint(blueprint)
