"""Live updates: publish a small event on a channel; SSE endpoints subscribe.

Redis pub/sub when ``MANAGELY_REDIS_URL`` is set (web processes and workers are separate),
an in-process bus otherwise (``managely dev`` runs everything on one loop). Events only say
"something changed": the subscriber re-reads the database, which is always written first.

A channel's subscribers in a process share one ``_Channel``: its latest event, the waiting
subscribers' futures and one keepalive timer, so a waiting watcher costs one future, not a
queue, a task and a timer (10,000 SSE watchers are 10,000 of them). A subscriber that was busy when
several events came sees the latest once: readers re-read the database, so nothing is lost.
With Redis, all channels of a process share one pub/sub connection (``_Fanout``); one each
would stop at the client's pool (100 by default) long before a web process runs out of room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.exceptions import RedisError

from managely.redis_client import get_redis

log = logging.getLogger(__name__)
RECONNECT_S = 1.0
QUIET_S = 15.0  # a channel quiet this long wakes its waiters (SSE keepalives)


def channel_for(kind: str, code: str) -> str:
    return f"managely:{kind}:{code}"


class Latest:
    """A value that changes and the futures of those waiting for its next change, each woken
    with True (it changed) or False (a quiet spell: nothing new). A waiter costs one future,
    and one that is cancelled (its reader went away) touches no other."""

    __slots__ = ("value", "version", "waiters")

    def __init__(self) -> None:
        self.value = None
        self.version = 0
        self.waiters: list[asyncio.Future] = []

    def put(self, value) -> None:
        self.value, self.version = value, self.version + 1
        self.wake(True)

    def wake(self, changed: bool) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():  # its reader went away
                waiter.set_result(changed)

    def waiter(self) -> asyncio.Future:
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return waiter

    async def after(self, seen: int) -> bool:
        """At once if it changed since version ``seen``; else wait: False after a quiet spell."""
        return self.version != seen or await self.waiter()


class _Channel(Latest):
    """One channel's latest event. One timer per channel, not per subscriber, wakes the
    waiting ones when it has been quiet for ``QUIET_S`` (an SSE stream sends a keepalive)."""

    __slots__ = ("subscribers", "timer")

    def __init__(self) -> None:
        super().__init__()
        self.subscribers = 0
        self.timer: asyncio.TimerHandle | None = None

    def _quiet(self) -> None:
        self.timer = None
        self.wake(False)

    def waiter(self) -> asyncio.Future:
        waiter = super().waiter()
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(QUIET_S, self._quiet)
        return waiter

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Events:
    """A subscriber's view of its channel. ``await events.next()`` (or ``async for``) gives
    the latest event it has not seen; ``await events.wait()`` gives it too, or ``None`` when
    the channel was quiet for ``QUIET_S``. A wait that is cancelled loses nothing."""

    __slots__ = ("channel", "seen")

    def __init__(self, channel: _Channel) -> None:
        self.channel, self.seen = channel, channel.version

    def __aiter__(self) -> Events:
        return self

    async def __anext__(self) -> dict:
        return await self.next()

    async def next(self) -> dict:
        event = await self.wait()
        while event is None:  # a quiet spell is not an event
            event = await self.wait()
        return event

    async def wait(self) -> dict | None:
        channel = self.channel
        if not await channel.after(self.seen):
            return None
        self.seen = channel.version
        return channel.value


_local: dict[str, _Channel] = {}


async def publish(channel: str, event: dict) -> None:
    redis = get_redis()
    if redis is not None:
        await redis.publish(channel, json.dumps(event))
        return
    if channel in _local:
        _local[channel].put(event)


class _Fanout:
    """The process's Redis subscriptions on one connection, read by one task, handed to the
    channel's local subscribers. The connection closes when the last subscriber leaves."""

    def __init__(self, redis) -> None:
        self.redis = redis
        self.channels: dict[str, _Channel] = {}
        self.pubsub = None
        self.reader: asyncio.Task | None = None
        self.lock = asyncio.Lock()

    async def join(self, name: str) -> _Channel:
        async with self.lock:
            if self.pubsub is None:
                self.pubsub = self.redis.pubsub()
            channel = self.channels.get(name)
            if channel is None:
                await self.pubsub.subscribe(name)
                channel = self.channels[name] = _Channel()
            channel.subscribers += 1
            if self.reader is None:
                self.reader = asyncio.create_task(self._read(self.pubsub))
            return channel

    async def leave(self, name: str) -> None:
        async with self.lock:
            channel = self.channels.get(name)
            if channel is None:
                return
            channel.subscribers -= 1
            if channel.subscribers:
                return
            del self.channels[name]
            channel.close()
            if self.channels:
                await self.pubsub.unsubscribe(name)
                return
            reader, pubsub = self.reader, self.pubsub
            self.reader = self.pubsub = None
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await pubsub.aclose()

    async def _read(self, pubsub) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except RedisError as exc:
                # redis-py reconnects and subscribes again on the next read.
                log.warning("live updates: Redis pub/sub read failed (%s); retrying", exc)
                await asyncio.sleep(RECONNECT_S)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = self.channels.get(message["channel"])
            if channel is not None:
                channel.put(json.loads(message["data"]))


_fanouts: dict[int, _Fanout] = {}


def _fanout_for(redis) -> _Fanout:
    fanout = _fanouts.get(id(redis))
    if fanout is None or fanout.redis is not redis:
        fanout = _fanouts[id(redis)] = _Fanout(redis)
    return fanout


@asynccontextmanager
async def subscribe(name: str) -> AsyncIterator[Events]:
    """``async with subscribe(ch) as events: async for event in events: …``"""
    redis = get_redis()
    if redis is not None:
        fanout = _fanout_for(redis)
        channel = await fanout.join(name)
        try:
            yield Events(channel)
        finally:
            await fanout.leave(name)
        return
    channel = _local.setdefault(name, _Channel())
    channel.subscribers += 1
    try:
        yield Events(channel)
    finally:
        channel.subscribers -= 1
        if not channel.subscribers:
            _local.pop(name, None)
            channel.close()
