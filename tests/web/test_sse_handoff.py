"""The web process's ASGI layers: an event stream leaves Quart after its first frame and goes
on from ``sse.HandOff``; ``Admission`` lets so many requests be worked on at once."""

from __future__ import annotations

import asyncio

import pytest
from quart import Quart, request

from managely.services import bus
from managely.settings import SettingsError, load
from managely.web import admission, sse
from managely.web.admission import Admission

EVENTS = {"Accept": "text/event-stream"}  # what a browser's EventSource sends


def _streaming_app(final_at: int = 3) -> tuple[Quart, dict]:
    """A page whose widget shows a counter's value, pushed on each change of its channel."""
    app = Quart(__name__)
    state = {"value": 0}

    @app.get("/counter/events")
    async def events():
        async def render():
            return f"<p>{state['value']}</p>", str(state["value"]), state["value"] >= final_at

        return sse.stream(
            "counter",
            render,
            lambda: bus.subscribe(bus.channel_for("counter", "c1")),
            close_event="done",
            share_key=("counter", "c1"),
        )

    app.asgi_app = sse.HandOff(Admission(app.asgi_app, 8))
    return app, state


async def _frame(connection, timeout: float = 5.0) -> str:
    data = b""
    while not data.endswith(b"\n\n"):
        data += await asyncio.wait_for(connection.receive(), timeout)
    return data.decode()


def _in_quart() -> list[str]:
    """Quart's tasks for a request in progress (it reads the body and runs the handler)."""
    names = (t.get_coro().__qualname__ for t in asyncio.all_tasks())
    return [name for name in names if name.startswith("ASGIHTTPConnection.")]


async def _change(state: dict, value: int) -> None:
    state["value"] = value  # the row first, then the event, as the worker does
    await bus.publish(bus.channel_for("counter", "c1"), {"value": value})


async def test_a_stream_goes_on_after_quart_ended_its_request_and_ends_when_final(database):
    app, state = _streaming_app()
    async with app.test_client().request("/counter/events", headers=EVENTS) as stream:
        await stream.send_complete()
        assert await _frame(stream) == "event: counter\nid: 0\ndata: <p>0</p>\n\n"
        await asyncio.sleep(0.1)
        assert _in_quart() == []  # the request is over in Quart; the stream goes on
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        (group,) = sse._groups.values()
        assert group.members == 1
        await _change(state, 1)
        assert await _frame(stream) == "event: counter\nid: 1\ndata: <p>1</p>\n\n"
        await _change(state, 3)
        assert await _frame(stream) == "event: counter\nid: 3\ndata: <p>3</p>\n\n"
        assert await _frame(stream) == "event: done\nid: 3\ndata: \n\n"
        await asyncio.wait_for(stream._task, 5)  # the response ended with the final frame
    assert sse._groups == {}


async def test_a_client_that_goes_away_while_waiting_leaves_its_group(database):
    app, state = _streaming_app()
    client = app.test_client()
    first_request = client.request("/counter/events", headers=EVENTS)
    second_request = client.request("/counter/events", headers=EVENTS)
    async with first_request as first, second_request as second:
        for stream in (first, second):
            await stream.send_complete()
            assert "<p>0</p>" in await _frame(stream)
        assert next(iter(sse._groups.values())).members == 2
        await second.disconnect()
        await asyncio.wait_for(second._task, 5)
        assert next(iter(sse._groups.values())).members == 1
        await _change(state, 2)  # the one still there still hears
        assert "<p>2</p>" in await _frame(first)
        await first.disconnect()
    assert sse._groups == {}


async def test_a_disconnect_quart_read_before_the_hand_off_is_not_lost(database):
    app, _ = _streaming_app()
    sent: list[dict] = []
    messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive():
        # The request, then the client is gone before the stream's first frame is out.
        return next(messages, {"type": "http.disconnect"})

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "http_version": "1.1", "asgi": {"spec_version": "2.1"}, "method": "GET",
        "scheme": "http", "path": "/counter/events", "raw_path": b"/counter/events",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "extensions": {},
        "headers": [(b"host", b"localhost"), (b"accept", b"text/event-stream")],
    }  # fmt: skip
    await asyncio.wait_for(app(scope, receive, send), 5)  # returns: nothing waits for ever
    assert sse._groups == {} and sse.HANDOFF not in scope


