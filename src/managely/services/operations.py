"""Operations: typed jobs with declared steps that run a script on a server, live.

A domain service creates the operation inside its own transaction (``create``); the actor
``operations.run`` then claims it with a conditional update, runs the kind's script through
the server's host driver, writes every step, progress and log line to the database *before*
publishing it, and ends it as succeeded or failed. A failure keeps a message the customer can
read, runs the script's ``--rollback`` and leaves the operation for staff to retry. Leases
that expire (a worker killed half-way) are reclaimed by the clock; scripts are idempotent, so
running one again is safe.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from managely import db
from managely.hosts.base import ScriptEvent, ScriptRun, UnsafeArgument
from managely.i18n import lazy_gettext as _l
from managely.models.operations import (
    LogLevel,
    OperationKind,
    OperationLog,
    OperationStatus,
    OperationStep,
    SaaSOperation,
    StepStatus,
)
from managely.queue import enqueue
from managely.services import bus
from managely.services.errors import Conflict, NotFound

log = logging.getLogger(__name__)
LEASE_MARGIN = timedelta(seconds=60)
HEARTBEAT_EVERY = timedelta(seconds=5)
# A queued operation still waiting this long may have lost its message (see resend_queued).
RESEND_QUEUED_AFTER = timedelta(minutes=2)
GENERIC_FAILURE = _l(
    "We could not finish this task. Our team has been told, and it can be retried."
)
# What maintenance mode holds back: new systems (and the standbys trials claim) wait queued.
PAUSED_IN_MAINTENANCE = frozenset({OperationKind.PROVISION})
FINAL_STATUSES = (OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.CANCELLED)


class Cancelled(Exception):
    """Staff cancelled the operation while it ran: the worker stops the script."""


@dataclass
class OperationSpec:
    """How one kind of operation runs: its script, declared steps, arguments and outcomes."""

    script: str
    steps: list[str]
    args: Callable[[SaaSOperation], Awaitable[list[str]]]
    secrets: Callable[[SaaSOperation], Awaitable[dict[str, str]]] | None = None
    on_success: Callable[[SaaSOperation, ScriptRun], Awaitable[None]] | None = None
    on_failure: Callable[[SaaSOperation], Awaitable[None]] | None = None
    rollback: bool = True
    failure_message: object = field(default_factory=lambda: GENERIC_FAILURE)
    timeout_s: int = 600
    extra: dict = field(default_factory=dict)


# Keyed by kind, or "kind:variant" for a kind that runs different scripts (a server's bootstrap
# and its per-package template builds are both bootstrap_server operations).
SPECS: dict[str, OperationSpec] = {}


def register(kind: OperationKind, spec: OperationSpec, variant: str = "") -> None:
    SPECS[f"{kind}:{variant}" if variant else str(kind)] = spec


def spec_for(operation: SaaSOperation) -> OperationSpec:
    variant = (operation.params or {}).get("variant", "")
    return SPECS[f"{operation.kind}:{variant}" if variant else str(operation.kind)]


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def now() -> datetime:
    return datetime.now(UTC)


async def create(
    kind: OperationKind,
    *,
    user=None,
    launch=None,
    server=None,
    params: dict | None = None,
    parent: SaaSOperation | None = None,
) -> SaaSOperation:
    """Write a queued operation with its declared steps; the actor is sent after commit."""
    spec = SPECS[f"{kind}:{params['variant']}" if params and params.get("variant") else str(kind)]
    async with db.atomic():
        operation = await SaaSOperation.create(
            kind=kind,
            user=user,
            launch=launch,
            server=server,
            params=params or {},
            steps=list(spec.steps),
            step_timeout_s=spec.timeout_s,
            parent=parent,
        )
        await OperationStep.bulk_create(
            [
                OperationStep(operation=operation, name=name, position=i)
                for i, name in enumerate(spec.steps)
            ]
        )
        enqueue("operations.run", operation.id)
    return operation


async def claim(operation_id: int, owner: str) -> SaaSOperation | None:
    """queued → running, only if nobody else has it; None when another worker won."""
    operation = await SaaSOperation.get_or_none(id=operation_id)
    if operation is None:
        return None
    lease = now() + timedelta(seconds=operation.step_timeout_s) + LEASE_MARGIN
    changed = await SaaSOperation.filter(id=operation_id, status=OperationStatus.QUEUED).update(
        status=OperationStatus.RUNNING,
        lease_owner=owner,
        lease_until=lease,
        heartbeat_at=now(),
        started_at=now(),
        attempts=operation.attempts + 1,
    )
    if changed != 1:
        return None
    return await SaaSOperation.get(id=operation_id)


async def publish(operation: SaaSOperation) -> None:
    try:
        await bus.publish(
            bus.channel_for("operation", operation.code), {"status": operation.status}
        )
    except Exception:  # noqa: BLE001 - a live update must never break the operation
        log.exception("could not publish operation %s", operation.code)


class _Progress:
    """Turns script events into rows: steps, progress, results and numbered log lines."""

    def __init__(self, operation: SaaSOperation) -> None:
        self.operation = operation
        self.last_heartbeat = now()

    async def next_seq(self) -> int:
        last = await OperationLog.filter(operation=self.operation).order_by("-seq").first()
        return (last.seq if last else 0) + 1

    async def log(self, line: str, level: LogLevel = LogLevel.INFO) -> None:
        await OperationLog.create(
            operation=self.operation, seq=await self.next_seq(), level=level, line=line[:2000]
        )
        # A kind may keep its own copy of the log (an add-on's installation log).
        on_log = spec_for(self.operation).extra.get("on_log")
        if on_log is not None:
            await on_log(self.operation, line[:2000])

    async def on_event(self, event: ScriptEvent) -> None:
        op = self.operation
        if event.kind == "step":
            await self._start_step(event.text)
        elif event.kind == "progress":
            value = max(0, min(100, int(event.text))) if event.text.isdigit() else op.progress
            op.progress = max(op.progress, min(value, 99))
            await op.save(update_fields=["progress", "updated_at"])
        elif event.kind == "error":
            await self.log(event.text, LogLevel.ERROR)
        elif event.kind == "log":
            await self.log(event.text)
        if now() - self.last_heartbeat > HEARTBEAT_EVERY:
            await self.heartbeat()
        if event.kind in ("step", "progress", "error"):
            await publish(op)

    async def heartbeat(self) -> None:
        self.last_heartbeat = now()
        lease = now() + timedelta(seconds=self.operation.step_timeout_s) + LEASE_MARGIN
        changed = await SaaSOperation.filter(
            id=self.operation.id, status=OperationStatus.RUNNING
        ).update(heartbeat_at=now(), lease_until=lease)
        if not changed:  # no longer running: staff cancelled it
            raise Cancelled()

    async def _start_step(self, name: str) -> None:
        op = self.operation
        await OperationStep.filter(operation=op, status=StepStatus.RUNNING).update(
            status=StepStatus.SUCCEEDED, finished_at=now()
        )
        if name not in op.steps:  # an undeclared step is still shown, after the others
            await OperationStep.get_or_create(
                operation=op, name=name, defaults={"position": len(op.steps)}
            )
        await OperationStep.filter(operation=op, name=name).update(
            status=StepStatus.RUNNING, started_at=now(), finished_at=None, message=""
        )
        op.current_step = name
        await op.save(update_fields=["current_step", "updated_at"])
        # A fresh step restarts its timeout: extend the lease with it.
        await self.heartbeat()


async def _finish(operation: SaaSOperation, status: OperationStatus, **fields) -> None:
    operation.status = status
    operation.finished_at = now()
    operation.lease_owner = None
    operation.lease_until = None
    for name, value in fields.items():
        setattr(operation, name, value)
    await operation.save()


async def refresh_parent(parent_id: int) -> SaaSOperation | None:
    """A bulk operation follows its children: progress = finished / total; it ends when they
    all have (failed if any failed). Recomputed from the rows, so any caller may run it."""
    statuses = await SaaSOperation.filter(parent_id=parent_id).values_list("status", flat=True)
    finished = [s for s in statuses if s in FINAL_STATUSES]
    progress = 100 * len(finished) // len(statuses) if statuses else 100
    # Conditional writes: two children ending at once each refresh, and the one that read
    # fewer finished children must not overwrite the other's later count.
    await SaaSOperation.filter(id=parent_id, progress__lt=progress).update(
        progress=progress, result={"total": len(statuses), "finished": len(finished)}
    )
    if len(finished) == len(statuses):
        failed = sum(s != OperationStatus.SUCCEEDED for s in finished)
        await SaaSOperation.filter(id=parent_id, status=OperationStatus.RUNNING).update(
            status=OperationStatus.FAILED if failed else OperationStatus.SUCCEEDED,
            finished_at=now(),
            error_detail=f"{failed} of {len(statuses)} did not succeed" if failed else "",
        )
    parent = await SaaSOperation.get_or_none(id=parent_id)
    if parent is not None:
        await publish(parent)
    return parent


async def _still_running(operation: SaaSOperation) -> bool:
    return await SaaSOperation.filter(id=operation.id, status=OperationStatus.RUNNING).exists()


async def _paused(operation_id: int) -> bool:
    """Launches wait while the platform is in maintenance; the clock resends them later."""
    from managely.services.platform import maintenance_mode  # platform imports email

    kind = await SaaSOperation.filter(id=operation_id).values_list("kind", flat=True)
    return bool(kind) and kind[0] in PAUSED_IN_MAINTENANCE and await maintenance_mode()


async def _fail(operation: SaaSOperation, spec: OperationSpec, detail: str, step: str) -> None:
    await OperationStep.filter(operation=operation, status=StepStatus.RUNNING).update(
        status=StepStatus.FAILED, finished_at=now(), message=detail[:500]
    )
    # One transaction, as on success: nobody sees the operation failed while its rows (a
    # launch still provisioning, a paid add-on not yet refunded) say otherwise.
    async with db.atomic():
        await _finish(
            operation,
            OperationStatus.FAILED,
            error_message=str(spec.failure_message),
            error_detail=f"{step}: {detail}" if step else detail,
        )
        if spec.on_failure is not None:
            await spec.on_failure(operation)
    await publish(operation)
    if operation.parent_id:
        await refresh_parent(operation.parent_id)


def run_timeout(operation: SaaSOperation) -> int:
    """The whole script's limit: every declared step may use its own timeout, no more."""
    return operation.step_timeout_s * max(1, len(operation.steps))


