"""The system page: what a customer sees of one system and the actions they start from it.

Each action checks what the customer typed (a confirmation, a domain, a backup of *this*
system) before it reaches ``site_tasks``, so a wrong answer changes nothing. Add-ons are paid
from the wallet in the same transaction that queues their install: too little money, and
neither the charge nor the operation is written.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.addons import AddonApp, InstallationLog, UserInstalledAddon
from managely.models.billing import WalletTransactionKind
from managely.models.launches import Backup, Certificate, CustomDomain, Launch, LaunchStatus
from managely.models.operations import SaaSOperation
from managely.models.servers import HostDriver
from managely.services import site_tasks, wallet
from managely.services.errors import Conflict, NotFound, ValidationError

HISTORY_LIMIT = 30
ADDON_LOG_LINES = 20


async def history(launch: Launch, limit: int = HISTORY_LIMIT) -> list[SaaSOperation]:
    """The system's operations, newest first."""
    return await SaaSOperation.filter(launch=launch).order_by("-created_at", "-id").limit(limit)


async def backups_of(launch: Launch) -> list[Backup]:
    return await Backup.filter(launch=launch).order_by("-created_at", "-id")


async def domains_of(launch: Launch) -> list[CustomDomain]:
    return await CustomDomain.filter(launch=launch).order_by("-updated_at", "-id")


async def certificates_of(launch: Launch) -> dict[str, Certificate]:
    """The latest certificate per domain."""
    latest: dict[str, Certificate] = {}
    for certificate in await Certificate.filter(launch=launch).order_by("id"):
        latest[certificate.domain] = certificate
    return latest


async def addons_offered(launch: Launch) -> list[AddonApp]:
    """Active add-ons sold with the system's package."""
    return (
        await AddonApp.filter(is_active=True, packages__id=launch.package_id)
        .order_by("sort_order", "slug")
        .distinct()
    )


@dataclass
class InstalledAddon:
    record: UserInstalledAddon
    log: list[str] = field(default_factory=list)


async def installed_addons(launch: Launch) -> list[InstalledAddon]:
    """Add-ons put on this system, each with the last lines of its install's log."""
    rows = await UserInstalledAddon.filter(launch=launch).prefetch_related("addon").order_by("id")
    found = []
    for record in rows:
        logs = (
            await InstallationLog.filter(installed_addon=record)
            .order_by("-created_at", "-id")
            .limit(ADDON_LOG_LINES)
        )
        found.append(InstalledAddon(record, [entry.line for entry in reversed(logs)]))
    return found


def check_confirmation(launch: Launch, typed: str) -> None:
    """A destructive action goes ahead only when the customer typed the system's name."""
    if typed.strip().lower() != launch.subdomain:
        raise ValidationError(
            _l("Type the system name %(name)s exactly to confirm.", name=launch.subdomain),
            field="confirm",
        )


async def delete(launch: Launch, user: User, confirmation: str) -> SaaSOperation:
    """Queue the deletion of the system once its name was typed."""
    check_confirmation(launch, confirmation)
    return await site_tasks.delete_system(launch, user=user)


async def _newest_operation(launch: Launch) -> SaaSOperation:
    return await SaaSOperation.filter(launch=launch).order_by("-id").first()


async def back_up(launch: Launch, user: User) -> SaaSOperation:
    """Queue a backup now; the operation that makes it."""
    if launch.status != LaunchStatus.ACTIVE:
        raise Conflict(_l("This system is not active."))
    await site_tasks.back_up(launch, user=user)
    return await _newest_operation(launch)


async def change_domain(launch: Launch, user: User, domain: str) -> SaaSOperation:
    """Queue the connection of the customer's domain (a certificate follows on success)."""
    await site_tasks.change_domain(launch, domain, user=user)
    return await _newest_operation(launch)


async def get_backup_for_launch(launch: Launch, code: str) -> Backup:
    """A backup of this system; another system's backup is simply not found."""
    backup = await Backup.get_or_none(code=code, launch=launch).prefetch_related("server")
    if backup is None:
        raise NotFound(_l("Not found."))
    return backup


async def restore(launch: Launch, user: User, backup_code: str, confirmation: str):
    """Queue the restore of one of this system's backups once its name was typed."""
    backup = await get_backup_for_launch(launch, backup_code)
    check_confirmation(launch, confirmation)
    return await site_tasks.restore(launch, backup, user=user)


async def backup_file(launch: Launch, backup_code: str) -> Path:
    """The archive of a finished backup, readable here: only local servers' archives are."""
    backup = await get_backup_for_launch(launch, backup_code)
    if backup.status != "succeeded" or not backup.path:
        raise Conflict(_l("Only a finished backup can be downloaded."))
    server = backup.server
    if server is None or server.driver != HostDriver.LOCAL:
        raise Conflict(
            _l(
                "Downloading is available for systems on local servers only. "
                "Ask support for a copy of this backup."
            )
        )
    archive = Path(backup.path).resolve()
    # The path came from a script's output: serve it only from the server's backups folder.
    backups_dir = (Path(server.sites_root) / "backups").resolve()
    if not archive.is_relative_to(backups_dir) or not archive.is_file():
        raise NotFound(_l("This backup's archive is no longer on the server."))
    return archive


@dataclass(frozen=True)
class DnsCheck:
    domain: str
    addresses: tuple[str, ...] = ()
    expected: tuple[str, ...] = ()
    error: str = ""

    @property
    def points_here(self) -> bool:
        return bool(set(self.addresses) & set(self.expected))


async def resolve(name: str) -> tuple[str, ...]:
    """The addresses ``name`` resolves to (an IP literal is its own answer)."""
    try:
        return (str(ipaddress.ip_address(name)),)
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
    return tuple(sorted({info[4][0] for info in infos}))


async def check_dns(launch: Launch, domain: str) -> DnsCheck:
    """Whether ``domain`` already resolves to the system's server."""
    domain = site_tasks.validate_domain(domain)
    await launch.fetch_related("server")
    expected = await _quiet_resolve(launch.server.host) if launch.server else ()
    try:
        addresses = await asyncio.wait_for(resolve(domain), timeout=5)
    except (OSError, TimeoutError, UnicodeError):
        return DnsCheck(domain, (), expected, str(_l("This domain does not resolve yet.")))
    return DnsCheck(domain, addresses, expected)


async def _quiet_resolve(host: str) -> tuple[str, ...]:
    try:
        return await asyncio.wait_for(resolve(host), timeout=5)
    except (OSError, TimeoutError, UnicodeError):
        return ()


async def get_addon_for_launch(launch: Launch, slug: str) -> AddonApp:
    addon = await AddonApp.get_or_none(slug=slug, is_active=True)
    if addon is None or not await addon.packages.filter(id=launch.package_id).exists():
        raise ValidationError(_l("This add-on is not offered with this system's package."))
    return addon


async def buy_addon(launch: Launch, user: User, slug: str) -> UserInstalledAddon:
    """Charge the add-on's price to the wallet and queue its install, together or not at all.

    The charge's key names the install operation, so it is taken once per install; a recurring
    add-on's later periods are charged with the subscription's renewals.
    """
    addon = await get_addon_for_launch(launch, slug)
    async with db.atomic():
        record = await site_tasks.install_addon(launch, addon, user=user)
        if addon.price_minor:
            await record.fetch_related("operation")
            await wallet.post(
                user,
                addon.currency,
                -addon.price_minor,
                WalletTransactionKind.CHARGE,
                f"addon:{record.operation.code}",
                reference=launch.code,
                description=f"add-on {addon.slug} for {launch.subdomain}",
            )
    return record
