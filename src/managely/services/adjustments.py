"""Staff adjustments: a credit or debit of a customer's wallet by hand, with its reason.

Each one is a ledger entry of kind ``adjustment`` (the customer sees the reason in their
wallet) and an audit log entry naming the staff member. The form's key makes a double submit
move the money once; a debit never takes a wallet below zero.
"""

from __future__ import annotations

from babel import numbers

from managely import db
from managely.i18n import format_money
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.base import new_code
from managely.models.billing import WalletTransaction, WalletTransactionKind
from managely.services import platform, wallet
from managely.services.errors import NotFound, ValidationError
from managely.settings import CURRENCIES

MAX_MAJOR = 100_000  # per adjustment, in major units: a typo of a few zeros is refused


async def customer_by_code(code: str) -> User:
    user = await User.get_or_none(code=code[:16])
    if user is None:
        raise NotFound(_l("We could not find that customer."))
    return user


async def adjust_wallet(
    actor: User,
    customer: User,
    currency: str,
    amount_minor: int,
    reason: str,
    *,
    key: str,
    ip: str = "",
) -> WalletTransaction:
    """Credit (positive) or debit (negative) a wallet by hand, with a reason, audited.

    ``key`` comes from the form, so submitting it twice moves the money once.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError(
            _l("Say why: the customer sees it in their wallet and it goes in the audit log."),
            field="reason",
        )
    if len(reason) > 255:
        raise ValidationError(
            _l("This is too long (at most %(n)s characters).", n=255), field="reason"
        )
    currency = currency.upper()
    if currency not in CURRENCIES:
        raise ValidationError(_l("Choose a currency."), field="currency")
    limit = MAX_MAJOR * 10 ** numbers.get_currency_precision(currency)
    if not 0 < abs(amount_minor) <= limit:
        raise ValidationError(
            _l("An adjustment is at most %(limit)s.", limit=format_money(limit, currency)),
            field="amount",
        )
    idempotency_key = f"adjust:{key[:64] or new_code()}"
    async with db.atomic():
        repeated = await WalletTransaction.exists(idempotency_key=idempotency_key)
        try:
            entry = await wallet.post(
                customer,
                currency,
                amount_minor,
                WalletTransactionKind.ADJUSTMENT,
                idempotency_key,
                description=reason,
                actor=actor,
            )
        except wallet.InsufficientFunds as short:
            raise ValidationError(
                _l(
                    "The wallet holds only %(balance)s: a debit cannot take it below zero.",
                    balance=format_money(short.balance_minor, currency),
                ),
                field="amount",
            ) from None
        if not repeated:
            await platform.audit(
                actor,
                "wallet.adjust",
                customer,
                after={
                    "currency": currency,
                    "amount_minor": amount_minor,
                    "balance_after_minor": entry.balance_after_minor,
                },
                reason=reason,
                ip=ip,
            )
    return entry
