"""Prometheus metrics: this process's request counts and latency, and the platform's state.

Request metrics are per process (each web worker counts its own; Prometheus sums them). What
the database and the broker know — operations by kind and status, queue depth, the email
outbox, wallet totals, the clock tasks' last durations, heartbeats, servers, open alerts, the
synthetic check — is computed at scrape time, so every process reports the same values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from tortoise.functions import Count, Sum

from managely.models.billing import Wallet
from managely.models.operations import SaaSOperation
from managely.models.platform import Alert, EmailMessage, Heartbeat, SyntheticCheck
from managely.models.servers import Server

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROCESS = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "managely_http_requests",
    "HTTP requests answered by this process.",
    ("method", "endpoint", "status"),
    registry=PROCESS,
)
LATENCY = Histogram(
    "managely_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint.",
    ("method", "endpoint"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=PROCESS,
)


def observe_request(method: str, endpoint: str | None, status: int, seconds: float) -> None:
    endpoint = endpoint or "unmatched"  # a 404 has no endpoint: one label, not one per URL
    REQUESTS.labels(method, endpoint, str(status)).inc()
    LATENCY.labels(method, endpoint).observe(seconds)


def _queue_depths() -> dict[tuple[str, str], int]:
    """Messages waiting per queue: ("name", "ready"|"delayed") -> count."""
    broker = dramatiq.get_broker()
    depths: dict[tuple[str, str], int] = {}
    for name in sorted(broker.get_declared_queues()):
        if isinstance(broker, RedisBroker):
            ready = broker.client.llen(f"{broker.namespace}:{name}")
            delayed = broker.client.llen(f"{broker.namespace}:{dq_name(name)}")
        else:
            ready = broker.queues[name].qsize()
            delayed = broker.queues[dq_name(name)].qsize()
        depths[(name, "ready")] = int(ready)
        depths[(name, "delayed")] = int(delayed)
    return depths


async def _families() -> list[Metric]:
    now = datetime.now(UTC)
    families: list[Metric] = []

    operations = GaugeMetricFamily(
        "managely_operations", "Operations by kind and status.", labels=("kind", "status")
    )
    for row in (
        await SaaSOperation.annotate(n=Count("id"))
        .group_by("kind", "status")
        .values("kind", "status", "n")
    ):
        operations.add_metric((str(row["kind"]), str(row["status"])), row["n"])
    families.append(operations)

    queue = GaugeMetricFamily(
        "managely_queue_depth", "Messages waiting in the job queues.", labels=("queue", "state")
    )
    try:
        depths = await asyncio.wait_for(asyncio.to_thread(_queue_depths), timeout=3)
    except Exception:  # noqa: BLE001 - a broker that is down shows as no data, not a failed scrape
        depths = {}
    for (name, state), count in depths.items():
        queue.add_metric((name, state), count)
    families.append(queue)

    outbox = GaugeMetricFamily(
        "managely_email_outbox", "Outbox messages by status.", labels=("status",)
    )
    for row in await EmailMessage.annotate(n=Count("id")).group_by("status").values("status", "n"):
        outbox.add_metric((str(row["status"]),), row["n"])
    families.append(outbox)

    wallets = GaugeMetricFamily(
        "managely_wallet_balance_minor",
        "Sum of customer wallet balances, in minor units, by currency.",
        labels=("currency",),
    )
    wallet_count = GaugeMetricFamily(
        "managely_wallets", "Wallets by currency.", labels=("currency",)
    )
    for row in (
        await Wallet.annotate(total=Sum("balance_minor"), n=Count("id"))
        .group_by("currency")
        .values("currency", "total", "n")
    ):
        wallets.add_metric((row["currency"],), int(row["total"] or 0))
        wallet_count.add_metric((row["currency"],), row["n"])
    families += [wallets, wallet_count]

    families += await _clock_families()

    beats = GaugeMetricFamily(
        "managely_heartbeat_age_seconds",
        "Seconds since the freshest heartbeat of each process kind.",
        labels=("kind",),
    )
    for kind in ("worker", "clock"):
        row = await Heartbeat.filter(kind=kind).order_by("-seen_at").first()
        if row is not None:
            beats.add_metric((kind,), max((now - row.seen_at).total_seconds(), 0.0))
    families.append(beats)

    servers = GaugeMetricFamily("managely_servers", "Servers by status.", labels=("status",))
    for row in await Server.annotate(n=Count("id")).group_by("status").values("status", "n"):
        servers.add_metric((str(row["status"]),), row["n"])
    families.append(servers)

    alerts = GaugeMetricFamily("managely_alerts_open", "Open alerts by kind.", labels=("kind",))
    for row in (
        await Alert.filter(resolved_at=None)
        .annotate(n=Count("id"))
        .group_by("kind")
        .values("kind", "n")
    ):
        alerts.add_metric((row["kind"],), row["n"])
    families.append(alerts)

    check = await SyntheticCheck.exclude(finished_at=None).order_by("-started_at").first()
    if check is not None:
        families.append(
            GaugeMetricFamily(
                "managely_synthetic_check_ok",
                "Whether the latest synthetic trial check succeeded.",
                value=1 if check.ok else 0,
            )
        )
        families.append(
            GaugeMetricFamily(
                "managely_synthetic_check_duration_seconds",
                "Time to a working trial ERP in the latest synthetic check.",
                value=(check.duration_ms or 0) / 1000,
            )
        )
    return families


async def _clock_families() -> list[Metric]:
    from managely.jobs.clock import last_runs

    duration = GaugeMetricFamily(
        "managely_job_last_duration_seconds",
        "Duration of each scheduled task's latest finished run.",
        labels=("task",),
    )
    success = GaugeMetricFamily(
        "managely_job_last_success",
        "1 when a scheduled task's latest run finished, 0 when it failed.",
        labels=("task",),
    )
    ran_at = GaugeMetricFamily(
        "managely_job_last_run_timestamp_seconds",
        "When each scheduled task's latest tick was sent (Unix time).",
        labels=("task",),
    )
    for task, run in sorted((await last_runs()).items()):
        ran_at.add_metric((task,), run.tick.timestamp())
        if run.duration_ms is not None:
            duration.add_metric((task,), run.duration_ms / 1000)
        if run.status in ("done", "failed"):
            success.add_metric((task,), 1 if run.status == "done" else 0)
    return [duration, success, ran_at]


class _Snapshot:
    """A collector over families computed beforehand (collectors are synchronous)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


async def exposition() -> bytes:
    """The whole scrape in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await _families()))
    return generate_latest(PROCESS) + generate_latest(registry)