async def run(operation_id: int, owner: str | None = None) -> SaaSOperation | None:
    """Claim and run one operation to its end (the body of the ``operations.run`` actor)."""
    from managely.services.servers import driver_for_server

    if await _paused(operation_id):
        return None
    operation = await claim(operation_id, owner or worker_identity())
    if operation is None:
        return None
    spec = spec_for(operation)
    progress = _Progress(operation)
    await publish(operation)
    await operation.fetch_related("server")
    server = operation.server
    if server is None:
        await _fail(operation, spec, "no server assigned", "")
        return operation
    try:
        args = await spec.args(operation)
        secrets = await spec.secrets(operation) if spec.secrets else {}
        driver = driver_for_server(server)
        result = await driver.run(
            spec.script,
            args,
            secrets=secrets,
            timeout=run_timeout(operation),
            step_timeout=operation.step_timeout_s,
            on_event=progress.on_event,
        )
    except (UnsafeArgument, OSError) as exc:
        await _fail(operation, spec, f"{type(exc).__name__}: {exc}", operation.current_step)
        return operation
    except Cancelled:
        await _cancelled_while_running(operation, spec, driver, args, secrets, progress)
        return operation
    if not await _still_running(operation):  # cancelled after the script's last event
        await _cancelled_while_running(operation, spec, driver, args, secrets, progress)
        return operation
    if result.exit_code == 0:
        await OperationStep.filter(operation=operation, status__in=[StepStatus.RUNNING]).update(
            status=StepStatus.SUCCEEDED, finished_at=now()
        )
        await OperationStep.filter(operation=operation, status=StepStatus.PENDING).update(
            status=StepStatus.SKIPPED
        )
        async with db.atomic():
            await _finish(
                operation,
                OperationStatus.SUCCEEDED,
                progress=100,
                result=result.results,
                error_message="",
                error_detail="",
            )
            if spec.on_success is not None:
                await spec.on_success(operation, result)
        await publish(operation)
        if operation.parent_id:  # after the commit, so it counts this one
            await refresh_parent(operation.parent_id)
        return operation
    detail = result.error or ("timed out" if result.timed_out else f"exit code {result.exit_code}")
    failed_step = result.last_step or operation.current_step
    if spec.rollback:
        await progress.log(
            f"rolling back after failure in {failed_step or 'start'}", LogLevel.WARNING
        )
        undo = await driver.run(
            spec.script, [*args, "--rollback"], secrets=secrets, timeout=operation.step_timeout_s
        )
        if undo.exit_code != 0:
            detail += f"; rollback failed: {undo.error or undo.exit_code}"
    await _fail(operation, spec, detail, failed_step)
    return operation


