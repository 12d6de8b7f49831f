"""Invoices: numbered without gaps, frozen on issue, built from a pricing quote.

A number is taken in the transaction that writes the invoice: an increment of the year's
sequence row, which locks that row until the transaction ends. So a second issuer waits for
the first to commit or roll back, a rolled-back purchase gives its number back and two
purchases never share one. Buyer and seller details are copied onto the invoice when it is
issued: a later change of company name or address never rewrites an invoice.

Credit notes are invoices of kind ``credit_note`` with a sequence of their own ("CN") and a
link to the invoice they correct. Their amounts are positive, like an invoice's: the kind says
which way the money goes (``signed_total`` gives the sign for reports).
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from managely import db, i18n
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.billing import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
)
from managely.models.platform import EmailMessage
from managely.queue import enqueue
from managely.services import invoice_pdf, platform, pricing
from managely.services.email import Attachment, queue_email
from managely.services.errors import Conflict, NotFound
from managely.settings import get_settings

INVOICE_PREFIX = "INV"
CREDIT_NOTE_PREFIX = "CN"


async def next_number(prefix: str = INVOICE_PREFIX, year: int | None = None) -> str:
    """The next number of the year's sequence, e.g. ``INV-2026-000042``; call inside the
    transaction that writes the row using it, so a rollback gives the number back."""
    year = year or datetime.now(UTC).year
    if not await InvoiceSequence.exists(prefix=prefix, year=year):
        try:
            async with db.atomic():
                await InvoiceSequence.create(prefix=prefix, year=year)
        except IntegrityError:
            pass  # another issuer made the year's row first
    async with db.atomic():
        # The increment takes the row lock, held until the caller's transaction ends; the
        # read after it, in the same transaction, sees our own increment and no one else's.
        await InvoiceSequence.filter(prefix=prefix, year=year).update(
            last_number=F("last_number") + 1
        )
        sequence = await InvoiceSequence.get(prefix=prefix, year=year)
    return f"{prefix}-{year}-{sequence.last_number:06d}"


def _buyer(user: User, beneficiary: ServiceBeneficiary | None) -> dict:
    return {
        "name": beneficiary.name if beneficiary else user.name,
        "email": user.email,
        "country": beneficiary.country if beneficiary else None,
        "tax_id": beneficiary.tax_id if beneficiary else None,
        "address": beneficiary.address if beneficiary else "",
    }


def _seller() -> dict:
    settings = get_settings()
    return {"name": "Managely", "email": settings.staff_email, "domain": settings.base_domain}


async def issue(
    user: User,
    quote: pricing.Quote,
    *,
    beneficiary: ServiceBeneficiary | None = None,
    subscription=None,
    paid: bool = True,
) -> Invoice:
    """Write a numbered invoice whose lines are the quote's, in the user's language; it is
    emailed with its PDF once the transaction commits."""
    now = datetime.now(UTC)
    locale = user.locale if user.locale in i18n.LOCALES else i18n.DEFAULT_LOCALE
    async with db.atomic():
        invoice = await Invoice.create(
            number=await next_number(),
            user=user,
            beneficiary=beneficiary,
            subscription=subscription,
            status=InvoiceStatus.PAID if paid else InvoiceStatus.OPEN,
            buyer=_buyer(user, beneficiary),
            seller=_seller(),
            locale=locale,
            issued_at=now,
            due_at=now,
            paid_at=now if paid else None,
            **pricing.invoice_totals(quote),
        )
        with i18n.use_locale(locale):
            lines = pricing.invoice_lines(quote)
        await InvoiceLine.bulk_create([InvoiceLine(invoice=invoice, **line) for line in lines])
        enqueue("invoices.send", invoice.id)
    return invoice


async def issue_credit_note(invoice: Invoice, amount_minor: int, *, paid: bool) -> Invoice:
    """A credit note of ``amount_minor`` (tax included) against ``invoice``, numbered from the
    "CN" sequence, for the same buyer. Tax is split off in the invoice's own proportion, so
    crediting the whole invoice gives back exactly its tax. Call inside the refund's
    transaction."""
    now = datetime.now(UTC)
    tax = 0
    if invoice.total_minor:
        tax = pricing.round_half_up(Fraction(amount_minor * invoice.tax_minor, invoice.total_minor))
    async with db.atomic():
        note = await Invoice.create(
            number=await next_number(CREDIT_NOTE_PREFIX),
            user_id=invoice.user_id,
            beneficiary_id=invoice.beneficiary_id,
            subscription_id=invoice.subscription_id,
            status=InvoiceStatus.PAID if paid else InvoiceStatus.OPEN,
            kind=InvoiceKind.CREDIT_NOTE,
            credit_for=invoice,
            currency=invoice.currency,
            subtotal_minor=amount_minor - tax,
            tax_minor=tax,
            total_minor=amount_minor,
            tax_rate_bp=invoice.tax_rate_bp,
            buyer=invoice.buyer,
            seller=invoice.seller,
            locale=invoice.locale,
            issued_at=now,
            due_at=now,
            paid_at=now if paid else None,
        )
        with i18n.use_locale(invoice.locale):
            description = i18n.gettext("Refund of invoice %(number)s", number=invoice.number)
        await InvoiceLine.create(
            invoice=note,
            description=description[:255],
            quantity=1,
            unit_price_minor=amount_minor - tax,
            amount_minor=amount_minor - tax,
        )
    return note


def signed_total(invoice: Invoice) -> int:
    """The total as revenue: negative for a credit note."""
    return -invoice.total_minor if invoice.kind == InvoiceKind.CREDIT_NOTE else invoice.total_minor


async def _change_status(invoice: Invoice, before: InvoiceStatus, **values: object) -> bool:
    # A conditional update, so two racing changes cannot both win; the stored PDF showed the
    # old status, so it is forgotten and drawn again on the next download.
    changed = await Invoice.filter(id=invoice.id, status=before).update(pdf_path=None, **values)
    if changed:
        await invoice.refresh_from_db()
    return bool(changed)


async def mark_paid(invoice: Invoice, at: datetime | None = None) -> Invoice:
    """An open invoice (or credit note) is now settled; a second call changes nothing."""
    at = at or datetime.now(UTC)
    if not await _change_status(invoice, InvoiceStatus.OPEN, status=InvoiceStatus.PAID, paid_at=at):
        await invoice.refresh_from_db()
        if invoice.status != InvoiceStatus.PAID:
            raise Conflict(_l("Only an open invoice can be marked as paid."))
    return invoice


async def void(invoice: Invoice, actor: User | None, reason: str = "") -> Invoice:
    """Cancel an open invoice. It keeps its number (no gap); a paid invoice is corrected with
    a credit note instead."""
    now = datetime.now(UTC)
    async with db.atomic():
        voided = await _change_status(
            invoice, InvoiceStatus.OPEN, status=InvoiceStatus.VOID, voided_at=now
        )
        if not voided:
            raise Conflict(
                _l("Only an open invoice can be voided. A paid invoice is corrected by a refund.")
            )
        await platform.audit(
            actor, "billing.invoice_void", invoice, after={"status": "void"}, reason=reason
        )
    return invoice


async def invoices_of(user: User, limit: int = 50) -> list[Invoice]:
    """The user's issued invoices and credit notes, newest first (drafts are not shown)."""
    return await Invoice.filter(user=user).exclude(number=None).order_by("-id").limit(limit)


