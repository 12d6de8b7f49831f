"""The JSON API under ``/api/v1``: its own blueprints, the same services as the HTML routes."""

from __future__ import annotations

from quart import Quart


def register(app: Quart) -> None:
    """Wire the API's blueprints (and its schema extension) into the app."""
