"""Support tickets: open one, reply on both sides, staff notes, status, assignee and tags.

Attachments are checked whole before anything is written (count, size, and a sniff of the
first bytes that must agree with the extension), then stored content-addressed under
``<data dir>/attachments/<ticket>/<sha256>``; the row keeps the original name. Every change
is published on the ticket's channel after its transaction commits, for the live thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import Role, ServiceBeneficiary, User
from managely.models.launches import Launch, LaunchStatus
from managely.models.support import (
    Department,
    SupportTicket,
    Tag,
    TicketAttachment,
    TicketPriority,
    TicketReply,
    TicketStatus,
)
from managely.services import bus, platform
from managely.services.email import queue_email
from managely.services.errors import NotFound, ValidationError
from managely.settings import get_settings

MAX_FILES = 5
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_SUBJECT = 200
MAX_MESSAGE = 20_000
MAX_TAGS = 10
# extension -> (kind the first bytes must show, content type stored and served)
ALLOWED_TYPES = {
    "png": ("png", "image/png"),
    "jpg": ("jpeg", "image/jpeg"),
    "jpeg": ("jpeg", "image/jpeg"),
    "pdf": ("pdf", "application/pdf"),
    "txt": ("text", "text/plain"),
    "log": ("text", "text/plain"),
    "csv": ("text", "text/csv"),
}
# Text that opens like markup is a page in disguise, whatever its extension says.
MARKUP_STARTS = (b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml", b"<head", b"<body")
# Hours to the first answer and to the resolution, by priority.
SLA_HOURS = {
    TicketPriority.URGENT: (1, 8),
    TicketPriority.HIGH: (4, 24),
    TicketPriority.NORMAL: (8, 72),
    TicketPriority.LOW: (24, 120),
}
OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.PENDING_STAFF, TicketStatus.PENDING_CUSTOMER)


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it; ``content`` may be cut one byte past the size limit."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    content: bytes
    sha256: str


class InvalidTicket(ValidationError):
    """Several fields can be wrong at once; the form shows each next to its field."""

    def __init__(self, errors: dict[str, object]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = errors


@dataclass(frozen=True)
class TicketFilters:
    status: str = ""
    department: str = ""


# --- access -------------------------------------------------------------------------------


async def get_ticket_for_user(user: User, code: str) -> SupportTicket:
    """The access helper for tickets: another customer's ticket is simply not found."""
    ticket = await SupportTicket.get_or_none(code=code, user=user).prefetch_related(
        "launch", "tags"
    )
    if ticket is None:
        raise NotFound(_l("Not found."))
    return ticket


async def get_ticket_for_staff(code: str) -> SupportTicket:
    ticket = await SupportTicket.get_or_none(code=code).prefetch_related(
        "launch", "tags", "user", "assignee"
    )
    if ticket is None:
        raise NotFound(_l("Not found."))
    return ticket


async def get_attachment(user: User, code: str, attachment: str, *, staff: bool):
    """An attachment and its file, for the ticket's owner or staff; internal ones staff only."""
    ticket = await (get_ticket_for_staff(code) if staff else get_ticket_for_user(user, code))
    found = await TicketAttachment.get_or_none(
        code=attachment, reply__ticket=ticket
    ).prefetch_related("reply")
    if found is None or (found.reply.is_internal and not staff):
        raise NotFound(_l("Not found."))
    path = (get_settings().data_dir / found.storage_path).resolve()
    if not path.is_relative_to(attachments_root().resolve()) or not path.is_file():
        raise NotFound(_l("Not found."))
    return found, path


# --- reading ------------------------------------------------------------------------------


async def tickets_of(user: User) -> list[SupportTicket]:
    return (
        await SupportTicket.filter(user=user)
        .prefetch_related("tags", "launch")
        .order_by("-updated_at", "-id")
    )


async def list_for_staff(filters: TicketFilters, limit: int = 100) -> list[SupportTicket]:
    query = SupportTicket.all()
    if _is_value(filters.status, TicketStatus):
        query = query.filter(status=filters.status)
    if _is_value(filters.department, Department):
        query = query.filter(department=filters.department)
    return (
        await query.prefetch_related("user", "assignee", "tags")
        .order_by("-updated_at", "-id")
        .limit(limit)
    )


async def thread(ticket: SupportTicket, *, staff: bool) -> list[TicketReply]:
    """The replies in order; customers never see internal notes."""
    query = TicketReply.filter(ticket=ticket)
    if not staff:
        query = query.filter(is_internal=False)
    return await query.prefetch_related("author", "attachments").order_by("created_at", "id")


async def staff_members() -> list[User]:
    """Who a ticket can be assigned to: holders of a role that may reply."""
    roles = await Role.filter(is_staff=True).only("id", "permissions")
    ids = [role.id for role in roles if "support.reply" in role.permissions]
    return await User.filter(user_roles__role_id__in=ids).distinct().order_by("name")


