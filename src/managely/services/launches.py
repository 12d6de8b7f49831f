"""Launches: a customer's ERP system, from the click to a site that answers a real login.

``create_system`` validates the name, places the site on a server and writes the launch,
its encrypted admin credentials, a trial subscription and the provisioning operation in one
transaction; the worker does the rest. The subdomain check here is the first of two: the
scripts validate every argument again.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from managely import crypto, db
from managely.hosts.base import ScriptRun
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.addons import AddonApp
from managely.models.base import new_code
from managely.models.billing import Invoice, WalletTransaction, WalletTransactionKind
from managely.models.catalog import (
    BillingPeriod,
    Package,
    PackagePeriod,
    PromoCode,
    PromoRedemption,
)
from managely.models.launches import Launch, LaunchStatus, LaunchUserCredentials
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.servers import Server, ServerStatus
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.queue import enqueue
from managely.services import invoices, operations, pricing, servers, wallet
from managely.services.errors import Conflict, NotFound, ValidationError
from managely.settings import get_settings

SUBDOMAIN_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
RESERVED = frozenset(
    {
        "www",
        "admin",
        "api",
        "app",
        "mail",
        "smtp",
        "imap",
        "pop",
        "ftp",
        "ns1",
        "ns2",
        "dns",
        "static",
        "assets",
        "cdn",
        "panel",
        "portal",
        "dashboard",
        "status",
        "support",
        "billing",
        "help",
        "docs",
        "blog",
        "root",
        "system",
        "managely",
        "tryton",
        "localhost",
        "test",
        "dev",
        "staging",
        "internal",
        "webmail",
        "autodiscover",
        "_dmarc",
    }
)
ADMIN_LOGIN = "admin"


def validate_subdomain(value: str) -> str:
    """A strict DNS label: a-z, 0-9 and inner hyphens, 3-32 characters, not reserved."""
    subdomain = value.strip().lower() if value.isascii() else value
    if not SUBDOMAIN_RE.fullmatch(subdomain) or "--" in subdomain:
        raise ValidationError(
            _l("Use 3 to 32 letters (a-z), digits and hyphens, starting with a letter."),
            field="subdomain",
        )
    if subdomain in RESERVED:
        raise ValidationError(
            _l("This name is reserved. Please choose another."), field="subdomain"
        )
    return subdomain


async def subdomain_available(value: str) -> bool:
    return not await Launch.exists(subdomain=validate_subdomain(value))


async def _trial_subscription(
    user: User,
    company: ServiceBeneficiary,
    package: Package,
    period: str | None = None,
    currency: str | None = None,
) -> Subscription:
    wanted = PackagePeriod.filter(package=package, is_active=True)
    row = (
        await wanted.filter(
            period=period or BillingPeriod.MONTHLY, currency=currency or user.currency or "USD"
        ).first()
        or await wanted.order_by("months").first()
    )
    if row is None:
        raise ValidationError(_l("This package is not on sale right now."), field="package")
    start = datetime.now(UTC)
    ends = start + timedelta(days=row.trial_days or 14)
    return await Subscription.create(
        user=user,
        beneficiary=company,
        package=package,
        period=row,
        currency=row.currency,
        status=SubscriptionStatus.TRIAL,
        price_minor=row.price_minor,
        trial_ends_at=ends,
        current_period_start=start,
        current_period_end=ends,
    )


@dataclass(frozen=True)
class Order:
    """A paid launch: what the customer chose and the key that makes a resubmission safe."""

    period: str
    currency: str
    addons: tuple[AddonApp, ...] = ()
    promo_code: str | None = None
    key: str = ""


async def _paid_subscription(
    user: User, company: ServiceBeneficiary, package: Package, order: Order
) -> Subscription:
    """Price the order, then write the subscription, its invoice, the wallet debit and the
    promo redemption; the caller's transaction holds them all or none."""
    quote = await pricing.quote(
        package,
        order.period,
        order.currency,
        user=user,
        beneficiary=company,
        addons=order.addons,
        promo_code=order.promo_code,
    )
    period = await PackagePeriod.get(
        package=package, period=order.period, currency=quote.currency, is_active=True
    )
    promo = await PromoCode.get(id=quote.promo_id) if quote.promo_id else None
    start = datetime.now(UTC)
    subscription = await Subscription.create(
        user=user,
        beneficiary=company,
        package=package,
        period=period,
        currency=quote.currency,
        status=SubscriptionStatus.ACTIVE,
        price_minor=quote.package_price_minor,
        current_period_start=start,
        current_period_end=add_months(start, quote.months),
        promo=promo,
        promo_cycles_left=(promo.first_n_cycles - 1) if promo and promo.first_n_cycles else None,
    )
    invoice = await invoices.issue(user, quote, beneficiary=company, subscription=subscription)
    if quote.total_minor:
        await wallet.post(
            user,
            quote.currency,
            -quote.total_minor,
            WalletTransactionKind.CHARGE,
            f"order:{order.key or subscription.code}",
            reference=invoice.number,
            description=f"{package.slug} {order.period}",
        )
    if promo is not None:
        await _redeem(promo, user, subscription, quote)
    return subscription


