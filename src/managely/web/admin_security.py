"""Security and compliance screens for staff: audit log, sign-ins, lockouts, GeoIP rules, sessions."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("admin_security", __name__, url_prefix="/admin/security")
