"""Platform-wide things: the audit trail, the contact form, run-time settings, health."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.platform import AuditLog, PlatformSetting
from managely.models.support import AppContact
from managely.queue import enqueue
from managely.services import ratelimit
from managely.services.accounts import validate_email
from managely.services.email import queue_email
from managely.services.errors import ValidationError
from managely.settings import get_settings

# The staff member acting as the signed-in customer, if any: set once per request by the web
# layer, so every audit entry written while impersonating names them without each service
# having to pass them along.
acting_impersonator: ContextVar[User | None] = ContextVar("acting_impersonator", default=None)


async def audit(
    actor: User | None,
    action: str,
    target: Any = None,
    *,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    ip: str = "",
    impersonator: User | None = None,
) -> AuditLog:
    """Record who did what to which object; staff and money actions always call this."""
    return await AuditLog.create(
        actor=actor,
        impersonator=impersonator or acting_impersonator.get(),
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=str(getattr(target, "code", None) or getattr(target, "id", "") or ""),
        before=before,
        after=after,
        reason=reason,
        ip=ip[:45],
    )


async def get_setting(key: str, default: Any = None) -> Any:
    row = await PlatformSetting.get_or_none(key=key)
    return default if row is None else row.value


async def set_setting(actor: User | None, key: str, value: Any, *, ip: str = "") -> None:
    async with db.atomic():
        row, created = await PlatformSetting.get_or_create(key=key, defaults={"value": value})
        before = None if created else {"value": row.value}
        if not created:
            row.value = value
            await row.save()
        await audit(actor, "platform.setting", row, before=before, after={"value": value}, ip=ip)


async def maintenance_mode() -> bool:
    return bool(await get_setting("maintenance_mode", False))


async def submit_contact(
    *, name: str, email: str, subject: str, message: str, ip: str, honeypot: str = ""
) -> AppContact | None:
    """Store a contact-form message and tell staff. A filled honeypot is dropped silently."""
    await ratelimit.hit(ratelimit.CONTACT, ip)
    if honeypot.strip():
        return None
    email = validate_email(email)
    fields = {"name": (name, 120), "subject": (subject, 200), "message": (message, 5000)}
    cleaned: dict[str, str] = {}
    for field, (value, limit) in fields.items():
        value = value.strip()
        if not value:
            raise ValidationError(_l("Please fill in this field."), field=field)
        if len(value) > limit:
            raise ValidationError(
                _l("This is too long (at most %(n)s characters).", n=limit), field=field
            )
        cleaned[field] = value
    async with db.atomic():
        contact = await AppContact.create(email=email, ip=ip[:45], **cleaned)
        enqueue("platform.notify_contact", contact.id)
    return contact


async def notify_contact(contact_id: int) -> None:
    contact = await AppContact.get_or_none(id=contact_id)
    if contact is None:
        return
    await queue_email(
        get_settings().staff_email,
        "contact",
        {
            "name": contact.name,
            "email": contact.email,
            "subject": contact.subject,
            "message": contact.message,
        },
        "en",
    )
