"""Subscriptions: a trial paid from the wallet, plan changes prorated by the day, cancelling
at the period's end and reactivating, and the calendar they all run on.

Periods are anchored: a subscription started on 31 January ends its periods on 28/29 February,
31 March, 30 April… (``anchor_day`` keeps the 31). Every date is UTC. Money follows pricing's
rule: integers in minor units, one rounding per amount (``pricing.round_half_up``).

Renewals are ``services.renewals``; what happens to unpaid and expired subscriptions (reminders,
suspension, deletion) is ``services.dunning``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

from babel.support import LazyProxy

from managely import db
from managely.i18n import format_date
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.addons import AddonApp, InstalledAddonStatus
from managely.models.billing import WalletTransactionKind
from managely.models.catalog import Package, PackagePeriod, PromoCode, PromoKind
from managely.models.launches import Launch, LaunchStatus
from managely.models.subscriptions import Subscription, SubscriptionHistory, SubscriptionStatus
from managely.services import invoices, launches, pricing, wallet
from managely.services.errors import Conflict, NotFound, ValidationError
from managely.services.pricing import BP, LineKind, ListPrice, Name, PromoTerms, QuoteLine

PAYABLE = (SubscriptionStatus.TRIAL, SubscriptionStatus.EXPIRED)  # what "pay now" converts
LIVE_SITES = (LaunchStatus.ACTIVE, LaunchStatus.SUSPENDED)


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- the calendar and proration: pure -------------------------------------------------------


def period_end_after(end: datetime, months: int, anchor_day: int) -> datetime:
    """The end of the period after one ending at ``end``: ``months`` later on the anchor day,
    or on the month's last day when the month is shorter. The time of day is kept."""
    shifted = launches.add_months(end.replace(day=1), months)
    last_day = calendar.monthrange(shifted.year, shifted.month)[1]
    return shifted.replace(day=min(anchor_day, last_day))


def whole_days(start: datetime, end: datetime) -> int:
    """Calendar days from ``start`` to ``end`` (UTC dates)."""
    return (end.astimezone(UTC).date() - start.astimezone(UTC).date()).days


@dataclass(frozen=True)
class Proration:
    """A plan change: ``credit`` for the unused days of the old price, ``charge`` for the
    new; both never negative, and ``charge - credit`` is the net the customer pays."""

    credit_minor: int
    charge_minor: int

    @property
    def net_minor(self) -> int:
        return self.charge_minor - self.credit_minor


def prorate(
    old_minor: int, new_minor: int, days_left: int, period_days: int, *, restart: bool = False
) -> Proration:
    """Prorate by the day. The same period length: the price difference for the days left,
    rounded once (a whole period left is exactly the difference). A new period length
    (``restart``): the whole new price, less the unused part of the old one."""
    if old_minor < 0 or new_minor < 0 or period_days < 1 or not 0 <= days_left <= period_days:
        raise ValueError(f"cannot prorate {old_minor}→{new_minor}, {days_left}/{period_days}")
    unused = Fraction(days_left, period_days)
    credit = pricing.round_half_up(old_minor * unused)
    if restart:
        return Proration(credit, new_minor)
    # The net is rounded once; the charge is derived, so credit and charge add up to it.
    return Proration(credit, credit + pricing.round_half_up((new_minor - old_minor) * unused))


def tax_on(amount_minor: int, rate_bp: int) -> int:
    return pricing.round_half_up(Fraction(amount_minor * rate_bp, BP))


# --- access -----------------------------------------------------------------------------------


async def get_subscription_for_user(user: User, code: str) -> Subscription:
    """The access helper for subscriptions: another customer's subscription is not found."""
    found = await Subscription.get_or_none(code=code, user=user).prefetch_related(
        "package", "period", "promo"
    )
    if found is None:
        raise NotFound(_l("Not found."))
    return found


async def subscriptions_of(user: User) -> list[Subscription]:
    return (
        await Subscription.filter(user=user)
        .prefetch_related("package", "period", "launches")
        .order_by("-created_at")
    )


async def subscription_of(user: User, launch: Launch) -> Subscription | None:
    """The subscription paying for ``launch`` (a system reached through its access helper)."""
    if launch.subscription_id is None:
        return None
    found = await Subscription.get_or_none(id=launch.subscription_id, user=user)
    return found and await get_subscription_for_user(user, found.code)


