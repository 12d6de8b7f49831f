"""The staff support desk: queues with counts, SLA clocks, status, assignee, tags and canned
replies. Every staff change is audited and published on the ticket's live channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q
from tortoise.functions import Count

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.support import CannedReply, Department, SupportTicket, Tag, TicketStatus
from managely.services import platform
from managely.services.errors import NotFound
from managely.services.support import (
    MAX_MESSAGE,
    MAX_TAGS,
    OPEN_STATUSES,
    InvalidTicket,
    _choice,
    _is_value,
    _tag_names,
    publish,
    staff_members,
)

MAX_TITLE = 120
QUEUE_LIMIT = 200


@dataclass(frozen=True)
class Queue:
    """Which tickets a staff list shows: ``assignee`` is "", "me" or "none"."""

    status: str = ""
    department: str = ""
    assignee: str = ""


async def queue(filters: Queue, viewer: User, limit: int = QUEUE_LIMIT) -> list[SupportTicket]:
    """The tickets of one queue, the most urgent SLA first, then the latest change."""
    query = SupportTicket.all()
    if _is_value(filters.status, TicketStatus):
        query = query.filter(status=filters.status)
    if _is_value(filters.department, Department):
        query = query.filter(department=filters.department)
    if filters.assignee == "me":
        query = query.filter(assignee=viewer)
    elif filters.assignee == "none":
        query = query.filter(assignee_id__isnull=True)
    return (
        await query.prefetch_related("user", "assignee", "tags")
        .order_by("-updated_at", "-id")
        .limit(limit)
    )


async def queue_counts() -> dict[str, dict[str, int]]:
    """Tickets per status, and open tickets per department, for the queue filters."""
    by_status = await (
        SupportTicket.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    )
    by_department = await (
        SupportTicket.filter(status__in=OPEN_STATUSES)
        .annotate(n=Count("id"))
        .group_by("department")
        .values_list("department", "n")
    )
    return {
        "status": {str(status): n for status, n in by_status},
        "department": {str(department): n for department, n in by_department},
    }


# --- SLA ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaClock:
    name: str  # "first_response" or "resolution"
    due_at: datetime
    seconds_left: int

    @property
    def overdue(self) -> bool:
        return self.seconds_left < 0


def sla_clocks(ticket: SupportTicket, now: datetime | None = None) -> list[SlaClock]:
    """The SLA clocks still running: the first answer until staff reply, the resolution
    while the ticket is open."""
    now = now or datetime.now(UTC)
    if ticket.status not in OPEN_STATUSES:
        return []
    clocks = []
    if ticket.first_response_due_at and not ticket.first_response_at:
        due = ticket.first_response_due_at
        clocks.append(SlaClock("first_response", due, int((due - now).total_seconds())))
    if ticket.resolution_due_at:
        due = ticket.resolution_due_at
        clocks.append(SlaClock("resolution", due, int((due - now).total_seconds())))
    return clocks


# --- staff changes ------------------------------------------------------------------------


async def _changed(
    staff_user: User, ticket: SupportTicket, action: str, before: dict, after: dict, ip: str
) -> SupportTicket:
    await platform.audit(staff_user, action, ticket, before=before, after=after, ip=ip)
    return ticket


async def set_status(
    staff_user: User, ticket: SupportTicket, status: str, ip: str = ""
) -> SupportTicket:
    """Move a ticket to another status (closing stamps ``closed_at``); audited."""
    errors: dict[str, object] = {}
    new_status = _choice(status, TicketStatus, ticket.status, "status", errors)
    if errors or not status:
        raise InvalidTicket(errors or {"status": _l("Choose one of the options.")})
    before = {"status": str(ticket.status)}
    async with db.atomic():
        ticket.status = new_status
        if new_status == TicketStatus.CLOSED and ticket.closed_at is None:
            ticket.closed_at = datetime.now(UTC)
        elif new_status != TicketStatus.CLOSED:
            ticket.closed_at = None
        await ticket.save()
        await _changed(
            staff_user, ticket, "support.status", before, {"status": str(new_status)}, ip
        )
    await publish(ticket)
    return ticket


async def assign(
    staff_user: User, ticket: SupportTicket, assignee_code: str, ip: str = ""
) -> SupportTicket:
    """Give the ticket to a support staff member ("" for nobody); audited."""
    assignee = None
    if assignee_code:
        assignee = next((u for u in await staff_members() if u.code == assignee_code), None)
        if assignee is None:
            raise InvalidTicket({"assignee": _l("Choose one of the support staff.")})
    before = {"assignee_id": ticket.assignee_id}
    async with db.atomic():
        ticket.assignee = assignee
        await ticket.save()
        after = {"assignee_id": assignee.id if assignee else None}
        await _changed(staff_user, ticket, "support.assign", before, after, ip)
    await publish(ticket)
    return ticket


async def add_tags(staff_user: User, ticket: SupportTicket, text: str, ip: str = "") -> None:
    """Add the comma-separated tags (made on first use); audited."""
    names = _tag_names(text)
    if not names:
        raise InvalidTicket({"tags": _l("Type a tag to add.")})
    await ticket.fetch_related("tags")
    before = sorted(t.name for t in ticket.tags)
    if len(set(before) | set(names)) > MAX_TAGS:
        raise InvalidTicket(
            {"tags": _l("Use at most %(n)s tags of up to 32 characters each.", n=MAX_TAGS)}
        )
    async with db.atomic():
        chosen = [(await Tag.get_or_create(name=name))[0] for name in names]
        await ticket.tags.add(*chosen)
        after = sorted(set(before) | set(names))
        await _changed(staff_user, ticket, "support.tags", {"tags": before}, {"tags": after}, ip)
    await publish(ticket)


async def remove_tag(staff_user: User, ticket: SupportTicket, name: str, ip: str = "") -> None:
    """Take one tag off the ticket; audited. A tag it does not have is not found."""
    await ticket.fetch_related("tags")
    tag = next((t for t in ticket.tags if t.name == name.strip().lower()), None)
    if tag is None:
        raise NotFound(_l("Not found."))
    before = sorted(t.name for t in ticket.tags)
    async with db.atomic():
        await ticket.tags.remove(tag)
        after = [n for n in before if n != tag.name]
        await _changed(staff_user, ticket, "support.tags", {"tags": before}, {"tags": after}, ip)
    await publish(ticket)


# --- canned replies -----------------------------------------------------------------------


async def canned_replies(department: str = "") -> list[CannedReply]:
    """Every canned reply, or those for one department plus the ones for any."""
    query = CannedReply.all()
    if _is_value(department, Department):
        query = query.filter(Q(department=department) | Q(department__isnull=True))
    return await query.order_by("title", "id")


async def get_canned(canned_id: str) -> CannedReply:
    found = await CannedReply.get_or_none(id=int(canned_id)) if canned_id.isdigit() else None
    if found is None:
        raise NotFound(_l("Not found."))
    return found


def canned_body(canned: CannedReply, locale: str) -> str:
    """The text in the customer's language, the English one when that is missing."""
    return canned.body_ar if locale == "ar" and canned.body_ar.strip() else canned.body_en


