"""Dunning: what happens to a subscription nobody pays for, and to a trial that ends.

A failed renewal leaves the subscription ``past_due`` while its system keeps running for the
grace period, with reminder emails; then it is ``suspended`` (the site refuses sign-ins, see
``ops/scripts/suspend_site.sh``), and after the retention period its system is deleted, a
final warning having gone out first. Ended trials and cancelled subscriptions take the same
road from suspension on. Each reminder is a ``SubscriptionReminder`` row, unique per
(subscription, kind, period end) and written with its email: however often the clock runs,
each goes once. Each sweep changes a subscription with a conditional update, so two clocks
(or a rerun) cannot both act on it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery

from managely import db
from managely.hosts.base import ScriptRun
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.catalog import Package
from managely.models.launches import Launch, LaunchStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.subscriptions import Subscription, SubscriptionReminder, SubscriptionStatus
from managely.services import operations, site_tasks, subscriptions
from managely.services.email import queue_email
from managely.services.errors import Conflict

log = logging.getLogger(__name__)

GRACE = timedelta(days=7)  # past due → suspended
FINAL_NOTICE = timedelta(days=2)  # the last past-due reminder, before the suspension
RETENTION = timedelta(days=30)  # suspended → deleted
DELETION_NOTICE = timedelta(days=7)  # the final warning, before the deletion
MIN_NOTICE = timedelta(days=3)  # a deletion never follows its warning sooner than this
TRIAL_NOTICE = timedelta(days=3)  # "your trial ends soon"

ON = (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
OFF = (SubscriptionStatus.SUSPENDED, SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED)
PENDING = (OperationStatus.QUEUED, OperationStatus.RUNNING)
LIVE = (LaunchStatus.ACTIVE, LaunchStatus.SUSPENDED)
PAGE = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- the sites: suspended and resumed through operations --------------------------------------


async def _pending(launch: Launch, kind: OperationKind) -> bool:
    return await SaaSOperation.exists(launch=launch, kind=kind, status__in=PENDING)


async def _suspended_by_billing(launch: Launch) -> bool:
    """Only a suspension billing made is undone by a payment; staff's own stays."""
    last = (
        await SaaSOperation.filter(
            launch=launch, kind__in=[OperationKind.SUSPEND, OperationKind.RESUME]
        )
        .order_by("-id")
        .first()
    )
    return bool(last and last.kind == OperationKind.SUSPEND and last.params.get("billing"))


async def _site_task(launch: Launch, kind: OperationKind, actor: User | None) -> bool:
    if launch.server_id is None or await _pending(launch, kind):
        return False
    await launch.fetch_related("server")
    await operations.create(
        kind, user=actor, launch=launch, server=launch.server, params={"billing": True}
    )
    return True


async def suspend_sites(subscription: Subscription, actor: User | None = None) -> int:
    """Queue the suspension of the subscription's running systems; how many were queued."""
    queued = 0
    for launch in await Launch.filter(subscription_id=subscription.id, status=LaunchStatus.ACTIVE):
        # A resume still waiting to start would undo it: it is dropped instead.
        await SaaSOperation.filter(
            launch=launch, kind=OperationKind.RESUME, status=OperationStatus.QUEUED
        ).update(status=OperationStatus.CANCELLED, finished_at=utcnow())
        queued += await _site_task(launch, OperationKind.SUSPEND, actor)
    return queued


async def resume_sites(subscription: Subscription, actor: User | None = None) -> int:
    """Queue the resumption of the systems billing suspended; a suspension not started yet
    is cancelled instead."""
    queued = 0
    for launch in await Launch.filter(subscription_id=subscription.id, status__in=LIVE):
        await SaaSOperation.filter(
            launch=launch, kind=OperationKind.SUSPEND, status=OperationStatus.QUEUED
        ).update(status=OperationStatus.CANCELLED, finished_at=utcnow())
        if launch.status == LaunchStatus.SUSPENDED and await _suspended_by_billing(launch):
            queued += await _site_task(launch, OperationKind.RESUME, actor)
    return queued


async def reconcile_sites() -> dict[str, int]:
    """Bring every system in line with its subscription (a task that could not be queued, a
    payment that arrived while a suspension ran): the clock's safety net."""
    counts = Counter()
    for launch in await Launch.filter(
        status=LaunchStatus.ACTIVE, subscription__status__in=OFF, is_standby=False
    ):
        if await _site_task(launch, OperationKind.SUSPEND, None):
            counts["suspend"] += 1
    for launch in await Launch.filter(status=LaunchStatus.SUSPENDED, subscription__status__in=ON):
        if await _suspended_by_billing(launch) and await _site_task(
            launch, OperationKind.RESUME, None
        ):
            counts["resume"] += 1
    return dict(counts)


async def _site_args(operation: SaaSOperation) -> list[str]:
    launch = await Launch.get(id=operation.launch_id)
    extra = ["--resume"] if operation.kind == OperationKind.RESUME else []
    return ["--root", operation.server.sites_root, "--site", launch.site_name, *extra]


