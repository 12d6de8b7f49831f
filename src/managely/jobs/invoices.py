"""Invoice actors: draw an issued invoice's PDF and email it."""

from managely.queue import actor
from managely.services import invoices


@actor("invoices.send", queue="default")
async def send(invoice_id: int) -> None:
    """Email invoice ``invoice_id`` (or a credit note) to its buyer with the PDF attached."""
    await invoices.send_invoice(invoice_id)
