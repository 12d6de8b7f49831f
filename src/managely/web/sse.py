"""Server-sent events: the same partial a page shows, pushed whenever it changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from quart import Response, request, stream_with_context

from managely.services.bus import Events, Latest

log = logging.getLogger(__name__)

KEEPALIVE = b": keepalive\n\n"
# The ASGI scope's key between ``HandOff`` and a stream: ``HandOff`` puts ``_TAKES`` there
# (it can go on sending once the view is done), the stream its ``_Client`` (here I am).
HANDOFF = "managely.sse"
_TAKES = object()


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

    __slots__ = ("members", "task")

    def __init__(self) -> None:
        super().__init__()
        self.members = 0
        self.task: asyncio.Task | None = None


async def _follow(group: _Group, changes, ready: Callable[[], Awaitable[_Sent]]) -> None:
    """Render once subscribed (what a stream joining now sends first), then after each change
    (so after the change it announces was written), until final."""
    try:
        async with changes() as events:
            while True:
                sent = await ready()
                group.put(sent)
                if sent.final:
                    return
                while await events.wait() is None:  # quiet: the streams send a keepalive
                    group.wake(False)
    except Exception:  # noqa: BLE001 - logged; the streams end and browsers reconnect
        log.exception("live stream: following its channel failed")
        group.put(None)


_groups: dict[object, _Group] = {}


def _join(key: object, changes, ready: Callable[[], Awaitable[_Sent]]) -> _Group:
    """The group for ``key``, with one member more. Its first render comes after it has
    subscribed (``_Client.first`` waits for it), so a member misses no change."""
    group = _groups.get(key)
    if group is None or group.task.done():  # none yet, or it ended (final) or failed
        group = _groups[key] = _Group()
        group.task = asyncio.ensure_future(_follow(group, changes, ready))
    group.members += 1
    return group


def _leave(key: object, group: _Group) -> None:
    group.members -= 1
    if not group.members:
        if _groups.get(key) is group:
            del _groups[key]
        group.task.cancel()


class _Client:
    """A stream once its first frame is out: its group, the version and the digest of the
    HTML it last sent, and the future it waits on. All a waiting stream holds."""

    __slots__ = ("key", "group", "seen", "last", "close_event", "waiting", "gone", "member")

    def __init__(self, key: object, group: _Group, close_event: str | None) -> None:
        self.key, self.group, self.close_event = key, group, close_event
        self.seen, self.last = group.version, 0
        self.waiting: asyncio.Future | None = None
        self.gone, self.member = False, True

    async def first(self) -> _Sent | None:
        """The group's latest render, made after it subscribed: what this stream sends first
        (changes after it wake this stream). None: the group could not follow its channel."""
        group = self.group
        while not group.version:  # its first render is on the way (a quiet wake is not it)
            await group.waiter()
        self.seen = group.version
        return group.value

    async def frames(self) -> AsyncIterator[bytes]:
        """The frames after the first: changed HTML, keepalives in quiet spells, then the
        close event after the final HTML. Ends early if the client went away or the group
        could not follow its channel."""
        group = self.group
        while not self.gone:
            if group.version == self.seen:
                self.waiting = group.waiter()
                changed = await self.waiting
                self.waiting = None
                if self.gone:
                    return
                if not changed:  # quiet for a while: a comment keeps proxies from closing
                    yield KEEPALIVE
                    continue
            self.seen, sent = group.version, group.value
            if sent is None:  # the group could not follow its channel
                return
            if sent.digest != self.last:
                yield sent.frame
                self.last = sent.digest
            if sent.final:
                if self.close_event:
                    yield _frame(self.close_event, "", sent.event_id)
                return

    def hang_up(self) -> None:
        """Its client went away: stop waiting (a quiet wake that finds it gone)."""
        self.gone = True
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(False)

    def leave(self) -> None:
        if self.member:
            self.member = False
            _leave(self.key, self.group)

    async def serve(self, receive, send) -> None:
        """Send the rest of the stream over ASGI, until final or the client goes away."""
        watch = asyncio.ensure_future(self._watch(receive))
        try:
            async for frame in self.frames():
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            if not self.gone:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watch.cancel()

    async def _watch(self, receive) -> None:
        message = await receive()
        while message["type"] != "http.disconnect":  # a request body's leftovers, if any
            message = await receive()
        self.hang_up()


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
    HTML depends on besides the object: locale, staff or not) share one render per event, and
    the first: a stream joining sends its group's latest; a stream without one is a group of
    its own, with its task.

    Behind ``HandOff`` (the web process's ASGI app), the request ends in Quart after the
    first frame and ``HandOff`` sends the rest: a waiting stream then holds a ``_Client``,
    one future and a task reading for the disconnect, not Quart's request, its tasks and its
    contexts. Without it (a client that does not ask for ``text/event-stream``) the stream
    runs in the request as any streamed body.
    """

    async def ready() -> _Sent:
        return _Sent(event, *await render())

    @stream_with_context  # the body runs after the view returns: keep g and the request
    async def body() -> AsyncIterator[bytes]:
        key = object() if share_key is None else share_key
        client = _Client(key, _join(key, changes, ready), close_event)
        handed_off = False
        try:
            sent = await client.first()
            if sent is None:
                return
            if not (last_event_id and sent.event_id == last_event_id):
                yield sent.frame
            if sent.final:
                if close_event:
                    yield _frame(close_event, "", sent.event_id)
                return
            client.last = sent.digest
            scope = request.scope
            if scope.get(HANDOFF) is _TAKES:
                scope[HANDOFF], handed_off = client, True
                return
            async for frame in client.frames():
                yield frame
        finally:
            if not handed_off:
                client.leave()

    response = Response(body(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    # Not a document: nothing in it may load or run. Its headers stay in memory as long as the
    # stream is open (the server keeps them for its access log), so the policy is short.
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    response.timeout = None  # Quart would end the stream after RESPONSE_TIMEOUT (60 s)
    return response


def _asks_for_events(scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    return any(
        name == b"accept" and b"text/event-stream" in value for name, value in scope["headers"]
    )


class HandOff:
    """ASGI middleware: an event stream's request ends in Quart after its first frame, and
    the rest is sent from here (``stream``'s ``_Client``). Quart's request handling (the
    request and its body, two tasks, the app and request contexts, the session, ``g``, the
    response and its chain of coroutines) is about half of what an open stream held: 10,000
    progress watchers on one web process are why (bench/sse_watchers.py).

    The first frame, authentication, authorisation, the hooks and the error pages all stay
    Quart's. A disconnect Quart read before it finished is remembered, not lost."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if not _asks_for_events(scope):
            return await self.app(scope, receive, send)
        gone = False

        async def receive_until_handoff():
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def send_until_handoff(message) -> None:
            if (
                message["type"] == "http.response.body"
                and not message.get("more_body")
                and isinstance(scope.get(HANDOFF), _Client)
            ):
                return  # the response goes on from here
            await send(message)

        scope[HANDOFF] = _TAKES
        try:
            await self.app(scope, receive_until_handoff, send_until_handoff)
            client = scope.get(HANDOFF)
            if isinstance(client, _Client) and not gone:
                del receive_until_handoff, send_until_handoff  # Quart is done with them
                await client.serve(receive, send)
        finally:
            client = scope.pop(HANDOFF, None)
            if isinstance(client, _Client):
                client.leave()
