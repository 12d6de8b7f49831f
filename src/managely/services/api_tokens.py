"""Personal API tokens for the JSON API: shown once, stored only as a keyed hash.

A token reads ``mgy_<random>``; its first characters are kept in clear so a list can tell
tokens apart. A revoked or expired token, or one whose owner is no longer active, opens nothing.
A token carries scopes (``read``, ``write``, ``admin``) and can be exchanged for a short-lived
JWT with the same or fewer scopes; revoking the token also ends its JWTs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from managely import crypto
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import ApiToken, User, UserStatus
from managely.services.accounts import now
from managely.services.errors import Forbidden, NotFound, ValidationError

TOKEN_PREFIX = "mgy_"  # noqa: S105 - a marker tokens start with, not a secret
SHOWN_PREFIX = 12  # "mgy_" and 8 random characters: enough to tell tokens apart
MAX_ACTIVE = 25
EXPIRY_DAYS = (7, 30, 90, 365)  # the choices offered; no expiry is allowed too
# Writing last_used_at on every API call would make each read a write.
LAST_USED_EVERY = timedelta(minutes=1)
SCOPES = ("read", "write", "admin")
DEFAULT_SCOPES = ("read", "write")
JWT_LIFETIME = timedelta(minutes=15)
JWT_AUDIENCE = "managely-api"
JWT_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Credential:
    """Who an API request acts as, through which token, allowed to do what."""

    user: User
    token: ApiToken | None  # None: the browser's own session
    scopes: frozenset[str]
    kind: str  # "token", "jwt" or "session"


def check_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes))
    if not chosen or any(scope not in SCOPES for scope in chosen):
        raise ValidationError(_l("Choose one or more of the offered scopes."), field="scopes")
    return chosen


def scopes_of(token: ApiToken) -> frozenset[str]:
    # Tokens made before scopes existed read and write, as they always did.
    return frozenset(token.scopes or DEFAULT_SCOPES)


def parse_expiry(days: str) -> datetime | None:
    """``""`` for a token that never expires, or one of ``EXPIRY_DAYS``."""
    days = days.strip()
    if not days:
        return None
    if not days.isdigit() or int(days) not in EXPIRY_DAYS:
        raise ValidationError(_l("Choose one of the offered expiry periods."), field="expires")
    return now() + timedelta(days=int(days))


async def create(
    user: User,
    *,
    name: str,
    expires_at: datetime | None = None,
    scopes: Iterable[str] = DEFAULT_SCOPES,
) -> tuple[ApiToken, str]:
    """A new token for ``user`` and its clear value, which is never stored or shown again."""
    name = name.strip()
    if not name:
        raise ValidationError(_l("%(field)s is required.", field=_l("Name")), field="name")
    if len(name) > 80:
        raise ValidationError(_l("%(field)s is too long.", field=_l("Name")), field="name")
    if expires_at is not None and expires_at <= now():
        raise ValidationError(_l("The expiry date must be in the future."), field="expires")
    chosen = check_scopes(scopes)
    if await ApiToken.filter(user=user, revoked_at=None).count() >= MAX_ACTIVE:
        raise ValidationError(
            _l("You have %(n)s tokens already. Revoke one you no longer use.", n=MAX_ACTIVE)
        )
    value = TOKEN_PREFIX + crypto.random_token(32)
    token = await ApiToken.create(
        user=user,
        name=name,
        token_hash=crypto.token_hash(value),
        prefix=value[:SHOWN_PREFIX],
        expires_at=expires_at,
        scopes=chosen,
    )
    return token, value


async def list_tokens(user: User) -> list[ApiToken]:
    """The tokens not revoked, newest first (expired ones stay listed, marked)."""
    return await ApiToken.filter(user=user, revoked_at=None).order_by("-created_at", "-id")


async def get_token_for_user(user: User, code: str) -> ApiToken:
    """The access helper for tokens: another customer's (or a revoked) one is not found."""
    found = await ApiToken.get_or_none(code=code, user=user, revoked_at=None)
    if found is None:
        raise NotFound(_l("Not found."))
    return found


async def revoke(user: User, code: str) -> ApiToken:
    token = await get_token_for_user(user, code)
    token.revoked_at = now()
    await token.save(update_fields=["revoked_at", "updated_at"])
    return token


def is_expired(token: ApiToken) -> bool:
    return token.expires_at is not None and token.expires_at <= now()


async def authenticate(value: str | None) -> User | None:
    """The active user a token belongs to, or None (unknown, revoked, expired, inactive)."""
    credential = await verify(value)
    return credential.user if credential else None


async def verify(value: str | None) -> Credential | None:
    """What a bearer value (a personal token or one of its JWTs) allows, or None."""
    if not value or len(value) > 2000:
        return None
    if value.startswith(TOKEN_PREFIX):
        if len(value) > 200:
            return None
        token = await ApiToken.get_or_none(token_hash=crypto.token_hash(value), revoked_at=None)
        return await _in_use(token, scopes_of(token) if token else frozenset(), "token")
    try:
        claims = jwt.decode(
            value,
            _jwt_key(),
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    except jwt.PyJWTError:
        return None
    token = await ApiToken.get_or_none(code=str(claims["sub"]), revoked_at=None)
    granted = frozenset(claims.get("scopes") or ()) & (scopes_of(token) if token else frozenset())
    return await _in_use(token, granted, "jwt")


async def _in_use(token: ApiToken | None, scopes: frozenset[str], kind: str) -> Credential | None:
    if token is None or is_expired(token) or not scopes:
        return None
    await token.fetch_related("user")
    if token.user.status != UserStatus.ACTIVE:
        return None
    if token.last_used_at is None or now() - token.last_used_at >= LAST_USED_EVERY:
        token.last_used_at = now()
        await token.save(update_fields=["last_used_at"])
    return Credential(token.user, token, scopes, kind)


def _jwt_key() -> bytes:
    return crypto.derive_key("api-jwt")


def issue_jwt(credential: Credential, scopes: Iterable[str] | None = None) -> tuple[str, int]:
    """A JWT for the personal token of ``credential``, valid ``JWT_LIFETIME``, carrying the
    asked scopes (all of the token's by default; never more)."""
    if credential.kind != "token" or credential.token is None:
        raise Forbidden(_l("Only a personal API token can be exchanged for a short-lived one."))
    chosen = set(check_scopes(scopes)) if scopes is not None else set(credential.scopes)
    if not chosen <= credential.scopes:
        raise Forbidden(_l("This token does not hold the requested scopes."))
    issued = now()
    claims = {
        "sub": credential.token.code,
        "aud": JWT_AUDIENCE,
        "iat": issued,
        "exp": issued + JWT_LIFETIME,
        "scopes": sorted(chosen),
    }
    return jwt.encode(claims, _jwt_key(), algorithm=JWT_ALGORITHM), int(
        JWT_LIFETIME.total_seconds()
    )
