"""Billing actors: renewals and what follows an unpaid period or an ended trial.

Each is safe to run twice for the same tick (the clock sends a tick once, a retry may not):
renewals charge through unique ledger keys, reminders are unique rows, and every change of
state is a conditional update.
"""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.services import dunning, renewals


@scheduled(timedelta(hours=1), "billing.renew", queue="billing", time_limit=3_600_000)
async def renew() -> object:
    """Renew every subscription whose period ended, from the wallet."""
    return await renewals.run_renewals()


@scheduled(timedelta(hours=1), "billing.reminders", queue="billing")
async def reminders() -> object:
    """Trial-ending and past-due reminders, each once per period."""
    return await dunning.send_reminders()


@scheduled(timedelta(hours=1), "billing.suspend_overdue", queue="billing")
async def suspend_overdue() -> object:
    """Suspend systems unpaid past the grace period; line every system up with its
    subscription."""
    return await dunning.suspend_overdue()


@scheduled(timedelta(hours=1), "billing.delete_expired", queue="billing")
async def delete_expired() -> object:
    """Warn, then delete, systems suspended past the retention period."""
    return await dunning.delete_expired()


@scheduled(timedelta(minutes=15), "billing.expire_trials", queue="billing")
async def expire_trials() -> object:
    """End the trials whose time is up."""
    return await dunning.expire_trials()
