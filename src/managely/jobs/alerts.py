"""Alert actors: the webhook POST (retried by the queue) and the periodic sweep."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.queue import actor
from managely.services import alerts


@actor("alerts.webhook", queue="email", max_retries=8, min_backoff=5_000, max_backoff=600_000)
async def webhook(alert_id: int) -> None:
    """POST one alert to the configured webhook; a failure raises, so the queue retries."""
    await alerts.send_webhook(alert_id)


@scheduled(timedelta(minutes=5), "alerts.sweep", queue="default")
async def sweep() -> dict[str, int]:
    """Alert on stuck operations, failed backups and failed scheduled tasks (renewals…)."""
    return await alerts.sweep()