async def get_invoice_for_user(user: User, code: str) -> Invoice:
    """The access helper for invoices: another customer's invoice, or a draft, is not found."""
    invoice = await Invoice.get_or_none(code=code, user=user)
    if invoice is None or invoice.number is None:
        raise NotFound(_l("Not found."))
    return invoice


async def lines_of(invoice: Invoice) -> list[InvoiceLine]:
    return await InvoiceLine.filter(invoice_id=invoice.id).order_by("sort_order", "id")


async def related(invoice: Invoice) -> tuple[Invoice | None, list[Invoice]]:
    """The invoice a credit note corrects, and the credit notes issued against an invoice."""
    original = (
        await Invoice.get_or_none(id=invoice.credit_for_id) if invoice.credit_for_id else None
    )
    notes = await Invoice.filter(credit_for_id=invoice.id).exclude(number=None).order_by("id")
    return original, notes


async def send_invoice(invoice_id: int) -> EmailMessage | None:
    """Email an issued invoice or credit note to its buyer, with its PDF attached."""
    invoice = await Invoice.get_or_none(id=invoice_id)
    if invoice is None or invoice.number is None:
        return None
    path = await invoice_pdf.ensure_pdf(invoice)
    original, _ = await related(invoice)
    # The account's address now, not the one frozen on the invoice: mail must reach them.
    user = await User.get(id=invoice.user_id)
    context = {
        "invoice": invoice,
        "name": invoice.buyer.get("name", ""),
        "original_number": original.number if original else None,
        "url": f"{get_settings().public_url}/panel/invoices/{invoice.code}",
    }
    attachment = Attachment(f"{invoice.number}.pdf", path.read_bytes())
    return await queue_email(
        user.email, "invoice", context, invoice.locale, attachments=[attachment]
    )


async def process_invoices(limit: int = 100) -> int:
    """The clock's invoice pass: draw the PDF of every issued invoice that has none yet (the
    renewal run writes invoices in bulk; a failed email job may never have drawn one), so a
    download is instant and the file exists before anyone asks. Returns how many it drew."""
    pending = (
        await Invoice.filter(number__isnull=False, pdf_path__isnull=True)
        .exclude(status=InvoiceStatus.DRAFT)
        .order_by("id")
        .limit(limit)
    )
    for invoice in pending:
        await invoice_pdf.ensure_pdf(invoice)
    return len(pending)
