"""Payments: wallet top-ups through PayPal, and PayPal's webhooks about any PayPal payment.

How a top-up moves money exactly once, whatever arrives when:

- ``start_recharge`` asks PayPal for the order first and writes the ``Payment`` only once PayPal
  answered, so a gateway that is down leaves nothing behind.
- The customer's return (``complete_return``, which captures) and PAYMENT.CAPTURE.COMPLETED
  both end in ``_apply_capture``, which credits under the ledger key
  ``paypal:capture:<capture id>``: whichever comes first credits, the other finds the entry.
- A webhook is verified with PayPal before anything is stored. Storing unverified events would
  let anyone fill the inbox, and squat on a real event's id so that the genuine delivery looked
  like a duplicate. Verified events go in the inbox, unique on (gateway, event id): a redelivery
  of a processed event stops there; one whose first delivery failed half-way is applied again,
  which is safe because applying is idempotent.
- Order does not matter. A refund proves its capture completed, so PAYMENT.CAPTURE.REFUNDED
  first credits the capture (same key) if nothing has yet, then debits the refund
  (``paypal:refund:<refund id>``). A payment's status only moves up (created < approved or
  failed < denied < captured < refunded), so a late event cannot step it back.
- All writes for one payment happen under its row lock (``SELECT … FOR UPDATE`` on
  PostgreSQL; SQLite runs one transaction at a time), payment row before wallet row everywhere.
- Only top-ups (a payment with a wallet) touch the wallet. A refund staff asked PayPal for
  (``services.refunds``) is handed back to that module; a PayPal payment of an invoice refunded
  at PayPal behind our back is flagged in the audit log for staff.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from babel import numbers
from tortoise.exceptions import IntegrityError

from managely import db
from managely.i18n import format_money, gettext
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.base import new_code
from managely.models.billing import (
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundDestination,
    RefundStatus,
    WalletTransaction,
    WalletTransactionKind,
)
from managely.services import paypal, platform, referrals, refunds, wallet
from managely.services.errors import NotFound, ServiceError, ValidationError
from managely.settings import CURRENCIES, get_settings

log = logging.getLogger(__name__)

GATEWAY = "paypal"
# Top-up bounds in minor units, per currency PayPal can take: large enough for a year of a big
# plan, small enough that a slip of the finger is refused.
RECHARGE_LIMITS = {
    "USD": (500, 1_000_000),
    "EUR": (500, 1_000_000),
    "GBP": (500, 1_000_000),
}
MAX_EVENT_BYTES = 256 * 1024
# Status only moves to a higher rank, so events applied in any order end in the same status.
STATUS_RANK = {
    PaymentStatus.CREATED: 0,
    PaymentStatus.APPROVED: 1,
    PaymentStatus.FAILED: 1,
    PaymentStatus.DENIED: 2,
    PaymentStatus.CAPTURED: 3,
    PaymentStatus.REFUNDED: 4,
}
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩٫", "0123456789.", ",٬ \u00a0")
_AMOUNT_RE = re.compile(r"^\d{1,12}(\.\d{1,4})?$")


class RechargeUnavailable(ServiceError):
    status = 503
    code = "recharge_unavailable"

    def __init__(self) -> None:
        super().__init__(
            _l(
                "Top-ups by PayPal are not available right now. Please contact us to add funds "
                "to your wallet."
            )
        )


class WebhookRejected(ServiceError):
    status = 400
    code = "webhook_rejected"


def now() -> datetime:
    return datetime.now(UTC)


def capture_key(capture_id: str) -> str:
    return f"paypal:capture:{capture_id}"


def refund_key(refund_id: str) -> str:
    return f"paypal:refund:{refund_id}"


# -- amounts and limits ---------------------------------------------------------------------------


def recharge_currencies() -> tuple[str, ...]:
    return tuple(c for c in CURRENCIES if c in RECHARGE_LIMITS and c in paypal.CURRENCIES)


def recharge_enabled() -> bool:
    return get_settings().paypal.enabled


def parse_amount(text: str, currency: str) -> int:
    """A typed amount in major units ("25", "1,250.50", "٢٥٫٥٠") to minor units."""
    cleaned = (text or "").strip().translate(_DIGITS)
    try:
        if not _AMOUNT_RE.match(cleaned):
            raise InvalidOperation
        scaled = Decimal(cleaned).scaleb(numbers.get_currency_precision(currency))
        if scaled != scaled.to_integral_value() or scaled <= 0:
            raise InvalidOperation
    except InvalidOperation:
        example = format_money(25 * 10 ** numbers.get_currency_precision(currency), currency)
        raise ValidationError(
            _l("Enter an amount like %(example)s.", example=example), field="amount"
        ) from None
    return int(scaled)


def _recharge_currency(currency: str) -> str:
    currency = (currency or "").upper()
    if currency not in recharge_currencies():
        raise ValidationError(
            _l(
                "Top-ups in %(currency)s are not available. Choose another currency.",
                currency=currency or "?",
            ),
            field="currency",
        )
    return currency


def check_recharge_amount(amount_minor: int, currency: str) -> None:
    low, high = RECHARGE_LIMITS[currency]
    if not low <= amount_minor <= high:
        raise ValidationError(
            _l(
                "A top-up is between %(low)s and %(high)s.",
                low=format_money(low, currency),
                high=format_money(high, currency),
            ),
            field="amount",
        )


def default_amount(text: str | None, currency: str) -> str:
    """The amount to offer in the form (e.g. an order's shortfall), raised to the minimum."""
    if currency not in RECHARGE_LIMITS or not text:
        return ""
    try:
        amount = parse_amount(text, currency)
    except ValidationError:
        return ""
    low, high = RECHARGE_LIMITS[currency]
    return paypal.to_value(min(max(amount, low), high), currency)


# -- top-ups --------------------------------------------------------------------------------------


def _gateway() -> paypal.PayPal:
    settings = get_settings().paypal
    if not settings.enabled:
        raise RechargeUnavailable()
    return paypal.PayPal(settings)


def _back_url(path: str, code: str, next_url: str) -> str:
    query = {"payment": code, **({"next": next_url} if next_url else {})}
    return f"{get_settings().public_url}{path}?{urlencode(query)}"


async def start_recharge(
    user: User, amount_minor: int, currency: str, next_url: str = ""
) -> tuple[Payment, str]:
    """Open a PayPal order for a top-up; answer the payment and where the buyer approves it."""
    gateway = _gateway()
    currency = _recharge_currency(currency)
    check_recharge_amount(amount_minor, currency)
    code = new_code()
    async with gateway:
        order = await gateway.create_order(
            reference=code,
            amount_minor=amount_minor,
            currency=currency,
            description=gettext("Managely wallet top-up"),
            return_url=_back_url("/paypal/return", code, next_url),
            cancel_url=_back_url("/paypal/cancel", code, next_url),
        )
    payment = await Payment.create(
        code=code,
        user=user,
        wallet=await wallet.wallet_for(user, currency),
        gateway=GATEWAY,
        gateway_order_id=order.id,
        amount_minor=amount_minor,
        currency=currency,
        gateway_response={"order": {"id": order.id, "status": order.status}},
    )
    return payment, order.approve_url


async def get_payment_for_user(user: User, code: str) -> Payment:
    """The user's own PayPal payment; anyone else's is not found."""
    payment = await Payment.get_or_none(code=code[:16], user=user, gateway=GATEWAY)
    if payment is None:
        raise NotFound(_l("We could not find that payment."))
    return payment


async def complete_return(user: User, code: str, token: str = "") -> Payment:
    """The buyer is back from PayPal: capture the order and credit the wallet (once)."""
    payment = await get_payment_for_user(user, code)
    if token and token != payment.gateway_order_id:
        raise NotFound(_l("We could not find that payment."))
    if payment.status in (PaymentStatus.CAPTURED, PaymentStatus.REFUNDED):
        return payment  # a reload of the return page, or the webhook was first
    if payment.status == PaymentStatus.DENIED:
        raise paypal.PaymentDeclined()
    async with _gateway() as gateway:
        try:
            capture = await gateway.capture_order(
                payment.gateway_order_id or "", request_id=f"{payment.code}-capture"
            )
        except paypal.PaymentDeclined:
            await _advance(payment.id, PaymentStatus.FAILED)
            raise
    await _apply_capture(payment, capture)
    return await Payment.get(id=payment.id)


async def cancel_recharge(user: User, code: str) -> Payment:
    """The buyer turned back at PayPal: nothing was taken."""
    payment = await get_payment_for_user(user, code)
    await _advance(payment.id, PaymentStatus.FAILED)
    return await Payment.get(id=payment.id)


# -- applying what PayPal says --------------------------------------------------------------------


async def _advance(payment_id: int, status: PaymentStatus) -> None:
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    await Payment.filter(id=payment_id, status__in=lower).update(status=status, updated_at=now())


async def _lock(payment: Payment) -> None:
    await Payment.filter(id=payment.id).select_for_update().first()


async def _apply_capture(payment: Payment, capture: paypal.Capture) -> str:
    """Credit a capture whose money arrived, or record a denied or pending one."""
    if capture.money_received:
        return await _credit_capture(payment, capture)
    status = (
        PaymentStatus.DENIED
        if capture.status in ("DECLINED", "FAILED")
        else PaymentStatus.APPROVED  # PENDING: PAYMENT.CAPTURE.COMPLETED will follow
    )
    async with db.atomic():
        await _lock(payment)
        await _remember_capture(payment, capture.id)
        await _advance(payment.id, status)
    return ""


async def _remember_capture(payment: Payment, capture_id: str) -> None:
    await Payment.filter(id=payment.id, gateway_capture_id__isnull=True).update(
        gateway_capture_id=capture_id
    )


async def _credit_capture(payment: Payment, capture: paypal.Capture) -> str:
    # A payment without a wallet pays an invoice directly: the money is the invoice's.
    top_up = payment.wallet_id is not None
    if top_up and capture.currency != payment.currency:
        log.error("capture %s is in %s, payment %s not", capture.id, capture.currency, payment.code)
        return f"capture {capture.id} is in {capture.currency}, not {payment.currency}"
    async with db.atomic():
        await _lock(payment)
        if top_up:
            await wallet.post(
                await User.get(id=payment.user_id),
                payment.currency,
                capture.amount_minor,
                WalletTransactionKind.RECHARGE,
                capture_key(capture.id),
                reference=payment.code,
            )
        await _remember_capture(payment, capture.id)
        await Payment.filter(id=payment.id, captured_at__isnull=True).update(captured_at=now())
        await _advance(payment.id, PaymentStatus.CAPTURED)
        # A referred customer's captured money earns the referrer a commission, once per
        # payment (the commission is keyed by the payment's code).
        await referrals.on_payment_captured(
            await User.get(id=payment.user_id), capture.amount_minor, capture.currency, payment.code
        )
    return ""


async def _payment_for(capture: paypal.Capture) -> Payment | None:
    """Our payment for a capture: by PayPal's order id, our code (custom_id), or capture id."""
    for lookup in (
        {"gateway_order_id": capture.order_id},
        {"code": capture.custom_id[:16]},
        {"gateway_capture_id": capture.id},
    ):
        if next(iter(lookup.values())):
            found = await Payment.get_or_none(gateway=GATEWAY, **lookup)
            if found is not None:
                return found
    return None


async def _debit_refund(payment: Payment, refund: paypal.Refund) -> str:
    """Take a refund PayPal made back out of the wallet, or flag it for staff when the money
    was spent already: the wallet never goes negative, and nothing is silently dropped."""
    if refund.currency and refund.currency != payment.currency:
        return f"refund {refund.id} is in {refund.currency}, not {payment.currency}: not debited"
    key = refund_key(refund.id)
    async with db.atomic():
        await _lock(payment)
        row = await Refund.get_or_none(idempotency_key=key)
        if row is not None and row.status == RefundStatus.SUCCEEDED:
            return ""
        try:
            owner = await User.get(id=payment.user_id)
            await wallet.post(
                owner,
                payment.currency,
                -refund.amount_minor,
                WalletTransactionKind.REFUND,
                key,
                reference=payment.code,
            )
            error = ""
        except wallet.InsufficientFunds as short:
            error = (
                f"PayPal refunded {refund.amount_minor} {payment.currency} minor units but the "
                f"wallet holds {short.balance_minor}: not debited; settle it by hand"
            )
        await _record_refund(payment, refund, row, error)
        await _advance(payment.id, PaymentStatus.REFUNDED)
        await referrals.on_refund(payment.code, refund.amount_minor, refund_key(refund.id))
    return error


async def _record_refund(
    payment: Payment, refund: paypal.Refund, row: Refund | None, error: str
) -> None:
    fields = {
        "status": RefundStatus.PENDING if error else RefundStatus.SUCCEEDED,
        "error": error,
        "completed_at": None if error else now(),
    }
    if row is not None:
        await Refund.filter(id=row.id).update(**fields)
        return
    await Refund.create(
        payment=payment,
        amount_minor=refund.amount_minor,
        currency=payment.currency,
        destination=RefundDestination.GATEWAY,
        gateway_refund_id=refund.id,
        idempotency_key=refund_key(refund.id),
        reason="PayPal refund",
        **fields,
    )
    if error:  # flagged once, when first seen: staff settle it (e.g. a manual debit)
        await platform.audit(
            None,
            "payment.refund_uncovered",
            payment,
            after={"refund": refund.id, "amount_minor": refund.amount_minor},
            reason=error,
        )


async def _on_capture(gateway: paypal.PayPal, resource: dict[str, Any], denied: bool) -> str:
    capture = paypal.capture_from(resource)
    payment = await _payment_for(capture)
    if payment is None:
        return f"no payment of ours for capture {capture.id}"
    if denied and capture.money_received:
        return f"capture {capture.id} reported denied but {capture.status}: ignored"
    return await _apply_capture(payment, capture)


async def _on_completed(gateway: paypal.PayPal, resource: dict[str, Any]) -> str:
    return await _on_capture(gateway, resource, denied=False)


async def _on_denied(gateway: paypal.PayPal, resource: dict[str, Any]) -> str:
    return await _on_capture(gateway, resource, denied=True)


async def _requested_refund(refund: paypal.Refund) -> Refund | None:
    """The refund row ``services.refunds`` made when staff asked PayPal for this refund (found
    by PayPal's id, or still waiting for PayPal's answer on that capture), if any."""
    found = await Refund.get_or_none(gateway_refund_id=refund.id)
    if found is not None:
        return None if found.idempotency_key == refund_key(refund.id) else found
    payment = await Payment.get_or_none(gateway=GATEWAY, gateway_capture_id=refund.capture_id)
    if payment is None or payment.invoice_id is None:
        return None
    return (
        await Refund.filter(
            payment_id=payment.id,
            status=RefundStatus.PENDING,
            gateway_refund_id=None,
            amount_minor=refund.amount_minor,
        )
        .order_by("id")
        .first()
    )


async def _on_refunded(gateway: paypal.PayPal, resource: dict[str, Any]) -> str:
    refund = paypal.refund_from(resource)
    if not refund.capture_id or refund.amount_minor <= 0:
        return f"refund {refund.id} names no capture or no amount"
    requested = await _requested_refund(refund)
    if requested is not None:
        # Ours (an invoice refunded by staff): its credit note follows PayPal's word there.
        await refunds.apply_gateway_status(requested, refund.id, refund.status)
        return ""
    if refund.status not in ("COMPLETED", ""):
        return f"refund {refund.id} is {refund.status}: nothing to take back yet"
    payment = await Payment.get_or_none(gateway=GATEWAY, gateway_capture_id=refund.capture_id)
    credited = await WalletTransaction.exists(idempotency_key=capture_key(refund.capture_id))
    if payment is None or (payment.wallet_id is not None and not credited):
        # The refund may overtake the capture's own event: the capture completed, or it could
        # not be refunded, so credit it first (once, same key) and the order stops mattering.
        capture = await gateway.get_capture(refund.capture_id)
        payment = payment or await _payment_for(capture)
        if payment is None:
            return f"no payment of ours for capture {refund.capture_id}"
        note = await _apply_capture(payment, capture)
        if note:
            return note
    if payment.wallet_id is None:
        return await _flag_unmatched_refund(payment, refund)
    return await _debit_refund(payment, refund)


async def _flag_unmatched_refund(payment: Payment, refund: paypal.Refund) -> str:
    """An invoice paid with PayPal was refunded at PayPal, not through Managely: there is no
    wallet to debit, and the credit note is for staff to issue."""
    note = f"PayPal refund {refund.id} of invoice payment {payment.code} was not asked for here"
    async with db.atomic():
        await _lock(payment)
        await _advance(payment.id, PaymentStatus.REFUNDED)
        await platform.audit(
            None,
            "payment.refund_unmatched",
            payment,
            after={"refund": refund.id, "amount_minor": refund.amount_minor},
            reason=note,
        )
    return note


HANDLERS = {
    "PAYMENT.CAPTURE.COMPLETED": _on_completed,
    "PAYMENT.CAPTURE.DENIED": _on_denied,
    "PAYMENT.CAPTURE.REFUNDED": _on_refunded,
}


def _parse_event(raw_body: bytes) -> dict[str, Any]:
    if len(raw_body) > MAX_EVENT_BYTES:
        raise WebhookRejected("too large")
    try:
        event = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("not JSON") from None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and 0 < len(event["id"]) <= 128
        and isinstance(event.get("event_type"), str)
        and isinstance(event.get("resource", {}), dict)
    ):
        raise WebhookRejected("not a PayPal event")
    return event