async def retry(operation: SaaSOperation) -> SaaSOperation:
    """Staff: send a failed or cancelled operation round again (its script is idempotent)."""
    changed = await SaaSOperation.filter(
        id=operation.id, status__in=[OperationStatus.FAILED, OperationStatus.CANCELLED]
    ).update(
        status=OperationStatus.QUEUED,
        error_message="",
        error_detail="",
        finished_at=None,
        progress=0,
        current_step="",
        updated_at=now(),  # queued since (resend_queued)
    )
    if changed != 1:
        raise Conflict(_l("Only a failed or cancelled task can be retried."))
    await OperationStep.filter(operation=operation).update(
        status=StepStatus.PENDING, started_at=None, finished_at=None, message=""
    )
    await reset_launch_for_retry(operation)
    enqueue("operations.run", operation.id)
    return await SaaSOperation.get(id=operation.id)


async def reset_launch_for_retry(operation: SaaSOperation) -> None:
    spec = spec_for(operation)
    hook = spec.extra.get("on_retry")
    if hook is not None:
        await hook(operation)


async def cancel(operation: SaaSOperation) -> None:
    """Cancel a queued operation (it never starts) or a running one: its worker sees the
    status at its next step or heartbeat, stops the script and rolls it back."""
    changed = await SaaSOperation.filter(
        id=operation.id, status__in=[OperationStatus.QUEUED, OperationStatus.RUNNING]
    ).update(
        status=OperationStatus.CANCELLED, finished_at=now(), lease_owner=None, lease_until=None
    )
    if changed != 1:
        raise Conflict(_l("Only a waiting or running task can be cancelled."))
    await publish(await SaaSOperation.get(id=operation.id))
    if operation.parent_id:
        await refresh_parent(operation.parent_id)


