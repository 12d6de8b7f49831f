"""Billing actors: renewals and what follows an unpaid period or an ended trial.

Each is safe to run twice for the same tick (the clock sends a tick once, a retry may not):
renewals charge through unique ledger keys, reminders are unique rows, and every change of
state is a conditional update.
"""

from datetime import timedelta

from managely.jobs.clock import every
from managely.queue import actor
from managely.services import dunning, renewals


@actor("billing.renew", queue="billing", time_limit=3_600_000)
async def renew() -> None:
    """Renew every subscription whose period ended, from the wallet."""
    await renewals.run_renewals()


@actor("billing.reminders", queue="billing")
async def reminders() -> None:
    """Trial-ending and past-due reminders, each once per period."""
    await dunning.send_reminders()


@actor("billing.suspend_overdue", queue="billing")
async def suspend_overdue() -> None:
    """Suspend systems unpaid past the grace period; line every system up with its
    subscription."""
    await dunning.suspend_overdue()


@actor("billing.delete_expired", queue="billing")
async def delete_expired() -> None:
    """Warn, then delete, systems suspended past the retention period."""
    await dunning.delete_expired()


@actor("billing.expire_trials", queue="billing")
async def expire_trials() -> None:
    """End the trials whose time is up."""
    await dunning.expire_trials()


every(timedelta(hours=1), "billing.renew")
every(timedelta(hours=1), "billing.reminders")
every(timedelta(hours=1), "billing.suspend_overdue")
every(timedelta(hours=1), "billing.delete_expired")
every(timedelta(minutes=15), "billing.expire_trials")
