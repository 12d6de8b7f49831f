"""The staff monitoring page: heartbeats, the clock's tasks, open alerts, server health and
the synthetic trial check's chart."""

from __future__ import annotations

from quart import Blueprint, g, request, url_for

from managely.i18n import gettext as _
from managely.services import monitoring
from managely.web.auth import client_ip, permission_required
from managely.web.forms import act_and_redirect
from managely.web.htmx import page_or_partial

bp = Blueprint("admin_monitoring", __name__, url_prefix="/admin")


@bp.get("/monitoring")
@permission_required("operations.view")
async def index():
    return await page_or_partial(
        "admin/monitoring/index.html",
        "admin/monitoring/_panels.html",
        overview=await monitoring.overview(),
    )


@bp.post("/monitoring/alerts/resolve")
@permission_required("operations.manage")
async def resolve_alert():
    key = (await request.form).get("key", "")
    return await act_and_redirect(
        lambda: monitoring.resolve_alert(g.user, key, ip=client_ip()),
        _("The alert is resolved."),
        url_for("admin_monitoring.index"),
    )
