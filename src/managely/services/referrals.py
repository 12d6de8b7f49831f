"""Referrals: each customer's link, first-touch attribution, commissions and their ledger.

A visit through ``?ref=<code>`` leaves a signed first-touch cookie (an earlier one still in
its window wins); signing up inside the window links the new account to the referrer. Each
captured payment of a referred customer accrues a pending commission, once per payment; after
the holding period ``mature`` makes it available, the referrer withdraws it into the wallet,
and a refund takes back the refunded share.

The balance is a ledger like the wallet: every movement is one entry with a unique
idempotency key and the balances after it, appended in the transaction that moves the cached
balance with a conditional update. An entry's kind names the bucket it moves: ACCRUE the
pending one (negative when a refund cuts a held commission), MATURE from pending to available,
WITHDRAW and REVERSE the available one. So each cached bucket is the sum of its entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from babel.support import LazyProxy
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from managely import crypto, db
from managely.i18n import format_money
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User, UserStatus
from managely.models.billing import Payment, WalletTransactionKind
from managely.models.referrals import (
    CommissionStatus,
    ReferralBalance,
    ReferralBalanceEntry,
    ReferralCommission,
    ReferralEntryKind,
    ReferralLink,
    ReferralSettings,
)
from managely.services import wallet
from managely.services.errors import Conflict, ServiceError, ValidationError
from managely.services.platform import audit
from managely.services.pricing import BP, round_half_up

COOKIE = "managely_ref"
REF_ARG = "ref"
# A withdrawal form's one-time key: the same key never moves money twice.
REQUEST_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MATURE_BATCH = 200


class InsufficientReferralBalance(ServiceError):
    status = 400
    code = "insufficient_referral_balance"

    def __init__(self) -> None:
        super().__init__(
            _l("You cannot withdraw more than your available commissions."), field="amount"
        )


@dataclass(frozen=True)
class Summary:
    """What the referral page shows: the link, who signed up through it, the balances."""

    link: ReferralLink
    referred: int
    balances: list[ReferralBalance]
    program: ReferralSettings


def now() -> datetime:
    return datetime.now(UTC)


async def program() -> ReferralSettings:
    """The program's one settings row, made with its defaults on first use."""
    found = await ReferralSettings.get_or_none(name="default")
    if found is not None:
        return found
    try:
        async with db.atomic():
            return await ReferralSettings.create(name="default")
    except IntegrityError:
        return await ReferralSettings.get(name="default")


async def link_for(user: User) -> ReferralLink:
    """The customer's referral link, made on first need (once, even when two race)."""
    found = await ReferralLink.get_or_none(user=user)
    if found is not None:
        return found
    try:
        async with db.atomic():
            return await ReferralLink.create(user=user)
    except IntegrityError:
        return await ReferralLink.get(user=user)


# --- first touch ------------------------------------------------------------------------


def _mac(code: str, issued: int) -> str:
    return crypto.token_hash(f"referral-touch:{code}:{issued}")[:32]


def touch_cookie(code: str, at: datetime) -> str:
    """The first-touch cookie's value: the code and when it was set, signed."""
    issued = int(at.timestamp())
    return f"{code}.{issued}.{_mac(code, issued)}"


def touched_code(value: str | None, at: datetime, window_days: int) -> str | None:
    """The code a first-touch cookie carries, if we signed it and its window is still open.

    The window is checked here, not left to the browser's max-age: a kept or copied cookie
    must not attribute a signup months later.
    """
    code, _, rest = (value or "").partition(".")
    issued_text, _, mac = rest.partition(".")
    if not code or not issued_text.isdigit() or len(issued_text) > 12:
        return None
    if not crypto.constant_time_equal(mac, _mac(code, int(issued_text))):
        return None
    issued = datetime.fromtimestamp(int(issued_text), UTC)
    if not issued - timedelta(minutes=5) <= at < issued + timedelta(days=window_days):
        return None
    return code


