"""Operations: typed infrastructure jobs with declared steps, a lease, a log, and a readable error.

A worker claims a queued operation with a conditional update (queued -> running, lease set);
the clock reclaims operations whose lease expired.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class OperationKind(StrEnum):
    PROVISION = "provision"
    DELETE = "delete"
    CHANGE_PASSWORD = "change_password"  # noqa: S105 - an operation name, not a secret
    CHANGE_DOMAIN = "change_domain"
    ISSUE_SSL = "issue_ssl"
    BACKUP = "backup"
    RESTORE = "restore"
    INSTALL_ADDON = "install_addon"
    UNINSTALL_ADDON = "uninstall_addon"
    SUSPEND = "suspend"
    RESUME = "resume"
    BOOTSTRAP_SERVER = "bootstrap_server"
    WARM_POOL = "warm_pool"
    BULK_UPDATE = "bulk_update"
    BULK_DELETE = "bulk_delete"
    RESTORE_DRILL = "restore_drill"
    SYNTHETIC_CHECK = "synthetic_check"


class OperationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SaaSOperation(PublicModel):
    kind = fields.CharEnumField(OperationKind, max_length=24)
    status = fields.CharEnumField(OperationStatus, max_length=16, default=OperationStatus.QUEUED)
    progress = fields.IntField(default=0)  # 0-100
    steps = fields.JSONField(default=list)  # declared step names, in order
    current_step = fields.CharField(max_length=64, default="")
    user = fields.ForeignKeyField(  # who asked; null for the clock
        "models.User", related_name="operations", null=True, on_delete=fields.SET_NULL
    )
    launch = fields.ForeignKeyField(
        "models.Launch", related_name="operations", null=True, on_delete=fields.SET_NULL
    )
    server = fields.ForeignKeyField(
        "models.Server", related_name="operations", null=True, on_delete=fields.SET_NULL
    )
    # Validated, non-secret arguments only: this is shown to staff and copied into retries.
    params = fields.JSONField(default=dict)
    result = fields.JSONField(default=dict)
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=3)
    lease_owner = fields.CharField(max_length=128, null=True)
    lease_until = fields.DatetimeField(null=True)
    heartbeat_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    error_message = fields.TextField(default="")  # what the customer reads
    error_detail = fields.TextField(default="")  # what staff read
    step_timeout_s = fields.IntField(default=600)
    parent = fields.ForeignKeyField(  # a bulk operation's children point at it
        "models.SaaSOperation", related_name="children", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "saas_operations"
        indexes = (
            ("status", "lease_until"),
            ("kind", "status"),
            ("launch_id", "created_at"),
            ("server_id", "created_at"),
        )


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class OperationStep(TimestampedModel):
    # "steps" on SaaSOperation is the declared names, hence "step_records" here.
    operation = fields.ForeignKeyField(
        "models.SaaSOperation", related_name="step_records", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=64)
    position = fields.IntField()
    status = fields.CharEnumField(StepStatus, max_length=16, default=StepStatus.PENDING)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    message = fields.TextField(default="")

    class Meta:
        table = "operation_steps"
        unique_together = (("operation", "name"),)


class LogLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class OperationLog(TimestampedModel):
    """One output line. ``seq`` is the SSE event id: Last-Event-ID resumes after it."""

    operation = fields.ForeignKeyField(
        "models.SaaSOperation", related_name="logs", on_delete=fields.CASCADE
    )
    seq = fields.IntField()
    level = fields.CharEnumField(LogLevel, max_length=8, default=LogLevel.INFO)
    line = fields.TextField()

    class Meta:
        table = "operation_logs"
        unique_together = (("operation", "seq"),)