async def _cancelled_while_running(operation, spec, driver, args, secrets, progress) -> None:
    """The worker's side of a cancel: undo the partial work, then the kind's failure hook puts
    its rows back in a retryable state. The status stays cancelled."""
    await progress.log("cancelled by staff", LogLevel.WARNING)
    if spec.rollback:
        undo = await driver.run(
            spec.script, [*args, "--rollback"], secrets=secrets, timeout=operation.step_timeout_s
        )
        if undo.exit_code != 0:
            await progress.log(f"rollback failed: {undo.error or undo.exit_code}", LogLevel.ERROR)
    await OperationStep.filter(operation=operation, status=StepStatus.RUNNING).update(
        status=StepStatus.FAILED, finished_at=now(), message="cancelled"
    )
    if spec.on_failure is not None:
        await spec.on_failure(operation)
    await operation.refresh_from_db()
    if operation.parent_id:
        await refresh_parent(operation.parent_id)
    await publish(operation)


async def reclaim_expired() -> dict[str, int]:
    """The clock's sweep: a running operation whose lease ran out had its worker die.

    It goes back to the queue while it has attempts left, else it fails cleanly (with its
    rollback), so no operation stays stuck and no half-made site is left behind.
    """
    counts = {"requeued": 0, "failed": 0}
    expired = await SaaSOperation.filter(status=OperationStatus.RUNNING, lease_until__lt=now())
    for operation in expired:
        if operation.attempts < operation.max_attempts:
            changed = await SaaSOperation.filter(
                id=operation.id, status=OperationStatus.RUNNING, lease_until__lt=now()
            ).update(
                status=OperationStatus.QUEUED,
                lease_owner=None,
                lease_until=None,
                updated_at=now(),  # queued since (resend_queued)
            )
            if changed:
                await OperationLog.create(
                    operation=operation,
                    seq=await _Progress(operation).next_seq(),
                    level=LogLevel.WARNING,
                    line="worker lost; running again from the start",
                )
                enqueue("operations.run", operation.id)
                counts["requeued"] += 1
            continue
        changed = await SaaSOperation.filter(
            id=operation.id, status=OperationStatus.RUNNING, lease_until__lt=now()
        ).update(lease_until=now() + LEASE_MARGIN)  # ours now, while we roll back
        if changed:
            enqueue("operations.abandon", operation.id)
            counts["failed"] += 1
    return counts


