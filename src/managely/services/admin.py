"""Staff views of the platform: lists and counts, built to stay fast on large tables."""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.expressions import Q

from managely.models.accounts import LoginEvent, User, UserStatus
from managely.models.platform import EmailMessage, EmailStatus
from managely.services.accounts import ROLES, now

PAGE_SIZE = 50
# "locked_out" is not a status: it is a lockout after failed sign-ins (locked_until ahead).
STATUS_FILTERS = (*(s.value for s in UserStatus), "locked_out")


@dataclass
class UserPage:
    users: list[User]
    next_cursor: str
    # Role names per user id, as plain lists: async Jinja would re-query a relation it loops.
    roles: dict[int, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class UserFilters:
    query: str = ""
    role: str = ""
    status: str = ""
    verified: str = ""  # "yes", "no" or "" for either

    @classmethod
    def parse(cls, args) -> UserFilters:
        """Known values only: anything else means "no filter", never an error."""
        role = args.get("role", "")
        status = args.get("status", "")
        verified = args.get("verified", "")
        return cls(
            query=args.get("q", "").strip()[:100],
            role=role if role in ROLES else "",
            status=status if status in STATUS_FILTERS else "",
            verified=verified if verified in ("yes", "no") else "",
        )

    def as_args(self) -> dict[str, str]:
        args = {"q": self.query, "role": self.role, "status": self.status}
        return {k: v for k, v in {**args, "verified": self.verified}.items() if v}


async def dashboard_stats() -> dict[str, int]:
    return {
        "users": await User.all().count(),
        "verified": await User.filter(email_verified_at__not_isnull=True).count(),
        "failed_logins": await LoginEvent.filter(success=False).count(),
        "emails_queued": await EmailMessage.filter(status=EmailStatus.QUEUED).count(),
        "emails_failed": await EmailMessage.filter(status=EmailStatus.FAILED).count(),
    }


def _filtered(filters: UserFilters):
    users = User.all()
    if filters.query:
        users = users.filter(Q(email__icontains=filters.query) | Q(name__icontains=filters.query))
    if filters.role:
        # (user, role) is unique, so the join never repeats a user.
        users = users.filter(user_roles__role__name=filters.role)
    if filters.status == "locked_out":
        users = users.filter(locked_until__gt=now())
    elif filters.status:
        users = users.filter(status=filters.status)
    if filters.verified:
        users = users.filter(email_verified_at__isnull=filters.verified == "no")
    return users


async def list_users(
    *, query: str = "", cursor: str = "", filters: UserFilters | None = None
) -> UserPage:
    """Newest first, keyset-paginated on id so page 2,000 costs what page 1 costs.

    Three queries whatever the page: the users, their role links, the roles.
    """
    filters = filters or UserFilters(query=query)
    users = _filtered(filters).order_by("-id")
    if cursor.isdigit():
        users = users.filter(id__lt=int(cursor))
    rows = await users.limit(PAGE_SIZE + 1).prefetch_related("user_roles__role")
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    roles = {u.id: sorted(link.role.name for link in u.user_roles) for u in rows}
    return UserPage(rows, str(rows[-1].id) if more and rows else "", roles)
