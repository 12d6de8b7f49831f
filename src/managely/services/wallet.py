"""The wallet ledger: every movement of money is one appended, idempotent entry.

``post`` appends an entry and moves the cached balance in the same transaction. The entry's
``idempotency_key`` is unique, so a retried request, a redelivered webhook or a job run twice
finds the entry it already made instead of moving the money again. A debit is a conditional
update (``balance >= amount``), so two purchases racing for the last of the balance cannot
both succeed, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.billing import Wallet, WalletTransaction, WalletTransactionKind
from managely.services.errors import Conflict, ServiceError, ValidationError


class InsufficientFunds(ServiceError):
    status = 402
    code = "insufficient_funds"

    def __init__(self, needed_minor: int, balance_minor: int, currency: str) -> None:
        super().__init__(
            _l("Your wallet balance is too low for this purchase. Top it up and try again."),
            field="wallet",
        )
        self.needed_minor = needed_minor
        self.balance_minor = balance_minor
        self.currency = currency

    @property
    def shortfall_minor(self) -> int:
        return self.needed_minor - self.balance_minor


async def wallet_for(user: User, currency: str) -> Wallet:
    """The user's wallet in ``currency``, made on first use (once, even when two race)."""
    currency = currency.upper()
    wallet = await Wallet.get_or_none(user=user, currency=currency)
    if wallet is not None:
        return wallet
    try:
        async with db.atomic():
            return await Wallet.create(user=user, currency=currency)
    except IntegrityError:
        return await Wallet.get(user=user, currency=currency)


async def balance(user: User, currency: str) -> int:
    wallet = await Wallet.get_or_none(user=user, currency=currency.upper())
    return wallet.balance_minor if wallet else 0


async def post(
    user: User,
    currency: str,
    amount_minor: int,
    kind: WalletTransactionKind,
    idempotency_key: str,
    *,
    reference: str = "",
    description: str = "",
    actor: User | None = None,
) -> WalletTransaction:
    """Append one entry (credits positive, debits negative) unless its key was used already.

    The same key with a different amount or wallet is a bug in the caller: it raises rather
    than silently returning an entry that does not match.
    """
    if not isinstance(amount_minor, int) or amount_minor == 0:
        raise ValidationError(_l("Enter an amount."), field="amount")
    if not idempotency_key or len(idempotency_key) > 128:
        raise ValueError("an idempotency key of 1-128 characters is required")
    wallet = await wallet_for(user, currency)
    try:
        async with db.atomic():
            existing = await WalletTransaction.get_or_none(idempotency_key=idempotency_key)
            if existing is not None:
                return _same(existing, wallet, amount_minor)
            if amount_minor < 0:
                moved = await Wallet.filter(id=wallet.id, balance_minor__gte=-amount_minor).update(
                    balance_minor=F("balance_minor") + amount_minor
                )
                if not moved:
                    current = await Wallet.get(id=wallet.id)
                    raise InsufficientFunds(-amount_minor, current.balance_minor, wallet.currency)
            else:
                await Wallet.filter(id=wallet.id).update(
                    balance_minor=F("balance_minor") + amount_minor
                )
            after = await Wallet.get(id=wallet.id)
            return await WalletTransaction.create(
                wallet=wallet,
                kind=kind,
                amount_minor=amount_minor,
                balance_after_minor=after.balance_minor,
                reference=reference[:64],
                idempotency_key=idempotency_key,
                description=description[:255],
                actor=actor,
            )
    except IntegrityError:
        # Another request with the same key committed first; its transaction moved the money.
        existing = await WalletTransaction.get(idempotency_key=idempotency_key)
        return _same(existing, wallet, amount_minor)


def _same(entry: WalletTransaction, wallet: Wallet, amount_minor: int) -> WalletTransaction:
    if entry.wallet_id != wallet.id or entry.amount_minor != amount_minor:
        raise Conflict(_l("This request was already used for a different amount."))
    return entry


@dataclass(frozen=True)
class LedgerFilter:
    """Which entries of a wallet to show: one kind, and days from/to (both included, UTC)."""

    kind: str = ""
    start: date | None = None
    end: date | None = None


def _day(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            _l("Enter a date as YYYY-MM-DD, for example 2025-01-31."), field=field
        ) from None


def ledger_filter(kind: str = "", date_from: str = "", date_to: str = "") -> LedgerFilter:
    """The filter from what the customer typed; a wrong kind or date raises ValidationError."""
    kind = kind.strip()
    if kind and kind not in {k.value for k in WalletTransactionKind}:
        raise ValidationError(_l("Choose one of the options."), field="kind")
    start, end = _day(date_from[:32], "date_from"), _day(date_to[:32], "date_to")
    if start and end and start > end:
        raise ValidationError(_l("The start date must not be after the end date."), field="date_to")
    return LedgerFilter(kind, start, end)


async def ledger(
    user: User, currency: str, limit: int = 50, filters: LedgerFilter | None = None
) -> list[WalletTransaction]:
    """The wallet's newest entries, narrowed by ``filters`` when given."""
    wallet = await Wallet.get_or_none(user=user, currency=currency.upper())
    if wallet is None:
        return []
    query = WalletTransaction.filter(wallet=wallet)
    filters = filters or LedgerFilter()
    if filters.kind:
        query = query.filter(kind=filters.kind)
    if filters.start:
        query = query.filter(created_at__gte=_midnight(filters.start))
    if filters.end:
        query = query.filter(created_at__lt=_midnight(filters.end + timedelta(days=1)))
    return await query.order_by("-id").limit(limit)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def balances(user: User) -> list[Wallet]:
    return await Wallet.filter(user=user).order_by("currency")
