"""Subscriptions and renewals: the calendar and proration (property tests), renewals charged
exactly once whatever runs them, dunning (past due → suspended → deleted), trials, plan
changes, cancellation, and the wallet under a crowd of concurrent posts."""

from __future__ import annotations

import asyncio
import calendar
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from managely.models.billing import (
    Invoice,
    InvoiceLine,
    WalletTransaction,
    WalletTransactionKind,
)
from managely.models.catalog import PromoCode, PromoKind, TaxRate
from managely.models.launches import Launch, LaunchStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.platform import AuditLog, EmailMessage
from managely.models.subscriptions import (
    Subscription,
    SubscriptionHistory,
    SubscriptionReminder,
    SubscriptionStatus,
)
from managely.services import dunning, renewals, subscriptions, wallet
from managely.services.errors import Conflict, ValidationError
from managely.services.launches import add_months
from managely.services.subscriptions import period_end_after, prorate, whole_days
from tests.subscriptions_support import (
    DAY,
    T0,
    fund,
    ledger_is_consistent,
    make_catalog,
    make_server,
    make_subscription,
    stub_scripts,
)

ACTIVE, PAST_DUE = SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE
SUSPENDED, CANCELLED = SubscriptionStatus.SUSPENDED, SubscriptionStatus.CANCELLED
TRIAL, EXPIRED = SubscriptionStatus.TRIAL, SubscriptionStatus.EXPIRED
FAST = settings(max_examples=300, deadline=None, database=None)


# --- the calendar (pure) ----------------------------------------------------------------------

