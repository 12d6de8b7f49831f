"""Usage actors: sample every active system's usage and keep 35 days of it."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.services import usage


@scheduled(timedelta(minutes=5), "usage.sample", queue="default", time_limit=600_000)
async def sample() -> dict[str, int]:
    """One resource_usage_monitor.sh run per active server; old samples deleted."""
    return await usage.sample_all()
