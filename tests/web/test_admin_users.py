"""Staff user screens: search and filters, the detail page, audited actions, impersonation."""

from __future__ import annotations

from urllib.parse import urlencode

from managely import crypto
from managely.models.accounts import RecoveryCode, Role, TotpDevice, User, UserSession
from managely.models.platform import AuditLog
from managely.services import accounts, admin
from tests.conftest import PASSWORD, make_user
from tests.support import Browser, text


async def _entry(action: str) -> AuditLog:
    return await AuditLog.get(action=action).prefetch_related("actor", "impersonator")


async def test_staff_search_filter_and_page_through_users(
    root_client, alice, bob, charlie, monkeypatch
):
    page = await text(await root_client.get("/admin/users?q=alice"))
    assert "alice@example.com" in page and "charlie@example.com" not in page
    page = await text(await root_client.get("/admin/users?role=support"))
    assert "bob@example.com" in page and "alice@example.com" not in page
    await User.filter(id=charlie.id).update(email_verified_at=None)
    page = await text(await root_client.get("/admin/users?verified=no"))
    assert "charlie@example.com" in page and "alice@example.com" not in page
    monkeypatch.setattr(admin, "PAGE_SIZE", 2)
    first = await admin.list_users(filters=admin.UserFilters(role="customer"))
    assert [u.email for u in first.users] == ["charlie@example.com", "alice@example.com"]
    assert first.next_cursor == "" or first.next_cursor.isdigit()
    newest = await admin.list_users(cursor=str(charlie.id))
    assert [u.email for u in newest.users] == ["bob@example.com", "alice@example.com"]


async def test_user_detail_shows_roles_sessions_and_sign_ins(root_client, alice, alice_client):
    page = await text(await root_client.get(f"/admin/users/{alice.code}"))
    assert "Alice Owner" in page and "customer" in page
    assert f"/admin/users/{alice.code}/wallet" in page  # superadmin holds billing.adjust
    assert "Signed in" in page  # alice's sign-in from the fixture
    assert (await root_client.get("/admin/users/nosuchcode")).status_code == 404


async def test_locking_signs_the_user_out_and_both_actions_are_audited(
    root, root_client, alice, alice_client
):
    response = await root_client.post(
        f"/admin/users/{alice.code}/lock", {"action": "lock", "reason": "chargeback"}
    )
    assert response.status_code == 302
    assert (await User.get(id=alice.id)).status == "locked"
    assert (await alice_client.get("/panel/")).status_code == 302  # signed out
    entry = await _entry("users.lock")
    assert entry.actor.id == root.id and entry.impersonator is None
    assert (entry.target_type, entry.target_id, entry.reason) == ("User", alice.code, "chargeback")
    assert entry.before["status"] == "active" and entry.after["status"] == "locked"
    await User.filter(id=alice.id).update(failed_logins=3)
    await root_client.post(f"/admin/users/{alice.code}/lock", {"action": "unlock"})
    unlocked = await User.get(id=alice.id)
    assert (unlocked.status, unlocked.failed_logins, unlocked.locked_until) == ("active", 0, None)
    entry = await _entry("users.unlock")
    assert entry.before["status"] == "locked" and entry.after["status"] == "active"


async def test_staff_cannot_lock_themselves(root, root_client):
    response = await root_client.post(f"/admin/users/{root.code}/lock", {"action": "lock"})
    assert response.status_code == 403
    assert (await User.get(id=root.id)).status == "active"
    assert not await AuditLog.exists(action="users.lock")


async def test_resetting_two_factor_removes_the_device_and_codes_audited(root, root_client, alice):
    await TotpDevice.create(
        user=alice, secret_encrypted=crypto.encrypt("X"), confirmed_at=accounts.now()
    )
    await RecoveryCode.create(user=alice, code_hash="a")
    await RecoveryCode.create(user=alice, code_hash="b")
    response = await root_client.post(f"/admin/users/{alice.code}/reset-2fa")
    assert response.status_code == 302
    assert not await TotpDevice.exists(user=alice) and not await RecoveryCode.exists(user=alice)
    entry = await _entry("users.reset_2fa")
    assert entry.actor.id == root.id and entry.target_id == alice.code
    assert entry.before == {"totp_devices": 1, "recovery_codes": 2}
    assert entry.after == {"totp_devices": 0, "recovery_codes": 0}
    again = await root_client.post(f"/admin/users/{alice.code}/reset-2fa")
    assert again.status_code == 400