async def _suspended(operation: SaaSOperation, run: ScriptRun) -> None:
    await Launch.filter(id=operation.launch_id, status=LaunchStatus.ACTIVE).update(
        status=LaunchStatus.SUSPENDED, suspended_at=utcnow()
    )
    await _follow_subscription(operation, ON, OperationKind.RESUME)


async def _resumed(operation: SaaSOperation, run: ScriptRun) -> None:
    await Launch.filter(id=operation.launch_id, status=LaunchStatus.SUSPENDED).update(
        status=LaunchStatus.ACTIVE, suspended_at=None
    )
    await _follow_subscription(operation, OFF, OperationKind.SUSPEND)


async def _follow_subscription(operation: SaaSOperation, states, kind: OperationKind) -> None:
    # The subscription moved while the script ran (paid during a suspension, or suspended
    # during a resumption): go the other way at once.
    launch = await Launch.get(id=operation.launch_id).prefetch_related("subscription")
    if launch.subscription is not None and launch.subscription.status in states:
        await _site_task(launch, kind, None)


operations.register(
    OperationKind.SUSPEND,
    operations.OperationSpec(
        script="suspend_site.sh",
        steps=["check_site", "suspend", "verify"],
        args=_site_args,
        on_success=_suspended,
        timeout_s=120,
        failure_message=_l("We could not suspend this system. Our team has been told."),
    ),
)
operations.register(
    OperationKind.RESUME,
    operations.OperationSpec(
        script="suspend_site.sh",
        steps=["check_site", "resume", "verify"],
        args=_site_args,
        on_success=_resumed,
        # The resumption is one transaction: a failure changed nothing, so nothing to undo.
        rollback=False,
        timeout_s=120,
        failure_message=_l("We could not start this system again. Our team has been told."),
    ),
)


# --- reminders --------------------------------------------------------------------------------


async def remind(
    subscription: Subscription,
    kind: str,
    period_end: datetime,
    now: datetime,
    send: Callable[[], Awaitable[object]],
) -> bool:
    """Send one reminder of ``kind`` for the period ending ``period_end``, unless it went
    already: the row and the email are written together, or neither."""
    try:
        async with db.atomic():
            await SubscriptionReminder.create(
                subscription=subscription, kind=kind, period_end=period_end, created_at=now
            )
            await send()
    except IntegrityError:
        return False
    return True


async def _mail(subscription: Subscription, template: str, **context: object) -> None:
    user = await User.get(id=subscription.user_id)
    await queue_email(
        user.email,
        template,
        {
            "name": user.name,
            "package": await Package.get(id=subscription.package_id),
            "code": subscription.code,
            **context,
        },
        user.locale,
    )


async def send_past_due(
    subscription: Subscription, amount_minor: int, suspend_on: datetime, final: bool = False
) -> None:
    await _mail(
        subscription,
        "subscription_past_due",
        amount_minor=amount_minor,
        currency=subscription.currency,
        due_on=subscription.current_period_end,
        suspend_on=suspend_on,
        final=final,
    )


async def send_suspended(subscription: Subscription, delete_on: datetime) -> None:
    await _mail(subscription, "subscription_suspended", delete_on=delete_on)


async def send_deletion_warning(subscription: Subscription, delete_on: datetime) -> None:
    await _mail(subscription, "subscription_deletion", delete_on=delete_on)


async def send_trial_ending(subscription: Subscription) -> None:
    await _mail(subscription, "trial_ending", ends_on=subscription.trial_ends_at)


async def send_trial_expired(subscription: Subscription, delete_on: datetime) -> None:
    await _mail(subscription, "trial_expired", delete_on=delete_on)


async def remind_past_due(
    subscription: Subscription, amount_minor: int, now: datetime, final: bool = False
) -> bool:
    since = subscription.past_due_since or subscription.current_period_end
    return await remind(
        subscription,
        "past_due_final" if final else "past_due",
        subscription.current_period_end,
        now,
        lambda: send_past_due(subscription, amount_minor, since + GRACE, final),
    )


# --- the sweeps the clock runs ----------------------------------------------------------------


async def _each(query, handle: Callable[[Subscription], Awaitable[str | None]]) -> dict:
    """Run ``handle`` on every row of ``query``, page by page; one failure is logged and
    counted, and the others go on. ``handle`` returns what to count (or None)."""
    counts, last = Counter(), 0
    while page := await query.filter(id__gt=last).order_by("id").limit(PAGE):
        for subscription in page:
            try:
                outcome = await handle(subscription)
            except Exception:
                log.exception("billing: subscription %s failed", subscription.code)
                outcome = "failed"
            if outcome:
                counts[outcome] += 1
        last = page[-1].id
    return dict(counts)


async def _switch(subscription: Subscription, to: SubscriptionStatus, now: datetime) -> bool:
    changed = await Subscription.filter(id=subscription.id, status=subscription.status).update(
        status=to, suspended_at=now, updated_at=now
    )
    if changed:
        await subscriptions.record(subscription, to.value, subscription.status, to)
    return bool(changed)


