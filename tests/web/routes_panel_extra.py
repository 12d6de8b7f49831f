"""Route-test entries for the panel extras (renew now) and the staff support desk."""

from __future__ import annotations

from managely.models.accounts import User
from tests.web.routes import _closed_ticket, _subscription, _ticket


async def _canned(owner: User) -> dict[str, str]:
    """A canned reply (staff-wide, so the owner is only who opens it)."""
    from managely.models.support import CannedReply

    canned = await CannedReply.create(title="Restart", body_en="Please restart and retry.")
    return {"canned_id": str(canned.id)}


OWNED_OBJECTS = {
    "subscriptions.renew": _subscription,
    "admin_support.replies": _ticket,
    "admin_support.events": _closed_ticket,
    "admin_support.assign": _ticket,
    "admin_support.add_tags": _ticket,
    "admin_support.remove_tag": _ticket,
    "admin_support.edit_canned": _canned,
    "admin_support.delete_canned": _canned,
}

VALID_FORMS = {
    "subscriptions.renew": {"period_end": "2030-01-01T00:00:00+00:00"},
    "admin_support.update": {"status": "resolved"},
    "admin_support.assign": {"assignee": ""},
    "admin_support.add_tags": {"tags": "printing"},
    "admin_support.remove_tag": {"tag": "printing"},
    "admin_support.canned": {"title": "Hello", "body_en": "Hello there.", "department": ""},
    "admin_support.edit_canned": {"title": "Hello", "body_en": "Hello there.", "department": ""},
}