async def _redeem(promo: PromoCode, user: User, subscription: Subscription, quote) -> None:
    # The last use of a limited code goes to one buyer only: a conditional increment.
    limit = {} if promo.max_uses is None else {"uses_count__lt": promo.max_uses}
    taken = await PromoCode.filter(id=promo.id, **limit).update(uses_count=F("uses_count") + 1)
    if not taken:
        raise ValidationError(_l("This promo code has been used up."), field="promo_code")
    await PromoRedemption.create(
        promo=promo,
        user=user,
        subscription=subscription,
        discount_minor=quote.promo_discount_minor,
        currency=quote.currency,
        idempotency_key=f"promo:{subscription.code}",
    )


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day when it is shorter."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


async def _order_placed(user: User, key: str) -> tuple[Launch, SaaSOperation] | None:
    """The launch a resubmitted order form already made (same key), if any."""
    charge = await WalletTransaction.get_or_none(idempotency_key=f"order:{key}")
    if charge is None:
        return None
    invoice = await Invoice.get_or_none(number=charge.reference, user=user)
    launch = invoice and await Launch.filter(subscription_id=invoice.subscription_id).first()
    if launch is None:
        return None
    return launch, await latest_operation(launch)


async def create_system(
    user: User,
    *,
    package_slug: str,
    subdomain: str,
    company_code: str | None = None,
    region: str = "default",
    order: Order | None = None,
    trial_check: Callable[[], Awaitable[None]] | None = None,
) -> tuple[Launch, SaaSOperation]:
    """Start a system for ``user``: a trial, or with ``order`` one paid from the wallet.

    Subscription, invoice, wallet debit, launch, credentials and the operation are written in
    one transaction; the worker does the rest. ``trial_check`` (the abuse controls) runs inside
    that transaction, so a refused trial leaves nothing behind.
    """
    subdomain = validate_subdomain(subdomain)
    package = await Package.get_or_none(slug=package_slug, is_active=True)
    if package is None:
        raise ValidationError(_l("Choose one of the packages on offer."), field="package")
    company = await (
        ServiceBeneficiary.get_or_none(owner=user, code=company_code)
        if company_code
        else ServiceBeneficiary.filter(owner=user).order_by("id").first()
    )
    if company is None:
        raise NotFound(_l("Not found."))
    if order is not None and order.key:
        placed = await _order_placed(user, order.key)
        if placed is not None:
            return placed
    if await Launch.exists(subdomain=subdomain):
        raise Conflict(_l("This name is taken. Please choose another."), field="subdomain")

    async def subscribe() -> Subscription:
        if order is not None:
            return await _paid_subscription(user, company, package, order)
        if trial_check is not None:
            await trial_check()
        return await _trial_subscription(user, company, package)

    try:
        async with db.atomic():
            claimed = await _claim_standby(user, company, package, subdomain, region, subscribe)
            if claimed is not None:
                return claimed
            server = await servers.place(region)
            subscription = await subscribe()
            launch = await Launch.create(
                user=user,
                beneficiary=company,
                subscription=subscription,
                package=package,
                server=server,
                subdomain=subdomain,
                site_name=_site_name(),
                status=LaunchStatus.PROVISIONING,
                is_trial=order is None,
                erp=package.erp,
                db_backend=server.db_backend,
            )
            await LaunchUserCredentials.create(
                launch=launch,
                username=ADMIN_LOGIN,
                password_encrypted=crypto.encrypt(crypto.random_token(15)),
            )
            operation = await operations.create(
                OperationKind.PROVISION,
                user=user,
                launch=launch,
                server=server,
                params={"package": package.slug},
            )
    except IntegrityError:
        raise Conflict(
            _l("This name is taken. Please choose another."), field="subdomain"
        ) from None
    return launch, operation


