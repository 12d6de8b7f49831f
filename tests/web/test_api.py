"""The JSON API: token scopes, JWTs, revocation, idempotency, cursors, the error shape."""

from __future__ import annotations

from managely.models.accounts import ApiToken
from managely.models.support import SupportTicket
from managely.services import api_tokens
from tests.conftest import make_user
from tests.support import arabic
from tests.web.routes import make_launch, make_ticket


async def bearer(user, scopes=("read", "write")) -> dict[str, str]:
    _, value = await api_tokens.create(user, name="api test", scopes=scopes)
    return {"Authorization": f"Bearer {value}"}


async def test_a_token_lists_and_reads_the_owners_systems_only(app, alice, charlie):
    launch, _ = await make_launch(alice)
    await make_launch(charlie)
    client = app.test_client()
    response = await client.get("/api/v1/systems", headers=await bearer(alice))
    assert response.status_code == 200
    body = await response.get_json()
    assert [item["code"] for item in body["items"]] == [launch.code]
    assert body["items"][0]["package"] == "starter"
    assert body["page"] == {"next_cursor": None}
    one = await client.get(f"/api/v1/systems/{launch.code}", headers=await bearer(alice))
    assert (await one.get_json())["subdomain"] == launch.subdomain
    foreign = await client.get(f"/api/v1/systems/{launch.code}", headers=await bearer(charlie))
    assert foreign.status_code == 404


async def test_a_read_token_cannot_write(app, alice):
    response = await app.test_client().post(
        "/api/v1/tickets",
        json={"subject": "Help", "message": "Please"},
        headers=await bearer(alice, ("read",)),
    )
    assert response.status_code == 403
    assert (await response.get_json())["error"]["code"] == "insufficient_scope"
    assert not await SupportTicket.exists(user=alice)


async def test_a_revoked_token_opens_nothing_and_use_is_recorded(app, alice):
    token, value = await api_tokens.create(alice, name="ci")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {value}"}
    assert (await client.get("/api/v1/auth/session", headers=headers)).status_code == 200
    assert (await ApiToken.get(id=token.id)).last_used_at is not None
    await api_tokens.revoke(alice, token.code)
    response = await client.get("/api/v1/auth/session", headers=headers)
    assert response.status_code == 401
    error = (await response.get_json())["error"]
    assert error["code"] == "unauthenticated" and error["message"]


async def test_a_jwt_carries_the_asked_scopes_and_dies_with_its_token(app, alice):
    token, value = await api_tokens.create(alice, name="ci", scopes=("read", "write"))
    client = app.test_client()
    response = await client.post(
        "/api/v1/auth/token",
        json={"scopes": ["read"]},
        headers={"Authorization": f"Bearer {value}"},
    )
    assert response.status_code == 201
    issued = await response.get_json()
    assert issued["scopes"] == ["read"] and issued["expires_in"] == 900
    jwt_headers = {"Authorization": f"Bearer {issued['access_token']}"}
    session = await (await client.get("/api/v1/auth/session", headers=jwt_headers)).get_json()
    assert session["via"] == "jwt" and session["scopes"] == ["read"]
    assert session["user"]["email"] == "alice@example.com"
    write = await client.post(
        "/api/v1/tickets", json={"subject": "a", "message": "b"}, headers=jwt_headers
    )
    assert write.status_code == 403
    wider = await client.post(
        "/api/v1/auth/token",
        json={"scopes": ["admin"]},
        headers={"Authorization": f"Bearer {value}"},
    )
    assert wider.status_code == 403
    await api_tokens.revoke(alice, token.code)
    assert (await client.get("/api/v1/auth/session", headers=jwt_headers)).status_code == 401


async def test_staff_calls_need_the_admin_scope_and_the_permission(app, alice):
    admin = await make_user("root@staff.example.com", "admin")
    client = app.test_client()
    customer = await client.get("/api/v1/users", headers=await bearer(alice, ("admin",)))
    assert customer.status_code == 403
    without_scope = await client.get("/api/v1/users", headers=await bearer(admin, ("read",)))
    assert (await without_scope.get_json())["error"]["code"] == "insufficient_scope"
    granted = await client.get("/api/v1/users?q=alice", headers=await bearer(admin, ("admin",)))
    assert granted.status_code == 200
    assert [u["email"] for u in (await granted.get_json())["items"]] == ["alice@example.com"]


