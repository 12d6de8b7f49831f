"""Work on an existing site, each as an operation: delete it, back it up.

The customer-facing screens (typed confirmation, backup list) arrive with the panel; these are
the operations they start, usable from services, the CLI and tests today.
"""

from __future__ import annotations

from datetime import UTC, datetime

from managely import db
from managely.hosts.base import ScriptRun
from managely.i18n import lazy_gettext as _l
from managely.models.launches import Backup, BackupKind, BackupStatus, Launch, LaunchStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.services import operations, servers
from managely.services.errors import Conflict


async def _busy(launch: Launch) -> bool:
    return await SaaSOperation.exists(
        launch=launch, status__in=[OperationStatus.QUEUED, OperationStatus.RUNNING]
    )


async def delete_system(launch: Launch, user=None) -> SaaSOperation:
    """Queue the deletion of a site: its database, files and backups on the server."""
    async with db.atomic():
        if await _busy(launch):
            raise Conflict(_l("Another task is running on this system. Try again when it ends."))
        changed = await Launch.filter(
            id=launch.id,
            status__in=[LaunchStatus.ACTIVE, LaunchStatus.FAILED, LaunchStatus.SUSPENDED],
        ).update(status=LaunchStatus.DELETING)
        if not changed:
            raise Conflict(_l("This system cannot be deleted now."))
        await launch.fetch_related("server")
        return await operations.create(
            OperationKind.DELETE, user=user, launch=launch, server=launch.server
        )


async def _delete_args(operation: SaaSOperation) -> list[str]:
    launch = await Launch.get(id=operation.launch_id)
    return ["--root", operation.server.sites_root, "--site", launch.site_name]


async def _deleted(operation: SaaSOperation, run: ScriptRun) -> None:
    launch = await Launch.get(id=operation.launch_id)
    # The name is free again: the row keeps its history under a name no customer can type.
    launch.subdomain = f"deleted.{launch.code}.{launch.subdomain}"[:63]
    launch.status, launch.deleted_at = LaunchStatus.DELETED, datetime.now(UTC)
    await launch.save()
    await servers.release(launch.server_id)


async def _delete_failed(operation: SaaSOperation) -> None:
    await Launch.filter(id=operation.launch_id, status=LaunchStatus.DELETING).update(
        status=LaunchStatus.FAILED
    )


operations.register(
    OperationKind.DELETE,
    operations.OperationSpec(
        script="delete_multiple_sites.sh",
        steps=["check_sites", "delete_sites"],
        args=_delete_args,
        on_success=_deleted,
        on_failure=_delete_failed,
        rollback=False,
        timeout_s=300,
    ),
)


async def back_up(launch: Launch, kind: BackupKind = BackupKind.MANUAL, user=None) -> Backup:
    """Queue a backup of a site; the ``Backup`` row records its archive and checksum."""
    async with db.atomic():
        await launch.fetch_related("server")
        backup = await Backup.create(launch=launch, server=launch.server, kind=kind)
        await operations.create(
            OperationKind.BACKUP,
            user=user,
            launch=launch,
            server=launch.server,
            params={"backup": backup.id},
        )
    return backup


async def _backup_args(operation: SaaSOperation) -> list[str]:
    launch = await Launch.get(id=operation.launch_id)
    return ["--root", operation.server.sites_root, "--site", launch.site_name]


async def _backed_up(operation: SaaSOperation, run: ScriptRun) -> None:
    await Backup.filter(id=operation.params["backup"]).update(
        status=BackupStatus.SUCCEEDED,
        path=run.results.get("path", ""),
        size_bytes=int(run.results.get("size_bytes", "0") or 0),
        sha256=run.results.get("sha256", ""),
        finished_at=datetime.now(UTC),
    )


async def _backup_failed(operation: SaaSOperation) -> None:
    await Backup.filter(id=operation.params["backup"]).update(
        status=BackupStatus.FAILED,
        error=operation.error_detail[:2000],
        finished_at=datetime.now(UTC),
    )


operations.register(
    OperationKind.BACKUP,
    operations.OperationSpec(
        script="backup_site.sh",
        steps=["check_site", "dump_database", "archive", "checksum"],
        args=_backup_args,
        on_success=_backed_up,
        on_failure=_backup_failed,
        timeout_s=1800,
    ),
)
