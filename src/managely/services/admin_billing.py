"""Billing oversight for staff: wallets and ledgers, invoices, payments, refunds, the PayPal
inbox and failed renewals.

Lists are keyset-paginated (``WHERE id < cursor ORDER BY id DESC LIMIT n``, never OFFSET), so
the thousandth page costs what the first does; a ledger pages on (created_at, id) to follow
its ``(wallet_id, created_at)`` index, staying fast with a million entries. Money only moves
through the existing services (``refunds``, ``payments``), each idempotent and audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.billing import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundDestination,
    Wallet,
    WalletTransaction,
)
from managely.models.subscriptions import Subscription, SubscriptionHistory, SubscriptionStatus
from managely.services import admin_catalog as parse
from managely.services import invoices, payments, platform, refunds
from managely.services.errors import NotFound, ValidationError
from managely.settings import CURRENCIES

PAGE_SIZE = 50


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


async def _page(query: QuerySet, cursor: str) -> Page:
    """Newest first by id, from just below ``cursor`` (an id; anything else is page one)."""
    size = PAGE_SIZE
    if cursor.isdigit():
        query = query.filter(id__lt=int(cursor))
    rows = await query.order_by("-id").limit(size + 1)
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, str(rows[-1].id) if more and rows else "")


def _currency_filter(value: str) -> str:
    value = (value or "").upper()
    return value if value in CURRENCIES else ""


# --- wallets ----------------------------------------------------------------------------------


async def wallets(*, currency: str = "", cursor: str = "") -> Page:
    """Every wallet that holds or held money, with its owner."""
    query = Wallet.all().select_related("user")
    if currency := _currency_filter(currency):
        query = query.filter(currency=currency)
    return await _page(query, cursor)


async def customer_ledger(code: str, currency: str, cursor: str = "") -> Page:
    """One customer's ledger in one currency, newest first, paged on (created_at, id)."""
    customer = await User.get_or_none(code=code[:16])
    if customer is None:
        raise NotFound(_l("We could not find that customer."))
    balances = await Wallet.filter(user=customer).order_by("currency")
    currency = _currency_filter(currency) or (balances[0].currency if balances else "USD")
    extra = {"customer": customer, "balances": balances, "currency": currency}
    wallet = next((w for w in balances if w.currency == currency), None)
    if wallet is None:
        return Page([], "", extra)
    query = WalletTransaction.filter(wallet_id=wallet.id)
    last = None
    if cursor.isdigit():
        last = await WalletTransaction.get_or_none(id=int(cursor), wallet_id=wallet.id)
    if last is not None:
        # The plain bound lets the index seek straight to the cursor; the OR breaks ties.
        query = query.filter(created_at__lte=last.created_at).filter(
            Q(created_at__lt=last.created_at) | Q(created_at=last.created_at, id__lt=last.id)
        )
    rows = await query.order_by("-created_at", "-id").limit(PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Page(rows, str(rows[-1].id) if more and rows else "", extra)


# --- invoices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFilters:
    status: str = ""
    kind: str = ""
    currency: str = ""
    since: str = ""  # YYYY-MM-DD, issued on or after
    until: str = ""  # YYYY-MM-DD, issued on or before

    @classmethod
    def parse(cls, args: dict[str, str]) -> InvoiceFilters:
        """Known values only; anything else is no filter (a hand-edited URL still works)."""

        def valid_day(value: str) -> str:
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                return ""

        status = args.get("status", "")
        kind = args.get("kind", "")
        return cls(
            status=status if status in set(InvoiceStatus) else "",
            kind=kind if kind in set(InvoiceKind) else "",
            currency=_currency_filter(args.get("currency", "")),
            since=valid_day(args.get("since", "")),
            until=valid_day(args.get("until", "")),
        )

    def query_args(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


async def list_invoices(filters: InvoiceFilters, cursor: str = "") -> Page:
    query = Invoice.exclude(number=None).select_related("user")
    if filters.status:
        query = query.filter(status=filters.status)
    if filters.kind:
        query = query.filter(kind=filters.kind)
    if filters.currency:
        query = query.filter(currency=filters.currency)
    if filters.since:
        query = query.filter(
            issued_at__gte=datetime.fromisoformat(filters.since).replace(tzinfo=UTC)
        )
    if filters.until:
        end = datetime.fromisoformat(filters.until).replace(tzinfo=UTC) + timedelta(days=1)
        query = query.filter(issued_at__lt=end)
    return await _page(query, cursor)


async def invoice_by_code(code: str) -> Invoice:
    invoice = await Invoice.get_or_none(code=code[:16])
    if invoice is None or invoice.number is None:
        raise NotFound(_l("Not found."))
    return invoice


async def invoice_detail(code: str) -> dict[str, Any]:
    invoice = await invoice_by_code(code)
    original, notes = await invoices.related(invoice)
    return {
        "invoice": invoice,
        "customer": await User.get(id=invoice.user_id),
        "lines": await invoices.lines_of(invoice),
        "original": original,
        "notes": notes,
        "refunds": await Refund.filter(invoice_id=invoice.id).order_by("-id"),
        "payments": await Payment.filter(invoice_id=invoice.id).order_by("-id"),
        "refundable_minor": await refunds.refundable_minor(invoice),
    }


async def refund_invoice(
    actor: User, invoice: Invoice, data: dict[str, str], *, key: str, ip: str = ""
) -> Refund:
    """Refund (part of) a paid invoice to the wallet or to PayPal, with a credit note.

    ``key`` is the form's token: submitting twice refunds once (``refunds.refund`` answers the
    first refund for a key it has seen). Audited by ``refunds`` and here with the staff IP.
    """
    reason = parse.required_text(data, "reason", 500)
    try:
        destination = RefundDestination(data.get("destination") or "")
    except ValueError:
        raise ValidationError(_l("Choose where the money goes."), field="destination") from None
    amount = parse.money(data, "amount", invoice.currency)
    if not key or len(key) > 64:
        raise ValidationError(_l("This form has expired. Reload the page and try again."))
    seen = await Refund.exists(idempotency_key=f"staff:{key}")
    made = await refunds.refund(invoice, amount, destination, reason, actor, key=f"staff:{key}")
    if not seen:
        await platform.audit(
            actor,
            "billing.refund_request",
            invoice,
            after={"refund": made.code, "amount_minor": amount, "destination": destination},
            reason=reason,
            ip=ip,
        )
    return made


# --- payments, refunds, the PayPal inbox ------------------------------------------------------


async def list_payments(*, status: str = "", cursor: str = "") -> Page:
    query = Payment.all().select_related("user")
    if status in set(PaymentStatus):
        query = query.filter(status=status)
    return await _page(query, cursor)


async def list_refunds(*, cursor: str = "") -> Page:
    return await _page(Refund.all().select_related("invoice", "credit_note"), cursor)


EVENT_STATES = ("pending", "failed", "processed")


async def list_events(*, state: str = "", cursor: str = "") -> Page:
    """The webhook inbox: ``pending`` never applied, ``failed`` with an error noted."""
    query = PaymentEvent.all()
    if state == "pending":
        query = query.filter(processed_at=None)
    elif state == "failed":
        query = query.exclude(error="")
    elif state == "processed":
        query = query.exclude(processed_at=None)
    return await _page(query, cursor)


def pretty(payload: Any) -> str:
    """An event's payload as indented JSON, for reading."""
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False)


async def event_by_id(event_id: str) -> PaymentEvent:
    event = await PaymentEvent.get_or_none(gateway=payments.GATEWAY, event_id=event_id[:128])
    if event is None:
        raise NotFound(_l("We could not find that event."))
    return event


async def replay_event(actor: User, event: PaymentEvent, *, ip: str = "") -> str:
    """Apply an inbox event again through the webhook's own path; its ledger keys make sure
    money moves at most once however often it is replayed. Audited."""
    before = {"processed_at": event.processed_at and event.processed_at.isoformat()}
    before["error"] = event.error
    outcome = await payments.replay_event(event)
    await event.refresh_from_db()
    after = {"outcome": outcome, "error": event.error}
    await platform.audit(actor, "billing.event_replay", event, before=before, after=after, ip=ip)
    return outcome


# --- failed renewals --------------------------------------------------------------------------

FAILING = (SubscriptionStatus.PAST_DUE, SubscriptionStatus.SUSPENDED)


async def failed_renewals(*, cursor: str = "") -> Page:
    """Subscriptions whose renewal failed (past due, then suspended), with the last failure."""
    page = await _page(
        Subscription.filter(status__in=FAILING).select_related("user", "package"), cursor
    )
    failures = await SubscriptionHistory.filter(
        subscription_id__in=[s.id for s in page.rows], event="renewal_failed"
    ).order_by("id")
    page.extra["last_failure"] = {f.subscription_id: f for f in failures}
    return page
