"""The customer's dashboard at a glance: money, renewals, open tickets, announcements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q

from managely.models.accounts import User
from managely.models.billing import Invoice, InvoiceStatus, Wallet
from managely.models.platform import Announcement
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.models.support import SupportTicket, TicketStatus
from managely.services import wallet

# Tickets still waiting for someone: the customer or staff.
OPEN_TICKETS = (TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER, TicketStatus.PENDING_STAFF)
LIVE_SUBSCRIPTIONS = (
    SubscriptionStatus.TRIAL,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.SUSPENDED,
)


@dataclass(frozen=True)
class Overview:
    balances: list[Wallet]
    subscriptions: list[Subscription]
    open_invoices: list[Invoice]
    open_tickets: int
    announcements: list[Announcement]


async def announcements_now(now: datetime | None = None) -> list[Announcement]:
    """Announcements switched on whose time window (if any) includes now."""
    moment = now or datetime.now(UTC)
    return (
        await Announcement.filter(is_active=True)
        .filter(Q(starts_at=None) | Q(starts_at__lte=moment))
        .filter(Q(ends_at=None) | Q(ends_at__gt=moment))
        .order_by("-starts_at", "-id")
    )


async def overview(user: User, now: datetime | None = None) -> Overview:
    """What the dashboard shows ``user`` besides their systems: only their own rows."""
    return Overview(
        balances=await wallet.balances(user),
        subscriptions=await Subscription.filter(user=user, status__in=LIVE_SUBSCRIPTIONS)
        .prefetch_related("package", "period")
        .order_by("current_period_end", "id"),
        open_invoices=await Invoice.filter(user=user, status=InvoiceStatus.OPEN)
        .exclude(number=None)
        .order_by("due_at", "id"),
        open_tickets=await SupportTicket.filter(user=user, status__in=OPEN_TICKETS).count(),
        announcements=await announcements_now(now),
    )
