"""The operations monitor: every operation, filtered and paged, its detail, retry, cancel, and
the ones that look stuck."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tortoise.expressions import Q
from tortoise.functions import Count

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.launches import Launch, LaunchStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.services import operations
from managely.services.errors import Conflict
from managely.services.platform import audit

PAGE_SIZE = 50
# A running operation whose heartbeat is this old, or a queued one waiting this long, is stuck.
STUCK_AFTER = timedelta(minutes=15)
KINDS = tuple(k.value for k in OperationKind)
STATUSES = tuple(s.value for s in OperationStatus)
BULK_KINDS = (OperationKind.BULK_UPDATE, OperationKind.BULK_DELETE)


@dataclass(frozen=True)
class OperationFilters:
    kind: str = ""
    status: str = ""
    server: str = ""
    email: str = ""

    @classmethod
    def parse(cls, args) -> OperationFilters:
        """Known values only: anything else means no filter."""
        kind, status = args.get("kind", ""), args.get("status", "")
        return cls(
            kind=kind if kind in KINDS else "",
            status=status if status in STATUSES else "",
            server=args.get("server", "").strip()[:64],
            email=args.get("email", "").strip().lower()[:254],
        )

    def as_args(self) -> dict[str, str]:
        values = {"kind": self.kind, "status": self.status, "server": self.server}
        return {k: v for k, v in {**values, "email": self.email}.items() if v}


@dataclass
class OperationPage:
    operations: list[SaaSOperation]
    next_cursor: str
    counts: dict[str, int] = field(default_factory=dict)


def _filtered(filters: OperationFilters):
    query = SaaSOperation.all()
    if filters.kind:
        query = query.filter(kind=filters.kind)
    if filters.server:
        query = query.filter(server__name=filters.server)
    if filters.email:
        query = query.filter(user__email__icontains=filters.email)
    return query


async def list_operations(filters: OperationFilters, cursor: str = "") -> OperationPage:
    """Newest first, keyset-paginated on id; counts by status under the same filters."""
    base = _filtered(filters)
    grouped = await base.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    counts = {str(status): n for status, n in grouped}
    rows = base.filter(status=filters.status) if filters.status else base
    if cursor.isdigit():
        rows = rows.filter(id__lt=int(cursor))
    found = (
        await rows.order_by("-id").limit(PAGE_SIZE + 1).prefetch_related("server", "user", "launch")
    )
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    return OperationPage(found, str(found[-1].id) if more and found else "", counts)


async def stuck() -> list[SaaSOperation]:
    """Running with an expired lease or a silent worker; queued and never picked up."""
    moment = operations.now()
    cutoff = moment - STUCK_AFTER
    # A bulk parent runs no script (no lease, no heartbeat): its children are what may stick.
    running = SaaSOperation.filter(status=OperationStatus.RUNNING).filter(
        Q(parent_id__isnull=False) | ~Q(kind__in=BULK_KINDS)
    )
    expired = await running.filter(lease_until__lt=moment)
    silent = await running.filter(heartbeat_at__lt=cutoff)
    waiting = await SaaSOperation.filter(status=OperationStatus.QUEUED, updated_at__lt=cutoff)
    found = {op.id: op for op in [*expired, *silent, *waiting]}
    for operation in found.values():
        await operation.fetch_related("server", "user")
    return sorted(found.values(), key=lambda op: op.id)


@dataclass
class OperationDetail:
    operation: SaaSOperation
    steps: list
    logs: list
    children: list[SaaSOperation]


async def detail(code: str) -> OperationDetail:
    operation = await operations.get_operation_for_user(None, code, staff=True)
    await operation.fetch_related("server", "user", "launch", "parent")
    children = (
        await SaaSOperation.filter(parent=operation).order_by("id").prefetch_related("launch")
    )
    if children and operation.status == OperationStatus.RUNNING:
        # Recomputed here too: two children finishing at once may each miss the other.
        await operations.refresh_parent(operation.id)
        await operation.refresh_from_db()
    return OperationDetail(
        operation,
        await operations.steps_of(operation),
        await operations.logs_of(operation, limit=200),
        list(children),
    )


async def retry(actor: User, code: str, *, ip: str = "") -> SaaSOperation:
    """Run a failed or cancelled operation again: the same row, so a retried provisioning
    finishes the system it was making instead of making a second one."""
    operation = await operations.get_operation_for_user(None, code, staff=True)
    if operation.kind in BULK_KINDS and await SaaSOperation.exists(parent=operation):
        raise Conflict(_l("Retry the systems that failed, one by one."))
    if operation.launch_id and await Launch.exists(
        id=operation.launch_id, status=LaunchStatus.DELETED
    ):
        raise Conflict(_l("This system is deleted: there is nothing to retry."))
    before = {"status": str(operation.status), "attempts": operation.attempts}
    async with db.atomic():
        retried = await operations.retry(operation)
        await audit(
            actor,
            "operation.retry",
            operation,
            before=before,
            after={"status": str(retried.status)},
            ip=ip,
        )
    return retried


async def cancel(actor: User, code: str, *, ip: str = "") -> SaaSOperation:
    """Cancel a waiting or running operation; a bulk one cancels its unfinished children."""
    operation = await operations.get_operation_for_user(None, code, staff=True)
    before = {"status": str(operation.status)}
    async with db.atomic():
        active = operation.status in (OperationStatus.QUEUED, OperationStatus.RUNNING)
        children = await SaaSOperation.filter(
            parent=operation, status__in=[OperationStatus.QUEUED, OperationStatus.RUNNING]
        )
        if not active and not children:
            raise Conflict(_l("Only a waiting or running task can be cancelled."))
        if active:  # first, so the children ending do not end it as failed
            await operations.cancel(operation)
        for child in children:
            await operations.cancel(child)
        await audit(
            actor,
            "operation.cancel",
            operation,
            before=before,
            after={"status": "cancelled"},
            ip=ip,
        )
    return await SaaSOperation.get(id=operation.id)