def _site_name() -> str:
    # Site names are independent of the customer's subdomain, so a rename never moves data.
    return f"s{new_code()}"


async def _claim_standby(
    user: User,
    company: ServiceBeneficiary,
    package: Package,
    subdomain: str,
    region: str,
    subscribe: Callable[[], Awaitable[Subscription]],
) -> tuple[Launch, SaaSOperation] | None:
    """Take a ready standby site, if the pool has one: a trial is then a claim and a new
    admin password, not a build. The pool is refilled after the commit."""
    for standby in (
        await Launch.filter(
            is_standby=True,
            status=LaunchStatus.ACTIVE,
            package=package,
            server__region=region,
            server__status=ServerStatus.ACTIVE,
        )
        .order_by("id")
        .limit(3)
    ):
        taken = await Launch.filter(id=standby.id, is_standby=True).update(is_standby=False)
        if not taken:
            continue  # another trial claimed it first
        subscription = await subscribe()
        await Launch.filter(id=standby.id).update(
            user=user,
            beneficiary=company,
            subscription=subscription,
            subdomain=subdomain,
            is_trial=subscription.status == SubscriptionStatus.TRIAL,
            status=LaunchStatus.PROVISIONING,
        )
        await LaunchUserCredentials.filter(launch_id=standby.id).update(
            password_encrypted=crypto.encrypt(crypto.random_token(15)), rotated_at=datetime.now(UTC)
        )
        launch = await Launch.get(id=standby.id)
        operation = await operations.create(
            OperationKind.CHANGE_PASSWORD,
            user=user,
            launch=launch,
            server=await Server.get(id=launch.server_id),
            params={"package": package.slug, "claim": True},
        )
        enqueue("launches.refill_pool")
        return launch, operation
    return None


async def refill_pool(size: int | None = None) -> int:
    """Queue standby sites until every active server has ``size`` ready per package."""
    size = get_settings().warm_pool_size if size is None else size
    queued = 0
    if size <= 0:
        return 0
    recent_failure = datetime.now(UTC) - timedelta(minutes=10)
    for server in await Server.filter(status=ServerStatus.ACTIVE):
        for package in await Package.filter(is_active=True, slug__in=await _templates_on(server)):
            pool = Launch.filter(server=server, package=package, is_standby=True)
            if await pool.filter(
                status=LaunchStatus.FAILED, updated_at__gt=recent_failure
            ).exists():
                continue  # e.g. no template yet: try again later, not every minute
            ready = await pool.filter(
                status__in=[LaunchStatus.PROVISIONING, LaunchStatus.ACTIVE]
            ).count()
            for _ in range(size - ready):
                if not await _queue_standby(server, package):
                    break
                queued += 1
    return queued


async def _templates_on(server: Server) -> list[str]:
    """Packages whose template build finished on ``server`` (standbys are cloned from it)."""
    builds = await SaaSOperation.filter(
        server=server, kind=OperationKind.BOOTSTRAP_SERVER, status=OperationStatus.SUCCEEDED
    ).values_list("params", flat=True)
    return [p["package"] for p in builds if p and p.get("variant") == "template"]