MOMENTS = st.datetimes(
    min_value=datetime(1999, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
MONTHS = st.sampled_from([1, 3, 6, 12])


@FAST
@given(start=MOMENTS, months=MONTHS, periods=st.integers(1, 40))
def test_anchored_periods_never_drift(start, months, periods):
    end = start
    for k in range(1, periods + 1):
        previous, end = end, period_end_after(end, months, start.day)
        # Period k ends where k periods from the start end: a short month never shifts the rest.
        assert end == add_months(start, k * months)
        last = calendar.monthrange(end.year, end.month)[1]
        assert end.day == min(start.day, last)
        assert end.time() == start.time() and end.tzinfo == UTC
        assert 28 * months <= (end - previous).days <= 31 * months + 1


@pytest.mark.parametrize(
    ("start", "months", "ends"),
    [
        # 31 January: February's last day, then back to the 31st where the month has one.
        ("2025-01-31", 1, ["2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31"]),
        ("2024-01-31", 1, ["2024-02-29", "2024-03-31"]),  # a leap year
        ("2024-02-29", 12, ["2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"]),
        ("2024-11-30", 3, ["2025-02-28", "2025-05-30", "2025-08-30"]),
        ("2025-12-15", 1, ["2026-01-15"]),  # across the year
    ],
)
def test_month_ends(start, months, ends):
    moment = datetime.fromisoformat(start).replace(hour=23, minute=59, tzinfo=UTC)
    anchor, got = moment.day, []
    for _ in ends:
        moment = period_end_after(moment, months, anchor)
        got.append(moment.date().isoformat())
    assert got == ends and moment.hour == 23


def test_days_are_counted_on_utc_dates():
    late = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    assert whole_days(late, late + timedelta(hours=1)) == 1
    assert whole_days(late, late + timedelta(minutes=20)) == 0


# --- proration (pure) -------------------------------------------------------------------------

MONEY = st.integers(0, 10**7)


@st.composite
def days(draw):
    total = draw(st.integers(1, 366))
    return draw(st.integers(0, total)), total


@FAST
@given(old=MONEY, new=MONEY, span=days(), restart=st.booleans())
def test_proration_is_never_negative_and_adds_up(old, new, span, restart):
    left, total = span
    result = prorate(old, new, left, total, restart=restart)
    assert result.credit_minor >= 0 and result.charge_minor >= 0
    assert result.charge_minor - result.credit_minor == result.net_minor
    assert result.credit_minor <= old
    # One rounding of the exact amount, half a minor unit at most.
    assert abs(result.credit_minor - Fraction(old * left, total)) <= Fraction(1, 2)
    if restart:
        assert result.charge_minor == new
    else:
        assert abs(result.net_minor - Fraction((new - old) * left, total)) <= Fraction(1, 2)
        assert (result.net_minor >= 0) == (new >= old) or result.net_minor == 0


@FAST
@given(old=MONEY, new=MONEY, total=st.integers(1, 366))
def test_a_whole_period_is_the_whole_difference_and_none_is_nothing(old, new, total):
    assert prorate(old, new, total, total).net_minor == new - old
    assert prorate(old, new, total, total).credit_minor == old
    assert prorate(old, new, 0, total).net_minor == 0


@FAST
@given(old=MONEY, new=MONEY, span=days())
def test_more_days_left_never_costs_less_for_an_upgrade(old, new, span):
    left, total = span
    lo, hi = sorted((old, new))
    if left < total:
        assert prorate(lo, hi, left, total).net_minor <= prorate(lo, hi, left + 1, total).net_minor


@pytest.mark.parametrize(
    "args", [(-1, 5, 1, 2), (5, -1, 1, 2), (5, 5, 3, 2), (5, 5, -1, 2), (5, 5, 0, 0)]
)
def test_impossible_prorations_are_refused(args):
    with pytest.raises(ValueError, match="cannot prorate"):
        prorate(*args)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
async def catalog(database):
    return await make_catalog()


@pytest.fixture
async def server(catalog, tmp_path):
    return await make_server(tmp_path / "root")


@pytest.fixture
def calls(server, tmp_path):
    """The stub scripts' calls, one line of arguments each."""
    log = stub_scripts(server, tmp_path / "scripts")
    return lambda: log.read_text().splitlines() if log.exists() else []


async def charges(subscription: Subscription) -> list[WalletTransaction]:
    return await WalletTransaction.filter(idempotency_key__startswith=f"renew:{subscription.code}:")


async def emails(template: str, to: str = "alice@example.com") -> int:
    return await EmailMessage.filter(template=template, to=to).count()


# --- renewals: exactly once -------------------------------------------------------------------


async def test_a_renewal_run_three_times_charges_once(catalog, alice):
    await fund(alice, 50_000)
    sub = await make_subscription(alice)
    due = sub.current_period_end
    runs = [await renewals.run_renewals(now=due + DAY) for _ in range(3)]
    assert runs[0] == {**dict.fromkeys(renewals.COUNTS, 0), "due": 1, "renewed": 1}
    assert runs[1]["due"] == runs[2]["due"] == 0
    (entry,) = await charges(sub)
    assert entry.idempotency_key == f"renew:{sub.code}:{due.isoformat()}"
    assert entry.amount_minor == -10_000 and entry.kind == WalletTransactionKind.CHARGE
    assert await wallet.balance(alice, "USD") == 40_000
    await sub.refresh_from_db()
    assert (sub.status, sub.current_period_start, sub.current_period_end) == (
        ACTIVE,
        due,
        datetime(2025, 8, 1, 9, 30, tzinfo=UTC),
    )
    (invoice,) = await Invoice.filter(subscription=sub)
    assert invoice.number == entry.reference and invoice.status == "paid"
    assert invoice.total_minor == 10_000
    assert sum(line.amount_minor for line in await InvoiceLine.filter(invoice=invoice)) == 10_000
    assert await SubscriptionHistory.filter(subscription=sub, event="renewed").count() == 1
    audit = await AuditLog.filter(action="billing.renewals").order_by("id")
    assert [a.after["renewed"] for a in audit] == [1, 0, 0]
    await ledger_is_consistent()


async def test_two_runs_at_once_charge_each_period_once(catalog, alice, charlie):
    await fund(alice, 1_000_000)
    await fund(charlie, 1_000_000)
    subs = [await make_subscription(user) for user in (alice, charlie) * 15]
    now = subs[0].current_period_end + DAY
    first, second = await asyncio.gather(
        renewals.run_renewals(now=now, batch_size=4, workers=2),
        renewals.run_renewals(now=now, batch_size=7, workers=3),
    )
    assert first["renewed"] + second["renewed"] == 30
    assert first["failed"] == second["failed"] == 0
    for sub in subs:
        assert len(await charges(sub)) == 1
    assert await Invoice.all().count() == 30
    numbers = await Invoice.all().values_list("number", flat=True)
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, 31))  # no gap
    assert await wallet.balance(alice, "USD") == await wallet.balance(charlie, "USD") == 850_000
    await ledger_is_consistent()


