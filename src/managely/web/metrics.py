"""``/metrics`` in Prometheus text format, behind a bearer token."""

from __future__ import annotations

from quart import Blueprint

bp = Blueprint("metrics", __name__)
