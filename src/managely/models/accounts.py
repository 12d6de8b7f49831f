"""Accounts: users, roles, the companies ERPs are for, and everything about signing in."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from managely.models.base import PublicModel, TimestampedModel


class UserStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"  # locked by staff, not by failed logins (that is locked_until)
    DELETED = "deleted"


class User(PublicModel):
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=120)
    password_hash = fields.CharField(max_length=255, null=True)  # null: OAuth-only account
    email_verified_at = fields.DatetimeField(null=True)
    status = fields.CharEnumField(UserStatus, max_length=16, default=UserStatus.ACTIVE)
    locale = fields.CharField(max_length=8, null=True)
    arabic_digits = fields.BooleanField(default=False)
    currency = fields.CharField(max_length=3, null=True)
    failed_logins = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    last_login_at = fields.DatetimeField(null=True)
    referred_by = fields.ForeignKeyField(
        "models.User", related_name="referrals", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "users"
        # Staff lists filter by these at 100,000 users: locked-out accounts, status.
        indexes = (("locked_until",), ("status", "id"))


class Role(TimestampedModel):
    name = fields.CharField(max_length=32, unique=True)
    description = fields.CharField(max_length=255, default="")
    permissions: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    is_staff = fields.BooleanField(default=False)

    class Meta:
        table = "roles"


class UserRole(TimestampedModel):
    user = fields.ForeignKeyField(
        "models.User", related_name="user_roles", on_delete=fields.CASCADE
    )
    role = fields.ForeignKeyField(
        "models.Role", related_name="user_roles", on_delete=fields.CASCADE
    )

    class Meta:
        table = "user_roles"
        unique_together = (("user", "role"),)


class ServiceBeneficiary(PublicModel):
    """The company an ERP is for; a customer may run systems for several."""

    owner = fields.ForeignKeyField(
        "models.User", related_name="beneficiaries", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=160)
    country = fields.CharField(max_length=2, null=True)
    tax_id = fields.CharField(max_length=64, null=True)
    address = fields.TextField(default="")

    class Meta:
        table = "service_beneficiaries"


class TeamMember(TimestampedModel):
    """Another user's access to a beneficiary's systems (read-only or full)."""

    beneficiary = fields.ForeignKeyField(
        "models.ServiceBeneficiary", related_name="members", on_delete=fields.CASCADE
    )
    user = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    can_write = fields.BooleanField(default=False)

    class Meta:
        table = "team_members"
        unique_together = (("beneficiary", "user"),)


class OAuthIdentity(TimestampedModel):
    user = fields.ForeignKeyField(
        "models.User", related_name="identities", on_delete=fields.CASCADE
    )
    provider = fields.CharField(max_length=32)
    subject = fields.CharField(max_length=255)
    email = fields.CharField(max_length=254, null=True)

    class Meta:
        table = "oauth_identities"
        unique_together = (("provider", "subject"),)


class OtpPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    LOGIN = "login"


class OtpCode(TimestampedModel):
    user = fields.ForeignKeyField("models.User", related_name="otp_codes", on_delete=fields.CASCADE)
    purpose = fields.CharEnumField(OtpPurpose, max_length=16)
    code_hash = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()
    attempts = fields.IntField(default=0)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "otp_codes"
        indexes = (("user_id", "purpose", "created_at"),)


class PasswordResetToken(TimestampedModel):
    user = fields.ForeignKeyField(
        "models.User", related_name="reset_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=128, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "password_reset_tokens"


class TotpDevice(TimestampedModel):
    user = fields.OneToOneField("models.User", related_name="totp", on_delete=fields.CASCADE)
    secret_encrypted = fields.TextField()
    confirmed_at = fields.DatetimeField(null=True)
    last_used_step = fields.BigIntField(default=0)  # refuses a code replayed in the same step

    class Meta:
        table = "totp_devices"


class RecoveryCode(TimestampedModel):
    user = fields.ForeignKeyField(
        "models.User", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=128)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_codes"


class ApiToken(PublicModel):
    user = fields.ForeignKeyField(
        "models.User", related_name="api_tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=80)
    token_hash = fields.CharField(max_length=128, unique=True)
    prefix = fields.CharField(max_length=12)  # shown in lists so a user can tell tokens apart
    scopes: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_tokens"


class LoginEvent(TimestampedModel):
    user = fields.ForeignKeyField(
        "models.User", related_name="login_events", null=True, on_delete=fields.SET_NULL
    )
    email = fields.CharField(max_length=254)
    success = fields.BooleanField()
    reason = fields.CharField(max_length=32, default="")
    ip = fields.CharField(max_length=45, default="")
    user_agent = fields.CharField(max_length=255, default="")
    fingerprint = fields.CharField(max_length=64, default="")

    class Meta:
        table = "login_events"
        indexes = (("email", "created_at"), ("user_id", "created_at"))


class DeviceFingerprint(TimestampedModel):
    """A hash of stable request traits, for one-trial-per-device and new-device notices."""

    user = fields.ForeignKeyField(
        "models.User", related_name="devices", null=True, on_delete=fields.SET_NULL
    )
    fingerprint = fields.CharField(max_length=64)
    ip = fields.CharField(max_length=45, default="")
    last_seen_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "device_fingerprints"
        unique_together = (("user", "fingerprint"),)
        indexes = (("fingerprint",),)


class UserSession(PublicModel):
    """A signed-in browser: listed in the account page, revocable one by one."""

    user = fields.ForeignKeyField("models.User", related_name="sessions", on_delete=fields.CASCADE)
    ip = fields.CharField(max_length=45, default="")
    user_agent = fields.CharField(max_length=255, default="")
    last_seen_at = fields.DatetimeField(auto_now=True)
    revoked_at = fields.DatetimeField(null=True)
    # The staff member's user id while they act as this user: the panel shows a banner and
    # ends it on demand. A plain column: SQLite cannot add a foreign key to an existing table.
    impersonator_user_id = fields.BigIntField(null=True)

    class Meta:
        table = "user_sessions"


class TrialStart(TimestampedModel):
    """One free trial started. The unique columns keep it to one per account, per mailbox and
    per device even when two requests race; ``ip`` and ``created_at`` feed the per-network cap.
    """

    user = fields.OneToOneField(
        "models.User", related_name="trial_start", null=True, on_delete=fields.SET_NULL
    )
    # sha256 of the canonical mailbox (gmail dots and +tags removed): compared, never shown.
    email_hash = fields.CharField(max_length=64, unique=True)
    fingerprint = fields.CharField(max_length=64, null=True, unique=True)
    ip = fields.CharField(max_length=45, default="")  # an IPv6 address is kept as its /64

    class Meta:
        table = "trial_starts"
        indexes = (("ip", "created_at"),)


class ApiIdempotencyKey(TimestampedModel):
    """The stored answer to an unsafe API call, replayed when the same key comes again."""

    user = fields.ForeignKeyField(
        "models.User", related_name="api_idempotency_keys", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=128)
    method = fields.CharField(max_length=8)
    path = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    status_code = fields.IntField()
    response = fields.JSONField(null=True)

    class Meta:
        table = "api_idempotency_keys"
        unique_together = (("user", "key"),)
