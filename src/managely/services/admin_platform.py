"""Platform screens for staff: announcements, maintenance mode, run-time settings, and bulk
operations across many systems (a parent operation with one child per system)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from managely import db
from managely.hosts.base import ScriptRun
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import User
from managely.models.catalog import Package
from managely.models.launches import Launch, LaunchStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.platform import Announcement
from managely.models.servers import Server
from managely.services import operations, site_tasks
from managely.services.accounts import validate_email
from managely.services.errors import Conflict, NotFound, ValidationError
from managely.services.platform import audit, get_setting, maintenance_mode, set_setting

LEVELS = ("info", "warning")
MAX_BULK = 500


# Announcements


def _when(value: str, field: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(_l("Enter a date and time."), field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_announcement(form: dict[str, str]) -> dict:
    data: dict[str, Any] = {}
    for name, limit in (("title_en", 200), ("title_ar", 200), ("body_en", 5000), ("body_ar", 5000)):
        value = form.get(name, "").strip()
        if name.startswith("title") and not value:
            raise ValidationError(_l("Please fill in this field."), field=name)
        if len(value) > limit:
            raise ValidationError(
                _l("This is too long (at most %(n)s characters).", n=limit), field=name
            )
        data[name] = value
    level = form.get("level") or "info"
    if level not in LEVELS:
        raise ValidationError(_l("Choose a level."), field="level")
    data["level"] = level
    data["starts_at"] = _when(form.get("starts_at", ""), "starts_at")
    data["ends_at"] = _when(form.get("ends_at", ""), "ends_at")
    if data["starts_at"] and data["ends_at"] and data["ends_at"] <= data["starts_at"]:
        raise ValidationError(_l("The end must come after the start."), field="ends_at")
    data["is_active"] = form.get("is_active", "") in ("1", "on", "true")
    return data


def _announcement_dict(note: Announcement) -> dict:
    return {
        "title_en": note.title_en,
        "level": note.level,
        "starts_at": note.starts_at.isoformat() if note.starts_at else None,
        "ends_at": note.ends_at.isoformat() if note.ends_at else None,
        "is_active": note.is_active,
    }


async def announcements() -> list[Announcement]:
    return await Announcement.all().order_by("-id")


async def get_announcement(code: str) -> Announcement:
    note = await Announcement.get_or_none(code=code)
    if note is None:
        raise NotFound(_l("Not found."))
    return note


async def save_announcement(
    actor: User, form: dict[str, str], code: str = "", *, ip: str = ""
) -> Announcement:
    """Create (no code) or update an announcement; both audited."""
    data = parse_announcement(form)
    async with db.atomic():
        if code:
            note = await get_announcement(code)
            before = _announcement_dict(note)
            note.update_from_dict(data)
            await note.save()
        else:
            note, before = await Announcement.create(**data), None
        await audit(
            actor, "announcement.save", note, before=before, after=_announcement_dict(note), ip=ip
        )
    return note


async def delete_announcement(actor: User, code: str, *, ip: str = "") -> None:
    note = await get_announcement(code)
    async with db.atomic():
        await audit(actor, "announcement.delete", note, before=_announcement_dict(note), ip=ip)
        await note.delete()


# Maintenance mode and settings


async def set_maintenance(actor: User, on: bool, *, ip: str = "") -> None:
    """On: the portal shows a notice and new systems wait queued until it is off."""
    await set_setting(actor, "maintenance_mode", on, ip=ip)


def _emails(value: str) -> list[str]:
    found = [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    return [validate_email(address) for address in found]


def _webhook(value: str) -> str:
    value = value.strip()
    if value and (not re.fullmatch(r"https://[^\s]{3,2000}", value)):
        raise ValidationError(_l("Enter an https:// address, or leave it empty."), field="value")
    return value


def _minutes(value: str) -> int:
    if not value.strip().isdigit() or not 5 <= int(value) <= 1440:
        raise ValidationError(
            _l("Enter a whole number from %(low)s to %(high)s.", low=5, high=1440), field="value"
        )
    return int(value)


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: object
    help: object
    parse: Any  # str -> stored value, raising ValidationError
    show: Any = str  # stored value -> the form's text


# The settings staff edit here; services read them with platform.get_setting.
SETTINGS = (
    SettingSpec(
        "alert_emails",
        _l("Alert emails"),
        _l("Comma-separated addresses that receive platform alerts."),
        _emails,
        lambda value: ", ".join(value) if isinstance(value, list) else str(value or ""),
    ),
    SettingSpec(
        "alert_webhook_url",
        _l("Alert webhook"),
        _l("An https:// address that receives each alert as JSON."),
        _webhook,
    ),
    SettingSpec(
        "synthetic_check_interval_minutes",
        _l("Synthetic check interval (minutes)"),
        _l("How often the platform launches, signs in to and deletes a test system."),
        _minutes,
    ),
)


async def settings_values() -> list[tuple[SettingSpec, str]]:
    return [(spec, spec.show(await get_setting(spec.key, ""))) for spec in SETTINGS]


async def save_setting(actor: User, key: str, value: str, *, ip: str = "") -> None:
    spec = next((s for s in SETTINGS if s.key == key), None)
    if spec is None:
        raise NotFound(_l("Not found."))
    await set_setting(actor, key, spec.parse(value), ip=ip)


async def maintenance_on() -> bool:
    return await maintenance_mode()


# Bulk operations


@dataclass(frozen=True)
class SystemFilters:
    package: str = ""
    server: str = ""
    status: str = ""

    @classmethod
    def parse(cls, args) -> SystemFilters:
        status = args.get("status", "")
        return cls(
            package=args.get("package", "").strip()[:64],
            server=args.get("server", "").strip()[:64],
            status=status if status in {s.value for s in LaunchStatus} else "",
        )


async def pick_systems(filters: SystemFilters) -> list[Launch]:
    """Customer systems (never standbys or deleted ones) matching the filters."""
    query = Launch.filter(is_standby=False).exclude(status=LaunchStatus.DELETED)
    if filters.package:
        query = query.filter(package__slug=filters.package)
    if filters.server:
        query = query.filter(server__name=filters.server)
    if filters.status:
        query = query.filter(status=filters.status)
    return list(
        await query.order_by("id").limit(MAX_BULK).prefetch_related("package", "server", "user")
    )


async def choices() -> dict[str, list[str]]:
    return {
        "packages": list(await Package.all().order_by("slug").values_list("slug", flat=True)),
        "servers": list(await Server.all().order_by("name").values_list("name", flat=True)),
        "statuses": [s.value for s in LaunchStatus if s != LaunchStatus.DELETED],
    }


DELETE_CONFIRMATION = "DELETE"


async def start_bulk(
    actor: User, action: str, codes: list[str], *, confirm: str = "", ip: str = ""
) -> SaaSOperation:
    """One parent operation and a child per system. The parent runs no script: it follows
    its children (operations.refresh_parent)."""
    kind = {"update": OperationKind.BULK_UPDATE, "delete": OperationKind.BULK_DELETE}.get(action)
    if kind is None:
        raise ValidationError(_l("Choose an action."), field="action")
    codes = list(dict.fromkeys(c for c in codes if c))[:MAX_BULK]
    if not codes:
        raise ValidationError(_l("Choose at least one system."), field="systems")
    if kind == OperationKind.BULK_DELETE and confirm.strip() != DELETE_CONFIRMATION:
        raise ValidationError(
            _l("Type %(word)s to confirm the deletion.", word=DELETE_CONFIRMATION),
            field="confirm",
        )
    launches = await Launch.filter(code__in=codes, is_standby=False).prefetch_related(
        "server", "package"
    )
    if len(launches) != len(codes):
        raise NotFound(_l("Not found."))
    async with db.atomic():
        parent = await SaaSOperation.create(
            kind=kind,
            status=OperationStatus.RUNNING,
            user=actor,
            params={"systems": len(launches)},
            result={"total": len(launches), "finished": 0},
            started_at=operations.now(),
        )
        for launch in launches:
            await _child(kind, parent, launch, actor)
        await audit(
            actor,
            "operation.bulk_delete"
            if kind == OperationKind.BULK_DELETE
            else "operation.bulk_update",
            parent,
            after={"systems": [launch.code for launch in launches]},
            ip=ip,
        )
    return parent


async def _child(kind: OperationKind, parent: SaaSOperation, launch: Launch, actor: User) -> None:
    if kind == OperationKind.BULK_DELETE:
        # The same deletion a customer starts (status checks, slot released), under the parent.
        child = await site_tasks.delete_system(launch, user=actor)
        await SaaSOperation.filter(id=child.id).update(parent=parent)
        return
    if launch.status != LaunchStatus.ACTIVE:
        raise Conflict(
            _l("%(system)s is not active: leave it out of the update.", system=launch.subdomain)
        )
    await operations.create(
        OperationKind.BULK_UPDATE,
        user=actor,
        launch=launch,
        server=launch.server,
        params={"variant": "site", "package": launch.package.slug},
        parent=parent,
    )


async def _update_args(operation: SaaSOperation) -> list[str]:
    launch = await Launch.get(id=operation.launch_id).prefetch_related("package")
    modules = ",".join(launch.package.tryton_modules or ["sale"])
    return ["--root", operation.server.sites_root, "--site", launch.site_name, "--modules", modules]


async def _updated(operation: SaaSOperation, run: ScriptRun) -> None:
    if run.results.get("tryton_version"):
        await Launch.filter(id=operation.launch_id).update(
            erp_version=run.results["tryton_version"][:16]
        )


async def children_of(parent: SaaSOperation) -> list[SaaSOperation]:
    return list(await SaaSOperation.filter(parent=parent).order_by("id").prefetch_related("launch"))


# A system's update brings it to its package's current module set on the server's trytond
# (install_addon.sh activates and upgrades them live; already current is nothing to do).
operations.register(
    OperationKind.BULK_UPDATE,
    operations.OperationSpec(
        script="install_addon.sh",
        steps=["check_site", "check_modules", "activate_modules", "verify"],
        args=_update_args,
        on_success=_updated,
        failure_message=_l("We could not update this system. It is unchanged."),
        timeout_s=600,
    ),
    variant="site",
)
