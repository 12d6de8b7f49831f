"""Health actors: each server's health check, and the worker's heartbeat."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.services import monitoring


@scheduled(timedelta(minutes=1), "health.check_servers", queue="default", time_limit=300_000)
async def check_servers() -> dict[str, int]:
    """system_health_check.sh on every server in service; unreachable after several misses."""
    return await monitoring.check_servers()


@scheduled(timedelta(minutes=1), "health.worker_heartbeat", queue="default")
async def worker_heartbeat() -> None:
    """A worker took this message: record that workers are alive (staff see its age)."""
    await monitoring.beat("worker")
    await monitoring.forget_old_heartbeats()
