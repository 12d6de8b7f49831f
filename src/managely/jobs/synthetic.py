"""The synthetic trial check, on the clock's schedule."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.services import synthetic
from managely.settings import get_settings

# 0 turns the check off; the schedule then stays hourly and each run does nothing.
EVERY = timedelta(minutes=get_settings().synthetic_every_minutes or 60)


@scheduled(EVERY, "synthetic.check", queue="default", max_retries=0, time_limit=3_600_000)
async def check() -> dict[str, object]:
    """Launch a trial for the hidden test account, log into its ERP, delete it; timed."""
    if not get_settings().synthetic_every_minutes:
        return {"skipped": "off"}
    done = await synthetic.run_check()
    return {"ok": done.ok, "stage": done.stage, "ms": done.duration_ms}
