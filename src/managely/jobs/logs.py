"""Log actors: rotate and compress every server's logs once a day."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.services import logs


@scheduled(timedelta(days=1), "logs.archive", queue="default", time_limit=1_800_000)
async def archive() -> dict[str, int]:
    """logs_archiving.sh on each active server: platform and site logs gzipped, old ones gone."""
    return await logs.archive_all()
