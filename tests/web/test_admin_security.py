"""Staff security screens: the audit log, sign-ins and lockouts, and the GeoIP rules."""

from __future__ import annotations

from datetime import timedelta

from managely.models.accounts import User
from managely.models.platform import AuditLog, GeoIpRule
from managely.services import accounts, audit, platform
from tests.support import Browser, text


async def test_audit_log_filters_by_actor_action_target_and_dates(root, root_client, alice, bob):
    await platform.audit(root, "users.lock", alice, before={"status": "active"})
    await platform.audit(bob, "support.reply", bob)
    page = await text(await root_client.get("/admin/security/audit?actor=root@"))
    assert "users.lock" in page and "support.reply" not in page
    page = await text(await root_client.get("/admin/security/audit?action=support."))
    assert "support.reply" in page and "users.lock" not in page
    page = await text(await root_client.get(f"/admin/security/audit?target={alice.code}"))
    assert "users.lock" in page and "support.reply" not in page
    today = accounts.now().date()
    ok = await root_client.get(f"/admin/security/audit?since={today}&until={today}")
    assert "users.lock" in await text(ok)
    before = today - timedelta(days=2)
    page = await text(await root_client.get(f"/admin/security/audit?until={before}"))
    assert "users.lock" not in page and "Nothing matches." in page
    bad = await root_client.get("/admin/security/audit?since=yesterday")
    assert bad.status_code == 400 and "Enter a date like" in await text(bad)


async def test_audit_log_pages_by_keyset(root, monkeypatch):
    for n in range(3):
        await platform.audit(root, f"test.entry{n}")
    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    first = await audit.audit_entries(audit.AuditFilters(action="test."))
    assert [e.action for e in first.rows] == ["test.entry2", "test.entry1"]
    second = await audit.audit_entries(audit.AuditFilters(action="test."), first.next_cursor)
    assert [e.action for e in second.rows] == ["test.entry0"] and second.next_cursor == ""


async def test_sign_ins_show_failures_and_locked_accounts(app, root_client, alice, bob_client):
    await Browser(app.test_client()).post(
        "/login", {"email": "alice@example.com", "password": "wrong-password-1"}
    )
    page = await text(await bob_client.get("/admin/security/sign-ins?failed=1"))
    assert "alice@example.com" in page and "wrong_password" in page
    assert "bob@example.com" not in page  # bob's own sign-in succeeded
    await User.filter(id=alice.id).update(locked_until=accounts.now() + timedelta(minutes=9))
    page = await text(await bob_client.get("/admin/security/locked"))
    assert "alice@example.com" in page and "Locked out after failed sign-ins" in page
    assert (await bob_client.get("/admin/security/audit")).status_code == 403  # no audit.view


async def test_geoip_rules_are_validated_added_and_deleted_with_audit(root, root_client):
    bad = await root_client.post(
        "/admin/security/geoip", {"country": "XQZ", "kind": "deny", "applies_to": "trial"}
    )
    assert bad.status_code == 400 and "two-letter country code" in await text(bad)
    bad = await root_client.post(
        "/admin/security/geoip", {"country": "FR", "kind": "deny", "applies_to": "everything"}
    )
    assert bad.status_code == 400 and not await GeoIpRule.exists()
    response = await root_client.post(
        "/admin/security/geoip",
        {"country": "fr", "kind": "deny", "applies_to": "trial", "note": "fraud wave"},
    )
    assert response.status_code == 302
    rule = await GeoIpRule.get(country="FR")
    assert (rule.kind, rule.applies_to, rule.note) == ("deny", "trial", "fraud wave")
    added = await AuditLog.get(action="platform.geoip_rule_added").prefetch_related("actor")
    assert added.actor.id == root.id and added.after["country"] == "FR"
    assert "fraud wave" in await text(await root_client.get("/admin/security/geoip"))
    response = await root_client.post(
        "/admin/security/geoip/delete", {"country": "FR", "applies_to": "trial"}
    )
    assert response.status_code == 302 and not await GeoIpRule.exists()
    removed = await AuditLog.get(action="platform.geoip_rule_removed")
    assert removed.before["country"] == "FR" and removed.after is None
