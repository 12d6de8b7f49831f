"""The clock: fires each declared schedule and only enqueues.

Scheduled actors are declared with ``@scheduled(interval, name)`` (or ``every()`` beside a plain
actor); each run of a scheduled actor records its outcome on its tick's row: status, duration
and what it did, so staff see when every task last ran. Ticks are aligned to a fixed
epoch, so every clock computes the same tick; a ``ClockRun`` row unique on (task, tick) is
inserted before sending, so even two clocks at once send each tick once. A leader lock (Redis
when configured, a file lock in the data dir otherwise) keeps a standby clock quiet. A clock
that was down fires the current tick once when it comes back (``catch_up``), not every tick
it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dramatiq
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from tortoise.exceptions import IntegrityError

from managely import db
from managely.models.platform import ClockRun
from managely.queue import actor
from managely.redis_client import get_redis
from managely.settings import get_settings

log = logging.getLogger(__name__)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    actor_name: str
    interval: timedelta

    def tick_at(self, moment: datetime) -> datetime:
        step = int(self.interval.total_seconds())
        elapsed = int((moment - EPOCH).total_seconds())
        return EPOCH + timedelta(seconds=elapsed - elapsed % step)


SCHEDULES: dict[str, Schedule] = {}


def every(interval: timedelta, actor_name: str) -> None:
    """Declare that ``actor_name`` runs once per ``interval`` (call it beside the actor)."""
    SCHEDULES[actor_name] = Schedule(actor_name, interval)


def scheduled(interval: timedelta, actor_name: str, **options):
    """Declare an async actor the clock sends every ``interval``, whose runs are recorded."""

    def decorate(fn):
        @functools.wraps(fn)
        async def recorded(*args, **kwargs):
            started = datetime.now(UTC)
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                await _record_quietly(actor_name, started, f"{type(exc).__name__}: {exc}", "failed")
                raise
            await _record_quietly(actor_name, started, _describe(result), "done")
            return result

        declared = actor(actor_name, **options)(recorded)
        every(interval, actor_name)
        return declared

    return decorate


def _describe(result: object) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{key} {value}" for key, value in result.items())
    return "" if result is None else str(result)


async def _record_quietly(task: str, started: datetime, detail: str, status: str) -> None:
    try:
        await record_run(task, started, detail, status)
    except Exception:  # noqa: BLE001 - the task's own outcome matters more than its note
        log.exception("clock: could not record the run of %s", task)


async def record_run(task: str, started: datetime, detail: str, status: str = "done") -> ClockRun:
    """Mark the tick a run belongs to as finished, with its duration and outcome.

    The clock wrote the tick's row before sending; a run the clock did not send (by hand, a
    retry after the next tick) writes or updates the row of its own tick.
    """
    finished = datetime.now(UTC)
    values = {
        "status": status,
        "finished_at": finished,
        "duration_ms": int((finished - started).total_seconds() * 1000),
        "detail": detail[:1000],
    }
    tick = SCHEDULES[task].tick_at(started)
    run = await ClockRun.filter(task=task, tick__lte=started).order_by("-tick").first()
    if run is None or run.tick < tick - SCHEDULES[task].interval:
        try:
            return await ClockRun.create(task=task, tick=tick, **values)
        except IntegrityError:
            run = await ClockRun.get(task=task, tick=tick)
    await ClockRun.filter(id=run.id).update(**values)
    return await ClockRun.get(id=run.id)


async def last_runs() -> dict[str, ClockRun]:
    """The latest tick of every scheduled task, for the staff's health pages."""
    latest: dict[str, ClockRun] = {}
    for task in SCHEDULES:
        run = await ClockRun.filter(task=task).order_by("-tick").first()
        if run is not None:
            latest[task] = run
    return latest


async def fire(schedule: Schedule, moment: datetime | None = None) -> bool:
    """Send this tick of ``schedule`` unless some clock already did; True if we sent it."""
    tick = schedule.tick_at(moment or datetime.now(UTC))
    try:
        await ClockRun.create(task=schedule.actor_name, tick=tick)
    except IntegrityError:
        return False
    dramatiq.get_broker().get_actor(schedule.actor_name).send()
    return True


async def catch_up(moment: datetime | None = None) -> list[str]:
    """Fire every schedule's current tick unless it was sent already; the tasks sent.

    A clock that was down (or a standby taking over) missed some ticks: each task runs once
    now for the tick in progress, however many it missed (the interval trigger alone would wait
    for the next tick). Two clocks catching up at once still send each tick once.
    """
    moment = moment or datetime.now(UTC)
    sent = []
    for schedule in SCHEDULES.values():
        try:
            if await fire(schedule, moment):
                sent.append(schedule.actor_name)
        except Exception:
            log.exception("clock: could not catch up %s", schedule.actor_name)
    return sent


class LeaderLock:
    """Redis ``SET NX PX`` lease when Redis is configured, else an flock in the data dir."""

    def __init__(self) -> None:
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{time.monotonic_ns()}"
        self.redis = get_redis()
        self.ttl_ms = get_settings().clock_leader_ttl_s * 1000
        self._file: int | None = None

    async def hold(self) -> bool:
        if self.redis is not None:
            key = "managely:clock:leader"
            if await self.redis.set(key, self.identity, nx=True, px=self.ttl_ms):
                return True
            if await self.redis.get(key) == self.identity:
                await self.redis.pexpire(key, self.ttl_ms)
                return True
            return False
        if self._file is None:
            path = get_settings().data_dir / "clock.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._file = fd
        return True

    async def release(self) -> None:
        if self.redis is not None:
            if await self.redis.get("managely:clock:leader") == self.identity:
                await self.redis.delete("managely:clock:leader")
        elif self._file is not None:
            os.close(self._file)
            self._file = None


async def run(stop: asyncio.Event) -> None:
    """Fire schedules while this process holds the leader lock, until ``stop`` is set."""
    leader = LeaderLock()
    scheduler = AsyncIOScheduler(timezone=UTC)
    is_leader = False

    async def fire_if_leader(schedule: Schedule) -> None:
        if is_leader:
            try:
                await fire(schedule)
            except Exception:
                log.exception("clock: could not fire %s", schedule.actor_name)

    for schedule in SCHEDULES.values():
        scheduler.add_job(
            fire_if_leader,
            IntervalTrigger(seconds=int(schedule.interval.total_seconds()), start_date=EPOCH),
            args=[schedule],
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            id=schedule.actor_name,
        )
    scheduler.start()
    try:
        while not stop.is_set():
            held = await leader.hold()
            if held != is_leader:
                log.info("clock: %s the leader lock", "took" if held else "lost")
                if held:
                    await catch_up()
            is_leader = held
            if held:
                await _beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=leader.ttl_ms / 3000)
    finally:
        scheduler.shutdown(wait=False)
        await leader.release()


async def _beat() -> None:
    from managely.services.monitoring import beat  # services import the clock's module

    try:
        await beat("clock")
    except Exception:  # noqa: BLE001 - a missed heartbeat must not stop the clock
        log.exception("clock: could not record its heartbeat")


async def run_forever() -> None:
    """The ``managely clock`` process: ORM up, then ``run`` until SIGTERM or SIGINT."""
    import managely.jobs  # noqa: F401  (declares actors and their schedules)

    await db.init(get_settings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run(stop)
    finally:
        await db.close()
