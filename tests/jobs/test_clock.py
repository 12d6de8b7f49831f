"""The clock: aligned ticks, each sent once even with two clocks, and one leader at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from managely.jobs import clock
from managely.models.platform import ClockRun
from managely.queue import in_flight


def test_ticks_are_aligned_so_every_clock_computes_the_same_one():
    schedule = clock.Schedule("email.sweep", timedelta(minutes=5))
    a = schedule.tick_at(datetime(2026, 11, 24, 12, 7, 59, tzinfo=UTC))
    b = schedule.tick_at(datetime(2026, 11, 24, 12, 5, 0, tzinfo=UTC))
    assert a == b == datetime(2026, 11, 24, 12, 5, tzinfo=UTC)


async def test_two_clocks_firing_the_same_tick_send_it_once(database, run_jobs):
    schedule = clock.SCHEDULES["email.sweep"]
    moment = datetime.now(UTC)
    before = in_flight.count
    results = await asyncio.gather(*(clock.fire(schedule, moment) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert in_flight.count - before <= 1
    await run_jobs()
    assert await ClockRun.filter(task="email.sweep").count() == 1
    assert await clock.fire(schedule, moment + schedule.interval) is True


async def test_only_one_clock_holds_the_leader_lock(database):
    first, second = clock.LeaderLock(), clock.LeaderLock()
    try:
        assert await first.hold() is True
        assert await second.hold() is False
        assert await first.hold() is True  # renewing
        await first.release()
        assert await second.hold() is True
    finally:
        await first.release()
        await second.release()
