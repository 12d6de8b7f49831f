"""Renewals: charge every subscription whose period ended, from the wallet, exactly once.

``run_renewals`` walks the due subscriptions in batches. A batch is one transaction: it locks
its subscriptions (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two runs share the work instead
of waiting), prices each renewal with ``pricing.compute_quote`` (the agreed price, the promo
for its remaining cycles, recurring add-ons, tax), debits the wallets under their row locks,
and writes the invoices, the ledger entries, the new periods and the history together. So a
crash leaves either everything of a batch or nothing, and a rerun finds nothing left to do.

Every charge is the ledger entry ``renew:<subscription code>:<period end>``, unique: a second
run, a second clock or a customer paying by hand at the same moment cannot charge that period
twice. A period found charged but not advanced (the entry exists) is advanced from that entry,
without a second invoice. A short wallet is not an error: the subscription goes past due with
a reminder. A batch that fails is retried one subscription at a time, so one bad row is logged
and counted and the others are renewed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q

from managely import db, i18n
from managely.models.accounts import User
from managely.models.billing import (
    Invoice,
    InvoiceLine,
    Wallet,
    WalletTransaction,
    WalletTransactionKind,
)
from managely.models.subscriptions import Subscription, SubscriptionHistory, SubscriptionStatus
from managely.queue import enqueue
from managely.services import dunning, platform, pricing, subscriptions
from managely.services.errors import Conflict
from managely.services.renewal_rows import (
    HISTORY,
    INVOICE,
    LEDGER,
    LINE,
    SUBSCRIPTION,
    Buyers,
    Prices,
    Rows,
    as_json,
    invoice_lines,
    take_numbers,
    value,
)
from managely.services.wallet import InsufficientFunds

log = logging.getLogger(__name__)

ACTIVE, PAST_DUE = SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE
SUSPENDED, CANCELLED = SubscriptionStatus.SUSPENDED, SubscriptionStatus.CANCELLED
DUE = (ACTIVE, PAST_DUE, SUSPENDED)
PAY_NOW = (PAST_DUE, SUSPENDED, CANCELLED)  # what a customer can pay for by hand
# The system was stopped: a payment starts a new period today instead of continuing the old.
RESTART = (SUSPENDED, CANCELLED)
BATCH = 500
COUNTS = ("due", "renewed", "completed", "past_due", "cancelled", "failed")
CHANGED = i18n.lazy_gettext("This subscription changed meanwhile. Reload the page.")


def utcnow() -> datetime:
    return datetime.now(UTC)


def renewal_key(subscription: Subscription) -> str:
    """The ledger key of the charge that pays the period after ``current_period_end``."""
    end = subscription.current_period_end.astimezone(UTC).isoformat()
    return f"renew:{subscription.code}:{end}"[:128]


def _due(now: datetime) -> Q:
    # Manual payers already past due wait for the customer; everything else is acted on.
    return Q(status__in=DUE, current_period_end__lte=now) & (
        Q(status=ACTIVE) | Q(auto_renew=True) | Q(cancel_at_period_end=True)
    )


# --- the run ----------------------------------------------------------------------------------


async def run_renewals(
    now: datetime | None = None,
    *,
    actor: User | None = None,
    batch_size: int = BATCH,
    workers: int | None = None,
) -> dict[str, int]:
    """Renew, cancel or mark past due every subscription whose period ended by ``now``; the
    counts are returned and recorded in the audit log (``billing.renewals``)."""
    now = now or utcnow()
    started = time.monotonic()
    counts: Counter = Counter()
    pages = _Pages(now, batch_size)
    # SQLite runs one transaction at a time anyway; PostgreSQL overlaps batches.
    workers = workers or (3 if db.current_dialect() == "postgres" else 1)
    await asyncio.gather(*(_work(pages, now, counts) for _ in range(workers)))
    result = {name: counts[name] for name in COUNTS}
    seconds = round(time.monotonic() - started, 3)
    await platform.audit(
        actor, "billing.renewals", after={**result, "at": now.isoformat(), "seconds": seconds}
    )
    log.info("billing: renewals at %s: %s in %.1f s", now.isoformat(), result, seconds)
    return result


class _Pages:
    """Due subscription ids, a page at a time, for any number of workers (keyset paging:
    a subscription left due, e.g. past due, is still visited once per run)."""

    def __init__(self, now: datetime, size: int) -> None:
        self.now, self.size, self.last = now, size, 0
        self.lock = asyncio.Lock()

    async def next(self) -> list[int]:
        async with self.lock:
            ids = await (
                Subscription.filter(_due(self.now), id__gt=self.last)
                .order_by("id")
                .limit(self.size)
                .values_list("id", flat=True)
            )
            if ids:
                self.last = ids[-1]
            return ids


async def _work(pages: _Pages, now: datetime, counts: Counter) -> None:
    while ids := await pages.next():
        try:
            counts.update(await renew_batch(ids, now))
        except Exception:
            log.warning("billing: a renewal batch failed; renewing one by one", exc_info=True)
            for subscription_id in ids:
                try:
                    counts.update(await renew_batch([subscription_id], now))
                except Exception:
                    log.exception("billing: renewal of subscription %s failed", subscription_id)
                    counts.update(due=1, failed=1)


async def pay_now(subscription: Subscription, *, now: datetime, actor: User | None) -> None:
    """The customer pays a past-due, suspended or cancelled subscription by hand: the same
    charge as the renewal (same key), but a short wallet raises ``InsufficientFunds``."""
    done = await renew_batch([subscription.id], now, pay_now=True, actor=actor)
    if not done["renewed"] and not done["completed"]:
        raise Conflict(CHANGED)


async def renew_early(
    subscription: Subscription, seen_period_end: datetime, *, now: datetime, actor: User | None
) -> bool:
    """The customer pays an active subscription's next period now, from the wallet: the same
    charge as the clock's renewal (same key), so the clock later finds it paid. The period the
    customer saw is named, so a second click finds it paid and charges nothing (False).
    A short wallet raises ``InsufficientFunds`` and changes nothing."""
    end = seen_period_end.astimezone(UTC).isoformat()
    key = f"renew:{subscription.code}:{end}"[:128]
    if await WalletTransaction.exists(idempotency_key=key):
        return False
    done = await renew_batch(
        [subscription.id], now, pay_now=True, actor=actor, early_end=seen_period_end
    )
    if done["renewed"] or done["completed"]:
        return True
    if await WalletTransaction.exists(idempotency_key=key):  # another click won the race
        return False
    raise Conflict(CHANGED)


async def amount_due(subscription: Subscription, now: datetime | None = None) -> int:
    """What renewing ``subscription`` costs at ``now`` (tax included)."""
    quotes = await Prices.load([subscription])
    return quotes.quote(subscription, now or utcnow()).total_minor


# --- one batch --------------------------------------------------------------------------------


async def renew_batch(
    ids: list[int],
    now: datetime,
    *,
    pay_now: bool = False,
    actor: User | None = None,
    early_end: datetime | None = None,
) -> Counter:
    """Renew the subscriptions ``ids`` that are (still) due, in one transaction; with
    ``early_end``, active ones still ending then (paid early by hand)."""
    async with db.atomic():
        if early_end is not None:
            query = Subscription.filter(id__in=ids, status=ACTIVE, cancel_at_period_end=False)
        elif pay_now:
            query = Subscription.filter(id__in=ids, status__in=PAY_NOW)
        else:
            query = Subscription.filter(_due(now), id__in=ids)
        rows = await query.select_for_update(skip_locked=not pay_now).order_by("id")
        if early_end is not None:
            rows = [s for s in rows if s.current_period_end == early_end]
        batch = _Batch(rows, now, pay_now, actor)
        await batch.decide()
        await batch.write()
    return batch.counts


@dataclass
class _Charge:
    subscription: Subscription
    key: str
    quote: pricing.Quote | None  # None: the charge exists already, only the period moves
    paid_at: datetime
    wallet: Wallet | None = None
    balance_after: int = 0


class _Batch:
    """One transaction's worth of due subscriptions: ``decide`` sorts them, ``write`` writes
    what was decided, the invoice numbers last."""

    def __init__(self, rows: list[Subscription], now: datetime, pay_now: bool, actor) -> None:
        self.now, self.pay_now, self.actor = now, pay_now, actor
        self.rows = rows
        self.before = {s.id: s.status for s in rows}
        self.charged: list[_Charge] = []
        self.unpaid: list[tuple[Subscription, int]] = []
        self.cancelled: list[Subscription] = []
        self.counts: Counter = Counter(due=len(rows))

    async def decide(self) -> None:
        """Sort the batch: cancel, charge (or complete an existing charge), or past due."""
        self.cancelled = [s for s in self.rows if s.cancel_at_period_end and not self.pay_now]
        ending = {s.id for s in self.cancelled}
        rest = [s for s in self.rows if s.id not in ending]
        keys = [renewal_key(s) for s in rest]
        existing = {
            entry.idempotency_key: entry
            for entry in await WalletTransaction.filter(idempotency_key__in=keys)
        }
        self.prices = await Prices.load(rest)
        balances = await self._wallets(rest)
        for subscription in rest:
            key = renewal_key(subscription)
            if key in existing:
                self.charged.append(_Charge(subscription, key, None, existing[key].created_at))
                continue
            quote = self.prices.quote(subscription, self.now)
            wallet = balances.get((subscription.user_id, subscription.currency))
            total = quote.total_minor
            if not subscription.auto_renew and not self.pay_now:
                self.unpaid.append((subscription, total))
            elif total == 0 or (wallet is not None and wallet.balance_minor >= total):
                charge = _Charge(subscription, key, quote, self.now, wallet)
                if total:
                    wallet.balance_minor -= total
                    charge.balance_after = wallet.balance_minor
                self.charged.append(charge)
            elif self.pay_now:
                balance = wallet.balance_minor if wallet else 0
                raise InsufficientFunds(total, balance, subscription.currency)
            else:
                self.unpaid.append((subscription, total))

    async def _wallets(self, rows: list[Subscription]) -> dict[tuple[int, str], Wallet]:
        # Locked in id order, so batches running side by side never wait on each other in a
        # circle; a payment posted meanwhile waits for this transaction, then adds to it.
        wallets = await (
            Wallet.filter(
                user_id__in={s.user_id for s in rows}, currency__in={s.currency for s in rows}
            )
            .select_for_update()
            .order_by("id")
        )
        return {(w.user_id, w.currency): w for w in wallets}

    async def write(self) -> None:
        self.sql, self.rendered = Rows(), {}
        await self._advance()
        await self._past_due()
        await self._cancel()
        await self._record()
        await self._invoice()

    async def _advance(self) -> None:
        for charge in self.charged:
            subscription = charge.subscription
            months = self.prices.periods[subscription.period_id].months
            if subscription.status in RESTART:
                start, anchor = charge.paid_at, charge.paid_at.day
            else:
                start = subscription.current_period_end
                anchor = subscription.anchor_day or (subscription.current_period_start or start).day
            left, keep = subscriptions.cycles_after_renewal(subscription)
            subscription.status = ACTIVE
            subscription.current_period_start = start
            subscription.current_period_end = subscriptions.period_end_after(start, months, anchor)
            subscription.anchor_day = anchor
            subscription.promo_cycles_left = left
            subscription.promo_id = subscription.promo_id if keep else None
            subscription.past_due_since = subscription.suspended_at = None
            subscription.cancel_at_period_end, subscription.cancelled_at = False, None
            self.counts["renewed" if charge.quote else "completed"] += 1
        await self._save([c.subscription for c in self.charged])
        for charge in self.charged:
            if self.before[charge.subscription.id] in RESTART:
                await dunning.resume_sites(charge.subscription, self.actor)

    async def _past_due(self) -> None:
        fresh = [s for s, _ in self.unpaid if s.status == ACTIVE]
        for subscription in fresh:
            subscription.status = PAST_DUE
            subscription.past_due_since = subscription.current_period_end
        await self._save(fresh)
        # Told once, when the renewal first fails; the reminder sweep covers the rest.
        fresh_ids = {s.id for s in fresh}
        for subscription, total in self.unpaid:
            if subscription.id in fresh_ids:
                await dunning.remind_past_due(subscription, total, self.now)
        self.counts["past_due"] += len(self.unpaid)

    async def _cancel(self) -> None:
        for subscription in self.cancelled:
            subscription.status = CANCELLED
            subscription.cancelled_at = subscription.suspended_at = self.now
        await self._save(self.cancelled)
        for subscription in self.cancelled:
            await dunning.suspend_sites(subscription)
        self.counts["cancelled"] += len(self.cancelled)

    async def _save(self, rows: list[Subscription]) -> None:
        await self.sql.update(
            Subscription,
            SUBSCRIPTION,
            [[*(value(getattr(row, name)) for name in SUBSCRIPTION), row.id] for row in rows],
            self.now,
        )

    async def _record(self) -> None:
        actor = self.actor.id if self.actor else None
        rows = [
            (
                c.subscription.id,
                "renewed",
                self.before[c.subscription.id].value,
                ACTIVE.value,
                as_json(
                    key=c.key,
                    total_minor=c.quote.total_minor if c.quote else None,
                    period_end=c.subscription.current_period_end.isoformat(),
                ),
                actor,
            )
            for c in self.charged
        ]
        rows += [
            (
                s.id,
                "renewal_failed",
                self.before[s.id].value,
                s.status.value,
                as_json(total_minor=t),
                None,
            )
            for s, t in self.unpaid
        ]
        rows += [
            (s.id, "cancelled", self.before[s.id].value, CANCELLED.value, as_json(), None)
            for s in self.cancelled
        ]
        await self.sql.insert(SubscriptionHistory, HISTORY, rows, self.now)

    async def _invoice(self) -> None:
        """Invoices, their lines and the ledger entries, last: the invoice number sequence
        stays locked from the first number taken to the commit, so take it late."""
        billed = [c for c in self.charged if c.quote is not None]
        if not billed:
            return
        wallets = {c.wallet.id: c.wallet for c in billed if c.wallet is not None}
        await self.sql.update(
            Wallet, ["balance_minor"], [[w.balance_minor, w.id] for w in wallets.values()], self.now
        )
        buyers = await Buyers.load([c.subscription for c in billed])
        numbers = await take_numbers(len(billed), self.now.year)
        invoices_rows = [
            buyers.invoice_row(c.subscription, c.quote, number, self.now)
            for c, number in zip(billed, numbers, strict=True)
        ]
        await self.sql.insert(Invoice, INVOICE, invoices_rows, self.now)
        ids = dict(await Invoice.filter(number__in=numbers).values_list("number", "id"))
        lines, entries = [], []
        for charge, number, row in zip(billed, numbers, invoices_rows, strict=True):
            invoice_id = ids[number]
            for line in invoice_lines(charge.quote, row[INVOICE.index("locale")], self.rendered):
                lines.append((invoice_id, *line))
            if charge.quote.total_minor:
                entries.append(self._ledger_row(charge, number))
            enqueue("invoices.send", invoice_id)
        await self.sql.insert(InvoiceLine, LINE, lines, self.now)
        await self.sql.insert(WalletTransaction, LEDGER, entries, self.now)

    def _ledger_row(self, charge: _Charge, number: str) -> tuple:
        """The charge, as ``wallet.post`` writes it (``LEDGER`` columns)."""
        subscription = charge.subscription
        period = self.prices.periods[subscription.period_id]
        package = self.prices.packages[subscription.package_id]
        return (
            charge.wallet.id,
            WalletTransactionKind.CHARGE.value,
            -charge.quote.total_minor,
            charge.balance_after,
            number,
            charge.key,
            f"renewal {package.slug} {period.period.value}"[:255],
        )