async def launch_choices(user: User) -> list[Launch]:
    return await Launch.filter(user=user).exclude(status=LaunchStatus.DELETED).order_by("subdomain")


# --- attachments --------------------------------------------------------------------------


def attachments_root() -> Path:
    return get_settings().data_dir / "attachments"


def _sniff(head: bytes) -> str:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return "binary"


def _is_plain_text(content: bytes) -> bool:
    if b"\x00" in content:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    opening = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower()
    return not opening.startswith(MARKUP_STARTS)


def clean_filename(name: str) -> str:
    """The last path part, without control characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(base) > 255:
        stem, _, ext = base.rpartition(".")
        base = f"{stem[: 254 - len(ext)]}.{ext}" if stem else base[:255]
    return base


def check_uploads(uploads: list[Upload]) -> list[CheckedFile]:
    """Every file passes, or a ValidationError names the first that does not."""
    uploads = [u for u in uploads if u.filename or u.content]
    if len(uploads) > MAX_FILES:
        raise ValidationError(_l("Attach at most %(n)s files.", n=MAX_FILES), field="attachments")
    checked = []
    for upload in uploads:
        name = clean_filename(upload.filename)
        if len(upload.content) > MAX_FILE_BYTES:
            raise ValidationError(
                _l("“%(name)s” is larger than %(mb)s MB.", name=name, mb=MAX_FILE_BYTES >> 20),
                field="attachments",
            )
        extension = name.rpartition(".")[2].lower() if "." in name else ""
        kind, content_type = ALLOWED_TYPES.get(extension, ("", ""))
        content = upload.content
        sniffed_ok = (
            _is_plain_text(content) if kind == "text" else kind != "" and _sniff(content) == kind
        )
        if not name or not content or not sniffed_ok:
            raise ValidationError(
                _l(
                    "“%(name)s” is not a PNG, JPEG, PDF or text (TXT, LOG, CSV) file.",
                    name=name or "?",
                ),
                field="attachments",
            )
        digest = hashlib.sha256(content).hexdigest()
        checked.append(CheckedFile(name, content_type, content, digest))
    return checked


def _write_file(path: Path, content: bytes) -> bool:
    """Write once (same hash, same bytes); True when this call created the file."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_bytes(content)
    os.replace(partial, path)
    return True


async def _attach(ticket: SupportTicket, reply: TicketReply, files, created: list[Path]) -> None:
    for item in files:
        relative = Path("attachments") / ticket.code / item.sha256
        path = get_settings().data_dir / relative
        if await asyncio.to_thread(_write_file, path, item.content):
            created.append(path)
        await TicketAttachment.create(
            reply=reply,
            filename=item.filename,
            content_type=item.content_type,
            size_bytes=len(item.content),
            storage_path=str(relative),
            sha256=item.sha256,
        )


def _forget(created: list[Path]) -> None:
    for path in created:
        path.unlink(missing_ok=True)


# --- writing ------------------------------------------------------------------------------


def _message(value: str, errors: dict[str, object]) -> str:
    value = value.strip()
    if not value:
        errors["message"] = _l("Please write your message.")
    elif len(value) > MAX_MESSAGE:
        errors["message"] = _l("This is too long (at most %(n)s characters).", n=MAX_MESSAGE)
    return value


def _is_value(value: str, enum) -> bool:
    return value in {member.value for member in enum}


def _choice(value: str, enum, default, field: str, errors: dict[str, object]):
    if not value:
        return default
    if not _is_value(value, enum):
        errors[field] = _l("Choose one of the options.")
        return default
    return enum(value)


async def create_ticket(
    user: User,
    *,
    subject: str,
    department: str,
    priority: str,
    message: str,
    launch_code: str = "",
    uploads: list[Upload] = (),  # type: ignore[assignment]
) -> SupportTicket:
    """Open a ticket with its first message and files; nothing is written if any is wrong."""
    errors: dict[str, object] = {}
    subject = subject.strip()
    if not subject:
        errors["subject"] = _l("Please give your request a subject.")
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = _l("This is too long (at most %(n)s characters).", n=MAX_SUBJECT)
    dept = _choice(department, Department, Department.GENERAL, "department", errors)
    prio = _choice(priority, TicketPriority, TicketPriority.NORMAL, "priority", errors)
    body = _message(message, errors)
    launch = None
    if launch_code:
        launch = await Launch.get_or_none(code=launch_code, user=user)
        if launch is None or launch.status == LaunchStatus.DELETED:
            errors["launch"] = _l("Choose one of your systems.")
    try:
        files = check_uploads(list(uploads))
    except ValidationError as error:
        errors["attachments"] = error.message
    if errors:
        raise InvalidTicket(errors)
    now = datetime.now(UTC)
    first_hours, resolve_hours = SLA_HOURS[prio]
    beneficiary = (
        await ServiceBeneficiary.get_or_none(id=launch.beneficiary_id)
        if launch and launch.beneficiary_id
        else await ServiceBeneficiary.filter(owner=user).order_by("id").first()
    )
    created: list[Path] = []
    try:
        async with db.atomic():
            ticket = await SupportTicket.create(
                user=user,
                beneficiary=beneficiary,
                launch=launch,
                subject=subject,
                department=dept,
                priority=prio,
                last_reply_at=now,
                first_response_due_at=now + timedelta(hours=first_hours),
                resolution_due_at=now + timedelta(hours=resolve_hours),
            )
            reply = await TicketReply.create(ticket=ticket, author=user, body=body)
            await _attach(ticket, reply, files, created)
    except BaseException:
        _forget(created)
        raise
    return ticket


