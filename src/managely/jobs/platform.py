"""Platform actors: contact-form notices."""

from managely.queue import actor
from managely.services import platform


@actor("platform.notify_contact", queue="email")
async def notify_contact(contact_id: int) -> None:
    """Email staff about a new contact-form message."""
    await platform.notify_contact(contact_id)
