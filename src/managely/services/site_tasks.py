"""Work on an existing site, each as an operation: delete it, back it up, restore it, give it
a domain of the customer's own and a certificate for that domain.

The customer-facing screens (typed confirmation, backup list, domain form) arrive with the
panel; these are the operations they start, usable from services, the CLI and tests today.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from managely import crypto, db
from managely.hosts.base import ScriptRun
from managely.i18n import lazy_gettext as _l
from managely.models.addons import (
    AddonApp,
    InstallationLog,
    InstalledAddonStatus,
    UserInstalledAddon,
)
from managely.models.billing import WalletTransaction, WalletTransactionKind
from managely.models.launches import (
    Backup,
    BackupKind,
    BackupStatus,
    Certificate,
    CertificateKind,
    CertificateStatus,
    CustomDomain,
    DomainStatus,
    Launch,
    LaunchStatus,
)
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.services import backups, operations, servers, wallet
from managely.services.errors import Conflict, NotFound, ValidationError
from managely.settings import get_settings

# What ops/scripts/lib.sh accepts for a domain: lowercase ASCII labels, two or more.
DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Names that never resolve on the public internet (RFC 6761 and friends).
PRIVATE_TLDS = frozenset({"localhost", "local", "invalid", "internal", "lan", "home", "arpa"})


async def _busy(launch: Launch) -> bool:
    return await SaaSOperation.exists(
        launch=launch, status__in=[OperationStatus.QUEUED, OperationStatus.RUNNING]
    )


async def _site_args(operation: SaaSOperation) -> list[str]:
    launch = await Launch.get(id=operation.launch_id)
    return ["--root", operation.server.sites_root, "--site", launch.site_name]


async def delete_system(launch: Launch, user=None) -> SaaSOperation:
    """Queue the deletion of a site: its database, files and backups on the server."""
    async with db.atomic():
        if await _busy(launch):
            raise Conflict(_l("Another task is running on this system. Try again when it ends."))
        changed = await Launch.filter(
            id=launch.id,
            status__in=[LaunchStatus.ACTIVE, LaunchStatus.FAILED, LaunchStatus.SUSPENDED],
        ).update(status=LaunchStatus.DELETING)
        if not changed:
            raise Conflict(_l("This system cannot be deleted now."))
        await launch.fetch_related("server")
        return await operations.create(
            OperationKind.DELETE, user=user, launch=launch, server=launch.server
        )


async def _deleted(operation: SaaSOperation, run: ScriptRun) -> None:
    launch = await Launch.get(id=operation.launch_id)
    # The name is free again: the row keeps its history under a name no customer can type.
    launch.subdomain = f"deleted.{launch.code}.{launch.subdomain}"[:63]
    launch.status, launch.deleted_at = LaunchStatus.DELETED, datetime.now(UTC)
    await launch.save()
    await servers.release(launch.server_id)


async def _delete_failed(operation: SaaSOperation) -> None:
    await Launch.filter(id=operation.launch_id, status=LaunchStatus.DELETING).update(
        status=LaunchStatus.FAILED
    )


operations.register(
    OperationKind.DELETE,
    operations.OperationSpec(
        script="delete_multiple_sites.sh",
        steps=["check_sites", "delete_sites"],
        args=_site_args,
        on_success=_deleted,
        on_failure=_delete_failed,
        rollback=False,
        timeout_s=300,
    ),
)


async def back_up(launch: Launch, kind: BackupKind = BackupKind.MANUAL, user=None) -> Backup:
    """Queue a backup of a site (see ``services.backups``: archive, checksum, copy)."""
    return await backups.start_backup(launch, kind, user=user)


def validate_domain(value: str) -> str:
    """A customer's own DNS name: lowercase ASCII labels (IDNs in their xn-- form), two or more,
    253 characters at most, and not a name under our own base domain."""
    domain = value.strip().lower().removesuffix(".") if value.isascii() else value
    labels = domain.split(".") if domain.isascii() else []
    if (
        len(labels) < 2
        or len(domain) > 253
        or not all(DOMAIN_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
        or labels[-1] in PRIVATE_TLDS
    ):
        raise ValidationError(
            _l("Enter a domain name such as erp.example.com (letters a-z, digits, hyphens)."),
            field="domain",
        )
    base = get_settings().base_domain
    if domain == base or domain.endswith("." + base):
        raise ValidationError(
            _l("Use a domain of your own; names under %(base)s are ours.", base=base),
            field="domain",
        )
    return domain


async def _start_on_site(launch: Launch, kind: OperationKind, user, params: dict):
    """Queue ``kind`` on an active site, refusing while another task runs on it."""
    if await _busy(launch):
        raise Conflict(_l("Another task is running on this system. Try again when it ends."))
    if launch.status != LaunchStatus.ACTIVE:
        raise Conflict(_l("This system is not active."))
    await launch.fetch_related("server")
    return await operations.create(
        kind, user=user, launch=launch, server=launch.server, params=params
    )


async def change_domain(launch: Launch, domain: str, user=None) -> CustomDomain:
    """Point a domain of the customer's own at the site; a certificate follows on success."""
    domain = validate_domain(domain)
    async with db.atomic():
        taken = await CustomDomain.filter(domain=domain).exclude(launch=launch).exists()
        if taken or await Launch.filter(custom_domain=domain).exclude(id=launch.id).exists():
            raise Conflict(_l("This domain is already used by another system."), field="domain")
        record, _ = await CustomDomain.get_or_create(
            launch=launch,
            domain=domain,
            defaults={"verification_token": crypto.random_token(24)},
        )
        record.status, record.last_error = DomainStatus.PENDING, ""
        await record.save()
        await _start_on_site(
            launch, OperationKind.CHANGE_DOMAIN, user, {"domain": domain, "record": record.id}
        )
    return record


