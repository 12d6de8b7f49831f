"""A delayed job one test leaves behind (a retry's backoff) never runs during a later test.

The worker holds delayed messages in memory until they are due, where flushing the broker
does not reach them; one firing between two tests' databases once broke CI. The two tests
run in file order within a tier.
"""

from __future__ import annotations

import asyncio

from managely.queue import actor, enqueue

RAN: list[str] = []


@actor("tests.mark", max_retries=0)
async def mark(label: str) -> None:
    RAN.append(label)


async def test_a_test_leaves_a_delayed_job_behind(database, run_jobs):
    RAN.clear()
    enqueue("tests.mark", "left behind", delay_ms=2000)
    enqueue("tests.mark", "now")
    await run_jobs()  # waits for "now"; a delayed message is not waited for
    assert RAN == ["now"]


async def test_the_next_test_never_sees_it_run(database, run_jobs):
    await asyncio.sleep(2.5)
    await run_jobs()
    assert RAN == ["now"]
