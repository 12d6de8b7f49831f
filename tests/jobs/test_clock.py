"""The clock: aligned ticks, each sent once even with two clocks, and one leader at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

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


async def test_every_scheduled_run_records_its_outcome_on_its_tick(database, run_jobs):
    schedule = clock.SCHEDULES["email.sweep"]
    assert await clock.fire(schedule) is True
    await run_jobs()
    run = await ClockRun.get(task="email.sweep")
    assert run.status == "done" and run.detail == "resent 0"
    assert run.finished_at is not None and run.duration_ms >= 0
    assert (await clock.last_runs())["email.sweep"].id == run.id


async def test_a_failing_scheduled_run_is_recorded_as_failed(database, monkeypatch):
    from managely.jobs import email as email_jobs
    from managely.services import email as email_service

    async def broken() -> int:
        raise RuntimeError("SMTP settings unreadable")

    monkeypatch.setattr(email_service, "sweep_due", broken)
    with pytest.raises(RuntimeError):
        await email_jobs.sweep.run()
    run = await ClockRun.get(task="email.sweep")
    assert run.status == "failed" and "SMTP settings unreadable" in run.detail


async def test_the_invoice_pass_draws_missing_pdfs_once(database, alice):
    from managely import settings
    from managely.jobs import invoices as invoice_jobs
    from tests.web.routes import make_invoice

    invoice = await make_invoice(alice)
    assert invoice.pdf_path is None
    assert await invoice_jobs.process.run() == {"drawn": 1}
    await invoice.refresh_from_db()
    assert (settings.get_settings().data_dir / invoice.pdf_path).read_bytes()[:5] == b"%PDF-"
    assert await invoice_jobs.process.run() == {"drawn": 0}
    assert (await ClockRun.get(task="invoices.process")).detail == "drawn 0"
