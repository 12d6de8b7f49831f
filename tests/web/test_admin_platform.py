"""Staff platform screen: announcements on the customer dashboard, maintenance mode pausing
launches, validated settings, and bulk operations as a parent with one child per system."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from managely.hosts.local import LocalDriver
from managely.models.launches import Launch, LaunchStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.platform import Announcement, AuditLog
from managely.models.servers import Server
from managely.services import operations, platform, servers
from tests.conftest import PASSWORD, make_user
from tests.support import Browser, text
from tests.web.routes import make_launch


@pytest.fixture
async def admin_client(app) -> Browser:
    user = await make_user("ops@staff.example.com", "admin")
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


async def test_an_active_announcement_shows_on_the_customer_dashboard(admin_client, alice_client):
    form = {"title_en": "Planned upgrade", "title_ar": "ترقية مخططة", "level": "warning"}
    response = await admin_client.post(
        "/admin/platform/announcements", {**form, "body_en": "Sunday 02:00 UTC", "is_active": "on"}
    )
    assert response.status_code == 302
    note = await Announcement.get(title_en="Planned upgrade")
    assert (note.level, note.is_active, note.body_en) == ("warning", True, "Sunday 02:00 UTC")
    assert "Planned upgrade" in await text(await alice_client.get("/panel/"))

    bad = await admin_client.post(
        f"/admin/platform/announcements/{note.code}",
        {**form, "starts_at": "2030-01-02T00:00", "ends_at": "2030-01-01T00:00", "is_active": "on"},
    )
    assert bad.status_code == 400
    await admin_client.post(f"/admin/platform/announcements/{note.code}", form)  # switched off
    await note.refresh_from_db()
    assert note.is_active is False
    assert "Planned upgrade" not in await text(await alice_client.get("/panel/"))
    await admin_client.post(f"/admin/platform/announcements/{note.code}/delete")
    assert not await Announcement.exists(id=note.id)
    actions = (
        await AuditLog.filter(target_id=note.code).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["announcement.save", "announcement.save", "announcement.delete"]


async def test_maintenance_mode_holds_new_systems_queued_until_it_ends(
    admin_client, alice, tmp_path
):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "create_site_in_isolated.sh").write_text("echo '::step check_site'\n")
    launch, _ = await make_launch(alice)
    servers.set_driver(await Server.get(id=launch.server_id), LocalDriver(scripts_dir=scripts))
    provision = await SaaSOperation.create(
        kind=OperationKind.PROVISION, launch=launch, server_id=launch.server_id, steps=[]
    )

    await admin_client.post("/admin/platform/maintenance", {"mode": "on"})
    assert await platform.maintenance_mode() is True
    assert await operations.run(provision.id, "w1") is None
    await provision.refresh_from_db()
    assert provision.status == OperationStatus.QUEUED and provision.attempts == 0

    await admin_client.post("/admin/platform/maintenance", {"mode": "off"})
    assert (await operations.run(provision.id, "w1")).status == OperationStatus.SUCCEEDED
    changes = (
        await AuditLog.filter(action="platform.setting")
        .order_by("id")
        .values_list("after", flat=True)
    )
    assert changes == [{"value": True}, {"value": False}]


async def test_settings_are_validated_before_they_are_saved(admin_client):
    await admin_client.post(
        "/admin/platform/settings",
        {"key": "alert_emails", "value": "ops@example.com, oncall@example.org"},
    )
    assert await platform.get_setting("alert_emails") == ["ops@example.com", "oncall@example.org"]
    await admin_client.post(
        "/admin/platform/settings", {"key": "alert_webhook_url", "value": "http://insecure"}
    )
    await admin_client.post(
        "/admin/platform/settings", {"key": "synthetic_check_interval_minutes", "value": "1"}
    )
    assert await platform.get_setting("alert_webhook_url") is None
    assert await platform.get_setting("synthetic_check_interval_minutes") is None
    unknown = await admin_client.post("/admin/platform/settings", {"key": "x", "value": "1"})
    assert unknown.status_code == 302
    assert await platform.get_setting("x") is None
    page = await text(await admin_client.get("/admin/platform/"))
    assert "ops@example.com, oncall@example.org" in page


async def test_a_bulk_parent_follows_the_progress_of_its_children(database):
    parent = await SaaSOperation.create(kind=OperationKind.BULK_UPDATE, status="running")
    children = [
        await SaaSOperation.create(kind=OperationKind.BULK_UPDATE, parent=parent, steps=[])
        for _ in range(3)
    ]
    await SaaSOperation.filter(id=children[0].id).update(status=OperationStatus.SUCCEEDED)
    parent = await operations.refresh_parent(parent.id)
    assert (parent.progress, parent.status, parent.result) == (
        33,
        "running",
        {"total": 3, "finished": 1},
    )
    await operations.cancel(children[1])  # a cancel counts as finished, not as a success
    await SaaSOperation.filter(id=children[2].id).update(status=OperationStatus.SUCCEEDED)
    parent = await operations.refresh_parent(parent.id)
    assert (parent.progress, parent.status, parent.error_detail) == (
        100,
        "failed",
        "1 of 3 did not succeed",
    )


async def test_bulk_deletion_needs_typed_confirmation_and_runs_one_child_per_system(
    admin_client, alice, charlie, run_jobs
):
    first, _ = await make_launch(alice)
    second, _ = await make_launch(charlie)
    page = await text(await admin_client.get("/admin/platform/bulk?server=route-host"))
    assert first.subdomain in page and second.subdomain in page

    async def start(confirm: str):
        form = [
            ("csrf_token", await admin_client.csrf()),
            ("action", "delete"),
            ("systems", first.code),
            ("systems", second.code),
            ("confirm", confirm),
        ]
        return await admin_client.client.post(
            "/admin/platform/bulk",
            data=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    refused = await start("yes")
    assert refused.status_code == 400
    assert "Type DELETE to confirm the deletion." in await text(refused)
    assert not await SaaSOperation.exists(kind=OperationKind.BULK_DELETE)

    response = await start("DELETE")
    parent = await SaaSOperation.get(kind=OperationKind.BULK_DELETE)
    assert response.headers["Location"] == f"/admin/operations/{parent.code}"
    await run_jobs()
    await parent.refresh_from_db()
    assert (parent.status, parent.progress, parent.result) == (
        "succeeded",
        100,
        {"total": 2, "finished": 2},
    )
    children = await SaaSOperation.filter(parent=parent).values_list("kind", "status")
    assert sorted(children) == [("delete", "succeeded"), ("delete", "succeeded")]
    statuses = await Launch.filter(id__in=[first.id, second.id]).values_list("status", flat=True)
    assert statuses == [LaunchStatus.DELETED, LaunchStatus.DELETED]
    entry = await AuditLog.get(action="operation.bulk_delete")
    assert sorted(entry.after["systems"]) == sorted([first.code, second.code])
    detail = await text(await admin_client.get(f"/admin/operations/{parent.code}"))
    assert "2 / 2" in detail


async def test_bulk_update_runs_the_package_modules_on_each_active_system(
    database, alice, tmp_path, run_jobs
):
    from managely.services import admin_platform

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "install_addon.sh").write_text(
        'echo "args: $*"\necho "::step verify"\necho "::result tryton_version=7.6.2"\n'
    )
    launch, _ = await make_launch(alice)
    servers.set_driver(await Server.get(id=launch.server_id), LocalDriver(scripts_dir=scripts))
    parent = await admin_platform.start_bulk(alice, "update", [launch.code])
    await run_jobs()
    await parent.refresh_from_db()
    await launch.refresh_from_db()
    assert (parent.status, parent.progress) == ("succeeded", 100)
    assert launch.erp_version == "7.6.2"
    child = await SaaSOperation.get(parent=parent)
    lines = await operations.logs_of(child)
    assert lines[0].line == (
        f"args: --root /tmp/managely-route-host --site {launch.site_name} --modules sale"
    )
