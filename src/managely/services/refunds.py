"""Refunds: money back to the wallet or to the PayPal capture that paid, with a credit note.

A refund never exceeds what the invoice was paid minus the refunds made or under way: the
check runs under the invoice's row lock (SQLite runs one transaction at a time), so two staff
members refunding at once cannot give back more than was paid. Every request carries a key;
the same key again returns the first refund instead of paying twice.

To the wallet, everything happens in one transaction: the refund, its credit note (paid) and
the ledger credit ``refund:<refund code>``. To PayPal, the refund and its credit note (open)
are committed first, as a reservation; then PayPal is asked with the refund's code as its
request id, so asking again after a timeout never pays twice. PayPal's answer completes the
refund (credit note paid) or fails it (credit note void, the amount free again).
"""

from __future__ import annotations

from datetime import UTC, datetime

from babel.support import LazyProxy
from tortoise.exceptions import IntegrityError

from managely import db, i18n
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.billing import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundDestination,
    RefundStatus,
    WalletTransactionKind,
)
from managely.queue import enqueue
from managely.services import invoices, paypal, platform, wallet
from managely.services.errors import Conflict, ServiceError, ValidationError
from managely.settings import get_settings

WALLET = RefundDestination.WALLET
PAYPAL = RefundDestination.GATEWAY  # back to the PayPal capture that paid the invoice
RESERVED = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


async def refund(
    invoice: Invoice,
    amount_minor: int,
    destination: RefundDestination | str,
    reason: str,
    actor: User | None,
    *,
    key: str,
) -> Refund:
    """Refund ``amount_minor`` of a paid invoice to the buyer's wallet or to PayPal.

    ``key`` identifies the request (a form token): the same key returns the same refund.
    Raises ``ValidationError`` when the amount is more than is left to refund, and the
    gateway's ``ServiceError`` when PayPal cannot be reached (the refund stays pending; the
    same key asks PayPal again). Call it outside a transaction: the reservation must be
    committed before PayPal is asked.
    """
    destination = RefundDestination(destination)
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationError(_l("Enter an amount."), field="amount")
    if not key or len(key) > 128:
        raise ValueError("a request key of 1-128 characters is required")
    try:
        async with db.atomic():
            found = await _reserve(invoice, amount_minor, destination, reason, actor, key)
    except IntegrityError:
        # The same key committed by another request between our check and our insert.
        found = await Refund.get_or_none(idempotency_key=key)
        if found is None:
            raise
        _same(found, invoice, amount_minor, destination)
    # Reserved but never answered by PayPal: ask (again, under the same request id).
    pending = found.status == RefundStatus.PENDING and found.gateway_refund_id is None
    if pending and found.destination == PAYPAL:
        found = await _send_to_paypal(found)
    return found


async def refundable_minor(invoice: Invoice) -> int:
    """What is left to refund on ``invoice``: paid, minus refunds done or under way."""
    if invoice.kind != InvoiceKind.INVOICE or invoice.status != InvoiceStatus.PAID:
        return 0
    return invoice.total_minor - await _reserved(invoice_id=invoice.id)


async def _reserved(**where: object) -> int:
    amounts = await Refund.filter(status__in=RESERVED, **where).values_list(
        "amount_minor", flat=True
    )
    return sum(amounts)


def _same(found: Refund, invoice: Invoice, amount: int, destination: RefundDestination) -> Refund:
    asked = (invoice.id, amount, destination)
    if (found.invoice_id, found.amount_minor, found.destination) != asked:
        raise Conflict(_l("This request was already used for a different refund."))
    return found


def _too_much(left: int, currency: str) -> ValidationError:
    amount = LazyProxy(i18n.format_money, max(left, 0), currency, enable_cache=False)
    message = _l("At most %(amount)s can still be refunded on this invoice.", amount=amount)
    return ValidationError(message, field="amount")


async def _reserve(
    invoice: Invoice,
    amount: int,
    destination: RefundDestination,
    reason: str,
    actor: User | None,
    key: str,
) -> Refund:
    """Inside the transaction: lock the invoice, check what is left, write the refund."""
    locked = await Invoice.filter(id=invoice.id).select_for_update().get()
    found = await Refund.get_or_none(idempotency_key=key)
    if found is not None:
        return _same(found, locked, amount, destination)
    if locked.kind != InvoiceKind.INVOICE or locked.status != InvoiceStatus.PAID:
        raise ValidationError(_l("Only a paid invoice can be refunded."), field="amount")
    left = locked.total_minor - await _reserved(invoice_id=locked.id)
    if amount > left:
        raise _too_much(left, locked.currency)
    payment = await _paypal_payment(locked, amount) if destination == PAYPAL else None
    to_wallet = destination == WALLET
    note = await invoices.issue_credit_note(locked, amount, paid=to_wallet)
    made = await Refund.create(
        payment=payment,
        invoice=locked,
        credit_note=note,
        amount_minor=amount,
        currency=locked.currency,
        destination=destination,
        idempotency_key=key,
        reason=reason,
        actor=actor,
    )
    if to_wallet:
        await _credit_wallet(made, locked, note, actor)
    await platform.audit(
        actor,
        "billing.refund",
        made,
        after={"invoice": locked.number, "amount_minor": amount, "destination": destination},
        reason=reason,
    )
    return made


