"""Restore drills: the latest backup of a sample of sites restored into a scratch database,
checked to open (SQLite's integrity check and its users table, or PostgreSQL's), then dropped.

A drill is a ``restore_drill`` operation (``restore_latest_backup.sh --into drill-<code>
--drop-scratch``): its status is the drill's result; a failure alerts staff, and its rollback
drops the scratch database.
"""

from __future__ import annotations

import random

from managely.hosts.base import ScriptRun
from managely.i18n import stored
from managely.models.launches import Backup, BackupStatus, Launch, LaunchStatus
from managely.models.operations import OperationKind, SaaSOperation
from managely.models.servers import Server
from managely.services import alerts, operations
from managely.services.backups import in_flight, now, site_args

DRILL_SAMPLE = 3


def drill_key(launch: Launch) -> str:
    return f"backup-drill:{launch.code}"


async def start_drills(sample: int = DRILL_SAMPLE, rng: random.Random | None = None) -> int:
    """Queue a restore drill of the latest backup of up to ``sample`` random active sites."""
    latest: dict[int, Backup] = {}
    good = Backup.filter(
        status=BackupStatus.SUCCEEDED,
        launch__status=LaunchStatus.ACTIVE,
        server_id__isnull=False,
        path__not="",
    )
    for backup in await good.order_by("launch_id", "-created_at", "-id"):
        latest.setdefault(backup.launch_id, backup)
    picked = (rng or random.SystemRandom()).sample(sorted(latest), min(sample, len(latest)))
    queued = 0
    for launch_id in picked:
        launch = await Launch.get(id=launch_id)
        if await in_flight(launch, now()):
            continue
        backup = latest[launch_id]
        await operations.create(
            OperationKind.RESTORE_DRILL,
            launch=launch,
            server=await Server.get(id=backup.server_id),
            params={"backup": backup.id},
        )
        queued += 1
    return queued


def scratch_name(operation: SaaSOperation) -> str:
    return f"drill-{operation.code}"


async def _drill_args(operation: SaaSOperation) -> list[str]:
    backup = await Backup.get(id=operation.params["backup"])
    return [
        *await site_args(operation),
        *("--backup", backup.path, "--into", scratch_name(operation), "--drop-scratch"),
    ]


async def _drilled(operation: SaaSOperation, run: ScriptRun) -> None:
    backup = await Backup.get(id=operation.params["backup"]).prefetch_related("launch")
    if run.results.get("sha256") != backup.sha256:
        await _drill_alert(backup, "the archive's checksum differs from the one recorded")
        return
    await alerts.resolve(drill_key(backup.launch))


async def _drill_failed(operation: SaaSOperation) -> None:
    backup = await Backup.get(id=operation.params["backup"]).prefetch_related("launch")
    await _drill_alert(backup, operation.error_detail)


async def _drill_alert(backup: Backup, reason: str) -> None:
    site = backup.launch.site_name
    await alerts.raise_alert(
        "backup",
        drill_key(backup.launch),
        stored("Restore drill of %(site)s failed", site=site),
        stored(
            "The backup %(code)s of %(site)s could not be restored: %(reason)s",
            code=backup.code,
            site=site,
            reason=reason,
        ),
    )


operations.register(
    OperationKind.RESTORE_DRILL,
    operations.OperationSpec(
        script="restore_latest_backup.sh",
        steps=["find_backup", "verify_checksum", "restore_database", "check_database"]
        + ["drop_scratch"],
        args=_drill_args,
        on_success=_drilled,
        on_failure=_drill_failed,
        timeout_s=1800,
    ),
)
