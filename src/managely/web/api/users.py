"""Staff: the users, newest first, searchable (``get_users``); ``users.view`` and the
``admin`` scope."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from managely.services import admin
from managely.web.api.base import PageInfo, Strict, Text, endpoint

bp = Blueprint("users", __name__, url_prefix="/users")


class UserQuery(Strict):
    q: Text = Field(default="", max_length=100)
    cursor: str | None = Field(default=None, pattern="^[0-9]{1,19}$")


class UserOut(BaseModel):
    code: str
    email: str
    name: str
    status: str
    roles: list[str]
    created_at: datetime


class UserList(BaseModel):
    items: list[UserOut]
    page: PageInfo


@bp.get("")
@endpoint("admin", permission="users.view")
@validate_querystring(UserQuery)
@validate_response(UserList)
async def get_users(query_args: UserQuery):
    """Every user, newest first; ``q`` searches email and name."""
    page = await admin.list_users(query=query_args.q.strip(), cursor=query_args.cursor or "")
    return UserList(
        items=[
            UserOut(
                code=user.code,
                email=user.email,
                name=user.name,
                status=str(user.status),
                roles=sorted(link.role.name for link in user.user_roles),
                created_at=user.created_at,
            )
            for user in page.users
        ],
        page=PageInfo(next_cursor=page.next_cursor or None),
    )
