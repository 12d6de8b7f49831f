"""Referral actors: commissions mature on the clock."""

from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from managely.jobs.clock import SCHEDULES, every
from managely.models.platform import ClockRun
from managely.queue import actor
from managely.services import referrals

MATURE = "referrals.mature"


@actor(MATURE, queue="default")
async def mature() -> None:
    """Make commissions past their holding period available, and note the run.

    A rerun, or two workers at once, find nothing left to move: each commission is claimed.
    """
    started = datetime.now(UTC)
    matured = await referrals.mature(started)
    await record_run(MATURE, started, f"matured {matured}")


async def record_run(task: str, started: datetime, detail: str) -> ClockRun:
    """Mark the tick this run belongs to as done, with its duration and outcome.

    The clock wrote the tick's row before sending; a run without the clock (a manual send,
    a test) writes the row of its own tick, which the clock then treats as already sent.
    """
    finished = datetime.now(UTC)
    values = {
        "status": "done",
        "finished_at": finished,
        "duration_ms": int((finished - started).total_seconds() * 1000),
        "detail": detail[:1000],
    }
    run = await ClockRun.filter(task=task, tick__lte=started).order_by("-tick").first()
    if run is None:
        tick = SCHEDULES[task].tick_at(started)
        try:
            return await ClockRun.create(task=task, tick=tick, **values)
        except IntegrityError:
            run = await ClockRun.get(task=task, tick=tick)
    await ClockRun.filter(id=run.id).update(**values)
    return await ClockRun.get(id=run.id)


every(timedelta(hours=1), MATURE)