async def test_a_crash_before_the_period_moves_is_retried_without_a_second_charge(
    catalog, alice, monkeypatch
):
    await fund(alice, 100_000)
    subs = [await make_subscription(alice) for _ in range(3)]
    advance, crashes = renewals._Batch._advance, []

    async def crash_once(batch):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker killed between charge and period update")
        await advance(batch)

    monkeypatch.setattr(renewals._Batch, "_advance", crash_once)
    now = subs[0].current_period_end + DAY
    first = await renewals.run_renewals(now=now)
    # The batch rolled back whole; renewed one by one, each once.
    assert crashes and first["renewed"] == 3 and first["failed"] == 0
    again = await renewals.run_renewals(now=now)
    assert again["due"] == 0
    for sub in subs:
        assert len(await charges(sub)) == 1
    assert await wallet.balance(alice, "USD") == 70_000
    await ledger_is_consistent()


async def test_a_run_that_crashes_throughout_charges_nothing_and_the_next_one_completes(
    catalog, alice, monkeypatch
):
    await fund(alice, 100_000)
    sub = await make_subscription(alice)

    async def crash(batch):
        raise RuntimeError("worker killed between charge and period update")

    with monkeypatch.context() as patched:
        patched.setattr(renewals._Batch, "_advance", crash)
        broken = await renewals.run_renewals(now=sub.current_period_end + DAY)
    assert broken["failed"] == 1 and broken["renewed"] == 0
    assert await charges(sub) == [] and await Invoice.all().count() == 0
    assert await wallet.balance(alice, "USD") == 100_000
    done = await renewals.run_renewals(now=sub.current_period_end + DAY)
    assert done["renewed"] == 1 and len(await charges(sub)) == 1
    await ledger_is_consistent()


async def test_a_charge_already_made_only_moves_the_period(catalog, alice):
    """The state a two-step writer would leave after a crash: charged, period not moved."""
    await fund(alice, 30_000)
    sub = await make_subscription(alice)
    key = renewals.renewal_key(sub)
    await wallet.post(alice, "USD", -10_000, WalletTransactionKind.CHARGE, key)
    counts = await renewals.run_renewals(now=sub.current_period_end + DAY)
    assert counts["completed"] == 1 and counts["renewed"] == 0
    assert len(await charges(sub)) == 1 and await Invoice.all().count() == 0
    assert await wallet.balance(alice, "USD") == 20_000
    await sub.refresh_from_db()
    assert sub.status == ACTIVE and sub.current_period_end == datetime(
        2025, 8, 1, 9, 30, tzinfo=UTC
    )


async def test_a_month_end_subscription_keeps_its_day(catalog, alice):
    await fund(alice, 100_000)
    start = datetime(2025, 1, 31, 8, tzinfo=UTC)
    sub = await make_subscription(alice, start=start)
    ends = []
    for _ in range(3):
        await sub.refresh_from_db()
        await renewals.run_renewals(now=sub.current_period_end)
        await sub.refresh_from_db()
        ends.append(sub.current_period_end.date().isoformat())
    assert ends == ["2025-03-31", "2025-04-30", "2025-05-31"]
    assert sub.anchor_day == 31


async def test_renewals_price_the_promo_for_its_cycles_then_in_full(catalog, alice):
    await fund(alice, 100_000)
    promo = await PromoCode.create(
        code="HALF", kind=PromoKind.PERCENT, value=5_000, first_n_cycles=3
    )
    await TaxRate.create(country="SA", rate_bp=1500, name="VAT")
    await alice.beneficiaries.all().update(country="SA")
    # First period paid at signup: two discounted renewals are left.
    sub = await make_subscription(alice, promo=promo, promo_cycles_left=2)
    totals = []
    for _ in range(4):
        await sub.refresh_from_db()
        await renewals.run_renewals(now=sub.current_period_end)
        totals.append((await charges(sub))[-1].amount_minor)
    assert totals == [-5_750, -5_750, -11_500, -11_500]  # 50 % off twice, then full; 15 % VAT
    await sub.refresh_from_db()
    assert sub.promo_id is None and sub.promo_cycles_left is None


