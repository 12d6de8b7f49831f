"""Invoices and credit notes: the list, one invoice, and its PDF."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from quart import Blueprint, g
from quart_schema import validate_querystring, validate_response

from managely.models.billing import Invoice
from managely.services import invoices, listings
from managely.web.api.base import PageInfo, PageQuery, endpoint
from managely.web.invoices import pdf_response

bp = Blueprint("invoices", __name__, url_prefix="/invoices")


class InvoiceOut(BaseModel):
    code: str
    number: str
    kind: str
    status: str
    currency: str
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    issued_at: datetime | None
    paid_at: datetime | None


class InvoiceList(BaseModel):
    items: list[InvoiceOut]
    page: PageInfo


def _out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        code=invoice.code,
        number=invoice.number or "",
        kind=str(invoice.kind),
        status=str(invoice.status),
        currency=invoice.currency,
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        issued_at=invoice.issued_at,
        paid_at=invoice.paid_at,
    )


@bp.get("")
@endpoint("read")
@validate_querystring(PageQuery)
@validate_response(InvoiceList)
async def list_invoices(query_args: PageQuery):
    """The customer's issued invoices and credit notes, newest first."""
    page = await listings.invoices(g.user, query_args.cursor, query_args.limit)
    return InvoiceList(
        items=[_out(invoice) for invoice in page.items],
        page=PageInfo(next_cursor=page.next_cursor),
    )


@bp.get("/<code>")
@endpoint("read")
@validate_response(InvoiceOut)
async def get_invoice(code: str):
    """One invoice."""
    return _out(await invoices.get_invoice_for_user(g.user, code))


@bp.get("/<code>/pdf")
@endpoint("read")
async def invoice_pdf_file(code: str):
    """The invoice as PDF."""
    return await pdf_response(await invoices.get_invoice_for_user(g.user, code))


invoice_pdf_file._api_binary = "application/pdf"  # type: ignore[attr-defined]  # for OpenAPI