async def expire_trials(now: datetime | None = None) -> dict[str, int]:
    """End the trials whose time is up: the system is suspended until paid, then deleted."""
    now = now or utcnow()

    async def expire(subscription: Subscription) -> str | None:
        async with db.atomic():
            if not await _switch(subscription, SubscriptionStatus.EXPIRED, now):
                return None
            await suspend_sites(subscription)
            await remind(
                subscription,
                "trial_expired",
                subscription.trial_ends_at,
                now,
                lambda: send_trial_expired(subscription, now + RETENTION),
            )
        return "expired"

    query = Subscription.filter(status=SubscriptionStatus.TRIAL, trial_ends_at__lte=now)
    return await _each(query, expire)


async def send_reminders(now: datetime | None = None) -> dict[str, int]:
    """Trials ending soon and past-due subscriptions, each reminder once per period."""
    now = now or utcnow()

    async def trial(subscription: Subscription) -> str | None:
        sent = await remind(
            subscription,
            "trial_ending",
            subscription.trial_ends_at,
            now,
            lambda: send_trial_ending(subscription),
        )
        return "trial_ending" if sent else None

    async def past_due(subscription: Subscription) -> str | None:
        from managely.services import renewals  # it builds on this module

        kinds = {"past_due"}
        if subscription.past_due_since <= now - (GRACE - FINAL_NOTICE):
            kinds.add("past_due_final")
        kinds -= set(
            await SubscriptionReminder.filter(
                subscription=subscription, period_end=subscription.current_period_end
            ).values_list("kind", flat=True)
        )
        if not kinds:
            return None
        amount = await renewals.amount_due(subscription, now)
        for kind in sorted(kinds):
            await remind_past_due(subscription, amount, now, final=kind == "past_due_final")
        return "past_due"

    counts = await _each(
        Subscription.filter(
            status=SubscriptionStatus.TRIAL,
            cancel_at_period_end=False,
            trial_ends_at__gt=now,
            trial_ends_at__lte=now + TRIAL_NOTICE,
        ).exclude(
            id__in=Subquery(
                SubscriptionReminder.filter(kind="trial_ending").values("subscription_id")
            )
        ),
        trial,
    )
    due = await _each(
        Subscription.filter(status=SubscriptionStatus.PAST_DUE, past_due_since__isnull=False),
        past_due,
    )
    return dict(Counter(counts) + Counter(due))


async def suspend_overdue(now: datetime | None = None) -> dict[str, int]:
    """Suspend what stayed unpaid through the grace period, and line every system up with
    its subscription (``reconcile_sites``)."""
    now = now or utcnow()

    async def suspend(subscription: Subscription) -> str | None:
        async with db.atomic():
            if not await _switch(subscription, SubscriptionStatus.SUSPENDED, now):
                return None
            await suspend_sites(subscription)
            await remind(
                subscription,
                "suspended",
                subscription.current_period_end,
                now,
                lambda: send_suspended(subscription, now + RETENTION),
            )
        return "suspended"

    counts = await _each(
        Subscription.filter(status=SubscriptionStatus.PAST_DUE, past_due_since__lte=now - GRACE),
        suspend,
    )
    return {**counts, **{f"sites_{k}": v for k, v in (await reconcile_sites()).items()}}


def _period_key(subscription: Subscription) -> datetime:
    return subscription.current_period_end or subscription.trial_ends_at or subscription.created_at


async def delete_expired(now: datetime | None = None) -> dict[str, int]:
    """Delete the systems of subscriptions suspended, cancelled or expired for longer than
    the retention period, a final warning having gone out at least ``MIN_NOTICE`` before."""
    now = now or utcnow()

    async def expire(subscription: Subscription) -> str | None:
        due_on = subscription.suspended_at + RETENTION
        warned = await remind(
            subscription,
            "deletion_warning",
            _period_key(subscription),
            now,
            lambda: send_deletion_warning(subscription, max(due_on, now + MIN_NOTICE)),
        )
        warning = await SubscriptionReminder.get(
            subscription=subscription, kind="deletion_warning", period_end=_period_key(subscription)
        )
        if due_on > now or warning.created_at > now - MIN_NOTICE:
            return "warned" if warned else None
        return await _delete_sites(subscription, now)

    query = Subscription.filter(
        Q(status__in=OFF),
        suspended_at__lte=now - (RETENTION - DELETION_NOTICE),
        launches__status__in=[*LIVE, LaunchStatus.FAILED],
    ).distinct()
    return await _each(query, expire)


async def _delete_sites(subscription: Subscription, now: datetime) -> str:
    deferred = False
    for launch in await Launch.filter(
        subscription_id=subscription.id, status__in=[*LIVE, LaunchStatus.FAILED]
    ):
        try:
            await site_tasks.delete_system(launch)
        except Conflict:
            deferred = True  # another task runs on it: the next sweep tries again
    if subscription.status == SubscriptionStatus.SUSPENDED:
        await _switch(subscription, SubscriptionStatus.EXPIRED, subscription.suspended_at)
    return "deferred" if deferred else "deleted"
