"""Subscriptions: what a customer pays for, its life cycle, and its history."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class SubscriptionStatus(StrEnum):
    TRIAL = "trial"
    ACTIVE = "active"
    PAST_DUE = "past_due"  # renewal failed; the system still runs during the grace period
    SUSPENDED = "suspended"  # the system is stopped until paid
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Subscription(PublicModel):
    # Restrict: subscriptions carry money history; accounts are soft-deleted.
    user = fields.ForeignKeyField(
        "models.User", related_name="subscriptions", on_delete=fields.RESTRICT
    )
    beneficiary = fields.ForeignKeyField(
        "models.ServiceBeneficiary", related_name="subscriptions", on_delete=fields.RESTRICT
    )
    package = fields.ForeignKeyField(
        "models.Package", related_name="subscriptions", on_delete=fields.RESTRICT
    )
    period = fields.ForeignKeyField(
        "models.PackagePeriod", related_name="subscriptions", on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(SubscriptionStatus, max_length=16)
    # The price agreed at signup; list price changes do not touch running subscriptions.
    price_minor = fields.IntField()
    auto_renew = fields.BooleanField(default=True)
    trial_ends_at = fields.DatetimeField(null=True)
    current_period_start = fields.DatetimeField(null=True)
    current_period_end = fields.DatetimeField(null=True)
    # The day of the month periods end on (1-31): a period ending on 28 Feb because the month
    # is short is followed by one ending on the 31st again, not the 28th. Null until set.
    anchor_day = fields.SmallIntField(null=True)
    cancel_at_period_end = fields.BooleanField(default=False)
    cancelled_at = fields.DatetimeField(null=True)
    suspended_at = fields.DatetimeField(null=True)
    past_due_since = fields.DatetimeField(null=True)
    promo = fields.ForeignKeyField(
        "models.PromoCode", related_name="subscriptions", null=True, on_delete=fields.SET_NULL
    )
    promo_cycles_left = fields.IntField(null=True)  # null: the promo applies on every cycle

    class Meta:
        table = "subscriptions"
        indexes = (
            ("status", "current_period_end"),
            ("status", "trial_ends_at"),
            ("user_id", "status"),
        )


class SubscriptionHistory(TimestampedModel):
    subscription = fields.ForeignKeyField(
        "models.Subscription", related_name="history", on_delete=fields.CASCADE
    )
    event = fields.CharField(max_length=32)  # created, renewed, renewal_failed, suspended, …
    from_status = fields.CharEnumField(SubscriptionStatus, max_length=16, null=True)
    to_status = fields.CharEnumField(SubscriptionStatus, max_length=16, null=True)
    detail = fields.JSONField(default=dict)
    actor = fields.ForeignKeyField(  # null: the clock or a webhook did it
        "models.User", related_name="subscription_actions", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "subscription_history"
        indexes = (("subscription_id", "created_at"),)


class SubscriptionReminder(TimestampedModel):
    """A reminder sent; unique per period so a rerun of the clock never sends it twice."""

    subscription = fields.ForeignKeyField(
        "models.Subscription", related_name="reminders", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)  # renewal_7d, renewal_1d, trial_ending, past_due, …
    period_end = fields.DatetimeField()

    class Meta:
        table = "subscription_reminders"
        unique_together = (("subscription", "kind", "period_end"),)
