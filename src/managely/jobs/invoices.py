"""Invoice actors: draw an issued invoice's PDF and email it; the clock draws the missing."""

from datetime import timedelta

from managely.jobs.clock import scheduled
from managely.queue import actor
from managely.services import invoices


@actor("invoices.send", queue="default")
async def send(invoice_id: int) -> None:
    """Email invoice ``invoice_id`` (or a credit note) to its buyer with the PDF attached."""
    await invoices.send_invoice(invoice_id)


@scheduled(timedelta(minutes=10), "invoices.process", queue="default")
async def process() -> dict[str, int]:
    """Draw the PDFs of issued invoices that have none yet."""
    return {"drawn": await invoices.process_invoices()}
