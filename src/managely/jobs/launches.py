"""Launch actors: keep the warm pool of standby sites full."""

from datetime import timedelta

from managely.jobs.clock import every
from managely.queue import actor
from managely.services import launches


@actor("launches.refill_pool", queue="operations")
async def refill_pool() -> None:
    """Queue standby sites so each active server has the configured number per package."""
    await launches.refill_pool()


every(timedelta(minutes=1), "launches.refill_pool")
