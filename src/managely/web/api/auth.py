"""API authentication: exchange a personal token for a short-lived JWT; who am I."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint, g
from quart_schema import validate_request, validate_response

from managely.services import api_tokens
from managely.web.api.base import Strict, endpoint

bp = Blueprint("auth", __name__, url_prefix="/auth")
Scope = Literal["read", "write", "admin"]


class TokenRequest(Strict):
    scopes: list[Scope] | None = Field(default=None, max_length=3)


class TokenAnswer(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scopes: list[str]


class SessionUser(BaseModel):
    code: str
    email: str
    name: str
    locale: str | None


class SessionAnswer(BaseModel):
    user: SessionUser
    via: Literal["token", "jwt", "session"]
    scopes: list[str]
    permissions: list[str]


@bp.post("/token")
@endpoint("read")
@validate_request(TokenRequest)
@validate_response(TokenAnswer, 201)
async def issue_token(data: TokenRequest):
    """A short-lived JWT for the personal token sent (its scopes, or fewer)."""
    value, lifetime = api_tokens.issue_jwt(g.api, data.scopes)
    granted = sorted(data.scopes or g.api.scopes)
    return TokenAnswer(
        access_token=value,
        token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
        expires_in=lifetime,
        scopes=sorted(set(granted)),
    ), 201


@bp.get("/session")
@endpoint("read")
@validate_response(SessionAnswer)
async def check_session():
    """Who the credential sent acts as, and what it may do."""
    user = g.user
    return SessionAnswer(
        user=SessionUser(code=user.code, email=user.email, name=user.name, locale=user.locale),
        via=g.api.kind,
        scopes=sorted(g.api.scopes),
        permissions=sorted(g.permissions),
    )
