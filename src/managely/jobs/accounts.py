"""Account actors: one-time codes."""

from managely.queue import actor
from managely.services import accounts


@actor("accounts.send_otp", queue="email")
async def send_otp(user_id: int, purpose: str) -> None:
    """Issue a one-time code for ``user_id`` and email it."""
    await accounts.send_otp(user_id, purpose)
