"""Support tickets for staff: a filtered list, the whole thread with internal notes, a reply
(public, which emails the customer, or an internal note), and status/assignee/tags."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from managely.i18n import gettext as _
from managely.models.support import Department, TicketStatus
from managely.services import support
from managely.services.errors import ServiceError
from managely.web.auth import client_ip, permission_required
from managely.web.htmx import page_or_partial
from managely.web.support import form_errors, read_uploads

bp = Blueprint("admin_support", __name__, url_prefix="/admin/support")
LIST, TABLE, DETAIL = "support/admin_list.html", "support/_admin_table.html", "support/admin.html"


@bp.get("")
@permission_required("support.view")
async def tickets():
    filters = support.TicketFilters(
        status=request.args.get("status", ""), department=request.args.get("department", "")
    )
    return await page_or_partial(
        LIST,
        TABLE,
        tickets=await support.list_for_staff(filters),
        filters=filters,
        statuses=list(TicketStatus),
        departments=list(Department),
    )


@bp.get("/<code>")
@permission_required("support.view")
async def detail(code: str):
    ticket = await support.get_ticket_for_staff(code)
    return await page_or_partial(DETAIL, **await _context(ticket, {}, {}))


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
    ticket = await support.get_ticket_for_staff(code)
    form = await request.form
    try:
        await support.update_ticket(
            g.user,
            ticket,
            status=form.get("status", ""),
            assignee_code=form.get("assignee", ""),
            tags=form.get("tags", ""),
            ip=client_ip(),
        )
    except ServiceError as error:
        ticket = await support.get_ticket_for_staff(code)  # show what is saved, not the attempt
        return await page_or_partial(
            DETAIL, status_code=error.status, **await _context(ticket, form_errors(error), {})
        )
    await flash(_("Ticket updated."), "success")
    return redirect(url_for("admin_support.detail", code=code))


async def _context(ticket, errors: dict[str, str], form: dict) -> dict:
    return {
        "ticket": ticket,
        "replies": await support.thread(ticket, staff=True),
        "staff_view": True,
        "errors": errors,
        "form": form,
        "statuses": list(TicketStatus),
        "staff": await support.staff_members(),
        "tags_text": ", ".join(tag.name for tag in ticket.tags),
        "max_files": support.MAX_FILES,
        "max_mb": support.MAX_FILE_BYTES >> 20,
    }
