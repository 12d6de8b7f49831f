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


def stream(
    event: str,
    render: Callable[[], Awaitable[tuple[str, str, bool]]],
    changes: Callable[[], AsyncIterator[AsyncIterator[dict]]],
    close_event: str | None = None,
    last_event_id: str = "",
) -> Response:
    """Send ``render()``'s HTML on connect and after each change, until it says it is final.

    ``render`` returns (html, event id, final). Only changed HTML is sent; a comment keeps
    idle connections open through proxies. After the final HTML, ``close_event`` (if given)
    tells the page's ``sse-close`` to stop: a browser would otherwise reconnect for ever.
    A reconnecting client that sends ``Last-Event-ID`` equal to the current id is not sent
    the same HTML again.
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
                    await asyncio.wait_for(iterator.__anext__(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                html, event_id, final = await render()
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
