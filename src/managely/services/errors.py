"""Errors services raise; the web layer maps each kind to one status and a translated message.

Messages are lazy strings, so they render in whichever locale is current where they are shown.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: object, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class ValidationError(ServiceError):
    status = 400
    code = "invalid"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: object, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