async def test_superadmin_changes_roles_audited_but_never_drops_their_own(root, root_client, alice):
    response = await root_client.post(f"/admin/users/{alice.code}/roles", {"roles": "billing"})
    assert response.status_code == 302
    assert await accounts.role_names(alice) == ["billing"]
    entry = await _entry("users.roles")
    assert entry.actor.id == root.id
    assert entry.before == {"roles": ["customer"]} and entry.after == {"roles": ["billing"]}
    response = await root_client.post(f"/admin/users/{root.code}/roles", {"roles": "admin"})
    assert response.status_code == 403
    assert await accounts.role_names(root) == ["superadmin"]


async def test_only_a_superadmin_grants_superadmin(app, alice):
    await Role.create(
        name="rolekeeper", is_staff=True, permissions=["admin.access", "users.view", "roles.manage"]
    )
    keeper = await make_user("keeper@example.com", "customer")
    await accounts.grant_role(keeper, "rolekeeper")
    browser = Browser(app.test_client())
    await browser.login(keeper.email, PASSWORD)
    form = [("roles", "customer"), ("roles", "superadmin"), ("csrf_token", await browser.csrf())]
    response = await browser.client.post(
        f"/admin/users/{alice.code}/roles",
        data=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403
    assert "Only a super administrator" in await text(response)
    assert await accounts.role_names(alice) == ["customer"]
    assert not await AuditLog.exists(action="users.roles")
    assert (
        await browser.post(f"/admin/users/{alice.code}/roles", {"roles": "support"})
    ).status_code == 302
    assert await accounts.role_names(alice) == ["support"]


async def test_staff_signs_out_one_session_of_a_user_audited(
    root, root_client, alice, alice_client
):
    session = await UserSession.get(user=alice, revoked_at=None)
    url = f"/admin/users/{alice.code}/sessions/{session.code}/revoke"
    assert (await root_client.post(url)).status_code == 302
    assert (await UserSession.get(id=session.id)).revoked_at is not None
    assert (await alice_client.get("/panel/")).status_code == 302
    entry = await _entry("users.revoke_session")
    assert entry.actor.id == root.id and entry.after == {"session": session.code, "revoked": True}


async def test_impersonation_shows_a_banner_and_ending_it_returns_to_staff(
    root, root_client, alice
):
    response = await root_client.post(f"/admin/users/{alice.code}/impersonate")
    assert response.status_code == 302 and response.headers["Location"] == "/panel/"
    page = await text(await root_client.get("/panel/"))
    assert 'id="impersonation-banner"' in page and "alice@example.com" in page
    assert "End impersonation" in page
    assert (await root_client.get("/admin/")).status_code == 403  # the customer's permissions
    acting = await UserSession.get(user=alice, impersonator_user_id=root.id)
    started = await _entry("users.impersonate_start")
    assert started.actor.id == root.id and started.target_id == alice.code
    assert started.after == {"session": acting.code}
    # What staff change as the customer is audited under both names.
    company = await alice.beneficiaries.all().first()
    form = {"name": "Renamed by staff", "country": "SA", "tax_id": "", "address": ""}
    assert (await root_client.post(f"/panel/companies/{company.code}", form)).status_code == 302
    changed = await _entry("impersonation.request")
    assert (changed.actor.id, changed.impersonator.id) == (alice.id, root.id)
    assert changed.after == {
        "method": "POST",
        "path": f"/panel/companies/{company.code}",
        "status": 302,
    }

    response = await root_client.post("/admin/impersonation/end")
    assert response.headers["Location"] == f"/admin/users/{alice.code}"
    assert (await root_client.get("/admin/")).status_code == 200  # back as themselves
    assert 'id="impersonation-banner"' not in await text(await root_client.get("/admin/"))
    assert (await UserSession.get(id=acting.id)).revoked_at is not None
    ended = await _entry("users.impersonate_end")
    assert ended.actor.id == alice.id and ended.impersonator.id == root.id


async def test_staff_cannot_impersonate_other_staff(root_client, bob, alice_client):
    response = await root_client.post(f"/admin/users/{bob.code}/impersonate")
    assert response.status_code == 403
    assert not await UserSession.exists(user=bob, impersonator_user_id__not_isnull=True)
    # Without an impersonation, "end" is nothing to do.
    assert (await alice_client.post("/admin/impersonation/end")).status_code == 404
