"""Each declared step of an operation has its own timeout; the whole run has steps × that."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from managely.hosts.local import LocalDriver
from managely.models.operations import OperationKind, OperationStatus, OperationStep
from managely.models.servers import ServerStatus
from managely.services import operations, servers

SCRIPTS = Path(__file__).parent / "scripts"


async def _args(operation):
    return ["--root", operation.params["root"], "--sleep", operation.params["sleep"]]


operations.register(
    OperationKind.BACKUP,
    operations.OperationSpec(
        script="steps.sh", steps=["first", "second", "third"], args=_args, timeout_s=1
    ),
    variant="test-step-timeout",
)


@pytest.fixture
async def server(database, tmp_path):
    server = await servers.add_server(
        name="timeout-host", host="127.0.0.1", driver="local", root=str(tmp_path), capacity=5
    )
    server.status = ServerStatus.ACTIVE
    await server.save()
    servers.set_driver(server, LocalDriver(scripts_dir=SCRIPTS))
    return server


async def _operation(server, tmp_path, sleep: str):
    return await operations.create(
        OperationKind.BACKUP,
        server=server,
        params={"variant": "test-step-timeout", "root": str(tmp_path / "site"), "sleep": sleep},
    )


async def test_steps_within_their_timeout_may_together_take_longer(server, tmp_path, run_jobs):
    operation = await _operation(server, tmp_path, "0.6")  # 1.8 s in all, 0.6 s per step
    await run_jobs()
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert operations.run_timeout(operation) == 3


async def test_a_step_that_overruns_fails_the_operation_and_rolls_back(server, tmp_path, run_jobs):
    started = time.monotonic()
    operation = await _operation(server, tmp_path, "20")
    await run_jobs()
    assert time.monotonic() - started < 15, "stopped long before the step's 20 s sleep"
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED
    assert operation.error_detail == "first: step first timed out after 1 s"
    assert operation.error_message.startswith("We could not finish this task.")
    statuses = dict(await OperationStep.filter(operation=operation).values_list("name", "status"))
    assert statuses == {"first": "failed", "second": "pending", "third": "pending"}
    assert list((tmp_path / "site").glob("step-*")) == []
