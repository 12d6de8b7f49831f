"""The operations monitor for staff: the list, one operation live, retry, cancel, stuck ones."""

from __future__ import annotations

from quart import Blueprint, g, request, url_for

from managely.i18n import gettext as _
from managely.services import admin_operations
from managely.web.auth import client_ip, permission_required
from managely.web.forms import act_and_redirect
from managely.web.htmx import page_or_partial

bp = Blueprint("admin_operations", __name__, url_prefix="/admin")


@bp.get("/operations/")
@bp.get("/get_operations")
@permission_required("operations.view")
async def get_operations():
    filters = admin_operations.OperationFilters.parse(request.args)
    page = await admin_operations.list_operations(filters, request.args.get("after", ""))
    return await page_or_partial(
        "admin/operations/list.html",
        "admin/operations/_table.html",
        page=page,
        filters=filters,
        kinds=admin_operations.KINDS,
        statuses=admin_operations.STATUSES,
    )


@bp.get("/operations/stuck")
@permission_required("operations.view")
async def stuck():
    return await page_or_partial(
        "admin/operations/stuck.html",
        operations=await admin_operations.stuck(),
        minutes=int(admin_operations.STUCK_AFTER.total_seconds() // 60),
    )


@bp.get("/operations/<code>")
@permission_required("operations.view")
async def detail(code: str):
    found = await admin_operations.detail(code)
    return await page_or_partial(
        "admin/operations/detail.html",
        detail=found,
        operation=found.operation,
        steps=found.steps,
        logs=found.logs,
        live=found.operation.status in ("queued", "running"),
    )


async def _act(code: str, action, success: str):
    return await act_and_redirect(action, success, url_for("admin_operations.detail", code=code))


@bp.post("/operations/<code>/retry")
@permission_required("operations.manage")
async def retry(code: str):
    return await _act(
        code,
        lambda: admin_operations.retry(g.user, code, ip=client_ip()),
        _("The task is queued again."),
    )


@bp.post("/operations/<code>/cancel")
@permission_required("operations.manage")
async def cancel(code: str):
    return await _act(
        code,
        lambda: admin_operations.cancel(g.user, code, ip=client_ip()),
        _("The task is cancelled."),
    )
