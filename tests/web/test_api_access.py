"""Access rules of the JSON API, generated over every ``/api/v1`` route of the URL map:
anonymous → 401, the owner → 2xx, another customer → 404, a token without the route's scope
→ 403, and staff routes answer exactly the roles holding their permission."""

from __future__ import annotations

import re

import pytest

from managely.services import api_tokens
from managely.services.accounts import ROLES
from tests.conftest import make_user
from tests.web.routes import OWNED_OBJECTS

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# The HTML route whose owned-object factory also makes the API route's object.
SAME_OBJECT_AS = {
    "api.systems.get_system": "panel.system",
    "api.systems.delete_system": "panel.system",
    "api.systems.change_password": "panel.system",
    "api.systems.change_domain": "panel.system",
    "api.operations.get_operation": "operations.page",
    "api.subscriptions.renew_subscription": "subscriptions.page",
    "api.subscriptions.cancel_subscription": "subscriptions.page",
    "api.invoices.get_invoice": "invoices.detail",
    "api.invoices.invoice_pdf_file": "invoices.pdf",
    "api.support.get_ticket": "support.detail",
    "api.support.reply_ticket": "support.reply",
}
# A valid request body or query, so that the access rule is the only thing tested.
VALID = {
    "api.auth.issue_token": {"json": {}},
    "api.systems.create_system": {"json": {"package": "starter", "subdomain": "apisys"}},
    "api.systems.delete_system": {"query_string": {"confirm": "nope"}},
    "api.systems.change_domain": {"json": {"domain": "shop.example.com"}},
    "api.subscriptions.create_subscription": {"json": {"system": "abcdefghjkmn"}},
    "api.wallet.recharge_wallet": {"json": {"amount": "10", "currency": "USD"}},
    "api.support.create_ticket": {"json": {"subject": "a", "message": "b"}},
    "api.support.reply_ticket": {"json": {"message": "Any news?"}},
    "api.addons.install_app": {"json": {"system": "abcdefghjkmn", "addon": "x"}},
}
ALL_SCOPES = ("read", "write", "admin")


def api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "openapi":
            yield rule, app.view_functions[rule.endpoint]


def methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


async def url_for(rule, owner) -> str:
    factory = OWNED_OBJECTS.get(SAME_OBJECT_AS.get(rule.endpoint, ""))
    args = await factory(owner) if factory else {}
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: args[m.group(1)], rule.rule)


async def bearer(user, scopes=ALL_SCOPES) -> dict[str, str]:
    _, value = await api_tokens.create(user, name="access test", scopes=scopes)
    return {"Authorization": f"Bearer {value}"}


async def call(client, method: str, rule, url: str, headers: dict | None = None):
    return await client.open(
        url, method=method, headers=headers or {}, **VALID.get(rule.endpoint, {})
    )


async def test_every_api_route_declares_its_scope_and_object(app):
    found = list(api_rules(app))
    assert len(found) >= 20
    for rule, view in found:
        assert view._api_scope in ALL_SCOPES, rule.rule
        if rule.arguments:
            assert rule.endpoint in SAME_OBJECT_AS, f"add {rule.endpoint} to SAME_OBJECT_AS"


async def test_anonymous_calls_are_refused_with_401(app, alice):
    client = app.test_client()
    checked = 0
    for rule, _ in api_rules(app):
        url = await url_for(rule, alice)
        for method in methods(rule):
            response = await call(client, method, rule, url)
            assert response.status_code == 401, f"{method} {rule.rule}"
            assert (await response.get_json())["error"]["code"] == "unauthenticated"
            checked += 1
    assert checked >= 20


async def test_owners_read_their_objects_and_outsiders_get_404(app, alice, charlie):
    client = app.test_client()
    owner, outsider = await bearer(alice), await bearer(charlie)
    checked = 0
    for rule, view in api_rules(app):
        if view._api_scope == "admin":
            continue
        url = await url_for(rule, alice)
        if "GET" in rule.methods:
            response = await call(client, "GET", rule, url, owner)
            assert 200 <= response.status_code < 300, f"GET {url}"
        if rule.endpoint in SAME_OBJECT_AS:
            for method in methods(rule):
                response = await call(client, method, rule, url, outsider)
                assert response.status_code == 404, f"{method} {url}"
                assert (await response.get_json())["error"]["code"] == "not_found"
            checked += 1
    assert checked >= 10


async def test_a_token_without_the_routes_scope_gets_403(app, alice):
    client = app.test_client()
    tokens = {
        scope: await bearer(alice, [s for s in ALL_SCOPES if s != scope]) for scope in ALL_SCOPES
    }
    for rule, view in api_rules(app):
        url = await url_for(rule, alice)
        for method in methods(rule):
            response = await call(client, method, rule, url, tokens[view._api_scope])
            assert response.status_code == 403, f"{method} {rule.rule}"
            assert (await response.get_json())["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize("role", list(ROLES))
async def test_staff_routes_follow_the_role_permissions(app, role):
    user = await make_user(f"{role}@api.example.com", role)
    client = app.test_client()
    headers = await bearer(user)
    granted = set(ROLES[role][2])
    checked = 0
    for rule, view in api_rules(app):
        if view._api_permission is None:
            continue
        for method in methods(rule):
            response = await call(client, method, rule, rule.rule, headers)
            expected = 200 if view._api_permission in granted else 403
            assert response.status_code == expected, f"{role} {method} {rule.rule}"
            checked += 1
    assert checked >= 2
