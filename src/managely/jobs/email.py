"""Email actors: deliver outbox rows."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.queue import actor
from managely.services import email as email_service


@actor("email.send", queue="email", max_retries=0)
async def send(email_id: int) -> None:
    """Deliver one outbox message (the service reschedules failures with backoff)."""
    await email_service.deliver(email_id)


@scheduled(timedelta(minutes=5), "email.sweep", queue="email")
async def sweep() -> dict[str, int]:
    """Re-send outbox rows whose retry time passed (a delayed message may have been lost)."""
    return {"resent": await email_service.sweep_due()}