def _canned_fields(title: str, body_en: str, body_ar: str, department: str) -> dict:
    errors: dict[str, object] = {}
    title, body_en, body_ar = title.strip(), body_en.strip(), body_ar.strip()
    if not title:
        errors["title"] = _l("Give the canned reply a title.")
    elif len(title) > MAX_TITLE:
        errors["title"] = _l("This is too long (at most %(n)s characters).", n=MAX_TITLE)
    if not body_en:
        errors["body_en"] = _l("Write the English text.")
    for field, body in (("body_en", body_en), ("body_ar", body_ar)):
        if len(body) > MAX_MESSAGE:
            errors[field] = _l("This is too long (at most %(n)s characters).", n=MAX_MESSAGE)
    dept = _choice(department, Department, None, "department", errors) if department else None
    if errors:
        raise InvalidTicket(errors)
    return {"title": title, "body_en": body_en, "body_ar": body_ar, "department": dept}


def _canned_summary(canned: CannedReply) -> dict:
    return {
        "title": canned.title,
        "department": str(canned.department) if canned.department else None,
        "body_en": canned.body_en[:200],
        "body_ar": canned.body_ar[:200],
    }


async def save_canned(
    staff_user: User,
    canned: CannedReply | None,
    *,
    title: str,
    body_en: str,
    body_ar: str = "",
    department: str = "",
    ip: str = "",
) -> CannedReply:
    """Create (``canned`` None) or edit a canned reply; audited."""
    values = _canned_fields(title, body_en, body_ar, department)
    async with db.atomic():
        if canned is None:
            canned, before, action = (
                await CannedReply.create(**values),
                None,
                "support.canned_create",
            )
        else:
            before, action = _canned_summary(canned), "support.canned_update"
            canned.update_from_dict(values)
            await canned.save()
        await platform.audit(
            staff_user, action, canned, before=before, after=_canned_summary(canned), ip=ip
        )
    return canned


async def delete_canned(staff_user: User, canned: CannedReply, ip: str = "") -> None:
    async with db.atomic():
        await platform.audit(
            staff_user, "support.canned_delete", canned, before=_canned_summary(canned), ip=ip
        )
        await canned.delete()
