"""What the generated route tests need to know about each route.

Every protected route whose URL names an object must say here how to make one that belongs to
a given user, so the tests can check that its owner gets it and an outsider gets 404. A new
route without an entry fails ``test_every_protected_route_is_known``. A ``_query`` entry is
appended to the URL as its query string.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from managely import crypto
from managely.models.accounts import ServiceBeneficiary, User
from managely.models.catalog import Package
from managely.models.launches import Launch, LaunchStatus, LaunchUserCredentials
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.servers import Server


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


# endpoint -> coroutine making the URL arguments of an object owned by the given user
OWNED_OBJECTS: dict[str, Callable[[User], Awaitable[dict[str, str]]]] = {
    "panel.company": _company,
    "panel.system": _system,
    "panel.reveal_credentials": _system,
    "operations.page": _operation,
    "operations.widget": _operation,
    "operations.events": _operation,
    "operations.progress_status": _operation_query,
}

# Form data that makes an unsafe request valid, so CSRF is the only thing missing.
VALID_FORMS: dict[str, dict[str, str]] = {
    "panel.company": {"name": "Renamed Co", "country": "SA", "tax_id": "", "address": ""},
    "panel.reveal_credentials": {"password": "correct-horse-42"},
    "panel.create_system": {"subdomain": "newsys", "package": "starter"},
}

# Public endpoints that take a token or a provider name in the URL instead of an owned object.
PUBLIC_WITH_ARGS = {"accounts.reset_password", "oauth.login", "oauth.callback", "static"}
