"""Launch actors: keep the warm pool of standby sites full."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.services import launches


@scheduled(timedelta(minutes=1), "launches.refill_pool", queue="operations")
async def refill_pool() -> dict[str, int]:
    """Queue standby sites so each active server has the configured number per package."""
    return {"queued": await launches.refill_pool()}
