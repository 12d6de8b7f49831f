"""The staff panel. Each screen is gated by a named permission."""

from __future__ import annotations

from quart import Blueprint, request

from managely.services import admin
from managely.web.auth import permission_required
from managely.web.htmx import page_or_partial

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@permission_required("admin.access")
async def dashboard():
    return await page_or_partial("admin/dashboard.html", stats=await admin.dashboard_stats())


@bp.get("/users")
@permission_required("users.view")
async def users():
    query = request.args.get("q", "").strip()[:100]
    page = await admin.list_users(query=query, cursor=request.args.get("after", ""))
    return await page_or_partial("admin/users.html", "admin/_users_table.html", page=page, q=query)
