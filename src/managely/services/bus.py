"""Live updates: publish a small event on a channel; SSE endpoints subscribe.

Redis pub/sub when ``MANAGELY_REDIS_URL`` is set (web processes and workers are separate),
an in-process bus otherwise (``managely dev`` runs everything on one loop). Events only say
"something changed": the subscriber re-reads the database, which is always written first.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from managely.redis_client import get_redis

_local: dict[str, set[asyncio.Queue]] = defaultdict(set)


def channel_for(kind: str, code: str) -> str:
    return f"managely:{kind}:{code}"


async def publish(channel: str, event: dict) -> None:
    redis = get_redis()
    if redis is not None:
        await redis.publish(channel, json.dumps(event))
        return
    for queue in list(_local.get(channel, ())):
        queue.put_nowait(event)


@asynccontextmanager
async def subscribe(channel: str) -> AsyncIterator[AsyncIterator[dict]]:
    """``async with subscribe(ch) as events: async for event in events: …``"""
    redis = get_redis()
    if redis is not None:
        pubsub = redis.pubsub()
        await pubsub.subscribe(channel)

        async def from_redis() -> AsyncIterator[dict]:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield json.loads(message["data"])

        try:
            yield from_redis()
        finally:
            await pubsub.unsubscribe(channel)
            await pubsub.aclose()
        return
    queue: asyncio.Queue = asyncio.Queue()
    _local[channel].add(queue)

    async def from_queue() -> AsyncIterator[dict]:
        while True:
            yield await queue.get()

    try:
        yield from_queue()
    finally:
        _local[channel].discard(queue)
        if not _local[channel]:
            _local.pop(channel, None)
