"""The staff operations monitor: list, filters, pages, retry without a second site, cancel
(queued and running), and the stuck view."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from managely.hosts.base import HostDriver, Outcome
from managely.hosts.local import LocalDriver
from managely.models.launches import Launch, LaunchStatus
from managely.models.operations import (
    OperationKind,
    OperationStatus,
    OperationStep,
    SaaSOperation,
)
from managely.models.platform import AuditLog
from managely.models.servers import Server
from managely.services import admin_operations, operations, servers
from tests.conftest import PASSWORD, make_user
from tests.support import Browser, text
from tests.web.routes import make_launch

TEST_SCRIPTS = Path(__file__).parents[1] / "services" / "scripts"


async def _no_args(operation):
    return []


operations.register(
    OperationKind.BACKUP,
    operations.OperationSpec(
        script="steps.sh", steps=["first", "second"], args=_no_args, timeout_s=30
    ),
    variant="cancel-test",
)


@pytest.fixture
async def admin_client(app) -> Browser:
    user = await make_user("ops@staff.example.com", "admin")
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


async def _op(kind, status, server=None, user=None, **fields) -> SaaSOperation:
    return await SaaSOperation.create(
        kind=kind, status=status, server=server, user=user, steps=["first"], **fields
    )


async def test_the_list_filters_by_kind_status_server_and_email_with_counts(
    admin_client, alice, monkeypatch
):
    launch, provisioned = await make_launch(alice)
    server = await Server.get(id=launch.server_id)
    failed = await _op(OperationKind.BACKUP, OperationStatus.FAILED, server, alice)
    queued = await _op(OperationKind.BOOTSTRAP_SERVER, OperationStatus.QUEUED)

    page = await text(await admin_client.get("/admin/get_operations?status=failed"))
    assert failed.code in page and provisioned.code not in page and queued.code not in page
    page = await text(await admin_client.get("/admin/get_operations?email=ALICE@example"))
    assert failed.code in page and provisioned.code in page and queued.code not in page
    page = await text(await admin_client.get("/admin/operations/?server=route-host&kind=backup"))
    assert failed.code in page and provisioned.code not in page

    result = await admin_operations.list_operations(admin_operations.OperationFilters())
    assert result.counts == {"succeeded": 1, "failed": 1, "queued": 1}

    monkeypatch.setattr(admin_operations, "PAGE_SIZE", 2)
    first = await admin_operations.list_operations(admin_operations.OperationFilters())
    assert [op.code for op in first.operations] == [queued.code, failed.code]
    second = await admin_operations.list_operations(
        admin_operations.OperationFilters(), first.next_cursor
    )
    assert [op.code for op in second.operations] == [provisioned.code]
    assert second.next_cursor == ""


async def test_retrying_a_failed_provisioning_finishes_the_same_system(
    admin_client, alice, tmp_path, run_jobs
):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "create_site_in_isolated.sh").write_text(
        "echo '::step check_site'\necho '::result url=http://127.0.0.1:1/again/'\n"
    )
    launch, operation = await make_launch(alice)
    await Launch.filter(id=launch.id).update(status=LaunchStatus.FAILED)
    await SaaSOperation.filter(id=operation.id).update(
        status=OperationStatus.FAILED, error_detail="check_site: broke", attempts=1
    )
    server = await Server.get(id=launch.server_id)
    servers.set_driver(server, LocalDriver(scripts_dir=scripts))

    response = await admin_client.post(f"/admin/operations/{operation.code}/retry")
    assert response.status_code == 302
    await run_jobs()
    await operation.refresh_from_db()
    await launch.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED and operation.attempts == 2
    assert launch.status == LaunchStatus.ACTIVE and launch.url == "http://127.0.0.1:1/again/"
    assert await Launch.filter(user=alice).count() == 1
    assert await SaaSOperation.filter(kind=OperationKind.PROVISION).count() == 1
    entry = await AuditLog.get(action="operation.retry")
    assert (entry.target_id, entry.before["status"]) == (operation.code, "failed")

    again = await admin_client.post(f"/admin/operations/{operation.code}/retry")
    assert again.status_code == 302
    assert await AuditLog.filter(action="operation.retry").count() == 1, "refused: succeeded"


async def test_a_cancelled_queued_operation_never_runs(admin_client):
    operation = await _op(OperationKind.BACKUP, OperationStatus.QUEUED)
    await admin_client.post(f"/admin/operations/{operation.code}/cancel")
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.CANCELLED
    assert await operations.run(operation.id, "w1") is None
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.CANCELLED and operation.attempts == 0
    assert await AuditLog.filter(action="operation.cancel", target_id=operation.code).count() == 1


class CancelMidway(HostDriver):
    """Prints the first step, lets staff cancel, then prints the next: the worker must stop."""

    def __init__(self) -> None:
        super().__init__(TEST_SCRIPTS)
        self.calls: list[list[str]] = []
        self.operation: SaaSOperation | None = None

    async def _execute(self, script, args, stdin, output, timeout) -> Outcome:
        self.calls.append(args)
        if "--rollback" in args:
            return Outcome(0)
        await output.add_line("::step first")
        await operations.cancel(self.operation)
        await output.add_line("::step second")
        return Outcome(0)

    async def check(self) -> bool:
        return True


async def test_a_running_operation_cancelled_by_staff_is_stopped_and_rolled_back(
    database, tmp_path
):
    server = await servers.add_server(
        name="cancel-host", host="127.0.0.1", driver="local", root=str(tmp_path)
    )
    driver = CancelMidway()
    servers.set_driver(server, driver)
    operation = await _op(
        OperationKind.BACKUP, OperationStatus.QUEUED, server, params={"variant": "cancel-test"}
    )
    for position, name in enumerate(["first", "second"]):
        await OperationStep.create(operation=operation, name=name, position=position)
    driver.operation = operation
    await operations.run(operation.id, "w1")
    await operation.refresh_from_db()
    assert operation.status == OperationStatus.CANCELLED
    assert driver.calls == [[], ["--rollback"]]
    steps = await operations.steps_of(operation)
    assert [(s.name, s.status, s.message) for s in steps] == [
        ("first", "succeeded", ""),
        ("second", "failed", "cancelled"),
    ]


async def test_the_stuck_view_lists_lost_and_forgotten_operations(admin_client):
    now = operations.now()
    lost = await _op(
        OperationKind.BACKUP, OperationStatus.RUNNING, lease_until=now - timedelta(minutes=1)
    )
    silent = await _op(
        OperationKind.BACKUP,
        OperationStatus.RUNNING,
        lease_until=now + timedelta(hours=1),
        heartbeat_at=now - timedelta(hours=1),
    )
    healthy = await _op(
        OperationKind.BACKUP,
        OperationStatus.RUNNING,
        lease_until=now + timedelta(hours=1),
        heartbeat_at=now,
    )
    waiting = await _op(OperationKind.BACKUP, OperationStatus.QUEUED)
    await SaaSOperation.filter(id=waiting.id).update(updated_at=now - timedelta(hours=1))
    fresh = await _op(OperationKind.BACKUP, OperationStatus.QUEUED)

    assert [op.code for op in await admin_operations.stuck()] == [
        lost.code,
        silent.code,
        waiting.code,
    ]
    page = await text(await admin_client.get("/admin/operations/stuck"))
    assert lost.code in page and healthy.code not in page and fresh.code not in page
