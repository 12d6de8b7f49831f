"""Referrals: first-touch attribution, commissions once per payment, maturing, withdrawals to
the wallet and reversals on refund; the cached balance always equals the ledger's sum."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from managely.jobs import clock
from managely.jobs import referrals as referral_jobs
from managely.models.accounts import User
from managely.models.billing import Wallet, WalletTransaction, WalletTransactionKind
from managely.models.platform import AuditLog, ClockRun
from managely.models.referrals import (
    CommissionStatus,
    ReferralBalance,
    ReferralBalanceEntry,
    ReferralCommission,
    ReferralEntryKind,
    ReferralLink,
)
from managely.services import referrals, wallet
from managely.services.errors import Conflict, ValidationError
from tests.conftest import make_user

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOLD = timedelta(days=30)  # the default holding period
KEY = "form-key-0001"


async def refer(referrer: User, email: str = "dana@example.com") -> User:
    """A new customer who signed up through ``referrer``'s link."""
    link = await referrals.link_for(referrer)
    customer = await make_user(email)
    assert await referrals.link_signup(customer, referrals.touch_cookie(link.code, NOW), NOW)
    return customer


async def balances(user: User, currency: str = "USD") -> tuple[int, int]:
    """(pending, available), after checking the cache against the ledger's sum."""
    row = await ReferralBalance.get_or_none(user=user, currency=currency)
    cached = (row.pending_minor, row.available_minor) if row else (0, 0)
    assert cached == await referrals.ledger_totals(user, currency)
    return cached


async def matured_commission(referrer: User, amount: int = 10_000, ref: str = "pay-1"):
    customer = await refer(referrer)
    commission = await referrals.on_payment_captured(customer, amount, "usd", ref, NOW)
    assert await referrals.mature(NOW + HOLD) == 1
    return commission


# --- links and first touch --------------------------------------------------------------


async def test_a_customer_gets_one_stable_opaque_link(alice):
    links = await asyncio.gather(*(referrals.link_for(alice) for _ in range(5)))
    assert len({link.id for link in links}) == 1
    assert (await referrals.link_for(alice)).code == links[0].code
    assert str(alice.id) != links[0].code and len(links[0].code) == 12


async def test_the_first_touch_is_kept_and_a_later_link_does_not_replace_it(alice, charlie):
    first, second = await referrals.link_for(alice), await referrals.link_for(charlie)
    value, max_age = await referrals.first_touch(first.code, None, None, NOW)
    assert max_age == 30 * 86400
    assert referrals.touched_code(value, NOW, 30) == first.code
    later = NOW + timedelta(days=3)
    assert await referrals.first_touch(second.code, value, None, later) is None
    assert (await ReferralLink.get(id=first.id)).clicks == 1
    assert (await ReferralLink.get(id=second.id)).clicks == 0


async def test_an_expired_first_touch_is_ignored_and_may_be_replaced(alice, charlie):
    old = referrals.touch_cookie((await referrals.link_for(alice)).code, NOW - timedelta(days=31))
    dana = await make_user("dana@example.com")
    assert await referrals.link_signup(dana, old, NOW) is None
    assert (await User.get(id=dana.id)).referred_by_id is None
    fresh = await referrals.first_touch((await referrals.link_for(charlie)).code, old, None, NOW)
    assert fresh is not None


async def test_a_forged_or_garbled_cookie_is_ignored(alice):
    code = (await referrals.link_for(alice)).code
    value = referrals.touch_cookie(code, NOW)
    dana = await make_user("dana@example.com")
    forged_mac = value[:-1] + ("1" if value.endswith("0") else "0")
    for forged in (forged_mac, f"{code}.{int(NOW.timestamp())}.x", "junk", "", None):
        assert await referrals.link_signup(dana, forged, NOW) is None
    assert await referrals.first_touch("no-such-code", None, None, NOW) is None


async def test_a_signed_in_visitor_gets_no_cookie(alice, charlie):
    code = (await referrals.link_for(alice)).code
    assert await referrals.first_touch(code, None, charlie, NOW) is None


async def test_nobody_refers_themselves(alice):
    cookie = referrals.touch_cookie((await referrals.link_for(alice)).code, NOW)
    assert await referrals.link_signup(alice, cookie, NOW) is None
    assert (await User.get(id=alice.id)).referred_by_id is None


async def test_the_first_referrer_stays_linked(alice, charlie):
    dana = await refer(alice)
    other = referrals.touch_cookie((await referrals.link_for(charlie)).code, NOW)
    assert await referrals.link_signup(dana, other, NOW) is None
    assert (await User.get(id=dana.id)).referred_by_id == alice.id
    link = await referrals.link_for(alice)
    assert (link.signups, (await referrals.summary(alice)).referred) == (1, 1)