# --- renewals: what is not charged ------------------------------------------------------------


async def test_a_short_wallet_means_past_due_and_one_reminder(catalog, alice, smtp, run_jobs):
    await fund(alice, 3_000)
    sub = await make_subscription(alice)
    due = sub.current_period_end
    counts = await renewals.run_renewals(now=due + DAY)
    assert counts["past_due"] == 1 and counts["failed"] == 0
    await sub.refresh_from_db()
    assert (sub.status, sub.past_due_since, sub.current_period_end) == (PAST_DUE, due, due)
    assert await charges(sub) == [] and await wallet.balance(alice, "USD") == 3_000
    await renewals.run_renewals(now=due + 2 * DAY)  # retried, still short: no second email
    await dunning.send_reminders(now=due + 2 * DAY)
    await dunning.send_reminders(now=due + 2 * DAY)
    assert await emails("subscription_past_due") == 1
    await run_jobs()
    (message,) = smtp.to("alice@example.com")
    assert "could not be renewed" in message["Subject"]
    assert "$100.00" in message.get_body(("plain",)).get_content()
    # Topped up: the next run renews from the due date, anchored as before.
    await fund(alice, 10_000)
    assert (await renewals.run_renewals(now=due + 3 * DAY))["renewed"] == 1
    await sub.refresh_from_db()
    assert sub.status == ACTIVE and sub.current_period_start == due and sub.past_due_since is None


async def test_the_last_reminder_goes_once_before_the_suspension(catalog, alice):
    sub = await make_subscription(alice)
    due = sub.current_period_end
    await renewals.run_renewals(now=due)
    for _ in range(2):
        await dunning.send_reminders(now=due + 5 * DAY + timedelta(hours=1))
    kinds = await SubscriptionReminder.filter(subscription=sub).values_list("kind", flat=True)
    assert sorted(kinds) == ["past_due", "past_due_final"]
    assert await emails("subscription_past_due") == 2


async def test_after_the_grace_period_the_system_is_suspended_once(
    catalog, alice, server, calls, run_jobs
):
    sub = await make_subscription(alice, server=server)
    due = sub.current_period_end
    await renewals.run_renewals(now=due)
    assert (await dunning.suspend_overdue(now=due + 6 * DAY)).get("suspended") is None
    for _ in range(2):
        await dunning.suspend_overdue(now=due + 7 * DAY + timedelta(hours=1))
    await sub.refresh_from_db()
    assert sub.status == SUSPENDED
    (operation,) = await SaaSOperation.filter(kind=OperationKind.SUSPEND)
    assert operation.params == {"billing": True}
    assert await emails("subscription_suspended") == 1
    await run_jobs()
    launch = await Launch.get(subscription=sub)
    assert launch.status == LaunchStatus.SUSPENDED
    assert calls() == [f"--root {server.sites_root} --site {launch.site_name}"]

    # Paid again (the wallet topped up): a new period from today, and the system resumes.
    await fund(alice, 10_000)
    paid_at = due + 9 * DAY
    assert (await renewals.run_renewals(now=paid_at))["renewed"] == 1
    await sub.refresh_from_db()
    assert (sub.status, sub.current_period_start, sub.anchor_day) == (ACTIVE, paid_at, paid_at.day)
    await run_jobs()
    await launch.refresh_from_db()
    assert launch.status == LaunchStatus.ACTIVE
    assert calls()[-1].endswith(f"--site {launch.site_name} --resume")


