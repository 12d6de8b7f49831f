"""``/healthz``: is this web process able to reach its database and broker?"""

from __future__ import annotations

from quart import Blueprint

from managely.services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
async def healthz():
    report = await health.check()
    return report, 200 if report["status"] == "ok" else 503
