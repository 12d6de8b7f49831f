"""Backups: made on each package's schedule, copied to a second server, kept by retention,
and proven restorable by drills.

A backup is one operation on the site's server (``backup_site.sh``: database + site files in
one archive, its sha256 beside it), then, when the platform has a second server, a replica
operation (``sync_backup_to_another_server.sh``) that copies it there and checks the sha256 on
arrival. Only then is the ``Backup`` succeeded; a failure at any step marks it failed with its
reason and alerts staff. Retention deletes exactly the archives of the ``Backup`` rows it
chose, by their file names, per site, so a site whose name starts with another's is never
touched. Drills that prove a backup restores are in ``services.backup_drills``.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

from managely import db
from managely.hosts.base import ScriptRun
from managely.i18n import stored
from managely.models.launches import Backup, BackupKind, BackupStatus, Launch, LaunchStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.servers import HostDriver, Server, ServerStatus
from managely.services import alerts, operations, platform
from managely.services.servers import driver_for_server

log = logging.getLogger(__name__)

# A platform setting naming the server every replica goes to (a storage box); without it, the
# replica goes to another active server.
TARGET_SETTING = "backup_target_server"
SCHEDULE = re.compile(r"([1-9][0-9]{0,2})([hd])")
NAMED_SCHEDULES = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
}
# A failed scheduled backup is tried again after this long, not at every clock tick.
RETRY_FAILED_AFTER = timedelta(hours=1)
# A backup still running after this long is stuck; it no longer blocks the next one.
IN_FLIGHT_FOR = timedelta(hours=6)
CLEANUP = "backup_cleanup.sh"


def now() -> datetime:
    return datetime.now(UTC)


def parse_schedule(value: str) -> timedelta | None:
    """A package's schedule (daily, hourly, weekly, 6h, 2d…) as an interval; None for off."""
    value = (value or "").strip().lower()
    if value in NAMED_SCHEDULES:
        return NAMED_SCHEDULES[value]
    match = SCHEDULE.fullmatch(value)
    if match is None:
        return None
    count, unit = int(match[1]), match[2]
    return timedelta(hours=count) if unit == "h" else timedelta(days=count)


# --- making a backup --------------------------------------------------------------------------


async def start_backup(launch: Launch, kind: BackupKind = BackupKind.MANUAL, user=None) -> Backup:
    """Queue a backup of a site; the ``Backup`` row records its archive, checksum and copy."""
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


async def site_args(operation: SaaSOperation) -> list[str]:
    launch = await Launch.get(id=operation.launch_id)
    return ["--root", operation.server.sites_root, "--site", launch.site_name]


async def _archived(operation: SaaSOperation, run: ScriptRun) -> None:
    backup = await Backup.get(id=operation.params["backup"]).prefetch_related("launch", "server")
    backup.path = run.results.get("path", "")
    backup.size_bytes = int(run.results.get("size_bytes", "0") or 0)
    backup.sha256 = run.results.get("sha256", "")
    target = await replica_target(backup.server) if backup.server else None
    if target is None:
        # A platform with one server has nowhere else to copy to.
        backup.status, backup.finished_at = BackupStatus.SUCCEEDED, now()
        await backup.save()
        await alerts.resolve(alert_key(backup.launch))
        return
    await backup.save()
    await operations.create(
        OperationKind.BACKUP,
        launch=backup.launch,
        server=backup.server,
        params={"variant": "replica", "backup": backup.id, "dest": target.id},
        parent=operation,
    )


async def _archive_failed(operation: SaaSOperation) -> None:
    await fail_backup(operation.params["backup"], operation.error_detail)


def alert_key(launch: Launch) -> str:
    return f"backup:{launch.code}"


async def fail_backup(backup_id: int, reason: str) -> None:
    """Mark a backup failed with its reason and tell staff (once while the alert is open)."""
    backup = await Backup.get(id=backup_id).prefetch_related("launch")
    backup.status, backup.error, backup.finished_at = BackupStatus.FAILED, reason[:2000], now()
    await backup.save()
    site = backup.launch.site_name
    await alerts.raise_alert(
        "backup",
        alert_key(backup.launch),
        stored("Backup of %(site)s failed", site=site),
        stored(
            "The backup %(code)s of %(site)s failed: %(reason)s",
            code=backup.code,
            site=site,
            reason=reason,
        ),
    )


operations.register(
    OperationKind.BACKUP,
    operations.OperationSpec(
        script="backup_site.sh",
        steps=["check_site", "dump_database", "archive", "checksum"],
        args=site_args,
        on_success=_archived,
        on_failure=_archive_failed,
        timeout_s=1800,
    ),
)


# --- the copy on a second server --------------------------------------------------------------


