"""At most so many requests worked on at once in a web process; the rest wait their turn.

A request holds a slot from the moment the app starts on it until its response starts (its
headers are sent), so a slow download or an open event stream never holds one; nor does a
slow upload: a request's body (up to ``BODY_IN_HAND``) is received before it takes a slot.
A waiting request costs a future, not Quart's request, its tasks and what its view has read
so far. Without it, a burst (10,000 progress pages opening at once, bench/sse_watchers.py)
has them all half-done at the same time: the database pool serves five at a time anyway, and
what the others hold leaves the allocator's arenas full of holes long after they finished
(about 19 KiB per open stream in the bench, half of what one cost).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

BODY_IN_HAND = 64 * 1024  # a larger body is read by the app as it comes, under its limits
BODY_WAIT_S = 10.0  # a body slower than this too (the app's own body timeout then applies)


async def _body_first(receive) -> tuple[object, bool]:
    """Receive the request's body before the app runs; returns a ``receive`` that gives the
    messages read again, then the rest, and whether the body is all here (or the client gone)."""
    read: deque[dict] = deque()
    size, complete = 0, False
    with contextlib.suppress(TimeoutError):  # too slow: the app reads the rest
        async with asyncio.timeout(BODY_WAIT_S):
            while not complete and size <= BODY_IN_HAND:
                message = await receive()
                read.append(message)
                size += len(message.get("body", b""))
                complete = message["type"] != "http.request" or not message.get("more_body")

    async def again() -> dict:
        return read.popleft() if read else await receive()

    return again, complete


class Admission:
    """ASGI middleware: ``limit`` HTTP requests in progress at a time, first come first in."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        receive, complete = await _body_first(receive)
        if not complete:  # a large or slow upload: its reading is the app's, slot or not
            return await self.app(scope, receive, send)
        if self._slots is None:  # made on the serving loop
            self._slots = asyncio.Semaphore(self.limit)
        slots = self._slots
        await slots.acquire()
        held = True

        async def send_and_free(message) -> None:
            nonlocal held
            if held and message["type"] == "http.response.start":
                held = False
                slots.release()
            await send(message)

        try:
            await self.app(scope, receive, send_and_free)
        finally:
            if held:
                slots.release()
