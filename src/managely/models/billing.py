"""Billing: wallets and their ledger, invoices and credit notes, payments, webhooks, refunds.

Money is an integer in minor units next to a currency code. Rows that record money are
restricted, never cascaded: deleting a user must not erase what was paid.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class Wallet(PublicModel):
    user = fields.ForeignKeyField("models.User", related_name="wallets", on_delete=fields.RESTRICT)
    currency = fields.CharField(max_length=3)
    # A cache of the ledger, updated under a row lock in the transaction that appends the entry.
    balance_minor = fields.BigIntField(default=0)

    class Meta:
        table = "wallets"
        unique_together = (("user", "currency"),)


class WalletTransactionKind(StrEnum):
    RECHARGE = "recharge"
    CHARGE = "charge"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    REFERRAL_WITHDRAWAL = "referral_withdrawal"
    REVERSAL = "reversal"


class WalletTransaction(TimestampedModel):
    """A ledger entry: appended, never updated or deleted; a mistake is fixed by a reversal."""

    wallet = fields.ForeignKeyField(
        "models.Wallet", related_name="transactions", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(WalletTransactionKind, max_length=24)
    amount_minor = fields.BigIntField()  # signed: credits positive, debits negative
    balance_after_minor = fields.BigIntField()
    reference = fields.CharField(max_length=64, default="")  # e.g. an invoice or payment code
    # e.g. "renew:<sub>:<period_end>", "paypal:<capture_id>": a retry never moves money twice.
    idempotency_key = fields.CharField(max_length=128, unique=True)
    description = fields.CharField(max_length=255, default="")
    actor = fields.ForeignKeyField(
        "models.User", related_name="wallet_actions", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "wallet_transactions"
        indexes = (("wallet_id", "created_at"),)


class InvoiceSequence(TimestampedModel):
    """Gap-free numbering: the row is locked while a number is taken."""

    prefix = fields.CharField(max_length=16)  # "INV", "CN" for credit notes
    year = fields.IntField()
    last_number = fields.IntField(default=0)

    class Meta:
        table = "invoice_sequences"
        unique_together = (("prefix", "year"),)


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class Invoice(PublicModel):
    """Immutable once issued (number set); corrections are credit notes pointing back here."""

    number = fields.CharField(max_length=32, unique=True, null=True)  # null while a draft
    user = fields.ForeignKeyField("models.User", related_name="invoices", on_delete=fields.RESTRICT)
    beneficiary = fields.ForeignKeyField(
        "models.ServiceBeneficiary", related_name="invoices", null=True, on_delete=fields.RESTRICT
    )
    subscription = fields.ForeignKeyField(
        "models.Subscription", related_name="invoices", null=True, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(InvoiceStatus, max_length=8, default=InvoiceStatus.DRAFT)
    kind = fields.CharEnumField(InvoiceKind, max_length=16, default=InvoiceKind.INVOICE)
    credit_for = fields.ForeignKeyField(
        "models.Invoice", related_name="credit_notes", null=True, on_delete=fields.RESTRICT
    )
    currency = fields.CharField(max_length=3)
    subtotal_minor = fields.IntField(default=0)
    tax_minor = fields.IntField(default=0)
    total_minor = fields.IntField(default=0)
    tax_rate_bp = fields.IntField(default=0)
    # Frozen on issue: a later change of address or company name never rewrites an invoice.
    buyer = fields.JSONField(null=True)
    seller = fields.JSONField(null=True)
    locale = fields.CharField(max_length=8, default="en")
    issued_at = fields.DatetimeField(null=True)
    due_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)
    pdf_path = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "invoices"
        indexes = (("user_id", "created_at"), ("status", "due_at"), ("issued_at",))


class InvoiceLine(TimestampedModel):
    invoice = fields.ForeignKeyField(
        "models.Invoice", related_name="lines", on_delete=fields.CASCADE
    )
    description = fields.CharField(max_length=255)
    quantity = fields.IntField(default=1)
    unit_price_minor = fields.IntField()
    amount_minor = fields.IntField()
    sort_order = fields.IntField(default=0)

    class Meta:
        table = "invoice_lines"


class PaymentStatus(StrEnum):
    CREATED = "created"
    APPROVED = "approved"  # the buyer approved at the gateway; not money yet
    CAPTURED = "captured"
    DENIED = "denied"
    REFUNDED = "refunded"
    FAILED = "failed"


class Payment(PublicModel):
    user = fields.ForeignKeyField("models.User", related_name="payments", on_delete=fields.RESTRICT)
    # A wallet recharge has a wallet; paying an invoice directly has the invoice.
    wallet = fields.ForeignKeyField(
        "models.Wallet", related_name="payments", null=True, on_delete=fields.RESTRICT
    )
    invoice = fields.ForeignKeyField(
        "models.Invoice", related_name="payments", null=True, on_delete=fields.RESTRICT
    )
    gateway = fields.CharField(max_length=16)  # paypal, wallet, manual
    gateway_order_id = fields.CharField(max_length=64, null=True, db_index=True)
    gateway_capture_id = fields.CharField(max_length=64, null=True, unique=True)
    amount_minor = fields.IntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(PaymentStatus, max_length=16, default=PaymentStatus.CREATED)
    captured_at = fields.DatetimeField(null=True)
    gateway_response = fields.JSONField(default=dict)  # the raw last answer, for support

    class Meta:
        table = "payments"
        indexes = (("user_id", "created_at"), ("status", "created_at"))


class PaymentEvent(TimestampedModel):
    """The webhook inbox: stored before it is applied, unique so a resend is applied once."""

    gateway = fields.CharField(max_length=16)
    event_id = fields.CharField(max_length=128)
    event_type = fields.CharField(max_length=64)
    payload = fields.JSONField()
    verified = fields.BooleanField(default=False)
    processed_at = fields.DatetimeField(null=True)
    error = fields.TextField(default="")

    class Meta:
        table = "payment_events"
        unique_together = (("gateway", "event_id"),)
        indexes = (("processed_at", "created_at"),)


class RefundDestination(StrEnum):
    WALLET = "wallet"
    GATEWAY = "gateway"  # back to the card or PayPal account that paid


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(PublicModel):
    payment = fields.ForeignKeyField(
        "models.Payment", related_name="refunds", null=True, on_delete=fields.RESTRICT
    )
    invoice = fields.ForeignKeyField(
        "models.Invoice", related_name="refunds", null=True, on_delete=fields.RESTRICT
    )
    credit_note = fields.ForeignKeyField(
        "models.Invoice", related_name="credit_note_refunds", null=True, on_delete=fields.RESTRICT
    )
    amount_minor = fields.IntField()
    currency = fields.CharField(max_length=3)
    destination = fields.CharEnumField(RefundDestination, max_length=8)
    status = fields.CharEnumField(RefundStatus, max_length=16, default=RefundStatus.PENDING)
    gateway_refund_id = fields.CharField(max_length=64, null=True, unique=True)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    reason = fields.TextField(default="")
    error = fields.TextField(default="")
    completed_at = fields.DatetimeField(null=True)
    actor = fields.ForeignKeyField(
        "models.User", related_name="refunds_issued", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "refunds"
