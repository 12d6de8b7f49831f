"""Idempotency keys of the JSON API: an unsafe call sent again with the same key gets the
first answer back instead of acting twice.

Only successful answers are kept: a refused call changed nothing, so it may be retried with
the same key once the reason is gone. The same key with a different request is an error,
never a silent replay of something else.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from tortoise.exceptions import IntegrityError

from managely.i18n import lazy_gettext as _l
from managely.models.accounts import ApiIdempotencyKey, User
from managely.services.errors import ServiceError, ValidationError

MAX_KEY = 128


class KeyReused(ServiceError):
    status = 422
    code = "idempotency_key_reused"


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise ValidationError(
            _l("An idempotency key is 1 to %(n)s printable ASCII characters.", n=MAX_KEY),
            field="Idempotency-Key",
        )
    return key


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


async def replay(user: User, key: str, request_digest: str) -> tuple[int, Any] | None:
    """The stored answer to this key, or None when the key is new."""
    found = await ApiIdempotencyKey.get_or_none(user=user, key=key)
    if found is None:
        return None
    if found.request_hash != request_digest:
        raise KeyReused(_l("This idempotency key was already used for a different request."))
    return found.status_code, found.response


async def remember(
    user: User, key: str, method: str, path: str, request_digest: str, status: int, body: Any
) -> None:
    # A concurrent retry may store it first: its answer is this same request's.
    with contextlib.suppress(IntegrityError):
        await ApiIdempotencyKey.create(
            user=user,
            key=key,
            method=method,
            path=path[:255],
            request_hash=request_digest,
            status_code=status,
            response=body,
        )
