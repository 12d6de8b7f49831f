"""Monitoring: alerts (email, webhook, never blocking), server health with consecutive
failures, placement around unhealthy servers, the alert sweep, and the clock's catch-up."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from managely import settings
from managely.hosts.local import LocalDriver
from managely.i18n import stored, use_locale
from managely.jobs import clock
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.platform import Alert, ClockRun, Heartbeat
from managely.models.servers import Server, ServerHealthSample, ServerStatus
from managely.services import alerts, monitoring, servers
from managely.services.errors import Conflict
from tests.conftest import make_user

HEALTH_SCRIPT = """#!/usr/bin/env bash
# A stand-in for system_health_check.sh: fails while the marker file exists.
root=$2
if [[ -e $root/down ]]; then echo "::error host is down"; exit 3; fi
echo "::result load1=0.25"
echo "::result mem_used_pct=41.5"
echo "::result disk_used_pct=63"
echo "::result trytond=up"
echo "::result sites=0"
"""


@pytest.fixture
async def ops_admin(database):
    return await make_user("dana@example.com", "admin", "Dana Admin")


@pytest.fixture
async def host(database, tmp_path, monkeypatch):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "system_health_check.sh").write_text(HEALTH_SCRIPT)
    root = tmp_path / "root"
    root.mkdir()
    server = await servers.add_server(
        name="health-host", host="127.0.0.1", driver="local", root=str(root), capacity=5
    )
    server.status = ServerStatus.ACTIVE
    await server.save()
    driver = LocalDriver(scripts_dir=scripts)
    # Every check saves the server (a new updated_at), which would rebuild the cached driver.
    monkeypatch.setattr(servers, "driver_for_server", lambda _server: driver)
    return server


def subjects(smtp, address: str) -> list[str]:
    return [m["Subject"] for m in smtp.to(address)]


async def test_an_alert_emails_ops_staff_once_while_it_stays_open(
    database, ops_admin, bob, smtp, run_jobs
):
    first = await alerts.raise_alert("backup_failed", "backup:x1", "Backup x1 failed", "disk full")
    again = await alerts.raise_alert("backup_failed", "backup:x1", "Backup x1 failed", "disk full")
    await run_jobs()
    assert first is not None and again is None
    assert subjects(smtp, "dana@example.com") == ["Managely alert: Backup x1 failed"]
    assert subjects(smtp, "bob@example.com") == []  # support staff lack operations.manage
    body = smtp.to("dana@example.com")[0].get_body(("plain",)).get_content()
    assert "disk full" in body and "/admin/monitoring" in body

    await alerts.resolve("backup:x1")
    assert (
        await alerts.raise_alert("backup_failed", "backup:x1", "Backup x1 failed", "") is not None
    )
    await run_jobs()
    assert len(subjects(smtp, "dana@example.com")) == 2


async def test_each_member_of_staff_reads_an_alert_in_their_language(
    database, ops_admin, smtp, run_jobs
):
    hala = await make_user("hala@example.com", "admin", "Hala Admin")
    hala.locale = "ar"
    await hala.save()
    await alerts.raise_alert(
        "server_unhealthy",
        "server:db-1",
        stored("Server %(server)s is unhealthy", server="db-1"),
        stored("Tick %(tick)s UTC: %(detail)s", tick="2026-11-25 03:00", detail="disk full"),
    )
    await run_jobs()
    assert subjects(smtp, "dana@example.com") == ["Managely alert: Server db-1 is unhealthy"]
    # The Arabic catalog's own words, around the name and the host's error left as they are.
    assert subjects(smtp, "hala@example.com") == ["تنبيه من Managely: الخادم db-1 غير سليم"]
    body = smtp.to("hala@example.com")[0].get_body(("plain",)).get_content()
    assert "الدورة 2026-11-25 03:00 بالتوقيت العالمي: disk full" in body

    alert = await Alert.get(key="server:db-1")
    assert (alert.subject, alert.body) == (
        "Server db-1 is unhealthy",  # the row's columns stay English: webhooks, logs
        "Tick 2026-11-25 03:00 UTC: disk full",
    )
    with use_locale("ar"):
        assert alert.subject_text == "الخادم db-1 غير سليم"
    old = await Alert.create(kind="x", key="x:old", subject="Plain", body="text")
    with use_locale("ar"):  # a row from before the message column reads as it was stored
        assert (old.subject_text, old.body_text) == ("Plain", "text")


async def test_alert_addresses_set_by_staff_replace_the_role_lookup(
    database, ops_admin, smtp, run_jobs
):
    from managely.services.platform import set_setting

    await set_setting(None, alerts.EMAILS_SETTING, ["pager@example.com", "oncall@example.com"])
    await alerts.raise_alert("task_failed", "clock:x", "Task x failed", "")
    await run_jobs()
    assert subjects(smtp, "pager@example.com") == ["Managely alert: Task x failed"]
    assert len(subjects(smtp, "oncall@example.com")) == 1
    assert subjects(smtp, "dana@example.com") == []


async def test_an_alert_never_raises_to_its_caller(database, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("templates missing")

    monkeypatch.setattr(alerts, "queue_email", broken)
    assert await alerts.raise_alert("x", "x:1", "Subject", "Body") is None
    assert await Alert.filter(key="x:1").count() == 0  # rolled back whole, nothing half-sent


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 204

    def do_POST(self) -> None:  # noqa: N802 (http.server's hook name)
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch):
    _Hook.received, _Hook.status = [], 204
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("MANAGELY_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    settings.reset()
    yield _Hook
    server.shutdown()
    server.server_close()
    monkeypatch.delenv("MANAGELY_ALERT_WEBHOOK_URL")
    settings.reset()


async def test_an_alert_is_posted_to_the_webhook_when_one_is_set(database, webhook, run_jobs):
    alert = await alerts.raise_alert("server_unhealthy", "server:a", "Server a is unhealthy", "x")
    await run_jobs()
    assert [(p["key"], p["subject"]) for p in webhook.received] == [
        ("server:a", "Server a is unhealthy")
    ]
    await alert.refresh_from_db()
    assert alert.webhook_status == "sent"


async def test_a_refused_webhook_is_recorded_and_raised_for_the_queue_to_retry(database, webhook):
    webhook.status = 500
    alert = await Alert.create(kind="x", key="x:2", subject="Subject", body="Body")
    with pytest.raises(httpx.HTTPStatusError):
        await alerts.send_webhook(alert.id)
    await alert.refresh_from_db()
    assert alert.webhook_status == "failed" and "500" in alert.webhook_error
    assert len(webhook.received) == 1


async def test_a_server_failing_once_stays_active_and_three_times_becomes_unreachable(
    host, ops_admin, smtp, run_jobs
):
    root = host.sites_root
    sample = await monitoring.check_server(host)
    assert sample.ok and sample.load1 == 0.25 and sample.disk_used_pct == 63.0
    await host.refresh_from_db()
    assert host.status == ServerStatus.ACTIVE and host.last_ok_at is not None

    Path(root, "down").touch()
    assert (await monitoring.check_servers()) == {"ok": 0, "failed": 1}
    await host.refresh_from_db()
    assert host.status == ServerStatus.ACTIVE and host.consecutive_failures == 1
    assert await Alert.filter(key="server:health-host").count() == 0

    await monitoring.check_server(host)
    await monitoring.check_server(host)
    await host.refresh_from_db()
    assert host.status == ServerStatus.UNREACHABLE and host.consecutive_failures == 3
    alert = await Alert.get(key="server:health-host", resolved_at=None)
    assert "host is down" in alert.body
    await run_jobs()
    assert subjects(smtp, "dana@example.com") == ["Managely alert: Server health-host is unhealthy"]
    with pytest.raises(Conflict):
        await servers.place()  # the only server is unreachable: no placement

    Path(root, "down").unlink()
    await monitoring.check_server(host)
    await host.refresh_from_db()
    assert host.status == ServerStatus.ACTIVE and host.consecutive_failures == 0
    await alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert (await servers.place()).id == host.id
    assert await ServerHealthSample.filter(server=host).count() == 5


async def test_placement_skips_unreachable_and_draining_servers(database):
    made = {}
    for name, status in (
        ("gone", ServerStatus.UNREACHABLE),
        ("leaving", ServerStatus.DRAINING),
        ("fine", ServerStatus.ACTIVE),
    ):
        made[name] = await Server.create(
            name=name, host="127.0.0.1", driver="local", status=status, capacity=100
        )
    # "gone" and "leaving" have more room, yet every site lands on "fine".
    await Server.filter(name="fine").update(capacity=3)
    placed = {(await servers.place()).name for _ in range(3)}
    assert placed == {"fine"}
    with pytest.raises(Conflict):
        await servers.place()


async def test_the_sweep_alerts_on_a_failed_renewal_run_and_resolves_when_it_passes(
    database, ops_admin, smtp, run_jobs
):
    tick = clock.SCHEDULES["billing.renew"].tick_at(datetime.now(UTC))
    await ClockRun.create(task="billing.renew", tick=tick, status="failed", detail="boom")
    counts = await alerts.sweep()
    assert counts["tasks"] == 1
    alert = await Alert.get(key="clock:billing.renew", resolved_at=None)
    assert "boom" in alert.body
    await run_jobs()
    assert subjects(smtp, "dana@example.com") == [
        "Managely alert: Scheduled task billing.renew failed"
    ]

    await ClockRun.create(
        task="billing.renew", tick=tick + timedelta(hours=1), status="done", detail="renewed 0"
    )
    await alerts.sweep()
    await alert.refresh_from_db()
    assert alert.resolved_at is not None


async def test_the_sweep_alerts_on_a_stuck_operation_and_on_a_failed_backup(database):
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    stuck = await SaaSOperation.create(kind=OperationKind.PROVISION)
    await SaaSOperation.filter(id=stuck.id).update(updated_at=long_ago)
    backup = await SaaSOperation.create(
        kind=OperationKind.BACKUP,
        status=OperationStatus.FAILED,
        finished_at=datetime.now(UTC),
        error_detail="tar: no space left on device",
    )
    counts = await alerts.sweep()
    assert counts["stuck"] == 1 and counts["backups"] == 1
    assert await Alert.exists(key=f"operation:{stuck.code}", resolved_at=None)
    assert (await Alert.get(key=f"backup:{backup.code}")).body == "tar: no space left on device"
    assert (await alerts.sweep())["backups"] == 0  # told once

    await SaaSOperation.filter(id=stuck.id).update(status=OperationStatus.SUCCEEDED)
    await alerts.sweep()
    assert not await Alert.exists(key=f"operation:{stuck.code}", resolved_at=None)


@pytest.fixture
def one_schedule(monkeypatch):
    """Only email.sweep is scheduled (catching up everything would start every job)."""
    only = {"email.sweep": clock.SCHEDULES["email.sweep"]}
    monkeypatch.setattr(clock, "SCHEDULES", only)
    return only["email.sweep"]


async def test_a_clock_that_was_down_catches_up_the_missed_ticks_once(
    database, one_schedule, run_jobs
):
    interval = one_schedule.interval
    now = one_schedule.tick_at(datetime.now(UTC)) + timedelta(seconds=1)
    # Last sent an hour ago: twelve ticks were missed while the clock was down.
    await ClockRun.create(task="email.sweep", tick=one_schedule.tick_at(now - timedelta(hours=1)))
    assert await clock.catch_up(now) == ["email.sweep"]
    assert await clock.catch_up(now) == []  # again (a restart): nothing more
    assert await clock.catch_up(now + interval / 2) == []  # later in the same tick
    await run_jobs()
    assert await ClockRun.filter(task="email.sweep").count() == 2
    latest = await ClockRun.filter(task="email.sweep").order_by("-tick").first()
    assert latest.tick == one_schedule.tick_at(now) and latest.status == "done"


async def test_two_clocks_catching_up_at_once_send_the_tick_once(database, one_schedule, run_jobs):
    now = datetime.now(UTC)
    sent = await asyncio.gather(clock.catch_up(now), clock.catch_up(now), clock.catch_up(now))
    assert sorted(len(s) for s in sent) == [0, 0, 1]
    await run_jobs()
    assert await ClockRun.filter(task="email.sweep").count() == 1


async def test_a_clock_taking_the_lead_catches_up_and_records_its_heartbeat(
    database, one_schedule, monkeypatch, run_jobs
):
    stop = asyncio.Event()
    caught = []
    original = clock.catch_up

    async def catch_up_then_stop(moment=None):
        caught.append(await original(moment))
        stop.set()
        return caught[-1]

    monkeypatch.setattr(clock, "catch_up", catch_up_then_stop)
    await clock.run(stop)
    await run_jobs()
    assert caught == [["email.sweep"]]
    beat = (await monitoring.heartbeats())["clock"]
    assert beat is not None and not beat.stale
    assert await Heartbeat.filter(kind="clock").count() == 1


async def test_a_worker_heartbeat_is_recorded_by_its_scheduled_job(database):
    from managely.jobs import health as health_jobs

    assert (await monitoring.heartbeats())["worker"] is None
    await health_jobs.worker_heartbeat.run()
    beat = (await monitoring.heartbeats())["worker"]
    assert beat is not None and beat.process.startswith("worker:") and not beat.stale
    assert (await ClockRun.get(task="health.worker_heartbeat")).status == "done"


async def test_a_synthetic_check_over_its_budget_alerts_and_a_quick_one_resolves_it(database):
    from managely.models.platform import SyntheticCheck
    from managely.services import synthetic

    now = datetime.now(UTC)
    slow = await SyntheticCheck.create(started_at=now, ok=True, duration_ms=301_000, stage="done")
    await synthetic._tell(slow, budget_s=300)
    alert = await Alert.get(key=synthetic.ALERT_SLOW, resolved_at=None)
    assert alert.subject == "The synthetic trial check took 301 s (budget 300 s)"
    quick = await SyntheticCheck.create(started_at=now, ok=True, duration_ms=40_000, stage="done")
    await synthetic._tell(quick, budget_s=300)
    await alert.refresh_from_db()
    assert alert.resolved_at is not None
