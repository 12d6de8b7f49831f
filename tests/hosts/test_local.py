"""The local driver runs real scripts as subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from managely.hosts.base import TRUNCATED, ScriptEvent, UnsafeArgument
from managely.hosts.local import LocalDriver
from tests.hosts.support import SCRIPTS, SECRET, EventLog, is_running, wait_until_gone
from tests.hosts.test_base import HOSTILE_ARGS


@pytest.fixture
def driver() -> LocalDriver:
    return LocalDriver(scripts_dir=SCRIPTS)


async def test_it_streams_events_in_order_while_the_script_runs(driver: LocalDriver) -> None:
    events = EventLog()
    run = await driver.run("progress.sh", ["0.5"], secrets={"DB_PASSWORD": SECRET}, on_event=events)
    finished = time.monotonic()

    assert run.ok and run.exit_code == 0 and not run.timed_out
    assert [(e.kind, e.key) for e in events.events] == [
        ("step", ""),
        ("progress", ""),
        ("log", ""),
        ("step", ""),
        ("progress", ""),
        ("log", ""),
        ("result", "url"),
        ("result", "db_password"),
        ("progress", ""),
    ]
    assert events.of_kind("step") == ["prepare", "install"]
    assert events.of_kind("progress") == ["10", "60", "100"]
    # The first step reached us about a second before the script finished, not at the end.
    assert finished - events.arrivals[0] >= 0.9
    assert events.arrivals[3] - events.arrivals[0] >= 0.4
    assert run.results == {"url": "http://example.test/site/", "db_password": "[redacted]"}
    assert run.last_step == "install"
    assert run.error == ""
    assert 1.0 <= run.duration_s < 3


async def test_it_redacts_secrets_everywhere(driver: LocalDriver) -> None:
    events = EventLog()
    run = await driver.run("progress.sh", secrets={"DB_PASSWORD": SECRET}, on_event=events)

    everything = [e.text for e in events.events] + run.log_tail + list(run.results.values())
    assert not [text for text in everything if SECRET in text]
    # The script did get the secret on its stdin: it printed its length.
    assert f"connecting with password [redacted] ({len(SECRET)} characters)" in run.log_tail
    assert "warning: password [redacted] is on stderr" in run.log_tail


async def test_it_reports_a_failing_script(driver: LocalDriver) -> None:
    run = await driver.run("fail.sh")

    assert run.exit_code == 3
    assert not run.ok
    assert run.error == "database is locked"
    assert run.last_step == "migrate"
    assert run.log_tail == ["::step prepare", "::step migrate", "::error database is locked"]


async def test_it_kills_a_script_and_its_children_on_timeout(driver: LocalDriver) -> None:
    events = EventLog()
    started = time.monotonic()
    run = await driver.run("slow.sh", ["30"], timeout=0.5, on_event=events)

    assert time.monotonic() - started < 2
    assert run.timed_out and not run.ok
    assert run.exit_code != 0
    assert run.error == "timed out after 0.5 s"
    assert await wait_until_gone(int(run.results["child_pid"]))


async def test_each_step_gets_its_own_timeout(driver: LocalDriver) -> None:
    # Three steps of 0.6 s each outlast one step's limit together, but none alone.
    run = await driver.run("timed_steps.sh", ["0.6", "0.6", "0.6"], timeout=10, step_timeout=1)
    assert run.ok and run.results["steps"] == "3"

    started = time.monotonic()
    run = await driver.run("timed_steps.sh", ["0.2", "30"], timeout=10, step_timeout=1)
    assert 1 <= time.monotonic() - started < 3
    assert run.timed_out and run.last_step == "s2"
    assert run.error == "step s2 timed out after 1 s"


async def test_the_run_timeout_still_bounds_many_quick_steps(driver: LocalDriver) -> None:
    run = await driver.run("timed_steps.sh", ["0.4"] * 10, timeout=1, step_timeout=5)
    assert run.timed_out and run.error == "timed out after 1 s"


async def test_it_passes_arguments_verbatim(driver: LocalDriver, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    args = ["--root=/srv/x", "a,b", "user@host", "+1", "-n", "x=y:z"]

    run = await driver.run("args.sh", ["--marker", str(marker), *args])

    assert run.ok
    assert marker.exists()
    assert run.log_tail == args


@pytest.mark.parametrize("arg", HOSTILE_ARGS + ["x" * 300])
async def test_it_rejects_hostile_arguments_before_running(
    driver: LocalDriver, tmp_path: Path, arg: str
) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(UnsafeArgument):
        await driver.run("args.sh", ["--marker", str(marker), arg])
    assert not marker.exists()


async def test_it_rejects_hostile_secrets_before_running(
    driver: LocalDriver, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(UnsafeArgument):
        await driver.run("args.sh", ["--marker", str(marker)], secrets={"A": "x\nB=y"})
    assert not marker.exists()


async def test_it_keeps_the_last_lines_and_cuts_overlong_ones(driver: LocalDriver) -> None:
    events = EventLog()
    run = await driver.run("bigout.sh", ["20000"], on_event=events)

    assert run.ok
    assert len(events.events) == 20001
    assert events.events[0].text == "x" * 65536 + TRUNCATED
    assert events.events[-1] == ScriptEvent("log", "line 20000")
    assert run.log_tail == [f"line {n}" for n in range(19951, 20001)]


async def test_it_does_not_wait_for_children_that_keep_its_output_open(
    driver: LocalDriver,
) -> None:
    started = time.monotonic()
    run = await driver.run("leaves_child.sh", ["30"], timeout=10)
    child = int(run.results["child_pid"])
    try:
        assert run.ok
        assert time.monotonic() - started < 3
        # A script may start a service on purpose: a normal exit leaves its children alone.
        assert is_running(child)
    finally:
        os.kill(child, signal.SIGTERM)
    assert await wait_until_gone(child)


async def test_a_timeout_returns_even_if_a_child_escaped_the_process_group(
    driver: LocalDriver,
) -> None:
    started = time.monotonic()
    run = await driver.run("escapes.sh", ["30"], timeout=0.5)
    escaped = int(run.results["escaped_pid"])
    try:
        assert run.timed_out
        assert time.monotonic() - started < 2
    finally:
        os.kill(escaped, signal.SIGKILL)


async def test_it_kills_the_script_when_the_caller_fails(driver: LocalDriver) -> None:
    seen: list[str] = []

    async def failing_handler(event: ScriptEvent) -> None:
        seen.append(event.text)
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError, match="database is down"):
        await driver.run("slow.sh", ["30"], on_event=failing_handler)
    assert await wait_until_gone(int(seen[0]))


async def test_it_kills_the_script_when_cancelled(driver: LocalDriver) -> None:
    events = EventLog()
    running = asyncio.create_task(driver.run("slow.sh", ["30"], on_event=events))
    child = int(await events.result("child_pid"))

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert await wait_until_gone(child)


@pytest.mark.parametrize(("cap", "at_least", "below"), [(1, 1.6, 9), (2, 0.8, 1.6)])
async def test_it_caps_concurrent_scripts(cap: int, at_least: float, below: float) -> None:
    driver = LocalDriver(scripts_dir=SCRIPTS, max_concurrency=cap)
    started = time.monotonic()
    runs = await asyncio.gather(*(driver.run("slow.sh", ["0.8"]) for _ in range(2)))

    assert all(run.ok for run in runs)
    assert at_least <= time.monotonic() - started < below


async def test_it_checks_the_host(driver: LocalDriver, tmp_path: Path) -> None:
    assert await driver.check()
    assert not await LocalDriver(scripts_dir=tmp_path / "missing").check()
