"""Server-sent events: the same partial a page shows, pushed whenever it changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from quart import Response, stream_with_context

from managely.services.bus import Events, Latest

log = logging.getLogger(__name__)


def _frame(event: str, data: str, event_id: str | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


class _Sent:
    """A render made ready to send: the frame's bytes, built once however many streams send
    them, and a digest to tell whether the HTML changed (a stream keeps that, not the HTML)."""

    __slots__ = ("frame", "digest", "event_id", "final")

    def __init__(self, event: str, html: str, event_id: str, final: bool) -> None:
        self.frame = _frame(event, html, event_id)
        self.digest = hash(html)
        self.event_id, self.final = event_id, final


class _Group(Latest):
    """The streams sharing a key, and their latest render. One task follows the channel and
    renders each change once, then wakes each waiting stream's own future with it (a stream
    going away cancels nothing but its own). 10,000 watchers of 100 operations cost 100
    renders per change, not 10,000. The value None means following the channel failed."""

    __slots__ = ("members", "task", "subscribed")

    def __init__(self) -> None:
        super().__init__()
        self.members = 0
        self.task: asyncio.Task | None = None
        self.subscribed = asyncio.get_running_loop().create_future()

    async def next(self, seen: int) -> tuple[int, _Sent | None] | None:
        """(version, render) of the latest change after ``seen``; ``None`` after a quiet spell."""
        if not await self.after(seen):
            return None
        return self.version, self.value


async def _follow(group: _Group, changes, ready: Callable[[], Awaitable[_Sent]]) -> None:
    """Render after each change (so after the change it announces was written), until final."""
    try:
        async with changes() as events:
            group.subscribed.set_result(None)
            while True:
                if await events.wait() is None:  # quiet: the streams send a keepalive
                    group.wake(False)
                    continue
                sent = await ready()
                group.put(sent)
                if sent.final:
                    return
    except Exception as exc:  # noqa: BLE001 - logged; the streams end and browsers reconnect
        log.exception("live stream: following its channel failed")
        if not group.subscribed.done():
            group.subscribed.set_exception(exc)
        group.put(None)


_groups: dict[object, _Group] = {}


async def _join(key: object, changes, ready: Callable[[], Awaitable[_Sent]]) -> _Group:
    group = _groups.get(key)
    if group is None or group.task.done():  # none yet, or it ended (final) or failed
        group = _groups[key] = _Group()
        group.task = asyncio.ensure_future(_follow(group, changes, ready))
    group.members += 1
    try:
        await asyncio.shield(group.subscribed)  # changes from now on reach the group
    except BaseException:
        _leave(key, group)
        raise
    return group


def _leave(key: object, group: _Group) -> None:
    group.members -= 1
    if not group.members:
        if _groups.get(key) is group:
            del _groups[key]
        group.task.cancel()


def stream(
    event: str,
    render: Callable[[], Awaitable[tuple[str, str, bool]]],
    changes: Callable[[], AbstractAsyncContextManager[Events]],
    close_event: str | None = None,
    last_event_id: str = "",
    share_key: tuple | None = None,
) -> Response:
    """Send ``render()``'s HTML on connect and after each change, until it says it is final.

    ``render`` returns (html, event id, final). Only changed HTML is sent; a comment keeps
    idle connections open through proxies. After the final HTML, ``close_event`` (if given)
    tells the page's ``sse-close`` to stop: a browser would otherwise reconnect for ever.
    A reconnecting client that sends ``Last-Event-ID`` equal to the current id is not sent
    the same HTML again. Streams given the same ``share_key`` (which must hold everything the
    HTML depends on besides the object: locale, staff or not) share one render per event; a
    stream without one is a group of its own. A waiting stream holds its request context, a
    digest and one future; its group, one task following the channel.
    """

    async def ready() -> _Sent:
        return _Sent(event, *await render())

    @stream_with_context  # the body runs after the view returns: keep g and the request
    async def body() -> AsyncIterator[bytes]:
        key = object() if share_key is None else share_key
        group = await _join(key, changes, ready)
        try:
            seen = group.version
            sent = await ready()  # this client's own first render, after the subscription
            if not (last_event_id and sent.event_id == last_event_id):
                yield sent.frame
            last = sent.digest
            while not sent.final:
                latest = await group.next(seen)
                if latest is None:  # quiet for a while: a comment keeps proxies from closing
                    yield b": keepalive\n\n"
                    continue
                seen, changed = latest
                if changed is None:  # the group could not follow its channel
                    return
                sent = changed
                if sent.digest != last:
                    yield sent.frame
                    last = sent.digest
            if close_event:
                yield _frame(close_event, "", sent.event_id)
        finally:
            _leave(key, group)

    response = Response(body(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    # Not a document: nothing in it may load or run. Its headers stay in memory as long as the
    # stream is open (the server keeps them for its access log), so the policy is short.
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    response.timeout = None  # Quart would end the stream after RESPONSE_TIMEOUT (60 s)
    return response
