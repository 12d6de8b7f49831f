"""Staff servers screen: adding (key encrypted), drain, bootstrap, firewall rules, health."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from managely import crypto
from managely.hosts.local import LocalDriver
from managely.models.operations import OperationKind, SaaSOperation
from managely.models.platform import AuditLog
from managely.models.servers import FirewallRule, Server, ServerHealthSample, ServerStatus
from managely.services import servers
from managely.services.errors import Conflict
from tests.conftest import PASSWORD, make_user
from tests.support import Browser, text

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"


@pytest.fixture
async def admin_client(app) -> Browser:
    user = await make_user("ops@staff.example.com", "admin")
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


async def _local(name: str, root: Path, status=ServerStatus.ACTIVE, capacity=5) -> Server:
    server = await servers.add_server(
        name=name, host="127.0.0.1", driver="local", root=str(root), capacity=capacity
    )
    server.status = status
    await server.save()
    return server


async def test_staff_add_a_server_whose_key_is_stored_encrypted_and_audited(admin_client):
    form = {
        "name": "fra-1",
        "host": "203.0.113.10",
        "driver": "ssh",
        "port": "2222",
        "ssh_user": "deploy",
        "private_key": KEY,
        "region": "eu",
        "capacity": "40",
    }
    response = await admin_client.post("/admin/servers/", form)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/servers/fra-1"
    server = await Server.get(name="fra-1")
    assert (server.host, server.port, server.ssh_user, server.region, server.capacity) == (
        "203.0.113.10",
        2222,
        "deploy",
        "eu",
        40,
    )
    assert KEY not in server.ssh_key_encrypted
    assert crypto.decrypt(server.ssh_key_encrypted).strip() == KEY
    entry = await AuditLog.get(action="server.add")
    assert entry.target_id == server.code and entry.after["capacity"] == 40
    assert "OPENSSH" not in str(entry.after)


async def test_a_bad_server_form_is_refused_and_adds_nothing(admin_client):
    form = {"name": "x-1", "host": "203.0.113.10", "driver": "ssh", "port": "70000"}
    response = await admin_client.post("/admin/servers/", {**form, "private_key": KEY})
    assert response.status_code == 400
    assert "Enter a whole number from 1 to 65535." in await text(response)
    response = await admin_client.post("/admin/servers/", {**form, "port": "22", "host": "a b"})
    assert response.status_code == 400
    assert not await Server.exists(name="x-1")


async def test_a_drained_server_gets_no_new_systems_until_undrained(admin_client, tmp_path):
    roomy = await _local("roomy", tmp_path / "a", capacity=50)
    other = await _local("other", tmp_path / "b", capacity=5)
    assert (await servers.place()).id == roomy.id

    response = await admin_client.post("/admin/servers/roomy/drain", {"action": "drain"})
    assert response.status_code == 302
    await roomy.refresh_from_db()
    assert roomy.status == ServerStatus.DRAINING
    assert (await servers.place()).id == other.id
    other.status = ServerStatus.DRAINING
    await other.save()
    with pytest.raises(Conflict):
        await servers.place()

    await admin_client.post("/admin/servers/roomy/drain", {"action": "undrain"})
    assert (await servers.place()).id == roomy.id
    actions = (
        await AuditLog.filter(target_id=roomy.code).order_by("id").values_list("action", "after")
    )
    assert actions == [
        ("server.drain", {"status": "draining"}),
        ("server.undrain", {"status": "active"}),
    ]


async def test_bootstrap_is_an_operation_shown_with_the_live_widget(
    admin_client, tmp_path, run_jobs
):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "bootstrap_server.sh").write_text(
        "echo '::step prepare_dirs'\necho '::progress 50'\necho '::step check_service'\n"
    )
    server = await _local("fresh", tmp_path / "root", status=ServerStatus.NEW)
    servers.set_driver(server, LocalDriver(scripts_dir=scripts))

    response = await admin_client.post("/admin/servers/fresh/bootstrap")
    operation = await SaaSOperation.get(server=server, kind=OperationKind.BOOTSTRAP_SERVER)
    assert response.headers["Location"] == f"/admin/operations/{operation.code}"
    await run_jobs()
    await server.refresh_from_db()
    assert server.status == ServerStatus.ACTIVE
    assert await AuditLog.filter(action="server.bootstrap", target_id=server.code).count() == 1
    page = await text(await admin_client.get(f"/admin/operations/{operation.code}"))
    assert "Done." in page and "progress--done" in page


async def test_firewall_rules_are_validated_and_applied_by_an_operation(
    admin_client, tmp_path, run_jobs
):
    server = await _local("wall", tmp_path)
    bad = await admin_client.post(
        "/admin/servers/wall/firewall", {"action": "allow", "port": "443", "source": "10.0.0.0/99"}
    )
    assert bad.status_code == 400
    assert not await FirewallRule.exists(server=server)
    form = {"action": "allow", "port": "443", "protocol": "tcp", "source": "203.0.113.0/24"}
    assert (await admin_client.post("/admin/servers/wall/firewall", form)).status_code == 302
    rule = await FirewallRule.get(server=server)
    assert (rule.port, rule.source, rule.is_applied) == (443, "203.0.113.0/24", False)

    await admin_client.post("/admin/servers/wall/firewall/apply")
    await run_jobs()
    await rule.refresh_from_db()
    assert rule.is_applied
    rules_file = tmp_path / "etc" / "firewall.rules"
    assert "allow 443/tcp from 203.0.113.0/24" in rules_file.read_text()

    await admin_client.post("/admin/servers/wall/firewall/delete", {"rule": str(rule.id)})
    await run_jobs()
    assert not await FirewallRule.exists(server=server)
    assert "443/tcp" not in rules_file.read_text()
    actions = (
        await AuditLog.filter(target_id=server.code).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["server.firewall.add", "server.firewall.apply", "server.firewall.delete"]


async def test_the_health_widget_shows_the_latest_sample_polled_or_streamed(admin_client, tmp_path):
    server = await _local("watched", tmp_path)
    await ServerHealthSample.create(
        server=server,
        sampled_at=datetime(2026, 1, 1, tzinfo=UTC),
        ok=True,
        load1=0.5,
        mem_used_pct=41.2,
        disk_used_pct=77.0,
    )
    widget = await text(
        await admin_client.get("/admin/servers/watched/health", headers={"HX-Request": "true"})
    )
    assert 'id="health-watched"' in widget and "<html" not in widget
    assert "41%" in widget and "77%" in widget and 'sse-swap="health"' in widget
    listing = await text(await admin_client.get("/admin/servers/"))
    assert "0 / 5" in listing and "77%" in listing

    server.status = ServerStatus.RETIRED  # a retired server's stream ends after one event
    await server.save()
    stream = await text(await admin_client.get("/admin/servers/watched/health/events"))
    assert stream.startswith("event: health\n") and "77%" in stream
    assert stream.rstrip().endswith("data:") and "event: done" in stream
