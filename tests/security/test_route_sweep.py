"""Every route, every method, every kind of visitor: generated over the URL map.

tests/web/test_access.py checks GET pages for their owner, outsiders and staff roles, and the
missing CSRF token. This sweep adds the rest of the grid, so a new route is covered by default:

- unsafe methods for every visitor: anonymous, the owner's neighbour (another customer), each
  staff role with and without the route's permission;
- methods a URL does not declare answer 405;
- a CSRF token from another session is as good as none;
- nothing ever answers 5xx.

Objects in URLs belong to alice (tests/web/routes.py factories); charlie is the other customer.
"""

from __future__ import annotations

import re

import pytest

from managely.services.accounts import ROLES
from tests.conftest import PASSWORD, make_user
from tests.support import Browser
from tests.web.routes import OWNED_OBJECTS, VALID_FORMS
from tests.web.test_access import kind, rules, url_for_owner

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
EVERY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE")
STAFF_ROLES = [name for name, (_, staff, _) in ROLES.items() if staff]
# Staff who may read a customer's object through the customer's own URL: the support desk
# opens a ticket's attachments there, operations staff follow any operation's progress.
STAFF_READABLE = {
    "support.attachment": "support.view",
    "operations.page": "operations.view",
    "operations.widget": "operations.view",
    "operations.events": "operations.view",
    "operations.progress_status": "operations.view",
}
# Answer 503 on purpose while their gateway is not configured (the tests run without PayPal).
OFF_WITHOUT_GATEWAY = {"payments.paypal_webhook"}
# Ends the signed-in visitor's session, so the sweep leaves it out for them.
SIGN_OUT = "accounts.logout"


def declared(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def signed_in_rules(app):
    return ((rule, view) for rule, view in rules(app) if rule.endpoint != SIGN_OUT)


async def target(rule, owner) -> str:
    if rule.endpoint in OWNED_OBJECTS or not rule.arguments:
        return await url_for_owner(rule, owner)
    return re.sub(r"<(?:\w+:)?(\w+)>", "x", rule.rule)


async def send(browser: Browser, method: str, url: str, endpoint: str):
    """An unsafe request carries this session's valid CSRF token, so access is what decides."""
    form = VALID_FORMS.get(endpoint, {})
    if method == "GET":
        return await browser.get(url)
    headers = {"X-CSRF-Token": await browser.csrf()}
    return await browser.client.open(url, method=method, form=form, headers=headers)


def no_server_error(response, endpoint: str) -> bool:
    if response.status_code == 503 and endpoint in OFF_WITHOUT_GATEWAY:
        return True
    return response.status_code < 500


def to_login(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


async def test_anonymous_visitors_reach_nothing_protected_by_any_method(app, alice, client):
    checked = 0
    for rule, view in rules(app):
        url = await target(rule, alice)
        for method in declared(rule):
            response = await send(client, method, url, rule.endpoint)
            where = f"{method} {rule.rule}"
            assert no_server_error(response, rule.endpoint), where
            if kind(view) != "public":
                assert to_login(response), f"{where}: {response.status_code}"
                checked += 1
    assert checked >= 40


async def test_another_customer_gets_nothing_of_alices_by_any_method(app, alice, charlie_client):
    checked = 0
    for rule, view in signed_in_rules(app):
        url = await target(rule, alice)
        for method in declared(rule):
            response = await send(charlie_client, method, url, rule.endpoint)
            where = f"{method} {rule.rule}"
            assert no_server_error(response, rule.endpoint), where
            if kind(view) == "staff":
                assert response.status_code == 403, where
            elif kind(view) == "customer" and rule.endpoint in OWNED_OBJECTS:
                assert response.status_code == 404, where
            else:
                continue
            checked += 1
    assert checked >= 40


@pytest.mark.parametrize("role", STAFF_ROLES)
async def test_staff_roles_get_exactly_what_their_permissions_allow_by_any_method(app, alice, role):
    user = await make_user(f"{role}@staff.example.com", role)
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    granted = set(ROLES[role][2])
    checked = 0
    for rule, view in signed_in_rules(app):
        url = await target(rule, alice)
        for method in declared(rule):
            if method == "GET" and kind(view) == "staff":
                continue  # test_access.py checks the pages
            response = await send(browser, method, url, rule.endpoint)
            where = f"{role} {method} {rule.rule}"
            assert no_server_error(response, rule.endpoint), where
            if kind(view) == "staff":
                if view._permission in granted:
                    # Not refused for who they are; a 404 may name an object the empty form
                    # lacks (test_access.py checks the pages themselves).
                    assert response.status_code not in (401, 403, 405), where
                else:
                    assert response.status_code == 403, where
            elif kind(view) == "customer" and rule.endpoint in OWNED_OBJECTS:
                allowed = STAFF_READABLE.get(rule.endpoint) in granted and method == "GET"
                assert response.status_code == (200 if allowed else 404), where
            else:
                continue
            checked += 1
    assert checked >= 40


async def test_methods_a_url_does_not_declare_answer_405(app, alice, alice_client):
    adapter = app.url_map.bind("localhost")
    checked = 0
    for rule, _view in signed_in_rules(app):
        if rule.endpoint == "static":
            continue
        url = await target(rule, alice)
        allowed = adapter.allowed_methods(url.split("?")[0])
        for method in EVERY_METHOD:
            if method in allowed:
                continue
            response = await send(alice_client, method, url, rule.endpoint)
            assert response.status_code == 405, f"{method} {rule.rule}"
            checked += 1
    assert checked >= 100


async def test_a_csrf_token_from_another_session_is_refused_on_every_unsafe_route(
    app, alice, alice_client, charlie_client
):
    foreign = await charlie_client.csrf()
    checked = 0
    for rule, view in signed_in_rules(app):
        if getattr(view, "_csrf_exempt", False):
            continue
        url = await target(rule, alice)
        for method in sorted(rule.methods & UNSAFE):
            form = {**VALID_FORMS.get(rule.endpoint, {}), "csrf_token": foreign}
            as_field = await alice_client.client.open(url, method=method, form=form)
            as_header = await alice_client.client.open(
                url, method=method, headers={"X-CSRF-Token": foreign}
            )
            assert as_field.status_code == as_header.status_code == 400, f"{method} {rule.rule}"
            checked += 1
    assert checked >= 20
