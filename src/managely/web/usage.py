"""A system's usage charts: CPU, memory, disk, database size and active ERP users."""

from __future__ import annotations

from quart import Blueprint, g, request

from managely.services import launches, usage
from managely.web.auth import login_required
from managely.web.htmx import page_or_partial

bp = Blueprint("usage", __name__, url_prefix="/panel/systems")


@bp.get("/<code>/usage")
@login_required
async def page(code: str):
    """The charts of one window; the window switcher swaps only the charts (htmx)."""
    launch = await launches.get_launch_for_user(g.user, code)
    window = usage.parse_window(request.args.get("window"))
    charts = [
        (data, usage.render_chart(data), usage.summarize(data))
        for data in await usage.all_series(launch, window)
    ]
    return await page_or_partial(
        "usage/page.html",
        "usage/_charts.html",
        launch=launch,
        window=window,
        windows=usage.WINDOW_LABELS,
        charts=charts,
    )
