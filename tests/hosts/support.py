"""Helpers for host driver tests: an event recorder and process checks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from managely.hosts.base import ScriptEvent

SCRIPTS = Path(__file__).parent / "scripts"
SECRET = "s3cr3t-Pa55word"


class EventLog:
    """An ``on_event`` handler that remembers each event and when it arrived."""

    def __init__(self) -> None:
        self.events: list[ScriptEvent] = []
        self.arrivals: list[float] = []

    async def __call__(self, event: ScriptEvent) -> None:
        self.events.append(event)
        self.arrivals.append(time.monotonic())

    def of_kind(self, kind: str) -> list[str]:
        return [e.text for e in self.events if e.kind == kind]

    async def result(self, key: str, timeout: float = 5) -> str:
        """Wait until the script has reported result ``key``; return its value."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if event.kind == "result" and event.key == key:
                        return event.text
                await asyncio.sleep(0.02)


def is_running(pid: int) -> bool:
    """True unless the process is gone or a zombie (PID 1 here may never reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


async def wait_until_gone(pid: int, timeout: float = 3) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
