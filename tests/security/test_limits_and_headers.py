"""Rate limits on the forms anyone can hammer, cookie flags, and security headers on every kind
of page (full page, htmx partial, JSON, live stream, file, error, static asset).

The contact form's and the second factor's limits are checked in tests/web; here the others.
"""

from __future__ import annotations

import pytest

from managely import settings
from managely.services import ratelimit
from managely.web import create_app
from managely.web.auth import auth
from tests.conftest import PASSWORD, _apply_env, make_user
from tests.security.test_route_sweep import target
from tests.support import Browser, text
from tests.web.test_access import kind, rules

WRONG = "wrong-horse-99"
# form -> (path, data, the limit it shares)
FORMS = {
    "login": ("/login", {"email": "alice@example.com", "password": WRONG}, ratelimit.LOGIN),
    "signup": (
        "/signup",
        {"name": "Eve", "email": "eve{n}@example.com", "password": "x", "company": "E"},
        ratelimit.SIGNUP,
    ),
    "password reset": (
        "/password/forgot",
        {"email": "alice@example.com"},
        ratelimit.PASSWORD_RESET,
    ),
}


async def hammer(browser: Browser, path: str, data: dict, tries: int) -> list[int]:
    statuses = []
    for n in range(tries):
        form = {key: value.format(n=n) for key, value in data.items()}
        statuses.append((await browser.post(path, form)).status_code)
    return statuses


@pytest.mark.parametrize("form", list(FORMS))
async def test_public_forms_refuse_a_flood_from_one_address(client, alice, form):
    path, data, limit = FORMS[form]
    # Twice the limit and one: even if a fixed window turns over mid-way, the last must refuse.
    statuses = await hammer(client, path, data, 2 * limit.count + 1)
    assert 429 not in statuses[: limit.count], statuses
    assert statuses[-1] == 429, statuses
    refused = await client.post(path, data | {"email": "alice@example.com"})
    assert "Too many attempts" in await text(refused)


async def test_email_codes_stop_being_checked_after_too_many_guesses(client, smtp, run_jobs):
    response = await client.post(
        "/signup",
        {"name": "Dana", "email": "dana@example.com", "password": PASSWORD, "company": "D"},
    )
    assert response.status_code == 302
    await run_jobs()
    right = smtp.last_code("dana@example.com")
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    statuses = [
        (await client.post("/verify", {"code": wrong})).status_code
        for _ in range(2 * ratelimit.OTP.count + 1)
    ]
    assert statuses[: ratelimit.OTP.count] == [400] * ratelimit.OTP.count
    assert statuses[-1] == 429
    # Past the limit even the right code waits: guessing buys nothing.
    assert (await client.post("/verify", {"code": right})).status_code == 429


def cookie(response, name: str) -> str:
    found = [c for c in response.headers.get_all("Set-Cookie") if c.startswith(f"{name}=")]
    assert found, f"no {name} cookie set"
    return found[-1]


async def test_cookies_are_http_only_same_site_and_secure_behind_https(database, alice):
    # quart-auth keeps the first app's Secure flag on its module-level extension (one app per
    # process in production); this app is built afresh from https settings.
    kept = auth.cookie_secure
    try:
        auth.cookie_secure = None
        _apply_env(MANAGELY_PUBLIC_URL="https://managely.test")
        browser = Browser(create_app(settings.get_settings()).test_client())
        form_page = await browser.get("/login", scheme="https")
        form = {"email": alice.email, "password": PASSWORD}
        signed_in = await browser.post("/login", form, scheme="https")
        language = await browser.post("/lang", {"locale": "ar", "next": "/"}, scheme="https")
    finally:
        auth.cookie_secure = kept
        _apply_env(MANAGELY_PUBLIC_URL="http://127.0.0.1:5000")
    for name, response in (
        ("managely_auth", signed_in),
        ("managely_session", form_page),
        ("lang", language),
    ):
        flags = cookie(response, name)
        assert "HttpOnly" in flags and "SameSite=Lax" in flags, flags
        if name != "lang":
            assert "; Secure" in flags, flags


def assert_protected(response, where: str) -> None:
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    policy = headers.get("Content-Security-Policy", "")
    assert "default-src" in policy, where
    if "text/html" in (response.content_type or ""):
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, where
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0], where


async def test_every_kind_of_answer_carries_the_security_headers(app, alice, alice_client, client):
    admin = await make_user("root@staff.example.com", "superadmin")
    staff = Browser(app.test_client())
    await staff.login(admin.email, PASSWORD)
    seen_types = set()
    for rule, view in rules(app):
        if "GET" not in rule.methods or (rule.arguments and rule.endpoint == "static"):
            continue
        url = await target(rule, alice)
        browser = staff if kind(view) == "staff" else alice_client
        for headers in ({}, {"HX-Request": "true"}):
            response = await browser.get(url, headers=headers)
            assert_protected(response, f"{rule.rule} {headers}")
            seen_types.add((response.content_type or "").split(";")[0])
    extra = {
        "static": await client.get("/static/css/app.css"),
        "404": await client.get("/no/such/page"),
        "404 json": await client.get("/no/such/page", headers={"Accept": "application/json"}),
        "405": await client.client.open("/about", method="DELETE", headers={"X-CSRF-Token": "x"}),
        "csrf": await client.post("/contact", {}, csrf=False),
        "403": await alice_client.get("/admin/"),
    }
    for where, response in extra.items():
        assert_protected(response, where)
        seen_types.add((response.content_type or "").split(";")[0])
    assert {"text/html", "application/json", "text/event-stream", "application/pdf"} <= seen_types