async def _queue_standby(server: Server, package: Package) -> bool:
    async with db.atomic():
        reserved = await Server.filter(
            id=server.id, status=ServerStatus.ACTIVE, sites_count__lt=F("capacity")
        ).update(sites_count=F("sites_count") + 1)
        if not reserved:
            return False
        site_name = _site_name()
        launch = await Launch.create(
            package=package,
            server=server,
            subdomain=f"standby.{site_name}",
            site_name=site_name,
            status=LaunchStatus.PROVISIONING,
            is_standby=True,
            erp=package.erp,
            db_backend=server.db_backend,
        )
        await LaunchUserCredentials.create(
            launch=launch,
            username=ADMIN_LOGIN,
            password_encrypted=crypto.encrypt(crypto.random_token(15)),
        )
        await operations.create(
            OperationKind.PROVISION,
            launch=launch,
            server=server,
            params={"package": package.slug, "standby": True},
        )
    return True


async def deploy_erp_system(user_id: int, package_type: str, domain: str) -> str:
    """The seed's entry point: start ``package_type`` at ``domain`` for the user; the code."""
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound(_l("Not found."))
    _, operation = await create_system(user, package_slug=package_type, subdomain=domain)
    return operation.code


async def _provision_args(operation: SaaSOperation) -> list[str]:
    launch = await Launch.get(id=operation.launch_id).prefetch_related("package")
    server = operation.server
    return [
        "--root",
        server.sites_root,
        "--site",
        launch.site_name,
        "--package",
        launch.package.slug,
        "--admin-login",
        ADMIN_LOGIN,
        "--host",
        server.host,
    ]


async def _provision_secrets(operation: SaaSOperation) -> dict[str, str]:
    credentials = await LaunchUserCredentials.get(launch_id=operation.launch_id)
    return {"ADMIN_PASSWORD": crypto.decrypt(credentials.password_encrypted)}


async def _provisioned(operation: SaaSOperation, run: ScriptRun) -> None:
    await Launch.filter(id=operation.launch_id).update(
        status=LaunchStatus.ACTIVE,
        url=run.results.get("url", ""),
        erp_version=run.results.get("tryton_version", "")[:16],
    )


async def _provision_failed(operation: SaaSOperation) -> None:
    changed = await Launch.filter(id=operation.launch_id, status=LaunchStatus.PROVISIONING).update(
        status=LaunchStatus.FAILED
    )
    if changed and (operation.params or {}).get("standby"):
        await servers.release(operation.server_id)  # a failed standby gives its slot back


async def _claim_args(operation: SaaSOperation) -> list[str]:
    launch = await Launch.get(id=operation.launch_id)
    return [
        "--root",
        operation.server.sites_root,
        "--site",
        launch.site_name,
        "--login",
        ADMIN_LOGIN,
    ]


async def _claim_secrets(operation: SaaSOperation) -> dict[str, str]:
    credentials = await LaunchUserCredentials.get(launch_id=operation.launch_id)
    return {"NEW_PASSWORD": crypto.decrypt(credentials.password_encrypted)}


async def _password_set(operation: SaaSOperation, run: ScriptRun) -> None:
    await Launch.filter(id=operation.launch_id).update(status=LaunchStatus.ACTIVE)


async def _provision_retried(operation: SaaSOperation) -> None:
    await Launch.filter(id=operation.launch_id, status=LaunchStatus.FAILED).update(
        status=LaunchStatus.PROVISIONING
    )


operations.register(
    OperationKind.PROVISION,
    operations.OperationSpec(
        script="create_site_in_isolated.sh",
        steps=[
            "check_site",
            "clone_database",
            "set_admin_password",
            "write_site",
            "load_site",
            "verify_login",
        ],
        args=_provision_args,
        secrets=_provision_secrets,
        on_success=_provisioned,
        on_failure=_provision_failed,
        failure_message=_l(
            "We could not finish setting up your system. Our team has been told, and it can be retried."
        ),
        timeout_s=300,
        extra={"on_retry": _provision_retried},
    ),
)


