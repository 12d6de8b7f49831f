"""Access rules generated over the whole URL map, so a new route is covered by default.

- panel routes: anonymous → sign-in page, the owner → 200, another customer → 404;
- admin routes: a customer → 403, each staff role → 200 exactly when it holds the permission;
- every unsafe route refuses a request without the CSRF token.
"""

from __future__ import annotations

import re

import pytest

from managely.services.accounts import ROLES
from tests.conftest import PASSWORD, make_user
from tests.support import Browser
from tests.web.routes import OWNED_OBJECTS, OWNER_STATUS, PUBLIC_WITH_ARGS, VALID_FORMS

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            continue  # token-authenticated JSON: tests/web/test_api_access.py covers these
        view = app.view_functions[rule.endpoint]
        yield rule, view


def kind(view) -> str:
    if getattr(view, "_permission", None):
        return "staff"
    if getattr(view, "_login_required", False):
        return "customer"
    return "public"


async def url_for_owner(rule, owner) -> str:
    factory = OWNED_OBJECTS.get(rule.endpoint)
    args = (
        await factory(owner)
        if factory and (rule.arguments or rule.endpoint in OWNED_OBJECTS)
        else {}
    )
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: args[m.group(1)], rule.rule)
    return f"{url}?{args['_query']}" if "_query" in args else url


async def test_every_protected_route_is_known(app):
    for rule, view in rules(app):
        if rule.rule.startswith(("/panel", "/admin")):
            assert kind(view) != "public", f"{rule.rule} has no login or permission check"
        if rule.arguments and rule.endpoint not in PUBLIC_WITH_ARGS:
            assert rule.endpoint in OWNED_OBJECTS, f"add {rule.endpoint} to tests/web/routes.py"


async def test_customer_routes_send_anonymous_visitors_to_sign_in(app, alice, client):
    checked = 0
    for rule, view in rules(app):
        if kind(view) != "customer" or "GET" not in rule.methods:
            continue
        response = await client.get(await url_for_owner(rule, alice))
        assert response.status_code == 302, rule.rule
        assert response.headers["Location"].startswith("/login?next="), rule.rule
        checked += 1
    assert checked >= 2


async def test_customer_routes_serve_the_owner_and_hide_from_outsiders(
    app, alice, alice_client, charlie_client
):
    checked = 0
    for rule, view in rules(app):
        if kind(view) != "customer" or "GET" not in rule.methods:
            continue
        url = await url_for_owner(rule, alice)
        expected = OWNER_STATUS.get(rule.endpoint, 200)
        assert (await alice_client.get(url)).status_code == expected, url
        if rule.endpoint in OWNED_OBJECTS:
            assert (await charlie_client.get(url)).status_code == 404, url
            for method in rule.methods & UNSAFE:
                response = await charlie_client.post(url, VALID_FORMS.get(rule.endpoint, {}))
                assert response.status_code == 404, f"{method} {url}"
            checked += 1
    assert checked >= 1


@pytest.mark.parametrize("role", ["customer", *[r for r, (_, staff, _) in ROLES.items() if staff]])
async def test_staff_routes_follow_the_role_permissions(app, role):
    user = await make_user(f"{role}@staff.example.com", role)
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    granted = set(ROLES[role][2])
    checked = 0
    for rule, view in rules(app):
        if kind(view) != "staff" or "GET" not in rule.methods:
            continue
        response = await browser.get(await url_for_owner(rule, user))
        expected = 200 if view._permission in granted else 403
        assert response.status_code == expected, f"{role} {rule.rule}"
        checked += 1
    assert checked >= 2


async def test_every_unsafe_route_refuses_a_missing_csrf_token(app, alice, alice_client):
    checked = 0
    for rule, view in rules(app):
        for method in sorted(rule.methods & UNSAFE):
            url = (
                await url_for_owner(rule, alice)
                if rule.endpoint in OWNED_OBJECTS
                else (re.sub(r"<(?:\w+:)?(\w+)>", "x", rule.rule))
            )
            response = await alice_client.client.open(
                url, method=method, form=VALID_FORMS.get(rule.endpoint, {})
            )
            if getattr(view, "_csrf_exempt", False):
                continue
            assert response.status_code == 400, f"{method} {rule.rule}"
            checked += 1
    assert checked >= 8


def _english_sentences() -> set[str]:
    """Catalog sentences that Arabic translates: one showing on an Arabic page is a string the
    template or view left untranslated."""
    from babel.messages.pofile import read_po

    from tests.conftest import ROOT

    with (ROOT / "locales" / "ar" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="ar")
    found = set()
    for message in catalog:
        text_ = message.id if isinstance(message.id, str) else ""
        if (
            text_
            and message.string
            and message.string != text_
            and " " in text_.strip()
            and "%" not in text_
            and "<" not in text_
            and len(text_) >= 12
        ):
            found.add(text_)
    return found


async def test_every_customer_page_renders_in_arabic_with_no_english_left(app, alice, alice_client):
    from managely.services import accounts

    await accounts.set_locale(alice, "ar")
    english = _english_sentences()
    checked = 0
    for rule, view in rules(app):
        if kind(view) != "customer" or "GET" not in rule.methods:
            continue
        if rule.endpoint.endswith((".events", ".pdf", ".download")) or "download" in rule.rule:
            continue
        url = await url_for_owner(rule, alice)
        response = await alice_client.get(url, headers={"Accept-Language": "ar"})
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        page = await response.get_data(as_text=True)
        visible = re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(script|style|svg)\b.*?</\1>", " ", page))
        visible = " ".join(visible.split())
        left = sorted(s for s in english if s in visible)
        assert not left, f"{rule.rule} shows English in Arabic: {left[:5]}"
        assert 'dir="rtl"' in page or "<html" not in page, rule.rule
        checked += 1
    assert checked >= 10
