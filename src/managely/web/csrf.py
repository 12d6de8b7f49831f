"""CSRF: a per-session token every unsafe request must echo.

Forms carry it as the hidden ``csrf_token`` field; htmx sends it as ``X-CSRF-Token`` (set once
on ``<body hx-headers>``). Routes authenticated otherwise (webhooks, bearer-token API) are
marked with ``@csrf_exempt``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from quart import abort, current_app, g, request, session

from managely.crypto import constant_time_equal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    token = session.get(FIELD)
    if not token:
        token = session[FIELD] = secrets.token_urlsafe(32)
    return token


def csrf_exempt(view: Callable) -> Callable:
    view._csrf_exempt = True  # type: ignore[attr-defined]
    return view


def _api_call_without_session() -> bool:
    """A JSON API call that the browser's session does not authenticate: a bearer token is
    never sent by a browser on its own, and with no session there is nothing to forge (the
    API answers 401). A session-authenticated API call keeps the check."""
    if not request.path.startswith("/api/v1/"):
        return False
    return "Authorization" in request.headers or g.get("user") is None


async def check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "_csrf_exempt", False):
        return
    if _api_call_without_session():
        return
    expected = session.get(FIELD)
    sent = request.headers.get(HEADER)
    if sent is None:
        form = await request.form
        sent = form.get(FIELD)
    if not expected or not sent or not constant_time_equal(expected, sent):
        abort(400, description="csrf")
