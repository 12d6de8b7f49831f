"""What every ``/api/v1`` call shares: who is asking, what their token allows, one error shape,
idempotency keys on unsafe calls, and the shapes the OpenAPI document states for all of them.

A call is authenticated by ``Authorization: Bearer <personal token or JWT>``, or else by the
browser's signed-in session (which keeps its CSRF check). Each view declares the scope it
needs (``read``, ``write``, ``admin``) and, for staff calls, the named permission; objects are
fetched through the same access helpers as the HTML routes, so a foreign one is a 404.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from quart import Blueprint, current_app, g, jsonify, request
from quart_schema.validation import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from managely import i18n
from managely.i18n import lazy_gettext as _l
from managely.services import accounts, api_idempotency, api_tokens, ratelimit
from managely.services.errors import Forbidden, NotFound, RateLimited, ServiceError, ValidationError

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Per token (or per signed-in user): generous for scripts, a stop for a runaway loop.
API_CALLS = ratelimit.Limit("api", 1200, 60)
IDEMPOTENCY_HEADER = "Idempotency-Key"
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class Unauthenticated(ServiceError):
    status = 401
    code = "unauthenticated"


class InsufficientScope(Forbidden):
    code = "insufficient_scope"


# --- shapes ---------------------------------------------------------------------------------


def _storable(value: str) -> str:
    # NUL and lone surrogates are valid JSON but no database column takes them.
    if "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("contains characters that cannot be stored")
    return value


Text = Annotated[str, AfterValidator(_storable)]
CODE_PATTERN = r"^[a-z0-9]{1,16}$"  # an object's public code (models.base.new_code)
CODE_RE = re.compile(CODE_PATTERN)
Code = Annotated[str, Field(pattern=CODE_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class PageQuery(Strict):
    cursor: str | None = Field(default=None, max_length=400)
    limit: int = Field(default=20, ge=1, le=100)


class PageInfo(BaseModel):
    next_cursor: str | None


# --- errors ---------------------------------------------------------------------------------


def error_response(status: int, code: str, message: object, field: str | None = None):
    detail: dict[str, Any] = {"code": code, "message": str(message)}
    if field:
        detail["field"] = field
    response = jsonify({"error": detail})
    response.status_code = status
    return response


@bp.errorhandler(ServiceError)
async def service_error(error: ServiceError):
    response = error_response(error.status, error.code, error.message, error.field)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.errorhandler(RequestSchemaValidationError)
async def invalid_request(error: RequestSchemaValidationError):
    field = None
    cause = error.validation_error
    if isinstance(cause, PydanticValidationError) and cause.errors():
        field = ".".join(str(part) for part in cause.errors()[0]["loc"]) or None
    return error_response(400, "invalid", _l("Some of the data sent is not valid."), field)


@bp.errorhandler(HTTPException)
async def http_error(error: HTTPException):
    from managely.web import CSRF_MESSAGE, ERROR_TITLES

    status = error.code or 500
    if status == 400 and error.description == "csrf":
        return error_response(400, "csrf_failed", CSRF_MESSAGE)
    message = ERROR_TITLES.get(status, ERROR_TITLES[400])
    return error_response(status, HTTP_CODES.get(status, "bad_request"), message)


@bp.errorhandler(Exception)
async def unexpected(error: Exception):
    from managely.web import ERROR_TITLES

    log.exception("unhandled API error on %s %s", request.method, request.path)
    return error_response(500, "server_error", ERROR_TITLES[500])


# --- who is asking --------------------------------------------------------------------------


@bp.before_request
async def authenticate() -> None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        credential = await api_tokens.verify(value.strip()) if scheme.lower() == "bearer" else None
        if credential is None:
            raise Unauthenticated(_l("This API token is not valid, has expired or was revoked."))
        g.user = credential.user
        g.permissions = await accounts.permissions_of(credential.user)
        _use_locale_of(credential.user)
    elif g.get("user") is not None:
        credential = api_tokens.Credential(g.user, None, frozenset(api_tokens.SCOPES), "session")
    else:
        raise Unauthenticated(_l("Send an API token: Authorization: Bearer <token>."))
    who = credential.token.code if credential.token else f"session-{credential.user.code}"
    await ratelimit.hit(API_CALLS, who)
    g.api = credential


def _use_locale_of(user) -> None:
    settings = current_app.config["MANAGELY"]
    locale = i18n.select_locale(
        user.locale, request.cookies.get("lang"), request.headers.get("Accept-Language", "")
    )
    i18n.set_locale(locale, user.arabic_digits or settings.arabic_digits)
    g.locale = locale


def endpoint(scope: str, *, permission: str | None = None) -> Callable:
    """Declare what a view needs: a token scope and, for staff calls, a named permission.
    Unsafe views also honour ``Idempotency-Key``."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        async def wrapper(*args, **kwargs):
            if scope not in g.api.scopes:
                raise InsufficientScope(
                    _l("This token does not have the %(scope)s scope.", scope=scope)
                )
            if permission is not None and permission not in g.permissions:
                raise Forbidden(_l("You do not have access to this."))
            if any(not CODE_RE.fullmatch(str(value)) for value in kwargs.values()):
                raise NotFound(_l("Not found."))  # no object has such a code
            if request.method in UNSAFE:
                await _check_body()
            if request.method in UNSAFE and IDEMPOTENCY_HEADER in request.headers:
                return await _idempotent(view, args, kwargs)
            return await view(*args, **kwargs)

        wrapper._api_scope = scope  # type: ignore[attr-defined]  # read by the route tests
        wrapper._api_permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorate


async def _check_body() -> None:
    try:
        (await request.get_data()).decode()
    except UnicodeDecodeError:
        raise ValidationError(_l("Some of the data sent is not valid.")) from None


async def _idempotent(view: Callable, args, kwargs):
    key = api_idempotency.check_key(request.headers[IDEMPOTENCY_HEADER])
    digest = api_idempotency.request_hash(
        request.method, request.full_path, await request.get_data()
    )
    stored = await api_idempotency.replay(g.user, key, digest)
    if stored is not None:
        response = jsonify(stored[1])
        response.status_code = stored[0]
        response.headers["Idempotent-Replayed"] = "true"
        return response
    response = await current_app.make_response(await view(*args, **kwargs))
    if 200 <= response.status_code < 300 and response.is_json:
        body = await response.get_json()
        await api_idempotency.remember(
            g.user, key, request.method, request.path, digest, response.status_code, body
        )
    return response