async def test_after_the_retention_period_a_warning_then_the_deletion(
    catalog, alice, server, calls, run_jobs
):
    suspended_at = T0 + 40 * DAY
    sub = await make_subscription(
        alice, server=server, status=SUSPENDED, suspended_at=suspended_at,
        past_due_since=T0 + 33 * DAY, launch_status=LaunchStatus.SUSPENDED,
    )  # fmt: skip
    assert await dunning.delete_expired(now=suspended_at + 20 * DAY) == {}
    warned_at = suspended_at + 24 * DAY
    assert await dunning.delete_expired(now=warned_at) == {"warned": 1}
    assert await dunning.delete_expired(now=warned_at + DAY) == {}
    assert await emails("subscription_deletion") == 1
    assert not await SaaSOperation.exists(kind=OperationKind.DELETE)
    # The retention is over and the warning is six days old: the system is deleted.
    assert await dunning.delete_expired(now=suspended_at + 30 * DAY) == {"deleted": 1}
    assert await dunning.delete_expired(now=suspended_at + 31 * DAY) == {}
    assert await SaaSOperation.filter(kind=OperationKind.DELETE).count() == 1
    await sub.refresh_from_db()
    assert sub.status == EXPIRED
    await run_jobs()
    launch = await Launch.get(subscription=sub)
    assert launch.status == LaunchStatus.DELETED


async def test_a_deletion_never_follows_its_warning_too_closely(catalog, alice, server, calls):
    """The clock was down: the retention ended before any warning went out."""
    suspended_at = T0 + 40 * DAY
    await make_subscription(
        alice, server=server, status=CANCELLED, suspended_at=suspended_at,
        launch_status=LaunchStatus.SUSPENDED,
    )  # fmt: skip
    late = suspended_at + 45 * DAY
    assert await dunning.delete_expired(now=late) == {"warned": 1}
    assert await dunning.delete_expired(now=late + 2 * DAY) == {}
    assert await dunning.delete_expired(now=late + 3 * DAY) == {"deleted": 1}


async def test_a_subscription_cancelled_at_period_end_is_not_renewed(catalog, alice, server, calls):
    await fund(alice, 50_000)
    sub = await make_subscription(alice, server=server)
    await subscriptions.cancel(alice, sub.code)
    with pytest.raises(Conflict):
        await subscriptions.cancel(alice, sub.code)
    assert (await renewals.run_renewals(now=sub.current_period_end - DAY))["due"] == 0
    counts = await renewals.run_renewals(now=sub.current_period_end)
    assert counts["cancelled"] == 1 and counts["renewed"] == 0
    await sub.refresh_from_db()
    assert sub.status == CANCELLED and sub.cancelled_at == sub.current_period_end
    assert await charges(sub) == [] and await wallet.balance(alice, "USD") == 50_000
    assert await SaaSOperation.filter(kind=OperationKind.SUSPEND).count() == 1
    assert (await renewals.run_renewals(now=sub.current_period_end + 40 * DAY))["due"] == 0


async def test_a_cancellation_can_be_taken_back_before_the_period_ends(catalog, alice):
    await fund(alice, 50_000)
    sub = await make_subscription(alice)
    await subscriptions.cancel(alice, sub.code)
    back = await subscriptions.reactivate(alice, sub.code)
    assert back.cancel_at_period_end is False and back.status == ACTIVE
    assert (await renewals.run_renewals(now=sub.current_period_end))["renewed"] == 1


async def test_a_cancelled_subscription_is_paid_again_by_hand(catalog, alice, server, calls):
    sub = await make_subscription(alice, server=server)
    await subscriptions.cancel(alice, sub.code)
    await renewals.run_renewals(now=sub.current_period_end)
    with pytest.raises(wallet.InsufficientFunds):
        await subscriptions.reactivate(alice, sub.code, now=sub.current_period_end + DAY)
    await fund(alice, 10_000)
    paid_at = sub.current_period_end + 2 * DAY
    back = await subscriptions.reactivate(alice, sub.code, now=paid_at)
    assert (back.status, back.cancel_at_period_end, back.current_period_start) == (
        ACTIVE,
        False,
        paid_at,
    )
    assert len(await charges(sub)) == 1 and await wallet.balance(alice, "USD") == 0


