"""Invoices: numbered without gaps, frozen on issue, built from a pricing quote.

A number is taken in the transaction that writes the invoice (a conditional update on the
year's sequence row), so a rolled-back purchase gives its number back and two purchases never
share one. Buyer and seller details are copied onto the invoice when it is issued: a later
change of company name or address never rewrites an invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from managely import db, i18n
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.billing import Invoice, InvoiceLine, InvoiceSequence, InvoiceStatus
from managely.services import pricing
from managely.settings import get_settings


async def next_number(prefix: str = "INV", year: int | None = None) -> str:
    """The next number of the year's sequence, e.g. ``INV-2026-000042``; call inside a
    transaction with the row that uses it."""
    year = year or datetime.now(UTC).year
    sequence = await InvoiceSequence.get_or_none(prefix=prefix, year=year)
    if sequence is None:
        try:
            async with db.atomic():
                sequence = await InvoiceSequence.create(prefix=prefix, year=year)
        except IntegrityError:
            sequence = await InvoiceSequence.get(prefix=prefix, year=year)
    while True:
        current = await InvoiceSequence.get(id=sequence.id)
        taken = await InvoiceSequence.filter(
            id=sequence.id, last_number=current.last_number
        ).update(last_number=current.last_number + 1)
        if taken:
            return f"{prefix}-{year}-{current.last_number + 1:06d}"


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
    """Write a numbered invoice whose lines are the quote's, in the user's language."""
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
    return invoice


async def invoices_of(user: User, limit: int = 50) -> list[Invoice]:
    return await Invoice.filter(user=user).exclude(number=None).order_by("-id").limit(limit)