operations.register(
    OperationKind.CHANGE_PASSWORD,
    operations.OperationSpec(
        script="change_password_by_console_managely.sh",
        steps=["check_site", "set_password", "verify_login"],
        args=_claim_args,
        secrets=_claim_secrets,
        on_success=_password_set,
        on_failure=_provision_failed,
        rollback=False,
        timeout_s=120,
        failure_message=_l(
            "We could not finish setting up your system. Our team has been told, and it can be retried."
        ),
        extra={"on_retry": _provision_retried},
    ),
)


async def reset_admin_password(launch: Launch, user: User | None = None) -> SaaSOperation:
    """Queue a new random admin password for an active site.

    The new password travels encrypted in the operation's params and replaces the stored one
    only when the script succeeded, so a failed reset leaves the old login working and shown.
    """
    async with db.atomic():
        if await pending_operations(launch):
            raise Conflict(_l("Another task is running on this system. Try again when it ends."))
        if launch.status != LaunchStatus.ACTIVE:
            raise Conflict(_l("This system is not active."))
        await launch.fetch_related("server")
        return await operations.create(
            OperationKind.CHANGE_PASSWORD,
            user=user,
            launch=launch,
            server=launch.server,
            params={"variant": "reset", "password": crypto.encrypt(crypto.random_token(15))},
        )


async def _reset_secrets(operation: SaaSOperation) -> dict[str, str]:
    return {"NEW_PASSWORD": crypto.decrypt(operation.params["password"])}


async def _password_reset(operation: SaaSOperation, run: ScriptRun) -> None:
    await LaunchUserCredentials.filter(launch_id=operation.launch_id).update(
        password_encrypted=operation.params["password"], rotated_at=datetime.now(UTC)
    )
    # The credentials row holds it now; the operation need not keep a copy.
    await SaaSOperation.filter(id=operation.id).update(params={"variant": "reset"})


operations.register(
    OperationKind.CHANGE_PASSWORD,
    operations.OperationSpec(
        script="change_password_by_console_managely.sh",
        steps=["check_site", "set_password", "verify_login"],
        args=_claim_args,
        secrets=_reset_secrets,
        on_success=_password_reset,
        rollback=False,
        timeout_s=120,
        failure_message=_l(
            "We could not set a new password. The current administrator password still works."
        ),
    ),
    variant="reset",
)


async def get_launch_for_user(user: User, code: str) -> Launch:
    """The access helper for systems: another customer's system is simply not found."""
    launch = await Launch.get_or_none(code=code, user=user).prefetch_related("package", "server")
    if launch is None or launch.status == LaunchStatus.DELETED:
        raise NotFound(_l("Not found."))
    return launch


async def launches_of(user: User) -> list[Launch]:
    return (
        await Launch.filter(user=user)
        .exclude(status=LaunchStatus.DELETED)
        .prefetch_related("package")
        .order_by("-created_at")
    )


async def credentials_of(launch: Launch) -> tuple[str, str]:
    credentials = await LaunchUserCredentials.get(launch=launch)
    return credentials.username, crypto.decrypt(credentials.password_encrypted)


async def latest_operation(launch: Launch) -> SaaSOperation | None:
    return await SaaSOperation.filter(launch=launch).order_by("-created_at").first()


async def pending_operations(launch: Launch) -> bool:
    return await SaaSOperation.exists(
        launch=launch, status__in=[OperationStatus.QUEUED, OperationStatus.RUNNING]
    )


async def addons_by_slug(slugs: list[str]) -> list[AddonApp]:
    return await AddonApp.filter(slug__in=slugs) if slugs else []


async def quote_order(
    user: User | None,
    *,
    package_slug: str,
    period: str,
    currency: str,
    addon_slugs: list[str],
    promo_code: str | None,
):
    """What the order form currently says would cost (the live price summary)."""
    package = await Package.get_or_none(slug=package_slug, is_active=True)
    if package is None:
        raise ValidationError(_l("Choose one of the packages on offer."), field="package")
    company = await ServiceBeneficiary.filter(owner=user).order_by("id").first() if user else None
    return await pricing.quote(
        package,
        period,
        currency,
        user=user,
        beneficiary=company,
        addons=await addons_by_slug(addon_slugs),
        promo_code=promo_code,
    )