async def systems_of(subscription: Subscription) -> list[Launch]:
    """The systems a subscription pays for (deleted ones left out)."""
    return (
        await Launch.filter(subscription_id=subscription.id)
        .exclude(status=LaunchStatus.DELETED)
        .order_by("id")
    )


async def record(
    subscription: Subscription,
    event: str,
    before: SubscriptionStatus | None,
    after: SubscriptionStatus | None,
    actor: User | None = None,
    **detail: object,
) -> None:
    await SubscriptionHistory.create(
        subscription=subscription,
        event=event,
        from_status=before,
        to_status=after,
        detail=detail,
        actor=actor,
    )


# --- promo cycles -----------------------------------------------------------------------------


def promo_terms(subscription: Subscription, promo: PromoCode | None, package_ids=()) -> tuple:
    """The promo the next renewal of ``subscription`` gets, as pricing terms, and the cycle
    that renewal is (pricing counts paid periods from 1). ``promo_cycles_left`` is the
    subscription's own count: null means every cycle, 0 means the discount is used up."""
    left = subscription.promo_cycles_left
    if promo is None or (left is not None and left <= 0):
        return None, 2
    first_n = promo.first_n_cycles if left is not None else None
    cycle = (first_n - left + 1) if first_n is not None else 2
    return _terms(promo, package_ids, first_n), cycle


def current_promo(promo: PromoCode | None, package_ids=()) -> PromoTerms | None:
    """The promo of the period being served: a promo still attached discounted it (one whose
    cycles ran out is dropped by the renewal after its last discounted period)."""
    return None if promo is None else _terms(promo, package_ids, None)


def _terms(promo: PromoCode, package_ids, first_n: int | None) -> PromoTerms:
    return PromoTerms(
        id=promo.id,
        code=promo.code,
        kind=PromoKind(promo.kind),
        value=promo.value,
        currency=promo.currency.upper() if promo.currency else None,
        package_ids=frozenset(package_ids),
        periods=frozenset(promo.periods or ()),
        first_n_cycles=first_n,
    )


def cycles_after_renewal(subscription: Subscription) -> tuple[int | None, bool]:
    """(promo_cycles_left, keep the promo) once one more period is paid. A promo whose count
    is already 0 is dropped: the renewal that finds it so was charged in full."""
    left = subscription.promo_cycles_left
    if left is None:
        return None, True
    if left <= 0:
        return None, False
    return left - 1, True


# --- a trial paid from the wallet -------------------------------------------------------------


async def _installed_addons(launch: Launch, package: Package, currency: str) -> list[AddonApp]:
    """Add-ons installed during the trial that are still sold with the package."""
    return await AddonApp.filter(
        installations__launch_id=launch.id,
        installations__status=InstalledAddonStatus.INSTALLED,
        is_active=True,
        currency=currency,
        packages__id=package.id,
    ).distinct()