async def first_touch(
    code: str, current_cookie: str | None, visitor: User | None, at: datetime | None = None
) -> tuple[str, int] | None:
    """The first-touch cookie (value, max-age in seconds) for a visit through a referral link.

    None when there is nothing to set: the program is off, the code is unknown, the visitor
    is signed in (an existing account is never referred after the fact), or a cookie from an
    earlier link is still in its window: the first touch wins.
    """
    at = at or now()
    settings = await program()
    if not settings.is_active or visitor is not None:
        return None
    if touched_code(current_cookie, at, settings.cookie_days) is not None:
        return None
    link = await ReferralLink.get_or_none(code=code.strip().lower()[:16])
    if link is None:
        return None
    await ReferralLink.filter(id=link.id).update(clicks=F("clicks") + 1)
    return touch_cookie(link.code, at), settings.cookie_days * 86400


async def link_signup(
    user: User, cookie_value: str | None, at: datetime | None = None
) -> User | None:
    """Link a new account to its referrer from the first-touch cookie; returns the referrer.

    Nothing happens for an expired or forged cookie, for the user's own link, or when the
    account already has a referrer (the first link stays).
    """
    at = at or now()
    code = touched_code(cookie_value, at, (await program()).cookie_days)
    if code is None:
        return None
    link = await ReferralLink.get_or_none(code=code).select_related("user")
    if link is None or link.user_id == user.id or link.user.status != UserStatus.ACTIVE:
        return None
    async with db.atomic():
        linked = await User.filter(id=user.id, referred_by_id=None).update(
            referred_by_id=link.user_id
        )
        if linked:
            await ReferralLink.filter(id=link.id).update(signups=F("signups") + 1)
    if not linked:
        return None
    user.referred_by_id = link.user_id
    return link.user


# --- the ledger -------------------------------------------------------------------------


def buckets(kind: ReferralEntryKind, amount_minor: int) -> tuple[int, int]:
    """How an entry moves (pending, available)."""
    if kind == ReferralEntryKind.ACCRUE:
        return amount_minor, 0
    if kind == ReferralEntryKind.MATURE:
        return -amount_minor, amount_minor
    return 0, amount_minor


async def balance_for(user_id: int, currency: str) -> ReferralBalance:
    """The cached balances in ``currency``, made on first use (once, even when two race)."""
    found = await ReferralBalance.get_or_none(user_id=user_id, currency=currency)
    if found is not None:
        return found
    try:
        async with db.atomic():
            return await ReferralBalance.create(user_id=user_id, currency=currency)
    except IntegrityError:
        return await ReferralBalance.get(user_id=user_id, currency=currency)


async def _append(
    balance: ReferralBalance,
    kind: ReferralEntryKind,
    amount_minor: int,
    idempotency_key: str,
    *,
    reference: str = "",
) -> ReferralBalanceEntry:
    """Move the cached buckets and append the entry; call inside the caller's transaction.

    A withdrawal only applies while the available balance covers it (a conditional update),
    so two racing for the last of it cannot both pass. A reversal may go below zero.
    """
    pending, available = buckets(kind, amount_minor)
    query = ReferralBalance.filter(id=balance.id)
    if kind == ReferralEntryKind.WITHDRAW:
        query = query.filter(available_minor__gte=-available)
    moved = await query.update(
        pending_minor=F("pending_minor") + pending, available_minor=F("available_minor") + available
    )
    if not moved:
        raise InsufficientReferralBalance()
    after = await ReferralBalance.get(id=balance.id)
    return await ReferralBalanceEntry.create(
        user_id=balance.user_id,
        currency=balance.currency,
        kind=kind,
        amount_minor=amount_minor,
        balance_after_minor=after.available_minor,
        pending_after_minor=after.pending_minor,
        reference=reference[:64],
        idempotency_key=idempotency_key,
    )


async def ledger(user: User, currency: str, limit: int = 50) -> list[ReferralBalanceEntry]:
    return (
        await ReferralBalanceEntry.filter(user=user, currency=currency.upper())
        .order_by("-id")
        .limit(limit)
    )


async def ledger_totals(user: User, currency: str) -> tuple[int, int]:
    """(pending, available) summed from the ledger: what the cached balance must equal."""
    pending = available = 0
    entries = ReferralBalanceEntry.filter(user=user, currency=currency.upper())
    for kind, amount in await entries.values_list("kind", "amount_minor"):
        moved = buckets(ReferralEntryKind(kind), amount)
        pending, available = pending + moved[0], available + moved[1]
    return pending, available


