"""One asyncio Redis client per process, when ``MANAGELY_REDIS_URL`` is set."""

from __future__ import annotations

import redis.asyncio as aioredis

from managely.settings import get_settings

_clients: dict[str, aioredis.Redis] = {}


def get_redis() -> aioredis.Redis | None:
    url = get_settings().redis_url
    if url is None:
        return None
    if url not in _clients:
        _clients[url] = aioredis.Redis.from_url(url, decode_responses=True)
    return _clients[url]


async def close() -> None:
    for client in _clients.values():
        await client.aclose()
    _clients.clear()
