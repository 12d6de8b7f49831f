"""Launches: deployed ERP systems, their credentials, domains, certificates, backups, usage."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel
from managely.models.servers import DbBackend


class LaunchStatus(StrEnum):
    PENDING = "pending"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETING = "deleting"
    DELETED = "deleted"
    FAILED = "failed"


class Launch(PublicModel):
    """A deployed ERP site. Deletion is a status: the row outlives the site for billing."""

    # Null only while a standby site waits in the warm pool; a trial claim sets both.
    user = fields.ForeignKeyField(
        "models.User", related_name="launches", null=True, on_delete=fields.RESTRICT
    )
    beneficiary = fields.ForeignKeyField(
        "models.ServiceBeneficiary", related_name="launches", null=True, on_delete=fields.RESTRICT
    )
    subscription = fields.ForeignKeyField(
        "models.Subscription", related_name="launches", null=True, on_delete=fields.SET_NULL
    )
    # Standby sites are built for a package, so claiming one installs no modules.
    package = fields.ForeignKeyField(
        "models.Package", related_name="launches", on_delete=fields.RESTRICT
    )
    server = fields.ForeignKeyField(  # null until placement picks one
        "models.Server", related_name="launches", null=True, on_delete=fields.RESTRICT
    )
    subdomain = fields.CharField(max_length=63, unique=True)
    custom_domain = fields.CharField(max_length=253, null=True, unique=True)
    # Directory and database name on the server; fixed at creation, a rename never moves it.
    site_name = fields.CharField(max_length=63, unique=True)
    status = fields.CharEnumField(LaunchStatus, max_length=16, default=LaunchStatus.PENDING)
    is_trial = fields.BooleanField(default=False)
    is_standby = fields.BooleanField(default=False)
    erp = fields.CharField(max_length=16, default="tryton")
    erp_version = fields.CharField(max_length=16, default="")
    url = fields.CharField(max_length=255, default="")
    db_backend = fields.CharEnumField(DbBackend, max_length=8, default=DbBackend.SQLITE)
    suspended_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "launches"
        indexes = (
            ("status",),
            ("server_id", "is_standby"),
            ("user_id", "status"),
            ("package_id", "is_standby", "status"),
        )


class LaunchUserCredentials(TimestampedModel):
    """The ERP admin login; the password is encrypted with the settings-derived key."""

    launch = fields.OneToOneField(
        "models.Launch", related_name="credentials", on_delete=fields.CASCADE
    )
    username = fields.CharField(max_length=64)
    password_encrypted = fields.TextField()
    rotated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "launch_credentials"


class DomainStatus(StrEnum):
    PENDING = "pending"  # waiting for the customer's DNS record
    VERIFIED = "verified"
    ACTIVE = "active"  # verified and served with a certificate
    FAILED = "failed"


class CustomDomain(PublicModel):
    launch = fields.ForeignKeyField(
        "models.Launch", related_name="custom_domains", on_delete=fields.CASCADE
    )
    domain = fields.CharField(max_length=253, unique=True)
    status = fields.CharEnumField(DomainStatus, max_length=16, default=DomainStatus.PENDING)
    verification_token = fields.CharField(max_length=64)
    verified_at = fields.DatetimeField(null=True)
    last_checked_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(default="")

    class Meta:
        table = "custom_domains"


class CertificateKind(StrEnum):
    SELF_SIGNED = "self_signed"
    ACME = "acme"


class CertificateStatus(StrEnum):
    PENDING = "pending"
    ISSUED = "issued"
    FAILED = "failed"
    EXPIRED = "expired"


class Certificate(TimestampedModel):
    launch = fields.ForeignKeyField(
        "models.Launch", related_name="certificates", on_delete=fields.CASCADE
    )
    domain = fields.CharField(max_length=253)
    kind = fields.CharEnumField(CertificateKind, max_length=16)
    status = fields.CharEnumField(
        CertificateStatus, max_length=16, default=CertificateStatus.PENDING
    )
    issued_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    error = fields.TextField(default="")

    class Meta:
        table = "certificates"
        indexes = (("status", "expires_at"), ("launch_id", "domain"))


class BackupKind(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    PRE_RESTORE = "pre_restore"  # taken before a restore, so a restore can be undone


class BackupStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Backup(PublicModel):
    launch = fields.ForeignKeyField(
        "models.Launch", related_name="backups", on_delete=fields.CASCADE
    )
    server = fields.ForeignKeyField(
        "models.Server", related_name="backups", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharEnumField(BackupKind, max_length=16)
    status = fields.CharEnumField(BackupStatus, max_length=16, default=BackupStatus.RUNNING)
    path = fields.CharField(max_length=512, default="")
    size_bytes = fields.BigIntField(default=0)
    sha256 = fields.CharField(max_length=64, default="")
    # A copy on another server, checked against sha256, survives the loss of the first one.
    replica_server = fields.ForeignKeyField(
        "models.Server", related_name="replica_backups", null=True, on_delete=fields.SET_NULL
    )
    replica_path = fields.CharField(max_length=512, default="")
    replica_verified_at = fields.DatetimeField(null=True)
    error = fields.TextField(default="")
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "backups"
        indexes = (("launch_id", "created_at"), ("status", "created_at"))


class UsageSample(TimestampedModel):
    """One measurement of a site (launch set) or of a whole server (launch null)."""

    launch = fields.ForeignKeyField(
        "models.Launch", related_name="usage_samples", null=True, on_delete=fields.CASCADE
    )
    server = fields.ForeignKeyField(
        "models.Server", related_name="usage_samples", null=True, on_delete=fields.CASCADE
    )
    sampled_at = fields.DatetimeField()
    cpu_pct = fields.FloatField(default=0)
    mem_bytes = fields.BigIntField(default=0)
    disk_bytes = fields.BigIntField(default=0)
    db_bytes = fields.BigIntField(default=0)
    active_users = fields.IntField(default=0)

    class Meta:
        table = "usage_samples"
        indexes = (("launch_id", "sampled_at"), ("server_id", "sampled_at"))
