"""Live progress of an operation: a page, its widget alone, an SSE stream and JSON."""

from __future__ import annotations

from quart import Blueprint, g, render_template, request

from managely import i18n
from managely.services import bus, operations
from managely.services.errors import NotFound
from managely.web.auth import login_required
from managely.web.htmx import page_or_partial
from managely.web.sse import stream

bp = Blueprint("operations", __name__)
FINAL = {"succeeded", "failed", "cancelled"}


def _staff() -> bool:
    return "operations.view" in g.permissions


async def _operation(code: str):
    return await operations.get_operation_for_user(g.user, code, staff=_staff())


async def _context(operation, staff: bool) -> dict:
    """What the widget shows; staff also see the last log lines."""
    logs = await operations.logs_of(operation) if staff else []
    await operation.fetch_related("launch")
    return {
        "operation": operation,
        "steps": await operations.steps_of(operation),
        "logs": logs,
        "live": operation.status not in FINAL,
    }


@bp.get("/operations/<code>")
@login_required
async def page(code: str):
    operation = await _operation(code)
    return await page_or_partial(
        "operations/page.html", "operations/_progress.html", **await _context(operation, _staff())
    )


@bp.get("/operations/<code>/widget")
@login_required
async def widget(code: str):
    operation = await _operation(code)
    return await page_or_partial("operations/_progress.html", **await _context(operation, _staff()))


@bp.get("/operations/<code>/events")
@login_required
async def events(code: str):
    operation_id = (await _operation(code)).id  # 404 before the stream starts
    staff = _staff()  # read now: the stream runs after the view returns

    async def render() -> tuple[str, str, bool]:
        # Read afresh each time: a waiting stream keeps an id, not the rows it showed.
        context = await _context(await operations.get_operation(operation_id), staff)
        html = await render_template("operations/_progress.html", **context)
        last = context["logs"][-1].seq if context["logs"] else 0
        return html, f"{context['operation'].progress}-{last}", not context["live"]

    return stream(
        "progress",
        render,
        lambda: bus.subscribe(bus.channel_for("operation", code)),
        close_event="done",
        # What the widget's HTML depends on besides the operation: watchers alike share it.
        share_key=("operation", code, staff, i18n.current_locale(), i18n.uses_arabic_digits()),
    )


@bp.get("/system_creation_progress_status")
@login_required
async def progress_status():
    code = request.args.get("code", "")
    if not code:
        raise NotFound("missing code")
    operation = await _operation(code)
    context = await _context(operation, _staff())
    launch = operation.launch
    return {
        "code": operation.code,
        "kind": operation.kind,
        "status": operation.status,
        "progress": operation.progress,
        "current_step": operation.current_step,
        "steps": [{"name": s.name, "status": s.status} for s in context["steps"]],
        "error": operation.error_message,
        "system": {"code": launch.code, "status": launch.status, "url": launch.url}
        if launch
        else None,
    }
