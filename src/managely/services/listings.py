"""Keyset pages of a customer's objects, newest first, for the JSON API.

A page is read after an opaque cursor (the last row's id, encrypted), so page 2,000 costs
what page 1 costs and a row added meanwhile neither repeats nor hides another. Each listing
filters on the owner exactly as the object's access helper does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.queryset import QuerySet

from managely import crypto
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.billing import Invoice, WalletTransaction
from managely.models.launches import Launch, LaunchStatus
from managely.models.operations import SaaSOperation
from managely.models.subscriptions import Subscription
from managely.models.support import SupportTicket
from managely.services.errors import ValidationError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


class InvalidCursor(ValidationError):
    code = "invalid_cursor"


def _after(cursor: str | None, listing: str) -> int | None:
    if not cursor:
        return None
    try:
        name, _, row_id = crypto.decrypt(cursor).partition(":")
    except ValueError:
        name, row_id = "", ""
    if name != listing or not row_id.isdigit():
        raise InvalidCursor(_l("This page link is not valid. Start again from the first page."))
    return int(row_id)


async def _page(query: QuerySet, listing: str, cursor: str | None, limit: int) -> Page:
    limit = max(1, min(limit, MAX_LIMIT))
    after = _after(cursor, listing)
    if after is not None:
        query = query.filter(id__lt=after)
    rows = await query.order_by("-id").limit(limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, crypto.encrypt(f"{listing}:{rows[-1].id}") if more else None)


async def systems(user: User, cursor: str | None, limit: int = DEFAULT_LIMIT) -> Page:
    query = (
        Launch.filter(user=user).exclude(status=LaunchStatus.DELETED).prefetch_related("package")
    )
    return await _page(query, "systems", cursor, limit)


async def operations(user: User, cursor: str | None, limit: int = DEFAULT_LIMIT) -> Page:
    query = SaaSOperation.filter(user=user).prefetch_related("launch")
    return await _page(query, "operations", cursor, limit)


async def subscriptions(user: User, cursor: str | None, limit: int = DEFAULT_LIMIT) -> Page:
    query = Subscription.filter(user=user).prefetch_related("package", "period")
    return await _page(query, "subscriptions", cursor, limit)


async def invoices(user: User, cursor: str | None, limit: int = DEFAULT_LIMIT) -> Page:
    query = Invoice.filter(user=user).exclude(number=None)  # drafts are not shown
    return await _page(query, "invoices", cursor, limit)


async def tickets(user: User, cursor: str | None, limit: int = DEFAULT_LIMIT) -> Page:
    query = SupportTicket.filter(user=user).prefetch_related("launch")
    return await _page(query, "tickets", cursor, limit)


async def ledger(user: User, currency: str, cursor: str | None, limit: int = DEFAULT_LIMIT) -> Page:
    query = WalletTransaction.filter(wallet__user=user, wallet__currency=currency.upper()[:3])
    return await _page(query, f"ledger-{currency.upper()[:3]}", cursor, limit)
