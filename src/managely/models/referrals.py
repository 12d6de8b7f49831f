"""Referrals: program settings, each customer's link, commissions, and the referral ledger.

A commission accrues as pending when the referred customer pays, matures into the available
balance after the holding period, and is withdrawn into the wallet or reversed on a refund.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class ReferralSettings(TimestampedModel):
    """One row, found by its unique ``name``, so a racing get_or_create cannot make two."""

    name = fields.CharField(max_length=16, unique=True, default="default")
    rate_bp = fields.IntField(default=1000)  # commission in basis points of the payment
    holding_days = fields.IntField(default=30)  # outlasts the refund window
    cookie_days = fields.IntField(default=30)
    min_withdrawal_minor = fields.IntField(default=0)
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "referral_settings"


class ReferralLink(PublicModel):
    """A customer's referral link; its ``code`` is what the shared URL carries."""

    user = fields.OneToOneField(
        "models.User", related_name="referral_link", on_delete=fields.CASCADE
    )
    clicks = fields.IntField(default=0)
    signups = fields.IntField(default=0)

    class Meta:
        table = "referral_links"


class CommissionStatus(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    WITHDRAWN = "withdrawn"
    REVERSED = "reversed"


class ReferralCommission(PublicModel):
    # "referrals" on User is taken by User.referred_by.
    referrer = fields.ForeignKeyField(
        "models.User", related_name="referral_commissions", on_delete=fields.RESTRICT
    )
    referred = fields.ForeignKeyField(
        "models.User", related_name="referred_commissions", on_delete=fields.RESTRICT
    )
    payment = fields.ForeignKeyField(
        "models.Payment", related_name="referral_commissions", null=True, on_delete=fields.RESTRICT
    )
    amount_minor = fields.IntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(CommissionStatus, max_length=16, default=CommissionStatus.PENDING)
    # Frozen at accrual, so a refund reverses the share of what was really paid at that rate.
    payment_amount_minor = fields.IntField(default=0)
    rate_bp = fields.IntField(default=0)
    refunded_minor = fields.IntField(default=0)  # of the payment, summed over its refunds
    reversed_minor = fields.IntField(default=0)  # of the commission, summed over its reversals
    available_at = fields.DatetimeField(null=True)  # end of the holding period
    idempotency_key = fields.CharField(max_length=128, unique=True)  # e.g. "ref:<payment code>"

    class Meta:
        table = "referral_commissions"
        indexes = (("status", "available_at"), ("referrer_id", "status"))


class ReferralBalance(TimestampedModel):
    """Cached balances of the ledger, locked while an entry is appended (like a Wallet)."""

    user = fields.ForeignKeyField(
        "models.User", related_name="referral_balances", on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    pending_minor = fields.BigIntField(default=0)
    available_minor = fields.BigIntField(default=0)

    class Meta:
        table = "referral_balances"
        unique_together = (("user", "currency"),)


class ReferralEntryKind(StrEnum):
    ACCRUE = "accrue"  # + pending (negative: a held commission cut after a refund)
    MATURE = "mature"  # pending -> available
    WITHDRAW = "withdraw"  # - available, into the wallet
    REVERSE = "reverse"  # - available, after a refund of a matured commission


class ReferralBalanceEntry(TimestampedModel):
    """Append-only. ``amount_minor`` is the signed change to the bucket the kind moves."""

    user = fields.ForeignKeyField(
        "models.User", related_name="referral_ledger", on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    kind = fields.CharEnumField(ReferralEntryKind, max_length=16)
    amount_minor = fields.BigIntField()
    balance_after_minor = fields.BigIntField()  # available, after this entry
    pending_after_minor = fields.BigIntField(default=0)
    reference = fields.CharField(max_length=64, default="")  # commission or wallet entry code
    idempotency_key = fields.CharField(max_length=128, unique=True)

    class Meta:
        table = "referral_balance_entries"
        indexes = (("user_id", "currency", "created_at"),)
