"""The staff support desk: queues by status, department and assignee with their counts, the
whole thread live (internal notes included), replies and notes, status, assignee, tags, SLA
clocks, and canned replies.

``support.view`` sees, ``support.reply`` answers and moves the status, ``support.manage``
assigns, tags and keeps the canned replies. Every change is audited by the service.
"""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from managely.i18n import gettext as _
from managely.models.support import Department, TicketPriority, TicketStatus
from managely.services import support, support_desk
from managely.services.errors import ServiceError
from managely.web.auth import client_ip, permission_required
from managely.web.htmx import page_or_partial
from managely.web.support import (
    error_page,
    error_titles,
    form_errors,
    live_thread,
    read_uploads,
    upload_limit_error,
)

bp = Blueprint("admin_support", __name__, url_prefix="/admin/support")
LIST, TABLE, DETAIL = "support/admin_list.html", "support/_admin_table.html", "support/admin.html"
REPLIES = "support/_replies.html"
CANNED, CANNED_EDIT = "support/canned.html", "support/canned_edit.html"
CANNED_FIELDS = ("title", "body_en", "body_ar", "department")


@bp.get("")
@permission_required("support.view")
async def tickets():
    filters = support_desk.Queue(
        status=request.args.get("status", "")[:32],
        department=request.args.get("department", "")[:32],
        assignee=request.args.get("assignee", "")[:8],
    )
    found = await support_desk.queue(filters, g.user)
    return await page_or_partial(
        LIST,
        TABLE,
        tickets=found,
        sla={t.id: support_desk.sla_clocks(t) for t in found},
        counts=await support_desk.queue_counts(),
        filters=filters,
        statuses=list(TicketStatus),
        departments=list(Department),
    )


@bp.get("/<code>")
@permission_required("support.view")
async def detail(code: str):
    ticket = await support.get_ticket_for_staff(code)
    form = {}
    if request.args.get("canned"):
        canned = await support_desk.get_canned(request.args["canned"][:20])
        form["message"] = support_desk.canned_body(canned, ticket.user.locale or "en")
    return await page_or_partial(DETAIL, **await _context(ticket, {}, form))


@bp.get("/<code>/replies")
@permission_required("support.view")
async def replies(code: str):
    """The thread alone, notes included: the polling fallback of the live thread."""
    ticket = await support.get_ticket_for_staff(code)
    return await page_or_partial(REPLIES, **await _replies_context(ticket))


@bp.get("/<code>/events")
@permission_required("support.view")
async def events(code: str):
    """The staff thread (internal notes included) over SSE on every change."""
    ticket = await support.get_ticket_for_staff(code)
    last_seen = request.headers.get("Last-Event-ID", "")

    async def render() -> tuple[str, str, bool]:
        await ticket.refresh_from_db()
        context = await _replies_context(ticket)
        html = await render_template(REPLIES, **context)
        return html, context["event_id"], ticket.status == TicketStatus.CLOSED

    return live_thread(code, render, last_seen)


@bp.post("/<code>/reply")
@permission_required("support.reply")
async def reply(code: str):
    ticket = await support.get_ticket_for_staff(code)
    form = await request.form
    message, internal = form.get("message", ""), form.get("internal") == "1"
    try:
        await support.add_reply(
            ticket, g.user, message, await read_uploads(), staff=True, internal=internal
        )
    except ServiceError as error:
        context = await _context(
            ticket, form_errors(error), {"message": message, "internal": internal}
        )
        return await page_or_partial(DETAIL, status_code=error.status, **context)
    notice = _("Internal note saved.") if internal else _("Reply sent to the customer.")
    await flash(notice, "success")
    return redirect(url_for("admin_support.detail", code=code))


@bp.post("/<code>/update")
@permission_required("support.reply")
async def update(code: str):
    """Move the ticket to another status."""
    return await _change(code, support_desk.set_status, "status")


@bp.post("/<code>/assign")
@permission_required("support.manage")
async def assign(code: str):
    return await _change(code, support_desk.assign, "assignee")


