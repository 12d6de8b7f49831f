"""Personal API tokens for the JSON API: shown once, stored only as a keyed hash.

A token reads ``mgy_<random>``; its first characters are kept in clear so a list can tell
tokens apart. A revoked or expired token, or one whose owner is no longer active, opens nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from managely import crypto
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import ApiToken, User, UserStatus
from managely.services.accounts import now
from managely.services.errors import NotFound, ValidationError

TOKEN_PREFIX = "mgy_"  # noqa: S105 - a marker tokens start with, not a secret
SHOWN_PREFIX = 12  # "mgy_" and 8 random characters: enough to tell tokens apart
MAX_ACTIVE = 25
EXPIRY_DAYS = (7, 30, 90, 365)  # the choices offered; no expiry is allowed too
# Writing last_used_at on every API call would make each read a write.
LAST_USED_EVERY = timedelta(minutes=1)


def parse_expiry(days: str) -> datetime | None:
    """``""`` for a token that never expires, or one of ``EXPIRY_DAYS``."""
    days = days.strip()
    if not days:
        return None
    if not days.isdigit() or int(days) not in EXPIRY_DAYS:
        raise ValidationError(_l("Choose one of the offered expiry periods."), field="expires")
    return now() + timedelta(days=int(days))


async def create(
    user: User, *, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``user`` and its clear value, which is never stored or shown again."""
    name = name.strip()
    if not name:
        raise ValidationError(_l("%(field)s is required.", field=_l("Name")), field="name")
    if len(name) > 80:
        raise ValidationError(_l("%(field)s is too long.", field=_l("Name")), field="name")
    if expires_at is not None and expires_at <= now():
        raise ValidationError(_l("The expiry date must be in the future."), field="expires")
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
    if not value or not value.startswith(TOKEN_PREFIX) or len(value) > 200:
        return None
    token = await ApiToken.get_or_none(
        token_hash=crypto.token_hash(value), revoked_at=None
    ).prefetch_related("user")
    if token is None or is_expired(token) or token.user.status != UserStatus.ACTIVE:
        return None
    if token.last_used_at is None or now() - token.last_used_at >= LAST_USED_EVERY:
        token.last_used_at = now()
        await token.save(update_fields=["last_used_at"])
    return token.user
