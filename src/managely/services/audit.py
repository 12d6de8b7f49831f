"""Security and compliance views for staff: the audit trail, sign-ins, lockouts, GeoIP rules.

Lists are keyset-paginated on id (newest first), so a deep page costs what the first one does,
and each loads its related users in one more query, never one per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tortoise.expressions import Q

from managely.i18n import lazy_gettext as _l
from managely.models.accounts import LoginEvent, User, UserStatus
from managely.models.platform import AuditLog, GeoIpRule
from managely.services import trial_guard
from managely.services.accounts import normalize_email, now
from managely.services.errors import NotFound, ValidationError

PAGE_SIZE = 50


@dataclass
class Page:
    rows: list
    next_cursor: str


def _page(rows: list) -> Page:
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Page(rows, str(rows[-1].id) if more and rows else "")


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(_l("Enter a date like 2026-01-31."), field=field) from None


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # an email, or part of one
    action: str = ""  # an action name, or its start ("users." for every user action)
    target: str = ""  # a target id or code, or a type ("User")
    since: str = ""  # YYYY-MM-DD, inclusive
    until: str = ""  # YYYY-MM-DD, inclusive

    @classmethod
    def parse(cls, args) -> AuditFilters:
        names = ("actor", "action", "target", "since", "until")
        return cls(**{name: args.get(name, "").strip()[:100] for name in names})

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


async def audit_entries(filters: AuditFilters, cursor: str = "") -> Page:
    """Audit entries matching every given filter, newest first; a bad date is a 400."""
    since, until = _day(filters.since, "since"), _day(filters.until, "until")
    entries = AuditLog.all().order_by("-id")
    if filters.actor:
        entries = entries.filter(
            Q(actor__email__icontains=filters.actor)
            | Q(impersonator__email__icontains=filters.actor)
        )
    if filters.action:
        entries = entries.filter(action__startswith=filters.action)
    if filters.target:
        entries = entries.filter(
            Q(target_id=filters.target) | Q(target_type__iexact=filters.target)
        )
    if since:
        entries = entries.filter(created_at__gte=datetime.combine(since, time(), UTC))
    if until:
        day_after = datetime.combine(until, time(), UTC) + timedelta(days=1)
        entries = entries.filter(created_at__lt=day_after)
    if cursor.isdigit():
        entries = entries.filter(id__lt=int(cursor))
    rows = await entries.limit(PAGE_SIZE + 1).prefetch_related("actor", "impersonator")
    return _page(rows)


async def sign_ins(*, email: str = "", failed_only: bool = False, cursor: str = "") -> Page:
    """Sign-in attempts, newest first: all of them or only the failed ones."""
    events = LoginEvent.all().order_by("-id")
    if email:
        events = events.filter(email=normalize_email(email))
    if failed_only:
        events = events.filter(success=False)
    if cursor.isdigit():
        events = events.filter(id__lt=int(cursor))
    return _page(await events.limit(PAGE_SIZE + 1))


async def locked_accounts(cursor: str = "") -> Page:
    """Accounts that cannot sign in now: locked by staff, or locked out after failed tries."""
    users = User.filter(Q(status=UserStatus.LOCKED) | Q(locked_until__gt=now())).order_by("-id")
    if cursor.isdigit():
        users = users.filter(id__lt=int(cursor))
    return _page(await users.limit(PAGE_SIZE + 1))


# -- GeoIP rules: the service lives with the trial guard that applies them -------------------


async def geoip_rules() -> list[GeoIpRule]:
    return await trial_guard.list_rules()


async def add_geoip_rule(
    actor: User, *, country: str, kind: str, applies_to: str, note: str, ip: str = ""
) -> GeoIpRule:
    return await trial_guard.add_rule(country, kind, applies_to, note, actor, ip=ip)


async def remove_geoip_rule(actor: User, *, country: str, applies_to: str, ip: str = "") -> None:
    """Rules are named by country and scope (unique together), not by their row id."""
    rule = await GeoIpRule.get_or_none(
        country=country.strip().upper()[:2], applies_to=applies_to.strip().lower()[:16]
    )
    if rule is None:
        raise NotFound(_l("Not found."))
    await trial_guard.remove_rule(rule.id, actor, ip=ip)