# --- commissions ------------------------------------------------------------------------


async def test_a_payment_accrues_one_pending_commission_even_when_sent_five_times_at_once(alice):
    dana = await refer(alice)
    results = await asyncio.gather(
        *(referrals.on_payment_captured(dana, 10_050, "usd", "pay-1", NOW) for _ in range(5))
    )
    assert len({c.id for c in results}) == 1
    commission = results[0]
    # 10 % of 100.50, half up; held for the holding period.
    assert (commission.amount_minor, commission.currency) == (1_005, "USD")
    assert commission.status == CommissionStatus.PENDING
    assert commission.available_at == NOW + HOLD
    assert await ReferralBalanceEntry.filter(user=alice).count() == 1
    assert await balances(alice) == (1_005, 0)


async def test_half_a_minor_unit_rounds_up(alice):
    dana = await refer(alice)
    commission = await referrals.on_payment_captured(dana, 1_005, "USD", "pay-1", NOW)
    assert commission.amount_minor == 101  # 100.5


async def test_no_commission_without_a_referrer_or_when_the_program_is_off(alice):
    assert await referrals.on_payment_captured(alice, 10_000, "USD", "pay-1", NOW) is None
    dana = await refer(alice)
    settings = await referrals.program()
    settings.is_active = False
    await settings.save()
    assert await referrals.on_payment_captured(dana, 10_000, "USD", "pay-2", NOW) is None
    assert not await ReferralCommission.exists()


