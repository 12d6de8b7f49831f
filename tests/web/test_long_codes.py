"""A code longer than any public code names nothing: 404 on every route that takes one, for
a customer and for staff alike, never a database error (the column is VARCHAR(16))."""

from __future__ import annotations

import re

from tests.conftest import _signed_in, make_user
from tests.web.test_access import rules

TOO_LONG = "A" * 17


async def test_a_too_long_code_is_not_found_on_every_route(app, alice_client):
    staff = await _signed_in(app, await make_user("root@staff.example.com", "superadmin"))
    checked = 0
    for rule, _view in rules(app):
        if "code" not in rule.arguments or "GET" not in rule.methods:
            continue
        url = re.sub(r"<(?:\w+:)?\w+>", TOO_LONG, rule.rule)
        browser = staff if rule.rule.startswith("/admin") else alice_client
        response = await browser.get(url)
        assert response.status_code == 404, (rule.rule, response.status_code)
        checked += 1
    assert checked >= 20
