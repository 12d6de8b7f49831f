"""Route-test entries for the staff servers, operations monitor and platform screens."""

from __future__ import annotations

from managely.models.accounts import User
from managely.models.platform import Announcement
from managely.models.servers import Server, ServerStatus
from tests.web.routes import _operation


async def _retired_server(owner: User) -> dict[str, str]:
    """A retired server: its live health stream ends after the first event."""
    server = await Server.create(
        name=f"route-srv-{await Server.all().count()}",
        host="127.0.0.1",
        driver="local",
        sites_root="/tmp/managely-route-srv",
        status=ServerStatus.RETIRED,
    )
    return {"name": server.name}


async def _announcement(owner: User) -> dict[str, str]:
    note = await Announcement.create(title_en="Planned work", title_ar="أعمال مخططة")
    return {"code": note.code}


OWNED_OBJECTS = {
    **{
        f"admin_servers.{name}": _retired_server
        for name in (
            "detail",
            "health",
            "health_events",
            "bootstrap",
            "drain",
            "add_rule",
            "delete_rule",
            "apply_rules",
        )
    },
    "admin_operations.detail": _operation,
    "admin_operations.retry": _operation,
    "admin_operations.cancel": _operation,
    "admin_platform.announcement": _announcement,
    "admin_platform.delete_announcement": _announcement,
}

VALID_FORMS = {
    "admin_servers.add_rule": {"action": "allow", "port": "443", "protocol": "tcp"},
    "admin_platform.announcement": {"title_en": "Hello", "title_ar": "مرحبا", "level": "info"},
}