async def replica_target(source: Server) -> Server | None:
    """Where a backup made on ``source`` is copied: the configured target, else another active
    server reachable the same way (another region first)."""
    name = await platform.get_setting(TARGET_SETTING)
    if name:
        target = await Server.get_or_none(name=name)
        return None if target is None or target.id == source.id else target
    candidates = await Server.filter(status=ServerStatus.ACTIVE, driver=source.driver).exclude(
        id=source.id
    )
    candidates.sort(key=lambda server: (server.region == source.region, server.id))
    return candidates[0] if candidates else None


def replica_dir(server: Server, site: str) -> str:
    return f"{server.sites_root}/replicas/{site}"


async def _replica_args(operation: SaaSOperation) -> list[str]:
    backup = await Backup.get(id=operation.params["backup"]).prefetch_related("launch")
    dest = await Server.get(id=operation.params["dest"])
    site = backup.launch.site_name
    args = ["--root", operation.server.sites_root, "--site", site, "--backup", backup.path]
    args += ["--dest", replica_dir(dest, site)]
    if dest.driver == HostDriver.SSH:
        args += ["--dest-host", f"{dest.ssh_user}@{dest.host}", "--dest-port", str(dest.port)]
    return args


async def _replicated(operation: SaaSOperation, run: ScriptRun) -> None:
    backup = await Backup.get(id=operation.params["backup"]).prefetch_related("launch")
    dest = await Server.get(id=operation.params["dest"])
    arrived = run.results.get("sha256", "")
    if arrived != backup.sha256:
        await fail_backup(
            backup.id,
            f"replica on {dest.name}: checksum {arrived or 'missing'} != {backup.sha256}",
        )
        return
    backup.replica_server, backup.replica_verified_at = dest, now()
    backup.replica_path = f"{replica_dir(dest, backup.launch.site_name)}/{_name(backup.path)}"
    backup.status, backup.finished_at, backup.error = BackupStatus.SUCCEEDED, now(), ""
    await backup.save()
    await alerts.resolve(alert_key(backup.launch))


async def _replica_failed(operation: SaaSOperation) -> None:
    dest = await Server.get_or_none(id=operation.params["dest"])
    where = dest.name if dest else "?"
    await fail_backup(operation.params["backup"], f"replica on {where}: {operation.error_detail}")


operations.register(
    OperationKind.BACKUP,
    operations.OperationSpec(
        script="sync_backup_to_another_server.sh",
        steps=["copy", "verify_checksum"],
        args=_replica_args,
        on_success=_replicated,
        on_failure=_replica_failed,
        timeout_s=3600,
    ),
    variant="replica",
)


# --- the schedule -----------------------------------------------------------------------------


async def in_flight(launch: Launch, moment: datetime) -> bool:
    running = await Backup.exists(
        launch=launch, status=BackupStatus.RUNNING, created_at__gt=moment - IN_FLIGHT_FOR
    )
    return running or await SaaSOperation.exists(
        launch=launch, status__in=[OperationStatus.QUEUED, OperationStatus.RUNNING]
    )


async def is_due(launch: Launch, interval: timedelta, moment: datetime) -> bool:
    """Due when the last succeeded scheduled backup is ``interval`` old (or there is none),
    the last attempt did not fail just now, and nothing else runs on the site."""
    scheduled = Backup.filter(launch=launch, kind=BackupKind.SCHEDULED)
    done = await scheduled.filter(status=BackupStatus.SUCCEEDED).order_by("-created_at").first()
    if done is not None and done.created_at > moment - interval:
        return False
    last = await scheduled.order_by("-created_at").first()
    failed_just_now = last is not None and last.status == BackupStatus.FAILED
    if failed_just_now and last.created_at > moment - RETRY_FAILED_AFTER:
        return False
    return not await in_flight(launch, moment)


async def schedule_due(moment: datetime | None = None) -> dict[str, int]:
    """Queue a scheduled backup of every active site whose package says one is due."""
    moment = moment or now()
    counts = {"queued": 0, "not_due": 0}
    sites = Launch.filter(status=LaunchStatus.ACTIVE, is_standby=False, server_id__isnull=False)
    for launch in await sites.prefetch_related("package").order_by("id"):
        interval = parse_schedule(launch.package.backup_schedule)
        if interval is None or not await is_due(launch, interval, moment):
            counts["not_due"] += 1
            continue
        await start_backup(launch, BackupKind.SCHEDULED)
        counts["queued"] += 1
    return counts


# --- retention --------------------------------------------------------------------------------

PERIODS: tuple[tuple[str, Callable[[datetime], Hashable]], ...] = (
    ("daily", lambda at: at.date()),
    ("weekly", lambda at: at.isocalendar()[:2]),
    ("monthly", lambda at: (at.year, at.month)),
)


