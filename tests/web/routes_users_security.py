"""Route-test entries for the staff users and security screens (see tests/web/routes.py)."""

from __future__ import annotations

from managely.models.accounts import User


async def _own_account(owner: User) -> dict[str, str]:
    return {"code": owner.code}


async def _own_session(owner: User) -> dict[str, str]:
    from managely.services import accounts

    session = await accounts.start_session(owner, ip="192.0.2.8", user_agent="Firefox/140.0")
    return {"code": owner.code, "session": session.code}


OWNED_OBJECTS = {
    "admin.user_detail": _own_account,
    "admin.lock_user": _own_account,
    "admin.reset_two_factor": _own_account,
    "admin.change_roles": _own_account,
    "admin.impersonate": _own_account,
    "admin.revoke_user_session": _own_session,
}

VALID_FORMS = {
    "admin.change_roles": {"roles": "customer"},
    "admin.lock_user": {"action": "lock", "reason": "route test"},
}