async def resend_queued(older_than: timedelta = RESEND_QUEUED_AFTER) -> int:
    """The clock's other sweep: send ``operations.run`` again for every operation queued
    longer than ``older_than``; returns how many were sent.

    A queued operation's message can be lost: Redis restarted without persistence, or was
    unreachable when the message was sent after the commit. A duplicate is harmless, since
    only the delivery whose conditional ``claim`` wins runs it. Sending touches ``updated_at``
    (conditionally), so each operation is sent at most once per ``older_than`` by any number of
    clocks, however long the queue is.
    """
    cutoff = now() - older_than
    waiting = await SaaSOperation.filter(
        status=OperationStatus.QUEUED, updated_at__lte=cutoff
    ).values_list("id", flat=True)
    sent = 0
    for operation_id in waiting:
        changed = await SaaSOperation.filter(
            id=operation_id, status=OperationStatus.QUEUED, updated_at__lte=cutoff
        ).update(updated_at=now())
        if changed:
            enqueue("operations.run", operation_id)
            sent += 1
    return sent


async def abandon(operation_id: int) -> None:
    """An operation out of attempts: roll its script back and fail it with a message."""
    from managely.services.servers import driver_for_server

    operation = await SaaSOperation.get_or_none(id=operation_id).prefetch_related("server")
    if operation is None or operation.status != OperationStatus.RUNNING:
        return
    spec = spec_for(operation)
    detail = f"worker lost (attempts: {operation.attempts})"
    if spec.rollback and operation.server is not None:
        try:
            args = await spec.args(operation)
            undo = await driver_for_server(operation.server).run(
                spec.script, [*args, "--rollback"], timeout=operation.step_timeout_s
            )
            if undo.exit_code != 0:
                detail += f"; rollback failed: {undo.error or undo.exit_code}"
        except (UnsafeArgument, OSError) as exc:
            detail += f"; rollback failed: {exc}"
    await _fail(operation, spec, detail, operation.current_step)


async def get_operation_for_user(user, code: str, *, staff: bool = False) -> SaaSOperation:
    """The access helper for operations: the owner sees theirs, staff see all, else 404."""
    filters = {"code": code} if staff else {"code": code, "user": user}
    operation = await SaaSOperation.get_or_none(**filters)
    if operation is None:
        raise NotFound(_l("Not found."))
    return operation


async def get_operation(operation_id: int) -> SaaSOperation:
    """An operation its reader was already let see, read again (the live widget, each change)."""
    return await SaaSOperation.get(id=operation_id)


async def steps_of(operation: SaaSOperation) -> list[OperationStep]:
    return await OperationStep.filter(operation=operation).order_by("position")


async def logs_of(operation: SaaSOperation, after: int = 0, limit: int = 20) -> list[OperationLog]:
    rows = (
        await OperationLog.filter(operation=operation, seq__gt=after).order_by("-seq").limit(limit)
    )
    return list(reversed(rows))


async def queued_for_server(server) -> list[SaaSOperation]:
    return await SaaSOperation.filter(server=server, status=OperationStatus.QUEUED).order_by("id")


async def recover_after_restart() -> int:
    """Single-process mode: expire every lease at once and let the reclaim sweep act."""
    await SaaSOperation.filter(status=OperationStatus.RUNNING).update(
        lease_until=now() - timedelta(seconds=1)
    )
    counts = await reclaim_expired()
    return counts["requeued"] + counts["failed"]
