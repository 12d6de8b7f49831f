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


async def _backup(owner: User) -> dict[str, str]:
    """A finished backup whose archive is on the (local) route host."""
    from pathlib import Path

    from managely.models.launches import Backup, BackupKind, BackupStatus

    launch, _ = await make_launch(owner)
    server = await Server.get(id=launch.server_id)
    archive = Path(server.sites_root) / "backups" / launch.site_name / f"{launch.site_name}.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(b"backup archive")
    backup = await Backup.create(
        launch=launch,
        server=server,
        kind=BackupKind.MANUAL,
        status=BackupStatus.SUCCEEDED,
        path=str(archive),
        size_bytes=archive.stat().st_size,
    )
    return {"code": launch.code, "backup": backup.code}


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


async def _user_session(owner: User) -> dict[str, str]:
    """Another signed-in browser of the owner's, as the sessions page lists it."""
    from managely.services import accounts

    session = await accounts.start_session(owner, ip="192.0.2.7", user_agent="Firefox/140.0")
    return {"code": session.code}


async def _api_token(owner: User) -> dict[str, str]:
    from managely.services import api_tokens

    token, _ = await api_tokens.create(owner, name="route test")
    return {"code": token.code}


async def make_ticket(owner: User, *, closed: bool = False):
    """An open ticket with a first message and a small text attachment, through the service."""
    from managely.models.support import TicketAttachment, TicketStatus
    from managely.services import support

    ticket = await support.create_ticket(
        owner,
        subject="Route test",
        department="technical",
        priority="normal",
        message="It does not start.",
        uploads=[support.Upload("notes.txt", b"line one\n")],
    )
    if closed:
        ticket.status = TicketStatus.CLOSED
        await ticket.save()
    attachment = await TicketAttachment.get(reply__ticket=ticket)
    return ticket, attachment


async def _ticket(owner: User) -> dict[str, str]:
    ticket, _ = await make_ticket(owner)
    return {"code": ticket.code}


async def _closed_ticket(owner: User) -> dict[str, str]:
    """Closed, so its live stream ends after the first event."""
    ticket, _ = await make_ticket(owner, closed=True)
    return {"code": ticket.code}


async def _ticket_attachment(owner: User) -> dict[str, str]:
    ticket, attachment = await make_ticket(owner)
    return {"code": ticket.code, "attachment": attachment.code}


# endpoint -> coroutine making the URL arguments of an object owned by the given user
OWNED_OBJECTS: dict[str, Callable[[User], Awaitable[dict[str, str]]]] = {
    "panel.company": _company,
    "panel.system": _system,
    "panel.reveal_credentials": _system,
    "account.revoke_session": _user_session,
    "account.revoke_token": _api_token,
    "systems.reset_password": _system,
    "systems.check_dns": _system,
    "systems.change_domain": _system,
    "systems.create_backup": _system,
    "systems.download_backup": _backup,
    "systems.restore_backup": _backup,
    "systems.delete_system": _system,
    "usage.page": _system,
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
    "subscriptions.auto_renew": _subscription,
    "subscriptions.change": _subscription,
    "support.detail": _ticket,
    "support.replies": _ticket,
    "support.reply": _ticket,
    "support.events": _closed_ticket,
    "support.attachment": _ticket_attachment,
    "admin_support.detail": _ticket,
    "admin_support.reply": _ticket,
    "admin_support.update": _ticket,
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
    "support.reply": {"message": "Any news?"},
    "admin_support.reply": {"message": "Looking into it."},
    "admin_support.update": {"status": "resolved", "assignee": "", "tags": ""},
}

# Public endpoints that take a token or a provider name in the URL instead of an owned object.
PUBLIC_WITH_ARGS = {"accounts.reset_password", "oauth.login", "oauth.callback", "static"}


def _merge_area_modules() -> None:
    """Each ``routes_<area>.py`` beside this file adds its own entries to the tables above,
    so areas built side by side never edit the same lines."""
    import importlib
    from pathlib import Path

    for path in sorted(Path(__file__).parent.glob("routes_*.py")):
        module = importlib.import_module(f"tests.web.{path.stem}")
        OWNED_OBJECTS.update(getattr(module, "OWNED_OBJECTS", {}))
        OWNER_STATUS.update(getattr(module, "OWNER_STATUS", {}))
        VALID_FORMS.update(getattr(module, "VALID_FORMS", {}))
        PUBLIC_WITH_ARGS.update(getattr(module, "PUBLIC_WITH_ARGS", set()))


_merge_area_modules()