async def test_commissions_mature_after_the_holding_period_once(alice):
    dana = await refer(alice)
    await referrals.on_payment_captured(dana, 10_000, "USD", "pay-1", NOW)
    assert await referrals.mature(NOW + HOLD - timedelta(seconds=1)) == 0
    assert await balances(alice) == (1_000, 0)
    assert await referrals.mature(NOW + HOLD) == 1
    assert await referrals.mature(NOW + HOLD) == 0
    racing = await asyncio.gather(*(referrals.mature(NOW + HOLD) for _ in range(3)))
    assert sum(racing) == 0
    assert await balances(alice) == (0, 1_000)
    kinds = (
        await ReferralBalanceEntry.filter(user=alice).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == [ReferralEntryKind.ACCRUE, ReferralEntryKind.MATURE]


async def test_racing_maturers_move_each_commission_once(alice):
    dana = await refer(alice)
    for n in range(4):
        await referrals.on_payment_captured(dana, 1_000, "USD", f"pay-{n}", NOW)
    racing = await asyncio.gather(*(referrals.mature(NOW + HOLD) for _ in range(3)))
    assert sum(racing) == 4
    assert await balances(alice) == (0, 400)


async def test_the_clock_task_matures_and_records_its_run(alice, run_jobs):
    dana = await refer(alice)
    past = datetime.now(UTC) - HOLD - timedelta(days=1)
    await referrals.on_payment_captured(dana, 10_000, "USD", "pay-1", past)
    schedule = clock.SCHEDULES["referrals.mature"]
    assert schedule.interval == timedelta(hours=1)
    assert await clock.fire(schedule) is True
    await run_jobs()
    run = await ClockRun.get(task="referrals.mature")
    assert (run.status, run.detail) == ("done", "matured 1")
    assert run.finished_at is not None and run.duration_ms >= 0
    await referral_jobs.mature.run()  # run again: nothing left to move
    assert await ClockRun.filter(task="referrals.mature").count() == 1
    assert (await ClockRun.get(task="referrals.mature")).detail == "matured 0"
    assert await balances(alice) == (0, 1_000)


# --- withdrawals ------------------------------------------------------------------------


async def test_a_withdrawal_moves_money_to_the_wallet_once(alice):
    await matured_commission(alice)
    entry = await referrals.withdraw(alice, 600, "usd", KEY)
    again = await referrals.withdraw(alice, 600, "USD", KEY)
    assert again.id == entry.id
    assert (entry.kind, entry.amount_minor, entry.balance_after_minor) == ("withdraw", -600, 400)
    assert await balances(alice) == (0, 400)
    assert await wallet.balance(alice, "USD") == 600
    moved = await WalletTransaction.get(idempotency_key=entry.idempotency_key)
    assert moved.kind == WalletTransactionKind.REFERRAL_WITHDRAWAL
    assert await AuditLog.filter(action="referrals.withdraw", actor=alice).count() == 1
    with pytest.raises(Conflict):
        await referrals.withdraw(alice, 700, "USD", KEY)


async def test_withdrawing_more_than_is_available_is_refused_and_writes_nothing(alice):
    await matured_commission(alice)
    entries = await ReferralBalanceEntry.all().count()
    with pytest.raises(referrals.InsufficientReferralBalance) as refused:
        await referrals.withdraw(alice, 1_001, "USD", KEY)
    assert refused.value.field == "amount"
    assert await ReferralBalanceEntry.all().count() == entries
    assert not await WalletTransaction.exists() and not await Wallet.exists()
    assert await balances(alice) == (0, 1_000)
    with pytest.raises(referrals.InsufficientReferralBalance):
        await referrals.withdraw(alice, 1, "SAR", KEY)


async def test_pending_commissions_cannot_be_withdrawn(alice):
    dana = await refer(alice)
    await referrals.on_payment_captured(dana, 10_000, "USD", "pay-1", NOW)
    with pytest.raises(referrals.InsufficientReferralBalance):
        await referrals.withdraw(alice, 1, "USD", KEY)


async def test_racing_withdrawals_never_overdraw(alice):
    await matured_commission(alice)
    results = await asyncio.gather(
        *(referrals.withdraw(alice, 600, "USD", f"race-key-{n}") for n in range(5)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert await balances(alice) == (0, 400)
    assert await wallet.balance(alice, "USD") == 600


async def test_a_bad_amount_minimum_or_key_is_refused(alice):
    await matured_commission(alice)
    settings = await referrals.program()
    settings.min_withdrawal_minor = 500
    await settings.save()
    for amount, key in ((0, KEY), (-5, KEY), (499, KEY), (600, "short"), (600, "bad key!")):
        with pytest.raises(ValidationError):
            await referrals.withdraw(alice, amount, "USD", key)
    assert await balances(alice) == (0, 1_000)


# --- refunds ----------------------------------------------------------------------------


async def test_a_refund_cuts_a_held_commission_in_proportion_once(alice):
    dana = await refer(alice)
    await referrals.on_payment_captured(dana, 10_000, "USD", "pay-1", NOW)
    cut = await referrals.on_refund("pay-1", 2_500, "rf-1")
    assert await referrals.on_refund("pay-1", 2_500, "rf-1") == cut  # a replay
    assert (cut.kind, cut.amount_minor, cut.pending_after_minor) == ("accrue", -250, 750)
    assert await balances(alice) == (750, 0)
    assert await referrals.mature(NOW + HOLD) == 1
    assert await balances(alice) == (0, 750)


async def test_a_payment_refunded_in_parts_takes_back_the_whole_commission(alice):
    dana = await refer(alice)
    await referrals.on_payment_captured(dana, 10_001, "USD", "pay-1", NOW)  # 1 000.1 → 1 000
    for n in range(3):
        await referrals.on_refund("pay-1", 3_333, f"rf-{n}")
    await referrals.on_refund("pay-1", 2, "rf-last")
    commission = await ReferralCommission.get(idempotency_key="ref:pay-1")
    assert (commission.reversed_minor, commission.status) == (1_000, CommissionStatus.REVERSED)
    assert await balances(alice) == (0, 0)
    assert await referrals.mature(NOW + HOLD) == 0  # nothing left to release
    assert await AuditLog.filter(action="referrals.reverse").count() == 4


async def test_a_refund_after_maturing_is_reversed_from_the_available_balance(alice):
    await matured_commission(alice)
    entry = await referrals.on_refund("pay-1", 10_000, "rf-1")
    assert (entry.kind, entry.amount_minor, entry.balance_after_minor) == ("reverse", -1_000, 0)
    assert await balances(alice) == (0, 0)


async def test_a_refund_after_withdrawal_leaves_a_debt_the_next_commission_settles(alice):
    await matured_commission(alice)
    await referrals.withdraw(alice, 1_000, "USD", KEY)
    await referrals.on_refund("pay-1", 5_000, "rf-1")
    assert await balances(alice) == (0, -500)
    assert await wallet.balance(alice, "USD") == 1_000  # the wallet is never clawed back
    with pytest.raises(referrals.InsufficientReferralBalance):
        await referrals.withdraw(alice, 1, "USD", "form-key-0002")
    dana = await User.get(email="dana@example.com")
    await referrals.on_payment_captured(dana, 20_000, "USD", "pay-2", NOW)
    await referrals.mature(NOW + HOLD)
    assert await balances(alice) == (0, 1_500)


async def test_a_refund_of_an_unknown_or_unreferred_payment_changes_nothing(alice):
    assert await referrals.on_refund("pay-unknown", 1_000, "rf-1") is None
    assert not await ReferralBalanceEntry.exists()
