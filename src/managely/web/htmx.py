"""Page or partial: one helper decides from the ``HX-Request`` header, never from ids."""

from __future__ import annotations

from quart import Response, make_response, render_template, request


def is_htmx() -> bool:
    # A boosted navigation wants the whole page, like a normal click.
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")


async def page_or_partial(
    page_template: str,
    partial_template: str | None = None,
    /,
    status_code: int = 200,
    **context: object,
) -> Response:
    """Render the partial for htmx requests and the page (which includes it) otherwise."""
    name = partial_template if partial_template and is_htmx() else page_template
    response = await make_response(await render_template(name, **context), status_code)
    response.vary.add("HX-Request")
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: ``/x`` yes, ``//evil`` or ``https://evil`` no."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target
