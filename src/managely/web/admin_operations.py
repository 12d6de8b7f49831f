"""The operations monitor for staff: every operation with filters, live log, retry, cancel, stuck ones."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("admin_operations", __name__, url_prefix="/admin/operations")
