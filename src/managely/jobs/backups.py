"""Backup actors: the schedule, retention and restore drills (the work is services.backups)."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.services import backup_drills, backups


@scheduled(timedelta(minutes=15), "backups.schedule", queue="default")
async def schedule() -> dict[str, int]:
    """Queue a backup of every active site whose package's schedule says one is due."""
    return await backups.schedule_due()


@scheduled(timedelta(hours=6), "backups.prune", queue="default", time_limit=1_800_000)
async def prune() -> dict[str, int]:
    """Keep each site's daily, weekly and monthly backups; delete the rest, that site's only."""
    return await backups.prune_all()


@scheduled(timedelta(days=1), "backups.drill", queue="default")
async def drill() -> dict[str, int]:
    """Restore the latest backup of a sample of sites into scratch databases, as a check."""
    return {"queued": await backup_drills.start_drills()}