async def summary(user: User) -> Summary:
    return Summary(
        link=await link_for(user),
        referred=await User.filter(referred_by_id=user.id).count(),
        balances=await ReferralBalance.filter(user=user).order_by("currency"),
        program=await program(),
    )


# --- commissions ------------------------------------------------------------------------


async def on_payment_captured(
    user: User, amount_minor: int, currency: str, payment_ref: str, at: datetime | None = None
) -> ReferralCommission | None:
    """Accrue the referrer's pending commission on a payment the customer made, once.

    ``payment_ref`` names the payment (its code); a replay, a redelivered webhook or calls
    racing for the same payment all return the one commission. None when nothing accrues.
    """
    if not payment_ref or len(payment_ref) > 120:
        raise ValueError("a payment reference of 1-120 characters is required")
    key = f"ref:{payment_ref}"
    existing = await ReferralCommission.get_or_none(idempotency_key=key)
    if existing is not None:
        return existing
    # Reloaded: the caller's row may predate the signup link.
    referrers = await User.filter(id=user.id).values_list("referred_by_id", flat=True)
    referrer_id = referrers[0] if referrers else None
    settings = await program()
    if not referrer_id or not settings.is_active or amount_minor <= 0:
        return None
    commission_minor = round_half_up(Fraction(amount_minor * settings.rate_bp, BP))
    if commission_minor <= 0:
        return None
    at, currency = at or now(), currency.upper()
    balance = await balance_for(referrer_id, currency)
    payment = await Payment.get_or_none(code=payment_ref) if len(payment_ref) <= 16 else None
    try:
        async with db.atomic():
            commission = await ReferralCommission.create(
                referrer_id=referrer_id,
                referred=user,
                payment=payment,
                amount_minor=commission_minor,
                currency=currency,
                payment_amount_minor=amount_minor,
                rate_bp=settings.rate_bp,
                available_at=at + timedelta(days=settings.holding_days),
                idempotency_key=key,
            )
            await _append(
                balance, ReferralEntryKind.ACCRUE, commission_minor, key, reference=commission.code
            )
    except IntegrityError:
        # Another call for this payment committed first; it accrued the commission.
        return await ReferralCommission.get(idempotency_key=key)
    return commission


async def mature(at: datetime | None = None) -> int:
    """Make commissions past their holding period available; returns how many.

    Safe to run twice, or on two workers at once: each commission is claimed by a
    conditional update (pending → available) and its entry key is unique.
    """
    at, matured, after_id = at or now(), 0, 0
    while True:
        due = (
            await ReferralCommission.filter(
                status=CommissionStatus.PENDING, available_at__lte=at, id__gt=after_id
            )
            .order_by("id")
            .limit(MATURE_BATCH)
            .values_list("id", flat=True)
        )
        if not due:
            return matured
        for commission_id in due:
            matured += await _mature_one(commission_id)
        after_id = due[-1]


async def _mature_one(commission_id: int) -> bool:
    try:
        async with db.atomic():
            claimed = await ReferralCommission.filter(
                id=commission_id, status=CommissionStatus.PENDING
            ).update(status=CommissionStatus.AVAILABLE)
            if not claimed:
                return False
            # Read after the claim: a refund that cut it first is already in reversed_minor.
            commission = await ReferralCommission.get(id=commission_id)
            outstanding = commission.amount_minor - commission.reversed_minor
            if outstanding > 0:
                balance = await balance_for(commission.referrer_id, commission.currency)
                await _append(
                    balance,
                    ReferralEntryKind.MATURE,
                    outstanding,
                    f"mature:{commission.code}",
                    reference=commission.code,
                )
    except IntegrityError:
        return False
    return True


async def on_refund(
    payment_ref: str, refunded_minor: int, refund_ref: str
) -> ReferralBalanceEntry | None:
    """Take back the refunded share of a payment's commission, once per refund.

    Refunds add up on the commission and the share is rounded once on their sum, so a
    payment refunded in parts takes back exactly the whole commission. A commission still
    held is cut (a negative ACCRUE); one already available or withdrawn is reversed from the
    available balance (REVERSE), which may then go below zero. That debt is settled by the
    next commissions to mature, and withdrawing waits until the balance is positive again;
    the wallet is never touched, since what was withdrawn may already be spent.
    """
    commission = await ReferralCommission.get_or_none(idempotency_key=f"ref:{payment_ref}")
    if commission is None or refunded_minor <= 0:
        return None
    key = f"refund:{refund_ref}"
    existing = await ReferralBalanceEntry.get_or_none(idempotency_key=key)
    if existing is not None:
        return existing
    try:
        async with db.atomic():
            return await _reverse(commission.id, refunded_minor, key)
    except IntegrityError:
        return await ReferralBalanceEntry.get(idempotency_key=key)


