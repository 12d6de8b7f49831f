"""Platform screens for staff: announcements, maintenance mode, bulk operations, settings."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("admin_platform", __name__, url_prefix="/admin/platform")
