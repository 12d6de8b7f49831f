"""``/metrics`` in Prometheus text format, behind a bearer token.

Every request this process answers is counted and timed here (``before_app_request`` /
``after_app_request``), labelled by endpoint, never by raw URL. Without
``MANAGELY_METRICS_TOKEN`` the endpoint does not exist (404); a wrong or missing token is 401.
"""

from __future__ import annotations

import hmac
import time

from quart import Blueprint, Response, current_app, g, request

from managely.services import metrics

bp = Blueprint("metrics", __name__)


@bp.before_app_request
async def start_timer() -> None:
    g.metrics_started = time.perf_counter()


@bp.after_app_request
async def count_request(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        metrics.observe_request(
            request.method, request.endpoint, response.status_code, time.perf_counter() - started
        )
    return response


@bp.get("/metrics")
async def scrape():
    token = current_app.config["MANAGELY"].metrics_token
    if not token:
        return Response("not found\n", status=404, content_type="text/plain")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(
            "unauthorized\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(await metrics.exposition(), content_type=metrics.CONTENT_TYPE)
