"""Referral actors: commissions mature on the clock."""

from datetime import UTC, datetime, timedelta

from managely.jobs.clock import scheduled
from managely.services import referrals

MATURE = "referrals.mature"


@scheduled(timedelta(hours=1), MATURE, queue="default")
async def mature() -> dict[str, int]:
    """Make commissions past their holding period available, and note the run.

    A rerun, or two workers at once, find nothing left to move: each commission is claimed.
    """
    return {"matured": await referrals.mature(datetime.now(UTC))}
