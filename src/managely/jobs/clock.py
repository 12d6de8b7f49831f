"""The clock: fires each declared schedule and only enqueues.

Schedules are declared next to their actors with ``every()``. Ticks are aligned to a fixed
epoch, so every clock computes the same tick; a ``ClockRun`` row unique on (task, tick) is
inserted before sending, so even two clocks at once send each tick once. A leader lock (Redis
when configured, a file lock in the data dir otherwise) keeps a standby clock quiet. A clock
that was down fires the current tick once when it comes back, not every tick it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
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
from managely.redis_client import get_redis
from managely.settings import get_settings

log = logging.getLogger(__name__)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
LEADER_TTL_S = 30


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


async def fire(schedule: Schedule, moment: datetime | None = None) -> bool:
    """Send this tick of ``schedule`` unless some clock already did; True if we sent it."""
    tick = schedule.tick_at(moment or datetime.now(UTC))
    try:
        await ClockRun.create(task=schedule.actor_name, tick=tick)
    except IntegrityError:
        return False
    dramatiq.get_broker().get_actor(schedule.actor_name).send()
    return True


class LeaderLock:
    """Redis ``SET NX PX`` lease when Redis is configured, else an flock in the data dir."""

    def __init__(self) -> None:
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{time.monotonic_ns()}"
        self.redis = get_redis()
        self._file: int | None = None

    async def hold(self) -> bool:
        if self.redis is not None:
            key = "managely:clock:leader"
            if await self.redis.set(key, self.identity, nx=True, px=LEADER_TTL_S * 1000):
                return True
            if await self.redis.get(key) == self.identity:
                await self.redis.pexpire(key, LEADER_TTL_S * 1000)
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
            is_leader = held
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=LEADER_TTL_S / 3)
    finally:
        scheduler.shutdown(wait=False)
        await leader.release()


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
