"""Support tickets: list, open one, read its thread (no internal notes), reply."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint, g
from quart_schema import validate_querystring, validate_request, validate_response

from managely.models.support import SupportTicket
from managely.services import listings, support
from managely.web.api.base import Code, PageInfo, PageQuery, Strict, Text, endpoint

bp = Blueprint("support", __name__, url_prefix="/tickets")


class TicketOut(BaseModel):
    code: str
    subject: str
    department: str
    priority: str
    status: str
    system: str | None
    created_at: datetime


class ReplyOut(BaseModel):
    code: str
    author: str
    by_customer: bool
    body: str
    created_at: datetime


class TicketDetail(TicketOut):
    replies: list[ReplyOut]


class TicketList(BaseModel):
    items: list[TicketOut]
    page: PageInfo


class NewTicket(Strict):
    subject: Text = Field(max_length=support.MAX_SUBJECT)
    message: Text = Field(max_length=support.MAX_MESSAGE)
    department: Literal["sales", "billing", "technical", "general"] = "general"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    system: Code | None = None


class NewReply(Strict):
    message: Text = Field(max_length=support.MAX_MESSAGE)


def _out(ticket: SupportTicket) -> TicketOut:
    return TicketOut(
        code=ticket.code,
        subject=ticket.subject,
        department=str(ticket.department),
        priority=str(ticket.priority),
        status=str(ticket.status),
        system=ticket.launch.code if ticket.launch else None,
        created_at=ticket.created_at,
    )


@bp.get("")
@endpoint("read")
@validate_querystring(PageQuery)
@validate_response(TicketList)
async def list_tickets(query_args: PageQuery):
    """The customer's tickets, newest first."""
    page = await listings.tickets(g.user, query_args.cursor, query_args.limit)
    return TicketList(
        items=[_out(ticket) for ticket in page.items], page=PageInfo(next_cursor=page.next_cursor)
    )


@bp.post("")
@endpoint("write")
@validate_request(NewTicket)
@validate_response(TicketOut, 201)
async def create_ticket(data: NewTicket):
    """Open a ticket with its first message."""
    ticket = await support.create_ticket(
        g.user,
        subject=data.subject,
        department=data.department,
        priority=data.priority,
        message=data.message,
        launch_code=data.system or "",
    )
    return _out(await support.get_ticket_for_user(g.user, ticket.code)), 201


@bp.get("/<code>")
@endpoint("read")
@validate_response(TicketDetail)
async def get_ticket(code: str):
    """One ticket and its public thread."""
    ticket = await support.get_ticket_for_user(g.user, code)
    replies = await support.thread(ticket, staff=False)
    return TicketDetail(
        **_out(ticket).model_dump(),
        replies=[
            ReplyOut(
                code=reply.code,
                author=reply.author.name if reply.author else "",
                by_customer=reply.author_id == ticket.user_id,
                body=reply.body,
                created_at=reply.created_at,
            )
            for reply in replies
        ],
    )


@bp.post("/<code>/replies")
@endpoint("write")
@validate_request(NewReply)
@validate_response(TicketOut, 201)
async def reply_ticket(code: str, data: NewReply):
    """Add a reply to the thread."""
    ticket = await support.get_ticket_for_user(g.user, code)
    await support.add_reply(ticket, g.user, data.message)
    return _out(await support.get_ticket_for_user(g.user, code)), 201
