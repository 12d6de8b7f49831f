"""Support tickets in the customer panel: open one, follow the thread live, reply, download.

Every ticket is fetched through ``get_ticket_for_user``: another customer's ticket is a 404.
Attachment downloads also serve staff holding ``support.view``.
"""

from __future__ import annotations

import asyncio
import unicodedata
from urllib.parse import quote

from quart import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from managely.i18n import gettext as _
from managely.models.support import Department, TicketPriority, TicketStatus
from managely.services import bus, support
from managely.services.errors import ServiceError
from managely.web.auth import login_required
from managely.web.htmx import page_or_partial
from managely.web.sse import stream

bp = Blueprint("support", __name__)
LIST, NEW, DETAIL = "support/list.html", "support/new.html", "support/detail.html"
REPLIES = "support/_replies.html"


@bp.get("/panel/support")
@login_required
async def tickets():
    return await page_or_partial(LIST, tickets=await support.tickets_of(g.user))


@bp.get("/panel/support/new")
@login_required
async def new():
    return await page_or_partial(NEW, **await _new_context({}, {}))


@bp.post("/support_ticket")
@login_required
async def create():
    form = await request.form
    data = {k: form.get(k, "") for k in ("subject", "department", "priority", "launch", "message")}
    try:
        ticket = await support.create_ticket(
            g.user,
            subject=data["subject"],
            department=data["department"],
            priority=data["priority"],
            message=data["message"],
            launch_code=data["launch"],
            uploads=await read_uploads(),
        )
    except ServiceError as error:
        context = await _new_context(data, form_errors(error))
        return await page_or_partial(NEW, status_code=error.status, **context)
    await flash(_("Your request was sent. We will answer here and by email."), "success")
    return redirect(url_for("support.detail", code=ticket.code))


@bp.get("/panel/support/<code>")
@login_required
async def detail(code: str):
    ticket = await support.get_ticket_for_user(g.user, code)
    return await page_or_partial(DETAIL, **await _detail_context(ticket, {}, ""))


@bp.get("/panel/support/<code>/replies")
@login_required
async def replies(code: str):
    """The thread alone: the polling fallback of the live thread."""
    ticket = await support.get_ticket_for_user(g.user, code)
    return await page_or_partial(REPLIES, **await _replies_context(ticket))


@bp.post("/panel/support/<code>/reply")
@login_required
async def reply(code: str):
    ticket = await support.get_ticket_for_user(g.user, code)
    message = (await request.form).get("message", "")
    try:
        await support.add_reply(ticket, g.user, message, await read_uploads())
    except ServiceError as error:
        context = await _detail_context(ticket, form_errors(error), message)
        return await page_or_partial(DETAIL, status_code=error.status, **context)
    await flash(_("Your reply was sent."), "success")
    return redirect(url_for("support.detail", code=code))


@bp.get("/panel/support/<code>/events")
@login_required
async def events(code: str):
    """The thread pushed over SSE on every change; a closed ticket ends the stream."""
    ticket = await support.get_ticket_for_user(g.user, code)
    last_seen = request.headers.get("Last-Event-ID", "")

    async def render() -> tuple[str, str, bool]:
        await ticket.refresh_from_db()
        context = await _replies_context(ticket)
        html = await render_template(REPLIES, **context)
        return html, context["event_id"], ticket.status == TicketStatus.CLOSED

    return live_thread(code, render, last_seen)


@bp.get("/panel/support/<code>/attachments/<attachment>")
@login_required
async def attachment(code: str, attachment: str):
    staff = "support.view" in g.permissions
    found, path = await support.get_attachment(g.user, code, attachment, staff=staff)
    return download(found, await asyncio.to_thread(path.read_bytes))


@bp.errorhandler(RequestEntityTooLarge)
async def too_large(error: RequestEntityTooLarge):
    """A body past the app-wide limit is refused before the view runs: the ticket and reply
    forms say what the attachment limit is instead of the bare 413 page. Nothing is saved."""
    if request.endpoint == "support.create" and g.user is not None:
        context = await _new_context({}, upload_limit_error())
        return await page_or_partial(NEW, status_code=413, **context)
    if request.endpoint == "support.reply" and g.user is not None:
        code = (request.view_args or {}).get("code", "")
        try:
            ticket = await support.get_ticket_for_user(g.user, code)
        except ServiceError as problem:
            return await error_page(problem.status, problem.message)
        context = await _detail_context(ticket, upload_limit_error(), "")
        return await page_or_partial(DETAIL, status_code=413, **context)
    return await error_page(413, error_titles()[413])


# --- shared with the staff blueprint -------------------------------------------------------


def upload_limit_error() -> dict[str, str]:
    return {
        "attachments": _(
            "The files are too large. Attach up to %(files)s files of %(mb)s MB each.",
            files=support.MAX_FILES,
            mb=support.MAX_FILE_BYTES >> 20,
        )
    }


async def error_page(status: int, message: object):
    from managely.web import _error_page  # the app's own error page; it imports this module

    return await _error_page(status, message)


def error_titles() -> dict:
    from managely.web import ERROR_TITLES

    return ERROR_TITLES


async def read_uploads() -> list[support.Upload]:
    """The ``attachments`` files, each read at most one byte past the limit."""
    files = await request.files
    return [
        support.Upload(storage.filename or "", storage.read(support.MAX_FILE_BYTES + 1))
        for storage in files.getlist("attachments")
    ]


def form_errors(error: ServiceError) -> dict[str, str]:
    found = getattr(error, "errors", None) or {error.field or "__all__": error.message}
    return {field: str(message) for field, message in found.items()}


def download(found, content: bytes) -> Response:
    """Always a download, never rendered: the browser must not guess another type."""
    content_type = found.content_type
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    response = Response(content, content_type=content_type)
    fallback = unicodedata.normalize("NFKD", found.filename).encode("ascii", "ignore").decode()
    fallback = "".join(c for c in fallback if c not in '"\\;') or "attachment"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(found.filename)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def live_thread(code: str, render, last_seen: str = "") -> Response:
    """The thread on connect (unless ``Last-Event-ID`` says the client has it) and on each
    change; when the ticket closes, a ``closed`` event tells htmx to stop listening."""
    return stream(
        "replies",
        render,
        lambda: bus.subscribe(bus.channel_for("ticket", code)),
        close_event="closed",
        last_event_id=last_seen,
    )


async def _new_context(data: dict[str, str], errors: dict[str, str]) -> dict:
    return {
        "form": data,
        "errors": errors,
        "departments": list(Department),
        "priorities": list(TicketPriority),
        "systems": await support.launch_choices(g.user),
        "max_files": support.MAX_FILES,
        "max_mb": support.MAX_FILE_BYTES >> 20,
    }


async def _replies_context(ticket) -> dict:
    thread = await support.thread(ticket, staff=False)
    return {
        "ticket": ticket,
        "replies": thread,
        "staff_view": False,
        # Replies are never edited: the newest one's code tells what the client has.
        "event_id": thread[-1].code if thread else ticket.code,
        "live": ticket.status != TicketStatus.CLOSED,
    }


async def _detail_context(ticket, errors: dict[str, str], message: str) -> dict:
    return {
        **await _replies_context(ticket),
        "errors": errors,
        "message": message,
        "max_files": support.MAX_FILES,
        "max_mb": support.MAX_FILE_BYTES >> 20,
    }