@bp.post("/<code>/tags")
@permission_required("support.manage")
async def add_tags(code: str):
    return await _change(code, support_desk.add_tags, "tags")


@bp.post("/<code>/tags/remove")
@permission_required("support.manage")
async def remove_tag(code: str):
    return await _change(code, support_desk.remove_tag, "tag")


async def _change(code: str, change, field: str):
    ticket = await support.get_ticket_for_staff(code)
    value = (await request.form).get(field, "")[:400]
    try:
        await change(g.user, ticket, value, ip=client_ip())
    except ServiceError as error:
        ticket = await support.get_ticket_for_staff(code)  # show what is saved, not the attempt
        return await page_or_partial(
            DETAIL, status_code=error.status, **await _context(ticket, form_errors(error), {})
        )
    await flash(_("Ticket updated."), "success")
    return redirect(url_for("admin_support.detail", code=code))


# --- canned replies -----------------------------------------------------------------------


@bp.route("/canned", methods=["GET", "POST"])
@permission_required("support.manage")
async def canned():
    return await _canned_form(None, CANNED, replies=await support_desk.canned_replies())


@bp.route("/canned/<canned_id>", methods=["GET", "POST"])
@permission_required("support.manage")
async def edit_canned(canned_id: str):
    found = await support_desk.get_canned(canned_id)
    return await _canned_form(found, CANNED_EDIT, canned=found)


async def _canned_form(found, page: str, **context):
    """A new canned reply (``found`` None) or an edit of one: show, or save and go back."""
    data = {name: getattr(found, name) or "" for name in CANNED_FIELDS} if found else {}
    errors, status = {}, 200
    if request.method == "POST":
        form = await request.form
        data = {name: form.get(name, "")[:25_000] for name in CANNED_FIELDS}
        try:
            await support_desk.save_canned(g.user, found, **data, ip=client_ip())
        except ServiceError as error:
            errors, status = form_errors(error), error.status
        else:
            await flash(_("Canned reply saved."), "success")
            return redirect(url_for("admin_support.canned"))
    return await page_or_partial(
        page, status_code=status, form=data, errors=errors, departments=list(Department), **context
    )


@bp.post("/canned/<canned_id>/delete")
@permission_required("support.manage")
async def delete_canned(canned_id: str):
    found = await support_desk.get_canned(canned_id)
    await support_desk.delete_canned(g.user, found, ip=client_ip())
    await flash(_("Canned reply deleted."), "success")
    return redirect(url_for("admin_support.canned"))


@bp.errorhandler(RequestEntityTooLarge)
async def too_large(error: RequestEntityTooLarge):
    """Past the app-wide body limit, the staff reply form shows the attachment limit."""
    if request.endpoint == "admin_support.reply" and "support.reply" in g.permissions:
        try:
            ticket = await support.get_ticket_for_staff((request.view_args or {}).get("code", ""))
        except ServiceError as problem:
            return await error_page(problem.status, problem.message)
        context = await _context(ticket, upload_limit_error(), {})
        return await page_or_partial(DETAIL, status_code=413, **context)
    return await error_page(413, error_titles()[413])


async def _replies_context(ticket) -> dict:
    thread = await support.thread(ticket, staff=True)
    return {
        "ticket": ticket,
        "replies": thread,
        "staff_view": True,
        "event_id": thread[-1].code if thread else ticket.code,
        "live": ticket.status != TicketStatus.CLOSED,
    }


async def _context(ticket, errors: dict[str, str], form: dict) -> dict:
    return {
        **await _replies_context(ticket),
        "errors": errors,
        "form": form,
        "statuses": list(TicketStatus),
        "priorities": list(TicketPriority),
        "staff": await support.staff_members(),
        "sla": support_desk.sla_clocks(ticket),
        "canned_replies": await support_desk.canned_replies(ticket.department),
        "max_files": support.MAX_FILES,
        "max_mb": support.MAX_FILE_BYTES >> 20,
    }
