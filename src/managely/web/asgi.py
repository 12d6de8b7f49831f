"""The ASGI entry point for ``hypercorn managely.web.asgi:app``."""

from managely.web import create_app

app = create_app()