async def pay_trial(
    user: User,
    launch_code: str,
    *,
    period: str | None = None,
    currency: str | None = None,
    promo_code: str | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Turn the trial (or expired trial) of a system into a paid subscription: the quote, its
    invoice, the wallet debit and the activation are one transaction, so a short wallet
    (``InsufficientFunds``) or a second click leaves nothing behind. A suspended system is
    started again."""
    from managely.services import dunning  # it builds on this module

    now = now or utcnow()
    launch = await launches.get_launch_for_user(user, launch_code)
    subscription = launch.subscription_id and await Subscription.get_or_none(
        id=launch.subscription_id, user=user
    ).prefetch_related("period", "package", "beneficiary")
    if not subscription or launch.status not in LIVE_SITES:
        raise Conflict(_l("This system cannot be subscribed to now."))
    if subscription.status not in PAYABLE:
        raise Conflict(_l("This system is already paid for."))
    package, company = subscription.package, subscription.beneficiary
    currency = (currency or subscription.currency).upper()
    quote = await pricing.quote(
        package,
        period or subscription.period.period,
        currency,
        user=user,
        beneficiary=company,
        addons=await _installed_addons(launch, package, currency),
        promo_code=promo_code,
        at=now,
    )
    row = await PackagePeriod.get(
        package=package, period=quote.period, currency=quote.currency, is_active=True
    )
    promo = await PromoCode.get(id=quote.promo_id) if quote.promo_id else None
    async with db.atomic():
        claimed = await Subscription.filter(id=subscription.id, status__in=PAYABLE).update(
            status=SubscriptionStatus.ACTIVE,
            period_id=row.id,
            currency=quote.currency,
            price_minor=quote.package_price_minor,
            current_period_start=now,
            current_period_end=launches.add_months(now, quote.months),
            anchor_day=now.day,
            promo_id=promo.id if promo else None,
            promo_cycles_left=(promo.first_n_cycles - 1)
            if promo and promo.first_n_cycles
            else None,
            suspended_at=None,
            past_due_since=None,
            cancel_at_period_end=False,
            updated_at=now,
        )
        if not claimed:
            raise Conflict(_l("This system is already paid for."))
        invoice = await invoices.issue(user, quote, beneficiary=company, subscription=subscription)
        if quote.total_minor:
            await wallet.post(
                user,
                quote.currency,
                -quote.total_minor,
                WalletTransactionKind.CHARGE,
                f"activate:{subscription.code}",
                reference=invoice.number,
                description=f"{package.slug} {quote.period}",
            )
        if promo is not None:
            await launches._redeem(promo, user, subscription, quote)
        await Launch.filter(subscription_id=subscription.id).update(is_trial=False)
        await record(
            subscription,
            "activated",
            subscription.status,
            SubscriptionStatus.ACTIVE,
            user,
            invoice=invoice.number,
            total_minor=quote.total_minor,
        )
        await dunning.resume_sites(subscription, user)
    return await get_subscription_for_user(user, subscription.code)


# --- cancel and reactivate --------------------------------------------------------------------


async def cancel(user: User, code: str) -> Subscription:
    """Stop at the end of the period: the system runs until then, nothing more is charged."""
    subscription = await get_subscription_for_user(user, code)
    live = (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
    async with db.atomic():
        changed = await Subscription.filter(
            id=subscription.id, status__in=live, cancel_at_period_end=False
        ).update(cancel_at_period_end=True, updated_at=utcnow())
        if not changed:
            raise Conflict(_l("This subscription cannot be cancelled now."))
        await record(subscription, "cancel_requested", subscription.status, None, user)
    return await get_subscription_for_user(user, code)


async def set_auto_renew(user: User, code: str, on: bool) -> Subscription:
    """Renew from the wallet automatically at the end of each period, or only by hand."""
    subscription = await get_subscription_for_user(user, code)
    if subscription.auto_renew == on:
        return subscription
    async with db.atomic():
        await Subscription.filter(id=subscription.id).update(auto_renew=on, updated_at=utcnow())
        await record(
            subscription,
            "auto_renew_on" if on else "auto_renew_off",
            subscription.status,
            None,
            user,
        )
    return await get_subscription_for_user(user, code)


async def reactivate(user: User, code: str, now: datetime | None = None) -> Subscription:
    """Undo a cancellation that has not happened yet, or pay now for a subscription whose
    renewal failed or that was cancelled (its system not deleted yet): it runs again from
    today. A short wallet raises ``InsufficientFunds`` and changes nothing."""
    from managely.services import renewals  # it builds on this module

    subscription = await get_subscription_for_user(user, code)
    if subscription.cancel_at_period_end and subscription.status in (
        SubscriptionStatus.TRIAL,
        SubscriptionStatus.ACTIVE,
    ):
        async with db.atomic():
            await Subscription.filter(id=subscription.id).update(
                cancel_at_period_end=False, updated_at=utcnow()
            )
            await record(subscription, "reactivated", subscription.status, None, user)
        return await get_subscription_for_user(user, code)
    systems = await Launch.filter(subscription_id=subscription.id).values_list("status", flat=True)
    deleted = systems and not any(status in LIVE_SITES for status in systems)
    if subscription.status not in renewals.PAY_NOW or deleted:
        raise Conflict(_l("This subscription cannot be reactivated."))
    await renewals.pay_now(subscription, now=now or utcnow(), actor=user)
    return await get_subscription_for_user(user, code)


async def renew_now(
    user: User, code: str, seen_period_end: str, now: datetime | None = None
) -> tuple[Subscription, bool]:
    """Pay an active subscription's next period now, from the wallet; the period is extended
    and an invoice issued. ``seen_period_end`` is the period end the customer's page showed:
    a second click on the same page finds that period paid and charges nothing (False).
    A short wallet raises ``InsufficientFunds`` and changes nothing."""
    from managely.services import renewals  # it builds on this module

    subscription = await get_subscription_for_user(user, code)
    try:
        seen = datetime.fromisoformat(seen_period_end.strip())
    except ValueError:
        seen = None
    if seen is None or seen.tzinfo is None:
        raise ValidationError(_l("This page is out of date. Reload it and try again."))
    if subscription.status != SubscriptionStatus.ACTIVE or subscription.cancel_at_period_end:
        raise Conflict(_l("Only an active subscription that is not ending can be renewed now."))
    charged = await renewals.renew_early(subscription, seen, now=now or utcnow(), actor=user)
    return await get_subscription_for_user(user, code), charged


# --- changing plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangePreview:
    subscription: Subscription
    package: Package
    period: PackagePeriod
    quote: pricing.Quote  # one renewal of the new plan, as the customer will pay it
    proration: Proration
    days_left: int
    period_days: int
    restart: bool  # a new period length starts a new period today
    period_end: datetime
    tax_minor: int
    total_minor: int  # signed: positive is charged, negative goes back to the wallet

    @property
    def currency(self) -> str:
        return self.quote.currency


def _cycle_amount(price: ListPrice, promo: PromoTerms | None, at: datetime) -> int:
    """One period of ``price`` less the promo, when it applies (no tax, no add-ons)."""
    quote = pricing.compute_quote(price, at=at, promo=promo, new_subscription=False)
    return quote.package_price_minor - quote.promo_discount_minor


async def preview_change(
    user: User, code: str, package_slug: str, period: str, now: datetime | None = None
) -> ChangePreview:
    """What moving ``code`` to another package or period costs today, through pricing."""
    now = now or utcnow()
    subscription = await get_subscription_for_user(user, code)
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise Conflict(_l("Only an active subscription can change plan."))
    package = await Package.get_or_none(slug=package_slug, is_active=True)
    if package is None:
        raise ValidationError(_l("Choose one of the packages on offer."), field="package")
    company = await ServiceBeneficiary.get(id=subscription.beneficiary_id)
    quote = await pricing.quote(
        package,
        period,
        subscription.currency,
        user=user,
        beneficiary=company,
        new_subscription=False,
        at=now,
    )
    old = subscription.period
    if package.id == subscription.package_id and quote.period == old.period:
        raise ValidationError(_l("This is already your plan."), field="package")
    row = await PackagePeriod.get(
        package=package, period=quote.period, currency=quote.currency, is_active=True
    )
    promo = current_promo(subscription.promo, await _promo_packages(subscription))
    old_price = _list_price(subscription.package, old, subscription.price_minor)
    new_price = _list_price(package, row, quote.package_price_minor)
    start, end = subscription.current_period_start, subscription.current_period_end
    period_days = max(1, whole_days(start, end))
    days_left = min(period_days, max(0, whole_days(now, end)))
    restart = row.months != old.months
    proration = prorate(
        _cycle_amount(old_price, promo, now),
        _cycle_amount(new_price, promo, now),
        days_left,
        period_days,
        restart=restart,
    )
    tax = tax_on(proration.net_minor, quote.tax_rate_bp)
    return ChangePreview(
        subscription=subscription,
        package=package,
        period=row,
        quote=quote,
        proration=proration,
        days_left=days_left,
        period_days=period_days,
        restart=restart,
        period_end=launches.add_months(now, row.months) if restart else end,
        tax_minor=tax,
        total_minor=proration.net_minor + tax,
    )


def _list_price(package: Package, row: PackagePeriod, price_minor: int) -> ListPrice:
    return ListPrice(
        package_id=package.id,
        package_name=Name(package.name_en, package.name_ar),
        period=row.period,
        months=row.months,
        currency=row.currency,
        price_minor=price_minor,
    )


async def _promo_packages(subscription: Subscription) -> list[int]:
    if subscription.promo_id is None:
        return []
    return await subscription.promo.packages.all().values_list("id", flat=True)


def _change_quote(preview: ChangePreview) -> pricing.Quote:
    """The invoice of a plan change: the credit and the charge as lines, tax on the net."""
    old = preview.subscription.package
    lines = [
        QuoteLine(
            LineKind.BASE,
            _l("Unused time on %(package)s", package=Name(old.name_en, old.name_ar).lazy()),
            -preview.proration.credit_minor,
        ),
        QuoteLine(
            LineKind.BASE,
            _l(
                "%(package)s until %(date)s",
                package=Name(preview.package.name_en, preview.package.name_ar).lazy(),
                date=LazyProxy(format_date, preview.period_end, enable_cache=False),
            ),
            preview.proration.charge_minor,
        ),
    ]
    if preview.tax_minor:
        lines.append(QuoteLine(LineKind.TAX, _l("Tax"), preview.tax_minor))
    return pricing.Quote(
        currency=preview.currency,
        package_id=preview.package.id,
        period=preview.quote.period,
        months=preview.quote.months,
        lines=tuple(lines),
        list_price_minor=preview.quote.list_price_minor,
        package_price_minor=preview.quote.package_price_minor,
        subtotal_minor=preview.proration.net_minor,
        discount_minor=0,
        tax_minor=preview.tax_minor,
        total_minor=preview.total_minor,
        tax_rate_bp=preview.quote.tax_rate_bp,
        tax_name=preview.quote.tax_name,
        tax_country=preview.quote.tax_country,
    )


async def change_plan(
    user: User, code: str, package_slug: str, period: str, *, key: str, now: datetime | None = None
) -> Subscription:
    """Move to another package or period now, paying (or getting back into the wallet) the
    prorated difference; ``key`` (from the form) makes a resubmission change nothing."""
    now = now or utcnow()
    preview = await preview_change(user, code, package_slug, period, now)
    subscription, total = preview.subscription, preview.total_minor
    keep_promo = subscription.promo_id and preview.package.id in (
        await _promo_packages(subscription) or [preview.package.id]
    )
    moved: dict[str, object] = {}
    if preview.restart:
        moved = {"current_period_start": now, "current_period_end": preview.period_end}
        moved["anchor_day"] = now.day
    async with db.atomic():
        claimed = await Subscription.filter(
            id=subscription.id,
            status=SubscriptionStatus.ACTIVE,
            package_id=subscription.package_id,
            period_id=subscription.period_id,
            current_period_end=subscription.current_period_end,
        ).update(
            package_id=preview.package.id,
            period_id=preview.period.id,
            price_minor=preview.quote.package_price_minor,
            promo_id=subscription.promo_id if keep_promo else None,
            promo_cycles_left=subscription.promo_cycles_left if keep_promo else None,
            updated_at=now,
            **moved,
        )
        if not claimed:
            raise Conflict(_l("This subscription changed meanwhile. Reload the page."))
        reference = subscription.code
        if total > 0:
            company = await ServiceBeneficiary.get(id=subscription.beneficiary_id)
            invoice = await invoices.issue(
                user, _change_quote(preview), beneficiary=company, subscription=subscription
            )
            reference = invoice.number
        if total:
            kind = WalletTransactionKind.CHARGE if total > 0 else WalletTransactionKind.REFUND
            entry = await wallet.post(
                user,
                preview.currency,
                -total,
                kind,
                f"change:{subscription.code}:{key}"[:128],
                reference=reference,
                description=f"{preview.package.slug} {preview.quote.period}",
            )
            if entry.reference != reference:
                raise Conflict(_l("This change was already made."))
        await record(
            subscription,
            "changed",
            SubscriptionStatus.ACTIVE,
            SubscriptionStatus.ACTIVE,
            user,
            package=preview.package.slug,
            period=str(preview.quote.period),
            credit_minor=preview.proration.credit_minor,
            charge_minor=preview.proration.charge_minor,
            total_minor=total,
        )
    return await get_subscription_for_user(user, code)
