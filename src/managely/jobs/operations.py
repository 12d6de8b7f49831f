"""Operation actors: run one operation; the clock reclaims expired leases and lost messages."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.queue import actor
from managely.services import (  # noqa: F401  (the modules that register kinds)
    admin_platform,
    admin_servers,
    launches,
    operations,
    servers,
    site_tasks,
)


@actor("operations.run", queue="operations", max_retries=0, time_limit=3_600_000)
async def run(operation_id: int) -> None:
    """Claim and run an operation; a second delivery finds it claimed and returns."""
    await operations.run(operation_id)


@actor("operations.abandon", queue="operations", max_retries=0, time_limit=3_600_000)
async def abandon(operation_id: int) -> None:
    """Roll back and fail an operation whose worker died too many times."""
    await operations.abandon(operation_id)


@scheduled(timedelta(minutes=1), "operations.reclaim", queue="operations")
async def reclaim() -> dict[str, int]:
    """Requeue (or fail) operations whose worker stopped renewing the lease, and send again
    those queued so long that their message was probably lost."""
    counts = await operations.reclaim_expired()
    return {**counts, "resent": await operations.resend_queued()}