async def test_a_manual_payer_goes_past_due_without_a_charge(catalog, alice):
    await fund(alice, 50_000)
    sub = await make_subscription(alice, auto_renew=False)
    assert (await renewals.run_renewals(now=sub.current_period_end))["past_due"] == 1
    assert await charges(sub) == [] and await emails("subscription_past_due") == 1
    assert (await renewals.run_renewals(now=sub.current_period_end + DAY))["due"] == 0
    await subscriptions.reactivate(alice, sub.code, now=sub.current_period_end + DAY)
    await sub.refresh_from_db()
    assert sub.status == ACTIVE and len(await charges(sub)) == 1


async def test_systems_follow_their_subscription_but_not_a_staff_suspension(
    catalog, alice, server, calls
):
    paid = await make_subscription(alice, server=server, launch_status=LaunchStatus.SUSPENDED)
    # Suspended by staff (no billing suspension on record): a payment does not undo that.
    await make_subscription(alice, server=server, launch_status=LaunchStatus.SUSPENDED)
    gone = await make_subscription(alice, server=server, status=CANCELLED, suspended_at=T0)
    billing = await Launch.get(subscription=paid)
    earlier = await SaaSOperation.create(
        kind=OperationKind.SUSPEND, status=OperationStatus.SUCCEEDED, launch=billing,
        server=server, params={"billing": True},
    )  # fmt: skip
    counts = await dunning.suspend_overdue(now=T0)
    assert counts == {"sites_suspend": 1, "sites_resume": 1}
    queued = await SaaSOperation.exclude(id=earlier.id).prefetch_related("launch")
    assert sorted((o.kind, o.launch.subscription_id) for o in queued) == sorted(
        [(OperationKind.RESUME, paid.id), (OperationKind.SUSPEND, gone.id)]
    )
    assert await dunning.suspend_overdue(now=T0) == {}  # queued or done: nothing more
    assert await SaaSOperation.all().count() == 3  # the staff suspension stays


async def test_the_billing_actors_run_and_are_scheduled(catalog, alice):
    from managely.jobs import billing, clock

    await fund(alice, 20_000)
    sub = await make_subscription(alice, start=datetime.now(UTC) - 40 * DAY)
    await billing.renew.run()
    await sub.refresh_from_db()
    assert sub.current_period_end > datetime.now(UTC) and len(await charges(sub)) == 1
    for actor in (billing.reminders, billing.suspend_overdue, billing.delete_expired):
        await actor.run()
    await billing.expire_trials.run()
    assert {
        name: clock.SCHEDULES[name].interval for name in clock.SCHEDULES if "billing" in name
    } == {
        "billing.renew": timedelta(hours=1),
        "billing.reminders": timedelta(hours=1),
        "billing.suspend_overdue": timedelta(hours=1),
        "billing.delete_expired": timedelta(hours=1),
        "billing.expire_trials": timedelta(minutes=15),
    }


# --- trials -----------------------------------------------------------------------------------


async def test_a_trial_expires_once_and_its_system_is_suspended(catalog, alice, server, calls):
    sub = await make_subscription(alice, status=TRIAL, server=server)
    ends = sub.trial_ends_at
    assert await dunning.send_reminders(now=ends - 2 * DAY) == {"trial_ending": 1}
    assert await dunning.send_reminders(now=ends - DAY) == {}
    assert await dunning.expire_trials(now=ends - DAY) == {}
    assert await dunning.expire_trials(now=ends) == {"expired": 1}
    assert await dunning.expire_trials(now=ends + DAY) == {}
    await sub.refresh_from_db()
    assert sub.status == EXPIRED and sub.suspended_at == ends
    assert await SaaSOperation.filter(kind=OperationKind.SUSPEND).count() == 1
    assert await emails("trial_ending") == await emails("trial_expired") == 1
    # Expired trials are deleted like suspended subscriptions.
    assert await dunning.delete_expired(now=ends + 23 * DAY) == {"warned": 1}


