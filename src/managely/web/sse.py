"""Server-sent events: the same partial a page shows, pushed whenever it changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from quart import Response, stream_with_context

from managely.services.bus import Events


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


# Renders in flight, shared by the streams that woke for the same event: every local subscriber
# of a channel gets the same event object, so 10,000 watchers of 100 operations cost 100
# renders per change, not 10,000. (share key, id(event)) -> (event, task)
_rendering: dict[tuple, tuple[dict, asyncio.Task]] = {}


async def _render_once(key: tuple, cause: dict, render: Callable[[], Awaitable[_Sent]]) -> _Sent:
    """One render per (key, event); every stream woken by that event awaits the same one. It
    started after the event arrived, so after the change it announces was written."""
    slot = (key, id(cause))
    entry = _rendering.get(slot)
    if entry is None or entry[0] is not cause:
        task = asyncio.ensure_future(render())
        entry = _rendering[slot] = (cause, task)

        def forget(done: asyncio.Task) -> None:
            if _rendering.get(slot, (None, None))[1] is done:
                del _rendering[slot]

        task.add_done_callback(forget)
    elif entry[1].done():
        return entry[1].result()
    return await asyncio.shield(entry[1])  # one stream going away must not cancel the render


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
    HTML depends on besides the object: locale, staff or not) share one render per event.
    A waiting stream holds its request context, its channel's ``Events`` and a digest.
    """

    async def ready() -> _Sent:
        return _Sent(event, *await render())

    @stream_with_context  # the body runs after the view returns: keep g and the request
    async def body() -> AsyncIterator[bytes]:
        async with changes() as events:
            sent = await ready()
            if not (last_event_id and sent.event_id == last_event_id):
                yield sent.frame
            last = sent.digest
            while not sent.final:
                cause = await events.wait()
                if cause is None:  # quiet for a while: a comment keeps proxies from closing
                    yield b": keepalive\n\n"
                    continue
                if share_key is None:
                    sent = await ready()
                else:
                    sent = await _render_once(share_key, cause, ready)
                if sent.digest != last:
                    yield sent.frame
                    last = sent.digest
            if close_event:
                yield _frame(close_event, "", sent.event_id)

    response = Response(body(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    # Not a document: nothing in it may load or run. Its headers stay in memory as long as the
    # stream is open (the server keeps them for its access log), so the policy is short.
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    response.timeout = None  # Quart would end the stream after RESPONSE_TIMEOUT (60 s)
    return response
