"""Form plumbing shared by blueprints: read fields, show a service error next to its field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Response, abort, flash, redirect, request

from managely.services.errors import ServiceError
from managely.web.htmx import page_or_partial


async def form_fields(*names: str) -> dict[str, str]:
    form = await request.form
    return {name: form.get(name, "") for name in names}


async def form_error(
    page: str, error: ServiceError, partial: str | None = None, /, **context: object
) -> Response:
    """Re-render a form with the error attached to its field (or above the form)."""
    errors = {error.field or "__all__": str(error)}
    response = await page_or_partial(
        page, partial, status_code=error.status, errors=errors, **context
    )
    if error.status == 429:
        response.headers["Retry-After"] = str(getattr(error, "retry_after", 60))
    return response


async def act_and_redirect(action: Callable[[], Awaitable[object]], success: str, target: str):
    """Run a staff action, flash its outcome (the service's own message when it refuses it)
    and go back to ``target``: the shape of every button that acts and returns."""
    try:
        await action()
    except ServiceError as error:
        await flash(str(error), "error")
    else:
        await flash(success, "success")
    return redirect(target)


async def refuse_nul_bytes() -> None:
    """A NUL character is never text anyone typed, and PostgreSQL refuses it in any string
    (a 500 at the first query): answer 400 for any query argument or form field holding one."""
    values = list(request.args.values())
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        values += (await request.form).values()
    if any("\x00" in value for value in values):
        abort(400)