async def add_reply(
    ticket: SupportTicket,
    author: User,
    message: str,
    uploads: list[Upload] = (),  # type: ignore[assignment]
    *,
    staff: bool = False,
    internal: bool = False,
) -> TicketReply:
    """A reply on either side. A staff public reply emails the customer; a note stays inside."""
    errors: dict[str, object] = {}
    body = _message(message, errors)
    try:
        files = check_uploads(list(uploads))
    except ValidationError as error:
        errors["attachments"] = error.message
    if errors:
        raise InvalidTicket(errors)
    internal = staff and internal
    now = datetime.now(UTC)
    created: list[Path] = []
    try:
        async with db.atomic():
            reply = await TicketReply.create(
                ticket=ticket, author=author, body=body, is_internal=internal
            )
            await _attach(ticket, reply, files, created)
            if not internal:
                await _after_public_reply(ticket, author, reply, now, staff=staff)
    except BaseException:
        _forget(created)
        raise
    await publish(ticket)
    return reply


async def _after_public_reply(
    ticket: SupportTicket, author: User, reply: TicketReply, now: datetime, *, staff: bool
) -> None:
    ticket.last_reply_at = now
    if staff:
        ticket.status = TicketStatus.PENDING_CUSTOMER
        ticket.first_response_at = ticket.first_response_at or now
    else:
        # A customer writing again reopens a resolved or closed ticket.
        if ticket.status != TicketStatus.OPEN:
            ticket.status = TicketStatus.PENDING_STAFF
        ticket.closed_at = None
    await ticket.save()
    if staff:
        await _notify_customer(ticket, author, reply)


async def _notify_customer(ticket: SupportTicket, author: User, reply: TicketReply) -> None:
    customer = await User.get(id=ticket.user_id)
    await queue_email(
        customer.email,
        "ticket_reply",
        {
            "name": customer.name,
            "subject": ticket.subject,
            "code": ticket.code,
            "staff_name": author.name,
            "body": reply.body,
            "url": f"{get_settings().public_url}/panel/support/{ticket.code}",
        },
        customer.locale,
    )


def _tag_names(text: str) -> list[str]:
    names = []
    for part in text.split(","):
        name = " ".join(part.split()).lower()
        if name and name not in names:
            names.append(name)
    if len(names) > MAX_TAGS or any(len(n) > 32 for n in names):
        raise InvalidTicket(
            {"tags": _l("Use at most %(n)s tags of up to 32 characters each.", n=MAX_TAGS)}
        )
    return names


async def update_ticket(
    staff_user: User,
    ticket: SupportTicket,
    *,
    status: str,
    assignee_code: str,
    tags: str,
    ip: str = "",
) -> SupportTicket:
    """Staff change the status, the assignee and the tags; audited."""
    errors: dict[str, object] = {}
    new_status = _choice(status, TicketStatus, ticket.status, "status", errors)
    assignee = None
    if assignee_code:
        assignee = next((u for u in await staff_members() if u.code == assignee_code), None)
        if assignee is None:
            errors["assignee"] = _l("Choose one of the support staff.")
    try:
        names = _tag_names(tags)
    except InvalidTicket as error:
        errors.update(error.errors)
    if errors:
        raise InvalidTicket(errors)
    await ticket.fetch_related("tags")
    before = _summary(ticket, [t.name for t in ticket.tags])
    async with db.atomic():
        ticket.status = new_status
        ticket.assignee = assignee
        if new_status == TicketStatus.CLOSED and ticket.closed_at is None:
            ticket.closed_at = datetime.now(UTC)
        elif new_status != TicketStatus.CLOSED:
            ticket.closed_at = None
        await ticket.save()
        chosen = [(await Tag.get_or_create(name=name))[0] for name in names]
        await ticket.tags.clear()
        if chosen:
            await ticket.tags.add(*chosen)
        await platform.audit(
            staff_user,
            "support.update",
            ticket,
            before=before,
            after=_summary(ticket, names),
            ip=ip,
        )
    await publish(ticket)
    return ticket


def _summary(ticket: SupportTicket, tags: list[str]) -> dict:
    return {"status": str(ticket.status), "assignee_id": ticket.assignee_id, "tags": sorted(tags)}


async def publish(ticket: SupportTicket) -> None:
    """Tell the live thread something changed (called after the commit)."""
    await bus.publish(bus.channel_for("ticket", ticket.code), {"ticket": ticket.code})
