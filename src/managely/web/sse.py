"""Server-sent events: the same partial a page shows, pushed whenever it changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from quart import Response, stream_with_context

KEEPALIVE_S = 15


def _frame(event: str, data: str, event_id: str | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode()


# Renders in flight, shared by the streams that woke for the same event: with Redis the fan-out
# hands every local subscriber of a channel the same event object, so 10,000 watchers of 100
# operations cost 100 renders per change, not 10,000. (share key, id(event)) -> (event, task)
_rendering: dict[tuple, tuple[dict, asyncio.Task]] = {}


async def _render_once(key: tuple, cause: dict, render) -> tuple[str, str, bool]:
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
    return await asyncio.shield(entry[1])


def stream(
    event: str,
    render: Callable[[], Awaitable[tuple[str, str, bool]]],
    changes: Callable[[], AsyncIterator[AsyncIterator[dict]]],
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
    """

    @stream_with_context  # the body runs after the view returns: keep g and the request
    async def body() -> AsyncIterator[bytes]:
        async with changes() as events:
            html, event_id, final = await render()
            if not (last_event_id and event_id == last_event_id):
                yield _frame(event, html, event_id)
            last = html
            iterator = events.__aiter__()
            while not final:
                try:
                    cause = await asyncio.wait_for(iterator.__anext__(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if share_key is None:
                    html, event_id, final = await render()
                else:
                    html, event_id, final = await _render_once(share_key, cause, render)
                if html != last:
                    yield _frame(event, html, event_id)
                    last = html
            if close_event:
                yield _frame(close_event, "", event_id)

    response = Response(body(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    response.timeout = None  # Quart would end the stream after RESPONSE_TIMEOUT (60 s)
    return response