async def _paypal_payment(invoice: Invoice, amount: int) -> Payment:
    if not get_settings().paypal.enabled:
        raise ValidationError(_l("PayPal is not set up here. Refund to the wallet instead."))
    payment = (
        await Payment.filter(
            invoice_id=invoice.id,
            gateway="paypal",
            status__in=(PaymentStatus.CAPTURED, PaymentStatus.REFUNDED),
        )
        .exclude(gateway_capture_id=None)
        .order_by("id")
        .first()
    )
    if payment is None:
        raise ValidationError(
            _l("This invoice was not paid with PayPal. Refund it to the wallet instead."),
            field="destination",
        )
    left = payment.amount_minor - await _reserved(payment_id=payment.id)
    if amount > left:
        raise _too_much(left, payment.currency)
    return payment


async def _credit_wallet(made: Refund, invoice: Invoice, note: Invoice, actor: User | None) -> None:
    user = await User.get(id=invoice.user_id)
    await wallet.post(
        user,
        made.currency,
        made.amount_minor,
        WalletTransactionKind.REFUND,
        f"refund:{made.code}",
        reference=note.number,
        description=invoice.number,
        actor=actor,
    )
    made.status = RefundStatus.SUCCEEDED
    made.completed_at = datetime.now(UTC)
    await made.save(update_fields=["status", "completed_at", "updated_at"])
    enqueue("invoices.send", note.id)


async def refund_capture(
    capture_id: str, amount_minor: int, currency: str, request_id: str
) -> paypal.Refund:
    """PayPal's refund of (part of) a capture; a repeated ``request_id`` is answered with the
    first result instead of refunding again."""
    async with paypal.PayPal(get_settings().paypal) as gateway:
        return await gateway.refund_capture(
            capture_id, request_id=request_id, amount_minor=amount_minor, currency=currency
        )


async def _send_to_paypal(made: Refund) -> Refund:
    payment = await Payment.get(id=made.payment_id)
    try:
        answer = await refund_capture(
            payment.gateway_capture_id, made.amount_minor, made.currency, f"refund-{made.code}"
        )
    except ServiceError as error:
        # Unknown whether PayPal acted: the refund stays reserved; the same key asks again.
        await Refund.filter(id=made.id).update(error=str(error)[:2000])
        raise
    return await apply_gateway_status(made, answer.id, answer.status)


async def apply_gateway_status(made: Refund, gateway_refund_id: str, status: str) -> Refund:
    """Record PayPal's word on a refund (its answer, or a later webhook): COMPLETED pays the
    credit note, FAILED or CANCELLED voids it and frees the amount, PENDING waits."""
    async with db.atomic():
        if status == "COMPLETED":
            done = await Refund.filter(id=made.id, status=RefundStatus.PENDING).update(
                status=RefundStatus.SUCCEEDED,
                gateway_refund_id=gateway_refund_id,
                completed_at=datetime.now(UTC),
                error="",
            )
            if done:
                await _completed(made)
        elif status in ("FAILED", "CANCELLED"):
            done = await Refund.filter(id=made.id, status=RefundStatus.PENDING).update(
                status=RefundStatus.FAILED,
                gateway_refund_id=gateway_refund_id,
                error=f"PayPal: {status}",
            )
            if done:
                await _void_note(made, f"PayPal refund {status.lower()}")
        else:
            await Refund.filter(id=made.id, gateway_refund_id=None).update(
                gateway_refund_id=gateway_refund_id
            )
    await made.refresh_from_db()
    return made


async def _completed(made: Refund) -> None:
    note = await Invoice.get(id=made.credit_note_id)
    await invoices.mark_paid(note)
    # As payments.py does: a capture with any refund is "refunded" (statuses only move up).
    await Payment.filter(id=made.payment_id, status=PaymentStatus.CAPTURED).update(
        status=PaymentStatus.REFUNDED
    )
    enqueue("invoices.send", note.id)


async def _void_note(made: Refund, reason: str, actor: User | None = None) -> None:
    note = await Invoice.get(id=made.credit_note_id)
    await invoices.void(note, actor, reason)


async def cancel_pending(made: Refund, actor: User | None, reason: str) -> Refund:
    """Give up a PayPal refund PayPal never took (no refund id): it fails, its credit note is
    voided and the amount can be refunded again."""
    async with db.atomic():
        cancelled = await Refund.filter(
            id=made.id, status=RefundStatus.PENDING, gateway_refund_id=None
        ).update(status=RefundStatus.FAILED, error=reason[:2000])
        if not cancelled:
            raise Conflict(_l("Only a refund PayPal has not taken can be cancelled."))
        await _void_note(made, reason, actor)
        await platform.audit(actor, "billing.refund_cancel", made, reason=reason)
    await made.refresh_from_db()
    return made
