"""Live updates: publish a small event on a channel; SSE endpoints subscribe.

Redis pub/sub when ``MANAGELY_REDIS_URL`` is set (web processes and workers are separate),
an in-process bus otherwise (``managely dev`` runs everything on one loop). Events only say
"something changed": the subscriber re-reads the database, which is always written first.

With Redis, every subscriber of a process shares one pub/sub connection (``_Fanout``): a
watcher costs a queue, not a connection. One connection each would stop at the client's pool
(100 by default) and Redis's client limit long before a web process runs out of room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.exceptions import RedisError

from managely.redis_client import get_redis

log = logging.getLogger(__name__)
_local: dict[str, set[asyncio.Queue]] = defaultdict(set)
RECONNECT_S = 1.0


def channel_for(kind: str, code: str) -> str:
    return f"managely:{kind}:{code}"


async def publish(channel: str, event: dict) -> None:
    redis = get_redis()
    if redis is not None:
        await redis.publish(channel, json.dumps(event))
        return
    for queue in list(_local.get(channel, ())):
        queue.put_nowait(event)


class _Events:
    """A subscriber's events. Not an async generator on purpose: a wait that times out (the
    SSE keepalive) cancels only ``queue.get()``, and the next wait still works."""

    def __init__(self, queue: asyncio.Queue) -> None:
        self.queue = queue

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> dict:
        return await self.queue.get()


class _Fanout:
    """The process's Redis subscriptions on one connection, read by one task, handed out to
    each local subscriber's queue. The connection closes when the last subscriber leaves."""

    def __init__(self, redis) -> None:
        self.redis = redis
        self.queues: dict[str, set[asyncio.Queue]] = {}
        self.pubsub = None
        self.reader: asyncio.Task | None = None
        self.lock = asyncio.Lock()

    async def add(self, channel: str, queue: asyncio.Queue) -> None:
        async with self.lock:
            if self.pubsub is None:
                self.pubsub = self.redis.pubsub()
            if channel not in self.queues:
                await self.pubsub.subscribe(channel)
                self.queues[channel] = set()
            self.queues[channel].add(queue)
            if self.reader is None:
                self.reader = asyncio.create_task(self._read(self.pubsub))

    async def remove(self, channel: str, queue: asyncio.Queue) -> None:
        async with self.lock:
            waiting = self.queues.get(channel, set())
            waiting.discard(queue)
            if waiting or channel not in self.queues:
                return
            del self.queues[channel]
            if self.queues:
                await self.pubsub.unsubscribe(channel)
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
            event = json.loads(message["data"])
            for queue in list(self.queues.get(message["channel"], ())):
                queue.put_nowait(event)


_fanouts: dict[int, _Fanout] = {}


def _fanout_for(redis) -> _Fanout:
    fanout = _fanouts.get(id(redis))
    if fanout is None or fanout.redis is not redis:
        fanout = _fanouts[id(redis)] = _Fanout(redis)
    return fanout


@asynccontextmanager
async def subscribe(channel: str) -> AsyncIterator[AsyncIterator[dict]]:
    """``async with subscribe(ch) as events: async for event in events: …``"""
    queue: asyncio.Queue = asyncio.Queue()
    redis = get_redis()
    if redis is not None:
        fanout = _fanout_for(redis)
        await fanout.add(channel, queue)
        try:
            yield _Events(queue)
        finally:
            await fanout.remove(channel, queue)
        return
    _local[channel].add(queue)
    try:
        yield _Events(queue)
    finally:
        _local[channel].discard(queue)
        if not _local[channel]:
            _local.pop(channel, None)
