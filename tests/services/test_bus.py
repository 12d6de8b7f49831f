"""The live-update bus: subscriptions survive a timed-out wait, and with Redis many watchers
share one connection (each SSE progress page is one subscriber)."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AsyncExitStack

import pytest

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
        with pytest.raises(TimeoutError):  # the other channel's watcher heard nothing
            await asyncio.wait_for(bystander.next(), timeout=0.2)
    # Everyone left: nothing is kept for the channel.
    assert all(channel not in fanout.channels for fanout in bus._fanouts.values())
    assert channel not in bus._local


async def test_a_busy_subscriber_gets_the_latest_event_once(database):
    channel = bus.channel_for("operation", "busy")
    async with bus.subscribe(channel) as events:
        for progress in (10, 20, 30):  # while it was rendering the last change
            await bus.publish(channel, {"progress": progress})

        async def all_three_arrived() -> None:  # through Redis they arrive after publish returns
            while events.channel.version - events.seen < 3:
                await events.channel.waiter()

        await asyncio.wait_for(all_three_arrived(), timeout=5)
        latest = await asyncio.wait_for(events.next(), timeout=5)
        assert latest == {"progress": 30}
        with pytest.raises(TimeoutError):  # and not again
            await asyncio.wait_for(events.next(), timeout=0.3)


async def test_streams_of_one_key_share_one_render_per_change(database):
    from managely.web import sse

    calls = []

    async def render():
        calls.append(1)
        await asyncio.sleep(0)
        return sse._Sent("progress", f"<p>{len(calls)} %</p>", f"{len(calls)}-0", False)

    channel = bus.channel_for("operation", "shared")
    key = ("operation", "shared", False, "en", False)
    clients = [
        sse._Client(key, sse._join(key, lambda: bus.subscribe(channel), render), None)
        for _ in range(50)
    ]
    group = clients[0].group
    assert all(client.group is group for client in clients)
    # The first frame too is one render, made once the group subscribed.
    firsts = await asyncio.wait_for(asyncio.gather(*(c.first() for c in clients)), 5)
    assert len(calls) == 1 and all(sent is firsts[0] for sent in firsts)
    for client, sent in zip(clients, firsts, strict=True):
        client.last = sent.digest
    streams = [client.frames() for client in clients]
    await bus.publish(channel, {"status": "running"})
    frames = await asyncio.wait_for(asyncio.gather(*(anext(s) for s in streams)), 5)
    assert len(calls) == 2 and all(frame is frames[0] for frame in frames)  # built once
    assert frames[0] == b"event: progress\nid: 2-0\ndata: <p>2 %</p>\n\n"
    # A stream joining later sends the group's latest render, made for no one else.
    late = sse._Client(key, sse._join(key, lambda: bus.subscribe(channel), render), None)
    assert (await late.first()).frame is frames[0] and len(calls) == 2
    late.leave()
    staff = sse._join(
        ("operation", "shared", True, "en", False), lambda: bus.subscribe(channel), render
    )
    assert staff is not group  # staff see more: a group of their own
    sse._leave(("operation", "shared", True, "en", False), staff)
    for stream, client in zip(streams, clients, strict=True):
        await stream.aclose()
        client.leave()
        client.leave()  # once only
    assert sse._groups == {}
    # The last to leave stops the group's task, and its subscription with it.
    await asyncio.wait_for(asyncio.gather(group.task, return_exceptions=True), 5)
    assert group.task.cancelled()


async def test_a_quiet_channel_wakes_its_waiters_for_a_keepalive(database, monkeypatch):
    monkeypatch.setattr(bus, "QUIET_S", 0.1)
    channel = bus.channel_for("operation", "quiet")
    async with bus.subscribe(channel) as first, bus.subscribe(channel) as second:
        # Both hear the quiet from the channel's one timer, and an event after it still.
        assert await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), 5) == [
            None,
            None,
        ]
        waiting = asyncio.ensure_future(first.next())
        await asyncio.sleep(0.25)  # quiet ticks in between are not events
        await bus.publish(channel, {"status": "running"})
        assert await asyncio.wait_for(waiting, 5) == {"status": "running"}