async def test_paying_a_trial_activates_it_in_one_transaction(catalog, alice, server, calls):
    sub = await make_subscription(alice, status=TRIAL, server=server)
    launch = await Launch.get(subscription=sub)
    with pytest.raises(wallet.InsufficientFunds):
        await subscriptions.pay_trial(alice, launch.code)
    await sub.refresh_from_db()
    assert sub.status == TRIAL and await Invoice.all().count() == 0
    await fund(alice, 25_000)
    now = datetime(2025, 1, 31, 10, tzinfo=UTC)
    paid = await subscriptions.pay_trial(alice, launch.code, period="monthly", now=now)
    assert (paid.status, paid.anchor_day, paid.current_period_start) == (ACTIVE, 31, now)
    assert paid.current_period_end == datetime(2025, 2, 28, 10, tzinfo=UTC)
    (entry,) = await WalletTransaction.filter(idempotency_key=f"activate:{sub.code}")
    assert entry.amount_minor == -10_000
    await launch.refresh_from_db()
    assert launch.is_trial is False
    with pytest.raises(Conflict):
        await subscriptions.pay_trial(alice, launch.code)
    assert await wallet.balance(alice, "USD") == 15_000
    # The next renewal comes back to the 31st.
    await renewals.run_renewals(now=paid.current_period_end)
    await paid.refresh_from_db()
    assert paid.current_period_end == datetime(2025, 3, 31, 10, tzinfo=UTC)


async def test_an_expired_trial_paid_starts_its_system_again(
    catalog, alice, server, calls, run_jobs
):
    sub = await make_subscription(alice, status=TRIAL, server=server)
    await dunning.expire_trials(now=sub.trial_ends_at)
    await run_jobs()
    launch = await Launch.get(subscription=sub)
    assert launch.status == LaunchStatus.SUSPENDED
    await fund(alice, 10_000)
    await subscriptions.pay_trial(alice, launch.code)
    await run_jobs()
    await launch.refresh_from_db()
    assert launch.status == LaunchStatus.ACTIVE and launch.is_trial is False
    assert [c.rsplit(" ", 1)[-1] for c in calls()] == [launch.site_name, "--resume"]


# --- plan changes -----------------------------------------------------------------------------


@pytest.fixture
async def mid_june(catalog, alice):
    """A monthly basic subscription (100.00) from 1 June to 1 July; today is 16 June."""
    await fund(alice, 100_000)
    sub = await make_subscription(alice)
    return sub, T0 + 15 * DAY


async def test_an_upgrade_charges_the_difference_for_the_days_left(mid_june, alice):
    sub, today = mid_june
    preview = await subscriptions.preview_change(alice, sub.code, "pro", "monthly", now=today)
    assert (preview.days_left, preview.period_days) == (15, 30)
    assert (preview.proration.credit_minor, preview.proration.charge_minor) == (5_000, 10_000)
    assert preview.total_minor == 5_000 and not preview.restart
    changed = await subscriptions.change_plan(
        alice, sub.code, "pro", "monthly", key="k1", now=today
    )
    assert (changed.package.slug, changed.price_minor) == ("pro", 20_000)
    assert changed.current_period_end == sub.current_period_end  # same period, same end
    assert await wallet.balance(alice, "USD") == 95_000
    (invoice,) = await Invoice.filter(subscription=sub)
    lines = await InvoiceLine.filter(invoice=invoice).order_by("sort_order")
    assert [line.amount_minor for line in lines] == [-5_000, 10_000]
    assert invoice.total_minor == 5_000
    # The form sent twice changes nothing more.
    with pytest.raises((Conflict, ValidationError)):
        await subscriptions.change_plan(alice, sub.code, "pro", "monthly", key="k1", now=today)
    assert await wallet.balance(alice, "USD") == 95_000


async def test_a_downgrade_gives_the_difference_back_to_the_wallet(mid_june, alice):
    sub, today = mid_june
    await TaxRate.create(country="SA", rate_bp=1500, name="VAT")
    await alice.beneficiaries.all().update(country="SA")
    preview = await subscriptions.preview_change(alice, sub.code, "lite", "monthly", now=today)
    assert (preview.proration.credit_minor, preview.proration.charge_minor) == (5_000, 2_000)
    assert (preview.tax_minor, preview.total_minor) == (-450, -3_450)
    await subscriptions.change_plan(alice, sub.code, "lite", "monthly", key="k2", now=today)
    assert await wallet.balance(alice, "USD") == 103_450
    (entry,) = await WalletTransaction.filter(kind=WalletTransactionKind.REFUND)
    assert entry.amount_minor == 3_450 and entry.reference == sub.code
    assert await Invoice.all().count() == 0
    await ledger_is_consistent()