async def _reverse(commission_id: int, refunded_minor: int, key: str) -> ReferralBalanceEntry:
    # The row lock orders this against maturing and other refunds of the same payment.
    commission = await ReferralCommission.select_for_update().get(id=commission_id)
    paid = commission.payment_amount_minor
    refunded = min(paid, commission.refunded_minor + refunded_minor) if paid else 0
    share = round_half_up(Fraction(commission.amount_minor * refunded, paid)) if paid else None
    target = commission.amount_minor if share is None else min(share, commission.amount_minor)
    cut = max(0, target - commission.reversed_minor)
    was_held = commission.status == CommissionStatus.PENDING
    reversed_after = commission.reversed_minor + cut
    status = (
        CommissionStatus.REVERSED
        if reversed_after >= commission.amount_minor
        else commission.status
    )
    await ReferralCommission.filter(id=commission.id).update(
        refunded_minor=refunded, reversed_minor=reversed_after, status=status
    )
    # A zero entry still records the refund, so a replay of it is recognised.
    entry = await _append(
        await balance_for(commission.referrer_id, commission.currency),
        ReferralEntryKind.ACCRUE if was_held else ReferralEntryKind.REVERSE,
        -cut,
        key,
        reference=commission.code,
    )
    await audit(
        None,
        "referrals.reverse",
        commission,
        before={"reversed_minor": commission.reversed_minor, "status": commission.status.value},
        after={"reversed_minor": reversed_after, "status": status.value, "refund": key},
    )
    return entry


# --- withdrawals ------------------------------------------------------------------------


async def withdraw(
    user: User, amount_minor: int, currency: str, request_key: str, *, ip: str = ""
) -> ReferralBalanceEntry:
    """Move part of the available referral balance into the wallet, once per ``request_key``.

    The referral debit is a conditional update and the wallet credit is posted in the same
    transaction: a withdrawal larger than the balance is refused and writes nothing.
    """
    currency = currency.upper()
    if not REQUEST_KEY.match(request_key or ""):
        raise ValidationError(_l("This form has expired. Reload the page and try again."))
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationError(_l("Enter an amount to withdraw."), field="amount")
    minimum = (await program()).min_withdrawal_minor
    if amount_minor < minimum:
        raise ValidationError(
            _l(
                "The smallest withdrawal is %(amount)s.",
                amount=LazyProxy(format_money, minimum, currency, enable_cache=False),
            ),
            field="amount",
        )
    key = f"referral-withdraw:{user.id}:{request_key}"
    existing = await ReferralBalanceEntry.get_or_none(idempotency_key=key)
    if existing is not None:
        return _same(existing, user, -amount_minor)
    balance = await ReferralBalance.get_or_none(user=user, currency=currency)
    if balance is None:
        raise InsufficientReferralBalance()
    try:
        async with db.atomic():
            target = await wallet.wallet_for(user, currency)
            entry = await _append(
                balance, ReferralEntryKind.WITHDRAW, -amount_minor, key, reference=target.code
            )
            await wallet.post(
                user, currency, amount_minor, WalletTransactionKind.REFERRAL_WITHDRAWAL, key
            )
            await audit(
                user,
                "referrals.withdraw",
                entry,
                after={"amount_minor": amount_minor, "currency": currency},
                ip=ip,
            )
    except (IntegrityError, InsufficientReferralBalance):
        # The same form sent twice at once: the first one moved the money.
        existing = await ReferralBalanceEntry.get_or_none(idempotency_key=key)
        if existing is None:
            raise
        return _same(existing, user, -amount_minor)
    return entry


def _same(entry: ReferralBalanceEntry, user: User, amount_minor: int) -> ReferralBalanceEntry:
    if entry.user_id != user.id or entry.amount_minor != amount_minor:
        raise Conflict(_l("This request was already used for a different amount."))
    return entry