async def _store_event(event: dict[str, Any]) -> tuple[PaymentEvent, bool]:
    try:
        async with db.atomic():
            row = await PaymentEvent.create(
                gateway=GATEWAY,
                event_id=event["id"],
                event_type=event["event_type"][:64],
                payload=event,
                verified=True,
            )
        return row, True
    except IntegrityError:
        return await PaymentEvent.get(gateway=GATEWAY, event_id=event["id"]), False


async def handle_webhook(headers: Mapping[str, str], raw_body: bytes) -> str:
    """Verify a PayPal delivery, store it once, apply it; answer what happened.

    Raises ``WebhookRejected`` (400) for anything PayPal did not sign, and a 5xx error when
    PayPal cannot be asked, so that PayPal delivers it again later.
    """
    gateway = _gateway()
    event = _parse_event(raw_body)
    upper = {name.upper(): value for name, value in headers.items()}
    async with gateway:
        if not await gateway.verify_webhook(upper, raw_body):
            log.warning("refused a PayPal webhook that PayPal did not verify: %s", event["id"])
            raise WebhookRejected("not verified")
        row, fresh = await _store_event(event)
        if not fresh and row.processed_at is not None:
            return "duplicate"
        return await apply_event(gateway, row)


async def apply_event(gateway: paypal.PayPal, row: PaymentEvent) -> str:
    """Apply a stored, verified event through its handler and mark it processed. Handlers
    are idempotent (ledger keys, status ranks), so applying an event again moves no money."""
    event = row.payload
    handler = HANDLERS.get(event["event_type"])
    try:
        note = await handler(gateway, event.get("resource") or {}) if handler else ""
    except (KeyError, TypeError, ValueError) as error:
        log.exception("PayPal event %s could not be applied", event["id"])
        note = f"unreadable resource: {error!r}"  # a resend would not read better
    except ServiceError as error:
        await PaymentEvent.filter(id=row.id).update(error=str(error)[:1000])
        raise
    await PaymentEvent.filter(id=row.id).update(processed_at=now(), error=note)
    return "applied" if handler else "ignored"


async def replay_event(row: PaymentEvent) -> str:
    """Staff's replay of an inbox event (e.g. one that failed half-way): the same path as a
    redelivery from PayPal, minus the signature check it passed when it was stored."""
    if not row.verified:
        raise ValidationError(_l("Only an event PayPal verified can be applied."))
    async with _gateway() as gateway:
        return await apply_event(gateway, row)
