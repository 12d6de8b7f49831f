"""The customer's invoices and credit notes: a list, one invoice, and its PDF."""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response, g

from managely.services import invoice_pdf, invoices
from managely.web.auth import login_required
from managely.web.htmx import page_or_partial

bp = Blueprint("invoices", __name__, url_prefix="/panel/invoices")


@bp.get("")
@login_required
async def index():
    return await page_or_partial("invoices/index.html", items=await invoices.invoices_of(g.user))


@bp.get("/<code>")
@login_required
async def detail(code: str):
    invoice = await invoices.get_invoice_for_user(g.user, code)
    original, credit_notes = await invoices.related(invoice)
    return await page_or_partial(
        "invoices/detail.html",
        invoice=invoice,
        lines=await invoices.lines_of(invoice),
        original=original,
        credit_notes=credit_notes,
    )


@bp.get("/<code>.pdf")
@login_required
async def pdf(code: str):
    return await pdf_response(await invoices.get_invoice_for_user(g.user, code))


async def pdf_response(invoice) -> Response:
    """The invoice's PDF as a download (the JSON API serves it the same way)."""
    path = await invoice_pdf.ensure_pdf(invoice)
    response = Response(await asyncio.to_thread(path.read_bytes), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    # A customer's invoice: never kept by a shared cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response
