"""Staff views of the platform: lists and counts, built to stay fast on large tables."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from managely.models.accounts import LoginEvent, User
from managely.models.platform import EmailMessage, EmailStatus

PAGE_SIZE = 50


@dataclass
class UserPage:
    users: list[User]
    next_cursor: str


async def dashboard_stats() -> dict[str, int]:
    return {
        "users": await User.all().count(),
        "verified": await User.filter(email_verified_at__not_isnull=True).count(),
        "failed_logins": await LoginEvent.filter(success=False).count(),
        "emails_queued": await EmailMessage.filter(status=EmailStatus.QUEUED).count(),
        "emails_failed": await EmailMessage.filter(status=EmailStatus.FAILED).count(),
    }


async def list_users(*, query: str = "", cursor: str = "") -> UserPage:
    """Newest first, keyset-paginated on id so page 2,000 costs what page 1 costs."""
    users = User.all().order_by("-id")
    if query:
        users = users.filter(Q(email__icontains=query) | Q(name__icontains=query))
    if cursor.isdigit():
        users = users.filter(id__lt=int(cursor))
    rows = await users.limit(PAGE_SIZE + 1).prefetch_related("user_roles__role")
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return UserPage(rows, str(rows[-1].id) if more and rows else "")
