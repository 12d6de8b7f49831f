"""The JSON API under ``/api/v1``: its own blueprints, the same services as the HTML routes."""

from __future__ import annotations

from quart import Quart
from quart_schema import QuartSchema

from managely.web.api import (
    addons,
    auth,
    base,
    invoices,
    operations,
    subscriptions,
    support,
    systems,
    users,
    wallet,
)
from managely.web.api.openapi import ApiOpenAPIProvider

# Nested once, at import: every area's routes share the parent's authentication and errors.
for _area in (auth, systems, operations, subscriptions, wallet, invoices, support, addons, users):
    base.bp.register_blueprint(_area.bp)


def register(app: Quart) -> None:
    """Wire the API's blueprints (and its schema extension) into the app."""
    app.register_blueprint(base.bp)
    QuartSchema(
        app,
        openapi_path="/api/v1/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info={"title": "Managely API", "version": "1"},
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        openapi_provider_class=ApiOpenAPIProvider,
    )
