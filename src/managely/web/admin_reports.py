"""Financial reports for staff, with CSV export and server-rendered SVG charts."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("admin_reports", __name__, url_prefix="/admin/reports")