def retained(backups: Sequence[Backup], keep: dict[str, int]) -> set[int]:
    """Ids kept: the newest backup, and the newest of each of the last ``keep[period]`` days,
    weeks and months that have one (``backups`` newest first)."""
    kept = {backups[0].id} if backups else set()
    for period, key_of in PERIODS:
        seen: set[Hashable] = set()
        for backup in backups:
            key = key_of(backup.created_at)
            if key not in seen and len(seen) < keep[period]:
                seen.add(key)
                kept.add(backup.id)
    return kept


def _name(path: str) -> str:
    return PurePosixPath(path).name


def owns(site: str, path: str) -> bool:
    """``path`` is one of ``site``'s archives by its folder and name (as the scripts name them),
    so a damaged row can never point retention at another site's files."""
    archive = PurePosixPath(path)
    name = re.compile(rf"{re.escape(site)}-[0-9]{{8}}T[0-9]{{6}}Z(-[a-z0-9_]+)*\.tar\.gz")
    return archive.parent.name == site and name.fullmatch(archive.name) is not None


async def expired(launch: Launch) -> list[Backup]:
    """The scheduled backups of ``launch`` its package's retention no longer keeps, and failed
    ones older than its newest good backup (their archive, if any, is of no use)."""
    package = launch.package
    keep = {
        "daily": package.backup_keep_daily,
        "weekly": package.backup_keep_weekly,
        "monthly": package.backup_keep_monthly,
    }
    scheduled = Backup.filter(launch=launch, kind=BackupKind.SCHEDULED)
    good = await scheduled.filter(status=BackupStatus.SUCCEEDED).order_by("-created_at", "-id")
    kept = retained(good, keep)
    doomed = [backup for backup in good if backup.id not in kept]
    if good:
        doomed += await scheduled.filter(
            status=BackupStatus.FAILED, created_at__lt=good[0].created_at
        )
    return doomed


async def _delete_files(server: Server, site: str, names: list[str], replicas: bool) -> bool:
    args = ["--root", server.sites_root, "--site", site]
    for name in names:
        args += ["--delete", name]
    run = await driver_for_server(server).run(
        CLEANUP, [*args, "--replicas"] if replicas else args, timeout=300
    )
    if not run.ok:
        log.warning("backups: %s on %s failed: %s", CLEANUP, server.name, run.error)
    return run.ok


async def prune_site(launch: Launch) -> int:
    """Apply retention to one site: replicas first, then archives, then rows; a server that
    fails keeps its rows for the next run. Returns how many backups went."""
    site = launch.site_name
    doomed = []
    for backup in await expired(launch):
        if not backup.path or owns(site, backup.path):
            doomed.append(backup)
        else:
            log.warning("backups: %s is not an archive of %s; kept", backup.path, site)
    gone: list[int] = []
    by_server: dict[int | None, list[Backup]] = defaultdict(list)
    for backup in doomed:
        by_server[backup.server_id].append(backup)
    for server_id, group in by_server.items():
        ready = await _drop_replicas(site, group)
        names = [_name(b.path) for b in ready if b.path]
        # A server that is gone took its archives with it: only the rows are left to delete.
        server = await Server.get_or_none(id=server_id) if server_id else None
        reachable = names and server is not None
        if reachable and not await _delete_files(server, site, names, replicas=False):
            ready = [b for b in ready if not b.path]
        gone += [b.id for b in ready]
    await Backup.filter(id__in=gone, launch=launch).delete()
    return len(gone)


async def _drop_replicas(site: str, group: list[Backup]) -> list[Backup]:
    """Delete the replicas of ``group``; the backups whose replica is gone (or had none)."""
    by_target: dict[int, list[Backup]] = defaultdict(list)
    done = [b for b in group if not b.replica_server_id or not b.replica_path]
    # A replica path that is not this site's is left alone, and so is its backup.
    for backup in group:
        if backup.replica_server_id and owns(site, backup.replica_path):
            by_target[backup.replica_server_id].append(backup)
    for target_id, backups in by_target.items():
        target = await Server.get_or_none(id=target_id)
        names = [_name(b.replica_path) for b in backups]
        if target is None or await _delete_files(target, site, names, replicas=True):
            done += backups
    return done


async def prune_all() -> dict[str, int]:
    """Retention for every site that has scheduled backups; one bad site skips only itself."""
    counts = {"sites": 0, "deleted": 0, "failed": 0}
    ids = (
        await Backup.filter(kind=BackupKind.SCHEDULED)
        .distinct()
        .values_list("launch_id", flat=True)
    )
    for launch in await Launch.filter(id__in=ids).prefetch_related("package").order_by("id"):
        try:
            counts["deleted"] += await prune_site(launch)
            counts["sites"] += 1
        except Exception:  # noqa: BLE001 - the next site's retention still matters
            log.exception("backups: retention failed for %s", launch.site_name)
            counts["failed"] += 1
    return counts