async def test_an_idempotency_key_replays_the_first_answer(app, alice):
    client = app.test_client()
    headers = {**await bearer(alice), "Idempotency-Key": "ticket-1"}
    body = {"subject": "Cannot log in", "message": "The page says no."}
    first = await client.post("/api/v1/tickets", json=body, headers=headers)
    again = await client.post("/api/v1/tickets", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert await first.get_json() == await again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await SupportTicket.filter(user=alice).count() == 1
    other = await client.post("/api/v1/tickets", json={**body, "subject": "Else"}, headers=headers)
    assert other.status_code == 422
    assert (await other.get_json())["error"]["code"] == "idempotency_key_reused"


async def test_lists_page_with_an_opaque_cursor(app, alice):
    made = [(await make_ticket(alice))[0].code for _ in range(3)]
    client = app.test_client()
    headers = await bearer(alice)
    first = await (await client.get("/api/v1/tickets?limit=2", headers=headers)).get_json()
    assert [t["code"] for t in first["items"]] == made[:0:-1]
    cursor = first["page"]["next_cursor"]
    assert cursor and str(made[0]) not in cursor
    second = await client.get(
        "/api/v1/tickets", query_string={"limit": 2, "cursor": cursor}, headers=headers
    )
    second = await second.get_json()
    assert [t["code"] for t in second["items"]] == made[:1]
    assert second["page"]["next_cursor"] is None
    bad = await client.get("/api/v1/tickets?cursor=nonsense", headers=headers)
    assert bad.status_code == 400
    assert (await bad.get_json())["error"]["code"] == "invalid_cursor"


async def test_errors_have_one_shape_and_a_translated_message(app, alice, charlie):
    launch, _ = await make_launch(charlie)
    headers = {**await bearer(alice), "Accept-Language": "ar"}
    response = await app.test_client().get(f"/api/v1/systems/{launch.code}", headers=headers)
    assert response.status_code == 404
    assert await response.get_json() == {
        "error": {"code": "not_found", "message": arabic("Not found.")}
    }
    invalid = await app.test_client().post("/api/v1/tickets", json={"subject": 5}, headers=headers)
    error = (await invalid.get_json())["error"]
    assert invalid.status_code == 400 and error["code"] == "invalid" and error["field"]


async def test_session_calls_keep_csrf_and_bearer_calls_need_none(app, alice, alice_client):
    body = {"subject": "From the browser", "message": "Hello"}
    refused = await alice_client.client.post("/api/v1/tickets", json=body)
    assert refused.status_code == 400
    assert (await refused.get_json())["error"]["code"] == "csrf_failed"
    token = await alice_client.csrf()
    accepted = await alice_client.client.post(
        "/api/v1/tickets", json=body, headers={"X-CSRF-Token": token}
    )
    assert accepted.status_code == 201
    by_token = await app.test_client().post(
        "/api/v1/tickets", json=body, headers=await bearer(alice)
    )
    assert by_token.status_code == 201


async def test_a_token_resets_a_system_password_and_reads_the_operation(app, alice):
    launch, _ = await make_launch(alice)
    client = app.test_client()
    headers = await bearer(alice)
    started = await client.post(f"/api/v1/systems/{launch.code}/password", headers=headers)
    assert started.status_code == 202
    operation = (await started.get_json())["operation"]
    assert operation["kind"] == "change_password" and operation["system"] == launch.code
    detail = await client.get(f"/api/v1/operations/{operation['code']}", headers=headers)
    assert [s["name"] for s in (await detail.get_json())["steps"]][:1] == ["check_site"]
    listed = await (await client.get("/api/v1/operations", headers=headers)).get_json()
    assert operation["code"] in [item["code"] for item in listed["items"]]


async def test_the_openapi_document_lists_every_api_route(app):
    response = await app.test_client().get("/api/v1/openapi.json")
    document = await response.get_json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/api/v1/systems/{code}" in document["paths"]
    assert not any(not path.startswith("/api/v1/") for path in document["paths"])


async def test_the_account_page_makes_a_token_with_the_chosen_scopes(alice, alice_client):
    response = await alice_client.client.post(
        "/panel/account/tokens",
        form={
            "name": "Reader",
            "expires": "30",
            "scopes": "read",
            "csrf_token": await alice_client.csrf(),
        },
    )
    assert response.status_code == 200
    token = await ApiToken.get(user=alice, name="Reader")
    assert token.scopes == ["read"]
    assert "Read</td>" in await response.get_data(as_text=True)
