"""The operation engine: claims, steps, live progress, readable failure, rollback, retry,
and leases reclaimed after a worker dies."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from managely.hosts.local import LocalDriver
from managely.models.operations import (
    OperationKind,
    OperationLog,
    OperationStatus,
    OperationStep,
    SaaSOperation,
)
from managely.models.servers import ServerStatus
from managely.services import bus, operations, servers

SCRIPTS = Path(__file__).parent / "scripts"


async def _args(operation):
    extra = []
    if operation.params.get("fail_at"):
        extra += ["--fail-at", operation.params["fail_at"]]
    if operation.params.get("sleep"):
        extra += ["--sleep", str(operation.params["sleep"])]
    return ["--root", operation.params["root"], *extra]


async def _secrets(operation):
    return {"TOKEN": "hunter2-secret"}


STEPS = operations.OperationSpec(
    script="steps.sh",
    steps=["first", "second", "third"],
    args=_args,
    secrets=_secrets,
    timeout_s=30,
)
operations.register(OperationKind.BACKUP, STEPS, variant="test")


class HookBroke(Exception):
    pass


async def _hook_writes_then_breaks(operation):
    await SaaSOperation.filter(id=operation.id).update(result={"hook": "wrote"})
    raise HookBroke


operations.register(
    OperationKind.BACKUP,
    dataclasses.replace(STEPS, on_failure=_hook_writes_then_breaks),
    variant="hook-breaks",
)


@pytest.fixture
async def server(database, tmp_path):
    server = await servers.add_server(
        name="test-host", host="127.0.0.1", driver="local", root=str(tmp_path), capacity=5
    )
    server.status = ServerStatus.ACTIVE
    await server.save()
    servers.set_driver(server, LocalDriver(scripts_dir=SCRIPTS))
    return server


async def new_operation(server, tmp_path, **params):
    return await operations.create(
        OperationKind.BACKUP,
        server=server,
        params={"variant": "test", "root": str(tmp_path / "site"), **params},
    )


async def test_an_operation_runs_its_steps_in_order_with_live_progress(server, tmp_path, run_jobs):
    operation = await new_operation(server, tmp_path)
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.progress == 100
    assert operation.attempts == 1
    assert operation.result == {"marker": str(tmp_path / "site" / "step-third")}
    steps = await OperationStep.filter(operation=operation).order_by("position")
    assert [(s.name, s.status) for s in steps] == [
        ("first", "succeeded"),
        ("second", "succeeded"),
        ("third", "succeeded"),
    ]
    assert all(s.started_at and s.finished_at and s.finished_at >= s.started_at for s in steps)
    lines = await OperationLog.filter(operation=operation).order_by("seq")
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    assert "working on first with [redacted]" in [line.line for line in lines]
    assert not any("hunter2" in line.line for line in lines)


async def test_a_failing_step_fails_readably_rolls_back_and_can_be_retried(
    server, tmp_path, run_jobs
):
    operation = await new_operation(server, tmp_path, fail_at="second")
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert operation.error_message.startswith("We could not finish this task.")
    assert operation.error_detail == "second: second broke"
    statuses = dict(await OperationStep.filter(operation=operation).values_list("name", "status"))
    assert statuses == {"first": "succeeded", "second": "failed", "third": "pending"}
    assert list((tmp_path / "site").glob("step-*")) == [], "the rollback removed the first step"

    operation.params = {**operation.params, "fail_at": ""}
    await operation.save()
    await operations.retry(operation)
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.attempts == 2
    with pytest.raises(Exception, match="Only a failed or cancelled task can be retried"):
        await operations.retry(operation)


async def test_a_failure_and_its_hook_are_one_transaction(server, tmp_path):
    """The failed status and the kind's failure hook (a launch marked failed, an add-on
    refunded) commit together: when the hook breaks, neither is written, and the operation
    stays running under its lease for the reclaim to take back."""
    operation = await operations.create(
        OperationKind.BACKUP,
        server=server,
        params={"variant": "hook-breaks", "root": str(tmp_path / "site"), "fail_at": "second"},
    )
    with pytest.raises(HookBroke):
        await operations.run(operation.id, "w1")
    row = await SaaSOperation.get(id=operation.id)
    assert (row.status, row.result, row.lease_owner) == (OperationStatus.RUNNING, {}, "w1")
    assert row.error_detail == ""


async def test_only_one_worker_claims_an_operation(server, tmp_path, run_jobs):
    operation = await new_operation(server, tmp_path)
    await run_jobs()  # the actor ran it already; claiming again finds nothing queued
    await SaaSOperation.filter(id=operation.id).update(status=OperationStatus.QUEUED)
    results = await asyncio.gather(*(operations.run(operation.id, f"w{i}") for i in range(4)))
    assert sum(r is not None for r in results) == 1


async def test_progress_is_published_after_it_is_written(server, tmp_path, run_jobs):
    operation = await new_operation(server, tmp_path, sleep="0.2")
    seen: list[tuple[str, int]] = []
    async with bus.subscribe(bus.channel_for("operation", operation.code)) as events:

        async def watch():
            async for _ in events:
                row = await SaaSOperation.get(id=operation.id)
                seen.append((row.status, row.progress))
                if row.status == OperationStatus.SUCCEEDED:
                    return

        await asyncio.wait_for(asyncio.gather(watch(), run_jobs()), timeout=20)
    assert seen[-1] == ("succeeded", 100)
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and len(set(progress)) >= 3


async def test_an_expired_lease_is_requeued_then_abandoned_with_rollback(
    server, tmp_path, run_jobs
):
    operation = await new_operation(server, tmp_path)
    await run_jobs()
    (tmp_path / "site" / "step-first").touch()
    expired = datetime.now(UTC) - timedelta(seconds=1)
    await SaaSOperation.filter(id=operation.id).update(
        status=OperationStatus.RUNNING, lease_until=expired, attempts=1
    )
    assert await operations.reclaim_expired() == {"requeued": 1, "failed": 0}
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED and operation.attempts == 2

    await SaaSOperation.filter(id=operation.id).update(
        status=OperationStatus.RUNNING, lease_until=expired, attempts=operation.max_attempts
    )
    assert await operations.reclaim_expired() == {"requeued": 0, "failed": 1}
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert "worker lost (attempts: 3)" in operation.error_detail
    assert list((tmp_path / "site").glob("step-*")) == []


@pytest.mark.parametrize("step", ["first", "second", "third"])
async def test_a_failure_at_any_step_leaves_nothing_and_a_retry_finishes(
    server, tmp_path, run_jobs, step
):
    operation = await new_operation(server, tmp_path, fail_at=step)
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert operation.error_detail == f"{step}: {step} broke"
    assert list((tmp_path / "site").glob("step-*")) == []
    operation.params = {**operation.params, "fail_at": ""}
    await operation.save()
    await operations.retry(operation)
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert sorted(p.name for p in (tmp_path / "site").glob("step-*")) == [
        "step-first",
        "step-second",
        "step-third",
    ]


async def test_an_ssh_connection_dropped_mid_script_fails_readably_then_retries(
    database, tmp_path, run_jobs, ssh_server
):
    from managely.hosts.ssh import SshDriver

    remote = await servers.add_server(
        name="ssh-fault",
        host=ssh_server.host,
        port=ssh_server.port,
        ssh_user=ssh_server.user,
        private_key_pem=ssh_server.client_key_pem,
        host_key=ssh_server.host_key_line,
        root=str(tmp_path),
        capacity=5,
    )
    servers.set_driver(
        remote,
        SshDriver(
            ssh_server.host,
            ssh_server.port,
            ssh_server.user,
            ssh_server.client_key_pem,
            ssh_server.host_key_line,
            scripts_dir=SCRIPTS,
        ),
    )
    operation = await new_operation(remote, tmp_path, sleep="1")
    for _ in range(200):  # wait until the script is under way, then cut the connection
        await asyncio.sleep(0.05)
        if (await SaaSOperation.get(id=operation.id)).current_step:
            break
    ssh_server.drop_connections()
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert "connection lost" in operation.error_detail
    assert operation.error_message.startswith("We could not finish this task.")

    operation.params = {**operation.params, "sleep": ""}
    await operation.save()
    await operations.retry(operation)
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED, operation.error_detail


async def _queued_without_message(server, tmp_path, monkeypatch) -> SaaSOperation:
    """A queued operation whose message never reached a worker (Redis lost it)."""
    with monkeypatch.context() as lost:
        lost.setattr(operations, "enqueue", lambda *args, **kwargs: None)
        return await new_operation(server, tmp_path)


async def test_a_queued_operation_whose_message_was_lost_is_sent_again_by_the_clock(
    server, tmp_path, run_jobs, monkeypatch
):
    from managely import db
    from managely.jobs import clock

    operation = await _queued_without_message(server, tmp_path, monkeypatch)
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.QUEUED and operation.attempts == 0
    assert await operations.resend_queued() == 0, "its message may still be on its way"

    waited = datetime.now(UTC) - operations.RESEND_QUEUED_AFTER - timedelta(seconds=1)
    await SaaSOperation.filter(id=operation.id).update(updated_at=waited)
    async with db.atomic():  # two sweeps at once: only one sends it
        assert await operations.resend_queued() == 1
        assert await operations.resend_queued() == 0
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED and operation.attempts == 1

    # The clock's operations.reclaim tick runs this sweep too.
    lost = await _queued_without_message(server, tmp_path, monkeypatch)
    await SaaSOperation.filter(id=lost.id).update(updated_at=waited)
    assert await clock.fire(clock.SCHEDULES["operations.reclaim"]) is True
    await run_jobs()
    await lost.refresh_from_db()
    assert lost.status == OperationStatus.SUCCEEDED and lost.attempts == 1


async def test_requeued_and_retried_operations_count_as_freshly_queued(
    server, tmp_path, run_jobs, monkeypatch
):
    operation = await new_operation(server, tmp_path, fail_at="first")
    await run_jobs()
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    monkeypatch.setattr(operations, "enqueue", lambda *args, **kwargs: None)  # no worker runs it

    await SaaSOperation.filter(id=operation.id).update(updated_at=long_ago)
    await operations.retry(await SaaSOperation.get(id=operation.id))
    assert await operations.resend_queued() == 0, "a retry was queued just now"

    await SaaSOperation.filter(id=operation.id).update(
        status=OperationStatus.RUNNING,
        lease_until=datetime.now(UTC) - timedelta(seconds=1),
        attempts=1,
        updated_at=long_ago,
    )
    assert await operations.reclaim_expired() == {"requeued": 1, "failed": 0}
    assert await operations.resend_queued() == 0, "requeued just now"
    assert (await SaaSOperation.get(id=operation.id)).status == OperationStatus.QUEUED