async def test_a_discounted_period_is_prorated_at_what_was_paid(catalog, alice):
    await fund(alice, 100_000)
    promo = await PromoCode.create(code="HALF", kind=PromoKind.PERCENT, value=5_000)
    sub = await make_subscription(alice, promo=promo, promo_cycles_left=0)  # its last cycle
    preview = await subscriptions.preview_change(
        alice, sub.code, "pro", "monthly", now=T0 + 15 * DAY
    )
    # Half of 50.00 back, half of 100.00 (the promo goes on with the new package) to pay.
    assert (preview.proration.credit_minor, preview.proration.charge_minor) == (2_500, 5_000)
    assert preview.total_minor == 2_500


async def test_a_new_billing_period_starts_today(mid_june, alice):
    sub, today = mid_june
    preview = await subscriptions.preview_change(alice, sub.code, "basic", "yearly", now=today)
    assert preview.restart and preview.period_end == add_months(today, 12)
    assert (preview.proration.credit_minor, preview.proration.charge_minor) == (5_000, 100_000)
    changed = await subscriptions.change_plan(
        alice, sub.code, "basic", "yearly", key="k3", now=today
    )
    assert (changed.current_period_start, changed.anchor_day) == (today, 16)
    assert await wallet.balance(alice, "USD") == 5_000


async def test_a_change_the_wallet_cannot_pay_changes_nothing(catalog, alice):
    sub = await make_subscription(alice)
    with pytest.raises(wallet.InsufficientFunds):
        await subscriptions.change_plan(
            alice, sub.code, "pro", "monthly", key="k4", now=T0 + 15 * DAY
        )
    await sub.refresh_from_db()
    assert sub.price_minor == 10_000 and await Invoice.all().count() == 0


async def test_changes_are_refused_to_outsiders_and_for_the_same_plan(mid_june, alice, charlie):
    sub, today = mid_june
    with pytest.raises(ValidationError, match="already your plan"):
        await subscriptions.preview_change(alice, sub.code, "basic", "monthly", now=today)
    for call in (
        subscriptions.preview_change(charlie, sub.code, "pro", "monthly"),
        subscriptions.cancel(charlie, sub.code),
        subscriptions.reactivate(charlie, sub.code),
    ):
        with pytest.raises(Exception, match="Not found"):
            await call


# --- the wallet under a crowd -----------------------------------------------------------------


async def test_two_hundred_concurrent_debits_and_credits_keep_the_ledger_exact(database, alice):
    """Run on both tiers; on PostgreSQL these are 200 transactions on one wallet row at once."""
    await wallet.post(alice, "USD", 5_000, WalletTransactionKind.RECHARGE, "crowd:seed")

    async def move(n: int):
        amount = 700 if n % 2 else -900
        kind = WalletTransactionKind.RECHARGE if amount > 0 else WalletTransactionKind.CHARGE
        try:
            return await wallet.post(alice, "USD", amount, kind, f"crowd:{n}")
        except wallet.InsufficientFunds:
            return None

    results = await asyncio.gather(*(move(n) for n in range(200)))
    posted = [r for r in results if r is not None]
    assert len(posted) >= 100  # every credit, and the debits the balance allowed
    entries = await WalletTransaction.all().order_by("id")
    assert len(entries) == len(posted) + 1
    balance = await wallet.balance(alice, "USD")
    assert balance == sum(e.amount_minor for e in entries) >= 0
    assert all(e.balance_after_minor >= 0 for e in entries)
    # In ledger order each entry moves its predecessor's balance by its amount: no lost update.
    for before, entry in zip(entries, entries[1:], strict=False):
        assert entry.balance_after_minor == before.balance_after_minor + entry.amount_minor
    await ledger_is_consistent()