async def _domain_args(operation: SaaSOperation) -> list[str]:
    return [*await _site_args(operation), "--domain", operation.params["domain"]]


async def _domain_changed(operation: SaaSOperation, run: ScriptRun) -> None:
    domain = operation.params["domain"]
    await CustomDomain.filter(id=operation.params["record"]).update(
        status=DomainStatus.VERIFIED, verified_at=datetime.now(UTC), last_error=""
    )
    await Launch.filter(id=operation.launch_id).update(custom_domain=domain)
    launch = await Launch.get(id=operation.launch_id)
    await _certificate_for(launch, domain, operation.user_id)


async def _domain_failed(operation: SaaSOperation) -> None:
    await CustomDomain.filter(id=operation.params["record"]).update(
        status=DomainStatus.FAILED, last_error=operation.error_detail[:2000]
    )


operations.register(
    OperationKind.CHANGE_DOMAIN,
    operations.OperationSpec(
        script="domain_change_script.sh",
        steps=["check_site", "write_domain"],
        args=_domain_args,
        on_success=_domain_changed,
        on_failure=_domain_failed,
        failure_message=_l("We could not connect this domain to your system."),
        timeout_s=120,
    ),
)


def certificate_mode() -> CertificateKind:
    """ACME where the platform has a real public name; self-signed on a developer machine."""
    base = get_settings().base_domain
    local = base == "localhost" or base.endswith((".localhost", ".local", ".test"))
    return CertificateKind.SELF_SIGNED if local else CertificateKind.ACME


async def issue_certificate(launch: Launch, domain: str, user=None) -> Certificate:
    """Queue a certificate for one of the site's domains."""
    async with db.atomic():
        if not await CustomDomain.filter(launch=launch, domain=domain).exists():
            raise NotFound(_l("Not found."))
        certificate = await _certificate_for(launch, domain, user.id if user else None)
    return certificate


async def _certificate_for(launch: Launch, domain: str, user_id: int | None) -> Certificate:
    await launch.fetch_related("server")
    certificate = await Certificate.create(launch=launch, domain=domain, kind=certificate_mode())
    await operations.create(
        OperationKind.ISSUE_SSL,
        user=None if user_id is None else await _user(user_id),
        launch=launch,
        server=launch.server,
        params={"domain": domain, "certificate": certificate.id, "mode": certificate.kind},
    )
    return certificate


async def _user(user_id: int):
    from managely.models.accounts import User

    return await User.get(id=user_id)


async def _ssl_args(operation: SaaSOperation) -> list[str]:
    mode = "acme" if operation.params["mode"] == CertificateKind.ACME else "self-signed"
    return [
        "--root",
        operation.server.sites_root,
        "--domain",
        operation.params["domain"],
        "--mode",
        mode,
    ]


def parse_not_after(value: str) -> datetime | None:
    """openssl's notAfter, e.g. ``Feb  2 12:00:00 2027 GMT``."""
    try:
        return datetime.strptime(" ".join(value.split()), "%b %d %H:%M:%S %Y %Z").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


async def _ssl_issued(operation: SaaSOperation, run: ScriptRun) -> None:
    await Certificate.filter(id=operation.params["certificate"]).update(
        status=CertificateStatus.ISSUED,
        issued_at=datetime.now(UTC),
        expires_at=parse_not_after(run.results.get("expires", "")),
        error="",
    )
    await CustomDomain.filter(
        launch_id=operation.launch_id, domain=operation.params["domain"]
    ).update(status=DomainStatus.ACTIVE)


async def _ssl_failed(operation: SaaSOperation) -> None:
    await Certificate.filter(id=operation.params["certificate"]).update(
        status=CertificateStatus.FAILED, error=operation.error_detail[:2000]
    )