async def test_without_asking_for_an_event_stream_it_runs_inside_the_request(database):
    app, state = _streaming_app()
    async with app.test_client().request("/counter/events") as stream:
        await stream.send_complete()
        assert "<p>0</p>" in await _frame(stream)
        assert "ASGIHTTPConnection.handle_request" in _in_quart()  # Quart still sends it
        await _change(state, 3)
        assert "<p>3</p>" in await _frame(stream)
        assert "event: done" in await _frame(stream)
    assert _in_quart() == [] and sse._groups == {}


def _gated_app(limit: int) -> tuple[Quart, dict]:
    app = Quart(__name__)
    state = {"inside": 0, "most": 0, "open": asyncio.Event()}

    @app.get("/slow")
    async def slow():
        state["inside"] += 1
        state["most"] = max(state["most"], state["inside"])
        await state["open"].wait()
        state["inside"] -= 1
        return "done"

    @app.post("/echo")
    async def echo():
        return await request.get_data()

    @app.get("/broken")
    async def broken():
        raise RuntimeError("a view that fails")

    @app.get("/download")
    async def download():
        async def body():
            yield b"first part"
            await state["open"].wait()  # a slow reader: the headers are out already
            yield b"second part"

        return body()

    app.asgi_app = Admission(app.asgi_app, limit)
    return app, state


async def test_admission_works_on_so_many_requests_at_once_and_queues_the_rest():
    app, state = _gated_app(limit=2)
    client = app.test_client()
    requests = [asyncio.ensure_future(client.get("/slow")) for _ in range(6)]
    await asyncio.sleep(0.2)
    assert state["inside"] == 2 and not any(request.done() for request in requests)
    state["open"].set()
    answers = await asyncio.wait_for(asyncio.gather(*requests), 5)
    assert [answer.status_code for answer in answers] == [200] * 6
    assert state["most"] == 2  # never more than two at once


async def test_a_started_response_and_a_failed_request_give_their_slot_back():
    app, state = _gated_app(limit=1)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert (await client.get("/broken")).status_code == 500
    async with client.request("/download") as download:
        await download.send_complete()
        assert await asyncio.wait_for(download.receive(), 5) == b"first part"
        # Still sending, but its headers are out: the one slot is free for another request.
        other = asyncio.ensure_future(client.get("/slow"))
        await asyncio.sleep(0.2)
        assert state["inside"] == 1
        state["open"].set()
        assert (await asyncio.wait_for(other, 5)).status_code == 200
        assert await asyncio.wait_for(download.receive(), 5) == b"second part"


async def test_a_slow_upload_holds_no_slot_and_a_large_one_still_arrives_whole():
    app, state = _gated_app(limit=1)
    client = app.test_client()
    async with client.request("/echo", method="POST") as upload:
        await upload.send(b"first half, ")  # and then nothing for a while
        state["open"].set()
        other = await asyncio.wait_for(client.get("/slow"), 5)  # the one slot is free
        assert other.status_code == 200
        await upload.send(b"second half")
        await upload.send_complete()
        assert await asyncio.wait_for(upload.as_response(), 5)
    assert upload.status_code == 200 and bytes(upload.response_data) == b"first half, second half"
    large = b"x" * (admission.BODY_IN_HAND * 3)
    answer = await client.post("/echo", data=large)
    assert answer.status_code == 200 and await answer.get_data() == large


def test_the_limit_is_a_setting_with_bounds(tmp_path):
    base = {"MANAGELY_ENV": "test", "MANAGELY_DATA_DIR": str(tmp_path)}
    assert load(base).web_requests_at_once == 32
    assert load({**base, "MANAGELY_WEB_REQUESTS_AT_ONCE": "64"}).web_requests_at_once == 64
    with pytest.raises(SettingsError, match="MANAGELY_WEB_REQUESTS_AT_ONCE must be between 1"):
        load({**base, "MANAGELY_WEB_REQUESTS_AT_ONCE": "0"})
