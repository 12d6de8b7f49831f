"""Platform: audit trail, announcements, settings, GeoIP rules, email outbox, clock runs."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.i18n import Stored
from managely.models.base import PublicModel, TimestampedModel


class AuditLog(TimestampedModel):
    actor = fields.ForeignKeyField(
        "models.User", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    # Set when staff act while impersonating: actor is the customer, this is the staff member.
    impersonator = fields.ForeignKeyField(
        "models.User", related_name="impersonated_entries", null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=48, default="")
    target_id = fields.CharField(max_length=64, default="")
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)
    reason = fields.TextField(default="")
    ip = fields.CharField(max_length=45, default="")

    class Meta:
        table = "audit_log"
        indexes = (("action", "created_at"), ("target_type", "target_id"))


class Announcement(PublicModel):
    title_en = fields.CharField(max_length=200)
    title_ar = fields.CharField(max_length=200)
    body_en = fields.TextField(default="")
    body_ar = fields.TextField(default="")
    level = fields.CharField(max_length=16, default="info")
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "announcements"


class PlatformSetting(TimestampedModel):
    """Settings staff change at run time (maintenance mode, pool sizes…); env holds the rest."""

    key = fields.CharField(max_length=64, unique=True)
    value = fields.JSONField(null=True)

    class Meta:
        table = "platform_settings"


class GeoRuleKind(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class GeoIpRule(TimestampedModel):
    country = fields.CharField(max_length=2)
    kind = fields.CharEnumField(GeoRuleKind, max_length=8)
    applies_to = fields.CharField(max_length=16, default="trial")  # trial | signup | all
    note = fields.CharField(max_length=255, default="")

    class Meta:
        table = "geoip_rules"
        unique_together = (("country", "applies_to"),)


class EmailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class EmailMessage(TimestampedModel):
    """The outbox: every email is a row first, sent by a job, retried with backoff."""

    to = fields.CharField(max_length=254)
    template = fields.CharField(max_length=64)
    locale = fields.CharField(max_length=8, default="en")
    subject = fields.CharField(max_length=255)
    body_text = fields.TextField()
    body_html = fields.TextField(default="")
    status = fields.CharEnumField(EmailStatus, max_length=8, default=EmailStatus.QUEUED)
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(default="")
    next_attempt_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "email_outbox"
        indexes = (("status", "next_attempt_at"),)


class ClockRun(TimestampedModel):
    """One tick of one scheduled task. Unique per tick, so two clocks never send it twice."""

    task = fields.CharField(max_length=64)
    tick = fields.DatetimeField()
    status = fields.CharField(max_length=16, default="sent")
    finished_at = fields.DatetimeField(null=True)
    duration_ms = fields.IntField(null=True)
    detail = fields.TextField(default="")

    class Meta:
        table = "clock_runs"
        unique_together = (("task", "tick"),)


class Heartbeat(TimestampedModel):
    """Last sign of life of a worker or clock process, shown to staff."""

    process = fields.CharField(max_length=128, unique=True)
    kind = fields.CharField(max_length=16)
    seen_at = fields.DatetimeField()

    class Meta:
        table = "heartbeats"


class Alert(TimestampedModel):
    """A message to staff (email through the outbox, and the webhook when one is set).

    ``key`` names the condition (``backup:<code>``, ``server:<name>``…): while an alert for a
    key is open, the same condition does not send another one. ``subject`` and ``body`` are
    in English (webhooks, logs); ``message`` keeps them untranslated (``Stored`` values,
    ``{"subject": …, "body": …}``), so each member of staff reads them in their language.
    """

    kind = fields.CharField(max_length=32)
    key = fields.CharField(max_length=128)
    subject = fields.CharField(max_length=255)
    body = fields.TextField(default="")
    message = fields.JSONField(null=True)  # null on rows older than this column
    resolved_at = fields.DatetimeField(null=True)
    webhook_status = fields.CharField(max_length=16, default="")  # "", sent, failed
    webhook_error = fields.TextField(default="")

    class Meta:
        table = "alerts"
        indexes = (("key", "resolved_at"), ("kind",))

    def _text(self, part: str) -> str:
        message = Stored.from_json((self.message or {}).get(part))
        return str(message) if message is not None else getattr(self, part)

    @property
    def subject_text(self) -> str:
        """The subject in the current locale (the stored English for an older row)."""
        return self._text("subject")

    @property
    def body_text(self) -> str:
        return self._text("body")


class SyntheticCheck(TimestampedModel):
    """One run of the platform's own trial check: launch, log in, delete, timed."""

    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    ok = fields.BooleanField(default=False)
    duration_ms = fields.IntField(null=True)
    stage = fields.CharField(max_length=32, default="")  # where it stopped: launch, login, delete
    error = fields.TextField(default="")
    launch_code = fields.CharField(max_length=32, default="")

    class Meta:
        table = "synthetic_checks"
        indexes = (("started_at",),)
