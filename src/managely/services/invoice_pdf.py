"""Invoice PDFs: drawn by WeasyPrint in the invoice's language, stored once, served from disk.

The page is ``templates/invoices/invoice.html`` with ``static/css/invoice.css``. Arabic
invoices are right-to-left with an Arabic face first in the font stack (Noto Naskh Arabic,
from the ``fonts-noto-core`` package the setup installs); the stylesheet uses logical
properties, so one layout serves both directions. Money and dates go through the i18n
filters, with Arabic-Indic digits when the customer or the platform asked for them.

The file lives at ``<data dir>/invoices/<year>/<number>.pdf``; ``Invoice.pdf_path`` holds
that path relative to the data dir and is cleared when the status changes, so the next
download draws the new status.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

from weasyprint import CSS, HTML

from managely import i18n
from managely.models.accounts import User
from managely.models.billing import Invoice, InvoiceLine
from managely.settings import get_settings
from managely.templating import render

STATIC_DIR = Path(__file__).resolve().parents[3] / "static"
STYLESHEET = STATIC_DIR / "css" / "invoice.css"


def relative_path(invoice: Invoice) -> str:
    return f"invoices/{invoice.issued_at.year}/{invoice.number}.pdf"


async def render_html(invoice: Invoice) -> str:
    """The invoice page in the invoice's locale, ready for WeasyPrint."""
    if invoice.number is None:
        raise ValueError("a draft has no PDF: issue it first")
    lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("sort_order", "id")
    original = (
        await Invoice.get_or_none(id=invoice.credit_for_id) if invoice.credit_for_id else None
    )
    user = await User.get(id=invoice.user_id)
    digits = user.arabic_digits or get_settings().arabic_digits
    with i18n.use_locale(invoice.locale, arabic_digits=digits):
        return render(
            "invoices/invoice.html",
            invoice=invoice,
            lines=lines,
            original=original,
            buyer=invoice.buyer or {},
            seller=invoice.seller or {},
            arabic_digits=i18n.uses_arabic_digits(),
        )


def _write_pdf(html: str) -> bytes:
    document = HTML(string=html, base_url=str(STATIC_DIR))
    return document.write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])


async def render_pdf(invoice: Invoice) -> bytes:
    """The PDF's bytes; the layout runs in a thread so the event loop keeps serving."""
    html = await render_html(invoice)
    return await asyncio.to_thread(_write_pdf, html)


def _store(path: Path, content: bytes) -> None:
    # Written aside and renamed: a download never reads half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    partial.write_bytes(content)
    os.replace(partial, path)


async def ensure_pdf(invoice: Invoice) -> Path:
    """The stored PDF of ``invoice``, drawn now if it has none (first download, or the job
    that emails it)."""
    data_dir = get_settings().data_dir
    if invoice.pdf_path and (data_dir / invoice.pdf_path).is_file():
        return data_dir / invoice.pdf_path
    content = await render_pdf(invoice)
    relative = relative_path(invoice)
    await asyncio.to_thread(_store, data_dir / relative, content)
    # Only if the status did not change while we drew it; else the next call draws again.
    await Invoice.filter(id=invoice.id, status=invoice.status).update(pdf_path=relative)
    invoice.pdf_path = relative
    return data_dir / relative
