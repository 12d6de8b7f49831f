"""/metrics (read by Prometheus's own parser), its token, and the staff monitoring page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from managely import settings
from managely.i18n import stored
from managely.jobs import clock
from managely.models.billing import Wallet
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.platform import Alert, ClockRun, SyntheticCheck
from managely.services import alerts, monitoring
from managely.web import create_app
from tests.conftest import PASSWORD, make_user
from tests.support import Browser, text

TOKEN = "metrics-token-0123456789"


@pytest.fixture
async def metrics_app(database, monkeypatch):
    monkeypatch.setenv("MANAGELY_METRICS_TOKEN", TOKEN)
    settings.reset()
    yield create_app(settings.get_settings())
    monkeypatch.delenv("MANAGELY_METRICS_TOKEN")
    settings.reset()


def samples(body: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(client, token: str = TOKEN):
    return await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})


async def test_metrics_are_hidden_without_a_configured_token_and_refused_with_a_wrong_one(
    app, metrics_app
):
    assert (await app.test_client().get("/metrics")).status_code == 404
    client = metrics_app.test_client()
    assert (await client.get("/metrics")).status_code == 401
    assert (await scrape(client, "not-the-token-at-all")).status_code == 401
    assert (await scrape(client)).status_code == 200


async def test_metrics_parse_as_prometheus_text_with_requests_and_platform_state(
    metrics_app, alice
):
    await Wallet.create(user=alice, currency="USD", balance_minor=1250)
    await Wallet.create(user=await make_user("erin@example.com"), currency="USD", balance_minor=50)
    for status in (OperationStatus.QUEUED, OperationStatus.FAILED, OperationStatus.FAILED):
        await SaaSOperation.create(kind=OperationKind.BACKUP, status=status)
    await alerts.raise_alert("server_unhealthy", "server:x", "Server x is unhealthy", "")
    tick = clock.SCHEDULES["billing.renew"].tick_at(datetime.now(UTC))
    await ClockRun.create(task="billing.renew", tick=tick, status="done", duration_ms=1500)
    await SyntheticCheck.create(
        started_at=datetime.now(UTC), finished_at=datetime.now(UTC), ok=True, duration_ms=42_000
    )
    await monitoring.beat("worker")

    client = metrics_app.test_client()
    await client.get("/healthz")
    await client.get("/healthz")
    response = await scrape(client)
    assert response.content_type.startswith("text/plain")
    found = samples(await text(response))

    healthz = (("endpoint", "health.healthz"), ("method", "GET"), ("status", "200"))
    assert found[("managely_http_requests_total", healthz)] >= 2
    latency = (("endpoint", "health.healthz"), ("le", "+Inf"), ("method", "GET"))
    assert found[("managely_http_request_duration_seconds_bucket", latency)] >= 2
    assert found[("managely_operations", (("kind", "backup"), ("status", "failed")))] == 2
    assert found[("managely_operations", (("kind", "backup"), ("status", "queued")))] == 1
    assert found[("managely_wallet_balance_minor", (("currency", "USD"),))] == 1300
    assert found[("managely_wallets", (("currency", "USD"),))] == 2
    assert found[("managely_alerts_open", (("kind", "server_unhealthy"),))] == 1
    outbox = {labels: value for (name, labels), value in found.items() if name.endswith("outbox")}
    assert sum(outbox.values()) == 1  # the alert's email, queued or already sent
    assert found[("managely_job_last_duration_seconds", (("task", "billing.renew"),))] == 1.5
    assert found[("managely_job_last_success", (("task", "billing.renew"),))] == 1
    assert found[("managely_synthetic_check_duration_seconds", ())] == 42
    assert found[("managely_heartbeat_age_seconds", (("kind", "worker"),))] < 60
    assert ("managely_queue_depth", (("queue", "default"), ("state", "ready"))) in found


async def test_staff_see_heartbeats_tasks_alerts_and_the_synthetic_chart(app, run_jobs):
    dana = await make_user("dana@example.com", "admin", "Dana Admin")
    browser = Browser(app.test_client())
    await browser.login(dana.email, PASSWORD)
    await monitoring.beat("clock")
    await Alert.create(kind="backup_failed", key="backup:b1", subject="Backup b1 failed", body="x")
    tick = clock.SCHEDULES["billing.renew"].tick_at(datetime.now(UTC))
    await ClockRun.create(task="billing.renew", tick=tick, status="failed", detail="db down")
    now = datetime.now(UTC)
    for minutes, ok in ((90, True), (60, False), (30, True)):
        await SyntheticCheck.create(
            started_at=now - timedelta(minutes=minutes),
            finished_at=now,
            ok=ok,
            duration_ms=65_000,
            stage="done" if ok else "login",
        )

    page = await text(await browser.get("/admin/monitoring"))
    assert 'data-heartbeat="clock"' in page and "Alive" in page
    assert "Never seen" in page  # no worker heartbeat yet
    assert "Backup b1 failed" in page
    assert 'data-task="billing.renew"' in page and "db down" in page
    assert "<svg" in page and "Time to a working trial ERP" in page
    assert "2 passed, 1 failed" in page and "Budget: 300 seconds" in page

    dashboard = await text(await browser.get("/admin/"))
    assert 'href="/admin/monitoring"' in dashboard

    response = await browser.post("/admin/monitoring/alerts/resolve", {"key": "backup:b1"})
    assert response.status_code == 302
    assert (await Alert.get(key="backup:b1")).resolved_at is not None
    again = await browser.post("/admin/monitoring/alerts/resolve", {"key": "backup:b1"})
    assert again.status_code == 302  # a clear message, nothing changed


async def test_staff_read_alerts_on_the_monitoring_page_in_their_language(app):
    hala = await make_user("hala@example.com", "admin", "Hala Admin")
    hala.locale = "ar"
    await hala.save()
    browser = Browser(app.test_client())
    await browser.login(hala.email, PASSWORD)
    await alerts.raise_alert(
        "backup", "backup:acme", stored("Backup of %(site)s failed", site="acme"), "disk full"
    )
    page = await text(await browser.get("/admin/monitoring"))
    assert "فشلت النسخة الاحتياطية لـ acme" in page and "disk full" in page
    assert "Backup of acme failed" not in page


async def test_support_staff_view_monitoring_but_cannot_resolve_alerts(app, bob, bob_client):
    await Alert.create(kind="x", key="x:1", subject="Something", body="")
    assert (await bob_client.get("/admin/monitoring")).status_code == 200
    response = await bob_client.post("/admin/monitoring/alerts/resolve", {"key": "x:1"})
    assert response.status_code == 403
    assert (await Alert.get(key="x:1")).resolved_at is None


def test_a_short_metrics_token_is_refused_at_start_up(tmp_path):
    env = {"MANAGELY_DATA_DIR": str(tmp_path), "MANAGELY_METRICS_TOKEN": "short"}
    with pytest.raises(settings.SettingsError, match="MANAGELY_METRICS_TOKEN"):
        settings.load(env)
    loaded = settings.load({**env, "MANAGELY_METRICS_TOKEN": TOKEN})
    assert loaded.metrics_token == TOKEN and loaded.synthetic_every_minutes == 0
