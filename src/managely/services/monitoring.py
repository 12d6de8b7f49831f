"""Monitoring: heartbeats of the worker and clock, the servers' health checks, staff overview.

A server is checked with ``system_health_check.sh`` through its host driver. A check fails when
the host cannot be reached, the script fails or trytond is down. One failed check is a blip:
only ``health_failures`` (a setting, 3 by default) failures in a row mark an active server
unreachable (placement then skips it) and alert staff; the next good check brings it back to
active and resolves the alert.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from managely.hosts.base import HostError, UnsafeArgument
from managely.i18n import stored
from managely.models.platform import Alert, Heartbeat
from managely.models.servers import Server, ServerHealthSample, ServerStatus
from managely.services import alerts
from managely.services.servers import check as run_health_check
from managely.settings import get_settings

log = logging.getLogger(__name__)
CHECKED = (ServerStatus.ACTIVE, ServerStatus.DRAINING, ServerStatus.UNREACHABLE)
SAMPLE_RETENTION = timedelta(days=7)
# A heartbeat older than this reads as "not seen" on the staff page.
STALE_AFTER = {"worker": timedelta(minutes=3), "clock": timedelta(minutes=1)}


def now() -> datetime:
    return datetime.now(UTC)


# --- heartbeats -------------------------------------------------------------------------------


def process_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"[:128]


async def beat(kind: str, process: str | None = None) -> None:
    """Record that a ``kind`` process ("worker", "clock") is alive now."""
    await Heartbeat.update_or_create(
        process=process or process_name(kind), defaults={"kind": kind, "seen_at": now()}
    )


@dataclass(frozen=True)
class Beat:
    kind: str
    process: str
    seen_at: datetime
    age: timedelta
    stale: bool


async def heartbeats(at: datetime | None = None) -> dict[str, Beat | None]:
    """The freshest heartbeat of each kind (None: never seen)."""
    at = at or now()
    found: dict[str, Beat | None] = {}
    for kind, stale_after in STALE_AFTER.items():
        row = await Heartbeat.filter(kind=kind).order_by("-seen_at").first()
        if row is None:
            found[kind] = None
            continue
        age = max(at - row.seen_at, timedelta(0))
        found[kind] = Beat(kind, row.process, row.seen_at, age, age > stale_after)
    return found


async def forget_old_heartbeats(older_than: timedelta = timedelta(days=1)) -> int:
    """Processes that are gone (restarts get new pids) leave their row; drop old ones."""
    return await Heartbeat.filter(seen_at__lt=now() - older_than).delete()


# --- server health ----------------------------------------------------------------------------


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


async def check_server(server: Server) -> ServerHealthSample:
    """Run one health check of ``server``, record it, and move its status on the outcome."""
    results: dict[str, str] = {}
    try:
        run = await run_health_check(server)
        results = run.results
        if not run.ok:
            problem = run.error or f"system_health_check.sh exited with {run.exit_code}"
        elif results.get("trytond") != "up":
            problem = "trytond is not answering"
        else:
            problem = ""
    except (HostError, OSError, UnsafeArgument) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    at = now()
    sample = await ServerHealthSample.create(
        server=server,
        sampled_at=at,
        ok=not problem,
        load1=_float(results.get("load1")),
        mem_used_pct=_float(results.get("mem_used_pct")),
        disk_used_pct=_float(results.get("disk_used_pct")),
        detail={**results, **({"error": problem[:500]} if problem else {})},
    )
    if problem:
        await _failed(server, at, problem)
    else:
        await _succeeded(server, at)
    return sample


async def _failed(server: Server, at: datetime, problem: str) -> None:
    server.consecutive_failures += 1
    server.last_check_at = at
    limit = get_settings().health_failures
    fields = ["consecutive_failures", "last_check_at", "updated_at"]
    if server.consecutive_failures >= limit and server.status == ServerStatus.ACTIVE:
        server.status = ServerStatus.UNREACHABLE
        fields.append("status")
        log.warning("server %s unreachable after %s failed checks", server.name, limit)
    await server.save(update_fields=fields)
    if server.consecutive_failures >= limit:
        await alerts.raise_alert(
            "server_unhealthy",
            f"server:{server.name}",
            stored("Server %(server)s is unhealthy", server=server.name),
            stored(
                "%(failures)s health checks failed in a row; status %(status)s. "
                "Last error: %(error)s",
                failures=server.consecutive_failures,
                status=server.status.value,
                error=problem,
            ),
        )


async def _succeeded(server: Server, at: datetime) -> None:
    recovered = server.status == ServerStatus.UNREACHABLE
    server.consecutive_failures = 0
    server.last_check_at = server.last_ok_at = at
    fields = ["consecutive_failures", "last_check_at", "last_ok_at", "updated_at"]
    if recovered:
        server.status = ServerStatus.ACTIVE
        fields.append("status")
        log.warning("server %s recovered", server.name)
    await server.save(update_fields=fields)
    await alerts.resolve(f"server:{server.name}")


async def check_servers() -> dict[str, int]:
    """Check every server in service; one server's trouble never stops the others' checks."""
    counts = {"ok": 0, "failed": 0}
    for server in await Server.filter(status__in=CHECKED).order_by("id"):
        try:
            sample = await check_server(server)
        except Exception:  # noqa: BLE001 - the next server is still worth checking
            log.exception("health: could not check server %s", server.name)
            counts["failed"] += 1
            continue
        counts["ok" if sample.ok else "failed"] += 1
    await ServerHealthSample.filter(sampled_at__lt=now() - SAMPLE_RETENTION).delete()
    return counts


# --- the staff page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerHealth:
    server: Server
    latest: ServerHealthSample | None


async def server_health() -> list[ServerHealth]:
    rows = []
    for server in await Server.filter(status__in=CHECKED).order_by("name"):
        latest = await ServerHealthSample.filter(server=server).order_by("-sampled_at").first()
        rows.append(ServerHealth(server, latest))
    return rows


async def open_alerts(limit: int = 50) -> list[Alert]:
    return await alerts.open_alerts(limit)


@dataclass(frozen=True)
class TaskRun:
    task: str
    every: timedelta
    run: object  # the latest ClockRun, or None before its first tick


@dataclass(frozen=True)
class Overview:
    heartbeats: dict[str, Beat | None]
    tasks: list[TaskRun]
    alerts: list[Alert]
    servers: list[ServerHealth]
    synthetic: object  # services.synthetic.History


async def overview() -> Overview:
    """Everything the staff monitoring page shows."""
    from managely.jobs.clock import SCHEDULES, last_runs
    from managely.services import synthetic

    runs = await last_runs()
    tasks = [
        TaskRun(name, schedule.interval, runs.get(name))
        for name, schedule in sorted(SCHEDULES.items())
    ]
    return Overview(
        heartbeats=await heartbeats(),
        tasks=tasks,
        alerts=await open_alerts(),
        servers=await server_health(),
        synthetic=await synthetic.history(),
    )


async def resolve_alert(actor, key: str, *, ip: str = "") -> None:
    """Staff close an alert by hand (a failed backup they dealt with); audited."""
    from managely.i18n import lazy_gettext as _l
    from managely.services.errors import NotFound
    from managely.services.platform import audit

    alert = await Alert.get_or_none(key=key, resolved_at=None)
    if alert is None:
        raise NotFound(_l("This alert is not open."))
    await alerts.resolve(key)
    await audit(actor, "alert.resolve", alert, before={"key": key}, after={"resolved": True}, ip=ip)
