"""What the generated route tests need to know about each route.

Every protected route whose URL names an object must say here how to make one that belongs to
a given user, so the tests can check that its owner gets it and an outsider gets 404. A new
route without an entry fails ``test_every_protected_route_is_known``. A ``_query`` entry is
appended to the URL as its query string.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from managely import crypto
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.billing import Invoice, InvoiceLine, InvoiceStatus, Payment, PaymentStatus
from managely.models.catalog import BillingPeriod, Package, PackagePeriod
from managely.models.launches import Launch, LaunchStatus, LaunchUserCredentials
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.servers import Server
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.services import invoices


async def _company(owner: User) -> dict[str, str]:
    company = await ServiceBeneficiary.filter(owner=owner).first()
    return {"code": company.code}


async def make_launch(owner: User) -> tuple[Launch, SaaSOperation]:
    """An active system with a finished provisioning, written directly (no script runs)."""
    package, _ = await Package.get_or_create(
        slug="starter",
        defaults={"name_en": "Starter", "name_ar": "المبتدئ", "tryton_modules": ["sale"]},
    )
    server, _ = await Server.get_or_create(
        name="route-host",
        defaults={"host": "127.0.0.1", "driver": "local", "sites_root": "/tmp/managely-route-host"},
    )
    company = await ServiceBeneficiary.filter(owner=owner).first()
    launch = await Launch.create(
        user=owner,
        beneficiary=company,
        package=package,
        server=server,
        subdomain=f"sys{owner.id}x{await Launch.all().count()}",
        site_name=f"s{owner.id}x{await Launch.all().count()}",
        status=LaunchStatus.ACTIVE,
        url="http://127.0.0.1:1/site/",
    )
    await LaunchUserCredentials.create(
        launch=launch, username="admin", password_encrypted=crypto.encrypt("site-pass-123")
    )
    operation = await SaaSOperation.create(
        kind=OperationKind.PROVISION,
        status=OperationStatus.SUCCEEDED,
        progress=100,
        user=owner,
        launch=launch,
        server=server,
        steps=["check_site"],
    )
    return launch, operation


async def _system(owner: User) -> dict[str, str]:
    launch, _ = await make_launch(owner)
    return {"code": launch.code}


async def _operation(owner: User) -> dict[str, str]:
    _, operation = await make_launch(owner)
    return {"code": operation.code}


async def _operation_query(owner: User) -> dict[str, str]:
    _, operation = await make_launch(owner)
    return {"_query": f"code={operation.code}"}


async def _own_account(owner: User) -> dict[str, str]:
    return {"code": owner.code}


async def _payment_query(owner: User) -> dict[str, str]:
    """A captured PayPal top-up: coming back to it again answers without calling PayPal."""
    payment = await Payment.create(
        user=owner,
        gateway="paypal",
        gateway_order_id=f"ORDER{owner.id}X{await Payment.all().count()}",
        amount_minor=1000,
        currency="USD",
        status=PaymentStatus.CAPTURED,
    )
    return {"_query": f"payment={payment.code}&token={payment.gateway_order_id}"}


async def make_invoice(owner: User) -> Invoice:
    """An issued, paid invoice with one line, written directly (no quote, no email)."""
    company = await ServiceBeneficiary.filter(owner=owner).first()
    now = datetime.now(UTC)
    invoice = await Invoice.create(
        number=await invoices.next_number(),
        user=owner,
        beneficiary=company,
        status=InvoiceStatus.PAID,
        currency="USD",
        subtotal_minor=2900,
        total_minor=2900,
        buyer={"name": company.name, "email": owner.email, "country": None, "tax_id": None},
        seller={"name": "Managely", "email": "staff@managely.test", "domain": "managely.test"},
        locale=owner.locale or "en",
        issued_at=now,
        due_at=now,
        paid_at=now,
    )
    await InvoiceLine.create(
        invoice=invoice, description="Starter (monthly)", unit_price_minor=2900, amount_minor=2900
    )
    return invoice


async def _invoice(owner: User) -> dict[str, str]:
    return {"code": (await make_invoice(owner)).code}


async def _subscription(owner: User) -> dict[str, str]:
    """An active monthly subscription, written directly."""
    package, _ = await Package.get_or_create(
        slug="starter",
        defaults={"name_en": "Starter", "name_ar": "المبتدئ", "tryton_modules": ["sale"]},
    )
    period, _ = await PackagePeriod.get_or_create(
        package=package,
        period=BillingPeriod.MONTHLY,
        currency="USD",
        defaults={"months": 1, "price_minor": 2900},
    )
    now = datetime.now(UTC)
    subscription = await Subscription.create(
        user=owner,
        beneficiary=await ServiceBeneficiary.filter(owner=owner).first(),
        package=package,
        period=period,
        currency="USD",
        status=SubscriptionStatus.ACTIVE,
        price_minor=2900,
        current_period_start=now,
        current_period_end=now + timedelta(days=30),
    )
    return {"code": subscription.code}


# endpoint -> coroutine making the URL arguments of an object owned by the given user
OWNED_OBJECTS: dict[str, Callable[[User], Awaitable[dict[str, str]]]] = {
    "panel.company": _company,
    "panel.system": _system,
    "panel.reveal_credentials": _system,
    "operations.page": _operation,
    "operations.widget": _operation,
    "operations.events": _operation,
    "operations.progress_status": _operation_query,
    "invoices.detail": _invoice,
    "invoices.pdf": _invoice,
    "payments.paypal_return": _payment_query,
    "payments.paypal_cancel": _payment_query,
    "admin.user_wallet": _own_account,
    "subscriptions.page": _subscription,
    "subscriptions.cancel": _subscription,
    "subscriptions.reactivate": _subscription,
    "subscriptions.change": _subscription,
}

# What the owner gets when it is not 200: the way back from PayPal redirects onwards.
OWNER_STATUS: dict[str, int] = {
    "payments.paypal_return": 302,
    "payments.paypal_cancel": 302,
}

# Form data that makes an unsafe request valid, so CSRF is the only thing missing.
VALID_FORMS: dict[str, dict[str, str]] = {
    "panel.company": {"name": "Renamed Co", "country": "SA", "tax_id": "", "address": ""},
    "panel.reveal_credentials": {"password": "correct-horse-42"},
    "panel.create_system": {"subdomain": "newsys", "package": "starter"},
    "subscriptions.change": {"package": "starter", "period": "yearly"},
}

# Public endpoints that take a token or a provider name in the URL instead of an owned object.
PUBLIC_WITH_ARGS = {"accounts.reset_password", "oauth.login", "oauth.callback", "static"}
