"""Fixed-window rate limits: in process memory in ``dev``, in Redis when it is configured."""

from __future__ import annotations

import time
from dataclasses import dataclass

from managely.i18n import lazy_gettext as _l
from managely.redis_client import get_redis
from managely.services.errors import RateLimited


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int


LOGIN = Limit("login", 10, 60)
SIGNUP = Limit("signup", 5, 3600)
OTP = Limit("otp", 10, 600)
PASSWORD_RESET = Limit("password_reset", 5, 3600)
CONTACT = Limit("contact", 5, 3600)
TRIAL = Limit("trial", 3, 86400)

_memory: dict[str, tuple[int, int]] = {}


async def _count(key: str, seconds: int) -> int:
    window = int(time.time()) // seconds
    redis = get_redis()
    if redis is not None:
        full = f"managely:rl:{key}:{window}"
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(full)
            pipe.expire(full, seconds + 1)
            count, _ = await pipe.execute()
        return int(count)
    seen_window, count = _memory.get(key, (window, 0))
    count = count + 1 if seen_window == window else 1
    _memory[key] = (window, count)
    return count


async def hit(limit: Limit, *identity: str) -> None:
    """Count one attempt for ``identity`` (an IP, an email…); refuse past the limit."""
    key = f"{limit.name}:" + ":".join(identity)
    if await _count(key, limit.seconds) > limit.count:
        retry_after = limit.seconds - int(time.time()) % limit.seconds
        raise RateLimited(_l("Too many attempts. Please wait a moment and try again."), retry_after)


def reset_memory() -> None:
    _memory.clear()
