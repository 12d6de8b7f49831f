"""Add-ons: extra Tryton modules sold on top of a package, and their installs on systems."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class AddonBilling(StrEnum):
    ONE_TIME = "one_time"
    RECURRING = "recurring"  # charged with each subscription renewal


class AddonApp(PublicModel):
    slug = fields.CharField(max_length=64, unique=True)
    name_en = fields.CharField(max_length=120)
    name_ar = fields.CharField(max_length=120)
    description_en = fields.TextField(default="")
    description_ar = fields.TextField(default="")
    tryton_module = fields.CharField(max_length=64)
    price_minor = fields.IntField(default=0)
    currency = fields.CharField(max_length=3)
    billing = fields.CharEnumField(AddonBilling, max_length=16, default=AddonBilling.ONE_TIME)
    is_active = fields.BooleanField(default=True)
    sort_order = fields.IntField(default=0)
    # Offered only on systems of these packages: an add-on with none is offered nowhere.
    packages = fields.ManyToManyField(
        "models.Package",
        related_name="addons",
        through="addon_app_packages",
        forward_key="package_id",
        backward_key="addon_id",
    )

    class Meta:
        table = "addon_apps"


class InstalledAddonStatus(StrEnum):
    INSTALLING = "installing"
    INSTALLED = "installed"
    UNINSTALLING = "uninstalling"
    FAILED = "failed"
    UNINSTALLED = "uninstalled"


class UserInstalledAddon(PublicModel):
    """An add-on on one system; the row is reused on reinstall, hence unique per pair."""

    launch = fields.ForeignKeyField(
        "models.Launch", related_name="installed_addons", on_delete=fields.CASCADE
    )
    # Restrict: retire an add-on with is_active, its install history stays.
    addon = fields.ForeignKeyField(
        "models.AddonApp", related_name="installations", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(
        InstalledAddonStatus, max_length=16, default=InstalledAddonStatus.INSTALLING
    )
    installed_at = fields.DatetimeField(null=True)
    uninstalled_at = fields.DatetimeField(null=True)
    operation = fields.ForeignKeyField(
        "models.SaaSOperation",
        related_name="addon_installations",
        null=True,
        on_delete=fields.SET_NULL,
    )

    class Meta:
        table = "user_installed_addons"
        unique_together = (("launch", "addon"),)


class InstallationLog(TimestampedModel):
    installed_addon = fields.ForeignKeyField(
        "models.UserInstalledAddon", related_name="logs", on_delete=fields.CASCADE
    )
    line = fields.TextField()

    class Meta:
        table = "installation_logs"
        indexes = (("installed_addon_id", "created_at"),)
