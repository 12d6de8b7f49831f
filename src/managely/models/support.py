"""Support: tickets and their threads, tags, canned replies, and the public contact form."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class Department(StrEnum):
    SALES = "sales"
    BILLING = "billing"
    TECHNICAL = "technical"
    GENERAL = "general"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"
    PENDING_STAFF = "pending_staff"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Tag(TimestampedModel):
    name = fields.CharField(max_length=32, unique=True)
    color = fields.CharField(max_length=16, default="gray")

    class Meta:
        table = "tags"


class SupportTicket(PublicModel):
    user = fields.ForeignKeyField("models.User", related_name="tickets", on_delete=fields.CASCADE)
    beneficiary = fields.ForeignKeyField(
        "models.ServiceBeneficiary", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    launch = fields.ForeignKeyField(
        "models.Launch", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    subject = fields.CharField(max_length=200)
    department = fields.CharEnumField(Department, max_length=16, default=Department.GENERAL)
    priority = fields.CharEnumField(TicketPriority, max_length=8, default=TicketPriority.NORMAL)
    status = fields.CharEnumField(TicketStatus, max_length=16, default=TicketStatus.OPEN)
    assignee = fields.ForeignKeyField(
        "models.User", related_name="assigned_tickets", null=True, on_delete=fields.SET_NULL
    )
    tags = fields.ManyToManyField(
        "models.Tag",
        related_name="tickets",
        through="support_ticket_tags",
        forward_key="tag_id",
        backward_key="ticket_id",
    )
    last_reply_at = fields.DatetimeField(null=True)
    # SLA targets, set from priority on creation; the first staff reply stops the first clock.
    first_response_due_at = fields.DatetimeField(null=True)
    first_response_at = fields.DatetimeField(null=True)
    resolution_due_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "support_tickets"
        indexes = (
            ("status", "department"),
            ("user_id", "status"),
            ("assignee_id", "status"),
        )


class TicketReply(PublicModel):
    ticket = fields.ForeignKeyField(
        "models.SupportTicket", related_name="replies", on_delete=fields.CASCADE
    )
    author = fields.ForeignKeyField(
        "models.User", related_name="ticket_replies", null=True, on_delete=fields.SET_NULL
    )
    body = fields.TextField()
    # A staff-only note: every customer-facing query must filter it out.
    is_internal = fields.BooleanField(default=False)

    class Meta:
        table = "ticket_replies"
        indexes = (("ticket_id", "created_at"),)


class TicketAttachment(PublicModel):
    reply = fields.ForeignKeyField(
        "models.TicketReply", related_name="attachments", on_delete=fields.CASCADE
    )
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=127)
    size_bytes = fields.BigIntField()
    storage_path = fields.CharField(max_length=512)
    sha256 = fields.CharField(max_length=64)

    class Meta:
        table = "ticket_attachments"


class CannedReply(TimestampedModel):
    title = fields.CharField(max_length=120)
    body_en = fields.TextField(default="")
    body_ar = fields.TextField(default="")
    department = fields.CharEnumField(Department, max_length=16, null=True)  # null: any

    class Meta:
        table = "canned_replies"


class AppContact(TimestampedModel):
    """A contact-form message from a visitor who may have no account."""

    name = fields.CharField(max_length=120)
    email = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=200)
    message = fields.TextField()
    ip = fields.CharField(max_length=45, default="")
    handled_at = fields.DatetimeField(null=True)
    handled_by = fields.ForeignKeyField(
        "models.User", related_name="handled_contacts", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "app_contacts"
        indexes = (("handled_at", "created_at"),)
