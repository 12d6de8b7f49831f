"""Password hashing (argon2), secrets at rest (Fernet) and lookup hashes for tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from managely.settings import get_settings

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def _derive(purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"managely", info=purpose)
    return hkdf.derive(get_settings().secret_key.encode())


def derive_key(purpose: str) -> bytes:
    """A 32-byte key for one purpose (e.g. signing API JWTs), derived from the secret key."""
    return _derive(purpose.encode())


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(b"secrets-at-rest")))


def encrypt(plaintext: str) -> str:
    return _fernet(get_settings().secret_key).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(get_settings().secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("cannot decrypt: wrong secret key or damaged value") from None


def token_hash(token: str) -> str:
    """Keyed hash for looking up tokens and codes we must not store in clear."""
    key = _derive(b"token-lookup")
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def random_digits(length: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))
