"""The live-update bus: subscriptions survive a timed-out wait, and with Redis many watchers
share one connection (each SSE progress page is one subscriber)."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack

from managely.services import bus


async def test_a_subscriber_still_gets_events_after_a_wait_timed_out(database):
    channel = bus.channel_for("operation", "timeout-case")
    async with bus.subscribe(channel) as events:
        waiting = events.__aiter__()
        with contextlib.suppress(TimeoutError):  # what the SSE keepalive does every 15 s
            await asyncio.wait_for(waiting.__anext__(), timeout=0.05)
        await bus.publish(channel, {"status": "running"})
        assert await asyncio.wait_for(waiting.__anext__(), timeout=5) == {"status": "running"}


async def test_more_watchers_than_the_connection_pool_all_get_the_event(database):
    channel = bus.channel_for("operation", "crowd")
    other = bus.channel_for("operation", "other")
    async with AsyncExitStack() as stack:
        crowd = [await stack.enter_async_context(bus.subscribe(channel)) for _ in range(150)]
        bystander = await stack.enter_async_context(bus.subscribe(other))
        await bus.publish(channel, {"status": "succeeded"})
        got = await asyncio.wait_for(
            asyncio.gather(*(events.__anext__() for events in crowd)), timeout=10
        )
        assert got == [{"status": "succeeded"}] * 150
        assert bystander.queue.empty()
    # Everyone left: nothing is kept for the channel.
    assert all(channel not in fanout.queues for fanout in bus._fanouts.values())
    assert channel not in bus._local


async def test_streams_woken_by_one_event_share_one_render():
    from managely.web import sse

    calls = []

    async def render():
        calls.append(1)
        await asyncio.sleep(0)
        return "<p>50 %</p>", "50-0", False

    first, second = {"status": "running"}, {"status": "running"}
    key = ("operation", "abc", False, "en", False)
    together = await asyncio.gather(*(sse._render_once(key, first, render) for _ in range(50)))
    assert together == [("<p>50 %</p>", "50-0", False)] * 50 and len(calls) == 1
    await sse._render_once(key, second, render)  # a later change is read again
    await sse._render_once(("operation", "abc", True, "en", False), second, render)  # staff
    assert len(calls) == 3 and sse._rendering == {}
