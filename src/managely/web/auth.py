"""Who is asking: load the signed-in user once per request, and gate views on it.

``login_required`` sends anonymous visitors to the sign-in page; ``permission_required``
answers 403 to a signed-in user whose roles lack the named permission.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from quart import abort, g, redirect, request, url_for
from quart_auth import AuthUser, QuartAuth, current_user, login_user, logout_user

from managely.models.accounts import User
from managely.services import accounts, admin_users, platform

auth = QuartAuth()
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def client_ip() -> str:
    # Behind the load balancer hypercorn's ProxyFixMiddleware sets remote_addr from X-Forwarded-For.
    return request.remote_addr or ""


def user_agent() -> str:
    return request.headers.get("User-Agent", "")[:255]


async def load_user() -> None:
    g.user, g.session_code, g.permissions = None, None, frozenset()
    g.impersonator = None
    found = await accounts.session_user(current_user.auth_id)
    if found is None:
        return
    session_row, user = found
    if session_row.impersonator_user_id is not None:
        # Staff acting as this customer: the session is the customer's, with the customer's
        # permissions only. A staff member locked meanwhile ends it.
        g.impersonator = await admin_users.impersonator_of(session_row)
        if g.impersonator is None:
            return
        platform.acting_impersonator.set(g.impersonator)
    g.user, g.session_code = user, session_row.code
    g.permissions = await accounts.permissions_of(user)


async def sign_in(user: User) -> None:
    session_row = await accounts.start_session(user, ip=client_ip(), user_agent=user_agent())
    login_user(AuthUser(session_row.code), remember=True)


async def sign_out() -> None:
    if g.get("session_code"):
        await accounts.end_session(g.session_code)
    logout_user()


def _to_login():
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    async def wrapper(*args, **kwargs):
        if g.get("user") is None:
            return _to_login()
        return await view(*args, **kwargs)

    wrapper._login_required = True  # type: ignore[attr-defined]  # read by the route tests
    return wrapper


def permission_required(permission: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        async def wrapper(*args, **kwargs):
            if g.get("user") is None:
                return _to_login()
            if permission not in g.permissions:
                abort(403)
            return await view(*args, **kwargs)

        wrapper._permission = permission  # type: ignore[attr-defined]  # read by the route tests
        return wrapper

    return decorate


async def audit_impersonated_change(response):
    """Staff acting as a customer: every change they make (an unsafe request that went
    through) is audited under both names, whatever the route's service audits itself."""
    impersonator = g.get("impersonator")
    if impersonator is not None and request.method in UNSAFE and response.status_code < 400:
        await platform.audit(
            g.user,
            "impersonation.request",
            g.user,
            after={"method": request.method, "path": request.path, "status": response.status_code},
            ip=client_ip(),
            impersonator=impersonator,
        )
    return response