operations.register(
    OperationKind.ISSUE_SSL,
    operations.OperationSpec(
        script="ssl_certificate_generation.sh",
        steps=["check_domain", "issue_certificate"],
        args=_ssl_args,
        on_success=_ssl_issued,
        on_failure=_ssl_failed,
        failure_message=_l("We could not issue a certificate for this domain."),
        timeout_s=300,
    ),
)


async def restore(launch: Launch, backup: Backup | None = None, user=None) -> SaaSOperation:
    """Put a finished backup's database back in place (the latest one when none is named)."""
    async with db.atomic():
        if backup is None:
            backup = (
                await Backup.filter(launch=launch, status=BackupStatus.SUCCEEDED)
                .order_by("-finished_at", "-id")
                .first()
            )
        if backup is None or backup.launch_id != launch.id:
            raise NotFound(_l("There is no finished backup of this system to restore."))
        if backup.status != BackupStatus.SUCCEEDED or not backup.path:
            raise Conflict(_l("Only a finished backup can be restored."))
        return await _start_on_site(launch, OperationKind.RESTORE, user, {"backup": backup.id})


async def _restore_args(operation: SaaSOperation) -> list[str]:
    backup = await Backup.get(id=operation.params["backup"])
    return [*await _site_args(operation), "--backup", backup.path]


operations.register(
    OperationKind.RESTORE,
    operations.OperationSpec(
        script="restore_latest_backup.sh",
        steps=["find_backup", "verify_checksum", "restore_database", "check_database"],
        args=_restore_args,
        # The script restores with SQLite's backup API in one step: a failure leaves the old
        # database as it was, so there is nothing to undo.
        rollback=False,
        failure_message=_l("We could not restore this backup. Your system is unchanged."),
        timeout_s=1800,
    ),
)


async def install_addon(launch: Launch, addon: AddonApp, user=None) -> UserInstalledAddon:
    """Activate an add-on's Tryton module on the site, live: the shared trytond keeps serving
    every other site while this one's module list is upgraded."""
    if not addon.is_active or not await addon.packages.filter(id=launch.package_id).exists():
        raise ValidationError(_l("This add-on is not offered with this system's package."))
    async with db.atomic():
        record, _ = await UserInstalledAddon.get_or_create(launch=launch, addon=addon)
        if record.status == InstalledAddonStatus.INSTALLED:
            raise Conflict(_l("This add-on is already installed."))
        operation = await _start_on_site(
            launch, OperationKind.INSTALL_ADDON, user, {"record": record.id, "addon": addon.slug}
        )
        record.status, record.operation = InstalledAddonStatus.INSTALLING, operation
        await record.save()
    return record


async def _addon_args(operation: SaaSOperation) -> list[str]:
    addon = await AddonApp.get(slug=operation.params["addon"])
    return [*await _site_args(operation), "--modules", addon.tryton_module]


async def _addon_installed(operation: SaaSOperation, run: ScriptRun) -> None:
    await UserInstalledAddon.filter(id=operation.params["record"]).update(
        status=InstalledAddonStatus.INSTALLED, installed_at=datetime.now(UTC)
    )


async def _addon_failed(operation: SaaSOperation) -> None:
    """The install failed: the add-on is marked failed and its price goes back to the wallet
    it was paid from, once (the refund's key names the install and its charge)."""
    await UserInstalledAddon.filter(id=operation.params["record"]).update(
        status=InstalledAddonStatus.FAILED
    )
    await refund_addon(operation)


async def refund_addon(operation: SaaSOperation) -> WalletTransaction | None:
    """Credit back the charge ``addon:<operation>`` (none for a free add-on)."""
    charge = await WalletTransaction.get_or_none(
        idempotency_key=f"addon:{operation.code}"
    ).prefetch_related("wallet__user")
    if charge is None or charge.amount_minor >= 0:
        return None
    record = await UserInstalledAddon.get(id=operation.params["record"])
    return await wallet.post(
        charge.wallet.user,
        charge.wallet.currency,
        -charge.amount_minor,
        WalletTransactionKind.REFUND,
        f"addon-refund:{record.code}:{operation.code}",
        reference=charge.reference,
        description=f"refund: add-on {operation.params.get('addon', '')} was not installed",
    )


async def _addon_log(operation: SaaSOperation, line: str) -> None:
    await InstallationLog.create(installed_addon_id=operation.params["record"], line=line)


operations.register(
    OperationKind.INSTALL_ADDON,
    operations.OperationSpec(
        script="install_addon.sh",
        steps=["check_site", "check_modules", "activate_modules", "verify"],
        args=_addon_args,
        on_success=_addon_installed,
        on_failure=_addon_failed,
        failure_message=_l(
            "We could not install this add-on. Your system is unchanged and the price "
            "is back in your wallet."
        ),
        timeout_s=600,
        # An uninstall kind, once it has a script, registers the same hook.
        extra={"on_log": _addon_log},
    ),
)
